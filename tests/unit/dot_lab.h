/*
 * The getdns DoT backend against the lab: what test_dot_lab and
 * test_dot_conn share (the lab's variables, policies built in memory,
 * a backend, a lookup). Helpers only; each test includes it once.
 */
#ifndef PD_TEST_DOT_LAB_H
#define PD_TEST_DOT_LAB_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "resolver/dot/worker.h"
#include "tests/tools/pfile.h"
#include "tests/unit/lab.h"

#define A	PD_WANT_A
#define AAAA	PD_WANT_AAAA
#define BOTH	(PD_WANT_A | PD_WANT_AAAA)

static inline double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ policies */

struct pol {
	struct pd_policy	p;
	struct pd_upstream	u[4];
	struct pd_spki_pin	pin[4];
	struct pd_policy_file	ca, ta;
};

/* An upstream on the lab address; pin is base64 or NULL. */
static inline void
add_up(struct pol *x, int port, const char *pin)
{
	struct pd_upstream *u = &x->u[x->p.nupstreams];
	unsigned char raw[64];

	memset(u, 0, sizeof(*u));
	u->addr.family = AF_INET;
	inet_pton(AF_INET, pd_lab_opt("LAB_UP_ADDR"), u->addr.addr);
	u->tls_port = (uint16_t)port;
	u->tls_auth_name = (char *)pd_lab_opt("LAB_AUTH_NAME");
	if (pin != NULL && EVP_DecodeBlock(raw, (const unsigned char *)pin,
	    (int)strlen(pin)) >= 32) {
		memcpy(x->pin[x->p.nupstreams].sha256, raw, 32);
		u->pins = &x->pin[x->p.nupstreams];
		u->npins = 1;
	}
	snprintf(u->label, sizeof(u->label), "%s:%d", pd_lab_opt("LAB_UP_ADDR"),
	    port);
	x->p.nupstreams++;
}

static inline struct pol *
pol_new(const char *ca, const char *ta, uint32_t timeout_ms)
{
	struct pol *x = calloc(1, sizeof(*x));

	x->p.upstreams = x->u;
	if (ca != NULL) {
		(void)pd_tools_pfile(&x->ca, ca);
		x->p.tls_ca = &x->ca;
	}
	if (ta != NULL) {
		(void)pd_tools_pfile(&x->ta, ta);
		x->p.anchors = &x->ta;
		x->p.nanchors = 1;
	}
	x->p.timeout_ms = timeout_ms;
	x->p.idle_timeout_ms = 10000;
	x->p.default_rule.action = PD_ACTION_SECURE;
	x->p.default_rule.dnssec = PD_DNSSEC_VALIDATE;
	return x;
}

static inline void
pol_free(struct pol *x)
{
	pd_tools_pfile_clear(&x->ca);
	pd_tools_pfile_clear(&x->ta);
	free(x);
}

/* The usual case: the good upstream, the lab CA, the zone's DS. */
static inline struct pol *
pol_good(void)
{
	struct pol *x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"),
	    2000);

	add_up(x, pd_lab_port("LAB_GOOD_PORT"), NULL);
	return x;
}

static inline struct pd_dot *
dot_new(struct pol *x, const struct pd_host *host)
{
	struct pd_dot *d = NULL;
	char err[256] = "";
	enum pd_err r = pd_dot_new(&x->p, host, &d, err, sizeof(err));

	if (r != PD_OK) {
		printf("# pd_dot_new: %d %s\n", r, err);
		return NULL;
	}
	return d;
}

static inline const char *
addr_str(const struct pd_addr *a, char *buf)
{
	inet_ntop(a->family, a->addr, buf, 64);
	return buf;
}

/* "127.0.10.1 127.0.10.2" for the addresses of an RRset. */
static inline const char *
addrs(const struct pd_dot_rrset *r)
{
	static __thread char out[1024];
	char b[64];
	unsigned i;

	out[0] = '\0';
	for (i = 0; i < r->naddrs; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, addr_str(&r->addrs[i], b));
	}
	return out;
}

static inline int
resolve(struct pd_dot *d, const char *name, unsigned want,
    enum pd_dnssec_mode mode, struct pd_dot_result *res)
{
	enum pd_err r = pd_dot_resolve(d, name, want, mode, res);

	if (r != PD_OK)
		printf("# resolve %s: error %d\n", name, r);
	if (res->detail[0])
		printf("# %s: %s\n", name, res->detail);
	return r;
}

#define Z(n)	n ".amazonaws.com"

#endif /* PD_TEST_DOT_LAB_H */

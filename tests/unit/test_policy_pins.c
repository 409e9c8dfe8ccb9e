/*
 * Pin sets: CIDR parsing (edge cases, host bits, v4-mapped), containment
 * for /0, /32, /128, adjacent and overlapping prefixes, and IPv4-mapped
 * IPv6 answers checked as IPv4.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/internal.h"
#include "policy/policy.h"
#include "tests/unit/tap.h"

static struct pd_pinset *
pins(const char *const *cidrs, size_t n)
{
	struct pd_pinset *ps = calloc(1, sizeof(*ps));
	char why[200];
	size_t i;

	ps->v = calloc(n, sizeof(*ps->v));
	for (i = 0; i < n; i++) {
		if (pd_cidr_parse(cidrs[i], &ps->v[i], why, sizeof(why)) != 0)
			printf("#   %s: %s\n", cidrs[i], why);
		ps->n++;
	}
	if (pd_pins_index(ps) != PD_OK)
		printf("#   index failed\n");
	return ps;
}

static struct pd_addr
addr(const char *s)
{
	struct pd_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, a.addr) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, a.addr) == 1)
		a.family = AF_INET6;
	return a;
}

static void
expect(const struct pd_pinset *ps, const char *what, const char *a, bool in)
{
	struct pd_addr x = addr(a);

	T_EQ_INT(pd_pins_contains(ps, &x), in, "%s: %s %s", what, a,
	    in ? "inside" : "outside");
}

static void
test_parse(void)
{
	static const struct {
		const char	*in;
		const char	*out;	/* formatted, or NULL: refused */
		const char	*why;	/* substring of the message */
	} t[] = {
		{ "52.94.0.0/22", "52.94.0.0/22", NULL },
		{ "0.0.0.0/0", "0.0.0.0/0", NULL },
		{ "::/0", "::/0", NULL },
		{ "10.1.2.3/32", "10.1.2.3/32", NULL },
		{ "10.1.2.3", "10.1.2.3/32", NULL },
		{ "2001:db8::1", "2001:db8::1/128", NULL },
		{ "2001:db8::/32", "2001:db8::/32", NULL },
		{ "2001:DB8::/32", "2001:db8::/32", NULL },
		{ "10.0.0.1/8", NULL, "did you mean 10.0.0.0/8?" },
		{ "52.94.1.0/22", NULL, "did you mean 52.94.0.0/22?" },
		{ "2001:db8::1/64", NULL, "did you mean 2001:db8::/64?" },
		{ "1.2.3.4/0", NULL, "did you mean 0.0.0.0/0?" },
		{ "10.0.0.0/33", NULL, "0..32" },
		{ "::/129", NULL, "0..128" },
		{ "10.0.0.0/08", NULL, "bad prefix length" },
		{ "10.0.0.0/", NULL, "bad prefix length" },
		{ "10.0.0.0/-1", NULL, "0..32" },
		{ "10.0.0.0/8x", NULL, "0..32" },
		{ "10.0.0/8", NULL, "not an IPv4 address" },
		{ "010.0.0.0/8", NULL, "not an IPv4 address" },
		{ "256.0.0.0/8", NULL, "not an IPv4 address" },
		{ "fe80::1%eth0/64", NULL, "not an IPv6 address" },
		{ "2001:db8:::/48", NULL, "not an IPv6 address" },
		{ "example.com/24", NULL, "not an IPv4 address" },
		{ "/24", NULL, "not an IPv4 or IPv6 CIDR" },
		{ "", NULL, "not an IPv4 or IPv6 CIDR" },
		{ "::ffff:10.0.0.0/104", NULL, "IPv4-mapped" },
		{ "::ffff:10.0.0.1", NULL, "IPv4-mapped" },
	};
	struct pd_cidr c;
	char why[200], out[80];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		why[0] = '\0';
		rc = pd_cidr_parse(t[i].in, &c, why, sizeof(why));
		if (t[i].out != NULL) {
			if (rc == 0)
				pd_cidr_format(&c, out, sizeof(out));
			T_EQ_STR(rc == 0 ? out : why, t[i].out, "CIDR '%s'",
			    t[i].in);
			continue;
		}
		T_EQ_INT(rc, -1, "CIDR '%s' refused", t[i].in);
		T_OK(strstr(why, t[i].why) != NULL, "CIDR '%s': message has "
		    "'%s'", t[i].in, t[i].why);
		if (strstr(why, t[i].why) == NULL)
			printf("#   got: %s\n", why);
	}
}

static void
test_contains(void)
{
	static const char *const aws[] = {
		"52.94.0.0/22", "3.218.180.0/22", "35.71.64.0/22",
		"52.94.4.0/24", "52.94.0.0/24",	/* adjacent, overlapping */
		"2600:1f18::/33", "2600:1f18:8000::/33", "2a05:d000::/25",
	};
	static const char *const all4[] = { "0.0.0.0/0" };
	static const char *const all6[] = { "::/0" };
	static const char *const hosts[] = {
		"192.0.2.7/32", "2001:db8::7/128", "255.255.255.255/32",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	};
	struct pd_pinset *ps;
	struct pd_addr x;

	ps = pins(aws, sizeof(aws) / sizeof(aws[0]));
	expect(ps, "aws", "52.94.0.0", true);
	expect(ps, "aws", "52.94.3.255", true);
	expect(ps, "aws", "52.94.4.0", true);	/* merged neighbour */
	expect(ps, "aws", "52.94.4.255", true);
	expect(ps, "aws", "52.94.5.0", false);
	expect(ps, "aws", "52.93.255.255", false);
	expect(ps, "aws", "3.218.183.255", true);
	expect(ps, "aws", "3.218.184.0", false);
	expect(ps, "aws", "1.1.1.1", false);
	expect(ps, "aws", "::ffff:52.94.1.2", true);	/* v4-mapped */
	expect(ps, "aws", "::ffff:203.0.113.9", false);
	expect(ps, "aws", "::52.94.1.2", false);	/* v4-compatible: no */
	expect(ps, "aws", "64:ff9b::52.94.1.2", false);	/* NAT64: no */
	expect(ps, "aws", "2600:1f18::1", true);
	expect(ps, "aws", "2600:1f18:ffff:ffff:ffff:ffff:ffff:ffff", true);
	expect(ps, "aws", "2600:1f19::", false);
	expect(ps, "aws", "2a05:d07f:ffff::1", true);
	expect(ps, "aws", "2a05:d080::", false);
	expect(ps, "aws", "2001:db8::1", false);
	pd_pinset_free(ps);

	ps = pins(all4, 1);
	expect(ps, "/0 v4", "0.0.0.0", true);
	expect(ps, "/0 v4", "255.255.255.255", true);
	expect(ps, "/0 v4", "::ffff:1.2.3.4", true);
	expect(ps, "/0 v4", "2001:db8::1", false);
	pd_pinset_free(ps);

	ps = pins(all6, 1);
	expect(ps, "/0 v6", "::", true);
	expect(ps, "/0 v6", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true);
	expect(ps, "/0 v6", "1.2.3.4", false);
	/* A mapped address is IPv4 here, and no IPv4 is pinned. */
	expect(ps, "/0 v6", "::ffff:1.2.3.4", false);
	pd_pinset_free(ps);

	ps = pins(hosts, sizeof(hosts) / sizeof(hosts[0]));
	expect(ps, "/32", "192.0.2.7", true);
	expect(ps, "/32", "192.0.2.6", false);
	expect(ps, "/32", "192.0.2.8", false);
	expect(ps, "/128", "2001:db8::7", true);
	expect(ps, "/128", "2001:db8::6", false);
	expect(ps, "/128", "2001:db8::8", false);
	expect(ps, "/32 top", "255.255.255.255", true);
	expect(ps, "/128 top", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    true);
	x = addr("192.0.2.7");
	x.family = 12345;
	T_OK(!pd_pins_contains(ps, &x), "unknown family is outside");
	pd_pinset_free(ps);

	x = addr("203.0.113.9");
	T_OK(pd_pins_contains(NULL, &x), "NULL pin set: no restriction");
}

/* 10,000 random /24s: the index agrees with a linear scan. */
static void
test_many(void)
{
	enum { N = 10000, Q = 20000 };
	struct pd_pinset *ps = calloc(1, sizeof(*ps));
	struct pd_addr x;
	unsigned seed = 7, i, j, bad = 0, hits = 0;
	uint32_t a, lo;
	bool want;

	ps->v = calloc(N, sizeof(*ps->v));
	for (i = 0; i < N; i++) {
		a = ((uint32_t)rand_r(&seed) << 8) & 0x00ffff00u;
		a |= 0x0a000000u;	/* 10.x.y.0/24 */
		ps->v[i].family = AF_INET;
		ps->v[i].prefix = (uint8_t)(20 + rand_r(&seed) % 9);
		a &= ~((1u << (32 - ps->v[i].prefix)) - 1);
		ps->v[i].addr[0] = (uint8_t)(a >> 24);
		ps->v[i].addr[1] = (uint8_t)(a >> 16);
		ps->v[i].addr[2] = (uint8_t)(a >> 8);
		ps->v[i].addr[3] = (uint8_t)a;
		ps->n++;
	}
	T_EQ_INT(pd_pins_index(ps), PD_OK, "index of 10,000 pins");
	for (i = 0; i < Q; i++) {
		a = 0x0a000000u | ((uint32_t)rand_r(&seed) & 0x00ffffffu);
		want = false;
		for (j = 0; j < N && !want; j++) {
			lo = (uint32_t)ps->v[j].addr[0] << 24 |
			    (uint32_t)ps->v[j].addr[1] << 16 |
			    (uint32_t)ps->v[j].addr[2] << 8 | ps->v[j].addr[3];
			want = (a & ~((1u << (32 - ps->v[j].prefix)) - 1)) ==
			    lo;
		}
		memset(&x, 0, sizeof(x));
		x.family = AF_INET;
		x.addr[0] = (uint8_t)(a >> 24);
		x.addr[1] = (uint8_t)(a >> 16);
		x.addr[2] = (uint8_t)(a >> 8);
		x.addr[3] = (uint8_t)a;
		hits += want;
		if (pd_pins_contains(ps, &x) != want)
			bad++;
	}
	T_OK(hits > Q / 20 && hits < Q - Q / 20, "random addresses are "
	    "sometimes inside (%u of %u)", hits, Q);
	T_EQ_INT(bad, 0, "index agrees with a linear scan");
	pd_pinset_free(ps);
}

int
main(void)
{
	test_parse();
	test_contains();
	test_many();
	return t_done();
}

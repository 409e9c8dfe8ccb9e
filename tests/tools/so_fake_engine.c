/*
 * fake_engine.so: a stand-in for libpindns-engine.so that answers from a
 * table in the environment, to drive every verdict path of the preload
 * (ACCEPTED, ABSENT, REFUSED, FAILED, SYSTEM, SYSTEM_PINNED) without a
 * policy or a network. Tests put it beside a copy of libpindns.so under
 * the name libpindns-engine.so. It implements resolver/engine.h's table,
 * nothing more; the real engine is tested with the real engine.
 *
 * PD_FAKE_ENGINE: entries "NAME VERDICT CANON ADDR,ADDR..." separated by
 * ';'. VERDICT: accepted nxdomain nodata refused failed system pinned
 * pinnedbad (pinned, but filter() says ACCEPTED and keeps nothing: an
 * engine bug the preload must survive).
 * CANON: "-" for none. ADDRS: the answer (accepted: A then AAAA as the
 * engine promises; want filters them; none left is NODATA) or, for
 * pinned, the addresses filter() keeps. Names are matched exactly;
 * anything else is SYSTEM.
 * PD_FAKE_ENGINE_LOG: a file each lookup/filter call is appended to.
 * PD_FAKE_ENGINE_INIT_FAIL=1: init() fails (engine unusable).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/engine.h"

#define MAXE	64

struct entry {
	char		name[256];
	char		verdict[16];
	char		canon[PD_CANON_MAX + 1];
	unsigned	naddrs;
	struct pd_addr	addrs[PD_MAX_ADDRS];
};

static struct entry tab[MAXE];
static unsigned ntab;
static int logfd = -1;
static const struct pd_host *host;

static void
logf_(const char *what, const char *name, unsigned x)
{
	char line[512];
	int n;

	if (logfd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s %s %u\n", what, name, x);
	if (n > 0 && write(logfd, line, (size_t)n) != n)
		return;	/* a short log shows up as a failed check */
}

static void
parse_addrs(struct entry *e, char *s)
{
	char *save = NULL, *t;

	for (t = strtok_r(s, ",", &save); t != NULL && e->naddrs < PD_MAX_ADDRS;
	    t = strtok_r(NULL, ",", &save)) {
		struct pd_addr *a = &e->addrs[e->naddrs];

		memset(a, 0, sizeof(*a));
		if (inet_pton(AF_INET, t, a->addr) == 1)
			a->family = AF_INET;
		else if (inet_pton(AF_INET6, t, a->addr) == 1)
			a->family = AF_INET6;
		else
			continue;
		e->naddrs++;
	}
}

/*
 * getdns and OpenSSL resolve from inside the engine: such calls must
 * reach libc, never this engine again (which would deadlock in init).
 */
static void
guard_probe(const char *who)
{
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo("guard.test", "80", NULL, &ai);

	if (rc == 0)
		freeaddrinfo(ai);
	logf_(who, "guard.test", (unsigned)(rc < 0 ? -rc : rc));
}

static void *
thread_main(void *arg)
{
	if (host != NULL && host->engine_thread != NULL)
		host->engine_thread();
	guard_probe("guard-thread");
	return arg;
}

static int
fake_init(const struct pd_engine_cfg *cfg)
{
	const char *spec = getenv("PD_FAKE_ENGINE"), *lg;
	char *copy, *save = NULL, *ent;
	pthread_t t;

	if (getenv("PD_FAKE_ENGINE_INIT_FAIL") != NULL)
		return -1;
	host = cfg != NULL ? cfg->host : NULL;
	if ((lg = getenv("PD_FAKE_ENGINE_LOG")) != NULL)
		logfd = open(lg, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0644);
	logf_("init", "-", 0);
	guard_probe("guard-init");
	/* A thread of the engine's own: the host must learn about it. */
	if (pthread_create(&t, NULL, thread_main, NULL) == 0)
		(void)pthread_join(t, NULL);
	if (spec == NULL || (copy = strdup(spec)) == NULL)
		return 0;
	for (ent = strtok_r(copy, ";", &save); ent != NULL && ntab < MAXE;
	    ent = strtok_r(NULL, ";", &save)) {
		struct entry *e = &tab[ntab];
		char addrs[4096] = "";

		if (sscanf(ent, " %255s %15s %254s %4095s", e->name, e->verdict,
		    e->canon, addrs) < 3)
			continue;
		if (strcmp(e->canon, "-") == 0)
			e->canon[0] = '\0';
		parse_addrs(e, addrs);
		ntab++;
	}
	free(copy);
	return 0;
}

static struct entry *
find(const char *name)
{
	unsigned i;

	for (i = 0; i < ntab; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

static void
fake_lookup(const char *name, unsigned want, struct pd_result *res)
{
	struct entry *e = find(name);
	unsigned i;

	logf_("lookup", name, want);
	/* As a real cache hit: write the header, not all 64 addresses. */
	res->verdict = PD_VERDICT_SYSTEM;
	res->reason = PD_REASON_NONE;
	res->ttl = 0;
	res->naddrs = 0;
	res->canon[0] = '\0';
	if (e == NULL || strcmp(e->verdict, "system") == 0) {
		res->verdict = PD_VERDICT_SYSTEM;
		return;
	}
	if (strcmp(e->verdict, "pinned") == 0 ||
	    strcmp(e->verdict, "pinnedbad") == 0) {
		res->verdict = PD_VERDICT_SYSTEM_PINNED;
		return;
	}
	if (strcmp(e->verdict, "nxdomain") == 0) {
		res->verdict = PD_VERDICT_ABSENT;
		res->reason = PD_REASON_NXDOMAIN;
		return;
	}
	if (strcmp(e->verdict, "nodata") == 0) {
		res->verdict = PD_VERDICT_ABSENT;
		res->reason = PD_REASON_NODATA;
		return;
	}
	if (strcmp(e->verdict, "failed") == 0) {
		res->verdict = PD_VERDICT_FAILED;
		res->reason = PD_REASON_TIMEOUT;
		return;
	}
	if (strcmp(e->verdict, "accepted") != 0) {
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_DENY_RULE;
		return;
	}
	/* A records first, then AAAA, each in answer order. */
	for (i = 0; i < e->naddrs; i++)
		if (e->addrs[i].family == AF_INET && (want & PD_WANT_A))
			res->addrs[res->naddrs++] = e->addrs[i];
	for (i = 0; i < e->naddrs; i++)
		if (e->addrs[i].family == AF_INET6 && (want & PD_WANT_AAAA))
			res->addrs[res->naddrs++] = e->addrs[i];
	if (res->naddrs == 0) {
		res->verdict = PD_VERDICT_ABSENT;
		res->reason = PD_REASON_NODATA;
		return;
	}
	res->verdict = PD_VERDICT_ACCEPTED;
	res->ttl = 60;
	memcpy(res->canon, e->canon, strlen(e->canon) + 1);
}

static void
fake_filter(const char *name, const struct pd_addr *addrs, unsigned n,
    uint8_t *keep, struct pd_result *res)
{
	struct entry *e = find(name);
	unsigned i, j, kept = 0;

	logf_("filter", name, n);
	memset(res, 0, sizeof(*res));
	for (i = 0; i < n; i++) {
		keep[i] = 0;
		for (j = 0; e != NULL && j < e->naddrs; j++)
			if (e->addrs[j].family == addrs[i].family &&
			    memcmp(e->addrs[j].addr, addrs[i].addr,
			    addrs[i].family == AF_INET ? 4 : 16) == 0)
				keep[i] = 1;
		kept += keep[i];
	}
	res->verdict = kept ? PD_VERDICT_ACCEPTED : PD_VERDICT_REFUSED;
	res->reason = kept ? PD_REASON_NONE : PD_REASON_OUTSIDE_PIN;
	/* An engine bug the preload must survive: ACCEPTED, nothing kept. */
	if (e != NULL && strcmp(e->verdict, "pinnedbad") == 0) {
		memset(keep, 0, n);
		res->verdict = PD_VERDICT_ACCEPTED;
		res->reason = PD_REASON_NONE;
	}
}

/* Ours unless the table says system (or has no entry), as the engine. */
static int
fake_claims(const char *name)
{
	struct entry *e = find(name);

	return e != NULL && strcmp(e->verdict, "system") != 0;
}

__attribute__((visibility("default"))) const struct pd_engine_ops
    pindns_engine_v1 = {
	.abi = PD_ENGINE_ABI,
	.init = fake_init,
	.lookup = fake_lookup,
	.filter = fake_filter,
	.claims = fake_claims,
};

/*
 * tags: lab threads
 * timeout: 180
 * The engine's secure path against the lab (tests/lab): verdicts for
 * every zone name, attackers (tampered, stripped, MITM, hung), pins in
 * filter and strict mode, caching, TTL expiry, refresh-ahead, serve-stale
 * within stale_ttl only, 64 threads, and a forked child.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/engine.h"
#include "resolver/engine_int.h"
#include "tests/unit/lab.h"
#include "tests/unit/tap.h"

/*
 * Under ThreadSanitizer: the fork test's child starts the backend's
 * threads, which TSan refuses after a multi-threaded fork unless told
 * (its own limitation; no sanitizer reads this in other builds).
 */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
	return "die_after_fork=0";
}

static char dir[] = "/tmp/pindns-englab.XXXXXX";
static char policy[PD_LAB_PATH], auditlog[PD_LAB_PATH];

/*
 * A policy on one lab server; server is GOOD, GOOD2, MITM, ... min_ttl is
 * 1 unless a test sets policy_min_ttl: the lab's unbound counts its cached
 * TTLs down and answers TTL 0 in their last second, which a cold miss may
 * not keep (docs/design.md, "Cache"). Refresh-ahead runs at the default, 0.
 */
static unsigned policy_min_ttl = 1;
static unsigned policy_max_ttl = 300;

static void
use_policy(const char *server, bool with_pin, const char *pin_mode,
    unsigned timeout_ms, unsigned stale_ttl)
{
	char key[64], tmp[320];
	struct pd_engine_cfg cfg;
	FILE *f;

	pd_engine_shutdown();
	snprintf(tmp, sizeof(tmp), "%s.tmp", policy);
	if ((f = fopen(tmp, "w")) == NULL)
		exit(1);
	snprintf(key, sizeof(key), "LAB_%s_PORT", server);
	fprintf(f, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - address_data: %s\n"
	    "    tls_port: %s\n"
	    "    tls_auth_name: %s\n", pd_lab("LAB_UP_ADDR"), pd_lab(key),
	    pd_lab("LAB_AUTH_NAME"));
	if (with_pin) {
		snprintf(key, sizeof(key), "LAB_%s_PIN", server);
		fprintf(f, "    tls_pubkey_pinset:\n"
		    "      - digest: sha256\n"
		    "        value: %s\n", pd_lab(key));
	}
	fprintf(f, "tls_ca_file: %s\n"
	    "dnssec_trust_anchors: [%s]\n"
	    "timeout_ms: %u\n"
	    "cache:\n  max_entries: 1000\n  min_ttl: %u\n  max_ttl: %u\n"
	    "  stale_ttl: %u\n"
	    "log:\n  target: file:%s\n  level: all\n"
	    "default: system\n"
	    "rules:\n"
	    "  - name: dynamodb\n"
	    "    match: [dynamodb.*.amazonaws.com, "
	    "dynamodb-fips.*.amazonaws.com]\n"
	    "    action: secure\n"
	    "    pin: [%s, \"2001:db8:10::/48\"]\n"
	    "    pin_mode: %s\n"
	    "    cname: [\"**.amazonaws.com\"]\n"
	    "  - name: local\n"
	    "    match: [dynamodb.local.test]\n"
	    "    action: static\n"
	    "    addresses: [127.0.0.1]\n",
	    pd_lab("LAB_CA"), pd_lab("LAB_TA_DS"), timeout_ms, policy_min_ttl,
	    policy_max_ttl, stale_ttl, auditlog,
	    pd_lab("LAB_PINS"), pin_mode);
	fclose(f);
	rename(tmp, policy);
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = policy;
	if (pd_engine_init(&cfg) != 0) {
		printf("not ok - engine init\n");
		exit(1);
	}
}

static struct pd_result res;
static struct pd_explain ex;

static void
q(const char *region, unsigned want)
{
	char name[128];

	snprintf(name, sizeof(name), "%s.amazonaws.com", region);
	pd_engine_lookup(name, want, &res, &ex);
}

static char *
addr(const struct pd_addr *a)
{
	static char s[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	inet_ntop(a->family, a->addr, s[i], sizeof(s[i]));
	return s[i];
}

#define OUTCOME(v, r, what) do {					\
	T_EQ_STR(pd_verdict_str(res.verdict), v, "%s: verdict", what);	\
	T_EQ_STR(pd_reason_str(res.reason), r, "%s: reason (%s)", what,	\
	    ex.detail);							\
} while (0)

static int
queries(const char *server_log, const char *qname)
{
	char line[1024], want[300];
	FILE *f = fopen(server_log, "r");
	int n = 0;

	snprintf(want, sizeof(want), " %s. A IN", qname);
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, want) != NULL)
			n++;
	fclose(f);
	return n;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void
test_verdicts(void)
{
	use_policy("GOOD", true, "filter", 2000, 0);
	q("dynamodb.us-east-1", 3);
	OUTCOME("accepted", "", "us-east-1");
	T_OK(res.naddrs == 1 && strcmp(addr(&res.addrs[0]), "127.0.10.1") ==
	    0, "us-east-1 is 127.0.10.1 (%s)", res.naddrs ?
	    addr(&res.addrs[0]) : "none");
	T_EQ_STR(ex.dnssec, "secure", "us-east-1 validated secure");
	T_OK(!ex.from_cache, "first lookup asked the upstream");
	T_OK(strncmp(ex.upstream, "127.0.0.1:", 10) == 0,
	    "upstream named: %s", ex.upstream);
	q("dynamodb.us-east-1", 3);
	T_OK(ex.from_cache, "second lookup from the cache");
	OUTCOME("accepted", "", "us-east-1 from the cache");

	q("dynamodb.eu-west-1", 3);
	OUTCOME("accepted", "", "eu-west-1 A + AAAA");
	T_EQ_INT(res.naddrs, 2, "eu-west-1: both families");
	T_OK(res.naddrs == 2 && res.addrs[0].family == AF_INET &&
	    res.addrs[1].family == AF_INET6, "A first, then AAAA");
	q("dynamodb.eu-central-1", 3);
	OUTCOME("accepted", "", "eu-central-1 in-zone CNAME");
	T_EQ_STR(res.canon, "ddb-edge.eu-central-1.amazonaws.com",
	    "canonical name is the CNAME target");
	q("dynamodb.ap-south-1", 3);
	OUTCOME("refused", "cname-escape", "ap-south-1 CNAME to example.net");
	q("dynamodb.us-west-2", 3);
	OUTCOME("refused", "outside-pin", "us-west-2 off-pin only");
	q("dynamodb.us-west-1", 3);
	OUTCOME("accepted", "", "us-west-1 filter");
	T_OK(res.naddrs == 1 && strcmp(addr(&res.addrs[0]), "127.0.10.8") ==
	    0, "filter keeps only 127.0.10.8");
	q("dynamodb.xx-none-1", 3);
	OUTCOME("absent", "nxdomain", "xx-none-1");
	q("dynamodb.eu-north-1", PD_WANT_A);
	OUTCOME("absent", "nodata", "eu-north-1 has no A");
	q("dynamodb.eu-north-1", 3);
	OUTCOME("accepted", "", "eu-north-1 AF_UNSPEC gives its AAAA");
	pd_engine_lookup("dynamodb.local.test", 3, &res, &ex);
	OUTCOME("accepted", "", "static rule beside secure ones");

	use_policy("GOOD", true, "strict", 2000, 0);
	q("dynamodb.us-west-1", 3);
	OUTCOME("refused", "outside-pin", "us-west-1 strict");
	q("dynamodb.us-east-1", 3);
	OUTCOME("accepted", "", "us-east-1 strict (all inside)");
}

static void
test_attackers(void)
{
	uint64_t t0;
	double ms;

	use_policy("TAMPERED", true, "filter", 2000, 0);
	q("dynamodb.us-east-1", 3);
	OUTCOME("refused", "bogus", "tampered RRSIG");
	q("dynamodb.eu-west-1", 3);
	OUTCOME("refused", "bogus", "forged A beside an intact AAAA");
	q("dynamodb.eu-west-1", PD_WANT_AAAA);
	OUTCOME("accepted", "", "the intact AAAA alone");

	use_policy("STRIPPED", true, "filter", 2000, 0);
	q("dynamodb.us-east-1", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "refused",
	    "stripped signatures under a trust anchor refused (%s)",
	    pd_reason_str(res.reason));

	use_policy("MITM", false, "filter", 2000, 0);
	q("dynamodb.us-east-1", 3);
	OUTCOME("refused", "tls-auth", "MITM certificate");

	use_policy("HUNG", false, "filter", 600, 0);
	t0 = pd_clock_ns();
	q("dynamodb.us-east-1", 3);
	ms = (pd_clock_ns() - t0) / 1e6;
	OUTCOME("failed", "timeout", "hung upstream");
	T_OK(ms < 600 * 1.1 + 400, "hung upstream gave up in time (%.0f ms "
	    "for timeout_ms 600)", ms);
}

/* The engine's once-a-second policy check is due: the next lookup runs it. */
static bool
poll_due(void)
{
	return pd_clock_ms() >= atomic_load_explicit(&pd_eng.next_poll_ms,
	    memory_order_relaxed);
}

static void
test_ttl_refresh(void)
{
	const char *n = "dynamodb.us-east-2.amazonaws.com";
	const char *slog = pd_lab("LAB_GOOD_LOG");
	uint64_t t0, t1, worst = 0;
	int before, misses = 0, lookups = 0, slow = 0, slow_base = 0;

	use_policy("GOOD", true, "filter", 2000, 0);
	before = queries(slog, n);
	pd_engine_lookup(n, PD_WANT_A, &res, &ex);
	OUTCOME("accepted", "", "us-east-2 (TTL 2)");
	T_OK(res.ttl >= 1 && res.ttl <= 2, "TTL 2 or less (%u)", res.ttl);
	T_EQ_INT(queries(slog, n) - before, 1, "one query upstream");
	sleep_ms(res.ttl * 1000 + 300);
	pd_engine_lookup(n, PD_WANT_A, &res, &ex);
	T_OK(!ex.from_cache, "after the TTL the name is asked again");
	T_EQ_INT(queries(slog, n) - before, 2, "second query upstream");

	/*
	 * Refresh-ahead, at the default min_ttl 0: looked up every 20 ms for
	 * 5 s (over two TTLs), the name never waits for the network: every
	 * lookup is a cache hit, while the upstream sees the refreshes. The
	 * upstream counts its cached TTL down, so a refresh in the last
	 * tenth of the TTL is answered with TTL 0: the engine must keep the
	 * name (one more second, refreshed again) rather than let it lapse.
	 */
	policy_min_ttl = 0;
	use_policy("GOOD", true, "filter", 2000, 0);
	policy_min_ttl = 1;
	/* Warm up with an answer that may be cached (not the TTL-0 second). */
	t0 = pd_clock_ms();
	do {
		pd_engine_lookup(n, PD_WANT_A, &res, &ex);
		if (res.ttl >= 1)
			break;
		sleep_ms(200);
	} while (pd_clock_ms() - t0 < 4000);
	OUTCOME("accepted", "", "us-east-2 (TTL 2, min_ttl 0)");
	before = queries(slog, n);
	t0 = pd_clock_ms();
	while (pd_clock_ms() - t0 < 5000) {
		pd_engine_lookup(n, PD_WANT_A, &res, &ex);
		lookups++;
		if (!ex.from_cache || res.verdict != PD_VERDICT_ACCEPTED)
			misses++;
		sleep_ms(20);
	}
	/*
	 * A refresh starts in the last tenth of the TTL (200 ms here); on a
	 * loaded machine one round trip can outlast that, and the lookup
	 * just after the expiry waits for it: one miss is tolerated. With
	 * refresh-ahead broken every TTL period misses: 2 or more in 5 s.
	 */
	T_OK(misses <= 1, "refresh-ahead: %d misses in %d lookups over 5 s "
	    "(at most one late refresh)", misses, lookups);
	T_OK(queries(slog, n) - before >= 2,
	    "refresh-ahead: the upstream saw %d refreshes",
	    queries(slog, n) - before);

	/*
	 * The same through the thread cache (the preload's path), which
	 * says nothing of where an answer came from: time it. A network
	 * round trip here is > 300 us, a hit < 10 us, but on a shared
	 * machine any call can be descheduled for milliseconds. So each
	 * lookup is paired with one of the static rule's name, which never
	 * touches the network (the baseline, in the same run): the secure
	 * name may be slow no more often than the static one, plus one.
	 * The once-a-second policy check runs inside whichever lookup finds
	 * it due (stat()s of the policy files, a log reopen: file system
	 * work, slow under load, no network): a lookup that runs it is not
	 * judged, on either side.
	 */
	misses = 0;
	t0 = pd_clock_ms();
	while (pd_clock_ms() - t0 < 5000) {
		bool poll = poll_due();

		t1 = pd_clock_ns();
		pd_engine_lookup(n, PD_WANT_A, &res, NULL);
		t1 = pd_clock_ns() - t1;
		if (t1 > worst && !poll)
			worst = t1;
		if (t1 > 2000000 && !poll)
			slow++;
		if (res.verdict != PD_VERDICT_ACCEPTED) {
			misses++;
			printf("# thread cache path: %s %s after %.1f ms\n",
			    pd_verdict_str(res.verdict),
			    pd_reason_str(res.reason), t1 / 1e6);
		}
		poll = poll_due();
		t1 = pd_clock_ns();
		pd_engine_lookup("dynamodb.local.test", PD_WANT_A, &res, NULL);
		t1 = pd_clock_ns() - t1;
		if (t1 > 2000000 && !poll)
			slow_base++;
		sleep_ms(10);
	}
	T_EQ_INT(misses, 0, "thread cache path: every lookup accepted");
	T_OK(slow <= slow_base + 1, "thread cache path: %d lookups over 2 ms "
	    "in 5 s, the static name %d (worst %.2f ms; a miss would wait "
	    "for the network)", slow, slow_base, worst / 1e6);
}

static void
lab_ctl(const char *verb, const char *server)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "tests/lab/lab %s '%s' %s >/dev/null 2>&1",
	    verb, pd_lab("LAB_STATE"), server);
	T_EQ_INT(system(cmd), 0, "lab %s %s", verb, server);
}

static void
test_stale(void)
{
	const char *n = "dynamodb.us-east-2.amazonaws.com";
	uint64_t expire, t0;
	int ok = 0;

	use_policy("GOOD2", true, "filter", 1000, 3);
	pd_engine_lookup(n, PD_WANT_A, &res, &ex);
	OUTCOME("accepted", "", "warm us-east-2 on good2");
	expire = pd_clock_ms() + res.ttl * 1000;
	lab_ctl("stop", "good2");
	while (pd_clock_ms() < expire + 300)
		sleep_ms(50);
	pd_engine_lookup(n, PD_WANT_A, &res, &ex);
	OUTCOME("accepted", "stale", "upstream down after expiry: stale");
	T_OK(res.naddrs == 1 && strcmp(addr(&res.addrs[0]), "127.0.10.9") ==
	    0, "stale answer is the old one");
	t0 = pd_clock_ns();
	pd_engine_lookup(n, PD_WANT_A, &res, NULL);
	OUTCOME("accepted", "stale", "again, through the thread-cache path");
	T_OK(pd_clock_ns() - t0 < 50000000, "served without waiting on the "
	    "dead upstream (%.2f ms)", (pd_clock_ns() - t0) / 1e6);
	while (pd_clock_ms() < expire + 3000 + 300)
		sleep_ms(50);
	pd_engine_lookup(n, PD_WANT_A, &res, &ex);
	OUTCOME("failed", "unreachable", "stale_ttl over: failed");
	lab_ctl("start", "good2");
	/* getdns backs a failed upstream off for a few seconds. */
	t0 = pd_clock_ms();
	while (pd_clock_ms() - t0 < 15000) {
		pd_engine_lookup(n, PD_WANT_A, &res, &ex);
		if (res.verdict == PD_VERDICT_ACCEPTED &&
		    res.reason == PD_REASON_NONE) {
			ok = 1;
			break;
		}
		sleep_ms(250);
	}
	T_OK(ok, "upstream back: accepted again (after %.1f s)",
	    (pd_clock_ms() - t0) / 1e3);
	{
		char line[4096];
		FILE *f = fopen(auditlog, "r");
		int stale = 0;

		while (f != NULL && fgets(line, sizeof(line), f) != NULL)
			if (strstr(line, n) != NULL && strstr(line,
			    "\"verdict\":\"accepted\",\"reason\":\"stale\"") !=
			    NULL)
				stale++;
		if (f != NULL)
			fclose(f);
		T_OK(stale >= 2, "audit log shows the stale answers (%d)",
		    stale);
	}
}

#define THREADS 64
static _Atomic int thread_bad;

static const char *names[] = { "dynamodb.us-east-1",
    "dynamodb-fips.us-east-1", "dynamodb.eu-west-1",
    "dynamodb.eu-central-1", "dynamodb.us-west-1",
    "dynamodb.eu-north-1" };

static int
queries_of_names(void)
{
	char n[128];
	int i, sum = 0;

	for (i = 0; i < 6; i++) {
		snprintf(n, sizeof(n), "%s.amazonaws.com", names[i]);
		sum += queries(pd_lab("LAB_GOOD_LOG"), n);
	}
	return sum;
}

static void *
worker(void *arg)
{
	struct pd_result *r = malloc(sizeof(*r));
	char n[128];
	unsigned i, k = (unsigned)(uintptr_t)arg;

	for (i = 0; i < 60 && r != NULL; i++) {
		snprintf(n, sizeof(n), "%s.amazonaws.com",
		    names[(i + k) % 6]);
		pd_engine_lookup(n, 3, r, NULL);
		if (r->verdict != PD_VERDICT_ACCEPTED || r->naddrs == 0) {
			printf("# thread %u: %s -> %s/%s\n", k, n,
			    pd_verdict_str(r->verdict),
			    pd_reason_str(r->reason));
			atomic_fetch_add(&thread_bad, 1);
		}
	}
	free(r);
	return NULL;
}

static void
test_threads(void)
{
	pthread_t t[THREADS];
	int i, made = 0, before;

	use_policy("GOOD", true, "filter", 2000, 0);
	before = queries_of_names();
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, worker,
		    (void *)(uintptr_t)i) == 0)
			made++;
	for (i = 0; i < made; i++)
		pthread_join(t[i], NULL);
	T_EQ_INT(made, THREADS, "64 threads started");
	T_EQ_INT(atomic_load(&thread_bad), 0,
	    "64 threads x 60 lookups from a cold cache: all accepted");
	/*
	 * Misses in flight are shared: about one A query per name, not one
	 * per thread (a lookup that misses just as the first one lands may
	 * ask once more).
	 */
	T_OK(queries_of_names() - before <= 12, "cold start of 64 threads: "
	    "%d A queries upstream for 6 names", queries_of_names() - before);
}

static void
test_fork(void)
{
	pid_t pid;
	int st = -1;

	use_policy("GOOD", true, "filter", 2000, 0);
	q("dynamodb.us-east-1", 3);
	OUTCOME("accepted", "", "parent warms its cache");
	fflush(stdout);
	if ((pid = fork()) == 0) {
		struct pd_result r;
		int bad = 0;

		pd_engine_lookup("dynamodb.us-east-1.amazonaws.com", 3, &r,
		    NULL);
		bad |= r.verdict != PD_VERDICT_ACCEPTED;
		/* A miss: the child needs a backend of its own. */
		pd_engine_lookup("dynamodb.eu-central-1.amazonaws.com", 3, &r,
		    NULL);
		bad |= r.verdict != PD_VERDICT_ACCEPTED;
		_exit(bad);
	}
	T_OK(pid > 0, "forked");
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child: cached and new names accepted (status %d)", st);
	q("dynamodb-fips.us-east-1", 3);
	OUTCOME("accepted", "", "parent resolves a new name after the child");
	q("dynamodb.us-west-1", 3);
	OUTCOME("accepted", "", "and another");
}

/*
 * Serve-stale (issue 17): a stale answer is served at once once the
 * upstream is known down, and never for a name whose last answer was
 * refused, whatever the families. On tampered, dynamodb.eu-west-1's AAAA
 * is intact (accepted alone) and its A forged (AF_UNSPEC: bogus,
 * refused); eu-north-1 (AAAA only, intact) is the control.
 */
static void
test_stale_refused(void)
{
	const char *w = "dynamodb.eu-west-1.amazonaws.com";
	const char *c = "dynamodb.eu-north-1.amazonaws.com";
	uint64_t t0;

	policy_max_ttl = 1;
	use_policy("TAMPERED", true, "filter", 1000, 60);
	pd_engine_lookup(w, PD_WANT_AAAA, &res, &ex);
	OUTCOME("accepted", "", "stale/refused: eu-west-1 AAAA accepted");
	pd_engine_lookup(c, PD_WANT_AAAA, &res, &ex);
	OUTCOME("accepted", "", "stale/refused: control eu-north-1 AAAA");
	pd_engine_lookup(w, PD_WANT_A | PD_WANT_AAAA, &res, &ex);
	OUTCOME("refused", "bogus", "stale/refused: eu-west-1 A+AAAA refused "
	    "(forged A)");
	lab_ctl("hang", "tampered");
	sleep_ms(1300);		/* past max_ttl 1: both entries expired */
	pd_engine_lookup(w, PD_WANT_AAAA, &res, &ex);
	T_OK(res.verdict == PD_VERDICT_FAILED, "stale/refused: the AAAA "
	    "answer of a name last refused is not served stale (%s %s)",
	    pd_verdict_str(res.verdict), pd_reason_str(res.reason));
	t0 = pd_clock_ns();
	pd_engine_lookup(c, PD_WANT_AAAA, &res, &ex);
	OUTCOME("accepted", "stale", "stale/refused: control served stale");
	T_OK(pd_clock_ns() - t0 < 50000000, "stale/refused: served at once, "
	    "the upstream known down (%.2f ms)", (pd_clock_ns() - t0) / 1e6);
	lab_ctl("resume", "tampered");
	policy_max_ttl = 300;
}

int
main(void)
{
	if (!pd_lab_begin(dir, policy, auditlog)) {
		T_OK(0, "PINDNS_LAB_ENV readable (run through tests/run), "
		    "temporary directory made");
		return t_done();
	}
	test_verdicts();
	test_attackers();
	test_ttl_refresh();
	test_stale();
	test_stale_refused();
	test_threads();
	test_fork();
	pd_engine_shutdown();
	pd_lab_end(dir);
	return t_done();
}

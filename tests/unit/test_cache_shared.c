/*
 * The shared answer cache (resolver/cache.c), driven by an explicit clock:
 * TTL clamp, eviction bound and LRU order, negative caching, the stale
 * window and its hold, refresh-ahead handed out exactly once, fork epoch,
 * hostile names, and a per-process hash key.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolver/cache.h"
#include "tests/unit/tap.h"

static struct pd_cache *
mk(uint32_t max, uint32_t min_ttl, uint32_t max_ttl, uint32_t stale)
{
	struct pd_cache_cfg cfg = { max, min_ttl, max_ttl, stale };
	struct pd_cache *c = NULL;

	if (pd_cache_new(&cfg, &c) != PD_OK) {
		printf("not ok - pd_cache_new\n");
		exit(1);
	}
	return c;
}

static void
answer(struct pd_result *r, uint32_t ttl, uint8_t last)
{
	memset(r, 0, sizeof(*r));
	r->verdict = PD_VERDICT_ACCEPTED;
	r->ttl = ttl;
	r->naddrs = 1;
	r->addrs[0].family = AF_INET;
	r->addrs[0].addr[0] = 127;
	r->addrs[0].addr[3] = last;
	(void)snprintf(r->canon, sizeof(r->canon), "canon.example");
}

static enum pd_cache_hit
get(struct pd_cache *c, const char *n, unsigned want, uint64_t now,
    struct pd_result *out)
{
	return pd_cache_get(c, n, strlen(n), want, now, out, NULL, NULL);
}

static bool
put(struct pd_cache *c, const char *n, unsigned want, uint64_t now,
    const struct pd_result *r)
{
	return pd_cache_put(c, n, strlen(n), want, now, r, NULL, NULL);
}

static void
test_basic(void)
{
	struct pd_cache *c = mk(100, 0, 300, 0);
	struct pd_result r, o;
	struct pd_cache_note note = { "secure", "127.0.0.1:853" }, n2;
	struct pd_cache_times t;

	answer(&r, 60, 7);
	T_EQ_INT(get(c, "a.example", 3, 1000, &o), PD_CACHE_MISS,
	    "empty cache misses");
	T_OK(pd_cache_put(c, "a.example", 9, 3, 1000, &r, &note, &t),
	    "an accepted answer is stored");
	T_EQ_INT(t.expire_ms, 61000, "expiry is now + TTL");
	T_EQ_INT(t.reuse_until_ms, 55000, "threads reuse it until 9/10 TTL");
	memset(&o, 0xa5, sizeof(o));
	T_EQ_INT(pd_cache_get(c, "a.example", 9, 3, 1000, &o, &n2, &t),
	    PD_CACHE_FRESH, "stored answer is a fresh hit");
	T_EQ_INT(o.verdict, PD_VERDICT_ACCEPTED, "hit verdict");
	T_EQ_INT(o.reason, PD_REASON_NONE, "hit reason");
	T_EQ_INT(o.naddrs, 1, "hit address count");
	T_EQ_INT(o.addrs[0].addr[3], 7, "hit address");
	T_EQ_STR(o.canon, "canon.example", "hit canonical name");
	T_EQ_STR(n2.upstream, "127.0.0.1:853", "hit carries the note");
	T_EQ_INT(o.ttl, 60, "TTL at insertion");
	get(c, "a.example", 3, 30500, &o);
	T_EQ_INT(o.ttl, 31, "remaining TTL rounds up");
	T_EQ_INT(get(c, "a.example", 1, 1000, &o), PD_CACHE_MISS,
	    "other families are another key");
	T_EQ_INT(get(c, "A.example", 3, 1000, &o), PD_CACHE_MISS,
	    "keys are exact bytes (the engine normalises)");
	T_EQ_INT(get(c, "a.exampl", 3, 1000, &o), PD_CACHE_MISS,
	    "a prefix is another key");
	T_EQ_INT(get(c, "a.example", 3, 61000, &o), PD_CACHE_MISS,
	    "expired without stale window: miss");
	T_EQ_INT(pd_cache_count(c), 0, "expired entry was dropped");

	r.verdict = PD_VERDICT_REFUSED;
	r.reason = PD_REASON_BOGUS;
	T_OK(!put(c, "b.example", 3, 1000, &r), "refusals are not cached");
	r.verdict = PD_VERDICT_FAILED;
	r.reason = PD_REASON_TIMEOUT;
	T_OK(!put(c, "b.example", 3, 1000, &r), "failures are not cached");
	answer(&r, 60, 1);
	r.reason = PD_REASON_STALE;
	T_OK(!put(c, "b.example", 3, 1000, &r),
	    "stale answers are not cached again");
	answer(&r, 60, 1);
	put(c, "b.example", 3, 1000, &r);
	r.verdict = PD_VERDICT_REFUSED;
	put(c, "b.example", 3, 2000, &r);
	T_EQ_INT(get(c, "b.example", 3, 2000, &o), PD_CACHE_MISS,
	    "a refusal removes the older answer");
	pd_cache_free(c);
}

static void
test_clamp(void)
{
	struct pd_cache *c = mk(100, 30, 120, 0);
	struct pd_result r, o;
	struct pd_cache_times t;

	answer(&r, 5, 1);
	pd_cache_put(c, "short.example", 13, 3, 0, &r, NULL, &t);
	T_EQ_INT(t.expire_ms, 30000, "TTL below min_ttl is raised to it");
	answer(&r, 86400, 1);
	pd_cache_put(c, "long.example", 12, 3, 0, &r, NULL, &t);
	T_EQ_INT(t.expire_ms, 120000, "TTL above max_ttl is cut to it");
	get(c, "long.example", 3, 0, &o);
	T_EQ_INT(o.ttl, 120, "hit reports the clamped TTL");
	pd_cache_free(c);

	c = mk(100, 0, 300, 0);
	answer(&r, 0, 1);
	T_OK(!pd_cache_would_keep(c, &r), "would_keep: TTL 0 no");
	T_OK(!put(c, "zero.example", 3, 0, &r), "TTL 0 is not cached");
	answer(&r, 1, 1);
	T_OK(pd_cache_would_keep(c, &r), "would_keep: TTL 1 yes");
	r.verdict = PD_VERDICT_REFUSED;
	T_OK(!pd_cache_would_keep(c, &r), "would_keep: refusal no");
	pd_cache_free(c);
	c = mk(100, 5, 300, 0);
	answer(&r, 0, 1);
	T_OK(pd_cache_would_keep(c, &r), "would_keep: TTL 0 raised by "
	    "min_ttl yes");
	pd_cache_free(c);

	c = mk(0, 0, 300, 0);
	answer(&r, 60, 1);
	T_OK(!put(c, "x.example", 3, 0, &r), "max_entries 0 caches nothing");
	T_EQ_INT(get(c, "x.example", 3, 0, &o), PD_CACHE_MISS,
	    "max_entries 0 always misses");
	pd_cache_free(c);
}

static void
test_negative(void)
{
	struct pd_cache *c = mk(100, 0, 300, 600);
	struct pd_result r, o;

	memset(&r, 0, sizeof(r));
	r.verdict = PD_VERDICT_ABSENT;
	r.reason = PD_REASON_NXDOMAIN;
	r.ttl = 900;	/* min(SOA TTL, minimum), from the backend */
	T_OK(put(c, "gone.example", 3, 0, &r), "NXDOMAIN is cached");
	memset(&o, 0, sizeof(o));
	T_EQ_INT(get(c, "gone.example", 3, 1000, &o), PD_CACHE_FRESH,
	    "negative hit");
	T_EQ_INT(o.verdict, PD_VERDICT_ABSENT, "negative hit verdict");
	T_EQ_INT(o.reason, PD_REASON_NXDOMAIN, "negative hit reason");
	T_EQ_INT(o.naddrs, 0, "negative hit has no address");
	T_EQ_INT(o.ttl, 299, "negative TTL is clamped to max_ttl too");
	T_EQ_INT(get(c, "gone.example", 3, 300000, &o), PD_CACHE_MISS,
	    "negative answers are never served stale");
	r.reason = PD_REASON_NODATA;
	r.ttl = 60;
	put(c, "v4only.example", 2, 0, &r);
	get(c, "v4only.example", 2, 0, &o);
	T_EQ_INT(o.reason, PD_REASON_NODATA, "NODATA is cached per family");
	pd_cache_free(c);
}

static void
test_stale(void)
{
	struct pd_cache *c = mk(100, 0, 300, 30);
	struct pd_result r, o;

	answer(&r, 10, 4);
	put(c, "s.example", 3, 0, &r);
	T_EQ_INT(get(c, "s.example", 3, 9999, &o) != PD_CACHE_MISS, 1,
	    "valid just before expiry");
	memset(&o, 0, sizeof(o));
	T_EQ_INT(get(c, "s.example", 3, 10000, &o), PD_CACHE_STALE,
	    "expired inside stale_ttl: STALE");
	T_EQ_INT(o.addrs[0].addr[3], 4, "stale result carries the old answer");
	T_EQ_INT(o.ttl, 0, "stale result has TTL 0");
	T_EQ_INT(get(c, "s.example", 3, 20000, &o), PD_CACHE_STALE,
	    "still STALE (no failure recorded)");
	pd_cache_hold(c, "s.example", 9, 3, 20000);
	T_EQ_INT(get(c, "s.example", 3, 20001, &o), PD_CACHE_STALE_HOLD,
	    "after a failure: served without asking");
	T_EQ_INT(get(c, "s.example", 3, 20000 + PD_CACHE_STALE_RECHECK_MS, &o),
	    PD_CACHE_STALE, "after the recheck time: ask again");
	T_EQ_INT(get(c, "s.example", 3, 39999, &o), PD_CACHE_STALE,
	    "last millisecond of the stale window");
	T_EQ_INT(get(c, "s.example", 3, 40000, &o), PD_CACHE_MISS,
	    "stale_ttl over: miss");
	T_EQ_INT(pd_cache_count(c), 0, "entry gone after the stale window");
	pd_cache_free(c);
}

static void
test_refresh(void)
{
	struct pd_cache *c = mk(100, 0, 300, 0);
	struct pd_result r, o;
	struct pd_cache_times t;
	int i, n;

	answer(&r, 100, 1);
	put(c, "r.example", 3, 0, &r);
	T_EQ_INT(pd_cache_get(c, "r.example", 9, 3, 89999, &o, NULL, &t),
	    PD_CACHE_FRESH, "before the last tenth: plain hit");
	T_EQ_INT(t.reuse_until_ms, 90000, "threads come back at 9/10 TTL");
	T_EQ_INT(pd_cache_get(c, "r.example", 9, 3, 90000, &o, NULL, &t),
	    PD_CACHE_REFRESH, "first hit in the last tenth gets the refresh");
	T_EQ_INT(t.reuse_until_ms, 100000,
	    "after that threads reuse it to expiry");
	for (i = 0, n = 0; i < 1000; i++)
		n += get(c, "r.example", 3, 90001 + (uint64_t)i, &o) ==
		    PD_CACHE_REFRESH;
	T_EQ_INT(n, 0, "no second refresh while one is in flight");
	T_EQ_INT(o.addrs[0].addr[3], 1, "old answer served meanwhile");

	answer(&r, 100, 2);
	put(c, "r.example", 3, 95000, &r);
	T_EQ_INT(get(c, "r.example", 3, 96000, &o), PD_CACHE_FRESH,
	    "refreshed entry is fresh");
	T_EQ_INT(o.addrs[0].addr[3], 2, "refreshed answer served");
	T_EQ_INT(o.ttl, 99, "refreshed TTL");
	T_EQ_INT(get(c, "r.example", 3, 185000, &o), PD_CACHE_REFRESH,
	    "a new refresh in the new last tenth");
	pd_cache_refresh_failed(c, "r.example", 9, 3);
	for (i = 0, n = 0; i < 100; i++)
		n += get(c, "r.example", 3, 185001 + (uint64_t)i * 10, &o) ==
		    PD_CACHE_REFRESH;
	T_EQ_INT(n, 0, "a failed refresh is not retried before expiry");
	T_EQ_INT(get(c, "r.example", 3, 194999, &o), PD_CACHE_FRESH,
	    "after a failed refresh the entry serves to its end");

	answer(&r, 100, 3);
	put(c, "f.example", 3, 0, &r);
	T_EQ_INT(get(c, "f.example", 3, 95000, &o), PD_CACHE_REFRESH,
	    "refresh claimed before fork");
	pd_cache_forked();
	T_EQ_INT(get(c, "f.example", 3, 95001, &o), PD_CACHE_REFRESH,
	    "in a child the parent's refresh is void: claim again");
	T_EQ_INT(get(c, "f.example", 3, 95002, &o), PD_CACHE_FRESH,
	    "and only once");

	answer(&r, 1, 4);
	put(c, "one.example", 3, 0, &r);
	T_EQ_INT(get(c, "one.example", 3, 899, &o), PD_CACHE_FRESH,
	    "TTL 1: fresh before 900 ms");
	T_EQ_INT(get(c, "one.example", 3, 900, &o), PD_CACHE_REFRESH,
	    "TTL 1: refresh at 900 ms");
	pd_cache_free(c);
}

static void
test_evict(void)
{
	struct pd_cache *c;
	struct pd_result r, o;
	char n[64];
	int i, hits;

	c = mk(20, 0, 300, 0);
	answer(&r, 300, 1);
	for (i = 0; i < 200; i++) {
		(void)snprintf(n, sizeof(n), "n%d.example", i);
		put(c, n, 3, (uint64_t)i, &r);
	}
	T_EQ_INT(pd_cache_count(c), 20, "count never exceeds max_entries");
	for (i = 180, hits = 0; i < 200; i++) {
		(void)snprintf(n, sizeof(n), "n%d.example", i);
		hits += get(c, n, 3, 1000, &o) != PD_CACHE_MISS;
	}
	T_EQ_INT(hits, 20, "the most recent max_entries are kept");
	/* n180 was just used; insert one more: the LRU one goes. */
	for (i = 181; i < 200; i++) {
		(void)snprintf(n, sizeof(n), "n%d.example", i);
		get(c, n, 3, 2000, &o);
	}
	get(c, "n180.example", 3, 2001, &o);
	put(c, "new.example", 3, 2002, &r);
	T_EQ_INT(get(c, "n181.example", 3, 2003, &o), PD_CACHE_MISS,
	    "least recently used entry evicted");
	T_EQ_INT(get(c, "n180.example", 3, 2003, &o), PD_CACHE_FRESH,
	    "recently used entry kept");
	pd_cache_free(c);

	/* Striped: a big cache keeps its bound too. */
	c = mk(10000, 0, 300, 0);
	for (i = 0; i < 30000; i++) {
		(void)snprintf(n, sizeof(n), "big%d.example", i);
		put(c, n, 3, 0, &r);
	}
	T_EQ_INT(pd_cache_count(c), 10000, "striped cache holds max_entries");
	for (i = 29000, hits = 0; i < 30000; i++) {
		(void)snprintf(n, sizeof(n), "big%d.example", i);
		hits += get(c, n, 3, 0, &o) != PD_CACHE_MISS;
	}
	T_OK(hits >= 990, "recent entries of a striped cache survive "
	    "(%d of 1000)", hits);
	pd_cache_free(c);
}

static void
test_hostile(void)
{
	struct pd_cache *c = mk(1000, 0, 300, 0);
	struct pd_result r, o;
	char n[256];
	int i, bad = 0;

	/* Every byte value, embedded in otherwise equal names. */
	for (i = 1; i < 256; i++) {
		(void)snprintf(n, sizeof(n), "x%cy.example", i);
		answer(&r, 300, (uint8_t)i);
		put(c, n, 3, 0, &r);
	}
	for (i = 1; i < 256; i++) {
		(void)snprintf(n, sizeof(n), "x%cy.example", i);
		if (get(c, n, 3, 0, &o) != PD_CACHE_FRESH ||
		    o.addrs[0].addr[3] != i)
			bad++;
	}
	T_EQ_INT(bad, 0, "255 names differing in one byte keep their answers");
	memset(n, 'a', 253);
	n[253] = '\0';
	answer(&r, 300, 99);
	put(c, n, 3, 0, &r);
	T_EQ_INT(get(c, n, 3, 0, &o), PD_CACHE_FRESH, "253-byte name cached");
	n[252] = 'b';
	T_EQ_INT(get(c, n, 3, 0, &o), PD_CACHE_MISS,
	    "its last byte changed: another key");
	pd_cache_free(c);
}

static void
test_key(const char *self)
{
	char cmd[4096], out[64] = "";
	FILE *f;
	uint64_t h = pd_cache_hash("dynamodb.us-east-1.amazonaws.com", 32);
	char mine[32];

	(void)snprintf(mine, sizeof(mine), "%016llx", (unsigned long long)h);
	T_OK(h == pd_cache_hash("dynamodb.us-east-1.amazonaws.com", 32),
	    "hash is stable within a process");
	(void)snprintf(cmd, sizeof(cmd), "%s --hash", self);
	if ((f = popen(cmd, "r")) != NULL) {
		if (fgets(out, sizeof(out), f) == NULL)
			out[0] = '\0';
		(void)pclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
	T_OK(strlen(out) == 16, "another process printed its hash (%s)", out);
	T_OK(strcmp(out, mine) != 0,
	    "another process hashes with another key (%s vs %s)", out, mine);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--hash") == 0) {
		printf("%016llx\n", (unsigned long long)pd_cache_hash(
		    "dynamodb.us-east-1.amazonaws.com", 32));
		return 0;
	}
	test_basic();
	test_clamp();
	test_negative();
	test_stale();
	test_refresh();
	test_evict();
	test_hostile();
	test_key(argv[0]);
	return t_done();
}

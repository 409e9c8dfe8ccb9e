/*
 * tags: threads
 * The per-thread cache (resolver/tcache.c): hit and miss rules
 * (generation, reuse time, exact name bytes, families), TTL reporting,
 * collisions on the hash, set eviction, privacy between threads, and
 * memory released when a thread exits (ASan checks the last part).
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "resolver/cache.h"
#include "resolver/tcache.h"
#include "tests/unit/tap.h"

static void
answer(struct pd_result *r, uint8_t last, const char *canon)
{
	memset(r, 0, sizeof(*r));
	r->verdict = PD_VERDICT_ACCEPTED;
	r->ttl = 60;
	r->naddrs = 2;
	r->addrs[0].family = AF_INET;
	r->addrs[0].addr[3] = last;
	r->addrs[1].family = AF_INET6;
	r->addrs[1].addr[15] = last;
	(void)snprintf(r->canon, sizeof(r->canon), "%s", canon);
}

static bool
get(const char *n, unsigned want, uint64_t h, uint64_t gen, uint64_t now,
    struct pd_result *o, struct pd_tcache_meta *m)
{
	return pd_tcache_get(n, strlen(n), want, h, gen, now, o, m);
}

static void
put(const char *n, unsigned want, uint64_t h, uint64_t gen, uint64_t until,
    uint64_t expire, const struct pd_result *r, const struct pd_tcache_meta *m)
{
	pd_tcache_put(n, strlen(n), want, h, gen, until, expire, r, m);
}

static void *
other_thread(void *arg)
{
	struct pd_result o;
	struct pd_tcache_meta m;
	struct pd_result r;
	int i;

	(void)arg;
	answer(&r, 9, "t.example");
	memset(&m, 0, sizeof(m));
	/* Fill, then exit: the destructor must free all of it. */
	for (i = 0; i < 300; i++) {
		char n[32];

		(void)snprintf(n, sizeof(n), "t%d.example", i);
		put(n, 3, (uint64_t)i * 7919, 1, UINT64_MAX, 0, &r, &m);
	}
	return (void *)(uintptr_t)get("x.example", 3, 42, 1, 0, &o, &m);
}

int
main(void)
{
	struct pd_result r, o;
	struct pd_tcache_meta m, mo;
	pthread_t t;
	void *seen = (void *)1;
	const char *n = "dynamodb.us-east-1.amazonaws.com";
	uint64_t h = pd_cache_hash(n, strlen(n));
	uint64_t base;
	int rule_tag, i, kept;

	memset(&m, 0, sizeof(m));
	m.rule = &rule_tag;
	m.ttl = 60;
	answer(&r, 1, "canon.example");
	T_OK(!get(n, 3, h, 1, 0, &o, &mo), "empty thread cache misses");
	put(n, 3, h, 1, 90000, 100000, &r, &m);
	memset(&o, 0, sizeof(o));
	memset(&mo, 0, sizeof(mo));
	T_OK(get(n, 3, h, 1, 1000, &o, &mo), "hit after put");
	T_EQ_INT(o.verdict, PD_VERDICT_ACCEPTED, "hit verdict");
	T_EQ_INT(o.naddrs, 2, "hit address count");
	T_EQ_INT(o.addrs[1].family, AF_INET6, "hit keeps address order");
	T_EQ_INT(o.addrs[1].addr[15], 1, "hit address bytes");
	T_EQ_STR(o.canon, "canon.example", "hit canonical name");
	T_EQ_INT(o.ttl, 99, "TTL counts down from the expiry");
	T_OK(mo.rule == &rule_tag, "hit returns the rule tag");
	T_OK(!get(n, 3, h, 2, 1000, &o, &mo), "another generation misses");
	T_OK(!get(n, 1, h, 1, 1000, &o, &mo), "other families miss");
	T_OK(!get(n, 3, h, 1, 90000, &o, &mo), "reuse time over: miss");
	T_OK(!get("dynamodb.us-east-1.amazonaws.coM", 3, h, 1, 1000, &o, &mo),
	    "same hash, other bytes: miss (no false hit on a collision)");

	/* Fixed-TTL decisions (static rules) and the log flag. */
	m.flags = PD_TC_LOG;
	(void)snprintf(m.dnssec, sizeof(m.dnssec), "off");
	m.ttl = 42;
	put("static.test", 1, 77, 1, UINT64_MAX, 0, &r, &m);
	memset(&mo, 0, sizeof(mo));
	T_OK(get("static.test", 1, 77, 1, UINT64_MAX - 1, &o, &mo),
	    "decision valid as long as the generation");
	T_EQ_INT(o.ttl, 42, "fixed TTL reported as given");
	T_EQ_STR(mo.dnssec, "off", "logged entries return their meta");
	m.flags = 0;

	/* Replacing an entry in place. */
	answer(&r, 2, "canon2.example");
	put(n, 3, h, 1, 190000, 200000, &r, &m);
	get(n, 3, h, 1, 100000, &o, &mo);
	T_EQ_INT(o.addrs[0].addr[3], 2, "put replaces the same key");
	T_EQ_STR(o.canon, "canon2.example", "replaced canonical name");

	/*
	 * Five names in one set of four ways: one goes, four stay. The set
	 * is one that n and static.test (hash 77, set 13) do not use.
	 */
	for (base = 0; base == (h & 31) || base == 13; base++)
		;
	for (i = 0; i < 5; i++) {
		char nm[32];

		(void)snprintf(nm, sizeof(nm), "set%d.example", i);
		answer(&r, (uint8_t)(10 + i), nm);
		put(nm, 3, base + 32 * (uint64_t)i, 1, UINT64_MAX, 0, &r, &m);
	}
	for (i = 0, kept = 0; i < 5; i++) {
		char nm[32];

		(void)snprintf(nm, sizeof(nm), "set%d.example", i);
		if (get(nm, 3, base + 32 * (uint64_t)i, 1, 0, &o, &mo)) {
			kept++;
			T_EQ_STR(o.canon, nm, "entry %d answers for itself", i);
		}
	}
	T_EQ_INT(kept, 4, "a full set keeps four ways");

	{
		char longname[PD_TCACHE_NAME_MAX + 2];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		put(longname, 3, 1234, 1, UINT64_MAX, 0, &r, &m);
		T_OK(!get(longname, 3, 1234, 1, 0, &o, &mo),
		    "over-long names are not kept");
	}

	T_EQ_INT(pthread_create(&t, NULL, other_thread, NULL), 0,
	    "thread started");
	pthread_join(t, &seen);
	T_OK(seen == NULL, "a thread does not see another's entries");
	T_OK(get(n, 3, h, 1, 100000, &o, &mo),
	    "this thread's entries survive another's exit");
	pd_tcache_flush();
	T_OK(!get(n, 3, h, 1, 100000, &o, &mo), "flush empties it");
	return t_done();
}

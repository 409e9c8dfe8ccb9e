/*
 * tags: threads
 * The shared cache under 64 threads: answers never get mixed up between
 * names, the bound holds, and one entry's refresh is handed out exactly
 * once however many threads hit its last tenth together. `make tsan` runs
 * this under ThreadSanitizer.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/cache.h"
#include "tests/unit/tap.h"

#define THREADS	64
#define NAMES	500
#define OPS	4000

static struct pd_cache *cache;
static _Atomic int mixups, refreshes, hits;
static pthread_barrier_t start;

static void
name_of(unsigned i, char *buf, size_t size)
{
	(void)snprintf(buf, size, "name%u.example", i);
}

/* Every answer for name i carries i in its address and canonical name. */
static void
answer_of(unsigned i, struct pd_result *r)
{
	memset(r, 0, sizeof(*r));
	r->verdict = PD_VERDICT_ACCEPTED;
	r->ttl = 1 + i % 300;
	r->naddrs = 1 + i % 4;
	for (unsigned k = 0; k < r->naddrs; k++) {
		r->addrs[k].family = AF_INET;
		r->addrs[k].addr[0] = 10;
		r->addrs[k].addr[1] = (uint8_t)(i >> 8);
		r->addrs[k].addr[2] = (uint8_t)i;
		r->addrs[k].addr[3] = (uint8_t)k;
	}
	(void)snprintf(r->canon, sizeof(r->canon), "canon%u.example", i);
}

static void *
hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg, i, op, k;
	struct pd_result r, o;
	char n[64], want[64];
	enum pd_cache_hit h;
	uint64_t now;

	pthread_barrier_wait(&start);
	for (op = 0; op < OPS; op++) {
		i = (unsigned)rand_r(&seed) % NAMES;
		now = (uint64_t)(rand_r(&seed) % 400000);
		name_of(i, n, sizeof(n));
		switch (rand_r(&seed) % 4) {
		case 0:
			answer_of(i, &r);
			pd_cache_put(cache, n, strlen(n), 3, now, &r, NULL,
			    NULL);
			break;
		case 1:
			pd_cache_hold(cache, n, strlen(n), 3, now);
			break;
		default:
			h = pd_cache_get(cache, n, strlen(n), 3, now, &o, NULL,
			    NULL);
			if (h == PD_CACHE_MISS)
				break;
			atomic_fetch_add(&hits, 1);
			if (h == PD_CACHE_REFRESH)
				pd_cache_refresh_failed(cache, n, strlen(n), 3);
			(void)snprintf(want, sizeof(want), "canon%u.example",
			    i);
			if (strcmp(o.canon, want) != 0 ||
			    o.naddrs != 1 + i % 4)
				atomic_fetch_add(&mixups, 1);
			for (k = 0; k < o.naddrs && k < PD_MAX_ADDRS; k++)
				if (o.addrs[k].addr[2] != (uint8_t)i ||
				    o.addrs[k].addr[3] != k)
					atomic_fetch_add(&mixups, 1);
		}
	}
	return NULL;
}

static void *
rush(void *arg)
{
	struct pd_result o;
	int i;

	(void)arg;
	pthread_barrier_wait(&start);
	for (i = 0; i < 1000; i++)
		if (pd_cache_get(cache, "hot.example", 11, 3, 95000, &o, NULL,
		    NULL) == PD_CACHE_REFRESH)
			atomic_fetch_add(&refreshes, 1);
	return NULL;
}

static void
run(void *(*fn)(void *))
{
	pthread_t t[THREADS];
	int i, made = 0;

	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, fn,
		    (void *)(uintptr_t)(i + 1)) == 0)
			made++;
	T_EQ_INT(made, THREADS, "created the threads");
	if (made != THREADS)
		exit(t_done());
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

int
main(void)
{
	struct pd_cache_cfg cfg = { 200, 0, 300, 60 };
	struct pd_result r;

	T_EQ_INT(pd_cache_new(&cfg, &cache), PD_OK, "cache made");
	run(hammer);
	T_EQ_INT(atomic_load(&mixups), 0,
	    "64 threads: no answer ever served for the wrong name");
	T_OK(atomic_load(&hits) > 1000, "the threads did hit the cache (%d)",
	    atomic_load(&hits));
	T_OK(pd_cache_count(cache) <= 200, "bound held under threads (%zu)",
	    pd_cache_count(cache));

	answer_of(1, &r);
	r.ttl = 100;
	pd_cache_put(cache, "hot.example", 11, 3, 0, &r, NULL, NULL);
	run(rush);
	T_EQ_INT(atomic_load(&refreshes), 1,
	    "64 threads x 1000 hits in the last tenth: one refresh");
	pd_cache_free(cache);
	return t_done();
}

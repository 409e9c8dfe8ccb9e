/*
 * bench_engine: pd_engine_lookup() on the hot path, no network.
 *
 *   build/bench/bench_engine [SECONDS_PER_POINT]
 *   build/bench/bench_engine --calls N [NAME]
 *
 * The second form makes N hits on one thread and nothing else, for
 * instruction counts: run it under `valgrind --tool=callgrind` with N and
 * with 0 and divide the difference of the totals by N.
 *
 * Cases (a policy written to a temporary directory):
 *   static hit    a `static` rule's name, answered from the thread cache:
 *                 the same code path as a cached `secure` answer
 *   system hit    a name no rule claims (the most common lookup of all):
 *                 the thread cache holds the "pass to libc" decision
 *   decide        the thread-cache miss path: 512 distinct static names
 *                 per thread, more than a thread cache holds, so each
 *                 lookup normalises, matches and decides
 * For each: per-call p50/p99 (TSC, calibrated against CLOCK_MONOTONIC,
 * every 8th call sampled) and total lookups/s at 1, 2, 8 and 64 threads.
 * Figures only; nothing is asserted (timings on a shared machine).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "resolver/engine.h"
#include "tests/tools/clock.h"

#define SAMPLES		(1 << 16)
#define DISTINCT	512

static double ns_per_tick;
static double seconds = 1.0;
static _Atomic int go;
static pthread_barrier_t ready;

struct job {
	const char	*name;		/* NULL: DISTINCT names */
	uint64_t	 ops;
	uint32_t	*samples;
	unsigned	 nsamples;
	int		 bad;
};

static void
calibrate(void)
{
	uint64_t t0 = pd_now_ns(), c0 = __rdtsc(), t1, c1;

	do
		t1 = pd_now_ns();
	while (t1 - t0 < 200000000u);
	c1 = __rdtsc();
	ns_per_tick = (double)(t1 - t0) / (double)(c1 - c0);
}

static void *
worker(void *arg)
{
	struct job *j = arg;
	struct pd_result *res = malloc(sizeof(*res));
	char names[DISTINCT][48];
	const char *n;
	uint64_t c0, c1, i = 0;
	unsigned k;

	for (k = 0; k < DISTINCT; k++)
		snprintf(names[k], sizeof(names[k]), "n%u.bench.test", k);
	j->samples = malloc(SAMPLES * sizeof(*j->samples));
	if (res == NULL || j->samples == NULL) {
		j->bad = 1;
		pthread_barrier_wait(&ready);
		return NULL;
	}
	/* Warm this thread's cache. */
	for (k = 0; k < DISTINCT; k++)
		pd_engine_lookup(j->name != NULL ? j->name : names[k], 3, res,
		    NULL);
	pthread_barrier_wait(&ready);
	while (!atomic_load_explicit(&go, memory_order_acquire))
		;
	while (atomic_load_explicit(&go, memory_order_relaxed) == 1) {
		n = j->name != NULL ? j->name : names[i % DISTINCT];
		if ((i & 7) == 0) {
			c0 = __rdtsc();
			pd_engine_lookup(n, 3, res, NULL);
			c1 = __rdtsc();
			if (j->nsamples < SAMPLES)
				j->samples[j->nsamples++] =
				    (uint32_t)(c1 - c0 > UINT32_MAX ?
				    UINT32_MAX : c1 - c0);
		} else
			pd_engine_lookup(n, 3, res, NULL);
		if (res->verdict == PD_VERDICT_REFUSED ||
		    res->verdict == PD_VERDICT_FAILED)
			j->bad = 1;
		i++;
	}
	j->ops = i;
	free(res);
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
point(const char *label, const char *name, int nthreads)
{
	pthread_t *t = calloc((size_t)nthreads, sizeof(*t));
	struct job *j = calloc((size_t)nthreads, sizeof(*j));
	uint32_t *all;
	uint64_t ops = 0, t0, t1;
	size_t n = 0, k;
	int i, bad = 0;

	if (t == NULL || j == NULL)
		exit(1);
	atomic_store(&go, 0);
	pthread_barrier_init(&ready, NULL, (unsigned)nthreads + 1);
	for (i = 0; i < nthreads; i++) {
		j[i].name = name;
		pthread_create(&t[i], NULL, worker, &j[i]);
	}
	pthread_barrier_wait(&ready);
	t0 = pd_now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	usleep((useconds_t)(seconds * 1e6));
	atomic_store(&go, 2);
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	t1 = pd_now_ns();
	pthread_barrier_destroy(&ready);
	for (i = 0; i < nthreads; i++) {
		ops += j[i].ops;
		n += j[i].nsamples;
		bad |= j[i].bad;
	}
	all = malloc((n + 1) * sizeof(*all));
	for (i = 0, k = 0; i < nthreads; i++) {
		memcpy(all + k, j[i].samples, j[i].nsamples * sizeof(*all));
		k += j[i].nsamples;
		free(j[i].samples);
	}
	qsort(all, n, sizeof(*all), cmp_u32);
	printf("%-12s %7d %10.0f %9.1f %9.1f%s\n", label, nthreads,
	    (double)ops / ((double)(t1 - t0) / 1e9),
	    n ? all[n / 2] * ns_per_tick : 0.0,
	    n ? all[n * 99 / 100] * ns_per_tick : 0.0,
	    bad ? "  (unexpected refusals!)" : "");
	fflush(stdout);
	free(all);
	free(t);
	free(j);
}

int
main(int argc, char **argv)
{
	char dir[] = "/tmp/pindns-bench.XXXXXX", path[256], log[256];
	struct pd_engine_cfg cfg;
	static const int threads[] = { 1, 2, 8, 64 };
	long calls = -1;
	FILE *f;
	size_t i;

	if (argc > 2 && strcmp(argv[1], "--calls") == 0)
		calls = strtol(argv[2], NULL, 10);
	else if (argc > 1)
		seconds = atof(argv[1]);
	if (seconds <= 0)
		seconds = 1.0;
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	snprintf(log, sizeof(log), "%s/audit.log", dir);
	if ((f = fopen(path, "w")) == NULL)
		return 1;
	fprintf(f, "version: 1\n"
	    "log:\n  target: file:%s\n  level: deny\n"
	    "default: system\n"
	    "rules:\n"
	    "  - name: local\n"
	    "    match: [dynamodb.local.test, \"*.bench.test\"]\n"
	    "    action: static\n"
	    "    addresses: [127.0.0.1, \"::1\"]\n", log);
	fclose(f);
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = path;
	if (pd_engine_init(&cfg) != 0)
		return 1;
	if (calls >= 0) {
		struct pd_result *r = malloc(sizeof(*r));
		const char *n = argc > 3 ? argv[3] : "dynamodb.local.test";

		if (r == NULL)
			return 1;
		pd_engine_lookup(n, 3, r, NULL);	/* warm */
		for (long c = 0; c < calls; c++)
			pd_engine_lookup(n, 3, r, NULL);
		printf("%ld calls: %s\n", calls, pd_verdict_str(r->verdict));
		free(r);
		goto out;
	}
	calibrate();
	printf("pd_engine_lookup, %.1f s per point, TSC %.3f ns/tick\n",
	    seconds, ns_per_tick);
	printf("%-12s %7s %10s %9s %9s\n", "case", "threads", "lookups/s",
	    "p50 ns", "p99 ns");
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		point("static hit", "dynamodb.local.test", threads[i]);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		point("system hit", "api.example.org", threads[i]);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		point("decide", NULL, threads[i]);
out:
	pd_engine_shutdown();
	unlink(path);
	unlink(log);
	rmdir(dir);
	return 0;
}

/*
 * plain_gai: time getaddrinfo + freeaddrinfo (or gethostbyname_r) in T
 * threads. Links libc only, so the same binary runs with and without
 * LD_PRELOAD=libpindns.so and the difference is the preload's.
 *
 *	plain_gai [-t THREADS] [-d SECONDS] [-s SERVICE] [-F FAMILY]
 *	    [-k gai|hostent|null] NAME
 *
 * Every call is timed on CLOCK_MONOTONIC (the clock's own cost is printed
 * as clock_ns and included in the figures). Prints one line:
 *   name=... threads=T calls=N ops_per_s=X p50_ns=A p90_ns=B p99_ns=C
 *   max_ns=D errors=E clock_ns=F
 * A failing call counts as an error and is still timed.
 */
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* 1 ns buckets up to 64 us; slower calls land in the last one. */
#define NBUCKET	65536

struct tstat {
	uint64_t	*hist;
	uint64_t	 calls;
	uint64_t	 errors;
	uint64_t	 max;
};

static const char *name, *service = "443";
static int family = AF_UNSPEC;
static int kind;		/* 0 gai, 1 hostent, 2 node NULL */
static atomic_int go, stop;

static inline uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int
one_call(void)
{
	struct addrinfo h, *res = NULL;
	struct hostent he, *r = NULL;
	char buf[1024];
	int rc, herr;

	if (kind == 1) {
		rc = gethostbyname_r(name, &he, buf, sizeof(buf), &r, &herr);
		return r == NULL ? -1 : rc;
	}
	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = SOCK_STREAM;
	if (kind == 2)
		h.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(kind == 2 ? NULL : name, service, &h, &res);
	if (rc == 0)
		freeaddrinfo(res);
	return rc;
}

static void *
worker(void *arg)
{
	struct tstat *st = arg;
	uint64_t t0, d;

	while (!atomic_load_explicit(&go, memory_order_acquire))
		;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		t0 = now_ns();
		if (one_call() != 0)
			st->errors++;
		d = now_ns() - t0;
		st->hist[d < NBUCKET ? d : NBUCKET - 1]++;
		if (d > st->max)
			st->max = d;
		st->calls++;
	}
	return NULL;
}

static uint64_t
pct(const uint64_t *hist, uint64_t total, double p)
{
	uint64_t want = (uint64_t)(p * (double)total), acc = 0;
	size_t i;

	for (i = 0; i < NBUCKET; i++) {
		acc += hist[i];
		if (acc > want)
			return i;
	}
	return NBUCKET - 1;
}

int
main(int argc, char **argv)
{
	unsigned nthreads = 1, i, j;
	double secs = 2.0;
	struct tstat *st;
	pthread_t *t;
	uint64_t *hist, calls = 0, errors = 0, max = 0, t0, t1, c0;
	int opt;

	while ((opt = getopt(argc, argv, "t:d:s:F:k:")) != -1) {
		switch (opt) {
		case 't': nthreads = (unsigned)atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 's': service = strcmp(optarg, "-") ? optarg : NULL; break;
		case 'F': family = atoi(optarg); break;
		case 'k':
			kind = strcmp(optarg, "hostent") == 0 ? 1 :
			    strcmp(optarg, "null") == 0 ? 2 : 0;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || nthreads == 0)
		goto usage;
	name = argv[optind];

	st = calloc(nthreads, sizeof(*st));
	t = calloc(nthreads, sizeof(*t));
	hist = calloc(NBUCKET, sizeof(*hist));
	if (st == NULL || t == NULL || hist == NULL)
		return 1;
	/* Warm up once (engine load, caches), outside the figures. */
	(void)one_call();
	c0 = now_ns();
	for (i = 0; i < 1000; i++)
		(void)now_ns();
	c0 = (now_ns() - c0) / 1000;

	for (i = 0; i < nthreads; i++) {
		if ((st[i].hist = calloc(NBUCKET, sizeof(uint64_t))) == NULL)
			return 1;
		if (pthread_create(&t[i], NULL, worker, &st[i]) != 0)
			return 1;
	}
	t0 = now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	usleep((useconds_t)(secs * 1e6));
	atomic_store(&stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	t1 = now_ns();
	for (i = 0; i < nthreads; i++) {
		for (j = 0; j < NBUCKET; j++)
			hist[j] += st[i].hist[j];
		calls += st[i].calls;
		errors += st[i].errors;
		if (st[i].max > max)
			max = st[i].max;
	}
	printf("name=%s kind=%s threads=%u calls=%llu ops_per_s=%.0f "
	    "p50_ns=%llu p90_ns=%llu p99_ns=%llu max_ns=%llu errors=%llu "
	    "clock_ns=%llu\n", kind == 2 ? "NULL" : name,
	    kind == 1 ? "hostent" : "gai", nthreads,
	    (unsigned long long)calls,
	    (double)calls * 1e9 / (double)(t1 - t0),
	    (unsigned long long)pct(hist, calls, 0.50),
	    (unsigned long long)pct(hist, calls, 0.90),
	    (unsigned long long)pct(hist, calls, 0.99),
	    (unsigned long long)max, (unsigned long long)errors,
	    (unsigned long long)c0);
	return errors != 0;
usage:
	fprintf(stderr, "usage: plain_gai [-t N] [-d SECS] [-s SERVICE|-] "
	    "[-F FAMILY] [-k gai|hostent|null] NAME\n");
	return 2;
}

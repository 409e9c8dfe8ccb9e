/*
 * plain_gai: the benchmark workload. T threads call
 * getaddrinfo(NAME, SERVICE, {AF_UNSPEC, SOCK_STREAM}) + freeaddrinfo for
 * a fixed duration or count, and the program prints one line of
 * key=value figures: ops/s and latency percentiles.
 *
 *	plain_gai [-t THREADS] [-d SECONDS | -c COUNT] [-w WARMUP] [-b BATCH]
 *	    [-s SERVICE] [-f unspec|inet|inet6] [-k gai|hostent|null]
 *	    [-o OFFSET] [-N NAMES] [-F] [-m EVERY] [-S SLOW_US] NAME
 *
 * It links libc only: it is the process the preload is loaded into, and
 * the same binary measures every path (files, a DNS daemon, pindns).
 *
 *  -t  threads (default 1)
 *  -d  run for SECONDS (default 2), or -c: COUNT calls per thread
 *  -w  WARMUP untimed calls per thread before the clock starts (default
 *      1), so a cached path is measured warm
 *  -b  time BATCH consecutive calls as one sample (default 1, see below)
 *  -k  the call: gai (default), hostent (gethostbyname_r with a 1 kB
 *      buffer, -f inet6 for gethostbyname2_r), null (getaddrinfo with
 *      node NULL and AI_PASSIVE: the pass-through cost of the preload)
 *  -o  NAME holding one "%u" asks a new name on every call: the %u is
 *      OFFSET + thread + i * THREADS, unique within the process
 *  -N  at most NAMES distinct names (the %u stays below OFFSET + NAMES,
 *      warm-up included): a thread whose next name is past the end stops
 *      early, and exhausted=1 is printed (the names exist only so far)
 *  -F  time the process's first call, alone, before anything else
 *      resolves (first_us=); with -c 0 nothing else is run
 *  -m  every EVERY calls of thread 0, print "mem calls=N rss_kb=K"
 *  -S  count the samples slower than SLOW_US (default 100: longer than a
 *      cache hit can take, shorter than any network round trip) as slow=
 *
 * Output (stdout, one line): threads batch secs ops errors ops_s p50_us
 * p90_us p99_us p999_us p9999_us max_us slow ovh_ns [first_us] rss_kb
 * hwm_kb. Exit 0, or 1 when any call failed (the first failure is
 * described on stderr), 2 on usage errors.
 *
 * How latency is measured. clock_gettime(CLOCK_MONOTONIC) costs about
 * 25 ns here (vDSO, TSC clock source), a tenth of a cached lookup, so
 * each sample is one clock read before and one after the calls; the
 * cost of that pair with an empty call in between (calibrated at start:
 * the median over 200,000 empty samples, printed as ovh_ns) is subtracted
 * from every sample. Samples go into a per-thread log-linear histogram
 * (64 sub-buckets per power of two: at most 1.6 % quantisation, no
 * allocation and no shared cache line on the hot path), merged at the
 * end. With -b BATCH > 1 a sample is the mean of BATCH calls (the
 * percentiles then describe batch means: p50 stays right, the tail is
 * smoothed) and the clock costs 1/BATCH per call. ops_s is completed
 * calls over the wall time of the timed phase, clock reads included.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "tests/tools/clock.h"

#define MAX_THREADS	1024
#define HOSTENT_BUF	1024

enum { KIND_GAI = 0, KIND_HOSTENT, KIND_NULL };
#define NAME_BUF	300
#define CALIB_SAMPLES	200000

/*
 * Log-linear histogram of nanoseconds: values below 128 exactly, then 64
 * buckets per power of two up to 2^47 ns (39 hours).
 */
#define H_SUB_BITS	6
#define H_SUB		(1u << H_SUB_BITS)
#define H_LINEAR	(2 * H_SUB)
#define H_TOP_EXP	47
#define H_BUCKETS	(H_LINEAR + (H_TOP_EXP - H_SUB_BITS) * H_SUB)

struct hist {
	uint64_t	n[H_BUCKETS];
	uint64_t	count;
	uint64_t	max;
};

struct worker {
	pthread_t	 tid;
	unsigned	 index;
	uint64_t	 ops;
	uint64_t	 errors;
	uint64_t	 t_end;		/* when it stopped (pd_now_ns) */
	struct hist	*h;
};

static struct {
	unsigned	 threads;
	double		 secs;
	long		 count;		/* per thread; -1: run for secs */
	long		 warmup;
	unsigned	 batch;
	const char	*service;
	int		 family;
	int		 kind;		/* KIND_* */
	unsigned	 offset;
	unsigned long	 names;		/* -N; 0: unlimited */
	int		 first;
	long		 mem_every;
	double		 slow_us;
	const char	*name;
	int		 distinct;	/* name holds a %u */
} opt = {
	.threads = 1, .secs = 2.0, .count = -1, .warmup = 1, .batch = 1,
	.service = "443", .family = AF_UNSPEC, .slow_us = 100,
};

static atomic_int	 stop;
static atomic_int	 exhausted;	/* some thread ran out of names */
static atomic_uint	 finished;	/* workers done */
static atomic_int	 reported;	/* first failure described */
static pthread_barrier_t start_line;
static uint64_t		 ovh_ns;	/* clock pair cost, subtracted */

static unsigned
h_index(uint64_t v)
{
	unsigned e;

	if (v < H_LINEAR)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* v in [2^e, 2^(e+1)) */
	if (e > H_TOP_EXP)
		return H_BUCKETS - 1;
	return H_LINEAR + (e - H_SUB_BITS - 1) * H_SUB +
	    (unsigned)((v >> (e - H_SUB_BITS)) & (H_SUB - 1));
}

/* The middle of bucket i, in ns. */
static double
h_value(unsigned i)
{
	unsigned e, sub;
	uint64_t lo, width;

	if (i < H_LINEAR)
		return i;
	e = (i - H_LINEAR) / H_SUB + H_SUB_BITS + 1;
	sub = (i - H_LINEAR) % H_SUB;
	width = (uint64_t)1 << (e - H_SUB_BITS);
	lo = ((uint64_t)1 << e) + sub * width;
	return (double)lo + (double)(width - 1) / 2.0;
}

static void
h_add(struct hist *h, uint64_t v, uint64_t weight)
{
	h->n[h_index(v)] += weight;
	h->count += weight;
	if (v > h->max)
		h->max = v;
}

static void
h_merge(struct hist *to, const struct hist *from)
{
	unsigned i;

	for (i = 0; i < H_BUCKETS; i++)
		to->n[i] += from->n[i];
	to->count += from->count;
	if (from->max > to->max)
		to->max = from->max;
}

/* The q-quantile (0 < q < 1) in ns, or 0 for an empty histogram. */
static double
h_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;
	unsigned i;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	for (i = 0; i < H_BUCKETS; i++) {
		seen += h->n[i];
		if (seen > rank)
			return h_value(i);
	}
	return (double)h->max;
}

/* How many samples were above v ns (to the bucket's resolution). */
static uint64_t
h_above(const struct hist *h, double v)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < H_BUCKETS; i++)
		if (h_value(i) > v)
			n += h->n[i];
	return n;
}

/* VmRSS or VmHWM of this process in kB, or -1. */
static long
status_kb(const char *key)
{
	char buf[4096], *p;
	size_t klen = strlen(key);
	ssize_t n;
	int fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, klen) == 0 && p[klen] == ':')
			return strtol(p + klen + 1, NULL, 10);
	}
	return -1;
}

static void
make_name(char *buf, unsigned long seq)
{
	unsigned n = opt.offset + (unsigned)seq;

	/* The format is the user's NAME, checked to hold one %u only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(buf, NAME_BUF, opt.name, n);
#pragma GCC diagnostic pop
}

/* gethostbyname_r (or 2_r): 0, or -1 with the failure described once. */
static int
one_hostent(const char *name)
{
	struct hostent he, *r = NULL;
	char buf[HOSTENT_BUF];
	int rc, herr = 0;

	if (opt.family == AF_INET6)
		rc = gethostbyname2_r(name, AF_INET6, &he, buf, sizeof(buf), &r,
		    &herr);
	else
		rc = gethostbyname_r(name, &he, buf, sizeof(buf), &r, &herr);
	if (r != NULL)
		return 0;
	if (atomic_exchange(&reported, 1) == 0)
		fprintf(stderr, "plain_gai: gethostbyname_r(%s): rc %d, "
		    "h_errno %d\n", name, rc, herr);
	return -1;
}

/*
 * One call as the workload makes it; 0 or the EAI_* code. Never inlined:
 * `valgrind --tool=callgrind --toggle-collect=one_call` counts exactly
 * the instructions of the calls (bench/run's callgrind phase).
 */
static int __attribute__((noinline))
one_call(const char *name)
{
	struct addrinfo hints, *res = NULL;
	int r;

	if (opt.kind == KIND_HOSTENT)
		return one_hostent(name);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = opt.family;
	hints.ai_socktype = SOCK_STREAM;
	if (opt.kind == KIND_NULL) {
		hints.ai_flags = AI_PASSIVE;
		name = NULL;
	}
	r = getaddrinfo(name, opt.service, &hints, &res);
	if (r == 0)
		freeaddrinfo(res);
	else if (atomic_exchange(&reported, 1) == 0)
		fprintf(stderr, "plain_gai: getaddrinfo(%s, %s): %s\n",
		    name != NULL ? name : "NULL", opt.service,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
	return r;
}

/*
 * The empty call the clock overhead is calibrated with: not inlined and
 * reached through a volatile pointer, so the loop around it is the same.
 */
static int __attribute__((noinline))
empty_call(const char *name)
{
	__asm__ volatile("" : : "r"(name) : "memory");
	return 0;
}

static uint64_t
calibrate(void)
{
	int (*volatile fn)(const char *) = empty_call;
	struct hist *h;
	uint64_t t0, t1, r;
	unsigned i;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return 0;
	for (i = 0; i < CALIB_SAMPLES; i++) {
		t0 = pd_now_ns();
		(void)fn(opt.name);
		t1 = pd_now_ns();
		h_add(h, t1 - t0, 1);
	}
	r = (uint64_t)h_quantile(h, 0.5);
	free(h);
	return r;
}

static void *
run(void *arg)
{
	struct worker *w = arg;
	char buf[NAME_BUF];
	const char *name = opt.name;
	unsigned long seq = w->index;	/* distinct-name sequence */
	uint64_t t0, t1, d;
	long i, done = 0;
	unsigned j;
	int err;

	for (i = 0; i < opt.warmup; i++) {
		if (opt.distinct) {
			if (opt.names != 0 && seq >= opt.names)
				break;
			make_name(buf, seq);
			seq += opt.threads;
			name = buf;
		}
		(void)one_call(name);
	}
	pthread_barrier_wait(&start_line);
	for (;;) {
		if (opt.count >= 0 ? done >= opt.count :
		    atomic_load_explicit(&stop, memory_order_relaxed))
			break;
		if (opt.distinct) {
			if (opt.names != 0 && seq >= opt.names) {
				atomic_store(&exhausted, 1);
				break;
			}
			make_name(buf, seq);
			seq += opt.threads;
			name = buf;
		}
		err = 0;
		t0 = pd_now_ns();
		for (j = 0; j < opt.batch; j++)
			err += one_call(name) != 0;
		t1 = pd_now_ns();
		d = t1 - t0;
		d = d > ovh_ns ? d - ovh_ns : 0;
		h_add(w->h, d / opt.batch, opt.batch);
		w->ops += opt.batch;
		done += opt.batch;
		w->errors += (unsigned)err;
		if (opt.mem_every > 0 && w->index == 0 &&
		    done % opt.mem_every == 0)
			printf("mem calls=%ld rss_kb=%ld hwm_kb=%ld\n", done,
			    status_kb("VmRSS"), status_kb("VmHWM"));
	}
	w->t_end = pd_now_ns();
	atomic_fetch_add(&finished, 1);
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: plain_gai [-t THREADS] [-d SECONDS | -c COUNT] "
	    "[-w WARMUP] [-b BATCH]\n"
	    "\t[-s SERVICE] [-f unspec|inet|inet6] [-k gai|hostent|null]\n"
	    "\t[-o OFFSET] [-N NAMES] [-F] [-m EVERY] [-S SLOW_US] NAME\n");
	exit(2);
}

static long
num(const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "plain_gai: bad number %s (%ld..%ld)\n", s, lo,
		    hi);
		usage();
	}
	return v;
}

/* NAME may hold one %u and no other conversion. */
static int
check_format(const char *s)
{
	const char *p;
	int n = 0;

	for (p = s; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 'u')
			return -1;
		n++;
	}
	return n <= 1 ? n : -1;
}

static void
parse_args(int argc, char **argv)
{
	char *end;
	int c;

	while ((c = getopt(argc, argv, "t:d:c:w:b:s:f:k:o:N:Fm:S:")) != -1) {
		switch (c) {
		case 't':
			opt.threads = (unsigned)num(optarg, 1, MAX_THREADS);
			break;
		case 'd':
			errno = 0;
			opt.secs = strtod(optarg, &end);
			if (errno != 0 || *end != '\0' || !(opt.secs > 0) ||
			    opt.secs > 86400)
				usage();
			break;
		case 'c':
			opt.count = num(optarg, 0, LONG_MAX / 2);
			break;
		case 'w':
			opt.warmup = num(optarg, 0, LONG_MAX / 2);
			break;
		case 'b':
			opt.batch = (unsigned)num(optarg, 1, 1000000);
			break;
		case 's':
			opt.service = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "unspec") == 0)
				opt.family = AF_UNSPEC;
			else if (strcmp(optarg, "inet") == 0)
				opt.family = AF_INET;
			else if (strcmp(optarg, "inet6") == 0)
				opt.family = AF_INET6;
			else
				usage();
			break;
		case 'k':
			if (strcmp(optarg, "gai") == 0)
				opt.kind = KIND_GAI;
			else if (strcmp(optarg, "hostent") == 0)
				opt.kind = KIND_HOSTENT;
			else if (strcmp(optarg, "null") == 0)
				opt.kind = KIND_NULL;
			else
				usage();
			break;
		case 'o':
			opt.offset = (unsigned)num(optarg, 0, UINT_MAX);
			break;
		case 'N':
			opt.names = (unsigned long)num(optarg, 1, UINT_MAX);
			break;
		case 'F':
			opt.first = 1;
			break;
		case 'm':
			opt.mem_every = num(optarg, 1, LONG_MAX / 2);
			break;
		case 'S':
			opt.slow_us = (double)num(optarg, 0, 1000000000);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1)
		usage();
	opt.name = argv[optind];
	if ((opt.distinct = check_format(opt.name)) < 0) {
		fprintf(stderr, "plain_gai: NAME may hold one %%u and no other "
		    "%% conversion\n");
		usage();
	}
	if (opt.count > 0 && opt.count % opt.batch != 0) {
		fprintf(stderr,
		    "plain_gai: COUNT must be a multiple of BATCH\n");
		usage();
	}
}

int
main(int argc, char **argv)
{
	struct worker *w;
	struct hist *all;
	struct timespec nap;
	char buf[NAME_BUF];
	uint64_t t0, t1, deadline, ops = 0, errors = 0, first_ns = 0;
	unsigned i;
	int first_err = 0;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	ovh_ns = calibrate();
	if (opt.first) {
		/*
		 * A name no worker asks: beyond every sequence, or with -N
		 * the last one, kept from the workers.
		 */
		if (opt.distinct && opt.names > 1)
			make_name(buf, --opt.names);
		else if (opt.distinct)
			make_name(buf, UINT_MAX - opt.offset);
		t0 = pd_now_ns();
		first_err = one_call(opt.distinct ? buf : opt.name);
		t1 = pd_now_ns();
		first_ns = t1 - t0 > ovh_ns ? t1 - t0 - ovh_ns : 0;
		if (opt.count == 0) {
			printf("threads=0 ops=1 errors=%d first_us=%.3f "
			    "rss_kb=%ld hwm_kb=%ld\n", first_err != 0,
			    (double)first_ns / 1e3, status_kb("VmRSS"),
			    status_kb("VmHWM"));
			return first_err != 0;
		}
	}

	if ((w = calloc(opt.threads, sizeof(*w))) == NULL ||
	    (all = calloc(1, sizeof(*all))) == NULL) {
		perror("plain_gai: calloc");
		return 1;
	}
	if (pthread_barrier_init(&start_line, NULL, opt.threads + 1) != 0) {
		perror("plain_gai: pthread_barrier_init");
		return 1;
	}
	for (i = 0; i < opt.threads; i++) {
		w[i].index = i;
		if ((w[i].h = calloc(1, sizeof(*w[i].h))) == NULL) {
			perror("plain_gai: calloc");
			return 1;
		}
		errno = pthread_create(&w[i].tid, NULL, run, &w[i]);
		if (errno != 0) {
			perror("plain_gai: pthread_create");
			return 1;
		}
	}
	/* Before the release: a worker may finish before this thread runs. */
	t0 = pd_now_ns();
	pthread_barrier_wait(&start_line);
	if (opt.count < 0) {
		/*
		 * Until the deadline, or until every worker has stopped on its
		 * own (out of names): 10 ms naps, off the workers' cores.
		 */
		deadline = t0 + (uint64_t)(opt.secs * 1e9);
		while (atomic_load(&finished) < opt.threads &&
		    (t1 = pd_now_ns()) < deadline) {
			nap.tv_sec = 0;
			nap.tv_nsec = deadline - t1 < 10000000 ?
			    (long)(deadline - t1) : 10000000;
			nanosleep(&nap, NULL);
		}
		atomic_store(&stop, 1);
	}
	/* The timed phase ends when the last worker stopped. */
	t1 = t0 + 1;
	for (i = 0; i < opt.threads; i++) {
		pthread_join(w[i].tid, NULL);
		h_merge(all, w[i].h);
		ops += w[i].ops;
		errors += w[i].errors;
		if (w[i].t_end > t1)
			t1 = w[i].t_end;
		free(w[i].h);
	}

	printf("threads=%u batch=%u secs=%.3f ops=%llu errors=%llu "
	    "ops_s=%.0f p50_us=%.3f p90_us=%.3f p99_us=%.3f p999_us=%.3f "
	    "p9999_us=%.3f max_us=%.3f slow=%llu ovh_ns=%llu", opt.threads,
	    opt.batch, (double)(t1 - t0) / 1e9, (unsigned long long)ops,
	    (unsigned long long)errors,
	    (double)ops / ((double)(t1 - t0) / 1e9),
	    h_quantile(all, 0.5) / 1e3, h_quantile(all, 0.9) / 1e3,
	    h_quantile(all, 0.99) / 1e3, h_quantile(all, 0.999) / 1e3,
	    h_quantile(all, 0.9999) / 1e3, (double)all->max / 1e3,
	    (unsigned long long)h_above(all, opt.slow_us * 1e3),
	    (unsigned long long)ovh_ns);
	if (opt.first)
		printf(" first_us=%.3f", (double)first_ns / 1e3);
	if (atomic_load(&exhausted))
		printf(" exhausted=1");
	printf(" rss_kb=%ld hwm_kb=%ld\n", status_kb("VmRSS"),
	    status_kb("VmHWM"));
	free(all);
	free(w);
	return errors != 0 || first_err != 0;
}

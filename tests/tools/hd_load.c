/*
 * hd_load: many threads resolving a mix of names for a while, every
 * answer checked, with the process's memory and descriptors measured
 * after warm-up and at the end. Links libc only: it runs under the
 * preload (the 64-thread mixed load of the hardening issue).
 *
 *	hd_load [-t THREADS] [-d SECONDS] [-w WARMUP] [-m MAX_RSS_GROWTH_KB]
 *	    [-f MAX_FD_GROWTH] [-l MAX_MS] CASE...
 *
 * CASE is NAME=ok:ADDR,ADDR... (getaddrinfo(NAME, "443", AF_UNSPEC,
 * SOCK_STREAM) must succeed with exactly that set of addresses) or
 * NAME=EAI_xxx (must fail with that code: EAI_FAIL, EAI_NONAME,
 * EAI_NODATA, EAI_AGAIN). A "%u" in NAME is replaced by a number unique
 * to each lookup (cache misses). Threads cycle through the cases, each
 * from its own offset, until SECONDS (default 5) have passed.
 *
 * Prints TAP lines: no wrong answer (a wrong answer or code is printed
 * with what was expected, the first 10 of them), per case count, the
 * slowest lookup under MAX_MS (default 10000), RSS and open descriptors
 * after WARMUP seconds (default 1) and at the end, growth within the
 * bounds (defaults 8192 kB, 4 descriptors). Figures on "# " lines:
 * lookups, lookups/s, rss_kb, fds.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
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

#define MAXCASES	32
#define MAXADDRS	16
#define MAXTHREADS	256
#define MAXREPORT	10

struct lcase {
	char		name[300];
	int		eai;		/* expected code; 0: answer */
	unsigned	naddrs;
	char		addrs[MAXADDRS][INET6_ADDRSTRLEN];
	atomic_ulong	done, wrong;
};

static struct lcase cases[MAXCASES];
static unsigned ncases;
static atomic_ulong serial, total, wrong_total, reported;
static atomic_ullong slowest_ns;
static atomic_int stop;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int failed;

static const struct {
	const char	*s;
	int		 v;
} eais[] = {
	{ "EAI_FAIL", EAI_FAIL }, { "EAI_NONAME", EAI_NONAME },
	{ "EAI_NODATA", EAI_NODATA }, { "EAI_AGAIN", EAI_AGAIN },
	{ "EAI_MEMORY", EAI_MEMORY }, { "EAI_SYSTEM", EAI_SYSTEM },
	{ "EAI_ADDRFAMILY", EAI_ADDRFAMILY },
};

static const char *
eai_str(int v, char *buf, size_t len)
{
	size_t i;

	if (v == 0)
		return "0";
	for (i = 0; i < sizeof(eais) / sizeof(eais[0]); i++)
		if (eais[i].v == v)
			return eais[i].s;
	snprintf(buf, len, "EAI(%d)", v);
	return buf;
}

static int
parse_case(const char *arg, struct lcase *c)
{
	const char *eq = strrchr(arg, '=');
	char buf[1024], *tok, *save;
	size_t i;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(c->name))
		return -1;
	memcpy(c->name, arg, (size_t)(eq - arg));
	c->name[eq - arg] = '\0';
	eq++;
	if (strncmp(eq, "ok:", 3) == 0) {
		snprintf(buf, sizeof(buf), "%s", eq + 3);
		for (tok = strtok_r(buf, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save)) {
			if (c->naddrs == MAXADDRS)
				return -1;
			snprintf(c->addrs[c->naddrs++], INET6_ADDRSTRLEN, "%s",
			    tok);
		}
		return c->naddrs > 0 ? 0 : -1;
	}
	for (i = 0; i < sizeof(eais) / sizeof(eais[0]); i++)
		if (strcmp(eq, eais[i].s) == 0) {
			c->eai = eais[i].v;
			return 0;
		}
	return -1;
}

/* Does the answer list hold exactly the expected set? "" if so. */
static void
compare(const struct lcase *c, const struct addrinfo *res, char *why,
    size_t len)
{
	char got[MAXADDRS * 2][INET6_ADDRSTRLEN];
	unsigned ngot = 0, i, j;
	const struct addrinfo *ai;
	size_t off = 0;

	why[0] = '\0';
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		const void *a;

		if (ai->ai_family == AF_INET)
			a = &((const struct sockaddr_in *)
			    (const void *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((const struct sockaddr_in6 *)
			    (const void *)ai->ai_addr)->sin6_addr;
		else {
			snprintf(why, len, "family %d", ai->ai_family);
			return;
		}
		if (ngot == MAXADDRS * 2) {
			snprintf(why, len, "more than %d addresses",
			    MAXADDRS * 2);
			return;
		}
		inet_ntop(ai->ai_family, a, got[ngot++], INET6_ADDRSTRLEN);
	}
	for (i = 0; i < ngot; i++) {
		for (j = 0; j < c->naddrs; j++)
			if (strcmp(got[i], c->addrs[j]) == 0)
				break;
		if (j == c->naddrs)
			goto bad;
	}
	for (j = 0; j < c->naddrs; j++) {
		for (i = 0; i < ngot; i++)
			if (strcmp(got[i], c->addrs[j]) == 0)
				break;
		if (i == ngot)
			goto bad;
	}
	return;
bad:
	off = (size_t)snprintf(why, len, "addresses");
	for (i = 0; i < ngot && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, " %s", got[i]);
}

static void
one(struct lcase *c)
{
	struct addrinfo hints, *res = NULL;
	char name[340], why[600], b1[32], b2[32];
	uint64_t t0, dt;
	unsigned long long prev;
	int rc;

	if (strstr(c->name, "%u") != NULL) {
		unsigned long k = atomic_fetch_add(&serial, 1);
		const char *p = strstr(c->name, "%u");

		snprintf(name, sizeof(name), "%.*s%lu%s", (int)(p - c->name),
		    c->name, k, p + 2);
	} else
		snprintf(name, sizeof(name), "%s", c->name);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	t0 = pd_now_ns();
	rc = getaddrinfo(name, "443", &hints, &res);
	dt = pd_now_ns() - t0;
	prev = atomic_load(&slowest_ns);
	while (dt > prev && !atomic_compare_exchange_weak(&slowest_ns, &prev,
	    dt))
		;
	why[0] = '\0';
	if (rc != c->eai)
		snprintf(why, sizeof(why), "code %s",
		    eai_str(rc, b1, sizeof(b1)));
	else if (rc == 0)
		compare(c, res, why, sizeof(why));
	if (rc == 0)
		freeaddrinfo(res);
	atomic_fetch_add(&c->done, 1);
	atomic_fetch_add(&total, 1);
	if (why[0] == '\0')
		return;
	atomic_fetch_add(&c->wrong, 1);
	atomic_fetch_add(&wrong_total, 1);
	if (atomic_fetch_add(&reported, 1) < MAXREPORT) {
		pthread_mutex_lock(&out_lock);
		printf("# WRONG %s: expected %s", name,
		    eai_str(c->eai, b2, sizeof(b2)));
		for (unsigned i = 0; c->eai == 0 && i < c->naddrs; i++)
			printf(" %s", c->addrs[i]);
		printf(", got %s\n", why);
		fflush(stdout);
		pthread_mutex_unlock(&out_lock);
	}
}

static void *
worker(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	while (!atomic_load(&stop))
		one(&cases[i++ % ncases]);
	return NULL;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static int
nfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the DIR's own */
}

static void
check(int pass, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
check(int pass, const char *fmt, ...)
{
	va_list ap;

	printf(pass ? "ok - " : "not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass)
		failed = 1;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
main(int argc, char **argv)
{
	pthread_t tids[MAXTHREADS];
	unsigned nthreads = 64, i;
	double secs = 5, warm = 1;
	long max_rss = 8192, max_ms = 10000, rss0, rss1;
	int max_fd = 4, fd0, fd1, opt;
	uint64_t t0, el;

	while ((opt = getopt(argc, argv, "t:d:w:m:f:l:")) != -1) {
		switch (opt) {
		case 't': nthreads = (unsigned)atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'm': max_rss = atol(optarg); break;
		case 'f': max_fd = atoi(optarg); break;
		case 'l': max_ms = atol(optarg); break;
		default: goto usage;
		}
	}
	if (nthreads == 0 || nthreads > MAXTHREADS || optind == argc ||
	    argc - optind > MAXCASES || secs <= 0 || warm >= secs)
		goto usage;
	for (i = 0; (int)i < argc - optind; i++)
		if (parse_case(argv[optind + i], &cases[ncases++]) != 0) {
			fprintf(stderr, "hd_load: bad case %s\n",
			    argv[optind + i]);
			goto usage;
		}

	t0 = pd_now_ns();
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&tids[i], NULL, worker,
		    (void *)(uintptr_t)i) != 0) {
			fprintf(stderr, "hd_load: pthread_create failed\n");
			return 1;
		}
	sleep_ms((long)(warm * 1000));
	rss0 = rss_kb();
	fd0 = nfds();
	sleep_ms((long)((secs - warm) * 1000));
	atomic_store(&stop, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	el = pd_now_ns() - t0;
	rss1 = rss_kb();
	fd1 = nfds();

	printf("# threads %u, %.1f s, lookups %lu, %.0f lookups/s\n",
	    nthreads, el / 1e9, atomic_load(&total),
	    atomic_load(&total) / (el / 1e9));
	printf("# rss_kb after %.0f s warm-up %ld, at end %ld (%+ld)\n", warm,
	    rss0, rss1, rss1 - rss0);
	printf("# fds after warm-up %d, at end %d\n", fd0, fd1);
	printf("# slowest lookup %.1f ms\n", atomic_load(&slowest_ns) / 1e6);
	for (i = 0; i < ncases; i++) {
		unsigned long d = atomic_load(&cases[i].done);
		unsigned long w = atomic_load(&cases[i].wrong);

		check(d > 0 && w == 0, "%s: %lu lookups, %lu wrong",
		    cases[i].name, d, w);
	}
	check(atomic_load(&wrong_total) == 0, "no wrong answer in %lu lookups",
	    atomic_load(&total));
	check(atomic_load(&slowest_ns) / 1000000 <= (uint64_t)max_ms,
	    "slowest lookup %.1f ms <= %ld ms",
	    atomic_load(&slowest_ns) / 1e6, max_ms);
	check(rss0 > 0 && rss1 - rss0 <= max_rss,
	    "RSS flat after warm-up: %ld -> %ld kB (growth <= %ld kB)", rss0,
	    rss1, max_rss);
	check(fd0 >= 0 && fd1 - fd0 <= max_fd,
	    "descriptors flat: %d -> %d (growth <= %d)", fd0, fd1, max_fd);
	fflush(stdout);
	return failed;
usage:
	fprintf(stderr, "usage: hd_load [-t THREADS] [-d SECONDS] [-w WARMUP] "
	    "[-m MAX_RSS_GROWTH_KB] [-f MAX_FD_GROWTH] [-l MAX_MS] "
	    "NAME=ok:ADDR,...|NAME=EAI_xxx...\n");
	return 2;
}

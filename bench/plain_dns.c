/*
 * plain_dns: what a program that sends DNS itself pays (SPEC §4.1, last
 * row), libc only, run with and without the preload.
 *
 *	plain_dns -k res [-d SECONDS] NAME
 *	    glibc's res_query(NAME, IN, A) on resolv.conf's server: the
 *	    baseline, glibc getting a cache hit from a local unbound
 *	plain_dns -k udp -s SERVER [-d SECONDS] NAME
 *	    a c-ares-like client: one UDP socket connected to SERVER:53, per
 *	    question a query, send, poll, recv with the ID checked
 *	plain_dns -k calls [-d SECONDS]
 *	    socket calls that never carry DNS (connect, sendto, recvfrom,
 *	    recvmsg, getpeername on a descriptor that is not open, to port
 *	    9): the interposed calls' cost beside libc's
 *
 * One line of key=value figures: per question us_p50, us_p90, us_p99,
 * us_mean
 * (res, udp), or ns per call of each socket call (calls).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/tools/clock.h"

#define MAXS	1000000

static double secs = 2;

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void
report(const char *kind, double *v, size_t n, unsigned long errors)
{
	double sum = 0;
	size_t i;

	if (n == 0) {
		printf("kind=%s calls=0 errors=%lu\n", kind, errors);
		return;
	}
	for (i = 0; i < n; i++)
		sum += v[i];
	qsort(v, n, sizeof(v[0]), cmp);
	printf("kind=%s calls=%zu errors=%lu us_p50=%.2f us_p90=%.2f "
	    "us_p99=%.2f us_mean=%.2f\n", kind, n, errors, v[n / 2],
	    v[n * 9 / 10], v[n * 99 / 100], sum / (double)n);
}

static int
run_res(const char *name)
{
	static double v[MAXS];
	unsigned char ans[4096];
	unsigned long errors = 0;
	uint64_t end, t;
	size_t n = 0;
	int i;

	for (i = 0; i < 100; i++)	/* warm: the cache and the socket */
		(void)res_query(name, C_IN, T_A, ans, sizeof(ans));
	end = pd_now_ns() + (uint64_t)(secs * 1e9);
	while ((t = pd_now_ns()) < end && n < MAXS) {
		if (res_query(name, C_IN, T_A, ans, sizeof(ans)) < 0)
			errors++;
		v[n++] = (double)(pd_now_ns() - t) / 1e3;
	}
	report("res", v, n, errors);
	return errors != 0;
}

static int
ask(int fd, const char *name)
{
	unsigned char q[512], m[4096];
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ql = res_mkquery(QUERY, name, C_IN, T_A, NULL, 0, NULL, q,
	    sizeof(q));
	ssize_t n;

	if (ql < 0 || send(fd, q, (size_t)ql, 0) != ql ||
	    poll(&p, 1, 2000) != 1 ||
	    (n = recv(fd, m, sizeof(m), 0)) < 12 || memcmp(q, m, 2) != 0)
		return -1;
	return 0;
}

static int
run_udp(const char *server, const char *name)
{
	static double v[MAXS];
	struct sockaddr_in sa;
	unsigned long errors = 0;
	uint64_t end, t;
	size_t n = 0;
	int fd, i;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(53);
	if (server == NULL || inet_pton(AF_INET, server, &sa.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr, "plain_dns: no socket to %s\n",
		    server ? server : "(none)");
		return 1;
	}
	for (i = 0; i < 100; i++)
		(void)ask(fd, name);
	end = pd_now_ns() + (uint64_t)(secs * 1e9);
	while ((t = pd_now_ns()) < end && n < MAXS) {
		if (ask(fd, name) != 0)
			errors++;
		v[n++] = (double)(pd_now_ns() - t) / 1e3;
	}
	report("udp", v, n, errors);
	return errors != 0;
}

/* ns per call of f over a slice of the run, the best of 5 slices. */
#define BEST(expr, out) do {						\
	double best = 1e18;						\
	for (int s_ = 0; s_ < 5; s_++) {				\
		uint64_t t0_ = pd_now_ns();				\
		for (int i_ = 0; i_ < iters; i_++)			\
			(void)(expr);					\
		double d_ = (double)(pd_now_ns() - t0_) / iters;	\
		if (d_ < best)						\
			best = d_;					\
	}								\
	(out) = best;							\
} while (0)

static int
run_calls(void)
{
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	struct msghdr mh;
	socklen_t len;
	char b[1];
	int iters = (int)(secs * 1e6 / 5 / 5 / 0.3);	/* ~0.3 us a call */
	double c, st, rf, rm, gp;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(9);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&mh, 0, sizeof(mh));
	BEST(connect(-1, (struct sockaddr *)&sa, sizeof(sa)), c);
	BEST(sendto(-1, b, 1, 0, (struct sockaddr *)&sa, sizeof(sa)), st);
	BEST((len = sizeof(ss), recvfrom(-1, b, 1, 0, (struct sockaddr *)&ss,
	    &len)), rf);
	BEST(recvmsg(-1, &mh, 0), rm);
	BEST((len = sizeof(ss), getpeername(-1, (struct sockaddr *)&ss, &len)),
	    gp);
	printf("kind=calls errors=0 ns_connect=%.1f ns_sendto=%.1f "
	    "ns_recvfrom=%.1f ns_recvmsg=%.1f ns_getpeername=%.1f\n", c, st, rf,
	    rm, gp);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *kind = "res", *server = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "k:s:d:")) != -1)
		switch (ch) {
		case 'k': kind = optarg; break;
		case 's': server = optarg; break;
		case 'd': secs = atof(optarg); break;
		default: return 2;
		}
	if (strcmp(kind, "calls") == 0)
		return run_calls();
	if (optind >= argc) {
		fprintf(stderr, "usage: plain_dns -k res|udp|calls [-s SERVER] "
		    "[-d SECONDS] NAME\n");
		return 2;
	}
	if (strcmp(kind, "udp") == 0)
		return run_udp(server, argv[optind]);
	return run_res(argv[optind]);
}

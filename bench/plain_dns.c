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
 *	plain_dns -k cg [-n COUNT]
 *	    for callgrind (--toggle-collect='cg_*'): COUNT rounds of
 *	    connect, send, sendto, recvfrom, recvmsg, getpeername on real
 *	    loopback UDP sockets, port 9 and an ephemeral one, no DNS; each
 *	    call in a function of its own (cg_send, ...), after a warm-up
 *	    outside them, so callgrind's inclusive count over COUNT is the
 *	    instructions of one call, libc's and the preload's hook
 *	plain_dns -k hook -l LIBPINDNS [-d SECONDS]
 *	    the preload's hooks (dlopen'ed, called by address) beside libc's
 *	    functions in the same process, alternating slices of 1000 calls
 *	    on a descriptor that is not open: ns per call of each, the best
 *	    slice of each side, and their difference (what a process that
 *	    never sends DNS pays per call)
 *
 * One line of key=value figures: per question us_p50, us_p90, us_p99,
 * us_mean (res, udp), or ns per call of each socket call (hook).
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dlfcn.h>
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

/* One call each, out of line: callgrind counts what runs inside. */
#define CG __attribute__((noinline, used))
CG int cg_connect(int fd, const struct sockaddr_in *sa);
CG ssize_t cg_send(int fd, const char *b);
CG ssize_t cg_sendto(int fd, const char *b, const struct sockaddr_in *sa);
CG ssize_t cg_recvfrom(int fd, char *b);
CG ssize_t cg_recvmsg(int fd, struct msghdr *mh);
CG int cg_getpeername(int fd);

CG int
cg_connect(int fd, const struct sockaddr_in *sa)
{
	return connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
}

CG ssize_t
cg_send(int fd, const char *b)
{
	return send(fd, b, 1, 0);
}

CG ssize_t
cg_sendto(int fd, const char *b, const struct sockaddr_in *sa)
{
	return sendto(fd, b, 1, 0, (const struct sockaddr *)sa, sizeof(*sa));
}

CG ssize_t
cg_recvfrom(int fd, char *b)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return recvfrom(fd, b, 1, MSG_DONTWAIT, (struct sockaddr *)&ss, &len);
}

CG ssize_t
cg_recvmsg(int fd, struct msghdr *mh)
{
	return recvmsg(fd, mh, MSG_DONTWAIT);
}

CG int
cg_getpeername(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getpeername(fd, (struct sockaddr *)&ss, &len);
}

static int
run_cg(long count)
{
	struct sockaddr_in self, nine;
	struct msghdr mh;
	struct iovec iov;
	socklen_t len = sizeof(self);
	char b[1] = { 0 };
	long i;
	int r, s;

	memset(&self, 0, sizeof(self));
	self.sin_family = AF_INET;
	self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	nine = self;
	nine.sin_port = htons(9);
	if ((r = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    (s = socket(AF_INET, SOCK_DGRAM, 0)) < 0 ||
	    bind(r, (struct sockaddr *)&self, sizeof(self)) != 0 ||
	    getsockname(r, (struct sockaddr *)&self, &len) != 0) {
		perror("plain_dns: socket");
		return 1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	/* Warm-up outside the cg_ functions: the hooks bind libc's. */
	(void)connect(s, (struct sockaddr *)&self, sizeof(self));
	(void)send(s, b, 1, 0);
	(void)sendto(s, b, 1, 0, (struct sockaddr *)&self, sizeof(self));
	(void)recvfrom(r, b, 1, MSG_DONTWAIT, NULL, NULL);
	(void)recvmsg(r, &mh, MSG_DONTWAIT);
	(void)getpeername(s, (struct sockaddr *)&nine, &len);
	for (i = 0; i < count; i++) {
		(void)cg_connect(s, &self);
		(void)cg_send(s, b);
		(void)cg_sendto(s, b, &self);
		(void)cg_recvfrom(r, b);
		(void)cg_recvmsg(r, &mh);
		(void)cg_getpeername(s);
		(void)cg_sendto(r, b, &nine);
	}
	printf("kind=cg rounds=%ld errors=0\n", count);
	return 0;
}

/* One slice of 1000 calls of expression e: ns per call. */
#define SLICE(e) __extension__({					\
	uint64_t t0_ = pd_now_ns();					\
	for (int i_ = 0; i_ < 1000; i_++)				\
		(void)(e);						\
	(double)(pd_now_ns() - t0_) / 1000;				\
})

static int
run_hook(const char *lib)
{
	typedef ssize_t sendto_t(int, const void *, size_t, int,
	    const struct sockaddr *, socklen_t);
	typedef ssize_t send_t(int, const void *, size_t, int);
	typedef ssize_t recvfrom_t(int, void *, size_t, int, struct sockaddr *,
	    socklen_t *);
	typedef ssize_t recvmsg_t(int, struct msghdr *, int);
	typedef int connect_t(int, const struct sockaddr *, socklen_t);
	typedef int getpeername_t(int, struct sockaddr *, socklen_t *);
	static const char *names[] = { "connect", "send", "sendto",
	    "recvfrom", "recvmsg", "getpeername" };
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL), *hk[6];
	struct sockaddr_in sa;
	struct sockaddr_storage ss;
	struct msghdr mh;
	socklen_t len;
	double best[6][2], d, worst = 0;
	uint64_t end;
	char b[1];
	int k, side;

	if (h == NULL) {
		fprintf(stderr, "plain_dns: %s\n", dlerror());
		return 1;
	}
	for (k = 0; k < 6; k++) {
		if ((hk[k] = dlsym(h, names[k])) == NULL)
			return 1;
		best[k][0] = best[k][1] = 1e18;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(9);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(&mh, 0, sizeof(mh));
	end = pd_now_ns() + (uint64_t)(secs * 1e9);
	while (pd_now_ns() < end)
		for (k = 0; k < 6; k++)
			for (side = 0; side < 2; side++) {
				len = sizeof(ss);
				switch (k) {
				case 0: d = SLICE((side ? (connect_t *)hk[k] :
				    connect)(-1, (struct sockaddr *)&sa,
				    sizeof(sa))); break;
				case 1: d = SLICE((side ? (send_t *)hk[k] :
				    send)(-1, b, 1, 0)); break;
				case 2: d = SLICE((side ? (sendto_t *)hk[k] :
				    sendto)(-1, b, 1, 0, (struct sockaddr *)&sa,
				    sizeof(sa))); break;
				case 3: d = SLICE((side ? (recvfrom_t *)hk[k] :
				    recvfrom)(-1, b, 1, 0,
				    (struct sockaddr *)&ss, &len)); break;
				case 4: d = SLICE((side ? (recvmsg_t *)hk[k] :
				    recvmsg)(-1, &mh, 0)); break;
				default: d = SLICE((side ? (getpeername_t *)
				    hk[k] : getpeername)(-1,
				    (struct sockaddr *)&ss, &len)); break;
				}
				if (d < best[k][side])
					best[k][side] = d;
			}
	printf("kind=hook errors=0");
	for (k = 0; k < 6; k++) {
		d = best[k][1] - best[k][0];
		printf(" ns_%s=%.1f/%.1f/%+.1f", names[k], best[k][0],
		    best[k][1], d);
		if (d > worst)
			worst = d;
	}
	printf(" ns_worst=%+.1f\n", worst);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *kind = "res", *server = NULL, *lib = NULL;
	long count = 10000;
	int ch;

	while ((ch = getopt(argc, argv, "k:s:d:n:l:")) != -1)
		switch (ch) {
		case 'k': kind = optarg; break;
		case 's': server = optarg; break;
		case 'd': secs = atof(optarg); break;
		case 'n': count = atol(optarg); break;
		case 'l': lib = optarg; break;
		default: return 2;
		}
	if (strcmp(kind, "cg") == 0)
		return run_cg(count);
	if (strcmp(kind, "hook") == 0 && lib != NULL)
		return run_hook(lib);
	if (optind >= argc) {
		fprintf(stderr, "usage: plain_dns -k res|udp|cg|hook "
		    "[-s SERVER] [-d SECONDS] [-n COUNT] [-l LIB] NAME\n");
		return 2;
	}
	if (strcmp(kind, "udp") == 0)
		return run_udp(server, argv[optind]);
	return run_res(argv[optind]);
}

/*
 * hd_gai: one process, a sequence of getaddrinfo calls, one result line
 * each, for the fault-injection tests (the process must survive every
 * fault and recover without a restart). Links libc only: it runs under
 * the preload.
 *
 *	hd_gai [-0] [-i] [-F FREE] [-r REPEAT] [NAME...]  names from the
 *	                                    arguments, or one per line on stdin
 *	                                    (-0: each ended by a NUL byte)
 *
 * Each NAME is resolved with getaddrinfo(NAME, "443", {AF_UNSPEC,
 * SOCK_STREAM}); the line printed is
 *	NAME rc=CODE ms=MILLISECONDS addrs=A,B,...
 * with CODE 0 or the EAI_ name, addresses in the order returned. A name
 * "-" on stdin prints "ready" (a synchronisation point for a driver).
 * A line "!close-spare" closes the descriptors taken by -F; "!rss"
 * prints "rss_kb N fds N"; "!bench NAME COUNT" resolves NAME COUNT times
 * and prints "bench NAME median_us X p99_us Y wrong W" (W: results that
 * differ from the first).
 * -F FREE: before the lookups, lower RLIMIT_NOFILE to 512 if it is
 * higher, then open /dev/null until only FREE descriptors remain below
 * it (descriptor exhaustion).
 * -i: AI_IDN in the hints, in the locale of the environment (setlocale),
 * as a program looking up internationalised names does.
 * -r REPEAT: resolve each name REPEAT times, printing only the first
 * result and a "repeat N wrong W" summary (W: results differing from
 * the first) per name: a lookup loop for valgrind.
 * Exit status 0; killed by a signal if the library under it crashes.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <locale.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/clock.h"

#define MAXSPARE	4096
/* -F lowers RLIMIT_NOFILE to this when it is higher. */
#define SPARE_LIMIT	512

static int spare[MAXSPARE];
static int nspare;
static int gai_flags;		/* -i: AI_IDN */

static const char *
eai_str(int v)
{
	static char buf[32];

	switch (v) {
	case 0: return "0";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
	case EAI_IDN_ENCODE: return "EAI_IDN_ENCODE";
	}
	snprintf(buf, sizeof(buf), "EAI(%d)", v);
	return buf;
}

/* One lookup; the result text (without the name) into out. */
static void
lookup(const char *name, char *out, size_t len, double *ms)
{
	struct addrinfo hints, *res = NULL, *ai;
	char a[INET6_ADDRSTRLEN];
	size_t off;
	double t0;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = gai_flags;
	t0 = pd_now_ms();
	rc = getaddrinfo(name, "443", &hints, &res);
	*ms = pd_now_ms() - t0;
	off = (size_t)snprintf(out, len, "rc=%s", eai_str(rc));
	if (off < len)
		off += (size_t)snprintf(out + off, len - off, " addrs=");
	for (ai = rc == 0 ? res : NULL; ai != NULL && off < len;
	    ai = ai->ai_next) {
		const void *p = ai->ai_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)(void *)
		    ai->ai_addr)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)(void *)
		    ai->ai_addr)->sin6_addr;

		inet_ntop(ai->ai_family, p, a, sizeof(a));
		off += (size_t)snprintf(out + off, len - off, "%s%s",
		    ai == res ? "" : ",", a);
	}
	if (rc == 0)
		freeaddrinfo(res);
}

static void
bench(const char *arg)
{
	char name[1024], first[2048], again[2048];
	long count, i, wrong = 0;
	double *t;

	if (sscanf(arg, "%1023s %ld", name, &count) != 2 || count < 1 ||
	    (t = calloc((size_t)count, sizeof(*t))) == NULL) {
		printf("bench usage\n");
		return;
	}
	lookup(name, first, sizeof(first), &t[0]);
	for (i = 0; i < count; i++) {
		lookup(name, again, sizeof(again), &t[i]);
		if (strcmp(again, first) != 0)
			wrong++;
	}
	qsort(t, (size_t)count, sizeof(*t), pd_cmp_double);
	printf("bench %s median_us %.1f p99_us %.1f wrong %ld\n", name,
	    t[count / 2] * 1e3, t[count * 99 / 100] * 1e3, wrong);
	free(t);
}

static void
rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256], path[64];
	long v = -1;
	int fd, n = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	for (fd = 0; fd < 65536; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0)
			n++;
		else if (fd > 1024)
			break;
	}
	printf("rss_kb %ld fds %d\n", v, n);
}

static void
one(const char *name, long repeat)
{
	char first[2048], again[2048];
	double ms, ms2;
	long i, wrong = 0;

	if (strcmp(name, "-") == 0) {
		printf("ready\n");
		fflush(stdout);
		return;
	}
	if (strncmp(name, "!bench ", 7) == 0) {
		bench(name + 7);
		fflush(stdout);
		return;
	}
	if (strcmp(name, "!rss") == 0) {
		rss();
		fflush(stdout);
		return;
	}
	if (strcmp(name, "!close-spare") == 0) {
		while (nspare > 0)
			close(spare[--nspare]);
		printf("closed\n");
		fflush(stdout);
		return;
	}
	lookup(name, first, sizeof(first), &ms);
	/* rc first, then ms, then addresses: easy to match. */
	{
		char *sp = strchr(first, ' ');

		*sp = '\0';
		printf("%s %s ms=%.1f %s\n", name, first, ms, sp + 1);
		*sp = ' ';
	}
	for (i = 1; i < repeat; i++) {
		lookup(name, again, sizeof(again), &ms2);
		if (strcmp(again, first) != 0)
			wrong++;
	}
	if (repeat > 1)
		printf("%s repeat %ld wrong %ld\n", name, repeat, wrong);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	char line[1100];
	long repeat = 1, freefd = -1;
	int opt, i, fd, nul = 0;
	struct rlimit rl;

	while ((opt = getopt(argc, argv, "0iF:r:")) != -1) {
		switch (opt) {
		case '0': nul = 1; break;
		case 'i':
			gai_flags |= AI_IDN;
			(void)setlocale(LC_ALL, "");
			break;
		case 'F': freefd = atol(optarg); break;
		case 'r': repeat = atol(optarg); break;
		default:
			fprintf(stderr, "usage: hd_gai [-0] [-i] [-F FREE] "
			    "[-r REPEAT] [NAME...]\n");
			return 2;
		}
	}
	if (freefd >= 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		/* A soft limit above what we can hold is lowered first. */
		if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SPARE_LIMIT) {
			rl.rlim_cur = SPARE_LIMIT;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
				perror("hd_gai: setrlimit");
				return 1;
			}
		}
		while (nspare < MAXSPARE &&
		    (fd = open("/dev/null", O_RDONLY)) >= 0) {
			spare[nspare++] = fd;
		}
		for (i = 0; i < freefd && nspare > 0; i++)
			close(spare[--nspare]);
		printf("spare %d free %ld\n", nspare, freefd);
		fflush(stdout);
	}
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			one(argv[i], repeat);
		return 0;
	}
	if (nul) {
		char *buf = NULL;
		size_t cap = 0;
		ssize_t l;

		while ((l = getdelim(&buf, &cap, '\0', stdin)) > 0) {
			if (buf[l - 1] != '\0')
				buf[l] = '\0';	/* last, unterminated */
			if (buf[0] != '\0')
				one(buf, repeat);
		}
		free(buf);
		return 0;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			one(line, repeat);
	}
	return 0;
}

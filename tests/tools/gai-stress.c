/*
 * gai-stress: many threads (or forked children) resolving a mix of names
 * and checking every answer. Links libc only: it runs under the preload.
 *
 *	gai-stress [-t THREADS] [-n LOOKUPS] [-f CHILDREN [-p]] [-c] CASE...
 *
 * CASE is NAME=ok:ADDR,ADDR... (getaddrinfo must succeed with exactly that
 * set of addresses) or NAME=EAI_xxx (must fail with that code). Each
 * thread does LOOKUPS lookups, cycling through the cases from its own
 * offset and through getaddrinfo(AF_UNSPEC, SOCK_STREAM, "443"),
 * gethostbyname_r and gethostbyname2_r(AF_INET6) (the latter two check
 * the IPv4 / IPv6 part of the set, or a failure). With -f, the parent
 * checks every case once, then forks CHILDREN children that each run the
 * threads; the parent checks once more after they exit. -p: the parent
 * resolves nothing before the fork (each child loads the engine itself).
 * -c: count the open file descriptors after a first pass over the cases
 * and again at the end; they must be the same.
 * Prints "ok - ..." or "not ok - ..." lines (TAP) and exits non-zero on
 * any failure.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXCASES	32
#define MAXADDRS	16

struct gcase {
	char		name[256];
	int		eai;		/* expected code; 0: answer */
	unsigned	n4, n6;
	struct in_addr	a4[MAXADDRS];
	struct in6_addr	a6[MAXADDRS];
};

static struct gcase cases[MAXCASES];
static unsigned ncases;
static unsigned lookups = 1000;
static atomic_uint failures;
static atomic_uint checked;

static int
eai_code(const char *s)
{
	static const struct { const char *n; int v; } t[] = {
		{ "EAI_NONAME", EAI_NONAME }, { "EAI_AGAIN", EAI_AGAIN },
		{ "EAI_FAIL", EAI_FAIL }, { "EAI_NODATA", EAI_NODATA },
		{ "EAI_SERVICE", EAI_SERVICE }, { "EAI_FAMILY", EAI_FAMILY },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].v;
	return 1;
}

static int
parse_case(const char *arg, struct gcase *c)
{
	const char *eq = strchr(arg, '=');
	char buf[4096], *save = NULL, *t;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(c->name))
		return -1;
	memset(c, 0, sizeof(*c));
	memcpy(c->name, arg, (size_t)(eq - arg));
	if (strncmp(eq + 1, "ok:", 3) != 0) {
		c->eai = eai_code(eq + 1);
		return c->eai == 1 ? -1 : 0;
	}
	snprintf(buf, sizeof(buf), "%s", eq + 4);
	for (t = strtok_r(buf, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		if (c->n4 < MAXADDRS && inet_pton(AF_INET, t, &c->a4[c->n4]))
			c->n4++;
		else if (c->n6 < MAXADDRS &&
		    inet_pton(AF_INET6, t, &c->a6[c->n6]))
			c->n6++;
		else
			return -1;
	}
	return 0;
}

static void
fail(const char *what, const struct gcase *c, const char *detail)
{
	/* Only the first few failures are worth reading. */
	if (atomic_fetch_add(&failures, 1) < 10)
		printf("#   %s %s: %s\n", what, c->name, detail);
}

/* The set of addresses in ai is exactly c's (each address once). */
static int
same_set(const struct gcase *c, const struct addrinfo *ai)
{
	unsigned seen4 = 0, seen6 = 0, i, n = 0;

	for (; ai != NULL; ai = ai->ai_next, n++) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *s = (const void *)ai->ai_addr;

			for (i = 0; i < c->n4; i++)
				if (memcmp(&c->a4[i], &s->sin_addr, 4) == 0)
					break;
			if (i == c->n4 || (seen4 & (1u << i)))
				return 0;
			seen4 |= 1u << i;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *s =
			    (const void *)ai->ai_addr;

			for (i = 0; i < c->n6; i++)
				if (memcmp(&c->a6[i], &s->sin6_addr, 16) == 0)
					break;
			if (i == c->n6 || (seen6 & (1u << i)))
				return 0;
			seen6 |= 1u << i;
		} else
			return 0;
		if (ntohs(((const struct sockaddr_in *)(const void *)
		    ai->ai_addr)->sin_port) != 443 ||
		    ai->ai_socktype != SOCK_STREAM)
			return 0;
	}
	return n == c->n4 + c->n6;
}

static void
check_gai(const struct gcase *c)
{
	struct addrinfo h, *res = NULL;
	char d[64];
	int rc;

	memset(&h, 0, sizeof(h));
	h.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(c->name, "443", &h, &res);
	if (rc != c->eai) {
		snprintf(d, sizeof(d), "getaddrinfo %d, expected %d", rc,
		    c->eai);
		fail("gai", c, d);
	} else if (rc == 0 && !same_set(c, res))
		fail("gai", c, "wrong address set");
	if (rc == 0)
		freeaddrinfo(res);
}

/* gethostbyname2_r for one family: the addresses of it, or a failure. */
static void
check_hostent(const struct gcase *c, int af)
{
	struct hostent he, *r = NULL;
	char buf[2048], d[64];
	unsigned want = af == AF_INET ? c->n4 : c->n6, n = 0, i;
	int herr = 0, rc;

	rc = af == AF_INET ?
	    gethostbyname_r(c->name, &he, buf, sizeof(buf), &r, &herr) :
	    gethostbyname2_r(c->name, af, &he, buf, sizeof(buf), &r, &herr);
	if (c->eai != 0 || want == 0) {
		if (r != NULL)
			fail("hostent", c, "answer where a failure was due");
		return;
	}
	if (r == NULL) {
		snprintf(d, sizeof(d), "rc %d h_errno %d af %d", rc, herr, af);
		fail("hostent", c, d);
		return;
	}
	for (; r->h_addr_list[n] != NULL; n++) {
		for (i = 0; i < want; i++)
			if (memcmp(r->h_addr_list[n], af == AF_INET ?
			    (const void *)&c->a4[i] : (const void *)&c->a6[i],
			    (size_t)r->h_length) == 0)
				break;
		if (i == want) {
			fail("hostent", c, "address not in the set");
			return;
		}
	}
	if (n != want)
		fail("hostent", c, "wrong number of addresses");
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void *
worker(void *arg)
{
	unsigned off = (unsigned)(uintptr_t)arg, i;

	for (i = 0; i < lookups; i++) {
		const struct gcase *c = &cases[(off + i) % ncases];

		switch ((off + i / ncases) % 4) {
		case 0:
		case 1:
			check_gai(c);
			break;
		case 2:
			check_hostent(c, AF_INET);
			break;
		default:
			check_hostent(c, AF_INET6);
			break;
		}
		atomic_fetch_add(&checked, 1);
	}
	return NULL;
}

static int
run_threads(unsigned nthreads)
{
	pthread_t *t = calloc(nthreads, sizeof(*t));
	unsigned i, started = 0;

	if (t == NULL)
		return -1;
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&t[i], NULL, worker,
		    (void *)(uintptr_t)i) == 0)
			started++;
		else
			break;
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	free(t);
	return started == nthreads ? 0 : -1;
}

int
main(int argc, char **argv)
{
	unsigned nthreads = 1, children = 0, i;
	int opt, bad = 0, st, parent_first = 1, fdcheck = 0, fd0 = 0, fd1;

	while ((opt = getopt(argc, argv, "t:n:f:pc")) != -1) {
		switch (opt) {
		case 'p': parent_first = 0; break;
		case 'c': fdcheck = 1; break;
		case 't': nthreads = (unsigned)atoi(optarg); break;
		case 'n': lookups = (unsigned)atoi(optarg); break;
		case 'f': children = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: gai-stress [-t N] [-n N] "
			    "[-f N] NAME=ok:ADDRS|NAME=EAI_x...\n");
			return 2;
		}
	}
	for (i = (unsigned)optind; i < (unsigned)argc && ncases < MAXCASES;
	    i++)
		if (parse_case(argv[i], &cases[ncases++]) != 0) {
			fprintf(stderr, "gai-stress: bad case %s\n", argv[i]);
			return 2;
		}
	if (ncases == 0)
		return 2;

	if (fdcheck) {
		for (i = 0; i < ncases; i++) {
			check_gai(&cases[i]);
			check_hostent(&cases[i], AF_INET);
			check_hostent(&cases[i], AF_INET6);
		}
		fd0 = count_fds();
	}
	if (children == 0) {
		if (run_threads(nthreads) != 0)
			bad = 1;
	} else {
		pid_t *pid = calloc(children, sizeof(*pid));

		for (i = 0; parent_first && i < ncases; i++)
			check_gai(&cases[i]);	/* the parent first */
		for (i = 0; pid != NULL && i < children; i++) {
			fflush(stdout);
			if ((pid[i] = fork()) == 0)
				_exit(run_threads(nthreads) == 0 &&
				    atomic_load(&failures) == 0 ? 0 : 1);
		}
		for (i = 0; pid != NULL && i < children; i++)
			if (pid[i] <= 0 || waitpid(pid[i], &st, 0) != pid[i] ||
			    !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				printf("#   child %u failed (status %#x)\n", i,
				    pid[i] > 0 ? st : -1);
				bad = 1;
			}
		for (i = 0; i < ncases; i++)
			check_gai(&cases[i]);	/* and after the children */
		free(pid);
	}
	if (fdcheck) {
		fd1 = count_fds();
		if (fd0 < 0 || fd1 != fd0) {
			printf("not ok - open descriptors stable: %d before, "
			    "%d after\n", fd0, fd1);
			bad = 1;
		} else
			printf("ok - open descriptors stable: %d before and "
			    "after %u lookups\n", fd0, atomic_load(&checked));
	}
	if (bad || atomic_load(&failures) != 0) {
		printf("not ok - %u threads x %u lookups (%u children): "
		    "%u failures in this process\n", nthreads, lookups,
		    children, atomic_load(&failures));
		return 1;
	}
	if (children)
		printf("ok - %u children x %u threads x %u lookups, and the "
		    "parent %s, all as expected\n", children, nthreads, lookups,
		    parent_first ? "before and after" : "after");
	else
		printf("ok - %u lookups in %u threads, all as expected\n",
		    atomic_load(&checked), nthreads);
	return 0;
}

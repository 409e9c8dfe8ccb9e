/*
 * gai-probe: run libc resolver calls and print their results canonically,
 * so that two runs (with and without the preload) can be diffed.
 *
 * Reads one query per line on stdin (or the arguments joined as one line):
 *
 *	gai NODE SERVICE HINTS		getaddrinfo + freeaddrinfo
 *	ghbn NAME			gethostbyname
 *	ghbn2 NAME AF			gethostbyname2
 *	ghbnr NAME BUFLEN		gethostbyname_r
 *	ghbn2r NAME AF BUFLEN		gethostbyname2_r
 *	maps				is libpindns-engine.so mapped?
 *
 * NODE, SERVICE and NAME: @null is NULL, @empty is "", anything else is
 * taken as is. HINTS: "-" for hints == NULL, else FAMILY,SOCKTYPE,
 * PROTOCOL,FLAGS as C integers (FLAGS may be hex). AF is an integer.
 *
 * Every call starts with errno and h_errno set to 4242, so what the call
 * leaves in them is printed exactly. For each result node: flags, family,
 * socktype, protocol, addrlen, address, port (and IPv6 flowinfo/scope),
 * canonname; for a hostent: name, aliases, type, length, addresses.
 * Links libc only: it runs under the preload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tests/tools/names.h"

#define SENTINEL	PD_SENTINEL

static const char *
errno_name(int e)
{
	static char buf[32];
	const char *n;

	if (e == SENTINEL)
		return "untouched";
	if ((n = strerrorname_np(e)) != NULL)
		return n;
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

static const char *
fam_name(int f)
{
	static char buf[16];

	switch (f) {
	case AF_UNSPEC: return "AF_UNSPEC";
	case AF_INET: return "AF_INET";
	case AF_INET6: return "AF_INET6";
	}
	snprintf(buf, sizeof(buf), "AF_%d", f);
	return buf;
}

static const char *
sock_name(int t)
{
	static char buf[16];

	switch (t) {
	case 0: return "0";
	case SOCK_STREAM: return "STREAM";
	case SOCK_DGRAM: return "DGRAM";
	case SOCK_RAW: return "RAW";
	case SOCK_SEQPACKET: return "SEQPACKET";
	case SOCK_DCCP: return "DCCP";
	}
	snprintf(buf, sizeof(buf), "%d", t);
	return buf;
}

static const char *
arg(const char *s)
{
	if (strcmp(s, "@null") == 0)
		return NULL;
	if (strcmp(s, "@empty") == 0)
		return "";
	return s;
}

static void
print_sockaddr(const struct sockaddr *sa, socklen_t len)
{
	char b[INET6_ADDRSTRLEN];

	if (sa == NULL) {
		printf(" addr=NULL");
		return;
	}
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const void *)sa;
		static const char zero[8];

		inet_ntop(AF_INET, &s->sin_addr, b, sizeof(b));
		printf(" addr=%s port=%u%s", b, ntohs(s->sin_port),
		    memcmp(s->sin_zero, zero, 8) ? " sin_zero=dirty" : "");
	} else if (sa->sa_family == AF_INET6 &&
	    len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const void *)sa;

		inet_ntop(AF_INET6, &s->sin6_addr, b, sizeof(b));
		printf(" addr=[%s] port=%u flow=%u scope=%u", b,
		    ntohs(s->sin6_port), s->sin6_flowinfo, s->sin6_scope_id);
	} else
		printf(" addr=family-%d", sa->sa_family);
}

static void
do_gai(char *node, char *service, char *hints)
{
	struct addrinfo h, *res = NULL, *ai;
	const struct addrinfo *hp = &h;
	int rc, e, n = 0;

	memset(&h, 0, sizeof(h));
	if (strcmp(hints, "-") == 0)
		hp = NULL;
	else if (sscanf(hints, "%i,%i,%i,%i", &h.ai_family, &h.ai_socktype,
	    &h.ai_protocol, &h.ai_flags) != 4) {
		printf("  bad hints %s\n", hints);
		return;
	}
	errno = SENTINEL;
	h_errno = SENTINEL;
	rc = getaddrinfo(arg(node), arg(service), hp, &res);
	e = errno;
	printf("  = %s errno=%s\n", pd_eai_name(rc), errno_name(e));
	if (rc != 0)
		return;
	for (ai = res; ai != NULL; ai = ai->ai_next, n++) {
		printf("  [%d] flags=%#x %s %s proto=%d len=%u", n,
		    ai->ai_flags, fam_name(ai->ai_family),
		    sock_name(ai->ai_socktype),
		    ai->ai_protocol, (unsigned)ai->ai_addrlen);
		print_sockaddr(ai->ai_addr, ai->ai_addrlen);
		printf(" canon=%s\n", ai->ai_canonname != NULL ?
		    ai->ai_canonname : "-");
	}
	freeaddrinfo(res);
}

static void
print_hostent(const struct hostent *he)
{
	char b[INET6_ADDRSTRLEN];
	int i;

	printf("  name=%s type=%s len=%d\n", he->h_name,
	    fam_name(he->h_addrtype), he->h_length);
	for (i = 0; he->h_aliases != NULL && he->h_aliases[i] != NULL; i++)
		printf("  alias=%s\n", he->h_aliases[i]);
	for (i = 0; he->h_addr_list != NULL && he->h_addr_list[i] != NULL;
	    i++) {
		if (inet_ntop(he->h_addrtype, he->h_addr_list[i], b,
		    sizeof(b)) == NULL)
			snprintf(b, sizeof(b), "?");
		printf("  addr=%s\n", b);
	}
}

static void
do_ghbn(char *name, int two, int af)
{
	struct hostent *he;
	int e, h;

	errno = SENTINEL;
	h_errno = SENTINEL;
	he = two ? gethostbyname2(arg(name), af) : gethostbyname(arg(name));
	e = errno;
	h = h_errno;
	printf("  = %s h_errno=%s errno=%s\n", he != NULL ? "hostent" : "NULL",
	    pd_herr_name(h), errno_name(e));
	if (he != NULL)
		print_hostent(he);
}

static void
do_ghbnr(char *name, int two, int af, size_t buflen)
{
	static struct hostent untouched;
	struct hostent ret, *result = &untouched;
	char *buf = malloc(buflen ? buflen : 1);
	int rc, e, herr = SENTINEL;

	if (buf == NULL)
		return;
	errno = SENTINEL;
	h_errno = SENTINEL;
	rc = two ? gethostbyname2_r(arg(name), af, &ret, buf, buflen, &result,
	    &herr) : gethostbyname_r(arg(name), &ret, buf, buflen, &result,
	    &herr);
	e = errno;
	printf("  = rc=%s result=%s h_errnop=%s h_errno=%s errno=%s\n",
	    errno_name(rc), result == NULL ? "NULL" :
	    result == &ret ? "ret" : result == &untouched ? "untouched" :
	    "other", pd_herr_name(herr),
	    pd_herr_name(h_errno), errno_name(e));
	if (result == &ret) {
		/* Everything must lie in buf, nothing in the caller's name. */
		int i, in = (char *)ret.h_name >= buf &&
		    (char *)ret.h_name < buf + buflen;

		for (i = 0; ret.h_addr_list[i] != NULL; i++)
			in &= ret.h_addr_list[i] >= buf &&
			    ret.h_addr_list[i] < buf + buflen;
		if (!in)
			printf("  outside-buffer\n");
		print_hostent(&ret);
	}
	free(buf);
}

static void
do_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char l[4096];
	int found = 0;

	while (f != NULL && fgets(l, sizeof(l), f) != NULL)
		found |= strstr(l, "libpindns-engine.so") != NULL;
	if (f != NULL)
		fclose(f);
	printf("  engine=%s\n", f == NULL ? "unknown" : found ? "loaded" :
	    "absent");
}

static void
run(char *line)
{
	char *w[6], *save = NULL, *t;
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (t = strtok_r(line, " \t", &save); t != NULL && n < 6;
	    t = strtok_r(NULL, " \t", &save))
		w[n++] = t;
	if (n == 0 || w[0][0] == '#')
		return;
	printf("%s", w[0]);
	for (int i = 1; i < n; i++)
		printf(" %s", w[i]);
	printf("\n");
	if (strcmp(w[0], "gai") == 0 && n == 4)
		do_gai(w[1], w[2], w[3]);
	else if (strcmp(w[0], "ghbn") == 0 && n == 2)
		do_ghbn(w[1], 0, AF_INET);
	else if (strcmp(w[0], "ghbn2") == 0 && n == 3)
		do_ghbn(w[1], 1, atoi(w[2]));
	else if (strcmp(w[0], "ghbnr") == 0 && n == 3)
		do_ghbnr(w[1], 0, AF_INET, strtoul(w[2], NULL, 0));
	else if (strcmp(w[0], "ghbn2r") == 0 && n == 4)
		do_ghbnr(w[1], 1, atoi(w[2]), strtoul(w[3], NULL, 0));
	else if (strcmp(w[0], "maps") == 0 && n == 1)
		do_maps();
	else
		printf("  bad query\n");
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;

	/* The environment's locale, as a real program: AI_IDN depends on it. */
	(void)setlocale(LC_ALL, "");
	if (argc > 1) {
		size_t len = 0;
		int i;

		for (i = 1; i < argc; i++)
			len += strlen(argv[i]) + 1;
		if ((line = calloc(1, len + 1)) == NULL)
			return 1;
		for (i = 1; i < argc; i++) {
			strcat(line, argv[i]);
			strcat(line, " ");
		}
		run(line);
		free(line);
		return 0;
	}
	while (getline(&line, &cap, stdin) > 0)
		run(line);
	free(line);
	return 0;
}

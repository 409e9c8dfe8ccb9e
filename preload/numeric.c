/*
 * pindns preload: numeric host detection, glibc 2.36's rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/numeric.h"

/* Longest text inet_pton(AF_INET6) can accept, with room to spare. */
#define V6_TEXT_MAX	64

/*
 * __inet_aton_exact: inet_aton() also takes "1.2.3.4 trailing words", and
 * stops at the first white space; glibc's getaddrinfo wants the whole
 * string parsed. Each part of an inet_aton address starts with a digit and
 * holds no space, so "inet_aton accepts it and it has no space" is exactly
 * "inet_aton parsed all of it".
 */
static bool
numeric_v4(const char *s)
{
	struct in_addr a;

	if (!isdigit((unsigned char)s[0]))
		return false;
	if (inet_aton(s, &a) == 0)
		return false;
	return strpbrk(s, " \t\n\v\f\r") == NULL;
}

static bool
numeric_v6(const char *s)
{
	struct in6_addr a;
	char buf[V6_TEXT_MAX];
	const char *pct;
	size_t len;

	pct = strchr(s, '%');
	if (pct == NULL)
		return inet_pton(AF_INET6, s, &a) > 0;
	/* glibc parses the part before the scope; a bad scope is its error. */
	len = (size_t)(pct - s);
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return inet_pton(AF_INET6, buf, &a) > 0;
}

bool
pd_numeric_gai(const char *node)
{
	if (node[0] == '\0' || (node[0] == '*' && node[1] == '\0'))
		return true;
	/* Cheap first: most names start with a letter that is no hex digit. */
	if (!isxdigit((unsigned char)node[0]) && node[0] != ':')
		return false;
	return numeric_v4(node) || numeric_v6(node);
}

/* Every character of s in the set, and s not ending in a dot. */
static bool
all_of(const char *s, const char *set)
{
	size_t n = strspn(s, set);

	return s[n] == '\0' && n > 0 && s[n - 1] != '.';
}

bool
pd_numeric_hostent(const char *name, int af)
{
	unsigned char c = (unsigned char)name[0];

	if (c == '\0')
		return true;
	if (!isdigit(c) && !isxdigit(c) && c != ':')
		return false;
	if (isdigit(c) && all_of(name, "0123456789."))
		return true;
	if ((isxdigit(c) && strchr(name, ':') != NULL) || c == ':') {
		/* AF_INET cannot hold an IPv6 literal: HOST_NOT_FOUND at once. */
		if (af != AF_INET6)
			return true;
		return all_of(name, "0123456789abcdefABCDEF:.");
	}
	return false;
}

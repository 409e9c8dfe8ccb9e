/*
 * pindns preload: numeric host detection, glibc 2.36's rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/numeric.h"

/* Longest text inet_pton(AF_INET6) can accept, with room to spare. */
#define V6_TEXT_MAX	64

/*
 * glibc's __inet_aton_exact (resolv/inet_addr.c: inet_aton_end, and the
 * whole string must be consumed), without strtoul: each of up to four
 * parts starts with a digit and is read as C reads an integer constant
 * (0x hex, leading 0 octal, else decimal); a.b.c.d, a.b.c (c 16 bits),
 * a.b (b 24 bits) or a (32 bits). strtoul under glibc's locale machinery
 * costs ~250 instructions a part; this is the hot path of every numeric
 * lookup.
 */
/* Digits of base 8 or 16 from *cpp into *val; false on overflow. */
static bool
part_based(const char **cpp, unsigned base, uint64_t *val)
{
	const char *cp = *cpp;
	unsigned d;
	char c;

	for (*val = 0;; cp++) {
		c = *cp;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a') + 10;
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A') + 10;
		else
			break;
		if (d >= base)
			break;
		*val = *val * base + d;
		if (*val > 0xffffffffu)
			return false;
	}
	*cpp = cp;
	return true;
}

static bool
numeric_v4(const char *cp)
{
	static const uint32_t max[4] = { 0xffffffffu, 0xffffffu, 0xffffu,
	    0xffu };
	unsigned parts = 0;
	uint64_t val;
	char c;

	for (;;) {
		c = *cp;
		if (c < '0' || c > '9')
			return false;
		if (c != '0') {
			/* Decimal, by far the common case. */
			val = 0;
			do {
				val = val * 10 + (uint64_t)(c - '0');
				if (val > 0xffffffffu)
					return false;
				c = *++cp;
			} while (c >= '0' && c <= '9');
		} else if (cp[1] == '.' || cp[1] == '\0') {
			/* A lone 0, as in 10.0.0.1. */
			val = 0;
			cp++;
		} else if ((cp[1] == 'x' || cp[1] == 'X') &&
		    isxdigit((unsigned char)cp[2])) {
			/* strtoul takes "0x" only when a hex digit follows. */
			cp += 2;
			if (!part_based(&cp, 16, &val))
				return false;
		} else if (!part_based(&cp, 8, &val))
			return false;
		if (*cp != '.')
			break;
		if (parts > 2 || val > 0xff)
			return false;
		parts++;
		cp++;
	}
	return *cp == '\0' && val <= max[parts];
}

static bool
numeric_v6(const char *s)
{
	struct in6_addr a;
	char buf[V6_TEXT_MAX];
	const char *pct;
	size_t len;

	/* Every IPv6 text form has a colon; names almost never do. */
	if (strchr(s, ':') == NULL)
		return false;
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
		/* AF_INET cannot hold an IPv6 literal: HOST_NOT_FOUND. */
		if (af != AF_INET6)
			return true;
		return all_of(name, "0123456789abcdefABCDEF:.");
	}
	return false;
}

/*
 * pindns preload: glibc 2.36's getaddrinfo destination sort
 * (sysdeps/posix/getaddrinfo.c: rfc3484_sort, gaiconf_init), rewritten
 * for plain address arrays. Where glibc's behaviour is an accident (a
 * shift by 32, an order compared in network byte order), the accident is
 * kept on purpose: the point is to give the order glibc gives. RFC 6724
 * section 6 names the rules.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "preload/clock.h"
#include "preload/sort.h"
#include "resolver/engine.h"

#define SORT_TTL_MS	1000u
/* An errno value no libc function sets: tells "left alone" from "set". */
#define SORT_ERRNO_MARK	(-4712)
#define GAICONF_PATH	"/etc/gai.conf"

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define HTONL_C(x)	(x)
#else
#define HTONL_C(x)	__builtin_bswap32(x)
#endif

struct prefixentry {
	struct in6_addr	prefix;
	unsigned	bits;
	int		val;
};

struct scopeentry {
	union {
		uint8_t		addr[4];
		uint32_t	addr32;		/* network byte order */
	};
	uint32_t	netmask;		/* network byte order */
	int32_t		scope;
};

#define V6(...)	{ .s6_addr = { __VA_ARGS__ } }

/* RFC 3484 tables with glibc's changes (site-local, ULA, Teredo). */
static const struct prefixentry default_labels[] = {
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, 0 },
	{ V6(0x20, 0x02), 16, 2 },
	{ V6(0), 96, 3 },
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 96, 4 },
	{ V6(0xfe, 0xc0), 10, 5 },
	{ V6(0xfc), 7, 6 },
	{ V6(0x20, 0x01), 32, 7 },
	{ V6(0), 0, 1 },
};

static const struct prefixentry default_precedence[] = {
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), 128, 50 },
	{ V6(0x20, 0x02), 16, 30 },
	{ V6(0), 96, 20 },
	{ V6(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff), 96, 10 },
	{ V6(0), 0, 40 },
};

static const struct scopeentry default_scopes[] = {
	/* Link-local and loopback IPv4 count as link scope (2). */
	{ { { 169, 254, 0, 0 } }, HTONL_C(0xffff0000u), 2 },
	{ { { 127, 0, 0, 0 } }, HTONL_C(0xff000000u), 2 },
	{ { { 0, 0, 0, 0 } }, HTONL_C(0x00000000u), 14 },
};

/*
 * The tables in force: the defaults, or what /etc/gai.conf said when the
 * first sort of the process ran. They change later only when the file
 * says `reload yes`, and then every sort holds conf_lock, as glibc does.
 * Unlike glibc, the file is read without conf_lock, which is only held
 * over the sort and the swap of tables: fork() takes it (conf_atfork),
 * so a child never inherits it held, and never waits on a file system.
 */
static const struct prefixentry *labels = default_labels;
static const struct prefixentry *precedence = default_precedence;
static const struct scopeentry *scopes = default_scopes;
static struct timespec conf_mtime;
static int conf_reload;		/* atomic: the last file said reload yes */
static int conf_reload_ever;	/* atomic: some file said reload yes */
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static bool conf_atfork_ok;	/* set under conf_once */

/* Tables read from the file; NULL: the built-in one. */
struct conf {
	struct prefixentry	*labels;
	struct prefixentry	*precedence;
	struct scopeentry	*scopes;
	struct timespec		 mtime;
	bool			 read;		/* mtime is valid */
};

/* ------------------------------------------------------ /etc/gai.conf */

struct plist {
	struct prefixentry	 e;
	struct plist		*next;
};

struct slist {
	struct scopeentry	 e;
	struct slist		*next;
};

static void
plist_free(struct plist *l)
{
	struct plist *n;

	for (; l != NULL; l = n) {
		n = l->next;
		free(l);
	}
}

static void
slist_free(struct slist *l)
{
	struct slist *n;

	for (; l != NULL; l = n) {
		n = l->next;
		free(l);
	}
}

/* Back to the built-in tables, freeing loaded ones (glibc's fini). */
static void
conf_defaults(void)
{
	if (labels != default_labels)
		free((void *)labels);
	labels = default_labels;
	if (precedence != default_precedence)
		free((void *)precedence);
	precedence = default_precedence;
	if (scopes != default_scopes)
		free((void *)scopes);
	scopes = default_scopes;
}

/*
 * strtoul as glibc's parser uses it: the number and whether it passed the
 * "(v = strtoul (s, &endp, 10)) != ULONG_MAX || errno != ERANGE) &&
 * *endp == '\0'" test.
 */
static bool
conf_num(const char *s, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return (*v != ULONG_MAX || errno != ERANGE) && *end == '\0';
}

/* A `label` or `precedence` line. false only when out of memory. */
static bool
conf_prefix(struct plist **l, size_t *n, bool *nullbits, char *val1,
    const char *val2)
{
	struct in6_addr prefix;
	unsigned long bits = 128, val;
	struct plist *e;
	char *slash;

	if ((slash = strchr(val1, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET6, val1, &prefix) <= 0)
		return true;
	if (slash != NULL && !conf_num(slash, &bits))
		return true;
	if (bits > 128 || !conf_num(val2, &val) || val > INT_MAX)
		return true;
	if ((e = malloc(sizeof(*e))) == NULL)
		return false;
	e->e.prefix = prefix;
	e->e.bits = (unsigned)bits;
	e->e.val = (int)val;
	e->next = *l;
	*l = e;
	++*n;
	*nullbits |= bits == 0;
	return true;
}

static bool
conf_scope_add(struct slist **l, size_t *n, bool *nullbits,
    const struct in6_addr *prefix, unsigned long bits, unsigned long val)
{
	struct slist *e;
	uint32_t a;

	if ((e = malloc(sizeof(*e))) == NULL)
		return false;
	/* glibc: a shift by 0 for /128, by 32 never (bits 96 is 0). */
	e->e.netmask = htonl(bits != 96 ? (0xffffffffu << (128 - bits)) : 0);
	memcpy(&a, &prefix->s6_addr[12], 4);
	e->e.addr32 = a & e->e.netmask;
	e->e.scope = (int32_t)val;
	e->next = *l;
	*l = e;
	++*n;
	*nullbits |= bits == 96;
	return true;
}

/* A `scopev4` line: IPv4 or v4-mapped IPv6 prefix. */
static bool
conf_scope(struct slist **l, size_t *n, bool *nullbits, char *val1,
    const char *val2)
{
	struct in6_addr prefix;
	unsigned long bits, val;
	char *slash;

	memset(&prefix, 0, sizeof(prefix));
	if ((slash = strchr(val1, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET6, val1, &prefix) > 0) {
		bits = 128;
		if (!IN6_IS_ADDR_V4MAPPED(&prefix))
			return true;
		if (slash != NULL && !conf_num(slash, &bits))
			return true;
		if (bits < 96 || bits > 128 || !conf_num(val2, &val) ||
		    val > INT_MAX)
			return true;
		return conf_scope_add(l, n, nullbits, &prefix, bits, val);
	}
	if (inet_pton(AF_INET, val1, &prefix.s6_addr[12]) <= 0)
		return true;
	bits = 32;
	if (slash != NULL && !conf_num(slash, &bits))
		return true;
	if (bits > 32 || !conf_num(val2, &val) || val > INT_MAX)
		return true;
	return conf_scope_add(l, n, nullbits, &prefix, bits + 96, val);
}

/* Most specific first; equal lengths keep file order (glibc's msort). */
static void
prefix_sort(struct prefixentry *v, size_t n)
{
	struct prefixentry t;
	size_t i, j;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1].bits < t.bits; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

/* glibc's scopecmp compares the network-order masks as integers. */
static void
scope_sort(struct scopeentry *v, size_t n)
{
	struct scopeentry t;
	size_t i, j;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && v[j - 1].netmask < t.netmask; j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}

/*
 * The list as a table: file order, plus the catch-all entry when the file
 * gave none, then sorted. NULL when out of memory.
 */
static struct prefixentry *
prefix_table(struct plist *l, size_t n, bool nullbits, int dflt)
{
	struct prefixentry *v;
	size_t i;

	if (!nullbits)
		n++;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return NULL;
	i = n;
	if (!nullbits) {
		--i;
		memset(&v[i], 0, sizeof(v[i]));
		v[i].val = dflt;
	}
	while (i-- > 0) {
		v[i] = l->e;
		l = l->next;
	}
	prefix_sort(v, n);
	return v;
}

static struct scopeentry *
scope_table(struct slist *l, size_t n, bool nullbits)
{
	struct scopeentry *v;
	size_t i;

	if (!nullbits)
		n++;
	if ((v = malloc(n * sizeof(*v))) == NULL)
		return NULL;
	i = n;
	if (!nullbits) {
		--i;
		memset(&v[i], 0, sizeof(v[i]));
		v[i].scope = 14;
	}
	while (i-- > 0) {
		v[i] = l->e;
		l = l->next;
	}
	scope_sort(v, n);
	return v;
}

/*
 * One line, split as glibc splits it (including its quirk of measuring
 * the first value from the start of the command).
 */
static bool
conf_line(char *line, struct plist **ll, size_t *nl, bool *lnull,
    struct plist **pl, size_t *np, bool *pnull, struct slist **sl,
    size_t *ns, bool *snull)
{
	char *cp, *cmd, *val1, *val2;
	size_t cmdlen;

	if ((cp = strchr(line, '#')) != NULL)
		*cp = '\0';
	for (cp = line; isspace((unsigned char)*cp); cp++)
		;
	cmd = cp;
	while (*cp != '\0' && !isspace((unsigned char)*cp))
		cp++;
	cmdlen = (size_t)(cp - cmd);
	if (*cp != '\0')
		*cp++ = '\0';
	while (isspace((unsigned char)*cp))
		cp++;
	val1 = cp;
	while (*cp != '\0' && !isspace((unsigned char)*cp))
		cp++;
	if (cp == cmd)
		return true;
	if (*cp != '\0')
		*cp++ = '\0';
	while (isspace((unsigned char)*cp))
		cp++;
	val2 = cp;
	while (*cp != '\0' && !isspace((unsigned char)*cp))
		cp++;
	*cp = '\0';

	if (cmdlen == 5 && strcmp(cmd, "label") == 0)
		return conf_prefix(ll, nl, lnull, val1, val2);
	if (cmdlen == 10 && strcmp(cmd, "precedence") == 0)
		return conf_prefix(pl, np, pnull, val1, val2);
	if (cmdlen == 7 && strcmp(cmd, "scopev4") == 0)
		return conf_scope(sl, ns, snull, val1, val2);
	if (cmdlen == 6 && strcmp(cmd, "reload") == 0) {
		int yes = strcmp(val1, "yes") == 0;

		__atomic_store_n(&conf_reload, yes, __ATOMIC_RELAXED);
		if (yes)
			__atomic_store_n(&conf_reload_ever, 1,
			    __ATOMIC_RELAXED);
	}
	return true;
}

/*
 * glibc's gaiconf_init, the reading half: c gets the tables the file
 * gives, or none (the built-in ones) when it cannot be read. Touches no
 * table in force.
 */
static void
conf_read(struct conf *c)
{
	struct plist *ll = NULL, *pl = NULL;
	struct slist *sl = NULL;
	size_t nl = 0, np = 0, ns = 0, cap = 0;
	bool lnull = false, pnull = false, snull = false, ok = true;
	struct prefixentry *nlab = NULL, *nprec = NULL;
	struct scopeentry *nscope = NULL;
	char *line = NULL;
	struct stat st;
	FILE *fp;

	memset(c, 0, sizeof(*c));
	if ((fp = fopen(GAICONF_PATH, "re")) == NULL)
		goto fail;
	if (fstat(fileno(fp), &st) != 0) {
		fclose(fp);
		goto fail;
	}
	while (ok && getline(&line, &cap, fp) > 0)
		ok = conf_line(line, &ll, &nl, &lnull, &pl, &np, &pnull, &sl,
		    &ns, &snull);
	free(line);
	fclose(fp);
	if (!ok)
		goto fail;

	if (nl > 0 && (nlab = prefix_table(ll, nl, lnull, 1)) == NULL)
		goto fail;
	if (np > 0 && (nprec = prefix_table(pl, np, pnull, 40)) == NULL)
		goto fail;
	if (ns > 0 && (nscope = scope_table(sl, ns, snull)) == NULL)
		goto fail;
	plist_free(ll);
	plist_free(pl);
	slist_free(sl);
	c->labels = nlab;
	c->precedence = nprec;
	c->scopes = nscope;
	c->mtime = st.st_mtim;
	c->read = true;
	return;
fail:
	free(nlab);
	free(nprec);
	free(nscope);
	plist_free(ll);
	plist_free(pl);
	slist_free(sl);
}

/*
 * The other half: put c's tables in force (they are the built-in ones
 * where c has none: a file read before but gone or unreadable now).
 * Under conf_once or conf_lock.
 */
static void
conf_apply(const struct conf *c)
{
	conf_defaults();
	if (c->labels != NULL)
		labels = c->labels;
	if (c->precedence != NULL)
		precedence = c->precedence;
	if (c->scopes != NULL)
		scopes = c->scopes;
	if (c->read)
		conf_mtime = c->mtime;
}

/*
 * glibc's gaiconf_reload: read the file again when its mtime changed.
 * Without conf_lock (see above); two threads may both read a change, and
 * put the same tables in force in turn.
 */
static void
conf_reload_check(void)
{
	struct timespec seen;
	struct stat st;
	struct conf c;

	(void)pthread_mutex_lock(&conf_lock);
	seen = conf_mtime;
	(void)pthread_mutex_unlock(&conf_lock);
	if (stat(GAICONF_PATH, &st) == 0 &&
	    st.st_mtim.tv_sec == seen.tv_sec &&
	    st.st_mtim.tv_nsec == seen.tv_nsec)
		return;
	conf_read(&c);
	(void)pthread_mutex_lock(&conf_lock);
	conf_apply(&c);
	(void)pthread_mutex_unlock(&conf_lock);
}

static void
conf_fork_lock(void)
{
	(void)pthread_mutex_lock(&conf_lock);
}

static void
conf_fork_unlock(void)
{
	(void)pthread_mutex_unlock(&conf_lock);
}

/* ----------------------------------------------------- sort rules */

union sa {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

/* glibc's struct sort_result. */
struct sres {
	union sa	dest;
	socklen_t	destlen;
	union sa	src;
	uint8_t		srclen;
	bool		got;
	uint8_t		flags;
	uint8_t		prefixlen;
	uint32_t	index;
	int32_t		native;
};

struct sres_all {
	struct sres	*r;
	unsigned	 n;
};

static int
get_scope(const union sa *a)
{
	const struct in6_addr *in6;
	size_t i;

	if (a->sa.sa_family == AF_INET6) {
		in6 = &a->sin6.sin6_addr;
		if (IN6_IS_ADDR_MULTICAST(in6))
			return in6->s6_addr[1] & 0xf;
		/* RFC 4291 2.5.3: loopback is treated like link-local. */
		if (IN6_IS_ADDR_LINKLOCAL(in6) || IN6_IS_ADDR_LOOPBACK(in6))
			return 2;
		if (IN6_IS_ADDR_SITELOCAL(in6))
			return 5;
		return 14;
	}
	if (a->sa.sa_family == AF_INET) {
		/* The table always ends with a /0 entry. */
		for (i = 0;; i++)
			if ((a->sin.sin_addr.s_addr & scopes[i].netmask) ==
			    scopes[i].addr32)
				return scopes[i].scope;
	}
	return 15;
}

static int
match_prefix(const union sa *a, const struct prefixentry *list, int dflt)
{
	struct in6_addr m;
	const uint8_t *val, *mask;
	unsigned bits;
	size_t i;

	if (a->sa.sa_family == AF_INET) {
		memset(&m, 0, sizeof(m));
		m.s6_addr[10] = m.s6_addr[11] = 0xff;
		memcpy(&m.s6_addr[12], &a->sin.sin_addr, 4);
	} else if (a->sa.sa_family == AF_INET6)
		m = a->sin6.sin6_addr;
	else
		return dflt;
	for (i = 0;; i++) {
		bits = list[i].bits;
		mask = list[i].prefix.s6_addr;
		val = m.s6_addr;
		while (bits >= 8) {
			if (*mask != *val)
				break;
			mask++;
			val++;
			bits -= 8;
		}
		if (bits < 8 && (*mask & (0xff00 >> bits)) ==
		    (*val & (0xff00 >> bits)))
			break;
	}
	return list[i].val;
}

static int
get_label(const union sa *a)
{
	return match_prefix(a, labels, INT_MAX);
}

static int
get_precedence(const union sa *a)
{
	return match_prefix(a, precedence, 0);
}

/* Leading bits in common: the index of the first set bit of a. */
static int
lead(uint32_t a)
{
	uint32_t mask;
	int n;

	for (n = 0, mask = 1u << 31; n < 32; mask >>= 1, ++n)
		if ((a & mask) != 0)
			break;
	return n;
}

/*
 * glibc writes 0xffffffffu << (32 - prefixlen); with prefixlen 0 (the
 * source address has no entry) the shift count is 32, which x86 and ARM
 * reduce to 0: the mask is all ones.
 */
static uint32_t
v4mask(uint8_t prefixlen)
{
	return prefixlen == 0 || prefixlen > 32 ? 0xffffffffu :
	    0xffffffffu << (32 - prefixlen);
}

/* Rule 7: glibc looks the interfaces up the first time it needs them. */
static int
rule_native(struct sres_all *all, struct sres *a1, struct sres *a2)
{
	int n1 = a1->native, n2 = a2->native;
	uint32_t i1, i2;
	unsigned i;

	if (n1 == -1 || n2 == -1) {
		if (n1 == -1) {
			n1 = 0;
			i1 = a1->index;
		} else
			i1 = 0xffffffffu;
		if (n2 == -1) {
			n2 = 0;
			i2 = a2->index;
		} else
			i2 = 0xffffffffu;
		pd_netinfo_native(i1, &n1, i2, &n2);
		for (i = 0; i < all->n; i++)
			if (i1 != 0xffffffffu && all->r[i].index == i1)
				all->r[i].native = n1;
			else if (i2 != 0xffffffffu && all->r[i].index == i2)
				all->r[i].native = n2;
	}
	if (n1 && !n2)
		return -1;
	if (!n1 && n2)
		return 1;
	return 0;
}

static int
rule_prefix(const struct sres *a1, const struct sres *a2)
{
	int bit1 = 0, bit2 = 0, i;
	uint32_t d1, s1, d2, s2, m1, m2;

	if (a1->dest.sa.sa_family == AF_INET) {
		d1 = ntohl(a1->dest.sin.sin_addr.s_addr);
		s1 = ntohl(a1->src.sin.sin_addr.s_addr);
		d2 = ntohl(a2->dest.sin.sin_addr.s_addr);
		s2 = ntohl(a2->src.sin.sin_addr.s_addr);
		/* Outside the source's subnet a common prefix means nothing. */
		m1 = v4mask(a1->prefixlen);
		m2 = v4mask(a2->prefixlen);
		if ((s1 & m1) == (d1 & m1))
			bit1 = lead(d1 ^ s1);
		if ((s2 & m2) == (d2 & m2))
			bit2 = lead(d2 ^ s2);
	} else if (a1->dest.sa.sa_family == AF_INET6) {
		/* glibc compares the first 32-bit word where either differs. */
		for (i = 0; i < 4; i++) {
			memcpy(&d1, &a1->dest.sin6.sin6_addr.s6_addr[4 * i], 4);
			memcpy(&s1, &a1->src.sin6.sin6_addr.s6_addr[4 * i], 4);
			memcpy(&d2, &a2->dest.sin6.sin6_addr.s6_addr[4 * i], 4);
			memcpy(&s2, &a2->src.sin6.sin6_addr.s6_addr[4 * i], 4);
			if (d1 != s1 || d2 != s2)
				break;
		}
		if (i < 4) {
			bit1 = lead(ntohl(d1 ^ s1));
			bit2 = lead(ntohl(d2 ^ s2));
		}
	}
	if (bit1 > bit2)
		return -1;
	if (bit1 < bit2)
		return 1;
	return 0;
}

/* glibc's rfc3484_sort: negative when node i1 goes first. Never 0. */
static int
sort_cmp(struct sres_all *all, uint16_t i1, uint16_t i2)
{
	struct sres *a1 = &all->r[i1], *a2 = &all->r[i2];
	int d1, d2, s1, s2, r;

	/* Rule 1: avoid unusable destinations (no source address). */
	if (a1->got != a2->got)
		return a1->got ? -1 : 1;

	/* Rule 2: prefer matching scope. */
	d1 = get_scope(&a1->dest);
	d2 = get_scope(&a2->dest);
	if (a1->got) {
		s1 = get_scope(&a1->src);
		s2 = get_scope(&a2->src);
		if (d1 == s1 && d2 != s2)
			return -1;
		if (d1 != s1 && d2 == s2)
			return 1;

		/* Rule 3: avoid deprecated addresses. */
		if (!(a1->flags & PD_IN6AI_DEPRECATED) &&
		    (a2->flags & PD_IN6AI_DEPRECATED))
			return -1;
		if ((a1->flags & PD_IN6AI_DEPRECATED) &&
		    !(a2->flags & PD_IN6AI_DEPRECATED))
			return 1;

		/* Rule 4: prefer home addresses. */
		if (!(a1->flags & PD_IN6AI_HOMEADDRESS) &&
		    (a2->flags & PD_IN6AI_HOMEADDRESS))
			return 1;
		if ((a1->flags & PD_IN6AI_HOMEADDRESS) &&
		    !(a2->flags & PD_IN6AI_HOMEADDRESS))
			return -1;

		/* Rule 5: prefer matching label. */
		s1 = get_label(&a1->src) == get_label(&a1->dest);
		s2 = get_label(&a2->src) == get_label(&a2->dest);
		if (s1 && !s2)
			return -1;
		if (!s1 && s2)
			return 1;
	}

	/* Rule 6: prefer higher precedence. */
	s1 = get_precedence(&a1->dest);
	s2 = get_precedence(&a2->dest);
	if (s1 > s2)
		return -1;
	if (s1 < s2)
		return 1;

	/* Rule 7: prefer native transport (different interfaces only). */
	if (a1->got && a1->index != a2->index &&
	    (r = rule_native(all, a1, a2)) != 0)
		return r;

	/* Rule 8: prefer smaller scope. */
	if (d1 < d2)
		return -1;
	if (d1 > d2)
		return 1;

	/* Rule 9: longest matching prefix, same family only. */
	if (a1->got && a1->dest.sa.sa_family == a2->dest.sa.sa_family &&
	    (r = rule_prefix(a1, a2)) != 0)
		return r;

	/* Rule 10: leave the order unchanged. */
	return i1 < i2 ? -1 : 1;
}

/* glibc's qsort_r for small arrays: msort_with_tmp, top-down merge. */
static void
msort(struct sres_all *all, uint16_t *b, uint16_t *tmp, size_t n)
{
	size_t n1, n2, k = 0;
	uint16_t *b1, *b2;

	if (n <= 1)
		return;
	n1 = n / 2;
	n2 = n - n1;
	b1 = b;
	b2 = b + n1;
	msort(all, b1, tmp, n1);
	msort(all, b2, tmp, n2);
	while (n1 > 0 && n2 > 0) {
		if (sort_cmp(all, *b1, *b2) <= 0) {
			tmp[k++] = *b1++;
			n1--;
		} else {
			tmp[k++] = *b2++;
			n2--;
		}
	}
	while (n1 > 0) {
		tmp[k++] = *b1++;
		n1--;
	}
	memcpy(b, tmp, (n - n2) * sizeof(*b));
}

/* glibc's try_connect: the source address the kernel would pick. */
static bool
try_connect(int *fdp, int *afp, union sa *src, const union sa *dst,
    socklen_t dlen, int family)
{
	socklen_t sl;

	for (;;) {
		sl = sizeof(src->sin6);
		if (*fdp != -1 && connect(*fdp, &dst->sa, dlen) == 0 &&
		    getsockname(*fdp, &src->sa, &sl) == 0)
			return true;
		if (errno == EAFNOSUPPORT && *afp == AF_INET6 &&
		    family == AF_INET) {
			/* IPv6 sockets may be IPv6-only. */
			if (*fdp != -1)
				close(*fdp);
			*afp = AF_INET;
			*fdp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC,
			    IPPROTO_IP);
			continue;
		}
		return false;
	}
}

/* The source address facts for node i, as glibc's getaddrinfo gets them. */
static void
source_of(struct sres *r, int *fdp, int *afp, struct pd_netinfo *ni)
{
	int family = r->dest.sa.sa_family;
	const struct pd_in6ai *found;
	struct sockaddr sa;
	uint32_t key[4], a;

	r->got = false;
	r->flags = 0;
	r->prefixlen = 0;
	r->index = 0xffffffffu;
	if (*fdp == -1 || (*afp == AF_INET && family == AF_INET6)) {
		if (*fdp != -1)
			close(*fdp);
		*afp = family;
		*fdp = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_IP);
	} else {
		/* Reset the connection. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_family = AF_UNSPEC;
		(void)connect(*fdp, &sa, sizeof(sa));
	}
	if (!try_connect(fdp, afp, &r->src, &r->dest, r->destlen, family)) {
		r->srclen = 0;
		return;
	}
	r->srclen = sizeof(r->src.sin6);
	r->got = true;
	if (family == AF_INET && *afp == AF_INET) {
		key[0] = key[1] = 0;
		key[2] = htonl(0xffff);
		/* lo: the source may differ from the interface's address. */
		if ((ntohl(r->src.sin.sin_addr.s_addr) & 0xff000000u) ==
		    0x7f000000u)
			key[3] = htonl(0x7f000001u);
		else
			key[3] = r->src.sin.sin_addr.s_addr;
	} else
		memcpy(key, &r->src.sin6.sin6_addr, 16);
	if ((found = pd_netinfo_find(ni, key)) != NULL) {
		r->flags = found->flags;
		r->prefixlen = found->prefixlen;
		r->index = found->index;
	}
	if (family == AF_INET && *afp == AF_INET6) {
		/* An IPv6 socket answered for IPv4: take the mapped address. */
		memcpy(&a, &r->src.sin6.sin6_addr.s6_addr[12], 4);
		r->src.sin.sin_family = AF_INET;
		r->src.sin.sin_addr.s_addr = a;
		r->srclen = sizeof(r->src.sin);
	}
}

static void
dest_of(struct sres *r, const struct pd_addr *a, uint16_t port)
{
	memset(&r->dest, 0, sizeof(r->dest));
	if (a->family == AF_INET6) {
		r->dest.sin6.sin6_family = AF_INET6;
		r->dest.sin6.sin6_port = port;
		memcpy(&r->dest.sin6.sin6_addr, a->addr, 16);
		r->destlen = sizeof(r->dest.sin6);
	} else {
		r->dest.sin.sin_family = AF_INET;
		r->dest.sin.sin_port = port;
		memcpy(&r->dest.sin.sin_addr, a->addr, 4);
		r->destlen = sizeof(r->dest.sin);
	}
	r->native = -1;
}

static void
conf_init(void)
{
	struct conf c;

	conf_read(&c);
	conf_apply(&c);
	/* Without the handlers, no reload: a child could inherit the lock. */
	conf_atfork_ok = pthread_atfork(conf_fork_lock, conf_fork_unlock,
	    conf_fork_unlock) == 0;
}

/*
 * The sort itself: glibc's getaddrinfo from "if (naddrs > 1)" on. *err_set
 * and *err: whether its system calls left errno changed, and to what.
 */
static void
sort_glibc(struct pd_netinfo *ni, const struct pd_addr *addrs,
    unsigned naddrs, const struct pd_tuples *tp, uint16_t *order,
    int *err_set, int *err)
{
	struct sres_all all;
	uint16_t *tmp;
	unsigned n = naddrs * tp->n, i;
	int fd = -1, af = AF_UNSPEC, locked = 0, saved = errno;

	*err_set = 0;
	*err = 0;
	for (i = 0; i < n; i++)
		order[i] = (uint16_t)i;
	all.n = n;
	all.r = calloc(n, sizeof(*all.r));
	tmp = calloc(n, sizeof(*tmp));
	if (all.r == NULL || tmp == NULL)
		goto out;

	(void)pthread_once(&conf_once, conf_init);
	pd_netinfo_get(ni);
	errno = SORT_ERRNO_MARK;
	for (i = 0; i < n; i++) {
		struct sres *r = &all.r[i];

		dest_of(r, &addrs[i / tp->n], tp->t[i % tp->n].port);
		/* The same address for another protocol: reuse the result. */
		if (i > 0 && all.r[i - 1].destlen == r->destlen &&
		    memcmp(&all.r[i - 1].dest, &r->dest, r->destlen) == 0) {
			r->src = all.r[i - 1].src;
			r->srclen = all.r[i - 1].srclen;
			r->got = all.r[i - 1].got;
			r->flags = all.r[i - 1].flags;
			r->prefixlen = all.r[i - 1].prefixlen;
			r->index = all.r[i - 1].index;
		} else
			source_of(r, &fd, &af, ni);
	}
	if (fd != -1)
		close(fd);
	*err = errno;
	*err_set = *err != SORT_ERRNO_MARK;
	errno = *err_set ? *err : saved;

	if (conf_atfork_ok &&
	    __atomic_load_n(&conf_reload_ever, __ATOMIC_RELAXED)) {
		if (__atomic_load_n(&conf_reload, __ATOMIC_RELAXED))
			conf_reload_check();
		(void)pthread_mutex_lock(&conf_lock);
		locked = 1;
	}
	msort(&all, order, tmp, n);
	if (locked)
		(void)pthread_mutex_unlock(&conf_lock);
out:
	free(all.r);
	free(tmp);
	errno = *err_set ? *err : saved;
}

static bool
tuples_eq(const struct pd_tuples *a, const struct pd_tuples *b)
{
	unsigned i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (a->t[i].socktype != b->t[i].socktype ||
		    a->t[i].protocol != b->t[i].protocol ||
		    a->t[i].port != b->t[i].port)
			return false;
	return true;
}

static void
slot_clear(struct pd_sort_slot *s)
{
	free(s->addrs);
	free(s->order);
	memset(s, 0, sizeof(*s));
}

void
pd_sort_nodes(struct pd_sort_cache *cache, struct pd_netinfo *ni,
    const struct pd_addr *addrs, unsigned naddrs,
    const struct pd_tuples *tp, uint16_t *order)
{
	struct pd_sort_slot *s;
	unsigned n = naddrs * tp->n, i;
	uint64_t now;
	int err_set, err, e;

	if (cache == NULL) {
		sort_glibc(ni, addrs, naddrs, tp, order, &err_set, &err);
		return;
	}
	now = pd_clock_ms();
	for (i = 0; i < PD_SORT_SLOTS; i++) {
		s = &cache->slot[i];
		if (s->expires != 0 && now < s->expires &&
		    s->naddrs == naddrs && tuples_eq(&s->tuples, tp) &&
		    memcmp(s->addrs, addrs, naddrs * sizeof(*addrs)) == 0) {
			memcpy(order, s->order, n * sizeof(*order));
			if (s->err_set)
				errno = s->err;
			return;
		}
	}
	sort_glibc(ni, addrs, naddrs, tp, order, &err_set, &err);

	s = &cache->slot[cache->next++ % PD_SORT_SLOTS];
	slot_clear(s);
	e = errno;
	s->addrs = malloc(naddrs * sizeof(*addrs));
	s->order = malloc(n * sizeof(*order));
	if (s->addrs == NULL || s->order == NULL) {
		slot_clear(s);
		errno = e;
		return;
	}
	memcpy(s->addrs, addrs, naddrs * sizeof(*addrs));
	memcpy(s->order, order, n * sizeof(*order));
	s->naddrs = naddrs;
	s->tuples = *tp;
	s->err_set = err_set;
	s->err = err;
	s->expires = now + SORT_TTL_MS;
}

void
pd_sort_clear(struct pd_sort_cache *cache)
{
	unsigned i;

	for (i = 0; i < PD_SORT_SLOTS; i++)
		slot_clear(&cache->slot[i]);
	cache->next = 0;
}

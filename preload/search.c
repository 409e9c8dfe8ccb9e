/*
 * pindns preload: the names glibc's resolver tries for one name
 * (preload/search.h), in the order of glibc 2.36's __res_context_search.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "preload/search.h"

/* Longest LOCALDOMAIN or RES_OPTIONS value kept to compare with. */
#define ENV_KEEP	1024

/*
 * The part of glibc's resolver configuration the search needs, with what
 * it was read from. Guarded by conf_mu, which is only held to compare and
 * copy (never across I/O) and is made anew in a child after fork, so a
 * fork while another thread holds it cannot leave the child locked out.
 */
struct conf {
	int		valid;
	/* What it was read from. */
	int		stat_errno;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtim;
	char		localdomain[ENV_KEEP];
	char		res_options[ENV_KEEP];
	int		has_localdomain, has_res_options;
	/* What glibc made of it. */
	unsigned long	options;
	unsigned	ndots;
	unsigned	ndom;
	char		dom[MAXDNSRCH][NS_MAXDNAME];
};

static pthread_mutex_t conf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t conf_once = PTHREAD_ONCE_INIT;
static struct conf conf;

static void
conf_child(void)
{
	(void)pthread_mutex_init(&conf_mu, NULL);
}

static void
conf_init(void)
{
	(void)pthread_atfork(NULL, NULL, conf_child);
}

/* Where the configuration comes from, now. -1: too long to compare. */
static int
conf_source(struct conf *c)
{
	const char *ld = getenv("LOCALDOMAIN");
	const char *ro = getenv("RES_OPTIONS");
	struct stat st;

	memset(c, 0, offsetof(struct conf, options));
	if (stat(_PATH_RESCONF, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
		c->size = st.st_size;
		c->mtim = st.st_mtim;
	} else
		c->stat_errno = errno != 0 ? errno : ENOENT;
	if (ld != NULL) {
		if (strlen(ld) >= sizeof(c->localdomain))
			return -1;
		c->has_localdomain = 1;
		strcpy(c->localdomain, ld);
	}
	if (ro != NULL) {
		if (strlen(ro) >= sizeof(c->res_options))
			return -1;
		c->has_res_options = 1;
		strcpy(c->res_options, ro);
	}
	return 0;
}

static int
same_source(const struct conf *a, const struct conf *b)
{
	return a->stat_errno == b->stat_errno && a->dev == b->dev &&
	    a->ino == b->ino && a->size == b->size &&
	    a->mtim.tv_sec == b->mtim.tv_sec &&
	    a->mtim.tv_nsec == b->mtim.tv_nsec &&
	    a->has_localdomain == b->has_localdomain &&
	    a->has_res_options == b->has_res_options &&
	    strcmp(a->localdomain, b->localdomain) == 0 &&
	    strcmp(a->res_options, b->res_options) == 0;
}

/* Read the configuration the way glibc's resolver does: res_ninit(). */
static int
conf_read(struct conf *c)
{
	struct __res_state st;
	unsigned i;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0) {
		res_nclose(&st);
		return -1;
	}
	c->options = st.options;
	c->ndots = st.ndots;
	c->ndom = 0;
	for (i = 0; i < MAXDNSRCH && st.dnsrch[i] != NULL; i++) {
		if (strlen(st.dnsrch[i]) >= sizeof(c->dom[0]))
			continue;	/* glibc could not use it either */
		strcpy(c->dom[c->ndom++], st.dnsrch[i]);
	}
	res_nclose(&st);
	return 0;
}

/* The configuration in force into *c: from the copy, or read anew. */
static int
conf_get(struct conf *c)
{
	int cacheable;

	(void)pthread_once(&conf_once, conf_init);
	cacheable = conf_source(c) == 0;
	if (cacheable) {
		(void)pthread_mutex_lock(&conf_mu);
		if (conf.valid && same_source(&conf, c)) {
			memcpy(c, &conf, sizeof(*c));
			(void)pthread_mutex_unlock(&conf_mu);
			return 0;
		}
		(void)pthread_mutex_unlock(&conf_mu);
	}
	if (conf_read(c) != 0)
		return -1;
	c->valid = 1;
	if (cacheable) {
		(void)pthread_mutex_lock(&conf_mu);
		memcpy(&conf, c, sizeof(conf));
		(void)pthread_mutex_unlock(&conf_mu);
	}
	return 0;
}

/* ns_samename without libresolv: case-insensitive, a final dot ignored. */
static int
same_name(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/*
 * glibc's res_hostalias (resolv/res_query.c): the first line of the file
 * HOSTALIASES names whose first word is name (case-insensitive, a final
 * dot ignored on either side) gives its second word; a line without
 * white space ends the search.
 */
static int
alias_of(const char *name, char *dst, size_t len)
{
	const char *file = getenv("HOSTALIASES");
	char buf[BUFSIZ], *p, *q;
	int found = 0;
	FILE *fp;

	if (file == NULL || (fp = fopen(file, "rce")) == NULL)
		return 0;
	buf[sizeof(buf) - 1] = '\0';
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		for (p = buf; *p != '\0' && !isspace((unsigned char)*p); p++)
			;
		if (*p == '\0')
			break;
		*p = '\0';
		if (!same_name(buf, name))
			continue;
		while (isspace((unsigned char)*++p))
			;
		if (*p == '\0')
			break;
		for (q = p + 1; *q != '\0' && !isspace((unsigned char)*q); q++)
			;
		*q = '\0';
		(void)snprintf(dst, len, "%s", p);
		found = 1;
		break;
	}
	(void)fclose(fp);
	return found;
}

static int
add(struct pd_search *s, enum pd_cand_kind kind, const char *name,
    const char *dom)
{
	int n;

	if (s->n >= PD_SEARCH_MAX)
		return 0;
	if (dom == NULL || *dom == '\0')
		n = snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
	else
		n = snprintf(s->name[s->n], sizeof(s->name[0]), "%s.%s",
		    name, dom);
	/* glibc's querydomain fails such a name: NO_RECOVERY, no query. */
	if (n < 0 || (size_t)n >= sizeof(s->name[0]))
		return 0;
	s->kind[s->n++] = kind;
	return 1;
}

/* The candidates for name under configuration c (glibc's order). */
static int
plan(const char *name, const struct conf *cp, struct pd_search *s)
{
	const struct conf *cc = cp;
	unsigned dots = 0, i;
	int searched = 0, root_on_list = 0, as_is_first = 0;
	size_t len;
	const char *p;

	s->n = 0;
	len = strlen(name);
	if (len == 0 || name[len - 1] == '.')
		return -1;
	for (p = name; *p != '\0'; p++)
		dots += *p == '.';

	if (dots == 0 && !(cc->options & RES_NOALIASES)) {
		char alias[NS_MAXDNAME];

		if (alias_of(name, alias, sizeof(alias))) {
			/* glibc queries the alias as written: no search. */
			len = strlen(alias);
			if (len > 0 && alias[len - 1] == '.')
				alias[len - 1] = '\0';
			(void)add(s, PD_CAND_ALIAS, alias, NULL);
			return s->n > 0 ? 0 : -1;
		}
	}
	if (dots >= cc->ndots) {
		as_is_first = 1;
		(void)add(s, PD_CAND_AS_IS_FIRST, name, NULL);
	}
	if ((dots == 0 && (cc->options & RES_DEFNAMES)) ||
	    (dots != 0 && (cc->options & RES_DNSRCH))) {
		for (i = 0; i < cc->ndom; i++) {
			const char *d = cc->dom[i];

			searched = 1;
			if (d[0] == '.')
				d++;
			if (d[0] == '\0')
				root_on_list = 1;
			(void)add(s, PD_CAND_DOMAIN, name, d);
			/* Without RES_DNSRCH glibc tries one domain only. */
			if (!(cc->options & RES_DNSRCH))
				break;
		}
	}
	if ((dots != 0 || !searched || !(cc->options & RES_NOTLDQUERY)) &&
	    !(as_is_first || root_on_list))
		(void)add(s, PD_CAND_AS_IS_LAST, name, NULL);
	return s->n > 0 ? 0 : -1;
}

int
pd_search_plan(const char *name, struct pd_search *s)
{
	struct conf c;

	s->n = 0;
	if (conf_get(&c) != 0)
		return -1;
	return plan(name, &c, s);
}

int
pd_search_plan_state(const char *name, const struct __res_state *st,
    struct pd_search *s)
{
	struct conf c;
	unsigned i;

	if (st == NULL || !(st->options & RES_INIT))
		return pd_search_plan(name, s);
	/* The caller's state, as its res_nsearch would read it. */
	c.options = st->options;
	c.ndots = st->ndots;
	c.ndom = 0;
	for (i = 0; i < MAXDNSRCH && st->dnsrch[i] != NULL; i++) {
		if (strlen(st->dnsrch[i]) >= sizeof(c.dom[0]))
			continue;
		strcpy(c.dom[c.ndom++], st->dnsrch[i]);
	}
	return plan(name, &c, s);
}

/*
 * pindns preload: the names glibc's resolver tries for one name
 * (preload/search.h), in the order of glibc 2.36's __res_context_search.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "preload/eng.h"
#include "preload/search.h"

/* Longest LOCALDOMAIN or RES_OPTIONS value kept to compare with. */
#define ENV_KEEP	1024

/*
 * The part of glibc's resolver configuration the search needs, with what
 * it was read from. Guarded by conf_mu, which is held only to compare and
 * plan from it (string work, never I/O) and is made anew in a child after
 * fork, so a fork while another thread holds it cannot lock the child out.
 */
struct conf {
	int		valid;
	/* What it was read from. */
	int		stat_errno;
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtim;
	int		has_localdomain, has_res_options;
	char		localdomain[ENV_KEEP];
	char		res_options[ENV_KEEP];
	/* What glibc made of it. */
	unsigned long	options;
	unsigned	ndots;
	unsigned	ndom;
	char		dom[MAXDNSRCH][NS_MAXDNAME];
};

/* Where the configuration comes from now (the variables: NULL unset). */
struct source {
	int		stat_errno;
	struct stat	st;
	const char	*ld;
	const char	*ro;
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

static void
source_now(struct source *src)
{
	src->stat_errno = 0;
	if (stat(_PATH_RESCONF, &src->st) != 0) {
		src->stat_errno = errno != 0 ? errno : ENOENT;
		memset(&src->st, 0, sizeof(src->st));
	}
	src->ld = getenv("LOCALDOMAIN");
	src->ro = getenv("RES_OPTIONS");
}

static int
env_same(const char *now, int had, const char *kept)
{
	return now == NULL ? !had : had && strcmp(now, kept) == 0;
}

/* Was c read from src? */
static int
source_same(const struct conf *c, const struct source *src)
{
	if (!c->valid || c->stat_errno != src->stat_errno)
		return 0;
	if (src->stat_errno == 0 && (c->dev != src->st.st_dev ||
	    c->ino != src->st.st_ino || c->size != src->st.st_size ||
	    c->mtim.tv_sec != src->st.st_mtim.tv_sec ||
	    c->mtim.tv_nsec != src->st.st_mtim.tv_nsec))
		return 0;
	return env_same(src->ld, c->has_localdomain, c->localdomain) &&
	    env_same(src->ro, c->has_res_options, c->res_options);
}

/* Record src in c. -1: a variable too long to keep (not cached then). */
static int
source_keep(struct conf *c, const struct source *src)
{
	c->stat_errno = src->stat_errno;
	c->dev = src->st.st_dev;
	c->ino = src->st.st_ino;
	c->size = src->st.st_size;
	c->mtim = src->st.st_mtim;
	c->has_localdomain = src->ld != NULL;
	c->has_res_options = src->ro != NULL;
	if ((src->ld != NULL && strlen(src->ld) >= sizeof(c->localdomain)) ||
	    (src->ro != NULL && strlen(src->ro) >= sizeof(c->res_options)))
		return -1;
	(void)strcpy(c->localdomain, src->ld != NULL ? src->ld : "");
	(void)strcpy(c->res_options, src->ro != NULL ? src->ro : "");
	return 0;
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

static void
add(struct pd_search *s, enum pd_cand_kind kind, const char *name,
    size_t nlen, const char *dom)
{
	size_t dlen = dom != NULL ? strlen(dom) : 0;
	char *p;

	if (s->n >= PD_SEARCH_MAX)
		return;
	/* glibc's querydomain fails such a name: NO_RECOVERY, no query. */
	if (nlen + 1 + dlen >= sizeof(s->name[0]))
		return;
	p = s->name[s->n];
	memcpy(p, name, nlen);
	if (dlen > 0) {
		p[nlen] = '.';
		memcpy(p + nlen + 1, dom, dlen);
		p[nlen + 1 + dlen] = '\0';
	} else
		p[nlen] = '\0';
	s->kind[s->n++] = kind;
}

/*
 * The search candidates for name (dots of them, no trailing dot) under
 * options, ndots and the search list dom[0..ndom-1], in glibc's order.
 */
static int
plan(const char *name, size_t nlen, unsigned dots, unsigned long options,
    unsigned ndots, const char *const *dom, unsigned ndom,
    struct pd_search *s)
{
	int searched = 0, root_on_list = 0, as_is_first = 0;
	unsigned i;

	if (dots >= ndots) {
		as_is_first = 1;
		add(s, PD_CAND_AS_IS_FIRST, name, nlen, NULL);
	}
	if ((dots == 0 && (options & RES_DEFNAMES)) ||
	    (dots != 0 && (options & RES_DNSRCH))) {
		for (i = 0; i < ndom; i++) {
			const char *d = dom[i];

			searched = 1;
			if (d[0] == '.')
				d++;
			if (d[0] == '\0')
				root_on_list = 1;
			add(s, PD_CAND_DOMAIN, name, nlen, d);
			/* Without RES_DNSRCH glibc tries one domain only. */
			if (!(options & RES_DNSRCH))
				break;
		}
	}
	if ((dots != 0 || !searched || !(options & RES_NOTLDQUERY)) &&
	    !(as_is_first || root_on_list))
		add(s, PD_CAND_AS_IS_LAST, name, nlen, NULL);
	return s->n > 0 ? 0 : -1;
}

/*
 * What every entry point checks first: -1 for a name glibc tries as
 * written only (empty, a trailing dot); else its length and dots.
 */
static int
shape(const char *name, size_t *lenp, unsigned *dotsp)
{
	size_t len = strlen(name);
	unsigned dots = 0;
	const char *p;

	if (len == 0 || name[len - 1] == '.')
		return -1;
	for (p = name; *p != '\0'; p++)
		dots += *p == '.';
	*lenp = len;
	*dotsp = dots;
	return 0;
}

/* HOSTALIASES (no dots, aliases allowed): the alias as the only name. */
static int
aliased(const char *name, unsigned dots, unsigned long options,
    struct pd_search *s)
{
	char alias[NS_MAXDNAME];
	size_t len;

	if (dots != 0 || (options & RES_NOALIASES) ||
	    !alias_of(name, alias, sizeof(alias)))
		return 0;
	/* glibc queries the alias as written: no search. */
	len = strlen(alias);
	if (len > 0 && alias[len - 1] == '.')
		alias[--len] = '\0';
	add(s, PD_CAND_ALIAS, alias, len, NULL);
	return 1;
}

static int
plan_conf(const char *name, size_t len, unsigned dots, const struct conf *c,
    struct pd_search *s)
{
	const char *dom[MAXDNSRCH];
	unsigned i;

	for (i = 0; i < c->ndom; i++)
		dom[i] = c->dom[i];
	return plan(name, len, dots, c->options, c->ndots, dom, c->ndom, s);
}

int
pd_search_plan(const char *name, struct pd_search *s)
{
	struct source src;
	struct conf *c;
	unsigned long options;
	unsigned dots;
	size_t len;
	int r;

	s->n = 0;
	if (shape(name, &len, &dots) != 0)
		return -1;
	(void)pthread_once(&conf_once, conf_init);
	source_now(&src);
	(void)pthread_mutex_lock(&conf_mu);
	if (source_same(&conf, &src)) {
		options = conf.options;
		if (dots != 0 || (options & RES_NOALIASES)) {
			/* The common case: plan under the lock, no copy. */
			r = plan_conf(name, len, dots, &conf, s);
			(void)pthread_mutex_unlock(&conf_mu);
			return r;
		}
		(void)pthread_mutex_unlock(&conf_mu);
		/* The alias file is read outside the lock. */
		if (aliased(name, dots, options, s))
			return 0;
		(void)pthread_mutex_lock(&conf_mu);
		r = plan_conf(name, len, dots, &conf, s);
		(void)pthread_mutex_unlock(&conf_mu);
		return r;
	}
	(void)pthread_mutex_unlock(&conf_mu);

	/* Read anew (rare: the first call, a change), outside the lock. */
	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	r = -1;
	if (conf_read(c) != 0)
		goto out;
	c->valid = 1;
	if (source_keep(c, &src) == 0) {
		(void)pthread_mutex_lock(&conf_mu);
		memcpy(&conf, c, sizeof(conf));
		(void)pthread_mutex_unlock(&conf_mu);
	}
	if (aliased(name, dots, c->options, s)) {
		r = 0;
		goto out;
	}
	r = plan_conf(name, len, dots, c, s);
out:
	free(c);
	return r;
}

int
pd_search_plan_state(const char *name, const struct __res_state *st,
    struct pd_search *s)
{
	const char *dom[MAXDNSRCH];
	unsigned dots, i, ndom = 0;
	size_t len;

	if (st == NULL || !(st->options & RES_INIT))
		return pd_search_plan(name, s);
	s->n = 0;
	if (shape(name, &len, &dots) != 0)
		return -1;
	if (aliased(name, dots, st->options, s))
		return 0;
	/* The caller's state, as its res_nsearch would read it. */
	for (i = 0; i < MAXDNSRCH && st->dnsrch[i] != NULL; i++)
		dom[ndom++] = st->dnsrch[i];
	return plan(name, len, dots, st->options, st->ndots, dom, ndom, s);
}

int
pd_search_claims(const struct pd_search *s, const char *asked,
    unsigned char *claimed)
{
	unsigned i;
	int any = 0;

	for (i = 0; i < s->n; i++) {
		claimed[i] = strcmp(s->name[i], asked) != 0 &&
		    pd_eng_claims(s->name[i]);
		any |= claimed[i];
	}
	return any;
}

enum pd_cand_out
pd_cand_of_herrno(int herr)
{
	switch (herr) {
	case HOST_NOT_FOUND:
		return PD_CAND_NONAME;
	case NO_DATA:
		return PD_CAND_NODATA;
	case TRY_AGAIN:
		return PD_CAND_AGAIN;
	default:
		return PD_CAND_OTHER;
	}
}

int
pd_search_run(const struct pd_search *s, const unsigned char *claimed,
    pd_cand_try try, void *ctx, enum pd_cand_out *out)
{
	enum pd_cand_out o, first = PD_CAND_FOUND;
	unsigned i;
	int nodata = 0, again = 0, done = 0;

	for (i = 0; i < s->n; i++) {
		if (done && s->kind[i] == PD_CAND_DOMAIN)
			continue;
		o = try(ctx, s, i, claimed[i]);
		if (o == PD_CAND_FOUND || o == PD_CAND_STOP)
			return 1;
		if (claimed[i] && o != PD_CAND_NONAME && o != PD_CAND_NODATA)
			return 1;	/* refused or failed: fail closed */
		if (s->kind[i] == PD_CAND_AS_IS_FIRST)
			first = o;
		if (o == PD_CAND_NODATA)
			nodata = 1;
		else if (o == PD_CAND_AGAIN)
			again = 1;
		else if (o != PD_CAND_NONAME) {
			/* glibc stops searching, then tries the name as is. */
			if (s->kind[i] != PD_CAND_DOMAIN)
				return 1;
			done = 1;
		}
	}
	*out = first != PD_CAND_FOUND ? first : nodata ? PD_CAND_NODATA :
	    again ? PD_CAND_AGAIN : PD_CAND_NONAME;
	return 0;
}

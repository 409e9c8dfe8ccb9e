/*
 * pindns preload: res_query, res_search, res_querydomain and their res_n*
 * forms, under both the names libc 2.34+ exports at GLIBC_2.34 and the
 * __res_* names programs built against older headers bind (GLIBC_2.2.5,
 * libresolv's before 2.34, libc's since). SPEC §4.1.
 *
 * The engine decides on the name glibc would put in the question (for
 * res_querydomain: name.domain, as glibc composes it). Unclaimed names go
 * to the real call with the caller's arguments and resolver state, so
 * libc's reply reaches the caller byte for byte. A claimed A or AAAA
 * question is answered by the engine with a reply message; any other
 * type or class for a claimed name is refused (never sent in clear).
 *
 * Return value and h_errno as glibc's __res_context_query sets them: the
 * message length for an answer with records; -1 with HOST_NOT_FOUND for
 * NXDOMAIN and NO_DATA for an empty NOERROR (the message is still in the
 * buffer); -1 with NO_RECOVERY for a refusal and TRY_AGAIN for a
 * temporary failure (nothing written). A message longer than the buffer
 * is cut with TC set and its full length returned, as glibc does.
 *
 * res_search: a claimed name is answered as it is. A name no rule claims
 * that glibc would complete (HOSTALIASES, the search list of the
 * caller's resolver state) into a claimed one is searched here, in
 * glibc's order (preload/search.h); otherwise libc searches as always.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "preload/eng.h"
#include "preload/real.h"
#include "preload/search.h"

/* glibc's MAXDNAME and HFIXEDSZ (arpa/nameser.h). */
#define RQ_NAME_MAX	1025
#define RQ_HDR		12

enum rq_kind { RQ_QUERY, RQ_SEARCH, RQ_DOMAIN };

struct rq {
	enum rq_kind	 kind;
	res_state	 st;		/* NULL: the non-n form */
	const char	*name;
	const char	*domain;	/* RQ_DOMAIN */
	int		 cls;
	int		 type;
	unsigned char	*answer;
	int		 anslen;
};

/* The real call, as the caller made it. */
static int
rq_real(const struct rq *q)
{
	const struct pd_real *r = pd_real();

	switch (q->kind) {
	case RQ_QUERY:
		return q->st != NULL ? r->res_nquery(q->st, q->name, q->cls,
		    q->type, q->answer, q->anslen) : r->res_query(q->name,
		    q->cls, q->type, q->answer, q->anslen);
	case RQ_SEARCH:
		return q->st != NULL ? r->res_nsearch(q->st, q->name, q->cls,
		    q->type, q->answer, q->anslen) : r->res_search(q->name,
		    q->cls, q->type, q->answer, q->anslen);
	case RQ_DOMAIN:
		return q->st != NULL ? r->res_nquerydomain(q->st, q->name,
		    q->domain, q->cls, q->type, q->answer, q->anslen) :
		    r->res_querydomain(q->name, q->domain, q->cls, q->type,
		    q->answer, q->anslen);
	}
	return -1;
}

/* glibc's RES_SET_H_ERRNO: the state's copy and the thread's. */
static int
rq_fail(res_state st, int herr)
{
	st->res_h_errno = herr;
	h_errno = herr;
	return -1;
}

/*
 * The name glibc's __res_context_querydomain puts in the question:
 * name.domain, or name without one trailing dot. NULL when glibc would
 * refuse it (too long): the real call then says so.
 */
static const char *
rq_name(const struct rq *q, char *buf, size_t len)
{
	size_t n;
	int w;

	if (q->kind != RQ_DOMAIN)
		return q->name;
	if (q->domain != NULL) {
		w = snprintf(buf, len, "%s.%s", q->name, q->domain);
		return w < 0 || (size_t)w >= RQ_NAME_MAX ? NULL : buf;
	}
	n = strlen(q->name);
	if (n == 0 || n - 1 >= RQ_NAME_MAX - 1)
		return NULL;
	if (q->name[n - 1] != '.')
		return q->name;
	memcpy(buf, q->name, n - 1);
	buf[n - 1] = '\0';
	return buf;
}

/*
 * What glibc makes of a reply with rcode and ancount (res_query.c). Its
 * res_search starts by setting HOST_NOT_FOUND and leaves it there on
 * success; res_query leaves h_errno alone then (measured).
 */
static int
rq_reply(const struct rq *q, res_state st, const struct pd_dnsr *r)
{
	if (r->len > (size_t)q->anslen)
		q->answer[2] |= 0x02;	/* TC: cut to the caller's buffer */
	if (r->rcode == 3)
		return rq_fail(st, HOST_NOT_FOUND);
	if (r->rcode == 0 && r->ancount == 0)
		return rq_fail(st, NO_DATA);
	if (q->kind == RQ_SEARCH)
		(void)rq_fail(st, HOST_NOT_FOUND);
	return (int)r->len;
}

static int rq_run(struct rq *q);

/*
 * res_search of a name no rule claims as written that glibc would
 * complete into one a rule claims: each candidate as res_query of that
 * absolute name answers it (claimed ones from the engine, the others by
 * libc with the caller's state), in glibc's order; a claimed candidate
 * refused or failed ends the search with that outcome. Else libc's own
 * res_search, untouched.
 */
/* One res_search being searched: the call and its state. */
struct rq_searching {
	const struct rq		*q;
	res_state		st;
	int			rc;
};

static enum pd_cand_out
rq_try(void *ctx, const struct pd_search *s, unsigned i, int claimed)
{
	struct rq_searching *w = ctx;
	struct rq c = *w->q;

	(void)claimed;
	c.kind = RQ_QUERY;
	c.name = s->name[i];
	if ((w->rc = rq_run(&c)) > 0)
		return PD_CAND_FOUND;
	return pd_cand_of_herrno(w->st->res_h_errno);
}

static int
rq_search(struct rq *q, res_state st)
{
	unsigned char claimed[PD_SEARCH_MAX];
	struct rq_searching w = { .q = q, .st = st };
	struct pd_search s;
	enum pd_cand_out out;

	if (pd_search_plan_state(q->name, st, &s) != 0)
		return rq_real(q);
	if (!pd_search_claims(&s, q->name, claimed))
		return rq_real(q);
	if (pd_search_run(&s, claimed, rq_try, &w, &out)) {
		if (w.rc <= 0)
			return -1;
		(void)rq_fail(st, HOST_NOT_FOUND);	/* as glibc */
		return w.rc;
	}
	return rq_fail(st, out == PD_CAND_NODATA ? NO_DATA :
	    out == PD_CAND_AGAIN ? TRY_AGAIN : HOST_NOT_FOUND);
}

static int
rq_run(struct rq *q)
{
	char buf[RQ_NAME_MAX + 1];
	struct pd_dnsq dq;
	struct pd_dnsr r;
	res_state st;
	const char *name;
	int saved_errno = errno, rc;

	if (q->name == NULL || pd_eng_guarded() || q->answer == NULL ||
	    (name = rq_name(q, buf, sizeof(buf))) == NULL)
		return rq_real(q);
	st = q->st != NULL ? q->st : &_res;

	memset(&dq, 0, sizeof(dq));
	dq.name = name;
	/* glibc writes both as 16-bit fields (res_nmkquery, ns_put16). */
	dq.qclass = (uint16_t)q->cls;
	dq.qtype = (uint16_t)q->type;
	/* A state not yet initialised gets RES_DEFAULT, which recurses. */
	dq.rd = !(st->options & RES_INIT) || (st->options & RES_RECURSE);
	pd_eng_answer(&dq, q->answer, q->anslen < RQ_HDR ? 0 :
	    (size_t)q->anslen, &r);

	switch (r.verdict) {
	case PD_VERDICT_SYSTEM:
		errno = saved_errno;
		if (q->kind == RQ_SEARCH)
			return rq_search(q, st);
		return rq_real(q);
	case PD_VERDICT_SYSTEM_PINNED:
		errno = saved_errno;
		if ((rc = rq_real(q)) < 0 || rc > q->anslen)
			return rc;
		saved_errno = errno;
		pd_eng_pin_reply(&dq, q->answer, (size_t)rc,
		    (size_t)q->anslen, &r);
		errno = saved_errno;
		if (r.verdict != PD_VERDICT_ACCEPTED) {
			/* No refused address may linger for a careless reader. */
			memset(q->answer, 0, (size_t)rc);
			return rq_fail(st, NO_RECOVERY);
		}
		if (r.len > (size_t)q->anslen)
			q->answer[2] |= 0x02;
		return (int)r.len;
	case PD_VERDICT_ACCEPTED:
	case PD_VERDICT_ABSENT:
		errno = saved_errno;
		/* glibc's res_send refuses a buffer short of a header. */
		if (q->anslen < RQ_HDR) {
			errno = EINVAL;
			return rq_fail(st, TRY_AGAIN);
		}
		return rq_reply(q, st, &r);
	case PD_VERDICT_FAILED:
		errno = saved_errno;
		return rq_fail(st, TRY_AGAIN);
	case PD_VERDICT_REFUSED:
	default:
		errno = saved_errno;
		return rq_fail(st, NO_RECOVERY);
	}
}

#define HOOK __attribute__((visibility("default")))

HOOK int
res_query(const char *dname, int cls, int type, unsigned char *answer,
    int anslen)
{
	struct rq q = { RQ_QUERY, NULL, dname, NULL, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

HOOK int
res_search(const char *dname, int cls, int type, unsigned char *answer,
    int anslen)
{
	struct rq q = { RQ_SEARCH, NULL, dname, NULL, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

HOOK int
res_querydomain(const char *name, const char *domain, int cls, int type,
    unsigned char *answer, int anslen)
{
	struct rq q = { RQ_DOMAIN, NULL, name, domain, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

HOOK int
res_nquery(res_state st, const char *dname, int cls, int type,
    unsigned char *answer, int anslen)
{
	struct rq q = { RQ_QUERY, st, dname, NULL, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

HOOK int
res_nsearch(res_state st, const char *dname, int cls, int type,
    unsigned char *answer, int anslen)
{
	struct rq q = { RQ_SEARCH, st, dname, NULL, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

HOOK int
res_nquerydomain(res_state st, const char *name, const char *domain, int cls,
    int type, unsigned char *answer, int anslen)
{
	struct rq q = { RQ_DOMAIN, st, name, domain, cls, type, answer,
	    anslen };

	return rq_run(&q);
}

/*
 * The names older headers mapped these calls to (GLIBC_2.2.5): a program
 * bound to them reaches the same hooks. Aliases, so the two are one
 * function whichever a caller compares; __THROW gives them the
 * attributes <resolv.h> gives their targets.
 */
extern __typeof(res_query) __res_query __THROW
    __attribute__((alias("res_query"), visibility("default")));
extern __typeof(res_search) __res_search __THROW
    __attribute__((alias("res_search"), visibility("default")));
extern __typeof(res_querydomain) __res_querydomain __THROW
    __attribute__((alias("res_querydomain"), visibility("default")));
extern __typeof(res_nquery) __res_nquery __THROW
    __attribute__((alias("res_nquery"), visibility("default")));
extern __typeof(res_nsearch) __res_nsearch __THROW
    __attribute__((alias("res_nsearch"), visibility("default")));
extern __typeof(res_nquerydomain) __res_nquerydomain __THROW
    __attribute__((alias("res_nquerydomain"), visibility("default")));

/*
 * pindns preload: getaddrinfo.
 *
 * The order of checks is glibc 2.36's (sysdeps/posix/getaddrinfo.c):
 * flags, family, AI_ADDRCONFIG, service and socket type, and only then the
 * name. Names glibc parses as addresses, node == NULL and AI_NUMERICHOST go
 * to libc at once; every other name is put to the engine, whose verdict
 * says whether libc answers (SYSTEM), libc answers under pins
 * (SYSTEM_PINNED), or we answer from its addresses.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/build.h"
#include "preload/eng.h"
#include "preload/idn.h"
#include "preload/numeric.h"
#include "preload/real.h"
#include "preload/search.h"
#include "preload/sort.h"
#include "preload/tstate.h"

/* glibc's DEPRECATED_AI_IDN: accepted and ignored. */
#define GAI_DEPRECATED_IDN	0x0300
#define GAI_FLAGS_OK	(AI_PASSIVE | AI_CANONNAME | AI_NUMERICHOST | \
    AI_ADDRCONFIG | AI_V4MAPPED | AI_IDN | AI_CANONIDN | GAI_DEPRECATED_IDN | \
    AI_NUMERICSERV | AI_ALL)
/* What hints == NULL means to glibc: AI_DEFAULT, AF_UNSPEC. */
#define GAI_FLAGS_DEFAULT	(AI_V4MAPPED | AI_ADDRCONFIG)

struct gai_req {
	const char		*node;		/* the name decided on */
	const char		*libc_node;	/* the name libc is given */
	const char		*service;
	const struct addrinfo	*hints;		/* as the caller gave it */
	int			 flags;		/* effective hints */
	int			 family;
	struct pd_tuples	 tp;
	struct pd_tstate	*ts;		/* may be NULL (no memory) */
	struct pd_netinfo	*ni;
	int			 saved_errno;	/* the caller's */
	int			 pre_errno;	/* after the service lookup */
	int			 errno_final;	/* errno holds what to leave */
	int			 searching;	/* trying search candidates */
};

static int
v4mapped(const uint8_t *a)
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

/* Append the addresses of family from r to v (unused bytes zeroed). */
static unsigned
take(const struct pd_result *r, int family, int map, int skip_mapped,
    struct pd_addr *v, unsigned n)
{
	unsigned i;

	for (i = 0; i < r->naddrs && n < PD_MAX_ADDRS; i++) {
		const struct pd_addr *a = &r->addrs[i];

		if (a->family != family)
			continue;
		memset(&v[n], 0, sizeof(v[n]));
		if (family == AF_INET6) {
			if (skip_mapped && v4mapped(a->addr))
				continue;
			v[n].family = AF_INET6;
			memcpy(v[n].addr, a->addr, 16);
		} else if (map) {
			/* AI_V4MAPPED: ::ffff:a.b.c.d */
			v[n].family = AF_INET6;
			v[n].addr[10] = v[n].addr[11] = 0xff;
			memcpy(&v[n].addr[12], a->addr, 4);
		} else {
			v[n].family = AF_INET;
			memcpy(v[n].addr, a->addr, 4);
		}
		n++;
	}
	return n;
}

static unsigned
count(const struct pd_result *r, int family)
{
	unsigned i, n = 0;

	if (r->verdict != PD_VERDICT_ACCEPTED)
		return 0;
	for (i = 0; i < r->naddrs; i++)
		n += r->addrs[i].family == family;
	return n;
}

/* glibc's try_simple_gethostbyname case. */
static int
simple(const struct gai_req *q)
{
	return q->family == AF_INET && !(q->flags & AI_CANONNAME);
}

/*
 * An outcome that is no answer, with errno as glibc leaves it: EAGAIN for
 * a temporary failure (its resolver's *errnop), 0 for a missing name on
 * the gethostbyname2_r path, the caller's value otherwise.
 */
static int
fail(struct gai_req *q, const struct pd_result *r)
{
	q->errno_final = 1;
	if (r->verdict == PD_VERDICT_FAILED)
		errno = EAGAIN;
	else if (r->verdict == PD_VERDICT_ABSENT && simple(q))
		errno = 0;
	else
		errno = q->pre_errno;
	return pd_build_eai(r);
}

/* No address of the family asked for: NODATA. */
static int
nodata(struct gai_req *q)
{
	struct pd_result r;

	r.verdict = PD_VERDICT_ABSENT;
	r.reason = PD_REASON_NODATA;
	return fail(q, &r);
}

/* Our answer: glibc's node list for the addresses, sorted as glibc. */
static int
answer(struct gai_req *q, const struct pd_result *r,
    const struct pd_addr *v, unsigned n, struct addrinfo **res)
{
	uint16_t order[PD_MAX_ADDRS * PD_SERV_MAX];
	char buf[PD_CANON_MAX + 1];
	const char *canon = NULL;
	int aliased;

	/*
	 * glibc answering from DNS leaves errno 0 (measured: every family,
	 * with and without AI_CANONNAME); then its sort's failed connect()
	 * calls may set it.
	 */
	errno = 0;
	q->errno_final = 1;
	if (n > 1)
		pd_sort_nodes(q->ts != NULL ? &q->ts->sort : NULL, q->ni, v, n,
		    &q->tp, order);
	if (q->flags & AI_CANONNAME)
		canon = pd_build_canon(r, q->node, buf, sizeof(buf), &aliased);
	return pd_build_addrinfo(v, n, &q->tp, n > 1 ? order : NULL,
	    q->hints != NULL ? q->hints->ai_flags : GAI_FLAGS_DEFAULT, canon,
	    res);
}

/*
 * SYSTEM_PINNED: libc answered in list; hold its addresses against the
 * pins and unlink the nodes the engine drops. IPv4-mapped addresses are
 * judged as the IPv4 addresses they are.
 */
static int
pinned(const char *node, struct addrinfo *list, struct addrinfo **res)
{
	struct addrinfo *ai, *next, **link, *head = list;
	struct pd_addr *v = NULL;
	unsigned *idx = NULL, n = 0, nd = 0, i, k;
	uint8_t *keep = NULL;
	struct pd_result r;
	char *canon;
	int rc = EAI_MEMORY;

	for (ai = list; ai != NULL; ai = ai->ai_next)
		n++;
	v = calloc(n, sizeof(*v));
	idx = calloc(n, sizeof(*idx));
	keep = calloc(n, 1);
	if (v == NULL || idx == NULL || keep == NULL)
		goto out;
	for (ai = list, k = 0; ai != NULL; ai = ai->ai_next, k++) {
		struct pd_addr a;

		memset(&a, 0, sizeof(a));
		if (ai->ai_family == AF_INET6 && ai->ai_addr != NULL) {
			const uint8_t *p = ((const struct sockaddr_in6 *)
			    (void *)ai->ai_addr)->sin6_addr.s6_addr;

			if (v4mapped(p)) {
				a.family = AF_INET;
				memcpy(a.addr, p + 12, 4);
			} else {
				a.family = AF_INET6;
				memcpy(a.addr, p, 16);
			}
		} else if (ai->ai_family == AF_INET && ai->ai_addr != NULL) {
			a.family = AF_INET;
			memcpy(a.addr, &((const struct sockaddr_in *)
			    (void *)ai->ai_addr)->sin_addr, 4);
		} else
			a.family = AF_UNSPEC;	/* never kept */
		for (i = 0; i < nd; i++)
			if (memcmp(&v[i], &a, sizeof(a)) == 0)
				break;
		if (i == nd)
			v[nd++] = a;
		idx[k] = i;
	}
	pd_eng_filter(node, v, nd, keep, &r);
	rc = EAI_FAIL;
	if (r.verdict != PD_VERDICT_ACCEPTED)
		goto out;

	/*
	 * Unlink dropped nodes; the canonical name stays on the first. From
	 * here on the nodes are freed one by one, so list must not be.
	 */
	list = NULL;
	canon = head->ai_canonname;
	head->ai_canonname = NULL;
	for (link = &head, ai = head, k = 0; ai != NULL; ai = next, k++) {
		next = ai->ai_next;
		if (v[idx[k]].family != AF_UNSPEC && keep[idx[k]]) {
			link = &ai->ai_next;
			continue;
		}
		*link = next;
		ai->ai_next = NULL;
		freeaddrinfo(ai);
	}
	if (head == NULL) {
		free(canon);
		goto out;
	}
	head->ai_canonname = canon;
	*res = head;
	rc = 0;
out:
	if (list != NULL)
		freeaddrinfo(list);
	free(v);
	free(idx);
	free(keep);
	return rc;
}

/* Hand the call to libc, as the caller made it. */
static int
to_libc(struct gai_req *q, struct addrinfo **res, int pins)
{
	struct addrinfo *list = NULL;
	int rc, e;

	q->errno_final = 1;
	errno = q->saved_errno;
	if (!pins)
		return pd_real()->getaddrinfo(q->libc_node, q->service,
		    q->hints, res);
	rc = pd_real()->getaddrinfo(q->libc_node, q->service, q->hints,
	    &list);
	if (rc != 0)
		return rc;
	e = errno;
	rc = pinned(q->node, list, res);
	errno = e;
	return rc;
}

/*
 * AF_INET6 with AI_V4MAPPED and without AI_ALL: glibc asks for AAAA and
 * only when there is none for A, handed out as ::ffff:a.b.c.d. A refused
 * AAAA lookup is not papered over with A records.
 */
static int
v4mapped_only(struct gai_req *q, struct pd_result *r, struct addrinfo **res)
{
	struct pd_addr v[PD_MAX_ADDRS];
	unsigned n;

	if (count(r, AF_INET6) > 0) {
		/* glibc drops mapped AAAA records once real ones exist. */
		if ((n = take(r, AF_INET6, 0, 1, v, 0)) == 0)
			return EAI_NONAME;
		return answer(q, r, v, n, res);
	}
	if (r->verdict == PD_VERDICT_REFUSED ||
	    (r->verdict == PD_VERDICT_ABSENT &&
	    r->reason != PD_REASON_NODATA))
		return fail(q, r);
	pd_eng_lookup(q->node, PD_WANT_A, r);
	switch (r->verdict) {
	case PD_VERDICT_SYSTEM:
		return to_libc(q, res, 0);
	case PD_VERDICT_SYSTEM_PINNED:
		return to_libc(q, res, 1);
	case PD_VERDICT_ACCEPTED:
		if ((n = take(r, AF_INET, 1, 0, v, 0)) == 0)
			return nodata(q);
		return answer(q, r, v, n, res);
	default:
		return fail(q, r);
	}
}

static int unclaimed(struct gai_req *q, struct addrinfo **res);

static int
lookup(struct gai_req *q, struct addrinfo **res)
{
	struct pd_addr v[PD_MAX_ADDRS];
	struct pd_result r;
	unsigned want, n = 0;
	int mapped = q->family == AF_INET6 && (q->flags & AI_V4MAPPED);

	if (q->family == AF_INET)
		want = PD_WANT_A;
	else if (q->family == AF_INET6)
		want = mapped && (q->flags & AI_ALL) ?
		    PD_WANT_A | PD_WANT_AAAA : PD_WANT_AAAA;
	else
		want = PD_WANT_A | PD_WANT_AAAA;
	pd_eng_lookup(q->node, want, &r);

	switch (r.verdict) {
	case PD_VERDICT_SYSTEM:
		return unclaimed(q, res);
	case PD_VERDICT_SYSTEM_PINNED:
		return to_libc(q, res, 1);
	case PD_VERDICT_ACCEPTED:
		break;
	default:
		if (mapped && !(q->flags & AI_ALL))
			return v4mapped_only(q, &r, res);
		return fail(q, &r);
	}
	if (mapped && !(q->flags & AI_ALL))
		return v4mapped_only(q, &r, res);

	if (q->family == AF_INET)
		n = take(&r, AF_INET, 0, 0, v, 0);
	else if (q->family == AF_INET6) {
		/* AAAA first, then (AI_V4MAPPED | AI_ALL) the mapped A. */
		n = take(&r, AF_INET6, 0, 0, v, 0);
		if (mapped)
			n = take(&r, AF_INET, 1, 0, v, n);
	} else {
		/* glibc's DNS order: the A answer, then the AAAA answer. */
		n = take(&r, AF_INET, 0, 0, v, 0);
		n = take(&r, AF_INET6, 0, 0, v, n);
	}
	if (n == 0)
		return nodata(q);
	return answer(q, &r, v, n, res);
}

/*
 * A name no rule claims as written. glibc may still complete it, through
 * HOSTALIASES or the search list, into one a rule claims (SPEC §4.1): then
 * the candidates are tried here, in glibc's order (preload/search.h),
 * each as an absolute name, the claimed ones through the engine and the
 * others through libc with a trailing dot, so that libc does not search
 * again. A claimed candidate that is refused or fails ends the lookup
 * with that outcome: it is never papered over by a later candidate that
 * plain DNS answers. Names none of whose candidates a rule claims go to
 * libc untouched.
 */
struct gai_search {
	struct gai_req		*q;
	struct addrinfo		**res;
	int			rc;
	char			dotted[NS_MAXDNAME + 1];
};

static enum pd_cand_out
gai_try(void *ctx, const struct pd_search *s, unsigned i, int claimed)
{
	struct gai_search *g = ctx;

	(void)claimed;
	g->q->node = s->name[i];
	(void)snprintf(g->dotted, sizeof(g->dotted), "%s.", s->name[i]);
	g->q->libc_node = g->dotted;
	switch (g->rc = lookup(g->q, g->res)) {
	case 0:
		return PD_CAND_FOUND;
	case EAI_NONAME:
		return PD_CAND_NONAME;
	case EAI_NODATA:
		return PD_CAND_NODATA;
	case EAI_AGAIN:
		return PD_CAND_AGAIN;
	default:
		return PD_CAND_OTHER;
	}
}

static int
unclaimed(struct gai_req *q, struct addrinfo **res)
{
	unsigned char claimed[PD_SEARCH_MAX];
	struct gai_search g;
	struct pd_search s;
	enum pd_cand_out out;

	if (q->searching || pd_search_plan(q->node, &s) != 0)
		return to_libc(q, res, 0);
	if (!pd_search_claims(&s, q->node, claimed))
		return to_libc(q, res, 0);

	q->searching = 1;
	g.q = q;
	g.res = res;
	if (pd_search_run(&s, claimed, gai_try, &g, &out))
		return g.rc;
	return out == PD_CAND_NODATA ? EAI_NODATA : out == PD_CAND_AGAIN ?
	    EAI_AGAIN : EAI_NONAME;
}

static inline __attribute__((always_inline)) int
gai(const char *node, const char *service, const struct addrinfo *hints,
    struct addrinfo **res)
{
	struct pd_netinfo local_ni;
	struct addrinfo sh;
	struct gai_req q;
	char *idn = NULL;
	int saved_errno = errno, rc;

	memset(&q, 0, sizeof(q));
	memset(&local_ni, 0, sizeof(local_ni));
	q.saved_errno = saved_errno;
	q.node = q.libc_node = node;
	q.service = service;
	q.hints = hints;
	q.flags = hints != NULL ? hints->ai_flags : GAI_FLAGS_DEFAULT;
	q.family = hints != NULL ? hints->ai_family : AF_UNSPEC;

	if (q.flags & ~GAI_FLAGS_OK) {
		rc = EAI_BADFLAGS;
		goto out;
	}
	if (q.family != AF_UNSPEC && q.family != AF_INET &&
	    q.family != AF_INET6) {
		rc = EAI_FAMILY;
		goto out;
	}
	q.ts = pd_tstate_get();
	q.ni = q.ts != NULL ? &q.ts->net : &local_ni;
	if (q.flags & AI_ADDRCONFIG) {
		pd_netinfo_get(q.ni);
		if (q.family == AF_UNSPEC &&
		    (q.ni->seen_ipv4 || q.ni->seen_ipv6)) {
			/* Only one family configured: look up only that. */
			if (q.ni->seen_ipv4 != q.ni->seen_ipv6)
				q.family = q.ni->seen_ipv4 ? AF_INET : AF_INET6;
		} else if ((q.family == AF_INET && !q.ni->seen_ipv4) ||
		    (q.family == AF_INET6 && !q.ni->seen_ipv6)) {
			rc = EAI_NONAME;
			goto out;
		}
	}
	memset(&sh, 0, sizeof(sh));
	sh.ai_flags = q.flags;
	sh.ai_socktype = hints != NULL ? hints->ai_socktype : 0;
	sh.ai_protocol = hints != NULL ? hints->ai_protocol : 0;
	errno = saved_errno;
	rc = pd_serv_tuples(q.ts != NULL ? &q.ts->serv : NULL, service, &sh,
	    &q.tp);
	if (rc != 0) {
		saved_errno = errno;	/* as glibc leaves it on this error */
		goto out;
	}
	q.pre_errno = errno;
	/*
	 * AI_IDN: decide on the A-label name glibc will query (preload/idn.h);
	 * libc still gets the name as given, and converts it the same way.
	 */
	if (q.flags & AI_IDN) {
		switch (pd_idn_to_ascii(node, &idn)) {
		case PD_IDN_OK:
			q.node = idn;
			break;
		case PD_IDN_REFUSE:
			/* Never to libc: it might convert it after all. */
			rc = EAI_IDN_ENCODE;
			goto out;
		case PD_IDN_NOMEM:
			rc = EAI_MEMORY;
			goto out;
		case PD_IDN_LIBC:
			break;
		}
		errno = q.pre_errno;
	}

	rc = lookup(&q, res);
	if (q.errno_final)
		saved_errno = errno;
out:
	if (idn != NULL)
		free(idn);
	pd_netinfo_clear(&local_ni);
	errno = saved_errno;
	return rc;
}

__attribute__((visibility("default"))) int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	if (node == NULL || pd_eng_guarded() ||
	    (hints != NULL && (hints->ai_flags & AI_NUMERICHOST)) ||
	    pd_numeric_gai(node))
		return pd_real()->getaddrinfo(node, service, hints, res);
	return gai(node, service, hints, res);
}

/*
 * pindns preload: the gethostbyname family.
 *
 * Names glibc answers without a lookup (nss/digits_dots.c) and families
 * other than AF_INET/AF_INET6 go to libc. For the rest the engine decides;
 * our answers are laid out by the _r builder, in the caller's buffer for
 * the _r calls (ERANGE when it is short) and in per-thread storage for
 * gethostbyname/gethostbyname2 (musl's retry with a growing buffer).
 *
 * errno and h_errno are what glibc leaves for a name its DNS module
 * answers behind the usual "hosts: files dns" (measured): the _r calls
 * leave errno equal to their return value (0 on success and for a name
 * that does not exist, EAGAIN for TRY_AGAIN, ERANGE) and the global
 * h_errno equal to *h_errnop on failure, HOST_NOT_FOUND (the files
 * module's miss) on success; the plain calls set h_errno only on failure.
 * A policy refusal (NO_RECOVERY) returns ENOENT: glibc returns whatever
 * errno its resolver left there, which is no contract.
 */
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/build.h"
#include "preload/eng.h"
#include "preload/numeric.h"
#include "preload/real.h"
#include "preload/search.h"
#include "preload/tstate.h"

#define HBUF_FIRST	1024

/* The _r return value (and errno) for an h_errno that is a failure. */
static int
he_ret(int herr)
{
	switch (herr) {
	case HOST_NOT_FOUND:
	case NO_DATA:
		return 0;
	case TRY_AGAIN:
		return EAGAIN;
	case NETDB_INTERNAL:
		return ERANGE;
	default:
		return ENOENT;
	}
}

static int
he_pass(const char *name, int af)
{
	return name == NULL || pd_eng_guarded() ||
	    (af != AF_INET && af != AF_INET6) || pd_numeric_hostent(name, af);
}

/*
 * Our answer into buf: 0, ERANGE, or an h_errno value (> 0 and not
 * ERANGE: HOST_NOT_FOUND 1 .. NO_DATA 4) in *herr with 0 returned.
 */
static int
he_build(const char *name, int af, const struct pd_result *r,
    struct hostent *h, char *buf, size_t len, int *herr)
{
	char cbuf[PD_CANON_MAX + 1], qbuf[PD_CANON_MAX + 1];
	const char *hname, *q = name;
	unsigned i, n = 0;
	int aliased;
	size_t l = strlen(name);

	for (i = 0; i < r->naddrs; i++)
		n += r->addrs[i].family == af;
	if (n == 0) {
		*herr = NO_DATA;
		return 0;
	}
	hname = pd_build_canon(r, name, cbuf, sizeof(cbuf), &aliased);
	/* glibc (DNS): the query name is an alias when a CNAME led away. */
	if (l > 1 && name[l - 1] == '.' && l - 1 < sizeof(qbuf)) {
		memcpy(qbuf, name, l - 1);
		qbuf[l - 1] = '\0';
		q = qbuf;
	}
	*herr = NETDB_SUCCESS;
	return pd_build_hostent(hname, aliased ? q : NULL, af, r->addrs,
	    r->naddrs, h, buf, len);
}

/*
 * SYSTEM_PINNED on a hostent libc filled: drop the addresses the pins
 * refuse (compacting h_addr_list in place). 0 kept some, else NO_RECOVERY.
 */
static int
he_pinned(const char *name, struct hostent *h)
{
	struct pd_addr *v = NULL;
	struct pd_result r;
	uint8_t *keep = NULL;
	unsigned n = 0, i, k;
	int rc = NO_RECOVERY;

	if (h->h_addr_list == NULL ||
	    (h->h_length != 4 && h->h_length != 16))
		return NO_RECOVERY;
	while (h->h_addr_list[n] != NULL)
		n++;
	if (n == 0)
		return NO_RECOVERY;
	v = calloc(n, sizeof(*v));
	keep = calloc(n, 1);
	if (v == NULL || keep == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		v[i].family = h->h_length == 16 ? AF_INET6 : AF_INET;
		memcpy(v[i].addr, h->h_addr_list[i], (size_t)h->h_length);
	}
	pd_eng_filter(name, v, n, keep, &r);
	if (r.verdict != PD_VERDICT_ACCEPTED)
		goto out;
	for (i = 0, k = 0; i < n; i++)
		if (keep[i])
			h->h_addr_list[k++] = h->h_addr_list[i];
	h->h_addr_list[k] = NULL;
	if (k > 0)
		rc = 0;
out:
	free(v);
	free(keep);
	return rc;
}

/* The real _r call for name and af (gethostbyname_r for AF_INET). */
static int
he_real_r(const char *name, int af, int two, struct hostent *ret, char *buf,
    size_t len, struct hostent **result, int *herr)
{
	if (!two)
		return pd_real()->gethostbyname_r(name, ret, buf, len, result,
		    herr);
	return pd_real()->gethostbyname2_r(name, af, ret, buf, len, result,
	    herr);
}

/*
 * Everything but SYSTEM, for the engine's verdict r: the _r contract on
 * the caller's (or our per-thread) buffer.
 */
static int
he_answer(const char *name, int af, int two, const struct pd_result *r,
    struct hostent *ret, char *buf, size_t len, struct hostent **result,
    int *h_errnop, int saved_errno)
{
	int rc, herr;

	switch (r->verdict) {
	case PD_VERDICT_SYSTEM:
	case PD_VERDICT_SYSTEM_PINNED:
		errno = saved_errno;
		rc = he_real_r(name, af, two, ret, buf, len, result, h_errnop);
		if (r->verdict == PD_VERDICT_SYSTEM || rc != 0 ||
		    *result == NULL)
			return rc;
		if ((herr = he_pinned(name, ret)) == 0)
			return 0;
		break;
	case PD_VERDICT_ACCEPTED:
		rc = he_build(name, af, r, ret, buf, len, &herr);
		if (rc == ERANGE)
			herr = NETDB_INTERNAL;
		else if (herr == NETDB_SUCCESS) {
			*result = ret;
			*h_errnop = NETDB_SUCCESS;
			h_errno = HOST_NOT_FOUND;
			errno = 0;
			return 0;
		}
		break;
	default:
		herr = pd_build_herrno(r);
		break;
	}
	*result = NULL;
	*h_errnop = herr;
	if (herr != NETDB_INTERNAL)
		h_errno = herr;
	errno = he_ret(herr);
	return he_ret(herr);
}

/*
 * A name no rule claims as written that glibc would complete into one a
 * rule claims (HOSTALIASES, the search list: preload/search.h). Returns 1
 * with *s and claimed[] filled when the candidates are to be tried here,
 * 0 when libc gets the name untouched.
 */
static int
he_plan(const char *name, const struct pd_result *r, struct pd_search *s,
    unsigned char *claimed)
{
	if (r->verdict != PD_VERDICT_SYSTEM || pd_search_plan(name, s) != 0)
		return 0;
	return pd_search_claims(s, name, claimed);
}

/* One gethostbyname*_r call being searched: its arguments and result. */
struct he_search {
	int			af, two, saved_errno, rc;
	struct hostent		*ret, **result;
	char			*buf;
	size_t			len;
	int			*h_errnop;
	char			dotted[NS_MAXDNAME + 1];
};

static enum pd_cand_out
he_try(void *ctx, const struct pd_search *s, unsigned i, int claimed)
{
	struct he_search *h = ctx;
	struct pd_result r;

	(void)snprintf(h->dotted, sizeof(h->dotted), "%s.", s->name[i]);
	pd_eng_lookup(s->name[i], h->af == AF_INET6 ? PD_WANT_AAAA :
	    PD_WANT_A, &r);
	h->rc = he_answer(claimed ? s->name[i] : h->dotted, h->af, h->two,
	    &r, h->ret, h->buf, h->len, h->result, h->h_errnop,
	    h->saved_errno);
	if (h->rc == 0 && *h->result != NULL)
		return PD_CAND_FOUND;
	if (h->rc == ERANGE || *h->h_errnop == NETDB_INTERNAL)
		return PD_CAND_STOP;	/* the caller's buffer is short */
	return pd_cand_of_herrno(*h->h_errnop);
}

/*
 * The candidates of a plan, through preload/search.c's driver: claimed
 * ones through the engine, the others through libc as absolute names.
 */
static int
he_search(const struct pd_search *s, const unsigned char *claimed, int af,
    int two, struct hostent *ret, char *buf, size_t len,
    struct hostent **result, int *h_errnop, int saved_errno)
{
	struct he_search h = {
		.af = af, .two = two, .saved_errno = saved_errno, .ret = ret,
		.result = result, .buf = buf, .len = len, .h_errnop = h_errnop
	};
	enum pd_cand_out out;
	int herr;

	if (pd_search_run(s, claimed, he_try, &h, &out))
		return h.rc;
	herr = out == PD_CAND_NODATA ? NO_DATA : out == PD_CAND_AGAIN ?
	    TRY_AGAIN : HOST_NOT_FOUND;
	*result = NULL;
	*h_errnop = herr;
	h_errno = herr;
	errno = he_ret(herr);
	return he_ret(herr);
}

static int
he_r(const char *name, int af, int two, struct hostent *ret, char *buf,
    size_t len, struct hostent **result, int *h_errnop)
{
	unsigned char claimed[PD_SEARCH_MAX];
	struct pd_search s;
	struct pd_result r;
	int saved_errno = errno;

	pd_eng_lookup(name, af == AF_INET6 ? PD_WANT_AAAA : PD_WANT_A, &r);
	if (he_plan(name, &r, &s, claimed))
		return he_search(&s, claimed, af, two, ret, buf, len, result,
		    h_errnop, saved_errno);
	return he_answer(name, af, two, &r, ret, buf, len, result, h_errnop,
	    saved_errno);
}

__attribute__((visibility("default"))) int
gethostbyname_r(const char *name, struct hostent *ret, char *buf,
    size_t buflen, struct hostent **result, int *h_errnop)
{
	if (he_pass(name, AF_INET))
		return pd_real()->gethostbyname_r(name, ret, buf, buflen,
		    result, h_errnop);
	return he_r(name, AF_INET, 0, ret, buf, buflen, result, h_errnop);
}

__attribute__((visibility("default"))) int
gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
    size_t buflen, struct hostent **result, int *h_errnop)
{
	if (he_pass(name, af))
		return pd_real()->gethostbyname2_r(name, af, ret, buf, buflen,
		    result, h_errnop);
	return he_r(name, af, 1, ret, buf, buflen, result, h_errnop);
}

/*
 * gethostbyname/gethostbyname2: libc's own call for names that are not
 * ours, else the _r path into this thread's storage, growing it while
 * the answer does not fit.
 */
static struct hostent *
he_static(const char *name, int af, int two)
{
	unsigned char claimed[PD_SEARCH_MAX];
	struct pd_search s;
	struct pd_tstate *ts;
	struct hostent *result = NULL;
	struct pd_result r;
	char *nb;
	size_t nl;
	int rc, herr = 0, saved_errno = errno, search;

	pd_eng_lookup(name, af == AF_INET6 ? PD_WANT_AAAA : PD_WANT_A, &r);
	search = he_plan(name, &r, &s, claimed);
	if (r.verdict == PD_VERDICT_SYSTEM && !search) {
		errno = saved_errno;
		return two ? pd_real()->gethostbyname2(name, af) :
		    pd_real()->gethostbyname(name);
	}
	if ((ts = pd_tstate_get()) == NULL) {
		h_errno = NETDB_INTERNAL;
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		if (ts->hbuf != NULL) {
			rc = search ? he_search(&s, claimed, af, two, &ts->hent,
			    ts->hbuf, ts->hlen, &result, &herr, saved_errno) :
			    he_answer(name, af, two, &r, &ts->hent, ts->hbuf,
			    ts->hlen, &result, &herr, saved_errno);
			if (rc != ERANGE || herr != NETDB_INTERNAL)
				break;
		}
		nl = ts->hlen != 0 ? ts->hlen * 2 : HBUF_FIRST;
		if ((nb = realloc(ts->hbuf, nl)) == NULL) {
			h_errno = NETDB_INTERNAL;
			errno = ENOMEM;
			return NULL;
		}
		ts->hbuf = nb;
		ts->hlen = nl;
	}
	/* glibc sets h_errno only when the lookup failed. */
	if (herr != 0)
		h_errno = herr;
	return result;
}

__attribute__((visibility("default"))) struct hostent *
gethostbyname(const char *name)
{
	if (he_pass(name, AF_INET))
		return pd_real()->gethostbyname(name);
	return he_static(name, AF_INET, 0);
}

__attribute__((visibility("default"))) struct hostent *
gethostbyname2(const char *name, int af)
{
	if (he_pass(name, af))
		return pd_real()->gethostbyname2(name, af);
	return he_static(name, af, 1);
}

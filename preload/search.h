/*
 * pindns preload: the names glibc's resolver tries for one name.
 *
 * glibc 2.36 completes a name without a trailing dot before it asks DNS
 * (resolv/res_query.c __res_context_search): a name without dots may be
 * an alias in the file HOSTALIASES names; a name with at least `ndots`
 * dots is tried as is first; then, with RES_DEFNAMES (no dot) or
 * RES_DNSRCH (dots), the name under each domain of the search list; then
 * the name as is, if it was not tried yet. A name no rule claims as
 * written may so become a name a rule claims (`dynamodb` with `search
 * us-east-1.amazonaws.com`): the preload asks the engine about each
 * candidate and, when one is claimed, tries them itself, in this order
 * (SPEC §4.1).
 *
 * The configuration is glibc's own: res_ninit() on a private state reads
 * resolv.conf, LOCALDOMAIN and RES_OPTIONS exactly as the resolver does.
 * It is read once and again only when resolv.conf's identity (device,
 * inode, size, mtime) or one of the two variables changes.
 */
#ifndef PD_PRELOAD_SEARCH_H
#define PD_PRELOAD_SEARCH_H

#include <arpa/nameser.h>
#include <resolv.h>

/* The search list, and the name as is (first or last), or one alias. */
#define PD_SEARCH_MAX	(MAXDNSRCH + 1)

enum pd_cand_kind {
	PD_CAND_AS_IS_FIRST,	/* enough dots: its error is the one reported */
	PD_CAND_DOMAIN,		/* name.domain from the search list */
	PD_CAND_AS_IS_LAST,	/* the name as is, after the search list */
	PD_CAND_ALIAS		/* HOSTALIASES: the only candidate */
};

struct pd_search {
	unsigned		n;
	enum pd_cand_kind	kind[PD_SEARCH_MAX];
	/* Absolute names, without the trailing dot. */
	char			name[PD_SEARCH_MAX][NS_MAXDNAME];
};

/*
 * The candidates glibc tries for name, in its order, into *s. Returns 0,
 * or -1 when glibc would try name as written and nothing else (a trailing
 * dot, an empty name) or the configuration cannot be read (then libc
 * decides, as it would have without pindns). Thread-safe; makes one
 * stat(2) of resolv.conf and, when it changed, reads it again.
 */
int	pd_search_plan(const char *name, struct pd_search *s);

/*
 * The same for res_nsearch(st, name): the search list, ndots and options
 * of the caller's resolver state when it is initialised (a program may
 * have set them itself), else as pd_search_plan().
 */
int	pd_search_plan_state(const char *name, const struct __res_state *st,
	    struct pd_search *s);

/*
 * Ask the engine about each candidate of s (claimed[i]: 1 when a rule
 * claims s->name[i]). asked is the name as the caller passed it, which
 * the engine has already judged unclaimed: a candidate equal to it is
 * not asked again. Returns nonzero when any candidate is claimed.
 */
int	pd_search_claims(const struct pd_search *s, const char *asked,
	    unsigned char *claimed);

/*
 * How one candidate came out, in the classes glibc's search tells apart
 * (__res_context_search): the door maps its own result (EAI_*, h_errno)
 * to one of these and keeps the result itself.
 */
enum pd_cand_out {
	PD_CAND_FOUND,		/* an answer: the search ends with it */
	PD_CAND_NONAME,		/* the name does not exist: try the next */
	PD_CAND_NODATA,		/* no data of the type: try the next */
	PD_CAND_AGAIN,		/* temporary failure: try the next */
	PD_CAND_OTHER,		/* any other failure */
	PD_CAND_STOP		/* end now (the caller's buffer is short) */
};

/* The class of an h_errno value (gethostbyname*, res_*). */
enum pd_cand_out	pd_cand_of_herrno(int herr);

/* Look candidate i of the plan up, as an absolute name. */
typedef enum pd_cand_out (*pd_cand_try)(void *ctx, const struct pd_search *s,
    unsigned i, int claimed);

/*
 * Try the candidates of s in glibc's order: the first answer wins, a
 * name without data or a temporary failure moves on, and, as glibc, any
 * other failure stops the search list (the name as is is still tried
 * last). A claimed candidate that is refused or fails ends the search
 * with that outcome: it is never papered over by a later candidate that
 * plain DNS answers. Returns 1 when the search ended with the last
 * candidate tried (the door returns that candidate's own result), or 0
 * with *out set to glibc's choice of error: the first try's when the
 * name had enough dots, else NODATA, else AGAIN, else NONAME.
 */
int	pd_search_run(const struct pd_search *s, const unsigned char *claimed,
	    pd_cand_try try, void *ctx, enum pd_cand_out *out);

#endif /* PD_PRELOAD_SEARCH_H */

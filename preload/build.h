/*
 * pindns preload: libc results built from the engine's plain structs, and
 * the one mapping from engine outcomes to EAI_* and h_errno (SPEC §4).
 */
#ifndef PD_PRELOAD_BUILD_H
#define PD_PRELOAD_BUILD_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/addr.h"
#include "preload/serv.h"
#include "resolver/engine.h"

/*
 * getaddrinfo's code for an outcome that is not an answer: ABSENT
 * (EAI_NONAME for NXDOMAIN, EAI_NODATA for NODATA), REFUSED (EAI_FAIL),
 * FAILED (EAI_AGAIN). Anything else is EAI_FAIL: never a code glibc does
 * not use.
 */
int	pd_build_eai(const struct pd_result *r);

/* The h_errno for the same outcomes: HOST_NOT_FOUND, NO_DATA, NO_RECOVERY,
 * TRY_AGAIN. */
int	pd_build_herrno(const struct pd_result *r);

/*
 * The canonical name to report for a lookup of name: the name as the
 * caller spelled it, without a trailing dot, when the engine's canon is
 * empty or the same name in another case (no CNAME: glibc reports the
 * query name), otherwise the engine's canon. Returns buf (len bytes,
 * at least PD_CANON_MAX + 1), r->canon or name; *aliased is set to
 * whether a CNAME led elsewhere.
 */
const char *pd_build_canon(const struct pd_result *r, const char *name,
	    char *buf, size_t len, int *aliased);

/*
 * A getaddrinfo result laid out exactly as glibc lays it out, so that
 * libc's own freeaddrinfo frees it: one malloc per node holding the struct
 * addrinfo with its sockaddr right behind it, ai_canonname a separate
 * malloc on the first node only. Node k is address order[k] / tp->n with
 * tuple order[k] % tp->n (order NULL: k itself); naddrs * tp->n nodes.
 * flags is stored in every node's ai_flags (glibc stores the hints'
 * flags); canon, when not NULL, is copied into the first node. Returns 0
 * with *res set, EAI_MEMORY with nothing left allocated, or EAI_NONAME
 * (glibc's code for an empty result) when there is no node.
 */
int	pd_build_addrinfo(const struct pd_addr *addrs, unsigned naddrs,
	    const struct pd_tuples *tp, const uint16_t *order, int flags,
	    const char *canon, struct addrinfo **res);

/*
 * A struct hostent in the caller's buffer: h_name hname, h_aliases
 * holding alias (or empty when alias is NULL), h_addrtype af with the
 * addresses of that family from addrs[0..n-1] in order. Every string and
 * array is copied into buf; nothing points at the arguments. Returns 0,
 * or ERANGE when buflen is too small (*h untouched then).
 */
int	pd_build_hostent(const char *hname, const char *alias, int af,
	    const struct pd_addr *addrs, unsigned n, struct hostent *h,
	    char *buf, size_t buflen);

#endif /* PD_PRELOAD_BUILD_H */

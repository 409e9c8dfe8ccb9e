/*
 * pindns preload: the engine as the hooks see it.
 *
 * libpindns-engine.so is dlopened from the preload's own directory on the
 * first lookup of a non-numeric name (never in a constructor), its table
 * `pindns_engine_v1` checked for PD_ENGINE_ABI and init() called once.
 * When any of that fails, every lookup is refused (fail closed) and one
 * line on stderr says why, once per process. A failure that may pass
 * (dlopen or init short of descriptors or memory) is retried on a lookup
 * at most once a second; a table that is not ours is final.
 *
 * The re-entrancy guard lives here too: getdns, libunbound and OpenSSL
 * import getaddrinfo and friends, so a hook entered while this thread is
 * inside the engine, or on a thread the engine created, must go straight
 * to libc.
 */
#ifndef PD_PRELOAD_ENG_H
#define PD_PRELOAD_ENG_H

#include <stdint.h>

#include "resolver/engine.h"

/*
 * Nonzero while this thread is inside the engine; set for good on threads
 * the engine made (engine.h struct pd_host). Static TLS: the preload is
 * loaded at start-up, so initial-exec costs one load per check.
 */
extern __thread int pd_eng_guard __attribute__((tls_model("initial-exec")));

/* True when a hook must hand its call to libc untouched. */
static inline int
pd_eng_guarded(void)
{
	return pd_eng_guard != 0;
}

/*
 * The engine's decision for name (non-NULL, not numeric) and want
 * (PD_WANT_A and/or PD_WANT_AAAA). Loads the engine on first use. When the
 * engine is unavailable, *res is REFUSED with POLICY_UNLOADABLE. Always
 * fills *res; may change errno (callers restore it).
 */
void	pd_eng_lookup(const char *name, unsigned want, struct pd_result *res);

/*
 * Whether the engine handles a lookup of name (engine.h ->claims): 1 for
 * any verdict but plain SYSTEM, and when the engine is unavailable.
 */
int	pd_eng_claims(const char *name);

/*
 * SYSTEM_PINNED: hold libc's addrs[0..n-1] for name against the rule's
 * pins; keep[i] is set to 1 (hand out) or 0 (drop) and *res gets ACCEPTED
 * or REFUSED. When the engine is unavailable: REFUSED, keep all zero.
 */
void	pd_eng_filter(const char *name, const struct pd_addr *addrs,
	    unsigned n, uint8_t *keep, struct pd_result *res);

/*
 * res_query and friends (engine.h ->answer, ->pin_reply). When the engine
 * is unavailable, or is one without these entries, *r is REFUSED with
 * POLICY_UNLOADABLE (fail closed). h_errno is kept; errno may change.
 */
void	pd_eng_answer(const struct pd_dnsq *q, uint8_t *buf, size_t len,
	    struct pd_dnsr *r);
void	pd_eng_pin_reply(const struct pd_dnsq *q, uint8_t *buf, size_t len,
	    size_t cap, struct pd_dnsr *r);

/*
 * The engine's responder (engine.h struct pd_sock_ops), loading the
 * engine on first use. NULL when the engine is unavailable.
 */
const struct pd_sock_ops *pd_eng_sock(void);

#endif /* PD_PRELOAD_ENG_H */

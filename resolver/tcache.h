/*
 * pindns thread cache: a small cache private to each thread, in front of
 * everything else, that answers the hot path (issue 4, item 6).
 *
 * A steadily busy worker asks for the same few names again and again.
 * Each thread keeps its own copy of those answers and decisions, keyed by
 * the name exactly as the caller passed it (so a hit needs neither
 * normalisation nor rule matching) and the wanted families, and checks
 * them against the policy generation. A hit reads only this thread's
 * memory, one shared word (the generation) and the coarse clock: no lock,
 * no atomic read-modify-write, no system call, no cache line written that
 * another thread reads.
 *
 * An entry is valid while its generation is current and until its
 * reuse_until time: for answers from the shared cache that is the start of
 * the last tenth of the TTL, when the shared cache must be asked again so
 * that it can start the refresh-ahead; for decisions that depend on the
 * policy only (static, deny, system) it is forever.
 *
 * 4-way set associative, 128 entries, indexed by the keyed hash the caller
 * passes (pd_cache_hash of the name): hostile names can only evict each
 * other, never slow a lookup down. Memory is freed when the thread exits.
 */
#ifndef PD_TCACHE_H
#define PD_TCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resolver/engine.h"

/* Names longer than this (as passed) are not kept. */
#define PD_TCACHE_NAME_MAX	256

/* Flags kept with an entry, for the engine. */
#define PD_TC_LOG	1u	/* write an audit line on every hit */

/* What the engine keeps beside the result, for logging a hit. */
struct pd_tcache_meta {
	const void	*rule;		/* the engine's rule pointer */
	unsigned	 flags;		/* PD_TC_* */
	uint32_t	 ttl;		/* res->ttl when expire_ms is 0 */
	char		 dnssec[16];
};

/*
 * Look (name, want) up in this thread's cache. name[0..len-1] as the
 * caller passed it, h = pd_cache_hash(name, len), gen the policy
 * generation in force. On a hit fills *res (verdict, reason, ttl, naddrs,
 * addrs[0..naddrs-1], canon; nothing else is written) and meta->rule and
 * meta->flags, and the rest of *meta when flags has PD_TC_LOG; returns
 * true. On a miss writes nothing. Makes no system call.
 */
bool pd_tcache_get(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, uint64_t now_ms, struct pd_result *res,
    struct pd_tcache_meta *meta);

/*
 * Keep res for (name, want) in this thread's cache: valid for gen until
 * until_ms (UINT64_MAX: as long as gen is current). expire_ms is the end of
 * the TTL (hits then report the seconds left), or 0 for a fixed TTL
 * (meta->ttl). Out of memory, or a name longer than PD_TCACHE_NAME_MAX,
 * silently keeps nothing.
 */
void pd_tcache_put(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, uint64_t until_ms, uint64_t expire_ms,
    const struct pd_result *res, const struct pd_tcache_meta *meta);

/* Empty this thread's cache (tests). */
void pd_tcache_flush(void);

#endif /* PD_TCACHE_H */

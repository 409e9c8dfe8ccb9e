/*
 * pindns cache: the shared answer cache of one policy (issue 4, item 6).
 *
 * Holds the outcome of `secure` lookups, keyed by (normalised name,
 * wanted families), hashed with a keyed SipHash-2-4 (libsodium
 * crypto_shorthash, a random key per process) so that names chosen by an
 * attacker cannot pile up in one chain. Positive answers (ACCEPTED) and
 * negative ones (ABSENT, RFC 2308) are kept for their TTL clamped into
 * [min_ttl, max_ttl]; refusals and failures are never cached. At most
 * max_entries entries: the least recently used goes first.
 *
 * Refresh-ahead (unbound's prefetch): a lookup that finds an entry in the
 * last tenth of its TTL is handed the entry's one refresh
 * (PD_CACHE_REFRESH); nobody else is until that refresh is reported, so at
 * most one is in flight per entry. Serve-stale (RFC 8767): an expired
 * positive entry stays usable for stale_ttl seconds, to be served only
 * when every upstream fails.
 *
 * This level is shared by every thread and sits behind per-thread caches
 * (resolver/tcache.h) that take the hot path; it is striped, one mutex per
 * stripe, and is reached on a thread-cache miss only. Every function takes
 * the time as an argument (a monotonic clock in milliseconds) so tests can
 * drive it.
 *
 * Threads: all functions are thread-safe. Fork: see pd_cache_lock_all()
 * and pd_cache_forked().
 */
#ifndef PD_CACHE_H
#define PD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/err.h"
#include "resolver/engine.h"

/*
 * After every upstream failed on an expired entry, serve it stale without
 * asking again for this long (RFC 8767 §5 calls it the failure recheck
 * timer and suggests 30 s; a lookup stack that waits timeout_ms per
 * attempt wants fewer attempts, a recovering upstream wants more; 5 s).
 */
#define PD_CACHE_STALE_RECHECK_MS	5000

struct pd_cache_cfg {
	uint32_t	max_entries;	/* 0: cache nothing */
	uint32_t	min_ttl;	/* seconds */
	uint32_t	max_ttl;
	uint32_t	stale_ttl;
};

/* What the log and `pindns query` show about a cached answer. */
struct pd_cache_note {
	char	dnssec[16];	/* "secure", "insecure", ... */
	char	upstream[64];	/* label of the upstream that answered */
};

/* Timing of an entry, for the per-thread copy of it. */
struct pd_cache_times {
	uint64_t	expire_ms;	/* end of the (clamped) TTL */
	uint64_t	reuse_until_ms;	/* a thread may answer from its own
					 * copy until then without asking
					 * this cache again */
};

enum pd_cache_hit {
	PD_CACHE_MISS = 0,	/* nothing usable: resolve */
	PD_CACHE_FRESH,		/* res holds a valid answer */
	PD_CACHE_REFRESH,	/* as FRESH, and the entry is in the last
				 * tenth of its TTL: the caller owns its one
				 * refresh and must end it with
				 * pd_cache_put() or
				 * pd_cache_refresh_failed() */
	PD_CACHE_STALE,		/* expired, inside stale_ttl: res holds the
				 * old answer; resolve, and serve res only if
				 * every upstream fails */
	PD_CACHE_STALE_HOLD	/* as STALE, but the upstreams failed less
				 * than PD_CACHE_STALE_RECHECK_MS ago: serve
				 * res without asking */
};

struct pd_cache;

/*
 * A cache with the given bounds. *cp is set on success only. PD_ENOMEM,
 * or PD_EINTERNAL when libsodium cannot be initialised (no key).
 */
enum pd_err pd_cache_new(const struct pd_cache_cfg *cfg, struct pd_cache **cp);

/* Free c and every entry. NULL is a no-op. */
void pd_cache_free(struct pd_cache *c);

/*
 * Keyed hash (SipHash-2-4) of buf with this process's random key, the same
 * key for every cache of the process. Thread-safe; the first call draws
 * the key. Returns 0 only by chance.
 */
uint64_t pd_cache_hash(const void *buf, size_t len);

/*
 * Look up (name, want); name is normalised, len its length. On every
 * result but MISS, res is filled (verdict, reason NONE, ttl remaining in
 * whole seconds rounded up, 0 when stale, addresses, canon), and *note and
 * *t when not NULL; on MISS nothing is written.
 */
enum pd_cache_hit pd_cache_get(struct pd_cache *c, const char *name,
    size_t len, unsigned want, uint64_t now_ms, struct pd_result *res,
    struct pd_cache_note *note, struct pd_cache_times *t);

/*
 * Store res for (name, want) at now_ms, replacing any entry (which ends a
 * refresh in flight on it). Only ACCEPTED (not STALE) and ABSENT results
 * are kept, with res->ttl clamped; anything else, or a clamped TTL of 0,
 * removes the entry instead. Returns true when stored, with *t filled
 * when not NULL. Out of memory just does not store.
 */
bool pd_cache_put(struct pd_cache *c, const char *name, size_t len,
    unsigned want, uint64_t now_ms, const struct pd_result *res,
    const struct pd_cache_note *note, struct pd_cache_times *t);

/*
 * Would pd_cache_put() keep res (an answer kind it caches, with a clamped
 * TTL above 0)? A refresh that would not must leave the entry it
 * refreshes alone (pd_cache_refresh_failed) rather than remove it: an
 * upstream cache counting the same TTL down answers with TTL 0 near the
 * end, and the old entry is valid until its own expiry.
 */
bool pd_cache_would_keep(const struct pd_cache *c, const struct pd_result *res);

/*
 * The refresh handed out with PD_CACHE_REFRESH got no usable answer: the
 * entry keeps serving until it expires, and is not refreshed again.
 */
void pd_cache_refresh_failed(struct pd_cache *c, const char *name,
    size_t len, unsigned want);

/*
 * Every upstream failed while (name, want) was stale: serve it without
 * asking for PD_CACHE_STALE_RECHECK_MS (STALE_HOLD).
 */
void pd_cache_hold(struct pd_cache *c, const char *name, size_t len,
    unsigned want, uint64_t now_ms);

/*
 * Remove every entry of name, whatever the families: its last answer
 * was refused, and an older answer must not be served stale (for this
 * family or another) after a refusal.
 */
void pd_cache_forget(struct pd_cache *c, const char *name, size_t len);

/* Number of entries (a snapshot; for tests and statistics). */
size_t pd_cache_count(struct pd_cache *c);

/*
 * Fork: lock every stripe (pthread_atfork prepare) and unlock them again
 * (parent and child), so a child never inherits a stripe locked by a
 * thread that does not exist there.
 */
void pd_cache_lock_all(struct pd_cache *c);
void pd_cache_unlock_all(struct pd_cache *c);

/*
 * Call in a forked child: refreshes in flight in the parent will never
 * report there, so their entries become refreshable again. Lock-free;
 * async-signal-safe.
 */
void pd_cache_forked(void);

#endif /* PD_CACHE_H */

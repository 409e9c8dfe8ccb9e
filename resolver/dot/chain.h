/*
 * pindns DoT backend: trust anchors and the DNSSEC chain cache.
 *
 * Stock getdns 1.6 stub validation fetches the whole chain (root, TLD and
 * zone DNSKEY and DS) for every lookup: 7 queries and 2 round trips for an
 * address lookup. This module keeps what a first lookup proved so that
 * later lookups send only the DO bit and validate locally, in the calling
 * thread, with getdns_validate_dnssec2():
 *
 *  - for a signed zone, its validated DNSKEY RRset, used as the trust
 *    anchor for RRsets that zone signs (one signature check), until the
 *    DNSKEY TTL or the earliest expiry of the RRSIGs over it;
 *  - for a zone proven unsigned under a signed parent (amazonaws.com under
 *    the real root today), the validation chain holding that proof, keyed
 *    by the deepest signed zone in it, so an unsigned answer below it is
 *    validated INSECURE without fetching the chain again.
 *
 * Anything else (no cached entry, a cached key set that no longer
 * validates after a ZSK rollover, an unsigned answer the cached proofs do
 * not cover) asks the caller to fetch the chain once and validate against
 * it; the outcome of that is final.
 *
 * Threads: every function is thread-safe. Cached lists are immutable and
 * reference-counted, so validations run in parallel without a lock held.
 */
#ifndef PD_DOT_CHAIN_H
#define PD_DOT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <getdns/getdns.h>

#include "policy/policy.h"
#include "resolver/dot/dot.h"

/* Seconds of clock skew tolerated on RRSIG inception and expiration. */
#define PD_CHAIN_SKEW		300
/* Cache bounds. */
#define PD_CHAIN_MAX_ZONES	64
#define PD_CHAIN_MAX_INSECURE	16

struct pd_chain;

/*
 * Parse the trust anchors of p with getdns_fp2rr_list, from the bytes the
 * policy loader read and checked (p->anchors[i].data; no file is opened
 * here). Every file must have been read, every line must be a resource
 * record getdns parses,
 * and each file must hold at least one DS or DNSKEY record (getdns itself
 * accepts a garbage or empty file silently and then answers
 * INDETERMINATE). On success *listp (may be NULL: count only) owns the
 * DS/DNSKEY records of all files and *countp their number. On failure err
 * says "FILE: why" or "FILE:LINE: why".
 */
enum pd_err	pd_chain_load_anchors(const struct pd_policy *p,
		    getdns_list **listp, size_t *countp, char *err,
		    size_t errlen);

/* A cache validating against anchors, which it adopts (may be NULL or
 * empty: everything is then INDETERMINATE). */
enum pd_err	pd_chain_new(getdns_list *anchors, struct pd_chain **cp);

/* Free; NULL is a no-op. */
void		pd_chain_free(struct pd_chain *c);

/* The anchors (read-only, owned by c), and how many there are. */
const getdns_list *pd_chain_anchors(const struct pd_chain *c);
size_t		pd_chain_nanchors(const struct pd_chain *c);

/*
 * Would a lookup of name be decided from the cache (a signed zone whose
 * keys are cached, or a cached insecurity proof, covers it)? Decides
 * whether the first query asks for the validation chain.
 */
bool		pd_chain_covers(struct pd_chain *c, const char *name,
		    time_t now);

/*
 * The DNSSEC status of one part of an answer. to_validate is a list
 * holding one reply dict (question, answer and/or authority) for one
 * RRset or one denial; owner is the name it is about and signer the zone
 * named by its RRSIGs (NULL when unsigned), both normalised. vchain is
 * the validation chain that came with this response, or NULL.
 *
 * With vchain, the result is final, and what it proves is cached. Without
 * it the cache decides; when it cannot (or a cached key set fails), the
 * result is provisional and *need_chain is set: fetch the chain, call
 * again with it.
 */
enum pd_sec	pd_chain_validate(struct pd_chain *c,
		    const getdns_list *to_validate, const char *owner,
		    const char *signer, const getdns_list *vchain, time_t now,
		    bool *need_chain);

/*
 * A first lookup of name need not wait for the validation chain: the
 * deepest zone at or above name that a trust anchor is for (zone, normalised,
 * PD_NAME_MAX + 1 bytes) has its DNSKEY RRset fetched beside the lookup's
 * own queries, on the same connection, and proved against the anchor
 * here (pd_chain_learn_keys). false when no anchor is for a zone above
 * name, or when that zone's keys are cached already.
 */
bool		pd_chain_prefetch_zone(struct pd_chain *c, const char *name,
		    time_t now, char *zone);

/*
 * resp is the response to a DNSKEY query for zone (DO bit set): its
 * DNSKEY RRset and the RRSIGs over it are validated against the trust
 * anchors alone, and the zone keys cached when SECURE. Anything else
 * (bogus, unsigned, a zone no anchor is for, a malformed response) caches
 * nothing. true when zone's keys are cached on return.
 */
bool		pd_chain_learn_keys(struct pd_chain *c, const char *zone,
		    const getdns_dict *resp, time_t now);

/* How many entries are cached, and how many RRsets the cached keys
 * decided without getdns (zkeys.h) (tests, figures). */
void		pd_chain_counts(struct pd_chain *c, size_t *zones,
		    size_t *insecure, uint64_t *fast);

#endif /* PD_DOT_CHAIN_H */

/*
 * pindns DoT backend: the resolver object behind dot.h's table.
 *
 * One backend thread per struct pd_dot owns its getdns contexts (one per
 * upstream) and the event loop, and runs every getdns call. Callers queue
 * queries, wait on a condition variable for at most the lookup budget,
 * and process and validate the replies in their own thread (GETDNS-NOTES
 * "Threads" (b): the throughput of a context per thread with a single TLS
 * connection and a lower p99); the second reply of an address lookup is
 * validated beside the first, by the backend thread when it is idle or a
 * validator thread (backend.h).
 *
 * Failover: each query tries the upstreams in policy order (or round
 * robin), healthy ones first; an attempt gets an equal share of what is
 * left of the budget, so a hung first upstream still leaves time for the
 * second. A connection error is retried once on the same upstream (an
 * idle connection the upstream closed, or an upstream that restarted).
 *
 * Contexts: making a getdns context costs about 3 ms here (libunbound
 * seeds a PRNG in each), so pd_dot_new() makes only the first upstream's,
 * the one a first lookup tries, and the backend thread makes another
 * upstream's when an attempt first goes there (the shipped policy lists
 * six upstreams: a first lookup made all six before). An upstream whose
 * context cannot be made fails that attempt, which moves on.
 *
 * Signals: every thread the backend creates blocks all asynchronous
 * signals; SIGPIPE raised by getdns writing to a closed connection (it
 * has no MSG_NOSIGNAL) stays pending on the backend thread and is
 * drained there, so the host process never sees it.
 *
 * Fork: pthread_atfork handlers take each backend thread's run lock, so a
 * fork never happens while getdns is inside a callback. In the child a
 * pd_dot refuses to resolve; pd_dot_free() there points the inherited
 * sockets at /dev/null before destroying the contexts, so nothing is ever
 * written to the parent's TLS sessions (or, if a descriptor cannot be
 * accounted for, leaks the contexts rather than risk it).
 */
#ifndef PD_DOT_WORKER_H
#define PD_DOT_WORKER_H

#include "resolver/dot/dot.h"

/* dot.h's operations. */
enum pd_err	pd_dot_new(const struct pd_policy *p,
		    const struct pd_host *host, struct pd_dot **dp, char *err,
		    size_t errlen);
void		pd_dot_free(struct pd_dot *d);
enum pd_err	pd_dot_resolve(struct pd_dot *d, const char *qname,
		    unsigned want, enum pd_dnssec_mode mode,
		    struct pd_dot_result *res);
enum pd_err	pd_dot_resolve_async(struct pd_dot *d, const char *qname,
		    unsigned want, enum pd_dnssec_mode mode, pd_dot_cb *cb,
		    void *arg);
enum pd_err	pd_dot_check_anchors(const struct pd_policy *p, char *err,
		    size_t errlen);

/* Counters, for tests and benchmarks (not part of the table). */
struct pd_dot_stats {
	uint64_t	queries;	/* getdns requests started */
	uint64_t	chain_queries;	/* of which with the validation chain */
	uint64_t	retries;	/* same-upstream retries (errors) */
	uint64_t	failovers;	/* attempts moved to another upstream */
	uint64_t	sigpipes;	/* SIGPIPEs drained (backend thread) */
	uint64_t	sockets;	/* sockets getdns opened (fixed up) */
	uint64_t	nodelay_fail;	/* TCP_NODELAY could not be set */
	uint64_t	contexts;	/* getdns contexts made */
	size_t		zones;		/* signed zones with cached keys */
	size_t		insecure;	/* cached insecurity proofs */
	uint64_t	fast;		/* RRsets proved by cached keys
					 * without getdns (zkeys.h) */
	uint64_t	beside;		/* replies validated beside the
					 * caller (by the idle backend thread
					 * or a validator) while it had
					 * another */
};

/* A snapshot of d's counters. */
void		pd_dot_stats(struct pd_dot *d, struct pd_dot_stats *s);

#endif /* PD_DOT_WORKER_H */

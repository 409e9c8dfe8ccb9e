/*
 * pindns DoT backend: upstream health (issue 17).
 *
 * Each upstream of a backend instance is up or down. A query that times
 * out on it, cannot connect to it, or fails its TLS authentication marks
 * it down, and the worker gives a down upstream no query at all: while
 * every upstream is down a lookup fails at once (pd_hset_all_down(), in
 * the caller's thread, no round trip to the backend thread) instead of
 * waiting timeout_ms. So an outage costs one timeout per process (per
 * backend instance), paid by the lookups in flight when it starts.
 *
 * The backend thread probes each down upstream in the background with a
 * query for ". SOA" (any reply, REFUSED included, proves that the
 * upstream answers over an authenticated TLS connection): first
 * PD_HEALTH_PROBE_MIN_MS after it went down, then, after each failed
 * probe, twice as long, up to PD_HEALTH_PROBE_MAX_MS. While lookups keep
 * failing fast, a probe is due PD_HEALTH_DEMAND_MS after the last one
 * ended at the latest (the backend thread looks at that demand once a
 * second while an upstream is down; callers never wake it: on a busy
 * machine the woken thread could preempt the caller): an upstream back
 * after a long outage is found within a second or two of the next
 * lookups, and an idle process sends one probe per 30 s per dead
 * upstream. A reply to a probe or to a query
 * marks the upstream up; the next lookup uses it.
 *
 * Fork: the state belongs to the backend instance, and a forked child
 * makes its own instance (resolver/engine_secure.c get_dot()): a child
 * starts with every upstream up, and pays its own first timeout.
 *
 * Threads: everything is the backend thread's except pd_hset_all_down(),
 * which any thread may call (an atomic load; hs->mu on the failure path).
 */
#ifndef PD_DOT_HEALTH_H
#define PD_DOT_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/context.h"
#include "resolver/dot/dot.h"
#include "resolver/dot/loop.h"

#define PD_HEALTH_PROBE_MIN_MS	1000
#define PD_HEALTH_PROBE_MAX_MS	30000
#define PD_HEALTH_DEMAND_MS	1000

struct pd_hset;

/* One upstream's state (backend thread, except what hs->mu guards). */
struct pd_health {
	struct pd_hset		*hs;
	unsigned		 i;		/* index in hs->ups */
	bool			 down;		/* hs->mu for readers */
	enum pd_dot_status	 why;		/* hs->mu */
	char			 detail[PD_DOT_WHY_MAX]; /* hs->mu */
	uint64_t		 since_ms;	/* hs->mu */
	uint64_t		 next_probe_ms;	/* hs->mu */
	uint64_t		 last_ms;	/* hs->mu: down, or last probe
						 * started or ended */
	uint32_t		 backoff_ms;
	unsigned		 probes;	/* failed probes since down */
	bool			 probing;
	getdns_transaction_t	 tid;
};

struct pd_hset {
	struct pd_up		*ups;
	unsigned		 n;
	getdns_dict		*ext;		/* plain query extensions */
	struct pd_health	*h;
	pthread_mutex_t		 mu;
	_Atomic unsigned	 ndown;
	_Atomic bool		 demand;	/* a lookup failed fast */
	uint64_t		 check_ms;	/* look at demand then */
	bool			 stopping;
	_Atomic uint64_t	 n_probes;
};

/* Set up hs for the n upstreams ups. PD_ENOMEM. */
enum pd_err	pd_hset_init(struct pd_hset *hs, struct pd_up *ups,
		    unsigned n, getdns_dict *ext);

/* Free what init allocated (child true: leave the mutex alone). */
void		pd_hset_fini(struct pd_hset *hs, bool child);

/* Upstream i may be given a query (backend thread). */
bool		pd_hset_usable(const struct pd_hset *hs, unsigned i);

/*
 * Upstream i failed a query with st (TIMEOUT, UNREACHABLE, TLS_AUTH);
 * detail says how (the upstream's label need not be in it). Marks it
 * down; a down upstream keeps its probe schedule (backend thread).
 */
void		pd_hset_fail(struct pd_hset *hs, unsigned i,
		    enum pd_dot_status st, const char *detail, uint64_t now);

/* Upstream i answered: it is up (backend thread). */
void		pd_hset_ok(struct pd_hset *hs, unsigned i);

/*
 * The index of a down upstream whose probe is due at now, or -1
 * (backend thread). *wait_ms is lowered to the time until the next one
 * is due, when sooner.
 */
int		pd_hset_due(struct pd_hset *hs, uint64_t now, int *wait_ms);

/* Send upstream i's probe (backend thread; after pd_hset_due()). */
void		pd_hset_probe(struct pd_hset *hs, unsigned i, uint64_t now);

/* Cancel the probes in flight (backend thread, shutting down). */
void		pd_hset_stop(struct pd_hset *hs);

/*
 * Any thread: when every upstream is down, fill res as the failed lookup
 * (status of the worst failure, upstream "", detail and one try per
 * upstream: why it is down and when it is probed next), ask the backend
 * thread for an early probe, and return true. false (nothing written)
 * when some upstream is up.
 */
bool		pd_hset_all_down(struct pd_hset *hs, struct pd_dot_result *res);

/*
 * Append a try to tries[0..*n-1] (bounded: PD_DOT_MAX_TRIES; a repeat of
 * the same upstream and reason adds count to that entry instead; a
 * "LABEL: " prefix of
 * why is dropped). label may be "".
 */
void		pd_dot_try_add(struct pd_dot_try *tries, unsigned *n,
		    const char *label, const char *why, unsigned count);

#endif /* PD_DOT_HEALTH_H */

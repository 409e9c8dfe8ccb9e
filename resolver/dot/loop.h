/*
 * pindns DoT backend: the event loop getdns runs on.
 *
 * A getdns_eventloop built on poll(2) plus an eventfd, so that the one
 * backend thread that owns the getdns contexts can sleep in poll() and
 * still be woken by callers queueing work. Its schedule hook sees every
 * descriptor getdns waits on; that is where the engine's sockets get
 * FD_CLOEXEC (so they never leak into exec'd programs) and TCP_NODELAY (so
 * a second query pipelined on a TLS connection does not wait one round
 * trip for the ACK of the first: getdns 1.6.0 sets neither).
 *
 * Threads: everything but pd_loop_wake() must be called from the thread
 * that runs the loop.
 */
#ifndef PD_DOT_LOOP_H
#define PD_DOT_LOOP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <getdns/getdns_extra.h>

#include "policy/err.h"

struct pd_loop;

/* Counters for tests and figures. */
struct pd_loop_stats {
	uint64_t	schedules;	/* schedule calls with a descriptor */
	uint64_t	sockets;	/* distinct sockets seen (fixed up) */
	uint64_t	nodelay_fail;	/* TCP_NODELAY could not be set */
};

/* A new loop with its eventfd (close-on-exec). *lp owns it. */
enum pd_err	pd_loop_new(struct pd_loop **lp);

/*
 * Free the loop. Call only after every getdns context using it is
 * destroyed (getdns clears its events on destroy). NULL is a no-op.
 */
void		pd_loop_free(struct pd_loop *l);

/* The getdns view of the loop, for getdns_context_set_eventloop(). */
getdns_eventloop *pd_loop_getdns(struct pd_loop *l);

/*
 * One round: wait at most timeout_ms (-1: no limit; the earliest getdns
 * timeout always bounds the wait) for a descriptor, a timeout or a
 * wake-up, then fire the callbacks that are due. When drop is not NULL
 * it is unlocked for the time spent in poll() and locked again before any
 * callback runs, so that a fork() can never observe the loop (and getdns)
 * in the middle of a callback. Returns how many descriptors were ready
 * plus how many timeouts fired (0: nothing happened), so that a caller
 * can poll with timeout 0 first and do deferred work only when the loop
 * would otherwise sleep.
 */
unsigned	pd_loop_run_once(struct pd_loop *l, int timeout_ms,
		    pthread_mutex_t *drop);

/* Wake the loop's thread from poll(). Thread-safe, async-signal-safe. */
void		pd_loop_wake(struct pd_loop *l);

/*
 * The descriptors that have an event scheduled right now (getdns keeps an
 * event on every open upstream connection, idle or not). Writes at most
 * max into fds; returns how many there are.
 */
size_t		pd_loop_fds(const struct pd_loop *l, int *fds, size_t max);

/* The eventfd itself (so a forked child can close it). */
int		pd_loop_wakefd(const struct pd_loop *l);

/* A copy of the counters. */
void		pd_loop_stats(const struct pd_loop *l, struct pd_loop_stats *s);

/* Milliseconds on the monotonic clock. */
uint64_t	pd_loop_now_ms(void);

#endif /* PD_DOT_LOOP_H */

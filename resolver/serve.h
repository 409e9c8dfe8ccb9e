/*
 * pindns engine: the second front door of the responder (resolver/resp.h)
 * for `pindns serve` (SPEC §8). The same loop, workers, TCP connections
 * and answering path (resp_query.c) serve the preload's private
 * endpoints and the listen addresses of a resolver daemon; only what
 * differs is here:
 *  - the sockets are the daemon's (bound before privileges were dropped)
 *    and X, where unclaimed queries go byte for byte, is the first
 *    nameserver of system_resolv_conf (none: they are REFUSED);
 *  - what is not one standard query with one question is REFUSED (the
 *    preload forwards it), a reply (QR set) or garbage is dropped;
 *  - a claimed query that waited longer than job_ms for a worker, or that
 *    finds the queue full, is answered SERVFAIL, never left unanswered;
 *  - audit lines carry the client's address ("client").
 * Linked into build/pindns only (it is part of the engine objects, but
 * nothing in the preload's path calls it).
 */
#ifndef PD_SERVE_H
#define PD_SERVE_H

#include <stdint.h>

struct sockaddr;

/* Limits (0: keep the current value). */
struct pd_serve_tune {
	unsigned	workers;	/* threads for claimed misses (max 64) */
	unsigned	fwd_max;	/* UDP forward sockets (max 256) */
	unsigned	tcp_max;	/* TCP connections at once (max 1024) */
	unsigned	tcp_idle_ms;	/* a connection without a whole message
					 * for this long is closed */
	uint64_t	job_ms;		/* queue wait before SERVFAIL */
};

void	pd_resp_serve_tune(const struct pd_serve_tune *t);

/*
 * Serve the bound UDP socket ufd and the listening TCP socket lfd (both
 * non-blocking, close-on-exec; ours from now on) on the responder's
 * thread, unclaimed queries going to x (xlen bytes; NULL: none). Starts
 * the loop on first use. 0, or -1 with errno.
 */
int	pd_resp_serve_listen(int ufd, int lfd, const struct sockaddr *x,
	    unsigned xlen);

#endif /* PD_SERVE_H */

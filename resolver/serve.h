/*
 * pindns engine: the second front door of the responder (resolver/resp.h)
 * for `pindns serve` (SPEC §8). The same loop, workers, TCP connections
 * and answering path (resp_query.c) serve the preload's private
 * endpoints and the listen addresses of a resolver daemon; only what
 * differs is here:
 *  - the sockets are the daemon's (bound before privileges were dropped)
 *    and unclaimed queries go byte for byte to the nameservers of
 *    system_resolv_conf, tried in turn as glibc's stub tries them
 *    (resp_stub.c; none: they are REFUSED);
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

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define PD_STUB_NS_MAX		3	/* resolv.conf's MAXNS */
#define PD_STUB_TIMEOUT_MAX	30	/* glibc's RES_MAXRETRANS */
#define PD_STUB_ATTEMPTS_MAX	5	/* glibc's RES_MAXRETRY */
/* One unclaimed query's exchange with the nameservers, at most: a glibc
 * client's own wait (RES_TIMEOUT) before it asks again. */
#define PD_STUB_BUDGET_MS	5000

/*
 * The system nameservers for unclaimed queries and resolv.conf's
 * options as glibc reads them (resp_stub.c says how they are used).
 */
struct pd_stub_conf {
	unsigned		 n;		/* 0: none */
	struct sockaddr_storage	 ns[PD_STUB_NS_MAX];
	socklen_t		 nslen[PD_STUB_NS_MAX];
	unsigned		 timeout_s;	/* timeout: 1..30, default 5 */
	unsigned		 attempts;	/* attempts: 1..5, default 2 */
	bool			 rotate;
};

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
 * thread, unclaimed queries going to the nameservers of ns (copied;
 * NULL or none: they are refused). Starts the loop on first use. 0, or
 * -1 with errno.
 */
int	pd_resp_serve_listen(int ufd, int lfd, const struct pd_stub_conf *ns);

#endif /* PD_SERVE_H */

/*
 * pindns engine: the responder for programs that send DNS themselves
 * (SPEC §4.1, last row; engine.h struct pd_sock_ops).
 *
 * The preload sends a program's port-53 traffic for server X to a
 * loopback endpoint R(X) of this process (resp_serve.c: one UDP socket
 * and one TCP listener on the same port, served by a thread of the
 * engine). Each query is read with getdns (resp_query.c): a question a
 * rule claims is answered by the engine, everything else goes byte for
 * byte to X and X's reply comes back unchanged (resp_serve.c for UDP,
 * resp_tcp.c for TCP). A `system` rule with pins holds X's reply against
 * the pins first.
 *
 * Threads: the UDP loop never waits on the network for a claimed name: a
 * query whose answer is not cached goes to a small pool of workers
 * (resp_pool.c). Each
 * TCP connection has a thread of its own. All of them are made with
 * every signal blocked and announced to the host (pd_host
 * ->engine_thread), so the preload's hooks pass their calls to libc.
 * Fork: a child drops the parent's endpoints (closes its copies of their
 * descriptors) and makes its own on first use; every descriptor is
 * close-on-exec.
 */
#ifndef PD_RESP_H
#define PD_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolver/dot/dot.h"
#include "resolver/engine.h"

struct pd_stub_conf;
struct pollfd;

/* Largest DNS message (TCP's 16-bit length). */
#define PD_RESP_MSG_MAX		65535

/* What the responder does with one query. */
enum pd_resp_act {
	PD_RESP_FORWARD = 0,	/* to X, byte for byte */
	PD_RESP_PINNED,		/* to X; X's reply held against the pins */
	PD_RESP_NOW,		/* the engine answers without the network */
	PD_RESP_WAIT,		/* the engine answers, maybe after a lookup */
	PD_RESP_ODD		/* not one standard query with one question
				 * and a name the engine can express (or
				 * unreadable: q.qwirelen 0): the preload
				 * forwards it to X, pindns serve refuses it */
};

struct pd_resp_q {
	enum pd_resp_act	act;
	struct pd_dot_query	q;
};

/*
 * Read msg[0..len-1] and decide. ODD: what getdns cannot read, a
 * message that is not a standard query (QR set, opcode not QUERY), with
 * no or more than one question, a name the engine cannot express.
 * FORWARD: every name no rule claims. When the backend cannot be loaded
 * to read it, *unread is set (nothing may pass). Never blocks.
 */
void	pd_resp_classify(const uint8_t *msg, size_t len, struct pd_resp_q *rq,
	    bool *unread);

/*
 * The engine's reply to rq (NOW or WAIT) in out[0..cap-1]: same ID and
 * question, the answer (or NXDOMAIN / NODATA), AD when validated; a
 * refusal as REFUSED (policy) or SERVFAIL (temporary failure) with an
 * Extended DNS Error when the query had EDNS. A reply longer than limit
 * (UDP: the client's EDNS payload size, 512 without) is cut to the
 * question with TC set, so the client asks again over TCP. Returns the
 * length; 0 when nothing could be built (out of memory: the client's
 * retry gets another chance). May wait for the network (WAIT).
 */
size_t	pd_resp_answer(const struct pd_resp_q *rq, uint8_t *out, size_t cap,
	    size_t limit);

/*
 * PINNED: X's reply msg[0..len-1] (a buffer of cap bytes) held against
 * the rule's pins. Returns the length of what to relay: the reply as it
 * was, the reply without the addresses the pins drop (filter), or a
 * refusal written in its place.
 */
size_t	pd_resp_pin(const struct pd_resp_q *rq, uint8_t *msg, size_t len,
	    size_t cap, size_t limit);

/*
 * REFUSED (v REFUSED) or SERVFAIL (v FAILED) for rq, its question
 * echoed, with an Extended DNS Error for why when the query had EDNS.
 * 0 when rq has no question to echo (unreadable) or on no memory.
 */
size_t	pd_resp_error(const struct pd_resp_q *rq, enum pd_verdict v,
	    enum pd_reason why, uint8_t *out, size_t cap);

/*
 * pindns serve: rq's act at an endpoint with (have_x) or without a
 * server for unclaimed queries: without, FORWARD and PINNED become ODD.
 */
enum pd_resp_act pd_resp_serve_act(const struct pd_resp_q *rq, bool have_x);

/*
 * pindns serve's reply to an ODD query: REFUSED with its question, or
 * nothing (0) for what cannot be read and for a reply (QR set).
 */
size_t	pd_resp_odd(const struct pd_resp_q *rq, uint8_t *out, size_t cap);

/* The message's ID (its first two bytes), for matching replies. */
uint16_t pd_resp_id(const uint8_t *msg, size_t len);

/* respond.c: the reply to q laid out with m's ID, question and OPT. */
void	pd_respond_build(const struct pd_dnsq *q, struct pd_dot_msg *m,
	    uint8_t *buf, size_t len, struct pd_dnsr *r);

/* engine.c: the host's hooks (may be NULL), for threads we make. */
const struct pd_host *pd_engine_host(void);

/* resp_serve.c: the table behind engine.h's ->sock. */
extern const struct pd_sock_ops pd_resp_ops;

/*
 * resp_tcp.c: serve one accepted TCP connection cfd (ours now) for the
 * server to (tolen bytes; 0: none) on a thread of its own; serve: a
 * pindns serve client (ODD refused, audit lines name it), whose X is the
 * first of ns's nameservers that takes a connection. -1 when no thread
 * can be made (cfd is then closed).
 */
int	pd_resp_tcp_start(int cfd, const struct sockaddr *to, unsigned tolen,
	    bool serve, const struct pd_stub_conf *ns);


/* resp_tcp.c: pindns serve's limits (0: keep); see resolver/serve.h. */
void	pd_resp_tcp_tune(unsigned max, unsigned idle_ms);

/* resp_tcp.c: in a child after fork, close the parent's connections. */
void	pd_resp_tcp_forked(void);

/* Where a queued query's reply goes: the endpoint's socket and client. */
struct pd_resp_to {
	int			 ufd;	/* the endpoint's UDP socket */
	bool			 serve;	/* pindns serve's (audit: client) */
	struct sockaddr_storage	 l;	/* the client */
	socklen_t		 llen;
	struct sockaddr_storage	 x;	/* X, for a pinned query */
	socklen_t		 xlen;
	const struct pd_stub_conf *ns;	/* serve: X's place (NULL: x) */
};

/*
 * resp_pool.c: queue rq (msg[0..len-1], copied) for a worker, which
 * answers it (PINNED: asks X and holds its reply against the pins) and
 * sends the reply from to->ufd to the client. False when the queue is
 * full or memory short (nothing was sent). Never blocks on the network.
 */
bool	pd_resp_pool_add(const struct pd_resp_to *to,
	    const struct pd_resp_q *rq, const uint8_t *msg, size_t len);

/* resp_pool.c: at most workers threads (0: keep); serve: a job queued
 * longer than job_ms (0: keep) is answered SERVFAIL. */
void	pd_resp_pool_tune(unsigned workers, uint64_t job_ms);

/* resp_pool.c: the most a UDP client takes (RFC 6891 §6.2.5; 512
 * without EDNS). */
size_t	pd_resp_udp_limit(const struct pd_resp_q *rq);

/* resp_serve.c: a thread of the responder, signals blocked, announced. */
int	pd_resp_thread(void *(*fn)(void *), void *arg);

/*
 * resp_stub.c, on the UDP loop's thread only: send rq (msg[0..len-1],
 * copied) to c's nameservers; the reply (or SERVFAIL) goes from to->ufd
 * to the client later (pd_stub_run). -1 when it cannot even start
 * (table full, no memory, no server reachable): the caller answers.
 */
int	pd_stub_start(const struct pd_stub_conf *c,
	    const struct pd_resp_to *to, const struct pd_resp_q *rq,
	    const uint8_t *msg, size_t len, uint64_t now);

/*
 * resp_stub.c, the loop: the waiting queries' sockets into pfd (room
 * for 256); *wait lowered to the ms until the first try runs out.
 * Returns how many were written.
 */
unsigned pd_stub_poll(struct pollfd *pfd, uint64_t now, int *wait);

/*
 * resp_stub.c, the loop, after poll and before any pd_stub_start: the
 * replies on pfd[0..n-1] (as pd_stub_poll wrote them) and the tries that
 * ran out; buf (cap bytes) is scratch.
 */
void	pd_stub_run(const struct pollfd *pfd, unsigned n, uint8_t *buf,
	    size_t cap, uint64_t now);

/* resp_stub.c: in a child after fork, close the parent's sockets. */
void	pd_stub_forked(void);

/*
 * resp_stub.c: the same exchange waited out on this thread (a worker's
 * pinned query). The reply's length in buf, or 0 when no nameserver
 * said anything.
 */
size_t	pd_stub_ask(const struct pd_stub_conf *c, const struct pd_resp_q *rq,
	    const uint8_t *msg, size_t len, uint8_t *buf, size_t cap);

/* resp_stub.c: how many queries the loop's table holds at most. */
#define PD_STUB_MAX	256

#endif /* PD_RESP_H */

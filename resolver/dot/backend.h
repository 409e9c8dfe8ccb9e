/*
 * pindns DoT backend, private to resolver/dot/: the structures the backend's
 * files share (struct pd_dot, a lookup's batch and queries, the validator
 * threads) and the calls between them. worker.h describes the design.
 *
 *   worker.c   the backend thread (its loop and chores), new and free
 *   attempt.c  one query's attempts: failover, retries, getdns callbacks
 *   fork.c     fork handlers, inherited backends, thread and signal set-up
 *   resolve.c  the resolve entry points, batches, validator and async
 *              helper threads
 */
#ifndef PD_DOT_BACKEND_H
#define PD_DOT_BACKEND_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/chain.h"
#include "resolver/dot/context.h"
#include "resolver/dot/health.h"
#include "resolver/dot/loop.h"
#include "resolver/dot/names.h"
#include "resolver/dot/reply.h"
#include "resolver/dot/worker.h"

/* Query flavours: no DNSSEC, DO bit only (validated locally against the
 * chain cache), or with the validation chain (first lookup of a zone). */
enum flavour { FL_PLAIN = 0, FL_DO, FL_CHAIN, FL_N };

#define MAX_UPSTREAMS	32
/* getdns never retries an upstream that failed TLS authentication before
 * it ever passed; its context is rebuilt after this long to try again. */
#define AUTH_RETRY_MS	60000
#define MAX_HELPERS	4
#define MAX_ASYNC	4096
#define MAX_CHILD_FDS	64
/* Response dicts the backend thread frees when it would sleep anyway. */
#define MAX_JUNK	64
/* With no query out, chores wait for this long a quiet loop. */
#define CHORES_QUIET_MS	20

struct pd_batch;

/* One DNS query (one type of one lookup). */
struct pd_q {
	TAILQ_ENTRY(pd_q)	 link;
	struct pd_batch		*b;
	char			 name[4 * PD_NAME_MAX + 2];
	uint16_t		 type;
	enum flavour		 fl;
	uint64_t		 deadline;
	/* backend thread only */
	uint32_t		 tried;		/* upstream bit set */
	int			 up;
	bool			 inflight;
	bool			 cancelling;
	bool			 retried;
	bool			 active;
	bool			 submitting;	/* inside getdns_general() */
	bool			 early;		/* its callback came then */
	getdns_callback_type_t	 early_type;
	getdns_dict		*early_resp;
	unsigned		 verify_seq;
	getdns_transaction_t	 tid;
	uint64_t		 att_start;
	uint64_t		 att_deadline;
	/* outcome, read by the caller once done is set */
	getdns_dict		*resp;
	enum pd_dot_status	 st;
	int			 rank;		/* of st, see record() */
	char			 upstream[64];
	char			 detail[160];
	unsigned		 ntries;
	struct pd_dot_try	 tries[PD_DOT_MAX_TRIES];
	bool			 done;		/* d->mu: network part over */
	bool			 taken;		/* d->mu: being handled */
	bool			 handled;	/* d->mu: out is final */
	bool			 processed;	/* out holds the outcome */
	bool			 keys;		/* the DNSKEY query of a first
						 * lookup (pd_chain_prefetch_zone):
						 * learnt, never an answer */
	bool			 learnt;	/* keys: the zone keys are cached */
	struct pd_reply_out	 out;
};

TAILQ_HEAD(qhead, pd_q);

/* The queries of one lookup round, waited for together. */
struct pd_batch {
	struct pd_dot	*d;
	unsigned	 pending;	/* d->mu */
	bool		 abandoned;	/* d->mu: the caller gave up */
	bool		 wake_each;	/* wake the caller per query, not per
					 * batch: it validates each reply as
					 * soon as it is there */
	bool		 busy;		/* d->mu: the caller is handling a
					 * query of the batch */
	unsigned	 at_side;	/* d->mu: queries a validator thread
					 * is handling */
	pthread_cond_t	 cv;
	unsigned	 rr;		/* first upstream to try */
	enum pd_dnssec_mode mode;
	char		 qname[PD_NAME_MAX + 1];	/* normalised */
	struct pd_batch	*next_dead;	/* d->mu: on d->dead */
	unsigned	 nq;
	char		 kzone[PD_NAME_MAX + 1];	/* of the keys query */
	struct pd_q	 q[3];		/* A, AAAA, the zone's DNSKEY */
};

/* A resolve_async request. */
struct areq {
	TAILQ_ENTRY(areq)	 link;
	char			 qname[PD_NAME_MAX + 1];
	unsigned		 want;
	enum pd_dnssec_mode	 mode;
	pd_dot_cb		*cb;
	void			*arg;
};

TAILQ_HEAD(ahead, areq);

/*
 * A validator thread. When the second reply of a validated address lookup
 * arrives while the caller still has the first to validate (each costs an
 * ECDSA verification, 60 µs here, and more), being woken for it or
 * validating it, the backend thread validates it itself when it has
 * nothing else to do, or else an idle validator takes it, so that both
 * run at once when a core is free.
 * Everything about it is under d->mu.
 */
struct pd_side {
	struct pd_dot		*d;
	pthread_t		 t;
	bool			 started;
	pthread_cond_t		 cv;
	struct pd_batch		*b;		/* the job, or NULL: idle */
	struct pd_q		*q;
};

#define NSIDES	2

struct pd_dot {
	const struct pd_policy	*p;
	const struct pd_host	*host;
	pid_t			 pid;
	uint32_t		 timeout_ms;
	struct pd_chain		*chain;
	struct pd_ca		 ca;		/* policy's CA, for every
						 * context made */
	struct pd_loop		*loop;
	size_t			 nup;
	struct pd_up		*ups;
	getdns_dict		*ext[FL_N];
	struct pd_hset		 hs;		/* upstream health */

	pthread_mutex_t		 mu;		/* queues, batches, flags */
	pthread_mutex_t		 run_mu;	/* held while in getdns */
	struct qhead		 submitq;
	bool			 stop;
	bool			 worker_started;
	pthread_t		 worker;
	unsigned		 rr_next;
	struct qhead		 active;	/* backend thread only */

	struct ahead		 asyncq;
	size_t			 nasync;
	pthread_cond_t		 acv;
	bool			 astop;
	unsigned		 nhelpers;
	unsigned		 idle;
	pthread_t		 helpers[MAX_HELPERS];

	/* Freed by the backend thread when it would sleep anyway, so that
	 * no caller waits for it: batches callers are done with (d->mu),
	 * and responses processed on the backend thread (its own). */
	struct pd_side		 sides[NSIDES];
	bool			 side_stop;

	struct pd_batch		*dead;
	struct pd_batch		*dead_local;	/* backend thread only */
	getdns_dict		*junk[MAX_JUNK];
	size_t			 njunk;

	bool			 child;		/* inherited over fork() */
	bool			 registered;
	struct pd_dot		*reg_next;

	_Atomic uint64_t	 n_queries;
	_Atomic uint64_t	 n_chain;
	_Atomic uint64_t	 n_retries;
	_Atomic uint64_t	 n_failovers;
	_Atomic uint64_t	 n_sigpipes;
	_Atomic uint64_t	 n_sockets;
	_Atomic uint64_t	 n_nodelay_fail;
	_Atomic uint64_t	 n_contexts;
	_Atomic uint64_t	 n_beside;
};

/* ------------------------------------------------------------ fork.c */

/* Register the fork handlers (once per process); before any context is
 * made, since they also cover pd_ctx_new's lock. */
void		pd_backend_fork_init(void);
/* Add d to (remove d from) the backends the fork handlers lock; false
 * when the handlers could not be registered. */
bool		pd_backend_reg_add(struct pd_dot *d);
void		pd_backend_reg_del(struct pd_dot *d);
/* pthread_create with every asynchronous signal blocked in the thread. */
int		pd_backend_spawn(pthread_t *t, void *(*fn)(void *), void *arg);
/* Warm OpenSSL's algorithm cache on a thread of its own, once per
 * process (after OPENSSL_init_crypto); false when no thread was started.
 * Join before the backend thread starts. */
bool		pd_backend_warm_start(pthread_t *t, const struct pd_host *host);
void		pd_backend_warm_join(pthread_t t, bool started);
/* Drain the SIGPIPEs pending on the calling (backend) thread. */
void		pd_backend_drain_sigpipe(struct pd_dot *d);
/* Tell the host a backend thread starts (its engine_thread hook). */
void		pd_backend_engine_thread(struct pd_dot *d);
/* pd_dot_free() in a forked child: frees d without writing on the
 * parent's connections, or leaks it. */
void		pd_backend_free_child(struct pd_dot *d);

/* ------------------------------------------------------------ attempt.c */

/* Checks and validation of resp, q's response, into q->out. */
void		pd_backend_process(struct pd_dot *d, struct pd_q *q,
		    const getdns_dict *resp);
/* Keep the most telling failure of q (and note the try). */
__attribute__((format(printf, 3, 4)))
void		pd_backend_record(struct pd_q *q, enum pd_dot_status st,
		    const char *fmt, ...);
/* q is done: hand it back to its caller (backend thread). */
void		pd_backend_finish(struct pd_dot *d, struct pd_q *q);
/* Start (or restart) q on its next upstream, or finish it. */
void		pd_backend_attempt(struct pd_dot *d, struct pd_q *q);
/* q's attempt took its share of the budget: move on. */
void		pd_backend_attempt_timeout(struct pd_dot *d, struct pd_q *q);
/* Make up's getdns context for upstream cfg (counted in n_contexts). */
enum pd_err	pd_backend_ctx_new(struct pd_dot *d, struct pd_up *up,
		    const struct pd_upstream *cfg, char *err, size_t errlen);
/* A fresh context for up if it failed authentication long enough ago. */
void		pd_backend_maybe_rebuild(struct pd_dot *d, struct pd_up *up,
		    uint64_t now);

/* ------------------------------------------------------------ worker.c */

/* Free b and its responses (child: leave its condition variable). */
void		pd_backend_batch_free(struct pd_batch *b, bool child);
/* Free d (child: leave its locks and condition variables). */
void		pd_backend_destroy(struct pd_dot *d, bool child);

/* ------------------------------------------------------------ resolve.c */

/* Stop and join the validator threads. */
void		pd_backend_sides_stop(struct pd_dot *d);
/* q's outcome into q->out: processed, validated, or its keys learnt
 * (a done query; on whichever thread took it). */
void		pd_backend_handle(struct pd_dot *d, struct pd_q *q);

#endif /* PD_DOT_BACKEND_H */

/*
 * pindns DoT backend: the backend thread, request queue, failover, fork
 * and signal handling, and the resolve entry points (worker.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <getdns/getdns_extra.h>
#include <openssl/crypto.h>

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
	struct pd_q	 q[2];
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
 * arrives while the caller is still validating the first (each costs
 * getdns an ECDSA verification and more, 0.1 to 0.2 ms here), an idle
 * validator takes it, so that both run at once when a core is free.
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
};

/* ------------------------------------------------------------ fork */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pd_dot *reg_head;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static int reg_rc;

/* Take every backend thread's run lock: the fork then happens while each
 * backend thread sits in poll(), never inside getdns. */
static void
at_prepare(void)
{
	struct pd_dot *d;

	(void)pthread_mutex_lock(&reg_mu);
	for (d = reg_head; d != NULL; d = d->reg_next)
		(void)pthread_mutex_lock(&d->run_mu);
	/* Last: a thread may take it under its run lock (a rebuild). */
	pd_ctx_lock();
}

static void
at_parent(void)
{
	struct pd_dot *d;

	pd_ctx_unlock();
	for (d = reg_head; d != NULL; d = d->reg_next)
		(void)pthread_mutex_unlock(&d->run_mu);
	(void)pthread_mutex_unlock(&reg_mu);
}

/* The child has one thread: the backend threads are gone, and any lock a
 * vanished thread held would stay held. Mark the objects as inherited;
 * only pd_dot_free() may touch them, and it takes none of their locks. */
static void
at_child(void)
{
	struct pd_dot *d;

	pd_ctx_unlock();
	for (d = reg_head; d != NULL; d = d->reg_next) {
		d->child = true;
		(void)pthread_mutex_unlock(&d->run_mu);
	}
	(void)pthread_mutex_unlock(&reg_mu);
}

static void
reg_init(void)
{
	reg_rc = pthread_atfork(at_prepare, at_parent, at_child);
}

static bool
reg_add(struct pd_dot *d)
{
	(void)pthread_once(&reg_once, reg_init);
	if (reg_rc != 0)
		return false;
	(void)pthread_mutex_lock(&reg_mu);
	d->reg_next = reg_head;
	reg_head = d;
	d->registered = true;
	(void)pthread_mutex_unlock(&reg_mu);
	return true;
}

static void
reg_del(struct pd_dot *d)
{
	struct pd_dot **pp;

	if (!d->registered)
		return;
	(void)pthread_mutex_lock(&reg_mu);
	for (pp = &reg_head; *pp != NULL; pp = &(*pp)->reg_next)
		if (*pp == d) {
			*pp = d->reg_next;
			break;
		}
	(void)pthread_mutex_unlock(&reg_mu);
	d->registered = false;
}

/* ------------------------------------------------------------ threads */

/*
 * Create a thread with every asynchronous signal blocked from its first
 * instruction (the mask is inherited), so no signal meant for the host is
 * ever delivered to a backend thread, and SIGPIPE from a write on a
 * closed connection stays pending there until drained.
 */
static int
spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	(void)sigfillset(&all);
	(void)sigdelset(&all, SIGSEGV);
	(void)sigdelset(&all, SIGBUS);
	(void)sigdelset(&all, SIGFPE);
	(void)sigdelset(&all, SIGILL);
	(void)sigdelset(&all, SIGTRAP);
	(void)sigdelset(&all, SIGSYS);
	(void)sigdelset(&all, SIGABRT);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void
drain_sigpipe(struct pd_dot *d)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t s;

	(void)sigemptyset(&s);
	(void)sigaddset(&s, SIGPIPE);
	while (sigtimedwait(&s, NULL, &zero) == SIGPIPE)
		atomic_fetch_add(&d->n_sigpipes, 1);
}

static void
engine_thread(struct pd_dot *d)
{
	if (d->host != NULL && d->host->engine_thread != NULL)
		d->host->engine_thread();
}

/* ------------------------------------------------------------ queries */

/* Free b and the responses it holds. In a forked child its condition
 * variable is left alone (see destroy()). */
static void
batch_free(struct pd_batch *b, bool child)
{
	unsigned i;

	if (b == NULL)
		return;
	for (i = 0; i < b->nq; i++)
		getdns_dict_destroy(b->q[i].resp);
	if (!child)
		(void)pthread_cond_destroy(&b->cv);
	free(b);
}

/*
 * Work the backend thread does only when it would sleep anyway (poll
 * with nothing ready): freeing the batches callers are done with and the
 * responses processed here, so that freeing a response (as costly as
 * building it) is never on a caller's path, and draining SIGPIPE. A
 * SIGPIPE stays pending, harmlessly, while it is blocked, so once per
 * idle moment is enough.
 */
static bool
chores_due(const struct pd_dot *d)
{
	return d->njunk > 0 || d->dead_local != NULL;
}

static void drain_sigpipe(struct pd_dot *d);

static void
chores(struct pd_dot *d)
{
	struct pd_batch *b;

	while ((b = d->dead_local) != NULL) {
		d->dead_local = b->next_dead;
		batch_free(b, false);
	}
	while (d->njunk > 0)
		getdns_dict_destroy(d->junk[--d->njunk]);
	drain_sigpipe(d);
}

/* A response processed on the backend thread, to free later. */
static void
junk_add(struct pd_dot *d, getdns_dict *resp)
{
	if (d->njunk == MAX_JUNK)
		getdns_dict_destroy(resp);
	else
		d->junk[d->njunk++] = resp;
}

/* The checks (and validation) of resp, q's response, into q->out. */
static void
process(struct pd_dot *d, struct pd_q *q, const getdns_dict *resp)
{
	struct pd_reply_in in;

	memset(&in, 0, sizeof(in));
	in.qname = q->b->qname;
	in.qtype = q->type;
	in.mode = q->b->mode;
	in.chain = d->chain;
	in.now = time(NULL);
	pd_reply_response(resp, &in, &q->out);
	q->processed = true;
}

/*
 * The reply to a query that is not validated (dnssec off) is processed
 * right here on the backend thread as soon as it comes (a few
 * microseconds: no validation): the first reply of an address lookup is
 * then done while the upstream still works on the second, and the caller,
 * once woken, only reads the outcome.
 */
static void
local(struct pd_dot *d, struct pd_q *q, getdns_dict *resp)
{
	process(d, q, resp);
	junk_add(d, resp);
}

/*
 * Keep the most telling failure of a query over its attempts: a TLS
 * authentication failure beats a timeout beats an unreachable upstream.
 */
__attribute__((format(printf, 3, 4))) static void
record(struct pd_q *q, enum pd_dot_status st, const char *fmt, ...)
{
	static const int rank[] = {
		[PD_DOT_OK] = 0, [PD_DOT_ERROR] = 1, [PD_DOT_UNREACHABLE] = 2,
		[PD_DOT_TIMEOUT] = 3, [PD_DOT_TLS_AUTH] = 4
	};
	va_list ap;
	char msg[sizeof(q->detail)];

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (q->up >= 0)
		pd_dot_try_add(q->tries, &q->ntries, q->upstream, msg, 1);
	/* The first failure of a rank says most: keep it. */
	if (q->rank != 0 && rank[st] <= q->rank)
		return;
	q->st = st;
	q->rank = rank[st];
	memcpy(q->detail, msg, sizeof(q->detail));
}

/* The query is done: hand it back (backend thread). */
/* A started validator thread without a job (d->mu held), or NULL. */
static struct pd_side *
side_idle(struct pd_dot *d)
{
	unsigned i;

	for (i = 0; i < NSIDES; i++)
		if (d->sides[i].started && d->sides[i].q == NULL)
			return &d->sides[i];
	return NULL;
}

static void
finish(struct pd_dot *d, struct pd_q *q)
{
	struct pd_batch *b = q->b, *dead = NULL;
	struct pd_side *sd;

	if (q->active) {
		TAILQ_REMOVE(&d->active, q, link);
		q->active = false;
	}
	if (q->resp == NULL && !q->processed && q->st == PD_DOT_OK)
		record(q, PD_DOT_ERROR, "no response");
	(void)pthread_mutex_lock(&d->mu);
	q->done = true;
	--b->pending;
	if (b->abandoned) {
		if (b->pending == 0)
			dead = b;
	} else if (b->wake_each && b->busy && (sd = side_idle(d)) != NULL) {
		q->taken = true;
		b->at_side++;
		sd->b = b;
		sd->q = q;
		(void)pthread_cond_signal(&sd->cv);
	} else if (b->pending == 0 || b->wake_each)
		(void)pthread_cond_signal(&b->cv);
	(void)pthread_mutex_unlock(&d->mu);
	batch_free(dead, false);
}

/* Next upstream for q: untried and up (health.h), in policy order from
 * the batch's rotation point, ones that never failed TLS authentication
 * first. *left counts the untried ones. */
static int
pick(struct pd_dot *d, struct pd_q *q, unsigned *left)
{
	unsigned j, i, n = (unsigned)d->nup;
	int pass;

	*left = 0;
	for (j = 0; j < n; j++)
		if ((q->tried & (1u << j)) == 0)
			(*left)++;
	for (pass = 0; pass < 2; pass++) {
		for (j = 0; j < n; j++) {
			i = (q->b->rr + j) % n;
			if (q->tried & (1u << i))
				continue;
			if (!pd_hset_usable(&d->hs, i) ||
			    (pass == 0 && d->ups[i].auth_failed))
				continue;
			return (int)i;
		}
	}
	return -1;
}

static void sides_stop(struct pd_dot *d);
static void on_reply(getdns_context *ctx, getdns_callback_type_t type,
    getdns_dict *resp, void *arg, getdns_transaction_t tid);

/* An upstream whose certificate, name or pin once failed and never
 * passed is never tried again by getdns; give it a fresh context now and
 * then (an operator may have fixed it). */
static void
maybe_rebuild(struct pd_dot *d, struct pd_up *up, uint64_t now)
{
	struct pd_up saved = *up;
	getdns_context *fresh;
	char err[200];

	if (!up->auth_failed || now - up->auth_fail_ms < AUTH_RETRY_MS)
		return;
	/* pd_ctx_new registers up itself as the log callback's argument. */
	if (pd_ctx_new(d->p, up->cfg, d->ca.fd >= 0 ? d->ca.path : NULL,
	    pd_chain_nanchors(d->chain) ? pd_chain_anchors(d->chain) : NULL,
	    pd_loop_getdns(d->loop), up, err, sizeof(err)) != PD_OK) {
		*up = saved;
		up->auth_fail_ms = now;
		return;
	}
	fresh = up->ctx;
	*up = saved;
	/* It failed authentication, so it holds no connection to close. */
	pd_ctx_free(up);
	up->ctx = fresh;
	up->auth_failed = false;
}

/* Start (or restart) q on its next upstream, or finish it. */
static void
attempt(struct pd_dot *d, struct pd_q *q)
{
	struct pd_up *up;
	getdns_return_t rc;
	unsigned left;
	uint64_t now;
	int i;

	for (;;) {
		now = pd_loop_now_ms();
		if (now >= q->deadline) {
			record(q, PD_DOT_TIMEOUT, "no answer within %u ms",
			    d->timeout_ms);
			finish(d, q);
			return;
		}
		if ((i = pick(d, q, &left)) < 0) {
			if (q->tried == 0)
				record(q, PD_DOT_UNREACHABLE, "every upstream "
				    "is down");
			finish(d, q);
			return;
		}
		up = &d->ups[i];
		maybe_rebuild(d, up, now);
		if (q->tried != 0)
			atomic_fetch_add(&d->n_failovers, 1);
		q->tried |= 1u << i;
		q->up = i;
		q->verify_seq = up->verify_seq;
		q->att_start = now;
		q->att_deadline = now + (q->deadline - now) / left;
		snprintf(q->upstream, sizeof(q->upstream), "%s",
		    up->cfg->label);
		atomic_fetch_add(&d->n_queries, 1);
		if (q->fl == FL_CHAIN)
			atomic_fetch_add(&d->n_chain, 1);
		q->submitting = true;
		q->early = false;
		rc = getdns_general(up->ctx, q->name, q->type, d->ext[q->fl],
		    q, &q->tid, on_reply);
		q->submitting = false;
		if (rc == GETDNS_RETURN_GOOD) {
			q->inflight = true;
			/* A callback from inside getdns_general() was held
			 * back so that q did not finish under our feet. */
			if (q->early)
				on_reply(up->ctx, q->early_type, q->early_resp,
				    q, q->tid);
			return;
		}
		if (q->early) {
			getdns_dict_destroy(q->early_resp);
			q->early = false;
		}
		if (rc != GETDNS_RETURN_NO_UPSTREAM_AVAILABLE &&
		    rc != GETDNS_RETURN_GENERIC_ERROR) {
			record(q, PD_DOT_ERROR, "getdns refused the query (%d)",
			    (int)rc);
			finish(d, q);
			return;
		}
		/* 398 at once: getdns has given up on this upstream. */
		if (up->auth_failed || up->verify_seq != q->verify_seq) {
			record(q, PD_DOT_TLS_AUTH, "%s: TLS authentication "
			    "failed: %s", up->cfg->label, up->verify_err);
			pd_hset_fail(&d->hs, (unsigned)i, PD_DOT_TLS_AUTH,
			    up->verify_err, now);
		} else {
			record(q, PD_DOT_UNREACHABLE, "%s: no usable "
			    "connection", up->cfg->label);
			pd_hset_fail(&d->hs, (unsigned)i, PD_DOT_UNREACHABLE,
			    "no usable connection", now);
		}
	}
}

static void
on_reply(getdns_context *ctx, getdns_callback_type_t type, getdns_dict *resp,
    void *arg, getdns_transaction_t tid)
{
	struct pd_q *q = arg;
	struct pd_dot *d = q->b->d;
	struct pd_up *up;
	uint64_t now;

	(void)ctx;
	(void)tid;
	if (d->child || (type == GETDNS_CALLBACK_CANCEL && q->cancelling)) {
		getdns_dict_destroy(resp);
		return;
	}
	if (q->submitting) {
		q->early = true;
		q->early_type = type;
		q->early_resp = resp;
		return;
	}
	q->early = false;
	q->inflight = false;
	up = &d->ups[q->up];
	now = pd_loop_now_ms();
	switch (type) {
	case GETDNS_CALLBACK_COMPLETE:
		q->st = PD_DOT_OK;
		up->answers++;
		up->auth_failed = false;
		pd_hset_ok(&d->hs, (unsigned)q->up);
		if (q->b->mode == PD_DNSSEC_OFF)
			local(d, q, resp);
		else
			q->resp = resp;
		finish(d, q);
		return;
	case GETDNS_CALLBACK_TIMEOUT:
		record(q, PD_DOT_TIMEOUT, "%s: no answer", up->cfg->label);
		pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TIMEOUT,
		    "no answer", now);
		break;
	default:
		if (up->verify_seq != q->verify_seq) {
			record(q, PD_DOT_TLS_AUTH, "%s: TLS authentication "
			    "failed: %s", up->cfg->label, up->verify_err);
			if (up->answers == 0) {
				up->auth_failed = true;
				up->auth_fail_ms = now;
			}
			pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TLS_AUTH,
			    up->verify_err, now);
			break;
		}
		record(q, PD_DOT_UNREACHABLE, "%s: connection failed or "
		    "closed", up->cfg->label);
		/* An idle connection the upstream closed, or an upstream
		 * that restarted: one more try on a fresh connection. */
		if (!q->retried) {
			q->retried = true;
			q->tried &= ~(1u << q->up);
			atomic_fetch_add(&d->n_retries, 1);
		} else
			pd_hset_fail(&d->hs, (unsigned)q->up,
			    PD_DOT_UNREACHABLE, "connection failed or "
			    "closed", now);
		break;
	}
	getdns_dict_destroy(resp);
	attempt(d, q);
}

/* The attempt on the current upstream took its share of the budget. */
static void
attempt_timeout(struct pd_dot *d, struct pd_q *q)
{
	struct pd_up *up = &d->ups[q->up];

	q->cancelling = true;
	(void)getdns_cancel_callback(up->ctx, q->tid);
	q->cancelling = false;
	q->inflight = false;
	record(q, PD_DOT_TIMEOUT, "%s: no answer in %llu ms",
	    up->cfg->label, (unsigned long long)(pd_loop_now_ms() -
	    q->att_start));
	pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TIMEOUT, "no answer",
	    pd_loop_now_ms());
	attempt(d, q);
}

static void
loop_stats(struct pd_dot *d)
{
	struct pd_loop_stats ls;

	pd_loop_stats(d->loop, &ls);
	atomic_store_explicit(&d->n_sockets, ls.sockets, memory_order_relaxed);
	atomic_store_explicit(&d->n_nodelay_fail, ls.nodelay_fail,
	    memory_order_relaxed);
}

static void *
worker_main(void *arg)
{
	struct pd_dot *d = arg;
	struct qhead fresh;
	struct pd_batch *dead, *nb;
	struct pd_q *q;
	uint64_t now, next;
	bool stop, again;
	int wait, i;

	engine_thread(d);
	(void)pthread_mutex_lock(&d->run_mu);
	for (;;) {
		TAILQ_INIT(&fresh);
		(void)pthread_mutex_lock(&d->mu);
		TAILQ_CONCAT(&fresh, &d->submitq, link);
		dead = d->dead;
		d->dead = NULL;
		stop = d->stop;
		(void)pthread_mutex_unlock(&d->mu);
		for (; dead != NULL; dead = nb) {
			nb = dead->next_dead;
			dead->next_dead = d->dead_local;
			d->dead_local = dead;
		}
		while ((q = TAILQ_FIRST(&fresh)) != NULL) {
			TAILQ_REMOVE(&fresh, q, link);
			TAILQ_INSERT_TAIL(&d->active, q, link);
			q->active = true;
			if (stop) {
				record(q, PD_DOT_ERROR, "backend shutting "
				    "down");
				finish(d, q);
				continue;
			}
			attempt(d, q);
			/*
			 * Let getdns write this query before it is handed
			 * the next one (preparing a query costs getdns about
			 * as much as writing it): the upstream starts on the
			 * A query while the AAAA one is being prepared.
			 */
			if (!TAILQ_EMPTY(&fresh))
				(void)pd_loop_run_once(d->loop, 0, &d->run_mu);
		}
		if (stop)
			break;
		/* Attempts past their share move on (restart the scan:
		 * handling one may finish others). */
		do {
			again = false;
			now = pd_loop_now_ms();
			TAILQ_FOREACH(q, &d->active, link) {
				if (q->inflight && now >= q->att_deadline) {
					attempt_timeout(d, q);
					again = true;
					break;
				}
			}
		} while (again);
		next = UINT64_MAX;
		TAILQ_FOREACH(q, &d->active, link)
			if (q->inflight && q->att_deadline < next)
				next = q->att_deadline;
		now = pd_loop_now_ms();
		/* Probes of down upstreams that are due (health.h). */
		for (;;) {
			wait = next == UINT64_MAX ? -1 : next <= now ? 0 :
			    (int)(next - now);
			if ((i = pd_hset_due(&d->hs, now, &wait)) < 0)
				break;
			maybe_rebuild(d, &d->ups[i], now);
			pd_hset_probe(&d->hs, (unsigned)i, now);
		}
		/*
		 * Chores only when nothing is ready (never before a write or
		 * a reply that is waiting), and best while queries are out:
		 * with nothing out, a caller was just woken and needs the CPU
		 * more (on a busy machine the two compete for one core), so
		 * then they wait for a quiet moment, or for the next lookup's
		 * round trip.
		 */
		if (wait != 0 && chores_due(d)) {
			int quiet = TAILQ_EMPTY(&d->active) ? CHORES_QUIET_MS :
			    0;

			if (wait > 0 && wait < quiet)
				quiet = wait;
			if (pd_loop_run_once(d->loop, quiet, &d->run_mu) > 0) {
				loop_stats(d);
				continue;
			}
			chores(d);
		}
		(void)pd_loop_run_once(d->loop, wait, &d->run_mu);
		loop_stats(d);
	}
	pd_hset_stop(&d->hs);
	while ((q = TAILQ_FIRST(&d->active)) != NULL) {
		if (q->inflight) {
			q->cancelling = true;
			(void)getdns_cancel_callback(d->ups[q->up].ctx, q->tid);
			q->inflight = false;
		}
		record(q, PD_DOT_ERROR, "backend shutting down");
		finish(d, q);
	}
	chores(d);
	(void)pthread_mutex_unlock(&d->run_mu);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */


static bool
make_ext(struct pd_dot *d)
{
	getdns_dict *opt = NULL, *hdr = NULL;
	bool ok = false;

	if ((d->ext[FL_PLAIN] = getdns_dict_create()) == NULL ||
	    (d->ext[FL_DO] = getdns_dict_create()) == NULL ||
	    (d->ext[FL_CHAIN] = getdns_dict_create()) == NULL ||
	    (opt = getdns_dict_create()) == NULL ||
	    (hdr = getdns_dict_create()) == NULL)
		goto out;
	/*
	 * DO asks for the signatures; CD makes a validating upstream pass
	 * bogus data through so that it is judged here (refused as bogus)
	 * rather than turned into SERVFAIL (a temporary failure).
	 */
	if (getdns_dict_set_int(opt, "do_bit", 1) != 0 ||
	    getdns_dict_set_int(hdr, "cd", 1) != 0 ||
	    getdns_dict_set_dict(d->ext[FL_DO], "add_opt_parameters",
	    opt) != 0 ||
	    getdns_dict_set_dict(d->ext[FL_DO], "header", hdr) != 0 ||
	    getdns_dict_set_int(d->ext[FL_CHAIN],
	    "dnssec_return_validation_chain", GETDNS_EXTENSION_TRUE) != 0 ||
	    getdns_dict_set_dict(d->ext[FL_CHAIN], "header", hdr) != 0)
		goto out;
	ok = true;
out:
	getdns_dict_destroy(opt);
	getdns_dict_destroy(hdr);
	return ok;
}

/*
 * Free d. In a forked child (child true) the locks and condition
 * variables are left alone: threads of the parent were waiting on some,
 * and glibc's pthread_cond_destroy waits for waiters that will never
 * come back.
 */
static void
destroy(struct pd_dot *d, bool child)
{
	struct pd_batch *b;
	size_t i;

	/* Batches callers were done with, not freed yet. */
	while ((b = d->dead) != NULL) {
		d->dead = b->next_dead;
		batch_free(b, child);
	}
	while ((b = d->dead_local) != NULL) {
		d->dead_local = b->next_dead;
		batch_free(b, child);
	}
	while (d->njunk > 0)
		getdns_dict_destroy(d->junk[--d->njunk]);
	for (i = 0; i < NSIDES && !child; i++)
		(void)pthread_cond_destroy(&d->sides[i].cv);
	pd_hset_fini(&d->hs, child);
	for (i = 0; d->ups != NULL && i < d->nup; i++)
		pd_ctx_free(&d->ups[i]);
	free(d->ups);
	for (i = 0; i < FL_N; i++)
		getdns_dict_destroy(d->ext[i]);
	pd_loop_free(d->loop);
	pd_chain_free(d->chain);
	pd_ctx_ca_close(&d->ca);
	if (!child) {
		(void)pthread_cond_destroy(&d->acv);
		(void)pthread_mutex_destroy(&d->mu);
		(void)pthread_mutex_destroy(&d->run_mu);
	}
	free(d);
}

enum pd_err
pd_dot_new(const struct pd_policy *p, const struct pd_host *host,
    struct pd_dot **dp, char *err, size_t errlen)
{
	struct pd_dot *d;
	getdns_list *anchors = NULL;
	size_t i, count = 0;
	enum pd_err r;
	char junk[8];

	if (err == NULL || errlen == 0) {
		err = junk;
		errlen = sizeof(junk);
	}
	/* The fork handlers first: they also cover pd_ctx_new's lock. */
	(void)pthread_once(&reg_once, reg_init);
	err[0] = '\0';
	if (p == NULL || dp == NULL) {
		snprintf(err, errlen, "no policy");
		return PD_EINVAL;
	}
	if (p->nupstreams == 0 || p->nupstreams > MAX_UPSTREAMS) {
		snprintf(err, errlen, "%zu upstreams (1 to %d supported)",
		    p->nupstreams, MAX_UPSTREAMS);
		return PD_EINVAL;
	}
	/*
	 * OpenSSL's atexit handler frees its global locks while the backend
	 * thread may still be inside OpenSSL (a lookup in flight when the
	 * host exits; TSan reported the race). Ask OpenSSL, before getdns
	 * first initialises it, not to register that handler; a host that
	 * initialised OpenSSL earlier keeps its own choice.
	 */
	(void)OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
	r = pd_chain_load_anchors(p, &anchors, &count, err, errlen);
	if (r != PD_OK) {
		/* Broken anchors matter only where something validates. */
		if (pd_policy_needs_dnssec(p))
			return r;
		anchors = NULL;
		count = 0;
		err[0] = '\0';
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		getdns_list_destroy(anchors);
		snprintf(err, errlen, "out of memory");
		return PD_ENOMEM;
	}
	d->ca.fd = -1;
	d->p = p;
	d->host = host;
	d->pid = getpid();
	d->timeout_ms = p->timeout_ms ? p->timeout_ms : 2000;
	TAILQ_INIT(&d->submitq);
	TAILQ_INIT(&d->active);
	TAILQ_INIT(&d->asyncq);
	for (i = 0; i < NSIDES; i++) {
		d->sides[i].d = d;
		(void)pthread_cond_init(&d->sides[i].cv, NULL);
	}
	(void)pthread_mutex_init(&d->mu, NULL);
	(void)pthread_mutex_init(&d->run_mu, NULL);
	(void)pthread_cond_init(&d->acv, NULL);
	if ((r = pd_chain_new(anchors, &d->chain)) != PD_OK) {
		getdns_list_destroy(anchors);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((r = pd_loop_new(&d->loop)) != PD_OK) {
		snprintf(err, errlen, "cannot create the event loop");
		goto fail;
	}
	if (!make_ext(d) || (d->ups = calloc(p->nupstreams,
	    sizeof(*d->ups))) == NULL) {
		r = PD_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (p->tls_ca != NULL &&
	    (r = pd_ctx_ca_open(p->tls_ca, &d->ca, err, errlen)) != PD_OK)
		goto fail;
	d->nup = p->nupstreams;
	for (i = 0; i < d->nup; i++)
		if ((r = pd_ctx_new(p, &p->upstreams[i], d->ca.fd >= 0 ?
		    d->ca.path : NULL, count ? pd_chain_anchors(d->chain) :
		    NULL, pd_loop_getdns(d->loop), &d->ups[i], err,
		    errlen)) != PD_OK)
			goto fail;
	if ((r = pd_hset_init(&d->hs, d->ups, (unsigned)d->nup,
	    d->ext[FL_PLAIN])) != PD_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!reg_add(d)) {
		r = PD_EINTERNAL;
		snprintf(err, errlen, "pthread_atfork failed");
		goto fail;
	}
	if (spawn(&d->worker, worker_main, d) != 0) {
		r = PD_EINTERNAL;
		snprintf(err, errlen, "cannot start the backend thread");
		goto fail;
	}
	d->worker_started = true;
	*dp = d;
	return PD_OK;
fail:
	reg_del(d);
	destroy(d, false);
	return r;
}

static bool
is_upstream_socket(struct pd_dot *d, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct stat st;
	size_t i;

	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	for (i = 0; i < d->nup; i++) {
		const struct pd_upstream *u = d->ups[i].cfg;

		if (ss.ss_family == AF_INET && u->addr.family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			if (memcmp(&s4->sin_addr, u->addr.addr, 4) == 0 &&
			    ntohs(s4->sin_port) == u->tls_port)
				return true;
		} else if (ss.ss_family == AF_INET6 &&
		    u->addr.family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			if (memcmp(&s6->sin6_addr, u->addr.addr, 16) == 0 &&
			    ntohs(s6->sin6_port) == u->tls_port)
				return true;
		}
	}
	return false;
}

/*
 * pd_dot_free() in a forked child: the parent's TLS sessions run over the
 * inherited sockets, and destroying a context writes a close_notify on
 * them (the parent then dies of SIGPIPE). Point each one at /dev/null
 * first; closing the child's reference sends nothing on the wire. If any
 * scheduled descriptor is not provably an upstream socket, leak it all.
 */
static void
free_child(struct pd_dot *d)
{
	int fds[MAX_CHILD_FDS], devnull;
	size_t i, n;

	n = pd_loop_fds(d->loop, fds, MAX_CHILD_FDS);
	if (n > MAX_CHILD_FDS)
		return;
	for (i = 0; i < n; i++)
		if (!is_upstream_socket(d, fds[i]))
			return;
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return;
	for (i = 0; i < n; i++)
		if (dup3(devnull, fds[i], O_CLOEXEC) == -1) {
			(void)close(devnull);
			return;
		}
	(void)close(devnull);
	reg_del(d);
	destroy(d, true);
}

void
pd_dot_free(struct pd_dot *d)
{
	struct areq *a;
	struct ahead left;
	struct pd_dot_result res;
	unsigned i;

	if (d == NULL)
		return;
	if (d->child || getpid() != d->pid) {
		free_child(d);
		return;
	}
	/* Async helpers first: they wait on the backend thread. */
	(void)pthread_mutex_lock(&d->mu);
	d->astop = true;
	(void)pthread_cond_broadcast(&d->acv);
	(void)pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nhelpers; i++)
		(void)pthread_join(d->helpers[i], NULL);
	sides_stop(d);
	TAILQ_INIT(&left);
	(void)pthread_mutex_lock(&d->mu);
	TAILQ_CONCAT(&left, &d->asyncq, link);
	d->stop = true;
	(void)pthread_mutex_unlock(&d->mu);
	while ((a = TAILQ_FIRST(&left)) != NULL) {
		TAILQ_REMOVE(&left, a, link);
		memset(&res, 0, sizeof(res));
		res.status = PD_DOT_ERROR;
		snprintf(res.detail, sizeof(res.detail), "backend shut down");
		a->cb(a->arg, &res);
		free(a);
	}
	if (d->worker_started) {
		pd_loop_wake(d->loop);
		(void)pthread_join(d->worker, NULL);
	}
	reg_del(d);
	destroy(d, false);
}

/* ------------------------------------------------------------ resolve */

/*
 * The outcome of query q, into q->out: processed on the backend
 * thread already (dnssec off), or processed and validated here, in the
 * caller's thread, as soon as the query is done (the other query of the
 * batch may still be on its way: validating the first reply of an address
 * lookup overlaps with the round trip of the second).
 */
static void
handle(struct pd_dot *d, struct pd_q *q)
{
	if (!q->processed && q->st == PD_DOT_OK && q->resp != NULL)
		process(d, q, q->resp);
}

static void *
side_main(void *arg)
{
	struct pd_side *sd = arg;
	struct pd_dot *d = sd->d;
	struct pd_batch *b;
	struct pd_q *q;

	engine_thread(d);
	(void)pthread_mutex_lock(&d->mu);
	for (;;) {
		while (sd->q == NULL && !d->side_stop)
			(void)pthread_cond_wait(&sd->cv, &d->mu);
		if (sd->q == NULL)
			break;
		b = sd->b;
		q = sd->q;
		(void)pthread_mutex_unlock(&d->mu);
		handle(d, q);
		(void)pthread_mutex_lock(&d->mu);
		q->handled = true;
		b->at_side--;
		sd->b = NULL;
		sd->q = NULL;
		(void)pthread_cond_signal(&b->cv);
	}
	(void)pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* Start the validator threads on first need (d->mu held). */
static void
sides_start(struct pd_dot *d)
{
	unsigned i;

	for (i = 0; i < NSIDES && !d->side_stop; i++) {
		if (d->sides[i].started)
			continue;
		if (spawn(&d->sides[i].t, side_main, &d->sides[i]) != 0)
			return;
		d->sides[i].started = true;
	}
}

static void
sides_stop(struct pd_dot *d)
{
	unsigned i;

	(void)pthread_mutex_lock(&d->mu);
	d->side_stop = true;
	for (i = 0; i < NSIDES; i++)
		(void)pthread_cond_signal(&d->sides[i].cv);
	(void)pthread_mutex_unlock(&d->mu);
	for (i = 0; i < NSIDES; i++)
		if (d->sides[i].started)
			(void)pthread_join(d->sides[i].t, NULL);
}

/*
 * Queue b's queries and handle each as soon as it is done (or let a
 * validator thread take one, see finish()), until all are handled or
 * until deadline (plus a little: the backend thread enforces the deadline
 * itself). false when b had to be abandoned (the backend thread frees it
 * later).
 */
static bool
run_batch(struct pd_dot *d, struct pd_batch *b, uint64_t deadline)
{
	struct timespec ts;
	uint64_t until;
	unsigned i, left;
	int rc = 0;

	until = deadline + 20 + d->timeout_ms / 50;
	ts.tv_sec = (time_t)(until / 1000);
	ts.tv_nsec = (long)(until % 1000) * 1000000L;
	(void)pthread_mutex_lock(&d->mu);
	if (b->wake_each)
		sides_start(d);
	b->pending = b->nq;
	b->rr = d->p->round_robin ? d->rr_next++ % (unsigned)d->nup : 0;
	for (i = 0; i < b->nq; i++)
		TAILQ_INSERT_TAIL(&d->submitq, &b->q[i], link);
	(void)pthread_mutex_unlock(&d->mu);
	pd_loop_wake(d->loop);
	(void)pthread_mutex_lock(&d->mu);
	for (;;) {
		left = 0;
		for (i = 0; i < b->nq; i++)
			left += !b->q[i].handled;
		if (left == 0)
			break;
		for (i = 0; i < b->nq; i++)
			if (b->q[i].done && !b->q[i].taken)
				break;
		/* Past the deadline with a query still out, the batch is
		 * abandoned anyway: handle nothing more. */
		if (i < b->nq && (b->pending == 0 || rc != ETIMEDOUT)) {
			b->q[i].taken = true;
			b->busy = true;
			(void)pthread_mutex_unlock(&d->mu);
			handle(d, &b->q[i]);
			(void)pthread_mutex_lock(&d->mu);
			b->q[i].handled = true;
			b->busy = false;
			continue;
		}
		/* A validator thread still uses b: wait for it (validation
		 * takes a bounded time) before b may be abandoned. */
		if (rc == ETIMEDOUT && b->at_side == 0) {
			b->abandoned = true;
			(void)pthread_mutex_unlock(&d->mu);
			return false;
		}
		if (rc == ETIMEDOUT)
			(void)pthread_cond_wait(&b->cv, &d->mu);
		else
			rc = pthread_cond_timedwait(&b->cv, &d->mu, &ts);
	}
	(void)pthread_mutex_unlock(&d->mu);
	return true;
}

/* The caller is done with b: the backend thread frees it (and the
 * responses in it) when it would sleep anyway. */
static void
graveyard(struct pd_dot *d, struct pd_batch *b)
{
	(void)pthread_mutex_lock(&d->mu);
	b->next_dead = d->dead;
	d->dead = b;
	(void)pthread_mutex_unlock(&d->mu);
}

static struct pd_batch *
batch_new(struct pd_dot *d)
{
	struct pd_batch *b;
	pthread_condattr_t ca;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->d = d;
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&b->cv, &ca) != 0) {
		(void)pthread_condattr_destroy(&ca);
		free(b);
		return NULL;
	}
	(void)pthread_condattr_destroy(&ca);
	return b;
}

static int
status_rank(enum pd_dot_status s)
{
	switch (s) {
	case PD_DOT_TLS_AUTH:		return 4;
	case PD_DOT_TIMEOUT:		return 3;
	case PD_DOT_UNREACHABLE:	return 2;
	case PD_DOT_ERROR:		return 1;
	default:			return 0;
	}
}

static void
set_status(struct pd_dot_result *res, enum pd_dot_status st,
    const char *detail)
{
	if (res->status != PD_DOT_OK && status_rank(st) <=
	    status_rank(res->status))
		return;
	/* upstream names the one that answered: none did. The detail of
	 * each upstream tried is in res->tries. */
	res->status = st;
	res->upstream[0] = '\0';
	snprintf(res->detail, sizeof(res->detail), "%s", detail);
}

/*
 * No getpid() here: d->child, set by the pthread_atfork child handler, is
 * what tells an inherited backend (getpid is a system call on every
 * lookup since glibc 2.25).
 */
enum pd_err
pd_dot_resolve(struct pd_dot *d, const char *qname, unsigned want,
    enum pd_dnssec_mode mode, struct pd_dot_result *res)
{
	uint16_t types[2];
	struct pd_dot_rrset *outs[2];
	const struct pd_reply_out *ro;
	struct pd_batch *b;
	char esc[4 * PD_NAME_MAX + 2];
	bool need[2] = { false, false }, done[2] = { false, false };
	enum flavour fl;
	uint64_t deadline;
	unsigned nt = 0, i, round;

	if (d == NULL || qname == NULL || res == NULL || want == 0 ||
	    (want & ~(PD_WANT_A | PD_WANT_AAAA)) != 0)
		return PD_EINVAL;
	if (d->child)
		return PD_EINVAL;
	if (strlen(qname) > PD_NAME_MAX ||
	    !pd_dname_escape(qname, esc, sizeof(esc)))
		return PD_ENAME;
	memset(res, 0, sizeof(*res));
	if (pd_hset_all_down(&d->hs, res))
		return PD_OK;
	deadline = pd_loop_now_ms() + d->timeout_ms;
	if (want & PD_WANT_A) {
		outs[nt] = &res->a;
		types[nt++] = GETDNS_RRTYPE_A;
	}
	if (want & PD_WANT_AAAA) {
		outs[nt] = &res->aaaa;
		types[nt++] = GETDNS_RRTYPE_AAAA;
	}

	if (mode == PD_DNSSEC_OFF || pd_chain_nanchors(d->chain) == 0)
		fl = FL_PLAIN;
	else
		fl = pd_chain_covers(d->chain, qname, time(NULL)) ? FL_DO :
		    FL_CHAIN;
	for (i = 0; i < nt; i++)
		need[i] = true;

	/* Round 0 as planned; round 1 fetches the chain where the cache
	 * could not decide (first lookup of a zone, ZSK rollover). */
	for (round = 0; round < 2; round++) {
		if ((b = batch_new(d)) == NULL)
			return PD_ENOMEM;
		b->mode = mode;
		snprintf(b->qname, sizeof(b->qname), "%s", qname);
		for (i = 0; i < nt; i++) {
			struct pd_q *q;

			if (!need[i])
				continue;
			q = &b->q[b->nq++];
			snprintf(q->name, sizeof(q->name), "%s", esc);
			q->type = types[i];
			q->fl = round == 0 ? fl : FL_CHAIN;
			q->deadline = deadline;
			q->b = b;
			q->up = -1;
		}
		b->wake_each = mode != PD_DNSSEC_OFF && b->nq > 1;
		if (!run_batch(d, b, deadline)) {
			set_status(res, PD_DOT_TIMEOUT, "no answer within "
			    "the lookup budget");
			return PD_OK;
		}
		for (i = 0; i < b->nq; i++) {
			struct pd_q *q = &b->q[i];
			unsigned t = q->type == types[0] ? 0 : 1;

			need[t] = false;
			for (unsigned k = 0; k < q->ntries; k++)
				pd_dot_try_add(res->tries, &res->ntries,
				    q->tries[k].upstream, q->tries[k].why,
				    q->tries[k].count);
			if (q->st != PD_DOT_OK || !q->processed) {
				set_status(res, q->st == PD_DOT_OK ?
				    PD_DOT_ERROR : q->st, q->detail);
				continue;
			}
			ro = &q->out;
			*outs[t] = ro->rr;
			done[t] = true;
			if (res->status == PD_DOT_OK) {
				snprintf(res->upstream, sizeof(res->upstream),
				    "%s", q->upstream);
				if (ro->detail[0] != '\0')
					snprintf(res->detail,
					    sizeof(res->detail), "%s",
					    ro->detail);
			}
			if (ro->need_chain && q->fl != FL_CHAIN)
				need[t] = true;
		}
		graveyard(d, b);
		if (res->status != PD_DOT_OK || (!need[0] && !need[1]))
			break;
	}
	for (i = 0; i < nt; i++)
		if (!done[i])
			memset(outs[i], 0, sizeof(*outs[i]));
	return PD_OK;
}

static void *
helper_main(void *arg)
{
	struct pd_dot *d = arg;
	struct pd_dot_result res;
	struct areq *a;

	engine_thread(d);
	(void)pthread_mutex_lock(&d->mu);
	for (;;) {
		while (TAILQ_EMPTY(&d->asyncq) && !d->astop) {
			d->idle++;
			(void)pthread_cond_wait(&d->acv, &d->mu);
			d->idle--;
		}
		if (d->astop)
			break;
		a = TAILQ_FIRST(&d->asyncq);
		TAILQ_REMOVE(&d->asyncq, a, link);
		d->nasync--;
		(void)pthread_mutex_unlock(&d->mu);
		if (pd_dot_resolve(d, a->qname, a->want, a->mode, &res) !=
		    PD_OK) {
			memset(&res, 0, sizeof(res));
			res.status = PD_DOT_ERROR;
			snprintf(res.detail, sizeof(res.detail),
			    "could not resolve");
		}
		a->cb(a->arg, &res);
		free(a);
		(void)pthread_mutex_lock(&d->mu);
	}
	(void)pthread_mutex_unlock(&d->mu);
	return NULL;
}

enum pd_err
pd_dot_resolve_async(struct pd_dot *d, const char *qname, unsigned want,
    enum pd_dnssec_mode mode, pd_dot_cb *cb, void *arg)
{
	struct areq *a;
	enum pd_err r = PD_OK;

	if (d == NULL || qname == NULL || cb == NULL || want == 0 ||
	    (want & ~(PD_WANT_A | PD_WANT_AAAA)) != 0)
		return PD_EINVAL;
	if (d->child)
		return PD_EINVAL;
	if (strlen(qname) > PD_NAME_MAX)
		return PD_ENAME;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return PD_ENOMEM;
	snprintf(a->qname, sizeof(a->qname), "%s", qname);
	a->want = want;
	a->mode = mode;
	a->cb = cb;
	a->arg = arg;
	(void)pthread_mutex_lock(&d->mu);
	if (d->astop)
		r = PD_EINVAL;
	else if (d->nasync >= MAX_ASYNC)
		r = PD_ENOMEM;
	else if (d->idle == 0 && d->nhelpers < MAX_HELPERS &&
	    spawn(&d->helpers[d->nhelpers], helper_main, d) == 0)
		d->nhelpers++;
	if (r == PD_OK && d->nhelpers == 0)
		r = PD_EINTERNAL;
	if (r == PD_OK) {
		TAILQ_INSERT_TAIL(&d->asyncq, a, link);
		d->nasync++;
		(void)pthread_cond_signal(&d->acv);
		a = NULL;
	}
	(void)pthread_mutex_unlock(&d->mu);
	free(a);
	return r;
}

enum pd_err
pd_dot_check_anchors(const struct pd_policy *p, char *err, size_t errlen)
{
	size_t count = 0;

	if (p == NULL)
		return PD_EINVAL;
	return pd_chain_load_anchors(p, NULL, &count, err, errlen);
}

void
pd_dot_stats(struct pd_dot *d, struct pd_dot_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->queries = atomic_load(&d->n_queries);
	s->chain_queries = atomic_load(&d->n_chain);
	s->retries = atomic_load(&d->n_retries);
	s->failovers = atomic_load(&d->n_failovers);
	s->sigpipes = atomic_load(&d->n_sigpipes);
	s->sockets = atomic_load(&d->n_sockets);
	s->nodelay_fail = atomic_load(&d->n_nodelay_fail);
	pd_chain_counts(d->chain, &s->zones, &s->insecure);
}

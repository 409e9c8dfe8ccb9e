/*
 * pindns DoT backend: one query's attempts on the backend thread. The
 * upstream picked (failover), the retry of a broken connection, the
 * rebuild of a context that failed authentication, getdns's callback,
 * and the hand-back to the caller (worker.h, "Failover").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "resolver/dot/backend.h"

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
void
pd_backend_process(struct pd_dot *d, struct pd_q *q, const getdns_dict *resp)
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
	pd_backend_process(d, q, resp);
	junk_add(d, resp);
}

/*
 * Keep the most telling failure of a query over its attempts: a TLS
 * authentication failure beats a timeout beats an unreachable upstream.
 */
void
pd_backend_record(struct pd_q *q, enum pd_dot_status st, const char *fmt, ...)
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

/*
 * Whether the caller has a reply of b to handle before it could take q
 * (d->mu held): it is handling one, or another one is done and waits for
 * it (the caller was woken for that one and is not running yet; two
 * replies of an address lookup come within microseconds of each other,
 * well inside a wake-up). Either way q is better validated beside the
 * caller: the two replies are then validated at the same time.
 */
static bool
caller_has_one(const struct pd_batch *b, const struct pd_q *q)
{
	unsigned i;

	if (b->busy)
		return true;
	for (i = 0; i < b->nq; i++)
		if (&b->q[i] != q && b->q[i].done && !b->q[i].taken)
			return true;
	return false;
}

/* The query is done: hand it back (backend thread). */
void
pd_backend_finish(struct pd_dot *d, struct pd_q *q)
{
	struct pd_batch *b = q->b, *dead = NULL;
	struct pd_side *sd = NULL;
	pthread_cond_t *wake = NULL;
	bool idle = false;

	if (q->active) {
		TAILQ_REMOVE(&d->active, q, link);
		q->active = false;
	}
	if (q->resp == NULL && !q->processed && q->st == PD_DOT_OK)
		pd_backend_record(q, PD_DOT_ERROR, "no response");
	(void)pthread_mutex_lock(&d->mu);
	q->done = true;
	--b->pending;
	if (b->abandoned) {
		if (b->pending == 0)
			dead = b;
	} else if (b->wake_each && caller_has_one(b, q) &&
	    ((idle = TAILQ_EMPTY(&d->active) && TAILQ_EMPTY(&d->submitq)) ||
	    (sd = side_idle(d)) != NULL)) {
		q->taken = true;
		atomic_fetch_add_explicit(&d->n_beside, 1,
		    memory_order_relaxed);
		b->at_side++;
		if (idle) {
			/*
			 * Nothing else for this thread to do: q is validated
			 * right here. No thread has to be woken for it (a
			 * validator's wake-up is 16 to 27 µs on a VM, a
			 * third of a verification). A lookup queued
			 * meanwhile waits for it: one verification, bounded.
			 */
			(void)pthread_mutex_unlock(&d->mu);
			pd_backend_handle(d, q);
			(void)pthread_mutex_lock(&d->mu);
			q->handled = true;
			b->at_side--;
			wake = &b->cv;
		} else {
			sd->b = b;
			sd->q = q;
			wake = &sd->cv;
		}
	} else if (b->pending == 0 || b->wake_each)
		wake = &b->cv;
	(void)pthread_mutex_unlock(&d->mu);
	/*
	 * Signalled after the unlock, so that the woken thread does not
	 * block at once on d->mu, still held here (a second sleep and wake
	 * per lookup). b outlives this: a batch is only ever freed on this
	 * thread (chores, or dead just below, which is never signalled), and
	 * a validator's cv lives as long as d.
	 */
	if (wake != NULL)
		(void)pthread_cond_signal(wake);
	pd_backend_batch_free(dead, false);
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

static void on_reply(getdns_context *ctx, getdns_callback_type_t type,
    getdns_dict *resp, void *arg, getdns_transaction_t tid);

enum pd_err
pd_backend_ctx_new(struct pd_dot *d, struct pd_up *up,
    const struct pd_upstream *cfg, char *err, size_t errlen)
{
	enum pd_err r;

	/* pd_ctx_new registers up itself as the log callback's argument. */
	r = pd_ctx_new(d->p, cfg, d->ca.fd >= 0 ? d->ca.path : NULL,
	    pd_chain_nanchors(d->chain) ? pd_chain_anchors(d->chain) : NULL,
	    pd_loop_getdns(d->loop), up, err, errlen);
	if (r == PD_OK)
		atomic_fetch_add(&d->n_contexts, 1);
	return r;
}

/* An upstream whose certificate, name or pin once failed and never
 * passed is never tried again by getdns; give it a fresh context now and
 * then (an operator may have fixed it). */
void
pd_backend_maybe_rebuild(struct pd_dot *d, struct pd_up *up, uint64_t now)
{
	struct pd_up saved = *up;
	getdns_context *fresh;
	char err[200];

	if (!up->auth_failed || now - up->auth_fail_ms < AUTH_RETRY_MS)
		return;
	if (pd_backend_ctx_new(d, up, up->cfg, err, sizeof(err)) != PD_OK) {
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
void
pd_backend_attempt(struct pd_dot *d, struct pd_q *q)
{
	struct pd_up *up;
	getdns_return_t rc;
	unsigned left;
	uint64_t now;
	char err[200];
	int i;

	for (;;) {
		now = pd_loop_now_ms();
		if (now >= q->deadline) {
			pd_backend_record(q, PD_DOT_TIMEOUT, "no answer within %u ms",
			    d->timeout_ms);
			pd_backend_finish(d, q);
			return;
		}
		if ((i = pick(d, q, &left)) < 0) {
			if (q->tried == 0)
				pd_backend_record(q, PD_DOT_UNREACHABLE, "every upstream "
				    "is down");
			pd_backend_finish(d, q);
			return;
		}
		up = &d->ups[i];
		if (q->tried != 0)
			atomic_fetch_add(&d->n_failovers, 1);
		q->tried |= 1u << i;
		/* Made when first needed (worker.h, "Contexts"). */
		if (up->ctx == NULL && pd_backend_ctx_new(d, up, up->cfg, err,
		    sizeof(err)) != PD_OK) {
			q->up = i;
			snprintf(q->upstream, sizeof(q->upstream), "%s",
			    up->cfg->label);
			pd_backend_record(q, PD_DOT_ERROR, "%s: %s",
			    up->cfg->label, err);
			pd_hset_fail(&d->hs, (unsigned)i, PD_DOT_UNREACHABLE,
			    err, now);
			continue;
		}
		pd_backend_maybe_rebuild(d, up, now);
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
			pd_backend_record(q, PD_DOT_ERROR, "getdns refused the query (%d)",
			    (int)rc);
			pd_backend_finish(d, q);
			return;
		}
		/* 398 at once: getdns has given up on this upstream. */
		if (up->auth_failed || up->verify_seq != q->verify_seq) {
			pd_backend_record(q, PD_DOT_TLS_AUTH, "%s: TLS authentication "
			    "failed: %s", up->cfg->label, up->verify_err);
			pd_hset_fail(&d->hs, (unsigned)i, PD_DOT_TLS_AUTH,
			    up->verify_err, now);
		} else {
			pd_backend_record(q, PD_DOT_UNREACHABLE, "%s: no usable "
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
		pd_backend_finish(d, q);
		return;
	case GETDNS_CALLBACK_TIMEOUT:
		pd_backend_record(q, PD_DOT_TIMEOUT, "%s: no answer", up->cfg->label);
		pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TIMEOUT,
		    "no answer", now);
		break;
	default:
		if (up->verify_seq != q->verify_seq) {
			pd_backend_record(q, PD_DOT_TLS_AUTH, "%s: TLS authentication "
			    "failed: %s", up->cfg->label, up->verify_err);
			if (up->answers == 0) {
				up->auth_failed = true;
				up->auth_fail_ms = now;
			}
			pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TLS_AUTH,
			    up->verify_err, now);
			break;
		}
		pd_backend_record(q, PD_DOT_UNREACHABLE, "%s: connection failed or "
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
	pd_backend_attempt(d, q);
}

/* The attempt on the current upstream took its share of the budget. */
void
pd_backend_attempt_timeout(struct pd_dot *d, struct pd_q *q)
{
	struct pd_up *up = &d->ups[q->up];

	q->cancelling = true;
	(void)getdns_cancel_callback(up->ctx, q->tid);
	q->cancelling = false;
	q->inflight = false;
	pd_backend_record(q, PD_DOT_TIMEOUT, "%s: no answer in %llu ms",
	    up->cfg->label, (unsigned long long)(pd_loop_now_ms() -
	    q->att_start));
	pd_hset_fail(&d->hs, (unsigned)q->up, PD_DOT_TIMEOUT, "no answer",
	    pd_loop_now_ms());
	pd_backend_attempt(d, q);
}

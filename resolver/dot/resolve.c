/*
 * pindns DoT backend: the resolve entry points (worker.h). A lookup's
 * queries go to the backend thread as one batch; the caller validates
 * each reply as it comes, with the idle backend thread or a validator
 * thread taking a second reply while it has another; resolve_async runs
 * lookups on helper threads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "resolver/dot/backend.h"

/* ------------------------------------------------------------ resolve */

/*
 * The outcome of query q, into q->out: processed on the backend
 * thread already (dnssec off), or processed and validated here, in the
 * caller's thread, as soon as the query is done (the other query of the
 * batch may still be on its way: validating the first reply of an address
 * lookup overlaps with the round trip of the second).
 */
void
pd_backend_handle(struct pd_dot *d, struct pd_q *q)
{
	if (q->processed || q->st != PD_DOT_OK || q->resp == NULL)
		return;
	if (q->keys) {
		q->learnt = pd_chain_learn_keys(d->chain, q->b->kzone, q->resp,
		    time(NULL));
		q->processed = true;
	} else
		pd_backend_process(d, q, q->resp);
}

/*
 * After a batch with a keys query: an answer validated before the zone
 * keys were learnt asked for the chain; now that they are cached, it is
 * validated again against them (getdns_validate_dnssec2, as any later
 * lookup is) instead of fetching the chain.
 */
static void
revalidate(struct pd_dot *d, struct pd_batch *b)
{
	unsigned i;
	bool learnt = false;

	for (i = 0; i < b->nq; i++)
		learnt |= b->q[i].keys && b->q[i].learnt;
	if (!learnt)
		return;
	for (i = 0; i < b->nq; i++) {
		struct pd_q *q = &b->q[i];

		if (!q->keys && q->processed && q->out.need_chain &&
		    q->resp != NULL)
			pd_backend_process(d, q, q->resp);
	}
}

static void *
side_main(void *arg)
{
	struct pd_side *sd = arg;
	struct pd_dot *d = sd->d;
	struct pd_batch *b;
	struct pd_q *q;

	pd_backend_engine_thread(d);
	(void)pthread_mutex_lock(&d->mu);
	for (;;) {
		while (sd->q == NULL && !d->side_stop)
			(void)pthread_cond_wait(&sd->cv, &d->mu);
		if (sd->q == NULL)
			break;
		b = sd->b;
		q = sd->q;
		(void)pthread_mutex_unlock(&d->mu);
		pd_backend_handle(d, q);
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
		if (pd_backend_spawn(&d->sides[i].t, side_main, &d->sides[i]) != 0)
			return;
		d->sides[i].started = true;
	}
}

void
pd_backend_sides_stop(struct pd_dot *d)
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
 * validator thread take one, see pd_backend_finish()), until all are handled or
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
			pd_backend_handle(d, &b->q[i]);
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
	char esc[4 * PD_NAME_MAX + 2], kesc[4 * PD_NAME_MAX + 2];
	char kzone[PD_NAME_MAX + 1];
	bool need[2] = { false, false }, done[2] = { false, false };
	bool prefetch = false;
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
	else if (pd_chain_covers(d->chain, qname, time(NULL)))
		fl = FL_DO;
	else if (pd_chain_prefetch_zone(d->chain, qname, time(NULL), kzone)) {
		/* First lookup under an anchored zone: its DNSKEY RRset is
		 * asked beside the answers, on the same connection, and
		 * proved against the anchor here; the answers then validate
		 * against it. Not decided that way (a signer below the
		 * anchored zone, keys that did not validate, no answer to
		 * the keys query): round 1 fetches the chain as before. */
		fl = FL_DO;
		prefetch = true;
	} else
		fl = FL_CHAIN;
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
		if (round == 0 && prefetch && pd_dname_escape(kzone, kesc,
		    sizeof(kesc))) {
			struct pd_q *q = &b->q[b->nq++];

			snprintf(b->kzone, sizeof(b->kzone), "%s", kzone);
			snprintf(q->name, sizeof(q->name), "%s", kesc);
			q->type = GETDNS_RRTYPE_DNSKEY;
			q->fl = FL_DO;
			q->keys = true;
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
		revalidate(d, b);
		for (i = 0; i < b->nq; i++) {
			struct pd_q *q = &b->q[i];
			unsigned t = q->type == types[0] ? 0 : 1;

			/* Its failure only costs the chain round. */
			if (q->keys)
				continue;

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

	pd_backend_engine_thread(d);
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
	    pd_backend_spawn(&d->helpers[d->nhelpers], helper_main, d) == 0)
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

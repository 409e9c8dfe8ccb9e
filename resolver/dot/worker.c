/*
 * pindns DoT backend: the backend thread (its loop, the queries it
 * starts, the chores it does when it would sleep anyway), and creating
 * and freeing a backend (worker.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "resolver/dot/backend.h"

/* ------------------------------------------------------------ queries */

/* Free b and the responses it holds. In a forked child its condition
 * variable is left alone (see pd_backend_destroy()). */
void
pd_backend_batch_free(struct pd_batch *b, bool child)
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

static void
chores(struct pd_dot *d)
{
	struct pd_batch *b;

	while ((b = d->dead_local) != NULL) {
		d->dead_local = b->next_dead;
		pd_backend_batch_free(b, false);
	}
	while (d->njunk > 0)
		getdns_dict_destroy(d->junk[--d->njunk]);
	pd_backend_drain_sigpipe(d);
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

	pd_backend_engine_thread(d);
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
				pd_backend_record(q, PD_DOT_ERROR, "backend shutting "
				    "down");
				pd_backend_finish(d, q);
				continue;
			}
			pd_backend_attempt(d, q);
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
					pd_backend_attempt_timeout(d, q);
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
			pd_backend_maybe_rebuild(d, &d->ups[i], now);
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
		pd_backend_record(q, PD_DOT_ERROR, "backend shutting down");
		pd_backend_finish(d, q);
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
void
pd_backend_destroy(struct pd_dot *d, bool child)
{
	struct pd_batch *b;
	size_t i;

	/* Batches callers were done with, not freed yet. */
	while ((b = d->dead) != NULL) {
		d->dead = b->next_dead;
		pd_backend_batch_free(b, child);
	}
	while ((b = d->dead_local) != NULL) {
		d->dead_local = b->next_dead;
		pd_backend_batch_free(b, child);
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
	pthread_t warm;
	bool warming;

	if (err == NULL || errlen == 0) {
		err = junk;
		errlen = sizeof(junk);
	}
	/* The fork handlers first: they also cover pd_ctx_new's lock. */
	pd_backend_fork_init();
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
	warming = pd_backend_warm_start(&warm, host);
	r = pd_chain_load_anchors(p, &anchors, &count, err, errlen);
	if (r != PD_OK) {
		/* Broken anchors matter only where something validates. */
		if (pd_policy_needs_dnssec(p)) {
			pd_backend_warm_join(warm, warming);
			return r;
		}
		anchors = NULL;
		count = 0;
		err[0] = '\0';
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		pd_backend_warm_join(warm, warming);
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
	/* The first upstream tried now, the others when first needed
	 * (worker.h, "Contexts"). */
	for (i = 0; i < d->nup; i++)
		d->ups[i].cfg = &p->upstreams[i];
	if ((r = pd_backend_ctx_new(d, &d->ups[0], &p->upstreams[0], err,
	    errlen)) != PD_OK)
		goto fail;
	if ((r = pd_hset_init(&d->hs, d->ups, (unsigned)d->nup,
	    d->ext[FL_PLAIN])) != PD_OK) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pd_backend_warm_join(warm, warming);
	warming = false;
	if (!pd_backend_reg_add(d)) {
		r = PD_EINTERNAL;
		snprintf(err, errlen, "pthread_atfork failed");
		goto fail;
	}
	if (pd_backend_spawn(&d->worker, worker_main, d) != 0) {
		r = PD_EINTERNAL;
		snprintf(err, errlen, "cannot start the backend thread");
		goto fail;
	}
	d->worker_started = true;
	*dp = d;
	return PD_OK;
fail:
	pd_backend_warm_join(warm, warming);
	pd_backend_reg_del(d);
	pd_backend_destroy(d, false);
	return r;
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
		pd_backend_free_child(d);
		return;
	}
	/* Async helpers first: they wait on the backend thread. */
	(void)pthread_mutex_lock(&d->mu);
	d->astop = true;
	(void)pthread_cond_broadcast(&d->acv);
	(void)pthread_mutex_unlock(&d->mu);
	for (i = 0; i < d->nhelpers; i++)
		(void)pthread_join(d->helpers[i], NULL);
	pd_backend_sides_stop(d);
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
	pd_backend_reg_del(d);
	pd_backend_destroy(d, false);
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
	s->contexts = atomic_load(&d->n_contexts);
	s->beside = atomic_load(&d->n_beside);
	pd_chain_counts(d->chain, &s->zones, &s->insecure, &s->fast);
}

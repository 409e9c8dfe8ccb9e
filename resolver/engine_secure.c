/*
 * pindns engine, a `secure` name (resolver/engine_int.h): the policy's
 * shared cache (resolver/cache.h); on a miss one flight per (name,
 * families) asks the getdns backend (resolver/dot/dot.h, dlopened on
 * first need) while later lookups wait for it; the backend's facts are
 * held against the rule (resolver/verdict.h), cached and logged. An entry
 * near its end is refreshed ahead in the background; every upstream
 * failing serves the stale entry (RFC 8767).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "resolver/cache.h"
#include "resolver/clock.h"
#include "resolver/dot/dot.h"
#include "resolver/engine.h"
#include "resolver/engine_int.h"
#include "resolver/tcache.h"
#include "resolver/verdict.h"

/*
 * A miss being resolved. Lookups of the same (name, families) that miss
 * while it is in flight wait for it instead of asking again: a cold
 * start of 64 threads costs one query per name, not 64.
 */
struct flight {
	struct flight		*next;		/* ps->flights, until landed */
	unsigned		 refs;		/* under fmu */
	bool			 done;
	bool			 cached;	/* res went into the cache */
	unsigned		 want;
	size_t			 len;
	struct pd_cache_times	 t;
	struct pd_result	 res;
	char			 dnssec[16];
	char			 upstream[64];
	unsigned		 nseen;
	struct pd_addr		 seen[PD_MAX_ADDRS];
	char			 detail[256];
	unsigned		 ntries;
	struct pd_try		 tries[PD_MAX_TRIES];
	char			 name[PD_NAME_MAX + 1];
};

/* A refresh-ahead in flight: what its callback needs. */
struct refresh {
	struct pstate		*ps;
	const struct pd_rule	*r;
	unsigned		 want;
	size_t			 len;
	char			 name[];
};

/* What a secure miss needs beyond the stack of a small thread. */
struct work {
	struct pd_dot_result	facts;
	struct pd_explain	ex;
	struct pd_result	stale;
};

/*
 * The backend instance of ps, made (again, after fork) when needed. The
 * backend is loaded and made without holding ps->mu: dlopen and
 * pd_dot_new take locks of their own (the loader's, glibc's atfork list,
 * the backend's registry) that a fork() in another thread holds while our
 * prepare handler waits for ps->mu. Two threads may race to make one;
 * the loser frees its own (in its own process: nothing inherited).
 */
/*
 * The backend of ps, made on first use; the caller is counted as a user
 * until put_dot(). A backend outlives its policy's reign only while it is
 * used: pd_engine_reap_backends() frees the backend of a policy no
 * longer in force
 * as soon as nobody uses it and no refresh is in flight, rather than
 * after the watch's grace period (a policy rewritten every second would
 * otherwise hold ~120 backends: threads, TLS connections, memory).
 */
static struct pd_dot *
get_dot(struct pstate *ps, char *err, size_t errlen)
{
	uint32_t epoch = atomic_load(&pd_eng.fork_epoch);
	const struct pd_dot_ops *ops;
	struct pd_dot *d, *mine = NULL;

	(void)pthread_mutex_lock(&ps->mu);
	ps->dot_users++;
	if (ps->dot != NULL && ps->dot_epoch != epoch) {
		/*
		 * Made in the parent. Leak it rather than free it: destroying
		 * a getdns context writes a TLS close_notify on the parent's
		 * connection (GETDNS-NOTES, "fork()"), and the backend's
		 * child-safe free missed idle connections when this was
		 * written (tests/integration/62-engine-fork.sh). The memory
		 * stays shared copy-on-write with the parent; the inherited
		 * sockets are close-on-exec.
		 */
		ps->dot = NULL;
	}
	d = ps->dot;
	(void)pthread_mutex_unlock(&ps->mu);
	if (d != NULL)
		return d;

	if ((ops = pd_dot_get(err, errlen)) == NULL)
		goto fail;
	if (ops->new == NULL || ops->resolve == NULL) {
		(void)snprintf(err, errlen, "the DNS-over-TLS backend cannot "
		    "resolve");
		goto fail;
	}
	if (ops->new(ps->p, pd_eng.host, &mine, err, errlen) != PD_OK)
		goto fail;
	(void)pthread_mutex_lock(&ps->mu);
	if (ps->dot == NULL) {
		ps->ops = ops;
		ps->dot = mine;
		ps->dot_epoch = epoch;
		mine = NULL;
	}
	d = ps->dot;
	(void)pthread_mutex_unlock(&ps->mu);
	if (mine != NULL && ops->free != NULL)
		ops->free(mine);
	return d;
fail:
	(void)pthread_mutex_lock(&ps->mu);
	ps->dot_users--;
	(void)pthread_mutex_unlock(&ps->mu);
	return NULL;
}

/* The end of a get_dot() that returned a backend. */
static void
put_dot(struct pstate *ps)
{
	(void)pthread_mutex_lock(&ps->mu);
	ps->dot_users--;
	(void)pthread_mutex_unlock(&ps->mu);
}

/*
 * Free the backends of policies no longer in force that nobody uses (no
 * thread between get_dot() and put_dot(), no refresh unreported). A
 * lookup that still reaches such a policy afterwards makes a new backend
 * and it is reaped again. Called from pd_engine_poll() (once a second).
 */
void
pd_engine_reap_backends(void)
{
	uint32_t epoch = atomic_load(&pd_eng.fork_epoch);
	struct {
		const struct pd_dot_ops	*ops;
		struct pd_dot		*d;
	} v[8];
	struct pstate *ps, *cur;
	size_t i, n = 0;

	/* Collect under the locks; free after (it joins backend threads). */
	(void)pthread_mutex_lock(&pd_eng.mu);
	cur = atomic_load(&pd_eng.cur);
	for (ps = pd_eng.list; ps != NULL && n < sizeof(v) / sizeof(v[0]);
	    ps = ps->next) {
		if (ps == cur)
			continue;
		(void)pthread_mutex_lock(&ps->mu);
		if (ps->dot != NULL && ps->dot_users == 0 &&
		    atomic_load(&ps->inflight) == 0 &&
		    ps->dot_epoch == epoch && ps->ops != NULL &&
		    ps->ops->free != NULL) {
			v[n].ops = ps->ops;
			v[n].d = ps->dot;
			n++;
			ps->dot = NULL;
		}
		(void)pthread_mutex_unlock(&ps->mu);
	}
	(void)pthread_mutex_unlock(&pd_eng.mu);
	for (i = 0; i < n; i++)
		v[i].ops->free(v[i].d);
}

static void
refresh_done(void *arg, const struct pd_dot_result *f)
{
	struct refresh *rf = arg;
	struct pstate *ps = rf->ps;
	struct pd_explain *ex = malloc(sizeof(*ex));
	struct pd_result *res = malloc(sizeof(*res));
	struct pd_cache_note note;
	bool refused;

	if (res == NULL || ex == NULL) {
		pd_cache_refresh_failed(ps->cache, rf->name, rf->len, rf->want);
		goto out;
	}
	pd_engine_explain_begin(ex, rf->r);
	pd_verdict_judge(ps->p, rf->r, rf->name, rf->want, f, res, ex);
	/*
	 * An upstream that caches (every public resolver) counts its TTL
	 * down, so a refresh in the last tenth of our TTL, which ends when
	 * the upstream's does, is answered from the upstream's last second
	 * with TTL 0. Keeping nothing would let the entry lapse and send
	 * every lookup to the network until the upstream has fetched anew
	 * (thousands of queries a second for a busy name, each waiting).
	 * So a refresh's TTL 0 counts as 1: the name stays one more second
	 * and is refreshed again in it, when the upstream has a fresh copy.
	 * A cold miss keeps TTL 0's meaning (RFC 1035: not cached).
	 */
	if (res->ttl == 0 && (res->verdict == PD_VERDICT_ABSENT ||
	    (res->verdict == PD_VERDICT_ACCEPTED &&
	    res->reason == PD_REASON_NONE)))
		res->ttl = 1;
	refused = res->verdict == PD_VERDICT_REFUSED ||
	    pd_result_would_refuse(res);
	if (res->verdict == PD_VERDICT_FAILED ||
	    (!refused && !pd_cache_would_keep(ps->cache, res))) {
		/*
		 * Keep serving the entry to its end (stale after that): the
		 * upstreams failed, or answered with a TTL too short to keep.
		 */
		pd_cache_refresh_failed(ps->cache, rf->name, rf->len, rf->want);
	} else {
		/*
		 * A new answer replaces the entry; a refusal (say, bogus
		 * now) removes it: the next lookup asks and is refused.
		 */
		memcpy(note.dnssec, ex->dnssec, sizeof(note.dnssec));
		memcpy(note.upstream, ex->upstream, sizeof(note.upstream));
		(void)pd_cache_put(ps->cache, rf->name, rf->len, rf->want,
		    pd_clock_ms(), res, &note, NULL);
		if (refused)
			pd_cache_forget(ps->cache, rf->name, rf->len);
	}
	if (refused || res->verdict == PD_VERDICT_FAILED)
		/* Nobody waits for a refresh, but a refusal is news. */
		pd_engine_audit_x(ps, rf->name, rf->r, res, ex->dnssec,
		    ex->upstream, ex->seen, ex->nseen, 0.0, ex);
out:
	free(res);
	free(ex);
	atomic_fetch_sub(&ps->inflight, 1);
	free(rf);
}

static void
start_refresh(struct pstate *ps, const struct pd_rule *r, const char *norm,
    size_t len, unsigned want)
{
	struct refresh *rf;
	struct pd_dot *d;
	char err[256];

	if ((d = get_dot(ps, err, sizeof(err))) == NULL) {
		pd_cache_refresh_failed(ps->cache, norm, len, want);
		return;
	}
	if (ps->ops->resolve_async == NULL ||
	    (rf = malloc(sizeof(*rf) + len + 1)) == NULL) {
		pd_cache_refresh_failed(ps->cache, norm, len, want);
		put_dot(ps);
		return;
	}
	rf->ps = ps;
	rf->r = r;
	rf->want = want;
	rf->len = len;
	memcpy(rf->name, norm, len + 1);
	atomic_fetch_add(&ps->inflight, 1);
	if (ps->ops->resolve_async(d, rf->name, want, r->dnssec, refresh_done,
	    rf) != PD_OK) {
		atomic_fetch_sub(&ps->inflight, 1);
		free(rf);
		pd_cache_refresh_failed(ps->cache, norm, len, want);
	}
	put_dot(ps);
}

static void
fill_cached_explain(struct pd_explain *ex, const struct pd_result *res,
    const struct pd_cache_note *note, const char *norm)
{
	unsigned i;

	if (ex == NULL)
		return;
	ex->from_cache = true;
	pd_engine_put_str(ex->dnssec, sizeof(ex->dnssec), note->dnssec);
	pd_engine_put_str(ex->upstream, sizeof(ex->upstream), note->upstream);
	ex->nseen = res->naddrs;
	memcpy(ex->seen, res->addrs, res->naddrs * sizeof(res->addrs[0]));
	for (i = 0; i < res->naddrs; i++)
		ex->seen_ok[i] = true;
	ex->nchain = 1;
	pd_engine_put_str(ex->chain[0], sizeof(ex->chain[0]), norm);
	if (res->verdict == PD_VERDICT_ACCEPTED &&
	    strcmp(res->canon, norm) != 0) {
		pd_engine_put_str(ex->chain[1], sizeof(ex->chain[1]),
		    res->canon);
		ex->nchain = 2;
	}
	pd_engine_put_str(ex->detail, sizeof(ex->detail), "from the cache");
}

/* Turn res into the stale answer old (old may be res itself). */
static void
serve_stale(struct pd_result *res, const struct pd_result *old)
{
	if (old != res) {
		res->naddrs = old->naddrs;
		memcpy(res->addrs, old->addrs,
		    old->naddrs * sizeof(old->addrs[0]));
		memcpy(res->canon, old->canon, sizeof(res->canon));
	}
	res->verdict = PD_VERDICT_ACCEPTED;
	res->reason = PD_REASON_STALE;
	res->ttl = 0;
}

/* ------------------------------------------------------------ flights */

/*
 * Join the flight of (norm, want), or start one (*leader true). NULL when
 * out of memory: the caller then resolves on its own.
 */
static struct flight *
flight_join(struct pstate *ps, const char *norm, size_t len, unsigned want,
    bool *leader)
{
	struct flight *f;

	(void)pthread_mutex_lock(&ps->fmu);
	for (f = ps->flights; f != NULL; f = f->next)
		if (f->want == want && f->len == len &&
		    memcmp(f->name, norm, len) == 0) {
			f->refs++;
			*leader = false;
			goto out;
		}
	if ((f = calloc(1, sizeof(*f))) != NULL) {
		f->refs = 1;
		f->want = want;
		f->len = len;
		memcpy(f->name, norm, len + 1);
		f->next = ps->flights;
		ps->flights = f;
		*leader = true;
	}
out:
	(void)pthread_mutex_unlock(&ps->fmu);
	return f;
}

/* Drop one reference; the last frees. Called with fmu held. */
static void
flight_drop_locked(struct flight *f)
{
	if (--f->refs == 0)
		free(f);
}

/* The leader's outcome: publish it, wake the followers, leave. */
static void
flight_land(struct pstate *ps, struct flight *f, const struct pd_result *res,
    const struct pd_explain *x, bool cached, const struct pd_cache_times *t)
{
	struct flight **pp;

	(void)pthread_mutex_lock(&ps->fmu);
	f->res = *res;
	f->cached = cached;
	if (cached)
		f->t = *t;
	memcpy(f->dnssec, x->dnssec, sizeof(f->dnssec));
	memcpy(f->upstream, x->upstream, sizeof(f->upstream));
	f->nseen = x->nseen;
	memcpy(f->seen, x->seen, x->nseen * sizeof(x->seen[0]));
	memcpy(f->detail, x->detail, sizeof(f->detail));
	f->ntries = x->ntries;
	memcpy(f->tries, x->tries, sizeof(f->tries));
	f->done = true;
	for (pp = &ps->flights; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	(void)pthread_cond_broadcast(&ps->fcv);
	flight_drop_locked(f);
	(void)pthread_mutex_unlock(&ps->fmu);
}

/*
 * A follower: wait up to wait_ms for the leader, then take its outcome
 * into res and x. False when the leader did not land in time.
 */
static bool
flight_wait(struct pstate *ps, struct flight *f, uint64_t wait_ms,
    struct pd_result *res, struct pd_explain *x, bool *cached,
    struct pd_cache_times *t)
{
	struct timespec dl;
	bool done;

	(void)clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(wait_ms / 1000);
	dl.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	(void)pthread_mutex_lock(&ps->fmu);
	while (!f->done)
		if (pthread_cond_timedwait(&ps->fcv, &ps->fmu, &dl) != 0 &&
		    !f->done)
			break;
	if ((done = f->done)) {
		*res = f->res;
		*cached = f->cached;
		*t = f->t;
		memcpy(x->dnssec, f->dnssec, sizeof(x->dnssec));
		memcpy(x->upstream, f->upstream, sizeof(x->upstream));
		x->ntries = f->ntries;
		memcpy(x->tries, f->tries, sizeof(x->tries));
		x->nseen = f->nseen;
		memcpy(x->seen, f->seen, f->nseen * sizeof(f->seen[0]));
		for (unsigned i = 0; i < f->nseen; i++)
			x->seen_ok[i] = false;
		for (unsigned i = 0; i < f->nseen; i++)
			for (unsigned k = 0; k < res->naddrs; k++)
				if (memcmp(&f->seen[i], &res->addrs[k],
				    sizeof(res->addrs[k])) == 0)
					x->seen_ok[i] = true;
		(void)snprintf(x->detail, sizeof(x->detail), "%.200s%s",
		    f->detail, f->detail[0] != '\0' ?
		    " (joined a lookup in flight)" :
		    "joined a lookup in flight");
	}
	flight_drop_locked(f);
	(void)pthread_mutex_unlock(&ps->fmu);
	return done;
}

void
pd_engine_secure(struct pstate *ps, const struct pd_rule *r, const char *name,
    size_t rawlen, uint64_t h, uint64_t gen, const char *norm, size_t len,
    unsigned want, uint64_t now, uint64_t t0, struct pd_result *res,
    struct pd_explain *ex)
{
	struct pd_cache_note note;
	struct pd_cache_times t;
	struct pd_tcache_meta m;
	struct work *w = NULL;
	struct pd_explain *x;
	struct flight *f;
	enum pd_cache_hit hit;
	struct pd_dot *d;
	bool leader = false, stored = false;
	char err[256];

	memset(&note, 0, sizeof(note));
	hit = pd_cache_get(ps->cache, norm, len, want, now, res, &note, &t);
	if (hit == PD_CACHE_FRESH || hit == PD_CACHE_REFRESH) {
		if (hit == PD_CACHE_REFRESH)
			start_refresh(ps, r, norm, len, want);
		memset(&m, 0, sizeof(m));
		m.rule = r;
		m.flags = pd_engine_wants_log(ps, res) ? PD_TC_LOG : 0;
		memcpy(m.dnssec, note.dnssec, sizeof(m.dnssec));
		if (rawlen <= PD_TCACHE_NAME_MAX)
			pd_tcache_put(name, rawlen, want, h, gen,
			    t.reuse_until_ms, t.expire_ms, res, &m);
		fill_cached_explain(ex, res, &note, norm);
		pd_engine_audit(ps, name, r, res, note.dnssec, NULL, res->addrs,
		    res->naddrs, (pd_clock_ns() - t0) / 1e6);
		return;
	}
	if (hit == PD_CACHE_STALE_HOLD) {
		serve_stale(res, res);
		fill_cached_explain(ex, res, &note, norm);
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "every upstream failed recently: served stale");
		pd_engine_audit(ps, name, r, res, note.dnssec, NULL, res->addrs,
		    res->naddrs, (pd_clock_ns() - t0) / 1e6);
		return;
	}

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		/* No memory: a temporary failure, like glibc's EAI_MEMORY. */
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_FAILED;
		res->reason = PD_REASON_UNREACHABLE;
		return;
	}
	x = ex != NULL ? ex : &w->ex;
	if (ex == NULL)
		pd_engine_explain_begin(x, r);
	if (hit == PD_CACHE_STALE)
		w->stale = *res;

	f = flight_join(ps, norm, len, want, &leader);
	if (f != NULL && !leader) {
		/* The leader waits at most timeout_ms; allow it some slack. */
		if (!flight_wait(ps, f, (uint64_t)ps->p->timeout_ms * 2 + 1000,
		    res, x, &stored, &t)) {
			memset(res, 0, sizeof(*res));
			res->verdict = PD_VERDICT_FAILED;
			res->reason = PD_REASON_TIMEOUT;
			(void)snprintf(x->detail, sizeof(x->detail),
			    "the lookup in flight for this name did not "
			    "finish in time");
			stored = false;
		}
		goto done;
	}

	err[0] = '\0';
	if ((d = get_dot(ps, err, sizeof(err))) == NULL) {
		w->facts.status = PD_DOT_ERROR;
		/* Cut to fit: the detail of a dlopen error can be long. */
		(void)snprintf(w->facts.detail, sizeof(w->facts.detail),
		    "%.*s", (int)sizeof(w->facts.detail) - 1, err);
	} else {
		if (ps->ops->resolve(d, norm, want, r->dnssec, &w->facts) !=
		    PD_OK) {
			w->facts.status = PD_DOT_ERROR;
			(void)snprintf(w->facts.detail,
			    sizeof(w->facts.detail),
			    "the backend could not start the lookup");
		}
		put_dot(ps);
	}
	pd_verdict_judge(ps->p, r, norm, want, &w->facts, res, x);
	if (res->verdict == PD_VERDICT_FAILED && hit == PD_CACHE_STALE) {
		/* RFC 8767: every upstream failed, the old answer stands. */
		pd_cache_hold(ps->cache, norm, len, want, now);
		serve_stale(res, &w->stale);
		(void)snprintf(x->detail, sizeof(x->detail), "every upstream "
		    "failed (%s): served stale", w->facts.detail);
	} else if (res->verdict == PD_VERDICT_REFUSED ||
	    pd_result_would_refuse(res))
		/* A refusal ends every stale answer of the name too. */
		pd_cache_forget(ps->cache, norm, len);
	else if (res->verdict == PD_VERDICT_ACCEPTED ||
	    res->verdict == PD_VERDICT_ABSENT) {
		memcpy(note.dnssec, x->dnssec, sizeof(note.dnssec));
		memcpy(note.upstream, x->upstream, sizeof(note.upstream));
		stored = pd_cache_put(ps->cache, norm, len, want, now, res,
		    &note, &t);
	}
	if (f != NULL)
		flight_land(ps, f, res, x, stored, &t);
done:
	if (stored && rawlen <= PD_TCACHE_NAME_MAX) {
		memset(&m, 0, sizeof(m));
		m.rule = r;
		m.flags = pd_engine_wants_log(ps, res) ? PD_TC_LOG : 0;
		memcpy(m.dnssec, x->dnssec, sizeof(m.dnssec));
		pd_tcache_put(name, rawlen, want, h, gen, t.reuse_until_ms,
		    t.expire_ms, res, &m);
	}
	pd_engine_audit_x(ps, name, r, res, x->dnssec, x->upstream, x->seen,
	    x->nseen, (pd_clock_ns() - t0) / 1e6, x);
	free(w);
}

/* Everything that the thread cache did not answer. */

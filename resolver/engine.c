/*
 * pindns engine front: the one entry point (resolver/engine.h) between the
 * preload (or `pindns query`) and everything else.
 *
 * A lookup, fastest first:
 *  1. the calling thread's own cache (resolver/tcache.h), keyed by the name
 *     as passed: a hit costs a keyed hash, a few compares and a copy; no
 *     lock, no system call, no shared cache line written;
 *  2. the slow path: normalise the name, match the rule of the policy in
 *     force; `system`, `static` and `deny` are decided at once (and kept in
 *     the thread cache until the policy changes); `secure` asks the
 *     policy's shared cache (resolver/cache.h), and on a miss the getdns
 *     backend (resolver/dot/dot.h, dlopened on first need), then holds the
 *     backend's facts against the rule (resolver/verdict.h), caches and
 *     logs (resolver/log.h).
 *
 * State per policy (struct pstate: shared cache, audit log, backend
 * instance) is made when the engine first sees that policy and released
 * through the policy watch's retire callback, which runs
 * PD_WATCH_GRACE_MS after the policy was replaced: a lookup that still
 * holds an old pstate finishes long before (the same argument the watch
 * makes for the policy itself). A policy generation number, compared on
 * every thread-cache hit, invalidates every cached decision and answer the
 * moment a new policy is installed.
 *
 * Fork: pthread_atfork handlers take every engine lock before fork() and
 * release them on both sides, so a child never inherits a lock held by a
 * thread it does not have (see fork_prepare() for the list and the order;
 * none is held across a call that can block for long, so fork() never
 * waits on a file system). The child keeps the caches (valid data),
 * counts a new fork epoch, and on its first secure miss leaves the
 * parent's backend instance alone (never touched again, never freed: see
 * get_dot()) and makes its own. A pid check would cost a system call per
 * lookup on glibc 2.36 (getpid is not cached): the epoch is a plain load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "resolver/cache.h"
#include "resolver/clock.h"
#include "resolver/dot/dot.h"
#include "resolver/engine.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/report.h"
#include "resolver/tcache.h"
#include "resolver/verdict.h"

/* Everything the engine keeps for one loaded policy. */
struct pstate {
	struct pstate		*next;		/* E.list, under E.mu */
	struct pd_policy	*p;
	uint64_t		 gen;		/* engine generation */
	struct pd_cache		*cache;
	struct pd_log		*log;
	bool			 log_all;
	pthread_mutex_t		 mu;		/* the backend instance */
	const struct pd_dot_ops	*ops;
	struct pd_dot		*dot;
	uint32_t		 dot_epoch;	/* fork epoch it was made in */
	unsigned		 dot_users;	/* under mu: threads using dot */
	_Atomic int		 inflight;	/* refreshes not reported */
	pthread_mutex_t		 fmu;		/* flights, fcv */
	pthread_cond_t		 fcv;		/* a flight landed */
	struct flight		*flights;	/* misses being resolved */
};

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

static struct {
	pthread_mutex_t		 mu;		/* list, cur updates, init */
	_Atomic bool		 inited;
	struct pd_watch		*w;
	struct pstate		*list;
	_Atomic(struct pstate *) cur;		/* of the policy in force */
	_Atomic uint64_t	 gen;		/* its generation (or the
						 * no-policy one) */
	uint64_t		 gen_counter;	/* under mu */
	_Atomic uint64_t	 next_poll_ms;
	_Atomic uint32_t	 fork_epoch;
	char			*policy_path;
	char			*pubkey_path;
	char			*log_spec;	/* override of the policy's */
	const struct pd_host	*host;
	struct pd_log		*nolog;		/* log_spec, without a policy */
} E = { .mu = PTHREAD_MUTEX_INITIALIZER, .fork_epoch = 1 };

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static int atfork_rc;

/*
 * Audit logs, shared by the generations that write to the same target: a
 * policy replaced every second must not hold a descriptor per generation
 * for the watch's grace period.
 */
struct shared_log {
	struct shared_log	*next;
	struct pd_log		*log;
	unsigned		 refs;
	char			 spec[];
};
static pthread_mutex_t logs_mu = PTHREAD_MUTEX_INITIALIZER;
static struct shared_log *logs;

static void retire(struct pd_policy *p, void *arg);
static void pstate_free(struct pstate *ps);
static void reap_backends(void);

/* ------------------------------------------------------------ messages */

__attribute__((format(printf, 1, 2))) static void
say(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pd_log_stderr(msg);
}

/* "cannot load policy PATH: why", without saying PATH twice. */
static void
say_load_error(const char *path, const char *why, const char *then)
{
	size_t n = strlen(path);

	if (strncmp(why, path, n) == 0 && why[n] == ':')
		say("pindns: cannot load policy %s; %s", why, then);
	else
		say("pindns: cannot load policy %s: %s; %s", path, why, then);
}

/* ------------------------------------------------------------ fork */

/* The condition variable a flight's followers wait on, made anew. */
static void
fcv_init(struct pstate *ps)
{
	pthread_condattr_t ca;

	/* Waits are measured on the monotonic clock. */
	(void)pthread_condattr_init(&ca);
	(void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	(void)pthread_cond_init(&ps->fcv, &ca);
	(void)pthread_condattr_destroy(&ca);
}

/*
 * Every lock of the engine that a child can take, in one order: the
 * backend loader's (pd_dot_lock: held across the dlopen of the backend,
 * by a thread holding no other lock of ours); E.mu; the watch's;
 * logs_mu, then each audit log's own (the shared ones and E.nolog); then
 * per policy state its mu, fmu and cache stripes. Nothing takes them in
 * another order: the watch calls retire() (E.mu) without its lock,
 * audit() runs under none of them, get_dot() loads the backend under
 * none. What they are held across elsewhere is memory work; the two that
 * guarded file I/O (logs_mu and a log's lock, across a logrotate stat and
 * open; the watch's, across a whole reload) no longer hold it. E.mu is
 * still held over the first policy load in pd_engine_init() and over
 * opening the audit log of a policy seen for the first time
 * (pstate_new()): a read or an open of a local file, once per policy,
 * and a child must not see either half done.
 *
 * Registered by pd_engine_init(), or called by a host that has its own
 * lock to take first (pd_host.atfork). The backend's own locks
 * (resolver/dot/worker.c) have handlers of their own; its per-instance
 * locks and condition variables are never used in a child (get_dot()
 * leaves an inherited instance alone). Once-only initialisations
 * (pthread_once) need nothing: glibc runs one that a fork interrupted
 * again in the child.
 */
static void
fork_prepare(void)
{
	struct shared_log *sl;
	struct pstate *ps;

	pd_dot_lock();
	(void)pthread_mutex_lock(&E.mu);
	pd_watch_lock(E.w);
	(void)pthread_mutex_lock(&logs_mu);
	for (sl = logs; sl != NULL; sl = sl->next)
		pd_log_lock(sl->log);
	pd_log_lock(E.nolog);
	for (ps = E.list; ps != NULL; ps = ps->next) {
		(void)pthread_mutex_lock(&ps->mu);
		(void)pthread_mutex_lock(&ps->fmu);
		pd_cache_lock_all(ps->cache);
	}
}

static void
fork_release(void)
{
	struct shared_log *sl;
	struct pstate *ps;

	for (ps = E.list; ps != NULL; ps = ps->next) {
		pd_cache_unlock_all(ps->cache);
		(void)pthread_mutex_unlock(&ps->fmu);
		(void)pthread_mutex_unlock(&ps->mu);
	}
	pd_log_unlock(E.nolog);
	for (sl = logs; sl != NULL; sl = sl->next)
		pd_log_unlock(sl->log);
	(void)pthread_mutex_unlock(&logs_mu);
	pd_watch_unlock(E.w);
	(void)pthread_mutex_unlock(&E.mu);
	pd_dot_unlock();
}

static void
fork_child(void)
{
	struct pstate *ps;
	uint32_t e = atomic_load(&E.fork_epoch) + 1;

	atomic_store(&E.fork_epoch, e == 0 ? 1 : e);
	pd_cache_forked();
	/* A policy check in progress in the parent: the child makes its own. */
	pd_watch_forked(E.w);
	/*
	 * The parent's refreshes will never report here, and the threads
	 * resolving its flights do not exist: forget them (leaked).
	 *
	 * Their followers' condition variable is made anew: glibc's (2.36)
	 * counts its waiters in the object itself, and a follower that was
	 * waiting at fork() stays counted for ever; the child's next
	 * broadcast would then wait in __condvar_quiesce_and_switch_g1 for
	 * a waiter that does not exist, holding fmu, and every later miss
	 * would wait for fmu. No thread of the child waits on it here (the
	 * only one is inside fork()), and glibc's pthread_cond_init only
	 * writes the initial state, allocating and registering nothing: the
	 * same reset glibc makes of its own locks in a child
	 * (__rtld_lock_initialize of the loader's lock in fork()).
	 * pthread_cond_destroy is no way out: it waits for those waiters.
	 */
	for (ps = E.list; ps != NULL; ps = ps->next) {
		atomic_store(&ps->inflight, 0);
		ps->flights = NULL;
		fcv_init(ps);
	}
	fork_release();
}

static void
atfork_register(void)
{
	atfork_rc = pthread_atfork(fork_prepare, fork_release, fork_child);
}

/* ------------------------------------------------------------ policy */

/* The shared log of spec, counted once more; NULL if none. Under logs_mu. */
static struct shared_log *
log_find(const char *spec)
{
	struct shared_log *sl;

	for (sl = logs; sl != NULL && strcmp(sl->spec, spec) != 0;
	    sl = sl->next)
		;
	if (sl != NULL)
		sl->refs++;
	return sl;
}

/*
 * The open log for spec, shared; log_put() when done. The file is opened
 * without logs_mu (fork() takes it); of two threads opening the same
 * spec at once, the second closes its own.
 */
static enum pd_err
log_get(const char *spec, struct pd_log **lp, char *err, size_t errlen)
{
	struct shared_log *sl, *mine;
	enum pd_err r;

	(void)pthread_mutex_lock(&logs_mu);
	sl = log_find(spec);
	(void)pthread_mutex_unlock(&logs_mu);
	if (sl != NULL) {
		*lp = sl->log;
		return PD_OK;
	}
	if ((mine = calloc(1, sizeof(*mine) + strlen(spec) + 1)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return PD_ENOMEM;
	}
	strcpy(mine->spec, spec);
	if ((r = pd_log_open(spec, &mine->log, err, errlen)) != PD_OK) {
		free(mine);
		return r;
	}
	(void)pthread_mutex_lock(&logs_mu);
	if ((sl = log_find(spec)) == NULL) {
		sl = mine;
		sl->refs = 1;
		sl->next = logs;
		logs = sl;
		mine = NULL;
	}
	(void)pthread_mutex_unlock(&logs_mu);
	if (mine != NULL) {
		pd_log_close(mine->log);
		free(mine);
	}
	*lp = sl->log;
	return PD_OK;
}

static void
log_put(struct pd_log *l)
{
	struct shared_log **pp, *sl = NULL;

	if (l == NULL)
		return;
	(void)pthread_mutex_lock(&logs_mu);
	for (pp = &logs; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->log == l) {
			sl = *pp;
			if (--sl->refs == 0)
				*pp = sl->next;
			else
				sl = NULL;
			break;
		}
	(void)pthread_mutex_unlock(&logs_mu);
	if (sl != NULL) {
		pd_log_close(sl->log);
		free(sl);
	}
}

/* A pstate for p. Called with E.mu held. NULL when out of memory. */
static struct pstate *
pstate_new(struct pd_policy *p)
{
	struct pd_cache_cfg cc;
	struct pstate *ps;
	char spec[4200], err[512];
	const char *target;

	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return NULL;
	ps->p = p;
	ps->gen = ++E.gen_counter;
	(void)pthread_mutex_init(&ps->mu, NULL);
	(void)pthread_mutex_init(&ps->fmu, NULL);
	fcv_init(ps);
	atomic_init(&ps->inflight, 0);
	cc.max_entries = p->cache_max_entries;
	cc.min_ttl = p->cache_min_ttl;
	cc.max_ttl = p->cache_max_ttl;
	cc.stale_ttl = p->cache_stale_ttl;
	if (pd_cache_new(&cc, &ps->cache) != PD_OK) {
		pstate_free(ps);
		return NULL;
	}
	ps->log_all = p->log_level == PD_LOG_LEVEL_ALL;
	if (E.log_spec != NULL)
		target = E.log_spec;
	else if (p->log_target == PD_LOG_SYSLOG)
		target = "syslog";
	else if (p->log_target == PD_LOG_FILE && p->log_file != NULL) {
		(void)snprintf(spec, sizeof(spec), "file:%s", p->log_file);
		target = spec;
	} else
		target = "stderr";
	if (log_get(target, &ps->log, err, sizeof(err)) != PD_OK) {
		/* An audit trail on stderr beats none. */
		say("pindns: %s; audit log goes to stderr", err);
		if (log_get("stderr", &ps->log, err, sizeof(err)) != PD_OK) {
			pstate_free(ps);
			return NULL;
		}
	}
	return ps;
}

static void
pstate_free(struct pstate *ps)
{
	if (ps == NULL)
		return;
	/* A parent's instance is never freed in a child (see get_dot()). */
	if (ps->dot != NULL && ps->ops != NULL && ps->ops->free != NULL &&
	    ps->dot_epoch == atomic_load(&E.fork_epoch))
		ps->ops->free(ps->dot);
	pd_cache_free(ps->cache);
	log_put(ps->log);
	(void)pthread_mutex_destroy(&ps->mu);
	(void)pthread_mutex_destroy(&ps->fmu);
	(void)pthread_cond_destroy(&ps->fcv);
	free(ps);
}

/*
 * The pstate of the policy in force (NULL: none loaded) and its
 * generation. Makes the pstate on first sight of a policy.
 */
static struct pstate *
current(uint64_t *genp)
{
	struct pd_policy *p = pd_watch_current(E.w);
	struct pstate *ps = atomic_load_explicit(&E.cur, memory_order_acquire);

	if ((ps == NULL ? NULL : ps->p) == p) {
		*genp = ps != NULL ? ps->gen :
		    atomic_load_explicit(&E.gen, memory_order_acquire);
		return ps;
	}
	(void)pthread_mutex_lock(&E.mu);
	p = pd_watch_current(E.w);
	for (ps = E.list; ps != NULL && ps->p != p; ps = ps->next)
		;
	if (ps == NULL && p != NULL && (ps = pstate_new(p)) != NULL) {
		ps->next = E.list;
		E.list = ps;
	}
	if (ps != atomic_load(&E.cur)) {
		atomic_store_explicit(&E.cur, ps, memory_order_release);
		atomic_store_explicit(&E.gen, ps != NULL ? ps->gen :
		    ++E.gen_counter, memory_order_release);
	}
	*genp = atomic_load(&E.gen);
	(void)pthread_mutex_unlock(&E.mu);
	return ps;
}

/* The watch frees p after its grace period: release what we built on it. */
static void
retire(struct pd_policy *p, void *arg)
{
	struct pstate **pp, *ps = NULL;

	(void)arg;
	(void)pthread_mutex_lock(&E.mu);
	for (pp = &E.list; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->p == p) {
			ps = *pp;
			*pp = ps->next;
			break;
		}
	if (ps != NULL && atomic_load(&E.cur) == ps) {
		atomic_store(&E.cur, NULL);
		atomic_store(&E.gen, ++E.gen_counter);
	}
	(void)pthread_mutex_unlock(&E.mu);
	/*
	 * A refresh still unreported after the grace period would report
	 * into freed memory: keep this pstate rather than risk it.
	 */
	if (ps != NULL && atomic_load(&ps->inflight) == 0)
		pstate_free(ps);
}

/*
 * Log files renamed or removed (logrotate) are opened again. The stat and
 * open run without logs_mu (fork() takes it): each log is held by a
 * reference meanwhile, and a log still referenced is still on the list,
 * so its next pointer is valid again under the lock.
 */
static void
logs_reopen(void)
{
	struct shared_log *sl, *next;

	(void)pthread_mutex_lock(&logs_mu);
	if ((sl = logs) != NULL)
		sl->refs++;
	(void)pthread_mutex_unlock(&logs_mu);
	while (sl != NULL) {
		pd_log_reopen(sl->log);
		(void)pthread_mutex_lock(&logs_mu);
		if ((next = sl->next) != NULL)
			next->refs++;
		(void)pthread_mutex_unlock(&logs_mu);
		log_put(sl->log);
		sl = next;
	}
}

static int
poll_policy(uint64_t now)
{
	struct pd_error err;
	uint64_t gen;
	int r;

	atomic_store_explicit(&E.next_poll_ms, now + 1000,
	    memory_order_relaxed);
	memset(&err, 0, sizeof(err));
	r = pd_watch_poll(E.w, now, &err);
	if (r == 1)
		(void)current(&gen);
	else if (r < 0)
		say_load_error(E.policy_path, err.msg,
		    pd_watch_current(E.w) != NULL ?
		    "keeping the policy in force" :
		    "refusing every name lookup");
	reap_backends();
	logs_reopen();
	return r;
}

/* ------------------------------------------------------------ init */

/* A path from the environment, absolute (pd_path_absolute); NULL: said. */
static char *
abs_path(const char *what, const char *path)
{
	char *r;

	if ((r = pd_path_absolute(path)) == NULL && errno != ENOMEM)
		say("pindns: %s %s is relative and the current directory "
		    "cannot be named (%s)", what, path, strerror(errno));
	return r;
}

int
pd_engine_init(const struct pd_engine_cfg *cfg)
{
	struct pd_watch_opts o;
	struct pd_error err;
	const char *s;
	char msg[512], *t;
	int rc = -1;

	if (atomic_load_explicit(&E.inited, memory_order_acquire))
		return 0;
	/*
	 * The fork handlers are in place before this thread first holds an
	 * engine lock: a fork() in another thread then waits for it. A host
	 * that calls them itself (the preload) holds its loader lock now,
	 * which its handler takes first.
	 */
	if (cfg == NULL || cfg->host == NULL || !cfg->host->atfork) {
		(void)pthread_once(&atfork_once, atfork_register);
		if (atfork_rc != 0)
			return -1;
	}
	(void)pthread_mutex_lock(&E.mu);
	if (atomic_load(&E.inited)) {
		rc = 0;
		goto out;
	}
	/* The keyed hash needs libsodium; without it nothing works. */
	(void)pd_cache_hash("", 0);
	/*
	 * Paths are made absolute here, once, against the directory the
	 * process is in at its first lookup: re-read on each reload as
	 * given, a relative one would follow the process through every
	 * chdir() (the policy, its key, its CA, anchor and log files).
	 */
	s = cfg != NULL && cfg->policy_path != NULL ? cfg->policy_path :
	    secure_getenv("PINDNS_POLICY");
	if ((E.policy_path = abs_path("policy", s != NULL && *s != '\0' ?
	    s : PD_POLICY_DEFAULT_PATH)) == NULL)
		goto out;
	s = cfg != NULL && cfg->pubkey_path != NULL ? cfg->pubkey_path :
	    pd_policy_pubkey_path();
	if (s != NULL && *s != '\0' &&
	    (E.pubkey_path = abs_path("public key", s)) == NULL)
		goto out;
	if (s != NULL && *s == '\0' && (E.pubkey_path = strdup(s)) == NULL)
		goto out;	/* "required but empty": an error at load */
	s = cfg != NULL && cfg->log_target != NULL ? cfg->log_target :
	    secure_getenv("PINDNS_LOG");
	if (s != NULL && strncmp(s, "file:", 5) == 0 && s[5] != '\0') {
		if ((t = abs_path("log file", s + 5)) == NULL ||
		    (E.log_spec = malloc(strlen(t) + 6)) == NULL) {
			free(t);
			goto out;
		}
		strcpy(E.log_spec, "file:");
		strcat(E.log_spec, t);
		free(t);
	} else if (s != NULL && *s != '\0' && (E.log_spec = strdup(s)) ==
	    NULL)
		goto out;
	E.host = cfg != NULL ? cfg->host : NULL;
	if (E.log_spec != NULL &&
	    pd_log_open(E.log_spec, &E.nolog, msg, sizeof(msg)) != PD_OK) {
		say("pindns: PINDNS_LOG: %s; audit log goes to stderr", msg);
		free(E.log_spec);
		E.log_spec = NULL;
	}
	memset(&o, 0, sizeof(o));
	o.path = E.policy_path;
	o.pubkey = E.pubkey_path;
	o.retire = retire;
	memset(&err, 0, sizeof(err));
	if (pd_watch_new(&o, &E.w, &err) != PD_OK) {
		say("pindns: cannot start: %s", err.msg);
		goto out;
	}
	if (pd_watch_current(E.w) == NULL)
		say_load_error(E.policy_path, err.msg,
		    "refusing every name lookup");
	/*
	 * Generations only grow, across shutdown and init too: a thread
	 * cache may still hold entries of an earlier engine.
	 */
	atomic_store(&E.gen, ++E.gen_counter);
	atomic_store(&E.next_poll_ms, pd_clock_ms() + 1000);
	atomic_store_explicit(&E.inited, true, memory_order_release);
	rc = 0;
out:
	if (rc != 0 && !atomic_load(&E.inited)) {
		free(E.policy_path);
		free(E.pubkey_path);
		free(E.log_spec);
		E.policy_path = E.pubkey_path = E.log_spec = NULL;
		pd_log_close(E.nolog);
		E.nolog = NULL;
	}
	(void)pthread_mutex_unlock(&E.mu);
	return rc;
}

void
pd_engine_shutdown(void)
{
	struct pd_watch *w;
	struct pstate *ps;

	(void)pthread_mutex_lock(&E.mu);
	if (!atomic_load(&E.inited)) {
		(void)pthread_mutex_unlock(&E.mu);
		return;
	}
	atomic_store(&E.inited, false);
	/* Off E.w first: fork_prepare() takes the lock of E.w. */
	w = E.w;
	E.w = NULL;
	(void)pthread_mutex_unlock(&E.mu);
	/* retire() takes E.mu: free the watch without holding it. */
	pd_watch_free(w);
	(void)pthread_mutex_lock(&E.mu);
	while ((ps = E.list) != NULL) {
		E.list = ps->next;
		pstate_free(ps);
	}
	atomic_store(&E.cur, NULL);
	pd_log_close(E.nolog);
	E.nolog = NULL;
	free(E.policy_path);
	free(E.pubkey_path);
	free(E.log_spec);
	E.policy_path = E.pubkey_path = E.log_spec = NULL;
	(void)pthread_mutex_unlock(&E.mu);
	pd_tcache_flush();
}

/* ------------------------------------------------------------ logging */

static const char *
action_str(enum pd_action a)
{
	switch (a) {
	case PD_ACTION_SYSTEM:	return "system";
	case PD_ACTION_SECURE:	return "secure";
	case PD_ACTION_STATIC:	return "static";
	case PD_ACTION_DENY:	return "deny";
	}
	return "?";
}

static bool
wants_log(const struct pstate *ps, const struct pd_result *res)
{
	enum pd_verdict v = res->verdict;

	if (v == PD_VERDICT_REFUSED || v == PD_VERDICT_FAILED ||
	    pd_result_would_refuse(res))
		return true;
	return ps != NULL && ps->log_all && (v == PD_VERDICT_ACCEPTED ||
	    v == PD_VERDICT_ABSENT);
}

/* x: the upstreams tried (NULL: none). */
static void
audit_x(const struct pstate *ps, const char *name, const struct pd_rule *r,
    const struct pd_result *res, const char *dnssec, const char *upstream,
    const struct pd_addr *seen, unsigned nseen, double ms,
    const struct pd_explain *x)
{
	struct pd_log *l = ps != NULL ? ps->log : E.nolog;
	struct pd_log_rec rec;

	if (l == NULL || !wants_log(ps, res))
		return;
	memset(&rec, 0, sizeof(rec));
	(void)clock_gettime(CLOCK_REALTIME, &rec.ts);
	rec.pid = (long)getpid();
	rec.name = name;
	rec.rule = r != NULL ? r->name : NULL;
	rec.verdict = res->verdict;
	rec.reason = res->reason;
	rec.dnssec = dnssec;
	rec.upstream = upstream;
	rec.seen = seen;
	rec.nseen = nseen;
	rec.tried = x != NULL ? x->tries : NULL;
	rec.ntried = x != NULL ? x->ntries : 0;
	if (res->verdict == PD_VERDICT_ACCEPTED) {
		rec.accepted = res->addrs;
		rec.naccepted = res->naddrs;
	}
	rec.ms = ms;
	pd_log_write(l, &rec);
}

static void
audit(const struct pstate *ps, const char *name, const struct pd_rule *r,
    const struct pd_result *res, const char *dnssec, const char *upstream,
    const struct pd_addr *seen, unsigned nseen, double ms)
{
	audit_x(ps, name, r, res, dnssec, upstream, seen, nseen, ms, NULL);
}

/* ------------------------------------------------------------ decisions */

/*
 * snprintf(dst, size, "%s", src) without the format machinery: a cached
 * answer runs this a dozen times (callgrind: 40 % of a cached pindns
 * serve answer went to snprintf before).
 */
static void
put_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
explain_begin(struct pd_explain *ex, const struct pd_rule *r)
{
	if (ex == NULL)
		return;
	memset(ex, 0, sizeof(*ex));
	put_str(ex->rule, sizeof(ex->rule), r != NULL ? r->name : "");
	put_str(ex->action, sizeof(ex->action),
	    r != NULL ? action_str(r->action) : "");
	put_str(ex->dnssec, sizeof(ex->dnssec), "off");
}

/* Keep a decision that depends on the policy only, for this thread. */
static void
keep_decision(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, const struct pd_rule *r, const struct pd_result *res,
    bool log)
{
	struct pd_tcache_meta m;

	memset(&m, 0, sizeof(m));
	m.rule = r;
	m.flags = log ? PD_TC_LOG : 0;
	m.ttl = res->ttl;
	put_str(m.dnssec, sizeof(m.dnssec), "off");
	pd_tcache_put(name, len, want, h, gen, UINT64_MAX, 0, res, &m);
}

static bool
is_localhost(const char *norm, size_t len)
{
	/* RFC 6761 §6.3: localhost and names below it are the host's. */
	return (len == 9 && memcmp(norm, "localhost", 9) == 0) ||
	    (len > 10 && memcmp(norm + len - 10, ".localhost", 10) == 0);
}

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
 * used: reap_backends() frees the backend of a policy no longer in force
 * as soon as nobody uses it and no refresh is in flight, rather than
 * after the watch's grace period (a policy rewritten every second would
 * otherwise hold ~120 backends: threads, TLS connections, memory).
 */
static struct pd_dot *
get_dot(struct pstate *ps, char *err, size_t errlen)
{
	uint32_t epoch = atomic_load(&E.fork_epoch);
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
	if (ops->new(ps->p, E.host, &mine, err, errlen) != PD_OK)
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
 * and it is reaped again. Called from poll_policy() (once a second).
 */
static void
reap_backends(void)
{
	uint32_t epoch = atomic_load(&E.fork_epoch);
	struct {
		const struct pd_dot_ops	*ops;
		struct pd_dot		*d;
	} v[8];
	struct pstate *ps, *cur;
	size_t i, n = 0;

	/* Collect under the locks; free after (it joins backend threads). */
	(void)pthread_mutex_lock(&E.mu);
	cur = atomic_load(&E.cur);
	for (ps = E.list; ps != NULL && n < sizeof(v) / sizeof(v[0]);
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
	(void)pthread_mutex_unlock(&E.mu);
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
	explain_begin(ex, rf->r);
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
		audit_x(ps, rf->name, rf->r, res, ex->dnssec, ex->upstream,
		    ex->seen, ex->nseen, 0.0, ex);
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
	put_str(ex->dnssec, sizeof(ex->dnssec), note->dnssec);
	put_str(ex->upstream, sizeof(ex->upstream), note->upstream);
	ex->nseen = res->naddrs;
	memcpy(ex->seen, res->addrs, res->naddrs * sizeof(res->addrs[0]));
	for (i = 0; i < res->naddrs; i++)
		ex->seen_ok[i] = true;
	ex->nchain = 1;
	put_str(ex->chain[0], sizeof(ex->chain[0]), norm);
	if (res->verdict == PD_VERDICT_ACCEPTED &&
	    strcmp(res->canon, norm) != 0) {
		put_str(ex->chain[1], sizeof(ex->chain[1]), res->canon);
		ex->nchain = 2;
	}
	put_str(ex->detail, sizeof(ex->detail), "from the cache");
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

static void
secure_lookup(struct pstate *ps, const struct pd_rule *r, const char *name,
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
		m.flags = wants_log(ps, res) ? PD_TC_LOG : 0;
		memcpy(m.dnssec, note.dnssec, sizeof(m.dnssec));
		if (rawlen <= PD_TCACHE_NAME_MAX)
			pd_tcache_put(name, rawlen, want, h, gen,
			    t.reuse_until_ms, t.expire_ms, res, &m);
		fill_cached_explain(ex, res, &note, norm);
		audit(ps, name, r, res, note.dnssec, NULL, res->addrs,
		    res->naddrs, (pd_clock_ns() - t0) / 1e6);
		return;
	}
	if (hit == PD_CACHE_STALE_HOLD) {
		serve_stale(res, res);
		fill_cached_explain(ex, res, &note, norm);
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "every upstream failed recently: served stale");
		audit(ps, name, r, res, note.dnssec, NULL, res->addrs,
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
		explain_begin(x, r);
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
		m.flags = wants_log(ps, res) ? PD_TC_LOG : 0;
		memcpy(m.dnssec, x->dnssec, sizeof(m.dnssec));
		pd_tcache_put(name, rawlen, want, h, gen, t.reuse_until_ms,
		    t.expire_ms, res, &m);
	}
	audit_x(ps, name, r, res, x->dnssec, x->upstream, x->seen, x->nseen,
	    (pd_clock_ns() - t0) / 1e6, x);
	free(w);
}

/* Everything that the thread cache did not answer. */
static void
slow_lookup(const char *name, size_t rawlen, unsigned want, uint64_t h,
    uint64_t now, struct pd_result *res, struct pd_explain *ex)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, t0 = pd_clock_ns();
	int len;

	ps = current(&gen);
	if (ps == NULL) {
		/* Fail closed (SPEC §3); numeric hosts never get here. */
		explain_begin(ex, NULL);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "no policy could be loaded from %s",
			    E.policy_path);
		audit(NULL, name, NULL, res, "off", NULL, NULL, 0,
		    (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, NULL, res,
		    E.nolog != NULL);
		goto out;
	}
	pd_report_notice(ps->p);
	len = pd_name_normalize(name, norm);
	if (len < 0) {
		r = &ps->p->default_rule;
		explain_begin(ex, r);
		memset(res, 0, sizeof(*res));
		if (r->action == PD_ACTION_SYSTEM) {
			/* glibc rejects it itself, the way it always has. */
			res->verdict = PD_VERDICT_SYSTEM;
			keep_decision(name, rawlen, want, h, gen, r, res,
			    false);
		} else {
			res->verdict = PD_VERDICT_REFUSED;
			res->reason = PD_REASON_DENY_RULE;
			if (ex != NULL)
				(void)snprintf(ex->detail, sizeof(ex->detail),
				    "not a valid DNS name, and the default "
				    "is %s", action_str(r->action));
			audit(ps, name, r, res, "off", NULL, NULL, 0,
			    (pd_clock_ns() - t0) / 1e6);
			keep_decision(name, rawlen, want, h, gen, r, res, true);
		}
		goto out;
	}
	r = pd_policy_match(ps->p, norm, (size_t)len);
	explain_begin(ex, r);
	if (r == &ps->p->default_rule && is_localhost(norm, (size_t)len)) {
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_SYSTEM;
		if (ex != NULL) {
			(void)snprintf(ex->action, sizeof(ex->action),
			    "system");
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "RFC 6761 localhost name: passed to libc");
		}
		keep_decision(name, rawlen, want, h, gen, r, res, false);
		goto out;
	}
	switch (r->action) {
	case PD_ACTION_SYSTEM:
		memset(res, 0, sizeof(*res));
		res->verdict = r->pins != NULL ? PD_VERDICT_SYSTEM_PINNED :
		    PD_VERDICT_SYSTEM;
		keep_decision(name, rawlen, want, h, gen, r, res, false);
		break;
	case PD_ACTION_DENY:
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_DENY_RULE;
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "rule '%s' denies this name", r->name);
		audit(ps, name, r, res, "off", NULL, NULL, 0,
		    (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, r, res, true);
		break;
	case PD_ACTION_STATIC:
		pd_verdict_static(r, norm, want, res, ex);
		audit(ps, name, r, res, "off", NULL, res->addrs, res->naddrs,
		    (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, r, res,
		    wants_log(ps, res));
		break;
	case PD_ACTION_SECURE:
		secure_lookup(ps, r, name, rawlen, h, gen, norm, (size_t)len,
		    want, now, t0, res, ex);
		break;
	}
out:
	if (ex != NULL)
		ex->ms = (pd_clock_ns() - t0) / 1e6;
}

/* ------------------------------------------------------------ entry */

/* A thread-cache hit that must be logged (level all, or a refusal). */
static void
audit_hit(const char *name, const struct pd_result *res,
    const struct pd_tcache_meta *m)
{
	struct pstate *ps = atomic_load_explicit(&E.cur,
	    memory_order_acquire);

	/* No upstream was asked for a cached answer: upstream null. */
	audit(ps, name, m->rule, res, m->dnssec, NULL, res->addrs,
	    res->naddrs, 0.0);
}

void
pd_engine_lookup(const char *name, unsigned want, struct pd_result *res,
    struct pd_explain *ex)
{
	struct pd_tcache_meta m;
	uint64_t now, h;
	size_t len;

	if (!atomic_load_explicit(&E.inited, memory_order_acquire) &&
	    pd_engine_init(NULL) != 0) {
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		return;
	}
	now = pd_clock_ms();
	if (now >= atomic_load_explicit(&E.next_poll_ms, memory_order_relaxed))
		poll_policy(now);
	want &= PD_WANT_A | PD_WANT_AAAA;
	if (want == 0)
		want = PD_WANT_A | PD_WANT_AAAA;
	len = strnlen(name, PD_TCACHE_NAME_MAX + 1);
	h = pd_cache_hash(name, len);
	if (ex == NULL && pd_tcache_get(name, len, want, h,
	    atomic_load_explicit(&E.gen, memory_order_acquire), now, res, &m)) {
		if (m.flags & PD_TC_LOG)
			audit_hit(name, res, &m);
		return;
	}
	slow_lookup(name, len, want, h, now, res, ex);
}

void
pd_engine_filter(const char *name, const struct pd_addr *addrs, unsigned n,
    uint8_t *keep, struct pd_result *res)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, now, t0 = pd_clock_ns();
	int len;

	if (!atomic_load_explicit(&E.inited, memory_order_acquire))
		(void)pd_engine_init(NULL);
	now = pd_clock_ms();
	if (atomic_load(&E.inited) &&
	    now >= atomic_load_explicit(&E.next_poll_ms, memory_order_relaxed))
		poll_policy(now);
	ps = atomic_load(&E.inited) ? current(&gen) : NULL;
	if (ps == NULL) {
		memset(keep, 0, n);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		return;
	}
	pd_report_notice(ps->p);
	if ((len = pd_name_normalize(name, norm)) < 0)
		r = &ps->p->default_rule;
	else
		r = pd_policy_match(ps->p, norm, (size_t)len);
	if (r->action == PD_ACTION_DENY) {
		/* The policy changed since the lookup: it now denies. */
		memset(keep, 0, n);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_DENY_RULE;
		audit(ps, name, r, res, "off", NULL, addrs, n,
		    (pd_clock_ns() - t0) / 1e6);
		return;
	}
	pd_verdict_pins(r, addrs, n, keep, res, NULL);
	audit(ps, name, r, res, "off", NULL, addrs,
	    n < PD_MAX_ADDRS ? n : PD_MAX_ADDRS, (pd_clock_ns() - t0) / 1e6);
}

int
pd_engine_claims(const char *name)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, now;
	int len;

	if (!atomic_load_explicit(&E.inited, memory_order_acquire) &&
	    pd_engine_init(NULL) != 0)
		return 1;
	now = pd_clock_ms();
	if (now >= atomic_load_explicit(&E.next_poll_ms, memory_order_relaxed))
		poll_policy(now);
	if ((ps = current(&gen)) == NULL)
		return 1;	/* every lookup is refused: fail closed */
	if ((len = pd_name_normalize(name, norm)) < 0)
		r = &ps->p->default_rule;
	else {
		r = pd_policy_match(ps->p, norm, (size_t)len);
		if (r == &ps->p->default_rule &&
		    is_localhost(norm, (size_t)len))
			return 0;
	}
	return r->action != PD_ACTION_SYSTEM || r->pins != NULL;
}

void
pd_engine_refuse_type(const char *name, struct pd_result *res)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r = NULL;
	struct pstate *ps = NULL;
	uint64_t gen;
	int len;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&E.inited) || pd_engine_init(NULL) == 0)
		ps = current(&gen);
	if (ps != NULL) {
		len = pd_name_normalize(name, norm);
		r = len < 0 ? &ps->p->default_rule :
		    pd_policy_match(ps->p, norm, (size_t)len);
		if ((r->action == PD_ACTION_SYSTEM || (len >= 0 &&
		    r == &ps->p->default_rule &&
		    is_localhost(norm, (size_t)len)))) {
			res->verdict = r->action == PD_ACTION_SYSTEM &&
			    r->pins != NULL ? PD_VERDICT_SYSTEM_PINNED :
			    PD_VERDICT_SYSTEM;
			return;
		}
	}
	res->verdict = PD_VERDICT_REFUSED;
	res->reason = ps != NULL ? PD_REASON_OTHER_TYPE :
	    PD_REASON_POLICY_UNLOADABLE;
	audit(ps, name, r, res, "off", NULL, NULL, 0, 0.0);
}

int
pd_engine_reload(bool force)
{
	uint64_t gen;
	int r;

	if (!atomic_load(&E.inited))
		return 0;
	if (force)
		pd_watch_force(E.w);
	r = poll_policy(pd_clock_ms());
	(void)current(&gen);
	return r;
}

const struct pd_host *
pd_engine_host(void)
{
	return E.host;
}

enum pd_claim
pd_engine_claim(const char *name, unsigned want)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pd_result res;
	struct pstate *ps = NULL;
	uint64_t gen;
	int len;

	if (atomic_load(&E.inited) || pd_engine_init(NULL) == 0)
		ps = current(&gen);
	if (ps == NULL)
		return PD_CLAIM_NOW;	/* refused at once: no policy */
	if ((len = pd_name_normalize(name, norm)) < 0)
		r = &ps->p->default_rule;
	else {
		r = pd_policy_match(ps->p, norm, (size_t)len);
		if (r == &ps->p->default_rule &&
		    is_localhost(norm, (size_t)len))
			return PD_CLAIM_NONE;
	}
	if (r->action == PD_ACTION_SYSTEM)
		return r->pins != NULL ? PD_CLAIM_PINNED : PD_CLAIM_NONE;
	if (r->action != PD_ACTION_SECURE || len < 0 || want == 0)
		return PD_CLAIM_NOW;
	switch (pd_cache_get(ps->cache, norm, (size_t)len, want, pd_clock_ms(),
	    &res, NULL, NULL)) {
	case PD_CACHE_FRESH:
	case PD_CACHE_REFRESH:
	case PD_CACHE_STALE_HOLD:
		return PD_CLAIM_NOW;
	default:
		return PD_CLAIM_WAIT;
	}
}

static void
ops_lookup(const char *name, unsigned want, struct pd_result *res)
{
	pd_engine_lookup(name, want, res, NULL);
}

__attribute__((visibility("default"))) const struct pd_engine_ops
    pindns_engine_v1 = {
	.abi = PD_ENGINE_ABI,
	.init = pd_engine_init,
	.lookup = ops_lookup,
	.filter = pd_engine_filter,
	.claims = pd_engine_claims,
	.answer = pd_engine_answer,
	.pin_reply = pd_engine_pin_reply,
	.sock = &pd_resp_ops,
	.fork_prepare = fork_prepare,
	.fork_parent = fork_release,
	.fork_child = fork_child,
};

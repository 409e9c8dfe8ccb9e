/*
 * pindns engine state (resolver/engine_int.h).
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
 * thread it does not have (see pd_engine_fork_prepare() for the list and
 * the order; none is held across a call that can block for long, so
 * fork() never waits on a file system). The child keeps the caches (valid
 * data), counts a new fork epoch, and on its first secure miss leaves the
 * parent's backend instance alone (never touched again, never freed: see
 * get_dot() in resolver/engine_secure.c) and makes its own. A pid check
 * would cost a system call per lookup on glibc 2.36 (getpid is not
 * cached): the epoch is a plain load.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
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
#include "resolver/log.h"
#include "resolver/stats.h"
#include "resolver/tcache.h"

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

struct pd_engine_state pd_eng = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.fork_epoch = 1
};

static void retire(struct pd_policy *p, void *arg);
static void pstate_free(struct pstate *ps);

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
 * by a thread holding no other lock of ours); pd_eng.mu; the watch's;
 * logs_mu, then each audit log's own (the shared ones and pd_eng.nolog); then
 * per policy state its mu, fmu and cache stripes. Nothing takes them in
 * another order: the watch calls retire() (pd_eng.mu) without its lock,
 * pd_engine_audit() runs under none of them, get_dot() loads the backend under
 * none. What they are held across elsewhere is memory work; the two that
 * guarded file I/O (logs_mu and a log's lock, across a logrotate stat and
 * open; the watch's, across a whole reload) no longer hold it. pd_eng.mu is
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
void
pd_engine_fork_prepare(void)
{
	struct shared_log *sl;
	struct pstate *ps;

	pd_dot_lock();
	(void)pthread_mutex_lock(&pd_eng.mu);
	pd_watch_lock(pd_eng.w);
	(void)pthread_mutex_lock(&logs_mu);
	for (sl = logs; sl != NULL; sl = sl->next)
		pd_log_lock(sl->log);
	pd_log_lock(pd_eng.nolog);
	for (ps = pd_eng.list; ps != NULL; ps = ps->next) {
		(void)pthread_mutex_lock(&ps->mu);
		(void)pthread_mutex_lock(&ps->fmu);
		pd_cache_lock_all(ps->cache);
	}
	pd_stats_lock();
}

void
pd_engine_fork_release(void)
{
	struct shared_log *sl;
	struct pstate *ps;

	pd_stats_unlock();
	for (ps = pd_eng.list; ps != NULL; ps = ps->next) {
		pd_cache_unlock_all(ps->cache);
		(void)pthread_mutex_unlock(&ps->fmu);
		(void)pthread_mutex_unlock(&ps->mu);
	}
	pd_log_unlock(pd_eng.nolog);
	for (sl = logs; sl != NULL; sl = sl->next)
		pd_log_unlock(sl->log);
	(void)pthread_mutex_unlock(&logs_mu);
	pd_watch_unlock(pd_eng.w);
	(void)pthread_mutex_unlock(&pd_eng.mu);
	pd_dot_unlock();
}

void
pd_engine_fork_child(void)
{
	struct pstate *ps;
	uint32_t e = atomic_load(&pd_eng.fork_epoch) + 1;

	atomic_store(&pd_eng.fork_epoch, e == 0 ? 1 : e);
	pd_cache_forked();
	pd_stats_forked();
	/* A policy check in progress in the parent: the child makes its own. */
	pd_watch_forked(pd_eng.w);
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
	for (ps = pd_eng.list; ps != NULL; ps = ps->next) {
		atomic_store(&ps->inflight, 0);
		ps->flights = NULL;
		fcv_init(ps);
	}
	pd_engine_fork_release();
}

static void
atfork_register(void)
{
	atfork_rc = pthread_atfork(pd_engine_fork_prepare,
	    pd_engine_fork_release, pd_engine_fork_child);
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

/* A pstate for p. Called with pd_eng.mu held. NULL when out of memory. */
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
	ps->gen = ++pd_eng.gen_counter;
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
	if (pd_eng.log_spec != NULL)
		target = pd_eng.log_spec;
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
	    ps->dot_epoch == atomic_load(&pd_eng.fork_epoch))
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
struct pstate *
pd_engine_current(uint64_t *genp)
{
	struct pd_policy *p = pd_watch_current(pd_eng.w);
	struct pstate *ps = atomic_load_explicit(&pd_eng.cur,
	    memory_order_acquire);

	if ((ps == NULL ? NULL : ps->p) == p) {
		*genp = ps != NULL ? ps->gen :
		    atomic_load_explicit(&pd_eng.gen, memory_order_acquire);
		return ps;
	}
	(void)pthread_mutex_lock(&pd_eng.mu);
	p = pd_watch_current(pd_eng.w);
	for (ps = pd_eng.list; ps != NULL && ps->p != p; ps = ps->next)
		;
	if (ps == NULL && p != NULL && (ps = pstate_new(p)) != NULL) {
		ps->next = pd_eng.list;
		pd_eng.list = ps;
	}
	if (ps != atomic_load(&pd_eng.cur)) {
		pd_stats_policy(pd_eng.policy_path, ps != NULL ? ps->p : NULL);
		atomic_store_explicit(&pd_eng.cur, ps, memory_order_release);
		atomic_store_explicit(&pd_eng.gen, ps != NULL ? ps->gen :
		    ++pd_eng.gen_counter, memory_order_release);
	}
	*genp = atomic_load(&pd_eng.gen);
	(void)pthread_mutex_unlock(&pd_eng.mu);
	return ps;
}

/* The watch frees p after its grace period: release what we built on it. */
static void
retire(struct pd_policy *p, void *arg)
{
	struct pstate **pp, *ps = NULL;

	(void)arg;
	(void)pthread_mutex_lock(&pd_eng.mu);
	for (pp = &pd_eng.list; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->p == p) {
			ps = *pp;
			*pp = ps->next;
			break;
		}
	if (ps != NULL && atomic_load(&pd_eng.cur) == ps) {
		atomic_store(&pd_eng.cur, NULL);
		atomic_store(&pd_eng.gen, ++pd_eng.gen_counter);
	}
	(void)pthread_mutex_unlock(&pd_eng.mu);
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

int
pd_engine_poll(uint64_t now)
{
	struct pd_error err;
	uint64_t gen;
	int r;

	atomic_store_explicit(&pd_eng.next_poll_ms, now + 1000,
	    memory_order_relaxed);
	memset(&err, 0, sizeof(err));
	r = pd_watch_poll(pd_eng.w, now, &err);
	if (r == 1)
		(void)pd_engine_current(&gen);
	else if (r < 0)
		say_load_error(pd_eng.policy_path, err.msg,
		    pd_watch_current(pd_eng.w) != NULL ?
		    "keeping the policy in force" :
		    "refusing every name lookup");
	pd_engine_reap_backends();
	logs_reopen();
	pd_stats_tick();
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

	if (atomic_load_explicit(&pd_eng.inited, memory_order_acquire))
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
	(void)pthread_mutex_lock(&pd_eng.mu);
	if (atomic_load(&pd_eng.inited)) {
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
	if ((pd_eng.policy_path = abs_path("policy", s != NULL && *s != '\0' ?
	    s : PD_POLICY_DEFAULT_PATH)) == NULL)
		goto out;
	s = cfg != NULL && cfg->pubkey_path != NULL ? cfg->pubkey_path :
	    pd_policy_pubkey_path();
	if (s != NULL && *s != '\0' &&
	    (pd_eng.pubkey_path = abs_path("public key", s)) == NULL)
		goto out;
	if (s != NULL && *s == '\0' && (pd_eng.pubkey_path = strdup(s)) == NULL)
		goto out;	/* "required but empty": an error at load */
	s = cfg != NULL && cfg->log_target != NULL ? cfg->log_target :
	    secure_getenv("PINDNS_LOG");
	if (s != NULL && strncmp(s, "file:", 5) == 0 && s[5] != '\0') {
		if ((t = abs_path("log file", s + 5)) == NULL ||
		    (pd_eng.log_spec = malloc(strlen(t) + 6)) == NULL) {
			free(t);
			goto out;
		}
		strcpy(pd_eng.log_spec, "file:");
		strcat(pd_eng.log_spec, t);
		free(t);
	} else if (s != NULL && *s != '\0' && (pd_eng.log_spec = strdup(s)) ==
	    NULL)
		goto out;
	pd_eng.host = cfg != NULL ? cfg->host : NULL;
	if (pd_eng.host != NULL)
		pd_stats_publish("preload");
	if (pd_eng.log_spec != NULL &&
	    pd_log_open(pd_eng.log_spec, &pd_eng.nolog, msg, sizeof(msg)) !=
	    PD_OK) {
		say("pindns: PINDNS_LOG: %s; audit log goes to stderr", msg);
		free(pd_eng.log_spec);
		pd_eng.log_spec = NULL;
	}
	memset(&o, 0, sizeof(o));
	o.path = pd_eng.policy_path;
	o.pubkey = pd_eng.pubkey_path;
	o.retire = retire;
	memset(&err, 0, sizeof(err));
	if (pd_watch_new(&o, &pd_eng.w, &err) != PD_OK) {
		say("pindns: cannot start: %s", err.msg);
		goto out;
	}
	if (pd_watch_current(pd_eng.w) == NULL)
		say_load_error(pd_eng.policy_path, err.msg,
		    "refusing every name lookup");
	pd_stats_policy(pd_eng.policy_path, NULL);	/* current() says more */
	/*
	 * Generations only grow, across shutdown and init too: a thread
	 * cache may still hold entries of an earlier engine.
	 */
	atomic_store(&pd_eng.gen, ++pd_eng.gen_counter);
	atomic_store(&pd_eng.next_poll_ms, pd_clock_ms() + 1000);
	atomic_store_explicit(&pd_eng.inited, true, memory_order_release);
	rc = 0;
out:
	if (rc != 0 && !atomic_load(&pd_eng.inited)) {
		free(pd_eng.policy_path);
		free(pd_eng.pubkey_path);
		free(pd_eng.log_spec);
		pd_eng.policy_path = pd_eng.pubkey_path = NULL;
		pd_eng.log_spec = NULL;
		pd_log_close(pd_eng.nolog);
		pd_eng.nolog = NULL;
	}
	(void)pthread_mutex_unlock(&pd_eng.mu);
	return rc;
}

void
pd_engine_shutdown(void)
{
	struct pd_watch *w;
	struct pstate *ps;

	(void)pthread_mutex_lock(&pd_eng.mu);
	if (!atomic_load(&pd_eng.inited)) {
		(void)pthread_mutex_unlock(&pd_eng.mu);
		return;
	}
	atomic_store(&pd_eng.inited, false);
	/* Off pd_eng.w first: pd_engine_fork_prepare() takes its lock. */
	w = pd_eng.w;
	pd_eng.w = NULL;
	(void)pthread_mutex_unlock(&pd_eng.mu);
	/* retire() takes pd_eng.mu: free the watch without holding it. */
	pd_watch_free(w);
	(void)pthread_mutex_lock(&pd_eng.mu);
	while ((ps = pd_eng.list) != NULL) {
		pd_eng.list = ps->next;
		pstate_free(ps);
	}
	atomic_store(&pd_eng.cur, NULL);
	pd_log_close(pd_eng.nolog);
	pd_eng.nolog = NULL;
	free(pd_eng.policy_path);
	free(pd_eng.pubkey_path);
	free(pd_eng.log_spec);
	pd_eng.policy_path = pd_eng.pubkey_path = NULL;
	pd_eng.log_spec = NULL;
	(void)pthread_mutex_unlock(&pd_eng.mu);
	pd_tcache_flush();
}


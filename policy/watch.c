/*
 * pindns policy: reloading a changed policy file (SPEC §3).
 *
 * The lookup path calls pd_watch_poll() with a monotonic clock. At most
 * one call per second does any work: the first caller past the deadline
 * moves it on with a compare-and-swap, every other thread returns at
 * once. That caller then claims the check (an atomic flag: a reload
 * slower than a second must not run twice) and stats the policy file,
 * plus its .sig and the public key when signatures are required: a
 * policy and its signature are two files, and a .sig that lands after
 * the policy must trigger the retry that the policy alone would not. A
 * change of device, inode, size, mtime or ctime (nanoseconds) means:
 * read, verify and parse the new file, and publish it with a release
 * store. A file that fails keeps the old policy in force and is reported
 * once, not once a second.
 *
 * Readers hold no lock and no reference: a replaced policy is freed only
 * PD_WATCH_GRACE_MS later, far beyond any lookup's timeout_ms, by a later
 * poll (after calling opts.retire, so the engine can drop what it built
 * on it).
 *
 * Fork: the check's stat() and load may take long (a slow file system),
 * so no lock is held across them; mu is held only while the list of
 * retired policies and the policy in force change, never across I/O or
 * opts.retire, and the host takes it around fork() (pd_watch_lock()). A
 * child forked during a check has no thread to finish it:
 * pd_watch_forked() drops the claim, and the child checks the files
 * itself at its next poll (the half-loaded policy stays with the parent).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/internal.h"

#define CHECK_INTERVAL_MS	1000

/* What we compare to notice a change of one file. */
struct fstamp {
	int		err;	/* stat's errno, 0 when it exists */
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
	struct timespec	ctime;
};

enum {
	F_POLICY,
	F_SIG,
	F_PUBKEY,
	F_N
};

struct retired {
	struct pd_policy	*p;
	uint64_t		 free_at_ms;
};

struct pd_watch {
	char			*path;
	char			*sigpath;	/* NULL without pubkey */
	char			*pubkey;
	void			(*retire)(struct pd_policy *, void *);
	void			*arg;

	_Atomic(struct pd_policy *) cur;
	_Atomic uint64_t	 next_ms;	/* next check is due */
	_Atomic bool		 busy;		/* a check is running */

	/*
	 * Used by the busy thread only; changed under mu, so that fork()
	 * (which the host makes under mu) never sees them half changed.
	 */
	pthread_mutex_t		 mu;
	struct fstamp		 last[F_N];
	uint64_t		 generation;
	struct retired		*ret;
	size_t			 nret, capret;
};

static void
stamp(const char *path, struct fstamp *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	if (path == NULL)
		return;
	if (stat(path, &st) != 0) {
		f->err = errno;
		return;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	f->size = st.st_size;
	f->mtime = st.st_mtim;
	f->ctime = st.st_ctim;
}

static bool
same(const struct fstamp *a, const struct fstamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino &&
	    a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	    a->mtime.tv_nsec == b->mtime.tv_nsec &&
	    a->ctime.tv_sec == b->ctime.tv_sec &&
	    a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void
stamp_all(const struct pd_watch *w, struct fstamp *f)
{
	stamp(w->path, &f[F_POLICY]);
	stamp(w->sigpath, &f[F_SIG]);
	stamp(w->pubkey, &f[F_PUBKEY]);
}

static void
drop(struct pd_watch *w, struct pd_policy *p)
{
	if (p == NULL)
		return;
	if (w->retire != NULL)
		w->retire(p, w->arg);
	pd_policy_free(p);
}

/*
 * Free retired policies whose grace period is over: taken off the list
 * under mu, dropped without it (the host's retire callback takes locks
 * of its own, which it also takes around fork() after mu).
 */
static void
reap(struct pd_watch *w, uint64_t now_ms)
{
	struct pd_policy *due[8];
	size_t i, k, n;

	do {
		n = k = 0;
		(void)pthread_mutex_lock(&w->mu);
		for (i = 0; i < w->nret; i++) {
			if (now_ms >= w->ret[i].free_at_ms && n < 8)
				due[n++] = w->ret[i].p;
			else
				w->ret[k++] = w->ret[i];
		}
		w->nret = k;
		(void)pthread_mutex_unlock(&w->mu);
		for (i = 0; i < n; i++)
			drop(w, due[i]);
	} while (n == 8);
}

/* Publish p; the old policy is retired. */
static void
install(struct pd_watch *w, struct pd_policy *p, uint64_t now_ms)
{
	struct pd_policy *old;
	struct retired *v;
	size_t cap;

	(void)pthread_mutex_lock(&w->mu);
	p->generation = ++w->generation;
	old = atomic_exchange_explicit(&w->cur, p, memory_order_acq_rel);
	if (old == NULL)
		goto out;
	if (w->nret == w->capret) {
		cap = w->capret ? w->capret * 2 : 4;
		/* Out of memory: leak old, a reader may still hold it. */
		if ((v = realloc(w->ret, cap * sizeof(*v))) == NULL)
			goto out;
		w->ret = v;
		w->capret = cap;
	}
	w->ret[w->nret].p = old;
	w->ret[w->nret].free_at_ms = now_ms + PD_WATCH_GRACE_MS;
	w->nret++;
out:
	(void)pthread_mutex_unlock(&w->mu);
}

static char *
dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*fail = true;
	return d;
}

enum pd_err
pd_watch_new(const struct pd_watch_opts *o, struct pd_watch **wp,
    struct pd_error *err)
{
	struct pd_watch *w;
	struct pd_policy *p = NULL;
	bool fail = false;

	if (o == NULL || o->path == NULL)
		return pd_err_at(err, PD_EINVAL, "pd_watch_new", 0, 0,
		    "no policy path");
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return pd_err_at(err, PD_ENOMEM, o->path, 0, 0,
		    "out of memory");
	w->path = dup_or_null(o->path, &fail);
	w->pubkey = dup_or_null(o->pubkey, &fail);
	if (o->pubkey != NULL && !fail &&
	    (w->sigpath = malloc(strlen(o->path) + 5)) != NULL) {
		strcpy(w->sigpath, o->path);
		strcat(w->sigpath, ".sig");
	} else if (o->pubkey != NULL) {
		fail = true;
	}
	if (fail || pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w->path);
		free(w->pubkey);
		free(w->sigpath);
		free(w);
		return pd_err_at(err, PD_ENOMEM, o->path, 0, 0,
		    "out of memory");
	}
	w->retire = o->retire;
	w->arg = o->arg;
	atomic_init(&w->cur, NULL);
	atomic_init(&w->next_ms, 0);
	atomic_init(&w->busy, false);
	/* Stamp first: a change during the load is seen by the next poll. */
	stamp_all(w, w->last);
	if (pd_policy_load(w->path, w->pubkey, &p, err) == PD_OK)
		install(w, p, 0);
	*wp = w;
	return PD_OK;
}

struct pd_policy *
pd_watch_current(struct pd_watch *w)
{
	return atomic_load_explicit(&w->cur, memory_order_acquire);
}

int
pd_watch_poll(struct pd_watch *w, uint64_t now_ms, struct pd_error *err)
{
	struct fstamp now[F_N];
	struct pd_policy *p = NULL;
	struct pd_error e;
	uint64_t due;
	bool changed;
	int i, rc = 0;

	due = atomic_load_explicit(&w->next_ms, memory_order_relaxed);
	if (now_ms < due)
		return 0;
	if (!atomic_compare_exchange_strong_explicit(&w->next_ms, &due,
	    now_ms + CHECK_INTERVAL_MS, memory_order_relaxed,
	    memory_order_relaxed))
		return 0;	/* another thread checks this second */
	if (atomic_exchange_explicit(&w->busy, true, memory_order_acquire))
		return 0;	/* a slow reload is still running */
	reap(w, now_ms);
	stamp_all(w, now);
	changed = false;
	for (i = 0; i < F_N; i++)
		if (!same(&now[i], &w->last[i]))
			changed = true;
	if (!changed && atomic_load_explicit(&w->cur,
	    memory_order_relaxed) != NULL)
		goto out;
	/*
	 * Changed, or nothing ever loaded (then retry each second: an
	 * anchor file may have appeared, but report only a new change).
	 */
	(void)pthread_mutex_lock(&w->mu);
	memcpy(w->last, now, sizeof(now));
	(void)pthread_mutex_unlock(&w->mu);
	if (pd_policy_load(w->path, w->pubkey, &p, &e) == PD_OK) {
		struct pd_policy *cur = atomic_load_explicit(&w->cur,
		    memory_order_relaxed);

		/*
		 * A rewrite with the same bytes (a configuration manager
		 * writing the file out again) is no new policy: a new
		 * generation would empty the engine's cache and build a
		 * new backend for nothing.
		 */
		if (cur != NULL && cur->has_digest && p->has_digest &&
		    memcmp(cur->digest, p->digest, sizeof(p->digest)) == 0) {
			pd_policy_free(p);
			goto out;
		}
		install(w, p, now_ms);
		rc = 1;
	} else if (changed) {
		if (err != NULL)
			*err = e;
		rc = -1;
	}
out:
	atomic_store_explicit(&w->busy, false, memory_order_release);
	return rc;
}

void
pd_watch_lock(struct pd_watch *w)
{
	if (w != NULL)
		(void)pthread_mutex_lock(&w->mu);
}

void
pd_watch_unlock(struct pd_watch *w)
{
	if (w != NULL)
		(void)pthread_mutex_unlock(&w->mu);
}

void
pd_watch_forked(struct pd_watch *w)
{
	if (w != NULL)
		atomic_store(&w->busy, false);
}

void
pd_watch_force(struct pd_watch *w)
{
	int i;

	(void)pthread_mutex_lock(&w->mu);
	/* No stat gives err -1: the next poll sees a change and reads. */
	for (i = 0; i < F_N; i++)
		w->last[i].err = -1;
	(void)pthread_mutex_unlock(&w->mu);
	atomic_store_explicit(&w->next_ms, 0, memory_order_relaxed);
}

void
pd_watch_free(struct pd_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->nret; i++)
		drop(w, w->ret[i].p);
	drop(w, atomic_load_explicit(&w->cur, memory_order_acquire));
	free(w->ret);
	pthread_mutex_destroy(&w->mu);
	free(w->path);
	free(w->sigpath);
	free(w->pubkey);
	free(w);
}

/*
 * pindns preload: getaddrinfo_a, gai_suspend, gai_error, gai_cancel
 * (SPEC §4.1).
 *
 * glibc's own getaddrinfo_a resolves on its helper threads through an
 * internal call to getaddrinfo that no preload can see, so claimed names
 * would leave through it unprotected. The whole family is done here
 * instead, with glibc's semantics (glibc 2.36 resolv/gai_*.c): requests
 * queue in order, up to GAIA_THREADS detached helper threads (all signals
 * blocked) run each through the getaddrinfo hook, so a claimed name gets
 * the engine's answer and any other the real getaddrinfo's, as
 * getaddrinfo itself would give them. ar_result and __return are written
 * as glibc writes them, so gai_error reads what glibc's would.
 *
 * Notification as glibc: GAI_WAIT returns when every request of the call
 * is done; GAI_NOWAIT notifies once all are done: SIGEV_SIGNAL queues the
 * signal to the process (si_code SI_ASYNCNL, sigev_value), SIGEV_THREAD
 * runs the function on a new thread (the caller's attributes, else
 * detached), SIGEV_NONE or no sigevent nothing. gai_suspend waits (on a
 * futex, as glibc: a signal handler ends the wait with EAI_INTR) until one
 * of the listed requests in progress is done.
 *
 * Two deliberate differences: gai_cancel of a queued request sets its
 * gai_error to EAI_CANCELED (glibc leaves EAI_INPROGRESS forever) and
 * counts it as done for its call's notification and GAI_WAIT (glibc then
 * never notifies, and GAI_WAIT never returns).
 *
 * Fork: the queue lock is taken around fork(); the child has no helper
 * thread, starts new ones for new requests, and requests queued but not
 * started in the parent run there too. A request running in the parent at
 * fork stays in progress in the child, as with glibc.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "preload/eng.h"

/* glibc's gai_threads and gai_idle_time. */
#define GAIA_THREADS	20
#define GAIA_IDLE_S	1

/* What one getaddrinfo_a call waits for, or notifies once done. */
struct gaia_call {
	unsigned	 left;		/* requests not done, under mu */
	bool		 wait;		/* GAI_WAIT: the caller frees it */
	struct sigevent	 sev;		/* GAI_NOWAIT */
	pid_t		 pid;
};

struct gaia_req {
	struct gaia_req		*next;	/* reqs, in submission order */
	struct gaicb		*cb;
	struct gaia_call	*call;
	bool			 running;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;	/* new request */
static struct gaia_req *reqs;		/* known requests, under mu */
static unsigned nthreads, nidle;	/* under mu */
/* Bumped (and woken) when any request is done: the waits' futex word. */
static _Atomic uint32_t done_seq;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ real */

typedef int real_gaia_fn(int, struct gaicb **, int, struct sigevent *);
typedef int real_suspend_fn(const struct gaicb *const *, int,
    const struct timespec *);
typedef int real_cb_fn(struct gaicb *);

static struct {
	real_gaia_fn	*getaddrinfo_a;
	real_suspend_fn	*gai_suspend;
	real_cb_fn	*gai_cancel;
} real;

static void
fork_prepare(void)
{
	(void)pthread_mutex_lock(&mu);
}

static void
fork_parent(void)
{
	(void)pthread_mutex_unlock(&mu);
}

static void
fork_child(void)
{
	struct gaia_req *r;

	/* The helpers are gone; what they ran stays in progress. */
	nthreads = nidle = 0;
	for (r = reqs; r != NULL; r = r->next)
		if (r->running)
			r->call = NULL;
	(void)pthread_cond_init(&work, NULL);
	(void)pthread_mutex_unlock(&mu);
}

static void
setup(void)
{
	real.getaddrinfo_a = (real_gaia_fn *)dlsym(RTLD_NEXT,
	    "getaddrinfo_a");
	real.gai_suspend = (real_suspend_fn *)dlsym(RTLD_NEXT,
	    "gai_suspend");
	real.gai_cancel = (real_cb_fn *)dlsym(RTLD_NEXT, "gai_cancel");
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ------------------------------------------------------------ waits */

static void
done_wake(void)
{
	atomic_fetch_add_explicit(&done_seq, 1, memory_order_release);
	(void)syscall(SYS_futex, &done_seq, FUTEX_WAKE_PRIVATE, INT_MAX,
	    NULL, NULL, 0);
}

/*
 * Sleep while done_seq is seen, at most rel (NULL: no limit). 0 woken (or
 * spuriously), else EINTR or ETIMEDOUT.
 */
static int
done_wait(uint32_t seen, const struct timespec *rel)
{
	if (syscall(SYS_futex, &done_seq, FUTEX_WAIT_PRIVATE, seen, rel,
	    NULL, 0) == 0)
		return 0;
	return errno == EAGAIN ? 0 : errno;
}

/* ------------------------------------------------------------ notify */

struct notify_thread {
	void		(*fn)(union sigval);
	union sigval	 val;
};

static void *
notify_run(void *arg)
{
	struct notify_thread n = *(struct notify_thread *)arg;

	free(arg);
	n.fn(n.val);
	return NULL;
}

/* glibc's __gai_notify_only. */
static void
notify(const struct sigevent *sev, pid_t pid)
{
	struct notify_thread *n;
	pthread_attr_t attr, *pa;
	pthread_t tid;
	siginfo_t si;

	if (sev->sigev_notify == SIGEV_SIGNAL) {
		memset(&si, 0, sizeof(si));
		si.si_signo = sev->sigev_signo;
		si.si_code = SI_ASYNCNL;
		si.si_pid = pid;
		si.si_uid = getuid();
		si.si_value = sev->sigev_value;
		(void)syscall(SYS_rt_sigqueueinfo, pid, sev->sigev_signo, &si);
	} else if (sev->sigev_notify == SIGEV_THREAD &&
	    sev->sigev_notify_function != NULL) {
		if ((n = malloc(sizeof(*n))) == NULL)
			return;
		n->fn = sev->sigev_notify_function;
		n->val = sev->sigev_value;
		pa = sev->sigev_notify_attributes;
		if (pa == NULL) {
			(void)pthread_attr_init(&attr);
			(void)pthread_attr_setdetachstate(&attr,
			    PTHREAD_CREATE_DETACHED);
			pa = &attr;
		}
		if (pthread_create(&tid, pa, notify_run, n) != 0)
			free(n);
		if (pa == &attr)
			(void)pthread_attr_destroy(&attr);
	}
}

/*
 * r is done (answered or cancelled), under mu: unlink and free it. Returns
 * its call when that call is now complete and must be notified by the
 * caller after unlocking (NULL otherwise).
 */
static struct gaia_call *
req_done(struct gaia_req *r)
{
	struct gaia_req **pp;
	struct gaia_call *c = r->call;

	for (pp = &reqs; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	free(r);
	/*
	 * GAI_WAIT: its waiter sees left == 0 under mu and frees the call;
	 * nobody else may touch it once mu is released.
	 */
	if (c == NULL || --c->left > 0 || c->wait)
		return NULL;
	return c;
}

/* After unlocking: notify a GAI_NOWAIT call's caller, free the call. */
static void
call_done(struct gaia_call *c)
{
	if (c == NULL)
		return;
	notify(&c->sev, c->pid);
	free(c);
}

/* ------------------------------------------------------------ helpers */

static struct gaia_req *
next_queued(void)
{
	struct gaia_req *r;

	for (r = reqs; r != NULL && r->running; r = r->next)
		;
	return r;
}

static int helper_start(struct gaia_req *r);

static void *
helper(void *arg)
{
	struct gaia_req *r = arg;
	struct gaia_call *c;
	struct timespec until;
	struct gaicb *cb;
	int rc;

	(void)pthread_mutex_lock(&mu);
	for (;;) {
		if (r == NULL && (r = next_queued()) == NULL) {
			nidle++;
			(void)clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += GAIA_IDLE_S;
			(void)pthread_cond_timedwait(&work, &mu, &until);
			nidle--;
			if ((r = next_queued()) == NULL)
				break;
		}
		r->running = true;
		cb = r->cb;
		/*
		 * More waiting: wake or start another helper (glibc's
		 * handle_requests), else a burst submitted while one helper
		 * idled would run one request after the other.
		 */
		if (next_queued() != NULL) {
			if (nidle > 0)
				(void)pthread_cond_signal(&work);
			else if (nthreads < GAIA_THREADS)
				(void)helper_start(NULL);
		}
		(void)pthread_mutex_unlock(&mu);

		/* The hook: the engine for claimed names, libc for others. */
		rc = getaddrinfo(cb->ar_name, cb->ar_service, cb->ar_request,
		    &cb->ar_result);

		(void)pthread_mutex_lock(&mu);
		__atomic_store_n(&cb->__return, rc, __ATOMIC_RELEASE);
		c = req_done(r);
		r = NULL;
		if (c != NULL) {
			(void)pthread_mutex_unlock(&mu);
			call_done(c);
			(void)pthread_mutex_lock(&mu);
		}
		done_wake();
	}
	nthreads--;
	(void)pthread_mutex_unlock(&mu);
	return NULL;
}

/*
 * A helper for r (or for the queue when r is NULL), under mu. glibc's
 * __gai_create_helper_thread: detached, every signal blocked, so that a
 * process-directed signal never lands on it.
 */
static int
helper_start(struct gaia_req *r)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t tid;
	int rc;

	(void)pthread_attr_init(&attr);
	(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, helper, r);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	(void)pthread_attr_destroy(&attr);
	if (rc == 0)
		nthreads++;
	return rc;
}

/* Queue cb for call c, under mu. 0, or -1 when nothing can run it. */
static int
enqueue(struct gaicb *cb, struct gaia_call *c)
{
	struct gaia_req *r, **pp;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->cb = cb;
	r->call = c;
	for (pp = &reqs; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = r;
	__atomic_store_n(&cb->__return, EAI_INPROGRESS, __ATOMIC_RELEASE);
	if (nidle > 0)
		(void)pthread_cond_signal(&work);
	else if (nthreads < GAIA_THREADS && helper_start(NULL) != 0 &&
	    nthreads == 0) {
		*pp = NULL;
		free(r);
		errno = EAGAIN;
		return -1;
	}
	return 0;
}

static struct gaia_req *
find(const struct gaicb *cb)
{
	struct gaia_req *r;

	for (r = reqs; r != NULL && r->cb != cb; r = r->next)
		;
	return r;
}

/* ------------------------------------------------------------ hooks */

__attribute__((visibility("default"))) int
getaddrinfo_a(int mode, struct gaicb *list[], int ent, struct sigevent *sig)
{
	struct gaia_call *c;
	unsigned total = 0;
	uint32_t seen;
	int i, result = 0;

	(void)pthread_once(&once, setup);
	if (pd_eng_guarded() && real.getaddrinfo_a != NULL)
		return real.getaddrinfo_a(mode, list, ent, sig);
	if (mode != GAI_WAIT && mode != GAI_NOWAIT) {
		errno = EINVAL;
		return EAI_SYSTEM;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return EAI_AGAIN;
	c->wait = mode == GAI_WAIT;
	if (sig != NULL)
		c->sev = *sig;
	else
		c->sev.sigev_notify = SIGEV_NONE;
	c->pid = getpid();

	(void)pthread_mutex_lock(&mu);
	for (i = 0; i < ent; i++)
		if (list[i] != NULL) {
			if (enqueue(list[i], c) == 0)
				total++;
			else
				result = EAI_SYSTEM;
		}
	c->left = total;
	if (total == 0) {
		(void)pthread_mutex_unlock(&mu);
		if (!c->wait)
			notify(&c->sev, c->pid);
		free(c);
		return result;
	}
	if (!c->wait) {
		(void)pthread_mutex_unlock(&mu);
		return result;
	}
	/* GAI_WAIT: until every request is done; signals do not end it. */
	while (c->left > 0) {
		seen = atomic_load_explicit(&done_seq, memory_order_acquire);
		(void)pthread_mutex_unlock(&mu);
		(void)done_wait(seen, NULL);
		(void)pthread_mutex_lock(&mu);
	}
	(void)pthread_mutex_unlock(&mu);
	free(c);
	return result;
}

__attribute__((visibility("default"))) int
gai_error(struct gaicb *req)
{
	return __atomic_load_n(&req->__return, __ATOMIC_ACQUIRE);
}

/* How many of list[] are ours and in progress? Under mu. */
static unsigned
in_progress(const struct gaicb *const list[], int ent, bool *ours)
{
	unsigned n = 0;
	int i;

	for (i = 0; i < ent; i++) {
		if (list[i] == NULL || find(list[i]) == NULL)
			continue;
		*ours = true;
		n += gai_error((struct gaicb *)list[i]) == EAI_INPROGRESS;
	}
	return n;
}

__attribute__((visibility("default"))) int
gai_suspend(const struct gaicb *const list[], int ent,
    const struct timespec *timeout)
{
	struct timespec end, now, rel;
	uint32_t seen;
	unsigned n0;
	bool ours = false;
	int rc;

	(void)pthread_once(&once, setup);
	if (timeout != NULL) {
		(void)clock_gettime(CLOCK_MONOTONIC, &end);
		end.tv_sec += timeout->tv_sec;
		end.tv_nsec += timeout->tv_nsec;
		if (end.tv_nsec >= 1000000000) {
			end.tv_sec++;
			end.tv_nsec -= 1000000000;
		}
	}
	(void)pthread_mutex_lock(&mu);
	seen = atomic_load_explicit(&done_seq, memory_order_acquire);
	if ((n0 = in_progress(list, ent, &ours)) == 0) {
		(void)pthread_mutex_unlock(&mu);
		/* None of ours: a list handed to glibc's own (guarded). */
		if (!ours && pd_eng_guarded() && real.gai_suspend != NULL)
			return real.gai_suspend(list, ent, timeout);
		return EAI_ALLDONE;
	}
	for (;;) {
		(void)pthread_mutex_unlock(&mu);
		rel.tv_sec = 0;
		rel.tv_nsec = 0;
		if (timeout != NULL) {
			(void)clock_gettime(CLOCK_MONOTONIC, &now);
			rel.tv_sec = end.tv_sec - now.tv_sec;
			rel.tv_nsec = end.tv_nsec - now.tv_nsec;
			if (rel.tv_nsec < 0) {
				rel.tv_sec--;
				rel.tv_nsec += 1000000000;
			}
			if (rel.tv_sec < 0)
				return EAI_AGAIN;
		}
		rc = done_wait(seen, timeout != NULL ? &rel : NULL);
		if (rc == EINTR)
			return EAI_INTR;
		if (rc == ETIMEDOUT)
			return EAI_AGAIN;
		(void)pthread_mutex_lock(&mu);
		seen = atomic_load_explicit(&done_seq, memory_order_acquire);
		/* One of those in progress is done: glibc says 0. */
		if (in_progress(list, ent, &ours) < n0)
			break;
	}
	(void)pthread_mutex_unlock(&mu);
	return 0;
}

__attribute__((visibility("default"))) int
gai_cancel(struct gaicb *cb)
{
	struct gaia_call *c;
	struct gaia_req *r;

	(void)pthread_once(&once, setup);
	(void)pthread_mutex_lock(&mu);
	if ((r = find(cb)) == NULL) {
		(void)pthread_mutex_unlock(&mu);
		if (pd_eng_guarded() && real.gai_cancel != NULL)
			return real.gai_cancel(cb);
		return EAI_ALLDONE;
	}
	if (r->running) {
		(void)pthread_mutex_unlock(&mu);
		return EAI_NOTCANCELED;
	}
	__atomic_store_n(&cb->__return, EAI_CANCELED, __ATOMIC_RELEASE);
	c = req_done(r);
	(void)pthread_mutex_unlock(&mu);
	call_done(c);
	done_wake();
	return EAI_CANCELED;
}

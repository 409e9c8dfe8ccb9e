/*
 * pindns DoT backend: fork and signals. The pthread_atfork handlers and
 * the registry of live backends they lock, freeing a backend inherited
 * over fork(), and the signal mask of every thread the backend makes
 * (worker.h, "Signals" and "Fork").
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "resolver/dot/backend.h"

/* ------------------------------------------------------------ fork */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pd_dot *reg_head;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static int reg_rc;
/* Held by the TLS warm-up thread while it is inside OpenSSL. */
static pthread_mutex_t warm_mu = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool warm_started;

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
	/* A leaf: the warm-up thread takes no other lock. */
	(void)pthread_mutex_lock(&warm_mu);
}

static void
at_parent(void)
{
	struct pd_dot *d;

	(void)pthread_mutex_unlock(&warm_mu);
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

	(void)pthread_mutex_unlock(&warm_mu);
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

void
pd_backend_fork_init(void)
{
	(void)pthread_once(&reg_once, reg_init);
}

bool
pd_backend_reg_add(struct pd_dot *d)
{
	pd_backend_fork_init();
	if (reg_rc != 0)
		return false;
	(void)pthread_mutex_lock(&reg_mu);
	d->reg_next = reg_head;
	reg_head = d;
	d->registered = true;
	(void)pthread_mutex_unlock(&reg_mu);
	return true;
}

void
pd_backend_reg_del(struct pd_dot *d)
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
int
pd_backend_spawn(pthread_t *t, void *(*fn)(void *), void *arg)
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

/*
 * OpenSSL 3 fetches every cipher and digest from its providers the first
 * time a process makes an SSL_CTX (10.6 M instructions here, 1.1 M the
 * next time), and getdns makes its SSL_CTX on the backend thread when the
 * first query starts, just before the connect. Making a throwaway one on
 * a thread of its own while the caller makes the getdns contexts (12.4 M,
 * mostly libunbound seeding its PRNG) takes it off the path to the
 * connect when a second core is free; when none is, the join costs what
 * the backend thread would have spent anyway. Once per process.
 */
static void *
warm_main(void *arg)
{
	const struct pd_host *host = arg;
	SSL_CTX *c;

	/* Like every thread of the backend: the host's hooks pass this
	 * thread's calls straight to libc. */
	if (host != NULL && host->engine_thread != NULL)
		host->engine_thread();
	(void)pthread_mutex_lock(&warm_mu);
	ERR_set_mark();
	if ((c = SSL_CTX_new(TLS_client_method())) != NULL)
		SSL_CTX_free(c);
	ERR_pop_to_mark();
	(void)pthread_mutex_unlock(&warm_mu);
	return NULL;
}

bool
pd_backend_warm_start(pthread_t *t, const struct pd_host *host)
{
	if (atomic_exchange(&warm_started, true))
		return false;
	return pd_backend_spawn(t, warm_main, (void *)host) == 0;
}

void
pd_backend_warm_join(pthread_t t, bool started)
{
	if (started)
		(void)pthread_join(t, NULL);
}

void
pd_backend_drain_sigpipe(struct pd_dot *d)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t s;

	(void)sigemptyset(&s);
	(void)sigaddset(&s, SIGPIPE);
	while (sigtimedwait(&s, NULL, &zero) == SIGPIPE)
		atomic_fetch_add(&d->n_sigpipes, 1);
}

void
pd_backend_engine_thread(struct pd_dot *d)
{
	if (d->host != NULL && d->host->engine_thread != NULL)
		d->host->engine_thread();
}

/* ------------------------------------------------------------ child */

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
void
pd_backend_free_child(struct pd_dot *d)
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
	pd_backend_reg_del(d);
	pd_backend_destroy(d, true);
}

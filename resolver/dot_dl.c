/*
 * pindns engine: find the getdns backend. libpindns-dot.so lives beside
 * libpindns-engine.so; it is loaded on the first lookup that needs the
 * network, so processes that only pass names to libc never map getdns or
 * OpenSSL.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "resolver/clock.h"
#include "resolver/dot/dot.h"

/* Between two attempts after a dlopen failure that may pass. */
#define DOT_RETRY_MS	1000

/*
 * The table once loaded. A dlopen that fails for want of descriptors or
 * memory is tried again on a later lookup, at most once a second, so a
 * moment of EMFILE does not refuse every secure lookup for the rest of
 * the process's life; dot_retry_ms is UINT64_MAX after a failure that
 * cannot pass (no usable table in the object).
 */
static _Atomic(const struct pd_dot_ops *) dot_ops;
static pthread_mutex_t dot_mu = PTHREAD_MUTEX_INITIALIZER;
static char dot_err[4400];		/* under dot_mu */
static uint64_t dot_retry_ms;		/* under dot_mu; 0: now */

/*
 * fork(): dot_mu is held across the dlopen of the backend. A child forked
 * then would inherit it held by a thread it does not have (its first
 * secure lookup would wait for ever), or see the backend half loaded. The
 * engine's fork handler takes it (pd_dot_lock), so fork() waits for the
 * load, a dlopen of local files. The holder takes no other lock of ours.
 * glibc 2.36 releases its handler-list lock while a prepare handler runs,
 * so a library being dlopened meanwhile may still register handlers of
 * its own (glibc commit 52a103e2, bug 24595).
 */
void
pd_dot_lock(void)
{
	(void)pthread_mutex_lock(&dot_mu);
}

void
pd_dot_unlock(void)
{
	(void)pthread_mutex_unlock(&dot_mu);
}

/* One attempt, under dot_mu: sets dot_ops, or dot_err and dot_retry_ms. */
static void
dot_load(void)
{
	Dl_info info;
	char path[4096];
	const char *slash;
	void *h;
	const struct pd_dot_ops *ops;

	dot_retry_ms = UINT64_MAX;
	if (dladdr((void *)dot_load, &info) == 0 || info.dli_fname == NULL) {
		snprintf(dot_err, sizeof(dot_err),
		    "cannot locate the engine's own directory");
		return;
	}
	/*
	 * Only beside the engine, by an absolute path: a relative name
	 * would be taken against the current directory at this first
	 * secure lookup, wherever the process has moved to since. The
	 * preload always loads the engine by an absolute path.
	 */
	slash = strrchr(info.dli_fname, '/');
	if (info.dli_fname[0] != '/' || slash == NULL) {
		snprintf(dot_err, sizeof(dot_err), "the engine was loaded by "
		    "a relative path (%s): load it by an absolute one",
		    info.dli_fname);
		return;
	}
	if ((size_t)snprintf(path, sizeof(path), "%.*s/%s",
	    (int)(slash - info.dli_fname), info.dli_fname, PD_DOT_SONAME) >=
	    sizeof(path)) {
		snprintf(dot_err, sizeof(dot_err), "engine path too long");
		return;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(dot_err, sizeof(dot_err), "%s", dlerror());
		dot_retry_ms = pd_clock_ms() + DOT_RETRY_MS;
		return;
	}
	ops = dlsym(h, PD_DOT_SYMBOL);
	if (ops == NULL || ops->abi != PD_DOT_ABI) {
		snprintf(dot_err, sizeof(dot_err), "%s: no %s (ABI %d)", path,
		    PD_DOT_SYMBOL, PD_DOT_ABI);
		return;	/* keep h mapped: unloading getdns is never safe */
	}
	atomic_store_explicit(&dot_ops, ops, memory_order_release);
}

const struct pd_dot_ops *
pd_dot_get(char *err, size_t errlen)
{
	const struct pd_dot_ops *ops;

	ops = atomic_load_explicit(&dot_ops, memory_order_acquire);
	if (ops != NULL)
		return ops;
	(void)pthread_mutex_lock(&dot_mu);
	ops = atomic_load_explicit(&dot_ops, memory_order_acquire);
	if (ops == NULL && pd_clock_ms() >= dot_retry_ms) {
		dot_load();
		ops = atomic_load_explicit(&dot_ops, memory_order_acquire);
	}
	if (ops == NULL && err != NULL)
		snprintf(err, errlen, "%s", dot_err);
	(void)pthread_mutex_unlock(&dot_mu);
	return ops;
}

/*
 * pindns preload: loading the engine, the re-entrancy guard, fail closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "preload/clock.h"
#include "preload/eng.h"

__thread int pd_eng_guard __attribute__((tls_model("initial-exec")));

/* Between two attempts to load the engine after a failure that may pass. */
#define ENG_RETRY_MS	1000

/*
 * The engine once loaded. Until then eng_mu serialises the attempts (the
 * threads of a cold start wait for the first), and eng_retry_ms says when
 * the next may be made: 0 at once, UINT64_MAX never. A load that fails
 * for want of descriptors or memory (dlopen's EMFILE, init's ENOMEM) must
 * not refuse every lookup for the rest of a long-lived worker's life.
 */
static _Atomic(const struct pd_engine_ops *) eng_ops;
static pthread_mutex_t eng_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t eng_retry_ms;
static int eng_said;		/* under eng_mu */

/* Called by the engine at the start of each thread it creates. */
static void
eng_thread(void)
{
	pd_eng_guard = 1;
}

static const struct pd_host eng_host = {
	.engine_thread = eng_thread,
};

/*
 * One line on stderr, written with write(2): no stdio buffer or lock of
 * the host process is touched. Once per process (under eng_mu).
 */
static void
eng_say(const char *what, const char *detail, int permanent)
{
	char line[1024];
	int len;
	ssize_t w;
	size_t off;

	if (eng_said)
		return;
	eng_said = 1;

	len = snprintf(line, sizeof(line), "pindns: %s%s%s; %s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "",
	    permanent ? "every name lookup is refused" :
	    "name lookups are refused until it loads (retried each second)");
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	for (off = 0; off < (size_t)len; off += (size_t)w) {
		w = write(STDERR_FILENO, line + off, (size_t)len - off);
		if (w < 0 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w <= 0)
			return;
	}
}

/*
 * Path of the engine: beside the object this code is in. dladdr() names
 * the preload as the dynamic loader found it; with no directory in it
 * (LD_PRELOAD=libpindns.so found on the library path) the bare soname lets
 * dlopen search the same path.
 */
static int
eng_path(char *path, size_t len)
{
	Dl_info info;
	const char *slash;
	int n;

	if (dladdr((void *)eng_path, &info) == 0 || info.dli_fname == NULL)
		return -1;
	slash = strrchr(info.dli_fname, '/');
	if (slash == NULL)
		n = snprintf(path, len, "%s", PD_ENGINE_SONAME);
	else
		n = snprintf(path, len, "%.*s/%s",
		    (int)(slash - info.dli_fname), info.dli_fname,
		    PD_ENGINE_SONAME);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/*
 * One attempt, under eng_mu. Returns the table, or NULL with
 * *permanent set when trying again cannot help (the object is not ours).
 */
static const struct pd_engine_ops *
eng_load(int *permanent)
{
	char path[4096];
	struct pd_engine_cfg cfg;
	const struct pd_engine_ops *ops;
	const char *err;
	void *h;

	*permanent = 0;
	if (eng_path(path, sizeof(path)) != 0) {
		eng_say("cannot locate libpindns.so's own directory", NULL, 1);
		*permanent = 1;
		return NULL;
	}
	/* Fails for good (no such file) or for now (EMFILE, ENOMEM). */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		err = dlerror();
		eng_say("cannot load the engine", err != NULL ? err : path, 0);
		return NULL;
	}
	ops = dlsym(h, PD_ENGINE_SYMBOL);
	if (ops == NULL || ops->abi != PD_ENGINE_ABI || ops->init == NULL ||
	    ops->lookup == NULL || ops->filter == NULL) {
		/* Keep h mapped: unloading a half-used engine is never safe. */
		eng_say("the engine has no usable " PD_ENGINE_SYMBOL
		    " table (ABI mismatch)", path, 1);
		*permanent = 1;
		return NULL;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = &eng_host;
	/* init is idempotent: a retry after out of memory is safe. */
	if (ops->init(&cfg) != 0) {
		eng_say("the engine failed to start", "out of memory", 0);
		return NULL;
	}
	return ops;
}

/*
 * The engine, loading it on first use; NULL while it cannot be loaded.
 * The load runs guarded: the engine's constructors or init may resolve
 * (numeric upstream addresses) and must reach libc.
 */
static const struct pd_engine_ops *
eng_get(void)
{
	const struct pd_engine_ops *ops;
	uint64_t due;
	int herr, permanent;

	ops = atomic_load_explicit(&eng_ops, memory_order_acquire);
	if (ops != NULL)
		return ops;
	due = atomic_load_explicit(&eng_retry_ms, memory_order_relaxed);
	if (due != 0 && pd_clock_ms() < due)
		return NULL;
	(void)pthread_mutex_lock(&eng_mu);
	ops = atomic_load_explicit(&eng_ops, memory_order_acquire);
	due = atomic_load_explicit(&eng_retry_ms, memory_order_relaxed);
	if (ops == NULL && (due == 0 || pd_clock_ms() >= due)) {
		herr = h_errno;
		pd_eng_guard++;
		ops = eng_load(&permanent);
		pd_eng_guard--;
		h_errno = herr;
		if (ops != NULL)
			atomic_store_explicit(&eng_ops, ops,
			    memory_order_release);
		else
			atomic_store_explicit(&eng_retry_ms, permanent ?
			    UINT64_MAX : pd_clock_ms() + ENG_RETRY_MS,
			    memory_order_relaxed);
	}
	(void)pthread_mutex_unlock(&eng_mu);
	return ops;
}

static void
eng_refuse(struct pd_result *res)
{
	memset(res, 0, sizeof(*res));
	res->verdict = PD_VERDICT_REFUSED;
	res->reason = PD_REASON_POLICY_UNLOADABLE;
}

void
pd_eng_lookup(const char *name, unsigned want, struct pd_result *res)
{
	const struct pd_engine_ops *ops = eng_get();
	int herr;

	if (ops == NULL) {
		eng_refuse(res);
		return;
	}
	/* libc calls inside the engine must not leak into h_errno. */
	herr = h_errno;
	pd_eng_guard++;
	ops->lookup(name, want, res);
	pd_eng_guard--;
	h_errno = herr;
	/* The builders index addrs[] and print canon: hold them in bounds. */
	if (res->naddrs > PD_MAX_ADDRS)
		res->naddrs = PD_MAX_ADDRS;
	res->canon[PD_CANON_MAX] = '\0';
}

void
pd_eng_filter(const char *name, const struct pd_addr *addrs, unsigned n,
    uint8_t *keep, struct pd_result *res)
{
	const struct pd_engine_ops *ops = eng_get();
	int herr;

	if (ops == NULL) {
		memset(keep, 0, n);
		eng_refuse(res);
		return;
	}
	herr = h_errno;
	pd_eng_guard++;
	ops->filter(name, addrs, n, keep, res);
	pd_eng_guard--;
	h_errno = herr;
}

static void
eng_refuse_dns(struct pd_dnsr *r)
{
	memset(r, 0, sizeof(*r));
	r->verdict = PD_VERDICT_REFUSED;
	r->reason = PD_REASON_POLICY_UNLOADABLE;
}

void
pd_eng_answer(const struct pd_dnsq *q, uint8_t *buf, size_t len,
    struct pd_dnsr *r)
{
	const struct pd_engine_ops *ops = eng_get();
	int herr;

	if (ops == NULL || ops->answer == NULL) {
		eng_refuse_dns(r);
		return;
	}
	herr = h_errno;
	pd_eng_guard++;
	ops->answer(q, buf, len, r);
	pd_eng_guard--;
	h_errno = herr;
}

void
pd_eng_pin_reply(const struct pd_dnsq *q, uint8_t *buf, size_t len,
    size_t cap, struct pd_dnsr *r)
{
	const struct pd_engine_ops *ops = eng_get();
	int herr;

	if (ops == NULL || ops->pin_reply == NULL) {
		eng_refuse_dns(r);
		return;
	}
	herr = h_errno;
	pd_eng_guard++;
	ops->pin_reply(q, buf, len, cap, r);
	pd_eng_guard--;
	h_errno = herr;
}

const struct pd_sock_ops *
pd_eng_sock(void)
{
	const struct pd_engine_ops *ops = eng_get();

	return ops != NULL ? ops->sock : NULL;
}

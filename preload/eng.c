/*
 * pindns preload: loading the engine, the re-entrancy guard, fail closed.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/clock.h"
#include "preload/eng.h"

__thread int pd_eng_guard __attribute__((tls_model("initial-exec")));

/* Between two attempts to load the engine after a failure that may pass. */
#define ENG_RETRY_MS	1000

/*
 * The engine once loaded and started. Until then eng_mu serialises the
 * attempts (the threads of a cold start wait for the first), and
 * eng_retry_ms says when the next may be made: 0 at once, UINT64_MAX
 * never. A load that fails for want of descriptors or memory (dlopen's
 * EMFILE, init's ENOMEM) must not refuse every lookup for the rest of a
 * long-lived worker's life. eng_tab is the table as soon as dlopen gave
 * it (under eng_mu), before the engine is started.
 *
 * fork(): eng_mu is held across the whole load (dlopen and the engine's
 * init). A child forked meanwhile would inherit it held by a thread it
 * does not have (its first lookup would wait for ever), or see the
 * engine half loaded or half started. So our pthread_atfork handler
 * takes eng_mu, and then the engine's locks through the table
 * (fork_prepare; the engine registers no handler of its own when hosted,
 * pd_host.atfork): one order, loader lock first, the order a loading
 * thread takes them in. Had the engine its own handler, glibc would run
 * it before ours (the newer first) and a fork during the load would
 * hold the engine's locks while waiting for eng_mu, which the loading
 * thread holds while it waits for the engine's. Nothing under eng_mu
 * blocks for long: dlopen and init read local files, and the message on
 * stderr (a pipe that may be full) is written after.
 */
static _Atomic(const struct pd_engine_ops *) eng_ops;
static _Atomic(const struct pd_engine_ops *) eng_tab;
static pthread_mutex_t eng_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t eng_retry_ms;
static _Atomic int eng_said;
static pthread_once_t eng_atfork_once = PTHREAD_ONCE_INIT;
static int eng_atfork_rc;

static void
eng_fork_prepare(void)
{
	const struct pd_engine_ops *t;

	(void)pthread_mutex_lock(&eng_mu);
	t = atomic_load_explicit(&eng_tab, memory_order_acquire);
	if (t != NULL && t->fork_prepare != NULL)
		t->fork_prepare();
}

/* After fork(), on either side: the engine's handler, then eng_mu. */
static void
eng_fork_after(bool child)
{
	const struct pd_engine_ops *t;
	void (*fn)(void);

	t = atomic_load_explicit(&eng_tab, memory_order_acquire);
	fn = t == NULL ? NULL : child ? t->fork_child : t->fork_parent;
	if (fn != NULL)
		fn();
	(void)pthread_mutex_unlock(&eng_mu);
}

static void
eng_fork_parent(void)
{
	eng_fork_after(false);
}

static void
eng_fork_child(void)
{
	eng_fork_after(true);
}

/*
 * Registered at the first lookup that needs the engine, before eng_mu is
 * first taken (the preload does nothing in a constructor). A fork() that
 * another thread began before this registration runs without it: a
 * first lookup racing a fork's prepare handlers is not covered.
 */
static void
eng_atfork(void)
{
	eng_atfork_rc = pthread_atfork(eng_fork_prepare, eng_fork_parent,
	    eng_fork_child);
}

/* Why a load failed, said once eng_mu is released. */
struct eng_why {
	const char	*what;
	char		 detail[4200];	/* a path or dlerror() */
	int		 permanent;
};

/* Called by the engine at the start of each thread it creates. */
static void
eng_thread(void)
{
	pd_eng_guard = 1;
}

static const struct pd_host eng_host = {
	.engine_thread = eng_thread,
	.atfork = true,
};

/*
 * One line on stderr, written with write(2): no stdio buffer or lock of
 * the host process is touched. Once per process.
 */
static void
eng_say(const char *what, const char *detail, int permanent)
{
	char line[1024];
	int len;
	ssize_t w;
	size_t off;

	if (atomic_exchange(&eng_said, 1))
		return;

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
 * The directory of the mapping that holds addr, from one line of
 * /proc/self/maps ("LO-HI PERMS OFFSET DEV INODE PATH"). Returns 1 with
 * dir set, 0 when the line is another mapping, -1 when it is this one
 * but names no usable path.
 */
static int
maps_line(const char *line, uintptr_t addr, char *dir, size_t len)
{
	unsigned long lo, hi;
	const char *path, *slash;
	char *end;

	lo = strtoul(line, &end, 16);
	if (*end != '-')
		return 0;
	hi = strtoul(end + 1, &end, 16);
	if (addr < lo || addr >= hi)
		return 0;
	/*
	 * The kernel writes the mapped file's absolute path (a '\n' in it
	 * as "\012": a backslash makes the path ambiguous, so refuse it).
	 */
	if ((path = strchr(end, '/')) == NULL ||
	    (slash = strrchr(path, '/')) == NULL ||
	    memchr(path, '\\', (size_t)(slash - path)) != NULL ||
	    (size_t)(slash - path) >= len)
		return -1;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return 1;
}

/*
 * The absolute directory of the file holding addr, as /proc/self/maps
 * names it. Returns 0, or -1 with errno (ENOENT when not found).
 */
static int
maps_dir(uintptr_t addr, char *dir, size_t len)
{
	char buf[8192], *line, *nl;
	size_t have = 0, rest;
	ssize_t n;
	int fd, rc = 0, e = ENOENT;

	if ((fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while (rc == 0) {
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : ENOENT;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		for (line = buf; rc == 0 && (nl = strchr(line, '\n')) != NULL;
		    line = nl + 1) {
			*nl = '\0';
			rc = maps_line(line, addr, dir, len);
		}
		rest = have - (size_t)(line - buf);
		if (rest == sizeof(buf) - 1)
			break;	/* a line longer than any path */
		memmove(buf, line, rest);
		have = rest;
	}
	(void)close(fd);
	if (rc == 1)
		return 0;
	errno = rc < 0 ? ENOENT : e;
	return -1;
}

/*
 * Path of the engine: beside the file the preload was mapped from, by an
 * absolute path, so that a chdir() before the first lookup changes
 * nothing (the engine is loaded then, not at start). dladdr() names the
 * preload as the dynamic loader was given it: absolute as pindns-exec
 * and /etc/ld.so.preload give it, but LD_PRELOAD=build/libpindns.so
 * stays relative, and would be taken against whatever directory the
 * process is in by then (a libpindns-engine.so planted there would be
 * loaded and its constructor run). A relative name is resolved through
 * /proc/self/maps instead, where the kernel names the mapped file itself.
 * Nothing but the object beside the preload is ever loaded (no search of
 * the library path). Returns 0, or -1 with *permanent set when trying
 * again cannot help, and what says what failed.
 */
static int
eng_path(char *path, size_t len, int *permanent, const char **what)
{
	char dir[4096];
	Dl_info info;
	const char *slash;
	int n;

	*permanent = 1;
	*what = "cannot locate libpindns.so's own directory";
	if (dladdr((void *)eng_path, &info) == 0 || info.dli_fname == NULL)
		return -1;
	slash = strrchr(info.dli_fname, '/');
	if (info.dli_fname[0] == '/' && slash != NULL) {
		n = snprintf(dir, sizeof(dir), "%.*s",
		    (int)(slash - info.dli_fname), info.dli_fname);
		if (n < 0 || (size_t)n >= sizeof(dir))
			return -1;
	} else if (maps_dir((uintptr_t)eng_path, dir, sizeof(dir)) != 0) {
		/* Out of descriptors or memory may pass; the rest not. */
		*permanent = errno != EMFILE && errno != ENFILE &&
		    errno != ENOMEM;
		*what = "libpindns.so was preloaded by a relative path and "
		    "/proc/self/maps does not say where it is (preload it "
		    "by an absolute path)";
		return -1;
	}
	n = snprintf(path, len, "%s/%s", dir, PD_ENGINE_SONAME);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

/*
 * One attempt, under eng_mu. Returns the table, or NULL with why filled
 * (permanent when trying again cannot help: the object is not ours).
 */
static const struct pd_engine_ops *
eng_load(struct eng_why *why)
{
	char path[4096];
	struct pd_engine_cfg cfg;
	const struct pd_engine_ops *ops;
	const char *err;
	void *h;

	if ((ops = atomic_load_explicit(&eng_tab, memory_order_acquire)) !=
	    NULL)
		goto start;	/* loaded before; its init failed */
	if (eng_path(path, sizeof(path), &why->permanent, &err) != 0) {
		why->what = err;
		return NULL;
	}
	why->permanent = 0;
	/* Fails for good (no such file) or for now (EMFILE, ENOMEM). */
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		err = dlerror();
		why->what = "cannot load the engine";
		(void)snprintf(why->detail, sizeof(why->detail), "%s",
		    err != NULL ? err : path);
		return NULL;
	}
	ops = dlsym(h, PD_ENGINE_SYMBOL);
	if (ops == NULL || ops->abi != PD_ENGINE_ABI || ops->init == NULL ||
	    ops->lookup == NULL || ops->filter == NULL || ops->claims == NULL) {
		/* Keep h mapped: unloading a half-used engine is never safe. */
		why->what = "the engine has no usable " PD_ENGINE_SYMBOL
		    " table (ABI mismatch)";
		(void)snprintf(why->detail, sizeof(why->detail), "%s", path);
		why->permanent = 1;
		return NULL;
	}
	/* From here on a fork() takes the engine's locks too. */
	atomic_store_explicit(&eng_tab, ops, memory_order_release);
start:
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = &eng_host;
	/* init is idempotent: a retry after out of memory is safe. */
	if (ops->init(&cfg) != 0) {
		why->what = "the engine failed to start";
		(void)snprintf(why->detail, sizeof(why->detail),
		    "out of memory");
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
	struct eng_why why;
	uint64_t due;
	int herr;

	ops = atomic_load_explicit(&eng_ops, memory_order_acquire);
	if (ops != NULL)
		return ops;
	due = atomic_load_explicit(&eng_retry_ms, memory_order_relaxed);
	if (due != 0 && pd_clock_ms() < due)
		return NULL;
	(void)pthread_once(&eng_atfork_once, eng_atfork);
	if (eng_atfork_rc != 0) {
		/* A child forked during the load could hang: no load. */
		atomic_store_explicit(&eng_retry_ms, UINT64_MAX,
		    memory_order_relaxed);
		eng_say("cannot register fork handlers", "out of memory", 1);
		return NULL;
	}
	memset(&why, 0, sizeof(why));
	(void)pthread_mutex_lock(&eng_mu);
	ops = atomic_load_explicit(&eng_ops, memory_order_acquire);
	due = atomic_load_explicit(&eng_retry_ms, memory_order_relaxed);
	if (ops == NULL && (due == 0 || pd_clock_ms() >= due)) {
		herr = h_errno;
		pd_eng_guard++;
		ops = eng_load(&why);
		pd_eng_guard--;
		h_errno = herr;
		if (ops != NULL)
			atomic_store_explicit(&eng_ops, ops,
			    memory_order_release);
		else
			atomic_store_explicit(&eng_retry_ms, why.permanent ?
			    UINT64_MAX : pd_clock_ms() + ENG_RETRY_MS,
			    memory_order_relaxed);
	}
	(void)pthread_mutex_unlock(&eng_mu);
	if (ops == NULL && why.what != NULL)
		eng_say(why.what, why.detail[0] != '\0' ? why.detail : NULL,
		    why.permanent);
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

int
pd_eng_claims(const char *name)
{
	const struct pd_engine_ops *ops = eng_get();
	int herr, r;

	if (ops == NULL)
		return 1;	/* fail closed: the lookup will be refused */
	herr = h_errno;
	pd_eng_guard++;
	r = ops->claims(name);
	pd_eng_guard--;
	h_errno = herr;
	return r;
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

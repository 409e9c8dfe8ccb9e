/*
 * pindns engine: find the getdns backend. libpindns-dot.so lives beside
 * libpindns-engine.so; it is loaded on the first lookup that needs the
 * network, so processes that only pass names to libc never map getdns or
 * OpenSSL.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "resolver/dot/dot.h"

static const struct pd_dot_ops *dot_ops;
static char dot_err[4400];
static pthread_once_t dot_once = PTHREAD_ONCE_INIT;

static void
dot_load(void)
{
	Dl_info info;
	char path[4096];
	const char *slash;
	void *h;
	const struct pd_dot_ops *ops;

	if (dladdr((void *)dot_load, &info) == 0 || info.dli_fname == NULL) {
		snprintf(dot_err, sizeof(dot_err),
		    "cannot locate the engine's own directory");
		return;
	}
	slash = strrchr(info.dli_fname, '/');
	if (slash == NULL)
		snprintf(path, sizeof(path), "./%s", PD_DOT_SONAME);
	else if ((size_t)snprintf(path, sizeof(path), "%.*s/%s",
	    (int)(slash - info.dli_fname), info.dli_fname, PD_DOT_SONAME) >=
	    sizeof(path)) {
		snprintf(dot_err, sizeof(dot_err), "engine path too long");
		return;
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		snprintf(dot_err, sizeof(dot_err), "%s", dlerror());
		return;
	}
	ops = dlsym(h, PD_DOT_SYMBOL);
	if (ops == NULL || ops->abi != PD_DOT_ABI) {
		snprintf(dot_err, sizeof(dot_err), "%s: no %s (ABI %d)", path,
		    PD_DOT_SYMBOL, PD_DOT_ABI);
		return;	/* keep h mapped: unloading getdns is never safe */
	}
	dot_ops = ops;
}

const struct pd_dot_ops *
pd_dot_get(char *err, size_t errlen)
{
	(void)pthread_once(&dot_once, dot_load);
	if (dot_ops == NULL && err != NULL)
		snprintf(err, errlen, "%s", dot_err);
	return dot_ops;
}

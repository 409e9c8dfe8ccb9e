/*
 * pindns DoT backend: its exported table, and pd_dot_get() for programs
 * that link the backend statically (CLI, tests).
 */
#include <pthread.h>
#include <stdio.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/wire.h"
#include "resolver/dot/worker.h"

static char version[80];
static pthread_once_t version_once = PTHREAD_ONCE_INIT;

static void
version_init(void)
{
	snprintf(version, sizeof(version), "getdns %s (API %s)",
	    getdns_get_version(), getdns_get_api_version());
}

static const char *
dot_version(void)
{
	(void)pthread_once(&version_once, version_init);
	return version;
}

__attribute__((visibility("default"))) const struct pd_dot_ops
    pindns_dot_v1 = {
	.abi = PD_DOT_ABI,
	.new = pd_dot_new,
	.free = pd_dot_free,
	.resolve = pd_dot_resolve,
	.resolve_async = pd_dot_resolve_async,
	.check_anchors = pd_dot_check_anchors,
	.wire_build = pd_wire_build,
	.wire_addrs = pd_wire_addrs,
	.wire_keep = pd_wire_keep,
	.wire_query = pd_wire_query,
	.version = dot_version,
};

const struct pd_dot_ops *
pd_dot_get(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return &pindns_dot_v1;
}

/* Linked in: there is no load to wait for. */
void
pd_dot_lock(void)
{
}

void
pd_dot_unlock(void)
{
}

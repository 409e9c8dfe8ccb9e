/*
 * pindns DoT backend: its exported table, and pd_dot_get() for programs
 * that link the backend statically (CLI, tests).
 */
#include <stdio.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/worker.h"

static const char *
dot_version(void)
{
	static char v[80];

	/* Written once with the same bytes whichever thread gets here. */
	if (v[0] == '\0')
		snprintf(v, sizeof(v), "getdns %s (API %s)",
		    getdns_get_version(), getdns_get_api_version());
	return v;
}

__attribute__((visibility("default"))) const struct pd_dot_ops
    pindns_dot_v1 = {
	.abi = PD_DOT_ABI,
	.new = pd_dot_new,
	.free = pd_dot_free,
	.resolve = pd_dot_resolve,
	.resolve_async = pd_dot_resolve_async,
	.check_anchors = pd_dot_check_anchors,
	.version = dot_version,
};

const struct pd_dot_ops *
pd_dot_get(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return &pindns_dot_v1;
}

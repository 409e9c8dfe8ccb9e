/*
 * pindns DoT backend: its exported table, and pd_dot_get() for programs
 * that link the backend statically (CLI, tests).
 */
#include <stdio.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/dot.h"

static const char *
dot_version(void)
{
	return getdns_get_version();
}

__attribute__((visibility("default"))) const struct pd_dot_ops
    pindns_dot_v1 = {
	.abi = PD_DOT_ABI,
	.version = dot_version,
};

const struct pd_dot_ops *
pd_dot_get(char *err, size_t errlen)
{
	return &pindns_dot_v1;
}

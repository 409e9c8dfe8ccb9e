/*
 * pindns engine front. Foundation skeleton: the policy, cache and verdicts
 * land with the policy and resolver issues; until then every name is
 * passed to libc unchanged.
 */
#include <string.h>

#include "resolver/engine.h"

int
pd_engine_init(const struct pd_engine_cfg *cfg)
{
	return 0;
}

void
pd_engine_lookup(const char *name, unsigned want, struct pd_result *res,
    struct pd_explain *ex)
{
	memset(res, 0, sizeof(*res));
	res->verdict = PD_VERDICT_SYSTEM;
}

void
pd_engine_filter(const char *name, const struct pd_addr *addrs, unsigned n,
    uint8_t *keep, struct pd_result *res)
{
	memset(keep, 1, n);
	memset(res, 0, sizeof(*res));
	res->verdict = PD_VERDICT_ACCEPTED;
}

void
pd_engine_shutdown(void)
{
}

static void
ops_lookup(const char *name, unsigned want, struct pd_result *res)
{
	pd_engine_lookup(name, want, res, NULL);
}

__attribute__((visibility("default"))) const struct pd_engine_ops
    pindns_engine_v1 = {
	.abi = PD_ENGINE_ABI,
	.init = pd_engine_init,
	.lookup = ops_lookup,
	.filter = pd_engine_filter,
};

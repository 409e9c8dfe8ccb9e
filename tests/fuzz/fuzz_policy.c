/*
 * libFuzzer target: the policy loader (pd_policy_parse) on arbitrary
 * bytes, and on success the matcher and the pin index on names and
 * addresses taken from the same input. Built by `make fuzz-build` with
 * ASan and UBSan; `make fuzz` runs it, tests/integration/39-fuzz-replay.sh
 * replays the corpus in `make test`.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_policy *p = NULL;
	struct pd_error e;
	const struct pd_rule *r;
	struct pd_addr a;
	char name[PD_NAME_MAX + 64], norm[PD_NAME_MAX + 1];
	size_t n, i;
	int len;

	if (pd_policy_parse("fuzz.yaml", data, size, &p, &e) != PD_OK) {
		/* Every refusal says where and why. */
		if (e.msg[0] == '\0' || memchr(e.msg, '\0', sizeof(e.msg)) ==
		    NULL)
			__builtin_trap();
		return 0;
	}
	/* Use the tail of the input as a name and an address. */
	n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data + size - n, n);
	name[n] = '\0';
	if ((len = pd_name_normalize(name, norm)) >= 0) {
		r = pd_policy_match(p, norm, (size_t)len);
		if (r == NULL || !pd_rule_cname_ok(p, r, norm, (size_t)len))
			__builtin_trap();	/* a name passes its own rule */
	}
	memset(&a, 0, sizeof(a));
	for (i = 0; i < p->nrules; i++) {
		a.family = (i & 1) ? 10 : 2;	/* AF_INET6, AF_INET */
		memcpy(a.addr, data, size < 16 ? size : 16);
		(void)pd_pins_contains(p->rules[i].pins, &a);
	}
	pd_policy_free(p);
	return 0;
}

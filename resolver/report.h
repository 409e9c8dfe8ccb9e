/*
 * pindns report mode (issue 17, part 3): a rule (or the whole policy) with
 * `mode: report` is resolved and judged exactly as in enforce mode, but
 * the two refusals a wrong policy causes, addresses outside the pins
 * (outside-pin) and a CNAME chain leaving the rule's names
 * (cname-escape), are answered instead: with the DoT answer for `secure`
 * rules, with libc's addresses for `system` rules with pins, never from
 * another source. Such a result is ACCEPTED with the refusal's reason
 * kept (pd_result_would_refuse()): logged as verdict would-refuse, never
 * cached (so it cannot outlive the policy, nor be served stale).
 *
 * Never turned into answers: bogus, insecure, tls-auth, deny-rule and
 * policy-unloadable. Those are attacks on the transport or explicit
 * denials, not a pin list being trialled.
 */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include "policy/policy.h"
#include "resolver/dot/dot.h"
#include "resolver/engine.h"

/*
 * After pd_verdict_judge's own checks: when r is in report mode and res
 * is an outside-pin or cname-escape refusal, make res the answer f gave
 * (every address of the wanted families, A first) with the reason kept,
 * and say so in ex->detail. No address to give: res stays refused.
 */
void pd_report_judge(const struct pd_rule *r, const char *qname,
    unsigned want, const struct pd_dot_result *f, struct pd_result *res,
    struct pd_explain *ex);

/*
 * After pd_verdict_pins: the same for a `system` rule with pins: every
 * address kept (keep[i] = 1), res ACCEPTED with reason outside-pin.
 */
void pd_report_pins(const struct pd_rule *r, const struct pd_addr *addrs,
    unsigned n, uint8_t *keep, struct pd_result *res);

/*
 * The one line on stderr per process (a forked child prints its own) at
 * its first lookup under a policy with any rule in report mode, naming
 * the rules. No-op for a policy without report mode. Thread-safe.
 */
void pd_report_notice(const struct pd_policy *p);

/*
 * The names of p's rules in report mode, comma-separated, into out
 * ("default" for the default rule; cut with "..." when out is short).
 * Returns how many rules are in report mode.
 */
unsigned pd_report_rules(const struct pd_policy *p, char *out, size_t size);

#endif /* PD_REPORT_H */

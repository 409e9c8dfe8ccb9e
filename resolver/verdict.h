/*
 * pindns verdicts (SPEC §4; issue 4, items 2 and 3): hold what the backend
 * or the policy says about a name against the rule that claims it.
 *
 * Pure functions: no I/O, no clock, no global state; the policy is read
 * only through pd_rule_cname_ok() and pd_pins_contains(). Every outcome a
 * lookup can have is decided here, so the table in pindns.yaml(5)
 * (man/pindns.yaml.5, VERDICTS) is this file, and
 * tests/unit/test_verdict_table.c walks every row.
 */
#ifndef PD_VERDICT_H
#define PD_VERDICT_H

#include <stdint.h>

#include "policy/policy.h"
#include "resolver/dot/dot.h"
#include "resolver/engine.h"

/*
 * Judge the facts f the backend reported for the normalised name qname
 * and families want, under rule r of policy p. Fills all of *res. When ex
 * is not NULL, fills ex->dnssec, upstream, nseen/seen/seen_ok (A then
 * AAAA, as the upstream gave them), nchain/chain (of the answer that gave
 * the addresses) and detail; the caller owns the other fields.
 *
 * In order: TLS authentication failure refuses (tls-auth); a timeout or an
 * unreachable upstream fails (timeout, unreachable); a backend error, or a
 * family asked but not answered, refuses (insecure: the answer's
 * authenticity could not be established); any BOGUS answer refuses the
 * whole lookup (bogus); an rcode other than NOERROR/NXDOMAIN fails
 * (unreachable: the upstream could not answer); `dnssec: required` with
 * any answer not SECURE refuses (insecure); a chain that does not start
 * at qname refuses (bogus); a chain name the rule does not allow refuses
 * (cname-escape); no address left makes the name absent (nxdomain when
 * the upstream said so, else nodata); pins drop (filter) or refuse
 * (strict) addresses outside them, and refuse when none is left
 * (outside-pin); strict also refuses an answer with more addresses than
 * PD_MAX_ADDRS (those were never checked); what remains is accepted.
 */
void pd_verdict_judge(const struct pd_policy *p, const struct pd_rule *r,
    const char *qname, unsigned want, const struct pd_dot_result *f,
    struct pd_result *res, struct pd_explain *ex);

/*
 * A `static` rule: its addresses of the wanted families (IPv4 first, each
 * in file order) with its ttl, canon = qname; ABSENT nodata when none is
 * of a wanted family. Fills all of *res and, when ex is not NULL, dnssec
 * ("off"), seen/seen_ok, chain (qname) and detail.
 */
void pd_verdict_static(const struct pd_rule *r, const char *qname,
    unsigned want, struct pd_result *res, struct pd_explain *ex);

/*
 * A `system` rule with pins, after libc answered addrs[0..n-1]: sets
 * keep[i] to 1 or 0 and *res to ACCEPTED (addrs[] the kept ones) or
 * REFUSED outside-pin (filter: none kept; strict: any outside). When ex
 * is not NULL fills seen/seen_ok and detail.
 */
void pd_verdict_pins(const struct pd_rule *r, const struct pd_addr *addrs,
    unsigned n, uint8_t *keep, struct pd_result *res, struct pd_explain *ex);

/* "off", "secure", "insecure", "indeterminate", "bogus" (SPEC §7). */
const char *pd_sec_str(enum pd_sec s);

#endif /* PD_VERDICT_H */

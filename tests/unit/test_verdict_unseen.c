/*
 * Verdicts on answers larger than what the engine carries (issue 8, the
 * 500-record and 64 KiB floods): the backend keeps at most PD_MAX_ADDRS
 * addresses per family and says so (truncated), and the verdict holds at
 * most PD_MAX_ADDRS over both families. `pin_mode: strict` promises that
 * one address outside the pins fails the lookup (SPEC §3), which cannot
 * be kept for addresses nobody looked at: such an answer is refused.
 * `filter` hands out the pinned addresses it saw, as before.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "resolver/verdict.h"
#include "tests/unit/tap.h"

static const char yaml[] =
    "version: 1\n"
    "upstream_recursive_servers:\n"
    "  - address_data: 127.0.0.1\n"
    "    tls_auth_name: dot.lab.test\n"
    "rules:\n"
    "  - name: filter\n"
    "    match: [filter.example.com]\n"
    "    action: secure\n"
    "    dnssec: \"off\"\n"
    "    pin: [127.0.10.0/24, \"2001:db8:10::/48\"]\n"
    "  - name: strict\n"
    "    match: [strict.example.com]\n"
    "    action: secure\n"
    "    dnssec: \"off\"\n"
    "    pin: [127.0.10.0/24, \"2001:db8:10::/48\"]\n"
    "    pin_mode: strict\n";

static struct pd_policy *pol;

static const struct pd_rule *
rule(const char *name)
{
	size_t i;

	for (i = 0; i < pol->nrules; i++)
		if (strcmp(pol->rules[i].name, name) == 0)
			return &pol->rules[i];
	return NULL;
}

/* n addresses of family fam, all inside the pins. */
static void
fill(struct pd_dot_rrset *s, const char *qname, int fam, unsigned n,
    bool truncated)
{
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->asked = true;
	s->sec = PD_SEC_OFF;
	s->ttl = 60;
	s->nchain = 1;
	(void)snprintf(s->chain[0], sizeof(s->chain[0]), "%s", qname);
	for (i = 0; i < n && i < PD_MAX_ADDRS; i++) {
		struct pd_addr *a = &s->addrs[s->naddrs++];

		memset(a, 0, sizeof(*a));
		a->family = fam;
		if (fam == AF_INET)
			(void)inet_pton(AF_INET, "127.0.10.0", a->addr);
		else
			(void)inet_pton(AF_INET6, "2001:db8:10::", a->addr);
		a->addr[fam == AF_INET ? 3 : 15] = (uint8_t)i;
	}
	s->truncated = truncated;
}

static void
judge(const char *rname, const char *q, unsigned want,
    const struct pd_dot_result *f, struct pd_result *res)
{
	const struct pd_rule *r = rule(rname);

	if (r == NULL) {
		T_OK(0, "rule %s in the test policy", rname);
		memset(res, 0, sizeof(*res));
		return;
	}
	pd_verdict_judge(pol, r, q, want, f, res, NULL);
}

#define VERDICT(res, v, r, what) do {					\
	T_EQ_STR(pd_verdict_str((res).verdict), pd_verdict_str(v),	\
	    "%s: verdict", what);					\
	T_EQ_STR(pd_reason_str((res).reason), pd_reason_str(r),		\
	    "%s: reason", what);					\
} while (0)

int
main(void)
{
	struct pd_error err;
	struct pd_dot_result f;
	struct pd_result res;

	memset(&err, 0, sizeof(err));
	if (pd_policy_parse("unseen.yaml", (const uint8_t *)yaml,
	    sizeof(yaml) - 1, &pol, &err) != PD_OK) {
		T_OK(0, "test policy parses: %s", err.msg);
		return t_done();
	}
	memset(&f, 0, sizeof(f));
	f.status = PD_DOT_OK;

	/* Controls: everything seen and inside the pins. */
	fill(&f.a, "strict.example.com", AF_INET, PD_MAX_ADDRS, false);
	judge("strict", "strict.example.com", PD_WANT_A, &f, &res);
	VERDICT(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "strict, 64 pinned A records, none dropped");
	T_EQ_INT(res.naddrs, PD_MAX_ADDRS, "strict: all 64 handed out");

	/* The upstream sent more A records than the backend kept. */
	fill(&f.a, "strict.example.com", AF_INET, PD_MAX_ADDRS, true);
	judge("strict", "strict.example.com", PD_WANT_A, &f, &res);
	VERDICT(res, PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "strict, more A records than carried (unchecked ones may lie "
	    "outside the pins)");
	T_EQ_INT(res.naddrs, 0, "strict refusal hands out nothing");
	fill(&f.a, "filter.example.com", AF_INET, PD_MAX_ADDRS, true);
	judge("filter", "filter.example.com", PD_WANT_A, &f, &res);
	VERDICT(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "filter, more A records than carried: the pinned ones seen");
	T_EQ_INT(res.naddrs, PD_MAX_ADDRS, "filter: 64 handed out");

	/* Both families fit alone, not together: the AAAA go unseen. */
	fill(&f.a, "strict.example.com", AF_INET, PD_MAX_ADDRS, false);
	fill(&f.aaaa, "strict.example.com", AF_INET6, 8, false);
	judge("strict", "strict.example.com", PD_WANT_A | PD_WANT_AAAA, &f,
	    &res);
	VERDICT(res, PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "strict, 64 A + 8 AAAA: 8 addresses never checked");
	fill(&f.a, "strict.example.com", AF_INET, PD_MAX_ADDRS - 8, false);
	judge("strict", "strict.example.com", PD_WANT_A | PD_WANT_AAAA, &f,
	    &res);
	VERDICT(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "strict, 56 A + 8 AAAA: every address checked");
	T_EQ_INT(res.naddrs, PD_MAX_ADDRS, "strict: 64 handed out");
	fill(&f.a, "filter.example.com", AF_INET, PD_MAX_ADDRS, false);
	fill(&f.aaaa, "filter.example.com", AF_INET6, 8, false);
	judge("filter", "filter.example.com", PD_WANT_A | PD_WANT_AAAA, &f,
	    &res);
	VERDICT(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "filter, 64 A + 8 AAAA: the first 64 pinned");

	/* A truncated family not asked for does not matter. */
	fill(&f.a, "strict.example.com", AF_INET, 4, false);
	fill(&f.aaaa, "strict.example.com", AF_INET6, PD_MAX_ADDRS, true);
	judge("strict", "strict.example.com", PD_WANT_A, &f, &res);
	VERDICT(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "strict, A asked, the unasked AAAA truncated");
	pd_policy_free(pol);
	return t_done();
}

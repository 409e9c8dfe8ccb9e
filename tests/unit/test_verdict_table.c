/*
 * The verdict table (resolver/verdict.c): every row of SPEC §4 and of the
 * engine brief, fed hand-built backend facts, against rules of a policy
 * parsed from YAML with the real loader.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
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
    "  - name: ddb\n"
    "    match: [dynamodb.*.amazonaws.com]\n"
    "    action: secure\n"
    "    pin: [127.0.10.0/24, \"2001:db8:10::/48\"]\n"
    "    cname: [\"**.amazonaws.com\"]\n"
    "  - name: strict\n"
    "    match: [strict.example.com]\n"
    "    action: secure\n"
    "    pin: [127.0.10.0/24]\n"
    "    pin_mode: strict\n"
    "  - name: req\n"
    "    match: [req.example.com]\n"
    "    action: secure\n"
    "    dnssec: required\n"
    "  - name: off\n"
    "    match: [off.example.com]\n"
    "    action: secure\n"
    "    dnssec: \"off\"\n"
    "  - name: nopin\n"
    "    match: [nopin.example.com, \"*.alias.example.com\"]\n"
    "    action: secure\n"
    "  - name: st\n"
    "    match: [static.test]\n"
    "    action: static\n"
    "    addresses: [192.0.2.1, \"2001:db8::1\", 192.0.2.2]\n"
    "    ttl: 30\n"
    "  - name: st4\n"
    "    match: [static4.test]\n"
    "    action: static\n"
    "    addresses: [192.0.2.4]\n"
    "  - name: sys\n"
    "    match: [sys.example.com]\n"
    "    action: system\n"
    "    pin: [10.0.0.0/8]\n"
    "  - name: sysstrict\n"
    "    match: [syss.example.com]\n"
    "    action: system\n"
    "    pin: [10.0.0.0/8]\n"
    "    pin_mode: strict\n";

static struct pd_policy *pol;

static const struct pd_rule *
rule(const char *name)
{
	size_t i;

	for (i = 0; i < pol->nrules; i++)
		if (strcmp(pol->rules[i].name, name) == 0)
			return &pol->rules[i];
	printf("not ok - rule %s in the test policy\n", name);
	exit(1);
}

static struct pd_addr
ad(const char *s)
{
	struct pd_addr a;

	memset(&a, 0, sizeof(a));
	a.family = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	(void)inet_pton(a.family, s, a.addr);
	return a;
}

/* One family's answer: rcode, sec, ttl, then addresses until NULL. */
static void
rr(struct pd_dot_rrset *s, const char *qname, int rcode, enum pd_sec sec,
    uint32_t ttl, const char *a1, const char *a2)
{
	memset(s, 0, sizeof(*s));
	s->asked = true;
	s->rcode = rcode;
	s->sec = sec;
	s->ttl = ttl;
	s->nchain = 1;
	(void)snprintf(s->chain[0], sizeof(s->chain[0]), "%s", qname);
	if (a1 != NULL)
		s->addrs[s->naddrs++] = ad(a1);
	if (a2 != NULL)
		s->addrs[s->naddrs++] = ad(a2);
}

static void
chain(struct pd_dot_rrset *s, const char *next)
{
	(void)snprintf(s->chain[s->nchain++], sizeof(s->chain[0]), "%s", next);
}

static void
facts(struct pd_dot_result *f, enum pd_dot_status st)
{
	memset(f, 0, sizeof(*f));
	f->status = st;
	(void)snprintf(f->upstream, sizeof(f->upstream), "127.0.0.1:853");
	(void)snprintf(f->detail, sizeof(f->detail), "detail");
}

static struct pd_result res;
static struct pd_explain ex;

static void
judge(const char *rname, const char *q, unsigned want,
    const struct pd_dot_result *f)
{
	memset(&ex, 0, sizeof(ex));
	pd_verdict_judge(pol, rule(rname), q, want, f, &res, &ex);
}

#define VERDICT(v, r, what) do {					\
	T_EQ_STR(pd_verdict_str(res.verdict), pd_verdict_str(v),	\
	    "%s: verdict", what);					\
	T_EQ_STR(pd_reason_str(res.reason), pd_reason_str(r),		\
	    "%s: reason", what);					\
} while (0)

static void
rows_transport(void)
{
	struct pd_dot_result f;
	const char *q = "dynamodb.us-east-1.amazonaws.com";

	facts(&f, PD_DOT_TLS_AUTH);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_TLS_AUTH, "TLS auth failure");
	T_EQ_STR(ex.upstream, "127.0.0.1:853", "explain names the upstream");
	facts(&f, PD_DOT_TIMEOUT);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_FAILED, PD_REASON_TIMEOUT, "timeout");
	facts(&f, PD_DOT_UNREACHABLE);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_FAILED, PD_REASON_UNREACHABLE, "unreachable");
	facts(&f, PD_DOT_ERROR);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_POLICY_UNLOADABLE,
	    "backend error");
	T_OK(strstr(ex.detail, "detail") != NULL,
	    "backend error detail carried: %s", ex.detail);

	facts(&f, PD_DOT_OK);
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "127.0.10.1", NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_INSECURE,
	    "a family asked but not answered");
	rr(&f.aaaa, q, 2, PD_SEC_INSECURE, 0, NULL, NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_FAILED, PD_REASON_UNREACHABLE,
	    "SERVFAIL is a temporary failure");
	T_OK(strstr(ex.detail, "SERVFAIL") != NULL, "detail: %s", ex.detail);
	rr(&f.aaaa, q, 5, PD_SEC_INSECURE, 0, NULL, NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_FAILED, PD_REASON_UNREACHABLE,
	    "REFUSED rcode is a temporary failure");
}

static void
rows_dnssec(void)
{
	struct pd_dot_result f;
	const char *q = "dynamodb.eu-west-1.amazonaws.com";

	facts(&f, PD_DOT_OK);
	rr(&f.a, q, 0, PD_SEC_BOGUS, 300, "127.0.66.6", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, "2001:db8:10::5", NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_BOGUS,
	    "bogus A with a secure AAAA refuses the whole lookup");
	T_EQ_STR(ex.dnssec, "bogus", "explain dnssec bogus");
	T_EQ_INT(res.naddrs, 0, "nothing handed out");
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "127.0.10.5", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_BOGUS, 300, "2001:db8:10::5", NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_BOGUS, "bogus AAAA alone");
	judge("ddb", q, PD_WANT_A, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "bogus AAAA not asked for: A accepted");
	rr(&f.a, q, 2, PD_SEC_BOGUS, 0, NULL, NULL);
	judge("ddb", q, PD_WANT_A, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_BOGUS,
	    "bogus wins over a failure rcode");

	q = "req.example.com";
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "192.0.2.7", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	judge("req", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE, "required + secure");
	T_EQ_STR(ex.dnssec, "secure", "explain dnssec secure");
	rr(&f.aaaa, q, 0, PD_SEC_INSECURE, 300, NULL, NULL);
	judge("req", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_INSECURE,
	    "required + an insecure (NODATA) AAAA");
	rr(&f.aaaa, q, 0, PD_SEC_INDETERMINATE, 300, NULL, NULL);
	judge("req", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_INSECURE,
	    "required + indeterminate");
	T_EQ_STR(ex.dnssec, "indeterminate", "explain dnssec indeterminate");
	rr(&f.a, q, 3, PD_SEC_INSECURE, 300, NULL, NULL);
	rr(&f.aaaa, q, 3, PD_SEC_INSECURE, 300, NULL, NULL);
	judge("req", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_INSECURE,
	    "required + unproven NXDOMAIN");

	q = "nopin.example.com";
	rr(&f.a, q, 0, PD_SEC_INSECURE, 300, "192.0.2.8", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_INDETERMINATE, 300, NULL, NULL);
	judge("nopin", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "validate accepts insecure and indeterminate");
	T_EQ_STR(ex.dnssec, "indeterminate", "worst status reported");

	q = "off.example.com";
	rr(&f.a, q, 0, PD_SEC_OFF, 300, "192.0.2.9", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_OFF, 300, NULL, NULL);
	judge("off", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE, "dnssec off");
	T_EQ_STR(ex.dnssec, "off", "explain dnssec off");
}

static void
rows_chain(void)
{
	struct pd_dot_result f;
	const char *q = "dynamodb.ap-south-1.amazonaws.com";

	facts(&f, PD_DOT_OK);
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "127.0.66.6", NULL);
	chain(&f.a, "evil.example.net");
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	chain(&f.aaaa, "evil.example.net");
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_CNAME_ESCAPE,
	    "CNAME out of the zone (reported SECURE) refused");
	T_EQ_INT(ex.nchain, 2, "explain shows the chain");
	T_EQ_STR(ex.chain[1], "evil.example.net", "explain chain end");

	q = "dynamodb.eu-central-1.amazonaws.com";
	rr(&f.a, q, 0, PD_SEC_SECURE, 120, "127.0.10.7", NULL);
	chain(&f.a, "ddb-edge.eu-central-1.amazonaws.com");
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 60, NULL, NULL);
	chain(&f.aaaa, "ddb-edge.eu-central-1.amazonaws.com");
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "in-zone CNAME (cname: **.amazonaws.com) accepted");
	T_EQ_STR(res.canon, "ddb-edge.eu-central-1.amazonaws.com",
	    "canonical name is the end of the chain");
	T_EQ_INT(res.ttl, 60,
	    "TTL: min of the A TTL and the AAAA negative TTL");

	q = "nopin.example.com";
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "192.0.2.1", NULL);
	chain(&f.a, "x.alias.example.com");
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	judge("nopin", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "chain through the rule's own match patterns allowed");
	chain(&f.a, "cdn.example.org");
	judge("nopin", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_CNAME_ESCAPE,
	    "rule without cname: a foreign name refused");

	rr(&f.a, "other.amazonaws.com", 0, PD_SEC_SECURE, 300, "127.0.10.1",
	    NULL);
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	judge("nopin", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_BOGUS,
	    "an answer for another name is refused");

	q = "dynamodb.us-east-1.amazonaws.com";
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "127.0.10.1", NULL);
	f.a.nchain = PD_DOT_MAX_CHAIN + 1;
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_BOGUS,
	    "impossible chain length refused");
}

static void
rows_absent(void)
{
	struct pd_dot_result f;
	const char *q = "dynamodb.xx-none-1.amazonaws.com";

	facts(&f, PD_DOT_OK);
	rr(&f.a, q, 3, PD_SEC_SECURE, 900, NULL, NULL);
	rr(&f.aaaa, q, 3, PD_SEC_SECURE, 600, NULL, NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_ABSENT, PD_REASON_NXDOMAIN, "NXDOMAIN");
	T_EQ_INT(res.ttl, 600, "negative TTL is the smallest");
	T_EQ_INT(res.naddrs, 0, "no address");

	q = "dynamodb.eu-north-1.amazonaws.com";
	rr(&f.a, q, 0, PD_SEC_SECURE, 300, NULL, NULL);
	rr(&f.aaaa, q, 0, PD_SEC_SECURE, 300, "2001:db8:10::6", NULL);
	judge("ddb", q, PD_WANT_A, &f);
	VERDICT(PD_VERDICT_ABSENT, PD_REASON_NODATA,
	    "no A for an IPv6-only name: NODATA");
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "AF_UNSPEC for an IPv6-only name: the AAAA");
	T_EQ_INT(res.naddrs, 1, "one address");
	T_EQ_INT(res.addrs[0].family, AF_INET6, "and it is IPv6");

	rr(&f.a, q, 0, PD_SEC_SECURE, 300, "2001:db8:10::66", NULL);
	judge("ddb", q, PD_WANT_A, &f);
	VERDICT(PD_VERDICT_ABSENT, PD_REASON_NODATA,
	    "an IPv6 address in the A answer is not taken");
}

static void
rows_pins(void)
{
	struct pd_dot_result f;
	const char *q = "dynamodb.us-west-1.amazonaws.com";

	facts(&f, PD_DOT_OK);
	rr(&f.a, q, 0, PD_SEC_INSECURE, 300, "127.0.10.8", "127.0.99.8");
	rr(&f.aaaa, q, 0, PD_SEC_INSECURE, 200, "2001:db8:10::8",
	    "2001:db8:99::8");
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE,
	    "filter: off-pin addresses dropped, the rest accepted");
	T_EQ_INT(res.naddrs, 2, "two kept");
	T_OK(res.addrs[0].family == AF_INET && res.addrs[0].addr[2] == 10,
	    "A first");
	T_OK(res.addrs[1].family == AF_INET6, "then AAAA");
	T_EQ_INT(res.ttl, 200, "TTL: min over the families");
	T_EQ_INT(ex.nseen, 4, "explain sees all four");
	T_OK(ex.seen_ok[0] && !ex.seen_ok[1] && ex.seen_ok[2] &&
	    !ex.seen_ok[3], "explain marks the dropped ones");
	T_EQ_STR(res.canon, q, "canonical name without CNAME: the name");

	q = "dynamodb.us-west-2.amazonaws.com";
	rr(&f.a, q, 0, PD_SEC_INSECURE, 300, "127.0.99.9", NULL);
	rr(&f.aaaa, q, 0, PD_SEC_INSECURE, 300, NULL, NULL);
	judge("ddb", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "filter: none left refuses");

	q = "strict.example.com";
	rr(&f.a, q, 0, PD_SEC_INSECURE, 300, "127.0.10.8", "127.0.99.8");
	rr(&f.aaaa, q, 0, PD_SEC_INSECURE, 300, NULL, NULL);
	judge("strict", q, 3, &f);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "strict: one outside refuses");
	T_OK(!ex.seen_ok[0] && !ex.seen_ok[1],
	    "strict refusal accepts nothing");
	rr(&f.a, q, 0, PD_SEC_INSECURE, 300, "127.0.10.8", "127.0.10.9");
	judge("strict", q, 3, &f);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE, "strict: all inside");
	T_EQ_INT(res.naddrs, 2, "both kept");
}

static void
rows_static(void)
{
	pd_verdict_static(rule("st"), "static.test", 3, &res, &ex);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE, "static answer");
	T_EQ_INT(res.naddrs, 3, "every address");
	T_OK(res.addrs[0].family == AF_INET && res.addrs[0].addr[3] == 1 &&
	    res.addrs[1].family == AF_INET && res.addrs[1].addr[3] == 2 &&
	    res.addrs[2].family == AF_INET6, "IPv4 first, in file order");
	T_EQ_INT(res.ttl, 30, "static ttl");
	T_EQ_STR(res.canon, "static.test", "static canonical name");
	T_EQ_STR(ex.dnssec, "off", "static explain dnssec off");
	pd_verdict_static(rule("st"), "static.test", PD_WANT_AAAA, &res, NULL);
	T_EQ_INT(res.naddrs, 1, "AAAA only: the IPv6 address");
	pd_verdict_static(rule("st4"), "static4.test", PD_WANT_AAAA, &res,
	    NULL);
	VERDICT(PD_VERDICT_ABSENT, PD_REASON_NODATA,
	    "static without an address of the family");
	T_EQ_INT(res.ttl, 60, "default static ttl 60");
}

static void
rows_system_pins(void)
{
	struct pd_addr a[3] = { ad("10.1.2.3"), ad("192.0.2.1"),
	    ad("::ffff:10.9.9.9") };
	uint8_t keep[3];

	pd_verdict_pins(rule("sys"), a, 3, keep, &res, &ex);
	VERDICT(PD_VERDICT_ACCEPTED, PD_REASON_NONE, "system pins: filter");
	T_OK(keep[0] == 1 && keep[1] == 0 && keep[2] == 1,
	    "keep flags (v4-mapped checked as IPv4): %d %d %d", keep[0],
	    keep[1], keep[2]);
	T_EQ_INT(res.naddrs, 2, "kept addresses in res");
	pd_verdict_pins(rule("sysstrict"), a, 3, keep, &res, NULL);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "system pins: strict refuses");
	T_OK(keep[0] == 0 && keep[1] == 0 && keep[2] == 0,
	    "strict refusal keeps nothing");
	pd_verdict_pins(rule("sys"), &a[1], 1, keep, &res, NULL);
	VERDICT(PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN,
	    "system pins: none left refuses");
}

int
main(void)
{
	struct pd_error err;

	memset(&err, 0, sizeof(err));
	if (pd_policy_parse("verdict.yaml", (const uint8_t *)yaml,
	    sizeof(yaml) - 1, &pol, &err) != PD_OK) {
		T_OK(0, "test policy parses: %s", err.msg);
		return t_done();
	}
	rows_transport();
	rows_dnssec();
	rows_chain();
	rows_absent();
	rows_pins();
	rows_static();
	rows_system_pins();
	pd_policy_free(pol);
	return t_done();
}

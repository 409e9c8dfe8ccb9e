/*
 * pindns verdicts: see resolver/verdict.h. The order of the checks in
 * pd_verdict_judge() is the contract; keep it in step with the header and
 * the table in pindns.yaml(5), VERDICTS (man/pindns.yaml.5).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "resolver/report.h"
#include "resolver/verdict.h"

const char *
pd_sec_str(enum pd_sec s)
{
	switch (s) {
	case PD_SEC_OFF:		return "off";
	case PD_SEC_SECURE:		return "secure";
	case PD_SEC_INSECURE:		return "insecure";
	case PD_SEC_INDETERMINATE:	return "indeterminate";
	case PD_SEC_BOGUS:		return "bogus";
	}
	return "bogus";
}

/* Worse is larger: the status a whole lookup reports. */
static int
sec_rank(enum pd_sec s)
{
	switch (s) {
	case PD_SEC_OFF:		return 0;
	case PD_SEC_SECURE:		return 1;
	case PD_SEC_INSECURE:		return 2;
	case PD_SEC_INDETERMINATE:	return 3;
	case PD_SEC_BOGUS:		return 4;
	}
	return 4;
}

static void
set_out(struct pd_result *res, enum pd_verdict v, enum pd_reason why)
{
	res->verdict = v;
	res->reason = why;
}

__attribute__((format(printf, 2, 3))) static void
detail(struct pd_explain *ex, const char *fmt, ...)
{
	va_list ap;

	if (ex == NULL)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(ex->detail, sizeof(ex->detail), fmt, ap);
	va_end(ap);
}

static const char *
rcode_name(int rcode)
{
	switch (rcode) {
	case 1:		return "FORMERR";
	case 2:		return "SERVFAIL";
	case 4:		return "NOTIMP";
	case 5:		return "REFUSED";
	}
	return "other";
}

static int
family_of(const struct pd_dot_rrset *s, const struct pd_dot_result *f)
{
	return s == &f->a ? AF_INET : AF_INET6;
}

static void
explain_chain(struct pd_explain *ex, const struct pd_dot_rrset *s,
    const char *qname)
{
	unsigned i;

	if (ex == NULL)
		return;
	if (s == NULL || s->nchain == 0) {
		ex->nchain = 1;
		(void)snprintf(ex->chain[0], sizeof(ex->chain[0]), "%s", qname);
		return;
	}
	ex->nchain = 0;
	for (i = 0; i < s->nchain && i < PD_DOT_MAX_CHAIN &&
	    i < sizeof(ex->chain) / sizeof(ex->chain[0]); i++)
		(void)snprintf(ex->chain[ex->nchain++], sizeof(ex->chain[0]),
		    "%s", s->chain[i]);
}

/* Name owning the records of s: the end of its chain, else qname. */
static const char *
chain_end(const struct pd_dot_rrset *s, const char *qname)
{
	if (s->nchain == 0 || s->nchain > PD_DOT_MAX_CHAIN)
		return qname;
	return s->chain[s->nchain - 1];
}

static void
judge(const struct pd_policy *p, const struct pd_rule *r,
    const char *qname, unsigned want, const struct pd_dot_result *f,
    struct pd_result *res, struct pd_explain *ex)
{
	const struct pd_dot_rrset *sets[2], *s, *gave = NULL;
	struct pd_addr all[PD_MAX_ADDRS];
	bool ok[PD_MAX_ADDRS];
	enum pd_sec worst = PD_SEC_OFF;
	unsigned nsets = 0, i, k, n = 0, nok = 0;
	uint32_t ttl = UINT32_MAX, negttl = UINT32_MAX;
	bool nx = false, unseen = false;
	int hops;

	memset(res, 0, sizeof(*res));
	if (ex != NULL) {
		(void)snprintf(ex->upstream, sizeof(ex->upstream), "%s",
		    f->upstream);
		for (ex->ntries = 0; ex->ntries < f->ntries &&
		    ex->ntries < PD_MAX_TRIES &&
		    ex->ntries < PD_DOT_MAX_TRIES; ex->ntries++) {
			k = ex->ntries;
			(void)snprintf(ex->tries[k].upstream,
			    sizeof(ex->tries[k].upstream), "%s",
			    f->tries[k].upstream);
			(void)snprintf(ex->tries[k].why,
			    sizeof(ex->tries[k].why), "%s", f->tries[k].why);
			ex->tries[k].count = f->tries[k].count > 0 ?
			    f->tries[k].count : 1;
		}
		(void)snprintf(ex->dnssec, sizeof(ex->dnssec), "%s",
		    pd_sec_str(r->dnssec == PD_DNSSEC_OFF ? PD_SEC_OFF :
		    PD_SEC_INDETERMINATE));
		ex->nseen = 0;
		explain_chain(ex, NULL, qname);
		ex->detail[0] = '\0';
	}

	switch (f->status) {
	case PD_DOT_OK:
		break;
	case PD_DOT_TLS_AUTH:
		set_out(res, PD_VERDICT_REFUSED, PD_REASON_TLS_AUTH);
		detail(ex, "TLS authentication of the upstream failed: %s",
		    f->detail);
		return;
	case PD_DOT_TIMEOUT:
		set_out(res, PD_VERDICT_FAILED, PD_REASON_TIMEOUT);
		detail(ex, "every upstream timed out: %s", f->detail);
		return;
	case PD_DOT_UNREACHABLE:
		set_out(res, PD_VERDICT_FAILED, PD_REASON_UNREACHABLE);
		detail(ex, "no upstream reachable: %s", f->detail);
		return;
	default:
		/*
		 * The backend could not do its work (not loadable, trust
		 * anchors unusable, memory): the policy cannot be enforced.
		 * Fail closed as a refusal, reported as policy-unloadable so
		 * an operator reading the audit log looks at the set-up, not
		 * at the zone. Not failed: retrying would not help, and
		 * EAI_AGAIN invites tight retry loops.
		 */
		set_out(res, PD_VERDICT_REFUSED, PD_REASON_POLICY_UNLOADABLE);
		detail(ex, "resolver error: %s", f->detail);
		return;
	}

	if (want & PD_WANT_A)
		sets[nsets++] = &f->a;
	if (want & PD_WANT_AAAA)
		sets[nsets++] = &f->aaaa;
	for (i = 0; i < nsets; i++) {
		if (!sets[i]->asked) {
			set_out(res, PD_VERDICT_REFUSED, PD_REASON_INSECURE);
			detail(ex, "resolver error: no %s answer",
			    sets[i] == &f->a ? "A" : "AAAA");
			return;
		}
		if (sec_rank(sets[i]->sec) > sec_rank(worst))
			worst = sets[i]->sec;
	}
	if (ex != NULL)
		(void)snprintf(ex->dnssec, sizeof(ex->dnssec), "%s",
		    pd_sec_str(worst));

	/* A forged record is an attack in progress: the whole lookup. */
	for (i = 0; i < nsets; i++)
		if (sets[i]->sec == PD_SEC_BOGUS) {
			set_out(res, PD_VERDICT_REFUSED, PD_REASON_BOGUS);
			explain_chain(ex, sets[i], qname);
			detail(ex, "DNSSEC validation failed for the %s answer",
			    sets[i] == &f->a ? "A" : "AAAA");
			return;
		}
	for (i = 0; i < nsets; i++)
		if (sets[i]->rcode != 0 && sets[i]->rcode != 3) {
			set_out(res, PD_VERDICT_FAILED, PD_REASON_UNREACHABLE);
			detail(ex, "upstream %s answered rcode %d (%s)",
			    f->upstream, sets[i]->rcode,
			    rcode_name(sets[i]->rcode));
			return;
		}
	if (r->dnssec == PD_DNSSEC_REQUIRED)
		for (i = 0; i < nsets; i++)
			if (sets[i]->sec != PD_SEC_SECURE) {
				set_out(res, PD_VERDICT_REFUSED,
				    PD_REASON_INSECURE);
				explain_chain(ex, sets[i], qname);
				detail(ex, "dnssec: required, and the %s "
				    "answer is %s", sets[i] == &f->a ? "A" : "AAAA",
				    pd_sec_str(sets[i]->sec));
				return;
			}

	/*
	 * getdns reports a signed CNAME into an unsigned zone as SECURE and
	 * does not check owner names: every name after the query name must
	 * be one the rule allows (GETDNS-NOTES, "CNAME escape").
	 */
	for (i = 0; i < nsets; i++) {
		s = sets[i];
		if (s->nchain > PD_DOT_MAX_CHAIN) {
			set_out(res, PD_VERDICT_REFUSED, PD_REASON_BOGUS);
			detail(ex, "CNAME chain longer than %d",
			    PD_DOT_MAX_CHAIN);
			return;
		}
		if (s->nchain > 0 && strcmp(s->chain[0], qname) != 0) {
			set_out(res, PD_VERDICT_REFUSED, PD_REASON_BOGUS);
			detail(ex, "answer is for %s, not for the name asked",
			    s->chain[0]);
			return;
		}
		for (hops = 1; hops < (int)s->nchain; hops++)
			if (!pd_rule_cname_ok(p, r, s->chain[hops],
			    strlen(s->chain[hops]))) {
				set_out(res, PD_VERDICT_REFUSED,
				    PD_REASON_CNAME_ESCAPE);
				explain_chain(ex, s, qname);
				detail(ex, "CNAME chain leaves the rule's "
				    "names at %s", s->chain[hops]);
				return;
			}
	}

	/* Addresses: A first, then AAAA, each in answer order. */
	for (i = 0; i < nsets; i++) {
		s = sets[i];
		if (s->rcode == 3) {
			nx = true;
			if (s->ttl < negttl)
				negttl = s->ttl;
			continue;
		}
		k = 0;
		if (s->truncated)
			unseen = true;
		for (unsigned j = 0; j < s->naddrs && j < PD_MAX_ADDRS; j++) {
			if (s->addrs[j].family != family_of(s, f))
				continue;	/* not what was asked */
			if (n < PD_MAX_ADDRS)
				all[n++] = s->addrs[j];
			else
				unseen = true;
			k++;
		}
		if (k == 0) {
			if (s->ttl < negttl)
				negttl = s->ttl;
		} else {
			if (gave == NULL)
				gave = s;
			if (s->ttl < ttl)
				ttl = s->ttl;
		}
	}
	if (n == 0) {
		set_out(res, PD_VERDICT_ABSENT,
		    nx ? PD_REASON_NXDOMAIN : PD_REASON_NODATA);
		res->ttl = negttl == UINT32_MAX ? 0 : negttl;
		(void)snprintf(res->canon, sizeof(res->canon), "%s",
		    nsets > 0 ? chain_end(sets[0], qname) : qname);
		explain_chain(ex, nsets > 0 ? sets[0] : NULL, qname);
		detail(ex, nx ? "the name does not exist" :
		    "the name has no address of the asked families");
		return;
	}

	for (i = 0; i < n; i++) {
		ok[i] = pd_pins_contains(r->pins, &all[i]);
		if (ok[i])
			nok++;
	}
	if (ex != NULL) {
		ex->nseen = n;
		memcpy(ex->seen, all, n * sizeof(all[0]));
		for (i = 0; i < n; i++)
			ex->seen_ok[i] = ok[i] &&
			    (r->pin_mode != PD_PIN_STRICT ||
			    (nok == n && !unseen));
	}
	explain_chain(ex, gave, qname);
	/*
	 * strict promises that one address outside the pins fails the
	 * lookup; addresses beyond PD_MAX_ADDRS were never looked at, so
	 * such an answer cannot be shown to keep that promise.
	 */
	if (r->pin_mode == PD_PIN_STRICT && unseen && nok == n) {
		set_out(res, PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN);
		detail(ex, "more than %d addresses: the ones not carried "
		    "cannot be held against the pins (pin_mode strict)",
		    PD_MAX_ADDRS);
		return;
	}
	if (nok == 0 || (r->pin_mode == PD_PIN_STRICT && nok != n)) {
		set_out(res, PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN);
		detail(ex, "%u of %u addresses outside the pins (pin_mode %s)",
		    n - nok, n, r->pin_mode == PD_PIN_STRICT ? "strict" :
		    "filter");
		return;
	}
	set_out(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE);
	for (i = 0; i < n; i++)
		if (ok[i])
			res->addrs[res->naddrs++] = all[i];
	/*
	 * The entry is kept for the shortest TTL of what it is made of: the
	 * address RRsets and, when one family has none, that family's
	 * negative TTL (RFC 2308), unless the backend had no SOA for it.
	 */
	if (negttl != 0 && negttl < ttl)
		ttl = negttl;
	res->ttl = ttl;
	(void)snprintf(res->canon, sizeof(res->canon), "%s",
	    chain_end(gave, qname));
	if (nok != n)
		detail(ex, "%u of %u addresses outside the pins dropped",
		    n - nok, n);
}

void
pd_verdict_judge(const struct pd_policy *p, const struct pd_rule *r,
    const char *qname, unsigned want, const struct pd_dot_result *f,
    struct pd_result *res, struct pd_explain *ex)
{
	judge(p, r, qname, want, f, res, ex);
	pd_report_judge(r, qname, want, f, res, ex);
}

void
pd_verdict_static(const struct pd_rule *r, const char *qname, unsigned want,
    struct pd_result *res, struct pd_explain *ex)
{
	size_t i;
	int pass, fam;

	memset(res, 0, sizeof(*res));
	for (pass = 0; pass < 2; pass++) {
		fam = pass == 0 ? AF_INET : AF_INET6;
		if (!(want & (pass == 0 ? PD_WANT_A : PD_WANT_AAAA)))
			continue;
		for (i = 0; i < r->naddrs && res->naddrs < PD_MAX_ADDRS; i++)
			if (r->addrs[i].family == fam)
				res->addrs[res->naddrs++] = r->addrs[i];
	}
	res->ttl = r->ttl;
	(void)snprintf(res->canon, sizeof(res->canon), "%s", qname);
	if (res->naddrs == 0)
		set_out(res, PD_VERDICT_ABSENT, PD_REASON_NODATA);
	else
		set_out(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE);
	if (ex != NULL) {
		(void)snprintf(ex->dnssec, sizeof(ex->dnssec), "off");
		ex->upstream[0] = '\0';
		ex->nseen = res->naddrs;
		memcpy(ex->seen, res->addrs,
		    res->naddrs * sizeof(res->addrs[0]));
		for (i = 0; i < res->naddrs; i++)
			ex->seen_ok[i] = true;
		explain_chain(ex, NULL, qname);
		detail(ex, res->naddrs == 0 ? "static rule has no address of "
		    "the asked families" : "answered from the static rule");
	}
}

void
pd_verdict_pins(const struct pd_rule *r, const struct pd_addr *addrs,
    unsigned n, uint8_t *keep, struct pd_result *res, struct pd_explain *ex)
{
	unsigned i, nok = 0;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < n; i++) {
		keep[i] = pd_pins_contains(r->pins, &addrs[i]) ? 1 : 0;
		nok += keep[i];
	}
	if (n > 0 && (nok == 0 || (r->pin_mode == PD_PIN_STRICT && nok != n))) {
		memset(keep, 0, n);
		set_out(res, PD_VERDICT_REFUSED, PD_REASON_OUTSIDE_PIN);
	} else {
		set_out(res, PD_VERDICT_ACCEPTED, PD_REASON_NONE);
		for (i = 0; i < n && res->naddrs < PD_MAX_ADDRS; i++)
			if (keep[i])
				res->addrs[res->naddrs++] = addrs[i];
	}
	if (ex != NULL) {
		(void)snprintf(ex->dnssec, sizeof(ex->dnssec), "off");
		ex->nseen = n < PD_MAX_ADDRS ? n : PD_MAX_ADDRS;
		memcpy(ex->seen, addrs, ex->nseen * sizeof(addrs[0]));
		for (i = 0; i < ex->nseen; i++)
			ex->seen_ok[i] = keep[i] != 0;
		detail(ex, "%u of %u addresses from libc outside the pins%s",
		    n - nok, n, res->verdict != PD_VERDICT_REFUSED ?
		    (nok != n ? " (dropped)" : "") : r->report ?
		    " (report mode: answered, would refuse)" : " (refused)");
	}
	pd_report_pins(r, addrs, n, keep, res);
}

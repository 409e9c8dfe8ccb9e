/*
 * pindns report mode: see resolver/report.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/log.h"
#include "resolver/report.h"

static bool
reportable(const struct pd_rule *r, const struct pd_result *res)
{
	return r != NULL && r->report &&
	    res->verdict == PD_VERDICT_REFUSED &&
	    (res->reason == PD_REASON_OUTSIDE_PIN ||
	    res->reason == PD_REASON_CNAME_ESCAPE);
}

void
pd_report_judge(const struct pd_rule *r, const char *qname, unsigned want,
    const struct pd_dot_result *f, struct pd_result *res,
    struct pd_explain *ex)
{
	const struct pd_dot_rrset *sets[2], *s, *gave = NULL;
	unsigned nsets = 0, i, j;
	uint32_t ttl = UINT32_MAX;
	char why[sizeof(ex->detail)];

	if (!reportable(r, res))
		return;
	if (want & PD_WANT_A)
		sets[nsets++] = &f->a;
	if (want & PD_WANT_AAAA)
		sets[nsets++] = &f->aaaa;
	res->naddrs = 0;
	for (i = 0; i < nsets; i++) {
		s = sets[i];
		if (s->rcode != 0)
			continue;
		for (j = 0; j < s->naddrs && res->naddrs < PD_MAX_ADDRS; j++) {
			if (s->addrs[j].family !=
			    (s == &f->a ? AF_INET : AF_INET6))
				continue;
			res->addrs[res->naddrs++] = s->addrs[j];
			if (gave == NULL)
				gave = s;
			if (s->ttl < ttl)
				ttl = s->ttl;
		}
	}
	if (res->naddrs == 0)
		return;		/* nothing to answer with: stays refused */
	res->verdict = PD_VERDICT_ACCEPTED;	/* reason kept: would-refuse */
	res->ttl = ttl;
	(void)snprintf(res->canon, sizeof(res->canon), "%s",
	    gave->nchain > 0 && gave->nchain <= PD_DOT_MAX_CHAIN ?
	    gave->chain[gave->nchain - 1] : qname);
	if (ex != NULL) {
		memcpy(why, ex->detail, sizeof(why));
		(void)snprintf(ex->detail, sizeof(ex->detail), "report mode: "
		    "answered, would refuse: %.200s", why);
	}
}

void
pd_report_pins(const struct pd_rule *r, const struct pd_addr *addrs,
    unsigned n, uint8_t *keep, struct pd_result *res)
{
	unsigned i;

	if (!reportable(r, res) || n == 0)
		return;
	memset(keep, 1, n);
	res->verdict = PD_VERDICT_ACCEPTED;	/* reason kept: would-refuse */
	res->naddrs = 0;
	for (i = 0; i < n && res->naddrs < PD_MAX_ADDRS; i++)
		res->addrs[res->naddrs++] = addrs[i];
}

unsigned
pd_report_rules(const struct pd_policy *p, char *out, size_t size)
{
	size_t i, o = 0;
	unsigned n = 0;
	const struct pd_rule *r;
	int w;

	if (size > 0)
		out[0] = '\0';
	for (i = 0; i <= p->nrules; i++) {
		r = i < p->nrules ? &p->rules[i] : &p->default_rule;
		if (!r->report)
			continue;
		n++;
		if (o >= size)
			continue;
		w = snprintf(out + o, size - o, "%s%s", n > 1 ? ", " : "",
		    r->name);
		if (w < 0 || (size_t)w >= size - o) {
			if (size >= 4)
				memcpy(out + size - 4, "...", 4);
			o = size;
		} else
			o += (size_t)w;
	}
	return n;
}

void
pd_report_notice(const struct pd_policy *p)
{
	static _Atomic long said;	/* pid that printed it */
	long pid, old;
	char rules[200], msg[512];

	if (p == NULL || !p->any_report)
		return;
	pid = (long)getpid();
	old = atomic_load_explicit(&said, memory_order_relaxed);
	if (old == pid || !atomic_compare_exchange_strong(&said, &old, pid))
		return;
	(void)pd_report_rules(p, rules, sizeof(rules));
	(void)snprintf(msg, sizeof(msg), "pindns: WARNING: policy %s is in "
	    "report mode for rule(s) %s: answers outside the pins or "
	    "escaping by CNAME are returned, not refused (audit verdict "
	    "would-refuse)", p->path, rules);
	pd_log_stderr(msg);
}

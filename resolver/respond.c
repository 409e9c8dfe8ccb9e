/*
 * pindns engine: DNS reply messages for the res_query door (SPEC §4.1).
 *
 * A question of type A or AAAA (class IN) is looked up like any other
 * (pd_engine_lookup: same rule, cache, verdicts and audit log) with an
 * explanation, which carries what a message needs beyond the addresses:
 * the DNSSEC status (AD) and the CNAME chain. The getdns backend then
 * lays the message out (resolver/dot/wire.c): the engine itself links no
 * getdns, so a process that only ever asks for unclaimed names never maps
 * it. Any other type or class for a claimed name is refused and logged:
 * it would otherwise leave in clear through libc.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "resolver/dot/dot.h"
#include "resolver/engine.h"
#include "resolver/memo.h"
#include "resolver/resp.h"

#define T_A	1
#define T_AAAA	28
#define C_IN	1

static void
say_refused(struct pd_dnsr *r, enum pd_reason why)
{
	memset(r, 0, sizeof(*r));
	r->verdict = PD_VERDICT_REFUSED;
	r->reason = why;
}

/*
 * The chain between the name asked and the owner of the addresses, from
 * what the lookup explained (query name first, owner last). When the
 * lookup joined another in flight and got no chain, the canonical name
 * is all that is known: one CNAME straight to it.
 */
static unsigned
chain_links(const struct pd_explain *ex, const struct pd_result *res,
    const char (**links)[PD_CANON_MAX + 1])
{
	static const char none[1][PD_CANON_MAX + 1];

	if (ex->nchain > 1 && ex->nchain <= sizeof(ex->chain) /
	    sizeof(ex->chain[0])) {
		*links = &ex->chain[1];
		return ex->nchain - 1;
	}
	*links = none;
	if (res->verdict == PD_VERDICT_ACCEPTED && res->canon[0] != '\0' &&
	    ex->nchain == 1 && strcmp(res->canon, ex->chain[0]) != 0) {
		*links = (const char (*)[PD_CANON_MAX + 1])res->canon;
		return 1;
	}
	return 0;
}

/*
 * The reply to q in buf: the lookup, then the message laid out by the
 * backend. m comes with what the caller decides about the message (ID,
 * question in wire form, OPT); the rest is filled here.
 */
void
pd_respond_build(const struct pd_dnsq *q, struct pd_dot_msg *m, uint8_t *buf,
    size_t len, struct pd_dnsr *r)
{
	const struct pd_dot_ops *ops;
	struct pd_explain *ex = NULL;
	struct pd_result res;
	struct pd_addr *v = NULL;
	unsigned i, n = 0;
	int fam;

	memset(r, 0, sizeof(*r));
	if (q->qclass != C_IN || (q->qtype != T_A && q->qtype != T_AAAA)) {
		pd_engine_refuse_type(q->name, &res);
		r->verdict = res.verdict;
		r->reason = res.reason;
		return;
	}
	if ((ex = malloc(sizeof(*ex))) == NULL ||
	    (v = malloc(sizeof(*v) * PD_MAX_ADDRS)) == NULL) {
		/* No memory: a temporary failure, as for getaddrinfo. */
		r->verdict = PD_VERDICT_FAILED;
		r->reason = PD_REASON_UNREACHABLE;
		goto out;
	}
	pd_engine_lookup(q->name, q->qtype == T_A ? PD_WANT_A : PD_WANT_AAAA,
	    &res, ex);
	r->verdict = res.verdict;
	r->reason = res.reason;
	if (res.verdict != PD_VERDICT_ACCEPTED &&
	    res.verdict != PD_VERDICT_ABSENT)
		goto out;

	fam = q->qtype == T_A ? AF_INET : AF_INET6;
	if (res.verdict == PD_VERDICT_ACCEPTED)
		for (i = 0; i < res.naddrs && i < PD_MAX_ADDRS; i++)
			if (res.addrs[i].family == fam)
				v[n++] = res.addrs[i];
	m->rd = q->rd;
	m->ad = strcmp(ex->dnssec, "secure") == 0;
	m->rcode = res.verdict == PD_VERDICT_ABSENT &&
	    res.reason == PD_REASON_NXDOMAIN ? 3 : 0;
	m->qname = q->name;
	m->qclass = q->qclass;
	m->qtype = q->qtype;
	m->ttl = res.ttl;
	if (res.verdict == PD_VERDICT_ACCEPTED)
		m->nchain = chain_links(ex, &res, &m->chain);
	m->naddrs = n;
	m->addrs = v;
	if ((ops = pd_dot_get(NULL, 0)) == NULL || ops->wire_build == NULL ||
	    pd_memo_build(ops, m, buf, len, &r->len) != PD_OK) {
		/* Nothing to hand out: fail closed, never to libc. */
		say_refused(r, PD_REASON_UNREACHABLE);
		r->verdict = PD_VERDICT_FAILED;
		goto out;
	}
	r->rcode = m->rcode;
	r->ancount = m->nchain + m->naddrs;
out:
	m->addrs = NULL;
	m->chain = NULL;
	free(v);
	free(ex);
}

void
pd_engine_answer(const struct pd_dnsq *q, uint8_t *buf, size_t len,
    struct pd_dnsr *r)
{
	struct pd_dot_msg m;

	memset(&m, 0, sizeof(m));
	m.id = (uint16_t)randombytes_uniform(65536);
	pd_respond_build(q, &m, buf, len, r);
}

void
pd_engine_pin_reply(const struct pd_dnsq *q, uint8_t *buf, size_t len,
    size_t cap, struct pd_dnsr *r)
{
	const struct pd_dot_ops *ops;
	struct pd_result res;
	struct pd_addr *v = NULL;
	uint8_t keep[PD_MAX_ADDRS];
	unsigned n = 0, i, kept = 0;

	memset(r, 0, sizeof(*r));
	r->len = len;
	if ((v = malloc(sizeof(*v) * PD_MAX_ADDRS)) == NULL) {
		r->verdict = PD_VERDICT_FAILED;
		r->reason = PD_REASON_UNREACHABLE;
		goto out;
	}
	if ((ops = pd_dot_get(NULL, 0)) == NULL || ops->wire_addrs == NULL ||
	    ops->wire_keep == NULL ||
	    ops->wire_addrs(buf, len, v, PD_MAX_ADDRS, &n) != PD_OK) {
		say_refused(r, PD_REASON_OUTSIDE_PIN);
		goto out;
	}
	r->verdict = PD_VERDICT_ACCEPTED;
	if (n == 0)
		goto out;	/* no address: nothing for the pins to hold */
	pd_engine_filter(q->name, v, n, keep, &res);
	if (res.verdict != PD_VERDICT_ACCEPTED) {
		say_refused(r, res.reason);
		goto out;
	}
	for (i = 0; i < n; i++)
		kept += keep[i] != 0;
	if (kept == n)
		goto out;
	if (kept == 0 ||
	    ops->wire_keep(buf, len, cap, keep, n, &r->len) != PD_OK)
		say_refused(r, PD_REASON_OUTSIDE_PIN);
out:
	free(v);
}

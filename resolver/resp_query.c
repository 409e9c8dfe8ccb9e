/*
 * pindns engine: one query of the responder (resolver/resp.h): read it
 * with getdns, decide who answers, and lay out the engine's replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/memo.h"
#include "resolver/resp.h"

#define T_A		1
#define T_AAAA		28
#define C_IN		1
#define RC_SERVFAIL	2
#define RC_REFUSED	5

/* RFC 8914 §4 info codes. */
#define EDE_OTHER		0
#define EDE_DNSSEC_BOGUS	6
#define EDE_BLOCKED		15
#define EDE_NOT_SUPPORTED	21
#define EDE_NO_REACHABLE	22
#define EDE_NETWORK		23

uint16_t
pd_resp_id(const uint8_t *msg, size_t len)
{
	/* RFC 1035 §4.1.1: the ID is the header's first 16 bits. */
	return len < 2 ? 0 : (uint16_t)(msg[0] << 8 | msg[1]);
}

void
pd_resp_classify(const uint8_t *msg, size_t len, struct pd_resp_q *rq,
    bool *unread)
{
	const struct pd_dot_ops *ops;
	unsigned want = 0;

	memset(rq, 0, sizeof(*rq));
	*unread = false;
	rq->act = PD_RESP_FORWARD;
	if ((ops = pd_dot_get(NULL, 0)) == NULL || ops->abi != PD_DOT_ABI ||
	    ops->wire_query == NULL) {
		*unread = true;
		return;
	}
	if (pd_memo_query(ops, msg, len, &rq->q) != PD_OK) {
		memset(&rq->q, 0, sizeof(rq->q));	/* qwirelen 0 */
		rq->act = PD_RESP_ODD;
		return;
	}
	if (rq->q.qr || rq->q.opcode != 0 || rq->q.qdcount != 1 ||
	    rq->q.normlen < 0) {
		rq->act = PD_RESP_ODD;
		return;
	}
	if (rq->q.qclass == C_IN && rq->q.qtype == T_A)
		want = PD_WANT_A;
	else if (rq->q.qclass == C_IN && rq->q.qtype == T_AAAA)
		want = PD_WANT_AAAA;
	switch (pd_engine_claim(rq->q.norm, want)) {
	case PD_CLAIM_NONE:
		rq->act = PD_RESP_FORWARD;
		break;
	case PD_CLAIM_PINNED:
		rq->act = PD_RESP_PINNED;
		break;
	case PD_CLAIM_NOW:
		rq->act = PD_RESP_NOW;
		break;
	case PD_CLAIM_WAIT:
		rq->act = PD_RESP_WAIT;
		break;
	}
}

/* The header fields and OPT of our replies to rq. */
static void
msg_begin(const struct pd_resp_q *rq, struct pd_dot_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = rq->q.id;
	m->rd = rq->q.rd;
	m->qname = rq->q.norm;
	m->qclass = rq->q.qclass;
	m->qtype = rq->q.qtype;
	m->qwire = rq->q.qwire;
	m->qwirelen = rq->q.qwirelen;
	m->edns = rq->q.edns;
	m->do_bit = rq->q.do_bit;
	m->ede = -1;
}

/* The engine's form of rq's question. */
static void
question(const struct pd_resp_q *rq, struct pd_dnsq *q)
{
	memset(q, 0, sizeof(*q));
	q->name = rq->q.norm;
	q->qclass = rq->q.qclass;
	q->qtype = rq->q.qtype;
	q->rd = rq->q.rd;
}

/* m laid out in out; its length, 0 when it cannot be (or does not fit). */
static size_t
lay_out(const struct pd_dot_msg *m, uint8_t *out, size_t cap)
{
	const struct pd_dot_ops *ops = pd_dot_get(NULL, 0);
	size_t need = 0;

	if (ops == NULL || pd_memo_build(ops, m, out, cap, &need) != PD_OK ||
	    need > cap)
		return 0;
	return need;
}

/* RFC 8914 info code for a refusal or a failure. */
static int
ede_code(enum pd_reason why)
{
	switch (why) {
	case PD_REASON_BOGUS:
		return EDE_DNSSEC_BOGUS;
	case PD_REASON_INSECURE:
	case PD_REASON_OUTSIDE_PIN:
	case PD_REASON_CNAME_ESCAPE:
	case PD_REASON_DENY_RULE:
		return EDE_BLOCKED;
	case PD_REASON_OTHER_TYPE:
		return EDE_NOT_SUPPORTED;
	case PD_REASON_TIMEOUT:
	case PD_REASON_TLS_AUTH:
		return EDE_NO_REACHABLE;
	case PD_REASON_UNREACHABLE:
		return EDE_NETWORK;
	default:
		return EDE_OTHER;
	}
}

/*
 * REFUSED for a refusal by policy, SERVFAIL for a temporary failure
 * (the client may try again), the question echoed, and the reason as
 * an Extended DNS Error when the query had EDNS.
 */
static size_t
refusal(const struct pd_resp_q *rq, enum pd_verdict v, enum pd_reason why,
    uint8_t *out, size_t cap)
{
	struct pd_dot_msg m;
	char text[64];

	msg_begin(rq, &m);
	m.rcode = v == PD_VERDICT_FAILED ? RC_SERVFAIL : RC_REFUSED;
	m.ede = ede_code(why);
	if (why == PD_REASON_NONE && v == PD_VERDICT_REFUSED)
		(void)snprintf(text, sizeof(text), "pindns: not one standard "
		    "query, or no server for it");
	else
		(void)snprintf(text, sizeof(text), "pindns: %s",
		    pd_reason_str(why));
	m.ede_text = text;
	return lay_out(&m, out, cap);
}

enum pd_resp_act
pd_resp_serve_act(const struct pd_resp_q *rq, bool have_x)
{
	if (!have_x && (rq->act == PD_RESP_FORWARD ||
	    rq->act == PD_RESP_PINNED))
		return PD_RESP_ODD;	/* no server to ask: refused */
	return rq->act;
}

size_t
pd_resp_odd(const struct pd_resp_q *rq, uint8_t *out, size_t cap)
{
	/* Never answer a reply: two servers would bounce it for ever. */
	if (rq->q.qr)
		return 0;
	return pd_resp_error(rq, PD_VERDICT_REFUSED, PD_REASON_NONE, out,
	    cap);
}

size_t
pd_resp_error(const struct pd_resp_q *rq, enum pd_verdict v,
    enum pd_reason why, uint8_t *out, size_t cap)
{
	if (rq->q.qwirelen == 0)
		return 0;	/* nothing read: no question to echo */
	return refusal(rq, v, why, out, cap);
}

/* The question alone with TC set (RFC 2181 §9: the client asks again). */
static size_t
truncated(const struct pd_resp_q *rq, uint8_t *out, size_t cap)
{
	struct pd_dot_msg m;

	msg_begin(rq, &m);
	m.tc = true;
	return lay_out(&m, out, cap);
}

size_t
pd_resp_answer(const struct pd_resp_q *rq, uint8_t *out, size_t cap,
    size_t limit)
{
	struct pd_dot_msg m;
	struct pd_dnsq q;
	struct pd_dnsr r;

	question(rq, &q);
	msg_begin(rq, &m);
	pd_respond_build(&q, &m, out, cap, &r);
	switch (r.verdict) {
	case PD_VERDICT_ACCEPTED:
	case PD_VERDICT_ABSENT:
		if (r.len > cap)
			return 0;
		if (r.len > limit)
			return truncated(rq, out, cap);
		return r.len;
	case PD_VERDICT_SYSTEM:
	case PD_VERDICT_SYSTEM_PINNED:
		/*
		 * The policy changed between the decision and now: the name
		 * is no longer ours. Refuse this once rather than answer it
		 * from here; the client's retry is forwarded.
		 */
		return refusal(rq, PD_VERDICT_FAILED, PD_REASON_NONE, out, cap);
	default:
		return refusal(rq, r.verdict, r.reason, out, cap);
	}
}

size_t
pd_resp_pin(const struct pd_resp_q *rq, uint8_t *msg, size_t len, size_t cap,
    size_t limit)
{
	struct pd_dnsq q;
	struct pd_dnsr r;

	question(rq, &q);
	pd_engine_pin_reply(&q, msg, len, cap, &r);
	if (r.verdict != PD_VERDICT_ACCEPTED)
		return refusal(rq, PD_VERDICT_REFUSED, r.reason, msg, cap);
	if (r.len > cap)
		return 0;
	if (r.len > limit)
		return truncated(rq, msg, cap);
	return r.len;
}

/*
 * pindns DoT backend: DNS messages for the res_query door (SPEC §4.1).
 *
 * Built and read with getdns's own conversions (getdns_msg_dict2wire,
 * getdns_wire2msg_dict): a message dict with header, question and answer
 * list, never bytes laid out by hand. The engine hands in plain facts
 * (struct pd_dot_msg) and gets bytes back.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include "resolver/dot/context.h"
#include "resolver/dot/names.h"
#include "resolver/dot/wire.h"

/* A name in wire form from presentation form (as getdns parses it). */
static enum pd_err
wire_name(const char *pres, getdns_bindata **bp)
{
	char buf[PD_NAME_MAX + 2];
	size_t n = strlen(pres);

	/* getdns wants the root spelt "." and reads a name as absolute. */
	if (n == 0)
		pres = ".";
	else if (n < sizeof(buf) - 1 && pres[n - 1] != '.') {
		memcpy(buf, pres, n);
		buf[n] = '.';
		buf[n + 1] = '\0';
		pres = buf;
	}
	if (getdns_convert_fqdn_to_dns_name(pres, bp) != GETDNS_RETURN_GOOD ||
	    *bp == NULL)
		return PD_ENAME;
	return PD_OK;
}

/* The same for a normalised name (the engine's form: no escapes). */
static enum pd_err
wire_norm(const char *norm, getdns_bindata **bp)
{
	char esc[4 * PD_NAME_MAX + 2];

	if (!pd_dname_escape(norm, esc, sizeof(esc)))
		return PD_ENAME;
	return wire_name(esc, bp);
}

static void
bindata_free(getdns_bindata *b)
{
	if (b == NULL)
		return;
	free(b->data);
	free(b);
}

/* Append one record to the answer list an. */
static enum pd_err
add_rr(getdns_list *an, const getdns_bindata *owner, uint16_t type,
    uint16_t cls, uint32_t ttl, const char *rkey, const getdns_bindata *rval)
{
	getdns_dict *rr = NULL, *rdata = NULL;
	size_t n;
	enum pd_err r = PD_ENOMEM;

	if ((rr = getdns_dict_create()) == NULL ||
	    (rdata = getdns_dict_create()) == NULL)
		goto out;
	if (getdns_dict_set_bindata(rr, "name", owner) != 0 ||
	    getdns_dict_set_int(rr, "type", type) != 0 ||
	    getdns_dict_set_int(rr, "class", cls) != 0 ||
	    getdns_dict_set_int(rr, "ttl", ttl) != 0 ||
	    getdns_dict_set_bindata(rdata, rkey, rval) != 0 ||
	    getdns_dict_set_dict(rr, "rdata", rdata) != 0 ||
	    getdns_list_get_length(an, &n) != 0 ||
	    getdns_list_set_dict(an, n, rr) != 0)
		goto out;
	r = PD_OK;
out:
	getdns_dict_destroy(rdata);
	getdns_dict_destroy(rr);
	return r;
}

/*
 * The reply's OPT record (RFC 6891 §6.1.2): our payload size, the DO bit
 * as the query had it (RFC 3225 §3), and an Extended DNS Error option
 * (RFC 8914 §2: a 16-bit info code, then UTF-8 text) when m says so.
 */
static enum pd_err
add_opt(getdns_dict *msg, const struct pd_dot_msg *m)
{
	getdns_dict *opt = NULL, *rdata = NULL, *o = NULL;
	getdns_list *ar = NULL, *opts = NULL;
	getdns_bindata data;
	uint8_t ede[2 + 128];
	size_t tl = 0;
	enum pd_err r = PD_ENOMEM;

	if ((ar = getdns_list_create()) == NULL ||
	    (opt = getdns_dict_create()) == NULL ||
	    (rdata = getdns_dict_create()) == NULL ||
	    (opts = getdns_list_create()) == NULL)
		goto out;
	if (m->ede >= 0) {
		if (m->ede_text != NULL && (tl = strlen(m->ede_text)) >
		    sizeof(ede) - 2)
			tl = sizeof(ede) - 2;
		ede[0] = (uint8_t)(m->ede >> 8);
		ede[1] = (uint8_t)m->ede;
		if (tl > 0)
			memcpy(ede + 2, m->ede_text, tl);
		data.data = ede;
		data.size = 2 + tl;
		if ((o = getdns_dict_create()) == NULL ||
		    getdns_dict_set_int(o, "option_code", 15) != 0 ||
		    getdns_dict_set_bindata(o, "option_data", &data) != 0 ||
		    getdns_list_set_dict(opts, 0, o) != 0)
			goto out;
	}
	if (getdns_dict_set_int(opt, "type", GETDNS_RRTYPE_OPT) != 0 ||
	    getdns_dict_set_int(opt, "udp_payload_size", PD_DOT_UDP_SIZE) !=
	    0 || getdns_dict_set_int(opt, "extended_rcode", 0) != 0 ||
	    getdns_dict_set_int(opt, "version", 0) != 0 ||
	    getdns_dict_set_int(opt, "do", m->do_bit) != 0 ||
	    getdns_dict_set_int(opt, "z", 0) != 0 ||
	    getdns_dict_set_list(rdata, "options", opts) != 0 ||
	    getdns_dict_set_dict(opt, "rdata", rdata) != 0 ||
	    getdns_list_set_dict(ar, 0, opt) != 0 ||
	    getdns_dict_set_list(msg, "additional", ar) != 0)
		goto out;
	r = PD_OK;
out:
	getdns_dict_destroy(o);
	getdns_list_destroy(opts);
	getdns_dict_destroy(rdata);
	getdns_dict_destroy(opt);
	getdns_list_destroy(ar);
	return r;
}

/* Serialise msg; min(len, *need) bytes into buf. */
static enum pd_err
to_wire(const getdns_dict *msg, uint8_t *buf, size_t len, size_t *need)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (getdns_msg_dict2wire(msg, &w, &n) != GETDNS_RETURN_GOOD ||
	    w == NULL)
		return PD_ENOMEM;
	memcpy(buf, w, n < len ? n : len);
	*need = n;
	free(w);
	return PD_OK;
}

enum pd_err
pd_wire_build(const struct pd_dot_msg *m, uint8_t *buf, size_t len,
    size_t *need)
{
	getdns_dict *msg = NULL, *hdr = NULL, *q = NULL;
	getdns_list *an = NULL;
	getdns_bindata *qn = NULL, *owner = NULL, *next = NULL, addr;
	unsigned i;
	enum pd_err r;

	if (pd_wire_memo_build_get(m, buf, len, need))
		return PD_OK;
	if (m->qwire != NULL) {
		if ((qn = malloc(sizeof(*qn))) == NULL ||
		    (qn->data = malloc(m->qwirelen)) == NULL) {
			free(qn);
			return PD_ENOMEM;
		}
		memcpy(qn->data, m->qwire, m->qwirelen);
		qn->size = m->qwirelen;
	} else if ((r = wire_name(m->qname, &qn)) != PD_OK)
		goto out;
	r = PD_ENOMEM;
	if ((msg = getdns_dict_create()) == NULL ||
	    (hdr = getdns_dict_create()) == NULL ||
	    (q = getdns_dict_create()) == NULL ||
	    (an = getdns_list_create()) == NULL)
		goto out;
	/* RFC 1035 §4.1.1; AD per RFC 4035 §3.2.3 (we validated). */
	if (getdns_dict_set_int(hdr, "id", m->id) != 0 ||
	    getdns_dict_set_int(hdr, "qr", 1) != 0 ||
	    getdns_dict_set_int(hdr, "rd", m->rd) != 0 ||
	    getdns_dict_set_int(hdr, "ra", 1) != 0 ||
	    getdns_dict_set_int(hdr, "ad", m->ad) != 0 ||
	    getdns_dict_set_int(hdr, "tc", m->tc) != 0 ||
	    getdns_dict_set_int(hdr, "rcode", (uint32_t)m->rcode) != 0 ||
	    getdns_dict_set_bindata(q, "qname", qn) != 0 ||
	    getdns_dict_set_int(q, "qtype", m->qtype) != 0 ||
	    getdns_dict_set_int(q, "qclass", m->qclass) != 0)
		goto out;

	/* The chain: each owner points at the next name. */
	owner = qn;
	for (i = 0; i < m->nchain; i++) {
		if ((r = wire_norm(m->chain[i], &next)) != PD_OK ||
		    (r = add_rr(an, owner, GETDNS_RRTYPE_CNAME, m->qclass,
		    m->ttl, "cname", next)) != PD_OK)
			goto out;
		if (owner != qn)
			bindata_free(owner);
		owner = next;
		next = NULL;
	}
	for (i = 0; i < m->naddrs; i++) {
		addr.data = (uint8_t *)(uintptr_t)m->addrs[i].addr;
		addr.size = m->qtype == GETDNS_RRTYPE_AAAA ? 16 : 4;
		if ((r = add_rr(an, owner, m->qtype, m->qclass, m->ttl,
		    m->qtype == GETDNS_RRTYPE_AAAA ? "ipv6_address" :
		    "ipv4_address", &addr)) != PD_OK)
			goto out;
	}
	if (m->edns && (r = add_opt(msg, m)) != PD_OK)
		goto out;
	r = PD_ENOMEM;
	if (getdns_dict_set_dict(msg, "header", hdr) != 0 ||
	    getdns_dict_set_dict(msg, "question", q) != 0 ||
	    getdns_dict_set_list(msg, "answer", an) != 0)
		goto out;
	if ((r = to_wire(msg, buf, len, need)) == PD_OK && *need <= len)
		pd_wire_memo_build_put(m, buf, *need);
out:
	if (owner != qn)
		bindata_free(owner);
	bindata_free(next);
	bindata_free(qn);
	getdns_list_destroy(an);
	getdns_dict_destroy(q);
	getdns_dict_destroy(hdr);
	getdns_dict_destroy(msg);
	return r;
}

/*
 * 1 when rr is an A or AAAA record (its address in *a), 0 for any other
 * type, -1 for an A/AAAA record whose address is not whole (getdns keeps
 * a record cut short; libresolv would not agree on it: refuse).
 */
static int
rr_addr(const getdns_dict *rr, struct pd_addr *a)
{
	getdns_bindata *b;
	uint32_t t;

	if (getdns_dict_get_int(rr, "type", &t) != 0)
		return -1;
	if (t != GETDNS_RRTYPE_A && t != GETDNS_RRTYPE_AAAA)
		return 0;
	if (getdns_dict_get_bindata(rr, t == GETDNS_RRTYPE_A ?
	    "/rdata/ipv4_address" : "/rdata/ipv6_address", &b) != 0 ||
	    b->size != (t == GETDNS_RRTYPE_A ? 4u : 16u) ||
	    getdns_dict_get_bindata(rr, "/rdata/rdata_raw", &b) != 0 ||
	    b->size != (t == GETDNS_RRTYPE_A ? 4u : 16u))
		return -1;
	memset(a, 0, sizeof(*a));
	a->family = t == GETDNS_RRTYPE_A ? AF_INET : AF_INET6;
	memcpy(a->addr, b->data, b->size);
	return 1;
}

/*
 * The message's dict and its answer list. getdns reads what it can and
 * stops quietly at the first record it cannot: a message whose answer
 * section it did not read to the end (fewer records than the header
 * counts) is no message here, or an address libresolv would still find
 * in it could pass the pins unseen.
 */
/*
 * Largest message read here, and the thread's buffer for it with
 * PD_GETDNS_PAD bytes after: getdns 1.6.0 trusts length fields inside
 * some records' RDATA and reads up to 64 KiB past the message
 * (resolver/dot/context.c). The messages read here come from programs
 * (a query to the responder) and from their servers (a reply held
 * against pins), in buffers of any size, so getdns reads a copy whose
 * over-read stays in memory we own (found by tests/fuzz/fuzz_query.c).
 * One buffer per thread, made on first use, freed when the thread ends.
 */
#define WIRE_MAX	65535

static pthread_key_t pad_key;
static pthread_once_t pad_once = PTHREAD_ONCE_INIT;
static int pad_ok;

static void
pad_init(void)
{
	pad_ok = pthread_key_create(&pad_key, free) == 0;
}

static getdns_return_t
wire2dict(const uint8_t *msg, size_t len, getdns_dict **dp)
{
	uint8_t *b;

	*dp = NULL;
	(void)pthread_once(&pad_once, pad_init);
	if (!pad_ok || len > WIRE_MAX)
		return GETDNS_RETURN_GENERIC_ERROR;
	if ((b = pthread_getspecific(pad_key)) == NULL) {
		/* Zeroed once: what an over-read picks up is defined. */
		if ((b = calloc(1, WIRE_MAX + PD_GETDNS_PAD)) == NULL)
			return GETDNS_RETURN_MEMORY_ERROR;
		if (pthread_setspecific(pad_key, b) != 0) {
			free(b);
			return GETDNS_RETURN_MEMORY_ERROR;
		}
	}
	memcpy(b, msg, len);
	return getdns_wire2msg_dict(b, len, dp);
}

static enum pd_err
read_msg(const uint8_t *msg, size_t len, getdns_dict **dp, getdns_list **ap)
{
	uint32_t ancount;
	size_t n;

	*dp = NULL;
	if (len < 12 || wire2dict(msg, len, dp) !=
	    GETDNS_RETURN_GOOD || *dp == NULL)
		goto bad;
	if (getdns_dict_get_list(*dp, "answer", ap) != 0 ||
	    getdns_list_get_length(*ap, &n) != 0 ||
	    getdns_dict_get_int(*dp, "/header/ancount", &ancount) != 0 ||
	    n != ancount)
		goto bad;
	return PD_OK;
bad:
	getdns_dict_destroy(*dp);
	*dp = NULL;
	return PD_EPARSE;
}

enum pd_err
pd_wire_addrs(const uint8_t *msg, size_t len, struct pd_addr *addrs,
    unsigned max, unsigned *np)
{
	getdns_dict *d = NULL, *rr;
	getdns_list *an;
	struct pd_addr a;
	size_t i, n;
	unsigned k = 0;
	enum pd_err r;
	int is;

	if ((r = read_msg(msg, len, &d, &an)) != PD_OK)
		return r;
	if (getdns_list_get_length(an, &n) != 0)
		n = 0;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(an, i, &rr) != 0 ||
		    (is = rr_addr(rr, &a)) < 0) {
			r = PD_EPARSE;
			goto out;
		}
		if (is && k < max)
			addrs[k++] = a;
	}
	*np = k;
out:
	getdns_dict_destroy(d);
	return r;
}

/* 0 when msg reads back with as many addresses as keep[] keeps. */
static int
kept_back(const uint8_t *msg, size_t len, const uint8_t *keep, unsigned nkeep)
{
	struct pd_addr a[PD_MAX_ADDRS];
	unsigned i, want = 0, got = 0;

	for (i = 0; i < nkeep; i++)
		want += keep[i] != 0;
	if (pd_wire_addrs(msg, len, a, PD_MAX_ADDRS, &got) != PD_OK)
		return -1;
	return got == (want < PD_MAX_ADDRS ? want : PD_MAX_ADDRS) ? 0 : -1;
}

enum pd_err
pd_wire_keep(uint8_t *msg, size_t len, size_t cap, const uint8_t *keep,
    unsigned nkeep, size_t *outlen)
{
	getdns_dict *d = NULL, *rr;
	getdns_list *an, *out = NULL;
	struct pd_addr a;
	size_t i, n, o = 0;
	unsigned k = 0;
	enum pd_err r;
	int is;

	if ((r = read_msg(msg, len, &d, &an)) != PD_OK)
		return r;
	r = PD_ENOMEM;
	if ((out = getdns_list_create()) == NULL ||
	    getdns_list_get_length(an, &n) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(an, i, &rr) != 0)
			goto out;
		if ((is = rr_addr(rr, &a)) < 0) {
			r = PD_EPARSE;
			goto out;
		}
		/* Records past what the caller judged are dropped too. */
		if (is && (k >= nkeep || !keep[k++]))
			continue;
		if (getdns_list_set_dict(out, o++, rr) != 0)
			goto out;
	}
	if (getdns_dict_set_list(d, "answer", out) != 0)
		goto out;
	if ((r = to_wire(d, msg, cap, outlen)) != PD_OK)
		goto out;
	/*
	 * getdns reads some malformed names (a compression pointer past the
	 * message) as something it then writes out unreadable: a message
	 * that does not read back with exactly the kept addresses is refused
	 * rather than handed on (found by tests/fuzz/fuzz_query.c).
	 */
	if (kept_back(msg, *outlen, keep, nkeep) != 0)
		r = PD_EPARSE;
out:
	getdns_list_destroy(out);
	getdns_dict_destroy(d);
	return r;
}

enum pd_err
pd_wire_query(const uint8_t *msg, size_t len, struct pd_dot_query *q)
{
	getdns_dict *d = NULL, *rr;
	getdns_list *ar;
	getdns_bindata *qn;
	uint32_t v, id, op, qr, rd, qd, qt, qc;
	size_t i, n;
	enum pd_err r = PD_EPARSE;

	if (pd_wire_memo_query_get(msg, len, q))
		return PD_OK;
	memset(q, 0, sizeof(*q));
	if (wire2dict(msg, len, &d) != GETDNS_RETURN_GOOD ||
	    d == NULL)
		return PD_EPARSE;
	if (getdns_dict_get_int(d, "/header/id", &id) != 0 ||
	    getdns_dict_get_int(d, "/header/opcode", &op) != 0 ||
	    getdns_dict_get_int(d, "/header/qr", &qr) != 0 ||
	    getdns_dict_get_int(d, "/header/rd", &rd) != 0 ||
	    getdns_dict_get_int(d, "/header/qdcount", &qd) != 0 ||
	    getdns_dict_get_bindata(d, "/question/qname", &qn) != 0 ||
	    getdns_dict_get_int(d, "/question/qtype", &qt) != 0 ||
	    getdns_dict_get_int(d, "/question/qclass", &qc) != 0 ||
	    qn->size == 0 || qn->size > sizeof(q->qwire))
		goto out;
	q->id = (uint16_t)id;
	q->opcode = op;
	q->qr = qr != 0;
	q->rd = rd != 0;
	q->qdcount = qd;
	q->qtype = (uint16_t)qt;
	q->qclass = (uint16_t)qc;
	memcpy(q->qwire, qn->data, qn->size);
	q->qwirelen = qn->size;
	q->normlen = pd_dname_norm(qn, q->norm);
	q->udp_size = 512;
	if (getdns_dict_get_list(d, "additional", &ar) == 0 &&
	    getdns_list_get_length(ar, &n) == 0)
		for (i = 0; i < n; i++)
			if (getdns_list_get_dict(ar, i, &rr) == 0 &&
			    getdns_dict_get_int(rr, "type", &v) == 0 &&
			    v == GETDNS_RRTYPE_OPT) {
				q->edns = true;
				if (getdns_dict_get_int(rr, "udp_payload_size",
				    &v) == 0 && v > 512)
					q->udp_size = (uint16_t)v;
				q->do_bit = getdns_dict_get_int(rr, "do",
				    &v) == 0 && v != 0;
				break;
			}
	r = PD_OK;
	pd_wire_memo_query_put(msg, len, q);
out:
	getdns_dict_destroy(d);
	return r;
}

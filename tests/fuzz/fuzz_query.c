/*
 * libFuzzer target: the responder's two inputs from outside
 * (resolver/resp_query.c, resolver/dot/wire.c).
 *
 *  1. A query a program sends to port 53: read with pd_wire_query(), and
 *     when it reads as one question, every reply the responder may build
 *     for it (an answer with addresses and a CNAME, a refusal with an
 *     RFC 8914 EDE, a reply cut with TC), each read back with getdns.
 *  2. The same bytes as a reply from the program's server under a
 *     `system` rule with pins: its addresses read (pd_wire_addrs) and the
 *     message written again without some (pd_wire_keep).
 *
 * Invariants beyond "no crash, no sanitizer report": a reply carries the
 * query's ID and exactly one question; a reply that does not fit says
 * how much room it needs and writes nothing past the buffer; a message
 * rewritten by pd_wire_keep reads back with exactly the kept addresses.
 *
 *	make fuzz-build && build-fuzz/fuzz_query tests/fuzz/corpus/query
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/context.h"
#include "resolver/dot/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define GUARD	64

/* Room past a reply for getdns's over-read when it reads one back
 * (resolver/dot/context.c). */
static uint8_t out[65535 + GUARD + PD_GETDNS_PAD];

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_query: invariant broken: %s\n", what);
	abort();
}

/* Read a reply back with getdns: its ID and question count. */
static void
check_reply(const uint8_t *msg, size_t len, uint16_t id)
{
	getdns_dict *d = NULL, *hdr = NULL;
	uint32_t v;

	if (len < 12)
		fail("a reply shorter than a header");
	if ((uint16_t)(msg[0] << 8 | msg[1]) != id)
		fail("a reply with another ID");
	if ((msg[4] << 8 | msg[5]) != 1)
		fail("a reply without exactly one question");
	if (getdns_wire2msg_dict(msg, len, &d) != GETDNS_RETURN_GOOD)
		fail("a reply getdns cannot read");
	if (getdns_dict_get_dict(d, "header", &hdr) != GETDNS_RETURN_GOOD ||
	    getdns_dict_get_int(hdr, "qr", &v) != GETDNS_RETURN_GOOD ||
	    v != 1)
		fail("a reply without QR");
	getdns_dict_destroy(d);
}

/* Build m into out with room for cap bytes; check what came back. */
static void
build(const struct pd_dot_msg *m, size_t cap)
{
	size_t need = 0, i;
	enum pd_err r;

	memset(out, 0xa5, sizeof(out));
	r = pd_wire_build(m, out, cap, &need);
	for (i = cap; i < cap + GUARD; i++)
		if (out[i] != 0xa5)
			fail("a reply written past its buffer");
	if (r != PD_OK)
		return;
	if (need <= cap)
		check_reply(out, need, m->id);
}

static void
replies(const struct pd_dot_query *q)
{
	static const char chain[2][PD_CANON_MAX + 1] = {
		"edge.example.test", "host.example.test"
	};
	struct pd_addr addrs[3];
	struct pd_dot_msg m;
	unsigned i;

	memset(addrs, 0, sizeof(addrs));
	for (i = 0; i < 3; i++) {
		addrs[i].family = q->qtype == 28 ? AF_INET6 : AF_INET;
		addrs[i].addr[0] = 127;
		addrs[i].addr[3] = (uint8_t)(i + 1);
	}
	memset(&m, 0, sizeof(m));
	m.id = q->id;
	m.rd = q->rd;
	m.ad = true;
	m.qname = q->normlen >= 0 ? q->norm : "x.test";
	m.qclass = q->qclass;
	m.qtype = q->qtype;
	m.ttl = 60;
	m.qwire = q->qwire;
	m.qwirelen = q->qwirelen;
	m.edns = q->edns;
	m.do_bit = q->do_bit;
	m.ede = -1;
	/* An answer through a CNAME chain, in a roomy and a tight buffer. */
	m.nchain = 2;
	m.chain = chain;
	m.naddrs = 3;
	m.addrs = addrs;
	build(&m, 65535);
	build(&m, q->udp_size < 65535 ? q->udp_size : 65535);
	build(&m, 12);
	/* A refusal with an Extended DNS Error. */
	memset(&m.nchain, 0, sizeof(m) - offsetof(struct pd_dot_msg, nchain));
	m.qwire = q->qwire;
	m.qwirelen = q->qwirelen;
	m.edns = q->edns;
	m.do_bit = q->do_bit;
	m.rcode = 5;
	m.ede = 15;
	m.ede_text = "blocked by policy";
	build(&m, 65535);
	/* Cut to the question, TC set. */
	m.rcode = 0;
	m.ede = -1;
	m.tc = true;
	build(&m, 512);
}

/* The bytes as a server's reply held against pins. */
static void
pinned(const uint8_t *data, size_t size)
{
	struct pd_addr a[16], b[16];
	uint8_t keep[16];
	unsigned n = 0, m = 0, i, kept = 0;
	size_t len;

	if (size > 4096 || pd_wire_addrs(data, size, a, 16, &n) != PD_OK)
		return;
	if (n > 16)
		fail("more addresses than room for them");
	for (i = 0; i < n; i++)
		kept += keep[i] = (uint8_t)(i % 2 == 0);
	memcpy(out, data, size);
	if (pd_wire_keep(out, size, 65535, keep, n, &len) != PD_OK)
		return;
	if (len > 65535)
		fail("a rewritten reply longer than its buffer");
	if (pd_wire_addrs(out, len, b, 16, &m) != PD_OK)
		fail("a rewritten reply that cannot be read again");
	if (m != kept)
		fail("a rewritten reply without exactly the kept addresses");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pd_dot_query q;

	if (size > 65535)
		return 0;
	memset(&q, 0, sizeof(q));
	if (pd_wire_query(data, size, &q) == PD_OK) {
		if (q.qwirelen > sizeof(q.qwire))
			fail("a question name longer than its buffer");
		if (q.qdcount == 1)
			replies(&q);
	}
	pinned(data, size);
	return 0;
}

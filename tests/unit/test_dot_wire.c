/*
 * resolver/dot/wire.c: reply messages for the res_query door, read back
 * with getdns (the lab test reads them with libresolv): the question as
 * asked, the CNAME chain, addresses, flags, TTL; a message longer than
 * the buffer; and wire_keep, which drops the A/AAAA records the pins
 * refuse (a system rule in filter mode) and keeps everything else.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/wire.h"
#include "tests/unit/tap.h"

static uint32_t
get_int(const getdns_dict *d, const char *path)
{
	uint32_t v = 0xffffffff;

	(void)getdns_dict_get_int(d, path, &v);
	return v;
}

static void
addr4(struct pd_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	(void)inet_pton(AF_INET, s, a->addr);
}

/*
 * The per-thread memo (wire_memo.c): the same facts under another ID give
 * the same bytes but the ID; a fact changed (TTL, an address, the
 * question's case) is built anew; a query read again under another ID
 * reads as that ID.
 */
static void
memo(struct pd_dot_msg *m, struct pd_addr *a)
{
	/* RFC 1035 §4.1: ID 0x1234, RD, one question a.example.com IN A. */
	uint8_t qm[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	    1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
	    0, 1, 0, 1 };
	uint8_t one[1024], two[1024];
	struct pd_dot_query q;
	struct pd_addr got[8];
	getdns_dict *d = NULL;
	size_t n1 = 0, n2 = 0;
	unsigned n = 0;

	m->id = 0x1234;
	T_EQ_INT(pd_wire_build(m, one, sizeof(one), &n1), PD_OK, "memo: one");
	m->id = 0xbeef;
	T_EQ_INT(pd_wire_build(m, two, sizeof(two), &n2), PD_OK, "memo: two");
	T_OK(n1 == n2 && n1 > 12 && memcmp(one + 2, two + 2, n1 - 2) == 0,
	    "memo: another ID, the same bytes after it");
	T_EQ_INT(getdns_wire2msg_dict(two, n2, &d), 0, "memo: getdns reads it");
	T_EQ_INT(get_int(d, "/header/id"), 0xbeef, "memo: with its own ID");
	getdns_dict_destroy(d);
	d = NULL;
	m->ttl = 43;
	T_EQ_INT(pd_wire_build(m, two, sizeof(two), &n2), PD_OK, "memo: ttl");
	T_EQ_INT(getdns_wire2msg_dict(two, n2, &d), 0, "memo: read again");
	T_EQ_INT(get_int(d, "/answer/4/ttl"), 43, "memo: a new TTL is built");
	getdns_dict_destroy(d);
	addr4(&a[2], "203.0.113.5");
	T_EQ_INT(pd_wire_build(m, two, sizeof(two), &n2), PD_OK, "memo: addr");
	T_OK(pd_wire_addrs(two, n2, got, 8, &n) == PD_OK && n == 3 &&
	    memcmp(&got[2], &a[2], sizeof(a[2])) == 0,
	    "memo: a new address is built");

	T_EQ_INT(pd_wire_query(qm, sizeof(qm), &q), PD_OK, "memo: a query");
	T_EQ_INT(q.id, 0x1234, "memo: its ID");
	qm[0] = 0xab;
	qm[1] = 0xcd;
	T_EQ_INT(pd_wire_query(qm, sizeof(qm), &q), PD_OK, "memo: again");
	T_EQ_INT(q.id, 0xabcd, "memo: read with the new ID");
	T_EQ_STR(q.norm, "a.example.com", "memo: the same name");
	qm[13] = 'A';
	T_OK(pd_wire_query(qm, sizeof(qm), &q) == PD_OK && q.qwire[1] == 'A',
	    "memo: the question's case is read anew");
}

int
main(void)
{
	static const char chain[2][PD_CANON_MAX + 1] = { "b.example.net",
	    "c.example.org" };
	struct pd_addr a[3], got[8];
	struct pd_dot_msg m;
	getdns_dict *d = NULL;
	getdns_bindata *b;
	uint8_t buf[1024], keep[3] = { 1, 0, 1 };
	size_t need = 0, len;
	unsigned n = 0;
	char *name = NULL;

	addr4(&a[0], "192.0.2.1");
	addr4(&a[1], "198.51.100.7");
	addr4(&a[2], "192.0.2.3");
	memset(&m, 0, sizeof(m));
	m.id = 0x1234;
	m.rd = true;
	m.ad = true;
	m.qname = "A.Example.COM.";
	m.qclass = 1;
	m.qtype = 1;
	m.ttl = 42;
	m.nchain = 2;
	m.chain = chain;
	m.naddrs = 3;
	m.addrs = a;

	T_EQ_INT(pd_wire_build(&m, buf, sizeof(buf), &need), PD_OK, "build");
	T_OK(need > 12 && need < sizeof(buf), "a message of %zu bytes", need);
	T_EQ_INT(getdns_wire2msg_dict(buf, need, &d), 0, "getdns reads it");
	T_EQ_INT(get_int(d, "/header/id"), 0x1234, "id");
	T_EQ_INT(get_int(d, "/header/qr"), 1, "qr");
	T_EQ_INT(get_int(d, "/header/rd"), 1, "rd");
	T_EQ_INT(get_int(d, "/header/ra"), 1, "ra");
	T_EQ_INT(get_int(d, "/header/ad"), 1, "ad");
	T_EQ_INT(get_int(d, "/header/rcode"), 0, "rcode");
	T_EQ_INT(get_int(d, "/header/ancount"), 5, "2 CNAMEs and 3 A");
	if (getdns_dict_get_bindata(d, "/question/qname", &b) == 0)
		(void)getdns_convert_dns_name_to_fqdn(b, &name);
	T_EQ_STR(name, "A.Example.COM.", "the question as asked");
	free(name);
	name = NULL;
	if (getdns_dict_get_bindata(d, "/answer/0/rdata/cname", &b) == 0)
		(void)getdns_convert_dns_name_to_fqdn(b, &name);
	T_EQ_STR(name, "b.example.net.", "first CNAME target");
	free(name);
	name = NULL;
	if (getdns_dict_get_bindata(d, "/answer/2/name", &b) == 0)
		(void)getdns_convert_dns_name_to_fqdn(b, &name);
	T_EQ_STR(name, "c.example.org.", "the addresses at the chain's end");
	free(name);
	T_EQ_INT(get_int(d, "/answer/4/ttl"), 42, "TTL");
	getdns_dict_destroy(d);
	d = NULL;

	/* A buffer short of the message: its start, and the full length. */
	memset(buf, 0, sizeof(buf));
	T_EQ_INT(pd_wire_build(&m, buf, 20, &len), PD_OK, "short buffer");
	T_EQ_INT(len, need, "the full length reported");
	T_EQ_INT(buf[20], 0, "nothing past the buffer");

	T_EQ_INT(pd_wire_build(&m, buf, sizeof(buf), &need), PD_OK, "again");
	T_EQ_INT(pd_wire_addrs(buf, need, got, 8, &n), PD_OK, "addresses");
	T_EQ_INT(n, 3, "three addresses");
	T_OK(n == 3 && memcmp(&got[1], &a[1], sizeof(a[1])) == 0,
	    "in answer order");
	T_EQ_INT(pd_wire_addrs(buf, 5, got, 8, &n), PD_EPARSE,
	    "shorter than a header");
	T_EQ_INT(pd_wire_addrs(buf, need - 3, got, 8, &n), PD_EPARSE,
	    "the last record cut: not read to the end");
	T_EQ_INT(pd_wire_keep(buf, need - 3, sizeof(buf), keep, 3, &len),
	    PD_EPARSE, "nor rewritten");

	T_EQ_INT(pd_wire_keep(buf, need, sizeof(buf), keep, 3, &len), PD_OK,
	    "keep 1 and 3");
	T_EQ_INT(pd_wire_addrs(buf, len, got, 8, &n), PD_OK, "read again");
	T_EQ_INT(n, 2, "two addresses left");
	T_OK(n == 2 && memcmp(&got[0], &a[0], sizeof(a[0])) == 0 &&
	    memcmp(&got[1], &a[2], sizeof(a[2])) == 0, "the kept ones");
	T_EQ_INT(getdns_wire2msg_dict(buf, len, &d), 0, "still a message");
	T_EQ_INT(get_int(d, "/header/ancount"), 4, "the CNAMEs stay");
	T_EQ_INT(get_int(d, "/header/id"), 0x1234, "the id stays");
	getdns_dict_destroy(d);
	d = NULL;
	memo(&m, a);
	return t_done();
}

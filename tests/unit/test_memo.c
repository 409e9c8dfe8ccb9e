/*
 * resolver/memo.c: the per-thread memo in front of the backend's
 * wire_query and wire_build hands out exactly what the backend makes.
 * Each field of a reply's inputs is changed alone after the base message
 * was memoised: the result must be the backend's for the changed input
 * (a field left out of the key would hand out the base reply). The same
 * input with another ID is served without the backend, with that ID; a
 * query differing in one byte (case) is read again; another thread has
 * a memo of its own; a buffer too small for a memoised reply gets what
 * the backend says.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "resolver/dot/dot.h"
#include "resolver/memo.h"
#include "tests/unit/tap.h"

static const struct pd_dot_ops *real;
static struct pd_dot_ops counting;
static unsigned builds, queries;

static enum pd_err
count_build(const struct pd_dot_msg *m, uint8_t *buf, size_t len,
    size_t *need)
{
	builds++;
	return real->wire_build(m, buf, len, need);
}

static enum pd_err
count_query(const uint8_t *msg, size_t len, struct pd_dot_query *q)
{
	queries++;
	return real->wire_query(msg, len, q);
}

static const char chain[2][PD_CANON_MAX + 1] = { "a.example.com",
    "b.example.net" };
static const char chain2[2][PD_CANON_MAX + 1] = { "a.example.com",
    "c.example.net" };
static const uint8_t qwire[] = "\001A\007example\003com";
static const uint8_t qwire2[] = "\001a\007example\003com";
static struct pd_addr addrs[2], addrs2[2];

static void
base(struct pd_dot_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->id = 0x1234;
	m->rd = true;
	m->ad = true;
	m->rcode = 0;
	m->qname = "a.example.com";
	m->qclass = 1;
	m->qtype = 1;
	m->ttl = 42;
	m->nchain = 2;
	m->chain = chain;
	m->naddrs = 2;
	m->addrs = addrs;
	m->qwire = qwire;
	m->qwirelen = sizeof(qwire);
	m->edns = true;
	m->do_bit = true;
	m->ede = -1;
}

/* The memo's reply to m equals the backend's, byte for byte. */
static void
same_as_backend(const struct pd_dot_msg *m, const char *what)
{
	uint8_t a[1500], b[1500];
	size_t na = 0, nb = 0;
	enum pd_err ra, rb;

	ra = pd_memo_build(&counting, m, a, sizeof(a), &na);
	rb = real->wire_build(m, b, sizeof(b), &nb);
	T_OK(ra == rb && na == nb && memcmp(a, b, na) == 0,
	    "%s: the backend's reply (%zu vs %zu bytes)", what, na, nb);
}

static void *
other_thread(void *arg)
{
	struct pd_dot_msg m;
	uint8_t buf[1500];
	size_t n;

	(void)arg;
	base(&m);
	(void)pd_memo_build(&counting, &m, buf, sizeof(buf), &n);
	return NULL;
}

int
main(void)
{
	struct pd_dot_msg m;
	struct pd_dot_query q1, q2;
	uint8_t buf[1500], msg[512];
	size_t n = 0, n1, len;
	unsigned b0;
	pthread_t t;

	if ((real = pd_dot_get(NULL, 0)) == NULL)
		T_OK(0, "the backend loads");
	counting = *real;
	counting.wire_build = count_build;
	counting.wire_query = count_query;
	addrs[0].family = addrs[1].family = AF_INET;
	(void)inet_pton(AF_INET, "192.0.2.1", addrs[0].addr);
	(void)inet_pton(AF_INET, "192.0.2.2", addrs[1].addr);
	memcpy(addrs2, addrs, sizeof(addrs));
	addrs2[1].addr[3] = 9;

	/* ---------------------------------------------- replies */
	base(&m);
	same_as_backend(&m, "base");
	b0 = builds;
	m.id = 0xbeef;
	same_as_backend(&m, "another ID");
	T_EQ_INT(builds, b0, "another ID: served from the memo");
	n1 = 0;
	(void)pd_memo_build(&counting, &m, buf, sizeof(buf), &n1);
	T_OK(n1 > 2 && buf[0] == 0xbe && buf[1] == 0xef,
	    "another ID: written over the first two bytes");

#define VARY(stmt, what) do {						\
		base(&m);						\
		(void)pd_memo_build(&counting, &m, buf, sizeof(buf), &n); \
		stmt;							\
		b0 = builds;						\
		same_as_backend(&m, what);				\
		T_OK(builds > b0, "%s: asks the backend", what);	\
	} while (0)
	VARY(m.rd = false, "rd");
	VARY(m.ad = false, "ad");
	VARY(m.rcode = 3, "rcode");
	VARY((m.qwire = NULL, m.qname = "a.example.org"), "qname");
	VARY(m.qclass = 3, "qclass");
	VARY(m.qtype = 28, "qtype");
	VARY(m.ttl = 41, "ttl");
	VARY(m.nchain = 1, "nchain");
	VARY(m.chain = chain2, "a chain link");
	VARY(m.naddrs = 1, "naddrs");
	VARY(m.addrs = addrs2, "an address");
	VARY(m.qwire = qwire2, "the question's case");
	VARY(m.edns = false, "edns");
	VARY(m.do_bit = false, "do");
	VARY(m.ede = 15, "ede");
	VARY((m.ede = 15, m.ede_text = "no"), "ede_text");
	VARY(m.tc = true, "tc");
#undef VARY

	/* A memoised reply that does not fit: the backend's answer. */
	base(&m);
	(void)pd_memo_build(&counting, &m, buf, sizeof(buf), &n);
	n1 = 0;
	T_EQ_INT(pd_memo_build(&counting, &m, buf, 20, &n1), PD_OK,
	    "a short buffer: PD_OK");
	T_EQ_INT(n1, n, "a short buffer: the length it needs");

	/* Another thread: a memo of its own (the backend asked again). */
	b0 = builds;
	T_EQ_INT(pthread_create(&t, NULL, other_thread, NULL), 0, "thread");
	(void)pthread_join(t, NULL);
	T_EQ_INT(builds, b0 + 1, "another thread asks the backend");

	/* ---------------------------------------------- queries */
	base(&m);
	m.rd = true;
	m.naddrs = 0;
	m.nchain = 0;
	(void)real->wire_build(&m, msg, sizeof(msg), &len);
	msg[2] &= 0x7f;		/* a query: QR clear */
	T_EQ_INT(pd_memo_query(&counting, msg, len, &q1), PD_OK, "query read");
	T_EQ_INT(queries, 1, "query: the backend read it");
	msg[0] = 0x55;
	msg[1] = 0x66;
	T_EQ_INT(pd_memo_query(&counting, msg, len, &q2), PD_OK,
	    "the same query, another ID");
	T_EQ_INT(queries, 1, "another ID: from the memo");
	T_EQ_INT(q2.id, 0x5566, "another ID: the query's own");
	q2.id = q1.id;
	T_OK(memcmp(&q1, &q2, sizeof(q1)) == 0, "another ID: all else equal");
	msg[13] = 'a';		/* the name's first letter, lower case */
	T_EQ_INT(pd_memo_query(&counting, msg, len, &q2), PD_OK,
	    "one byte changed");
	T_EQ_INT(queries, 2, "one byte changed: read again");
	T_EQ_INT(q2.qwire[1], 'a', "one byte changed: the new question");
	return t_done();
}

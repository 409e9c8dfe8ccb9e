/*
 * pindns DoT backend: a memo of the two message conversions the
 * responder makes per query (resolver/dot/wire.h).
 *
 * Reading a query (pd_wire_query) and laying out a reply (pd_wire_build)
 * go through getdns dicts: some 7 us of the 17 a cached answer costs,
 * most of it allocating and comparing dict keys. Both are pure functions
 * of their input, and a client asks the same few questions again and
 * again with only the ID changed. So each thread remembers the last few
 * inputs and what getdns made of them, and gives those bytes back for the
 * same input, ID written in: the very bytes getdns wrote, not bytes laid
 * out by hand. Anything that changes the reply (TTL, addresses, flags,
 * the question's case) changes the input, and getdns is asked again.
 *
 * Per thread, direct-mapped by a hash of the input: MEMO_WAYS entries of
 * each kind, inputs and outputs of bounded size (larger ones are never
 * kept). Hostile queries can only evict each other. Memory is freed when
 * the thread exits.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dot/wire.h"

#define MEMO_WAYS	4
#define QKEY_MAX	512	/* a query's bytes after its ID */
#define BKEY_MAX	1536	/* a reply's facts, serialised */
#define BOUT_MAX	1536	/* a reply's bytes */

struct qmemo {
	size_t			len;	/* 0: empty */
	uint8_t			key[QKEY_MAX];
	struct pd_dot_query	q;
};

struct bmemo {
	size_t			klen;	/* 0: empty */
	size_t			olen;
	uint8_t			key[BKEY_MAX];
	uint8_t			out[BOUT_MAX];
};

struct memo {
	struct qmemo	q[MEMO_WAYS];
	struct bmemo	b[MEMO_WAYS];
};

static __thread struct memo *tm;
static pthread_key_t tm_key;
static pthread_once_t tm_once = PTHREAD_ONCE_INIT;
static bool tm_key_ok;

static void
tm_init(void)
{
	tm_key_ok = pthread_key_create(&tm_key, free) == 0;
}

static struct memo *
tm_get(void)
{
	struct memo *m;

	if (tm != NULL)
		return tm;
	(void)pthread_once(&tm_once, tm_init);
	if (!tm_key_ok || (m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if (pthread_setspecific(tm_key, m) != 0) {
		free(m);
		return NULL;
	}
	tm = m;
	return m;
}

/* FNV-1a: the slot only; a hit compares the whole input. */
static unsigned
slot(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h % MEMO_WAYS;
}

/* ------------------------------------------------------------ queries */

bool
pd_wire_memo_query_get(const uint8_t *msg, size_t len, struct pd_dot_query *q)
{
	struct qmemo *e;

	if (tm == NULL || len < 12 || len - 2 > QKEY_MAX)
		return false;
	e = &tm->q[slot(msg + 2, len - 2)];
	if (e->len != len - 2 || memcmp(e->key, msg + 2, len - 2) != 0)
		return false;
	*q = e->q;
	q->id = (uint16_t)(msg[0] << 8 | msg[1]);	/* RFC 1035 §4.1.1 */
	return true;
}

void
pd_wire_memo_query_put(const uint8_t *msg, size_t len,
    const struct pd_dot_query *q)
{
	struct memo *m;
	struct qmemo *e;

	if (len < 12 || len - 2 > QKEY_MAX || (m = tm_get()) == NULL)
		return;
	e = &m->q[slot(msg + 2, len - 2)];
	memcpy(e->key, msg + 2, len - 2);
	e->q = *q;
	e->len = len - 2;
}

/* ------------------------------------------------------------ replies */

/* Append n bytes of p to k (cap BKEY_MAX); false when they do not fit. */
static bool
add(uint8_t *k, size_t *o, const void *p, size_t n)
{
	if (n > BKEY_MAX - *o)
		return false;
	memcpy(k + *o, p, n);
	*o += n;
	return true;
}

static bool
add_str(uint8_t *k, size_t *o, const char *s)
{
	return add(k, o, s, strlen(s) + 1);
}

/*
 * Everything of m that pd_wire_build reads, but the ID, as bytes in k:
 * its length, 0 when it does not fit.
 */
static size_t
build_key(const struct pd_dot_msg *m, uint8_t *k)
{
	struct {
		uint32_t	ttl;
		int32_t		rcode;
		int32_t		ede;
		uint32_t	nchain;
		uint32_t	naddrs;
		uint32_t	qwirelen;
		uint16_t	qclass;
		uint16_t	qtype;
		uint8_t		rd, ad, edns, do_bit, tc, has_qwire, has_ede;
		uint8_t		pad;
	} f;
	size_t o = 0;
	unsigned i;

	memset(&f, 0, sizeof(f));
	f.ttl = m->ttl;
	f.rcode = m->rcode;
	f.ede = m->ede;
	f.nchain = m->nchain;
	f.naddrs = m->naddrs;
	f.qwirelen = (uint32_t)m->qwirelen;
	f.qclass = m->qclass;
	f.qtype = m->qtype;
	f.rd = m->rd;
	f.ad = m->ad;
	f.edns = m->edns;
	f.do_bit = m->do_bit;
	f.tc = m->tc;
	f.has_qwire = m->qwire != NULL;
	f.has_ede = m->ede_text != NULL;
	if (!add(k, &o, &f, sizeof(f)))
		return 0;
	if (m->qwire != NULL ? !add(k, &o, m->qwire, m->qwirelen) :
	    !add_str(k, &o, m->qname))
		return 0;
	for (i = 0; i < m->nchain; i++)
		if (!add_str(k, &o, m->chain[i]))
			return 0;
	for (i = 0; i < m->naddrs; i++)
		if (!add(k, &o, &m->addrs[i].family,
		    sizeof(m->addrs[i].family)) ||
		    !add(k, &o, m->addrs[i].addr, sizeof(m->addrs[i].addr)))
			return 0;
	if (m->ede_text != NULL && !add_str(k, &o, m->ede_text))
		return 0;
	return o;
}

bool
pd_wire_memo_build_get(const struct pd_dot_msg *m, uint8_t *buf, size_t len,
    size_t *need)
{
	uint8_t k[BKEY_MAX];
	struct bmemo *e;
	size_t n;

	if (tm == NULL || (n = build_key(m, k)) == 0)
		return false;
	e = &tm->b[slot(k, n)];
	if (e->klen != n || memcmp(e->key, k, n) != 0 || e->olen > len)
		return false;
	memcpy(buf, e->out, e->olen);
	buf[0] = (uint8_t)(m->id >> 8);
	buf[1] = (uint8_t)m->id;
	*need = e->olen;
	return true;
}

void
pd_wire_memo_build_put(const struct pd_dot_msg *m, const uint8_t *out,
    size_t n)
{
	uint8_t k[BKEY_MAX];
	struct memo *mm;
	struct bmemo *e;
	size_t kn;

	if (n < 12 || n > BOUT_MAX || (kn = build_key(m, k)) == 0 ||
	    (mm = tm_get()) == NULL)
		return;
	e = &mm->b[slot(k, kn)];
	memcpy(e->key, k, kn);
	memcpy(e->out, out, n);
	e->olen = n;
	e->klen = kn;
}

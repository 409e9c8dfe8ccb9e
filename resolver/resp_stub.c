/*
 * pindns engine: pindns serve's stub to the system nameservers
 * (resolver/serve.h, struct pd_stub_conf).
 *
 * A query no rule claims goes to the nameservers of system_resolv_conf
 * the way glibc's stub sends it (resolv/res_send.c, 2.36): in file order
 * (with `rotate`, the first one moves round one place per query), each
 * round `attempts` times; the wait for nameserver number i of a round is
 * timeout << i, divided by the number of nameservers when i > 0, at
 * least one second. A server that answers SERVFAIL, REFUSED or NOTIMP,
 * or whose port is unreachable (ICMP, seen as ECONNREFUSED on the
 * connected socket), is passed over at once for the next. The first
 * other reply with the query's ID goes to the client byte for byte; when
 * every try failed the last SERVFAIL/REFUSED/NOTIMP reply does, and when
 * there was none the client gets SERVFAIL from us. The whole exchange
 * keeps within PD_STUB_BUDGET_MS: a glibc client asks again after its
 * own timeout (5 s by default), and an answer after that goes nowhere.
 *
 * Queries from the UDP loop (resp_serve.c) wait in a table only the
 * loop's thread touches, each with a socket of its own connected to the
 * nameserver being asked (so only that server's replies reach it, as in
 * glibc); a worker asking for a pinned `system` name uses pd_stub_ask,
 * the same steps waited out in place.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/serve.h"

#define STUB_MAX	PD_STUB_MAX
#define RCODE_SERVFAIL	2	/* RFC 1035 §4.1.1 */
#define RCODE_NOTIMP	4
#define RCODE_REFUSED	5

struct sq {
	const struct pd_stub_conf *c;
	int			 fd;	/* to the nameserver asked now */
	unsigned		 step;	/* tries made (round * n + place) */
	unsigned		 off;	/* rotate: the round's first */
	uint64_t		 end_ms;	/* of the whole exchange */
	uint64_t		 until_ms;	/* of this try */
	size_t			 len;
	uint8_t			*msg;
	size_t			 blen;	/* the last SERVFAIL/... reply */
	uint8_t			*bad;
	struct pd_resp_to	 to;
	struct pd_resp_q	 rq;
};

/* The loop's table (its thread only). */
static struct sq *T[STUB_MAX];
static unsigned nt;
static unsigned rot;	/* rotate: queries started (atomic) */

/* glibc's wait for place i of a round, in ms (send_dg's seconds). */
static uint64_t
wait_ms(const struct pd_stub_conf *c, unsigned i)
{
	unsigned s = c->timeout_s << i;

	if (i > 0)
		s /= c->n;
	return (uint64_t)(s > 0 ? s : 1) * 1000;
}

/*
 * Send q to the next nameserver with a socket of its own. False when no
 * try is left (every try made, or the budget spent).
 */
static bool
sq_send(struct sq *q, uint64_t now)
{
	const struct pd_stub_conf *c = q->c;
	unsigned i, k;
	uint64_t w;

	for (; q->step < c->attempts * c->n && now < q->end_ms; q->step++) {
		i = q->step % c->n;
		k = (q->off + i) % c->n;
		if (q->fd >= 0)
			(void)close(q->fd);
		if ((q->fd = socket(c->ns[k].ss_family, SOCK_DGRAM |
		    SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
			continue;
		if (connect(q->fd, (const struct sockaddr *)&c->ns[k],
		    c->nslen[k]) != 0 ||
		    send(q->fd, q->msg, q->len, 0) != (ssize_t)q->len)
			continue;	/* a network error: the next one */
		w = wait_ms(c, i);
		q->until_ms = now + w < q->end_ms ? now + w : q->end_ms;
		q->step++;
		return true;
	}
	return false;
}

/*
 * Read what q's socket has. 1: a reply for the client in buf (*n bytes);
 * -1: this nameserver failed (the next one, now); 0: keep waiting.
 */
static int
sq_read(struct sq *q, uint8_t *buf, size_t cap, size_t *n)
{
	ssize_t r;
	unsigned rc;
	uint8_t *b;

	for (;;) {
		r = recv(q->fd, buf, cap, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 :
			    -1;
		}
		/* Not the reply to this query (a late one, or noise). */
		if (r < 12 || (buf[2] & 0x80) == 0 ||
		    pd_resp_id(buf, (size_t)r) != pd_resp_id(q->msg, q->len))
			continue;
		rc = buf[3] & 0x0f;
		if (rc != RCODE_SERVFAIL && rc != RCODE_NOTIMP &&
		    rc != RCODE_REFUSED) {
			*n = (size_t)r;
			return 1;
		}
		/* Kept, byte for byte, in case no one does better. */
		if ((b = realloc(q->bad, (size_t)r)) != NULL) {
			memcpy(b, buf, (size_t)r);
			q->bad = b;
			q->blen = (size_t)r;
		}
		return -1;
	}
}

/* What the client gets when every try failed. */
static size_t
sq_failed(const struct sq *q, uint8_t *buf, size_t cap)
{
	if (q->bad != NULL && q->blen <= cap) {
		memcpy(buf, q->bad, q->blen);
		return q->blen;
	}
	return pd_resp_error(&q->rq, PD_VERDICT_FAILED,
	    PD_REASON_UNREACHABLE, buf, cap);
}

static void
sq_free(struct sq *q)
{
	if (q == NULL)
		return;
	if (q->fd >= 0)
		(void)close(q->fd);
	free(q->bad);
	free(q);
}

static struct sq *
sq_new(const struct pd_stub_conf *c, const struct pd_resp_q *rq,
    const uint8_t *msg, size_t len, uint64_t now)
{
	struct sq *q;

	if ((q = calloc(1, sizeof(*q) + len)) == NULL)
		return NULL;
	q->c = c;
	q->fd = -1;
	q->msg = (uint8_t *)(q + 1);
	memcpy(q->msg, msg, len);
	q->len = len;
	q->rq = *rq;
	q->end_ms = now + PD_STUB_BUDGET_MS;
	/* Workers (pd_stub_ask) start queries too. */
	q->off = c->rotate ? __atomic_fetch_add(&rot, 1, __ATOMIC_RELAXED) %
	    c->n : 0;
	return q;
}

/* ------------------------------------------------------------ the loop */

int
pd_stub_start(const struct pd_stub_conf *c, const struct pd_resp_to *to,
    const struct pd_resp_q *rq, const uint8_t *msg, size_t len,
    uint64_t now)
{
	struct sq *q;

	if (c == NULL || c->n == 0 || nt == STUB_MAX ||
	    (q = sq_new(c, rq, msg, len, now)) == NULL)
		return -1;
	q->to = *to;
	if (!sq_send(q, now)) {
		sq_free(q);
		return -1;
	}
	T[nt++] = q;
	return 0;
}

unsigned
pd_stub_poll(struct pollfd *pfd, uint64_t now, int *wait)
{
	unsigned i;
	uint64_t left;

	for (i = 0; i < nt; i++) {
		pfd[i].fd = T[i]->fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
		left = T[i]->until_ms > now ? T[i]->until_ms - now : 0;
		if (left < (uint64_t)*wait)
			*wait = (int)left;
	}
	return nt;
}

void
pd_stub_run(const struct pollfd *pfd, unsigned n, uint8_t *buf, size_t cap,
    uint64_t now)
{
	struct sq *q;
	size_t out;
	unsigned i;
	int r;

	/* Backwards: a finished query's place takes the last one's. */
	for (i = n; i-- > 0;) {
		q = T[i];
		r = 0;
		out = 0;
		if (pfd[i].revents != 0)
			r = sq_read(q, buf, cap, &out);
		if (r == 0 && now >= q->until_ms)
			r = -1;
		if (r == 0)
			continue;
		if (r < 0 && sq_send(q, now))
			continue;
		if (r < 0)
			out = sq_failed(q, buf, cap);
		if (q->to.serve)
			pd_log_set_client_sa((const struct sockaddr *)&q->to.l);
		if (out > 0)
			(void)sendto(q->to.ufd, buf, out, MSG_DONTWAIT,
			    (const struct sockaddr *)&q->to.l, q->to.llen);
		sq_free(q);
		T[i] = T[--nt];
	}
}

void
pd_stub_forked(void)
{
	unsigned i;

	/* Our copies of the parent's sockets; its memory is leaked (the
	 * loop's thread may have been writing it). */
	for (i = 0; i < nt; i++)
		if (T[i]->fd >= 0)
			(void)close(T[i]->fd);
	nt = 0;
}

/* ------------------------------------------------------------ in place */

size_t
pd_stub_ask(const struct pd_stub_conf *c, const struct pd_resp_q *rq,
    const uint8_t *msg, size_t len, uint8_t *buf, size_t cap)
{
	struct pollfd pfd;
	struct sq *q;
	uint64_t now = pd_clock_ms();
	size_t out = 0;
	int r;

	if (c == NULL || c->n == 0 || (q = sq_new(c, rq, msg, len, now)) ==
	    NULL)
		return 0;
	if (!sq_send(q, now))
		goto out;
	for (;;) {
		pfd.fd = q->fd;
		pfd.events = POLLIN;
		now = pd_clock_ms();
		r = 0;
		if (now < q->until_ms &&
		    poll(&pfd, 1, (int)(q->until_ms - now)) > 0)
			r = sq_read(q, buf, cap, &out);
		else if (pd_clock_ms() >= q->until_ms)
			r = -1;
		if (r > 0)
			break;
		if (r < 0 && !sq_send(q, pd_clock_ms())) {
			/* Nothing heard: nothing to hold against pins. */
			out = q->bad != NULL ? sq_failed(q, buf, cap) : 0;
			break;
		}
	}
out:
	sq_free(q);
	return out;
}

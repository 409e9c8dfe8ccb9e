/*
 * pindns engine: the responder's TCP connections (resolver/resp.h).
 *
 * Each accepted connection gets a thread. Messages come framed by their
 * two-byte length (RFC 1035 §4.2.2; RFC 7766); a claimed question is
 * answered here, anything else goes to X over a connection of our own,
 * opened on the first such message, and X's frames come back unchanged.
 * A pinned `system` question goes to X too, and X's reply to it (found by
 * its ID) is held against the pins before it is relayed. When X closes,
 * so do we (the program sees what it would have seen); when the program
 * closes, or no whole message moves for the idle time (TCP_IDLE_MS;
 * bytes dribbled one at a time do not count: slowloris), both go. At
 * most TCP_MAX connections at once (pindns serve sets both): more are
 * closed at once, as a busy server would.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/serve.h"
#include "resolver/stats.h"

#define TCP_MAX		64
#define TCP_MAX_HARD	1024
#define TCP_IDLE_MS	30000
#define PIN_PENDING	16	/* pinned queries awaiting X's reply */
#define FWD_PENDING	16	/* serve: forwarded queries awaiting X */

/*
 * pindns serve: a query sent to X and not answered yet. X (a system
 * resolver) may close its end after any reply, as RFC 7766 §6.2.3
 * allows; the client's connection stays, and what X had not answered is
 * sent once more on a new connection, then answered SERVFAIL.
 */
struct pend {
	struct pd_resp_q	 rq;
	bool			 resent;
	size_t			 len;
	uint8_t			*msg;	/* the frame, length bytes first */
};
struct conn {
	int			 cfd;	/* the program's */
	int			 xfd;	/* ours to X, -1 until needed */
	struct sockaddr_storage	 x;
	socklen_t		 xlen;
	const struct pd_stub_conf *ns;	/* serve: the nameservers (or NULL) */
	size_t			 cin;	/* bytes in ibuf */
	size_t			 xin;	/* bytes in xbuf */
	unsigned		 npin;
	bool			 serve;
	unsigned		 frames;	/* whole messages moved */
	unsigned		 npend;
	struct pend		 pend[FWD_PENDING];
	struct pd_resp_q	 pin[PIN_PENDING];
	uint8_t			 ibuf[2 + PD_RESP_MSG_MAX];
	uint8_t			 xbuf[2 + PD_RESP_MSG_MAX];
	uint8_t			 obuf[2 + PD_RESP_MSG_MAX];
};

/* Descriptors of live connections, for a forked child to close. */
static struct {
	pthread_mutex_t	mu;
	int		fds[2 * TCP_MAX_HARD];
	unsigned	n;
	unsigned	max;		/* connections */
	unsigned	idle_ms;
} T = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.max = TCP_MAX,
	.idle_ms = TCP_IDLE_MS,
};

void
pd_resp_tcp_tune(unsigned max, unsigned idle_ms)
{
	(void)pthread_mutex_lock(&T.mu);
	if (max > 0)
		T.max = max < TCP_MAX_HARD ? max : TCP_MAX_HARD;
	if (idle_ms > 0)
		T.idle_ms = idle_ms;
	(void)pthread_mutex_unlock(&T.mu);
}

static pthread_once_t tcp_once = PTHREAD_ONCE_INIT;

static void
tcp_prepare(void)
{
	(void)pthread_mutex_lock(&T.mu);
}

static void
tcp_parent(void)
{
	(void)pthread_mutex_unlock(&T.mu);
}

static void
tcp_child(void)
{
	(void)pthread_mutex_unlock(&T.mu);
}

static void
tcp_init(void)
{
	(void)pthread_atfork(tcp_prepare, tcp_parent, tcp_child);
}

void
pd_resp_tcp_forked(void)
{
	unsigned i;

	/* Our threads are gone; their descriptors are the parent's. */
	for (i = 0; i < T.n; i++)
		(void)close(T.fds[i]);
	T.n = 0;
}

static bool
fd_track(int fd)
{
	bool ok;

	(void)pthread_mutex_lock(&T.mu);
	if ((ok = T.n < 2 * T.max))
		T.fds[T.n++] = fd;
	(void)pthread_mutex_unlock(&T.mu);
	return ok;
}

static void
fd_close(int fd)
{
	unsigned i;

	(void)pthread_mutex_lock(&T.mu);
	for (i = 0; i < T.n; i++)
		if (T.fds[i] == fd) {
			T.fds[i] = T.fds[--T.n];
			break;
		}
	(void)close(fd);
	(void)pthread_mutex_unlock(&T.mu);
}

/* All of buf to fd (blocking descriptors). False on error. */
static bool
put_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t w;

	while (len > 0) {
		w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		buf += w;
		len -= (size_t)w;
	}
	return true;
}

/* One frame of n message bytes (already at buf + 2) to fd. */
static bool
put_frame(int fd, uint8_t *buf, size_t n)
{
	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	return put_all(fd, buf, n + 2);
}

/* A connection to x; -1 when it cannot be made. */
static int
connect_x(const struct sockaddr_storage *x, socklen_t xlen)
{
	int fd, one = 1;

	if ((fd = socket(x->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (!fd_track(fd) || connect(fd, (const struct sockaddr *)x,
	    xlen) != 0) {
		fd_close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Our connection to X. pindns serve: the first of the system nameservers
 * that takes one, in file order (glibc's stub over TCP, one try each).
 */
static bool
open_x(struct conn *c)
{
	unsigned k;

	if (c->xfd >= 0)
		return true;
	if (c->ns == NULL || c->ns->n == 0)
		return (c->xfd = connect_x(&c->x, c->xlen)) >= 0;
	for (k = 0; k < c->ns->n; k++)
		if ((c->xfd = connect_x(&c->ns->ns[k], c->ns->nslen[k])) >= 0)
			return true;
	return false;
}

static bool pend_add(struct conn *c, const struct pd_resp_q *rq,
    const uint8_t *frm, size_t len);

/* One whole query frame from the program. False: close the connection. */
static bool
query(struct conn *c, uint8_t *msg, size_t len)
{
	struct pd_resp_q rq;
	uint64_t t0 = c->serve ? pd_clock_ns() : 0;
	size_t n;
	bool unread, ok;

	pd_resp_classify(msg, len, &rq, &unread);
	if (unread)
		return false;	/* nothing can be read: nothing may pass */
	c->frames++;
	if (c->serve && (rq.act = pd_resp_serve_act(&rq, c->xlen != 0)) ==
	    PD_RESP_ODD) {
		n = pd_resp_odd(&rq, c->obuf + 2, sizeof(c->obuf) - 2);
		ok = n > 0 && put_frame(c->cfd, c->obuf, n);
		pd_stats_query(PD_TR_TCP, PD_QA_REFUSED,
		    (pd_clock_ns() - t0) / 1000);
		return ok;
	}
	if (rq.act == PD_RESP_NOW || rq.act == PD_RESP_WAIT) {
		n = pd_resp_answer(&rq, c->obuf + 2, sizeof(c->obuf) - 2,
		    PD_RESP_MSG_MAX);
		ok = n > 0 && put_frame(c->cfd, c->obuf, n);
		if (c->serve)
			pd_stats_query(PD_TR_TCP, PD_QA_ANSWERED,
			    (pd_clock_ns() - t0) / 1000);
		return ok;
	}
	if (c->serve)
		pd_stats_query(PD_TR_TCP, PD_QA_FORWARDED, 0);
	if (rq.act == PD_RESP_PINNED) {
		/* X's reply to it is held against the pins (reply()). */
		if (c->npin == PIN_PENDING)
			return false;
		c->pin[c->npin++] = rq;
	}
	if (c->serve && !pend_add(c, &rq, msg - 2, len + 2)) {
		n = pd_resp_error(&rq, PD_VERDICT_FAILED, PD_REASON_NONE,
		    c->obuf + 2, sizeof(c->obuf) - 2);
		return n > 0 && put_frame(c->cfd, c->obuf, n);
	}
	return open_x(c) && put_all(c->xfd, msg - 2, len + 2);
}

/* serve: remember a query sent to X. False: too many pending. */
static bool
pend_add(struct conn *c, const struct pd_resp_q *rq, const uint8_t *frm,
    size_t len)
{
	struct pend *p;

	if (c->npend == FWD_PENDING)
		return false;
	p = &c->pend[c->npend];
	if ((p->msg = malloc(len)) == NULL)
		return false;
	memcpy(p->msg, frm, len);
	p->len = len;
	p->rq = *rq;
	p->resent = false;
	c->npend++;
	return true;
}

static void
pend_drop(struct conn *c, unsigned i)
{
	free(c->pend[i].msg);
	c->pend[i] = c->pend[--c->npend];
}

/*
 * serve: X closed its end. Send what it left unanswered once more on a
 * new connection; what was sent twice gets SERVFAIL. False: the client
 * is gone.
 */
static bool
x_closed(struct conn *c)
{
	unsigned i;
	size_t n;

	fd_close(c->xfd);
	c->xfd = -1;
	c->xin = 0;
	c->npin = 0;
	for (i = c->npend; i-- > 0;) {
		if (!c->pend[i].resent && open_x(c) &&
		    put_all(c->xfd, c->pend[i].msg, c->pend[i].len)) {
			c->pend[i].resent = true;
			continue;
		}
		n = pd_resp_error(&c->pend[i].rq, PD_VERDICT_FAILED,
		    PD_REASON_UNREACHABLE, c->obuf + 2, sizeof(c->obuf) - 2);
		pend_drop(c, i);
		if (n > 0 && !put_frame(c->cfd, c->obuf, n))
			return false;
	}
	return true;
}

/* One whole reply frame from X, to the program. */
static bool
reply(struct conn *c, uint8_t *msg, size_t len, size_t cap)
{
	uint16_t id = pd_resp_id(msg, len);
	unsigned i;

	c->frames++;
	for (i = 0; i < c->npend; i++)
		if (c->pend[i].rq.q.id == id) {
			pend_drop(c, i);
			break;
		}
	for (i = 0; i < c->npin; i++)
		if (c->pin[i].q.id == id) {
			len = pd_resp_pin(&c->pin[i], msg, len, cap,
			    PD_RESP_MSG_MAX);
			c->pin[i] = c->pin[--c->npin];
			if (len == 0)
				return false;
			break;
		}
	return put_frame(c->cfd, msg - 2, len);
}

/*
 * Read what fd has into buf (holding *have bytes) and hand each whole
 * frame to fn. False when fd closed or failed, or fn said so.
 */
static bool
pump(struct conn *c, int fd, uint8_t *buf, size_t *have, bool from_x)
{
	size_t need;
	ssize_t n;

	n = recv(fd, buf + *have, sizeof(c->ibuf) - *have, 0);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	*have += (size_t)n;
	while (*have >= 2 && *have >= 2 + (need = (size_t)buf[0] << 8 |
	    buf[1])) {
		if (from_x ? !reply(c, buf + 2, need, sizeof(c->xbuf) - 2) :
		    !query(c, buf + 2, need))
			return false;
		memmove(buf, buf + 2 + need, *have - 2 - need);
		*have -= 2 + need;
	}
	return true;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct pollfd pfd[2];
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	uint64_t idle = T.idle_ms, last = pd_clock_ms(), now;
	unsigned seen = 0;
	int n;

	if (c->serve && getpeername(c->cfd, (struct sockaddr *)&peer,
	    &plen) == 0)
		pd_log_set_client_sa((struct sockaddr *)&peer);
	for (;;) {
		if (c->frames != seen) {
			seen = c->frames;
			last = pd_clock_ms();
		}
		if ((now = pd_clock_ms()) - last >= idle)
			break;
		pfd[0].fd = c->cfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = c->xfd;
		pfd[1].events = POLLIN;
		n = poll(pfd, c->xfd >= 0 ? 2 : 1, (int)(idle - (now - last)));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0)
			continue;	/* the deadline is checked above */
		if (c->xfd >= 0 && pfd[1].revents != 0 &&
		    !pump(c, c->xfd, c->xbuf, &c->xin, true) &&
		    (!c->serve || !x_closed(c)))
			break;
		if (pfd[0].revents != 0 &&
		    !pump(c, c->cfd, c->ibuf, &c->cin, false))
			break;
	}
	if (c->xfd >= 0)
		fd_close(c->xfd);
	fd_close(c->cfd);
	while (c->npend > 0)
		pend_drop(c, c->npend - 1);
	free(c);
	return NULL;
}

int
pd_resp_tcp_start(int cfd, const struct sockaddr *to, unsigned tolen,
    bool serve, const struct pd_stub_conf *ns)
{
	struct conn *c;
	int one = 1;

	(void)pthread_once(&tcp_once, tcp_init);
	if ((c = malloc(sizeof(*c))) == NULL) {
		(void)close(cfd);
		return -1;
	}
	c->cfd = cfd;
	c->xfd = -1;
	c->cin = c->xin = 0;
	c->npin = 0;
	c->serve = serve;
	c->ns = ns;
	c->frames = 0;
	c->npend = 0;
	/* No server is NULL, 0 (memcpy must not see a NULL). */
	if (to == NULL || tolen > sizeof(c->x))
		tolen = 0;
	if (tolen > 0)
		memcpy(&c->x, to, tolen);
	c->xlen = tolen;
	(void)setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!fd_track(cfd)) {
		(void)close(cfd);
		free(c);
		return -1;
	}
	if (pd_resp_thread(conn_main, c) != 0) {
		fd_close(cfd);
		free(c);
		return -1;
	}
	return 0;
}

/*
 * pindns engine: the responder's endpoints and its UDP loop
 * (resolver/resp.h; its workers are resp_pool.c's).
 *
 * An endpoint R(X) is a UDP socket and a TCP listener bound to the same
 * ephemeral loopback port, so one port names X for both transports (the
 * preload maps R back to X with no per-socket state). One thread polls
 * every endpoint's UDP socket, every listener and the forward sockets:
 *  - a query no rule claims goes to X from a forward socket of its own
 *    client (one per client address and endpoint, connected to X, so X's
 *    replies come back to it), and each datagram X sends there is relayed
 *    unchanged to the client from R(X);
 *  - a claimed question answered from the cache (or refused at once) is
 *    answered on the loop; one that may need the network, and a pinned
 *    `system` one, go to a worker (resp_pool.c), so a slow miss never
 *    holds up another client;
 *  - a TCP connection is handed to a thread of its own (resp_tcp.c).
 * Forward sockets idle for FWD_IDLE_MS are closed; at most FWD_MAX are
 * open (the least recently used goes first).
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/serve.h"
#include "resolver/stats.h"

#define EP_MAX		64	/* endpoints (servers x families) */
#define FWD_MAX		256	/* UDP forward sockets */
#define FWD_IDLE_MS	10000
#define DRAIN_MAX	64	/* datagrams read per socket per round */

struct ep {
	int			 fam;	/* of the program's sockets */
	struct sockaddr_storage	 x;	/* the server, as the program named it */
	socklen_t		 xlen;
	struct sockaddr_storage	 r;	/* R(X), as the program sees it */
	socklen_t		 rlen;
	int			 ufd;
	int			 ufam;	/* of ufd (AF_INET for a mapped r) */
	int			 lfd;
	bool			 serve;	/* pindns serve's (resolver/serve.h);
					 * xlen 0 there: no X */
	struct pd_stub_conf	 ns;	/* serve: X and the others after it */
};

struct fwd {
	struct ep		*ep;
	struct sockaddr_storage	 l;	/* the client */
	socklen_t		 llen;
	int			 fd;	/* connected to X */
	uint64_t		 last_ms;
};

static struct {
	pthread_mutex_t		 mu;	/* everything here */
	struct ep		*eps[EP_MAX];
	unsigned		 neps;
	struct fwd		 fwds[FWD_MAX];
	unsigned		 nfwds;
	bool			 loop_on;
	int			 wake;	/* eventfd: endpoints changed */
	unsigned		 fwd_max;
} S = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.wake = -1,
	.fwd_max = 128,
};

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ threads */

struct start {
	void	*(*fn)(void *);
	void	*arg;
};

static void *
thread_main(void *p)
{
	struct start st = *(struct start *)p;
	const struct pd_host *h = pd_engine_host();

	free(p);
	if (h != NULL && h->engine_thread != NULL)
		h->engine_thread();
	return st.fn(st.arg);
}

int
pd_resp_thread(void *(*fn)(void *), void *arg)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	struct start *st;
	int rc;

	if ((st = malloc(sizeof(*st))) == NULL)
		return -1;
	st->fn = fn;
	st->arg = arg;
	/* The program's signals are never delivered on our threads. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	(void)pthread_attr_init(&a);
	(void)pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &a, thread_main, st);
	(void)pthread_attr_destroy(&a);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		free(st);
		errno = rc;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ fork */

static void
fork_prepare(void)
{
	(void)pthread_mutex_lock(&S.mu);
}

static void
fork_parent(void)
{
	(void)pthread_mutex_unlock(&S.mu);
}

/*
 * The child has none of the responder's threads: drop the parent's
 * endpoints (its copies of their descriptors; the parent keeps serving
 * them, so sockets the child inherited connected to them still work
 * while the parent lives). The queued jobs are resp_pool.c's.
 */
static void
fork_child(void)
{
	unsigned i;

	for (i = 0; i < S.neps; i++) {
		(void)close(S.eps[i]->ufd);
		(void)close(S.eps[i]->lfd);
	}
	for (i = 0; i < S.nfwds; i++)
		(void)close(S.fwds[i].fd);
	pd_stub_forked();
	if (S.wake >= 0)
		(void)close(S.wake);
	S.wake = -1;
	S.neps = S.nfwds = 0;
	S.loop_on = false;
	(void)pthread_mutex_unlock(&S.mu);
	pd_resp_tcp_forked();
}

static void
atfork_init(void)
{
	(void)pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* ------------------------------------------------------------ addresses */

static bool
same_server(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4, *b4;
	const struct sockaddr_in6 *a6, *b6;

	if (a->sa_family != b->ss_family)
		return false;
	if (a->sa_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return a6->sin6_port == b6->sin6_port &&
	    a6->sin6_scope_id == b6->sin6_scope_id &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static bool
same_peer(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	return alen == blen && same_server((const struct sockaddr *)a, b);
}

/* Loopback address of family fam, port port (network order). */
static socklen_t
loopback(int fam, in_port_t port, bool mapped, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = port;
	if (mapped) {
		/* ::ffff:127.0.0.1 (RFC 4291 §2.5.5.2) */
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		s6->sin6_addr.s6_addr[12] = 127;
		s6->sin6_addr.s6_addr[15] = 1;
	} else
		s6->sin6_addr = in6addr_loopback;
	return sizeof(*s6);
}

static in_port_t
port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ?
	    ((const struct sockaddr_in *)ss)->sin_port :
	    ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/*
 * A listener and a UDP socket on one free port of the loopback address
 * of family lfam. 0, or -1 with errno.
 */
static int
bind_pair(int lfam, int *lfdp, int *ufdp, in_port_t *portp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = -1, ufd = -1, tries, e = EADDRINUSE;

	for (tries = 0; tries < 16; tries++) {
		len = loopback(lfam, 0, false, &ss);
		if ((lfd = socket(lfam, SOCK_STREAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) < 0 ||
		    bind(lfd, (struct sockaddr *)&ss, len) != 0 ||
		    getsockname(lfd, (struct sockaddr *)&ss, &len) != 0 ||
		    (ufd = socket(lfam, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0)) < 0)
			goto fail;
		if (bind(ufd, (struct sockaddr *)&ss, len) != 0) {
			if (errno != EADDRINUSE)
				goto fail;
			/* Taken for UDP by someone else: another port. */
			(void)close(ufd);
			(void)close(lfd);
			ufd = lfd = -1;
			continue;
		}
		if (listen(lfd, 64) != 0)
			goto fail;
		*lfdp = lfd;
		*ufdp = ufd;
		*portp = port_of(&ss);
		return 0;
	}
	errno = e;
	return -1;
fail:
	e = errno;
	if (lfd >= 0)
		(void)close(lfd);
	if (ufd >= 0)
		(void)close(ufd);
	errno = e;
	return -1;
}

/* ------------------------------------------------------------ to workers */

/*
 * pindns serve: audit lines written on this thread name client l (until
 * the next call); nothing for the preload's endpoints.
 */
static void
client_is(const struct ep *ep, const struct sockaddr_storage *l)
{
	if (ep->serve)
		pd_log_set_client_sa((const struct sockaddr *)l);
}

/* Queue a claimed query for a worker (resp_pool.c; called on the loop). */
static bool
enqueue(struct ep *ep, const struct sockaddr_storage *l, socklen_t llen,
    const struct pd_resp_q *rq, const uint8_t *msg, size_t len)
{
	struct pd_resp_to to;

	to.ufd = ep->ufd;
	to.serve = ep->serve;
	to.l = *l;
	to.llen = llen;
	to.x = ep->x;
	to.xlen = ep->xlen;
	to.ns = ep->serve ? &ep->ns : NULL;
	return pd_resp_pool_add(&to, rq, msg, len);
}

/* ------------------------------------------------------------ forwarding */

static void
fwd_close(unsigned i)
{
	(void)pthread_mutex_lock(&S.mu);
	(void)close(S.fwds[i].fd);
	S.fwds[i] = S.fwds[--S.nfwds];
	(void)pthread_mutex_unlock(&S.mu);
}

/* The forward socket of client l at ep, made on first use; -1 if none. */
static int
fwd_get(struct ep *ep, const struct sockaddr_storage *l, socklen_t llen,
    uint64_t now)
{
	unsigned i, lru = 0;
	struct fwd *f;
	int fd;

	for (i = 0; i < S.nfwds; i++) {
		f = &S.fwds[i];
		if (f->ep == ep && same_peer(&f->l, f->llen, l, llen)) {
			f->last_ms = now;
			return f->fd;
		}
		if (f->last_ms < S.fwds[lru].last_ms)
			lru = i;
	}
	if (S.nfwds >= S.fwd_max)
		fwd_close(lru);
	if ((fd = socket(ep->x.ss_family, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&ep->x, ep->xlen) != 0) {
		(void)close(fd);
		return -1;
	}
	(void)pthread_mutex_lock(&S.mu);
	f = &S.fwds[S.nfwds++];
	f->ep = ep;
	f->l = *l;
	f->llen = llen;
	f->fd = fd;
	f->last_ms = now;
	(void)pthread_mutex_unlock(&S.mu);
	return fd;
}

/*
 * pindns serve: an unclaimed query to the system nameservers
 * (resp_stub.c). What to answer now: SERVFAIL when it cannot even be
 * sent, else nothing (the stub answers later).
 */
static size_t
stub(struct ep *ep, const struct sockaddr_storage *l, socklen_t llen,
    const struct pd_resp_q *rq, uint8_t *buf, size_t len, size_t cap,
    uint64_t now)
{
	struct pd_resp_to to;

	memset(&to, 0, sizeof(to));
	to.ufd = ep->ufd;
	to.serve = true;
	to.l = *l;
	to.llen = llen;
	if (pd_stub_start(&ep->ns, &to, rq, buf, len, now) == 0)
		return 0;
	return pd_resp_error(rq, PD_VERDICT_FAILED, PD_REASON_UNREACHABLE,
	    buf, cap);
}

/* pindns serve's counts of a UDP query (resolver/stats.h). */
static void
served(const struct ep *ep, enum pd_stats_act a, uint64_t t0_ns)
{
	if (ep->serve)
		pd_stats_query(PD_TR_UDP, a, (pd_clock_ns() - t0_ns) / 1000);
}

/* Datagrams from the clients of ep. */
static void
serve_udp(struct ep *ep, uint8_t *buf, size_t cap, uint64_t now)
{
	struct sockaddr_storage l;
	struct pd_resp_q rq;
	socklen_t llen;
	ssize_t n;
	size_t out;
	bool unread;
	int i, fd;
	uint64_t t0;
	enum pd_stats_act done;

	for (i = 0; i < DRAIN_MAX; i++) {
		llen = sizeof(l);
		n = recvfrom(ep->ufd, buf, cap, MSG_DONTWAIT,
		    (struct sockaddr *)&l, &llen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		pd_resp_classify(buf, (size_t)n, &rq, &unread);
		if (unread) {
			/*
			 * Without getdns nothing can be read, so nothing may
			 * pass: a claimed question must never reach X.
			 */
			continue;
		}
		client_is(ep, &l);
		out = 0;
		t0 = ep->serve ? pd_clock_ns() : 0;
		done = PD_QA_ANSWERED;
		if (ep->serve)
			rq.act = pd_resp_serve_act(&rq, ep->xlen != 0);
		switch (rq.act) {
		case PD_RESP_ODD:
			if (ep->serve) {
				out = pd_resp_odd(&rq, buf, cap);
				done = PD_QA_REFUSED;
				break;
			}
			if ((fd = fwd_get(ep, &l, llen, now)) >= 0)
				(void)send(fd, buf, (size_t)n, MSG_DONTWAIT);
			break;
		case PD_RESP_FORWARD:
			if (ep->serve) {
				out = stub(ep, &l, llen, &rq, buf, (size_t)n,
				    cap, now);
				served(ep, PD_QA_FORWARDED, t0);
				break;
			}
			if ((fd = fwd_get(ep, &l, llen, now)) >= 0)
				(void)send(fd, buf, (size_t)n, MSG_DONTWAIT);
			break;
		case PD_RESP_NOW:
			out = pd_resp_answer(&rq, buf, cap,
			    pd_resp_udp_limit(&rq));
			break;
		case PD_RESP_WAIT:
		case PD_RESP_PINNED:
			if (!enqueue(ep, &l, llen, &rq, buf, (size_t)n) &&
			    ep->serve)
				out = pd_resp_error(&rq, PD_VERDICT_FAILED,
				    PD_REASON_NONE, buf, cap);
			break;
		}
		if (out > 0)
			(void)sendto(ep->ufd, buf, out, MSG_DONTWAIT,
			    (struct sockaddr *)&l, llen);
		if (rq.act == PD_RESP_NOW || rq.act == PD_RESP_ODD ||
		    (out > 0 && rq.act != PD_RESP_FORWARD))
			served(ep, done, t0);
	}
}

/* X's replies on forward socket i, relayed to its client. */
static void
relay_udp(unsigned i, uint8_t *buf, size_t cap, uint64_t now)
{
	struct fwd *f = &S.fwds[i];
	ssize_t n;
	int k;

	for (k = 0; k < DRAIN_MAX; k++) {
		n = recv(f->fd, buf, cap, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		f->last_ms = now;
		(void)sendto(f->ep->ufd, buf, (size_t)n, MSG_DONTWAIT,
		    (struct sockaddr *)&f->l, f->llen);
	}
}

static void
accept_tcp(struct ep *ep)
{
	int cfd, k;

	for (k = 0; k < DRAIN_MAX; k++) {
		if ((cfd = accept4(ep->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			return;
		(void)pd_resp_tcp_start(cfd, (struct sockaddr *)&ep->x,
		    ep->xlen, ep->serve, ep->serve ? &ep->ns : NULL);
	}
}

static void *
loop_main(void *arg)
{
	static uint8_t buf[PD_RESP_MSG_MAX];
	static struct pollfd pfd[1 + 2 * EP_MAX + FWD_MAX + PD_STUB_MAX];
	struct ep *eps[EP_MAX];
	unsigned neps, nfwd, nstub, i, np;
	uint64_t now;
	eventfd_t v;
	int wake, wait;

	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&S.mu);
		neps = S.neps;
		memcpy(eps, S.eps, neps * sizeof(eps[0]));
		wake = S.wake;
		(void)pthread_mutex_unlock(&S.mu);
		np = 0;
		pfd[np].fd = wake;
		pfd[np++].events = POLLIN;
		for (i = 0; i < neps; i++) {
			pfd[np].fd = eps[i]->ufd;
			pfd[np++].events = POLLIN;
			pfd[np].fd = eps[i]->lfd;
			pfd[np++].events = POLLIN;
		}
		nfwd = S.nfwds;
		for (i = 0; i < nfwd; i++) {
			pfd[np].fd = S.fwds[i].fd;
			pfd[np++].events = POLLIN;
		}
		wait = 1000;
		nstub = pd_stub_poll(pfd + np, pd_clock_ms(), &wait);
		if (poll(pfd, np + nstub, wait) < 0 && errno != EINTR)
			continue;
		now = pd_clock_ms();
		if (pfd[0].revents & POLLIN)
			(void)eventfd_read(wake, &v);
		/* Before serve_udp, which may add to the stub's table. */
		pd_stub_run(pfd + np, nstub, buf, sizeof(buf), now);
		/* Replies first: the forward list may change below. */
		for (i = 0; i < nfwd; i++)
			if (pfd[1 + 2 * neps + i].revents != 0)
				relay_udp(i, buf, sizeof(buf), now);
		for (i = nfwd; i-- > 0;)
			if (now - S.fwds[i].last_ms >= FWD_IDLE_MS)
				fwd_close(i);
		for (i = 0; i < neps; i++) {
			if (pfd[1 + 2 * i].revents != 0)
				serve_udp(eps[i], buf, sizeof(buf), now);
			if (pfd[2 + 2 * i].revents != 0)
				accept_tcp(eps[i]);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------ endpoints */

/* A new endpoint for (fam, X), under S.mu. NULL with errno. */
static struct ep *
ep_new(int fam, const struct sockaddr *to, socklen_t tolen)
{
	struct ep *ep;
	in_port_t port;
	int e;

	if (S.neps == EP_MAX) {
		errno = EMFILE;
		return NULL;
	}
	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		return NULL;
	ep->fam = fam;
	memcpy(&ep->x, to, tolen);
	ep->xlen = tolen;
	if (bind_pair(fam, &ep->lfd, &ep->ufd, &port) == 0) {
		ep->rlen = loopback(fam, port, false, &ep->r);
		ep->ufam = fam;
	} else if (fam == AF_INET6 && bind_pair(AF_INET, &ep->lfd, &ep->ufd,
	    &port) == 0) {
		/* No IPv6 loopback: the program's v6 socket reaches v4's. */
		ep->rlen = loopback(AF_INET6, port, true, &ep->r);
		ep->ufam = AF_INET;
	} else {
		e = errno;
		free(ep);
		errno = e;
		return NULL;
	}
	S.eps[S.neps++] = ep;
	return ep;
}

static int
resp_endpoint(int fam, const struct sockaddr *to, unsigned tolen,
    struct sockaddr *r, unsigned *rlen)
{
	struct ep *ep = NULL;
	eventfd_t one = 1;
	unsigned i;
	int e = 0;

	if (to == NULL || (fam != AF_INET && fam != AF_INET6) ||
	    (to->sa_family == AF_INET && tolen < sizeof(struct sockaddr_in)) ||
	    (to->sa_family == AF_INET6 &&
	    tolen < sizeof(struct sockaddr_in6)) ||
	    (to->sa_family != AF_INET && to->sa_family != AF_INET6)) {
		errno = EINVAL;
		return -1;
	}
	tolen = to->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	(void)pthread_once(&atfork_once, atfork_init);
	(void)pthread_mutex_lock(&S.mu);
	for (i = 0; i < S.neps; i++)
		if (S.eps[i]->fam == fam && same_server(to, &S.eps[i]->x)) {
			ep = S.eps[i];
			break;
		}
	if (ep == NULL) {
		if (S.wake < 0 &&
		    (S.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
			e = errno;
			goto out;
		}
		if (!S.loop_on) {
			if (pd_resp_thread(loop_main, NULL) != 0) {
				e = errno;
				goto out;
			}
			S.loop_on = true;
		}
		if ((ep = ep_new(fam, to, tolen)) == NULL) {
			e = errno;
			goto out;
		}
		(void)eventfd_write(S.wake, one);
	}
	memcpy(r, &ep->r, ep->rlen);
	*rlen = ep->rlen;
out:
	(void)pthread_mutex_unlock(&S.mu);
	if (ep == NULL) {
		errno = e != 0 ? e : ENOMEM;
		return -1;
	}
	return 0;
}

static int
resp_claimed(const uint8_t *msg, size_t len)
{
	struct pd_resp_q rq;
	bool unread;

	pd_resp_classify(msg, len, &rq, &unread);
	return unread || (rq.act != PD_RESP_FORWARD && rq.act != PD_RESP_ODD);
}

/*
 * Where the loop would send a reply for a client at l (llen bytes, as the
 * program's socket names itself) through ep: the address the loop's
 * recvfrom would report. A wildcard address becomes loopback (the kernel
 * sends from there to R(X)); a v4-mapped one becomes AF_INET for a
 * mapped endpoint. 0 when it cannot be said (the caller sends instead).
 */
static socklen_t
client_addr(const struct ep *ep, const struct sockaddr *l, unsigned llen,
    struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *l6 = (const struct sockaddr_in6 *)l;
	struct sockaddr_in *o4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *o6 = (struct sockaddr_in6 *)out;

	if (llen < sizeof(sa_family_t) || llen > sizeof(*out))
		return 0;
	memset(out, 0, sizeof(*out));
	if (l->sa_family == AF_INET && ep->ufam == AF_INET &&
	    llen >= sizeof(*o4)) {
		memcpy(o4, l, sizeof(*o4));
		if (o4->sin_addr.s_addr == htonl(INADDR_ANY))
			o4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*o4);
	}
	if (l->sa_family != AF_INET6 || llen < sizeof(*o6))
		return 0;
	if (ep->ufam == AF_INET6) {
		memcpy(o6, l, sizeof(*o6));
		if (IN6_IS_ADDR_UNSPECIFIED(&o6->sin6_addr))
			o6->sin6_addr = in6addr_loopback;
		return sizeof(*o6);
	}
	/* A mapped endpoint: its socket is AF_INET, so is the client. */
	o4->sin_family = AF_INET;
	o4->sin_port = l6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&l6->sin6_addr))
		memcpy(&o4->sin_addr, &l6->sin6_addr.s6_addr[12], 4);
	else if (IN6_IS_ADDR_UNSPECIFIED(&l6->sin6_addr))
		o4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		return 0;
	return sizeof(*o4);
}

static int
resp_answer_now(const struct sockaddr *r, unsigned rlen,
    const struct sockaddr *l, unsigned llen, const uint8_t *msg, size_t len)
{
	struct sockaddr_storage to;
	struct pd_resp_q rq;
	socklen_t tolen = 0;
	uint8_t *buf;
	unsigned i;
	size_t out;
	bool unread;
	int ufd = -1;

	(void)pthread_mutex_lock(&S.mu);
	for (i = 0; i < S.neps; i++)
		if (!S.eps[i]->serve && S.eps[i]->rlen == rlen &&
		    same_server(r, &S.eps[i]->r)) {
			ufd = S.eps[i]->ufd;
			tolen = client_addr(S.eps[i], l, llen, &to);
			break;
		}
	(void)pthread_mutex_unlock(&S.mu);
	if (ufd < 0 || tolen == 0)
		return 0;
	/* What serve_udp() does with a NOW query, on this thread. */
	pd_resp_classify(msg, len, &rq, &unread);
	if (unread || rq.act != PD_RESP_NOW)
		return 0;
	if ((buf = malloc(PD_RESP_MSG_MAX)) == NULL)
		return 0;
	out = pd_resp_answer(&rq, buf, PD_RESP_MSG_MAX, pd_resp_udp_limit(&rq));
	if (out > 0)
		(void)sendto(ufd, buf, out, MSG_DONTWAIT,
		    (struct sockaddr *)&to, tolen);
	free(buf);
	/* Nothing built (no memory): dropped, as the loop drops it. */
	return 1;
}

/* ------------------------------------------------------------ serve */

void
pd_resp_serve_tune(const struct pd_serve_tune *t)
{
	(void)pthread_mutex_lock(&S.mu);
	if (t->fwd_max > 0)
		S.fwd_max = t->fwd_max < FWD_MAX ? t->fwd_max : FWD_MAX;
	(void)pthread_mutex_unlock(&S.mu);
	pd_resp_pool_tune(t->workers, t->job_ms);
	pd_resp_tcp_tune(t->tcp_max, t->tcp_idle_ms);
}

int
pd_resp_serve_listen(int ufd, int lfd, const struct pd_stub_conf *ns)
{
	struct ep *ep;
	eventfd_t one = 1;
	int rc = -1;

	if ((ep = calloc(1, sizeof(*ep))) == NULL)
		return -1;
	ep->serve = true;
	ep->ufd = ufd;
	ep->lfd = lfd;
	if (ns != NULL && ns->n > 0 && ns->n <= PD_STUB_NS_MAX &&
	    ns->nslen[0] <= sizeof(ep->x)) {
		ep->ns = *ns;
		if (ep->ns.timeout_s == 0)
			ep->ns.timeout_s = 1;
		if (ep->ns.attempts == 0)
			ep->ns.attempts = 1;
		/* X: the first, for what has no stub (TCP's first try). */
		memcpy(&ep->x, &ns->ns[0], ns->nslen[0]);
		ep->xlen = ns->nslen[0];
	}
	(void)pthread_mutex_lock(&S.mu);
	if (S.neps == EP_MAX) {
		errno = EMFILE;
		goto out;
	}
	if (S.wake < 0 &&
	    (S.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		goto out;
	if (!S.loop_on) {
		if (pd_resp_thread(loop_main, NULL) != 0)
			goto out;
		S.loop_on = true;
	}
	S.eps[S.neps++] = ep;
	ep = NULL;
	(void)eventfd_write(S.wake, one);
	rc = 0;
out:
	(void)pthread_mutex_unlock(&S.mu);
	free(ep);
	return rc;
}

const struct pd_sock_ops pd_resp_ops = {
	.endpoint = resp_endpoint,
	.claimed = resp_claimed,
	.answer_now = resp_answer_now,
};

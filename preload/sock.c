/*
 * pindns preload: programs that send DNS themselves (SPEC §4.1, last
 * row: c-ares, dnspython, Node's dns.resolve*, hand-rolled clients).
 *
 * A UDP or TCP socket's traffic to port 53 of any address X goes to the
 * engine's responder R(X) on loopback instead (resolver/resp.h): connect
 * to X connects to R(X); sendto, sendmsg and sendmmsg naming X send to
 * R(X). The responder answers what a rule claims and relays the rest to
 * X unchanged. On the way back, recvfrom, recvmsg, recvmmsg and
 * getpeername report X wherever the kernel says R(X), so a client's check
 * that the reply came from the server it asked passes.
 *
 * R(X) names X on its own (the responder binds one port per X and family
 * for UDP and TCP alike), so no per-descriptor state is needed: close,
 * dup2 and a reused descriptor need nothing. The map R <-> X is a small
 * append-only table: lookups take no lock. A process that never sends
 * DNS itself pays a port compare per connect/sendto/sendmsg call and a
 * load of the table's size per send and receive call.
 *
 * The fast door: a query the engine answers without the network (a
 * claimed name whose answer is cached; engine.h ->answer_now) is answered
 * on the program's own thread, as it is sent: the engine builds the reply
 * the responder's thread would build and sends it from R(X) to the
 * program's socket, and the send reports the query sent. The program's
 * next receive (or poll, select, epoll) finds the reply where it would
 * have, from R(X), reported as X; two thread hand-offs are saved. Sends
 * with an address (sendto, sendmsg) take it at once; send() on a socket
 * connected to R(X) is known by a bit set when connect() redirected it
 * (a hint only: each use checks the peer is still an R(X), so a closed
 * and reused descriptor costs one check and loses its bit).
 *
 * When the responder cannot be made (no engine, no descriptor, no
 * thread), nothing claimed may pass: a message sent with an address is
 * read by the engine and, when a rule claims its question (or the engine
 * cannot tell), the send fails with ECONNREFUSED, which resolvers treat
 * as a failed server; a connect() to port 53 fails the same way (what
 * the program sends on a connected socket cannot be seen here).
 *
 * Fork: a child makes its own responder on first use (the table's
 * entries from the parent keep mapping replies on inherited sockets).
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/eng.h"

#define HOOK __attribute__((visibility("default")))

/* Servers (with the family of the program's socket) one process maps. */
#define MAP_MAX		128
/* Messages of one sendmmsg/recvmmsg call handled at a time. */
#define MMSG_MAX	64
/* Descriptors below this can carry the fast door's bit (8 KB of bits). */
#define MARK_FDS	65536

typedef int connect_fn(int, const struct sockaddr *, socklen_t);
typedef ssize_t sendto_fn(int, const void *, size_t, int,
    const struct sockaddr *, socklen_t);
typedef ssize_t send_fn(int, const void *, size_t, int);
typedef ssize_t sendmsg_fn(int, const struct msghdr *, int);
typedef int sendmmsg_fn(int, struct mmsghdr *, unsigned int, int);
typedef ssize_t recvfrom_fn(int, void *, size_t, int, struct sockaddr *,
    socklen_t *);
typedef ssize_t recvfrom_chk_fn(int, void *, size_t, size_t, int,
    struct sockaddr *, socklen_t *);
typedef ssize_t recvmsg_fn(int, struct msghdr *, int);
typedef int recvmmsg_fn(int, struct mmsghdr *, unsigned int, int,
    struct timespec *);
typedef int getpeername_fn(int, struct sockaddr *, socklen_t *);

struct map {
	int			 fam;	/* of the program's socket */
	unsigned		 epoch;	/* fork generation it was made in */
	struct sockaddr_storage	 x;
	socklen_t		 xlen;
	struct sockaddr_storage	 r;
	socklen_t		 rlen;
};

/* Entries below nmaps are written once, before nmaps covers them. */
static struct map maps[MAP_MAX];
static _Atomic unsigned nmaps;
static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned epoch;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
/* Sockets a connect() sent to an R(X) over UDP (a hint: see above). */
static _Atomic uint64_t marks[MARK_FDS / 64];

/* ------------------------------------------------------------ binding */

/*
 * The real calls, bound on first use. A hook's fast path is one load of
 * its pointer (a pthread_once call costs more than the rest of the
 * hook); two threads racing bind the same value.
 */
static struct {
	_Atomic(connect_fn *)		connect;
	_Atomic(send_fn *)		send;
	_Atomic(sendto_fn *)		sendto;
	_Atomic(sendmsg_fn *)		sendmsg;
	_Atomic(sendmmsg_fn *)		sendmmsg;
	_Atomic(recvfrom_fn *)		recvfrom;
	_Atomic(recvfrom_chk_fn *)	recvfrom_chk;
	_Atomic(recvmsg_fn *)		recvmsg;
	_Atomic(recvmmsg_fn *)		recvmmsg;
	_Atomic(getpeername_fn *)	getpeername;
} real;

static int
fail_int(void)
{
	errno = ENOSYS;
	return -1;
}

/* proxychains' load_sym, without the abort: never bind to ourselves. */
static __attribute__((noinline, cold)) void *
load_sym(const char *name, void *self)
{
	int saved = errno;
	void *p = dlsym(RTLD_NEXT, name);

	errno = saved;
	return p == NULL || p == self ? (void *)fail_int : p;
}

#define REAL(f, sym)							\
	__extension__({							\
		__typeof__(atomic_load(&real.f)) f_ =			\
		    atomic_load_explicit(&real.f, memory_order_relaxed);\
		if (__builtin_expect(f_ == NULL, 0)) {			\
			f_ = (__typeof__(f_))load_sym(#sym, (void *)sym);\
			atomic_store_explicit(&real.f, f_,		\
			    memory_order_relaxed);			\
		}							\
		f_;							\
	})

/*
 * A hook's hot path: the real function when bound (NULL before the first
 * call). The hook then calls nothing but it, so it needs no stack frame;
 * binding goes through the hook's cold path (REAL).
 */
#define BOUND(f) atomic_load_explicit(&real.f, memory_order_relaxed)

/* ------------------------------------------------------------ the map */

/* Does sa (len bytes) name port 53? The only test on the fast path. */
static inline int
to_dns(const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET)
		return len >= sizeof(struct sockaddr_in) &&
		    ((const struct sockaddr_in *)sa)->sin_port == htons(53);
	if (sa->sa_family == AF_INET6)
		return len >= sizeof(struct sockaddr_in6) &&
		    ((const struct sockaddr_in6 *)sa)->sin6_port == htons(53);
	return 0;
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b,
    int scope)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_port ==
		    ((const struct sockaddr_in *)b)->sin_port &&
		    ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	    (!scope || a6->sin6_scope_id == b6->sin6_scope_id) &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static void
fork_child(void)
{
	atomic_fetch_add(&epoch, 1);
}

static void
fork_init(void)
{
	(void)pthread_atfork(NULL, NULL, fork_child);
}

/* The map entry of X for a socket of family fam, in this process. */
static const struct map *
map_find(int fam, const struct sockaddr *x)
{
	unsigned i, n = atomic_load_explicit(&nmaps, memory_order_acquire);
	unsigned e = atomic_load_explicit(&epoch, memory_order_relaxed);

	for (i = 0; i < n; i++)
		if (maps[i].fam == fam && maps[i].epoch == e &&
		    same_addr(x, &maps[i].x, 1))
			return &maps[i];
	return NULL;
}

/*
 * R(X) for a socket of family fam: from the map, else made by the
 * engine and added. NULL when no responder can be had.
 */
static const struct map *
map_get(int fam, const struct sockaddr *x, socklen_t xlen)
{
	const struct pd_sock_ops *ops;
	const struct map *m;
	struct map *nm;
	unsigned n, rlen;
	int rc;

	if ((m = map_find(fam, x)) != NULL)
		return m;
	(void)pthread_once(&fork_once, fork_init);
	if ((ops = pd_eng_sock()) == NULL || ops->endpoint == NULL)
		return NULL;
	(void)pthread_mutex_lock(&map_mu);
	if ((m = map_find(fam, x)) != NULL)
		goto out;
	n = atomic_load_explicit(&nmaps, memory_order_relaxed);
	if (n == MAP_MAX)
		goto out;
	nm = &maps[n];
	memset(nm, 0, sizeof(*nm));
	nm->fam = fam;
	nm->epoch = atomic_load(&epoch);
	nm->xlen = x->sa_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6);
	(void)xlen;
	memcpy(&nm->x, x, nm->xlen);
	rlen = sizeof(nm->r);
	pd_eng_guard++;
	rc = ops->endpoint(fam, x, nm->xlen, (struct sockaddr *)&nm->r, &rlen);
	pd_eng_guard--;
	if (rc != 0)
		goto out;
	nm->rlen = rlen;
	atomic_store_explicit(&nmaps, n + 1, memory_order_release);
	m = nm;
out:
	(void)pthread_mutex_unlock(&map_mu);
	return m;
}

/* The map entry whose R is sa (len bytes), in this process; or NULL. */
static const struct map *
map_of_r(const struct sockaddr *sa, socklen_t len)
{
	unsigned i, n = atomic_load_explicit(&nmaps, memory_order_acquire);
	unsigned e = atomic_load_explicit(&epoch, memory_order_relaxed);

	for (i = 0; i < n; i++)
		if (maps[i].epoch == e && len == maps[i].rlen &&
		    same_addr(sa, &maps[i].r, 0))
			return &maps[i];
	return NULL;
}

/*
 * Where the kernel reports R(X) in sa (the caller's buffer held cap
 * bytes, *len now says how long the address is), report X instead, cut
 * to cap as the kernel cuts.
 */
static __attribute__((noinline, cold)) void
unmap(struct sockaddr *sa, socklen_t *len, socklen_t cap)
{
	unsigned i, n = atomic_load_explicit(&nmaps, memory_order_acquire);
	struct sockaddr_storage ss;

	if (n == 0 || sa == NULL || len == NULL || cap < sizeof(sa_family_t))
		return;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return;
	/* What the kernel wrote may be cut short: compare a whole copy. */
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, sa, cap < sizeof(ss) ? cap : sizeof(ss));
	for (i = 0; i < n; i++)
		if (*len == maps[i].rlen &&
		    same_addr((struct sockaddr *)&ss, &maps[i].r, 0)) {
			memcpy(sa, &maps[i].x, cap < maps[i].xlen ? cap :
			    maps[i].xlen);
			*len = maps[i].xlen;
			return;
		}
}

/* ------------------------------------------------------------ redirect */

/*
 * The protocol of a socket whose port-53 traffic goes to the responder:
 * IPPROTO_UDP or IPPROTO_TCP; 0 for any other socket.
 */
static int
dns_socket(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0)
		return 0;
	return proto == IPPROTO_UDP || proto == IPPROTO_TCP ? proto : 0;
}

/*
 * The address to use instead of sa for fd: R(X), or sa itself when fd is
 * not ours to redirect. NULL: no responder (*fallback says what to do).
 * *mp: the map entry of a UDP socket sent to R(X) (else NULL), for the
 * fast door.
 */
static const struct sockaddr *
redirect(int fd, const struct sockaddr *sa, socklen_t len, socklen_t *rlen,
    const struct map **mp)
{
	const struct map *m;
	int proto;

	*rlen = len;
	*mp = NULL;
	if (pd_eng_guarded() || (proto = dns_socket(fd)) == 0)
		return sa;
	if ((m = map_get(sa->sa_family, sa, len)) == NULL)
		return NULL;
	*rlen = m->rlen;
	if (proto == IPPROTO_UDP)
		*mp = m;
	return (const struct sockaddr *)&m->r;
}

/* ------------------------------------------------------------ fast door */

static inline int
marked(int fd)
{
	return (unsigned)fd < MARK_FDS &&
	    (atomic_load_explicit(&marks[fd / 64], memory_order_relaxed) >>
	    (fd % 64) & 1) != 0;
}

static void
mark(int fd, int on)
{
	uint64_t bit = (uint64_t)1 << (fd % 64);

	if ((unsigned)fd >= MARK_FDS)
		return;
	if (on)
		atomic_fetch_or_explicit(&marks[fd / 64], bit,
		    memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&marks[fd / 64], ~bit,
		    memory_order_relaxed);
}

/*
 * Ask the engine to answer msg[0..n-1], sent by UDP socket fd to R(X) of
 * m, here and now (engine.h ->answer_now). 1: answered, the caller
 * reports the query sent; 0: send it. Flags other than these change what
 * a send does: those sends take the responder's way.
 */
static int
answer_now(int fd, const struct map *m, const void *msg, size_t n, int flags)
{
	const struct pd_sock_ops *ops;
	struct sockaddr_storage l;
	socklen_t llen = sizeof(l);
	int rc;

	if ((flags & ~(MSG_DONTWAIT | MSG_NOSIGNAL)) != 0 || n < 12 ||
	    n > 65535 || (ops = pd_eng_sock()) == NULL ||
	    ops->answer_now == NULL ||
	    getsockname(fd, (struct sockaddr *)&l, &llen) != 0 ||
	    (l.ss_family != AF_INET && l.ss_family != AF_INET6) ||
	    llen > sizeof(l))
		return 0;
	if ((l.ss_family == AF_INET ? ((struct sockaddr_in *)&l)->sin_port :
	    ((struct sockaddr_in6 *)&l)->sin6_port) == 0) {
		/*
		 * Never bound (dnspython makes a socket per query): bind it
		 * as this send would, to the wildcard address and a port
		 * of the kernel's choice, so the reply has somewhere to go.
		 */
		memset(&l, 0, sizeof(l));
		l.ss_family = (sa_family_t)(llen == sizeof(struct sockaddr_in) ?
		    AF_INET : AF_INET6);
		if (bind(fd, (struct sockaddr *)&l, llen) != 0 ||
		    getsockname(fd, (struct sockaddr *)&l, &llen) != 0)
			return 0;
	}
	pd_eng_guard++;
	rc = ops->answer_now((const struct sockaddr *)&m->r, m->rlen,
	    (const struct sockaddr *)&l, llen, msg, n);
	pd_eng_guard--;
	return rc;
}

/*
 * No responder: may msg[0..len-1] go to its server as it is? Only when
 * the engine reads it and no rule claims its question.
 */
static int
may_pass(const void *msg, size_t len)
{
	const struct pd_sock_ops *ops = pd_eng_sock();
	int claimed;

	if (ops == NULL || ops->claimed == NULL)
		return 0;
	pd_eng_guard++;
	claimed = ops->claimed(msg, len);
	pd_eng_guard--;
	return !claimed;
}

/*
 * The bytes of a message in one buffer (free() it), their count in *np;
 * NULL when longer than a DNS message or out of memory.
 */
static uint8_t *
flatten(const struct msghdr *m, size_t *np)
{
	uint8_t *buf;
	size_t i, n = 0, o = 0;

	for (i = 0; i < m->msg_iovlen; i++)
		n += m->msg_iov[i].iov_len;
	if (n > 65535 || (buf = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < m->msg_iovlen; i++) {
		memcpy(buf + o, m->msg_iov[i].iov_base, m->msg_iov[i].iov_len);
		o += m->msg_iov[i].iov_len;
	}
	*np = n;
	return buf;
}

static int
may_pass_iov(const struct msghdr *m)
{
	uint8_t *buf;
	size_t n;
	int ok;

	if ((buf = flatten(m, &n)) == NULL)
		return 0;
	ok = may_pass(buf, n);
	free(buf);
	return ok;
}

/* answer_now() for a sendmsg(): the bytes "sent", or -1 (send it). */
static ssize_t
answer_now_iov(int fd, const struct map *mp, const struct msghdr *m,
    int flags)
{
	uint8_t *buf;
	size_t n;
	int ok;

	if ((buf = flatten(m, &n)) == NULL)
		return -1;
	ok = answer_now(fd, mp, buf, n, flags);
	free(buf);
	return ok ? (ssize_t)n : -1;
}

/* ------------------------------------------------------------ hooks */

/*
 * Each hook's fast path: one compare of the destination's port (or one
 * load of the map's size on the way back), then libc. The rest is out
 * of line.
 */
static __attribute__((noinline, cold)) int
connect_dns(int fd, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr *to;
	const struct map *m;
	socklen_t tolen;
	int rc, saved = errno;

	if ((to = redirect(fd, sa, len, &tolen, &m)) == NULL) {
		errno = ECONNREFUSED;
		return -1;
	}
	errno = saved;
	rc = REAL(connect, connect)(fd, to, tolen);
	if (rc == 0 || m == NULL) {
		saved = errno;
		mark(fd, rc == 0 && m != NULL);
		errno = saved;
	}
	return rc;
}

static __attribute__((noinline, cold)) int
connect_cold(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (to_dns(sa, len))
		return connect_dns(fd, sa, len);
	return REAL(connect, connect)(fd, sa, len);
}

HOOK int
connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	connect_fn *f = BOUND(connect);

	if (__builtin_expect(f != NULL && !to_dns(addr.__sockaddr__, len), 1))
		return f(fd, addr.__sockaddr__, len);
	return connect_cold(fd, addr.__sockaddr__, len);
}

static __attribute__((noinline, cold)) ssize_t
sendto_dns(int fd, const void *buf, size_t n, int flags,
    const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr *to;
	const struct map *m;
	socklen_t tolen;
	int saved = errno;

	if ((to = redirect(fd, sa, len, &tolen, &m)) == NULL) {
		if (!may_pass(buf, n)) {
			errno = ECONNREFUSED;
			return -1;
		}
		to = sa;
	} else if (m != NULL && answer_now(fd, m, buf, n, flags)) {
		errno = saved;
		return (ssize_t)n;
	}
	errno = saved;
	return REAL(sendto, sendto)(fd, buf, n, flags, to, tolen);
}

static __attribute__((noinline, cold)) ssize_t
sendto_cold(int fd, const void *buf, size_t n, int flags,
    const struct sockaddr *sa, socklen_t len)
{
	if (to_dns(sa, len))
		return sendto_dns(fd, buf, n, flags, sa, len);
	return REAL(sendto, sendto)(fd, buf, n, flags, sa, len);
}

HOOK ssize_t
sendto(int fd, const void *buf, size_t n, int flags,
    __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	sendto_fn *f = BOUND(sendto);

	if (__builtin_expect(f != NULL && !to_dns(addr.__sockaddr__, len), 1))
		return f(fd, buf, n, flags, addr.__sockaddr__, len);
	return sendto_cold(fd, buf, n, flags, addr.__sockaddr__, len);
}

/*
 * send() on a socket whose bit says a connect() sent it to an R(X): the
 * fast door, when its peer is an R(X) still (the bit is a hint). Else,
 * and before the first call, libc's.
 */
static __attribute__((noinline, cold)) ssize_t
send_cold(int fd, const void *buf, size_t n, int flags)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	const struct map *m;
	int saved = errno;

	if (atomic_load_explicit(&nmaps, memory_order_relaxed) != 0 &&
	    marked(fd) && !pd_eng_guarded()) {
		if (REAL(getpeername, getpeername)(fd,
		    (struct sockaddr *)&peer, &plen) != 0 || plen >
		    sizeof(peer) || (m = map_of_r((struct sockaddr *)&peer,
		    plen)) == NULL)
			mark(fd, 0);	/* closed, reused, or elsewhere */
		else if (answer_now(fd, m, buf, n, flags)) {
			errno = saved;
			return (ssize_t)n;
		}
	}
	errno = saved;
	return REAL(send, send)(fd, buf, n, flags);
}

HOOK ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
	send_fn *f = BOUND(send);

	if (__builtin_expect(f != NULL && (atomic_load_explicit(&nmaps,
	    memory_order_relaxed) == 0 || !marked(fd)), 1))
		return f(fd, buf, n, flags);
	return send_cold(fd, buf, n, flags);
}

static __attribute__((noinline, cold)) ssize_t
sendmsg_dns(int fd, const struct msghdr *msg, int flags)
{
	const struct sockaddr *to;
	const struct map *mp;
	struct msghdr m = *msg;
	socklen_t tolen;
	ssize_t n;
	int saved = errno;

	if ((to = redirect(fd, msg->msg_name, msg->msg_namelen, &tolen,
	    &mp)) == NULL) {
		if (!may_pass_iov(msg)) {
			errno = ECONNREFUSED;
			return -1;
		}
		to = msg->msg_name;
	} else if (mp != NULL && msg->msg_controllen == 0 &&
	    (n = answer_now_iov(fd, mp, msg, flags)) >= 0) {
		errno = saved;
		return n;
	}
	m.msg_name = (void *)(uintptr_t)to;
	m.msg_namelen = tolen;
	errno = saved;
	return REAL(sendmsg, sendmsg)(fd, &m, flags);
}

static __attribute__((noinline, cold)) ssize_t
sendmsg_cold(int fd, const struct msghdr *msg, int flags)
{
	if (msg != NULL && to_dns(msg->msg_name, msg->msg_namelen))
		return sendmsg_dns(fd, msg, flags);
	return REAL(sendmsg, sendmsg)(fd, msg, flags);
}

HOOK ssize_t
sendmsg(int fd, const struct msghdr *msg, int flags)
{
	sendmsg_fn *f = BOUND(sendmsg);

	if (__builtin_expect(f != NULL && (msg == NULL ||
	    !to_dns(msg->msg_name, msg->msg_namelen)), 1))
		return f(fd, msg, flags);
	return sendmsg_cold(fd, msg, flags);
}

static __attribute__((noinline, cold)) int
sendmmsg_dns(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	struct mmsghdr w[MMSG_MAX];
	const struct sockaddr *to;
	const struct map *m;	/* no fast door for batches */
	socklen_t tolen;
	unsigned i, k;
	int rc, saved = errno;

	/* sendmmsg may send fewer than asked; callers send the rest. */
	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	memcpy(w, v, vlen * sizeof(w[0]));
	for (i = 0; i < vlen; i++) {
		if (!to_dns(w[i].msg_hdr.msg_name, w[i].msg_hdr.msg_namelen))
			continue;
		to = redirect(fd, w[i].msg_hdr.msg_name,
		    w[i].msg_hdr.msg_namelen, &tolen, &m);
		if (to == NULL) {
			if (may_pass_iov(&w[i].msg_hdr))
				continue;
			if (i == 0) {
				errno = ECONNREFUSED;
				return -1;
			}
			vlen = i;	/* the refused one fails next call */
			break;
		}
		w[i].msg_hdr.msg_name = (void *)(uintptr_t)to;
		w[i].msg_hdr.msg_namelen = tolen;
	}
	errno = saved;
	rc = REAL(sendmmsg, sendmmsg)(fd, w, vlen, flags);
	for (k = 0; rc > 0 && k < (unsigned)rc; k++)
		v[k].msg_len = w[k].msg_len;
	return rc;
}

HOOK int
sendmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags)
{
	unsigned i;

	for (i = 0; v != NULL && i < vlen; i++)
		if (to_dns(v[i].msg_hdr.msg_name, v[i].msg_hdr.msg_namelen))
			return sendmmsg_dns(fd, v, vlen, flags);
	return REAL(sendmmsg, sendmmsg)(fd, v, vlen, flags);
}

/* Bind the receive calls, then make the call that found them unbound. */
static __attribute__((noinline, cold)) void
bind_recv(void)
{
	(void)REAL(recvfrom, recvfrom);
	(void)REAL(recvmsg, recvmsg);
	(void)REAL(getpeername, getpeername);
}

HOOK ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, __SOCKADDR_ARG addr,
    socklen_t *len)
{
	struct sockaddr *sa = addr.__sockaddr__;
	recvfrom_fn *f = BOUND(recvfrom);
	socklen_t cap;
	ssize_t rc;

	if (__builtin_expect(f == NULL, 0)) {
		bind_recv();
		return recvfrom(fd, buf, n, flags, addr, len);
	}
	cap = len != NULL ? *len : 0;
	rc = f(fd, buf, n, flags, sa, len);
	if (__builtin_expect(rc >= 0 && atomic_load_explicit(&nmaps,
	    memory_order_relaxed) != 0, 0))
		unmap(sa, len, cap);
	return rc;
}

/*
 * _FORTIFY_SOURCE builds call this when the buffer's size is known
 * (declared by <bits/socket2.h> only under _FORTIFY_SOURCE).
 */
ssize_t	__recvfrom_chk(int, void *, size_t, size_t, int, __SOCKADDR_ARG,
	    socklen_t *);

HOOK ssize_t
__recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
    __SOCKADDR_ARG addr, socklen_t *len)
{
	if (n > buflen)		/* libc's check fails: let it say so */
		return REAL(recvfrom_chk, __recvfrom_chk)(fd, buf, n, buflen,
		    flags, addr.__sockaddr__, len);
	return recvfrom(fd, buf, n, flags, addr, len);
}

HOOK ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	recvmsg_fn *f = BOUND(recvmsg);
	socklen_t cap;
	ssize_t rc;

	if (__builtin_expect(f == NULL, 0)) {
		bind_recv();
		return recvmsg(fd, msg, flags);
	}
	cap = msg != NULL ? msg->msg_namelen : 0;
	rc = f(fd, msg, flags);
	if (rc >= 0 && atomic_load_explicit(&nmaps, memory_order_relaxed))
		unmap(msg->msg_name, &msg->msg_namelen, cap);
	return rc;
}

HOOK int
recvmmsg(int fd, struct mmsghdr *v, unsigned int vlen, int flags,
    struct timespec *tmo)
{
	socklen_t cap[MMSG_MAX];
	unsigned i;
	int rc;

	if (!atomic_load_explicit(&nmaps, memory_order_relaxed) || v == NULL)
		return REAL(recvmmsg, recvmmsg)(fd, v, vlen, flags, tmo);
	/* recvmmsg may return fewer than asked: the rest come next call. */
	if (vlen > MMSG_MAX)
		vlen = MMSG_MAX;
	for (i = 0; i < vlen; i++)
		cap[i] = v[i].msg_hdr.msg_namelen;
	rc = REAL(recvmmsg, recvmmsg)(fd, v, vlen, flags, tmo);
	for (i = 0; rc > 0 && i < (unsigned)rc; i++)
		unmap(v[i].msg_hdr.msg_name, &v[i].msg_hdr.msg_namelen,
		    cap[i]);
	return rc;
}

HOOK int
getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	struct sockaddr *sa = addr.__sockaddr__;
	getpeername_fn *f = BOUND(getpeername);
	socklen_t cap;
	int rc;

	if (__builtin_expect(f == NULL, 0)) {
		bind_recv();
		return getpeername(fd, addr, len);
	}
	cap = len != NULL ? *len : 0;
	rc = f(fd, sa, len);
	if (rc == 0 && atomic_load_explicit(&nmaps, memory_order_relaxed))
		unmap(sa, len, cap);
	return rc;
}

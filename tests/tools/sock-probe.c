/*
 * sock-probe: a client that sends DNS itself, over the socket calls a
 * hand-rolled resolver uses, and what came back (libresolv's parser).
 *
 *   sock-probe MODE SERVER NAME [TYPE]
 *
 * MODE: connect (UDP connect + send + recvfrom), sendto (sendto +
 * recvfrom), sendmsg (sendmsg + recvmsg), mmsg (sendmmsg + recvmmsg, two
 * queries: TYPE and A), v6 (an AF_INET6 socket, SERVER as ::ffff:a.b.c.d,
 * sendto + recvfrom), tcp (connect + write + read, framed), fork (UDP:
 * connect and ask; fork; the child asks on the inherited socket and on a
 * new one), orphan (ask; fork; the parent exits; the child, once its
 * parent is gone, asks on a new socket), exec (ask, then exec itself as
 * `fds` to list the sockets that crossed exec), exhaust (ask with
 * sendto, then use up every descriptor and ask again from an AF_INET6
 * socket made before, to ::ffff:SERVER: a server the process has not
 * sent to, so no responder can be made for it), same (one query asked
 * ROUNDS times each way the fast door takes: send on a connected socket,
 * sendto and sendmsg from a new unbound socket, each between two asks
 * by sendmmsg, which the responder's thread answers; prints "ready N/T"
 * for the replies already waiting when the send returned, "direct N/T"
 * for those answered while no other thread received a datagram (with
 * tests/tools/dgramcount.so loaded after the preload; "direct -" without
 * it): the fast door's proof, which "ready" is only while the kernel
 * delivers loopback datagrams before send returns, and "same N/T" for
 * those byte for byte equal to a sendmmsg reply before or after: a TTL
 * may tick between them; TYPE then ROUNDS). TYPE: A
 * (default), AAAA or a number. Per reply: "from ADDR#PORT" (the address
 * the kernel, or the preload, reported), "peer ..." for connected sockets
 * (getpeername), "id ok|MISMATCH", rcode, each answer record.
 */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *name;
static int type = 1;
static struct sockaddr_storage srv;
static socklen_t srvlen;

static void
addr_str(const struct sockaddr *sa, char *out, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    a, sizeof(a));
		snprintf(out, len, "%s#%u", a,
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, a, sizeof(a));
		snprintf(out, len, "%s#%u", a,
		    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	} else
		snprintf(out, len, "family %d", sa->sa_family);
}

static int
mkq(unsigned char *q, size_t len, int t)
{
	int n = res_mkquery(QUERY, name, C_IN, t, NULL, 0, NULL, q, (int)len);

	if (n < 0) {
		printf("res_mkquery failed\n");
		exit(1);
	}
	return n;
}

/* ns_sprintrr is deprecated, still the one printer libresolv has. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void
show(const unsigned char *q, const unsigned char *m, ssize_t len)
{
	ns_msg h;
	ns_rr rr;
	char buf[1024];
	int i;

	if (len < 0) {
		printf("  error %s\n", strerror(errno));
		return;
	}
	printf("  id %s\n", len >= 2 && memcmp(q, m, 2) == 0 ? "ok" :
	    "MISMATCH");
	if (ns_initparse(m, (int)len, &h) != 0) {
		printf("  unparseable (%zd bytes)\n", len);
		return;
	}
	printf("  rcode %d tc %d an %d ar %d\n", ns_msg_getflag(h, ns_f_rcode),
	    ns_msg_getflag(h, ns_f_tc), ns_msg_count(h, ns_s_an),
	    ns_msg_count(h, ns_s_ar));
	for (i = 0; i < ns_msg_count(h, ns_s_an); i++)
		if (ns_parserr(&h, ns_s_an, i, &rr) == 0 &&
		    ns_sprintrr(&h, &rr, NULL, NULL, buf, sizeof(buf)) > 0)
			printf("  an %s\n", buf);
}

static void
from(const struct sockaddr_storage *ss, socklen_t len)
{
	char a[80];

	if (len == 0) {
		printf("  from (none)\n");
		return;
	}
	addr_str((const struct sockaddr *)ss, a, sizeof(a));
	printf("  from %s%s\n", a, len == srvlen ? "" : " (length differs)");
}

static void
peer(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[80];

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		printf("  peer error %s\n", strerror(errno));
		return;
	}
	addr_str((struct sockaddr *)&ss, a, sizeof(a));
	printf("  peer %s\n", a);
}

static int
wait_in(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 5000) == 1 ? 0 : -1;
}

/* One UDP question on fd (connected or not), read with recvfrom. */
static void
ask_udp(int fd, int connected)
{
	unsigned char q[512], m[65536];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	ssize_t n;
	int ql = mkq(q, sizeof(q), type);

	if (connected)
		n = send(fd, q, (size_t)ql, 0);
	else
		n = sendto(fd, q, (size_t)ql, 0, (struct sockaddr *)&srv,
		    srvlen);
	if (n != ql) {
		printf("  send error %s\n", strerror(errno));
		return;
	}
	if (wait_in(fd) != 0) {
		printf("  timeout\n");
		return;
	}
	memset(&ss, 0, sizeof(ss));
	n = recvfrom(fd, m, sizeof(m), 0, (struct sockaddr *)&ss, &len);
	from(&ss, n < 0 ? 0 : len);
	if (connected)
		peer(fd);
	show(q, m, n);
}

static int
udp_socket(void)
{
	int fd = socket(srv.ss_family, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("socket");
		exit(1);
	}
	return fd;
}

static int
udp_connected(void)
{
	int fd = udp_socket();

	if (connect(fd, (struct sockaddr *)&srv, srvlen) != 0) {
		printf("  connect error %s\n", strerror(errno));
		exit(1);
	}
	return fd;
}

static void
do_sendmsg(void)
{
	unsigned char q[512], m[65536];
	struct sockaddr_storage ss;
	struct iovec iov;
	struct msghdr h;
	int fd = udp_socket(), ql = mkq(q, sizeof(q), type);
	ssize_t n;

	memset(&h, 0, sizeof(h));
	iov.iov_base = q;
	iov.iov_len = (size_t)ql;
	h.msg_name = &srv;
	h.msg_namelen = srvlen;
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	if (sendmsg(fd, &h, 0) != ql) {
		printf("  sendmsg error %s\n", strerror(errno));
		return;
	}
	if (wait_in(fd) != 0) {
		printf("  timeout\n");
		return;
	}
	memset(&h, 0, sizeof(h));
	memset(&ss, 0, sizeof(ss));
	iov.iov_base = m;
	iov.iov_len = sizeof(m);
	h.msg_name = &ss;
	h.msg_namelen = sizeof(ss);
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	n = recvmsg(fd, &h, 0);
	from(&ss, n < 0 ? 0 : h.msg_namelen);
	show(q, m, n);
}

static void
do_mmsg(void)
{
	static unsigned char m[2][4096];
	unsigned char q[2][512];
	struct sockaddr_storage ss[2];
	struct mmsghdr v[2];
	struct iovec iov[2];
	int fd = udp_socket(), ql[2], got = 0, n, i;

	ql[0] = mkq(q[0], sizeof(q[0]), type);
	ql[1] = mkq(q[1], sizeof(q[1]), 1);
	memset(v, 0, sizeof(v));
	for (i = 0; i < 2; i++) {
		iov[i].iov_base = q[i];
		iov[i].iov_len = (size_t)ql[i];
		v[i].msg_hdr.msg_name = &srv;
		v[i].msg_hdr.msg_namelen = srvlen;
		v[i].msg_hdr.msg_iov = &iov[i];
		v[i].msg_hdr.msg_iovlen = 1;
	}
	if ((n = sendmmsg(fd, v, 2, 0)) != 2) {
		printf("  sendmmsg sent %d: %s\n", n, strerror(errno));
		return;
	}
	while (got < 2) {
		if (wait_in(fd) != 0) {
			printf("  timeout\n");
			return;
		}
		memset(v, 0, sizeof(v));
		memset(ss, 0, sizeof(ss));
		for (i = 0; i < 2; i++) {
			iov[i].iov_base = m[i];
			iov[i].iov_len = sizeof(m[i]);
			v[i].msg_hdr.msg_name = &ss[i];
			v[i].msg_hdr.msg_namelen = sizeof(ss[i]);
			v[i].msg_hdr.msg_iov = &iov[i];
			v[i].msg_hdr.msg_iovlen = 1;
		}
		if ((n = recvmmsg(fd, v, 2 - got, MSG_DONTWAIT, NULL)) <= 0)
			continue;
		for (i = 0; i < n; i++, got++) {
			from(&ss[i], v[i].msg_hdr.msg_namelen);
			/* Replies may come in any order: match by ID. */
			show(memcmp(q[0], m[i], 2) == 0 ? q[0] : q[1], m[i],
			    v[i].msg_len);
		}
	}
}

static void
do_tcp(void)
{
	unsigned char q[514], m[65536];
	int fd = socket(srv.ss_family, SOCK_STREAM, 0);
	int ql = mkq(q + 2, sizeof(q) - 2, type);
	size_t have = 0, need = 2;
	ssize_t n;

	q[0] = (unsigned char)(ql >> 8);
	q[1] = (unsigned char)ql;
	if (connect(fd, (struct sockaddr *)&srv, srvlen) != 0) {
		printf("  connect error %s\n", strerror(errno));
		return;
	}
	peer(fd);
	if (write(fd, q, (size_t)ql + 2) != ql + 2) {
		printf("  write error %s\n", strerror(errno));
		return;
	}
	while (have < need) {
		if (wait_in(fd) != 0 ||
		    (n = read(fd, m + have, sizeof(m) - have)) <= 0) {
			printf("  read error or timeout\n");
			return;
		}
		have += (size_t)n;
		if (have >= 2)
			need = 2 + ((size_t)m[0] << 8 | m[1]);
	}
	show(q + 2, m + 2, (ssize_t)need - 2);
}

/* The reply to q by sendmmsg on fd (the responder's thread), in m. */
static ssize_t
via_mmsg(int fd, const unsigned char *q, int ql, unsigned char *m,
    size_t cap)
{
	struct mmsghdr v;
	struct iovec iov;

	memset(&v, 0, sizeof(v));
	iov.iov_base = (void *)(uintptr_t)q;
	iov.iov_len = (size_t)ql;
	v.msg_hdr.msg_name = &srv;
	v.msg_hdr.msg_namelen = srvlen;
	v.msg_hdr.msg_iov = &iov;
	v.msg_hdr.msg_iovlen = 1;
	if (sendmmsg(fd, &v, 1, 0) != 1 || wait_in(fd) != 0)
		return -1;
	return recv(fd, m, cap, 0);
}

/*
 * The reply to q sent the fast door's way `how` (0 send on the connected
 * fd, 1 sendto, 2 sendmsg from a new socket), in m; *ready: it was
 * there as soon as the send returned.
 */
static ssize_t
via_fast(int how, int cfd, const unsigned char *q, int ql, unsigned char *m,
    size_t cap, int *ready)
{
	struct msghdr h;
	struct iovec iov;
	ssize_t n = -1;
	int fd = how == 0 ? cfd : udp_socket();

	memset(&h, 0, sizeof(h));
	iov.iov_base = (void *)(uintptr_t)q;
	iov.iov_len = (size_t)ql;
	h.msg_name = &srv;
	h.msg_namelen = srvlen;
	h.msg_iov = &iov;
	h.msg_iovlen = 1;
	if ((how == 0 ? send(fd, q, (size_t)ql, 0) : how == 1 ?
	    sendto(fd, q, (size_t)ql, 0, (struct sockaddr *)&srv, srvlen) :
	    sendmsg(fd, &h, 0)) != ql)
		goto out;
	n = recv(fd, m, cap, MSG_DONTWAIT);
	*ready = n > 0;
	if (n < 0 && wait_in(fd) == 0)
		n = recv(fd, m, cap, 0);
out:
	if (fd != cfd)
		close(fd);
	return n;
}

static void
do_same(int rounds)
{
	static unsigned char s[2][4096], f[4096];
	unsigned char q[512];
	ssize_t sn[2], fn = -1;
	int ql = mkq(q, sizeof(q), type), mfd = udp_socket();
	int cfd = udp_connected(), how, k, i, ready, nready = 0, nsame = 0;
	int ndirect = 0;
	uint64_t (*dgrams)(void) = (uint64_t (*)(void))dlsym(RTLD_DEFAULT,
	    "pd_test_dgrams");
	uint64_t c0;

	(void)via_mmsg(mfd, q, ql, s[0], sizeof(s[0]));	/* warm the cache */
	for (k = 0; k < rounds; k++)
		for (how = 0; how < 3; how++) {
			ready = 0;
			sn[0] = via_mmsg(mfd, q, ql, s[0], sizeof(s[0]));
			/* The responder received sn[0]'s query before it
			 * replied: counted by now. */
			c0 = dgrams != NULL ? dgrams() : 0;
			fn = via_fast(how, cfd, q, ql, f, sizeof(f), &ready);
			/* Had the responder's thread answered, it would have
			 * received the query before this reply was sent. */
			if (dgrams != NULL && fn > 0 && dgrams() == c0)
				ndirect++;
			sn[1] = via_mmsg(mfd, q, ql, s[1], sizeof(s[1]));
			nready += ready;
			for (i = 0; i < 2; i++)
				if (fn > 0 && fn == sn[i] &&
				    memcmp(f, s[i], (size_t)fn) == 0) {
					nsame++;
					break;
				}
		}
	if (dgrams != NULL)
		printf("ready %d/%d direct %d/%d same %d/%d\n", nready,
		    3 * rounds, ndirect, 3 * rounds, nsame, 3 * rounds);
	else
		printf("ready %d/%d direct - same %d/%d\n", nready,
		    3 * rounds, nsame, 3 * rounds);
	show(q, f, fn);
}

static void
list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char p[300], t[256];
	int socks = 0;
	ssize_t n;

	while (d != NULL && (e = readdir(d)) != NULL) {
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		if ((n = readlink(p, t, sizeof(t) - 1)) > 0) {
			t[n] = '\0';
			socks += strncmp(t, "socket:", 7) == 0;
		}
	}
	if (d != NULL)
		closedir(d);
	printf("sockets after exec: %d\n", socks);
}

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic unsigned long n_ok, n_wrong, n_lost;
static double load_end;

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The A record's address of reply m, "" when none. */
static void
first_a(const unsigned char *m, ssize_t len, char *out, size_t olen)
{
	ns_msg h;
	ns_rr rr;
	int i;

	out[0] = '\0';
	if (len < 0 || ns_initparse(m, (int)len, &h) != 0)
		return;
	for (i = 0; i < ns_msg_count(h, ns_s_an); i++)
		if (ns_parserr(&h, ns_s_an, i, &rr) == 0 &&
		    ns_rr_type(rr) == ns_t_a && ns_rr_rdlen(rr) == 4) {
			inet_ntop(AF_INET, ns_rr_rdata(rr), out, (socklen_t)olen);
			return;
		}
}

static void *
load_dns(void *arg)
{
	static const char *names[2][2] = {
		{ NULL, "127.0.10.1" }, { "www.plain.lab.test", "127.0.20.1" },
	};
	unsigned char q[512], m[4096];
	char got[64];
	unsigned k = (unsigned)(uintptr_t)arg, i;
	int fd = -1, connected = 0, ql;
	ssize_t n;

	for (i = 0; now_s() < load_end; i++) {
		const char *nm = names[i % 2][0] ? names[i % 2][0] : name;

		if (i % 16 == 0) {
			if (fd >= 0)
				close(fd);
			fd = socket(AF_INET, SOCK_DGRAM, 0);
			connected = (k + i / 16) % 2;
			if (connected && connect(fd, (struct sockaddr *)&srv,
			    srvlen) != 0)
				connected = 0;
		}
		ql = res_mkquery(QUERY, nm, C_IN, 1, NULL, 0, NULL, q,
		    sizeof(q));
		if (ql < 0 || (connected ? send(fd, q, (size_t)ql, 0) :
		    sendto(fd, q, (size_t)ql, 0, (struct sockaddr *)&srv,
		    srvlen)) != ql || wait_in(fd) != 0) {
			n_lost++;
			continue;
		}
		n = recv(fd, m, sizeof(m), 0);
		first_a(m, n, got, sizeof(got));
		if (n >= 2 && memcmp(q, m, 2) == 0 &&
		    strcmp(got, names[i % 2][1]) == 0)
			n_ok++;
		else
			n_wrong++;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *
load_gai(void *arg)
{
	struct addrinfo hints, *res;
	char a[64];

	(void)arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	while (now_s() < load_end) {
		if (getaddrinfo(name, "443", &hints, &res) != 0) {
			n_lost++;
			continue;
		}
		inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->
		    sin_addr, a, sizeof(a));
		if (strcmp(a, "127.0.10.1") == 0)
			n_ok++;
		else
			n_wrong++;
		freeaddrinfo(res);
	}
	return NULL;
}

static int
run_load(double secs, unsigned nt)
{
	pthread_t t[128];
	unsigned i, n = 0;

	load_end = now_s() + secs;
	for (i = 0; i < nt && n < 128; i++)
		if (pthread_create(&t[n], NULL, load_dns,
		    (void *)(uintptr_t)i) == 0)
			n++;
	for (i = 0; i < nt / 2 && n < 128; i++)
		if (pthread_create(&t[n], NULL, load_gai, NULL) == 0)
			n++;
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("answers %lu wrong %lu lost %lu\n", n_ok, n_wrong, n_lost);
	return n_wrong == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *mode;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&srv;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&srv;
	char buf[80];
	int fd, p[2];
	pid_t pid;

	if (argc == 2 && strcmp(argv[1], "fds") == 0) {
		list_fds();
		return 0;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: sock-probe MODE SERVER NAME [TYPE]\n");
		return 2;
	}
	mode = argv[1];
	name = argv[3];
	if (argc > 4)
		type = strcmp(argv[4], "A") == 0 ? 1 : strcmp(argv[4],
		    "AAAA") == 0 ? 28 : atoi(argv[4]);
	memset(&srv, 0, sizeof(srv));
	if (strcmp(mode, "v6") == 0) {
		snprintf(buf, sizeof(buf), "::ffff:%s", argv[2]);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(53);
		if (inet_pton(AF_INET6, buf, &s6->sin6_addr) != 1)
			return 2;
		srvlen = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(53);
		if (inet_pton(AF_INET, argv[2], &s4->sin_addr) != 1)
			return 2;
		srvlen = sizeof(*s4);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("%s %s %d\n", mode, name, type);
	if (strcmp(mode, "connect") == 0)
		ask_udp(udp_connected(), 1);
	else if (strcmp(mode, "sendto") == 0 || strcmp(mode, "v6") == 0)
		ask_udp(udp_socket(), 0);
	else if (strcmp(mode, "sendmsg") == 0)
		do_sendmsg();
	else if (strcmp(mode, "mmsg") == 0)
		do_mmsg();
	else if (strcmp(mode, "tcp") == 0)
		do_tcp();
	else if (strcmp(mode, "fork") == 0) {
		fd = udp_connected();
		ask_udp(fd, 1);
		if ((pid = fork()) == 0) {
			printf("child, inherited socket:\n");
			ask_udp(fd, 1);
			printf("child, new socket:\n");
			ask_udp(udp_connected(), 1);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
	} else if (strcmp(mode, "orphan") == 0) {
		ask_udp(udp_connected(), 1);
		if (pipe(p) != 0)
			return 1;
		if ((pid = fork()) != 0)
			_exit(0);	/* the parent, and its responder, go */
		/* EOF once the parent is gone, and its threads with it. */
		close(p[1]);
		while (read(p[0], buf, sizeof(buf)) > 0)
			;
		printf("orphan, new socket:\n");
		ask_udp(udp_connected(), 1);
	} else if (strcmp(mode, "same") == 0 && argc > 5) {
		do_same(atoi(argv[5]));
	} else if (strcmp(mode, "load") == 0 && argc > 5) {
		return run_load(atof(argv[4]), (unsigned)atoi(argv[5]));
	} else if (strcmp(mode, "exhaust") == 0) {
		int fd6 = socket(AF_INET6, SOCK_DGRAM, 0);
		struct sockaddr_in6 m6;

		ask_udp(udp_socket(), 0);
		memset(&m6, 0, sizeof(m6));
		m6.sin6_family = AF_INET6;
		m6.sin6_port = htons(53);
		snprintf(buf, sizeof(buf), "::ffff:%s", argv[2]);
		if (fd6 < 0 || inet_pton(AF_INET6, buf, &m6.sin6_addr) != 1)
			return 1;
		memcpy(&srv, &m6, sizeof(m6));
		srvlen = sizeof(m6);
		while (dup(0) >= 0)
			;
		printf("no descriptor left (%s):\n", strerror(errno));
		ask_udp(fd6, 0);
	} else if (strcmp(mode, "exec") == 0) {
		ask_udp(udp_connected(), 1);
		fflush(stdout);
		execl("/proc/self/exe", "sock-probe", "fds", (char *)NULL);
		perror("exec");
		return 1;
	} else {
		fprintf(stderr, "sock-probe: unknown mode %s\n", mode);
		return 2;
	}
	return 0;
}

/*
 * nodelay.so: LD_PRELOAD shim for the lab's DNS-over-TLS servers.
 *
 * unbound 1.17 never sets TCP_NODELAY on the sockets it accepts for DoT,
 * so a response written in two TLS records waits for the client's delayed
 * ACK (~40 ms per new connection on loopback; see GETDNS-NOTES.md,
 * "Timing"). Setting the option on the server side removes that artefact,
 * so what the tests and benchmarks measure is the client, not unbound.
 *
 * The real functions are looked up once; the atomics only keep the lazy
 * lookup free of a data race when several threads accept at once.
 *
 * Only accept() and accept4() are wrapped: every accepted socket gets
 * TCP_NODELAY. The setsockopt() result is ignored on purpose: a Unix or
 * UDP socket refuses the option and must be returned untouched.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);

/* Exported on purpose: the dynamic linker must find these first. */
__attribute__((visibility("default"))) int accept(int, struct sockaddr *,
    socklen_t *);
__attribute__((visibility("default"))) int accept4(int, struct sockaddr *,
    socklen_t *, int);

static void
set_nodelay(int fd)
{
	int one = 1, saved = errno;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	errno = saved;
}

int
accept(int s, struct sockaddr *addr, socklen_t *len)
{
	static accept_fn real_accept;
	accept_fn fn;
	int fd;

	fn = __atomic_load_n(&real_accept, __ATOMIC_RELAXED);
	if (fn == NULL) {
		fn = (accept_fn)dlsym(RTLD_NEXT, "accept");
		__atomic_store_n(&real_accept, fn, __ATOMIC_RELAXED);
	}
	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((fd = fn(s, addr, len)) >= 0)
		set_nodelay(fd);
	return fd;
}

int
accept4(int s, struct sockaddr *addr, socklen_t *len, int flags)
{
	static accept4_fn real_accept4;
	accept4_fn fn;
	int fd;

	fn = __atomic_load_n(&real_accept4, __ATOMIC_RELAXED);
	if (fn == NULL) {
		fn = (accept4_fn)dlsym(RTLD_NEXT, "accept4");
		__atomic_store_n(&real_accept4, fn, __ATOMIC_RELAXED);
	}
	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if ((fd = fn(s, addr, len, flags)) >= 0)
		set_nodelay(fd);
	return fd;
}

/*
 * dgramcount.so: counts the datagrams that threads other than the main
 * one receive, for sock-probe's fast-door check (58-preload-sock).
 *
 * The fast door answers a query on the sending thread: the query never
 * reaches the responder's socket, so the responder's thread receives
 * nothing. Whether the reply was already queued when the send returned
 * says the same only while the kernel delivers loopback datagrams before
 * send returns, which it does not promise: under load it leaves that to
 * ksoftirqd. A count of what the other threads received does not depend
 * on when the kernel delivers.
 *
 * Load it after the preload (LD_PRELOAD="libpindns.so dgramcount.so"):
 * the preload's own calls to the real recvfrom, recv and recvmsg (looked
 * up with RTLD_NEXT) then come here, as do the engine's. The program
 * reads the count through dlsym(RTLD_DEFAULT, "pd_test_dgrams").
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

/* Exported on purpose: the dynamic linker must find these. */
__attribute__((visibility("default"))) ssize_t recvfrom(int, void *, size_t,
    int, struct sockaddr *, socklen_t *);
__attribute__((visibility("default"))) ssize_t recv(int, void *, size_t, int);
__attribute__((visibility("default"))) ssize_t recvmsg(int, struct msghdr *,
    int);
__attribute__((visibility("default"))) uint64_t pd_test_dgrams(void);

static uint64_t n_dgrams;

uint64_t
pd_test_dgrams(void)
{
	return __atomic_load_n(&n_dgrams, __ATOMIC_ACQUIRE);
}

static void *
real(void **slot, const char *name)
{
	void *fn = __atomic_load_n(slot, __ATOMIC_RELAXED);

	if (fn == NULL) {
		fn = dlsym(RTLD_NEXT, name);
		__atomic_store_n(slot, fn, __ATOMIC_RELAXED);
	}
	return fn;
}

/* A datagram received on another thread than the main one: count it. */
static ssize_t
count(int fd, ssize_t n)
{
	int saved = errno, type = 0;
	socklen_t len = sizeof(type);

	if (n >= 0 && gettid() != getpid() &&
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	    type == SOCK_DGRAM)
		__atomic_add_fetch(&n_dgrams, 1, __ATOMIC_RELEASE);
	errno = saved;
	return n;
}

ssize_t
recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
    socklen_t *fromlen)
{
	static void *slot;
	ssize_t (*fn)(int, void *, size_t, int, struct sockaddr *,
	    socklen_t *) = real(&slot, "recvfrom");

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return count(fd, fn(fd, buf, len, flags, from, fromlen));
}

ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	static void *slot;
	ssize_t (*fn)(int, void *, size_t, int) = real(&slot, "recv");

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return count(fd, fn(fd, buf, len, flags));
}

ssize_t
recvmsg(int fd, struct msghdr *msg, int flags)
{
	static void *slot;
	ssize_t (*fn)(int, struct msghdr *, int) = real(&slot, "recvmsg");

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return count(fd, fn(fd, msg, flags));
}

/* pindns DoT backend: policy upstream -> getdns context (context.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolver/dot/context.h"

/*
 * getdns's upstream log, at ERR level: a TLS verification failure reads
 * "<addr> : Verify failed : TLS - *Failure* - (62) "hostname mismatch"",
 * a missing name and pin "... Verify fail: *CONFIG ERROR* ...". Each
 * context has one upstream, so the message is about that one.
 */
__attribute__((format(printf, 4, 0))) static void
ctx_log(void *arg, uint64_t system, getdns_loglevel_type level,
    const char *fmt, va_list ap)
{
	struct pd_up *up = arg;
	char msg[256];
	const char *p;

	(void)system;
	if (level > GETDNS_LOG_ERR)
		return;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if ((p = strstr(msg, "Verify fail")) == NULL)
		return;
	/* Keep what follows "*Failure* - ": the OpenSSL verify result. */
	if (strstr(p, "*Failure* - ") != NULL)
		p = strstr(p, "*Failure* - ") + strlen("*Failure* - ");
	while (*p == ' ')
		p++;
	snprintf(up->verify_err, sizeof(up->verify_err), "%.*s",
	    (int)strcspn(p, "\n"), p);
	up->verify_seq++;
}

static bool
upstream_dict(const struct pd_upstream *u, getdns_dict **dp)
{
	getdns_dict *d = NULL, *pin = NULL;
	getdns_list *pins = NULL;
	getdns_bindata addr, val;
	size_t i;
	bool ok = false;

	addr.data = (uint8_t *)u->addr.addr;
	addr.size = u->addr.family == AF_INET6 ? 16 : 4;
	if ((d = getdns_dict_create()) == NULL ||
	    getdns_dict_util_set_string(d, "address_type",
	    u->addr.family == AF_INET6 ? "IPv6" : "IPv4") != 0 ||
	    getdns_dict_set_bindata(d, "address_data", &addr) != 0 ||
	    getdns_dict_set_int(d, "tls_port", u->tls_port) != 0)
		goto out;
	if (u->tls_auth_name != NULL && getdns_dict_util_set_string(d,
	    "tls_auth_name", u->tls_auth_name) != 0)
		goto out;
	if (u->npins > 0) {
		if ((pins = getdns_list_create()) == NULL)
			goto out;
		for (i = 0; i < u->npins; i++) {
			val.data = (uint8_t *)u->pins[i].sha256;
			val.size = sizeof(u->pins[i].sha256);
			if ((pin = getdns_dict_create()) == NULL ||
			    getdns_dict_util_set_string(pin, "digest",
			    "sha256") != 0 ||
			    getdns_dict_set_bindata(pin, "value", &val) != 0 ||
			    getdns_list_set_dict(pins, i, pin) != 0)
				goto out;
			getdns_dict_destroy(pin);
			pin = NULL;
		}
		if (getdns_dict_set_list(d, "tls_pubkey_pinset", pins) != 0)
			goto out;
	}
	*dp = d;
	d = NULL;
	ok = true;
out:
	getdns_dict_destroy(pin);
	getdns_list_destroy(pins);
	getdns_dict_destroy(d);
	return ok;
}

/*
 * getdns 1.6.0 trusts length fields inside some records' RDATA: a HIP
 * record whose public-key length (up to 65535) runs past its RDLENGTH
 * makes the stub copy that many bytes from its reply buffer, reading up
 * to 64 KiB past the end of a 4 KiB heap block (found by fuzz_reply,
 * reproduced through a real DoT connection with the lab's `lying-rdata`
 * upstream under ASan). Only an upstream that passed TLS authentication
 * can send it, but a read off the end of the heap would kill the worker.
 * Every block of 4 KiB or more that getdns allocates (its read buffers
 * among them) gets PD_GETDNS_PAD bytes more, so such a read stays inside
 * memory the block owns; the bytes it picks up land in the RDATA of a
 * record type pindns never reads. The wrappers are tail calls, so the
 * caller libc (and a failing-allocation shim) sees is getdns itself.
 */
#define PAD_FROM	4096
#if defined(__GNUC__) && !defined(__clang__)
#define TAILCALL	__attribute__((optimize("optimize-sibling-calls")))
#else
#define TAILCALL	/* clang emits the tail call from -O1 */
#endif

TAILCALL static void *
mf_malloc(void *arg, size_t n)
{
	(void)arg;
	return malloc(n >= PAD_FROM && n <= SIZE_MAX - PD_GETDNS_PAD ?
	    n + PD_GETDNS_PAD : n);
}

TAILCALL static void *
mf_realloc(void *arg, void *p, size_t n)
{
	(void)arg;
	return realloc(p, n >= PAD_FROM && n <= SIZE_MAX - PD_GETDNS_PAD ?
	    n + PD_GETDNS_PAD : n);
}

TAILCALL static void
mf_free(void *arg, void *p)
{
	(void)arg;
	free(p);
}

#define SET(call, what) do {						\
	if ((rc = (call)) != GETDNS_RETURN_GOOD) {			\
		snprintf(err, errlen, "%s: getdns refused %s (%d)",	\
		    u->label, (what), (int)rc);				\
		goto out;						\
	}								\
} while (0)

enum pd_err
pd_ctx_ca_open(const struct pd_policy_file *ca, struct pd_ca *out,
    char *err, size_t errlen)
{
	struct stat a, b;
	size_t off = 0;
	ssize_t w;
	int fd, pfd = -1;
	const char *what = "memfd_create";

	out->fd = -1;
	out->path[0] = '\0';
	if (ca->data == NULL) {
		snprintf(err, errlen, "tls_ca_file %s: not read when the "
		    "policy was loaded", ca->path);
		return PD_EINVAL;
	}
	if ((fd = memfd_create("pindns-ca", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		goto fail;
	what = "write";
	while (off < ca->len) {
		if ((w = write(fd, ca->data + off, ca->len - off)) < 0 &&
		    errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	what = "seal";
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) != 0)
		goto fail;
	snprintf(out->path, sizeof(out->path), "/proc/self/fd/%d", fd);
	what = out->path;
	if ((pfd = open(out->path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    fstat(pfd, &a) != 0 || fstat(fd, &b) != 0)
		goto fail;
	(void)close(pfd);
	if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		errno = ENOENT;
		pfd = -1;
		goto fail;
	}
	out->fd = fd;
	return PD_OK;
fail:
	snprintf(err, errlen, "tls_ca_file %s: cannot hand the verified "
	    "bytes to getdns (%s: %s%s)", ca->path, what, strerror(errno),
	    what == out->path ? "; is /proc mounted?" : "");
	if (pfd >= 0)
		(void)close(pfd);
	if (fd >= 0)
		(void)close(fd);
	out->path[0] = '\0';
	return PD_EINTERNAL;
}

void
pd_ctx_ca_close(struct pd_ca *ca)
{
	if (ca->fd >= 0)
		(void)close(ca->fd);
	ca->fd = -1;
	ca->path[0] = '\0';
}

/*
 * getdns makes a libunbound context inside a getdns context, and
 * libunbound's first-use set-up of process-wide state is not thread-safe
 * (TSan, 58-preload-gaia under make tsan: libunbound initialises a global
 * mutex in one thread while another locks it, when two threads make the
 * first backend at once). So contexts are made one at a time. A leaf lock:
 * nothing else is taken under it, and the backend's fork handler takes it
 * after its run locks (pd_ctx_lock).
 */
static pthread_mutex_t ctx_mu = PTHREAD_MUTEX_INITIALIZER;

void
pd_ctx_lock(void)
{
	(void)pthread_mutex_lock(&ctx_mu);
}

void
pd_ctx_unlock(void)
{
	(void)pthread_mutex_unlock(&ctx_mu);
}

static enum pd_err ctx_new(const struct pd_policy *p,
    const struct pd_upstream *u, const char *ca_path,
    const getdns_list *anchors, getdns_eventloop *loop, struct pd_up *up,
    char *err, size_t errlen);

enum pd_err
pd_ctx_new(const struct pd_policy *p, const struct pd_upstream *u,
    const char *ca_path, const getdns_list *anchors, getdns_eventloop *loop,
    struct pd_up *up, char *err, size_t errlen)
{
	enum pd_err r;

	pd_ctx_lock();
	r = ctx_new(p, u, ca_path, anchors, loop, up, err, errlen);
	pd_ctx_unlock();
	return r;
}

static enum pd_err
ctx_new(const struct pd_policy *p, const struct pd_upstream *u,
    const char *ca_path, const getdns_list *anchors, getdns_eventloop *loop,
    struct pd_up *up, char *err, size_t errlen)
{
	getdns_context *ctx = NULL;
	getdns_list *ups = NULL;
	getdns_dict *ud = NULL;
	getdns_namespace_t ns = GETDNS_NAMESPACE_DNS;
	getdns_transport_list_t tls = GETDNS_TRANSPORT_TLS;
	getdns_return_t rc;
	enum pd_err r = PD_EINTERNAL;

	memset(up, 0, sizeof(*up));
	up->cfg = u;
	/* set_from_os = 0: no resolv.conf, no /etc/hosts. */
	SET(getdns_context_create_with_extended_memory_functions(&ctx, 0,
	    NULL, mf_malloc, mf_realloc, mf_free), "context creation");
	SET(getdns_context_set_logfunc(ctx, up, GETDNS_LOG_UPSTREAM_STATS,
	    GETDNS_LOG_ERR, ctx_log), "logfunc");
	SET(getdns_context_set_eventloop(ctx, loop), "eventloop");
	SET(getdns_context_set_resolution_type(ctx, GETDNS_RESOLUTION_STUB),
	    "stub resolution");
	SET(getdns_context_set_namespaces(ctx, 1, &ns), "namespaces");
	SET(getdns_context_set_dns_transport_list(ctx, 1, &tls),
	    "TLS-only transport");
	SET(getdns_context_set_tls_authentication(ctx,
	    GETDNS_AUTHENTICATION_REQUIRED), "tls_authentication");
	SET(getdns_context_set_append_name(ctx, GETDNS_APPEND_NAME_NEVER),
	    "append_name");
	SET(getdns_context_set_trust_anchors_verify_CA(ctx, ""),
	    "trust_anchors_verify_CA");
	SET(getdns_context_set_trust_anchors_verify_email(ctx, ""),
	    "trust_anchors_verify_email");
	if (ca_path != NULL)
		SET(getdns_context_set_tls_ca_file(ctx, ca_path),
		    "tls_ca_file");
	if (anchors != NULL)
		SET(getdns_context_set_dnssec_trust_anchors(ctx,
		    (getdns_list *)anchors), "dnssec_trust_anchors");
	SET(getdns_context_set_timeout(ctx, p->timeout_ms ? p->timeout_ms :
	    2000), "timeout");
	if (!upstream_dict(u, &ud) || (ups = getdns_list_create()) == NULL ||
	    getdns_list_set_dict(ups, 0, ud) != 0) {
		snprintf(err, errlen, "%s: out of memory", u->label);
		r = PD_ENOMEM;
		goto out;
	}
	SET(getdns_context_set_upstream_recursive_servers(ctx, ups),
	    "the upstream (address, port, name or pins)");
	/* After the upstreams: before them 1.6.0 dereferences NULL. */
	SET(getdns_context_set_idle_timeout(ctx, p->idle_timeout_ms),
	    "idle_timeout");
	up->ctx = ctx;
	ctx = NULL;
	r = PD_OK;
out:
	getdns_dict_destroy(ud);
	getdns_list_destroy(ups);
	if (ctx != NULL)
		getdns_context_destroy(ctx);
	return r;
}

void
pd_ctx_free(struct pd_up *up)
{
	if (up->ctx != NULL)
		getdns_context_destroy(up->ctx);
	up->ctx = NULL;
}

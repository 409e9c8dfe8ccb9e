/*
 * pindns DoT backend: one getdns stub context per policy upstream.
 *
 * One context per upstream (rather than one context listing them all)
 * lets the backend run failover itself within the lookup budget (getdns
 * waits up to 2.5 s for a TLS handshake before it tries the next
 * upstream, longer than a typical timeout_ms) and tell exactly which
 * upstream failed how: getdns 1.6 returns only a generic error (1), then
 * 398 while it backs off, and names upstreams by address alone in its
 * log, so the TLS verify result is taken from its upstream log per
 * context.
 *
 * Settings (GETDNS-NOTES.md): getdns_context_create(&ctx, 0) (nothing
 * from the OS), namespaces DNS only (otherwise /etc/hosts beats DNSSEC),
 * stub, TLS only, authentication REQUIRED, tls_auth_name and the SPKI
 * pinset of the upstream, tls_ca_file when the policy names one (getdns
 * then replaces the system store; it is given the bytes the policy loader
 * checked, through a sealed memfd: see pd_ctx_ca_open), the lookup
 * timeout, trust anchors from the policy's files only (as read and
 * checked by the loader), trust_anchors_verify_CA "" (never fetch root
 * anchors, never touch ~/.getdns), and idle_timeout last (set before the
 * upstreams it crashes 1.6.0).
 */
#ifndef PD_DOT_CONTEXT_H
#define PD_DOT_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include <getdns/getdns_extra.h>

#include "policy/policy.h"
#include "resolver/dot/dot.h"

/* One upstream and its TLS state (its health: resolver/dot/health.h).
 * Apart from cfg, only the backend thread touches it. */
struct pd_up {
	const struct pd_upstream *cfg;
	getdns_context	*ctx;
	unsigned	 verify_seq;	/* bumped when getdns logs a TLS
					 * verification failure */
	char		 verify_err[128];
	bool		 auth_failed;	/* failed TLS auth, never OK since */
	uint64_t	 auth_fail_ms;
	uint64_t	 answers;
};

/*
 * The policy's CA file as getdns can take it: a path to a private,
 * sealed copy of the very bytes the policy loader hashed and checked.
 * fd is -1 when the policy names no CA file (the system store).
 */
struct pd_ca {
	int	 fd;
	char	 path[32];	/* "/proc/self/fd/N" */
};

/*
 * getdns 1.6.0 takes tls_ca_file as a path only, and OpenSSL reads it
 * when a context first resolves (and again for a context rebuilt later):
 * given the policy's own path, a file swapped after the loader's sha256
 * check would be read instead. So ca->data goes into a memfd sealed
 * against write, grow and shrink (also through /proc/PID/fd/N), and
 * getdns gets /proc/self/fd/N. The path is opened once here and compared
 * with the memfd, so a missing /proc fails now, with a message, rather
 * than every TLS handshake later. On success out->fd is open (close-on-
 * exec) until pd_ctx_ca_close; on failure err says why.
 */
enum pd_err	pd_ctx_ca_open(const struct pd_policy_file *ca,
		    struct pd_ca *out, char *err, size_t errlen);

/* Close what pd_ctx_ca_open opened; an fd of -1 is a no-op. */
void		pd_ctx_ca_close(struct pd_ca *ca);

/*
 * Make up->ctx for upstream u of p on loop. ca_path (NULL: the system
 * store) is pd_ctx_ca_open's path when p names a CA file; anchors may be
 * NULL (no DNSSEC needed). On failure err says which setting getdns
 * refused.
 */
/*
 * The lock pd_ctx_new holds while getdns makes a context (libunbound's
 * first-use set-up is not thread-safe). A leaf lock; the backend's fork
 * handler takes it after its run locks and releases it on both sides.
 */
void		pd_ctx_lock(void);
void		pd_ctx_unlock(void);

enum pd_err	pd_ctx_new(const struct pd_policy *p,
		    const struct pd_upstream *u, const char *ca_path,
		    const getdns_list *anchors, getdns_eventloop *loop,
		    struct pd_up *up, char *err, size_t errlen);

/* Destroy up->ctx (getdns then closes its connection with a TLS
 * close_notify: never call this on a context inherited over fork()). */
void		pd_ctx_free(struct pd_up *up);

/*
 * Bytes added to every block of 4 KiB or more that a context allocates:
 * room for getdns 1.6.0's over-read of a record whose inner length runs
 * past its RDLENGTH (at most 65535 + 255 + the record's header); see
 * context.c.
 */
#define PD_GETDNS_PAD	(65536 + 1024)

#endif /* PD_DOT_CONTEXT_H */

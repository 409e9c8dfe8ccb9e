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
 * then replaces the system store), the lookup timeout, trust anchors from
 * the policy's files only, trust_anchors_verify_CA "" (never fetch root
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

/* One upstream and what the worker knows about its health. Apart from
 * cfg, only the backend thread touches it. */
struct pd_up {
	const struct pd_upstream *cfg;
	getdns_context	*ctx;
	unsigned	 verify_seq;	/* bumped when getdns logs a TLS
					 * verification failure */
	char		 verify_err[128];
	bool		 auth_failed;	/* failed TLS auth, never OK since */
	uint64_t	 auth_fail_ms;
	uint64_t	 down_until_ms;	/* prefer the others until then */
	uint64_t	 answers;
};

/*
 * Make up->ctx for upstream u of p on loop (anchors may be NULL: no
 * DNSSEC needed). On failure err says which setting getdns refused.
 */
enum pd_err	pd_ctx_new(const struct pd_policy *p,
		    const struct pd_upstream *u, const getdns_list *anchors,
		    getdns_eventloop *loop, struct pd_up *up, char *err,
		    size_t errlen);

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

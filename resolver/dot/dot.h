/*
 * pindns DoT backend: the only code that includes getdns headers.
 *
 * It turns a policy's upstream/TLS/trust-anchor settings into a getdns
 * stub context (DNS namespace only, TLS only, authentication required,
 * trust anchors from the policy's files only, no root-anchor fetching),
 * resolves names over it with DNSSEC validated locally against a cached
 * chain (one round trip per validated miss), and reports plain facts:
 * transport status, rcode, DNSSEC status, the CNAME chain, the addresses.
 * It decides nothing about policy: the engine front (resolver/verdict.c)
 * holds those facts against the rule.
 *
 * Built into libpindns-dot.so (dlopened by the engine on the first secure
 * lookup; `pindns_dot_v1` is its only export) and linked statically into
 * the CLI and the tests. It links getdns and OpenSSL and calls no function
 * of the engine: a struct pd_policy is read as plain data.
 *
 * Threads: a struct pd_dot may be used from any number of threads at
 * once. The backend owns its getdns context(s) and thread(s); SIGPIPE is
 * blocked in every thread it creates and never reaches the host process.
 * Sockets it opens are close-on-exec and TCP_NODELAY.
 * Fork: after fork() the child must not resolve on a pd_dot made in the
 * parent; pd_dot_free() is safe there and never writes to an inherited
 * socket (no TLS close_notify on the parent's connection).
 */
#ifndef PD_DOT_H
#define PD_DOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "resolver/engine.h"

#define PD_DOT_ABI		5
#define PD_DOT_SONAME		"libpindns-dot.so"
#define PD_DOT_SYMBOL		"pindns_dot_v1"

/* The payload size our replies' OPT records announce (RFC 9715's 1232). */
#define PD_DOT_UDP_SIZE		1232

/* Longest CNAME chain followed; a longer one is a failure (bogus). */
#define PD_DOT_MAX_CHAIN	8

enum pd_dot_status {
	PD_DOT_OK = 0,		/* an answer came back (see rcode) */
	PD_DOT_TIMEOUT,		/* every upstream timed out */
	PD_DOT_UNREACHABLE,	/* refused/unreachable, or all backed off */
	PD_DOT_TLS_AUTH,	/* an upstream failed TLS authentication
				 * (certificate, name or SPKI pin) and no
				 * other answered */
	PD_DOT_ERROR		/* internal (memory, bad anchors, ...) */
};

/* DNSSEC status of an answer, worst over every RRset it was built from. */
enum pd_sec {
	PD_SEC_OFF = 0,		/* not validated (rule dnssec: off) */
	PD_SEC_SECURE,
	PD_SEC_INSECURE,	/* provably unsigned */
	PD_SEC_INDETERMINATE,	/* no trust anchor covers it */
	PD_SEC_BOGUS
};

/*
 * The answer for one query type. chain[0] is the query name; each further
 * entry is the next CNAME (or DNAME-synthesised CNAME) target in order;
 * chain[nchain - 1] owns the address records. Names are normalised
 * (lower case, no trailing dot). Addresses come only from records that
 * passed every check: the reply's question is the one asked, the owner is
 * the last chain name, class IN, the type asked, and (unless dnssec off)
 * the RRset validated with the status in sec. sec is computed per RRset
 * (each CNAME and the final RRset or denial proof on its own), so a signed
 * CNAME into an unsigned zone is not SECURE.
 *
 * Also (backend behaviour the front relies on): addresses are reported
 * whatever sec says, so that a refusal can log what came (the front
 * refuses BOGUS); an rcode other than NOERROR/NXDOMAIN comes with no
 * address and sec INDETERMINATE (nothing validated); a reply that fails
 * a structural check (question, owner names, chain, class, rdata size)
 * is reported as rcode 2, sec PD_SEC_BOGUS whatever the mode, no address,
 * and pd_dot_result.detail says what was wrong. A negative TTL is also
 * capped by the validated NSEC/NSEC3 TTLs (RFC 9077).
 */
struct pd_dot_rrset {
	bool		asked;
	int		rcode;		/* 0 NOERROR, 3 NXDOMAIN, else failure */
	enum pd_sec	sec;
	unsigned	nchain;
	char		chain[PD_DOT_MAX_CHAIN][PD_CANON_MAX + 1];
	unsigned	naddrs;
	struct pd_addr	addrs[PD_MAX_ADDRS];
	bool		truncated;	/* more than PD_MAX_ADDRS records came */
	uint32_t	ttl;		/* min TTL over the chain and the RRset;
					 * negative: min(SOA TTL, SOA minimum)
					 * per RFC 2308, 0 without SOA */
};

/*
 * One upstream a lookup tried (or skipped as down) and why it gave no
 * answer, for `pindns query` and the audit log (ABI 3). Bounded: at most
 * PD_DOT_MAX_TRIES, each why at most PD_DOT_WHY_MAX - 1 bytes.
 */
#define PD_DOT_MAX_TRIES	4
#define PD_DOT_WHY_MAX		96

struct pd_dot_try {
	char	 upstream[64];
	char	 why[PD_DOT_WHY_MAX];
	unsigned count;		/* ABI 5: times it failed so, >= 1 */
};

struct pd_dot_result {
	enum pd_dot_status	status;
	char			upstream[64];	/* label of the upstream that
						 * answered ("" when none
						 * did) */
	char			detail[160];	/* e.g. the TLS verify error */
	unsigned		ntries;		/* upstreams that failed */
	struct pd_dot_try	tries[PD_DOT_MAX_TRIES];
	struct pd_dot_rrset	a;		/* if PD_WANT_A */
	struct pd_dot_rrset	aaaa;		/* if PD_WANT_AAAA */
};

/*
 * A reply message for res_query (resolver/dot/wire.c): header flags and
 * rcode, the question as the program asked it (presentation form, kept
 * as written: case, escapes), then in the answer section the CNAME chain
 * qname -> chain[0] -> ... -> chain[nchain - 1] and one record of type
 * qtype per address (owned by the chain's last name, or qname), every
 * record with ttl.
 */
struct pd_dot_msg {
	uint16_t		 id;
	bool			 rd;
	bool			 ad;
	int			 rcode;
	const char		*qname;
	uint16_t		 qclass;
	uint16_t		 qtype;
	uint32_t		 ttl;
	unsigned		 nchain;
	const char		(*chain)[PD_CANON_MAX + 1];
	unsigned		 naddrs;
	const struct pd_addr	*addrs;		/* all of qtype's family */
	/*
	 * The responder (ABI 3): qwire, when not NULL, is the question
	 * name in wire form exactly as the program sent it (qname is then
	 * ignored), so the echo keeps its case byte for byte. edns: the
	 * query had an OPT record; the reply carries one too (RFC 6891
	 * §7), with the DO bit copied (RFC 3225) and, when ede is not
	 * negative, an Extended DNS Error option (RFC 8914) with info code
	 * ede and ede_text (may be NULL). tc: set TC (RFC 1035 §4.1.1),
	 * for a reply cut to the question because it would not fit.
	 */
	const uint8_t		*qwire;
	size_t			 qwirelen;
	bool			 edns;
	bool			 do_bit;
	int			 ede;
	const char		*ede_text;
	bool			 tc;
};

/*
 * A query message as the responder reads it (ABI 3, wire_query): the
 * header fields it needs, the first question (qname normalised for the
 * engine, and in wire form as sent), and the OPT record's facts.
 */
struct pd_dot_query {
	uint16_t	id;
	unsigned	opcode;
	bool		qr;
	bool		rd;
	unsigned	qdcount;
	uint16_t	qtype;
	uint16_t	qclass;
	int		normlen;	/* -1: the name has no normalised form */
	char		norm[PD_NAME_MAX + 1];
	uint8_t		qwire[256];
	size_t		qwirelen;
	bool		edns;
	bool		do_bit;
	uint16_t	udp_size;	/* the OPT's payload size; 512 without */
};

struct pd_dot;

typedef void pd_dot_cb(void *arg, const struct pd_dot_result *res);

struct pd_dot_ops {
	unsigned	abi;

	/*
	 * A resolver for policy p (which must outlive it). Parses the
	 * trust-anchor files with getdns and fails (PD_EPARSE, err says
	 * which file) when they hold no DS/DNSKEY record, though only when
	 * some rule needs DNSSEC. Connects lazily. host may be NULL.
	 */
	enum pd_err	(*new)(const struct pd_policy *p,
			    const struct pd_host *host, struct pd_dot **dp,
			    char *err, size_t errlen);

	/*
	 * Free; safe in a forked child (see above). NULL is a no-op. Async
	 * requests still queued get their callback with PD_DOT_ERROR.
	 */
	void		(*free)(struct pd_dot *d);

	/*
	 * Resolve qname (normalised) for want (PD_WANT_A | PD_WANT_AAAA)
	 * with DNSSEC per mode, waiting at most the policy's timeout_ms.
	 * Returns PD_OK with *res filled (res->status says how it went), or
	 * an error when nothing could even be tried: PD_ENAME for a name
	 * that is not a valid DNS name, PD_EINVAL for a bad argument or on a
	 * pd_dot inherited over fork(), PD_ENOMEM.
	 */
	enum pd_err	(*resolve)(struct pd_dot *d, const char *qname,
			    unsigned want, enum pd_dnssec_mode mode,
			    struct pd_dot_result *res);

	/*
	 * The same without waiting (refresh-ahead): cb(arg, res) runs once,
	 * on a backend thread, when done. res is valid during the call only.
	 * PD_ENOMEM when 4096 requests are already queued.
	 */
	enum pd_err	(*resolve_async)(struct pd_dot *d, const char *qname,
			    unsigned want, enum pd_dnssec_mode mode,
			    pd_dot_cb *cb, void *arg);

	/*
	 * For `pindns check`: parse p's trust anchors with getdns as new()
	 * would. PD_OK, or PD_EPARSE with err saying what is wrong.
	 */
	enum pd_err	(*check_anchors)(const struct pd_policy *p, char *err,
			    size_t errlen);

	/*
	 * ABI 2. Build m as a DNS message. Returns PD_OK with *need set to
	 * its length and min(len, *need) bytes of it in buf; PD_ENAME when a
	 * name is not a valid DNS name, PD_ENOMEM.
	 */
	enum pd_err	(*wire_build)(const struct pd_dot_msg *m, uint8_t *buf,
			    size_t len, size_t *need);

	/*
	 * ABI 2. The A and AAAA records of the answer section of the
	 * message msg[0..len-1], in order, as addresses (at most max; *n
	 * says how many). PD_EPARSE when it is no DNS message.
	 */
	enum pd_err	(*wire_addrs)(const uint8_t *msg, size_t len,
			    struct pd_addr *addrs, unsigned max, unsigned *n);

	/*
	 * ABI 2. Rewrite msg (len bytes in a buffer of cap) without the
	 * answer section's A/AAAA records i for which keep[i] is 0 (the
	 * order of wire_addrs), everything else as it was (names may come
	 * out uncompressed): *outlen the new length, min(cap, *outlen) bytes
	 * of it written, as wire_build. PD_EPARSE, PD_ENOMEM.
	 */
	enum pd_err	(*wire_keep)(uint8_t *msg, size_t len, size_t cap,
			    const uint8_t *keep, unsigned n, size_t *outlen);

	/*
	 * ABI 3. Read the DNS message msg[0..len-1] as a query into *q.
	 * PD_EPARSE when it is no DNS message or has no question.
	 */
	enum pd_err	(*wire_query)(const uint8_t *msg, size_t len,
			    struct pd_dot_query *q);

	/* "getdns 1.6.0 (API ...)", for `pindns version`. */
	const char *	(*version)(void);
};

/*
 * The backend's table. In libpindns-engine.so this dlopens
 * libpindns-dot.so from the engine's own directory (resolver/dot_dl.c);
 * linked statically it returns the built-in table. NULL on failure, with
 * err filled.
 */
const struct pd_dot_ops *pd_dot_get(char *err, size_t errlen);

/*
 * fork(): pd_dot_get() of libpindns-engine.so holds a lock across the
 * dlopen; the engine's fork handler takes it (pd_dot_lock) and releases
 * it on both sides (pd_dot_unlock), so a child never inherits it held nor
 * sees the backend half loaded. No-ops where the backend is linked in.
 */
void pd_dot_lock(void);
void pd_dot_unlock(void);

#endif /* PD_DOT_H */

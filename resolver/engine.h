/*
 * pindns engine: the one interface the preload and the CLI use.
 *
 * The engine decides what happens to a name (SPEC §3, §4): pass it to
 * libc, answer it from a `static` rule, refuse it, or resolve it over
 * DNS-over-TLS with DNSSEC through the getdns backend, then hold the
 * answer against the rule (DNSSEC mode, CNAME names, pins) and cache it.
 * It hands back plain structs; no getdns, libyaml or libsodium type
 * crosses this line, and this header includes none of their headers.
 *
 * Objects:
 *   libpindns-engine.so  policy/ and resolver/ (not dot/): policy, cache, verdicts,
 *                        log. Links libyaml and libsodium, not getdns.
 *                        The preload dlopens it on the first lookup of a
 *                        name, and finds `pindns_engine_v1` in it.
 *   libpindns-dot.so     resolver/dot/: the getdns backend. The engine
 *                        dlopens it on the first lookup a `secure` rule
 *                        needs the network for (resolver/dot/dot.h).
 *   build/pindns         links all of it statically and calls the same
 *                        pd_engine_lookup() the preload reaches.
 *
 * Threads: every function here is thread-safe. Fork: the engine notices a
 * new pid and builds fresh connections in the child without touching the
 * parent's (no write on an inherited socket, ever).
 */
#ifndef PD_ENGINE_H
#define PD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/addr.h"

#define PD_ENGINE_ABI		6
#define PD_ENGINE_SONAME	"libpindns-engine.so"
#define PD_ENGINE_SYMBOL	"pindns_engine_v1"

/* Most addresses one answer carries to the caller; more are dropped. */
#define PD_MAX_ADDRS		64
/* A canonical name in presentation form without the trailing dot. */
#define PD_CANON_MAX		254

/* What to look up (a bit set). */
#define PD_WANT_A		1u
#define PD_WANT_AAAA		2u

enum pd_verdict {
	PD_VERDICT_SYSTEM = 0,	/* not ours: call libc, use its result as is */
	PD_VERDICT_SYSTEM_PINNED, /* call libc, then hold its addresses against
				 * the rule's pins with ->filter() */
	PD_VERDICT_ACCEPTED,	/* addrs[] is the answer */
	PD_VERDICT_ABSENT,	/* reason NXDOMAIN or NODATA */
	PD_VERDICT_REFUSED,	/* by policy: reason says which */
	PD_VERDICT_FAILED	/* temporary: reason TIMEOUT or UNREACHABLE */
};

/* SPEC §7 reasons; pd_reason_str() gives the log spelling. */
enum pd_reason {
	PD_REASON_NONE = 0,
	PD_REASON_NXDOMAIN,
	PD_REASON_NODATA,
	PD_REASON_BOGUS,
	PD_REASON_INSECURE,
	PD_REASON_OUTSIDE_PIN,
	PD_REASON_CNAME_ESCAPE,
	PD_REASON_TLS_AUTH,
	PD_REASON_DENY_RULE,
	PD_REASON_POLICY_UNLOADABLE,
	PD_REASON_TIMEOUT,
	PD_REASON_UNREACHABLE,
	PD_REASON_STALE,	/* ACCEPTED from the stale cache */
	PD_REASON_OTHER_TYPE	/* res_query: a type other than A/AAAA
				 * (or a class other than IN) for a claimed
				 * name */
};

/*
 * The outcome of one lookup. For ACCEPTED, addrs[] holds the accepted
 * addresses (A records first, then AAAA, each in answer order; the
 * preload sorts per RFC 6724), canon the canonical name (the owner of the
 * address records at the end of any CNAME chain, without trailing dot;
 * the name as asked when there was no CNAME), ttl the seconds the answer
 * stays valid. For ABSENT, ttl is the negative-caching time.
 */
struct pd_result {
	enum pd_verdict	verdict;
	enum pd_reason	reason;
	uint32_t	ttl;
	unsigned	naddrs;
	struct pd_addr	addrs[PD_MAX_ADDRS];
	char		canon[PD_CANON_MAX + 1];
};

/*
 * Report mode (resolver/report.h): an answer the policy would refuse,
 * given to the caller anyway. ACCEPTED with the refusal's reason kept;
 * logged as verdict would-refuse, never cached.
 */
static inline bool
pd_result_would_refuse(const struct pd_result *r)
{
	return r->verdict == PD_VERDICT_ACCEPTED &&
	    (r->reason == PD_REASON_OUTSIDE_PIN ||
	    r->reason == PD_REASON_CNAME_ESCAPE);
}

/*
 * What the host (the preload) offers the engine. May be NULL (the CLI).
 *  engine_thread: call at the start of every thread the engine or its
 *   backend creates, so the preload's hooks send any libc resolver call
 *   made on that thread straight to libc (re-entrancy guard).
 *  atfork: the host calls the fork entry points of struct
 *   pd_engine_ops from its own pthread_atfork handlers, after taking
 *   the lock it holds while loading and starting the engine; the engine
 *   then registers none. Without it the engine registers its own.
 */
struct pd_host {
	void	(*engine_thread)(void);
	bool	 atfork;
};

/*
 * Engine configuration. Zero/NULL fields mean: take it from the
 * environment as SPEC §2 says (PINDNS_POLICY, PINDNS_PUBKEY, PINDNS_LOG).
 */
struct pd_engine_cfg {
	const char		*policy_path;
	const char		*pubkey_path;
	const char		*log_target;	/* "stderr", "syslog", "file:/p" */
	const struct pd_host	*host;
};

/*
 * One upstream a lookup tried (or skipped as down) and why it gave no
 * answer: at most PD_MAX_TRIES of them, in the order tried.
 */
#define PD_MAX_TRIES		4
struct pd_try {
	char	 upstream[64];	/* "1.1.1.1:853" */
	char	 why[96];	/* "timed out", "TLS: hostname mismatch" */
	unsigned count;		/* times it failed so in this lookup (>= 1):
				 * the same failure is counted, not listed
				 * again */
};

/*
 * What `pindns query` prints: the same lookup, explained. Filled only when
 * a non-NULL pointer is passed to pd_engine_lookup().
 */
struct pd_explain {
	char		rule[64];	/* rule name, "default" */
	char		action[8];	/* secure|static|system|deny */
	char		dnssec[16];	/* secure|insecure|bogus|indeterminate|off */
	char		upstream[64];	/* "" when no network was used, or
					 * no upstream answered */
	unsigned	ntries;		/* upstreams that failed first */
	struct pd_try	tries[PD_MAX_TRIES];
	bool		from_cache;
	unsigned	nseen;		/* what the upstream (or libc) gave */
	struct pd_addr	seen[PD_MAX_ADDRS];
	bool		seen_ok[PD_MAX_ADDRS]; /* accepted? */
	unsigned	nchain;		/* owner names, query name first */
	char		chain[8][PD_CANON_MAX + 1];
	double		ms;		/* wall time of the lookup */
	char		detail[256];	/* free text: why refused, etc. */
};

/*
 * A DNS question as a res_query() caller puts it (SPEC §4.1): the name as
 * passed (presentation form, any case, trailing dot or not), class and
 * type, and the RD bit the caller's resolver state would send.
 */
struct pd_dnsq {
	const char	*name;
	uint16_t	 qclass;
	uint16_t	 qtype;
	bool		 rd;
};

/*
 * What pd_engine_answer() did. verdict SYSTEM or SYSTEM_PINNED: nothing
 * was written, the caller asks libc (for SYSTEM_PINNED a claimed A/AAAA
 * question: see ->pin_reply). ACCEPTED and ABSENT: a reply message of len
 * bytes was built; when len exceeds the buffer only its first bytes were
 * written, with TC set, as glibc does with a short answer buffer. rcode
 * is the reply's (0 NOERROR, 3 NXDOMAIN), ancount its answer records.
 * REFUSED and FAILED: nothing written.
 */
struct pd_dnsr {
	enum pd_verdict	verdict;
	enum pd_reason	reason;
	int		rcode;
	unsigned	ancount;
	size_t		len;
};

/*
 * The table the preload finds with dlsym(handle, PD_ENGINE_SYMBOL).
 * abi == PD_ENGINE_ABI, or the preload refuses the object (fail closed).
 */
struct pd_engine_ops {
	unsigned	abi;

	/*
	 * Set up once (idempotent): read the policy (failure is not an error
	 * here: every later lookup is then refused with POLICY_UNLOADABLE and
	 * the reason is printed once on stderr). Returns 0, or -1 when the
	 * engine cannot work at all (out of memory).
	 */
	int	(*init)(const struct pd_engine_cfg *cfg);

	/*
	 * Decide and, where ours, answer. name as the caller passed it
	 * (non-NULL, not numeric: the preload sends those to libc). want is
	 * PD_WANT_A and/or PD_WANT_AAAA. Fills *res; never blocks longer than
	 * the policy's timeout_ms. A cache hit makes no system call.
	 */
	void	(*lookup)(const char *name, unsigned want, struct pd_result *res);

	/*
	 * For SYSTEM_PINNED: libc answered name with addrs[0..n-1]; set
	 * keep[i] to 1 for each address to hand to the caller and 0 for each
	 * to drop, and fill *res (ACCEPTED, or REFUSED with OUTSIDE_PIN; in
	 * res only verdict and reason are meaningful). Logs per the policy.
	 * Re-matches name against the policy in force.
	 */
	void	(*filter)(const char *name, const struct pd_addr *addrs,
		    unsigned n, uint8_t *keep, struct pd_result *res);

	/*
	 * Whether a lookup of name is ours: 1 when the policy in force gives
	 * it any verdict but plain SYSTEM (a secure, static or deny rule, a
	 * system rule with pins, or no policy at all: fail closed), 0 when
	 * libc answers it untouched. No network, no log line, no cache
	 * entry: the preload asks it of each name glibc's search list would
	 * try before it decides who tries them (preload/search.h).
	 */
	int	(*claims)(const char *name);

	/*
	 * res_query and friends: answer q from the engine as a DNS
	 * reply message in buf[0..len-1] (len 0: the caller's buffer is
	 * short of a header; only r is filled), built with getdns: the
	 * question echoed, the CNAME chain and the address records with the
	 * remaining TTL, AD when the answer validated as secure. Types other
	 * than A and AAAA (or classes other than IN) for a claimed name are
	 * refused and logged (reason other-type), never resolved. Fills *r.
	 */
	void	(*answer)(const struct pd_dnsq *q, uint8_t *buf, size_t len,
		    struct pd_dnsr *r);

	/*
	 * SYSTEM_PINNED for res_query: libc answered q with the message
	 * buf[0..len-1], in a buffer of cap bytes. Hold its A/AAAA records
	 * against the rule's pins: when all are kept the message stays as
	 * it is (r->len = len); when some are dropped (filter mode) it is
	 * written again without them; when none may be kept, or the message
	 * cannot be read, r->verdict is REFUSED. Else ACCEPTED.
	 */
	void	(*pin_reply)(const struct pd_dnsq *q, uint8_t *buf, size_t len,
		    size_t cap, struct pd_dnsr *r);

	/* The responder (see struct pd_sock_ops below). */
	const struct pd_sock_ops *sock;

	/*
	 * fork(), for a host that says so (pd_host.atfork): fork_prepare
	 * from its prepare handler takes every lock of the engine (and of
	 * the backend's loader), fork_parent and fork_child release them on
	 * either side; fork_child also resets what the child inherits from
	 * threads it does not have. Callable before init, and after an init
	 * that failed.
	 */
	void	(*fork_prepare)(void);
	void	(*fork_parent)(void);
	void	(*fork_child)(void);
};

/*
 * The responder for programs that send DNS themselves (SPEC §4.1 last
 * row; resolver/sock.c). A process gets one responder endpoint per
 * (server address X, family of the program's socket): a UDP socket and a
 * TCP listener on the same loopback port, served by a thread of the
 * engine. Queries sent there are answered by the engine when a rule
 * claims their name and relayed unchanged to X otherwise.
 */
struct sockaddr;

struct pd_sock_ops {
	/*
	 * The endpoint for X (to, tolen: an AF_INET or AF_INET6 address)
	 * and a program socket of family fam: *r gets its loopback address
	 * (127.0.0.1 for AF_INET, ::1 for AF_INET6), made on first use.
	 * Returns 0, or -1 with errno set when no endpoint can be made (no
	 * descriptor, no memory, no thread). In a child after fork(), an
	 * endpoint of the parent is never returned.
	 */
	int	(*endpoint)(int fam, const struct sockaddr *to,
		    unsigned tolen, struct sockaddr *r, unsigned *rlen);

	/*
	 * For a process whose responder cannot be made: would the engine
	 * answer the query msg[0..len-1] (a rule claims its name), or can
	 * it not tell? 1 yes or cannot tell, 0 no (libc's path: send it).
	 */
	int	(*claimed)(const uint8_t *msg, size_t len);

	/*
	 * The fast door, on the program's own thread: msg[0..len-1] is on
	 * its way from the program's UDP socket at l (llen bytes: its
	 * address as the responder would see it) to the endpoint r (rlen
	 * bytes, as endpoint() gave it). When the engine answers it without
	 * the network (a claimed question whose answer is cached, a static,
	 * deny or other-type answer: what the responder's loop answers at
	 * once), the reply the loop would send, byte for byte, is sent from
	 * r to l now (with its audit line) and 1 is returned: the program's
	 * query is answered, not sent. 0: nothing was done; send the query
	 * to r as usual. Never waits for the network.
	 */
	int	(*answer_now)(const struct sockaddr *r, unsigned rlen,
		    const struct sockaddr *l, unsigned llen,
		    const uint8_t *msg, size_t len);
};

/* The same entry points, linked directly (CLI, unit tests). */
int	pd_engine_init(const struct pd_engine_cfg *cfg);
void	pd_engine_lookup(const char *name, unsigned want, struct pd_result *res,
	    struct pd_explain *ex);
void	pd_engine_filter(const char *name, const struct pd_addr *addrs,
	    unsigned n, uint8_t *keep, struct pd_result *res);
int	pd_engine_claims(const char *name);
void	pd_engine_answer(const struct pd_dnsq *q, uint8_t *buf, size_t len,
	    struct pd_dnsr *r);
void	pd_engine_pin_reply(const struct pd_dnsq *q, uint8_t *buf, size_t len,
	    size_t cap, struct pd_dnsr *r);
/*
 * For resolver/respond.c: q names a type the engine never resolves. No
 * rule claims the name: *res SYSTEM or SYSTEM_PINNED (libc answers).
 * Else REFUSED with reason OTHER_TYPE, in the audit log.
 */
void	pd_engine_refuse_type(const char *name, struct pd_result *res);
/*
 * For the responder: who answers a question for name of type want
 * (PD_WANT_A or PD_WANT_AAAA; 0 for any other type or class), without
 * resolving or logging anything.
 */
enum pd_claim {
	PD_CLAIM_NONE = 0,	/* no rule claims it: the program's server */
	PD_CLAIM_PINNED,	/* a `system` rule with pins: the program's
				 * server, its reply held against the pins */
	PD_CLAIM_NOW,		/* the engine answers without the network
				 * (cache hit, static, deny, no policy) */
	PD_CLAIM_WAIT		/* the engine answers, maybe after a lookup */
};
enum pd_claim pd_engine_claim(const char *name, unsigned want);
/*
 * pindns serve: check the policy file now (as a lookup does once a
 * second), reading it whatever its stamps say when force (SIGHUP). A new
 * policy that fails is reported; the old one stays in force. 1: a new
 * policy is in force, -1: a changed file was refused, 0: no change.
 */
int	pd_engine_reload(bool force);
/* Tear down (CLI and tests; the preload never calls it). */
void	pd_engine_shutdown(void);

/* Log spellings (SPEC §7). */
const char *pd_reason_str(enum pd_reason r);
const char *pd_verdict_str(enum pd_verdict v);

#endif /* PD_ENGINE_H */

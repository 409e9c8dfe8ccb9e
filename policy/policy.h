/*
 * pindns policy: the pinned-answer policy file (SPEC §3), its loader,
 * name matching, pin sets, signatures and reload.
 *
 * This module is pure: it reads files and computes; it knows neither
 * getdns nor libc's resolver structures, does no network I/O and calls no
 * dlsym. Everything the engine and the getdns backend need from a policy
 * is a plain field below. A loaded policy is immutable and has no
 * undefined corner: every field holds its value or its documented default.
 *
 * Threads: a loaded struct pd_policy is read-only and may be read from any
 * thread. struct pd_watch is thread-safe.
 */
#ifndef PD_POLICY_H
#define PD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/addr.h"
#include "policy/err.h"

/* Longest name in presentation form, without the trailing dot. */
#define PD_NAME_MAX	253
/* Policy files above this size are refused unread. */
#define PD_POLICY_MAX_BYTES	(1024 * 1024)
/* Default paths (SPEC §2). */
#define PD_POLICY_DEFAULT_PATH	"/etc/pindns/policy.yaml"
#define PD_PUBKEY_DEFAULT_PATH	"/etc/pindns/policy.pub"

/*
 * An error in a policy or key file. msg is complete and ready to print:
 * "FILE:LINE:COLUMN: message" for syntax and schema errors (FILE as the
 * caller gave it, LINE and COLUMN 1-based), "FILE: message" for errors
 * about the file as a whole (unreadable, too big, bad signature).
 */
struct pd_error {
	unsigned	line;		/* 0 when not about a position */
	unsigned	col;
	char		msg[512];
};

enum pd_action {
	PD_ACTION_SYSTEM = 0,	/* hand to libc (then pins, if any) */
	PD_ACTION_SECURE,	/* DoT + DNSSEC via getdns, then checks */
	PD_ACTION_STATIC,	/* answer from `addresses`, no DNS */
	PD_ACTION_DENY		/* refuse */
};

enum pd_dnssec_mode {
	PD_DNSSEC_VALIDATE = 0,	/* refuse bogus, accept insecure */
	PD_DNSSEC_REQUIRED,	/* accept only secure */
	PD_DNSSEC_OFF		/* no validation */
};

enum pd_pin_mode {
	PD_PIN_FILTER = 0,	/* drop addresses outside; fail if none left */
	PD_PIN_STRICT		/* fail if any address is outside */
};

enum pd_log_target {
	PD_LOG_STDERR = 0,
	PD_LOG_SYSLOG,
	PD_LOG_FILE
};

enum pd_log_level {
	PD_LOG_LEVEL_DENY = 0,	/* refused and failed lookups only */
	PD_LOG_LEVEL_ALL	/* every protected lookup */
};

/* An IPv4 or IPv6 prefix. Host bits beyond prefix are zero. */
struct pd_cidr {
	int	family;		/* AF_INET or AF_INET6 */
	uint8_t	prefix;		/* 0..32 or 0..128 */
	uint8_t	addr[16];
};

/*
 * A set of CIDRs. v[0..n-1] is the list as written (after validation),
 * for display. `index` is the loader's private lookup structure.
 */
struct pd_pinset {
	size_t		 n;
	struct pd_cidr	*v;
	void		*index;
};

/* One tls_pubkey_pinset entry: sha256 over the DER SubjectPublicKeyInfo. */
struct pd_spki_pin {
	uint8_t	sha256[32];
};

/* One upstream_recursive_servers entry (stubby's keys). */
struct pd_upstream {
	struct pd_addr		 addr;
	uint16_t		 tls_port;	/* default 853 */
	char			*tls_auth_name;	/* always set (required) */
	size_t			 npins;
	struct pd_spki_pin	*pins;		/* NULL when npins == 0 */
	char			 label[64];	/* "1.1.1.1:853", "[::1]:853" */
};

/*
 * A `listen_addresses` entry (pindns serve; stubby's format): an IPv4 or
 * IPv6 address, optionally followed by @PORT (default 53). The
 * unspecified addresses (0.0.0.0, ::) are refused: a reply must leave
 * from the address the client asked.
 */
struct pd_listen {
	struct pd_addr	addr;
	uint16_t	port;
};

struct pd_rule {
	char			*name;		/* "default" for the default rule */
	unsigned		 index;		/* position in file order, 0-based */
	unsigned		 line;		/* where it starts in the file */
	size_t			 npatterns;
	char			**patterns;	/* normalised, as matched */
	enum pd_action		 action;
	enum pd_dnssec_mode	 dnssec;	/* default validate */
	struct pd_pinset	*pins;		/* NULL: no address restriction */
	enum pd_pin_mode	 pin_mode;	/* default filter */
	size_t			 ncname;
	char			**cname;	/* extra names a CNAME chain may
						 * pass through (patterns) */
	size_t			 naddrs;	/* static: at least one */
	struct pd_addr		*addrs;
	uint32_t		 ttl;		/* static: default 60 */
	/*
	 * mode: report (secure and system rules): refusals for pins
	 * (outside-pin) and CNAME escapes are answered and logged as
	 * would-refuse instead (resolver/report.h). The rule's own `mode`,
	 * else the policy's top-level `mode`, else enforce.
	 */
	bool			 report;
};

/*
 * A file the policy names (tls_ca_file, a dnssec_trust_anchors entry),
 * read once, whole, when the policy is loaded. data holds exactly the
 * bytes that were checked (against the policy's sha256 for the file when
 * it gives one, lexically for anchors) and is what the getdns backend
 * uses: nothing opens the file again, so replacing it changes nothing
 * until the next load, which checks it anew.
 */
struct pd_policy_file {
	char		*name;	/* as written in the policy */
	char		*path;	/* relative ones from the policy's dir */
	uint8_t		*data;	/* len bytes and a NUL; NULL: not read
				 * (the default anchor, nothing validates) */
	size_t		 len;
	uint8_t		 sha256[32];	/* of data, when set */
	bool		 pinned;	/* the policy gives the sha256 */
	unsigned	 line, col;	/* where the policy names it; line
					 * 0: not named (default anchor) */
};

/* Largest tls_ca_file and trust-anchor file read. */
#define PD_CA_FILE_MAX_BYTES	(4 * 1024 * 1024)
#define PD_ANCHOR_MAX_BYTES	(1024 * 1024)

struct pd_policy {
	char			*path;		/* as given to the loader */
	uint64_t		 generation;	/* set by struct pd_watch */
	bool			 signed_ok;	/* a valid signature was checked */
	/*
	 * pd_policy_load: BLAKE2b over the file's bytes and the bytes of
	 * the files it names (CA file, trust anchors), so a rewrite with
	 * the same bytes is no change to pd_watch (has_digest false for
	 * pd_policy_parse).
	 */
	bool			 has_digest;
	uint8_t			 digest[32];
	/*
	 * pd_policy_load: sha256 of the policy file's bytes as read (what
	 * `pindns digest` and sha256sum print), and the id of the key
	 * whose signature verified them ("" unsigned): what `pindns
	 * status` shows as the version in force.
	 */
	bool			 has_sha256;
	uint8_t			 sha256[32];
	char			 keyid[17];

	size_t			 nupstreams;
	struct pd_upstream	*upstreams;
	struct pd_policy_file	*tls_ca;	/* NULL: system store */
	size_t			 nanchors;
	struct pd_policy_file	*anchors;	/* default: one, line 0,
						 * /usr/share/dns/root.key */
	uint32_t		 timeout_ms;	/* default 2000 */
	uint32_t		 idle_timeout_ms; /* default 10000 */
	bool			 round_robin;	/* default false */

	uint32_t		 cache_max_entries; /* default 10000 */
	uint32_t		 cache_min_ttl;	/* default 0 */
	uint32_t		 cache_max_ttl;	/* default 300 */
	uint32_t		 cache_stale_ttl; /* default 86400, 0 off */

	enum pd_log_target	 log_target;	/* default stderr */
	char			*log_file;	/* PD_LOG_FILE only */
	enum pd_log_level	 log_level;	/* default deny */

	bool			 report;	/* top-level mode: report */
	bool			 any_report;	/* some rule, the default
						 * included, is in report */

	size_t			 nrules;
	struct pd_rule		*rules;		/* file order */
	/*
	 * What names no rule matches get: action = the `default` key
	 * (system | secure | deny), every other field its default.
	 */
	struct pd_rule		 default_rule;

	/* pindns serve (SPEC §8); the preload ignores both. */
	size_t			 nlisten;
	struct pd_listen	*listen;	/* NULL: -l or the defaults */
	char			*system_resolv_conf; /* NULL: /etc/resolv.conf */

	void			*matcher;	/* loader's private index */
};

/* ------------------------------------------------------------ loading */

/*
 * The public-key path in force: $PINDNS_PUBKEY when set (even if the file
 * is missing: that is then an error at load), else NULL (signatures not
 * required) when PD_PUBKEY_DEFAULT_PATH does not exist (ENOENT), else
 * PD_PUBKEY_DEFAULT_PATH, also when it cannot be checked (EACCES on its
 * directory, ...): the load then fails on the key. Returns a static or
 * environment string; do not free.
 */
const char *pd_policy_pubkey_path(void);

/*
 * path made absolute against the current directory, as it is now: a copy
 * of an absolute path, else getcwd() + "/" + path (leading "./" dropped;
 * symbolic links are not resolved, so a link that is later pointed
 * elsewhere, as Kubernetes swaps a ConfigMap's, is still followed at each
 * read). For paths from the environment, made absolute once so that a
 * chdir() does not change what a later reload reads. Returns a malloc'd
 * string, or NULL when out of memory or the current directory cannot be
 * named (getcwd fails: removed, or longer than PATH_MAX).
 */
char *pd_path_absolute(const char *path);

/*
 * Read, verify and parse the policy at path. When pubkey is not NULL the
 * file's detached signature (path + ".sig") is verified over the exact
 * bytes read, before the YAML parser sees them; a missing or bad
 * signature refuses the file. The signature covers the policy's bytes
 * only, so with a key every file the policy names (tls_ca_file, each
 * trust anchor) must carry its sha256 in the policy, or the policy is
 * refused (PD_ESIG, "FILE:LINE:COLUMN: ..." where the file is named).
 * Signed or not, a named file whose bytes do not hash to the sha256 the
 * policy gives is refused (PD_ESIG). Each file is read once: what is
 * verified is what is parsed and what the backend uses (no TOCTOU). On
 * success *pp owns a new policy; on failure *pp is untouched and
 * err->msg says why.
 */
enum pd_err pd_policy_load(const char *path, const char *pubkey,
    struct pd_policy **pp, struct pd_error *err);

/*
 * Parse a policy held in memory (no signature check, so no sha256 is
 * required; one that is given must match). name is used in messages and
 * stored as path; relative paths inside the policy (CA file, trust
 * anchors, log file) are taken from name's directory, and the files it
 * names are read. For tests and fuzzing; pd_policy_load ends here.
 */
enum pd_err pd_policy_parse(const char *name, const uint8_t *buf, size_t len,
    struct pd_policy **pp, struct pd_error *err);

/* Free p and everything it owns. NULL is a no-op. */
void pd_policy_free(struct pd_policy *p);

/*
 * Does any rule of p validate with DNSSEC (a `secure` rule, the default
 * rule included, whose dnssec is not off)? Then its trust anchors must
 * load. Inline: the getdns backend reads policies as plain data and
 * links no policy code.
 */
static inline bool
pd_policy_needs_dnssec(const struct pd_policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].action == PD_ACTION_SECURE &&
		    p->rules[i].dnssec != PD_DNSSEC_OFF)
			return true;
	return p->default_rule.action == PD_ACTION_SECURE &&
	    p->default_rule.dnssec != PD_DNSSEC_OFF;
}

/* ------------------------------------------------------------ matching */

/*
 * Normalise a host name as the resolver will see it: decode RFC 1035
 * escapes (\DDD, \X) the way glibc's ns_name_pton does, lower-case ASCII,
 * strip one trailing dot. Writes a NUL-terminated string to out (at least
 * PD_NAME_MAX + 1 bytes). Returns its length, or -1 when the name is not a
 * valid DNS name (empty label, label > 63 octets, name > 253, bad escape,
 * a decoded '.' or NUL inside a label). Never reads past the NUL.
 * Refused too, as glibc's res_hnok() refuses them before any query: a
 * raw octet outside 0x21..0x7e, a decoded octet other than a letter,
 * digit, '-' or '_', a leading '-'. So a name refused here is one libc
 * never sends to DNS either (hand it to libc for glibc's own answer), and
 * out never holds a character getdns would read as an escape. On -1, out
 * holds the empty string.
 */
int pd_name_normalize(const char *name, char *out);

/*
 * The rule for a normalised name: the first rule in file order with a
 * matching pattern, else &p->default_rule. Never NULL. Patterns:
 * `*` is exactly one label, a leading `**` one or more labels.
 * Fast (sub-microsecond) and allocation-free.
 */
const struct pd_rule *pd_policy_match(const struct pd_policy *p,
    const char *norm, size_t len);

/*
 * May a CNAME chain of rule r pass through the normalised name? True when
 * the name matches one of r's match patterns or cname patterns; for the
 * default rule, when no rule of p matches the name.
 */
bool pd_rule_cname_ok(const struct pd_policy *p, const struct pd_rule *r,
    const char *norm, size_t len);

/* ------------------------------------------------------------ serve */

/*
 * Parse "ADDR" or "ADDR@PORT" (policy/listen.c) into *l. Returns 0, or
 * -1 with why (NUL-terminated) saying what is wrong.
 */
int pd_listen_parse(const char *s, struct pd_listen *l, char *why,
    size_t whylen);

/* l as "ADDR@PORT" into buf (at least 64 bytes). */
void pd_listen_format(const struct pd_listen *l, char *buf, size_t len);

/* ------------------------------------------------------------ pins */

/*
 * Is a inside one of the CIDRs of ps? An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is checked as the IPv4 address it carries. ps NULL
 * means "no restriction" and returns true.
 */
bool pd_pins_contains(const struct pd_pinset *ps, const struct pd_addr *a);

/* ------------------------------------------------------------ signatures */

/*
 * Ed25519 (libsodium), detached, over the exact bytes of the policy file.
 * Key and signature files are two lines in the spirit of minisign/signify:
 *
 *	untrusted comment: <free text>
 *	<base64 of "Ed" || key id (8 octets) || payload>
 *
 * payload: public key 32 octets (BASENAME.pub), secret key 64 octets
 * (BASENAME.key, libsodium's seed || public key, unencrypted: protect it
 * with its mode, 0600), signature 64 octets (POLICY.sig). The key id,
 * random at keygen, names the key a signature needs, so a rotation shows
 * up as "signed by key X, not by Y" instead of a bare failure.
 */

/*
 * Write base + ".key" (mode 0600) and base + ".pub" (0644), refusing to
 * overwrite either. keyid (17 bytes, may be NULL) gets the new key id in
 * hex. PD_OK, PD_EIO or PD_EINTERNAL; err says why.
 */
enum pd_err pd_sig_keygen(const char *base, char *keyid,
    struct pd_error *err);

/*
 * Sign the file at policy (at most PD_POLICY_MAX_BYTES) with the secret
 * key file seckey, writing policy + ".sig" atomically (rename). A secret
 * key file with any group or other permission bit is refused (PD_EPERM).
 * The bytes signed are first parsed as pd_policy_parse does: a policy
 * that does not load is refused with its error, and so (PD_ESIG) is one
 * naming a file without its sha256, which the signature would not cover.
 * The secret key is wiped from memory before return.
 */
enum pd_err pd_sig_sign(const char *seckey, const char *policy,
    struct pd_error *err);

/*
 * Check policy + ".sig" over the bytes of policy with the public key file
 * pubkey, then load the policy as pd_policy_load does with that key, so
 * that a file it names that is unpinned or no longer matches its sha256
 * fails too. PD_OK when all holds; PD_ESIG (missing, malformed, another
 * key, not valid, a named file unpinned or changed), PD_EIO or PD_EPARSE
 * otherwise, err saying which.
 */
enum pd_err pd_sig_verify(const char *pubkey, const char *policy,
    struct pd_error *err);

/*
 * The key id (16 hex digits and a NUL into keyid) the signature file path
 * names, read without checking the signature. For `pindns status`.
 * PD_OK, or PD_ESIG/PD_EIO with err saying why.
 */
enum pd_err pd_sig_keyid(const char *path, char *keyid, struct pd_error *err);

/*
 * The sha256 of the regular file at path (at most max bytes), into out,
 * as the loader computes it for a named file (`pindns digest`). PD_OK,
 * PD_EIO or PD_ENOMEM; err says "PATH: why".
 */
enum pd_err pd_file_sha256(const char *path, size_t max, uint8_t out[32],
    struct pd_error *err);

/* ------------------------------------------------------------ reload */

/*
 * A watched policy file (SPEC §3): the current policy, re-read when the
 * file's inode, size or mtime change, checked at most once a second.
 * A new version that fails to load or verify is refused; the old one
 * stays in force. Replaced policies are freed after a grace period
 * (PD_WATCH_GRACE_MS) so a lookup that still reads one is safe without a
 * lock or a reference count; `retire` is called just before that free.
 */
#define PD_WATCH_GRACE_MS	120000

struct pd_watch;

struct pd_watch_opts {
	const char	*path;		/* policy file */
	const char	*pubkey;	/* NULL: signatures not required */
	void		(*retire)(struct pd_policy *p, void *arg);
	void		*arg;
};

/*
 * Create a watch and load the policy once. Returns PD_OK with *wp set
 * even when that first load fails (then pd_watch_current() is NULL and
 * err says why, and later polls keep trying). Returns an error (and sets
 * nothing) only when the watch itself cannot be made.
 */
enum pd_err pd_watch_new(const struct pd_watch_opts *o, struct pd_watch **wp,
    struct pd_error *err);

/* The policy in force, or NULL if none ever loaded. Lock-free. */
struct pd_policy *pd_watch_current(struct pd_watch *w);

/*
 * Check the file if a second has passed since the last check (now_ms is a
 * monotonic clock in milliseconds); one thread stats, the others return
 * at once. Returns 1 when a new policy was installed, -1 when a changed
 * file was refused (err says why, once per change), 0 otherwise.
 */
int pd_watch_poll(struct pd_watch *w, uint64_t now_ms, struct pd_error *err);

/*
 * Make the next pd_watch_poll() read the file whatever its stamps say
 * (SIGHUP in pindns serve). A file with the same bytes is still no new
 * policy; one that fails is reported and the old one stays.
 */
void pd_watch_force(struct pd_watch *w);

/* Free the watch and every policy it holds. NULL is a no-op. */
void pd_watch_free(struct pd_watch *w);

/*
 * fork(): the host takes the watch's lock in its pthread_atfork prepare
 * handler (pd_watch_lock) and releases it on both sides (pd_watch_unlock).
 * The lock is held only over in-memory changes, never across a check's
 * I/O or a retire callback, so taking it waits for no file system. In the
 * child, call pd_watch_forked() (before the unlock): a check a thread of
 * the parent had in progress is forgotten and the child makes its own at
 * its next poll. NULL is a no-op for all three.
 */
void pd_watch_lock(struct pd_watch *w);
void pd_watch_unlock(struct pd_watch *w);
void pd_watch_forked(struct pd_watch *w);

#endif /* PD_POLICY_H */

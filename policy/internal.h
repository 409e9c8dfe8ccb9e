/*
 * pindns policy: declarations shared by the files of the policy module
 * (load.c, name.c, match.c, pins.c, sig.c, watch.c, file.c, files.c,
 * anchors.c). Not part of the module's interface: nothing outside policy/
 * includes this.
 */
#ifndef PD_POLICY_INTERNAL_H
#define PD_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/* "No rule": larger than any rule index. */
#define PD_RULE_NONE	UINT32_MAX

/* ------------------------------------------------------------ errors */

/*
 * Fill err (which may be NULL) with "FILE:LINE:COL: message", or
 * "FILE: message" when line is 0. Returns r, so callers can write
 * `return pd_err_at(...)`.
 */
enum pd_err pd_err_at(struct pd_error *err, enum pd_err r, const char *file,
    unsigned line, unsigned col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
enum pd_err pd_err_vat(struct pd_error *err, enum pd_err r, const char *file,
    unsigned line, unsigned col, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

/* ------------------------------------------------------------ files */

/*
 * Read the regular file at path whole, refusing anything larger than max
 * bytes (an error naming the size) and anything that is not a regular
 * file. On success *bufp is a malloc'd buffer of *lenp bytes plus a NUL
 * byte the caller may ignore; the caller frees it. On failure err says
 * "PATH: why" and nothing is set. errno is kept for PD_EIO.
 */
enum pd_err pd_file_read(const char *path, size_t max, uint8_t **bufp,
    size_t *lenp, struct pd_error *err);

/*
 * The same, refusing (PD_EPERM) a file with any group or other
 * permission bit: for secret keys.
 */
enum pd_err pd_file_read_private(const char *path, size_t max,
    uint8_t **bufp, size_t *lenp, struct pd_error *err);

/* ------------------------------------------------------------ YAML */

/*
 * A policy document as a plain tree, built from libyaml's events so that
 * what a policy must not be is refused where it appears: aliases and
 * anchors, tags, directives, a second document, complex keys, nesting
 * deeper than PD_YAML_MAX_DEPTH. Positions are 1-based.
 */
#define PD_YAML_MAX_DEPTH	32

enum pd_ykind {
	PD_Y_SCALAR,
	PD_Y_SEQ,
	PD_Y_MAP
};

struct pd_ynode {
	enum pd_ykind	  kind;
	unsigned	  line, col;
	bool		  plain;	/* scalar written without quotes */
	size_t		  len;		/* scalar: octets in s */
	char		 *s;		/* scalar: value, NUL-terminated */
	size_t		  n;		/* seq: items; map: 2 * pairs */
	size_t		  cap;
	struct pd_ynode	**v;		/* map: key, value, key, value... */
};

/*
 * Parse buf into *rootp (NULL for a stream with no document). Errors are
 * "name:LINE:COL: message" in err. The caller frees with pd_ynode_free.
 */
enum pd_err pd_yaml_tree(const char *name, const uint8_t *buf, size_t len,
    struct pd_ynode **rootp, struct pd_error *err);

void pd_ynode_free(struct pd_ynode *n);

/* ------------------------------------------------------------ names */

/*
 * Validate and normalise a match/cname pattern as written in a policy:
 * lower-case, one trailing dot stripped, labels of letters, digits, '-'
 * and '_', each 1..63 octets, at most PD_NAME_MAX in all; a label may be
 * `*` (exactly one label), and the first label may be `**` (one or more
 * labels). out holds at least PD_NAME_MAX + 1 bytes. Returns the length,
 * or -1 with *why set to a static message and *off to the 0-based offset
 * in `in` of the offending character.
 */
int pd_pattern_normalize(const char *in, size_t inlen, char *out,
    const char **why, size_t *off);

/* ------------------------------------------------------------ anchors */

/*
 * Check the bytes of the trust-anchor file at path lexically
 * (policy/anchors.c): DS or DNSKEY records only, at least one. policy,
 * line and col say where the policy names it (line 0: the default
 * anchor). Errors inside the file are "PATH:LINE:COL: ...".
 */
enum pd_err pd_anchor_check(const char *policy, unsigned line, unsigned col,
    const char *path, const uint8_t *buf, size_t len, struct pd_error *err);

/* ------------------------------------------------------------ named files */

/*
 * Read the file f names (f->path, at most max bytes) into f->data, once,
 * and hash it into f->sha256 (policy/files.c). want (32 bytes, or NULL)
 * is the sha256 the policy gives for it: bytes that hash otherwise are
 * refused (PD_ESIG) and f->pinned is set only when they match. policy,
 * f->line and f->col place messages; label starts them ("tls_ca_file:",
 * "trust anchor"), hint (may be NULL) ends them in parentheses. On
 * failure f->data is NULL.
 */
enum pd_err pd_pfile_read(struct pd_policy_file *f, size_t max,
    const uint8_t *want, const char *policy, const char *label,
    const char *hint, struct pd_error *err);

/*
 * For a policy that must be signed: PD_OK when every file p names carries
 * its sha256, else PD_ESIG at the first one (in file order) that does not.
 */
enum pd_err pd_pfiles_pinned(const struct pd_policy *p,
    struct pd_error *err);

/* Free what f owns (not f itself). */
void pd_pfile_clear(struct pd_policy_file *f);

/*
 * p->digest: BLAKE2b over the policy's bytes buf[0..len-1] and the bytes
 * of every file it names, so that pd_watch tells a rewrite with the same
 * content from a change (sets p->has_digest).
 */
void pd_policy_digest(struct pd_policy *p, const uint8_t *buf, size_t len);

/* ------------------------------------------------------------ matcher */

/* A reversed-label trie of patterns, each carrying a value (rule index). */
struct pd_trie;

/*
 * Add a normalised pattern with value v to *tp (created when NULL). When
 * several patterns match a name, lookup returns the smallest value.
 */
enum pd_err pd_trie_add(struct pd_trie **tp, const char *pat, uint32_t v);

/* Finish building (computes the pruning bounds). t may be NULL. */
void pd_trie_seal(struct pd_trie *t);

/*
 * The smallest value of a pattern matching the normalised name, or
 * PD_RULE_NONE. t may be NULL. No allocation; recursion depth is bounded
 * by the number of labels (at most 127).
 */
uint32_t pd_trie_lookup(const struct pd_trie *t, const char *norm,
    size_t len);

void pd_trie_free(struct pd_trie *t);

/*
 * Build p->matcher from p->rules (match and cname patterns). Returns
 * PD_OK or PD_ENOMEM.
 */
enum pd_err pd_matcher_build(struct pd_policy *p);
void pd_matcher_free(void *m);

/* ------------------------------------------------------------ pins */

/*
 * Parse "ADDRESS/PREFIX" (or a bare address: a host prefix) into *c.
 * Host bits set beyond the prefix are an error whose message names the
 * corrected CIDR; so is an IPv4-mapped IPv6 prefix (write it as IPv4).
 * Returns 0, or -1 with why (a NUL-terminated message) filled.
 */
int pd_cidr_parse(const char *s, struct pd_cidr *c, char *why, size_t whylen);

/* Format c as "a.b.c.d/n" or "x::/n" into buf (at least 64 bytes). */
void pd_cidr_format(const struct pd_cidr *c, char *buf, size_t len);

/* Build ps->index from ps->v. PD_OK or PD_ENOMEM. */
enum pd_err pd_pins_index(struct pd_pinset *ps);

/* Free ps, its list and its index. NULL is a no-op. */
void pd_pinset_free(struct pd_pinset *ps);

/* ------------------------------------------------------------ signatures */

/*
 * Verify the detached signature in sigpath over buf[0..len-1] with the
 * public key file at pubkey; on success keyid (17 bytes, may be NULL)
 * gets the hex id of the key. Messages name the file concerned. PD_OK,
 * PD_ESIG (missing, malformed, wrong key, not valid), PD_EIO or
 * PD_EPARSE (key file unreadable or malformed).
 */
enum pd_err pd_sig_check(const char *pubkey, const char *sigpath,
    const uint8_t *buf, size_t len, char *keyid, struct pd_error *err);

#endif /* PD_POLICY_INTERNAL_H */

/*
 * pindns DoT backend: trust anchors and the DNSSEC chain cache (chain.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/chain.h"
#include "resolver/dot/names.h"
#include "resolver/dot/rr.h"
#include "resolver/dot/zkeys.h"

#define DNSKEY_FLAG_ZONE	0x0100
#define DNSKEY_FLAG_REVOKE	0x0080
/* Longest a cached entry lives, whatever the TTLs say. */
#define CACHE_TTL_MAX		86400

/*
 * A cached, immutable list: the DNSKEY RRset of a signed zone, or a
 * validation chain proving a zone unsigned. `holder` owns `list` (getdns
 * has no public list copy; setting a list into a dict deep-copies it).
 */
struct entry {
	struct entry	*next;
	char		 zone[PD_NAME_MAX + 1];
	getdns_dict	*holder;
	const getdns_list *list;
	time_t		 expire;
	unsigned	 refs;		/* the cache's own + validations */
	struct pd_zkeys	*zk;		/* keys: ready for zkeys.h, or NULL */
};

struct pd_chain {
	pthread_mutex_t	 mu;
	getdns_list	*anchors;
	size_t		 nanchors;
	struct entry	*keys;		/* signed zones */
	size_t		 nkeys;
	struct entry	*ins;		/* insecurity proofs */
	size_t		 nins;
	_Atomic uint64_t nfast;		/* RRsets decided by zkeys.h */
};

/* ------------------------------------------------------------ anchors */

/*
 * A private copy of the bytes the policy loader read and checked: the
 * files are never opened here (what was checked is what is used), and
 * the policy's own copy is shared read-only between threads, while
 * check_lines splits lines in place.
 */
static enum pd_err
copy_file(const struct pd_policy_file *f, char **bufp, char *err,
    size_t errlen)
{
	char *buf;

	if (f->data == NULL) {
		snprintf(err, errlen, "%s: not read when the policy was "
		    "loaded", f->path);
		return PD_EPARSE;
	}
	if ((buf = malloc(f->len + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", f->path);
		return PD_ENOMEM;
	}
	memcpy(buf, f->data, f->len);
	buf[f->len] = '\0';
	*bufp = buf;
	return PD_OK;
}

/*
 * getdns_fp2rr_list skips what it cannot parse without a word, so each
 * line is also parsed on its own: a file with a typo in one key must be
 * refused, not half-loaded. Multi-line records (parentheses) are left to
 * fp2rr_list alone.
 */
static bool
check_lines(const char *path, char *buf, char *err, size_t errlen)
{
	char *line, *next, *p;
	unsigned lineno = 0;
	getdns_dict *rr;
	uint32_t type;

	if (strchr(buf, '(') != NULL)
		return true;
	for (line = buf; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		for (p = line; *p == ' ' || *p == '\t' || *p == '\r'; p++)
			;
		if (*p == '\0' || *p == ';' || *p == '$')
			goto restore;
		rr = NULL;
		if (getdns_str2rr_dict(line, &rr, NULL, 3600) != 0 ||
		    getdns_dict_get_int(rr, "type", &type) != 0) {
			getdns_dict_destroy(rr);
			snprintf(err, errlen, "%s:%u: not a resource record",
			    path, lineno);
			return false;
		}
		getdns_dict_destroy(rr);
		if (type != GETDNS_RRTYPE_DS && type != GETDNS_RRTYPE_DNSKEY) {
			snprintf(err, errlen, "%s:%u: not a DS or DNSKEY "
			    "record", path, lineno);
			return false;
		}
restore:
		if (next != NULL)
			next[-1] = '\n';
	}
	return true;
}

static enum pd_err
load_file(const struct pd_policy_file *f, getdns_list *out, size_t *count,
    char *err, size_t errlen)
{
	const char *path = f->path;
	char *buf = NULL;
	size_t len = f->len, n, i, found = 0;
	FILE *mf = NULL;
	getdns_list *rrs = NULL;
	getdns_dict *rr;
	uint32_t type;
	enum pd_err r;

	if ((r = copy_file(f, &buf, err, errlen)) != PD_OK)
		return r;
	r = PD_EPARSE;
	if (!check_lines(path, buf, err, errlen))
		goto out;
	if ((mf = fmemopen(buf, len ? len : 1, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		r = PD_ENOMEM;
		goto out;
	}
	if (getdns_fp2rr_list(mf, &rrs, NULL, 3600) != 0 || rrs == NULL) {
		snprintf(err, errlen, "%s: not a zone file getdns can read",
		    path);
		goto out;
	}
	if (getdns_list_get_length(rrs, &n) != 0)
		n = 0;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(rrs, i, &rr) != 0 ||
		    getdns_dict_get_int(rr, "type", &type) != 0)
			continue;
		if (type != GETDNS_RRTYPE_DS && type != GETDNS_RRTYPE_DNSKEY)
			continue;
		if (!pd_rr_sane(rr)) {
			snprintf(err, errlen, "%s: a DS or DNSKEY record is "
			    "incomplete", path);
			goto out;
		}
		if (out != NULL) {
			if (getdns_list_get_length(out, count) != 0 ||
			    getdns_list_set_dict(out, *count, rr) != 0) {
				snprintf(err, errlen, "%s: out of memory",
				    path);
				r = PD_ENOMEM;
				goto out;
			}
		}
		found++;
	}
	if (found == 0) {
		snprintf(err, errlen, "%s: holds no DS or DNSKEY record",
		    path);
		goto out;
	}
	if (out == NULL)
		*count += found;
	else
		(void)getdns_list_get_length(out, count);
	r = PD_OK;
out:
	getdns_list_destroy(rrs);
	if (mf != NULL)
		(void)fclose(mf);
	free(buf);
	return r;
}

enum pd_err
pd_chain_load_anchors(const struct pd_policy *p, getdns_list **listp,
    size_t *countp, char *err, size_t errlen)
{
	getdns_list *list = NULL;
	size_t i, count = 0;
	enum pd_err r;

	if (listp != NULL && (list = getdns_list_create()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return PD_ENOMEM;
	}
	for (i = 0; i < p->nanchors; i++) {
		if ((r = load_file(&p->anchors[i], list, &count, err,
		    errlen)) != PD_OK) {
			getdns_list_destroy(list);
			return r;
		}
	}
	if (listp != NULL)
		*listp = list;
	*countp = count;
	return PD_OK;
}

/* ------------------------------------------------------------ cache */

enum pd_err
pd_chain_new(getdns_list *anchors, struct pd_chain **cp)
{
	struct pd_chain *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PD_ENOMEM;
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return PD_EINTERNAL;
	}
	c->anchors = anchors;
	if (anchors == NULL || getdns_list_get_length(anchors,
	    &c->nanchors) != 0)
		c->nanchors = 0;
	*cp = c;
	return PD_OK;
}

static void
entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	getdns_dict_destroy(e->holder);
	pd_zkeys_free(e->zk);
	free(e);
}

/* Drop a reference; the last one frees. Call without c->mu held. */
static void
entry_put(struct pd_chain *c, struct entry *e)
{
	bool last;

	(void)pthread_mutex_lock(&c->mu);
	last = --e->refs == 0;
	(void)pthread_mutex_unlock(&c->mu);
	if (last)
		entry_free(e);
}

/* Unlink e from its list (c->mu held); frees it when nothing uses it. */
static void
entry_unlink(struct entry **head, size_t *n, struct entry *e,
    struct entry **freep)
{
	struct entry **pp;

	for (pp = head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp != e)
			continue;
		*pp = e->next;
		e->next = NULL;
		(*n)--;
		if (--e->refs == 0) {
			e->next = *freep;
			*freep = e;
		}
		return;
	}
}

static void
free_list(struct entry *e)
{
	struct entry *next;

	for (; e != NULL; e = next) {
		next = e->next;
		entry_free(e);
	}
}

void
pd_chain_free(struct pd_chain *c)
{
	if (c == NULL)
		return;
	free_list(c->keys);
	free_list(c->ins);
	getdns_list_destroy(c->anchors);
	(void)pthread_mutex_destroy(&c->mu);
	free(c);
}

const getdns_list *
pd_chain_anchors(const struct pd_chain *c)
{
	return c->anchors;
}

size_t
pd_chain_nanchors(const struct pd_chain *c)
{
	return c->nanchors;
}

void
pd_chain_counts(struct pd_chain *c, size_t *zones, size_t *insecure,
    uint64_t *fast)
{
	*fast = atomic_load(&c->nfast);
	(void)pthread_mutex_lock(&c->mu);
	*zones = c->nkeys;
	*insecure = c->nins;
	(void)pthread_mutex_unlock(&c->mu);
}

bool
pd_chain_covers(struct pd_chain *c, const char *name, time_t now)
{
	struct entry *e;
	bool yes = false;

	(void)pthread_mutex_lock(&c->mu);
	for (e = c->keys; e != NULL && !yes; e = e->next)
		yes = e->expire > now && pd_dname_under(name, e->zone);
	for (e = c->ins; e != NULL && !yes; e = e->next)
		yes = e->expire > now && pd_dname_under(name, e->zone);
	(void)pthread_mutex_unlock(&c->mu);
	return yes;
}

/*
 * Insert e at the head of a list bounded to max entries, evicting the
 * entry that expires first (c->mu held). An entry for the same zone and
 * kind is replaced when `replace` is set.
 */
static void
insert(struct pd_chain *c, struct entry **head, size_t *n, size_t max,
    struct entry *e, bool replace)
{
	struct entry *x, *victim, *dead = NULL;

	if (replace) {
		for (x = *head; x != NULL; x = x->next)
			if (strcmp(x->zone, e->zone) == 0)
				break;
		if (x != NULL)
			entry_unlink(head, n, x, &dead);
	}
	while (*n >= max) {
		victim = *head;
		for (x = *head; x != NULL; x = x->next)
			if (x->expire < victim->expire)
				victim = x;
		entry_unlink(head, n, victim, &dead);
	}
	e->refs = 1;
	e->next = *head;
	*head = e;
	(*n)++;
	/* Freed with the lock held: getdns dict destruction takes no lock
	 * of ours. */
	free_list(dead);
	(void)c;
}

static int
rr_type(const getdns_dict *rr)
{
	uint32_t t;

	return getdns_dict_get_int(rr, "type", &t) == 0 ? (int)t : -1;
}

static bool
rr_owner(const getdns_dict *rr, char *out)
{
	getdns_bindata *b;

	return getdns_dict_get_bindata(rr, "name", &b) == 0 &&
	    pd_dname_norm(b, out) >= 0;
}

/* Lower *expire to what rr allows: its TTL and, for an RRSIG, the
 * original TTL and the signature expiration. Records without rdata are
 * getdns's placeholders for refused DS queries: they carry no time. */
static void
clamp_expire(const getdns_dict *rr, time_t now, time_t *expire)
{
	getdns_dict *rd;
	uint32_t ttl, v;
	time_t t;

	if (getdns_dict_get_dict(rr, "rdata", &rd) != 0)
		return;
	ttl = pd_rr_int(rr, "ttl", 0);
	if (rr_type(rr) == GETDNS_RRTYPE_RRSIG) {
		v = pd_rr_int(rd, "original_ttl", ttl);
		if (v < ttl)
			ttl = v;
		v = pd_rr_int(rd, "signature_expiration", 0);
		t = (time_t)v;
		if (t < *expire)
			*expire = t;
	}
	if (ttl > CACHE_TTL_MAX)
		ttl = CACHE_TTL_MAX;
	if (now + (time_t)ttl < *expire)
		*expire = now + (time_t)ttl;
}

static struct entry *
entry_new(const char *zone, getdns_list *list, time_t expire)
{
	struct entry *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	snprintf(e->zone, sizeof(e->zone), "%s", zone);
	e->expire = expire;
	if ((e->holder = getdns_dict_create()) == NULL ||
	    getdns_dict_set_list(e->holder, "l", list) != 0 ||
	    getdns_dict_get_list(e->holder, "l",
	    (getdns_list **)&e->list) != 0) {
		entry_free(e);
		return NULL;
	}
	return e;
}

static int
validate(const getdns_list *tv, const getdns_list *support,
    const getdns_list *anchors, time_t now)
{
	return (int)getdns_validate_dnssec2(tv, support, anchors, now,
	    PD_CHAIN_SKEW);
}

/*
 * A chain proved an RRset signed by zone SECURE: validate the zone's
 * DNSKEY RRset from that chain on its own and cache its zone keys.
 */
static void
learn_secure(struct pd_chain *c, const char *zone, const getdns_list *vchain,
    time_t now)
{
	getdns_list *set = NULL, *keys = NULL;
	getdns_dict *rr, *rd;
	char owner[PD_NAME_MAX + 1];
	size_t i, n, ns = 0, nk = 0;
	time_t expire = now + CACHE_TTL_MAX;
	struct entry *e;
	int t;

	if (getdns_list_get_length(vchain, &n) != 0 ||
	    (set = getdns_list_create()) == NULL ||
	    (keys = getdns_list_create()) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(vchain, i, &rr) != 0 ||
		    !rr_owner(rr, owner) || strcmp(owner, zone) != 0)
			continue;
		t = rr_type(rr);
		if (getdns_dict_get_dict(rr, "rdata", &rd) != 0)
			continue;
		if (t == GETDNS_RRTYPE_RRSIG && pd_rr_int(rd, "type_covered", 0)
		    != GETDNS_RRTYPE_DNSKEY)
			continue;
		if (t != GETDNS_RRTYPE_RRSIG && t != GETDNS_RRTYPE_DNSKEY)
			continue;
		if (getdns_list_set_dict(set, ns++, rr) != 0)
			goto out;
		clamp_expire(rr, now, &expire);
		if (t != GETDNS_RRTYPE_DNSKEY)
			continue;
		/* Only zone keys that are not revoked may sign data. */
		if ((pd_rr_int(rd, "flags", 0) & DNSKEY_FLAG_ZONE) == 0 ||
		    (pd_rr_int(rd, "flags", 0) & DNSKEY_FLAG_REVOKE) != 0)
			continue;
		if (getdns_list_set_dict(keys, nk++, rr) != 0)
			goto out;
	}
	if (nk == 0 || expire <= now)
		goto out;
	if (validate(set, vchain, c->anchors, now) != GETDNS_DNSSEC_SECURE)
		goto out;
	if ((e = entry_new(zone, keys, expire)) == NULL)
		goto out;
	e->zk = pd_zkeys_new(keys);
	(void)pthread_mutex_lock(&c->mu);
	insert(c, &c->keys, &c->nkeys, PD_CHAIN_MAX_ZONES, e, true);
	(void)pthread_mutex_unlock(&c->mu);
out:
	getdns_list_destroy(set);
	getdns_list_destroy(keys);
}

/*
 * A chain proved an RRset at owner INSECURE: keep the chain, keyed by the
 * deepest signed zone in it above owner (the parent of the unsigned
 * delegation), for later unsigned answers under that zone.
 */
static void
learn_insecure(struct pd_chain *c, const char *owner,
    const getdns_list *vchain, time_t now)
{
	getdns_dict *rr;
	char name[PD_NAME_MAX + 1], zone[PD_NAME_MAX + 1];
	size_t i, n;
	bool found = false;
	time_t expire = now + CACHE_TTL_MAX;
	struct entry *e, *x, *dead = NULL;

	if (getdns_list_get_length(vchain, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(vchain, i, &rr) != 0)
			continue;
		clamp_expire(rr, now, &expire);
		if (rr_type(rr) != GETDNS_RRTYPE_DNSKEY || !rr_owner(rr, name)
		    || !pd_dname_under(owner, name))
			continue;
		if (!found || pd_dname_labels(name) > pd_dname_labels(zone)) {
			snprintf(zone, sizeof(zone), "%s", name);
			found = true;
		}
	}
	if (!found || expire <= now)
		return;
	if ((e = entry_new(zone, (getdns_list *)vchain, expire)) == NULL)
		return;
	(void)pthread_mutex_lock(&c->mu);
	/* Several unsigned zones may hang below one signed zone, each with
	 * its own proof: keep them all (bounded), an expired one first out. */
	for (x = c->ins; x != NULL; x = x->next)
		if (x->expire <= now)
			break;
	if (x != NULL)
		entry_unlink(&c->ins, &c->nins, x, &dead);
	insert(c, &c->ins, &c->nins, PD_CHAIN_MAX_INSECURE, e, false);
	(void)pthread_mutex_unlock(&c->mu);
	free_list(dead);
}

static enum pd_sec
sec_of(int r)
{
	switch (r) {
	case GETDNS_DNSSEC_SECURE:	return PD_SEC_SECURE;
	case GETDNS_DNSSEC_INSECURE:	return PD_SEC_INSECURE;
	case GETDNS_DNSSEC_INDETERMINATE: return PD_SEC_INDETERMINATE;
	default:			return PD_SEC_BOGUS;
	}
}

/* Take a reference on the cached key set for zone (exact match). */
static struct entry *
get_keys(struct pd_chain *c, const char *zone, time_t now)
{
	struct entry *e;

	(void)pthread_mutex_lock(&c->mu);
	for (e = c->keys; e != NULL; e = e->next)
		if (e->expire > now && strcmp(e->zone, zone) == 0)
			break;
	if (e != NULL)
		e->refs++;
	(void)pthread_mutex_unlock(&c->mu);
	return e;
}

/* Forget a key set that no longer validates (ZSK rollover). */
static void
drop_keys(struct pd_chain *c, struct entry *e)
{
	struct entry *x, *dead = NULL;

	(void)pthread_mutex_lock(&c->mu);
	for (x = c->keys; x != NULL && x != e; x = x->next)
		;
	if (x != NULL)
		entry_unlink(&c->keys, &c->nkeys, x, &dead);
	(void)pthread_mutex_unlock(&c->mu);
	free_list(dead);
}

/*
 * References to the insecurity proofs that may cover owner, at most max.
 */
static size_t
get_proofs(struct pd_chain *c, const char *owner, time_t now,
    struct entry **out, size_t max)
{
	struct entry *e;
	size_t n = 0;

	(void)pthread_mutex_lock(&c->mu);
	for (e = c->ins; e != NULL && n < max; e = e->next) {
		if (e->expire <= now || !pd_dname_under(owner, e->zone))
			continue;
		e->refs++;
		out[n++] = e;
	}
	(void)pthread_mutex_unlock(&c->mu);
	return n;
}

/* Does a cached proof already show tv INSECURE? */
static bool
proven_insecure(struct pd_chain *c, const getdns_list *tv, const char *owner,
    time_t now)
{
	struct entry *proofs[PD_CHAIN_MAX_INSECURE];
	size_t i, n;
	bool yes = false;

	n = get_proofs(c, owner, now, proofs, PD_CHAIN_MAX_INSECURE);
	for (i = 0; i < n; i++) {
		if (!yes && validate(tv, proofs[i]->list, c->anchors, now) ==
		    GETDNS_DNSSEC_INSECURE)
			yes = true;
		entry_put(c, proofs[i]);
	}
	return yes;
}

bool
pd_chain_prefetch_zone(struct pd_chain *c, const char *name, time_t now,
    char *zone)
{
	getdns_dict *rr;
	char owner[PD_NAME_MAX + 1];
	struct entry *e;
	size_t i;
	bool found = false;

	if (c == NULL || c->nanchors == 0)
		return false;
	for (i = 0; i < c->nanchors; i++) {
		if (getdns_list_get_dict(c->anchors, i, &rr) != 0 ||
		    !rr_owner(rr, owner) || !pd_dname_under(name, owner))
			continue;
		if (!found || pd_dname_labels(owner) > pd_dname_labels(zone)) {
			memcpy(zone, owner, sizeof(owner));
			found = true;
		}
	}
	if (!found)
		return false;
	if ((e = get_keys(c, zone, now)) != NULL) {
		entry_put(c, e);
		return false;
	}
	return true;
}

bool
pd_chain_learn_keys(struct pd_chain *c, const char *zone,
    const getdns_dict *resp, time_t now)
{
	getdns_list *tree, *answer, *support;
	getdns_dict *reply;
	struct entry *e;
	size_t n;

	if (c == NULL || c->nanchors == 0 || resp == NULL ||
	    getdns_dict_get_list(resp, "replies_tree", &tree) != 0 ||
	    getdns_list_get_length(tree, &n) != 0 || n != 1 ||
	    getdns_list_get_dict(tree, 0, &reply) != 0 ||
	    getdns_dict_get_list(reply, "answer", &answer) != 0)
		return false;
	/* From the upstream: only complete records reach the validator. */
	if ((support = pd_rr_sane_copy(answer)) == NULL)
		return false;
	learn_secure(c, zone, support, now);
	getdns_list_destroy(support);
	if ((e = get_keys(c, zone, now)) == NULL)
		return false;
	entry_put(c, e);
	return true;
}

enum pd_sec
pd_chain_validate(struct pd_chain *c, const getdns_list *tv,
    const char *owner, const char *signer, const getdns_list *vchain,
    time_t now, bool *need_chain)
{
	struct entry *e;
	getdns_list *support;
	enum pd_sec sec;
	int r;

	*need_chain = false;
	if (c == NULL || c->nanchors == 0)
		return PD_SEC_INDETERMINATE;
	/* RRSIGs by a zone that is not an ancestor of the data are forged
	 * (getdns would find no key; say so plainly). */
	if (signer != NULL && !pd_dname_under(owner, signer))
		return PD_SEC_BOGUS;

	if (vchain != NULL) {
		/* The chain came from the upstream too: only complete
		 * records reach the validator and the cache (rr.h). */
		if ((support = pd_rr_sane_copy(vchain)) == NULL)
			return PD_SEC_BOGUS;
		r = validate(tv, support, c->anchors, now);
		sec = sec_of(r);
		if (sec == PD_SEC_SECURE && signer != NULL) {
			if ((e = get_keys(c, signer, now)) != NULL)
				entry_put(c, e);
			else
				learn_secure(c, signer, support, now);
		} else if (sec == PD_SEC_INSECURE && !proven_insecure(c, tv,
		    owner, now))
			learn_insecure(c, owner, support, now);
		getdns_list_destroy(support);
		return sec;
	}

	if (signer != NULL) {
		if ((e = get_keys(c, signer, now)) == NULL) {
			*need_chain = true;
			return PD_SEC_INDETERMINATE;
		}
		/* An address RRset signed by a cached key: checked without
		 * getdns's set-up; anything it does not prove goes on to
		 * getdns, which decides (zkeys.h). */
		if (pd_zkeys_verify(e->zk, signer, tv, owner, now)) {
			atomic_fetch_add(&c->nfast, 1);
			entry_put(c, e);
			return PD_SEC_SECURE;
		}
		r = validate(tv, NULL, e->list, now);
		if (r == GETDNS_DNSSEC_SECURE) {
			entry_put(c, e);
			return PD_SEC_SECURE;
		}
		/* A new ZSK (or a forgery): let a fresh chain decide. */
		drop_keys(c, e);
		entry_put(c, e);
		*need_chain = true;
		return r == GETDNS_DNSSEC_BOGUS ? PD_SEC_BOGUS :
		    PD_SEC_INDETERMINATE;
	}

	if (proven_insecure(c, tv, owner, now))
		return PD_SEC_INSECURE;
	*need_chain = true;
	return PD_SEC_INDETERMINATE;
}

/*
 * pindns DoT backend: reply checks, CNAME chain, per-RRset validation
 * (reply.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/names.h"
#include "resolver/dot/reply.h"
#include "resolver/dot/rr.h"

/* More answer records than this is not a reply we need. */
#define MAX_SECTION_RRS	4096

/* One record of a section, with its owner normalised once. */
struct rec {
	getdns_dict	*rr;
	const char	*owner;		/* NULL: not a usable name */
	getdns_bindata	*wire;		/* owner in wire form */
	int		 type;
	uint32_t	 cls;
	uint32_t	 ttl;
	getdns_dict	*rdata;
	bool		 sane;		/* fit for the validator (rr.h) */
};

struct sect {
	size_t		 n;
	struct rec	*v;
	char		*pool;
};

/* One link of the chain: the name, its wire form, and where it came from. */
struct link {
	const char	*name;		/* normalised (points into a pool or
					 * into the caller's qname) */
	getdns_bindata	*wire;
	size_t		 rrset;		/* index of the CNAME (or DNAME) */
	bool		 via_dname;
	char		 dname_owner[PD_NAME_MAX + 1];
};

static void
sect_free(struct sect *s)
{
	free(s->v);
	free(s->pool);
	memset(s, 0, sizeof(*s));
}

/* Load a section; false on a malformed section (not on absence). */
static bool
sect_load(const getdns_dict *reply, const char *key, struct sect *s)
{
	getdns_list *l;
	getdns_dict *rr;
	char name[PD_NAME_MAX + 1];
	size_t i, n, off = 0;
	uint32_t t;
	int len;

	memset(s, 0, sizeof(*s));
	if (getdns_dict_get_list(reply, key, &l) != 0)
		return true;
	if (getdns_list_get_length(l, &n) != 0 || n > MAX_SECTION_RRS)
		return false;
	if (n == 0)
		return true;
	if ((s->v = calloc(n, sizeof(*s->v))) == NULL ||
	    (s->pool = malloc(n * (PD_NAME_MAX + 1))) == NULL) {
		sect_free(s);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(l, i, &rr) != 0)
			continue;
		s->v[s->n].rr = rr;
		s->v[s->n].type = getdns_dict_get_int(rr, "type", &t) == 0 ?
		    (int)t : -1;
		if (getdns_dict_get_int(rr, "class", &s->v[s->n].cls) != 0)
			s->v[s->n].cls = 0;
		if (getdns_dict_get_int(rr, "ttl", &s->v[s->n].ttl) != 0)
			s->v[s->n].ttl = 0;
		if (getdns_dict_get_dict(rr, "rdata", &s->v[s->n].rdata) != 0)
			s->v[s->n].rdata = NULL;
		s->v[s->n].sane = pd_rr_sane(rr);
		if (getdns_dict_get_bindata(rr, "name", &s->v[s->n].wire) == 0
		    && (len = pd_dname_norm(s->v[s->n].wire, name)) >= 0) {
			memcpy(s->pool + off, name, (size_t)len + 1);
			s->v[s->n].owner = s->pool + off;
			off += (size_t)len + 1;
		}
		s->n++;
	}
	return true;
}

__attribute__((format(printf, 2, 3))) static void
bad(struct pd_reply_out *out, const char *fmt, ...)
{
	va_list ap;

	out->malformed = true;
	va_start(ap, fmt);
	(void)vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
	va_end(ap);
}

static bool
sig_covers(const struct rec *r, const char *owner, int type)
{
	return r->type == GETDNS_RRTYPE_RRSIG && r->cls == GETDNS_RRCLASS_IN &&
	    r->owner != NULL && strcmp(r->owner, owner) == 0 &&
	    pd_rr_int(r->rdata, "type_covered", 0) == (uint32_t)type;
}

static void
ttl_min(uint32_t *ttl, uint32_t v)
{
	if (v < *ttl)
		*ttl = v;
}

/* TTLs of the RRset (owner, type) and of its RRSIGs (RFC 4035 5.3.3). */
static void
rrset_ttl(const struct sect *an, const char *owner, int type, uint32_t *ttl)
{
	size_t i;

	for (i = 0; i < an->n; i++) {
		const struct rec *r = &an->v[i];

		if (r->owner == NULL || r->cls != GETDNS_RRCLASS_IN ||
		    strcmp(r->owner, owner) != 0)
			continue;
		if (r->type == type)
			ttl_min(ttl, r->ttl);
		else if (sig_covers(r, owner, type)) {
			ttl_min(ttl, r->ttl);
			ttl_min(ttl, pd_rr_int(r->rdata, "original_ttl",
			    r->ttl));
		}
	}
}

static enum pd_sec
worse(enum pd_sec a, enum pd_sec b)
{
	static const int rank[] = {
		[PD_SEC_OFF] = 0, [PD_SEC_SECURE] = 1, [PD_SEC_INSECURE] = 2,
		[PD_SEC_INDETERMINATE] = 3, [PD_SEC_BOGUS] = 4
	};

	return rank[b] > rank[a] ? b : a;
}

/*
 * Build the one-reply list getdns_validate_dnssec2 takes for one part.
 * getdns's setters copy deeply, so the message is put into the list empty
 * and filled in place (through the pointers getdns hands back), and the
 * sections likewise: every record is copied once, not three times.
 */
static getdns_list *
mini(getdns_bindata *qname, int qtype, uint32_t rcode, const struct sect *an,
    const char *owner, int type, const struct sect *ns, bool all_ns)
{
	getdns_dict *m, *q, *h, *empty = NULL;
	getdns_list *a, *au, *none = NULL, *tv = NULL;
	size_t i, na = 0, nau = 0;
	bool ok = false;

	if ((empty = getdns_dict_create()) == NULL ||
	    (none = getdns_list_create()) == NULL ||
	    (tv = getdns_list_create()) == NULL ||
	    getdns_list_set_dict(tv, 0, empty) != 0 ||
	    getdns_list_get_dict(tv, 0, &m) != 0 ||
	    getdns_dict_set_dict(m, "header", empty) != 0 ||
	    getdns_dict_set_dict(m, "question", empty) != 0 ||
	    getdns_dict_set_list(m, "answer", none) != 0 ||
	    getdns_dict_set_list(m, "authority", none) != 0 ||
	    getdns_dict_get_dict(m, "header", &h) != 0 ||
	    getdns_dict_get_dict(m, "question", &q) != 0 ||
	    getdns_dict_get_list(m, "answer", &a) != 0 ||
	    getdns_dict_get_list(m, "authority", &au) != 0)
		goto out;
	if (getdns_dict_set_bindata(q, "qname", qname) != 0 ||
	    getdns_dict_set_int(q, "qtype", (uint32_t)qtype) != 0 ||
	    getdns_dict_set_int(q, "qclass", GETDNS_RRCLASS_IN) != 0 ||
	    getdns_dict_set_int(h, "rcode", rcode) != 0 ||
	    getdns_dict_set_int(h, "qr", 1) != 0)
		goto out;
	for (i = 0; owner != NULL && i < an->n; i++) {
		const struct rec *r = &an->v[i];

		if (r->owner == NULL || r->cls != GETDNS_RRCLASS_IN ||
		    !r->sane || strcmp(r->owner, owner) != 0)
			continue;
		if ((r->type == type || sig_covers(r, owner, type)) &&
		    getdns_list_set_dict(a, na++, r->rr) != 0)
			goto out;
	}
	/*
	 * The authority section carries the denial of existence, and for a
	 * wildcard-expanded answer the proof that no closer name exists.
	 * For a positive part only NSEC/NSEC3 and their signatures matter.
	 */
	for (i = 0; i < ns->n; i++) {
		const struct rec *r = &ns->v[i];
		uint32_t cov = pd_rr_int(r->rdata, "type_covered", 0);

		if (r->cls != GETDNS_RRCLASS_IN || !r->sane)
			continue;
		if (!all_ns && r->type != GETDNS_RRTYPE_NSEC &&
		    r->type != GETDNS_RRTYPE_NSEC3 &&
		    !(r->type == GETDNS_RRTYPE_RRSIG &&
		    (cov == GETDNS_RRTYPE_NSEC || cov == GETDNS_RRTYPE_NSEC3)))
			continue;
		if (getdns_list_set_dict(au, nau++, r->rr) != 0)
			goto out;
	}
	ok = true;
out:
	getdns_dict_destroy(empty);
	getdns_list_destroy(none);
	if (!ok) {
		getdns_list_destroy(tv);
		tv = NULL;
	}
	return tv;
}

/* The zone that signed a part: the first covering RRSIG's signer. */
static bool
signer_of(const struct sect *s, const char *owner, int type, char *out)
{
	getdns_bindata *b;
	size_t i;

	for (i = 0; i < s->n; i++) {
		const struct rec *r = &s->v[i];

		if (r->type != GETDNS_RRTYPE_RRSIG || !r->sane ||
		    r->cls != GETDNS_RRCLASS_IN || r->rdata == NULL)
			continue;
		if (owner != NULL && !sig_covers(r, owner, type))
			continue;
		if (getdns_dict_get_bindata(r->rdata, "signers_name", &b) == 0
		    && pd_dname_norm(b, out) >= 0)
			return true;
	}
	return false;
}

/* Validate one part and fold its status into out. */
static void
check_part(const struct pd_reply_in *in, struct pd_reply_out *out,
    getdns_list *tv, const char *owner, const char *signer, bool *failed)
{
	bool need = false;
	enum pd_sec s;

	if (tv == NULL) {
		*failed = true;
		return;
	}
	s = pd_chain_validate(in->chain, tv, owner, signer, in->vchain,
	    in->now, &need);
	getdns_list_destroy(tv);
	out->rr.sec = worse(out->rr.sec, s);
	if (need)
		out->need_chain = true;
}

/* DNAME at an ancestor of cur whose substitution gives target. */
static bool
dname_synth(const struct sect *an, const char *cur, const char *target,
    struct link *lk)
{
	char want[PD_NAME_MAX + 2];
	getdns_bindata *b;
	char tgt[PD_NAME_MAX + 1];
	size_t i, cl = strlen(cur), ol;
	int n;

	for (i = 0; i < an->n; i++) {
		const struct rec *r = &an->v[i];

		if (r->type != GETDNS_RRTYPE_DNAME || r->owner == NULL ||
		    r->cls != GETDNS_RRCLASS_IN || r->rdata == NULL)
			continue;
		ol = strlen(r->owner);
		if (ol >= cl || !pd_dname_under(cur, r->owner))
			continue;
		if (getdns_dict_get_bindata(r->rdata, "target", &b) != 0 ||
		    pd_dname_norm(b, tgt) < 0)
			continue;
		/* cur = prefix + "." + owner; synthesised = prefix + "." +
		 * DNAME target (RFC 6672 section 2.2). */
		n = snprintf(want, sizeof(want), "%.*s%s%s",
		    (int)(cl - ol - (ol ? 1 : 0)), cur, tgt[0] ? "." : "",
		    tgt);
		if (n < 0 || (size_t)n > PD_NAME_MAX)
			continue;
		if (strcmp(want, target) != 0)
			continue;
		lk->via_dname = true;
		lk->rrset = i;
		snprintf(lk->dname_owner, sizeof(lk->dname_owner), "%s",
		    r->owner);
		return true;
	}
	return false;
}

void
pd_reply_process(const getdns_dict *reply, const struct pd_reply_in *in,
    struct pd_reply_out *out)
{
	struct sect an = { 0 }, ns = { 0 };
	struct link chain[PD_DOT_MAX_CHAIN];
	getdns_dict *hdr, *q;
	getdns_bindata *qn, *b, *tb;
	char qname[PD_NAME_MAX + 1];
	char tpool[PD_DOT_MAX_CHAIN][PD_NAME_MAX + 1];
	char signer[PD_NAME_MAX + 1];
	uint32_t rcode, ttl = UINT32_MAX, v;
	size_t i, nfinal = 0, ncname;
	unsigned nchain = 0, k;
	const char *cur;
	bool failed = false, final_found = false;
	int want = in->qtype, ncn;
	const struct rec *cn;
	getdns_list *tv;

	memset(out, 0, sizeof(*out));
	out->rr.asked = true;
	out->rr.sec = in->mode == PD_DNSSEC_OFF ? PD_SEC_OFF : PD_SEC_SECURE;

	if (reply == NULL) {
		bad(out, "no reply");
		goto fail;
	}
	if (getdns_dict_get_dict(reply, "header", &hdr) != 0) {
		bad(out, "reply without a header");
		goto fail;
	}
	if (pd_rr_int(hdr, "qr", 0) != 1 || pd_rr_int(hdr, "opcode", 99) != 0) {
		bad(out, "not a response to a query");
		goto fail;
	}
	if (pd_rr_int(hdr, "tc", 0) != 0) {
		bad(out, "truncated reply");
		goto fail;
	}
	rcode = pd_rr_int(hdr, "rcode", 99);
	if (getdns_dict_get_dict(reply, "question", &q) != 0 ||
	    getdns_dict_get_bindata(q, "qname", &qn) != 0 ||
	    pd_dname_norm(qn, qname) < 0) {
		bad(out, "reply without a usable question");
		goto fail;
	}
	if (strcmp(qname, in->qname) != 0 ||
	    pd_rr_int(q, "qtype", 0) != (uint32_t)want ||
	    pd_rr_int(q, "qclass", 0) != GETDNS_RRCLASS_IN) {
		bad(out, "reply is for %.100s type %u class %u, not the "
		    "question asked", qname, pd_rr_int(q, "qtype", 0),
		    pd_rr_int(q, "qclass", 0));
		goto fail;
	}
	if (rcode != GETDNS_RCODE_NOERROR && rcode != GETDNS_RCODE_NXDOMAIN) {
		/* Nothing to validate: the front treats it as a failure. */
		out->rr.rcode = (int)rcode;
		out->rr.sec = in->mode == PD_DNSSEC_OFF ? PD_SEC_OFF :
		    PD_SEC_INDETERMINATE;
		snprintf(out->detail, sizeof(out->detail),
		    "upstream answered rcode %u", rcode);
		goto done;
	}
	if (!sect_load(reply, "answer", &an) ||
	    !sect_load(reply, "authority", &ns)) {
		bad(out, "answer or authority section unusable");
		goto fail;
	}

	/* Walk the chain from the query name. */
	chain[0].name = in->qname;
	chain[0].wire = qn;
	chain[0].via_dname = false;
	nchain = 1;
	for (;;) {
		cur = chain[nchain - 1].name;
		ncname = 0;
		cn = NULL;
		nfinal = 0;
		for (i = 0; i < an.n; i++) {
			const struct rec *r = &an.v[i];

			if (r->owner == NULL || r->cls != GETDNS_RRCLASS_IN ||
			    strcmp(r->owner, cur) != 0)
				continue;
			if (r->type == want)
				nfinal++;
			else if (r->type == GETDNS_RRTYPE_CNAME) {
				ncname++;
				cn = r;
			}
		}
		if (nfinal > 0 && ncname > 0) {
			bad(out, "%.100s has both a CNAME and data", cur);
			goto fail;
		}
		if (nfinal > 0) {
			final_found = true;
			break;
		}
		if (ncname == 0)
			break;
		if (ncname > 1) {
			bad(out, "%.100s has %zu CNAMEs", cur, ncname);
			goto fail;
		}
		if (nchain == PD_DOT_MAX_CHAIN) {
			bad(out, "CNAME chain longer than %d names",
			    PD_DOT_MAX_CHAIN);
			goto fail;
		}
		if (cn->rdata == NULL ||
		    getdns_dict_get_bindata(cn->rdata, "cname", &tb) != 0 ||
		    (ncn = pd_dname_norm(tb, tpool[nchain])) < 0) {
			bad(out, "CNAME of %.100s has no usable target", cur);
			goto fail;
		}
		for (k = 0; k < nchain; k++)
			if (strcmp(chain[k].name, tpool[nchain]) == 0)
				break;
		if (k < nchain) {
			bad(out, "CNAME loop at %.100s", tpool[nchain]);
			goto fail;
		}
		chain[nchain].name = tpool[nchain];
		chain[nchain].wire = tb;
		chain[nchain].rrset = (size_t)(cn - an.v);
		chain[nchain].via_dname = false;
		/* An unsigned CNAME beside a DNAME that synthesises it is
		 * covered by the DNAME's signature (RFC 6672). */
		if (!signer_of(&an, cur, GETDNS_RRTYPE_CNAME, signer))
			(void)dname_synth(&an, cur, tpool[nchain],
			    &chain[nchain]);
		nchain++;
	}

	/*
	 * Every record of the answer section belongs to the chain: an owner
	 * on it, or a DNAME that synthesised one of its links. An honest
	 * server sends nothing else; anything else (a foreign owner, another
	 * class) is a forgery, not something to skip.
	 */
	for (i = 0; i < an.n; i++) {
		const struct rec *r = &an.v[i];

		if (r->cls != GETDNS_RRCLASS_IN) {
			bad(out, "answer holds a record of class %u", r->cls);
			goto fail;
		}
		for (k = 0; r->owner != NULL && k < nchain; k++)
			if (strcmp(r->owner, chain[k].name) == 0 ||
			    (chain[k].via_dname &&
			    strcmp(r->owner, chain[k].dname_owner) == 0))
				break;
		if (r->owner == NULL || k == nchain) {
			bad(out, "answer holds a record for %.100s, outside "
			    "the CNAME chain",
			    r->owner ? r->owner : "(bad name)");
			goto fail;
		}
	}

	if (final_found && rcode == GETDNS_RCODE_NXDOMAIN) {
		bad(out, "NXDOMAIN with an answer");
		goto fail;
	}
	out->rr.rcode = (int)rcode;
	cur = chain[nchain - 1].name;

	/* TTL: the chain, then the RRset or the negative-caching time. */
	for (k = 1; k < nchain; k++) {
		ttl_min(&ttl, an.v[chain[k].rrset].ttl);
		if (chain[k].via_dname)
			rrset_ttl(&an, chain[k].dname_owner,
			    GETDNS_RRTYPE_DNAME, &ttl);
		else
			rrset_ttl(&an, chain[k - 1].name, GETDNS_RRTYPE_CNAME,
			    &ttl);
	}
	if (final_found) {
		rrset_ttl(&an, cur, want, &ttl);
		for (i = 0; i < an.n; i++) {
			const struct rec *r = &an.v[i];
			size_t alen = want == GETDNS_RRTYPE_A ? 4 : 16;
			struct pd_addr *a;

			if (r->owner == NULL || r->cls != GETDNS_RRCLASS_IN ||
			    r->type != want || strcmp(r->owner, cur) != 0)
				continue;
			if (r->rdata == NULL ||
			    getdns_dict_get_bindata(r->rdata, "rdata_raw",
			    &b) != 0 || b->size != alen) {
				bad(out, "address record of %.100s is not %zu "
				    "octets", cur, alen);
				goto fail;
			}
			if (out->rr.naddrs == PD_MAX_ADDRS) {
				out->rr.truncated = true;
				continue;
			}
			a = &out->rr.addrs[out->rr.naddrs++];
			a->family = want == GETDNS_RRTYPE_A ? AF_INET :
			    AF_INET6;
			memset(a->addr, 0, sizeof(a->addr));
			memcpy(a->addr, b->data, alen);
		}
	} else {
		/* RFC 2308 section 5: the zone's SOA, min(TTL, MINIMUM). */
		for (i = 0; i < ns.n; i++) {
			const struct rec *r = &ns.v[i];

			if (r->type != GETDNS_RRTYPE_SOA || r->owner == NULL ||
			    r->cls != GETDNS_RRCLASS_IN || r->rdata == NULL ||
			    !pd_dname_under(cur, r->owner))
				continue;
			v = pd_rr_int(r->rdata, "minimum", 0);
			ttl_min(&ttl, r->ttl < v ? r->ttl : v);
			break;
		}
		if (i == ns.n)
			ttl = 0;
		/*
		 * The SOA is not validated (the denial is the NSEC or NSEC3
		 * records, one signature check instead of two), so cap the
		 * negative TTL by theirs as well: RFC 9077 makes it equal to
		 * min(SOA TTL, SOA MINIMUM), and their RRSIGs sign the
		 * original TTL.
		 */
		for (i = 0; i < ns.n; i++) {
			const struct rec *r = &ns.v[i];
			uint32_t cov = pd_rr_int(r->rdata, "type_covered", 0);

			if (r->cls != GETDNS_RRCLASS_IN)
				continue;
			if (r->type == GETDNS_RRTYPE_NSEC ||
			    r->type == GETDNS_RRTYPE_NSEC3)
				ttl_min(&ttl, r->ttl);
			else if (r->type == GETDNS_RRTYPE_RRSIG &&
			    (cov == GETDNS_RRTYPE_NSEC ||
			    cov == GETDNS_RRTYPE_NSEC3))
				ttl_min(&ttl, pd_rr_int(r->rdata,
				    "original_ttl", r->ttl));
		}
	}
	out->rr.ttl = ttl == UINT32_MAX ? 0 : ttl;
	for (k = 0; k < nchain; k++)
		snprintf(out->rr.chain[k], sizeof(out->rr.chain[k]), "%s",
		    chain[k].name);
	out->rr.nchain = nchain;

	if (in->mode == PD_DNSSEC_OFF)
		goto done;

	/* Each CNAME (or the DNAME behind it) on its own. */
	for (k = 1; k < nchain && !failed; k++) {
		const char *owner = chain[k].via_dname ?
		    chain[k].dname_owner : chain[k - 1].name;
		int type = chain[k].via_dname ? GETDNS_RRTYPE_DNAME :
		    GETDNS_RRTYPE_CNAME;
		getdns_bindata *w = chain[k].via_dname ?
		    an.v[chain[k].rrset].wire : chain[k - 1].wire;
		bool sig = signer_of(&an, owner, type, signer);

		tv = mini(w, type, GETDNS_RCODE_NOERROR, &an, owner, type, &ns,
		    false);
		check_part(in, out, tv, owner, sig ? signer : NULL, &failed);
	}
	/* The addresses, or the proof that there are none. */
	if (!failed && final_found) {
		bool sig = signer_of(&an, cur, want, signer);

		tv = mini(chain[nchain - 1].wire, want, GETDNS_RCODE_NOERROR,
		    &an, cur, want, &ns, false);
		check_part(in, out, tv, cur, sig ? signer : NULL, &failed);
	} else if (!failed) {
		bool sig = signer_of(&ns, NULL, 0, signer);

		/* Signed: the NSEC/NSEC3 proof alone (see the TTL above);
		 * unsigned: everything, for the insecurity proof. */
		tv = mini(chain[nchain - 1].wire, want, rcode, &an, NULL, 0,
		    &ns, !sig);
		check_part(in, out, tv, cur, sig ? signer : NULL, &failed);
	}
	if (failed) {
		/* Out of memory while building what to validate. */
		out->rr.sec = PD_SEC_BOGUS;
		out->need_chain = false;
		snprintf(out->detail, sizeof(out->detail),
		    "could not validate (out of memory)");
	}
	goto done;

fail:
	out->rr.rcode = GETDNS_RCODE_SERVFAIL;
	out->rr.sec = PD_SEC_BOGUS;
	out->rr.naddrs = 0;
	out->rr.nchain = 0;
	out->rr.ttl = 0;
	out->rr.truncated = false;
	out->need_chain = false;
done:
	sect_free(&an);
	sect_free(&ns);
}

void
pd_reply_response(const getdns_dict *resp, const struct pd_reply_in *in,
    struct pd_reply_out *out)
{
	struct pd_reply_in in2 = *in;
	getdns_list *tree, *vchain;
	getdns_dict *reply;
	size_t n;

	if (resp == NULL || getdns_dict_get_list(resp, "replies_tree",
	    &tree) != 0 || getdns_list_get_length(tree, &n) != 0 || n != 1 ||
	    getdns_list_get_dict(tree, 0, &reply) != 0) {
		pd_reply_process(NULL, in, out);
		snprintf(out->detail, sizeof(out->detail),
		    "response does not hold exactly one reply");
		return;
	}
	if (getdns_dict_get_list(resp, "validation_chain", &vchain) == 0)
		in2.vchain = vchain;
	pd_reply_process(reply, &in2, out);
}

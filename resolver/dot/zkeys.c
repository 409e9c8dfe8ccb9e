/*
 * pindns DoT backend: address RRsets against cached zone keys (zkeys.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <getdns/getdns_extra.h>
#include <ldns/ldns.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "resolver/dot/zkeys.h"

#define DNSKEY_FLAG_ZONE	0x0100
#define DNSKEY_FLAG_REVOKE	0x0080
/* Keys of one zone kept (a zone has two to four in practice). */
#define MAX_KEYS		8
/* Larger address RRsets are left to getdns. */
#define MAX_RRS			64
/* An A, AAAA, DNSKEY or RRSIG record larger than this (its owner and
 * signer are at most 255 octets each) is left to getdns. */
#define RR_WIRE_MAX		2048

struct zkey {
	uint16_t	 tag;
	uint8_t		 alg;
	EVP_PKEY	*pk;
};

struct pd_zkeys {
	size_t		 n;
	struct zkey	 k[MAX_KEYS];
};

/*
 * One record of a getdns reply as an ldns record: getdns writes its wire
 * form, ldns parses it. NULL when either refuses it, it is too large, or
 * the wire holds anything after the record.
 */
static ldns_rr *
to_ldns(const getdns_dict *rr)
{
	uint8_t wire[RR_WIRE_MAX];
	size_t len = sizeof(wire), pos = 0;
	ldns_rr *out = NULL;

	if (rr == NULL || getdns_rr_dict2wire_buf(rr, wire, &len) !=
	    GETDNS_RETURN_GOOD || len > sizeof(wire))
		return NULL;
	if (ldns_wire2rr(&out, wire, len, &pos, LDNS_SECTION_ANSWER) !=
	    LDNS_STATUS_OK || pos != len || out == NULL ||
	    ldns_rr_get_class(out) != LDNS_RR_CLASS_IN) {
		ldns_rr_free(out);
		return NULL;
	}
	return out;
}

static bool
rdf_u8(const ldns_rdf *f, uint8_t *v)
{
	if (f == NULL || ldns_rdf_size(f) != 1)
		return false;
	*v = ldns_rdf2native_int8(f);
	return true;
}

static bool
rdf_u16(const ldns_rdf *f, uint16_t *v)
{
	if (f == NULL || ldns_rdf_size(f) != 2)
		return false;
	*v = ldns_rdf2native_int16(f);
	return true;
}

static bool
rdf_u32(const ldns_rdf *f, uint32_t *v)
{
	if (f == NULL || ldns_rdf_size(f) != 4)
		return false;
	*v = ldns_rdf2native_int32(f);
	return true;
}

static bool
alg_ok(uint8_t alg)
{
	return alg == LDNS_ECDSAP256SHA256 || alg == LDNS_ECDSAP384SHA384;
}

/* A zone key of a usable algorithm as an OpenSSL key (ldns checks the
 * key's length and that the point is on the curve). */
static bool
key_of(const ldns_rr *r, struct zkey *z)
{
	const ldns_rdf *key = ldns_rr_dnskey_key(r);
	uint16_t flags;
	uint8_t proto, alg;

	if (ldns_rr_get_type(r) != LDNS_RR_TYPE_DNSKEY ||
	    !rdf_u16(ldns_rr_dnskey_flags(r), &flags) ||
	    !rdf_u8(ldns_rr_dnskey_protocol(r), &proto) ||
	    !rdf_u8(ldns_rr_dnskey_algorithm(r), &alg) || key == NULL)
		return false;
	if ((flags & DNSKEY_FLAG_ZONE) == 0 || (flags & DNSKEY_FLAG_REVOKE) !=
	    0 || proto != LDNS_DNSSEC_KEYPROTO || !alg_ok(alg))
		return false;
	if ((z->pk = ldns_ecdsa2pkey_raw(ldns_rdf_data(key),
	    ldns_rdf_size(key), alg)) == NULL)
		return false;
	z->alg = alg;
	z->tag = ldns_calc_keytag(r);
	return true;
}

struct pd_zkeys *
pd_zkeys_new(const getdns_list *keys)
{
	struct pd_zkeys *k;
	getdns_dict *rr;
	ldns_rr *r;
	size_t i, n;

	if (keys == NULL || getdns_list_get_length(keys, &n) != 0 ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	ERR_set_mark();
	for (i = 0; i < n && k->n < MAX_KEYS; i++) {
		if (getdns_list_get_dict(keys, i, &rr) != 0 ||
		    (r = to_ldns(rr)) == NULL)
			continue;
		if (key_of(r, &k->k[k->n]))
			k->n++;
		ldns_rr_free(r);
	}
	/* What failed is answered by getdns later, not reported here. */
	ERR_pop_to_mark();
	if (k->n == 0) {
		free(k);
		return NULL;
	}
	return k;
}

void
pd_zkeys_free(struct pd_zkeys *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		EVP_PKEY_free(k->k[i].pk);
	free(k);
}

/* The RRset owner/type and the RRSIGs over it, as ldns records. */
struct rrset {
	ldns_rdf	*owner;
	ldns_rr_type	 type;
	ldns_rr_list	*rrs;
	ldns_rr_list	*sigs;
};

/* Gather the RRset and its signatures from the answer section; false
 * when the section holds anything else or anything unusual. */
static bool
gather(const getdns_list *answer, struct rrset *s)
{
	getdns_dict *d;
	ldns_rr *r;
	ldns_rdf *cov;
	ldns_rr_type t;
	size_t i, n;
	bool ok;

	if (getdns_list_get_length(answer, &n) != 0 || n == 0 ||
	    n > 2 * MAX_RRS)
		return false;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(answer, i, &d) != 0 ||
		    (r = to_ldns(d)) == NULL)
			return false;
		t = ldns_rr_get_type(r);
		cov = t == LDNS_RR_TYPE_RRSIG ? ldns_rr_rrsig_typecovered(r) :
		    NULL;
		/* The owner asked for, never a wildcard owner (an expansion
		 * carries the query name; a literal "*" owner is getdns's). */
		ok = ldns_dname_compare(ldns_rr_owner(r), s->owner) == 0 &&
		    !ldns_dname_is_wildcard(ldns_rr_owner(r));
		if (ok && t == s->type)
			ok = ldns_rr_list_rr_count(s->rrs) < MAX_RRS &&
			    ldns_rr_list_push_rr(s->rrs, r);
		else if (ok && t == LDNS_RR_TYPE_RRSIG)
			ok = cov != NULL && ldns_rdf_size(cov) == 2 &&
			    ldns_rdf2rr_type(cov) == s->type &&
			    ldns_rr_list_push_rr(s->sigs, r);
		else
			ok = false;
		if (!ok) {
			ldns_rr_free(r);
			return false;
		}
	}
	return ldns_rr_list_rr_count(s->rrs) > 0 &&
	    ldns_rr_list_rr_count(s->sigs) > 0;
}

/* The records of sorted that differ from the one before (RFC 4034 section
 * 6.3: an RRset holds no duplicates); a list that does not own them. */
static ldns_rr_list *
unique(const ldns_rr_list *sorted)
{
	ldns_rr_list *u;
	size_t i;

	if ((u = ldns_rr_list_new()) == NULL)
		return NULL;
	for (i = 0; i < ldns_rr_list_rr_count(sorted); i++)
		if ((i == 0 || ldns_rr_compare(ldns_rr_list_rr(sorted, i - 1),
		    ldns_rr_list_rr(sorted, i)) != 0) &&
		    !ldns_rr_list_push_rr(u, ldns_rr_list_rr(sorted, i))) {
			ldns_rr_list_free(u);
			return NULL;
		}
	return u;
}

/*
 * One RRSIG over s: its fields checked here, then ldns writes the signing
 * input (RFC 4034 section 3.1.8.1: the RRSIG rdata without the signature,
 * then the RRset in canonical form and order with the original TTL and
 * without duplicates, as ldns's own verifier prepares it) and the DER signature, and checks them
 * with each cached key the RRSIG names.
 */
static bool
try_sig(const struct pd_zkeys *k, const ldns_rdf *signer,
    const struct rrset *s, const ldns_rr *sig, time_t now)
{
	ldns_buffer *in = NULL, *der = NULL;
	ldns_rr_list *set = NULL, *uniq = NULL;
	uint32_t ottl, exp, inc, now32 = (uint32_t)now;
	uint16_t tag;
	uint8_t alg, labels;
	size_t i;
	bool ok = false;

	if (!rdf_u8(ldns_rr_rrsig_algorithm(sig), &alg) || !alg_ok(alg) ||
	    !rdf_u8(ldns_rr_rrsig_labels(sig), &labels) ||
	    !rdf_u32(ldns_rr_rrsig_origttl(sig), &ottl) ||
	    !rdf_u32(ldns_rr_rrsig_expiration(sig), &exp) ||
	    !rdf_u32(ldns_rr_rrsig_inception(sig), &inc) ||
	    !rdf_u16(ldns_rr_rrsig_keytag(sig), &tag) ||
	    ldns_rr_rrsig_signame(sig) == NULL ||
	    ldns_rr_rrsig_sig(sig) == NULL || ottl > INT32_MAX)
		return false;
	/* A wildcard expansion needs its denial checked too: getdns's. */
	if (labels != ldns_dname_label_count(s->owner))
		return false;
	/* Within the validity period (RFC 4034 section 3.1.5, serial
	 * arithmetic), with none of the skew getdns allows: closer calls
	 * are getdns's. */
	if ((int32_t)(now32 - inc) < 0 || (int32_t)(exp - now32) < 0)
		return false;
	if (ldns_dname_compare(ldns_rr_rrsig_signame(sig), signer) != 0)
		return false;
	for (i = 0; i < k->n; i++)
		if (k->k[i].tag == tag && k->k[i].alg == alg)
			break;
	if (i == k->n)
		return false;

	if ((set = ldns_rr_list_clone(s->rrs)) == NULL ||
	    (in = ldns_buffer_new(LDNS_MIN_BUFLEN)) == NULL ||
	    (der = ldns_buffer_new(LDNS_MIN_BUFLEN)) == NULL)
		goto out;
	for (i = 0; i < ldns_rr_list_rr_count(set); i++) {
		ldns_rr_set_ttl(ldns_rr_list_rr(set, i), ottl);
		ldns_rr2canonical(ldns_rr_list_rr(set, i));
	}
	ldns_rr_list_sort(set);
	if ((uniq = unique(set)) == NULL ||
	    ldns_rrsig2buffer_wire(in, sig) != LDNS_STATUS_OK ||
	    ldns_rr_list2buffer_wire(in, uniq) != LDNS_STATUS_OK ||
	    ldns_convert_ecdsa_rrsig_rdf2asn1(der, ldns_rr_rrsig_sig(sig)) !=
	    LDNS_STATUS_OK)
		goto out;
	for (i = 0; i < k->n && !ok; i++) {
		if (k->k[i].tag != tag || k->k[i].alg != alg)
			continue;
		ok = ldns_verify_rrsig_evp(der, in, k->k[i].pk,
		    alg == LDNS_ECDSAP256SHA256 ? EVP_sha256() :
		    EVP_sha384()) == LDNS_STATUS_OK;
	}
out:
	ldns_buffer_free(der);
	ldns_buffer_free(in);
	ldns_rr_list_free(uniq);
	ldns_rr_list_deep_free(set);
	return ok;
}

bool
pd_zkeys_verify(const struct pd_zkeys *k, const char *signer,
    const getdns_list *tv, const char *owner, time_t now)
{
	struct rrset s = { 0 };
	getdns_dict *reply, *q;
	getdns_list *answer;
	ldns_rdf *sname = NULL;
	uint32_t qtype;
	size_t i;
	bool ok = false;

	if (k == NULL || tv == NULL || signer == NULL || owner == NULL ||
	    getdns_list_get_dict(tv, 0, &reply) != 0 ||
	    getdns_dict_get_dict(reply, "question", &q) != 0 ||
	    getdns_dict_get_int(q, "qtype", &qtype) != 0 ||
	    getdns_dict_get_list(reply, "answer", &answer) != 0)
		return false;
	if (qtype != GETDNS_RRTYPE_A && qtype != GETDNS_RRTYPE_AAAA)
		return false;
	s.type = (ldns_rr_type)qtype;
	ERR_set_mark();
	if ((s.owner = ldns_dname_new_frm_str(owner)) == NULL ||
	    (sname = ldns_dname_new_frm_str(signer)) == NULL ||
	    (s.rrs = ldns_rr_list_new()) == NULL ||
	    (s.sigs = ldns_rr_list_new()) == NULL || !gather(answer, &s))
		goto out;
	for (i = 0; i < ldns_rr_list_rr_count(s.sigs) && !ok; i++)
		ok = try_sig(k, sname, &s, ldns_rr_list_rr(s.sigs, i), now);
out:
	/* A signature that did not verify leaves OpenSSL errors behind; the
	 * calling thread may be the application's own. */
	ERR_pop_to_mark();
	ldns_rr_list_deep_free(s.sigs);
	ldns_rr_list_deep_free(s.rrs);
	ldns_rdf_deep_free(sname);
	ldns_rdf_deep_free(s.owner);
	return ok;
}

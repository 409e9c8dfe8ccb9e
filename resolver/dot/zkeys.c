/*
 * pindns DoT backend: address RRsets against cached zone keys (zkeys.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "policy/policy.h"
#include "resolver/dot/names.h"
#include "resolver/dot/rr.h"
#include "resolver/dot/zkeys.h"

#define DNSKEY_FLAG_ZONE	0x0100
#define DNSKEY_FLAG_REVOKE	0x0080
#define DNSKEY_PROTOCOL		3
#define ALG_ECDSAP256SHA256	13
#define ALG_ECDSAP384SHA384	14
/* Keys of one zone kept (a zone has two to four in practice). */
#define MAX_KEYS		8
/* Larger address RRsets are left to getdns. */
#define MAX_RRS			64
#define WIRE_NAME_MAX		255

struct zkey {
	uint16_t	 tag;
	uint8_t		 alg;
	EVP_PKEY	*pk;
};

struct pd_zkeys {
	size_t		 n;
	struct zkey	 k[MAX_KEYS];
};

static getdns_bindata *
dict_bin(const getdns_dict *d, const char *key)
{
	getdns_bindata *b;

	if (d == NULL || getdns_dict_get_bindata(d, key, &b) != 0 ||
	    b == NULL || (b->size > 0 && b->data == NULL))
		return NULL;
	return b;
}

/* RFC 4034 appendix B, over the DNSKEY rdata in wire form. */
static uint16_t
key_tag(const uint8_t *rd, size_t len)
{
	uint32_t ac = 0;
	size_t i;

	for (i = 0; i < len; i++)
		ac += (i & 1) ? rd[i] : (uint32_t)rd[i] << 8;
	ac += (ac >> 16) & 0xffff;
	return (uint16_t)(ac & 0xffff);
}

/* The DNSKEY's public key (x || y, RFC 6605) as an OpenSSL key. */
static EVP_PKEY *
ec_key(uint8_t alg, const getdns_bindata *pub)
{
	const char *group = alg == ALG_ECDSAP256SHA256 ? "prime256v1" :
	    "secp384r1";
	size_t want = alg == ALG_ECDSAP256SHA256 ? 64 : 96;
	uint8_t point[1 + 96];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;

	if (pub->size != want)
		return NULL;
	point[0] = 0x04;	/* uncompressed */
	memcpy(point + 1, pub->data, want);
	params[0] = OSSL_PARAM_construct_utf8_string(
	    OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
	    OSSL_PKEY_PARAM_PUB_KEY, point, want + 1);
	params[2] = OSSL_PARAM_construct_end();
	/* fromdata checks that the point is on the curve. */
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

struct pd_zkeys *
pd_zkeys_new(const getdns_list *keys)
{
	struct pd_zkeys *k;
	getdns_dict *rr, *rd;
	getdns_bindata *raw, *pub;
	uint32_t flags, alg;
	size_t i, n;

	if (keys == NULL || getdns_list_get_length(keys, &n) != 0 ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	ERR_set_mark();
	for (i = 0; i < n && k->n < MAX_KEYS; i++) {
		if (getdns_list_get_dict(keys, i, &rr) != 0 ||
		    pd_rr_int(rr, "type", 0) != GETDNS_RRTYPE_DNSKEY ||
		    getdns_dict_get_dict(rr, "rdata", &rd) != 0 ||
		    (raw = dict_bin(rd, "rdata_raw")) == NULL ||
		    (pub = dict_bin(rd, "public_key")) == NULL)
			continue;
		flags = pd_rr_int(rd, "flags", 0);
		alg = pd_rr_int(rd, "algorithm", 0);
		if ((flags & DNSKEY_FLAG_ZONE) == 0 ||
		    (flags & DNSKEY_FLAG_REVOKE) != 0 ||
		    pd_rr_int(rd, "protocol", 0) != DNSKEY_PROTOCOL ||
		    (alg != ALG_ECDSAP256SHA256 && alg != ALG_ECDSAP384SHA384))
			continue;
		if ((k->k[k->n].pk = ec_key((uint8_t)alg, pub)) == NULL)
			continue;
		k->k[k->n].alg = (uint8_t)alg;
		k->k[k->n].tag = key_tag(raw->data, raw->size);
		k->n++;
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

/*
 * A wire-format name in canonical form (RFC 4034 section 6.2: letters
 * lower-cased) into out (WIRE_NAME_MAX bytes); its length, or 0 when it
 * is not one uncompressed name. *labels: its labels, the root excluded;
 * *wild: the first label is "*".
 */
static size_t
canon_name(const getdns_bindata *b, uint8_t *out, unsigned *labels,
    bool *wild)
{
	size_t pos = 0, i, len;

	*labels = 0;
	*wild = false;
	if (b == NULL || b->size == 0 || b->size > WIRE_NAME_MAX)
		return 0;
	for (;;) {
		len = b->data[pos];
		if (len == 0)
			break;
		if (len > 63 || pos + 1 + len >= b->size)
			return 0;
		if (*labels == 0 && len == 1 && b->data[pos + 1] == '*')
			*wild = true;
		out[pos] = (uint8_t)len;
		for (i = pos + 1; i <= pos + len; i++)
			out[i] = b->data[i] >= 'A' && b->data[i] <= 'Z' ?
			    (uint8_t)(b->data[i] - 'A' + 'a') : b->data[i];
		pos += 1 + len;
		(*labels)++;
	}
	if (pos != b->size - 1)
		return 0;
	out[pos] = 0;
	return pos + 1;
}

static uint8_t *
put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
	p = put16(p, v >> 16);
	return put16(p, v & 0xffff);
}

static int
rd_cmp4(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b,
	    4);
}

static int
rd_cmp16(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b,
	    16);
}

/* One RRset: its owner in canonical form, its rdata sorted and unique. */
struct rrset {
	uint8_t		 owner[WIRE_NAME_MAX];
	size_t		 olen;
	unsigned	 labels;
	uint16_t	 type;
	size_t		 rdlen;
	const uint8_t	*rd[MAX_RRS];
	size_t		 n;
	getdns_dict	*sigs[MAX_RRS];
	size_t		 nsigs;
};

/* Gather the RRset and its signatures from the answer section; false
 * when the section holds anything else or anything unusual. */
static bool
gather(const getdns_list *answer, const char *owner, struct rrset *s)
{
	uint8_t name[WIRE_NAME_MAX];
	char norm[PD_NAME_MAX + 1];
	getdns_dict *rr, *rd;
	getdns_bindata *b, *raw;
	size_t i, n, len, k, w;
	unsigned labels;
	bool wild;
	uint32_t type;

	if (getdns_list_get_length(answer, &n) != 0 || n == 0 ||
	    n > 2 * MAX_RRS)
		return false;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(answer, i, &rr) != 0 ||
		    pd_rr_int(rr, "class", 0) != GETDNS_RRCLASS_IN ||
		    getdns_dict_get_dict(rr, "rdata", &rd) != 0 ||
		    (b = dict_bin(rr, "name")) == NULL ||
		    (len = canon_name(b, name, &labels, &wild)) == 0 || wild)
			return false;
		if (s->olen == 0) {
			if (pd_dname_norm(b, norm) < 0 ||
			    strcmp(norm, owner) != 0)
				return false;
			memcpy(s->owner, name, len);
			s->olen = len;
			s->labels = labels;
		} else if (len != s->olen || memcmp(name, s->owner, len) != 0)
			return false;
		type = pd_rr_int(rr, "type", 0);
		if (type == GETDNS_RRTYPE_RRSIG) {
			if (pd_rr_int(rd, "type_covered", 0) != s->type ||
			    s->nsigs == MAX_RRS)
				return false;
			s->sigs[s->nsigs++] = rd;
			continue;
		}
		if (type != s->type || s->n == MAX_RRS ||
		    (raw = dict_bin(rd, "rdata_raw")) == NULL ||
		    raw->size != s->rdlen)
			return false;
		s->rd[s->n++] = raw->data;
	}
	if (s->n == 0 || s->nsigs == 0)
		return false;
	/* RFC 4034 section 6.3: canonical order, duplicates removed. */
	qsort(s->rd, s->n, sizeof(s->rd[0]), s->rdlen == 4 ? rd_cmp4 :
	    rd_cmp16);
	for (k = 1, w = 1; k < s->n; k++)
		if (memcmp(s->rd[k], s->rd[w - 1], s->rdlen) != 0)
			s->rd[w++] = s->rd[k];
	s->n = w;
	return true;
}

/* DNSSEC's r || s signature as the DER OpenSSL verifies; its length or
 * 0. */
static int
sig_der(const getdns_bindata *sig, size_t half, uint8_t *der, size_t max)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = der;
	int len = 0;

	if (sig->size != 2 * half || (es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(sig->data, (int)half, NULL)) == NULL ||
	    (s = BN_bin2bn(sig->data + half, (int)half, NULL)) == NULL)
		goto out;
	if (ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL;		/* es owns them */
	len = i2d_ECDSA_SIG(es, NULL);
	if (len <= 0 || (size_t)len > max)
		len = 0;
	else
		len = i2d_ECDSA_SIG(es, &p);
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return len > 0 ? len : 0;
}

static bool
check(const struct zkey *key, const uint8_t *data, size_t len,
    const uint8_t *der, size_t derlen)
{
	EVP_MD_CTX *mc;
	bool ok;

	if ((mc = EVP_MD_CTX_new()) == NULL)
		return false;
	ok = EVP_DigestVerifyInit(mc, NULL, key->alg == ALG_ECDSAP256SHA256 ?
	    EVP_sha256() : EVP_sha384(), NULL, key->pk) == 1 &&
	    EVP_DigestVerify(mc, der, derlen, data, len) == 1;
	EVP_MD_CTX_free(mc);
	return ok;
}

/*
 * One RRSIG over s: its fields, the signing input (RFC 4034 section
 * 3.1.8.1: the RRSIG rdata without the signature, then every record in
 * canonical form with the original TTL), then each cached key it names.
 */
static bool
try_sig(const struct pd_zkeys *k, const char *signer, const struct rrset *s,
    const getdns_dict *rd, uint8_t *buf, time_t now)
{
	uint8_t sname[WIRE_NAME_MAX], der[160], *p = buf;
	char norm[PD_NAME_MAX + 1];
	getdns_bindata *sb, *sig;
	uint32_t alg, labels, ottl, exp, inc, tag, now32 = (uint32_t)now;
	size_t slen, i;
	unsigned sl;
	bool wild;
	int derlen = 0;

	alg = pd_rr_int(rd, "algorithm", 0);
	labels = pd_rr_int(rd, "labels", 256);
	ottl = pd_rr_int(rd, "original_ttl", 0);
	exp = pd_rr_int(rd, "signature_expiration", 0);
	inc = pd_rr_int(rd, "signature_inception", 0);
	tag = pd_rr_int(rd, "key_tag", 65536);
	if ((alg != ALG_ECDSAP256SHA256 && alg != ALG_ECDSAP384SHA384) ||
	    tag > 0xffff || ottl > INT32_MAX)
		return false;
	/* A wildcard expansion needs its denial checked too: getdns's. */
	if (labels != s->labels)
		return false;
	/* Within the validity period (RFC 4034 section 3.1.5, serial
	 * arithmetic), with none of the skew getdns allows: closer calls
	 * are getdns's. */
	if ((int32_t)(now32 - inc) < 0 || (int32_t)(exp - now32) < 0)
		return false;
	if ((sb = dict_bin(rd, "signers_name")) == NULL ||
	    (sig = dict_bin(rd, "signature")) == NULL ||
	    (slen = canon_name(sb, sname, &sl, &wild)) == 0 ||
	    pd_dname_norm(sb, norm) < 0 || strcmp(norm, signer) != 0)
		return false;
	p = put16(p, s->type);
	*p++ = (uint8_t)alg;
	*p++ = (uint8_t)labels;
	p = put32(p, ottl);
	p = put32(p, exp);
	p = put32(p, inc);
	p = put16(p, tag);
	memcpy(p, sname, slen);
	p += slen;
	for (i = 0; i < s->n; i++) {
		memcpy(p, s->owner, s->olen);
		p += s->olen;
		p = put16(p, s->type);
		p = put16(p, GETDNS_RRCLASS_IN);
		p = put32(p, ottl);
		p = put16(p, (uint32_t)s->rdlen);
		memcpy(p, s->rd[i], s->rdlen);
		p += s->rdlen;
	}
	for (i = 0; i < k->n; i++) {
		if (k->k[i].tag != tag || k->k[i].alg != alg)
			continue;
		if (derlen == 0 && (derlen = sig_der(sig, alg ==
		    ALG_ECDSAP256SHA256 ? 32 : 48, der, sizeof(der))) == 0)
			return false;
		if (check(&k->k[i], buf, (size_t)(p - buf), der,
		    (size_t)derlen))
			return true;
	}
	return false;
}

bool
pd_zkeys_verify(const struct pd_zkeys *k, const char *signer,
    const getdns_list *tv, const char *owner, time_t now)
{
	struct rrset *s = NULL;
	getdns_dict *reply, *q;
	getdns_list *answer;
	uint8_t *buf = NULL;
	uint32_t qtype;
	size_t i;
	bool ok = false;

	if (k == NULL || tv == NULL ||
	    getdns_list_get_dict(tv, 0, &reply) != 0 ||
	    getdns_dict_get_dict(reply, "question", &q) != 0 ||
	    getdns_dict_get_list(reply, "answer", &answer) != 0)
		return false;
	qtype = pd_rr_int(q, "qtype", 0);
	if (qtype != GETDNS_RRTYPE_A && qtype != GETDNS_RRTYPE_AAAA)
		return false;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return false;
	s->type = (uint16_t)qtype;
	s->rdlen = qtype == GETDNS_RRTYPE_A ? 4 : 16;
	ERR_set_mark();
	if (!gather(answer, owner, s))
		goto out;
	/* The RRSIG part, then per record: owner, 10 octets, rdata. */
	if ((buf = malloc(18 + WIRE_NAME_MAX + s->n * (s->olen + 10 +
	    s->rdlen))) == NULL)
		goto out;
	for (i = 0; i < s->nsigs && !ok; i++)
		ok = try_sig(k, signer, s, s->sigs[i], buf, now);
out:
	/* A signature that did not verify leaves OpenSSL errors behind; the
	 * calling thread may be the application's own. */
	ERR_pop_to_mark();
	free(buf);
	free(s);
	return ok;
}

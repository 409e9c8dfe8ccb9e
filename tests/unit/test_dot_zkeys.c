/*
 * Address RRsets checked against cached zone keys without getdns
 * (resolver/dot/zkeys.h), on the records of the lab's signed zone
 * (signed by ldns-signzone, not by anything of ours): it says yes to an
 * RRset its zone signed, and no (leaving the decision to getdns) to
 * anything changed, dropped, out of time, signed by another key, or
 * that it does not handle.
 */
/* tags: lab */
/* timeout: 60 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <getdns/getdns_extra.h>
#include <ldns/ldns.h>

#include "resolver/dot/zkeys.h"
#include "tests/unit/lab.h"
#include "tests/unit/tap.h"

#define ZONE	"amazonaws.com"
#define MAXR	64

/* The records of the signed zone the tests use, parsed by getdns. */
static getdns_dict *recs[MAXR];
static char *texts[MAXR];
static size_t nrecs;

static const char *const wanted[] = {
	"amazonaws.com.\t", "dynamodb.eu-west-1.amazonaws.com.\t",
	"dynamodb.us-west-1.amazonaws.com.\t", "*.bench.amazonaws.com.\t",
	NULL
};

static bool
load_zone(void)
{
	char path[PD_LAB_PATH + 32], line[4096], *slash;
	FILE *f;
	size_t i;

	snprintf(path, sizeof(path), "%s", pd_lab("LAB_TA_DS"));
	if ((slash = strrchr(path, '/')) == NULL)
		return false;
	snprintf(slash, sizeof(path) - (size_t)(slash - path),
	    "/" ZONE ".signed");
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL && nrecs < MAXR) {
		for (i = 0; wanted[i] != NULL; i++)
			if (strncmp(line, wanted[i], strlen(wanted[i])) == 0)
				break;
		if (wanted[i] == NULL)
			continue;
		line[strcspn(line, ";\n")] = '\0';
		if (getdns_str2rr_dict(line, &recs[nrecs], NULL, 300) != 0)
			continue;
		texts[nrecs++] = strdup(line);
	}
	fclose(f);
	return nrecs > 0;
}

/* The index of the n-th record (0-based) whose text starts with owner
 * and whose type and rdata start with what ("A", "RRSIG\tA", "DNSKEY\t256");
 * nrecs when there is none. */
static size_t
rec_i(const char *owner, const char *what, size_t n)
{
	size_t i, ol = strlen(owner), wl = strlen(what);
	const char *p;

	for (i = 0; i < nrecs; i++) {
		if (strncmp(texts[i], owner, ol) != 0 ||
		    strncmp(texts[i] + ol, ".\t", 2) != 0 ||
		    (p = strstr(texts[i], "\tIN\t")) == NULL ||
		    strncmp(p + 4, what, wl) != 0 ||
		    (p[4 + wl] != '\t' && p[4 + wl] != ' '))
			continue;
		if (n-- == 0)
			return i;
	}
	return nrecs;
}

static getdns_dict *
rec_n(const char *owner, const char *what, size_t n)
{
	size_t i = rec_i(owner, what, n);

	return i < nrecs ? recs[i] : NULL;
}

static getdns_dict *
rec(const char *owner, const char *what)
{
	return rec_n(owner, what, 0);
}

/* The list chain.c hands over: one reply, question and answer. */
static getdns_list *
tv(const char *qname, uint32_t qtype, getdns_dict **rrs, size_t n)
{
	getdns_list *l = getdns_list_create(), *an = getdns_list_create();
	getdns_dict *m = getdns_dict_create(), *q = getdns_dict_create();
	getdns_bindata *wire = NULL;
	size_t i;

	if (getdns_convert_fqdn_to_dns_name(qname, &wire) == 0) {
		getdns_dict_set_bindata(q, "qname", wire);
		free(wire->data);
		free(wire);
	}
	getdns_dict_set_int(q, "qtype", qtype);
	getdns_dict_set_int(q, "qclass", GETDNS_RRCLASS_IN);
	getdns_dict_set_dict(m, "question", q);
	for (i = 0; i < n; i++)
		getdns_list_set_dict(an, i, rrs[i]);
	getdns_dict_set_list(m, "answer", an);
	getdns_list_set_dict(l, 0, m);
	getdns_dict_destroy(q);
	getdns_dict_destroy(m);
	getdns_list_destroy(an);
	return l;
}

static struct pd_zkeys *keys;	/* the zone's ZSK and KSK */
static time_t when;		/* inside the signatures' validity */

static bool
verify(const char *owner, uint32_t qtype, getdns_dict **rrs, size_t n,
    const char *signer, time_t now)
{
	getdns_list *l = tv(owner, qtype, rrs, n);
	bool ok = pd_zkeys_verify(keys, signer, l, owner, now);

	getdns_list_destroy(l);
	return ok;
}

/* A copy of rr with one int of its own (not of its rdata) set. */
static getdns_dict *
with_int(getdns_dict *rr, const char *key, uint32_t v)
{
	getdns_dict *c = getdns_dict_create(), *rd;

	getdns_dict_set_dict(c, "r", rr);
	getdns_dict_get_dict(c, "r", &rd);
	getdns_dict_set_int(rd, key, v);
	return c;
}

static getdns_dict *
inner(getdns_dict *c)
{
	getdns_dict *rd;

	getdns_dict_get_dict(c, "r", &rd);
	return rd;
}

/* rr as text with its owner or rdata replaced, parsed again. */
static getdns_dict *
parsed(const char *text)
{
	getdns_dict *rr = NULL;

	if (getdns_str2rr_dict(text, &rr, NULL, 300) != 0)
		printf("# cannot parse %s\n", text);
	return rr;
}

static void
t_keys(void)
{
	getdns_list *l = getdns_list_create();
	getdns_dict *zsk = rec(ZONE, "DNSKEY\t256"), *ksk = rec(ZONE,
	    "DNSKEY\t257"), *sig = rec("dynamodb.eu-west-1." ZONE, "RRSIG\tA");
	getdns_dict *bad;
	uint32_t inc = 0, exp = 0;
	getdns_dict *rd;
	struct pd_zkeys *k;

	T_OK(zsk != NULL && ksk != NULL && sig != NULL, "keys: the zone's "
	    "ZSK, KSK and an RRSIG are in the signed zone");
	if (zsk == NULL || ksk == NULL || sig == NULL)
		return;
	getdns_list_set_dict(l, 0, zsk);
	getdns_list_set_dict(l, 1, ksk);
	keys = pd_zkeys_new(l);
	T_OK(keys != NULL, "keys: made from the DNSKEY RRset");
	getdns_list_destroy(l);
	getdns_dict_get_dict(sig, "rdata", &rd);
	getdns_dict_get_int(rd, "signature_inception", &inc);
	getdns_dict_get_int(rd, "signature_expiration", &exp);
	when = (time_t)inc + ((time_t)exp - (time_t)inc) / 2;

	/* A point that is not on the curve makes no key. */
	bad = parsed("amazonaws.com. 300 IN DNSKEY 256 3 13 AAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAAAA==");
	l = getdns_list_create();
	getdns_list_set_dict(l, 0, bad);
	k = pd_zkeys_new(l);
	T_OK(k == NULL, "keys: a point off the curve is no key");
	pd_zkeys_free(k);
	getdns_list_destroy(l);
	getdns_dict_destroy(bad);

	/* Only the KSK: the ZSK signed the data, so no. */
	l = getdns_list_create();
	getdns_list_set_dict(l, 0, ksk);
	k = pd_zkeys_new(l);
	getdns_list_destroy(l);
	{
		getdns_dict *rrs[2] = { rec("dynamodb.eu-west-1." ZONE,
		    "A"), sig };
		getdns_list *t = tv("dynamodb.eu-west-1." ZONE,
		    GETDNS_RRTYPE_A, rrs, 2);

		T_OK(k != NULL && !pd_zkeys_verify(k, ZONE, t,
		    "dynamodb.eu-west-1." ZONE, when), "keys: the KSK alone "
		    "does not prove what the ZSK signed");
		getdns_list_destroy(t);
	}
	pd_zkeys_free(k);
	pd_zkeys_free(NULL);
}

/*
 * RRSIG fields changed in the zone file's text, each enough to say no:
 * the field's place after "RRSIG\t" (type covered, algorithm, labels,
 * original TTL, expiration, inception, key tag, signer, signature) and
 * its new text; NULL for the key tag is the KSK's.
 */
static const struct {
	int		 field;
	const char	*v;
	const char	*what;
} changes[] = {
	{ 2, "3", "labels" },
	{ 6, NULL, "key tag (the KSK's)" },
	{ 1, "8", "algorithm" },
	{ 3, "3600", "original TTL" },
	{ 0, "AAAA", "type covered" },
};

/* The RRSIG record text t with rdata field f replaced by v, parsed by
 * getdns (so its wire form and its fields agree, as in a reply). */
static getdns_dict *
sig_with(const char *t, int f, const char *v)
{
	char out[4096];
	const char *p = strstr(t, "\tRRSIG\t"), *e;
	size_t n;
	int i;

	if (p == NULL)
		return NULL;
	p += strlen("\tRRSIG\t");
	for (i = 0; i < f && p != NULL; i++)
		if ((p = strchr(p, ' ')) != NULL)
			p++;
	if (p == NULL)
		return NULL;
	e = p + strcspn(p, " ");
	n = (size_t)(p - t);
	if ((size_t)snprintf(out, sizeof(out), "%.*s%s%s", (int)n, t, v, e) >=
	    sizeof(out))
		return NULL;
	return parsed(out);
}

/* The key tag of the zone's KSK, by ldns, as text. */
static bool
ksk_tag(char *out, size_t len)
{
	size_t i = rec_i(ZONE, "DNSKEY\t257", 0);
	ldns_rr *r = NULL;

	if (i == nrecs || ldns_rr_new_frm_str(&r, texts[i], 0, NULL, NULL) !=
	    LDNS_STATUS_OK)
		return false;
	snprintf(out, len, "%u", (unsigned)ldns_calc_keytag(r));
	ldns_rr_free(r);
	return true;
}

#define EW	"dynamodb.eu-west-1." ZONE
#define UW	"dynamodb.us-west-1." ZONE

static void
t_verify(void)
{
	getdns_dict *a = rec(EW, "A"), *sa = rec(EW, "RRSIG\tA");
	getdns_dict *aaaa = rec(EW, "AAAA"), *saaaa = rec(EW, "RRSIG\tAAAA");
	getdns_dict *a1 = rec_n(UW, "A", 0), *a2 = rec_n(UW, "A", 1);
	getdns_dict *su = rec(UW, "RRSIG\tA");
	getdns_dict *rrs[4], *c, *x;
	uint32_t inc = 0, exp = 0;
	getdns_dict *rd;
	char tag[8];
	size_t i, si;

	if (keys == NULL || a == NULL || sa == NULL || aaaa == NULL ||
	    saaaa == NULL || a1 == NULL || a2 == NULL || su == NULL) {
		T_OK(0, "verify: the records of the signed zone");
		return;
	}
	getdns_dict_get_dict(sa, "rdata", &rd);
	getdns_dict_get_int(rd, "signature_inception", &inc);
	getdns_dict_get_int(rd, "signature_expiration", &exp);

	rrs[0] = a, rrs[1] = sa;
	T_OK(verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "an A RRset the ZSK signed: yes");
	rrs[0] = saaaa, rrs[1] = aaaa;
	T_OK(verify(EW, GETDNS_RRTYPE_AAAA, rrs, 2, ZONE, when),
	    "an AAAA RRset, signature first: yes");
	rrs[0] = a1, rrs[1] = su, rrs[2] = a2;
	T_OK(verify(UW, GETDNS_RRTYPE_A, rrs, 3, ZONE, when),
	    "two records, in either order: yes");
	rrs[0] = a2, rrs[1] = a1, rrs[2] = su, rrs[3] = a2;
	T_OK(verify(UW, GETDNS_RRTYPE_A, rrs, 4, ZONE, when),
	    "a record twice (one in canonical form): yes");
	rrs[0] = a1, rrs[1] = su;
	T_OK(!verify(UW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "one of two records dropped: no");

	x = parsed("DynamoDB.EU-West-1.AmazonAWS.com. 300 IN A 127.0.10.5");
	rrs[0] = x, rrs[1] = sa;
	T_OK(verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "owner in mixed case (0x20): yes");
	getdns_dict_destroy(x);
	x = parsed(EW ". 300 IN A 127.0.66.6");
	rrs[0] = x, rrs[1] = sa;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "forged address under the real RRSIG: no");
	rrs[0] = a, rrs[1] = sa, rrs[2] = x;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 3, ZONE, when),
	    "forged address added to the RRset: no");
	getdns_dict_destroy(x);
	x = parsed("evil.example.net. 300 IN A 127.0.66.6");
	rrs[0] = a, rrs[1] = sa, rrs[2] = x;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 3, ZONE, when),
	    "a foreign owner beside it: no");
	getdns_dict_destroy(x);
	rrs[0] = sa;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 1, ZONE, when),
	    "a signature without records: no");
	rrs[0] = a;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 1, ZONE, when),
	    "records without a signature: no");
	rrs[0] = aaaa, rrs[1] = saaaa;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "AAAA records for an A question: no");

	rrs[0] = a, rrs[1] = sa;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, (time_t)inc - 1),
	    "a second before inception: no");
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, (time_t)exp + 1),
	    "a second after expiration: no");
	T_OK(verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, (time_t)inc),
	    "at inception: yes");
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, "com", when),
	    "signer other than the keys' zone: no");

	si = rec_i(EW, "RRSIG\tA", 0);
	x = sig_with(texts[si], 0, "A");
	rrs[0] = a, rrs[1] = x;
	T_OK(x != NULL && verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "RRSIG text parsed again, nothing changed: yes");
	getdns_dict_destroy(x);
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		const char *v = changes[i].v;

		if (v == NULL && !ksk_tag(tag, sizeof(tag)))
			v = "0";
		else if (v == NULL)
			v = tag;
		x = sig_with(texts[si], changes[i].field, v);
		rrs[0] = a, rrs[1] = x;
		T_OK(x != NULL && !verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE,
		    when), "RRSIG's %s changed (%s): no", changes[i].what, v);
		getdns_dict_destroy(x);
	}
	c = with_int(a, "class", GETDNS_RRCLASS_CH);
	rrs[0] = inner(c), rrs[1] = sa;
	T_OK(!verify(EW, GETDNS_RRTYPE_A, rrs, 2, ZONE, when),
	    "record of class CH: no");
	getdns_dict_destroy(c);

	/* The wildcard's own RRset: its labels count one less. */
	x = rec("*.bench." ZONE, "A");
	c = rec("*.bench." ZONE, "RRSIG\tA");
	rrs[0] = x, rrs[1] = c;
	T_OK(x != NULL && c != NULL && !verify("*.bench." ZONE,
	    GETDNS_RRTYPE_A, rrs, 2, ZONE, when), "a wildcard owner: no");
	T_OK(!verify(EW, GETDNS_RRTYPE_CNAME, rrs, 0, ZONE, when),
	    "a CNAME question: no");
}

int
main(void)
{
	size_t i;

	if (!pd_lab_load() || !load_zone()) {
		T_OK(0, "the lab's signed zone (PINDNS_LAB_ENV)");
		return t_done();
	}
	t_keys();
	t_verify();
	pd_zkeys_free(keys);
	for (i = 0; i < nrecs; i++) {
		getdns_dict_destroy(recs[i]);
		free(texts[i]);
	}
	return t_done();
}

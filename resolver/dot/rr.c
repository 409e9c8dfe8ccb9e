/* pindns DoT backend: records fit for the validator (rr.h). */
#include <stddef.h>

#include "policy/policy.h"
#include "resolver/dot/names.h"
#include "resolver/dot/rr.h"

uint32_t
pd_rr_int(const getdns_dict *d, const char *key, uint32_t dflt)
{
	uint32_t v;

	return d != NULL && getdns_dict_get_int(d, key, &v) == 0 ? v : dflt;
}

static bool
has_int(const getdns_dict *d, const char *key)
{
	uint32_t v;

	return getdns_dict_get_int(d, key, &v) == 0;
}

static bool
has_ints(const getdns_dict *d, const char *const *keys)
{
	for (; *keys != NULL; keys++)
		if (!has_int(d, *keys))
			return false;
	return true;
}

/* A bindata field, at least min octets long. */
static bool
has_bin(const getdns_dict *d, const char *key, size_t min)
{
	getdns_bindata *b;

	return getdns_dict_get_bindata(d, key, &b) == 0 && b != NULL &&
	    (b->size == 0 || b->data != NULL) && b->size >= min;
}

static bool
has_name(const getdns_dict *d, const char *key)
{
	getdns_bindata *b;
	char buf[PD_NAME_MAX + 1];

	return getdns_dict_get_bindata(d, key, &b) == 0 &&
	    pd_dname_norm(b, buf) >= 0;
}

bool
pd_rr_sane(const getdns_dict *rr)
{
	static const char *const soa[] = { "serial", "refresh", "retry",
	    "expire", "minimum", NULL };
	static const char *const rrsig[] = { "type_covered", "algorithm",
	    "labels", "original_ttl", "signature_expiration",
	    "signature_inception", "key_tag", NULL };
	static const char *const dnskey[] = { "flags", "protocol",
	    "algorithm", NULL };
	static const char *const ds[] = { "key_tag", "algorithm",
	    "digest_type", NULL };
	static const char *const nsec3[] = { "hash_algorithm", "flags",
	    "iterations", NULL };
	getdns_dict *rd;
	getdns_bindata *raw;
	uint32_t type;

	if (rr == NULL || getdns_dict_get_int(rr, "type", &type) != 0 ||
	    !has_int(rr, "class") || !has_int(rr, "ttl") ||
	    !has_name(rr, "name") ||
	    getdns_dict_get_dict(rr, "rdata", &rd) != 0 ||
	    getdns_dict_get_bindata(rd, "rdata_raw", &raw) != 0 ||
	    raw == NULL || (raw->size > 0 && raw->data == NULL))
		return false;
	switch (type) {
	case GETDNS_RRTYPE_A:
		return raw->size == 4;
	case GETDNS_RRTYPE_AAAA:
		return raw->size == 16;
	case GETDNS_RRTYPE_CNAME:
		return has_name(rd, "cname");
	case GETDNS_RRTYPE_DNAME:
		return has_name(rd, "target");
	case GETDNS_RRTYPE_SOA:
		return has_name(rd, "mname") && has_name(rd, "rname") &&
		    has_ints(rd, soa);
	case GETDNS_RRTYPE_RRSIG:
		return has_ints(rd, rrsig) && has_name(rd, "signers_name") &&
		    has_bin(rd, "signature", 1);
	case GETDNS_RRTYPE_DNSKEY:
		return has_ints(rd, dnskey) && has_bin(rd, "public_key", 1);
	case GETDNS_RRTYPE_DS:
		return has_ints(rd, ds) && has_bin(rd, "digest", 1);
	case GETDNS_RRTYPE_NSEC:
		return has_name(rd, "next_domain_name") &&
		    has_bin(rd, "type_bit_maps", 0);
	case GETDNS_RRTYPE_NSEC3:
		return has_ints(rd, nsec3) && has_bin(rd, "salt", 0) &&
		    has_bin(rd, "next_hashed_owner_name", 1) &&
		    has_bin(rd, "type_bit_maps", 0);
	default:
		return false;
	}
}

getdns_list *
pd_rr_sane_copy(const getdns_list *list)
{
	getdns_list *out;
	getdns_dict *rr;
	size_t i, n, k = 0;

	if ((out = getdns_list_create()) == NULL)
		return NULL;
	if (list == NULL || getdns_list_get_length(list, &n) != 0)
		return out;
	for (i = 0; i < n; i++) {
		if (getdns_list_get_dict(list, i, &rr) != 0 || !pd_rr_sane(rr))
			continue;
		if (getdns_list_set_dict(out, k++, rr) != 0) {
			getdns_list_destroy(out);
			return NULL;
		}
	}
	return out;
}

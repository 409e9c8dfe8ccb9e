/*
 * pindns DoT backend: which records may be handed to getdns's validator.
 *
 * getdns 1.6.0 parses a record whose rdata it cannot read to the end into
 * a dict that simply lacks the remaining fields, and
 * getdns_validate_dnssec2() then dereferences the missing ones: an RRSIG
 * without signers_name crashed the process (found by
 * tests/fuzz/fuzz_reply.c). Any upstream could send such a record, so
 * nothing reaches the validator unless every field its type needs is
 * there and well-formed; everything else is left out (and validation
 * then fails closed).
 */
#ifndef PD_DOT_RR_H
#define PD_DOT_RR_H

#include <stdbool.h>
#include <stdint.h>

#include <getdns/getdns.h>

/* Is rr complete enough to validate? Types outside those DNSSEC
 * validation of A/AAAA answers involves (A, AAAA, CNAME, DNAME, SOA,
 * RRSIG, DNSKEY, DS, NSEC, NSEC3) are never sane. */
bool	pd_rr_sane(const getdns_dict *rr);

/*
 * A copy of list holding only its sane records (NULL when out of
 * memory). The caller owns it.
 */
getdns_list *pd_rr_sane_copy(const getdns_list *list);

/* An int of dict d (may be NULL), or dflt when it has none. */
uint32_t pd_rr_int(const getdns_dict *d, const char *key, uint32_t dflt);

#endif /* PD_DOT_RR_H */

/*
 * pindns DoT backend: address RRsets checked against a zone's cached,
 * already validated keys without getdns's per-call set-up.
 *
 * getdns_validate_dnssec2() parses its lists into its own structures and
 * builds an OpenSSL key (and with it an elliptic-curve group) from the
 * DNSKEY for every signature it checks: about half of the cost of
 * validating an A or AAAA answer here, the signature check itself being
 * the other half. A zone's keys are proved once (chain.c) and cached; this
 * module keeps them as ready OpenSSL keys and checks an A or AAAA RRset's
 * RRSIG against them. The DNSSEC work is ldns's: it parses the records,
 * makes the key, puts the RRset in canonical form and order and writes
 * the signing input, converts the signature and calls OpenSSL. What is
 * written here is only which records to hand it and when to say no.
 *
 * It only ever says yes: a signature that verifies, by a cached zone key of
 * the zone that signed it, over the whole RRset, within its validity
 * period, not a wildcard expansion. Anything else (another type, another
 * algorithm than ECDSA P-256/P-384, a wildcard, a signature that does not
 * verify, a time outside the window, a malformed record) answers false
 * and the caller validates with getdns as before, which decides. So
 * nothing getdns would refuse is accepted here.
 *
 * Threads: a key set is immutable once made; any number of threads may
 * verify against it at once.
 */
#ifndef PD_DOT_ZKEYS_H
#define PD_DOT_ZKEYS_H

#include <stdbool.h>
#include <time.h>

#include <getdns/getdns.h>

struct pd_zkeys;

/* OpenSSL keys for the DNSKEY records in keys (validated zone keys) that
 * this module can use; NULL when none (or out of memory). */
struct pd_zkeys	*pd_zkeys_new(const getdns_list *keys);

/* Free; NULL is a no-op. */
void		 pd_zkeys_free(struct pd_zkeys *k);

/*
 * Is to_validate (the one-reply list chain.c hands to getdns: question,
 * and in the answer section the RRset owner/qtype with its RRSIGs) an A
 * or AAAA RRset that a key of k, the keys of zone signer (normalised),
 * signed and that is valid at now? false means "not decided here".
 */
bool		 pd_zkeys_verify(const struct pd_zkeys *k, const char *signer,
		    const getdns_list *to_validate, const char *owner,
		    time_t now);

#endif /* PD_DOT_ZKEYS_H */

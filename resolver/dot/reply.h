/*
 * pindns DoT backend: from a getdns reply to the facts of dot.h.
 *
 * getdns 1.6.0 checks neither the question of a reply nor that answer
 * owner names chain from the query name, lists foreign addresses in
 * just_address_answers, and reports a signed CNAME into an unsigned zone
 * as SECURE for the whole reply. So this module trusts nothing getdns
 * summarised: it reads the reply's sections itself and
 *
 *  - checks the header (a response, QUERY opcode, no truncation) and that
 *    the question is exactly the name, type and class asked;
 *  - follows the CNAME chain (or DNAME-synthesised CNAMEs) from the query
 *    name through the answer section, refusing loops, forks and chains
 *    longer than PD_DOT_MAX_CHAIN, and refuses an answer section holding
 *    any record that is not on that chain (a foreign owner, another
 *    class);
 *  - takes addresses from the wire form of the records (rdata_raw, 4 or
 *    16 octets), which is what validation covers;
 *  - validates every part on its own (each CNAME link, the final RRset,
 *    or the denial of existence) through the chain cache and reports the
 *    worst status;
 *  - computes the TTL as the minimum over the chain and the RRset (RRSIG
 *    original TTLs included), or for a negative answer per RFC 2308 as
 *    min(SOA TTL, SOA MINIMUM).
 *
 * A reply that fails a structural check is reported with rcode 2
 * (SERVFAIL), no address, sec PD_SEC_BOGUS whatever the mode (a forged
 * reply is an attack in progress), and detail saying what was wrong.
 *
 * This is what tests/fuzz/fuzz_reply.c feeds with arbitrary messages.
 */
#ifndef PD_DOT_REPLY_H
#define PD_DOT_REPLY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <getdns/getdns.h>

#include "resolver/dot/chain.h"
#include "resolver/dot/dot.h"

struct pd_reply_in {
	const char		*qname;		/* normalised, as asked */
	uint16_t		 qtype;		/* GETDNS_RRTYPE_A or _AAAA */
	enum pd_dnssec_mode	 mode;
	struct pd_chain		*chain;		/* NULL: nothing validates */
	const getdns_list	*vchain;	/* validation chain that came
						 * with this reply, or NULL */
	time_t			 now;
};

struct pd_reply_out {
	struct pd_dot_rrset	rr;
	bool			need_chain;	/* validating again with the
						 * chain may decide it */
	bool			malformed;
	char			detail[160];
};

/*
 * Process one reply dict (a replies_tree entry, or what
 * getdns_wire2msg_dict makes of a message). Never fails: every outcome
 * is in *out.
 */
void	pd_reply_process(const getdns_dict *reply, const struct pd_reply_in *in,
	    struct pd_reply_out *out);

/*
 * The same for a whole getdns response: its replies_tree must hold
 * exactly one reply; its validation_chain, when present, is used instead
 * of in->vchain.
 */
void	pd_reply_response(const getdns_dict *resp, const struct pd_reply_in *in,
	    struct pd_reply_out *out);

#endif /* PD_DOT_REPLY_H */

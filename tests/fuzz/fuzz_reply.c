/*
 * libFuzzer target: DNS message bytes -> getdns message dict -> the DoT
 * backend's reply processing (resolver/dot/reply.c), with the message's
 * additional section standing in for a validation chain so that the
 * chain cache and getdns_validate_dnssec2 see hostile data too.
 *
 * Invariants checked beyond "no crash, no sanitizer report": a reply
 * refused as malformed carries no address; every address has the family
 * of the type asked; counts stay within their arrays.
 *
 *	make fuzz-build && build-fuzz/fuzz_reply tests/fuzz/corpus/reply
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/chain.h"
#include "resolver/dot/context.h"
#include "resolver/dot/names.h"
#include "resolver/dot/reply.h"
#include "tests/fuzz/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pd_chain *chain;

/* A well-formed DS for amazonaws.com: the lab makes its keys afresh, so
 * no fixed one matches; validation paths run all the same. */
static void
init(void)
{
	getdns_list *anchors = getdns_list_create();
	getdns_dict *ds = NULL;

	if (getdns_str2rr_dict("amazonaws.com. 3600 IN DS 4795 13 2 "
	    "61a1948ba75162c438abde73cb59befb4deee70ad570082c32c28eee41c3204e",
	    &ds, NULL, 3600) == 0)
		(void)getdns_list_set_dict(anchors, 0, ds);
	getdns_dict_destroy(ds);
	if (pd_chain_new(anchors, &chain) != PD_OK)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char fixed[] = "dynamodb.us-east-1.amazonaws.com";
	char qname[PD_NAME_MAX + 1];
	struct pd_reply_in in;
	struct pd_reply_out out;
	getdns_dict *m = NULL, *q;
	getdns_bindata *qn;
	getdns_list *add = NULL;
	uint32_t qtype = GETDNS_RRTYPE_A;
	unsigned i;

	if (chain == NULL)
		init();
	if ((m = pd_fuzz_msg(data, size)) == NULL)
		return 0;
	/* Ask what the message claims to answer, so deep paths run. */
	memcpy(qname, fixed, sizeof(fixed));
	if (getdns_dict_get_dict(m, "question", &q) == 0) {
		if (getdns_dict_get_bindata(q, "qname", &qn) != 0 ||
		    pd_dname_norm(qn, qname) < 0)
			memcpy(qname, fixed, sizeof(fixed));
		(void)getdns_dict_get_int(q, "qtype", &qtype);
	}
	memset(&in, 0, sizeof(in));
	in.qname = qname;
	in.qtype = qtype == GETDNS_RRTYPE_AAAA ? GETDNS_RRTYPE_AAAA :
	    GETDNS_RRTYPE_A;
	in.mode = (enum pd_dnssec_mode)(data[size - 1] % 3);
	in.chain = chain;
	in.now = 1795400000;
	if (data[0] & 1)
		(void)getdns_dict_get_list(m, "additional", &add);
	in.vchain = add;
	pd_reply_process(m, &in, &out);

	if (out.rr.naddrs > PD_MAX_ADDRS || out.rr.nchain > PD_DOT_MAX_CHAIN)
		abort();
	if (out.malformed && (out.rr.naddrs != 0 || out.rr.sec !=
	    PD_SEC_BOGUS))
		abort();
	for (i = 0; i < out.rr.naddrs; i++)
		if (out.rr.addrs[i].family != (in.qtype == GETDNS_RRTYPE_A ?
		    AF_INET : AF_INET6))
			abort();
	if (out.rr.naddrs > 0 && (out.rr.nchain == 0 ||
	    strcmp(out.rr.chain[0], qname) != 0))
		abort();
	getdns_dict_destroy(m);
	return 0;
}

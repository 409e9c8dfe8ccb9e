/*
 * libFuzzer target: DNS message bytes -> getdns message dict -> the
 * direct check of an A or AAAA RRset against cached zone keys
 * (resolver/dot/zkeys.c), its answer section as the RRset and its
 * RRSIGs, against a fixed P-256 zone key whose private half nobody has.
 *
 * Invariant beyond "no crash, no sanitizer report": nothing is ever
 * proved (no input can carry a valid signature by that key).
 *
 *	make fuzz-build && build-fuzz/fuzz_zkeys tests/fuzz/corpus/zkeys
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/context.h"
#include "resolver/dot/names.h"
#include "resolver/dot/zkeys.h"
#include "tests/fuzz/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pd_zkeys *keys;

/* A zone key of a lab run (key tag 51963); its private key is gone. */
static void
init(void)
{
	getdns_list *l = getdns_list_create();
	getdns_dict *k = NULL;

	if (getdns_str2rr_dict("amazonaws.com. 300 IN DNSKEY 256 3 13 "
	    "sv74KRsorMYWuqaNNV6GfXat+RrnA6XYQTWzo1c7uq7uSn8vfReA4CgPSRjqz7LO"
	    "qxDbR20kXViLrTBjo3mssw==", &k, NULL, 300) == 0)
		(void)getdns_list_set_dict(l, 0, k);
	getdns_dict_destroy(k);
	if ((keys = pd_zkeys_new(l)) == NULL)
		abort();
	getdns_list_destroy(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char owner[PD_NAME_MAX + 1] = "dynamodb.us-east-1.amazonaws.com";
	getdns_dict *m = NULL, *q;
	getdns_bindata *qn;
	getdns_list *tv;
	uint32_t t;

	if (keys == NULL)
		init();
	if ((m = pd_fuzz_msg(data, size)) == NULL)
		return 0;
	if (getdns_dict_get_dict(m, "question", &q) == 0 &&
	    getdns_dict_get_bindata(q, "qname", &qn) == 0 &&
	    pd_dname_norm(qn, owner) < 0)
		memcpy(owner, "x", 2);
	/* The validity window: inside, or wherever the input's last four
	 * octets put it. */
	t = size >= 4 ? (uint32_t)data[size - 4] << 24 |
	    (uint32_t)data[size - 3] << 16 | (uint32_t)data[size - 2] << 8 |
	    data[size - 1] : 1795400000;
	if ((tv = getdns_list_create()) != NULL &&
	    getdns_list_set_dict(tv, 0, m) == 0 &&
	    (pd_zkeys_verify(keys, "amazonaws.com", tv, owner, 1795400000) ||
	    pd_zkeys_verify(keys, "amazonaws.com", tv, owner, (time_t)t)))
		abort();
	getdns_list_destroy(tv);
	getdns_dict_destroy(m);
	return 0;
}

/*
 * What the DoT backend's fuzz targets share: DNS message bytes into a
 * getdns message dict, as the backend's contexts would parse them.
 */
#ifndef PD_FUZZ_WIRE_H
#define PD_FUZZ_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/context.h"

/*
 * getdns 1.6.0's getdns_wire2msg_dict reads up to 64 bytes past the end
 * of a message whose last record is cut short (found by fuzz_reply: ASan
 * heap-buffer-overflow in a memcpy inside libgetdns). It also trusts a
 * length inside a record's RDATA (a HIP public key of 65535 octets in 4
 * octets of RDATA: a read of up to 64 KiB, found there later and
 * reproduced over DoT by the lab's lying-rdata mode). In the backend
 * every large getdns block carries PD_GETDNS_PAD spare bytes
 * (resolver/dot/context.c), so the over-read stays inside it; the
 * parser gets the same slack here so the fuzzing reaches our code
 * instead of stopping at getdns's bugs. NULL when the bytes are no
 * message (or not 1 to 65535 of them).
 */
static inline getdns_dict *
pd_fuzz_msg(const uint8_t *data, size_t size)
{
	static uint8_t buf[65535 + PD_GETDNS_PAD];
	getdns_dict *m = NULL;

	if (size < 1 || size > 65535)
		return NULL;
	memcpy(buf, data, size);
	memset(buf + size, 0, PD_GETDNS_PAD);
	if (getdns_wire2msg_dict(buf, size, &m) != 0)
		return NULL;
	return m;
}

#endif /* PD_FUZZ_WIRE_H */

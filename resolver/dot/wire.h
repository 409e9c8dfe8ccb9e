/*
 * pindns DoT backend: DNS messages for the res_query door, built and read
 * with getdns (the table entries wire_build, wire_addrs and wire_keep of
 * resolver/dot/dot.h document them).
 */
#ifndef PD_DOT_WIRE_H
#define PD_DOT_WIRE_H

#include "resolver/dot/dot.h"

enum pd_err	pd_wire_build(const struct pd_dot_msg *m, uint8_t *buf,
		    size_t len, size_t *need);
enum pd_err	pd_wire_addrs(const uint8_t *msg, size_t len,
		    struct pd_addr *addrs, unsigned max, unsigned *np);
enum pd_err	pd_wire_keep(uint8_t *msg, size_t len, size_t cap,
		    const uint8_t *keep, unsigned nkeep, size_t *outlen);
enum pd_err	pd_wire_query(const uint8_t *msg, size_t len,
		    struct pd_dot_query *q);

#endif /* PD_DOT_WIRE_H */

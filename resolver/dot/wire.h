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

/*
 * wire_memo.c: this thread's memo of the two above (pure functions of
 * their input). _get: true when the same input (all but the ID) was
 * converted lately; the output is then written as getdns wrote it, with
 * this input's ID. _put: remember a conversion that succeeded (the whole
 * output: out[0..n-1]). Inputs or outputs too large are never kept.
 */
bool	pd_wire_memo_query_get(const uint8_t *msg, size_t len,
	    struct pd_dot_query *q);
void	pd_wire_memo_query_put(const uint8_t *msg, size_t len,
	    const struct pd_dot_query *q);
bool	pd_wire_memo_build_get(const struct pd_dot_msg *m, uint8_t *buf,
	    size_t len, size_t *need);
void	pd_wire_memo_build_put(const struct pd_dot_msg *m, const uint8_t *out,
	    size_t n);

#endif /* PD_DOT_WIRE_H */

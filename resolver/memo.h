/*
 * pindns engine: a per-thread memo in front of the backend's wire_query
 * and wire_build (resolver/memo.c says why and how): the same result as
 * ops->wire_query / ops->wire_build, without asking getdns again for an
 * input it was given a moment ago on this thread but for the ID.
 */
#ifndef PD_MEMO_H
#define PD_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "resolver/dot/dot.h"

/* As ops->wire_query(msg, len, q). */
enum pd_err	pd_memo_query(const struct pd_dot_ops *ops, const uint8_t *msg,
		    size_t len, struct pd_dot_query *q);

/* As ops->wire_build(m, buf, len, need). */
enum pd_err	pd_memo_build(const struct pd_dot_ops *ops,
		    const struct pd_dot_msg *m, uint8_t *buf, size_t len,
		    size_t *need);

#endif /* PD_MEMO_H */

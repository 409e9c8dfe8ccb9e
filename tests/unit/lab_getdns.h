/*
 * pindns unit tests and bench_dot: a stock getdns context against the
 * lab's upstream, for figures and checks that must see getdns alone.
 */
#ifndef PD_TEST_LAB_GETDNS_H
#define PD_TEST_LAB_GETDNS_H

#include <stdint.h>

#include <getdns/getdns_extra.h>

/*
 * A getdns stub context over TLS (authentication required, the lab's CA
 * and name) to the upstream at LAB_UP_ADDR:port, with idle_ms as its
 * idle timeout and no trust anchor set (the caller sets its own). Call
 * pd_lab_load() first. NULL when getdns refuses any of it.
 */
getdns_context *pd_lab_getdns(int port, uint64_t idle_ms);

#endif /* PD_TEST_LAB_GETDNS_H */

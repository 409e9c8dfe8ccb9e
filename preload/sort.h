/*
 * pindns preload: the destination address order glibc's getaddrinfo gives
 * (RFC 3484/6724 destination selection as glibc 2.36 implements it:
 * default label/precedence/scope tables, /etc/gai.conf `label`,
 * `precedence`, `scopev4` and `reload` lines, source addresses found by
 * connecting a UDP socket, address flags from rtnetlink).
 *
 * The work needs system calls (one connect() per address, an rtnetlink
 * dump), so each thread keeps the orders it computed for one second: a
 * cached engine answer is sorted once, and a hit costs a compare.
 */
#ifndef PD_PRELOAD_SORT_H
#define PD_PRELOAD_SORT_H

#include <stdint.h>

#include "policy/addr.h"
#include "preload/netinfo.h"
#include "preload/serv.h"

#define PD_SORT_SLOTS	4

/* One remembered order (per thread, see preload/tstate.h). */
struct pd_sort_slot {
	uint64_t	 expires;	/* ms (preload/clock.h); 0: empty */
	unsigned	 naddrs;
	struct pd_addr	*addrs;		/* heap copy of the key */
	struct pd_tuples tuples;
	uint16_t	*order;		/* naddrs * tuples.n entries */
	int		 err_set;	/* the sort left errno changed... */
	int		 err;		/* ... to this (glibc's connect()s) */
};

struct pd_sort_cache {
	unsigned		next;
	struct pd_sort_slot	slot[PD_SORT_SLOTS];
};

/*
 * The nodes of a getaddrinfo result are address i with tuple j, in glibc's
 * pre-sort order node i * tp->n + j. Fill order[0..naddrs * tp->n - 1]
 * with the node indices in the order glibc's sort leaves them. addrs[] are
 * AF_INET or AF_INET6 with the unused bytes zero; naddrs <= PD_MAX_ADDRS.
 * cache may be NULL; ni supplies the host's addresses (refreshed here when
 * stale). Never fails: without memory the order is left as given. errno
 * is left as glibc's sort leaves it (a failed connect() to an unreachable
 * destination sets it), replayed on a cache hit.
 */
void	pd_sort_nodes(struct pd_sort_cache *cache, struct pd_netinfo *ni,
	    const struct pd_addr *addrs, unsigned naddrs,
	    const struct pd_tuples *tp, uint16_t *order);

/* Free the cache's memory. */
void	pd_sort_clear(struct pd_sort_cache *cache);

#endif /* PD_PRELOAD_SORT_H */

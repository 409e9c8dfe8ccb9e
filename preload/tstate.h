/*
 * pindns preload: per-thread state.
 *
 * Each thread that resolves a name gets one block, allocated on first use
 * and freed when the thread exits: the service and sort caches, the
 * network snapshot, and the storage gethostbyname/gethostbyname2 return
 * (per thread, unlike glibc's one static buffer). Nothing is shared, so
 * the cached-hit path takes no lock.
 */
#ifndef PD_PRELOAD_TSTATE_H
#define PD_PRELOAD_TSTATE_H

#include <netdb.h>
#include <stddef.h>

#include "preload/netinfo.h"
#include "preload/serv.h"
#include "preload/sort.h"

struct pd_tstate {
	struct pd_serv_cache	serv;
	struct pd_sort_cache	sort;
	struct pd_netinfo	net;
	/* gethostbyname/gethostbyname2 results live here. */
	struct hostent		hent;
	char			*hbuf;
	size_t			 hlen;
};

/*
 * This thread's state, created on first use; NULL when out of memory
 * (callers then work without caches, or fail with EAI_MEMORY /
 * NETDB_INTERNAL where they need storage). May change errno.
 */
struct pd_tstate *pd_tstate_get(void);

#endif /* PD_PRELOAD_TSTATE_H */

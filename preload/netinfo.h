/*
 * pindns preload: the host's configured addresses, as glibc's __check_pf
 * and __check_native see them (rtnetlink dumps).
 *
 * getaddrinfo needs them for AI_ADDRCONFIG (is a non-loopback IPv4 / IPv6
 * address configured?) and for the RFC 6724 sort (flags, prefix length and
 * interface of each source address; whether an interface is a tunnel).
 * glibc asks the kernel on every call; we keep a per-thread snapshot for
 * one second, so a cached hit makes no system call and an address change
 * is seen within a second.
 */
#ifndef PD_PRELOAD_NETINFO_H
#define PD_PRELOAD_NETINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* glibc's struct in6addrinfo flags. */
#define PD_IN6AI_DEPRECATED	1
#define PD_IN6AI_HOMEADDRESS	2

/* One configured address; IPv4 ones as ::ffff:a.b.c.d (glibc's form). */
struct pd_in6ai {
	uint32_t	addr[4];	/* network byte order */
	uint8_t		flags;
	uint8_t		prefixlen;
	uint32_t	index;		/* interface index */
};

struct pd_netinfo {
	uint64_t	 expires;	/* ms, preload/clock.h; 0: empty */
	bool		 seen_ipv4;	/* a non-loopback IPv4 address */
	bool		 seen_ipv6;	/* a non-loopback IPv6 address */
	/*
	 * glibc's in6ai list, sorted by address for bsearch. have_list is
	 * false when the dump failed (glibc then has no list and assumes
	 * both families); with no IPv6 address glibc keeps an empty list.
	 */
	bool		 have_list;
	size_t		 n;
	size_t		 cap;
	struct pd_in6ai	*v;
};

/*
 * Refresh *ni from the kernel when it is older than a second. Never fails:
 * when the kernel cannot be asked, both families count as configured and
 * have_list is false, as in glibc. May change errno.
 */
void	pd_netinfo_get(struct pd_netinfo *ni);

/* The entry for addr (glibc's bsearch), or NULL. */
const struct pd_in6ai *pd_netinfo_find(const struct pd_netinfo *ni,
	    const uint32_t addr[4]);

/*
 * glibc's __check_native: for each index that is not 0xffffffff, set the
 * matching *native to 0 when the interface is a tunnel (IPv6-in-IPv4, GRE,
 * SIT) and 1 otherwise; leaves it alone when the interface is not found or
 * the kernel cannot be asked. May change errno.
 */
void	pd_netinfo_native(uint32_t a1_index, int *a1_native,
	    uint32_t a2_index, int *a2_native);

/* Free the snapshot's memory; *ni is reset. */
void	pd_netinfo_clear(struct pd_netinfo *ni);

#endif /* PD_PRELOAD_NETINFO_H */

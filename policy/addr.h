/*
 * pindns: the plain address struct every floor shares (musl's
 * `struct address` in spirit). No libc resolver or getdns type crosses a
 * module boundary; this does.
 */
#ifndef PD_ADDR_H
#define PD_ADDR_H

#include <stdint.h>

/*
 * family is AF_INET (addr[0..3] used, network order) or AF_INET6
 * (addr[0..15]). Anything else is invalid.
 */
struct pd_addr {
	int	family;
	uint8_t	addr[16];
};

#endif /* PD_ADDR_H */

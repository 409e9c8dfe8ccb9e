/*
 * pindns policy: listen addresses for `pindns serve` (SPEC §8), in
 * stubby's listen_addresses format: "127.0.0.1", "0::1",
 * "127.0.0.1@5353", "::1@5353" (no brackets: the port follows the last
 * '@').
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/policy.h"

#define DEFAULT_PORT	53

int
pd_listen_parse(const char *s, struct pd_listen *l, char *why, size_t whylen)
{
	static const uint8_t zero[16];
	char host[INET6_ADDRSTRLEN + 1];
	const char *at = strrchr(s, '@');
	size_t hl = at != NULL ? (size_t)(at - s) : strlen(s);
	unsigned long port = DEFAULT_PORT;
	char *end;

	memset(l, 0, sizeof(*l));
	if (hl == 0 || hl >= sizeof(host)) {
		(void)snprintf(why, whylen, "'%.64s' is not ADDRESS[@PORT]",
		    s);
		return -1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (at != NULL) {
		port = strtoul(at + 1, &end, 10);
		if (at[1] < '0' || at[1] > '9' || *end != '\0' || port == 0 ||
		    port > 65535) {
			(void)snprintf(why, whylen, "'%.64s': the port after "
			    "'@' must be 1..65535", s);
			return -1;
		}
	}
	if (inet_pton(AF_INET, host, l->addr.addr) == 1)
		l->addr.family = AF_INET;
	else if (inet_pton(AF_INET6, host, l->addr.addr) == 1)
		l->addr.family = AF_INET6;
	else {
		(void)snprintf(why, whylen, "'%.64s' is not an IPv4 or IPv6 "
		    "address (ADDRESS[@PORT], as stubby writes it)", host);
		return -1;
	}
	if (memcmp(l->addr.addr, zero, l->addr.family == AF_INET ? 4 : 16) ==
	    0) {
		(void)snprintf(why, whylen, "'%.64s': an unspecified address "
		    "cannot be listened on (replies must leave from the "
		    "address asked): name the address", s);
		return -1;
	}
	l->port = (uint16_t)port;
	return 0;
}

void
pd_listen_format(const struct pd_listen *l, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(l->addr.family, l->addr.addr, a, sizeof(a)) == NULL)
		(void)snprintf(a, sizeof(a), "?");
	(void)snprintf(buf, len, "%s@%u", a, (unsigned)l->port);
}

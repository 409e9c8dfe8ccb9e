/* pindns preload: getaddrinfo. */
#include <netdb.h>

#include "preload/real.h"

__attribute__((visibility("default"))) int
getaddrinfo(const char *node, const char *service,
    const struct addrinfo *hints, struct addrinfo **res)
{
	return pd_real()->getaddrinfo(node, service, hints, res);
}

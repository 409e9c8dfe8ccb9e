/* pindns preload: the gethostbyname family. */
#include <netdb.h>

#include "preload/real.h"

__attribute__((visibility("default"))) struct hostent *
gethostbyname(const char *name)
{
	return pd_real()->gethostbyname(name);
}

__attribute__((visibility("default"))) struct hostent *
gethostbyname2(const char *name, int af)
{
	return pd_real()->gethostbyname2(name, af);
}

__attribute__((visibility("default"))) int
gethostbyname_r(const char *name, struct hostent *ret, char *buf,
    size_t buflen, struct hostent **result, int *h_errnop)
{
	return pd_real()->gethostbyname_r(name, ret, buf, buflen, result,
	    h_errnop);
}

__attribute__((visibility("default"))) int
gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf,
    size_t buflen, struct hostent **result, int *h_errnop)
{
	return pd_real()->gethostbyname2_r(name, af, ret, buf, buflen, result,
	    h_errnop);
}

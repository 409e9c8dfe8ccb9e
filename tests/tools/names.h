/*
 * Names of getaddrinfo and h_errno codes for the probes (tests/tools/):
 * header-only, libc only. PD_SENTINEL is what a probe stores in errno and
 * h_errno before a call; a value left untouched prints as "untouched".
 */
#ifndef PD_TOOLS_NAMES_H
#define PD_TOOLS_NAMES_H

#include <netdb.h>
#include <stdio.h>

#define PD_SENTINEL	4242

static inline const char *
pd_eai_name(int rc)
{
	static char buf[32];

	switch (rc) {
	case 0: return "0";
	case EAI_BADFLAGS: return "EAI_BADFLAGS";
	case EAI_NONAME: return "EAI_NONAME";
	case EAI_AGAIN: return "EAI_AGAIN";
	case EAI_FAIL: return "EAI_FAIL";
	case EAI_NODATA: return "EAI_NODATA";
	case EAI_FAMILY: return "EAI_FAMILY";
	case EAI_SOCKTYPE: return "EAI_SOCKTYPE";
	case EAI_SERVICE: return "EAI_SERVICE";
	case EAI_ADDRFAMILY: return "EAI_ADDRFAMILY";
	case EAI_MEMORY: return "EAI_MEMORY";
	case EAI_SYSTEM: return "EAI_SYSTEM";
	case EAI_OVERFLOW: return "EAI_OVERFLOW";
	case EAI_IDN_ENCODE: return "EAI_IDN_ENCODE";
	case EAI_INPROGRESS: return "EAI_INPROGRESS";
	case EAI_CANCELED: return "EAI_CANCELED";
	case EAI_NOTCANCELED: return "EAI_NOTCANCELED";
	case EAI_ALLDONE: return "EAI_ALLDONE";
	case EAI_INTR: return "EAI_INTR";
	}
	snprintf(buf, sizeof(buf), "EAI_UNKNOWN(%d)", rc);
	return buf;
}

static inline const char *
pd_herr_name(int h)
{
	static char buf[32];

	switch (h) {
	case NETDB_INTERNAL: return "NETDB_INTERNAL";
	case NETDB_SUCCESS: return "NETDB_SUCCESS";
	case HOST_NOT_FOUND: return "HOST_NOT_FOUND";
	case TRY_AGAIN: return "TRY_AGAIN";
	case NO_RECOVERY: return "NO_RECOVERY";
	case NO_DATA: return "NO_DATA";
	case PD_SENTINEL: return "untouched";
	}
	snprintf(buf, sizeof(buf), "%d", h);
	return buf;
}

#endif /* PD_TOOLS_NAMES_H */

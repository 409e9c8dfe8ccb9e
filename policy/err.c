/* pindns: texts for enum pd_err. */
#include "policy/err.h"

const char *
pd_strerror(enum pd_err r)
{
	switch (r) {
	case PD_OK:		return "success";
	case PD_ENOMEM:		return "out of memory";
	case PD_EIO:		return "input/output error";
	case PD_EPARSE:		return "parse error";
	case PD_ESIG:		return "bad or missing signature";
	case PD_EPERM:		return "unsafe file permissions";
	case PD_EINVAL:		return "invalid argument";
	case PD_ENAME:		return "invalid domain name";
	case PD_EBOGUS:		return "DNSSEC validation failed";
	case PD_ETIMEOUT:	return "timed out";
	case PD_EUNREACH:	return "upstream unreachable";
	case PD_ETLS:		return "TLS authentication failed";
	case PD_EDL:		return "shared object could not be loaded";
	case PD_EINTERNAL:	return "internal error";
	}
	return "unknown error";
}

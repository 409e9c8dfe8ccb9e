/*
 * pindns: internal error codes, shared by every module.
 *
 * Internal calls return enum pd_err; PD_OK is 0 so `if (r)` reads as
 * "failed". pd_strerror() never returns NULL.
 */
#ifndef PD_ERR_H
#define PD_ERR_H

enum pd_err {
	PD_OK = 0,
	PD_ENOMEM,	/* allocation failed */
	PD_EIO,		/* a file could not be read or written (errno kept) */
	PD_EPARSE,	/* malformed input: policy, key file, name */
	PD_ESIG,	/* signature missing, malformed or not valid */
	PD_EPERM,	/* a secret file is group/world readable, and such */
	PD_EINVAL,	/* a caller passed something that makes no sense */
	PD_ENAME,	/* not a valid DNS name */
	PD_EBOGUS,	/* DNSSEC validation failed */
	PD_ETIMEOUT,	/* every upstream timed out */
	PD_EUNREACH,	/* no upstream reachable */
	PD_ETLS,	/* TLS authentication of the upstream failed */
	PD_EDL,		/* a shared object could not be loaded */
	PD_EINTERNAL	/* a library call failed unexpectedly */
};

/* Human-readable text for r, static storage. */
const char *pd_strerror(enum pd_err r);

#endif /* PD_ERR_H */

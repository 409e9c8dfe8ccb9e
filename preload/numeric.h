/*
 * pindns preload: which hosts glibc answers without a name lookup.
 *
 * Such hosts always go to libc (SPEC §4): they need no DNS, and glibc's own
 * parsing gives them exactly glibc's result and errors.
 */
#ifndef PD_PRELOAD_NUMERIC_H
#define PD_PRELOAD_NUMERIC_H

#include <stdbool.h>

/*
 * True when glibc 2.36's getaddrinfo would not look node up by name: "*"
 * (means NULL), the empty string, an address __inet_aton_exact accepts
 * ("127.1", "0x7f.1", "2130706433"), or an IPv6 address with an optional
 * "%scope" suffix. node is non-NULL.
 */
bool	pd_numeric_gai(const char *node);

/*
 * True when glibc's gethostbyname family would answer name for af without
 * NSS (nss/digits_dots.c: digits and dots, or hex digits, colons and dots
 * when a colon is present, not ending in a dot; for AF_INET anything
 * starting like an IPv6 literal), or name is empty. name is non-NULL.
 */
bool	pd_numeric_hostent(const char *name, int af);

#endif /* PD_PRELOAD_NUMERIC_H */

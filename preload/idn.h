/*
 * pindns preload: names given with AI_IDN.
 *
 * With AI_IDN, glibc 2.36 turns a non-ASCII name into IDNA A-labels before
 * it looks anything up (inet/idna.c): it dlopens libidn2.so.0 and calls
 * idn2_lookup_ul(name, &out, 0) in the caller's locale. That mapping is
 * NFKC, so fullwidth "ｄｙｎａｍｏｄｂ.us-east-1.amazonaws.com" becomes the
 * protected "dynamodb.us-east-1.amazonaws.com" and would be queried over
 * plain DNS if we decided on the name as given (pd_name_normalize refuses
 * non-ASCII, and a refused name goes to libc). So the preload makes the
 * same conversion and decides on the name glibc will query.
 */
#ifndef PD_PRELOAD_IDN_H
#define PD_PRELOAD_IDN_H

/*
 * If name holds a non-ASCII octet and no backslash, convert it as glibc
 * would and return 0 with *out a malloc'd ASCII name (the caller frees
 * it). Return -1 when there is nothing to convert (ASCII), or when glibc
 * itself would refuse the name without a query (backslash with non-ASCII,
 * invalid in the locale, libidn2 missing or refusing: EAI_IDN_ENCODE), so
 * the original can go to libc unchanged. May change errno.
 */
int	pd_idn_to_ascii(const char *name, char **out);

#endif /* PD_PRELOAD_IDN_H */

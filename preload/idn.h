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

/* What pd_idn_to_ascii() found. */
enum pd_idn {
	PD_IDN_OK,	/* *out holds the A-label name libc will query */
	/*
	 * Nothing to convert (ASCII), or a name libc will refuse the same
	 * way without a query (a backslash with non-ASCII; libidn2 refusing
	 * it: invalid in the locale, disallowed code point): hand the call
	 * to libc unchanged, for glibc's exact result.
	 */
	PD_IDN_LIBC,
	/*
	 * Not convertible now: libidn2 cannot be loaded (no descriptor
	 * free, ENOMEM, not installed; retried at most once a second), or
	 * a charset conversion ran out of a resource. libc might convert it
	 * a moment later and query a protected name over plain DNS, so the
	 * caller answers EAI_IDN_ENCODE itself, as glibc does when it
	 * cannot load libidn2.
	 */
	PD_IDN_REFUSE,
	PD_IDN_NOMEM	/* libidn2 out of memory: EAI_MEMORY, as glibc */
};

/*
 * If name holds a non-ASCII octet and no backslash, convert it as glibc
 * would (libidn2's idn2_lookup_ul in the caller's locale). On PD_IDN_OK
 * *out is a malloc'd ASCII name the caller frees; otherwise *out is
 * untouched. Thread-safe and fork-safe. May change errno.
 */
enum pd_idn	pd_idn_to_ascii(const char *name, char **out);

#endif /* PD_PRELOAD_IDN_H */

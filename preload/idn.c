/* pindns preload: AI_IDN names, converted as glibc converts them. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/clock.h"
#include "preload/idn.h"

/* libidn2's idn2_lookup_ul(), looked up the way glibc does. */
typedef int idn2_lookup_ul_fn(const char *src, char **lookupname, int flags);

/* libidn2's codes for what may pass (idn2.h, stable ABI). */
#define IDN2_MALLOC		(-100)
#define IDN2_ICONV_FAIL		(-102)

/* Between two attempts to load libidn2 after a failure. */
#define IDN_RETRY_MS		1000

/*
 * libidn2 once loaded. A dlopen that fails (EMFILE: no descriptor free,
 * ENOMEM) is not cached: glibc does not cache it either, so a later
 * lookup would have libc convert the name and query it while we had
 * decided on the raw, unconvertible one. idn_retry_ms bounds the attempts
 * after a failure to about one a second; 0 means none has failed, and
 * threads of a cold start may then load concurrently (dlopen is
 * thread-safe and counts references). No lock is held across dlopen, so
 * a fork meanwhile leaves the child nothing to wait for.
 */
static _Atomic(idn2_lookup_ul_fn *) lookup_ul;
static _Atomic uint64_t idn_retry_ms;

static idn2_lookup_ul_fn *
idn_fn(void)
{
	idn2_lookup_ul_fn *f;
	uint64_t due, now;
	void *h;

	f = atomic_load_explicit(&lookup_ul, memory_order_acquire);
	if (f != NULL)
		return f;
	due = atomic_load_explicit(&idn_retry_ms, memory_order_relaxed);
	if (due != 0) {
		/* After a failure: one thread a second tries again. */
		now = pd_clock_ms();
		if (now < due || !atomic_compare_exchange_strong(
		    &idn_retry_ms, &due, now + IDN_RETRY_MS))
			return NULL;
	}
	/* Only ever loaded for an AI_IDN lookup of a non-ASCII name. */
	if ((h = dlopen("libidn2.so.0", RTLD_LAZY | RTLD_LOCAL)) != NULL &&
	    (f = (idn2_lookup_ul_fn *)dlsym(h, "idn2_lookup_ul")) == NULL)
		(void)dlclose(h);
	if (f == NULL) {
		atomic_store_explicit(&idn_retry_ms, pd_clock_ms() +
		    IDN_RETRY_MS, memory_order_relaxed);
		return NULL;
	}
	atomic_store_explicit(&lookup_ul, f, memory_order_release);
	return f;
}

enum pd_idn
pd_idn_to_ascii(const char *name, char **out)
{
	const unsigned char *p;
	idn2_lookup_ul_fn *f;
	int nonascii = 0, rc;
	char *r = NULL;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p == '\\')
			return PD_IDN_LIBC;	/* glibc: EAI_IDN_ENCODE */
		if (*p >= 0x80)
			nonascii = 1;
	}
	if (!nonascii)
		return PD_IDN_LIBC;
	if ((f = idn_fn()) == NULL)
		return PD_IDN_REFUSE;
	errno = 0;
	rc = f(name, &r, 0);
	if (rc == 0 && r != NULL) {
		*out = r;
		return PD_IDN_OK;
	}
	free(r);
	/*
	 * Out of memory, or a charset conversion that failed for want of
	 * a resource (iconv_open loading a module with no descriptor free):
	 * libc's own attempt a moment later may succeed and query the
	 * name. Anything else fails the same way in libc (same library,
	 * input and locale), without a query.
	 */
	if (rc == IDN2_MALLOC)
		return PD_IDN_NOMEM;
	if (rc == IDN2_ICONV_FAIL && errno != EILSEQ && errno != EINVAL)
		return PD_IDN_REFUSE;
	return PD_IDN_LIBC;
}

/* pindns preload: AI_IDN names, converted as glibc converts them. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "preload/idn.h"

/* libidn2's idn2_lookup_ul(), looked up the way glibc does. */
typedef int idn2_lookup_ul_fn(const char *src, char **lookupname, int flags);

static idn2_lookup_ul_fn *lookup_ul;
static pthread_once_t idn_once = PTHREAD_ONCE_INIT;

static void
idn_load(void)
{
	void *h;

	/* Only ever loaded for an AI_IDN lookup of a non-ASCII name. */
	if ((h = dlopen("libidn2.so.0", RTLD_LAZY | RTLD_LOCAL)) == NULL)
		return;
	lookup_ul = (idn2_lookup_ul_fn *)dlsym(h, "idn2_lookup_ul");
}

int
pd_idn_to_ascii(const char *name, char **out)
{
	const unsigned char *p;
	int nonascii = 0;
	char *r = NULL;

	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p == '\\')
			return -1;	/* glibc: EAI_IDN_ENCODE, no query */
		if (*p >= 0x80)
			nonascii = 1;
	}
	if (!nonascii)
		return -1;
	(void)pthread_once(&idn_once, idn_load);
	if (lookup_ul == NULL || lookup_ul(name, &r, 0) != 0 || r == NULL)
		return -1;	/* glibc fails the same way, no query */
	*out = r;
	return 0;
}

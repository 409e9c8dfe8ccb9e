/* pindns preload: binding the real libc functions. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>

#include "preload/real.h"

static struct pd_real real;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static int
fail_getaddrinfo(const char *n, const char *s, const struct addrinfo *h,
    struct addrinfo **r)
{
	return EAI_SYSTEM;
}

static struct hostent *
fail_gethostbyname(const char *n)
{
	h_errno = NO_RECOVERY;
	return NULL;
}

static struct hostent *
fail_gethostbyname2(const char *n, int af)
{
	h_errno = NO_RECOVERY;
	return NULL;
}

static int
fail_gethostbyname_r(const char *n, struct hostent *h, char *b, size_t l,
    struct hostent **r, int *e)
{
	*r = NULL;
	*e = NO_RECOVERY;
	return ENOENT;
}

static int
fail_gethostbyname2_r(const char *n, int af, struct hostent *h, char *b,
    size_t l, struct hostent **r, int *e)
{
	*r = NULL;
	*e = NO_RECOVERY;
	return ENOENT;
}

static int
fail_res_query(const char *n, int c, int t, unsigned char *a, int l)
{
	h_errno = NO_RECOVERY;
	return -1;
}

static int
fail_res_querydomain(const char *n, const char *d, int c, int t,
    unsigned char *a, int l)
{
	h_errno = NO_RECOVERY;
	return -1;
}

static int
fail_res_nquery(res_state s, const char *n, int c, int t, unsigned char *a,
    int l)
{
	s->res_h_errno = h_errno = NO_RECOVERY;
	return -1;
}

static int
fail_res_nquerydomain(res_state s, const char *n, const char *d, int c,
    int t, unsigned char *a, int l)
{
	s->res_h_errno = h_errno = NO_RECOVERY;
	return -1;
}

/* proxychains' load_sym, without the abort: never bind to ourselves. */
static void *
load_sym(const char *name, void *self, void *fallback)
{
	void *p = dlsym(RTLD_NEXT, name);

	if (p == NULL || p == self)
		return fallback;
	return p;
}

static void
real_bind(void)
{
	real.getaddrinfo = (real_getaddrinfo_fn *)load_sym("getaddrinfo",
	    (void *)getaddrinfo, (void *)fail_getaddrinfo);
	real.gethostbyname = (real_gethostbyname_fn *)load_sym("gethostbyname",
	    (void *)gethostbyname, (void *)fail_gethostbyname);
	real.gethostbyname2 = (real_gethostbyname2_fn *)load_sym(
	    "gethostbyname2", (void *)gethostbyname2,
	    (void *)fail_gethostbyname2);
	real.gethostbyname_r = (real_gethostbyname_r_fn *)load_sym(
	    "gethostbyname_r", (void *)gethostbyname_r,
	    (void *)fail_gethostbyname_r);
	real.gethostbyname2_r = (real_gethostbyname2_r_fn *)load_sym(
	    "gethostbyname2_r", (void *)gethostbyname2_r,
	    (void *)fail_gethostbyname2_r);
	real.res_query = (real_res_query_fn *)load_sym("res_query",
	    (void *)res_query, (void *)fail_res_query);
	real.res_search = (real_res_query_fn *)load_sym("res_search",
	    (void *)res_search, (void *)fail_res_query);
	real.res_querydomain = (real_res_querydomain_fn *)load_sym(
	    "res_querydomain", (void *)res_querydomain,
	    (void *)fail_res_querydomain);
	real.res_nquery = (real_res_nquery_fn *)load_sym("res_nquery",
	    (void *)res_nquery, (void *)fail_res_nquery);
	real.res_nsearch = (real_res_nquery_fn *)load_sym("res_nsearch",
	    (void *)res_nsearch, (void *)fail_res_nquery);
	real.res_nquerydomain = (real_res_nquerydomain_fn *)load_sym(
	    "res_nquerydomain", (void *)res_nquerydomain,
	    (void *)fail_res_nquerydomain);
}

const struct pd_real *
pd_real(void)
{
	(void)pthread_once(&real_once, real_bind);
	return &real;
}

/*
 * pindns preload: the real libc functions, bound lazily with
 * dlsym(RTLD_NEXT) and checked not to be our own hooks.
 */
#ifndef PD_REAL_H
#define PD_REAL_H

#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

typedef int real_getaddrinfo_fn(const char *, const char *,
    const struct addrinfo *, struct addrinfo **);
typedef struct hostent *real_gethostbyname_fn(const char *);
typedef struct hostent *real_gethostbyname2_fn(const char *, int);
typedef int real_gethostbyname_r_fn(const char *, struct hostent *, char *,
    size_t, struct hostent **, int *);
typedef int real_gethostbyname2_r_fn(const char *, int, struct hostent *,
    char *, size_t, struct hostent **, int *);

typedef int real_res_query_fn(const char *, int, int, unsigned char *, int);
typedef int real_res_querydomain_fn(const char *, const char *, int, int,
    unsigned char *, int);
typedef int real_res_nquery_fn(res_state, const char *, int, int,
    unsigned char *, int);
typedef int real_res_nquerydomain_fn(res_state, const char *, const char *,
    int, int, unsigned char *, int);

struct pd_real {
	real_getaddrinfo_fn		*getaddrinfo;
	real_gethostbyname_fn		*gethostbyname;
	real_gethostbyname2_fn		*gethostbyname2;
	real_gethostbyname_r_fn		*gethostbyname_r;
	real_gethostbyname2_r_fn	*gethostbyname2_r;
	/* libc's (2.34+), else libresolv's; the __res_* names alike. */
	real_res_query_fn		*res_query;
	real_res_query_fn		*res_search;
	real_res_querydomain_fn		*res_querydomain;
	real_res_nquery_fn		*res_nquery;
	real_res_nquery_fn		*res_nsearch;
	real_res_nquerydomain_fn	*res_nquerydomain;
};

/*
 * The real functions. Never NULL members once it returns: a symbol that
 * cannot be found is bound to a function that fails like libc would with
 * the resolver unavailable.
 */
const struct pd_real *pd_real(void);

#endif /* PD_REAL_H */

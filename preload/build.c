/*
 * pindns preload: result builders.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "preload/build.h"

int
pd_build_eai(const struct pd_result *r)
{
	switch (r->verdict) {
	case PD_VERDICT_ABSENT:
		return r->reason == PD_REASON_NODATA ? EAI_NODATA : EAI_NONAME;
	case PD_VERDICT_FAILED:
		return EAI_AGAIN;
	case PD_VERDICT_REFUSED:
	default:
		return EAI_FAIL;
	}
}

int
pd_build_herrno(const struct pd_result *r)
{
	switch (r->verdict) {
	case PD_VERDICT_ABSENT:
		return r->reason == PD_REASON_NODATA ? NO_DATA : HOST_NOT_FOUND;
	case PD_VERDICT_FAILED:
		return TRY_AGAIN;
	case PD_VERDICT_REFUSED:
	default:
		return NO_RECOVERY;
	}
}

const char *
pd_build_canon(const struct pd_result *r, const char *name, char *buf,
    size_t len, int *aliased)
{
	const char *q = name;
	size_t n = strlen(name);

	/* glibc prints names from the wire: no trailing dot. */
	if (n > 1 && name[n - 1] == '.' && n - 1 < len) {
		memcpy(buf, name, n - 1);
		buf[n - 1] = '\0';
		q = buf;
	}
	*aliased = r->canon[0] != '\0' && strcasecmp(r->canon, q) != 0;
	return *aliased ? r->canon : q;
}

/*
 * One node: glibc's generate_addrinfo, for one address and tuple. Every
 * byte is written (no calloc: this is the cached-hit path).
 */
static struct addrinfo *
node_new(const struct pd_addr *a, const struct pd_tuple *t, int flags)
{
	struct addrinfo *ai;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	socklen_t len = a->family == AF_INET6 ? sizeof(*sin6) : sizeof(*sin);

	if ((ai = malloc(sizeof(*ai) + len)) == NULL)
		return NULL;
	ai->ai_flags = flags;
	ai->ai_family = a->family;
	ai->ai_socktype = t->socktype;
	ai->ai_protocol = t->protocol;
	ai->ai_addrlen = len;
	ai->ai_addr = (struct sockaddr *)(void *)(ai + 1);
	ai->ai_canonname = NULL;
	ai->ai_next = NULL;
	if (a->family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)(void *)ai->ai_addr;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = t->port;
		sin6->sin6_flowinfo = 0;
		memcpy(&sin6->sin6_addr, a->addr, 16);
		sin6->sin6_scope_id = 0;
	} else {
		sin = (struct sockaddr_in *)(void *)ai->ai_addr;
		sin->sin_family = AF_INET;
		sin->sin_port = t->port;
		memcpy(&sin->sin_addr, a->addr, 4);
		memset(sin->sin_zero, 0, sizeof(sin->sin_zero));
	}
	return ai;
}

int
pd_build_addrinfo(const struct pd_addr *addrs, unsigned naddrs,
    const struct pd_tuples *tp, const uint16_t *order, int flags,
    const char *canon, struct addrinfo **res)
{
	struct addrinfo *head = NULL, **tail = &head, *ai;
	unsigned n = naddrs * tp->n, k, idx;
	char *cn = NULL;

	if (canon != NULL && (cn = strdup(canon)) == NULL)
		return EAI_MEMORY;
	for (k = 0; k < n; k++) {
		idx = order != NULL ? order[k] : k;
		ai = node_new(&addrs[idx / tp->n], &tp->t[idx % tp->n], flags);
		if (ai == NULL) {
			freeaddrinfo(head);
			free(cn);
			return EAI_MEMORY;
		}
		*tail = ai;
		tail = &ai->ai_next;
	}
	if (head == NULL) {
		free(cn);
		return EAI_NONAME;
	}
	head->ai_canonname = cn;
	*res = head;
	return 0;
}

/* Bytes to skip from p to the next multiple of a (a power of two). */
static size_t
pad_to(const char *p, size_t a)
{
	return (size_t)(-(uintptr_t)p) & (a - 1);
}

int
pd_build_hostent(const char *hname, const char *alias, int af,
    const struct pd_addr *addrs, unsigned n, struct hostent *h, char *buf,
    size_t buflen)
{
	size_t alen = af == AF_INET6 ? 16 : 4, pad, need, nlen, allen = 0;
	unsigned i, m = 0;
	char **addr_list, **aliases, *p;

	for (i = 0; i < n; i++)
		if (addrs[i].family == af)
			m++;
	nlen = strlen(hname) + 1;
	if (alias != NULL)
		allen = strlen(alias) + 1;
	pad = pad_to(buf, alignof(char *));
	/* Pointer arrays first (aligned), then addresses, then strings. */
	need = pad + (m + 1) * sizeof(char *) +
	    (alias != NULL ? 2 : 1) * sizeof(char *) + m * alen + nlen + allen;
	if (buflen < need)
		return ERANGE;

	p = buf + pad;
	addr_list = (char **)(void *)p;
	p += (m + 1) * sizeof(char *);
	aliases = (char **)(void *)p;
	p += (alias != NULL ? 2 : 1) * sizeof(char *);
	for (i = 0, m = 0; i < n; i++) {
		if (addrs[i].family != af)
			continue;
		memcpy(p, addrs[i].addr, alen);
		addr_list[m++] = p;
		p += alen;
	}
	addr_list[m] = NULL;
	memcpy(p, hname, nlen);
	h->h_name = p;
	p += nlen;
	if (alias != NULL) {
		memcpy(p, alias, allen);
		aliases[0] = p;
		aliases[1] = NULL;
	} else
		aliases[0] = NULL;
	h->h_aliases = aliases;
	h->h_addrtype = af;
	h->h_length = (int)alen;
	h->h_addr_list = addr_list;
	return 0;
}

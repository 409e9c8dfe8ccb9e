/*
 * pindns preload: service expansion through the real getaddrinfo.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/clock.h"
#include "preload/real.h"
#include "preload/serv.h"

/* Service names are looked up again after this long (ms). */
#define SERV_NAME_TTL_MS	1000u
/* An errno value no libc function sets: tells "left alone" from "set". */
#define SERV_ERRNO_MARK		(-4711)

/*
 * What glibc treats as no service at all: NULL, "" and "*". Such services
 * and plain decimal ports expand the same way for the life of the process;
 * names depend on /etc/services and expire.
 */
static const char *
serv_key(const char *service)
{
	if (service == NULL || (service[0] == '*' && service[1] == '\0'))
		return "";
	return service;
}

static int
serv_stable(const char *key)
{
	size_t n = strspn(key, "0123456789");

	return key[n] == '\0' && n <= 9;
}

/*
 * glibc's own answer for the service on the unspecified IPv4 address, one
 * node per tuple in glibc's order. Only the tuple-related hints are passed:
 * the caller checked flags and family, and AI_ADDRCONFIG comes earlier.
 */
static int
serv_fetch(const char *service, const struct addrinfo *hints,
    struct pd_tuples *out, int *err_set, int *err)
{
	struct addrinfo h, *list = NULL, *ai;
	struct pd_tuples t;
	int rc, saved = errno;

	memset(&h, 0, sizeof(h));
	h.ai_flags = AI_NUMERICHOST | (hints->ai_flags & AI_NUMERICSERV);
	h.ai_family = AF_INET;
	h.ai_socktype = hints->ai_socktype;
	h.ai_protocol = hints->ai_protocol;
	errno = SERV_ERRNO_MARK;
	rc = pd_real()->getaddrinfo("0.0.0.0", service, &h, &list);
	*err = errno;
	*err_set = *err != SERV_ERRNO_MARK;
	/*
	 * What glibc's getservbyname_r leaves in errno is what its
	 * getaddrinfo carries into the host lookup (or returns with).
	 */
	errno = *err_set ? *err : saved;
	if (rc != 0)
		return rc;
	memset(&t, 0, sizeof(t));
	for (ai = list; ai != NULL && t.n < PD_SERV_MAX; ai = ai->ai_next) {
		t.t[t.n].socktype = ai->ai_socktype;
		t.t[t.n].protocol = ai->ai_protocol;
		if (ai->ai_addr != NULL && ai->ai_family == AF_INET)
			t.t[t.n].port = ((const struct sockaddr_in *)
			    (void *)ai->ai_addr)->sin_port;
		t.n++;
	}
	freeaddrinfo(list);
	errno = *err_set ? *err : saved;
	if (t.n == 0)
		return EAI_SERVICE;	/* glibc never does this */
	*out = t;
	return 0;
}

static int
slot_match(const struct pd_serv_slot *s, const char *key,
    const struct addrinfo *hints, uint64_t *now)
{
	if (!s->used || s->socktype != hints->ai_socktype ||
	    s->protocol != hints->ai_protocol ||
	    s->numericserv != ((hints->ai_flags & AI_NUMERICSERV) != 0) ||
	    strcmp(s->key, key) != 0)
		return 0;
	if (s->expires == 0)
		return 1;
	if (*now == 0)
		*now = pd_clock_ms();
	return *now < s->expires;
}

int
pd_serv_tuples(struct pd_serv_cache *cache, const char *service,
    const struct addrinfo *hints, struct pd_tuples *out)
{
	const char *key = serv_key(service);
	struct pd_serv_slot *s;
	uint64_t now = 0;
	unsigned i;
	int rc, err_set, err;

	if (cache == NULL || strlen(key) >= PD_SERV_KEYLEN)
		return serv_fetch(service, hints, out, &err_set, &err);

	s = &cache->slot[cache->last % PD_SERV_SLOTS];
	if (!slot_match(s, key, hints, &now)) {
		s = NULL;
		for (i = 0; i < PD_SERV_SLOTS; i++)
			if (slot_match(&cache->slot[i], key, hints, &now)) {
				s = &cache->slot[i];
				cache->last = i;
				break;
			}
	}
	if (s != NULL) {
		if (s->rc == 0)
			*out = s->tuples;
		if (s->err_set)
			errno = s->err;
		return s->rc;
	}

	rc = serv_fetch(service, hints, out, &err_set, &err);
	/* Out of memory or a system error says nothing about the service. */
	if (rc == EAI_MEMORY || rc == EAI_SYSTEM)
		return rc;
	i = cache->next++ % PD_SERV_SLOTS;
	s = &cache->slot[i];
	memset(s, 0, sizeof(*s));
	s->used = 1;
	s->socktype = hints->ai_socktype;
	s->protocol = hints->ai_protocol;
	s->numericserv = (hints->ai_flags & AI_NUMERICSERV) != 0;
	s->rc = rc;
	s->err_set = err_set;
	s->err = err;
	if (rc == 0)
		s->tuples = *out;
	memcpy(s->key, key, strlen(key) + 1);
	if (!serv_stable(key)) {
		if (now == 0)
			now = pd_clock_ms();
		s->expires = now + SERV_NAME_TTL_MS;
	}
	cache->last = i;
	return rc;
}

/*
 * pindns preload: service and socket-type expansion, exactly glibc's.
 *
 * glibc turns (service, socktype, protocol, AI_NUMERICSERV) into a list of
 * (socktype, protocol, port) tuples, one result node per address and
 * tuple, and reports EAI_NONAME (AI_NUMERICSERV with a name),
 * EAI_SOCKTYPE or EAI_SERVICE before any host lookup. We let the real
 * getaddrinfo do that on a numeric address and keep the tuples it returns
 * in a per-thread cache: numeric services for good, service names (which
 * cost glibc a read of /etc/services, 5-90 us) for one second.
 */
#ifndef PD_PRELOAD_SERV_H
#define PD_PRELOAD_SERV_H

#include <stdint.h>
#include <netdb.h>

/* glibc has 7 socket types/protocols (tcp udp dccp udplite sctp*2 raw). */
#define PD_SERV_MAX	8
/* Service strings longer than this are not cached (looked up each time). */
#define PD_SERV_KEYLEN	32
#define PD_SERV_SLOTS	8

struct pd_tuple {
	int		socktype;
	int		protocol;
	uint16_t	port;		/* network byte order */
};

struct pd_tuples {
	unsigned	n;
	struct pd_tuple	t[PD_SERV_MAX];
};

/* One cached expansion (per thread, see preload/tstate.h). */
struct pd_serv_slot {
	int		used;
	int		socktype;
	int		protocol;
	int		numericserv;	/* AI_NUMERICSERV given */
	int		rc;		/* 0 or the EAI_* code */
	int		err_set;	/* glibc changed errno on the error */
	int		err;		/* ... to this */
	uint64_t	expires;	/* ms, monotonic; 0: never */
	char		key[PD_SERV_KEYLEN];
	struct pd_tuples tuples;
};

struct pd_serv_cache {
	unsigned		next;	/* slot to replace next */
	unsigned		last;	/* slot of the last hit */
	struct pd_serv_slot	slot[PD_SERV_SLOTS];
};

/*
 * Expand service for hints' ai_socktype, ai_protocol and AI_NUMERICSERV
 * (hints non-NULL; its family and other flags are not looked at). Returns
 * 0 with *out filled, or the EAI_* code glibc returns for them. errno is
 * left as glibc's service handling leaves it (getservbyname_r sets it to
 * 0; a cached entry replays what the lookup left). cache may be NULL (no
 * caching).
 */
int	pd_serv_tuples(struct pd_serv_cache *cache, const char *service,
	    const struct addrinfo *hints, struct pd_tuples *out);

#endif /* PD_PRELOAD_SERV_H */

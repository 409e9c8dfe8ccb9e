/*
 * pindns thread cache: see resolver/tcache.h.
 *
 * The per-thread table is reached through one initial-exec TLS pointer
 * (a dlopen'd object may use a few bytes of glibc's static TLS surplus),
 * so the hit path is a TLS load, not a __tls_get_addr call. The table is
 * allocated on the thread's first put and freed by a pthread key
 * destructor when the thread exits.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/tcache.h"

#define SETS	32		/* power of two */
#define WAYS	4

struct blob {
	size_t			 cap;		/* bytes allocated */
	enum pd_verdict		 verdict;
	enum pd_reason		 reason;
	unsigned		 naddrs;
	size_t			 canonlen;
	struct pd_tcache_meta	 meta;
	char			*name;		/* into data[] */
	char			*canon;		/* into data[] */
	struct pd_addr		 addrs[];	/* then name, then canon */
};

struct tent {
	uint64_t	 h;
	uint64_t	 gen;		/* 0: empty slot */
	uint64_t	 until_ms;
	uint64_t	 expire_ms;
	struct blob	*b;
	uint32_t	 len;
	uint32_t	 want;
};

struct tcache {
	struct tent	set[SETS][WAYS];
	uint8_t		next[SETS];	/* round-robin victim per set */
};

static __thread struct tcache *tc __attribute__((tls_model("initial-exec")));
static pthread_key_t tc_key;
static bool tc_key_ok;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;

static void
tc_destroy(void *arg)
{
	struct tcache *t = arg;
	unsigned i, j;

	for (i = 0; i < SETS; i++)
		for (j = 0; j < WAYS; j++)
			free(t->set[i][j].b);
	free(t);
	/* A later destructor may still look a name up: start afresh then. */
	tc = NULL;
}

static void
tc_init(void)
{
	tc_key_ok = pthread_key_create(&tc_key, tc_destroy) == 0;
}

bool
pd_tcache_get(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, uint64_t now_ms, struct pd_result *res,
    struct pd_tcache_meta *meta)
{
	struct tcache *t = tc;
	struct tent *e;
	struct blob *b;
	unsigned i;

	if (t == NULL)
		return false;
	e = t->set[h & (SETS - 1)];
	for (i = 0; i < WAYS; i++, e++) {
		if (e->h != h || e->gen != gen || e->len != len ||
		    e->want != want)
			continue;
		b = e->b;
		if (now_ms >= e->until_ms || memcmp(b->name, name, len) != 0)
			return false;
		res->verdict = b->verdict;
		res->reason = b->reason;
		if (e->expire_ms == 0)
			res->ttl = b->meta.ttl;
		else
			res->ttl = now_ms >= e->expire_ms ? 0 :
			    (uint32_t)((e->expire_ms - now_ms + 999) / 1000);
		res->naddrs = b->naddrs;
		memcpy(res->addrs, b->addrs, b->naddrs * sizeof(b->addrs[0]));
		memcpy(res->canon, b->canon, b->canonlen + 1);
		if (b->meta.flags & PD_TC_LOG)
			*meta = b->meta;
		else {
			meta->rule = b->meta.rule;
			meta->flags = b->meta.flags;
		}
		return true;
	}
	return false;
}

static struct tcache *
tc_get(void)
{
	struct tcache *t;

	if (tc != NULL)
		return tc;
	(void)pthread_once(&tc_once, tc_init);
	if (!tc_key_ok || (t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if (pthread_setspecific(tc_key, t) != 0) {
		free(t);
		return NULL;
	}
	tc = t;
	return t;
}

void
pd_tcache_put(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, uint64_t until_ms, uint64_t expire_ms,
    const struct pd_result *res, const struct pd_tcache_meta *meta)
{
	struct tcache *t;
	struct tent *set, *e = NULL;
	struct blob *b;
	size_t canonlen, need;
	unsigned i, naddrs;

	if (len > PD_TCACHE_NAME_MAX || gen == 0 || (t = tc_get()) == NULL)
		return;
	set = t->set[h & (SETS - 1)];
	/* The same key, else an empty slot, else round robin. */
	for (i = 0; i < WAYS && e == NULL; i++)
		if (set[i].gen != 0 && set[i].h == h && set[i].len == len &&
		    set[i].want == want &&
		    memcmp(set[i].b->name, name, len) == 0)
			e = &set[i];
	for (i = 0; i < WAYS && e == NULL; i++)
		if (set[i].gen == 0)
			e = &set[i];
	if (e == NULL) {
		i = t->next[h & (SETS - 1)]++ % WAYS;
		e = &set[i];
	}
	naddrs = res->naddrs > PD_MAX_ADDRS ? PD_MAX_ADDRS : res->naddrs;
	canonlen = strnlen(res->canon, PD_CANON_MAX);
	need = sizeof(*b) + naddrs * sizeof(b->addrs[0]) + len + 1 +
	    canonlen + 1;
	b = e->b;
	if (b == NULL || b->cap < need) {
		free(b);
		e->b = NULL;
		e->gen = 0;
		if ((b = malloc(need)) == NULL)
			return;
		b->cap = need;
	}
	b->verdict = res->verdict;
	b->reason = res->reason;
	b->naddrs = naddrs;
	b->canonlen = canonlen;
	b->meta = *meta;
	memcpy(b->addrs, res->addrs, naddrs * sizeof(b->addrs[0]));
	b->name = (char *)&b->addrs[naddrs];
	memcpy(b->name, name, len);
	b->name[len] = '\0';
	b->canon = b->name + len + 1;
	memcpy(b->canon, res->canon, canonlen);
	b->canon[canonlen] = '\0';
	e->b = b;
	e->h = h;
	e->gen = gen;
	e->len = (uint32_t)len;
	e->want = want;
	e->until_ms = until_ms;
	e->expire_ms = expire_ms;
}

void
pd_tcache_flush(void)
{
	unsigned i, j;

	if (tc == NULL)
		return;
	for (i = 0; i < SETS; i++)
		for (j = 0; j < WAYS; j++)
			tc->set[i][j].gen = 0;
}

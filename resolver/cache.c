/*
 * pindns cache: the shared, striped answer cache of one policy. See
 * resolver/cache.h for the contract; this file is the mechanics.
 *
 * Layout: up to 64 stripes, chosen by the top bits of the keyed hash, each
 * with its own mutex, hash buckets (chained) and LRU list, and its share
 * of max_entries. The hot path never comes here (the per-thread caches
 * answer it), so a plain mutex per stripe is enough and keeps LRU order
 * exact within a stripe.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <sodium.h>

#include "resolver/cache.h"

#define STRIPES_MAX	64

struct ent {
	struct ent		*next;		/* bucket chain */
	TAILQ_ENTRY(ent)	 lru;		/* head: most recently used */
	uint64_t		 h;
	uint64_t		 refresh_ms;	/* the TTL's last tenth starts */
	uint64_t		 expire_ms;
	uint64_t		 stale_ms;	/* end of the stale window */
	uint64_t		 hold_ms;	/* STALE_HOLD until */
	uint32_t		 refresh_epoch;	/* == epoch: refresh running */
	bool			 refresh_done;	/* failed once: no more */
	enum pd_verdict		 verdict;
	enum pd_reason		 reason;
	unsigned		 want;
	size_t			 len;		/* of name */
	size_t			 canonlen;
	unsigned		 naddrs;
	struct pd_cache_note	 note;
	struct pd_addr		*addrs;		/* into data[] */
	char			*name;		/* into data[] */
	char			*canon;		/* into data[] */
	max_align_t		 data[];
};

TAILQ_HEAD(ent_list, ent);

struct stripe {
	pthread_mutex_t	 mu;
	struct ent	**b;		/* nb buckets */
	size_t		 nb;		/* power of two */
	struct ent_list	 lru;
	size_t		 n;
	size_t		 cap;
} __attribute__((aligned(64)));	/* no false sharing between stripes */

struct pd_cache {
	struct pd_cache_cfg	 cfg;
	unsigned		 nstripes;	/* power of two */
	unsigned		 shift;		/* h >> shift: the stripe */
	struct stripe		*s;
};

static uint8_t hash_key[crypto_shorthash_KEYBYTES];
static _Atomic bool hash_key_ok;	/* set once, after hash_key */
static pthread_once_t hash_once = PTHREAD_ONCE_INIT;

/* Incremented in a forked child: refresh marks of the parent expire. */
static _Atomic uint32_t fork_epoch = 1;

static void
hash_init(void)
{
	if (sodium_init() < 0)
		return;
	randombytes_buf(hash_key, sizeof(hash_key));
	atomic_store_explicit(&hash_key_ok, true, memory_order_release);
}

uint64_t
pd_cache_hash(const void *buf, size_t len)
{
	uint64_t h;

	/* The hot path: one load instead of a pthread_once call. */
	if (!atomic_load_explicit(&hash_key_ok, memory_order_acquire))
		(void)pthread_once(&hash_once, hash_init);
	(void)crypto_shorthash((unsigned char *)&h, buf, len, hash_key);
	return h;
}

static unsigned
pow2_floor(uint32_t v)
{
	unsigned p = 1;

	while (p <= v / 2)
		p *= 2;
	return p;
}

enum pd_err
pd_cache_new(const struct pd_cache_cfg *cfg, struct pd_cache **cp)
{
	struct pd_cache *c;
	unsigned i, bits;
	size_t base, extra;

	(void)pthread_once(&hash_once, hash_init);
	if (!atomic_load(&hash_key_ok))
		return PD_EINTERNAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PD_ENOMEM;
	c->cfg = *cfg;
	/*
	 * About 16 entries per stripe at least, so that small caches keep
	 * an LRU order close to the global one; at most 64 stripes.
	 */
	c->nstripes = pow2_floor(cfg->max_entries / 16);
	if (c->nstripes > STRIPES_MAX)
		c->nstripes = STRIPES_MAX;
	for (bits = 0; (1u << bits) < c->nstripes; bits++)
		;
	c->shift = 64 - bits;
	c->s = aligned_alloc(64, sizeof(*c->s) * c->nstripes);
	if (c->s == NULL) {
		free(c);
		return PD_ENOMEM;
	}
	memset(c->s, 0, sizeof(*c->s) * c->nstripes);
	/* Shares add up to max_entries exactly. */
	base = cfg->max_entries / c->nstripes;
	extra = cfg->max_entries % c->nstripes;
	for (i = 0; i < c->nstripes; i++) {
		struct stripe *s = &c->s[i];

		(void)pthread_mutex_init(&s->mu, NULL);
		TAILQ_INIT(&s->lru);
		s->cap = base + (i < extra ? 1 : 0);
		for (s->nb = 1; s->nb < s->cap; s->nb *= 2)
			;
		if ((s->b = calloc(s->nb, sizeof(*s->b))) == NULL) {
			c->nstripes = i + 1;
			pd_cache_free(c);
			return PD_ENOMEM;
		}
	}
	*cp = c;
	return PD_OK;
}

void
pd_cache_free(struct pd_cache *c)
{
	struct ent *e;
	unsigned i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nstripes; i++) {
		struct stripe *s = &c->s[i];

		while ((e = TAILQ_FIRST(&s->lru)) != NULL) {
			TAILQ_REMOVE(&s->lru, e, lru);
			free(e);
		}
		free(s->b);
		(void)pthread_mutex_destroy(&s->mu);
	}
	free(c->s);
	free(c);
}

static struct stripe *
stripe_of(struct pd_cache *c, uint64_t h)
{
	return &c->s[c->nstripes == 1 ? 0 : h >> c->shift];
}

/* Find (name, want) in s, its mutex held. prevp: the link pointing to it. */
static struct ent *
find(struct stripe *s, uint64_t h, const char *name, size_t len,
    unsigned want, struct ent ***prevp)
{
	struct ent **pp, *e;

	for (pp = &s->b[h & (s->nb - 1)]; (e = *pp) != NULL; pp = &e->next)
		if (e->h == h && e->want == want && e->len == len &&
		    memcmp(e->name, name, len) == 0) {
			if (prevp != NULL)
				*prevp = pp;
			return e;
		}
	return NULL;
}

static void
unlink_free(struct stripe *s, struct ent *e, struct ent **pp)
{
	*pp = e->next;
	TAILQ_REMOVE(&s->lru, e, lru);
	s->n--;
	free(e);
}

static void
remove_ent(struct stripe *s, struct ent *e)
{
	struct ent **pp;

	for (pp = &s->b[e->h & (s->nb - 1)]; *pp != e; pp = &(*pp)->next)
		;
	unlink_free(s, e, pp);
}

static void
fill(const struct ent *e, uint64_t now_ms, struct pd_result *res,
    struct pd_cache_note *note)
{
	res->verdict = e->verdict;
	res->reason = e->reason;
	res->ttl = now_ms >= e->expire_ms ? 0 :
	    (uint32_t)((e->expire_ms - now_ms + 999) / 1000);
	res->naddrs = e->naddrs;
	memcpy(res->addrs, e->addrs, e->naddrs * sizeof(*e->addrs));
	memcpy(res->canon, e->canon, e->canonlen + 1);
	if (note != NULL)
		*note = e->note;
}

enum pd_cache_hit
pd_cache_get(struct pd_cache *c, const char *name, size_t len, unsigned want,
    uint64_t now_ms, struct pd_result *res, struct pd_cache_note *note,
    struct pd_cache_times *t)
{
	struct stripe *s;
	struct ent *e, **pp;
	enum pd_cache_hit r;
	uint32_t epoch;
	uint64_t h, until;

	if (c == NULL || c->cfg.max_entries == 0)
		return PD_CACHE_MISS;
	h = pd_cache_hash(name, len);
	s = stripe_of(c, h);
	(void)pthread_mutex_lock(&s->mu);
	if ((e = find(s, h, name, len, want, &pp)) == NULL) {
		r = PD_CACHE_MISS;
		goto out;
	}
	if (now_ms >= e->stale_ms ||
	    (now_ms >= e->expire_ms && e->verdict != PD_VERDICT_ACCEPTED)) {
		unlink_free(s, e, pp);
		r = PD_CACHE_MISS;
		goto out;
	}
	fill(e, now_ms, res, note);
	TAILQ_REMOVE(&s->lru, e, lru);
	TAILQ_INSERT_HEAD(&s->lru, e, lru);
	if (now_ms >= e->expire_ms) {
		r = now_ms < e->hold_ms ? PD_CACHE_STALE_HOLD : PD_CACHE_STALE;
		until = now_ms;
	} else if (now_ms < e->refresh_ms) {
		r = PD_CACHE_FRESH;
		until = e->refresh_ms;
	} else {
		/*
		 * Last tenth of the TTL. Every thread copies the entry for
		 * the rest of its life; one of them gets the refresh.
		 */
		epoch = atomic_load_explicit(&fork_epoch, memory_order_relaxed);
		if (!e->refresh_done && e->refresh_epoch != epoch) {
			e->refresh_epoch = epoch;
			r = PD_CACHE_REFRESH;
		} else
			r = PD_CACHE_FRESH;
		until = e->expire_ms;
	}
	if (t != NULL) {
		t->expire_ms = e->expire_ms;
		t->reuse_until_ms = until;
	}
out:
	(void)pthread_mutex_unlock(&s->mu);
	return r;
}

static uint32_t
clamp_ttl(const struct pd_cache_cfg *cfg, uint32_t ttl)
{
	if (ttl < cfg->min_ttl)
		ttl = cfg->min_ttl;
	if (ttl > cfg->max_ttl)
		ttl = cfg->max_ttl;
	return ttl;
}

static struct ent *
ent_new(uint64_t h, const char *name, size_t len, unsigned want,
    uint64_t now_ms, uint32_t ttl, uint32_t stale_ttl,
    const struct pd_result *res, const struct pd_cache_note *note)
{
	struct ent *e;
	size_t canonlen, asz;
	unsigned naddrs;

	naddrs = res->naddrs > PD_MAX_ADDRS ? PD_MAX_ADDRS : res->naddrs;
	canonlen = strnlen(res->canon, PD_CANON_MAX);
	asz = naddrs * sizeof(struct pd_addr);
	if ((e = malloc(sizeof(*e) + asz + len + 1 + canonlen + 1)) == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	e->addrs = (struct pd_addr *)(void *)e->data;
	e->name = (char *)e->data + asz;
	e->canon = e->name + len + 1;
	memcpy(e->addrs, res->addrs, asz);
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	memcpy(e->canon, res->canon, canonlen);
	e->canon[canonlen] = '\0';
	e->h = h;
	e->want = want;
	e->len = len;
	e->canonlen = canonlen;
	e->naddrs = naddrs;
	e->verdict = res->verdict;
	e->reason = PD_REASON_NONE;
	if (res->verdict == PD_VERDICT_ABSENT)
		e->reason = res->reason;
	e->expire_ms = now_ms + (uint64_t)ttl * 1000;
	/* The last tenth of the TTL; at least the last millisecond. */
	e->refresh_ms = e->expire_ms - ((uint64_t)ttl * 100 > 0 ?
	    (uint64_t)ttl * 100 : 1);
	e->stale_ms = e->expire_ms + (uint64_t)stale_ttl * 1000;
	if (note != NULL)
		e->note = *note;
	return e;
}

bool
pd_cache_would_keep(const struct pd_cache *c, const struct pd_result *res)
{
	if (c == NULL || c->cfg.max_entries == 0)
		return false;
	if (!((res->verdict == PD_VERDICT_ACCEPTED &&
	    res->reason == PD_REASON_NONE) ||
	    res->verdict == PD_VERDICT_ABSENT))
		return false;
	return clamp_ttl(&c->cfg, res->ttl) > 0;
}

bool
pd_cache_put(struct pd_cache *c, const char *name, size_t len, unsigned want,
    uint64_t now_ms, const struct pd_result *res,
    const struct pd_cache_note *note, struct pd_cache_times *t)
{
	struct stripe *s;
	struct ent *e = NULL, *old, **pp;
	uint32_t ttl = 0;
	uint64_t h;
	bool keep;

	if (c == NULL || c->cfg.max_entries == 0)
		return false;
	keep = pd_cache_would_keep(c, res);
	if (keep)
		ttl = clamp_ttl(&c->cfg, res->ttl);
	h = pd_cache_hash(name, len);
	if (keep)
		e = ent_new(h, name, len, want, now_ms, ttl, c->cfg.stale_ttl,
		    res, note);
	s = stripe_of(c, h);
	(void)pthread_mutex_lock(&s->mu);
	/* An entry that cannot be replaced must not outlive this answer. */
	if ((old = find(s, h, name, len, want, &pp)) != NULL)
		unlink_free(s, old, pp);
	if (e != NULL) {
		if (s->n >= s->cap)
			remove_ent(s, TAILQ_LAST(&s->lru, ent_list));
		pp = &s->b[h & (s->nb - 1)];
		e->next = *pp;
		*pp = e;
		TAILQ_INSERT_HEAD(&s->lru, e, lru);
		s->n++;
		if (t != NULL) {
			t->expire_ms = e->expire_ms;
			t->reuse_until_ms = e->refresh_ms;
		}
	}
	(void)pthread_mutex_unlock(&s->mu);
	return e != NULL;
}

/* The stripe of name, locked (*hp its hash); NULL: the cache keeps
 * nothing. */
static struct stripe *
lock_name(struct pd_cache *c, const char *name, size_t len, uint64_t *hp)
{
	struct stripe *s;

	if (c == NULL || c->cfg.max_entries == 0)
		return NULL;
	*hp = pd_cache_hash(name, len);
	s = stripe_of(c, *hp);
	(void)pthread_mutex_lock(&s->mu);
	return s;
}

void
pd_cache_refresh_failed(struct pd_cache *c, const char *name, size_t len,
    unsigned want)
{
	struct stripe *s;
	struct ent *e;
	uint64_t h;

	if ((s = lock_name(c, name, len, &h)) == NULL)
		return;
	if ((e = find(s, h, name, len, want, NULL)) != NULL) {
		e->refresh_done = true;
		e->refresh_epoch = 0;
	}
	(void)pthread_mutex_unlock(&s->mu);
}

void
pd_cache_hold(struct pd_cache *c, const char *name, size_t len,
    unsigned want, uint64_t now_ms)
{
	struct stripe *s;
	struct ent *e;
	uint64_t h;

	if ((s = lock_name(c, name, len, &h)) == NULL)
		return;
	if ((e = find(s, h, name, len, want, NULL)) != NULL)
		e->hold_ms = now_ms + PD_CACHE_STALE_RECHECK_MS;
	(void)pthread_mutex_unlock(&s->mu);
}

void
pd_cache_forget(struct pd_cache *c, const char *name, size_t len)
{
	struct stripe *s;
	struct ent *e, **pp;
	unsigned want;
	uint64_t h;

	if ((s = lock_name(c, name, len, &h)) == NULL)
		return;
	for (want = 1; want <= (PD_WANT_A | PD_WANT_AAAA); want++)
		if ((e = find(s, h, name, len, want, &pp)) != NULL)
			unlink_free(s, e, pp);
	(void)pthread_mutex_unlock(&s->mu);
}

size_t
pd_cache_count(struct pd_cache *c)
{
	size_t n = 0;
	unsigned i;

	if (c == NULL)
		return 0;
	for (i = 0; i < c->nstripes; i++) {
		(void)pthread_mutex_lock(&c->s[i].mu);
		n += c->s[i].n;
		(void)pthread_mutex_unlock(&c->s[i].mu);
	}
	return n;
}

void
pd_cache_lock_all(struct pd_cache *c)
{
	unsigned i;

	for (i = 0; c != NULL && i < c->nstripes; i++)
		(void)pthread_mutex_lock(&c->s[i].mu);
}

void
pd_cache_unlock_all(struct pd_cache *c)
{
	unsigned i;

	for (i = c != NULL ? c->nstripes : 0; i > 0; i--)
		(void)pthread_mutex_unlock(&c->s[i - 1].mu);
}

void
pd_cache_forked(void)
{
	uint32_t e = atomic_load_explicit(&fork_epoch, memory_order_relaxed);

	/* Never 0: 0 marks "no refresh claimed". */
	atomic_store_explicit(&fork_epoch, e + 1 == 0 ? 1 : e + 1,
	    memory_order_relaxed);
}

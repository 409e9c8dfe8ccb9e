/* pindns DoT backend: upstream health and background probes (health.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resolver/dot/health.h"

enum pd_err
pd_hset_init(struct pd_hset *hs, struct pd_up *ups, unsigned n,
    getdns_dict *ext)
{
	unsigned i;

	memset(hs, 0, sizeof(*hs));
	if ((hs->h = calloc(n, sizeof(*hs->h))) == NULL)
		return PD_ENOMEM;
	hs->ups = ups;
	hs->n = n;
	hs->ext = ext;
	for (i = 0; i < n; i++) {
		hs->h[i].hs = hs;
		hs->h[i].i = i;
	}
	(void)pthread_mutex_init(&hs->mu, NULL);
	return PD_OK;
}

void
pd_hset_fini(struct pd_hset *hs, bool child)
{
	if (hs->h == NULL)
		return;
	free(hs->h);
	hs->h = NULL;
	if (!child)
		(void)pthread_mutex_destroy(&hs->mu);
}

bool
pd_hset_usable(const struct pd_hset *hs, unsigned i)
{
	return !hs->h[i].down;
}

/* "LABEL: why" -> "why": the try names the upstream on its own. */
static const char *
strip_label(const char *label, const char *why)
{
	size_t n = strlen(label);

	if (n > 0 && strncmp(why, label, n) == 0 && why[n] == ':')
		for (why += n + 1; *why == ' '; why++)
			;
	return why;
}

void
pd_hset_fail(struct pd_hset *hs, unsigned i, enum pd_dot_status st,
    const char *detail, uint64_t now)
{
	struct pd_health *h = &hs->h[i];

	(void)pthread_mutex_lock(&hs->mu);
	h->why = st;
	(void)snprintf(h->detail, sizeof(h->detail), "%s",
	    strip_label(hs->ups[i].cfg->label, detail));
	if (!h->down) {
		h->down = true;
		h->since_ms = now;
		h->last_ms = now;
		h->probes = 0;
		h->backoff_ms = PD_HEALTH_PROBE_MIN_MS;
		h->next_probe_ms = now + h->backoff_ms;
		atomic_fetch_add(&hs->ndown, 1);
	}
	(void)pthread_mutex_unlock(&hs->mu);
}

void
pd_hset_ok(struct pd_hset *hs, unsigned i)
{
	struct pd_health *h = &hs->h[i];

	if (!h->down)
		return;
	(void)pthread_mutex_lock(&hs->mu);
	h->down = false;
	atomic_fetch_sub(&hs->ndown, 1);
	(void)pthread_mutex_unlock(&hs->mu);
}

int
pd_hset_due(struct pd_hset *hs, uint64_t now, int *wait_ms)
{
	struct pd_health *h;
	uint64_t soon, when;
	unsigned i;
	bool demand = false;
	int due = -1;

	/* Callers never wake this thread (health.h): it looks at the
	 * demand flag once per PD_HEALTH_DEMAND_MS instead. */
	if (now >= hs->check_ms) {
		demand = atomic_exchange(&hs->demand, false);
		hs->check_ms = now + PD_HEALTH_DEMAND_MS;
	}
	for (i = 0; i < hs->n; i++) {
		h = &hs->h[i];
		if (!h->down || h->probing)
			continue;
		if (demand && h->next_probe_ms > h->last_ms +
		    PD_HEALTH_DEMAND_MS) {
			/* Lookups are failing: no long backoff now. */
			(void)pthread_mutex_lock(&hs->mu);
			h->next_probe_ms = h->last_ms + PD_HEALTH_DEMAND_MS;
			(void)pthread_mutex_unlock(&hs->mu);
		}
		if (h->next_probe_ms <= now) {
			if (due < 0)
				due = (int)i;
			continue;
		}
		when = h->next_probe_ms < hs->check_ms ? h->next_probe_ms :
		    hs->check_ms;
		soon = when - now;
		if (*wait_ms < 0 || soon < (uint64_t)*wait_ms)
			*wait_ms = soon > INT32_MAX ? INT32_MAX : (int)soon;
	}
	if (due >= 0)
		*wait_ms = 0;
	return due;
}

static void
probe_over(struct pd_health *h, bool ok)
{
	struct pd_hset *hs = h->hs;
	uint64_t now = pd_loop_now_ms();

	h->probing = false;
	(void)pthread_mutex_lock(&hs->mu);
	h->last_ms = now;
	if (ok) {
		(void)pthread_mutex_unlock(&hs->mu);
		pd_hset_ok(hs, h->i);
		return;
	}
	h->probes++;
	if (h->probes > 1) {
		h->backoff_ms *= 2;
		if (h->backoff_ms > PD_HEALTH_PROBE_MAX_MS)
			h->backoff_ms = PD_HEALTH_PROBE_MAX_MS;
	}
	h->next_probe_ms = now + h->backoff_ms;
	(void)pthread_mutex_unlock(&hs->mu);
}

static void
on_probe(getdns_context *ctx, getdns_callback_type_t type, getdns_dict *resp,
    void *arg, getdns_transaction_t tid)
{
	struct pd_health *h = arg;

	(void)ctx;
	(void)tid;
	getdns_dict_destroy(resp);
	if (h->hs->stopping || !h->probing)
		return;
	probe_over(h, type == GETDNS_CALLBACK_COMPLETE);
}

void
pd_hset_probe(struct pd_hset *hs, unsigned i, uint64_t now)
{
	struct pd_health *h = &hs->h[i];
	getdns_return_t rc;

	h->probing = true;
	(void)pthread_mutex_lock(&hs->mu);
	h->last_ms = now;
	(void)pthread_mutex_unlock(&hs->mu);
	atomic_fetch_add(&hs->n_probes, 1);
	/* An upstream whose context could not be made: the next attempt
	 * tries to make it again. */
	rc = hs->ups[i].ctx == NULL ? GETDNS_RETURN_GENERIC_ERROR :
	    getdns_general(hs->ups[i].ctx, ".", GETDNS_RRTYPE_SOA, hs->ext,
	    h, &h->tid, on_probe);
	/* 398 or 1 at once: getdns itself still backs the upstream off. */
	if (rc != GETDNS_RETURN_GOOD && h->probing)
		probe_over(h, false);
}

void
pd_hset_stop(struct pd_hset *hs)
{
	unsigned i;

	hs->stopping = true;
	for (i = 0; i < hs->n; i++)
		if (hs->h[i].probing) {
			(void)getdns_cancel_callback(hs->ups[i].ctx,
			    hs->h[i].tid);
			hs->h[i].probing = false;
		}
}

static int
rank(enum pd_dot_status s)
{
	switch (s) {
	case PD_DOT_TLS_AUTH:		return 3;
	case PD_DOT_TIMEOUT:		return 2;
	case PD_DOT_UNREACHABLE:	return 1;
	default:			return 0;
	}
}

bool
pd_hset_all_down(struct pd_hset *hs, struct pd_dot_result *res)
{
	enum pd_dot_status worst = PD_DOT_UNREACHABLE;
	const struct pd_health *h;
	uint64_t now;
	char why[PD_DOT_WHY_MAX + 64];
	unsigned i;

	if (atomic_load_explicit(&hs->ndown, memory_order_relaxed) < hs->n)
		return false;
	now = pd_loop_now_ms();
	(void)pthread_mutex_lock(&hs->mu);
	if (atomic_load(&hs->ndown) < hs->n) {
		(void)pthread_mutex_unlock(&hs->mu);
		return false;
	}
	for (i = 0; i < hs->n; i++) {
		h = &hs->h[i];
		if (rank(h->why) > rank(worst))
			worst = h->why;
		(void)snprintf(why, sizeof(why), "down for %llu ms (%s), "
		    "probed again in %lld ms", (unsigned long long)(now -
		    h->since_ms), h->detail, h->next_probe_ms > now ?
		    (long long)(h->next_probe_ms - now) : 0LL);
		pd_dot_try_add(res->tries, &res->ntries,
		    hs->ups[i].cfg->label, why, 1);
	}
	(void)pthread_mutex_unlock(&hs->mu);
	res->status = worst;
	res->upstream[0] = '\0';
	(void)snprintf(res->detail, sizeof(res->detail), "every upstream is "
	    "down (%u): failed at once, without waiting", hs->n);
	if (!atomic_load_explicit(&hs->demand, memory_order_relaxed))
		atomic_store(&hs->demand, true);
	return true;
}

void
pd_dot_try_add(struct pd_dot_try *tries, unsigned *n, const char *label,
    const char *why, unsigned count)
{
	struct pd_dot_try *t;
	unsigned i;

	why = strip_label(label, why);
	for (i = 0; i < *n; i++)
		if (strcmp(tries[i].upstream, label) == 0 &&
		    strcmp(tries[i].why, why) == 0) {
			/* The same failure again: counted, not repeated. */
			tries[i].count += count;
			return;
		}
	if (*n == PD_DOT_MAX_TRIES)
		return;
	t = &tries[(*n)++];
	(void)snprintf(t->upstream, sizeof(t->upstream), "%s", label);
	(void)snprintf(t->why, sizeof(t->why), "%s", why);
	t->count = count;
}

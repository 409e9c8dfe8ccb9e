/*
 * pindns engine front: the one entry point (resolver/engine.h) between the
 * preload (or `pindns query`) and everything else.
 *
 * A lookup, fastest first:
 *  1. the calling thread's own cache (resolver/tcache.h), keyed by the name
 *     as passed: a hit costs a keyed hash, a few compares and a copy; no
 *     lock, no system call, no shared cache line written;
 *  2. the slow path: normalise the name, match the rule of the policy in
 *     force; `system`, `static` and `deny` are decided here at once (and
 *     kept in the thread cache until the policy changes); `secure` goes
 *     to resolver/engine_secure.c (shared cache, backend, verdicts).
 *
 * The policy in force, its per-policy state, init, shutdown and fork
 * handlers are in resolver/engine_state.c; the audit lines are written
 * here (resolver/log.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "resolver/cache.h"
#include "resolver/clock.h"
#include "resolver/engine.h"
#include "resolver/engine_int.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/report.h"
#include "resolver/stats.h"
#include "resolver/tcache.h"
#include "resolver/verdict.h"

/* ------------------------------------------------------------ logging */

static const char *
action_str(enum pd_action a)
{
	switch (a) {
	case PD_ACTION_SYSTEM:	return "system";
	case PD_ACTION_SECURE:	return "secure";
	case PD_ACTION_STATIC:	return "static";
	case PD_ACTION_DENY:	return "deny";
	}
	return "?";
}

bool
pd_engine_wants_log(const struct pstate *ps, const struct pd_result *res)
{
	enum pd_verdict v = res->verdict;

	if (v == PD_VERDICT_REFUSED || v == PD_VERDICT_FAILED ||
	    pd_result_would_refuse(res))
		return true;
	return ps != NULL && ps->log_all && (v == PD_VERDICT_ACCEPTED ||
	    v == PD_VERDICT_ABSENT);
}

/*
 * The one place a decided lookup is counted (resolver/stats.h): every
 * audited verdict comes here, and so does a thread-cache hit. A secure
 * rule's answer without upstreams tried (x NULL) came from a cache.
 */
static inline void
tally(const struct pd_result *res, const struct pd_rule *r,
    const struct pd_explain *x)
{
	unsigned i, fails = 0;

	if (res->verdict < PD_VERDICT_ACCEPTED)
		return;
	for (i = 0; x != NULL && i < x->ntries; i++)
		fails += x->tries[i].count;
	pd_stats_verdict(res->verdict, res->reason, x == NULL && r != NULL &&
	    r->action == PD_ACTION_SECURE &&
	    (res->verdict == PD_VERDICT_ACCEPTED ||
	    res->verdict == PD_VERDICT_ABSENT), x != NULL, fails);
}

/* x: the upstreams tried (NULL: none). */
void
pd_engine_audit_x(const struct pstate *ps, const char *name,
    const struct pd_rule *r,
    const struct pd_result *res, const char *dnssec, const char *upstream,
    const struct pd_addr *seen, unsigned nseen, double ms,
    const struct pd_explain *x)
{
	struct pd_log *l = ps != NULL ? ps->log : pd_eng.nolog;
	struct pd_log_rec rec;

	tally(res, r, x);
	if (l == NULL || !pd_engine_wants_log(ps, res))
		return;
	memset(&rec, 0, sizeof(rec));
	(void)clock_gettime(CLOCK_REALTIME, &rec.ts);
	rec.pid = (long)getpid();
	rec.name = name;
	rec.rule = r != NULL ? r->name : NULL;
	rec.verdict = res->verdict;
	rec.reason = res->reason;
	rec.dnssec = dnssec;
	rec.upstream = upstream;
	rec.seen = seen;
	rec.nseen = nseen;
	rec.tried = x != NULL ? x->tries : NULL;
	rec.ntried = x != NULL ? x->ntries : 0;
	if (res->verdict == PD_VERDICT_ACCEPTED) {
		rec.accepted = res->addrs;
		rec.naccepted = res->naddrs;
	}
	rec.ms = ms;
	pd_log_write(l, &rec);
}

void
pd_engine_audit(const struct pstate *ps, const char *name,
    const struct pd_rule *r,
    const struct pd_result *res, const char *dnssec, const char *upstream,
    const struct pd_addr *seen, unsigned nseen, double ms)
{
	pd_engine_audit_x(ps, name, r, res, dnssec, upstream, seen, nseen,
	    ms, NULL);
}

/* ------------------------------------------------------------ decisions */

void
pd_engine_explain_begin(struct pd_explain *ex, const struct pd_rule *r)
{
	if (ex == NULL)
		return;
	memset(ex, 0, sizeof(*ex));
	pd_engine_put_str(ex->rule, sizeof(ex->rule), r != NULL ? r->name :
	    "");
	pd_engine_put_str(ex->action, sizeof(ex->action),
	    r != NULL ? action_str(r->action) : "");
	pd_engine_put_str(ex->dnssec, sizeof(ex->dnssec), "off");
}

/* Keep a decision that depends on the policy only, for this thread. */
static void
keep_decision(const char *name, size_t len, unsigned want, uint64_t h,
    uint64_t gen, const struct pd_rule *r, const struct pd_result *res,
    bool log)
{
	struct pd_tcache_meta m;

	memset(&m, 0, sizeof(m));
	m.rule = r;
	m.flags = log ? PD_TC_LOG : 0;
	m.ttl = res->ttl;
	pd_engine_put_str(m.dnssec, sizeof(m.dnssec), "off");
	pd_tcache_put(name, len, want, h, gen, UINT64_MAX, 0, res, &m);
}


static bool
is_localhost(const char *norm, size_t len)
{
	/* RFC 6761 §6.3: localhost and names below it are the host's. */
	return (len == 9 && memcmp(norm, "localhost", 9) == 0) ||
	    (len > 10 && memcmp(norm + len - 10, ".localhost", 10) == 0);
}

/*
 * The rule of ps's policy for name, normalised into norm (*lenp: its
 * length, or -1 when name is not a valid DNS name, which the default rule
 * takes). NULL for a localhost name the default rule would take: the
 * host's own (RFC 6761), libc's whatever the default says. The one
 * matching step of every entry point, so they cannot disagree.
 */
static const struct pd_rule *
rule_for(const struct pstate *ps, const char *name, char *norm, int *lenp)
{
	const struct pd_rule *r;
	int len;

	if ((*lenp = len = pd_name_normalize(name, norm)) < 0)
		return &ps->p->default_rule;
	r = pd_policy_match(ps->p, norm, (size_t)len);
	if (r == &ps->p->default_rule && is_localhost(norm, (size_t)len))
		return NULL;
	return r;
}

static void
slow_lookup(const char *name, size_t rawlen, unsigned want, uint64_t h,
    uint64_t now, struct pd_result *res, struct pd_explain *ex)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, t0 = pd_clock_ns();
	int len;

	ps = pd_engine_current(&gen);
	if (ps == NULL) {
		/* Fail closed (SPEC §3); numeric hosts never get here. */
		pd_engine_explain_begin(ex, NULL);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "no policy could be loaded from %s",
			    pd_eng.policy_path);
		pd_engine_audit(NULL, name, NULL, res, "off", NULL, NULL, 0,
		    (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, NULL, res,
		    pd_eng.nolog != NULL);
		goto out;
	}
	pd_report_notice(ps->p);
	r = rule_for(ps, name, norm, &len);
	pd_engine_explain_begin(ex, r != NULL ? r : &ps->p->default_rule);
	if (len < 0) {
		memset(res, 0, sizeof(*res));
		if (r->action == PD_ACTION_SYSTEM) {
			/* glibc rejects it itself, the way it always has. */
			res->verdict = PD_VERDICT_SYSTEM;
			keep_decision(name, rawlen, want, h, gen, r, res,
			    false);
		} else {
			res->verdict = PD_VERDICT_REFUSED;
			res->reason = PD_REASON_DENY_RULE;
			if (ex != NULL)
				(void)snprintf(ex->detail, sizeof(ex->detail),
				    "not a valid DNS name, and the default "
				    "is %s", action_str(r->action));
			pd_engine_audit(ps, name, r, res, "off", NULL, NULL, 0,
			    (pd_clock_ns() - t0) / 1e6);
			keep_decision(name, rawlen, want, h, gen, r, res, true);
		}
		goto out;
	}
	if (r == NULL) {
		r = &ps->p->default_rule;
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_SYSTEM;
		if (ex != NULL) {
			(void)snprintf(ex->action, sizeof(ex->action),
			    "system");
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "RFC 6761 localhost name: passed to libc");
		}
		keep_decision(name, rawlen, want, h, gen, r, res, false);
		goto out;
	}
	switch (r->action) {
	case PD_ACTION_SYSTEM:
		memset(res, 0, sizeof(*res));
		res->verdict = r->pins != NULL ? PD_VERDICT_SYSTEM_PINNED :
		    PD_VERDICT_SYSTEM;
		keep_decision(name, rawlen, want, h, gen, r, res, false);
		break;
	case PD_ACTION_DENY:
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_DENY_RULE;
		if (ex != NULL)
			(void)snprintf(ex->detail, sizeof(ex->detail),
			    "rule '%s' denies this name", r->name);
		pd_engine_audit(ps, name, r, res, "off", NULL, NULL, 0,
		    (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, r, res, true);
		break;
	case PD_ACTION_STATIC:
		pd_verdict_static(r, norm, want, res, ex);
		pd_engine_audit(ps, name, r, res, "off", NULL, res->addrs,
		    res->naddrs, (pd_clock_ns() - t0) / 1e6);
		keep_decision(name, rawlen, want, h, gen, r, res,
		    pd_engine_wants_log(ps, res));
		break;
	case PD_ACTION_SECURE:
		pd_engine_secure(ps, r, name, rawlen, h, gen, norm, (size_t)len,
		    want, now, t0, res, ex);
		break;
	}
out:
	if (ex != NULL)
		ex->ms = (pd_clock_ns() - t0) / 1e6;
}


/* ------------------------------------------------------------ entry */

/* A thread-cache hit that must be logged (level all, or a refusal). */
static void
audit_hit(const char *name, const struct pd_result *res,
    const struct pd_tcache_meta *m)
{
	struct pstate *ps = atomic_load_explicit(&pd_eng.cur,
	    memory_order_acquire);

	/* No upstream was asked for a cached answer: upstream null. */
	pd_engine_audit(ps, name, m->rule, res, m->dnssec, NULL, res->addrs,
	    res->naddrs, 0.0);
}

void
pd_engine_lookup(const char *name, unsigned want, struct pd_result *res,
    struct pd_explain *ex)
{
	struct pd_tcache_meta m;
	uint64_t now, h;
	size_t len;

	if (!atomic_load_explicit(&pd_eng.inited, memory_order_acquire) &&
	    pd_engine_init(NULL) != 0) {
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		return;
	}
	now = pd_clock_ms();
	if (now >= atomic_load_explicit(&pd_eng.next_poll_ms,
	    memory_order_relaxed))
		pd_engine_poll(now);
	want &= PD_WANT_A | PD_WANT_AAAA;
	if (want == 0)
		want = PD_WANT_A | PD_WANT_AAAA;
	len = strnlen(name, PD_TCACHE_NAME_MAX + 1);
	h = pd_cache_hash(name, len);
	if (ex == NULL && pd_tcache_get(name, len, want, h,
	    atomic_load_explicit(&pd_eng.gen, memory_order_acquire), now, res,
	    &m)) {
		if (m.flags & PD_TC_LOG)
			audit_hit(name, res, &m);
		else
			tally(res, m.rule, NULL);
		return;
	}
	slow_lookup(name, len, want, h, now, res, ex);
}

void
pd_engine_filter(const char *name, const struct pd_addr *addrs, unsigned n,
    uint8_t *keep, struct pd_result *res)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, now, t0 = pd_clock_ns();
	int len;

	if (!atomic_load_explicit(&pd_eng.inited, memory_order_acquire))
		(void)pd_engine_init(NULL);
	now = pd_clock_ms();
	if (atomic_load(&pd_eng.inited) &&
	    now >= atomic_load_explicit(&pd_eng.next_poll_ms,
	    memory_order_relaxed))
		pd_engine_poll(now);
	ps = atomic_load(&pd_eng.inited) ? pd_engine_current(&gen) : NULL;
	if (ps == NULL) {
		memset(keep, 0, n);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_POLICY_UNLOADABLE;
		return;
	}
	pd_report_notice(ps->p);
	/* localhost under the default rule: held against the default. */
	if ((r = rule_for(ps, name, norm, &len)) == NULL)
		r = &ps->p->default_rule;
	if (r->action == PD_ACTION_DENY) {
		/* The policy changed since the lookup: it now denies. */
		memset(keep, 0, n);
		memset(res, 0, sizeof(*res));
		res->verdict = PD_VERDICT_REFUSED;
		res->reason = PD_REASON_DENY_RULE;
		pd_engine_audit(ps, name, r, res, "off", NULL, addrs, n,
		    (pd_clock_ns() - t0) / 1e6);
		return;
	}
	pd_verdict_pins(r, addrs, n, keep, res, NULL);
	pd_engine_audit(ps, name, r, res, "off", NULL, addrs,
	    n < PD_MAX_ADDRS ? n : PD_MAX_ADDRS, (pd_clock_ns() - t0) / 1e6);
}

int
pd_engine_claims(const char *name)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pstate *ps;
	uint64_t gen, now;
	int len;

	if (!atomic_load_explicit(&pd_eng.inited, memory_order_acquire) &&
	    pd_engine_init(NULL) != 0)
		return 1;
	now = pd_clock_ms();
	if (now >= atomic_load_explicit(&pd_eng.next_poll_ms,
	    memory_order_relaxed))
		pd_engine_poll(now);
	if ((ps = pd_engine_current(&gen)) == NULL)
		return 1;	/* every lookup is refused: fail closed */
	if ((r = rule_for(ps, name, norm, &len)) == NULL)
		return 0;
	return r->action != PD_ACTION_SYSTEM || r->pins != NULL;
}

void
pd_engine_refuse_type(const char *name, struct pd_result *res)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r = NULL;
	struct pstate *ps = NULL;
	uint64_t gen;
	int len;

	memset(res, 0, sizeof(*res));
	if (atomic_load(&pd_eng.inited) || pd_engine_init(NULL) == 0)
		ps = pd_engine_current(&gen);
	if (ps != NULL) {
		r = rule_for(ps, name, norm, &len);
		if (r == NULL || r->action == PD_ACTION_SYSTEM) {
			res->verdict = r != NULL && r->pins != NULL ?
			    PD_VERDICT_SYSTEM_PINNED : PD_VERDICT_SYSTEM;
			return;
		}
	}
	res->verdict = PD_VERDICT_REFUSED;
	res->reason = ps != NULL ? PD_REASON_OTHER_TYPE :
	    PD_REASON_POLICY_UNLOADABLE;
	pd_engine_audit(ps, name, r, res, "off", NULL, NULL, 0, 0.0);
}

int
pd_engine_reload(bool force)
{
	uint64_t gen;
	int r;

	if (!atomic_load(&pd_eng.inited))
		return 0;
	if (force)
		pd_watch_force(pd_eng.w);
	r = pd_engine_poll(pd_clock_ms());
	(void)pd_engine_current(&gen);
	return r;
}

const struct pd_host *
pd_engine_host(void)
{
	return pd_eng.host;
}

enum pd_claim
pd_engine_claim(const char *name, unsigned want)
{
	char norm[PD_NAME_MAX + 1];
	const struct pd_rule *r;
	struct pd_result res;
	struct pstate *ps = NULL;
	uint64_t gen;
	int len;

	if (atomic_load(&pd_eng.inited) || pd_engine_init(NULL) == 0)
		ps = pd_engine_current(&gen);
	if (ps == NULL)
		return PD_CLAIM_NOW;	/* refused at once: no policy */
	if ((r = rule_for(ps, name, norm, &len)) == NULL)
		return PD_CLAIM_NONE;
	if (r->action == PD_ACTION_SYSTEM)
		return r->pins != NULL ? PD_CLAIM_PINNED : PD_CLAIM_NONE;
	if (r->action != PD_ACTION_SECURE || len < 0 || want == 0)
		return PD_CLAIM_NOW;
	switch (pd_cache_get(ps->cache, norm, (size_t)len, want, pd_clock_ms(),
	    &res, NULL, NULL)) {
	case PD_CACHE_FRESH:
	case PD_CACHE_REFRESH:
	case PD_CACHE_STALE_HOLD:
		return PD_CLAIM_NOW;
	default:
		return PD_CLAIM_WAIT;
	}
}

static void
ops_lookup(const char *name, unsigned want, struct pd_result *res)
{
	pd_engine_lookup(name, want, res, NULL);
}

__attribute__((visibility("default"))) const struct pd_engine_ops
    pindns_engine_v1 = {
	.abi = PD_ENGINE_ABI,
	.init = pd_engine_init,
	.lookup = ops_lookup,
	.filter = pd_engine_filter,
	.claims = pd_engine_claims,
	.answer = pd_engine_answer,
	.pin_reply = pd_engine_pin_reply,
	.sock = &pd_resp_ops,
	.fork_prepare = pd_engine_fork_prepare,
	.fork_parent = pd_engine_fork_release,
	.fork_child = pd_engine_fork_child,
};

/*
 * pindns engine, inside: what the engine's files share and nothing else
 * includes (the preload and the CLI see resolver/engine.h only).
 *
 *   resolver/engine.c         the entry points of engine.h, the decisions
 *                             a policy alone makes, the audit lines
 *   resolver/engine_state.c   state per policy, generations, the policy
 *                             watch, init and shutdown, fork handlers
 *   resolver/engine_secure.c  a `secure` name: shared cache, flights,
 *                             the getdns backend, refresh-ahead
 */
#ifndef PD_ENGINE_INT_H
#define PD_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"
#include "resolver/engine.h"

struct flight;
struct pd_cache;
struct pd_dot;
struct pd_dot_ops;
struct pd_log;
struct pd_watch;

/* Everything the engine keeps for one loaded policy. */
struct pstate {
	struct pstate		*next;		/* pd_eng.list, under its mu */
	struct pd_policy	*p;
	uint64_t		 gen;		/* engine generation */
	struct pd_cache		*cache;
	struct pd_log		*log;
	bool			 log_all;
	pthread_mutex_t		 mu;		/* the backend instance */
	const struct pd_dot_ops	*ops;
	struct pd_dot		*dot;
	uint32_t		 dot_epoch;	/* fork epoch it was made in */
	unsigned		 dot_users;	/* under mu: threads using dot */
	_Atomic int		 inflight;	/* refreshes not reported */
	pthread_mutex_t		 fmu;		/* flights, fcv */
	pthread_cond_t		 fcv;		/* a flight landed */
	struct flight		*flights;	/* misses being resolved */
};

/* The engine's one instance (resolver/engine_state.c). */
struct pd_engine_state {
	pthread_mutex_t		 mu;		/* list, cur updates, init */
	_Atomic bool		 inited;
	struct pd_watch		*w;
	struct pstate		*list;
	_Atomic(struct pstate *) cur;		/* of the policy in force */
	_Atomic uint64_t	 gen;		/* its generation (or the
						 * no-policy one) */
	uint64_t		 gen_counter;	/* under mu */
	_Atomic uint64_t	 next_poll_ms;
	_Atomic uint32_t	 fork_epoch;
	char			*policy_path;
	char			*pubkey_path;
	char			*log_spec;	/* override of the policy's */
	const struct pd_host	*host;
	struct pd_log		*nolog;		/* log_spec, without a policy */
};
extern struct pd_engine_state pd_eng;

/* engine_state.c */

/*
 * The pstate of the policy in force (NULL: none loaded) and its
 * generation in *genp. Makes the pstate on first sight of a policy.
 */
struct pstate *pd_engine_current(uint64_t *genp);
/*
 * Check the policy file (at most once a second: now is pd_clock_ms()),
 * reap idle backends and reopen rotated logs. pd_watch_poll()'s return.
 */
int	pd_engine_poll(uint64_t now);
/* The fork handlers (see engine_state.c for the lock order). */
void	pd_engine_fork_prepare(void);
void	pd_engine_fork_release(void);
void	pd_engine_fork_child(void);

/* engine.c */

/* Whether res is an audit line under ps's log level (ps may be NULL). */
bool	pd_engine_wants_log(const struct pstate *ps,
	    const struct pd_result *res);
/*
 * One audit line when pd_engine_wants_log(): to ps's log, or without a
 * policy to PINDNS_LOG's. x: the upstreams tried (NULL: none).
 */
void	pd_engine_audit_x(const struct pstate *ps, const char *name,
	    const struct pd_rule *r, const struct pd_result *res,
	    const char *dnssec, const char *upstream,
	    const struct pd_addr *seen, unsigned nseen, double ms,
	    const struct pd_explain *x);
void	pd_engine_audit(const struct pstate *ps, const char *name,
	    const struct pd_rule *r, const struct pd_result *res,
	    const char *dnssec, const char *upstream,
	    const struct pd_addr *seen, unsigned nseen, double ms);
/* Start ex (may be NULL) for rule r (NULL: no policy). */
void	pd_engine_explain_begin(struct pd_explain *ex,
	    const struct pd_rule *r);

/* engine_secure.c */

/*
 * A name of the `secure` rule r (norm: normalised, len bytes; name and
 * rawlen, h: as asked, for the thread cache of generation gen): from the
 * shared cache, a flight in progress or the backend; judged, cached,
 * logged. now in ms, t0 in ns (the lookup's start). ex may be NULL.
 */
void	pd_engine_secure(struct pstate *ps, const struct pd_rule *r,
	    const char *name, size_t rawlen, uint64_t h, uint64_t gen,
	    const char *norm, size_t len, unsigned want, uint64_t now,
	    uint64_t t0, struct pd_result *res, struct pd_explain *ex);
/* Free the backends of replaced policies nobody uses (poll, E.mu free). */
void	pd_engine_reap_backends(void);

/*
 * snprintf(dst, size, "%s", src) without the format machinery: a cached
 * answer fills its explanation with a dozen of these (callgrind: 40 % of
 * a cached pindns serve answer went to snprintf).
 */
static inline void
pd_engine_put_str(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

#endif /* PD_ENGINE_INT_H */

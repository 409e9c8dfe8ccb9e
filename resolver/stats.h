/*
 * pindns counters and the per-process record (issue 17, issue 14 part 5).
 *
 * Counting: each thread counts into a slot of its own (a block of 64-bit
 * counters that only it writes, with a relaxed load and store: no lock,
 * no read-modify-write, no cache line another thread writes). A thread
 * finds its slot through one initial-exec TLS pointer, as the thread
 * cache does. Readers add the slots up; a slot whose thread exits is
 * handed, counts and all, to the next new thread, so sums never drop.
 * When every slot is taken, the remaining threads share the last one
 * with atomic adds.
 *
 * The slots live in one mapping: a file, the process's record, when the
 * process is one that publishes (the preload's engine, pindns serve),
 * else anonymous memory. The record is made on the first claimed lookup
 * (a process that never resolves a claimed name makes none), mode 0600,
 * in the runtime directory (pd_stats_dir), named by the pid, and removed
 * at exit. Its header carries what the engine has in force (policy path,
 * sha256, key id, when loaded), written under a sequence count when the
 * policy changes; the counters are live, so `pindns status PID` reads
 * them at any moment without asking the process anything.
 *
 * Fork: the child's counts start at zero in memory of its own (its
 * parent's record is never written by the child), and the child makes
 * its own record at its next engine poll (at most a second after its
 * first lookup).
 */
#ifndef PD_STATS_H
#define PD_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "resolver/engine.h"

/* Verdict rows of the counter table (struct pd_stats_view.lookups). */
enum pd_stats_row {
	PD_ROW_ACCEPTED = 0,
	PD_ROW_ABSENT,
	PD_ROW_REFUSED,
	PD_ROW_FAILED,
	PD_ROW_WOULD_REFUSE,	/* report mode: answered, logged would-refuse */
	PD_ROW_N
};
#define PD_STATS_REASONS	16	/* > every enum pd_reason */

/* pindns serve's answer latency buckets: upper bounds in microseconds. */
#define PD_STATS_LAT_N		16	/* the last is +Inf */
extern const uint32_t pd_stats_lat_le_us[PD_STATS_LAT_N - 1];

/* Transports of pindns serve's queries. */
enum pd_stats_tr { PD_TR_UDP = 0, PD_TR_TCP, PD_TR_N };
/* What pindns serve did with a query. */
enum pd_stats_act {
	PD_QA_ANSWERED = 0,	/* by the engine: claimed A/AAAA */
	PD_QA_FORWARDED,	/* unclaimed: to the system's nameserver */
	PD_QA_REFUSED,		/* not a query it answers (REFUSED) */
	PD_QA_N
};

/* Words of one slot: the counters, then the shared flag. */
#define PD_ST_LOOKUP		0	/* + row * PD_STATS_REASONS + reason */
#define PD_ST_CACHE_HIT		(PD_ROW_N * PD_STATS_REASONS)
#define PD_ST_CACHE_MISS	(PD_ST_CACHE_HIT + 1)
#define PD_ST_UPSTREAM_FAIL	(PD_ST_CACHE_HIT + 2)
#define PD_ST_QUERY		(PD_ST_CACHE_HIT + 3) /* + tr * QA_N + act */
#define PD_ST_LAT		(PD_ST_QUERY + PD_TR_N * PD_QA_N)
#define PD_ST_LAT_SUM_US	(PD_ST_LAT + PD_STATS_LAT_N)
#define PD_ST_LAT_COUNT		(PD_ST_LAT_SUM_US + 1)
#define PD_ST_SHARED		127	/* nonzero: the shared overflow slot */
#define PD_ST_WORDS		128

struct pd_stats_slot {
	_Atomic uint64_t	c[PD_ST_WORDS];
};

/* Layout of the record; readers check every field. */
#define PD_STATS_MAGIC		"pindns-record\n"	/* 14 bytes and NUL */
#define PD_STATS_VERSION	1u
#define PD_STATS_SLOTS		128
#define PD_STATS_HEAD		4096
#define PD_STATS_SIZE		(PD_STATS_HEAD + PD_STATS_SLOTS * \
				    sizeof(struct pd_stats_slot))

/* What the engine has in force, as the record says it. */
struct pd_stats_info {
	char		role[16];	/* "preload", "serve" */
	char		policy[1024];	/* path the engine reads */
	bool		loaded;		/* a policy is in force */
	char		sha256[65];	/* of its bytes (hex) */
	char		keyid[17];	/* signing key; "" unsigned */
	uint64_t	loads;		/* policies installed so far */
	int64_t		loaded_at;	/* unix time it came in force */
	int64_t		started_at;	/* unix time the record was made */
};

/* A record's header as stored (the first PD_STATS_HEAD bytes). */
struct pd_stats_head {
	char			magic[16];
	uint32_t		version;
	uint32_t		size;		/* PD_STATS_SIZE */
	uint32_t		nslots;
	uint32_t		slot_size;
	int64_t			pid;
	uint64_t		starttime;	/* /proc/PID/stat field 22 */
	_Atomic uint64_t	seq;		/* odd while info is written */
	struct pd_stats_info	info;
};

/* Counters summed over a process's slots. */
struct pd_stats_view {
	long			pid;
	struct pd_stats_info	info;
	uint64_t		c[PD_ST_WORDS];
};

/* ------------------------------------------------------------ counting */

/* The calling thread's slot; NULL until it first counts. */
extern __thread struct pd_stats_slot *pd_stats_tls
    __attribute__((tls_model("initial-exec")));

/* The first count of a thread (or a full slot table): stats.c. */
void	pd_stats_verdict_slow(enum pd_verdict v, enum pd_reason why,
	    bool cached, bool miss, unsigned upstream_fails);

static inline void
pd_stats_bump(struct pd_stats_slot *s, unsigned i, uint64_t n)
{
	atomic_store_explicit(&s->c[i], atomic_load_explicit(&s->c[i],
	    memory_order_relaxed) + n, memory_order_relaxed);
}

/* The counter of a lookup that ended in verdict v for reason why. */
static inline unsigned
pd_stats_cell(enum pd_verdict v, enum pd_reason why)
{
	unsigned row = v == PD_VERDICT_ACCEPTED && why != PD_REASON_NONE &&
	    why != PD_REASON_STALE ? PD_ROW_WOULD_REFUSE :
	    (unsigned)(v - PD_VERDICT_ACCEPTED);

	return PD_ST_LOOKUP + row * PD_STATS_REASONS +
	    ((unsigned)why & (PD_STATS_REASONS - 1));
}

/*
 * Count one decided lookup of a claimed name: verdict v (ACCEPTED and
 * later; SYSTEM ones are not counted) for reason why, answered from a
 * cache (cached) or after asking upstreams (miss), upstream_fails of
 * which gave no answer. The engine calls it where it audits a verdict.
 */
static inline void
pd_stats_verdict(enum pd_verdict v, enum pd_reason why, bool cached,
    bool miss, unsigned upstream_fails)
{
	struct pd_stats_slot *s = pd_stats_tls;

	if (s == NULL || atomic_load_explicit(&s->c[PD_ST_SHARED],
	    memory_order_relaxed) != 0 || v < PD_VERDICT_ACCEPTED) {
		pd_stats_verdict_slow(v, why, cached, miss, upstream_fails);
		return;
	}
	pd_stats_bump(s, pd_stats_cell(v, why), 1);
	if (cached)
		pd_stats_bump(s, PD_ST_CACHE_HIT, 1);
	if (miss)
		pd_stats_bump(s, PD_ST_CACHE_MISS, 1);
	if (upstream_fails != 0)
		pd_stats_bump(s, PD_ST_UPSTREAM_FAIL, upstream_fails);
}

/* pindns serve: one query over tr, what was done, answered in us µs
 * (the latency is counted for answers the engine built only). */
void	pd_stats_query(enum pd_stats_tr tr, enum pd_stats_act act,
	    uint64_t us);

/* ------------------------------------------------------------ record */

/*
 * Publish a record (call before the first lookup): the preload's engine
 * and pindns serve do; pindns query and the unit tests do not. role is
 * stored in it ("preload", "serve").
 */
void	pd_stats_publish(const char *role);

/*
 * The policy in force changed (p NULL: none loads); path is the file the
 * engine reads. Cheap: a copy under the record's sequence count.
 */
struct pd_policy;
void	pd_stats_policy(const char *path, const struct pd_policy *p);

/* Once a second, from the engine's policy poll: a child's own record. */
void	pd_stats_tick(void);

/* Remove this process's record (before _exit; exit() does it itself). */
void	pd_stats_unpublish(void);

/*
 * fork(): the engine's handlers take the lock (a leaf, taken last) in
 * prepare and release it on both sides; in the child, pd_stats_forked()
 * first (under the lock).
 */
void	pd_stats_lock(void);
void	pd_stats_unlock(void);
void	pd_stats_forked(void);

/* This process's counters now (pindns serve's metrics, tests). */
void	pd_stats_snapshot(struct pd_stats_view *v);

/* ------------------------------------------------------------ reading */

/*
 * The runtime directory of a process with the given environment values
 * (NULL: unset) and effective uid: $PINDNS_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/pindns, else /run/pindns for root, else
 * /tmp/pindns-UID. -1 when it does not fit.
 */
int	pd_stats_dir(const char *pindns_dir, const char *xdg_dir, uid_t uid,
	    char *out, size_t size);

/*
 * Read the record at path for process pid whose effective uid is uid
 * and whose /proc start time is starttime (0: not checked). The record is
 * input from outside: it is refused (-1, why says it) unless the file is
 * a regular file owned by uid, writable by nobody else, exactly
 * PD_STATS_SIZE bytes, of this version, for this pid and start time,
 * and its header reads consistently; its strings are cut to their
 * fields. 0: *v filled.
 */
int	pd_stats_read(const char *path, long pid, uid_t uid,
	    uint64_t starttime, struct pd_stats_view *v, char *why,
	    size_t whylen);

/* /proc/PID/stat's start time (field 22); 0 when it cannot be read. */
uint64_t pd_stats_starttime(long pid);

/*
 * v in Prometheus text exposition format (node_exporter's textfile
 * collector): pindns_lookups_total{verdict,reason}, cache hits and
 * misses, upstream failures, serve's queries and its answer latency
 * histogram, the policy in force. 0, or -1 on a write error.
 */
int	pd_stats_prom(const struct pd_stats_view *v, FILE *f);

/*
 * Write v to path atomically: a temporary file in the same directory,
 * then rename(2), mode 0644 (read by node_exporter). -1 with errno.
 */
int	pd_stats_prom_file(const struct pd_stats_view *v, const char *path);

#endif /* PD_STATS_H */

/*
 * pindns counters from the outside: reading another process's record
 * (pindns status, pindns stats) and writing counters in Prometheus text
 * format (pindns serve's metrics file). See resolver/stats.h.
 *
 * A record is written by another process, maybe another user: nothing
 * in it is trusted before the file itself checks out (owner, mode, size,
 * header), and then only as text cut to its fields and numbers added up.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolver/stats.h"

#define TRIES	8	/* header reads while the writer updates it */

__attribute__((format(printf, 3, 4))) static int
refuse(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

static void
cut(char *s, size_t size)
{
	s[size - 1] = '\0';
}

/* The directory holding path: ours to trust only if uid's, 0700-ish. */
static int
dir_ok(const char *path, uid_t uid, char *why, size_t whylen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat sb;
	size_t n;

	if (slash == NULL)
		return 0;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof(dir))
		return refuse(why, whylen, "path too long");
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (lstat(dir, &sb) != 0)
		return refuse(why, whylen, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(sb.st_mode) || sb.st_uid != uid ||
	    (sb.st_mode & 022) != 0)
		return refuse(why, whylen, "%s is not a directory of uid %lu "
		    "writable by it alone: record not trusted", dir,
		    (unsigned long)uid);
	return 0;
}

int
pd_stats_read(const char *path, long pid, uid_t uid, uint64_t starttime,
    struct pd_stats_view *v, char *why, size_t whylen)
{
	struct pd_stats_head h, again;
	const struct pd_stats_slot *slots;
	struct stat sb;
	uint8_t *buf = NULL;
	uint64_t w;
	unsigned i, j, t;
	int fd, rc = -1;

	if (dir_ok(path, uid, why, whylen) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) < 0)
		return refuse(why, whylen, "%s: %s", path, errno == ENOENT ?
		    "no record (no claimed name looked up yet, or records "
		    "are kept elsewhere)" : strerror(errno));
	if (fstat(fd, &sb) != 0) {
		refuse(why, whylen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		refuse(why, whylen, "%s: not a regular file: record not "
		    "trusted", path);
		goto out;
	}
	if (sb.st_uid != uid) {
		refuse(why, whylen, "%s: owned by uid %lu, not by the "
		    "process's uid %lu: record not trusted", path,
		    (unsigned long)sb.st_uid, (unsigned long)uid);
		goto out;
	}
	if ((sb.st_mode & 022) != 0) {
		refuse(why, whylen, "%s: writable by group or others (mode "
		    "%04o): record not trusted", path,
		    (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (sb.st_size != (off_t)PD_STATS_SIZE) {
		refuse(why, whylen, "%s: %lld bytes, not %zu (truncated or "
		    "not a record of this version): record not trusted",
		    path, (long long)sb.st_size, (size_t)PD_STATS_SIZE);
		goto out;
	}
	if ((buf = malloc(PD_STATS_SIZE)) == NULL) {
		refuse(why, whylen, "out of memory");
		goto out;
	}
	for (t = 0; t < TRIES; t++) {
		if (pread(fd, buf, PD_STATS_SIZE, 0) != (ssize_t)PD_STATS_SIZE ||
		    pread(fd, &again, sizeof(again), 0) !=
		    (ssize_t)sizeof(again)) {
			refuse(why, whylen, "%s: short read: record not "
			    "trusted", path);
			goto out;
		}
		memcpy(&h, buf, sizeof(h));
		if ((atomic_load(&h.seq) & 1) == 0 &&
		    atomic_load(&h.seq) == atomic_load(&again.seq))
			break;
	}
	if (t == TRIES) {
		refuse(why, whylen, "%s: the header kept changing while "
		    "read", path);
		goto out;
	}
	if (memcmp(h.magic, PD_STATS_MAGIC, sizeof(PD_STATS_MAGIC)) != 0 ||
	    h.version != PD_STATS_VERSION || h.size != PD_STATS_SIZE ||
	    h.nslots != PD_STATS_SLOTS ||
	    h.slot_size != sizeof(struct pd_stats_slot)) {
		refuse(why, whylen, "%s: not a pindns record of version %u: "
		    "record not trusted", path, PD_STATS_VERSION);
		goto out;
	}
	if (h.pid != pid) {
		refuse(why, whylen, "%s: made by pid %lld, not %ld: record "
		    "not trusted", path, (long long)h.pid, pid);
		goto out;
	}
	if (starttime != 0 && h.starttime != starttime) {
		refuse(why, whylen, "%s: left by an earlier process with pid "
		    "%ld (stale)", path, pid);
		goto out;
	}
	memset(v, 0, sizeof(*v));
	v->pid = pid;
	v->info = h.info;
	cut(v->info.role, sizeof(v->info.role));
	cut(v->info.policy, sizeof(v->info.policy));
	cut(v->info.sha256, sizeof(v->info.sha256));
	cut(v->info.keyid, sizeof(v->info.keyid));
	slots = (const struct pd_stats_slot *)(const void *)(buf +
	    PD_STATS_HEAD);
	for (i = 0; i < PD_STATS_SLOTS; i++)
		for (j = 0; j < PD_ST_SHARED; j++) {
			memcpy(&w, (const void *)&slots[i].c[j], sizeof(w));
			v->c[j] += w;
		}
	rc = 0;
out:
	free(buf);
	(void)close(fd);
	return rc;
}

/* ------------------------------------------------------------ Prometheus */

/* The (verdict, reason) pairs a lookup can end in, as the audit log. */
static const struct {
	enum pd_stats_row	row;
	enum pd_reason		why;
} pairs[] = {
	{ PD_ROW_ACCEPTED, PD_REASON_NONE },
	{ PD_ROW_ACCEPTED, PD_REASON_STALE },
	{ PD_ROW_WOULD_REFUSE, PD_REASON_OUTSIDE_PIN },
	{ PD_ROW_WOULD_REFUSE, PD_REASON_CNAME_ESCAPE },
	{ PD_ROW_ABSENT, PD_REASON_NXDOMAIN },
	{ PD_ROW_ABSENT, PD_REASON_NODATA },
	{ PD_ROW_REFUSED, PD_REASON_BOGUS },
	{ PD_ROW_REFUSED, PD_REASON_INSECURE },
	{ PD_ROW_REFUSED, PD_REASON_OUTSIDE_PIN },
	{ PD_ROW_REFUSED, PD_REASON_CNAME_ESCAPE },
	{ PD_ROW_REFUSED, PD_REASON_TLS_AUTH },
	{ PD_ROW_REFUSED, PD_REASON_DENY_RULE },
	{ PD_ROW_REFUSED, PD_REASON_POLICY_UNLOADABLE },
	{ PD_ROW_REFUSED, PD_REASON_OTHER_TYPE },
	{ PD_ROW_FAILED, PD_REASON_TIMEOUT },
	{ PD_ROW_FAILED, PD_REASON_UNREACHABLE },
};

static const char *const rows[PD_ROW_N] = {
	"accepted", "absent", "refused", "failed", "would-refuse"
};
static const char *const trs[PD_TR_N] = { "udp", "tcp" };
static const char *const acts[PD_QA_N] = {
	"answered", "forwarded", "refused"
};

/* A label value: backslash, quote and line feed escaped. */
static void
label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

int
pd_stats_prom(const struct pd_stats_view *v, FILE *f)
{
	const uint64_t *c = v->c;
	uint64_t cum = 0;
	unsigned i, t, a;

	fprintf(f, "# HELP pindns_lookups_total Lookups of claimed names, "
	    "by verdict and reason (the audit log's).\n"
	    "# TYPE pindns_lookups_total counter\n");
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		fprintf(f, "pindns_lookups_total{verdict=\"%s\",reason=\"%s\"}"
		    " %llu\n", rows[pairs[i].row], pairs[i].why ==
		    PD_REASON_NONE ? "" : pd_reason_str(pairs[i].why),
		    (unsigned long long)c[PD_ST_LOOKUP + pairs[i].row *
		    PD_STATS_REASONS + pairs[i].why]);
	fprintf(f, "# HELP pindns_cache_hits_total Lookups answered from "
	    "the cache.\n# TYPE pindns_cache_hits_total counter\n"
	    "pindns_cache_hits_total %llu\n"
	    "# HELP pindns_cache_misses_total Lookups that asked the "
	    "upstreams.\n# TYPE pindns_cache_misses_total counter\n"
	    "pindns_cache_misses_total %llu\n"
	    "# HELP pindns_upstream_failures_total Upstreams tried that gave "
	    "no answer.\n# TYPE pindns_upstream_failures_total counter\n"
	    "pindns_upstream_failures_total %llu\n",
	    (unsigned long long)c[PD_ST_CACHE_HIT],
	    (unsigned long long)c[PD_ST_CACHE_MISS],
	    (unsigned long long)c[PD_ST_UPSTREAM_FAIL]);
	fprintf(f, "# HELP pindns_queries_total DNS queries pindns serve "
	    "received, by transport and what it did.\n"
	    "# TYPE pindns_queries_total counter\n");
	for (t = 0; t < PD_TR_N; t++)
		for (a = 0; a < PD_QA_N; a++)
			fprintf(f, "pindns_queries_total{transport=\"%s\","
			    "action=\"%s\"} %llu\n", trs[t], acts[a],
			    (unsigned long long)c[PD_ST_QUERY + t * PD_QA_N +
			    a]);
	fprintf(f, "# HELP pindns_answer_duration_seconds Time from a "
	    "query to pindns serve's own answer.\n"
	    "# TYPE pindns_answer_duration_seconds histogram\n");
	for (i = 0; i < PD_STATS_LAT_N; i++) {
		cum += c[PD_ST_LAT + i];
		if (i < PD_STATS_LAT_N - 1)
			fprintf(f, "pindns_answer_duration_seconds_bucket{le="
			    "\"%g\"} %llu\n", pd_stats_lat_le_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			fprintf(f, "pindns_answer_duration_seconds_bucket{le="
			    "\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "pindns_answer_duration_seconds_sum %.6f\n"
	    "pindns_answer_duration_seconds_count %llu\n",
	    c[PD_ST_LAT_SUM_US] / 1e6, (unsigned long long)c[PD_ST_LAT_COUNT]);
	fprintf(f, "# HELP pindns_policy_info The policy in force (1), or "
	    "none loads (0).\n# TYPE pindns_policy_info gauge\n"
	    "pindns_policy_info{path=\"");
	label(f, v->info.policy);
	fprintf(f, "\",sha256=\"%s\",key_id=\"%s\"} %d\n", v->info.sha256,
	    v->info.keyid, v->info.loaded ? 1 : 0);
	fprintf(f, "# HELP pindns_policy_loads_total Policies put in force "
	    "since start.\n# TYPE pindns_policy_loads_total counter\n"
	    "pindns_policy_loads_total %llu\n"
	    "# HELP pindns_policy_loaded_timestamp_seconds When the policy "
	    "in force was put in force.\n"
	    "# TYPE pindns_policy_loaded_timestamp_seconds gauge\n"
	    "pindns_policy_loaded_timestamp_seconds %lld\n",
	    (unsigned long long)v->info.loads,
	    (long long)v->info.loaded_at);
	return ferror(f) ? -1 : 0;
}

int
pd_stats_prom_file(const struct pd_stats_view *v, const char *path)
{
	char tmp[4200];
	FILE *f;
	int fd, e;

	if (snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	(void)unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644)) < 0)
		return -1;
	if ((f = fdopen(fd, "w")) == NULL) {
		e = errno;
		(void)close(fd);
		goto fail;
	}
	(void)fchmod(fd, 0644);	/* whatever the umask: node_exporter reads */
	if (pd_stats_prom(v, f) != 0 || fflush(f) != 0 || fsync(fd) != 0) {
		e = errno != 0 ? errno : EIO;
		(void)fclose(f);
		goto fail;
	}
	if (fclose(f) != 0) {
		e = errno;
		goto fail;
	}
	if (rename(tmp, path) != 0) {
		e = errno;
		goto fail;
	}
	return 0;
fail:
	(void)unlink(tmp);
	errno = e;
	return -1;
}

/*
 * pindns status [PID...] (issue 17, part 4): for running processes, is
 * libpindns.so mapped (/proc/PID/maps), has its engine been loaded (a
 * name lookup happened), which policy file its environment names
 * (/proc/PID/environ: root or the same user), and what that file is now:
 * does it load, its sha256 (as `pindns digest` prints it), the key id of
 * its signature. Without PID: every process this user can see that has
 * the preload mapped.
 *
 * From the process's own record (resolver/stats.h, issue 17 part 5):
 * the policy version it has in force (sha256, key id, when loaded) and
 * its counts. A record is input from outside: pd_stats_read() refuses a
 * foreign-owned, writable-by-others, truncated or stale one, and the
 * reason is printed instead.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "resolver/stats.h"

#define USAGE	"status [PID...]"

struct proc {
	bool	preload, engine;
	char	lib[512];
	char	policy[4096];	/* PINDNS_POLICY, or "" */
	char	pubkey[4096];	/* PINDNS_PUBKEY, or "" */
	int	env_errno;	/* 0: environ read */
};

/* What maps says about our objects. -1 with errno: not readable. */
static int
read_maps(long pid, struct proc *pr)
{
	char path[64], line[4096], *p;
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%ld/maps", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strchr(line, '/')) == NULL)
			continue;
		p[strcspn(p, "\n")] = '\0';
		if (strstr(p, "/libpindns.so") != NULL && !pr->preload) {
			pr->preload = true;
			(void)snprintf(pr->lib, sizeof(pr->lib), "%s", p);
		}
		if (strstr(p, "/libpindns-engine.so") != NULL)
			pr->engine = true;
	}
	(void)fclose(f);
	return 0;
}

static void
read_environ(long pid, struct proc *pr)
{
	if (pd_cli_proc_env(pid, "PINDNS_POLICY", pr->policy,
	    sizeof(pr->policy)) < 0 || pd_cli_proc_env(pid, "PINDNS_PUBKEY",
	    pr->pubkey, sizeof(pr->pubkey)) < 0)
		pr->env_errno = errno;
}

static void
proc_name(long pid, char *out, size_t size)
{
	char path[64];
	FILE *f;

	(void)snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	out[0] = '\0';
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(out, (int)size, f) == NULL)
			out[0] = '\0';
		(void)fclose(f);
	}
	out[strcspn(out, "\n")] = '\0';
}

/* The policy file as it is now, loaded as the process would. */
static void
show_file(long pid, const struct proc *pr)
{
	char path[8192], cwd[4096], lk[64], hex[65], keyid[17], sig[8200];
	const char *pubkey = NULL;
	struct pd_policy *p = NULL;
	struct pd_error e;
	uint8_t sha[32];
	ssize_t n;

	if (pr->policy[0] == '/' || pr->policy[0] == '\0')
		(void)snprintf(path, sizeof(path), "%s", pr->policy[0] ?
		    pr->policy : PD_POLICY_DEFAULT_PATH);
	else {
		/* Relative: the preload took it from its cwd then. */
		(void)snprintf(lk, sizeof(lk), "/proc/%ld/cwd", pid);
		if ((n = readlink(lk, cwd, sizeof(cwd) - 1)) < 0)
			n = 0;
		cwd[n] = '\0';
		(void)snprintf(path, sizeof(path), "%s/%s", cwd, pr->policy);
	}
	printf("  policy:    %s%s\n", path, pr->policy[0] == '\0' ?
	    " (PINDNS_POLICY unset: the default)" : "");
	if (pr->pubkey[0] != '\0')
		pubkey = pr->pubkey;
	else if (access(PD_PUBKEY_DEFAULT_PATH, F_OK) == 0 || errno != ENOENT)
		pubkey = PD_PUBKEY_DEFAULT_PATH;
	if (pd_file_sha256(path, PD_POLICY_MAX_BYTES, sha, &e) != PD_OK) {
		printf("  file now:  %s\n", e.msg);
		return;
	}
	pd_cli_hex(sha, sizeof(sha), hex);
	printf("  file now:  sha256 %s\n", hex);
	if (pd_policy_load(path, pubkey, &p, &e) != PD_OK)
		printf("             does not load (a running process keeps "
		    "the last version that did): %s\n", e.msg);
	else
		printf("             loads%s\n", pubkey == NULL ?
		    ", not signed (no public key configured)" :
		    ", signature valid");
	pd_policy_free(p);
	(void)snprintf(sig, sizeof(sig), "%s.sig", path);
	if (pubkey != NULL && pd_sig_keyid(sig, keyid, &e) == PD_OK)
		printf("             signed by key %s (public key %s)\n",
		    keyid, pubkey);
}

/* What the process says it has in force, and its counts. */
static void
show_record(long pid)
{
	struct pd_stats_view v;
	char why[1024], when[64];
	uint64_t n[PD_ROW_N], total = 0;
	unsigned i, j, k;
	time_t t;
	struct tm tm;

	if (pd_cli_record(pid, &v, why, sizeof(why)) != 0) {
		printf("  record:    %s\n", why);
		return;
	}
	t = (time_t)v.info.loaded_at;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)snprintf(when, sizeof(when), "@%lld", (long long)t);
	if (!v.info.loaded)
		printf("  in force:  no policy (every claimed lookup refused) "
		    "since %s\n", when);
	else
		printf("  in force:  %s\n             sha256 %s, %s%s, since %s "
		    "(load %llu)\n", v.info.policy,
		    v.info.sha256[0] ? v.info.sha256 : "?", v.info.keyid[0] ?
		    "signed by key " : "unsigned", v.info.keyid, when,
		    (unsigned long long)v.info.loads);
	for (i = 0; i < PD_ROW_N; i++) {
		n[i] = 0;
		for (j = 0; j < PD_STATS_REASONS; j++)
			n[i] += v.c[PD_ST_LOOKUP + i * PD_STATS_REASONS + j];
		total += n[i];
	}
	printf("  counts:    %llu lookups: %llu accepted (%llu stale), %llu "
	    "absent, %llu refused, %llu failed, %llu would-refuse\n",
	    (unsigned long long)total, (unsigned long long)n[PD_ROW_ACCEPTED],
	    (unsigned long long)v.c[PD_ST_LOOKUP + PD_ROW_ACCEPTED *
	    PD_STATS_REASONS + PD_REASON_STALE],
	    (unsigned long long)n[PD_ROW_ABSENT],
	    (unsigned long long)n[PD_ROW_REFUSED],
	    (unsigned long long)n[PD_ROW_FAILED],
	    (unsigned long long)n[PD_ROW_WOULD_REFUSE]);
	printf("             cache %llu hits, %llu misses; %llu upstream "
	    "failures\n", (unsigned long long)v.c[PD_ST_CACHE_HIT],
	    (unsigned long long)v.c[PD_ST_CACHE_MISS],
	    (unsigned long long)v.c[PD_ST_UPSTREAM_FAIL]);
	for (i = PD_ROW_REFUSED; i <= PD_ROW_FAILED; i++) {
		for (j = 1, k = 0; j < PD_STATS_REASONS; j++) {
			if (v.c[PD_ST_LOOKUP + i * PD_STATS_REASONS + j] == 0)
				continue;
			printf("%s %s %llu", k++ == 0 ? i == PD_ROW_REFUSED ?
			    "             refused:" : "             failed: " :
			    ",", pd_reason_str((enum pd_reason)j),
			    (unsigned long long)v.c[PD_ST_LOOKUP + i *
			    PD_STATS_REASONS + j]);
		}
		if (k > 0)
			putchar('\n');
	}
}

/* 0: protected, 2: not (or cannot tell). */
static int
show(long pid, bool quiet_unprotected)
{
	struct proc pr;
	char comm[64];

	memset(&pr, 0, sizeof(pr));
	if (read_maps(pid, &pr) != 0) {
		if (!quiet_unprotected)
			printf("%ld: %s\n", pid, errno == ENOENT ?
			    "no such process" : strerror(errno));
		return 2;
	}
	if (!pr.preload && quiet_unprotected)
		return 2;
	proc_name(pid, comm, sizeof(comm));
	printf("%ld (%s):\n", pid, comm);
	if (!pr.preload) {
		printf("  preload:   NOT loaded: libc resolves every name of "
		    "this process\n");
		return 2;
	}
	printf("  preload:   loaded (%s)\n", pr.lib);
	printf("  engine:    %s\n", pr.engine ? "loaded (names have been "
	    "looked up)" : "not loaded yet (no name lookup so far)");
	read_environ(pid, &pr);
	if (pr.env_errno != 0)
		printf("  policy:    cannot read the environment: %s (run as "
		    "root or as the process's user)\n",
		    strerror(pr.env_errno));
	else
		show_file(pid, &pr);
	show_record(pid);
	return 0;
}

int
pd_cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	struct dirent *d;
	DIR *dir;
	char *end;
	long pid;
	int c, i, rc = 0, found = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1)
		return pd_cli_bad_option("status", USAGE, c, argv);
	for (i = optind; i < argc; i++) {
		errno = 0;
		pid = strtol(argv[i], &end, 10);
		if (errno != 0 || *end != '\0' || pid <= 0)
			return pd_cli_usage_error("status", USAGE, "not a "
			    "process id: '%s'", argv[i]);
	}
	if (optind < argc) {
		for (i = optind; i < argc; i++)
			if (show(strtol(argv[i], NULL, 10), false) != 0)
				rc = 2;
		return rc;
	}
	if ((dir = opendir("/proc")) == NULL) {
		fprintf(stderr, "pindns status: /proc: %s\n", strerror(errno));
		return PD_EXIT_USAGE;
	}
	while ((d = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		if (show(strtol(d->d_name, NULL, 10), true) == 0)
			found++;
	}
	(void)closedir(dir);
	if (found == 0) {
		printf("no process with libpindns.so loaded (among those this "
		    "user can see)\n");
		return 2;
	}
	return 0;
}

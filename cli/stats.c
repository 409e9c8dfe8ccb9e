/*
 * pindns stats [PID|FILE] (issue 14 part 5, issue 17): counters, readably.
 *
 * PID: the process's record (resolver/stats.h), checked as `pindns
 * status` checks it. FILE: a metrics file pindns serve writes
 * (--metrics-file, Prometheus text format). Without either: every live
 * record in this user's runtime directory. Both sources go through the
 * same text (a record is first written as the metrics file would be),
 * so what is printed for a PID is what a scrape of serve would see.
 */
#include <ctype.h>
#include <signal.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "resolver/stats.h"

#define USAGE	"stats [PID|FILE]"
#define SAMPLES_MAX	512
#define Q		"pindns_queries_total"

struct sample {
	char	name[96];
	char	labels[1200];
	double	value;
};

struct samples {
	unsigned	n;
	struct sample	s[SAMPLES_MAX];
};

/*
 * One line of the text format: NAME[{LABELS}] VALUE [TIMESTAMP].
 * 1: a sample, 0: a comment or blank line, -1: not the format.
 */
static int
parse_line(char *line, struct sample *sm)
{
	char *p = line, *end;
	size_t n;

	line[strcspn(line, "\n")] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_' ||
	    p[n] == ':'; n++)
		;
	if (n == 0 || n >= sizeof(sm->name) || isdigit((unsigned char)*p))
		return -1;
	memcpy(sm->name, p, n);
	sm->name[n] = '\0';
	p += n;
	sm->labels[0] = '\0';
	if (*p == '{') {
		/* To the closing brace outside a quoted value. */
		bool q = false;

		for (n = 1; p[n] != '\0' && (q || p[n] != '}'); n++) {
			if (p[n] == '\\' && q && p[n + 1] != '\0')
				n++;
			else if (p[n] == '"')
				q = !q;
		}
		if (p[n] != '}' || n - 1 >= sizeof(sm->labels))
			return -1;
		memcpy(sm->labels, p + 1, n - 1);
		sm->labels[n - 1] = '\0';
		p += n + 1;
	}
	if (*p != ' ' && *p != '\t')
		return -1;
	errno = 0;
	sm->value = strtod(p, &end);
	if (errno != 0 || end == p)
		return -1;
	while (*end == ' ' || *end == '\t')
		end++;
	if (*end != '\0' && strtoll(end, &p, 10) == 0 && p == end)
		return -1;
	return 1;
}

static int
parse(FILE *f, const char *what, struct samples *ss)
{
	char line[4096];
	unsigned ln = 0;
	int r;

	ss->n = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		ln++;
		if (ss->n == SAMPLES_MAX) {
			fprintf(stderr, "pindns stats: %s: more than %d "
			    "samples\n", what, SAMPLES_MAX);
			return -1;
		}
		if ((r = parse_line(line, &ss->s[ss->n])) < 0) {
			fprintf(stderr, "pindns stats: %s:%u: not Prometheus "
			    "text format\n", what, ln);
			return -1;
		}
		ss->n += (unsigned)r;
	}
	return 0;
}

/* The value of label key in labels, into out ("" when absent). */
static void
get_label(const char *labels, const char *key, char *out, size_t size)
{
	size_t kl = strlen(key), n = 0;
	const char *p = labels;

	out[0] = '\0';
	while ((p = strstr(p, key)) != NULL) {
		if ((p == labels || p[-1] == ',') && p[kl] == '=' &&
		    p[kl + 1] == '"')
			break;
		p += kl;
	}
	if (p == NULL)
		return;
	for (p += kl + 2; *p != '\0' && *p != '"' && n + 1 < size; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		out[n++] = *p;
	}
	out[n] = '\0';
}

static bool
has_label(const struct sample *sm, const char *key, const char *val)
{
	char v[256];

	if (key == NULL)
		return true;
	get_label(sm->labels, key, v, sizeof(v));
	return strcmp(v, val) == 0;
}

/* The samples of name whose labels k1 and k2 (NULL: any) are v1, v2. */
static double
sum2(const struct samples *ss, const char *name, const char *k1,
    const char *v1, const char *k2, const char *v2)
{
	double t = 0;
	unsigned i;

	for (i = 0; i < ss->n; i++)
		if (strcmp(ss->s[i].name, name) == 0 &&
		    has_label(&ss->s[i], k1, v1) && has_label(&ss->s[i], k2, v2))
			t += ss->s[i].value;
	return t;
}

static double
sum(const struct samples *ss, const char *name, const char *key,
    const char *val)
{
	return sum2(ss, name, key, val, NULL, NULL);
}

/* The bucket bound under which a fraction q of the answers fall. */
static const char *
quantile(const struct samples *ss, double q, char *buf, size_t size)
{
	double count = sum(ss, "pindns_answer_duration_seconds_count", NULL,
	    NULL), best = -1, le;
	char v[64], *end;
	unsigned i;

	for (i = 0; i < ss->n; i++) {
		if (strcmp(ss->s[i].name,
		    "pindns_answer_duration_seconds_bucket") != 0 ||
		    ss->s[i].value < q * count)
			continue;
		get_label(ss->s[i].labels, "le", v, sizeof(v));
		le = strcmp(v, "+Inf") == 0 ? 1e300 : strtod(v, &end);
		if (best < 0 || le < best)
			best = le;
	}
	if (best < 0 || best >= 1e300)
		return "> the largest bucket";
	(void)snprintf(buf, size, "<= %g ms", best * 1e3);
	return buf;
}

static void
print(const struct samples *ss)
{
	static const char *const verdicts[] = {
		"accepted", "absent", "refused", "failed", "would-refuse"
	};
	static const char *const trs[] = { "udp", "tcp" };
	char v[1024], r[64], q1[32], q2[32], q3[32];
	double total = sum(ss, "pindns_lookups_total", NULL, NULL), n, hits,
	    miss, count;
	unsigned i, k;

	printf("lookups:            %.0f\n", total);
	for (k = 0; k < sizeof(verdicts) / sizeof(verdicts[0]); k++) {
		n = sum(ss, "pindns_lookups_total", "verdict", verdicts[k]);
		printf("  %-18s%.0f", verdicts[k], n);
		for (i = 0; n > 0 && i < ss->n; i++) {
			if (strcmp(ss->s[i].name, "pindns_lookups_total") != 0
			    || ss->s[i].value == 0)
				continue;
			get_label(ss->s[i].labels, "verdict", v, sizeof(v));
			get_label(ss->s[i].labels, "reason", r, sizeof(r));
			if (strcmp(v, verdicts[k]) == 0 && r[0] != '\0')
				printf("  %s %.0f", r, ss->s[i].value);
		}
		putchar('\n');
	}
	hits = sum(ss, "pindns_cache_hits_total", NULL, NULL);
	miss = sum(ss, "pindns_cache_misses_total", NULL, NULL);
	printf("cache:              %.0f hits, %.0f misses", hits, miss);
	if (hits + miss > 0)
		printf(" (%.0f%% hits)", 100 * hits / (hits + miss));
	printf("\nupstream failures:  %.0f\n",
	    sum(ss, "pindns_upstream_failures_total", NULL, NULL));
	n = sum(ss, "pindns_queries_total", NULL, NULL);
	if (n > 0) {
		printf("queries (serve):    %.0f\n", n);
		for (k = 0; k < 2; k++)
			printf("  %-18s%.0f: answered %.0f, forwarded %.0f, "
			    "refused %.0f\n", trs[k], sum(ss, Q, "transport",
			    trs[k]), sum2(ss, Q, "transport", trs[k], "action",
			    "answered"), sum2(ss, Q, "transport", trs[k],
			    "action", "forwarded"), sum2(ss, Q, "transport",
			    trs[k], "action", "refused"));
	}
	count = sum(ss, "pindns_answer_duration_seconds_count", NULL, NULL);
	if (count > 0)
		printf("answer latency:     %.0f answers, mean %.3f ms; 50%% "
		    "%s, 90%% %s, 99%% %s\n", count, 1e3 * sum(ss,
		    "pindns_answer_duration_seconds_sum", NULL, NULL) / count,
		    quantile(ss, 0.5, q1, sizeof(q1)),
		    quantile(ss, 0.9, q2, sizeof(q2)),
		    quantile(ss, 0.99, q3, sizeof(q3)));
	for (i = 0; i < ss->n; i++) {
		if (strcmp(ss->s[i].name, "pindns_policy_info") != 0)
			continue;
		get_label(ss->s[i].labels, "path", v, sizeof(v));
		printf("policy:             %s\n", v);
		get_label(ss->s[i].labels, "sha256", v, sizeof(v));
		get_label(ss->s[i].labels, "key_id", r, sizeof(r));
		if (ss->s[i].value == 0)
			printf("  none in force (every claimed lookup "
			    "refused)\n");
		else
			printf("  sha256 %s, %s%s, load %.0f\n", v, r[0] ?
			    "signed by key " : "unsigned", r, sum(ss,
			    "pindns_policy_loads_total", NULL, NULL));
	}
}

/* A record as text, then as for a file. */
static int
show_pid(long pid)
{
	struct pd_stats_view v;
	struct samples *ss;
	char why[1024], *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 1;

	if (pd_cli_record(pid, &v, why, sizeof(why)) != 0) {
		fprintf(stderr, "pindns stats: %ld: %s\n", pid, why);
		return 1;
	}
	if ((ss = malloc(sizeof(*ss))) == NULL ||
	    (f = open_memstream(&buf, &len)) == NULL) {
		free(ss);
		fprintf(stderr, "pindns stats: out of memory\n");
		return 1;
	}
	(void)pd_stats_prom(&v, f);
	(void)fclose(f);
	if ((f = fmemopen(buf, len, "r")) != NULL) {
		if (parse(f, "record", ss) == 0) {
			printf("process %ld (%s):\n", pid, v.info.role);
			print(ss);
			rc = 0;
		}
		(void)fclose(f);
	}
	free(buf);
	free(ss);
	return rc;
}

static int
show_file(const char *path)
{
	struct samples *ss;
	FILE *f;
	int rc = 1;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "pindns stats: %s: %s\n", path,
		    strerror(errno));
		return 1;
	}
	if ((ss = malloc(sizeof(*ss))) != NULL && parse(f, path, ss) == 0) {
		if (sum(ss, "pindns_lookups_total", NULL, NULL) == 0 &&
		    ss->n == 0)
			fprintf(stderr, "pindns stats: %s: no pindns "
			    "metrics\n", path);
		else {
			print(ss);
			rc = 0;
		}
	}
	free(ss);
	(void)fclose(f);
	return rc;
}

/* Every live record in this user's runtime directory. */
static int
show_all(void)
{
	char dir[4096], *end;
	struct dirent *d;
	DIR *dp;
	long pid;
	int found = 0;

	if (pd_stats_dir(getenv("PINDNS_RUNTIME_DIR"),
	    getenv("XDG_RUNTIME_DIR"), geteuid(), dir, sizeof(dir)) != 0 ||
	    (dp = opendir(dir)) == NULL) {
		printf("no record (no process of this user has looked up a "
		    "claimed name)\n");
		return 2;
	}
	while ((d = readdir(dp)) != NULL) {
		pid = strtol(d->d_name, &end, 10);
		if (pid <= 0 || *end != '\0' || kill((pid_t)pid, 0) != 0)
			continue;
		if (found++ > 0)
			putchar('\n');
		(void)show_pid(pid);
	}
	(void)closedir(dp);
	if (found == 0) {
		printf("no live record in %s\n", dir);
		return 2;
	}
	return 0;
}

int
pd_cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	const char *a;
	char *end;
	long pid;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1)
		return pd_cli_bad_option("stats", USAGE, c, argv);
	if (argc - optind > 1)
		return pd_cli_usage_error("stats", USAGE, "one PID or FILE");
	if (optind == argc)
		return show_all();
	a = argv[optind];
	errno = 0;
	pid = strtol(a, &end, 10);
	if (errno == 0 && *end == '\0' && pid > 0 && access(a, F_OK) != 0)
		return show_pid(pid);
	return show_file(a);
}

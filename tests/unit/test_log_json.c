/*
 * tags: threads
 * The audit log (resolver/log.c): the exact SPEC §7 line, escaping of
 * hostile names, the line-length cap, one write per line from many
 * threads to an O_APPEND file, and the never-block rules: a full pipe
 * drops the line at once, a pipe without reader raises no SIGPIPE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/log.h"
#include "tests/unit/tap.h"

static struct pd_addr
a4(const char *s)
{
	struct pd_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	(void)inet_pton(AF_INET, s, a.addr);
	return a;
}

static struct pd_addr
a6(const char *s)
{
	struct pd_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	(void)inet_pton(AF_INET6, s, a.addr);
	return a;
}

static void
spec_example(struct pd_log_rec *r, struct pd_addr *seen)
{
	memset(r, 0, sizeof(*r));
	r->ts.tv_sec = 1795341600;	/* 2026-11-22T10:00:00Z */
	r->ts.tv_nsec = 123456789;
	r->pid = 4242;
	r->name = "dynamodb.us-west-2.amazonaws.com";
	r->rule = "dynamodb";
	r->verdict = PD_VERDICT_REFUSED;
	r->reason = PD_REASON_OUTSIDE_PIN;
	r->dnssec = "insecure";
	r->upstream = "1.1.1.1:853";
	seen[0] = a4("203.0.113.9");
	r->seen = seen;
	r->nseen = 1;
	r->ms = 12.4;
}

static void
test_format(void)
{
	struct pd_log_rec r;
	struct pd_addr seen[2], acc[2];
	char line[PD_LOG_LINE_MAX];
	size_t n;

	spec_example(&r, seen);
	n = pd_log_format(&r, line, sizeof(line));
	T_EQ_STR(line, "{\"ts\":\"2026-11-22T10:00:00.123Z\",\"pid\":4242,"
	    "\"name\":\"dynamodb.us-west-2.amazonaws.com\",\"rule\":"
	    "\"dynamodb\",\"verdict\":\"refused\",\"reason\":\"outside-pin\","
	    "\"dnssec\":\"insecure\",\"upstream\":\"1.1.1.1:853\","
	    "\"addresses\":[\"203.0.113.9\"],\"accepted\":[],\"ms\":12.4}\n",
	    "the SPEC §7 example line, byte for byte");
	T_EQ_INT(n, strlen(line), "length returned");

	seen[0] = a4("127.0.10.5");
	seen[1] = a6("2001:db8:10::5");
	acc[0] = seen[0];
	acc[1] = seen[1];
	r.verdict = PD_VERDICT_ACCEPTED;
	r.reason = PD_REASON_NONE;
	r.dnssec = "secure";
	r.nseen = 2;
	r.accepted = acc;
	r.naccepted = 2;
	r.ms = 0.04;
	r.name = "dynamodb.eu-west-1.amazonaws.com";
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"reason\":null,") != NULL,
	    "no reason is null: %s", line);
	T_OK(strstr(line, "\"addresses\":[\"127.0.10.5\",\"2001:db8:10::5\"],"
	    "\"accepted\":[\"127.0.10.5\",\"2001:db8:10::5\"],\"ms\":0.0}\n")
	    != NULL, "both families, ms with one decimal: %s", line);

	r.verdict = PD_VERDICT_ACCEPTED;
	r.reason = PD_REASON_STALE;
	r.upstream = "";
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"verdict\":\"accepted\",\"reason\":\"stale\"")
	    != NULL, "stale answers: accepted + reason stale");
	T_OK(strstr(line, "\"upstream\":null") != NULL,
	    "no upstream is null");

	/* Report mode: answered, but enforce mode refuses it. */
	r.reason = PD_REASON_OUTSIDE_PIN;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"verdict\":\"would-refuse\",\"reason\":"
	    "\"outside-pin\"") != NULL, "report mode: would-refuse: %s",
	    line);
	r.reason = PD_REASON_CNAME_ESCAPE;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"verdict\":\"would-refuse\",\"reason\":"
	    "\"cname-escape\"") != NULL, "report mode: cname-escape");

	r.verdict = PD_VERDICT_ABSENT;
	r.reason = PD_REASON_NXDOMAIN;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"verdict\":\"absent\",\"reason\":\"nxdomain\"")
	    != NULL, "absent spelling");
	r.verdict = PD_VERDICT_FAILED;
	r.reason = PD_REASON_TIMEOUT;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"verdict\":\"failed\",\"reason\":\"timeout\"")
	    != NULL, "failed spelling");
}

static void
test_spellings(void)
{
	static const char *want[] = { "", "nxdomain", "nodata", "bogus",
	    "insecure", "outside-pin", "cname-escape", "tls-auth",
	    "deny-rule", "policy-unloadable", "timeout", "unreachable",
	    "stale" };
	unsigned i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		T_EQ_STR(pd_reason_str((enum pd_reason)i), want[i],
		    "reason %u spelled as SPEC §7", i);
	T_EQ_STR(pd_verdict_str(PD_VERDICT_ACCEPTED), "accepted", "accepted");
	T_EQ_STR(pd_verdict_str(PD_VERDICT_ABSENT), "absent", "absent");
	T_EQ_STR(pd_verdict_str(PD_VERDICT_REFUSED), "refused", "refused");
	T_EQ_STR(pd_verdict_str(PD_VERDICT_FAILED), "failed", "failed");
}

/* Both address lists full of the longest IPv6 spelling. */
static void
fill_lists(struct pd_log_rec *r, struct pd_addr *seen, struct pd_addr *acc)
{
	unsigned i;

	for (i = 0; i < PD_MAX_ADDRS; i++) {
		seen[i] = a6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
		acc[i] = seen[i];
	}
	r->nseen = PD_MAX_ADDRS;
	r->accepted = acc;
	r->naccepted = PD_MAX_ADDRS;
}

static void
test_hostile(void)
{
	struct pd_log_rec r;
	struct pd_addr seen[PD_MAX_ADDRS], acc[PD_MAX_ADDRS];
	char line[PD_LOG_LINE_MAX], name[600];
	unsigned i;
	size_t n;
	int ctl = 0;

	spec_example(&r, seen);
	r.name = "a\"b\\c\nd\x01\x7f\xc3\xa9.e\tx";
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"name\":\"a\\\"b\\\\c\\u000ad\\u0001\\u007f"
	    "\\u00c3\\u00a9.e\\u0009x\"") != NULL,
	    "quotes, backslashes, control and high bytes escaped: %s", line);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 && line[i + 1] != '\0')
			ctl++;
		else if ((unsigned char)line[i] >= 0x7f)
			ctl++;
	T_EQ_INT(ctl, 0, "no raw control or non-ASCII byte in the line");

	memset(name, '"', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r.name = name;
	n = pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\\\"...\",\"rule\"") != NULL,
	    "a long name is cut after %d bytes and marked", PD_LOG_NAME_MAX);
	T_OK(n < PD_LOG_LINE_MAX, "line within the cap (%zu)", n);

	fill_lists(&r, seen, acc);
	n = pd_log_format(&r, line, sizeof(line));
	T_OK(n <= PD_LOG_LINE_MAX - 1 && line[n - 1] == '\n' &&
	    line[n - 2] == '}', "128 long addresses: line capped at %d "
	    "and still closed (%zu)", PD_LOG_LINE_MAX, n);
	T_OK(strstr(line, "],\"accepted\":[\"2001:db8:ffff") != NULL &&
	    strstr(line, "\"],\"ms\":12.4}") != NULL,
	    "both lists present and closed");
}

/* The upstreams tried: whole entries only, within the line's cap. */
static void
test_tried(void)
{
	struct pd_log_rec r;
	struct pd_addr seen[PD_MAX_ADDRS], acc[PD_MAX_ADDRS];
	struct pd_try t[PD_MAX_TRIES];
	char line[PD_LOG_LINE_MAX], name[300], *p;
	unsigned i;
	size_t n;

	spec_example(&r, seen);
	r.verdict = PD_VERDICT_FAILED;
	r.reason = PD_REASON_TIMEOUT;
	r.upstream = NULL;
	(void)snprintf(t[0].upstream, sizeof(t[0].upstream), "1.1.1.1:853");
	(void)snprintf(t[0].why, sizeof(t[0].why), "timed out");
	(void)snprintf(t[1].upstream, sizeof(t[1].upstream), "[::1]:853");
	(void)snprintf(t[1].why, sizeof(t[1].why), "TLS: \"x\"");
	t[0].count = 3;		/* the same failure thrice: one entry */
	t[1].count = 1;
	r.tried = t;
	r.ntried = 2;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "\"upstream\":null,\"tried\":[{\"upstream\":"
	    "\"1.1.1.1:853\",\"why\":\"timed out\",\"count\":3},"
	    "{\"upstream\":\"[::1]:853\",\"why\":\"TLS: \\\"x\\\"\","
	    "\"count\":1}],\"addresses\":") != NULL,
	    "tried: each upstream, why and how often, escaped: %s", line);
	r.ntried = 0;
	pd_log_format(&r, line, sizeof(line));
	T_OK(strstr(line, "tried") == NULL, "nothing tried: no key");

	/* Worst case: every byte escaped six-fold, every list full. */
	for (i = 0; i < PD_MAX_TRIES; i++) {
		memset(t[i].upstream, 1, sizeof(t[i].upstream) - 1);
		t[i].upstream[sizeof(t[i].upstream) - 1] = '\0';
		memset(t[i].why, 1, sizeof(t[i].why) - 1);
		t[i].why[sizeof(t[i].why) - 1] = '\0';
		t[i].count = UINT_MAX;
	}
	memset(name, 0xff, sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	r.name = name;
	r.ntried = PD_MAX_TRIES;
	fill_lists(&r, seen, acc);
	n = pd_log_format(&r, line, sizeof(line));
	T_OK(n <= PD_LOG_LINE_MAX - 1 && line[n - 1] == '\n' &&
	    line[n - 2] == '}', "worst case: line capped and closed (%zu)", n);
	p = strstr(line, "\"tried\":[");
	T_OK(p != NULL && strstr(p, "],\"addresses\":[") != NULL,
	    "worst case: tried cut to whole entries, list closed");
	T_OK(strstr(line, "],\"accepted\":[\"2001:db8:ffff") != NULL,
	    "worst case: the accepted list still has room");

	/* Longest plain text: all four entries fit beside full lists. */
	for (i = 0; i < PD_MAX_TRIES; i++) {
		memset(t[i].upstream, 'u', sizeof(t[i].upstream) - 1);
		memset(t[i].why, 'w', sizeof(t[i].why) - 1);
	}
	memset(name, 'n', sizeof(name) - 1);
	n = pd_log_format(&r, line, sizeof(line));
	for (i = 0, p = line; (p = strstr(p, "{\"upstream\":\"uuu")) != NULL;
	    p++)
		i++;
	T_EQ_INT((int)i, PD_MAX_TRIES, "every try logged with plain text");
	T_OK(n <= PD_LOG_LINE_MAX - 1 && line[n - 2] == '}' &&
	    strstr(line, "],\"accepted\":[\"2001:db8:ffff") != NULL,
	    "... within the cap, the accepted list present (%zu)", n);
}

#define WRITERS	8
#define LINES	200

static struct pd_log *shared;

static void *
writer(void *arg)
{
	struct pd_log_rec r;
	struct pd_addr seen[1];
	char name[64];
	int i;

	for (i = 0; i < LINES; i++) {
		spec_example(&r, seen);
		(void)snprintf(name, sizeof(name), "w%u-%d.example",
		    (unsigned)(uintptr_t)arg, i);
		r.name = name;
		pd_log_write(shared, &r);
	}
	return NULL;
}

static void
test_file(const char *dir)
{
	char path[512], spec[600], err[256], buf[65536 * 8];
	pthread_t t[WRITERS];
	struct stat st;
	FILE *f;
	int i, lines = 0, good = 0;

	(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
	(void)snprintf(spec, sizeof(spec), "file:%s", path);
	T_EQ_INT(pd_log_open(spec, &shared, err, sizeof(err)), PD_OK,
	    "open file target");
	for (i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)(uintptr_t)i);
	for (i = 0; i < WRITERS; i++)
		pthread_join(t[i], NULL);
	T_EQ_INT(pd_log_dropped(shared), 0, "a file drops nothing");
	pd_log_close(shared);
	/* stat first: the order of a call's arguments is unspecified. */
	if (stat(path, &st) != 0)
		memset(&st, 0xff, sizeof(st));
	T_OK((st.st_mode & 077) == 0,
	    "log file created without group/other access (%o)",
	    (unsigned)(st.st_mode & 0777));
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL) {
			lines++;
			if (strncmp(buf, "{\"ts\":\"", 7) == 0 &&
			    strcmp(buf + strlen(buf) - 2, "}\n") == 0 &&
			    strstr(buf + 1, "{\"ts\"") == NULL)
				good++;
		}
		fclose(f);
	}
	T_EQ_INT(lines, WRITERS * LINES, "every line written once");
	T_EQ_INT(good, WRITERS * LINES, "no line torn or interleaved");

	T_EQ_INT(pd_log_open("file:/nonexistent-dir/x.log", &shared, err,
	    sizeof(err)), PD_EIO, "unopenable file is an error");
	T_OK(strstr(err, "/nonexistent-dir/x.log") != NULL,
	    "error names the file: %s", err);
	T_EQ_INT(pd_log_open("journal", &shared, err, sizeof(err)), PD_EINVAL,
	    "unknown target is an error");
}

static int
count_lines(const char *path)
{
	char buf[8192];
	FILE *f;
	int n = 0;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(buf, sizeof(buf), f) != NULL)
		n++;
	fclose(f);
	return n;
}

/* logrotate renames the file away; the next reopen starts a new one. */
static void
test_rotate(const char *dir)
{
	char path[512], old[520], spec[600], err[256];
	struct pd_log_rec r;
	struct pd_addr seen[1];
	struct pd_log *l;

	(void)snprintf(path, sizeof(path), "%s/rot.log", dir);
	(void)snprintf(old, sizeof(old), "%s.1", path);
	(void)snprintf(spec, sizeof(spec), "file:%s", path);
	err[0] = '\0';
	if (!T_OK(pd_log_open(spec, &l, err, sizeof(err)) == PD_OK,
	    "open file target %s", err))
		return;
	spec_example(&r, seen);
	pd_log_write(l, &r);
	pd_log_reopen(l);	/* same file: nothing to do */
	pd_log_write(l, &r);
	T_EQ_INT(count_lines(path), 2, "before rotation: 2 lines");
	T_EQ_INT(rename(path, old), 0, "rotate (rename away)");
	pd_log_write(l, &r);	/* still the old file until the reopen */
	pd_log_reopen(l);
	pd_log_write(l, &r);
	pd_log_write(l, &r);
	T_EQ_INT(count_lines(old), 3, "rotated file kept its lines and the "
	    "one written before the reopen");
	T_EQ_INT(count_lines(path), 2, "new file under the name after the "
	    "reopen");
	T_EQ_INT(unlink(path), 0, "remove the log");
	pd_log_reopen(l);
	pd_log_write(l, &r);
	T_EQ_INT(count_lines(path), 1, "a removed log is created again");
	pd_log_close(l);
	(void)unlink(path);
	(void)unlink(old);
}

static void
test_nonblocking(void)
{
	struct pd_log *l;
	struct pd_log_rec r;
	struct pd_addr seen[1];
	char err[256], junk[4096];
	int p[2], saved, i;
	uint64_t t0, dt;
	sigset_t pend;

	T_EQ_INT(pd_log_open("stderr", &l, err, sizeof(err)), PD_OK,
	    "open stderr target");
	saved = dup(2);
	/* A pipe nobody reads, filled up: stderr of a stuck supervisor. */
	if (pipe(p) != 0 || saved < 0) {
		T_OK(0, "pipe and dup");
		return;
	}
	(void)fcntl(p[1], F_SETFL, O_NONBLOCK);
	memset(junk, 'x', sizeof(junk));
	while (write(p[1], junk, sizeof(junk)) > 0)
		;
	(void)fcntl(p[1], F_SETFL, 0);	/* stderr is blocking, as usual */
	dup2(p[1], 2);
	spec_example(&r, seen);
	t0 = pd_clock_ns();
	for (i = 0; i < 100; i++)
		pd_log_write(l, &r);
	dt = pd_clock_ns() - t0;
	dup2(saved, 2);
	T_OK(dt < 5000000000ull, "100 lines to a full pipe return (%.1f ms)",
	    dt / 1e6);
	T_EQ_INT(pd_log_dropped(l), 100, "and are counted as dropped");
	close(p[0]);
	close(p[1]);

	/* A pipe whose reader went away: EPIPE, and no SIGPIPE. */
	if (pipe(p) != 0) {
		T_OK(0, "pipe");
		return;
	}
	close(p[0]);
	dup2(p[1], 2);
	signal(SIGPIPE, SIG_DFL);	/* the default kills the process */
	pd_log_write(l, &r);
	dup2(saved, 2);
	close(p[1]);
	sigpending(&pend);
	T_OK(!sigismember(&pend, SIGPIPE),
	    "closed reader: we are alive and no SIGPIPE is left pending");
	T_EQ_INT(pd_log_dropped(l), 101, "that line counted as dropped");

	/* A pipe with room: the line arrives whole. */
	if (pipe(p) != 0) {
		T_OK(0, "pipe");
		return;
	}
	dup2(p[1], 2);
	pd_log_write(l, &r);
	pd_log_stderr("pindns: a human line");
	dup2(saved, 2);
	close(p[1]);
	{
		char buf[8192];
		ssize_t n = read(p[0], buf, sizeof(buf) - 1);

		buf[n > 0 ? n : 0] = '\0';
		T_OK(strncmp(buf, "{\"ts\":", 6) == 0 &&
		    strstr(buf, "}\npindns: a human line\n") != NULL,
		    "pipe with room: JSON line then the human line: %s", buf);
	}
	close(p[0]);
	close(saved);
	pd_log_close(l);
}

int
main(void)
{
	char dir[] = "/tmp/pindns-logtest.XXXXXX";

	test_format();
	test_spellings();
	test_hostile();
	test_tried();
	if (mkdtemp(dir) == NULL) {
		T_OK(0, "mkdtemp");
		return t_done();
	}
	test_file(dir);
	test_rotate(dir);
	test_nonblocking();
	{
		char path[600];

		(void)snprintf(path, sizeof(path), "%s/audit.log", dir);
		(void)unlink(path);
		(void)rmdir(dir);
	}
	return t_done();
}

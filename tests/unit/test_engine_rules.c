/*
 * The engine without DNS (resolver/engine.c): static, deny, system and
 * system+pins rules through pd_engine_lookup / pd_engine_filter, name
 * normalisation, RFC 6761 localhost, invalid names, the audit lines they
 * write, cached decisions invalidated by a policy reload, a refused
 * reload, and an unloadable policy (fail closed, said once on stderr).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "resolver/engine.h"
#include "tests/unit/lab.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/pindns-engtest.XXXXXX";
static char policy[256], auditlog[256], errfile[256];
static int saved_stderr = -1;

/*
 * The policy under test. The reload variant has `default: secure`: every
 * name it is asked for here is decided before any DNS (a deny rule, a
 * static rule, localhost, an invalid name), so the unreachable upstream
 * is never contacted.
 */
static void
write_policy(bool second)
{
	/* A new inode: the watch sees a change even within one second. */
	pd_test_write(policy, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - address_data: 127.0.0.1\n"
	    "    tls_port: 1\n"
	    "    tls_auth_name: never.used.test\n"
	    "log:\n  target: file:%s\n  level: all\n"
	    "default: %s\n"
	    "rules:\n"
	    "%s"
	    "  - name: local\n"
	    "    match: [dynamodb.local.test]\n"
	    "    action: static\n"
	    "    addresses: [127.0.0.1, \"::1\", 127.0.0.2]\n"
	    "    ttl: 42\n"
	    "  - name: local4\n"
	    "    match: [v4.local.test]\n"
	    "    action: static\n"
	    "    addresses: [127.0.0.9]\n"
	    "  - name: blocked\n"
	    "    match: [\"**.blocked.test\"]\n"
	    "    action: deny\n"
	    "  - name: vpc\n"
	    "    match: [\"*.vpc.test\"]\n"
	    "    action: system\n"
	    "    pin: [10.0.0.0/8]\n"
	    "  - name: plain\n"
	    "    match: [plain.test]\n"
	    "    action: system\n", auditlog, second ? "secure" : "system",
	    second ? "  - name: gone\n"
	    "    match: [dynamodb.local.test, www.example.org]\n"
	    "    action: deny\n" : "");
}

static struct pd_result res;
static struct pd_explain ex;

static void
look(const char *name, unsigned want)
{
	pd_engine_lookup(name, want, &res, NULL);
}

static int
count_lines(const char *path, const char *needle)
{
	char line[8192];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (needle == NULL || strstr(line, needle) != NULL)
			n++;
	fclose(f);
	return n;
}

static void
capture_stderr(void)
{
	int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static void
restore_stderr(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
}

static void
wait_poll(void)
{
	/* The watch looks at most once a second. */
	struct timespec ts = { 1, 200000000 };

	nanosleep(&ts, NULL);
}

static void
test_rules(void)
{
	struct pd_engine_cfg cfg = { .policy_path = policy };
	struct pd_addr libc[3];
	uint8_t keep[3];
	int n0;

	T_EQ_INT(pd_engine_init(&cfg), 0, "engine starts");
	T_EQ_INT(pd_engine_init(&cfg), 0, "init is idempotent");

	look("dynamodb.local.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "accepted", "static accepted");
	T_EQ_INT(res.naddrs, 3, "static: all addresses");
	T_OK(res.addrs[0].family == AF_INET && res.addrs[1].family == AF_INET
	    && res.addrs[2].family == AF_INET6, "static: IPv4 first");
	T_EQ_INT(res.ttl, 42, "static ttl");
	T_EQ_STR(res.canon, "dynamodb.local.test", "static canonical name");
	look("dynamodb.local.test", 3);
	T_EQ_INT(res.naddrs, 3, "static again (thread cache) same answer");
	T_EQ_INT(res.ttl, 42, "static ttl from the thread cache");
	look("DynamoDB.Local.TEST.", 1);
	T_EQ_STR(pd_verdict_str(res.verdict), "accepted",
	    "case and trailing dot normalised");
	T_EQ_INT(res.naddrs, 2, "A only: the two IPv4 addresses");
	T_EQ_STR(res.canon, "dynamodb.local.test",
	    "canonical name is the normalised name");
	look("dynamodb\\.local.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "an escaped dot is another name (no rule): libc");
	look("v4.local.test", PD_WANT_AAAA);
	T_EQ_STR(pd_verdict_str(res.verdict), "absent",
	    "static without AAAA: absent");
	T_EQ_STR(pd_reason_str(res.reason), "nodata", "reason nodata");

	look("x.y.blocked.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "refused", "deny refuses");
	T_EQ_STR(pd_reason_str(res.reason), "deny-rule", "reason deny-rule");
	look("x.y.blocked.test", 3);
	T_EQ_STR(pd_reason_str(res.reason), "deny-rule",
	    "deny again (thread cache)");

	look("plain.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system", "system rule: libc");
	look("www.example.org", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "unmatched name, default system: libc");
	look("db.vpc.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system-pinned",
	    "system rule with pins: libc then filter");
	look("localhost", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system", "localhost: libc");
	look("a..b", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "invalid name, default system: libc decides");

	memset(libc, 0, sizeof(libc));
	libc[0].family = AF_INET;
	inet_pton(AF_INET, "10.1.2.3", libc[0].addr);
	libc[1].family = AF_INET;
	inet_pton(AF_INET, "203.0.113.7", libc[1].addr);
	libc[2].family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:10.2.3.4", libc[2].addr);
	n0 = count_lines(auditlog, NULL);
	pd_engine_filter("db.vpc.test", libc, 3, keep, &res);
	T_EQ_STR(pd_verdict_str(res.verdict), "accepted",
	    "filter: some inside the pins");
	T_OK(keep[0] == 1 && keep[1] == 0 && keep[2] == 1,
	    "filter: keep flags %d %d %d", keep[0], keep[1], keep[2]);
	pd_engine_filter("db.vpc.test", &libc[1], 1, keep, &res);
	T_EQ_STR(pd_reason_str(res.reason), "outside-pin",
	    "filter: none inside refuses");
	T_EQ_INT(count_lines(auditlog, NULL) - n0, 2,
	    "level all: both filter outcomes logged");
	T_EQ_INT(count_lines(auditlog, "\"name\":\"db.vpc.test\",\"rule\":"
	    "\"vpc\",\"verdict\":\"refused\",\"reason\":\"outside-pin\","
	    "\"dnssec\":\"off\",\"upstream\":null,\"addresses\":"
	    "[\"203.0.113.7\"],\"accepted\":[]"), 1, "filter refusal line");

	T_EQ_INT(count_lines(auditlog, "\"rule\":\"local\",\"verdict\":"
	    "\"accepted\""), 3, "static: every lookup logged (level all), "
	    "thread-cache hits too");
	T_EQ_INT(count_lines(auditlog, "\"name\":\"x.y.blocked.test\","
	    "\"rule\":\"blocked\",\"verdict\":\"refused\",\"reason\":"
	    "\"deny-rule\""), 2, "deny: every lookup logged");
	T_EQ_INT(count_lines(auditlog, "plain.test"), 0,
	    "names handed to libc are not logged");
	T_EQ_INT(count_lines(auditlog, "www.example.org"), 0,
	    "unmatched names are not logged");

	pd_engine_lookup("dynamodb.local.test", 3, &res, &ex);
	T_EQ_STR(ex.rule, "local", "explain: rule");
	T_EQ_STR(ex.action, "static", "explain: action");
	T_EQ_STR(ex.dnssec, "off", "explain: dnssec");
	T_EQ_INT(ex.nseen, 3, "explain: addresses");
	T_OK(ex.ms >= 0 && ex.ms < 1000, "explain: time %.3f ms", ex.ms);
	pd_engine_lookup("plain.test", 3, &res, &ex);
	T_EQ_STR(ex.action, "system", "explain of a system rule");
	pd_engine_lookup("localhost", 3, &res, &ex);
	T_OK(strstr(ex.detail, "6761") != NULL, "explain says why localhost "
	    "goes to libc: %s", ex.detail);
}

static void
test_reload(void)
{
	char buf[4096] = "";
	FILE *f;

	/* A new policy: default secure, two cached names now denied. */
	write_policy(true);
	wait_poll();
	look("dynamodb.local.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "refused",
	    "after reload: the cached static answer is gone (now denied)");
	look("www.example.org", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "refused",
	    "after reload: the cached libc decision is gone");
	look("localhost", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "default secure still hands localhost to libc");
	look("foo.localhost", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "and names below localhost");
	look("a..b", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "refused",
	    "invalid name, default secure: refused");

	/* A broken file: refused, the old policy stays, said on stderr. */
	capture_stderr();
	f = fopen(policy, "w");
	fputs("version: 1\nrules: [oops\n", f);
	fclose(f);
	wait_poll();
	look("plain.test", 3);
	restore_stderr();
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "refused reload: old policy still in force");
	f = fopen(errfile, "r");
	if (f != NULL) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
	}
	T_OK(strstr(buf, "pindns: cannot load policy ") != NULL &&
	    strstr(buf, "keeping the policy in force") != NULL,
	    "refused reload said on stderr: %s", buf);
}

static void
test_unloadable(void)
{
	struct pd_engine_cfg cfg;
	char missing[300], buf[4096] = "";
	FILE *f;
	int lines = 0;

	pd_engine_shutdown();
	snprintf(missing, sizeof(missing), "%s/missing.yaml", dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = missing;
	capture_stderr();
	T_EQ_INT(pd_engine_init(&cfg), 0,
	    "engine starts without a loadable policy");
	look("dynamodb.local.test", 3);
	look("www.example.org", 3);
	look("www.example.org", 3);
	restore_stderr();
	T_EQ_STR(pd_verdict_str(res.verdict), "refused",
	    "no policy: every name refused");
	T_EQ_STR(pd_reason_str(res.reason), "policy-unloadable",
	    "reason policy-unloadable");
	if ((f = fopen(errfile, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (strstr(buf, "cannot load policy") != NULL)
				lines++;
		fclose(f);
	}
	T_EQ_INT(lines, 1, "said once on stderr");
	f = fopen(errfile, "r");
	if (f != NULL) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);

		buf[n] = '\0';
		fclose(f);
	}
	T_OK(strstr(buf, missing) != NULL &&
	    strstr(buf, "refusing every name lookup") != NULL,
	    "the line names the file and the consequence: %s", buf);

	/* The file appears: the watch picks it up. */
	write_policy(false);
	rename(policy, missing);
	wait_poll();
	look("www.example.org", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "system",
	    "a valid file appearing later is picked up");
	look("dynamodb.local.test", 3);
	T_EQ_STR(pd_verdict_str(res.verdict), "accepted",
	    "and its rules apply");
	pd_engine_shutdown();
}

int
main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(policy, sizeof(policy), "%s/policy.yaml", dir);
	snprintf(auditlog, sizeof(auditlog), "%s/audit.log", dir);
	snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
	write_policy(false);
	test_rules();
	test_reload();
	test_unloadable();
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return t_done();
}

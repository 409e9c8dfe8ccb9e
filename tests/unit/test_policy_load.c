/*
 * The loader: every fixture in tests/data/policy/bad/ must be refused
 * with exactly the message in its .err file (FILE:LINE:COLUMN: message);
 * every fixture in good/ must load; the SPEC example loads with each
 * field as written, and a minimal policy has every documented default;
 * the files a policy names are read once and checked against their
 * sha256.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/internal.h"
#include "policy/policy.h"
#include "tests/unit/tap.h"

#define DATA	"tests/data/policy"

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The .yaml names in dir, sorted. */
static size_t
list(const char *dir, char ***vp)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, l;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, n, sizeof(*v), cmp);
	*vp = v;
	return n;
}

static void
read_text(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
}

static void
test_bad(void)
{
	char **v = NULL, path[512], want[1024];
	struct pd_policy *p;
	struct pd_error e = { 0 };
	size_t n, i;
	enum pd_err r;

	n = list(DATA "/bad", &v);
	T_OK(n >= 60, "at least 60 bad fixtures (%zu)", n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), DATA "/bad/%s", v[i]);
		p = NULL;
		memset(&e, 0, sizeof(e));
		r = pd_policy_load(path, NULL, &p, &e);
		T_OK(r != PD_OK && p == NULL, "%s is refused", v[i]);
		pd_policy_free(p);
		snprintf(path + strlen(path) - 5, 6, ".err");
		read_text(path, want, sizeof(want));
		T_EQ_STR(e.msg, want, "%s: message", v[i]);
		free(v[i]);
	}
	free(v);
}

static void
test_good(void)
{
	char **v = NULL, path[512];
	struct pd_policy *p;
	struct pd_error e = { 0 };
	size_t n, i;
	enum pd_err r;

	n = list(DATA "/good", &v);
	T_OK(n >= 3, "good fixtures present (%zu)", n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), DATA "/good/%s", v[i]);
		p = NULL;
		e.msg[0] = '\0';
		r = pd_policy_load(path, NULL, &p, &e);
		T_EQ_STR(r == PD_OK ? "loaded" : e.msg, "loaded", "%s loads",
		    v[i]);
		pd_policy_free(p);
		free(v[i]);
	}
	free(v);
}

static const char *
ntop(const struct pd_addr *a, char *buf)
{
	return inet_ntop(a->family, a->addr, buf, INET6_ADDRSTRLEN);
}

static void
test_spec_example(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	const struct pd_rule *r;
	char a[INET6_ADDRSTRLEN], c[80];
	static const char *const pats[] = {
		"dynamodb.*.amazonaws.com", "dynamodb-fips.*.amazonaws.com",
		"*.ddb.*.amazonaws.com", "streams.dynamodb.*.amazonaws.com",
		"dynamodb.*.api.aws", "**.dynamodb.example.internal",
	};
	size_t i;

	if (pd_policy_load(DATA "/good/spec-example.yaml", NULL, &p, &e) !=
	    PD_OK) {
		T_OK(0, "spec example loads: %s", e.msg);
		return;
	}
	T_EQ_STR(p->path, DATA "/good/spec-example.yaml", "path as given");
	T_OK(!p->signed_ok, "not signed");
	T_EQ_INT(p->nupstreams, 1, "one upstream");
	T_EQ_STR(p->upstreams[0].label, "1.1.1.1:853", "upstream label");
	T_EQ_INT(p->upstreams[0].tls_port, 853, "tls_port");
	T_EQ_STR(p->upstreams[0].tls_auth_name, "cloudflare-dns.com",
	    "tls_auth_name");
	T_EQ_INT(p->upstreams[0].npins, 1, "one SPKI pin");
	T_EQ_INT(p->upstreams[0].pins[0].sha256[0], 0xca, "pin decoded");
	T_EQ_INT(p->upstreams[0].pins[0].sha256[31], 0xb7, "pin decoded");
	T_EQ_STR(p->tls_ca ? p->tls_ca->path : NULL,
	    DATA "/good/../anchors/root.ds",
	    "tls_ca_file relative to the policy's directory");
	T_EQ_INT(p->nanchors, 1, "one anchor file");
	T_EQ_STR(p->anchors[0].path, DATA "/good/../anchors/root.key",
	    "anchor relative to the policy's directory");
	T_EQ_INT(p->timeout_ms, 2000, "timeout_ms");
	T_EQ_INT(p->idle_timeout_ms, 10000, "idle_timeout_ms");
	T_OK(!p->round_robin, "round_robin");
	T_EQ_INT(p->cache_max_entries, 10000, "cache.max_entries");
	T_EQ_INT(p->cache_min_ttl, 0, "cache.min_ttl");
	T_EQ_INT(p->cache_max_ttl, 300, "cache.max_ttl");
	T_EQ_INT(p->cache_stale_ttl, 0, "cache.stale_ttl");
	T_EQ_INT(p->log_target, PD_LOG_STDERR, "log.target");
	T_EQ_INT(p->log_level, PD_LOG_LEVEL_DENY, "log.level");
	T_EQ_INT(p->default_rule.action, PD_ACTION_SYSTEM, "default");
	T_EQ_STR(p->default_rule.name, "default", "default rule name");
	T_EQ_INT(p->default_rule.index, 2, "default rule index");
	T_EQ_INT(p->nrules, 2, "two rules");
	r = &p->rules[0];
	T_EQ_STR(r->name, "dynamodb", "rule 0 name");
	T_EQ_INT(r->index, 0, "rule 0 index");
	T_EQ_INT(r->line, 32, "rule 0 line");
	T_EQ_INT(r->npatterns, 6, "rule 0 patterns");
	for (i = 0; i < 6 && i < r->npatterns; i++)
		T_EQ_STR(r->patterns[i], pats[i], "pattern %zu", i);
	T_EQ_INT(r->action, PD_ACTION_SECURE, "action secure");
	T_EQ_INT(r->dnssec, PD_DNSSEC_VALIDATE, "dnssec validate");
	T_OK(r->pins != NULL && r->pins->n == 2, "two pins");
	if (r->pins != NULL && r->pins->n == 2) {
		pd_cidr_format(&r->pins->v[1], c, sizeof(c));
		T_EQ_STR(c, "3.218.180.0/22", "pin 1 as written");
	}
	T_EQ_INT(r->pin_mode, PD_PIN_FILTER, "pin_mode filter");
	T_EQ_INT(r->ncname, 1, "one cname pattern");
	T_EQ_STR(r->ncname ? r->cname[0] : NULL, "**.amazonaws.com", "cname");
	r = &p->rules[1];
	T_EQ_STR(r->name, "dynamodb-local", "rule 1 name");
	T_EQ_INT(r->action, PD_ACTION_STATIC, "action static");
	T_EQ_INT(r->naddrs, 2, "two static addresses");
	if (r->naddrs == 2) {
		T_EQ_STR(ntop(&r->addrs[0], a), "127.0.0.1", "address 0");
		T_EQ_STR(ntop(&r->addrs[1], a), "::1", "address 1");
	}
	T_EQ_INT(r->ttl, 60, "ttl");
	T_OK(r->pins == NULL, "static rule: no pins");
	pd_policy_free(p);
}

static void
test_defaults(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	const char *text =
	    "version: 1\n"
	    "log: {target: \"file:audit.log\", level: all}\n"
	    "rules:\n"
	    "  - name: s\n"
	    "    match: [static.test]\n"
	    "    action: static\n"
	    "    addresses: [192.0.2.1]\n"
	    "  - name: sys\n"
	    "    match: [\"**.example\"]\n"
	    "    action: system\n"
	    "    pin: [192.0.2.0/24]\n";

	if (pd_policy_parse("dir/x.yaml", (const uint8_t *)text, strlen(text),
	    &p, &e) != PD_OK) {
		T_OK(0, "defaults policy loads: %s", e.msg);
		return;
	}
	T_EQ_INT(p->nupstreams, 0, "no upstreams");
	T_OK(p->upstreams == NULL, "upstreams NULL");
	T_OK(p->tls_ca == NULL, "tls_ca_file: system store");
	T_EQ_INT(p->nanchors, 1, "default anchor");
	T_EQ_STR(p->anchors[0].path, "/usr/share/dns/root.key",
	    "default anchor path");
	T_EQ_INT(p->anchors[0].line, 0, "the default anchor is not named");
	T_EQ_INT(p->timeout_ms, 2000, "default timeout_ms");
	T_EQ_INT(p->idle_timeout_ms, 10000, "default idle_timeout_ms");
	T_OK(!p->round_robin, "default round_robin");
	T_EQ_INT(p->cache_max_entries, 10000, "default max_entries");
	T_EQ_INT(p->cache_min_ttl, 0, "default min_ttl");
	T_EQ_INT(p->cache_max_ttl, 300, "default max_ttl");
	T_EQ_INT(p->cache_stale_ttl, 86400, "default stale_ttl: a day "
	    "(RFC 8767)");
	T_EQ_INT(p->log_target, PD_LOG_FILE, "log target file");
	T_EQ_STR(p->log_file, "dir/audit.log", "log file relative to policy");
	T_EQ_INT(p->log_level, PD_LOG_LEVEL_ALL, "log level all");
	T_EQ_INT(p->default_rule.action, PD_ACTION_SYSTEM, "default system");
	T_EQ_INT(p->default_rule.dnssec, PD_DNSSEC_VALIDATE,
	    "default rule dnssec");
	T_EQ_INT(p->default_rule.pin_mode, PD_PIN_FILTER,
	    "default rule pin_mode");
	T_OK(p->default_rule.pins == NULL, "default rule no pins");
	T_EQ_INT(p->rules[0].ttl, 60, "static ttl default 60");
	T_EQ_INT(p->rules[0].dnssec, PD_DNSSEC_VALIDATE, "rule dnssec default");
	T_EQ_INT(p->rules[1].pin_mode, PD_PIN_FILTER, "pin_mode default");
	T_EQ_INT(p->rules[1].ncname, 0, "no cname by default");
	pd_policy_free(p);
}

/* mode: the rule's own, else the top level's, else enforce. */
static void
test_mode(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	const char *text =
	    "version: 1\n"
	    "mode: report\n"
	    "upstream_recursive_servers:\n"
	    "  - {address_data: 192.0.2.53, tls_auth_name: dns.test}\n"
	    "default: secure\n"
	    "rules:\n"
	    "  - {name: a, match: [a.test], action: secure}\n"
	    "  - {name: b, match: [b.test], action: secure, mode: enforce}\n"
	    "  - {name: c, match: [c.test], action: system, "
	    "pin: [192.0.2.0/24]}\n"
	    "  - {name: d, match: [d.test], action: system}\n"
	    "  - {name: e, match: [e.test], action: deny}\n"
	    "  - {name: f, match: [f.test], action: static, "
	    "addresses: [192.0.2.1]}\n";
	const char *plain =
	    "version: 1\n"
	    "rules:\n"
	    "  - {name: c, match: [c.test], action: system, "
	    "pin: [192.0.2.0/24], mode: report}\n"
	    "  - {name: d, match: [d.test], action: system, "
	    "pin: [192.0.2.0/24]}\n";

	if (pd_policy_parse("m.yaml", (const uint8_t *)text, strlen(text),
	    &p, &e) != PD_OK) {
		T_OK(0, "mode policy loads: %s", e.msg);
		return;
	}
	T_OK(p->report && p->any_report, "top-level mode report");
	T_OK(p->rules[0].report, "secure rule without mode: the top level's");
	T_OK(!p->rules[1].report, "the rule's own mode enforce wins");
	T_OK(p->rules[2].report, "system rule with pins: the top level's");
	T_OK(!p->rules[3].report, "system rule without pins: nothing to "
	    "report");
	T_OK(!p->rules[4].report && !p->rules[5].report,
	    "deny and static: never");
	T_OK(p->default_rule.report, "default: secure takes the top level's");
	pd_policy_free(p);
	p = NULL;
	if (pd_policy_parse("m.yaml", (const uint8_t *)plain, strlen(plain),
	    &p, &e) != PD_OK) {
		T_OK(0, "per-rule mode policy loads: %s", e.msg);
		return;
	}
	T_OK(!p->report && p->any_report, "one rule in report");
	T_OK(p->rules[0].report && !p->rules[1].report,
	    "only the rule that says so");
	T_OK(!p->default_rule.report, "default system: enforce");
	pd_policy_free(p);
}

static void
test_files(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	char path[] = "/tmp/pindns-big-XXXXXX";
	uint8_t *big;
	size_t n = PD_POLICY_MAX_BYTES + 1;
	FILE *f;
	int fd;

	big = malloc(n);
	memset(big, '#', n);
	memcpy(big, "version: 1\n", 11);
	big[n - 1] = '\n';
	T_EQ_INT(pd_policy_parse("big.yaml", big, n, &p, &e), PD_EPARSE,
	    "parse refuses over 1 MiB");
	T_EQ_STR(e.msg, "big.yaml: larger than 1 MiB (1048577 bytes): "
	    "refused unread", "message");
	T_EQ_INT(pd_policy_parse("ok.yaml", big, n - 1, &p, &e), PD_OK,
	    "exactly 1 MiB is fine");
	pd_policy_free(p);
	p = NULL;
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fwrite(big, 1, n, f);
	fclose(f);
	T_EQ_INT(pd_policy_load(path, NULL, &p, &e), PD_EIO,
	    "load refuses a file over 1 MiB");
	T_OK(strstr(e.msg, "larger than 1048576 bytes (1048577 bytes)") !=
	    NULL, "message names the size: %s", e.msg);
	unlink(path);
	free(big);
	T_EQ_INT(pd_policy_load("/nonexistent/policy.yaml", NULL, &p, &e),
	    PD_EIO, "missing file");
	T_EQ_STR(e.msg, "/nonexistent/policy.yaml: No such file or directory",
	    "missing file message");
	T_EQ_INT(pd_policy_load(DATA, NULL, &p, &e), PD_EIO, "a directory");
	T_EQ_STR(e.msg, DATA ": not a regular file", "directory message");
	T_OK(p == NULL, "nothing set on failure");
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

static void
hex_of(const char *path, char *hex)
{
	struct pd_error e;
	uint8_t d[32];
	size_t i;

	hex[0] = '\0';
	if (pd_file_sha256(path, PD_CA_FILE_MAX_BYTES, d, &e) != PD_OK)
		return;
	for (i = 0; i < sizeof(d); i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

/*
 * The files a policy names are read once, at load: the policy holds the
 * very bytes that were hashed and checked (the backend opens nothing),
 * so a file replaced after the load changes nothing in force; the next
 * load checks it against the sha256 the policy gives and refuses it.
 */
static void
test_named_files(void)
{
	static const char ca_v1[] = "-----BEGIN CERTIFICATE-----\nv1\n";
	static const char ca_v2[] = "-----BEGIN CERTIFICATE-----\nv2\n";
	static const char ds[] = "example. 3600 IN DS 20326 8 2 "
	    "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8d\n";
	char dir[] = "/tmp/pindns-files-XXXXXX", ca[64], ta[64], pol[64];
	char hca[65], hta[65], text[512], plain[256];
	struct pd_policy *p = NULL, *q = NULL;
	struct pd_error e = { 0 };

	if (mkdtemp(dir) == NULL) {
		T_OK(0, "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(ta, sizeof(ta), "%s/ta.ds", dir);
	snprintf(pol, sizeof(pol), "%s/p.yaml", dir);
	put(ca, ca_v1);
	put(ta, ds);
	hex_of(ca, hca);
	hex_of(ta, hta);
	snprintf(text, sizeof(text), "version: 1\n"
	    "tls_ca_file: {path: ca.pem, sha256: %s}\n"
	    "dnssec_trust_anchors:\n"
	    "  - path: ta.ds\n"
	    "    sha256: %s\n", hca, hta);
	if (pd_policy_parse(pol, (const uint8_t *)text, strlen(text), &p,
	    &e) != PD_OK) {
		T_OK(0, "pinned policy loads: %s", e.msg);
		goto out;
	}
	T_OK(p->tls_ca->pinned && p->anchors[0].pinned, "both files pinned");
	T_EQ_STR(p->tls_ca->name, "ca.pem", "name as written");
	T_EQ_STR(p->tls_ca->path, ca, "path from the policy's directory");
	T_EQ_INT(p->tls_ca->line, 2, "CA named on line 2");
	T_EQ_INT(p->tls_ca->col, 21, "at the path's column");
	T_EQ_INT(p->anchors[0].line, 4, "anchor named on line 4");
	T_OK(p->tls_ca->len == strlen(ca_v1) &&
	    memcmp(p->tls_ca->data, ca_v1, strlen(ca_v1)) == 0,
	    "the policy holds the CA file's bytes");
	T_OK(p->anchors[0].len == strlen(ds) &&
	    memcmp(p->anchors[0].data, ds, strlen(ds)) == 0,
	    "and the anchor file's");

	/* Swapped after the load: what is in force does not change. */
	put(ca, ca_v2);
	T_OK(memcmp(p->tls_ca->data, ca_v1, strlen(ca_v1)) == 0,
	    "a file replaced after the load: the checked bytes stay");
	T_EQ_INT(pd_policy_parse(pol, (const uint8_t *)text, strlen(text), &q,
	    &e), PD_ESIG, "the next load refuses the replaced CA file");
	T_OK(strstr(e.msg, "p.yaml:2:21: tls_ca_file: ") != NULL &&
	    strstr(e.msg, "ca.pem: content does not match the sha256") !=
	    NULL, "message: %s", e.msg);
	T_OK(q == NULL, "nothing loaded");
	put(ca, ca_v1);
	put(ta, "example. 3600 IN DS 20326 8 2 "
	    "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8e\n");
	T_EQ_INT(pd_policy_parse(pol, (const uint8_t *)text, strlen(text), &q,
	    &e), PD_ESIG, "a replaced anchor file is refused");
	T_OK(strstr(e.msg, "p.yaml:4:11: trust anchor ") != NULL,
	    "message: %s", e.msg);

	/* Unpinned, any bytes load (no signature asks for a sha256). */
	snprintf(plain, sizeof(plain), "version: 1\ntls_ca_file: ca.pem\n"
	    "dnssec_trust_anchors: ta.ds\n");
	T_EQ_INT(pd_policy_parse(pol, (const uint8_t *)plain, strlen(plain),
	    &q, &e), PD_OK, "plain paths load unsigned: %s", e.msg);
	T_OK(q != NULL && !q->tls_ca->pinned && !q->anchors[0].pinned,
	    "and are not pinned");
	pd_policy_free(q);
	q = NULL;

	/* What makes the same policy for a reload: the files' bytes too. */
	put(pol, plain);
	T_EQ_INT(pd_policy_load(pol, NULL, &q, &e), PD_OK, "load: %s", e.msg);
	pd_policy_free(p);
	p = q;
	q = NULL;
	T_EQ_INT(pd_policy_load(pol, NULL, &q, &e), PD_OK, "load again");
	T_OK(p->has_digest && q->has_digest && memcmp(p->digest, q->digest,
	    sizeof(p->digest)) == 0, "same bytes everywhere: same digest");
	pd_policy_free(q);
	q = NULL;
	put(ca, ca_v2);
	T_EQ_INT(pd_policy_load(pol, NULL, &q, &e), PD_OK, "load, CA changed");
	T_OK(q != NULL && memcmp(p->digest, q->digest, sizeof(p->digest)) !=
	    0, "same policy bytes, another CA file: another digest");
out:
	pd_policy_free(p);
	pd_policy_free(q);
	unlink(ca);
	unlink(ta);
	unlink(pol);
	rmdir(dir);
}

/* Each `default` value SPEC §3 allows, and `static`, which it does not. */
static void
test_default_values(void)
{
	static const struct {
		const char	*word;
		int		 action;
	} t[] = {
		{ "system", PD_ACTION_SYSTEM },
		{ "secure", PD_ACTION_SECURE },
		{ "deny", PD_ACTION_DENY },
	};
	struct pd_policy *p;
	struct pd_error e = { 0 };
	char text[256];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		p = NULL;
		snprintf(text, sizeof(text), "version: 1\n"
		    "upstream_recursive_servers:\n"
		    "  - {address_data: 192.0.2.53, tls_auth_name: x.test}\n"
		    "dnssec_trust_anchors: [anchors/root.ds]\n"
		    "default: %s\n", t[i].word);
		if (pd_policy_parse("tests/data/policy/x.yaml",
		    (const uint8_t *)text, strlen(text), &p, &e) != PD_OK) {
			T_OK(0, "default: %s loads: %s", t[i].word, e.msg);
			continue;
		}
		T_EQ_INT(p->default_rule.action, t[i].action, "default: %s",
		    t[i].word);
		pd_policy_free(p);
	}
	snprintf(text, sizeof(text), "version: 1\ndefault: static\n");
	T_OK(pd_policy_parse("x.yaml", (const uint8_t *)text, strlen(text),
	    &p, &e) == PD_EPARSE, "default: static is refused");
}

/* pindns serve's keys (SPEC §8): stubby's listen_addresses format. */
static void
test_serve_keys(void)
{
	static const char text[] = "version: 1\n"
	    "listen_addresses: [127.0.0.1, 0::1, 127.0.0.53@5353, "
	    "\"::1@5300\"]\n"
	    "system_resolv_conf: upstream.conf\n";
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	char buf[64];

	if (pd_policy_parse("tests/data/policy/x.yaml", (const uint8_t *)text,
	    strlen(text), &p, &e) != PD_OK) {
		T_OK(0, "serve keys load: %s", e.msg);
		return;
	}
	T_EQ_INT(p->nlisten, 4, "four listen addresses");
	pd_listen_format(&p->listen[0], buf, sizeof(buf));
	T_EQ_STR(buf, "127.0.0.1@53", "default port 53");
	pd_listen_format(&p->listen[1], buf, sizeof(buf));
	T_EQ_STR(buf, "::1@53", "0::1 is ::1");
	pd_listen_format(&p->listen[2], buf, sizeof(buf));
	T_EQ_STR(buf, "127.0.0.53@5353", "ADDR@PORT");
	pd_listen_format(&p->listen[3], buf, sizeof(buf));
	T_EQ_STR(buf, "::1@5300", "IPv6 @PORT");
	T_EQ_STR(p->system_resolv_conf, "tests/data/policy/upstream.conf",
	    "system_resolv_conf relative to the policy");
	pd_policy_free(p);
	p = NULL;
	T_OK(pd_policy_parse("x.yaml", (const uint8_t *)"version: 1\n", 11,
	    &p, &e) == PD_OK && p->nlisten == 0 && p->listen == NULL &&
	    p->system_resolv_conf == NULL, "no serve keys: defaults");
	pd_policy_free(p);
}

int
main(void)
{
	test_serve_keys();
	test_default_values();
	test_mode();
	test_bad();
	test_good();
	test_spec_example();
	test_defaults();
	test_files();
	test_named_files();
	return t_done();
}

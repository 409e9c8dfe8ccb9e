/*
 * pindns check [POLICY]: load and verify the policy exactly as the
 * preload does (PINDNS_PUBKEY or /etc/pindns/policy.pub make the
 * signature mandatory), have the getdns backend parse the trust anchors,
 * then print a summary and the warnings a reviewer should see.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/cli.h"
#include "policy/policy.h"
#include "resolver/dot/dot.h"
#include "resolver/log.h"
#include "resolver/report.h"

static const char *const action_names[] = {
	"system", "secure", "static", "deny"
};
static const char *const dnssec_names[] = { "validate", "required", "off" };
static const char *const pin_mode_names[] = { "filter", "strict" };

static const char *
addr_str(int family, const uint8_t *a, char *buf, size_t len)
{
	if (inet_ntop(family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

static void
print_list(const char *label, char **v, size_t n)
{
	size_t i;

	/* One pattern a line: a reviewer reads them down, not across. */
	for (i = 0; i < n; i++)
		printf("       %-7s %s\n", i == 0 ? label : "", v[i]);
}

static void
print_rule(const struct pd_rule *r, size_t i)
{
	char a[INET6_ADDRSTRLEN];
	size_t j;

	printf("  %zu. %s (line %u): %s", i + 1, r->name, r->line,
	    action_names[r->action]);
	if (r->action == PD_ACTION_SECURE)
		printf(", dnssec %s", dnssec_names[r->dnssec]);
	if (r->pins != NULL)
		printf(", pin %zu CIDR%s (%s)", r->pins->n,
		    r->pins->n == 1 ? "" : "s", pin_mode_names[r->pin_mode]);
	else if (r->action == PD_ACTION_SECURE ||
	    r->action == PD_ACTION_SYSTEM)
		printf(", no pin");
	if (r->action == PD_ACTION_STATIC)
		printf(", ttl %u", r->ttl);
	if (r->report)
		printf(", mode report");
	printf("\n");
	print_list("match:", r->patterns, r->npatterns);
	if (r->ncname != 0)
		print_list("cname:", r->cname, r->ncname);
	if (r->action == PD_ACTION_STATIC) {
		printf("       addresses: ");
		for (j = 0; j < r->naddrs; j++)
			printf("%s%s", j ? ", " : "", addr_str(
			    r->addrs[j].family, r->addrs[j].addr, a,
			    sizeof(a)));
		printf("\n");
	}
}

/*
 * A named file with the sha256 of the bytes loaded, and whether the
 * policy pins it: the reviewer sees what a signature covers.
 */
static void
print_file(const char *label, const struct pd_policy_file *f)
{
	char hex[65];

	if (f->data == NULL) {
		printf("%s%s (not read: nothing validates)\n", label, f->path);
		return;
	}
	pd_cli_hex(f->sha256, sizeof(f->sha256), hex);
	printf("%s%s\n%*s sha256 %s, %s\n", label, f->path,
	    (int)strlen(label) - 1, "", hex, f->pinned ? "pinned" :
	    f->line == 0 ? "default, not pinned (no signature covers it)" :
	    "not pinned (a signed policy must pin it)");
}

static void
print_summary(const struct pd_policy *p, const char *pubkey)
{
	const struct pd_upstream *u;
	size_t i;

	printf("policy %s: ", p->path);
	if (p->signed_ok)
		printf("signature valid (%s)\n", pubkey);
	else
		printf("not signed (no public key configured: set "
		    "PINDNS_PUBKEY or install /etc/pindns/policy.pub)\n");
	printf("upstreams (%s):\n", p->round_robin ? "round robin" :
	    "first healthy, in order");
	if (p->nupstreams == 0)
		printf("  (none)\n");
	for (i = 0; i < p->nupstreams; i++) {
		u = &p->upstreams[i];
		printf("  %s  tls_auth_name %s", u->label, u->tls_auth_name);
		if (u->npins != 0)
			printf(", %zu SPKI pin%s", u->npins,
			    u->npins == 1 ? "" : "s");
		printf("\n");
	}
	if (p->tls_ca != NULL)
		print_file("tls_ca_file: ", p->tls_ca);
	else
		printf("tls_ca_file: (system store, not covered by a "
		    "signature)\n");
	for (i = 0; i < p->nanchors; i++)
		print_file(i == 0 ? "trust anchors: " : "               ",
		    &p->anchors[i]);
	printf("timeouts: lookup %u ms, idle %u ms\n", p->timeout_ms,
	    p->idle_timeout_ms);
	printf("cache: %u entries, ttl %u..%u s, stale %u s\n",
	    p->cache_max_entries, p->cache_min_ttl, p->cache_max_ttl,
	    p->cache_stale_ttl);
	printf("log: %s%s, level %s\n",
	    p->log_target == PD_LOG_STDERR ? "stderr" :
	    p->log_target == PD_LOG_SYSLOG ? "syslog" : "file:",
	    p->log_target == PD_LOG_FILE ? p->log_file : "",
	    p->log_level == PD_LOG_LEVEL_ALL ? "all" : "deny");
	printf("rules (first match wins):\n");
	if (p->nrules == 0)
		printf("  (none)\n");
	for (i = 0; i < p->nrules; i++)
		print_rule(&p->rules[i], i);
	printf("default (names no rule matches): %s%s\n",
	    action_names[p->default_rule.action],
	    p->default_rule.report ? ", mode report" : "");
}

static bool
protects(const struct pd_rule *r)
{
	return r->action != PD_ACTION_SYSTEM || r->pins != NULL;
}

static unsigned
warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static unsigned
warn(const char *fmt, ...)
{
	va_list ap;

	printf("warning: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static unsigned
print_warnings(const struct pd_policy *p)
{
	const struct pd_rule *r;
	const struct pd_upstream *u;
	const struct pd_cidr *c;
	char a[INET6_ADDRSTRLEN], err[512], rules[400];
	const char *env;
	unsigned n = 0;
	bool any = false;
	size_t i, j;

	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		any |= protects(r);
		if (r->action == PD_ACTION_SECURE && r->pins == NULL &&
		    r->dnssec != PD_DNSSEC_REQUIRED)
			n += warn("rule '%s': dnssec %s without pins: an "
			    "unsigned (insecure) answer is accepted with any "
			    "address", r->name, dnssec_names[r->dnssec]);
		if (r->action == PD_ACTION_SECURE &&
		    r->dnssec == PD_DNSSEC_OFF)
			n += warn("rule '%s': dnssec off: answers are not "
			    "validated", r->name);
		for (j = 0; r->pins != NULL && j < r->pins->n; j++) {
			c = &r->pins->v[j];
			if (c->prefix <= 1)
				n += warn("rule '%s': pin %s/%u covers %s the "
				    "IPv%c address space", r->name,
				    addr_str(c->family, c->addr, a, sizeof(a)),
				    c->prefix, c->prefix == 0 ? "all of" :
				    "half of", c->family == AF_INET ? '4' :
				    '6');
		}
	}
	if (pd_report_rules(p, rules, sizeof(rules)) > 0)
		n += warn("report mode (rules: %s): answers outside the pins "
		    "or escaping by CNAME are returned, not refused, and "
		    "logged as would-refuse; bogus, insecure, tls-auth and "
		    "deny are still refused", rules);
	if (p->default_rule.action == PD_ACTION_SYSTEM && !any)
		n += warn("default: system and no rule protects anything: "
		    "every name goes to libc unchanged");
	if (p->default_rule.action == PD_ACTION_SECURE)
		n += warn("default: secure without pins: every other name is "
		    "resolved over DoT and accepted with any address");
	/* A file target the preload would refuse (resolver/log.h). */
	if (p->log_target == PD_LOG_FILE && p->log_file != NULL &&
	    pd_log_check_file(p->log_file, err, sizeof(err)) != PD_OK)
		n += warn("%s; the audit log would go to stderr", err);
	if ((env = getenv("PINDNS_LOG")) != NULL &&
	    strncmp(env, "file:", 5) == 0 &&
	    pd_log_check_file(env + 5, err, sizeof(err)) != PD_OK)
		n += warn("PINDNS_LOG: %s; the audit log would go to stderr",
		    err);
	for (i = 0; i < p->nupstreams; i++) {
		u = &p->upstreams[i];
		if (u->npins == 1)
			n += warn("upstream %s: a single SPKI pin and no "
			    "backup pin: the provider's next key rotation "
			    "makes it unreachable", u->label);
	}
	return n;
}


int
pd_cmd_check(int argc, char **argv)
{
	static const char u[] = "check [POLICY]";
	static const struct option longopts[] = { { NULL, 0, NULL, 0 } };
	const struct pd_dot_ops *dot;
	struct pd_policy *p = NULL;
	struct pd_error e;
	const char *path, *pubkey;
	char derr[512];
	unsigned nw;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1)
		return pd_cli_bad_option("check", u, c, argv);
	if (argc - optind > 1)
		return pd_cli_usage_error("check", u, "expected at most one "
		    "POLICY");
	if (argc - optind == 1)
		path = argv[optind];
	else if ((path = getenv("PINDNS_POLICY")) == NULL || *path == '\0')
		path = PD_POLICY_DEFAULT_PATH;
	if (pd_cli_no_policy("check", path, "pindns check POLICY"))
		return PD_EXIT_USAGE;
	pubkey = pd_policy_pubkey_path();
	if (pd_policy_load(path, pubkey, &p, &e) != PD_OK) {
		fprintf(stderr, "%s\n", e.msg);
		fprintf(stderr, "pindns check: %s is invalid\n", path);
		return 1;
	}
	/* The backend's own parse of the anchors, as the engine will. */
	derr[0] = '\0';
	dot = pd_dot_get(derr, sizeof(derr));
	if (!pd_policy_needs_dnssec(p)) {
		/* Nothing validates: the anchors are not used. */
	} else if (dot == NULL || dot->check_anchors == NULL) {
		printf("note: trust anchors checked lexically only, not with "
		    "getdns (%s)\n", derr[0] != '\0' ? derr :
		    "backend check unavailable");
	} else if (dot->check_anchors(p, derr, sizeof(derr)) != PD_OK) {
		fprintf(stderr, "%s\n", derr);
		fprintf(stderr, "pindns check: %s is invalid\n", path);
		pd_policy_free(p);
		return 1;
	}
	print_summary(p, pubkey);
	nw = print_warnings(p);
	printf("%s: OK, %u warning%s\n", path, nw, nw == 1 ? "" : "s");
	pd_policy_free(p);
	return 0;
}

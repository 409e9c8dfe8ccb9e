/*
 * pindns query [-4|-6] [--json] [--audit] [-p POLICY] NAME [SERVICE]
 *
 * Resolves NAME through pd_engine_lookup(), the entry point the preload
 * calls, and explains the outcome: rule, action, upstream, DNSSEC status,
 * CNAME chain, each address and whether it was accepted, TTL, time. Names
 * the policy hands to libc are then looked up with libc's getaddrinfo, as
 * the preload would (and held against the rule's pins when it has some).
 *
 * Exit: 0 accepted, 1 usage or configuration (no policy, an invalid one),
 * 2 refused by policy, 3 temporary failure, 4 absent (NXDOMAIN or no
 * address of the family). The audit line goes to the policy's log target
 * only with --audit.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/cli.h"
#include "resolver/clock.h"
#include "resolver/engine.h"
#include "resolver/log.h"
#include "policy/policy.h"

#define EXIT_ACCEPTED	0
#define EXIT_USAGE	PD_EXIT_USAGE
#define EXIT_REFUSED	2
#define EXIT_TEMPFAIL	3
#define EXIT_ABSENT	4

#define USAGE "query [-4|-6] [--json] [--audit] [-p POLICY] NAME [SERVICE]"

struct port {
	int		socktype;
	int		protocol;
	unsigned	port;
};

struct outcome {
	struct pd_result	res;
	struct pd_explain	ex;
	const char		*via;		/* "pindns" or "libc" */
	const char		*libc_error;	/* gai_strerror, or NULL */
	int			 code;
	struct port		 ports[8];
	unsigned		 nports;
};

static int
usage_error(const char *msg)
{
	return pd_cli_usage_error("query", USAGE, "%s", msg);
}

/* The port(s) of SERVICE, as getaddrinfo resolves it for any socket type. */
static int
resolve_service(const char *service, struct outcome *o)
{
	struct addrinfo hints, *ai, *p;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_INET;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(NULL, service, &hints, &ai)) != 0) {
		fprintf(stderr, "pindns query: service '%s': %s\n", service,
		    gai_strerror(rc));
		return -1;
	}
	for (p = ai; p != NULL && o->nports < 8; p = p->ai_next) {
		o->ports[o->nports].socktype = p->ai_socktype;
		o->ports[o->nports].protocol = p->ai_protocol;
		o->ports[o->nports].port = ntohs(
		    ((struct sockaddr_in *)(void *)p->ai_addr)->sin_port);
		o->nports++;
	}
	freeaddrinfo(ai);
	return 0;
}

static int
code_of(const struct pd_result *r)
{
	switch (r->verdict) {
	case PD_VERDICT_ACCEPTED:	return EXIT_ACCEPTED;
	case PD_VERDICT_ABSENT:		return EXIT_ABSENT;
	case PD_VERDICT_FAILED:		return EXIT_TEMPFAIL;
	default:			return EXIT_REFUSED;
	}
}

/* SYSTEM and SYSTEM_PINNED: ask libc, as the preload would. */
static void
via_libc(const char *name, unsigned want, struct outcome *o)
{
	struct addrinfo hints, *ai = NULL, *p;
	struct pd_addr addrs[PD_MAX_ADDRS];
	uint8_t keep[PD_MAX_ADDRS];
	unsigned n = 0, i;
	bool pinned = o->res.verdict == PD_VERDICT_SYSTEM_PINNED;
	int rc;

	o->via = "libc";
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = want == PD_WANT_A ? AF_INET :
	    want == PD_WANT_AAAA ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_CANONNAME;
	if ((rc = getaddrinfo(name, NULL, &hints, &ai)) != 0) {
		o->libc_error = gai_strerror(rc);
		o->code = rc == EAI_NONAME || rc == EAI_NODATA ? EXIT_ABSENT :
		    EXIT_TEMPFAIL;
		o->res.verdict = rc == EAI_NONAME || rc == EAI_NODATA ?
		    PD_VERDICT_ABSENT : PD_VERDICT_FAILED;
		return;
	}
	if (ai->ai_canonname != NULL)
		(void)snprintf(o->res.canon, sizeof(o->res.canon), "%s",
		    ai->ai_canonname);
	for (p = ai; p != NULL && n < PD_MAX_ADDRS; p = p->ai_next) {
		memset(&addrs[n], 0, sizeof(addrs[n]));
		addrs[n].family = p->ai_family;
		if (p->ai_family == AF_INET)
			memcpy(addrs[n].addr, &((struct sockaddr_in *)
			    (void *)p->ai_addr)->sin_addr, 4);
		else if (p->ai_family == AF_INET6)
			memcpy(addrs[n].addr, &((struct sockaddr_in6 *)
			    (void *)p->ai_addr)->sin6_addr, 16);
		else
			continue;
		n++;
	}
	freeaddrinfo(ai);
	if (pinned) {
		pd_engine_filter(name, addrs, n, keep, &o->res);
		o->code = code_of(&o->res);
	} else {
		memset(keep, 1, sizeof(keep));
		o->res.verdict = PD_VERDICT_ACCEPTED;
		o->code = EXIT_ACCEPTED;
	}
	o->ex.nseen = n;
	for (i = 0; i < n; i++) {
		o->ex.seen[i] = addrs[i];
		o->ex.seen_ok[i] = keep[i] != 0;
	}
	o->res.naddrs = 0;
	for (i = 0; i < n; i++)
		if (keep[i])
			o->res.addrs[o->res.naddrs++] = addrs[i];
}

static const char *
addr_str(const struct pd_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->addr, buf, (socklen_t)len) == NULL)
		(void)snprintf(buf, len, "?");
	return buf;
}

/* Why address i was or was not handed out. */
static const char *
why(const struct outcome *o, unsigned i)
{
	const struct pd_result *r = &o->res;

	if (o->ex.seen_ok[i])
		return r->verdict == PD_VERDICT_ACCEPTED ? "accepted" :
		    r->reason == PD_REASON_OUTSIDE_PIN ?
		    "refused: inside the pins, but another is outside "
		    "(pin_mode strict)" : "refused with the answer";
	if (pd_result_would_refuse(r))
		return "answered (report mode), would refuse: outside the "
		    "pins";
	if (r->verdict == PD_VERDICT_ACCEPTED ||
	    r->reason == PD_REASON_OUTSIDE_PIN)
		return r->verdict == PD_VERDICT_ACCEPTED ?
		    "dropped: outside the pins" : "refused: outside the pins";
	return "refused with the answer";
}

static const char *
socktype_str(int t)
{
	return t == SOCK_STREAM ? "tcp" : t == SOCK_DGRAM ? "udp" :
	    t == SOCK_RAW ? "raw" : "?";
}

/*
 * The upstream that answered; "none" when the network was used and no
 * upstream answered; "-" when no upstream was asked (static, deny,
 * libc, the cache without a note).
 */
static const char *
upstream_str(const struct outcome *o)
{
	if (o->ex.upstream[0] != '\0')
		return o->ex.upstream;
	if (o->ex.ntries > 0 || (strcmp(o->ex.action, "secure") == 0 &&
	    !o->ex.from_cache && strcmp(o->via, "libc") != 0))
		return "none";
	return "-";
}

static const char *
outcome_str(const struct outcome *o)
{
	return pd_result_would_refuse(&o->res) ? "would-refuse" :
	    pd_verdict_str(o->res.verdict);
}

static void
print_text(const char *name, const struct outcome *o)
{
	const struct pd_explain *ex = &o->ex;
	const struct pd_result *r = &o->res;
	char a[INET6_ADDRSTRLEN];
	unsigned i;

	printf("name:       %s\n", name);
	printf("rule:       %s\n", ex->rule[0] != '\0' ? ex->rule :
	    "(none: no policy)");
	printf("action:     %s%s\n", ex->action[0] != '\0' ? ex->action :
	    "-", strcmp(o->via, "libc") == 0 ? " (answered by libc)" : "");
	printf("verdict:    %s", outcome_str(o));
	if (r->reason != PD_REASON_NONE)
		printf(" (%s)", pd_reason_str(r->reason));
	if (o->libc_error != NULL)
		printf(" (libc: %s)", o->libc_error);
	printf("\n");
	for (i = 0; i < ex->ntries; i++) {
		printf("tried:      %-21s %s", ex->tries[i].upstream,
		    ex->tries[i].why);
		if (ex->tries[i].count > 1)
			printf(" x%u", ex->tries[i].count);
		printf("\n");
	}
	printf("upstream:   %s\n", upstream_str(o));
	printf("dnssec:     %s\n", ex->dnssec[0] != '\0' ? ex->dnssec : "off");
	if (ex->nchain > 0) {
		printf("chain:      ");
		for (i = 0; i < ex->nchain; i++)
			printf("%s%s", i > 0 ? " -> " : "", ex->chain[i]);
		printf("\n");
	}
	for (i = 0; i < ex->nseen; i++)
		printf("address:    %-39s %s\n",
		    addr_str(&ex->seen[i], a, sizeof(a)), why(o, i));
	if (r->verdict == PD_VERDICT_ACCEPTED && r->canon[0] != '\0')
		printf("canonical:  %s\n", r->canon);
	if (r->verdict == PD_VERDICT_ACCEPTED ||
	    r->verdict == PD_VERDICT_ABSENT)
		printf("ttl:        %u s%s\n", r->ttl, ex->from_cache ?
		    " (from the cache)" : "");
	for (i = 0; i < o->nports; i++)
		printf("port:       %u/%s\n", o->ports[i].port,
		    socktype_str(o->ports[i].socktype));
	printf("time:       %.2f ms\n", ex->ms);
	if (ex->detail[0] != '\0')
		printf("detail:     %s\n", ex->detail);
}

static void
jstr(const char *key, const char *val, bool comma)
{
	char buf[6 * 300 + 8];

	(void)pd_log_json_str(val, 300, buf, sizeof(buf));
	printf("\"%s\":%s%s", key, buf, comma ? "," : "");
}

static void
print_json(const char *name, const struct outcome *o)
{
	const struct pd_explain *ex = &o->ex;
	const struct pd_result *r = &o->res;
	char a[INET6_ADDRSTRLEN];
	unsigned i;

	printf("{");
	jstr("name", name, true);
	jstr("rule", ex->rule[0] != '\0' ? ex->rule : NULL, true);
	jstr("action", ex->action[0] != '\0' ? ex->action : NULL, true);
	jstr("answered_by", o->via, true);
	jstr("verdict", outcome_str(o), true);
	jstr("reason", r->reason != PD_REASON_NONE ?
	    pd_reason_str(r->reason) : NULL, true);
	jstr("libc_error", o->libc_error, true);
	jstr("upstream", strcmp(upstream_str(o), "-") != 0 ?
	    upstream_str(o) : NULL, true);
	printf("\"tried\":[");
	for (i = 0; i < ex->ntries; i++) {
		printf("%s{", i > 0 ? "," : "");
		jstr("upstream", ex->tries[i].upstream, true);
		jstr("why", ex->tries[i].why, true);
		printf("\"count\":%u}", ex->tries[i].count > 0 ?
		    ex->tries[i].count : 1);
	}
	printf("],");
	jstr("dnssec", ex->dnssec[0] != '\0' ? ex->dnssec : "off", true);
	printf("\"chain\":[");
	for (i = 0; i < ex->nchain; i++) {
		char buf[6 * 300 + 8];

		(void)pd_log_json_str(ex->chain[i], 300, buf, sizeof(buf));
		printf("%s%s", i > 0 ? "," : "", buf);
	}
	printf("],\"addresses\":[");
	for (i = 0; i < ex->nseen; i++) {
		printf("%s{", i > 0 ? "," : "");
		jstr("address", addr_str(&ex->seen[i], a, sizeof(a)), true);
		printf("\"accepted\":%s,", ex->seen_ok[i] &&
		    r->verdict == PD_VERDICT_ACCEPTED ? "true" : "false");
		jstr("why", why(o, i), false);
		printf("}");
	}
	printf("],");
	jstr("canonical", r->verdict == PD_VERDICT_ACCEPTED &&
	    r->canon[0] != '\0' ? r->canon : NULL, true);
	printf("\"ttl\":%u,\"from_cache\":%s,\"ports\":[", r->ttl,
	    ex->from_cache ? "true" : "false");
	for (i = 0; i < o->nports; i++)
		printf("%s{\"port\":%u,\"socktype\":\"%s\"}", i > 0 ? "," : "",
		    o->ports[i].port, socktype_str(o->ports[i].socktype));
	printf("],\"ms\":%.2f,", ex->ms);
	jstr("detail", ex->detail[0] != '\0' ? ex->detail : NULL, true);
	printf("\"exit\":%d}\n", o->code);
}

/* The policy must load before the engine is asked anything: without one
 * every name would be "refused", which is a configuration error here. */
static int
policy_loads(const char *path)
{
	struct pd_policy *p = NULL;
	struct pd_error e;

	if (path == NULL && ((path = getenv("PINDNS_POLICY")) == NULL ||
	    *path == '\0'))
		path = PD_POLICY_DEFAULT_PATH;
	if (pd_cli_no_policy("query", path, "pindns query -p POLICY NAME"))
		return -1;
	if (pd_policy_load(path, pd_policy_pubkey_path(), &p, &e) != PD_OK) {
		fprintf(stderr, "%s\npindns query: %s is invalid (pindns check "
		    "%s)\n", e.msg, path, path);
		return -1;
	}
	pd_policy_free(p);
	return 0;
}

int
pd_cmd_query(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "audit", no_argument, NULL, 'a' },
		{ "policy", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct pd_engine_cfg cfg;
	struct outcome *o;
	const char *name = NULL, *service = NULL;
	unsigned want = PD_WANT_A | PD_WANT_AAAA;
	bool json = false, audit = false;
	uint64_t t0;
	int c, code;

	memset(&cfg, 0, sizeof(cfg));
	/* GNU getopt_long permutes: options may follow NAME. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":46p:", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			cfg.policy_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'a':
			audit = true;
			break;
		case '4':
			want = PD_WANT_A;
			break;
		case '6':
			want = PD_WANT_AAAA;
			break;
		default:
			return pd_cli_bad_option("query", USAGE, c, argv);
		}
	}
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		service = argv[optind++];
	if (name == NULL || *name == '\0')
		return usage_error("missing NAME");
	if (optind < argc)
		return usage_error("too many arguments");
	if (policy_loads(cfg.policy_path) != 0)
		return EXIT_USAGE;
	/* The production audit log only when asked: an operator's
	 * question is not a lookup of the service's. */
	if (!audit)
		cfg.log_target = "none";
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		fprintf(stderr, "pindns query: out of memory\n");
		return EXIT_TEMPFAIL;
	}
	if (service != NULL && resolve_service(service, o) != 0) {
		free(o);
		return EXIT_USAGE;
	}
	if (pd_engine_init(&cfg) != 0) {
		fprintf(stderr, "pindns query: the engine cannot start\n");
		free(o);
		return EXIT_TEMPFAIL;
	}
	o->via = "pindns";
	t0 = pd_clock_ns();
	pd_engine_lookup(name, want, &o->res, &o->ex);
	if (o->res.verdict == PD_VERDICT_SYSTEM ||
	    o->res.verdict == PD_VERDICT_SYSTEM_PINNED) {
		via_libc(name, want, o);
		o->ex.ms = (pd_clock_ns() - t0) / 1e6;
	} else
		o->code = code_of(&o->res);
	if (json)
		print_json(name, o);
	else
		print_text(name, o);
	code = o->code;
	free(o);
	pd_engine_shutdown();
	return code;
}

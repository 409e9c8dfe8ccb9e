/*
 * pindns serve [-p POLICY] [-l ADDR[@PORT]]... [-u USER] (SPEC §8)
 *
 * The engine and policy of the preload as a local DNS resolver, for what
 * LD_PRELOAD cannot reach. The answering is the responder's (resolver/
 * serve.h: the same loop, workers and TCP connections as the preload's
 * in-process responder): claimed A/AAAA questions through the engine,
 * other types for claimed names refused, unclaimed queries byte for byte
 * to the nameservers of system_resolv_conf, tried in turn as glibc's
 * stub tries them (resolver/resp_stub.c). This file is the
 * daemon around it: options, the listen addresses, the loop check,
 * binding, dropping privileges, systemd readiness, signals.
 *
 * Foreground. SIGTERM or SIGINT: exit 0. SIGHUP: read the policy again
 * (the old one stays when the new one fails). The file is also checked
 * for changes once a second, queries or not. Exit 1 when it cannot start
 * (usage, a policy that does not load, an address that cannot be bound,
 * a loop to its own address).
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/serve.h"
#include "policy/policy.h"
#include "resolver/engine.h"
#include "resolver/serve.h"
#include "resolver/stats.h"

#define USAGE	"serve [-p POLICY] [-l ADDR[@PORT]]... [-u USER] " \
		"[--metrics-file FILE [--metrics-interval SECONDS]]"
#define LISTEN_MAX	32
#define DEFAULT_USER	"pindns"
#define RESOLV_CONF	"/etc/resolv.conf"

/* Limits of the responder in this daemon (resolver/serve.h). */
#define WORKERS		16
#define FWD_SOCKETS	256
#define TCP_CONNS	128
#define TCP_IDLE_MS	10000
#define METRICS_INTERVAL 15	/* s; node_exporter scrapes every 15 s */

struct opts {
	const char		*policy;
	const char		*user;
	unsigned		 nlisten;
	struct pd_listen	 listen[LISTEN_MAX];
	bool			 defaults;	/* no -l, none in the policy */
	const char		*metrics;	/* --metrics-file */
	unsigned		 interval;	/* --metrics-interval, s */
};

__attribute__((format(printf, 1, 2))) static void
say(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pindns serve: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "listen", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "metrics-file", required_argument, NULL, 'm' },
		{ "metrics-interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 }
	};
	char why[256], *end;
	unsigned long v;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:l:u:", longopts, NULL)) !=
	    -1) {
		switch (c) {
		case 'p':
			o->policy = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'm':
			if (optarg[0] == '\0')
				return pd_cli_usage_error("serve", USAGE,
				    "--metrics-file: empty path");
			o->metrics = optarg;
			break;
		case 'i':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || v == 0 || v > 3600 ||
			    optarg[0] == '-')
				return pd_cli_usage_error("serve", USAGE,
				    "--metrics-interval: 1 to 3600 seconds, "
				    "not '%s'", optarg);
			o->interval = (unsigned)v;
			break;
		case 'l':
			if (o->nlisten == LISTEN_MAX)
				return pd_cli_usage_error("serve", USAGE,
				    "more than %d -l", LISTEN_MAX);
			if (pd_listen_parse(optarg, &o->listen[o->nlisten],
			    why, sizeof(why)) != 0)
				return pd_cli_usage_error("serve", USAGE,
				    "-l %s", why);
			o->nlisten++;
			break;
		default:
			return pd_cli_bad_option("serve", USAGE, c, argv);
		}
	}
	if (optind < argc)
		return pd_cli_usage_error("serve", USAGE, "unexpected '%s'",
		    argv[optind]);
	if (o->interval != 0 && o->metrics == NULL)
		return pd_cli_usage_error("serve", USAGE, "--metrics-interval "
		    "without --metrics-file");
	if (o->interval == 0)
		o->interval = METRICS_INTERVAL;
	return 0;
}

/* Does anything the policy says go to the system resolver? */
static bool
needs_system(const struct pd_policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		if (p->rules[i].action == PD_ACTION_SYSTEM)
			return true;
	return p->default_rule.action == PD_ACTION_SYSTEM;
}

static bool
same_sockaddr(const struct sockaddr_storage *a, socklen_t alen,
    const struct sockaddr_storage *b, socklen_t blen)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)a;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)b;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)a;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)b;

	if (alen != blen || a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a6->sin6_port == b6->sin6_port &&
	    memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

/*
 * The servers unclaimed queries go to: the nameservers of the system
 * resolv.conf (tried in turn, as glibc's stub does), none of which may
 * be one of our own addresses. 0 (ns->n 0: none, and nothing needs
 * one), or -1: said why.
 */
static int
pick_servers(const struct pd_policy *p, const struct opts *o,
    struct pd_stub_conf *ns)
{
	const char *path = p->system_resolv_conf != NULL ?
	    p->system_resolv_conf : RESOLV_CONF;
	struct sockaddr_storage me;
	socklen_t melen;
	char why[512], buf[64];
	bool need = needs_system(p);
	unsigned i;
	int n, k;

	if ((n = pd_serve_resolv(path, ns, why, sizeof(why))) < 0) {
		ns->n = 0;
		if (!need)
			return 0;
		say("cannot read the system resolver's configuration: %s "
		    "(system_resolv_conf)", why);
		return -1;
	}
	for (k = 0; k < n; k++)
		for (i = 0; i < o->nlisten; i++) {
			pd_serve_sockaddr(&o->listen[i], &me, &melen);
			if (!same_sockaddr(&ns->ns[k], ns->nslen[k], &me,
			    melen))
				continue;
			pd_listen_format(&o->listen[i], buf, sizeof(buf));
			say("%s names %s, one of our own listen addresses: "
			    "unclaimed queries would come back to us (a loop)."
			    " Point system_resolv_conf at a file naming the "
			    "upstream resolvers", path, buf);
			return -1;
		}
	if (n == 0) {
		if (!need)
			return 0;
		say("%s names no nameserver, and the policy sends names to "
		    "the system resolver (system_resolv_conf)", path);
		return -1;
	}
	return 0;
}

/* Bind every listen address; the defaults may lack IPv6. */
static int
bind_all(struct opts *o, int *ufd, int *lfd)
{
	char buf[64];
	unsigned i, k = 0;

	for (i = 0; i < o->nlisten; i++) {
		pd_listen_format(&o->listen[i], buf, sizeof(buf));
		if (pd_serve_bind(&o->listen[i], &ufd[k], &lfd[k]) == 0) {
			o->listen[k++] = o->listen[i];
			continue;
		}
		if (o->defaults && o->listen[i].addr.family == AF_INET6 &&
		    (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
			say("%s: %s; not listening there", buf,
			    strerror(errno));
			continue;
		}
		say("cannot listen on %s: %s", buf, strerror(errno));
		while (k > 0) {
			k--;
			(void)close(ufd[k]);
			(void)close(lfd[k]);
		}
		return -1;
	}
	o->nlisten = k;
	return k > 0 ? 0 : -1;
}

/* The listen addresses: -l, else the policy's, else the defaults. */
static void
choose_listen(struct opts *o, const struct pd_policy *p)
{
	char why[128];
	size_t i;

	if (o->nlisten > 0)
		return;
	for (i = 0; i < p->nlisten && o->nlisten < LISTEN_MAX; i++)
		o->listen[o->nlisten++] = p->listen[i];
	if (o->nlisten > 0)
		return;
	o->defaults = true;
	(void)pd_listen_parse("127.0.0.1@53", &o->listen[0], why,
	    sizeof(why));
	(void)pd_listen_parse("::1@53", &o->listen[1], why, sizeof(why));
	o->nlisten = 2;
}

/*
 * The metrics file (--metrics-file), replaced whole by rename(2) so a
 * reader never sees half of it. A failure is said once, until it works.
 */
static void
write_metrics(const struct opts *o)
{
	static bool failing;
	struct pd_stats_view v;

	if (o->metrics == NULL)
		return;
	pd_stats_snapshot(&v);
	if (pd_stats_prom_file(&v, o->metrics) == 0) {
		if (failing)
			say("%s: written again", o->metrics);
		failing = false;
	} else if (!failing) {
		failing = true;
		say("cannot write the metrics file %s: %s", o->metrics,
		    strerror(errno));
	}
}

/* Until SIGTERM or SIGINT: reload on SIGHUP, look for changes each s. */
static void
run(const struct opts *o)
{
	struct timespec one = { 1, 0 };
	time_t next = 0, now;
	sigset_t set;
	int sig, r;

	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	for (;;) {
		if ((now = time(NULL)) >= next) {
			write_metrics(o);
			next = now + (time_t)o->interval;
		}
		sig = sigtimedwait(&set, NULL, &one);
		if (sig == SIGTERM || sig == SIGINT) {
			write_metrics(o);
			pd_serve_notify("STOPPING=1");
			say("stopping (%s)", sig == SIGTERM ? "SIGTERM" :
			    "SIGINT");
			return;
		}
		if (sig == SIGHUP) {
			pd_serve_notify("RELOADING=1");
			r = pd_engine_reload(true);
			say("SIGHUP: %s", r > 0 ? "policy reloaded" : r < 0 ?
			    "the new policy was refused; the old one stays" :
			    "policy unchanged");
			pd_serve_notify("READY=1");
			continue;
		}
		/* Silent, as in the preload: a lookup may be the one that
		 * notices the change first. */
		(void)pd_engine_reload(false);
	}
}

int
pd_cmd_serve(int argc, char **argv)
{
	struct opts o;
	struct pd_policy *p = NULL;
	struct pd_error e;
	struct pd_engine_cfg cfg;
	struct pd_serve_tune t;
	struct pd_stub_conf ns;
	sigset_t set;
	char msg[256], list[LISTEN_MAX * 48], buf[64];
	int ufd[LISTEN_MAX], lfd[LISTEN_MAX], r;
	unsigned i;

	memset(&o, 0, sizeof(o));
	if (parse_args(argc, argv, &o) != 0)
		return PD_EXIT_USAGE;
	/*
	 * Signals are taken with sigtimedwait on this thread: blocked
	 * before any thread exists, so that every thread inherits it.
	 */
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGHUP);
	(void)sigaddset(&set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (o.policy == NULL && ((o.policy = getenv("PINDNS_POLICY")) ==
	    NULL || *o.policy == '\0'))
		o.policy = PD_POLICY_DEFAULT_PATH;
	if (pd_cli_no_policy("serve", o.policy, "pindns serve -p POLICY"))
		return PD_EXIT_USAGE;
	/* A daemon that would refuse every name is a configuration error. */
	if (pd_policy_load(o.policy, pd_policy_pubkey_path(), &p, &e) !=
	    PD_OK) {
		fprintf(stderr, "%s\n", e.msg);
		say("%s is invalid (pindns check %s)", o.policy, o.policy);
		return PD_EXIT_USAGE;
	}
	choose_listen(&o, p);
	r = pick_servers(p, &o, &ns);
	memset(&t, 0, sizeof(t));
	t.workers = WORKERS;
	t.fwd_max = FWD_SOCKETS;
	t.tcp_max = TCP_CONNS;
	t.tcp_idle_ms = TCP_IDLE_MS;
	/* Queued longer than the engine's own budget: SERVFAIL. */
	t.job_ms = p->timeout_ms;
	pd_policy_free(p);
	if (r != 0 || bind_all(&o, ufd, lfd) != 0)
		return PD_EXIT_USAGE;

	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = o.policy;
	pd_stats_publish("serve");
	if (pd_engine_init(&cfg) != 0) {
		say("the engine cannot start");
		return PD_EXIT_USAGE;
	}
	/* Open the audit log (and all that needs root) before dropping. */
	(void)pd_engine_reload(false);
	r = pd_serve_drop(o.user != NULL ? o.user : DEFAULT_USER,
	    o.user != NULL, msg, sizeof(msg));
	if (msg[0] != '\0')
		say("%s", msg);
	if (r < 0)
		return PD_EXIT_USAGE;
	if (r > 0 && access(o.policy, R_OK) != 0)
		say("warning: %s is not readable now (%s): a changed policy "
		    "cannot be loaded; the one read at start stays", o.policy,
		    strerror(errno));

	pd_resp_serve_tune(&t);
	list[0] = '\0';
	for (i = 0; i < o.nlisten; i++) {
		if (pd_resp_serve_listen(ufd[i], lfd[i], &ns) != 0) {
			say("cannot serve: %s", strerror(errno));
			return PD_EXIT_USAGE;
		}
		pd_listen_format(&o.listen[i], buf, sizeof(buf));
		(void)snprintf(list + strlen(list), sizeof(list) -
		    strlen(list), "%s%s", i > 0 ? " " : "", buf);
	}
	say("listening on %s (UDP, TCP); policy %s", list, o.policy);
	(void)snprintf(msg, sizeof(msg), "READY=1\nSTATUS=listening on %.200s",
	    list);
	pd_serve_notify(msg);
	run(&o);
	pd_stats_unpublish();
	(void)fflush(NULL);
	/*
	 * Out at once: the responder's threads may be inside a lookup;
	 * tearing the engine down under them would be the crash to avoid.
	 */
	_exit(0);
}

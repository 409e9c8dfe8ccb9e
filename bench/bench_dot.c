/*
 * bench_dot: what a lookup costs in the getdns DoT backend against the
 * lab (PINDNS_LAB_ENV), on loopback and through the lab's delay relay
 * (LAB_DELAY_PORT, 5 ms each way: a 10 ms round trip), next to kdig over
 * a kept-open TLS connection and to stock getdns stub validation
 * (dnssec_return_only_secure). Prints medians and 99th percentiles in
 * milliseconds, and the queries a validated miss sends, counted in the
 * upstream's query log. No assertion: figures only (the machine is
 * shared; run it a few times).
 *
 *	PINDNS_LAB_ENV=build/lab/lab.env build/bench/bench_dot [N]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/worker.h"
#include "tests/tools/clock.h"
#include "tests/tools/pfile.h"
#include "tests/unit/lab.h"
#include "tests/unit/lab_getdns.h"

#define A	PD_WANT_A
#define BOTH	(PD_WANT_A | PD_WANT_AAAA)


static void
row(const char *what, double *t, int n)
{
	if (n <= 0) {
		printf("%-58s   (no samples)\n", what);
		return;
	}
	qsort(t, (size_t)n, sizeof(*t), pd_cmp_double);
	printf("%-58s p50 %7.3f  p99 %7.3f  (n=%d)\n", what, t[n / 2],
	    t[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], n);
	fflush(stdout);
}

/* ------------------------------------------------------------ backend */

static struct pd_upstream up;
static struct pd_policy pol;
static struct pd_policy_file pol_ca, pol_ta;

static struct pd_dot *
backend(int port)
{
	struct pd_dot *d = NULL;
	char err[256];

	memset(&up, 0, sizeof(up));
	up.addr.family = AF_INET;
	inet_pton(AF_INET, pd_lab_opt("LAB_UP_ADDR"), up.addr.addr);
	up.tls_port = (uint16_t)port;
	up.tls_auth_name = (char *)pd_lab_opt("LAB_AUTH_NAME");
	snprintf(up.label, sizeof(up.label), "%s:%d", pd_lab_opt("LAB_UP_ADDR"),
	    port);
	memset(&pol, 0, sizeof(pol));
	pol.nupstreams = 1;
	pol.upstreams = &up;
	pd_tools_pfile_clear(&pol_ca);
	pd_tools_pfile_clear(&pol_ta);
	(void)pd_tools_pfile(&pol_ca, pd_lab_opt("LAB_CA"));
	(void)pd_tools_pfile(&pol_ta, pd_lab_opt("LAB_TA_DS"));
	pol.tls_ca = &pol_ca;
	pol.anchors = &pol_ta;
	pol.nanchors = 1;
	pol.timeout_ms = 5000;
	pol.idle_timeout_ms = 30000;
	pol.default_rule.action = PD_ACTION_SECURE;
	if (pd_dot_new(&pol, NULL, &d, err, sizeof(err)) != PD_OK) {
		fprintf(stderr, "bench_dot: %s\n", err);
		exit(1);
	}
	return d;
}

static const char *zone_names[] = {
	"dynamodb.us-east-1.amazonaws.com",
	"dynamodb-fips.us-east-1.amazonaws.com",
	"streams.dynamodb.us-east-1.amazonaws.com",
	"123456789012.ddb.us-east-1.amazonaws.com",
	"dynamodb.eu-west-1.amazonaws.com",
	"dynamodb.us-west-1.amazonaws.com",
};
#define NNAMES	(int)(sizeof(zone_names) / sizeof(zone_names[0]))

static int
lookup(struct pd_dot *d, const char *name, unsigned want,
    enum pd_dnssec_mode mode, double *ms)
{
	struct pd_dot_result res;
	double t0 = pd_now_ms();

	if (pd_dot_resolve(d, name, want, mode, &res) != PD_OK ||
	    res.status != PD_DOT_OK) {
		fprintf(stderr, "bench_dot: %s failed (%s)\n", name,
		    res.detail);
		return -1;
	}
	*ms = pd_now_ms() - t0;
	if (mode != PD_DNSSEC_OFF && res.a.asked && res.a.sec !=
	    PD_SEC_SECURE)
		fprintf(stderr, "bench_dot: %s not SECURE (%d)\n", name,
		    res.a.sec);
	return 0;
}

/* n lookups over the zone's names on a warmed backend. */
static void
misses(const char *what, struct pd_dot *d, unsigned want,
    enum pd_dnssec_mode mode, int n, double *t)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		if (lookup(d, zone_names[i % NNAMES], want, mode, &t[k]) == 0)
			k++;
	row(what, t, k);
}

/* The first validated lookup of a fresh backend (TLS handshake, the
 * chain), and of a zone on a connection already up. */
static void
firsts(const char *what_fresh, const char *what_warm, int port, int n,
    double *t, double *t2)
{
	struct pd_dot *d;
	int i, k = 0, k2 = 0;
	double ms;

	for (i = 0; i < n; i++) {
		d = backend(port);
		if (lookup(d, zone_names[0], BOTH, PD_DNSSEC_VALIDATE,
		    &t[k]) == 0)
			k++;
		pd_dot_free(d);
		d = backend(port);
		if (lookup(d, zone_names[0], A, PD_DNSSEC_OFF, &ms) == 0 &&
		    lookup(d, zone_names[1], BOTH, PD_DNSSEC_VALIDATE,
		    &t2[k2]) == 0)
			k2++;
		pd_dot_free(d);
	}
	row(what_fresh, t, k);
	row(what_warm, t2, k2);
}

/* ------------------------------------------------------------ others */

static long
log_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (f == NULL)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static void
queries_per_miss(unsigned want, const char *what)
{
	const char *log = pd_lab_opt("LAB_GOOD_LOG");
	struct pd_dot *d = backend(pd_lab_port("LAB_GOOD_PORT"));
	double ms;
	long before, after = 0, prev = -1;
	int i, n = 20;

	if (log == NULL) {
		printf("%-58s   (no LAB_GOOD_LOG)\n", what);
		pd_dot_free(d);
		return;
	}
	(void)lookup(d, zone_names[0], BOTH, PD_DNSSEC_VALIDATE, &ms);
	usleep(300000);
	before = log_lines(log);
	for (i = 0; i < n; i++)
		(void)lookup(d, zone_names[i % NNAMES], want,
		    PD_DNSSEC_VALIDATE, &ms);
	/* unbound writes its log a little after it answers. */
	for (i = 0; i < 40 && after != prev; i++) {
		prev = after;
		usleep(100000);
		after = log_lines(log);
	}
	printf("%-58s %.2f queries (%ld over %d lookups)\n", what,
	    (double)(after - before) / n, after - before, n);
	pd_dot_free(d);
}

/*
 * kdig over one kept-open TLS connection. kdig prints its per-query times
 * in 0.1 ms steps (0.0 on loopback), so time whole runs instead: the mean
 * cost of a query is (run of n queries - run of 1) / (n - 1).
 */
static double
kdig_run(int n)
{
	char cmd[8192];
	size_t off;
	double t0;
	int i;

	off = (size_t)snprintf(cmd, sizeof(cmd), "kdig +tls +keepopen "
	    "+tls-ca='%s' +tls-hostname='%s' -p %s @%s +short",
	    pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_AUTH_NAME"),
	    pd_lab_opt("LAB_GOOD_PORT"), pd_lab_opt("LAB_UP_ADDR"));
	for (i = 0; i < n && off < sizeof(cmd) - 80; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
		    " %s A", zone_names[i % NNAMES]);
	snprintf(cmd + off, sizeof(cmd) - off, " >/dev/null 2>&1");
	t0 = pd_now_ms();
	if (system(cmd) != 0)
		return -1;
	return pd_now_ms() - t0;
}

static void
kdig(int n)
{
	double one = 1e9, many = 1e9, v;
	int i;

	/* Best of five of each: process start-up noise only adds. */
	for (i = 0; i < 5; i++) {
		if ((v = kdig_run(1)) >= 0 && v < one)
			one = v;
		if ((v = kdig_run(n)) >= 0 && v < many)
			many = v;
	}
	if (one >= 1e9 || many >= 1e9) {
		printf("%-58s   (kdig failed)\n", "kdig +tls +keepopen");
		return;
	}
	printf("%-58s mean %6.3f  (%d queries, one connection)\n",
	    "kdig +tls +keepopen, same upstream (A)", (many - one) / (n - 1),
	    n);
	fflush(stdout);
}

/*
 * A stock getdns context to the lab upstream on port, with the lab's
 * trust anchor (NULL on failure).
 */
static getdns_context *
stock_ctx(int port)
{
	getdns_context *ctx = pd_lab_getdns(port, 30000);
	getdns_list *ta = NULL;
	FILE *f;

	if (ctx == NULL)
		return NULL;
	getdns_context_set_timeout(ctx, 5000);
	if ((f = fopen(pd_lab_opt("LAB_TA_DS"), "r")) != NULL) {
		getdns_fp2rr_list(f, &ta, NULL, 3600);
		fclose(f);
		getdns_context_set_dnssec_trust_anchors(ctx, ta);
	}
	getdns_list_destroy(ta);
	return ctx;
}

/* Stock getdns stub validation: dnssec_return_only_secure, A+AAAA. */
static void
stock(const char *what, int port, int n, double *t)
{
	getdns_context *ctx = stock_ctx(port);
	getdns_dict *ext = getdns_dict_create();
	getdns_dict *r;
	int i, k = 0;
	double t0;

	if (ctx == NULL) {
		printf("%-58s   (no getdns context)\n", what);
		getdns_dict_destroy(ext);
		return;
	}
	getdns_dict_set_int(ext, "dnssec_return_only_secure",
	    GETDNS_EXTENSION_TRUE);
	for (i = -1; i < n; i++) {
		r = NULL;
		t0 = pd_now_ms();
		if (getdns_address_sync(ctx, zone_names[(i + NNAMES) % NNAMES],
		    ext, &r) == 0 && i >= 0)
			t[k++] = pd_now_ms() - t0;
		getdns_dict_destroy(r);
	}
	row(what, t, k);
	getdns_dict_destroy(ext);
	getdns_context_destroy(ctx);
}

static void
caller_cb(getdns_context *ctx, getdns_callback_type_t type,
    getdns_dict *resp, void *arg, getdns_transaction_t tid)
{
	int *left = arg;

	(void)ctx;
	(void)tid;
	if (type == GETDNS_CALLBACK_COMPLETE)
		(*left)--;
	else
		*left = -1000;
	getdns_dict_destroy(resp);
}

/*
 * The floor of the backend's design for an unvalidated A+AAAA miss: the
 * same two queries on one TLS connection, with getdns driven by the
 * calling thread itself (its default event loop), so with none of the
 * hand-offs between a caller and the backend thread and none of
 * pindns's work on the replies.
 */
static void
caller_driven(const char *what, int port, int n, double *t)
{
	getdns_context *ctx = stock_ctx(port);
	getdns_eventloop *el = NULL;
	getdns_transaction_t tid;
	int i, k = 0, left;
	double t0;

	if (ctx == NULL || getdns_context_get_eventloop(ctx, &el) !=
	    GETDNS_RETURN_GOOD || el == NULL) {
		printf("%-58s   (no getdns context)\n", what);
		getdns_context_destroy(ctx);
		return;
	}
	for (i = -1; i < n; i++) {
		const char *name = zone_names[(i + NNAMES) % NNAMES];

		left = 2;
		t0 = pd_now_ms();
		if (getdns_general(ctx, name, GETDNS_RRTYPE_A, NULL, &left,
		    &tid, caller_cb) != GETDNS_RETURN_GOOD ||
		    getdns_general(ctx, name, GETDNS_RRTYPE_AAAA, NULL, &left,
		    &tid, caller_cb) != GETDNS_RETURN_GOOD)
			break;
		while (left > 0)
			el->vmt->run_once(el, 1);
		if (left == 0 && i >= 0)
			t[k++] = pd_now_ms() - t0;
	}
	row(what, t, k);
	getdns_context_destroy(ctx);
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 400, good, delay;
	double *t = calloc((size_t)n + 64, sizeof(double));
	double *t2 = calloc((size_t)n + 64, sizeof(double));
	struct pd_dot *d;
	struct pd_dot_stats s0, s1;
	double ms;

	if (!pd_lab_load() || pd_lab_opt("LAB_GOOD_PORT") == NULL) {
		fprintf(stderr, "bench_dot: set PINDNS_LAB_ENV to a lab's "
		    "lab.env (tests/lab/lab up STATE)\n");
		return 1;
	}
	good = pd_lab_port("LAB_GOOD_PORT");
	delay = pd_lab_port("LAB_DELAY_PORT");
	printf("bench_dot: %s, times in ms\n", getdns_get_version());

	printf("-- loopback (upstream %s:%d)\n", pd_lab_opt("LAB_UP_ADDR"),
	    good);
	d = backend(good);
	(void)lookup(d, zone_names[0], BOTH, PD_DNSSEC_VALIDATE, &ms);
	misses("unvalidated miss, warm connection (A)", d, A, PD_DNSSEC_OFF,
	    n, t);
	misses("unvalidated miss, warm connection (A+AAAA)", d, BOTH,
	    PD_DNSSEC_OFF, n, t);
	caller_driven("getdns driven by the caller, no pindns (A+AAAA)", good,
	    n, t);
	kdig(100);
	misses("validated miss, zone already validated (A)", d, A,
	    PD_DNSSEC_VALIDATE, n, t);
	pd_dot_stats(d, &s0);
	misses("validated miss, zone already validated (A+AAAA)", d, BOTH,
	    PD_DNSSEC_VALIDATE, n, t);
	pd_dot_stats(d, &s1);
	printf("%-58s %.2f per miss (%llu over %d)\n",
	    "replies validated beside the caller (A+AAAA)",
	    (double)(s1.beside - s0.beside) / n,
	    (unsigned long long)(s1.beside - s0.beside), n);
	pd_dot_free(d);
	firsts("first lookup of a fresh backend (TLS, chain; A+AAAA)",
	    "first validated miss of a zone, warm connection (A+AAAA)", good,
	    n / 20 > 5 ? n / 20 : 5, t, t2);
	stock("stock getdns only_secure (A+AAAA)", good, n / 4, t);
	queries_per_miss(BOTH, "queries per validated miss (A+AAAA)");
	queries_per_miss(A, "queries per validated miss (A)");

	if (delay == 0) {
		printf("-- no LAB_DELAY_PORT: no 10 ms RTT figures\n");
		return 0;
	}
	printf("-- 10 ms round trip (LAB_DELAY_PORT %d)\n", delay);
	d = backend(delay);
	(void)lookup(d, zone_names[0], BOTH, PD_DNSSEC_VALIDATE, &ms);
	misses("unvalidated miss (A+AAAA)", d, BOTH, PD_DNSSEC_OFF, n / 10,
	    t);
	misses("validated miss, zone already validated (A)", d, A,
	    PD_DNSSEC_VALIDATE, n / 10, t);
	misses("validated miss, zone already validated (A+AAAA)", d, BOTH,
	    PD_DNSSEC_VALIDATE, n / 10, t);
	pd_dot_free(d);
	firsts("first lookup of a fresh backend (TLS, chain; A+AAAA)",
	    "first validated miss of a zone, warm connection (A+AAAA)", delay,
	    5, t, t2);
	stock("stock getdns only_secure (A+AAAA)", delay, n / 20 > 10 ?
	    n / 20 : 10, t);
	free(t);
	free(t2);
	return 0;
}

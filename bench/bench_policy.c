/*
 * bench_policy: the cost of a policy decision, the part of every
 * getaddrinfo() pindns adds before anything else (normalise the name,
 * match it against the rules, and for the synthetic policy also hold an
 * address against the matched rule's pins).
 *
 * Prints medians and 99th percentiles in nanoseconds per decision. Each
 * sample times a batch of BATCH decisions (one clock read per batch, so
 * the clock's own cost is spread out); percentiles are over samples.
 * Run from the top of the tree (bench/run does): it reads
 * policy/dynamodb.yaml. No assertion: figures only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "policy/policy.h"
#include "tests/tools/clock.h"

#define BATCH		1024
#define SAMPLES		4000

static volatile uintptr_t sink;

static void
report(const char *what, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), pd_cmp_double);
	printf("%-58s median %7.1f ns  p99 %7.1f ns\n", what, v[n / 2],
	    v[n * 99 / 100]);
}

static const char *const shipped_names[] = {
	/* protected */
	"dynamodb.us-east-1.amazonaws.com",
	"dynamodb.eu-west-1.amazonaws.com",
	"DYNAMODB.AP-SOUTHEAST-2.AMAZONAWS.COM.",
	"123456789012.ddb.us-east-1.amazonaws.com",
	"streams.dynamodb.us-west-2.amazonaws.com",
	"dynamodb-fips.us-gov-west-1.amazonaws.com",
	"dynamodb.us-east-1.api.aws",
	"dynamodb.cn-north-1.amazonaws.com.cn",
	/* not protected */
	"s3.us-east-1.amazonaws.com",
	"sts.amazonaws.com",
	"example.com",
	"localhost",
	"api.github.com",
	"pypi.org",
	"www.google.com",
	"a.very.long.name.with.many.labels.in.a.corporate.domain.example.net",
};
#define NSHIPPED	(sizeof(shipped_names) / sizeof(shipped_names[0]))

static void
bench_shipped(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e;
	const struct pd_rule *r;
	char norm[PD_NAME_MAX + 1];
	double *v = calloc(SAMPLES, sizeof(*v));
	size_t s, i, k, prot = 0;
	uint64_t t0;
	int len;

	if (pd_policy_load("policy/dynamodb.yaml", NULL, &p, &e) != PD_OK) {
		printf("shipped policy: %s\n", e.msg);
		exit(1);
	}
	for (i = 0; i < NSHIPPED; i++) {
		len = pd_name_normalize(shipped_names[i], norm);
		prot += pd_policy_match(p, norm, (size_t)len) !=
		    &p->default_rule;
	}
	printf("shipped policy/dynamodb.yaml: %zu rule, %zu patterns, %zu "
	    "pins; names: %zu (%zu protected)\n", p->nrules,
	    p->rules[0].npatterns, p->rules[0].pins->n, NSHIPPED, prot);
	for (s = 0; s < SAMPLES; s++) {
		k = s % NSHIPPED;
		t0 = pd_now_ns();
		for (i = 0; i < BATCH; i++) {
			len = pd_name_normalize(shipped_names[(k + i) %
			    NSHIPPED], norm);
			r = pd_policy_match(p, norm, (size_t)len);
			sink += (uintptr_t)r;
		}
		v[s] = (double)(pd_now_ns() - t0) / BATCH;
	}
	report("  decision (normalise + match), mixed names", v, SAMPLES);
	for (i = 0; i < NSHIPPED; i += NSHIPPED / 2) {
		for (s = 0; s < SAMPLES / 4; s++) {
			t0 = pd_now_ns();
			for (k = 0; k < BATCH; k++) {
				len = pd_name_normalize(shipped_names[i],
				    norm);
				sink += (uintptr_t)pd_policy_match(p, norm,
				    (size_t)len);
			}
			v[s] = (double)(pd_now_ns() - t0) / BATCH;
		}
		report(i == 0 ? "  decision, a protected name" :
		    "  decision, an unprotected name", v, SAMPLES / 4);
	}
	free(v);
	pd_policy_free(p);
}

/* 1,000 rules of 3 patterns and 10 pins each: 10,000 pins. */
static char *
synthetic_text(size_t *lenp)
{
	size_t cap = 4 << 20, n = 0, i, j;
	char *t = malloc(cap);

	n += (size_t)snprintf(t + n, cap - n, "version: 1\n"
	    "upstream_recursive_servers:\n  - address_data: 127.0.0.1\n"
	    "    tls_auth_name: dot.bench.test\n"
	    "dnssec_trust_anchors: [tests/data/policy/anchors/root.key]\n"
	    "rules:\n");
	for (i = 0; i < 1000; i++) {
		n += (size_t)snprintf(t + n, cap - n, "  - name: r%zu\n"
		    "    match: [\"svc%zu.*.region%zu.example.com\", "
		    "\"*.api%zu.internal\", \"**.zone%zu.test\"]\n"
		    "    action: secure\n    pin:\n", i, i, i % 40, i, i);
		for (j = 0; j < 10; j++)
			n += (size_t)snprintf(t + n, cap - n,
			    "      - 10.%zu.%zu.0/24\n", i % 250,
			    (i / 250) * 10 + j);
	}
	*lenp = n;
	return t;
}

static void
bench_synthetic(void)
{
	static const char *const names[] = {
		"svc10.eu-west-1.region10.example.com",
		"svc999.x.region39.example.com",
		"host.api500.internal",
		"a.b.c.zone750.test",
		"svc10.eu-west-1.region11.example.com",	/* no match */
		"www.example.com",
		"api1000.internal",
		"zone3.test",
	};
	const size_t nn = sizeof(names) / sizeof(names[0]);
	struct pd_policy *p = NULL;
	struct pd_error e;
	struct pd_pinset all;
	const struct pd_rule *r;
	struct pd_addr a;
	char norm[PD_NAME_MAX + 1], *text;
	double *v = calloc(SAMPLES, sizeof(*v)), ms[9];
	size_t len, s, i, k, np = 0;
	uint64_t t0;
	int l;

	text = synthetic_text(&len);
	for (i = 0; i < 9; i++) {
		t0 = pd_now_ns();
		if (pd_policy_parse("synthetic.yaml", (uint8_t *)text, len, &p,
		    &e) != PD_OK) {
			printf("synthetic: %s\n", e.msg);
			exit(1);
		}
		ms[i] = (double)(pd_now_ns() - t0) / 1e6;
		if (i != 8)
			pd_policy_free(p);
	}
	for (i = 0; i < p->nrules; i++)
		np += p->rules[i].pins->n;
	qsort(ms, 9, sizeof(ms[0]), pd_cmp_double);
	printf("synthetic: %zu rules, %zu pins, %zu-byte file: load median "
	    "%.1f ms\n", p->nrules, np, len, ms[4]);
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.addr[0] = 10;
	for (s = 0; s < SAMPLES; s++) {
		k = s % nn;
		t0 = pd_now_ns();
		for (i = 0; i < BATCH; i++) {
			l = pd_name_normalize(names[(k + i) % nn], norm);
			r = pd_policy_match(p, norm, (size_t)l);
			a.addr[1] = (uint8_t)(r->index % 250);
			a.addr[2] = (uint8_t)i;
			sink += pd_pins_contains(r->pins, &a);
		}
		v[s] = (double)(pd_now_ns() - t0) / BATCH;
	}
	report("  decision + pin containment, mixed names", v, SAMPLES);

	/* One set of all 10,000 pins, as one wide rule would hold them. */
	memset(&all, 0, sizeof(all));
	all.v = calloc(np, sizeof(*all.v));
	for (i = 0; i < p->nrules; i++) {
		memcpy(all.v + all.n, p->rules[i].pins->v,
		    p->rules[i].pins->n * sizeof(*all.v));
		all.n += p->rules[i].pins->n;
	}
	/* Index it the way the loader does: parse a one-rule policy. */
	{
		size_t cap = 400000, n = 0;
		char *t = malloc(cap), c[64];
		struct pd_policy *q = NULL;

		n += (size_t)snprintf(t, cap, "version: 1\nrules:\n  - name: "
		    "all\n    match: [x.test]\n    action: system\n    pin:\n");
		for (i = 0; i < all.n; i++) {
			inet_ntop(AF_INET, all.v[i].addr, c, sizeof(c));
			n += (size_t)snprintf(t + n, cap - n,
			    "      - %s/%u\n", c, all.v[i].prefix);
		}
		if (pd_policy_parse("all.yaml", (uint8_t *)t, n, &q, &e) !=
		    PD_OK) {
			printf("all pins: %s\n", e.msg);
			exit(1);
		}
		for (s = 0; s < SAMPLES; s++) {
			t0 = pd_now_ns();
			for (i = 0; i < BATCH; i++) {
				a.addr[1] = (uint8_t)(s + i);
				a.addr[2] = (uint8_t)(i * 7);
				a.addr[3] = (uint8_t)s;
				sink += pd_pins_contains(q->rules[0].pins, &a);
			}
			v[s] = (double)(pd_now_ns() - t0) / BATCH;
		}
		report("  pin containment in one set of 10,000 pins", v,
		    SAMPLES);
		pd_policy_free(q);
		free(t);
	}
	free(all.v);
	free(text);
	free(v);
	pd_policy_free(p);
}

int
main(void)
{
	printf("bench_policy: ns per decision; batches of %d, %d samples\n",
	    BATCH, SAMPLES);
	bench_shipped();
	bench_synthetic();
	return 0;
}

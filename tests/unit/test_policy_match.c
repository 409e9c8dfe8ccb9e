/*
 * Matching: pd_policy_match (first match wins), pd_rule_cname_ok, and the
 * trie cross-checked against a naive matcher on random patterns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"
#include "policy/policy.h"
#include "tests/unit/tap.h"

static const char policy_text[] =
    "version: 1\n"
    "upstream_recursive_servers:\n"
    "  - address_data: 127.0.0.1\n"
    "    tls_auth_name: dot.lab.test\n"
    "dnssec_trust_anchors: [tests/data/policy/anchors/root.key]\n"
    "default: system\n"
    "rules:\n"
    "  - name: exact-first\n"
    "    match: [special.us-east-1.amazonaws.com]\n"
    "    action: deny\n"
    "  - name: dynamodb\n"
    "    match:\n"
    "      - dynamodb.*.amazonaws.com\n"
    "      - dynamodb-fips.*.amazonaws.com\n"
    "      - \"*.ddb.*.amazonaws.com\"\n"
    "      - streams.dynamodb.*.amazonaws.com\n"
    "      - dynamodb.*.api.aws\n"
    "      - \"**.dynamodb.example.internal\"\n"
    "    action: secure\n"
    "    cname: [\"**.amazonaws.com\", edge.example.net]\n"
    "  - name: shadowed\n"
    "    match: [dynamodb.us-east-1.amazonaws.com, \"*.x.test\"]\n"
    "    action: deny\n"
    "  - name: later-wider\n"
    "    match: [\"**.amazonaws.com\"]\n"
    "    action: system\n"
    "  - name: one-label\n"
    "    match: [\"*\"]\n"
    "    action: deny\n"
    "  - name: two-stars\n"
    "    match: [\"*.*.y.test\"]\n"
    "    action: deny\n";

static const struct {
	const char	*name;
	const char	*rule;
} table[] = {
	{ "dynamodb.us-east-1.amazonaws.com", "dynamodb" },
	{ "DynamoDB.US-East-1.AmazonAWS.com.", "dynamodb" },
	{ "\\100ynamodb.us-east-1.amazonaws.com", "dynamodb" },
	{ "dynamodb-fips.us-gov-west-1.amazonaws.com", "dynamodb" },
	{ "123456789012.ddb.us-east-1.amazonaws.com", "dynamodb" },
	{ "streams.dynamodb.eu-west-1.amazonaws.com", "dynamodb" },
	{ "dynamodb.eu-west-1.api.aws", "dynamodb" },
	{ "a.dynamodb.example.internal", "dynamodb" },
	{ "a.b.c.dynamodb.example.internal", "dynamodb" },
	/* `**` needs at least one label. */
	{ "dynamodb.example.internal", "default" },
	/* `*` is exactly one label. */
	{ "dynamodb.amazonaws.com", "later-wider" },
	{ "dynamodb.a.b.amazonaws.com", "later-wider" },
	{ "x.dynamodb.us-east-1.amazonaws.com", "later-wider" },
	{ "ddb.us-east-1.amazonaws.com", "later-wider" },
	/* First match wins: an exact name before a wildcard... */
	{ "special.us-east-1.amazonaws.com", "exact-first" },
	/* ...and a wildcard before a later exact name. */
	{ "s3.us-east-1.amazonaws.com", "later-wider" },
	{ "amazonaws.com", "default" },
	{ "localhost", "one-label" },
	{ "a.x.test", "shadowed" },
	{ "x.test", "default" },
	{ "a.b.x.test", "default" },
	{ "a.b.y.test", "two-stars" },
	{ "b.y.test", "default" },
	{ "example.com", "default" },
	{ "dynamodb.us-east-1.amazonaws.com.evil.com", "default" },
	{ "dynamodb.us-east-1.amazonaws.co", "default" },
	{ "dynamodb.us-east-1.api.aws.x", "default" },
};

static struct pd_policy *
load(const char *text)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };

	if (pd_policy_parse("match.yaml", (const uint8_t *)text,
	    strlen(text), &p, &e) != PD_OK) {
		printf("#   load failed: %s\n", e.msg);
		return NULL;
	}
	return p;
}

static const struct pd_rule *
match(const struct pd_policy *p, const char *name)
{
	char n[PD_NAME_MAX + 1];
	int len = pd_name_normalize(name, n);

	if (len < 0)
		return NULL;
	return pd_policy_match(p, n, (size_t)len);
}

static bool
cname_ok(const struct pd_policy *p, const struct pd_rule *r, const char *name)
{
	char n[PD_NAME_MAX + 1];
	int len = pd_name_normalize(name, n);

	return len >= 0 && pd_rule_cname_ok(p, r, n, (size_t)len);
}

static void
test_table(void)
{
	struct pd_policy *p = load(policy_text);
	const struct pd_rule *r, *dyn;
	size_t i;

	T_OK(p != NULL, "matching policy loads");
	if (p == NULL)
		return;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		r = match(p, table[i].name);
		T_EQ_STR(r != NULL ? r->name : "(invalid name)", table[i].rule,
		    "%s", table[i].name);
	}
	T_OK(match(p, "nothing.test") == &p->default_rule,
	    "unmatched name gets &p->default_rule");
	T_EQ_INT(p->default_rule.index, p->nrules, "default rule index");
	dyn = &p->rules[1];
	T_OK(cname_ok(p, dyn, "dynamodb.us-east-1.amazonaws.com"),
	    "cname_ok: a name the rule matches");
	T_OK(cname_ok(p, dyn, "edge.us-east-1.amazonaws.com"),
	    "cname_ok: a cname pattern (**.amazonaws.com)");
	T_OK(cname_ok(p, dyn, "edge.example.net"),
	    "cname_ok: an exact cname pattern");
	T_OK(!cname_ok(p, dyn, "evil.example.net"),
	    "cname_ok: outside both lists");
	T_OK(!cname_ok(p, dyn, "amazonaws.com"),
	    "cname_ok: ** needs a label");
	T_OK(!cname_ok(p, &p->rules[0], "edge.us-east-1.amazonaws.com"),
	    "cname_ok: another rule's cname list does not count");
	T_OK(cname_ok(p, &p->default_rule, "unmatched.example"),
	    "cname_ok(default): a name no rule matches");
	T_OK(!cname_ok(p, &p->default_rule,
	    "dynamodb.us-east-1.amazonaws.com"),
	    "cname_ok(default): a protected name is not the default's");
	pd_policy_free(p);
}

/* ------------------------------------------------- naive cross-check */

static bool
naive_labels(const char **pl, size_t pn, const char **nl, size_t nn)
{
	size_t i;

	if (pn > 0 && strcmp(pl[0], "**") == 0) {
		if (nn < pn)
			return false;	/* ** takes one or more labels */
		return naive_labels(pl + 1, pn - 1, nl + (nn - (pn - 1)),
		    pn - 1);
	}
	if (pn != nn)
		return false;
	for (i = 0; i < pn; i++)
		if (strcmp(pl[i], "*") != 0 && strcmp(pl[i], nl[i]) != 0)
			return false;
	return true;
}

static size_t
split(char *s, const char **v)
{
	size_t n = 0;
	char *t;

	for (t = strtok(s, "."); t != NULL; t = strtok(NULL, "."))
		v[n++] = t;
	return n;
}

static bool
naive(const char *pat, const char *name)
{
	char a[300], b[300];	/* names here are short */
	const char *pl[150], *nl[150];
	size_t pn, nn;

	strcpy(a, pat);
	strcpy(b, name);
	pn = split(a, pl);
	nn = split(b, nl);
	return naive_labels(pl, pn, nl, nn);
}

/*
 * Short and long labels (8, 9 and 17 octets), so that names cross the
 * eight-octet words the matcher reads at a time.
 */
static const char *const alphabet[] = {
	"a", "bcdefghi", "c", "aa", "longlabel", "seventeen-octets1", "d"
};

static void
random_name(char *s, bool pattern, unsigned *seed)
{
	size_t nl = 1 + (size_t)rand_r(seed) % 5, i;
	const char *l;

	s[0] = '\0';
	for (i = 0; i < nl; i++) {
		/* Names may hold "d", which no pattern has; '*' one in 5. */
		l = alphabet[(size_t)rand_r(seed) % 6];
		if (!pattern && rand_r(seed) % 6 == 0)
			l = "d";
		if (pattern && rand_r(seed) % 5 == 0)
			l = "*";
		if (pattern && i == 0 && rand_r(seed) % 6 == 0)
			l = "**";
		if (i)
			strcat(s, ".");
		strcat(s, l);
	}
}

static void
test_random(void)
{
	enum { NPAT = 24, NNAME = 400, ROUNDS = 50 };
	char pats[NPAT][160], name[160];
	struct pd_trie *t;
	unsigned seed = 4242, round, bad = 0, checked = 0, hits = 0, want, got;
	size_t i, j;

	for (round = 0; round < ROUNDS; round++) {
		t = NULL;
		for (i = 0; i < NPAT; i++) {
			random_name(pats[i], true, &seed);
			if (pd_trie_add(&t, pats[i], (uint32_t)i) != PD_OK)
				bad++;
		}
		pd_trie_seal(t);
		for (j = 0; j < NNAME; j++) {
			random_name(name, false, &seed);
			want = PD_RULE_NONE;
			for (i = 0; i < NPAT && want == PD_RULE_NONE; i++)
				if (naive(pats[i], name))
					want = (unsigned)i;
			got = pd_trie_lookup(t, name, strlen(name));
			checked++;
			hits += want != PD_RULE_NONE;
			if (got != want && bad++ < 5)
				printf("#   %s: trie %u, naive %u\n", name,
				    got, want);
		}
		pd_trie_free(t);
	}
	T_OK(hits > checked / 10 && hits < checked, "random names match "
	    "sometimes (%u of %u): the cross-check means something", hits,
	    checked);
	T_EQ_INT(bad, 0, "trie agrees with a naive first-match on %u random "
	    "lookups", checked);
}

/* A node with more children than the linear scan takes: binary search. */
static void
test_wide_node(void)
{
	struct pd_trie *t = NULL;
	char pat[64], name[64];
	unsigned i, bad = 0;
	uint32_t got;

	for (i = 0; i < 30; i++) {
		snprintf(pat, sizeof(pat), "svc%u.many.test", i);
		pd_trie_add(&t, pat, i);
		snprintf(pat, sizeof(pat), "**.deep%u.many.test", i);
		pd_trie_add(&t, pat, 100 + i);
	}
	pd_trie_add(&t, "*.many.test", 1000);
	pd_trie_seal(t);
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "svc%u.many.test", i);
		if ((got = pd_trie_lookup(t, name, strlen(name))) != i)
			bad++;
		snprintf(name, sizeof(name), "a.b.deep%u.many.test", i);
		if ((got = pd_trie_lookup(t, name, strlen(name))) != 100 + i)
			bad++;
	}
	T_EQ_INT(bad, 0, "30 children of one node: each found");
	T_EQ_INT(pd_trie_lookup(t, "other.many.test", 15), 1000,
	    "no exact child: the '*' child");
	T_EQ_INT(pd_trie_lookup(t, "x.other.many.test", 17), PD_RULE_NONE,
	    "no match below");
	pd_trie_free(t);
}

int
main(void)
{
	test_table();
	test_wide_node();
	test_random();
	return t_done();
}

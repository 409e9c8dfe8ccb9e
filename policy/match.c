/*
 * pindns policy: name matching.
 *
 * Every pattern of every rule goes into one trie keyed by labels from the
 * right (com -> amazonaws -> us-east-1 -> dynamodb). A node has its exact
 * children sorted for binary search, one `*` child (exactly one label), a
 * `**` value (one or more further labels: the pattern's leading `**`) and
 * a terminal value (the pattern ends here). Values are rule indexes, and
 * first match wins, so a lookup wants the smallest value of any matching
 * pattern. A depth-first walk reaches a trie node only through its one
 * parent with the label at that depth, so it visits each node at most
 * once; it also skips any subtree whose smallest value cannot beat the
 * best match found so far. The cost depends on the name's labels and on
 * how many patterns share a suffix with it, not on the number of rules.
 *
 * The walk allocates nothing and takes no lock: the trie is immutable
 * once built, like the policy that owns it.
 */
#include <stdlib.h>
#include <string.h>

#include "policy/internal.h"

/* Most labels a name of PD_NAME_MAX octets can have. */
#define MAX_LABELS	((PD_NAME_MAX + 1) / 2)

struct tnode {
	uint32_t	 term;		/* pattern ends here */
	uint32_t	 dstar;		/* "**." + this node's path */
	uint32_t	 min;		/* smallest value in this subtree */
	uint32_t	 nkids;
	uint32_t	 capkids;
	uint8_t		 len;		/* label length */
	struct tnode	**kids;		/* exact labels, sorted */
	struct tnode	*star;		/* the `*` child */
	char		 label[];	/* len octets, not NUL-terminated */
};

struct pd_trie {
	struct tnode	*root;
};

struct label {
	uint8_t	off;
	uint8_t	len;
};

/* The policy's private index (p->matcher). */
struct matcher {
	struct pd_trie	 *rules;	/* every rule's match patterns */
	size_t		  nrules;
	struct pd_trie	**cname;	/* per rule: match + cname patterns */
};

static struct tnode *
node_new(const char *label, size_t len)
{
	struct tnode *n;

	if ((n = calloc(1, sizeof(*n) + len)) == NULL)
		return NULL;
	n->term = n->dstar = n->min = PD_RULE_NONE;
	n->len = (uint8_t)len;
	memcpy(n->label, label, len);
	return n;
}

static void
node_free(struct tnode *n)
{
	uint32_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	node_free(n->star);
	free(n);
}

/* Order of exact children: by length, then bytes (cheap to compare). */
static int
label_cmp(const char *a, size_t alen, const struct tnode *n)
{
	if (alen != n->len)
		return alen < n->len ? -1 : 1;
	return memcmp(a, n->label, alen);
}

/*
 * Binary search for label among n's exact children: its index in *pos
 * and 1 when found, else the insertion point and 0.
 */
static int
kid_find(const struct tnode *n, const char *label, size_t len, uint32_t *pos)
{
	uint32_t lo = 0, hi = n->nkids, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = label_cmp(label, len, n->kids[mid]);
		if (c == 0) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*pos = lo;
	return 0;
}

static struct tnode *
kid_get(struct tnode *n, const char *label, size_t len)
{
	struct tnode *k, **v;
	uint32_t pos, cap;

	if (len == 1 && label[0] == '*') {
		if (n->star == NULL)
			n->star = node_new(label, len);
		return n->star;
	}
	if (kid_find(n, label, len, &pos))
		return n->kids[pos];
	if (n->nkids == n->capkids) {
		cap = n->capkids ? n->capkids * 2 : 2;
		if ((v = realloc(n->kids, cap * sizeof(*v))) == NULL)
			return NULL;
		n->kids = v;
		n->capkids = cap;
	}
	if ((k = node_new(label, len)) == NULL)
		return NULL;
	memmove(n->kids + pos + 1, n->kids + pos,
	    (n->nkids - pos) * sizeof(*n->kids));
	n->kids[pos] = k;
	n->nkids++;
	return k;
}

static size_t
split_labels(const char *s, size_t len, struct label *v)
{
	size_t i, start = 0, n = 0;

	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (n == MAX_LABELS)
				return n + 1;	/* caller treats as too many */
			v[n].off = (uint8_t)start;
			v[n].len = (uint8_t)(i - start);
			n++;
			start = i + 1;
		}
	}
	return n;
}

enum pd_err
pd_trie_add(struct pd_trie **tp, const char *pat, uint32_t v)
{
	struct label labs[MAX_LABELS + 1];
	struct pd_trie *t = *tp;
	struct tnode *n;
	size_t len = strlen(pat), nl, i, first = 0;
	int dstar;

	if (len == 0 || len > PD_NAME_MAX)
		return PD_EINVAL;
	nl = split_labels(pat, len, labs);
	if (nl > MAX_LABELS)
		return PD_EINVAL;
	if (t == NULL) {
		if ((t = calloc(1, sizeof(*t))) == NULL)
			return PD_ENOMEM;
		if ((t->root = node_new("", 0)) == NULL) {
			free(t);
			return PD_ENOMEM;
		}
		*tp = t;
	}
	dstar = labs[0].len == 2 && pat[labs[0].off] == '*';
	if (dstar)
		first = 1;
	n = t->root;
	for (i = nl; i > first; i--) {
		n = kid_get(n, pat + labs[i - 1].off, labs[i - 1].len);
		if (n == NULL)
			return PD_ENOMEM;
	}
	if (dstar) {
		if (v < n->dstar)
			n->dstar = v;
	} else if (v < n->term) {
		n->term = v;
	}
	return PD_OK;
}

static uint32_t
node_seal(struct tnode *n)
{
	uint32_t i, m, k;

	m = n->term < n->dstar ? n->term : n->dstar;
	for (i = 0; i < n->nkids; i++)
		if ((k = node_seal(n->kids[i])) < m)
			m = k;
	if (n->star != NULL && (k = node_seal(n->star)) < m)
		m = k;
	n->min = m;
	return m;
}

void
pd_trie_seal(struct pd_trie *t)
{
	if (t != NULL)
		node_seal(t->root);
}

/*
 * Equal octets? Eight at a time (unaligned loads the compiler turns into
 * single instructions), the tail by an overlapping load: labels are a few
 * octets and this runs per trie node on every lookup.
 */
static bool
label_eq(const char *a, const char *b, size_t len)
{
	uint64_t x, y;
	uint32_t u, v;
	size_t i;

	if (len >= 8) {
		for (i = 0; i + 8 <= len; i += 8) {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			if (x != y)
				return false;
		}
		if (i == len)
			return true;
		memcpy(&x, a + len - 8, 8);
		memcpy(&y, b + len - 8, 8);
		return x == y;
	}
	if (len >= 4) {
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		if (u != v)
			return false;
		memcpy(&u, a + len - 4, 4);
		memcpy(&v, b + len - 4, 4);
		return u == v;
	}
	for (i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/*
 * Where the label ending at s[end - 1] starts: just after the last '.'
 * before end, or 0. Eight octets at a time on little-endian machines:
 * after XOR with '.', a byte is zero exactly where s has a dot, and the
 * expression below sets the top bit of exactly those bytes (no false
 * positives, unlike the shorter has-zero trick), so the highest set bit
 * is the last dot.
 */
static size_t
label_start(const char *s, size_t end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t dots = 0x2e2e2e2e2e2e2e2eull;
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7full;
	uint64_t w, z;

	while (end >= 8) {
		memcpy(&w, s + end - 8, 8);
		w ^= dots;
		z = ~(((w & low7) + low7) | w | low7);
		if (z != 0)
			return end - 8 + (size_t)(63 - __builtin_clzll(z)) / 8 +
			    1;
		end -= 8;
	}
#endif
	while (end > 0 && s[end - 1] != '.')
		end--;
	return end;
}

/*
 * The exact child of n whose label ends s[0..end-1] as a whole label, or
 * NULL. A child of length l can only match when the octet before the
 * last l is a dot (or there is none): most candidates fail that at once.
 */
static const struct tnode *
kid_lookup(const struct tnode *n, const char *s, size_t end)
{
	const struct tnode *k;
	size_t l, start;
	uint32_t i, pos;

	/* Most nodes have a handful of children: a scan beats a search. */
	if (n->nkids <= 8) {
		for (i = 0; i < n->nkids; i++) {
			k = n->kids[i];
			l = k->len;
			if (l <= end && (l == end || s[end - l - 1] == '.') &&
			    label_eq(k->label, s + end - l, l))
				return k;
		}
		return NULL;
	}
	start = label_start(s, end);
	return kid_find(n, s + start, end - start, &pos) ? n->kids[pos] :
	    NULL;
}

/* The end of what is left once a label [end - l, end) is consumed. */
static size_t
before(size_t end, size_t l)
{
	return l == end ? 0 : end - l - 1;
}

/*
 * s[0..end-1] is still to be consumed, label by label from the right
 * (end == 0: nothing left). Lowers *best to the smallest value matching
 * below n. A normalised name has no empty label, so a dot is never at
 * s[0] and end == 0 means exactly "no label left".
 */
static void
walk(const struct tnode *n, const char *s, size_t end, uint32_t *best)
{
	const struct tnode *k;

	/* A loop along one branch; recursion only where `*` forks it. */
	for (;;) {
		if (n->min >= *best)
			return;
		if (end == 0) {
			if (n->term < *best)
				*best = n->term;
			return;
		}
		if (n->dstar < *best)
			*best = n->dstar;	/* `**` takes what is left */
		k = n->nkids != 0 ? kid_lookup(n, s, end) : NULL;
		if (n->star == NULL) {
			if (k == NULL)
				return;
			end = before(end, k->len);
			n = k;
			continue;
		}
		if (k != NULL)
			walk(k, s, before(end, k->len), best);
		end = before(end, end - label_start(s, end));
		n = n->star;
	}
}

uint32_t
pd_trie_lookup(const struct pd_trie *t, const char *norm, size_t len)
{
	uint32_t best = PD_RULE_NONE;

	if (t == NULL || len == 0 || len > PD_NAME_MAX)
		return PD_RULE_NONE;
	walk(t->root, norm, len, &best);
	return best;
}

void
pd_trie_free(struct pd_trie *t)
{
	if (t == NULL)
		return;
	node_free(t->root);
	free(t);
}

void
pd_matcher_free(void *mp)
{
	struct matcher *m = mp;
	size_t i;

	if (m == NULL)
		return;
	pd_trie_free(m->rules);
	if (m->cname != NULL)
		for (i = 0; i < m->nrules; i++)
			pd_trie_free(m->cname[i]);
	free(m->cname);
	free(m);
}

enum pd_err
pd_matcher_build(struct pd_policy *p)
{
	struct matcher *m;
	const struct pd_rule *r;
	size_t i, j;
	enum pd_err e = PD_ENOMEM;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return PD_ENOMEM;
	m->nrules = p->nrules;
	if (p->nrules != 0 &&
	    (m->cname = calloc(p->nrules, sizeof(*m->cname))) == NULL)
		goto out;
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		for (j = 0; j < r->npatterns; j++) {
			if ((e = pd_trie_add(&m->rules, r->patterns[j],
			    (uint32_t)i)) != PD_OK)
				goto out;
			if ((e = pd_trie_add(&m->cname[i], r->patterns[j],
			    0)) != PD_OK)
				goto out;
		}
		for (j = 0; j < r->ncname; j++)
			if ((e = pd_trie_add(&m->cname[i], r->cname[j],
			    0)) != PD_OK)
				goto out;
		pd_trie_seal(m->cname[i]);
	}
	pd_trie_seal(m->rules);
	pd_matcher_free(p->matcher);
	p->matcher = m;
	m = NULL;
	e = PD_OK;
out:
	pd_matcher_free(m);
	return e;
}

const struct pd_rule *
pd_policy_match(const struct pd_policy *p, const char *norm, size_t len)
{
	const struct matcher *m = p->matcher;
	uint32_t i;

	if (m == NULL)
		return &p->default_rule;
	i = pd_trie_lookup(m->rules, norm, len);
	if (i >= p->nrules)
		return &p->default_rule;
	return &p->rules[i];
}

bool
pd_rule_cname_ok(const struct pd_policy *p, const struct pd_rule *r,
    const char *norm, size_t len)
{
	const struct matcher *m = p->matcher;

	if (r == &p->default_rule)
		return pd_policy_match(p, norm, len) == &p->default_rule;
	if (m == NULL || r->index >= m->nrules || r != &p->rules[r->index])
		return false;	/* not a rule of p */
	return pd_trie_lookup(m->cname[r->index], norm, len) != PD_RULE_NONE;
}

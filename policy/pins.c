/*
 * pindns policy: address pins (CIDR sets).
 *
 * A pin set is kept as written (for display) and indexed as sorted,
 * disjoint address ranges per family: containment is one binary search,
 * O(log n) however many and however overlapping the CIDRs are.
 *
 * Host bits set beyond the prefix (10.0.0.1/8) are an error, with the
 * corrected CIDR in the message: such a line is most often a typo for a
 * narrower prefix, and silently widening it would accept addresses the
 * author never meant to.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/internal.h"

struct range4 {
	uint32_t	lo, hi;
};

/* A 128-bit address as two host-order halves, compared hi first. */
struct u128 {
	uint64_t	hi, lo;
};

struct range6 {
	struct u128	lo, hi;
};

struct pin_index {
	size_t		 n4, n6;
	struct range4	*v4;
	struct range6	*v6;
};

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static int
u128_cmp(const struct u128 *a, const struct u128 *b)
{
	if (a->hi != b->hi)
		return a->hi < b->hi ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return 0;
}

/* Clear the bits of addr beyond prefix. */
static void
mask(uint8_t *addr, size_t alen, unsigned prefix)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		if (prefix >= 8) {
			prefix -= 8;
			continue;
		}
		addr[i] &= (uint8_t)(0xff00u >> prefix);
		prefix = 0;
	}
}

void
pd_cidr_format(const struct pd_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->addr, a, sizeof(a)) == NULL)
		snprintf(a, sizeof(a), "?");
	snprintf(buf, len, "%s/%u", a, c->prefix);
}

int
pd_cidr_parse(const char *s, struct pd_cidr *c, char *why, size_t whylen)
{
	char a[INET6_ADDRSTRLEN + 1], fixed[INET6_ADDRSTRLEN + 8];
	const char *slash, *q;
	struct pd_cidr t;
	size_t alen, bytes;
	unsigned max, prefix = 0;

	memset(&t, 0, sizeof(t));
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(a)) {
		snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 CIDR", s);
		return -1;
	}
	memcpy(a, s, alen);
	a[alen] = '\0';
	if (memchr(a, ':', alen) != NULL) {
		t.family = AF_INET6;
		max = 128;
		bytes = 16;
	} else {
		t.family = AF_INET;
		max = 32;
		bytes = 4;
	}
	if (inet_pton(t.family, a, t.addr) != 1) {
		snprintf(why, whylen, "'%s' is not an IPv%c address", a,
		    t.family == AF_INET ? '4' : '6');
		return -1;
	}
	if (slash == NULL) {
		prefix = max;	/* a bare address pins that one host */
	} else {
		q = slash + 1;
		if (*q == '\0' || (q[0] == '0' && q[1] != '\0')) {
			snprintf(why, whylen, "'%s': bad prefix length", s);
			return -1;
		}
		for (; *q != '\0'; q++) {
			if (*q < '0' || *q > '9' || prefix > max) {
				prefix = max + 1;
				break;
			}
			prefix = prefix * 10 + (unsigned)(*q - '0');
		}
		if (prefix > max) {
			snprintf(why, whylen, "'%s': prefix length must be "
			    "0..%u", s, max);
			return -1;
		}
	}
	t.prefix = (uint8_t)prefix;
	if (t.family == AF_INET6 && memcmp(t.addr, v4mapped, 12) == 0 &&
	    prefix >= 96) {
		snprintf(why, whylen, "'%s' is an IPv4-mapped prefix: write "
		    "it as IPv4 (mapped answers are checked as IPv4)", s);
		return -1;
	}
	memcpy(c->addr, t.addr, sizeof(t.addr));
	mask(t.addr, bytes, prefix);
	if (memcmp(t.addr, c->addr, bytes) != 0) {
		pd_cidr_format(&t, fixed, sizeof(fixed));
		snprintf(why, whylen, "'%s' has host bits set beyond the "
		    "prefix: did you mean %s?", s, fixed);
		return -1;
	}
	*c = t;
	return 0;
}

static int
cmp4(const void *a, const void *b)
{
	const struct range4 *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static int
cmp6(const void *a, const void *b)
{
	const struct range6 *x = a, *y = b;

	return u128_cmp(&x->lo, &y->lo);
}

static void
range_of4(const struct pd_cidr *c, struct range4 *r)
{
	uint32_t host = c->prefix == 0 ? UINT32_MAX :
	    (uint32_t)((1ull << (32 - c->prefix)) - 1);

	r->lo = get32(c->addr);
	r->hi = r->lo | host;
}

static void
range_of6(const struct pd_cidr *c, struct range6 *r)
{
	unsigned p = c->prefix;

	r->lo.hi = get64(c->addr);
	r->lo.lo = get64(c->addr + 8);
	r->hi = r->lo;
	if (p < 64) {
		r->hi.hi |= p == 0 ? UINT64_MAX : (1ull << (64 - p)) - 1;
		r->hi.lo = UINT64_MAX;
	} else if (p < 128) {
		r->hi.lo |= (1ull << (128 - p)) - 1;
	}
}

/* Is b adjacent to or inside [.., a]: a + 1 >= b without overflow? */
static int
touches4(uint32_t a, uint32_t b)
{
	return a == UINT32_MAX || a + 1 >= b;
}

static int
touches6(const struct u128 *a, const struct u128 *b)
{
	struct u128 n = *a;

	if (n.lo == UINT64_MAX) {
		if (n.hi == UINT64_MAX)
			return 1;
		n.hi++;
		n.lo = 0;
	} else {
		n.lo++;
	}
	return u128_cmp(&n, b) >= 0;
}

enum pd_err
pd_pins_index(struct pd_pinset *ps)
{
	struct pin_index *ix;
	size_t i, n4 = 0, n6 = 0, k;

	if ((ix = calloc(1, sizeof(*ix))) == NULL)
		return PD_ENOMEM;
	for (i = 0; i < ps->n; i++) {
		if (ps->v[i].family == AF_INET)
			n4++;
		else
			n6++;
	}
	if ((n4 != 0 && (ix->v4 = calloc(n4, sizeof(*ix->v4))) == NULL) ||
	    (n6 != 0 && (ix->v6 = calloc(n6, sizeof(*ix->v6))) == NULL)) {
		free(ix->v4);
		free(ix);
		return PD_ENOMEM;
	}
	for (i = 0; i < ps->n; i++) {
		if (ps->v[i].family == AF_INET)
			range_of4(&ps->v[i], &ix->v4[ix->n4++]);
		else
			range_of6(&ps->v[i], &ix->v6[ix->n6++]);
	}
	/* Sort, then merge overlapping and adjacent ranges in place. */
	if (ix->n4 != 0) {
		qsort(ix->v4, ix->n4, sizeof(*ix->v4), cmp4);
		for (i = 1, k = 0; i < ix->n4; i++) {
			if (touches4(ix->v4[k].hi, ix->v4[i].lo)) {
				if (ix->v4[i].hi > ix->v4[k].hi)
					ix->v4[k].hi = ix->v4[i].hi;
			} else {
				ix->v4[++k] = ix->v4[i];
			}
		}
		ix->n4 = k + 1;
	}
	if (ix->n6 != 0) {
		qsort(ix->v6, ix->n6, sizeof(*ix->v6), cmp6);
		for (i = 1, k = 0; i < ix->n6; i++) {
			if (touches6(&ix->v6[k].hi, &ix->v6[i].lo)) {
				if (u128_cmp(&ix->v6[i].hi, &ix->v6[k].hi) > 0)
					ix->v6[k].hi = ix->v6[i].hi;
			} else {
				ix->v6[++k] = ix->v6[i];
			}
		}
		ix->n6 = k + 1;
	}
	free(ps->index);
	ps->index = ix;
	return PD_OK;
}

static bool
contains4(const struct pin_index *ix, uint32_t a)
{
	size_t lo = 0, hi = ix->n4, mid;

	/* The last range starting at or below a is the only candidate. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (ix->v4[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo != 0 && a <= ix->v4[lo - 1].hi;
}

static bool
contains6(const struct pin_index *ix, const struct u128 *a)
{
	size_t lo = 0, hi = ix->n6, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (u128_cmp(&ix->v6[mid].lo, a) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo != 0 && u128_cmp(a, &ix->v6[lo - 1].hi) <= 0;
}

bool
pd_pins_contains(const struct pd_pinset *ps, const struct pd_addr *a)
{
	const struct pin_index *ix;
	struct u128 v;

	if (ps == NULL)
		return true;
	if ((ix = ps->index) == NULL)
		return false;	/* not built by the loader: fail closed */
	switch (a->family) {
	case AF_INET:
		return contains4(ix, get32(a->addr));
	case AF_INET6:
		/* RFC 4291 2.5.5.2: the IPv4 address it carries. */
		if (memcmp(a->addr, v4mapped, sizeof(v4mapped)) == 0)
			return contains4(ix, get32(a->addr + 12));
		v.hi = get64(a->addr);
		v.lo = get64(a->addr + 8);
		return contains6(ix, &v);
	default:
		return false;
	}
}

void
pd_pinset_free(struct pd_pinset *ps)
{
	struct pin_index *ix;

	if (ps == NULL)
		return;
	if ((ix = ps->index) != NULL) {
		free(ix->v4);
		free(ix->v6);
		free(ix);
	}
	free(ps->v);
	free(ps);
}

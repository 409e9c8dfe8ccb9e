/*
 * libFuzzer target: the preload's result builders (preload/build.c) and
 * its numeric-host test (preload/numeric.c), compiled into the fuzzer
 * from their sources: nothing new is exported from libpindns.so.
 *
 * From the fuzzer's bytes: an engine result (verdict, reason, up to
 * PD_MAX_ADDRS addresses of both families, a canonical name), a service
 * expansion (1..PD_SERV_MAX tuples), a node order, hint flags, a name, a
 * hostent buffer of arbitrary size and alignment. Checked beyond "no
 * crash, no sanitizer report":
 *  - pd_build_addrinfo lays the list out as glibc does (one block per
 *    node, sockaddr right behind it, the canonical name on the first
 *    node only), in the order asked, with every field as given, and
 *    glibc's own freeaddrinfo frees it (ASan checks every block);
 *  - pd_build_hostent writes nothing outside buf[0..buflen), every
 *    pointer it hands out points into buf, and on ERANGE leaves *h alone;
 *  - outcome codes are only ones glibc uses, and agree between
 *    getaddrinfo and h_errno;
 *  - pd_build_canon returns the engine's name, the caller's, or the
 *    caller's without its one trailing dot, and says which;
 *  - pd_numeric_gai(node) is true exactly when glibc's getaddrinfo
 *    would not look node up by name (AI_NUMERICHOST succeeds, or an
 *    IPv6 address with a scope glibc then rejects itself): a name it
 *    took for numeric would reach libc's DNS unprotected.
 *
 *	make fuzz-build && build-fuzz/fuzz_build tests/fuzz/corpus/build
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "preload/build.h"
#include "preload/numeric.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Trap with the invariant's line in the stack trace. */
#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

struct in {
	const uint8_t	*p;
	size_t		 n;
};

static unsigned
take(struct in *in, unsigned bytes)
{
	unsigned v = 0;

	while (bytes-- > 0) {
		v <<= 8;
		if (in->n > 0) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

/* A NUL-terminated string of at most max bytes (no NUL inside). */
static void
take_str(struct in *in, char *out, size_t max)
{
	size_t len = take(in, 1) % (max + 1), i;

	for (i = 0; i < len && in->n > 0; i++) {
		out[i] = (char)take(in, 1);
		if (out[i] == '\0')
			out[i] = '.';
	}
	out[i] = '\0';
}

static void
check_codes(const struct pd_result *r)
{
	int e = pd_build_eai(r), h = pd_build_herrno(r);

	CHECK(e == EAI_NONAME || e == EAI_NODATA || e == EAI_AGAIN ||
	    e == EAI_FAIL);
	CHECK((e == EAI_NONAME && h == HOST_NOT_FOUND) ||
	    (e == EAI_NODATA && h == NO_DATA) ||
	    (e == EAI_AGAIN && h == TRY_AGAIN) ||
	    (e == EAI_FAIL && h == NO_RECOVERY));
	if (r->verdict == PD_VERDICT_FAILED)
		CHECK(e == EAI_AGAIN);
	if (r->verdict == PD_VERDICT_REFUSED)
		CHECK(e == EAI_FAIL);
}

static void
check_canon(const struct pd_result *r, const char *name)
{
	char buf[PD_CANON_MAX + 1];
	const char *c;
	size_t n = strlen(name);
	int aliased = -1;

	c = pd_build_canon(r, name, buf, sizeof(buf), &aliased);
	CHECK(aliased == 0 || aliased == 1);
	if (aliased) {
		CHECK(c == r->canon && r->canon[0] != '\0');
		return;
	}
	CHECK(c == name || c == buf);
	if (c == buf) {
		CHECK(n > 1 && name[n - 1] == '.');
		CHECK(strlen(buf) == n - 1 && memcmp(buf, name, n - 1) == 0);
	}
}

static void
check_addrinfo(struct in *in, const struct pd_result *r)
{
	struct pd_tuples tp;
	uint16_t order[PD_MAX_ADDRS * PD_SERV_MAX], *op = NULL;
	struct addrinfo *res = (struct addrinfo *)(uintptr_t)1, *ai;
	char canon[PD_CANON_MAX + 1];
	unsigned i, k, n, idx;
	int flags, rc, with_canon;

	memset(&tp, 0, sizeof(tp));
	tp.n = 1 + take(in, 1) % PD_SERV_MAX;
	for (i = 0; i < tp.n; i++) {
		tp.t[i].socktype = (int)(take(in, 1) % 8);
		tp.t[i].protocol = (int)take(in, 1);
		tp.t[i].port = (uint16_t)take(in, 2);
	}
	n = r->naddrs * tp.n;
	if (take(in, 1) & 1) {
		/* A permutation of the node indices (Fisher-Yates). */
		for (k = 0; k < n; k++)
			order[k] = (uint16_t)k;
		for (k = n; k > 1; k--) {
			uint16_t t;

			i = take(in, 2) % k;
			t = order[k - 1];
			order[k - 1] = order[i];
			order[i] = t;
		}
		op = order;
	}
	flags = (int)take(in, 2);
	with_canon = take(in, 1) & 1;
	take_str(in, canon, PD_CANON_MAX);

	rc = pd_build_addrinfo(r->addrs, r->naddrs, &tp, op, flags,
	    with_canon ? canon : NULL, &res);
	if (n == 0) {
		CHECK(rc == EAI_NONAME);
		CHECK(res == (struct addrinfo *)(uintptr_t)1);
		return;
	}
	if (rc == EAI_MEMORY) {
		CHECK(res == (struct addrinfo *)(uintptr_t)1);
		return;
	}
	CHECK(rc == 0);
	for (ai = res, k = 0; ai != NULL; ai = ai->ai_next, k++) {
		const struct pd_addr *a;
		const struct pd_tuple *t;

		CHECK(k < n);
		idx = op != NULL ? op[k] : k;
		a = &r->addrs[idx / tp.n];
		t = &tp.t[idx % tp.n];
		CHECK(ai->ai_flags == flags);
		CHECK(ai->ai_socktype == t->socktype);
		CHECK(ai->ai_protocol == t->protocol);
		CHECK((void *)ai->ai_addr == (void *)(ai + 1));
		if (a->family == AF_INET6) {
			const struct sockaddr_in6 *s6 =
			    (const void *)ai->ai_addr;

			CHECK(ai->ai_family == AF_INET6);
			CHECK(ai->ai_addrlen == sizeof(*s6));
			CHECK(s6->sin6_family == AF_INET6);
			CHECK(s6->sin6_port == t->port);
			CHECK(s6->sin6_flowinfo == 0 && s6->sin6_scope_id == 0);
			CHECK(memcmp(&s6->sin6_addr, a->addr, 16) == 0);
		} else {
			const struct sockaddr_in *s4 =
			    (const void *)ai->ai_addr;
			static const uint8_t zero[8];

			CHECK(ai->ai_family == AF_INET);
			CHECK(ai->ai_addrlen == sizeof(*s4));
			CHECK(s4->sin_family == AF_INET);
			CHECK(s4->sin_port == t->port);
			CHECK(memcmp(&s4->sin_addr, a->addr, 4) == 0);
			CHECK(memcmp(s4->sin_zero, zero, sizeof(zero)) == 0);
		}
		if (k == 0 && with_canon)
			CHECK(ai->ai_canonname != NULL &&
			    ai->ai_canonname != canon &&
			    strcmp(ai->ai_canonname, canon) == 0);
		else
			CHECK(ai->ai_canonname == NULL);
	}
	CHECK(k == n);
	freeaddrinfo(res);	/* glibc's: the layout must be its own */
}

static void
check_hostent(struct in *in, const struct pd_result *r)
{
	char hname[PD_CANON_MAX + 1], alias[PD_CANON_MAX + 1];
	struct hostent h, h0;
	size_t buflen, off, alen;
	unsigned i, m = 0, k;
	char *block, *buf, *end;
	int af, with_alias, rc;

	af = take(in, 1) & 1 ? AF_INET6 : AF_INET;
	alen = af == AF_INET6 ? 16 : 4;
	take_str(in, hname, PD_CANON_MAX);
	with_alias = take(in, 1) & 1;
	take_str(in, alias, PD_CANON_MAX);
	buflen = take(in, 2) % 2048;
	off = take(in, 1) % 16;
	/* Exactly buflen bytes after off: ASan sees any write past it. */
	if ((block = malloc(off + buflen + 1)) == NULL)
		return;
	buf = block + off;
	end = buf + buflen;
	memset(&h, 0xa5, sizeof(h));
	h0 = h;
	rc = pd_build_hostent(hname, with_alias ? alias : NULL, af, r->addrs,
	    r->naddrs, &h, buf, buflen);
	if (rc == ERANGE) {
		CHECK(memcmp(&h, &h0, sizeof(h)) == 0);
		free(block);
		return;
	}
	CHECK(rc == 0);
#define INSIDE(p, len) ((char *)(p) >= buf && (char *)(p) + (len) <= end)
	CHECK(h.h_addrtype == af && (size_t)h.h_length == alen);
	CHECK(INSIDE(h.h_name, strlen(hname) + 1) &&
	    strcmp(h.h_name, hname) == 0);
	CHECK(INSIDE(h.h_aliases, sizeof(char *)) &&
	    (uintptr_t)h.h_aliases % alignof(char *) == 0);
	if (with_alias) {
		CHECK(INSIDE(h.h_aliases, 2 * sizeof(char *)));
		CHECK(INSIDE(h.h_aliases[0], strlen(alias) + 1) &&
		    strcmp(h.h_aliases[0], alias) == 0);
		CHECK(h.h_aliases[1] == NULL);
	} else
		CHECK(h.h_aliases[0] == NULL);
	CHECK(INSIDE(h.h_addr_list, sizeof(char *)) &&
	    (uintptr_t)h.h_addr_list % alignof(char *) == 0);
	for (i = 0, k = 0; i < r->naddrs; i++) {
		if (r->addrs[i].family != af)
			continue;
		m++;
		CHECK(INSIDE(&h.h_addr_list[k], 2 * sizeof(char *)));
		CHECK(INSIDE(h.h_addr_list[k], alen));
		CHECK(memcmp(h.h_addr_list[k], r->addrs[i].addr, alen) == 0);
		k++;
	}
	CHECK(h.h_addr_list[m] == NULL);
#undef INSIDE
	free(block);
}

/* The oracle: would glibc 2.36's getaddrinfo look node up by name? */
static int
glibc_numeric(const char *node)
{
	struct addrinfo hints, *res = NULL;
	struct in6_addr a6;
	const char *pct;
	char pre[128];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	/* One node: no sort, no netlink. */
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(node, NULL, &hints, &res) == 0) {
		freeaddrinfo(res);
		return 1;
	}
	/*
	 * An IPv6 address whose scope glibc cannot resolve fails with
	 * EAI_NONAME even without AI_NUMERICHOST: numeric all the same.
	 */
	if ((pct = strchr(node, '%')) != NULL &&
	    (size_t)(pct - node) < sizeof(pre)) {
		memcpy(pre, node, (size_t)(pct - node));
		pre[pct - node] = '\0';
		if (inet_pton(AF_INET6, pre, &a6) == 1)
			return 1;
	}
	return 0;
}

static void
check_numeric(const char *node)
{
	if (node[0] == '\0' || strcmp(node, "*") == 0)
		CHECK(pd_numeric_gai(node));
	else
		CHECK(pd_numeric_gai(node) == (bool)glibc_numeric(node));
	/* Only the case that must not crash: its glibc twin is NSS's. */
	(void)pd_numeric_hostent(node, AF_INET);
	(void)pd_numeric_hostent(node, AF_INET6);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct pd_result r;
	char name[300];
	unsigned i, mode = take(&in, 1);

	/* Mode 0: the numeric test alone, on the whole input as text. */
	if (mode % 4 == 0) {
		char node[257];
		size_t n = in.n < sizeof(node) - 1 ? in.n : sizeof(node) - 1;

		memcpy(node, in.p, n);
		node[n] = '\0';
		check_numeric(node);
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.verdict = (enum pd_verdict)(take(&in, 1) % 6);
	r.reason = (enum pd_reason)(take(&in, 1) % 13);
	r.ttl = take(&in, 4);
	r.naddrs = take(&in, 1) % (PD_MAX_ADDRS + 1);
	for (i = 0; i < r.naddrs; i++) {
		r.addrs[i].family = take(&in, 1) & 1 ? AF_INET6 : AF_INET;
		if (r.addrs[i].family == AF_INET6)
			for (unsigned b = 0; b < 16; b++)
				r.addrs[i].addr[b] = (uint8_t)take(&in, 1);
		else
			for (unsigned b = 0; b < 4; b++)
				r.addrs[i].addr[b] = (uint8_t)take(&in, 1);
	}
	take_str(&in, r.canon, PD_CANON_MAX);
	take_str(&in, name, sizeof(name) - 1);

	check_codes(&r);
	check_canon(&r, name);
	check_addrinfo(&in, &r);
	check_hostent(&in, &r);
	check_numeric(name);
	return 0;
}

/*
 * pindns policy: a lexical check of trust-anchor files.
 *
 * getdns accepts an empty or garbage anchor file without a word and then
 * reports every answer as indeterminate (GETDNS-NOTES.md), which would
 * quietly turn `dnssec: required` into "refuse everything" and
 * `validate` into "accept anything unsigned". So the loader looks at each
 * file itself: zone-file presentation format, every record DS or DNSKEY,
 * at least one of them, over the bytes the loader read (policy/files.c).
 * policy/ knows no getdns; `pindns check` also has the backend parse the
 * same bytes for real.
 */
#include <stdio.h>
#include <string.h>

#include "policy/internal.h"

/*
 * Is the token t[0..n-1] the word w, ASCII case-insensitively? Not
 * strncasecmp(): the preload runs under the host process's locale, and
 * in a Turkish one 'I' is not the upper case of 'i'.
 */
static bool
word(const char *t, size_t n, const char *w)
{
	size_t i;
	unsigned c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)t[i];
		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (w[i] == '\0' || c != (unsigned char)w[i])
			return false;
	}
	return w[n] == '\0';
}

static bool
is_class(const char *t, size_t n)
{
	size_t i;

	if (word(t, n, "IN") || word(t, n, "CH") || word(t, n, "HS") ||
	    word(t, n, "CS"))
		return true;
	if (n > 5 && word(t, 5, "CLASS")) {
		for (i = 5; i < n; i++)
			if (t[i] < '0' || t[i] > '9')
				return false;
		return true;
	}
	return false;
}

/* A TTL (3600, or with units: 1h30m): no record type starts with a digit. */
static bool
is_ttl(const char *t, size_t n)
{
	return n != 0 && t[0] >= '0' && t[0] <= '9';
}

/* Up to four tokens of one line before any ';' comment. */
struct line_tokens {
	size_t		 n;	/* tokens seen (may exceed 4) */
	const char	*tok[4];
	size_t		 len[4];
};

/* Split [s, eol) into tokens, tracking ( ) groups across lines. */
static void
tokens(const char *s, const char *eol, unsigned *depth,
    struct line_tokens *lt)
{
	const char *t;

	lt->n = 0;
	for (t = s; t < eol && *t != ';';) {
		if (*t == ' ' || *t == '\t' || *t == '\r') {
			t++;
			continue;
		}
		if (*t == '(' || *t == ')') {
			if (*t == '(')
				(*depth)++;
			else if (*depth > 0)
				(*depth)--;
			t++;
			continue;
		}
		if (lt->n < 4) {
			lt->tok[lt->n] = t;
			lt->len[lt->n] = 0;
		}
		while (t < eol && *t != ' ' && *t != '\t' && *t != '\r' &&
		    *t != ';' && *t != '(' && *t != ')') {
			if (lt->n < 4)
				lt->len[lt->n]++;
			t++;
		}
		lt->n++;
	}
}

enum pd_err
pd_anchor_check(const char *policy, unsigned line, unsigned col,
    const char *path, const uint8_t *buf, size_t len, struct pd_error *err)
{
	struct line_tokens lt;
	const char *s, *end, *eol;
	char where[320];
	size_t i, nrec = 0;
	unsigned ln = 0, depth = 0;
	bool cont;

	if (line != 0)
		snprintf(where, sizeof(where), "listed at %s:%u:%u", policy,
		    line, col);
	else
		snprintf(where, sizeof(where), "the default trust anchor; "
		    "set dnssec_trust_anchors");
	end = (const char *)buf + len;
	for (s = (const char *)buf; s < end; s = eol + 1) {
		ln++;
		if ((eol = memchr(s, '\n', (size_t)(end - s))) == NULL)
			eol = end;
		cont = depth > 0;	/* inside ( ): rdata continues */
		tokens(s, eol, &depth, &lt);
		if (lt.n == 0 || cont)
			continue;
		if (lt.tok[0][0] == '$') {
			if (word(lt.tok[0], lt.len[0], "$INCLUDE"))
				return pd_err_at(err, PD_EPARSE, path, ln,
				    (unsigned)(lt.tok[0] - s) + 1, "$INCLUDE "
				    "is not supported in a trust-anchor file "
				    "(%s)", where);
			continue;	/* $ORIGIN, $TTL */
		}
		/* [owner] [ttl] [class] type; no owner when indented. */
		i = (s[0] == ' ' || s[0] == '\t') ? 0 : 1;
		while (i < lt.n && i < 4 && (is_ttl(lt.tok[i], lt.len[i]) ||
		    is_class(lt.tok[i], lt.len[i])))
			i++;
		if (i >= lt.n || i >= 4)
			return pd_err_at(err, PD_EPARSE, path, ln,
			    (unsigned)(lt.tok[0] - s) + 1, "not a DS or DNSKEY "
			    "record (%s)", where);
		if (!word(lt.tok[i], lt.len[i], "DS") &&
		    !word(lt.tok[i], lt.len[i], "DNSKEY"))
			return pd_err_at(err, PD_EPARSE, path, ln,
			    (unsigned)(lt.tok[i] - s) + 1, "record type "
			    "'%.*s' is not DS or DNSKEY (%s)",
			    (int)(lt.len[i] < 16 ? lt.len[i] : 16), lt.tok[i],
			    where);
		nrec++;
	}
	if (nrec != 0)
		return PD_OK;
	if (line != 0)
		return pd_err_at(err, PD_EPARSE, policy, line, col, "trust "
		    "anchor %s holds no DS or DNSKEY record (getdns would "
		    "accept it and leave every answer indeterminate)", path);
	return pd_err_at(err, PD_EPARSE, policy, 0, 0, "trust anchor %s "
	    "holds no DS or DNSKEY record (%s)", path, where);
}

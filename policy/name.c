/*
 * pindns policy: host names and patterns.
 *
 * pd_name_normalize() must see a name exactly as glibc's resolver will
 * put it on the wire, or a spelling of a protected name could slip past
 * the matcher to plain DNS. glibc 2.36 (checked on this machine with a
 * query-capturing server in a private network namespace) does this before
 * any DNS query from getaddrinfo() or gethostbyname*():
 *
 *  - res_hnok(): the string must be printable ASCII (0x21..0x7e), parse
 *    with ns_name_pton(), and every decoded label octet must be a letter,
 *    a digit, '-' or '_'; the first label must not start with '-'.
 *    Anything else fails with EAI_NONAME / HOST_NOT_FOUND, no query.
 *  - ns_name_pton(): `\DDD` (exactly three decimal digits, <= 255) and
 *    `\X` (X literally) escapes are decoded; an empty label ("a..b",
 *    ".a") is an error; one trailing dot is the root label; a label is at
 *    most 63 octets and the wire name at most 255 (253 in presentation).
 *
 * So `x\100ynamodb.example.com` is queried as `xdynamodb.example.com`,
 * `a\bc` as `abc`, and `a\046b` (a decoded '.') or `a\032b` is never
 * queried at all. We accept exactly the names glibc would query, decoded
 * and lower-cased (DNS compares ASCII case-insensitively, RFC 4343), and
 * refuse the rest: a refused name is one libc never sends to DNS either.
 */
#include <string.h>

#include "policy/internal.h"

/*
 * One lookup per input octet. Octets res_hnok() allows inside a label
 * map to themselves lower-cased (all >= '-'); the rest are classes, and
 * everything not listed is refused.
 */
enum {
	C_BAD = 0,
	C_END,		/* NUL */
	C_DOT,
	C_ESC		/* backslash */
};

#define LDH(c)	[c] = c
#define UP(c)	[c] = c + ('a' - 'A')

static const unsigned char cls[256] = {
	[0] = C_END,
	['.'] = C_DOT, ['\\'] = C_ESC,
	LDH('-'), LDH('_'),
	LDH('0'), LDH('1'), LDH('2'), LDH('3'), LDH('4'), LDH('5'),
	LDH('6'), LDH('7'), LDH('8'), LDH('9'),
	LDH('a'), LDH('b'), LDH('c'), LDH('d'), LDH('e'), LDH('f'),
	LDH('g'), LDH('h'), LDH('i'), LDH('j'), LDH('k'), LDH('l'),
	LDH('m'), LDH('n'), LDH('o'), LDH('p'), LDH('q'), LDH('r'),
	LDH('s'), LDH('t'), LDH('u'), LDH('v'), LDH('w'), LDH('x'),
	LDH('y'), LDH('z'),
	UP('A'), UP('B'), UP('C'), UP('D'), UP('E'), UP('F'), UP('G'),
	UP('H'), UP('I'), UP('J'), UP('K'), UP('L'), UP('M'), UP('N'),
	UP('O'), UP('P'), UP('Q'), UP('R'), UP('S'), UP('T'), UP('U'),
	UP('V'), UP('W'), UP('X'), UP('Y'), UP('Z'),
};

static int
is_digit(unsigned c)
{
	return c >= '0' && c <= '9';
}

static int
is_printable(unsigned c)
{
	return c >= 0x21 && c <= 0x7e;
}

int
pd_name_normalize(const char *name, char *out)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t o = 0, lim = 63;	/* lim: end of the current label's room */
	unsigned c, d, v;

	for (;;) {
		c = *s++;
		v = cls[c];
		if (v > C_ESC) {
			/* The common case: a letter, digit, '-' or '_'. */
			if (o >= lim)
				goto bad;	/* label > 63 or name > 253 */
			out[o++] = (char)v;
			continue;
		}
		if (v == C_END)
			break;
		if (v == C_DOT) {
			if (o == 0 || out[o - 1] == '.')
				goto bad;	/* empty label */
			if (*s == '\0')
				break;		/* the one trailing dot */
			if (o >= PD_NAME_MAX)
				goto bad;
			out[o++] = '.';
			lim = o + 63 < PD_NAME_MAX ? o + 63 : PD_NAME_MAX;
			continue;
		}
		if (v == C_BAD)
			goto bad;
		/* An escape: \DDD (exactly three digits, <= 255) or \X. */
		c = *s++;
		if (!is_printable(c))
			goto bad;	/* also a trailing backslash */
		if (is_digit(c)) {
			d = *s++;
			if (!is_digit(d))
				goto bad;
			c = (c - '0') * 10 + (d - '0');
			d = *s++;
			if (!is_digit(d))
				goto bad;
			c = c * 10 + (d - '0');
			if (c > 255)
				goto bad;
		}
		if ((v = cls[c]) <= C_ESC)
			goto bad;	/* decoded '.', '\\', NUL, space... */
		if (o >= lim)
			goto bad;
		out[o++] = (char)v;
	}
	if (o == 0 || out[0] == '-')
		goto bad;	/* empty, or res_hnok's leading hyphen */
	out[o] = '\0';
	return (int)o;
bad:
	out[0] = '\0';
	return -1;
}

int
pd_pattern_normalize(const char *in, size_t inlen, char *out,
    const char **why, size_t *off)
{
	size_t i, o = 0, lab = 0, labstart = 0, end = inlen;
	unsigned c;

	if (inlen == 0) {
		*why = "empty pattern";
		*off = 0;
		return -1;
	}
	if (in[inlen - 1] == '.')
		end--;		/* one trailing dot is ignored */
	for (i = 0; i < end; i++) {
		c = (unsigned char)in[i];
		if (c == '.') {
			if (o == lab) {
				*why = "empty label";
				*off = i;
				return -1;
			}
			if (o >= PD_NAME_MAX)
				goto toolong;
			out[o++] = '.';
			lab = o;
			labstart = i + 1;
			continue;
		}
		if (c >= 0x80) {
			*why = "non-ASCII character: write internationalised "
			    "names as A-labels (xn--...)";
			*off = i;
			return -1;
		}
		if (c == '*') {
			/* `*` or a leading `**`, each a whole label. */
			size_t n = 1;

			if (i + 1 < end && in[i + 1] == '*')
				n = 2;
			if (o != lab || (i + n < end && in[i + n] != '.')) {
				*why = "'*' must be a whole label ('*' or a "
				    "leading '**')";
				*off = i;
				return -1;
			}
			if (n == 2 && lab != 0) {
				*why = "'**' is allowed only as the leading "
				    "label";
				*off = i;
				return -1;
			}
			if (o + n > PD_NAME_MAX)
				goto toolong;
			memset(out + o, '*', n);
			o += n;
			i += n - 1;
			continue;
		}
		if ((c = cls[c]) <= C_ESC) {
			*why = "invalid character: a label holds letters, "
			    "digits, '-' and '_'";
			*off = i;
			return -1;
		}
		if (o - lab >= 63) {
			*why = "label longer than 63 octets";
			*off = labstart;
			return -1;
		}
		if (o >= PD_NAME_MAX)
			goto toolong;
		out[o++] = (char)c;
	}
	if (o == lab) {
		*why = o == 0 ? "empty pattern" : "empty label";
		*off = end;
		return -1;
	}
	out[o] = '\0';
	return (int)o;
toolong:
	*why = "name longer than 253 octets";
	*off = 0;
	return -1;
}

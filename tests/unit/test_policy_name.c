/*
 * pd_name_normalize: names as glibc's resolver puts them on the wire
 * (ns_name_pton escapes, res_hnok's refusals), lower-cased, one trailing
 * dot stripped; and pd_pattern_normalize for policy patterns.
 */
#include <stdio.h>
#include <string.h>

#include "policy/internal.h"
#include "policy/policy.h"
#include "tests/unit/tap.h"

static const struct {
	const char	*in;
	const char	*out;	/* NULL: refused (-1) */
} names[] = {
	{ "dynamodb.us-east-1.amazonaws.com",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "DYNAMODB.US-EAST-1.AMAZONAWS.COM.",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "\\100ynamodb.us-east-1.amazonaws.com",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "\\068YNAMODB.us-east-1.amazonaws.com",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "\\dynamodb.us-east-1.amazonaws.com",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "d\\y\\n\\a\\m\\o\\d\\b.us-east-1.amazonaws.com",
	    "dynamodb.us-east-1.amazonaws.com" },
	{ "dynamodb.us-east-1.amazonaws\\.com", NULL },	/* decoded '.' */
	{ "dynamodb\\046us-east-1.amazonaws.com", NULL },
	{ "a\\000b.example.com", NULL },			/* decoded NUL */
	{ "a\\032b.example.com", NULL },			/* decoded space */
	{ "a\\092b.example.com", NULL },			/* decoded '\' */
	{ "a\\200b.example.com", NULL },			/* non-ASCII */
	{ "a\\256.example.com", NULL },				/* > 255 */
	{ "a\\1.example.com", NULL },				/* short \DDD */
	{ "a\\12.example.com", NULL },
	{ "a\\", NULL },					/* trailing '\' */
	{ "x\\065.com", "xa.com" },
	{ "x\\0651.com", "xa1.com" },
	{ "under_score.example.com", "under_score.example.com" },
	{ "a-.example.com", "a-.example.com" },
	{ "x.-b.com", "x.-b.com" },
	{ "-lead.example.com", NULL },				/* res_hnok */
	{ "\\045lead.example.com", NULL },			/* same, escaped */
	{ "a*b.example.com", NULL },
	{ "*.example.com", NULL },
	{ "a b.example.com", NULL },
	{ "h\xc3\xa9.example.com", NULL },
	{ "tail.", "tail" },
	{ "tail", "tail" },
	{ "b..c", NULL },
	{ ".a", NULL },
	{ "c..", NULL },
	{ ".", NULL },
	{ "", NULL },
	{ "1.2.3.4", "1.2.3.4" },
};

static void
test_names(void)
{
	char out[PD_NAME_MAX + 1];
	size_t i;
	int n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memset(out, 'X', sizeof(out));
		n = pd_name_normalize(names[i].in, out);
		if (names[i].out == NULL) {
			T_EQ_INT(n, -1, "'%s' is refused", names[i].in);
			T_EQ_STR(out, "", "'%s': out is empty on refusal",
			    names[i].in);
		} else {
			T_EQ_STR(n >= 0 ? out : "(refused)", names[i].out,
			    "'%s' normalises", names[i].in);
			T_EQ_INT(n, strlen(names[i].out), "'%s': length",
			    names[i].in);
		}
	}
}

static void
test_lengths(void)
{
	char in[600], out[PD_NAME_MAX + 1], want[300];
	int n;

	/* A 63-octet label is fine, 64 is not. */
	memset(in, 'a', 63);
	strcpy(in + 63, ".com");
	n = pd_name_normalize(in, out);
	T_EQ_INT(n, 67, "63-octet label accepted");
	memset(in, 'a', 64);
	strcpy(in + 64, ".com");
	T_EQ_INT(pd_name_normalize(in, out), -1, "64-octet label refused");
	/* 63 escaped octets are one 63-octet label (\097 = 'a'). */
	for (n = 0; n < 63; n++)
		memcpy(in + n * 4, "\\097", 4);
	strcpy(in + 63 * 4, ".com");
	T_EQ_INT(pd_name_normalize(in, out), 67,
	    "63 escaped octets: one 63-octet label");
	/* 253 octets accepted (with or without trailing dot), 254 not. */
	memset(want, 0, sizeof(want));
	for (n = 0; n < 253; n++)
		want[n] = n % 2 ? '.' : 'a';
	want[252] = 'a';
	T_EQ_INT(pd_name_normalize(want, out), 253, "253-octet name");
	T_EQ_STR(out, want, "253-octet name kept");
	strcpy(in, want);
	strcat(in, ".");
	T_EQ_INT(pd_name_normalize(in, out), 253,
	    "253-octet name + trailing dot");
	strcpy(in, want);
	strcat(in, "b");
	T_EQ_INT(pd_name_normalize(in, out), -1, "254-octet name refused");
	strcpy(in, want);
	strcat(in, ".b");
	T_EQ_INT(pd_name_normalize(in, out), -1, "255-octet name refused");
}

static const struct {
	const char	*in;
	const char	*out;	/* NULL: refused */
	const char	*why;	/* substring of the reason */
	size_t		 off;
} pats[] = {
	{ "dynamodb.*.amazonaws.com", "dynamodb.*.amazonaws.com", NULL, 0 },
	{ "DynamoDB.*.AmazonAWS.com.", "dynamodb.*.amazonaws.com", NULL, 0 },
	{ "**.example.internal", "**.example.internal", NULL, 0 },
	{ "*", "*", NULL, 0 },
	{ "**", "**", NULL, 0 },
	{ "*.*", "*.*", NULL, 0 },
	{ "**.*.x", "**.*.x", NULL, 0 },
	{ "a.**.com", NULL, "only as the leading label", 2 },
	{ "a.**", NULL, "only as the leading label", 2 },
	{ "dyn*.com", NULL, "whole label", 3 },
	{ "*dyn.com", NULL, "whole label", 0 },
	{ "***.com", NULL, "whole label", 0 },
	{ "a..b", NULL, "empty label", 2 },
	{ ".a", NULL, "empty label", 0 },
	{ "a..", NULL, "empty label", 2 },
	{ ".", NULL, "empty pattern", 0 },
	{ "", NULL, "empty pattern", 0 },
	{ "b\xc3\xbc" "cher.example", NULL, "A-labels", 1 },
	{ "xn--bcher-kva.example", "xn--bcher-kva.example", NULL, 0 },
	{ "a b.com", NULL, "invalid character", 1 },
	{ "a\\100.com", NULL, "invalid character", 1 },
};

static void
test_patterns(void)
{
	char out[PD_NAME_MAX + 1], in[400];
	const char *why;
	size_t i, off;
	int n;

	for (i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		why = NULL;
		off = 999;
		n = pd_pattern_normalize(pats[i].in, strlen(pats[i].in), out,
		    &why, &off);
		if (pats[i].out != NULL) {
			T_EQ_STR(n >= 0 ? out : why, pats[i].out,
			    "pattern '%s'", pats[i].in);
			continue;
		}
		T_EQ_INT(n, -1, "pattern '%s' refused", pats[i].in);
		T_OK(why != NULL && strstr(why, pats[i].why) != NULL,
		    "pattern '%s': reason mentions '%s'", pats[i].in,
		    pats[i].why);
		if (why != NULL && strstr(why, pats[i].why) == NULL)
			printf("#   got: %s\n", why);
		T_EQ_INT(off, pats[i].off, "pattern '%s': offset",
		    pats[i].in);
	}
	memset(in, 'a', 64);
	strcpy(in + 64, ".com");
	T_EQ_INT(pd_pattern_normalize(in, strlen(in), out, &why, &off), -1,
	    "pattern with a 64-octet label refused");
	T_OK(strstr(why, "63") != NULL, "reason names 63 octets");
	for (n = 0; n < 300; n++)
		in[n] = n % 2 ? '.' : 'a';
	in[299] = 'a';
	in[300] = '\0';
	T_EQ_INT(pd_pattern_normalize(in, 300, out, &why, &off), -1,
	    "pattern over 253 octets refused");
	T_OK(strstr(why, "253") != NULL, "reason names 253 octets");
}

int
main(void)
{
	test_names();
	test_lengths();
	test_patterns();
	return t_done();
}

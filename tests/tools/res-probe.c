/*
 * res-probe: the res_query family as a program calls it, one call per
 * line of stdin, and what came back, read with libresolv's own parser
 * (ns_initparse, ns_parserr, ns_sprintrr): the client side of the
 * message the preload builds.
 *
 *   query NAME TYPE [BUFLEN]          res_query (class IN)
 *   search NAME TYPE [BUFLEN]         res_search
 *   querydomain NAME DOMAIN TYPE      res_querydomain (DOMAIN "-": NULL)
 *   nquery|nsearch NAME TYPE          res_nquery / res_nsearch, own state
 *   nquerydomain NAME DOMAIN TYPE     res_nquerydomain, own state
 *   old NAME TYPE                     __res_query@GLIBC_2.2.5 (the name
 *                                     older headers bound)
 *   class NAME CLASS TYPE             res_query with another class
 *
 * TYPE and CLASS are numbers or A, AAAA, MX, TXT, PTR, IN, CH. Output per
 * call: the line, then "  = RC h_errno=NAME", then for a reply in the
 * buffer its header, question and records (ns_sprintrr), and "  hex"
 * with every byte after the message ID (which glibc draws at random).
 * For rc -1 the buffer is shown when something was written to it (its
 * header, read up to the counts).
 */
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/names.h"

/* The name programs built against glibc < 2.34 headers bound. */
int old_res_query(const char *, int, int, unsigned char *, int);
__asm__(".symver old_res_query,__res_query@GLIBC_2.2.5");

#define FILL	0xee

static int
num(const char *s)
{
	static const struct { const char *n; int v; } t[] = {
		{ "A", 1 }, { "AAAA", 28 }, { "MX", 15 }, { "TXT", 16 },
		{ "PTR", 12 }, { "CNAME", 5 }, { "IN", 1 }, { "CH", 3 },
		{ "ANY", 255 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].n) == 0)
			return t[i].v;
	return (int)strtol(s, NULL, 0);
}

static void
show_header(const unsigned char *m)
{
	unsigned f = ns_get16(m + 2);

	printf("  hdr qr=%u op=%u aa=%u tc=%u rd=%u ra=%u ad=%u cd=%u "
	    "rcode=%u qd=%u an=%u ns=%u ar=%u\n", f >> 15, (f >> 11) & 15,
	    (f >> 10) & 1, (f >> 9) & 1, (f >> 8) & 1, (f >> 7) & 1,
	    (f >> 5) & 1, (f >> 4) & 1, f & 15, ns_get16(m + 4),
	    ns_get16(m + 6), ns_get16(m + 8), ns_get16(m + 10));
}

static void
show(const unsigned char *m, int len)
{
	static const char *sect[] = { "qd", "an", "ns", "ar" };
	char line[2048];
	ns_msg h;
	ns_rr rr;
	int s, i;

	show_header(m);
	if (ns_initparse(m, len, &h) < 0) {
		printf("  ns_initparse failed\n");
		return;
	}
	for (s = ns_s_qd; s <= ns_s_ar; s++)
		for (i = 0; i < ns_msg_count(h, (ns_sect)s); i++) {
			if (ns_parserr(&h, (ns_sect)s, i, &rr) < 0) {
				printf("  %s %d: ns_parserr failed\n", sect[s],
				    i);
				continue;
			}
			if (s == ns_s_qd) {
				printf("  qd %s type=%d class=%d\n",
				    ns_rr_name(rr), ns_rr_type(rr),
				    ns_rr_class(rr));
				continue;
			}
			/* Deprecated, and still libresolv's printer. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
			if (ns_sprintrr(&h, &rr, NULL, NULL, line,
			    sizeof(line)) < 0)
#pragma GCC diagnostic pop
				snprintf(line, sizeof(line), "(unprintable)");
			printf("  %s %s\n", sect[s], line);
		}
	printf("  hex ");
	for (i = 2; i < len; i++)
		printf("%02x", m[i]);
	printf("\n");
}

int
main(void)
{
	char line[1024], cmd[32], a[512], b[512], c[64], d[64];
	unsigned char *buf;
	struct __res_state st;
	int n, rc, len, herr;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		n = sscanf(line, "%31s %511s %511s %63s %63s", cmd, a, b, c, d);
		if (n < 3)
			continue;
		len = 4096;
		if ((strcmp(cmd, "query") == 0 || strcmp(cmd, "search") == 0) &&
		    n >= 4)
			len = atoi(c);
		if ((buf = malloc((size_t)len + 1)) == NULL)
			return 1;
		memset(buf, FILL, (size_t)len + 1);
		memset(&st, 0, sizeof(st));
		h_errno = PD_SENTINEL;	/* shows whether the call set it */
		printf("%s\n", line);
		herr = -1;
		if (strcmp(cmd, "query") == 0)
			rc = res_query(a, C_IN, num(b), buf, len);
		else if (strcmp(cmd, "search") == 0)
			rc = res_search(a, C_IN, num(b), buf, len);
		else if (strcmp(cmd, "old") == 0)
			rc = old_res_query(a, C_IN, num(b), buf, len);
		else if (strcmp(cmd, "class") == 0 && n >= 4)
			rc = res_query(a, num(b), num(c), buf, len);
		else if (strcmp(cmd, "querydomain") == 0 && n >= 4)
			rc = res_querydomain(a, strcmp(b, "-") == 0 ? NULL : b,
			    C_IN, num(c), buf, len);
		else if (strncmp(cmd, "n", 1) == 0) {
			if (res_ninit(&st) != 0) {
				printf("  res_ninit failed\n");
				free(buf);
				continue;
			}
			st.res_h_errno = 0;
			if (strcmp(cmd, "nquery") == 0)
				rc = res_nquery(&st, a, C_IN, num(b), buf, len);
			else if (strcmp(cmd, "nsearch") == 0)
				rc = res_nsearch(&st, a, C_IN, num(b), buf,
				    len);
			else
				rc = res_nquerydomain(&st, a, strcmp(b, "-") ==
				    0 ? NULL : b, C_IN, num(c), buf, len);
			herr = st.res_h_errno;
			res_nclose(&st);
		} else {
			printf("  unknown command\n");
			free(buf);
			continue;
		}
		printf("  = %d h_errno=%s", rc, pd_herr_name(h_errno));
		if (herr != -1)
			printf(" res_h_errno=%s", pd_herr_name(herr));
		printf("\n");
		if (buf[len] != FILL)
			printf("  WROTE PAST THE BUFFER\n");
		if (rc > 0)
			show(buf, rc < len ? rc : len);
		else if (len >= 12 && (buf[2] != FILL || buf[3] != FILL))
			show_header(buf);
		free(buf);
	}
	return 0;
}

/*
 * alloc_probe: the self-test partner of failalloc.so. Makes one call of
 * each interposed allocation function, in a fixed order, from the main
 * program, prints "N FUNCTION ok|NULL" per call, and between them lets
 * libc allocate on its own behalf (fopen, a stdio buffer), which
 * failalloc.so must not count. Exit 0.
 *
 *	alloc_probe [ROUNDS]       (default 1; the calls repeat ROUNDS times)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned n;

static void
show(const char *fn, const void *p)
{
	printf("%u %s %s\n", ++n, fn, p != NULL ? "ok" : "NULL");
}

int
main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1, r;
	void *p, *q;
	FILE *f;

	for (r = 0; r < rounds; r++) {
		p = malloc(100);
		show("malloc", p);
		/* libc allocating for itself: FILE and its buffer. */
		if ((f = fopen("/proc/self/status", "r")) != NULL) {
			char line[256];

			while (fgets(line, sizeof(line), f) != NULL)
				;
			fclose(f);
		}
		q = calloc(10, 10);
		show("calloc", q);
		free(q);
		q = realloc(p, 1000);
		show("realloc", q);
		free(q != NULL ? q : p);
		p = strdup("strdup");
		show("strdup", p);
		free(p);
		p = strndup("strndup", 3);
		show("strndup", p);
		free(p);
		if (posix_memalign(&p, 64, 128) != 0)
			p = NULL;
		show("posix_memalign", p);
		free(p);
		p = aligned_alloc(64, 128);
		show("aligned_alloc", p);
		free(p);
	}
	fflush(stdout);
	return 0;
}

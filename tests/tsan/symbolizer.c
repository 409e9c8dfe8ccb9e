/*
 * llvm-symbolizer wrapper for `make tsan`. ThreadSanitizer starts its
 * symbolizer with the test's environment, so a TSan-built LD_PRELOAD
 * object (whose __tsan_* symbols only a TSan executable provides) would
 * stop llvm-symbolizer, or a shell script, from even starting. Linked
 * statically, this wrapper ignores LD_PRELOAD, drops it and execs the
 * real symbolizer (never itself: it is not on PATH). Its file name must
 * be llvm-symbolizer: TSan picks the protocol by name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	static const char *const names[] = { "llvm-symbolizer-14",
	    "llvm-symbolizer-15", "llvm-symbolizer-16", "llvm-symbolizer" };
	size_t i;

	(void)argc;
	unsetenv("LD_PRELOAD");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		execvp(names[i], argv);
	fprintf(stderr, "tsan symbolizer wrapper: no llvm-symbolizer found\n");
	return 127;
}

/*
 * What every pindns subcommand shares on the command line: the error for
 * an unknown option or a missing argument (naming it, as GNU tools do),
 * and the message for a policy file that is not there, pointing at the
 * shipped example wherever this installation keeps it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

int
pd_cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pindns %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: pindns %s\n(pindns %s --help for more; "
	    "man pindns)\n", usage, cmd);
	return PD_EXIT_USAGE;
}

int
pd_cli_bad_option(const char *cmd, const char *usage, int c, char **argv)
{
	/* getopt_long leaves the word it could not use at argv[optind-1];
	 * optopt is the letter of a short option (0 for a long one). */
	const char *word = optind > 0 ? argv[optind - 1] : "?";

	if (c == ':')
		return optopt != 0 ?
		    pd_cli_usage_error(cmd, usage, "option '-%c' needs an "
		    "argument", optopt) :
		    pd_cli_usage_error(cmd, usage, "option '%s' needs an "
		    "argument", word);
	if (optopt != 0)
		return pd_cli_usage_error(cmd, usage, "unknown option '-%c'",
		    optopt);
	return pd_cli_usage_error(cmd, usage, "unknown option '%s'", word);
}

/* The shipped example, relative to this program (see pd_cli_no_policy). */
static const char *const example_rel[] = {
	"../share/doc/pindns/examples/dynamodb.yaml",	/* Debian package */
	"../share/pindns/policy.yaml",			/* make install */
	"../policy/dynamodb.yaml",			/* source tree */
};

static int
find_example(char *out, size_t len)
{
	char self[PATH_MAX], cand[PATH_MAX + 64], *slash;
	ssize_t n;
	size_t i;

	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return -1;
	*slash = '\0';
	for (i = 0; i < sizeof(example_rel) / sizeof(example_rel[0]); i++) {
		(void)snprintf(cand, sizeof(cand), "%s/%s", self,
		    example_rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, out) != NULL &&
		    strlen(out) < len)
			return 0;
	}
	return -1;
}

bool
pd_cli_no_policy(const char *cmd, const char *path, const char *how)
{
	char ex[PATH_MAX];
	struct stat st;

	if (stat(path, &st) == 0 || errno != ENOENT)
		return false;
	fprintf(stderr, "pindns %s: no policy file %s\n", cmd, path);
	fprintf(stderr, "  name one (%s), or set PINDNS_POLICY;\n", how);
	if (find_example(ex, sizeof(ex)) == 0)
		fprintf(stderr, "  to start from the shipped example:\n"
		    "    install -D -m 0644 %s %s\n", ex, path);
	fprintf(stderr, "  (man pindns.yaml: the policy file)\n");
	return true;
}

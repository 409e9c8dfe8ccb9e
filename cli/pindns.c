/* pindns: the command-line tool (SPEC §5). Subcommand table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct pd_cmd {
	const char	*name;
	int		(*run)(int argc, char **argv);
	const char	*usage;
} cmds[] = {
	{ "version", pd_cmd_version, "version" },
	{ "check", pd_cmd_check, "check [POLICY]" },
	{ "keygen", pd_cmd_keygen, "keygen BASENAME" },
	{ "sign", pd_cmd_sign, "sign -k SECRET_KEY POLICY" },
	{ "verify", pd_cmd_verify, "verify -k PUBLIC_KEY POLICY" },
	{ "digest", pd_cmd_digest, "digest FILE..." },
	{ "pin", pd_cmd_pin, "pin HOST[:PORT] | pin --cert FILE.pem" },
	{ "query", pd_cmd_query,
	    "query [-p POLICY] [-4|-6] [--json] NAME [SERVICE]" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  pindns %s\n", cmds[i].usage);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "pindns: missing command\n");
		usage(stderr);
		return 1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pindns: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 1;
}

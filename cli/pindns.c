/*
 * pindns: the command-line tool. Subcommand table; -h/--help and
 * --version are answered here for the tool and for every subcommand, so
 * each subcommand parses only its own options.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct pd_cmd {
	const char	*name;
	int		(*run)(int argc, char **argv);
	const char	*usage;
	const char	*help;
} cmds[] = {
	{ "check", pd_cmd_check, "check [POLICY]",
	    "Load and verify POLICY exactly as the preload would (default:\n"
	    "$PINDNS_POLICY, else /etc/pindns/policy.yaml), print a summary\n"
	    "and the warnings. With PINDNS_PUBKEY set, or\n"
	    "/etc/pindns/policy.pub present, POLICY.sig must be valid.\n"
	    "Exit: 0 the policy loads, 1 it does not (or a usage error).\n" },
	{ "query", pd_cmd_query,
	    "query [-4|-6] [--json] [--audit] [-p POLICY] NAME [SERVICE]",
	    "Resolve NAME as the preload would and explain the outcome.\n"
	    "  -4, -6               IPv4 or IPv6 addresses only\n"
	    "  --json               one JSON object instead of text\n"
	    "  --audit              also write the audit line to the "
	    "policy's log\n"
	    "                       target (or $PINDNS_LOG); without it "
	    "nothing is logged\n"
	    "  -p, --policy POLICY  default $PINDNS_POLICY, else "
	    "/etc/pindns/policy.yaml\n"
	    "Options may come before or after NAME; -- ends them.\n"
	    "Exit: 0 accepted, 1 usage or configuration error (no policy, "
	    "an invalid one),\n"
	    "2 refused by the policy, 3 temporary failure, 4 absent.\n" },
	{ "status", pd_cmd_status, "status [PID...]",
	    "For running processes (default: every one with the preload that\n"
	    "this user can see): is libpindns.so loaded, has a lookup been\n"
	    "made, which policy file their environment names, and whether\n"
	    "that file loads now (sha256, signing key). The environment of\n"
	    "another user's process needs root.\n"
	    "Exit: 0 protected, 1 usage, 2 a process without the preload.\n" },
	{ "stats", pd_cmd_stats, "stats [PID|FILE]",
	    "Counters, readably: of a process with the preload or of pindns\n"
	    "serve (PID: its record, as pindns status reads it), or of a\n"
	    "metrics file pindns serve --metrics-file writes (FILE).\n"
	    "Without either: every live record of this user.\n"
	    "Exit: 0, 1 no record or not a metrics file, 2 none found.\n" },
	{ "serve", pd_cmd_serve, "serve [-p POLICY] [-l ADDR[@PORT]]... [-u USER]\n"
	    "      [--metrics-file FILE [--metrics-interval SECONDS]]",
	    "Run the policy as a local DNS resolver (UDP and TCP), for static\n"
	    "binaries, processes started without the preload, whole hosts\n"
	    "and pods (man pindns-serve).\n"
	    "  -p, --policy POLICY  default $PINDNS_POLICY, else "
	    "/etc/pindns/policy.yaml\n"
	    "  -l, --listen ADDR[@PORT]  repeatable; default the policy's\n"
	    "                       listen_addresses, else 127.0.0.1@53 and "
	    "::1@53\n"
	    "  -u, --user USER      after binding (default: pindns, if it "
	    "exists)\n"
	    "  --metrics-file FILE  write counters there in Prometheus text "
	    "format\n"
	    "                       (node_exporter's textfile collector), "
	    "replaced by\n"
	    "                       rename every --metrics-interval seconds "
	    "(default 15)\n"
	    "Foreground; SIGHUP reloads the policy, SIGTERM stops.\n"
	    "Exit: 0 stopped by SIGTERM/SIGINT, 1 it cannot start.\n" },
	{ "keygen", pd_cmd_keygen, "keygen BASENAME",
	    "Write BASENAME.key (secret, mode 0600) and BASENAME.pub;\n"
	    "never overwrites. Exit: 0, or 1 on any error.\n" },
	{ "sign", pd_cmd_sign, "sign -k SECRET_KEY POLICY",
	    "Write POLICY.sig, the Ed25519 signature of POLICY's bytes.\n"
	    "POLICY must load, and name every file with its sha256\n"
	    "(pindns digest prints the lines to write).\n"
	    "Exit: 0, or 1 on any error.\n" },
	{ "verify", pd_cmd_verify, "verify -k PUBLIC_KEY POLICY",
	    "Check POLICY.sig against PUBLIC_KEY, and the sha256 of every\n"
	    "file the policy names against the file as it is now.\n"
	    "Exit: 0 valid, 1 not (or an error).\n" },
	{ "digest", pd_cmd_digest, "digest FILE...",
	    "Print {path: FILE, sha256: HEX} for each FILE: the form a\n"
	    "signed policy names tls_ca_file and each\n"
	    "dnssec_trust_anchors entry in.\n"
	    "Exit: 0, or 1 when a FILE cannot be read.\n" },
	{ "pin", pd_cmd_pin, "pin HOST[:PORT] | pin --cert FILE.pem",
	    "Print the SHA-256 SPKI pin (tls_pubkey_pinset entry) of the\n"
	    "key a DoT server presents (PORT default 853; NOT verified:\n"
	    "check it out of band), or of each certificate in FILE.pem.\n"
	    "Exit: 0, or 1 on any error.\n" },
	{ "version", pd_cmd_version, "version",
	    "Print the versions of pindns and of the libraries in use.\n" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage:\n");
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  pindns %s\n", cmds[i].usage);
	fprintf(f, "  pindns -h | --help | --version\n"
	    "pindns COMMAND --help for one command; man pindns, "
	    "man pindns.yaml.\n");
}

/* -h, --help or --version among a subcommand's arguments (before --). */
static const char *
meta_option(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "--version") == 0)
			return argv[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *m;
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "pindns: missing command\n");
		usage(stderr);
		return PD_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)
		return pd_cmd_version(1, argv + 1);
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if ((m = meta_option(argc - 1, argv + 1)) != NULL) {
			if (strcmp(m, "--version") == 0)
				return pd_cmd_version(1, argv + 1);
			printf("usage: pindns %s\n%s", cmds[i].usage,
			    cmds[i].help);
			return 0;
		}
		return cmds[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "pindns: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return PD_EXIT_USAGE;
}

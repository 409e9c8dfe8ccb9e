/* pindns keygen, sign, verify: policy signatures (pindns(1)). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/policy.h"

static const struct option no_longopts[] = { { NULL, 0, NULL, 0 } };

int
pd_cmd_keygen(int argc, char **argv)
{
	static const char u[] = "keygen BASENAME";
	struct pd_error e;
	char id[17];

	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", no_longopts, NULL)) != -1)
		return pd_cli_bad_option("keygen", u, c, argv);
	if (argc - optind != 1)
		return pd_cli_usage_error("keygen", u, argc - optind < 1 ?
		    "missing BASENAME" : "expected one BASENAME");
	if (pd_sig_keygen(argv[optind], id, &e) != PD_OK) {
		fprintf(stderr, "pindns keygen: %s\n", e.msg);
		return 1;
	}
	printf("key id %s\n", id);
	printf("secret key: %s.key (mode 0600: keep it off the servers)\n",
	    argv[optind]);
	printf("public key: %s.pub (install as /etc/pindns/policy.pub or "
	    "point PINDNS_PUBKEY at it)\n", argv[optind]);
	return 0;
}

/*
 * "-k FILE POLICY", options anywhere (getopt_long permutes). Returns 0
 * with both set, else the usage error's exit status.
 */
static int
key_and_policy(const char *cmd, const char *u, int argc, char **argv,
    const char **key, const char **pol)
{
	int c;

	*key = *pol = NULL;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":k:", no_longopts, NULL)) != -1) {
		if (c != 'k')
			return pd_cli_bad_option(cmd, u, c, argv);
		*key = optarg;
	}
	if (*key == NULL)
		return pd_cli_usage_error(cmd, u, "missing -k KEY");
	if (argc - optind != 1)
		return pd_cli_usage_error(cmd, u, argc - optind < 1 ?
		    "missing POLICY" : "expected one POLICY");
	*pol = argv[optind];
	return 0;
}

int
pd_cmd_sign(int argc, char **argv)
{
	static const char u[] = "sign -k SECRET_KEY POLICY";
	const char *key, *pol;
	struct pd_error e;

	int rc;

	if ((rc = key_and_policy("sign", u, argc, argv, &key, &pol)) != 0)
		return rc;
	if (pd_sig_sign(key, pol, &e) != PD_OK) {
		fprintf(stderr, "pindns sign: %s\n", e.msg);
		return 1;
	}
	printf("wrote %s.sig\n", pol);
	return 0;
}

int
pd_cmd_verify(int argc, char **argv)
{
	static const char u[] = "verify -k PUBLIC_KEY POLICY";
	const char *key, *pol;
	struct pd_error e;

	int rc;

	if ((rc = key_and_policy("verify", u, argc, argv, &key, &pol)) != 0)
		return rc;
	if (pd_sig_verify(key, pol, &e) != PD_OK) {
		fprintf(stderr, "pindns verify: %s\n", e.msg);
		return 1;
	}
	printf("%s: signature valid (%s)\n", pol, key);
	return 0;
}

/* pindns keygen, sign, verify: policy signatures (SPEC §5). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/policy.h"

static int
usage(const char *why, const char *u)
{
	fprintf(stderr, "pindns: %s\nusage: pindns %s\n", why, u);
	return 1;
}

int
pd_cmd_keygen(int argc, char **argv)
{
	static const char u[] = "keygen BASENAME";
	struct pd_error e;
	char id[17];

	if (argc != 2 || argv[1][0] == '-')
		return usage(argc < 2 ? "keygen: missing BASENAME" :
		    "keygen: expected one BASENAME", u);
	if (pd_sig_keygen(argv[1], id, &e) != PD_OK) {
		fprintf(stderr, "pindns keygen: %s\n", e.msg);
		return 1;
	}
	printf("key id %s\n", id);
	printf("secret key: %s.key (mode 0600: keep it off the servers)\n",
	    argv[1]);
	printf("public key: %s.pub (install as /etc/pindns/policy.pub or "
	    "point PINDNS_PUBKEY at it)\n", argv[1]);
	return 0;
}

/* "-k FILE POLICY" in either order; returns 0 with both set. */
static int
key_and_policy(int argc, char **argv, const char **key, const char **pol)
{
	int c;

	*key = *pol = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt(argc, argv, "+k:")) != -1) {
		if (c != 'k')
			return -1;
		*key = optarg;
	}
	if (optind < argc)
		*pol = argv[optind++];
	if (optind < argc && *key == NULL && strcmp(argv[optind], "-k") == 0 &&
	    optind + 1 < argc) {
		*key = argv[optind + 1];	/* POLICY -k FILE */
		optind += 2;
	}
	return *key != NULL && *pol != NULL && optind == argc ? 0 : -1;
}

int
pd_cmd_sign(int argc, char **argv)
{
	static const char u[] = "sign -k SECRET_KEY POLICY";
	const char *key, *pol;
	struct pd_error e;

	if (key_and_policy(argc, argv, &key, &pol) != 0)
		return usage("sign: expected -k SECRET_KEY and one POLICY", u);
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

	if (key_and_policy(argc, argv, &key, &pol) != 0)
		return usage("verify: expected -k PUBLIC_KEY and one POLICY",
		    u);
	if (pd_sig_verify(key, pol, &e) != PD_OK) {
		fprintf(stderr, "pindns verify: %s\n", e.msg);
		return 1;
	}
	printf("%s: signature valid (%s)\n", pol, key);
	return 0;
}

/*
 * pindns keygen, sign, verify, digest: policy signatures (pindns(1)) and
 * the sha256 a signed policy gives for each file it names.
 */
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

void
pd_cli_hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	out[2 * n] = '\0';
}

/* One named file the policy does not pin, as the line to write instead. */
static void
print_unpinned(const char *pol, const char *key,
    const struct pd_policy_file *f)
{
	char hex[65];

	pd_cli_hex(f->sha256, sizeof(f->sha256), hex);
	fprintf(stderr, "  %s:%u:%u: %s{path: %s, sha256: %s}\n", pol,
	    f->line, f->col, key, f->name, hex);
}

/*
 * A signature covers the policy's bytes only: refuse to sign a policy
 * naming a file without its sha256, and print every line to write
 * instead (pd_sig_sign refuses it too, naming only the first).
 */
static int
sign_precheck(const char *pol)
{
	struct pd_policy *p = NULL;
	struct pd_error e;
	size_t i, n = 0;

	if (pd_policy_load(pol, NULL, &p, &e) != PD_OK) {
		fprintf(stderr, "pindns sign: %s\n", e.msg);
		return 1;
	}
	if (p->tls_ca != NULL && !p->tls_ca->pinned)
		n++;
	for (i = 0; i < p->nanchors; i++)
		if (p->anchors[i].line != 0 && !p->anchors[i].pinned)
			n++;
	if (n != 0) {
		fprintf(stderr, "pindns sign: %s: %zu named file%s without "
		    "a sha256, refused: a signature covers only the policy's "
		    "own bytes. Write instead (the sha256 of each file as it "
		    "is now: make sure it is the one to trust):\n", pol, n,
		    n == 1 ? "" : "s");
		if (p->tls_ca != NULL && !p->tls_ca->pinned)
			print_unpinned(pol, "tls_ca_file: ", p->tls_ca);
		for (i = 0; i < p->nanchors; i++)
			if (p->anchors[i].line != 0 && !p->anchors[i].pinned)
				print_unpinned(pol, "dnssec_trust_anchors "
				    "entry: ", &p->anchors[i]);
	}
	pd_policy_free(p);
	return n != 0;
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
	if (sign_precheck(pol) != 0)
		return 1;
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
	printf("%s: signature valid, every file it names pinned (%s)\n", pol,
	    key);
	return 0;
}

int
pd_cmd_digest(int argc, char **argv)
{
	static const char u[] = "digest FILE...";
	struct pd_error e;
	uint8_t d[32];
	char hex[65];
	int i, rc = 0;

	if (argc < 2)
		return pd_cli_usage_error("digest", u, "missing FILE");
	if (argv[1][0] == '-' && argv[1][1] != '\0')
		return pd_cli_usage_error("digest", u, "unknown option '%s'",
		    argv[1]);
	for (i = 1; i < argc; i++) {
		if (pd_file_sha256(argv[i], PD_CA_FILE_MAX_BYTES, d, &e) !=
		    PD_OK) {
			fprintf(stderr, "pindns digest: %s\n", e.msg);
			rc = 1;
			continue;
		}
		pd_cli_hex(d, sizeof(d), hex);
		printf("{path: %s, sha256: %s}\n", argv[i], hex);
	}
	return rc;
}

/*
 * Signatures: keygen, sign, verify round trip; a one-byte tamper; the
 * wrong key; a missing .sig when a key is required; secret keys with
 * group/world permissions refused; pd_policy_load with a key;
 * pd_policy_pubkey_path and PINDNS_PUBKEY.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/unit/tap.h"

static char dir[64];

static char *
at(const char *name)
{
	static char buf[64][256];	/* a ring: results stay valid a while */
	static int i;

	i = (i + 1) % 64;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;
	return st.st_mode & 07777;
}

static const char policy[] =
    "version: 1\n"
    "rules:\n"
    "  - name: local\n"
    "    match: [db.local.test]\n"
    "    action: static\n"
    "    addresses: [127.0.0.1]\n";

static void
test_keygen(void)
{
	struct pd_error e = { 0 };
	char id[17];

	T_EQ_INT(pd_sig_keygen(at("k1"), id, &e), PD_OK, "keygen k1");
	T_EQ_INT(strlen(id), 16, "key id is 16 hex digits");
	T_EQ_INT(mode_of(at("k1.key")), 0600, "secret key mode 0600");
	T_EQ_INT(mode_of(at("k1.pub")), 0644, "public key mode 0644");
	T_EQ_INT(pd_sig_keygen(at("k1"), NULL, &e), PD_EIO,
	    "keygen refuses to overwrite");
	T_OK(strstr(e.msg, "k1.key: File exists") != NULL, "says so: %s",
	    e.msg);
	unlink(at("k3.key"));
	write_file(at("k3.pub"), "x");
	T_EQ_INT(pd_sig_keygen(at("k3"), NULL, &e), PD_EIO,
	    "keygen refuses when only the .pub exists");
	T_OK(access(at("k3.key"), F_OK) != 0, "and leaves no .key behind");
	T_EQ_INT(pd_sig_keygen(at("k2"), NULL, &e), PD_OK, "keygen k2");
}

static void
test_roundtrip(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	char *pol = at("policy.yaml"), *sig = at("policy.yaml.sig");
	FILE *f;
	int c;

	write_file(pol, policy);
	T_EQ_INT(pd_sig_sign(at("k1.key"), pol, &e), PD_OK, "sign");
	T_OK(access(sig, F_OK) == 0, "POLICY.sig written");
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_OK, "verify");
	T_EQ_INT(pd_policy_load(pol, at("k1.pub"), &p, &e), PD_OK,
	    "load with the key");
	T_OK(p != NULL && p->signed_ok, "signed_ok set");
	pd_policy_free(p);
	p = NULL;

	/* The wrong key: its id says which key is needed. */
	T_EQ_INT(pd_sig_verify(at("k2.pub"), pol, &e), PD_ESIG,
	    "verify with another key fails");
	T_OK(strstr(e.msg, "signed by key") != NULL &&
	    strstr(e.msg, "not by key") != NULL, "names both keys: %s", e.msg);
	T_EQ_INT(pd_policy_load(pol, at("k2.pub"), &p, &e), PD_ESIG,
	    "load with another key refused");

	/* One byte changed in the policy. */
	f = fopen(pol, "r+");
	fseek(f, 20, SEEK_SET);
	c = fgetc(f);
	fseek(f, 20, SEEK_SET);
	fputc(c ^ 0x01, f);
	fclose(f);
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_ESIG,
	    "one-byte tamper detected");
	T_OK(strstr(e.msg, "does not match") != NULL, "message: %s", e.msg);
	T_EQ_INT(pd_policy_load(pol, at("k1.pub"), &p, &e), PD_ESIG,
	    "tampered policy refused by load");
	T_OK(p == NULL, "nothing loaded");

	/* A byte appended is a change too. */
	write_file(pol, policy);
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_OK, "restored");
	f = fopen(pol, "a");
	fputc('\n', f);
	fclose(f);
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_ESIG,
	    "appended newline detected");

	/* Missing signature while a key is required. */
	write_file(pol, policy);
	unlink(sig);
	T_EQ_INT(pd_policy_load(pol, at("k1.pub"), &p, &e), PD_ESIG,
	    "missing .sig refused");
	T_OK(strstr(e.msg, "policy.yaml.sig: missing") != NULL,
	    "message: %s", e.msg);
	T_EQ_INT(pd_policy_load(pol, NULL, &p, &e), PD_OK,
	    "no key required: loads unsigned");
	T_OK(p != NULL && !p->signed_ok, "signed_ok false");
	pd_policy_free(p);
	p = NULL;

	/* A garbage .sig, and a missing public key. */
	write_file(sig, "untrusted comment: x\nAAAA\n");
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_ESIG,
	    "malformed .sig refused");
	T_OK(strstr(e.msg, "policy.yaml.sig:2:1: not a base64 signature") !=
	    NULL, "message: %s", e.msg);
	write_file(sig, "hello\n");
	T_EQ_INT(pd_sig_verify(at("k1.pub"), pol, &e), PD_ESIG,
	    "a .sig without the comment line refused");
	T_EQ_INT(pd_policy_load(pol, at("nope.pub"), &p, &e), PD_EIO,
	    "missing public key refused");
	T_OK(strstr(e.msg, "nope.pub: No such file") != NULL, "message: %s",
	    e.msg);
	T_EQ_INT(pd_policy_load(pol, "", &p, &e), PD_ESIG,
	    "empty key path refused");
	T_EQ_INT(pd_sig_verify(at("k1.key"), pol, &e), PD_EPARSE,
	    "a secret key is not a public key");
}

static void
test_secret_modes(void)
{
	struct pd_error e = { 0 };
	char *pol = at("policy.yaml");
	static const unsigned bad[] = { 0644, 0640, 0604, 0660, 0610, 0601 };
	size_t i;

	write_file(pol, policy);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		chmod(at("k1.key"), bad[i]);
		T_EQ_INT(pd_sig_sign(at("k1.key"), pol, &e), PD_EPERM,
		    "secret key mode %04o refused", bad[i]);
	}
	T_OK(strstr(e.msg, "mode 0601") != NULL && strstr(e.msg, "chmod 600")
	    != NULL, "message: %s", e.msg);
	chmod(at("k1.key"), 0400);
	T_EQ_INT(pd_sig_sign(at("k1.key"), pol, &e), PD_OK,
	    "mode 0400 accepted");
	chmod(at("k1.key"), 0600);
	chmod(at("k1.pub"), 0600);
	T_EQ_INT(pd_sig_sign(at("k1.pub"), pol, &e), PD_EPARSE,
	    "a public key cannot sign");
	chmod(at("k1.pub"), 0644);
}

static void
test_pubkey_path(void)
{
	struct stat sb;
	const char *want = stat("/etc/pindns/policy.pub", &sb) != 0 &&
	    errno == ENOENT ? NULL : "/etc/pindns/policy.pub";

	unsetenv("PINDNS_PUBKEY");
	T_EQ_STR(pd_policy_pubkey_path(), want,
	    "unset: the default path unless it does not exist");
	setenv("PINDNS_PUBKEY", "/nonexistent/key.pub", 1);
	T_EQ_STR(pd_policy_pubkey_path(), "/nonexistent/key.pub",
	    "PINDNS_PUBKEY wins, even when missing");
	setenv("PINDNS_PUBKEY", "", 1);
	T_EQ_STR(pd_policy_pubkey_path(), "", "set but empty is set");
	unsetenv("PINDNS_PUBKEY");
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/pindns-sig-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		T_OK(0, "mkdtemp: %s", strerror(errno));
		return t_done();
	}
	test_keygen();
	test_roundtrip();
	test_secret_modes();
	test_pubkey_path();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}

/*
 * Signatures: keygen, sign, verify round trip; a one-byte tamper; the
 * wrong key; a missing .sig when a key is required; secret keys with
 * group/world permissions refused; pd_policy_load with a key;
 * the files a signed policy names pinned by sha256 (load, verify, sign,
 * reload); pd_policy_pubkey_path and PINDNS_PUBKEY.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

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

/*
 * A .sig over buf made straight from the secret key file with libsodium,
 * as `pindns sign` made them before it refused a policy naming a file
 * without its sha256: a policy signed before that change, or by another
 * tool. Returns 0 when written.
 */
static int
raw_sign(const char *seckey, const char *path, const char *text)
{
	uint8_t raw[2 + 8 + crypto_sign_SECRETKEYBYTES], sig[2 + 8 +
	    crypto_sign_BYTES];
	char line[256], b64[sodium_base64_ENCODED_LEN(sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL)], sigpath[300];
	size_t got;
	FILE *f;
	int ok = -1;

	if ((f = fopen(seckey, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL ||
	    fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	if (sodium_base642bin(raw, sizeof(raw), line, strlen(line), NULL,
	    &got, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != sizeof(raw))
		goto out;
	memcpy(sig, raw, 10);
	crypto_sign_detached(sig + 10, NULL, (const uint8_t *)text,
	    strlen(text), raw + 10);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(sigpath, sizeof(sigpath), "%s.sig", path);
	if ((f = fopen(sigpath, "w")) == NULL)
		goto out;
	fprintf(f, "untrusted comment: signed without the sha256 check\n%s\n",
	    b64);
	fclose(f);
	write_file(path, text);
	ok = 0;
out:
	sodium_memzero(raw, sizeof(raw));
	return ok;
}

static void
hex_of(const char *path, char *hex)
{
	struct pd_error e;
	uint8_t d[32];

	hex[0] = '\0';
	if (pd_file_sha256(path, PD_CA_FILE_MAX_BYTES, d, &e) == PD_OK)
		sodium_bin2hex(hex, 65, d, sizeof(d));
}

static const char ca_good[] = "-----BEGIN CERTIFICATE-----\ngood CA\n";
static const char ca_other[] = "-----BEGIN CERTIFICATE-----\nother CA\n";
static const char ta_good[] = "example. 3600 IN DS 20326 8 2 "
    "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8d\n";
static const char ta_other[] = "example. 3600 IN DS 4242 13 2 "
    "0000000000000000000000000000000000000000000000000000000000000000\n";

/*
 * Write ca.pem and ta.ds with their good bytes, and files.yaml naming
 * both, the CA pinned by its sha256, the anchor too when pin_anchor;
 * text gets the policy.
 */
static void
write_pinned(char *text, size_t len, bool pin_anchor)
{
	char hca[65], hta[65], ta[100];

	write_file(at("ca.pem"), ca_good);
	write_file(at("ta.ds"), ta_good);
	hex_of(at("ca.pem"), hca);
	hex_of(at("ta.ds"), hta);
	if (pin_anchor)
		snprintf(ta, sizeof(ta), "{path: ta.ds, sha256: %s}", hta);
	else
		snprintf(ta, sizeof(ta), "ta.ds");
	snprintf(text, len, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - {address_data: 192.0.2.53, tls_auth_name: x.test}\n"
	    "tls_ca_file: {path: ca.pem, sha256: %s}\n"
	    "dnssec_trust_anchors: [%s]\n"
	    "default: secure\n", hca, ta);
	write_file(at("files.yaml"), text);
}

/*
 * The review's case (issue 12): a signature covers the policy's bytes,
 * and the CA file and trust anchors it names sit beside it, where whoever
 * edits the directory (a ConfigMap) can swap them. A policy that must be
 * signed names them with their sha256, or it is refused; a swapped file
 * is refused like a tampered policy, by load and by verify.
 */
static void
test_named_files(void)
{
	struct pd_policy *p = NULL;
	struct pd_error e = { 0 };
	char *pol = at("files.yaml"), *sig = at("files.yaml.sig");
	char *ca = at("ca.pem"), *ta = at("ta.ds"), *pub = at("k1.pub");
	char *sec = at("k1.key"), text[512];
	static const char plain[] =
	    "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - {address_data: 192.0.2.53, tls_auth_name: x.test}\n"
	    "tls_ca_file: ca.pem\n"
	    "dnssec_trust_anchors: [ta.ds]\n"
	    "default: secure\n";

	write_file(ca, ca_good);
	write_file(ta, ta_good);

	/* Plain paths, signed the old way: refused, at the CA's line. */
	T_EQ_INT(raw_sign(sec, pol, plain), 0, "signed without sha256s");
	T_EQ_INT(pd_policy_load(pol, NULL, &p, &e), PD_OK,
	    "plain paths load when no signature is required");
	pd_policy_free(p);
	p = NULL;
	T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_ESIG,
	    "signed, a named file without sha256: refused");
	T_OK(p == NULL, "nothing loaded");
	T_OK(strstr(e.msg, "files.yaml:4:14: tls_ca_file: ca.pem has no "
	    "sha256") != NULL && strstr(e.msg, "{path: ca.pem, sha256: "
	    "HEX}") != NULL, "FILE:LINE:COLUMN and what to write: %s", e.msg);
	T_EQ_INT(pd_sig_verify(pub, pol, &e), PD_ESIG,
	    "verify: not valid either");
	unlink(sig);
	T_EQ_INT(pd_sig_sign(sec, pol, &e), PD_ESIG,
	    "sign refuses a policy naming a file without sha256");
	T_OK(strstr(e.msg, "has no sha256") != NULL, "message: %s", e.msg);
	T_OK(access(sig, F_OK) != 0, "and writes no .sig");
	write_file(pol, "version: 1\nrules: [\n");
	T_EQ_INT(pd_sig_sign(sec, pol, &e), PD_EPARSE,
	    "sign refuses a policy that does not load");
	T_OK(access(sig, F_OK) != 0, "and writes no .sig");

	/* The anchor alone unpinned: refused at the anchor's line. */
	write_pinned(text, sizeof(text), false);
	T_EQ_INT(raw_sign(sec, pol, text), 0, "signed, anchor unpinned");
	T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_ESIG,
	    "an unpinned anchor is refused");
	T_OK(strstr(e.msg, "files.yaml:5:24: dnssec_trust_anchors: ta.ds "
	    "has no sha256") != NULL, "message: %s", e.msg);

	/* Pinned: signs, verifies, loads with the checked bytes. */
	write_pinned(text, sizeof(text), true);
	T_EQ_INT(pd_sig_sign(sec, pol, &e), PD_OK, "pinned: sign: %s", e.msg);
	T_EQ_INT(pd_sig_verify(pub, pol, &e), PD_OK, "pinned: verify: %s",
	    e.msg);
	T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_OK, "pinned: load: %s",
	    e.msg);
	T_OK(p != NULL && p->signed_ok && p->tls_ca->pinned &&
	    p->anchors[0].pinned, "signed, both files pinned");
	T_OK(p != NULL && p->tls_ca->len == strlen(ca_good) &&
	    memcmp(p->tls_ca->data, ca_good, strlen(ca_good)) == 0,
	    "the policy holds the CA bytes that were checked");
	pd_policy_free(p);
	p = NULL;

	/* `cp other-ca.pem ca.pem` beside it. */
	write_file(ca, ca_other);
	T_EQ_INT(pd_sig_verify(pub, pol, &e), PD_ESIG,
	    "CA swapped: verify says not valid");
	T_OK(strstr(e.msg, "files.yaml:4:21: tls_ca_file: ") != NULL &&
	    strstr(e.msg, "does not match the sha256") != NULL, "message: %s",
	    e.msg);
	T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_ESIG,
	    "CA swapped: refused like a tampered policy");
	T_OK(p == NULL, "nothing loaded");
	write_file(ca, ca_good);
	write_file(ta, ta_other);
	T_EQ_INT(pd_sig_verify(pub, pol, &e), PD_ESIG,
	    "anchor swapped: verify says not valid");
	T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_ESIG,
	    "anchor swapped: refused");
	T_OK(strstr(e.msg, "trust anchor ") != NULL &&
	    strstr(e.msg, "ta.ds: content does not match") != NULL,
	    "message: %s", e.msg);
	write_file(ta, ta_good);
	T_EQ_INT(pd_sig_verify(pub, pol, &e), PD_OK, "restored: valid");

	/* The default anchor is named by nobody: not covered, loads. */
	write_file(pol, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - {address_data: 192.0.2.53, tls_auth_name: x.test}\n"
	    "default: secure\n");
	if (access("/usr/share/dns/root.key", R_OK) == 0) {
		T_EQ_INT(pd_sig_sign(sec, pol, &e), PD_OK,
		    "default anchor: signs (%s)", e.msg);
		T_EQ_INT(pd_policy_load(pol, pub, &p, &e), PD_OK,
		    "default anchor, system CA store: loads signed (%s)",
		    e.msg);
		T_OK(p != NULL && p->anchors[0].line == 0 &&
		    !p->anchors[0].pinned, "the default anchor is unpinned");
		pd_policy_free(p);
		p = NULL;
	}
}

/*
 * Reload: a running process keeps the policy in force when a named file
 * is swapped and the policy re-read (here: the same bytes rewritten, as a
 * kubelet or a configuration manager would), and reports it once.
 */
static void
test_named_files_reload(void)
{
	struct pd_watch_opts o = { 0 };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };
	char *pol = at("files.yaml"), *ca = at("ca.pem"), text[512];
	uint64_t now = 1000000;

	write_pinned(text, sizeof(text), true);
	T_EQ_INT(pd_sig_sign(at("k1.key"), pol, &e), PD_OK, "sign");
	o.path = pol;
	o.pubkey = at("k1.pub");
	if (pd_watch_new(&o, &w, &e) != PD_OK || pd_watch_current(w) == NULL) {
		T_OK(0, "watch: %s", e.msg);
		pd_watch_free(w);
		return;
	}
	write_file(ca, ca_other);
	unlink(pol);		/* a new inode, the same bytes */
	write_file(pol, text);
	e.msg[0] = '\0';
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), -1,
	    "CA swapped, policy re-read: refused");
	T_OK(strstr(e.msg, "does not match the sha256") != NULL, "why: %s",
	    e.msg);
	T_EQ_INT(pd_watch_current(w)->generation, 1, "the old policy stays");
	T_OK(memcmp(pd_watch_current(w)->tls_ca->data, ca_good,
	    strlen(ca_good)) == 0, "with the CA bytes it was checked with");
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), 0, "reported once");
	pd_watch_free(w);
	write_file(ca, ca_good);
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
	test_named_files();
	test_named_files_reload();
	test_pubkey_path();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}

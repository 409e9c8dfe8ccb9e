/*
 * pindns policy: Ed25519 policy signatures (libsodium), detached, over
 * the exact bytes of the file. Formats: see policy/policy.h.
 *
 * The signature is checked over the very buffer the loader then parses
 * (pd_policy_load reads the file once), so nothing the YAML parser sees
 * has escaped the check. It covers that buffer only: the files a policy
 * names are covered through the sha256 the policy gives for each, which
 * the loader checks (policy/files.c), so signing refuses a policy naming
 * a file without one, and verifying loads the policy to check them.
 * Secret keys are wiped with sodium_memzero as soon as they are no
 * longer needed, on every path.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "policy/internal.h"

#define ALG		"Ed"
#define ALG_LEN		2
#define KEYID_LEN	8
#define COMMENT		"untrusted comment: "
/* Key and signature files are two short lines. */
#define SMALL_FILE_MAX	4096

enum kind {
	K_PUB,
	K_SEC,
	K_SIG
};

static const struct {
	const char	*what;
	size_t		 len;	/* payload octets */
} kinds[] = {
	[K_PUB] = { "public key", crypto_sign_PUBLICKEYBYTES },
	[K_SEC] = { "secret key", crypto_sign_SECRETKEYBYTES },
	[K_SIG] = { "signature", crypto_sign_BYTES },
};

/* A decoded file: algorithm, key id and payload. */
struct blob {
	uint8_t	raw[ALG_LEN + KEYID_LEN + crypto_sign_SECRETKEYBYTES];
	size_t	len;
};

static void
hex(const uint8_t *id, char *out)
{
	sodium_bin2hex(out, KEYID_LEN * 2 + 1, id, KEYID_LEN);
}

/*
 * sodium_init() takes libsodium's global lock on every call, and a child
 * forked while a reload thread held it would wait for it for ever (no
 * handler of libsodium's releases it). Called once, the lock is never
 * taken again after the first policy load that succeeded in it.
 */
static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_rc;

static void
sodium_start(void)
{
	sodium_rc = sodium_init();
}

static enum pd_err
sodium_ready(const char *path, struct pd_error *err)
{
	(void)pthread_once(&sodium_once, sodium_start);
	/* A failure may pass (no entropy source yet): try again then. */
	if (sodium_rc < 0 && sodium_init() < 0)
		return pd_err_at(err, PD_EINTERNAL, path, 0, 0, "libsodium "
		    "could not be initialised");
	return PD_OK;
}

/*
 * Parse the two-line format in buf into b, checking the algorithm and the
 * payload size for kind k. Errors name the file and the line.
 */
static enum pd_err
parse(const char *path, enum kind k, const uint8_t *buf, size_t len,
    struct blob *b, struct pd_error *err)
{
	const char *s = (const char *)buf, *nl, *l2, *end;
	enum pd_err r = k == K_SIG ? PD_ESIG : PD_EPARSE;
	size_t l2len, got;

	if (len < sizeof(COMMENT) - 1 ||
	    memcmp(s, COMMENT, sizeof(COMMENT) - 1) != 0)
		return pd_err_at(err, r, path, 1, 1, "not a pindns %s file "
		    "(expected '%s...')", kinds[k].what, COMMENT);
	if ((nl = memchr(s, '\n', len)) == NULL)
		return pd_err_at(err, r, path, 1, 1, "truncated %s file",
		    kinds[k].what);
	l2 = nl + 1;
	end = s + len;
	/* The second line, then nothing but an optional line end. */
	if ((nl = memchr(l2, '\n', (size_t)(end - l2))) == NULL)
		nl = end;
	l2len = (size_t)(nl - l2);
	if (l2len != 0 && l2[l2len - 1] == '\r')
		l2len--;
	if (nl < end && nl + 1 != end)
		return pd_err_at(err, r, path, 3, 1, "unexpected data after "
		    "the %s", kinds[k].what);
	if (sodium_base642bin(b->raw, sizeof(b->raw), l2, l2len, NULL, &got,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    got != ALG_LEN + KEYID_LEN + kinds[k].len)
		return pd_err_at(err, r, path, 2, 1, "not a base64 %s of "
		    "the expected size", kinds[k].what);
	if (memcmp(b->raw, ALG, ALG_LEN) != 0)
		return pd_err_at(err, r, path, 2, 1, "unknown algorithm "
		    "(expected Ed25519, \"Ed\")");
	b->len = got;
	return PD_OK;
}

static enum pd_err
read_blob(const char *path, enum kind k, struct blob *b,
    struct pd_error *err)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	enum pd_err r;

	if (k == K_SEC)
		r = pd_file_read_private(path, SMALL_FILE_MAX, &buf, &len,
		    err);
	else
		r = pd_file_read(path, SMALL_FILE_MAX, &buf, &len, err);
	if (r != PD_OK) {
		if (k == K_SIG && r == PD_EIO)
			r = PD_ESIG;	/* a missing .sig is a bad signature */
		return r;
	}
	r = parse(path, k, buf, len, b, err);
	sodium_memzero(buf, len);
	free(buf);
	return r;
}

enum pd_err
pd_sig_keyid(const char *path, char *keyid, struct pd_error *err)
{
	struct blob b;
	enum pd_err r;

	if ((r = sodium_ready(path, err)) != PD_OK ||
	    (r = read_blob(path, K_SIG, &b, err)) != PD_OK)
		return r;
	hex(b.raw + ALG_LEN, keyid);
	return PD_OK;
}

/* Write a two-line file: comment, then base64 of raw. */
static int
write_blob(int fd, const char *comment, const uint8_t *raw, size_t len)
{
	char b64[sodium_base64_ENCODED_LEN(sizeof(((struct blob *)0)->raw),
	    sodium_base64_VARIANT_ORIGINAL)];
	char line[512];
	size_t n, off;
	ssize_t w;
	int ok = 0;

	sodium_bin2base64(b64, sizeof(b64), raw, len,
	    sodium_base64_VARIANT_ORIGINAL);
	n = (size_t)snprintf(line, sizeof(line), "%s%s\n", COMMENT, comment);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	for (off = 0; off < n; off += (size_t)w)
		if ((w = write(fd, line + off, n - off)) <= 0)
			goto out;
	n = strlen(b64);
	b64[n++] = '\n';
	for (off = 0; off < n; off += (size_t)w)
		if ((w = write(fd, b64 + off, n - off)) <= 0)
			goto out;
	ok = 1;
out:
	sodium_memzero(b64, sizeof(b64));
	sodium_memzero(line, sizeof(line));
	return ok ? 0 : -1;
}

static char *
concat(const char *a, const char *b)
{
	char *s;

	if ((s = malloc(strlen(a) + strlen(b) + 1)) == NULL)
		return NULL;
	strcpy(s, a);
	strcat(s, b);
	return s;
}

enum pd_err
pd_sig_keygen(const char *base, char *keyid, struct pd_error *err)
{
	uint8_t pk[ALG_LEN + KEYID_LEN + crypto_sign_PUBLICKEYBYTES];
	uint8_t sk[ALG_LEN + KEYID_LEN + crypto_sign_SECRETKEYBYTES];
	char *kpath = NULL, *ppath = NULL, id[KEYID_LEN * 2 + 1];
	char comment[128];
	int kfd = -1, pfd = -1, saved;
	enum pd_err r;

	if ((r = sodium_ready(base, err)) != PD_OK)
		return r;
	if ((kpath = concat(base, ".key")) == NULL ||
	    (ppath = concat(base, ".pub")) == NULL) {
		r = pd_err_at(err, PD_ENOMEM, base, 0, 0, "out of memory");
		goto out;
	}
	/* O_EXCL: never overwrite a key, which could not be undone. */
	kfd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (kfd < 0) {
		r = pd_err_at(err, PD_EIO, kpath, 0, 0, "%s", strerror(errno));
		goto out;
	}
	pfd = open(ppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (pfd < 0) {
		saved = errno;
		close(kfd);
		kfd = -1;
		unlink(kpath);
		r = pd_err_at(err, PD_EIO, ppath, 0, 0, "%s", strerror(saved));
		goto out;
	}
	memcpy(sk, ALG, ALG_LEN);
	randombytes_buf(sk + ALG_LEN, KEYID_LEN);
	memcpy(pk, sk, ALG_LEN + KEYID_LEN);
	crypto_sign_keypair(pk + ALG_LEN + KEYID_LEN, sk + ALG_LEN + KEYID_LEN);
	hex(sk + ALG_LEN, id);
	snprintf(comment, sizeof(comment), "pindns secret key %s", id);
	if (fchmod(kfd, 0600) != 0 ||
	    write_blob(kfd, comment, sk, sizeof(sk)) != 0 || fsync(kfd) != 0) {
		r = pd_err_at(err, PD_EIO, kpath, 0, 0, "%s", strerror(errno));
		goto fail;
	}
	snprintf(comment, sizeof(comment), "pindns public key %s", id);
	if (write_blob(pfd, comment, pk, sizeof(pk)) != 0 || fsync(pfd) != 0) {
		r = pd_err_at(err, PD_EIO, ppath, 0, 0, "%s", strerror(errno));
		goto fail;
	}
	if (keyid != NULL)
		memcpy(keyid, id, sizeof(id));
	r = PD_OK;
	goto out;
fail:
	unlink(kpath);
	unlink(ppath);
out:
	sodium_memzero(sk, sizeof(sk));
	if (kfd >= 0)
		close(kfd);
	if (pfd >= 0)
		close(pfd);
	free(kpath);
	free(ppath);
	return r;
}

enum pd_err
pd_sig_sign(const char *seckey, const char *policy, struct pd_error *err)
{
	struct blob sk;
	struct pd_policy *p = NULL;
	uint8_t sig[ALG_LEN + KEYID_LEN + crypto_sign_BYTES], *buf = NULL;
	char *sigpath = NULL, *tmp = NULL, id[KEYID_LEN * 2 + 1];
	char comment[128];
	const char *slash;
	size_t len;
	int fd = -1;
	enum pd_err r;

	memset(&sk, 0, sizeof(sk));
	if ((r = sodium_ready(seckey, err)) != PD_OK)
		return r;
	if ((r = read_blob(seckey, K_SEC, &sk, err)) != PD_OK)
		goto out;
	if ((r = pd_file_read(policy, PD_POLICY_MAX_BYTES, &buf, &len, err)) !=
	    PD_OK)
		goto out;
	/* What is signed must load, and pin every file it names. */
	if ((r = pd_policy_parse(policy, buf, len, &p, err)) != PD_OK ||
	    (r = pd_pfiles_pinned(p, err)) != PD_OK)
		goto out;
	memcpy(sig, sk.raw, ALG_LEN + KEYID_LEN);
	if (crypto_sign_detached(sig + ALG_LEN + KEYID_LEN, NULL, buf, len,
	    sk.raw + ALG_LEN + KEYID_LEN) != 0) {
		r = pd_err_at(err, PD_EINTERNAL, seckey, 0, 0, "signing "
		    "failed");
		goto out;
	}
	sodium_memzero(&sk, sizeof(sk));
	if ((sigpath = concat(policy, ".sig")) == NULL ||
	    (tmp = concat(sigpath, ".XXXXXX")) == NULL) {
		r = pd_err_at(err, PD_ENOMEM, policy, 0, 0, "out of memory");
		goto out;
	}
	/* Write beside it and rename: a reader never sees half a file. */
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = pd_err_at(err, PD_EIO, tmp, 0, 0, "%s", strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	hex(sig + ALG_LEN, id);
	slash = strrchr(policy, '/');
	snprintf(comment, sizeof(comment), "pindns signature of %.60s by key "
	    "%s", slash != NULL ? slash + 1 : policy, id);
	if (fchmod(fd, 0644) != 0 || write_blob(fd, comment, sig,
	    sizeof(sig)) != 0 || fsync(fd) != 0 || rename(tmp, sigpath) != 0) {
		r = pd_err_at(err, PD_EIO, sigpath, 0, 0, "%s",
		    strerror(errno));
		unlink(tmp);
		goto out;
	}
	r = PD_OK;
out:
	sodium_memzero(&sk, sizeof(sk));
	if (fd >= 0)
		close(fd);
	pd_policy_free(p);
	free(buf);
	free(sigpath);
	free(tmp);
	return r;
}

enum pd_err
pd_sig_check(const char *pubkey, const char *sigpath, const uint8_t *buf,
    size_t len, char *keyid, struct pd_error *err)
{
	struct blob pk, sig;
	char pid[KEYID_LEN * 2 + 1], sid[KEYID_LEN * 2 + 1];
	enum pd_err r;

	if ((r = sodium_ready(pubkey, err)) != PD_OK)
		return r;
	if ((r = read_blob(pubkey, K_PUB, &pk, err)) != PD_OK)
		return r;
	if (access(sigpath, F_OK) != 0 && errno == ENOENT)
		return pd_err_at(err, PD_ESIG, sigpath, 0, 0, "missing: the "
		    "policy must be signed for public key %s (pindns sign)",
		    pubkey);
	if ((r = read_blob(sigpath, K_SIG, &sig, err)) != PD_OK)
		return r;
	if (memcmp(pk.raw + ALG_LEN, sig.raw + ALG_LEN, KEYID_LEN) != 0) {
		hex(pk.raw + ALG_LEN, pid);
		hex(sig.raw + ALG_LEN, sid);
		return pd_err_at(err, PD_ESIG, sigpath, 0, 0, "signed by key "
		    "%s, not by key %s (%s)", sid, pid, pubkey);
	}
	if (crypto_sign_verify_detached(sig.raw + ALG_LEN + KEYID_LEN, buf,
	    len, pk.raw + ALG_LEN + KEYID_LEN) != 0)
		return pd_err_at(err, PD_ESIG, sigpath, 0, 0, "signature does "
		    "not match the policy's contents: refused");
	if (keyid != NULL)
		hex(sig.raw + ALG_LEN, keyid);
	return PD_OK;
}

enum pd_err
pd_sig_verify(const char *pubkey, const char *policy, struct pd_error *err)
{
	struct pd_policy *p = NULL;
	enum pd_err r;

	/*
	 * "Valid" must mean what the preload would accept: the signature
	 * over the bytes, and every file the policy names as pinned.
	 */
	if (pubkey == NULL)
		return pd_err_at(err, PD_EINVAL, policy, 0, 0, "no public "
		    "key");
	r = pd_policy_load(policy, pubkey, &p, err);
	pd_policy_free(p);
	return r;
}

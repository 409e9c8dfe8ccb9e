/*
 * pindns policy: the files a policy names (tls_ca_file, trust anchors).
 *
 * A signature covers the policy's own bytes and nothing else. A CA file
 * or trust anchor named by path can be swapped beside a signed policy
 * (relative paths resolve into the policy's directory, and on Kubernetes
 * that is a ConfigMap volume whoever edits the ConfigMap writes) while
 * the signature still verifies: another CA then authenticates a MITM
 * upstream, another anchor makes forged answers validate. So the policy
 * carries a sha256 per named file ({path: PATH, sha256: HEX}), required
 * when a signature is. Each file is read once, whole, at load; its bytes
 * are hashed (libsodium's crypto_hash_sha256) and compared, and those
 * very bytes are what the backend is given: nothing opens the path again,
 * so there is no window between the check and the use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "policy/internal.h"

enum pd_err
pd_pfile_read(struct pd_policy_file *f, size_t max, const uint8_t *want,
    const char *policy, const char *label, const char *hint,
    struct pd_error *err)
{
	struct pd_error fe;
	enum pd_err r;

	f->data = NULL;
	f->len = 0;
	f->pinned = false;
	if ((r = pd_file_read(f->path, max, &f->data, &f->len, &fe)) !=
	    PD_OK) {
		if (r == PD_ENOMEM)
			return pd_err_at(err, r, policy, 0, 0, "out of memory");
		return pd_err_at(err, PD_EPARSE, policy, f->line, f->col,
		    "%s %s%s%s%s", label, fe.msg, hint != NULL ? " (" : "",
		    hint != NULL ? hint : "", hint != NULL ? ")" : "");
	}
	if (sodium_init() < 0) {
		r = pd_err_at(err, PD_EINTERNAL, policy, 0, 0, "libsodium "
		    "could not be initialised");
		goto fail;
	}
	crypto_hash_sha256(f->sha256, f->data, f->len);
	if (want != NULL && sodium_memcmp(want, f->sha256,
	    sizeof(f->sha256)) != 0) {
		r = pd_err_at(err, PD_ESIG, policy, f->line, f->col, "%s %s: "
		    "content does not match the sha256 the policy gives for "
		    "it (replaced or edited since the policy was written): "
		    "refused", label, f->path);
		goto fail;
	}
	f->pinned = want != NULL;
	return PD_OK;
fail:
	free(f->data);
	f->data = NULL;
	f->len = 0;
	return r;
}

enum pd_err
pd_pfiles_pinned(const struct pd_policy *p, struct pd_error *err)
{
	const struct pd_policy_file *f, *first = NULL;
	size_t i;

	if (p->tls_ca != NULL && !p->tls_ca->pinned)
		first = p->tls_ca;
	for (i = 0; i < p->nanchors; i++) {
		f = &p->anchors[i];
		if (f->line == 0 || f->pinned)
			continue;	/* the default anchor is not named */
		if (first == NULL || f->line < first->line ||
		    (f->line == first->line && f->col < first->col))
			first = f;
	}
	if (first == NULL)
		return PD_OK;
	return pd_err_at(err, PD_ESIG, p->path, first->line, first->col,
	    "%s: %.200s has no sha256: a signature covers only the "
	    "policy's own bytes, so a signed policy must pin every file it "
	    "names; write {path: %.200s, sha256: HEX} (pindns digest FILE "
	    "prints HEX)", first == p->tls_ca ? "tls_ca_file" :
	    "dnssec_trust_anchors", first->name, first->name);
}

void
pd_pfile_clear(struct pd_policy_file *f)
{
	free(f->name);
	free(f->path);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

static void
digest_file(crypto_generichash_state *st, const struct pd_policy_file *f)
{
	uint64_t len = f->data != NULL ? (uint64_t)f->len : UINT64_MAX;

	(void)crypto_generichash_update(st, (const uint8_t *)f->path,
	    strlen(f->path) + 1);
	(void)crypto_generichash_update(st, (const uint8_t *)&len,
	    sizeof(len));
	if (f->data != NULL)
		(void)crypto_generichash_update(st, f->sha256,
		    sizeof(f->sha256));
}

void
pd_policy_digest(struct pd_policy *p, const uint8_t *buf, size_t len)
{
	crypto_generichash_state st;
	size_t i;

	if (crypto_generichash_init(&st, NULL, 0, sizeof(p->digest)) != 0)
		return;
	(void)crypto_generichash_update(&st, buf, len);
	if (p->tls_ca != NULL)
		digest_file(&st, p->tls_ca);
	for (i = 0; i < p->nanchors; i++)
		digest_file(&st, &p->anchors[i]);
	if (crypto_generichash_final(&st, p->digest, sizeof(p->digest)) == 0)
		p->has_digest = true;
}

enum pd_err
pd_file_sha256(const char *path, size_t max, uint8_t out[32],
    struct pd_error *err)
{
	uint8_t *buf = NULL;
	size_t len;
	enum pd_err r;

	if ((r = pd_file_read(path, max, &buf, &len, err)) != PD_OK)
		return r;
	if (sodium_init() < 0)
		r = pd_err_at(err, PD_EINTERNAL, path, 0, 0, "libsodium "
		    "could not be initialised");
	else
		crypto_hash_sha256(out, buf, len);
	free(buf);
	return r;
}

/* tags: threads */
/*
 * Reload: readers on several threads match names and poll while the
 * policy file is replaced (rename), rewritten in place, broken, fixed and
 * re-signed. A fake clock makes the once-a-second rule testable without
 * sleeping: the poll that wins a second does the work, the rest return 0.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/unit/tap.h"

#define NREADERS	4

static char dir[64], path[128], tmp[128], pub[128], sec[128];
static _Atomic uint64_t clock_ms;
static _Atomic int stop;
static _Atomic unsigned installs;	/* polls that returned 1 */
static _Atomic unsigned refusals;	/* polls that returned -1 */
static _Atomic unsigned bad_reads;
static _Atomic unsigned retired;

static void
write_policy(const char *to, const char *rule, bool rename_it)
{
	FILE *f = fopen(rename_it ? tmp : to, "w");

	if (f == NULL)
		return;
	fprintf(f, "version: 1\nrules:\n  - name: %s\n    match: "
	    "[\"**.watch.test\"]\n    action: static\n    addresses: "
	    "[192.0.2.1]\n", rule);
	fclose(f);
	if (rename_it)
		rename(tmp, to);
}

static void *
reader(void *arg)
{
	struct pd_error e = { 0 };
	struct pd_policy *p;
	const struct pd_rule *r;
	char n[PD_NAME_MAX + 1];
	int len, rc;

	(void)arg;
	len = pd_name_normalize("db.watch.test", n);
	while (!atomic_load(&stop)) {
		rc = pd_watch_poll(arg, atomic_load(&clock_ms), &e);
		if (rc == 1)
			atomic_fetch_add(&installs, 1);
		if (rc == -1)
			atomic_fetch_add(&refusals, 1);
		if ((p = pd_watch_current(arg)) == NULL) {
			atomic_fetch_add(&bad_reads, 1);
			continue;
		}
		r = pd_policy_match(p, n, (size_t)len);
		if (r->name[0] != 'v' || r->naddrs != 1 ||
		    p->generation == 0)
			atomic_fetch_add(&bad_reads, 1);
	}
	return NULL;
}

static void
on_retire(struct pd_policy *p, void *arg)
{
	(void)p;
	(void)arg;
	atomic_fetch_add(&retired, 1);
}

/* Advance the clock a second and wait until the readers act on it. */
static void
tick_and_wait(unsigned want_installs, unsigned want_refusals)
{
	int i;

	atomic_fetch_add(&clock_ms, 1000);
	for (i = 0; i < 2000; i++) {
		if (atomic_load(&installs) >= want_installs &&
		    atomic_load(&refusals) >= want_refusals)
			return;
		usleep(1000);
	}
}

static const char *
current_rule(struct pd_watch *w)
{
	struct pd_policy *p = pd_watch_current(w);

	return p != NULL && p->nrules == 1 ? p->rules[0].name : "(none)";
}

static void
test_threads(void)
{
	struct pd_watch_opts o = { .path = path, .retire = on_retire };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };
	pthread_t t[NREADERS];
	int i;

	write_policy(path, "v1", true);
	T_EQ_INT(pd_watch_new(&o, &w, &e), PD_OK, "watch_new");
	T_EQ_STR(current_rule(w), "v1", "first load");
	T_EQ_INT(pd_watch_current(w)->generation, 1, "generation 1");
	atomic_store(&clock_ms, 5000);
	for (i = 0; i < NREADERS; i++)
		pthread_create(&t[i], NULL, reader, w);

	/* Nothing changed: a second passes, nothing happens. */
	tick_and_wait(0, 0);
	usleep(20000);
	T_EQ_INT(atomic_load(&installs), 0, "unchanged file: no reload");

	/* Replaced by rename (new inode). */
	write_policy(path, "v2", true);
	/* Same second: the change waits for the next one. */
	usleep(20000);
	T_EQ_INT(atomic_load(&installs), 0, "no check within the second");
	tick_and_wait(1, 0);
	T_EQ_INT(atomic_load(&installs), 1, "renamed file: one reload, "
	    "by one thread");
	T_EQ_STR(current_rule(w), "v2", "v2 in force");
	T_EQ_INT(pd_watch_current(w)->generation, 2, "generation 2");

	/* Rewritten in place, same size (mtime/ctime change). */
	write_policy(path, "v3", false);
	tick_and_wait(2, 0);
	T_EQ_STR(current_rule(w), "v3", "in-place rewrite reloaded");

	/* Broken: refused once, old policy stays. */
	{
		FILE *f = fopen(tmp, "w");

		fputs("version: 1\nrules: [\n", f);
		fclose(f);
		rename(tmp, path);
	}
	tick_and_wait(2, 1);
	T_EQ_INT(atomic_load(&refusals), 1, "broken file refused once");
	T_EQ_STR(current_rule(w), "v3", "v3 still in force");
	atomic_fetch_add(&clock_ms, 1000);
	usleep(50000);
	atomic_fetch_add(&clock_ms, 1000);
	usleep(50000);
	T_EQ_INT(atomic_load(&refusals), 1, "and not reported again");

	/* Fixed. */
	write_policy(path, "v4", true);
	tick_and_wait(3, 1);
	T_EQ_STR(current_rule(w), "v4", "fixed file reloaded");
	T_EQ_INT(atomic_load(&installs), 3, "three reloads in all");

	atomic_store(&stop, 1);
	for (i = 0; i < NREADERS; i++)
		pthread_join(t[i], NULL);
	T_EQ_INT(atomic_load(&bad_reads), 0, "readers always saw a whole, "
	    "current policy");
	T_EQ_INT(atomic_load(&retired), 0, "nothing freed within the grace "
	    "period");
	atomic_fetch_add(&clock_ms, PD_WATCH_GRACE_MS + 1000);
	T_EQ_INT(pd_watch_poll(w, atomic_load(&clock_ms), &e), 0,
	    "poll after the grace period");
	T_EQ_INT(atomic_load(&retired), 3, "three retired policies freed, "
	    "retire called first");
	pd_watch_free(w);
	T_EQ_INT(atomic_load(&retired), 4, "watch_free retires the current");
}

/*
 * A rewrite with the same bytes is no new policy (no new generation, no
 * retire), but the same bytes with a trust-anchor file replaced is.
 */
static void
test_same_bytes(void)
{
	struct pd_watch_opts o = { .path = path };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };
	char ta[160], text[512];
	uint64_t now = 100000;
	FILE *f;

	snprintf(ta, sizeof(ta), "%s/ta.ds", dir);
	snprintf(text, sizeof(text), "version: 1\ndnssec_trust_anchors: "
	    "[%s]\nupstream_recursive_servers:\n  - {address_data: "
	    "192.0.2.53, tls_auth_name: x.test}\ndefault: secure\n", ta);
#define WRITE(file, str) do {						\
	if ((f = fopen(tmp, "w")) == NULL) return;			\
	fputs((str), f);						\
	fclose(f);							\
	rename(tmp, (file));						\
} while (0)
	WRITE(ta, "example.\t3600\tIN\tDS\t20326 8 2 "
	    "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8d\n");
	WRITE(path, text);
	T_EQ_INT(pd_watch_new(&o, &w, &e), PD_OK, "watch_new: %s", e.msg);
	if (pd_watch_current(w) == NULL)
		return;
	T_OK(pd_watch_current(w)->has_digest, "a loaded policy has a digest");

	WRITE(path, text);	/* new inode, same bytes */
	now += 1000;
	T_EQ_INT(pd_watch_poll(w, now, &e), 0, "same bytes: no reload");
	T_EQ_INT(pd_watch_current(w)->generation, 1, "still generation 1");

	WRITE(ta, "example.\t3600\tIN\tDS\t20326 8 2 "
	    "e06d44b80b8f1d39a95c0b0d7c65d08458e880409bbc683457104237c7f8ec8e\n");
	WRITE(path, text);	/* same bytes, another anchor file */
	now += 1000;
	T_EQ_INT(pd_watch_poll(w, now, &e), 1,
	    "same bytes, trust anchor replaced: reloaded");
	T_EQ_INT(pd_watch_current(w)->generation, 2, "generation 2");
#undef WRITE
	pd_watch_free(w);
	unlink(ta);
}

static void
test_signed(void)
{
	struct pd_watch_opts o = { .path = path, .pubkey = pub };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };
	uint64_t now = 1000000;

	T_EQ_INT(pd_sig_keygen(sec, NULL, &e), PD_OK, "keygen");
	strcat(sec, ".key");
	write_policy(path, "v1", true);
	T_EQ_INT(pd_sig_sign(sec, path, &e), PD_OK, "sign v1");
	T_EQ_INT(pd_watch_new(&o, &w, &e), PD_OK, "watch_new signed");
	T_EQ_STR(current_rule(w), "v1", "signed v1 loaded");
	T_OK(pd_watch_current(w)->signed_ok, "signed_ok");

	/* The policy changes before its signature does. */
	write_policy(path, "v2", true);
	e.msg[0] = '\0';
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), -1,
	    "new policy with the old signature refused");
	T_OK(strstr(e.msg, "does not match") != NULL, "why: %s", e.msg);
	T_EQ_STR(current_rule(w), "v1", "v1 stays");
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), 0, "reported once");
	/* Then the signature lands: the .sig change alone triggers it. */
	T_EQ_INT(pd_sig_sign(sec, path, &e), PD_OK, "sign v2");
	T_EQ_INT(pd_watch_poll(w, now + 10, &e), 0, "not within the second");
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), 1, "signature change "
	    "triggers the reload");
	T_EQ_STR(current_rule(w), "v2", "v2 in force");
	pd_watch_free(w);
}

/*
 * A Kubernetes ConfigMap volume (examples/kubernetes): policy.yaml and
 * policy.yaml.sig are links through ..data to a timestamped directory,
 * and kubelet swaps ..data with a rename, so both files change at once.
 * The watch follows the links: the new signed pair is taken up, a pair
 * whose signature does not match is refused and the old policy stays.
 * Needs test_signed()'s key.
 */
static void
cm_version(const char *cm, const char *ver, const char *rule, bool sign)
{
	char d[256], f[320], sig[330], lnk[256], to[320];

	snprintf(d, sizeof(d), "%s/..%s", cm, ver);
	(void)mkdir(d, 0755);
	snprintf(f, sizeof(f), "%s/policy.yaml", d);
	write_policy(f, rule, false);
	snprintf(sig, sizeof(sig), "%s.sig", f);
	if (sign) {
		struct pd_error e = { 0 };

		T_EQ_INT(pd_sig_sign(sec, f, &e), PD_OK, "sign %s: %s", ver,
		    e.msg);
	} else {
		FILE *o = fopen(sig, "w");	/* another version's signature */
		char old[330];
		FILE *i;
		int c;

		snprintf(old, sizeof(old), "%s/..data/policy.yaml.sig", cm);
		if (o != NULL && (i = fopen(old, "r")) != NULL) {
			while ((c = getc(i)) != EOF)
				putc(c, o);
			fclose(i);
		}
		if (o != NULL)
			fclose(o);
	}
	/* ..data -> ..VER, swapped in with a rename as kubelet does */
	snprintf(lnk, sizeof(lnk), "%s/..data_tmp", cm);
	snprintf(to, sizeof(to), "..%s", ver);
	(void)unlink(lnk);
	T_EQ_INT(symlink(to, lnk), 0, "link ..data_tmp -> %s", to);
	snprintf(to, sizeof(to), "%s/..data", cm);
	T_EQ_INT(rename(lnk, to), 0, "swap ..data to %s", ver);
}

static void
test_configmap(void)
{
	char cm[160], pol[200], sig[210];
	struct pd_watch_opts o = { .path = pol, .pubkey = pub };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };
	uint64_t now = 5000000;

	snprintf(cm, sizeof(cm), "%s/cm", dir);
	(void)mkdir(cm, 0755);
	snprintf(pol, sizeof(pol), "%s/policy.yaml", cm);
	snprintf(sig, sizeof(sig), "%s/policy.yaml.sig", cm);
	cm_version(cm, "2026_11_23_01", "cm1", true);
	T_EQ_INT(symlink("..data/policy.yaml", pol), 0, "policy.yaml link");
	T_EQ_INT(symlink("..data/policy.yaml.sig", sig), 0, "sig link");
	T_EQ_INT(pd_watch_new(&o, &w, &e), PD_OK, "watch_new: %s", e.msg);
	if (pd_watch_current(w) == NULL) {
		T_OK(0, "configmap policy loaded: %s", e.msg);
		pd_watch_free(w);
		return;
	}
	T_EQ_STR(current_rule(w), "cm1", "configmap v1 in force");

	cm_version(cm, "2026_11_23_02", "cm2", true);
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), 1, "..data swapped: the "
	    "new signed pair is taken up");
	T_EQ_STR(current_rule(w), "cm2", "configmap v2 in force");

	cm_version(cm, "2026_11_23_03", "cm3", false);
	e.msg[0] = '\0';
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), -1, "a pair whose "
	    "signature does not match is refused");
	T_OK(strstr(e.msg, "does not match") != NULL, "why: %s", e.msg);
	T_EQ_STR(current_rule(w), "cm2", "v2 stays");

	cm_version(cm, "2026_11_23_04", "cm4", true);
	T_EQ_INT(pd_watch_poll(w, now += 1000, &e), 1, "the next good pair "
	    "is taken up");
	T_EQ_STR(current_rule(w), "cm4", "configmap v4 in force");
	pd_watch_free(w);
}

static void
test_first_load_fails(void)
{
	struct pd_watch_opts o = { .path = path };
	struct pd_watch *w = NULL;
	struct pd_error e = { 0 };

	unlink(path);
	e.msg[0] = '\0';
	T_EQ_INT(pd_watch_new(&o, &w, &e), PD_OK, "watch_new without a file");
	T_OK(w != NULL && pd_watch_current(w) == NULL, "no policy in force");
	T_OK(strstr(e.msg, "No such file") != NULL, "why: %s", e.msg);
	T_EQ_INT(pd_watch_poll(w, 1000, &e), 0, "still missing: quiet");
	write_policy(path, "v1", true);
	T_EQ_INT(pd_watch_poll(w, 2000, &e), 1, "appears: loaded");
	T_EQ_STR(current_rule(w), "v1", "v1 in force");
	pd_watch_free(w);
	pd_watch_free(NULL);
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/pindns-watch-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	snprintf(tmp, sizeof(tmp), "%s/policy.tmp", dir);
	snprintf(pub, sizeof(pub), "%s/k.pub", dir);
	snprintf(sec, sizeof(sec), "%s/k", dir);
	test_threads();
	test_same_bytes();
	test_signed();
	test_configmap();
	test_first_load_fails();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
	return t_done();
}

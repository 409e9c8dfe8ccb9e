/*
 * tags: lab threads
 * timeout: 180
 * fork() at the moments another thread of the parent is inside the engine
 * holding or waiting on something the child will need (issue 12, item 1):
 *  - a follower waits on a flight to the lab's hung upstream: the child
 *    then runs rounds of two threads on one name against it;
 *  - a log reopen is inside stat() of the log path: the child must
 *    reopen its rotated audit log;
 *  - a policy reload is inside stat() of the policy file: the child must
 *    load the changed policy itself.
 * Each child must finish within timeout_ms-based bounds; one that hangs
 * is killed and reported. No sleep stands for a race: the test waits for
 * the thread to be in the wait (/proc/self/task/TID/syscall) or in stat()
 * (the hook below).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/engine.h"
#include "tests/unit/lab.h"
#include "tests/unit/tap.h"

/* The child starts threads after a multi-threaded fork: TSan must allow. */
const char *__tsan_default_options(void);
const char *
__tsan_default_options(void)
{
	return "die_after_fork=0";
}

#define TIMEOUT_MS	1000
/* A follower waits for its leader at most this long (engine_secure.c). */
#define FOLLOW_MS	(TIMEOUT_MS * 2 + 1000)
#define ROUNDS		3

static char dir[] = "/tmp/pindns-engfork.XXXXXX";
static char policy[PD_LAB_PATH], auditlog[PD_LAB_PATH];

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* ------------------------------------------------------------ the hook */

/*
 * stat() of gate_path, once armed, holds the first thread that makes it
 * until the test opens the gate. The engine's objects are linked into
 * this program, so this definition is the stat() they call. In a child
 * the gate is already taken: its own calls pass.
 */
enum { GATE_OFF, GATE_ARMED, GATE_HELD, GATE_OPEN };
static _Atomic(const char *) gate_path;
static _Atomic int gate;

int
stat(const char *restrict path, struct stat *restrict st)
{
	const char *g = atomic_load(&gate_path);
	int armed = GATE_ARMED;
	uint64_t t0;

	if (g != NULL && strcmp(path, g) == 0 &&
	    atomic_compare_exchange_strong(&gate, &armed, GATE_HELD)) {
		t0 = pd_clock_ms();
		while (atomic_load(&gate) == GATE_HELD &&
		    pd_clock_ms() - t0 < 60000)
			sleep_ms(1);
	}
	return fstatat(AT_FDCWD, path, st, 0);
}

static void
gate_arm(const char *path)
{
	atomic_store(&gate, GATE_OFF);
	atomic_store(&gate_path, path);
	atomic_store(&gate, GATE_ARMED);
}

static bool
gate_held(void)
{
	return atomic_load(&gate) == GATE_HELD;
}

/* ------------------------------------------------------------ helpers */

/*
 * The policy: a secure rule on the lab's hung upstream, static.test
 * answered with addr, blocked.test denied, every lookup logged. A cache
 * of 1000 entries has 32 lock stripes: fork() takes them all, and TSan
 * tracks at most 64 locks held by one thread.
 */
static void
write_policy(const char *addr)
{
	pd_test_write(policy, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - address_data: %s\n"
	    "    tls_port: %s\n"
	    "    tls_auth_name: %s\n"
	    "tls_ca_file: %s\n"
	    "dnssec_trust_anchors: [%s]\n"
	    "timeout_ms: %u\n"
	    "cache:\n  max_entries: 1000\n"
	    "log:\n  target: file:%s\n  level: all\n"
	    "default: system\n"
	    "rules:\n"
	    "  - name: dynamodb\n"
	    "    match: [dynamodb.*.amazonaws.com]\n"
	    "    action: secure\n"
	    "  - name: local\n"
	    "    match: [static.test]\n"
	    "    action: static\n"
	    "    addresses: [%s]\n"
	    "  - name: blocked\n"
	    "    match: [blocked.test]\n"
	    "    action: deny\n",
	    pd_lab("LAB_UP_ADDR"), pd_lab("LAB_HUNG_PORT"),
	    pd_lab("LAB_AUTH_NAME"), pd_lab("LAB_CA"), pd_lab("LAB_TA_DS"),
	    TIMEOUT_MS, auditlog, addr);
}

static void
engine_start(void)
{
	struct pd_engine_cfg cfg;

	pd_engine_shutdown();
	gate_arm(NULL);
	write_policy("127.0.0.1");
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = policy;
	if (pd_engine_init(&cfg) != 0) {
		printf("not ok - engine init\n");
		exit(1);
	}
}

/* Poll cond every millisecond for up to ms. */
static bool
wait_until(bool (*cond)(void *), void *arg, unsigned ms)
{
	uint64_t end = pd_clock_ms() + ms;

	while (!cond(arg)) {
		if (pd_clock_ms() >= end)
			return false;
		sleep_ms(1);
	}
	return true;
}

static bool
gate_held_cond(void *arg)
{
	(void)arg;
	return gate_held();
}

/*
 * Wait for pid up to ms, then kill it. Its exit status, or -1 when it
 * had to be killed (it hung).
 */
static int
reap(pid_t pid, unsigned ms)
{
	uint64_t end = pd_clock_ms() + ms;
	int st;

	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) :
			    128 + WTERMSIG(st);
		if (pd_clock_ms() >= end) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			return -1;
		}
		sleep_ms(10);
	}
}

/* A thread that looks one name up. */
struct looker {
	const char		*name;
	_Atomic pid_t		 tid;
	_Atomic bool		 done;
	struct pd_result	 res;
};

static void *
look(void *arg)
{
	struct looker *lk = arg;

	atomic_store(&lk->tid, (pid_t)syscall(SYS_gettid));
	pd_engine_lookup(lk->name, PD_WANT_A | PD_WANT_AAAA, &lk->res, NULL);
	atomic_store(&lk->done, true);
	return NULL;
}

/*
 * Is the looker's thread blocked in a timed futex wait (a timed condition
 * variable wait)? Its lookup of a name nobody resolves has one such wait
 * before the network: a leader's for its queries, a follower's for its
 * leader's flight.
 */
static bool
in_timed_wait(void *arg)
{
	struct looker *lk = arg;
	char path[64], buf[256];
	unsigned long a0, a1, a2, a3;
	long nr;
	FILE *f;
	int n;

	if (atomic_load(&lk->tid) == 0 || atomic_load(&lk->done))
		return false;
	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall",
	    (int)atomic_load(&lk->tid));
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fgets(buf, sizeof(buf), f) != NULL ? sscanf(buf,
	    "%ld %lx %lx %lx %lx", &nr, &a0, &a1, &a2, &a3) : 0;
	fclose(f);
	return n == 5 && nr == SYS_futex && (a1 & FUTEX_CMD_MASK) ==
	    FUTEX_WAIT_BITSET && a3 != 0;
}

/* ------------------------------------------------------------ tests */

/*
 * The child of a parent with a follower waiting: ROUNDS rounds of two
 * threads on one name against the hung upstream. Exit 0 when every
 * lookup ended (failed: timeout) in time.
 */
static int
child_rounds(const char *name)
{
	struct looker lk[2];
	struct timespec dl;
	pthread_t t[2];
	int r, i;

	for (r = 0; r < ROUNDS; r++) {
		memset(lk, 0, sizeof(lk));
		(void)clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += FOLLOW_MS / 1000 + 3;
		for (i = 0; i < 2; i++) {
			lk[i].name = name;
			if (pthread_create(&t[i], NULL, look, &lk[i]) != 0)
				return 2;
		}
		for (i = 0; i < 2; i++)
			if (pthread_timedjoin_np(t[i], NULL, &dl) != 0) {
				printf("# child: round %d: a lookup hung\n",
				    r + 1);
				fflush(stdout);
				return 1;
			}
		for (i = 0; i < 2; i++)
			if (lk[i].res.verdict != PD_VERDICT_FAILED) {
				printf("# child: round %d: %s/%s\n", r + 1,
				    pd_verdict_str(lk[i].res.verdict),
				    pd_reason_str(lk[i].res.reason));
				fflush(stdout);
				return 3;
			}
	}
	return 0;
}

static void
test_follower(void)
{
	const char *name = "dynamodb.us-east-1.amazonaws.com";
	struct looker lead, fol;
	pthread_t tl, tf;
	bool was_flying;
	pid_t pid;
	int st;

	engine_start();
	memset(&lead, 0, sizeof(lead));
	memset(&fol, 0, sizeof(fol));
	lead.name = fol.name = name;
	if (pthread_create(&tl, NULL, look, &lead) != 0)
		exit(1);
	T_OK(wait_until(in_timed_wait, &lead, 10000),
	    "the leader waits on the hung upstream");
	if (pthread_create(&tf, NULL, look, &fol) != 0)
		exit(1);
	T_OK(wait_until(in_timed_wait, &fol, 10000),
	    "a follower waits for the leader's flight");
	fflush(stdout);
	if ((pid = fork()) == 0)
		_exit(child_rounds(name));
	was_flying = !atomic_load(&lead.done);
	T_OK(pid > 0, "forked");
	T_OK(was_flying, "the flight was still up at fork()");
	pthread_join(tl, NULL);
	pthread_join(tf, NULL);
	T_EQ_STR(pd_reason_str(fol.res.reason), "timeout",
	    "parent: the follower got the leader's timeout");
	st = reap(pid, ROUNDS * (FOLLOW_MS + 3000) + 5000);
	T_EQ_INT(st, 0, "child: %d rounds of two threads on one name "
	    "ended within timeout_ms bounds (-1: hung, killed)", ROUNDS);
}

/* A thread looking a name up until told to stop. */
static _Atomic bool stop;

static void *
keep_looking(void *arg)
{
	struct pd_result r;

	while (!atomic_load(&stop)) {
		pd_engine_lookup(arg, PD_WANT_A, &r, NULL);
		sleep_ms(5);
	}
	return NULL;
}

/*
 * Fork while a thread that keeps looking static.test up is held in its
 * first stat() of path (the engine's check once a second gets there).
 * The child then looks up until done() says it did what the test wants,
 * for at most 5 s (its own check is due within a second). Returns the
 * child's status: 0 done, 1 never, -1 hung (killed after 15 s).
 */
static int
fork_in_stat(const char *path, const char *what, bool (*done)(void))
{
	pthread_t t;
	uint64_t end;
	pid_t pid;

	gate_arm(path);
	atomic_store(&stop, false);
	if (pthread_create(&t, NULL, keep_looking, "static.test") != 0)
		exit(1);
	T_OK(wait_until(gate_held_cond, NULL, 5000), "%s is inside stat() "
	    "of %s", what, path);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		end = pd_clock_ms() + 5000;
		while (pd_clock_ms() < end) {
			if (done())
				_exit(0);
			sleep_ms(20);
		}
		_exit(1);
	}
	atomic_store(&gate, GATE_OPEN);
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	return reap(pid, 15000);
}

/* A refused lookup (logged), then: is a line of ours in the new log? */
static bool
logged_anew(void)
{
	char line[4096], want[40];
	struct pd_result r;
	FILE *f;
	bool found = false;

	pd_engine_lookup("blocked.test", PD_WANT_A, &r, NULL);
	snprintf(want, sizeof(want), "\"pid\":%d,", (int)getpid());
	if ((f = fopen(auditlog, "r")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, want) != NULL;
	fclose(f);
	return found;
}

static void
test_log_reopen(void)
{
	char rotated[320];
	struct pd_result r;

	engine_start();
	pd_engine_lookup("static.test", PD_WANT_A, &r, NULL);
	T_OK(r.verdict == PD_VERDICT_ACCEPTED, "static.test accepted");
	/* logrotate: the next reopen must start a new file. */
	snprintf(rotated, sizeof(rotated), "%s.1", auditlog);
	T_OK(rename(auditlog, rotated) == 0, "audit log rotated");
	T_EQ_INT(fork_in_stat(auditlog, "a log reopen", logged_anew), 0,
	    "child: reopened the rotated log and wrote to the new file "
	    "within 5 s (-1: hung, killed)");
}

static bool
sees(const char *want)
{
	char a[INET6_ADDRSTRLEN];
	struct pd_result r;

	pd_engine_lookup("static.test", PD_WANT_A, &r, NULL);
	return r.verdict == PD_VERDICT_ACCEPTED && r.naddrs == 1 &&
	    inet_ntop(AF_INET, r.addrs[0].addr, a, sizeof(a)) != NULL &&
	    strcmp(a, want) == 0;
}

static bool
sees_new(void)
{
	return sees("127.0.0.2");
}

static void
test_policy_reload(void)
{
	uint64_t end;

	engine_start();
	T_OK(sees("127.0.0.1"), "policy 1: static.test is 127.0.0.1");
	write_policy("127.0.0.2");
	T_EQ_INT(fork_in_stat(policy, "a policy reload", sees_new), 0,
	    "child: loaded the changed policy within 5 s (1: never did; "
	    "-1: hung, killed)");
	end = pd_clock_ms() + 5000;
	while (!sees_new() && pd_clock_ms() < end)
		sleep_ms(20);
	T_OK(sees_new(), "parent: loaded it too");
}

int
main(void)
{
	if (!pd_lab_begin(dir, policy, auditlog)) {
		T_OK(0, "PINDNS_LAB_ENV readable (run through tests/run), "
		    "temporary directory made");
		return t_done();
	}
	test_follower();
	test_log_reopen();
	test_policy_reload();
	pd_engine_shutdown();
	pd_lab_end(dir);
	return t_done();
}

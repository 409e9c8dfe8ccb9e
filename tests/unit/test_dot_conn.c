/*
 * The getdns DoT backend against the lab, connections: TLS
 * authentication, timeouts and failover, 64 threads at once, the
 * sockets it keeps, fork, an idle connection the server closed.
 * DNSSEC and answers: test_dot_lab.
 */
/* tags: lab threads */
/* timeout: 240 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <getdns/getdns_extra.h>

#include "resolver/dot/chain.h"
#include "resolver/dot/reply.h"
#include "resolver/dot/worker.h"
#include "tests/unit/dot_lab.h"
#include "tests/unit/tap.h"

#if defined(__SANITIZE_THREAD__)
#define TSAN	1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TSAN	1
#endif
#endif
#ifndef TSAN
#define TSAN	0
#endif

static void
t_tls(void)
{
	struct pol *x;
	struct pd_dot *d;
	struct pd_dot_result res;
	int i;
	static const struct {
		const char	*port, *pin, *ca, *what;
		int		 want;
	} c[] = {
		{ "LAB_MITM_PORT", NULL, "LAB_CA", "mitm certificate", 3 },
		{ "LAB_WRONGNAME_PORT", NULL, "LAB_CA", "wrong name", 3 },
		{ "LAB_WRONGNAME_PORT", "LAB_WRONGNAME_PIN", "LAB_CA",
		    "wrong name with its own pin (name still checked)", 3 },
		{ "LAB_GOOD_PORT", "LAB_MITM_PIN", "LAB_CA",
		    "valid certificate, wrong SPKI pin", 3 },
		{ "LAB_GOOD_PORT", "LAB_GOOD_PIN", "LAB_CA",
		    "valid certificate, right pin", 0 },
		{ "LAB_GOOD_PORT", "LAB_GOOD_PIN", "LAB_MITM_CA",
		    "right pin, untrusted CA (the pin replaces the CA)", 0 },
	};

	for (i = 0; i < (int)(sizeof(c) / sizeof(c[0])); i++) {
		x = pol_new(pd_lab_opt(c[i].ca), pd_lab_opt("LAB_TA_DS"), 2000);
		add_up(x, pd_lab_port(c[i].port),
		    c[i].pin ? pd_lab_opt(c[i].pin) : NULL);
		if ((d = dot_new(x, NULL)) == NULL) {
			T_OK(0, "%s: backend", c[i].what);
			continue;
		}
		resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE,
		    &res);
		T_EQ_INT(res.status, c[i].want, "%s: status %s", c[i].what,
		    c[i].want ? "TLS_AUTH" : "OK");
		if (c[i].want == PD_DOT_TLS_AUTH) {
			T_OK(strstr(res.detail, "TLS") != NULL,
			    "%s: detail says why (%s)", c[i].what,
			    res.detail);
			/* Later lookups: getdns answers 398 at once; still
			 * TLS_AUTH, not UNREACHABLE. */
			resolve(d, Z("dynamodb.us-east-1"), A,
			    PD_DNSSEC_VALIDATE, &res);
			T_EQ_INT(res.status, PD_DOT_TLS_AUTH, "%s, again: "
			    "TLS_AUTH", c[i].what);
		} else
			T_EQ_STR(addrs(&res.a), "127.0.10.1", "%s: answer",
			    c[i].what);
		pd_dot_free(d);
		pol_free(x);
	}
}

static void
t_timeout_failover(void)
{
	struct pol *x;
	struct pd_dot *d;
	struct pd_dot_result res;
	struct pd_dot_stats st;
	double t0, dt;
	int closed;

	/* Hung: TIMEOUT within timeout_ms + 10%. */
	x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"), 2000);
	add_up(x, pd_lab_port("LAB_HUNG_PORT"), NULL);
	if ((d = dot_new(x, NULL)) != NULL) {
		t0 = now_ms();
		resolve(d, Z("dynamodb.us-east-1"), BOTH, PD_DNSSEC_VALIDATE,
		    &res);
		dt = now_ms() - t0;
		T_EQ_INT(res.status, PD_DOT_TIMEOUT, "hung: TIMEOUT");
		T_OK(dt >= 1950 && dt <= 2200, "hung: gave up after the 2000 "
		    "ms budget, within +10%% (took %.0f ms)", dt);
		pd_dot_free(d);
	} else
		T_OK(0, "hung: backend");
	pol_free(x);

	/* A closed port: UNREACHABLE, at once. */
	closed = pd_lab_port("LAB_HUNG_PORT") + 1;
	{
		int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		struct sockaddr_in sa = { .sin_family = AF_INET };

		/* A port nobody listens on: bind one, never listen. */
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		inet_pton(AF_INET, pd_lab_opt("LAB_UP_ADDR"), &sa.sin_addr);
		sa.sin_port = 0;
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			socklen_t l = sizeof(sa);

			getsockname(s, (struct sockaddr *)&sa, &l);
			closed = ntohs(sa.sin_port);
		}
		x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"),
		    1000);
		add_up(x, closed, NULL);
		if ((d = dot_new(x, NULL)) != NULL) {
			t0 = now_ms();
			resolve(d, Z("dynamodb.us-east-1"), A,
			    PD_DNSSEC_VALIDATE, &res);
			dt = now_ms() - t0;
			T_EQ_INT(res.status, PD_DOT_UNREACHABLE, "closed port: "
			    "UNREACHABLE");
			T_OK(dt < 500, "closed port: fails fast (%.0f ms)", dt);
			pd_dot_free(d);
		}
		pol_free(x);

		/* Failover: closed, then good. */
		x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"),
		    2000);
		add_up(x, closed, NULL);
		add_up(x, pd_lab_port("LAB_GOOD_PORT"), NULL);
		if ((d = dot_new(x, NULL)) != NULL) {
			resolve(d, Z("dynamodb.us-east-1"), BOTH,
			    PD_DNSSEC_VALIDATE, &res);
			T_EQ_INT(res.status, PD_DOT_OK, "failover from a "
			    "closed port: OK");
			T_EQ_STR(addrs(&res.a), "127.0.10.1", "failover from a "
			    "closed port: answer");
			pd_dot_free(d);
		}
		pol_free(x);
		close(s);
	}

	/* Failover: hung, then good, within one budget. */
	x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"), 2000);
	add_up(x, pd_lab_port("LAB_HUNG_PORT"), NULL);
	add_up(x, pd_lab_port("LAB_GOOD_PORT"), NULL);
	if ((d = dot_new(x, NULL)) != NULL) {
		pd_dot_stats(d, &st);
		T_EQ_INT(st.contexts, 1, "two upstreams: one context made "
		    "before the first lookup");
		t0 = now_ms();
		resolve(d, Z("dynamodb.us-east-1"), BOTH, PD_DNSSEC_VALIDATE,
		    &res);
		dt = now_ms() - t0;
		pd_dot_stats(d, &st);
		T_EQ_INT(res.status, PD_DOT_OK, "failover from a hung "
		    "upstream: OK");
		T_EQ_INT(st.contexts, 2, "failover: the second upstream's "
		    "context made when first needed");
		T_EQ_STR(addrs(&res.a), "127.0.10.1", "failover from a hung "
		    "upstream: answer");
		T_OK(dt <= 2200, "failover from a hung upstream: within the "
		    "budget (%.0f ms)", dt);
		t0 = now_ms();
		resolve(d, Z("dynamodb.eu-west-1"), BOTH, PD_DNSSEC_VALIDATE,
		    &res);
		dt = now_ms() - t0;
		T_OK(res.status == PD_DOT_OK && dt < 500, "after failover the "
		    "healthy upstream is tried first (%.0f ms)", dt);
		pd_dot_free(d);
	} else
		T_OK(0, "failover: backend");
	pol_free(x);

	/* Failover: mitm (TLS failure), then good. */
	x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"), 2000);
	add_up(x, pd_lab_port("LAB_MITM_PORT"), NULL);
	add_up(x, pd_lab_port("LAB_GOOD_PORT"), NULL);
	if ((d = dot_new(x, NULL)) != NULL) {
		resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE,
		    &res);
		T_EQ_INT(res.status, PD_DOT_OK, "failover from a mitm: OK");
		T_EQ_STR(addrs(&res.a), "127.0.10.1", "failover from a mitm: "
		    "the good answer");
		pd_dot_free(d);
	}
	pol_free(x);
}

/* ------------------------------------------------------------ threads */

struct thr {
	struct pd_dot	*d;
	int		 ok;
	int		 n;
};

static const char *names[] = {
	Z("dynamodb.us-east-1"), Z("dynamodb-fips.us-east-1"),
	Z("dynamodb.eu-west-1"), Z("dynamodb.eu-north-1"),
	Z("dynamodb.eu-central-1"), Z("dynamodb.us-west-1"),
};
static const char *firsts[] = {
	"127.0.10.1", "127.0.10.2", "127.0.10.5", "", "127.0.10.7", NULL
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	struct pd_dot_result res;
	unsigned i, k;

	for (i = 0; i < 20; i++) {
		k = (i + (unsigned)(uintptr_t)t) % 6;
		t->n++;
		if (pd_dot_resolve(t->d, names[k], BOTH, PD_DNSSEC_VALIDATE,
		    &res) != PD_OK || res.status != PD_DOT_OK ||
		    res.a.sec != PD_SEC_SECURE ||
		    res.aaaa.sec != PD_SEC_SECURE) {
			printf("# %s: status %d, sec %d/%d, %s\n", names[k],
			    res.status, res.a.sec, res.aaaa.sec, res.detail);
			continue;
		}
		if (firsts[k] != NULL && strcmp(firsts[k], res.a.naddrs ?
		    addrs(&res.a) : "") != 0 && k != 5)
			continue;
		t->ok++;
	}
	return NULL;
}

static pthread_t host_threads[16];
static int host_calls;
static pthread_mutex_t host_mu = PTHREAD_MUTEX_INITIALIZER;

static void
host_engine_thread(void)
{
	sigset_t cur;

	pthread_mutex_lock(&host_mu);
	if (host_calls < 16)
		host_threads[host_calls] = pthread_self();
	host_calls++;
	pthread_mutex_unlock(&host_mu);
	/* Every asynchronous signal is already blocked here. */
	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	if (!sigismember(&cur, SIGPIPE) || !sigismember(&cur, SIGTERM)) {
		pthread_mutex_lock(&host_mu);
		host_calls = -1000;
		pthread_mutex_unlock(&host_mu);
	}
}

static void
async_cb(void *arg, const struct pd_dot_result *res)
{
	_Atomic int *done = arg;

	atomic_store(done, res->status == PD_DOT_OK && res->a.naddrs == 1 ?
	    1 : 2);
}

static void
t_threads(void)
{
	static const struct pd_host host = {
	    .engine_thread = host_engine_thread };
	struct pol *x = pol_good();
	struct pd_dot *d;

	/* 64 threads validating on 2 shared cores (under a sanitizer too)
	 * can starve the backend thread: this checks answers, not speed. */
	x->p.timeout_ms = 15000;
	d = dot_new(x, &host);
	struct thr t[64];
	pthread_t th[64];
	struct pd_dot_stats s;
	int i, ok = 0, n = 0, calls;
	_Atomic int done = 0;
	double t0;

	if (d == NULL) {
		T_OK(0, "threads: backend");
		return;
	}
	for (i = 0; i < 64; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].d = d;
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (i = 0; i < 64; i++) {
		pthread_join(th[i], NULL);
		ok += t[i].ok;
		n += t[i].n;
	}
	T_EQ_INT(ok, n, "64 threads x 20 lookups: every one SECURE with the "
	    "right answer");
	pd_dot_stats(d, &s);
	T_EQ_INT(s.sockets, 1, "64 threads: one TLS connection");
	T_EQ_INT(s.nodelay_fail, 0, "TCP_NODELAY set on every socket");

	T_EQ_INT(pd_dot_resolve_async(d, Z("dynamodb.us-east-1"), A,
	    PD_DNSSEC_VALIDATE, async_cb, (void *)&done), PD_OK,
	    "async: queued");
	for (t0 = now_ms(); atomic_load(&done) == 0 && now_ms() - t0 < 3000;)
		usleep(1000);
	T_EQ_INT(atomic_load(&done), 1, "async: callback ran once with the "
	    "answer");
	pthread_mutex_lock(&host_mu);
	calls = host_calls;
	for (i = 0; i < calls && i < 16; i++)
		if (pthread_equal(host_threads[i], pthread_self()))
			break;
	pthread_mutex_unlock(&host_mu);
	T_OK(calls >= 2, "engine_thread called in the backend and async "
	    "threads (%d calls)", calls);
	T_OK(calls > 0 && i == (calls < 16 ? calls : 16), "engine_thread "
	    "never called on the caller's thread");
	pd_dot_free(d);
	pol_free(x);
}

/* ------------------------------------------------------------ sockets */

/* Descriptors of this process connected to port. */
static int
sockets_to(int port, int *fds, int max)
{
	int fd, n = 0;
	struct sockaddr_in sa;
	socklen_t l;

	for (fd = 3; fd < 1024 && n < max; fd++) {
		l = sizeof(sa);
		if (getpeername(fd, (struct sockaddr *)&sa, &l) == 0 &&
		    sa.sin_family == AF_INET && ntohs(sa.sin_port) == port)
			fds[n++] = fd;
	}
	return n;
}

static void
t_sockets(void)
{
	struct pol *x = pol_good();
	struct pd_dot *d = dot_new(x, NULL);
	struct pd_dot_result res;
	int fds[8], n, one = 0, fl;
	socklen_t l = sizeof(one);
	char cmd[64];
	FILE *p;
	char line[512];
	int socks = 0, total = 0;

	if (d == NULL) {
		T_OK(0, "sockets: backend");
		return;
	}
	resolve(d, Z("dynamodb.us-east-1"), BOTH, PD_DNSSEC_VALIDATE, &res);
	n = sockets_to(pd_lab_port("LAB_GOOD_PORT"), fds, 8);
	T_EQ_INT(n, 1, "one connection to the upstream");
	if (n >= 1) {
		getsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, &l);
		T_EQ_INT(one, 1, "the engine's socket has TCP_NODELAY");
		fl = fcntl(fds[0], F_GETFD);
		T_OK(fl != -1 && (fl & FD_CLOEXEC), "the engine's socket is "
		    "close-on-exec");
	}
	/* An exec'd program sees none of it. */
	snprintf(cmd, sizeof(cmd), "ls -l /proc/self/fd");
	if ((p = popen(cmd, "r")) != NULL) {
		while (fgets(line, sizeof(line), p) != NULL) {
			total++;
			if (strstr(line, "socket:") != NULL)
				socks++;
		}
		pclose(p);
	}
	T_OK(total > 2, "exec: listed the child's descriptors (%d lines)",
	    total);
	T_EQ_INT(socks, 0, "exec: no engine socket survives exec");
	pd_dot_free(d);
	pol_free(x);
}

/* ------------------------------------------------------------ fork */

static void
fork_async_cb(void *arg, const struct pd_dot_result *res)
{
	(void)arg;
	(void)res;
}

static void
t_fork(void)
{
	struct pol *x = pol_good();
	struct pd_dot *d = dot_new(x, NULL), *d2;
	struct pd_dot_result res;
	pid_t pid;
	int st = -1, fds[8], i;

	if (d == NULL) {
		T_OK(0, "fork: backend");
		return;
	}
	/* A+AAAA and an async lookup first, so that every kind of backend
	 * thread (backend, validator, async helper) exists at the fork. */
	resolve(d, Z("dynamodb.eu-west-1"), BOTH, PD_DNSSEC_VALIDATE, &res);
	T_OK(pd_dot_resolve_async(d, Z("dynamodb.eu-west-1"), A,
	    PD_DNSSEC_VALIDATE, fork_async_cb, NULL) == PD_OK, "fork: async "
	    "lookup queued");
	resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE, &res);
	T_EQ_STR(addrs(&res.a), "127.0.10.1", "fork: parent resolves before");
	T_EQ_INT(sockets_to(pd_lab_port("LAB_GOOD_PORT"), fds, 8), 1,
	    "fork: the parent holds a connection");
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* Child: the inherited backend refuses, frees quietly, and a
		 * fresh one works. Exit codes say which step failed. */
		struct pd_dot_result r2;
		char err[128];

		if (pd_dot_resolve(d, Z("dynamodb.us-east-1"), A,
		    PD_DNSSEC_VALIDATE, &r2) != PD_EINVAL)
			_exit(10);
		pd_dot_free(d);
		/* ThreadSanitizer cannot start threads after a fork of a
		 * threaded process (it dies): the fresh backend is checked
		 * in the other builds. */
		if (TSAN)
			_exit(0);
		if (pd_dot_new(&x->p, NULL, &d2, err, sizeof(err)) != PD_OK)
			_exit(11);
		if (pd_dot_resolve(d2, Z("dynamodb.us-east-1"), A,
		    PD_DNSSEC_VALIDATE, &r2) != PD_OK || r2.a.naddrs != 1)
			_exit(12);
		pd_dot_free(d2);
		_exit(0);
	}
	/* A child stuck on a lock inherited from a vanished thread would
	 * hang here: give it 20 s. */
	for (i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(100000);
	if (i == 200) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	T_OK(i < 200, "fork: the child finished (no deadlock)");
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fork: the child's "
	    "inherited backend refuses, frees, and a fresh one resolves "
	    "(status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
	/* SIGPIPE keeps its default action here: a close_notify written by
	 * the child would kill this process on the next lookup. */
	resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE, &res);
	T_EQ_INT(res.status, PD_DOT_OK, "fork: the parent's next lookup works");
	T_EQ_STR(addrs(&res.a), "127.0.10.1", "fork: the parent's answer");
	T_EQ_INT(sockets_to(pd_lab_port("LAB_GOOD_PORT"), fds, 8), 1,
	    "fork: the parent kept its one connection");
	pd_dot_free(d);
	pol_free(x);
}

/* ------------------------------------------------------------ SIGPIPE */

static void
t_idle_restart(void)
{
	struct pol *x;
	struct pd_dot *d;
	struct pd_dot_result res;
	struct pd_dot_stats s;
	char cmd[2048];
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	int i, ok = 1;

	/* The idleclose upstream drops idle connections after 1 s. */
	x = pol_new(pd_lab_opt("LAB_CA"), pd_lab_opt("LAB_TA_DS"), 2000);
	add_up(x, pd_lab_port("LAB_IDLECLOSE_PORT"), NULL);
	if ((d = dot_new(x, NULL)) == NULL) {
		T_OK(0, "idle close: backend");
		return;
	}
	for (i = 0; i < 3; i++) {
		resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE,
		    &res);
		if (res.status != PD_DOT_OK || res.a.naddrs != 1)
			ok = 0;
		usleep(1500000);
	}
	T_OK(ok, "idle close: every lookup after the upstream closed the "
	    "idle connection succeeded, and the process lives");
	pd_dot_stats(d, &s);
	T_OK(s.sockets >= 2, "idle close: the upstream did close the idle "
	    "connection (%llu connections)", (unsigned long long)s.sockets);
	printf("# idle close: %llu SIGPIPEs drained, %llu retries\n",
	    (unsigned long long)s.sigpipes, (unsigned long long)s.retries);
	pd_dot_free(d);
	pol_free(x);

	/* The good upstream restarts between two lookups. */
	x = pol_good();
	if ((d = dot_new(x, NULL)) == NULL) {
		T_OK(0, "restart: backend");
		return;
	}
	resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE, &res);
	T_EQ_INT(res.status, PD_DOT_OK, "restart: before");
	snprintf(cmd, sizeof(cmd), "'%s/tests/lab/lab' stop '%s' good "
	    ">/dev/null 2>&1", top, pd_lab_opt("LAB_STATE"));
	T_EQ_INT(system(cmd), 0, "restart: lab stop good");
	resolve(d, Z("dynamodb.us-east-1"), A, PD_DNSSEC_VALIDATE, &res);
	T_EQ_INT(res.status, PD_DOT_UNREACHABLE, "restart: UNREACHABLE while "
	    "down");
	snprintf(cmd, sizeof(cmd), "'%s/tests/lab/lab' start '%s' good "
	    ">/dev/null 2>&1", top, pd_lab_opt("LAB_STATE"));
	T_EQ_INT(system(cmd), 0, "restart: lab start good");
	/*
	 * The upstream is down (health.h): lookups fail at once, without
	 * waiting, until the background probe finds it back, within about
	 * a second of demand; the next lookup then succeeds.
	 */
	{
		double t0 = now_ms(), t1, worst = 0;
		unsigned fast = 0;

		for (;;) {
			t1 = now_ms();
			resolve(d, Z("dynamodb.us-east-1"), A,
			    PD_DNSSEC_VALIDATE, &res);
			if (res.status == PD_DOT_OK ||
			    now_ms() - t0 > 10000)
				break;
			if (now_ms() - t1 > worst)
				worst = now_ms() - t1;
			fast++;
			usleep(50000);
		}
		T_EQ_INT(res.status, PD_DOT_OK, "restart: lookups succeed "
		    "again (%u failed at once before, the slowest in %.1f "
		    "ms; back after %.0f ms)", fast, worst, now_ms() - t0);
		T_OK(worst < 50, "restart: while the upstream was down, "
		    "lookups failed without waiting (slowest %.1f ms)",
		    worst);
		T_OK(now_ms() - t0 < 3000, "restart: found back "
		    "within 3 s of its restart");
	}
	T_EQ_STR(addrs(&res.a), "127.0.10.1", "restart: answer");
	pd_dot_free(d);
	pol_free(x);
}

int
main(void)
{
	if (!pd_lab_load() || pd_lab_opt("LAB_GOOD_PORT") == NULL) {
		T_OK(0, "lab environment (PINDNS_LAB_ENV) readable");
		return t_done();
	}
	t_tls();
	t_timeout_failover();
	t_threads();
	t_sockets();
	t_fork();
	t_idle_restart();
	return t_done();
}

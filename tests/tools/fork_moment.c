/*
 * fork_moment: fork() while another thread is held inside a lookup (by
 * tests/tools/so_stall.c), and check that the child can look up. Links
 * libc only: it runs under the preload.
 *
 *	fork_moment NAME	(PD_STALL_DIR as for stall.so)
 *
 * A thread calls getaddrinfo(NAME); once it is held (PD_STALL_DIR/held),
 * another thread forks. When the fork waits (its thread blocks on a lock
 * in a prepare handler) or is done, the held call is let go
 * (PD_STALL_DIR/go). The child calls getaddrinfo(NAME) itself and exits
 * 0 when it succeeds; the parent waits for it at most 20 s. Prints
 *	fork: waited | went ahead
 *	child: ok | rc N | hung
 *	parent: ok | rc N | hung
 * and exits 0 (the caller checks the lines), 1 on a setup failure.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/clock.h"

static const char *name;
static _Atomic int parent_rc = -1;
static _Atomic pid_t forker_tid;
static _Atomic pid_t child_pid;		/* 0: fork() not returned yet */

static int
lookup(void)
{
	struct addrinfo hints, *res = NULL;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(name, "443", &hints, &res);
	if (rc == 0)
		freeaddrinfo(res);
	return rc;
}

static void *
resolver(void *arg)
{
	(void)arg;
	atomic_store(&parent_rc, lookup());
	return NULL;
}

static void *
forker(void *arg)
{
	pid_t pid;

	(void)arg;
	atomic_store(&forker_tid, (pid_t)syscall(SYS_gettid));
	if ((pid = fork()) == 0)
		_exit(lookup() == 0 ? 0 : 1);
	atomic_store(&child_pid, pid);
	return NULL;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	(void)nanosleep(&ts, NULL);
}

/* Is thread tid blocked in a futex wait without a timeout (a lock)? */
static bool
in_lock_wait(pid_t tid)
{
	char path[64], buf[256];
	unsigned long a0, a1, a2, a3;
	long nr;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fgets(buf, sizeof(buf), f) != NULL ? sscanf(buf,
	    "%ld %lx %lx %lx %lx", &nr, &a0, &a1, &a2, &a3) : 0;
	fclose(f);
	return n == 5 && nr == SYS_futex &&
	    (a1 & FUTEX_CMD_MASK) == FUTEX_WAIT && a3 == 0;
}

int
main(int argc, char **argv)
{
	const char *dir = getenv("PD_STALL_DIR");
	char held[PATH_MAX], go[PATH_MAX];
	pthread_t tr, tf;
	struct timespec dl;
	double end;
	bool waited = false;
	pid_t pid;
	int fd, st, rc;

	if (argc != 2 || dir == NULL) {
		fprintf(stderr, "usage: PD_STALL_DIR=DIR fork_moment NAME\n");
		return 1;
	}
	name = argv[1];
	snprintf(held, sizeof(held), "%s/held", dir);
	snprintf(go, sizeof(go), "%s/go", dir);
	if (pthread_create(&tr, NULL, resolver, NULL) != 0)
		return 1;
	for (end = pd_now_ms() + 20000; access(held, F_OK) != 0; sleep_ms(1))
		if (pd_now_ms() > end) {
			printf("stall: never held\n");
			return 1;
		}
	fflush(stdout);
	if (pthread_create(&tf, NULL, forker, NULL) != 0)
		return 1;
	for (end = pd_now_ms() + 20000; atomic_load(&child_pid) == 0;
	    sleep_ms(1)) {
		if (atomic_load(&forker_tid) != 0 &&
		    in_lock_wait(atomic_load(&forker_tid))) {
			waited = true;
			break;
		}
		if (pd_now_ms() > end) {
			printf("fork: neither waited nor returned\n");
			return 1;
		}
	}
	printf("fork: %s\n", waited ? "waited" : "went ahead");
	if ((fd = open(go, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	(void)clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 20;
	if (pthread_timedjoin_np(tf, NULL, &dl) != 0 ||
	    pthread_timedjoin_np(tr, NULL, &dl) != 0) {
		if ((pid = atomic_load(&child_pid)) > 0)
			kill(pid, SIGKILL);
		printf("parent: hung\n");
		return 0;
	}
	pid = atomic_load(&child_pid);
	for (end = pd_now_ms() + 20000; waitpid(pid, &st, WNOHANG) != pid;
	    sleep_ms(10))
		if (pd_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			st = -1;
			break;
		}
	if (st == -1)
		printf("child: hung\n");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		printf("child: ok\n");
	else
		printf("child: rc %d\n", st);
	rc = atomic_load(&parent_rc);
	if (rc == 0)
		printf("parent: ok\n");
	else
		printf("parent: rc %d\n", rc);
	return 0;
}

/*
 * plain_spawn: start-up cost of a command with and without one extra
 * environment variable (LD_PRELOAD=.../libpindns.so), measured the same
 * way, alternately, pair after pair.
 *
 *	plain_spawn [-n PAIRS] [-w WARMUP] -e VAR=VALUE -- CMD [ARG...]
 *
 * Each run is fork() + execve() + wait4(): the wall time from just before
 * fork to the return of wait4 (CLOCK_MONOTONIC), and the child's maximum
 * resident set size from wait4's rusage. The runs alternate base, with,
 * base, with, ... so drift on a shared machine hits both alike; the
 * ratio and the RSS difference are computed within each pair and their
 * medians printed, beside the medians of each side:
 *
 *	pairs=N base_us=.. with_us=.. ratio=.. base_kb=.. with_kb=.. delta_kb=..
 *	    delta_us=..
 *
 * fork() rather than vfork()/posix_spawn(): a vfork child shares this
 * process's address space until it execs, and the kernel carries the
 * larger of the two peaks into ru_maxrss. A forked child of this small
 * program starts with a few hundred kB, below any real program's peak.
 * The child's stdin, stdout and stderr are /dev/null. Links libc only.
 * Exit 0, 1 when a run failed (not started, non-zero exit), 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/tools/clock.h"

extern char **environ;

struct sample {
	double	us;
	long	kb;
};

/* Median of v[0..n-1] (sorts v). */
static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), pd_cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* One run of argv with envp; 0, or -1 when it did not run or failed. */
static int
run_once(char **argv, char **envp, struct sample *s)
{
	struct rusage ru;
	uint64_t t0, t1;
	pid_t pid;
	int st, fd;

	t0 = pd_now_ns();
	if ((pid = fork()) < 0) {
		perror("plain_spawn: fork");
		return -1;
	}
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		execve(argv[0], argv, envp);
		_exit(127);
	}
	while (wait4(pid, &st, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("plain_spawn: wait4");
			return -1;
		}
	}
	t1 = pd_now_ns();
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "plain_spawn: %s: status 0x%x\n", argv[0], st);
		return -1;
	}
	s->us = (double)(t1 - t0) / 1e3;
	s->kb = ru.ru_maxrss;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: plain_spawn [-n PAIRS] [-w WARMUP] "
	    "-e VAR=VALUE -- CMD [ARG...]\n");
	exit(2);
}

/* environ without VAR, plus `add` when not NULL; NULL on OOM. */
static char **
make_env(const char *var, size_t vlen, char *add)
{
	char **e;
	size_t n = 0, i, j = 0;

	while (environ[n] != NULL)
		n++;
	if ((e = calloc(n + 2, sizeof(*e))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (strncmp(environ[i], var, vlen) == 0 &&
		    environ[i][vlen] == '=')
			continue;
		e[j++] = environ[i];
	}
	if (add != NULL)
		e[j++] = add;
	e[j] = NULL;
	return e;
}

int
main(int argc, char **argv)
{
	struct sample b, w;
	char **base_env, **with_env, *add = NULL, *eq = NULL;
	double *bus, *wus, *bkb, *wkb, *ratio, *delta, *dus;
	long pairs = 100, warm = 5, i;
	int c;

	while ((c = getopt(argc, argv, "n:w:e:")) != -1) {
		switch (c) {
		case 'n':
			pairs = strtol(optarg, NULL, 10);
			break;
		case 'w':
			warm = strtol(optarg, NULL, 10);
			break;
		case 'e':
			add = optarg;
			break;
		default:
			usage();
		}
	}
	if (add == NULL || (eq = strchr(add, '=')) == NULL || eq == add ||
	    optind >= argc || pairs < 1 || pairs > 1000000 || warm < 0)
		usage();
	argv += optind;
	base_env = make_env(add, (size_t)(eq - add), NULL);
	with_env = make_env(add, (size_t)(eq - add), add);
	bus = calloc((size_t)pairs, sizeof(double));
	wus = calloc((size_t)pairs, sizeof(double));
	bkb = calloc((size_t)pairs, sizeof(double));
	wkb = calloc((size_t)pairs, sizeof(double));
	ratio = calloc((size_t)pairs, sizeof(double));
	delta = calloc((size_t)pairs, sizeof(double));
	dus = calloc((size_t)pairs, sizeof(double));
	if (base_env == NULL || with_env == NULL || bus == NULL ||
	    wus == NULL || bkb == NULL || wkb == NULL || ratio == NULL ||
	    delta == NULL || dus == NULL) {
		perror("plain_spawn: calloc");
		return 1;
	}

	for (i = -warm; i < pairs; i++) {
		/* Alternate which side goes first, too. */
		if (i % 2 == 0) {
			if (run_once(argv, base_env, &b) < 0 ||
			    run_once(argv, with_env, &w) < 0)
				return 1;
		} else {
			if (run_once(argv, with_env, &w) < 0 ||
			    run_once(argv, base_env, &b) < 0)
				return 1;
		}
		if (i < 0)
			continue;
		bus[i] = b.us;
		wus[i] = w.us;
		bkb[i] = (double)b.kb;
		wkb[i] = (double)w.kb;
		ratio[i] = w.us / b.us;
		delta[i] = (double)(w.kb - b.kb);
		dus[i] = w.us - b.us;
	}
	printf("pairs=%ld base_us=%.1f with_us=%.1f ratio=%.4f base_kb=%.0f "
	    "with_kb=%.0f delta_kb=%.0f delta_us=%.1f\n", pairs,
	    median(bus, (size_t)pairs),
	    median(wus, (size_t)pairs), median(ratio, (size_t)pairs),
	    median(bkb, (size_t)pairs), median(wkb, (size_t)pairs),
	    median(delta, (size_t)pairs), median(dus, (size_t)pairs));
	return 0;
}

/*
 * gaia-probe: getaddrinfo_a and gai_suspend / gai_error / gai_cancel as a
 * program uses them. One batch of names (AF_UNSPEC, SOCK_STREAM, service
 * 443), in the mode MODE, then every request's outcome in list order:
 *
 *   gaia-probe MODE NAME...
 *
 *   wait      GAI_WAIT
 *   none      GAI_NOWAIT, SIGEV_NONE; gai_suspend until all are done
 *   null      GAI_NOWAIT without a sigevent; gai_error polled (suspend)
 *   signal    GAI_NOWAIT, SIGEV_SIGNAL (SIGRTMIN, value 4711): the signal
 *             taken with sigwaitinfo, its si_code and value printed
 *   thread    GAI_NOWAIT, SIGEV_THREAD (value 4712): the function's value
 *             and whether it ran on a thread other than main's
 *   cancel    SLOW FAST (SLOW's upstream hung, FAST answered at once):
 *             GAI_NOWAIT; once FAST is done, gai_cancel of SLOW (taken
 *             before FAST: running) and of FAST (done); then 21 more
 *             SLOW (the 21st queued behind 20 busy helpers) and
 *             gai_cancel of the 21st
 *   suspend   GAI_NOWAIT: gai_suspend with a 100 ms timeout on the first
 *             (slow) name, then interrupted by a signal handler, then on
 *             an empty list
 *
 * Output: "[i] NAME = CODE" and one "    ADDR" per address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "tests/tools/names.h"

/* glibc (and pindns) run 20 helper threads: one more waits. */
#define GAIA_MORE	21

static sem_t notified;
static pthread_t main_tid;
static _Atomic int thread_value, thread_other;

static void
on_notify(union sigval v)
{
	atomic_store(&thread_value, v.sival_int);
	atomic_store(&thread_other, !pthread_equal(pthread_self(), main_tid));
	sem_post(&notified);
}

static void
on_signal(int sig)
{
	(void)sig;
}

static void
show(struct gaicb **list, int n)
{
	char a[INET6_ADDRSTRLEN];
	struct addrinfo *ai;
	int i, rc;

	for (i = 0; i < n; i++) {
		rc = gai_error(list[i]);
		printf("[%d] %s = %s\n", i, list[i]->ar_name, pd_eai_name(rc));
		if (rc != 0)
			continue;
		for (ai = list[i]->ar_result; ai != NULL; ai = ai->ai_next) {
			const void *p = ai->ai_family == AF_INET6 ?
			    (const void *)&((struct sockaddr_in6 *)(void *)
			    ai->ai_addr)->sin6_addr :
			    (const void *)&((struct sockaddr_in *)(void *)
			    ai->ai_addr)->sin_addr;

			inet_ntop(ai->ai_family, p, a, sizeof(a));
			printf("    %s\n", a);
		}
		freeaddrinfo(list[i]->ar_result);
	}
}

/* gai_suspend over the whole list until none is in progress. */
static void
wait_all(struct gaicb **list, int n)
{
	int i, busy;

	do {
		busy = 0;
		for (i = 0; i < n; i++)
			busy += gai_error(list[i]) == EAI_INPROGRESS;
		if (busy)
			(void)gai_suspend((const struct gaicb *const *)list, n,
			    NULL);
	} while (busy);
}

struct kicker {
	atomic_int	stop;
};

/* Signal main until told to stop: it must be inside gai_suspend once. */
static void *
kick(void *arg)
{
	struct kicker *k = arg;
	struct timespec d = { 0, 20 * 1000 * 1000 };

	while (!atomic_load(&k->stop)) {
		pthread_kill(main_tid, SIGUSR1);
		nanosleep(&d, NULL);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	static struct addrinfo hints;
	struct gaicb **list, *cbs;
	struct sigevent sev;
	const char *mode;
	int n, i, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: gaia-probe MODE NAME...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	main_tid = pthread_self();
	sem_init(&notified, 0, 0);
	mode = argv[1];
	n = argc - 2;
	list = calloc((size_t)n, sizeof(*list));
	cbs = calloc((size_t)n, sizeof(*cbs));
	if (list == NULL || cbs == NULL)
		return 1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	for (i = 0; i < n; i++) {
		cbs[i].ar_name = argv[i + 2];
		cbs[i].ar_service = "443";
		cbs[i].ar_request = &hints;
		list[i] = &cbs[i];
	}
	memset(&sev, 0, sizeof(sev));

	if (strcmp(mode, "wait") == 0) {
		rc = getaddrinfo_a(GAI_WAIT, list, n, NULL);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
	} else if (strcmp(mode, "none") == 0 || strcmp(mode, "null") == 0) {
		sev.sigev_notify = SIGEV_NONE;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n,
		    strcmp(mode, "none") == 0 ? &sev : NULL);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		wait_all(list, n);
	} else if (strcmp(mode, "signal") == 0) {
		sigset_t set;
		siginfo_t si;

		sigemptyset(&set);
		sigaddset(&set, SIGRTMIN);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		sev.sigev_notify = SIGEV_SIGNAL;
		sev.sigev_signo = SIGRTMIN;
		sev.sigev_value.sival_int = 4711;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, &sev);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		if (sigwaitinfo(&set, &si) < 0)
			return 1;
		printf("signal code=%s value=%d\n", si.si_code == SI_ASYNCNL ?
		    "SI_ASYNCNL" : "other", si.si_value.sival_int);
	} else if (strcmp(mode, "thread") == 0) {
		sev.sigev_notify = SIGEV_THREAD;
		sev.sigev_notify_function = on_notify;
		sev.sigev_value.sival_int = 4712;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, &sev);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		while (sem_wait(&notified) != 0)
			;
		printf("thread value=%d other-thread=%d\n",
		    atomic_load(&thread_value), atomic_load(&thread_other));
	} else if (strcmp(mode, "cancel") == 0 && n == 2) {
		struct gaicb more[GAIA_MORE], *ml[GAIA_MORE];
		int k;

		/* [SLOW, FAST]: FAST done means SLOW was taken: running. */
		sev.sigev_notify = SIGEV_NONE;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, &sev);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		while (gai_error(list[1]) == EAI_INPROGRESS)
			(void)gai_suspend((const struct gaicb *const *)
			    &list[1], 1, NULL);
		printf("cancel running = %s\n",
		    pd_eai_name(gai_cancel(list[0])));
		printf("cancel done = %s\n",
		    pd_eai_name(gai_cancel(list[1])));
		/* 20 more SLOW: every helper busy, the last one queued. */
		for (k = 0; k < GAIA_MORE; k++) {
			more[k] = cbs[0];
			ml[k] = &more[k];
		}
		rc = getaddrinfo_a(GAI_NOWAIT, ml, GAIA_MORE - 1, &sev);
		rc = rc != 0 ? rc : getaddrinfo_a(GAI_NOWAIT, &ml[GAIA_MORE - 1],
		    1, &sev);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		printf("cancel queued = %s\n",
		    pd_eai_name(gai_cancel(ml[GAIA_MORE - 1])));
		printf("gai_error of it = %s\n",
		    pd_eai_name(gai_error(ml[GAIA_MORE - 1])));
		wait_all(ml, GAIA_MORE - 1);
		for (k = 0, rc = 0; k < GAIA_MORE - 1; k++)
			rc += gai_error(ml[k]) == gai_error(ml[0]);
		printf("the other %d: %d x %s\n", GAIA_MORE - 1, rc,
		    pd_eai_name(gai_error(ml[0])));
		wait_all(list, n);
	} else if (strcmp(mode, "suspend") == 0) {
		struct timespec t = { 0, 100 * 1000 * 1000 };
		struct sigaction sa;
		struct kicker k;
		pthread_t tid;

		sev.sigev_notify = SIGEV_NONE;
		rc = getaddrinfo_a(GAI_NOWAIT, list, n, &sev);
		printf("getaddrinfo_a = %s\n", pd_eai_name(rc));
		printf("suspend 100 ms = %s\n", pd_eai_name(gai_suspend(
		    (const struct gaicb *const *)list, 1, &t)));
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;	/* no SA_RESTART */
		sigaction(SIGUSR1, &sa, NULL);
		atomic_init(&k.stop, 0);
		pthread_create(&tid, NULL, kick, &k);
		rc = gai_suspend((const struct gaicb *const *)list, 1, NULL);
		atomic_store(&k.stop, 1);
		pthread_join(tid, NULL);
		printf("suspend, a signal = %s\n", pd_eai_name(rc));
		wait_all(list, n);
		printf("suspend, all done = %s\n", pd_eai_name(gai_suspend(
		    (const struct gaicb *const *)list, n, NULL)));
	} else {
		fprintf(stderr, "gaia-probe: unknown mode %s\n", mode);
		return 2;
	}
	show(list, n);
	free(list);
	free(cbs);
	return 0;
}

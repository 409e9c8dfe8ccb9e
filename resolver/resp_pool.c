/*
 * pindns engine: the responder's workers (resolver/resp.h).
 *
 * The UDP loop (resp_serve.c) never waits on the network for a claimed
 * name: a question that may need a lookup, and a pinned `system` one,
 * is queued here, and a small pool of threads answers it and sends the
 * reply from the endpoint's socket. Threads are made on demand (none
 * idle, fewer than workers_max) and live as long as the process; a
 * queue longer than JOBS_MAX refuses more (the loop's caller decides
 * what the client gets).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/clock.h"
#include "resolver/log.h"
#include "resolver/resp.h"
#include "resolver/stats.h"

#define WORKERS_MAX	64
#define JOBS_MAX	1024	/* queued claimed queries; more are dropped
				 * (pindns serve: answered SERVFAIL) */
#define PIN_WAIT_MS	5000	/* X's reply to a pinned query */

struct job {
	struct job		*next;
	uint64_t		 born_ms;
	uint64_t		 born_ns;	/* serve's latency */
	struct pd_resp_to	 to;
	struct pd_resp_q	 rq;
	size_t			 len;
	uint8_t			 msg[];
};

static struct {
	pthread_mutex_t		 mu;	/* everything here */
	pthread_cond_t		 cv;	/* a job was queued */
	struct job		*jobs;
	struct job		**jtail;
	unsigned		 njobs;
	unsigned		 workers;
	unsigned		 idle;
	unsigned		 workers_max;
	uint64_t		 job_ms;	/* serve: older jobs SERVFAIL */
} P = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.jtail = &P.jobs,
	.workers_max = 4,
	.job_ms = UINT64_MAX,
};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void
pool_prepare(void)
{
	(void)pthread_mutex_lock(&P.mu);
}

static void
pool_parent(void)
{
	(void)pthread_mutex_unlock(&P.mu);
}

/*
 * The child has none of the workers: queued jobs are dropped (leaked:
 * their memory may be half-written by a thread that no longer exists).
 */
static void
pool_child(void)
{
	P.jobs = NULL;
	P.jtail = &P.jobs;
	P.njobs = P.workers = P.idle = 0;
	(void)pthread_cond_init(&P.cv, NULL);
	(void)pthread_mutex_unlock(&P.mu);
}

static void
pool_init(void)
{
	(void)pthread_atfork(pool_prepare, pool_parent, pool_child);
}

size_t
pd_resp_udp_limit(const struct pd_resp_q *rq)
{
	return rq->q.edns && rq->q.udp_size > 512 ? rq->q.udp_size : 512;
}

/*
 * A pinned query: ask X from a socket of our own, wait for its reply
 * (PIN_WAIT_MS at most), hold it against the pins. 0 when X says nothing.
 */
static size_t
ask_pinned(const struct job *j, uint8_t *buf, size_t cap)
{
	struct pollfd pfd;
	uint64_t end = pd_clock_ms() + PIN_WAIT_MS, now;
	ssize_t n = -1;
	int fd;

	if (j->to.ns != NULL) {
		/* pindns serve: the system nameservers in turn. */
		if ((n = (ssize_t)pd_stub_ask(j->to.ns, &j->rq, j->msg,
		    j->len, buf, cap)) == 0)
			return 0;
		goto pin;
	}
	if ((fd = socket(j->to.x.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) <
	    0)
		return 0;
	if (connect(fd, (const struct sockaddr *)&j->to.x, j->to.xlen) !=
	    0 || send(fd, j->msg, j->len, 0) != (ssize_t)j->len)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((now = pd_clock_ms()) < end) {
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = recv(fd, buf, cap, 0);
		/* The reply to this query, not a late one to another. */
		if (n >= 12 && pd_resp_id(buf, (size_t)n) ==
		    pd_resp_id(j->msg, j->len))
			break;
		n = -1;
	}
out:
	(void)close(fd);
	if (n < 0)
		return 0;
pin:
	return pd_resp_pin(&j->rq, buf, (size_t)n, cap,
	    pd_resp_udp_limit(&j->rq));
}

static void *
worker_main(void *arg)
{
	uint8_t buf[PD_RESP_MSG_MAX];
	struct job *j;
	size_t n;

	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&P.mu);
		P.idle++;
		while (P.jobs == NULL)
			(void)pthread_cond_wait(&P.cv, &P.mu);
		P.idle--;
		j = P.jobs;
		if ((P.jobs = j->next) == NULL)
			P.jtail = &P.jobs;
		P.njobs--;
		(void)pthread_mutex_unlock(&P.mu);

		if (j->to.serve)
			pd_log_set_client_sa((const struct sockaddr *)&j->to.l);
		if (j->to.serve && pd_clock_ms() - j->born_ms > P.job_ms)
			/* Waited past timeout_ms: late is no answer at all. */
			n = pd_resp_error(&j->rq, PD_VERDICT_FAILED,
			    PD_REASON_TIMEOUT, buf, sizeof(buf));
		else if (j->rq.act == PD_RESP_PINNED)
			n = ask_pinned(j, buf, sizeof(buf));
		else
			n = pd_resp_answer(&j->rq, buf, sizeof(buf),
			    pd_resp_udp_limit(&j->rq));
		if (n > 0)
			(void)sendto(j->to.ufd, buf, n, MSG_DONTWAIT,
			    (const struct sockaddr *)&j->to.l, j->to.llen);
		if (j->to.serve)
			pd_stats_query(PD_TR_UDP, PD_QA_ANSWERED,
			    (pd_clock_ns() - j->born_ns) / 1000);
		free(j);
	}
	return NULL;
}

bool
pd_resp_pool_add(const struct pd_resp_to *to, const struct pd_resp_q *rq,
    const uint8_t *msg, size_t len)
{
	struct job *j;

	(void)pthread_once(&pool_once, pool_init);
	if ((j = malloc(sizeof(*j) + len)) == NULL)
		return false;	/* the client asks again */
	j->next = NULL;
	j->born_ms = pd_clock_ms();
	j->born_ns = pd_clock_ns();
	j->to = *to;
	j->rq = *rq;
	j->len = len;
	memcpy(j->msg, msg, len);
	(void)pthread_mutex_lock(&P.mu);
	if (P.njobs >= JOBS_MAX) {
		(void)pthread_mutex_unlock(&P.mu);
		free(j);
		return false;
	}
	*P.jtail = j;
	P.jtail = &j->next;
	P.njobs++;
	if (P.idle == 0 && P.workers < P.workers_max &&
	    pd_resp_thread(worker_main, NULL) == 0)
		P.workers++;
	(void)pthread_cond_signal(&P.cv);
	(void)pthread_mutex_unlock(&P.mu);
	return true;
}

void
pd_resp_pool_tune(unsigned workers, uint64_t job_ms)
{
	(void)pthread_once(&pool_once, pool_init);
	(void)pthread_mutex_lock(&P.mu);
	if (workers > 0)
		P.workers_max = workers < WORKERS_MAX ? workers : WORKERS_MAX;
	if (job_ms > 0)
		P.job_ms = job_ms;
	(void)pthread_mutex_unlock(&P.mu);
}

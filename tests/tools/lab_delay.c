/*
 * lab_delay: a TCP relay that holds every byte for DELAY_MS in each
 * direction, so a client talking to the lab's good upstream through it
 * sees DELAY_MS * 2 of round-trip time on top of loopback. Used by the
 * benchmarks and the latency tests (GETDNS-NOTES.md, "10 ms RTT").
 *
 *	lab_delay LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT DELAY_MS
 *
 * One thread, one ppoll() loop, any number of connections. Each chunk
 * read is stamped with the time it may leave (read time + delay) and is
 * written when that time has come, in order; a FIN is relayed the same
 * way (shutdown(SHUT_WR) after the delay). The TCP handshake itself is
 * not delayed: the relay accepts at once and connects to the target on
 * loopback. Both sockets of a pair get TCP_NODELAY so the relay adds no
 * Nagle wait of its own. Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_MAX	65536
/* Stop reading a direction with this much queued: back-pressure. */
#define QUEUE_MAX	(1024 * 1024)

struct chunk {
	struct chunk	*next;
	int64_t		 due_ns;	/* CLOCK_MONOTONIC time it may leave */
	size_t		 len, off;
	int		 eof;		/* a FIN to relay, no data */
	unsigned char	 data[];
};

struct dir {
	int		 from, to;
	struct chunk	*head, *tail;
	size_t		 queued;
	int		 rd_eof;	/* FIN read from `from` */
	int		 wr_shut;	/* FIN relayed to `to` */
};

struct conn {
	int		 fd[2];		/* client, upstream */
	struct dir	 d[2];		/* client->upstream, upstream->client */
	int		 dead;
};

static struct conn	**conns;
static size_t		  nconns, capconns;
static int64_t		  delay_ns;
static struct sockaddr_in target;

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
parse_num(const char *s, long lo, long hi, long *vp)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*vp = v;
	return 0;
}

static int
make_addr(const char *a, const char *p, struct sockaddr_in *sin)
{
	long port;

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, a, &sin->sin_addr) != 1 ||
	    parse_num(p, 1, 65535, &port) != 0)
		return -1;
	sin->sin_port = htons((unsigned short)port);
	return 0;
}

static void
tune(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void
conn_free(struct conn *c)
{
	struct chunk *ch, *next;
	int i;

	for (i = 0; i < 2; i++) {
		for (ch = c->d[i].head; ch != NULL; ch = next) {
			next = ch->next;
			free(ch);
		}
		close(c->fd[i]);
	}
	free(c);
}

static void
accept_one(int ls)
{
	struct conn *c = NULL, **nc;
	int cfd, ufd = -1;

	if ((cfd = accept(ls, NULL, NULL)) < 0)
		return;
	/* Loopback connect completes (or is refused) at once. */
	if ((ufd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(ufd, (struct sockaddr *)&target, sizeof(target)) != 0)
		goto fail;
	if (nconns == capconns) {
		size_t n = capconns ? capconns * 2 : 64;

		if ((nc = realloc(conns, n * sizeof(*nc))) == NULL)
			goto fail;
		conns = nc;
		capconns = n;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	tune(cfd);
	tune(ufd);
	c->fd[0] = cfd;
	c->fd[1] = ufd;
	c->d[0].from = cfd;
	c->d[0].to = ufd;
	c->d[1].from = ufd;
	c->d[1].to = cfd;
	conns[nconns++] = c;
	return;
fail:
	/* Closing the client is how an unreachable target shows. */
	close(cfd);
	if (ufd >= 0)
		close(ufd);
}

static void
enqueue(struct dir *d, struct chunk *ch)
{
	ch->next = NULL;
	ch->due_ns = now_ns() + delay_ns;
	if (d->tail != NULL)
		d->tail->next = ch;
	else
		d->head = ch;
	d->tail = ch;
	d->queued += ch->len;
}

static void
read_dir(struct conn *c, struct dir *d)
{
	struct chunk *ch;
	ssize_t n;

	if ((ch = malloc(sizeof(*ch) + CHUNK_MAX)) == NULL) {
		c->dead = 1;
		return;
	}
	n = read(d->from, ch->data, CHUNK_MAX);
	if (n < 0) {
		free(ch);
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			c->dead = 1;
		return;
	}
	ch->off = 0;
	ch->len = (size_t)n;
	ch->eof = (n == 0);
	if (n == 0)
		d->rd_eof = 1;
	enqueue(d, ch);
}

/* Write every chunk that is due; stop at the first one that is not. */
static void
flush_dir(struct conn *c, struct dir *d, int64_t now)
{
	struct chunk *ch;
	ssize_t n;

	while ((ch = d->head) != NULL && ch->due_ns <= now) {
		if (ch->eof) {
			(void)shutdown(d->to, SHUT_WR);
			d->wr_shut = 1;
		} else {
			n = send(d->to, ch->data + ch->off, ch->len - ch->off,
			    MSG_NOSIGNAL);
			if (n < 0) {
				if (errno != EAGAIN && errno != EWOULDBLOCK &&
				    errno != EINTR)
					c->dead = 1;
				return;
			}
			ch->off += (size_t)n;
			d->queued -= (size_t)n;
			if (ch->off < ch->len)
				return;
		}
		d->head = ch->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(ch);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in lsin;
	struct pollfd *pfd = NULL;
	struct rlimit rl;
	struct timespec ts, *tsp;
	size_t cap = 0, i, np;
	int64_t now, next;
	long ms;
	int ls, one = 1, k;

	if (argc != 6 || make_addr(argv[1], argv[2], &lsin) != 0 ||
	    make_addr(argv[3], argv[4], &target) != 0 ||
	    parse_num(argv[5], 0, 10000, &ms) != 0) {
		fprintf(stderr, "usage: lab_delay LISTEN_ADDR LISTEN_PORT "
		    "TARGET_ADDR TARGET_PORT DELAY_MS\n");
		return 2;
	}
	delay_ns = (int64_t)ms * 1000000;
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(ls, (struct sockaddr *)&lsin, sizeof(lsin)) != 0 ||
	    listen(ls, 1024) != 0) {
		fprintf(stderr, "lab_delay: %s:%s: %s\n", argv[1], argv[2],
		    strerror(errno));
		return 1;
	}
	fprintf(stderr, "lab_delay: %s:%s -> %s:%s, %ld ms each way\n",
	    argv[1], argv[2], argv[3], argv[4], ms);

	for (;;) {
		/* Send what is due, drop finished or broken pairs. */
		now = now_ns();
		next = INT64_MAX;
		for (i = 0; i < nconns;) {
			struct conn *c = conns[i];

			for (k = 0; k < 2 && !c->dead; k++)
				flush_dir(c, &c->d[k], now);
			if (c->dead || (c->d[0].wr_shut && c->d[1].wr_shut)) {
				conn_free(c);
				conns[i] = conns[--nconns];
				continue;
			}
			for (k = 0; k < 2; k++)
				if (c->d[k].head != NULL &&
				    c->d[k].head->due_ns > now &&
				    c->d[k].head->due_ns < next)
					next = c->d[k].head->due_ns;
			i++;
		}

		if (cap < 1 + 2 * nconns) {
			cap = 2 * (1 + 2 * nconns);
			free(pfd);
			if ((pfd = calloc(cap, sizeof(*pfd))) == NULL) {
				fprintf(stderr, "lab_delay: out of memory\n");
				return 1;
			}
		}
		pfd[0].fd = ls;
		pfd[0].events = POLLIN;
		np = 1;
		for (i = 0; i < nconns; i++) {
			struct conn *c = conns[i];

			for (k = 0; k < 2; k++) {
				/* fd[k] is read by d[k], written by d[1-k]. */
				struct dir *rd = &c->d[k], *wr = &c->d[1 - k];

				pfd[np].fd = c->fd[k];
				pfd[np].events = 0;
				if (!rd->rd_eof && rd->queued < QUEUE_MAX)
					pfd[np].events |= POLLIN;
				/* Due but unsent: the socket was full. */
				if (wr->head != NULL && wr->head->due_ns <= now)
					pfd[np].events |= POLLOUT;
				np++;
			}
		}

		tsp = NULL;
		if (next != INT64_MAX) {
			int64_t d = next - now_ns();

			if (d < 0)
				d = 0;
			ts.tv_sec = (time_t)(d / 1000000000);
			ts.tv_nsec = (long)(d % 1000000000);
			tsp = &ts;
		}
		if (ppoll(pfd, np, tsp, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("lab_delay: ppoll");
			return 1;
		}

		np = 1;
		for (i = 0; i < nconns; i++) {
			struct conn *c = conns[i];

			for (k = 0; k < 2; k++, np++) {
				if (c->dead)
					continue;
				if ((pfd[np].revents & (POLLIN | POLLHUP |
				    POLLERR)) && (pfd[np].events & POLLIN))
					read_dir(c, &c->d[k]);
				else if (pfd[np].revents & POLLERR)
					c->dead = 1;
			}
		}
		/* New pairs last: the pollfd slots above match conns[]. */
		if (pfd[0].revents & POLLIN)
			accept_one(ls);
	}
}

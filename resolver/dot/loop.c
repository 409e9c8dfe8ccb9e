/*
 * pindns DoT backend: a poll(2) event loop for getdns (see loop.h).
 *
 * Events live in a slot array; getdns's event->ev holds the slot index
 * plus one. Each slot carries a generation number so that a callback that
 * clears or re-schedules events while a round is being dispatched never
 * makes the loop fire a stale event. Semantics follow getdns's own
 * poll_eventloop.c: read/write callbacks when the descriptor is ready (or
 * in error), timeout callbacks once the deadline has passed; getdns clears
 * events itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "resolver/dot/loop.h"

#define LOOP_FOREVER	UINT64_MAX

struct slot {
	getdns_eventloop_event	*ev;		/* NULL: free */
	int			 fd;		/* -1: timeout only */
	uint64_t		 deadline;	/* ms, LOOP_FOREVER: none */
	uint32_t		 gen;
};

struct pollmap {
	size_t		idx;
	uint32_t	gen;
};

struct pd_loop {
	getdns_eventloop	 base;		/* first: the getdns view */
	getdns_eventloop_vmt	 vmt;
	struct slot		*slots;
	size_t			 nslots;	/* high-water mark in use */
	size_t			 cap;
	size_t			 live;
	struct pollfd		*pfds;
	struct pollmap		*map;
	size_t			 pcap;
	int			 wakefd;
	struct pd_loop_stats	 stats;
};

uint64_t
pd_loop_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * getdns opens its sockets without SOCK_CLOEXEC and never sets
 * TCP_NODELAY. Every descriptor it waits on passes through here before
 * the first byte is written (the TCP connect is still in progress when
 * getdns first schedules the socket), so this is where both are fixed.
 * A descriptor that already has FD_CLOEXEC has been seen: one fcntl per
 * schedule call is the whole cost.
 */
static void
fixup_fd(struct pd_loop *l, int fd)
{
	int fl, one = 1, type = 0;
	socklen_t len = sizeof(type);

	l->stats.schedules++;
	fl = fcntl(fd, F_GETFD);
	if (fl == -1 || (fl & FD_CLOEXEC))
		return;
	(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return;
	l->stats.sockets++;
	if (type == SOCK_STREAM && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one)) == -1)
		l->stats.nodelay_fail++;
}

static struct slot *
slot_of(struct pd_loop *l, getdns_eventloop_event *ev)
{
	size_t i;

	if (ev->ev == NULL)
		return NULL;
	i = (size_t)(uintptr_t)ev->ev - 1;
	if (i >= l->nslots || l->slots[i].ev != ev)
		return NULL;
	return &l->slots[i];
}

static void
slot_free(struct pd_loop *l, struct slot *s)
{
	s->ev = NULL;
	s->fd = -1;
	s->gen++;
	l->live--;
	while (l->nslots > 0 && l->slots[l->nslots - 1].ev == NULL)
		l->nslots--;
}

static getdns_return_t
loop_clear(getdns_eventloop *base, getdns_eventloop_event *ev)
{
	struct pd_loop *l = (struct pd_loop *)base;
	struct slot *s;

	if (ev == NULL)
		return GETDNS_RETURN_INVALID_PARAMETER;
	if ((s = slot_of(l, ev)) != NULL)
		slot_free(l, s);
	ev->ev = NULL;
	return GETDNS_RETURN_GOOD;
}

static getdns_return_t
loop_schedule(getdns_eventloop *base, int fd, uint64_t timeout,
    getdns_eventloop_event *ev)
{
	struct pd_loop *l = (struct pd_loop *)base;
	struct slot *s, *ns;
	size_t i, ncap;
	uint64_t now;

	if (ev == NULL)
		return GETDNS_RETURN_INVALID_PARAMETER;
	/* Scheduling an event twice would make it fire twice. */
	if ((s = slot_of(l, ev)) != NULL)
		slot_free(l, s);
	ev->ev = NULL;
	if (fd >= 0 && ev->read_cb == NULL && ev->write_cb == NULL)
		fd = -1;
	if (fd < 0 && ev->timeout_cb == NULL)
		return GETDNS_RETURN_GENERIC_ERROR;
	if (fd >= 0)
		fixup_fd(l, fd);

	for (i = 0; i < l->nslots && l->slots[i].ev != NULL; i++)
		;
	if (i == l->cap) {
		ncap = l->cap ? l->cap * 2 : 32;
		if ((ns = realloc(l->slots, ncap * sizeof(*ns))) == NULL)
			return GETDNS_RETURN_MEMORY_ERROR;
		memset(ns + l->cap, 0, (ncap - l->cap) * sizeof(*ns));
		l->slots = ns;
		l->cap = ncap;
	}
	if (i == l->nslots)
		l->nslots++;
	s = &l->slots[i];
	now = pd_loop_now_ms();
	s->ev = ev;
	s->fd = fd;
	s->deadline = (timeout == LOOP_FOREVER || timeout > UINT64_MAX - now) ?
	    LOOP_FOREVER : now + timeout;
	l->live++;
	ev->ev = (void *)(uintptr_t)(i + 1);
	return GETDNS_RETURN_GOOD;
}

/* getdns calls cleanup when a context using the loop is destroyed; several
 * contexts share this loop, so the loop is freed by pd_loop_free only. */
static void
loop_cleanup(getdns_eventloop *base)
{
	(void)base;
}

static void
loop_run_once_vmt(getdns_eventloop *base, int blocking)
{
	pd_loop_run_once((struct pd_loop *)base, blocking ? -1 : 0, NULL);
}

static void
loop_run(getdns_eventloop *base)
{
	struct pd_loop *l = (struct pd_loop *)base;

	while (l->live > 0)
		pd_loop_run_once(l, -1, NULL);
}

enum pd_err
pd_loop_new(struct pd_loop **lp)
{
	struct pd_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return PD_ENOMEM;
	l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wakefd == -1) {
		free(l);
		return PD_EINTERNAL;
	}
	l->vmt.cleanup = loop_cleanup;
	l->vmt.schedule = loop_schedule;
	l->vmt.clear = loop_clear;
	l->vmt.run = loop_run;
	l->vmt.run_once = loop_run_once_vmt;
	l->base.vmt = &l->vmt;
	*lp = l;
	return PD_OK;
}

void
pd_loop_free(struct pd_loop *l)
{
	if (l == NULL)
		return;
	if (l->wakefd != -1)
		(void)close(l->wakefd);
	free(l->slots);
	free(l->pfds);
	free(l->map);
	free(l);
}

getdns_eventloop *
pd_loop_getdns(struct pd_loop *l)
{
	return &l->base;
}

int
pd_loop_wakefd(const struct pd_loop *l)
{
	return l->wakefd;
}

void
pd_loop_wake(struct pd_loop *l)
{
	uint64_t one = 1;
	ssize_t n;

	/* A full counter (EAGAIN) still wakes the reader. */
	n = write(l->wakefd, &one, sizeof(one));
	(void)n;
}

size_t
pd_loop_fds(const struct pd_loop *l, int *fds, size_t max)
{
	size_t i, n = 0;

	for (i = 0; i < l->nslots; i++) {
		if (l->slots[i].ev == NULL || l->slots[i].fd < 0)
			continue;
		if (n < max)
			fds[n] = l->slots[i].fd;
		n++;
	}
	return n;
}

void
pd_loop_stats(const struct pd_loop *l, struct pd_loop_stats *s)
{
	*s = l->stats;
}

static bool
grow_poll(struct pd_loop *l, size_t need)
{
	struct pollfd *p;
	struct pollmap *m;
	size_t ncap;

	if (need <= l->pcap)
		return true;
	ncap = need < 32 ? 32 : need * 2;
	if ((p = realloc(l->pfds, ncap * sizeof(*p))) == NULL)
		return false;
	l->pfds = p;
	if ((m = realloc(l->map, ncap * sizeof(*m))) == NULL)
		return false;
	l->map = m;
	l->pcap = ncap;
	return true;
}

static bool
still(struct pd_loop *l, size_t idx, uint32_t gen)
{
	return idx < l->nslots && l->slots[idx].ev != NULL &&
	    l->slots[idx].gen == gen;
}

void
pd_loop_run_once(struct pd_loop *l, int timeout_ms, pthread_mutex_t *drop)
{
	uint64_t now, earliest = LOOP_FOREVER, wait;
	getdns_eventloop_event *ev;
	struct pollfd wake1, *pfds = &wake1;
	size_t i, k, n;
	short re;
	int rc, pto;
	uint64_t junk;
	ssize_t r;

	now = pd_loop_now_ms();
	for (i = 0; i < l->nslots; i++)
		if (l->slots[i].ev != NULL && l->slots[i].deadline < earliest)
			earliest = l->slots[i].deadline;
	wait = timeout_ms < 0 ? LOOP_FOREVER : (uint64_t)timeout_ms;
	if (earliest != LOOP_FOREVER)
		wait = earliest <= now ? 0 :
		    (earliest - now < wait ? earliest - now : wait);
	pto = wait == LOOP_FOREVER ? -1 : (wait > 60000 ? 60000 : (int)wait);

	/*
	 * Without memory for the poll set, wait on the wake-up alone (on
	 * the stack: l->pfds may never have been allocated).
	 */
	n = 1;
	if (grow_poll(l, l->nslots + 1)) {
		pfds = l->pfds;
		for (i = 0; i < l->nslots; i++) {
			if (l->slots[i].ev == NULL || l->slots[i].fd < 0)
				continue;
			ev = l->slots[i].ev;
			pfds[n].fd = l->slots[i].fd;
			pfds[n].events = (short)((ev->read_cb ? POLLIN : 0) |
			    (ev->write_cb ? POLLOUT : 0));
			pfds[n].revents = 0;
			l->map[n].idx = i;
			l->map[n].gen = l->slots[i].gen;
			n++;
		}
	} else if (pto < 0 || pto > 10)
		pto = 10;
	pfds[0].fd = l->wakefd;
	pfds[0].events = POLLIN;
	pfds[0].revents = 0;

	if (drop != NULL)
		(void)pthread_mutex_unlock(drop);
	rc = poll(pfds, n, pto);
	if (drop != NULL)
		(void)pthread_mutex_lock(drop);
	if (rc < 0)
		rc = 0;	/* EINTR: only timeouts may be due */

	if (rc > 0 && (pfds[0].revents & POLLIN)) {
		r = read(l->wakefd, &junk, sizeof(junk));
		(void)r;
	}
	for (k = 1; rc > 0 && k < n; k++) {
		re = pfds[k].revents;
		if (re == 0 || !still(l, l->map[k].idx, l->map[k].gen))
			continue;
		ev = l->slots[l->map[k].idx].ev;
		if (ev->write_cb && (re & (POLLOUT | POLLERR | POLLHUP |
		    POLLNVAL)))
			ev->write_cb(ev->userarg);
		if (!still(l, l->map[k].idx, l->map[k].gen))
			continue;
		ev = l->slots[l->map[k].idx].ev;
		if (ev->read_cb && (re & (POLLIN | POLLERR | POLLHUP |
		    POLLNVAL)))
			ev->read_cb(ev->userarg);
	}
	now = pd_loop_now_ms();
	for (i = 0; i < l->nslots; i++) {
		ev = l->slots[i].ev;
		if (ev != NULL && l->slots[i].deadline <= now &&
		    ev->timeout_cb != NULL)
			ev->timeout_cb(ev->userarg);
	}
}

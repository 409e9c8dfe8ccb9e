/*
 * pindns audit log: see resolver/log.h for what is promised and why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "resolver/log.h"

#define SYSLOG_PATH	"/dev/log"

enum target {
	T_STDERR,
	T_SYSLOG,
	T_FILE,
	T_NONE		/* lines are dropped: `pindns query` without --audit */
};

struct pd_log {
	enum target		 kind;
	_Atomic int		 fd;	/* file: ours; syslog: ours or -1 */
	/* syslog (re)connect, file swap; never held across a call that
	 * can block (fork() takes it) */
	pthread_mutex_t		 mu;
	_Atomic uint64_t	 dropped;
	_Atomic bool		 reopen_said;
	char			 path[];	/* file: its name */
};

/* ------------------------------------------------------------ format */

struct buf {
	char	*p;
	size_t	 n;
	size_t	 cap;	/* room for text; one byte more holds the NUL */
};

static void
put_raw(struct buf *b, const char *s, size_t len)
{
	if (len > b->cap - b->n)
		len = b->cap - b->n;
	memcpy(b->p + b->n, s, len);
	b->n += len;
}

static void
put_s(struct buf *b, const char *s)
{
	put_raw(b, s, strlen(s));
}

/* A JSON string (with quotes) of up to max bytes of s, or null. */
static void
put_json(struct buf *b, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	char esc[6];
	size_t i;

	if (s == NULL) {
		put_s(b, "null");
		return;
	}
	put_s(b, "\"");
	for (i = 0; u[i] != '\0' && i < max; i++) {
		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			put_raw(b, esc, 2);
		} else if (u[i] < 0x20 || u[i] >= 0x7f) {
			/* Byte by byte: any input gives valid UTF-8 JSON. */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 15];
			put_raw(b, esc, 6);
		} else
			put_raw(b, (const char *)&u[i], 1);
	}
	if (u[i] != '\0')
		put_s(b, "...");
	put_s(b, "\"");
}

size_t
pd_log_json_str(const char *s, size_t max, char *out, size_t outsize)
{
	struct buf b = { out, 0, outsize > 0 ? outsize - 1 : 0 };

	if (outsize == 0)
		return 0;
	put_json(&b, s, max);
	out[b.n] = '\0';
	return b.n;
}

/* A JSON list of addresses, as long as it stays within limit bytes. */
static void
put_addrs(struct buf *b, const struct pd_addr *a, unsigned n, size_t limit)
{
	char s[INET6_ADDRSTRLEN];
	unsigned i;
	size_t l;

	put_s(b, "[");
	for (i = 0; i < n; i++) {
		if (inet_ntop(a[i].family, a[i].addr, s, sizeof(s)) == NULL)
			(void)snprintf(s, sizeof(s), "?");
		l = strlen(s);
		if (b->n + l + 4 > limit)
			break;
		if (i > 0)
			put_s(b, ",");
		put_s(b, "\"");
		put_raw(b, s, l);
		put_s(b, "\"");
	}
	put_s(b, "]");
}

/*
 * The upstreams tried, as [{"upstream":U,"why":W,"count":N},...] (N: the
 * times that upstream failed so in this lookup, at least 1; a repeat is
 * counted, never listed twice), whole entries only, as long as it stays
 * within limit bytes.
 */
static void
put_tried(struct buf *b, const struct pd_try *t, unsigned n, size_t limit)
{
	char u[6 * 64 + 8], w[6 * 96 + 8], c[24];
	size_t lu, lw;
	unsigned i;
	int lc;

	put_s(b, "[");
	for (i = 0; i < n && i < PD_MAX_TRIES; i++) {
		lu = pd_log_json_str(t[i].upstream, 63, u, sizeof(u));
		lw = pd_log_json_str(t[i].why, 95, w, sizeof(w));
		lc = snprintf(c, sizeof(c), ",\"count\":%u}",
		    t[i].count > 0 ? t[i].count : 1);
		if (b->n + lu + lw + (size_t)lc + 26 > limit)
			break;
		put_s(b, i > 0 ? ",{\"upstream\":" : "{\"upstream\":");
		put_raw(b, u, lu);
		put_s(b, ",\"why\":");
		put_raw(b, w, lw);
		put_raw(b, c, (size_t)lc);
	}
	put_s(b, "]");
}

static bool
would_refuse(const struct pd_log_rec *r)
{
	struct pd_result res;

	res.verdict = r->verdict;
	res.reason = r->reason;
	return pd_result_would_refuse(&res);
}

/*
 * pindns serve: the client whose query this thread is answering. Set for
 * every query, written in few of them (most answers log nothing), so an
 * address is kept as it came and spelt only for a line (tl_client_sa).
 */
static __thread char tl_client[64];
static __thread struct sockaddr_in6 tl_sa;	/* AF_UNSPEC: none kept */

void
pd_log_set_client(const char *client)
{
	tl_sa.sin6_family = AF_UNSPEC;
	if (client == NULL)
		tl_client[0] = '\0';
	else
		(void)snprintf(tl_client, sizeof(tl_client), "%s", client);
}

void
pd_log_set_client_sa(const struct sockaddr *sa)
{
	memset(&tl_sa, 0, sizeof(tl_sa));
	if (sa->sa_family == AF_INET)
		memcpy(&tl_sa, sa, sizeof(struct sockaddr_in));
	else if (sa->sa_family == AF_INET6)
		memcpy(&tl_sa, sa, sizeof(struct sockaddr_in6));
	else
		tl_sa.sin6_family = AF_UNIX;	/* spelt "?" */
	tl_client[0] = '\0';
}

/* The kept address spelt into tl_client. */
static void
client_spell(void)
{
	const struct sockaddr_in6 *s6 = &tl_sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&tl_sa;
	char a[INET6_ADDRSTRLEN];
	int fam = tl_sa.sin6_family;

	if (fam == AF_UNSPEC)
		return;
	tl_sa.sin6_family = AF_UNSPEC;

	/* As SPEC §7 spells upstreams: "1.2.3.4:53", "[::1]:53". */
	if (fam == AF_INET && inet_ntop(AF_INET, &s4->sin_addr, a,
	    sizeof(a)) != NULL)
		(void)snprintf(tl_client, sizeof(tl_client), "%s:%u", a,
		    (unsigned)ntohs(s4->sin_port));
	else if (fam == AF_INET6 && inet_ntop(AF_INET6,
	    &s6->sin6_addr, a, sizeof(a)) != NULL)
		(void)snprintf(tl_client, sizeof(tl_client), "[%s]:%u", a,
		    (unsigned)ntohs(s6->sin6_port));
	else
		(void)snprintf(tl_client, sizeof(tl_client), "?");
}

size_t
pd_log_format(const struct pd_log_rec *r, char *out, size_t size)
{
	struct buf b = { out, 0, 0 };
	struct tm tm;
	char tmp[160];
	size_t room;

	if (size == 0)
		return 0;
	b.cap = (size > PD_LOG_LINE_MAX ? PD_LOG_LINE_MAX : size) - 1;
	if (gmtime_r(&r->ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	(void)snprintf(tmp, sizeof(tmp),
	    "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"pid\":%ld,",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, r->ts.tv_nsec / 1000000, r->pid);
	put_s(&b, tmp);
	if (r->client != NULL) {
		put_s(&b, "\"client\":");
		put_json(&b, r->client, 64);
		put_s(&b, ",");
	}
	put_s(&b, "\"name\":");
	put_json(&b, r->name, PD_LOG_NAME_MAX);
	put_s(&b, ",\"rule\":");
	put_json(&b, r->rule, 64);
	put_s(&b, ",\"verdict\":");
	/* Report mode: an answer given that enforce mode refuses. */
	put_json(&b, would_refuse(r) ? "would-refuse" :
	    pd_verdict_str(r->verdict), 16);
	put_s(&b, ",\"reason\":");
	put_json(&b, r->reason == PD_REASON_NONE ? NULL :
	    pd_reason_str(r->reason), 32);
	put_s(&b, ",\"dnssec\":");
	put_json(&b, r->dnssec, 16);
	put_s(&b, ",\"upstream\":");
	put_json(&b, r->upstream != NULL && r->upstream[0] != '\0' ?
	    r->upstream : NULL, 64);
	/*
	 * The tail ("],"ms":...}\n") needs < 64 bytes. What remains is
	 * shared: the upstreams tried may take a third, the upstream's
	 * list half of the rest, the accepted list the rest (it is the one
	 * that says what the program got).
	 */
	room = b.cap - 64 > b.n ? b.cap - 64 - b.n : 0;
	if (r->ntried > 0) {
		put_s(&b, ",\"tried\":");
		put_tried(&b, r->tried, r->ntried, b.n + room / 3);
		room = b.cap - 64 > b.n ? b.cap - 64 - b.n : 0;
	}
	put_s(&b, ",\"addresses\":");
	put_addrs(&b, r->seen, r->nseen, b.n + room / 2);
	put_s(&b, ",\"accepted\":");
	put_addrs(&b, r->accepted, r->naccepted, b.cap - 64);
	(void)snprintf(tmp, sizeof(tmp), ",\"ms\":%.1f}\n",
	    r->ms >= 0 && r->ms < 1e9 ? r->ms : 0.0);
	put_s(&b, tmp);
	out[b.n] = '\0';
	return b.n;
}

/* ------------------------------------------------------------ write */

/*
 * Write without blocking to a pipe, socket or terminal. SIGPIPE from a
 * reader that went away is blocked for the call and consumed if it was
 * ours. Returns true when the line went out whole.
 */
static bool
write_nowait(int fd, const char *s, size_t len)
{
	struct iovec iov = { (void *)s, len };
	struct pollfd pfd = { fd, POLLOUT, 0 };
	struct timespec zero = { 0, 0 };
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;
	int e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	(void)pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	was_pending = sigpending(&pending) == 0 &&
	    sigismember(&pending, SIGPIPE) == 1;
	do
		n = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL ||
	    errno == ENOSYS)) {
		/* No RWF_NOWAIT here: write only when it cannot block. */
		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT))
			n = write(fd, s, len);
	}
	e = errno;
	if (n < 0 && e == EPIPE && !was_pending)
		(void)sigtimedwait(&pipe_set, NULL, &zero);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n == (ssize_t)len;
}

static bool
write_fd(int fd, const char *s, size_t len)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0)
		return false;
	if (!S_ISREG(st.st_mode))
		return write_nowait(fd, s, len);
	do
		n = write(fd, s, len);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)len;
}

static int
syslog_connect(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, SYSLOG_PATH, sizeof(SYSLOG_PATH));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

static bool
write_syslog(struct pd_log *l, int pri, const char *line, size_t len)
{
	char msg[PD_LOG_LINE_MAX + 64];
	int fd, n, tries;

	/* RFC 3164 as glibc's syslog(3) sends it locally, minus the date. */
	n = snprintf(msg, sizeof(msg), "<%d>pindns[%ld]: %.*s", pri,
	    (long)getpid(), (int)(len > 0 ? len - 1 : 0), line);
	if (n < 0)
		return false;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	for (tries = 0; tries < 2; tries++) {
		fd = atomic_load(&l->fd);
		if (fd < 0 || tries > 0) {
			/* syslogd may have restarted: connect again, once. */
			(void)pthread_mutex_lock(&l->mu);
			if (atomic_load(&l->fd) == fd) {
				if (fd >= 0)
					(void)close(fd);
				atomic_store(&l->fd, syslog_connect());
			}
			fd = atomic_load(&l->fd);
			(void)pthread_mutex_unlock(&l->mu);
			if (fd < 0)
				return false;
		}
		if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n)
			return true;
		if (errno != ECONNREFUSED && errno != ENOTCONN &&
		    errno != EBADF && errno != ENOENT)
			return false;
	}
	return false;
}

void
pd_log_write(struct pd_log *l, const struct pd_log_rec *r)
{
	char line[PD_LOG_LINE_MAX];
	struct pd_log_rec rc;
	size_t len;
	bool ok;
	int pri;

	if (l == NULL)
		return;
	client_spell();
	if (r->client == NULL && tl_client[0] != '\0') {
		rc = *r;
		rc.client = tl_client;
		r = &rc;
	}
	len = pd_log_format(r, line, sizeof(line));
	switch (l->kind) {
	case T_NONE:
		return;
	case T_SYSLOG:
		pri = LOG_AUTH | (r->verdict == PD_VERDICT_REFUSED ||
		    r->verdict == PD_VERDICT_FAILED || would_refuse(r) ?
		    LOG_WARNING : LOG_INFO);
		ok = write_syslog(l, pri, line, len);
		break;
	case T_FILE:
		ok = write_fd(atomic_load(&l->fd), line, len);
		break;
	default:
		ok = write_fd(STDERR_FILENO, line, len);
		break;
	}
	if (!ok)
		atomic_fetch_add_explicit(&l->dropped, 1, memory_order_relaxed);
}

uint64_t
pd_log_dropped(const struct pd_log *l)
{
	return l == NULL ? 0 : atomic_load(&l->dropped);
}

void
pd_log_stderr(const char *msg)
{
	char line[1024];
	int n;

	n = snprintf(line, sizeof(line), "%s\n", msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)write_fd(STDERR_FILENO, line, (size_t)n);
}

/* ------------------------------------------------------------ open */

/* What a name that is no regular file is, for messages. */
static const char *
kind_str(mode_t m)
{
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "not a regular file";
}

static void
refused(char *err, size_t errlen, const char *path, const char *what)
{
	(void)snprintf(err, errlen, "log file %s is %s: refused (only a "
	    "regular file is written)", path, what);
}

enum pd_err
pd_log_check_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return PD_OK;	/* created at the first open */
		(void)snprintf(err, errlen, "cannot open log file %s: %s",
		    path, strerror(errno));
		return PD_EIO;
	}
	if (!S_ISREG(sb.st_mode)) {
		refused(err, errlen, path, kind_str(sb.st_mode));
		return PD_EIO;
	}
	return PD_OK;
}

/*
 * A file target: a regular file, appended to, created 0600, not inherited
 * by exec. Anything else under the name is refused: a FIFO would block
 * the open (and then the lookup) for as long as it has no reader, a
 * device is no log, and a symbolic link planted in a writable log
 * directory would have a process running as root append to, or create,
 * any file. O_NOFOLLOW refuses a final symlink and O_NONBLOCK keeps the
 * open itself from waiting; the type is then taken from what was opened
 * (fstat), so swapping the name after the lstat gains nothing. The lstat
 * first only spares a device the open. Returns -1 with err set.
 */
static int
open_file(const char *path, char *err, size_t errlen)
{
	int fd, fl;
	struct stat sb;

	if (pd_log_check_file(path, err, errlen) != PD_OK)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
	    O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0 && (errno == ELOOP || errno == ENXIO)) {
		refused(err, errlen, path, errno == ELOOP ?
		    "a symbolic link" : "a FIFO or socket");
		return -1;
	}
	if (fd < 0) {
		(void)snprintf(err, errlen, "cannot open log file %s: %s",
		    path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) != 0)
		sb.st_mode = 0;
	if (!S_ISREG(sb.st_mode)) {
		refused(err, errlen, path, kind_str(sb.st_mode));
		(void)close(fd);
		return -1;
	}
	/* Appends to a file: the descriptor blocks as any file's does. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1) {
		(void)snprintf(err, errlen, "cannot open log file %s: %s",
		    path, strerror(errno));
		(void)close(fd);
		return -1;
	}
	return fd;
}

enum pd_err
pd_log_open(const char *spec, struct pd_log **lp, char *err, size_t errlen)
{
	struct pd_log *l;
	enum target kind;
	int fd = -1;

	if (spec == NULL || strcmp(spec, "stderr") == 0)
		kind = T_STDERR;
	else if (strcmp(spec, "syslog") == 0)
		kind = T_SYSLOG;
	else if (strcmp(spec, "none") == 0)
		kind = T_NONE;
	else if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
		kind = T_FILE;
		if ((fd = open_file(spec + 5, err, errlen)) < 0)
			return PD_EIO;
	} else {
		(void)snprintf(err, errlen, "bad log target '%s' (want "
		    "stderr, syslog or file:/path)", spec);
		return PD_EINVAL;
	}
	if ((l = calloc(1, sizeof(*l) + (kind == T_FILE ?
	    strlen(spec + 5) + 1 : 1))) == NULL) {
		if (fd >= 0)
			(void)close(fd);
		(void)snprintf(err, errlen, "out of memory");
		return PD_ENOMEM;
	}
	l->kind = kind;
	if (kind == T_FILE)
		strcpy(l->path, spec + 5);
	atomic_init(&l->fd, fd);
	atomic_init(&l->dropped, 0);
	(void)pthread_mutex_init(&l->mu, NULL);
	*lp = l;
	return PD_OK;
}

/*
 * logrotate renames the file (or removes it) and expects the writer to
 * start a new one under the name. The new file is put in place of the old
 * one under the same descriptor number (dup3 replaces it atomically), so a
 * thread writing meanwhile writes whole lines to one file or the other,
 * never to a closed or reused descriptor.
 *
 * The stat and the open run without l->mu: on a slow file system they may
 * take long, and fork() waits for l->mu (pd_log_lock). Two threads
 * reopening at once both open the same name and put it in place in turn.
 */
void
pd_log_reopen(struct pd_log *l)
{
	struct stat cur, named;
	char msg[512], line[640];
	int fd, nfd;

	if (l == NULL || l->kind != T_FILE)
		return;
	/* A file target's descriptor number never changes. */
	fd = atomic_load(&l->fd);
	if (fd < 0 || fstat(fd, &cur) != 0 || (stat(l->path, &named) == 0 &&
	    named.st_dev == cur.st_dev && named.st_ino == cur.st_ino))
		return;
	/* The open (file I/O) outside the lock: fork() may take it. */
	nfd = open_file(l->path, msg, sizeof(msg));
	if (nfd < 0) {
		/* Keep writing where we can; say so once per refusal. */
		if (!atomic_exchange(&l->reopen_said, true)) {
			(void)snprintf(line, sizeof(line), "pindns: audit %s; "
			    "lines go on to the file open before", msg);
			pd_log_stderr(line);
		}
		return;
	}
	atomic_store(&l->reopen_said, false);
	(void)pthread_mutex_lock(&l->mu);
	(void)dup3(nfd, fd, O_CLOEXEC);
	(void)pthread_mutex_unlock(&l->mu);
	(void)close(nfd);
}

void
pd_log_lock(struct pd_log *l)
{
	if (l != NULL)
		(void)pthread_mutex_lock(&l->mu);
}

void
pd_log_unlock(struct pd_log *l)
{
	if (l != NULL)
		(void)pthread_mutex_unlock(&l->mu);
}

void
pd_log_close(struct pd_log *l)
{
	int fd;

	if (l == NULL)
		return;
	fd = atomic_load(&l->fd);
	if (fd >= 0)
		(void)close(fd);
	(void)pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ------------------------------------------------------------ spellings */

const char *
pd_verdict_str(enum pd_verdict v)
{
	switch (v) {
	case PD_VERDICT_SYSTEM:		return "system";
	case PD_VERDICT_SYSTEM_PINNED:	return "system-pinned";
	case PD_VERDICT_ACCEPTED:	return "accepted";
	case PD_VERDICT_ABSENT:		return "absent";
	case PD_VERDICT_REFUSED:	return "refused";
	case PD_VERDICT_FAILED:		return "failed";
	}
	return "unknown";
}

const char *
pd_reason_str(enum pd_reason r)
{
	switch (r) {
	case PD_REASON_NONE:			return "";
	case PD_REASON_NXDOMAIN:		return "nxdomain";
	case PD_REASON_NODATA:			return "nodata";
	case PD_REASON_BOGUS:			return "bogus";
	case PD_REASON_INSECURE:		return "insecure";
	case PD_REASON_OUTSIDE_PIN:		return "outside-pin";
	case PD_REASON_CNAME_ESCAPE:		return "cname-escape";
	case PD_REASON_TLS_AUTH:		return "tls-auth";
	case PD_REASON_DENY_RULE:		return "deny-rule";
	case PD_REASON_POLICY_UNLOADABLE:	return "policy-unloadable";
	case PD_REASON_TIMEOUT:			return "timeout";
	case PD_REASON_UNREACHABLE:		return "unreachable";
	case PD_REASON_STALE:			return "stale";
	case PD_REASON_OTHER_TYPE:		return "other-type";
	}
	return "unknown";
}

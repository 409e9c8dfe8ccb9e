/*
 * pindns audit log (SPEC §7; issue 4, item 8): one JSON object per line on
 * stderr, syslog or a file.
 *
 * Each line goes out in one write(2) (one datagram for syslog) of at most
 * PD_LOG_LINE_MAX bytes, so lines from threads and processes sharing the
 * target never interleave (PIPE_BUF makes pipe writes of that size
 * atomic; O_APPEND does it for files).
 *
 * Logging never blocks a lookup for long: a line that the target cannot
 * take at once is dropped and counted, never waited for.
 *  - pipes, sockets, terminals (stderr, usually): pwritev2(RWF_NOWAIT),
 *    one system call that fails with EAGAIN instead of blocking; where a
 *    kernel refuses the flag, poll() with a zero timeout first. The host's
 *    file description is never switched to O_NONBLOCK (that would change
 *    the program's own writes). SIGPIPE from a closed reader is blocked
 *    and consumed, never delivered to the host.
 *  - regular files: plain write(2) with O_APPEND (disk writes do not wait
 *    on a reader; RWF_NOWAIT would fail spuriously on appends).
 *  - syslog: our own non-blocking datagram socket on /dev/log, facility
 *    LOG_AUTH, "pindns[PID]:" tag. Not syslog(3): it may block on a full
 *    socket, and openlog(3) would change the host program's own identity.
 */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/addr.h"
#include "policy/err.h"
#include "resolver/engine.h"

/* Longest line written, newline included (PIPE_BUF on Linux). */
#define PD_LOG_LINE_MAX		4096
/* Bytes of a name logged; longer names are cut and end in "...". */
#define PD_LOG_NAME_MAX		255

/* One audit record (SPEC §7). Strings may be NULL (logged as null). */
struct pd_log_rec {
	struct timespec		 ts;		/* CLOCK_REALTIME */
	long			 pid;
	const char		*name;		/* as the caller passed it */
	const char		*rule;
	enum pd_verdict		 verdict;	/* ACCEPTED..FAILED */
	enum pd_reason		 reason;	/* NONE: null */
	const char		*dnssec;
	const char		*upstream;	/* NULL or "": null */
	const struct pd_try	*tried;		/* upstreams that failed */
	unsigned		 ntried;
	const struct pd_addr	*seen;		/* what the upstream gave */
	unsigned		 nseen;
	const struct pd_addr	*accepted;	/* what the caller got */
	unsigned		 naccepted;
	double			 ms;
	const char		*client;	/* pindns serve: "ADDR:PORT";
						 * NULL: not in the line */
};

struct pd_log;

/*
 * Open a target: "stderr", "syslog", "none" (every line dropped: what
 * `pindns query` uses unless asked for --audit) or "file:/path" (the file
 * is created 0600 if missing, opened O_APPEND|O_CLOEXEC). Only a regular file is
 * taken: a final symbolic link, a FIFO, a socket, a device or a
 * directory under the name is refused, and the open never blocks (a FIFO
 * without a reader). On failure *lp is untouched and err says why
 * (PD_EINVAL for a bad spec, PD_EIO for a file that cannot be opened or
 * is refused). syslog connects lazily.
 */
enum pd_err pd_log_open(const char *spec, struct pd_log **lp, char *err,
    size_t errlen);

/*
 * For a file target: when the file under its name is no longer the one
 * open (renamed or removed, as logrotate does), open the name again and
 * write there from now on. Cheap (a stat and an fstat); no-op for other
 * targets. Thread-safe. A name that is refused as pd_log_open() refuses
 * it (or cannot be opened) leaves the lines going to the file open
 * before, and says so once on stderr.
 */
void pd_log_reopen(struct pd_log *l);

/*
 * Would pd_log_open() refuse the file target path as it is now (a
 * symbolic link, FIFO, socket, device or directory under the name)?
 * Looks only (lstat): creates and opens nothing. A missing file is fine
 * (PD_OK: it is created at the first open). PD_EIO with err set
 * otherwise. For `pindns check`.
 */
enum pd_err pd_log_check_file(const char *path, char *err, size_t errlen);

/*
 * fork(): the host takes l's lock in its pthread_atfork prepare handler
 * and releases it on both sides, so a child never inherits it held by a
 * thread it does not have. It is held only over a descriptor swap or a
 * syslog reconnect (non-blocking), never across file I/O. NULL: no-op.
 */
void pd_log_lock(struct pd_log *l);
void pd_log_unlock(struct pd_log *l);

/* Close. NULL is a no-op. */
void pd_log_close(struct pd_log *l);

/*
 * Format r as one JSON line ending in '\n' into buf (size at least
 * PD_LOG_LINE_MAX). Names are JSON-escaped byte by byte: '"' and '\\'
 * escaped, control bytes and every byte >= 0x80 as \u00XX, so any input
 * gives valid JSON. Address lists are cut when the line would exceed
 * PD_LOG_LINE_MAX. Returns the length. Pure (tests call it directly).
 */
size_t pd_log_format(const struct pd_log_rec *r, char *buf, size_t size);

/*
 * Write s as a JSON string (quotes included; NULL gives null) into out,
 * escaped as in pd_log_format(), at most max bytes of s ("..." marks a
 * cut). Returns the length written; out is always NUL-terminated and
 * holds the whole string when outsize >= 6 * max + 6.
 */
size_t pd_log_json_str(const char *s, size_t max, char *out, size_t outsize);

/* Format and write r. Thread-safe, fork-safe, never blocks for long. */
void pd_log_write(struct pd_log *l, const struct pd_log_rec *r);

/*
 * pindns serve: lines this thread writes from now on carry "client":
 * client (an address and port); NULL stops it.
 */
void pd_log_set_client(const char *client);
/* The same for a client's socket address (AF_INET or AF_INET6). */
struct sockaddr;
void pd_log_set_client_sa(const struct sockaddr *sa);

/* Lines dropped because the target could not take them at once. */
uint64_t pd_log_dropped(const struct pd_log *l);

/*
 * Write one line of text to stderr (a human message such as "pindns:
 * cannot load policy ..."), with the same never-block rules. A newline is
 * appended.
 */
void pd_log_stderr(const char *msg);

#endif /* PD_LOG_H */

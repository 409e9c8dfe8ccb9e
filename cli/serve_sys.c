/*
 * pindns serve: what a daemon needs from the system (SPEC §8): the
 * system resolver's nameservers, its listening sockets, dropping
 * privileges after binding, and systemd's readiness protocol.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli/serve.h"

/* ------------------------------------------------------------ resolv.conf */

/* One word of an "options" line, as glibc's res_init reads it. */
static void
option(const char *w, struct pd_stub_conf *c)
{
	long v;

	if (strncmp(w, "timeout:", 8) == 0) {
		v = strtol(w + 8, NULL, 10);
		/* glibc caps at RES_MAXRETRANS; 0 waits 1 s there. */
		c->timeout_s = v < 1 ? 1 : v > PD_STUB_TIMEOUT_MAX ?
		    PD_STUB_TIMEOUT_MAX : (unsigned)v;
	} else if (strncmp(w, "attempts:", 9) == 0) {
		v = strtol(w + 9, NULL, 10);
		/* glibc caps at RES_MAXRETRY; 0 (no try at all) is one. */
		c->attempts = v < 1 ? 1 : v > PD_STUB_ATTEMPTS_MAX ?
		    PD_STUB_ATTEMPTS_MAX : (unsigned)v;
	} else if (strcmp(w, "rotate") == 0)
		c->rotate = true;
}

int
pd_serve_resolv(const char *path, struct pd_stub_conf *c, char *why,
    size_t whylen)
{
	struct addrinfo hints, *ai;
	char line[512], word[16], addr[128], *w, *save;
	FILE *f;

	memset(c, 0, sizeof(*c));
	c->timeout_s = 5;	/* RES_TIMEOUT */
	c->attempts = 2;	/* RES_DFLRETRY */
	if ((f = fopen(path, "re")) == NULL) {
		(void)snprintf(why, whylen, "%s: %s", path, strerror(errno));
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	/*
	 * resolv(5): "nameserver ADDRESS" lines, the first MAXNS (3) used,
	 * always port 53; a link-local IPv6 address may carry %IFACE.
	 * "options" lines: timeout:N, attempts:N, rotate (the rest is for
	 * the stub's caller, not its sending).
	 */
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "options", 7) == 0 &&
		    (line[7] == ' ' || line[7] == '\t')) {
			for (w = strtok_r(line + 7, " \t\r\n", &save); w != NULL;
			    w = strtok_r(NULL, " \t\r\n", &save))
				option(w, c);
			continue;
		}
		if (c->n == PD_STUB_NS_MAX ||
		    sscanf(line, "%15s %127s", word, addr) != 2 ||
		    strcmp(word, "nameserver") != 0)
			continue;
		if (getaddrinfo(addr, "53", &hints, &ai) != 0)
			continue;	/* as glibc: an unreadable line is skipped */
		if (ai->ai_addrlen <= sizeof(c->ns[c->n])) {
			memcpy(&c->ns[c->n], ai->ai_addr, ai->ai_addrlen);
			c->nslen[c->n++] = ai->ai_addrlen;
		}
		freeaddrinfo(ai);
	}
	(void)fclose(f);
	return (int)c->n;
}

/* ------------------------------------------------------------ sockets */

void
pd_serve_sockaddr(const struct pd_listen *l, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (l->addr.family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(l->port);
		memcpy(&s4->sin_addr, l->addr.addr, 4);
		*len = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(l->port);
		memcpy(&s6->sin6_addr, l->addr.addr, 16);
		*len = sizeof(*s6);
	}
}

int
pd_serve_bind(const struct pd_listen *l, int *ufdp, int *lfdp)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1, ufd = -1, lfd = -1, fam = l->addr.family, e;
	int rcvbuf = 4 * 1024 * 1024;

	pd_serve_sockaddr(l, &ss, &len);
	if ((ufd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0 || (lfd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (fam == AF_INET6) {
		(void)setsockopt(ufd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
		(void)setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		    sizeof(one));
	}
	/* Room for bursts (capped by net.core.rmem_max). */
	(void)setsockopt(ufd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* A restart must not wait for TIME_WAIT connections to go. */
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ufd, (struct sockaddr *)&ss, len) != 0 ||
	    bind(lfd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(lfd, 128) != 0)
		goto fail;
	*ufdp = ufd;
	*lfdp = lfd;
	return 0;
fail:
	e = errno;
	if (ufd >= 0)
		(void)close(ufd);
	if (lfd >= 0)
		(void)close(lfd);
	errno = e;
	return -1;
}

/* ------------------------------------------------------------ privileges */

int
pd_serve_drop(const char *user, bool named, char *msg, size_t msglen)
{
	struct passwd *pw;
	gid_t gid;

	msg[0] = '\0';
	if (geteuid() != 0) {
		if (named) {
			(void)snprintf(msg, msglen, "-u %s: not started as "
			    "root, so no user can be switched to", user);
			return -1;
		}
		return 0;
	}
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		if (named) {
			(void)snprintf(msg, msglen, "-u %s: no such user",
			    user);
			return -1;
		}
		(void)snprintf(msg, msglen, "no user '%s': running as root "
		    "(create the user, or name one with -u USER)", user);
		return 0;
	}
	gid = pw->pw_gid;
	if (setgroups(1, &gid) != 0 || setgid(gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		(void)snprintf(msg, msglen, "cannot become %s: %s", user,
		    strerror(errno));
		return -1;
	}
	/* No way back: a process that can regain root has not dropped it. */
	if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		(void)snprintf(msg, msglen, "could regain root after "
		    "becoming %s", user);
		return -1;
	}
	(void)snprintf(msg, msglen, "running as %s (uid %u)", user,
	    (unsigned)pw->pw_uid);
	return 1;
}

/* ------------------------------------------------------------ systemd */

void
pd_serve_notify(const char *state)
{
	/*
	 * sd_notify(3)'s protocol: one datagram of "KEY=VALUE" lines to the
	 * AF_UNIX socket named in $NOTIFY_SOCKET (a path, or '@' for the
	 * abstract namespace). No library needed; nothing when unset.
	 */
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t pl;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (pl = strlen(path)) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, pl);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + pl +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	(void)close(fd);
}

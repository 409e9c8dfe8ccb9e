/*
 * lab_hung: the lab's hung upstream. Listens on ADDR:PORT (TCP), accepts
 * every connection and then does nothing with it: never reads, never
 * writes, never closes, so a DoT client sees its TCP connect succeed and
 * its TLS ClientHello vanish. That is the blackhole case a resolver must
 * bound by its own timeout.
 *
 *	lab_hung ADDR PORT
 *
 * Runs in the foreground until killed (SIGTERM). The lab records its PID.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int
parse_port(const char *s, unsigned short *portp)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return -1;
	*portp = (unsigned short)v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct rlimit rl;
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	unsigned short port;
	int s, fd, one = 1;

	if (argc != 3 || parse_port(argv[2], &port) != 0) {
		fprintf(stderr, "usage: lab_hung ADDR PORT\n");
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1) {
		fprintf(stderr, "lab_hung: not an IPv4 address: %s\n", argv[1]);
		return 2;
	}

	/* Held connections are the point: allow as many as the system does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}

	if ((s = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		perror("lab_hung: socket");
		return 1;
	}
	/* A restart must get the same port back while old sockets linger. */
	if (setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(s, 1024) != 0) {
		fprintf(stderr, "lab_hung: %s:%s: %s\n", argv[1], argv[2],
		    strerror(errno));
		return 1;
	}
	fprintf(stderr, "lab_hung: listening on %s:%s\n", argv[1], argv[2]);

	for (;;) {
		fd = accept(s, NULL, NULL);
		if (fd >= 0)
			continue;	/* kept open, never touched */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		    errno == ENOMEM) {
			/*
			 * Out of descriptors: the kernel still completes
			 * handshakes into the backlog, which is just as hung.
			 */
			nanosleep(&pause, NULL);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		perror("lab_hung: accept");
		return 1;
	}
}

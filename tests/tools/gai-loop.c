/*
 * gai-loop NAME N: N x getaddrinfo(NAME, "443", {AF_UNSPEC, SOCK_STREAM})
 * + freeaddrinfo, nothing else (for instruction counts under callgrind:
 * the difference between N and 1 calls is N-1 calls' worth). Links libc
 * only. Exits 1 if any call fails.
 */
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
main(int argc, char **argv)
{
	struct addrinfo h, *r;
	long i, n;
	int bad = 0;

	if (argc != 3)
		return 2;
	n = atol(argv[2]);
	memset(&h, 0, sizeof(h));
	h.ai_socktype = SOCK_STREAM;
	for (i = 0; i < n; i++) {
		if (getaddrinfo(argv[1], "443", &h, &r) != 0) {
			bad = 1;
			continue;
		}
		freeaddrinfo(r);
	}
	return bad;
}

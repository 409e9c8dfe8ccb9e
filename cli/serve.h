/* pindns serve (cli/serve.c): the system side (cli/serve_sys.c). */
#ifndef PD_CLI_SERVE_H
#define PD_CLI_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "policy/policy.h"
#include "resolver/serve.h"

/*
 * The resolv.conf at path as glibc's stub reads it: the first three
 * nameservers, port 53, in file order, and the options timeout:,
 * attempts: and rotate (capped as glibc caps them, at least 1). The
 * count of nameservers (0: none), or -1 when the file cannot be read
 * (why says so).
 */
int	pd_serve_resolv(const char *path, struct pd_stub_conf *c, char *why,
	    size_t whylen);

/* l as a socket address. */
void	pd_serve_sockaddr(const struct pd_listen *l,
	    struct sockaddr_storage *ss, socklen_t *len);

/*
 * A UDP socket and a listening TCP socket bound to l (non-blocking,
 * close-on-exec; IPv6 ones IPv6 only). 0, or -1 with errno.
 */
int	pd_serve_bind(const struct pd_listen *l, int *ufdp, int *lfdp);

/*
 * Become user (named: given with -u, so its absence is an error) when
 * running as root. 1 done, 0 nothing done, -1 error; msg says what
 * happened when there is something to say (msg[0] '\0' otherwise).
 */
int	pd_serve_drop(const char *user, bool named, char *msg, size_t msglen);

/* sd_notify(3): send state ("READY=1", ...) when $NOTIFY_SOCKET is set. */
void	pd_serve_notify(const char *state);

#endif /* PD_CLI_SERVE_H */

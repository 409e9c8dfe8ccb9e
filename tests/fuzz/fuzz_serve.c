/*
 * libFuzzer target: pindns serve's query path, from what a client sends
 * to what it gets back, with the real engine and a real policy
 * (resolver/resp.h, resolver/serve.h).
 *
 * The first byte picks the door:
 *  - even: the rest is one UDP datagram, taken as resp_serve.c's
 *    serve_udp takes it: pd_resp_classify, pd_resp_serve_act (no system
 *    nameserver), then pd_resp_odd or pd_resp_answer (a query a worker
 *    would take gets what a full queue gets: pd_resp_error);
 *  - odd: the rest is a TCP byte stream, written into a real connection
 *    thread of the responder (pd_resp_tcp_start on one end of a stream
 *    socketpair, as serve's accept hands it a client) and read back
 *    until it closes.
 * The policy answers everything without the network (static, deny, a
 * pinned and a plain `system` rule that serve without a nameserver
 * refuses, default deny), so an input never waits on DNS.
 *
 * Invariants beyond "no crash, no sanitizer report, no hang": every
 * reply has QR set, exactly one question and the ID of a query sent;
 * a UDP reply fits the client's payload size; TCP replies are whole
 * frames.
 *
 *	make fuzz-build && build-fuzz/fuzz_serve tests/fuzz/corpus/serve
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "resolver/engine.h"
#include "resolver/resp.h"
#include "resolver/serve.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TCP_WAIT_MS	5000	/* far above what an input needs */

static uint8_t out[PD_RESP_MSG_MAX];
static uint8_t in[4 * PD_RESP_MSG_MAX];
static char audit[256];		/* every verdict is logged (level all) */
static unsigned long runs;

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_serve: invariant broken: %s\n", what);
	abort();
}

/* A reply: QR, one question, the ID of something sent. */
static void
check_reply(const uint8_t *msg, size_t len, const uint8_t *sent,
    size_t slen)
{
	size_t i;

	if (len < 12)
		fail("a reply shorter than a header");
	if ((msg[2] & 0x80) == 0)
		fail("a reply without QR");
	if ((msg[4] << 8 | msg[5]) != 1)
		fail("a reply without exactly one question");
	/* The ID of some query in what was sent (TCP: anywhere in it). */
	for (i = 0; i + 1 < slen; i++)
		if (sent[i] == msg[0] && sent[i + 1] == msg[1])
			return;
	fail("a reply with an ID never sent");
}

static void
udp(const uint8_t *data, size_t size)
{
	struct pd_resp_q rq;
	size_t n = 0;
	bool unread;

	if (size > sizeof(out))
		return;
	memcpy(out, data, size);
	pd_resp_classify(out, size, &rq, &unread);
	if (unread)
		fail("the backend cannot read a query");
	rq.act = pd_resp_serve_act(&rq, false);
	switch (rq.act) {
	case PD_RESP_ODD:
		n = pd_resp_odd(&rq, out, sizeof(out));
		break;
	case PD_RESP_NOW:
		n = pd_resp_answer(&rq, out, sizeof(out),
		    pd_resp_udp_limit(&rq));
		break;
	case PD_RESP_FORWARD:
	case PD_RESP_PINNED:
		fail("serve without a nameserver forwards");
		break;
	case PD_RESP_WAIT:
		n = pd_resp_error(&rq, PD_VERDICT_FAILED, PD_REASON_NONE, out,
		    sizeof(out));
		break;
	}
	if (n == 0)
		return;
	if (n > pd_resp_udp_limit(&rq))
		fail("a UDP reply longer than the client takes");
	check_reply(out, n, data, size);
}

/* The replies in buf[0..len-1], framed; a partial frame is an error. */
static void
check_frames(const uint8_t *buf, size_t len, const uint8_t *sent,
    size_t slen)
{
	size_t off = 0, n;

	while (off < len) {
		if (len - off < 2)
			fail("half a TCP length");
		n = (size_t)buf[off] << 8 | buf[off + 1];
		if (len - off - 2 < n)
			fail("a TCP reply cut short");
		check_reply(buf + off + 2, n, sent, slen);
		off += 2 + n;
	}
}

static void
tcp(const uint8_t *data, size_t size)
{
	struct pollfd pfd;
	size_t sent = 0, got = 0;
	ssize_t r;
	int sv[2], waited = 0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		fail("socketpair");
	if (pd_resp_tcp_start(sv[1], NULL, 0, true, NULL) != 0)
		fail("no connection thread");
	if (size == 0)
		(void)shutdown(sv[0], SHUT_WR);
	pfd.fd = sv[0];
	for (;;) {
		pfd.events = POLLIN | (sent < size ? POLLOUT : 0);
		if (poll(&pfd, 1, 100) == 0) {
			if ((waited += 100) >= TCP_WAIT_MS)
				fail("the connection neither answers nor closes");
			continue;
		}
		if ((pfd.revents & POLLOUT) && sent < size) {
			r = send(sv[0], data + sent, size - sent, MSG_NOSIGNAL);
			if (r > 0 && (sent += (size_t)r) == size)
				(void)shutdown(sv[0], SHUT_WR);
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				sent = size;	/* it closed on us */
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (got == sizeof(in))
				fail("more replies than queries could get");
			r = recv(sv[0], in + got, sizeof(in) - got, 0);
			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EINTR))
				break;
			if (r > 0)
				got += (size_t)r;
		}
	}
	(void)close(sv[0]);
	check_frames(in, got, data, size);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char dir[] = "/tmp/pindns-fuzz-serve.XXXXXX";
	static char path[256];
	struct pd_engine_cfg cfg;
	FILE *f;

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		fail("mkdtemp");
	(void)snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	if ((f = fopen(path, "w")) == NULL)
		fail("policy file");
	fprintf(f, "version: 1\n"
	    "upstream_recursive_servers:\n"
	    "  - address_data: 127.0.0.1\n"
	    "    tls_port: 1\n"
	    "    tls_auth_name: never.used.test\n"
	    "log:\n  target: file:%s/audit.log\n  level: all\n"
	    "default: deny\n"
	    "rules:\n"
	    "  - name: local\n"
	    "    match: [dynamodb.local.test]\n"
	    "    action: static\n"
	    "    addresses: [127.0.0.1, \"::1\", 127.0.0.2]\n"
	    "  - name: big\n"
	    "    match: [big.local.test]\n"
	    "    action: static\n"
	    "    addresses: [", dir);
	for (int i = 1; i <= 60; i++)
		fprintf(f, "127.0.30.%d%s", i, i < 60 ? ", " : "]\n");
	fprintf(f, "  - name: blocked\n"
	    "    match: [\"**.blocked.test\"]\n"
	    "    action: deny\n"
	    "  - name: vpc\n"
	    "    match: [\"*.vpc.test\"]\n"
	    "    action: system\n"
	    "    pin: [10.0.0.0/8]\n"
	    "  - name: plain\n"
	    "    match: [plain.test]\n"
	    "    action: system\n");
	if (fclose(f) != 0)
		fail("policy file");
	(void)snprintf(audit, sizeof(audit), "%s/audit.log", dir);
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = path;
	if (pd_engine_init(&cfg) != 0)
		fail("the engine does not start");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Audit lines are formatted and written; the file is kept small. */
	if (++runs % 4096 == 0)
		(void)truncate(audit, 0);
	if (size == 0)
		return 0;
	if ((data[0] & 1) == 0)
		udp(data + 1, size - 1);
	else
		tcp(data + 1, size - 1);
	return 0;
}

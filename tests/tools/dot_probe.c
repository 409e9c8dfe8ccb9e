/*
 * dot_probe: drive the DoT backend shared object (libpindns-dot.so) from
 * the command line, for integration tests that watch it from outside
 * (strace) and for fork/exec checks. It loads the backend with dlopen
 * exactly as the engine does and builds a policy by hand (plain data).
 *
 *	dot_probe -s DOTSO [-A ADDR] [-n AUTHNAME] [-c CAFILE] [-a ANCHORS]
 *	    [-t TIMEOUT_MS] [-m validate|required|off] [-F] [-E]
 *	    -u PORT[/HEXPIN] [-u ...] NAME...
 *
 * Prints one line per NAME:
 *	NAME status=ok|timeout|unreachable|tls-auth|error up=LABEL
 *	    a=ADDR,... aaaa=ADDR,... sec=A/AAAA
 * -F  then fork: the child frees the inherited backend (printing the
 *     parent's socket before), makes a fresh one and resolves NAME[0];
 *     the parent waits and resolves NAME[0] again.
 * -E  then run `ls -l /proc/self/fd` and print how many sockets the
 *     exec'd program holds ("exec-sockets: N").
 * Exit status: 0 when every lookup had status ok, 1 otherwise, 2 usage.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolver/dot/dot.h"
#include "tests/tools/pfile.h"

#define MAX_UP	4

static const char *const st_names[] = {
	"ok", "timeout", "unreachable", "tls-auth", "error"
};

static int
hex_pin(const char *hex, uint8_t out[32])
{
	unsigned i, v;

	if (strlen(hex) != 64)
		return -1;
	for (i = 0; i < 32; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	return 0;
}

static void
print_addrs(const char *key, const struct pd_dot_rrset *r)
{
	char b[64];
	unsigned i;

	printf(" %s=", key);
	for (i = 0; i < r->naddrs; i++) {
		inet_ntop(r->addrs[i].family, r->addrs[i].addr, b, sizeof(b));
		printf("%s%s", i ? "," : "", b);
	}
}

static int
lookup(const struct pd_dot_ops *ops, struct pd_dot *d, const char *name,
    enum pd_dnssec_mode mode)
{
	struct pd_dot_result res;
	enum pd_err r;

	r = ops->resolve(d, name, PD_WANT_A | PD_WANT_AAAA, mode, &res);
	if (r != PD_OK) {
		printf("%s status=error (resolve returned %d)\n", name, r);
		return 1;
	}
	printf("%s status=%s up=%s", name, st_names[res.status],
	    res.upstream);
	print_addrs("a", &res.a);
	print_addrs("aaaa", &res.aaaa);
	printf(" sec=%d/%d", res.a.sec, res.aaaa.sec);
	if (res.detail[0])
		printf(" detail=\"%s\"", res.detail);
	printf("\n");
	fflush(stdout);
	return res.status == PD_DOT_OK ? 0 : 1;
}

/* "fd:localport" of every socket connected to one of the upstreams. */
static void
print_sockets(const char *who, const struct pd_policy *p)
{
	struct sockaddr_in peer, me;
	socklen_t l;
	size_t i;
	int fd;

	printf("%s-sockets:", who);
	for (fd = 3; fd < 1024; fd++) {
		l = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &l) != 0 ||
		    peer.sin_family != AF_INET)
			continue;
		for (i = 0; i < p->nupstreams; i++)
			if (ntohs(peer.sin_port) == p->upstreams[i].tls_port)
				break;
		if (i == p->nupstreams)
			continue;
		l = sizeof(me);
		getsockname(fd, (struct sockaddr *)&me, &l);
		printf(" %d:%u", fd, ntohs(me.sin_port));
	}
	printf("\n");
	fflush(stdout);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dot_probe -s DOTSO [-A ADDR] [-n AUTHNAME] "
	    "[-c CAFILE] [-a ANCHORS] [-t MS] [-m MODE] [-F] [-E] "
	    "-u PORT[/HEXPIN]... NAME...\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct pd_upstream ups[MAX_UP];
	static struct pd_spki_pin pins[MAX_UP];
	static struct pd_policy p;
	static struct pd_policy_file ca, ta;
	const char *so = NULL, *addr = "127.0.0.1", *auth = "dot.lab.test";
	const struct pd_dot_ops *ops;
	enum pd_dnssec_mode mode = PD_DNSSEC_VALIDATE;
	struct pd_dot *d = NULL, *d2 = NULL;
	int c, i, fail = 0, dofork = 0, doexec = 0, st;
	char err[256], *slash, line[512];
	void *h;
	pid_t pid;
	FILE *f;

	p.timeout_ms = 2000;
	p.idle_timeout_ms = 10000;
	p.upstreams = ups;
	p.default_rule.action = PD_ACTION_SECURE;
	while ((c = getopt(argc, argv, "s:A:n:c:a:t:m:u:FE")) != -1) {
		switch (c) {
		case 's': so = optarg; break;
		case 'A': addr = optarg; break;
		case 'n': auth = optarg; break;
		case 'c':
			(void)pd_tools_pfile(&ca, optarg);
			p.tls_ca = &ca;
			break;
		case 'a':
			(void)pd_tools_pfile(&ta, optarg);
			p.anchors = &ta;
			p.nanchors = 1;
			break;
		case 't': p.timeout_ms = (uint32_t)atoi(optarg); break;
		case 'm':
			mode = strcmp(optarg, "off") == 0 ? PD_DNSSEC_OFF :
			    strcmp(optarg, "required") == 0 ?
			    PD_DNSSEC_REQUIRED : PD_DNSSEC_VALIDATE;
			break;
		case 'F': dofork = 1; break;
		case 'E': doexec = 1; break;
		case 'u':
			if (p.nupstreams == MAX_UP)
				usage();
			ups[p.nupstreams].tls_port = (uint16_t)atoi(optarg);
			if ((slash = strchr(optarg, '/')) != NULL) {
				if (hex_pin(slash + 1,
				    pins[p.nupstreams].sha256) != 0)
					usage();
				ups[p.nupstreams].pins = &pins[p.nupstreams];
				ups[p.nupstreams].npins = 1;
			}
			p.nupstreams++;
			break;
		default:
			usage();
		}
	}
	if (so == NULL || p.nupstreams == 0 || optind >= argc)
		usage();
	for (i = 0; i < (int)p.nupstreams; i++) {
		ups[i].addr.family = AF_INET;
		if (inet_pton(AF_INET, addr, ups[i].addr.addr) != 1)
			usage();
		ups[i].tls_auth_name = (char *)auth;
		snprintf(ups[i].label, sizeof(ups[i].label), "%s:%u", addr,
		    ups[i].tls_port);
	}
	p.default_rule.dnssec = mode;

	if ((h = dlopen(so, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (ops = dlsym(h, PD_DOT_SYMBOL)) == NULL || ops->abi != PD_DOT_ABI) {
		fprintf(stderr, "dot_probe: cannot load %s: %s\n", so,
		    dlerror());
		return 1;
	}
	if (ops->new(&p, NULL, &d, err, sizeof(err)) != PD_OK) {
		fprintf(stderr, "dot_probe: %s\n", err);
		return 1;
	}
	for (i = optind; i < argc; i++)
		fail |= lookup(ops, d, argv[i], mode);

	if (doexec) {
		int socks = 0;

		fflush(stdout);
		if ((f = popen("ls -l /proc/self/fd", "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (strstr(line, "socket:") != NULL)
					socks++;
			if (pclose(f) != 0)
				fail = 1;
		} else
			fail = 1;
		printf("exec-sockets: %d\n", socks);
	}
	if (dofork) {
		print_sockets("parent", &p);
		pid = fork();
		if (pid == 0) {
			printf("child-pid: %d\n", (int)getpid());
			fflush(stdout);
			ops->free(d);
			printf("child: freed the inherited backend\n");
			if (ops->new(&p, NULL, &d2, err, sizeof(err)) != PD_OK)
				_exit(3);
			fail = lookup(ops, d2, argv[optind], mode);
			ops->free(d2);
			fflush(stdout);
			_exit(fail);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			printf("child failed\n");
			fail = 1;
		}
		printf("parent-after-fork: ");
		fail |= lookup(ops, d, argv[optind], mode);
		print_sockets("parent", &p);
	}
	ops->free(d);
	return fail;
}

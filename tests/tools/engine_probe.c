/*
 * engine_probe: load libpindns-engine.so the way the preload does (dlopen,
 * dlsym of pindns_engine_v1) and look names up through its table.
 *
 *   engine_probe ENGINE.so POLICY [-m] [-s] [-f] NAME...
 *
 * Prints "NAME verdict reason addr,addr" per lookup. Flags apply from where
 * they stand:
 *   -m  print "getdns: mapped|unmapped" (is libgetdns in /proc/self/maps?)
 *   -s  print "sockets: N" (socket descriptors open in this process)
 *       and "fds: N,N,..." (their numbers)
 *   -f  fork; the child looks up the rest of the names, the parent waits
 *       for it and then looks them up too. The child prints "child:" and
 *       the parent "parent:" before their lookups.
 * Exit 0, or 1 on a usage or load error.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "resolver/engine.h"

static const struct pd_engine_ops *ops;

/* The tool links no engine object: SPEC §7 spellings, by enum order. */
static const char *const verdicts[] = { "system", "system-pinned",
    "accepted", "absent", "refused", "failed" };
static const char *const reasons[] = { "-", "nxdomain", "nodata", "bogus",
    "insecure", "outside-pin", "cname-escape", "tls-auth", "deny-rule",
    "policy-unloadable", "timeout", "unreachable", "stale" };

static const char *
verdict_name(enum pd_verdict v)
{
	return (unsigned)v < sizeof(verdicts) / sizeof(verdicts[0]) ?
	    verdicts[v] : "?";
}

static const char *
reason_name(enum pd_reason r)
{
	return (unsigned)r < sizeof(reasons) / sizeof(reasons[0]) ?
	    reasons[r] : "?";
}

static void
lookup(const char *name)
{
	struct pd_result r;
	char a[INET6_ADDRSTRLEN];
	unsigned i;

	ops->lookup(name, PD_WANT_A | PD_WANT_AAAA, &r);
	printf("%s %s %s ", name, verdict_name(r.verdict),
	    reason_name(r.reason));
	for (i = 0; i < r.naddrs; i++)
		printf("%s%s", i ? "," : "", inet_ntop(r.addrs[i].family,
		    r.addrs[i].addr, a, sizeof(a)) != NULL ? a : "?");
	printf("\n");
	fflush(stdout);
}

static void
maps(void)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "r");
	int mapped = 0;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "libgetdns") != NULL)
			mapped = 1;
	if (f != NULL)
		fclose(f);
	printf("getdns: %s\n", mapped ? "mapped" : "unmapped");
}

static void
sockets(void)
{
	char path[300], target[256], list[1024] = "";
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	ssize_t n;
	int count = 0;

	while (dir != NULL && (d = readdir(dir)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, "socket:", 7) == 0) {
			count++;
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", list[0] ? "," : "",
			    d->d_name);
		}
	}
	if (dir != NULL)
		closedir(dir);
	printf("sockets: %d\nfds: %s\n", count, list);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct pd_engine_cfg cfg;
	void *h;
	int i, st;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: engine_probe ENGINE.so POLICY "
		    "[-m] [-s] [-f] NAME...\n");
		return 1;
	}
	if ((h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "engine_probe: %s\n", dlerror());
		return 1;
	}
	ops = dlsym(h, PD_ENGINE_SYMBOL);
	if (ops == NULL || ops->abi != PD_ENGINE_ABI) {
		fprintf(stderr, "engine_probe: no %s\n", PD_ENGINE_SYMBOL);
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.policy_path = argv[2];
	if (ops->init(&cfg) != 0) {
		fprintf(stderr, "engine_probe: init failed\n");
		return 1;
	}
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "-m") == 0)
			maps();
		else if (strcmp(argv[i], "-s") == 0)
			sockets();
		else if (strcmp(argv[i], "-f") == 0) {
			fflush(stdout);
			if ((pid = fork()) == 0) {
				printf("child:\n");
				for (i++; i < argc; i++)
					lookup(argv[i]);
				_exit(0);
			}
			waitpid(pid, &st, 0);
			printf("parent:\n");
		} else
			lookup(argv[i]);
	}
	return 0;
}

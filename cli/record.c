/*
 * pindns status and pindns stats: what /proc says about a process (its
 * environment, its effective uid) and where its record is
 * (resolver/stats.h): the runtime directory it would use itself, from
 * its own environment and uid.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "resolver/stats.h"

int
pd_cli_proc_env(long pid, const char *name, char *out, size_t size)
{
	char path[64], *buf = NULL, *s, *end;
	size_t cap = 0, n = 0, nl = strlen(name);
	int rc = 0, e = 0;
	ssize_t r;
	FILE *f;

	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 65536);

			if (nb == NULL) {
				e = ENOMEM;
				goto out;
			}
			buf = nb;
		}
		if ((r = (ssize_t)fread(buf + n, 1, cap - n, f)) <= 0)
			break;
		n += (size_t)r;
	}
	if (ferror(f)) {
		e = errno != 0 ? errno : EIO;
		goto out;
	}
	for (s = buf, end = buf + n; s < end; s += strnlen(s, end - s) + 1) {
		if (strnlen(s, end - s) == (size_t)(end - s))
			break;	/* no NUL: cut short */
		if (strncmp(s, name, nl) == 0 && s[nl] == '=') {
			(void)snprintf(out, size, "%s", s + nl + 1);
			rc = 1;
		}
	}
out:
	free(buf);
	(void)fclose(f);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return rc;
}

/* The effective uid in /proc/PID/status. -1: unreadable. */
static int
proc_euid(long pid, uid_t *uid)
{
	char path[64], line[256];
	unsigned long r, eff;
	FILE *f;
	int rc = -1;

	(void)snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Uid: %lu %lu", &r, &eff) == 2) {
			*uid = (uid_t)eff;
			rc = 0;
			break;
		}
	(void)fclose(f);
	return rc;
}

int
pd_cli_record(long pid, struct pd_stats_view *v, char *why, size_t whylen)
{
	char own[4096], xdg[4096], dir[4096], path[4200];
	int has_own, has_xdg;
	uid_t uid;

	if (proc_euid(pid, &uid) != 0) {
		(void)snprintf(why, whylen, "no such process");
		return -1;
	}
	/* The directory follows its environment: unreadable, no record. */
	if ((has_own = pd_cli_proc_env(pid, "PINDNS_RUNTIME_DIR", own,
	    sizeof(own))) < 0 || (has_xdg = pd_cli_proc_env(pid,
	    "XDG_RUNTIME_DIR", xdg, sizeof(xdg))) < 0) {
		(void)snprintf(why, whylen, "cannot read its environment: %s "
		    "(run as root or as the process's user)",
		    strerror(errno));
		return -1;
	}
	if (pd_stats_dir(has_own ? own : NULL, has_xdg ? xdg : NULL, uid, dir,
	    sizeof(dir)) != 0) {
		(void)snprintf(why, whylen, "runtime directory too long");
		return -1;
	}
	(void)snprintf(path, sizeof(path), "%s/%ld", dir, pid);
	return pd_stats_read(path, pid, uid, pd_stats_starttime(pid), v, why,
	    whylen);
}

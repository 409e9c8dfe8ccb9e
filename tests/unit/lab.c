/*
 * pindns unit tests: the lab's variables and whole-file writes (lab.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/lab.h"

static char envbuf[16384];

bool
pd_lab_load(void)
{
	const char *path = getenv("PINDNS_LAB_ENV");
	FILE *f;
	size_t n;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return false;
	n = fread(envbuf, 1, sizeof(envbuf) - 1, f);
	envbuf[n] = '\0';
	fclose(f);
	return true;
}

const char *
pd_lab(const char *key)
{
	static char val[32][512];
	static int next;
	char *p = envbuf, *e;
	size_t kl = strlen(key);

	while ((p = strstr(p, key)) != NULL) {
		if ((p == envbuf || p[-1] == '\n') && p[kl] == '=') {
			e = strchr(p + kl + 1, '\n');
			next = (next + 1) % 32;
			snprintf(val[next], sizeof(val[next]), "%.*s",
			    (int)(e != NULL ? e - (p + kl + 1) :
			    (long)strlen(p + kl + 1)), p + kl + 1);
			return val[next];
		}
		p += kl;
	}
	printf("not ok - lab.env has %s\n", key);
	exit(1);
}

bool
pd_lab_begin(char *dir, char *policy, char *auditlog)
{
	if (!pd_lab_load() || mkdtemp(dir) == NULL)
		return false;
	snprintf(policy, PD_LAB_PATH, "%s/policy.yaml", dir);
	snprintf(auditlog, PD_LAB_PATH, "%s/audit.log", dir);
	return true;
}

void
pd_lab_end(const char *dir)
{
	char cmd[PD_LAB_PATH + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

void
pd_test_write(const char *path, const char *fmt, ...)
{
	char tmp[4200];
	va_list ap;
	FILE *f;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		printf("not ok - cannot write %s\n", tmp);
		exit(1);
	}
	va_start(ap, fmt);
	rc = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || rc < 0 || rename(tmp, path) != 0) {
		printf("not ok - cannot write %s\n", path);
		exit(1);
	}
}

/*
 * pindns unit tests: the lab's variables and whole-file writes (lab.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/lab.h"

#define LAB_MAX	256

static char *lab_k[LAB_MAX], *lab_v[LAB_MAX];
static int lab_n;
static bool lab_loaded;

bool
pd_lab_load(void)
{
	const char *path = getenv("PINDNS_LAB_ENV");
	char line[1024], *eq;
	FILE *f;

	if (lab_loaded)
		return true;
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL && lab_n < LAB_MAX) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || (eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		if ((lab_k[lab_n] = strdup(line)) == NULL ||
		    (lab_v[lab_n] = strdup(eq + 1)) == NULL) {
			fclose(f);
			return false;
		}
		lab_n++;
	}
	fclose(f);
	lab_loaded = true;
	return true;
}

const char *
pd_lab_opt(const char *key)
{
	int i;

	for (i = 0; i < lab_n; i++)
		if (strcmp(lab_k[i], key) == 0)
			return lab_v[i];
	return NULL;
}

int
pd_lab_port(const char *key)
{
	const char *v = pd_lab_opt(key);

	return v != NULL ? atoi(v) : 0;
}

const char *
pd_lab(const char *key)
{
	const char *v = pd_lab_opt(key);

	if (v == NULL) {
		printf("not ok - lab.env has %s\n", key);
		exit(1);
	}
	return v;
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

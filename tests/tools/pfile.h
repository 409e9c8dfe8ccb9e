/*
 * For test programs and benchmarks that build a struct pd_policy by hand
 * for the getdns backend (no YAML): fill a named file the way the policy
 * loader does, with the file's bytes, since the backend opens no file
 * itself. Header-only, libc only (dot_probe links nothing else).
 */
#ifndef PD_TOOLS_PFILE_H
#define PD_TOOLS_PFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"

/*
 * Read path (up to PD_CA_FILE_MAX_BYTES) into f; path is borrowed, the
 * bytes are f's (pd_tools_pfile_clear). Returns 0, or -1 with f->data
 * NULL (the backend then reports the file as not read).
 */
static inline int
pd_tools_pfile(struct pd_policy_file *f, const char *path)
{
	FILE *fp;
	uint8_t *small;
	size_t n;

	memset(f, 0, sizeof(*f));
	f->name = f->path = (char *)path;
	f->line = 1;
	if (path == NULL || (fp = fopen(path, "re")) == NULL)
		return -1;
	if ((f->data = malloc(PD_CA_FILE_MAX_BYTES + 1)) != NULL) {
		n = fread(f->data, 1, PD_CA_FILE_MAX_BYTES, fp);
		f->data[n] = '\0';
		f->len = n;
		if ((small = realloc(f->data, n + 1)) != NULL)
			f->data = small;
	}
	fclose(fp);
	return f->data != NULL ? 0 : -1;
}

static inline void
pd_tools_pfile_clear(struct pd_policy_file *f)
{
	free(f->data);
	f->data = NULL;
	f->len = 0;
}

#endif /* PD_TOOLS_PFILE_H */

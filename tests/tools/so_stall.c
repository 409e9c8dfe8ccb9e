/*
 * stall.so: LD_PRELOAD shim that holds one call in place, so a test can
 * fork() while another thread is inside it (tests/tools/fork_moment.c).
 *
 *	PD_STALL_DIR	 a directory: the shim creates DIR/held when it
 *			 holds a call, and lets it go on once DIR/go exists
 *	PD_STALL_DLOPEN	 hold the first dlopen() of a file of this base name
 *	PD_STALL_STAT	 hold the first stat() of exactly this path
 *
 * Only the first matching call of the whole process tree is held (DIR/held
 * is created with O_EXCL), so a forked child's own calls go through. A
 * held call waits for DIR/go at most 60 s, polling every millisecond: the
 * test, not the shim, decides how long a stall may last.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exported on purpose: the dynamic linker must find these first. */
__attribute__((visibility("default"))) void *dlopen(const char *, int);
__attribute__((visibility("default"))) int stat(const char *restrict,
    struct stat *restrict);

typedef void *(*dlopen_fn)(const char *, int);

/* Hold this call if it is the first to match. */
static void
stall(void)
{
	const char *dir = getenv("PD_STALL_DIR");
	struct timespec ms = { 0, 1000000 };
	char held[PATH_MAX], go[PATH_MAX];
	int fd, i, saved = errno;

	if (dir == NULL)
		return;
	(void)snprintf(held, sizeof(held), "%s/held", dir);
	(void)snprintf(go, sizeof(go), "%s/go", dir);
	if ((fd = open(held, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0600)) < 0) {
		errno = saved;
		return;
	}
	(void)close(fd);
	for (i = 0; i < 60000 && access(go, F_OK) != 0; i++)
		(void)nanosleep(&ms, NULL);
	errno = saved;
}

void *
dlopen(const char *file, int flags)
{
	static dlopen_fn real;
	const char *want = getenv("PD_STALL_DLOPEN"), *base;
	dlopen_fn fn;

	fn = __atomic_load_n(&real, __ATOMIC_RELAXED);
	if (fn == NULL) {
		fn = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
		__atomic_store_n(&real, fn, __ATOMIC_RELAXED);
	}
	if (want != NULL && file != NULL) {
		base = strrchr(file, '/');
		base = base != NULL ? base + 1 : file;
		if (strcmp(base, want) == 0)
			stall();
	}
	return fn(file, flags);
}

int
stat(const char *restrict path, struct stat *restrict st)
{
	const char *want = getenv("PD_STALL_STAT");

	if (want != NULL && strcmp(path, want) == 0)
		stall();
	return fstatat(AT_FDCWD, path, st, 0);
}

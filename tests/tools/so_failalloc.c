/*
 * failalloc.so: allocation-failure injection for the engine. Preloaded
 * (LD_PRELOAD) into a program, it interposes the allocation functions
 * and makes the Nth allocation *called directly from code in the chosen
 * objects* return NULL with errno ENOMEM, so each error path of our own
 * code can be reached in turn (c-ares and unbound test their OOM paths
 * the same way). Allocations made by libc, getdns, OpenSSL or libyaml on
 * their own behalf are counted only when those objects are chosen.
 *
 *   PD_FAILALLOC_OBJS    ':'-separated substrings of object paths whose
 *                        calls are counted, e.g.
 *                        "libpindns-engine.so:libpindns-dot.so", or the
 *                        program's name for a statically linked one.
 *   PD_FAILALLOC_NTH     fail the Nth counted allocation (1-based); 0 or
 *                        unset: fail none, only count.
 *   PD_FAILALLOC_SPAN    how many counted allocations fail from the Nth
 *                        on (default 1; 0: every one after it).
 *   PD_FAILALLOC_REPORT  a file that gets "counted N failed M" at exit
 *                        (appended, one line per process).
 *
 * Interposed: malloc, calloc, realloc, reallocarray, strdup, strndup,
 * posix_memalign, aligned_alloc. strdup and strndup are interposed
 * because libc's own calls to malloc are internal and never reach here.
 *
 * Which object called: __builtin_return_address(0) held against the
 * PT_LOAD ranges of the chosen objects, computed with dl_iterate_phdr in
 * a constructor and again after each dlopen() (also interposed): never
 * inside an allocation, where the loader may hold its locks.
 *
 * Works under ASan too when placed *before* the sanitizer runtime in
 * LD_PRELOAD (with ASAN_OPTIONS=verify_asan_link_order=0): the real
 * functions are found with dlsym(RTLD_NEXT), so they are ASan's. The
 * Makefile builds it without sanitizer in every flavour.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXRANGES	64
#define MAXOBJS		8
#define BOOT_BYTES	(64 * 1024)

struct range {
	uintptr_t	lo, hi;
};

typedef void *malloc_fn(size_t);
typedef void *calloc_fn(size_t, size_t);
typedef void *realloc_fn(void *, size_t);
typedef void free_fn(void *);
typedef int memalign_fn(void **, size_t, size_t);
typedef void *aligned_fn(size_t, size_t);
typedef void *dlopen_fn(const char *, int);

static malloc_fn *real_malloc;
static calloc_fn *real_calloc;
static realloc_fn *real_realloc;
static free_fn *real_free;
static memalign_fn *real_posix_memalign;
static aligned_fn *real_aligned_alloc;
static dlopen_fn *real_dlopen;

/* dlsym may allocate before the real functions are known. */
static _Alignas(16) unsigned char boot[BOOT_BYTES];
static size_t boot_used;
static int binding;

static char objs[MAXOBJS][256];
static int nobjs;
static struct range ranges[MAXRANGES];
static _Atomic int nranges;
static pthread_mutex_t range_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned long nth, span = 1;
static atomic_ulong counted, failed;
static char report[512];

static int
is_boot(const void *p)
{
	return (const unsigned char *)p >= boot &&
	    (const unsigned char *)p < boot + sizeof(boot);
}

static void *
boot_alloc(size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > sizeof(boot) - boot_used)
		return NULL;
	p = boot + boot_used;
	boot_used += n;
	return p;
}

static void
bind_real(void)
{
	if (real_malloc != NULL || binding)
		return;
	binding = 1;
	real_calloc = (calloc_fn *)dlsym(RTLD_NEXT, "calloc");
	real_malloc = (malloc_fn *)dlsym(RTLD_NEXT, "malloc");
	real_realloc = (realloc_fn *)dlsym(RTLD_NEXT, "realloc");
	real_free = (free_fn *)dlsym(RTLD_NEXT, "free");
	real_posix_memalign = (memalign_fn *)dlsym(RTLD_NEXT,
	    "posix_memalign");
	real_aligned_alloc = (aligned_fn *)dlsym(RTLD_NEXT, "aligned_alloc");
	real_dlopen = (dlopen_fn *)dlsym(RTLD_NEXT, "dlopen");
	binding = 0;
}

static int
phdr_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	int *n = arg, i, k;
	const char *name = info->dlpi_name;
	char self[256];

	if (name == NULL || name[0] == '\0') {
		/* The main program: match on /proc/self/exe's target. */
		ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (l <= 0)
			return 0;
		self[l] = '\0';
		name = self;
	}
	for (k = 0; k < nobjs; k++)
		if (strstr(name, objs[k]) != NULL)
			break;
	if (k == nobjs)
		return 0;
	for (i = 0; i < info->dlpi_phnum && *n < MAXRANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		ranges[*n].lo = info->dlpi_addr + ph->p_vaddr;
		ranges[*n].hi = ranges[*n].lo + ph->p_memsz;
		(*n)++;
	}
	return 0;
}

static void
scan_objects(void)
{
	int n = 0;

	if (nobjs == 0)
		return;
	pthread_mutex_lock(&range_lock);
	atomic_store(&nranges, 0);
	dl_iterate_phdr(phdr_cb, &n);
	atomic_store(&nranges, n);
	pthread_mutex_unlock(&range_lock);
}

static void
write_report(void)
{
	FILE *f;

	if (report[0] == '\0')
		return;
	if ((f = fopen(report, "a")) == NULL)
		return;
	fprintf(f, "counted %lu failed %lu\n", atomic_load(&counted),
	    atomic_load(&failed));
	fclose(f);
}

__attribute__((constructor)) static void
failalloc_init(void)
{
	const char *s, *e;
	char *end;
	size_t l;

	bind_real();
	if ((s = getenv("PD_FAILALLOC_NTH")) != NULL)
		nth = strtoul(s, &end, 10);
	if ((s = getenv("PD_FAILALLOC_SPAN")) != NULL)
		span = strtoul(s, &end, 10);
	if ((s = getenv("PD_FAILALLOC_REPORT")) != NULL)
		snprintf(report, sizeof(report), "%s", s);
	if ((s = getenv("PD_FAILALLOC_OBJS")) != NULL) {
		while (*s != '\0' && nobjs < MAXOBJS) {
			e = strchr(s, ':');
			l = e != NULL ? (size_t)(e - s) : strlen(s);
			if (l > 0 && l < sizeof(objs[0])) {
				memcpy(objs[nobjs], s, l);
				objs[nobjs][l] = '\0';
				nobjs++;
			}
			s += l;
			if (*s == ':')
				s++;
		}
	}
	scan_objects();
	atexit(write_report);
}

/* Should this allocation, called from ra, fail? */
static int
inject(const void *ra)
{
	uintptr_t a = (uintptr_t)ra;
	int i, n = atomic_load(&nranges);
	unsigned long c;

	for (i = 0; i < n; i++)
		if (a >= ranges[i].lo && a < ranges[i].hi)
			break;
	if (i == n)
		return 0;
	c = atomic_fetch_add(&counted, 1) + 1;
	if (nth == 0 || c < nth || (span != 0 && c >= nth + span))
		return 0;
	atomic_fetch_add(&failed, 1);
	errno = ENOMEM;
	return 1;
}

__attribute__((visibility("default"))) void *
malloc(size_t n)
{
	bind_real();
	if (real_malloc == NULL)
		return boot_alloc(n);
	if (inject(__builtin_return_address(0)))
		return NULL;
	return real_malloc(n);
}

__attribute__((visibility("default"))) void *
calloc(size_t n, size_t m)
{
	void *p;

	bind_real();
	if (real_calloc == NULL) {
		if (m != 0 && n > SIZE_MAX / m)
			return NULL;
		p = boot_alloc(n * m);	/* static storage: already zero */
		return p;
	}
	if (inject(__builtin_return_address(0)))
		return NULL;
	return real_calloc(n, m);
}

__attribute__((visibility("default"))) void
free(void *p)
{
	if (p == NULL || is_boot(p))
		return;
	bind_real();
	if (real_free != NULL)
		real_free(p);
}

__attribute__((visibility("default"))) void *
realloc(void *p, size_t n)
{
	void *q;

	bind_real();
	if (is_boot(p)) {
		/* Rare: grow a bootstrap block into the real heap. */
		if ((q = malloc(n)) != NULL)
			memcpy(q, p, n < BOOT_BYTES ? n : BOOT_BYTES);
		return q;
	}
	if (inject(__builtin_return_address(0)))
		return NULL;
	return real_realloc(p, n);
}

__attribute__((visibility("default"))) void *
reallocarray(void *p, size_t n, size_t m)
{
	bind_real();
	if (m != 0 && n > SIZE_MAX / m) {
		errno = ENOMEM;
		return NULL;
	}
	if (inject(__builtin_return_address(0)))
		return NULL;
	return real_realloc(p, n * m);
}

__attribute__((visibility("default"))) char *
strdup(const char *s)
{
	size_t l = strlen(s) + 1;
	char *p;

	bind_real();
	if (inject(__builtin_return_address(0)))
		return NULL;
	if ((p = real_malloc(l)) != NULL)
		memcpy(p, s, l);
	return p;
}

__attribute__((visibility("default"))) char *
strndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *p;

	bind_real();
	if (inject(__builtin_return_address(0)))
		return NULL;
	if ((p = real_malloc(l + 1)) != NULL) {
		memcpy(p, s, l);
		p[l] = '\0';
	}
	return p;
}

__attribute__((visibility("default"))) int
posix_memalign(void **pp, size_t align, size_t n)
{
	bind_real();
	if (inject(__builtin_return_address(0)))
		return ENOMEM;
	return real_posix_memalign(pp, align, n);
}

__attribute__((visibility("default"))) void *
aligned_alloc(size_t align, size_t n)
{
	bind_real();
	if (inject(__builtin_return_address(0)))
		return NULL;
	return real_aligned_alloc(align, n);
}

/* New objects (the engine, its backend) may be the chosen ones. */
__attribute__((visibility("default"))) void *
dlopen(const char *file, int mode)
{
	void *h;

	bind_real();
	h = real_dlopen(file, mode);
	scan_objects();
	return h;
}

/*
 * pindns counters and the per-process record: see resolver/stats.h.
 *
 * The mapping (base, PD_STATS_SIZE bytes) is made once, on the first
 * count, and never moves: thread slot pointers into it stay valid for
 * the life of the process. What backs it may change under the same
 * address (mmap MAP_FIXED): anonymous memory in a child after fork, then
 * the child's own record file. Ownership of the slots is kept here, in
 * process memory, never read back from the file.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "policy/policy.h"
#include "resolver/stats.h"

__thread struct pd_stats_slot *pd_stats_tls
    __attribute__((tls_model("initial-exec")));

const uint32_t pd_stats_lat_le_us[PD_STATS_LAT_N - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000
};

static struct {
	/*
	 * Serialises making a record, across its file I/O. fork() never
	 * takes it (it must not wait on a file system): a child makes it
	 * anew. Taken before mu, never under it.
	 */
	pthread_mutex_t		 filemu;
	pthread_mutex_t		 mu;	/* everything below but used[] */
	uint8_t			*base;	/* the mapping; NULL: none yet */
	_Atomic bool		 used[PD_STATS_SLOTS - 1];
	bool			 publish;
	bool			 file;	/* base is backed by our record */
	_Atomic bool		 want_file; /* make one at the next tick */
	char			 role[16];
	char			 path[4200];	/* our record, when file */
	long			 pid;		/* that made it */
	struct pd_stats_info	 info;
} S = { .filemu = PTHREAD_MUTEX_INITIALIZER,
    .mu = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static bool key_ok;

static struct pd_stats_head *
head(void)
{
	return (struct pd_stats_head *)(void *)S.base;
}

static struct pd_stats_slot *
slot_at(unsigned i)
{
	return (struct pd_stats_slot *)(void *)(S.base + PD_STATS_HEAD) + i;
}

/* ------------------------------------------------------------ record */

int
pd_stats_dir(const char *pindns_dir, const char *xdg_dir, uid_t uid,
    char *out, size_t size)
{
	int n;

	if (pindns_dir != NULL && pindns_dir[0] == '/')
		n = snprintf(out, size, "%s", pindns_dir);
	else if (xdg_dir != NULL && xdg_dir[0] == '/')
		n = snprintf(out, size, "%s/pindns", xdg_dir);
	else if (uid == 0)
		n = snprintf(out, size, "/run/pindns");
	else
		n = snprintf(out, size, "/tmp/pindns-%lu", (unsigned long)uid);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

uint64_t
pd_stats_starttime(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd, i;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (i = 2; i < 22 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &v) != 1)
		return 0;
	return (uint64_t)v;
}

/* Our runtime directory, made 0700 and checked as ours. -1: unusable. */
static int
own_dir(char *dir, size_t size)
{
	struct stat sb;

	if (pd_stats_dir(secure_getenv("PINDNS_RUNTIME_DIR"),
	    secure_getenv("XDG_RUNTIME_DIR"), geteuid(), dir, size) != 0)
		return -1;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != geteuid() || (sb.st_mode & 022) != 0)
		return -1;
	return 0;
}

/* Records of processes that are gone (exec, _exit, a crash). */
static void
sweep(const char *dir)
{
	char *end;
	struct dirent *d;
	DIR *dp;
	long pid;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		pid = strtol(d->d_name, &end, 10);
		if (pid <= 0 || *end != '\0' || kill((pid_t)pid, 0) == 0 ||
		    errno != ESRCH)
			continue;
		(void)unlinkat(dirfd(dp), d->d_name, 0);
	}
	(void)closedir(dp);
}

/* starttime: this process's (pd_stats_starttime), 0 for no record. */
static void
head_fill(struct pd_stats_head *h, uint64_t starttime)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, PD_STATS_MAGIC, sizeof(PD_STATS_MAGIC));
	h->version = PD_STATS_VERSION;
	h->size = (uint32_t)PD_STATS_SIZE;
	h->nslots = PD_STATS_SLOTS;
	h->slot_size = (uint32_t)sizeof(struct pd_stats_slot);
	h->pid = getpid();
	h->starttime = starttime;
	h->info = S.info;
}

/* A record file being made: mapped, not yet in place. */
struct rec {
	uint8_t		*m;
	uint64_t	 starttime;
	char		 path[4200], tmp[4200];
};

/*
 * The file I/O of making a record, under S.filemu and never under S.mu,
 * which the fork handlers take: fork() must not wait on a file system.
 */
static bool
rec_open(struct rec *r)
{
	char dir[4096];
	int fd;

	r->m = MAP_FAILED;
	if (own_dir(dir, sizeof(dir)) != 0)
		return false;
	sweep(dir);
	(void)snprintf(r->path, sizeof(r->path), "%s/%ld", dir,
	    (long)getpid());
	(void)snprintf(r->tmp, sizeof(r->tmp), "%s/.%ld.new", dir,
	    (long)getpid());
	(void)unlink(r->tmp);
	if ((fd = open(r->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) < 0)
		return false;
	if (ftruncate(fd, (off_t)PD_STATS_SIZE) == 0)
		r->m = mmap(NULL, PD_STATS_SIZE, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	(void)close(fd);
	if (r->m == MAP_FAILED) {
		(void)unlink(r->tmp);
		return false;
	}
	r->starttime = pd_stats_starttime((long)getpid());
	return true;
}

/*
 * Under S.mu, memory only: the record takes over from base at the same
 * address (the counts so far copied; every slot pointer stays valid),
 * or becomes base. The counts a thread adds between the copy and the
 * remap are lost: only a child after fork copies, at its first poll.
 */
static bool
rec_install(struct rec *r)
{
	uint8_t *m = r->m;

	if (S.base != NULL)
		memcpy(m + PD_STATS_HEAD, S.base + PD_STATS_HEAD,
		    PD_STATS_SIZE - PD_STATS_HEAD);
	head_fill((struct pd_stats_head *)(void *)m, r->starttime);
	if (S.base != NULL) {
		if (mremap(m, PD_STATS_SIZE, PD_STATS_SIZE, MREMAP_MAYMOVE |
		    MREMAP_FIXED, S.base) == MAP_FAILED)
			return false;
	} else
		S.base = m;
	memcpy(S.path, r->path, sizeof(S.path));
	S.pid = (long)getpid();
	S.file = true;
	return true;
}

/* Make this process's record and put it in place. Not under S.mu. */
static void
record_make(void)
{
	struct rec r;
	bool ok;

	(void)pthread_mutex_lock(&S.filemu);
	(void)pthread_mutex_lock(&S.mu);
	ok = S.file && S.pid == (long)getpid();	/* another thread did */
	(void)pthread_mutex_unlock(&S.mu);
	if (ok || !rec_open(&r))
		goto out;
	(void)pthread_mutex_lock(&S.mu);
	ok = rec_install(&r);
	(void)pthread_mutex_unlock(&S.mu);
	if (!ok) {
		(void)munmap(r.m, PD_STATS_SIZE);
		(void)unlink(r.tmp);
	} else if (rename(r.tmp, r.path) != 0) {
		(void)unlink(r.tmp);
		(void)pthread_mutex_lock(&S.mu);
		S.file = false;
		(void)pthread_mutex_unlock(&S.mu);
	}
out:
	(void)pthread_mutex_unlock(&S.filemu);
}

void
pd_stats_publish(const char *role)
{
	(void)pthread_mutex_lock(&S.mu);
	S.publish = true;
	(void)snprintf(S.role, sizeof(S.role), "%s", role);
	memcpy(S.info.role, S.role, sizeof(S.info.role));
	(void)pthread_mutex_unlock(&S.mu);
}

static void
info_store(void)
{
	struct pd_stats_head *h;
	uint64_t seq;

	if (S.base == NULL)
		return;
	h = head();
	seq = atomic_load_explicit(&h->seq, memory_order_relaxed);
	atomic_store_explicit(&h->seq, seq | 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	h->info = S.info;
	atomic_store_explicit(&h->seq, (seq | 1) + 1, memory_order_release);
}

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void
pd_stats_policy(const char *path, const struct pd_policy *p)
{
	(void)pthread_mutex_lock(&S.mu);
	(void)snprintf(S.info.policy, sizeof(S.info.policy), "%s",
	    path != NULL ? path : "");
	S.info.loaded = p != NULL;
	S.info.sha256[0] = '\0';
	S.info.keyid[0] = '\0';
	if (p != NULL) {
		S.info.loads++;
		if (p->has_sha256)
			hex(p->sha256, sizeof(p->sha256), S.info.sha256);
		memcpy(S.info.keyid, p->keyid, sizeof(S.info.keyid));
		S.info.keyid[sizeof(S.info.keyid) - 1] = '\0';
	}
	S.info.loaded_at = (int64_t)time(NULL);
	info_store();
	(void)pthread_mutex_unlock(&S.mu);
}

/*
 * The mapping, made on the first count: the record when this process
 * publishes one, else (or when it cannot be made) anonymous memory.
 */
static bool
base_ready(void)
{
	uint8_t *m;
	bool publish;

	(void)pthread_mutex_lock(&S.mu);
	if (S.base != NULL) {
		(void)pthread_mutex_unlock(&S.mu);
		return true;
	}
	S.info.started_at = (int64_t)time(NULL);
	publish = S.publish;
	(void)pthread_mutex_unlock(&S.mu);
	if (publish)
		record_make();
	(void)pthread_mutex_lock(&S.mu);
	if (S.base == NULL) {
		m = mmap(NULL, PD_STATS_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m != MAP_FAILED) {
			S.base = m;
			head_fill(head(), 0);
		}
	}
	m = S.base;
	(void)pthread_mutex_unlock(&S.mu);
	return m != NULL;
}

void
pd_stats_tick(void)
{
	bool make;

	if (!atomic_load_explicit(&S.want_file, memory_order_relaxed))
		return;
	(void)pthread_mutex_lock(&S.mu);
	make = S.want_file && S.base != NULL;
	S.want_file = false;
	(void)pthread_mutex_unlock(&S.mu);
	if (make)
		record_make();
}

void
pd_stats_unpublish(void)
{
	char path[sizeof(S.path)];
	bool mine;

	(void)pthread_mutex_lock(&S.filemu);
	(void)pthread_mutex_lock(&S.mu);
	if ((mine = S.file && S.pid == (long)getpid()))
		memcpy(path, S.path, sizeof(path));
	S.file = false;
	(void)pthread_mutex_unlock(&S.mu);
	if (mine)
		(void)unlink(path);
	(void)pthread_mutex_unlock(&S.filemu);
}

/* exit(): the record goes with the process (not after _exit or exec). */
__attribute__((destructor)) static void
stats_fini(void)
{
	if (S.file && S.pid == (long)getpid())
		(void)unlink(S.path);
}

/* ------------------------------------------------------------ slots */

static void
slot_release(void *arg)
{
	struct pd_stats_slot *s = arg;
	unsigned i;

	pd_stats_tls = NULL;
	if (s == NULL || S.base == NULL)
		return;
	i = (unsigned)(s - slot_at(0));
	if (i < PD_STATS_SLOTS - 1)
		atomic_store(&S.used[i], false);
}

static void
key_init(void)
{
	key_ok = pthread_key_create(&slot_key, slot_release) == 0;
}

/* This thread's slot: a free one, else the shared last one. */
static struct pd_stats_slot *
slot_get(void)
{
	struct pd_stats_slot *s;
	unsigned i;
	bool f;

	if (pd_stats_tls != NULL)
		return pd_stats_tls;
	(void)pthread_once(&key_once, key_init);
	if (!base_ready())
		return NULL;
	s = slot_at(PD_STATS_SLOTS - 1);
	atomic_store_explicit(&s->c[PD_ST_SHARED], 1, memory_order_relaxed);
	for (i = 0; key_ok && i < PD_STATS_SLOTS - 1; i++) {
		f = false;
		if (atomic_compare_exchange_strong(&S.used[i], &f, true)) {
			s = slot_at(i);
			(void)pthread_setspecific(slot_key, s);
			break;
		}
	}
	pd_stats_tls = s;
	return s;
}

static void
add(struct pd_stats_slot *s, unsigned i, uint64_t n)
{
	if (atomic_load_explicit(&s->c[PD_ST_SHARED], memory_order_relaxed))
		(void)atomic_fetch_add_explicit(&s->c[i], n,
		    memory_order_relaxed);
	else
		pd_stats_bump(s, i, n);
}

void
pd_stats_verdict_slow(enum pd_verdict v, enum pd_reason why, bool cached,
    bool miss, unsigned upstream_fails)
{
	struct pd_stats_slot *s;

	if (v < PD_VERDICT_ACCEPTED || (s = slot_get()) == NULL)
		return;
	add(s, pd_stats_cell(v, why), 1);
	if (cached)
		add(s, PD_ST_CACHE_HIT, 1);
	if (miss)
		add(s, PD_ST_CACHE_MISS, 1);
	if (upstream_fails != 0)
		add(s, PD_ST_UPSTREAM_FAIL, upstream_fails);
}

void
pd_stats_query(enum pd_stats_tr tr, enum pd_stats_act act, uint64_t us)
{
	struct pd_stats_slot *s;
	unsigned b;

	if ((s = slot_get()) == NULL)
		return;
	add(s, PD_ST_QUERY + (unsigned)tr * PD_QA_N + (unsigned)act, 1);
	if (act == PD_QA_FORWARDED)
		return;
	for (b = 0; b < PD_STATS_LAT_N - 1 && us > pd_stats_lat_le_us[b];
	    b++)
		;
	add(s, PD_ST_LAT + b, 1);
	add(s, PD_ST_LAT_SUM_US, us);
	add(s, PD_ST_LAT_COUNT, 1);
}

void
pd_stats_snapshot(struct pd_stats_view *v)
{
	unsigned i, j;

	memset(v, 0, sizeof(*v));
	v->pid = (long)getpid();
	(void)pthread_mutex_lock(&S.mu);
	v->info = S.info;
	(void)pthread_mutex_unlock(&S.mu);
	if (S.base == NULL)
		return;
	for (i = 0; i < PD_STATS_SLOTS; i++)
		for (j = 0; j < PD_ST_SHARED; j++)
			v->c[j] += atomic_load_explicit(&slot_at(i)->c[j],
			    memory_order_relaxed);
}

/* ------------------------------------------------------------ fork */

void
pd_stats_lock(void)
{
	(void)pthread_mutex_lock(&S.mu);
}

void
pd_stats_unlock(void)
{
	(void)pthread_mutex_unlock(&S.mu);
}

/*
 * The child must never write its parent's record: the mapping becomes
 * zeroed private memory at the same address (one mmap, no allocation),
 * every slot but this thread's is free, and a record of its own is made
 * at its next poll. Counts restart at zero: the child's own.
 */
void
pd_stats_forked(void)
{
	struct pd_stats_slot *mine = pd_stats_tls;
	unsigned i;

	/* A thread of the parent may have been making its record. */
	S.filemu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	if (S.base != NULL) {
		if (mmap(S.base, PD_STATS_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED) {
			/* Cannot happen short of a kernel refusal: stop
			 * counting rather than write the parent's file. */
			S.base = NULL;
			pd_stats_tls = NULL;
		}
		for (i = 0; i < PD_STATS_SLOTS - 1; i++)
			atomic_store(&S.used[i], S.base != NULL &&
			    slot_at(i) == mine);
		if (S.base != NULL)
			atomic_store_explicit(&slot_at(PD_STATS_SLOTS -
			    1)->c[PD_ST_SHARED], 1, memory_order_relaxed);
		atomic_store(&S.want_file, S.file && S.base != NULL);
	}
	S.file = false;
}

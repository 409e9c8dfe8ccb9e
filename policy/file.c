/*
 * pindns policy: error formatting and whole-file reads shared by the
 * loader, the key files and the signatures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "policy/internal.h"

enum pd_err
pd_err_vat(struct pd_error *err, enum pd_err r, const char *file,
    unsigned line, unsigned col, const char *fmt, va_list ap)
{
	char *p;
	int n;

	if (err == NULL)
		return r;
	err->line = line;
	err->col = line != 0 ? col : 0;
	if (line != 0)
		n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: ", file,
		    line, col);
	else
		n = snprintf(err->msg, sizeof(err->msg), "%s: ", file);
	if (n >= 0 && (size_t)n < sizeof(err->msg))
		vsnprintf(err->msg + n, sizeof(err->msg) - (size_t)n, fmt, ap);
	/*
	 * Messages quote the file's own text and end up on terminals and in
	 * logs: no control character gets through to forge a line there.
	 */
	for (p = err->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return r;
}

enum pd_err
pd_err_at(struct pd_error *err, enum pd_err r, const char *file,
    unsigned line, unsigned col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pd_err_vat(err, r, file, line, col, fmt, ap);
	va_end(ap);
	return r;
}

static enum pd_err
file_read(const char *path, size_t max, bool private, uint8_t **bufp,
    size_t *lenp, struct pd_error *err)
{
	struct stat st;
	uint8_t *buf = NULL, *small;
	size_t len = 0;
	ssize_t n;
	int fd, saved;
	enum pd_err r;

	/*
	 * O_NONBLOCK so that a FIFO put where a policy should be cannot
	 * hang the process in open(); fstat then refuses it.
	 */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		saved = errno;
		r = pd_err_at(err, PD_EIO, path, 0, 0, "%s", strerror(saved));
		errno = saved;
		return r;
	}
	if (fstat(fd, &st) != 0) {
		saved = errno;
		r = pd_err_at(err, PD_EIO, path, 0, 0, "%s", strerror(saved));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		r = pd_err_at(err, PD_EIO, path, 0, 0, "not a regular file");
		goto out;
	}
	if (private && (st.st_mode & 077) != 0) {
		saved = EPERM;
		r = pd_err_at(err, PD_EPERM, path, 0, 0, "secret key file is "
		    "accessible to group or others (mode %04o): refused; "
		    "chmod 600 it", (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		saved = EFBIG;
		r = pd_err_at(err, PD_EIO, path, 0, 0,
		    "larger than %zu bytes (%lld bytes): refused unread", max,
		    (long long)st.st_size);
		goto out;
	}
	/*
	 * Read up to max + 1 bytes whatever fstat said: the file may grow
	 * between the two calls, and the limit is about what we parse.
	 */
	if ((buf = malloc(max + 2)) == NULL) {
		saved = ENOMEM;
		r = pd_err_at(err, PD_ENOMEM, path, 0, 0, "out of memory");
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			saved = errno;
			r = pd_err_at(err, PD_EIO, path, 0, 0, "%s",
			    strerror(saved));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			saved = EFBIG;
			r = pd_err_at(err, PD_EIO, path, 0, 0,
			    "larger than %zu bytes: refused", max);
			goto out;
		}
	}
	buf[len] = '\0';
	/*
	 * Give back what the limit reserved: the loader keeps the files a
	 * policy names for the policy's life. Not for secrets, which a
	 * moving realloc would leave behind unwiped.
	 */
	if (!private && (small = realloc(buf, len + 1)) != NULL)
		buf = small;
	*bufp = buf;
	*lenp = len;
	buf = NULL;
	saved = 0;
	r = PD_OK;
out:
	if (buf != NULL && private)
		sodium_memzero(buf, max + 2);
	free(buf);
	close(fd);
	if (r != PD_OK)
		errno = saved;
	return r;
}

enum pd_err
pd_file_read(const char *path, size_t max, uint8_t **bufp, size_t *lenp,
    struct pd_error *err)
{
	return file_read(path, max, false, bufp, lenp, err);
}

enum pd_err
pd_file_read_private(const char *path, size_t max, uint8_t **bufp,
    size_t *lenp, struct pd_error *err)
{
	return file_read(path, max, true, bufp, lenp, err);
}

char *
pd_path_absolute(const char *path)
{
	char cwd[4096];
	size_t cl;
	char *out;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return NULL;
	if (cwd[0] != '/') {
		errno = ENOENT;	/* "(unreachable)...": never guess */
		return NULL;
	}
	while (path[0] == '.' && path[1] == '/')
		for (path += 2; path[0] == '/'; path++)
			;
	cl = strlen(cwd);
	if (cl == 1)
		cl = 0;		/* "/" + "/" + path */
	if ((out = malloc(cl + 1 + strlen(path) + 1)) == NULL)
		return NULL;
	memcpy(out, cwd, cl);
	out[cl] = '/';
	strcpy(out + cl + 1, path);
	return out;
}

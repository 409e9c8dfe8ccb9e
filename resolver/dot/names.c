/* pindns DoT backend: name conversions (see names.h). */
#include <stdio.h>
#include <string.h>

#include "resolver/dot/names.h"

int
pd_dname_norm(const getdns_bindata *b, char *out)
{
	size_t pos = 0, o = 0, i, len;
	unsigned char c;

	if (b == NULL || b->data == NULL || b->size == 0 || b->size > 255)
		return -1;
	for (;;) {
		if (pos >= b->size)
			return -1;
		len = b->data[pos++];
		if (len == 0)
			break;
		if (len > 63 || pos + len > b->size)
			return -1;
		if (o != 0)
			out[o++] = '.';
		if (o + len > PD_NAME_MAX)
			return -1;
		for (i = 0; i < len; i++) {
			c = b->data[pos + i];
			if (c == '.' || c == '\0')
				return -1;
			if (c >= 'A' && c <= 'Z')
				c = (unsigned char)(c - 'A' + 'a');
			out[o++] = (char)c;
		}
		pos += len;
	}
	if (pos != b->size)
		return -1;
	out[o] = '\0';
	return (int)o;
}

bool
pd_dname_escape(const char *norm, char *out, size_t outlen)
{
	size_t o = 0, label = 0;
	unsigned char c;
	int n;

	/* Labels of 1 to 63 octets, 253 in all: what a wire name holds. */
	if (strlen(norm) > PD_NAME_MAX)
		return false;
	for (const char *s = norm; *s != '\0'; s++) {
		if (*s != '.') {
			if (++label > 63)
				return false;
			continue;
		}
		if (label == 0)
			return false;
		label = 0;
	}
	if (*norm != '\0' && label == 0)
		return false;

	for (; *norm != '\0'; norm++) {
		c = (unsigned char)*norm;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '*' || c == '.') {
			if (o + 1 >= outlen)
				return false;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 >= outlen)
			return false;
		n = snprintf(out + o, outlen - o, "\\%03u", c);
		if (n != 4)
			return false;
		o += 4;
	}
	if (o + 2 > outlen)
		return false;
	/* Fully qualified: getdns must not append a search suffix. */
	out[o++] = '.';
	out[o] = '\0';
	return true;
}

bool
pd_dname_under(const char *name, const char *anc)
{
	size_t nl = strlen(name), al = strlen(anc);

	if (al == 0)
		return true;
	if (nl == al)
		return strcmp(name, anc) == 0;
	return nl > al && name[nl - al - 1] == '.' &&
	    strcmp(name + nl - al, anc) == 0;
}

unsigned
pd_dname_labels(const char *norm)
{
	unsigned n;

	if (*norm == '\0')
		return 0;
	for (n = 1; *norm != '\0'; norm++)
		if (*norm == '.')
			n++;
	return n;
}

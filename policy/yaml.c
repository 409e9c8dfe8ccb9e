/*
 * pindns policy: a policy file as a plain tree, from libyaml's event
 * parser.
 *
 * libyaml's document loader would resolve aliases silently (one node
 * shared by two parents, or a billion-laughs blow-up) and hides anchors
 * and tags; the events show them, so we refuse them where they appear. A
 * policy is a plain document: mappings, lists and scalars, nothing else.
 */
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "policy/internal.h"

void
pd_ynode_free(struct pd_ynode *n)
{
	size_t i;

	if (n == NULL)
		return;
	for (i = 0; i < n->n; i++)
		pd_ynode_free(n->v[i]);
	free(n->v);
	free(n->s);
	free(n);
}

static struct pd_ynode *
ynode_new(enum pd_ykind kind, const yaml_mark_t *m)
{
	struct pd_ynode *n;

	if ((n = calloc(1, sizeof(*n))) == NULL)
		return NULL;
	n->kind = kind;
	n->line = (unsigned)m->line + 1;
	n->col = (unsigned)m->column + 1;
	return n;
}

static enum pd_err
yerr(const char *name, struct pd_error *err, const yaml_mark_t *m,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum pd_err
yerr(const char *name, struct pd_error *err, const yaml_mark_t *m,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pd_err_vat(err, PD_EPARSE, name, (unsigned)m->line + 1,
	    (unsigned)m->column + 1, fmt, ap);
	va_end(ap);
	return PD_EPARSE;
}

/* Report a libyaml error with the position it gives. */
static enum pd_err
parser_error(const char *name, const yaml_parser_t *y, const uint8_t *buf,
    size_t len, struct pd_error *err)
{
	const char *problem = y->problem != NULL ? y->problem : "syntax error";
	const char *hint = "";
	unsigned line = 1, col = 1;
	size_t i, off;

	if (y->error == YAML_MEMORY_ERROR)
		return pd_err_at(err, PD_ENOMEM, name, 0, 0, "out of memory");
	if (y->error == YAML_READER_ERROR) {
		/* The reader gives a byte offset, not a mark. */
		off = y->problem_offset < len ? y->problem_offset : len;
		for (i = 0; i < off; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else if ((buf[i] & 0xc0) != 0x80) {
				col++;
			}
		}
		if (y->problem_value != -1)
			return pd_err_at(err, PD_EPARSE, name, line, col,
			    "invalid YAML: %s (#%X)", problem,
			    (unsigned)y->problem_value);
		return pd_err_at(err, PD_EPARSE, name, line, col,
		    "invalid YAML: %s", problem);
	}
	line = (unsigned)y->problem_mark.line + 1;
	col = (unsigned)y->problem_mark.column + 1;
	if (y->context != NULL && strstr(y->context, "alias") != NULL)
		hint = "; quote a pattern that starts with '*'";
	if (y->context != NULL)
		return pd_err_at(err, PD_EPARSE, name, line, col,
		    "invalid YAML: %s %s%s", y->context, problem, hint);
	return pd_err_at(err, PD_EPARSE, name, line, col, "invalid YAML: %s%s",
	    problem, hint);
}

static int
ynode_push(struct pd_ynode *parent, struct pd_ynode *child)
{
	struct pd_ynode **v;
	size_t cap;

	if (parent->n == parent->cap) {
		cap = parent->cap ? parent->cap * 2 : 4;
		if ((v = realloc(parent->v, cap * sizeof(*v))) == NULL)
			return -1;
		parent->v = v;
		parent->cap = cap;
	}
	parent->v[parent->n++] = child;
	return 0;
}

/*
 * Refuse what a plain document does not have. anchor and tag are the
 * event's; mark is where it starts.
 */
static enum pd_err
plain_node(const char *name, struct pd_error *err, const yaml_mark_t *m,
    const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL)
		return yerr(name, err, m, "YAML anchors and aliases are not "
		    "allowed: a policy is a plain document");
	if (tag != NULL)
		return yerr(name, err, m, "YAML tags are not allowed: a "
		    "policy is a plain document");
	return PD_OK;
}

enum pd_err
pd_yaml_tree(const char *name, const uint8_t *buf, size_t len,
    struct pd_ynode **rootp, struct pd_error *err)
{
	yaml_parser_t y;
	yaml_event_t ev;
	struct pd_ynode *stack[PD_YAML_MAX_DEPTH], *root = NULL, *n = NULL;
	struct pd_ynode *parent;
	size_t depth = 0, docs = 0;
	bool have_ev = false, done = false;
	const yaml_mark_t *m;
	enum pd_err r = PD_OK;

	if (!yaml_parser_initialize(&y))
		return pd_err_at(err, PD_ENOMEM, name, 0, 0, "out of memory");
	yaml_parser_set_input_string(&y, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&y, &ev)) {
			r = parser_error(name, &y, buf, len, err);
			goto out;
		}
		have_ev = true;
		m = &ev.start_mark;
		n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (docs++ != 0) {
				r = yerr(name, err, m, "a second YAML "
				    "document: a policy is one plain "
				    "document");
				goto out;
			}
			if (ev.data.document_start.version_directive != NULL ||
			    ev.data.document_start.tag_directives.start !=
			    ev.data.document_start.tag_directives.end) {
				r = yerr(name, err, m, "YAML directives are "
				    "not allowed: a policy is a plain "
				    "document");
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			r = yerr(name, err, m, "YAML anchors and aliases are "
			    "not allowed: a policy is a plain document");
			goto out;
		case YAML_SCALAR_EVENT:
			r = plain_node(name, err, m, ev.data.scalar.anchor,
			    ev.data.scalar.tag);
			if (r != PD_OK)
				goto out;
			if ((n = ynode_new(PD_Y_SCALAR, m)) == NULL ||
			    (n->s = malloc(ev.data.scalar.length + 1)) == NULL)
				goto nomem;
			memcpy(n->s, ev.data.scalar.value,
			    ev.data.scalar.length);
			n->s[ev.data.scalar.length] = '\0';
			n->len = ev.data.scalar.length;
			n->plain = ev.data.scalar.style ==
			    YAML_PLAIN_SCALAR_STYLE;
			break;
		case YAML_SEQUENCE_START_EVENT:
			if ((r = plain_node(name, err, m,
			    ev.data.sequence_start.anchor,
			    ev.data.sequence_start.tag)) != PD_OK)
				goto out;
			if ((n = ynode_new(PD_Y_SEQ, m)) == NULL)
				goto nomem;
			break;
		case YAML_MAPPING_START_EVENT:
			if ((r = plain_node(name, err, m,
			    ev.data.mapping_start.anchor,
			    ev.data.mapping_start.tag)) != PD_OK)
				goto out;
			if ((n = ynode_new(PD_Y_MAP, m)) == NULL)
				goto nomem;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth != 0)
				depth--;
			break;
		default:
			break;
		}
		if (n != NULL) {
			if (depth == 0) {
				root = n;
			} else {
				parent = stack[depth - 1];
				if (parent->kind == PD_Y_MAP &&
				    parent->n % 2 == 0 &&
				    n->kind != PD_Y_SCALAR) {
					r = yerr(name, err, m, "a mapping key "
					    "must be a plain string");
					pd_ynode_free(n);
					goto out;
				}
				if (ynode_push(parent, n) != 0)
					goto nomem;	/* frees n */
			}
			if (n->kind != PD_Y_SCALAR) {
				if (depth == PD_YAML_MAX_DEPTH) {
					r = yerr(name, err, m, "nested deeper "
					    "than %d levels",
					    PD_YAML_MAX_DEPTH);
					goto out;
				}
				stack[depth++] = n;
			}
		}
		yaml_event_delete(&ev);
		have_ev = false;
	}
	*rootp = root;
	root = NULL;
	goto out;
nomem:
	pd_ynode_free(n);
	r = pd_err_at(err, PD_ENOMEM, name, 0, 0, "out of memory");
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&y);
	pd_ynode_free(root);
	return r;
}

/*
 * pindns policy: the loader (SPEC §3).
 *
 * Strict by design: an unknown or duplicate key, a value of the wrong
 * type or out of range, a key that means nothing for a rule's action, a
 * pattern or CIDR that is not exactly right refuses the whole file with
 * "FILE:LINE:COLUMN: message". A policy that loads has every field set
 * to its value or its documented default.
 *
 * Scalars follow YAML 1.2's core schema, narrowed: integers are plain
 * decimal digits without sign or leading zero (YAML 1.1 would read 0853
 * as octal), booleans are plain true/false, and a quoted "853" is a
 * string, not a number. Relative paths (trust anchors, CA file, log file)
 * are taken relative to the policy file's directory, not to the working
 * directory of whatever process loads the policy. The CA file and the
 * trust anchors are read here, once, and may be pinned by sha256
 * (policy/files.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "policy/internal.h"

#define DEFAULT_ANCHOR		"/usr/share/dns/root.key"
/* A static rule's answer fits one engine result (PD_MAX_ADDRS). */
#define STATIC_MAX_ADDRS	64

/* Loader state for one file. */
struct ld {
	const char		*file;	/* name as given, for messages */
	struct pd_error		*err;
	struct pd_policy	*p;
	const struct pd_ynode	*default_val;
	const struct pd_ynode	*anchors_val;
	const struct pd_ynode	*min_ttl_val;
	const struct pd_ynode	**action_val;	/* per rule */
};

/* One key of a mapping schema, and what the mapping held for it. */
struct slot {
	const char		*name;
	const struct pd_ynode	*key;
	const struct pd_ynode	*val;
};
#define SLOT(name)	{ (name), NULL, NULL }

static enum pd_err
bad(struct ld *L, const struct pd_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum pd_err
bad(struct ld *L, const struct pd_ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pd_err_vat(L->err, PD_EPARSE, L->file, n->line, n->col, fmt, ap);
	va_end(ap);
	return PD_EPARSE;
}

static enum pd_err
nomem(struct ld *L)
{
	return pd_err_at(L->err, PD_ENOMEM, L->file, 0, 0, "out of memory");
}

static bool
is_null(const struct pd_ynode *n)
{
	return n->kind == PD_Y_SCALAR && n->plain &&
	    (n->len == 0 || strcmp(n->s, "~") == 0 ||
	    strcmp(n->s, "null") == 0 || strcmp(n->s, "Null") == 0 ||
	    strcmp(n->s, "NULL") == 0);
}

static const char *
kind_name(const struct pd_ynode *n)
{
	if (n->kind == PD_Y_MAP)
		return "a mapping";
	if (n->kind == PD_Y_SEQ)
		return "a list";
	if (is_null(n))
		return "nothing";
	return "a string";
}

static enum pd_err
want(struct ld *L, const struct pd_ynode *n, enum pd_ykind k, const char *what)
{
	if (n->kind == k)
		return PD_OK;
	return bad(L, n, "%s: expected %s, got %s", what,
	    k == PD_Y_MAP ? "a mapping" : k == PD_Y_SEQ ? "a list" :
	    "a string", kind_name(n));
}

/*
 * Fill slots (a NULL-named-terminated table) from mapping n, refusing
 * unknown and duplicate keys. what names the mapping in messages.
 */
static enum pd_err
get_slots(struct ld *L, const struct pd_ynode *n, struct slot *slots,
    const char *what)
{
	const struct pd_ynode *k;
	char keys[400];
	size_t i, j, o;
	enum pd_err r;

	if ((r = want(L, n, PD_Y_MAP, what)) != PD_OK)
		return r;
	for (i = 0; i + 1 < n->n; i += 2) {
		k = n->v[i];
		for (j = 0; slots[j].name != NULL; j++)
			if (strcmp(k->s, slots[j].name) == 0 &&
			    strlen(slots[j].name) == k->len)
				break;
		if (slots[j].name == NULL) {
			o = 0;
			keys[0] = '\0';
			for (j = 0; slots[j].name != NULL && o < sizeof(keys);
			    j++)
				o += (size_t)snprintf(keys + o,
				    sizeof(keys) - o, "%s%s", j ? ", " : "",
				    slots[j].name);
			return bad(L, k, "unknown key '%.64s' in %s (known: "
			    "%s)", k->s, what, keys);
		}
		if (slots[j].key != NULL)
			return bad(L, k, "duplicate key '%s' in %s (first at "
			    "line %u)", slots[j].name, what,
			    slots[j].key->line);
		slots[j].key = k;
		slots[j].val = n->v[i + 1];
	}
	return PD_OK;
}

/* A scalar string: not null, no NUL octet. */
static enum pd_err
get_str(struct ld *L, const struct pd_ynode *n, const char *what,
    const char **sp)
{
	if (n->kind != PD_Y_SCALAR || is_null(n))
		return bad(L, n, "%s: expected a string, got %s", what,
		    kind_name(n));
	if (strlen(n->s) != n->len)
		return bad(L, n, "%s: NUL character in string", what);
	*sp = n->s;
	return PD_OK;
}

static enum pd_err
get_uint(struct ld *L, const struct pd_ynode *n, const char *what,
    uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n->kind != PD_Y_SCALAR || !n->plain || n->len == 0 ||
	    n->len > 10 || (n->s[0] == '0' && n->len > 1))
		goto notint;
	for (i = 0; i < n->len; i++) {
		if (n->s[i] < '0' || n->s[i] > '9')
			goto notint;
		v = v * 10 + (uint64_t)(n->s[i] - '0');
	}
	if (v < min || v > max)
		return bad(L, n, "%s: %llu is out of range (%u..%u)", what,
		    (unsigned long long)v, min, max);
	*out = (uint32_t)v;
	return PD_OK;
notint:
	if (n->kind == PD_Y_SCALAR && n->plain && n->len != 0 &&
	    n->s[0] == '-')
		return bad(L, n, "%s: %.32s is out of range (%u..%u)", what,
		    n->s, min, max);
	if (n->kind == PD_Y_SCALAR && !is_null(n))
		return bad(L, n, "%s: expected an integer (decimal digits, "
		    "unquoted), got '%.32s'", what, n->s);
	return bad(L, n, "%s: expected an integer, got %s", what,
	    kind_name(n));
}

static enum pd_err
get_bool(struct ld *L, const struct pd_ynode *n, const char *what, bool *out)
{
	if (n->kind == PD_Y_SCALAR && n->plain) {
		if (strcmp(n->s, "true") == 0 || strcmp(n->s, "True") == 0 ||
		    strcmp(n->s, "TRUE") == 0) {
			*out = true;
			return PD_OK;
		}
		if (strcmp(n->s, "false") == 0 ||
		    strcmp(n->s, "False") == 0 || strcmp(n->s, "FALSE") == 0) {
			*out = false;
			return PD_OK;
		}
	}
	if (n->kind == PD_Y_SCALAR && !is_null(n))
		return bad(L, n, "%s: expected true or false, got '%.32s'",
		    what, n->s);
	return bad(L, n, "%s: expected true or false, got %s", what,
	    kind_name(n));
}

/* One of names[] (NULL-terminated); *out is its index. */
static enum pd_err
get_enum(struct ld *L, const struct pd_ynode *n, const char *what,
    const char *const *names, int *out)
{
	char list[128];
	size_t i, o = 0;

	if (n->kind == PD_Y_SCALAR && strlen(n->s) == n->len)
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(n->s, names[i]) == 0) {
				*out = (int)i;
				return PD_OK;
			}
	list[0] = '\0';
	for (i = 0; names[i] != NULL && o < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? " | " : "", names[i]);
	if (n->kind == PD_Y_SCALAR && !is_null(n))
		return bad(L, n, "%s: expected %s, got '%.32s'", what, list,
		    n->s);
	return bad(L, n, "%s: expected %s, got %s", what, list, kind_name(n));
}

/*
 * A list of strings, or (one_ok) one string taken as a list of one; *np
 * is the count and list_item() gives each.
 */
static enum pd_err
get_str_list(struct ld *L, const struct pd_ynode *n, const char *what,
    bool one_ok, size_t *np)
{
	size_t i;
	const char *s;
	enum pd_err r;

	if (one_ok && n->kind == PD_Y_SCALAR && !is_null(n)) {
		*np = 1;
		return get_str(L, n, what, &s);
	}
	if (n->kind != PD_Y_SEQ)
		return bad(L, n, "%s: expected a list%s, got %s", what,
		    one_ok ? " or a string" : "", kind_name(n));
	if (n->n == 0)
		return bad(L, n, "%s: empty list", what);
	for (i = 0; i < n->n; i++)
		if ((r = get_str(L, n->v[i], what, &s)) != PD_OK)
			return r;
	*np = n->n;
	return PD_OK;
}

static const struct pd_ynode *
list_item(const struct pd_ynode *n, size_t i)
{
	return n->kind == PD_Y_SEQ ? n->v[i] : n;
}

static enum pd_err
get_addr(struct ld *L, const struct pd_ynode *n, const char *what,
    struct pd_addr *a)
{
	const char *s;
	enum pd_err r;

	if ((r = get_str(L, n, what, &s)) != PD_OK)
		return r;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->addr) == 1) {
		a->family = AF_INET;
		return PD_OK;
	}
	if (inet_pton(AF_INET6, s, a->addr) == 1) {
		a->family = AF_INET6;
		return PD_OK;
	}
	return bad(L, n, "%s: '%.64s' is not an IPv4 or IPv6 address", what,
	    s);
}

/* Copy a path, relative ones taken from the policy file's directory. */
static char *
resolve_path(const char *policy, const char *s)
{
	const char *slash = strrchr(policy, '/');
	size_t dl;
	char *out;

	if (s[0] == '/' || slash == NULL)
		return strdup(s);
	dl = (size_t)(slash - policy) + 1;
	if ((out = malloc(dl + strlen(s) + 1)) == NULL)
		return NULL;
	memcpy(out, policy, dl);
	strcpy(out + dl, s);
	return out;
}

/*
 * A file the policy names: PATH, or {path: PATH, sha256: HEX} pinning its
 * content. Read here, once, into f (policy/files.c); messages start with
 * label.
 */
static enum pd_err
get_file(struct ld *L, const struct pd_ynode *n, const char *what,
    const char *label, size_t max, struct pd_policy_file *f)
{
	struct slot s[] = { SLOT("path"), SLOT("sha256"), SLOT(NULL) };
	const struct pd_ynode *pn = n;
	uint8_t want[32];
	const char *v, *end;
	size_t bin;
	enum pd_err r;

	if (n->kind == PD_Y_MAP) {
		if ((r = get_slots(L, n, s, what)) != PD_OK)
			return r;
		if ((pn = s[0].val) == NULL)
			return bad(L, n, "%s: missing key 'path'", what);
		if (s[1].val == NULL)
			return bad(L, n, "%s: missing key 'sha256' (pindns "
			    "digest FILE prints it)", what);
		if ((r = get_str(L, s[1].val, "sha256", &v)) != PD_OK)
			return r;
		if (s[1].val->len != 64 || sodium_hex2bin(want, sizeof(want),
		    v, 64, NULL, &bin, &end) != 0 || bin != sizeof(want) ||
		    *end != '\0')
			return bad(L, s[1].val, "sha256: expected 64 hex "
			    "digits (pindns digest FILE prints them), got "
			    "'%.80s'", v);
	}
	if ((r = get_str(L, pn, what, &v)) != PD_OK)
		return r;
	f->line = pn->line;
	f->col = pn->col;
	if ((f->name = strdup(v)) == NULL ||
	    (f->path = resolve_path(L->file, v)) == NULL)
		return nomem(L);
	return pd_pfile_read(f, max, n->kind == PD_Y_MAP ? want : NULL,
	    L->file, label, NULL, L->err);
}

/* A pattern list (match or cname) into a normalised string vector. */
static enum pd_err
get_patterns(struct ld *L, const struct pd_ynode *n, const char *what,
    char ***vp, size_t *np)
{
	const struct pd_ynode *v;
	char buf[PD_NAME_MAX + 1], **out;
	const char *why;
	size_t i, cnt, off;
	enum pd_err r;

	if ((r = get_str_list(L, n, what, true, &cnt)) != PD_OK)
		return r;
	if ((out = calloc(cnt, sizeof(*out))) == NULL)
		return nomem(L);
	*vp = out;	/* owned by the rule from here, even half-filled */
	*np = cnt;
	for (i = 0; i < cnt; i++) {
		v = list_item(n, i);
		if (pd_pattern_normalize(v->s, v->len, buf, &why, &off) < 0)
			return bad(L, v, "%s: '%.80s': %s", what, v->s, why);
		if ((out[i] = strdup(buf)) == NULL)
			return nomem(L);
	}
	return PD_OK;
}

/* ------------------------------------------------------------ upstreams */

static enum pd_err
load_spki(struct ld *L, const struct pd_ynode *n, struct pd_spki_pin *pin)
{
	struct slot s[] = { SLOT("digest"), SLOT("value"), SLOT(NULL) };
	const char *v;
	size_t bin;
	enum pd_err r;

	if ((r = get_slots(L, n, s, "tls_pubkey_pinset entry")) != PD_OK)
		return r;
	if (s[0].val == NULL)
		return bad(L, n, "tls_pubkey_pinset entry: missing key "
		    "'digest' (sha256)");
	if ((r = get_str(L, s[0].val, "digest", &v)) != PD_OK)
		return r;
	if (strcmp(v, "sha256") != 0)
		return bad(L, s[0].val, "digest: expected sha256, got "
		    "'%.32s'", v);
	if (s[1].val == NULL)
		return bad(L, n, "tls_pubkey_pinset entry: missing key "
		    "'value'");
	if ((r = get_str(L, s[1].val, "value", &v)) != PD_OK)
		return r;
	if (sodium_base642bin(pin->sha256, sizeof(pin->sha256), v,
	    strlen(v), NULL, &bin, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    bin != sizeof(pin->sha256))
		return bad(L, s[1].val, "value: expected the base64 of a "
		    "32-byte SHA-256 digest (pindns pin prints it)");
	return PD_OK;
}

static enum pd_err
load_upstream(struct ld *L, const struct pd_ynode *n, struct pd_upstream *u)
{
	struct slot s[] = { SLOT("address_data"), SLOT("tls_port"),
	    SLOT("tls_auth_name"), SLOT("tls_pubkey_pinset"), SLOT(NULL) };
	char norm[PD_NAME_MAX + 1], a[INET6_ADDRSTRLEN];
	const struct pd_ynode *pv;
	const char *v;
	uint32_t port = 853;
	size_t i;
	enum pd_err r;

	if ((r = get_slots(L, n, s, "upstream_recursive_servers entry")) !=
	    PD_OK)
		return r;
	if (s[0].val == NULL)
		return bad(L, n, "upstream_recursive_servers entry: missing "
		    "key 'address_data'");
	if ((r = get_addr(L, s[0].val, "address_data", &u->addr)) != PD_OK)
		return r;
	if (s[1].val != NULL &&
	    (r = get_uint(L, s[1].val, "tls_port", 1, 65535, &port)) != PD_OK)
		return r;
	u->tls_port = (uint16_t)port;
	if (s[2].val == NULL)
		return bad(L, n, "upstream_recursive_servers entry: missing "
		    "key 'tls_auth_name' (TLS is always authenticated)");
	if ((r = get_str(L, s[2].val, "tls_auth_name", &v)) != PD_OK)
		return r;
	if (pd_name_normalize(v, norm) < 0)
		return bad(L, s[2].val, "tls_auth_name: '%.64s' is not a "
		    "valid host name", v);
	if ((u->tls_auth_name = strdup(norm)) == NULL)
		return nomem(L);
	if ((pv = s[3].val) != NULL) {
		if ((r = want(L, pv, PD_Y_SEQ, "tls_pubkey_pinset")) != PD_OK)
			return r;
		if (pv->n == 0)
			return bad(L, pv, "tls_pubkey_pinset: empty list "
			    "(leave the key out for CA validation)");
		if ((u->pins = calloc(pv->n, sizeof(*u->pins))) == NULL)
			return nomem(L);
		for (i = 0; i < pv->n; i++)
			if ((r = load_spki(L, pv->v[i], &u->pins[i])) != PD_OK)
				return r;
		u->npins = pv->n;
	}
	inet_ntop(u->addr.family, u->addr.addr, a, sizeof(a));
	snprintf(u->label, sizeof(u->label),
	    u->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return PD_OK;
}

/* ------------------------------------------------------------ rules */

static const char *const actions[] = {
	"system", "secure", "static", "deny", NULL	/* enum pd_action */
};
static const char *const dnssec_modes[] = {
	"validate", "required", "off", NULL	/* enum pd_dnssec_mode */
};
static const char *const pin_modes[] = {
	"filter", "strict", NULL			/* enum pd_pin_mode */
};

enum {
	RK_NAME, RK_MATCH, RK_ACTION, RK_DNSSEC, RK_PIN, RK_PIN_MODE,
	RK_CNAME, RK_ADDRESSES, RK_TTL, RK_MODE
};
static const char *const modes[] = { "enforce", "report", NULL };

static void
rule_defaults(struct pd_rule *r)
{
	r->dnssec = PD_DNSSEC_VALIDATE;
	r->pin_mode = PD_PIN_FILTER;
	r->ttl = 60;
}

static enum pd_err
load_pins(struct ld *L, const struct pd_ynode *n, struct pd_pinset **psp)
{
	struct pd_pinset *ps;
	char why[200];
	size_t i, cnt;
	enum pd_err r;

	if (n->kind == PD_Y_SEQ && n->n == 0)
		return bad(L, n, "pin: empty list: no address could ever be "
		    "accepted (leave 'pin' out for no restriction)");
	if ((r = get_str_list(L, n, "pin", false, &cnt)) != PD_OK)
		return r;
	if ((ps = calloc(1, sizeof(*ps))) == NULL)
		return nomem(L);
	*psp = ps;	/* the rule owns it from here */
	if ((ps->v = calloc(cnt, sizeof(*ps->v))) == NULL)
		return nomem(L);
	for (i = 0; i < cnt; i++) {
		if (pd_cidr_parse(n->v[i]->s, &ps->v[i], why,
		    sizeof(why)) != 0)
			return bad(L, n->v[i], "pin: %s", why);
		ps->n++;
	}
	if (pd_pins_index(ps) != PD_OK)
		return nomem(L);
	return PD_OK;
}

static bool
rule_name_ok(const char *s)
{
	size_t i;

	/* ASCII by hand: isalnum() follows the host process's locale. */
	for (i = 0; s[i] != '\0'; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return i >= 1 && i <= 63;
}

/* Keys that mean something only for some actions. */
static enum pd_err
rule_applies(struct ld *L, const struct pd_rule *r, const struct slot *s)
{
	static const struct {
		int		key;
		unsigned	actions;	/* bit per enum pd_action */
	} apply[] = {
		{ RK_DNSSEC, 1u << PD_ACTION_SECURE },
		{ RK_CNAME, 1u << PD_ACTION_SECURE },
		{ RK_PIN, 1u << PD_ACTION_SECURE | 1u << PD_ACTION_SYSTEM },
		{ RK_PIN_MODE, 1u << PD_ACTION_SECURE |
		    1u << PD_ACTION_SYSTEM },
		{ RK_ADDRESSES, 1u << PD_ACTION_STATIC },
		{ RK_TTL, 1u << PD_ACTION_STATIC },
		/* deny and static refuse nothing a trial could answer. */
		{ RK_MODE, 1u << PD_ACTION_SECURE | 1u << PD_ACTION_SYSTEM },
	};
	size_t i;

	for (i = 0; i < sizeof(apply) / sizeof(apply[0]); i++)
		if (s[apply[i].key].key != NULL &&
		    (apply[i].actions & (1u << r->action)) == 0)
			return bad(L, s[apply[i].key].key, "rule '%s': '%s' "
			    "has no meaning for action %s", r->name,
			    s[apply[i].key].name, actions[r->action]);
	return PD_OK;
}

static enum pd_err
load_rule(struct ld *L, const struct pd_ynode *n, struct pd_rule *r)
{
	struct slot s[] = { SLOT("name"), SLOT("match"), SLOT("action"),
	    SLOT("dnssec"), SLOT("pin"), SLOT("pin_mode"), SLOT("cname"),
	    SLOT("addresses"), SLOT("ttl"), SLOT("mode"), SLOT(NULL) };
	const struct pd_ynode *v;
	const char *name;
	size_t i;
	int e;
	enum pd_err res;

	rule_defaults(r);
	r->line = n->line;
	if ((res = get_slots(L, n, s, "rule")) != PD_OK)
		return res;
	if (s[RK_NAME].val == NULL)
		return bad(L, n, "rule: missing key 'name'");
	if ((res = get_str(L, s[RK_NAME].val, "name", &name)) != PD_OK)
		return res;
	if (!rule_name_ok(name))
		return bad(L, s[RK_NAME].val, "name: '%.64s': a rule name is "
		    "1..63 letters, digits, '-', '_' or '.'", name);
	if (strcmp(name, "default") == 0)
		return bad(L, s[RK_NAME].val, "name: 'default' is reserved "
		    "for names no rule matches");
	if ((r->name = strdup(name)) == NULL)
		return nomem(L);
	if (s[RK_MATCH].val == NULL)
		return bad(L, n, "rule '%s': missing key 'match'", r->name);
	if ((res = get_patterns(L, s[RK_MATCH].val, "match", &r->patterns,
	    &r->npatterns)) != PD_OK)
		return res;
	if (s[RK_ACTION].val == NULL)
		return bad(L, n, "rule '%s': missing key 'action'", r->name);
	if ((res = get_enum(L, s[RK_ACTION].val, "action", actions, &e)) !=
	    PD_OK)
		return res;
	r->action = (enum pd_action)e;
	L->action_val[r->index] = s[RK_ACTION].val;
	if ((res = rule_applies(L, r, s)) != PD_OK)
		return res;
	if ((v = s[RK_DNSSEC].val) != NULL) {
		if ((res = get_enum(L, v, "dnssec", dnssec_modes, &e)) != PD_OK)
			return res;
		r->dnssec = (enum pd_dnssec_mode)e;
	}
	if ((v = s[RK_PIN].val) != NULL &&
	    (res = load_pins(L, v, &r->pins)) != PD_OK)
		return res;
	if ((v = s[RK_PIN_MODE].val) != NULL) {
		if (r->pins == NULL)
			return bad(L, s[RK_PIN_MODE].key, "rule '%s': "
			    "'pin_mode' without 'pin'", r->name);
		if ((res = get_enum(L, v, "pin_mode", pin_modes, &e)) != PD_OK)
			return res;
		r->pin_mode = (enum pd_pin_mode)e;
	}
	/* The rule's own mode wins over the top level's (parsed first). */
	r->report = L->p->report && (r->action == PD_ACTION_SECURE ||
	    (r->action == PD_ACTION_SYSTEM && r->pins != NULL));
	if ((v = s[RK_MODE].val) != NULL) {
		if ((res = get_enum(L, v, "mode", modes, &e)) != PD_OK)
			return res;
		r->report = e == 1;
	}
	if ((v = s[RK_CNAME].val) != NULL &&
	    (res = get_patterns(L, v, "cname", &r->cname, &r->ncname)) !=
	    PD_OK)
		return res;
	if (r->action == PD_ACTION_STATIC) {
		if ((v = s[RK_ADDRESSES].val) == NULL)
			return bad(L, s[RK_ACTION].val, "rule '%s': action "
			    "static needs 'addresses'", r->name);
		if (v->kind == PD_Y_SEQ && v->n == 0)
			return bad(L, v, "addresses: empty list");
		if ((res = want(L, v, PD_Y_SEQ, "addresses")) != PD_OK)
			return res;
		if (v->n > STATIC_MAX_ADDRS)
			return bad(L, v, "addresses: more than %d",
			    STATIC_MAX_ADDRS);
		if ((r->addrs = calloc(v->n, sizeof(*r->addrs))) == NULL)
			return nomem(L);
		for (i = 0; i < v->n; i++) {
			if ((res = get_addr(L, v->v[i], "addresses",
			    &r->addrs[i])) != PD_OK)
				return res;
			r->naddrs++;
		}
		if ((v = s[RK_TTL].val) != NULL &&
		    (res = get_uint(L, v, "ttl", 0, 604800, &r->ttl)) != PD_OK)
			return res;
	}
	return PD_OK;
}

static int
rule_order(const void *a, const void *b)
{
	const struct pd_rule *x = *(const struct pd_rule *const *)a;
	const struct pd_rule *y = *(const struct pd_rule *const *)b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Refuse duplicate rule names: sorted, so 10,000 rules stay cheap. */
static enum pd_err
check_rule_names(struct ld *L, const struct pd_ynode *seq)
{
	const struct pd_policy *p = L->p;
	const struct pd_rule **v, *dup = NULL, *first = NULL;
	size_t i;

	if (p->nrules < 2)
		return PD_OK;
	if ((v = calloc(p->nrules, sizeof(*v))) == NULL)
		return nomem(L);
	for (i = 0; i < p->nrules; i++)
		v[i] = &p->rules[i];
	/* By name, then file order: a run of equal names starts with the
	 * first occurrence. Report the earliest repeat in file order. */
	qsort(v, p->nrules, sizeof(*v), rule_order);
	for (i = 1; i < p->nrules; i++) {
		if (strcmp(v[i - 1]->name, v[i]->name) != 0)
			continue;
		if (dup == NULL || v[i]->index < dup->index)
			dup = v[i];
	}
	free(v);
	if (dup == NULL)
		return PD_OK;
	for (i = 0; i < p->nrules && first == NULL; i++)
		if (strcmp(p->rules[i].name, dup->name) == 0)
			first = &p->rules[i];
	return bad(L, seq->v[dup->index], "duplicate rule name '%s' (first "
	    "at line %u)", dup->name, first->line);
}

static enum pd_err
load_rules(struct ld *L, const struct pd_ynode *n)
{
	struct pd_policy *p = L->p;
	size_t i;
	enum pd_err r;

	if ((r = want(L, n, PD_Y_SEQ, "rules")) != PD_OK)
		return r;
	if (n->n == 0)
		return PD_OK;
	if ((p->rules = calloc(n->n, sizeof(*p->rules))) == NULL ||
	    (L->action_val = calloc(n->n, sizeof(*L->action_val))) == NULL)
		return nomem(L);
	for (i = 0; i < n->n; i++) {
		p->rules[i].index = (unsigned)i;
		p->nrules++;	/* so pd_policy_free sees a half-built one */
		if ((r = load_rule(L, n->v[i], &p->rules[i])) != PD_OK)
			return r;
	}
	return check_rule_names(L, n);
}

/* ------------------------------------------------------------ anchors */

/*
 * The default anchor is not named by the policy, so no sha256 can pin it
 * (README: what a signature covers). It is read, and must be good, only
 * when a rule validates; otherwise the backend is given no bytes for it
 * and uses no anchor.
 */
static enum pd_err
load_default_anchor(struct ld *L)
{
	struct pd_policy *p = L->p;
	struct pd_policy_file *f;
	enum pd_err r;

	if ((p->anchors = calloc(1, sizeof(*p->anchors))) == NULL)
		return nomem(L);
	p->nanchors = 1;
	f = &p->anchors[0];
	if ((f->name = strdup(DEFAULT_ANCHOR)) == NULL ||
	    (f->path = strdup(DEFAULT_ANCHOR)) == NULL)
		return nomem(L);
	if (!pd_policy_needs_dnssec(p))
		return PD_OK;
	if ((r = pd_pfile_read(f, PD_ANCHOR_MAX_BYTES, NULL, L->file,
	    "trust anchor", "the default trust anchor; set "
	    "dnssec_trust_anchors", L->err)) != PD_OK)
		return r;
	return pd_anchor_check(L->file, 0, 0, f->path, f->data, f->len,
	    L->err);
}

static enum pd_err
load_anchors(struct ld *L)
{
	struct pd_policy *p = L->p;
	const struct pd_ynode *n = L->anchors_val;
	struct pd_policy_file *f;
	size_t i, cnt;
	enum pd_err r;

	if (n == NULL)
		return load_default_anchor(L);
	if (n->kind == PD_Y_SEQ && n->n == 0)
		return bad(L, n, "dnssec_trust_anchors: empty list");
	if (is_null(n))
		return bad(L, n, "dnssec_trust_anchors: expected a list, a "
		    "path or {path: PATH, sha256: HEX}, got nothing");
	/* A list, or one entry taken as a list of one. */
	cnt = n->kind == PD_Y_SEQ ? n->n : 1;
	if ((p->anchors = calloc(cnt, sizeof(*p->anchors))) == NULL)
		return nomem(L);
	for (i = 0; i < cnt; i++) {
		f = &p->anchors[i];
		p->nanchors++;
		if ((r = get_file(L, n->kind == PD_Y_SEQ ? n->v[i] : n,
		    "dnssec_trust_anchors", "trust anchor",
		    PD_ANCHOR_MAX_BYTES, f)) != PD_OK)
			return r;
		if ((r = pd_anchor_check(L->file, f->line, f->col, f->path,
		    f->data, f->len, L->err)) != PD_OK)
			return r;
	}
	return PD_OK;
}

/* ------------------------------------------------------------ top */

static enum pd_err
load_cache(struct ld *L, const struct pd_ynode *n)
{
	struct slot s[] = { SLOT("max_entries"), SLOT("min_ttl"),
	    SLOT("max_ttl"), SLOT("stale_ttl"), SLOT(NULL) };
	struct pd_policy *p = L->p;
	enum pd_err r;

	if ((r = get_slots(L, n, s, "cache")) != PD_OK)
		return r;
	if (s[0].val != NULL && (r = get_uint(L, s[0].val, "max_entries", 0,
	    1000000, &p->cache_max_entries)) != PD_OK)
		return r;
	if (s[1].val != NULL && (r = get_uint(L, s[1].val, "min_ttl", 0,
	    86400, &p->cache_min_ttl)) != PD_OK)
		return r;
	if (s[2].val != NULL && (r = get_uint(L, s[2].val, "max_ttl", 0,
	    86400, &p->cache_max_ttl)) != PD_OK)
		return r;
	if (s[3].val != NULL && (r = get_uint(L, s[3].val, "stale_ttl", 0,
	    259200, &p->cache_stale_ttl)) != PD_OK)
		return r;
	if (p->cache_min_ttl > p->cache_max_ttl)
		return bad(L, s[1].val != NULL ? s[1].val : s[2].val,
		    "min_ttl: %u is above max_ttl (%u)", p->cache_min_ttl,
		    p->cache_max_ttl);
	return PD_OK;
}

static enum pd_err
load_log(struct ld *L, const struct pd_ynode *n)
{
	static const char *const levels[] = { "deny", "all", NULL };
	struct slot s[] = { SLOT("target"), SLOT("level"), SLOT(NULL) };
	struct pd_policy *p = L->p;
	const char *t;
	int e;
	enum pd_err r;

	if ((r = get_slots(L, n, s, "log")) != PD_OK)
		return r;
	if (s[0].val != NULL) {
		if ((r = get_str(L, s[0].val, "target", &t)) != PD_OK)
			return r;
		if (strcmp(t, "stderr") == 0) {
			p->log_target = PD_LOG_STDERR;
		} else if (strcmp(t, "syslog") == 0) {
			p->log_target = PD_LOG_SYSLOG;
		} else if (strncmp(t, "file:", 5) == 0 && t[5] != '\0') {
			p->log_target = PD_LOG_FILE;
			if ((p->log_file = resolve_path(L->file, t + 5)) ==
			    NULL)
				return nomem(L);
		} else {
			return bad(L, s[0].val, "target: expected stderr | "
			    "syslog | file:PATH, got '%.64s'", t);
		}
	}
	if (s[1].val != NULL) {
		if ((r = get_enum(L, s[1].val, "level", levels, &e)) != PD_OK)
			return r;
		p->log_level = (enum pd_log_level)e;
	}
	return PD_OK;
}

enum {
	TK_VERSION, TK_UPSTREAMS, TK_CA, TK_ANCHORS, TK_TIMEOUT, TK_IDLE,
	TK_RR, TK_CACHE, TK_LOG, TK_DEFAULT, TK_RULES, TK_LISTEN, TK_SYSCONF,
	TK_MODE
};

/* pindns serve's keys (SPEC §8): listen_addresses, system_resolv_conf. */
static enum pd_err
load_serve(struct ld *L, const struct pd_ynode *la, const struct pd_ynode *rc)
{
	struct pd_policy *p = L->p;
	const char *str;
	char why[256];
	size_t i, n;
	enum pd_err r;

	if (la != NULL) {
		if ((r = get_str_list(L, la, "listen_addresses", false, &n)) !=
		    PD_OK)
			return r;
		if ((p->listen = calloc(n, sizeof(*p->listen))) == NULL)
			return nomem(L);
		for (i = 0; i < n; i++, p->nlisten++)
			if (pd_listen_parse(list_item(la, i)->s,
			    &p->listen[i], why, sizeof(why)) != 0)
				return bad(L, list_item(la, i),
				    "listen_addresses: %s", why);
	}
	if (rc != NULL) {
		if ((r = get_str(L, rc, "system_resolv_conf", &str)) != PD_OK)
			return r;
		if (*str == '\0')
			return bad(L, rc, "system_resolv_conf: empty path");
		if ((p->system_resolv_conf = resolve_path(L->file, str)) ==
		    NULL)
			return nomem(L);
	}
	return PD_OK;
}

static enum pd_err
load_top(struct ld *L, const struct pd_ynode *root)
{
	struct slot s[] = { SLOT("version"),
	    SLOT("upstream_recursive_servers"), SLOT("tls_ca_file"),
	    SLOT("dnssec_trust_anchors"), SLOT("timeout_ms"),
	    SLOT("idle_timeout_ms"), SLOT("round_robin_upstreams"),
	    SLOT("cache"), SLOT("log"), SLOT("default"), SLOT("rules"),
	    SLOT("listen_addresses"), SLOT("system_resolv_conf"),
	    SLOT("mode"), SLOT(NULL) };
	static const char *const defaults[] = {
		"system", "secure", "deny", NULL
	};
	static const enum pd_action default_action[] = {
		PD_ACTION_SYSTEM, PD_ACTION_SECURE, PD_ACTION_DENY
	};
	struct pd_policy *p = L->p;
	const struct pd_ynode *v;
	struct pd_rule *r;
	uint32_t version;
	size_t i;
	int e;
	enum pd_err res;

	if ((res = get_slots(L, root, s, "the policy")) != PD_OK)
		return res;
	if ((v = s[TK_VERSION].val) == NULL)
		return bad(L, root, "missing key 'version' (this loader reads "
		    "version: 1)");
	if ((res = get_uint(L, v, "version", 0, UINT32_MAX - 1, &version)) !=
	    PD_OK)
		return res;
	if (version != 1)
		return bad(L, v, "version: %u is not supported (this loader "
		    "reads version 1)", version);
	if ((v = s[TK_UPSTREAMS].val) != NULL && !is_null(v)) {
		if ((res = want(L, v, PD_Y_SEQ,
		    "upstream_recursive_servers")) != PD_OK)
			return res;
		if (v->n != 0 && (p->upstreams = calloc(v->n,
		    sizeof(*p->upstreams))) == NULL)
			return nomem(L);
		for (i = 0; i < v->n; i++) {
			p->nupstreams++;
			if ((res = load_upstream(L, v->v[i],
			    &p->upstreams[i])) != PD_OK)
				return res;
		}
	}
	if ((v = s[TK_CA].val) != NULL) {
		if ((p->tls_ca = calloc(1, sizeof(*p->tls_ca))) == NULL)
			return nomem(L);
		if ((res = get_file(L, v, "tls_ca_file", "tls_ca_file:",
		    PD_CA_FILE_MAX_BYTES, p->tls_ca)) != PD_OK)
			return res;
	}
	L->anchors_val = s[TK_ANCHORS].val;
	if ((v = s[TK_TIMEOUT].val) != NULL && (res = get_uint(L, v,
	    "timeout_ms", 10, 60000, &p->timeout_ms)) != PD_OK)
		return res;
	if ((v = s[TK_IDLE].val) != NULL && (res = get_uint(L, v,
	    "idle_timeout_ms", 0, 600000, &p->idle_timeout_ms)) != PD_OK)
		return res;
	if ((v = s[TK_RR].val) != NULL && (res = get_bool(L, v,
	    "round_robin_upstreams", &p->round_robin)) != PD_OK)
		return res;
	if ((v = s[TK_CACHE].val) != NULL && (res = load_cache(L, v)) != PD_OK)
		return res;
	if ((v = s[TK_LOG].val) != NULL && (res = load_log(L, v)) != PD_OK)
		return res;
	if ((res = load_serve(L, s[TK_LISTEN].val, s[TK_SYSCONF].val)) !=
	    PD_OK)
		return res;
	if ((v = s[TK_DEFAULT].val) != NULL) {
		if (v->kind == PD_Y_SCALAR && strcmp(v->s, "static") == 0)
			return bad(L, v, "default: static is not possible "
			    "(expected system | secure | deny)");
		if ((res = get_enum(L, v, "default", defaults, &e)) != PD_OK)
			return res;
		p->default_rule.action = default_action[e];
		p->default_rule.line = v->line;
		L->default_val = v;
	}
	if ((v = s[TK_MODE].val) != NULL) {
		if ((res = get_enum(L, v, "mode", modes, &e)) != PD_OK)
			return res;
		p->report = e == 1;
	}
	if ((v = s[TK_RULES].val) != NULL && (res = load_rules(L, v)) != PD_OK)
		return res;
	p->default_rule.index = (unsigned)p->nrules;
	p->default_rule.report = p->report &&
	    p->default_rule.action == PD_ACTION_SECURE;
	p->any_report = p->default_rule.report;
	for (i = 0; i < p->nrules; i++)
		p->any_report |= p->rules[i].report;

	/* Cross-checks, in file order of the rules. */
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		if (r->action == PD_ACTION_SECURE && p->nupstreams == 0)
			return bad(L, L->action_val[i], "rule '%s': action "
			    "secure needs an upstream (upstream_recursive_"
			    "servers is empty)", r->name);
	}
	if (p->default_rule.action == PD_ACTION_SECURE && p->nupstreams == 0)
		return bad(L, L->default_val, "default: secure needs an "
		    "upstream (upstream_recursive_servers is empty)");
	return load_anchors(L);
}

static void
policy_defaults(struct pd_policy *p)
{
	p->timeout_ms = 2000;
	p->idle_timeout_ms = 10000;
	p->cache_max_entries = 10000;
	p->cache_max_ttl = 300;
	/* RFC 8767 §5: serve stale for one to three days. */
	p->cache_stale_ttl = 86400;
	p->log_target = PD_LOG_STDERR;
	p->log_level = PD_LOG_LEVEL_DENY;
	p->default_rule.action = PD_ACTION_SYSTEM;
	rule_defaults(&p->default_rule);
}

enum pd_err
pd_policy_parse(const char *name, const uint8_t *buf, size_t len,
    struct pd_policy **pp, struct pd_error *err)
{
	struct ld L;
	struct pd_policy *p = NULL;
	struct pd_ynode *root = NULL;
	enum pd_err r;

	memset(&L, 0, sizeof(L));
	L.file = name;
	L.err = err;
	if (len > PD_POLICY_MAX_BYTES)
		return pd_err_at(err, PD_EPARSE, name, 0, 0, "larger than 1 "
		    "MiB (%zu bytes): refused unread", len);
	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->path = strdup(name)) == NULL ||
	    (p->default_rule.name = strdup("default")) == NULL) {
		r = nomem(&L);
		goto out;
	}
	policy_defaults(p);
	L.p = p;
	if ((r = pd_yaml_tree(name, buf, len, &root, err)) != PD_OK)
		goto out;
	if (root == NULL) {
		r = pd_err_at(err, PD_EPARSE, name, 0, 0, "empty policy "
		    "(expected a mapping with 'version: 1')");
		goto out;
	}
	if (root->kind != PD_Y_MAP) {
		r = bad(&L, root, "expected a mapping at the top, got %s",
		    kind_name(root));
		goto out;
	}
	if ((r = load_top(&L, root)) != PD_OK)
		goto out;
	if (pd_matcher_build(p) != PD_OK) {
		r = nomem(&L);
		goto out;
	}
	*pp = p;
	p = NULL;
out:
	free(L.action_val);
	pd_ynode_free(root);
	pd_policy_free(p);
	return r;
}

static void
rule_free(struct pd_rule *r)
{
	size_t i;

	free(r->name);
	for (i = 0; i < r->npatterns; i++)
		free(r->patterns[i]);
	free(r->patterns);
	for (i = 0; i < r->ncname; i++)
		free(r->cname[i]);
	free(r->cname);
	pd_pinset_free(r->pins);
	free(r->addrs);
}

void
pd_policy_free(struct pd_policy *p)
{
	size_t i;

	if (p == NULL)
		return;
	free(p->path);
	for (i = 0; i < p->nupstreams; i++) {
		free(p->upstreams[i].tls_auth_name);
		free(p->upstreams[i].pins);
	}
	free(p->upstreams);
	if (p->tls_ca != NULL)
		pd_pfile_clear(p->tls_ca);
	free(p->tls_ca);
	for (i = 0; i < p->nanchors; i++)
		pd_pfile_clear(&p->anchors[i]);
	free(p->anchors);
	free(p->log_file);
	free(p->listen);
	free(p->system_resolv_conf);
	for (i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	rule_free(&p->default_rule);
	pd_matcher_free(p->matcher);
	free(p);
}

const char *
pd_policy_pubkey_path(void)
{
	const char *e = secure_getenv("PINDNS_PUBKEY");
	struct stat sb;

	if (e != NULL)
		return e;
	/*
	 * Only "no such file" means no key. Any other error (EACCES from a
	 * 0700 /etc/pindns seen by a worker running as another user, EIO,
	 * ELOOP, ...) says nothing about whether a key is installed: take
	 * the path, so the load fails reading it instead of quietly
	 * accepting unsigned policies. stat, not access: the process's
	 * effective ids are the ones that will read the key.
	 */
	if (stat(PD_PUBKEY_DEFAULT_PATH, &sb) != 0 && errno == ENOENT)
		return NULL;
	return PD_PUBKEY_DEFAULT_PATH;
}

enum pd_err
pd_policy_load(const char *path, const char *pubkey, struct pd_policy **pp,
    struct pd_error *err)
{
	struct pd_policy *p = NULL;
	uint8_t *buf = NULL;
	char *sigpath = NULL, keyid[17] = "";
	size_t len;
	enum pd_err r;

	if (pubkey != NULL && pubkey[0] == '\0')
		return pd_err_at(err, PD_ESIG, path, 0, 0, "a public key is "
		    "required but its path is empty (PINDNS_PUBKEY=)");
	/* One read: what is verified is exactly what is parsed. */
	if ((r = pd_file_read(path, PD_POLICY_MAX_BYTES, &buf, &len, err)) !=
	    PD_OK)
		return r;
	if (pubkey != NULL) {
		if ((sigpath = malloc(strlen(path) + 5)) == NULL) {
			r = pd_err_at(err, PD_ENOMEM, path, 0, 0,
			    "out of memory");
			goto out;
		}
		strcpy(sigpath, path);
		strcat(sigpath, ".sig");
		if ((r = pd_sig_check(pubkey, sigpath, buf, len, keyid,
		    err)) != PD_OK)
			goto out;
	}
	if ((r = pd_policy_parse(path, buf, len, &p, err)) != PD_OK)
		goto out;
	/* The signature vouches for the named files only through a sha256. */
	if (pubkey != NULL && (r = pd_pfiles_pinned(p, err)) != PD_OK)
		goto out;
	p->signed_ok = pubkey != NULL;
	memcpy(p->keyid, keyid, sizeof(p->keyid));
	p->has_sha256 = crypto_hash_sha256(p->sha256, buf, len) == 0;
	pd_policy_digest(p, buf, len);
	*pp = p;
	p = NULL;
out:
	pd_policy_free(p);
	free(sigpath);
	free(buf);
	return r;
}

/* Canonicalisation: one file's document → the canonical tree. Each attribute has a
 * type (a canon_fn) in a schema table; the tables give the order `config` prints in.
 * Unknown attributes and wrong types are reported at their position with the
 * attribute path; x- extensions pass through untouched. */
#include "compose/canon.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/bytes.h"
#include "util/cleanup.h"
#include "util/str.h"

struct node *canon_error(struct canon *c, const struct node *n, const char *path, const char *fmt,
			 ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	diag_error(c->lc->dc, n->pos, "%s: %s", path, msg);
	return NULL;
}

char *canon_path(const char *path, const char *key)
{
	return *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

char *canon_path_index(const char *path, size_t i)
{
	return xasprintf("%s[%zu]", path, i);
}

char *canon_resolve_path(struct canon *c, const char *p)
{
	if (p[0] == '~' && (p[1] == '/' || p[1] == '\0')) {
		const char *home = envset_get(&c->lc->env, "HOME");

		return compose_path_join(home ? home : "/", p[1] ? p + 2 : ".");
	}
	return compose_path_join(c->base_dir, p);
}

static bool is_sep(char c)
{
	return c == '/' || c == '\\';
}

bool canon_is_windows_abs(const char *p)
{
	if (p[0] && p[1] == ':')
		return is_sep(p[2]);
	return is_sep(p[0]) && is_sep(p[1]);
}

char *canon_resolve_host_path(struct canon *c, const char *p)
{
	if (canon_is_windows_abs(p) && p[0] != '/')
		return xstrdup(p);
	return canon_resolve_path(c, p);
}

/* Scalar attributes. A string attribute takes a string; numbers and booleans are
 * refused as Compose refuses them (quote them). */
struct node *c_string(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a)
{
	(void)a;
	if (in->kind != NODE_SCALAR || in->stype != SC_STR)
		return canon_error(c, in, path, "must be a string");
	return node_new_str(in->str, in->pos);
}

/* llround without libm, which nothing else needs (a process maps 300 KiB less): the
 * integral part is exact in a long long below 9.2e18, and so is the fraction left. */
static long long round_half_away(double x)
{
	long long t = (long long)x;
	double frac = x - (double)t;

	if (frac >= 0.5)
		t++;
	else if (frac <= -0.5)
		t--;
	return t;
}
/* A string where Compose also takes a number or boolean (environment values...). */
struct node *c_scalar_string(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a)
{
	(void)a;
	if (!node_is_scalar(in))
		return canon_error(c, in, path, "must be a string, number or boolean");
	return node_new_str(in->str, in->pos);
}

struct node *c_int(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	long long v;

	(void)a;
	if (!node_as_int(in, &v))
		return canon_error(c, in, path, "must be an integer");
	return node_new_int(v, in->pos);
}

struct node *c_float(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	char buf[64];
	double v;

	(void)a;
	if (!node_as_float(in, &v) || !isfinite(v))
		return canon_error(c, in, path, "must be a number");
	snprintf(buf, sizeof(buf), "%.15g", v);
	return node_new_typed(fabs(v) < 1e15 && v == (double)(long long)v ? SC_INT : SC_FLOAT, buf,
			      in->pos);
}

struct node *c_bool(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	bool v;

	(void)a;
	/* a literal "yes" is a string in YAML 1.2; interpolated text may be yes/no */
	if (in->kind == NODE_SCALAR && in->stype == SC_BOOL && node_as_bool(in, &v))
		return node_new_bool(v, in->pos);
	if (in->kind == NODE_SCALAR && in->stype == SC_STR && node_as_bool(in, &v))
		return node_new_bool(v, in->pos);
	return canon_error(c, in, path, "must be a boolean");
}

bool compose_parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"ns", 1},	 {"us", 1e3}, {"µs", 1e3},  {"ms", 1e6},
		     {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ns = 0;
		return true;
	}
	if (!*s)
		return false;
	while (*s) {
		char *end;
		double v;
		size_t i, best = 0, bestlen = 0;

		if (!isdigit((unsigned char)*s) && *s != '.')
			return false;
		v = strtod(s, &end);
		if (end == s)
			return false;
		s = end;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].unit);

			if (strncmp(s, units[i].unit, l) == 0 && l > bestlen) {
				best = i;
				bestlen = l;
			}
		}
		if (!bestlen)
			return false;
		total += v * units[best].mult;
		s += bestlen;
	}
	if (total > 9.2e18)
		return false;
	*ns = round_half_away(neg ? -total : total);
	return true;
}

/* Go's time.Duration.String, which is what Compose prints. */
char *compose_format_duration(long long ns)
{
	unsigned long long u = ns < 0 ? (unsigned long long)-ns : (unsigned long long)ns;
	const char *sign = ns < 0 ? "-" : "";
	struct strbuf sb = {0};

	if (u == 0)
		return xstrdup("0s");
	if (u < 1000000000ULL) {
		const char *unit;
		unsigned long long div;

		if (u < 1000ULL) {
			unit = "ns";
			div = 1;
		} else if (u < 1000000ULL) {
			unit = "µs";
			div = 1000;
		} else {
			unit = "ms";
			div = 1000000;
		}
		strbuf_addf(&sb, "%s%llu", sign, u / div);
		if (u % div) {
			char frac[16];
			int len;

			len = snprintf(frac, sizeof(frac), "%0*llu", div == 1000 ? 3 : 6, u % div);
			while (len > 0 && frac[len - 1] == '0')
				frac[--len] = '\0';
			strbuf_addf(&sb, ".%s", frac);
		}
		strbuf_adds(&sb, unit);
		return strbuf_take(&sb);
	}
	unsigned long long h = u / 3600000000000ULL, rest = u % 3600000000000ULL;
	unsigned long long m = rest / 60000000000ULL, sns = rest % 60000000000ULL;

	strbuf_adds(&sb, sign);
	if (h)
		strbuf_addf(&sb, "%lluh", h);
	if (h || m)
		strbuf_addf(&sb, "%llum", m);
	strbuf_addf(&sb, "%llu", sns / 1000000000ULL);
	if (sns % 1000000000ULL) {
		char frac[16];
		int len = snprintf(frac, sizeof(frac), "%09llu", sns % 1000000000ULL);

		while (len > 0 && frac[len - 1] == '0')
			frac[--len] = '\0';
		strbuf_addf(&sb, ".%s", frac);
	}
	strbuf_addc(&sb, 's');
	return strbuf_take(&sb);
}

struct node *c_duration(struct canon *c, const struct node *in, const char *path,
			const struct attr *a)
{
	_cleanup_free_ char *text = NULL;
	long long ns;

	(void)a;
	if (!node_is_scalar(in) || in->stype == SC_BOOL)
		return canon_error(c, in, path, "must be a duration such as \"1m30s\"");
	if (!compose_parse_duration(in->str, &ns))
		return canon_error(c, in, path,
				   "invalid duration \"%s\" (use a unit: 500ms, 10s, "
				   "1m30s, 1h)",
				   in->str);
	text = compose_format_duration(ns);
	return node_new_str(text, in->pos);
}

/* Docker's RAMInBytes: the one parser in src/util/bytes.c. */
bool compose_parse_bytes(const char *s, long long *bytes)
{
	struct stk_err err;
	int64_t v;

	if (stk_parse_bytes(s, "size", &v, &err) < 0)
		return false;
	*bytes = v;
	return true;
}

struct node *c_bytes(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	char buf[32];
	long long v;

	(void)a;
	if (!node_is_scalar(in) || in->stype == SC_BOOL ||
	    (!compose_parse_bytes(in->str, &v) && !(node_as_int(in, &v) && v == -1)))
		return canon_error(c, in, path,
				   "invalid size \"%s\" (use a number of bytes or a "
				   "unit: 512m, 2g)",
				   node_is_scalar(in) ? in->str : node_kind_name(in));
	snprintf(buf, sizeof(buf), "%lld", v);
	return node_new_str(buf, in->pos);
}

/* A list of strings. Numbers are accepted where Compose takes them (expose). */
struct node *c_strlist(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a)
{
	struct node *out;
	size_t i;

	(void)a;
	if (in->kind != NODE_SEQ)
		return canon_error(c, in, path, "must be a list");
	out = node_new(NODE_SEQ, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node *it = in->items[i];

		if (!node_is_scalar(it)) {
			_cleanup_free_ char *p = canon_path_index(path, i);

			canon_error(c, it, p, "must be a string");
			continue;
		}
		node_seq_push(out, node_new_str(it->str, it->pos));
	}
	return out;
}

struct node *c_str_or_list(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a)
{
	struct node *out;

	if (node_is_scalar(in)) {
		out = node_new(NODE_SEQ, in->pos);
		node_seq_push(out, node_new_str(in->str, in->pos));
		return out;
	}
	return c_strlist(c, in, path, a);
}

/* Shell-style word splitting of a command string, as Compose does (shellwords):
 * quotes group, backslash escapes, no expansion. */
static bool shell_split(const char *s, struct node *seq, struct node_pos pos)
{
	struct strbuf w = {0};
	bool in_word = false;
	char q = 0;

	for (; *s; s++) {
		if (q) {
			if (*s == q)
				q = 0;
			else if (*s == '\\' && q == '"' && s[1] && strchr("\"\\$`", s[1]))
				strbuf_addc(&w, *++s);
			else
				strbuf_addc(&w, *s);
			continue;
		}
		if (*s == '\'' || *s == '"') {
			q = *s;
			in_word = true;
		} else if (*s == '\\' && s[1]) {
			strbuf_addc(&w, *++s);
			in_word = true;
		} else if (isspace((unsigned char)*s)) {
			if (in_word) {
				node_seq_push(seq, node_new_str(w.buf ? w.buf : "", pos));
				strbuf_free(&w);
				in_word = false;
			}
		} else {
			strbuf_addc(&w, *s);
			in_word = true;
		}
	}
	if (in_word)
		node_seq_push(seq, node_new_str(w.buf ? w.buf : "", pos));
	strbuf_free(&w);
	return q == 0;
}

struct node *c_command(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a)
{
	struct node *out;

	if (node_is_null(in))
		return node_new_null(in->pos);
	if (in->kind == NODE_SCALAR && in->stype == SC_STR) {
		out = node_new(NODE_SEQ, in->pos);
		if (!shell_split(in->str, out, in->pos)) {
			node_free(out);
			return canon_error(c, in, path, "has an unterminated quote");
		}
		return out;
	}
	return c_strlist(c, in, path, a);
}

/* list_or_dict: a mapping, or a list of "KEY=VALUE". In environment a bare KEY (or a
 * null value) means "take it from the shell"; in labels it is the empty string. */
static struct node *kv_mapping(struct canon *c, const struct node *in, const char *path,
			       bool bare_is_null)
{
	struct node *out = node_new(NODE_MAP, in->pos);
	size_t i;

	if (in->kind == NODE_MAP) {
		for (i = 0; i < in->len; i++) {
			const struct node *v = in->pairs[i].value;
			_cleanup_free_ char *p = canon_path(path, in->pairs[i].key);

			if (node_is_null(v))
				node_map_set_at(out, in->pairs[i].key, in->pairs[i].kpos,
						bare_is_null ? node_new_null(v->pos)
							     : node_new_str("", v->pos));
			else if (node_is_scalar(v))
				node_map_set_at(out, in->pairs[i].key, in->pairs[i].kpos,
						node_new_str(v->str, v->pos));
			else
				canon_error(c, v, p, "must be a string, number, boolean or null");
		}
		return out;
	}
	if (in->kind != NODE_SEQ) {
		node_free(out);
		return canon_error(c, in, path, "must be a mapping or a list of \"KEY=VALUE\"");
	}
	for (i = 0; i < in->len; i++) {
		const struct node *it = in->items[i];
		const char *eq;

		if (!node_is_scalar(it)) {
			_cleanup_free_ char *p = canon_path_index(path, i);

			canon_error(c, it, p, "must be a string \"KEY=VALUE\"");
			continue;
		}
		eq = strchr(it->str, '=');
		if (eq == it->str) {
			_cleanup_free_ char *p = canon_path_index(path, i);

			canon_error(c, it, p, "\"%s\" has no name before '='", it->str);
			continue;
		}
		if (eq) {
			_cleanup_free_ char *k = xstrndup(it->str, (size_t)(eq - it->str));

			node_map_set_at(out, k, it->pos, node_new_str(eq + 1, it->pos));
		} else {
			node_map_set_at(out, it->str, it->pos,
					bare_is_null ? node_new_null(it->pos)
						     : node_new_str("", it->pos));
		}
	}
	return out;
}

struct node *c_env_mapping(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a)
{
	(void)a;
	if (node_is_null(in))
		return node_new(NODE_MAP, in->pos);
	return kv_mapping(c, in, path, true);
}

struct node *c_label_mapping(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a)
{
	(void)a;
	if (node_is_null(in))
		return node_new(NODE_MAP, in->pos);
	return kv_mapping(c, in, path, false);
}

/* A mapping of strings (driver_opts, logging options...). */
struct node *c_str_map(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a)
{
	(void)a;
	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a mapping");
	return kv_mapping(c, in, path, false);
}

static const char *suggest(const char *key, const struct attr *schema)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;

	for (; schema->name; schema++) {
		size_t d = str_edit_distance(key, schema->name);

		if (d < bestd) {
			bestd = d;
			best = schema->name;
		}
	}
	return bestd <= 2 || (best && bestd * 3 <= strlen(key)) ? best : NULL;
}

static const struct attr *find_attr(const struct attr *schema, const char *key)
{
	for (; schema->name; schema++)
		if (schema->name[0] == key[0] && !strcmp(schema->name, key))
			return schema;
	return NULL;
}

struct found_attr {
	const struct attr *a;
	const struct node_pair *p;
};

static int cmp_found(const void *x, const void *y)
{
	const struct attr *a = ((const struct found_attr *)x)->a;
	const struct attr *b = ((const struct found_attr *)y)->a;

	return (a > b) - (a < b);
}

/* An object: known attributes in schema order, then x- extensions in file order. */
struct node *canon_object_with(struct canon *c, const struct node *in, const char *path,
			       const struct attr *schema, const char *what)
{
	struct found_attr *found;
	struct node *out;
	size_t i, n = 0;

	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a mapping, not %s", node_kind_name(in));
	found = xcalloc(in->len, sizeof(*found));
	for (i = 0; i < in->len; i++) {
		const char *key = in->pairs[i].key;
		const struct attr *a;

		if (str_has_prefix(key, "x-"))
			continue;
		a = find_attr(schema, key);
		if (!a) {
			const char *s = suggest(key, schema);
			struct node fake = {.pos = in->pairs[i].kpos};

			canon_error(c, &fake, path[0] ? path : what,
				    "unknown attribute \"%s\"%s%s%s", key,
				    s ? " (did you mean \"" : "", s ? s : "", s ? "\"?)" : "");
			continue;
		}
		found[n].a = a;
		found[n++].p = &in->pairs[i];
	}
	qsort(found, n, sizeof(*found), cmp_found);
	out = node_new(NODE_MAP, in->pos);
	for (i = 0; i < n; i++) {
		const struct node_pair *p = found[i].p;
		struct node *v;
		_cleanup_free_ char *sub = canon_path(path, p->key);

		if (p->value->tag_reset) {
			/* kept, marked, for the merge to act on; dropped at normalisation */
			v = node_new_null(p->value->pos);
			v->tag_reset = true;
		} else {
			size_t before = c->lc->dc->errors;

			v = found[i].a->fn(c, p->value, sub, found[i].a);
			if (c->lc->dc->errors > before)
				out->partial = true;
			if (!v)
				continue;
			v->tag_override = p->value->tag_override;
		}
		node_map_append(out, p->key, p->kpos, v);
	}
	free(found);
	for (i = 0; i < in->len; i++)
		if (str_has_prefix(in->pairs[i].key, "x-"))
			node_map_append(out, in->pairs[i].key, in->pairs[i].kpos,
					node_copy(in->pairs[i].value));
	return out;
}

struct node *c_object(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a)
{
	return canon_object_with(c, in, path, a->sub, a->name);
}

/* name → object (or null, meaning all defaults). */
struct node *c_map_of(struct canon *c, const struct node *in, const char *path,
		      const struct attr *a)
{
	struct node *out;
	size_t i;

	if (node_is_null(in))
		return node_new(NODE_MAP, in->pos);
	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a mapping");
	out = node_new(NODE_MAP, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node_pair *p = &in->pairs[i];
		_cleanup_free_ char *sub = canon_path(path, p->key);
		struct node *v;

		if (node_is_null(p->value))
			v = node_new(NODE_MAP, p->value->pos);
		else
			v = canon_object_with(c, p->value, sub, a->sub, a->name);
		if (v)
			node_map_append(out, p->key, p->kpos, v);
	}
	return out;
}

struct node *c_list_of(struct canon *c, const struct node *in, const char *path,
		       const struct attr *a)
{
	struct node *out;
	size_t i;

	if (in->kind != NODE_SEQ)
		return canon_error(c, in, path, "must be a list");
	out = node_new(NODE_SEQ, in->pos);
	for (i = 0; i < in->len; i++) {
		_cleanup_free_ char *sub = canon_path_index(path, i);
		struct node *v = canon_object_with(c, in->items[i], sub, a->sub, a->name);

		if (v)
			node_seq_push(out, v);
	}
	return out;
}

struct node *canon_entries(struct canon *c, const struct node *in, const char *path,
			   const struct entry_syntax *syn)
{
	struct node *out;
	size_t i, before;

	if (in->kind != NODE_SEQ)
		return canon_error(c, in, path, "must be a list");
	out = node_new(NODE_SEQ, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node *it = in->items[i];
		_cleanup_free_ char *sub = canon_path_index(path, i), *why = NULL;
		const char *const *req;
		struct node *e;

		if (it->kind != NODE_MAP) {
			before = out->len;
			if (!node_is_scalar(it) || it->stype == SC_BOOL)
				canon_error(c, it, sub, "must be a string or a mapping");
			else if (!syn->from_short(c, it, out, &why))
				canon_error(c, it, sub, "invalid %s \"%s\": %s", syn->what, it->str,
					    why);
			while (syn->finish && before < out->len) {
				if (syn->finish(c, out->items[before], sub)) {
					before++;
					continue;
				}
				node_free(out->items[before]);
				memmove(out->items + before, out->items + before + 1,
					(out->len - before - 1) * sizeof(*out->items));
				out->len--;
			}
			continue;
		}
		e = canon_object_with(c, it, sub, syn->schema, syn->what);
		/* an entry without what it needs is dropped; said only if it was not given
		 * at all (a given but invalid one was reported already) */
		for (req = syn->required; e && req && *req; req++) {
			if (node_map_get(e, *req))
				continue;
			if (!node_map_get(it, *req))
				canon_error(c, it, sub, "needs a \"%s\"", *req);
			node_free(e);
			e = NULL;
		}
		if (!e)
			continue;
		if (syn->finish && !syn->finish(c, e, sub)) {
			node_free(e);
			continue;
		}
		node_seq_push(out, e);
	}
	return out;
}

struct node *c_any(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	(void)c;
	(void)path;
	(void)a;
	return node_copy(in);
}

static struct node *path_with(struct canon *c, const struct node *in, const char *path,
			      char *(*resolve)(struct canon *c, const char *p))
{
	_cleanup_free_ char *abs = NULL;

	if (in->kind != NODE_SCALAR || in->stype != SC_STR)
		return canon_error(c, in, path, "must be a string");
	abs = resolve(c, in->str);
	return node_new_str(abs, in->pos);
}

/* A file path, made absolute against the file's directory. */
struct node *c_path(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	(void)a;
	return path_with(c, in, path, canon_resolve_path);
}

/* A path on the host (see canon_resolve_host_path). */
struct node *c_host_path(struct canon *c, const struct node *in, const char *path,
			 const struct attr *a)
{
	(void)a;
	return path_with(c, in, path, canon_resolve_host_path);
}

static bool parse_ip(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

struct node *c_ip(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	if (node_is_scalar(in) && in->stype == SC_STR && !parse_ip(in->str))
		return canon_error(c, in, path, "invalid IP address \"%s\"", in->str);
	return c_string(c, in, path, a);
}

/* address/prefix, the prefix within the address family's length */
struct node *c_cidr(struct canon *c, const struct node *in, const char *path, const struct attr *a)
{
	_cleanup_free_ char *addr = NULL;
	const char *slash;
	unsigned char buf[16];
	char *end;
	long prefix, max;

	if (!node_is_scalar(in) || in->stype != SC_STR)
		return c_string(c, in, path, a);
	slash = strchr(in->str, '/');
	if (!slash)
		return canon_error(c, in, path, "invalid subnet \"%s\"", in->str);
	addr = xstrndup(in->str, (size_t)(slash - in->str));
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		return canon_error(c, in, path, "invalid subnet \"%s\"", in->str);
	prefix = strtol(slash + 1, &end, 10);
	if (!isdigit((unsigned char)slash[1]) || *end || prefix < 0 || prefix > max)
		return canon_error(c, in, path, "invalid subnet \"%s\"", in->str);
	return node_new_str(in->str, in->pos);
}

/* Top-level resources. */
static const struct attr ipam_config_schema[] = {
	{"subnet", c_cidr, NULL},	    {"ip_range", c_cidr, NULL}, {"gateway", c_ip, NULL},
	{"aux_addresses", c_str_map, NULL}, {NULL, NULL, NULL},
};

static const struct attr ipam_schema[] = {
	{"driver", c_string, NULL},
	{"config", c_list_of, ipam_config_schema},
	{"options", c_str_map, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_external(struct canon *c, const struct node *in, const char *path,
			       const struct attr *a)
{
	/* the old spelling external: {name: x} was turned into name + external by
	 * c_resources before we get here */
	return c_bool(c, in, path, a);
}

/* name → network/volume/secret/config. Rewrites the deprecated `external: {name: x}`
 * as `name: x` with `external: true`. */
static struct node *c_resources(struct canon *c, const struct node *in, const char *path,
				const struct attr *a)
{
	struct node *copy, *out;
	size_t i;

	if (in->kind != NODE_MAP)
		return c_map_of(c, in, path, a);
	copy = node_copy(in);
	for (i = 0; i < copy->len; i++) {
		struct node *r = copy->pairs[i].value;
		struct node *ext = node_map_get(r, "external");
		struct node *name;

		if (!ext || ext->kind != NODE_MAP)
			continue;
		diag_warn(c->lc->dc, ext->pos,
			  "%s.%s: \"external.name\" is deprecated, use \"name\" with "
			  "\"external: true\"",
			  path, copy->pairs[i].key);
		name = node_map_take(ext, "name");
		node_map_set(r, "external", node_new_bool(true, ext->pos));
		if (name)
			node_map_set(r, "name", name);
	}
	out = c_map_of(c, copy, path, a);
	node_free(copy);
	return out;
}

static const struct attr network_schema[] = {
	{"name", c_string, NULL},
	{"driver", c_string, NULL},
	{"driver_opts", c_str_map, NULL},
	{"ipam", c_object, ipam_schema},
	{"external", c_external, NULL},
	{"internal", c_bool, NULL},
	{"attachable", c_bool, NULL},
	{"enable_ipv4", c_bool, NULL},
	{"enable_ipv6", c_bool, NULL},
	{"labels", c_label_mapping, NULL},
	{NULL, NULL, NULL},
};

static const struct attr volume_schema[] = {
	{"name", c_string, NULL},	   {"driver", c_string, NULL},
	{"driver_opts", c_str_map, NULL},  {"external", c_external, NULL},
	{"labels", c_label_mapping, NULL}, {NULL, NULL, NULL},
};

static const struct attr secret_schema[] = {
	{"name", c_string, NULL},
	{"environment", c_string, NULL},
	{"file", c_host_path, NULL},
	{"content", c_string, NULL},
	{"external", c_external, NULL},
	{"labels", c_label_mapping, NULL},
	{"driver", c_string, NULL},
	{"driver_opts", c_str_map, NULL},
	{"template_driver", c_string, NULL},
	{NULL, NULL, NULL},
};

static const struct attr model_schema[] = {
	{"name", c_string, NULL},
	{"model", c_string, NULL},
	{"context_size", c_int, NULL},
	{"runtime_flags", c_strlist, NULL},
	{NULL, NULL, NULL},
};

/* Top-level models: each names the model to run. */
static struct node *c_models(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a)
{
	struct node *out = c_map_of(c, in, path, a);
	size_t i;

	for (i = 0; out && i < out->len; i++) {
		const struct node *given = node_map_get(in, out->pairs[i].key);

		if (node_map_get(out->pairs[i].value, "model") || node_map_get(given, "model"))
			continue;
		_cleanup_free_ char *sub = canon_path(path, out->pairs[i].key);

		canon_error(c, given, sub, "needs a \"model\"");
	}
	return out;
}

static const struct attr include_schema[] = {
	{"path", c_str_or_list, NULL},
	{"project_directory", c_string, NULL},
	{"env_file", c_str_or_list, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_include(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	struct node *out;
	size_t i, j;

	(void)a;
	if (in->kind != NODE_SEQ)
		return canon_error(c, in, path, "must be a list");
	out = node_new(NODE_SEQ, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node *it = in->items[i];
		_cleanup_free_ char *sub = canon_path_index(path, i);
		struct node *e, *paths, *v;

		if (node_is_scalar(it)) {
			e = node_new(NODE_MAP, it->pos);
			paths = node_new(NODE_SEQ, it->pos);
			node_seq_push(paths, node_new_str(it->str, it->pos));
			node_map_set(e, "path", paths);
		} else {
			e = canon_object_with(c, it, sub, include_schema, "include");
			if (!e)
				continue;
			if (!node_map_get(e, "path")) {
				canon_error(c, it, sub, "needs a \"path\"");
				node_free(e);
				continue;
			}
		}
		/* paths are relative to the including file's project */
		paths = node_map_get(e, "path");
		for (j = 0; j < paths->len; j++) {
			char *abs = canon_resolve_path(c, paths->items[j]->str);

			free(paths->items[j]->str);
			paths->items[j]->str = abs;
		}
		if ((v = node_map_get(e, "env_file")))
			for (j = 0; j < v->len; j++) {
				char *abs = canon_resolve_path(c, v->items[j]->str);

				free(v->items[j]->str);
				v->items[j]->str = abs;
			}
		if ((v = node_map_get(e, "project_directory"))) {
			char *abs = canon_resolve_path(c, v->str);

			free(v->str);
			v->str = abs;
		}
		node_seq_push(out, e);
	}
	return out;
}

static struct node *c_services(struct canon *c, const struct node *in, const char *path,
			       const struct attr *a)
{
	struct node *out;
	size_t i;

	(void)a;
	if (node_is_null(in))
		return node_new(NODE_MAP, in->pos);
	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a mapping");
	out = node_new(NODE_MAP, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node_pair *p = &in->pairs[i];
		_cleanup_free_ char *sub = canon_path(path, p->key);
		struct node *v;

		if (p->value->tag_reset) {
			v = node_new_null(p->value->pos);
			v->tag_reset = true;
		} else if (node_is_null(p->value)) {
			v = node_new(NODE_MAP, p->value->pos);
		} else {
			v = canon_service(c, p->value, sub);
		}
		if (v)
			node_map_append(out, p->key, p->kpos, v);
	}
	return out;
}

static struct node *c_version(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	(void)a;
	diag_warn(c->lc->dc, in->pos,
		  "the attribute `version` is obsolete, it will be ignored, please remove it to "
		  "avoid potential confusion");
	(void)path;
	return NULL;
}

static const struct attr top_schema[] = {
	{"version", c_version, NULL},
	{"name", c_string, NULL},
	{"include", c_include, NULL},
	{"services", c_services, NULL},
	{"networks", c_resources, network_schema},
	{"volumes", c_resources, volume_schema},
	{"secrets", c_resources, secret_schema},
	{"configs", c_resources, secret_schema},
	{"models", c_models, model_schema},
	{NULL, NULL, NULL},
};

struct node *compose_canonicalize(struct load_ctx *lc, struct node *doc, const char *base_dir)
{
	struct canon c = {lc, base_dir};

	/* with errors, what did convert is kept, so later checks still run on it */
	return canon_object_with(&c, doc, "", top_schema, "top level");
}

/* ${VAR} interpolation as Compose does it: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
 * ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a}, nesting inside the default, and $$. A '$'
 * that starts none of these (compose-go's template pattern does not match) is kept. */
#include "compose/interp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/str.h"

void envset_free(struct envset *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->names[i]);
		free(e->values[i]);
	}
	free(e->names);
	free(e->values);
	e->names = e->values = NULL;
	e->n = 0;
}

const char *envset_get(const struct envset *e, const char *name)
{
	size_t i;

	for (i = e->n; i-- > 0;)
		if (strcmp(e->names[i], name) == 0)
			return e->values[i];
	return NULL;
}

void envset_set(struct envset *e, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		if (strcmp(e->names[i], name) == 0) {
			free(e->values[i]);
			e->values[i] = value ? xstrdup(value) : NULL;
			return;
		}
	}
	e->names = xrealloc(e->names, (e->n + 1) * sizeof(*e->names));
	e->values = xrealloc(e->values, (e->n + 1) * sizeof(*e->values));
	e->names[e->n] = xstrdup(name);
	e->values[e->n] = value ? xstrdup(value) : NULL;
	e->n++;
}

void envset_from_environ(struct envset *e, char *const *env)
{
	for (; env && *env; env++) {
		const char *eq = strchr(*env, '=');
		char *name;

		if (!eq || eq == *env)
			continue;
		name = xstrndup(*env, (size_t)(eq - *env));
		envset_set(e, name, eq + 1);
		free(name);
	}
}

static bool is_name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool is_name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

static void note_unset(struct interp_result *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->nunset; i++)
		if (strcmp(r->unset[i], name) == 0)
			return;
	r->unset = xrealloc(r->unset, (r->nunset + 1) * sizeof(*r->unset));
	r->unset[r->nunset++] = xstrdup(name);
}

/* Find the '}' closing a "${" whose body starts at s, skipping nested ${...}. */
static const char *find_close(const char *s)
{
	int depth = 1;

	for (; *s; s++) {
		if (s[0] == '$' && s[1] == '$') {
			s++;
		} else if (s[0] == '$' && s[1] == '{') {
			depth++;
			s++;
		} else if (*s == '}' && --depth == 0) {
			return s;
		}
	}
	return NULL;
}

static int expand(const char *in, size_t len, interp_lookup lookup, void *ctx,
		  struct interp_result *r, struct strbuf *out, int depth);

static int expand_braced(const char *body, size_t blen, interp_lookup lookup, void *ctx,
			 struct interp_result *r, struct strbuf *out, int depth)
{
	size_t nlen = 0;
	const char *val, *op, *arg;
	size_t arglen;
	bool colon = false;
	char *name;
	int rc = 0;

	while (nlen < blen && (nlen ? is_name_char(body[nlen]) : is_name_start(body[nlen])))
		nlen++;
	if (nlen == 0) {
		r->error = xasprintf("invalid interpolation format for \"${%.*s}\": a variable "
				     "name must start with a letter or '_'",
				     (int)blen, body);
		return -1;
	}
	name = xstrndup(body, nlen);
	val = lookup(ctx, name);
	op = body + nlen;
	if (op == body + blen) {
		if (val)
			strbuf_adds(out, val);
		else
			note_unset(r, name);
		goto out;
	}
	if (*op == ':') {
		colon = true;
		op++;
	}
	if (op >= body + blen || !strchr("-?+", *op)) {
		r->error = xasprintf("invalid interpolation format for \"${%.*s}\": unknown "
				     "operator after \"%s\"",
				     (int)blen, body, name);
		rc = -1;
		goto out;
	}
	arg = op + 1;
	arglen = (size_t)(body + blen - arg);
	/* with ':' an empty value counts as unset */
	bool unset = !val || (colon && !*val);
	switch (*op) {
	case '-':
		if (unset)
			rc = expand(arg, arglen, lookup, ctx, r, out, depth + 1);
		else
			strbuf_adds(out, val);
		break;
	case '+':
		if (!unset)
			rc = expand(arg, arglen, lookup, ctx, r, out, depth + 1);
		break;
	case '?':
		if (unset) {
			struct strbuf msg = {0};

			if (expand(arg, arglen, lookup, ctx, r, &msg, depth + 1) == 0)
				r->error = xasprintf("required variable %s is missing a value%s%s",
						     name, msg.len ? ": " : "",
						     msg.len ? msg.buf : "");
			strbuf_free(&msg);
			rc = -1;
		} else {
			strbuf_adds(out, val);
		}
		break;
	}
out:
	free(name);
	return rc;
}

static int expand(const char *in, size_t len, interp_lookup lookup, void *ctx,
		  struct interp_result *r, struct strbuf *out, int depth)
{
	const char *p = in, *end = in + len;

	if (depth > 32) {
		r->error = xstrdup("interpolation nested too deeply");
		return -1;
	}
	while (p < end) {
		const char *dollar = memchr(p, '$', (size_t)(end - p));

		if (!dollar) {
			strbuf_addn(out, p, (size_t)(end - p));
			break;
		}
		strbuf_addn(out, p, (size_t)(dollar - p));
		p = dollar + 1;
		if (p < end && *p == '$') {
			strbuf_addc(out, '$');
			p++;
		} else if (p < end && *p == '{') {
			const char *close = find_close(p + 1);

			if (!close || close >= end) {
				r->error = xasprintf("invalid interpolation format for \"%.*s\": "
						     "missing closing brace",
						     (int)(end - dollar), dollar);
				return -1;
			}
			if (expand_braced(p + 1, (size_t)(close - p - 1), lookup, ctx, r, out,
					  depth) < 0)
				return -1;
			p = close + 1;
		} else if (p < end && is_name_start(*p)) {
			const char *s = p;
			char *name;
			const char *val;

			while (p < end && is_name_char(*p))
				p++;
			name = xstrndup(s, (size_t)(p - s));
			val = lookup(ctx, name);
			if (val)
				strbuf_adds(out, val);
			else
				note_unset(r, name);
			free(name);
		} else {
			/* "$(", "$1", a final "$": no variable can start here, and Compose
			 * keeps the text as written */
			strbuf_addc(out, '$');
		}
	}
	return 0;
}

int interp_string(const char *in, interp_lookup lookup, void *ctx, struct interp_result *r)
{
	struct strbuf out = {0};

	memset(r, 0, sizeof(*r));
	if (expand(in, strlen(in), lookup, ctx, r, &out, 0) < 0) {
		strbuf_free(&out);
		return -1;
	}
	r->value = strbuf_take(&out);
	return 0;
}

void interp_result_free(struct interp_result *r)
{
	size_t i;

	free(r->value);
	free(r->error);
	for (i = 0; i < r->nunset; i++)
		free(r->unset[i]);
	free(r->unset);
	memset(r, 0, sizeof(*r));
}

struct interp_walk {
	struct diag_ctx *dc;
	interp_lookup lookup;
	void *ctx;
	char **warned;
	size_t nwarned;
};

static void warn_unset_once(struct interp_walk *w, const char *name, struct node_pos pos)
{
	size_t i;

	for (i = 0; i < w->nwarned; i++)
		if (strcmp(w->warned[i], name) == 0)
			return;
	w->warned = xrealloc(w->warned, (w->nwarned + 1) * sizeof(*w->warned));
	w->warned[w->nwarned++] = xstrdup(name);
	diag_warn(w->dc, pos, "the \"%s\" variable is not set. Defaulting to a blank string.",
		  name);
}

/* Where the walk is: built into "services.db.environment.X" only for a message. */
struct interp_frame {
	const struct interp_frame *up;
	const char *key; /* NULL: a list index */
	size_t index;
};

static void frame_path(const struct interp_frame *f, struct strbuf *sb)
{
	if (!f)
		return;
	frame_path(f->up, sb);
	if (f->key)
		strbuf_addf(sb, "%s%s", f->up ? "." : "", f->key);
	else
		strbuf_addf(sb, "[%zu]", f->index);
}

static void interp_node(struct interp_walk *w, struct node *n, const struct interp_frame *at)
{
	struct interp_result r = {0};
	size_t i;

	switch (n->kind) {
	case NODE_SEQ:
		for (i = 0; i < n->len; i++) {
			struct interp_frame f = {at, NULL, i};

			interp_node(w, n->items[i], &f);
		}
		return;
	case NODE_MAP:
		for (i = 0; i < n->len; i++) {
			struct interp_frame f = {at, n->pairs[i].key, 0};

			interp_node(w, n->pairs[i].value, &f);
		}
		return;
	case NODE_SCALAR:
		break;
	}
	if (n->stype != SC_STR || !strchr(n->str, '$'))
		return;
	if (interp_string(n->str, w->lookup, w->ctx, &r) < 0) {
		struct strbuf path = {0};

		frame_path(at, &path);
		diag_error(w->dc, n->pos, "%s: %s", path.buf ? path.buf : "", r.error);
		strbuf_free(&path);
		interp_result_free(&r);
		return;
	}
	for (i = 0; i < r.nunset; i++)
		warn_unset_once(w, r.unset[i], n->pos);
	free(n->str);
	n->str = steal(&r.value);
	n->interpolated = true;
	interp_result_free(&r);
}

void compose_interpolate(struct diag_ctx *dc, struct node *root, interp_lookup lookup, void *ctx)
{
	struct interp_walk w = {dc, lookup, ctx, NULL, 0};
	size_t i;

	interp_node(&w, root, NULL);
	for (i = 0; i < w.nwarned; i++)
		free(w.warned[i]);
	free(w.warned);
}

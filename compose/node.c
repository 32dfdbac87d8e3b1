/* Node tree operations and positioned diagnostics. */
#include "compose/node.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/str.h"

struct node *node_new(enum node_kind kind, struct node_pos pos)
{
	struct node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->pos = pos;
	return n;
}

struct node *node_new_typed(enum scalar_type t, const char *s, struct node_pos pos)
{
	struct node *n = node_new(NODE_SCALAR, pos);

	n->stype = t;
	n->str = xstrdup(s);
	return n;
}

struct node *node_new_str(const char *s, struct node_pos pos)
{
	return node_new_typed(SC_STR, s, pos);
}

struct node *node_new_int(long long v, struct node_pos pos)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return node_new_typed(SC_INT, buf, pos);
}

struct node *node_new_bool(bool v, struct node_pos pos)
{
	return node_new_typed(SC_BOOL, v ? "true" : "false", pos);
}

struct node *node_new_null(struct node_pos pos)
{
	return node_new_typed(SC_NULL, "", pos);
}

void node_free(struct node *n)
{
	size_t i;

	if (!n)
		return;
	if (n->kind == NODE_SEQ)
		for (i = 0; i < n->len; i++)
			node_free(n->items[i]);
	if (n->kind == NODE_MAP)
		for (i = 0; i < n->len; i++) {
			free(n->pairs[i].key);
			node_free(n->pairs[i].value);
		}
	free(n->items);
	free(n->pairs);
	free(n->str);
	free(n);
}

struct node *node_copy(const struct node *n)
{
	struct node *c = node_new(n->kind, n->pos);
	size_t i;

	c->stype = n->stype;
	c->tag_reset = n->tag_reset;
	c->tag_override = n->tag_override;
	c->interpolated = n->interpolated;
	c->partial = n->partial;
	if (n->str)
		c->str = xstrdup(n->str);
	if (n->kind == NODE_SEQ) {
		c->items = xcalloc(n->len, sizeof(*c->items));
		for (i = 0; i < n->len; i++)
			c->items[i] = node_copy(n->items[i]);
	} else if (n->kind == NODE_MAP) {
		c->pairs = xcalloc(n->len, sizeof(*c->pairs));
		for (i = 0; i < n->len; i++) {
			c->pairs[i].key = xstrdup(n->pairs[i].key);
			c->pairs[i].kpos = n->pairs[i].kpos;
			c->pairs[i].value = node_copy(n->pairs[i].value);
		}
	}
	c->len = c->cap = n->len;
	return c;
}

void node_seq_push(struct node *seq, struct node *item)
{
	if (seq->len == seq->cap) {
		seq->cap = seq->cap ? seq->cap * 2 : 4;
		seq->items = xrealloc(seq->items, seq->cap * sizeof(*seq->items));
	}
	seq->items[seq->len++] = item;
}

struct node_pair *node_map_find(const struct node *map, const char *key)
{
	size_t i;

	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (i = 0; i < map->len; i++)
		if (strcmp(map->pairs[i].key, key) == 0)
			return &map->pairs[i];
	return NULL;
}

struct node *node_map_get(const struct node *map, const char *key)
{
	struct node_pair *p = node_map_find(map, key);

	return p ? p->value : NULL;
}

void node_map_set_at(struct node *map, const char *key, struct node_pos kpos, struct node *value)
{
	struct node_pair *p = node_map_find(map, key);

	if (p) {
		node_free(p->value);
		p->value = value;
		return;
	}
	node_map_append(map, key, kpos, value);
}

void node_map_append(struct node *map, const char *key, struct node_pos kpos, struct node *value)
{
	struct node_pair *p;

	/* grow geometrically: services mappings have thousands of keys */
	if (map->len == map->cap) {
		map->cap = map->cap ? map->cap * 2 : 4;
		map->pairs = xrealloc(map->pairs, map->cap * sizeof(*map->pairs));
	}
	p = &map->pairs[map->len++];
	p->key = xstrdup(key);
	p->kpos = kpos;
	p->value = value;
}

void node_map_set(struct node *map, const char *key, struct node *value)
{
	node_map_set_at(map, key, value->pos, value);
}

struct node *node_map_take(struct node *map, const char *key)
{
	struct node_pair *p = node_map_find(map, key);
	struct node *v;
	size_t idx;

	if (!p)
		return NULL;
	v = p->value;
	free(p->key);
	idx = (size_t)(p - map->pairs);
	memmove(p, p + 1, (map->len - idx - 1) * sizeof(*p));
	map->len--;
	return v;
}

void node_map_del(struct node *map, const char *key)
{
	node_free(node_map_take(map, key));
}

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node_pair *)a)->key, ((const struct node_pair *)b)->key);
}

void node_map_sort(struct node *map)
{
	if (map->len > 1)
		qsort(map->pairs, map->len, sizeof(*map->pairs), pair_cmp);
}

size_t node_map_move(struct node *map, const char *key, size_t to)
{
	struct node_pair *p = node_map_find(map, key), moved;
	size_t from;

	if (!p || (from = (size_t)(p - map->pairs)) < to)
		return to;
	moved = *p;
	memmove(map->pairs + to + 1, map->pairs + to, (from - to) * sizeof(*p));
	map->pairs[to] = moved;
	return to + 1;
}

bool node_is_null(const struct node *n)
{
	return !n || (n->kind == NODE_SCALAR && n->stype == SC_NULL);
}

bool node_is_scalar(const struct node *n)
{
	return n && n->kind == NODE_SCALAR && n->stype != SC_NULL;
}

const char *node_kind_name(const struct node *n)
{
	if (!n || (n->kind == NODE_SCALAR && n->stype == SC_NULL))
		return "null";
	switch (n->kind) {
	case NODE_SEQ:
		return "a list";
	case NODE_MAP:
		return "a mapping";
	default:
		break;
	}
	switch (n->stype) {
	case SC_INT:
		return "an integer";
	case SC_FLOAT:
		return "a number";
	case SC_BOOL:
		return "a boolean";
	default:
		return "a string";
	}
}

static bool match_any(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (strcmp(s, *words) == 0)
			return true;
	return false;
}

static bool parse_int_text(const char *s, long long *out)
{
	const char *p = s;
	char *end;
	int base = 10;
	bool neg = false;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p += 1;
	}
	if (!*p || *p == '+' || *p == '-' || *p == ' ')
		return false;
	errno = 0;
	*out = strtoll(p, &end, base);
	if (*end || errno)
		return false;
	if (neg)
		*out = -*out;
	return true;
}

static bool parse_float_text(const char *s, double *out)
{
	char *end;
	size_t i;

	if (match_any(s, (const char *const[]){".inf", ".Inf", ".INF", "+.inf", NULL})) {
		*out = INFINITY;
		return true;
	}
	if (match_any(s, (const char *const[]){"-.inf", "-.Inf", "-.INF", NULL})) {
		*out = -INFINITY;
		return true;
	}
	if (match_any(s, (const char *const[]){".nan", ".NaN", ".NAN", NULL})) {
		*out = NAN;
		return true;
	}
	/* strtod accepts hex, "inf" and spaces, which YAML does not */
	for (i = 0; s[i]; i++)
		if (!strchr("0123456789+-.eE", s[i]))
			return false;
	if (!*s || !strpbrk(s, "0123456789"))
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return !*end && !errno;
}

enum scalar_type scalar_resolve(const char *s)
{
	long long i;
	double d;

	/* most scalars are plain words: decide those on the first character */
	switch (s[0]) {
	case '\0':
		return SC_NULL;
	case '~':
		return s[1] ? SC_STR : SC_NULL;
	case 'n':
	case 'N':
		return match_any(s, (const char *const[]){"null", "Null", "NULL", NULL}) ? SC_NULL
											 : SC_STR;
	case 't':
	case 'T':
	case 'f':
	case 'F':
		return match_any(s, (const char *const[]){"true", "True", "TRUE", "false", "False",
							  "FALSE", NULL})
			       ? SC_BOOL
			       : SC_STR;
	case '.':
	case '+':
	case '-':
		break;
	default:
		if (s[0] < '0' || s[0] > '9')
			return SC_STR;
	}
	if (parse_int_text(s, &i))
		return SC_INT;
	if (parse_float_text(s, &d))
		return SC_FLOAT;
	return SC_STR;
}

bool node_as_bool(const struct node *n, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
					  "y",	  "Y",	  "on",	  "On",	 "ON",	NULL};
	static const char *const no[] = {"false", "False", "FALSE", "no",  "No",  "NO",
					 "n",	  "N",	   "off",   "Off", "OFF", NULL};

	if (!node_is_scalar(n))
		return false;
	if (match_any(n->str, yes))
		*out = true;
	else if (match_any(n->str, no))
		*out = false;
	else
		return false;
	return true;
}

bool node_as_int(const struct node *n, long long *out)
{
	if (!node_is_scalar(n) || n->stype == SC_BOOL)
		return false;
	return parse_int_text(n->str, out);
}

bool node_as_float(const struct node *n, double *out)
{
	long long i;

	if (!node_is_scalar(n) || n->stype == SC_BOOL)
		return false;
	if (parse_int_text(n->str, &i)) {
		*out = (double)i;
		return true;
	}
	return parse_float_text(n->str, out);
}

const char *diag_intern_file(struct diag_ctx *dc, const char *file)
{
	size_t i;

	for (i = 0; i < dc->nfiles; i++)
		if (strcmp(dc->files[i], file) == 0)
			return dc->files[i];
	dc->files = xrealloc(dc->files, (dc->nfiles + 1) * sizeof(*dc->files));
	dc->files[dc->nfiles] = xstrdup(file);
	return dc->files[dc->nfiles++];
}

static void diag_add(struct diag_ctx *dc, enum compose_severity sev, struct node_pos pos,
		     const char *fmt, va_list ap)
{
	struct compose_diags *d = dc->diags;
	struct compose_diag *e;
	char *msg;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	d->v = xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	e = &d->v[d->n++];
	e->severity = sev;
	e->file = xstrdup(pos.file ? pos.file : "");
	e->line = pos.line;
	e->col = pos.col;
	e->msg = msg;
	if (sev == COMPOSE_ERROR)
		dc->errors++;
}

void diag_error(struct diag_ctx *dc, struct node_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(dc, COMPOSE_ERROR, pos, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag_ctx *dc, struct node_pos pos, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	diag_add(dc, COMPOSE_WARNING, pos, fmt, ap);
	va_end(ap);
}

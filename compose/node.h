/* The node tree every stage of compose/ works on: YAML after anchors, aliases and
 * merge keys are resolved, with each node remembering the file, line and column it
 * came from so that any later stage can name the place of an error. Private to
 * compose/. */
#ifndef STK_COMPOSE_NODE_H
#define STK_COMPOSE_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compose/compose.h"

enum node_kind { NODE_SCALAR, NODE_SEQ, NODE_MAP };

/* The type of a scalar. Plain scalars are typed by the YAML core schema when loaded;
 * quoted ones are strings. Canonicalisation retypes them by the attribute's type. */
enum scalar_type { SC_STR, SC_INT, SC_FLOAT, SC_BOOL, SC_NULL };

struct node_pos {
	const char *file; /* owned by the diag context's file list */
	int line, col;
};

struct node_pair;

struct node {
	enum node_kind kind;
	enum scalar_type stype;
	struct node_pos pos;
	bool tag_reset; /* !reset */
	bool tag_override; /* !override */
	bool interpolated; /* the text came from ${...} */
	bool partial; /* an attribute of this mapping was invalid and left out */
	char *str; /* scalar text */
	size_t len; /* items or pairs */
	size_t cap; /* allocated items or pairs */
	struct node **items;
	struct node_pair *pairs;
};

struct node_pair {
	char *key;
	struct node_pos kpos;
	struct node *value;
};

struct node *node_new(enum node_kind kind, struct node_pos pos);
struct node *node_new_str(const char *s, struct node_pos pos);
struct node *node_new_typed(enum scalar_type t, const char *s, struct node_pos pos);
struct node *node_new_int(long long v, struct node_pos pos);
struct node *node_new_bool(bool v, struct node_pos pos);
struct node *node_new_null(struct node_pos pos);
void node_free(struct node *n);
struct node *node_copy(const struct node *n);

void node_seq_push(struct node *seq, struct node *item);
/* Set key to value (taking ownership), replacing any value it had. */
void node_map_set(struct node *map, const char *key, struct node *value);
void node_map_set_at(struct node *map, const char *key, struct node_pos kpos, struct node *value);
/* Append without looking for the key: for callers that know it is not there. */
void node_map_append(struct node *map, const char *key, struct node_pos kpos, struct node *value);
struct node *node_map_get(const struct node *map, const char *key);
struct node_pair *node_map_find(const struct node *map, const char *key);
/* Remove key; the value is freed. */
void node_map_del(struct node *map, const char *key);
/* Detach the value of key and hand it to the caller. */
struct node *node_map_take(struct node *map, const char *key);
void node_map_sort(struct node *map);
/* Move key's pair to index `to` when it is at `to` or after (the pairs between shift
 * down one). Returns the index after it, or `to` when the key is not there: calling it
 * for keys in turn puts them first, in that order. */
size_t node_map_move(struct node *map, const char *key, size_t to);

bool node_is_null(const struct node *n);
bool node_is_scalar(const struct node *n);
const char *node_kind_name(const struct node *n);

/* Parse helpers for scalars typed by attribute. They accept the YAML type or a string
 * that parses as it (interpolated values are strings). */
bool node_as_bool(const struct node *n, bool *out);
bool node_as_int(const struct node *n, long long *out);
bool node_as_float(const struct node *n, double *out);

/* YAML core-schema resolution of a plain scalar. */
enum scalar_type scalar_resolve(const char *s);

/* Diagnostics with positions. */
struct diag_ctx {
	struct compose_diags *diags;
	char **files; /* interned file names, owned here */
	size_t nfiles;
	size_t errors;
	size_t budget; /* nodes left before a document counts as too large */
};

const char *diag_intern_file(struct diag_ctx *dc, const char *file);
void diag_error(struct diag_ctx *dc, struct node_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void diag_warn(struct diag_ctx *dc, struct node_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* load.c: parse YAML text into one node per document. Returns the number of documents
 * (0 with an empty file), or -1 after reporting errors. */
int compose_yaml_load(struct diag_ctx *dc, const char *file, const char *text, size_t len,
		      struct node ***docs);

#endif

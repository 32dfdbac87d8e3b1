/* Variable interpolation and .env files. Private to compose/. */
#ifndef STK_COMPOSE_INTERP_H
#define STK_COMPOSE_INTERP_H

#include <stdbool.h>
#include <stddef.h>

#include "compose/node.h"

/* A variable set: name=value pairs; later sets override earlier ones. */
struct envset {
	char **names;
	char **values;
	size_t n;
};

void envset_free(struct envset *e);
const char *envset_get(const struct envset *e, const char *name);
void envset_set(struct envset *e, const char *name, const char *value);
void envset_from_environ(struct envset *e, char *const *env);

typedef const char *(*interp_lookup)(void *ctx, const char *name);

struct interp_result {
	char *value; /* set on success */
	char *error; /* set on failure */
	char **unset; /* variables used without a value and without a default */
	size_t nunset;
};

/* Expand one string. Returns 0, or -1 with result->error set. */
int interp_string(const char *in, interp_lookup lookup, void *ctx, struct interp_result *r);
void interp_result_free(struct interp_result *r);

/* Interpolate every scalar value (not keys) under root in place. Unset variables warn
 * once each; errors are reported at the scalar's position. */
void compose_interpolate(struct diag_ctx *dc, struct node *root, interp_lookup lookup, void *ctx);

/* Split a dotenv error ("LINE:COL: message") into its place and message. */
const char *dotenv_error_place(const char *error, int *line, int *col);

/* Parse a dotenv file's text. With interpolate, values may use ${VAR} from lookup and
 * from earlier lines. Returns 0, or -1 with *error set ("line N: ..."). */
int dotenv_parse(const char *text, bool raw, interp_lookup lookup, void *ctx, struct envset *out,
		 char **error);

#endif

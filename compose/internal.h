/* Interfaces between the stages of compose/. Private to compose/. */
#ifndef STK_COMPOSE_INTERNAL_H
#define STK_COMPOSE_INTERNAL_H

#include "compose/interp.h"
#include "compose/node.h"

struct extends_frame {
	const char *file;
	const char *service;
	struct extends_frame *up;
};

/* What every stage needs to know about where it is. */
struct load_ctx {
	struct diag_ctx *dc;
	const struct compose_options *opt;
	struct envset env; /* interpolation variables: env files, then the shell's */
	char *workdir; /* the project directory, absolute */
	int include_depth;
	struct extends_frame *extends_stack; /* services being extended, for cycles */
	bool merged; /* a merge ran: key order must be restored */
	/* Something could not be read at all (a file, its YAML, an extends or include):
	 * checking references would only report what is missing because of it. Errors in
	 * attributes leave a partial tree that later stages still check. */
	bool broken;
	char **profiles; /* every profile a service names, enabled or not */
	size_t nprofiles;
};

const char *load_ctx_lookup(void *ctx, const char *name);
/* Read a dotenv file (interpolated with lc's variables) into `into`; -1 on error. */
int compose_read_env_file(struct load_ctx *lc, const char *path, struct node_pos pos,
			  struct envset *into);

/* canon.c: one file's document → canonical tree (short syntax expanded, types checked,
 * unknown attributes reported, relative paths resolved against base_dir). */
struct node *compose_canonicalize(struct load_ctx *lc, struct node *doc, const char *base_dir);

/* merge.c: merge override into base by the compose-spec rules; consumes override. */
void compose_merge(struct node *base, struct node *override);

/* extends.c: resolve `extends` in a canonical file tree. */
void compose_apply_extends(struct load_ctx *lc, struct node *tree, const char *file);

/* project.c: load one file to its canonical tree with extends and include resolved;
 * relative paths in it resolve against base_dir. */
struct node *compose_load_file(struct load_ctx *lc, const char *path, const char *base_dir);

/* include.c: load the projects a file includes and merge their resources into tree. */
void compose_apply_include(struct load_ctx *lc, struct node *tree);

/* normalize.c: defaults, resource names, implicit dependencies and networks. */
void compose_normalize(struct load_ctx *lc, struct node *tree, const char *project_name);

/* validate.c: references, conflicts and cycles over the merged tree. */
void compose_validate(struct load_ctx *lc, struct node *tree);

/* decode.c: canonical tree → typed model. */
void compose_decode(struct compose_project *p);

/* emit.c */
char *compose_emit_yaml(const struct node *tree);
char *compose_emit_json(const struct node *tree, bool pretty);
void compose_escape_dollars(struct node *n);
bool compose_has_dollar(const struct node *n);

/* util: absolute, cleaned path of rel against base. */
char *compose_path_join(const char *base, const char *rel);
char *compose_path_dir(const char *path);

#endif

/* `include`: another project's files loaded as their own project (their own project
 * directory and env file) and their resources added to this one. A resource both
 * define is an error. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

#define INCLUDE_MAX_DEPTH 10

static const char *const resource_kinds[] = {"services", "networks", "volumes",
					     "secrets",	 "configs",  NULL};

static int load_include_env(struct load_ctx *sub, const struct load_ctx *parent,
			    const struct node *env_files, const char *dir)
{
	struct envset fileenv = {0};
	size_t i;
	int rc = 0;

	for (i = 0; i < parent->env.n; i++)
		envset_set(&sub->env, parent->env.names[i], parent->env.values[i]);
	if (env_files) {
		for (i = 0; i < env_files->len && rc == 0; i++)
			rc = compose_read_env_file(sub, env_files->items[i]->str,
						   env_files->items[i]->pos, &fileenv);
	} else {
		_cleanup_free_ char *p = compose_path_join(dir, ".env");
		struct stat st;

		if (stat(p, &st) == 0)
			rc = compose_read_env_file(sub, p,
						   env_files ? env_files->pos
							     : (struct node_pos){0},
						   &fileenv);
	}
	/* the including project's variables win over the included env file */
	for (i = 0; i < fileenv.n; i++)
		if (!envset_get(&parent->env, fileenv.names[i]))
			envset_set(&sub->env, fileenv.names[i], fileenv.values[i]);
	envset_free(&fileenv);
	return rc;
}

static void add_resources(struct load_ctx *lc, struct node *tree, struct node *sub,
			  const struct node *entry)
{
	const char *const *kind;
	size_t i;

	for (kind = resource_kinds; *kind; kind++) {
		struct node *from = node_map_get(sub, *kind), *into;

		if (!from || !from->len)
			continue;
		into = node_map_get(tree, *kind);
		if (!into) {
			into = node_new(NODE_MAP, entry->pos);
			node_map_set(tree, *kind, into);
		}
		for (i = 0; i < from->len; i++) {
			if (node_map_get(into, from->pairs[i].key)) {
				diag_error(lc->dc, entry->pos,
					   "include: %s.%s is defined both here and in the included "
					   "project",
					   *kind, from->pairs[i].key);
				continue;
			}
			node_map_set_at(into, from->pairs[i].key, from->pairs[i].kpos,
					node_copy(from->pairs[i].value));
		}
	}
}

static void include_one(struct load_ctx *lc, struct node *tree, const struct node *entry)
{
	const struct node *paths = node_map_get(entry, "path");
	const struct node *pd = node_map_get(entry, "project_directory");
	struct load_ctx sub = {.dc = lc->dc,
			       .opt = lc->opt,
			       .include_depth = lc->include_depth + 1};
	_cleanup_free_ char *dir = pd ? xstrdup(pd->str) : compose_path_dir(paths->items[0]->str);
	struct node *merged = NULL;
	size_t i;

	if (sub.include_depth > INCLUDE_MAX_DEPTH) {
		diag_error(lc->dc, entry->pos, "include: nested more than %d levels deep",
			   INCLUDE_MAX_DEPTH);
		return;
	}
	sub.workdir = dir;
	if (load_include_env(&sub, lc, node_map_get(entry, "env_file"), dir) < 0)
		goto out;
	for (i = 0; i < paths->len; i++) {
		struct node *t = compose_load_file(&sub, paths->items[i]->str, dir);

		if (!t)
			continue;
		if (!merged)
			merged = t;
		else
			compose_merge(merged, t);
	}
	if (merged && lc->dc->errors == 0)
		add_resources(lc, tree, merged, entry);
	lc->merged |= sub.merged;
out:
	node_free(merged);
	envset_free(&sub.env);
}

void compose_apply_include(struct load_ctx *lc, struct node *tree)
{
	struct node *inc = node_map_take(tree, "include");
	size_t i;

	for (i = 0; inc && i < inc->len; i++)
		include_one(lc, tree, inc->items[i]);
	node_free(inc);
}

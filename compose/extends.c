/* `extends`: a service starts from another service (in the same file or another
 * one) and is merged over it by the usual merge rules. Chains are followed, cycles
 * are errors. A service from another file comes with its paths already resolved
 * against that file's directory. */
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static bool in_stack(const struct extends_frame *f, const char *file, const char *service)
{
	for (; f; f = f->up)
		if (!strcmp(f->file, file) && !strcmp(f->service, service))
			return true;
	return false;
}

static void resolve_service(struct load_ctx *lc, struct node *services, const char *name,
			    const char *file);

/* The base service, resolved itself, as a copy the caller owns. */
static struct node *base_service(struct load_ctx *lc, struct node *services, const struct node *ext,
				 const char *name, const char *file)
{
	const struct node *svc_name = node_map_get(ext, "service");
	const struct node *other = node_map_get(ext, "file");
	struct node *base;

	if (!other || !strcmp(other->str, file)) {
		if (!node_map_get(services, svc_name->str)) {
			diag_error(lc->dc, svc_name->pos,
				   "services.%s.extends: service \"%s\" not found in %s", name,
				   svc_name->str, file);
			return NULL;
		}
		resolve_service(lc, services, svc_name->str, file);
		base = node_map_get(services, svc_name->str);
		return base ? node_copy(base) : NULL;
	}
	/* another file: load it whole (its own extends resolved), take the service */
	_cleanup_free_ char *dir = compose_path_dir(other->str);
	struct node *tree = compose_load_file(lc, other->str, dir);
	struct node *found;

	if (!tree)
		return NULL;
	found = node_map_get(node_map_get(tree, "services"), svc_name->str);
	if (!found && lc->dc->errors == 0)
		diag_error(lc->dc, svc_name->pos,
			   "services.%s.extends: service \"%s\" not found in %s", name,
			   svc_name->str, other->str);
	base = found ? node_copy(found) : NULL;
	node_free(tree);
	return base;
}

static void resolve_service(struct load_ctx *lc, struct node *services, const char *name,
			    const char *file)
{
	struct node_pair *p = node_map_find(services, name);
	struct extends_frame frame = {file, name, lc->extends_stack};
	struct node *ext, *base, *own;

	if (!p || !(ext = node_map_get(p->value, "extends")))
		return;
	if (in_stack(lc->extends_stack, file, name)) {
		diag_error(lc->dc, ext->pos, "services.%s.extends: circular reference to \"%s\"",
			   name, name);
		return;
	}
	lc->extends_stack = &frame;
	base = base_service(lc, services, ext, name, file);
	lc->extends_stack = frame.up;
	/* the lookup may have changed the mapping: find the service again */
	p = node_map_find(services, name);
	if (!base || !p)
		return;
	own = p->value;
	node_map_del(own, "extends");
	node_map_del(base, "extends");
	compose_merge(base, own);
	p->value = base;
	lc->merged = true;
}

void compose_apply_extends(struct load_ctx *lc, struct node *tree, const char *file)
{
	struct node *services = node_map_get(tree, "services");
	size_t i;

	for (i = 0; services && i < services->len; i++)
		resolve_service(lc, services, services->pairs[i].key, file);
}

/* Validation of the merged, normalised tree by Compose's rules: every reference
 * resolves (networks, volumes, secrets, configs, services), no depends_on cycle, no
 * conflicting attributes, no duplicate mount targets. Every error names the place. */
#include <stdlib.h>
#include <string.h>

#include "compose/graph.h"
#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

struct vctx {
	struct load_ctx *lc;
	const struct node *tree;
	const struct node *services;
};

static bool defined(const struct vctx *v, const char *kind, const char *key)
{
	return node_map_get(node_map_get(v->tree, kind), key) != NULL;
}

/* A service's mapping keyed by the names of top-level elements (networks, models):
 * each must be defined. */
static void check_named_refs(struct vctx *v, const char *name, const struct node *svc,
			     const char *kind, const char *what)
{
	const struct node *refs = node_map_get(svc, kind);
	size_t i;

	for (i = 0; refs && i < refs->len; i++)
		if (!defined(v, kind, refs->pairs[i].key))
			diag_error(v->lc->dc, refs->pairs[i].kpos,
				   "services.%s.%s: service \"%s\" refers to undefined %s \"%s\"",
				   name, kind, name, what, refs->pairs[i].key);
}

static void check_networks(struct vctx *v, const char *name, const struct node *svc)
{
	const struct node *nm = node_map_get(svc, "network_mode");

	check_named_refs(v, name, svc, "networks", "network");
	if (nm && str_has_prefix(nm->str, "service:") && !node_map_get(v->services, nm->str + 8))
		diag_error(v->lc->dc, nm->pos,
			   "services.%s.network_mode: service \"%s\" is not defined", name,
			   nm->str + 8);
}

static void check_mounts(struct vctx *v, const char *name, const struct node *svc)
{
	const struct node *vols = node_map_get(svc, "volumes");
	const struct node *tmpfs = node_map_get(svc, "tmpfs");
	const char **targets = NULL;
	size_t n = 0, i, j;

	for (i = 0; vols && i < vols->len; i++) {
		const struct node *m = vols->items[i];
		const struct node *type = node_map_get(m, "type");
		const struct node *src = node_map_get(m, "source");
		const char *target = node_map_get(m, "target")->str;

		if (type && !strcmp(type->str, "volume") && src && !defined(v, "volumes", src->str))
			diag_error(v->lc->dc, m->pos,
				   "services.%s.volumes[%zu]: service \"%s\" refers to undefined "
				   "volume \"%s\"",
				   name, i, name, src->str);
		for (j = 0; j < n; j++)
			if (!strcmp(targets[j], target))
				diag_error(v->lc->dc, m->pos,
					   "services.%s.volumes[%zu]: duplicate mount target \"%s\"",
					   name, i, target);
		targets = xrealloc(targets, (n + 1) * sizeof(*targets));
		targets[n++] = target;
	}
	for (i = 0; tmpfs && i < tmpfs->len; i++) {
		_cleanup_free_ char *t =
			xstrndup(tmpfs->items[i]->str, strcspn(tmpfs->items[i]->str, ":"));

		for (j = 0; j < n; j++)
			if (!strcmp(targets[j], t))
				diag_error(v->lc->dc, tmpfs->items[i]->pos,
					   "services.%s.tmpfs[%zu]: duplicate mount target \"%s\"",
					   name, i, t);
	}
	free(targets);
}

static void check_refs(struct vctx *v, const char *name, const struct node *svc, const char *kind)
{
	const struct node *refs = node_map_get(svc, kind);
	size_t i;

	for (i = 0; refs && i < refs->len; i++) {
		const struct node *src = node_map_get(refs->items[i], "source");

		if (src && !defined(v, kind, src->str))
			diag_error(v->lc->dc, refs->items[i]->pos,
				   "services.%s.%s[%zu]: service \"%s\" refers to undefined %s "
				   "\"%s\"",
				   name, kind, i, name,
				   !strcmp(kind, "secrets") ? "secret" : "config", src->str);
	}
}

static void check_dependencies(struct vctx *v, const char *name, const struct node *svc)
{
	const struct node *deps = node_map_get(svc, "depends_on");
	const struct node *vf = node_map_get(svc, "volumes_from");
	size_t i;

	const struct node *nm = node_map_get(svc, "network_mode");

	for (i = 0; deps && i < deps->len; i++) {
		const struct node *req = node_map_get(deps->pairs[i].value, "required");
		bool required = true;
		/* network_mode service:X implies this dependency; its own error names X. */
		bool implied = nm && nm->str && str_has_prefix(nm->str, "service:") &&
			       !strcmp(nm->str + 8, deps->pairs[i].key);

		node_as_bool(req, &required);
		if (!node_map_get(v->services, deps->pairs[i].key) && required && !implied)
			diag_error(v->lc->dc, deps->pairs[i].kpos,
				   "services.%s.depends_on: service \"%s\" depends on undefined "
				   "service \"%s\"",
				   name, name, deps->pairs[i].key);
		if (!strcmp(deps->pairs[i].key, name))
			diag_error(v->lc->dc, deps->pairs[i].kpos,
				   "services.%s.depends_on: service \"%s\" depends on itself", name,
				   name);
	}
	for (i = 0; vf && i < vf->len; i++) {
		const char *s = vf->items[i]->str;
		_cleanup_free_ char *svcname = xstrndup(s, strcspn(s, ":"));

		if (!str_has_prefix(s, "container:") && !node_map_get(v->services, svcname))
			diag_error(v->lc->dc, vf->items[i]->pos,
				   "services.%s.volumes_from[%zu]: service \"%s\" is not defined",
				   name, i, svcname);
	}
}

static void check_conflicts(struct vctx *v, const char *name, const struct node *svc)
{
	const struct node *scale = node_map_get(svc, "scale");
	const struct node *replicas = node_map_get(node_map_get(svc, "deploy"), "replicas");
	const struct node *cname = node_map_get(svc, "container_name");
	const struct node *cond =
		node_map_get(node_map_get(node_map_get(svc, "deploy"), "restart_policy"),
			     "condition");
	long long s = 1, r = 1;

	/* a service whose image was invalid was reported already */
	if (!node_map_get(svc, "image") && !node_map_get(svc, "build") &&
	    !node_map_get(svc, "provider") && !svc->partial)
		diag_error(v->lc->dc, svc->pos,
			   "services.%s: service \"%s\" has neither an image nor a build context "
			   "specified",
			   name, name);
	if (cond && node_is_scalar(cond) && strcmp(cond->str, "none") &&
	    strcmp(cond->str, "on-failure") && strcmp(cond->str, "any"))
		diag_error(v->lc->dc, cond->pos,
			   "services.%s.deploy.restart_policy.condition: invalid value \"%s\" "
			   "(none, on-failure or any)",
			   name, cond->str);
	if (scale)
		node_as_int(scale, &s);
	if (replicas)
		node_as_int(replicas, &r);
	if (scale && replicas && s != r)
		diag_error(v->lc->dc, scale->pos,
			   "services.%s: \"scale\" (%lld) and \"deploy.replicas\" (%lld) differ",
			   name, s, r);
	if (cname && ((scale && s > 1) || (replicas && r > 1)))
		diag_error(v->lc->dc, cname->pos,
			   "services.%s: container_name \"%s\" cannot be used with more than one "
			   "replica",
			   name, cname->str);
}

/* An external volume exists already: Compose refuses anything that would create it
 * (a driver, its options, labels); only its name may be given. */
static void check_external_volumes(struct vctx *v)
{
	const struct node *vols = node_map_get(v->tree, "volumes");
	size_t i, k;

	for (i = 0; vols && i < vols->len; i++) {
		const struct node *vol = vols->pairs[i].value;
		bool external = false;

		if (!node_as_bool(node_map_get(vol, "external"), &external) || !external)
			continue;
		for (k = 0; k < vol->len; k++) {
			const char *key = vol->pairs[k].key;

			if (!strcmp(key, "name") || !strcmp(key, "external") ||
			    str_has_prefix(key, "x-"))
				continue;
			diag_error(v->lc->dc, vol->pairs[k].kpos,
				   "volumes.%s: conflicting parameters \"external\" and \"%s\" "
				   "specified",
				   vols->pairs[i].key, key);
		}
	}
}

static void check_cycles(struct vctx *v)
{
	_cleanup_free_ size_t *order = xcalloc(v->services->len + 1, sizeof(size_t));
	_cleanup_free_ char *cycle = NULL;

	if (graph_start_order(v->services, order, &cycle) < 0) {
		_cleanup_free_ char *first = xstrndup(cycle, strcspn(cycle, " "));
		const struct node_pair *p = node_map_find(v->services, first);

		diag_error(v->lc->dc, p ? p->kpos : v->services->pos,
			   "services: dependency cycle detected: %s", cycle);
	}
}

void compose_validate(struct load_ctx *lc, struct node *tree)
{
	struct vctx v = {lc, tree, node_map_get(tree, "services")};
	size_t i;

	for (i = 0; i < v.services->len; i++) {
		const char *name = v.services->pairs[i].key;
		const struct node *svc = v.services->pairs[i].value;

		check_conflicts(&v, name, svc);
		check_networks(&v, name, svc);
		check_mounts(&v, name, svc);
		check_refs(&v, name, svc, "secrets");
		check_refs(&v, name, svc, "configs");
		check_dependencies(&v, name, svc);
		check_named_refs(&v, name, svc, "models", "model");
	}
	check_external_volumes(&v);
	if (lc->dc->errors == 0)
		check_cycles(&v);
}

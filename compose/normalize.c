/* Normalisation of the merged tree, as Compose does it before printing or running:
 * profiles applied, services and user-keyed mappings sorted, env_file read into
 * environment, bare environment names taken from the environment, implicit
 * depends_on (network_mode service:, volumes_from, links), the default network, and
 * resource names <project>_<key>. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static int pair_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node_pair *)a)->key, ((const struct node_pair *)b)->key);
}

static void strip_resets(struct node *n)
{
	size_t i = 0;

	if (n->kind == NODE_SEQ) {
		for (i = 0; i < n->len; i++)
			strip_resets(n->items[i]);
		return;
	}
	if (n->kind != NODE_MAP)
		return;
	while (i < n->len) {
		if (n->pairs[i].value->tag_reset) {
			node_map_del(n, n->pairs[i].key);
			continue;
		}
		n->pairs[i].value->tag_override = false;
		strip_resets(n->pairs[i].value);
		i++;
	}
}

static bool has_profile(const struct node *svc, const char *const *active, size_t n)
{
	const struct node *profiles = node_map_get(svc, "profiles");
	size_t i, j;

	if (!profiles || profiles->len == 0)
		return true;
	for (i = 0; i < profiles->len; i++)
		for (j = 0; j < n; j++)
			if (!strcmp(active[j], "*") || !strcmp(active[j], profiles->items[i]->str))
				return true;
	return false;
}

static bool named(const struct compose_options *opt, const char *name)
{
	size_t i;

	for (i = 0; i < opt->nservices; i++)
		if (!strcmp(opt->services[i], name))
			return true;
	return false;
}

/* The services a named service needs are enabled with it, whatever their profiles. */
static void enable_with_deps(const struct node *services, const char *name, bool *enabled)
{
	const struct node *deps;
	size_t i;
	int idx = -1;

	for (i = 0; i < services->len; i++)
		if (!strcmp(services->pairs[i].key, name))
			idx = (int)i;
	if (idx < 0 || enabled[idx])
		return;
	enabled[idx] = true;
	deps = node_map_get(services->pairs[idx].value, "depends_on");
	for (i = 0; deps && i < deps->len; i++)
		enable_with_deps(services, deps->pairs[i].key, enabled);
}

static void apply_profiles(struct load_ctx *lc, struct node *services)
{
	const struct compose_options *opt = lc->opt;
	const char **active = NULL;
	_cleanup_free_ char *envp = NULL;
	_cleanup_free_ bool *enabled = NULL;
	size_t nactive = 0, i, j;

	for (i = 0; i < opt->nprofiles; i++) {
		active = xrealloc(active, (nactive + 1) * sizeof(*active));
		active[nactive++] = opt->profiles[i];
	}
	if (!nactive && envset_get(&lc->env, "COMPOSE_PROFILES")) {
		char *save = NULL, *tok;

		envp = xstrdup(envset_get(&lc->env, "COMPOSE_PROFILES"));
		for (tok = strtok_r(envp, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			active = xrealloc(active, (nactive + 1) * sizeof(*active));
			active[nactive++] = tok;
		}
	}
	for (i = 0; i < services->len; i++) {
		const struct node *pr = node_map_get(services->pairs[i].value, "profiles");

		for (j = 0; pr && j < pr->len; j++) {
			size_t k;

			for (k = 0; k < lc->nprofiles && strcmp(lc->profiles[k], pr->items[j]->str);
			     k++)
				;
			if (k < lc->nprofiles)
				continue;
			lc->profiles = xrealloc(lc->profiles, (lc->nprofiles + 1) * sizeof(char *));
			lc->profiles[lc->nprofiles++] = xstrdup(pr->items[j]->str);
		}
	}
	enabled = xcalloc(services->len, sizeof(*enabled));
	for (i = 0; i < services->len; i++)
		if (has_profile(services->pairs[i].value, active, nactive))
			enabled[i] = true;
	for (i = 0; i < services->len; i++)
		if (named(opt, services->pairs[i].key))
			enable_with_deps(services, services->pairs[i].key, enabled);
	/* a dependency left disabled: an error if required, dropped otherwise */
	for (i = 0; i < services->len; i++) {
		struct node *deps = node_map_get(services->pairs[i].value, "depends_on");

		if (!enabled[i] || !deps)
			continue;
		for (j = 0; j < deps->len;) {
			const char *dep = deps->pairs[j].key;
			const struct node *req = node_map_get(deps->pairs[j].value, "required");
			bool required = true;
			size_t k;
			bool off = false;

			for (k = 0; k < services->len; k++)
				if (!strcmp(services->pairs[k].key, dep) && !enabled[k])
					off = true;
			if (!off) {
				j++;
				continue;
			}
			node_as_bool(req, &required);
			if (required)
				diag_error(lc->dc, deps->pairs[j].kpos,
					   "services.%s.depends_on: service \"%s\" is not enabled by "
					   "the active profiles",
					   services->pairs[i].key, dep);
			node_map_del(deps, dep);
		}
	}
	for (i = services->len; i-- > 0;)
		if (!enabled[i])
			node_map_del(services, services->pairs[i].key);
	free(active);
}

static void add_dependency(struct node *svc, const char *dep, struct node_pos pos, bool restart)
{
	struct node *deps = node_map_get(svc, "depends_on"), *e;

	if (!deps) {
		deps = node_new(NODE_MAP, pos);
		node_map_set(svc, "depends_on", deps);
		node_map_sort(svc);
	}
	if (node_map_get(deps, dep))
		return;
	e = node_new(NODE_MAP, pos);
	node_map_set(e, "condition", node_new_str("service_started", pos));
	/* a container sharing another's namespaces must restart with it */
	if (restart)
		node_map_set(e, "restart", node_new_bool(true, pos));
	node_map_set(e, "required", node_new_bool(true, pos));
	node_map_set_at(deps, dep, pos, e);
}

static void implicit_dependencies(struct node *svc)
{
	const struct node *nm = node_map_get(svc, "network_mode");
	const struct node *vf = node_map_get(svc, "volumes_from");
	const struct node *links = node_map_get(svc, "links");
	size_t i;

	static const char *const ns_attrs[] = {"network_mode", "ipc", "pid", "uts", "cgroup", NULL};

	for (const char *const *a = ns_attrs; *a; a++) {
		nm = node_map_get(svc, *a);
		if (node_is_scalar(nm) && str_has_prefix(nm->str, "service:"))
			add_dependency(svc, nm->str + 8, nm->pos, true);
	}
	for (i = 0; vf && i < vf->len; i++) {
		const char *s = vf->items[i]->str;
		_cleanup_free_ char *name = NULL;

		if (str_has_prefix(s, "container:"))
			continue;
		name = xstrndup(s, strcspn(s, ":"));
		add_dependency(svc, name, vf->items[i]->pos, false);
	}
	for (i = 0; links && i < links->len; i++) {
		_cleanup_free_ char *name =
			xstrndup(links->items[i]->str, strcspn(links->items[i]->str, ":"));

		add_dependency(svc, name, links->items[i]->pos, true);
	}
}

/* env_file entries in order, then environment over them; then bare names resolved. */
static void resolve_environment(struct load_ctx *lc, const char *name, struct node *svc)
{
	struct node *files = node_map_take(svc, "env_file");
	struct node *env = node_map_get(svc, "environment"), *merged;
	size_t i;

	merged = node_new(NODE_MAP, env ? env->pos : svc->pos);
	for (i = 0; files && i < files->len; i++) {
		const struct node *f = files->items[i];
		const char *path = node_map_get(f, "path")->str;
		const struct node *req = node_map_get(f, "required");
		const struct node *fmt = node_map_get(f, "format");
		bool required = true, raw = fmt && !strcmp(fmt->str, "raw");
		_cleanup_free_ char *text = str_read_file(path, NULL), *error = NULL;
		struct envset e = {0};
		size_t k;

		node_as_bool(req, &required);
		if (!text) {
			if (required)
				diag_error(lc->dc, f->pos,
					   "services.%s.env_file: env file %s not found", name,
					   path);
			continue;
		}
		if (dotenv_parse(text, raw, load_ctx_lookup, lc, &e, &error) < 0) {
			int line, col;
			const char *msg = dotenv_error_place(error, &line, &col);

			diag_error(lc->dc, f->pos, "services.%s.env_file: %s:%d:%d: %s", name, path,
				   line, col, msg);
			continue;
		}
		for (k = 0; k < e.n; k++)
			node_map_set_at(merged, e.names[k], f->pos,
					node_new_str(e.values[k], f->pos));
		envset_free(&e);
	}
	for (i = 0; env && i < env->len; i++)
		node_map_set_at(merged, env->pairs[i].key, env->pairs[i].kpos,
				node_copy(env->pairs[i].value));
	for (i = 0; i < merged->len; i++) {
		struct node *v = merged->pairs[i].value;
		const char *from_env;

		if (!node_is_null(v) || !(from_env = envset_get(&lc->env, merged->pairs[i].key)))
			continue;
		merged->pairs[i].value = node_new_str(from_env, v->pos);
		node_free(v);
	}
	node_free(files);
	if (merged->len == 0 && !env) {
		node_free(merged);
		return;
	}
	node_map_sort(merged);
	node_map_set(svc, "environment", merged);
	node_map_sort(svc);
}

static int cmp_node_str(const void *a, const void *b)
{
	return strcmp((*(struct node *const *)a)->str, (*(struct node *const *)b)->str);
}

/* Maps inside x- extensions print with sorted keys, as Compose's Go maps do. */
static void sort_maps_deep(struct node *n)
{
	size_t i;

	if (n->kind == NODE_MAP) {
		node_map_sort(n);
		for (i = 0; i < n->len; i++)
			sort_maps_deep(n->pairs[i].value);
	} else if (n->kind == NODE_SEQ) {
		for (i = 0; i < n->len; i++)
			sort_maps_deep(n->items[i]);
	}
}

/* x- keys after the attributes, sorted among themselves, their contents sorted too. */
static void sort_extensions(struct node *map)
{
	size_t i, first = map->len;

	for (i = 0; i < map->len; i++)
		if (str_has_prefix(map->pairs[i].key, "x-")) {
			first = i;
			break;
		}
	for (i = first; i < map->len; i++)
		sort_maps_deep(map->pairs[i].value);
	if (map->len - first > 1)
		qsort(map->pairs + first, map->len - first, sizeof(*map->pairs), pair_key_cmp);
}

/* Bare build args take their value from the environment and are dropped when unset. */
static void resolve_build_args(struct load_ctx *lc, struct node *svc)
{
	struct node *args = node_map_get(node_map_get(svc, "build"), "args");
	size_t i = 0;

	while (args && i < args->len) {
		struct node *v = args->pairs[i].value;
		const char *from_env;

		if (!node_is_null(v)) {
			i++;
		} else if ((from_env = envset_get(&lc->env, args->pairs[i].key))) {
			args->pairs[i].value = node_new_str(from_env, v->pos);
			node_free(v);
			i++;
		} else {
			node_map_del(args, args->pairs[i].key);
		}
	}
}

/* Booleans Compose omits when false. */
static void drop_false(struct node *svc)
{
	static const char *const keys[] = {"privileged", "read_only", "stdin_open", "tty", NULL};
	const char *const *k;
	bool v;

	for (k = keys; *k; k++)
		if (node_as_bool(node_map_get(svc, *k), &v) && !v)
			node_map_del(svc, *k);
}

static const char *const sorted_maps[] = {"annotations", "labels",     "sysctls",
					  "storage_opt", "depends_on", "networks",
					  "ulimits",	 "models",     NULL};

static void sort_service_maps(struct node *svc)
{
	const char *const *k;
	struct node *n;

	for (k = sorted_maps; *k; k++)
		if ((n = node_map_get(svc, *k)) && n->kind == NODE_MAP)
			node_map_sort(n);
	if ((n = node_map_get(svc, "build")) && (n = node_map_get(n, "args")))
		node_map_sort(n);
	if ((n = node_map_get(svc, "logging")) && (n = node_map_get(n, "options")))
		node_map_sort(n);
	if ((n = node_map_get(svc, "provider")) && (n = node_map_get(n, "options")))
		node_map_sort(n);
	if ((n = node_map_get(svc, "extra_hosts")) && n->len > 1)
		qsort(n->items, n->len, sizeof(*n->items), cmp_node_str);
	sort_extensions(svc);
}

/* A service's attributes print alphabetically, as Compose's ServiceConfig mostly
 * orders them; `provider` is its exception, right after `entrypoint`. */
static void place_provider(struct node *svc)
{
	size_t to;

	for (to = 0; to < svc->len && strcmp(svc->pairs[to].key, "entrypoint") <= 0; to++)
		;
	node_map_move(svc, "provider", to);
}

static bool uses_default_network(const struct node *services)
{
	size_t i;

	for (i = 0; i < services->len; i++) {
		const struct node *nets = node_map_get(services->pairs[i].value, "networks");

		if (node_map_get(nets, "default"))
			return true;
	}
	return false;
}

/* name: <project>_<key> unless the resource is external (its key) or named. */
static void name_resources(struct node *tree, const char *kind, const char *project)
{
	struct node *res = node_map_get(tree, kind);
	size_t i;

	if (!res)
		return;
	for (i = 0; i < res->len; i++) {
		struct node *r = res->pairs[i].value;
		const struct node *ext = node_map_get(r, "external");
		bool external = false;
		_cleanup_free_ char *name = NULL;

		if (node_map_get(r, "name"))
			continue;
		node_as_bool(ext, &external);
		name = external ? xstrdup(res->pairs[i].key)
				: xasprintf("%s_%s", project, res->pairs[i].key);
		node_map_set(r, "name", node_new_str(name, r->pos));
		/* name first, as Compose prints it */
		struct node *n = node_map_take(r, "name");
		struct node *rest = node_copy(r);

		while (r->len)
			node_map_del(r, r->pairs[0].key);
		node_map_set(r, "name", n);
		for (size_t k = 0; k < rest->len; k++)
			node_map_set_at(r, rest->pairs[k].key, rest->pairs[k].kpos,
					node_copy(rest->pairs[k].value));
		node_free(rest);
	}
	node_map_sort(res);
}

void compose_normalize(struct load_ctx *lc, struct node *tree, const char *project_name)
{
	struct node *services, *networks;
	size_t i;

	strip_resets(tree);
	node_map_del(tree, "include");
	node_map_set(tree, "name", node_new_str(project_name, tree->pos));
	services = node_map_get(tree, "services");
	if (!services) {
		services = node_new(NODE_MAP, tree->pos);
		node_map_set(tree, "services", services);
	}
	for (i = 0; i < services->len; i++) {
		struct node *svc = services->pairs[i].value;

		node_map_del(svc, "extends");
		if (node_map_get(svc, "network_mode") && node_map_get(svc, "networks"))
			diag_error(
				lc->dc, node_map_get(svc, "network_mode")->pos,
				"services.%s: \"network_mode\" and \"networks\" cannot be combined",
				services->pairs[i].key);
		implicit_dependencies(svc);
		resolve_build_args(lc, svc);
		drop_false(svc);
		resolve_environment(lc, services->pairs[i].key, svc);
		/* a provider's service is no container: it joins no network */
		if (!node_map_get(svc, "network_mode") && !node_map_get(svc, "networks") &&
		    !node_map_get(svc, "provider")) {
			struct node *nets = node_new(NODE_MAP, svc->pos);

			node_map_set(nets, "default", node_new_null(svc->pos));
			node_map_set(svc, "networks", nets);
			node_map_sort(svc);
		}
		sort_service_maps(svc);
		place_provider(svc);
	}
	apply_profiles(lc, services);
	node_map_sort(services);
	networks = node_map_get(tree, "networks");
	if (uses_default_network(services) && !node_map_get(networks, "default")) {
		if (!networks) {
			networks = node_new(NODE_MAP, tree->pos);
			node_map_set(tree, "networks", networks);
		}
		node_map_set(networks, "default", node_new(NODE_MAP, tree->pos));
	}
	name_resources(tree, "networks", project_name);
	name_resources(tree, "volumes", project_name);
	name_resources(tree, "secrets", project_name);
	name_resources(tree, "configs", project_name);
	if ((networks = node_map_get(tree, "models")))
		node_map_sort(networks); /* models keep their names: Compose gives them none */
	sort_extensions(tree);
	/* top level in Compose's order */
	static const char *const order[] = {"name",    "services", "networks", "volumes",
					    "secrets", "configs",  "models",   NULL};
	size_t at = 0;

	for (const char *const *k = order; *k; k++)
		at = node_map_move(tree, *k, at);
}

/* The engine's spec of a service's container, from the typed compose model and the
 * image's config: what Docker would run for `docker compose up`. */
#include "super/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "compose/compose.h"
#include "image/image.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/str.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static void strv_push(char ***v, const char *s)
{
	size_t n = strv_len(*v);

	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

static void strv_push_json(char ***v, struct json_object *arr)
{
	size_t i;

	for (i = 0;
	     arr && json_object_is_type(arr, json_type_array) && i < json_object_array_length(arr);
	     i++)
		strv_push(v, json_object_get_string(json_object_array_get_idx(arr, i)));
}

static char **strv_from_compose(const struct compose_strv *s)
{
	char **v = xcalloc(s->n + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < s->n; i++)
		v[i] = xstrdup(s->v[i]);
	return v;
}

/* Entrypoint and command as Docker combines them: a service entrypoint drops the
 * image's CMD; a service command replaces it. */
static int build_argv(const struct compose_service *svc, struct json_object *icfg,
		      struct engine_spec *spec, struct stk_err *err)
{
	struct json_object *ep = NULL, *cmd = NULL;
	size_t i;

	json_object_object_get_ex(icfg, "Entrypoint", &ep);
	json_object_object_get_ex(icfg, "Cmd", &cmd);
	if (svc->has_entrypoint)
		for (i = 0; i < svc->entrypoint.n; i++)
			strv_push(&spec->argv, svc->entrypoint.v[i]);
	else
		strv_push_json(&spec->argv, ep);
	if (svc->has_command)
		for (i = 0; i < svc->command.n; i++)
			strv_push(&spec->argv, svc->command.v[i]);
	else if (!svc->has_entrypoint)
		strv_push_json(&spec->argv, cmd);
	if (!spec->argv || !spec->argv[0])
		return stk_err_set(err, EINVAL,
				   "no command: the image has none and the service "
				   "sets neither entrypoint nor command");
	return 0;
}

/* The image's Env, then the service's environment over it. */
static void build_env(const struct compose_service *svc, struct json_object *icfg,
		      struct engine_spec *spec)
{
	struct json_object *env = NULL;
	size_t i, j;

	json_object_object_get_ex(icfg, "Env", &env);
	strv_push_json(&spec->env, env);
	for (i = 0; i < svc->environment.n; i++) {
		const struct compose_kv *kv = &svc->environment.v[i];
		size_t klen = strlen(kv->key);
		_cleanup_free_ char *entry = NULL;

		if (!kv->value)
			continue; /* declared without a value and unset: Compose leaves it out */
		entry = xasprintf("%s=%s", kv->key, kv->value);
		for (j = 0; spec->env[j]; j++) {
			if (strncmp(spec->env[j], kv->key, klen) == 0 &&
			    spec->env[j][klen] == '=') {
				free(spec->env[j]);
				spec->env[j] = steal(&entry);
				break;
			}
		}
		if (entry)
			strv_push(&spec->env, entry);
	}
}

static int build_limits(const struct compose_service *svc, struct engine_spec *spec,
			struct stk_err *err)
{
	struct engine_resources *r = &spec->res;
	double cpus = svc->cpus > 0 ? svc->cpus : svc->limits.cpus;
	size_t i;

	r->memory = svc->mem_limit ? svc->mem_limit : svc->limits.memory;
	r->memory_swap = svc->memswap_limit;
	r->memory_reservation = svc->mem_reservation ? svc->mem_reservation
						     : svc->reservations.memory;
	r->pids_limit = svc->pids_limit	   ? svc->pids_limit
			: svc->limits.pids ? svc->limits.pids
					   : -1;
	r->cpu_shares = svc->cpu_shares > 0 ? (uint64_t)svc->cpu_shares : 0;
	if (cpus > 0) {
		r->cpu_period = 100000;
		r->cpu_quota = (int64_t)(cpus * 100000);
	}
	if (svc->cpuset)
		r->cpuset_cpus = xstrdup(svc->cpuset);
	spec->shm_size = svc->shm_size > 0 ? (uint64_t)svc->shm_size : 0;
	if (svc->oom_score_adj) {
		spec->oom_score_adj = svc->oom_score_adj;
		spec->set_oom_score_adj = true;
	}
	for (i = 0; i < svc->nulimits; i++) {
		struct engine_ulimit u = {engine_rlimit_by_name(svc->ulimits[i].name),
					  (uint64_t)svc->ulimits[i].soft,
					  (uint64_t)svc->ulimits[i].hard};

		if (u.resource < 0)
			return stk_err_set(err, EINVAL, "unknown ulimit \"%s\"",
					   svc->ulimits[i].name);
		spec->ulimits = xrealloc(spec->ulimits, (spec->nulimits + 1) * sizeof(u));
		spec->ulimits[spec->nulimits++] = u;
	}
	for (i = 0; i < svc->sysctls.n; i++) {
		spec->sysctls =
			xrealloc(spec->sysctls, (spec->nsysctls + 1) * sizeof(*spec->sysctls));
		spec->sysctls[spec->nsysctls].key = xstrdup(svc->sysctls.v[i].key);
		spec->sysctls[spec->nsysctls++].value =
			xstrdup(svc->sysctls.v[i].value ? svc->sysctls.v[i].value : "");
	}
	return 0;
}

static void build_security(const struct compose_service *svc, struct engine_spec *spec)
{
	size_t i;

	spec->cap_add = strv_from_compose(&svc->cap_add);
	spec->cap_drop = strv_from_compose(&svc->cap_drop);
	spec->group_add = strv_from_compose(&svc->group_add);
	spec->privileged = svc->privileged;
	spec->read_only = svc->read_only;
	spec->init = svc->init;
	for (i = 0; i < svc->security_opt.n; i++) {
		const char *o = svc->security_opt.v[i];

		if (!strcmp(o, "no-new-privileges") || !strcmp(o, "no-new-privileges:true") ||
		    !strcmp(o, "no-new-privileges=true"))
			spec->no_new_privs = true;
		else if (str_has_prefix(o, "seccomp=") || str_has_prefix(o, "seccomp:"))
			spec->seccomp = xstrdup(o + 8);
	}
	if (svc->ndevices) {
		spec->devices = xcalloc(svc->ndevices + 1, sizeof(char *));
		for (i = 0; i < svc->ndevices; i++) {
			const struct compose_device *d = &svc->devices[i];

			spec->devices[i] = xasprintf("%s:%s:%s", d->source,
						     d->target ? d->target : d->source,
						     d->permissions ? d->permissions : "rwm");
		}
	}
}

int sup_spec_build(struct sup *s, const struct compose_service *svc, struct sup_ctr *c,
		   struct engine_spec *spec, struct json_object **image_config, struct stk_err *err)
{
	struct image_config ic = {0};
	_cleanup_(json_putp) struct json_object *blob = NULL;
	struct json_object *icfg = NULL, *v;
	size_t i;

	if (image_store_get(s->store, svc->image, &ic, err) < 0)
		return stk_err_wrap(err, "image %s", svc->image);
	blob = json_tokener_parse(ic.config_json ? ic.config_json : "{}");
	if (blob && json_object_object_get_ex(blob, "config", &v))
		icfg = v;
	spec->id = xstrdup(c->id);
	spec->state_dir = xasprintf("%s/engine", c->dir);
	/* Kept with the record while the container is stopped (`cp`, the next start). */
	spec->upper_dir = xasprintf("%s/upper", c->dir);
	spec->cgroup_parent = state_cgroup_parent(s->project);
	spec->cache_dir = xasprintf("%s/cache", s->paths.root);
	spec->nlayers = ic.nlayers;
	spec->layers = xcalloc(ic.nlayers + 1, sizeof(char *));
	for (i = 0; i < ic.nlayers; i++) /* the engine wants the top layer first */
		spec->layers[i] = xstrdup(ic.layers[ic.nlayers - 1 - i]);
	image_config_free(&ic);
	if (build_argv(svc, icfg, spec, err) < 0)
		return -1;
	build_env(svc, icfg, spec);
	if (svc->working_dir)
		spec->workdir = xstrdup(svc->working_dir);
	else if (icfg && json_object_object_get_ex(icfg, "WorkingDir", &v) &&
		 *json_object_get_string(v))
		spec->workdir = xstrdup(json_object_get_string(v));
	if (svc->user)
		spec->user = xstrdup(svc->user);
	else if (icfg && json_object_object_get_ex(icfg, "User", &v) && *json_object_get_string(v))
		spec->user = xstrdup(json_object_get_string(v));
	/* Docker's hostname: the first 12 characters of the container id. */
	spec->hostname = svc->hostname ? xstrdup(svc->hostname) : xstrndup(c->id, 12);
	if (svc->domainname)
		spec->domainname = xstrdup(svc->domainname);
	/* A pty for stdin, stdout and stderr: its master is read as stdout (logs.c). */
	spec->tty = svc->tty;
	build_security(svc, spec);
	/* Mounts: sup_volumes_mount() (svc_volumes.c), when the container starts. */
	if (build_limits(svc, spec, err) < 0)
		return -1;
	if (image_config)
		*image_config = icfg ? json_object_get(icfg) : NULL;
	return 0;
}

char *sup_image_id(struct sup *s, const char *image)
{
	struct image_config ic = {0};
	struct stk_err err;
	char *id;

	if (!image || image_store_get(s->store, image, &ic, &err) < 0)
		return NULL;
	id = ic.id ? xstrdup(ic.id) : NULL;
	image_config_free(&ic);
	return id;
}

/* The spec of a service's container with that id and directory, from a model of the
 * project and the image store, outside the supervisor (exec, run). */
int super_service_spec(const struct state_paths *paths, struct compose_project *model,
		       const char *service, const char *id, const char *dir,
		       struct engine_spec *spec, struct stk_err *err)
{
	struct sup s = {.paths = *paths, .project = model->name, .model = model};
	struct sup_ctr c = {.s = &s, .id = (char *)id, .dir = (char *)dir};
	int i = compose_service_index(model, service), rc;

	if (i < 0)
		return stk_err_set(err, ENOENT, "no such service: %s", service);
	if (image_store_open(paths->root, &s.store, err) < 0)
		return -1;
	rc = sup_spec_build(&s, &model->services[i], &c, spec, NULL, err);
	image_store_free(s.store);
	return rc;
}

/* The spec a recorded container was started with, rebuilt from the project's applied
 * model: the same environment, user, working directory, capabilities, seccomp, limits. */
int super_container_spec(const struct state_paths *paths, const struct state_container *rec,
			 struct engine_spec *spec, struct stk_err *err)
{
	const char *project = state_str(rec->config, "project");
	_cleanup_free_ char *dir = state_project_dir(paths, project);
	_cleanup_free_ char *file = xasprintf("%s/compose.json", dir);
	const char *files[1] = {file};
	struct compose_options o = {.files = files, .nfiles = 1, .project_name = project};
	struct compose_diags d = {0};
	struct compose_project *model = NULL;
	int rc;

	if (compose_project_load(&o, &model, &d) < 0) {
		stk_err_set(err, EINVAL, "%s: %s", file, d.n ? d.v[0].msg : "cannot load");
		compose_diags_free(&d);
		return -1;
	}
	compose_diags_free(&d);
	rc = super_service_spec(paths, model, state_str(rec->config, "service"), rec->id, rec->dir,
				spec, err);
	compose_project_free(model);
	return rc;
}

void super_port_of(const struct compose_port *cp, struct net_port *out)
{
	sup_port_of(cp, out);
}

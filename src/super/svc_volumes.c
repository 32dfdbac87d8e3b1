/* A service's volumes in the supervisor: the checks `up` makes before anything is
 * created (external volumes exist, drivers are local, bind sources can be made), the
 * mounts of a container being started (its canonical JSON handed to volumes.c, the
 * one mapping `stack runtime run` uses too), and the anonymous volumes a container
 * leaves: kept for the container that replaces it, removed with `rm -v`. */
#include "super/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"
#include "volume/volume.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static const struct compose_volume *project_volume(const struct compose_project *p, const char *key)
{
	size_t i;

	for (i = 0; key && i < p->nvolumes; i++)
		if (!strcmp(p->volumes[i].key, key))
			return &p->volumes[i];
	return NULL;
}

/* ---- before anything is created ---- */

static int check_volume(const char *root, const struct compose_project *p,
			const struct compose_service *svc, const struct compose_mount *m,
			struct stk_err *err)
{
	const struct compose_volume *def = project_volume(p, m->source);
	_cleanup_free_ char *name = NULL;
	struct volume *v;

	if (!def)
		return 0; /* anonymous */
	name = volume_compose_name(p->name, def->key, def->name);
	if (def->driver && *def->driver && strcmp(def->driver, "local"))
		return stk_err_set(err, ENOTSUP,
				   "service %s: volume \"%s\": driver \"%s\" is not supported "
				   "(stack has the local driver only)",
				   svc->name, name, def->driver);
	if (!def->external)
		return 0;
	if (volume_get(root, name, &v, err) < 0)
		return err->errnum == ENOENT ? stk_err_set(err, ENOENT,
							   "service %s: external volume \"%s\" "
							   "not found",
							   svc->name, name)
					     : stk_err_wrap(err, "service %s", svc->name);
	volume_free(v);
	return 0;
}

/* Compose makes a missing bind source (short syntax, create_host_path); one it cannot
 * make, or one told not to be made, stops `up` here. */
static int check_bind(const struct compose_service *svc, const struct compose_mount *m, bool create,
		      struct stk_err *err)
{
	struct stat st;

	if (!m->source || stat(m->source, &st) == 0)
		return 0;
	if (errno != ENOENT)
		return stk_err_sys(err, "service %s: bind source path %s", svc->name, m->source);
	if (!m->bind_create_host_path)
		return stk_err_set(err, ENOENT, "service %s: bind source path %s does not exist",
				   svc->name, m->source);
	if (create && stk_mkdir_p(m->source, 0755, err) < 0)
		return stk_err_wrap(err, "service %s: create bind source path", svc->name);
	return 0;
}

int sup_volumes_check(const char *root, const struct compose_project *p,
		      const struct compose_service *svc, bool create, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < svc->nvolumes; i++) {
		const struct compose_mount *m = &svc->volumes[i];
		int rc = 0;

		if (!strcmp(m->type, "volume"))
			rc = check_volume(root, p, svc, m, err);
		else if (!strcmp(m->type, "bind"))
			rc = check_bind(svc, m, create, err);
		else if (strcmp(m->type, "tmpfs"))
			rc = stk_err_set(err, ENOTSUP,
					 "service %s: %s mounts (%s) are not supported", svc->name,
					 m->type, m->target);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- a container's mounts ---- */

static void copy_key(struct json_object *to, const char *to_key, struct json_object *from,
		     const char *key)
{
	struct json_object *v;

	if (from && json_object_object_get_ex(from, key, &v))
		json_object_object_add(to, to_key, json_object_get(v));
}

/* volumes_from names a service ("db", "db:ro") or a container ("container:x"); the
 * mapping reads containers, so a service becomes its first container. */
static int volumes_from_json(struct sup *s, const struct compose_service *svc,
			     struct json_object *spec, struct stk_err *err)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	json_object_object_add(spec, "volumes_from", arr);
	for (i = 0; i < svc->volumes_from.n; i++) {
		const char *ref = svc->volumes_from.v[i];
		_cleanup_free_ char *service = xstrndup(ref, strcspn(ref, ":"));
		const char *mode = strchr(ref, ':');
		struct sup_ctr *c, *best = NULL;

		if (str_has_prefix(ref, "container:")) {
			json_object_array_add(arr, json_object_new_string(ref));
			continue;
		}
		for (c = s->ctrs; c; c = c->next)
			if (!strcmp(c->service, service) && (!best || c->number < best->number))
				best = c;
		if (!best)
			return stk_err_set(err, ENOENT, "volumes_from: service %s has no container",
					   service);
		{
			_cleanup_free_ char *ctr =
				xasprintf("container:%s%s", best->name, mode ? mode : "");

			json_object_array_add(arr, json_object_new_string(ctr));
		}
	}
	return 0;
}

/* The image's VOLUME entries: {"/var/lib/postgresql/data": {}}. */
static struct json_object *image_volumes(struct json_object *icfg)
{
	struct json_object *arr = json_object_new_array(), *vols;

	if (icfg && json_object_object_get_ex(icfg, "Volumes", &vols) &&
	    json_object_is_type(vols, json_type_object)) {
		json_object_object_foreach(vols, path, unused)
		{
			(void)unused;
			json_object_array_add(arr, json_object_new_string(path));
		}
	}
	return arr;
}

/* What volumes.c reads: the service's canonical shapes and the project's definitions. */
static struct json_object *mounts_json(struct sup *s, const struct compose_service *svc,
				       struct json_object *icfg, struct stk_err *err)
{
	_cleanup_free_ char *text = compose_project_render(s->model, COMPOSE_JSON);
	_cleanup_(json_putp) struct json_object *proj = json_tokener_parse(text ? text : "");
	struct json_object *spec = json_object_new_object(), *services = NULL, *sj = NULL;

	if (proj)
		json_object_object_get_ex(proj, "services", &services);
	if (services)
		json_object_object_get_ex(services, svc->name, &sj);
	copy_key(spec, "volumes", sj, "volumes");
	copy_key(spec, "tmpfs", sj, "tmpfs");
	copy_key(spec, "secrets", sj, "secrets");
	copy_key(spec, "configs", sj, "configs");
	copy_key(spec, "project_volumes", proj, "volumes");
	copy_key(spec, "project_secrets", proj, "secrets");
	copy_key(spec, "project_configs", proj, "configs");
	json_object_object_add(spec, "project_dir", json_object_new_string(s->model->workdir));
	json_object_object_add(spec, "image_volumes", image_volumes(icfg));
	if (volumes_from_json(s, svc, spec, err) < 0) {
		json_object_put(spec);
		return NULL;
	}
	return spec;
}

/* {target: name} of the anonymous volumes a container's record lists; every volume it
 * lists goes to all (may be NULL). */
static struct json_object *anonymous_of(const char *root, const char *id, struct json_object *all)
{
	struct json_object *map = json_object_new_object();
	struct volume_mount_record *m;
	struct stk_err err;
	size_t n, i;

	if (volume_read_users(root, id, &m, &n, &err) < 0)
		return map;
	for (i = 0; i < n; i++) {
		struct volume *v;

		if (strcmp(m[i].type, "volume") || !m[i].name ||
		    volume_get(root, m[i].name, &v, &err) < 0)
			continue;
		if (all)
			json_object_array_add(all, json_object_new_string(m[i].name));
		if (volume_label(v, VOLUME_LABEL_ANONYMOUS))
			json_object_object_add(map, m[i].destination,
					       json_object_new_string(m[i].name));
		volume_free(v);
	}
	volume_mount_records_free(m, n);
	return map;
}

int sup_volumes_mount(struct sup_ctr *c, const struct compose_service *svc,
		      struct engine_spec *spec, struct json_object *icfg, struct stk_err *err)
{
	struct sup *s = c->s;
	_cleanup_(json_putp) struct json_object *sj = mounts_json(s, svc, icfg, err);
	_cleanup_(json_putp) struct json_object *anon = anonymous_of(s->paths.root, c->id, NULL);
	struct json_object *kept;
	struct super_volume_opts o = {.root = s->paths.root,
				      .name = c->name,
				      .project = s->project,
				      .record_dir = c->dir,
				      .anonymous = anon};

	if (!sj)
		return -1;
	/* The container this one replaces had these (Compose keeps them on recreate). */
	if (s->anon_kept && json_object_object_get_ex(s->anon_kept, c->name, &kept)) {
		json_object_object_foreach(kept, target, name)
		{
			if (!json_object_object_get_ex(anon, target, NULL))
				json_object_object_add(anon, target, json_object_get(name));
		}
	}
	super_volumes_release(c->vols);
	c->vols = NULL;
	if (super_volumes_setup(&o, sj, spec, &c->vols, err) < 0)
		return -1;
	if (s->anon_kept)
		json_object_object_del(s->anon_kept, c->name);
	return 0;
}

/* ---- a container removed ---- */

struct json_object *sup_volumes_before_remove(struct sup_ctr *c)
{
	struct json_object *o = json_object_new_object(), *all = json_object_new_array();

	json_object_object_add(o, "all", all);
	json_object_object_add(o, "anonymous", anonymous_of(c->s->paths.root, c->id, all));
	return o;
}

static void remove_anonymous(struct sup *s, struct json_object *anon, struct stk_err *err, int *rc)
{
	json_object_object_foreach(anon, target, v)
	{
		struct stk_err one;

		(void)target;
		if (volume_remove(s->paths.root, json_object_get_string(v), &one) < 0 &&
		    one.errnum != ENOENT && *rc == 0)
			*rc = stk_err_set(err, one.errnum, "remove volume %s: %s",
					  json_object_get_string(v), one.msg);
	}
}

int sup_volumes_after_remove(struct sup *s, const char *name, struct json_object *rec, bool keep,
			     bool remove, struct stk_err *err)
{
	struct json_object *all = NULL, *anon = NULL;
	size_t i;
	int rc = 0;

	json_object_object_get_ex(rec, "all", &all);
	json_object_object_get_ex(rec, "anonymous", &anon);
	/* Its record is gone: a type=tmpfs volume no other container uses is unmounted. */
	for (i = 0; all && i < json_object_array_length(all); i++) {
		const char *vname = json_object_get_string(json_object_array_get_idx(all, i));
		struct volume *v;
		struct stk_err ignored;

		if (volume_get(s->paths.root, vname, &v, &ignored) == 0) {
			volume_unmount_unused(s->paths.root, v);
			volume_free(v);
		}
	}
	if (keep) {
		if (!s->anon_kept)
			s->anon_kept = json_object_new_object();
		json_object_object_add(s->anon_kept, name, json_object_get(anon));
	} else if (remove) {
		remove_anonymous(s, anon, err, &rc);
	}
	json_object_put(rec);
	return rc;
}

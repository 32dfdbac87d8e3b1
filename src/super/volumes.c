/* Volumes, binds, tmpfs, secrets, configs and volumes_from of one container, for the
 * supervisor (svc_volumes.c passes a service's canonical JSON) and for `stack runtime
 * run` (its spec carries the same shapes): a service's "volumes" (long syntax objects
 * or short "SRC:DST[:ro]" strings), "tmpfs" ("/run:size=64m,mode=1770"), "secrets",
 * "configs", "volumes_from", plus the project's definitions, "project_volumes",
 * "project_secrets", "project_configs", "project_dir", and the image's VOLUME list as
 * "image_volumes". The work is done by src/volume/; this file maps shapes. */
#include "super/super.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/bytes.h"
#include "util/str.h"
#include "volume/volume.h"

struct super_volumes {
	char *root;
	char *state_dir; /* files written there go if the engine never took the directory */
	bool made_dir;
	bool record_in_state_dir; /* mounts.json goes with the secrets (runtime run) */
	char **tmpfs_volumes; /* names of type=tmpfs volumes to unmount when unused */
	size_t ntmpfs;
	char **staged; /* binds prepared in the state directory (bind.recursive) */
	size_t nstaged;
	int *held; /* volume_hold() fds, let go once the users record is written */
	size_t nheld;
};

/* What setup builds up before it hands mounts to the spec. */
struct build {
	const struct super_volume_opts *o;
	struct json_object *spec;
	struct engine_spec *es;
	struct super_volumes *rv;
	struct volume_mount_record *rec;
	size_t nrec;
};

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return NULL;
	return json_object_get_string(v);
}

static bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static struct json_object *jobj(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static void add_mount(struct build *b, enum engine_mount_type type, const char *source,
		      const char *target, bool ro, const char *volume_name)
{
	struct engine_spec *s = b->es;
	struct engine_mount m = {.type = type, .read_only = ro};
	struct volume_mount_record r = {0};

	m.source = source ? xstrdup(source) : NULL;
	m.target = xstrdup(target);
	s->mounts = xrealloc(s->mounts, (s->nmounts + 1) * sizeof(*s->mounts));
	s->mounts[s->nmounts++] = m;
	r.type = xstrdup(type == ENGINE_MOUNT_VOLUME ? "volume"
			 : type == ENGINE_MOUNT_BIND ? "bind"
						     : "tmpfs");
	r.name = volume_name ? xstrdup(volume_name) : NULL;
	r.source = xstrdup(source ? source : "");
	r.destination = xstrdup(target);
	r.rw = !ro;
	b->rec = xrealloc(b->rec, (b->nrec + 1) * sizeof(*b->rec));
	b->rec[b->nrec++] = r;
}

static bool has_target(const struct engine_spec *s, const char *target)
{
	size_t i;

	for (i = 0; i < s->nmounts; i++)
		if (strcmp(s->mounts[i].target, target) == 0)
			return true;
	return false;
}

/* --- named and anonymous volumes --- */

/* The volume a mount names: the project's definition (name:, external:, driver,
 * driver_opts, labels) when there is one, Compose's name and labels, created on first
 * use; an anonymous one when key is NULL. */
static int resolve_volume(struct build *b, const char *key, const char *target, struct volume **out,
			  struct stk_err *err)
{
	struct json_object *def = key ? jobj(jobj(b->spec, "project_volumes"), key) : NULL;
	_cleanup_free_ char *name = NULL;
	struct volume_create_opts co = {0};
	struct volume_kv *labels = NULL, *options = NULL;
	size_t nlabels = 0, noptions = 0;
	bool created;
	int rc;

	if (!key && b->o->anonymous && jstr(b->o->anonymous, target) &&
	    volume_get(b->o->root, jstr(b->o->anonymous, target), out, err) == 0)
		return 0; /* the anonymous volume this container (or the one it replaces) had */
	if (key && b->o->project && !strchr(key, '/'))
		name = volume_compose_name(b->o->project, key, jstr(def, "name"));
	else if (key)
		name = xstrdup(jstr(def, "name") ? jstr(def, "name") : key);
	if (name && jbool(def, "external")) {
		if (volume_get(b->o->root, name, out, err) == 0)
			return 0;
		return err->errnum == ENOENT
			       ? stk_err_set(err, ENOENT, "external volume \"%s\" not found", name)
			       : -1;
	}
	/* An anonymous volume carries the project too: `down -v` finds it by that. */
	if (b->o->project)
		volume_kv_add(&labels, &nlabels, VOLUME_LABEL_PROJECT, b->o->project);
	if (name && b->o->project)
		volume_kv_add(&labels, &nlabels, VOLUME_LABEL_VOLUME, key);
	volume_kv_add_json(&labels, &nlabels, jobj(def, "labels"));
	volume_kv_add_json(&options, &noptions, jobj(def, "driver_opts"));
	co.name = name;
	co.driver = jstr(def, "driver");
	co.labels = labels;
	co.nlabels = nlabels;
	co.options = options;
	co.noptions = noptions;
	rc = volume_create(b->o->root, &co, out, &created, err);
	volume_kv_free(labels, nlabels);
	volume_kv_free(options, noptions);
	return rc;
}

static int mount_volume(struct build *b, const char *key, const char *target, bool ro, bool nocopy,
			struct stk_err *err)
{
	struct engine_spec *s = b->es;
	struct volume *v = NULL;
	_cleanup_free_ char *host = NULL;
	const char *rootfs_layer[1] = {s->rootfs};
	int fd;

	if (resolve_volume(b, key, target, &v, err) < 0)
		return stk_err_wrap(err, "volume \"%s\"", key ? key : target);
	fd = volume_hold(b->o->root, v->name, err);
	if (fd < 0) {
		stk_err_wrap(err, "volume \"%s\"", v->name);
		volume_free(v);
		return -1;
	}
	b->rv->held = xrealloc(b->rv->held, (b->rv->nheld + 1) * sizeof(int));
	b->rv->held[b->rv->nheld++] = fd;
	if (volume_host_path(b->o->root, v, &host, err) < 0 ||
	    (!nocopy && volume_copy_up(b->o->root, v,
				       s->nlayers ? (const char *const *)s->layers : rootfs_layer,
				       s->nlayers ? s->nlayers : 1, target, err) < 0)) {
		stk_err_wrap(err, "volume \"%s\" on %s", v->name, target);
		volume_free(v);
		return -1;
	}
	if (volume_option(v, "type") && strcmp(volume_option(v, "type"), "tmpfs") == 0) {
		struct super_volumes *rv = b->rv;

		rv->tmpfs_volumes = xrealloc(rv->tmpfs_volumes, (rv->ntmpfs + 1) * sizeof(char *));
		rv->tmpfs_volumes[rv->ntmpfs++] = xstrdup(v->name);
	}
	add_mount(b, ENGINE_MOUNT_VOLUME, host, target, ro, v->name);
	volume_free(v);
	return 0;
}

/* --- binds and tmpfs --- */

/* A mode: a JSON number is the value itself (what Compose's model holds after YAML
 * read 0440 as octal), a string is octal ("0440"). -1 when invalid. */
static long json_mode(struct json_object *v)
{
	const char *s;
	char *end;
	long mode;

	if (json_object_is_type(v, json_type_int))
		mode = (long)json_object_get_int64(v);
	else {
		s = json_object_get_string(v);
		mode = strtol(s, &end, 8);
		if (end == s || *end)
			return -1;
	}
	return mode < 0 || mode > 07777 ? -1 : mode;
}

static char *bind_source(struct build *b, const char *src)
{
	const char *dir = jstr(b->spec, "project_dir");
	const char *home = getenv("HOME");
	_cleanup_free_ char *cwd = NULL;

	if (src[0] == '/')
		return xstrdup(src);
	if (src[0] == '~' && (src[1] == '/' || !src[1]))
		return xasprintf("%s%s", home ? home : "/root", src + 1);
	if (!dir)
		dir = cwd = getcwd(NULL, 0);
	return xasprintf("%s/%s", dir ? dir : ".", src);
}

const char *super_selinux_ignored(void)
{
	return access("/sys/fs/selinux/enforce", F_OK) == 0 ? "stack does not relabel"
							    : "SELinux is not enabled";
}

/* The engine binds recursively and makes only the top mount read-only. For
 * bind.recursive disabled (no submounts) and readonly (every submount read-only) the
 * bind is prepared here, in the state directory, and the engine binds that; the
 * staging mount is detached once the container has its own copy. */
static char *stage_bind(struct build *b, const char *host, bool rro, struct stk_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/binds", b->es->state_dir);
	char *stage = xasprintf("%s/%zu", dir, b->rv->nstaged);
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	struct stat st;
	int fd;

	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || stat(host, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)
		    ? mkdir(stage, 0700) < 0
		    : (fd = open(stage, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
			      close(fd) < 0)
		goto fail;
	b->rv->staged = xrealloc(b->rv->staged, (b->rv->nstaged + 1) * sizeof(char *));
	b->rv->staged[b->rv->nstaged++] = xstrdup(stage);
	if (mount(host, stage, NULL, MS_BIND | (rro ? MS_REC : 0), NULL) < 0)
		goto fail;
	if (rro && mount_setattr(AT_FDCWD, stage, AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		goto fail;
	return stage;
fail:
	stk_err_sys(err, "bind %s: prepare %s", host, stage);
	free(stage);
	return NULL;
}

static int mount_bind(struct build *b, struct json_object *m, const char *src, const char *target,
		      bool ro, struct stk_err *err)
{
	struct json_object *bind = jobj(m, "bind");
	_cleanup_free_ char *host = bind_source(b, src);
	const char *prop = jstr(bind, "propagation"), *selinux = jstr(bind, "selinux");
	const char *recursive = jstr(bind, "recursive");
	struct json_object *chp = jobj(bind, "create_host_path");
	struct stat st;

	if (selinux && *selinux)
		fprintf(stderr, "stack: warning: bind %s: selinux \"%s\" ignored: %s\n", host,
			selinux, super_selinux_ignored());
	if (recursive && strcmp(recursive, "enabled") && strcmp(recursive, "writable") &&
	    strcmp(recursive, "disabled") && strcmp(recursive, "readonly"))
		return stk_err_set(err, EINVAL,
				   "bind %s: recursive \"%s\" is not enabled, disabled, writable or "
				   "readonly",
				   host, recursive);
	if (stat(host, &st) < 0) {
		/* Compose's long syntax creates a missing source unless told not to. */
		if (errno != ENOENT || (chp && !json_object_get_boolean(chp)))
			return stk_err_sys(err, "bind source path %s", host);
		if (stk_mkdir_p(host, 0755, err) < 0)
			return stk_err_wrap(err, "bind: create_host_path");
	}
	if (recursive &&
	    (strcmp(recursive, "disabled") == 0 || strcmp(recursive, "readonly") == 0)) {
		_cleanup_free_ char *staged =
			stage_bind(b, host, strcmp(recursive, "readonly") == 0, err);

		if (!staged)
			return -1;
		add_mount(b, ENGINE_MOUNT_BIND, staged, target, ro || recursive[0] == 'r', NULL);
		/* Record the real source: volumes_from binds it again. */
		free(b->rec[b->nrec - 1].source);
		b->rec[b->nrec - 1].source = xstrdup(host);
	} else {
		add_mount(b, ENGINE_MOUNT_BIND, host, target, ro, NULL);
	}
	if (prop) {
		static const char *const valid[] = {"private", "rprivate", "shared",
						    "rshared", "slave",	   "rslave"};
		static const unsigned long flags[] = {MS_PRIVATE, MS_REC | MS_PRIVATE,
						      MS_SHARED,  MS_REC | MS_SHARED,
						      MS_SLAVE,	  MS_REC | MS_SLAVE};
		struct engine_mount *em = &b->es->mounts[b->es->nmounts - 1];
		size_t i;

		for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
			if (strcmp(prop, valid[i]) == 0)
				break;
		if (i == sizeof(valid) / sizeof(valid[0]))
			return stk_err_set(err, EINVAL, "bind %s: invalid propagation \"%s\"", host,
					   prop);
		em->propagation = flags[i];
	}
	return 0;
}

static int tmpfs_size(const char *target, const char *s, uint64_t *out, struct stk_err *err)
{
	int64_t n;

	if (stk_parse_bytes(s, "size", &n, err) < 0 || n <= 0)
		return stk_err_set(err, EINVAL, "tmpfs %s: invalid size \"%s\"", target, s);
	*out = (uint64_t)n;
	return 0;
}

static int mount_tmpfs(struct build *b, struct json_object *m, const char *target, bool ro,
		       struct stk_err *err)
{
	struct json_object *t = jobj(m, "tmpfs"), *v;
	struct engine_mount *em;

	add_mount(b, ENGINE_MOUNT_TMPFS, NULL, target, ro, NULL);
	em = &b->es->mounts[b->es->nmounts - 1];
	if (json_object_object_get_ex(t, "size", &v) &&
	    tmpfs_size(target, json_object_get_string(v), &em->tmpfs_size, err) < 0)
		return -1;
	if (json_object_object_get_ex(t, "mode", &v)) {
		long mode = json_mode(v);

		if (mode < 0)
			return stk_err_set(err, EINVAL, "tmpfs %s: invalid mode \"%s\"", target,
					   json_object_get_string(v));
		em->tmpfs_mode = (unsigned)mode;
	}
	return 0;
}

/* A service's "tmpfs:" list: "/run" or "/run:size=64m,mode=1770,ro", Docker's --tmpfs. */
static int add_tmpfs_list(struct build *b, struct stk_err *err)
{
	struct json_object *list = jobj(b->spec, "tmpfs");
	size_t i;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		_cleanup_free_ char *copy =
			xstrdup(json_object_get_string(json_object_array_get_idx(list, i)));
		char *opts = strchr(copy, ':'), *p, *save = NULL;
		struct engine_mount *em;

		if (opts)
			*opts++ = '\0';
		if (copy[0] != '/')
			return stk_err_set(err, EINVAL, "tmpfs: \"%s\" is not an absolute path",
					   copy);
		add_mount(b, ENGINE_MOUNT_TMPFS, NULL, copy, false, NULL);
		em = &b->es->mounts[b->es->nmounts - 1];
		for (p = opts ? strtok_r(opts, ",", &save) : NULL; p;
		     p = strtok_r(NULL, ",", &save)) {
			char *end;
			long mode;

			if (str_has_prefix(p, "size=")) {
				if (tmpfs_size(copy, p + 5, &em->tmpfs_size, err) < 0)
					return -1;
			} else if (str_has_prefix(p, "mode=")) {
				mode = strtol(p + 5, &end, 8);
				if (end == p + 5 || *end || mode < 0 || mode > 07777)
					return stk_err_set(err, EINVAL,
							   "tmpfs %s: invalid mode \"%s\"", copy,
							   p + 5);
				em->tmpfs_mode = (unsigned)mode;
			} else if (!strcmp(p, "ro") || !strcmp(p, "rw")) {
				em->read_only = p[1] == 'o';
				b->rec[b->nrec - 1].rw = !em->read_only;
			} else {
				return stk_err_set(err, EINVAL,
						   "tmpfs %s: option \"%s\" is not supported (size, "
						   "mode, ro, rw)",
						   copy, p);
			}
		}
	}
	return 0;
}

/* "SRC:DST[:MODE]", "DST" (anonymous): Compose's short syntax, as objects. */
static struct json_object *short_syntax(const char *s)
{
	struct json_object *o = json_object_new_object();
	_cleanup_free_ char *copy = xstrdup(s);
	char *parts[3] = {NULL}, *save = NULL, *p;
	size_t n = 0;

	for (p = strtok_r(copy, ":", &save); p && n < 3; p = strtok_r(NULL, ":", &save))
		parts[n++] = p;
	if (n == 1) {
		json_object_object_add(o, "type", json_object_new_string("volume"));
		json_object_object_add(o, "target", json_object_new_string(parts[0]));
		return o;
	}
	json_object_object_add(o, "type",
			       json_object_new_string(parts[0][0] == '/' || parts[0][0] == '.' ||
								      parts[0][0] == '~'
							      ? "bind"
							      : "volume"));
	json_object_object_add(o, "source", json_object_new_string(parts[0]));
	json_object_object_add(o, "target", json_object_new_string(parts[1]));
	for (p = n == 3 ? strtok_r(parts[2], ",", &save) : NULL; p;
	     p = strtok_r(NULL, ",", &save)) {
		if (strcmp(p, "ro") == 0)
			json_object_object_add(o, "read_only", json_object_new_boolean(true));
		else if (strcmp(p, "nocopy") == 0) {
			struct json_object *v = json_object_new_object();

			json_object_object_add(v, "nocopy", json_object_new_boolean(true));
			json_object_object_add(o, "volume", v);
		}
	}
	return o;
}

static int add_service_volume(struct build *b, struct json_object *m, struct stk_err *err)
{
	const char *type = jstr(m, "type"), *src = jstr(m, "source"), *target = jstr(m, "target");
	bool ro = jbool(m, "read_only");

	if (!target || target[0] != '/')
		return stk_err_set(err, EINVAL, "volumes: a mount needs an absolute target");
	if (!type || strcmp(type, "volume") == 0)
		return mount_volume(b, src && *src ? src : NULL, target, ro,
				    jbool(jobj(m, "volume"), "nocopy"), err);
	if (strcmp(type, "bind") == 0) {
		if (!src || !*src)
			return stk_err_set(err, EINVAL, "volumes: bind on %s needs a source",
					   target);
		return mount_bind(b, m, src, target, ro, err);
	}
	if (strcmp(type, "tmpfs") == 0)
		return mount_tmpfs(b, m, target, ro, err);
	return stk_err_set(err, EINVAL, "volumes: type \"%s\" is not volume, bind or tmpfs", type);
}

static int add_volumes(struct build *b, struct stk_err *err)
{
	struct json_object *list = jobj(b->spec, "volumes"), *img = jobj(b->spec, "image_volumes");
	size_t i;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *m = json_object_array_get_idx(list, i);
		int rc;

		if (json_object_is_type(m, json_type_string)) {
			struct json_object *o = short_syntax(json_object_get_string(m));

			rc = add_service_volume(b, o, err);
			json_object_put(o);
		} else {
			rc = add_service_volume(b, m, err);
		}
		if (rc < 0)
			return -1;
	}
	/* The image's VOLUME entries not mounted otherwise: an anonymous volume each. */
	for (i = 0; img && i < json_object_array_length(img); i++) {
		const char *t = json_object_get_string(json_object_array_get_idx(img, i));

		if (!has_target(b->es, t) && mount_volume(b, NULL, t, false, false, err) < 0)
			return -1;
	}
	return 0;
}

/* --- volumes_from --- */

static int add_volumes_from(struct build *b, struct stk_err *err)
{
	struct json_object *list = jobj(b->spec, "volumes_from");
	size_t i, j;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		_cleanup_free_ char *ref =
			xstrdup(json_object_get_string(json_object_array_get_idx(list, i)));
		char *mode = strrchr(ref, ':'), *id = ref;
		struct volume_mount_record *m;
		size_t n;
		bool ro = false;

		if (str_has_prefix(id, "container:"))
			id += strlen("container:");
		if (mode && (strcmp(mode, ":ro") == 0 || strcmp(mode, ":rw") == 0)) {
			ro = strcmp(mode, ":ro") == 0;
			*mode = '\0';
		}
		if (volume_read_users(b->o->root, id, &m, &n, err) < 0)
			return stk_err_wrap(err, "volumes_from");
		for (j = 0; j < n; j++) {
			if (strcmp(m[j].type, "tmpfs") == 0 || has_target(b->es, m[j].destination))
				continue;
			add_mount(b,
				  strcmp(m[j].type, "volume") ? ENGINE_MOUNT_BIND
							      : ENGINE_MOUNT_VOLUME,
				  m[j].source, m[j].destination, ro || !m[j].rw, m[j].name);
		}
		volume_mount_records_free(m, n);
	}
	return 0;
}

/* --- secrets and configs --- */

static char *secret_content(struct build *b, const char *kind, const char *name,
			    struct json_object *def, size_t *len, struct stk_err *err)
{
	const char *file = jstr(def, "file"), *env = jstr(def, "environment");
	const char *content = jstr(def, "content");
	char *s;

	if (!def) {
		stk_err_set(err, ENOENT, "%s \"%s\" is not defined", kind, name);
		return NULL;
	}
	if (file) {
		_cleanup_free_ char *path = bind_source(b, file);

		s = str_read_file(path, len);
		if (!s)
			stk_err_sys(err, "%s \"%s\": file %s", kind, name, path);
		return s;
	}
	if (env) {
		const char *v = getenv(env);

		if (!v) {
			stk_err_set(err, ENOENT, "%s \"%s\": environment variable %s is not set",
				    kind, name, env);
			return NULL;
		}
		*len = strlen(v);
		return xstrdup(v);
	}
	if (content && strcmp(kind, "config") == 0) {
		*len = strlen(content);
		return xstrdup(content);
	}
	stk_err_set(err, EINVAL, "%s \"%s\" needs %s", kind, name,
		    strcmp(kind, "config") == 0 ? "file, environment or content"
						: "file or environment");
	return NULL;
}

static int write_secret(const char *path, const char *data, size_t len, uid_t uid, gid_t gid,
			mode_t mode, struct stk_err *err)
{
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return stk_err_sys(err, "create %s", path);
	if (write(fd, data, len) != (ssize_t)len)
		return stk_err_sys(err, "write %s", path);
	if (fchown(fd, uid, gid) < 0 || fchmod(fd, mode) < 0)
		return stk_err_sys(err, "set owner and mode of %s", path);
	return 0;
}

/* Each secret (config) is a file of the container's own 0700 state directory,
 * bind-mounted read-only; nothing is written anywhere else. */
static int add_secrets(struct build *b, const char *kind, struct stk_err *err)
{
	bool secret = strcmp(kind, "secret") == 0;
	struct json_object *list = jobj(b->spec, secret ? "secrets" : "configs");
	struct json_object *defs = jobj(b->spec, secret ? "project_secrets" : "project_configs");
	_cleanup_free_ char *dir =
		xasprintf("%s/%s", b->es->state_dir, secret ? "secrets" : "configs");
	size_t i;

	for (i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *s = json_object_array_get_idx(list, i);
		bool is_str = json_object_is_type(s, json_type_string);
		const char *name = is_str ? json_object_get_string(s) : jstr(s, "source");
		const char *target = is_str ? NULL : jstr(s, "target");
		_cleanup_free_ char *data = NULL, *file = NULL, *dest = NULL;
		struct volume_mount_record r;
		size_t len = 0;
		long uid = 0, gid = 0, mode = 0444;

		/* The name becomes a file name in the state directory. */
		if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") ||
		    !strcmp(name, ".."))
			return stk_err_set(err, EINVAL, "%ss: invalid name \"%s\"", kind,
					   name ? name : "");
		data = secret_content(b, kind, name, jobj(defs, name), &len, err);
		if (!data)
			return -1;
		if (!is_str) {
			if (jstr(s, "uid"))
				uid = strtol(jstr(s, "uid"), NULL, 10);
			if (jstr(s, "gid"))
				gid = strtol(jstr(s, "gid"), NULL, 10);
			if (jstr(s, "mode") && (mode = json_mode(jobj(s, "mode"))) < 0)
				return stk_err_set(err, EINVAL, "%s \"%s\": invalid mode \"%s\"",
						   kind, name, jstr(s, "mode"));
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return stk_err_sys(err, "create %s", dir);
		file = xasprintf("%s/%s", dir, name);
		/* The same secret twice (two targets, owners or modes): a file for each. */
		if (access(file, F_OK) == 0) {
			free(file);
			file = xasprintf("%s/%s.%zu", dir, name, i);
		}
		if (write_secret(file, data, len, (uid_t)uid, (gid_t)gid, (mode_t)mode, err) < 0)
			return stk_err_wrap(err, "%s \"%s\"", kind, name);
		if (target && target[0] == '/')
			dest = xstrdup(target);
		else if (secret)
			dest = xasprintf("/run/secrets/%s", target ? target : name);
		else
			dest = xasprintf("/%s", target ? target : name);
		add_mount(b, ENGINE_MOUNT_BIND, file, dest, true, NULL);
		/* Secrets are not volumes: keep them out of the users record. */
		r = b->rec[--b->nrec];
		free(r.type);
		free(r.name);
		free(r.source);
		free(r.destination);
	}
	return 0;
}

/* --- setup and release --- */

static void let_go(struct super_volumes *rv)
{
	size_t i;

	for (i = 0; i < rv->nheld; i++)
		close(rv->held[i]);
	free(rv->held);
	rv->held = NULL;
	rv->nheld = 0;
}

/* The secrets or configs written so far: plain files, one level deep. */
static void remove_files_dir(const char *state_dir, const char *sub)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", state_dir, sub);
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

static int state_dir_private(const char *dir, struct stk_err *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return stk_err_sys(err, "create %s", dir);
	if (chmod(dir, 0700) < 0)
		return stk_err_sys(err, "chmod %s", dir);
	return 0;
}

int super_volumes_setup(const struct super_volume_opts *o, struct json_object *spec_json,
			struct engine_spec *spec, struct super_volumes **out, struct stk_err *err)
{
	struct build b = {.o = o, .spec = spec_json, .es = spec};
	bool made_dir = access(spec->state_dir, F_OK) < 0;
	int rc;

	*out = NULL;
	b.rv = xcalloc(1, sizeof(*b.rv));
	b.rv->root = xstrdup(o->root);
	b.rv->state_dir = xstrdup(spec->state_dir);
	b.rv->made_dir = made_dir;
	b.rv->record_in_state_dir = !o->record_dir;
	rc = state_dir_private(spec->state_dir, err);
	/* tmpfs first: an image VOLUME it covers gets no anonymous volume. */
	if (rc == 0)
		rc = add_tmpfs_list(&b, err);
	if (rc == 0)
		rc = add_volumes(&b, err);
	if (rc == 0)
		rc = add_volumes_from(&b, err);
	if (rc == 0)
		rc = add_secrets(&b, "secret", err);
	if (rc == 0)
		rc = add_secrets(&b, "config", err);
	if (rc == 0 && b.nrec)
		rc = volume_record_users(o->record_dir ? o->record_dir : spec->state_dir,
					 o->name ? o->name : spec->id, b.rec, b.nrec, err);
	volume_mount_records_free(b.rec, b.nrec);
	let_go(b.rv);
	if (rc < 0) {
		super_volumes_release(b.rv);
		return -1;
	}
	*out = b.rv;
	return 0;
}

void super_volumes_unstage(struct super_volumes *rv)
{
	size_t i;

	for (i = 0; rv && i < rv->nstaged; i++) {
		struct stat st;

		umount2(rv->staged[i], MNT_DETACH);
		if (lstat(rv->staged[i], &st) == 0)
			S_ISDIR(st.st_mode) ? rmdir(rv->staged[i]) : unlink(rv->staged[i]);
		free(rv->staged[i]);
	}
	if (rv && rv->nstaged) {
		_cleanup_free_ char *dir = xasprintf("%s/binds", rv->state_dir);

		rmdir(dir);
	}
	if (rv) {
		free(rv->staged);
		rv->staged = NULL;
		rv->nstaged = 0;
	}
}

void super_volumes_release(struct super_volumes *rv)
{
	size_t i;

	if (!rv)
		return;
	super_volumes_unstage(rv);
	/* The engine removes its state directory; when it never had it, clean up here. */
	if (access(rv->state_dir, F_OK) == 0) {
		_cleanup_free_ char *rec = xasprintf("%s/mounts.json", rv->state_dir);

		remove_files_dir(rv->state_dir, "secrets");
		remove_files_dir(rv->state_dir, "configs");
		if (rv->record_in_state_dir)
			unlink(rec);
		if (rv->made_dir)
			rmdir(rv->state_dir);
	}
	free(rv->state_dir);
	for (i = 0; i < rv->ntmpfs; i++) {
		struct volume *v;
		struct stk_err ignored;

		if (volume_get(rv->root, rv->tmpfs_volumes[i], &v, &ignored) == 0) {
			volume_unmount_unused(rv->root, v);
			volume_free(v);
		}
		free(rv->tmpfs_volumes[i]);
	}
	free(rv->tmpfs_volumes);
	free(rv->root);
	free(rv);
}

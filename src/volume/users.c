/* Which container uses which volume: each container's state directory holds
 * mounts.json, written before it starts and gone with the directory. A volume is in
 * use while any record names it, as Docker refuses to remove a volume any container
 * still references. The same record answers volumes_from. Also here: the host path a
 * container mounts for a volume, with the tmpfs of a type=tmpfs volume. */
#include "volume/internal.h"

#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/str.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

void volume_strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

void volume_mount_records_free(struct volume_mount_record *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].type);
		free(m[i].name);
		free(m[i].source);
		free(m[i].destination);
	}
	free(m);
}

int volume_record_users(const char *state_dir, const char *container_name,
			const struct volume_mount_record *m, size_t n, struct stk_err *err)
{
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *path = xasprintf("%s/mounts.json", state_dir);
	struct json_object *arr = json_object_new_array();
	size_t i;

	json_object_object_add(o, "Name", json_object_new_string(container_name));
	json_object_object_add(o, "Mounts", arr);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "Type", json_object_new_string(m[i].type));
		if (m[i].name)
			json_object_object_add(e, "Name", json_object_new_string(m[i].name));
		json_object_object_add(e, "Source",
				       json_object_new_string(m[i].source ? m[i].source : ""));
		json_object_object_add(e, "Destination", json_object_new_string(m[i].destination));
		json_object_object_add(e, "RW", json_object_new_boolean(m[i].rw));
		json_object_array_add(arr, e);
	}
	return volume_write_json(path, o, err);
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* Call fn for each container record under $ROOT/containers; stops when fn returns
 * non-zero and returns that. */
static int each_record(const char *root,
		       int (*fn)(const char *id, struct json_object *rec, void *arg), void *arg)
{
	_cleanup_free_ char *base = xasprintf("%s/containers", root);
	DIR *d = opendir(base);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return 0;
	while (!rc && (e = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		_cleanup_(json_putp) struct json_object *rec = NULL;

		if (e->d_name[0] == '.')
			continue;
		p = xasprintf("%s/%s/mounts.json", base, e->d_name);
		rec = json_object_from_file(p);
		if (rec)
			rc = fn(e->d_name, rec, arg);
	}
	closedir(d);
	return rc;
}

struct users_arg {
	const char *volume;
	char **out;
	size_t n;
};

static int collect_user(const char *id, struct json_object *rec, void *arg)
{
	struct users_arg *a = arg;
	struct json_object *mounts;
	const char *name = get_str(rec, "Name");
	size_t i;

	if (!json_object_object_get_ex(rec, "Mounts", &mounts))
		return 0;
	for (i = 0; i < json_object_array_length(mounts); i++) {
		const char *vn = get_str(json_object_array_get_idx(mounts, i), "Name");

		if (vn && strcmp(vn, a->volume) == 0) {
			a->out = xrealloc(a->out, (a->n + 2) * sizeof(char *));
			a->out[a->n++] = name && *name && strcmp(name, id)
						 ? xasprintf("%s (%s)", name, id)
						 : xstrdup(id);
			a->out[a->n] = NULL;
			break;
		}
	}
	return 0;
}

char **volume_users(const char *root, const char *name)
{
	struct users_arg a = {.volume = name};

	each_record(root, collect_user, &a);
	return a.out;
}

struct find_arg {
	const char *container;
	struct volume_mount_record *out;
	size_t n;
	bool found;
};

static int take_mounts(const char *id, struct json_object *rec, void *arg)
{
	struct find_arg *a = arg;
	const char *name = get_str(rec, "Name");
	struct json_object *mounts;
	size_t i;

	if (strcmp(id, a->container) && (!name || strcmp(name, a->container)))
		return 0;
	a->found = true;
	if (!json_object_object_get_ex(rec, "Mounts", &mounts))
		return 1;
	for (i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i), *rw;
		struct volume_mount_record r = {0};
		const char *s;

		r.type = xstrdup((s = get_str(m, "Type")) ? s : "bind");
		r.name = (s = get_str(m, "Name")) ? xstrdup(s) : NULL;
		r.source = xstrdup((s = get_str(m, "Source")) ? s : "");
		r.destination = xstrdup((s = get_str(m, "Destination")) ? s : "");
		r.rw = !json_object_object_get_ex(m, "RW", &rw) || json_object_get_boolean(rw);
		a->out = xrealloc(a->out, (a->n + 1) * sizeof(*a->out));
		a->out[a->n++] = r;
	}
	return 1;
}

int volume_read_users(const char *root, const char *container, struct volume_mount_record **out,
		      size_t *n, struct stk_err *err)
{
	struct find_arg a = {.container = container};

	each_record(root, take_mounts, &a);
	if (!a.found)
		return stk_err_set(err, ENOENT, "no such container: %s", container);
	*out = a.out;
	*n = a.n;
	return 0;
}

/* --- the host side of a mount --- */

static bool is_mount_point(const char *path)
{
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	struct stat a, b;

	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int volume_host_path(const char *root, const struct volume *v, char **out, struct stk_err *err)
{
	const char *type = volume_option(v, "type");
	_cleanup_free_ char *data = volume_data_dir(root, v->name);

	if (type && strcmp(type, "none") == 0) {
		*out = xstrdup(volume_option(v, "device"));
		return 0;
	}
	if (type && strcmp(type, "tmpfs") == 0 && !is_mount_point(data)) {
		const char *o = volume_option(v, "o");

		if (mount("tmpfs", data, "tmpfs", MS_NOSUID | MS_NODEV, o ? o : "") < 0)
			return stk_err_sys(err, "volume %s: mount tmpfs (o=%s)", v->name,
					   o ? o : "");
	}
	*out = steal(&data);
	return 0;
}

void volume_unmount_unused(const char *root, const struct volume *v)
{
	const char *type = volume_option(v, "type");
	_cleanup_free_ char *data = volume_data_dir(root, v->name);
	char **users;

	if (!type || strcmp(type, "tmpfs") || !is_mount_point(data))
		return;
	users = volume_users(root, v->name);
	if (!users || !users[0])
		umount2(data, MNT_DETACH);
	volume_strv_free(users);
}

/* Named volumes of the local driver: $ROOT/volumes/<name>/volume.json (the record
 * `docker volume inspect` shows) and _data (the content). A volume appears whole or
 * not at all: it is built in a temporary directory and renamed into place. */
#include "volume/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

char *volume_compose_name(const char *project, const char *key, const char *name)
{
	if (name && *name)
		return xstrdup(name);
	return xasprintf("%s_%s", project, key);
}

int volume_name_check(const char *name, struct stk_err *err)
{
	size_t i;

	if (!name || strlen(name) < 2 ||
	    !strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789",
		    name[0]))
		goto bad;
	for (i = 1; name[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
			    name[i]))
			goto bad;
	return 0;
bad:
	return stk_err_set(err, EINVAL,
			   "\"%s\" includes invalid characters for a local volume name, only "
			   "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
			   "host directory, use absolute path",
			   name ? name : "");
}

char *volume_dir(const char *root, const char *name)
{
	return xasprintf("%s/volumes/%s", root, name);
}

char *volume_data_dir(const char *root, const char *name)
{
	return xasprintf("%s/volumes/%s/_data", root, name);
}

int volume_write_json(const char *path, struct json_object *obj, struct stk_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY);
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t len = strlen(text);

	if (fd < 0)
		return stk_err_sys(err, "create %s", tmp);
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		stk_err_sys(err, "write %s", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		stk_err_sys(err, "rename %s", tmp);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int lock_dir(const char *root, const char *name, int how, struct stk_err *err)
{
	_cleanup_free_ char *dir = volume_dir(root, name);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? stk_err_set(err, ENOENT, "no such volume")
				       : stk_err_sys(err, "open %s", dir);
	if (flock(fd, how) < 0) {
		close(fd);
		return stk_err_sys(err, "lock %s", dir);
	}
	return fd;
}

int volume_lock(const char *root, const char *name, struct stk_err *err)
{
	return lock_dir(root, name, LOCK_EX, err);
}

/* A volume renamed away by a remove that held the lock is gone though the fd still
 * opens what was its directory: check that the name still leads to it. */
int volume_hold(const char *root, const char *name, struct stk_err *err)
{
	_cleanup_free_ char *dir = volume_dir(root, name);
	int fd = lock_dir(root, name, LOCK_SH, err);
	struct stat held, now;

	if (fd < 0)
		return -1;
	if (fstat(fd, &held) < 0 || stat(dir, &now) < 0 || held.st_ino != now.st_ino ||
	    held.st_dev != now.st_dev) {
		close(fd);
		return stk_err_set(err, ENOENT, "volume was removed meanwhile");
	}
	return fd;
}

int volume_dir_is_empty(const char *path, struct stk_err *err)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return errno == ENOENT ? 1 : stk_err_sys(err, "open %s", path);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int volume_rm_tree(const char *path, struct stk_err *err)
{
	if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return stk_err_sys(err, "remove %s", path);
	return 0;
}

static unsigned long long du_total;

static int du_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path;
	(void)flag;
	(void)ftw;
	du_total += (unsigned long long)st->st_blocks * 512;
	return 0;
}

unsigned long long volume_disk_usage(const char *root, const struct volume *v)
{
	_cleanup_free_ char *data = volume_data_dir(root, v->name);

	if (volume_option(v, "type"))
		return 0;
	/* nftw has no argument for its callback; the CLI is single-threaded here. */
	du_total = 0;
	nftw(data, du_entry, 32, FTW_PHYS | FTW_MOUNT);
	return du_total;
}

/* --- the record --- */

void volume_kv_add(struct volume_kv **kv, size_t *n, const char *key, const char *value)
{
	*kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
	(*kv)[*n].key = xstrdup(key);
	(*kv)[(*n)++].value = xstrdup(value);
}

void volume_kv_free(struct volume_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void volume_free(struct volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->driver);
	free(v->mountpoint);
	free(v->created_at);
	free(v->scope);
	volume_kv_free(v->labels, v->nlabels);
	volume_kv_free(v->options, v->noptions);
	free(v);
}

void volume_list_free(struct volume **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		volume_free(v[i]);
	free(v);
}

static const char *kv_get(const struct volume_kv *kv, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

const char *volume_label(const struct volume *v, const char *key)
{
	return kv_get(v->labels, v->nlabels, key);
}

const char *volume_option(const struct volume *v, const char *key)
{
	return kv_get(v->options, v->noptions, key);
}

static struct json_object *kv_to_json(const struct volume_kv *kv, size_t n)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_object_add(o, kv[i].key, json_object_new_string(kv[i].value));
	return o;
}

void volume_kv_add_json(struct volume_kv **kv, size_t *n, struct json_object *o)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, val) volume_kv_add(kv, n, k, json_object_get_string(val));
}

struct json_object *volume_to_json(const struct volume *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "CreatedAt", json_object_new_string(v->created_at));
	json_object_object_add(o, "Driver", json_object_new_string(v->driver));
	json_object_object_add(o, "Labels", kv_to_json(v->labels, v->nlabels));
	json_object_object_add(o, "Mountpoint", json_object_new_string(v->mountpoint));
	json_object_object_add(o, "Name", json_object_new_string(v->name));
	json_object_object_add(o, "Options", kv_to_json(v->options, v->noptions));
	json_object_object_add(o, "Scope", json_object_new_string(v->scope));
	return o;
}

static char *get_string(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? xstrdup(json_object_get_string(v))
						     : xstrdup("");
}

int volume_get(const char *root, const char *name, struct volume **out, struct stk_err *err)
{
	_cleanup_free_ char *dir = NULL, *path = NULL;
	_cleanup_(json_putp) struct json_object *o = NULL;
	struct json_object *x;
	struct volume *v;

	if (volume_name_check(name, err) < 0)
		return -1;
	dir = volume_dir(root, name);
	path = xasprintf("%s/volume.json", dir);
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? stk_err_set(err, ENOENT, "no such volume")
				       : stk_err_sys(err, "%s", path);
	o = json_object_from_file(path);
	if (!o)
		return stk_err_set(err, EINVAL, "%s: %s", path, json_util_get_last_err());
	v = xcalloc(1, sizeof(*v));
	v->name = get_string(o, "Name");
	v->driver = get_string(o, "Driver");
	v->mountpoint = get_string(o, "Mountpoint");
	v->created_at = get_string(o, "CreatedAt");
	v->scope = get_string(o, "Scope");
	if (json_object_object_get_ex(o, "Labels", &x))
		volume_kv_add_json(&v->labels, &v->nlabels, x);
	if (json_object_object_get_ex(o, "Options", &x))
		volume_kv_add_json(&v->options, &v->noptions, x);
	*out = v;
	return 0;
}

/* --- create --- */

/* The local driver's options as Docker takes them (moby volume/local): type and o
 * go to mount(2), device is its source; type=none with o=bind is a bind mount. */
static int check_local_options(const struct volume_create_opts *o, struct stk_err *err)
{
	const char *type = kv_get((struct volume_kv *)o->options, o->noptions, "type");
	const char *mo = kv_get((struct volume_kv *)o->options, o->noptions, "o");
	const char *dev = kv_get((struct volume_kv *)o->options, o->noptions, "device");
	size_t i;

	for (i = 0; i < o->noptions; i++)
		if (strcmp(o->options[i].key, "type") && strcmp(o->options[i].key, "o") &&
		    strcmp(o->options[i].key, "device"))
			return stk_err_set(err, EINVAL, "invalid option: \"%s\"",
					   o->options[i].key);
	if (!type && !mo && !dev)
		return 0;
	if (!type)
		return stk_err_set(err, EINVAL, "missing \"type\" option");
	if (strcmp(type, "tmpfs") == 0) {
		if (dev && strcmp(dev, "tmpfs"))
			return stk_err_set(err, EINVAL, "type=tmpfs takes no device (got \"%s\")",
					   dev);
		return 0;
	}
	if (strcmp(type, "none") == 0) {
		struct stat st;

		if (!mo || !strstr(mo, "bind"))
			return stk_err_set(err, EINVAL, "type=none needs o=bind");
		if (!dev || dev[0] != '/')
			return stk_err_set(err, EINVAL,
					   "type=none,o=bind needs device=ABSOLUTE_PATH");
		if (stat(dev, &st) < 0)
			return stk_err_sys(err, "device %s", dev);
		if (!S_ISDIR(st.st_mode))
			return stk_err_set(err, ENOTDIR, "device %s is not a directory", dev);
		return 0;
	}
	return stk_err_set(err, EINVAL,
			   "volume option type=\"%s\" is not supported by the local driver here "
			   "(use type=tmpfs, or type=none with o=bind and device=PATH)",
			   type);
}

static char *random_name(void)
{
	unsigned char b[32];
	char *s = xmalloc(65);
	size_t i;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		abort();
	for (i = 0; i < sizeof(b); i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return s;
}

static char *now_rfc3339(void)
{
	time_t t = time(NULL);
	struct tm tm;
	char buf[32];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static struct volume *volume_new(const char *root, const char *name,
				 const struct volume_create_opts *o)
{
	struct volume *v = xcalloc(1, sizeof(*v));
	char *abs = realpath(root, NULL);
	size_t i;

	v->name = xstrdup(name);
	v->driver = xstrdup("local");

	v->mountpoint = volume_data_dir(abs ? abs : root, name);
	free(abs);
	v->created_at = now_rfc3339();
	v->scope = xstrdup("local");
	for (i = 0; i < o->nlabels; i++)
		volume_kv_add(&v->labels, &v->nlabels, o->labels[i].key, o->labels[i].value);
	if (!o->name || !*o->name)
		volume_kv_add(&v->labels, &v->nlabels, VOLUME_LABEL_ANONYMOUS, "");
	for (i = 0; i < o->noptions; i++)
		volume_kv_add(&v->options, &v->noptions, o->options[i].key, o->options[i].value);
	return v;
}

/* Build the volume in volumes/.tmp-<name>-<pid>, then rename it into place. */
static int volume_materialise(const char *root, const struct volume *v, struct stk_err *err)
{
	_cleanup_free_ char *base = xasprintf("%s/volumes", root);
	_cleanup_free_ char *tmp = xasprintf("%s/.tmp-%s-%d", base, v->name, (int)getpid());
	_cleanup_free_ char *data = xasprintf("%s/_data", tmp);
	_cleanup_free_ char *rec = xasprintf("%s/volume.json", tmp);
	_cleanup_free_ char *dir = volume_dir(root, v->name);
	_cleanup_(json_putp) struct json_object *o = volume_to_json(v);
	struct stk_err ignored;

	if (stk_mkdir_p(base, 0700, err) < 0)
		return -1;
	volume_rm_tree(tmp, &ignored);
	if (mkdir(tmp, 0700) < 0)
		return stk_err_sys(err, "create %s", tmp);
	/* Docker's _data is 0755 root:root until copy-up gives it the image's owner. */
	if (mkdir(data, 0755) < 0 || chmod(data, 0755) < 0 || volume_write_json(rec, o, err) < 0) {
		if (errno)
			stk_err_sys(err, "create %s", data);
		volume_rm_tree(tmp, &ignored);
		return -1;
	}
	if (rename(tmp, dir) < 0) {
		int e = errno;

		volume_rm_tree(tmp, &ignored);
		errno = e;
		return e == EEXIST || e == ENOTEMPTY ? stk_err_set(err, EEXIST, "volume exists")
						     : stk_err_sys(err, "rename %s", tmp);
	}
	return 0;
}

int volume_create(const char *root, const struct volume_create_opts *o, struct volume **out,
		  bool *created, struct stk_err *err)
{
	_cleanup_free_ char *name = o->name && *o->name ? xstrdup(o->name) : random_name();
	const char *driver = o->driver && *o->driver ? o->driver : "local";
	struct volume *v = NULL;
	int tries;

	*created = false;
	if (strcmp(driver, "local"))
		return stk_err_set(err, EINVAL,
				   "volume driver \"%s\" is not supported (stack has the local "
				   "driver only)",
				   driver);
	if (volume_name_check(name, err) < 0 || check_local_options(o, err) < 0)
		return stk_err_wrap(err, "create %s", name);
	for (tries = 0; tries < 3; tries++) {
		if (volume_get(root, name, &v, err) == 0) {
			*out = v;
			return 0;
		}
		if (err->errnum != ENOENT)
			return stk_err_wrap(err, "create %s", name);
		{
			_cleanup_free_ char *base = xasprintf("%s/volumes", root);

			if (stk_mkdir_p(base, 0700, err) < 0)
				return -1;
		}
		v = volume_new(root, name, o);
		if (volume_materialise(root, v, err) == 0) {
			*created = true;
			*out = v;
			return 0;
		}
		volume_free(v);
		/* Someone else made it meanwhile: take theirs. */
		if (err->errnum != EEXIST)
			return stk_err_wrap(err, "create %s", name);
	}
	return stk_err_wrap(err, "create %s", name);
}

static int cmp_volume(const void *a, const void *b)
{
	return strcmp((*(struct volume *const *)a)->name, (*(struct volume *const *)b)->name);
}

int volume_list(const char *root, struct volume ***out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ char *base = xasprintf("%s/volumes", root);
	DIR *d = opendir(base);
	struct dirent *e;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", base);
	while ((e = readdir(d))) {
		struct volume *v;
		struct stk_err ignored;

		if (e->d_name[0] == '.')
			continue;
		/* A directory without a readable record is not a volume (half-removed). */
		if (volume_get(root, e->d_name, &v, &ignored) < 0)
			continue;
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = v;
	}
	closedir(d);
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_volume);
	return 0;
}

int volume_remove(const char *root, const char *name, struct stk_err *err)
{
	_cleanup_free_ char *dir = NULL, *rec = NULL, *gone = NULL;
	_cleanup_close_ int lock = -1;
	struct volume *v = NULL;
	char **users;

	if (volume_get(root, name, &v, err) < 0)
		return -1;
	lock = volume_lock(root, name, err);
	if (lock < 0) {
		volume_free(v);
		return -1;
	}
	users = volume_users(root, name);
	if (users && users[0]) {
		struct strbuf sb;
		char **u;

		strbuf_init(&sb);
		for (u = users; *u; u++)
			strbuf_addf(&sb, "%s%s", u == users ? "" : ", ", *u);
		stk_err_set(err, EBUSY, "volume is in use - [%s]", sb.buf);
		strbuf_free(&sb);
		volume_strv_free(users);
		volume_free(v);
		return -1;
	}
	volume_strv_free(users);
	volume_unmount_unused(root, v);
	volume_free(v);
	/* The record goes first, so a crash leaves no half-volume that lists. */
	dir = volume_dir(root, name);
	rec = xasprintf("%s/volume.json", dir);
	gone = xasprintf("%s/volumes/.rm-%s-%d", root, name, (int)getpid());
	if (rename(dir, gone) < 0)
		return stk_err_sys(err, "remove %s", dir);
	return volume_rm_tree(gone, err);
}

int volume_remove_project(const char *root, const char *project, char ***removed,
			  struct stk_err *err)
{
	struct volume **v;
	struct stk_err one;
	size_t n, i, nremoved = 0;
	int rc = 0;

	if (removed)
		*removed = NULL;
	if (volume_list(root, &v, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *p = volume_label(v[i], VOLUME_LABEL_PROJECT);

		if (!p || strcmp(p, project))
			continue;
		if (volume_remove(root, v[i]->name, &one) < 0) {
			if (rc == 0)
				stk_err_set(err, one.errnum, "remove %s: %s", v[i]->name, one.msg);
			rc = -1;
			continue;
		}
		if (removed) {
			*removed = xrealloc(*removed, (nremoved + 2) * sizeof(char *));
			(*removed)[nremoved++] = xstrdup(v[i]->name);
			(*removed)[nremoved] = NULL;
		}
	}
	volume_list_free(v, n);
	return rc;
}

/* On-disk records: paths, the project lock, atomic JSON files, container listing. */
#include "state/state.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

char *state_project_dir(const struct state_paths *p, const char *project)
{
	return xasprintf("%s/projects/%s", p->root, project);
}

char *state_run_dir(const struct state_paths *p, const char *project)
{
	return xasprintf("%s/%s", p->run, project);
}

char *state_container_dir(const struct state_paths *p, const char *id)
{
	return xasprintf("%s/containers/%s", p->root, id);
}

char *state_cgroup_parent(const char *project)
{
	return xasprintf("stack/%s", project);
}

int state_project_lock(const struct state_paths *p, const char *project, int *fd,
		       struct stk_err *err)
{
	_cleanup_free_ char *dir = state_project_dir(p, project);
	_cleanup_free_ char *path = xasprintf("%s/lock", dir);

	for (;;) {
		struct stat held, now;
		int f;

		if (stk_mkdir_p(dir, 0700, err) < 0)
			return -1;
		f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (f < 0)
			return stk_err_sys(err, "open %s", path);
		while (flock(f, LOCK_EX) < 0) {
			if (errno != EINTR) {
				close(f);
				return stk_err_sys(err, "lock %s", path);
			}
		}
		/* Whoever held it may have removed the project (down, an unused project's
		 * supervisor): a lock on a file no longer there locks nothing; take it again. */
		if (fstat(f, &held) == 0 && stat(path, &now) == 0 && held.st_ino == now.st_ino &&
		    held.st_dev == now.st_dev) {
			*fd = f;
			return 0;
		}
		close(f);
	}
}

void state_project_forget_unused(const struct state_paths *p, const char *project)
{
	_cleanup_free_ char *dir = state_project_dir(p, project);
	_cleanup_free_ char *path = xasprintf("%s/lock", dir);
	_cleanup_close_ int f = open(path, O_RDWR | O_CLOEXEC);
	DIR *d;
	struct state_container *v = NULL;
	struct dirent *e;
	struct stk_err err;
	size_t n = 0;
	bool other = false;

	/* Held: someone is making something of the project. */
	if (f < 0 || flock(f, LOCK_EX | LOCK_NB) < 0)
		return;
	d = opendir(dir);
	if (!d)
		return;
	while (!other && (e = readdir(d)))
		other = strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
			strcmp(e->d_name, "lock");
	closedir(d);
	if (other || state_list_containers(p, project, &v, &n, &err) < 0)
		return;
	state_containers_free(v, n);
	if (n)
		return;
	unlink(path);
	rmdir(dir);
}

static int write_json(const char *path, struct json_object *obj, bool durable, struct stk_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t len = strlen(s), off = 0;
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return stk_err_sys(err, "write %s", tmp);
	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			stk_err_sys(err, "write %s", tmp);
			unlink(tmp);
			return -1;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || (durable && fsync(fd) < 0) || rename(tmp, path) < 0) {
		stk_err_sys(err, "write %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int state_write_json(const char *path, struct json_object *obj, struct stk_err *err)
{
	return write_json(path, obj, true, err);
}

int state_update_json(const char *path, struct json_object *obj, struct stk_err *err)
{
	return write_json(path, obj, false, err);
}

struct json_object *state_read_json(const char *path)
{
	_cleanup_free_ char *s = str_read_file(path, NULL);

	return s ? json_tokener_parse(s) : NULL;
}

const char *state_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

long long state_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return 0;
	return (long long)json_object_get_int64(v);
}

static int by_name(const void *a, const void *b)
{
	const struct state_container *x = a, *y = b;
	int c = strcmp(state_str(x->config, "name"), state_str(y->config, "name"));

	return c ? c : strcmp(x->id, y->id);
}

int state_list_containers(const struct state_paths *p, const char *project,
			  struct state_container **out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ char *base = xasprintf("%s/containers", p->root);
	DIR *d = opendir(base);
	struct dirent *e;
	struct state_container *v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", base);
	while ((e = readdir(d))) {
		_cleanup_free_ char *dir = NULL, *cfg = NULL, *st = NULL;
		struct json_object *config;

		if (e->d_name[0] == '.')
			continue;
		dir = xasprintf("%s/%s", base, e->d_name);
		cfg = xasprintf("%s/config.json", dir);
		config = state_read_json(cfg);
		if (!config)
			continue; /* a runtime-run container, or one half-removed */
		if (project && strcmp(state_str(config, "project"), project) != 0) {
			json_object_put(config);
			continue;
		}
		st = xasprintf("%s/state.json", dir);
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt].id = xstrdup(e->d_name);
		v[cnt].dir = steal(&dir);
		v[cnt].config = config;
		v[cnt].state = state_read_json(st);
		if (!v[cnt].state)
			v[cnt].state = json_object_new_object();
		cnt++;
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), by_name);
	*out = v;
	*n = cnt;
	return 0;
}

void state_containers_free(struct state_container *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].dir);
		json_object_put(v[i].config);
		json_object_put(v[i].state);
	}
	free(v);
}

bool state_container_running(const struct state_container *c)
{
	_cleanup_free_ char *pidfile = xasprintf("%s/engine/pid", c->dir);
	_cleanup_free_ char *pid = str_read_file(pidfile, NULL);
	_cleanup_free_ char *procfile = NULL, *cgroups = NULL, *leaf = NULL;

	if (!pid || atoi(pid) <= 0)
		return false;
	procfile = xasprintf("/proc/%d/cgroup", atoi(pid));
	cgroups = str_read_file(procfile, NULL);
	leaf = xasprintf("%s/%s\n", state_str(c->config, "cgroup_parent"), c->id);
	return cgroups && strstr(cgroups, leaf);
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int state_list_projects(const struct state_paths *p, char ***out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ char *base = xasprintf("%s/projects", p->root);
	DIR *d = opendir(base);
	struct dirent *e;
	char **v = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", base);
	while ((e = readdir(d))) {
		_cleanup_free_ char *model = NULL;

		if (e->d_name[0] == '.')
			continue;
		model = xasprintf("%s/%s/compose.json", base, e->d_name);
		if (access(model, F_OK) < 0)
			continue;
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		v[cnt++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), str_cmp);
	*out = v;
	*n = cnt;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int state_remove_tree(const char *path, struct stk_err *err)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return stk_err_sys(err, "remove %s", path);
	return 0;
}

bool state_container_paused(const struct state_container *c)
{
	const char *parent = state_str(c->config, "cgroup_parent");
	_cleanup_free_ char *v1 =
		xasprintf("/sys/fs/cgroup/freezer/%s/%s/freezer.state", parent, c->id);
	_cleanup_free_ char *v2 = xasprintf("/sys/fs/cgroup/%s/%s/cgroup.freeze", parent, c->id);
	_cleanup_free_ char *s1 = str_read_file(v1, NULL);
	_cleanup_free_ char *s2 = s1 ? NULL : str_read_file(v2, NULL);

	return (s1 && str_has_prefix(s1, "FROZEN")) || (s2 && s2[0] == '1');
}

bool state_container_oneoff(const struct state_container *c)
{
	struct json_object *labels, *v;

	return json_object_object_get_ex(c->config, "labels", &labels) &&
	       json_object_object_get_ex(labels, "com.docker.compose.oneoff", &v) &&
	       !strcmp(json_object_get_string(v), "True");
}

/* cgroup: pick the hierarchy, dispatch to the v1 or v2 backend, and the small file
 * helpers both backends use. */
#include "engine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

const char *cgroup_root(void)
{
	const char *r = getenv("STACK_CGROUP_ROOT");

	return r && *r ? r : "/sys/fs/cgroup";
}

int cgroup_version(void)
{
	struct statfs st;

	if (statfs(cgroup_root(), &st) == 0 && st.f_type == CGROUP2_SUPER_MAGIC)
		return 2;
	return 1;
}

int cgroup_create(const char *parent, const char *id, const struct engine_resources *r,
		  struct cgroup **out, struct stk_err *err)
{
	struct cgroup *cg = xcalloc(1, sizeof(*cg));
	int rc = -1, attempt;

	cg->version = cgroup_version();
	cg->cpuset = r->cpuset_cpus || r->cpuset_mems;
	cg->devices_prog = -1;
	cg->path = xasprintf("%s/%s", parent && *parent ? parent : "stack", id);
	cg->dirfd = -1;
	/* A sibling's removal may take an empty shared parent away under us: retry. */
	for (attempt = 0; attempt < 3; attempt++) {
		rc = cg->version == 2 ? cgv2_create(cg, err) : cgv1_create(cg, err);
		if (rc == 0 || err->errnum != ENOENT)
			break;
	}
	if (rc < 0) {
		cgroup_free(cg);
		return stk_err_wrap(err, "create cgroup");
	}
	*out = cg;
	return 0;
}

int cgroup_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
		 const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err)
{
	return cg->version == 2 ? cgv2_apply(cg, r, privileged, extra, nextra, err)
				: cgv1_apply(cg, r, privileged, extra, nextra, err);
}

int cgroup_join_open(const struct cgroup *cg, struct cgroup_join *j, struct stk_err *err)
{
	j->n = 0;
	return cg->version == 2 ? 0 : cgv1_join_open(cg, j, err);
}

int cgroup_join_self(const struct cgroup_join *j, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < j->n; i++)
		if (write(j->fd[i], "0", 1) != 1)
			return stk_err_sys(err, "join cgroup");
	return 0;
}

void cgroup_join_close(struct cgroup_join *j)
{
	while (j->n)
		close(j->fd[--j->n]);
}

int cgroup_freeze(struct cgroup *cg, bool frozen, struct stk_err *err)
{
	return cg->version == 2 ? cgv2_freeze(cg, frozen, err) : cgv1_freeze(cg, frozen, err);
}

int cgroup_freeze_check(struct cgroup *cg, bool frozen, bool nudge, struct stk_err *err)
{
	return cg->version == 2 ? cgv2_freeze_check(cg, frozen, err)
				: cgv1_freeze_check(cg, frozen, nudge, err);
}

int cgroup_kill_all(struct cgroup *cg, struct stk_err *err)
{
	return cg->version == 2 ? cgv2_kill_all(cg, err) : cgv1_kill_all(cg, err);
}

int cgroup_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err)
{
	memset(out, 0, sizeof(*out));
	return cg->version == 2 ? cgv2_stats(cg, out, err) : cgv1_stats(cg, out, err);
}

char *cgroup_procs(struct cgroup *cg)
{
	return cg->version == 2 ? cgv2_procs(cg) : cgv1_procs(cg);
}

bool cgroup_oom_killed(struct cgroup *cg)
{
	return cg->version == 2 ? cgv2_oom_killed(cg) : cgv1_oom_killed(cg);
}

int cgroup_destroy(struct cgroup *cg, struct stk_err *err)
{
	return cg->version == 2 ? cgv2_destroy(cg, err) : cgv1_destroy(cg, err);
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	if (cg->dirfd >= 0)
		close(cg->dirfd);
	if (cg->devices_prog >= 0)
		close(cg->devices_prog);
	free(cg->path);
	free(cg);
}

int cg_write(const char *dir, const char *file, const char *val, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(val);

	if (fd < 0)
		return stk_err_sys(err, "open %s", p);
	if (write(fd, val, len) != (ssize_t)len)
		return stk_err_sys(err, "write \"%s\" to %s", val, p);
	return 0;
}

char *cg_read(const char *dir, const char *file)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
	_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
	struct strbuf sb;
	char buf[4096];
	ssize_t n;

	if (fd < 0)
		return NULL;
	strbuf_init(&sb);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_addn(&sb, buf, (size_t)n);
	if (n < 0) {
		strbuf_free(&sb);
		return NULL;
	}
	return strbuf_take(&sb);
}

long long cg_read_key(const char *dir, const char *file, const char *key)
{
	_cleanup_free_ char *s = cg_read(dir, file);
	size_t klen = strlen(key);
	char *line;

	if (!s)
		return -1;
	for (line = s; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return strtoll(line + klen + 1, NULL, 10);
	}
	return -1;
}

int cg_mkdir_p(const char *root, const char *rel, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	size_t i, off = strlen(root) + 1;

	for (i = off;; i++) {
		if (p[i] == '/' || p[i] == '\0') {
			char c = p[i];

			p[i] = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return stk_err_sys(err, "mkdir %s", p);
			p[i] = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int cg_rmdir_up(const char *root, const char *rel, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, rel);
	size_t rootlen = strlen(root);
	char *slash;

	/* A cgroup whose last task just died stays busy until the task is released: the
	 * caller tries again later (engine_remove). */
	if (rmdir(p) < 0) {
		if (errno == EBUSY)
			return 1;
		if (errno != ENOENT)
			return stk_err_sys(err, "remove cgroup %s", p);
	}
	/* Parents shared by a project go when their last container does. */
	while ((slash = strrchr(p, '/')) && (size_t)(slash - p) > rootlen) {
		*slash = '\0';
		if (rmdir(p) < 0)
			break;
	}
	return 0;
}

void cg_kill_listed(const char *procs)
{
	const char *p;
	char *end;

	for (p = procs; p && *p; p = end) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
		while (*end == '\n')
			end++;
	}
}

/* What the child of clone3 needs, made in the parent: paths, mount options, the argv
 * with the init prefix, the environment, the cgroup v1 hierarchies. The child was cloned
 * from a process that may have other threads (the supervisor's libuv pool), one of which
 * may have held malloc's lock at that instant; the child therefore allocates nothing and
 * only reads its copy of this plan. */
#include "engine/internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool env_has(char *const *env, const char *key)
{
	size_t len = strlen(key);

	for (; env && *env; env++)
		if (strncmp(*env, key, len) == 0 && (*env)[len] == '=')
			return true;
	return false;
}

/* Every entry is the plan's own string, so that child_plan_release can free them all. */
char **plan_env(char *const *env, const char *hostname, bool tty, const char *home,
		size_t *home_slot)
{
	size_t n = 0, i;
	char **out;

	while (env && env[n])
		n++;
	out = xcalloc(n + 5, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(env[i]);
	*home_slot = SIZE_MAX;
	if (!env_has(env, "PATH"))
		out[n++] = xstrdup("PATH=" DEFAULT_PATH);
	if (hostname && !env_has(env, "HOSTNAME"))
		out[n++] = xasprintf("HOSTNAME=%s", hostname);
	if (tty && !env_has(env, "TERM"))
		out[n++] = xstrdup("TERM=xterm");
	if (!env_has(env, "HOME")) {
		if (home) {
			out[n++] = xasprintf("HOME=%s", home);
		} else {
			/* The child points this slot at its own buffer: HOME comes after mounts. */
			*home_slot = n;
			out[n++] = xstrdup("HOME=/");
		}
	}
	return out;
}

static char **init_argv(const struct engine_spec *s)
{
	size_t n = 0, i = 0;
	char **argv;

	while (s->argv && s->argv[n])
		n++;
	argv = xcalloc(n + 3, sizeof(char *));
	if (s->init) {
		argv[i++] = xstrdup(ENGINE_INIT_PATH);
		argv[i++] = xstrdup("--");
	}
	for (n = 0; s->argv && s->argv[n]; n++)
		argv[i++] = xstrdup(s->argv[n]);
	return argv;
}

char *plan_overlay_options(const struct engine_spec *s)
{
	struct strbuf opts;
	size_t i;

	strbuf_init(&opts);
	strbuf_adds(&opts, "lowerdir=");
	for (i = 0; i < s->nlayers; i++)
		strbuf_addf(&opts, "%s%s", i ? ":" : "", s->layers[i]);
	if (s->upper_dir)
		strbuf_addf(&opts, ",upperdir=%s", s->upper_dir);
	else
		strbuf_addf(&opts, ",upperdir=%s/upper", s->state_dir);
	strbuf_addf(&opts, ",workdir=%s/work", s->state_dir);
	return strbuf_take(&opts);
}

/* Only namespaced sysctls: the key becomes a path under the container's /proc/sys. */
static int sysctl_paths(const struct engine_spec *s, char ***out, struct stk_err *err)
{
	size_t i;

	*out = xcalloc(s->nsysctls + 1, sizeof(char *));
	for (i = 0; i < s->nsysctls; i++) {
		char *p;

		if (strstr(s->sysctls[i].key, ".."))
			return stk_err_set(err, EINVAL, "%s: invalid sysctl %s",
					   child_step_name(STEP_SYSCTL), s->sysctls[i].key);
		(*out)[i] = xasprintf("/proc/sys/%s", s->sysctls[i].key);
		for (p = (*out)[i] + 10; *p; p++)
			if (*p == '.')
				*p = '/';
	}
	return 0;
}

static int fixed_path(char *buf, size_t len, const char *dir, const char *name, struct stk_err *err)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		return stk_err_set(err, ENAMETOOLONG, "state directory %s: path too long", dir);
	return 0;
}

int plan_build_start(const struct engine_container *c, struct child_plan *out, struct stk_err *err)
{
	const struct engine_spec *s = &c->spec;

	memset(out, 0, sizeof(*out));
	out->home_slot = SIZE_MAX;
	if (fixed_path(out->root, sizeof(out->root), s->state_dir, "rootfs", err) < 0 ||
	    fixed_path(out->hostname_file, sizeof(out->hostname_file), s->state_dir, "hostname",
		       err) < 0)
		return -1;
	if (s->nlayers)
		out->overlay_opts = plan_overlay_options(s);
	if (c->cg->version == 1)
		rootfs_list_cgroup_v1(s, &out->cgv1, &out->ncgv1);
	if (sysctl_paths(s, &out->sysctl_paths, err) < 0)
		return -1;
	if (mount_prepare_sources(s, err) < 0)
		return stk_err_wrap(err, "%s", child_step_name(STEP_MOUNT));
	out->argv = init_argv(s);
	out->env = plan_env(s->env, s->hostname, s->tty, NULL, &out->home_slot);
	return 0;
}

static void strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void child_plan_release(struct child_plan *p)
{
	free(p->overlay_opts);
	free(p->cgv1);
	strv_free(p->sysctl_paths);
	strv_free(p->argv);
	strv_free(p->env);
	memset(p, 0, sizeof(*p));
}

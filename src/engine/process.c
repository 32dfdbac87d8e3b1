/* The last steps before a container process runs its program, shared by start and
 * exec: stdio or tty, rlimits, user and groups, working directory, capabilities,
 * no_new_privs, seccomp (as late as it can be), and execve with a clear error. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Docker's effective defaults (dockerd under systemd's LimitNOFILE=1024:524288). */
static const struct engine_ulimit default_ulimits[] = {
	{RLIMIT_NOFILE, 1024, 524288},
};

static void set_rlimit(struct engine_container *c, const struct engine_ulimit *u, bool user,
		       bool can_raise)
{
	struct engine_ulimit v = *u;
	struct rlimit cur;
	size_t i;

	if (!can_raise && getrlimit(u->resource, &cur) == 0 && v.hard > cur.rlim_max) {
		if (user)
			engine_warn(c, "ulimit %d: hard limit %llu lowered to %llu (no CAP_SYS_RESOURCE)",
				    u->resource, (unsigned long long)v.hard,
				    (unsigned long long)cur.rlim_max);
		v.hard = cur.rlim_max;
		if (v.soft > v.hard)
			v.soft = v.hard;
	}
	for (i = 0; i < c->nrlimits; i++)
		if (c->rlimits[i].resource == v.resource) {
			c->rlimits[i] = v;
			return;
		}
	c->rlimits = xrealloc(c->rlimits, (c->nrlimits + 1) * sizeof(*c->rlimits));
	c->rlimits[c->nrlimits++] = v;
}

void process_rlimits(struct engine_container *c)
{
	cap_flag_value_t has = CAP_CLEAR;
	cap_t caps = cap_get_proc();
	size_t i;

	if (caps) {
		cap_get_flag(caps, CAP_SYS_RESOURCE, CAP_EFFECTIVE, &has);
		cap_free(caps);
	}
	free(c->rlimits);
	c->rlimits = NULL;
	c->nrlimits = 0;
	for (i = 0; i < sizeof(default_ulimits) / sizeof(default_ulimits[0]); i++)
		set_rlimit(c, &default_ulimits[i], false, has == CAP_SET);
	for (i = 0; i < c->spec.nulimits; i++)
		set_rlimit(c, &c->spec.ulimits[i], true, has == CAP_SET);
}

static void __attribute__((noreturn)) fail(int sync, int step, struct stk_err *err)
{
	child_fail(sync, step, err);
}

static int setup_stdio(const struct process_args *p, int sync, struct stk_err *err)
{
	int tmp[3], i;

	if (p->tty) {
		int master, slave;

		if (dev_open_pty(&master, &slave, err) < 0)
			return -1;
		{
			struct sync_msg m = {.type = SYNC_PTY};

			if (sync_send(sync, &m, master) < 0)
				return stk_err_sys(err, "send pty to parent");
		}
		close(master);
		if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) < 0)
			return stk_err_sys(err, "make the pty the controlling terminal");
		for (i = 0; i < 3; i++)
			if (dup2(slave, i) < 0)
				return stk_err_sys(err, "dup2 pty");
		if (slave > 2)
			close(slave);
		return 0;
	}
	/* Move the caller's fds out of the way first: one may already sit on 0, 1 or 2. */
	for (i = 0; i < 3; i++) {
		int src = p->stdio ? p->stdio[i] : -1;

		tmp[i] = src >= 0 ? fcntl(src, F_DUPFD_CLOEXEC, 3)
				  : open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
		if (tmp[i] < 0)
			return stk_err_sys(err, "stdio %d", i);
	}
	for (i = 0; i < 3; i++) {
		if (dup2(tmp[i], i) < 0)
			return stk_err_sys(err, "dup2 stdio %d", i);
		close(tmp[i]);
	}
	if (p->main)
		setsid();
	return 0;
}

static int apply_rlimits(const struct process_args *p, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < p->nrlimits; i++) {
		struct rlimit r = {p->rlimits[i].soft, p->rlimits[i].hard};

		if (setrlimit(p->rlimits[i].resource, &r) < 0)
			return stk_err_sys(err, "rlimit %d", p->rlimits[i].resource);
	}
	return 0;
}

static char *slurp(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	struct strbuf sb;
	char buf[4096];
	size_t n;

	strbuf_init(&sb);
	while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_addn(&sb, buf, n);
	return sb.buf ? strbuf_take(&sb) : xstrdup("");
}

static bool env_has(char **env, const char *key)
{
	size_t len = strlen(key);

	for (; env && *env; env++)
		if (strncmp(*env, key, len) == 0 && (*env)[len] == '=')
			return true;
	return false;
}

static char **build_env(const struct engine_spec *s, const struct process_args *p,
			const struct user_ids *u)
{
	size_t n = 0, i;
	char **env;

	while (p->env && p->env[n])
		n++;
	env = xcalloc(n + 5, sizeof(char *));
	for (i = 0; i < n; i++)
		env[i] = p->env[i];
	if (!env_has(env, "PATH"))
		env[n++] = "PATH=" DEFAULT_PATH;
	if (p->main && !env_has(env, "HOSTNAME") && s->hostname)
		env[n++] = xasprintf("HOSTNAME=%s", s->hostname);
	if (p->tty && !env_has(env, "TERM"))
		env[n++] = "TERM=xterm";
	if (!env_has(env, "HOME"))
		env[n++] = xasprintf("HOME=%s", u->home);
	return env;
}

static int switch_user(const struct user_ids *u, struct stk_err *err)
{
	if (setgroups(u->ngroups, u->groups) < 0)
		return stk_err_sys(err, "setgroups");
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return stk_err_sys(err, "setgid %u", (unsigned)u->gid);
	/* Keep the permitted set across the uid change; caps_apply sets it exactly. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return stk_err_sys(err, "keep capabilities");
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return stk_err_sys(err, "setuid %u", (unsigned)u->uid);
	return 0;
}

static int enter_workdir(const char *dir, bool create, struct stk_err *err)
{
	if (!dir || !*dir)
		dir = "/";
	if (chdir(dir) == 0)
		return 0;
	if (errno != ENOENT || !create)
		return stk_err_sys(err, "chdir to %s", dir);
	/* As Docker: a missing working directory is created. */
	{
		_cleanup_free_ char *p = xstrdup(dir);
		char *c;

		for (c = p + 1; *c; c++) {
			if (*c != '/')
				continue;
			*c = '\0';
			mkdir(p, 0755);
			*c = '/';
		}
		mkdir(p, 0755);
	}
	if (chdir(dir) < 0)
		return stk_err_sys(err, "chdir to %s", dir);
	return 0;
}

static void __attribute__((noreturn)) do_exec(char **argv, char **env, int sync)
{
	struct stk_err err;
	const char *path = NULL;
	char **e;

	for (e = env; *e; e++)
		if (str_has_prefix(*e, "PATH="))
			path = *e + 5;
	/* execvpe searches the PATH of our own environment: make it the container's. */
	if (path)
		setenv("PATH", path, 1);
	execvpe(argv[0], argv, env);
	if (errno == ENOENT)
		stk_err_set(&err, ENOENT, "exec \"%s\": no such file in rootfs", argv[0]);
	else
		stk_err_sys(&err, "exec \"%s\"", argv[0]);
	fail(sync, STEP_EXEC, &err);
}

void process_exec(const struct engine_spec *s, const struct process_args *p, int sync)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	struct user_ids u;
	struct stk_err err;
	char **env;

	if (!p->argv || !p->argv[0]) {
		stk_err_set(&err, EINVAL, "no command given");
		fail(sync, STEP_EXEC, &err);
	}
	if (setup_stdio(p, sync, &err) < 0)
		fail(sync, p->tty ? STEP_TTY : STEP_STDIO, &err);
	if (apply_rlimits(p, &err) < 0)
		fail(sync, STEP_RLIMIT, &err);
	passwd = slurp("/etc/passwd");
	group = slurp("/etc/group");
	if (user_resolve(p->user, s->group_add, passwd, group, &u, &err) < 0)
		fail(sync, STEP_USER, &err);
	if (enter_workdir(p->workdir, p->main, &err) < 0)
		fail(sync, STEP_CWD, &err);
	env = build_env(s, p, &u);
	if (caps_drop_bounding(p->caps, &err) < 0)
		fail(sync, STEP_CAPS, &err);
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN, which we still hold now; the
	 * syscalls left (setuid, capset, prctl, execve) are in every sane profile. */
	if (!s->no_new_privs && seccomp_install(p->seccomp, &err) < 0)
		fail(sync, STEP_SECCOMP, &err);
	if (switch_user(&u, &err) < 0)
		fail(sync, STEP_USER, &err);
	if (caps_apply(p->caps, &err) < 0)
		fail(sync, STEP_CAPS, &err);
	if (s->no_new_privs) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
			stk_err_sys(&err, "set no_new_privs");
			fail(sync, STEP_CAPS, &err);
		}
		if (seccomp_install(p->seccomp, &err) < 0)
			fail(sync, STEP_SECCOMP, &err);
	}
	/* Nothing of the engine's may reach the program: every fd above 2 closes on exec. */
	syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
	do_exec(p->argv, env, sync);
}

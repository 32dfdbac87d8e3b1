/* The last steps before a container process runs its program, shared by start and
 * exec: stdio or tty, rlimits, user and groups, working directory, capabilities,
 * no_new_privs, seccomp (as late as it can be), and execve with a clear error. The
 * child side allocates nothing: argv and env come made, the user from the parent. */
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
			engine_warn(
				c,
				"ulimit %d: hard limit %llu lowered to %llu (no CAP_SYS_RESOURCE)",
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
		/* The caller's terminal size before the program can ask for it. */
		if (p->tty_rows && p->tty_cols) {
			struct winsize ws = {.ws_row = p->tty_rows, .ws_col = p->tty_cols};

			ioctl(slave, TIOCSWINSZ, &ws);
		}
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

/* Start: the rootfs is in place, so the parent can now read the image's /etc/passwd
 * and /etc/group (through /proc/<pid>/root) and answer with the user to become. */
static int request_user(int sync, struct sync_msg *reply, struct stk_err *err)
{
	struct sync_msg m = {.type = SYNC_MOUNTED};
	int rc;

	if (sync_send(sync, &m, -1) < 0)
		return stk_err_sys(err, "ask the parent for the user");
	rc = sync_recv(sync, reply, NULL);
	if (rc < 0)
		return stk_err_sys(err, "wait for the user");
	if (rc == 0 || reply->type != SYNC_USER)
		return stk_err_set(err, EPIPE, "parent went away");
	return 0;
}

/* Raw syscalls: glibc's wrappers broadcast set*id to every thread it knows of, and the
 * child still has the thread list (and its lock) of a multi-threaded parent. */
static int switch_user(const struct child_user *u, struct stk_err *err)
{
	if (syscall(SYS_setgroups, (size_t)u->ngroups, u->groups) < 0)
		return stk_err_sys(err, "setgroups");
	if (syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0)
		return stk_err_sys(err, "setgid %u", (unsigned)u->gid);
	/* Keep the permitted set across the uid change; caps_apply sets it exactly. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return stk_err_sys(err, "keep capabilities");
	if (syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
		return stk_err_sys(err, "setuid %u", (unsigned)u->uid);
	return 0;
}

static int enter_workdir(const char *dir, bool create, struct stk_err *err)
{
	char p[PATH_MAX];
	char *c;

	if (!dir || !*dir)
		dir = "/";
	if (chdir(dir) == 0)
		return 0;
	if (errno != ENOENT || !create)
		return stk_err_sys(err, "chdir to %s", dir);
	if (strlen(dir) >= sizeof(p))
		return stk_err_set(err, ENAMETOOLONG, "chdir to %s", dir);
	/* As Docker: a missing working directory is created. */
	memcpy(p, dir, strlen(dir) + 1);
	for (c = p + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		mkdir(p, 0755);
		*c = '/';
	}
	mkdir(p, 0755);
	if (chdir(dir) < 0)
		return stk_err_sys(err, "chdir to %s", dir);
	return 0;
}

static const char *env_path(char **env)
{
	for (; *env; env++)
		if (str_has_prefix(*env, "PATH="))
			return *env + 5;
	return "";
}

/* execvpe would search the PATH of our own environment (and allocates): search the
 * container's PATH here, in a fixed buffer, as execvp does. An entry that is missing or
 * not a directory is skipped; EACCES is remembered; any other error stops the search. */
static void __attribute__((noreturn)) do_exec(char **argv, char **env, int sync)
{
	const char *dir, *next;
	bool denied = false;
	struct stk_err err;
	char file[PATH_MAX];

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		goto fail;
	}
	for (dir = env_path(env);; dir = next + 1) {
		size_t len;

		next = strchrnul(dir, ':');
		len = (size_t)(next - dir);
		/* an empty entry is the working directory */
		if (len + strlen(argv[0]) + 2 <= sizeof(file)) {
			if (len)
				memcpy(file, dir, len);
			else
				file[len++] = '.';
			file[len] = '/';
			memcpy(file + len + 1, argv[0], strlen(argv[0]) + 1);
			execve(file, argv, env);
			if (errno == EACCES)
				denied = true;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE &&
				 errno != ENODEV && errno != ETIMEDOUT)
				goto fail;
		}
		if (!*next)
			break;
	}
	errno = denied ? EACCES : ENOENT;
fail:
	if (errno == ENOENT)
		stk_err_set(&err, ENOENT, "exec \"%s\": no such file in rootfs", argv[0]);
	else
		stk_err_sys(&err, "exec \"%s\"", argv[0]);
	fail(sync, STEP_EXEC, &err);
}

void process_exec(const struct engine_spec *s, const struct process_args *p, int sync)
{
	const struct child_user *u = p->user;
	struct sync_msg reply;
	struct stk_err err;
	char home[sizeof(reply.user.home) + 8];

	if (!p->argv || !p->argv[0]) {
		stk_err_set(&err, EINVAL, "no command given");
		fail(sync, STEP_EXEC, &err);
	}
	if (setup_stdio(p, sync, &err) < 0)
		fail(sync, p->tty ? STEP_TTY : STEP_STDIO, &err);
	if (apply_rlimits(p, &err) < 0)
		fail(sync, STEP_RLIMIT, &err);
	if (!u) {
		if (request_user(sync, &reply, &err) < 0)
			fail(sync, STEP_USER, &err);
		u = &reply.user;
	}
	/* Our copy of the plan's environment: its HOME slot may point at our buffer. */
	if (p->home_slot != SIZE_MAX) {
		snprintf(home, sizeof(home), "HOME=%s", u->home);
		p->env[p->home_slot] = home;
	}
	if (enter_workdir(p->workdir, p->main, &err) < 0)
		fail(sync, STEP_CWD, &err);
	if (caps_drop_bounding(p->caps, &err) < 0)
		fail(sync, STEP_CAPS, &err);
	/* Without no_new_privs a filter needs CAP_SYS_ADMIN, which we still hold now; the
	 * syscalls left (setuid, capset, prctl, execve) are in every sane profile. */
	if (!s->no_new_privs && seccomp_install(p->seccomp, &err) < 0)
		fail(sync, STEP_SECCOMP, &err);
	if (switch_user(u, &err) < 0)
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
	do_exec(p->argv, p->env, sync);
}

/* The container's life from the parent's side: create (state directory, cgroup),
 * start (clone3, cgroup placement, "go", wait for exec), signals, pause, reaping with
 * the exit code and OOM flag, stats, and removal that leaves nothing behind. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

void engine_warn(struct engine_container *c, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->warnings = xrealloc(c->warnings, (c->nwarnings + 2) * sizeof(char *));
	c->warnings[c->nwarnings++] = xstrdup(buf);
	c->warnings[c->nwarnings] = NULL;
}

const char *const *engine_warnings(const struct engine_container *c)
{
	static const char *const none[] = {NULL};

	return c->warnings ? (const char *const *)c->warnings : none;
}

static int validate(const struct engine_spec *s, struct stk_err *err)
{
	if (!s->id || !*s->id || strchr(s->id, '/') || strcmp(s->id, "..") == 0)
		return stk_err_set(err, EINVAL, "invalid container id \"%s\"", s->id ? s->id : "");
	if (!s->state_dir || s->state_dir[0] != '/')
		return stk_err_set(err, EINVAL, "state directory must be an absolute path");
	if (!s->nlayers && (!s->rootfs || s->rootfs[0] != '/'))
		return stk_err_set(err, EINVAL, "rootfs must be an absolute path");
	if (!s->argv || !s->argv[0])
		return stk_err_set(err, EINVAL, "no command given");
	return 0;
}

int engine_create(const struct engine_spec *spec, struct engine_container **out,
		  struct stk_err *err)
{
	struct engine_container *c;

	if (validate(spec, err) < 0)
		return -1;
	c = xcalloc(1, sizeof(*c));
	c->pid = -1;
	c->pidfd = -1;
	c->pty_master = -1;
	c->start_sync = c->start_pidfd = -1;
	engine_spec_copy(&c->spec, spec);
	if (!c->spec.hostname)
		c->spec.hostname = xstrndup(c->spec.id, 12);
	if (c->spec.init) {
		char *p = init_find(c->spec.init_path);

		if (!p) {
			engine_container_free(c);
			return stk_err_set(err, ENOENT,
					   "init: stack-init not found (looked next to the "
					   "stack binary and in the libexec directory)");
		}
		free(c->spec.init_path);
		c->spec.init_path = p;
	}
	/* Everything that can be wrong with the spec fails before anything is made. */
	if (caps_compute(&c->spec, &c->caps, err) < 0 ||
	    seccomp_prepare(&c->spec, c->caps, &c->seccomp, err) < 0 ||
	    dev_resolve_spec(&c->spec, &c->spec_devs, &c->dev_rules, &c->ndev_rules, err) < 0) {
		engine_container_free(c);
		return stk_err_wrap(err, "create container %s", spec->id);
	}
	if (mkdir(c->spec.state_dir, 0700) < 0 && errno != EEXIST) {
		stk_err_sys(err, "create %s", c->spec.state_dir);
		engine_container_free(c);
		return -1;
	}
	if (exec_record_write(c, err) < 0 || rootfs_prepare_files(&c->spec, err) < 0 ||
	    cgroup_create(c->spec.cgroup_parent, c->spec.id, &c->spec.res, &c->cg, err) < 0 ||
	    cgroup_apply(c->cg, &c->spec.res, c->spec.privileged, c->dev_rules, c->ndev_rules,
			 err) < 0) {
		struct stk_err ignored;

		/* nothing ran in the cgroup: this does not wait */
		engine_remove_blocking(c, &ignored);
		engine_container_free(c);
		return stk_err_wrap(err, "create container %s", spec->id);
	}
	*out = c;
	return 0;
}

static void unlink_pid_file(struct engine_container *c)
{
	_cleanup_free_ char *p = xasprintf("%s/pid", c->spec.state_dir);

	unlink(p);
}

/* A start that failed (or was given up): the child killed and reaped (it never ran the
 * program, so it goes at once), its pid file gone. */
static void start_abort(struct engine_container *c)
{
	siginfo_t si;

	if (c->start_sync >= 0)
		close(c->start_sync);
	c->start_sync = -1;
	if (c->start_pidfd >= 0) {
		syscall(SYS_pidfd_send_signal, c->start_pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)c->start_pidfd, &si, WEXITED);
		close(c->start_pidfd);
	}
	c->start_pidfd = -1;
	if (c->pid > 0)
		unlink_pid_file(c);
	c->pid = -1;
}

/* For engine_open from another process (exec, pause from the CLI). */
static void write_pid_file(struct engine_container *c)
{
	_cleanup_free_ char *p = xasprintf("%s/pid", c->spec.state_dir);
	_cleanup_fclose_ FILE *f = fopen(p, "we");

	if (!f || fprintf(f, "%d\n", (int)c->pid) < 0)
		engine_warn(c, "write %s: %s", p, strerror(errno));
}

int engine_start_begin(struct engine_container *c, struct stk_err *err)
{
	unsigned long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC;
	struct sync_msg go = {.type = SYNC_GO};
	struct cgroup_join join = {.n = 0};
	struct child_plan plan;
	int sv[2], pidfd = -1;
	pid_t pid;

	if (c->pid > 0)
		return stk_err_set(err, EBUSY, "container %s already started", c->spec.id);
	process_rlimits(c);
	/* Listed now, not at create: devices come and go (a USB stick, a loop device). */
	dev_list_release(&c->host_devs);
	if (c->spec.privileged)
		dev_list_host("/dev", &c->host_devs);
	if (plan_build_start(c, &plan, err) < 0) {
		child_plan_release(&plan);
		return stk_err_wrap(err, "start %s", c->spec.id);
	}
	if (!c->spec.netns)
		flags |= CLONE_NEWNET;
	if (c->cg->version == 2)
		flags |= CLONE_NEWCGROUP;
	if (cgroup_join_open(c->cg, &join, err) < 0) {
		child_plan_release(&plan);
		return stk_err_wrap(err, "start %s", c->spec.id);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		cgroup_join_close(&join);
		child_plan_release(&plan);
		return stk_err_sys(err, "start %s: socketpair", c->spec.id);
	}
	pid = ns_clone(flags, c->cg->version == 2 ? c->cg->dirfd : -1, &pidfd);
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		cgroup_join_close(&join);
		child_plan_release(&plan);
		return stk_err_sys(err, "start %s: clone3", c->spec.id);
	}
	if (pid == 0) {
		struct child_args a = {.c = c,
				       .plan = &plan,
				       .sync = sv[1],
				       .cgroup_version = c->cg->version,
				       .join = &join};

		close(sv[0]);
		child_main(&a);
	}
	close(sv[1]);
	cgroup_join_close(&join);
	child_plan_release(&plan);
	c->pid = pid;
	c->start_sync = sv[0];
	c->start_pidfd = pidfd;
	/* v1: the child joins its cgroups itself, first thing after "go" (cgroup.h). */
	/* Before the program runs: whoever sees it running can engine_open it. */
	write_pid_file(c);
	if (sync_send(sv[0], &go, -1) < 0) {
		stk_err_sys(err, "signal the container process");
		goto fail;
	}
	/* From here the child sets itself up on its own: the caller watches start_sync. */
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		stk_err_sys(err, "start %s: sync socket", c->spec.id);
		goto fail;
	}
	return 0;
fail:
	start_abort(c);
	return stk_err_wrap(err, "start %s", c->spec.id);
}

int engine_start_fd(const struct engine_container *c)
{
	return c->start_sync;
}

int engine_start_poll(struct engine_container *c, struct stk_err *err)
{
	struct user_request req = {.pid = c->pid,
				   .user = c->spec.user,
				   .group_add = c->spec.group_add};
	int rc;

	if (c->start_sync < 0)
		return stk_err_set(err, EINVAL, "container %s: no start under way", c->spec.id);
	rc = ns_wait_exec(c->start_sync, &c->pty_master, &req, err);
	if (rc == 1)
		return 1;
	if (rc < 0) {
		start_abort(c);
		return stk_err_wrap(err, "start %s", c->spec.id);
	}
	close(c->start_sync);
	c->start_sync = -1;
	c->pidfd = stk_steal_fd(&c->start_pidfd);
	return 0;
}

int engine_start(struct engine_container *c, struct stk_err *err)
{
	int rc;

	if (engine_start_begin(c, err) < 0)
		return -1;
	while ((rc = engine_start_poll(c, err)) == 1) {
		struct pollfd p = {.fd = c->start_sync, .events = POLLIN};

		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			stk_err_sys(err, "start %s: wait for the container process", c->spec.id);
			start_abort(c);
			return -1;
		}
	}
	return rc;
}

/* The cgroup of a container another process created, by its spec's names. */
static struct cgroup *cgroup_of(const struct engine_spec *spec)
{
	struct cgroup *cg = xcalloc(1, sizeof(*cg));

	cg->version = cgroup_version();
	cg->path = xasprintf("%s/%s",
			     spec->cgroup_parent && *spec->cgroup_parent ? spec->cgroup_parent
									 : "stack",
			     spec->id);
	cg->dirfd = -1;
	cg->devices_prog = -1;
	if (cg->version == 2) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", cgroup_root(), cg->path);

		cg->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	return cg;
}

int engine_open(const struct engine_spec *spec, struct engine_container **out, struct stk_err *err)
{
	_cleanup_free_ char *pidfile = NULL, *procfile = NULL, *cgroups = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	struct engine_container *c;
	int pid = -1, rc;

	if (!spec->id || !*spec->id || !spec->state_dir)
		return stk_err_set(err, EINVAL, "container id and state directory are required");
	pidfile = xasprintf("%s/pid", spec->state_dir);
	f = fopen(pidfile, "re");
	if (!f || fscanf(f, "%d", &pid) != 1)
		return stk_err_set(err, ESRCH, "container %s is not running", spec->id);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->pty_master = -1;
	c->start_sync = c->start_pidfd = -1;
	c->opened = true;
	engine_spec_copy(&c->spec, spec);
	c->cg = cgroup_of(spec);
	c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	/* The pid must still be the container's: its cgroup says so. */
	procfile = xasprintf("/proc/%d/cgroup", pid);
	cgroups = str_read_file(procfile, NULL);
	if (c->pidfd < 0 || !cgroups || !strstr(cgroups, c->cg->path)) {
		engine_container_free(c);
		return stk_err_set(err, ESRCH, "container %s is not running", spec->id);
	}
	/* What exec needs: the record engine_create wrote, else (a container of an older
	 * stack) the spec we were given; its seccomp filter waits for the first exec. */
	rc = exec_record_load(c, err);
	if (rc == 1 && caps_compute(&c->spec, &c->caps, err) < 0) {
		engine_container_free(c);
		return -1;
	}
	process_rlimits(c);
	*out = c;
	return 0;
}

bool engine_exec_recorded(const struct engine_container *c)
{
	return c->recorded || !c->opened;
}

char *const *engine_env(const struct engine_container *c)
{
	return c->spec.env;
}

pid_t engine_pid(const struct engine_container *c)
{
	return c->pid;
}

int engine_pidfd(const struct engine_container *c)
{
	return c->pidfd;
}

int engine_take_pty_master(struct engine_container *c)
{
	return stk_steal_fd(&c->pty_master);
}

int engine_kill(struct engine_container *c, int sig, struct stk_err *err)
{
	if (c->pidfd < 0 || c->reaped)
		return stk_err_set(err, ESRCH, "container %s is not running", c->spec.id);
	if (syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0)
		return stk_err_sys(err, "kill %s", c->spec.id);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int engine_kill_all(struct engine_container *c, struct stk_err *err)
{
	/* PID 1 first: its end takes the rest of its pid namespace with it. */
	if (c->pidfd >= 0 && !c->reaped)
		syscall(SYS_pidfd_send_signal, c->pidfd, SIGKILL, NULL, 0);
	if (cgroup_kill_all(c->cg, err) < 0)
		return stk_err_wrap(err, "kill %s", c->spec.id);
	/* A frozen task on v1 takes its SIGKILL only once thawed (as Docker, kill unpauses);
	 * the thaw is only asked for here, never waited on. */
	if (c->cg->version == 1) {
		struct stk_err ignored;

		cgroup_freeze(c->cg, false, &ignored);
	}
	return 0;
}

#define FREEZE_TIMEOUT_MS 5000
#define FREEZE_NUDGE_MS 100

static int freeze(struct engine_container *c, bool frozen, struct stk_err *err)
{
	if (cgroup_freeze(c->cg, frozen, err) < 0)
		return stk_err_wrap(err, "%s %s", frozen ? "pause" : "unpause", c->spec.id);
	c->freeze_target = frozen;
	c->freeze_deadline = now_ms() + FREEZE_TIMEOUT_MS;
	c->freeze_nudge = now_ms() + FREEZE_NUDGE_MS;
	return engine_pause_poll(c, err);
}

int engine_pause(struct engine_container *c, struct stk_err *err)
{
	return freeze(c, true, err);
}

int engine_unpause(struct engine_container *c, struct stk_err *err)
{
	return freeze(c, false, err);
}

int engine_pause_poll(struct engine_container *c, struct stk_err *err)
{
	const char *what = c->freeze_target ? "pause" : "unpause";
	int64_t now = now_ms();
	bool nudge = now >= c->freeze_nudge;
	int rc;

	if (!c->freeze_deadline)
		return 0;
	if (nudge)
		c->freeze_nudge = now + FREEZE_NUDGE_MS;
	rc = cgroup_freeze_check(c->cg, c->freeze_target, nudge, err);
	if (rc == 1 && now >= c->freeze_deadline)
		rc = stk_err_set(err, ETIMEDOUT, "cgroup %s did not %s in %d s", c->cg->path,
				 c->freeze_target ? "freeze" : "thaw", FREEZE_TIMEOUT_MS / 1000);
	if (rc != 1)
		c->freeze_deadline = 0;
	return rc < 0 ? stk_err_wrap(err, "%s %s", what, c->spec.id) : rc;
}

/* A "not yet" call, repeated after ENGINE_RETRY_MS until it is done. */
static int retry_blocking(struct engine_container *c, int rc,
			  int (*again)(struct engine_container *, struct stk_err *),
			  struct stk_err *err)
{
	while (rc == 1) {
		poll(NULL, 0, ENGINE_RETRY_MS);
		rc = again(c, err);
	}
	return rc;
}

int engine_pause_blocking(struct engine_container *c, struct stk_err *err)
{
	return retry_blocking(c, engine_pause(c, err), engine_pause_poll, err);
}

int engine_unpause_blocking(struct engine_container *c, struct stk_err *err)
{
	return retry_blocking(c, engine_unpause(c, err), engine_pause_poll, err);
}

static void exit_from_siginfo(const siginfo_t *si, struct engine_exit *out)
{
	memset(out, 0, sizeof(*out));
	if (si->si_code == CLD_EXITED) {
		out->code = si->si_status;
	} else {
		out->signal = si->si_status;
		out->code = 128 + si->si_status;
	}
}

int engine_try_wait(struct engine_container *c, struct engine_exit *out, struct stk_err *err)
{
	siginfo_t si;

	if (c->reaped) {
		*out = c->exit;
		return 0;
	}
	if (c->opened)
		return stk_err_set(err, ECHILD, "container %s was started by another process",
				   c->spec.id);
	if (c->pidfd < 0)
		return stk_err_set(err, ESRCH, "container %s was not started", c->spec.id);
	memset(&si, 0, sizeof(si));
	if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) < 0)
		return stk_err_sys(err, "wait for %s", c->spec.id);
	if (si.si_pid == 0)
		return 1;
	exit_from_siginfo(&si, &c->exit);
	c->exit.oom_killed = cgroup_oom_killed(c->cg);
	c->reaped = true;
	*out = c->exit;
	return 0;
}

static bool wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int rc;

	do
		rc = poll(&p, 1, ms);
	while (rc < 0 && errno == EINTR);
	return rc > 0;
}

int engine_stop_blocking(struct engine_container *c, int sig, int grace_ms, struct engine_exit *out,
			 struct stk_err *err)
{
	struct stk_err ignored;
	int rc;

	if (c->reaped)
		return engine_try_wait(c, out, err);
	engine_kill(c, sig, &ignored);
	if (!wait_readable(c->pidfd, grace_ms) && engine_kill_all(c, err) < 0)
		return -1;
	wait_readable(c->pidfd, -1);
	rc = engine_try_wait(c, out, err);
	return rc < 0 ? -1 : 0;
}

/* /proc/<pid>/net/dev of PID 1: its netns's interfaces, lo left out as Docker does. */
static void net_sum(pid_t pid, struct engine_stats *out)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", (int)pid);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *name = line;
		unsigned long long rx, tx, skip;

		if (!colon)
			continue;
		*colon = '\0';
		while (*name == ' ')
			name++;
		if (!strcmp(name, "lo") ||
		    sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &rx, &skip,
			   &skip, &skip, &skip, &skip, &skip, &skip, &tx) != 9)
			continue;
		out->net_rx += rx;
		out->net_tx += tx;
	}
}

int engine_stats(struct engine_container *c, struct engine_stats *out, struct stk_err *err)
{
	if (cgroup_stats(c->cg, out, err) < 0)
		return stk_err_wrap(err, "stats of %s", c->spec.id);
	net_sum(c->pid, out);
	return 0;
}

int engine_processes(struct engine_container *c, pid_t **out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ char *procs = cgroup_procs(c->cg);
	char *tok, *save = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!procs)
		return stk_err_sys(err, "processes of %s", c->spec.id);
	for (tok = strtok_r(procs, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save)) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = (pid_t)atoi(tok);
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

#define REMOVE_TIMEOUT_MS 7000

static int remove_not_yet(struct engine_container *c, const char *what, struct stk_err *err)
{
	if (now_ms() < c->remove_deadline)
		return 1;
	c->remove_deadline = 0;
	return stk_err_set(err, ETIMEDOUT, "remove %s: %s after %d s", c->spec.id, what,
			   REMOVE_TIMEOUT_MS / 1000);
}

int engine_remove(struct engine_container *c, struct stk_err *err)
{
	struct stk_err ignored;
	int rc = 0;

	if (c->start_sync >= 0 || c->start_pidfd >= 0)
		start_abort(c);
	if (!c->remove_deadline)
		c->remove_deadline = now_ms() + REMOVE_TIMEOUT_MS;
	if (c->cg) {
		/* Opened (another process started it): not ours to reap; its pidfd turns
		 * readable once PID 1 is gone. */
		if (c->opened && c->pidfd >= 0 && !wait_readable(c->pidfd, 0)) {
			engine_kill_all(c, &ignored);
			return remove_not_yet(c, "the container's PID 1 is still running", err);
		}
		if (!c->opened && c->pidfd >= 0 && !c->reaped) {
			struct engine_exit ex;

			engine_kill_all(c, &ignored);
			if (engine_try_wait(c, &ex, &ignored) == 1)
				return remove_not_yet(c, "the container's PID 1 is still running",
						      err);
		}
		/* Never started, or started and reaped: the kernel tears down the pid namespace
		 * with PID 1, so the cgroup empties by itself; a task just gone may keep it busy
		 * a moment longer. */
		rc = cgroup_destroy(c->cg, err);
		if (rc == 1) {
			cgroup_kill_all(c->cg, &ignored);
			return remove_not_yet(c, "its cgroup is still busy", err);
		}
		if (rc < 0)
			rc = stk_err_wrap(err, "remove %s", c->spec.id);
	}
	c->remove_deadline = 0;
	/* FTW_MOUNT: never descend into anything mounted under the state directory. */
	if (c->spec.state_dir &&
	    nftw(c->spec.state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 &&
	    errno != ENOENT && rc == 0)
		rc = stk_err_sys(err, "remove %s", c->spec.state_dir);
	return rc;
}

int engine_remove_blocking(struct engine_container *c, struct stk_err *err)
{
	return retry_blocking(c, engine_remove(c, err), engine_remove, err);
}

int engine_cleanup(const struct engine_spec *spec, struct stk_err *err)
{
	struct cgroup *cg;
	_cleanup_free_ char *pidfile = NULL, *pid = NULL;
	_cleanup_close_ int pidfd = -1;
	struct stk_err ignored;
	int rc = 0, tries;

	if (!spec->id || !*spec->id || !spec->state_dir)
		return stk_err_set(err, EINVAL, "container id and state directory are required");
	cg = cgroup_of(spec);
	pidfile = xasprintf("%s/pid", spec->state_dir);
	pid = str_read_file(pidfile, NULL);
	if (pid && atoi(pid) > 0)
		pidfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
	cgroup_kill_all(cg, &ignored);
	/* PID 1 gone means its pid namespace is torn down: the cgroup empties. */
	if (pidfd >= 0)
		wait_readable(pidfd, 5000);
	/* A task that just died may hold the leaf a moment longer: try for up to 2 s. */
	for (tries = 0; (rc = cgroup_destroy(cg, err)) == 1 && tries < 2000 / ENGINE_RETRY_MS;
	     tries++) {
		cgroup_kill_all(cg, &ignored);
		usleep(ENGINE_RETRY_MS * 1000);
	}
	if (rc == 1)
		rc = stk_err_set(err, EBUSY, "cgroup of %s still busy", spec->id);
	if (rc < 0)
		rc = stk_err_wrap(err, "remove %s", spec->id);
	cgroup_free(cg);
	if (nftw(spec->state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 &&
	    errno != ENOENT && rc == 0)
		rc = stk_err_sys(err, "remove %s", spec->state_dir);
	return rc;
}

void engine_container_free(struct engine_container *c)
{
	size_t i;

	if (!c)
		return;
	if (c->start_sync >= 0 || c->start_pidfd >= 0)
		start_abort(c);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->pty_master >= 0)
		close(c->pty_master);
	cgroup_free(c->cg);
	for (i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->rlimits);
	seccomp_prog_release(&c->seccomp);
	dev_list_release(&c->host_devs);
	dev_list_release(&c->spec_devs);
	free(c->dev_rules);
	engine_spec_release(&c->spec);
	free(c);
}

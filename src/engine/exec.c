/* Exec: another process inside a running container. The new process is cloned into
 * the container's PID namespace (we set our pid_for_children from the pidfd for the
 * clone and restore it at once), joins the container's cgroups itself (cgroup.h says
 * why), then the other namespaces with one setns on the pidfd, and finishes like PID 1
 * did, with PID 1's capabilities and seccomp filter (from the exec record when another
 * process started the container): user, capabilities, no_new_privs, seccomp, execve. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

/* What the exec'd process gets, made before the clone (the child allocates nothing):
 * the user is read from the running container's root, and with it HOME. */
struct exec_plan {
	struct child_user user;
	char **env;
	size_t home_slot;
	int rootfd; /* the container's root, as PID 1 sees it */
	struct cgroup_join join;
	uint64_t caps;
	const struct seccomp_prog *seccomp;
};

static const struct seccomp_prog no_filter = {0};

/* The filter of a container another process started without an exec record (an older
 * stack's): compiled from the spec it was opened with. */
static int exec_seccomp(struct engine_container *c, struct stk_err *err)
{
	if (!c->opened || c->seccomp_ready)
		return 0;
	if (seccomp_prepare(&c->spec, c->caps, &c->seccomp, err) < 0)
		return -1;
	c->seccomp_ready = true;
	return 0;
}

/* Docker's exec --privileged: every capability we hold, no seccomp filter. */
static int exec_security(struct engine_container *c, const struct engine_exec_spec *e,
			 struct exec_plan *out, struct stk_err *err)
{
	struct engine_spec all = {.privileged = true};

	if (e->privileged) {
		out->seccomp = &no_filter;
		return caps_compute(&all, &out->caps, err);
	}
	out->caps = c->caps;
	out->seccomp = &c->seccomp;
	return exec_seccomp(c, err);
}

/* setns(CLONE_NEWNS) puts us at the root of the namespace's first mount, which is the
 * container's root only when the host's root is a mount of its own: in a chroot (stack
 * run inside one) it is the host's real root. PID 1's root is always the right one. */
static int open_proc_root(pid_t pid, struct stk_err *err)
{
	char path[32];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/root", (int)pid);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return stk_err_sys(err, "open %s", path);
	return fd;
}

static int exec_plan_build(struct engine_container *c, const struct engine_exec_spec *e,
			   struct exec_plan *out, struct stk_err *err)
{
	const char *user = e->user ? e->user : c->spec.user;

	out->env = NULL;
	if (exec_security(c, e, out, err) < 0)
		return -1;
	out->rootfd = open_proc_root(c->pid, err);
	if (out->rootfd < 0)
		return -1;
	if (user_lookup_in_root(c->pid, user, c->spec.group_add, &out->user, err) < 0)
		return stk_err_wrap(err, "%s", child_step_name(STEP_USER));
	out->env = plan_env(e->env ? e->env : c->spec.env, NULL, e->tty, out->user.home,
			    &out->home_slot);
	return cgroup_join_open(c->cg, &out->join, err);
}

static void exec_plan_freep(struct exec_plan **p)
{
	size_t i;

	if (!*p)
		return;
	if ((*p)->rootfd >= 0)
		close((*p)->rootfd);
	cgroup_join_close(&(*p)->join);
	for (i = 0; (*p)->env && (*p)->env[i]; i++)
		free((*p)->env[i]);
	free((*p)->env);
	free(*p);
}

static void __attribute__((noreturn))
exec_child(struct engine_container *c, const struct engine_exec_spec *e,
	   const struct exec_plan *plan, int sync)
{
	struct process_args p = {0};
	struct stk_err err;
	struct sync_msg m;

	child_reset_signals();
	if (sync_recv(sync, &m, NULL) != 1 || m.type != SYNC_GO) {
		stk_err_set(&err, EPIPE, "parent went away");
		child_fail(sync, STEP_SYNC, &err);
	}
	if (cgroup_join_self(&plan->join, &err) < 0)
		child_fail(sync, STEP_CGROUP, &err);
	/* The network namespace too, whichever it is: the one PID 1 joined (spec.netns) may
	 * have been given by a path that no longer exists, such as the supervisor's fd. */
	if (setns(c->pidfd,
		  CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET) < 0) {
		stk_err_sys(&err, "setns");
		child_fail(sync, STEP_NAMESPACES, &err);
	}
	if (fchdir(plan->rootfd) < 0 || chroot(".") < 0) {
		stk_err_sys(&err, "enter the container's root");
		child_fail(sync, STEP_NAMESPACES, &err);
	}
	p.argv = e->argv;
	p.env = plan->env;
	p.home_slot = plan->home_slot;
	p.user = &plan->user;
	p.workdir = e->workdir ? e->workdir : c->spec.workdir;
	p.tty = e->tty;
	p.tty_rows = e->tty_rows;
	p.tty_cols = e->tty_cols;
	p.stdio = e->stdio;
	p.rlimits = c->rlimits;
	p.nrlimits = c->nrlimits;
	p.caps = plan->caps;
	p.seccomp = plan->seccomp;
	process_exec(&c->spec, &p, sync);
}

static pid_t clone_in_pidns(struct engine_container *c, int *pidfd, struct stk_err *err)
{
	_cleanup_close_ int self = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
	pid_t pid;
	int saved;

	if (self < 0)
		return stk_err_sys(err, "open own pid namespace");
	if (setns(c->pidfd, CLONE_NEWPID) < 0)
		return stk_err_sys(err, "enter pid namespace");
	pid = ns_clone(0, c->cg->version == 2 ? c->cg->dirfd : -1, pidfd);
	if (pid == 0)
		return 0;
	saved = errno;
	if (setns(self, CLONE_NEWPID) < 0)
		abort(); /* later children would land in the container: never go on like that */
	errno = saved;
	if (pid < 0)
		return stk_err_sys(err, "clone3");
	return pid;
}

int engine_exec(struct engine_container *c, const struct engine_exec_spec *e,
		struct engine_process *out, struct stk_err *err)
{
	_cleanup_(exec_plan_freep) struct exec_plan *plan = NULL;
	struct sync_msg go = {.type = SYNC_GO};
	int sv[2], pidfd = -1;
	pid_t pid;

	out->pid = -1;
	out->pidfd = -1;
	out->pty_master = -1;
	if (c->pidfd < 0 || c->reaped)
		return stk_err_set(err, ESRCH, "container %s is not running", c->spec.id);
	if (!e->argv || !e->argv[0])
		return stk_err_set(err, EINVAL, "exec: no command given");
	plan = xcalloc(1, sizeof(*plan));
	plan->rootfd = -1;
	if (exec_plan_build(c, e, plan, err) < 0)
		return stk_err_wrap(err, "exec in %s", c->spec.id);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return stk_err_sys(err, "exec: socketpair");
	pid = clone_in_pidns(c, &pidfd, err);
	if (pid == 0) {
		close(sv[0]);
		exec_child(c, e, plan, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return stk_err_wrap(err, "exec in %s", c->spec.id);
	}
	cgroup_join_close(&plan->join);
	if ((sync_send(sv[0], &go, -1) < 0 && stk_err_sys(err, "signal the exec process")) ||
	    ns_wait_exec(sv[0], &out->pty_master, NULL, err) < 0) {
		siginfo_t si;

		close(sv[0]);
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED);
		close(pidfd);
		if (out->pty_master >= 0)
			close(out->pty_master);
		out->pty_master = -1;
		return stk_err_wrap(err, "exec in %s", c->spec.id);
	}
	close(sv[0]);
	out->pid = pid;
	out->pidfd = pidfd;
	return 0;
}

int engine_process_try_wait(struct engine_process *p, struct engine_exit *out, struct stk_err *err)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	memset(out, 0, sizeof(*out));
	if (waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG) < 0)
		return stk_err_sys(err, "wait for exec process");
	if (si.si_pid == 0)
		return 1;
	if (si.si_code == CLD_EXITED) {
		out->code = si.si_status;
	} else {
		out->signal = si.si_status;
		out->code = 128 + si.si_status;
	}
	return 0;
}

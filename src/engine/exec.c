/* Exec: another process inside a running container. The new process is cloned into
 * the container's PID namespace (we set our pid_for_children from the pidfd for the
 * clone and restore it at once), placed in the container's cgroup, then joins the
 * other namespaces with one setns on the pidfd and finishes like PID 1 did: user,
 * capabilities, no_new_privs, seccomp, execve. */
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

static void __attribute__((noreturn)) exec_child(struct engine_container *c,
						  const struct engine_exec_spec *e, int sync)
{
	struct process_args p = {0};
	struct stk_err err;
	struct sync_msg m;

	child_reset_signals();
	if (sync_recv(sync, &m, NULL) != 1 || m.type != SYNC_GO) {
		stk_err_set(&err, EPIPE, "parent went away");
		child_fail(sync, STEP_SYNC, &err);
	}
	/* The network namespace too, whichever it is: the one PID 1 joined (spec.netns) may
	 * have been given by a path that no longer exists, such as the supervisor's fd. */
	if (setns(c->pidfd, CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP |
				    CLONE_NEWNET) < 0) {
		stk_err_sys(&err, "setns");
		child_fail(sync, STEP_NAMESPACES, &err);
	}
	p.argv = e->argv;
	p.env = e->env ? e->env : c->spec.env;
	p.workdir = e->workdir ? e->workdir : c->spec.workdir;
	p.user = e->user ? e->user : c->spec.user;
	p.tty = e->tty;
	p.stdio = e->stdio;
	p.rlimits = c->rlimits;
	p.nrlimits = c->nrlimits;
	p.caps = c->caps;
	p.seccomp = &c->seccomp;
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
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return stk_err_sys(err, "exec: socketpair");
	pid = clone_in_pidns(c, &pidfd, err);
	if (pid == 0) {
		close(sv[0]);
		exec_child(c, e, sv[1]);
	}
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return stk_err_wrap(err, "exec in %s", c->spec.id);
	}
	if ((c->cg->version == 1 && cgroup_enter(c->cg, pid, err) < 0) ||
	    (sync_send(sv[0], &go, -1) < 0 && stk_err_sys(err, "signal the exec process")) ||
	    ns_wait_exec(sv[0], &out->pty_master, err) < 0) {
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

int engine_process_try_wait(struct engine_process *p, struct engine_exit *out,
			    struct stk_err *err)
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

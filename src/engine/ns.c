/* Namespaces and the parent/child handshake: clone3 into new namespaces, and the
 * SOCK_SEQPACKET messages by which the child reports a pty or a failed step. */
#include "engine/internal.h"

#include <errno.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

static const char *const step_names[] = {
	[STEP_SYNC] = "sync with parent",
	[STEP_CGROUPNS] = "cgroup namespace",
	[STEP_ROOTFS] = "mount rootfs",
	[STEP_MOUNT] = "mount",
	[STEP_DEV] = "set up /dev",
	[STEP_PIVOT] = "pivot_root",
	[STEP_PATHS] = "masked and read-only paths",
	[STEP_HOSTNAME] = "set hostname",
	[STEP_NETWORK] = "set up loopback",
	[STEP_SYSCTL] = "set sysctl",
	[STEP_RLIMIT] = "set rlimit",
	[STEP_OOM] = "set oom_score_adj",
	[STEP_TTY] = "set up tty",
	[STEP_STDIO] = "set up stdio",
	[STEP_USER] = "set user",
	[STEP_CWD] = "set working directory",
	[STEP_CAPS] = "set capabilities",
	[STEP_SECCOMP] = "load seccomp profile",
	[STEP_NAMESPACES] = "join namespaces",
	[STEP_EXEC] = "exec",
	[STEP_CGROUP] = "join cgroup",
};

const char *child_step_name(int step)
{
	if (step <= 0 || step >= (int)(sizeof(step_names) / sizeof(step_names[0])))
		return "setup";
	return step_names[step];
}

int sync_send(int fd, const struct sync_msg *m, int passfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (passfd >= 0) {
		struct cmsghdr *cm;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &passfd, sizeof(int));
	}
	while (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int sync_recv(int fd, struct sync_msg *m, int *passfd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm;
	ssize_t n;

	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(*m)) {
		errno = EPROTO;
		return -1;
	}
	m->msg[sizeof(m->msg) - 1] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS && passfd)
			memcpy(passfd, CMSG_DATA(cm), sizeof(int));
	return 1;
}

void child_fail(int sync, int step, const struct stk_err *err)
{
	struct sync_msg m = {.type = SYNC_ERROR, .step = step, .errnum = err->errnum};

	size_t len = strnlen(err->msg, sizeof(m.msg) - 1);

	memcpy(m.msg, err->msg, len);
	m.msg[len] = '\0';
	sync_send(sync, &m, -1);
	_exit(127);
}

pid_t ns_clone(unsigned long flags, int cgroup_fd, int *pidfd)
{
	struct clone_args args;

	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = SIGCHLD;
	if (cgroup_fd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)cgroup_fd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

static int answer_user(int sync, const struct user_request *req, struct stk_err *err)
{
	struct sync_msg m = {.type = SYNC_USER};

	if (!req)
		return stk_err_set(err, EPROTO, "unexpected request for the user");
	if (user_lookup_in_root(req->pid, req->user, req->group_add, &m.user, err) < 0)
		return stk_err_wrap(err, "%s", child_step_name(STEP_USER));
	if (sync_send(sync, &m, -1) < 0)
		return stk_err_sys(err, "send the user to the container process");
	return 0;
}

/* The child reports a pty master, asks for its user once mounted (start), and then
 * either fails or, by the close-on-exec of its end of the pair, has exec'd. */
int ns_wait_exec(int sync, int *pty_master, const struct user_request *user, struct stk_err *err)
{
	for (;;) {
		struct sync_msg m;
		int fd = -1;
		int rc = sync_recv(sync, &m, &fd);

		if (rc < 0)
			return stk_err_sys(err, "read from container process");
		if (rc == 0)
			return 0;
		if (m.type == SYNC_PTY && fd >= 0) {
			if (pty_master)
				*pty_master = fd;
			else
				close(fd);
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (m.type == SYNC_MOUNTED) {
			if (answer_user(sync, user, err) < 0)
				return -1;
			continue;
		}
		/* exec's message names the program already; others get their step. */
		if (m.type == SYNC_ERROR && m.step == STEP_EXEC)
			return stk_err_set(err, m.errnum, "%s", m.msg);
		if (m.type == SYNC_ERROR)
			return stk_err_set(err, m.errnum, "%s: %s", child_step_name(m.step), m.msg);
	}
}

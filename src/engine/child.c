/* The container's first process, between clone3 and execve: wait for the parent to
 * place it in its cgroup, build the mount namespace (rootfs, /proc, /sys, /dev, the
 * user's mounts, /etc files), pivot_root, then the per-namespace settings, and hand
 * over to process_exec. Every failure goes back to the parent as step + errno. Nothing
 * here allocates: every string comes from the parent's plan (plan.c) or a fixed buffer. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"

static int wait_go(int sync, struct stk_err *err)
{
	struct sync_msg m;
	int rc = sync_recv(sync, &m, NULL);

	if (rc < 0)
		return stk_err_sys(err, "wait for parent");
	if (rc == 0 || m.type != SYNC_GO)
		return stk_err_set(err, EPIPE, "parent went away");
	return 0;
}

static int loopback_up(struct stk_err *err)
{
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	if (fd < 0)
		return stk_err_sys(err, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return stk_err_sys(err, "get lo flags");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return stk_err_sys(err, "bring lo up");
	return 0;
}

static int join_netns(const char *path, struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
		return stk_err_sys(err, "join network namespace %s", path);
	return 0;
}

/* The paths were made by the parent (plan.c), one per sysctl. */
static int set_sysctls(const struct engine_spec *s, const struct child_plan *plan,
		       struct stk_err *err)
{
	size_t i;

	for (i = 0; i < s->nsysctls; i++) {
		_cleanup_close_ int fd = open(plan->sysctl_paths[i], O_WRONLY | O_CLOEXEC);
		size_t len = strlen(s->sysctls[i].value);

		if (fd < 0 || write(fd, s->sysctls[i].value, len) != (ssize_t)len)
			return stk_err_sys(err, "%s=%s", s->sysctls[i].key, s->sysctls[i].value);
	}
	return 0;
}

static int set_oom_score_adj(const struct engine_spec *s, struct stk_err *err)
{
	_cleanup_close_ int fd = -1;
	char buf[16];
	int len;

	if (!s->set_oom_score_adj)
		return 0;
	fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	len = snprintf(buf, sizeof(buf), "%d", s->oom_score_adj);
	if (fd < 0 || write(fd, buf, (size_t)len) != len)
		return stk_err_sys(err, "oom_score_adj %d", s->oom_score_adj);
	return 0;
}

static void build_mounts(const struct child_args *a, int sync)
{
	const struct engine_spec *s = &a->c->spec;
	const char *root = a->plan->root;
	_cleanup_close_ int rootfd = -1;
	struct stk_err err;

	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		stk_err_sys(&err, "make / a slave mount");
		child_fail(sync, STEP_ROOTFS, &err);
	}
	if (rootfs_mount(s, a->plan, &err) < 0)
		child_fail(sync, STEP_ROOTFS, &err);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		stk_err_sys(&err, "open %s", root);
		child_fail(sync, STEP_ROOTFS, &err);
	}
	if (rootfs_mount_sys(rootfd, s, a->plan, a->cgroup_version, &err) < 0)
		child_fail(sync, STEP_MOUNT, &err);
	if (dev_setup(rootfd, s, &a->c->host_devs, &a->c->spec_devs, &err) < 0)
		child_fail(sync, STEP_DEV, &err);
	if (mount_user_mounts(rootfd, s, &err) < 0 || mount_etc_files(rootfd, s, a->plan, &err) < 0)
		child_fail(sync, STEP_MOUNT, &err);
	if (s->init && mount_init(rootfd, s->init_path, &err) < 0)
		child_fail(sync, STEP_MOUNT, &err);
	if (rootfs_pivot(root, &err) < 0)
		child_fail(sync, STEP_PIVOT, &err);
}

/* The program starts with a clean slate: no blocked or ignored signal of ours. */
void child_reset_signals(void)
{
	sigset_t none;
	int sig;

	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

void child_main(struct child_args *a)
{
	const struct engine_spec *s = &a->c->spec;
	const struct child_plan *plan = a->plan;
	struct process_args p = {0};
	struct stk_err err;
	int sync = a->sync;

	child_reset_signals();
	if (wait_go(sync, &err) < 0)
		child_fail(sync, STEP_SYNC, &err);
	if (cgroup_join_self(a->join, &err) < 0)
		child_fail(sync, STEP_CGROUP, &err);
	/* v1 has no CLONE_INTO_CGROUP: the namespace is made now that we are in place, so
	 * that its root is the container's cgroup. */
	if (a->cgroup_version == 1 && unshare(CLONE_NEWCGROUP) < 0) {
		stk_err_sys(&err, "unshare");
		child_fail(sync, STEP_CGROUPNS, &err);
	}
	if (s->netns && join_netns(s->netns, &err) < 0)
		child_fail(sync, STEP_NETWORK, &err);
	build_mounts(a, sync);
	if (sethostname(s->hostname, strlen(s->hostname)) < 0 ||
	    (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)) {
		stk_err_sys(&err, "%s", s->hostname);
		child_fail(sync, STEP_HOSTNAME, &err);
	}
	if (!s->netns && loopback_up(&err) < 0)
		child_fail(sync, STEP_NETWORK, &err);
	if (set_sysctls(s, plan, &err) < 0)
		child_fail(sync, STEP_SYSCTL, &err);
	if (set_oom_score_adj(s, &err) < 0)
		child_fail(sync, STEP_OOM, &err);
	if (rootfs_mask_paths(s, &err) < 0 || rootfs_finish(s, &err) < 0)
		child_fail(sync, STEP_PATHS, &err);

	p.argv = plan->argv;
	p.env = plan->env;
	p.home_slot = plan->home_slot;
	p.user = plan->user;
	p.workdir = s->workdir;
	p.tty = s->tty;
	p.tty_rows = s->tty_rows;
	p.tty_cols = s->tty_cols;
	p.main = true;
	p.stdio = s->stdio;
	p.rlimits = a->c->rlimits;
	p.nrlimits = a->c->nrlimits;
	p.caps = a->c->caps;
	p.seccomp = &a->c->seccomp;
	process_exec(s, &p, sync);
}

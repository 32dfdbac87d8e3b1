/* seccomp: a profile equivalent to Docker's default (an allowlist with EPERM for the
 * rest, argument filters for personality, clone and socket, rules that depend on the
 * container's capabilities, and the x86, x32 and x86_64 ABIs all covered), or
 * "unconfined", or a Docker-format JSON file (seccomp_json.c). Built with libseccomp. */
#include "engine/internal.h"
#include "engine/seccomp.h"

#include <errno.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/str.h"

static const char *const allowed[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "arch_prctl", "bind", "brk",
	"cachestat", "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime",
	"clock_adjtime64", "clock_getres", "clock_getres_time64", "clock_gettime",
	"clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range",
	"connect", "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create",
	"epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2",
	"epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit",
	"exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
	"fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32",
	"fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork",
	"fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64",
	"fsync", "ftruncate", "ftruncate64", "futex", "futex_requeue", "futex_time64",
	"futex_wait", "futex_waitv", "futex_wake", "futimesat", "getcpu", "getcwd", "getdents",
	"getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32",
	"getgroups", "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid",
	"getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
	"getresuid32", "getrlimit", "get_robust_list", "getrusage", "getsid", "getsockname",
	"getsockopt", "get_thread_area", "gettid", "gettimeofday", "getuid", "getuid32",
	"getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
	"io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc",
	"kcmp", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
	"lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
	"_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise",
	"map_shadow_stack", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir",
	"mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
	"modify_ldt", "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
	"msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
	"nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2", "pause",
	"pidfd_getfd", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc",
	"pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
	"preadv", "preadv2", "prlimit64", "process_madvise", "process_mrelease",
	"process_vm_readv", "process_vm_writev", "pselect6", "pselect6_time64", "ptrace",
	"pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink", "readlinkat", "readv",
	"recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg", "remap_file_pages",
	"removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir", "rseq",
	"rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
	"rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
	"sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
	"sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
	"sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
	"sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
	"semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg",
	"sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid",
	"setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority",
	"setregid", "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32",
	"setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid", "setsockopt",
	"set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr", "shmat",
	"shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4",
	"sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat", "stat64",
	"statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
	"syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid",
	"write", "writev",
};

/* Syscalls a capability unlocks, as in Docker's profile. */
static const struct {
	int cap;
	const char *names[24];
} by_cap[] = {
	{CAP_SYS_ADMIN, {"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
			 "fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr",
			 "move_mount", "name_to_handle_at", "open_tree", "perf_event_open",
			 "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
			 "syslog", "umount", "umount2", "unshare"}},
	{CAP_SYS_BOOT, {"reboot"}},
	{CAP_SYS_CHROOT, {"chroot"}},
	{CAP_SYS_MODULE, {"delete_module", "init_module", "finit_module"}},
	{CAP_SYS_PACCT, {"acct"}},
	{CAP_SYS_RAWIO, {"iopl", "ioperm"}},
	{CAP_SYS_TIME, {"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{CAP_SYS_TTY_CONFIG, {"vhangup"}},
	{CAP_SYS_NICE, {"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
	{CAP_SYSLOG, {"syslog"}},
	{CAP_BPF, {"bpf"}},
	{CAP_PERFMON, {"perf_event_open"}},
};

/* personality(2) values Docker lets through: PER_LINUX, PER_LINUX32, UNAME26 forms,
 * and the query. */
static const unsigned long personalities[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

#define CLONE_NS_FLAGS                                                                    \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |         \
	 CLONE_NEWNET | CLONE_NEWCGROUP)
#define AF_VSOCK_NUM 40

int seccomp_add(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned nargs,
		const struct scmp_arg_cmp *args, struct stk_err *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int rc;

	/* A name unknown to this libseccomp, or absent on every ABI: nothing to allow. */
	if (nr == __NR_SCMP_ERROR)
		return 0;
	rc = seccomp_rule_add_array(ctx, action, nr, nargs, args);
	if (rc < 0 && rc != -EDOM && rc != -EOPNOTSUPP && rc != -EEXIST)
		return stk_err_set(err, -rc, "seccomp rule for %s: %s", name, strerror(-rc));
	return 0;
}

int seccomp_add_arches(scmp_filter_ctx ctx, struct stk_err *err)
{
	const uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
	size_t i;

	if (seccomp_arch_native() != SCMP_ARCH_X86_64)
		return 0;
	for (i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		int rc = seccomp_arch_add(ctx, arches[i]);

		if (rc < 0 && rc != -EEXIST)
			return stk_err_set(err, -rc, "seccomp: add arch: %s", strerror(-rc));
	}
	return 0;
}

static int default_profile(scmp_filter_ctx ctx, const struct engine_spec *s, struct stk_err *err)
{
	const uint32_t allow = SCMP_ACT_ALLOW;
	bool sys_admin = caps_has(s, CAP_SYS_ADMIN);
	size_t i, j;

	if (seccomp_add_arches(ctx, err) < 0)
		return -1;
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (seccomp_add(ctx, allowed[i], allow, 0, NULL, err) < 0)
			return -1;
	for (i = 0; i < sizeof(personalities) / sizeof(personalities[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_EQ, personalities[i]);

		if (seccomp_add(ctx, "personality", allow, 1, &a, err) < 0)
			return -1;
	}
	{
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_NE, AF_VSOCK_NUM);

		if (seccomp_add(ctx, "socket", allow, 1, &a, err) < 0)
			return -1;
	}
	for (i = 0; i < sizeof(by_cap) / sizeof(by_cap[0]); i++) {
		if (!caps_has(s, by_cap[i].cap))
			continue;
		for (j = 0; j < 24 && by_cap[i].names[j]; j++)
			if (seccomp_add(ctx, by_cap[i].names[j], allow, 0, NULL, err) < 0)
				return -1;
	}
	if (!sys_admin) {
		/* clone without namespace flags; clone3 cannot be filtered by its flags, so it
		 * answers ENOSYS and libcs fall back to clone. */
		struct scmp_arg_cmp a = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_NS_FLAGS, 0);

		if (seccomp_add(ctx, "clone", allow, 1, &a, err) < 0 ||
		    seccomp_add(ctx, "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static bool names_a_profile(const struct engine_spec *s)
{
	return !s->privileged && s->seccomp && *s->seccomp && strcmp(s->seccomp, "unconfined") != 0;
}

int seccomp_read_profile(const struct engine_spec *s, char **text, struct stk_err *err)
{
	_cleanup_fclose_ FILE *f = NULL;
	scmp_filter_ctx ctx = NULL;
	struct strbuf sb;
	char buf[8192];
	size_t n;

	*text = NULL;
	if (!names_a_profile(s))
		return 0;
	f = fopen(s->seccomp, "re");
	if (!f)
		return stk_err_sys(err, "open seccomp profile %s", s->seccomp);
	strbuf_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_addn(&sb, buf, n);
	*text = sb.buf ? strbuf_take(&sb) : xstrdup("");
	/* Parse it now, so that a broken profile fails create, not the child. */
	if (seccomp_json_parse(*text, s, &ctx, err) < 0) {
		free(*text);
		*text = NULL;
		return stk_err_wrap(err, "seccomp profile %s", s->seccomp);
	}
	seccomp_release(ctx);
	return 0;
}

int seccomp_apply(const struct engine_spec *s, const char *profile, struct stk_err *err)
{
	scmp_filter_ctx ctx = NULL;
	int rc;

	if (s->privileged || (s->seccomp && strcmp(s->seccomp, "unconfined") == 0))
		return 0;
	if (names_a_profile(s)) {
		if (!profile)
			return stk_err_set(err, EINVAL, "seccomp profile %s was not read", s->seccomp);
		if (seccomp_json_parse(profile, s, &ctx, err) < 0)
			return stk_err_wrap(err, "seccomp profile %s", s->seccomp);
	} else {
		ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
		if (!ctx)
			return stk_err_set(err, ENOMEM, "seccomp_init");
		if (default_profile(ctx, s, err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	/* no_new_privs is ours to decide (security_opt), not libseccomp's. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc < 0)
		return stk_err_set(err, -rc, "load seccomp filter: %s", strerror(-rc));
	return 0;
}

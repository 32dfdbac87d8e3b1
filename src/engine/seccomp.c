/* seccomp: a profile equivalent to Docker's default (an allowlist with EPERM for the
 * rest, argument filters for personality, clone and socket, rules that depend on the
 * container's capabilities, and the x86, x32 and x86_64 ABIs all covered), or
 * "unconfined", or a Docker-format JSON file (seccomp_json.c). Built with libseccomp in
 * the parent, before the clone, and kept as classic BPF: in memory for a long-lived
 * process (keyed by the inputs themselves) and on disk under the state root (in a file
 * named by everything the filter depends on, see cache_key). The child only hands the
 * instructions to seccomp(2). */
#include "engine/internal.h"
#include "engine/seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "src/engine/seccomp_id.h" /* generated: STK_SECCOMP_SOURCE_ID (local.mk) */
#include "util/cleanup.h"
#include "util/lazy_crypto.h"
#include "util/fs.h"
#include "util/str.h"

/* Packed, as Docker's profile lists them, not one a line. */
/* clang-format off */
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
/* clang-format on */

/* Syscalls a capability unlocks, as in Docker's profile. */
static const struct {
	int cap;
	const char *names[24];
} by_cap[] = {
	{CAP_SYS_ADMIN,
	 {"bpf",
	  "clone",
	  "clone3",
	  "fanotify_init",
	  "fsconfig",
	  "fsmount",
	  "fsopen",
	  "fspick",
	  "lookup_dcookie",
	  "mount",
	  "mount_setattr",
	  "move_mount",
	  "name_to_handle_at",
	  "open_tree",
	  "perf_event_open",
	  "quotactl",
	  "quotactl_fd",
	  "setdomainname",
	  "sethostname",
	  "setns",
	  "syslog",
	  "umount",
	  "umount2",
	  "unshare"}},
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

#define CLONE_NS_FLAGS \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | \
	 CLONE_NEWCGROUP)
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

static int default_profile(scmp_filter_ctx ctx, uint64_t caps, struct stk_err *err)
{
	const uint32_t allow = SCMP_ACT_ALLOW;
	bool sys_admin = (caps >> CAP_SYS_ADMIN) & 1;
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
		if (!((caps >> by_cap[i].cap) & 1))
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

static char *read_profile(const char *path, struct stk_err *err)
{
	char *text = str_read_file(path, NULL);

	if (!text)
		stk_err_sys(err, "open seccomp profile %s", path);
	return text;
}

/* Everything the compiled filter depends on besides the profile's text: libseccomp's
 * version and the kernel API level it detected, the native arch, the capability set,
 * and the code that builds it (this file with its tables, and seccomp_json.c), named
 * at build time by STK_SECCOMP_SOURCE_ID, so the built-in profile's key takes no
 * digest at run time. A file profile adds the SHA-256 of its text (libcrypto). */
struct cache_key {
	char tag[16];
	char source[24];
	char profile[72]; /* "default", or "file-" and the SHA-256 of the text in hex */
	uint32_t major, minor, micro, api, arch, pad;
	uint64_t caps;
};

/* A cache file: this header, then the instructions. */
struct cache_header {
	struct cache_key key;
	uint64_t len; /* instructions */
};

static void cache_key(const char *profile, uint64_t caps, struct cache_key *k)
{
	const struct scmp_version *v = seccomp_version();

	memset(k, 0, sizeof(*k));
	snprintf(k->tag, sizeof(k->tag), "stack-seccomp-3"); /* 3: no SHA-256 of the BPF */
	snprintf(k->source, sizeof(k->source), "%s", STK_SECCOMP_SOURCE_ID);
	k->major = v->major;
	k->minor = v->minor;
	k->micro = v->micro;
	k->api = seccomp_api_get();
	k->arch = seccomp_arch_native();
	k->caps = caps;
	if (profile) {
		unsigned char md[SHA256_DIGEST_LENGTH];
		SHA256_CTX ctx;
		size_t i;

		SHA256_Init(&ctx);
		SHA256_Update(&ctx, profile, strlen(profile));
		SHA256_Final(md, &ctx);
		memcpy(k->profile, "file-", 5);
		for (i = 0; i < sizeof(md); i++)
			snprintf(k->profile + 5 + 2 * i, 3, "%02x", md[i]);
	} else {
		snprintf(k->profile, sizeof(k->profile), "default");
	}
}

/* A long-lived caller (the supervisor) compiles each distinct filter once. The key is
 * the inputs themselves (the caps, and the profile's text or NULL for the default), so
 * a hit costs a comparison and no digest. */
#define MEM_CACHE_SLOTS 8
static struct {
	uint64_t caps;
	char *profile;
	struct seccomp_prog prog;
} mem_cache[MEM_CACHE_SLOTS];
static unsigned mem_cache_next;

static void prog_copy(struct seccomp_prog *dst, const struct sock_filter *insns, size_t len)
{
	dst->len = len;
	dst->insns = xmalloc(len * sizeof(*insns));
	memcpy(dst->insns, insns, len * sizeof(*insns));
}

static bool mem_cache_get(const char *profile, uint64_t caps, struct seccomp_prog *out)
{
	size_t i;

	for (i = 0; i < MEM_CACHE_SLOTS; i++)
		if (mem_cache[i].prog.len && mem_cache[i].caps == caps &&
		    (profile ? mem_cache[i].profile && !strcmp(mem_cache[i].profile, profile)
			     : !mem_cache[i].profile)) {
			prog_copy(out, mem_cache[i].prog.insns, mem_cache[i].prog.len);
			return true;
		}
	return false;
}

static void mem_cache_put(const char *profile, uint64_t caps, const struct seccomp_prog *p)
{
	unsigned slot = mem_cache_next++ % MEM_CACHE_SLOTS;

	seccomp_prog_release(&mem_cache[slot].prog);
	free(mem_cache[slot].profile);
	mem_cache[slot].profile = profile ? xstrdup(profile) : NULL;
	mem_cache[slot].caps = caps;
	prog_copy(&mem_cache[slot].prog, p->insns, p->len);
}

void seccomp_cache_clear(void)
{
	size_t i;

	for (i = 0; i < MEM_CACHE_SLOTS; i++) {
		seccomp_prog_release(&mem_cache[i].prog);
		free(mem_cache[i].profile);
		mem_cache[i].profile = NULL;
	}
	mem_cache_next = 0;
}

/* The file is named by the key's fields, so a lookup is one open. */
static char *disk_path(const char *cache_dir, const struct cache_key *k, const char *suffix)
{
	return xasprintf("%s/seccomp/%s-%s-%u.%u.%u-api%u-%x-%016llx%s", cache_dir, k->profile,
			 k->source, k->major, k->minor, k->micro, k->api, k->arch,
			 (unsigned long long)k->caps, suffix);
}

/* The shape the kernel requires of a classic BPF program (it checks again when the
 * filter is installed, so a bad one fails the start, never runs it unconfined): jumps
 * land inside the program, and it ends in a return. */
static bool prog_well_formed(const struct sock_filter *insns, size_t len)
{
	size_t i;

	if (!len || len > BPF_MAXINSNS || BPF_CLASS(insns[len - 1].code) != BPF_RET)
		return false;
	for (i = 0; i < len; i++) {
		size_t left = len - i - 1;

		if (BPF_CLASS(insns[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(insns[i].code) == BPF_JA ? insns[i].k >= left
						    : insns[i].jt >= left || insns[i].jf >= left)
			return false;
	}
	return true;
}

/* A file is whole or absent (written aside, synced, renamed into place); what it holds
 * must repeat the key and its length must be the header's, else it is ignored. */
static bool disk_cache_get(const char *cache_dir, const struct cache_key *k,
			   struct seccomp_prog *out)
{
	_cleanup_free_ char *path = disk_path(cache_dir, k, ".bpf");
	_cleanup_free_ char *data = NULL;
	struct cache_header h;
	const struct sock_filter *insns;
	size_t n = 0;

	data = str_read_file(path, &n);
	if (!data || n < sizeof(h))
		return false;
	memcpy(&h, data, sizeof(h));
	if (memcmp(&h.key, k, sizeof(*k)) != 0 || h.len > BPF_MAXINSNS ||
	    n - sizeof(h) != h.len * sizeof(struct sock_filter))
		return false;
	insns = (const struct sock_filter *)(const void *)(data + sizeof(h));
	if (!prog_well_formed(insns, (size_t)h.len))
		return false;
	prog_copy(out, insns, (size_t)h.len);
	return true;
}

/* Best effort: a cache that cannot be written only costs the next start a compile. */
static void disk_cache_put(const char *cache_dir, const struct cache_key *k,
			   const struct seccomp_prog *p)
{
	_cleanup_free_ char *dir = xasprintf("%s/seccomp", cache_dir);
	_cleanup_free_ char *path = disk_path(cache_dir, k, ".bpf");
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct cache_header h = {.key = *k, .len = p->len};
	struct iovec iov[2] = {{&h, sizeof(h)}, {p->insns, p->len * sizeof(*p->insns)}};
	struct stk_err ignored;

	if (stk_mkdir_p(dir, 0700, &ignored) < 0)
		return;
	tmp = disk_path(cache_dir, k, "");
	{
		char *t = xasprintf("%s.tmp.%d", tmp, (int)getpid());

		free(tmp);
		tmp = t;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (writev(fd, iov, 2) != (ssize_t)(iov[0].iov_len + iov[1].iov_len) || fsync(fd) < 0 ||
	    rename(tmp, path) < 0)
		unlink(tmp);
}

/* libseccomp builds the filter; its BPF comes back through a memfd. */
static int compile(const struct engine_spec *s, const char *profile, uint64_t caps,
		   struct seccomp_prog *out, struct stk_err *err)
{
	scmp_filter_ctx ctx = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int rc;

	(void)s;
	if (profile) {
		if (seccomp_json_parse(profile, caps, &ctx, err) < 0)
			return -1;
	} else {
		ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
		if (!ctx)
			return stk_err_set(err, ENOMEM, "seccomp_init");
		if (default_profile(ctx, caps, err) < 0) {
			seccomp_release(ctx);
			return -1;
		}
	}
	/* no_new_privs is ours to decide (security_opt), not libseccomp's. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* A binary search over syscall numbers instead of a linear list: the kernel runs
	 * the filter for every syscall number when it is attached (to cache constant
	 * answers), and the container on every syscall. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	fd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0) {
		seccomp_release(ctx);
		return stk_err_sys(err, "memfd_create");
	}
	rc = seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (rc < 0)
		return stk_err_set(err, -rc, "compile seccomp filter: %s", strerror(-rc));
	if (fstat(fd, &st) < 0)
		return stk_err_sys(err, "compile seccomp filter");
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
	    st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return stk_err_set(err, E2BIG, "seccomp filter of %lld bytes",
				   (long long)st.st_size);
	out->len = (size_t)st.st_size / sizeof(struct sock_filter);
	out->insns = xmalloc((size_t)st.st_size);
	if (pread(fd, out->insns, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
		seccomp_prog_release(out);
		return stk_err_sys(err, "read compiled seccomp filter");
	}
	return 0;
}

int seccomp_prepare(const struct engine_spec *s, uint64_t caps, struct seccomp_prog *out,
		    struct stk_err *err)
{
	_cleanup_free_ char *profile = NULL;
	struct cache_key key;
	bool on_disk;

	out->insns = NULL;
	out->len = 0;
	if (s->privileged || (s->seccomp && strcmp(s->seccomp, "unconfined") == 0))
		return 0;
	if (names_a_profile(s)) {
		profile = read_profile(s->seccomp, err);
		if (!profile)
			return -1;
	}
	if (mem_cache_get(profile, caps, out))
		return 0;
	/* A file profile's disk key needs libcrypto: without it, compile every time. */
	on_disk = s->cache_dir &&
		  (!profile || stk_lazylib_load(&stk_lazy_crypto_lib, &(struct stk_err){0}) == 0);
	if (on_disk) {
		cache_key(profile, caps, &key);
		if (disk_cache_get(s->cache_dir, &key, out)) {
			mem_cache_put(profile, caps, out);
			return 0;
		}
	}
	if (compile(s, profile, caps, out, err) < 0)
		return profile ? stk_err_wrap(err, "seccomp profile %s", s->seccomp) : -1;
	mem_cache_put(profile, caps, out);
	if (on_disk)
		disk_cache_put(s->cache_dir, &key, out);
	return 0;
}

void seccomp_prog_release(struct seccomp_prog *p)
{
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}

/* In the child: one syscall, no allocation. As libseccomp's seccomp_load with our
 * attributes: no TSYNC, no logging flag, no_new_privs left alone. */
int seccomp_install(const struct seccomp_prog *p, struct stk_err *err)
{
	struct sock_fprog fp = {.len = (unsigned short)p->len, .filter = p->insns};

	if (!p->len)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fp) < 0)
		return stk_err_sys(err, "load seccomp filter");
	return 0;
}

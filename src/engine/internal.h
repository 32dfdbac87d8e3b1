/* Private to src/engine/: the container record, the parent/child sync protocol, and
 * the functions each file offers the others. */
#ifndef STK_ENGINE_INTERNAL_H
#define STK_ENGINE_INTERNAL_H

#include <limits.h>
#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/cgroup.h"
#include "engine/engine.h"

/* A seccomp filter as classic BPF, ready for seccomp(2). */
struct seccomp_prog {
	struct sock_filter *insns;
	size_t len;
};

/* Device nodes to create in a container's /dev, listed by the parent. */
struct dev_node {
	char path[128]; /* relative to /dev: "kvm", "input/event0" */
	mode_t mode; /* type and permission bits */
	dev_t rdev;
	uid_t uid;
	gid_t gid;
};
struct dev_list {
	struct dev_node *devs;
	size_t n;
};
struct engine_container {
	struct engine_spec spec; /* a deep copy, owned */
	struct cgroup *cg;
	pid_t pid;
	int pidfd;
	int pty_master;
	bool reaped;
	bool opened; /* by engine_open: not our child */
	struct engine_exit exit;
	struct engine_ulimit *rlimits;
	size_t nrlimits;
	uint64_t caps; /* the capability set, computed once in the parent */
	struct dev_list host_devs; /* privileged: the host's device nodes, listed at start */
	struct dev_list spec_devs; /* the spec's devices, resolved at create */
	struct cg_dev_rule *dev_rules; /* and the rules that allow them */
	size_t ndev_rules;
	struct seccomp_prog seccomp; /* compiled in the parent; empty = no filter */
	/* A pause or unpause under way (engine_pause_poll), and a remove (engine_remove):
	 * CLOCK_MONOTONIC milliseconds; 0 = none. */
	bool freeze_target;
	int64_t freeze_deadline, freeze_nudge;
	int64_t remove_deadline;
	char **warnings;
	size_t nwarnings;
};

void engine_warn(struct engine_container *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void engine_spec_copy(struct engine_spec *dst, const struct engine_spec *src);

/* Steps of the child's setup, reported with errno when one fails. */
enum child_step {
	STEP_SYNC = 1,
	STEP_CGROUPNS,
	STEP_ROOTFS,
	STEP_MOUNT,
	STEP_DEV,
	STEP_PIVOT,
	STEP_PATHS,
	STEP_HOSTNAME,
	STEP_NETWORK,
	STEP_SYSCTL,
	STEP_RLIMIT,
	STEP_OOM,
	STEP_TTY,
	STEP_STDIO,
	STEP_USER,
	STEP_CWD,
	STEP_CAPS,
	STEP_SECCOMP,
	STEP_NAMESPACES,
	STEP_EXEC,
};
const char *child_step_name(int step);

/* Who a container process runs as, in fixed storage: the parent resolves it from the
 * image's /etc/passwd and /etc/group and the child applies it without allocating. */
#define ENGINE_MAX_GROUPS 256
struct child_user {
	uid_t uid;
	gid_t gid;
	uint32_t ngroups;
	gid_t groups[ENGINE_MAX_GROUPS];
	char home[PATH_MAX];
};

/* Messages on the SOCK_SEQPACKET pair. EOF means execve succeeded. The child of a start
 * sends SYNC_MOUNTED once its rootfs is in place; the parent reads the user from it and
 * answers SYNC_USER. */
enum sync_type { SYNC_READY = 1, SYNC_GO, SYNC_PTY, SYNC_ERROR, SYNC_MOUNTED, SYNC_USER };
struct sync_msg {
	int type;
	int step;
	int errnum;
	char msg[1024];
	struct child_user user; /* SYNC_USER */
};
int sync_send(int fd, const struct sync_msg *m, int passfd);
/* Returns 1 on a message, 0 on EOF, -1 on error; *passfd gets an fd passed along. */
int sync_recv(int fd, struct sync_msg *m, int *passfd);
/* In the child: report a failure and _exit. */
void __attribute__((noreturn)) child_fail(int sync, int step, const struct stk_err *err);

/* clone3 with the given flags; returns pid (0 in the child), sets *pidfd. */
pid_t ns_clone(unsigned long flags, int cgroup_fd, int *pidfd);
/* Wait for the child's messages until exec (EOF); handles SYNC_PTY, and SYNC_MOUNTED by
 * resolving the user inside the child's root (user NULL: the child never asks). */
struct user_request {
	pid_t pid;
	const char *user;
	char *const *group_add;
};
int ns_wait_exec(int sync, int *pty_master, const struct user_request *user, struct stk_err *err);

/* plan.c: everything the child needs, made in the parent before clone3, so that the
 * child (which may not take malloc's lock: another thread may have held it when we
 * cloned) allocates nothing. The child reads its copy of it. */
struct cg_v1_mount {
	char name[64]; /* entry of /sys/fs/cgroup */
	char link[256]; /* a symlink's target ("cpu,cpuacct"), or "" for a hierarchy */
	char data[80]; /* mount options of a hierarchy */
};
struct child_plan {
	char root[PATH_MAX]; /* <state_dir>/rootfs */
	char hostname_file[PATH_MAX]; /* <state_dir>/hostname */
	char *overlay_opts; /* NULL for a single-directory rootfs */
	struct cg_v1_mount *cgv1; /* v1: the hierarchies to mount again */
	size_t ncgv1;
	char **sysctl_paths; /* /proc/sys/net/ipv4/ip_forward, one per spec sysctl */
	char **argv; /* with the init prefix */
	char **env; /* PATH, HOSTNAME, TERM added; HOME too when known */
	size_t home_slot; /* index of the HOME entry the child fills, or SIZE_MAX */
	const struct child_user *user; /* NULL: ask the parent once mounted */
};
/* overlay's mount options for the spec's layers, writable layer and work dir. */
char *plan_overlay_options(const struct engine_spec *s);
int plan_build_start(const struct engine_container *c, struct child_plan *out, struct stk_err *err);
/* The environment of a process: PATH, HOSTNAME (main only), TERM (tty) and HOME
 * (home NULL: leave a slot for the child) added when missing. */
char **plan_env(char *const *env, const char *hostname, bool tty, const char *home,
		size_t *home_slot);
void child_plan_release(struct child_plan *p);

/* What the child runs, and what it needs from the parent. */
struct child_args {
	const struct engine_container *c;
	const struct child_plan *plan;
	int sync;
	int cgroup_version;
};
void __attribute__((noreturn)) child_main(struct child_args *a);
void child_reset_signals(void);

/* rootfs.c */
int rootfs_prepare_files(const struct engine_spec *s, struct stk_err *err);
int rootfs_mount(const struct engine_spec *s, const struct child_plan *plan, struct stk_err *err);
int rootfs_mount_sys(int rootfd, const struct engine_spec *s, const struct child_plan *plan,
		     int cgroup_version, struct stk_err *err);
/* Parent: the v1 hierarchies of /sys/fs/cgroup a container sees. */
void rootfs_list_cgroup_v1(const struct engine_spec *s, struct cg_v1_mount **out, size_t *n);
int rootfs_pivot(const char *root, struct stk_err *err);
int rootfs_mask_paths(const struct engine_spec *s, struct stk_err *err);
int rootfs_finish(const struct engine_spec *s, struct stk_err *err);

/* mount.c: targets resolved inside the root, never following a symlink out of it. */
int mount_open_in_root(int rootfd, const char *path, bool dir, bool create, struct stk_err *err);
int mount_at(int rootfd, const char *target, bool dir, const char *src, const char *fstype,
	     unsigned long flags, const char *data, struct stk_err *err);
int mount_user_mounts(int rootfd, const struct engine_spec *s, struct stk_err *err);
int mount_etc_files(int rootfd, const struct engine_spec *s, const struct child_plan *plan,
		    struct stk_err *err);
/* Parent: make the missing host directories of volumes and create_host_path binds. */
int mount_prepare_sources(const struct engine_spec *s, struct stk_err *err);
/* init: true bind-mounts stack-init here (read-only) and runs it as PID 1, as Docker. */
#define ENGINE_INIT_PATH "/sbin/docker-init"
int mount_init(int rootfd, const char *init_path, struct stk_err *err);

/* dev.c */
/* Parent: the device nodes of the host's /dev (root) a privileged container gets. */
void dev_list_host(const char *root, struct dev_list *out);
void dev_list_release(struct dev_list *l);
/* Parent, at create: the spec's devices as nodes to make and cgroup rules to allow. */
int dev_resolve_spec(const struct engine_spec *s, struct dev_list *out, struct cg_dev_rule **rules,
		     size_t *nrules, struct stk_err *err);
int dev_setup(int rootfd, const struct engine_spec *s, const struct dev_list *host,
	      const struct dev_list *spec_devs, struct stk_err *err);
/* Open a new pty in the container's devpts; the slave becomes stdio. */
int dev_open_pty(int *master, int *slave, struct stk_err *err);

/* caps.c: the set is computed in the parent, applied in the child. */
int caps_compute(const struct engine_spec *s, uint64_t *set, struct stk_err *err);
int caps_drop_bounding(uint64_t set, struct stk_err *err);
int caps_apply(uint64_t set, struct stk_err *err);

/* seccomp.c */
/* Parent: the filter the spec asks for (default profile, a JSON profile file, none),
 * from the memory or disk cache or compiled; out->len 0 when there is none. */
int seccomp_prepare(const struct engine_spec *s, uint64_t caps, struct seccomp_prog *out,
		    struct stk_err *err);
void seccomp_prog_release(struct seccomp_prog *p);
/* Forget the in-memory cache (tests: make the next prepare read the disk). */
void seccomp_cache_clear(void);
/* Child: load it; a no-op for an empty one. */
int seccomp_install(const struct seccomp_prog *p, struct stk_err *err);

/* user.c */
struct user_ids {
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	char *home;
};
int user_resolve(const char *user, char *const *group_add, const char *passwd, const char *group,
		 struct user_ids *out, struct stk_err *err);
void user_ids_release(struct user_ids *u);
/* Parent: resolve user inside the root of process pid (its /etc/passwd and /etc/group,
 * opened with RESOLVE_IN_ROOT) into the fixed form the child applies. */
int user_lookup_in_root(pid_t pid, const char *user, char *const *group_add, struct child_user *out,
			struct stk_err *err);

/* process.c: the last steps of a container process, shared by start and exec. */
struct process_args {
	char **argv, **env;
	size_t home_slot; /* env entry to fill with HOME from the parent, or SIZE_MAX */
	const struct child_user *user; /* NULL: ask the parent (SYNC_MOUNTED) */
	const char *workdir;
	bool tty;
	unsigned short tty_rows, tty_cols; /* 0 = the kernel's default size */
	bool main; /* PID 1 of the container, not an exec */
	const int *stdio;
	const struct engine_ulimit *rlimits;
	size_t nrlimits;
	uint64_t caps;
	const struct seccomp_prog *seccomp;
};
void __attribute__((noreturn))
process_exec(const struct engine_spec *s, const struct process_args *p, int sync);
/* Docker's defaults plus the spec's, clamped to our hard limits when we cannot raise
 * them (no CAP_SYS_RESOURCE); explicit ones that were clamped warn. */
void process_rlimits(struct engine_container *c);

/* init path next to the binary, then libexecdir. */
char *init_find(const char *configured);

#endif

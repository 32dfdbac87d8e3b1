/* The container engine's contract: a spec in, a running, isolated process out, managed
 * to its end. Nothing else of src/engine/ may be included by other modules.
 *
 * The API suits an event loop: engine_start() returns once the container's process
 * has exec'd (or failed, with the step and errno), handing back a pidfd to watch; no
 * call waits for the container itself except the *_blocking() ones, which are meant
 * for the foreground CLI only. What the kernel finishes later (a freeze, a cgroup
 * emptying) is reported as 1, "not yet": call again after ENGINE_RETRY_MS. Calls are not thread-safe (call them from the thread that
 * owns the engine), but other threads may allocate meanwhile: start and exec fork with
 * a raw clone3 whose child allocates nothing before it execs. */
#ifndef STK_ENGINE_ENGINE_H
#define STK_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

enum engine_mount_type { ENGINE_MOUNT_BIND, ENGINE_MOUNT_VOLUME, ENGINE_MOUNT_TMPFS };

struct engine_mount {
	enum engine_mount_type type;
	char *source; /* host path (bind, volume); unused for tmpfs */
	char *target; /* path inside the container; resolved inside the rootfs */
	bool read_only;
	unsigned long propagation; /* MS_PRIVATE, MS_RSLAVE, ...; 0 = rprivate */
	bool create_host_path; /* bind: mkdir -p the source if it is missing */
	uint64_t tmpfs_size; /* bytes; 0 = kernel default */
	unsigned tmpfs_mode; /* 0 = 01777 */
};

struct engine_ulimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct engine_kv {
	char *key, *value;
};

/* Resource limits; 0 means "not set" for every field. */
struct engine_resources {
	int64_t memory; /* bytes */
	int64_t memory_swap; /* memory + swap in bytes; -1 = unlimited swap */
	int64_t memory_reservation; /* bytes */
	int64_t cpu_quota; /* microseconds per period */
	uint64_t cpu_period; /* microseconds; 0 = 100000 */
	uint64_t cpu_shares; /* v1 shares, mapped to weight on v2 */
	char *cpuset_cpus, *cpuset_mems;
	int64_t pids_limit; /* -1 = unlimited */
};

struct engine_spec {
	char *id; /* unique name: cgroup leaf, state directory */
	char *state_dir; /* per-container directory: upper, work, rootfs, etc files */
	/* The writable layer; NULL: state_dir/upper, which goes with the state directory
	 * when the container is removed. Elsewhere it outlives the run (a stopped
	 * container keeps its files, as Docker's does) and is the caller's to remove. */
	char *upper_dir;
	char *cgroup_parent; /* shared by a project's containers, e.g. "stack/proj" */
	char *cache_dir; /* the engine's disk cache (compiled seccomp filters); NULL = none */

	/* Root filesystem: overlay of read-only layers (top first) with an upper and work
	 * dir in state_dir, or one directory bind-mounted when nlayers == 0. */
	char **layers;
	size_t nlayers;
	char *rootfs;
	bool read_only;

	struct engine_mount *mounts;
	size_t nmounts;

	char **argv; /* NULL-terminated */
	char **env; /* NULL-terminated; PATH and HOME are added when missing */
	char *workdir;
	char *user; /* name, uid, name:group or uid:gid; NULL = root */
	char **group_add; /* NULL-terminated names or gids */
	char *hostname, *domainname;
	/* /etc/hosts and /etc/resolv.conf are the caller's (the network module writes them):
	 * bind-mounted as they are; NULL keeps the image's own. extra_hosts and dns* are
	 * parsed from the JSON spec for that caller; the engine does not read them. */
	char *hosts_file, *resolv_conf_file;
	struct engine_kv *extra_hosts; /* name -> address */
	size_t nextra_hosts;
	char **dns, **dns_search, **dns_opt; /* NULL-terminated */

	struct engine_ulimit *ulimits; /* on top of Docker's defaults */
	size_t nulimits;
	struct engine_kv *sysctls; /* namespaced ones only: net.*, kernel.shm*, fs.mqueue.* */
	size_t nsysctls;
	int oom_score_adj;
	bool set_oom_score_adj;
	uint64_t shm_size; /* bytes; 0 = 64 MiB */

	bool tty; /* the caller gets the pty master: engine_pty_master() */
	unsigned short tty_rows, tty_cols; /* the pty's size from the start; 0 = unset */
	int stdio[3]; /* fds given to the container as 0, 1, 2; -1 = /dev/null */

	char **cap_add, **cap_drop; /* "NET_ADMIN", "CAP_NET_ADMIN" or "ALL" */
	bool privileged;
	/* Host devices, Compose's "HOST[:CONTAINER[:PERMISSIONS]]" (CONTAINER under /dev,
	 * default HOST; PERMISSIONS of r, w, m, default rwm); NULL-terminated. */
	char **devices;
	bool no_new_privs;
	char *seccomp; /* NULL = default profile, "unconfined", or a Docker JSON file */

	bool init; /* run the project's reaper as PID 1 */
	char *init_path; /* NULL = next to the stack binary, then $(libexecdir) */
	char *netns; /* join this netns (path) instead of a new empty one */

	struct engine_resources res;
};

/* Initialise a spec with defaults (stdio -1, pids unlimited, ...). */
void engine_spec_init(struct engine_spec *spec);
void engine_spec_release(struct engine_spec *spec);
/* Fill a spec from a JSON object (the `stack runtime run --spec` format). */
struct json_object;
int engine_spec_from_json(struct engine_spec *spec, struct json_object *obj, struct stk_err *err);

struct engine_container;

/* Create: state directory, cgroup with its limits, /etc files. Nothing runs yet. */
int engine_create(const struct engine_spec *spec, struct engine_container **out,
		  struct stk_err *err);
/* Start the container's process; returns once it has exec'd its entrypoint. */
int engine_start(struct engine_container *c, struct stk_err *err);

/* Attach to a container another process started from the same spec (its state
 * directory holds the pid): for exec, pause, unpause, kill, stats. Such a handle cannot
 * reap or remove; its pidfd still becomes readable when PID 1 exits. */
int engine_open(const struct engine_spec *spec, struct engine_container **out, struct stk_err *err);

pid_t engine_pid(const struct engine_container *c);
/* Readable when the container's PID 1 has exited; owned by the container. */
int engine_pidfd(const struct engine_container *c);
/* The pty master when spec.tty; the caller takes ownership. -1 otherwise. */
int engine_take_pty_master(struct engine_container *c);
/* Warnings gathered at create/start (an rlimit clamped, ...); NULL-terminated. */
const char *const *engine_warnings(const struct engine_container *c);

/* Send a signal to PID 1. */
int engine_kill(struct engine_container *c, int sig, struct stk_err *err);
/* SIGKILL PID 1 (which ends its pid namespace) and every process listed in the
 * container's cgroup. Never waits. */
int engine_kill_all(struct engine_container *c, struct stk_err *err);

/* How long a caller waits (a uv timer) before calling a "not yet" (1) call again. */
#define ENGINE_RETRY_MS 10

/* Freeze (pause) or thaw (unpause) every process of the container. Never waits: 0 when
 * done, 1 while the kernel is still at it; then call engine_pause_poll() after
 * ENGINE_RETRY_MS until it returns 0. It fails (ETIMEDOUT) 5 s after the request. */
int engine_pause(struct engine_container *c, struct stk_err *err);
int engine_unpause(struct engine_container *c, struct stk_err *err);
int engine_pause_poll(struct engine_container *c, struct stk_err *err);
/* The same, waiting in poll(2) for the kernel: CLI only. */
int engine_pause_blocking(struct engine_container *c, struct stk_err *err);
int engine_unpause_blocking(struct engine_container *c, struct stk_err *err);

struct engine_exit {
	int code; /* exit status, or 128 + signal */
	int signal; /* the signal that killed PID 1, 0 if it exited */
	bool oom_killed; /* the kernel's OOM killer acted in the container's cgroup */
};
/* Reap PID 1 without blocking: 0 and *out filled, 1 if it is still running. */
int engine_try_wait(struct engine_container *c, struct engine_exit *out, struct stk_err *err);
/* Signal, wait up to grace_ms, then SIGKILL the whole cgroup; reaps. Blocks: CLI only. */
int engine_stop_blocking(struct engine_container *c, int sig, int grace_ms, struct engine_exit *out,
			 struct stk_err *err);

struct engine_stats {
	uint64_t cpu_usage_ns;
	uint64_t memory_usage, memory_limit; /* limit 0 = unlimited */
	uint64_t pids;
	uint64_t blkio_read, blkio_write; /* bytes */
	uint64_t memory_cache; /* inactive file pages: `stats` shows usage without them */
	uint64_t net_rx, net_tx; /* bytes, every interface of its netns but lo */
};
int engine_stats(struct engine_container *c, struct engine_stats *out, struct stk_err *err);
/* The processes of the container's cgroup (host pids, as cgroup.procs lists them). */
int engine_processes(struct engine_container *c, pid_t **out, size_t *n, struct stk_err *err);

/* copy.c: `cp` between the host and the running container c, with Docker's rules. Paths
 * in the container resolve inside its root (a symlink there never reaches the host). */
struct engine_copy_opts {
	const char *src, *dst;
	bool to_container; /* src on the host, dst in the container; else the reverse */
	bool archive; /* -a: keep owners; else the caller's (host) or root (container) */
	bool follow_link; /* -L: a symlink named as the source is followed */
};
int engine_copy(struct engine_container *c, const struct engine_copy_opts *o, struct stk_err *err);
/* `cp SERVICE:SRC -`: src (resolved as engine_copy does) as a tar stream on outfd. */
int engine_copy_tar(struct engine_container *c, const char *src, bool follow_link, int outfd,
		    struct stk_err *err);
/* The same from the root directory fd root (a stopped container's). */
int engine_copy_at(int root, const struct engine_copy_opts *o, struct stk_err *err);
int engine_copy_tar_at(int root, const char *src, bool follow_link, int outfd, struct stk_err *err);
/* A stopped container's root (spec: its layers and spec->upper_dir), for `cp`: the
 * overlay mounted on scratch/root (its work directory scratch/work, on the writable
 * layer's filesystem) in a mount namespace of the caller's own (unshared here: the
 * caller must be single-threaded), so no mount outlives the caller; *root is an O_PATH
 * fd of it. The caller keeps the container from starting meanwhile (the project lock).
 * engine_stopped_root_close unmounts it and removes scratch. */
int engine_stopped_root_open(const struct engine_spec *spec, const char *scratch, int *root,
			     struct stk_err *err);
void engine_stopped_root_close(const char *scratch, int root);

/* Kill what is left, remove the cgroup and the state directory. Never waits: 0 when
 * everything is gone, 1 while PID 1 is not reaped yet or the cgroup is still busy (a
 * task just died): call again after ENGINE_RETRY_MS; each call kills what is left. It
 * fails (ETIMEDOUT) 7 s after the first call. A container from engine_open() (another
 * process's child) is never reaped: it is removed once its pidfd says PID 1 is gone. */
int engine_remove(struct engine_container *c, struct stk_err *err);
/* The same, waiting in poll(2) between tries: CLI, and a create that failed. */
int engine_remove_blocking(struct engine_container *c, struct stk_err *err);
void engine_container_free(struct engine_container *c);
/* Remove a container another process started (and may no longer watch), from its
 * spec's id, cgroup parent and state directory: SIGKILL what is left in its cgroup,
 * wait up to 5 s for PID 1 to go, remove the cgroup and the state directory. Blocks:
 * CLI only. A container already gone is fine. */
int engine_cleanup(const struct engine_spec *spec, struct stk_err *err);

/* Another process inside a running container: its namespaces, cgroup, and the
 * container's capabilities, seccomp profile and no_new_privs. */
struct engine_exec_spec {
	char **argv, **env; /* env NULL = the container's */
	char *workdir; /* NULL = the container's */
	char *user; /* NULL = the container's */
	bool tty;
	unsigned short tty_rows, tty_cols; /* the pty's size before the command runs */
	int stdio[3];
};
struct engine_process {
	pid_t pid;
	int pidfd; /* owned by the caller */
	int pty_master; /* owned by the caller; -1 without tty */
};
int engine_exec(struct engine_container *c, const struct engine_exec_spec *spec,
		struct engine_process *out, struct stk_err *err);
/* Reap an exec'd process without blocking: 0 when done, 1 while running. */
int engine_process_try_wait(struct engine_process *p, struct engine_exit *out, struct stk_err *err);

/* Compose's ulimit names: "nofile" -> RLIMIT_NOFILE; -1 when unknown. */
int engine_rlimit_by_name(const char *name);
/* "rprivate", "rslave", ... -> MS_* flags; 0 (rprivate) for NULL or unknown. */
unsigned long engine_propagation_by_name(const char *name);

/* "SIGTERM", "TERM", "term" or "15" -> 15. */
int engine_signal_parse(const char *s, int *sig, struct stk_err *err);

#endif

/* One interface over cgroup v1 and v2. The hierarchy is detected once; each container
 * gets <parent>/<id> (in every v1 controller, or once in the unified tree). */
#ifndef STK_ENGINE_CGROUP_H
#define STK_ENGINE_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/engine.h"

struct cgroup {
	int version; /* 1 or 2 */
	char *path; /* relative to the hierarchy root: "stack/proj/id" */
	int dirfd; /* v2: the leaf, for CLONE_INTO_CGROUP; -1 on v1 */
	bool cpuset; /* v1: a cpuset cgroup is made only when cpus or mems are limited */
	int devices_prog; /* v2: the attached device filter (BPF program fd), or -1 */
};

/* cgroup_devices.c: one device rule; major or minor -1 = any; access BPF_DEVCG_ACC_*. */
struct cg_dev_rule {
	char type; /* 'c', 'b' or 'a' */
	long long major, minor;
	unsigned access;
};
extern const struct cg_dev_rule cg_default_devices[];
extern const size_t cg_ndefault_devices;
/* "c 1:3 rwm", as devices.allow takes it. */
void cg_dev_rule_v1(const struct cg_dev_rule *r, char *buf, size_t len);
/* Build and load a program allowing exactly the rules; its fd. */
int cgv2_devices_load(const struct cg_dev_rule *rules, size_t n, struct stk_err *err);
/* The same, attached to the cgroup at dir (BPF_F_ALLOW_MULTI). */
int cgv2_devices_attach(const char *dir, const struct cg_dev_rule *rules, size_t n, int *progfd,
			struct stk_err *err);
void cgv2_devices_detach(const char *dir, int progfd);

/* 1 or 2; STACK_CGROUP_ROOT overrides the mount point (tests). */
int cgroup_version(void);
const char *cgroup_root(void);

int cgroup_create(const char *parent, const char *id, const struct engine_resources *r,
		  struct cgroup **out, struct stk_err *err);
/* Limits, and device rules: the default allowlist plus extra (the spec's devices). */
int cgroup_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
		 const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err);
/* A new process joins the container's cgroups by itself. On v1, moving a process by its
 * pid (cgroup.procs) takes the kernel's global threadgroup lock for writing, which first
 * waits for an RCU grace period: 10-20 ms on a loaded machine, or while a network
 * namespace is being torn down; a thread moving itself alone ("0" to tasks) takes no such
 * lock. So the parent opens the files before the clone and the child, still one thread,
 * writes them. v2 needs none of it (clone3 places the child, CLONE_INTO_CGROUP): n = 0. */
#define CGROUP_JOIN_MAX 8
struct cgroup_join {
	int fd[CGROUP_JOIN_MAX];
	size_t n;
};
int cgroup_join_open(const struct cgroup *cg, struct cgroup_join *j, struct stk_err *err);
/* In the child, before it makes threads; allocates nothing. */
int cgroup_join_self(const struct cgroup_join *j, struct stk_err *err);
void cgroup_join_close(struct cgroup_join *j);
/* Ask the kernel to freeze or thaw; it gets there on its own (v1 may need a nudge). */
int cgroup_freeze(struct cgroup *cg, bool frozen, struct stk_err *err);
/* One look: 0 when the cgroup is frozen (or thawed) as asked, 1 not yet. nudge (v1):
 * write FROZEN again, for tasks that were forking when we froze. Never waits. */
int cgroup_freeze_check(struct cgroup *cg, bool frozen, bool nudge, struct stk_err *err);
/* SIGKILL every task listed now (cgroup.kill on v2 when there is one). Never waits: a
 * task forked meanwhile is caught by the next call, or by its pid namespace's end. */
int cgroup_kill_all(struct cgroup *cg, struct stk_err *err);
int cgroup_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err);
/* cgroup.procs of the leaf (v1: the freezer's); NULL with errno set. */
char *cgroup_procs(struct cgroup *cg);
bool cgroup_oom_killed(struct cgroup *cg);
/* Remove the leaf (and empty parents the engine made); processes must be gone. One try:
 * 1 while the leaf is still busy (a task just died and is not yet released). */
int cgroup_destroy(struct cgroup *cg, struct stk_err *err);
void cgroup_free(struct cgroup *cg);

/* Backends. */
int cgv1_create(struct cgroup *cg, struct stk_err *err);
int cgv1_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
	       const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err);
int cgv1_join_open(const struct cgroup *cg, struct cgroup_join *j, struct stk_err *err);
int cgv1_freeze(struct cgroup *cg, bool frozen, struct stk_err *err);
int cgv1_freeze_check(struct cgroup *cg, bool frozen, bool nudge, struct stk_err *err);
int cgv1_kill_all(struct cgroup *cg, struct stk_err *err);
int cgv1_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err);
bool cgv1_oom_killed(struct cgroup *cg);
int cgv1_destroy(struct cgroup *cg, struct stk_err *err);

int cgv2_create(struct cgroup *cg, struct stk_err *err);
int cgv2_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
	       const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err);
int cgv2_freeze(struct cgroup *cg, bool frozen, struct stk_err *err);
int cgv2_freeze_check(struct cgroup *cg, bool frozen, struct stk_err *err);
int cgv2_kill_all(struct cgroup *cg, struct stk_err *err);
int cgv2_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err);
/* The v2 readers on any directory holding the interface files (tests: fixtures). */
void cgv2_stats_dir(const char *dir, struct engine_stats *out);
char *cgv1_procs(struct cgroup *cg);
char *cgv2_procs(struct cgroup *cg);
bool cgv2_oom_killed(struct cgroup *cg);
int cgv2_destroy(struct cgroup *cg, struct stk_err *err);

/* cgroup.c helpers shared by the backends. */
int cg_write(const char *dir, const char *file, const char *val, struct stk_err *err);
/* Read a small file; returns a malloc'd string or NULL with errno set. */
char *cg_read(const char *dir, const char *file);
/* "key value" lines: the value of key, or -1. */
long long cg_read_key(const char *dir, const char *file, const char *key);
/* Remove root/rel, then its parents while they are empty; 1 if root/rel is busy. */
int cg_rmdir_up(const char *root, const char *rel, struct stk_err *err);
int cg_mkdir_p(const char *root, const char *rel, struct stk_err *err);
/* SIGKILL each pid of a cgroup.procs text (NULL: none). */
void cg_kill_listed(const char *procs);

#endif

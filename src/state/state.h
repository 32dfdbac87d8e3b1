/* state/: the on-disk records of projects and containers, and the project lock.
 *
 * $ROOT/projects/<name>/  compose.json (the applied model), lock (flock'd by mutating
 *                         commands)
 * $ROOT/containers/<id>/  config.json (what the container is: names, labels, ports),
 *                         state.json (what it does: status, pid, exit code), its logs,
 *                         and the engine's own files (upper, work, pid)
 * $RUN/<name>/            control.sock of the project's supervisor
 * Every record is written tmp + rename, so a reader sees the old or the new version,
 * never half of one; records that cannot be rebuilt are fsync'd first. Whatever the supervisor knows is here too, so `ps` and
 * `down` work when no supervisor answers. */
#ifndef STK_STATE_STATE_H
#define STK_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct json_object;

struct state_paths {
	const char *root; /* $ROOT: /var/lib/stack, or --root / STACK_ROOT */
	const char *run; /* $RUN: /run/stack, or $ROOT/run when the root is overridden */
};

char *state_project_dir(const struct state_paths *p, const char *project);
char *state_run_dir(const struct state_paths *p, const char *project);
char *state_container_dir(const struct state_paths *p, const char *id);
/* The cgroup parent of the project's containers. */
char *state_cgroup_parent(const char *project);

/* Takes the project's lock (blocking: CLI only); *fd holds it until closed. */
int state_project_lock(const struct state_paths *p, const char *project, int *fd,
		       struct stk_err *err);

/* The project's directory and lock go when nothing else is in it and it has no
 * container (a supervisor that `events` started leaves no project behind), unless its
 * lock is held. */
void state_project_forget_unused(const struct state_paths *p, const char *project);

/* Atomically replaces path with the JSON of obj, durably (fsync before the rename): for
 * records nothing else can rebuild (a container's config.json, the applied model). */
int state_write_json(const char *path, struct json_object *obj, struct stk_err *err);
/* The same without the fsync, for a record rewritten at every change of what it
 * describes (a container's state.json): a process that dies leaves the old or the new
 * file, and after a host crash the record is read against the live processes and
 * cgroups anyway (a missing or empty one reads as exited). */
int state_update_json(const char *path, struct json_object *obj, struct stk_err *err);
/* NULL when the file is missing or not JSON. */
struct json_object *state_read_json(const char *path);

/* A container as recorded: config.json and state.json of its directory. */
struct state_container {
	char *id, *dir;
	struct json_object *config; /* owned */
	struct json_object *state; /* owned; never NULL (empty object when missing) */
};

/* The containers of a project (every project with project NULL), sorted by name. */
int state_list_containers(const struct state_paths *p, const char *project,
			  struct state_container **out, size_t *n, struct stk_err *err);
void state_containers_free(struct state_container *v, size_t n);

/* Fields of a record: "" / 0 when missing. */
const char *state_str(struct json_object *o, const char *key);
long long state_int(struct json_object *o, const char *key);

/* Is the recorded pid still the container's PID 1 (its cgroup says so)? */
bool state_container_running(const struct state_container *c);

/* A one-off container of `run` (label com.docker.compose.oneoff=True)? */
bool state_container_oneoff(const struct state_container *c);

/* Is its cgroup frozen (`pause`)? */
bool state_container_paused(const struct state_container *c);

/* Projects that have a record (projects/<name>/compose.json), sorted. */
int state_list_projects(const struct state_paths *p, char ***out, size_t *n, struct stk_err *err);

/* rm -rf, never crossing into a mount; a missing path is fine. */
int state_remove_tree(const char *path, struct stk_err *err);
#endif

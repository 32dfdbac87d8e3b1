/* super/: the per-project supervisor (a libuv loop in a detached `stack supervise`
 * process) and the client side the CLI uses to drive it.
 *
 * The CLI loads the project, writes the applied model to the project's record, and
 * asks the supervisor (started on demand) to apply it over the control socket; the
 * supervisor creates networks and containers, watches them, keeps their logs, and
 * exits by itself when none of the project's containers runs. Every event it reports
 * reaches the caller as a JSON object through a callback; nothing here prints. */
#ifndef STK_SUPER_SUPER_H
#define STK_SUPER_SUPER_H

#include <stdbool.h>
#include <stddef.h>

#include "state/state.h"
#include "util/err.h"

struct json_object;
struct compose_project;

/* One event: {"event": "progress", "kind": "Container", "name": "p-web-1",
 * "status": "Started"}, {"event": "pull", "service": ..., "image": ..., "status": ...}.
 * The final {"event": "done"} or {"event": "error"} is not passed on. */
typedef void (*super_event_fn)(struct json_object *ev, void *arg);

struct super_client {
	struct state_paths paths;
	const char *self_exe; /* the stack binary to re-execute as the supervisor */
	super_event_fn on_event;
	void *arg;
};

struct super_up_opts {
	const char *const *services; /* named on the command line; none = every service */
	size_t nservices;
	bool no_deps;
	bool wait; /* --wait: return once every service runs and is healthy */
	int wait_timeout; /* seconds; 0 = none */
	const char *pull; /* always, missing, never; NULL = each service's pull_policy */
	const char *recreate; /* "force", "never", or NULL: containers whose config changed */
	bool remove_orphans; /* containers of services no longer in the file */
	bool no_start; /* create, up --no-start: containers made, none started */
	bool always_recreate_deps; /* the named services' dependencies recreated */
	bool timeout_set; /* -t: timeout_s is the grace when recreating or stopping */
	int timeout_s;
	bool renew_anon_volumes; /* -V: recreate (unless "never") with fresh anonymous volumes */
	const char *const *scale; /* --scale SERVICE=N */
	size_t nscale;
	/* run's dependencies: an existing network keeps the rules it has loaded
	 * (net_network_spec.reuse) instead of reloading them as up does. */
	bool keep_network_rules;
};

/* `up -d`: checks, records the model, starts the supervisor if none answers and has it
 * apply the model, pulling the missing images meanwhile (the services that need one wait
 * for it). Takes the project lock for its whole length. */
int super_up(const struct super_client *cl, struct compose_project *p,
	     const struct super_up_opts *o, struct stk_err *err);

struct super_down_opts {
	int timeout_s; /* -1: each service's stop_grace_period (default 10 s) */
	bool volumes, remove_orphans;
	/* The project as the file has it now: without remove_orphans, containers of
	 * services it does not have are warned of and left (NULL: every container goes). */
	struct compose_project *project;
	const char *rmi; /* --rmi local|all; NULL = none */
};

/* `down`: stops and removes the project's containers and networks and its record,
 * through the supervisor, or from disk when none answers. */
int super_down(const struct super_client *cl, const char *project, const struct super_down_opts *o,
	       struct stk_err *err);

/* `stop`, `start`, `restart`, `kill`: op is the request name; services none = all. */
struct super_ctl_opts {
	const char *op;
	const char *const *services;
	size_t nservices;
	int timeout_s; /* stop, restart; -1 = the service's */
	int signal; /* kill; 0 = SIGKILL */
	bool stop; /* rm: stop running containers first */
	bool volumes; /* rm -v: their anonymous volumes go too */
};
int super_ctl(const struct super_client *cl, struct compose_project *p,
	      const struct super_ctl_opts *o, struct stk_err *err);

/* `events`: the project's container events ({"event":"container","time_ns","action",
 * "id","service","attributes":{"name","image",...}}, or {"event":"dropped","count"} when
 * this reader fell behind) to fn, until interrupted. Starts a supervisor if none runs. */
int super_events(const struct super_client *cl, const char *project, super_event_fn fn, void *arg,
		 struct stk_err *err);

/* Tell the project's supervisor (if one runs) of an event on container id that the CLI
 * caused itself ("pause", "unpause"), for `events`. */
void super_events_notify(const struct super_client *cl, const char *project, const char *id,
			 const char *action);

/* The hidden `stack supervise PROJECT` command: runs the loop until the project has
 * no running container. "ok" or an error line is written to ready_fd once the control
 * socket listens (or it failed), then ready_fd is closed. */
int super_main(const struct state_paths *paths, const char *project, int ready_fd);
/* A tty container's keeper (`stack tty-keeper ID`, started by its supervisor): holds the
 * pty master (fd 3), so that it outlives a killed supervisor, until the container exits
 * (its pidfd, fd 4, is readable). -1 if started without them. */
int super_tty_keeper(void);

/* A network namespace of its own for a container, made (unshare, then back) before
 * the engine starts it; the fd keeps it alive until the container has joined it. */
int super_netns_new(int *out, struct stk_err *err);

/* The engine spec a recorded container was started with (environment, user, working
 * directory, capabilities, seccomp, limits), rebuilt from the project's applied model and
 * the image store: for a CLI that joins it (exec) with no supervisor. */
struct engine_spec;
int super_container_spec(const struct state_paths *paths, const struct state_container *rec,
			 struct engine_spec *spec, struct stk_err *err);

/* The spec of a new container of service (id, state directory dir) from the model: for
 * a one-off container the CLI runs itself (`run`). */
int super_service_spec(const struct state_paths *paths, struct compose_project *model,
		       const char *service, const char *id, const char *dir,
		       struct engine_spec *spec, struct stk_err *err);
/* The project's networks as the supervisor makes them at `up` (idempotent). */
/* The net module's form of a compose port (a range or a random host port included). */
struct compose_port;
struct net_port;
void super_port_of(const struct compose_port *cp, struct net_port *out);
int super_networks_create(const struct state_paths *paths, struct compose_project *model,
			  struct stk_err *err);
/* Tell the project's supervisor, if one runs, that the CLI attached or detached a
 * container (`run`): its DNS and loopback port proxies reread the network record. */
int super_net_reload(const struct super_client *cl, const char *project, struct stk_err *err);
/* Check o->services as `up` does (build-only ones, unsupported mounts) and pull their
 * images as `up` would (o->pull, else pull_policy). */
int super_pull(const struct super_client *cl, struct compose_project *p,
	       const struct super_up_opts *o, struct stk_err *err);

/* ---- logs, from disk ---- */

struct super_log_opts {
	long tail; /* -1 = all */
	bool follow;
	long long since_ns, until_ns; /* 0 = unbounded; wall clock */
	/* follow: a signalfd (-1 = none); when it is readable, on_interrupt hears of each
	 * signal and following goes on. */
	int interrupt_fd;
	void (*on_interrupt)(int signo, void *arg);
	void *interrupt_arg;
	/* follow: a container has exited and its output is all read (dir: its state). */
	void (*on_exit)(const char *container, const char *dir, void *arg);
};
/* One record: stream "stdout"/"stderr", time in ns since the epoch, the bytes. */
typedef void (*super_log_fn)(const char *container, const char *stream, long long time_ns,
			     const char *line, size_t len, void *arg);
/* The logs of the given containers (state directories), oldest first per container;
 * with follow, keeps reading until every container has exited and its log is drained. */
int super_logs_read(const struct state_container *cs, size_t n, const struct super_log_opts *o,
		    super_log_fn fn, void *arg, struct stk_err *err);

/* ---- volumes, binds, tmpfs, secrets, configs (src/super/volumes.c) ----
 * One mapping from Compose's shapes of a service (canonical JSON: "volumes" as long
 * syntax objects or short strings, "tmpfs", "secrets", "configs", "volumes_from", with
 * the project's "project_volumes", "project_secrets", "project_configs", "project_dir"
 * and the image's VOLUME list as "image_volumes") to engine mounts through src/volume/.
 * The supervisor and `stack runtime run` both use it. */
struct engine_spec;

struct super_volume_opts {
	const char *root; /* the state root */
	const char *name; /* the container's name in records (default: its id) */
	const char *project; /* names volumes <project>_<key> and labels them; may be NULL */
	const char *record_dir; /* where mounts.json goes; NULL: the spec's state directory */
	/* {target: volume name}: anonymous volumes to mount again (a restart, or the
	 * container this one replaces); others are made fresh. May be NULL. */
	struct json_object *anonymous;
};

struct super_volumes;

/* Before engine_create(), after the spec has its id and state directory: creates the
 * volumes (copy-up from spec->layers unless nocopy), writes secrets and configs into
 * the container's 0700 state directory, appends the mounts to spec->mounts and records
 * the container as the volumes' user. Warnings go to stderr. On failure nothing it
 * wrote is left (a volume it created stays, as Docker's does). */
int super_volumes_setup(const struct super_volume_opts *o, struct json_object *spec_json,
			struct engine_spec *spec, struct super_volumes **out, struct stk_err *err);
/* Once the container has started (or failed to): detaches the binds prepared for
 * bind.recursive; the container keeps its own copies. NULL is fine. */
void super_volumes_unstage(struct super_volumes *rv);
/* After the container is gone: its secrets and configs go, a tmpfs volume no container
 * uses is unmounted. NULL is fine. */
void super_volumes_release(struct super_volumes *rv);
/* Why a bind's selinux option (z, Z) is ignored: SELinux is off, or stack does not
 * relabel. */
const char *super_selinux_ignored(void);

#endif

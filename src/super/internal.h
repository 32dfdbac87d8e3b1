/* Private to src/super/: the supervisor's loop state, its containers, and the
 * functions its files offer each other. */
#ifndef STK_SUPER_INTERNAL_H
#define STK_SUPER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "compose/model.h"
#include "engine/engine.h"
#include "super/super.h"

struct json_object;
struct sup;
struct sup_client;

/* A log stream: the read end of the container's FIFO, lines gathered into records. */
struct sup_stream {
	struct sup_ctr *ctr;
	const char *name; /* "stdout", "stderr" */
	uv_pipe_t pipe;
	int rfd; /* the FIFO's read end before the pipe takes it; -1 */
	bool open;
	char partial[16384]; /* a line not yet ended, as Docker splits at 16 KiB */
	size_t npartial;
};

/* STARTING: the engine's child is setting itself up (sup_ctr_start); the loop goes on. */
enum sup_ctr_status { CTR_CREATED, CTR_RUNNING, CTR_EXITED, CTR_STARTING };
enum sup_health_status { HEALTH_NONE, HEALTH_STARTING, HEALTH_HEALTHY, HEALTH_UNHEALTHY };

#define SUP_HEALTH_LOG 5

/* A container's healthcheck: its settings (the service's over the image's), the probe
 * in flight, and the outcome so far. */
struct sup_health {
	char **argv; /* NULL: no healthcheck */
	long long interval_ms, timeout_ms, start_period_ms, start_interval_ms;
	int retries;
	bool fast_start; /* probe on a doubling schedule until the first pass */
	enum sup_health_status status;
	int streak;
	bool passed;
	long long next_fast_ms;
	long long started_ms; /* the container's start, for start_period */
	/* fast start: when the schedule's next probe is due (uv_now ms); output from the
	 * container before the first pass asks for a probe sooner (hinted) */
	long long sched_due_ms;
	long long probe_start_ns, probe_end_ns; /* the last probe's, on the wall clock */
	long long count_due_ms; /* fast start: a failure counts toward retries from then */
	bool hinted, by_output; /* by_output: the probe in flight was asked for by output */
	long long probes, output_probes; /* run since the container started */
	int hint_run; /* probes asked for by output since the schedule's last */
	/* The last probes, oldest first, as Docker's State.Health.Log (without output). */
	struct sup_health_probe {
		long long start_ns, end_ns;
		int exit_code;
		bool by_output;
	} log[SUP_HEALTH_LOG];
	int nlog;
	uv_timer_t timer; /* the next probe, or the probe's timeout while one runs */
	bool timer_open;
	bool probing, timed_out;
	struct engine_process proc;
	int out_fd;
	uv_poll_t poll;
	bool poll_open;
	char output[4096];
	int last_exit;
};

struct sup_ctr;
struct sup_start;
/* A start's end: rc 0 (running) or -1 (err says why; the container is back as it was).
 * The container stays allocated during the call even if the callback removes it. */
typedef void (*sup_started_fn)(struct sup_ctr *c, int rc, const struct stk_err *err, void *arg);

struct sup_ctr {
	struct sup *s;
	struct sup_ctr *next;
	char *id, *name, *service, *dir;
	int number;
	struct json_object *config; /* config.json, owned */
	enum sup_ctr_status status;
	struct engine_container *ec;
	uv_poll_t pidpoll;
	bool polling;
	struct sup_stream out, err;
	int log_fd;
	int tty_keeper; /* tty: pidfd of the process that keeps the pty master open; -1 */
	long long log_size, log_max_size; /* rotation: logging.options max-size, max-file */
	int log_max_files;
	long long log_lost; /* lines that could not be written (disk full) */
	bool log_losing; /* the last write failed */
	int exit_code;
	long long started_at, finished_at; /* ns since the epoch; 0 = never */
	bool adopted; /* left running by a previous supervisor: not our child */
	/* Stopping: the grace timer, and the request waiting for the exit. */
	uv_timer_t stop_timer;
	bool stop_timer_open, stopping, remove_after_stop;
	struct sup_op *op;
	struct sup_health health;
	/* Restart policy: a timer with Docker's back-off (100 ms doubling, reset after 10 s
	 * of running); a stop or kill by the user turns it off until the next start. */
	uv_timer_t restart_timer;
	bool restart_timer_open, restart_pending, manual_stop;
	/* network_mode service:/container:: the namespace it shares went with its target's
	 * restart; once stopped it starts again in the new one (sup_netmode_follow). */
	bool rejoin;
	int restart_count;
	int restart_attempts; /* toward max_attempts; a run as long as the window resets it */
	long long restart_delay_ms;
	int handles; /* open uv handles; freed when zero after sup_ctr_forget */
	int closing; /* handles being closed: none may be initialised again until then */
	struct super_volumes *vols; /* its mounts' secrets and staged binds, while it runs */
	/* A start under way, whom to tell when it ends, and a stop asked for meanwhile
	 * (done once the start has ended). */
	struct sup_start *start;
	sup_started_fn started;
	void *started_arg;
	bool stop_deferred, stop_deferred_remove;
	int stop_deferred_sig, stop_deferred_grace_ms;
	struct sup_op *stop_deferred_op;
	bool fresh; /* created by this up: a failed start removes it */
	bool keep_anon_volumes; /* recreated: the next container gets its anonymous volumes */
	bool remove_anon_volumes; /* rm -v */
	bool forgotten;
};

/* A request in progress: it ends when its count of pending containers reaches 0. */
struct sup_op {
	struct sup *s;
	struct sup_client *client;
	int pending;
	bool down; /* tear the networks down and exit at the end */
	char *error;
};

struct sup {
	uv_loop_t loop;
	struct state_paths paths;
	char *project, *rundir;
	uv_pipe_t server;
	bool server_open;
	uv_signal_t sigterm;
	uv_timer_t idle; /* exit if no client ever came; data set once initialised */
	struct sup_client *clients;
	struct sup_ctr *ctrs;
	struct compose_project *model;
	char *config_files, *workdir; /* the user's, for the labels; the model is loaded from
				       * the recorded copy */
	struct image_store *store;
	struct net_ctx *net;
	struct net_runtime *rt;
	bool exiting;
	bool down_done; /* the project is down: exit without waiting for the client */
	int lock_fd;
	struct sup_sub *subs; /* events.c: clients that subscribed to events */
	struct json_object *anon_kept; /* {container name: {target: volume}} across recreate */
	/* DNS and the loopback proxies reread the network record once per loop iteration
	 * (and before a request answers), not once per container attached. */
	uv_timer_t net_timer;
	bool net_timer_open, net_dirty;
};

/* supervisor.c: events to a client */
void sup_client_send(struct sup_client *c, struct json_object *ev); /* takes ev */
void sup_progress(struct sup_client *c, const char *kind, const char *name, const char *status);
void sup_op_done(struct sup_op *op);
void sup_maybe_exit(struct sup *s);
/* The network record changed (an endpoint attached): DNS and proxies follow, batched. */
void sup_net_changed(struct sup *s);
/* Now, if anything changed since the last time. */
void sup_net_flush(struct sup *s);

/* ctr.c: one container's life */
const struct compose_service *sup_ctr_service(const struct sup_ctr *c);
void sup_ctr_handle_close(struct sup_ctr *c, uv_handle_t *h);
void sup_ctr_free(struct sup_ctr *c);
int sup_ctr_create(struct sup *s, const struct compose_service *svc, int number,
		   struct sup_ctr **out, struct stk_err *err);
/* Begins a start: -1 if it failed at once (err; nothing called back), else 0 and
 * done(c, rc, err, arg) is called once the engine's child has exec'd or failed. done
 * NULL: a restart, whose failure is logged and counts as an exit. */
int sup_ctr_start(struct sup_ctr *c, sup_started_fn done, void *arg, struct stk_err *err);
/* Signal, grace timer, SIGKILL; op hears of the exit (and removal with remove). */
void sup_ctr_stop(struct sup_ctr *c, int sig, int grace_ms, bool remove, struct sup_op *op);
int sup_ctr_remove(struct sup_ctr *c, struct stk_err *err);
void sup_ctr_restart_cancel(struct sup_ctr *c);
void sup_ctr_close_timers(struct sup_ctr *c);
void sup_ctr_write_state(struct sup_ctr *c);
/* Containers whose PID 1 has exited but whose pidfd event is still to come: handled now. */
void sup_ctr_notice_exits(struct sup *s);
/* Containers recorded on disk (a previous supervisor's): added as exited. */
void sup_ctr_load_recorded(struct sup *s);
int sup_ctr_stop_signal(const struct sup_ctr *c);
int sup_ctr_grace_ms(const struct sup_ctr *c);
/* Stops c as `stop` would, with no request waiting, and starts it again (c->rejoin). */
void sup_ctr_rejoin(struct sup_ctr *c);

/* The image ID a reference names in the store; NULL if it is not there. */
char *sup_image_id(struct sup *s, const char *image);

/* spec.c: the engine's spec from the model and the image */
int sup_spec_build(struct sup *s, const struct compose_service *svc, struct sup_ctr *c,
		   struct engine_spec *spec, struct json_object **image_config,
		   struct stk_err *err);

/* netmode.c: published ports and network_mode */
struct net_port;
/* The net module's form of a compose port (a range or a random port included). */
void sup_port_of(const struct compose_port *cp, struct net_port *out);
/* config.json's "ports": host_ports (one per service port) once the container runs,
 * NULL before (a range or a random port is then 0). */
struct json_object *sup_ports_json(const struct compose_service *svc, const uint16_t *host_ports);
/* network_mode service:NAME or container:NAME: opens the running target's network
 * namespace (checked against its pidfd) into *nsfd and points spec at it and at the
 * target's /etc/hosts, /etc/resolv.conf and hostname; records the target in c's config. */
int sup_netmode_join(struct sup_ctr *c, const struct compose_service *svc, struct engine_spec *spec,
		     int *nsfd, struct stk_err *err);
/* Is the sharer still in the namespace of its service's current container? */
bool sup_netmode_current(struct sup *s, const struct sup_ctr *c, const struct compose_service *svc);
/* A sharer (network_mode service:/container:) publishes no ports, and container:NAME
 * names a running container or one the project makes (checked before up starts
 * anything). */
int sup_netmode_check(const struct state_paths *paths, const struct compose_project *p,
		      const struct compose_service *svc, struct stk_err *err);
/* network_mode service: or container: */
bool sup_netmode_shares(const struct compose_service *svc);
/* t has just started: its sharers still in another (its old, dead) namespace rejoin. */
void sup_netmode_follow(struct sup_ctr *t);
/* svc_volumes.c: a service's volumes */
/* Before anything is created: external volumes exist, drivers are local, bind sources
 * exist or (create) are made. Errors name the service. */
int sup_volumes_check(const char *root, const struct compose_project *p,
		      const struct compose_service *svc, bool create, struct stk_err *err);
/* The container's volume, bind, tmpfs, secret and config mounts onto spec (icfg: the
 * image's config); its record of them goes in its directory. */
int sup_volumes_mount(struct sup_ctr *c, const struct compose_service *svc,
		      struct engine_spec *spec, struct json_object *icfg, struct stk_err *err);
/* Around sup_ctr_remove's work: the volumes c's record lists (read before the record
 * goes), then its type=tmpfs volumes unmounted when unused and its anonymous ones kept
 * for the container of the same name (keep) or removed (remove). Takes rec. */
struct json_object *sup_volumes_before_remove(struct sup_ctr *c);
int sup_volumes_after_remove(struct sup *s, const char *name, struct json_object *rec, bool keep,
			     bool remove, struct stk_err *err);

/* health.c */
void sup_health_start(struct sup_ctr *c, struct json_object *image_config);
void sup_health_stop(struct sup_ctr *c);
/* The container wrote output: before its first pass, a hint to probe soon. */
void sup_health_output(struct sup_ctr *c);
/* state.json's "health" object. */
struct json_object *sup_health_json(const struct sup_ctr *c);
const char *sup_health_name(enum sup_health_status s);
/* Called when a container's health or life changed: waiting requests move on. */
void sup_changed(struct sup *s);

/* logs.c */
int sup_logs_open(struct sup_ctr *c, int wfds[2], struct stk_err *err);
void sup_logs_attach(struct sup_ctr *c);
void sup_logs_close(struct sup_ctr *c);
/* tty: the pty master (owned from now on) is read as stdout instead of the FIFO, and a
 * keeper process holds it too, so that it outlives a killed supervisor. */
void sup_logs_take_pty(struct sup_ctr *c, int master);
/* stdin_open without tty: a FIFO no one writes, so the container's stdin stays open. */
int sup_stdin_open(struct sup_ctr *c, int *fd, struct stk_err *err);

/* events.c: container events (create, start, die, ...) to every subscribed client, each
 * with a bounded queue: a slow reader loses events (counted), never stalls the loop. */
struct sup_sub;
/* key: an attribute with its value (exitCode, signal), or NULL. */
void sup_event(struct sup_ctr *c, const char *action, const char *key, long long val);
void sup_events_subscribe(struct sup *s, struct sup_client *cl);
void sup_events_forget(struct sup *s, struct sup_client *cl);
/* {"op":"notify","id","action"}: an event about a container the CLI acted on itself
 * (pause, unpause), passed on to the subscribers; answered with "done". */
void sup_events_notify(struct sup *s, struct sup_client *cl, struct json_object *req);
/* The wall clock in ns since the epoch, as events and state.json record times. */
long long sup_now_ns(void);
/* supervisor.c: bytes written to the client and not yet taken by the kernel. */
size_t sup_client_queued(struct sup_client *cl);

/* client.c: the CLI side's connection to a project's supervisor, one started if asked. */
int sup_connect(const struct state_paths *p, const char *project);
int sup_spawn(const struct super_client *cl, const char *project, struct stk_err *err);
/* A progress event ({"event":"progress","kind","name","status"}) to the client's callback,
 * as the supervisor's reach it. */
void sup_client_progress(const struct super_client *cl, const char *kind, const char *name,
			 const char *status);

/* up_pull.c: the images an up pulls (those of the services in[], NULL = all: missing
 * ones, or all with "always", by --pull or else each service's pull_policy); *out NULL
 * when there is nothing to pull. */
struct sup_pulls;
int sup_pulls_plan(const struct super_client *cl, struct compose_project *p, const bool *in,
		   const char *pull, struct sup_pulls **out, struct stk_err *err);
/* Pulls them all before returning (`pull`, `run`'s own image). */
int sup_pulls_run(struct sup_pulls *pl, struct stk_err *err);
/* Pulls them on a thread while the request runs: the request names them ("pulling"),
 * and sup_pulls_exchange() sends it on fd, passes each pull's result on as it lands
 * and the supervisor's events to the client's callback, until "done" (0) or "error"
 * (-1; EPIPE when the supervisor closed the connection). */
int sup_pulls_start(struct sup_pulls *pl, struct stk_err *err);
void sup_pulls_add_to_request(struct sup_pulls *pl, struct json_object *req);
int sup_pulls_exchange(struct sup_pulls *pl, int fd, struct json_object *req, struct stk_err *err);
/* Waits for the thread, if one pulls. NULL is fine. */
void sup_pulls_free(struct sup_pulls *pl);

/* Remove a container's engine side and free it, retrying on a timer while it is busy. */
void sup_engine_remove(struct sup *s, struct engine_container *ec);

#endif

/* The supervisor: one libuv loop per running project. It listens on the project's
 * control socket (one JSON object per line each way), applies what the CLI asks
 * (up, down, stop, start, restart, kill), reports progress as events, and exits by
 * itself once none of the project's containers runs and no client waits. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"
#include "image/image.h"
#include "net/net.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

#define SUP_IDLE_MS 10000

struct sup_client {
	struct sup *s;
	struct sup_client *next;
	uv_pipe_t pipe;
	struct strbuf in;
	bool closed;
	int refs; /* the connection itself and each op in progress */
};

static void client_unref(struct sup_client *c)
{
	if (--c->refs == 0) {
		strbuf_free(&c->in);
		free(c);
	}
}

static void on_client_closed(uv_handle_t *h)
{
	struct sup_client *c = h->data;
	struct sup *s = c->s;

	client_unref(c);
	sup_maybe_exit(s);
}

static void up_client_gone(struct sup_client *c);

static void client_close(struct sup_client *c)
{
	struct sup_client **pp;

	if (c->closed)
		return;
	c->closed = true;
	sup_events_forget(c->s, c);
	for (pp = &c->s->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	uv_close((uv_handle_t *)&c->pipe, on_client_closed);
	up_client_gone(c);
}

static void on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

void sup_client_send(struct sup_client *c, struct json_object *ev)
{
	const char *s;
	uv_write_t *w;
	uv_buf_t b;

	if (c && !c->closed) {
		s = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
		w = xmalloc(sizeof(*w));
		w->data = xasprintf("%s\n", s);
		b = uv_buf_init(w->data, (unsigned)strlen(w->data));
		if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, on_written) < 0) {
			free(w->data);
			free(w);
		}
	}
	json_object_put(ev);
}

size_t sup_client_queued(struct sup_client *c)
{
	return c->closed ? 0 : uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe);
}

void sup_progress(struct sup_client *c, const char *kind, const char *name, const char *status)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string("progress"));
	json_object_object_add(ev, "kind", json_object_new_string(kind));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(ev, "status", json_object_new_string(status));
	sup_client_send(c, ev);
}

static void send_end(struct sup_client *c, const char *error)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string(error ? "error" : "done"));
	if (error)
		json_object_object_add(ev, "message", json_object_new_string(error));
	sup_client_send(c, ev);
}

/* ---- exit ---- */

static bool any_running(struct sup *s)
{
	struct sup_ctr *c;

	for (c = s->ctrs; c; c = c->next)
		if (c->status == CTR_RUNNING || c->status == CTR_STARTING || c->stopping ||
		    c->restart_pending)
			return true;
	return false;
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	struct sup_client *cl = req->data;

	(void)status;
	free(req);
	client_close(cl);
}

static void on_idle(uv_timer_t *t)
{
	sup_maybe_exit(t->data);
}

void sup_maybe_exit(struct sup *s)
{
	struct sup_ctr *c, *next;
	struct sup_client *cl;

	if (s->exiting || (s->clients && !s->down_done) || any_running(s))
		return;
	s->exiting = true;
	for (cl = s->clients; cl; cl = cl->next) {
		uv_shutdown_t *req = xmalloc(sizeof(*req));

		req->data = cl;
		if (uv_shutdown(req, (uv_stream_t *)&cl->pipe, on_shutdown) < 0)
			free(req);
	}
	if (s->server_open) {
		s->server_open = false;
		uv_close((uv_handle_t *)&s->server, NULL);
	}
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	if (uv_is_active((uv_handle_t *)&s->idle) || s->idle.data)
		uv_close((uv_handle_t *)&s->idle, NULL);
	if (s->net_timer_open) {
		s->net_timer_open = false;
		uv_close((uv_handle_t *)&s->net_timer, NULL);
	}
	if (s->rt)
		net_runtime_stop(s->rt);
	s->rt = NULL;
	/* Exited containers stay on disk; their handles go. */
	for (c = s->ctrs; c; c = next) {
		next = c->next;
		sup_logs_close(c);
		sup_ctr_close_timers(c);
	}
}

/* ---- DNS and proxies: the network record reread once per batch ---- */

void sup_net_flush(struct sup *s)
{
	struct stk_err err;

	if (!s->net_dirty)
		return;
	s->net_dirty = false;
	if (s->net_timer_open)
		uv_timer_stop(&s->net_timer);
	if (!s->net)
		return;
	if (!s->rt) {
		if (net_runtime_start(&s->loop, s->paths.root, s->project, NULL, &s->rt, &err) < 0)
			fprintf(stderr, "stack supervise: %s\n", err.msg);
	} else if (net_runtime_reload(s->rt, &err) < 0) {
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	}
}

static void on_net_timer(uv_timer_t *t)
{
	sup_net_flush(t->data);
}

/* Timers run before the loop polls again, so a DNS query (read in the poll phase) never
 * finds the record older than the containers that have started. */
void sup_net_changed(struct sup *s)
{
	s->net_dirty = true;
	if (s->net_timer_open && !uv_is_active((uv_handle_t *)&s->net_timer))
		uv_timer_start(&s->net_timer, on_net_timer, 0, 0);
}

/* ---- requests ---- */

static struct sup_op *op_new(struct sup *s, struct sup_client *c)
{
	struct sup_op *op = xcalloc(1, sizeof(*op));

	op->s = s;
	op->client = c;
	op->pending = 1; /* released by the op's own sup_op_done at the end of dispatch */
	c->refs++;
	return op;
}

static void teardown_networks(struct sup *s, struct sup_client *cl)
{
	struct stk_err err;
	size_t i;

	if (s->rt)
		net_runtime_stop(s->rt);
	s->rt = NULL;
	net_close(s->net);
	s->net = NULL;
	for (i = 0; s->model && i < s->model->nnetworks; i++)
		if (!s->model->networks[i].external)
			sup_progress(cl, "Network", s->model->networks[i].name, "Removing");
	if (net_project_teardown(s->paths.root, s->project, &err) < 0) {
		send_end(cl, err.msg);
		return;
	}
	for (i = 0; s->model && i < s->model->nnetworks; i++)
		if (!s->model->networks[i].external)
			sup_progress(cl, "Network", s->model->networks[i].name, "Removed");
}

void sup_op_done(struct sup_op *op)
{
	struct sup *s = op->s;

	if (--op->pending > 0)
		return;
	/* down left orphans running (no --remove-orphans): they keep the networks. */
	if (op->down && s->ctrs)
		op->down = false;
	if (op->down)
		teardown_networks(s, op->error ? NULL : op->client);
	/* What it attached answers DNS before the client hears "done". */
	sup_net_flush(s);
	/* A request's transient memory (the plan, the specs, JSON) and the network
	 * libraries go back to the kernel rather than staying resident while the
	 * supervisor idles. */
	net_unload_libraries();
	malloc_trim(0);
	send_end(op->client, op->error);
	if (op->down && !op->error)
		s->down_done = true;
	client_unref(op->client);
	free(op->error);
	free(op);
	sup_maybe_exit(s);
}

static int load_model(struct sup *s, struct json_object *req, struct stk_err *err)
{
	_cleanup_free_ char *dir = state_project_dir(&s->paths, s->project);
	_cleanup_free_ char *file = xasprintf("%s/compose.json", dir);
	const char *files[1] = {file};
	const char *workdir = state_str(req, "workdir");
	struct compose_options o = {
		.files = files,
		.nfiles = 1,
		.project_name = s->project,
		.project_dir = *workdir ? workdir : NULL,
	};
	struct compose_diags d = {0};
	struct compose_project *p = NULL;

	if (compose_project_load(&o, &p, &d) < 0) {
		stk_err_set(err, EINVAL, "%s: %s", file, d.n ? d.v[0].msg : "cannot load");
		compose_diags_free(&d);
		return -1;
	}
	compose_diags_free(&d);
	if (s->model)
		compose_project_free(s->model);
	s->model = p;
	if (*state_str(req, "config_files")) {
		free(s->config_files);
		s->config_files = xstrdup(state_str(req, "config_files"));
	}
	if (*workdir) {
		free(s->workdir);
		s->workdir = xstrdup(workdir);
	}
	return 0;
}

static bool wanted(struct json_object *req, const char *service)
{
	struct json_object *v;
	size_t i;

	if (!json_object_object_get_ex(req, "services", &v) || !json_object_array_length(v))
		return true;
	for (i = 0; i < json_object_array_length(v); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(v, i)), service))
			return true;
	return false;
}

static struct sup_ctr *find_ctr(struct sup *s, const char *service, int number)
{
	struct sup_ctr *c;

	for (c = s->ctrs; c; c = c->next)
		if (!strcmp(c->service, service) && c->number == number)
			return c;
	return NULL;
}

static int create_networks(struct sup *s, struct sup_client *cl, bool reuse, struct stk_err *err)
{
	_cleanup_free_ char *record = xasprintf("%s/net/%s.json", s->paths.root, s->project);
	bool fresh = access(record, F_OK) < 0;
	size_t i;

	if (!s->net && net_open(s->paths.root, s->project, NULL, &s->net, err) < 0)
		return -1;
	for (i = 0; i < s->model->nnetworks; i++) {
		const struct compose_network *n = &s->model->networks[i];
		struct net_network_spec ns = {
			.name = n->key,
			.internal = n->internal,
			.enable_ipv6 = n->enable_ipv6,
			.reuse = reuse,
		};
		size_t j;

		if (n->external)
			return stk_err_set(err, ENOTSUP,
					   "network %s: external networks are not "
					   "supported yet",
					   n->key);
		for (j = 0; j < n->nipam; j++) {
			bool v6 = n->subnets[j] && strchr(n->subnets[j], ':');

			if (v6) {
				ns.subnet6 = n->subnets[j];
				ns.gateway6 = n->gateways[j];
			} else {
				ns.subnet = n->subnets[j];
				ns.gateway = n->gateways[j];
				ns.ip_range = n->ip_ranges[j];
			}
		}
		if (fresh)
			sup_progress(cl, "Network", n->name, "Creating");
		if (net_network_create(s->net, &ns, err) < 0)
			return stk_err_wrap(err, "network %s", n->name);
		if (fresh)
			sup_progress(cl, "Network", n->name, "Created");
	}
	return 0;
}

int super_networks_create(const struct state_paths *paths, struct compose_project *model,
			  struct stk_err *err)
{
	struct sup s = {.paths = *paths, .project = model->name, .model = model};
	int rc = create_networks(&s, NULL, true, err);

	net_close(s.net);
	return rc;
}

/* ---- up: a job that starts services as their dependencies allow ---- */

struct up_job {
	struct up_job *next;
	struct sup_op *op;
	struct json_object *req;
	size_t *order;
	bool *done; /* by position in order: up_service() saw it through (or it failed) */
	/* The images the CLI is still pulling for this up ({ref: null}) or failed to pull
	 * ({ref: "why"}); those that landed are gone from it. */
	struct json_object *images;
	char *image_error; /* the first service that failed for its image: the job's error */
	bool wait; /* --wait: end when every service runs and is healthy */
	uv_timer_t deadline; /* --wait-timeout */
	bool deadline_open;
	bool waiting_printed;
	bool recreated_done;
	/* Starts under way (the engine's children setting themselves up, several at once),
	 * and the first failure: the job ends only when none is in flight. */
	int inflight;
	char *error;
	/* depends_on.restart: services whose containers this up recreated, and the
	 * dependents it stopped to start them again after. */
	struct json_object *recreated, *bounced;
};

static struct up_job *up_jobs;

static bool svc_containers(struct sup *s, const char *svc, bool (*ok)(struct sup_ctr *), bool *any)
{
	struct sup_ctr *c;
	bool all = true;

	*any = false;
	for (c = s->ctrs; c; c = c->next) {
		if (strcmp(c->service, svc))
			continue;
		*any = true;
		all &= ok(c);
	}
	return all;
}

static bool any_ctr(struct sup_ctr *c)
{
	(void)c;
	return true;
}

static bool is_running(struct sup_ctr *c)
{
	return c->status == CTR_RUNNING;
}

static bool is_starting(struct sup_ctr *c)
{
	return c->status == CTR_STARTING;
}

static bool is_healthy(struct sup_ctr *c)
{
	return c->status == CTR_RUNNING &&
	       (c->health.status == HEALTH_HEALTHY || c->health.status == HEALTH_NONE);
}

static bool is_unhealthy(struct sup_ctr *c)
{
	return c->health.status == HEALTH_UNHEALTHY;
}

static bool is_completed(struct sup_ctr *c)
{
	return c->status == CTR_EXITED && c->exit_code == 0;
}

static bool is_failed(struct sup_ctr *c)
{
	return c->status == CTR_EXITED && c->exit_code != 0;
}

static struct sup_ctr *first_of(struct sup *s, const char *svc, bool (*pred)(struct sup_ctr *))
{
	struct sup_ctr *c;

	for (c = s->ctrs; c; c = c->next)
		if (!strcmp(c->service, svc) && pred(c))
			return c;
	return NULL;
}

/* 1: every depends_on condition of svc holds; 0: not yet; -1: one never will. */
static int deps_ready(struct sup *s, struct up_job *j, const struct compose_service *svc,
		      struct stk_err *err)
{
	size_t i;

	for (i = 0; i < svc->ndepends_on; i++) {
		const struct compose_depend *d = &svc->depends_on[i];
		const char *cond = d->condition ? d->condition : "service_started";
		struct sup_ctr *bad;
		bool any;

		/* Not asked for (--no-deps) and not there: not waited for. */
		if (!wanted(j->req, d->service) && !first_of(s, d->service, any_ctr))
			continue;
		if (compose_service_index(s->model, d->service) < 0) {
			if (!d->required)
				continue;
			return stk_err_set(err, ENOENT, "%s: depends on undefined service %s",
					   svc->name, d->service);
		}
		if (!strcmp(cond, "service_healthy")) {
			if ((bad = first_of(s, d->service, is_unhealthy)))
				return stk_err_set(err, EIO,
						   "dependency failed to start: container %s "
						   "is unhealthy: %s",
						   bad->name, bad->health.output);
			if ((bad = first_of(s, d->service, is_failed)))
				return stk_err_set(err, EIO,
						   "dependency failed to start: container %s "
						   "exited (%d)",
						   bad->name, bad->exit_code);
			if (!svc_containers(s, d->service, is_healthy, &any) || !any)
				return 0;
		} else if (!strcmp(cond, "service_completed_successfully")) {
			if ((bad = first_of(s, d->service, is_failed)))
				return stk_err_set(err, EIO,
						   "service \"%s\" didn't complete "
						   "successfully: exit %d",
						   d->service, bad->exit_code);
			if (!svc_containers(s, d->service, is_completed, &any) || !any)
				return 0;
		} else if (first_of(s, d->service, is_starting) ||
			   (!svc_containers(s, d->service, is_running, &any) && !any)) {
			/* Started means exec'd: a start still under way is waited for. */
			return 0;
		}
	}
	return 1;
}

/* Does the container still match its service (config hash and image)? */
static bool ctr_current(struct sup *s, struct sup_ctr *c, const struct compose_service *svc)
{
	_cleanup_free_ char *hash = compose_recorded_hash(s->model, svc->name);
	_cleanup_free_ char *image_id = sup_image_id(s, svc->image);

	return hash && !strcmp(hash, state_str(c->config, "config_hash")) &&
	       (!image_id || !strcmp(image_id, state_str(c->config, "image_id"))) &&
	       sup_netmode_current(s, c, svc);
}

static int replicas_of(struct json_object *req, const struct compose_service *svc)
{
	struct json_object *scale, *v;

	if (json_object_object_get_ex(req, "scale", &scale) &&
	    json_object_object_get_ex(scale, svc->name, &v))
		return json_object_get_int(v);
	return svc->replicas >= 0 ? svc->replicas : 1;
}

static bool named_in(struct json_object *req, const char *key, const char *service)
{
	struct json_object *v;
	size_t i;

	if (!json_object_object_get_ex(req, key, &v))
		return false;
	for (i = 0; i < json_object_array_length(v); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(v, i)), service))
			return true;
	return false;
}

/* --always-recreate-deps: the dependencies the named services brought are recreated. */
static const char *recreate_of(struct up_job *j, const struct compose_service *svc)
{
	if (state_int(j->req, "always_recreate_deps") &&
	    json_object_object_get_ex(j->req, "named", NULL) &&
	    !named_in(j->req, "named", svc->name))
		return "force";
	return state_str(j->req, "recreate");
}

static int req_timeout_ms(struct json_object *req, const struct sup_ctr *c);

static bool in_list(struct json_object *a, const char *name)
{
	size_t i;

	for (i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), name))
			return true;
	return false;
}

static bool restarts_with_dependency(struct up_job *j, const struct compose_service *svc)
{
	size_t i;

	for (i = 0; i < svc->ndepends_on; i++)
		if (svc->depends_on[i].restart && in_list(j->recreated, svc->depends_on[i].service))
			return true;
	return false;
}

static void job_started(struct sup_ctr *c, int rc, const struct stk_err *err, void *arg);

/* 1: the service's containers are as wanted and their starts begun; 0: a container is
 * being stopped to be recreated or scaled away (sup_changed() comes back); -1: failed. */
static int up_service(struct sup *s, struct up_job *j, const struct compose_service *svc,
		      struct stk_err *err)
{
	struct sup_client *cl = j->op->client;
	const char *recreate = recreate_of(j, svc);
	int n, want = replicas_of(j->req, svc);
	struct sup_ctr *c, *next;
	bool busy = false, fresh;

	/* Scaled down, or recreated: the old containers go first (their names return). */
	for (c = s->ctrs; c; c = next) {
		next = c->next;
		if (strcmp(c->service, svc->name))
			continue;
		if (c->stopping)
			continue;
		if (c->number <= want && strcmp(recreate, "force") &&
		    (!strcmp(recreate, "never") || ctr_current(s, c, svc)))
			continue;
		if (c->number <= want && !strcmp(recreate, "force") && j->recreated_done)
			continue;
		if (c->number <= want) {
			sup_progress(cl, "Container", c->name, "Recreate");
			if (!in_list(j->recreated, svc->name))
				json_object_array_add(j->recreated,
						      json_object_new_string(svc->name));
		}
		/* Compose hands a recreated container's anonymous volumes to the new one. */
		c->keep_anon_volumes = c->number <= want &&
				       !state_int(j->req, "renew_anon_volumes");
		j->op->pending++;
		sup_ctr_stop(c, sup_ctr_stop_signal(c), req_timeout_ms(j->req, c), true, j->op);
	}
	/* depends_on with restart: true on a service recreated above: restarted too. */
	if (restarts_with_dependency(j, svc) && !in_list(j->bounced, svc->name)) {
		json_object_array_add(j->bounced, json_object_new_string(svc->name));
		for (c = s->ctrs; c; c = c->next) {
			if (strcmp(c->service, svc->name) || c->status != CTR_RUNNING ||
			    c->stopping)
				continue;
			sup_progress(cl, "Container", c->name, "Restarting");
			j->op->pending++;
			sup_ctr_stop(c, sup_ctr_stop_signal(c), req_timeout_ms(j->req, c), false,
				     j->op);
		}
	}
	/* A container that did not run is gone already; one that runs is on its way. */
	for (c = s->ctrs; c; c = c->next)
		busy |= !strcmp(c->service, svc->name) && c->stopping;
	if (busy)
		return 0;
	j->recreated_done = false;
	for (n = 1; n <= want; n++) {
		c = find_ctr(s, svc->name, n);
		if (c && c->status == CTR_RUNNING) {
			sup_progress(cl, "Container", c->name, "Running");
			continue;
		}
		/* A restart under way: its dependents wait for it as for any start. */
		if (c && c->status == CTR_STARTING)
			continue;
		/* It exited a moment ago: its handles close before it starts again. */
		if (c && c->closing)
			return 0;
		fresh = !c;
		if (!c) {
			_cleanup_free_ char *name =
				svc->container_name
					? xstrdup(svc->container_name)
					: xasprintf("%s-%s-%d", s->project, svc->name, n);

			sup_progress(cl, "Container", name, "Creating");
			if (sup_ctr_create(s, svc, n, &c, err) < 0)
				return stk_err_wrap(err, "%s", svc->name);
			sup_progress(cl, "Container", c->name, "Created");
		}
		if (state_int(j->req, "no_start"))
			continue; /* create, up --no-start */
		c->fresh = fresh;
		sup_progress(cl, "Container", c->name, "Starting");
		if (sup_ctr_start(c, job_started, j, err) < 0) {
			struct stk_err ignored;

			/* A container that never ran is not left half-made. */
			if (fresh)
				sup_ctr_remove(c, &ignored);
			return stk_err_wrap(err, "%s", svc->name);
		}
		j->inflight++;
	}
	return 1;
}

static void job_advance(struct sup *s, struct up_job *j);

/* A container of the job has exec'd (or failed): its dependents may go on. */
static void job_started(struct sup_ctr *c, int rc, const struct stk_err *err, void *arg)
{
	struct up_job *j = arg;

	j->inflight--;
	if (rc < 0) {
		struct stk_err ignored;

		if (!j->error)
			j->error = xasprintf("%s: %s", c->service, err->msg);
		/* A container that never ran is not left half-made. */
		if (c->fresh && !c->forgotten)
			sup_ctr_remove(c, &ignored);
	} else {
		sup_progress(j->op->client, "Container", c->name, "Started");
	}
	sup_changed(c->s);
}

static void on_job_closed(uv_handle_t *h)
{
	free(h->data); /* the job: its deadline timer is inside it */
}

static void job_end(struct up_job *j, const char *error)
{
	struct up_job **pp;

	for (pp = &up_jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	struct sup_op *op = j->op;

	if (error && !op->error)
		op->error = xstrdup(error);
	if (error && !op->s->ctrs) {
		/* The project's first up failed: its networks go with it. */
		op->down = true;
	}
	json_object_put(j->req);
	json_object_put(j->recreated);
	json_object_put(j->bounced);
	json_object_put(j->images);
	free(j->image_error);
	free(j->order);
	free(j->done);
	free(j->error);
	if (j->deadline_open)
		uv_close((uv_handle_t *)&j->deadline, on_job_closed);
	else
		free(j);
	sup_op_done(op);
}

/* --wait: every wanted service's containers run and are healthy. */
static int wait_done(struct sup *s, struct up_job *j, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < s->model->nservices; i++) {
		const struct compose_service *svc = &s->model->services[i];
		struct sup_ctr *c;

		if (!wanted(j->req, svc->name))
			continue;
		for (c = s->ctrs; c; c = c->next) {
			if (strcmp(c->service, svc->name))
				continue;
			if (c->health.status == HEALTH_UNHEALTHY)
				return stk_err_set(err, EIO, "container %s is unhealthy: %s",
						   c->name, c->health.output);
			if (c->status == CTR_EXITED && c->exit_code != 0)
				return stk_err_set(err, EIO, "container %s exited (%d)", c->name,
						   c->exit_code);
			if (!is_healthy(c) && c->status != CTR_EXITED)
				return 0;
		}
	}
	return 1;
}

/* 1: the images of svc and of what it depends on are in the store; 0: the CLI is still
 * pulling one; -1: one could not be pulled (err names the service). */
static int image_ready(struct sup *s, struct up_job *j, const struct compose_service *svc,
		       struct stk_err *err)
{
	struct json_object *why;
	size_t i;
	int r;

	if (svc->image && json_object_object_get_ex(j->images, svc->image, &why))
		return why ? stk_err_set(err, EIO, "service %s: %s", svc->name,
					 json_object_get_string(why))
			   : 0;
	for (i = 0; i < svc->ndepends_on; i++) {
		const struct compose_depend *d = &svc->depends_on[i];
		int k = compose_service_index(s->model, d->service);

		if (k < 0 || (r = image_ready(s, j, &s->model->services[k], err)) == 1)
			continue;
		/* required: false goes on without a dependency that will never run. */
		if (r < 0 && !d->required)
			continue;
		if (r < 0)
			return stk_err_wrap(err, "service %s: dependency failed to start",
					    svc->name);
		return 0;
	}
	return 1;
}

/* The timer of --wait-timeout runs from when the images are all there, as Compose's
 * covers the start and not the pull. */
static void on_wait_timeout(uv_timer_t *t);

static void job_arm_deadline(struct sup *s, struct up_job *j)
{
	long long timeout = state_int(j->req, "wait_timeout");

	if (!j->wait || timeout <= 0 || j->deadline_open)
		return;
	json_object_object_foreach(j->images, ref, why)
	{
		(void)ref;
		if (!why)
			return; /* still pulling */
	}
	uv_timer_init(&s->loop, &j->deadline);
	j->deadline.data = j;
	j->deadline_open = true;
	uv_timer_start(&j->deadline, on_wait_timeout, (uint64_t)timeout * 1000, 0);
}

/* The job failed: it ends once no start of it is in flight (each one's callback needs
 * it), and starts nothing new meanwhile. */
static void job_fail(struct up_job *j, const char *msg)
{
	if (!j->error)
		j->error = xstrdup(msg);
}

static void job_advance(struct sup *s, struct up_job *j)
{
	struct stk_err err;
	bool held = false; /* a service waits for its image */
	size_t i;
	int r;

	job_arm_deadline(s, j);
	for (i = 0; !j->error && i < s->model->nservices; i++) {
		const struct compose_service *svc = &s->model->services[j->order[i]];

		if (j->done[i])
			continue;
		if (!wanted(j->req, svc->name)) {
			j->done[i] = true;
			continue;
		}
		/* Services whose images are still coming wait; the others go on. */
		r = image_ready(s, j, svc, &err);
		if (r == 0) {
			held = true;
			continue;
		}
		if (r < 0) {
			if (!j->image_error)
				j->image_error = xstrdup(err.msg);
			j->done[i] = true;
			continue;
		}
		/* Nothing starts: nothing waits for a dependency either. */
		r = state_int(j->req, "no_start") ? 1 : deps_ready(s, j, svc, &err);
		if (r < 0) {
			job_fail(j, err.msg);
			break;
		}
		if (r == 0)
			return; /* sup_changed() brings us back */
		r = up_service(s, j, svc, &err);
		if (r < 0) {
			job_fail(j, err.msg);
			break;
		}
		if (r == 0) {
			/* --force-recreate replaces each container once, not on every pass. */
			j->recreated_done = !strcmp(recreate_of(j, svc), "force");
			return;
		}
		j->done[i] = true;
	}
	if (j->inflight > 0)
		return; /* each start's end brings us back */
	if (j->error) {
		job_end(j, j->error);
		return;
	}
	if (held)
		return; /* image_landed() or client_gone() brings us back */
	if (j->image_error) {
		job_end(j, j->image_error);
		return;
	}
	if (j->wait) {
		if (!j->waiting_printed) {
			struct sup_ctr *c;

			j->waiting_printed = true;
			for (c = s->ctrs; c; c = c->next)
				if (wanted(j->req, c->service))
					sup_progress(j->op->client, "Container", c->name,
						     "Waiting");
		}
		r = wait_done(s, j, &err);
		if (r < 0) {
			job_end(j, err.msg);
			return;
		}
		if (r == 0)
			return;
		{
			struct sup_ctr *c;

			for (c = s->ctrs; c; c = c->next)
				if (wanted(j->req, c->service))
					sup_progress(j->op->client, "Container", c->name,
						     c->health.status == HEALTH_HEALTHY ? "Healthy"
						     : c->status == CTR_EXITED		? "Exited"
									       : "Started");
		}
	}
	job_end(j, NULL);
}

void sup_changed(struct sup *s)
{
	struct up_job *j, *next;

	for (j = up_jobs; j; j = next) {
		next = j->next;
		job_advance(s, j);
	}
}

static void on_wait_timeout(uv_timer_t *t)
{
	struct up_job *j = t->data;
	struct sup *s = j->op->s;
	struct sup_ctr *c;
	_cleanup_free_ char *msg = NULL;

	for (c = s->ctrs; c && !msg; c = c->next)
		if (wanted(j->req, c->service) && !is_healthy(c) && c->status != CTR_EXITED)
			msg = xasprintf("timeout waiting for container %s to be healthy%s%s",
					c->name, *c->health.output ? ": " : "", c->health.output);
	job_fail(j, msg ? msg : "timeout waiting for the project to be ready");
	job_advance(s, j);
}

/* {"op":"image","image":REF} or with "error": the CLI whose up is waiting pulled REF,
 * or could not. Its services go on, or fail with their dependents. No reply. */
static void image_landed(struct sup_client *cl, struct json_object *req)
{
	const char *ref = state_str(req, "image");
	struct json_object *why;
	struct up_job *j;

	for (j = up_jobs; j; j = j->next) {
		if (j->op->client != cl || !json_object_object_get_ex(j->images, ref, NULL))
			continue;
		if (json_object_object_get_ex(req, "error", &why))
			json_object_object_add(j->images, ref, json_object_get(why));
		else
			json_object_object_del(j->images, ref);
	}
	sup_changed(cl->s);
}

/* The CLI that was pulling for an up went away: what it had not pulled never comes. */
static void up_client_gone(struct sup_client *c)
{
	struct up_job *j;
	bool any = false;

	for (j = up_jobs; j; j = j->next) {
		if (j->op->client != c)
			continue;
		json_object_object_foreach(j->images, ref, why)
		{
			if (why)
				continue;
			json_object_object_add(j->images, ref,
					       json_object_new_string(
						       "the pull stopped: the stack "
						       "command that pulled it went away"));
			any = true;
		}
	}
	if (any)
		sup_changed(c->s);
}

static void remove_orphans(struct sup *s, struct sup_op *op)
{
	struct sup_ctr *c, *next;

	for (c = s->ctrs; c; c = next) {
		next = c->next;
		if (compose_service_index(s->model, c->service) >= 0)
			continue;
		op->pending++;
		sup_ctr_stop(c, sup_ctr_stop_signal(c), sup_ctr_grace_ms(c), true, op);
	}
}

static int apply_up(struct sup *s, struct sup_op *op, struct json_object *req, struct stk_err *err)
{
	struct up_job *j;
	struct json_object *pulling;
	size_t i;

	if (load_model(s, req, err) < 0 ||
	    create_networks(s, op->client, state_int(req, "keep_network_rules") != 0, err) < 0)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->op = op;
	op->pending++;
	j->req = json_object_get(req);
	j->recreated = json_object_new_array();
	j->bounced = json_object_new_array();
	j->wait = state_int(req, "wait") != 0;
	j->order = xcalloc(s->model->nservices + 1, sizeof(*j->order));
	j->done = xcalloc(s->model->nservices + 1, sizeof(*j->done));
	compose_start_order(s->model, j->order);
	j->images = json_object_new_object();
	if (json_object_object_get_ex(req, "pulling", &pulling))
		for (i = 0; i < json_object_array_length(pulling); i++)
			json_object_object_add(j->images,
					       json_object_get_string(
						       json_object_array_get_idx(pulling, i)),
					       NULL);
	j->next = up_jobs;
	up_jobs = j;
	if (state_int(req, "remove_orphans"))
		remove_orphans(s, op);
	job_advance(s, j);
	return 0;
}

static int req_timeout_ms(struct json_object *req, const struct sup_ctr *c)
{
	struct json_object *v;

	if (json_object_object_get_ex(req, "timeout", &v) && json_object_get_int(v) >= 0)
		return json_object_get_int(v) * 1000;
	return sup_ctr_grace_ms(c);
}

/* down without --remove-orphans: "keep_orphans" lists the services the file has now;
 * the containers of any other are left as they are. */
static bool orphan_kept(struct json_object *req, const char *service)
{
	struct json_object *v;
	size_t i;

	if (!json_object_object_get_ex(req, "keep_orphans", &v))
		return false;
	for (i = 0; i < json_object_array_length(v); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(v, i)), service))
			return false;
	return true;
}

/* stop, down: every matching container stopped (and removed), the op ending when the
 * last is. */
static void stop_all(struct sup *s, struct sup_op *op, struct json_object *req, bool remove)
{
	struct sup_ctr *c, *next;

	for (c = s->ctrs; c; c = next) {
		next = c->next;
		if (!wanted(req, c->service) || orphan_kept(req, c->service))
			continue;
		if (!remove && c->status != CTR_RUNNING && c->status != CTR_STARTING &&
		    !c->restart_pending)
			continue;
		op->pending++;
		sup_ctr_stop(c, sup_ctr_stop_signal(c), req_timeout_ms(req, c), remove, op);
	}
}

/* rm: the matching containers that do not run (with "stop", those that run too). */
static void remove_stopped(struct sup *s, struct sup_op *op, struct json_object *req)
{
	struct sup_ctr *c, *next;

	for (c = s->ctrs; c; c = next) {
		next = c->next;
		if (!wanted(req, c->service) ||
		    ((c->status == CTR_RUNNING || c->restart_pending) && !state_int(req, "stop")))
			continue;
		c->remove_anon_volumes = state_int(req, "volumes") != 0;
		op->pending++;
		sup_ctr_stop(c, sup_ctr_stop_signal(c), req_timeout_ms(req, c), true, op);
	}
}

/* start: the stopped containers of the wanted services, one after another in
 * dependency order (each once the one before has exec'd). */
struct start_chain {
	struct sup_op *op;
	char **ids; /* the containers to start, in order */
	size_t n, next;
};

static void chain_next(struct start_chain *ch);

static void chain_end(struct start_chain *ch, const char *error)
{
	struct sup_op *op = ch->op;
	size_t i;

	if (error && !op->error)
		op->error = xstrdup(error);
	for (i = 0; i < ch->n; i++)
		free(ch->ids[i]);
	free(ch->ids);
	free(ch);
	sup_op_done(op);
}

static void chain_started(struct sup_ctr *c, int rc, const struct stk_err *err, void *arg)
{
	struct start_chain *ch = arg;

	if (rc < 0) {
		chain_end(ch, err->msg);
		return;
	}
	sup_progress(ch->op->client, "Container", c->name, "Started");
	chain_next(ch);
}

static void chain_next(struct start_chain *ch)
{
	struct sup *s = ch->op->s;
	struct stk_err err;

	while (ch->next < ch->n) {
		const char *id = ch->ids[ch->next++];
		struct sup_ctr *c;

		for (c = s->ctrs; c && strcmp(c->id, id); c = c->next)
			;
		if (!c || c->status == CTR_RUNNING || c->status == CTR_STARTING)
			continue;
		sup_progress(ch->op->client, "Container", c->name, "Starting");
		if (sup_ctr_start(c, chain_started, ch, &err) < 0)
			chain_end(ch, err.msg);
		return;
	}
	chain_end(ch, NULL);
}

static int start_wanted(struct sup *s, struct sup_op *op, struct json_object *req,
			struct stk_err *err)
{
	struct start_chain *ch;
	size_t *order, i;

	if (!s->model && load_model(s, req, err) < 0)
		return -1;
	ch = xcalloc(1, sizeof(*ch));
	ch->op = op;
	ch->ids = xcalloc(1, sizeof(*ch->ids));
	order = xcalloc(s->model->nservices + 1, sizeof(*order));
	compose_start_order(s->model, order);
	for (i = 0; i < s->model->nservices; i++) {
		const char *svc = s->model->services[order[i]].name;
		struct sup_ctr *c;

		if (!wanted(req, svc))
			continue;
		for (c = s->ctrs; c; c = c->next) {
			if (strcmp(c->service, svc) || c->status == CTR_RUNNING)
				continue;
			ch->ids = xrealloc(ch->ids, (ch->n + 1) * sizeof(*ch->ids));
			ch->ids[ch->n++] = xstrdup(c->id);
		}
	}
	free(order);
	op->pending++;
	chain_next(ch);
	return 0;
}

static void kill_wanted(struct sup *s, struct sup_client *cl, struct json_object *req)
{
	int sig = (int)state_int(req, "signal");
	struct sup_ctr *c;
	struct stk_err err;

	for (c = s->ctrs; c; c = c->next) {
		if (!wanted(req, c->service) || c->status != CTR_RUNNING || !c->ec)
			continue;
		sup_progress(cl, "Container", c->name, "Killing");
		c->manual_stop = true;
		if (engine_kill(c->ec, sig ? sig : SIGKILL, &err) == 0) {
			sup_event(c, "kill", "signal", sig ? sig : SIGKILL);
			sup_progress(cl, "Container", c->name, "Killed");
		}
	}
}

static void dispatch(struct sup_client *cl, struct json_object *req)
{
	struct sup *s = cl->s;
	const char *op = state_str(req, "op");
	struct sup_op *o;
	struct stk_err err;

	/* Events stream until the client closes: no op, no "done". */
	if (!strcmp(op, "subscribe")) {
		sup_events_subscribe(s, cl);
		return;
	}
	if (!strcmp(op, "notify")) {
		sup_events_notify(s, cl, req);
		return;
	}
	if (!strcmp(op, "image")) {
		image_landed(cl, req);
		return;
	}
	sup_ctr_notice_exits(s);
	o = op_new(s, cl);
	if (!strcmp(op, "up") || !strcmp(op, "start")) {
		if ((!strcmp(op, "up") ? apply_up(s, o, req, &err)
				       : start_wanted(s, o, req, &err)) < 0)
			o->error = xstrdup(err.msg);
	} else if (!strcmp(op, "down")) {
		if (!s->model && load_model(s, req, &err) < 0)
			o->error = xstrdup(err.msg);
		else {
			o->down = true;
			stop_all(s, o, req, true);
		}
	} else if (!strcmp(op, "stop")) {
		stop_all(s, o, req, false);
	} else if (!strcmp(op, "rm")) {
		remove_stopped(s, o, req);
	} else if (!strcmp(op, "kill")) {
		kill_wanted(s, cl, req);
	} else if (!strcmp(op, "reload-net")) {
		/* A container the CLI attached (`run`): DNS and the loopback proxies follow. */
		if (s->rt && net_runtime_reload(s->rt, &err) < 0)
			o->error = xstrdup(err.msg);
	} else {
		o->error = xasprintf("unknown request \"%s\"", op);
	}
	sup_op_done(o);
}

static void on_client_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct sup_client *cl = h->data;
	char *nl;

	if (nread < 0) {
		free(buf->base);
		client_close(cl);
		return;
	}
	strbuf_addn(&cl->in, buf->base, (size_t)nread);
	free(buf->base);
	while (cl->in.buf && (nl = memchr(cl->in.buf, '\n', cl->in.len))) {
		size_t len = (size_t)(nl - cl->in.buf) + 1;
		struct json_object *req;

		*nl = '\0';
		req = json_tokener_parse(cl->in.buf);
		memmove(cl->in.buf, cl->in.buf + len, cl->in.len - len);
		cl->in.len -= len;
		if (!req) {
			send_end(cl, "request is not JSON");
			continue;
		}
		dispatch(cl, req);
		json_object_put(req);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	*buf = uv_buf_init(xmalloc(suggested), (unsigned)suggested);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct sup *s = server->data;
	struct sup_client *cl;

	if (status < 0)
		return;
	cl = xcalloc(1, sizeof(*cl));
	cl->s = s;
	cl->refs = 1;
	strbuf_init(&cl->in);
	uv_pipe_init(&s->loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) < 0) {
		cl->closed = true;
		uv_close((uv_handle_t *)&cl->pipe, on_client_closed);
		return;
	}
	cl->next = s->clients;
	s->clients = cl;
	uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_client_read);
}

/* ---- main ---- */

static void ready(int fd, const char *msg)
{
	if (fd < 0)
		return;
	if (write(fd, msg, strlen(msg)) < 0) {
		/* the CLI went away: it will not wait for us */
	}
	close(fd);
}

static int sup_listen(struct sup *s, struct stk_err *err)
{
	_cleanup_free_ char *lock = NULL;
	int rc;

	s->rundir = state_run_dir(&s->paths, s->project);
	if (stk_mkdir_p(s->rundir, 0700, err) < 0)
		return -1;
	lock = xasprintf("%s/supervisor.lock", s->rundir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	/* A supervisor on its way out still holds it: wait for it to be gone. */
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX) < 0)
		return stk_err_sys(err, "lock %s", lock);
	/* Bound by a relative name: a state root may be longer than sun_path. */
	if (chdir(s->rundir) < 0)
		return stk_err_sys(err, "chdir %s", s->rundir);
	unlink("control.sock");
	uv_pipe_init(&s->loop, &s->server, 0);
	s->server.data = s;
	s->server_open = true;
	rc = uv_pipe_bind(&s->server, "control.sock");
	if (rc == 0)
		rc = chmod("control.sock", 0600) < 0 ? -errno : 0;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->server, 64, on_connection);
	if (rc < 0)
		return stk_err_set(err, -rc, "listen on %s/control.sock: %s", s->rundir,
				   uv_strerror(rc));
	return 0;
}

int super_main(const struct state_paths *paths, const char *project, int ready_fd)
{
	struct sup s = {0};
	struct stk_err err;
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	s.paths = *paths;
	s.project = xstrdup(project);
	s.lock_fd = -1;
	uv_loop_init(&s.loop);
	uv_signal_init(&s.loop, &s.sigterm);
	uv_signal_start(&s.sigterm, on_signal, SIGHUP);
	if (image_store_open(paths->root, &s.store, &err) < 0 || sup_listen(&s, &err) < 0) {
		_cleanup_free_ char *msg = xasprintf("error: %s\n", err.msg);

		ready(ready_fd, msg);
		s.exiting = true;
		if (s.server_open)
			uv_close((uv_handle_t *)&s.server, NULL);
		uv_close((uv_handle_t *)&s.sigterm, NULL);
		rc = 1;
	} else {
		_cleanup_free_ char *pdir = state_project_dir(paths, project);

		/* A CLI that died before it connected must not leave an idle supervisor. */
		uv_timer_init(&s.loop, &s.idle);
		s.idle.data = &s;
		uv_timer_start(&s.idle, on_idle, SUP_IDLE_MS, 0);
		uv_unref((uv_handle_t *)&s.idle);
		uv_timer_init(&s.loop, &s.net_timer);
		s.net_timer.data = &s;
		s.net_timer_open = true;
		_cleanup_free_ char *model = xasprintf("%s/compose.json", pdir);

		/* Containers left running by a previous supervisor are adopted with their model. */
		if (access(model, F_OK) == 0 && load_model(&s, NULL, &err) < 0)
			fprintf(stderr, "stack supervise: %s\n", err.msg);
		sup_ctr_load_recorded(&s);
		ready(ready_fd, "ok\n");
	}
	uv_run(&s.loop, UV_RUN_DEFAULT);
	uv_loop_close(&s.loop);
	while (s.ctrs) {
		struct sup_ctr *c = s.ctrs;

		s.ctrs = c->next;
		sup_ctr_free(c);
	}
	net_close(s.net);
	if (s.rundir) {
		_cleanup_free_ char *sock = xasprintf("%s/control.sock", s.rundir);
		_cleanup_free_ char *lock = xasprintf("%s/supervisor.lock", s.rundir);

		if (chdir("/") < 0) {
			/* nothing depends on the directory any more */
		}
		if (rc == 0) {
			_cleanup_free_ char *log = xasprintf("%s/supervisor.log", s.rundir);
			struct stat st;

			unlink(sock);
			unlink(lock);
			/* Its log is kept when it has something to say. */
			if (stat(log, &st) == 0 && st.st_size == 0)
				unlink(log);
			rmdir(s.rundir);
			state_project_forget_unused(paths, project);
		}
	}
	if (s.model)
		compose_project_free(s.model);
	if (s.anon_kept)
		json_object_put(s.anon_kept);
	image_store_free(s.store);
	free(s.config_files);
	free(s.workdir);
	free(s.rundir);
	free(s.project);
	/* s.lock_fd stays open until the process is gone (after any exit handler, such as
	 * the leak checker's): a `down` waits on this lock for the supervisor to be gone. */
	return rc;
}

int super_netns_new(int *out, struct stk_err *err)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd;

	if (self < 0)
		return stk_err_sys(err, "open /proc/self/ns/net");
	if (unshare(CLONE_NEWNET) < 0)
		return stk_err_sys(err, "create a network namespace");
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Still inside the new namespace: nothing after this would be right. */
		fprintf(stderr, "stack: return to the host's network namespace: %s\n",
			strerror(errno));
		abort();
	}
	if (fd < 0)
		return stk_err_sys(err, "open the new network namespace");
	*out = fd;
	return 0;
}

/* One container's life inside the supervisor: create (its record), start (network
 * namespace and endpoints, /etc files, log FIFOs, the engine), watch its pidfd, stop
 * with the stop signal and a grace timer, and remove. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "compose/compose.h"
#include "net/net.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

#define HOST_RESOLV_CONF "/etc/resolv.conf"

/* engine_remove() says "not yet" (1) while PID 1 is unreaped or the cgroup is still
 * busy: a timer asks again, so the loop never waits. The timer keeps the loop, and so
 * the supervisor (and `down`, which waits for it), alive until the container is gone. */
struct sup_reap {
	uv_timer_t timer;
	struct engine_container *ec;
};

static void reap_closed(uv_handle_t *h)
{
	free(h->data);
}

static bool reap_try(struct engine_container *ec)
{
	struct stk_err err;
	int rc = engine_remove(ec, &err);

	if (rc == 1)
		return false;
	if (rc < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	engine_container_free(ec);
	return true;
}

static void reap_tick(uv_timer_t *t)
{
	struct sup_reap *r = t->data;

	if (!reap_try(r->ec))
		return;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, reap_closed);
}

void sup_engine_remove(struct sup *s, struct engine_container *ec)
{
	struct sup_reap *r;

	if (!ec || reap_try(ec))
		return;
	r = xcalloc(1, sizeof(*r));
	r->ec = ec;
	uv_timer_init(&s->loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, reap_tick, ENGINE_RETRY_MS, ENGINE_RETRY_MS);
}

static char *random_id(void)
{
	unsigned char b[32];
	char *s = xmalloc(65);
	size_t i;

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		for (i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)rand();
	for (i = 0; i < sizeof(b); i++)
		snprintf(s + 2 * i, 3, "%02x", b[i]);
	return s;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const struct compose_service *sup_ctr_service(const struct sup_ctr *c)
{
	int i = c->s->model ? compose_service_index(c->s->model, c->service) : -1;

	return i < 0 ? NULL : &c->s->model->services[i];
}

static struct sup_ctr *ctr_new(struct sup *s, const char *id, struct json_object *config)
{
	struct sup_ctr *c = xcalloc(1, sizeof(*c));

	c->s = s;
	c->id = xstrdup(id);
	c->dir = state_container_dir(&s->paths, id);
	c->config = config;
	c->name = xstrdup(state_str(config, "name"));
	c->service = xstrdup(state_str(config, "service"));
	c->number = (int)state_int(config, "number");
	c->log_fd = c->tty_keeper = -1;
	c->out.rfd = c->err.rfd = -1;
	c->out.ctr = c->err.ctr = c;
	c->out.name = "stdout";
	c->err.name = "stderr";
	c->next = s->ctrs;
	s->ctrs = c;
	return c;
}

void sup_ctr_free(struct sup_ctr *c)
{
	engine_container_free(c->ec);
	free(c->id);
	free(c->name);
	free(c->service);
	free(c->dir);
	json_object_put(c->config);
	free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct sup_ctr *c = h->data;

	c->closing--;
	if (--c->handles == 0 && c->forgotten)
		sup_ctr_free(c);
	else if (!c->closing && !c->forgotten)
		sup_changed(c->s); /* an up waiting to start it again goes on */
}

void sup_ctr_handle_close(struct sup_ctr *c, uv_handle_t *h)
{
	h->data = c;
	c->closing++;
	uv_close(h, on_handle_closed);
}

/* Out of the list; freed once its handles are closed. */
static void ctr_forget(struct sup_ctr *c)
{
	struct sup_ctr **pp;

	for (pp = &c->s->ctrs; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->forgotten = true;
	if (c->handles == 0)
		sup_ctr_free(c);
}

static void add_label(struct json_object *labels, const char *k, const char *v)
{
	json_object_object_add(labels, k, json_object_new_string(v));
}

static char *join_argv(char **argv)
{
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb);
	for (i = 0; argv && argv[i]; i++) {
		if (i)
			strbuf_addc(&sb, ' ');
		strbuf_adds(&sb, argv[i]);
	}
	return sb.buf ? strbuf_take(&sb) : xstrdup("");
}

static int grace_ms_of(const struct compose_service *svc)
{
	return svc->stop_grace_period_ns >= 0 ? (int)(svc->stop_grace_period_ns / 1000000) : 10000;
}

/* The record of a new container: names, labels, ports, what `ps` shows. */
static struct json_object *config_new(struct sup *s, const struct compose_service *svc,
				      const char *id, const char *name, int number,
				      const char *command)
{
	struct json_object *o = json_object_new_object(), *labels = json_object_new_object();
	_cleanup_free_ char *hash = compose_recorded_hash(s->model, svc->name);
	_cleanup_free_ char *num = xasprintf("%d", number);
	const char *files = s->config_files ? s->config_files : "";
	size_t i;

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "project", json_object_new_string(s->project));
	json_object_object_add(o, "service", json_object_new_string(svc->name));
	json_object_object_add(o, "number", json_object_new_int(number));
	json_object_object_add(o, "image", json_object_new_string(svc->image));
	{
		_cleanup_free_ char *image_id = sup_image_id(s, svc->image);

		json_object_object_add(o, "image_id",
				       json_object_new_string(image_id ? image_id : ""));
	}
	json_object_object_add(o, "command", json_object_new_string(command));
	json_object_object_add(o, "created", json_object_new_int64(now_ns()));
	json_object_object_add(o, "config_hash", json_object_new_string(hash ? hash : ""));
	json_object_object_add(o, "stop_signal",
			       json_object_new_string(svc->stop_signal ? svc->stop_signal
								       : "SIGTERM"));
	json_object_object_add(o, "stop_grace_ms", json_object_new_int(grace_ms_of(svc)));
	json_object_object_add(o, "ports", sup_ports_json(svc, NULL));
	{
		_cleanup_free_ char *cg = state_cgroup_parent(s->project);

		json_object_object_add(o, "cgroup_parent", json_object_new_string(cg));
	}
	add_label(labels, "com.docker.compose.project", s->project);
	add_label(labels, "com.docker.compose.service", svc->name);
	add_label(labels, "com.docker.compose.container-number", num);
	add_label(labels, "com.docker.compose.oneoff", "False");
	add_label(labels, "com.docker.compose.config-hash", hash ? hash : "");
	add_label(labels, "com.docker.compose.image", svc->image);
	add_label(labels, "com.docker.compose.project.working_dir",
		  s->workdir ? s->workdir : s->model->workdir);
	add_label(labels, "com.docker.compose.project.config_files", files);
	add_label(labels, "com.docker.compose.version", STACK_VERSION);
	for (i = 0; i < svc->labels.n; i++)
		add_label(labels, svc->labels.v[i].key,
			  svc->labels.v[i].value ? svc->labels.v[i].value : "");
	json_object_object_add(o, "labels", labels);
	return o;
}

static int write_config(struct sup_ctr *c, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", c->dir);

	return state_write_json(path, c->config, err);
}

void sup_ctr_write_state(struct sup_ctr *c)
{
	_cleanup_free_ char *path = xasprintf("%s/state.json", c->dir);
	struct json_object *o = json_object_new_object();
	static const char *const names[] = {"created", "running", "exited", "created"};
	struct stk_err err;

	json_object_object_add(o, "status",
			       json_object_new_string(c->restart_pending ? "restarting"
									 : names[c->status]));
	json_object_object_add(o, "restart_count", json_object_new_int(c->restart_count));
	json_object_object_add(o, "exit_code", json_object_new_int(c->exit_code));
	json_object_object_add(o, "pid",
			       json_object_new_int(
				       c->status == CTR_RUNNING && c->ec ? engine_pid(c->ec) : 0));
	json_object_object_add(o, "started_at", json_object_new_int64(c->started_at));
	json_object_object_add(o, "finished_at", json_object_new_int64(c->finished_at));
	if (c->log_lost)
		json_object_object_add(o, "log_lines_lost", json_object_new_int64(c->log_lost));
	if (c->health.status != HEALTH_NONE)
		json_object_object_add(o, "health", sup_health_json(c));
	if (state_update_json(path, o, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	json_object_put(o);
}

int sup_ctr_create(struct sup *s, const struct compose_service *svc, int number,
		   struct sup_ctr **out, struct stk_err *err)
{
	struct engine_spec spec;
	_cleanup_free_ char *id = random_id(), *name = NULL, *command = NULL, *hostname = NULL;
	struct sup_ctr *c;
	int rc;

	name = svc->container_name ? xstrdup(svc->container_name)
				   : xasprintf("%s-%s-%d", s->project, svc->name, number);
	c = ctr_new(s, id, NULL);
	free(c->name);
	free(c->service);
	c->name = xstrdup(name);
	c->service = xstrdup(svc->name);
	c->number = number;
	/* Built now so a bad service fails at create, as Docker's create does. */
	engine_spec_init(&spec);
	rc = sup_spec_build(s, svc, c, &spec, NULL, err);
	command = join_argv(spec.argv);
	hostname = xstrdup(spec.hostname ? spec.hostname : "");
	engine_spec_release(&spec);
	if (rc == 0)
		rc = stk_mkdir_p(c->dir, 0700, err);
	if (rc == 0) {
		c->config = config_new(s, svc, id, name, number, command);
		/* For containers that join its network namespace (network_mode). */
		json_object_object_add(c->config, "hostname", json_object_new_string(hostname));
		rc = write_config(c, err);
	}
	if (rc < 0) {
		struct stk_err ignored;

		state_remove_tree(c->dir, &ignored);
		ctr_forget(c);
		return stk_err_wrap(err, "create %s", name);
	}
	c->status = CTR_CREATED;
	sup_ctr_write_state(c);
	sup_event(c, "create", NULL, 0);
	*out = c;
	return 0;
}

/* ---- start ---- */

/* The service's networks in order (eth0 first, with the default route). */
static int attach_networks(struct sup_ctr *c, const struct compose_service *svc, int nsfd,
			   const char *hostname, char ip[16], char ip6[46], char gw[16],
			   struct stk_err *err)
{
	struct sup *s = c->s;
	_cleanup_free_ uint16_t *host_ports = xcalloc(svc->nports + 1, sizeof(*host_ports));
	size_t i;

	if (!s->net && net_open(s->paths.root, s->project, NULL, &s->net, err) < 0)
		return -1;
	for (i = 0; i < svc->nnetworks; i++) {
		const struct compose_service_network *sn = &svc->networks[i];
		char ifname[32], addr[16];
		_cleanup_free_ const char **aliases = xcalloc(sn->aliases.n + 1, sizeof(char *));
		const struct net_port *ports = NULL;
		struct net_port *pv = NULL;
		size_t j, np = 0;
		struct net_endpoint_spec es = {
			.network = sn->name,
			.container = c->name,
			.service = svc->name,
			.id = c->id,
			.hostname = hostname,
			.ifname = ifname,
			.netns_fd = nsfd,
			.default_route = i == 0,
			.ipv4 = sn->ipv4_address,
			.ipv6 = sn->ipv6_address,
			.aliases = aliases,
			.naliases = sn->aliases.n,
			/* eth0's, for /etc/hosts and resolv.conf */
			.gateway_out = i == 0 ? gw : NULL,
			.ip6_out = i == 0 ? ip6 : NULL,
		};
		int rc;

		for (j = 0; j < sn->aliases.n; j++)
			aliases[j] = sn->aliases.v[j];
		/* Published ports go with the first network, as Docker publishes once. */
		if (i == 0 && svc->nports) {
			pv = xcalloc(svc->nports, sizeof(*pv));
			for (j = 0; j < svc->nports; j++)
				sup_port_of(&svc->ports[j], &pv[np++]);
			ports = pv;
			es.host_ports_out = host_ports;
		}
		es.ports = ports;
		es.nports = np;
		snprintf(ifname, sizeof(ifname), "eth%zu", i);
		rc = net_endpoint_attach(s->net, &es, addr, err);
		free(pv);
		if (rc < 0)
			return stk_err_wrap(err, "network %s", sn->name);
		if (i == 0 && np) {
			/* The host ports taken, for `ps` and `port`. */
			json_object_object_add(c->config, "ports", sup_ports_json(svc, host_ports));
			if (write_config(c, err) < 0)
				return -1;
		}
		if (i == 0)
			memcpy(ip, addr, 16);
	}
	return 0;
}

static int write_net_files(struct sup_ctr *c, const struct compose_service *svc,
			   const char *hostname, bool host_mode, const char *ip, const char *ip6,
			   const char *gw, struct stk_err *err)
{
	_cleanup_free_ char *hosts = xasprintf("%s/hosts", c->dir);
	_cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", c->dir);
	struct net_hosts_spec hs = {
		.hostname = hostname,
		.ip = ip,
		.ip6 = ip6,
		.extra_hosts = (const char *const *)svc->extra_hosts.v,
		.nextra = svc->extra_hosts.n,
		.host_gateway = gw	    ? gw
				: host_mode ? "127.0.0.1"
					    : NULL,
		.base = host_mode ? "/etc/hosts" : NULL,
	};
	struct net_resolv_spec rs = {
		.nameserver = gw,
		.dns = (const char *const *)svc->dns.v,
		.ndns = svc->dns.n,
		.search = (const char *const *)svc->dns_search.v,
		.nsearch = svc->dns_search.n,
		.options = (const char *const *)svc->dns_opt.v,
		.noptions = svc->dns_opt.n,
		.host_resolv_conf = HOST_RESOLV_CONF,
		.keep_loopback = host_mode,
	};

	if (net_write_hosts(hosts, &hs, err) < 0 || net_write_resolv_conf(resolv, &rs, err) < 0)
		return -1;
	return 0;
}

static void on_pidfd(uv_poll_t *h, int status, int events);
static void restart_maybe(struct sup_ctr *c);

/* A running container: its output read, its pidfd watched for the exit. */
static void watch(struct sup_ctr *c)
{
	sup_logs_attach(c);
	uv_poll_init(&c->s->loop, &c->pidpoll, engine_pidfd(c->ec));
	c->pidpoll.data = c;
	c->handles++;
	c->polling = true;
	uv_poll_start(&c->pidpoll, UV_READABLE, on_pidfd);
}

/* What a start keeps while the engine's child sets itself up: the poll on (a dup of)
 * its sync socket, and what the child still reaches by path (the network namespace as
 * /proc/<supervisor>/fd/N, staged binds) or the start still needs. */
struct sup_start {
	uv_poll_t poll;
	struct sup_ctr *c;
	int pollfd, nsfd;
	struct json_object *icfg;
	bool attached, tty;
	enum sup_ctr_status before;
};

static void start_closed(uv_handle_t *h)
{
	struct sup_start *st = h->data;
	struct sup_ctr *c = st->c;

	close(st->pollfd);
	free(st);
	if (--c->handles == 0 && c->forgotten)
		sup_ctr_free(c);
}

/* The start's resources; the poll handle closes (and keeps c allocated) until the
 * loop has run its close callback. */
static void start_release(struct sup_ctr *c, struct sup_start *st, bool ok)
{
	struct stk_err ignored;

	c->start = NULL;
	super_volumes_unstage(c->vols);
	if (st->nsfd >= 0)
		close(st->nsfd);
	st->nsfd = -1;
	if (!ok) {
		json_object_put(st->icfg);
		st->icfg = NULL;
		super_volumes_release(c->vols);
		c->vols = NULL;
		sup_logs_close(c);
		if (st->attached && c->s->net)
			net_endpoint_detach(c->s->net, c->name, &ignored);
	}
	if (st->pollfd >= 0) {
		uv_poll_stop(&st->poll);
		uv_close((uv_handle_t *)&st->poll, start_closed);
	} else {
		free(st);
		c->handles--;
	}
}

/* The child has exec'd: watched, recorded, its healthcheck begun. */
static void start_running(struct sup_ctr *c, struct sup_start *st)
{
	struct sup *s = c->s;

	if (st->tty)
		sup_logs_take_pty(c, engine_take_pty_master(c->ec));
	watch(c);
	c->status = CTR_RUNNING;
	c->exit_code = 0;
	c->manual_stop = false;
	c->started_at = now_ns();
	c->finished_at = 0;
	sup_health_start(c, st->icfg);
	json_object_put(st->icfg);
	st->icfg = NULL;
	sup_ctr_write_state(c);
	sup_event(c, "start", NULL, 0);
	sup_netmode_follow(c);
	if (s->net)
		sup_net_changed(s);
}

static void start_end(struct sup_ctr *c, int rc, struct stk_err *err)
{
	struct sup_start *st = c->start;
	sup_started_fn done = c->started;
	void *arg = c->started_arg;

	c->started = NULL;
	c->started_arg = NULL;
	if (rc == 0) {
		start_running(c, st);
	} else {
		sup_engine_remove(c->s, c->ec);
		c->ec = NULL;
		c->status = st->before;
		stk_err_wrap(err, "start %s", c->name);
	}
	start_release(c, st, rc == 0);
	if (c->stop_deferred) {
		c->stop_deferred = false;
		sup_ctr_stop(c, c->stop_deferred_sig, c->stop_deferred_grace_ms,
			     c->stop_deferred_remove, c->stop_deferred_op);
	}
	if (done) {
		done(c, rc, err, arg);
	} else if (rc < 0) {
		/* A restart that failed counts as an exit. */
		fprintf(stderr, "stack supervise: %s\n", err->msg);
		c->exit_code = 128;
		restart_maybe(c);
		sup_ctr_write_state(c);
	}
	sup_maybe_exit(c->s);
}

static void on_start_readable(uv_poll_t *h, int status, int events)
{
	struct sup_start *st = h->data;
	struct sup_ctr *c = st->c;
	struct stk_err err;
	int rc;

	(void)status;
	(void)events;
	rc = engine_start_poll(c->ec, &err);
	if (rc != 1)
		start_end(c, rc, &err);
}

/* The blocking half of a start, up to the engine's clone: the spec, mounts, network
 * namespace and endpoints, /etc files, log FIFOs. */
static int start_prepare(struct sup_ctr *c, const struct compose_service *svc, struct sup_start *st,
			 struct stk_err *err)
{
	struct sup *s = c->s;
	struct engine_spec spec;
	_cleanup_close_ int stdin_fd = -1;
	int wfds[2] = {-1, -1};
	char ip[16] = "", ip6[46] = "", gw[16] = "", host[256];
	const char *mode = svc->network_mode;
	bool host_mode = mode && !strcmp(mode, "host");
	int rc = -1;

	if (mode && strcmp(mode, "none") && !host_mode && !sup_netmode_shares(svc))
		return stk_err_set(err, ENOTSUP, "network_mode %s is not supported", mode);
	engine_spec_init(&spec);
	if (sup_spec_build(s, svc, c, &spec, &st->icfg, err) < 0 ||
	    sup_volumes_mount(c, svc, &spec, st->icfg, err) < 0)
		goto out;
	if (host_mode && !svc->hostname && gethostname(host, sizeof(host)) == 0) {
		free(spec.hostname);
		spec.hostname = xstrdup(host);
	}
	if (host_mode) {
		spec.netns = xasprintf("/proc/%d/ns/net", (int)getpid());
	} else if (!mode) {
		if (super_netns_new(&st->nsfd, err) < 0)
			goto out;
		st->attached = true;
		if (attach_networks(c, svc, st->nsfd, spec.hostname, ip, ip6, gw, err) < 0)
			goto out;
		spec.netns = xasprintf("/proc/%d/fd/%d", (int)getpid(), st->nsfd);
	} else if (sup_netmode_shares(svc)) {
		if (sup_netmode_join(c, svc, &spec, &st->nsfd, err) < 0 || write_config(c, err) < 0)
			goto out;
	}
	/* A sharer has the other container's /etc/hosts and /etc/resolv.conf (the join). */
	if (!sup_netmode_shares(svc) &&
	    write_net_files(c, svc, spec.hostname, host_mode, *ip ? ip : NULL, *ip6 ? ip6 : NULL,
			    *gw ? gw : NULL, err) < 0)
		goto out;
	if (!spec.hosts_file)
		spec.hosts_file = xasprintf("%s/hosts", c->dir);
	if (!spec.resolv_conf_file)
		spec.resolv_conf_file = xasprintf("%s/resolv.conf", c->dir);
	if (sup_logs_open(c, wfds, err) < 0)
		goto out;
	spec.stdio[1] = wfds[0];
	spec.stdio[2] = wfds[1];
	if (svc->stdin_open && !svc->tty && sup_stdin_open(c, &stdin_fd, err) < 0)
		goto out;
	spec.stdio[0] = stdin_fd;
	st->tty = spec.tty;
	if (engine_create(&spec, &c->ec, err) < 0)
		goto out;
	if (engine_start_begin(c->ec, err) < 0) {
		sup_engine_remove(c->s, c->ec);
		c->ec = NULL;
		goto out;
	}
	rc = 0;
out:
	/* The child has its own copies of the stdio fds from the clone on. */
	if (wfds[0] >= 0)
		close(wfds[0]);
	if (wfds[1] >= 0)
		close(wfds[1]);
	engine_spec_release(&spec);
	return rc;
}

int sup_ctr_start(struct sup_ctr *c, sup_started_fn done, void *arg, struct stk_err *err)
{
	const struct compose_service *svc = sup_ctr_service(c);
	struct sup_start *st;
	int rc;

	if (!svc)
		return stk_err_set(err, ENOENT, "start %s: service %s is not in the project",
				   c->name, c->service);
	if (c->start)
		return stk_err_set(err, EBUSY, "start %s: already starting", c->name);
	sup_ctr_restart_cancel(c);
	st = xcalloc(1, sizeof(*st));
	st->c = c;
	st->nsfd = st->pollfd = -1;
	st->before = c->status;
	c->start = st;
	c->handles++;
	rc = start_prepare(c, svc, st, err);
	if (rc == 0) {
		st->pollfd = fcntl(engine_start_fd(c->ec), F_DUPFD_CLOEXEC, 3);
		if (st->pollfd < 0) {
			rc = stk_err_sys(err, "watch the container process");
			sup_engine_remove(c->s, c->ec);
			c->ec = NULL;
		}
	}
	if (rc < 0) {
		start_release(c, st, false);
		return stk_err_wrap(err, "start %s", c->name);
	}
	uv_poll_init(&c->s->loop, &st->poll, st->pollfd);
	st->poll.data = st;
	uv_poll_start(&st->poll, UV_READABLE, on_start_readable);
	c->status = CTR_STARTING;
	c->started = done;
	c->started_arg = arg;
	return 0;
}

/* ---- exit, stop, remove ---- */

static void engine_spec_of(const struct sup_ctr *c, struct engine_spec *spec)
{
	engine_spec_init(spec);
	spec->id = xstrdup(c->id);
	spec->state_dir = xasprintf("%s/engine", c->dir);
	spec->cgroup_parent = state_cgroup_parent(c->s->project);
}

/* What is left of the engine's side (a cgroup, the engine's directory), by name. */
static int ctr_cleanup(struct sup_ctr *c, struct stk_err *err)
{
	struct engine_spec spec;
	int rc;

	engine_spec_of(c, &spec);
	rc = engine_cleanup(&spec, err);
	engine_spec_release(&spec);
	return rc;
}

static void stop_timer_stop(struct sup_ctr *c)
{
	if (c->stop_timer_open)
		uv_timer_stop(&c->stop_timer);
}

static void on_restart_timer(uv_timer_t *t)
{
	struct sup_ctr *c = t->data;
	struct stk_err err;

	c->restart_pending = false;
	c->restart_count++;
	c->restart_attempts++;
	sup_event(c, "restart", NULL, 0);
	if (sup_ctr_start(c, NULL, NULL, &err) < 0) {
		fprintf(stderr, "stack supervise: %s\n", err.msg);
		c->exit_code = 128;
		restart_maybe(c);
		sup_ctr_write_state(c);
	}
}

static void restart_after(struct sup_ctr *c, long long ms)
{
	if (!c->restart_timer_open) {
		uv_timer_init(&c->s->loop, &c->restart_timer);
		c->restart_timer.data = c;
		c->handles++;
		c->restart_timer_open = true;
	}
	c->restart_pending = true;
	uv_timer_start(&c->restart_timer, on_restart_timer, (uint64_t)ms, 0);
}

/* The service's policy: deploy.restart_policy over restart, as Compose maps them
 * (none: no, any: always). max 0: no limit; delay and window -1: not set. */
struct restart_policy {
	const char *mode; /* no, always, unless-stopped, on-failure */
	long long max, delay_ms, window_ms;
};

static void restart_policy_of(const struct compose_service *svc, struct restart_policy *rp)
{
	const char *r = svc && svc->restart ? svc->restart : "no";

	rp->delay_ms = rp->window_ms = -1;
	rp->max = 0;
	if (svc && svc->restart_condition) {
		const char *cond = svc->restart_condition;

		rp->mode = !strcmp(cond, "any") ? "always" : !strcmp(cond, "none") ? "no" : cond;
		rp->max = svc->restart_max_attempts;
		if (svc->restart_delay_ns >= 0)
			rp->delay_ms = svc->restart_delay_ns / 1000000;
		if (svc->restart_window_ns > 0)
			rp->window_ms = svc->restart_window_ns / 1000000;
		return;
	}
	rp->mode = str_has_prefix(r, "on-failure") ? "on-failure" : r;
	if (str_has_prefix(r, "on-failure:"))
		rp->max = atoi(r + 11);
}

/* restart: no, always, unless-stopped, on-failure[:N], as Docker decides; with
 * deploy.restart_policy, max_attempts bounds any condition, delay is a fixed wait, and
 * a run that lasted the window counts as a success (the attempts start over). */
static void restart_maybe(struct sup_ctr *c)
{
	struct restart_policy rp;
	long long ran_ms = (c->finished_at - c->started_at) / 1000000;
	bool again = false;

	restart_policy_of(sup_ctr_service(c), &rp);
	if (rp.window_ms >= 0 && ran_ms >= rp.window_ms)
		c->restart_attempts = 0;
	if (!strcmp(rp.mode, "always") || !strcmp(rp.mode, "unless-stopped"))
		again = true;
	else if (!strcmp(rp.mode, "on-failure"))
		again = c->exit_code != 0;
	if (!again || (rp.max > 0 && c->restart_attempts >= rp.max))
		return;
	/* Ran for 10 s: the back-off starts over. */
	if (rp.delay_ms >= 0)
		c->restart_delay_ms = rp.delay_ms;
	else if (ran_ms >= 10000 || !c->restart_delay_ms)
		c->restart_delay_ms = 100;
	else if (c->restart_delay_ms < 60000)
		c->restart_delay_ms *= 2;
	restart_after(c, c->restart_delay_ms);
}

/* Stopped, not closed: a handle being closed must not be initialised again before its
 * close callback has run, and an exit can follow a start within one loop iteration.
 * The timers close with the container (sup_ctr_close_timers). */
void sup_ctr_restart_cancel(struct sup_ctr *c)
{
	c->restart_pending = false;
	if (c->restart_timer_open)
		uv_timer_stop(&c->restart_timer);
}

void sup_ctr_close_timers(struct sup_ctr *c)
{
	c->restart_pending = false;
	if (c->restart_timer_open) {
		c->restart_timer_open = false;
		uv_timer_stop(&c->restart_timer);
		sup_ctr_handle_close(c, (uv_handle_t *)&c->restart_timer);
	}
	if (c->stop_timer_open) {
		c->stop_timer_open = false;
		uv_timer_stop(&c->stop_timer);
		sup_ctr_handle_close(c, (uv_handle_t *)&c->stop_timer);
	}
}

/* Removes c (which may be freed at once) and tells op's client. */
static void remove_reporting(struct sup_ctr *c, struct sup_op *op)
{
	_cleanup_free_ char *name = xstrdup(c->name);
	struct stk_err err;

	sup_progress(op->client, "Container", name, "Removing");
	if (sup_ctr_remove(c, &err) < 0) {
		if (!op->error)
			op->error = xstrdup(err.msg);
		return;
	}
	sup_progress(op->client, "Container", name, "Removed");
}

/* PID 1 is gone: its code, the cgroup and endpoints released, the record updated. */
static void ctr_exited(struct sup_ctr *c)
{
	struct sup *s = c->s;
	struct engine_exit ex = {.code = -1};
	struct stk_err err;
	struct sup_op *op = c->op;

	if (c->polling) {
		c->polling = false;
		uv_poll_stop(&c->pidpoll);
		sup_ctr_handle_close(c, (uv_handle_t *)&c->pidpoll);
	}
	stop_timer_stop(c);
	sup_health_stop(c);
	c->health.status = HEALTH_NONE;
	/* Adopted: another process was its parent, so its code is lost; its cgroup and
	 * state go on the same timer as any other's. */
	if (c->ec && !c->adopted && engine_try_wait(c->ec, &ex, &err) != 0)
		ex.code = -1;
	sup_engine_remove(s, c->ec);
	c->ec = NULL;
	super_volumes_release(c->vols);
	c->vols = NULL;
	c->adopted = false;
	if (s->net && net_endpoint_detach(s->net, c->name, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	if (s->rt)
		sup_net_changed(s);
	c->exit_code = ex.code;
	c->status = CTR_EXITED;
	c->finished_at = now_ns();
	sup_ctr_write_state(c);
	sup_event(c, "die", "exitCode", c->exit_code);
	if (op)
		sup_event(c, "stop", NULL, 0);
	c->op = NULL;
	c->stopping = false;
	/* A timer, not at once: the pidfd's handle closes at the end of this iteration. */
	if (!op && !c->manual_stop && c->rejoin)
		restart_after(c, 0);
	else if (!op && !c->manual_stop)
		restart_maybe(c);
	c->rejoin = false;
	if (op) {
		if (c->remove_after_stop) {
			sup_progress(op->client, "Container", c->name, "Stopped");
			remove_reporting(c, op);
		} else {
			sup_progress(op->client, "Container", c->name, "Stopped");
		}
		sup_op_done(op);
	}
	sup_changed(s);
	sup_maybe_exit(s);
}

static void on_pidfd(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	ctr_exited(h->data);
}

/* A request may be read in the same loop iteration as a container's exit, before its
 * pidfd's turn: the request sees the exit first, as `ps` (which reads the kernel)
 * already does. */
void sup_ctr_notice_exits(struct sup *s)
{
	struct sup_ctr *c;
	bool again = true;

	while (again) {
		again = false;
		for (c = s->ctrs; c; c = c->next) {
			struct pollfd pf = {.events = POLLIN};

			if (c->status != CTR_RUNNING || !c->polling || !c->ec)
				continue;
			pf.fd = engine_pidfd(c->ec);
			if (poll(&pf, 1, 0) == 1) {
				ctr_exited(c); /* may change the list: look again */
				again = true;
				break;
			}
		}
	}
}

static void on_grace_over(uv_timer_t *t)
{
	struct sup_ctr *c = t->data;
	struct stk_err err;

	if (c->ec && engine_kill_all(c->ec, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
}

int sup_ctr_stop_signal(const struct sup_ctr *c)
{
	int sig = SIGTERM;
	struct stk_err err;

	if (engine_signal_parse(state_str(c->config, "stop_signal"), &sig, &err) < 0)
		sig = SIGTERM;
	return sig;
}

int sup_ctr_grace_ms(const struct sup_ctr *c)
{
	return (int)state_int(c->config, "stop_grace_ms");
}

/* The stop signal, then SIGKILL to the cgroup when the grace period is over. */
static void stop_begin(struct sup_ctr *c, int sig, int grace_ms)
{
	struct stk_err err;

	c->stopping = true;
	sup_event(c, "kill", "signal", sig);
	if (engine_kill(c->ec, sig, &err) < 0 || grace_ms <= 0) {
		engine_kill_all(c->ec, &err);
		return;
	}
	if (!c->stop_timer_open) {
		uv_timer_init(&c->s->loop, &c->stop_timer);
		c->stop_timer.data = c;
		c->handles++;
		c->stop_timer_open = true;
	}
	uv_timer_start(&c->stop_timer, on_grace_over, (uint64_t)grace_ms, 0);
}

void sup_ctr_stop(struct sup_ctr *c, int sig, int grace_ms, bool remove, struct sup_op *op)
{
	c->remove_after_stop = remove;
	c->manual_stop = true;
	sup_ctr_restart_cancel(c);
	if (c->status == CTR_STARTING) {
		/* The child is setting itself up: stopped once it has exec'd or failed. */
		c->stop_deferred = true;
		c->stop_deferred_sig = sig;
		c->stop_deferred_grace_ms = grace_ms;
		c->stop_deferred_remove = remove;
		c->stop_deferred_op = op;
		return;
	}
	if (c->status != CTR_RUNNING || !c->ec) {
		if (remove)
			remove_reporting(c, op);
		sup_op_done(op);
		return;
	}
	sup_progress(op->client, "Container", c->name, "Stopping");
	c->op = op;
	stop_begin(c, sig, grace_ms);
}

void sup_ctr_rejoin(struct sup_ctr *c)
{
	if (c->status != CTR_RUNNING || !c->ec || c->stopping)
		return;
	c->rejoin = true;
	stop_begin(c, sup_ctr_stop_signal(c), sup_ctr_grace_ms(c));
}

/* Removes the record and its directory; the container must not run. */
int sup_ctr_remove(struct sup_ctr *c, struct stk_err *err)
{
	struct sup *s = c->s;
	struct json_object *anon = sup_volumes_before_remove(c);
	_cleanup_free_ char *name = xstrdup(c->name);
	bool keep = c->keep_anon_volumes, remove = c->remove_anon_volumes;
	int rc;

	sup_ctr_close_timers(c);
	sup_logs_close(c);
	rc = ctr_cleanup(c, err);
	if (rc == 0)
		rc = state_remove_tree(c->dir, err);
	if (rc == 0)
		sup_event(c, "destroy", NULL, 0);
	/* After its record went: a type=tmpfs volume no one else uses is unmounted. */
	super_volumes_release(c->vols);
	c->vols = NULL;
	ctr_forget(c);
	if (rc < 0) {
		json_object_put(anon);
		return rc;
	}
	return sup_volumes_after_remove(s, name, anon, keep, remove, err);
}

/* An adopted container's healthcheck starts over (its model is the recorded one). */
static void adopt_health(struct sup_ctr *c)
{
	const struct compose_service *svc = sup_ctr_service(c);
	struct engine_spec spec;
	struct json_object *icfg = NULL;
	struct stk_err err;

	if (!svc)
		return;
	engine_spec_init(&spec);
	if (sup_spec_build(c->s, svc, c, &spec, &icfg, &err) == 0)
		sup_health_start(c, icfg);
	json_object_put(icfg);
	engine_spec_release(&spec);
}

static void forget_stale(struct sup_ctr *c)
{
	struct sup *s = c->s;
	struct stk_err err;

	if (ctr_cleanup(c, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	if (s->net || net_open(s->paths.root, s->project, NULL, &s->net, &err) == 0)
		net_endpoint_detach(s->net, c->name, &err);
	c->finished_at = now_ns();
	sup_ctr_write_state(c);
}

/* A container a previous supervisor left: exited ones come back as exited; running ones
 * are adopted (their pidfd watched, their logs read again). */
void sup_ctr_load_recorded(struct sup *s)
{
	struct state_container *v = NULL;
	size_t n = 0, i;
	struct stk_err err;

	if (state_list_containers(&s->paths, s->project, &v, &n, &err) < 0) {
		fprintf(stderr, "stack supervise: %s\n", err.msg);
		return;
	}
	for (i = 0; i < n; i++) {
		struct sup_ctr *c;

		/* One-off containers (`run`) belong to the CLI that runs them. */
		if (state_container_oneoff(&v[i]))
			continue;
		c = ctr_new(s, v[i].id, json_object_get(v[i].config));

		c->status = strcmp(state_str(v[i].state, "status"), "created") ? CTR_EXITED
									       : CTR_CREATED;
		c->exit_code = (int)state_int(v[i].state, "exit_code");
		c->started_at = state_int(v[i].state, "started_at");
		c->finished_at = state_int(v[i].state, "finished_at");
		c->log_lost = state_int(v[i].state, "log_lines_lost");
		c->restart_count = (int)state_int(v[i].state, "restart_count");
		if (!state_container_running(&v[i]) &&
		    !strcmp(state_str(v[i].state, "status"), "running")) {
			/* Recorded as running, gone without a supervisor seeing it (a crashed
			 * host, a killed supervisor): what is left of it goes, as in an exit. */
			c->exit_code = 255;
			forget_stale(c);
		} else if (state_container_running(&v[i])) {
			struct engine_spec spec;

			engine_spec_of(c, &spec);
			if (engine_open(&spec, &c->ec, &err) == 0) {
				c->status = CTR_RUNNING;
				c->adopted = true;
				adopt_health(c);
				watch(c);
			}
			engine_spec_release(&spec);
		}
	}
	state_containers_free(v, n);
}

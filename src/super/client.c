/* The CLI's side of the supervisor: checks before anything starts, the project lock,
 * starting a supervisor when none answers, sending a request and passing its events on
 * (an up's pulls run meanwhile: up_pull.c); and `down` from disk when no supervisor
 * runs. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compose/compose.h"
#include "image/image.h"
#include "net/net.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"
#include "volume/volume.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* Connects through the directory's fd: a state root may be longer than sun_path. */
int sup_connect(const struct state_paths *p, const char *project)
{
	_cleanup_free_ char *dir = state_run_dir(p, project);
	_cleanup_close_ int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (dfd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/control.sock", dfd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* `stack supervise PROJECT`, detached in a session of its own; returns once it listens. */
int sup_spawn(const struct super_client *cl, const char *project, struct stk_err *err)
{
	_cleanup_free_ char *rundir = state_run_dir(&cl->paths, project);
	_cleanup_free_ char *logfile = NULL;
	int pfd[2];
	pid_t pid;
	char buf[1024];
	ssize_t n, got = 0;

	if (stk_mkdir_p(rundir, 0700, err) < 0)
		return -1;
	logfile = xasprintf("%s/supervisor.log", rundir);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return stk_err_sys(err, "pipe");
	pid = fork();
	if (pid < 0)
		return stk_err_sys(err, "fork");
	if (pid == 0) {
		char fdarg[16];
		int nul = open("/dev/null", O_RDWR), log;

		setsid();
		/* A second fork: the supervisor is nobody's child but init's (or a subreaper's). */
		if (fork() != 0)
			_exit(0);
		log = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(nul, 0);
		dup2(log >= 0 ? log : nul, 1);
		dup2(log >= 0 ? log : nul, 2);
		snprintf(fdarg, sizeof(fdarg), "%d", pfd[1]);
		fcntl(pfd[1], F_SETFD, 0);
		execl(cl->self_exe, cl->self_exe, "--root", cl->paths.root, "supervise", "--run",
		      cl->paths.run, "--ready-fd", fdarg, project, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(pfd[0], buf + got, sizeof(buf) - 1 - (size_t)got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		got += n;
	}
	close(pfd[0]);
	buf[got] = '\0';
	if (strncmp(buf, "ok", 2) == 0)
		return 0;
	buf[strcspn(buf, "\n")] = '\0';
	return stk_err_set(err, EIO, "start the supervisor of %s: %s", project,
			   got ? buf + (strncmp(buf, "error: ", 7) ? 0 : 7) : "it exited");
}

/* Sends one request; events go to the callback until done or error. wait_exit: after
 * done, wait for the supervisor to close the connection (it exits). */
static int sup_request(const struct super_client *cl, int fd, struct json_object *req,
		       bool wait_exit, struct stk_err *err)
{
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *line = xasprintf("%s\n", s);
	_cleanup_fclose_ FILE *f = NULL;
	char *buf = NULL;
	size_t cap = 0;
	int rc = -2;

	/* A supervisor that was just exiting has closed its end: EPIPE, not a SIGPIPE that
	 * would kill the CLI before request() could start a fresh one. */
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line))
		return stk_err_sys(err, "send to the supervisor");
	f = fdopen(dup(fd), "r");
	if (!f)
		return stk_err_sys(err, "read from the supervisor");
	while (rc == -2 && getline(&buf, &cap, f) > 0) {
		_cleanup_(json_putp) struct json_object *ev = json_tokener_parse(buf);
		const char *kind = state_str(ev, "event");

		if (!strcmp(kind, "done"))
			rc = 0;
		else if (!strcmp(kind, "error"))
			rc = stk_err_set(err, EIO, "%s", state_str(ev, "message"));
		else if (ev && cl->on_event)
			cl->on_event(ev, cl->arg);
	}
	if (rc == 0 && wait_exit)
		while (getline(&buf, &cap, f) > 0)
			;
	free(buf);
	if (rc == -2)
		return stk_err_set(err, EPIPE, "the supervisor closed the connection");
	return rc;
}

/* Connect, starting a supervisor if none answers; a supervisor that was just exiting
 * closes the connection unanswered, so a second try starts a fresh one. */
static int supervisor_lock_open(const struct state_paths *p, const char *project);
static void wait_supervisor_exit(int lock_fd);

/* sup_lock (optional) gets the supervisor's lock file, opened while it surely exists;
 * pulls (optional): images still being pulled, their results passed on as they land. */
static int request(const struct super_client *cl, const char *project, struct json_object *req,
		   int *sup_lock, struct sup_pulls *pulls, struct stk_err *err)
{
	int attempt, rc = -1;

	for (attempt = 0; attempt < 2; attempt++) {
		int fd = sup_connect(&cl->paths, project);

		if (fd < 0) {
			if (sup_spawn(cl, project, err) < 0)
				return -1;
			fd = sup_connect(&cl->paths, project);
			if (fd < 0)
				return stk_err_sys(err, "connect to the supervisor of %s", project);
		}
		if (sup_lock) {
			if (*sup_lock >= 0)
				close(*sup_lock);
			*sup_lock = supervisor_lock_open(&cl->paths, project);
		}
		rc = pulls ? sup_pulls_exchange(pulls, fd, req, err)
			   : sup_request(cl, fd, req, false, err);
		close(fd);
		if (rc == 0 || err->errnum != EPIPE)
			return rc;
	}
	return rc;
}

static void event(const struct super_client *cl, const char *fmt_kind, const char *name,
		  const char *status)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string("progress"));
	json_object_object_add(ev, "kind", json_object_new_string(fmt_kind));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(ev, "status", json_object_new_string(status));
	if (cl->on_event)
		cl->on_event(ev, cl->arg);
	json_object_put(ev);
}

void sup_client_progress(const struct super_client *cl, const char *kind, const char *name,
			 const char *status)
{
	event(cl, kind, name, status);
}

static struct json_object *services_json(const char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* ---- up ---- */

static bool service_wanted(const struct super_up_opts *o, const char *name)
{
	size_t i;

	for (i = 0; i < o->nservices; i++)
		if (!strcmp(o->services[i], name))
			return true;
	return o->nservices == 0;
}

/* A warning event, rendered by the CLI as the supervisor's are. */
static void warning(const struct super_client *cl, const char *msg)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string("warning"));
	json_object_object_add(ev, "message", json_object_new_string(msg));
	if (cl->on_event)
		cl->on_event(ev, cl->arg);
	json_object_put(ev);
}

/* A bind's selinux option is accepted and said to be ignored, here where the user sees
 * it (the supervisor's own stderr is its log). */
static void warn_selinux(const struct super_client *cl, const struct compose_service *svc)
{
	size_t i;

	for (i = 0; i < svc->nvolumes; i++) {
		const struct compose_mount *m = &svc->volumes[i];
		_cleanup_free_ char *msg = NULL;

		if (strcmp(m->type, "bind") || !m->bind_selinux || !*m->bind_selinux)
			continue;
		msg = xasprintf("service %s: bind %s: selinux \"%s\" ignored: %s", svc->name,
				m->source ? m->source : m->target, m->bind_selinux,
				super_selinux_ignored());
		warning(cl, msg);
	}
}

/* What fails before anything is made: a service without an image (the CLI names the
 * image of a service it builds), missing external volumes,
 * bind sources that cannot be made. Bind sources are made only once every check held. */
static int check_services(const struct super_client *cl, struct compose_project *p,
			  const struct super_up_opts *o, struct stk_err *err)
{
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < p->nservices; i++) {
			const struct compose_service *svc = &p->services[i];

			if (!service_wanted(o, svc->name) && o->nservices)
				continue;
			if (!svc->image)
				return stk_err_set(err, ENOTSUP, "service %s: no image", svc->name);
			if (sup_volumes_check(cl->paths.root, p, svc, pass == 1, err) < 0)
				return -1;
			if (pass == 1)
				warn_selinux(cl, svc);
		}
	return 0;
}

/* Before anything starts: network_mode container: names a container, and the published
 * ports of services that have no running container yet are free. */
static int check_ports(const struct super_client *cl, struct compose_project *p,
		       const struct super_up_opts *o, struct stk_err *err)
{
	struct state_container *v = NULL;
	size_t nv = 0, i, j, k;
	int rc = 0;

	if (state_list_containers(&cl->paths, p->name, &v, &nv, err) < 0)
		return -1;
	for (i = 0; i < p->nservices && rc == 0; i++) {
		const struct compose_service *svc = &p->services[i];
		struct net_port *ports;
		size_t np = 0;
		bool running = false;

		if (service_wanted(o, svc->name) &&
		    sup_netmode_check(&cl->paths, p, svc, err) < 0) {
			rc = -1;
			break;
		}
		/* network_mode host or none: Docker discards published ports. */
		if (!service_wanted(o, svc->name) || !svc->nports || svc->network_mode)
			continue;
		for (k = 0; k < nv; k++)
			if (!strcmp(state_str(v[k].config, "service"), svc->name) &&
			    state_container_running(&v[k]))
				running = true;
		if (running)
			continue;
		ports = xcalloc(svc->nports, sizeof(*ports));
		for (j = 0; j < svc->nports; j++)
			sup_port_of(&svc->ports[j], &ports[np++]);
		if (rc == 0 && net_ports_check(ports, np, err) < 0)
			rc = stk_err_wrap(err, "service %s", svc->name);
		free(ports);
	}
	state_containers_free(v, nv);
	return rc;
}

static int write_model(const struct super_client *cl, struct compose_project *p,
		       struct stk_err *err)
{
	_cleanup_free_ char *dir = state_project_dir(&cl->paths, p->name);
	_cleanup_free_ char *path = xasprintf("%s/compose.json", dir);
	_cleanup_free_ char *json = compose_project_render(p, COMPOSE_JSON);
	_cleanup_(json_putp) struct json_object *o = json_tokener_parse(json ? json : "");
	struct json_object *hashes;
	size_t i;

	if (!o)
		return stk_err_set(err, EINVAL, "render the project");
	/* Each service's config hash, computed here, where libcrypto is loaded anyway: the
	 * supervisor reads it (compose_recorded_hash) instead of loading libcrypto. */
	hashes = json_object_new_object();
	for (i = 0; i < p->nservices; i++) {
		char *h = compose_service_hash(p, p->services[i].name);

		json_object_object_add(hashes, p->services[i].name,
				       json_object_new_string(h ? h : ""));
		free(h);
	}
	json_object_object_add(o, COMPOSE_HASHES_KEY, hashes);
	return state_write_json(path, o, err);
}

/* down keeps orphans unless --remove-orphans, as Compose does. */
static bool down_keeps(const struct super_down_opts *o, const char *service)
{
	return o->project && !o->remove_orphans && compose_service_index(o->project, service) < 0;
}

/* Containers of services the file no longer has, as Compose warns of them. */
static void warn_orphans(const struct super_client *cl, struct compose_project *p)
{
	struct state_container *v = NULL;
	size_t n = 0, i;
	struct stk_err err;
	struct strbuf sb;

	if (state_list_containers(&cl->paths, p->name, &v, &n, &err) < 0)
		return;
	strbuf_init(&sb);
	for (i = 0; i < n; i++) {
		if (compose_service_index(p, state_str(v[i].config, "service")) >= 0)
			continue;
		strbuf_addf(&sb, "%s%s", sb.len ? " " : "", state_str(v[i].config, "name"));
	}
	if (sb.len) {
		_cleanup_free_ char *msg = xasprintf(
			"Found orphan containers ([%s]) for this project. If you removed or renamed "
			"this service in your compose file, you can run this command with the "
			"--remove-orphans flag to clean it up.",
			sb.buf);

		warning(cl, msg);
	}
	strbuf_free(&sb);
	state_containers_free(v, n);
}

static void add_with_deps(struct compose_project *p, const char *name, bool deps, bool *in)
{
	int i = compose_service_index(p, name);
	size_t j;

	if (i < 0 || in[i])
		return;
	in[i] = true;
	for (j = 0; deps && j < p->services[i].ndepends_on; j++)
		add_with_deps(p, p->services[i].depends_on[j].service, deps, in);
}

/* The services an up brings (by index): those named and, unless --no-deps, what they
 * depend on; none named: all. */
static bool *wanted_set(struct compose_project *p, const struct super_up_opts *o)
{
	bool *in = xcalloc(p->nservices + 1, sizeof(bool));
	size_t i;

	for (i = 0; i < o->nservices; i++)
		add_with_deps(p, o->services[i], !o->no_deps, in);
	for (i = 0; !o->nservices && i < p->nservices; i++)
		in[i] = true;
	return in;
}

static struct json_object *wanted_services(struct compose_project *p, const bool *in)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (in[i])
			json_object_array_add(a, json_object_new_string(p->services[i].name));
	return a;
}

/* A first up that failed leaves nothing: the supervisor has removed what it made and
 * exits (no container runs); its runtime directory and the project's record go. */
static void forget_failed_project(const struct super_client *cl, const char *project, int sup_lock)
{
	_cleanup_free_ char *pdir = state_project_dir(&cl->paths, project);
	_cleanup_free_ char *rundir = state_run_dir(&cl->paths, project);
	struct state_container *v = NULL;
	struct stk_err err;
	size_t n = 0;

	if (state_list_containers(&cl->paths, project, &v, &n, &err) < 0 || n) {
		state_containers_free(v, n);
		return;
	}
	wait_supervisor_exit(sup_lock);
	state_remove_tree(rundir, &err);
	state_remove_tree(pdir, &err);
}

int super_up(const struct super_client *cl, struct compose_project *p,
	     const struct super_up_opts *o, struct stk_err *err)
{
	_cleanup_close_ int lock = -1, sup_lock = -1;
	_cleanup_(json_putp) struct json_object *req = json_object_new_object();
	_cleanup_free_ bool *in = wanted_set(p, o);
	struct sup_pulls *pulls = NULL;
	size_t i;
	int rc;

	for (i = 0; i < o->nservices; i++)
		if (compose_service_index(p, o->services[i]) < 0)
			return stk_err_set(err, ENOENT, "no such service: %s", o->services[i]);
	for (i = 0; i < o->nscale; i++) {
		const char *eq = strchr(o->scale[i], '=');
		_cleanup_free_ char *svc = eq ? xstrndup(o->scale[i], (size_t)(eq - o->scale[i]))
					      : NULL;
		char *end;

		if (!eq || strtol(eq + 1, &end, 10) < 0 || *end || end == eq + 1)
			return stk_err_set(err, EINVAL, "invalid --scale \"%s\" (want SERVICE=N)",
					   o->scale[i]);
		if (compose_service_index(p, svc) < 0)
			return stk_err_set(err, ENOENT, "no such service: %s", svc);
	}
	if (check_services(cl, p, o, err) < 0 ||
	    state_project_lock(&cl->paths, p->name, &lock, err) < 0)
		return -1;
	/* Images not in the store are pulled while the request runs: the supervisor starts
	 * the other services meanwhile (docs/supervisor.md). */
	if (check_ports(cl, p, o, err) < 0 || sup_pulls_plan(cl, p, in, o->pull, &pulls, err) < 0 ||
	    write_model(cl, p, err) < 0) {
		_cleanup_free_ char *pdir = state_project_dir(&cl->paths, p->name);
		_cleanup_free_ char *model = xasprintf("%s/compose.json", pdir);
		struct stk_err ignored;

		/* A project that never came up leaves no record behind. */
		if (access(model, F_OK) < 0)
			state_remove_tree(pdir, &ignored);
		sup_pulls_free(pulls);
		return -1;
	}
	json_object_object_add(req, "op", json_object_new_string("up"));
	json_object_object_add(req, "workdir", json_object_new_string(p->workdir));
	{
		struct strbuf sb;

		strbuf_init(&sb);
		for (i = 0; i < p->files.n; i++)
			strbuf_addf(&sb, "%s%s", i ? "," : "", p->files.v[i]);
		json_object_object_add(req, "config_files",
				       json_object_new_string(sb.buf ? sb.buf : ""));
		strbuf_free(&sb);
	}
	json_object_object_add(req, "no_deps", json_object_new_boolean(o->no_deps));
	/* -V recreates every container, as Compose's --renew-anon-volumes does. */
	json_object_object_add(req, "recreate",
			       json_object_new_string(o->recreate	      ? o->recreate
						      : o->renew_anon_volumes ? "force"
									      : "diverged"));
	if (o->nscale) {
		struct json_object *scale = json_object_new_object();

		for (i = 0; i < o->nscale; i++) {
			const char *eq = strchr(o->scale[i], '=');
			_cleanup_free_ char *svc =
				xstrndup(o->scale[i], (size_t)(eq - o->scale[i]));

			json_object_object_add(scale, svc, json_object_new_int(atoi(eq + 1)));
		}
		json_object_object_add(req, "scale", scale);
	}
	json_object_object_add(req, "remove_orphans", json_object_new_boolean(o->remove_orphans));
	json_object_object_add(req, "renew_anon_volumes",
			       json_object_new_boolean(o->renew_anon_volumes));
	if (!o->remove_orphans)
		warn_orphans(cl, p);
	json_object_object_add(req, "wait", json_object_new_boolean(o->wait));
	json_object_object_add(req, "no_start", json_object_new_boolean(o->no_start));
	json_object_object_add(req, "always_recreate_deps",
			       json_object_new_boolean(o->always_recreate_deps));
	if (o->keep_network_rules)
		json_object_object_add(req, "keep_network_rules", json_object_new_boolean(true));
	json_object_object_add(req, "timeout",
			       json_object_new_int(o->timeout_set ? o->timeout_s : -1));
	if (o->nservices)
		json_object_object_add(req, "named", services_json(o->services, o->nservices));
	json_object_object_add(req, "wait_timeout", json_object_new_int(o->wait_timeout));
	/* The named services and, unless --no-deps, what they depend on. */
	if (o->nservices)
		json_object_object_add(req, "services", wanted_services(p, in));
	if (pulls)
		sup_pulls_add_to_request(pulls, req);
	rc = pulls ? sup_pulls_start(pulls, err) : 0;
	if (rc == 0)
		rc = request(cl, p->name, req, &sup_lock, pulls, err);
	sup_pulls_free(pulls); /* after the last pull has ended */
	if (rc == 0)
		return 0;
	forget_failed_project(cl, p->name, sup_lock);
	return -1;
}

int super_net_reload(const struct super_client *cl, const char *project, struct stk_err *err)
{
	_cleanup_(json_putp) struct json_object *req = json_object_new_object();
	int fd = sup_connect(&cl->paths, project), rc;

	if (fd < 0)
		return 0;
	json_object_object_add(req, "op", json_object_new_string("reload-net"));
	rc = sup_request(cl, fd, req, false, err);
	close(fd);
	return rc;
}

int super_pull(const struct super_client *cl, struct compose_project *p,
	       const struct super_up_opts *o, struct stk_err *err)
{
	_cleanup_free_ bool *in = xcalloc(p->nservices + 1, sizeof(bool));
	struct sup_pulls *pulls = NULL;
	size_t i;
	int rc;

	if (check_services(cl, p, o, err) < 0)
		return -1;
	for (i = 0; i < p->nservices; i++)
		in[i] = service_wanted(o, p->services[i].name);
	if (sup_pulls_plan(cl, p, in, o->pull, &pulls, err) < 0)
		return -1;
	rc = pulls ? sup_pulls_run(pulls, err) : 0;
	sup_pulls_free(pulls);
	return rc;
}

/* ---- down ---- */

/* No supervisor: stop (stop signal, grace, SIGKILL) and remove from disk and cgroups. */
static int down_offline(const struct super_client *cl, const char *project,
			const struct super_down_opts *o, bool *kept, struct stk_err *err)
{
	struct state_container *v = NULL;
	size_t n = 0, i;
	int rc = 0;

	if (state_list_containers(&cl->paths, project, &v, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *name = state_str(v[i].config, "name");
		struct engine_spec spec;
		struct engine_container *ec = NULL;

		if (down_keeps(o, state_str(v[i].config, "service"))) {
			*kept = true;
			continue;
		}
		engine_spec_init(&spec);
		spec.id = xstrdup(v[i].id);
		spec.state_dir = xasprintf("%s/engine", v[i].dir);
		spec.cgroup_parent = xstrdup(state_str(v[i].config, "cgroup_parent"));
		if (state_container_running(&v[i]) && engine_open(&spec, &ec, err) == 0) {
			struct pollfd pf = {.fd = engine_pidfd(ec), .events = POLLIN};
			int sig = SIGTERM;
			int grace = o->timeout_s >= 0
					    ? o->timeout_s * 1000
					    : (int)state_int(v[i].config, "stop_grace_ms");

			event(cl, "Container", name, "Stopping");
			engine_signal_parse(state_str(v[i].config, "stop_signal"), &sig, err);
			engine_kill(ec, sig, err);
			while (poll(&pf, 1, grace) < 0 && errno == EINTR)
				;
			engine_container_free(ec);
			event(cl, "Container", name, "Stopped");
		}
		event(cl, "Container", name, "Removing");
		if (engine_cleanup(&spec, err) < 0 || state_remove_tree(v[i].dir, err) < 0)
			rc = -1;
		else
			event(cl, "Container", name, "Removed");
		engine_spec_release(&spec);
	}
	state_containers_free(v, n);
	if (rc == 0) {
		_cleanup_free_ char *record = xasprintf("%s/net/%s.json", cl->paths.root, project);
		bool had = access(record, F_OK) == 0;
		_cleanup_free_ char *nw = xasprintf("%s_default", project);

		/* Orphans still use the networks: they stay, as Docker refuses to remove a
		 * network with endpoints. */
		if (*kept) {
			if (had)
				event(cl, "Network", nw, "Resource is still in use");
			return 0;
		}
		if (had)
			event(cl, "Network", nw, "Removing");
		rc = net_project_teardown(cl->paths.root, project, err);
		if (had && rc == 0)
			event(cl, "Network", nw, "Removed");
	}
	return rc;
}

/* down --rmi local|all: the images of the project's services (local: only those without
 * an image name of their own, which a build names <project>-<service>), as Compose. */
static int remove_images(const struct super_client *cl, const struct super_down_opts *o,
			 struct stk_err *err)
{
	struct compose_project *p = o->project;
	struct image_store *store = NULL;
	char **done;
	size_t i, k, ndone = 0;
	int rc = 0;

	if (!o->rmi || !p)
		return 0;
	if (image_store_open(cl->paths.root, &store, err) < 0)
		return -1;
	done = xcalloc(p->nservices + 1, sizeof(char *));
	for (i = 0; i < p->nservices; i++) {
		const struct compose_service *svc = &p->services[i];
		_cleanup_free_ char *name = svc->image ? xstrdup(svc->image)
						       : xasprintf("%s-%s", p->name, svc->name);
		struct image_config ic = {0};
		bool seen = false;
		struct stk_err e;

		if (svc->image && strcmp(o->rmi, "all"))
			continue;
		for (k = 0; k < ndone; k++)
			seen |= !strcmp(done[k], name);
		if (seen || image_store_get(store, name, &ic, &e) < 0)
			continue; /* not in the store: nothing to remove */
		image_config_free(&ic);
		done[ndone++] = xstrdup(name);
		event(cl, "Image", name, "Removing");
		if (image_store_remove(store, name, false, NULL, NULL, &e) < 0) {
			if (rc == 0)
				rc = stk_err_set(err, e.errnum, "%s", e.msg);
			continue;
		}
		event(cl, "Image", name, "Removed");
	}
	for (k = 0; k < ndone; k++)
		free(done[k]);
	free(done);
	image_store_free(store);
	return rc;
}

static bool orphans_left(const struct super_client *cl, const char *project,
			 const struct super_down_opts *o)
{
	struct state_container *v = NULL;
	size_t n = 0, i;
	struct stk_err err;
	bool any = false;

	if (state_list_containers(&cl->paths, project, &v, &n, &err) < 0)
		return false;
	for (i = 0; i < n; i++)
		any |= down_keeps(o, state_str(v[i].config, "service"));
	state_containers_free(v, n);
	return any;
}

/* down -v: the project's own volumes (named and anonymous; never an external one). A
 * volume another project's container uses stays, and the error names that container. */
static int down_volumes(const struct super_client *cl, const char *project, struct stk_err *err)
{
	char **removed = NULL, **r;
	int rc = volume_remove_project(cl->paths.root, project, &removed, err);

	for (r = removed; r && *r; r++) {
		event(cl, "Volume", *r, "Removing");
		event(cl, "Volume", *r, "Removed");
	}
	volume_strv_free(removed);
	return rc;
}

/* The supervisor holds its lock until its process is gone. Opened before the request:
 * the supervisor unlinks the file on its way out. */
static int supervisor_lock_open(const struct state_paths *p, const char *project)
{
	_cleanup_free_ char *dir = state_run_dir(p, project);
	_cleanup_free_ char *path = xasprintf("%s/supervisor.lock", dir);

	return open(path, O_RDONLY | O_CLOEXEC);
}

static void wait_supervisor_exit(int lock_fd)
{
	while (lock_fd >= 0 && flock(lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
}

int super_down(const struct super_client *cl, const char *project, const struct super_down_opts *o,
	       struct stk_err *err)
{
	_cleanup_close_ int lock = -1;
	_cleanup_(json_putp) struct json_object *req = json_object_new_object();
	_cleanup_free_ char *pdir = state_project_dir(&cl->paths, project);
	_cleanup_free_ char *rundir = state_run_dir(&cl->paths, project);
	bool kept = false;
	int fd, rc;

	if (state_project_lock(&cl->paths, project, &lock, err) < 0)
		return -1;
	if (o->project && !o->remove_orphans)
		warn_orphans(cl, o->project);
	json_object_object_add(req, "op", json_object_new_string("down"));
	json_object_object_add(req, "timeout", json_object_new_int(o->timeout_s));
	if (o->project && !o->remove_orphans) {
		struct json_object *keep = json_object_new_array();
		size_t i;

		for (i = 0; i < o->project->nservices; i++)
			json_object_array_add(keep,
					      json_object_new_string(o->project->services[i].name));
		json_object_object_add(req, "keep_orphans", keep);
	}
	fd = sup_connect(&cl->paths, project);
	if (fd >= 0) {
		_cleanup_close_ int sup_lock = supervisor_lock_open(&cl->paths, project);

		rc = sup_request(cl, fd, req, false, err);
		close(fd);
		if (rc < 0 && err->errnum != EPIPE)
			return -1;
		if (!orphans_left(cl, project, o))
			wait_supervisor_exit(sup_lock);
	}
	/* What a dead supervisor left, and what a live one did not know of. */
	if (down_offline(cl, project, o, &kept, err) < 0)
		return -1;
	if (remove_images(cl, o, err) < 0)
		return -1;
	if (kept)
		return 0; /* the orphans keep the project's record and supervisor */
	if (state_remove_tree(rundir, err) < 0 || state_remove_tree(pdir, err) < 0)
		return -1;
	return o->volumes ? down_volumes(cl, project, err) : 0;
}

/* ---- stop, start, restart, kill ---- */

/* restart SERVICE...: the services that depend on one restarted with `restart: true`
 * are restarted with it, transitively. */
static struct json_object *restart_set(struct compose_project *p, const struct super_ctl_opts *o)
{
	bool *in = xcalloc(p->nservices + 1, sizeof(bool)), grew = true;
	struct json_object *a = json_object_new_array();
	size_t i, k;

	for (i = 0; i < o->nservices; i++)
		in[compose_service_index(p, o->services[i])] = true;
	while (grew) {
		grew = false;
		for (i = 0; i < p->nservices; i++)
			for (k = 0; !in[i] && k < p->services[i].ndepends_on; k++) {
				const struct compose_depend *d = &p->services[i].depends_on[k];
				int dep = compose_service_index(p, d->service);

				if (d->restart && dep >= 0 && in[dep])
					grew = in[i] = true;
			}
	}
	for (i = 0; i < p->nservices; i++)
		if (in[i])
			json_object_array_add(a, json_object_new_string(p->services[i].name));
	free(in);
	return a;
}

int super_ctl(const struct super_client *cl, struct compose_project *p,
	      const struct super_ctl_opts *o, struct stk_err *err)
{
	_cleanup_close_ int lock = -1;
	size_t i;
	int rc;
	bool restart = !strcmp(o->op, "restart");

	for (i = 0; i < o->nservices; i++)
		if (compose_service_index(p, o->services[i]) < 0)
			return stk_err_set(err, ENOENT, "no such service: %s", o->services[i]);
	if (state_project_lock(&cl->paths, p->name, &lock, err) < 0)
		return -1;
	for (i = 0; i < (restart ? 2u : 1u); i++) {
		_cleanup_(json_putp) struct json_object *req = json_object_new_object();
		const char *op = restart ? (i == 0 ? "stop" : "start") : o->op;

		json_object_object_add(req, "op", json_object_new_string(op));
		json_object_object_add(req, "workdir", json_object_new_string(p->workdir));
		json_object_object_add(req, "services",
				       restart && o->nservices
					       ? restart_set(p, o)
					       : services_json(o->services, o->nservices));
		json_object_object_add(req, "timeout", json_object_new_int(o->timeout_s));
		json_object_object_add(req, "signal", json_object_new_int(o->signal));
		json_object_object_add(req, "stop", json_object_new_boolean(o->stop));
		json_object_object_add(req, "volumes", json_object_new_boolean(o->volumes));
		/* A supervisor that was killed left its containers running: a new one adopts
		 * them, so stop and kill act on them too. */
		rc = request(cl, p->name, req, NULL, NULL, err);
		if (rc < 0)
			return -1;
	}
	return 0;
}

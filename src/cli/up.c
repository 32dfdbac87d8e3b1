/* `up`, `down`, `stop`, `start`, `restart`, `kill`, and the hidden `supervise`:
 * option parsing and the rendering of the supervisor's events, as Docker Compose v2
 * prints them. The work is in src/super/. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "engine/engine.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/str.h"

/* --progress, resolved (cli_progress): tty, plain, quiet or json. */
static const char *progress_mode = "plain";

/* --progress json: one object per event, as Compose's json progress writer. */
static void render_json(const char *kind, const char *name, const char *status)
{
	struct json_object *o = json_object_new_object();
	_cleanup_free_ char *id = xasprintf("%s %s", kind, name);

	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "text", json_object_new_string(status));
	fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* " Container p-web-1  Started"; on a terminal only the outcomes, with a tick. */
static void render(struct json_object *ev, void *arg)
{
	static const char *const final[] = {"Created", "Started", "Running", "Stopped",
					    "Removed", "Pulled",  "Killed",  "Healthy",
					    "Exited",  "Paused",  "Unpaused"};
	bool tty = !strcmp(progress_mode, "tty");
	const char *kind = state_str(ev, "kind"), *name = state_str(ev, "name");
	const char *status = state_str(ev, "status");
	size_t i;

	(void)arg;
	if (!strcmp(progress_mode, "quiet"))
		return;
	if (!strcmp(progress_mode, "json") && !strcmp(state_str(ev, "event"), "progress")) {
		render_json(kind, name, status);
		return;
	}
	if (!strcmp(state_str(ev, "event"), "warning")) {
		fprintf(stderr, "WARN[0000] %s\n", state_str(ev, "message"));
		return;
	}
	if (strcmp(state_str(ev, "event"), "progress"))
		return;
	if (tty) {
		for (i = 0; i < sizeof(final) / sizeof(final[0]); i++)
			if (!strcmp(status, final[i]))
				break;
		if (i == sizeof(final) / sizeof(final[0]))
			return;
	}
	if (!strcmp(kind, "Image") && strcmp(status, "Removing") && strcmp(status, "Removed"))
		fprintf(stderr, " %s%s %s\n", tty ? "\u2714 " : "", name, status);
	else
		fprintf(stderr, " %s%s %s  %s\n", tty ? "\u2714 " : "", kind, name, status);
}

static void render_status(const struct super_client *cl, const char *name, const char *status)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "event", json_object_new_string("progress"));
	json_object_object_add(ev, "kind", json_object_new_string("Container"));
	json_object_object_add(ev, "name", json_object_new_string(name));
	json_object_object_add(ev, "status", json_object_new_string(status));
	cl->on_event(ev, cl->arg);
	json_object_put(ev);
}

static char self_exe[PATH_MAX];

static void client_init(struct cli_globals *g, struct super_client *cl, bool *tty)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	self_exe[n > 0 ? n : 0] = '\0';
	progress_mode = cli_progress(g);
	*tty = !strcmp(progress_mode, "tty");
	memset(cl, 0, sizeof(*cl));
	cl->paths.root = cli_state_root(g);
	cl->paths.run = cli_run_root(g);
	cl->self_exe = self_exe;
	cl->on_event = render;
	cl->arg = tty;
}

void cli_super_client(struct cli_globals *g, struct super_client *cl, bool *tty)
{
	client_init(g, cl, tty);
}

struct attached {
	const struct super_client *cl;
	struct compose_project *p;
	const struct super_up_opts *uo;
	int interrupts;
	pid_t helpers[2];
	bool abort_on_exit; /* --abort-on-container-exit */
	const char *exit_code_from; /* --exit-code-from SERVICE (implies it) */
	int exit_code; /* of the first container that exited, or of that service */
	bool exited;
};

static void stop_in_child(struct attached *a, const char *op);

/* The first Ctrl+C stops the project gracefully, the second kills it; each in a child
 * process, while this one goes on showing the output until every container is gone. */
static void on_interrupt(int signo, void *arg)
{
	struct attached *a = arg;

	(void)signo;
	if (a->interrupts >= 2)
		return;
	if (a->interrupts++ == 0)
		fputs("Gracefully stopping... (press Ctrl+C again to force)\n", stderr);
	stop_in_child(a, a->interrupts == 1 ? "stop" : "kill");
}

/* --abort-on-container-exit: the first container to exit stops the others. */
static void on_container_exit(const char *container, const char *dir, void *arg)
{
	struct attached *a = arg;
	char *path = xasprintf("%s/state.json", dir);
	struct json_object *st = state_read_json(path);
	struct json_object *cfg;

	free(path);
	path = xasprintf("%s/config.json", dir);
	cfg = state_read_json(path);
	free(path);
	if (a->exit_code_from ? !strcmp(state_str(cfg, "service"), a->exit_code_from) : !a->exited)
		a->exit_code = (int)state_int(st, "exit_code");
	json_object_put(st);
	json_object_put(cfg);
	if ((a->abort_on_exit || a->exit_code_from) && !a->exited && !a->interrupts) {
		fprintf(stderr, "%s exited with code %d\nAborting on container exit...\n",
			container, a->exit_code);
		a->interrupts = 1;
		stop_in_child(a, "stop");
	}
	a->exited = true;
}

static void stop_in_child(struct attached *a, const char *op)
{
	struct super_ctl_opts ctl = {.op = op,
				     .timeout_s = a->uo->timeout_set ? a->uo->timeout_s : -1,
				     .signal = SIGKILL,
				     .services = a->uo->services,
				     .nservices = a->uo->nservices};
	struct stk_err err;
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		int rc = super_ctl(a->cl, a->p, &ctl, &err);

		if (rc < 0)
			cli_error("%s", err.msg);
		fflush(stderr);
		_exit(rc < 0 ? CLI_FAIL : CLI_OK);
	}
	a->helpers[a->interrupts - 1] = pid;
}

/* Attached: the services' output with prefixes until they all exit; SIGINT or SIGTERM
 * stop the project, as Compose does. */
static int attach(struct cli_globals *g, const struct super_client *cl, struct compose_project *p,
		  const struct super_up_opts *uo, const struct cli_log_style *style,
		  const char *const *shown, size_t nshown, long long since_ns)
{
	struct attached a = {.cl = cl,
			     .p = p,
			     .uo = uo,
			     .helpers = {-1, -1},
			     .abort_on_exit = style->abort_on_exit,
			     .exit_code_from = style->exit_code_from};
	struct super_log_opts o = {.tail = -1,
				   .follow = true,
				   .since_ns = since_ns,
				   .on_interrupt = on_interrupt,
				   .on_exit = on_container_exit,
				   .interrupt_arg = &a};
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct state_container *v = NULL;
	struct stk_err err;
	sigset_t set;
	size_t n = 0, i;
	int rc, status;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	o.interrupt_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		rc = -1;
	} else {
		rc = cli_print_logs(v, n, p->name, shown, nshown, &o, style);
	}
	state_containers_free(v, n);
	for (i = 0; i < 2; i++)
		if (a.helpers[i] > 0 && (waitpid(a.helpers[i], &status, 0) < 0 ||
					 !WIFEXITED(status) || WEXITSTATUS(status)))
			rc = -1;
	if (o.interrupt_fd >= 0)
		close(o.interrupt_fd);
	if (rc < 0)
		return CLI_FAIL;
	/* The exit code asked for; else interrupted: 130, as a shell reports Ctrl+C. */
	if (a.abort_on_exit || a.exit_code_from)
		return a.exit_code;
	return a.interrupts ? 130 : CLI_OK;
}

/* --attach/--no-attach: the services whose output an attached up shows (NULL, 0: those
 * asked for, or all). */
static const char **attached_services(struct compose_project *p, const struct super_up_opts *uo,
				      const char **attach, size_t nattach, const char **no_attach,
				      size_t nno, size_t *n)
{
	const char **v = xcalloc(p->nservices + 2, sizeof(char *));
	size_t i, k;

	*n = 0;
	for (i = 0; i < p->nservices; i++) {
		const char *name = p->services[i].name;
		bool in = nattach ? false : !uo->nservices;

		for (k = 0; k < nattach; k++)
			in |= !strcmp(attach[k], name);
		for (k = 0; !nattach && k < uo->nservices; k++)
			in |= !strcmp(uo->services[k], name);
		for (k = 0; k < nno; k++)
			in &= !!strcmp(no_attach[k], name);
		if (in)
			v[(*n)++] = name;
	}
	/* Every service left out: an empty list would mean all of them. */
	if (!*n)
		v[(*n)++] = "";
	return v;
}

static int up_cmd(struct cli_globals *g, int argc, char **argv, bool create)
{
	static const struct option opts[] = {
		{"detach", no_argument, NULL, 'd'},
		{"no-deps", no_argument, NULL, 'n'},
		{"pull", required_argument, NULL, 'P'},
		{"wait", no_argument, NULL, 'w'},
		{"force-recreate", no_argument, NULL, 'F'},
		{"no-recreate", no_argument, NULL, 'R'},
		{"scale", required_argument, NULL, 's'},
		{"remove-orphans", no_argument, NULL, 'o'},
		{"timestamps", no_argument, NULL, 'T'},
		{"no-color", no_argument, NULL, 'C'},
		{"no-log-prefix", no_argument, NULL, 'L'},
		{"abort-on-container-exit", no_argument, NULL, 'A'},
		{"exit-code-from", required_argument, NULL, 'E'},
		{"wait-timeout", required_argument, NULL, 'W'},
		{"no-start", no_argument, NULL, 'S'},
		{"always-recreate-deps", no_argument, NULL, 'D'},
		{"attach", required_argument, NULL, 'a'},
		{"no-attach", required_argument, NULL, 'N'},
		{"timeout", required_argument, NULL, 't'},
		{"renew-anon-volumes", no_argument, NULL, 'V'},
		{"build", no_argument, NULL, 'B'},
		{"no-build", no_argument, NULL, 'X'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct super_up_opts o = {.no_start = create};
	_cleanup_free_ const char **attach_to = NULL, **no_attach = NULL;
	size_t nattach = 0, nno = 0;
	struct timespec t0;
	long long since;
	const char *cmd = create ? "create" : "up";
	struct super_client cl;
	struct compose_project *p = NULL;
	struct stk_err err;
	bool detach = false, tty;
	enum cli_up_build build = CLI_UP_BUILD_MISSING;
	struct cli_log_style style = {0};
	_cleanup_free_ const char **scale = NULL;
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:dt:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			detach = true;
			break;
		case 'V':
			o.renew_anon_volumes = true;
			break;
		case 'n':
			o.no_deps = true;
			break;
		case 'S':
			o.no_start = true;
			break;
		case 'D':
			o.always_recreate_deps = true;
			break;
		case 'a':
		case 'N':
			if (c == 'a') {
				attach_to = xrealloc(attach_to, (nattach + 1) * sizeof(char *));
				attach_to[nattach++] = optarg;
			} else {
				no_attach = xrealloc(no_attach, (nno + 1) * sizeof(char *));
				no_attach[nno++] = optarg;
			}
			break;
		case 't':
			o.timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || end == optarg || o.timeout_s < 0)
				return cli_usage_error(cmd, "invalid --timeout \"%s\"", optarg);
			o.timeout_set = true;
			break;
		case 'w':
			o.wait = true;
			break;
		case 'T':
			style.timestamps = true;
			break;
		case 'C':
			style.no_color = true;
			break;
		case 'L':
			style.no_prefix = true;
			break;
		case 'A':
			style.abort_on_exit = true;
			break;
		case 'E':
			style.exit_code_from = optarg;
			break;
		case 'o':
			o.remove_orphans = true;
			break;
		case 'B':
		case 'X':
			if (build != CLI_UP_BUILD_MISSING)
				return cli_usage_error(cmd,
						       "--build and --no-build are incompatible");
			build = c == 'B' ? CLI_UP_BUILD_ALWAYS : CLI_UP_BUILD_NEVER;
			break;
		case 'F':
		case 'R':
			if (o.recreate)
				return cli_usage_error("up",
						       "--force-recreate and --no-recreate are "
						       "incompatible");
			o.recreate = c == 'F' ? "force" : "never";
			break;
		case 's':
			scale = xrealloc(scale, (o.nscale + 1) * sizeof(char *));
			scale[o.nscale++] = optarg;
			o.scale = scale;
			break;
		case 'W':
			o.wait_timeout = (int)strtol(optarg, &end, 10);
			if (*end || o.wait_timeout < 0)
				return cli_usage_error("up", "invalid --wait-timeout \"%s\"",
						       optarg);
			break;
		case 'P':
			if (strcmp(optarg, "always") && strcmp(optarg, "missing") &&
			    strcmp(optarg, "never"))
				return cli_usage_error("up",
						       "invalid --pull value \"%s\" (always, "
						       "missing or never)",
						       optarg);
			o.pull = optarg;
			break;
		case 'h':
			fputs("Usage: stack up [OPTIONS] [SERVICE...]\n\nCreate and start "
			      "containers\n\nOptions:\n  -d, --detach      Detached mode: run "
			      "containers in the background\n      --build       Build images before "
			      "starting containers\n      --no-build    Build nothing, not even a "
			      "missing image\n      --no-deps     Don't start linked "
			      "services\n      --pull string Pull image before running "
			      "(\"always\"|\"missing\"|\"never\")\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, cmd, c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations(cmd, argv, 1, optind, opts)))
		return rc;
	if (o.wait)
		detach = true;
	style.ansi = cli_ansi(g);
	if (o.no_start && (o.wait || style.abort_on_exit || style.exit_code_from))
		return cli_usage_error(cmd, "--no-start is incompatible with --wait, "
					    "--abort-on-container-exit and --exit-code-from");
	if (o.no_start)
		detach = true; /* nothing runs to attach to */
	if (o.always_recreate_deps && o.recreate && !strcmp(o.recreate, "never"))
		return cli_usage_error(cmd, "--always-recreate-deps and --no-recreate are "
					    "incompatible");
	if (detach && (style.abort_on_exit || style.exit_code_from))
		return cli_usage_error("up", "--abort-on-container-exit and --exit-code-from need "
					     "attached mode");
	o.services = (const char *const *)argv + optind;
	o.nservices = (size_t)(argc - optind);
	if (cli_load_project(g, o.services, o.nservices, false, &p) < 0)
		return CLI_FAIL;
	if (style.exit_code_from && compose_service_index(p, style.exit_code_from) < 0) {
		cli_error("no such service: %s", style.exit_code_from);
		cli_project_release(p);
		return CLI_FAIL;
	}
	client_init(g, &cl, &tty);
	/* before the pull's threads and the supervisor: the builder forks */
	if ((rc = cli_up_build(g, p, o.services, o.nservices, o.no_deps, build)) != CLI_OK) {
		cli_project_release(p);
		return rc;
	}
	if (!detach) {
		/* Blocked before the pull's threads exist, so that they inherit it: attach()
		 * reads SIGINT and SIGTERM from a signalfd. */
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	/* Attached, only this run's output shows, not what earlier runs logged. */
	clock_gettime(CLOCK_REALTIME, &t0);
	since = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec;
	rc = super_up(&cl, p, &o, &err) < 0 ? CLI_FAIL : CLI_OK;
	if (rc != CLI_OK) {
		cli_error("%s", err.msg);
	} else if (!detach) {
		size_t na;
		_cleanup_free_ const char **shown =
			attached_services(p, &o, attach_to, nattach, no_attach, nno, &na);

		rc = nattach || nno ? attach(g, &cl, p, &o, &style, shown, na, since)
				    : attach(g, &cl, p, &o, &style, o.services, o.nservices, since);
	}
	cli_project_release(p);
	return rc;
}

int cli_up(struct cli_globals *g, int argc, char **argv)
{
	return up_cmd(g, argc, argv, false);
}

/* create: up --no-start, as `docker compose create`. */
int cli_create(struct cli_globals *g, int argc, char **argv)
{
	return up_cmd(g, argc, argv, true);
}

int cli_down(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"volumes", no_argument, NULL, 'v'},
		{"remove-orphans", no_argument, NULL, 'o'},
		{"timestamps", no_argument, NULL, 'T'},
		{"no-color", no_argument, NULL, 'C'},
		{"no-log-prefix", no_argument, NULL, 'L'},
		{"timeout", required_argument, NULL, 't'},
		{"rmi", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct super_down_opts o = {.timeout_s = -1};
	struct super_client cl;
	struct compose_project *p = NULL;
	struct stk_err err;
	char *end;
	bool tty;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:vt:h", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			o.volumes = true;
			break;
		case 'o':
			o.remove_orphans = true;
			break;
		case 'r':
			if (strcmp(optarg, "local") && strcmp(optarg, "all"))
				return cli_usage_error("down",
						       "invalid --rmi \"%s\" (local or all)",
						       optarg);
			o.rmi = optarg;
			break;
		case 't':
			o.timeout_s = (int)strtol(optarg, &end, 10);
			if (*end || o.timeout_s < 0)
				return cli_usage_error("down", "invalid --timeout \"%s\"", optarg);
			break;
		case 'h':
			fputs("Usage: stack down [OPTIONS]\n\nStop and remove containers, "
			      "networks\n\nOptions:\n  -v, --volumes          Remove named volumes\n"
			      "      --remove-orphans   Remove containers for services not defined in "
			      "the Compose file\n  -t, --timeout int      Specify a shutdown timeout in "
			      "seconds\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "down", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("down", argv, 1, optind, opts)))
		return rc;
	if (optind < argc)
		return cli_usage_error("down", "down takes no arguments");
	/* The file as it is now: containers of services it lacks are orphans. */
	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return CLI_FAIL;
	o.project = p;
	client_init(g, &cl, &tty);
	rc = super_down(&cl, p->name, &o, &err) < 0 ? CLI_FAIL : CLI_OK;
	if (rc != CLI_OK)
		cli_error("%s", err.msg);
	cli_project_release(p);
	return rc;
}

/* The project's supervisor asked to stop, start, kill or remove; its events rendered. */
static int run_ctl(struct cli_globals *g, const struct super_ctl_opts *o)
{
	struct super_client cl;
	struct compose_project *p = NULL;
	struct stk_err err;
	bool tty;
	int rc;

	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return CLI_FAIL;
	client_init(g, &cl, &tty);
	rc = super_ctl(&cl, p, o, &err) < 0 ? CLI_FAIL : CLI_OK;
	if (rc != CLI_OK)
		cli_error("%s", err.msg);
	cli_project_release(p);
	return rc;
}

/* stop, start, restart, kill [SERVICE...] */
static int ctl(struct cli_globals *g, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"timeout", required_argument, NULL, 't'},
		{"signal", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct super_ctl_opts o = {.op = cmd, .timeout_s = -1, .signal = SIGKILL};
	struct stk_err err;
	bool kill = !strcmp(cmd, "kill");
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, kill ? "+:s:h" : "+:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			o.timeout_s = (int)strtol(optarg, &end, 10);
			if (kill || *end || o.timeout_s < 0)
				return cli_usage_error(cmd, "invalid --timeout \"%s\"", optarg);
			break;
		case 's':
			if (!kill || engine_signal_parse(optarg, &o.signal, &err) < 0)
				return cli_usage_error(cmd, "invalid signal \"%s\"", optarg);
			break;
		case 'h':
			printf("Usage: stack %s [OPTIONS] [SERVICE...]\n", cmd);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, cmd, c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations(cmd, argv, 1, optind, opts)))
		return rc;
	o.services = (const char *const *)argv + optind;
	o.nservices = (size_t)(argc - optind);
	return run_ctl(g, &o);
}

int cli_stop(struct cli_globals *g, int argc, char **argv)
{
	return ctl(g, "stop", argc, argv);
}

int cli_start(struct cli_globals *g, int argc, char **argv)
{
	return ctl(g, "start", argc, argv);
}

int cli_restart(struct cli_globals *g, int argc, char **argv)
{
	return ctl(g, "restart", argc, argv);
}

int cli_kill(struct cli_globals *g, int argc, char **argv)
{
	return ctl(g, "kill", argc, argv);
}

/* stack supervise [--run DIR] --ready-fd N PROJECT (started by the CLI, never by hand) */
int cli_supervise(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"run", required_argument, NULL, 'r'},
		{"ready-fd", required_argument, NULL, 'f'},
		{0},
	};
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	int c, fd = -1;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'r')
			paths.run = optarg;
		else if (c == 'f')
			fd = atoi(optarg);
		else
			return CLI_USAGE;
	}
	if (optind != argc - 1)
		return cli_usage_error("supervise", "supervise PROJECT");
	return super_main(&paths, argv[optind], fd) == 0 ? CLI_OK : CLI_FAIL;
}

int cli_tty_keeper(struct cli_globals *g, int argc, char **argv)
{
	(void)g;
	if (argc != 2)
		return cli_usage_error("tty-keeper", "tty-keeper CONTAINER");
	if (super_tty_keeper() < 0) {
		cli_error("tty-keeper: only the supervisor starts it (the pty at fd 3, the "
			  "container's pidfd at fd 4)");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* pause, unpause [SERVICE...]: the cgroup frozen or thawed by the CLI itself (it may
 * wait for the freeze; the supervisor's loop must not). */
static int freeze(struct cli_globals *g, const char *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	bool pause = !strcmp(cmd, "pause"), tty;
	struct super_client cl;
	struct compose_project *p = NULL;
	struct state_container *v = NULL;
	struct stk_err err;
	size_t n = 0, i;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c == 'h') {
			printf("Usage: stack %s [SERVICE...]\n", cmd);
			return CLI_OK;
		}
		if ((rc = cli_other_option(g, cmd, c, argv)))
			return rc;
	}
	if ((rc = cli_reject_abbreviations(cmd, argv, 1, optind, opts)))
		return rc;
	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return CLI_FAIL;
	client_init(g, &cl, &tty);
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (compose_service_index(p, argv[i]) < 0) {
			cli_error("no such service: %s", argv[i]);
			cli_project_release(p);
			return CLI_FAIL;
		}
	rc = CLI_OK;
	if (state_list_containers(&cl.paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		rc = CLI_FAIL;
	}
	for (i = 0; i < n && rc == CLI_OK; i++) {
		const char *name = state_str(v[i].config, "name");
		struct engine_container *ec = NULL;
		struct engine_spec spec;
		int k;
		bool named = optind >= argc;

		for (k = optind; k < argc; k++)
			named |= !strcmp(argv[k], state_str(v[i].config, "service"));
		if (!named || !state_container_running(&v[i]) || state_container_oneoff(&v[i]) ||
		    state_container_paused(&v[i]) == pause)
			continue;
		engine_spec_init(&spec);
		spec.id = xstrdup(v[i].id);
		spec.state_dir = xasprintf("%s/engine", v[i].dir);
		spec.cgroup_parent = xstrdup(state_str(v[i].config, "cgroup_parent"));
		render_status(&cl, name, pause ? "Pausing" : "Unpausing");
		if (engine_open(&spec, &ec, &err) < 0 ||
		    (pause ? engine_pause_blocking(ec, &err) : engine_unpause_blocking(ec, &err)) <
			    0) {
			cli_error("%s: %s", name, err.msg);
			rc = CLI_FAIL;
		} else {
			render_status(&cl, name, pause ? "Paused" : "Unpaused");
			super_events_notify(&cl, p->name, v[i].id, pause ? "pause" : "unpause");
		}
		engine_container_free(ec);
		engine_spec_release(&spec);
	}
	state_containers_free(v, n);
	cli_project_release(p);
	return rc;
}

int cli_pause(struct cli_globals *g, int argc, char **argv)
{
	return freeze(g, "pause", argc, argv);
}

int cli_unpause(struct cli_globals *g, int argc, char **argv)
{
	return freeze(g, "unpause", argc, argv);
}

/* rm [-f] [-s] [-v] [SERVICE...]: stopped containers go (-s stops running ones first);
 * without -f Compose asks, so a non-interactive run needs -f. */
int cli_rm(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"stop", no_argument, NULL, 's'},
		{"volumes", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct super_ctl_opts o = {.op = "rm", .timeout_s = -1};
	bool force = false;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:fsvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 's':
			o.stop = true;
			break;
		case 'v':
			o.volumes = true;
			break;
		case 'h':
			fputs("Usage: stack rm [OPTIONS] [SERVICE...]\n\nRemoves stopped service "
			      "containers\n\nOptions:\n  -f, --force     Don't ask to confirm "
			      "removal\n  -s, --stop      Stop the containers, if required, before "
			      "removing\n  -v, --volumes   Remove any anonymous volumes attached to "
			      "containers\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "rm", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("rm", argv, 1, optind, opts)))
		return rc;
	if (!force) {
		char answer[16] = "";

		fputs("Going to remove the project's stopped containers. Are you sure? [yN] ",
		      stderr);
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
			return CLI_OK;
	}
	o.services = (const char *const *)argv + optind;
	o.nservices = (size_t)(argc - optind);
	return run_ctl(g, &o);
}

/* attach SERVICE: the output of a service's running container from now on, live, on
 * the CLI's stdout and stderr (read from the log the supervisor keeps, as `logs -f
 * --tail 0` does, without a prefix), until the container exits; then its exit code.
 * With --sig-proxy (the default) SIGINT and SIGTERM go to the container; without, the
 * first one detaches. Services have no stdin yet (stdin_open is not run), so there is
 * nothing to forward: --no-stdin is what happens anyway. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/exec.h"
#include "compose/compose.h"
#include "compose/model.h"
#include "engine/engine.h"
#include "state/state.h"
#include "super/super.h"
#include "util/str.h"

struct attach_ctx {
	const struct state_container *rec;
	bool sig_proxy, detached;
	int exit_code;
};

static void attach_print(const char *container, const char *stream, long long t, const char *line,
			 size_t len, void *arg)
{
	FILE *f = strcmp(stream, "stderr") ? stdout : stderr;

	(void)container;
	(void)t;
	(void)arg;
	fwrite(line, 1, len, f);
	if (!len || line[len - 1] != '\n')
		fputc('\n', f);
	fflush(f);
}

static void attach_signal(int signo, void *arg)
{
	struct attach_ctx *a = arg;
	struct engine_container *ec = NULL;
	struct engine_spec spec;
	struct stk_err err;

	if (!a->sig_proxy) {
		/* Detach: the container runs on, as docker attach --sig-proxy=false. */
		fflush(stdout);
		exit(CLI_OK);
	}
	engine_spec_init(&spec);
	spec.id = xstrdup(a->rec->id);
	spec.state_dir = xasprintf("%s/engine", a->rec->dir);
	spec.cgroup_parent = xstrdup(state_str(a->rec->config, "cgroup_parent"));
	if (engine_open(&spec, &ec, &err) < 0 || engine_kill(ec, signo, &err) < 0)
		cli_error("%s: %s", state_str(a->rec->config, "name"), err.msg);
	engine_container_free(ec);
	engine_spec_release(&spec);
}

static void attach_exit(const char *container, const char *dir, void *arg)
{
	struct attach_ctx *a = arg;
	char *path = xasprintf("%s/state.json", dir);
	struct json_object *st = state_read_json(path);

	(void)container;
	a->exit_code = (int)state_int(st, "exit_code");
	json_object_put(st);
	free(path);
}

static int attach_parse(struct cli_globals *g, int argc, char **argv, long *index, bool *proxy)
{
	enum { OPT_INDEX = 1, OPT_NO_STDIN, OPT_SIG_PROXY, OPT_DETACH_KEYS };
	static const struct option opts[] = {
		{"index", required_argument, NULL, OPT_INDEX},
		{"no-stdin", no_argument, NULL, OPT_NO_STDIN},
		{"sig-proxy", optional_argument, NULL, OPT_SIG_PROXY},
		{"detach-keys", required_argument, NULL, OPT_DETACH_KEYS},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_INDEX:
			errno = 0;
			*index = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *index < 1)
				return cli_usage_error("attach",
						       "invalid argument \"%s\" for \"--index\"",
						       optarg);
			break;
		case OPT_SIG_PROXY:
			if (optarg && strcmp(optarg, "true") && strcmp(optarg, "false"))
				return cli_usage_error("attach",
						       "invalid argument \"%s\" for \"--sig-proxy\"",
						       optarg);
			*proxy = !optarg || !strcmp(optarg, "true");
			break;
		case OPT_NO_STDIN:
		case OPT_DETACH_KEYS:
			break;
		case 'h':
			fputs("Usage: stack attach [OPTIONS] SERVICE\n\n"
			      "Attach local standard input, output, and error streams to a "
			      "service's running container\n\nOptions:\n"
			      "      --index int         index of the container if service has "
			      "multiple replicas.\n"
			      "      --no-stdin          Do not attach STDIN\n"
			      "      --sig-proxy         Proxy all received signals to the process "
			      "(default true)\n",
			      stdout);
			return -1;
		default:
			if ((rc = cli_other_option(g, "attach", c, argv)))
				return rc;
		}
	}
	if ((rc = cli_reject_abbreviations("attach", argv, 1, optind, opts)))
		return rc;
	if (argc - optind != 1)
		return cli_usage_error("attach", "\"attach\" requires exactly 1 argument");
	return 0;
}

int cli_attach(struct cli_globals *g, int argc, char **argv)
{
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct attach_ctx a = {.sig_proxy = true};
	struct super_log_opts o = {.tail = 0, .follow = true, .interrupt_fd = -1};
	struct compose_project *p = NULL;
	struct state_container *v = NULL;
	struct stk_err err;
	const char *service;
	sigset_t set, old;
	long index = 1;
	size_t n = 0;
	int rc;

	rc = attach_parse(g, argc, argv, &index, &a.sig_proxy);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	service = argv[optind];
	rc = CLI_FAIL;
	if (cli_load_project(g, &service, 1, false, &p) < 0)
		return CLI_FAIL;
	if (compose_service_index(p, service) < 0) {
		cli_error("no such service: %s", service);
		goto out;
	}
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (cli_find_running(v, n, service, index, &a.rec) < 0)
		goto out;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	o.interrupt_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	o.on_interrupt = attach_signal;
	o.on_exit = attach_exit;
	o.interrupt_arg = &a;
	if (super_logs_read(a.rec, 1, &o, attach_print, &a, &err) < 0)
		cli_error("%s", err.msg);
	else
		rc = a.exit_code;
	close(o.interrupt_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	state_containers_free(v, n);
	cli_project_release(p);
	return rc;
}

/* `wait SERVICE...`, as `docker compose wait`: blocks until the services' running
 * containers have exited, prints each one's exit code as it goes, and exits with the
 * code of the last one (with --down-project, the project is brought down after the
 * first). It watches the containers' pidfds and reads the codes the supervisor records;
 * no supervisor is needed to watch. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
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

/* The supervisor records the exit a moment after the pidfd says so; none may be left to
 * record it (it was killed), and then the code is lost, as ps reports it: 255. */
#define WAIT_RECORD_MS 3000

static int recorded_exit(const struct state_container *c, long long started_at)
{
	_cleanup_free_ char *path = xasprintf("%s/state.json", c->dir);
	int waited;

	for (waited = 0; waited < WAIT_RECORD_MS; waited += 10) {
		struct json_object *st = state_read_json(path);
		const char *status = state_str(st, "status");
		bool done = strcmp(status, "running") || state_int(st, "started_at") != started_at;
		int code = (int)state_int(st, "exit_code");

		json_object_put(st);
		if (done)
			return code;
		usleep(10000);
	}
	return 255;
}

static struct engine_container *open_running(const struct state_container *c)
{
	struct engine_container *ec = NULL;
	struct engine_spec spec;
	struct stk_err err;

	engine_spec_init(&spec);
	spec.id = xstrdup(c->id);
	spec.state_dir = xasprintf("%s/engine", c->dir);
	spec.cgroup_parent = xstrdup(state_str(c->config, "cgroup_parent"));
	if (engine_open(&spec, &ec, &err) < 0)
		ec = NULL;
	engine_spec_release(&spec);
	return ec;
}

static bool service_listed(const struct state_container *c, char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(state_str(c->config, "service"), names[i]))
			return true;
	return false;
}

int cli_wait(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"down-project", no_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct compose_project *p = NULL;
	struct state_container *v = NULL;
	struct engine_container **ecs;
	struct pollfd *pf;
	struct stk_err err;
	bool down = false;
	size_t n = 0, i, left = 0;
	int c, rc, code = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			down = true;
			break;
		case 'h':
			fputs("Usage: stack wait SERVICE [SERVICE...] [OPTIONS]\n\nBlock until "
			      "containers of all (or specified) services stop.\n\nOptions:\n"
			      "      --down-project   Drops project when the first container "
			      "stops\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "wait", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("wait", argv, 1, optind, opts)))
		return rc;
	if (optind >= argc)
		return cli_usage_error("wait", "requires at least 1 argument");
	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return CLI_FAIL;
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if (compose_service_index(p, argv[i]) < 0) {
			cli_error("no such service: %s", argv[i]);
			cli_project_release(p);
			return CLI_FAIL;
		}
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		cli_project_release(p);
		return CLI_FAIL;
	}
	ecs = xcalloc(n + 1, sizeof(*ecs));
	pf = xcalloc(n + 1, sizeof(*pf));
	for (i = 0; i < n; i++) {
		pf[i].fd = -1;
		if (!service_listed(&v[i], argv + optind, argc - optind) ||
		    !state_container_running(&v[i]) || !(ecs[i] = open_running(&v[i])))
			continue;
		pf[i].fd = engine_pidfd(ecs[i]);
		pf[i].events = POLLIN;
		left++;
	}
	if (!left) {
		cli_error("no containers for project \"%s\"", p->name);
		rc = CLI_FAIL;
	} else {
		rc = CLI_OK;
	}
	while (left && rc == CLI_OK) {
		if (poll(pf, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			cli_error("wait: %s", strerror(errno));
			rc = CLI_FAIL;
			break;
		}
		for (i = 0; i < n; i++) {
			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			pf[i].fd = -1;
			left--;
			code = recorded_exit(&v[i], state_int(v[i].state, "started_at"));
			printf("container \"%s\" exited with status code %d\n", v[i].id, code);
			fflush(stdout);
		}
		if (down)
			break;
	}
	for (i = 0; i < n; i++)
		engine_container_free(ecs[i]);
	free(ecs);
	free(pf);
	state_containers_free(v, n);
	if (rc == CLI_OK && down) {
		struct super_client cl = {.paths = paths};
		struct super_down_opts o = {.timeout_s = -1, .remove_orphans = true};

		if (super_down(&cl, p->name, &o, &err) < 0) {
			cli_error("%s", err.msg);
			rc = CLI_FAIL;
		}
	}
	cli_project_release(p);
	return rc == CLI_OK ? code : rc;
}

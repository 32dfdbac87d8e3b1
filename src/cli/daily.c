/* Helpers shared by the daily commands: see daily.h. */
#include "cli/daily.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "engine/engine.h"
#include "util/str.h"

int daily_load(struct cli_globals *g, char **services, size_t nservices, struct daily_set *out)
{
	struct compose_project *p = NULL;
	struct stk_err err;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return -1;
	for (i = 0; i < nservices; i++)
		if (compose_service_index(p, services[i]) < 0) {
			cli_error("no such service: %s", services[i]);
			cli_project_release(p);
			return -1;
		}
	out->project = xstrdup(p->name);
	cli_project_release(p);
	out->paths.root = cli_state_root(g);
	out->paths.run = cli_run_root(g);
	if (state_list_containers(&out->paths, out->project, &out->v, &out->n, &err) < 0) {
		cli_error("%s", err.msg);
		daily_release(out);
		return -1;
	}
	return 0;
}

void daily_release(struct daily_set *s)
{
	state_containers_free(s->v, s->n);
	free(s->project);
	memset(s, 0, sizeof(*s));
}

bool daily_wanted(const struct state_container *c, char **services, size_t nservices)
{
	size_t i;

	for (i = 0; i < nservices; i++)
		if (!strcmp(state_str(c->config, "service"), services[i]))
			return true;
	return nservices == 0;
}

void daily_print_row(const char *const *cells, const size_t *widths, size_t n)
{
	size_t k;

	for (k = 0; k + 1 < n; k++)
		printf("%-*s", (int)widths[k], cells[k]);
	printf("%s\n", n ? cells[n - 1] : "");
}

int daily_open(const struct state_container *c, struct engine_container **out, struct stk_err *err)
{
	struct engine_spec spec;
	int rc;

	engine_spec_init(&spec);
	spec.id = xstrdup(c->id);
	spec.state_dir = xasprintf("%s/engine", c->dir);
	spec.cgroup_parent = xstrdup(state_str(c->config, "cgroup_parent"));
	rc = engine_open(&spec, out, err);
	engine_spec_release(&spec);
	return rc;
}

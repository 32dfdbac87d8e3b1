/* Loading the project for a command: globals → compose options, diagnostics out. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"

extern char **environ;

/* Paths under the working directory are shown relative to it, as a user typed them. */
static const char *display_path(const char *file, const char *cwd)
{
	size_t n = strlen(cwd);

	if (n > 1 && strncmp(file, cwd, n) == 0 && file[n] == '/')
		return file + n + 1;
	return file;
}

void cli_print_diags(const struct compose_diags *d)
{
	char cwd[PATH_MAX];
	size_t i;

	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/");
	for (i = 0; i < d->n; i++) {
		const struct compose_diag *e = &d->v[i];
		const char *kind = e->severity == COMPOSE_WARNING ? "warning: " : "";

		if (e->file[0] && e->line)
			fprintf(stderr, "%s:%d:%d: %s%s\n", display_path(e->file, cwd), e->line,
				e->col, kind, e->msg);
		else if (e->file[0])
			fprintf(stderr, "%s: %s%s\n", display_path(e->file, cwd), kind, e->msg);
		else
			fprintf(stderr, "stack: %s%s\n", kind, e->msg);
	}
}

int cli_load_project(struct cli_globals *g, const char *const *services, size_t nservices,
		     bool no_interpolate, struct compose_project **out)
{
	struct compose_options opt = {
		.files = g->files,
		.nfiles = g->nfiles,
		.project_name = g->project_name,
		.project_dir = g->project_dir,
		.env_files = g->env_files,
		.nenv_files = g->nenv_files,
		.profiles = g->profiles,
		.nprofiles = g->nprofiles,
		.services = services,
		.nservices = nservices,
		.environ = environ,
		.no_interpolate = no_interpolate,
	};
	struct compose_diags diags = {0};
	int rc = compose_project_load(&opt, out, &diags);

	cli_print_diags(&diags);
	compose_diags_free(&diags);
	return rc;
}

/* The command is about to exit: freeing a large project node by node costs more than
 * loading it did, so the process's exit frees it. Sanitizer builds free it, so that
 * leak detection still sees every allocation returned. */
void cli_project_release(struct compose_project *p)
{
#if defined(__SANITIZE_ADDRESS__)
	compose_project_free(p);
#else
	(void)p;
#endif
}

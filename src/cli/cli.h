/* The command-line layer: global options, the commands, and how they report. */
#ifndef STK_CLI_H
#define STK_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Options that come before the command, as with `docker compose`. */
struct cli_globals {
	const char **files;
	size_t nfiles;
	const char *project_name;
	const char *project_dir;
	const char **env_files;
	size_t nenv_files;
	const char **profiles;
	size_t nprofiles;
	const char *root;
};

struct cli_command {
	const char *name;
	int (*run)(struct cli_globals *g, int argc, char **argv);
	const char *summary;
	bool hidden;
};

/* Exit codes: 0 success, 1 failure, 2 usage error (as docker compose). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_config(struct cli_globals *g, int argc, char **argv);
int cli_version(struct cli_globals *g, int argc, char **argv);
/* Hidden plumbing: run one container in the foreground (src/cli/runtime.c). */
int cli_runtime(struct cli_globals *g, int argc, char **argv);

struct compose_project;
struct compose_diags;
/* Load the project the globals describe; diagnostics go to stderr. */
int cli_load_project(struct cli_globals *g, const char *const *services, size_t nservices,
		     bool no_interpolate, struct compose_project **out);
void cli_print_diags(const struct compose_diags *d);

/* Print "stack: msg" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the usage error and a hint to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

/* The command-line layer: global options, the commands, and how they report. */
#ifndef STK_CLI_H
#define STK_CLI_H

#include <getopt.h>
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
	const char *ansi; /* --ansi never|always|auto; NULL: $COMPOSE_ANSI, else auto */
	const char *progress; /* --progress auto|tty|plain|quiet|json; NULL: $COMPOSE_PROGRESS */
	const char *bad_value; /* a global option's invalid value, reported by the command */
};

struct cli_command {
	const char *name;
	int (*run)(struct cli_globals *g, int argc, char **argv);
	const char *summary;
	bool hidden;
};

/* Global options are accepted after the command too, as Compose's are. Commands put
 * CLI_GLOBAL_OPTIONS in their option table and pass unknown codes to
 * cli_global_option, which returns false for a code that is not global. */
enum {
	OPT_G_ENV_FILE = 1000,
	OPT_G_PROFILE,
	OPT_G_PROJECT_DIR,
	OPT_G_ROOT,
	OPT_G_FILE,
	OPT_G_PROJECT_NAME,
	OPT_G_ANSI, /* --ansi and --progress: before the command only, as Compose's */
	OPT_G_PROGRESS
};
#define CLI_GLOBAL_OPTIONS \
	{"file", required_argument, NULL, OPT_G_FILE}, \
		{"project-name", required_argument, NULL, OPT_G_PROJECT_NAME}, \
		{"project-directory", required_argument, NULL, OPT_G_PROJECT_DIR}, \
		{"env-file", required_argument, NULL, OPT_G_ENV_FILE}, \
		{"profile", required_argument, NULL, OPT_G_PROFILE}, \
	{ \
		"root", required_argument, NULL, OPT_G_ROOT \
	}
bool cli_global_option(struct cli_globals *g, int code, const char *arg);
/* --ansi / $COMPOSE_ANSI / NO_COLOR: colour on fd? */
bool cli_color(const struct cli_globals *g, int fd);
/* The same as -1 never, 1 always, 0 auto (for struct cli_log_style). */
int cli_ansi(const struct cli_globals *g);
/* --progress / $COMPOSE_PROGRESS, auto resolved: "tty", "plain", "quiet" or "json". */
const char *cli_progress(const struct cli_globals *g);
/* The rest of a getopt loop: ':' (a missing argument) and unknown codes are usage
 * errors (returned), global options are taken (0). */
int cli_other_option(struct cli_globals *g, const char *cmd, int code, char **argv);

/* getopt_long takes an unambiguous prefix of a long option; Compose does not. Returns
 * CLI_USAGE after reporting the first abbreviated --flag in argv[from..to), or 0. */
int cli_reject_abbreviations(const char *cmd, char **argv, int from, int to,
			     const struct option *opts);

/* Exit codes: 0 success, 1 failure, 2 usage error (as docker compose). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cli_config(struct cli_globals *g, int argc, char **argv);
int cli_version(struct cli_globals *g, int argc, char **argv);
int cli_pull(struct cli_globals *g, int argc, char **argv);
int cli_build(struct cli_globals *g, int argc, char **argv);

/* up's builds, before the supervisor gets the plan: the services (and, unless no_deps,
 * what they depend on; all when n is 0) that have a `build:` section are built as
 * Compose decides (missing image, `pull_policy: build`, --build; pulled first when
 * they also name an `image:`), and every one gets its image name into the model. */
enum cli_up_build { CLI_UP_BUILD_MISSING, CLI_UP_BUILD_ALWAYS, CLI_UP_BUILD_NEVER };
struct compose_project;
int cli_up_build(struct cli_globals *g, struct compose_project *p, const char *const *services,
		 size_t n, bool no_deps, enum cli_up_build mode);
int cli_images(struct cli_globals *g, int argc, char **argv);
/* The store's images, as `docker images` (`stack image ls`; `images` outside a project). */
int cli_image_ls(struct cli_globals *g, int argc, char **argv);
int cli_image(struct cli_globals *g, int argc, char **argv);
int cli_image_inspect(struct cli_globals *g, int argc, char **argv);
int cli_image_prune(struct cli_globals *g, int argc, char **argv);
int cli_rmi(struct cli_globals *g, int argc, char **argv);
int cli_tag(struct cli_globals *g, int argc, char **argv);
int cli_login(struct cli_globals *g, int argc, char **argv);
int cli_logout(struct cli_globals *g, int argc, char **argv);
int cli_load(struct cli_globals *g, int argc, char **argv);
int cli_save(struct cli_globals *g, int argc, char **argv);
int cli_volume(struct cli_globals *g, int argc, char **argv);

/* The state root: --root, else $STACK_ROOT, else /var/lib/stack. */
const char *cli_state_root(const struct cli_globals *g);
/* The supervisor's runtime directory: /run/stack, or <root>/run when --root or
 * $STACK_ROOT moves the state root (tests). */
const char *cli_run_root(const struct cli_globals *g);
int cli_up(struct cli_globals *g, int argc, char **argv);
int cli_create(struct cli_globals *g, int argc, char **argv);
int cli_wait(struct cli_globals *g, int argc, char **argv);
int cli_down(struct cli_globals *g, int argc, char **argv);
int cli_ps(struct cli_globals *g, int argc, char **argv);
int cli_port(struct cli_globals *g, int argc, char **argv);
/* The PORTS column of `ps` for config.json's "ports", as Docker groups them. */
struct json_object;
char *cli_ports_display(struct json_object *ports);
int cli_ls(struct cli_globals *g, int argc, char **argv);
int cli_logs(struct cli_globals *g, int argc, char **argv);
int cli_stop(struct cli_globals *g, int argc, char **argv);
int cli_start(struct cli_globals *g, int argc, char **argv);
int cli_restart(struct cli_globals *g, int argc, char **argv);
int cli_kill(struct cli_globals *g, int argc, char **argv);
int cli_pause(struct cli_globals *g, int argc, char **argv);
int cli_rm(struct cli_globals *g, int argc, char **argv);
int cli_unpause(struct cli_globals *g, int argc, char **argv);
/* The daily commands: cp.c, top.c, stats.c, events.c, completion.c. */
int cli_cp(struct cli_globals *g, int argc, char **argv);
int cli_top(struct cli_globals *g, int argc, char **argv);
int cli_stats(struct cli_globals *g, int argc, char **argv);
int cli_events(struct cli_globals *g, int argc, char **argv);
int cli_completion(struct cli_globals *g, int argc, char **argv);
int cli_exec(struct cli_globals *g, int argc, char **argv);
int cli_run(struct cli_globals *g, int argc, char **argv);
int cli_attach(struct cli_globals *g, int argc, char **argv);
/* A supervisor client whose events render as up's progress lines on stderr; *tty says
 * whether stderr is a terminal (and must outlive the client). */
struct super_client;
void cli_super_client(struct cli_globals *g, struct super_client *cl, bool *tty);
/* Logs of a project's recorded containers (those of the named services; none = all), as
 * `logs` prints them; with o->follow until they have exited. */
struct state_container;
struct super_log_opts;
struct cli_log_style {
	bool timestamps, no_prefix, no_color;
	bool abort_on_exit; /* up: --abort-on-container-exit */
	const char *exit_code_from; /* up: --exit-code-from */
	int ansi; /* -1 never, 1 always, 0 auto (a terminal, and no NO_COLOR) */
};
int cli_print_logs(const struct state_container *v, size_t n, const char *project,
		   const char *const *services, size_t nservices, const struct super_log_opts *o,
		   const struct cli_log_style *st);
/* Hidden: the per-project supervisor (src/super/), started by the commands above. */
int cli_supervise(struct cli_globals *g, int argc, char **argv);
/* Hidden: holds a tty container's pty master (fd 3) until it exits (its pidfd, fd 4). */
int cli_tty_keeper(struct cli_globals *g, int argc, char **argv);
/* Hidden: drives src/net/ directly for tests. */
int cli_net_plumbing(struct cli_globals *g, int argc, char **argv);
int cli_net_plumbing_serve(struct cli_globals *g, int argc, char **argv);
/* Hidden plumbing: run one container in the foreground (src/cli/runtime.c). */
int cli_runtime(struct cli_globals *g, int argc, char **argv);

struct compose_project;
struct compose_diags;
/* Load the project the globals describe; diagnostics go to stderr. */
int cli_load_project(struct cli_globals *g, const char *const *services, size_t nservices,
		     bool no_interpolate, struct compose_project **out);
void cli_print_diags(const struct compose_diags *d);
/* Release a project at the end of a command (see project.c). */
void cli_project_release(struct compose_project *p);

/* Print "stack: msg" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the usage error and a hint to stderr; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

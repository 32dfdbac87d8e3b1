/* Shared reporting helpers for the commands. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/str.h"

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("stack: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("stack: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd)
		fprintf(stderr, "\nRun 'stack %s --help' for usage.\n", cmd);
	else
		fputs("\nRun 'stack --help' for usage.\n", stderr);
	return CLI_USAGE;
}

static void push(const char ***arr, size_t *n, const char *v)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = v;
}

bool cli_global_option(struct cli_globals *g, int code, const char *arg)
{
	switch (code) {
	case OPT_G_FILE:
		push(&g->files, &g->nfiles, arg);
		return true;
	case OPT_G_PROJECT_NAME:
		g->project_name = arg;
		return true;
	case OPT_G_PROJECT_DIR:
		g->project_dir = arg;
		return true;
	case OPT_G_ENV_FILE:
		push(&g->env_files, &g->nenv_files, arg);
		return true;
	case OPT_G_PROFILE:
		push(&g->profiles, &g->nprofiles, arg);
		return true;
	case OPT_G_ROOT:
		g->root = arg;
		return true;
	case OPT_G_ANSI:
		g->ansi = arg;
		if (strcmp(arg, "never") && strcmp(arg, "always") && strcmp(arg, "auto"))
			g->bad_value = "--ansi: expected never, always or auto";
		return true;
	case OPT_G_PROGRESS:
		g->progress = arg;
		if (strcmp(arg, "auto") && strcmp(arg, "tty") && strcmp(arg, "plain") &&
		    strcmp(arg, "quiet") && strcmp(arg, "json"))
			g->bad_value = "--progress: expected auto, tty, plain, quiet or json";
		return true;
	default:
		return false;
	}
}

static const char *ansi_mode(const struct cli_globals *g)
{
	const char *env = getenv("COMPOSE_ANSI");

	return g->ansi ? g->ansi : env && *env ? env : "auto";
}

int cli_ansi(const struct cli_globals *g)
{
	const char *mode = ansi_mode(g);

	return !strcmp(mode, "never") ? -1 : !strcmp(mode, "always") ? 1 : 0;
}

bool cli_color(const struct cli_globals *g, int fd)
{
	const char *mode = ansi_mode(g), *no = getenv("NO_COLOR");

	if (!strcmp(mode, "never"))
		return false;
	if (!strcmp(mode, "always"))
		return true;
	return !(no && *no) && isatty(fd);
}

const char *cli_progress(const struct cli_globals *g)
{
	const char *env = getenv("COMPOSE_PROGRESS");
	const char *mode = g->progress ? g->progress : env && *env ? env : "auto";

	if (!strcmp(mode, "plain") || !strcmp(mode, "quiet") || !strcmp(mode, "json"))
		return mode;
	/* tty or auto: a terminal's display, unless ANSI is off. */
	if (!strcmp(ansi_mode(g), "never") || (strcmp(mode, "tty") && !isatty(2)))
		return "plain";
	return "tty";
}

int cli_reject_abbreviations(const char *cmd, char **argv, int from, int to,
			     const struct option *opts)
{
	int i;

	for (i = from; i < to; i++) {
		const char *a = argv[i];
		size_t len;
		const struct option *o;

		if (!strcmp(a, "--"))
			break;
		if (strncmp(a, "--", 2))
			continue;
		len = strcspn(a + 2, "=");
		for (o = opts; o->name; o++)
			if (strlen(o->name) == len && !strncmp(o->name, a + 2, len))
				break;
		if (!o->name)
			return cli_usage_error(cmd, "unknown flag: --%.*s", (int)len, a + 2);
	}
	return 0;
}

/* --root, else STACK_ROOT, else /var/lib/stack. */
const char *cli_state_root(const struct cli_globals *g)
{
	const char *env = getenv("STACK_ROOT");

	if (g->root)
		return g->root;
	return env && *env ? env : "/var/lib/stack";
}

const char *cli_run_root(const struct cli_globals *g)
{
	static char *run;
	const char *env = getenv("STACK_ROOT");

	if (!g->root && !(env && *env))
		return "/run/stack";
	if (!run)
		run = xasprintf("%s/run", cli_state_root(g));
	return run;
}

int cli_other_option(struct cli_globals *g, const char *cmd, int code, char **argv)
{
	if (code == ':')
		return cli_usage_error(cmd, "flag needs an argument: %s", argv[optind - 1]);
	if (cli_global_option(g, code, optarg))
		return 0;
	return cli_usage_error(cmd, "unknown flag: %s", argv[optind - 1]);
}

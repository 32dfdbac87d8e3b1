/* stack: parse the global options and dispatch to a command. Nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/str.h"

static const struct cli_command commands[] = {
	{"config", cli_config, "Parse, resolve and render compose file in canonical format", false},
	{"version", cli_version, "Show the stack version information", false},
	{"runtime", cli_runtime, "Run one container in the foreground (plumbing)", true},
};

static void usage(FILE *out)
{
	size_t i;

	fputs("Usage: stack [OPTIONS] COMMAND\n"
	      "\n"
	      "Define and run multi-container applications, without a daemon\n"
	      "\n"
	      "Options:\n"
	      "      --env-file stringArray       Specify an alternate environment file\n"
	      "  -f, --file stringArray           Compose configuration files\n"
	      "  -p, --project-name string        Project name\n"
	      "      --profile stringArray        Specify a profile to enable\n"
	      "      --project-directory string   Specify an alternate working directory\n"
	      "                                   (default: the path of the first specified Compose file)\n"
	      "      --root string                State directory (default /var/lib/stack, or $STACK_ROOT)\n"
	      "  -h, --help                       Show this help\n"
	      "  -v, --version                    Show the stack version information\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!commands[i].hidden)
			fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'stack COMMAND --help' for more information on a command.\n", out);
}

static void push(const char ***arr, size_t *n, const char *v)
{
	*arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = v;
}

enum { OPT_ENV_FILE = 256, OPT_PROFILE, OPT_PROJECT_DIR, OPT_ROOT };

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"file", required_argument, NULL, 'f'},
		{"project-name", required_argument, NULL, 'p'},
		{"project-directory", required_argument, NULL, OPT_PROJECT_DIR},
		{"env-file", required_argument, NULL, OPT_ENV_FILE},
		{"profile", required_argument, NULL, OPT_PROFILE},
		{"root", required_argument, NULL, OPT_ROOT},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'v'},
		{0},
	};
	struct cli_globals g = {0};
	const char *cmd;
	size_t i;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:f:p:hv", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			push(&g.files, &g.nfiles, optarg);
			break;
		case 'p':
			g.project_name = optarg;
			break;
		case OPT_PROJECT_DIR:
			g.project_dir = optarg;
			break;
		case OPT_ENV_FILE:
			push(&g.env_files, &g.nenv_files, optarg);
			break;
		case OPT_PROFILE:
			push(&g.profiles, &g.nprofiles, optarg);
			break;
		case OPT_ROOT:
			g.root = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'v':
			printf("stack version %s\n", STACK_VERSION);
			return CLI_OK;
		case ':':
			usage(stderr);
			return cli_usage_error(NULL, "flag needs an argument: %s", argv[optind - 1]);
		default:
			usage(stderr);
			return cli_usage_error(NULL, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	cmd = argv[optind];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			rc = commands[i].run(&g, argc - optind, argv + optind);
			goto out;
		}
	}
	usage(stderr);
	rc = cli_usage_error(NULL, "unknown command \"%s\"", cmd);
out:
	free(g.files);
	free(g.env_files);
	free(g.profiles);
	return rc;
}

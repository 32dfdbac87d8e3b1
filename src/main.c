/* stack: parse the global options and dispatch to a command. Nothing else. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/str.h"

static const struct cli_command commands[] = {
	{"attach", cli_attach,
	 "Attach local standard input, output, and error streams to a service's running container",
	 false},
	{"build", cli_build, "Build or rebuild services", false},
	{"completion", cli_completion, "Print a shell completion script (bash or zsh)", false},
	{"config", cli_config, "Parse, resolve and render compose file in canonical format", false},
	{"cp", cli_cp, "Copy files/folders between a service container and the local filesystem",
	 false},
	{"create", cli_create, "Creates containers for a service", false},
	{"down", cli_down, "Stop and remove containers, networks", false},
	{"events", cli_events, "Receive real time events from containers", false},
	{"exec", cli_exec, "Execute a command in a running container", false},
	{"image", cli_image, "Manage images", false},
	{"images", cli_images, "List images used by the created containers", false},
	{"kill", cli_kill, "Force stop service containers", false},
	{"load", cli_load, "Load images from a tar archive", false},
	{"login", cli_login, "Log in to a registry", false},
	{"logout", cli_logout, "Log out from a registry", false},
	{"logs", cli_logs, "View output from containers", false},
	{"ls", cli_ls, "List running compose projects", false},
	{"pause", cli_pause, "Pause services", false},
	{"port", cli_port, "Print the public port for a port binding", false},
	{"ps", cli_ps, "List containers", false},
	{"pull", cli_pull, "Pull images from a registry", false},
	{"restart", cli_restart, "Restart service containers", false},
	{"rm", cli_rm, "Removes stopped service containers", false},
	{"rmi", cli_rmi, "Remove one or more images", false},
	{"run", cli_run, "Run a one-off command on a service", false},
	{"save", cli_save, "Save images to a tar archive", false},
	{"start", cli_start, "Start services", false},
	{"stats", cli_stats, "Display a live stream of container(s) resource usage statistics",
	 false},
	{"stop", cli_stop, "Stop services", false},
	{"tag", cli_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", false},
	{"top", cli_top, "Display the running processes", false},
	{"unpause", cli_unpause, "Unpause services", false},
	{"up", cli_up, "Create and start containers", false},
	{"version", cli_version, "Show the stack version information", false},
	{"wait", cli_wait, "Block until containers of all (or specified) services stop.", false},
	{"volume", cli_volume, "Manage volumes", false},
	{"supervise", cli_supervise, "The per-project supervisor (started by up)", true},
	{"tty-keeper", cli_tty_keeper, "Holds a tty container's pty (started by the supervisor)",
	 true},
	{"net-plumbing", cli_net_plumbing, "Drive the network module directly (tests)", true},
	{"runtime", cli_runtime, "Run one container in the foreground (plumbing)", true},
};

/* On a usage error: the synopsis, then the error and where the full help is. */
static void short_usage(void)
{
	fputs("Usage: stack [OPTIONS] COMMAND\n\n", stderr);
}

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
	      "      --ansi string                Control when to print ANSI control characters\n"
	      "                                   (\"never\"|\"always\"|\"auto\") (default \"auto\")\n"
	      "      --progress string            Set type of progress output\n"
	      "                                   (auto, tty, plain, quiet, json) (default \"auto\")\n"
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"ansi", required_argument, NULL, OPT_G_ANSI},
		{"progress", required_argument, NULL, OPT_G_PROGRESS},
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
			cli_global_option(&g, OPT_G_FILE, optarg);
			break;
		case 'p':
			cli_global_option(&g, OPT_G_PROJECT_NAME, optarg);
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		case 'v':
			printf("stack version %s\n", STACK_VERSION);
			return CLI_OK;
		case ':':
			short_usage();
			return cli_usage_error(NULL, "flag needs an argument: %s",
					       argv[optind - 1]);
		default:
			if (cli_global_option(&g, c, optarg))
				break;
			short_usage();
			return cli_usage_error(NULL, "unknown flag: %s", argv[optind - 1]);
		}
	}
	if ((rc = cli_reject_abbreviations(NULL, argv, 1, optind, opts)))
		goto out;
	if (g.bad_value) {
		rc = cli_usage_error(NULL, "invalid %s", g.bad_value);
		goto out;
	}
	if (optind >= argc) {
		short_usage();
		return CLI_USAGE;
	}
	cmd = argv[optind];
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, cmd) == 0) {
			rc = commands[i].run(&g, argc - optind, argv + optind);
			goto out;
		}
	}
	short_usage();
	rc = cli_usage_error(NULL, "unknown command \"%s\"", cmd);
out:
	free(g.files);
	free(g.env_files);
	free(g.profiles);
	return rc;
}

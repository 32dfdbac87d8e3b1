/* `stack version`. */
#include "cli/cli.h"

#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static const char version_usage[] =
	"Usage: stack version [OPTIONS]\n"
	"\n"
	"Show the stack version information\n"
	"\n"
	"Options:\n"
	"  -f, --format string   Format the output. Values: [pretty | json] (default \"pretty\")\n"
	"      --short           Shows only the version number\n"
	"  -h, --help            Show this help\n";

int cli_version(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"short", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *format = "pretty";
	int c, shrt = 0;

	(void)g;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 's':
			shrt = 1;
			break;
		case 'h':
			fputs(version_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("version", "invalid option");
		}
	}
	if (optind < argc)
		return cli_usage_error("version", "unexpected argument \"%s\"", argv[optind]);
	if (shrt)
		puts(STACK_VERSION);
	else if (strcmp(format, "json") == 0) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "version", json_object_new_string(STACK_VERSION));
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	} else if (strcmp(format, "pretty") == 0)
		printf("stack version %s\n", STACK_VERSION);
	else
		return cli_usage_error("version", "unknown format \"%s\"", format);
	return CLI_OK;
}

/* `stack config`: the project in canonical form, or parts of it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "util/cleanup.h"

static const char config_usage[] =
	"Usage: stack config [OPTIONS] [SERVICE...]\n"
	"\n"
	"Parse, resolve and render compose file in canonical format\n"
	"\n"
	"Options:\n"
	"      --format string     Format the output. Values: [yaml | json] (default \"yaml\")\n"
	"      --hash string       Print the service config hash, one per line.\n"
	"      --images            Print the image names, one per line.\n"
	"      --networks          Print the network names, one per line.\n"
	"      --no-interpolate    Don't interpolate environment variables\n"
	"  -o, --output string     Save to file (default to stdout)\n"
	"      --profiles          Print the profile names, one per line.\n"
	"  -q, --quiet             Only validate the configuration, don't print anything\n"
	"      --services          Print the service names, one per line.\n"
	"      --volumes           Print the volume names, one per line.\n"
	"  -h, --help              Show this help\n";

enum {
	OPT_FORMAT = 256,
	OPT_HASH,
	OPT_IMAGES,
	OPT_NETWORKS,
	OPT_NO_INTERP,
	OPT_PROFILES,
	OPT_SERVICES,
	OPT_VOLUMES
};

enum config_list {
	LIST_NONE,
	LIST_SERVICES,
	LIST_VOLUMES,
	LIST_NETWORKS,
	LIST_PROFILES,
	LIST_IMAGES
};

static void print_list(const struct compose_project *p, enum config_list what, FILE *out)
{
	size_t i;

	switch (what) {
	case LIST_SERVICES: {
		/* dependencies first, as Compose lists them, so scripts can start in order */
		size_t *order = calloc(p->nservices + 1, sizeof(*order));

		compose_start_order(p, order);
		for (i = 0; i < p->nservices; i++)
			fprintf(out, "%s\n", p->services[order[i]].name);
		free(order);
		break;
	}
	case LIST_VOLUMES:
		for (i = 0; i < p->nvolumes; i++)
			fprintf(out, "%s\n", p->volumes[i].key);
		break;
	case LIST_NETWORKS:
		for (i = 0; i < p->nnetworks; i++)
			fprintf(out, "%s\n", p->networks[i].key);
		break;
	case LIST_PROFILES:
		for (i = 0; i < p->profiles.n; i++)
			fprintf(out, "%s\n", p->profiles.v[i]);
		break;
	case LIST_IMAGES:
		for (i = 0; i < p->nservices; i++) {
			const struct compose_service *s = &p->services[i];

			if (s->image)
				fprintf(out, "%s\n", s->image);
			else
				fprintf(out, "%s-%s\n", p->name, s->name);
		}
		break;
	case LIST_NONE:
		break;
	}
}

static int print_hashes(const struct compose_project *p, const char *spec, FILE *out)
{
	size_t i;

	for (i = 0; i < p->nservices; i++) {
		const char *name = p->services[i].name;
		_cleanup_free_ char *h = NULL;

		if (strcmp(spec, "*") != 0) {
			_cleanup_free_ char *copy = strdup(spec);
			char *save = NULL, *tok;
			bool want = false;

			for (tok = strtok_r(copy, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				want |= strcmp(tok, name) == 0;
			if (!want)
				continue;
		}
		h = compose_service_hash(p, name);
		fprintf(out, "%s %s\n", name, h);
	}
	return CLI_OK;
}

int cli_config(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, OPT_FORMAT},
		{"hash", required_argument, NULL, OPT_HASH},
		{"images", no_argument, NULL, OPT_IMAGES},
		{"networks", no_argument, NULL, OPT_NETWORKS},
		{"no-interpolate", no_argument, NULL, OPT_NO_INTERP},
		{"output", required_argument, NULL, 'o'},
		{"profiles", no_argument, NULL, OPT_PROFILES},
		{"quiet", no_argument, NULL, 'q'},
		{"services", no_argument, NULL, OPT_SERVICES},
		{"volumes", no_argument, NULL, OPT_VOLUMES},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	enum compose_format fmt = COMPOSE_YAML;
	enum config_list list = LIST_NONE;
	const char *output = NULL, *hash = NULL;
	bool quiet = false, no_interp = false;
	struct compose_project *p = NULL;
	FILE *out = stdout;
	int c, rc = CLI_OK;

	optind = 0;
	opterr = 0;
	if ((rc = cli_reject_abbreviations("config", argv, 1, argc, opts)))
		return rc;
	while ((c = getopt_long(argc, argv, ":o:qhf:p:", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FORMAT:
			if (strcmp(optarg, "json") == 0)
				fmt = COMPOSE_JSON;
			else if (strcmp(optarg, "yaml") == 0)
				fmt = COMPOSE_YAML;
			else
				return cli_usage_error("config", "unsupported format \"%s\"",
						       optarg);
			break;
		case OPT_HASH:
			hash = optarg;
			break;
		case OPT_IMAGES:
			list = LIST_IMAGES;
			break;
		case OPT_NETWORKS:
			list = LIST_NETWORKS;
			break;
		case OPT_PROFILES:
			list = LIST_PROFILES;
			break;
		case OPT_SERVICES:
			list = LIST_SERVICES;
			break;
		case OPT_VOLUMES:
			list = LIST_VOLUMES;
			break;
		case OPT_NO_INTERP:
			no_interp = true;
			break;
		case 'o':
			output = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			fputs(config_usage, stdout);
			return CLI_OK;
		case 'f':
			cli_global_option(g, OPT_G_FILE, optarg);
			break;
		case 'p':
			cli_global_option(g, OPT_G_PROJECT_NAME, optarg);
			break;
		case ':':
			return cli_usage_error("config", "flag needs an argument: %s",
					       argv[optind - 1]);
		default:
			if (cli_global_option(g, c, optarg))
				break;
			return cli_usage_error("config", "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (cli_load_project(g, (const char *const *)argv + optind, (size_t)(argc - optind),
			     no_interp, &p) < 0)
		return CLI_FAIL;
	if (quiet)
		goto out;
	if (output && !(out = fopen(output, "we"))) {
		cli_error("open %s: %m", output);
		rc = CLI_FAIL;
		goto out;
	}
	if (hash)
		print_hashes(p, hash, out);
	else if (list != LIST_NONE)
		print_list(p, list, out);
	else {
		_cleanup_free_ char *text = compose_project_render(p, fmt);

		fputs(text ? text : "", out);
	}
	if (out != stdout && fclose(out) != 0) {
		cli_error("write %s: %m", output);
		rc = CLI_FAIL;
	}
out:
	cli_project_release(p);
	return rc;
}

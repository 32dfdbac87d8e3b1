/* Image management commands: image (ls, rm, prune, inspect, pull, tag), rmi, tag,
 * login, logout. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/str.h"

static int with_store(struct cli_globals *g, struct image_store **s)
{
	struct stk_err err;

	if (image_store_open(cli_state_root(g), s, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static void print_and_free_lines(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		puts(v[i]);
		free(v[i]);
	}
	free(v);
}

/* ---- tag ---- */

int cli_tag(struct cli_globals *g, int argc, char **argv)
{
	struct image_store *s;
	struct stk_err err;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		puts("Usage: stack tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\n"
		     "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
		return CLI_OK;
	}
	if (argc != 3)
		return cli_usage_error("tag", "\"stack tag\" requires exactly 2 arguments");
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	if (image_store_tag(s, argv[1], argv[2], &err) < 0) {
		cli_error("tag %s: %s", argv[1], err.msg);
		rc = CLI_FAIL;
	}
	image_store_free(s);
	return rc;
}

/* ---- rm ---- */

static const char rm_usage[] =
	"Usage: stack image rm [OPTIONS] IMAGE [IMAGE...]\n"
	"\n"
	"Remove one or more images\n"
	"\n"
	"Options:\n"
	"  -f, --force   Force removal of the image, even if a container uses it\n"
	"  -h, --help    Show this help\n";

int cli_rmi(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct image_store *s;
	bool force = false;
	int c, i, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+fh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			fputs(rm_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("image rm", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("image rm",
				       "\"stack image rm\" requires at least 1 argument");
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	for (i = optind; i < argc; i++) {
		struct stk_err err;
		char **lines = NULL;
		size_t n = 0;

		if (image_store_remove(s, argv[i], force, &lines, &n, &err) < 0) {
			cli_error("%s", err.msg);
			rc = CLI_FAIL;
		}
		print_and_free_lines(lines, n);
	}
	image_store_free(s);
	return rc;
}

/* ---- prune ---- */

int cli_image_prune(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct image_store *s;
	struct stk_err err;
	char **lines = NULL;
	size_t n = 0;
	uint64_t reclaimed = 0;
	bool all = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+afh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'f':
			break; /* no prompt to skip: stack never asks */
		case 'h':
			puts("Usage: stack image prune [OPTIONS]\n\nRemove unused images\n\nOptions:\n"
			     "  -a, --all     Remove all unused images, not just dangling ones\n"
			     "  -f, --force   Do not prompt for confirmation\n");
			return CLI_OK;
		default:
			return cli_usage_error("image prune", "invalid option");
		}
	}
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	if (image_store_prune(s, all, &lines, &n, &reclaimed, &err) < 0) {
		cli_error("prune: %s", err.msg);
		rc = CLI_FAIL;
	}
	if (n)
		puts("Deleted Images:");
	print_and_free_lines(lines, n);
	if (rc == CLI_OK)
		printf("\nTotal reclaimed space: %.1fMB\n", (double)reclaimed / 1e6);
	image_store_free(s);
	return rc;
}

/* ---- inspect ---- */

static struct json_object *inspect_one(struct image_store *s, const char *name, struct stk_err *err)
{
	struct image_config cfg;
	struct image_list l;
	struct json_object *o, *doc, *v, *tags, *layers;
	size_t i;

	if (image_store_get(s, name, &cfg, err) < 0)
		return NULL;
	doc = json_tokener_parse(cfg.config_json);
	o = json_object_new_object();
	json_object_object_add(o, "Id", json_object_new_string(cfg.id));
	tags = json_object_new_array();
	if (image_store_list(s, &l, err) == 0) {
		for (i = 0; i < l.n; i++)
			if (l.v[i].name && strcmp(l.v[i].manifest_digest, cfg.manifest_digest) == 0)
				json_object_array_add(tags, json_object_new_string(l.v[i].name));
		for (i = 0; i < l.n; i++)
			if (strcmp(l.v[i].manifest_digest, cfg.manifest_digest) == 0) {
				json_object_object_add(o, "Size",
						       json_object_new_int64((int64_t)l.v[i].size));
				break;
			}
		image_list_free(&l);
	}
	json_object_object_add(o, "RepoTags", tags);
	json_object_object_add(o, "ManifestDigest", json_object_new_string(cfg.manifest_digest));
	if (doc) {
		static const char *const copy[] = {"created", "architecture", "variant",
						   "os",      "config",	      "rootfs"};
		static const char *const as[] = {"Created", "Architecture", "Variant",
						 "Os",	    "Config",	    "RootFS"};

		for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
			if (json_object_object_get_ex(doc, copy[i], &v))
				json_object_object_add(o, as[i], json_object_get(v));
		json_object_put(doc);
	}
	layers = json_object_new_array();
	for (i = 0; i < cfg.nlayers; i++)
		json_object_array_add(layers, json_object_new_string(cfg.layers[i]));
	json_object_object_add(o, "LayerPaths", layers);
	image_config_free(&cfg);
	return o;
}

int cli_image_inspect(struct cli_globals *g, int argc, char **argv)
{
	struct image_store *s;
	struct json_object *arr;
	int i, rc;

	if (argc < 2)
		return cli_usage_error("image inspect",
				       "\"stack image inspect\" requires at least 1 argument");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		puts("Usage: stack image inspect IMAGE [IMAGE...]\n\nDisplay detailed information on one or more images");
		return CLI_OK;
	}
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	arr = json_object_new_array();
	for (i = 1; i < argc; i++) {
		struct stk_err err;
		struct json_object *o = inspect_one(s, argv[i], &err);

		if (!o) {
			cli_error("%s", err.msg);
			rc = CLI_FAIL;
			continue;
		}
		json_object_array_add(arr, o);
	}
	puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							 JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	image_store_free(s);
	return rc;
}

/* ---- image: the subcommand family ---- */

int cli_image(struct cli_globals *g, int argc, char **argv)
{
	static const struct cli_command subs[] = {
		{"inspect", cli_image_inspect, "Display detailed information on one or more images",
		 false},
		{"ls", cli_image_ls, "List images", false},
		{"prune", cli_image_prune, "Remove unused images", false},
		{"pull", cli_pull, "Download an image from a registry", false},
		{"rm", cli_rmi, "Remove one or more images", false},
		{"tag", cli_tag, "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", false},
	};
	size_t i;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		FILE *out = argc < 2 ? stderr : stdout;

		fputs("Usage: stack image COMMAND\n\nManage images\n\nCommands:\n", out);
		for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
			fprintf(out, "  %-10s %s\n", subs[i].name, subs[i].summary);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (strcmp(argv[1], subs[i].name) == 0 ||
		    (strcmp(argv[1], "list") == 0 && subs[i].run == cli_images))
			return subs[i].run(g, argc - 1, argv + 1);
	return cli_usage_error("image", "unknown command \"image %s\"", argv[1]);
}

/* ---- login / logout ---- */

static char *read_password_stdin(void)
{
	struct strbuf sb;
	int c;

	strbuf_init(&sb);
	while ((c = getchar()) != EOF)
		strbuf_addc(&sb, (char)c);
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '\r'))
		sb.buf[--sb.len] = '\0';
	if (!sb.buf)
		strbuf_addn(&sb, "", 0);
	return strbuf_take(&sb);
}

/* "https://index.docker.io/v1/", "docker.io" → "docker.io"; else the host[:port] part. */
static char *server_domain(const char *server)
{
	const char *p = server;

	if (!p)
		return xstrdup("docker.io");
	if (str_has_prefix(p, "https://"))
		p += 8;
	else if (str_has_prefix(p, "http://"))
		p += 7;
	if (str_has_prefix(p, "index.docker.io") || str_has_prefix(p, "registry-1.docker.io"))
		return xstrdup("docker.io");
	return xstrndup(p, strcspn(p, "/"));
}

int cli_login(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"username", required_argument, NULL, 'u'},
		{"password", required_argument, NULL, 'p'},
		{"password-stdin", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	_cleanup_free_ char *domain = NULL, *pw_in = NULL;
	const char *user = NULL, *password = NULL;
	struct image_pull_opts po = {0};
	struct stk_err err;
	bool from_stdin = false;
	int c;

	(void)g;
	optind = 0;
	while ((c = getopt_long(argc, argv, "+u:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user = optarg;
			break;
		case 'p':
			password = optarg;
			break;
		case 's':
			from_stdin = true;
			break;
		case 'h':
			puts("Usage: stack login [OPTIONS] [SERVER]\n\nLog in to a registry\n\nOptions:\n"
			     "  -p, --password string   Password\n"
			     "      --password-stdin    Take the password from stdin\n"
			     "  -u, --username string   Username");
			return CLI_OK;
		default:
			return cli_usage_error("login", "invalid option");
		}
	}
	if (optind + 1 < argc)
		return cli_usage_error("login", "\"stack login\" accepts at most 1 argument");
	if (from_stdin) {
		if (password)
			return cli_usage_error(
				"login", "--password and --password-stdin are mutually exclusive");
		password = pw_in = read_password_stdin();
	}
	if (!user || !password)
		return cli_usage_error(
			"login", "username and password are required (-u, -p or --password-stdin)");
	domain = server_domain(optind < argc ? argv[optind] : NULL);
	if (image_auth_check(domain, user, password, &po, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	if (image_auth_store(NULL, domain, user, password, &err) < 0) {
		cli_error("login: %s", err.msg);
		return CLI_FAIL;
	}
	puts("Login Succeeded");
	return CLI_OK;
}

int cli_logout(struct cli_globals *g, int argc, char **argv)
{
	_cleanup_free_ char *domain = NULL, *key = NULL;
	struct stk_err err;
	bool was = false;

	(void)g;
	if (argc > 2)
		return cli_usage_error("logout", "\"stack logout\" accepts at most 1 argument");
	domain = server_domain(argc == 2 ? argv[1] : NULL);
	key = image_auth_key(domain);
	if (image_auth_erase(NULL, domain, &was, &err) < 0) {
		cli_error("logout: %s", err.msg);
		return CLI_FAIL;
	}
	if (was)
		printf("Removing login credentials for %s\n", key);
	else
		printf("Not logged in to %s\n", key);
	return CLI_OK;
}

/* ---- load / save ---- */

int cli_load(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"input", required_argument, NULL, 'i'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *input = NULL;
	struct image_store *s;
	struct stk_err err;
	char **lines = NULL;
	size_t n = 0;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+i:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			input = optarg;
			break;
		case 'q': /* progress only, and load shows none */
			break;
		case 'h':
			puts("Usage: stack load [OPTIONS]\n\nLoad images from a tar archive (docker save or OCI layout)\n\n"
			     "Options:\n  -i, --input string   Read from tar archive file\n  -q, --quiet          Suppress the load progress");
			return CLI_OK;
		default:
			return cli_usage_error("load", "invalid option");
		}
	}
	if (!input)
		return cli_usage_error("load", "an archive is required: -i FILE");
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	if (image_store_load(s, input, &lines, &n, &err) < 0) {
		cli_error("load %s: %s", input, err.msg);
		rc = CLI_FAIL;
	}
	/* Printed with -q too, as `docker load -q` prints them. */
	print_and_free_lines(lines, n);
	image_store_free(s);
	return rc;
}

int cli_save(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *output = NULL;
	struct image_store *s;
	struct stk_err err;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'h':
			puts("Usage: stack save [OPTIONS] IMAGE [IMAGE...]\n\nSave images to a tar archive "
			     "(an OCI layout with docker's manifest.json)\n\nOptions:\n  -o, --output string   Write to a file");
			return CLI_OK;
		default:
			return cli_usage_error("save", "invalid option");
		}
	}
	if (!output)
		return cli_usage_error("save", "an output file is required: -o FILE");
	if (optind >= argc)
		return cli_usage_error("save", "\"stack save\" requires at least 1 argument");
	rc = with_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	if (image_store_save(s, (const char *const *)argv + optind, (size_t)(argc - optind), output,
			     &err) < 0) {
		cli_error("save: %s", err.msg);
		rc = CLI_FAIL;
	}
	image_store_free(s);
	return rc;
}

/* `stack volume ls|create|inspect|rm|prune|export|import`: docker volume's commands,
 * flags, output and exit codes, over src/volume/. export and import are stack's own:
 * a volume's content as a tar on stdout / from stdin. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"
#include "volume/volume.h"

static const char volume_usage[] =
	"Usage: stack volume COMMAND\n"
	"\n"
	"Manage volumes\n"
	"\n"
	"Commands:\n"
	"  create      Create a volume\n"
	"  export      Write a volume's content to stdout as a tar archive\n"
	"  import      Replace a volume's content with a tar archive read from stdin\n"
	"  inspect     Display detailed information on one or more volumes\n"
	"  ls          List volumes\n"
	"  prune       Remove unused local volumes\n"
	"  rm          Remove one or more volumes\n"
	"\n"
	"Run 'stack volume COMMAND --help' for more information on a command.\n";

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static void add_kv(struct volume_kv **kv, size_t *n, const char *arg)
{
	const char *eq = strchr(arg, '=');
	_cleanup_free_ char *key = eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);

	volume_kv_add(kv, n, key, eq ? eq + 1 : "");
}

/* Shared option parsing: the long options of the subcommand plus the globals. Returns
 * the option code, -1 at the end, or CLI_USAGE+1000 after reporting an error. */
#define OPT_ERROR (-2)
static int next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
		    const struct option *opts, struct cli_globals *g)
{
	int c;

	/* First call of a subcommand: Compose takes no abbreviated --flags. */
	if (optind == 0 && cli_reject_abbreviations(cmd, argv, 1, argc, opts))
		return OPT_ERROR;
	for (;;) {
		c = getopt_long(argc, argv, shortopts, opts, NULL);
		if (c == -1 || c == 'h')
			return c;
		if (c == '?' || c == ':') {
			cli_usage_error(cmd, "%s: %s",
					c == ':' ? "flag needs an argument" : "unknown flag",
					argv[optind - 1]);
			return OPT_ERROR;
		}
		if (!cli_global_option(g, c, optarg))
			return c;
	}
}

/* --- create --- */

static int volume_create_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"driver", required_argument, NULL, 'd'},
		{"label", required_argument, NULL, 'l'},
		{"opt", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct volume_create_opts co = {0};
	struct volume_kv *labels = NULL, *options = NULL;
	struct volume *v = NULL;
	struct stk_err err;
	bool created;
	int c, rc = CLI_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume create", argc, argv, "+:d:o:h", opts, g)) != -1) {
		switch (c) {
		case 'd':
			co.driver = optarg;
			break;
		case 'l':
			add_kv(&labels, &co.nlabels, optarg);
			break;
		case 'o':
			add_kv(&options, &co.noptions, optarg);
			break;
		case 'h':
			puts("Usage: stack volume create [OPTIONS] [VOLUME]\n\nCreate a volume\n\n"
			     "Options:\n  -d, --driver string   Specify volume driver name (default \"local\")\n"
			     "      --label list      Set metadata for a volume\n"
			     "  -o, --opt map         Set driver specific options (default map[])");
			rc = CLI_OK;
			goto out;
		default:
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (argc - optind > 1) {
		rc = cli_usage_error("volume create",
				     "\"volume create\" requires at most 1 argument.");
		goto out;
	}
	co.name = optind < argc ? argv[optind] : NULL;
	co.labels = labels;
	co.options = options;
	if (volume_create(cli_state_root(g), &co, &v, &created, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (!created && co.noptions)
		fprintf(stderr, "stack: warning: volume %s exists; its options are unchanged\n",
			v->name);
	puts(v->name);
	rc = CLI_OK;
out:
	volume_free(v);
	volume_kv_free(labels, co.nlabels);
	volume_kv_free(options, co.noptions);
	return rc;
}

/* --- ls --- */

struct filters {
	struct volume_kv *kv;
	size_t n;
};

static bool label_matches(const struct volume *v, const char *want)
{
	const char *eq = strchr(want, '=');
	_cleanup_free_ char *key = eq ? xstrndup(want, (size_t)(eq - want)) : xstrdup(want);
	const char *val = volume_label(v, key);

	return val && (!eq || strcmp(val, eq + 1) == 0);
}

/* Filters of one kind are ORed, different kinds ANDed, as docker does. */
static bool filter_kind_matches(const struct volume *v, const char *kind, const char *value,
				const char *root)
{
	if (strcmp(kind, "label") == 0)
		return label_matches(v, value);
	if (strcmp(kind, "name") == 0)
		return strstr(v->name, value) != NULL;
	if (strcmp(kind, "driver") == 0)
		return strcmp(v->driver, value) == 0;
	if (strcmp(kind, "dangling") == 0) {
		char **users = volume_users(root, v->name);
		bool dangling = !users || !users[0];
		bool want = strcmp(value, "true") == 0 || strcmp(value, "1") == 0;

		volume_strv_free(users);
		return dangling == want;
	}
	return false;
}

static bool filters_match(const struct filters *f, const struct volume *v, const char *root)
{
	size_t i, j;

	for (i = 0; i < f->n; i++) {
		bool any = false, seen = false;

		for (j = 0; j < i; j++)
			if (strcmp(f->kv[j].key, f->kv[i].key) == 0)
				seen = true;
		if (seen)
			continue;
		for (j = i; j < f->n; j++)
			if (strcmp(f->kv[j].key, f->kv[i].key) == 0 &&
			    filter_kind_matches(v, f->kv[j].key, f->kv[j].value, root))
				any = true;
		if (!any)
			return false;
	}
	return true;
}

static int filters_add(struct filters *f, const char *arg, const char *const *kinds)
{
	const char *const *k;

	if (!strchr(arg, '=')) {
		cli_error("bad format of filter (expected name=value)");
		return -1;
	}
	add_kv(&f->kv, &f->n, arg);
	for (k = kinds; *k; k++)
		if (strcmp(*k, f->kv[f->n - 1].key) == 0)
			return 0;
	cli_error("invalid filter '%s'", f->kv[f->n - 1].key);
	return -1;
}

static char *labels_text(const struct volume *v)
{
	struct strbuf sb;
	size_t i;

	strbuf_init(&sb);
	strbuf_adds(&sb, "");
	for (i = 0; i < v->nlabels; i++)
		strbuf_addf(&sb, "%s%s=%s", i ? "," : "", v->labels[i].key, v->labels[i].value);
	return strbuf_take(&sb);
}

/* `--format json`: one object per line, the fields of docker's volume ls. */
static void print_ls_json(const struct volume *v)
{
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *labels = labels_text(v);

	json_object_object_add(o, "Driver", json_object_new_string(v->driver));
	json_object_object_add(o, "Labels", json_object_new_string(labels));
	json_object_object_add(o, "Links", json_object_new_string("N/A"));
	json_object_object_add(o, "Mountpoint", json_object_new_string(v->mountpoint));
	json_object_object_add(o, "Name", json_object_new_string(v->name));
	json_object_object_add(o, "Scope", json_object_new_string(v->scope));
	json_object_object_add(o, "Size", json_object_new_string("N/A"));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *const ls_filters[] = {"label", "name", "driver", "dangling", NULL};

static int volume_ls_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"filter", required_argument, NULL, 'f'},
		{"format", required_argument, NULL, 'F'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct filters f = {0};
	const char *format = NULL, *root;
	struct volume **v = NULL;
	struct stk_err err;
	bool quiet = false;
	size_t n = 0, i, width = 10;
	int c, rc = CLI_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume ls", argc, argv, "+:f:qh", opts, g)) != -1) {
		switch (c) {
		case 'f':
			if (filters_add(&f, optarg, ls_filters) < 0)
				goto out;
			break;
		case 'F':
			format = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			puts("Usage: stack volume ls [OPTIONS]\n\nList volumes\n\nAliases:\n  ls, list\n\n"
			     "Options:\n  -f, --filter filter   Provide filter values (e.g. 'dangling=true')\n"
			     "      --format string   Format output using \"table\" or \"json\"\n"
			     "  -q, --quiet           Only display volume names");
			rc = CLI_OK;
			goto out;
		default:
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("volume ls", "\"volume ls\" accepts no arguments.");
		goto out;
	}
	root = cli_state_root(g); /* --root may come after the subcommand */
	if (format && strcmp(format, "json") && strcmp(format, "table")) {
		rc = cli_usage_error("volume ls", "unsupported format \"%s\" (table or json)",
				     format);
		goto out;
	}
	if (volume_list(root, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strlen(v[i]->driver) + 3 > width)
			width = strlen(v[i]->driver) + 3;
	if (!quiet && !(format && strcmp(format, "json") == 0))
		printf("%-*s%s\n", (int)width, "DRIVER", "VOLUME NAME");
	for (i = 0; i < n; i++) {
		if (!filters_match(&f, v[i], root))
			continue;
		if (quiet)
			puts(v[i]->name);
		else if (format && strcmp(format, "json") == 0)
			print_ls_json(v[i]);
		else
			printf("%-*s%s\n", (int)width, v[i]->driver, v[i]->name);
	}
	rc = CLI_OK;
out:
	volume_list_free(v, n);
	volume_kv_free(f.kv, f.n);
	return rc;
}

/* --- inspect --- */

/* The part of Go's templates that scripts use on volumes: {{.Field}},
 * {{json .Field}} or {{json .}}, and {{index .Labels "key"}}. */
static int render_field(const char *expr, struct json_object *v, struct strbuf *out)
{
	struct json_object *f = NULL;
	bool json = str_has_prefix(expr, "json ");
	char key[256];

	if (json)
		expr += 5;
	while (*expr == ' ')
		expr++;
	if (sscanf(expr, "index .Labels \"%255[^\"]\"", key) == 1) {
		struct json_object *labels;

		if (json_object_object_get_ex(v, "Labels", &labels) &&
		    json_object_object_get_ex(labels, key, &f))
			strbuf_adds(out, json_object_get_string(f));
		else
			strbuf_adds(out, "<no value>");
		return 0;
	}
	if (strcmp(expr, ".") == 0)
		f = v;
	else if (expr[0] != '.' || !json_object_object_get_ex(v, expr + 1, &f))
		return -1;
	if (json || !json_object_is_type(f, json_type_string))
		strbuf_adds(out,
			    json_object_to_json_string_ext(f,
							   JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	else
		strbuf_adds(out, json_object_get_string(f));
	return 0;
}

static int render_template(const char *t, struct json_object *v, struct strbuf *out)
{
	const char *open, *close;

	while ((open = strstr(t, "{{"))) {
		_cleanup_free_ char *expr = NULL;
		size_t len;

		strbuf_addn(out, t, (size_t)(open - t));
		close = strstr(open, "}}");
		if (!close)
			return -1;
		open += 2;
		while (*open == ' ')
			open++;
		len = (size_t)(close - open);
		while (len && open[len - 1] == ' ')
			len--;
		expr = xstrndup(open, len);
		if (render_field(expr, v, out) < 0) {
			cli_error("template: can't evaluate \"%s\" on a volume", expr);
			return -1;
		}
		t = close + 2;
	}
	strbuf_adds(out, t);
	return 0;
}

static int volume_inspect_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	_cleanup_(json_putp) struct json_object *arr = json_object_new_array();
	const char *format = NULL;
	int c, i, rc = CLI_OK;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume inspect", argc, argv, "+:f:h", opts, g)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'h':
			puts("Usage: stack volume inspect [OPTIONS] VOLUME [VOLUME...]\n\n"
			     "Display detailed information on one or more volumes\n\nOptions:\n"
			     "  -f, --format string   \"json\" (the default), or a template: {{.Mountpoint}},\n"
			     "                        {{json .Labels}}, {{index .Labels \"key\"}}");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("volume inspect",
				       "\"volume inspect\" requires at least 1 argument.");
	if (format && strcmp(format, "json") == 0)
		format = NULL;
	for (i = optind; i < argc; i++) {
		struct volume *v;
		struct stk_err err;

		if (volume_get(cli_state_root(g), argv[i], &v, &err) < 0) {
			if (err.errnum == ENOENT)
				fprintf(stderr, "Error: No such volume: %s\n", argv[i]);
			else
				cli_error("%s: %s", argv[i], err.msg);
			rc = CLI_FAIL;
			continue;
		}
		json_object_array_add(arr, volume_to_json(v));
		volume_free(v);
		if (format) {
			struct strbuf sb;
			struct json_object *last =
				json_object_array_get_idx(arr, json_object_array_length(arr) - 1);

			strbuf_init(&sb);
			if (render_template(format, last, &sb) < 0) {
				strbuf_free(&sb);
				return CLI_FAIL;
			}
			puts(sb.buf ? sb.buf : "");
			strbuf_free(&sb);
		}
	}
	if (!format && (json_object_array_length(arr) || rc == CLI_OK))
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_SPACED |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
	return rc;
}

/* --- rm and prune --- */

static int volume_rm_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	bool force = false;
	int c, i, rc = CLI_OK;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume rm", argc, argv, "+:fh", opts, g)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			puts("Usage: stack volume rm [OPTIONS] VOLUME [VOLUME...]\n\n"
			     "Remove one or more volumes. You cannot remove a volume that is in use by a "
			     "container.\n\nAliases:\n  rm, remove\n\nOptions:\n"
			     "  -f, --force   Force the removal of one or more volumes");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("volume rm", "\"volume rm\" requires at least 1 argument.");
	for (i = optind; i < argc; i++) {
		struct stk_err err;

		if (volume_remove(cli_state_root(g), argv[i], &err) < 0) {
			/* -f ignores a missing volume, never one in use (as docker). */
			if (force && err.errnum == ENOENT)
				continue;
			if (err.errnum == ENOENT)
				fprintf(stderr, "Error: No such volume: %s\n", argv[i]);
			else
				cli_error("remove %s: %s", argv[i], err.msg);
			rc = CLI_FAIL;
			continue;
		}
		puts(argv[i]);
	}
	return rc;
}

static bool confirm(const char *warning)
{
	char line[16];

	fprintf(stderr, "%s\nAre you sure you want to continue? [y/N] ", warning);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* docker's units.HumanSize: decimal units, four significant digits. */
static void print_reclaimed(unsigned long long bytes)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	printf("Total reclaimed space: %.4g%s\n", v, units[u]);
}

static const char *const prune_filters[] = {"label", "all", NULL};

static int volume_prune_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"all", no_argument, NULL, 'a'},
		{"filter", required_argument, NULL, 'F'},
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *root;
	struct filters f = {0};
	struct volume **v = NULL;
	struct stk_err err;
	bool all = false, force = false, header = false;
	unsigned long long reclaimed = 0, size;
	size_t n = 0, i;
	int c, rc = CLI_FAIL;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume prune", argc, argv, "+:afh", opts, g)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'F':
			if (filters_add(&f, optarg, prune_filters) < 0)
				goto out;
			/* all=true is docker's filter form of --all. */
			if (strcmp(f.kv[f.n - 1].key, "all") == 0) {
				all = strcmp(f.kv[f.n - 1].value, "false") != 0;
				f.n--;
				free(f.kv[f.n].key);
				free(f.kv[f.n].value);
			}
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			puts("Usage: stack volume prune [OPTIONS]\n\nRemove unused local volumes\n\n"
			     "Options:\n  -a, --all             Remove all unused volumes, not just "
			     "anonymous ones\n      --filter filter   Provide filter values (e.g. "
			     "'label=<label>')\n  -f, --force           Do not prompt for confirmation");
			rc = CLI_OK;
			goto out;
		default:
			rc = CLI_USAGE;
			goto out;
		}
	}
	if (optind < argc) {
		rc = cli_usage_error("volume prune", "\"volume prune\" accepts no arguments.");
		goto out;
	}
	root = cli_state_root(g); /* --root may come after the subcommand */
	if (!force &&
	    !confirm(all ? "WARNING! This will remove all local volumes not used by at "
			   "least one container."
			 : "WARNING! This will remove anonymous local volumes not used by "
			   "at least one container.")) {
		rc = CLI_OK;
		goto out;
	}
	if (volume_list(root, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	rc = CLI_OK;
	for (i = 0; i < n; i++) {
		if (!all && !volume_label(v[i], VOLUME_LABEL_ANONYMOUS))
			continue;
		if (!filters_match(&f, v[i], root))
			continue;
		size = volume_disk_usage(root, v[i]);
		if (volume_remove(root, v[i]->name, &err) < 0) {
			if (err.errnum != EBUSY) {
				cli_error("remove %s: %s", v[i]->name, err.msg);
				rc = CLI_FAIL;
			}
			continue;
		}
		reclaimed += size;
		if (!header)
			puts("Deleted Volumes:");
		header = true;
		puts(v[i]->name);
	}
	if (header)
		puts("");
	print_reclaimed(reclaimed);
out:
	volume_list_free(v, n);
	volume_kv_free(f.kv, f.n);
	return rc;
}

/* --- export and import --- */

static int volume_export_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct stk_err err;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume export", argc, argv, "+:h", opts, g)) != -1) {
		if (c == 'h') {
			puts("Usage: stack volume export VOLUME > FILE.tar\n\n"
			     "Write a volume's content to stdout as a tar archive (owners, modes,\n"
			     "xattrs, symlinks and hardlinks kept)");
			return CLI_OK;
		}
		return CLI_USAGE;
	}
	if (argc - optind != 1)
		return cli_usage_error("volume export",
				       "\"volume export\" requires exactly 1 argument.");
	if (isatty(1)) {
		cli_error(
			"refusing to write a tar archive to a terminal; redirect stdout to a file");
		return CLI_FAIL;
	}
	if (volume_export(cli_state_root(g), argv[optind], 1, &err) < 0) {
		if (err.errnum == ENOENT && strcmp(err.msg, "no such volume") == 0)
			fprintf(stderr, "Error: No such volume: %s\n", argv[optind]);
		else
			cli_error("export %s: %s", argv[optind], err.msg);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int volume_import_cmd(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"force", no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct stk_err err;
	bool force = false;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = next_opt("volume import", argc, argv, "+:fh", opts, g)) != -1) {
		switch (c) {
		case 'f':
			force = true;
			break;
		case 'h':
			puts("Usage: stack volume import [OPTIONS] VOLUME < FILE.tar\n\n"
			     "Fill a volume from a tar archive read from stdin. The volume is created\n"
			     "when missing; one that has content is refused unless --force, which\n"
			     "replaces the content.\n\nOptions:\n"
			     "  -f, --force   Replace the content of a volume that is not empty");
			return CLI_OK;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("volume import",
				       "\"volume import\" requires exactly 1 argument.");
	if (isatty(0)) {
		cli_error("import reads a tar archive from stdin; redirect it from a file");
		return CLI_FAIL;
	}
	if (volume_import(cli_state_root(g), argv[optind], 0, force, &err) < 0) {
		cli_error("import %s: %s", argv[optind], err.msg);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_volume(struct cli_globals *g, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli_globals *, int, char **);
	} cmds[] = {
		{"create", volume_create_cmd}, {"export", volume_export_cmd},
		{"import", volume_import_cmd}, {"inspect", volume_inspect_cmd},
		{"ls", volume_ls_cmd},	       {"list", volume_ls_cmd},
		{"prune", volume_prune_cmd},   {"rm", volume_rm_cmd},
		{"remove", volume_rm_cmd},
	};
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(volume_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].run(g, argc - 1, argv + 1);
	fputs(volume_usage, stderr);
	return cli_usage_error("volume", "unknown command \"%s\"", argv[1]);
}

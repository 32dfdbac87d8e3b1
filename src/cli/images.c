/* `images [SERVICE...]`: in a compose project, the images its containers use, as
 * `docker compose images` (CONTAINER REPOSITORY TAG IMAGE ID SIZE). With no compose
 * file to be found it lists the store, as `docker images` (`stack image ls` always). */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daily.h"
#include "image/image.h"
#include "util/bytes.h"
#include "util/cleanup.h"
#include "util/str.h"

/* Would `stack config` find a project here? -f, --project-directory, COMPOSE_FILE, or
 * a compose file in this directory or a parent (the names Compose looks for). */
static bool project_found(const struct cli_globals *g)
{
	static const char *const names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
					    "docker-compose.yml"};
	char dir[PATH_MAX];
	size_t i;

	if (g->nfiles || g->project_dir || getenv("COMPOSE_FILE"))
		return true;
	if (!getcwd(dir, sizeof(dir)))
		return false;
	for (;;) {
		char *slash;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			_cleanup_free_ char *p =
				xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", names[i]);

			if (access(p, F_OK) == 0)
				return true;
		}
		if (!strcmp(dir, "/") || !(slash = strrchr(dir, '/')))
			return false;
		if (slash == dir)
			slash++;
		*slash = '\0';
	}
}

struct image_row {
	const char *container;
	char *repo, *tag, id[16], size[24];
	const char *full_id;
	uint64_t bytes;
};

static void fill_image_row(struct image_row *r, const struct state_container *c,
			   const struct image_list *l)
{
	const char *ref = state_str(c->config, "image");
	const char *id = state_str(c->config, "image_id");
	struct image_ref parsed;
	struct stk_err err;
	size_t i;

	r->container = state_str(c->config, "name");
	r->full_id = id;
	if (image_ref_parse(ref, &parsed, &err) == 0) {
		r->repo = image_ref_familiar_name(&parsed);
		r->tag = xstrdup(parsed.tag ? parsed.tag : "<none>");
		image_ref_free(&parsed);
	} else {
		r->repo = xstrdup("<none>");
		r->tag = xstrdup("<none>");
	}
	snprintf(r->id, sizeof(r->id), "%.12s", str_has_prefix(id, "sha256:") ? id + 7 : id);
	r->bytes = 0;
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->v[i].id, id))
			r->bytes = l->v[i].size;
	stk_human_size(r->bytes, r->size, sizeof(r->size));
}

/* Go's tabwriter with padding 3, as Compose's table. */
static void print_image_table(const struct image_row *rows, size_t n)
{
	static const char *const titles[5] = {"CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"};
	size_t w[5], i, k;

	for (k = 0; k < 5; k++)
		w[k] = strlen(titles[k]) + 3;
	for (i = 0; i < n; i++) {
		const char *cell[4] = {rows[i].container, rows[i].repo, rows[i].tag, rows[i].id};

		for (k = 0; k < 4; k++)
			if (strlen(cell[k]) + 3 > w[k])
				w[k] = strlen(cell[k]) + 3;
	}
	daily_print_row(titles, w, 5);
	for (i = 0; i < n; i++) {
		const char *cell[5] = {rows[i].container, rows[i].repo, rows[i].tag, rows[i].id,
				       rows[i].size};

		daily_print_row(cell, w, 5);
	}
}

static void print_image_json(const struct image_row *rows, size_t n)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "ID", json_object_new_string(rows[i].full_id));
		json_object_object_add(o, "ContainerName",
				       json_object_new_string(rows[i].container));
		json_object_object_add(o, "Repository", json_object_new_string(rows[i].repo));
		json_object_object_add(o, "Tag", json_object_new_string(rows[i].tag));
		json_object_object_add(o, "Size", json_object_new_int64((int64_t)rows[i].bytes));
		json_object_array_add(arr, o);
	}
	printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
}

/* -q: each image ID once, in the order first used. */
static void print_image_ids(const struct image_row *rows, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		bool seen = false;

		for (j = 0; j < i; j++)
			seen |= !strcmp(rows[j].full_id, rows[i].full_id);
		if (!seen)
			printf("%s\n", rows[i].full_id);
	}
}

static int project_images(struct cli_globals *g, char **services, size_t nservices, bool quiet,
			  bool json)
{
	struct daily_set set;
	struct image_store *store = NULL;
	struct image_list l = {0};
	struct image_row *rows;
	struct stk_err err;
	size_t i, n = 0;

	if (daily_load(g, services, nservices, &set) < 0)
		return CLI_FAIL;
	if (image_store_open(set.paths.root, &store, &err) < 0 ||
	    image_store_list(store, &l, &err) < 0) {
		cli_error("%s", err.msg);
		image_store_free(store);
		daily_release(&set);
		return CLI_FAIL;
	}
	rows = xcalloc(set.n + 1, sizeof(*rows));
	for (i = 0; i < set.n; i++)
		if (daily_wanted(&set.v[i], services, nservices))
			fill_image_row(&rows[n++], &set.v[i], &l);
	if (quiet)
		print_image_ids(rows, n);
	else if (json)
		print_image_json(rows, n);
	else
		print_image_table(rows, n);
	for (i = 0; i < n; i++) {
		free(rows[i].repo);
		free(rows[i].tag);
	}
	free(rows);
	image_list_free(&l);
	image_store_free(store);
	daily_release(&set);
	return CLI_OK;
}

int cli_images(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	bool quiet = false, json = false;
	int c, rc;

	if (!project_found(g))
		return cli_image_ls(g, argc, argv);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				return cli_usage_error("images",
						       "unsupported --format \"%s\" (table or json)",
						       optarg);
			json = !strcmp(optarg, "json");
			break;
		case 'h':
			fputs("Usage: stack images [OPTIONS] [SERVICE...]\n\n"
			      "List images used by the created containers (outside a project: the store's,\n"
			      "as `stack image ls`)\n\nOptions:\n"
			      "      --format string   table or json\n"
			      "  -q, --quiet           Only display IDs\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "images", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("images", argv, 1, optind, opts)))
		return rc;
	return project_images(g, argv + optind, (size_t)(argc - optind), quiet, json);
}

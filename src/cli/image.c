/* Image commands: pull, images, image (ls, rm, prune, inspect, pull, tag), tag, login,
 * logout. Parsing and rendering only; the work is in src/image/. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/str.h"

static int open_store(struct cli_globals *g, struct image_store **s)
{
	struct stk_err err;

	if (image_store_open(cli_state_root(g), s, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- progress ---- */

/* On a terminal: one row per image and one per layer under it, redrawn in place (state,
 * bar, bytes, speed). Otherwise one line per event, as a log wants it. */
struct progress_row {
	char *ref;
	char *layer; /* NULL: the image's own row */
	char status[128];
	uint64_t start_ms, start_bytes; /* first progress seen, for the speed */
};

struct progress {
	bool tty, quiet, multi;
	struct progress_row *rows;
	size_t nrows, drawn;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *short_digest(const char *d)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%.12s", d && strlen(d) > 7 ? d + 7 : "");
	return buf;
}

static void human_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB"};
	double v = (double)n;
	size_t u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%lluB", (unsigned long long)n);
	else
		snprintf(buf, len, "%.3g%s", v, units[u]);
}

static void progress_redraw(struct progress *pr)
{
	size_t i;

	if (pr->drawn)
		fprintf(stderr, "\033[%zuA", pr->drawn);
	for (i = 0; i < pr->nrows; i++) {
		const struct progress_row *row = &pr->rows[i];

		if (row->layer)
			fprintf(stderr, "\033[2K  %s: %s\n", short_digest(row->layer), row->status);
		else
			fprintf(stderr, "\033[2K%s: %s\n", row->ref, row->status);
	}
	pr->drawn = pr->nrows;
	fflush(stderr);
}

/* The row of (ref, layer), made after the image's last row if new. */
static struct progress_row *progress_row(struct progress *pr, const char *ref, const char *layer)
{
	size_t i, at = pr->nrows;
	bool seen_ref = false;

	for (i = 0; i < pr->nrows; i++) {
		struct progress_row *row = &pr->rows[i];

		if (strcmp(row->ref, ref) != 0) {
			if (seen_ref && at == pr->nrows)
				at = i;
			continue;
		}
		seen_ref = true;
		if (layer ? row->layer && strcmp(row->layer, layer) == 0 : !row->layer)
			return row;
	}
	pr->rows = xrealloc(pr->rows, (pr->nrows + 1) * sizeof(*pr->rows));
	memmove(&pr->rows[at + 1], &pr->rows[at], (pr->nrows - at) * sizeof(*pr->rows));
	pr->nrows++;
	memset(&pr->rows[at], 0, sizeof(pr->rows[at]));
	pr->rows[at].ref = xstrdup(ref);
	pr->rows[at].layer = layer ? xstrdup(layer) : NULL;
	return &pr->rows[at];
}

static void bar(struct progress_row *row, char *out, size_t len, uint64_t cur, uint64_t total)
{
	char a[16], b[16], speed[24] = "";
	int width = 30, fill = total ? (int)(cur * (uint64_t)width / total) : 0, i;
	uint64_t t = now_ms();
	struct strbuf sb;

	if (!row->start_ms) {
		row->start_ms = t;
		row->start_bytes = cur;
	} else if (t > row->start_ms && cur > row->start_bytes) {
		human_size((cur - row->start_bytes) * 1000 / (t - row->start_ms), a, sizeof(a));
		snprintf(speed, sizeof(speed), " %s/s", a);
	}
	strbuf_init(&sb);
	strbuf_addc(&sb, '[');
	for (i = 0; i < width; i++)
		strbuf_addc(&sb, i < fill ? '=' : (i == fill ? '>' : ' '));
	strbuf_addc(&sb, ']');
	human_size(cur, a, sizeof(a));
	human_size(total, b, sizeof(b));
	snprintf(out, len, "Downloading %s %s/%s%s", sb.buf, a, b, speed);
	strbuf_free(&sb);
}

static void on_pull_event(const struct image_event *ev, void *arg)
{
	struct progress *pr = arg;
	char line[128];

	if (pr->quiet)
		return;
	switch (ev->kind) {
	case IMAGE_EV_RESOLVED:
		snprintf(line, sizeof(line), "Pulling from %s", short_digest(ev->detail));
		break;
	case IMAGE_EV_DONE:
		snprintf(line, sizeof(line), "Digest: %s", ev->detail);
		break;
	case IMAGE_EV_LAYER_EXISTS:
		snprintf(line, sizeof(line), "Already exists");
		break;
	case IMAGE_EV_LAYER_WAIT:
		snprintf(line, sizeof(line), "Waiting");
		break;
	case IMAGE_EV_LAYER_PROGRESS:
		if (!pr->tty)
			return; /* a log gets events, not bars */
		bar(progress_row(pr, ev->ref, ev->layer), line, sizeof(line), ev->current,
		    ev->total);
		break;
	case IMAGE_EV_LAYER_VERIFIED:
		snprintf(line, sizeof(line), "Verifying Checksum: ok");
		break;
	case IMAGE_EV_LAYER_EXTRACTING:
		snprintf(line, sizeof(line), "Extracting");
		break;
	case IMAGE_EV_LAYER_DONE:
		snprintf(line, sizeof(line), "Pull complete");
		break;
	case IMAGE_EV_RETRY:
		snprintf(line, sizeof(line), "Retrying (%s)", ev->detail ? ev->detail : "");
		break;
	default:
		return;
	}
	if (pr->tty) {
		struct progress_row *row = progress_row(pr, ev->ref, ev->layer);

		snprintf(row->status, sizeof(row->status), "%s", line);
		progress_redraw(pr);
	} else if (!ev->layer) {
		fprintf(stderr, "%s: %s\n", ev->ref, line);
	} else if (pr->multi) {
		fprintf(stderr, "%s: %s: %s\n", ev->ref, short_digest(ev->layer), line);
	} else {
		fprintf(stderr, "%s: %s\n", short_digest(ev->layer), line);
	}
}

static void progress_free(struct progress *pr)
{
	size_t i;

	for (i = 0; i < pr->nrows; i++) {
		free(pr->rows[i].ref);
		free(pr->rows[i].layer);
	}
	free(pr->rows);
}

/* ---- pull ---- */

static const char pull_usage[] =
	"Usage: stack pull [OPTIONS] IMAGE [IMAGE...]\n"
	"\n"
	"Download images from a registry into the local store (all at once)\n"
	"\n"
	"Options:\n"
	"      --max-concurrent-downloads int   Layers downloaded at once, over all\n"
	"                                       the images (default 3)\n"
	"  -q, --quiet                          Suppress progress output\n"
	"  -h, --help                           Show this help\n"
	"\n"
	"Registries are reached over HTTPS, checked against the system's CA store.\n"
	"Loopback registries use plain HTTP. Those listed in STACK_INSECURE_REGISTRIES\n"
	"(comma-separated host[:port] or CIDR, like Docker's insecure-registries) are\n"
	"reached over HTTPS without certificate checks, or plain HTTP if HTTPS fails.\n";

/* Outcomes by argument, reported in the order of the arguments once all are done. */
struct pull_results {
	char *const *refs;
	size_t n;
	struct stk_err *errs;
	bool *failed;
};

static void on_pull_result(const char *ref, const struct stk_err *err, void *arg)
{
	struct pull_results *res = arg;
	size_t i;

	if (!err)
		return;
	for (i = 0; i < res->n; i++)
		if (!res->failed[i] && strcmp(res->refs[i], ref) == 0) {
			res->failed[i] = true;
			res->errs[i] = *err;
			return;
		}
}

int cli_pull(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"max-concurrent-downloads", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct image_pull_opts po = {0};
	struct progress pr = {0};
	struct pull_results res = {0};
	struct image_store *s = NULL;
	struct stk_err err;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			pr.quiet = true;
			break;
		case 'm':
			po.max_parallel = (unsigned)atoi(optarg);
			if (po.max_parallel < 1 || po.max_parallel > 64)
				return cli_usage_error("pull",
						       "--max-concurrent-downloads must be 1..64");
			break;
		case 'h':
			fputs(pull_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("pull", "invalid option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("pull", "\"stack pull\" requires at least 1 argument");
	rc = open_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	pr.tty = isatty(STDERR_FILENO);
	pr.multi = argc - optind > 1;
	po.on_event = on_pull_event;
	po.event_arg = &pr;
	res.refs = argv + optind;
	res.n = (size_t)(argc - optind);
	res.errs = xcalloc(res.n, sizeof(*res.errs));
	res.failed = xcalloc(res.n, sizeof(*res.failed));
	rc = CLI_OK;
	if (image_pull_all(s, (const char *const *)res.refs, res.n, &po, on_pull_result, &res,
			   &err) < 0)
		rc = CLI_FAIL;
	for (i = 0; i < res.n; i++) {
		if (res.failed[i])
			cli_error("pull %s", res.errs[i].msg);
		else if (pr.quiet)
			puts(res.refs[i]);
	}
	if (rc != CLI_OK && !memchr(res.failed, true, res.n))
		cli_error("pull: %s", err.msg); /* the store itself could not be used */
	free(res.errs);
	free(res.failed);
	progress_free(&pr);
	image_store_free(s);
	return rc;
}

/* ---- images ---- */

static void split_name(const char *canonical, char **repo, char **tag)
{
	struct image_ref r;
	struct stk_err err;

	if (!canonical || image_ref_parse(canonical, &r, &err) < 0) {
		*repo = xstrdup("<none>");
		*tag = xstrdup("<none>");
		return;
	}
	*repo = image_ref_familiar_name(&r);
	*tag = xstrdup(r.tag ? r.tag : "<none>");
	image_ref_free(&r);
}

static void human_age(int64_t created, char *buf, size_t len)
{
	int64_t d = (int64_t)time(NULL) - created;

	if (created <= 0)
		snprintf(buf, len, "N/A");
	else if (d < 60)
		snprintf(buf, len, "Less than a minute ago");
	else if (d < 120)
		snprintf(buf, len, "About a minute ago");
	else if (d < 3600)
		snprintf(buf, len, "%lld minutes ago", (long long)(d / 60));
	else if (d < 86400 * 2)
		snprintf(buf, len, "%lld hours ago", (long long)(d / 3600));
	else if (d < 86400 * 14)
		snprintf(buf, len, "%lld days ago", (long long)(d / 86400));
	else if (d < 86400 * 60)
		snprintf(buf, len, "%lld weeks ago", (long long)(d / (86400 * 7)));
	else if (d < 86400 * 365 * 2)
		snprintf(buf, len, "%lld months ago", (long long)(d / (86400 * 30)));
	else
		snprintf(buf, len, "%lld years ago", (long long)(d / (86400 * 365)));
}

static const char images_usage[] =
	"Usage: stack image ls [OPTIONS]\n"
	"\n"
	"List images in the local store\n"
	"\n"
	"Options:\n"
	"      --format string   Format the output. Values: [table | json] (default \"table\")\n"
	"      --no-trunc        Don't truncate output\n"
	"  -q, --quiet           Only display image IDs\n"
	"  -h, --help            Show this help\n";

int cli_image_ls(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"quiet", no_argument, NULL, 'q'},
		{"format", required_argument, NULL, 'f'},
		{"no-trunc", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct image_store *s = NULL;
	struct image_list l;
	struct stk_err err;
	const char *format = "table";
	bool quiet = false, notrunc = false;
	struct json_object *arr = NULL;
	size_t i;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			quiet = true;
			break;
		case 'f':
			format = optarg;
			break;
		case 'n':
			notrunc = true;
			break;
		case 'h':
			fputs(images_usage, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("images", "invalid option");
		}
	}
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("images", "unknown format \"%s\"", format);
	rc = open_store(g, &s);
	if (rc != CLI_OK)
		return rc;
	if (image_store_list(s, &l, &err) < 0) {
		cli_error("%s", err.msg);
		image_store_free(s);
		return CLI_FAIL;
	}
	if (strcmp(format, "json") == 0)
		arr = json_object_new_array();
	else if (!quiet)
		printf("%-40s %-12s %-14s %-20s %s\n", "REPOSITORY", "TAG", "IMAGE ID", "CREATED",
		       "SIZE");
	for (i = 0; i < l.n; i++) {
		const struct image_entry *e = &l.v[i];
		_cleanup_free_ char *repo = NULL, *tag = NULL;
		char id[80], age[40], size[16];

		split_name(e->name, &repo, &tag);
		snprintf(id, sizeof(id), "%s", notrunc ? e->id : e->id + 7);
		if (!notrunc)
			id[12] = '\0';
		human_age(e->created, age, sizeof(age));
		human_size(e->size, size, sizeof(size));
		if (arr) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "Repository", json_object_new_string(repo));
			json_object_object_add(o, "Tag", json_object_new_string(tag));
			json_object_object_add(o, "ID", json_object_new_string(e->id));
			json_object_object_add(o, "Digest",
					       json_object_new_string(e->manifest_digest));
			json_object_object_add(o, "Created", json_object_new_int64(e->created));
			json_object_object_add(o, "Size", json_object_new_int64((int64_t)e->size));
			json_object_array_add(arr, o);
		} else if (quiet) {
			printf("%s\n", id);
		} else {
			printf("%-40s %-12s %-14s %-20s %s\n", repo, tag, id, age, size);
		}
	}
	if (arr) {
		puts(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	image_list_free(&l);
	image_store_free(s);
	return CLI_OK;
}

/* `stats [SERVICE...]`: CPU, memory, network, block I/O and PIDs of the running
 * containers from their cgroups (engine_stats), as `docker compose stats` shows them:
 * a table redrawn each second, or one sample with --no-stream; --format table|json. */
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daily.h"
#include "engine/engine.h"
#include "util/bytes.h"
#include "util/str.h"

struct sampled {
	const struct state_container *c;
	struct engine_container *ec; /* NULL once it stopped */
	struct engine_stats prev, cur;
	long long t_prev, t_cur; /* ns, monotonic */
};

enum { S_ID, S_NAME, S_CPU, S_MEM, S_MEMPERC, S_NET, S_BLOCK, S_PIDS, NSTAT };
static const char *const stat_titles[NSTAT] = {"CONTAINER ID",	    "NAME",  "CPU %",
					       "MEM USAGE / LIMIT", "MEM %", "NET I/O",
					       "BLOCK I/O",	    "PIDS"};
static const char *const stat_keys[NSTAT] = {"ID",	"Name",	 "CPUPerc", "MemUsage",
					     "MemPerc", "NetIO", "BlockIO", "PIDs"};

static long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sample(struct sampled *s)
{
	struct stk_err err;

	struct pollfd pf = {.fd = s->ec ? engine_pidfd(s->ec) : -1, .events = POLLIN};

	s->prev = s->cur;
	s->t_prev = s->t_cur;
	/* Its PID 1 has exited (the pidfd is readable): it shows "--" from now on. */
	if (s->ec && (poll(&pf, 1, 0) != 0 || engine_stats(s->ec, &s->cur, &err) < 0)) {
		engine_container_free(s->ec);
		s->ec = NULL;
	}
	s->t_cur = mono_ns();
}

/* The row's cells, as Docker's stats formatter writes them. */
static void cells(const struct sampled *s, bool no_trunc, char out[NSTAT][80])
{
	const struct engine_stats *c = &s->cur;
	uint64_t usage = c->memory_usage > c->memory_cache ? c->memory_usage - c->memory_cache
							   : c->memory_usage;
	uint64_t limit = c->memory_limit;
	struct sysinfo si;
	char a[24], b[24];
	double cpu = 0;
	int k;

	snprintf(out[S_ID], 80, "%.*s", no_trunc ? 64 : 12, s->c->id);
	snprintf(out[S_NAME], 80, "%s", state_str(s->c->config, "name"));
	if (!s->ec) {
		for (k = S_CPU; k < NSTAT; k++)
			snprintf(out[k], 80, "--");
		return;
	}
	if (!limit && sysinfo(&si) == 0)
		limit = (uint64_t)si.totalram * si.mem_unit;
	if (s->t_cur > s->t_prev && c->cpu_usage_ns >= s->prev.cpu_usage_ns)
		cpu = (double)(c->cpu_usage_ns - s->prev.cpu_usage_ns) /
		      (double)(s->t_cur - s->t_prev) * 100.0;
	snprintf(out[S_CPU], 80, "%.2f%%", cpu);
	stk_binary_size(usage, a, sizeof(a));
	stk_binary_size(limit, b, sizeof(b));
	snprintf(out[S_MEM], 80, "%s / %s", a, b);
	snprintf(out[S_MEMPERC], 80, "%.2f%%", limit ? (double)usage / (double)limit * 100.0 : 0.0);
	stk_human_size(c->net_rx, a, sizeof(a));
	stk_human_size(c->net_tx, b, sizeof(b));
	snprintf(out[S_NET], 80, "%s / %s", a, b);
	stk_human_size(c->blkio_read, a, sizeof(a));
	stk_human_size(c->blkio_write, b, sizeof(b));
	snprintf(out[S_BLOCK], 80, "%s / %s", a, b);
	snprintf(out[S_PIDS], 80, "%llu", (unsigned long long)c->pids);
}

static void print_json_row(char cell[NSTAT][80])
{
	struct json_object *o = json_object_new_object();
	int k;

	json_object_object_add(o, "BlockIO", json_object_new_string(cell[S_BLOCK]));
	json_object_object_add(o, "CPUPerc", json_object_new_string(cell[S_CPU]));
	json_object_object_add(o, "Container", json_object_new_string(cell[S_ID]));
	for (k = 0; k < NSTAT; k++)
		if (k != S_BLOCK && k != S_CPU)
			json_object_object_add(o, stat_keys[k], json_object_new_string(cell[k]));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* Docker's table: Go's tabwriter with minimum width 10 and padding 3. */
static void print_rows(struct sampled *v, size_t n, bool no_trunc, bool json)
{
	char(*cell)[NSTAT][80] = xcalloc(n + 1, sizeof(*cell));
	size_t w[NSTAT], i;
	int k;

	for (i = 0; i < n; i++)
		cells(&v[i], no_trunc, cell[i]);
	if (json) {
		for (i = 0; i < n; i++)
			print_json_row(cell[i]);
		free(cell);
		return;
	}
	for (k = 0; k < NSTAT; k++) {
		w[k] = strlen(stat_titles[k]);
		for (i = 0; i < n; i++)
			if (strlen(cell[i][k]) > w[k])
				w[k] = strlen(cell[i][k]);
		w[k] = w[k] + 3 < 10 ? 10 : w[k] + 3;
	}
	daily_print_row(stat_titles, w, NSTAT);
	for (i = 0; i < n; i++) {
		const char *row[NSTAT];

		for (k = 0; k < NSTAT; k++)
			row[k] = cell[i][k];
		daily_print_row(row, w, NSTAT);
	}
	free(cell);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0)
		;
}

struct stats_opts {
	bool all, no_stream, no_trunc, json;
};

static int parse_stats(struct cli_globals *g, int argc, char **argv, struct stats_opts *o)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"no-stream", no_argument, NULL, 'S'},
		{"no-trunc", no_argument, NULL, 'T'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:ah", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->all = true;
			break;
		case 'S':
			o->no_stream = true;
			break;
		case 'T':
			o->no_trunc = true;
			break;
		case 'F':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				return cli_usage_error("stats",
						       "unsupported --format \"%s\" (table or json)",
						       optarg);
			o->json = !strcmp(optarg, "json");
			break;
		case 'h':
			fputs("Usage: stack stats [OPTIONS] [SERVICE]\n\n"
			      "Display a live stream of container(s) resource usage statistics\n\n"
			      "Options:\n"
			      "  -a, --all          Show all containers (default shows just running)\n"
			      "      --format string   table or json\n"
			      "      --no-stream    Disable streaming stats and only pull the first result\n"
			      "      --no-trunc     Do not truncate output\n",
			      stdout);
			return -1;
		default:
			if ((rc = cli_other_option(g, "stats", c, argv)))
				return rc;
			break;
		}
	}
	return cli_reject_abbreviations("stats", argv, 1, optind, opts);
}

int cli_stats(struct cli_globals *g, int argc, char **argv)
{
	struct stats_opts o = {0};
	struct daily_set set;
	struct sampled *v;
	size_t i, n = 0;
	bool tty = isatty(STDOUT_FILENO);
	int rc = parse_stats(g, argc, argv, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (daily_load(g, argv + optind, (size_t)(argc - optind), &set) < 0)
		return CLI_FAIL;
	v = xcalloc(set.n + 1, sizeof(*v));
	for (i = 0; i < set.n; i++) {
		struct stk_err err;
		bool running = state_container_running(&set.v[i]);

		if (!daily_wanted(&set.v[i], argv + optind, (size_t)(argc - optind)) ||
		    (!running && !o.all))
			continue;
		v[n].c = &set.v[i];
		if (running && daily_open(&set.v[i], &v[n].ec, &err) < 0)
			v[n].ec = NULL;
		sample(&v[n]);
		n++;
	}
	/* CPU % is a rate: a second sample one second on. */
	for (;;) {
		sleep_ms(1000);
		for (i = 0; i < n; i++)
			sample(&v[i]);
		if (!o.no_stream && tty && !o.json)
			fputs("\033[2J\033[H", stdout);
		print_rows(v, n, o.no_trunc, o.json);
		fflush(stdout);
		if (o.no_stream)
			break;
	}
	for (i = 0; i < n; i++)
		engine_container_free(v[i].ec);
	free(v);
	daily_release(&set);
	return CLI_OK;
}

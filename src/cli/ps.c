/* `ps` and `logs`: read from the state on disk and the cgroups, so they answer with no
 * supervisor running. Rendering as Docker Compose v2. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/str.h"

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Docker's HumanDuration. */
static void human_duration(long long ns, char *buf, size_t len)
{
	long long s = ns / 1000000000LL, m = s / 60, h = m / 60, d = h / 24;

	if (s < 1)
		snprintf(buf, len, "Less than a second");
	else if (s == 1)
		snprintf(buf, len, "1 second");
	else if (s < 60)
		snprintf(buf, len, "%lld seconds", s);
	else if (m == 1)
		snprintf(buf, len, "About a minute");
	else if (m < 60)
		snprintf(buf, len, "%lld minutes", m);
	else if (h == 1)
		snprintf(buf, len, "About an hour");
	else if (h < 48)
		snprintf(buf, len, "%lld hours", h);
	else if (d < 14)
		snprintf(buf, len, "%lld days", d);
	else
		snprintf(buf, len, "%lld weeks", d / 7);
}

static struct json_object *health_of(const struct state_container *c)
{
	struct json_object *h = NULL;

	json_object_object_get_ex(c->state, "health", &h);
	return h;
}

struct row {
	const struct state_container *c;
	bool running;
	const char *state; /* running, exited, created */
	int exit_code;
	char status[96], created[64], ports[256], command[64];
};

static void fill_row(struct row *r, const struct state_container *c)
{
	const char *st = state_str(c->state, "status");
	long long now = now_ns();
	char d[48];
	struct json_object *ports;
	size_t len;
	const char *cmd = state_str(c->config, "command");

	r->c = c;
	r->running = state_container_running(c);
	r->exit_code = (int)state_int(c->state, "exit_code");
	r->state = r->running		       ? (state_container_paused(c) ? "paused" : "running")
		   : !strcmp(st, "created")    ? "created"
		   : !strcmp(st, "restarting") ? "restarting"
					       : "exited";
	human_duration(now - state_int(c->config, "created"), d, sizeof(d));
	snprintf(r->created, sizeof(r->created), "%s ago", d);
	if (r->running) {
		const char *h = state_str(health_of(c), "status");

		human_duration(now - state_int(c->state, "started_at"), d, sizeof(d));
		snprintf(r->status, sizeof(r->status), "Up %s%s%s%s%s", d,
			 !strcmp(r->state, "paused") ? " (Paused)" : "",
			 !*h			  ? ""
			 : !strcmp(h, "starting") ? " (health: "
						  : " (",
			 h, *h ? ")" : "");
	} else if (!strcmp(r->state, "created")) {
		snprintf(r->status, sizeof(r->status), "Created");
	} else {
		/* Recorded as running but its process is gone: the supervisor never saw it go. */
		long long fin = state_int(c->state, "finished_at");

		human_duration(now - (fin ? fin : now), d, sizeof(d));
		snprintf(r->status, sizeof(r->status), "%s (%d) %s ago",
			 !strcmp(st, "restarting") ? "Restarting" : "Exited",
			 strcmp(st, "running") ? r->exit_code : 255, d);
		if (!strcmp(st, "running"))
			r->exit_code = 255;
	}
	len = strlen(cmd);
	if (len > 20)
		snprintf(r->command, sizeof(r->command), "\"%.19s\u2026\"", cmd);
	else
		snprintf(r->command, sizeof(r->command), "\"%s\"", cmd);
	r->ports[0] = '\0';
	if (r->running && json_object_object_get_ex(c->config, "ports", &ports)) {
		char *shown = cli_ports_display(ports);

		snprintf(r->ports, sizeof(r->ports), "%s", shown);
		free(shown);
	}
}

static void print_json(const struct row *r)
{
	struct json_object *o = json_object_new_object(), *pubs = json_object_new_array(), *ports;
	const struct state_container *c = r->c;
	size_t i;

	json_object_object_add(o, "Command",
			       json_object_new_string(state_str(c->config, "command")));
	json_object_object_add(o, "CreatedAt",
			       json_object_new_int64(state_int(c->config, "created") /
						     1000000000LL));
	json_object_object_add(o, "ExitCode", json_object_new_int(r->exit_code));
	json_object_object_add(o, "Health",
			       json_object_new_string(r->running ? state_str(health_of(c), "status")
								 : ""));
	if (health_of(c))
		json_object_object_add(o, "HealthLastOutput",
				       json_object_new_string(
					       state_str(health_of(c), "last_output")));
	json_object_object_add(o, "ID", json_object_new_string(c->id));
	json_object_object_add(o, "Image", json_object_new_string(state_str(c->config, "image")));
	json_object_object_add(o, "Name", json_object_new_string(state_str(c->config, "name")));
	json_object_object_add(o, "Project",
			       json_object_new_string(state_str(c->config, "project")));
	json_object_object_add(o, "Service",
			       json_object_new_string(state_str(c->config, "service")));
	json_object_object_add(o, "State", json_object_new_string(r->state));
	json_object_object_add(o, "Status", json_object_new_string(r->status));
	/* stack's own: output lines the supervisor could not log (a full disk). */
	if (state_int(c->state, "log_lines_lost"))
		json_object_object_add(o, "LogLinesLost",
				       json_object_new_int64(
					       state_int(c->state, "log_lines_lost")));
	if (json_object_object_get_ex(c->config, "ports", &ports)) {
		for (i = 0; i < json_object_array_length(ports); i++) {
			struct json_object *p = json_object_array_get_idx(ports, i), *q;

			q = json_object_new_object();
			json_object_object_add(q, "URL",
					       json_object_new_string(state_str(p, "host_ip")));
			json_object_object_add(q, "TargetPort",
					       json_object_new_int((int)state_int(p, "target")));
			json_object_object_add(q, "PublishedPort",
					       json_object_new_int(
						       r->running ? (int)state_int(p, "published")
								  : 0));
			json_object_object_add(q, "Protocol",
					       json_object_new_string(state_str(p, "protocol")));
			json_object_array_add(pubs, q);
		}
	}
	json_object_object_add(o, "Publishers", pubs);
	{
		struct json_object *labels;

		if (json_object_object_get_ex(c->config, "labels", &labels))
			json_object_object_add(o, "Labels", json_object_get(labels));
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static int project_containers(struct cli_globals *g, struct state_container **v, size_t *n,
			      char **project)
{
	struct compose_project *p = NULL;
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct stk_err err;

	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return -1;
	*project = xstrdup(p->name);
	cli_project_release(p);
	if (state_list_containers(&paths, *project, v, n, &err) < 0) {
		cli_error("%s", err.msg);
		return -1;
	}
	return 0;
}

/* --format table|json */
static int parse_format(const char *cmd, const char *arg, bool *json)
{
	if (strcmp(arg, "json") && strcmp(arg, "table"))
		return cli_usage_error(cmd, "unsupported --format \"%s\" (table or json)", arg);
	*json = !strcmp(arg, "json");
	return 0;
}

/* --status S / --filter status=S, as Compose: the states a container can be in. */
static int add_status(const char *arg, const char ***v, size_t *n)
{
	static const char *const known[] = {"paused", "restarting", "removing", "running",
					    "dead",   "created",    "exited"};
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(arg, known[i]))
			break;
	if (i == sizeof(known) / sizeof(known[0]))
		return cli_usage_error("ps",
				       "invalid status \"%s\" (paused, restarting, removing, "
				       "running, dead, created or exited)",
				       arg);
	*v = xrealloc(*v, (*n + 1) * sizeof(char *));
	(*v)[(*n)++] = arg;
	return 0;
}

static int add_filter(const char *arg, const char ***v, size_t *n)
{
	if (strncmp(arg, "status=", 7))
		return cli_usage_error("ps", "invalid filter \"%s\" (supported: status=STATUS)",
				       arg);
	return add_status(arg + 7, v, n);
}

static bool status_wanted(const struct row *r, const char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(r->state, v[i]))
			return true;
	return n == 0;
}

static bool container_named(const struct state_container *c, char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(state_str(c->config, "name"), names[i]))
			return true;
	return false;
}

/* A service named on the command line, or the container itself by its name (how the
 * log of a one-off container is read: `stack logs proj-app-run-0123456789ab`). */
static bool service_named(const struct state_container *c, char **names, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(state_str(c->config, "service"), names[i]))
			return true;
	return n == 0 || container_named(c, names, n);
}

int cli_ps(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{"services", no_argument, NULL, 'S'},
		{"format", required_argument, NULL, 'F'},
		{"status", required_argument, NULL, 's'},
		{"filter", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	bool all = false, quiet = false, services = false, json = false;
	_cleanup_free_ const char **status = NULL;
	size_t nstatus = 0;
	struct state_container *v = NULL;
	struct row *rows;
	size_t n = 0, i, nr = 0;
	char *project = NULL;
	int c, rc;
	size_t w[4] = {4, 5, 7, 7};

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'S':
			services = true;
			break;
		case 'F':
			if ((rc = parse_format("ps", optarg, &json)))
				return rc;
			break;
		case 's':
		case 'f':
			if ((rc = (c == 's' ? add_status : add_filter)(optarg, &status, &nstatus)))
				return rc;
			break;
		case 'h':
			fputs("Usage: stack ps [OPTIONS] [SERVICE...]\n\nList containers\n\nOptions:\n"
			      "  -a, --all        Show all stopped containers\n"
			      "      --format     table or json\n"
			      "  -q, --quiet      Only display IDs\n"
			      "      --services   Display services\n"
			      "      --status     Filter services by status (paused, restarting, "
			      "removing, running, dead, created, exited)\n"
			      "      --filter     Filter services by a property (status=STATUS)\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "ps", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("ps", argv, 1, optind, opts)))
		return rc;
	if (project_containers(g, &v, &n, &project) < 0)
		return CLI_FAIL;
	rows = xcalloc(n + 1, sizeof(*rows));
	for (i = 0; i < n; i++) {
		/* Compose lists one-off containers (`run`) with --all only. */
		if (!service_named(&v[i], argv + optind, argc - optind) ||
		    (!all && state_container_oneoff(&v[i])))
			continue;
		fill_row(&rows[nr], &v[i]);
		/* A status asked for shows stopped containers too, as Compose. */
		if ((!all && !nstatus && !rows[nr].running) ||
		    !status_wanted(&rows[nr], status, nstatus))
			continue;
		nr++;
	}
	for (i = 0; i < nr; i++) {
		const struct state_container *sc = rows[i].c;
		size_t l[4] = {strlen(state_str(sc->config, "name")),
			       strlen(state_str(sc->config, "image")), strlen(rows[i].command),
			       strlen(state_str(sc->config, "service"))};
		int k;

		for (k = 0; k < 4; k++)
			if (l[k] > w[k])
				w[k] = l[k];
	}
	if (!quiet && !services && !json)
		printf("%-*s   %-*s   %-*s   %-*s   %-15s   %-15s   %s\n", (int)w[0], "NAME",
		       (int)w[1], "IMAGE", (int)w[2], "COMMAND", (int)w[3], "SERVICE", "CREATED",
		       "STATUS", "PORTS");
	for (i = 0; i < nr; i++) {
		const struct row *r = &rows[i];
		const struct json_object *cfg = r->c->config;
		size_t j;
		bool dup = false;

		if (quiet) {
			printf("%s\n", r->c->id);
		} else if (services) {
			for (j = 0; j < i; j++)
				dup |= !strcmp(state_str(rows[j].c->config, "service"),
					       state_str((struct json_object *)cfg, "service"));
			if (!dup)
				printf("%s\n", state_str((struct json_object *)cfg, "service"));
		} else if (json) {
			print_json(r);
		} else {
			/* The command is counted in bytes; the ellipsis is 3 of them. */
			int extra = strstr(r->command, "\u2026") ? 2 : 0;

			printf("%-*s   %-*s   %-*s   %-*s   %-15s   %-15s   %s\n", (int)w[0],
			       state_str((struct json_object *)cfg, "name"), (int)w[1],
			       state_str((struct json_object *)cfg, "image"), (int)w[2] + extra,
			       r->command, (int)w[3],
			       state_str((struct json_object *)cfg, "service"), r->created,
			       r->status, r->ports);
		}
	}
	free(rows);
	state_containers_free(v, n);
	free(project);
	return CLI_OK;
}

/* ---- logs ---- */

struct log_print {
	bool timestamps, no_prefix, color;
	const char *project;
	size_t width; /* the longest name, plus the two spaces before the bar */
	char **names;
	size_t n;
};

static const char *color_of(struct log_print *lp, const char *name)
{
	static const char *const colors[] = {"\033[36m", "\033[33m", "\033[32m", "\033[35m",
					     "\033[34m", "\033[96m", "\033[93m", "\033[92m"};
	size_t i;

	for (i = 0; i < lp->n; i++)
		if (!strcmp(lp->names[i], name))
			return colors[i % 8];
	return "";
}

/* Compose shows the container's name without the project's: "web-1". */
static const char *without_project(const char *name, const char *project)
{
	size_t plen = strlen(project);

	return !strncmp(name, project, plen) && name[plen] == '-' ? name + plen + 1 : name;
}

static void print_record(const char *container, const char *stream, long long t, const char *line,
			 size_t len, void *arg)
{
	struct log_print *lp = arg;
	const char *short_name = without_project(container, lp->project);

	(void)stream;
	if (!lp->no_prefix) {
		if (lp->color)
			printf("%s%-*s|\033[0m ", color_of(lp, container), (int)lp->width,
			       short_name);
		else
			printf("%-*s| ", (int)lp->width, short_name);
	}
	if (lp->timestamps) {
		time_t s = (time_t)(t / 1000000000LL);
		struct tm tm;

		gmtime_r(&s, &tm);
		printf("%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ ", tm.tm_year + 1900, tm.tm_mon + 1,
		       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t % 1000000000LL);
	}
	fwrite(line, 1, len, stdout);
	if (!len || line[len - 1] != '\n')
		putchar('\n');
}

/* --since/--until: an RFC 3339 time, a Unix timestamp, or a duration back from now. */
static bool parse_when(const char *s, long long *ns)
{
	struct tm tm = {0};
	long long d;
	char *end;
	const char *p;

	if (compose_parse_duration(s, &d)) {
		*ns = now_ns() - d;
		return true;
	}
	d = strtoll(s, &end, 10);
	if (!*end && end != s) {
		*ns = d * 1000000000LL;
		return true;
	}
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return false;
	*ns = (long long)timegm(&tm) * 1000000000LL;
	return true;
}

int cli_logs(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"follow", no_argument, NULL, 'f'},
		{"tail", required_argument, NULL, 'n'},
		{"timestamps", no_argument, NULL, 't'},
		{"no-color", no_argument, NULL, 'C'},
		{"no-log-prefix", no_argument, NULL, 'P'},
		{"since", required_argument, NULL, 's'},
		{"until", required_argument, NULL, 'u'},
		{"index", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct super_log_opts o = {.tail = -1, .interrupt_fd = -1};
	struct cli_log_style st = {0};
	char *project = NULL, *end;
	struct state_container *v = NULL, *sel;
	size_t n = 0, i, nsel = 0;
	long index = 0;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:fn:th", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.follow = true;
			break;
		case 't':
			st.timestamps = true;
			break;
		case 'C':
			st.no_color = true;
			break;
		case 'P':
			st.no_prefix = true;
			break;
		case 'n':
			if (!strcmp(optarg, "all")) {
				o.tail = -1;
				break;
			}
			o.tail = strtol(optarg, &end, 10);
			if (*end || o.tail < 0)
				return cli_usage_error("logs", "invalid --tail \"%s\"", optarg);
			break;
		case 'i':
			index = strtol(optarg, &end, 10);
			if (*end || end == optarg || index < 1)
				return cli_usage_error("logs", "invalid --index \"%s\"", optarg);
			break;
		case 's':
		case 'u':
			if (!parse_when(optarg, c == 's' ? &o.since_ns : &o.until_ns))
				return cli_usage_error("logs", "invalid --%s \"%s\"",
						       c == 's' ? "since" : "until", optarg);
			break;
		case 'h':
			fputs("Usage: stack logs [OPTIONS] [SERVICE...]\n\nView output from "
			      "containers\n\nOptions:\n  -f, --follow          Follow log output\n"
			      "      --no-color        Produce monochrome output\n"
			      "      --no-log-prefix   Don't print prefix in logs\n"
			      "      --since string    Show logs since timestamp or relative (42m)\n"
			      "  -n, --tail string     Number of lines from the end (default \"all\")\n"
			      "  -t, --timestamps      Show timestamps\n"
			      "      --until string    Show logs before a timestamp or relative\n"
			      "      --index int       The replica's number when a service has "
			      "several\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "logs", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("logs", argv, 1, optind, opts)))
		return rc;
	if (project_containers(g, &v, &n, &project) < 0)
		return CLI_FAIL;
	st.ansi = cli_ansi(g);
	/* --index N: the replica numbered N of each service asked for. One-off containers
	 * (`run`) only by their name: Compose's logs leaves them out. */
	sel = xcalloc(n + 1, sizeof(*sel));
	for (i = 0; i < n; i++)
		if (state_container_oneoff(&v[i])
			    ? container_named(&v[i], argv + optind, argc - optind)
			    : !index || state_int(v[i].config, "number") == index)
			sel[nsel++] = v[i];
	rc = cli_print_logs(sel, nsel, project, (const char *const *)argv + optind,
			    (size_t)(argc - optind), &o, &st);
	for (i = 0; i < nsel; i++)
		if (state_int(sel[i].state, "log_lines_lost") &&
		    service_named(&sel[i], argv + optind, argc - optind))
			fprintf(stderr,
				"WARN[0000] %s: %lld lines of output were lost: the log could not "
				"be written (disk full?)\n",
				state_str(sel[i].config, "name"),
				state_int(sel[i].state, "log_lines_lost"));
	free(sel);
	state_containers_free(v, n);
	free(project);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

int cli_print_logs(const struct state_container *v, size_t n, const char *project,
		   const char *const *services, size_t nservices, const struct super_log_opts *o,
		   const struct cli_log_style *st)
{
	struct log_print lp = {.timestamps = st->timestamps,
			       .no_prefix = st->no_prefix,
			       .project = project};
	struct state_container *sel = xcalloc(n + 1, sizeof(*sel));
	size_t i, ns = 0;
	struct stk_err err;
	int rc;

	lp.color = !st->no_color && st->ansi >= 0 &&
		   (st->ansi > 0 || (!(getenv("NO_COLOR") && *getenv("NO_COLOR")) && isatty(1)));
	lp.names = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *name = state_str(v[i].config, "name");

		if (!service_named(&v[i], (char **)services, (int)nservices))
			continue;
		sel[ns] = v[i];
		lp.names[ns++] = (char *)name;
		if (strlen(without_project(name, project)) + 2 > lp.width)
			lp.width = strlen(without_project(name, project)) + 2;
	}
	lp.n = ns;
	rc = super_logs_read(sel, ns, o, print_record, &lp, &err);
	if (rc < 0)
		cli_error("%s", err.msg);
	fflush(stdout);
	free(sel);
	free(lp.names);
	return rc;
}

/* ---- ls ---- */

/* "running(2), exited(1)" from a project's containers; *running gets the running count. */
static char *project_status(const struct state_container *v, size_t n, size_t *running)
{
	static const char *const states[] = {"running", "restarting", "created", "exited"};
	size_t counts[4] = {0}, i, k;
	struct strbuf sb;

	for (i = 0; i < n; i++) {
		const char *st = state_str(v[i].state, "status");

		if (state_container_running(&v[i]))
			k = 0;
		else if (!strcmp(st, "restarting"))
			k = 1;
		else if (!strcmp(st, "created"))
			k = 2;
		else
			k = 3;
		counts[k]++;
	}
	*running = counts[0];
	strbuf_init(&sb);
	for (k = 0; k < 4; k++)
		if (counts[k])
			strbuf_addf(&sb, "%s%s(%zu)", sb.len ? ", " : "", states[k], counts[k]);
	return sb.buf ? strbuf_take(&sb) : xstrdup("");
}

int cli_ls(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"quiet", no_argument, NULL, 'q'},
		{"format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct json_object *arr;
	bool all = false, quiet = false, json = false;
	char **names = NULL;
	size_t n = 0, i;
	struct stk_err err;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:aqh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'F':
			if ((rc = parse_format("ls", optarg, &json)))
				return rc;
			break;
		case 'h':
			fputs("Usage: stack ls [OPTIONS]\n\nList running compose projects\n\n"
			      "Options:\n  -a, --all       Show all stopped Compose projects\n"
			      "      --format    table or json\n  -q, --quiet     Only display project "
			      "names\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "ls", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("ls", argv, 1, optind, opts)))
		return rc;
	if (state_list_projects(&paths, &names, &n, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct state_container *v = NULL;
		size_t nv = 0, running;
		char *status = NULL, *files = NULL;

		if (state_list_containers(&paths, names[i], &v, &nv, &err) == 0) {
			struct json_object *labels;

			status = project_status(v, nv, &running);
			if (nv && json_object_object_get_ex(v[0].config, "labels", &labels))
				files = xstrdup(
					state_str(labels,
						  "com.docker.compose.project.config_files"));
			if ((all || running) && nv) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "Name", json_object_new_string(names[i]));
				json_object_object_add(o, "Status", json_object_new_string(status));
				json_object_object_add(o, "ConfigFiles",
						       json_object_new_string(files ? files : ""));
				json_object_array_add(arr, o);
			}
		}
		state_containers_free(v, nv);
		free(status);
		free(files);
		free(names[i]);
	}
	free(names);
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
	} else {
		if (!quiet)
			printf("%-20s%-20s%s\n", "NAME", "STATUS", "CONFIG FILES");
		for (i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *o = json_object_array_get_idx(arr, i);

			if (quiet)
				printf("%s\n", state_str(o, "Name"));
			else
				printf("%-20s%-20s%s\n", state_str(o, "Name"),
				       state_str(o, "Status"), state_str(o, "ConfigFiles"));
		}
	}
	json_object_put(arr);
	return CLI_OK;
}

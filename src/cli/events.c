/* `events [SERVICE...] [--json]`: the project's container events, streamed from its
 * supervisor, printed as `docker compose events` prints them. */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daily.h"
#include "super/super.h"
#include "util/str.h"

struct events_out {
	bool json;
	char **services;
	size_t nservices;
};

/* RFC 3339 in UTC with nanoseconds; trim: as Go's RFC3339Nano (trailing zeros go). */
static void format_time(long long ns, bool trim, char *buf, size_t len)
{
	time_t sec = (time_t)(ns / 1000000000LL);
	struct tm tm;
	char frac[16];
	size_t n;

	gmtime_r(&sec, &tm);
	snprintf(frac, sizeof(frac), ".%09lld", ns % 1000000000LL);
	n = strlen(frac);
	while (trim && n > 1 && frac[n - 1] == '0')
		frac[--n] = '\0';
	if (trim && n == 1)
		frac[0] = '\0';
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, "%sZ", frac);
}

static void print_text(struct json_object *ev)
{
	struct json_object *attrs = NULL;
	char when[64];

	format_time(state_int(ev, "time_ns"), false, when, sizeof(when));
	printf("%s container %s %s (", when, state_str(ev, "action"), state_str(ev, "id"));
	json_object_object_get_ex(ev, "attributes", &attrs);
	/* name and image first, as Compose users read them; then the rest. */
	printf("name=%s, image=%s", state_str(attrs, "name"), state_str(attrs, "image"));
	json_object_object_foreach(attrs, k, v)
	{
		if (!strcmp(k, "name") || !strcmp(k, "image"))
			continue;
		printf(", %s=%s", k, json_object_get_string(v));
	}
	printf(")\n");
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The attributes in key order, as Go's encoding/json writes Compose's map. */
static struct json_object *sorted_attributes(struct json_object *attrs)
{
	struct json_object *sorted = json_object_new_object();
	size_t n = 0, i;
	const char **keys = xcalloc((size_t)json_object_object_length(attrs) + 1, sizeof(char *));

	json_object_object_foreach(attrs, k, v)
	{
		(void)v;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 0; i < n; i++)
		json_object_object_add(sorted, keys[i],
				       json_object_get(json_object_object_get(attrs, keys[i])));
	free(keys);
	return sorted;
}

static void print_json(struct json_object *ev)
{
	struct json_object *o = json_object_new_object(), *attrs = NULL;
	char when[64];

	json_object_object_get_ex(ev, "attributes", &attrs);
	format_time(state_int(ev, "time_ns"), true, when, sizeof(when));
	json_object_object_add(o, "action", json_object_new_string(state_str(ev, "action")));
	json_object_object_add(o, "attributes",
			       attrs ? sorted_attributes(attrs) : json_object_new_object());
	json_object_object_add(o, "id", json_object_new_string(state_str(ev, "id")));
	json_object_object_add(o, "service", json_object_new_string(state_str(ev, "service")));
	json_object_object_add(o, "time", json_object_new_string(when));
	json_object_object_add(o, "type", json_object_new_string("container"));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static void on_event(struct json_object *ev, void *arg)
{
	struct events_out *out = arg;
	size_t i;
	bool wanted = out->nservices == 0;

	if (!strcmp(state_str(ev, "event"), "dropped")) {
		cli_error("%lld events dropped: this reader fell behind", state_int(ev, "count"));
		return;
	}
	for (i = 0; i < out->nservices; i++)
		wanted |= !strcmp(out->services[i], state_str(ev, "service"));
	if (!wanted)
		return;
	if (out->json)
		print_json(ev);
	else
		print_text(ev);
	fflush(stdout);
}

int cli_events(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct events_out out = {0};
	struct super_client cl = {0};
	struct daily_set set;
	static char self_exe[PATH_MAX];
	ssize_t n;
	struct stk_err err;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			out.json = true;
			break;
		case 'h':
			fputs("Usage: stack events [OPTIONS] [SERVICE...]\n\n"
			      "Receive real time events from containers\n\nOptions:\n"
			      "      --json   Output events as a stream of json objects\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "events", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("events", argv, 1, optind, opts)))
		return rc;
	out.services = argv + optind;
	out.nservices = (size_t)(argc - optind);
	if (daily_load(g, out.services, out.nservices, &set) < 0)
		return CLI_FAIL;
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	self_exe[n > 0 ? n : 0] = '\0';
	cl.paths = set.paths;
	cl.self_exe = self_exe;
	rc = super_events(&cl, set.project, on_event, &out, &err);
	if (rc < 0)
		cli_error("%s", err.msg);
	daily_release(&set);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

/* `stack port SERVICE PRIVATE_PORT`: the host address a container's port is published
 * on, as `docker compose port` prints it. Read from the container's record: no
 * supervisor needed. */
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "compose/compose.h"
#include "state/state.h"
#include "util/str.h"

struct port_query {
	const char *service, *protocol;
	long port;
	long index; /* container number; 0: the lowest */
};

/* The running container of the service with that number (or the lowest number). */
static const struct state_container *pick_container(const struct state_container *v, size_t n,
						    const struct port_query *q)
{
	const struct state_container *best = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		long num = state_int(v[i].config, "number");

		if (strcmp(state_str(v[i].config, "service"), q->service) ||
		    !state_container_running(&v[i]))
			continue;
		if (q->index ? num == q->index : !best || num < state_int(best->config, "number"))
			best = &v[i];
	}
	return best;
}

/* Prints HOST:PORT, or says which ports the container has, as Compose does. */
static int print_port(const struct state_container *c, const struct port_query *q)
{
	struct json_object *ports = NULL;
	struct strbuf have;
	size_t i, n;

	json_object_object_get_ex(c->config, "ports", &ports);
	n = ports ? json_object_array_length(ports) : 0;
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		if (state_int(p, "target") == q->port &&
		    !strcmp(state_str(p, "protocol"), q->protocol)) {
			printf("%s:%lld\n", state_str(p, "host_ip"), state_int(p, "published"));
			return CLI_OK;
		}
	}
	strbuf_init(&have);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		strbuf_addf(&have, "%s%lld/%s", i ? ", " : "", state_int(p, "published"),
			    state_str(p, "protocol"));
	}
	cli_error("no port %ld/%s for container %s: %s", q->port, q->protocol,
		  state_str(c->config, "name"), have.buf ? have.buf : "");
	strbuf_free(&have);
	return CLI_FAIL;
}

static int port_lookup(struct cli_globals *g, const struct port_query *q)
{
	struct compose_project *p = NULL;
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct state_container *v = NULL;
	const struct state_container *c;
	size_t n = 0;
	struct stk_err err;
	int rc;

	if (cli_load_project(g, NULL, 0, false, &p) < 0)
		return CLI_FAIL;
	if (compose_service_index(p, q->service) < 0) {
		cli_error("no such service: %s", q->service);
		cli_project_release(p);
		return CLI_FAIL;
	}
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		cli_project_release(p);
		return CLI_FAIL;
	}
	c = pick_container(v, n, q);
	if (!c && q->index)
		cli_error("service \"%s\" is not running container #%ld", q->service, q->index);
	else if (!c)
		cli_error("service \"%s\" is not running", q->service);
	rc = c ? print_port(c, q) : CLI_FAIL;
	state_containers_free(v, n);
	cli_project_release(p);
	return rc;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

int cli_port(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"protocol", required_argument, NULL, 'P'},
		{"index", required_argument, NULL, 'i'},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct port_query q = {.protocol = "tcp"};
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case 'P':
			if (strcmp(optarg, "tcp") && strcmp(optarg, "udp"))
				return cli_usage_error("port",
						       "invalid --protocol \"%s\" (tcp or udp)",
						       optarg);
			q.protocol = optarg;
			break;
		case 'i':
			if (!parse_long(optarg, 1, 1000000, &q.index))
				return cli_usage_error("port", "invalid --index \"%s\"", optarg);
			break;
		case 'h':
			fputs("Usage: stack port [OPTIONS] SERVICE PRIVATE_PORT\n\n"
			      "Print the public port for a port binding\n\nOptions:\n"
			      "      --index int         Index of the container if service has "
			      "multiple replicas\n"
			      "      --protocol string   tcp or udp (default \"tcp\")\n",
			      stdout);
			return CLI_OK;
		default:
			if ((rc = cli_other_option(g, "port", c, argv)))
				return rc;
			break;
		}
	}
	if ((rc = cli_reject_abbreviations("port", argv, 1, optind, opts)))
		return rc;
	if (argc - optind != 2)
		return cli_usage_error("port", "\"port\" requires exactly 2 arguments");
	q.service = argv[optind];
	if (!parse_long(argv[optind + 1], 1, 65535, &q.port))
		return cli_usage_error("port", "invalid port \"%s\"", argv[optind + 1]);
	return port_lookup(g, &q);
}

/* ---- the PORTS column of `ps`, as Docker's DisplayablePorts writes it ---- */

struct port_item {
	const char *ip, *proto;
	long long priv, pub;
};

static int port_item_cmp(const void *a, const void *b)
{
	const struct port_item *x = a, *y = b;
	int c;

	if (x->priv != y->priv)
		return x->priv < y->priv ? -1 : 1;
	if ((c = strcmp(x->ip, y->ip)))
		return c;
	if (x->pub != y->pub)
		return x->pub < y->pub ? -1 : 1;
	return strcmp(x->proto, y->proto);
}

/* "ip:port" with an IPv6 address in brackets, as Go's JoinHostPort. */
static void add_host_port(struct strbuf *sb, const char *ip, long long port)
{
	strbuf_addf(sb, strchr(ip, ':') ? "[%s]:%lld" : "%s:%lld", ip, port);
}

static void add_group(struct strbuf *sb, const struct port_item *it, long long first,
		      long long last)
{
	struct strbuf range;

	strbuf_init(&range);
	strbuf_addf(&range, "%lld", first);
	if (last != first)
		strbuf_addf(&range, "-%lld", last);
	if (sb->len)
		strbuf_adds(sb, ", ");
	if (*it->ip) {
		/* Only ports published on the same number are grouped: ip:80-82->80-82. */
		add_host_port(sb, it->ip, first);
		if (last != first)
			strbuf_addf(sb, "-%lld", last);
		strbuf_addf(sb, "->%s", range.buf);
	} else {
		strbuf_adds(sb, range.buf);
	}
	strbuf_addf(sb, "/%s", it->proto);
	strbuf_free(&range);
}

struct port_group {
	const struct port_item *key; /* its address and protocol */
	long long first, last;
};

char *cli_ports_display(struct json_object *ports)
{
	size_t n = ports ? json_object_array_length(ports) : 0, i, k, ng = 0;
	struct port_item *v = xcalloc(n + 1, sizeof(*v));
	struct port_group *gs = xcalloc(n + 1, sizeof(*gs));
	struct strbuf sb, mappings;

	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		v[i].pub = state_int(p, "published");
		v[i].ip = v[i].pub ? state_str(p, "host_ip") : "";
		v[i].proto = state_str(p, "protocol");
		v[i].priv = state_int(p, "target");
	}
	qsort(v, n, sizeof(*v), port_item_cmp);
	strbuf_init(&sb);
	strbuf_init(&mappings);
	/* Consecutive ports of one address and protocol form a group (a group that breaks
	 * is written out at once); ports published on another number are listed one by one
	 * after the groups. */
	for (i = 0; i < n; i++) {
		if (*v[i].ip && v[i].pub != v[i].priv) {
			if (mappings.len)
				strbuf_adds(&mappings, ", ");
			add_host_port(&mappings, v[i].ip, v[i].pub);
			strbuf_addf(&mappings, "->%lld/%s", v[i].priv, v[i].proto);
			continue;
		}
		for (k = 0; k < ng; k++)
			if (!strcmp(gs[k].key->ip, v[i].ip) &&
			    !strcmp(gs[k].key->proto, v[i].proto))
				break;
		if (k < ng && v[i].priv == gs[k].last + 1) {
			gs[k].last = v[i].priv;
			continue;
		}
		if (k < ng)
			add_group(&sb, gs[k].key, gs[k].first, gs[k].last);
		else
			ng++;
		gs[k].key = &v[i];
		gs[k].first = gs[k].last = v[i].priv;
	}
	for (k = 0; k < ng; k++)
		add_group(&sb, gs[k].key, gs[k].first, gs[k].last);
	if (mappings.len) {
		if (sb.len)
			strbuf_adds(&sb, ", ");
		strbuf_adds(&sb, mappings.buf);
	}
	strbuf_free(&mappings);
	free(gs);
	free(v);
	return sb.buf ? strbuf_take(&sb) : xstrdup("");
}

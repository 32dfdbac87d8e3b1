/* `stack net-plumbing`: a hidden command that drives src/net/ directly, so that the
 * network module can be tested end to end before the engine and the supervisor exist.
 * Not a user interface: arguments are positional and terse. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "net/net.h"
#include "util/cleanup.h"
#include "util/str.h"

struct strv {
	const char **v;
	size_t n;
};

static void strv_push(struct strv *s, const char *v)
{
	s->v = xrealloc(s->v, (s->n + 1) * sizeof(*s->v));
	s->v[s->n++] = v;
}

static int fail(struct stk_err *err)
{
	cli_error("%s", err->msg);
	return CLI_FAIL;
}

/* [host_ip:]host_port:container_port[/udp], an IPv6 host_ip in brackets as in compose:
 * [::1]:8080:80. */
static int parse_publish(const char *s, struct net_port *p)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *slash, *parts[3], *rest = copy;
	char *tok, *save = NULL;
	int n = 0;

	memset(p, 0, sizeof(*p));
	slash = strchr(copy, '/');
	if (slash) {
		*slash = 0;
		p->proto = strcmp(slash + 1, "udp") == 0 ? NET_UDP : NET_TCP;
	}
	if (copy[0] == '[') {
		char *close = strchr(copy, ']');

		if (!close || close[1] != ':')
			return -1;
		*close = 0;
		p->host_ip = xstrdup(copy + 1);
		rest = close + 2;
	}
	for (tok = strtok_r(rest, ":", &save); tok && n < 3; tok = strtok_r(NULL, ":", &save))
		parts[n++] = tok;
	if (n < 2 || (p->host_ip && n != 2) || (!p->host_ip && n > 3)) {
		free((char *)p->host_ip);
		p->host_ip = NULL;
		return -1;
	}
	if (n == 3)
		p->host_ip = xstrdup(parts[0]);
	p->host_port = (uint16_t)atoi(parts[n - 2]);
	p->container_port = (uint16_t)atoi(parts[n - 1]);
	if (p->host_port && p->container_port)
		return 0;
	free((char *)p->host_ip);
	p->host_ip = NULL;
	return -1;
}

static void ports_free(struct net_port *ports, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free((char *)ports[i].host_ip);
	free(ports);
}

static int cmd_network_create(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {{"subnet", required_argument, NULL, 's'},
					     {"gateway", required_argument, NULL, 'g'},
					     {"ip-range", required_argument, NULL, 'r'},
					     {"internal", no_argument, NULL, 'i'},
					     {"pool", required_argument, NULL, 'P'},
					     {"ipv6", no_argument, NULL, '6'},
					     {"subnet6", required_argument, NULL, 'S'},
					     {"gateway6", required_argument, NULL, 'G'},
					     {"pool6", required_argument, NULL, 'Q'},
					     {0}};
	struct net_network_spec spec = {0};
	struct net_options nopts = {0};
	struct net_ctx *ctx = NULL;
	struct stk_err err;
	char gw[16];
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			spec.subnet = optarg;
			break;
		case 'g':
			spec.gateway = optarg;
			break;
		case 'r':
			spec.ip_range = optarg;
			break;
		case 'i':
			spec.internal = true;
			break;
		case 'P':
			nopts.pool = optarg;
			break;
		case '6':
			spec.enable_ipv6 = true;
			break;
		case 'S':
			spec.subnet6 = optarg;
			break;
		case 'G':
			spec.gateway6 = optarg;
			break;
		case 'Q':
			nopts.pool6 = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("net-plumbing", "network-create PROJECT NETWORK");
	if ((spec.subnet6 || spec.gateway6) && !spec.enable_ipv6)
		return cli_usage_error("net-plumbing", "--subnet6 and --gateway6 need --ipv6");
	spec.name = argv[optind + 1];
	if (net_open(cli_state_root(g), argv[optind], &nopts, &ctx, &err) < 0)
		return fail(&err);
	rc = net_network_create(ctx, &spec, &err);
	if (rc == 0)
		rc = net_network_gateway(ctx, spec.name, gw, &err);
	net_close(ctx);
	if (rc < 0)
		return fail(&err);
	printf("%s\n", gw);
	return CLI_OK;
}

static int cmd_attach(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {{"netns", required_argument, NULL, 'n'},
					     {"pid", required_argument, NULL, 'p'},
					     {"service", required_argument, NULL, 's'},
					     {"hostname", required_argument, NULL, 'h'},
					     {"alias", required_argument, NULL, 'a'},
					     {"ip", required_argument, NULL, 'i'},
					     {"ifname", required_argument, NULL, 'f'},
					     {"default-route", no_argument, NULL, 'd'},
					     {"publish", required_argument, NULL, 'P'},
					     {"ip6", required_argument, NULL, '6'},
					     {0}};
	struct net_endpoint_spec spec = {.netns_fd = -1};
	_cleanup_close_ int nsfd = -1;
	struct net_port *ports = NULL;
	struct strv aliases = {0};
	struct net_ctx *ctx = NULL;
	struct stk_err err;
	char ip[16], ip6[46] = "";
	int c, rc = CLI_OK;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			nsfd = open(optarg, O_RDONLY | O_CLOEXEC);
			if (nsfd < 0) {
				cli_error("open %s: %m", optarg);
				return CLI_FAIL;
			}
			spec.netns_fd = nsfd;
			break;
		case 'p':
			spec.pid = atoi(optarg);
			break;
		case 's':
			spec.service = optarg;
			break;
		case 'h':
			spec.hostname = optarg;
			break;
		case 'a':
			strv_push(&aliases, optarg);
			break;
		case 'i':
			spec.ipv4 = optarg;
			break;
		case '6':
			spec.ipv6 = optarg;
			break;
		case 'f':
			spec.ifname = optarg;
			break;
		case 'd':
			spec.default_route = true;
			break;
		case 'P':
			ports = xrealloc(ports, (spec.nports + 1) * sizeof(*ports));
			if (parse_publish(optarg, &ports[spec.nports]) < 0) {
				ports_free(ports, spec.nports);
				return cli_usage_error("net-plumbing", "bad --publish %s", optarg);
			}
			spec.nports++;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 3 || (spec.netns_fd < 0 && !spec.pid))
		return cli_usage_error("net-plumbing",
				       "attach PROJECT NETWORK CONTAINER --netns PATH|--pid PID");
	spec.network = argv[optind + 1];
	spec.container = argv[optind + 2];
	spec.aliases = aliases.v;
	spec.naliases = aliases.n;
	spec.ports = ports;
	/* Ports are checked before anything is created, as `up` will do. */
	if (net_ports_check(ports, spec.nports, &err) < 0 ||
	    net_open(cli_state_root(g), argv[optind], NULL, &ctx, &err) < 0 ||
	    net_endpoint_attach(ctx, &spec, ip, &err) < 0 ||
	    net_endpoint_address6(ctx, spec.container, spec.network, ip6, &err) < 0)
		rc = fail(&err);
	else if (*ip6)
		printf("%s %s\n", ip, ip6); /* an enable_ipv6 network: both addresses */
	else
		printf("%s\n", ip);
	net_close(ctx);
	free(aliases.v);
	ports_free(ports, spec.nports);
	return rc;
}

static int cmd_detach(struct cli_globals *g, int argc, char **argv)
{
	struct net_ctx *ctx = NULL;
	struct stk_err err;
	int rc = CLI_OK;

	if (argc != 3)
		return cli_usage_error("net-plumbing", "detach PROJECT CONTAINER");
	if (net_open(cli_state_root(g), argv[1], NULL, &ctx, &err) < 0 ||
	    net_endpoint_detach(ctx, argv[2], &err) < 0)
		rc = fail(&err);
	net_close(ctx);
	return rc;
}

static int cmd_teardown(struct cli_globals *g, int argc, char **argv)
{
	struct stk_err err;

	if (argc != 2)
		return cli_usage_error("net-plumbing", "teardown PROJECT");
	if (net_project_teardown(cli_state_root(g), argv[1], &err) < 0)
		return fail(&err);
	return CLI_OK;
}

static int cmd_ports_check(struct cli_globals *g, int argc, char **argv)
{
	struct net_port *ports = xcalloc((size_t)argc, sizeof(*ports));
	struct stk_err err;
	int i, rc = CLI_OK;

	for (i = 1; i < argc; i++)
		if (parse_publish(argv[i], &ports[i - 1]) < 0) {
			ports_free(ports, (size_t)i);
			return cli_usage_error("net-plumbing", "bad port %s", argv[i]);
		}
	if (net_ports_check(ports, (size_t)argc - 1, &err) < 0)
		rc = fail(&err);
	ports_free(ports, (size_t)argc - 1);
	return rc;
}

static int cmd_resolv_conf(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {{"nameserver", required_argument, NULL, 'n'},
					     {"dns", required_argument, NULL, 'd'},
					     {"search", required_argument, NULL, 's'},
					     {"opt", required_argument, NULL, 'o'},
					     {0}};
	struct strv dns = {0}, search = {0}, options = {0};
	struct net_resolv_spec spec = {0};
	struct stk_err err;
	int c, rc = CLI_OK;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			spec.nameserver = optarg;
			break;
		case 'd':
			strv_push(&dns, optarg);
			break;
		case 's':
			strv_push(&search, optarg);
			break;
		case 'o':
			strv_push(&options, optarg);
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("net-plumbing", "resolv-conf PATH");
	spec.dns = dns.v, spec.ndns = dns.n;
	spec.search = search.v, spec.nsearch = search.n;
	spec.options = options.v, spec.noptions = options.n;
	if (net_write_resolv_conf(argv[optind], &spec, &err) < 0)
		rc = fail(&err);
	free(dns.v), free(search.v), free(options.v);
	return rc;
}

static int cmd_hosts(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {{"hostname", required_argument, NULL, 'h'},
					     {"ip", required_argument, NULL, 'i'},
					     {"extra-host", required_argument, NULL, 'e'},
					     {"host-gateway", required_argument, NULL, 'g'},
					     {0}};
	struct net_hosts_spec spec = {0};
	struct strv extra = {0};
	struct stk_err err;
	int c, rc = CLI_OK;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			spec.hostname = optarg;
			break;
		case 'i':
			spec.ip = optarg;
			break;
		case 'e':
			strv_push(&extra, optarg);
			break;
		case 'g':
			spec.host_gateway = optarg;
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("net-plumbing", "hosts PATH");
	spec.extra_hosts = extra.v;
	spec.nextra = extra.n;
	if (net_write_hosts(argv[optind], &spec, &err) < 0)
		rc = fail(&err);
	free(extra.v);
	return rc;
}

int cli_net_plumbing(struct cli_globals *g, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(struct cli_globals *, int, char **);
	} subs[] = {
		{"network-create", cmd_network_create},
		{"attach", cmd_attach},
		{"detach", cmd_detach},
		{"teardown", cmd_teardown},
		{"ports-check", cmd_ports_check},
		{"resolv-conf", cmd_resolv_conf},
		{"hosts", cmd_hosts},
		{"serve", cli_net_plumbing_serve},
	};
	size_t i;

	if (argc < 2)
		return cli_usage_error("net-plumbing", "missing subcommand");
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(argv[1], subs[i].name) == 0) {
			optind = 0; /* 0: GNU getopt re-initialises after main's scan */
			return subs[i].run(g, argc - 1, argv + 1);
		}
	}
	return cli_usage_error("net-plumbing", "unknown subcommand \"%s\"", argv[1]);
}

/* `stack net-plumbing serve PROJECT`: runs the network runtime (DNS, port proxies) in
 * the foreground until SIGTERM or SIGINT; SIGHUP re-reads the record, and so does every
 * change of the record (a container that `stack runtime run` attached or detached).
 * What the supervisor will do inside its own loop. Prints "ready" once every socket
 * listens. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "net/net.h"
#include "util/str.h"

struct serve {
	struct net_runtime *rt;
	uv_signal_t sigs[3];
	uv_fs_event_t watch; /* <root>/net: the record is replaced by rename */
	char *record; /* "<project>.json" */
	bool watching;
};

static void on_record_change(uv_fs_event_t *h, const char *file, int events, int status)
{
	struct serve *s = h->data;
	struct stk_err err;

	if (status < 0 || !file || strcmp(file, s->record) != 0)
		return;
	if (net_runtime_reload(s->rt, &err) < 0)
		cli_error("%s", err.msg);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct serve *s = h->data;
	struct stk_err err;
	int i;

	if (signum == SIGHUP) {
		if (net_runtime_reload(s->rt, &err) < 0)
			cli_error("%s", err.msg);
		return;
	}
	net_runtime_stop(s->rt);
	if (s->watching)
		uv_close((uv_handle_t *)&s->watch, NULL);
	for (i = 0; i < 3; i++)
		uv_close((uv_handle_t *)&s->sigs[i], NULL);
}

int cli_net_plumbing_serve(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {{"resolv-conf", required_argument, NULL, 'r'},
					     {"dns-port", required_argument, NULL, 'p'},
					     {"timeout-ms", required_argument, NULL, 't'},
					     {0}};
	static const int signums[3] = {SIGTERM, SIGINT, SIGHUP};
	struct net_runtime_options ro = {0};
	struct serve s = {0};
	struct stk_err err;
	uv_loop_t loop;
	const char *root;
	int c, i;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			ro.resolv_conf = optarg;
			break;
		case 'p':
			ro.dns_port = (uint16_t)atoi(optarg);
			break;
		case 't':
			ro.upstream_timeout_ms = (unsigned)atoi(optarg);
			break;
		default:
			return CLI_USAGE;
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("net-plumbing", "serve PROJECT");
	root = cli_state_root(g);
	if (net_dns_preload(&err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	uv_loop_init(&loop);
	if (net_runtime_start(&loop, root, argv[optind], &ro, &s.rt, &err) < 0) {
		uv_run(&loop, UV_RUN_DEFAULT); /* let the runtime close what it opened */
		uv_loop_close(&loop);
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	for (i = 0; i < 3; i++) {
		uv_signal_init(&loop, &s.sigs[i]);
		s.sigs[i].data = &s;
		uv_signal_start(&s.sigs[i], on_signal, signums[i]);
	}
	{
		char *dir = xasprintf("%s/net", root);

		s.record = xasprintf("%s.json", argv[optind]);
		uv_fs_event_init(&loop, &s.watch);
		s.watch.data = &s;
		s.watching = uv_fs_event_start(&s.watch, on_record_change, dir, 0) == 0;
		if (!s.watching)
			uv_close((uv_handle_t *)&s.watch, NULL);
		free(dir);
	}
	printf("ready\n");
	fflush(stdout);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	free(s.record);
	return CLI_OK;
}

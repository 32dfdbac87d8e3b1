/* attach SERVICE: the output of a service's running container from now on, live, on
 * the CLI's stdout and stderr (read from the log the supervisor keeps, as `logs -f
 * --tail 0` does, without a prefix), until the container exits; then its exit code.
 * With --sig-proxy (the default) SIGINT and SIGTERM go to the container; without, the
 * first one detaches. A container whose service has stdin_open (and no tty) gets the
 * CLI's stdin through the FIFO the supervisor gave it as its stdin (--no-stdin: not),
 * and the detach keys (ctrl-p,ctrl-q, or --detach-keys) typed there detach, as docker
 * attach. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/exec.h"
#include "compose/compose.h"
#include "compose/model.h"
#include "engine/engine.h"
#include "state/state.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/str.h"

struct attach_ctx {
	const struct state_container *rec;
	bool sig_proxy, detached, no_stdin;
	int exit_code;
	unsigned char keys[16]; /* the detach sequence */
	size_t nkeys;
	int stdin_fifo;
};

/* --detach-keys: a comma-separated list of a single character or ctrl-X (X one of a-z,
 * @, [, \, ], ^, _), as Docker reads them. */
static bool parse_detach_keys(const char *arg, unsigned char *keys, size_t *n)
{
	_cleanup_free_ char *s = xstrdup(arg);
	char *save = NULL, *k;

	*n = 0;
	for (k = strtok_r(s, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
		if (*n == 16)
			return false;
		if (strlen(k) == 1) {
			keys[(*n)++] = (unsigned char)k[0];
		} else if (str_has_prefix(k, "ctrl-") && strlen(k) == 6) {
			char c = k[5];

			if (c >= 'a' && c <= 'z')
				keys[(*n)++] = (unsigned char)(c - 'a' + 1);
			else if (strchr("@[\\]^_", c))
				keys[(*n)++] = (unsigned char)(c == '@' ? 0 : c - '[' + 27);
			else
				return false;
		} else {
			return false;
		}
	}
	return *n > 0;
}

static int write_all(int fd, const unsigned char *b, size_t n)
{
	while (n) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The CLI's stdin to the container's, the detach sequence held back until it either
 * completes (the CLI detaches: exit 0, the container runs on) or is broken. At the end
 * of stdin, copying stops; the container's stdin stays open, as Docker leaves it. */
static void *attach_copy_stdin(void *arg)
{
	struct attach_ctx *a = arg;
	unsigned char in[4096], out[2 * sizeof(in) + 16], held[16];
	size_t nheld = 0;

	for (;;) {
		ssize_t n = read(0, in, sizeof(in));
		size_t nout = 0, i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (i = 0; i < (size_t)n; i++) {
			if (a->nkeys && in[i] == a->keys[nheld]) {
				held[nheld++] = in[i];
				if (nheld < a->nkeys)
					continue;
				write_all(a->stdin_fifo, out, nout);
				fflush(stdout);
				fflush(stderr);
				_exit(CLI_OK);
			}
			memcpy(out + nout, held, nheld);
			nout += nheld;
			nheld = 0;
			if (a->nkeys && in[i] == a->keys[0])
				held[nheld++] = in[i];
			else
				out[nout++] = in[i];
		}
		if (write_all(a->stdin_fifo, out, nout) < 0)
			break;
	}
	return NULL;
}

/* stdin_open: the FIFO the supervisor made the container's stdin. */
static void attach_stdin(struct attach_ctx *a)
{
	_cleanup_free_ char *path = xasprintf("%s/stdin.fifo", a->rec->dir);
	pthread_t t;

	if (a->no_stdin)
		return;
	/* The supervisor holds it open for reading: this open does not wait. */
	a->stdin_fifo = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (a->stdin_fifo < 0)
		return;
	fcntl(a->stdin_fifo, F_SETFL, 0);
	if (pthread_create(&t, NULL, attach_copy_stdin, a) == 0)
		pthread_detach(t);
}

static void attach_print(const char *container, const char *stream, long long t, const char *line,
			 size_t len, void *arg)
{
	FILE *f = strcmp(stream, "stderr") ? stdout : stderr;

	(void)container;
	(void)t;
	(void)arg;
	fwrite(line, 1, len, f);
	if (!len || line[len - 1] != '\n')
		fputc('\n', f);
	fflush(f);
}

static void attach_signal(int signo, void *arg)
{
	struct attach_ctx *a = arg;
	struct engine_container *ec = NULL;
	struct engine_spec spec;
	struct stk_err err;

	if (!a->sig_proxy) {
		/* Detach: the container runs on, as docker attach --sig-proxy=false. */
		fflush(stdout);
		exit(CLI_OK);
	}
	engine_spec_init(&spec);
	spec.id = xstrdup(a->rec->id);
	spec.state_dir = xasprintf("%s/engine", a->rec->dir);
	spec.cgroup_parent = xstrdup(state_str(a->rec->config, "cgroup_parent"));
	if (engine_open(&spec, &ec, &err) < 0 || engine_kill(ec, signo, &err) < 0)
		cli_error("%s: %s", state_str(a->rec->config, "name"), err.msg);
	engine_container_free(ec);
	engine_spec_release(&spec);
}

static void attach_exit(const char *container, const char *dir, void *arg)
{
	struct attach_ctx *a = arg;
	char *path = xasprintf("%s/state.json", dir);
	struct json_object *st = state_read_json(path);

	(void)container;
	a->exit_code = (int)state_int(st, "exit_code");
	json_object_put(st);
	free(path);
}

static int attach_parse(struct cli_globals *g, int argc, char **argv, long *index,
			struct attach_ctx *a)
{
	enum { OPT_INDEX = 1, OPT_NO_STDIN, OPT_SIG_PROXY, OPT_DETACH_KEYS };
	static const struct option opts[] = {
		{"index", required_argument, NULL, OPT_INDEX},
		{"no-stdin", no_argument, NULL, OPT_NO_STDIN},
		{"sig-proxy", optional_argument, NULL, OPT_SIG_PROXY},
		{"detach-keys", required_argument, NULL, OPT_DETACH_KEYS},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_INDEX:
			errno = 0;
			*index = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || *index < 1)
				return cli_usage_error("attach",
						       "invalid argument \"%s\" for \"--index\"",
						       optarg);
			break;
		case OPT_SIG_PROXY:
			if (optarg && strcmp(optarg, "true") && strcmp(optarg, "false"))
				return cli_usage_error("attach",
						       "invalid argument \"%s\" for \"--sig-proxy\"",
						       optarg);
			a->sig_proxy = !optarg || !strcmp(optarg, "true");
			break;
		case OPT_NO_STDIN:
			a->no_stdin = true;
			break;
		case OPT_DETACH_KEYS:
			if (!parse_detach_keys(optarg, a->keys, &a->nkeys))
				return cli_usage_error("attach",
						       "invalid detach keys (%s) provided", optarg);
			break;
		case 'h':
			fputs("Usage: stack attach [OPTIONS] SERVICE\n\n"
			      "Attach local standard input, output, and error streams to a "
			      "service's running container\n\nOptions:\n"
			      "      --detach-keys string   Override the key sequence for "
			      "detaching from a container\n"
			      "      --index int         index of the container if service has "
			      "multiple replicas.\n"
			      "      --no-stdin          Do not attach STDIN\n"
			      "      --sig-proxy         Proxy all received signals to the process "
			      "(default true)\n",
			      stdout);
			return -1;
		default:
			if ((rc = cli_other_option(g, "attach", c, argv)))
				return rc;
		}
	}
	if ((rc = cli_reject_abbreviations("attach", argv, 1, optind, opts)))
		return rc;
	if (argc - optind != 1)
		return cli_usage_error("attach", "\"attach\" requires exactly 1 argument");
	return 0;
}

int cli_attach(struct cli_globals *g, int argc, char **argv)
{
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct attach_ctx a = {.sig_proxy = true,
			       .keys = {0x10, 0x11}, /* ctrl-p, ctrl-q */
			       .nkeys = 2,
			       .stdin_fifo = -1};
	struct super_log_opts o = {.tail = 0, .follow = true, .interrupt_fd = -1};
	struct compose_project *p = NULL;
	struct state_container *v = NULL;
	struct stk_err err;
	const char *service;
	sigset_t set, old;
	long index = 1;
	size_t n = 0;
	int rc;

	rc = attach_parse(g, argc, argv, &index, &a);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	service = argv[optind];
	rc = CLI_FAIL;
	if (cli_load_project(g, &service, 1, false, &p) < 0)
		return CLI_FAIL;
	if (compose_service_index(p, service) < 0) {
		cli_error("no such service: %s", service);
		goto out;
	}
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (cli_find_running(v, n, service, index, &a.rec) < 0)
		goto out;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	o.interrupt_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	o.on_interrupt = attach_signal;
	o.on_exit = attach_exit;
	o.interrupt_arg = &a;
	attach_stdin(&a);
	if (super_logs_read(a.rec, 1, &o, attach_print, &a, &err) < 0)
		cli_error("%s", err.msg);
	else
		rc = a.exit_code;
	close(o.interrupt_fd);
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	state_containers_free(v, n);
	cli_project_release(p);
	return rc;
}

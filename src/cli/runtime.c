/* `stack runtime run`: a hidden plumbing command that runs one container in the
 * foreground with the engine's default isolation. It forwards stdio (or a pty), turns
 * SIGINT/SIGTERM into a stop (stop_signal, grace period, then SIGKILL to the cgroup),
 * passes other signals on, and exits with the container's exit code. Used by the
 * engine's integration tests and the benchmark. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/runtime_net.h"
#include "cli/runtime_volume.h"
#include "engine/engine.h"
#include "util/fs.h"
#include "util/cleanup.h"
#include "util/str.h"

static const char runtime_usage[] =
	"Usage: stack runtime run --rootfs DIR [--spec FILE.json] [--report FILE]\n"
	"                         [--project P --network NET[,alias=A][,ip=IP][,ip6=IP6]...]\n"
	"                         [--network none|host|container:ID|service:NAME] [-- CMD ARG...]\n"
	"       stack runtime exec --id ID [--spec FILE.json] [--tty] [--user U] -- CMD ARG...\n"
	"       stack runtime pause|unpause|stats --id ID [--spec FILE.json]\n"
	"       stack runtime kill --id ID [--spec FILE.json] [--signal SIG]\n"
	"\n"
	"Run one container in the foreground, or act on one that runs (plumbing; for tests\n"
	"and benchmarks)\n"
	"\n"
	"Options:\n"
	"      --rootfs string   Root filesystem directory\n"
	"      --spec string     Container spec (JSON; Compose-style keys)\n"
	"      --id string       Container id (default: random)\n"
	"      --report string   Write {exit_code, signal, oom_killed} as JSON here\n"
	"  -t, --tty             exec: allocate a pseudo-TTY\n"
	"  -u, --user string     exec: user name or uid[:gid]\n"
	"  -s, --signal string   kill: the signal (default KILL)\n"
	"      --project string  run: the project whose networks --network names\n"
	"      --network string  run: join a network of the project (repeat for more; the\n"
	"                        first has the default route), or none, host, container:ID,\n"
	"                        service:NAME (a running container of that service)\n"
	"      --name string     run: container name in DNS (default: the id)\n"
	"      --service string  run: service name in DNS\n"
	"  -h, --help            Show this help\n";

struct run_opts {
	const char *rootfs, *spec, *id, *report, *user, *signal;
	const char *project, *name, *service;
	const char **networks;
	size_t nnetworks;
	bool tty;
	int stop_signal;
	int grace_ms;
};

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static char *random_id(void)
{
	unsigned char b[6];
	size_t i;
	char *s = xmalloc(16);

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		memset(b, 0x5a, sizeof(b));
	memcpy(s, "rt-", 3);
	for (i = 0; i < sizeof(b); i++)
		snprintf(s + 3 + 2 * i, 3, "%02x", b[i]);
	return s;
}

/* stop_signal and stop_grace_period belong to the caller, not to the engine. The
 * parsed JSON goes to *keep when asked for (the volume plumbing reads it too). */
static int load_spec(struct run_opts *o, struct engine_spec *s, struct json_object **keep,
		     struct stk_err *err)
{
	_cleanup_(json_putp) struct json_object *root = NULL;
	struct json_object *v;

	if (!o->spec)
		return 0;
	root = json_object_from_file(o->spec);
	if (!root)
		return stk_err_set(err, EINVAL, "%s: %s", o->spec, json_util_get_last_err());
	if (engine_spec_from_json(s, root, err) < 0)
		return stk_err_wrap(err, "%s", o->spec);
	if (json_object_object_get_ex(root, "stop_signal", &v) &&
	    engine_signal_parse(json_object_get_string(v), &o->stop_signal, err) < 0)
		return stk_err_wrap(err, "%s: stop_signal", o->spec);
	if (json_object_object_get_ex(root, "stop_grace_period", &v))
		o->grace_ms = (int)(json_object_get_double(v) * 1000);
	if (keep)
		*keep = steal(&root);
	return 0;
}

static int signal_fd(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool copy_fd(int from, int to)
{
	char buf[4096];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && errno == EAGAIN;
	while (n > 0) {
		ssize_t w = write(to, buf, (size_t)n);

		if (w <= 0)
			return false;
		n -= w;
	}
	return true;
}

/* Id, cgroup parent and state directory: the same for run and for the commands that
 * act on a running container, so both find it. */
static int place_container(struct cli_globals *g, const struct run_opts *o,
			   struct engine_spec *spec)
{
	const char *root = cli_state_root(g);
	_cleanup_free_ char *base = xasprintf("%s/containers", root);

	if (!spec->id)
		spec->id = o->id ? xstrdup(o->id) : random_id();
	if (!spec->cgroup_parent)
		spec->cgroup_parent = xstrdup("stack/runtime");
	struct stk_err err;

	if (stk_mkdir_p(base, 0755, &err) < 0) {
		cli_error("create %s: %s", base, strerror(err.errnum));
		return -1;
	}
	if (!spec->state_dir)
		spec->state_dir = xasprintf("%s/%s", base, spec->id);
	if (!spec->cache_dir)
		spec->cache_dir = xasprintf("%s/cache", root);
	return 0;
}

/* Serve the container until it exits: signals, the stop grace timer, the pty. */
static int supervise(struct engine_container *c, const struct run_opts *o, int pty, int sfd,
		     struct engine_exit *ex, struct stk_err *err)
{
	long long deadline = -1;
	bool stdin_open = pty >= 0;

	for (;;) {
		struct pollfd p[4] = {
			{.fd = engine_pidfd(c), .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = pty, .events = POLLIN},
			{.fd = stdin_open ? 0 : -1, .events = POLLIN},
		};
		int timeout = deadline < 0 ? -1 : (int)(deadline - now_ms());
		struct signalfd_siginfo si;

		if (deadline >= 0 && timeout <= 0) {
			if (engine_kill_all(c, err) < 0)
				return -1;
			deadline = -1;
			continue;
		}
		if (poll(p, 4, timeout) < 0 && errno != EINTR)
			return stk_err_sys(err, "poll");
		if (p[2].revents & POLLIN)
			copy_fd(pty, 1);
		if (p[3].revents & (POLLIN | POLLHUP) && !copy_fd(0, pty))
			stdin_open = false;
		if (p[0].revents & POLLIN) {
			while (pty >= 0 && copy_fd(pty, 1))
				;
			break;
		}
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			struct stk_err ignored;

			if (si.ssi_signo == SIGINT || si.ssi_signo == SIGTERM) {
				engine_kill(c, o->stop_signal, &ignored);
				if (deadline < 0)
					deadline = now_ms() + o->grace_ms;
			} else {
				engine_kill(c, (int)si.ssi_signo, &ignored);
			}
		}
	}
	return engine_try_wait(c, ex, err) < 0 ? -1 : 0;
}

static void write_report(const char *path, const struct engine_exit *ex)
{
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();

	json_object_object_add(o, "exit_code", json_object_new_int(ex->code));
	json_object_object_add(o, "signal", json_object_new_int(ex->signal));
	json_object_object_add(o, "oom_killed", json_object_new_boolean(ex->oom_killed));
	if (json_object_to_file(path, o) < 0)
		cli_error("write %s: %s", path, json_util_get_last_err());
}

static int run_container(struct cli_globals *g, struct run_opts *o, char **cmd)
{
	struct engine_spec spec;
	struct engine_container *c = NULL;
	struct runtime_net *net = NULL;
	struct runtime_volumes *vols = NULL;
	_cleanup_(json_putp) struct json_object *json = NULL;
	struct runtime_net_opts no = {.project = o->project,
				      .name = o->name,
				      .service = o->service,
				      .networks = o->networks,
				      .nnetworks = o->nnetworks};
	struct engine_exit ex = {0};
	struct stk_err err;
	struct termios saved;
	bool raw = false;
	int rc = CLI_FAIL, pty = -1, sfd = -1;
	sigset_t oldmask;
	const char *const *w;

	engine_spec_init(&spec);
	if (load_spec(o, &spec, &json, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (o->rootfs) {
		free(spec.rootfs);
		spec.rootfs = realpath(o->rootfs, NULL);
		if (!spec.rootfs) {
			cli_error("rootfs %s: %s", o->rootfs, strerror(errno));
			goto out;
		}
	}
	if (cmd && *cmd) {
		size_t n = 0;

		while (cmd[n])
			n++;
		free(spec.argv ? spec.argv[0] : NULL);
		free(spec.argv);
		spec.argv = xcalloc(n + 1, sizeof(char *));
		for (n = 0; cmd[n]; n++)
			spec.argv[n] = xstrdup(cmd[n]);
	}
	if (place_container(g, o, &spec) < 0)
		goto out;
	no.root = cli_state_root(g);
	{
		struct runtime_volume_opts vo = {.root = no.root,
						 .name = o->name,
						 .project = o->project};

		if (json && runtime_volumes_setup(&vo, json, &spec, &vols, &err) < 0) {
			cli_error("%s: %s", spec.id, err.msg);
			goto out;
		}
	}
	if (runtime_net_setup(&no, &spec, &net, &err) < 0) {
		cli_error("%s: network: %s", spec.id, err.msg);
		goto out;
	}
	spec.stdio[0] = 0;
	spec.stdio[1] = 1;
	spec.stdio[2] = 2;
	/* Signals queue from before the container exists, so none can be lost. */
	sfd = signal_fd(&oldmask);
	if (engine_create(&spec, &c, &err) < 0 || engine_start(c, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	runtime_volumes_unstage(vols);
	for (w = engine_warnings(c); *w; w++)
		fprintf(stderr, "stack: warning: %s\n", *w);
	pty = engine_take_pty_master(c);
	if (pty >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
		struct termios t = saved;

		cfmakeraw(&t);
		raw = tcsetattr(0, TCSANOW, &t) == 0;
	}
	if (supervise(c, o, pty, sfd, &ex, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (o->report)
		write_report(o->report, &ex);
	rc = ex.code;
out:
	if (raw)
		tcsetattr(0, TCSANOW, &saved);
	if (pty >= 0)
		close(pty);
	runtime_volumes_unstage(vols);
	if (c && engine_remove_blocking(c, &err) < 0)
		cli_error("%s", err.msg);
	engine_container_free(c);
	runtime_net_release(net);
	runtime_volumes_release(vols);
	engine_spec_release(&spec);
	if (sfd >= 0) {
		close(sfd);
		sigprocmask(SIG_SETMASK, &oldmask, NULL);
	}
	return rc;
}

/* exec, pause, unpause, kill, stats on a container `runtime run` started. */
static int exec_in(struct engine_container *c, const struct run_opts *o, char **cmd)
{
	struct engine_exec_spec e = {.argv = cmd,
				     .tty = o->tty,
				     .user = (char *)o->user,
				     .stdio = {0, 1, 2}};
	struct engine_process p;
	struct engine_exit ex;
	struct stk_err err;
	int rc;

	if (engine_exec(c, &e, &p, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	for (;;) {
		struct pollfd fds[3] = {
			{.fd = p.pidfd, .events = POLLIN},
			{.fd = p.pty_master, .events = POLLIN},
			{.fd = p.pty_master >= 0 ? 0 : -1, .events = POLLIN},
		};

		if (poll(fds, 3, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			copy_fd(p.pty_master, 1);
		if (fds[2].revents & (POLLIN | POLLHUP) && !copy_fd(0, p.pty_master))
			fds[2].fd = -1;
		if (fds[0].revents & POLLIN) {
			while (p.pty_master >= 0 && copy_fd(p.pty_master, 1))
				;
			break;
		}
	}
	rc = engine_process_try_wait(&p, &ex, &err);
	close(p.pidfd);
	if (p.pty_master >= 0)
		close(p.pty_master);
	if (rc != 0) {
		cli_error("%s", rc < 0 ? err.msg : "exec: process did not exit");
		return CLI_FAIL;
	}
	return ex.code;
}

static int act_on(struct cli_globals *g, const char *action, struct run_opts *o, char **cmd)
{
	struct engine_container *c = NULL;
	struct engine_spec spec;
	struct stk_err err;
	int rc = CLI_FAIL, sig = SIGKILL;

	engine_spec_init(&spec);
	if (load_spec(o, &spec, NULL, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (place_container(g, o, &spec) < 0)
		goto out;
	if (o->signal && engine_signal_parse(o->signal, &sig, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (engine_open(&spec, &c, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (strcmp(action, "exec") == 0) {
		rc = exec_in(c, o, cmd);
		goto out;
	}
	if (strcmp(action, "stats") == 0) {
		struct engine_stats st;

		if (engine_stats(c, &st, &err) == 0) {
			printf("{\"cpu_usage_ns\": %llu, \"memory_usage\": %llu, \"memory_limit\": %llu, "
			       "\"pids\": %llu, \"blkio_read\": %llu, \"blkio_write\": %llu, "
			       "\"memory_cache\": %llu}\n",
			       (unsigned long long)st.cpu_usage_ns,
			       (unsigned long long)st.memory_usage,
			       (unsigned long long)st.memory_limit, (unsigned long long)st.pids,
			       (unsigned long long)st.blkio_read,
			       (unsigned long long)st.blkio_write,
			       (unsigned long long)st.memory_cache);
			rc = CLI_OK;
		}
	} else if (strcmp(action, "pause") == 0) {
		rc = engine_pause_blocking(c, &err) == 0 ? CLI_OK : CLI_FAIL;
	} else if (strcmp(action, "unpause") == 0) {
		rc = engine_unpause_blocking(c, &err) == 0 ? CLI_OK : CLI_FAIL;
	} else {
		rc = engine_kill(c, sig, &err) == 0 ? CLI_OK : CLI_FAIL;
	}
	if (rc != CLI_OK)
		cli_error("%s", err.msg);
out:
	engine_container_free(c);
	engine_spec_release(&spec);
	return rc;
}

static int runtime_cmd(struct cli_globals *g, const char *action, int argc, char **argv)
{
	static const struct option opts[] = {
		{"rootfs", required_argument, NULL, 'r'},
		{"spec", required_argument, NULL, 'S'},
		{"id", required_argument, NULL, 'i'},
		{"report", required_argument, NULL, 'R'},
		{"tty", no_argument, NULL, 't'},
		{"user", required_argument, NULL, 'u'},
		{"signal", required_argument, NULL, 's'},
		{"project", required_argument, NULL, 'P'},
		{"network", required_argument, NULL, 'N'},
		{"name", required_argument, NULL, 'n'},
		{"service", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct run_opts o = {.stop_signal = SIGTERM, .grace_ms = 10000};
	bool run = strcmp(action, "run") == 0;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+htu:s:", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.rootfs = optarg;
			break;
		case 'S':
			o.spec = optarg;
			break;
		case 'i':
			o.id = optarg;
			break;
		case 'R':
			o.report = optarg;
			break;
		case 't':
			o.tty = true;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 's':
			o.signal = optarg;
			break;
		case 'P':
			o.project = optarg;
			break;
		case 'N':
			o.networks = xrealloc(o.networks, (o.nnetworks + 1) * sizeof(char *));
			o.networks[o.nnetworks++] = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'v':
			o.service = optarg;
			break;
		case 'h':
			fputs(runtime_usage, stdout);
			return CLI_OK;
		default:
			fputs(runtime_usage, stderr);
			free(o.networks);
			return cli_usage_error("runtime", "unknown flag: %s", argv[optind - 1]);
		}
	}
	if (!run && o.networks) {
		free(o.networks);
		return cli_usage_error("runtime", "--network is for run only");
	}
	if (run && !o.rootfs && !o.spec) {
		fputs(runtime_usage, stderr);
		return cli_usage_error("runtime", "--rootfs or --spec is required");
	}
	if (!run && !o.id) {
		fputs(runtime_usage, stderr);
		return cli_usage_error("runtime", "--id is required");
	}
	if (strcmp(action, "exec") == 0 && optind >= argc)
		return cli_usage_error("runtime", "exec needs a command");
	c = run ? run_container(g, &o, argv + optind) : act_on(g, action, &o, argv + optind);
	free(o.networks);
	return c;
}

int cli_runtime(struct cli_globals *g, int argc, char **argv)
{
	static const char *const actions[] = {"run", "exec", "pause", "unpause", "kill", "stats"};
	size_t i;

	for (i = 0; argc >= 2 && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (strcmp(argv[1], actions[i]) == 0)
			return runtime_cmd(g, actions[i], argc - 1, argv + 1);
	fputs(runtime_usage, stderr);
	return cli_usage_error("runtime", "unknown subcommand \"%s\"", argc >= 2 ? argv[1] : "");
}

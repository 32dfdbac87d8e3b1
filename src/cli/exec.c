/* exec SERVICE COMMAND [ARGS...]: a process in a service's running container, started by
 * the CLI itself (pidfd + setns through the engine) from the container's records, so it
 * works with no supervisor. What the command inherits of the container (its environment,
 * user, working directory, capabilities, seccomp filter) is what the engine recorded when
 * it created it; the command's exit code is stack's, 126/127 when it cannot be run, as
 * Docker's. */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli/daily.h"
#include "cli/exec.h"
#include "cli/session.h"
#include "compose/compose.h"
#include "compose/model.h"
#include "engine/engine.h"
#include "state/state.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/str.h"

struct exec_opts {
	bool detach, no_tty, privileged;
	const char *user, *workdir;
	const char **env;
	size_t nenv;
	long index;
};

static void exec_usage(void)
{
	fputs("Usage: stack exec [OPTIONS] SERVICE COMMAND [ARGS...]\n"
	      "\n"
	      "Execute a command in a running container\n"
	      "\n"
	      "Options:\n"
	      "  -d, --detach            Detached mode: Run command in the background\n"
	      "  -e, --env stringArray   Set environment variables\n"
	      "      --index int         Index of the container if service has multiple\n"
	      "                          replicas (default 1)\n"
	      "  -T, --no-TTY            Disable pseudo-TTY allocation. By default a TTY is\n"
	      "                          allocated when stdin is a terminal\n"
	      "      --privileged        Give extended privileges to the process\n"
	      "  -u, --user string       Run the command as this user\n"
	      "  -w, --workdir string    Path to workdir directory for this command\n",
	      stdout);
}

/* The container's environment with -e on top: K=V sets, a bare K takes the CLI's value
 * (and is dropped when the CLI has none), as Docker does. */
char **cli_env_merge(char *const *base, const char *const *extra, size_t nextra)
{
	size_t n = 0, i, j, len;
	char **env;

	while (base && base[n])
		n++;
	env = xcalloc(n + nextra + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		env[i] = xstrdup(base[i]);
	for (j = 0; j < nextra; j++) {
		const char *eq = strchr(extra[j], '=');
		char *kv;

		if (eq) {
			kv = xstrdup(extra[j]);
		} else if (getenv(extra[j])) {
			kv = xasprintf("%s=%s", extra[j], getenv(extra[j]));
		} else {
			continue;
		}
		len = (size_t)(strchr(kv, '=') - kv);
		for (i = 0; i < n; i++)
			if (!strncmp(env[i], kv, len) && env[i][len] == '=')
				break;
		if (i < n) {
			free(env[i]);
		} else {
			n++;
		}
		env[i] = kv;
	}
	return env;
}

void cli_strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The running container of a service with that number, as Compose picks it for exec,
 * attach and port; Compose's errors otherwise. */
int cli_find_running(const struct state_container *v, size_t n, const char *service, long index,
		     const struct state_container **out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(state_str(v[i].config, "service"), service) ||
		    state_container_oneoff(&v[i]) || state_int(v[i].config, "number") != index ||
		    !state_container_running(&v[i]))
			continue;
		if (state_container_paused(&v[i])) {
			cli_error("container %s is paused, unpause the container first",
				  state_str(v[i].config, "name"));
			return -1;
		}
		*out = &v[i];
		return 0;
	}
	if (index > 1)
		cli_error("service \"%s\" is not running container #%ld", service, index);
	else
		cli_error("service \"%s\" is not running", service);
	return -1;
}

static int exec_signal(int sig, void *arg)
{
	const struct engine_process *p = arg;

	return (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
}

/* Start the command and serve it; the exit code to return. */
static int exec_run(struct engine_container *ec, const struct exec_opts *o, char **env, char **argv,
		    const char *name)
{
	/* Docker's exec --privileged: every capability and no seccomp filter, for this
	 * process only. */
	struct engine_exec_spec e = {.argv = argv,
				     .env = env,
				     .user = (char *)o->user,
				     .workdir = (char *)o->workdir,
				     .privileged = o->privileged,
				     .tty = !o->detach && !o->no_tty && isatty(0),
				     .stdio = {0, 1, 2}};
	struct engine_process p = {.pidfd = -1, .pty_master = -1};
	struct cli_session s = {.stdin_open = true, .signal = exec_signal, .arg = &p};
	struct engine_exit ex;
	struct stk_err err;
	int rc;

	if (o->detach)
		e.stdio[0] = e.stdio[1] = e.stdio[2] = -1;
	if (e.tty)
		cli_session_winsize(&e.tty_rows, &e.tty_cols);
	cli_session_block(&s);
	if (engine_exec(ec, &e, &p, &err) < 0) {
		cli_session_unblock(&s);
		cli_error("%s: %s", name, err.msg);
		/* Docker: 127 when the command is not there, 126 when it cannot be run (or the
		 * process could not be set up: a missing working directory, a bad user). */
		return err.errnum == ENOENT && strstr(err.msg, ": exec \"") ? 127 : 126;
	}
	if (o->detach) {
		cli_session_unblock(&s);
		close(p.pidfd);
		return CLI_OK;
	}
	s.pidfd = p.pidfd;
	s.pty = p.pty_master;
	rc = cli_session_serve(&s, &err);
	if (rc == 0)
		rc = engine_process_try_wait(&p, &ex, &err);
	close(p.pidfd);
	if (p.pty_master >= 0)
		close(p.pty_master);
	if (rc != 0) {
		cli_error("%s: %s", name, rc < 0 ? err.msg : "exec: the process did not exit");
		return CLI_FAIL;
	}
	return ex.code;
}

/* The container, opened for exec from its records: the engine's exec record (what its
 * process was started with) when it has one, else (a container of an older stack) the
 * spec rebuilt from the applied model and the image store. */
static int exec_open(struct cli_globals *g, const struct state_container *rec,
		     struct engine_container **ec)
{
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	const char *name = state_str(rec->config, "name");
	struct engine_spec spec;
	struct stk_err err;
	int rc;

	if (daily_open(rec, ec, &err) < 0) {
		cli_error("%s: %s", name, err.msg);
		return -1;
	}
	if (engine_exec_recorded(*ec))
		return 0;
	engine_container_free(*ec);
	*ec = NULL;
	engine_spec_init(&spec);
	rc = super_container_spec(&paths, rec, &spec, &err);
	if (rc == 0)
		rc = engine_open(&spec, ec, &err);
	engine_spec_release(&spec);
	if (rc < 0)
		cli_error("%s: %s", name, err.msg);
	return rc;
}

static int exec_parse(struct cli_globals *g, int argc, char **argv, struct exec_opts *o)
{
	enum { OPT_INDEX = 1, OPT_PRIVILEGED, OPT_DETACH_KEYS };
	static const struct option opts[] = {
		{"detach", no_argument, NULL, 'd'},
		{"env", required_argument, NULL, 'e'},
		{"index", required_argument, NULL, OPT_INDEX},
		{"no-TTY", no_argument, NULL, 'T'},
		{"tty", no_argument, NULL, 't'},
		{"interactive", no_argument, NULL, 'i'},
		{"privileged", no_argument, NULL, OPT_PRIVILEGED},
		{"user", required_argument, NULL, 'u'},
		{"workdir", required_argument, NULL, 'w'},
		{"detach-keys", required_argument, NULL, OPT_DETACH_KEYS},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	char *end;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:de:Ttiu:w:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->detach = true;
			break;
		case 'e':
			o->env = xrealloc(o->env, (o->nenv + 1) * sizeof(*o->env));
			o->env[o->nenv++] = optarg;
			break;
		case OPT_INDEX:
			errno = 0;
			o->index = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || o->index < 1)
				return cli_usage_error("exec",
						       "invalid argument \"%s\" for \"--index\"",
						       optarg);
			break;
		case 'T':
			o->no_tty = true;
			break;
		case 't':
		case 'i':
		case OPT_DETACH_KEYS:
			break;
		case OPT_PRIVILEGED:
			o->privileged = true;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'h':
			exec_usage();
			return -1;
		default:
			if ((rc = cli_other_option(g, "exec", c, argv)))
				return rc;
		}
	}
	if ((rc = cli_reject_abbreviations("exec", argv, 1, optind, opts)))
		return rc;
	if (argc - optind < 2)
		return cli_usage_error("exec", "\"exec\" requires at least 2 arguments");
	return 0;
}

int cli_exec(struct cli_globals *g, int argc, char **argv)
{
	struct exec_opts o = {.index = 1};
	struct state_paths paths = {cli_state_root(g), cli_run_root(g)};
	struct compose_project *p = NULL;
	struct state_container *v = NULL;
	const struct state_container *rec;
	struct engine_container *ec = NULL;
	struct stk_err err;
	char **env = NULL;
	const char *service;
	size_t n = 0;
	int rc;

	rc = exec_parse(g, argc, argv, &o);
	if (rc) {
		free(o.env);
		return rc < 0 ? CLI_OK : rc;
	}
	service = argv[optind];
	rc = CLI_FAIL;
	if (cli_load_project(g, &service, 1, false, &p) < 0)
		goto out;
	if (compose_service_index(p, service) < 0) {
		cli_error("no such service: %s", service);
		goto out;
	}
	if (state_list_containers(&paths, p->name, &v, &n, &err) < 0) {
		cli_error("%s", err.msg);
		goto out;
	}
	if (cli_find_running(v, n, service, o.index, &rec) < 0 || exec_open(g, rec, &ec) < 0)
		goto out;
	env = cli_env_merge(engine_env(ec), o.env, o.nenv);
	rc = exec_run(ec, &o, env, argv + optind + 1, state_str(rec->config, "name"));
out:
	cli_strv_free(env);
	engine_container_free(ec);
	state_containers_free(v, n);
	if (p)
		cli_project_release(p);
	free(o.env);
	return rc;
}

/* run SERVICE [COMMAND...]: a one-off container <project>-<service>-run-<12 hex> with the
 * service's configuration. The service's dependencies are started first by the project's
 * supervisor (the normal `up` path); the one-off itself is the CLI's: it owns the
 * terminal and the exit code, so the engine runs it here, on the project's networks
 * (whose DNS the supervisor serves), recorded like the services' containers (label
 * com.docker.compose.oneoff=True) so that `ps` sees it and `down` removes it.
 *
 * With -d the CLI forks first: the child (its own session) starts the container, so it
 * is its parent and gets its exit code; it keeps the container's output in its log,
 * records the exit and, with --rm, removes it. The CLI prints the name once it runs. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/exec.h"
#include "cli/runtime_net.h"
#include "cli/session.h"
#include "compose/compose.h"
#include "compose/model.h"
#include "engine/engine.h"
#include "net/net.h"
#include "state/state.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

struct run_opts {
	bool detach, rm, no_tty, no_deps, use_aliases, service_ports;
	const char *user, *workdir, *entrypoint, *name, *pull;
	const char **env, **labels, **volumes, **publish;
	size_t nenv, nlabels, nvolumes, npublish;
};

/* What one run holds, released at the end whatever happened. */
struct run_ctx {
	struct state_paths paths;
	struct compose_project *p;
	const struct compose_service *svc;
	char *id, *name, *dir;
	struct engine_spec spec;
	struct engine_container *ec;
	struct runtime_net *net;
	struct net_port *ports; /* -p, or the service's with --service-ports */
	size_t nports;
	char **env;
	long long started_at;
	int log_w[2]; /* -d: the write ends of the output pipes, given to the container */
	int log_r[2]; /* -d: their read ends, the watcher's */
};

static void run_usage(void)
{
	fputs("Usage: stack run [OPTIONS] SERVICE [COMMAND] [ARGS...]\n"
	      "\n"
	      "Run a one-off command on a service\n"
	      "\n"
	      "Options:\n"
	      "  -d, --detach               Run container in background and print container name\n"
	      "      --entrypoint string    Override the entrypoint of the image\n"
	      "  -e, --env stringArray      Set environment variables\n"
	      "  -l, --label stringArray    Add or override a label\n"
	      "      --name string          Assign a name to the container\n"
	      "  -T, --no-TTY               Disable pseudo-TTY allocation (default: auto-detected)\n"
	      "      --no-deps              Don't start linked services\n"
	      "      --pull string          Pull image before running (\"always\"|\"missing\"|\"never\")\n"
	      "      --rm                   Automatically remove the container when it exits\n"
	      "      --use-aliases          Use the service's network aliases in the network(s)\n"
	      "                             the container connects to\n"
	      "  -p, --publish stringArray  Publish a container's port(s) to the host\n"
	      "      --service-ports        Run command with all service's ports enabled and mapped\n"
	      "                             to the host\n"
	      "  -u, --user string          Run as specified username or uid\n"
	      "  -v, --volume stringArray   Bind mount a volume\n"
	      "  -w, --workdir string       Working directory inside the container\n",
	      stdout);
}

static char *random_hex(size_t bytes)
{
	unsigned char b[32];
	char *s = xcalloc(bytes * 2 + 1, 1);
	size_t i;

	if (getrandom(b, bytes, 0) != (ssize_t)bytes)
		abort();
	for (i = 0; i < bytes; i++)
		sprintf(s + 2 * i, "%02x", b[i]);
	return s;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void push(const char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = s;
}

static int run_parse(struct cli_globals *g, int argc, char **argv, struct run_opts *o)
{
	enum {
		OPT_RM = 1,
		OPT_NO_DEPS,
		OPT_ALIASES,
		OPT_ENTRYPOINT,
		OPT_NAME,
		OPT_PULL,
		OPT_PORTS
	};
	static const struct option opts[] = {
		{"detach", no_argument, NULL, 'd'},
		{"rm", no_argument, NULL, OPT_RM},
		{"no-TTY", no_argument, NULL, 'T'},
		{"tty", no_argument, NULL, 't'},
		{"interactive", no_argument, NULL, 'i'},
		{"env", required_argument, NULL, 'e'},
		{"label", required_argument, NULL, 'l'},
		{"volume", required_argument, NULL, 'v'},
		{"user", required_argument, NULL, 'u'},
		{"workdir", required_argument, NULL, 'w'},
		{"no-deps", no_argument, NULL, OPT_NO_DEPS},
		{"use-aliases", no_argument, NULL, OPT_ALIASES},
		{"entrypoint", required_argument, NULL, OPT_ENTRYPOINT},
		{"name", required_argument, NULL, OPT_NAME},
		{"pull", required_argument, NULL, OPT_PULL},
		{"publish", required_argument, NULL, 'p'},
		{"service-ports", no_argument, NULL, OPT_PORTS},
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:dTtie:l:v:u:w:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->detach = true;
			break;
		case OPT_RM:
			o->rm = true;
			break;
		case 'T':
			o->no_tty = true;
			break;
		case 't':
		case 'i':
			break;
		case 'e':
			push(&o->env, &o->nenv, optarg);
			break;
		case 'l':
			push(&o->labels, &o->nlabels, optarg);
			break;
		case 'v':
			push(&o->volumes, &o->nvolumes, optarg);
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case OPT_NO_DEPS:
			o->no_deps = true;
			break;
		case OPT_ALIASES:
			o->use_aliases = true;
			break;
		case OPT_ENTRYPOINT:
			o->entrypoint = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_PULL:
			if (strcmp(optarg, "always") && strcmp(optarg, "missing") &&
			    strcmp(optarg, "never"))
				return cli_usage_error("run", "invalid --pull option \"%s\"",
						       optarg);
			o->pull = optarg;
			break;
		case 'p':
			push(&o->publish, &o->npublish, optarg);
			break;
		case OPT_PORTS:
			o->service_ports = true;
			break;
		case 'h':
			run_usage();
			return -1;
		default:
			if ((rc = cli_other_option(g, "run", c, argv)))
				return rc;
		}
	}
	if ((rc = cli_reject_abbreviations("run", argv, 1, optind, opts)))
		return rc;
	if (argc - optind < 1)
		return cli_usage_error("run", "\"run\" requires at least 1 argument");
	return 0;
}

static void strv_set(struct compose_strv *s, char **v, size_t n)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		s->v[i] = xstrdup(v[i]);
	s->n = n;
}

/* The command line's COMMAND and --entrypoint replace the service's, before its spec is
 * built (so the image's CMD is dropped as Docker drops it for a new entrypoint). */
static void override_command(struct compose_service *svc, const struct run_opts *o, char **cmd,
			     size_t ncmd)
{
	if (ncmd) {
		strv_set(&svc->command, cmd, ncmd);
		svc->has_command = true;
	}
	if (o->entrypoint) {
		char *ep = (char *)o->entrypoint;

		strv_set(&svc->entrypoint, &ep, *ep ? 1 : 0);
		svc->has_entrypoint = true;
	}
}

/* -v SRC:DST[:ro|rw]: a bind mount on top of the service's; SRC is a host path. */
static int add_volumes(struct run_ctx *r, const struct run_opts *o, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < o->nvolumes; i++) {
		_cleanup_free_ char *spec = xstrdup(o->volumes[i]);
		char *dst = strchr(spec, ':'), *mode;
		struct engine_mount *m;

		if (!dst || !dst[1])
			return stk_err_set(err, EINVAL, "invalid volume specification: \"%s\"",
					   o->volumes[i]);
		*dst++ = '\0';
		mode = strchr(dst, ':');
		if (mode)
			*mode++ = '\0';
		if (mode && strcmp(mode, "ro") && strcmp(mode, "rw"))
			return stk_err_set(err, EINVAL, "invalid volume mode \"%s\" in \"%s\"",
					   mode, o->volumes[i]);
		if (spec[0] != '/' && spec[0] != '.')
			return stk_err_set(err, ENOTSUP,
					   "volume \"%s\": named volumes are not supported by run "
					   "yet; give a host path",
					   o->volumes[i]);
		r->spec.mounts =
			xrealloc(r->spec.mounts, (r->spec.nmounts + 1) * sizeof(*r->spec.mounts));
		m = &r->spec.mounts[r->spec.nmounts++];
		memset(m, 0, sizeof(*m));
		m->type = ENGINE_MOUNT_BIND;
		/* Relative to the project directory, as the service's own volumes. */
		m->source = spec[0] == '/' ? xstrdup(spec)
					   : xasprintf("%s/%s", r->p->workdir, spec);
		m->target = xstrdup(dst);
		m->read_only = mode && !strcmp(mode, "ro");
		m->create_host_path = true;
	}
	return 0;
}

/* "N" or "N-M" (M >= N), ports 1..65535; *n: how many. */
static bool parse_port_range(const char *s, uint16_t *first, size_t *n)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b = a;

	if (end == s || !a || a > 65535)
		return false;
	if (*end == '-') {
		const char *t = end + 1;

		b = strtoul(t, &end, 10);
		if (end == t || b < a || b > 65535)
			return false;
	}
	if (*end)
		return false;
	*first = (uint16_t)a;
	*n = b - a + 1;
	return true;
}

/* -p [[IP:][HOST[-HOST2]]:]CONTAINER[-CONTAINER2][/PROTO], as `docker run -p`: no host
 * port, or an empty one, is a free port the kernel's ephemeral range gives; a host
 * range for one container port is its first free port; ranges on both sides pair up. */
static int parse_publish(struct run_ctx *r, const char *arg, struct stk_err *err)
{
	_cleanup_free_ char *s = xstrdup(arg);
	char *proto = strchr(s, '/'), *last, *host = NULL, *ip = NULL;
	uint16_t target, hport = 0;
	size_t n, nh = 0, i;

	if (proto) {
		*proto++ = '\0';
		if (strcmp(proto, "tcp") && strcmp(proto, "udp"))
			return stk_err_set(err, EINVAL, "invalid proto \"%s\" in \"%s\"", proto,
					   arg);
	}
	last = strrchr(s, ':');
	if (last) {
		*last++ = '\0';
		host = strrchr(s, ':');
		if (host) {
			*host++ = '\0';
			ip = s;
		} else {
			host = s;
		}
	} else {
		last = s;
	}
	if (!parse_port_range(last, &target, &n))
		return stk_err_set(err, EINVAL, "invalid containerPort \"%s\" in \"%s\"", last,
				   arg);
	if (host && *host && !parse_port_range(host, &hport, &nh))
		return stk_err_set(err, EINVAL, "invalid hostPort \"%s\" in \"%s\"", host, arg);
	if (nh > 1 && n > 1 && nh != n)
		return stk_err_set(err, EINVAL,
				   "invalid ranges in \"%s\": the host's and the container's are "
				   "not the same length",
				   arg);
	if (nh == 1 && n > 1)
		return stk_err_set(err, EINVAL,
				   "invalid ranges in \"%s\": one host port for %zu container ports",
				   arg, n);
	r->ports = xrealloc(r->ports, (r->nports + n + 1) * sizeof(*r->ports));
	for (i = 0; i < n; i++) {
		struct net_port *p = &r->ports[r->nports++];

		memset(p, 0, sizeof(*p));
		p->host_ip = ip && *ip ? xstrdup(ip) : NULL;
		p->proto = proto && !strcmp(proto, "udp") ? NET_UDP : NET_TCP;
		p->container_port = (uint16_t)(target + i);
		if (nh == n)
			p->host_port = (uint16_t)(hport + i);
		else if (nh > 1) { /* one container port, a range of host ports */
			p->host_port = hport;
			p->host_port_end = (uint16_t)(hport + nh - 1);
		}
	}
	return 0;
}

/* The ports to publish: -p, else with --service-ports the service's; checked free
 * before anything is made. */
static int run_ports(struct run_ctx *r, const struct run_opts *o, struct stk_err *err)
{
	size_t i, n = o->service_ports ? r->svc->nports : 0;

	r->ports = xcalloc(n + 1, sizeof(*r->ports));
	for (i = 0; i < n; i++) {
		struct net_port *q = &r->ports[r->nports++];

		super_port_of(&r->svc->ports[i], q);
		q->host_ip = q->host_ip ? xstrdup(q->host_ip) : NULL;
	}
	for (i = 0; i < o->npublish; i++)
		if (parse_publish(r, o->publish[i], err) < 0)
			return -1;
	return net_ports_check(r->ports, r->nports, err);
}

static void run_ports_free(struct run_ctx *r)
{
	size_t i;

	for (i = 0; i < r->nports; i++)
		free((char *)r->ports[i].host_ip);
	free(r->ports);
}

static struct json_object *ports_json(const struct run_ctx *r)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < r->nports; i++) {
		const struct net_port *p = &r->ports[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "host_ip",
				       json_object_new_string(p->host_ip ? p->host_ip : "0.0.0.0"));
		json_object_object_add(o, "published", json_object_new_int(p->host_port));
		json_object_object_add(o, "target", json_object_new_int(p->container_port));
		json_object_object_add(o, "protocol",
				       json_object_new_string(p->proto == NET_UDP ? "udp" : "tcp"));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *run_labels(const struct run_ctx *r, const struct run_opts *o)
{
	struct json_object *l = json_object_new_object();
	size_t i;

#define LABEL(k, v) json_object_object_add(l, k, json_object_new_string(v))
	LABEL("com.docker.compose.project", r->p->name);
	LABEL("com.docker.compose.service", r->svc->name);
	LABEL("com.docker.compose.container-number", "1");
	LABEL("com.docker.compose.oneoff", "True");
	LABEL("com.docker.compose.slug", r->id);
	LABEL("com.docker.compose.image", r->svc->image ? r->svc->image : "");
	LABEL("com.docker.compose.project.working_dir", r->p->workdir ? r->p->workdir : "");
	LABEL("com.docker.compose.version", STACK_VERSION);
#undef LABEL
	for (i = 0; i < r->svc->labels.n; i++)
		json_object_object_add(l, r->svc->labels.v[i].key,
				       json_object_new_string(r->svc->labels.v[i].value
								      ? r->svc->labels.v[i].value
								      : ""));
	for (i = 0; i < o->nlabels; i++) {
		const char *eq = strchr(o->labels[i], '=');
		_cleanup_free_ char *k = eq ? xstrndup(o->labels[i], (size_t)(eq - o->labels[i]))
					    : xstrdup(o->labels[i]);

		json_object_object_add(l, k, json_object_new_string(eq ? eq + 1 : ""));
	}
	return l;
}

static int write_config(const struct run_ctx *r, const struct run_opts *o, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/config.json", r->dir);
	struct json_object *c = json_object_new_object();
	struct strbuf cmd = {0};
	size_t i;
	int rc;

	for (i = 0; r->spec.argv && r->spec.argv[i]; i++) {
		if (i)
			strbuf_addc(&cmd, ' ');
		strbuf_adds(&cmd, r->spec.argv[i]);
	}
#define SET(k, v) json_object_object_add(c, k, v)
	SET("id", json_object_new_string(r->id));
	SET("name", json_object_new_string(r->name));
	SET("project", json_object_new_string(r->p->name));
	SET("service", json_object_new_string(r->svc->name));
	SET("number", json_object_new_int(1));
	SET("image", json_object_new_string(r->svc->image ? r->svc->image : ""));
	SET("command", json_object_new_string(cmd.buf ? cmd.buf : ""));
	SET("created", json_object_new_int64(now_ns()));
	SET("cgroup_parent", json_object_new_string(r->spec.cgroup_parent));
	SET("stop_signal",
	    json_object_new_string(r->svc->stop_signal ? r->svc->stop_signal : "SIGTERM"));
	SET("stop_grace_ms",
	    json_object_new_int(r->svc->stop_grace_period_ns >= 0
					? (int)(r->svc->stop_grace_period_ns / 1000000)
					: 10000));
	SET("ports", ports_json(r));
	SET("labels", run_labels(r, o));
#undef SET
	free(cmd.buf);
	/* Durable unless the record lives only as long as this CLI (--rm in the foreground):
	 * after a host crash there is no container left for it to describe. */
	rc = o->rm && !o->detach ? state_update_json(path, c, err) : state_write_json(path, c, err);
	json_object_put(c);
	return rc;
}

static void write_state(const struct run_ctx *r, bool running, int code)
{
	_cleanup_free_ char *path = xasprintf("%s/state.json", r->dir);
	struct json_object *s = json_object_new_object();
	struct stk_err err;

	json_object_object_add(s, "status", json_object_new_string(running ? "running" : "exited"));
	json_object_object_add(s, "pid", json_object_new_int(running ? engine_pid(r->ec) : 0));
	json_object_object_add(s, "exit_code", json_object_new_int(code));
	json_object_object_add(s, "restart_count", json_object_new_int(0));
	json_object_object_add(s, "started_at", json_object_new_int64(r->started_at));
	json_object_object_add(s, "finished_at", json_object_new_int64(running ? 0 : now_ns()));
	if (state_update_json(path, s, &err) < 0)
		cli_error("%s: %s", r->name, err.msg);
	json_object_put(s);
}

/* The supervisor's DNS and loopback proxies (which serve 127.0.0.1 ports) learn of
 * the one-off's endpoint, or of its end. */
static void run_net_reload(struct run_ctx *r)
{
	struct super_client cl = {.paths = r->paths};
	struct stk_err err;

	if (super_net_reload(&cl, r->p->name, &err) < 0)
		fprintf(stderr, "stack: warning: %s: %s\n", r->name, err.msg);
}

/* The service's networks by their compose keys; with --use-aliases its aliases (and the
 * service name) answer for the one-off too, as Compose does. */
static int run_network(struct run_ctx *r, const struct run_opts *o, struct stk_err *err)
{
	struct runtime_net_opts no = {.root = r->paths.root,
				      .project = r->p->name,
				      .name = r->name,
				      .service = o->use_aliases ? r->svc->name : NULL,
				      .ports = r->ports,
				      .nports = r->nports};
	const char **nets = xcalloc(r->svc->nnetworks + 1, sizeof(char *));
	char **owned = xcalloc(r->svc->nnetworks + 1, sizeof(char *));
	size_t i, j;
	int rc;

	for (i = 0; i < r->svc->nnetworks; i++) {
		const struct compose_service_network *sn = &r->svc->networks[i];
		struct strbuf sb = {0};

		strbuf_adds(&sb, sn->name);
		for (j = 0; o->use_aliases && j < sn->aliases.n; j++) {
			strbuf_adds(&sb, ",alias=");
			strbuf_adds(&sb, sn->aliases.v[j]);
		}
		owned[i] = strbuf_take(&sb);
		nets[i] = owned[i];
	}
	if (!r->svc->nnetworks)
		nets[0] = r->svc->network_mode ? r->svc->network_mode : "default";
	no.networks = nets;
	no.nnetworks = r->svc->nnetworks ? r->svc->nnetworks : 1;
	no.host_ports_out = xcalloc(r->nports + 1, sizeof(uint16_t));
	rc = runtime_net_setup(&no, &r->spec, &r->net, err);
	/* The host ports taken (a random one, one of a range), for `port` and `ps`. */
	for (i = 0; rc == 0 && i < r->nports; i++) {
		r->ports[i].host_port = no.host_ports_out[i];
		r->ports[i].host_port_end = 0;
	}
	if (rc == 0 && r->nports)
		rc = write_config(r, o, err);
	free(no.host_ports_out);
	if (rc == 0)
		run_net_reload(r);
	for (i = 0; i < r->svc->nnetworks; i++)
		free(owned[i]);
	free(owned);
	free(nets);
	return rc;
}

/* Dependencies through the supervisor (their images pulled as `up` pulls), the project's
 * networks, then the service's own image. */
static int run_prepare(struct cli_globals *g, struct run_ctx *r, const struct run_opts *o)
{
	struct super_client cl;
	bool tty;
	const char **deps = xcalloc(r->svc->ndepends_on + 1, sizeof(char *));
	const char *self = r->svc->name;
	struct super_up_opts uo = {.services = deps, .pull = o->pull, .keep_network_rules = true};
	struct super_up_opts po = {.services = &self, .nservices = 1, .pull = o->pull};
	struct stk_err err;
	size_t i;
	int rc = 0;

	cli_super_client(g, &cl, &tty);
	/* As up: services with build: and no image yet are built first (the builder forks:
	 * before any thread). */
	if (cli_up_build(g, r->p, &self, 1, o->no_deps, CLI_UP_BUILD_MISSING) != CLI_OK) {
		free(deps);
		return -1;
	}
	for (i = 0; !o->no_deps && i < r->svc->ndepends_on; i++)
		deps[uo.nservices++] = r->svc->depends_on[i].service;
	if (uo.nservices && super_up(&cl, r->p, &uo, &err) < 0)
		rc = -1;
	else if (!uo.nservices && super_networks_create(&r->paths, r->p, &err) < 0)
		rc = -1;
	else if (super_pull(&cl, r->p, &po, &err) < 0)
		rc = -1;
	if (rc < 0)
		cli_error("%s", err.msg);
	free(deps);
	return rc;
}

/* Spec, record, network: everything the container needs before it is created. */
static int run_setup(struct run_ctx *r, const struct run_opts *o, struct stk_err *err)
{
	_cleanup_free_ char *base = xasprintf("%s/containers", r->paths.root);

	if (run_ports(r, o, err) < 0)
		return -1;
	if (stk_mkdir_p(base, 0755, err) < 0 || mkdir(r->dir, 0700) < 0)
		return errno ? stk_err_sys(err, "create %s", r->dir) : -1;
	if (super_service_spec(&r->paths, r->p, r->svc->name, r->id, r->dir, &r->spec, err) < 0 ||
	    add_volumes(r, o, err) < 0)
		return -1;
	r->env = cli_env_merge(r->spec.env, o->env, o->nenv);
	cli_strv_free(r->spec.env);
	r->spec.env = steal(&r->env);
	if (o->user) {
		free(r->spec.user);
		r->spec.user = xstrdup(o->user);
	}
	if (o->workdir) {
		free(r->spec.workdir);
		r->spec.workdir = xstrdup(o->workdir);
	}
	r->spec.tty = !o->detach && !o->no_tty && isatty(0);
	if (r->spec.tty)
		cli_session_winsize(&r->spec.tty_rows, &r->spec.tty_cols);
	for (int i = 0; i < 3; i++)
		r->spec.stdio[i] = o->detach ? -1 : i;
	/* Detached: stdout and stderr go to pipes the watcher reads into the log. */
	for (int i = 0; o->detach && i < 2; i++) {
		int fds[2];

		if (pipe2(fds, O_CLOEXEC) < 0)
			return stk_err_sys(err, "create a pipe");
		r->log_r[i] = fds[0];
		r->log_w[i] = fds[1];
		r->spec.stdio[i + 1] = fds[1];
	}
	if (write_config(r, o, err) < 0)
		return -1;
	return run_network(r, o, err);
}

static int run_signal(int sig, void *arg)
{
	struct stk_err err;

	return engine_kill(arg, sig, &err);
}

/* Create and start it; <0 with the exit code in *code when it could not be. */
static int run_start(struct run_ctx *r, struct cli_session *s, int *code)
{
	struct stk_err err;
	const char *const *w;

	cli_session_block(s);
	if (engine_create(&r->spec, &r->ec, &err) < 0 || engine_start(r->ec, &err) < 0) {
		cli_session_unblock(s);
		cli_error("%s: %s", r->name, err.msg);
		*code = err.errnum == ENOENT && strstr(err.msg, "exec \"") ? 127 : 126;
		return -1;
	}
	r->started_at = now_ns();
	write_state(r, true, 0);
	for (w = engine_warnings(r->ec); *w; w++)
		fprintf(stderr, "stack: warning: %s\n", *w);
	return 0;
}

/* In the foreground: serve it to its end; the exit code. */
static int run_container(struct run_ctx *r)
{
	struct cli_session s = {.stdin_open = true, .signal = run_signal};
	struct engine_exit ex = {0};
	struct stk_err err;
	int code;

	if (run_start(r, &s, &code) < 0)
		return code;
	s.pidfd = engine_pidfd(r->ec);
	s.pty = engine_take_pty_master(r->ec);
	s.arg = r->ec;
	if (cli_session_serve(&s, &err) < 0 || engine_try_wait(r->ec, &ex, &err) != 0) {
		cli_error("%s: %s", r->name, err.msg);
		ex.code = CLI_FAIL;
	}
	if (s.pty >= 0)
		close(s.pty);
	write_state(r, false, ex.code);
	return ex.code;
}

/* The project's lock if it has one, without making the project (a `down` may have
 * removed it; `run --no-deps` makes none): the watcher's last writes do not race a
 * `down` removing the record, nor bring it back. */
static int run_lock_project(struct run_ctx *r)
{
	_cleanup_free_ char *dir = state_project_dir(&r->paths, r->p->name);
	_cleanup_free_ char *path = xasprintf("%s/lock", dir);
	int fd = open(path, O_RDWR | O_CLOEXEC);

	while (fd >= 0 && flock(fd, LOCK_EX) < 0 && errno == EINTR)
		;
	return fd;
}

/* Undo what is the CLI's: the container, its network endpoint, and with --rm (or when
 * it never started) its record. gone: `down` removed the record (and the networks)
 * while the container ran: only this process's own handles go. */
static void run_finish(struct run_ctx *r, const struct run_opts *o, bool started, bool gone)
{
	struct stk_err err;

	if (r->ec && !gone && engine_remove_blocking(r->ec, &err) < 0)
		cli_error("%s: %s", r->name, err.msg);
	engine_container_free(r->ec);
	r->ec = NULL;
	if (gone) {
		runtime_net_forget(r->net);
	} else if (r->net) {
		runtime_net_release(r->net);
		if (r->nports)
			run_net_reload(r);
	}
	r->net = NULL;
	if (r->dir && !gone && (!started || o->rm) && state_remove_tree(r->dir, &err) < 0)
		cli_error("%s: %s", r->name, err.msg);
}

/* ---- run -d: the watcher ---- */

/* The log: container.log, rotated to container.log.1 at RUN_LOG_MAX_SIZE (so at most
 * twice that on disk), read back by `logs` as the supervisor's rotated files are. */
#define RUN_LOG_MAX_SIZE (20LL * 1024 * 1024)
struct run_log {
	int fd;
	const char *dir;
	long long size;
};

static void run_log_open(struct run_log *lg)
{
	_cleanup_free_ char *path = xasprintf("%s/container.log", lg->dir);
	struct stat st;

	lg->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	lg->size = lg->fd >= 0 && fstat(lg->fd, &st) == 0 ? st.st_size : 0;
}

static void run_log_rotate(struct run_log *lg)
{
	_cleanup_free_ char *path = xasprintf("%s/container.log", lg->dir);
	_cleanup_free_ char *old = xasprintf("%s.1", path);

	if (lg->fd >= 0)
		close(lg->fd);
	/* Not there any more (a `down` removed the record): nothing is written again. */
	if (rename(path, old) < 0) {
		lg->fd = -1;
		return;
	}
	run_log_open(lg);
}

/* One stream of the container's output, split into lines as the supervisor's log. */
struct run_log_stream {
	int fd;
	const char *name;
	char partial[16384];
	size_t n;
};

static void run_log_record(struct run_log *lg, const char *stream, const char *line, size_t len)
{
	struct json_object *o = json_object_new_object();
	struct timespec ts;
	struct tm tm;
	char tbuf[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	json_object_object_add(o, "log", json_object_new_string_len(line, (int)len));
	json_object_object_add(o, "stream", json_object_new_string(stream));
	json_object_object_add(o, "time", json_object_new_string(tbuf));
	{
		_cleanup_free_ char *rec =
			xasprintf("%s\n",
				  json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

		ssize_t n = lg->fd >= 0 ? write(lg->fd, rec, strlen(rec)) : -1;

		/* A full disk loses the line; the container goes on. */
		if (n > 0)
			lg->size += n;
	}
	json_object_put(o);
	if (lg->size >= RUN_LOG_MAX_SIZE)
		run_log_rotate(lg);
}

/* Reads what is there; false at the end of the stream. */
static bool run_log_read(struct run_log_stream *st, struct run_log *lg)
{
	char buf[65536];
	ssize_t n = read(st->fd, buf, sizeof(buf));
	const char *p = buf, *end;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0) {
		if (st->n)
			run_log_record(lg, st->name, st->partial, st->n);
		st->n = 0;
		return false;
	}
	for (end = buf + n; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (take > sizeof(st->partial) - st->n)
			take = sizeof(st->partial) - st->n;
		memcpy(st->partial + st->n, p, take);
		st->n += take;
		p += take;
		if (st->partial[st->n - 1] == '\n' || st->n == sizeof(st->partial)) {
			run_log_record(lg, st->name, st->partial, st->n);
			st->n = 0;
		}
	}
	return true;
}

/* Until the container has exited and its output is drained: the output into
 * container.log (read back by `stack logs NAME`). */
static void run_watch_output(struct run_ctx *r)
{
	struct run_log lg = {.dir = r->dir};
	struct run_log_stream st[2] = {{.fd = r->log_r[0], .name = "stdout"},
				       {.fd = r->log_r[1], .name = "stderr"}};
	bool exited = false;
	int i;

	run_log_open(&lg);
	for (;;) {
		struct pollfd pf[3] = {{.fd = st[0].fd, .events = POLLIN},
				       {.fd = st[1].fd, .events = POLLIN},
				       {.fd = exited ? -1 : engine_pidfd(r->ec), .events = POLLIN}};

		if (st[0].fd < 0 && st[1].fd < 0 && exited)
			break;
		/* After the exit, what is still in the pipes (a process of the container's
		 * that kept them open is gone with its PID namespace). */
		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (pf[2].revents)
			exited = true;
		for (i = 0; i < 2; i++)
			if (st[i].fd >= 0 && pf[i].revents && !run_log_read(&st[i], &lg)) {
				close(st[i].fd);
				st[i].fd = -1;
			}
	}
	r->log_r[0] = r->log_r[1] = -1;
	if (lg.fd >= 0)
		close(lg.fd);
}

/* The watcher, in its own session with /dev/null as its stdio once the CLI has been told
 * (report) that the container runs; returns once it is over, with the record's fate. */
static int run_watch(struct run_ctx *r, const struct run_opts *o, int report)
{
	struct engine_exit ex = {.code = CLI_FAIL};
	struct stk_err err;
	_cleanup_close_ int lock = -1;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC), i;
	_cleanup_free_ char *config = xasprintf("%s/config.json", r->dir);
	bool gone;

	for (i = 0; i < 2; i++) {
		close(r->log_w[i]);
		r->log_w[i] = -1;
	}
	for (i = 0; i < 3 && devnull >= 0; i++)
		dup2(devnull, i);
	if (devnull > 2)
		close(devnull);
	/* Holds no directory of the user's busy, unless its paths are relative to it. */
	if (r->paths.root[0] == '/' && r->paths.run[0] == '/' && chdir("/") < 0) {
	}
	if (write(report, "1", 1) < 0) {
		/* the CLI is gone: the container runs on all the same */
	}
	close(report);
	run_watch_output(r);
	if (engine_try_wait(r->ec, &ex, &err) != 0)
		ex.code = CLI_FAIL;
	lock = run_lock_project(r);
	gone = access(config, F_OK) < 0;
	if (!gone)
		write_state(r, false, ex.code);
	run_finish(r, o, true, gone);
	return CLI_OK;
}

/* run -d: fork; the child starts the container and watches it, the parent prints its
 * name when it runs (or returns the child's exit code when it could not start). */
static int run_detached(struct run_ctx *r, const struct run_opts *o, bool *watcher)
{
	struct cli_session s = {0};
	struct stk_err err;
	int rep[2], code, status;
	pid_t pid;
	char ok;
	ssize_t n;

	if (pipe2(rep, O_CLOEXEC) < 0) {
		cli_error("%s: create a pipe: %s", r->name, strerror(errno));
		return CLI_FAIL;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		cli_error("%s: fork: %s", r->name, strerror(errno));
		close(rep[0]);
		close(rep[1]);
		return CLI_FAIL;
	}
	if (pid > 0) {
		close(rep[1]);
		while ((n = read(rep[0], &ok, 1)) < 0 && errno == EINTR)
			;
		close(rep[0]);
		if (n == 1) {
			printf("%s\n", r->name);
			return CLI_OK;
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		return WIFEXITED(status) ? WEXITSTATUS(status) : CLI_FAIL;
	}
	*watcher = true;
	close(rep[0]);
	/* No terminal's hangup or Ctrl-C reaches it. */
	setsid();
	if (run_setup(r, o, &err) < 0) {
		cli_error("%s: %s", r->name, err.msg);
		close(rep[1]);
		return CLI_FAIL;
	}
	if (run_start(r, &s, &code) < 0) {
		close(rep[1]);
		return code;
	}
	cli_session_unblock(&s);
	return run_watch(r, o, rep[1]);
}

int cli_run(struct cli_globals *g, int argc, char **argv)
{
	struct run_opts o = {0};
	struct run_ctx r = {.paths = {cli_state_root(g), cli_run_root(g)},
			    .log_w = {-1, -1},
			    .log_r = {-1, -1}};
	struct stk_err err;
	const char *service;
	bool started = false, watcher = false;
	int rc, i;

	engine_spec_init(&r.spec);
	rc = run_parse(g, argc, argv, &o);
	if (rc) {
		rc = rc < 0 ? CLI_OK : rc;
		goto out;
	}
	service = argv[optind];
	rc = CLI_FAIL;
	if (cli_load_project(g, &service, 1, false, &r.p) < 0)
		goto out;
	i = compose_service_index(r.p, service);
	if (i < 0) {
		cli_error("no such service: %s", service);
		goto out;
	}
	r.svc = &r.p->services[i];
	override_command(&r.p->services[i], &o, argv + optind + 1, (size_t)(argc - optind - 1));
	if (run_prepare(g, &r, &o) < 0)
		goto out;
	r.id = random_hex(32);
	{
		_cleanup_free_ char *slug = random_hex(6);

		r.name = o.name ? xstrdup(o.name)
				: xasprintf("%s-%s-run-%s", r.p->name, service, slug);
	}
	r.dir = state_container_dir(&r.paths, r.id);
	if (o.detach) {
		rc = run_detached(&r, &o, &watcher);
		/* The CLI's side: the record and the container are the watcher's. */
		if (!watcher)
			goto release;
		started = r.started_at != 0;
		if (started)
			goto release; /* run_watch finished it */
		goto out;
	}
	if (run_setup(&r, &o, &err) < 0) {
		cli_error("%s: %s", r.name, err.msg);
		goto out;
	}
	rc = run_container(&r);
	started = r.started_at != 0;
out:
	run_finish(&r, &o, started, false);
release:
	for (i = 0; i < 2; i++) {
		if (r.log_r[i] >= 0)
			close(r.log_r[i]);
		if (r.log_w[i] >= 0)
			close(r.log_w[i]);
	}
	engine_spec_release(&r.spec);
	run_ports_free(&r);
	free(r.id);
	free(r.name);
	free(r.dir);
	if (r.p)
		cli_project_release(r.p);
	free(o.env);
	free(o.labels);
	free(o.volumes);
	free(o.publish);
	/* The watcher is a fork of a process that may have had threads (an image pull's):
	 * its exit runs no exit handler that would join them. */
	if (watcher) {
		fflush(NULL);
		_exit(rc);
	}
	return rc;
}

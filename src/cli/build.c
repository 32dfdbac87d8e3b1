/* `stack build [SERVICE...]`: the services' `build:` sections, each built by the
 * builder (src/build/) into the image store under the name Compose gives it:
 * `image:` when set, else <project>-<service>. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/build.h"
#include "cli/cli.h"
#include "compose/compose.h"
#include "compose/model.h"
#include "compose/node.h"
#include "util/cleanup.h"
#include "util/str.h"

static const char build_usage[] =
	"Usage: stack build [OPTIONS] [SERVICE...]\n"
	"\n"
	"Build or rebuild services\n"
	"\n"
	"Options:\n"
	"      --build-arg stringArray   Set build-time variables for services\n"
	"      --no-cache                Do not use cache when building the image\n"
	"      --progress string         Set type of progress output (auto, plain, quiet)\n"
	"      --pull                    Always attempt to pull a newer version of the image\n"
	"      --secret stringArray      Secret for RUN --mount=type=secret: id=ID,src=FILE or "
	"id=ID,env=VAR\n"
	"      --ssh stringArray         SSH agent for RUN --mount=type=ssh: default or ID=SOCKET\n"
	"  -q, --quiet                   Don't print anything to STDOUT\n"
	"  -h, --help                    Show this help\n";

struct build_cli {
	const char **args; /* KEY=VAL or KEY */
	size_t nargs;
	const char **secrets; /* --secret id=ID,src=FILE|env=VAR */
	size_t nsecrets;
	const char **ssh; /* --ssh default | ID=SOCKET */
	size_t nssh;
	bool no_cache, quiet, pull;
	struct build_guard *guard; /* build_prepare()'s */
};

struct kvs {
	struct build_kv *v;
	size_t n;
	char **owned;
	size_t nowned;
};

static const char *kvs_own(struct kvs *k, char *s)
{
	k->owned = xrealloc(k->owned, (k->nowned + 1) * sizeof(*k->owned));
	return k->owned[k->nowned++] = s;
}

static void kvs_set(struct kvs *k, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (!strcmp(k->v[i].key, key)) {
			k->v[i].value = value;
			return;
		}
	k->v = xrealloc(k->v, (k->n + 1) * sizeof(*k->v));
	k->v[k->n++] = (struct build_kv){key, value};
}

static void kvs_free(struct kvs *k)
{
	size_t i;

	for (i = 0; i < k->nowned; i++)
		free(k->owned[i]);
	free(k->owned);
	free(k->v);
}

/* "KEY=VAL" or "KEY" (the value from the environment, left out when unset). */
static void kvs_add_assignment(struct kvs *k, const char *s)
{
	const char *eq = strchr(s, '=');

	if (eq) {
		kvs_set(k, kvs_own(k, xstrndup(s, (size_t)(eq - s))), eq + 1);
		return;
	}
	if (getenv(s))
		kvs_set(k, s, getenv(s));
}

/* build.labels as a map or a list of "k=v". */
static void labels_from(struct kvs *k, const struct node *n)
{
	size_t i;

	if (n && n->kind == NODE_MAP)
		for (i = 0; i < n->len; i++)
			kvs_set(k, n->pairs[i].key,
				node_is_scalar(n->pairs[i].value) ? n->pairs[i].value->str : "");
	if (n && n->kind == NODE_SEQ)
		for (i = 0; i < n->len; i++)
			if (node_is_scalar(n->items[i]))
				kvs_add_assignment(k, n->items[i]->str);
}

static const char *node_str(const struct node *map, const char *key)
{
	const struct node *n = node_map_get(map, key);

	return node_is_scalar(n) ? n->str : NULL;
}

static const struct compose_service *find_service(const struct compose_project *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (!strcmp(p->services[i].name, name))
			return &p->services[i];
	return NULL;
}

static bool remote_context(const char *c);

/* build.additional_contexts: a directory (relative to the project directory), an image
 * (docker-image://REF) or another service's image (service:NAME). */
static int contexts_from(const struct compose_project *p, const struct compose_service *s,
			 struct kvs *k)
{
	const struct node *n =
		node_map_get(node_map_get(s->canonical, "build"), "additional_contexts");
	struct kvs raw = {0};
	size_t i;
	int rc = 0;

	labels_from(&raw, n);
	for (i = 0; rc == 0 && i < raw.n; i++) {
		const char *v = raw.v[i].value, *key = kvs_own(k, xstrdup(raw.v[i].key));
		const struct compose_service *other;

		if (str_has_prefix(v, "docker-image://"))
			kvs_set(k, key, v);
		else if (str_has_prefix(v, "service:")) {
			other = find_service(p, v + 8);
			if (!other) {
				cli_error("%s: additional context %s: no service \"%s\"", s->name,
					  raw.v[i].key, v + 8);
				rc = -1;
			} else {
				kvs_set(k, key,
					kvs_own(k, other->image ? xasprintf("docker-image://%s",
									    other->image)
								: xasprintf("docker-image://%s-%s",
									    p->name, other->name)));
			}
		} else if (remote_context(v)) {
			cli_error(
				"%s: additional context %s \"%s\": remote contexts are not supported",
				s->name, raw.v[i].key, v);
			rc = -1;
		} else {
			kvs_set(k, key,
				kvs_own(k, v[0] == '/' ? xstrdup(v)
						       : xasprintf("%s/%s", p->workdir, v)));
		}
	}
	/* raw's values point into the project's tree, which outlives k */
	kvs_free(&raw);
	return rc;
}

static bool remote_context(const char *c)
{
	return strstr(c, "://") || str_has_prefix(c, "git@") || str_has_suffix(c, ".git") ||
	       strstr(c, ".git#");
}

/* Secrets of the build: build.secrets (from the top-level secrets: file or
 * environment; `target` renames the id) and --secret, which wins. */
struct secrets {
	struct build_secret *v;
	size_t n;
	char **owned;
	size_t nowned;
};

static void secrets_set(struct secrets *sv, struct build_secret sec)
{
	size_t i;

	for (i = 0; i < sv->n && strcmp(sv->v[i].id, sec.id); i++)
		;
	if (i == sv->n)
		sv->v = xrealloc(sv->v, ++sv->n * sizeof(*sv->v));
	sv->v[i] = sec;
}

static const char *secrets_own(struct secrets *sv, char *s)
{
	sv->owned = xrealloc(sv->owned, (sv->nowned + 1) * sizeof(char *));
	return sv->owned[sv->nowned++] = s;
}

static void secrets_free(struct secrets *sv)
{
	size_t i;

	for (i = 0; i < sv->nowned; i++)
		free(sv->owned[i]);
	free(sv->owned);
	free(sv->v);
}

/* "id=ID,src=FILE" (source=, or a bare path is not accepted) or "id=ID,env=VAR". */
static int secret_flag(struct secrets *sv, const char *flag)
{
	_cleanup_free_ char *copy = xstrdup(flag);
	struct build_secret sec = {0};
	char *tok, *save = NULL;

	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');

		if (!eq)
			break;
		*eq = 0;
		if (!strcmp(tok, "id"))
			sec.id = secrets_own(sv, xstrdup(eq + 1));
		else if (!strcmp(tok, "src") || !strcmp(tok, "source"))
			sec.file = secrets_own(sv, xstrdup(eq + 1));
		else if (!strcmp(tok, "env"))
			sec.env = secrets_own(sv, xstrdup(eq + 1));
		else if (strcmp(tok, "type"))
			break;
	}
	if (tok || !sec.id || !*sec.id || !sec.file == !sec.env) {
		cli_error("invalid --secret \"%s\" (want id=ID,src=FILE or id=ID,env=VAR)", flag);
		return -1;
	}
	secrets_set(sv, sec);
	return 0;
}

static int secrets_from(const struct compose_project *p, const struct compose_service *s,
			const struct build_cli *o, struct secrets *sv)
{
	const struct node *n = node_map_get(node_map_get(s->canonical, "build"), "secrets");
	size_t i, k;

	for (i = 0; n && n->kind == NODE_SEQ && i < n->len; i++) {
		const char *src = node_str(n->items[i], "source"),
			   *target = node_str(n->items[i], "target");

		for (k = 0; src && k < p->nsecrets && strcmp(p->secrets[k].key, src); k++)
			;
		if (!src || k == p->nsecrets) {
			cli_error("%s: build secret \"%s\" is not a top-level secret", s->name,
				  src ? src : "");
			return -1;
		}
		if (!p->secrets[k].file && !p->secrets[k].environment) {
			cli_error("%s: build secret \"%s\": only file and environment secrets "
				  "are supported",
				  s->name, src);
			return -1;
		}
		secrets_set(sv, (struct build_secret){.id = target ? target : src,
						      .file = p->secrets[k].file,
						      .env = p->secrets[k].environment});
	}
	for (i = 0; i < o->nsecrets; i++)
		if (secret_flag(sv, o->secrets[i]) < 0)
			return -1;
	return 0;
}

/* build.ssh and --ssh: "default" (the agent of $SSH_AUTH_SOCK) or "ID=SOCKET". */
static int ssh_from(const struct compose_service *s, const struct build_cli *o, struct kvs *k)
{
	const struct node *n = node_map_get(node_map_get(s->canonical, "build"), "ssh");
	size_t i, total = o->nssh + (n && n->kind == NODE_SEQ ? n->len : 0);

	for (i = 0; i < total; i++) {
		const struct node *item = i < o->nssh ? NULL : n->items[i - o->nssh];
		const char *v = item ? (node_is_scalar(item) ? item->str : "") : o->ssh[i];
		const char *eq = strchr(v, '=');

		if (eq) {
			kvs_set(k, kvs_own(k, xstrndup(v, (size_t)(eq - v))), eq + 1);
			continue;
		}
		if (!getenv("SSH_AUTH_SOCK")) {
			cli_error("%s: ssh %s: SSH_AUTH_SOCK is not set", s->name, v);
			return -1;
		}
		kvs_set(k, kvs_own(k, xstrdup(v)), getenv("SSH_AUTH_SOCK"));
	}
	return 0;
}

static int build_service(const struct compose_project *p, const struct compose_service *s,
			 struct image_store *store, const char *root, const struct build_cli *o)
{
	const struct node *bn = node_map_get(s->canonical, "build");
	const struct node *tags = node_map_get(bn, "tags"),
			  *hosts = node_map_get(bn, "extra_hosts");
	struct kvs args = {0}, labels = {0}, contexts = {0}, ssh = {0};
	struct secrets secrets = {0};
	_cleanup_free_ char *context = NULL, *name = NULL;
	_cleanup_free_ const char **tagv = NULL, **hostv = NULL;
	long long shm = 0;
	struct build_opts bo = {0};
	struct stk_err err;
	bool no_cache = false, pull = false;
	size_t i, ntags = 0, nhosts = 0;
	int rc;

	if (remote_context(s->build_context)) {
		cli_error(
			"%s: build context \"%s\": git repositories and remote contexts are not supported; use a local directory",
			s->name, s->build_context);
		return CLI_FAIL;
	}
	context = s->build_context[0] == '/' ? xstrdup(s->build_context)
					     : xasprintf("%s/%s", p->workdir, s->build_context);
	name = s->image ? xstrdup(s->image) : xasprintf("%s-%s", p->name, s->name);
	tagv = xcalloc(2 + (tags && tags->kind == NODE_SEQ ? tags->len : 0), sizeof(*tagv));
	tagv[ntags++] = name;
	for (i = 0; tags && tags->kind == NODE_SEQ && i < tags->len; i++)
		if (node_is_scalar(tags->items[i]))
			tagv[ntags++] = tags->items[i]->str;
	for (i = 0; i < s->build_args.n; i++)
		if (s->build_args.v[i].value)
			kvs_set(&args, s->build_args.v[i].key, s->build_args.v[i].value);
	for (i = 0; i < o->nargs; i++)
		kvs_add_assignment(&args, o->args[i]);
	labels_from(&labels, node_map_get(bn, "labels"));
	if (contexts_from(p, s, &contexts) < 0 || secrets_from(p, s, o, &secrets) < 0 ||
	    ssh_from(s, o, &ssh) < 0) {
		kvs_free(&ssh);
		secrets_free(&secrets);
		kvs_free(&args);
		kvs_free(&labels);
		kvs_free(&contexts);
		return CLI_FAIL;
	}
	node_as_bool(node_map_get(bn, "no_cache"), &no_cache);
	node_as_bool(node_map_get(bn, "pull"), &pull);
	node_as_int(node_map_get(bn, "shm_size"), &shm);
	hostv = xcalloc(1 + (hosts && hosts->kind == NODE_SEQ ? hosts->len : 0), sizeof(*hostv));
	for (i = 0; hosts && hosts->kind == NODE_SEQ && i < hosts->len; i++)
		if (node_is_scalar(hosts->items[i]))
			hostv[nhosts++] = hosts->items[i]->str;
	bo = (struct build_opts){
		.extra_hosts = hostv,
		.nextra_hosts = nhosts,
		.shm_size = shm > 0 ? (uint64_t)shm : 0,
		.root = root,
		.context = context,
		.dockerfile = s->build_dockerfile,
		.dockerfile_inline = node_str(bn, "dockerfile_inline"),
		.target = node_str(bn, "target"),
		.args = args.v,
		.nargs = args.n,
		.labels = labels.v,
		.nlabels = labels.n,
		.contexts = contexts.v,
		.ncontexts = contexts.n,
		.tags = tagv,
		.ntags = ntags,
		.no_cache = o->no_cache || no_cache,
		.pull_always = o->pull || pull,
		.network = node_str(bn, "network"),
		.secrets = secrets.v,
		.nsecrets = secrets.n,
		.ssh = ssh.v,
		.nssh = ssh.n,
		.out_fd = o->quiet ? -1 : STDOUT_FILENO,
		.guard = o->guard,
	};
	stk_err_clear(&err);
	rc = build_image(store, &bo, NULL, &err);
	if (rc < 0)
		cli_error("%s: %s", s->name, err.msg);
	kvs_free(&args);
	kvs_free(&labels);
	kvs_free(&contexts);
	kvs_free(&ssh);
	secrets_free(&secrets);
	if (rc < 0 && err.errnum == EINTR)
		return 130; /* as a shell reports Ctrl-C */
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

/* ---- independent services build in parallel ---- */

/* One service's build in a child process; its output is held and printed whole when it
 * ends, so builds running side by side do not interleave. */
struct job {
	const struct compose_service *s;
	pid_t pid;
	int fd[2]; /* its stdout and stderr */
	struct strbuf buf[2];
	int rc; /* -1 until done */
	bool started;
	bool canceled; /* stopped because another service's build failed */
};

/* Does j use another service's image (additional_contexts: service:NAME)? */
static bool job_needs(const struct job *j, const struct job *other)
{
	const struct node *n =
		node_map_get(node_map_get(j->s->canonical, "build"), "additional_contexts");
	size_t i;

	for (i = 0; n && n->kind == NODE_MAP && i < n->len; i++)
		if (node_is_scalar(n->pairs[i].value) &&
		    str_has_prefix(n->pairs[i].value->str, "service:") &&
		    !strcmp(n->pairs[i].value->str + 8, other->s->name))
			return true;
	for (i = 0; n && n->kind == NODE_SEQ && i < n->len; i++) {
		const char *v = node_is_scalar(n->items[i]) ? strchr(n->items[i]->str, '=') : NULL;

		if (v && str_has_prefix(v + 1, "service:") && !strcmp(v + 9, other->s->name))
			return true;
	}
	return false;
}

static int job_start(const struct compose_project *p, struct job *j, struct image_store *store,
		     const char *root, const struct build_cli *o)
{
	int out[2], errp[2];

	if (pipe2(out, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(out[0]);
		close(out[1]);
		return -1;
	}
	pid_t parent = getpid();

	fflush(stdout);
	fflush(stderr);
	j->pid = fork();
	if (j->pid == 0) {
		build_child_dies_with_parent(parent);
		dup2(out[1], STDOUT_FILENO);
		dup2(errp[1], STDERR_FILENO);
		_exit(build_service(p, j->s, store, root, o));
	}
	close(out[1]);
	close(errp[1]);
	j->fd[0] = out[0];
	j->fd[1] = errp[0];
	strbuf_init(&j->buf[0]);
	strbuf_init(&j->buf[1]);
	j->started = true;
	return j->pid < 0 ? -1 : 0;
}

static void job_finish(struct job *j)
{
	int status = 0;

	while (waitpid(j->pid, &status, 0) < 0 && errno == EINTR)
		;
	j->rc = WIFEXITED(status) ? WEXITSTATUS(status) : CLI_FAIL;
	if (j->buf[0].len)
		fwrite(j->buf[0].buf, 1, j->buf[0].len, stdout);
	fflush(stdout);
	if (j->buf[1].len)
		fwrite(j->buf[1].buf, 1, j->buf[1].len, stderr);
	strbuf_free(&j->buf[0]);
	strbuf_free(&j->buf[1]);
}

/* The first build that fails stops the others (SIGTERM: each takes it as an interrupt,
 * its RUN container removed), and nothing more starts. */
static void jobs_stop(struct job *jobs, size_t n, const struct job *failed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (jobs[i].started && jobs[i].rc < 0 && &jobs[i] != failed) {
			kill(jobs[i].pid, SIGTERM);
			jobs[i].canceled = true;
		}
}

/* Starts what can start: every dependency built; a failed dependency fails the job. */
static size_t jobs_start_ready(const struct compose_project *p, struct job *jobs, size_t n,
			       size_t running, size_t max, bool stop, struct image_store *store,
			       const char *root, const struct build_cli *o)
{
	size_t i, k;

	for (i = 0; i < n && running < max; i++) {
		bool ready = !jobs[i].started;

		for (k = 0; ready && k < n; k++)
			if (k != i && job_needs(&jobs[i], &jobs[k])) {
				if (jobs[k].rc > 0) {
					cli_error("%s: not built: service %s failed",
						  jobs[i].s->name, jobs[k].s->name);
					jobs[i].started = true;
					jobs[i].rc = CLI_FAIL;
				}
				ready = ready && jobs[k].rc == 0;
			}
		if (!ready || jobs[i].started || stop)
			continue;
		if (job_start(p, &jobs[i], store, root, o) < 0) {
			cli_error("%s: build: %s", jobs[i].s->name, strerror(errno));
			jobs[i].started = true;
			jobs[i].rc = CLI_FAIL;
			continue;
		}
		running++;
	}
	return running;
}

static int jobs_run(const struct compose_project *p, struct job *jobs, size_t n,
		    struct image_store *store, const char *root, const struct build_cli *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t max = cpus > 1 ? (size_t)cpus : 1, running = 0, i;
	const struct job *failed = NULL;
	int rc = CLI_OK;

	for (;;) {
		struct pollfd *pf = xcalloc(2 * n, sizeof(*pf));

		running =
			jobs_start_ready(p, jobs, n, running, max, failed != NULL, store, root, o);
		if (!running) {
			free(pf);
			break;
		}
		for (i = 0; i < n; i++) {
			pf[2 * i] = (struct pollfd){.fd = jobs[i].rc < 0 ? jobs[i].fd[0] : -1,
						    .events = POLLIN};
			pf[2 * i + 1] = (struct pollfd){.fd = jobs[i].rc < 0 ? jobs[i].fd[1] : -1,
							.events = POLLIN};
		}
		if (poll(pf, 2 * n, -1) < 0 && errno != EINTR) {
			free(pf);
			return CLI_FAIL;
		}
		for (i = 0; i < 2 * n; i++) {
			struct job *j = &jobs[i / 2];
			char buf[4096];
			ssize_t r;

			if (pf[i].fd < 0 || !pf[i].revents)
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0) {
				strbuf_addn(&j->buf[i % 2], buf, (size_t)r);
				continue;
			}
			close(j->fd[i % 2]);
			j->fd[i % 2] = -1;
			if (j->fd[0] < 0 && j->fd[1] < 0) {
				job_finish(j);
				running--;
				if (j->rc != 0 && !failed) {
					failed = j;
					jobs_stop(jobs, n, j);
				}
			}
		}
		free(pf);
	}
	for (i = 0; i < n; i++) {
		if ((jobs[i].canceled && jobs[i].rc != 0) || (!jobs[i].started && failed))
			cli_error("%s: not built: the build of %s failed", jobs[i].s->name,
				  failed->s->name);
		else if (!jobs[i].started)
			cli_error("%s: not built: its service: contexts depend on each other",
				  jobs[i].s->name);
	}
	/* the first failure decides: an interrupt (130), or a build that failed */
	if (failed)
		rc = failed->rc == 130 ? 130 : CLI_FAIL;
	else
		for (i = 0; i < n; i++)
			if (!jobs[i].started || jobs[i].rc != 0)
				rc = CLI_FAIL;
	return rc;
}

static int parse_options(int argc, char **argv, struct cli_globals *g, struct build_cli *o)
{
	static const struct option opts[] = {
		CLI_GLOBAL_OPTIONS,
		{"build-arg", required_argument, NULL, 'a'},
		{"no-cache", no_argument, NULL, 'n'},
		{"pull", no_argument, NULL, 'p'},
		{"progress", required_argument, NULL, 'P'},
		{"quiet", no_argument, NULL, 'q'},
		{"secret", required_argument, NULL, 'S'},
		{"ssh", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+qh", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			o->args = xrealloc(o->args, (o->nargs + 1) * sizeof(*o->args));
			o->args[o->nargs++] = optarg;
			break;
		case 'n':
			o->no_cache = true;
			break;
		case 'S':
			o->secrets = xrealloc(o->secrets, (o->nsecrets + 1) * sizeof(char *));
			o->secrets[o->nsecrets++] = optarg;
			break;
		case 's':
			o->ssh = xrealloc(o->ssh, (o->nssh + 1) * sizeof(char *));
			o->ssh[o->nssh++] = optarg;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'p':
			o->pull = true;
			break;
		case 'P':
			/* one plain progress format; "quiet" is -q */
			if (strcmp(optarg, "auto") && strcmp(optarg, "plain") &&
			    strcmp(optarg, "tty") && strcmp(optarg, "quiet"))
				return cli_usage_error(
					"build",
					"invalid --progress value \"%s\" (auto, tty, plain, quiet)",
					optarg);
			o->quiet = o->quiet || !strcmp(optarg, "quiet");
			break;
		case 'h':
			fputs(build_usage, stdout);
			return -1;
		default:
			if (cli_global_option(g, c, optarg))
				break;
			return cli_usage_error("build", "unknown flag: %s", argv[optind - 1]);
		}
	}
	return cli_reject_abbreviations("build", argv, 1, optind, opts);
}

int cli_build(struct cli_globals *g, int argc, char **argv)
{
	struct build_cli o = {0};
	struct compose_project *p = NULL;
	struct job *jobs = NULL;
	size_t njobs = 0;
	struct image_store *store = NULL;
	struct stk_err err;
	size_t i;
	int rc = parse_options(argc, argv, g, &o);

	if (rc) {
		free(o.args);
		free(o.secrets);
		free(o.ssh);
		return rc < 0 ? CLI_OK : rc;
	}
	/* before any thread exists (pulls run a thread pool) */
	if (build_prepare(cli_state_root(g), STDERR_FILENO, &o.guard, &err) < 0) {
		cli_error("build: %s", err.msg);
		free(o.args);
		free(o.secrets);
		free(o.ssh);
		return CLI_FAIL;
	}
	/* the whole project: additional_contexts may name a service that is not built now */
	rc = cli_load_project(g, NULL, 0, false, &p) < 0 ? CLI_FAIL : CLI_OK;
	for (int k = optind; rc == CLI_OK && k < argc; k++)
		if (!find_service(p, argv[k])) {
			cli_error("no such service: %s", argv[k]);
			rc = CLI_FAIL;
		}
	if (rc == CLI_OK && image_store_open(cli_state_root(g), &store, &err) < 0) {
		cli_error("%s", err.msg);
		rc = CLI_FAIL;
	}
	for (i = 0; rc == CLI_OK && i < p->nservices; i++) {
		const struct compose_service *s = &p->services[i];
		bool named = optind >= argc;
		int k;

		for (k = optind; k < argc; k++)
			named = named || !strcmp(argv[k], s->name);
		if (named && s->build_context) {
			jobs = xrealloc(jobs, (njobs + 1) * sizeof(*jobs));
			jobs[njobs++] = (struct job){.s = s, .rc = -1, .fd = {-1, -1}};
		}
	}
	if (rc == CLI_OK && njobs == 1)
		rc = build_service(p, jobs[0].s, store, cli_state_root(g), &o);
	else if (rc == CLI_OK && njobs > 1)
		rc = jobs_run(p, jobs, njobs, store, cli_state_root(g), &o);
	build_guard_end(o.guard);
	free(jobs);
	image_store_free(store);
	if (p)
		cli_project_release(p);
	free(o.args);
	free(o.secrets);
	free(o.ssh);
	return rc;
}

/* ---- up's builds ---- */

static void mark_wanted(const struct compose_project *p, const char *name, bool deps, bool *in)
{
	int i = compose_service_index((struct compose_project *)p, name);
	size_t j;

	if (i < 0 || in[i])
		return;
	in[i] = true;
	for (j = 0; deps && j < p->services[i].ndepends_on; j++)
		mark_wanted(p, p->services[i].depends_on[j].service, deps, in);
}

static bool store_has(struct image_store *store, const char *name)
{
	struct image_config ic;
	struct stk_err err;

	if (image_store_get(store, name, &ic, &err) < 0)
		return false;
	image_config_free(&ic);
	return true;
}

/* The pull runs in a child: its thread pool must not exist in the process that forks
 * the builds. A failure is a warning, as Compose prints it: the service is built. */
static bool pulled(const char *root, const struct compose_service *s)
{
	int status = 0;
	pid_t pid;

	fprintf(stderr, " %s Pulling\n", s->name);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		struct image_pull_opts po = {0};
		struct image_store *store = NULL;
		const char *refs[1] = {s->image};
		struct stk_err err;

		if (image_store_open(root, &store, &err) == 0 &&
		    image_pull_all(store, refs, 1, &po, NULL, NULL, &err) == 0)
			_exit(0);
		fprintf(stderr, " ! %s Warning %s\n", s->name, err.msg);
		_exit(1);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A service that is built runs the image named as Compose names it. */
static void set_image(struct compose_service *s, const char *name)
{
	const struct node *b = node_map_get(s->canonical, "build");

	free(s->image);
	s->image = xstrdup(name);
	node_map_set(s->canonical, "image", node_new_str(name, b->pos));
}

/* The builds in a child process: build_prepare() enters a mount namespace of its own,
 * and the caller goes on to pull with threads and fork the supervisor. */
static int build_jobs_in_child(const struct compose_project *p, struct job *jobs, size_t n,
			       struct image_store *store, const char *root)
{
	struct build_cli o = {0};
	sigset_t set, old;
	int status = 0;
	pid_t pid, parent = getpid();

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		struct stk_err err;
		int rc;

		build_child_dies_with_parent(parent);
		dup2(STDERR_FILENO, STDOUT_FILENO); /* up's stdout stays the services' */
		if (build_prepare(root, STDERR_FILENO, &o.guard, &err) < 0) {
			cli_error("build: %s", err.msg);
			_exit(CLI_FAIL);
		}
		rc = n == 1 ? build_service(p, jobs[0].s, store, root, &o)
			    : jobs_run(p, jobs, n, store, root, &o);
		build_guard_end(o.guard);
		_exit(rc);
	}
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		cli_error("build: %s", strerror(errno));
		return CLI_FAIL;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : CLI_FAIL;
}

int cli_up_build(struct cli_globals *g, struct compose_project *p, const char *const *services,
		 size_t n, bool no_deps, enum cli_up_build mode)
{
	_cleanup_free_ bool *in = xcalloc(p->nservices + 1, sizeof(bool));
	_cleanup_free_ struct job *jobs = xcalloc(p->nservices + 1, sizeof(*jobs));
	const char *root = cli_state_root(g);
	struct image_store *store = NULL;
	struct stk_err err;
	size_t i, njobs = 0;
	int rc = CLI_OK;

	for (i = 0; i < n; i++)
		mark_wanted(p, services[i], !no_deps, in);
	for (i = 0; n == 0 && i < p->nservices; i++)
		in[i] = true;
	if (image_store_open(root, &store, &err) < 0) {
		cli_error("%s", err.msg);
		return CLI_FAIL;
	}
	for (i = 0; rc == CLI_OK && i < p->nservices; i++) {
		struct compose_service *s = &p->services[i];
		_cleanup_free_ char *name = NULL;
		const char *policy = s->pull_policy ? s->pull_policy : "missing";
		bool have, build;

		if (!in[i] || !s->build_context)
			continue;
		name = s->image ? xstrdup(s->image) : xasprintf("%s-%s", p->name, s->name);
		have = store_has(store, name);
		if (mode == CLI_UP_BUILD_NEVER) {
			build = false;
			if (!have && s->image && !pulled(root, s)) {
				cli_error("service %s: image %s could not be pulled and --no-build "
					  "was given",
					  s->name, name);
				rc = CLI_FAIL;
			} else if (!have && !s->image) {
				cli_error(
					"service %s: image %s is not built and --no-build was given",
					s->name, name);
				rc = CLI_FAIL;
			}
		} else if (mode == CLI_UP_BUILD_ALWAYS || !strcmp(policy, "build")) {
			build = true;
		} else if (have) {
			build = false;
		} else {
			build = !s->image || !strcmp(policy, "never") || !pulled(root, s);
		}
		if (!s->image)
			set_image(s, name);
		if (build)
			jobs[njobs++] = (struct job){.s = s, .rc = -1, .fd = {-1, -1}};
	}
	if (rc == CLI_OK && njobs)
		rc = build_jobs_in_child(p, jobs, njobs, store, root);
	for (i = 0; rc == CLI_OK && i < njobs; i++)
		fprintf(stderr, " Service %s  Built\n", jobs[i].s->name);
	image_store_free(store);
	return rc;
}

/* The builder: parses the Dockerfile, picks the stages the target needs, and runs
 * their steps in order, each looked up in the step cache first. Metadata steps edit
 * the config; RUN, COPY and ADD add a layer; the last state is committed to the store. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

/* ---- output and scratch space ---- */

void build_say(struct build *b, const char *fmt, ...)
{
	va_list ap;

	if (b->out < 0)
		return;
	va_start(ap, fmt);
	vdprintf(b->out, fmt, ap);
	va_end(ap);
}

char *build_scratch_path(struct build *b, const char *what)
{
	return xasprintf("%s/%u-%s", b->work, ++b->seq, what);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW);
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Read-only views of other stages and images (COPY --from) are mounted in a mount
 * namespace of the builder's own, so nothing can outlive the command. */
static int private_mounts(struct stk_err *err)
{
	static bool done;

	if (done)
		return 0;
	if (unshare(CLONE_NEWNS) < 0)
		return stk_err_sys(err, "builder: new mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return stk_err_sys(err, "builder: make mounts private");
	done = true;
	return 0;
}

/* The guard first: it must not share the builder's mount namespace, which would keep
 * the builder's mounts alive after the builder. */
int build_prepare(const char *root, int report_fd, struct build_guard **guard, struct stk_err *err)
{
	*guard = NULL;
	if (build_guard_start(root, report_fd, guard, err) < 0)
		return -1;
	if (private_mounts(err) < 0) {
		build_guard_end(*guard);
		*guard = NULL;
		return -1;
	}
	return 0;
}

bool build_interrupted(struct build *b)
{
	struct signalfd_siginfo si;

	while (b->sigfd >= 0 && read(b->sigfd, &si, sizeof(si)) == sizeof(si))
		b->interrupted = true;
	return b->interrupted;
}

/* Signals wait in a signalfd while the build runs, so an interrupt can stop the step's
 * container and remove everything before the command exits. */
static int signals_catch(sigset_t *old)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, old);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* ---- variables ---- */

struct var {
	char *name, *value; /* value NULL: declared without one */
};

struct vars {
	struct var *v;
	size_t n;
	struct bstate *st; /* ENV wins over ARG; NULL before FROM */
};

static void vars_set(struct vars *vs, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].name, name) == 0) {
			free(vs->v[i].value);
			vs->v[i].value = value ? xstrdup(value) : NULL;
			return;
		}
	vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
	vs->v[vs->n++] = (struct var){xstrdup(name), value ? xstrdup(value) : NULL};
}

static const struct var *vars_find(const struct vars *vs, const char *name)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].name, name) == 0)
			return &vs->v[i];
	return NULL;
}

static void vars_free(struct vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

static const char *env_get(struct bstate *st, const char *name)
{
	struct json_object *env;
	size_t i, n = strlen(name);

	if (!st || !json_object_object_get_ex(bstate_cfg(st), "Env", &env) ||
	    !json_object_is_type(env, json_type_array))
		return NULL;
	for (i = json_object_array_length(env); i-- > 0;) {
		const char *kv = json_object_get_string(json_object_array_get_idx(env, i));

		if (kv && strncmp(kv, name, n) == 0 && kv[n] == '=')
			return kv + n + 1;
	}
	return NULL;
}

static const char *lookup(const char *name, void *arg)
{
	struct vars *vs = arg;
	const struct var *v;
	const char *e = env_get(vs->st, name);

	if (e)
		return e;
	v = vars_find(vs, name);
	return v ? v->value : NULL;
}

static const char *build_arg(const struct build *b, const char *name)
{
	size_t i;

	for (i = b->o->nargs; i-- > 0;)
		if (strcmp(b->o->args[i].key, name) == 0)
			return b->o->args[i].value;
	return NULL;
}

/* ARG name[=default]: the --build-arg wins, then the default, then a meta ARG. */
static int declare_args(struct build *b, const struct df_instr *in, struct vars *vs,
			const struct vars *meta, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < in->nargs; i++) {
		_cleanup_free_ char *name = NULL, *def = NULL;
		char *eq = strchr(in->args[i], '=');
		const char *given;

		name = eq ? xstrndup(in->args[i], (size_t)(eq - in->args[i]))
			  : xstrdup(in->args[i]);
		if (eq && df_word(eq + 1, b->df.escape, lookup, vs, &def, err) < 0)
			return -1;
		given = build_arg(b, name);
		if (!given && !def && meta) {
			const struct var *m = vars_find(meta, name);

			given = m ? m->value : NULL;
		}
		vars_set(vs, name, given ? given : def);
	}
	return 0;
}

/* ---- stages the target needs ---- */

static int stage_index(const struct dockerfile *df, const char *name, size_t before)
{
	size_t i;
	char *end;
	long n;

	for (i = 0; i < before; i++)
		if (df->stages[i].name && strcasecmp(df->stages[i].name, name) == 0)
			return (int)i;
	n = strtol(name, &end, 10);
	if (*name && !*end && n >= 0 && (size_t)n < before)
		return (int)n;
	return -1;
}

/* The earlier stages stage i starts FROM, copies --from or mounts from=: refs[k]. */
static void stage_refs(const struct dockerfile *df, size_t i, const struct vars *meta, bool *refs)
{
	size_t j, f;

	for (j = 0; j < df->stages[i].n; j++) {
		const struct df_instr *in = &df->stages[i].v[j];
		const char *ref = NULL;
		_cleanup_free_ char *word = NULL;
		struct stk_err ignored;
		int k;

		if (in->kind == DF_FROM)
			ref = in->args[0];
		else if (in->kind == DF_COPY || in->kind == DF_ADD)
			ref = df_flag_get(in, "from", NULL);
		for (f = 0; in->kind == DF_RUN && f < in->nflags; f++) {
			_cleanup_free_ char *from = build_mount_from(&in->flags[f]);
			int m = from ? stage_index(df, from, i) : -1;

			if (m >= 0)
				refs[m] = true;
		}
		if (!ref || df_word(ref, df->escape, lookup, (void *)meta, &word, &ignored) < 0)
			continue;
		k = stage_index(df, word, i);
		if (k >= 0)
			refs[k] = true;
	}
}

/* A stage is needed if the target is it, or a needed stage starts FROM it or copies
 * --from it. Unneeded stages are not built, as BuildKit does. */
static void mark_needed(const struct dockerfile *df, size_t i, bool *need, const struct vars *meta)
{
	_cleanup_free_ bool *refs = xcalloc(df->nstages, sizeof(bool));
	size_t k;

	if (need[i])
		return;
	need[i] = true;
	stage_refs(df, i, meta, refs);
	for (k = 0; k < i; k++)
		if (refs[k])
			mark_needed(df, k, need, meta);
}

/* ---- FROM ---- */

static const char *host_arch(void)
{
	static struct utsname u;

	uname(&u);
	if (!strcmp(u.machine, "x86_64"))
		return "amd64";
	if (!strcmp(u.machine, "aarch64"))
		return "arm64";
	return u.machine;
}

static void scratch_state(struct bstate *st)
{
	memset(st, 0, sizeof(*st));
	st->config = json_object_new_object();
	json_object_object_add(st->config, "architecture", json_object_new_string(host_arch()));
	json_object_object_add(st->config, "os", json_object_new_string("linux"));
	json_object_object_add(st->config, "config", json_object_new_object());
	bstate_history(st, "FROM scratch", true);
	json_object_object_del(st->config, "history");
	build_key("", "FROM scratch", st->key);
}

/* An image from the store, pulled first if it is not there. */
static int build_image_state(struct build *b, const char *ref, struct bstate *st,
			     struct stk_err *err)
{
	struct image_config ic;
	struct image_pull_opts defaults = {0};
	struct stk_err miss;

	if (b->o->pull_always || image_store_get(b->store, ref, &ic, &miss) < 0) {
		const char *refs[] = {ref};

		build_say(b, " ---> pulling %s\n", ref);
		if (image_pull_all(b->store, refs, 1, b->o->pull ? b->o->pull : &defaults, NULL,
				   NULL, err) < 0 ||
		    image_store_get(b->store, ref, &ic, err) < 0)
			return stk_err_wrap(err, "FROM %s", ref);
	}
	memset(st, 0, sizeof(*st));
	st->config = json_tokener_parse(ic.config_json);
	if (!st->config ||
	    image_store_layers(b->store, ic.manifest_digest, &st->layers, &st->nlayers, err) < 0) {
		if (!st->config)
			stk_err_set(err, EBADMSG, "image %s: config is not JSON", ref);
		image_config_free(&ic);
		bstate_release(st);
		return -1;
	}
	build_key("", ic.manifest_digest, st->key);
	image_config_free(&ic);
	return 0;
}

/* ---- steps ---- */

struct stage_run {
	struct build *b;
	struct bstate st;
	struct vars vars;
	const struct vars *meta;
	struct bstate *done; /* final states of earlier stages (NULL config: not built) */
	size_t index; /* of this stage */
	bool cmd_set;
};

static int expand(struct stage_run *r, const char *s, char **out, struct stk_err *err)
{
	r->vars.st = &r->st;
	return df_word(s, r->b->df.escape, lookup, &r->vars, out, err);
}

static struct json_object *strv_json(char **v, size_t n)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* Shell form runs through SHELL (default /bin/sh -c); exec form as written. */
static struct json_object *command_json(struct stage_run *r, const struct df_instr *in,
					size_t first)
{
	struct json_object *shell, *a = NULL;
	size_t i;

	if (in->json)
		return strv_json(in->args + first, in->nargs - first);
	if (json_object_object_get_ex(bstate_cfg(&r->st), "Shell", &shell) &&
	    json_object_is_type(shell, json_type_array) && json_object_array_length(shell))
		json_object_deep_copy(shell, &a, NULL);
	else {
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string("/bin/sh"));
		json_object_array_add(a, json_object_new_string("-c"));
	}
	for (i = first; i < in->nargs; i++)
		json_object_array_add(a, json_object_new_string(in->args[i]));
	return a;
}

static void env_set(struct bstate *st, const char *k, const char *v)
{
	struct json_object *cfg = bstate_cfg(st), *env, *nenv = json_object_new_array();
	size_t i, n = strlen(k);

	if (json_object_object_get_ex(cfg, "Env", &env) &&
	    json_object_is_type(env, json_type_array))
		for (i = 0; i < json_object_array_length(env); i++) {
			const char *kv = json_object_get_string(json_object_array_get_idx(env, i));

			if (kv && !(strncmp(kv, k, n) == 0 && kv[n] == '='))
				json_object_array_add(nenv, json_object_new_string(kv));
		}
	_cleanup_free_ char *kv = xasprintf("%s=%s", k, v);
	json_object_array_add(nenv, json_object_new_string(kv));
	json_object_object_add(cfg, "Env", nenv);
}

static struct json_object *cfg_obj(struct stage_run *r, const char *k)
{
	struct json_object *cfg = bstate_cfg(&r->st), *v;

	if (json_object_object_get_ex(cfg, k, &v) && json_object_is_type(v, json_type_object))
		return v;
	v = json_object_new_object();
	json_object_object_add(cfg, k, v);
	return v;
}

static int do_pairs(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	size_t i;

	for (i = 0; i + 1 < in->nargs; i += 2) {
		_cleanup_free_ char *k = NULL, *v = NULL;

		if (expand(r, in->args[i], &k, err) < 0 || expand(r, in->args[i + 1], &v, err) < 0)
			return -1;
		if (in->kind == DF_ENV)
			env_set(&r->st, k, v);
		else
			json_object_object_add(cfg_obj(r, "Labels"), k, json_object_new_string(v));
	}
	return 0;
}

static int do_words_set(struct stage_run *r, const struct df_instr *in, const char *key,
			struct stk_err *err)
{
	size_t i;

	for (i = 0; i < in->nargs; i++) {
		_cleanup_free_ char *w = NULL;

		if (in->json)
			w = xstrdup(in->args[i]);
		else if (expand(r, in->args[i], &w, err) < 0)
			return -1;
		if (in->kind == DF_EXPOSE && !strchr(w, '/')) {
			char *p = xasprintf("%s/tcp", w);

			free(w);
			w = p;
		}
		json_object_object_add(cfg_obj(r, key), w, json_object_new_object());
	}
	return 0;
}

static int set_string(struct stage_run *r, const struct df_instr *in, const char *key,
		      struct stk_err *err)
{
	_cleanup_free_ char *v = NULL;

	if (expand(r, in->args[0], &v, err) < 0)
		return -1;
	if (in->kind == DF_WORKDIR && v[0] != '/') {
		struct json_object *cur;
		const char *base = json_object_object_get_ex(bstate_cfg(&r->st), "WorkingDir", &cur)
					   ? json_object_get_string(cur)
					   : "/";
		char *joined = xasprintf("%s/%s", base && *base ? base : "", v);

		free(v);
		v = joined;
	}
	json_object_object_add(in->kind == DF_MAINTAINER ? r->st.config : bstate_cfg(&r->st), key,
			       json_object_new_string(v));
	return 0;
}

/* Go durations as HEALTHCHECK takes them: "30s", "1m30s", "500ms" -> nanoseconds. */
static int duration_ns(const char *s, int64_t *out)
{
	double total = 0;

	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v = strtod(s, &end);

		if (end == s)
			return -1;
		s = end;
		if (!strncmp(s, "ms", 2)) {
			total += v * 1e6;
			s += 2;
		} else if (!strncmp(s, "us", 2)) {
			total += v * 1e3;
			s += 2;
		} else if (!strncmp(s, "ns", 2)) {
			total += v;
			s += 2;
		} else if (*s == 'h') {
			total += v * 3600e9;
			s++;
		} else if (*s == 'm') {
			total += v * 60e9;
			s++;
		} else if (*s == 's') {
			total += v * 1e9;
			s++;
		} else
			return -1;
	}
	*out = (int64_t)total;
	return 0;
}

static int do_healthcheck(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	static const struct {
		const char *flag, *key;
	} durs[] = {{"interval", "Interval"},
		    {"timeout", "Timeout"},
		    {"start-period", "StartPeriod"},
		    {"start-interval", "StartInterval"}};
	struct json_object *hc = json_object_new_object(), *test = json_object_new_array();
	const char *v;
	size_t i;

	json_object_object_add(bstate_cfg(&r->st), "Healthcheck", hc);
	json_object_object_add(hc, "Test", test);
	if (!strcmp(in->args[0], "NONE")) {
		json_object_array_add(test, json_object_new_string("NONE"));
		return 0;
	}
	json_object_array_add(test, json_object_new_string(in->json ? "CMD" : "CMD-SHELL"));
	for (i = 1; i < in->nargs; i++)
		json_object_array_add(test, json_object_new_string(in->args[i]));
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		int64_t ns;

		if (!(v = df_flag_get(in, durs[i].flag, NULL)))
			continue;
		if (duration_ns(v, &ns) < 0)
			return stk_err_set(err, EINVAL, "HEALTHCHECK --%s: invalid duration \"%s\"",
					   durs[i].flag, v);
		json_object_object_add(hc, durs[i].key, json_object_new_int64(ns));
	}
	if ((v = df_flag_get(in, "retries", NULL)))
		json_object_object_add(hc, "Retries", json_object_new_int(atoi(v)));
	return 0;
}

/* Metadata-only instructions: the config changes, no layer. */
static int do_meta(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	switch (in->kind) {
	case DF_ENV:
	case DF_LABEL:
		return do_pairs(r, in, err);
	case DF_EXPOSE:
		return do_words_set(r, in, "ExposedPorts", err);
	case DF_VOLUME:
		return do_words_set(r, in, "Volumes", err);
	case DF_USER:
		return set_string(r, in, "User", err);
	case DF_WORKDIR:
		return set_string(r, in, "WorkingDir", err);
	case DF_STOPSIGNAL:
		return set_string(r, in, "StopSignal", err);
	case DF_MAINTAINER:
		return set_string(r, in, "author", err);
	case DF_CMD:
		json_object_object_add(bstate_cfg(&r->st), "Cmd", command_json(r, in, 0));
		r->cmd_set = true;
		return 0;
	case DF_ENTRYPOINT:
		json_object_object_add(bstate_cfg(&r->st), "Entrypoint", command_json(r, in, 0));
		/* an ENTRYPOINT drops the base image's CMD, unless this stage set one */
		if (!r->cmd_set)
			json_object_object_del(bstate_cfg(&r->st), "Cmd");
		return 0;
	case DF_SHELL:
		json_object_object_add(bstate_cfg(&r->st), "Shell", strv_json(in->args, in->nargs));
		return 0;
	case DF_HEALTHCHECK:
		return do_healthcheck(r, in, err);
	case DF_ONBUILD: {
		struct json_object *cfg = bstate_cfg(&r->st), *ob;

		if (!json_object_object_get_ex(cfg, "OnBuild", &ob) ||
		    !json_object_is_type(ob, json_type_array)) {
			ob = json_object_new_array();
			json_object_object_add(cfg, "OnBuild", ob);
		}
		json_object_array_add(ob, json_object_new_string(in->args[0]));
		return 0;
	}
	default:
		return 0;
	}
}

/* ---- RUN ---- */

/* `RUN <<EOF` alone runs the heredoc as the script; otherwise the heredocs follow the
 * command line, for the shell to read as its own here-documents. */
static char *run_script(const struct df_instr *in)
{
	struct strbuf sb;
	const char *s = in->args[0];
	size_t i;
	bool only_markers = true;

	for (i = 0; s[i]; i++)
		if (s[i] != ' ' && s[i] != '\t') {
			size_t n = strcspn(s + i, " \t");

			if (n < 2 || s[i] != '<' || s[i + 1] != '<')
				only_markers = false;
			i += n - 1;
		}
	strbuf_init(&sb);
	if (only_markers && in->nheredocs == 1) {
		strbuf_adds(&sb, in->heredocs[0].content);
		return strbuf_take(&sb);
	}
	strbuf_adds(&sb, s);
	strbuf_addc(&sb, '\n');
	for (i = 0; i < in->nheredocs; i++)
		strbuf_addf(&sb, "%s%s\n", in->heredocs[i].content, in->heredocs[i].name);
	return strbuf_take(&sb);
}

static char **json_strv(struct json_object *a)
{
	size_t i, n = json_object_array_length(a);
	char **v = xcalloc(n + 1, sizeof(*v));

	for (i = 0; i < n; i++)
		v[i] = xstrdup(json_object_get_string(json_object_array_get_idx(a, i)));
	return v;
}

/* The config's Env, then the stage's ARGs that ENV does not shadow. */
static struct json_object *run_env(struct stage_run *r)
{
	struct json_object *env, *out = NULL;
	size_t i;

	if (json_object_object_get_ex(bstate_cfg(&r->st), "Env", &env) &&
	    json_object_is_type(env, json_type_array))
		json_object_deep_copy(env, &out, NULL);
	else
		out = json_object_new_array();
	for (i = 0; i < r->vars.n; i++) {
		_cleanup_free_ char *kv = NULL;

		if (!r->vars.v[i].value || env_get(&r->st, r->vars.v[i].name))
			continue;
		kv = xasprintf("%s=%s", r->vars.v[i].name, r->vars.v[i].value);
		json_object_array_add(out, json_object_new_string(kv));
	}
	return out;
}

/* A hit replaces the stage's state with the cached one. */
static bool cache_take(struct stage_run *r, const char *key)
{
	struct bstate hit;

	if (build_cache_get(r->b, key, &hit) != 1)
		return false;
	bstate_release(&r->st);
	r->st = hit;
	build_say(r->b, " ---> Using cache\n");
	return true;
}

static int step_fail(struct build *b, const struct df_instr *in, struct stk_err *err)
{
	return stk_err_wrap(err, "step %u/%u: %s", b->step, b->nsteps, in->original);
}

static int from_root(struct stage_run *r, const char *from, char **mounted, struct stk_err *err);

static int from_root_cb(void *arg, const char *from, char **mounted, struct stk_err *err)
{
	return from_root(arg, from, mounted, err);
}

static int do_run(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	struct build *b = r->b;
	_cleanup_json_ struct json_object *argv = NULL, *env = NULL,
					  *keyo = json_object_new_array();
	_cleanup_free_ char *tail = NULL, **av = NULL, **ev = NULL;
	const char *net = df_flag_get(in, "network", NULL) ? df_flag_get(in, "network", NULL)
							   : b->o->network;
	bool none = net && !strcmp(net, "none");
	struct run_mounts mounts = {0};
	char key[72];
	int code = 0, rc;
	size_t i;

	if (net && strcmp(net, "none") && strcmp(net, "host") && strcmp(net, "default"))
		return stk_err_set(err, EINVAL,
				   "RUN --network=%s: only default, host and none are supported",
				   net);
	if (in->nheredocs) {
		_cleanup_free_ char *script = run_script(in);
		struct df_instr shell = {.args = (char *[]){script, NULL}, .nargs = 1};

		argv = command_json(r, &shell, 0);
	} else {
		argv = command_json(r, in, 0);
	}
	env = run_env(r);
	if (build_run_mounts(b, in, from_root_cb, r, &mounts, keyo, err) < 0) {
		build_run_mounts_release(&mounts);
		return step_fail(b, in, err);
	}
	json_object_array_add(keyo, json_object_new_string("RUN"));
	json_object_array_add(keyo, json_object_get(argv));
	json_object_array_add(keyo, json_object_get(env));
	json_object_array_add(keyo, json_object_new_string(none ? "none" : "host"));
	build_key(r->st.key, json_object_to_json_string_ext(keyo, JSON_C_TO_STRING_PLAIN), key);
	if (cache_take(r, key)) {
		build_run_mounts_release(&mounts);
		return 0;
	}
	av = json_strv(argv);
	if (mounts.ssh_sock) { /* after the key, which has the mount's target already */
		_cleanup_free_ char *sock = xasprintf("SSH_AUTH_SOCK=%s", mounts.ssh_sock);

		json_object_array_add(env, json_object_new_string(sock));
	}
	ev = json_strv(env);
	size_t nlayers = r->st.nlayers;

	rc = build_run(b, &r->st, av, ev, none, &mounts, &tail, &code, err);
	build_run_mounts_release(&mounts);
	for (i = 0; av[i]; i++)
		free(av[i]);
	for (i = 0; ev[i]; i++)
		free(ev[i]);
	if (code)
		return stk_err_set(err, 0, "step %u/%u: %s: exit %d%s%s", b->step, b->nsteps,
				   in->original, code, *tail ? "\n" : "", tail);
	if (rc < 0)
		return step_fail(b, in, err);
	bstate_history(&r->st, in->original, r->st.nlayers == nlayers);
	memcpy(r->st.key, key, sizeof(key));
	build_cache_put(b, &r->st);
	return 0;
}

/* ---- COPY / ADD ---- */

/* A read-only view of a state's layers (COPY --from). */
static int mount_state(struct build *b, const struct bstate *st, char **out, struct stk_err *err)
{
	_cleanup_free_ char *dir = build_scratch_path(b, "from");
	char **layers = bstate_layer_paths(b->store, st, err);
	struct strbuf opts;
	size_t i;
	int rc = 0;

	if (!layers)
		return -1;
	if (stk_mkdir_p(dir, 0755, err) < 0 || private_mounts(err) < 0) {
		df_strv_free(layers, st->nlayers);
		return -1;
	}
	strbuf_init(&opts);
	strbuf_adds(&opts, "lowerdir=");
	for (i = 0; layers[i]; i++)
		strbuf_addf(&opts, "%s%s", i ? ":" : "", layers[i]);
	if (i == 1)
		rc = mount(layers[0], dir, NULL, MS_BIND | MS_RDONLY, NULL);
	else if (i > 1)
		rc = mount("overlay", dir, "overlay", MS_RDONLY, opts.buf);
	strbuf_free(&opts);
	df_strv_free(layers, st->nlayers);
	if (rc < 0)
		return stk_err_sys(err, "mount the layers of the source");
	*out = steal(&dir);
	return 0;
}

/* A name from /etc/passwd or /etc/group of the image, looked up through its layers. */
static int id_from_file(struct build *b, const struct bstate *st, const char *file,
			const char *name, int *out)
{
	_cleanup_free_ char *text = build_image_read(b, st, file);
	char *line, *save = NULL;

	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f1 = strchr(line, ':'), *f2 = f1 ? strchr(f1 + 1, ':') : NULL;

		if (f2 && (size_t)(f1 - line) == strlen(name) &&
		    !strncmp(line, name, strlen(name))) {
			*out = atoi(f2 + 1);
			return 0;
		}
	}
	return -1;
}

static int parse_chown(struct build *b, const struct bstate *st, const char *spec, int *uid,
		       int *gid, struct stk_err *err)
{
	_cleanup_free_ char *u = xstrdup(spec);
	char *g = strchr(u, ':'), *end;

	if (g)
		*g++ = 0;
	*uid = (int)strtol(u, &end, 10);
	if ((*end || !*u) && id_from_file(b, st, "etc/passwd", u, uid) < 0)
		return stk_err_set(err, ENOENT,
				   "--chown=%s: no user \"%s\" in the image's /etc/passwd", spec,
				   u);
	if (!g) {
		*gid = *uid;
		return 0;
	}
	*gid = (int)strtol(g, &end, 10);
	if ((*end || !*g) && id_from_file(b, st, "etc/group", g, gid) < 0)
		return stk_err_set(err, ENOENT,
				   "--chown=%s: no group \"%s\" in the image's /etc/group", spec,
				   g);
	return 0;
}

/* Heredoc sources (COPY <<EOF /dst) become files of a scratch directory. */
static int heredoc_files(struct stage_run *r, const struct df_instr *in, char **dir,
			 struct stk_err *err)
{
	size_t i;

	*dir = build_scratch_path(r->b, "heredocs");
	if (stk_mkdir_p(*dir, 0755, err) < 0)
		return -1;
	for (i = 0; i < in->nheredocs; i++) {
		_cleanup_free_ char *body = NULL,
				    *p = xasprintf("%s/%s", *dir, in->heredocs[i].name);
		_cleanup_close_ int fd = -1;

		if (in->heredocs[i].expand ? expand(r, in->heredocs[i].content, &body, err) < 0
					   : !(body = xstrdup(in->heredocs[i].content)))
			return -1;
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
			return stk_err_sys(err, "heredoc %s", in->heredocs[i].name);
	}
	return 0;
}

struct copy_job {
	char **srcs;
	size_t nsrcs;
	struct copy_src src;
	struct copy_opts co;
	char *dest, *root_owned, *mounted;
	size_t nurls; /* sources downloaded (ADD <url>) */
};

static void copy_job_release(struct copy_job *j)
{
	if (j->mounted) {
		umount2(j->mounted, MNT_DETACH);
		rmdir(j->mounted);
	}
	df_strv_free(j->srcs, j->nsrcs);
	df_strv_free(j->src.exclude, j->src.nexclude);
	free(j->dest);
	free(j->root_owned);
	free(j->mounted);
}

/* A directory given as an additional context, bind-mounted read-only. */
static int mount_dir(struct build *b, const char *src, char **out, struct stk_err *err)
{
	_cleanup_free_ char *dir = build_scratch_path(b, "context");

	if (stk_mkdir_p(dir, 0755, err) < 0 || private_mounts(err) < 0)
		return -1;
	if (mount(src, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return stk_err_sys(err, "additional context %s", src);
	if (mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		umount2(dir, MNT_DETACH);
		return stk_err_sys(err, "additional context %s: read-only", src);
	}
	*out = steal(&dir);
	return 0;
}

/* build.additional_contexts: the value for a name, NULL if none. */
static const char *named_context(const struct build *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->o->ncontexts; i++)
		if (!strcmp(b->o->contexts[i].key, name))
			return b->o->contexts[i].value;
	return NULL;
}

/* --from=context|stage|image: a read-only view of it, mounted at *mounted. */
static int from_root(struct stage_run *r, const char *from, char **mounted, struct stk_err *err)
{
	_cleanup_free_ char *word = NULL;
	struct bstate img = {0};
	const char *ctx;
	int k, rc;

	if (expand(r, from, &word, err) < 0)
		return -1;
	ctx = named_context(r->b, word);
	if (ctx && !str_has_prefix(ctx, "docker-image://"))
		return mount_dir(r->b, ctx, mounted, err);
	if (ctx) {
		free(word);
		word = xstrdup(ctx + strlen("docker-image://"));
	}
	k = ctx ? -1 : stage_index(&r->b->df, word, r->index);
	if (k >= 0 && r->done[k].config)
		return mount_state(r->b, &r->done[k], mounted, err);
	rc = build_image_state(r->b, word, &img, err);
	if (rc == 0)
		rc = mount_state(r->b, &img, mounted, err);
	bstate_release(&img);
	return rc;
}

static int copy_source_root(struct stage_run *r, const struct df_instr *in, struct copy_job *j,
			    struct stk_err *err)
{
	const char *from = df_flag_get(in, "from", NULL);

	if (j->nurls) {
		if (j->nurls != j->nsrcs)
			return stk_err_set(
				err, ENOTSUP,
				"ADD: URL and context sources in one instruction are not supported");
		j->co.add = false; /* a downloaded archive is not extracted */
		return 0;
	}
	if (in->nheredocs) {
		if (heredoc_files(r, in, &j->root_owned, err) < 0)
			return -1;
		j->src.root = j->root_owned;
		return 0;
	}
	if (!from) {
		j->src.root = r->b->context;
		j->src.context = true;
		return 0;
	}
	if (from_root(r, from, &j->mounted, err) < 0)
		return -1;
	j->src.root = j->mounted;
	return 0;
}

/* ADD <url>: downloaded into a scratch directory that becomes the source root. */
static int add_url(struct stage_run *r, const struct df_instr *in, struct copy_job *j,
		   struct stk_err *err)
{
	char *url = j->srcs[j->nsrcs - 1], *name = NULL;

	if (in->kind != DF_ADD)
		return stk_err_set(err, EINVAL, "COPY %s: a URL source needs ADD", url);
	if (df_flag_get(in, "from", NULL))
		return stk_err_set(err, EINVAL, "ADD %s: --from cannot be used with a URL", url);
	if (!j->root_owned)
		j->root_owned = build_scratch_path(r->b, "download");
	if (build_fetch_url(r->b, j->root_owned, url, &name, err) < 0) {
		free(name);
		return -1;
	}
	free(url);
	j->srcs[j->nsrcs - 1] = name;
	j->src.root = j->root_owned;
	j->nurls++;
	return 0;
}

static int copy_prepare(struct stage_run *r, const struct df_instr *in, struct copy_job *j,
			struct stk_err *err)
{
	const char *chown = df_flag_get(in, "chown", NULL), *chmod = df_flag_get(in, "chmod", NULL);
	struct json_object *wd;
	char *resolved;
	_cleanup_free_ char *dest = NULL;
	size_t i;

	if (df_flag_get(in, "parents", NULL))
		return stk_err_set(err, ENOTSUP, "%s --parents is not supported",
				   df_kind_name(in->kind));
	for (i = 0; i < in->nflags; i++) {
		char *pat = NULL;

		if (strcmp(in->flags[i].name, "exclude"))
			continue;
		if (!in->flags[i].value || expand(r, in->flags[i].value, &pat, err) < 0)
			return in->flags[i].value
				       ? -1
				       : stk_err_set(err, EINVAL, "--exclude needs a pattern");
		j->src.exclude = xrealloc(j->src.exclude, (j->src.nexclude + 1) * sizeof(char *));
		j->src.exclude[j->src.nexclude++] = build_clean_path(pat);
		free(pat);
	}
	j->co = (struct copy_opts){.uid = -1, .gid = -1, .mode = -1, .add = in->kind == DF_ADD};
	j->srcs = xcalloc(in->nargs, sizeof(char *));
	for (i = 0; i + 1 < in->nargs; i++) {
		const char *a = in->args[i];

		if (in->nheredocs && a[0] == '<' && a[1] == '<') {
			a += 2 + (a[2] == '-');
			j->srcs[j->nsrcs++] =
				xstrndup(a + (*a == '\'' || *a == '"'),
					 strcspn(a + (*a == '\'' || *a == '"'), "'\""));
		} else if (in->nheredocs) {
			return stk_err_set(
				err, ENOTSUP,
				"%s: heredoc and context sources in one instruction are not supported",
				df_kind_name(in->kind));
		} else if (in->json) {
			j->srcs[j->nsrcs++] = xstrdup(a);
		} else if (expand(r, a, &j->srcs[j->nsrcs++], err) < 0) {
			return -1;
		}
		if (build_is_url(j->srcs[j->nsrcs - 1]) && add_url(r, in, j, err) < 0)
			return -1;
	}
	if (in->json)
		dest = xstrdup(in->args[in->nargs - 1]);
	else if (expand(r, in->args[in->nargs - 1], &dest, err) < 0)
		return -1;
	j->co.dest_dir = str_has_suffix(dest, "/") || !strcmp(dest, ".");
	if (dest[0] == '/')
		j->dest = steal(&dest);
	else
		j->dest = xasprintf("%s/%s",
				    json_object_object_get_ex(bstate_cfg(&r->st), "WorkingDir", &wd)
					    ? json_object_get_string(wd)
					    : "",
				    dest);
	/* as Docker: through the image's symlinks, and into a directory the image has */
	resolved = build_image_resolve(r->b, &r->st, j->dest);
	free(j->dest);
	j->dest = resolved;
	j->co.dest = j->dest;
	if (!j->co.dest_dir && build_image_has_dir(r->b, &r->st, j->dest))
		j->co.dest_dir = true;
	if (chown && parse_chown(r->b, &r->st, chown, &j->co.uid, &j->co.gid, err) < 0)
		return -1;
	if (chmod) {
		char *end;

		j->co.mode = (int)strtol(chmod, &end, 8);
		if (*end || !*chmod || j->co.mode < 0 || j->co.mode > 07777)
			return stk_err_set(err, EINVAL, "--chmod=%s: not an octal mode", chmod);
	}
	return copy_source_root(r, in, j, err);
}

static int do_copy(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	struct copy_job j = {0};
	_cleanup_json_ struct json_object *keyo = json_object_new_array();
	char content[72], key[72];
	int rc = -1;

	if (copy_prepare(r, in, &j, err) < 0 ||
	    build_hash_sources(r->b, &j.src, j.srcs, j.nsrcs, content, err) < 0)
		goto out;
	json_object_array_add(keyo, json_object_new_string(in->original));
	json_object_array_add(keyo, strv_json(j.srcs, j.nsrcs));
	json_object_array_add(keyo, json_object_new_string(j.dest));
	json_object_array_add(keyo, json_object_new_string(content));
	json_object_array_add(keyo, json_object_new_int(j.co.uid * 65536 + j.co.gid));
	build_key(r->st.key, json_object_to_json_string_ext(keyo, JSON_C_TO_STRING_PLAIN), key);
	if (cache_take(r, key)) {
		rc = 0;
		goto out;
	}
	if (build_copy(r->b, &r->st, &j.src, j.srcs, j.nsrcs, &j.co, err) < 0)
		goto out;
	bstate_history(&r->st, in->original, false);
	memcpy(r->st.key, key, sizeof(key));
	build_cache_put(r->b, &r->st);
	rc = 0;
out:
	copy_job_release(&j);
	return rc < 0 ? step_fail(r->b, in, err) : 0;
}

/* ---- stages ---- */

static int do_meta_step(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	char key[72];

	if (in->kind == DF_ARG)
		return declare_args(r->b, in, &r->vars, r->meta, err);
	if (do_meta(r, in, err) < 0)
		return step_fail(r->b, in, err);
	/* the key follows the config the step produced, so expansions are part of it */
	build_key(r->st.key,
		  json_object_to_json_string_ext(bstate_cfg(&r->st), JSON_C_TO_STRING_PLAIN), key);
	{
		struct bstate hit;

		if (build_cache_get(r->b, key, &hit) == 1) {
			bstate_release(&r->st);
			r->st = hit;
			return 0;
		}
	}
	bstate_history(&r->st, in->original, true);
	memcpy(r->st.key, key, sizeof(key));
	build_cache_put(r->b, &r->st);
	return 0;
}

static int stage_from(struct stage_run *r, const struct df_stage *sg, struct stk_err *err)
{
	_cleanup_free_ char *base = NULL;
	const char *ctx;
	int k;

	if (df_word(sg->base, r->b->df.escape, lookup, (void *)r->meta, &base, err) < 0)
		return stk_err_wrap(err, "%s:%u: FROM", r->b->df.path, sg->line);
	if (!*base)
		return stk_err_set(err, EINVAL, "%s:%u: FROM: base name (%s) should not be blank",
				   r->b->df.path, sg->line, sg->base);
	ctx = named_context(r->b, base);
	if (ctx && !str_has_prefix(ctx, "docker-image://"))
		return stk_err_set(err, ENOTSUP,
				   "FROM %s: a directory context as a base is not supported", base);
	if (ctx)
		return build_image_state(r->b, ctx + strlen("docker-image://"), &r->st, err);
	k = stage_index(&r->b->df, base, r->index);
	if (k >= 0) {
		bstate_copy(&r->st, &r->done[k]);
		return 0;
	}
	if (!strcasecmp(base, "scratch")) {
		scratch_state(&r->st);
		return 0;
	}
	return build_image_state(r->b, base, &r->st, err);
}

static int do_step(struct stage_run *r, const struct df_instr *in, struct stk_err *err)
{
	if (in->kind == DF_RUN)
		return do_run(r, in, err);
	if (in->kind == DF_COPY || in->kind == DF_ADD)
		return do_copy(r, in, err);
	return do_meta_step(r, in, err);
}

/* The base image's ONBUILD triggers run first, in order, and are not inherited. */
static int run_triggers(struct stage_run *r, const struct df_instr *from, struct stk_err *err)
{
	struct json_object *cfg = bstate_cfg(&r->st), *ob;
	_cleanup_json_ struct json_object *triggers = NULL;
	size_t i, n;
	int rc = 0;

	if (!json_object_object_get_ex(cfg, "OnBuild", &ob) ||
	    !json_object_is_type(ob, json_type_array) || !(n = json_object_array_length(ob)))
		return 0;
	triggers = json_object_get(ob);
	json_object_object_del(cfg, "OnBuild");
	build_say(r->b, "# Executing %zu build trigger%s\n", n, n > 1 ? "s" : "");
	for (i = 0; rc == 0 && i < n; i++) {
		_cleanup_free_ char *text =
			xasprintf("FROM scratch\n%s\n",
				  json_object_get_string(json_object_array_get_idx(triggers, i)));
		struct dockerfile df;

		if (df_parse("ONBUILD trigger", text, strlen(text), &df, err) < 0)
			return step_fail(r->b, from, err);
		if (df.stages[0].n != 2)
			rc = stk_err_set(err, EINVAL,
					 "ONBUILD trigger \"%s\" is not one instruction",
					 json_object_get_string(
						 json_object_array_get_idx(triggers, i)));
		else {
			build_say(r->b, " ---> %s\n", df.stages[0].v[1].original);
			rc = do_step(r, &df.stages[0].v[1], err); /* its message names the step */
		}
		df_free(&df);
	}
	return rc;
}

/* In a build of several stages, a failure names its stage (stages run side by side). */
static int stage_fail(struct build *b, size_t index, struct stk_err *err)
{
	const char *name = b->df.stages[index].name;

	if (b->df.nstages < 2)
		return -1;
	return name ? stk_err_wrap(err, "stage %s", name) : stk_err_wrap(err, "stage %zu", index);
}

static int run_stage(struct build *b, size_t index, const struct vars *meta, struct bstate *done,
		     struct stk_err *err)
{
	const struct df_stage *sg = &b->df.stages[index];
	struct stage_run r = {.b = b, .meta = meta, .done = done, .index = index};
	size_t i;
	int rc = 0;

	b->step++;
	build_say(b, "Step %u/%u : %s\n", b->step, b->nsteps, sg->v[0].original);
	if (stage_from(&r, sg, err) < 0) {
		step_fail(b, &sg->v[0], err);
		return stage_fail(b, index, err);
	}
	rc = run_triggers(&r, &sg->v[0], err);
	for (i = 1; rc == 0 && i < sg->n; i++) {
		const struct df_instr *in = &sg->v[i];

		b->step++;
		build_say(b, "Step %u/%u : %s\n", b->step, b->nsteps, in->original);
		rc = build_interrupted(b) ? stk_err_set(err, EINTR, "step %u/%u: %s: interrupted",
							b->step, b->nsteps, in->original)
					  : do_step(&r, in, err);
	}
	vars_free(&r.vars);
	if (rc < 0) {
		bstate_release(&r.st);
		return stage_fail(b, index, err);
	}
	done[index] = r.st;
	return 0;
}

/* ---- the build ---- */

static int load_dockerfile(struct build *b, struct stk_err *err)
{
	const char *rel = b->o->dockerfile ? b->o->dockerfile : "Dockerfile";
	_cleanup_free_ char *path = NULL, *text = NULL;
	size_t len;

	if (b->o->dockerfile_inline)
		return df_parse("Dockerfile (inline)", b->o->dockerfile_inline,
				strlen(b->o->dockerfile_inline), &b->df, err);
	path = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", b->context, rel);
	text = str_read_file(path, &len);
	if (!text)
		return stk_err_sys(err, "read Dockerfile %s", path);
	return df_parse(rel, text, len, &b->df, err);
}

static int meta_args(struct build *b, struct vars *meta, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < b->df.nmeta_args; i++)
		if (declare_args(b, &b->df.meta_args[i], meta, NULL, err) < 0)
			return stk_err_wrap(err, "%s:%u", b->df.path, b->df.meta_args[i].line);
	return 0;
}

static int target_index(struct build *b, size_t *out, struct stk_err *err)
{
	size_t i;

	*out = b->df.nstages - 1;
	if (!b->o->target)
		return 0;
	for (i = 0; i < b->df.nstages; i++)
		if (b->df.stages[i].name && !strcasecmp(b->df.stages[i].name, b->o->target)) {
			*out = i;
			return 0;
		}
	return stk_err_set(err, ENOENT, "target stage \"%s\" could not be found", b->o->target);
}

static int commit(struct build *b, struct bstate *st, char **id, struct stk_err *err)
{
	_cleanup_free_ char *name = NULL;
	struct json_object *h;
	size_t i;

	for (i = 0; i < b->o->nlabels; i++) {
		struct json_object *cfg = bstate_cfg(st), *labels;

		if (!json_object_object_get_ex(cfg, "Labels", &labels) ||
		    !json_object_is_type(labels, json_type_object)) {
			labels = json_object_new_object();
			json_object_object_add(cfg, "Labels", labels);
		}
		json_object_object_add(labels, b->o->labels[i].key,
				       json_object_new_string(b->o->labels[i].value));
	}
	/* the image's time is its last step's, so a fully cached build gives the same ID */
	if (json_object_object_get_ex(st->config, "history", &h) && json_object_array_length(h)) {
		struct json_object *last = json_object_array_get_idx(h,
								     json_object_array_length(h) -
									     1),
				   *c;

		if (json_object_object_get_ex(last, "created", &c))
			json_object_object_add(st->config, "created", json_object_get(c));
	}
	if (b->o->ntags) {
		struct image_ref ref;

		if (image_ref_parse(b->o->tags[0], &ref, err) < 0)
			return stk_err_wrap(err, "tag %s", b->o->tags[0]);
		name = image_ref_canonical(&ref);
		image_ref_free(&ref);
	}
	if (image_store_commit(b->store,
			       json_object_to_json_string_ext(st->config, JSON_C_TO_STRING_PLAIN),
			       st->layers, st->nlayers, name, id, err) < 0)
		return -1;
	for (i = 1; i < b->o->ntags; i++)
		if (image_store_tag(b->store, *id, b->o->tags[i], err) < 0)
			return -1;
	return 0;
}

/* ---- stages in parallel ---- */

struct stage_sched {
	size_t n, target;
	const bool *need;
	bool *deps; /* deps[i * n + k]: stage i uses stage k */
	unsigned *first; /* the step number before stage i's first */
};

static bool stage_ready(const struct stage_sched *ss, const struct bstate *done, size_t i)
{
	size_t k;

	if (!ss->need[i] || done[i].config)
		return false;
	for (k = 0; k < i; k++)
		if (ss->deps[i * ss->n + k] && !done[k].config)
			return false;
	return true;
}

/* One stage in a child process, with scratch space of its own; its steps land in the
 * step cache, its error (if any) in errfile. It stops when the builder dies. */
static pid_t stage_child(struct build *b, const struct stage_sched *ss, size_t i,
			 const struct vars *meta, struct bstate *done, const char *errfile)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		struct stk_err err;
		char *work = xasprintf("%s/stage%zu", b->work, i);
		int rc;

		build_child_dies_with_parent(parent);
		stk_err_clear(&err);
		b->work = work;
		b->seq = 0;
		b->step = ss->first[i];
		rc = mkdir(work, 0700) < 0 ? stk_err_sys(&err, "create %s", work)
					   : run_stage(b, i, meta, done, &err);
		if (rc < 0) {
			_cleanup_close_ int fd =
				open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

			if (fd >= 0 && write(fd, err.msg, strlen(err.msg)) < 0)
				rc = -1;
		}
		_exit(rc == 0 ? 0 : err.errnum == EINTR || b->interrupted ? 2 : 1);
	}
	return pid;
}

/* The stage children running side by side. */
struct siblings {
	size_t n, left;
	pid_t *pids; /* 0 once reaped */
	int *pidfds;
	char **errfiles;
	bool stopping;
};

/* SIGTERM, which a stage's child takes as an interrupt: its RUN container is killed and
 * removed, and it exits. */
static void siblings_stop(struct siblings *sb)
{
	size_t j;

	sb->stopping = true;
	for (j = 0; j < sb->n; j++)
		if (sb->pids[j] > 0)
			kill(sb->pids[j], SIGTERM);
}

/* Reaps child j; the first failure becomes the build's error and stops the others. */
static void sibling_reap(struct build *b, struct siblings *sb, size_t j, int *rc,
			 struct stk_err *err)
{
	int status = 0;

	while (waitpid(sb->pids[j], &status, 0) < 0 && errno == EINTR)
		;
	sb->pids[j] = 0;
	sb->left--;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	if (*rc == 0) {
		_cleanup_free_ char *msg = str_read_file(sb->errfiles[j], NULL);
		bool intr = WIFEXITED(status) && WEXITSTATUS(status) == 2;

		*rc = stk_err_set(err, intr ? EINTR : EIO, "%s",
				  msg ? msg : "a stage's builder failed");
		if (intr)
			b->interrupted = true;
	}
	if (!sb->stopping)
		siblings_stop(sb);
}

/* Until every child has exited: the first to fail stops the others at once, and an
 * interrupt of the builder is passed on to them. */
static int siblings_wait(struct build *b, struct siblings *sb, struct stk_err *err)
{
	_cleanup_free_ struct pollfd *p = xcalloc(sb->n + 1, sizeof(*p));
	size_t j;
	int rc = 0;

	while (sb->left) {
		for (j = 0; j < sb->n; j++)
			p[j] = (struct pollfd){.fd = sb->pids[j] > 0 ? sb->pidfds[j] : -1,
					       .events = POLLIN};
		p[sb->n] = (struct pollfd){.fd = b->sigfd, .events = POLLIN};
		if (poll(p, sb->n + 1, -1) < 0 && errno != EINTR)
			return stk_err_sys(err, "poll");
		if (p[sb->n].revents & POLLIN && build_interrupted(b) && !sb->stopping)
			siblings_stop(sb);
		for (j = 0; j < sb->n; j++)
			if (sb->pids[j] > 0 && (p[j].revents || sb->pidfds[j] < 0))
				sibling_reap(b, sb, j, &rc, err);
	}
	return rc;
}

/* Builds the ready stages side by side (as many as there are CPUs): each in a child
 * process, then each again here, quietly and from the cache, for its final state. */
static int stages_side_by_side(struct build *b, const struct stage_sched *ss, const size_t *ready,
			       size_t nready, const struct vars *meta, struct bstate *done,
			       struct stk_err *err)
{
	struct siblings sb = {.n = nready,
			      .pids = xcalloc(nready, sizeof(pid_t)),
			      .pidfds = xcalloc(nready, sizeof(int)),
			      .errfiles = xcalloc(nready, sizeof(char *))};
	size_t j;
	int rc = 0, out = b->out;

	fflush(NULL);
	for (j = 0; j < nready; j++) {
		sb.errfiles[j] = build_scratch_path(b, "stage-error");
		sb.pids[j] = stage_child(b, ss, ready[j], meta, done, sb.errfiles[j]);
		sb.pidfds[j] = sb.pids[j] > 0 ? (int)syscall(SYS_pidfd_open, sb.pids[j], 0) : -1;
		if (sb.pids[j] > 0)
			sb.left++;
		else if (rc == 0)
			rc = stk_err_sys(err, "fork a stage's builder");
	}
	if (rc < 0)
		siblings_stop(&sb);
	if (siblings_wait(b, &sb, err) < 0 && rc == 0)
		rc = -1;
	b->out = -1;
	b->reuse_cache = true;
	for (j = 0; rc == 0 && j < nready; j++) {
		b->step = ss->first[ready[j]];
		rc = run_stage(b, ready[j], meta, done, err);
	}
	b->out = out;
	b->reuse_cache = false;
	for (j = 0; j < nready; j++) {
		free(sb.errfiles[j]);
		if (sb.pidfds[j] >= 0)
			close(sb.pidfds[j]);
	}
	free(sb.errfiles);
	free(sb.pidfds);
	free(sb.pids);
	return rc;
}

static int run_stages(struct build *b, size_t target, const bool *need, const struct vars *meta,
		      struct bstate *done, struct stk_err *err)
{
	size_t n = b->df.nstages, i, nready;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t max = cpus > 1 ? (size_t)cpus : 1;
	struct stage_sched ss = {.n = n,
				 .target = target,
				 .need = need,
				 .deps = xcalloc(n * n, sizeof(bool)),
				 .first = xcalloc(n, sizeof(unsigned))};
	_cleanup_free_ size_t *ready = xcalloc(n, sizeof(size_t));
	unsigned step = 0;
	int rc = 0;

	for (i = 0; i <= target; i++)
		if (need[i]) {
			ss.first[i] = step;
			step += (unsigned)b->df.stages[i].n;
			stage_refs(&b->df, i, meta, &ss.deps[i * n]);
		}
	while (rc == 0) {
		for (nready = 0, i = 0; i <= target && nready < max; i++)
			if (stage_ready(&ss, done, i))
				ready[nready++] = i;
		if (!nready)
			break;
		if (nready == 1) {
			b->step = ss.first[ready[0]];
			rc = run_stage(b, ready[0], meta, done, err);
		} else {
			rc = stages_side_by_side(b, &ss, ready, nready, meta, done, err);
		}
	}
	free(ss.deps);
	free(ss.first);
	return rc;
}

static int build_stages(struct build *b, char **id, struct stk_err *err)
{
	struct vars meta = {0};
	struct bstate *done = xcalloc(b->df.nstages, sizeof(*done));
	bool *need = xcalloc(b->df.nstages, sizeof(*need));
	size_t target, i;
	int rc;

	rc = meta_args(b, &meta, err);
	if (rc == 0)
		rc = target_index(b, &target, err);
	if (rc == 0) {
		mark_needed(&b->df, target, need, &meta);
		for (i = 0; i <= target; i++)
			if (need[i])
				b->nsteps += (unsigned)b->df.stages[i].n;
		rc = run_stages(b, target, need, &meta, done, err);
	}
	if (rc == 0)
		rc = commit(b, &done[target], id, err);
	for (i = 0; i < b->df.nstages; i++)
		if (done[i].config)
			bstate_release(&done[i]);
	free(done);
	free(need);
	vars_free(&meta);
	return rc;
}

int build_image(struct image_store *s, const struct build_opts *o, char **image_id,
		struct stk_err *err)
{
	struct build b = {.store = s, .o = o, .out = o->out_fd, .sigfd = -1, .lockfd = -1};
	struct stk_err ignored;
	sigset_t old;
	_cleanup_free_ char *id = NULL;
	size_t i;
	int rc = -1;

	if (o->network && strcmp(o->network, "default") && strcmp(o->network, "host") &&
	    strcmp(o->network, "none"))
		return stk_err_set(err, ENOTSUP,
				   "build network \"%s\": only default, host and none are supported",
				   o->network);
	b.context = realpath(o->context, NULL);
	if (!b.context)
		return stk_err_sys(err, "build context %s", o->context);
	if (build_work_create(o->root, &b.work, &b.lockfd, err) < 0) {
		free(b.context);
		return -1;
	}
	b.records = b.work;
	if (o->guard)
		build_guard_announce(o->guard, b.work);
	b.sigfd = signals_catch(&old);
	if (load_dockerfile(&b, err) == 0 && build_ignore_load(&b, err) == 0)
		rc = build_stages(&b, &id, err);
	if (rc == 0) {
		build_say(&b, "Successfully built %.12s\n", id + 7);
		for (i = 0; i < o->ntags; i++)
			build_say(&b, "Successfully tagged %s\n", o->tags[i]);
		if (image_id)
			*image_id = steal(&id);
	}
	/* a container that could not be removed keeps its record, and the directory, for
	 * the next sweep */
	if (build_records_clean(b.work, &ignored) == 0)
		rm_tree(b.work);
	close(b.lockfd);
	free(b.work);
	if (b.sigfd >= 0)
		close(b.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc < 0 && b.interrupted)
		err->errnum = EINTR;
	build_statcache_free(&b);
	free(b.context);
	for (i = 0; i < b.nignore; i++)
		free(b.ignore[i]);
	free(b.ignore);
	if (b.df.path)
		df_free(&b.df);
	return rc;
}

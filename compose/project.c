/* Loading a project: find its files, read its environment, load and merge every file,
 * name it, then normalise, validate and decode. The order follows Docker Compose. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose/compose.h"
#include "compose/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static const char *const compose_names[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
					    "docker-compose.yml", NULL};
static const char *const override_names[] = {"compose.override.yaml", "compose.override.yml",
					     "docker-compose.override.yaml",
					     "docker-compose.override.yml", NULL};

static const struct node_pos nopos = {NULL, 0, 0};

const char *load_ctx_lookup(void *ctx, const char *name)
{
	return envset_get(&((struct load_ctx *)ctx)->env, name);
}

char *compose_path_join(const char *base, const char *rel)
{
	struct strbuf sb = {0};
	char *parts = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", base, rel);
	char *save = NULL, *tok, **stack = NULL;
	size_t n = 0, i;

	/* clean lexically: "." and ".." and repeated slashes, as Go's filepath.Clean */
	for (tok = strtok_r(parts, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			if (n)
				n--;
			continue;
		}
		stack = xrealloc(stack, (n + 1) * sizeof(*stack));
		stack[n++] = tok;
	}
	for (i = 0; i < n; i++) {
		strbuf_addc(&sb, '/');
		strbuf_adds(&sb, stack[i]);
	}
	if (!n)
		strbuf_addc(&sb, '/');
	free(stack);
	free(parts);
	return strbuf_take(&sb);
}

char *compose_path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Each stage reports into dc; the loader stops after a stage that found errors. */
static bool failed(const struct load_ctx *lc)
{
	return lc->dc->errors > 0;
}

struct node *compose_load_file(struct load_ctx *lc, const char *path, const char *base_dir)
{
	const char *display = strcmp(path, "-") == 0 ? "-" : path;
	_cleanup_free_ char *text = NULL;
	struct node **docs = NULL, *tree = NULL;
	size_t len = 0;
	int ndocs, i;

	if (strcmp(path, "-") == 0) {
		text = str_read_stream(lc->opt->stdin_file ? lc->opt->stdin_file : stdin, &len);
	} else {
		text = str_read_file(path, &len);
		if (!text) {
			diag_error(lc->dc, (struct node_pos){diag_intern_file(lc->dc, path), 0, 0},
				   "cannot read the file: %s", strerror(errno));
			lc->broken = true;
			return NULL;
		}
	}
	ndocs = compose_yaml_load(lc->dc, display, text, len, &docs);
	if (ndocs < 0) {
		lc->broken = true;
		return NULL;
	}
	for (i = 0; i < ndocs; i++) {
		struct node *canon;

		if (node_is_null(docs[i])) {
			node_free(docs[i]);
			continue;
		}
		if (docs[i]->kind != NODE_MAP) {
			diag_error(lc->dc, docs[i]->pos,
				   "top-level object must be a mapping, not %s",
				   node_kind_name(docs[i]));
			node_free(docs[i]);
			lc->broken = true;
			continue;
		}
		if (!lc->opt->no_interpolate)
			compose_interpolate(lc->dc, docs[i], load_ctx_lookup, lc);
		canon = compose_canonicalize(lc, docs[i], base_dir);
		node_free(docs[i]);
		if (!canon)
			continue;
		if (!tree) {
			tree = canon;
		} else {
			compose_merge(tree, canon);
			lc->merged = true;
		}
	}
	free(docs);
	if (!tree)
		tree = node_new(NODE_MAP,
				(struct node_pos){diag_intern_file(lc->dc, display), 1, 1});
	size_t before = lc->dc->errors;

	if (!lc->broken)
		compose_apply_extends(lc, tree, path);
	if (!lc->broken)
		compose_apply_include(lc, tree);
	if (lc->dc->errors > before)
		lc->broken = true;
	return tree;
}

static bool name_char_ok(char c)
{
	return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '_';
}

static bool project_name_valid(const char *s)
{
	if (!*s || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return false;
	for (; *s; s++)
		if (!name_char_ok(*s))
			return false;
	return true;
}

/* A directory's name made into a project name: lower case, other characters dropped,
 * leading '-' and '_' dropped. */
static char *project_name_from_dir(const char *dir)
{
	const char *base = strrchr(dir, '/');
	struct strbuf sb = {0};

	base = base ? base + 1 : dir;
	for (; *base; base++) {
		char c = (char)tolower((unsigned char)*base);

		if (name_char_ok(c) && (sb.len || (c != '-' && c != '_')))
			strbuf_addc(&sb, c);
	}
	return strbuf_take(&sb);
}

static int load_env_file(struct load_ctx *lc, const char *path, const struct envset *shell,
			 struct envset *into)
{
	_cleanup_free_ char *text = NULL, *error = NULL;
	size_t len;

	text = str_read_file(path, &len);
	if (!text) {
		diag_error(lc->dc, (struct node_pos){diag_intern_file(lc->dc, path), 0, 0},
			   "couldn't read env file: %s", strerror(errno));
		return -1;
	}
	if (dotenv_parse(text, false, (interp_lookup)envset_get, (void *)shell, into, &error) < 0) {
		struct node_pos pos = {diag_intern_file(lc->dc, path), 0, 0};
		const char *msg = dotenv_error_place(error, &pos.line, &pos.col);

		diag_error(lc->dc, pos, "%s", msg);
		return -1;
	}
	return 0;
}

int compose_read_env_file(struct load_ctx *lc, const char *path, struct node_pos pos,
			  struct envset *into)
{
	(void)pos;
	return load_env_file(lc, path, &lc->env, into);
}

/* Interpolation variables: env files first, the shell's environment over them. */
static int load_environment(struct load_ctx *lc, const char *cwd, const char *dir)
{
	const struct compose_options *opt = lc->opt;
	struct envset shell = {0}, fileenv = {0};
	size_t i;
	int rc = 0;

	envset_from_environ(&shell, opt->environ);
	if (opt->nenv_files) {
		for (i = 0; i < opt->nenv_files && rc == 0; i++) {
			_cleanup_free_ char *p = compose_path_join(cwd, opt->env_files[i]);

			rc = load_env_file(lc, p, &shell, &fileenv);
		}
	} else {
		_cleanup_free_ char *p = compose_path_join(dir, ".env");

		if (file_exists(p))
			rc = load_env_file(lc, p, &shell, &fileenv);
	}
	envset_free(&lc->env);
	for (i = 0; i < fileenv.n; i++)
		envset_set(&lc->env, fileenv.names[i], fileenv.values[i]);
	for (i = 0; i < shell.n; i++)
		envset_set(&lc->env, shell.names[i], shell.values[i]);
	envset_free(&shell);
	envset_free(&fileenv);
	return rc;
}

static void push_str(struct compose_strv *v, char *s)
{
	v->v = xrealloc(v->v, (v->n + 1) * sizeof(*v->v));
	v->v[v->n++] = s;
}

/* compose.yaml and friends in dir or the nearest parent, with its override file. */
static int discover_files(struct load_ctx *lc, const char *start, struct compose_strv *files)
{
	_cleanup_free_ char *dir = xstrdup(start);
	size_t i;

	for (;;) {
		for (i = 0; compose_names[i]; i++) {
			char *p = compose_path_join(dir, compose_names[i]);

			if (file_exists(p)) {
				struct strbuf others = {0};

				push_str(files, p);
				for (size_t k = i + 1; compose_names[k]; k++) {
					_cleanup_free_ char *q =
						compose_path_join(dir, compose_names[k]);

					if (file_exists(q))
						strbuf_addf(&others, ", %s", compose_names[k]);
				}
				if (others.len)
					diag_warn(lc->dc, nopos,
						  "found multiple config files with supported names: "
						  "%s%s; using %s",
						  compose_names[i], others.buf, compose_names[i]);
				strbuf_free(&others);
				for (i = 0; override_names[i]; i++) {
					p = compose_path_join(dir, override_names[i]);
					if (file_exists(p)) {
						push_str(files, p);
						break;
					}
					free(p);
				}
				return 0;
			}
			free(p);
		}
		if (strcmp(dir, "/") == 0)
			break;
		char *parent = compose_path_dir(dir);

		free(dir);
		dir = parent;
	}
	diag_error(lc->dc, nopos, "no configuration file provided: not found");
	return -1;
}

static int resolve_files(struct load_ctx *lc, const char *cwd, const char *workdir,
			 struct compose_strv *files)
{
	const struct compose_options *opt = lc->opt;
	const char *env_files = envset_get(&lc->env, "COMPOSE_FILE");
	size_t i;

	if (opt->nfiles) {
		for (i = 0; i < opt->nfiles; i++)
			push_str(files, strcmp(opt->files[i], "-") == 0
						? xstrdup("-")
						: compose_path_join(cwd, opt->files[i]));
		return 0;
	}
	if (env_files && *env_files) {
		const char *sep = envset_get(&lc->env, "COMPOSE_PATH_SEPARATOR");
		_cleanup_free_ char *copy = xstrdup(env_files);
		char *save = NULL, *tok;

		for (tok = strtok_r(copy, sep && *sep ? sep : ":", &save); tok;
		     tok = strtok_r(NULL, sep && *sep ? sep : ":", &save))
			push_str(files, compose_path_join(workdir, tok));
		return 0;
	}
	return discover_files(lc, workdir, files);
}

static char *choose_name(struct load_ctx *lc, const struct node *tree)
{
	const char *env_name = envset_get(&lc->env, "COMPOSE_PROJECT_NAME");
	const struct node *name = node_map_get(tree, "name");
	const char *chosen = NULL;
	struct node_pos pos = nopos;

	if (lc->opt->project_name) {
		chosen = lc->opt->project_name;
	} else if (env_name && *env_name) {
		chosen = env_name;
	} else if (node_is_scalar(name)) {
		chosen = name->str;
		pos = name->pos;
	} else {
		char *n = project_name_from_dir(lc->workdir);

		if (!*n) {
			diag_error(lc->dc, nopos,
				   "project name can't be empty: the directory name \"%s\" has no "
				   "usable characters; use -p",
				   lc->workdir);
			free(n);
			return NULL;
		}
		return n;
	}
	if (!project_name_valid(chosen)) {
		diag_error(lc->dc, pos,
			   "invalid project name \"%s\": must consist only of lowercase "
			   "alphanumeric characters, hyphens, and underscores as well as start "
			   "with a letter or number",
			   chosen);
		return NULL;
	}
	return xstrdup(chosen);
}

/* Compose offers the project's name to interpolation as COMPOSE_PROJECT_NAME. When
 * the name comes from a file's `name:`, that is only known once the file is read, so
 * files that use the variable are read for their name first. */
static void preset_project_name(struct load_ctx *lc, const struct compose_strv *files)
{
	_cleanup_free_ char *from_file = NULL;
	bool used = false;
	size_t i;

	if (lc->opt->project_name) {
		envset_set(&lc->env, "COMPOSE_PROJECT_NAME", lc->opt->project_name);
		return;
	}
	if (envset_get(&lc->env, "COMPOSE_PROJECT_NAME"))
		return;
	for (i = 0; i < files->n; i++) {
		_cleanup_free_ char *text = NULL;
		struct compose_diags scratch = {0};
		struct diag_ctx dc = {.diags = &scratch};
		struct node **docs = NULL;
		size_t len = 0, k;
		int n, d;

		if (!strcmp(files->v[i], "-") || !(text = str_read_file(files->v[i], &len)) ||
		    !strstr(text, "COMPOSE_PROJECT_NAME"))
			continue;
		used = true;
		n = compose_yaml_load(&dc, files->v[i], text, len, &docs);
		for (d = 0; d < n; d++) {
			struct node *name = node_map_get(docs[d], "name");
			struct interp_result r = {0};

			if (node_is_scalar(name) &&
			    interp_string(name->str, load_ctx_lookup, lc, &r) == 0) {
				free(from_file);
				from_file = steal(&r.value);
			}
			interp_result_free(&r);
			node_free(docs[d]);
		}
		free(docs);
		compose_diags_free(&scratch);
		for (k = 0; k < dc.nfiles; k++)
			free(dc.files[k]);
		free(dc.files);
	}
	if (used) {
		_cleanup_free_ char *dir = project_name_from_dir(lc->workdir);

		envset_set(&lc->env, "COMPOSE_PROJECT_NAME", from_file ? from_file : dir);
	}
}

void compose_diags_free(struct compose_diags *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

size_t compose_diags_errors(const struct compose_diags *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->n; i++)
		n += d->v[i].severity == COMPOSE_ERROR;
	return n;
}

static void mark_with_deps(const struct node *services, const char *name, bool *keep)
{
	const struct node *deps;
	size_t i;

	for (i = 0; i < services->len; i++) {
		if (strcmp(services->pairs[i].key, name) || keep[i])
			continue;
		keep[i] = true;
		deps = node_map_get(services->pairs[i].value, "depends_on");
		for (size_t k = 0; deps && k < deps->len; k++)
			mark_with_deps(services, deps->pairs[k].key, keep);
	}
}

/* Services named on the command line, with what they depend on; the rest go. */
static int select_services(struct load_ctx *lc, struct node *tree)
{
	struct node *services = node_map_get(tree, "services");
	_cleanup_free_ bool *keep = NULL;
	size_t i;

	if (!lc->opt->nservices)
		return 0;
	keep = xcalloc(services->len, sizeof(*keep));
	for (i = 0; i < lc->opt->nservices; i++) {
		if (!node_map_get(services, lc->opt->services[i])) {
			diag_error(lc->dc, nopos, "no such service: %s", lc->opt->services[i]);
			return -1;
		}
		mark_with_deps(services, lc->opt->services[i], keep);
	}
	for (i = services->len; i-- > 0;)
		if (!keep[i])
			node_map_del(services, services->pairs[i].key);
	return 0;
}

static char *get_cwd(const struct compose_options *opt)
{
	char buf[PATH_MAX];

	if (opt->cwd)
		return compose_path_join("/", opt->cwd);
	if (!getcwd(buf, sizeof(buf)))
		return xstrdup("/");
	return xstrdup(buf);
}

/* By file (in the order files first appear), then line and column, then as found. */
static int cmp_diag(const void *a, const void *b, void *arg)
{
	const struct compose_diag *x = a, *y = b;
	const struct compose_diags *sorting = arg;
	size_t fx = 0, fy = 0, i;

	if (strcmp(x->file, y->file)) {
		for (i = 0; i < sorting->n; i++) {
			if (!fx && !strcmp(sorting->v[i].file, x->file))
				fx = i + 1;
			if (!fy && !strcmp(sorting->v[i].file, y->file))
				fy = i + 1;
		}
		return (fx > fy) - (fx < fy);
	}
	if (x->line != y->line)
		return (x->line > y->line) - (x->line < y->line);
	if (x->col != y->col)
		return (x->col > y->col) - (x->col < y->col);
	return (x > y) - (x < y);
}

/* Diagnostics are found stage by stage; a reader wants them in file order. */
static void sort_diags(struct compose_diags *d, size_t from)
{
	struct compose_diags copy = *d;

	if (d->n - from < 2)
		return;
	copy.v = xcalloc(d->n, sizeof(*copy.v));
	memcpy(copy.v, d->v, d->n * sizeof(*copy.v));
	qsort_r(d->v + from, d->n - from, sizeof(*d->v), cmp_diag, &copy);
	free(copy.v);
	/* the same message at the same place once */
	size_t w = from + 1;

	for (size_t r = from + 1; r < d->n; r++) {
		struct compose_diag *prev = &d->v[w - 1], *cur = &d->v[r];

		if (prev->line == cur->line && prev->col == cur->col &&
		    !strcmp(prev->file, cur->file) && !strcmp(prev->msg, cur->msg)) {
			free(cur->file);
			free(cur->msg);
			continue;
		}
		d->v[w++] = *cur;
	}
	d->n = w;
}

int compose_project_load(const struct compose_options *opt, struct compose_project **out,
			 struct compose_diags *diags)
{
	struct diag_ctx dc = {.diags = diags};
	struct load_ctx lc = {.dc = &dc, .opt = opt};
	struct compose_strv files = {0};
	struct compose_project *p = NULL;
	_cleanup_free_ char *cwd = get_cwd(opt), *workdir = NULL;
	struct node *tree = NULL;
	size_t i;

	*out = NULL;
	if (opt->project_dir)
		workdir = compose_path_join(cwd, opt->project_dir);
	else if (opt->nfiles && strcmp(opt->files[0], "-") != 0) {
		_cleanup_free_ char *f = compose_path_join(cwd, opt->files[0]);

		workdir = compose_path_dir(f);
	} else
		workdir = xstrdup(cwd);
	if (load_environment(&lc, cwd, workdir) < 0 || resolve_files(&lc, cwd, workdir, &files) < 0)
		goto out;
	/* Discovery may find the files in a parent: that is the project directory then,
	 * and its .env is the one that counts. */
	if (!opt->project_dir && strcmp(files.v[0], "-") != 0) {
		char *dir = compose_path_dir(files.v[0]);

		if (strcmp(dir, workdir) != 0) {
			free(workdir);
			workdir = dir;
			if (!opt->nenv_files && load_environment(&lc, cwd, workdir) < 0)
				goto out;
		} else {
			free(dir);
		}
	}
	lc.workdir = workdir;
	preset_project_name(&lc, &files);
	for (i = 0; i < files.n; i++) {
		struct node *t = compose_load_file(&lc, files.v[i], workdir);

		if (!t)
			continue;
		if (!tree) {
			tree = t;
		} else {
			compose_merge(tree, t);
			lc.merged = true;
		}
	}
	if (lc.broken || !tree)
		goto out;
	/* Nothing in any file (empty, only comments, only `version`): Compose refuses it. */
	if (!tree->len && !failed(&lc)) {
		diag_error(&dc, tree->pos.file ? (struct node_pos){tree->pos.file, 0, 0} : nopos,
			   "empty compose file");
		goto out;
	}
	/* A merge appends the keys a later file adds; canonicalising the merged tree again
	 * puts every mapping back in the order a single file would have given it. */
	if (lc.merged && !failed(&lc)) {
		struct node *again = compose_canonicalize(&lc, tree, workdir);

		node_free(tree);
		tree = again;
		if (lc.broken || !tree)
			goto out;
	}
	p = xcalloc(1, sizeof(*p));
	p->name = choose_name(&lc, tree);
	if (!p->name)
		goto out;
	p->workdir = xstrdup(workdir);
	p->interpolated = !opt->no_interpolate;
	compose_normalize(&lc, tree, p->name);
	if (lc.broken)
		goto out;
	compose_validate(&lc, tree);
	if (failed(&lc) || select_services(&lc, tree) < 0)
		goto out;
	p->tree = steal(&tree);
	p->files = files;
	files = (struct compose_strv){0};
	p->pos_files.v = steal(&dc.files);
	p->pos_files.n = dc.nfiles;
	dc.nfiles = 0;
	p->profiles.v = steal(&lc.profiles);
	p->profiles.n = lc.nprofiles;
	lc.nprofiles = 0;
	compose_decode(p);
	*out = steal(&p);
out:
	node_free(tree);
	compose_project_free(p);
	for (i = 0; i < files.n; i++)
		free(files.v[i]);
	free(files.v);
	envset_free(&lc.env);
	for (i = 0; i < lc.nprofiles; i++)
		free(lc.profiles[i]);
	free(lc.profiles);
	for (i = 0; i < dc.nfiles; i++)
		free(dc.files[i]);
	free(dc.files);
	sort_diags(diags, 0);
	return *out ? 0 : -1;
}

/* create_host_path is an opt-out in Compose (true unless said otherwise), and Compose
 * prints it only when false. */
static bool omits_opt_out_defaults(struct node *tree, bool apply)
{
	struct node *services = node_map_get(tree, "services");
	bool found = false;
	size_t i, k;

	for (i = 0; services && i < services->len; i++) {
		struct node *vols = node_map_get(services->pairs[i].value, "volumes");

		for (k = 0; vols && vols->kind == NODE_SEQ && k < vols->len; k++) {
			struct node *bind = node_map_get(vols->items[k], "bind");
			bool create = false;

			if (!node_as_bool(node_map_get(bind, "create_host_path"), &create) ||
			    !create)
				continue;
			found = true;
			if (apply)
				node_map_del(bind, "create_host_path");
		}
	}
	return found;
}

char *compose_project_render(const struct compose_project *p, enum compose_format fmt)
{
	struct node *tree = p->tree, *copy = NULL;
	bool dollars = p->interpolated && compose_has_dollar(p->tree);
	char *out;

	if (dollars || omits_opt_out_defaults(p->tree, false)) {
		tree = copy = node_copy(p->tree);
		omits_opt_out_defaults(copy, true);
		if (dollars)
			compose_escape_dollars(copy);
	}
	out = fmt == COMPOSE_JSON ? compose_emit_json(tree, true) : compose_emit_yaml(tree);
	node_free(copy);
	return out;
}

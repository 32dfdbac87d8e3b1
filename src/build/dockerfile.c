/* Dockerfile parser: parser directives, comments, line continuations with the escape
 * character, heredocs, then each instruction into a typed struct df_instr grouped by
 * stage. Expansion is not done here: it depends on the ARG/ENV state at each step, so
 * the executor applies df_word() to the instructions Docker expands. */
#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build/dockerfile.h"
#include "util/cleanup.h"
#include "util/str.h"

static const struct {
	const char *name;
	enum df_kind kind;
} kinds[] = {
	{"FROM", DF_FROM},
	{"RUN", DF_RUN},
	{"CMD", DF_CMD},
	{"ENTRYPOINT", DF_ENTRYPOINT},
	{"SHELL", DF_SHELL},
	{"COPY", DF_COPY},
	{"ADD", DF_ADD},
	{"ENV", DF_ENV},
	{"ARG", DF_ARG},
	{"LABEL", DF_LABEL},
	{"EXPOSE", DF_EXPOSE},
	{"VOLUME", DF_VOLUME},
	{"USER", DF_USER},
	{"WORKDIR", DF_WORKDIR},
	{"STOPSIGNAL", DF_STOPSIGNAL},
	{"HEALTHCHECK", DF_HEALTHCHECK},
	{"ONBUILD", DF_ONBUILD},
	{"MAINTAINER", DF_MAINTAINER},
};

const char *df_kind_name(enum df_kind k)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (kinds[i].kind == k)
			return kinds[i].name;
	return "?";
}

static int kind_lookup(const char *word, size_t n, enum df_kind *out)
{
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strlen(kinds[i].name) == n && strncasecmp(kinds[i].name, word, n) == 0) {
			*out = kinds[i].kind;
			return 0;
		}
	return -1;
}

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* ---- lines ------------------------------------------------------------------ */

struct lines {
	char **v;
	size_t n, i;
};

static void lines_split(const char *text, size_t len, struct lines *l)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		size_t k = n;

		if (k && p[k - 1] == '\r')
			k--;
		l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
		l->v[l->n++] = xstrndup(p, k);
		p += n + (nl ? 1 : 0);
	}
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static bool blank_or_comment(const char *s)
{
	s = skip_ws(s);
	return !*s || *s == '#';
}

/* "# escape=`" at the top of the file; the first other line ends them. */
static int parse_directives(struct lines *l, const char *path, struct dockerfile *df,
			    struct stk_err *err)
{
	bool seen_escape = false;

	for (; l->i < l->n; l->i++) {
		const char *s = skip_ws(l->v[l->i]), *k, *eq;
		size_t kn;

		if (*s != '#')
			return 0;
		k = skip_ws(s + 1);
		kn = strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
		eq = skip_ws(k + kn);
		if (kn == 0 || *eq != '=')
			return 0;
		const char *v = skip_ws(eq + 1);
		size_t vn = strlen(v);

		while (vn && isspace((unsigned char)v[vn - 1]))
			vn--;
		if (kn == 6 && strncasecmp(k, "escape", 6) == 0) {
			if (seen_escape)
				return stk_err_set(
					err, 0,
					"%s:%zu: only one escape parser directive can be used",
					path, l->i + 1);
			if (vn != 1 || (*v != '\\' && *v != '`'))
				return stk_err_set(
					err, 0,
					"%s:%zu: invalid escape token '%.*s' does not match ` or \\",
					path, l->i + 1, (int)vn, v);
			df->escape = *v;
			seen_escape = true;
		}
		/* syntax, check and unknown directives: accepted, without effect */
	}
	return 0;
}

/* A trailing escape character (then only blanks) continues the line. */
static bool continues(const char *s, char esc, size_t *cut)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n && s[n - 1] == esc) {
		*cut = n - 1;
		return true;
	}
	return false;
}

/* Joins a logical line; comment and empty lines inside a continuation are dropped. */
static char *logical_line(struct lines *l, char esc)
{
	struct strbuf sb;
	size_t cut;

	strbuf_init(&sb);
	for (;;) {
		const char *s = l->v[l->i++];

		if (!continues(s, esc, &cut)) {
			strbuf_adds(&sb, s);
			break;
		}
		strbuf_addn(&sb, s, cut);
		while (l->i < l->n && blank_or_comment(l->v[l->i]))
			l->i++;
		if (l->i >= l->n)
			break;
	}
	return strbuf_take(&sb);
}

/* ---- heredocs --------------------------------------------------------------- */

static void heredoc_add(struct df_instr *in, char *name, bool expand)
{
	in->heredocs = xrealloc(in->heredocs, (in->nheredocs + 1) * sizeof(*in->heredocs));
	in->heredocs[in->nheredocs++] = (struct df_heredoc){.name = name, .expand = expand};
}

/* Finds the "<<[-]WORD" markers of a line; remembers the chomp flag per heredoc. */
static int heredoc_markers(struct df_instr *in, const char *s, bool **chomp, const char *path,
			   struct stk_err *err)
{
	while (*s) {
		const char *w = s;

		while (*s && !isspace((unsigned char)*s))
			s++;
		if (w[0] == '<' && w[1] == '<' && w[2] != '<') {
			const char *p = w + 2;
			bool dash = false, expand = true;
			char q = 0;
			size_t n;

			if (*p == '-') {
				dash = true;
				p++;
			}
			if (*p == '\'' || *p == '"') {
				q = *p++;
				expand = false;
			}
			n = strcspn(p, q ? (q == '"' ? "\"" : "'") : " \t");
			if (q && p[n] != q)
				return stk_err_set(err, 0,
						   "%s:%u: unterminated quote in heredoc delimiter",
						   path, in->line);
			n = q ? n : (size_t)(s - p);
			if (n == 0)
				return stk_err_set(err, 0, "%s:%u: empty heredoc delimiter", path,
						   in->line);
			heredoc_add(in, xstrndup(p, n), expand);
			*chomp = xrealloc(*chomp, in->nheredocs * sizeof(**chomp));
			(*chomp)[in->nheredocs - 1] = dash;
		}
		while (isspace((unsigned char)*s))
			s++;
	}
	return 0;
}

static int heredoc_bodies(struct df_instr *in, const bool *chomp, struct lines *l, const char *path,
			  struct stk_err *err)
{
	size_t h;

	for (h = 0; h < in->nheredocs; h++) {
		struct strbuf sb;
		bool found = false;

		strbuf_init(&sb);
		while (l->i < l->n) {
			const char *s = l->v[l->i++];

			if (chomp[h])
				while (*s == '\t')
					s++;
			if (strcmp(s, in->heredocs[h].name) == 0) {
				found = true;
				break;
			}
			strbuf_adds(&sb, s);
			strbuf_addc(&sb, '\n');
		}
		in->heredocs[h].content = strbuf_take(&sb);
		if (!found)
			return stk_err_set(err, 0, "%s:%u: heredoc \"%s\" is not terminated", path,
					   in->line, in->heredocs[h].name);
	}
	return 0;
}

/* ---- arguments -------------------------------------------------------------- */

static void args_add(struct df_instr *in, char *s)
{
	in->args = xrealloc(in->args, (in->nargs + 2) * sizeof(*in->args));
	in->args[in->nargs++] = s;
	in->args[in->nargs] = NULL;
}

/* Splits on blanks outside quotes, keeping each word raw (quotes and escapes stay for
 * df_word). */
static int raw_words(const char *s, char esc, struct df_instr *in, const char *path,
		     struct stk_err *err)
{
	for (;;) {
		const char *w;
		char q = 0;

		s = skip_ws(s);
		if (!*s)
			return 0;
		w = s;
		while (*s && (q || (*s != ' ' && *s != '\t'))) {
			if (*s == esc && s[1] && q != '\'') {
				s += 2;
				continue;
			}
			if (q && *s == q)
				q = 0;
			else if (!q && (*s == '"' || *s == '\''))
				q = *s;
			s++;
		}
		if (q)
			return stk_err_set(err, 0, "%s:%u: unmatched %c quote", path, in->line, q);
		args_add(in, xstrndup(w, (size_t)(s - w)));
	}
}

/* Leading "--name[=value]" words; *s moves past them. */
static void take_flags(const char **s, struct df_instr *in)
{
	for (;;) {
		const char *p = skip_ws(*s), *end, *eq;

		if (p[0] != '-' || p[1] != '-' || !isalpha((unsigned char)p[2])) {
			*s = p;
			return;
		}
		end = p + strcspn(p, " \t");
		eq = memchr(p, '=', (size_t)(end - p));
		in->flags = xrealloc(in->flags, (in->nflags + 1) * sizeof(*in->flags));
		in->flags[in->nflags++] = (struct df_flag){
			.name = xstrndup(p + 2, (size_t)((eq ? eq : end) - p - 2)),
			.value = eq ? xstrndup(eq + 1, (size_t)(end - eq - 1)) : NULL,
		};
		*s = end;
	}
}

const char *df_flag_get(const struct df_instr *in, const char *name, bool *present)
{
	size_t i;

	for (i = in->nflags; i-- > 0;)
		if (strcmp(in->flags[i].name, name) == 0) {
			if (present)
				*present = true;
			return in->flags[i].value;
		}
	if (present)
		*present = false;
	return NULL;
}

/* `["a", "b"]`: an array of strings is the exec form; anything else is shell form. */
static bool try_json(const char *s, struct df_instr *in)
{
	_cleanup_(json_putp) struct json_object *j = NULL;
	size_t i, n;

	if (*s != '[')
		return false;
	j = json_tokener_parse(s);
	if (!j || !json_object_is_type(j, json_type_array))
		return false;
	n = json_object_array_length(j);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(j, i), json_type_string))
			return false;
	for (i = 0; i < n; i++)
		args_add(in, xstrdup(json_object_get_string(json_object_array_get_idx(j, i))));
	in->json = true;
	return true;
}

static void rtrim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = 0;
}

static void command_form(const char *s, struct df_instr *in)
{
	if (!try_json(s, in))
		args_add(in, xstrdup(s));
}

/* ENV a=1 b="2 3" | ENV a 1 2 (legacy: the rest is the value). */
static int parse_pairs(const char *s, char esc, struct df_instr *in, const char *path,
		       struct stk_err *err)
{
	struct df_instr words = {.line = in->line};
	size_t i;
	int rc = 0;

	if (raw_words(s, esc, &words, path, err) < 0) {
		rc = -1;
		goto out;
	}
	if (words.nargs && !strchr(words.args[0], '=')) {
		const char *rest = skip_ws(skip_ws(s) + strlen(words.args[0]));

		if (!*rest) {
			rc = stk_err_set(err, 0, "%s:%u: %s must have two arguments", path,
					 in->line, df_kind_name(in->kind));
			goto out;
		}
		args_add(in, xstrdup(words.args[0]));
		args_add(in, xstrdup(rest));
		goto out;
	}
	for (i = 0; i < words.nargs; i++) {
		char *eq = strchr(words.args[i], '=');

		if (!eq) {
			rc = stk_err_set(
				err, 0,
				"%s:%u: syntax error - can't find = in \"%s\"; must be of the form: name=value",
				path, in->line, words.args[i]);
			goto out;
		}
		if (eq == words.args[i]) {
			rc = stk_err_set(err, 0, "%s:%u: %s names can not be blank", path, in->line,
					 df_kind_name(in->kind));
			goto out;
		}
		args_add(in, xstrndup(words.args[i], (size_t)(eq - words.args[i])));
		args_add(in, xstrdup(eq + 1));
	}
out:
	df_strv_free(words.args, words.nargs);
	return rc;
}

static bool valid_stage_name(const char *s)
{
	if (!isalpha((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_from(const char *s, char esc, struct df_instr *in, const char *path,
		      struct stk_err *err)
{
	if (raw_words(s, esc, in, path, err) < 0)
		return -1;
	if (in->nargs == 3 && strcasecmp(in->args[1], "as") == 0) {
		char *p;

		for (p = in->args[2]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!valid_stage_name(in->args[2]))
			return stk_err_set(
				err, 0,
				"%s:%u: invalid name for build stage: \"%s\", name can't start with a number or contain symbols",
				path, in->line, in->args[2]);
		free(in->args[1]);
		in->args[1] = steal(&in->args[2]);
		in->nargs = 2;
		return 0;
	}
	if (in->nargs != 1)
		return stk_err_set(err, 0, "%s:%u: FROM requires either one or three arguments",
				   path, in->line);
	return 0;
}

static int parse_healthcheck(const char *s, struct df_instr *in, const char *path,
			     struct stk_err *err)
{
	size_t n = strcspn(s, " \t");

	if (n == 4 && strncasecmp(s, "NONE", 4) == 0) {
		if (*skip_ws(s + 4))
			return stk_err_set(err, 0, "%s:%u: HEALTHCHECK NONE takes no arguments",
					   path, in->line);
		args_add(in, xstrdup("NONE"));
		return 0;
	}
	if (n != 3 || strncasecmp(s, "CMD", 3) != 0)
		return stk_err_set(err, 0,
				   "%s:%u: unknown type for HEALTHCHECK: \"%.*s\" (use CMD or NONE)",
				   path, in->line, (int)n, s);
	s = skip_ws(s + 3);
	if (!*s)
		return stk_err_set(err, 0, "%s:%u: missing command after HEALTHCHECK CMD", path,
				   in->line);
	args_add(in, xstrdup("CMD"));
	command_form(s, in);
	return 0;
}

static int parse_onbuild(const char *s, struct df_instr *in, const char *path, struct stk_err *err)
{
	size_t n = strcspn(s, " \t");
	enum df_kind k;

	if (kind_lookup(s, n, &k) < 0)
		return stk_err_set(err, 0, "%s:%u: unknown instruction in ONBUILD: %.*s", path,
				   in->line, (int)n, s);
	if (k == DF_ONBUILD || k == DF_FROM || k == DF_MAINTAINER)
		return stk_err_set(err, 0, "%s:%u: %s isn't allowed as an ONBUILD trigger", path,
				   in->line, df_kind_name(k));
	args_add(in, xstrdup(s));
	return 0;
}

static int parse_args(const char *rest, char esc, struct df_instr *in, const char *path,
		      struct stk_err *err)
{
	const char *s = rest;

	if (in->kind == DF_FROM || in->kind == DF_RUN || in->kind == DF_COPY ||
	    in->kind == DF_ADD || in->kind == DF_HEALTHCHECK)
		take_flags(&s, in);
	else if (str_has_prefix(skip_ws(s), "--") && in->kind != DF_ONBUILD)
		return stk_err_set(err, 0, "%s:%u: %s does not take flags", path, in->line,
				   df_kind_name(in->kind));
	s = skip_ws(s);
	if (!*s && in->kind != DF_RUN)
		return stk_err_set(err, 0, "%s:%u: %s requires at least one argument", path,
				   in->line, df_kind_name(in->kind));
	switch (in->kind) {
	case DF_FROM:
		return parse_from(s, esc, in, path, err);
	case DF_RUN:
		if (!*s && !in->nheredocs)
			return stk_err_set(err, 0, "%s:%u: RUN requires at least one argument",
					   path, in->line);
		/* fallthrough */
	case DF_CMD:
	case DF_ENTRYPOINT:
		command_form(s, in);
		return 0;
	case DF_SHELL:
		if (!try_json(s, in) || in->nargs == 0)
			return stk_err_set(err, 0,
					   "%s:%u: SHELL requires the arguments to be in JSON form",
					   path, in->line);
		return 0;
	case DF_COPY:
	case DF_ADD:
		if (!try_json(s, in) && raw_words(s, esc, in, path, err) < 0)
			return -1;
		if (in->nargs < 2)
			return stk_err_set(
				err, 0,
				"%s:%u: %s requires at least two arguments, but only one was provided. Destination could not be determined",
				path, in->line, df_kind_name(in->kind));
		return 0;
	case DF_VOLUME:
		if (try_json(s, in))
			return 0;
		/* fallthrough */
	case DF_EXPOSE:
	case DF_ARG:
		return raw_words(s, esc, in, path, err);
	case DF_ENV:
	case DF_LABEL:
		return parse_pairs(s, esc, in, path, err);
	case DF_HEALTHCHECK:
		return parse_healthcheck(s, in, path, err);
	case DF_ONBUILD:
		return parse_onbuild(s, in, path, err);
	case DF_USER:
	case DF_WORKDIR:
	case DF_STOPSIGNAL:
	case DF_MAINTAINER:
		args_add(in, xstrdup(s));
		return 0;
	}
	return 0;
}

/* ---- instructions and stages ------------------------------------------------ */

static void instr_release(struct df_instr *in)
{
	size_t i;

	free(in->original);
	for (i = 0; i < in->nflags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	df_strv_free(in->args, in->nargs);
	for (i = 0; i < in->nheredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
}

static int parse_instruction(struct lines *l, const char *path, char esc, struct df_instr *in,
			     struct stk_err *err)
{
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ bool *chomp = NULL;
	const char *s, *rest;
	size_t n;

	in->line = (unsigned)l->i + 1;
	text = logical_line(l, esc);
	rtrim(text);
	s = skip_ws(text);
	n = strcspn(s, " \t");
	if (kind_lookup(s, n, &in->kind) < 0)
		return stk_err_set(err, 0, "%s:%u: unknown instruction: %.*s", path, in->line,
				   (int)n, s);
	rest = skip_ws(s + n);
	in->original = xasprintf("%s%s%s", df_kind_name(in->kind), *rest ? " " : "", rest);
	if (in->kind == DF_RUN || in->kind == DF_COPY || in->kind == DF_ADD) {
		if (heredoc_markers(in, rest, &chomp, path, err) < 0 ||
		    heredoc_bodies(in, chomp, l, path, err) < 0)
			return -1;
	}
	return parse_args(rest, esc, in, path, err);
}

static void stage_add_instr(struct df_stage *st, struct df_instr *in)
{
	st->v = xrealloc(st->v, (st->n + 1) * sizeof(*st->v));
	st->v[st->n++] = *in;
}

static void place_instruction(struct dockerfile *df, struct df_instr *in)
{
	struct df_stage *st;

	if (in->kind == DF_FROM) {
		df->stages = xrealloc(df->stages, (df->nstages + 1) * sizeof(*df->stages));
		st = &df->stages[df->nstages++];
		*st = (struct df_stage){
			.base = xstrdup(in->args[0]),
			.name = in->nargs > 1 ? xstrdup(in->args[1]) : NULL,
			.line = in->line,
		};
		stage_add_instr(st, in);
		return;
	}
	if (df->nstages == 0) {
		df->meta_args =
			xrealloc(df->meta_args, (df->nmeta_args + 1) * sizeof(*df->meta_args));
		df->meta_args[df->nmeta_args++] = *in;
		return;
	}
	stage_add_instr(&df->stages[df->nstages - 1], in);
}

static int parse_body(struct lines *l, const char *path, struct dockerfile *df, struct stk_err *err)
{
	while (l->i < l->n) {
		struct df_instr in = {0};

		if (blank_or_comment(l->v[l->i])) {
			l->i++;
			continue;
		}
		if (parse_instruction(l, path, df->escape, &in, err) < 0) {
			instr_release(&in);
			return -1;
		}
		if (df->nstages == 0 && in.kind != DF_FROM && in.kind != DF_ARG) {
			stk_err_set(
				err, 0,
				"%s:%u: no build stage in current context: %s must come after FROM",
				path, in.line, df_kind_name(in.kind));
			instr_release(&in);
			return -1;
		}
		place_instruction(df, &in);
	}
	if (df->nstages == 0)
		return stk_err_set(err, 0, "%s: file with no instructions", path);
	return 0;
}

static int check_stage_names(const struct dockerfile *df, struct stk_err *err)
{
	size_t i, j;

	for (i = 0; i < df->nstages; i++)
		for (j = 0; j < i; j++)
			if (df->stages[i].name && df->stages[j].name &&
			    strcmp(df->stages[i].name, df->stages[j].name) == 0)
				return stk_err_set(err, 0, "%s:%u: duplicate stage name \"%s\"",
						   df->path, df->stages[i].line,
						   df->stages[i].name);
	return 0;
}

int df_parse(const char *path, const char *text, size_t len, struct dockerfile *out,
	     struct stk_err *err)
{
	struct lines l = {0};
	int rc;
	size_t i;

	*out = (struct dockerfile){.path = xstrdup(path), .escape = '\\'};
	lines_split(text, len, &l);
	rc = parse_directives(&l, path, out, err);
	if (rc == 0)
		rc = parse_body(&l, path, out, err);
	if (rc == 0)
		rc = check_stage_names(out, err);
	for (i = 0; i < l.n; i++)
		free(l.v[i]);
	free(l.v);
	if (rc < 0)
		df_free(out);
	return rc;
}

void df_free(struct dockerfile *df)
{
	size_t i, j;

	for (i = 0; i < df->nmeta_args; i++)
		instr_release(&df->meta_args[i]);
	free(df->meta_args);
	for (i = 0; i < df->nstages; i++) {
		for (j = 0; j < df->stages[i].n; j++)
			instr_release(&df->stages[i].v[j]);
		free(df->stages[i].v);
		free(df->stages[i].base);
		free(df->stages[i].name);
	}
	free(df->stages);
	free(df->path);
	*df = (struct dockerfile){0};
}

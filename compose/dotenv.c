/* .env and env_file parsing, as Compose reads them: KEY=VALUE lines, `export `,
 * comments, single quotes literal, double quotes with escapes and interpolation,
 * unquoted values trimmed with ` #` comments cut. The `raw` format takes each value as
 * it is. A bare KEY takes its value from the lookup (the environment). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "compose/interp.h"
#include "util/str.h"

struct dotenv_lookup {
	interp_lookup outer;
	void *ctx;
	const struct envset *local;
};

/* The environment wins over the file; earlier lines of the file serve later ones. */
static const char *dotenv_get(void *ctx, const char *name)
{
	struct dotenv_lookup *dl = ctx;
	const char *v = dl->outer ? dl->outer(dl->ctx, name) : NULL;

	return v ? v : envset_get(dl->local, name);
}

static bool is_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

static void skip_blank(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* Unquoted: to the end of the line, a " #" comment cut, spaces trimmed. */
static char *read_unquoted(const char **pp, bool raw)
{
	const char *p = *pp, *s = p, *e;

	while (*p && *p != '\n')
		p++;
	e = p;
	*pp = p;
	if (raw)
		return xstrndup(s, (size_t)(e - s - (e > s && e[-1] == '\r')));
	for (const char *q = s; q < e; q++)
		if (*q == '#' && (q == s || q[-1] == ' ' || q[-1] == '\t')) {
			e = q;
			break;
		}
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	return xstrndup(s, (size_t)(e - s));
}

/* Double quoted: escapes; an escaped '$' stays literal through interpolation. */
static char *read_double(const char **pp, int *lineno, char **error)
{
	const char *p = *pp + 1;
	struct strbuf sb = {0};

	for (; *p && *p != '"'; p++) {
		if (*p == '\n')
			(*lineno)++;
		if (*p != '\\' || !p[1]) {
			strbuf_addc(&sb, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 'n':
			strbuf_addc(&sb, '\n');
			break;
		case 't':
			strbuf_addc(&sb, '\t');
			break;
		case 'r':
			strbuf_addc(&sb, '\r');
			break;
		case '$':
			strbuf_adds(&sb, "$$");
			break;
		default:
			strbuf_addc(&sb, *p);
		}
	}
	if (*p != '"') {
		strbuf_free(&sb);
		*error = xasprintf("%d:1: unterminated double-quoted value", *lineno);
		return NULL;
	}
	*pp = p + 1;
	return strbuf_take(&sb);
}

static char *read_single(const char **pp, int *lineno, char **error)
{
	const char *p = *pp + 1, *s = p;

	while (*p && *p != '\'') {
		if (*p == '\n')
			(*lineno)++;
		p++;
	}
	if (*p != '\'') {
		*error = xasprintf("%d:1: unterminated single-quoted value", *lineno);
		return NULL;
	}
	*pp = p + 1;
	return xstrndup(s, (size_t)(p - s));
}

static int expand_value(char **v, struct dotenv_lookup *dl, int lineno, char **error)
{
	struct interp_result r = {0};

	if (interp_string(*v, dotenv_get, dl, &r) < 0) {
		*error = xasprintf("%d:1: %s", lineno, r.error);
		interp_result_free(&r);
		return -1;
	}
	free(*v);
	*v = r.value;
	r.value = NULL;
	interp_result_free(&r);
	return 0;
}

int dotenv_parse(const char *text, bool raw, interp_lookup lookup, void *ctx, struct envset *out,
		 char **error)
{
	struct dotenv_lookup dl = {lookup, ctx, out};
	const char *p = text, *line_start = text;
	int lineno = 1;

	*error = NULL;
	while (*p) {
		const char *ks;
		char *key, *value = NULL;
		int start_line;
		bool literal;

		skip_blank(&p);
		if (*p == '\n' || *p == '\r') {
			lineno += *p == '\n';
			p++;
			line_start = p;
			continue;
		}
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (!raw && strncmp(p, "export ", 7) == 0) {
			p += 7;
			skip_blank(&p);
		}
		ks = p;
		while (is_key_char(*p))
			p++;
		if (p == ks || (!isalpha((unsigned char)*ks) && *ks != '_')) {
			*error = xasprintf("%d:%d: invalid variable name \"%.*s\"", lineno,
					   (int)(ks - line_start + 1), (int)strcspn(ks, "=\n"), ks);
			return -1;
		}
		key = xstrndup(ks, (size_t)(p - ks));
		skip_blank(&p);
		if (*p == '\n' || *p == '\r' || *p == '\0' || *p == '#') {
			/* bare KEY: inherit from the environment, if set there */
			const char *v = lookup ? lookup(ctx, key) : NULL;

			if (v)
				envset_set(out, key, v);
			free(key);
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (*p != '=') {
			*error = xasprintf("%d:%d: unexpected character \"%c\" in variable name "
					   "\"%s\"",
					   lineno, (int)(p - line_start + 1), *p, key);
			free(key);
			return -1;
		}
		p++;
		if (!raw)
			skip_blank(&p);
		start_line = lineno;
		literal = raw || *p == '\'';
		if (!raw && *p == '"')
			value = read_double(&p, &lineno, error);
		else if (!raw && *p == '\'')
			value = read_single(&p, &lineno, error);
		else
			value = read_unquoted(&p, raw);
		if (!value) {
			free(key);
			return -1;
		}
		if (!literal && expand_value(&value, &dl, start_line, error) < 0) {
			free(key);
			free(value);
			return -1;
		}
		envset_set(out, key, value);
		free(key);
		free(value);
		/* whatever follows a closing quote on its line is a comment */
		while (*p && *p != '\n')
			p++;
	}
	return 0;
}

const char *dotenv_error_place(const char *error, int *line, int *col)
{
	int n = 0;

	if (sscanf(error, "%d:%d: %n", line, col, &n) == 2 && n > 0)
		return error + n;
	*line = *col = 0;
	return error;
}

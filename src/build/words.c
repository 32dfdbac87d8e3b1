/* Docker's word expansion for Dockerfile instructions (BuildKit's shell lexer rules):
 * the escape character, single quotes (literal), double quotes (expansion, only `"`,
 * `$` and the escape itself escapable), $name, ${name}, ${name:-w}, ${name-w},
 * ${name:+w}, ${name+w}, ${name:?w}, ${name?w}. Unquoted expansions split into words
 * when words are asked for. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"
#include "util/cleanup.h"
#include "util/str.h"

struct lex {
	const char *p;
	char esc;
	df_lookup_fn lookup;
	void *arg;
	struct stk_err *err;
};

struct words {
	char **v;
	size_t n;
	struct strbuf cur;
	bool have; /* a word was started, possibly empty ("") */
	bool split;
};

static void words_push(struct words *w)
{
	if (!w->have)
		return;
	w->v = xrealloc(w->v, (w->n + 2) * sizeof(*w->v));
	w->v[w->n++] = strbuf_take(&w->cur);
	w->v[w->n] = NULL;
	w->have = false;
}

static void words_add(struct words *w, const char *s, bool quoted)
{
	for (; *s; s++) {
		if (w->split && !quoted && isspace((unsigned char)*s)) {
			words_push(w);
			continue;
		}
		strbuf_addc(&w->cur, *s);
		w->have = true;
	}
}

static int lex_until(struct lex *lx, char stop, struct words *w);

/* The word after a modifier, up to the closing brace, processed as one word. */
static int lex_brace_word(struct lex *lx, char **out)
{
	struct words sub = {0};
	int rc;

	strbuf_init(&sub.cur);
	rc = lex_until(lx, '}', &sub);
	*out = strbuf_take(&sub.cur);
	return rc;
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int lex_braced(struct lex *lx, char **out)
{
	const char *name = lx->p, *val;
	bool colon = false;
	char mod, *word = NULL, *nm;
	size_t n = 0;

	while (is_name_char(lx->p[n]))
		n++;
	if (n == 0)
		return stk_err_set(lx->err, 0, "bad substitution: \"${%.20s\"", lx->p);
	nm = xstrndup(name, n);
	lx->p += n;
	val = lx->lookup ? lx->lookup(nm, lx->arg) : NULL;
	if (*lx->p == '}') {
		lx->p++;
		*out = xstrdup(val ? val : "");
		free(nm);
		return 0;
	}
	if (!*lx->p || (lx->p[0] == ':' && !lx->p[1])) {
		free(nm);
		return stk_err_set(lx->err, 0, "missing '}' in substitution");
	}
	if (*lx->p == ':') {
		colon = true;
		lx->p++;
	}
	mod = *lx->p;
	if (mod != '-' && mod != '+' && mod != '?') {
		stk_err_set(lx->err, 0, "unsupported modifier (%c) in substitution of ${%s}",
			    mod ? mod : '}', nm);
		free(nm);
		return -1;
	}
	lx->p++;
	if (lex_brace_word(lx, &word) < 0) {
		free(nm);
		free(word);
		return -1;
	}
	bool set = val && (!colon || *val);
	if (mod == '-')
		*out = xstrdup(set ? val : word);
	else if (mod == '+')
		*out = xstrdup(set ? word : "");
	else if (!set) {
		stk_err_set(lx->err, 0, "%s: %s", nm, *word ? word : "is not allowed to be unset");
		free(nm);
		free(word);
		return -1;
	} else
		*out = xstrdup(val);
	free(nm);
	free(word);
	return 0;
}

/* After a '$': the expansion, or "$" itself when no name follows. */
static int lex_dollar(struct lex *lx, char **out)
{
	size_t n = 0;
	const char *val;
	char *nm;

	if (*lx->p == '{') {
		lx->p++;
		return lex_braced(lx, out);
	}
	if (isdigit((unsigned char)*lx->p))
		n = 1;
	else if (isalpha((unsigned char)*lx->p) || *lx->p == '_')
		while (is_name_char(lx->p[n]))
			n++;
	if (n == 0) {
		*out = xstrdup("$");
		return 0;
	}
	nm = xstrndup(lx->p, n);
	lx->p += n;
	val = lx->lookup ? lx->lookup(nm, lx->arg) : NULL;
	*out = xstrdup(val ? val : "");
	free(nm);
	return 0;
}

static int lex_double_quoted(struct lex *lx, struct words *w)
{
	char *v;

	w->have = true;
	for (;;) {
		char c = *lx->p;

		if (!c)
			return stk_err_set(
				lx->err, 0,
				"unexpected end of statement while looking for matching double-quote");
		lx->p++;
		if (c == '"')
			return 0;
		if (c == lx->esc) {
			char nx = *lx->p;

			if (nx == '"' || nx == '$' || nx == lx->esc) {
				strbuf_addc(&w->cur, nx);
				lx->p++;
			} else if (nx) {
				strbuf_addc(&w->cur, c);
			}
			continue;
		}
		if (c == '$') {
			if (lex_dollar(lx, &v) < 0)
				return -1;
			strbuf_adds(&w->cur, v);
			free(v);
			continue;
		}
		strbuf_addc(&w->cur, c);
	}
}

static int lex_single_quoted(struct lex *lx, struct words *w)
{
	const char *end = strchr(lx->p, '\'');

	if (!end)
		return stk_err_set(
			lx->err, 0,
			"unexpected end of statement while looking for matching single-quote");
	strbuf_addn(&w->cur, lx->p, (size_t)(end - lx->p));
	w->have = true;
	lx->p = end + 1;
	return 0;
}

/* Processes up to `stop` (consumed; 0 = end of text). */
static int lex_until(struct lex *lx, char stop, struct words *w)
{
	char *v;

	for (;;) {
		char c = *lx->p;

		if (!c) {
			if (stop)
				return stk_err_set(lx->err, 0, "missing '%c' in substitution",
						   stop);
			words_push(w);
			return 0;
		}
		lx->p++;
		if (stop && c == stop)
			return 0;
		if (c == lx->esc) {
			if (*lx->p) {
				strbuf_addc(&w->cur, *lx->p++);
				w->have = true;
			}
		} else if (c == '\'') {
			if (lex_single_quoted(lx, w) < 0)
				return -1;
		} else if (c == '"') {
			if (lex_double_quoted(lx, w) < 0)
				return -1;
		} else if (c == '$') {
			if (lex_dollar(lx, &v) < 0)
				return -1;
			words_add(w, v, false);
			free(v);
		} else if (w->split && isspace((unsigned char)c)) {
			words_push(w);
		} else {
			strbuf_addc(&w->cur, c);
			w->have = true;
		}
	}
}

static int lex_run(const char *s, char escape, df_lookup_fn lookup, void *arg, bool split,
		   struct words *w, struct stk_err *err)
{
	struct lex lx = {.p = s, .esc = escape, .lookup = lookup, .arg = arg, .err = err};

	strbuf_init(&w->cur);
	w->split = split;
	if (lex_until(&lx, 0, w) < 0) {
		strbuf_free(&w->cur);
		df_strv_free(w->v, w->n);
		return -1;
	}
	strbuf_free(&w->cur);
	return 0;
}

int df_word(const char *s, char escape, df_lookup_fn lookup, void *arg, char **out,
	    struct stk_err *err)
{
	struct words w = {0};

	if (lex_run(s, escape, lookup, arg, false, &w, err) < 0)
		return -1;
	*out = w.n ? steal(&w.v[0]) : xstrdup("");
	df_strv_free(w.v, w.n);
	return 0;
}

int df_words(const char *s, char escape, df_lookup_fn lookup, void *arg, char ***out, size_t *n,
	     struct stk_err *err)
{
	struct words w = {0};

	if (lex_run(s, escape, lookup, arg, true, &w, err) < 0)
		return -1;
	if (!w.v)
		w.v = xcalloc(1, sizeof(*w.v));
	*out = w.v;
	*n = w.n;
	return 0;
}

void df_strv_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

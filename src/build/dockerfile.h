/* The Dockerfile front end, private to src/build/: text -> stages of typed
 * instructions, and Docker's word expansion ($a, ${a}, ${a:-b}, ${a:+b}, quotes,
 * escapes) that the executor applies to the instructions Docker expands. */
#ifndef STK_BUILD_DOCKERFILE_H
#define STK_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

enum df_kind {
	DF_FROM,
	DF_RUN,
	DF_CMD,
	DF_ENTRYPOINT,
	DF_SHELL,
	DF_COPY,
	DF_ADD,
	DF_ENV,
	DF_ARG,
	DF_LABEL,
	DF_EXPOSE,
	DF_VOLUME,
	DF_USER,
	DF_WORKDIR,
	DF_STOPSIGNAL,
	DF_HEALTHCHECK,
	DF_ONBUILD,
	DF_MAINTAINER,
};

/* "--from=build" -> {"from", "build"}; "--link" -> {"link", NULL}. */
struct df_flag {
	char *name, *value;
};

/* RUN <<EOF / COPY <<EOF: the body, read up to the delimiter line. */
struct df_heredoc {
	char *name; /* the delimiter as written, quotes removed */
	char *content; /* every line with its newline; leading tabs gone with <<- */
	bool expand; /* unquoted delimiter: the body is subject to expansion */
};

struct df_instr {
	enum df_kind kind;
	unsigned line; /* first line of the instruction */
	char *original; /* "RUN make all", continuations joined: history and cache key */
	struct df_flag *flags;
	size_t nflags;
	/* Exec (JSON) form: the array. Shell form: RUN/CMD/ENTRYPOINT one string, the
	 * command; ENV/LABEL pairs key,value,... (values raw: expand with df_word);
	 * FROM image[,name]; HEALTHCHECK "NONE" or "CMD" then the command form; every
	 * other instruction its raw words (expand each with df_word). */
	bool json;
	char **args;
	size_t nargs;
	struct df_heredoc *heredocs;
	size_t nheredocs;
};

struct df_stage {
	char *base; /* raw image word (expand with the meta ARGs) */
	char *name; /* "AS name", lowercased; NULL when unnamed */
	unsigned line;
	struct df_instr *v; /* the FROM itself is v[0] */
	size_t n;
};

struct dockerfile {
	char *path; /* for messages: "Dockerfile" */
	char escape; /* '\\' or '`' */
	struct df_instr *meta_args; /* ARG before the first FROM */
	size_t nmeta_args;
	struct df_stage *stages;
	size_t nstages;
};

/* Parses the whole text; errors read "PATH:LINE: ...". */
int df_parse(const char *path, const char *text, size_t len, struct dockerfile *out,
	     struct stk_err *err);
void df_free(struct dockerfile *df);
const char *df_kind_name(enum df_kind k);
/* The value of a flag, NULL if absent; *present tells a bare flag from an absent one. */
const char *df_flag_get(const struct df_instr *in, const char *name, bool *present);

/* Variable lookup for expansion: NULL when unset. */
typedef const char *(*df_lookup_fn)(const char *name, void *arg);

/* One word, quotes removed, variables expanded (Docker's ProcessWord). */
int df_word(const char *s, char escape, df_lookup_fn lookup, void *arg, char **out,
	    struct stk_err *err);
/* Splits on unquoted whitespace after expansion (Docker's ProcessWords). */
int df_words(const char *s, char escape, df_lookup_fn lookup, void *arg, char ***out, size_t *n,
	     struct stk_err *err);
void df_strv_free(char **v, size_t n);

#endif

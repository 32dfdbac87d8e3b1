/* Unit tests for src/build: the Dockerfile parser and word expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "build/dockerfile.h"
#include "util/str.h"

static int parse(const char *text, struct dockerfile *df, struct stk_err *err)
{
	stk_err_clear(err);
	return df_parse("Dockerfile", text, strlen(text), df, err);
}

static void parse_ok(const char *text, struct dockerfile *df)
{
	struct stk_err err;

	if (parse(text, df, &err) < 0)
		fail_msg("%s", err.msg);
}

static void parse_fails(const char *text, const char *want)
{
	struct dockerfile df;
	struct stk_err err;

	assert_int_equal(parse(text, &df, &err), -1);
	if (!strstr(err.msg, want))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
}

static const char *vars(const char *name, void *arg)
{
	const char *const *kv = arg;

	for (; kv[0]; kv += 2)
		if (strcmp(kv[0], name) == 0)
			return kv[1];
	return NULL;
}

static const char *const env[] = {"a", "A", "sp", "x y", "empty", "", NULL};

static void expands_to(const char *in, const char *want)
{
	struct stk_err err;
	char *out;

	if (df_word(in, '\\', vars, (void *)env, &out, &err) < 0)
		fail_msg("%s: %s", in, err.msg);
	if (strcmp(out, want) != 0)
		fail_msg("%s -> \"%s\", want \"%s\"", in, out, want);
	free(out);
}

static void test_words_expand_like_docker(void **state)
{
	(void)state;
	expands_to("$a", "A");
	expands_to("${a}b", "Ab");
	expands_to("${nope:-def}", "def");
	expands_to("${empty:-def}", "def");
	expands_to("${empty-def}", "");
	expands_to("${a:-def}", "A");
	expands_to("${a:+alt}", "alt");
	expands_to("${nope:+alt}", "");
	expands_to("${empty+alt}", "alt");
	expands_to("${nope:-${a}x}", "Ax");
	expands_to("'$a'", "$a");
	expands_to("\"$a $sp\"", "A x y");
	expands_to("\\$a", "$a");
	expands_to("\"\\$a\\n\"", "$a\\n");
	expands_to("$", "$");
	expands_to("a$-b", "a$-b");
	expands_to("$nope", "");
}

static void test_words_split_unquoted_only(void **state)
{
	struct stk_err err;
	char **w;
	size_t n;

	(void)state;
	assert_int_equal(df_words("one \"two three\" $sp ''", '\\', vars, (void *)env, &w, &n,
				  &err),
			 0);
	assert_int_equal(n, 5);
	assert_string_equal(w[0], "one");
	assert_string_equal(w[1], "two three");
	assert_string_equal(w[2], "x");
	assert_string_equal(w[3], "y");
	assert_string_equal(w[4], "");
	df_strv_free(w, n);
}

static void test_words_report_bad_substitution(void **state)
{
	struct stk_err err;
	char *out = NULL;

	(void)state;
	assert_int_equal(df_word("${a", '\\', vars, (void *)env, &out, &err), -1);
	assert_non_null(strstr(err.msg, "missing '}'"));
	assert_int_equal(df_word("${a/x}", '\\', vars, (void *)env, &out, &err), -1);
	assert_non_null(strstr(err.msg, "unsupported modifier"));
	assert_int_equal(df_word("${nope:?must be set}", '\\', vars, (void *)env, &out, &err), -1);
	assert_non_null(strstr(err.msg, "must be set"));
	assert_int_equal(df_word("\"open", '\\', vars, (void *)env, &out, &err), -1);
	assert_int_equal(df_word("'open", '\\', vars, (void *)env, &out, &err), -1);
}

static void test_parse_stages_names_and_meta_args(void **state)
{
	struct dockerfile df;

	(void)state;
	parse_ok("ARG BASE=busybox\n"
		 "FROM ${BASE} AS Build\n"
		 "RUN echo hi\n"
		 "\n"
		 "from build\n"
		 "copy --from=build /a /b\n",
		 &df);
	assert_int_equal(df.nmeta_args, 1);
	assert_string_equal(df.meta_args[0].args[0], "BASE=busybox");
	assert_int_equal(df.nstages, 2);
	assert_string_equal(df.stages[0].base, "${BASE}");
	assert_string_equal(df.stages[0].name, "build");
	assert_int_equal(df.stages[0].n, 2);
	assert_int_equal(df.stages[0].v[1].kind, DF_RUN);
	assert_int_equal(df.stages[0].v[1].line, 3);
	assert_null(df.stages[1].name);
	assert_int_equal(df.stages[1].v[1].kind, DF_COPY);
	assert_string_equal(df_flag_get(&df.stages[1].v[1], "from", NULL), "build");
	assert_int_equal(df.stages[1].v[1].nargs, 2);
	df_free(&df);
}

static void test_parse_continuations_skip_comments_and_blank_lines(void **state)
{
	struct dockerfile df;
	const struct df_instr *run;

	(void)state;
	parse_ok("FROM scratch\n"
		 "RUN echo a \\\n"
		 "# a comment inside\n"
		 "\n"
		 "    && echo b \\\n"
		 "  && echo c\n"
		 "# trailing comment\n",
		 &df);
	run = &df.stages[0].v[1];
	assert_false(run->json);
	assert_string_equal(run->args[0], "echo a     && echo b   && echo c");
	assert_string_equal(run->original, "RUN echo a     && echo b   && echo c");
	df_free(&df);
}

static void test_parse_escape_directive_backtick(void **state)
{
	struct dockerfile df;

	(void)state;
	parse_ok("# syntax=docker/dockerfile:1\n"
		 "# escape=`\n"
		 "FROM scratch\n"
		 "RUN dir c:\\ `\n"
		 "  /w\n",
		 &df);
	assert_int_equal(df.escape, '`');
	assert_string_equal(df.stages[0].v[1].args[0], "dir c:\\   /w");
	df_free(&df);
	/* After the first instruction a directive is only a comment. */
	parse_ok("FROM scratch\n# escape=`\nRUN a \\\n b\n", &df);
	assert_int_equal(df.escape, '\\');
	assert_string_equal(df.stages[0].v[1].args[0], "a  b");
	df_free(&df);
	parse_fails("# escape=x\nFROM scratch\n", "invalid escape token");
}

static void test_parse_exec_and_shell_forms(void **state)
{
	struct dockerfile df;
	const struct df_stage *st;

	(void)state;
	parse_ok("FROM scratch\n"
		 "CMD [\"echo\", \"hi there\"]\n"
		 "ENTRYPOINT echo [not json\n"
		 "SHELL [\"/bin/sh\", \"-ec\"]\n"
		 "RUN --network=none [\"/bin/true\"]\n"
		 "VOLUME /a /b\n"
		 "VOLUME [\"/c\"]\n",
		 &df);
	st = &df.stages[0];
	assert_true(st->v[1].json);
	assert_int_equal(st->v[1].nargs, 2);
	assert_string_equal(st->v[1].args[1], "hi there");
	assert_false(st->v[2].json);
	assert_string_equal(st->v[2].args[0], "echo [not json");
	assert_true(st->v[3].json);
	assert_true(st->v[4].json);
	assert_string_equal(df_flag_get(&st->v[4], "network", NULL), "none");
	assert_int_equal(st->v[5].nargs, 2);
	assert_true(st->v[6].json);
	df_free(&df);
	parse_fails("FROM scratch\nSHELL /bin/sh -c\n",
		    "Dockerfile:2: SHELL requires the arguments to be in JSON form");
}

static void test_parse_env_and_label_pairs(void **state)
{
	struct dockerfile df;
	const struct df_stage *st;

	(void)state;
	parse_ok("FROM scratch\n"
		 "ENV a=1 b=\"two words\" c=x\\ y\n"
		 "ENV legacy the rest  of it\n"
		 "LABEL \"com.example\"=v\n",
		 &df);
	st = &df.stages[0];
	assert_int_equal(st->v[1].nargs, 6);
	assert_string_equal(st->v[1].args[2], "b");
	assert_string_equal(st->v[1].args[3], "\"two words\"");
	assert_string_equal(st->v[1].args[5], "x\\ y");
	assert_int_equal(st->v[2].nargs, 2);
	assert_string_equal(st->v[2].args[0], "legacy");
	assert_string_equal(st->v[2].args[1], "the rest  of it");
	assert_string_equal(st->v[3].args[0], "\"com.example\"");
	df_free(&df);
	parse_fails("FROM scratch\nENV a=1 b\n",
		    "Dockerfile:2: syntax error - can't find = in \"b\"");
	parse_fails("FROM scratch\nENV =1\n", "ENV names can not be blank");
	parse_fails("FROM scratch\nENV a\n", "ENV must have two arguments");
	parse_fails("FROM scratch\nLABEL a=\"open\n", "unmatched \" quote");
}

static void test_parse_heredocs(void **state)
{
	struct dockerfile df;
	const struct df_stage *st;

	(void)state;
	parse_ok("FROM scratch\n"
		 "RUN <<EOF\n"
		 "echo $HOME\n"
		 "EOF\n"
		 "COPY <<-'A' <<B /dst/\n"
		 "\tone $x\n"
		 "\tA\n"
		 "two\n"
		 "B\n"
		 "CMD x\n",
		 &df);
	st = &df.stages[0];
	assert_int_equal(st->n, 4);
	assert_int_equal(st->v[1].nheredocs, 1);
	assert_string_equal(st->v[1].heredocs[0].name, "EOF");
	assert_string_equal(st->v[1].heredocs[0].content, "echo $HOME\n");
	assert_true(st->v[1].heredocs[0].expand);
	assert_int_equal(st->v[2].nheredocs, 2);
	assert_string_equal(st->v[2].heredocs[0].name, "A");
	assert_string_equal(st->v[2].heredocs[0].content, "one $x\n");
	assert_false(st->v[2].heredocs[0].expand);
	assert_string_equal(st->v[2].heredocs[1].content, "two\n");
	assert_int_equal(st->v[2].nargs, 3);
	assert_int_equal(st->v[3].kind, DF_CMD);
	assert_int_equal(st->v[3].line, 10);
	df_free(&df);
	parse_fails("FROM scratch\nRUN <<EOF\necho\n",
		    "Dockerfile:2: heredoc \"EOF\" is not terminated");
}

static void test_parse_healthcheck_onbuild_and_flags(void **state)
{
	struct dockerfile df;
	const struct df_stage *st;

	(void)state;
	parse_ok("FROM --platform=linux/amd64 scratch\n"
		 "HEALTHCHECK --interval=5s --retries=3 CMD [\"true\"]\n"
		 "HEALTHCHECK NONE\n"
		 "ONBUILD RUN make\n"
		 "COPY --chown=1:2 --chmod=0755 --link a b\n",
		 &df);
	st = &df.stages[0];
	assert_string_equal(df_flag_get(&st->v[0], "platform", NULL), "linux/amd64");
	assert_string_equal(st->v[1].args[0], "CMD");
	assert_true(st->v[1].json);
	assert_string_equal(st->v[1].args[1], "true");
	assert_string_equal(df_flag_get(&st->v[1], "interval", NULL), "5s");
	assert_string_equal(st->v[2].args[0], "NONE");
	assert_string_equal(st->v[3].args[0], "RUN make");
	bool present;
	assert_null(df_flag_get(&st->v[4], "link", &present));
	assert_true(present);
	assert_string_equal(df_flag_get(&st->v[4], "chmod", NULL), "0755");
	df_free(&df);
	parse_fails("FROM scratch\nHEALTHCHECK PING x\n", "unknown type for HEALTHCHECK");
	parse_fails("FROM scratch\nONBUILD FROM x\n", "FROM isn't allowed as an ONBUILD trigger");
	parse_fails("FROM scratch\nWORKDIR --x=1 /a\n", "WORKDIR does not take flags");
}

static void test_parse_errors_name_file_and_line(void **state)
{
	(void)state;
	parse_fails("FROM scratch\n\nFOO bar\n", "Dockerfile:3: unknown instruction: FOO");
	parse_fails("RUN x\nFROM scratch\n", "Dockerfile:1: no build stage in current context");
	parse_fails("# only a comment\n", "file with no instructions");
	parse_fails("FROM a b\n", "FROM requires either one or three arguments");
	parse_fails("FROM a AS 1x\n", "invalid name for build stage");
	parse_fails("FROM a AS x\nFROM b AS x\n", "Dockerfile:2: duplicate stage name \"x\"");
	parse_fails("FROM scratch\nCOPY onlyone\n", "COPY requires at least two arguments");
	parse_fails("FROM scratch\nWORKDIR\n", "WORKDIR requires at least one argument");
	parse_fails("FROM scratch\nRUN\n", "RUN requires at least one argument");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_expand_like_docker),
		cmocka_unit_test(test_words_split_unquoted_only),
		cmocka_unit_test(test_words_report_bad_substitution),
		cmocka_unit_test(test_parse_stages_names_and_meta_args),
		cmocka_unit_test(test_parse_continuations_skip_comments_and_blank_lines),
		cmocka_unit_test(test_parse_escape_directive_backtick),
		cmocka_unit_test(test_parse_exec_and_shell_forms),
		cmocka_unit_test(test_parse_env_and_label_pairs),
		cmocka_unit_test(test_parse_heredocs),
		cmocka_unit_test(test_parse_healthcheck_onbuild_and_flags),
		cmocka_unit_test(test_parse_errors_name_file_and_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

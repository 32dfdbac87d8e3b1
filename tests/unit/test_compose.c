/* Unit tests for compose/: YAML loading, interpolation, dotenv. The whole front end is
 * tested end to end through `stack config` in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compose/interp.h"
#include "compose/node.h"

static const char *test_lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (strcmp(name, "SET") == 0)
		return "value";
	if (strcmp(name, "EMPTY") == 0)
		return "";
	return NULL;
}

static void expect_interp(const char *in, const char *out)
{
	struct interp_result r;

	assert_int_equal(interp_string(in, test_lookup, NULL, &r), 0);
	assert_string_equal(r.value, out);
	interp_result_free(&r);
}

static void expect_interp_error(const char *in, const char *fragment)
{
	struct interp_result r;

	assert_int_equal(interp_string(in, test_lookup, NULL, &r), -1);
	assert_non_null(strstr(r.error, fragment));
	interp_result_free(&r);
}

static void test_interp_forms(void **state)
{
	(void)state;
	expect_interp("$SET", "value");
	expect_interp("${SET}", "value");
	expect_interp("a${SET}b", "avalueb");
	expect_interp("${UNSET:-dflt}", "dflt");
	expect_interp("${EMPTY:-dflt}", "dflt");
	expect_interp("${EMPTY-dflt}", "");
	expect_interp("${UNSET-dflt}", "dflt");
	expect_interp("${SET:+alt}", "alt");
	expect_interp("${EMPTY:+alt}", "");
	expect_interp("${EMPTY+alt}", "alt");
	expect_interp("${UNSET+alt}", "");
	expect_interp("${UNSET:-${SET}}", "value");
	expect_interp("${UNSET:-${ALSO:-deep}}", "deep");
	expect_interp("$$SET", "$SET");
	expect_interp("cost: $$5", "cost: $5");
	expect_interp("${SET:?must}", "value");
}

static void test_interp_errors(void **state)
{
	(void)state;
	expect_interp_error("${UNSET:?is required}", "required variable UNSET is missing a value: "
						     "is required");
	expect_interp_error("${EMPTY:?}", "required variable EMPTY");
	expect_interp_error("${UNSET?x}", "required variable UNSET");
	expect_interp_error("${SET", "missing closing brace");
	expect_interp_error("${}", "invalid interpolation format");
	expect_interp_error("$ 5", "escape any $");
	expect_interp_error("${SET*x}", "unknown operator");
}

static void test_interp_reports_unset(void **state)
{
	struct interp_result r;

	(void)state;
	assert_int_equal(interp_string("$A and ${B} and ${A}", test_lookup, NULL, &r), 0);
	assert_string_equal(r.value, " and  and ");
	assert_int_equal(r.nunset, 2);
	assert_string_equal(r.unset[0], "A");
	assert_string_equal(r.unset[1], "B");
	interp_result_free(&r);
}

static void test_dotenv_forms(void **state)
{
	struct envset e = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(dotenv_parse("# comment\n"
				      "A=1\n"
				      "export B = two words # note\n"
				      "C='single $SET'\n"
				      "D=\"line\\nnext ${SET}\"\n"
				      "E=${A}x\n"
				      "F=\"multi\nline\"\n"
				      "SET\n"
				      "G=\n",
				      false, test_lookup, NULL, &e, &err),
			 0);
	assert_string_equal(envset_get(&e, "A"), "1");
	assert_string_equal(envset_get(&e, "B"), "two words");
	assert_string_equal(envset_get(&e, "C"), "single $SET");
	assert_string_equal(envset_get(&e, "D"), "line\nnext value");
	assert_string_equal(envset_get(&e, "E"), "1x");
	assert_string_equal(envset_get(&e, "F"), "multi\nline");
	assert_string_equal(envset_get(&e, "SET"), "value");
	assert_string_equal(envset_get(&e, "G"), "");
	envset_free(&e);
}

static void test_dotenv_errors_name_the_line(void **state)
{
	struct envset e = {0};
	char *err = NULL;

	(void)state;
	assert_int_equal(dotenv_parse("A=1\nB C=2\n", false, NULL, NULL, &e, &err), -1);
	assert_non_null(strstr(err, "line 2"));
	free(err);
	envset_free(&e);
}

static struct node *load_one(const char *text, struct compose_diags *d, struct diag_ctx *dc)
{
	struct node **docs = NULL, *n;

	memset(dc, 0, sizeof(*dc));
	dc->diags = d;
	if (compose_yaml_load(dc, "t.yaml", text, strlen(text), &docs) != 1)
		return NULL;
	n = docs[0];
	free(docs);
	return n;
}

static void free_ctx(struct diag_ctx *dc, struct compose_diags *d)
{
	size_t i;

	for (i = 0; i < dc->nfiles; i++)
		free(dc->files[i]);
	free(dc->files);
	compose_diags_free(d);
}

static void test_yaml_merge_keys_and_anchors(void **state)
{
	struct compose_diags d = {0};
	struct diag_ctx dc;
	struct node *n, *b;

	(void)state;
	n = load_one("base: &b {x: 1, y: 2}\n"
		     "other: &o {z: 3}\n"
		     "svc:\n  <<: [*b, *o]\n  y: 9\n",
		     &d, &dc);
	assert_non_null(n);
	b = node_map_get(n, "svc");
	assert_string_equal(node_map_get(b, "x")->str, "1");
	assert_string_equal(node_map_get(b, "y")->str, "9");
	assert_string_equal(node_map_get(b, "z")->str, "3");
	assert_int_equal(node_map_get(b, "x")->stype, SC_INT);
	node_free(n);
	free_ctx(&dc, &d);
}

static void test_yaml_duplicate_key_is_an_error(void **state)
{
	struct compose_diags d = {0};
	struct diag_ctx dc;

	(void)state;
	assert_null(load_one("a: 1\nb: 2\na: 3\n", &d, &dc));
	assert_int_equal(d.n, 1);
	assert_int_equal(d.v[0].line, 3);
	assert_int_equal(d.v[0].col, 1);
	assert_non_null(strstr(d.v[0].msg, "duplicate key \"a\" (first defined at line 1)"));
	free_ctx(&dc, &d);
}

static void test_yaml_alias_bomb_is_refused(void **state)
{
	struct compose_diags d = {0};
	struct diag_ctx dc;

	(void)state;
	assert_null(load_one("a: &a [x,x,x,x,x,x,x,x,x,x]\n"
			     "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
			     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
			     "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
			     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
			     "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
			     "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
			     &d, &dc));
	assert_non_null(strstr(d.v[0].msg, "too large"));
	free_ctx(&dc, &d);
}

static void test_scalar_resolution(void **state)
{
	(void)state;
	assert_int_equal(scalar_resolve("8080"), SC_INT);
	assert_int_equal(scalar_resolve("0755"), SC_INT);
	assert_int_equal(scalar_resolve("0x1F"), SC_INT);
	assert_int_equal(scalar_resolve("1.5"), SC_FLOAT);
	assert_int_equal(scalar_resolve("true"), SC_BOOL);
	assert_int_equal(scalar_resolve("yes"), SC_STR);
	assert_int_equal(scalar_resolve("~"), SC_NULL);
	assert_int_equal(scalar_resolve("8080:80"), SC_STR);
	assert_int_equal(scalar_resolve("1e3"), SC_FLOAT);
	assert_int_equal(scalar_resolve("e3"), SC_STR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interp_forms),
		cmocka_unit_test(test_interp_errors),
		cmocka_unit_test(test_interp_reports_unset),
		cmocka_unit_test(test_dotenv_forms),
		cmocka_unit_test(test_dotenv_errors_name_the_line),
		cmocka_unit_test(test_yaml_merge_keys_and_anchors),
		cmocka_unit_test(test_yaml_duplicate_key_is_an_error),
		cmocka_unit_test(test_yaml_alias_bomb_is_refused),
		cmocka_unit_test(test_scalar_resolution),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for compose/: YAML loading, interpolation, dotenv. The whole front end is
 * tested end to end through `stack config` in tests/integration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "compose/compose.h"
#include "compose/internal.h"
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
	struct interp_result r = {0};

	assert_int_equal(interp_string(in, test_lookup, NULL, &r), 0);
	assert_string_equal(r.value, out);
	interp_result_free(&r);
}

static void expect_interp_error(const char *in, const char *fragment)
{
	struct interp_result r = {0};

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
	/* a '$' no name can follow is text, as in compose-go */
	expect_interp("for i in $(seq 10)", "for i in $(seq 10)");
	expect_interp("$1 $ 5 $-x end$", "$1 $ 5 $-x end$");
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
	expect_interp_error("${SET*x}", "unknown operator");
}

static void test_interp_reports_unset(void **state)
{
	struct interp_result r = {0};

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
	assert_non_null(strstr(err, "2:3: unexpected character"));
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

static void expect_duration(const char *in, const char *out)
{
	long long ns;
	char *s;

	assert_true(compose_parse_duration(in, &ns));
	s = compose_format_duration(ns);
	assert_string_equal(s, out);
	free(s);
}

static void test_durations_print_as_go_does(void **state)
{
	long long ns;

	(void)state;
	expect_duration("90s", "1m30s");
	expect_duration("1h", "1h0m0s");
	expect_duration("500ms", "500ms");
	expect_duration("1.5s", "1.5s");
	expect_duration("1m30s", "1m30s");
	expect_duration("2h45m", "2h45m0s");
	expect_duration("1500us", "1.5ms");
	expect_duration("0", "0s");
	expect_duration("10ns", "10ns");
	assert_false(compose_parse_duration("30", &ns));
	assert_false(compose_parse_duration("1x", &ns));
	assert_false(compose_parse_duration("", &ns));
	assert_false(compose_parse_duration("s", &ns));
}

static void test_byte_sizes(void **state)
{
	long long b;

	(void)state;
	assert_true(compose_parse_bytes("512m", &b));
	assert_int_equal(b, 512LL << 20);
	assert_true(compose_parse_bytes("1g", &b));
	assert_int_equal(b, 1LL << 30);
	assert_true(compose_parse_bytes("1.5GB", &b));
	assert_int_equal(b, 3LL << 29);
	assert_true(compose_parse_bytes("100", &b));
	assert_int_equal(b, 100);
	assert_true(compose_parse_bytes("64KiB", &b));
	assert_int_equal(b, 64 << 10);
	assert_false(compose_parse_bytes("12x", &b));
	assert_false(compose_parse_bytes("m", &b));
	assert_false(compose_parse_bytes("-5m", &b));
}

static struct node *yaml(const char *text, struct diag_ctx *dc)
{
	struct node **docs = NULL, *n;

	assert_int_equal(compose_yaml_load(dc, "t.yaml", text, strlen(text), &docs), 1);
	n = docs[0];
	free(docs);
	return n;
}

static void test_merge_rules(void **state)
{
	struct compose_diags d = {0};
	struct diag_ctx dc = {.diags = &d};
	struct compose_options opt = {0};
	struct load_ctx lc = {.dc = &dc, .opt = &opt, .workdir = (char *)"/p"};
	struct node *a_doc, *b_doc, *a, *b, *web;

	(void)state;
	a_doc = yaml("services:\n  web:\n    image: a\n    command: x y\n"
		     "    ports: ['80:80', '443:443']\n    dns: [1.1.1.1]\n"
		     "    environment: {A: '1', B: '2'}\n    volumes: ['vol:/data']\n"
		     "    labels: {keep: me}\n",
		     &dc);
	b_doc = yaml("services:\n  web:\n    image: b\n    command: [z]\n"
		     "    ports: ['8080:80', '443:443']\n    dns: [1.1.1.1, 8.8.8.8]\n"
		     "    environment: [B=3]\n    volumes: ['./here:/data']\n"
		     "    labels: !reset {}\n",
		     &dc);
	a = compose_canonicalize(&lc, a_doc, "/p");
	b = compose_canonicalize(&lc, b_doc, "/p");
	assert_int_equal(dc.errors, 0);
	compose_merge(a, b);
	web = node_map_get(node_map_get(a, "services"), "web");
	assert_string_equal(node_map_get(web, "image")->str, "b");
	/* command replaced, not appended */
	assert_int_equal(node_map_get(web, "command")->len, 1);
	/* ports merged by (ip, target, published, protocol): 80:80, 443:443, 8080:80 */
	assert_int_equal(node_map_get(web, "ports")->len, 3);
	/* dns appended without duplicates */
	assert_int_equal(node_map_get(web, "dns")->len, 2);
	assert_string_equal(node_map_get(node_map_get(web, "environment"), "A")->str, "1");
	assert_string_equal(node_map_get(node_map_get(web, "environment"), "B")->str, "3");
	/* volumes merged by target: the bind replaces the volume */
	assert_int_equal(node_map_get(web, "volumes")->len, 1);
	assert_string_equal(node_map_get(node_map_get(web, "volumes")->items[0], "type")->str,
			    "bind");
	assert_null(node_map_get(web, "labels"));
	node_free(a);
	node_free(a_doc);
	node_free(b_doc);
	free_ctx(&dc, &d);
}

static void test_port_short_syntax(void **state)
{
	struct compose_diags d = {0};
	struct diag_ctx dc = {.diags = &d};
	struct compose_options opt = {0};
	struct load_ctx lc = {.dc = &dc, .opt = &opt, .workdir = (char *)"/p"};
	struct node *doc, *c, *ports;

	(void)state;
	doc = yaml("services:\n  s:\n    image: x\n    ports:\n"
		   "      - 3000\n      - 3000-3002\n      - '127.0.0.1::5000'\n"
		   "      - '[::1]:6001:6001/udp'\n      - '9090-9091:8080-8081'\n",
		   &dc);
	c = compose_canonicalize(&lc, doc, "/p");
	assert_non_null(c);
	ports = node_map_get(node_map_get(node_map_get(c, "services"), "s"), "ports");
	assert_int_equal(ports->len, 8);
	assert_null(node_map_get(ports->items[0], "published"));
	assert_string_equal(node_map_get(ports->items[3], "target")->str, "3002");
	assert_string_equal(node_map_get(ports->items[4], "host_ip")->str, "127.0.0.1");
	assert_null(node_map_get(ports->items[4], "published"));
	assert_string_equal(node_map_get(ports->items[5], "host_ip")->str, "::1");
	assert_string_equal(node_map_get(ports->items[5], "protocol")->str, "udp");
	assert_string_equal(node_map_get(ports->items[7], "published")->str, "9091");
	assert_string_equal(node_map_get(ports->items[7], "target")->str, "8081");
	node_free(c);
	node_free(doc);
	free_ctx(&dc, &d);
}

/* Leave garbage where the next calls will have their frames, so that a local read
 * before it is written holds a wild pointer rather than a lucky NULL. */
static __attribute__((noinline)) void dirty_the_stack(void)
{
	volatile unsigned char junk[64 * 1024];

	memset((unsigned char *)junk, 0xa5, sizeof(junk));
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* The regression of `stack config` crashing on 22-secrets-configs: a file that uses
 * COMPOSE_PROJECT_NAME while one of its documents has no scalar `name`. */
static void test_project_name_variable_without_name_attribute_loads(void **state)
{
	char dir[] = "/tmp/stk-compose-test-XXXXXX";
	char *const env[] = {(char *)"A=1", NULL};
	struct compose_options opt = {.environ = env};
	struct compose_diags d = {0};
	struct compose_project *p = NULL;
	char *out;
	char path[600];
	int rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file(dir, "compose.yaml",
		   "services:\n  s:\n    image: x\n    environment:\n"
		   "      P: ${COMPOSE_PROJECT_NAME}\n"
		   "---\nname: [not, a, scalar]\n---\n- a list\n");
	opt.cwd = dir;
	dirty_the_stack();
	rc = compose_project_load(&opt, &p, &d);
	/* the second document's `name` is not a string; the third is not a mapping */
	assert_int_equal(rc, -1);
	compose_diags_free(&d);

	write_file(dir, "compose.yaml",
		   "services:\n  s:\n    image: x\n    environment:\n"
		   "      P: ${COMPOSE_PROJECT_NAME}\n");
	dirty_the_stack();
	assert_int_equal(compose_project_load(&opt, &p, &d), 0);
	out = compose_project_render(p, COMPOSE_YAML);
	/* no `name:` anywhere: the directory's name is the project's */
	assert_non_null(strstr(out, "P: stk-compose-test-"));
	free(out);
	compose_project_free(p);
	compose_diags_free(&d);
	snprintf(path, sizeof(path), "%s/compose.yaml", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
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
		cmocka_unit_test(test_durations_print_as_go_does),
		cmocka_unit_test(test_byte_sizes),
		cmocka_unit_test(test_merge_rules),
		cmocka_unit_test(test_port_short_syntax),
		cmocka_unit_test(test_project_name_variable_without_name_attribute_loads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for src/util: error chaining, string buffers, edit distance, byte sizes. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/bytes.h"
#include "util/err.h"
#include "util/lazylib.h"
#include "util/str.h"

static void test_err_wrap_prefixes_context(void **state)
{
	struct stk_err err;

	(void)state;
	stk_err_set(&err, ENOENT, "open %s", "x.yaml");
	stk_err_wrap(&err, "service %s", "db");
	assert_string_equal(err.msg, "service db: open x.yaml");
	assert_int_equal(err.errnum, ENOENT);
}

static void test_err_sys_appends_strerror(void **state)
{
	struct stk_err err;

	(void)state;
	errno = ENOENT;
	stk_err_sys(&err, "mount %s", "/data");
	assert_string_equal(err.msg, "mount /data: No such file or directory");
}

static void test_strbuf_grows_and_formats(void **state)
{
	struct strbuf sb;
	char *s;
	int i;

	(void)state;
	strbuf_init(&sb);
	for (i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%d,", i % 10);
	assert_int_equal(sb.len, 2000);
	s = strbuf_take(&sb);
	assert_memory_equal(s, "0,1,2,", 6);
	assert_null(sb.buf);
	free(s);
}

static void test_edit_distance(void **state)
{
	(void)state;
	assert_int_equal(str_edit_distance("image", "imgae"), 2);
	assert_int_equal(str_edit_distance("ports", "port"), 1);
	assert_int_equal(str_edit_distance("", "abc"), 3);
}

static void test_xstrndup_stops_at_the_end_of_a_short_string(void **state)
{
	char short_id[4] = {'a', 'b', 'c', '\0'};
	char *s;

	(void)state;
	/* Only 4 bytes exist: under ASan a copy of 12 would be a read overflow. */
	s = xstrndup(short_id, 12);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("abcdef", 2);
	assert_string_equal(s, "ab");
	free(s);
}

/* The loader behind util/lazy_<lib>.h, on libraries every system has or none has. */
static size_t (*lazy_strlen)(const char *);

static const char *resolve_strlen(void *handle)
{
	lazy_strlen = (size_t(*)(const char *))dlsym(handle, "strlen");
	return lazy_strlen ? NULL : "strlen";
}

static const char *resolve_missing(void *handle)
{
	return dlsym(handle, "stk_no_such_function") ? NULL : "stk_no_such_function";
}

static void test_lazylib_loads_once_and_resolves(void **state)
{
	struct stk_lazylib lib = {"libc.so.6", "libc6", resolve_strlen, 0, NULL};
	struct stk_err err = {0};

	(void)state;
	assert_int_equal(stk_lazylib_load(&lib, &err), 0);
	assert_int_equal(lib.loaded, 1);
	assert_int_equal(lazy_strlen("four"), 4);
	lazy_strlen = NULL;
	assert_int_equal(stk_lazylib_load(&lib, &err), 0);
	assert_null(lazy_strlen); /* not resolved again */
}

static void test_lazylib_unload_closes_and_the_next_load_resolves_again(void **state)
{
	struct stk_lazylib lib = {"libc.so.6", "libc6", resolve_strlen, 0, NULL};
	struct stk_err err = {0};

	(void)state;
	assert_int_equal(stk_lazylib_load(&lib, &err), 0);
	stk_lazylib_unload(&lib);
	assert_int_equal(lib.loaded, 0);
	assert_null(lib.handle);
	stk_lazylib_unload(&lib); /* not loaded: nothing happens */
	lazy_strlen = NULL;
	assert_int_equal(stk_lazylib_load(&lib, &err), 0);
	assert_int_equal(lib.loaded, 1);
	assert_int_equal(lazy_strlen("three"), 5);
	stk_lazylib_unload(&lib);
}

static void test_lazylib_missing_library_names_the_package(void **state)
{
	struct stk_lazylib lib = {"libstk-absent.so.9", "libstk-absent9", resolve_strlen, 0, NULL};
	struct stk_err err = {0};

	(void)state;
	assert_int_equal(stk_lazylib_load(&lib, &err), -1);
	assert_int_equal(lib.loaded, 0);
	assert_non_null(
		strstr(err.msg, "cannot load libstk-absent.so.9 (install libstk-absent9): "));
}

static void test_lazylib_missing_function_is_named(void **state)
{
	struct stk_lazylib lib = {"libc.so.6", "libc6", resolve_missing, 0, NULL};
	struct stk_err err = {0};

	(void)state;
	assert_int_equal(stk_lazylib_load(&lib, &err), -1);
	assert_int_equal(lib.loaded, 0);
	assert_string_equal(err.msg, "cannot load libc.so.6 (install libc6): no function "
				     "stk_no_such_function in libc.so.6");
}

static int64_t bytes_ok(const char *s)
{
	struct stk_err err;
	int64_t v = -1;

	if (stk_parse_bytes(s, "mem_limit", &v, &err) < 0)
		fail_msg("\"%s\": %s", s, err.msg);
	return v;
}

static void test_bytes_units_in_any_case_with_i_and_b(void **state)
{
	(void)state;
	assert_int_equal(bytes_ok("100"), 100);
	assert_int_equal(bytes_ok("100b"), 100);
	assert_int_equal(bytes_ok("100B"), 100);
	assert_int_equal(bytes_ok("2k"), 2048);
	assert_int_equal(bytes_ok("2K"), 2048);
	assert_int_equal(bytes_ok("2kb"), 2048);
	assert_int_equal(bytes_ok("2KiB"), 2048);
	assert_int_equal(bytes_ok("512m"), 512LL << 20);
	assert_int_equal(bytes_ok("512MB"), 512LL << 20);
	assert_int_equal(bytes_ok("512 mb"), 512LL << 20);
	assert_int_equal(bytes_ok("1g"), 1LL << 30);
	assert_int_equal(bytes_ok("1G"), 1LL << 30);
	assert_int_equal(bytes_ok("1t"), 1LL << 40);
	assert_int_equal(bytes_ok("1TB"), 1LL << 40);
	assert_int_equal(bytes_ok("2p"), 2LL << 50);
	assert_int_equal(bytes_ok("0"), 0);
	assert_int_equal(bytes_ok("12 "), 12); /* Docker's pattern allows the space alone */
}

static void test_bytes_fractions_are_exact_and_drop_the_partial_byte(void **state)
{
	(void)state;
	assert_int_equal(bytes_ok("1.5GB"), 3LL << 29);
	assert_int_equal(bytes_ok("0.5k"), 512);
	assert_int_equal(bytes_ok("1.3"), 1);
	assert_int_equal(bytes_ok("1.0000000000000000000001g"), 1LL << 30);
	/* 2^63 - 1 exactly: no float on the way */
	assert_int_equal(bytes_ok("9223372036854775807"), INT64_MAX);
	assert_int_equal(bytes_ok("8191.99999999999999p"), INT64_MAX - 11);
}

static void test_bytes_overflow_and_junk_are_errors_naming_the_field(void **state)
{
	static const char *const junk[] = {"",	  "m",	   "-1",   "1x",  "1.",
					   ".5",  "1.5.5", "1  m", "1mm", "1bb",
					   "1kk", "0x10",  "1e3",  " 1",  "+1"};
	struct stk_err err;
	int64_t v = 7;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		if (stk_parse_bytes(junk[i], "tmpfs_size", &v, &err) == 0)
			fail_msg("\"%s\" was accepted as %lld", junk[i], (long long)v);
		assert_int_equal(err.errnum, EINVAL);
		assert_non_null(strstr(err.msg, "tmpfs_size: invalid size"));
	}
	assert_int_equal(v, 7);
	assert_int_equal(stk_parse_bytes("9223372036854775808", "shm_size", &v, &err), -1);
	assert_int_equal(err.errnum, ERANGE);
	assert_string_equal(err.msg, "shm_size: size \"9223372036854775808\" is too large");
	assert_int_equal(stk_parse_bytes("8192p", "shm_size", &v, &err), -1);
	assert_int_equal(err.errnum, ERANGE);
	assert_int_equal(stk_parse_bytes("99999999999999999999999k", "shm_size", &v, &err), -1);
	assert_int_equal(err.errnum, ERANGE);
}

/* As go-units prints them in `docker stats` and `docker images`. */
static void test_sizes_print_as_docker_prints_them(void **state)
{
	char buf[32];

	(void)state;
	stk_human_size(0, buf, sizeof(buf));
	assert_string_equal(buf, "0B");
	stk_human_size(648, buf, sizeof(buf));
	assert_string_equal(buf, "648B");
	stk_human_size(1234, buf, sizeof(buf));
	assert_string_equal(buf, "1.23kB");
	stk_human_size(2010000, buf, sizeof(buf));
	assert_string_equal(buf, "2.01MB");
	stk_binary_size(1536 * 1024, buf, sizeof(buf));
	assert_string_equal(buf, "1.5MiB");
	stk_binary_size(64ULL << 20, buf, sizeof(buf));
	assert_string_equal(buf, "64MiB");
	stk_binary_size(1536, buf, sizeof(buf));
	assert_string_equal(buf, "1.5KiB");
	stk_binary_size(1000, buf, sizeof(buf));
	assert_string_equal(buf, "1000B");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_print_as_docker_prints_them),
		cmocka_unit_test(test_err_wrap_prefixes_context),
		cmocka_unit_test(test_bytes_units_in_any_case_with_i_and_b),
		cmocka_unit_test(test_bytes_fractions_are_exact_and_drop_the_partial_byte),
		cmocka_unit_test(test_bytes_overflow_and_junk_are_errors_naming_the_field),
		cmocka_unit_test(test_err_sys_appends_strerror),
		cmocka_unit_test(test_strbuf_grows_and_formats),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_xstrndup_stops_at_the_end_of_a_short_string),
		cmocka_unit_test(test_lazylib_loads_once_and_resolves),
		cmocka_unit_test(test_lazylib_unload_closes_and_the_next_load_resolves_again),
		cmocka_unit_test(test_lazylib_missing_library_names_the_package),
		cmocka_unit_test(test_lazylib_missing_function_is_named),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

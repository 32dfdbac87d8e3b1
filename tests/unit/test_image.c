/* Unit tests for src/image: references, manifests, the store, layer extraction. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static void check_ref(const char *in, const char *canonical, const char *familiar)
{
	struct image_ref r;
	struct stk_err err;
	char *c, *f;

	assert_int_equal(image_ref_parse(in, &r, &err), 0);
	c = image_ref_canonical(&r);
	f = image_ref_familiar_name(&r);
	assert_string_equal(c, canonical);
	assert_string_equal(f, familiar);
	free(c);
	free(f);
	image_ref_free(&r);
}

static void test_ref_defaults_to_docker_hub_library_latest(void **state)
{
	(void)state;
	check_ref("busybox", "docker.io/library/busybox:latest", "busybox");
	check_ref("postgres:16", "docker.io/library/postgres:16", "postgres");
	check_ref("team/app:1.0", "docker.io/team/app:1.0", "team/app");
	check_ref("docker.io/library/redis", "docker.io/library/redis:latest", "redis");
}

static void test_ref_registry_with_port_and_nested_path(void **state)
{
	(void)state;
	check_ref("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest", "127.0.0.1:5000/busybox");
	check_ref("localhost/a/b/c:v1.2-rc_3", "localhost/a/b/c:v1.2-rc_3", "localhost/a/b/c");
	check_ref("registry.example.com/x__y/z-w.q:t", "registry.example.com/x__y/z-w.q:t",
		  "registry.example.com/x__y/z-w.q");
}

static void test_ref_digest_without_tag(void **state)
{
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char in[200], want[200];
	struct image_ref r;
	struct stk_err err;

	(void)state;
	snprintf(in, sizeof(in), "busybox@%s", d);
	snprintf(want, sizeof(want), "docker.io/library/busybox@%s", d);
	check_ref(in, want, "busybox");
	snprintf(in, sizeof(in), "busybox:1@%s", d);
	assert_int_equal(image_ref_parse(in, &r, &err), 0);
	assert_string_equal(r.tag, "1");
	assert_string_equal(r.digest, d);
	image_ref_free(&r);
}

static void test_ref_rejects_invalid(void **state)
{
	static const char *const bad[] = {
		"", "Busybox", "busy box", "busybox:", "busybox:-x", "a//b", "-a", "a-", "a@sha256:12",
		"host:port/x", ":tag", "a/B", "a..b",
	};
	struct image_ref r;
	struct stk_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (image_ref_parse(bad[i], &r, &err) == 0) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			fail();
		}
	}
	assert_int_equal(image_ref_parse("Busybox", &r, &err), -1);
	assert_non_null(strstr(err.msg, "must be lowercase"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_defaults_to_docker_hub_library_latest),
		cmocka_unit_test(test_ref_registry_with_port_and_nested_path),
		cmocka_unit_test(test_ref_digest_without_tag),
		cmocka_unit_test(test_ref_rejects_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

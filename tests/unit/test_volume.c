/* Unit tests for src/volume: names, the record, and copy-up's merge of layers
 * (whiteouts, opaque directories, symlinks resolved inside the image). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "util/str.h"
#include "volume/volume.h"

static void test_compose_name_is_project_underscore_key_unless_name_given(void **state)
{
	char *a = volume_compose_name("shop", "pgdata", NULL);
	char *b = volume_compose_name("shop", "pgdata", "shared-data");

	(void)state;
	assert_string_equal(a, "shop_pgdata");
	assert_string_equal(b, "shared-data");
	free(a);
	free(b);
}

static void test_names_that_could_leave_the_volumes_dir_are_rejected(void **state)
{
	static const char *const bad[] = {"..", "../x", "a/b", "/abs", ".hidden",
					  "x",	"",	"a b", "-dash"};
	static const char *const good[] = {"pgdata", "shop_pgdata", "a.b-c_d", "0x"};
	struct stk_err err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(volume_name_check(bad[i], &err), -1);
	assert_non_null(strstr(err.msg, "invalid characters for a local volume name"));
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(volume_name_check(good[i], &err), 0);
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/stack-test-volume-XXXXXX");

	assert_non_null(mkdtemp(d));
	return d;
}

static void rmtree(char *d)
{
	nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static void test_create_is_idempotent_and_remove_needs_an_existing_volume(void **state)
{
	char *root = tmpdir();
	struct volume_kv label = {"com.docker.compose.project", "shop"};
	struct volume_create_opts o = {.name = "shop_db", .labels = &label, .nlabels = 1};
	struct volume *v, *w;
	struct volume **all;
	struct stk_err err;
	size_t n;
	bool created;

	(void)state;
	assert_int_equal(volume_create(root, &o, &v, &created, &err), 0);
	assert_true(created);
	assert_string_equal(volume_label(v, "com.docker.compose.project"), "shop");
	assert_int_equal(volume_create(root, &o, &w, &created, &err), 0);
	assert_false(created);
	assert_string_equal(w->created_at, v->created_at);
	assert_int_equal(volume_list(root, &all, &n, &err), 0);
	assert_int_equal(n, 1);
	volume_list_free(all, n);
	assert_int_equal(volume_remove(root, "shop_db", &err), 0);
	assert_int_equal(volume_remove(root, "shop_db", &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	volume_free(v);
	volume_free(w);
	rmtree(root);
}

static void test_other_drivers_and_unknown_local_options_are_errors(void **state)
{
	char *root = tmpdir();
	struct volume_kv nfs = {"type", "nfs"};
	struct volume_create_opts a = {.name = "aa", .driver = "rexray"};
	struct volume_create_opts b = {.name = "bb", .options = &nfs, .noptions = 1};
	struct volume *v;
	struct stk_err err;
	bool created;

	(void)state;
	assert_int_equal(volume_create(root, &a, &v, &created, &err), -1);
	assert_non_null(strstr(err.msg, "volume driver \"rexray\" is not supported"));
	assert_int_equal(volume_create(root, &b, &v, &created, &err), -1);
	assert_non_null(strstr(err.msg, "type=\"nfs\""));
	rmtree(root);
}

static void test_remove_project_takes_only_the_projects_own_volumes(void **state)
{
	char *root = tmpdir();
	struct volume_kv shop = {"com.docker.compose.project", "shop"};
	struct volume_kv blog = {"com.docker.compose.project", "blog"};
	struct volume_create_opts a = {.name = "shop_db", .labels = &shop, .nlabels = 1};
	struct volume_create_opts b = {.name = "blog_db", .labels = &blog, .nlabels = 1};
	struct volume_create_opts ext = {.name = "shared"};
	struct volume *v;
	struct stk_err err;
	char **removed;
	bool created;

	(void)state;
	assert_int_equal(volume_create(root, &a, &v, &created, &err), 0);
	volume_free(v);
	assert_int_equal(volume_create(root, &b, &v, &created, &err), 0);
	volume_free(v);
	assert_int_equal(volume_create(root, &ext, &v, &created, &err), 0);
	volume_free(v);
	assert_int_equal(volume_remove_project(root, "shop", &removed, &err), 0);
	assert_non_null(removed);
	assert_string_equal(removed[0], "shop_db");
	assert_null(removed[1]);
	volume_strv_free(removed);
	assert_int_equal(volume_get(root, "shop_db", &v, &err), -1);
	assert_int_equal(volume_get(root, "blog_db", &v, &err), 0);
	volume_free(v);
	assert_int_equal(volume_get(root, "shared", &v, &err), 0);
	volume_free(v);
	rmtree(root);
}

static void put(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void assert_file(const char *path, const char *content)
{
	char *s = str_read_file(path, NULL);

	assert_non_null(s);
	assert_string_equal(s, content);
	free(s);
}

/* upper: /data/b (new), whiteout for /data/gone, /data/opq opaque, /link -> data
 * lower: /data/a, /data/gone, /data/opq/hidden */
static void test_copy_tree_merges_layers_like_overlayfs(void **state)
{
	char *base = tmpdir();
	char *upper = xasprintf("%s/upper", base), *lower = xasprintf("%s/lower", base);
	char *dest = xasprintf("%s/dest", base), *p;
	const char *layers[2];
	struct stk_err err;
	bool copied;

	(void)state;
	mkdir(upper, 0755);
	mkdir(lower, 0755);
	mkdir(dest, 0755);
	p = xasprintf("%s/data", upper), mkdir(p, 0750), free(p);
	p = xasprintf("%s/data", lower), mkdir(p, 0755), free(p);
	p = xasprintf("%s/data/opq", upper), mkdir(p, 0755);
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	free(p);
	p = xasprintf("%s/data/opq", lower), mkdir(p, 0755), free(p);
	p = xasprintf("%s/data/opq/hidden", lower), put(p, "no"), free(p);
	p = xasprintf("%s/data/a", lower), put(p, "lower a"), free(p);
	p = xasprintf("%s/data/gone", lower), put(p, "gone"), free(p);
	p = xasprintf("%s/data/gone", upper);
	assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
	free(p);
	p = xasprintf("%s/data/b", upper), put(p, "upper b"), free(p);
	p = xasprintf("%s/link", upper);
	assert_int_equal(symlink("../../data", p), 0);
	free(p);
	layers[0] = upper;
	layers[1] = lower;
	if (volume_copy_tree(layers, 2, "/link", dest, &copied, &err) < 0)
		fail_msg("%s", err.msg);
	assert_true(copied);
	p = xasprintf("%s/a", dest), assert_file(p, "lower a"), free(p);
	p = xasprintf("%s/b", dest), assert_file(p, "upper b"), free(p);
	p = xasprintf("%s/gone", dest), assert_int_equal(access(p, F_OK), -1), free(p);
	p = xasprintf("%s/opq/hidden", dest), assert_int_equal(access(p, F_OK), -1), free(p);
	{
		struct stat st;

		assert_int_equal(stat(dest, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0750);
	}
	free(upper);
	free(lower);
	free(dest);
	rmtree(base);
}

static void test_copy_tree_of_a_missing_path_copies_nothing(void **state)
{
	char *base = tmpdir();
	const char *layers[1] = {base};
	struct stk_err err;
	bool copied = true;

	(void)state;
	assert_int_equal(volume_copy_tree(layers, 1, "/no/such", base, &copied, &err), 0);
	assert_false(copied);
	rmtree(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compose_name_is_project_underscore_key_unless_name_given),
		cmocka_unit_test(test_names_that_could_leave_the_volumes_dir_are_rejected),
		cmocka_unit_test(test_create_is_idempotent_and_remove_needs_an_existing_volume),
		cmocka_unit_test(test_other_drivers_and_unknown_local_options_are_errors),
		cmocka_unit_test(test_remove_project_takes_only_the_projects_own_volumes),
		cmocka_unit_test(test_copy_tree_merges_layers_like_overlayfs),
		cmocka_unit_test(test_copy_tree_of_a_missing_path_copies_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

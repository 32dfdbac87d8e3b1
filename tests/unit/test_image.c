/* Unit tests for src/image: references, manifests, the store, layer extraction. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
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
	check_ref("127.0.0.1:5000/busybox", "127.0.0.1:5000/busybox:latest",
		  "127.0.0.1:5000/busybox");
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
		"",   "Busybox",     "busy box",    "busybox:", "busybox:-x", "a//b", "-a",
		"a-", "a@sha256:12", "host:port/x", ":tag",	"a/B",	      "a..b",
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

/* ---- layers built in memory ---- */

struct tentry {
	const char *name;
	int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, 0 = hardlink */
	const char *data; /* file content, link target, or "uid:gid" owning a directory */
	int mode;
};

/* Writes a gzip'd tar of the entries to path; returns the sha256 of the plain tar. */
static void write_layer(const char *path, const struct tentry *es, size_t n, bool gzip,
			char diffid[72])
{
	struct archive *a = archive_write_new();
	size_t cap = 1 << 20, used = 0, i;
	char *buf = malloc(cap);
	FILE *f;

	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();

		archive_entry_set_pathname(e, es[i].name);
		archive_entry_set_perm(e, es[i].mode ? es[i].mode : 0644);
		if (es[i].type == AE_IFDIR && es[i].data) {
			unsigned uid, gid;

			assert_int_equal(sscanf(es[i].data, "%u:%u", &uid, &gid), 2);
			archive_entry_set_uid(e, uid);
			archive_entry_set_gid(e, gid);
		}
		archive_entry_set_mtime(e, 1700000000, 0);
		if (es[i].type == 0) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, es[i].data);
		} else {
			archive_entry_set_filetype(e, es[i].type);
			if (es[i].type == AE_IFLNK)
				archive_entry_set_symlink(e, es[i].data);
			if (es[i].type == AE_IFREG)
				archive_entry_set_size(e, (la_int64_t)strlen(es[i].data));
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (es[i].type == AE_IFREG)
			archive_write_data(a, es[i].data, strlen(es[i].data));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	sha256_digest(buf, used, diffid);
	f = fopen(path, "wb");
	assert_non_null(f);
	if (gzip) {
		struct archive *z = archive_write_new();
		size_t zused = 0;
		char *zbuf = malloc(cap);
		struct archive_entry *e = archive_entry_new();

		/* raw + gzip filter: just compress the tar bytes */
		archive_write_add_filter_gzip(z);
		archive_write_set_format_raw(z);
		assert_int_equal(archive_write_open_memory(z, zbuf, cap, &zused), ARCHIVE_OK);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_write_header(z, e);
		archive_write_data(z, buf, used);
		archive_write_close(z);
		archive_write_free(z);
		archive_entry_free(e);
		fwrite(zbuf, 1, zused, f);
		free(zbuf);
	} else {
		fwrite(buf, 1, used, f);
	}
	fclose(f);
	free(buf);
}

struct fixture {
	char dir[64];
	char blob[128], dest[128];
};

static int setup_dirs(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char *canon;

	strcpy(fx->dir, "/tmp/stack-unit-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	canon = realpath(fx->dir, NULL);
	snprintf(fx->dir, sizeof(fx->dir), "%s", canon);
	free(canon);
	snprintf(fx->blob, sizeof(fx->blob), "%s/layer.tar.gz", fx->dir);
	snprintf(fx->dest, sizeof(fx->dest), "%s/dest", fx->dir);
	mkdir(fx->dest, 0700);
	*state = fx;
	return 0;
}

static int teardown_dirs(void **state)
{
	struct fixture *fx = *state;
	struct stk_err err;

	assert_int_equal(store_remove_tree(fx->dir, &err), 0);
	free(fx);
	return 0;
}

static void test_unpack_files_links_and_diffid(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {
		{"./", AE_IFDIR, NULL, 0755},
		{"./bin/", AE_IFDIR, NULL, 0755},
		{"./bin/tool", AE_IFREG, "#!/bin/sh\n", 04755},
		{"./bin/sh", AE_IFLNK, "/bin/tool", 0777},
		{"./bin/hard", 0, "bin/tool", 0},
		{"./etc/", AE_IFDIR, NULL, 0700},
	};
	char want[72], got[72], p[256];
	struct stk_err err;
	struct stat st, st2;
	uint64_t size;

	write_layer(fx->blob, es, sizeof(es) / sizeof(es[0]), true, want);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, got, &size, &err), 0);
	assert_string_equal(got, want);
	assert_int_equal(size, 10);
	snprintf(p, sizeof(p), "%s/bin/tool", fx->dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 04755);
	assert_int_equal(st.st_mtime, 1700000000);
	snprintf(p, sizeof(p), "%s/bin/hard", fx->dest);
	assert_int_equal(stat(p, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	snprintf(p, sizeof(p), "%s/bin/sh", fx->dest);
	assert_int_equal(readlink(p, got, sizeof(got)), 9);
	snprintf(p, sizeof(p), "%s/etc", fx->dest);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_unpack_uncompressed_layer(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {{"hello", AE_IFREG, "world", 0}};
	char want[72], got[72];
	struct stk_err err;
	uint64_t size;

	write_layer(fx->blob, es, 1, false, want);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, got, &size, &err), 0);
	assert_string_equal(got, want);
}

/* Compresses the file at path in place with zstd (libarchive's raw format + filter). */
static void zstd_file(const char *path)
{
	struct archive *z = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t n, cap = 1 << 20, used = 0;
	char *in = malloc(cap), *out = malloc(cap);
	FILE *f = fopen(path, "rb");

	n = fread(in, 1, cap, f);
	fclose(f);
	assert_int_equal(archive_write_add_filter_zstd(z), ARCHIVE_OK);
	archive_write_set_format_raw(z);
	assert_int_equal(archive_write_open_memory(z, out, cap, &used), ARCHIVE_OK);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_write_header(z, e);
	archive_write_data(z, in, n);
	archive_write_close(z);
	archive_write_free(z);
	archive_entry_free(e);
	f = fopen(path, "wb");
	fwrite(out, 1, used, f);
	fclose(f);
	free(in);
	free(out);
}

static void test_unpack_zstd_layer(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {{"etc/", AE_IFDIR, NULL, 0755},
				    {"etc/motd", AE_IFREG, "zstd\n", 0}};
	char want[72], got[72], p[256], magic[4];
	struct stk_err err;
	uint64_t size;
	FILE *f;

	write_layer(fx->blob, es, 2, false, want);
	zstd_file(fx->blob);
	f = fopen(fx->blob, "rb");
	assert_int_equal(fread(magic, 1, 4, f), 4);
	fclose(f);
	assert_memory_equal(magic, "\x28\xb5\x2f\xfd", 4);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, got, &size, &err), 0);
	assert_string_equal(got, want);
	snprintf(p, sizeof(p), "%s/etc/motd", fx->dest);
	assert_int_equal(access(p, F_OK), 0);
}

static void test_unpack_converts_whiteouts_to_overlay_form(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {
		{"etc/", AE_IFDIR, NULL, 0755},
		{"etc/.wh.gone", AE_IFREG, "", 0},
		{"var/", AE_IFDIR, NULL, 0755},
		{"var/.wh..wh..opq", AE_IFREG, "", 0},
	};
	char diffid[72], p[256], v[8] = {0};
	struct stk_err err;
	struct stat st;
	uint64_t size;

	write_layer(fx->blob, es, sizeof(es) / sizeof(es[0]), true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), 0);
	snprintf(p, sizeof(p), "%s/etc/gone", fx->dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	snprintf(p, sizeof(p), "%s/etc/.wh.gone", fx->dest);
	assert_int_equal(lstat(p, &st), -1);
	snprintf(p, sizeof(p), "%s/var", fx->dest);
	assert_int_equal(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)), 1);
	assert_int_equal(v[0], 'y');
}

/* What a layer carries beyond names and contents: a device node, owners, xattrs and a
 * file capability (security.capability, VFS_CAP_REVISION_2, CAP_NET_BIND_SERVICE
 * permitted and effective). Needs root, as extraction does. */
static void test_unpack_keeps_devices_owners_xattrs_and_capabilities(void **state)
{
	static const unsigned char cap[20] = {0x01, 0, 0, 0x02, 0x00, 0x04, 0, 0};
	struct fixture *fx = *state;
	struct archive *a;
	struct archive_entry *e;
	size_t cap_used = 0;
	char *buf = malloc(1 << 16), diffid[72], p[256], v[32];
	struct stat st;
	struct stk_err err;
	uint64_t size;
	FILE *f;

	if (geteuid() != 0) {
		free(buf);
		skip();
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_memory(a, buf, 1 << 16, &cap_used), ARCHIVE_OK);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "null");
	archive_entry_set_filetype(e, AE_IFCHR);
	archive_entry_set_perm(e, 0666);
	archive_entry_set_rdev(e, makedev(1, 3));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "ping");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0750);
	archive_entry_set_uid(e, 1000);
	archive_entry_set_gid(e, 1001);
	archive_entry_set_size(e, 2);
	archive_entry_set_mtime(e, 1600000000, 0);
	archive_entry_xattr_add_entry(e, "user.note", "kept", 4);
	archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	archive_write_data(a, "x\n", 2);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	f = fopen(fx->blob, "wb");
	fwrite(buf, 1, cap_used, f);
	fclose(f);
	free(buf);

	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), 0);
	snprintf(p, sizeof(p), "%s/null", fx->dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 3));
	snprintf(p, sizeof(p), "%s/ping", fx->dest);
	assert_int_equal(lstat(p, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(st.st_mtime, 1600000000);
	assert_int_equal(getxattr(p, "user.note", v, sizeof(v)), 4);
	assert_memory_equal(v, "kept", 4);
	/* after the chown, which would clear it */
	assert_int_equal(getxattr(p, "security.capability", v, sizeof(v)), (ssize_t)sizeof(cap));
	assert_memory_equal(v, cap, sizeof(cap));
}

static void expect_escape_refused(struct fixture *fx, const struct tentry *es, size_t n,
				  const char *outside)
{
	char diffid[72], p[256];
	struct stk_err err;
	uint64_t size;

	write_layer(fx->blob, es, n, true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), -1);
	assert_non_null(strstr(err.msg, "escape"));
	if (outside) {
		snprintf(p, sizeof(p), "%s/%s", fx->dir, outside);
		assert_int_equal(access(p, F_OK), -1);
	}
}

static void test_unpack_refuses_dotdot(void **state)
{
	const struct tentry nested[] = {{"a/../../evil", AE_IFREG, "x", 0}};
	const struct tentry plain[] = {{"../evil", AE_IFREG, "x", 0}};
	const struct tentry rooted[] = {{"/../evil", AE_IFREG, "x", 0}};

	expect_escape_refused(*state, nested, 1, "evil");
	expect_escape_refused(*state, plain, 1, "evil");
	expect_escape_refused(*state, rooted, 1, "evil");
}

/* "/x" is x in the layer, as Docker reads it, never x on the host. */
static void test_unpack_absolute_name_lands_inside_the_layer(void **state)
{
	struct fixture *fx = *state;
	char name[128], p[256], diffid[72];
	struct tentry es[] = {{name, AE_IFREG, "x", 0}};
	struct stk_err err;
	uint64_t size;

	snprintf(name, sizeof(name), "%s/abs-name", fx->dir);
	write_layer(fx->blob, es, 1, true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), 0);
	snprintf(p, sizeof(p), "%s/abs-name", fx->dir);
	assert_int_equal(access(p, F_OK), -1);
	snprintf(p, sizeof(p), "%s%s/abs-name", fx->dest, fx->dir);
	assert_int_equal(access(p, F_OK), 0);
}

static void test_tar_path_clean_reads_names_relative_to_the_root(void **state)
{
	static const char *const cases[][2] = {
		{"/", ""},
		{".", ""},
		{"./", ""},
		{"//././/", ""},
		{"/bin/sh", "bin/sh"},
		{"./bin/sh", "bin/sh"},
		{"bin/sh", "bin/sh"},
		{"././bin//./sh/", "bin/sh"},
		{"/etc/", "etc"},
		{"a/b/../c", "a/c"},
		{"a/..", ""},
		{"/a/./../b/", "b"},
		{"..a/b..", "..a/b.."},
		{".wh..wh..opq", ".wh..wh..opq"},
		{"../x", NULL},
		{"/../x", NULL},
		{"./../x", NULL},
		{"a/../../x", NULL},
		{"..", NULL},
		{"", NULL},
	};
	size_t i;

	(void)state;
	assert_null(tar_path_clean(NULL));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = tar_path_clean(cases[i][0]);

		if (!cases[i][1]) {
			if (got)
				fail_msg("%s: want NULL, got \"%s\"", cases[i][0], got);
			continue;
		}
		if (!got || strcmp(got, cases[i][1]) != 0)
			fail_msg("%s: want \"%s\", got \"%s\"", cases[i][0], cases[i][1],
				 got ? got : "(null)");
		free(got);
	}
}

/* umoci writes the root as "/", other tools as "./" or "."; its mode, owner and mtime
 * are the layer root's. Needs root for the owner. */
static void test_unpack_root_entry_sets_the_layer_root(void **state)
{
	static const char *const roots[] = {"/", "./", "."};
	struct fixture *fx = *state;
	size_t i;

	if (geteuid() != 0)
		skip();
	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		const struct tentry es[] = {
			{roots[i], AE_IFDIR, "1234:5678", 0750},
			{"/bin/", AE_IFDIR, NULL, 0711},
			{"/bin/tool", AE_IFREG, "x", 0755},
		};
		char diffid[72], p[256];
		struct stk_err err;
		struct stat st;
		uint64_t size;

		snprintf(p, sizeof(p), "%s/dest%zu", fx->dir, i);
		assert_int_equal(mkdir(p, 0700), 0);
		write_layer(fx->blob, es, sizeof(es) / sizeof(es[0]), true, diffid);
		assert_int_equal(layer_unpack(fx->blob, p, diffid, &size, &err), 0);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0750);
		assert_int_equal(st.st_uid, 1234);
		assert_int_equal(st.st_gid, 5678);
		assert_int_equal(st.st_mtime, 1700000000);
		strcat(p, "/bin/tool");
		assert_int_equal(stat(p, &st), 0);
	}
}

/* Writes an uncompressed layer of es cut to len bytes; want: the diff ID of what is left. */
static void write_cut_layer(struct fixture *fx, const struct tentry *es, size_t n, off_t len,
			    char want[72])
{
	char *buf = malloc((size_t)len);
	FILE *f;

	write_layer(fx->blob, es, n, false, want);
	assert_int_equal(truncate(fx->blob, len), 0);
	f = fopen(fx->blob, "rb");
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	sha256_digest(buf, (size_t)len, want);
	free(buf);
}

/* umoci 0.4's `insert` stops right after the last file's data, as Go's archive/tar
 * (Docker, podman) accepts; a cut inside the data stays an error. */
static void test_unpack_accepts_a_tar_ending_after_the_last_file_data(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {{"d/", AE_IFDIR, NULL, 0755}, {"d/f", AE_IFREG, "hello", 0644}};
	/* d/ header, d/f header, 5 bytes of data, then 507 of padding and 1024 of end blocks */
	const off_t data_end = 2 * 512 + 5, cuts[] = {data_end, data_end + 100};
	char want[72], got[72], p[256], content[16] = {0};
	struct stk_err err;
	uint64_t size;
	size_t i;
	FILE *f;

	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_int_equal(store_remove_tree(fx->dest, &err), 0);
		assert_int_equal(mkdir(fx->dest, 0700), 0);
		write_cut_layer(fx, es, 2, cuts[i], want);
		if (layer_unpack(fx->blob, fx->dest, got, &size, &err) < 0)
			fail_msg("cut at %lld: %s", (long long)cuts[i], err.msg);
		assert_string_equal(got, want);
		assert_int_equal(size, 5);
		snprintf(p, sizeof(p), "%s/d/f", fx->dest);
		f = fopen(p, "rb");
		assert_non_null(f);
		assert_int_equal(fread(content, 1, sizeof(content), f), 5);
		fclose(f);
		assert_string_equal(content, "hello");
	}
	assert_int_equal(store_remove_tree(fx->dest, &err), 0);
	assert_int_equal(mkdir(fx->dest, 0700), 0);
	write_cut_layer(fx, es, 2, data_end - 2, want);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, got, &size, &err), -1);
	assert_non_null(strstr(err.msg, "read d/f"));
}

static void test_unpack_without_root_entry_makes_the_root_0755(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {{"f", AE_IFREG, "x", 0644}};
	char diffid[72];
	struct stk_err err;
	struct stat st;
	uint64_t size;

	write_layer(fx->blob, es, 1, true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), 0);
	assert_int_equal(stat(fx->dest, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
}

static void test_unpack_refuses_a_root_entry_that_is_not_a_directory(void **state)
{
	struct fixture *fx = *state;
	const struct tentry file[] = {{".", AE_IFREG, "x", 0644}};
	const struct tentry link[] = {{"/", AE_IFLNK, "/etc", 0777}};
	char diffid[72];
	struct stk_err err;
	uint64_t size;

	write_layer(fx->blob, file, 1, true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), -1);
	assert_non_null(strstr(err.msg, "names the layer root but is not a directory"));
	write_layer(fx->blob, link, 1, true, diffid);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), -1);
	assert_non_null(strstr(err.msg, "names the layer root but is not a directory"));
}

static void test_unpack_refuses_whiteouts_through_symlinks(void **state)
{
	struct fixture *fx = *state;
	const struct tentry file[] = {
		{"l", AE_IFLNK, fx->dir, 0777},
		{"l/.wh.victim", AE_IFREG, "", 0},
	};
	const struct tentry opaque[] = {
		{"l", AE_IFLNK, fx->dir, 0777},
		{"l/.wh..wh..opq", AE_IFREG, "", 0},
	};
	const struct tentry dotdot[] = {{"/../.wh.victim", AE_IFREG, "", 0}};
	char v[8];

	expect_escape_refused(fx, file, 2, "victim");
	expect_escape_refused(fx, opaque, 2, NULL);
	assert_int_equal(getxattr(fx->dir, "trusted.overlay.opaque", v, sizeof(v)), -1);
	expect_escape_refused(fx, dotdot, 1, "victim");
}

static void test_unpack_refuses_write_through_symlink(void **state)
{
	struct fixture *fx = *state;
	const struct tentry es[] = {
		{"link", AE_IFLNK, fx->dir, 0777},
		{"link/through-symlink", AE_IFREG, "x", 0},
	};

	expect_escape_refused(fx, es, 2, "through-symlink");
}

static void test_unpack_refuses_relative_symlink_escape(void **state)
{
	const struct tentry es[] = {
		{"up", AE_IFLNK, "..", 0777},
		{"up/rel-escape", AE_IFREG, "x", 0},
	};

	expect_escape_refused(*state, es, 2, "rel-escape");
}

static void test_unpack_refuses_hardlink_escapes(void **state)
{
	struct fixture *fx = *state;
	const struct tentry out[] = {{"h", 0, "../layer.tar.gz", 0}};
	const struct tentry via[] = {
		{"l", AE_IFLNK, "/etc", 0777},
		{"h", 0, "l/passwd", 0},
	};

	expect_escape_refused(fx, out, 1, NULL);
	expect_escape_refused(fx, via, 2, NULL);
}

static void test_unpack_refuses_garbage(void **state)
{
	struct fixture *fx = *state;
	char diffid[72];
	struct stk_err err;
	uint64_t size;
	FILE *f = fopen(fx->blob, "wb");

	fputs("this is not a tar archive, not even close; it goes on for a while............"
	      "................................................................................"
	      "................................................................................"
	      "................................................................................"
	      "................................................................................"
	      "................................................................................"
	      "................................................................................",
	      f);
	fclose(f);
	assert_int_equal(layer_unpack(fx->blob, fx->dest, diffid, &size, &err), -1);
}

/* ---- manifests ---- */

static const char *manifest_doc =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"size\":3,"
	"\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\"},"
	"\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"size\":9,"
	"\"digest\":\"sha256:2222222222222222222222222222222222222222222222222222222222222222\"}]}";

static void test_manifest_parse_oci(void **state)
{
	struct manifest m;
	struct stk_err err;
	const char *cfg =
		"{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":"
		"[\"sha256:3333333333333333333333333333333333333333333333333333333333333333\"]}}";

	(void)state;
	assert_int_equal(manifest_parse(manifest_doc, strlen(manifest_doc), &m, &err), 0);
	assert_int_equal(m.nlayers, 1);
	assert_int_equal(m.layers[0].size, 9);
	assert_int_equal(manifest_set_diffids(&m, cfg, strlen(cfg), &err), 0);
	assert_string_equal(m.layers[0].diffid + 7,
			    "3333333333333333333333333333333333333333333333333333333333333333");
	manifest_free(&m);
}

static void test_manifest_schema1_refused_clearly(void **state)
{
	const char *doc = "{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}";
	struct manifest m;
	struct stk_err err;

	(void)state;
	assert_int_equal(manifest_parse(doc, strlen(doc), &m, &err), -1);
	assert_non_null(strstr(err.msg, "schema 1"));
}

static void test_index_picks_platform_and_variant(void **state)
{
	const char *doc =
		"{\"schemaVersion\":2,\"manifests\":["
		"{\"digest\":\"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
		"{\"digest\":\"sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
		"{\"digest\":\"sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
		"\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
		"{\"digest\":\"sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\","
		"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
	struct stk_err err;
	char *d = NULL;

	(void)state;
	assert_int_equal(manifest_index_pick(doc, strlen(doc), "amd64", NULL, &d, &err), 0);
	assert_string_equal(d + 7 + 60, "dddd");
	free(d);
	assert_int_equal(manifest_index_pick(doc, strlen(doc), "arm", "v7", &d, &err), 0);
	assert_string_equal(d + 7 + 60, "bbbb");
	free(d);
	assert_int_equal(manifest_index_pick(doc, strlen(doc), "s390x", NULL, &d, &err), -1);
	assert_non_null(strstr(err.msg, "linux/s390x"));
}

/* ---- store ---- */

static void test_store_blob_put_verifies_digest(void **state)
{
	struct fixture *fx = *state;
	struct image_store *s;
	struct stk_err err;
	char d[72], *data;
	size_t n;

	assert_int_equal(image_store_open(fx->dir, &s, &err), 0);
	sha256_digest("abc", 3, d);
	assert_int_equal(store_blob_put(s, d, "abd", 3, &err), -1);
	assert_non_null(strstr(err.msg, "digest mismatch"));
	assert_false(store_blob_exists(s, d));
	assert_int_equal(store_blob_put(s, d, "abc", 3, &err), 0);
	assert_int_equal(store_blob_read(s, d, &data, &n, &err), 0);
	assert_int_equal(n, 3);
	free(data);
	image_store_free(s);
}

static bool always_in_use(const char *id, void *arg)
{
	(void)id;
	return *(bool *)arg;
}

static void test_rm_refuses_image_in_use_unless_forced(void **state)
{
	struct fixture *fx = *state;
	const char *config = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	char cd[72], md[72], *man;
	struct image_store *s;
	struct stk_err err;
	char **lines = NULL;
	size_t n = 0;
	bool used = true;

	assert_int_equal(image_store_open(fx->dir, &s, &err), 0);
	sha256_digest(config, strlen(config), cd);
	assert_int_equal(store_blob_put(s, cd, config, strlen(config), &err), 0);
	man = xasprintf("{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"digest\":\"%s\"},"
			"\"layers\":[]}",
			MT_OCI_MANIFEST, cd);
	sha256_digest(man, strlen(man), md);
	assert_int_equal(store_blob_put(s, md, man, strlen(man), &err), 0);
	assert_int_equal(store_add_image(s, "docker.io/library/app:1", md, &err), 0);
	image_store_set_in_use_hook(s, always_in_use, &used);
	assert_int_equal(image_store_remove(s, "app:1", false, &lines, &n, &err), -1);
	assert_int_equal(err.errnum, EBUSY);
	assert_non_null(strstr(err.msg, "being used by a container"));
	assert_int_equal(image_store_remove(s, "app:1", true, &lines, &n, &err), 0);
	assert_int_equal(n, 2);
	while (n)
		free(lines[--n]);
	free(lines);
	assert_false(store_blob_exists(s, md));
	free(man);
	image_store_free(s);
}

/* A locally built image: a plain layer tar added, then a config and manifest committed
 * over it; the store resolves the name to the config digest and the unpacked layer. */
static void test_store_commit_adds_layer_config_and_manifest(void **state)
{
	struct fixture *fx = *state;
	static const struct tentry es[] = {{"hello", AE_IFREG, "built\n", 0644}};
	_cleanup_free_ char *tar = xasprintf("%s/built.tar", fx->dir), *id = NULL, *file = NULL;
	char diffid[72];
	struct image_store *s;
	struct image_layer l, *got = NULL;
	struct image_config ic;
	struct stk_err err;
	size_t n = 0;
	char config[512];

	write_layer(tar, es, 1, false, diffid);
	assert_int_equal(image_store_open(fx->dir, &s, &err), 0);
	assert_int_equal(image_store_add_layer(s, tar, &l, &err), 0);
	assert_string_equal(l.diffid, diffid);
	assert_string_equal(l.digest, diffid); /* uncompressed: the blob is the tar */
	assert_int_equal(access(tar, F_OK), -1); /* moved into the store */
	snprintf(config, sizeof(config),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 diffid);
	assert_int_equal(image_store_commit(s, config, &l, 1, "docker.io/library/built:latest", &id,
					    &err),
			 0);
	assert_int_equal(image_store_get(s, "built", &ic, &err), 0);
	assert_string_equal(ic.id, id);
	assert_int_equal(ic.nlayers, 1);
	file = xasprintf("%s/hello", ic.layers[0]);
	assert_int_equal(access(file, F_OK), 0);
	assert_int_equal(image_store_layers(s, ic.manifest_digest, &got, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].diffid, diffid);
	image_layers_free(got, n);
	image_config_free(&ic);
	free(l.media_type);
	free(l.digest);
	free(l.diffid);
	image_store_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref_defaults_to_docker_hub_library_latest),
		cmocka_unit_test(test_ref_registry_with_port_and_nested_path),
		cmocka_unit_test(test_ref_digest_without_tag),
		cmocka_unit_test(test_ref_rejects_invalid),
		cmocka_unit_test_setup_teardown(test_unpack_files_links_and_diffid, setup_dirs,
						teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_uncompressed_layer, setup_dirs,
						teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_zstd_layer, setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_converts_whiteouts_to_overlay_form,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(
			test_unpack_keeps_devices_owners_xattrs_and_capabilities, setup_dirs,
			teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_dotdot, setup_dirs,
						teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_absolute_name_lands_inside_the_layer,
						setup_dirs, teardown_dirs),
		cmocka_unit_test(test_tar_path_clean_reads_names_relative_to_the_root),
		cmocka_unit_test_setup_teardown(test_unpack_root_entry_sets_the_layer_root,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_without_root_entry_makes_the_root_0755,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(
			test_unpack_accepts_a_tar_ending_after_the_last_file_data, setup_dirs,
			teardown_dirs),
		cmocka_unit_test_setup_teardown(
			test_unpack_refuses_a_root_entry_that_is_not_a_directory, setup_dirs,
			teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_whiteouts_through_symlinks,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_write_through_symlink,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_relative_symlink_escape,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_hardlink_escapes, setup_dirs,
						teardown_dirs),
		cmocka_unit_test_setup_teardown(test_unpack_refuses_garbage, setup_dirs,
						teardown_dirs),
		cmocka_unit_test(test_manifest_parse_oci),
		cmocka_unit_test(test_manifest_schema1_refused_clearly),
		cmocka_unit_test(test_index_picks_platform_and_variant),
		cmocka_unit_test_setup_teardown(test_store_blob_put_verifies_digest, setup_dirs,
						teardown_dirs),
		cmocka_unit_test_setup_teardown(test_store_commit_adds_layer_config_and_manifest,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_rm_refuses_image_in_use_unless_forced,
						setup_dirs, teardown_dirs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

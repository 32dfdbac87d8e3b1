/* A directory tree into an uncompressed OCI layer tar (libarchive, PAX). The tree is an
 * overlay upper directory after RUN, or a staging directory after COPY: overlay's
 * whiteouts (a 0/0 character device; the opaque xattr on a directory) become the
 * ".wh." entries of the image layer format. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/lazy_archive.h"
#include "util/str.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct tarw {
	struct archive *a;
	struct stk_err *err;
};

static int tar_error(struct tarw *t, const char *rel)
{
	return stk_err_set(t->err, archive_errno(t->a), "layer tar: %s: %s", rel,
			   archive_error_string(t->a));
}

static struct archive_entry *entry_for(const char *rel, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, rel);
	archive_entry_set_filetype(e, st->st_mode & S_IFMT);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	return e;
}

static int write_empty(struct tarw *t, const char *rel)
{
	struct stat st = {.st_mode = S_IFREG | 0644};
	struct archive_entry *e = entry_for(rel, &st);
	int rc = archive_write_header(t->a, e) < ARCHIVE_OK ? tar_error(t, rel) : 0;

	archive_entry_free(e);
	return rc;
}

static int write_data(struct tarw *t, int dirfd, const char *name, const char *rel)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return stk_err_sys(t->err, "layer tar: open %s", rel);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(t->a, buf, (size_t)n) < 0)
			return tar_error(t, rel);
	return n < 0 ? stk_err_sys(t->err, "layer tar: read %s", rel) : 0;
}

static int write_node(struct tarw *t, int dirfd, const char *name, const char *rel,
		      const struct stat *st)
{
	struct archive_entry *e;
	int rc = 0;

	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		const char *base = strrchr(rel, '/');
		_cleanup_free_ char *wh = xasprintf("%.*s" WH_PREFIX "%s",
						    base ? (int)(base - rel + 1) : 0, rel,
						    base ? base + 1 : rel);

		return write_empty(t, wh);
	}
	e = entry_for(rel, st);
	if (S_ISREG(st->st_mode))
		archive_entry_set_size(e, st->st_size);
	else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		archive_entry_set_rdev(e, st->st_rdev);
	else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0) {
			archive_entry_free(e);
			return stk_err_sys(t->err, "layer tar: readlink %s", rel);
		}
		target[n] = 0;
		archive_entry_set_symlink(e, target);
	}
	if (archive_write_header(t->a, e) < ARCHIVE_OK)
		rc = tar_error(t, rel);
	else if (S_ISREG(st->st_mode))
		rc = write_data(t, dirfd, name, rel);
	archive_entry_free(e);
	return rc;
}

static int walk(struct tarw *t, int dirfd, const char *prefix);

static int walk_dir(struct tarw *t, int dirfd, const char *name, const char *rel)
{
	_cleanup_close_ int fd =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char v[2];

	if (fd < 0)
		return stk_err_sys(t->err, "layer tar: open %s", rel);
	if (fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y') {
		_cleanup_free_ char *wh = xasprintf("%s/" WH_OPAQUE, rel);

		if (write_empty(t, wh) < 0)
			return -1;
	}
	return walk(t, fd, rel);
}

static int walk(struct tarw *t, int dirfd, const char *prefix)
{
	_cleanup_close_ int fd = dup(dirfd);
	struct dirent **ents = NULL;
	int n, i, rc = 0;

	if (fd < 0)
		return stk_err_sys(t->err, "layer tar: dup");
	n = scandirat(fd, ".", &ents, NULL, alphasort);
	if (n < 0)
		return stk_err_sys(t->err, "layer tar: read directory %s", *prefix ? prefix : "/");
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		_cleanup_free_ char *rel = NULL;
		struct stat st;

		if (rc < 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		rel = *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			rc = stk_err_sys(t->err, "layer tar: stat %s", rel);
		else if (write_node(t, fd, name, rel, &st) < 0)
			rc = -1;
		else if (S_ISDIR(st.st_mode))
			rc = walk_dir(t, fd, name, rel);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

int build_tar_tree(const char *dir, const char *tar_path, struct stk_err *err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tarw t = {.err = err};
	int rc;

	if (fd < 0)
		return stk_err_sys(err, "open %s", dir);
	if (stk_lazylib_load(&stk_lazy_archive_lib, err) < 0)
		return -1;
	t.a = archive_write_new();
	archive_write_set_format_pax_restricted(t.a);
	if (archive_write_open_filename(t.a, tar_path) < ARCHIVE_OK) {
		rc = tar_error(&t, tar_path);
		archive_write_free(t.a);
		return rc;
	}
	rc = walk(&t, fd, "");
	if (archive_write_close(t.a) < ARCHIVE_OK && rc == 0)
		rc = tar_error(&t, tar_path);
	archive_write_free(t.a);
	if (rc < 0)
		unlink(tar_path);
	return rc;
}

/* Snapshots of a volume's content as a tar stream (libarchive, pax format so that
 * xattrs, ACLs, long names and big uids survive): export walks the content with
 * archive_read_disk; import extracts into a fresh directory next to _data and swaps
 * it in with renames, so a failed import leaves the volume as it was. */
#include "volume/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/lazy_archive.h"
#include "util/str.h"

static int archive_fail(struct archive *a, struct stk_err *err, const char *what)
{
	int e = archive_errno(a);

	return stk_err_set(err, e > 0 ? e : EIO, "%s: %s", what,
			   archive_error_string(a) ? archive_error_string(a) : "archive error");
}

/* Import and export work on the content of plain local volumes; the content of a
 * tmpfs or bind volume is not the volume's to replace. */
static int plain_volume(const char *root, const char *name, struct volume **out,
			struct stk_err *err)
{
	if (volume_get(root, name, out, err) < 0)
		return -1;
	if (volume_option(*out, "type")) {
		stk_err_set(err, ENOTSUP,
			    "volume has driver options (type=%s); export and "
			    "import work on plain local volumes",
			    volume_option(*out, "type"));
		volume_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

static int copy_entry_data(struct archive *disk, struct archive *tar, struct stk_err *err)
{
	const void *buf;
	size_t size;
	int64_t offset, written = 0;
	int r;

	while ((r = archive_read_data_block(disk, &buf, &size, &offset)) == ARCHIVE_OK) {
		/* Sparse holes come back as gaps in the offsets: write them as zeros. */
		static const char zeros[4096];

		while (written < offset) {
			size_t n = offset - written > (int64_t)sizeof(zeros)
					   ? sizeof(zeros)
					   : (size_t)(offset - written);

			if (archive_write_data(tar, zeros, n) < 0)
				return archive_fail(tar, err, "write");
			written += (int64_t)n;
		}
		if (archive_write_data(tar, buf, size) < 0)
			return archive_fail(tar, err, "write");
		written += (int64_t)size;
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(disk, err, "read");
	return 0;
}

/* "./" for the content's own directory, "./rel/path" below it. */
static char *tar_name(const char *base, const char *path)
{
	size_t n = strlen(base);

	if (strncmp(path, base, n) == 0 && (path[n] == '/' || !path[n]))
		return xasprintf(".%s%s", path[n] ? "" : "/", path + n);
	return xstrdup(path);
}

static int write_entry(struct archive *disk, struct archive *tar, struct archive_entry *e,
		       struct stk_err *err)
{
	if (archive_write_header(tar, e) < ARCHIVE_WARN)
		return archive_fail(tar, err, archive_entry_pathname(e));
	if (archive_entry_size(e) > 0 && disk && copy_entry_data(disk, tar, err) < 0)
		return stk_err_wrap(err, "%s", archive_entry_pathname(e));
	return 0;
}

static int export_tree(const char *dir, int fd, struct stk_err *err)
{
	struct archive *disk = archive_read_disk_new(), *tar = archive_write_new();
	struct archive_entry_linkresolver *links = archive_entry_linkresolver_new();
	struct archive_entry *e = archive_entry_new();
	int r, rc = -1;

	archive_write_set_format_pax_restricted(tar);
	archive_entry_linkresolver_set_strategy(links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
	archive_read_disk_set_symlink_physical(disk);
	archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS);
	if (archive_write_open_fd(tar, fd) != ARCHIVE_OK) {
		archive_fail(tar, err, "open output");
		goto out;
	}
	if (archive_read_disk_open(disk, dir) != ARCHIVE_OK) {
		archive_fail(disk, err, dir);
		goto out;
	}
	while ((r = archive_read_next_header2(disk, e)) != ARCHIVE_EOF) {
		_cleanup_free_ char *name = NULL;
		struct archive_entry *out = e, *spare = NULL;

		if (r < ARCHIVE_WARN) {
			archive_fail(disk, err, "read");
			goto out;
		}
		archive_read_disk_descend(disk);
		name = tar_name(dir, archive_entry_pathname(e));
		archive_entry_set_pathname(e, name);
		archive_entry_linkify(links, &out, &spare);
		if (out && write_entry(out == e ? disk : NULL, tar, out, err) < 0)
			goto out;
	}
	if (archive_write_close(tar) != ARCHIVE_OK) {
		archive_fail(tar, err, "finish");
		goto out;
	}
	rc = 0;
out:
	archive_entry_free(e);
	archive_entry_linkresolver_free(links);
	archive_read_free(disk);
	archive_write_free(tar);
	return rc;
}

int volume_export(const char *root, const char *name, int fd, struct stk_err *err)
{
	_cleanup_free_ char *data = NULL;
	struct volume *v = NULL;
	int rc;

	if (plain_volume(root, name, &v, err) < 0)
		return -1;
	volume_free(v);
	data = volume_data_dir(root, name);
	rc = export_tree(data, fd, err);
	return rc;
}

/* A name in the archive, below dir: no absolute path, no "..", nothing outside. */
static char *extract_name(const char *dir, const char *name, struct stk_err *err)
{
	const char *p = name;

	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (strcmp(p, ".") == 0)
		p = "";
	if (p[0] == '/' || strcmp(p, "..") == 0 || str_has_prefix(p, "../") || strstr(p, "/../") ||
	    str_has_suffix(p, "/..")) {
		stk_err_set(err, EINVAL, "unsafe path in archive: %s", name);
		return NULL;
	}
	return *p ? xasprintf("%s/%s", dir, p) : xstrdup(dir);
}

static int extract(int fd, const char *dir, struct stk_err *err)
{
	struct archive *tar = archive_read_new(), *disk = archive_write_disk_new();
	struct archive_entry *e;
	int r, rc = -1;

	archive_read_support_format_tar(tar);
	archive_read_support_filter_all(tar);
	archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_OWNER | ARCHIVE_EXTRACT_PERM |
						     ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
						     ARCHIVE_EXTRACT_ACL |
						     ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						     ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_fd(tar, fd, 65536) != ARCHIVE_OK) {
		archive_fail(tar, err, "read archive");
		goto out;
	}
	while ((r = archive_read_next_header(tar, &e)) != ARCHIVE_EOF) {
		_cleanup_free_ char *path = NULL, *link = NULL;
		const void *buf;
		size_t size;
		int64_t offset;

		if (r < ARCHIVE_WARN) {
			archive_fail(tar, err, "read archive");
			goto out;
		}
		path = extract_name(dir, archive_entry_pathname(e), err);
		if (!path)
			goto out;
		if (archive_entry_hardlink(e)) {
			link = extract_name(dir, archive_entry_hardlink(e), err);
			if (!link)
				goto out;
			archive_entry_copy_hardlink(e, link);
		}
		archive_entry_set_pathname(e, path);
		if (archive_write_header(disk, e) < ARCHIVE_WARN) {
			archive_fail(disk, err, archive_entry_pathname(e));
			goto out;
		}
		while ((r = archive_read_data_block(tar, &buf, &size, &offset)) == ARCHIVE_OK)
			if (archive_write_data_block(disk, buf, size, offset) < ARCHIVE_WARN) {
				archive_fail(disk, err, path);
				goto out;
			}
		if (r != ARCHIVE_EOF) {
			archive_fail(tar, err, "read archive");
			goto out;
		}
		if (archive_write_finish_entry(disk) < ARCHIVE_WARN) {
			archive_fail(disk, err, path);
			goto out;
		}
	}
	if (archive_write_close(disk) != ARCHIVE_OK) {
		archive_fail(disk, err, "finish");
		goto out;
	}
	rc = 0;
out:
	archive_read_free(tar);
	archive_write_free(disk);
	return rc;
}

static int import_into(const char *root, const char *name, int fd, bool force, struct stk_err *err);

static int refuse_if_in_use(const char *root, const char *name, struct stk_err *err)
{
	char **users = volume_users(root, name);
	int rc = 0;

	if (users && users[0])
		rc = stk_err_set(err, EBUSY, "volume is in use - [%s]", users[0]);
	volume_strv_free(users);
	return rc;
}

int volume_import(const char *root, const char *name, int fd, bool force, struct stk_err *err)
{
	struct volume_create_opts co = {.name = name};
	struct volume *v = NULL;
	struct stk_err ignored;
	bool created;
	int rc;

	if (volume_create(root, &co, &v, &created, err) < 0)
		return -1;
	volume_free(v);
	rc = import_into(root, name, fd, force, err);
	if (rc < 0 && created)
		volume_remove(root, name, &ignored);
	return rc;
}

/* The import proper, into an existing volume; a volume it made is removed on failure
 * by the caller, so nothing half-made stays. */
static int import_into(const char *root, const char *name, int fd, bool force, struct stk_err *err)
{
	_cleanup_free_ char *data = NULL, *tmp = NULL, *old = NULL;
	_cleanup_close_ int lock = -1;
	struct volume *v = NULL;
	struct stk_err ignored;
	int empty;

	if (plain_volume(root, name, &v, err) < 0)
		return -1;
	volume_free(v);
	lock = volume_lock(root, name, err);
	if (lock < 0 || refuse_if_in_use(root, name, err) < 0)
		return -1;
	data = volume_data_dir(root, name);
	empty = volume_dir_is_empty(data, err);
	if (empty < 0)
		return -1;
	if (!empty && !force)
		return stk_err_set(err, EEXIST,
				   "volume is not empty (--force replaces its content)");
	tmp = xasprintf("%s.import-%d", data, (int)getpid());
	old = xasprintf("%s.old-%d", data, (int)getpid());
	volume_rm_tree(tmp, &ignored);
	if (mkdir(tmp, 0755) < 0)
		return stk_err_sys(err, "create %s", tmp);
	if (extract(fd, tmp, err) < 0) {
		volume_rm_tree(tmp, &ignored);
		return -1;
	}
	if (rename(data, old) < 0) {
		stk_err_sys(err, "rename %s", data);
		volume_rm_tree(tmp, &ignored);
		return -1;
	}
	if (rename(tmp, data) < 0) {
		stk_err_sys(err, "rename %s", tmp);
		rename(old, data);
		volume_rm_tree(tmp, &ignored);
		return -1;
	}
	return volume_rm_tree(old, err);
}

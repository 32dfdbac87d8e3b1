/* Layer extraction: compressed blob → decompress → SHA-256 of the tar (diff ID) → tar
 * entries → files, in one pass with libarchive. Two archive readers are chained: the
 * outer one only decompresses (raw format), the inner one reads tar from the outer's
 * output, so the uncompressed bytes can be hashed as they flow.
 *
 * Names are relative to the layer root however they are spelled (tar_path_clean: "/",
 * "./", "/bin/sh", "./bin/sh"), as in Docker's extraction; the root entry's mode, owner,
 * times and xattrs apply to the layer root itself.
 *
 * Safety: a name or hardlink target whose ".." climbs above the root fails the layer;
 * libarchive's SECURE_SYMLINKS refuses to write through a symlink, hardlink targets and
 * opaque directories are resolved without following any; whiteouts become overlayfs
 * whiteouts (char 0/0, trusted.overlay.opaque=y) and any trusted.overlay.* xattr carried
 * by the tar itself is dropped so a layer cannot forge them. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/lazy_archive.h"
#include "util/str.h"

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"

struct unpack {
	struct archive *outer, *inner, *disk;
	struct sha256 hash;
	char buf[128 * 1024];
	const char *dest;
	char **opaque; /* directories (relative) to mark opaque once extraction is done */
	size_t nopaque;
	uint64_t size;
	bool at_eof; /* the tar stream has ended */
	bool ended_early; /* ... right after the last file's data: the layer's end */
	bool root_entry; /* the tar carried the root: its mode stands */
	struct timespec root_times[2]; /* its atime and mtime, set again once all is written */
};

static la_ssize_t inner_read(struct archive *a, void *arg, const void **out)
{
	struct unpack *u = arg;
	la_ssize_t n = archive_read_data(u->outer, u->buf, sizeof(u->buf));

	(void)a;
	if (n < 0) {
		archive_set_error(u->inner, EIO, "%s", archive_error_string(u->outer));
		return -1;
	}
	u->at_eof = n == 0;
	sha256_update(&u->hash, u->buf, (size_t)n);
	*out = u->buf;
	return n;
}

/* rel under root, reached without following any symlink (nor "..": names are clean). */
static int open_beneath(const char *root, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	};
	_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (rootfd < 0)
		return -1;
	return (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
}

/* A hardlink may only point at a regular file already extracted, reached without
 * following any symlink. */
static bool hardlink_target_ok(const char *dest, const char *target)
{
	_cleanup_close_ int fd = open_beneath(dest, target, O_PATH);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	return !S_ISDIR(st.st_mode);
}

static void drop_overlay_xattrs(struct archive_entry *e)
{
	struct {
		char *name;
		void *value;
		size_t size;
	} keep[64];
	const char *name;
	const void *value;
	size_t size, n = 0, i;

	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK && n < 64) {
		if (str_has_prefix(name, "trusted.overlay."))
			continue;
		keep[n].name = xstrdup(name);
		keep[n].value = xmalloc(size ? size : 1);
		memcpy(keep[n].value, value, size);
		keep[n].size = size;
		n++;
	}
	archive_entry_xattr_clear(e);
	for (i = 0; i < n; i++) {
		archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
		free(keep[i].name);
		free(keep[i].value);
	}
}

/* libarchive names the full temporary path; the user wants the path in the layer. */
static int disk_error(struct unpack *u, const char *what, const char *rel, struct stk_err *err)
{
	const char *msg = archive_error_string(u->disk);
	size_t dl = strlen(u->dest);
	struct strbuf sb;
	const char *p;

	strbuf_init(&sb);
	for (p = msg ? msg : "unknown error"; *p;) {
		if (strncmp(p, u->dest, dl) == 0 && p[dl] == '/') {
			p += dl + 1;
			continue;
		}
		strbuf_addc(&sb, *p++);
	}
	if (strstr(sb.buf, "through symlink"))
		strbuf_adds(&sb, " (the layer tries to escape its directory)");
	stk_err_set(err, archive_errno(u->disk) > 0 ? archive_errno(u->disk) : EIO, "%s %s: %s",
		    what, rel, sb.buf);
	strbuf_free(&sb);
	return -1;
}

static int write_entry(struct unpack *u, struct archive_entry *e, const char *rel,
		       struct stk_err *err)
{
	_cleanup_free_ char *full = *rel ? xasprintf("%s/%s", u->dest, rel) : xstrdup(u->dest);
	int r;

	archive_entry_set_pathname(e, full);
	r = archive_write_header(u->disk, e);
	if (r < ARCHIVE_WARN)
		return disk_error(u, "extract", rel, err);
	if (archive_entry_filetype(e) == AE_IFREG && archive_entry_size(e) > 0 &&
	    !archive_entry_hardlink(e)) {
		const void *blk;
		size_t len;
		la_int64_t off, got = 0;

		while ((r = archive_read_data_block(u->inner, &blk, &len, &off)) == ARCHIVE_OK) {
			if (archive_write_data_block(u->disk, blk, len, off) < ARCHIVE_WARN)
				return disk_error(u, "write", rel, err);
			got += (la_int64_t)len;
		}
		/* umoci 0.4's `insert` ends a layer with the last file's data: no padding, no
		 * end-of-archive blocks. Go's archive/tar (Docker, containerd, podman) reads
		 * that as the end; libarchive fails on the missing padding. Data cut short
		 * stays an error. */
		if (r == ARCHIVE_FATAL && u->at_eof && got == archive_entry_size(e))
			u->ended_early = true;
		else if (r != ARCHIVE_EOF)
			return stk_err_set(err, EBADMSG, "read %s: %s", rel,
					   archive_error_string(u->inner));
		u->size += (uint64_t)archive_entry_size(e);
	}
	if (archive_write_finish_entry(u->disk) < ARCHIVE_WARN)
		return disk_error(u, "finish", rel, err);
	return 0;
}

/* ".wh.X" in D: X is deleted in this layer → a 0/0 character device D/X. */
static int write_whiteout(struct unpack *u, const char *rel, const char *base, struct stk_err *err)
{
	_cleanup_free_ char *target = NULL;
	struct archive_entry *w;
	size_t dirlen = (size_t)(base - rel);
	const char *name = base + strlen(WHITEOUT_PREFIX);
	int rc;

	if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
		u->opaque = xrealloc(u->opaque, (u->nopaque + 1) * sizeof(*u->opaque));
		u->opaque[u->nopaque++] = xstrndup(rel, dirlen ? dirlen - 1 : 0);
		return 0;
	}
	if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return stk_err_set(err, EBADMSG, "invalid whiteout entry %s", rel);
	target = xasprintf("%.*s%s", (int)dirlen, rel, name);
	w = archive_entry_new();
	archive_entry_set_filetype(w, AE_IFCHR);
	archive_entry_set_perm(w, 0);
	archive_entry_set_rdev(w, 0);
	archive_entry_set_uid(w, 0);
	archive_entry_set_gid(w, 0);
	rc = write_entry(u, w, target, err);
	archive_entry_free(w);
	if (rc < 0)
		stk_err_wrap(err, "whiteout %s", rel);
	return rc;
}

/* "/", "." or "./": the layer root exists already; the entry carries its attributes. */
static int extract_root(struct unpack *u, struct archive_entry *e, struct stk_err *err)
{
	struct stat st;

	if (archive_entry_filetype(e) != AE_IFDIR || archive_entry_hardlink(e))
		return stk_err_set(err, EBADMSG,
				   "layer entry \"%s\" names the layer root but is not a directory",
				   archive_entry_pathname(e));
	u->root_entry = true;
	drop_overlay_xattrs(e);
	if (write_entry(u, e, "", err) < 0)
		return -1;
	if (stat(u->dest, &st) < 0)
		return stk_err_sys(err, "stat the layer root");
	u->root_times[0] = st.st_atim;
	u->root_times[1] = st.st_mtim;
	return 0;
}

/* libarchive defers the times of the directories it creates until every entry is
 * written, but sets those of the existing root at once: the entries written into it
 * since have changed them, so they are set again at the end, as Docker does. */
static int restore_root_times(struct unpack *u, struct stk_err *err)
{
	if (u->root_entry && utimensat(AT_FDCWD, u->dest, u->root_times, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "set the times of the layer root");
	return 0;
}

static int extract_entry(struct unpack *u, struct archive_entry *e, struct stk_err *err)
{
	const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e), *base;
	_cleanup_free_ char *rel = NULL;

	if (!name || !*name)
		return stk_err_set(err, EBADMSG, "layer entry without a name");
	rel = tar_path_clean(name);
	if (!rel)
		return stk_err_set(err, EPERM, "layer entry \"%s\" escapes the layer directory",
				   name);
	if (!*rel)
		return extract_root(u, e, err);
	base = strrchr(rel, '/');
	base = base ? base + 1 : rel;
	if (str_has_prefix(base, WHITEOUT_PREFIX))
		return write_whiteout(u, rel, base, err);
	drop_overlay_xattrs(e);
	if (link) {
		_cleanup_free_ char *t = tar_path_clean(link);
		_cleanup_free_ char *abs = NULL;

		if (!t || !*t || !hardlink_target_ok(u->dest, t))
			return stk_err_set(err, EPERM,
					   "hardlink \"%s\" -> \"%s\" escapes the layer directory",
					   name, link);
		abs = xasprintf("%s/%s", u->dest, t);
		archive_entry_copy_hardlink(e, abs);
	}
	return write_entry(u, e, rel, err);
}

static int mark_opaque(struct unpack *u, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < u->nopaque; i++) {
		_cleanup_close_ int fd =
			open_beneath(u->dest, u->opaque[i], O_RDONLY | O_DIRECTORY);

		if (fd < 0 && (errno == ELOOP || errno == EXDEV))
			return stk_err_set(err, EPERM,
					   "whiteout \"%s/" WHITEOUT_OPAQUE "\" is named through a "
					   "symlink (the layer tries to escape its directory)",
					   u->opaque[i]);
		if (fd < 0)
			return stk_err_sys(err, "opaque directory %s", u->opaque[i]);
		if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return stk_err_sys(err, "mark %s opaque", u->opaque[i]);
	}
	return 0;
}

static void unpack_dispose(struct unpack *u)
{
	size_t i;

	if (u->inner)
		archive_read_free(u->inner);
	if (u->outer)
		archive_read_free(u->outer);
	if (u->disk)
		archive_write_free(u->disk);
	if (u->hash.ctx)
		sha256_dispose(&u->hash);
	for (i = 0; i < u->nopaque; i++)
		free(u->opaque[i]);
	free(u->opaque);
}

static int open_readers(struct unpack *u, const char *blob_path, struct stk_err *err)
{
	struct archive_entry *raw;

	u->outer = archive_read_new();
	archive_read_support_filter_gzip(u->outer);
	archive_read_support_filter_zstd(u->outer);
	archive_read_support_filter_none(u->outer);
	archive_read_support_format_raw(u->outer);
	if (archive_read_open_filename(u->outer, blob_path, 128 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(u->outer, &raw) != ARCHIVE_OK)
		return stk_err_set(err, EBADMSG, "open layer: %s", archive_error_string(u->outer));
	u->inner = archive_read_new();
	archive_read_support_format_tar(u->inner);
	if (archive_read_open(u->inner, u, NULL, inner_read, NULL) != ARCHIVE_OK)
		return stk_err_set(err, EBADMSG, "read layer: %s", archive_error_string(u->inner));
	return 0;
}

static int extract_all(struct unpack *u, struct stk_err *err)
{
	struct archive_entry *e;
	la_ssize_t n;
	int r;

	while ((r = archive_read_next_header(u->inner, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (extract_entry(u, e, err) < 0)
			return -1;
		if (u->ended_early) {
			r = ARCHIVE_EOF;
			break;
		}
	}
	if (r != ARCHIVE_EOF)
		return stk_err_set(err, EBADMSG, "layer is not a valid tar: %s",
				   archive_error_string(u->inner));
	/* the diff ID covers the whole stream, padding after the end marker included */
	while ((n = archive_read_data(u->outer, u->buf, sizeof(u->buf))) > 0)
		sha256_update(&u->hash, u->buf, (size_t)n);
	if (n < 0)
		return stk_err_set(err, EBADMSG, "decompress layer: %s",
				   archive_error_string(u->outer));
	if (archive_write_close(u->disk) != ARCHIVE_OK)
		return stk_err_set(err, EIO, "extract: %s", archive_error_string(u->disk));
	if (mark_opaque(u, err) < 0)
		return -1;
	return restore_root_times(u, err);
}

int layer_unpack(const char *blob_path, const char *dest, char diffid[72], uint64_t *size,
		 struct stk_err *err)
{
	struct unpack u = {.dest = dest};
	int rc;

	sha256_init(&u.hash);
	u.disk = archive_write_disk_new();
	archive_write_disk_set_options(u.disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
						       ARCHIVE_EXTRACT_TIME |
						       ARCHIVE_EXTRACT_XATTR |
						       ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						       ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	rc = open_readers(&u, blob_path, err);
	if (rc == 0)
		rc = extract_all(&u, err);
	if (rc == 0) {
		sha256_final(&u.hash, diffid);
		*size = u.size;
		/* the store made dest 0700; a layer without a root entry gets Docker's 0755 */
		if (!u.root_entry && chmod(dest, 0755) < 0)
			rc = stk_err_sys(err, "chmod %s", dest);
	}
	unpack_dispose(&u);
	return rc;
}

int store_commit_layer(struct image_store *s, const char *blob_digest, const char *diffid,
		       struct stk_err *err)
{
	_cleanup_free_ char *blob = store_blob_path(s, blob_digest);
	_cleanup_free_ char *tmp = NULL, *dir = NULL, *meta = NULL, *json = NULL;
	char got[72];
	uint64_t size = 0;

	if (store_layer_exists(s, diffid))
		return 0;
	tmp = store_tmp_dir(s, err);
	if (!tmp)
		return -1;
	if (layer_unpack(blob, tmp, got, &size, err) < 0) {
		struct stk_err ignored;

		store_remove_tree(tmp, &ignored);
		return -1;
	}
	if (strcmp(got, diffid) != 0) {
		struct stk_err ignored;

		store_remove_tree(tmp, &ignored);
		return stk_err_set(err, EBADMSG,
				   "layer %s: diff ID mismatch: config says %s, content is %s",
				   blob_digest, diffid, got);
	}
	dir = store_layer_dir(s, diffid);
	/* a tree without its metadata file is debris from an interrupted commit */
	if (store_remove_tree(dir, err) < 0)
		return -1;
	if (rename(tmp, dir) < 0)
		return stk_err_sys(err, "commit layer %s", diffid);
	meta = xasprintf("%s.json", dir);
	json = xasprintf("{\"size\":%llu,\"blob\":\"%s\"}", (unsigned long long)size, blob_digest);
	return store_write_atomic(meta, json, strlen(json), err);
}

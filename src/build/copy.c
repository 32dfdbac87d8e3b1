/* COPY and ADD: sources resolved inside their root (the context, or the rootfs of a
 * stage or image for --from) with openat2(RESOLVE_IN_ROOT), so neither ".." nor a
 * symlink can reach a file outside it; globs matched per path component;
 * .dockerignore applied to the context. One walker serves two purposes: hashing the
 * sources for the cache key, and copying them into a staging tree that becomes the
 * layer. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/lazy_archive.h"
#include "util/lazy_crypto.h"
#include "util/str.h"

struct walk {
	struct build *b;
	const struct copy_src *src;
	int rootfd;
	/* hashing */
	EVP_MD_CTX *md;
	int64_t hash_start; /* a change after this moment has a newer timestamp */
	/* copying */
	const char *stage; /* staging tree root */
	const struct copy_opts *co;
	struct stk_err *err;
	const char *top; /* the source being walked, relative to the root */
};

static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};

	return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}

char *build_clean_path(const char *p)
{
	struct strbuf sb;

	strbuf_init(&sb);
	while (*p) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = sb.len ? strrchr(sb.buf, '/') : NULL;

			sb.len = slash ? (size_t)(slash - sb.buf) : 0;
			if (sb.buf)
				sb.buf[sb.len] = 0;
		} else if (n && !(n == 1 && p[0] == '.')) {
			if (sb.len)
				strbuf_addc(&sb, '/');
			strbuf_addn(&sb, p, n);
		}
		p += n;
	}
	return strbuf_take(&sb);
}

static void hash_str(struct walk *w, const char *s)
{
	EVP_DigestUpdate(w->md, s, strlen(s) + 1);
}

/* --exclude: against the path in the source root and the path under the source named. */
static bool excluded(const struct walk *w, const char *rel)
{
	size_t i, n = w->top ? strlen(w->top) : 0;
	const char *under = n && !strncmp(rel, w->top, n) && rel[n] == '/' ? rel + n + 1 : rel;

	for (i = 0; i < w->src->nexclude; i++)
		if (build_pattern_match(w->src->exclude[i], rel) ||
		    build_pattern_match(w->src->exclude[i], under))
			return true;
	return false;
}

/* ---- copying one node into the staging tree ---- */

static int stage_meta(struct walk *w, int fd, const struct stat *st, const char *dst)
{
	const struct copy_opts *co = w->co;
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	mode_t mode = co->mode >= 0 && !S_ISLNK(st->st_mode) ? (mode_t)co->mode
							     : st->st_mode & 07777;

	if (fchownat(fd, "", co->uid < 0 ? 0 : co->uid, co->gid < 0 ? 0 : co->gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(w->err, "chown %s", dst);
	if (!S_ISLNK(st->st_mode) && fchmod(fd, mode) < 0)
		return stk_err_sys(w->err, "chmod %s", dst);
	if (!S_ISLNK(st->st_mode))
		futimens(fd, ts);
	return 0;
}

static int stage_file(struct walk *w, int srcfd, const struct stat *st, const char *dst)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", w->stage, dst);
	_cleanup_close_ int out =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	if (out < 0)
		return stk_err_sys(w->err, "create %s", dst);
	while ((n = read(srcfd, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return stk_err_sys(w->err, "write %s", dst);
	if (n < 0)
		return stk_err_sys(w->err, "read %s", dst);
	return stage_meta(w, out, st, dst);
}

static int stage_parents(struct walk *w, const char *dst)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", w->stage, dst);
	char *slash = strrchr(dir, '/');

	*slash = 0;
	return stk_mkdir_p(dir, 0755, w->err);
}

/* ---- ADD of a local tar archive: extracted, never written outside its directory ---- */

static int extract_entries(struct walk *w, struct archive *in, struct archive *out, const char *dir)
{
	struct archive_entry *e;
	int r;

	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *rel = build_clean_path(archive_entry_pathname(e));
		_cleanup_free_ char *path = xasprintf("%s/%s", dir, rel);
		const char *hl = archive_entry_hardlink(e);
		const void *buf;
		size_t n;
		int64_t off;

		if (hl) {
			_cleanup_free_ char *hrel = build_clean_path(hl);
			_cleanup_free_ char *hpath = xasprintf("%s/%s", dir, hrel);

			archive_entry_copy_hardlink(e, hpath);
		}
		archive_entry_set_pathname(e, path);
		if (archive_write_header(out, e) < ARCHIVE_OK)
			return stk_err_set(w->err, 0, "ADD: %s: %s", rel,
					   archive_error_string(out));
		while (archive_entry_size(e) > 0 &&
		       (r = archive_read_data_block(in, &buf, &n, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(out, buf, n, off) < ARCHIVE_OK)
				return stk_err_set(w->err, 0, "ADD: %s: %s", rel,
						   archive_error_string(out));
		archive_write_finish_entry(out);
	}
	return r == ARCHIVE_EOF ? 0 : stk_err_set(w->err, 0, "ADD: %s", archive_error_string(in));
}

/* *done = 1 when the file was a tar archive and is extracted into dst's directory. */
static int extract_tar(struct walk *w, const char *file, const char *dst, int *done)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", w->stage, dst);
	struct archive *in, *out;
	struct archive_entry *first;
	char *slash = strrchr(dir, '/');
	int rc;

	*done = 0;
	if (stk_lazylib_load(&stk_lazy_archive_lib, w->err) < 0)
		return -1;
	*slash = 0;
	in = archive_read_new();
	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	if (archive_read_open_filename(in, file, 65536) < ARCHIVE_OK ||
	    archive_read_next_header(in, &first) < ARCHIVE_OK) {
		archive_read_free(in);
		return 0; /* not an archive: copied as it is */
	}
	archive_read_free(in);
	in = archive_read_new();
	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	archive_read_open_filename(in, file, 65536);
	out = archive_write_disk_new();
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
						    ARCHIVE_EXTRACT_TIME |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	rc = extract_entries(w, in, out, dir);
	archive_write_free(out);
	archive_read_free(in);
	*done = rc == 0;
	return rc;
}

/* ---- hashing ---- */

/* A file's part of the digest is the digest of its content: taken from the stat cache
 * when the file cannot have changed since it was recorded, else read and recorded. */
static int hash_file(struct walk *w, int fd, const struct stat *st, const char *srel)
{
	const char *known = w->src->context ? build_statcache_get(w->b, srel, st) : NULL;
	_cleanup_close_ int rfd = -1;
	EVP_MD_CTX *md;
	unsigned char d[32];
	char hex[65], buf[65536];
	unsigned int dn = 0;
	ssize_t n;
	int i;

	if (known) {
		hash_str(w, known);
		return 0;
	}
	snprintf(buf, sizeof(buf), "/proc/self/fd/%d", fd);
	rfd = open(buf, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return stk_err_sys(w->err, "open %s", srel);
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while ((n = read(rfd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(md, buf, (size_t)n);
	EVP_DigestFinal_ex(md, d, &dn);
	EVP_MD_CTX_free(md);
	if (n < 0)
		return stk_err_sys(w->err, "read %s", srel);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	hash_str(w, hex);
	if (w->src->context)
		build_statcache_put(w->b, srel, st, w->hash_start, hex);
	return 0;
}

/* ---- the walk ---- */

static int visit(struct walk *w, int fd, const char *srel, const char *dst);

static int visit_dir(struct walk *w, int fd, const char *srel, const char *dst)
{
	_cleanup_close_ int dfd = dup(fd);
	struct dirent **ents = NULL;
	int n, i, rc = 0;

	n = dfd < 0 ? -1 : scandirat(dfd, ".", &ents, NULL, alphasort);
	if (n < 0)
		return stk_err_sys(w->err, "read directory %s", *srel ? srel : ".");
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		_cleanup_free_ char *s = NULL, *d = NULL;
		_cleanup_close_ int cfd = -1;

		if (rc < 0 || !strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		s = *srel ? xasprintf("%s/%s", srel, name) : xstrdup(name);
		if ((w->src->context && build_ignored(w->b, s)) || excluded(w, s))
			continue;
		d = *dst ? xasprintf("%s/%s", dst, name) : xstrdup(name);
		cfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		rc = cfd < 0 ? stk_err_sys(w->err, "open %s", s) : visit(w, cfd, s, d);
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

static int visit_link(struct walk *w, int fd, const struct stat *st, const char *dst)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int lfd = -1;

	if (n < 0)
		return stk_err_sys(w->err, "readlink %s", dst);
	target[n] = 0;
	if (w->md) {
		hash_str(w, target);
		return 0;
	}
	path = xasprintf("%s/%s", w->stage, dst);
	if (stage_parents(w, dst) < 0 || symlink(target, path) < 0)
		return stk_err_sys(w->err, "symlink %s", dst);
	lfd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	return lfd < 0 ? stk_err_sys(w->err, "open %s", dst) : stage_meta(w, lfd, st, dst);
}

static int visit(struct walk *w, int fd, const char *srel, const char *dst)
{
	struct stat st;
	char line[64];
	int rc = 0;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH) < 0)
		return stk_err_sys(w->err, "stat %s", srel);
	if (w->md) {
		hash_str(w, dst);
		snprintf(line, sizeof(line), "%o %lld", st.st_mode, (long long)st.st_size);
		hash_str(w, line);
	}
	if (S_ISLNK(st.st_mode))
		return visit_link(w, fd, &st, dst);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		_cleanup_free_ char *path = xasprintf("%s/%s", w->stage ? w->stage : "", dst);

		_cleanup_close_ int staged = -1;

		if (dfd < 0)
			return stk_err_sys(w->err, "open %s", srel);
		/* the owner and mode go to the staged copy, never to the source */
		if (!w->md && stk_mkdir_p(path, 0755, w->err) < 0)
			return -1;
		if (!w->md) {
			staged = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (staged < 0)
				return stk_err_sys(w->err, "open %s", dst);
			if (stage_meta(w, staged, &st, dst) < 0)
				return -1;
		}
		return visit_dir(w, dfd, srel, dst);
	}
	if (!S_ISREG(st.st_mode))
		return 0; /* devices, fifos, sockets: not copied, as BuildKit does */
	if (w->md)
		return hash_file(w, fd, &st, srel);
	_cleanup_free_ char *self = xasprintf("/proc/self/fd/%d", fd);
	_cleanup_close_ int rfd = open(self, O_RDONLY | O_CLOEXEC);

	if (rfd < 0)
		return stk_err_sys(w->err, "open %s", srel);
	if (stage_parents(w, dst) < 0)
		return -1;
	if (w->co->add && extract_tar(w, self, dst, &rc) < 0)
		return -1;
	return rc == 1 ? 0 : stage_file(w, rfd, &st, dst);
}

/* ---- sources ---- */

struct matches {
	char **v;
	size_t n;
};

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int glob_walk(struct walk *w, int dirfd, const char *pat, const char *prefix,
		     struct matches *m)
{
	size_t pn = strcspn(pat, "/");
	_cleanup_free_ char *comp = xstrndup(pat, pn);
	_cleanup_close_ int fd = dup(dirfd);
	struct dirent **ents = NULL;
	int n, i, rc = 0;

	n = fd < 0 ? -1 : scandirat(fd, ".", &ents, NULL, alphasort);
	if (n < 0)
		return 0;
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		_cleanup_free_ char *rel = NULL;

		if (rc < 0 || !strcmp(name, ".") || !strcmp(name, "..") || fnmatch(comp, name, 0))
			continue;
		rel = *prefix ? xasprintf("%s/%s", prefix, name) : xstrdup(name);
		if ((w->src->context && build_ignored(w->b, rel)) || excluded(w, rel))
			continue;
		if (!pat[pn]) {
			m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
			m->v[m->n++] = steal(&rel);
		} else {
			_cleanup_close_ int sub =
				open_in_root(w->rootfd, rel, O_RDONLY | O_DIRECTORY);

			if (sub >= 0)
				rc = glob_walk(w, sub, pat + pn + 1, rel, m);
		}
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rc;
}

static int match_sources(struct walk *w, char **srcs, size_t nsrcs, struct matches *m)
{
	size_t i;

	for (i = 0; i < nsrcs; i++) {
		_cleanup_free_ char *p = build_clean_path(srcs[i]);

		if (has_glob(p)) {
			size_t before = m->n;

			if (glob_walk(w, w->rootfd, p, "", m) < 0)
				return -1;
			if (m->n == before)
				return stk_err_set(
					w->err, ENOENT,
					"no source files were specified (\"%s\" matches nothing)",
					srcs[i]);
			continue;
		}
		if (*p && w->src->context && build_ignored(w->b, p))
			return stk_err_set(w->err, ENOENT,
					   "\"/%s\": not found (excluded by .dockerignore)", p);
		m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
		m->v[m->n++] = steal(&p);
	}
	return 0;
}

/* Every match into its place: a directory's contents into dest, a file into dest (a
 * directory when written with "/" or when there are several sources). */
static int walk_sources(struct walk *w, char **srcs, size_t nsrcs, const char *dstrel,
			bool dir_dest)
{
	struct matches m = {0};
	size_t i;
	int rc;

	rc = match_sources(w, srcs, nsrcs, &m);
	if (rc == 0 && m.n > 1 && !dir_dest)
		rc = stk_err_set(
			w->err, EINVAL,
			"when using COPY with more than one source file, the destination must be a directory and end with a /");
	for (i = 0; rc == 0 && i < m.n; i++) {
		_cleanup_close_ int fd = open_in_root(w->rootfd, m.v[i], O_PATH);
		_cleanup_free_ char *dst = NULL;
		const char *base = strrchr(m.v[i], '/');
		struct stat st;

		if (fd < 0) {
			rc = errno == ENOENT || errno == ENOTDIR
				     ? stk_err_set(w->err, ENOENT, "\"/%s\": not found", m.v[i])
				     : stk_err_sys(w->err, "\"/%s\"", m.v[i]);
			break;
		}
		fstat(fd, &st);
		w->top = m.v[i];
		base = base ? base + 1 : m.v[i];
		if (S_ISDIR(st.st_mode) || !dir_dest || !*base)
			dst = xstrdup(dstrel);
		else
			dst = *dstrel ? xasprintf("%s/%s", dstrel, base) : xstrdup(base);
		rc = visit(w, fd, m.v[i], dst);
	}
	df_strv_free(m.v, m.n);
	return rc;
}

static int open_root(struct walk *w)
{
	w->rootfd = open(w->src->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return w->rootfd < 0 ? stk_err_sys(w->err, "open %s", w->src->root) : 0;
}

int build_hash_sources(struct build *b, const struct copy_src *src, char **srcs, size_t nsrcs,
		       char out[72], struct stk_err *err)
{
	struct copy_opts co = {.uid = -1, .gid = -1, .mode = -1};
	struct walk w = {.b = b, .src = src, .co = &co, .err = err};
	unsigned char md[32];
	unsigned int n = 0;
	int rc, i;

	if (open_root(&w) < 0)
		return -1;
	if (src->context)
		build_statcache_load(b);
	w.hash_start = build_statcache_now();
	w.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(w.md, EVP_sha256(), NULL);
	rc = walk_sources(&w, srcs, nsrcs, "", true);
	EVP_DigestFinal_ex(w.md, md, &n);
	EVP_MD_CTX_free(w.md);
	close(w.rootfd);
	if (src->context)
		build_statcache_save(b);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return rc;
}

int build_copy(struct build *b, struct bstate *st, const struct copy_src *src, char **srcs,
	       size_t nsrcs, const struct copy_opts *co, struct stk_err *err)
{
	struct walk w = {.b = b, .src = src, .co = co, .err = err};
	_cleanup_free_ char *stage = build_scratch_path(b, "copy");
	_cleanup_free_ char *tar = build_scratch_path(b, "layer.tar");
	_cleanup_free_ char *dstrel = build_clean_path(co->dest);
	struct image_layer l;
	int rc;

	if (open_root(&w) < 0)
		return -1;
	w.stage = stage;
	rc = stk_mkdir_p(stage, 0755, err);
	if (rc == 0)
		rc = walk_sources(&w, srcs, nsrcs, dstrel, co->dest_dir);
	close(w.rootfd);
	if (rc == 0)
		rc = build_tar_tree(stage, tar, err);
	if (rc == 0)
		rc = image_store_add_layer(b->store, tar, &l, err);
	if (rc == 0)
		bstate_add_layer(st, &l);
	unlink(tar);
	return rc;
}

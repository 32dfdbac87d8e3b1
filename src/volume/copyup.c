/* Copy-up: an empty volume mounted where the image has content gets that content, as
 * Docker does. The source is the image's merged view, read from its layer
 * directories (top first) the way overlayfs merges them: the top-most entry of a name
 * wins, a whiteout (char 0/0) hides lower ones, an opaque directory
 * (trusted.overlay.opaque=y) hides lower directories' content, and a directory merges
 * with lower directories of the same name only. Every step is an openat of one name
 * relative to an already open directory with O_NOFOLLOW; symlinks on the way to the
 * mount path are resolved by us against the image's root, so nothing outside the
 * layers is ever read. */
#include "volume/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

/* One directory of the merged view: its fd in each layer that contributes, top first. */
struct merged_dir {
	int *fds;
	size_t n;
};

static void merged_dir_release(struct merged_dir *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		close(d->fds[i]);
	free(d->fds);
	d->fds = NULL;
	d->n = 0;
}

static void merged_dir_add(struct merged_dir *d, int fd)
{
	d->fds = xrealloc(d->fds, (d->n + 1) * sizeof(int));
	d->fds[d->n++] = fd;
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool is_opaque(int fd)
{
	char v = 0;

	return fgetxattr(fd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y';
}

/* The top-most entry of name: the index of its layer, or -1 (absent or whited out). */
static int merged_lookup(const struct merged_dir *d, const char *name, struct stat *st)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		if (fstatat(d->fds[i], name, st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		return is_whiteout(st) ? -1 : (int)i;
	}
	return -1;
}

/* The merged directory name below d, which merged_lookup found to be a directory. */
static int merged_child(const struct merged_dir *d, const char *name, struct merged_dir *out,
			struct stk_err *err)
{
	size_t i;

	out->fds = NULL;
	out->n = 0;
	for (i = 0; i < d->n; i++) {
		struct stat st;
		int fd;

		if (fstatat(d->fds[i], name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (!S_ISDIR(st.st_mode))
			break;
		fd = openat(d->fds[i], name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			merged_dir_release(out);
			return stk_err_sys(err, "open %s", name);
		}
		merged_dir_add(out, fd);
		if (is_opaque(fd))
			break;
	}
	return 0;
}

static int merged_root(const char *const *layers, size_t n, struct merged_dir *out,
		       struct stk_err *err)
{
	size_t i;

	out->fds = NULL;
	out->n = 0;
	for (i = 0; i < n; i++) {
		int fd = open(layers[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0) {
			merged_dir_release(out);
			return stk_err_sys(err, "open layer %s", layers[i]);
		}
		merged_dir_add(out, fd);
	}
	return 0;
}

/* Resolve path in the merged view, following symlinks inside the image. 1 with *out
 * set when it is a directory, 0 when the image has no directory there. */
static int merged_resolve(const char *const *layers, size_t nlayers, const char *path,
			  struct merged_dir *out, struct stk_err *err)
{
	_cleanup_free_ char *rest = xstrdup(path);
	int links = 0;

restart : {
	_cleanup_free_ char *cur = xstrdup("");
	struct merged_dir d;
	char *p = rest;

	if (merged_root(layers, nlayers, &d, err) < 0)
		return -1;
	for (;;) {
		_cleanup_free_ char *name = NULL;
		struct merged_dir child;
		struct stat st;
		size_t len;
		int layer;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		name = xstrndup(p, len);
		p += len;
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			/* cur has no symlinks in it: ".." is lexical. */
			char *up = strrchr(cur, '/'), *next;

			if (up)
				*up = '\0';
			next = xasprintf("%s%s", cur, p);
			merged_dir_release(&d);
			free(rest);
			rest = next;
			goto restart;
		}
		layer = merged_lookup(&d, name, &st);
		if (layer < 0 || (!S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode))) {
			merged_dir_release(&d);
			return 0;
		}
		if (S_ISLNK(st.st_mode)) {
			char link[PATH_MAX];
			ssize_t n = readlinkat(d.fds[layer], name, link, sizeof(link) - 1);
			char *next;

			if (n < 0 || ++links > 40) {
				merged_dir_release(&d);
				return stk_err_set(err, ELOOP,
						   "resolve %s in the image: too many "
						   "symlinks",
						   path);
			}
			link[n] = '\0';
			next = link[0] == '/' ? xasprintf("%s%s", link, p)
					      : xasprintf("%s/%s%s", cur, link, p);
			merged_dir_release(&d);
			free(rest);
			rest = next;
			goto restart;
		}
		if (merged_child(&d, name, &child, err) < 0) {
			merged_dir_release(&d);
			return -1;
		}
		merged_dir_release(&d);
		d = child;
		{
			char *next = xasprintf("%s/%s", cur, name);

			free(cur);
			cur = next;
		}
	}
	*out = d;
	return 1;
}
}

/* --- copying one node --- */

struct copy_ctx {
	int dest_root;
	struct hardlink {
		dev_t dev;
		ino_t ino;
		char *rel;
	} * links;
	size_t nlinks;
};

static int copy_xattrs(int sfd, const char *sname, int dfd, const char *dname, struct stk_err *err)
{
	char src[PATH_MAX], dst[PATH_MAX], names[65536], value[65536];
	ssize_t len, vlen;
	char *n;

	snprintf(src, sizeof(src), "/proc/self/fd/%d/%s", sfd, sname);
	snprintf(dst, sizeof(dst), "/proc/self/fd/%d/%s", dfd, dname);
	len = llistxattr(src, names, sizeof(names));
	if (len < 0)
		return errno == ENOTSUP ? 0 : stk_err_sys(err, "list xattrs of %s", sname);
	for (n = names; n < names + len; n += strlen(n) + 1) {
		if (str_has_prefix(n, "trusted.overlay."))
			continue;
		vlen = lgetxattr(src, n, value, sizeof(value));
		if (vlen < 0)
			return stk_err_sys(err, "read xattr %s of %s", n, sname);
		if (lsetxattr(dst, n, value, (size_t)vlen, 0) < 0)
			return stk_err_sys(err, "set xattr %s on %s", n, dname);
	}
	return 0;
}

/* Owner, then mode (chown clears set-id bits), xattrs, times: in that order. */
static int copy_meta(int sfd, const char *sname, const struct stat *st, int dfd, const char *dname,
		     struct stk_err *err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};

	if (fchownat(dfd, dname, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "chown %s", dname);
	if (!S_ISLNK(st->st_mode) && fchmodat(dfd, dname, st->st_mode & 07777, 0) < 0)
		return stk_err_sys(err, "chmod %s", dname);
	if (copy_xattrs(sfd, sname, dfd, dname, err) < 0)
		return -1;
	if (utimensat(dfd, dname, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "set times of %s", dname);
	return 0;
}

static int copy_file_data(int sfd, const char *name, int dfd, struct stk_err *err)
{
	_cleanup_close_ int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out =
		openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	char buf[65536];
	ssize_t n;

	if (in < 0 || out < 0)
		return stk_err_sys(err, "copy %s", name);
	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n == 0)
			return 0;
		if (n < 0)
			break;
	}
	if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return stk_err_sys(err, "copy %s", name);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return stk_err_sys(err, "write %s", name);
	return n < 0 ? stk_err_sys(err, "read %s", name) : 0;
}

static const char *hardlink_seen(struct copy_ctx *c, const struct stat *st)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (c->links[i].dev == st->st_dev && c->links[i].ino == st->st_ino)
			return c->links[i].rel;
	return NULL;
}

static int copy_dir(struct copy_ctx *c, const struct merged_dir *src, int dfd, const char *rel,
		    struct stk_err *err);

static int copy_node(struct copy_ctx *c, const struct merged_dir *src, int layer, const char *name,
		     const struct stat *st, int dfd, const char *rel, struct stk_err *err)
{
	int sfd = src->fds[layer];
	_cleanup_free_ char *path = xasprintf("%s%s%s", rel, *rel ? "/" : "", name);

	if (S_ISDIR(st->st_mode)) {
		struct merged_dir child;
		_cleanup_close_ int sub = -1;
		int rc;

		if (mkdirat(dfd, name, 0700) < 0)
			return stk_err_sys(err, "mkdir %s", path);
		sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return stk_err_sys(err, "open %s", path);
		if (merged_child(src, name, &child, err) < 0)
			return -1;
		rc = copy_dir(c, &child, sub, path, err);
		merged_dir_release(&child);
		return rc < 0 ? -1 : copy_meta(sfd, name, st, dfd, name, err);
	}
	if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
		const char *first = hardlink_seen(c, st);

		if (first) {
			if (linkat(c->dest_root, first, dfd, name, 0) < 0)
				return stk_err_sys(err, "link %s", path);
			return 0;
		}
		c->links = xrealloc(c->links, (c->nlinks + 1) * sizeof(*c->links));
		c->links[c->nlinks].dev = st->st_dev;
		c->links[c->nlinks].ino = st->st_ino;
		c->links[c->nlinks++].rel = xstrdup(path);
	}
	if (S_ISREG(st->st_mode)) {
		if (copy_file_data(sfd, name, dfd, err) < 0)
			return -1;
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return stk_err_sys(err, "readlink %s", path);
		target[n] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			return stk_err_sys(err, "symlink %s", path);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) || S_ISFIFO(st->st_mode)) {
		if (mknodat(dfd, name, st->st_mode, st->st_rdev) < 0)
			return stk_err_sys(err, "mknod %s", path);
	} else {
		return 0; /* sockets mean nothing outside the process that bound them */
	}
	return copy_meta(sfd, name, st, dfd, name, err);
}

struct entry {
	char *name;
	int layer;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : x->layer - y->layer;
}

static int list_entries(const struct merged_dir *src, struct entry **out, size_t *n,
			struct stk_err *err)
{
	size_t i;

	*out = NULL;
	*n = 0;
	for (i = 0; i < src->n; i++) {
		int fd = fcntl(src->fds[i], F_DUPFD_CLOEXEC, 0);
		DIR *d;
		struct dirent *e;

		if (fd < 0 || !(d = fdopendir(fd))) {
			if (fd >= 0)
				close(fd);
			return stk_err_sys(err, "read directory");
		}
		rewinddir(d);
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			(*out)[*n].name = xstrdup(e->d_name);
			(*out)[(*n)++].layer = (int)i;
		}
		closedir(d);
	}
	if (*n)
		qsort(*out, *n, sizeof(**out), cmp_entry);
	return 0;
}

static int copy_dir(struct copy_ctx *c, const struct merged_dir *src, int dfd, const char *rel,
		    struct stk_err *err)
{
	struct entry *e;
	size_t n, i;
	int rc = 0;

	if (list_entries(src, &e, &n, err) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct stat st;

		/* Sorted by name, then layer: the first of a name is the top-most. */
		if (rc == 0 && (i == 0 || strcmp(e[i].name, e[i - 1].name))) {
			if (fstatat(src->fds[e[i].layer], e[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				rc = stk_err_sys(err, "stat %s", e[i].name);
			else if (!is_whiteout(&st))
				rc = copy_node(c, src, e[i].layer, e[i].name, &st, dfd, rel, err);
		}
	}
	for (i = 0; i < n; i++)
		free(e[i].name);
	free(e);
	return rc;
}

int volume_copy_tree(const char *const *layers, size_t nlayers, const char *path, const char *dest,
		     bool *copied, struct stk_err *err)
{
	struct copy_ctx c = {.dest_root = -1};
	struct merged_dir src;
	struct stat st;
	size_t i;
	int rc;

	*copied = false;
	rc = merged_resolve(layers, nlayers, path, &src, err);
	if (rc <= 0)
		return rc;
	c.dest_root = open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.dest_root < 0) {
		merged_dir_release(&src);
		return stk_err_sys(err, "open %s", dest);
	}
	rc = copy_dir(&c, &src, c.dest_root, "", err);
	/* The volume's root takes the owner and mode of the image's directory. */
	if (rc == 0 && fstat(src.fds[0], &st) < 0)
		rc = stk_err_sys(err, "stat %s", path);
	if (rc == 0 && (fchown(c.dest_root, st.st_uid, st.st_gid) < 0 ||
			fchmod(c.dest_root, st.st_mode & 07777) < 0))
		rc = stk_err_sys(err, "set the owner and mode of %s", dest);
	if (rc == 0)
		rc = copy_xattrs(src.fds[0], ".", c.dest_root, ".", err);
	if (rc == 0)
		*copied = true;
	for (i = 0; i < c.nlinks; i++)
		free(c.links[i].rel);
	free(c.links);
	close(c.dest_root);
	merged_dir_release(&src);
	return rc < 0 ? stk_err_wrap(err, "copy %s from the image", path) : 0;
}

int volume_copy_up(const char *root, const struct volume *v, const char *const *layers,
		   size_t nlayers, const char *path, struct stk_err *err)
{
	_cleanup_free_ char *host = NULL, *tmp = NULL;
	struct stk_err ignored;
	bool copied;
	int empty;

	if (volume_host_path(root, v, &host, err) < 0)
		return -1;
	empty = volume_dir_is_empty(host, err);
	if (empty <= 0)
		return empty;
	if (volume_option(v, "type"))
		return volume_copy_tree(layers, nlayers, path, host, &copied, err);
	/* A plain volume is filled in a directory beside _data and renamed over the empty
	 * _data, so a failed copy leaves it empty and the next start tries again. Two
	 * containers starting at once may both copy: the first rename wins, and the other
	 * finds _data no longer empty and drops its copy. */
	tmp = xasprintf("%s.copyup-%d", host, (int)getpid());
	volume_rm_tree(tmp, &ignored);
	if (mkdir(tmp, 0755) < 0)
		return stk_err_sys(err, "create %s", tmp);
	if (volume_copy_tree(layers, nlayers, path, tmp, &copied, err) < 0) {
		volume_rm_tree(tmp, &ignored);
		return -1;
	}
	if (copied && rename(tmp, host) < 0) {
		int e = errno;

		volume_rm_tree(tmp, &ignored);
		errno = e;
		return e == ENOTEMPTY || e == EEXIST ? 0 : stk_err_sys(err, "rename %s", tmp);
	}
	if (!copied)
		rmdir(tmp);
	return 0;
}

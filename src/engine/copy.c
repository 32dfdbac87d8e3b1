/* `cp` between the host and a running container, with Docker's rules (a trailing "/."
 * copies a directory's contents, an existing destination directory receives the source
 * under its own name, -a keeps owners, -L follows a symlink named as the source).
 *
 * Every path inside the container is opened with openat2(RESOLVE_IN_ROOT) from its PID
 * 1's /proc/<pid>/root, so a symlink in the container (/evil -> /etc, ../../..) resolves
 * inside the container's root and never reaches the host's files. Below the top level
 * the copy walks directory fds and names without slashes, never following a symlink
 * (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW): a symlink is copied as a symlink. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/openat2.h>
#include <sched.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "engine/engine.h"
#include "engine/internal.h"
#include "util/cleanup.h"
#include "util/lazy_archive.h"
#include "util/str.h"

/* One end of a copy: the host (root -1, paths resolved as usual) or a container. */
struct side {
	int root;
};

struct copier {
	struct side src, dst;
	bool archive, follow;
	uid_t uid; /* owner of what is written, without archive */
	gid_t gid;
};

static int side_open(const struct side *s, const char *path, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = s->root >= 0 ? RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS : 0,
	};

	return (int)syscall(SYS_openat2, s->root >= 0 ? s->root : AT_FDCWD, path, &how,
			    sizeof(how));
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Owner, mode and times of dir/name, never following it. */
static int set_attrs(const struct copier *cp, int dir, const char *name, const struct stat *st,
		     struct stk_err *err)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	uid_t uid = cp->archive ? st->st_uid : cp->uid;
	gid_t gid = cp->archive ? st->st_gid : cp->gid;

	if (fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "chown %s", name);
	if (!S_ISLNK(st->st_mode) &&
	    fchmodat(dir, name, st->st_mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "chmod %s", name);
	if (utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return stk_err_sys(err, "set times of %s", name);
	return 0;
}

/* Make room for a new entry dir/name: a directory stays when want_dir, anything else
 * that is there goes (a symlink is replaced, never written through). */
static int clear_name(int dir, const char *name, bool want_dir, struct stk_err *err)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : stk_err_sys(err, "%s", name);
	if (S_ISDIR(st.st_mode)) {
		if (want_dir)
			return 0;
		return stk_err_set(err, EISDIR,
				   "cannot overwrite directory \"%s\" with non-directory", name);
	}
	if (unlinkat(dir, name, 0) < 0)
		return stk_err_sys(err, "remove %s", name);
	return 0;
}

static int copy_entry(const struct copier *cp, int srcfd, const struct stat *st, int dstdir,
		      const char *name, struct stk_err *err);

/* Every entry of the directory srcfd (an O_PATH fd) into the directory dstdir. */
static int copy_children(const struct copier *cp, int srcfd, int dstdir, struct stk_err *err)
{
	int dfd = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return stk_err_sys(err, "open directory");
	}
	while (rc == 0 && (de = readdir(d))) {
		_cleanup_close_ int cfd = -1;
		struct stat cst;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		cfd = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 || fstat(cfd, &cst) < 0) {
			rc = stk_err_sys(err, "%s", de->d_name);
			break;
		}
		rc = copy_entry(cp, cfd, &cst, dstdir, de->d_name, err);
		if (rc < 0)
			stk_err_wrap(err, "%s", de->d_name);
	}
	closedir(d);
	return rc;
}

static int copy_file(int srcfd, int dstdir, const char *name, struct stk_err *err)
{
	_cleanup_free_ char *self = xasprintf("/proc/self/fd/%d", srcfd);
	_cleanup_close_ int in = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_close_ int out = -1;
	char buf[65536];
	ssize_t r;

	if (in < 0)
		return stk_err_sys(err, "open %s", name);
	out = openat(dstdir, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return stk_err_sys(err, "create %s", name);
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return stk_err_sys(err, "read %s", name);
		if (write_all(out, buf, (size_t)r) < 0)
			return stk_err_sys(err, "write %s", name);
	}
	return 0;
}

static int copy_entry(const struct copier *cp, int srcfd, const struct stat *st, int dstdir,
		      const char *name, struct stk_err *err)
{
	if (clear_name(dstdir, name, S_ISDIR(st->st_mode), err) < 0)
		return -1;
	if (S_ISDIR(st->st_mode)) {
		_cleanup_close_ int dfd = -1;

		if (mkdirat(dstdir, name, 0700) < 0 && errno != EEXIST)
			return stk_err_sys(err, "mkdir %s", name);
		dfd = openat(dstdir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return stk_err_sys(err, "open %s", name);
		if (copy_children(cp, srcfd, dfd, err) < 0)
			return -1;
	} else if (S_ISREG(st->st_mode)) {
		if (copy_file(srcfd, dstdir, name, err) < 0)
			return -1;
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(srcfd, "", target, sizeof(target) - 1);

		if (n < 0)
			return stk_err_sys(err, "readlink %s", name);
		target[n] = '\0';
		if (symlinkat(target, dstdir, name) < 0)
			return stk_err_sys(err, "symlink %s", name);
	} else if (S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		if (mknodat(dstdir, name, st->st_mode & (S_IFMT | 0700), st->st_rdev) < 0)
			return stk_err_sys(err, "mknod %s", name);
	} else {
		return 0; /* a socket: nothing to copy, as tar */
	}
	return set_attrs(cp, dstdir, name, st, err);
}

/* The last component of path without trailing slashes ("" for "/"); dirname in *dir. */
static char *split_path(const char *path, char **dir)
{
	size_t n = strlen(path);
	const char *slash;
	char *trimmed, *base;

	while (n > 1 && path[n - 1] == '/')
		n--;
	trimmed = xstrndup(path, n);
	if (!strcmp(trimmed, "/")) {
		*dir = xstrdup("/");
		free(trimmed);
		return xstrdup("");
	}
	slash = strrchr(trimmed, '/');
	if (!slash)
		*dir = xstrdup(".");
	else if (slash == trimmed)
		*dir = xstrdup("/");
	else
		*dir = xstrndup(trimmed, (size_t)(slash - trimmed));
	base = xstrdup(slash ? slash + 1 : trimmed);
	free(trimmed);
	return base;
}

static int copy_paths(const struct copier *cp, const char *src, const char *dst,
		      struct stk_err *err)
{
	bool contents = str_has_suffix(src, "/.") || !strcmp(src, ".");
	bool src_slash = contents || str_has_suffix(src, "/");
	_cleanup_close_ int srcfd = -1, dstfd = -1, parent = -1;
	_cleanup_free_ char *sdir = NULL, *ddir = NULL, *sbase = NULL, *dbase = NULL;
	struct stat st, dst_st;

	srcfd = side_open(&cp->src, src, O_PATH | (cp->follow || src_slash ? 0 : O_NOFOLLOW));
	if (srcfd < 0 || fstat(srcfd, &st) < 0)
		return stk_err_sys(err, "could not find the file %s", src);
	if (src_slash && !S_ISDIR(st.st_mode))
		return stk_err_set(err, ENOTDIR, "%s: not a directory", src);
	sbase = split_path(contents ? "." : src, &sdir);
	if (!*sbase || !strcmp(sbase, ".") || !strcmp(sbase, ".."))
		contents = S_ISDIR(st.st_mode);
	dstfd = side_open(&cp->dst, dst, O_PATH);
	if (dstfd >= 0 && fstat(dstfd, &dst_st) == 0 && S_ISDIR(dst_st.st_mode)) {
		if (contents)
			return copy_children(cp, srcfd, dstfd, err);
		return copy_entry(cp, srcfd, &st, dstfd, sbase, err);
	}
	if (dstfd >= 0 && S_ISDIR(st.st_mode))
		return stk_err_set(err, ENOTDIR, "cannot copy a directory to a file: %s", dst);
	if (dstfd < 0 && errno != ENOENT)
		return stk_err_sys(err, "%s", dst);
	if (str_has_suffix(dst, "/") && !S_ISDIR(st.st_mode))
		return stk_err_set(err, ENOENT, "destination directory %s does not exist", dst);
	dbase = split_path(dst, &ddir);
	parent = side_open(&cp->dst, ddir, O_PATH | O_DIRECTORY);
	if (parent < 0)
		return stk_err_sys(err, "destination directory %s", ddir);
	return copy_entry(cp, srcfd, &st, parent, dbase, err);
}

/* The container's root, as its PID 1 sees it; checked to still be that container's. */
static int container_root(struct engine_container *c, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/root", (int)engine_pid(c));
	_cleanup_close_ int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct pollfd pf = {.fd = engine_pidfd(c), .events = POLLIN};

	if (fd < 0)
		return stk_err_sys(err, "open the container's root");
	/* A pidfd is readable once its process has exited: the pid may be another's now. */
	if (pf.fd < 0 || poll(&pf, 1, 0) != 0)
		return stk_err_set(err, ESRCH, "container is not running");
	return stk_steal_fd(&fd);
}

int engine_copy(struct engine_container *c, const struct engine_copy_opts *o, struct stk_err *err)
{
	_cleanup_close_ int root = container_root(c, err);

	return root < 0 ? -1 : engine_copy_at(root, o, err);
}

int engine_copy_at(int root, const struct engine_copy_opts *o, struct stk_err *err)
{
	struct copier cp = {.src = {-1},
			    .dst = {-1},
			    .archive = o->archive,
			    .follow = o->follow_link};
	mode_t old;
	int rc;

	if (o->to_container) {
		cp.dst.root = root;
		cp.uid = 0;
		cp.gid = 0;
	} else {
		cp.src.root = root;
		cp.uid = geteuid();
		cp.gid = getegid();
	}
	/* Modes are set explicitly; the umask would only get in the way of mknodat. */
	old = umask(0);
	rc = copy_paths(&cp, o->src, o->dst, err);
	umask(old);
	return rc;
}

/* ---- cp SERVICE:SRC - : the source as a tar stream ---- */

static int tar_entry(struct archive *a, int fd, const struct stat *st, const char *path,
		     struct stk_err *err);

static int tar_children(struct archive *a, int fd, const char *prefix, struct stk_err *err)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	int rc = 0;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return stk_err_sys(err, "open directory %s", prefix);
	}
	while (rc == 0 && (de = readdir(d))) {
		_cleanup_close_ int cfd = -1;
		_cleanup_free_ char *path = NULL;
		struct stat cst;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = *prefix ? xasprintf("%s/%s", prefix, de->d_name) : xstrdup(de->d_name);
		cfd = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 || fstat(cfd, &cst) < 0)
			rc = stk_err_sys(err, "%s", path);
		else
			rc = tar_entry(a, cfd, &cst, path, err);
	}
	closedir(d);
	return rc;
}

static int tar_data(struct archive *a, int fd, const char *path, struct stk_err *err)
{
	_cleanup_free_ char *self = xasprintf("/proc/self/fd/%d", fd);
	_cleanup_close_ int in = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	char buf[65536];
	ssize_t r;

	if (in < 0)
		return stk_err_sys(err, "open %s", path);
	while ((r = read(in, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return stk_err_sys(err, "read %s", path);
		if (archive_write_data(a, buf, (size_t)r) != r)
			return stk_err_set(err, EIO, "write %s: %s", path, archive_error_string(a));
	}
	return 0;
}

static int tar_entry(struct archive *a, int fd, const struct stat *st, const char *path,
		     struct stk_err *err)
{
	struct archive_entry *e;
	char target[4096];
	int rc = 0;

	if (S_ISSOCK(st->st_mode))
		return 0;
	e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, st->st_mode & S_IFMT);
	archive_entry_set_perm(e, st->st_mode & 07777);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	archive_entry_set_size(e, S_ISREG(st->st_mode) ? st->st_size : 0);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		archive_entry_set_rdev(e, st->st_rdev);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);

		if (n < 0)
			rc = stk_err_sys(err, "readlink %s", path);
		target[n > 0 ? n : 0] = '\0';
		archive_entry_set_symlink(e, target);
	}
	if (rc == 0 && archive_write_header(a, e) != ARCHIVE_OK)
		rc = stk_err_set(err, EIO, "write %s: %s", path, archive_error_string(a));
	archive_entry_free(e);
	if (rc == 0 && S_ISREG(st->st_mode))
		rc = tar_data(a, fd, path, err);
	if (rc == 0 && S_ISDIR(st->st_mode))
		rc = tar_children(a, fd, path, err);
	return rc;
}

int engine_copy_tar(struct engine_container *c, const char *src, bool follow_link, int outfd,
		    struct stk_err *err)
{
	_cleanup_close_ int root = container_root(c, err);

	return root < 0 ? -1 : engine_copy_tar_at(root, src, follow_link, outfd, err);
}

int engine_copy_tar_at(int root, const char *src, bool follow_link, int outfd, struct stk_err *err)
{
	struct side side = {root};
	bool contents = str_has_suffix(src, "/.") || !strcmp(src, ".");
	bool src_slash = contents || str_has_suffix(src, "/");
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *dir = NULL, *base = NULL;
	struct archive *a;
	struct stat st;
	int rc;

	if (stk_lazylib_load(&stk_lazy_archive_lib, err) < 0)
		return -1;
	fd = side_open(&side, src, O_PATH | (follow_link || src_slash ? 0 : O_NOFOLLOW));
	if (fd < 0 || fstat(fd, &st) < 0)
		return stk_err_sys(err, "could not find the file %s", src);
	if (src_slash && !S_ISDIR(st.st_mode))
		return stk_err_set(err, ENOTDIR, "%s: not a directory", src);
	base = split_path(src, &dir);
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, outfd) != ARCHIVE_OK) {
		rc = stk_err_set(err, EIO, "write the archive: %s", archive_error_string(a));
	} else if (S_ISDIR(st.st_mode) && (contents || !*base)) {
		/* "/." (or the root): the contents, without the directory's own name. */
		rc = tar_children(a, fd, "", err);
	} else {
		rc = tar_entry(a, fd, &st, base, err);
	}
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = stk_err_set(err, EIO, "write the archive: %s", archive_error_string(a));
	archive_write_free(a);
	return rc;
}

/* ---- a stopped container's root ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int engine_stopped_root_open(const struct engine_spec *spec, const char *scratch, int *root,
			     struct stk_err *err)
{
	_cleanup_free_ char *mnt = xasprintf("%s/root", scratch);
	_cleanup_free_ char *work = xasprintf("%s/work", scratch);
	_cleanup_free_ char *opts = NULL;
	struct engine_spec s = *spec;

	if (!spec->nlayers || !spec->upper_dir)
		return stk_err_set(err, ENOTSUP, "the container keeps no filesystem of its own");
	if (unshare(CLONE_NEWNS) < 0)
		return stk_err_sys(err, "create a mount namespace");
	/* Nothing mounted here reaches the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return stk_err_sys(err, "make the mount namespace private");
	if ((mkdir(scratch, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(spec->upper_dir, 0755) < 0 && errno != EEXIST) ||
	    (mkdir(mnt, 0700) < 0 && errno != EEXIST) || (mkdir(work, 0700) < 0 && errno != EEXIST))
		return stk_err_sys(err, "prepare %s", scratch);
	/* The engine's state directory is the running container's: work goes in scratch. */
	s.state_dir = (char *)scratch;
	opts = plan_overlay_options(&s);
	if (mount("overlay", mnt, "overlay", 0, opts) < 0)
		return stk_err_sys(err, "mount the container's filesystem");
	*root = open(mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*root < 0)
		return stk_err_sys(err, "open the container's root");
	return 0;
}

void engine_stopped_root_close(const char *scratch, int root)
{
	_cleanup_free_ char *mnt = xasprintf("%s/root", scratch);

	if (root >= 0)
		close(root);
	umount2(mnt, MNT_DETACH);
	nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

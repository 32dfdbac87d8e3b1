/* Mounts inside the container's rootfs. Every target is opened with openat2 and
 * RESOLVE_IN_ROOT, so a symlink in an image (say /data -> /etc on the host) resolves
 * inside the rootfs; the mount then goes onto the opened fd, never onto a path that
 * could be swapped between check and use. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/cleanup.h"

static int openat2_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Create the missing parts of path one component at a time, resolving symlinks
 * ourselves against the rootfs (as RESOLVE_IN_ROOT would), so that a dangling link in
 * an image gets its target created inside the rootfs and nothing is created outside.
 * Runs in the child: fixed buffers only. rest holds what is left to walk, cur the
 * directory reached so far (relative to the root). */
static int create_in_root(int rootfd, const char *path, bool dir, struct stk_err *err)
{
	char rest[PATH_MAX], cur[PATH_MAX] = "", link[PATH_MAX], name[NAME_MAX + 1];
	size_t curlen = 0;
	int links = 0;

	if (strlen(path) >= sizeof(rest))
		return stk_err_set(err, ENAMETOOLONG, "create %s", path);
	memcpy(rest, path, strlen(path) + 1);
	for (;;) {
		_cleanup_close_ int parent = -1;
		char *p = rest, *end;
		size_t len;
		struct stat st;
		ssize_t n;
		bool last;

		while (*p == '/')
			p++;
		if (!*p)
			return 0;
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len > NAME_MAX)
			return stk_err_set(err, ENAMETOOLONG, "create %s", path);
		memcpy(name, p, len);
		name[len] = '\0';
		last = end[strspn(end, "/")] == '\0';
		memmove(rest, end, strlen(end) + 1);
		if (strcmp(name, ".") == 0)
			continue;
		if (strcmp(name, "..") == 0) {
			char *up = strrchr(cur, '/');

			if (up)
				*up = '\0';
			curlen = strlen(cur);
			continue;
		}
		parent = openat2_in_root(rootfd, *cur ? cur : "/", O_PATH | O_DIRECTORY);
		if (parent < 0)
			return stk_err_sys(err, "open %s", *cur ? cur : "/");
		if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
			size_t restlen = strlen(rest);

			n = readlinkat(parent, name, link, sizeof(link) - 1);
			if (n < 0 || ++links > 40)
				return stk_err_set(err, ELOOP, "resolve %s: too many symlinks",
						   path);
			if ((size_t)n + restlen >= sizeof(rest))
				return stk_err_set(err, ENAMETOOLONG, "resolve %s", path);
			/* rest becomes the link's target followed by what was left */
			memmove(rest + n, rest, restlen + 1);
			memcpy(rest, link, (size_t)n);
			if (link[0] == '/') {
				cur[0] = '\0';
				curlen = 0;
			}
			continue;
		}
		if (last && !dir) {
			int fd = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					0644);

			if (fd < 0 && errno != EEXIST && errno != EISDIR)
				return stk_err_sys(err, "create %s", path);
			if (fd >= 0)
				close(fd);
		} else if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST) {
			return stk_err_sys(err, "mkdir %s", path);
		}
		if (curlen + 1 + len >= sizeof(cur))
			return stk_err_set(err, ENAMETOOLONG, "create %s", path);
		cur[curlen++] = '/';
		memcpy(cur + curlen, name, len + 1);
		curlen += len;
	}
}

int mount_open_in_root(int rootfd, const char *path, bool dir, bool create, struct stk_err *err)
{
	int fd = openat2_in_root(rootfd, path, O_PATH);

	if (fd < 0 && errno == ENOENT && create) {
		if (create_in_root(rootfd, path, dir, err) < 0)
			return -1;
		fd = openat2_in_root(rootfd, path, O_PATH);
	}
	if (fd < 0)
		return stk_err_sys(err, "open %s in rootfs", path);
	return fd;
}

static int fd_path(int fd, char *buf, size_t len)
{
	return snprintf(buf, len, "/proc/self/fd/%d", fd);
}

int mount_at(int rootfd, const char *target, bool dir, const char *src, const char *fstype,
	     unsigned long flags, const char *data, struct stk_err *err)
{
	_cleanup_close_ int fd = mount_open_in_root(rootfd, target, dir, true, err);
	char p[64];

	if (fd < 0)
		return -1;
	fd_path(fd, p, sizeof(p));
	if (mount(src, p, fstype, flags & ~(unsigned long)MS_RDONLY, data) < 0)
		return stk_err_sys(err, "mount %s on %s", src ? src : fstype, target);
	if (flags & MS_RDONLY) {
		/* A bind ignores MS_RDONLY; remount the new mount, reached by a fresh walk. */
		_cleanup_close_ int top = mount_open_in_root(rootfd, target, dir, false, err);
		unsigned long keep = flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC);

		if (top < 0)
			return -1;
		fd_path(top, p, sizeof(p));
		if (mount(NULL, p, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0)
			return stk_err_sys(err, "remount %s read-only", target);
	}
	return 0;
}

/* Parent, before the clone: a volume's directory, or a bind's source with
 * create_host_path, is made on the host if missing (as dockerd does). */
int mount_prepare_sources(const struct engine_spec *s, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < s->nmounts; i++) {
		const struct engine_mount *m = &s->mounts[i];
		struct stat st;

		if (m->type == ENGINE_MOUNT_TMPFS || stat(m->source, &st) == 0)
			continue;
		if (errno != ENOENT || (m->type == ENGINE_MOUNT_BIND && !m->create_host_path))
			return stk_err_sys(err, "bind source %s", m->source);
		if (stk_mkdir_p(m->source, 0755, err) < 0)
			return -1;
	}
	return 0;
}

static int mount_one(int rootfd, const struct engine_mount *m, struct stk_err *err)
{
	unsigned long ro = m->read_only ? MS_RDONLY : 0;
	struct stat st;

	if (m->type == ENGINE_MOUNT_TMPFS) {
		unsigned mode = m->tmpfs_mode ? m->tmpfs_mode : 01777;
		char data[64];

		if (m->tmpfs_size)
			snprintf(data, sizeof(data), "mode=%o,size=%llu", mode,
				 (unsigned long long)m->tmpfs_size);
		else
			snprintf(data, sizeof(data), "mode=%o", mode);
		return mount_at(rootfd, m->target, true, "tmpfs", "tmpfs",
				MS_NOSUID | MS_NODEV | ro, data, err);
	}
	/* The parent made a missing source (mount_prepare_sources). */
	if (stat(m->source, &st) < 0)
		return stk_err_sys(err, "bind source %s", m->source);
	if (mount_at(rootfd, m->target, S_ISDIR(st.st_mode), m->source, NULL, MS_BIND | MS_REC | ro,
		     NULL, err) < 0)
		return -1;
	{
		_cleanup_close_ int fd = mount_open_in_root(rootfd, m->target, true, false, err);
		char p[64];

		if (fd < 0)
			return -1;
		fd_path(fd, p, sizeof(p));
		if (mount(NULL, p, NULL, m->propagation ? m->propagation : MS_REC | MS_PRIVATE,
			  NULL) < 0)
			return stk_err_sys(err, "set propagation of %s", m->target);
	}
	return 0;
}

int mount_user_mounts(int rootfd, const struct engine_spec *s, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < s->nmounts; i++)
		if (mount_one(rootfd, &s->mounts[i], err) < 0)
			return -1;
	return 0;
}

/* /etc/hostname comes from the state directory, /etc/hosts and /etc/resolv.conf from the
 * caller, unless the user mounted something there already. */
int mount_etc_files(int rootfd, const struct engine_spec *s, const struct child_plan *plan,
		    struct stk_err *err)
{
	static const char *const targets[] = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
	const char *sources[] = {s->hosts_file, plan->hostname_file, s->resolv_conf_file};
	size_t i, j;

	for (i = 0; i < 3; i++) {
		bool user = !sources[i];

		for (j = 0; j < s->nmounts; j++)
			if (strcmp(s->mounts[j].target, targets[i]) == 0)
				user = true;
		if (!user &&
		    mount_at(rootfd, targets[i], false, sources[i], NULL, MS_BIND, NULL, err) < 0)
			return -1;
	}
	return 0;
}

/* Where Docker puts its init. The mount point is made like any other target: resolved
 * inside the rootfs (an image's /sbin -> usr/sbin link is followed there, never out),
 * created if missing, and the bind is made read-only. */
int mount_init(int rootfd, const char *init_path, struct stk_err *err)
{
	return mount_at(rootfd, ENGINE_INIT_PATH, false, init_path, NULL,
			MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL, err);
}

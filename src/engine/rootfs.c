/* The container's root filesystem: the per-container files written at create, the
 * overlay (or single directory) mount, /proc, /sys and the cgroup view, pivot_root,
 * and Docker's masked and read-only paths. */
#include "engine/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

/* Docker's lists (moby oci/defaults.go), applied unless privileged. */
static const char *const masked_paths[] = {
	"/proc/asound",	    "/proc/acpi",	 "/proc/interrupts",
	"/proc/kcore",	    "/proc/keys",	 "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi",	    "/sys/firmware",	 "/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

static int write_file(const char *path, const char *content, struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t len = strlen(content);

	if (fd < 0)
		return stk_err_sys(err, "create %s", path);
	if (write(fd, content, len) != (ssize_t)len)
		return stk_err_sys(err, "write %s", path);
	return 0;
}

int rootfs_prepare_files(const struct engine_spec *s, struct stk_err *err)
{
	_cleanup_free_ char *hostname = xasprintf("%s\n", s->hostname);
	_cleanup_free_ char *p = xasprintf("%s/hostname", s->state_dir);
	static const char *const dirs[] = {"rootfs", "upper", "work"};
	size_t i;

	for (i = 0; i < (s->nlayers ? 3u : 1u); i++) {
		_cleanup_free_ char *d = i == 1 && s->upper_dir
						 ? xstrdup(s->upper_dir)
						 : xasprintf("%s/%s", s->state_dir, dirs[i]);

		/* The upper dir's mode is the container's "/": 0755 as in Docker, or only root
		 * could reach anything (the state directory above keeps others out). */
		if (mkdir(d, i == 1 ? 0755 : 0700) < 0 && errno != EEXIST)
			return stk_err_sys(err, "mkdir %s", d);
		if (i == 1 && chmod(d, 0755) < 0)
			return stk_err_sys(err, "chmod %s", d);
	}
	return write_file(p, hostname, err);
}

int rootfs_mount(const struct engine_spec *s, const struct child_plan *plan, struct stk_err *err)
{
	if (!s->nlayers) {
		if (mount(s->rootfs, plan->root, NULL, MS_BIND | MS_REC, NULL) < 0)
			return stk_err_sys(err, "bind %s", s->rootfs);
		return 0;
	}
	if (mount("overlay", plan->root, "overlay", 0, plan->overlay_opts) < 0)
		return stk_err_sys(err, "mount overlay on %s", plan->root);
	return 0;
}

/* Parent: the host's v1 hierarchies, read from /sys/fs/cgroup at each start. A link
 * ("cpu" -> "cpu,cpuacct") is made again as a link. */
void rootfs_list_cgroup_v1(const struct engine_spec *s, struct cg_v1_mount **out, size_t *n)
{
	bool own_cpuset = s->res.cpuset_cpus || s->res.cpuset_mems;
	_cleanup_close_ int dfd = open("/sys/fs/cgroup", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *e;

	*out = NULL;
	*n = 0;
	if (!d)
		return;
	dfd = -1; /* the DIR owns it now */
	while ((e = readdir(d))) {
		struct cg_v1_mount m;
		struct statfs sf;
		struct stat st;

		memset(&m, 0, sizeof(m));
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(m.name))
			continue;
		/* No cpuset cgroup of its own (cgroup_v1.c): its root would be the host's. */
		if (!own_cpuset && strcmp(e->d_name, "cpuset") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		snprintf(m.name, sizeof(m.name), "%s", e->d_name);
		if (S_ISLNK(st.st_mode)) {
			ssize_t len = readlinkat(dirfd(d), e->d_name, m.link, sizeof(m.link) - 1);

			if (len <= 0)
				continue;
			m.link[len] = '\0';
		} else {
			_cleanup_close_ int fd =
				openat(dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (fd < 0 || fstatfs(fd, &sf) < 0 || sf.f_type != CGROUP_SUPER_MAGIC)
				continue;
			if (str_has_prefix(e->d_name, "name="))
				snprintf(m.data, sizeof(m.data), "none,%s", e->d_name);
			else if (strcmp(e->d_name, "systemd") == 0)
				snprintf(m.data, sizeof(m.data), "none,name=systemd");
			else
				snprintf(m.data, sizeof(m.data), "%s", e->d_name);
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = m;
	}
	closedir(d);
}

/* v1: a read-only tmpfs with each of the host's hierarchies mounted again; inside the
 * container's cgroup namespace each shows the container's own cgroup as its root. */
static int mount_cgroup_v1(int rootfd, const struct child_plan *plan, struct stk_err *err)
{
	_cleanup_close_ int cgdir = -1;
	char path[64];
	size_t i;

	if (!plan->ncgv1)
		return 0;
	if (mount_at(rootfd, "/sys/fs/cgroup", true, "tmpfs", "tmpfs",
		     MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755", err) < 0)
		return -1;
	cgdir = mount_open_in_root(rootfd, "/sys/fs/cgroup", true, false, err);
	if (cgdir < 0)
		return -1;
	for (i = 0; i < plan->ncgv1; i++) {
		const struct cg_v1_mount *m = &plan->cgv1[i];
		char target[sizeof(m->name) + 16];

		if (m->link[0]) {
			if (symlinkat(m->link, cgdir, m->name) < 0)
				return stk_err_sys(err, "symlink /sys/fs/cgroup/%s", m->name);
			continue;
		}
		snprintf(target, sizeof(target), "/sys/fs/cgroup/%s", m->name);
		if (mount_at(rootfd, target, true, "cgroup", "cgroup",
			     MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, m->data, err) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", cgdir);
	if (mount(NULL, path, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return stk_err_sys(err, "remount /sys/fs/cgroup read-only");
	return 0;
}

int rootfs_mount_sys(int rootfd, const struct engine_spec *s, const struct child_plan *plan,
		     int cgroup_version, struct stk_err *err)
{
	unsigned long sys_ro = s->privileged ? 0 : MS_RDONLY;
	unsigned long cg_ro = s->privileged ? 0 : MS_RDONLY;

	if (mount_at(rootfd, "/proc", true, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL,
		     err) < 0)
		return -1;
	if (mount_at(rootfd, "/sys", true, "sysfs", "sysfs",
		     MS_NOSUID | MS_NODEV | MS_NOEXEC | sys_ro, NULL, err) < 0)
		return -1;
	if (cgroup_version == 2)
		return mount_at(rootfd, "/sys/fs/cgroup", true, "cgroup2", "cgroup2",
				MS_NOSUID | MS_NODEV | MS_NOEXEC | cg_ro, NULL, err);
	return mount_cgroup_v1(rootfd, plan, err);
}

int rootfs_pivot(const char *root, struct stk_err *err)
{
	_cleanup_close_ int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fchdir(fd) < 0)
		return stk_err_sys(err, "chdir %s", root);
	/* pivot_root(".", ".") stacks the old root under the new one; detach it. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return stk_err_sys(err, "pivot_root %s", root);
	if (umount2(".", MNT_DETACH) < 0)
		return stk_err_sys(err, "detach the old root");
	if (chdir("/") < 0)
		return stk_err_sys(err, "chdir /");
	return 0;
}

static int mask_path(int rootfd, const char *p, struct stk_err *err)
{
	_cleanup_close_ int fd = mount_open_in_root(rootfd, p, false, false, err);
	struct stat st;

	if (fd < 0)
		return err->errnum == ENOENT ? 0 : -1;
	if (fstat(fd, &st) < 0)
		return stk_err_sys(err, "stat %s", p);
	if (S_ISDIR(st.st_mode))
		return mount_at(rootfd, p, true, "tmpfs", "tmpfs",
				MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", err);
	return mount_at(rootfd, p, false, "/dev/null", NULL, MS_BIND, NULL, err);
}

static int readonly_path(int rootfd, const char *p, struct stk_err *err)
{
	_cleanup_close_ int fd = mount_open_in_root(rootfd, p, false, false, err);
	char self[64];

	if (fd < 0)
		return err->errnum == ENOENT ? 0 : -1;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	return mount_at(rootfd, p, false, self, NULL,
			MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
}

int rootfs_mask_paths(const struct engine_spec *s, struct stk_err *err)
{
	_cleanup_close_ int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	if (s->privileged)
		return 0;
	if (rootfd < 0)
		return stk_err_sys(err, "open /");
	for (i = 0; i < sizeof(masked_paths) / sizeof(masked_paths[0]); i++)
		if (mask_path(rootfd, masked_paths[i], err) < 0)
			return -1;
	for (i = 0; i < sizeof(readonly_paths) / sizeof(readonly_paths[0]); i++)
		if (readonly_path(rootfd, readonly_paths[i], err) < 0)
			return -1;
	return 0;
}

int rootfs_finish(const struct engine_spec *s, struct stk_err *err)
{
	if (s->read_only && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return stk_err_sys(err, "remount / read-only");
	return 0;
}

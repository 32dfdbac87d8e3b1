/* /dev: a small tmpfs with the standard nodes and links, a private devpts instance,
 * /dev/shm and /dev/mqueue; and ptys opened from that devpts for tty containers. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

static const struct {
	const char *name;
	unsigned maj, min;
} nodes[] = {
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
	const char *name, *target;
} links[] = {
	{"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"},
	{"stdout", "/proc/self/fd/1"}, {"stderr", "/proc/self/fd/2"},
	{"ptmx", "pts/ptmx"}, {"core", "/proc/kcore"},
};

int dev_setup(int rootfd, const struct engine_spec *s, struct stk_err *err)
{
	_cleanup_close_ int dev = -1;
	_cleanup_free_ char *shm = xasprintf("mode=1777,size=%llu",
					     (unsigned long long)(s->shm_size ? s->shm_size
									      : 64ULL << 20));
	size_t i;

	if (mount_at(rootfd, "/dev", true, "tmpfs", "tmpfs", MS_NOSUID, "mode=755,size=65536k",
		     err) < 0)
		return -1;
	dev = mount_open_in_root(rootfd, "/dev", true, false, err);
	if (dev < 0)
		return -1;
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666, makedev(nodes[i].maj, nodes[i].min)) < 0)
			return stk_err_sys(err, "mknod /dev/%s", nodes[i].name);
		/* mknod honours the umask; the nodes must be world-usable. */
		if (fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			return stk_err_sys(err, "chmod /dev/%s", nodes[i].name);
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0)
			return stk_err_sys(err, "symlink /dev/%s", links[i].name);
	if (mount_at(rootfd, "/dev/pts", true, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		     "newinstance,ptmxmode=0666,mode=0620,gid=5", err) < 0)
		return -1;
	if (mount_at(rootfd, "/dev/shm", true, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		     shm, err) < 0)
		return -1;
	return mount_at(rootfd, "/dev/mqueue", true, "mqueue", "mqueue",
			MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, err);
}

int dev_open_pty(int *master, int *slave, struct stk_err *err)
{
	_cleanup_close_ int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	char name[64];

	if (m < 0)
		return stk_err_sys(err, "open /dev/ptmx");
	if (unlockpt(m) < 0 || ptsname_r(m, name, sizeof(name)) != 0)
		return stk_err_sys(err, "unlock pty");
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0)
		return stk_err_sys(err, "open %s", name);
	*master = stk_steal_fd(&m);
	return 0;
}

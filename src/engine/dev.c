/* /dev: a small tmpfs with the standard nodes and links, a private devpts instance,
 * /dev/shm and /dev/mqueue; for privileged containers every device node of the host's
 * /dev, as Docker gives them; the spec's devices; and ptys opened from that devpts for tty containers. */
#include "engine/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	{"null", 1, 3},	  {"zero", 1, 5},    {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

static const struct {
	const char *name, *target;
} links[] = {
	{"fd", "/proc/self/fd"},       {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
	{"stderr", "/proc/self/fd/2"}, {"ptmx", "pts/ptmx"},	     {"core", "/proc/kcore"},
};

/* Directories of the host's /dev that hold no device a container should get, and the
 * console, as Docker (containerd's HostDevices) leaves them out. */
static const char *const host_skip_dirs[] = {"pts",  "shm",	    "fd",   "mqueue",
					     ".lxc", ".lxd-mounts", ".udev"};

/* By name at any depth, as containerd does. */
static bool host_skipped(const char *name, bool dir)
{
	size_t i;

	if (!dir)
		return strcmp(name, "console") == 0;
	for (i = 0; i < sizeof(host_skip_dirs) / sizeof(host_skip_dirs[0]); i++)
		if (strcmp(name, host_skip_dirs[i]) == 0)
			return true;
	return false;
}

static void host_walk(const char *root, const char *rel, struct dev_list *out)
{
	_cleanup_free_ char *dir = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		_cleanup_free_ char *sub = NULL;
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			if (!host_skipped(e->d_name, true))
				host_walk(root, sub, out);
			continue;
		}
		if ((!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) ||
		    host_skipped(e->d_name, false))
			continue;
		if (strlen(sub) >= sizeof(out->devs[0].path))
			continue;
		out->devs = xrealloc(out->devs, (out->n + 1) * sizeof(*out->devs));
		snprintf(out->devs[out->n].path, sizeof(out->devs[0].path), "%s", sub);
		out->devs[out->n].mode = st.st_mode;
		out->devs[out->n].rdev = st.st_rdev;
		out->devs[out->n].uid = st.st_uid;
		out->devs[out->n].gid = st.st_gid;
		out->n++;
	}
	closedir(d);
}

void dev_list_host(const char *root, struct dev_list *out)
{
	host_walk(root, "", out);
}

void dev_list_release(struct dev_list *l)
{
	free(l->devs);
	l->devs = NULL;
	l->n = 0;
}

/* In the child, on the container's fresh /dev tmpfs: the parent made the list, so this
 * allocates nothing. A node that is there already (null, tty, the ptmx link) stays. */
static int create_host_devices(int dev, const struct dev_list *l, struct stk_err *err)
{
	size_t i;

	for (i = 0; l && i < l->n; i++) {
		const struct dev_node *d = &l->devs[i];
		char parent[sizeof(d->path)];
		char *slash;

		memcpy(parent, d->path, sizeof(parent));
		for (slash = strchr(parent, '/'); slash; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			if (mkdirat(dev, parent, 0755) < 0 && errno != EEXIST)
				return stk_err_sys(err, "mkdir /dev/%s", parent);
			*slash = '/';
		}
		if (mknodat(dev, d->path, d->mode, d->rdev) < 0) {
			if (errno == EEXIST)
				continue;
			return stk_err_sys(err, "mknod /dev/%s", d->path);
		}
		if (fchmodat(dev, d->path, d->mode & 07777, 0) < 0 ||
		    fchownat(dev, d->path, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return stk_err_sys(err, "set owner and mode of /dev/%s", d->path);
	}
	return 0;
}

static bool valid_permissions(const char *p)
{
	return *p && strspn(p, "rwm") == strlen(p);
}

static int resolve_one(const char *entry, struct dev_node *node, struct cg_dev_rule *rule,
		       struct stk_err *err)
{
	_cleanup_free_ char *copy = xstrdup(entry);
	char *host = copy, *target = NULL, *perms = "rwm", *colon;
	struct stat st;

	if ((colon = strchr(host, ':'))) {
		*colon = '\0';
		target = colon + 1;
		if ((colon = strchr(target, ':'))) {
			*colon = '\0';
			perms = colon + 1;
		} else if (target[0] != '/' && valid_permissions(target)) {
			/* "HOST:PERMISSIONS", as Docker reads it */
			perms = target;
			target = NULL;
		}
	}
	if (!target || !*target)
		target = host;
	if (!valid_permissions(perms))
		return stk_err_set(err, EINVAL, "device %s: invalid permissions \"%s\"", entry,
				   perms);
	if (stat(host, &st) < 0)
		return stk_err_sys(err, "device %s", host);
	if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
		return stk_err_set(err, EINVAL, "device %s: not a device node", host);
	if (strncmp(target, "/dev/", 5) != 0 || !target[5] || strstr(target, "/../") ||
	    str_has_suffix(target, "/..") || strlen(target + 5) >= sizeof(node->path))
		return stk_err_set(err, EINVAL, "device %s: the container path must be under /dev",
				   entry);
	snprintf(node->path, sizeof(node->path), "%s", target + 5);
	node->mode = st.st_mode;
	node->rdev = st.st_rdev;
	node->uid = st.st_uid;
	node->gid = st.st_gid;
	rule->type = S_ISCHR(st.st_mode) ? 'c' : 'b';
	rule->major = major(st.st_rdev);
	rule->minor = minor(st.st_rdev);
	/* m always: the engine makes the node inside the container's cgroup. */
	rule->access = BPF_DEVCG_ACC_MKNOD | (strchr(perms, 'r') ? BPF_DEVCG_ACC_READ : 0) |
		       (strchr(perms, 'w') ? BPF_DEVCG_ACC_WRITE : 0);
	return 0;
}

int dev_resolve_spec(const struct engine_spec *s, struct dev_list *out, struct cg_dev_rule **rules,
		     size_t *nrules, struct stk_err *err)
{
	size_t n = 0, i;

	while (s->devices && s->devices[n])
		n++;
	out->devs = n ? xcalloc(n, sizeof(*out->devs)) : NULL;
	out->n = n;
	*rules = n ? xcalloc(n, sizeof(**rules)) : NULL;
	*nrules = n;
	for (i = 0; i < n; i++)
		if (resolve_one(s->devices[i], &out->devs[i], &(*rules)[i], err) < 0)
			return -1;
	return 0;
}

int dev_setup(int rootfd, const struct engine_spec *s, const struct dev_list *host,
	      const struct dev_list *spec_devs, struct stk_err *err)
{
	_cleanup_close_ int dev = -1;
	char shm[64];
	size_t i;

	snprintf(shm, sizeof(shm), "mode=1777,size=%llu",
		 (unsigned long long)(s->shm_size ? s->shm_size : 64ULL << 20));
	if (mount_at(rootfd, "/dev", true, "tmpfs", "tmpfs", MS_NOSUID, "mode=755,size=65536k",
		     err) < 0)
		return -1;
	dev = mount_open_in_root(rootfd, "/dev", true, false, err);
	if (dev < 0)
		return -1;
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666,
			    makedev(nodes[i].maj, nodes[i].min)) < 0)
			return stk_err_sys(err, "mknod /dev/%s", nodes[i].name);
		/* mknod honours the umask; the nodes must be world-usable. */
		if (fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			return stk_err_sys(err, "chmod /dev/%s", nodes[i].name);
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlinkat(links[i].target, dev, links[i].name) < 0)
			return stk_err_sys(err, "symlink /dev/%s", links[i].name);
	if (s->privileged && create_host_devices(dev, host, err) < 0)
		return -1;
	if (create_host_devices(dev, spec_devs, err) < 0)
		return -1;
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

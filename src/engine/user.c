/* User resolution as Docker does it: "name", "uid", "name:group" or "uid:gid" looked
 * up in the image's /etc/passwd and /etc/group; supplementary groups from /etc/group
 * plus group_add; HOME from passwd, else "/". Works on file contents, so it can be
 * tested without a container; the parent reads those through the container's root. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

struct pw_entry {
	char *name;
	long uid, gid;
	char *home;
};

/* Split a colon-separated line into at most max fields; returns the count. */
static int split_fields(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	while (n < max && (line = strchr(line, ':'))) {
		*line++ = '\0';
		f[n++] = line;
	}
	return n;
}

static bool parse_num(const char *s, long *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	*out = strtol(s, &end, 10);
	return !errno && !*end && *out >= 0;
}

/* Find a passwd entry by name (when name) or uid; fills *e pointing into buf. */
static bool passwd_find(char *buf, const char *name, long uid, struct pw_entry *e)
{
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];

		if (split_fields(line, f, 7) < 7 || !parse_num(f[2], &e->uid) ||
		    !parse_num(f[3], &e->gid))
			continue;
		if (name ? strcmp(f[0], name) == 0 : e->uid == uid) {
			e->name = f[0];
			e->home = f[5];
			return true;
		}
	}
	return false;
}

static bool group_find(const char *group, const char *name, long *gid)
{
	_cleanup_free_ char *buf = xstrdup(group ? group : "");
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4];

		if (split_fields(line, f, 4) < 3)
			continue;
		if (strcmp(f[0], name) == 0 && parse_num(f[2], gid))
			return true;
	}
	return false;
}

static void add_gid(struct user_ids *u, gid_t g)
{
	size_t i;

	for (i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return;
	u->groups = xrealloc(u->groups, (u->ngroups + 1) * sizeof(gid_t));
	u->groups[u->ngroups++] = g;
}

/* Groups in /etc/group that list the user as a member. */
static void member_groups(const char *group, const char *user, struct user_ids *u)
{
	_cleanup_free_ char *buf = xstrdup(group ? group : "");
	char *line, *save = NULL;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *m, *msave = NULL;
		long gid;

		if (split_fields(line, f, 4) < 4 || !parse_num(f[2], &gid))
			continue;
		for (m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, user) == 0)
				add_gid(u, (gid_t)gid);
	}
}

static int resolve_group(const char *group, const char *g, long *gid, struct stk_err *err)
{
	if (parse_num(g, gid))
		return 0;
	if (!group_find(group, g, gid))
		return stk_err_set(err, ENOENT,
				   "unable to find group %s: no matching entries in group file", g);
	return 0;
}

int user_resolve(const char *user, char *const *group_add, const char *passwd, const char *group,
		 struct user_ids *out, struct stk_err *err)
{
	_cleanup_free_ char *spec = xstrdup(user && *user ? user : "0");
	_cleanup_free_ char *pw = xstrdup(passwd ? passwd : "");
	char *gpart = strchr(spec, ':');
	struct pw_entry e = {0};
	bool found;
	long uid, gid;

	memset(out, 0, sizeof(*out));
	if (gpart)
		*gpart++ = '\0';
	if (parse_num(spec, &uid)) {
		found = passwd_find(pw, NULL, uid, &e);
		gid = found ? e.gid : 0;
	} else {
		if (!passwd_find(pw, spec, 0, &e))
			return stk_err_set(
				err, ENOENT,
				"unable to find user %s: no matching entries in passwd file", spec);
		found = true;
		uid = e.uid;
		gid = e.gid;
	}
	if (gpart && resolve_group(group, gpart, &gid, err) < 0)
		return -1;
	out->uid = (uid_t)uid;
	out->gid = (gid_t)gid;
	out->home = xstrdup(found && e.home && *e.home ? e.home : "/");
	if (found)
		member_groups(group, e.name, out);
	for (; group_add && *group_add; group_add++) {
		long g;

		if (resolve_group(group, *group_add, &g, err) < 0) {
			user_ids_release(out);
			return -1;
		}
		add_gid(out, (gid_t)g);
	}
	return 0;
}

void user_ids_release(struct user_ids *u)
{
	free(u->groups);
	free(u->home);
	u->groups = NULL;
	u->home = NULL;
	u->ngroups = 0;
}

/* An image's file, read through the root of a running process; a missing one reads as
 * empty, as does anything but a regular file (a FIFO would block us). */
static char *read_in_root(int rootfd, const char *path, struct stk_err *err)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	struct strbuf sb;
	struct stat st;
	char buf[4096];
	ssize_t n;

	if (fd < 0 && errno != ENOENT && errno != ENOTDIR)
		return stk_err_sys(err, "open %s in rootfs", path), NULL;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return xstrdup("");
	strbuf_init(&sb);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		strbuf_addn(&sb, buf, (size_t)n);
	if (n < 0) {
		strbuf_free(&sb);
		return stk_err_sys(err, "read %s in rootfs", path), NULL;
	}
	return sb.buf ? strbuf_take(&sb) : xstrdup("");
}

int user_lookup_in_root(pid_t pid, const char *user, char *const *group_add, struct child_user *out,
			struct stk_err *err)
{
	_cleanup_free_ char *passwd = NULL, *group = NULL;
	_cleanup_close_ int rootfd = -1;
	struct user_ids u;
	char root[64];

	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return stk_err_sys(err, "open %s", root);
	passwd = read_in_root(rootfd, "/etc/passwd", err);
	group = passwd ? read_in_root(rootfd, "/etc/group", err) : NULL;
	if (!group || user_resolve(user, group_add, passwd, group, &u, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->uid = u.uid;
	out->gid = u.gid;
	if (u.ngroups > ENGINE_MAX_GROUPS || strlen(u.home) >= sizeof(out->home)) {
		user_ids_release(&u);
		return stk_err_set(err, E2BIG, "user %s: more than %d groups or too long a home",
				   user ? user : "0", ENGINE_MAX_GROUPS);
	}
	out->ngroups = (uint32_t)u.ngroups;
	if (u.ngroups)
		memcpy(out->groups, u.groups, u.ngroups * sizeof(gid_t));
	memcpy(out->home, u.home, strlen(u.home) + 1);
	user_ids_release(&u);
	return 0;
}

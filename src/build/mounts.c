/* RUN --mount: type=secret (a copy of the secret's content bind-mounted read-only,
 * removed after the step: never in a layer nor in the cache key, which holds the flag
 * only), type=ssh (the agent's socket), type=cache (a directory of $ROOT/build/cache-mounts that outlives the
 * step, per id, so package managers do not download twice), type=bind (a directory or
 * file of the context, a stage or an image, read-only, resolved inside its root), and
 * type=tmpfs. Mounts are not part of the step's layer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

struct mount_opts {
	char *type, *target, *source, *from, *id, *mode, *uid, *gid;
	bool rw_asked, required;
};

static void mount_opts_free(struct mount_opts *m)
{
	free(m->type);
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->mode);
	free(m->uid);
	free(m->gid);
}

static int parse_mount(const char *v, struct mount_opts *m, struct stk_err *err)
{
	_cleanup_free_ char *copy = xstrdup(v ? v : "");
	char *tok, *save = NULL;

	memset(m, 0, sizeof(*m));
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), **slot = NULL;
		const char *val = eq ? eq + 1 : "";

		if (eq)
			*eq = 0;
		if (!strcmp(tok, "type"))
			slot = &m->type;
		else if (!strcmp(tok, "target") || !strcmp(tok, "dst") ||
			 !strcmp(tok, "destination"))
			slot = &m->target;
		else if (!strcmp(tok, "source") || !strcmp(tok, "src"))
			slot = &m->source;
		else if (!strcmp(tok, "from"))
			slot = &m->from;
		else if (!strcmp(tok, "id"))
			slot = &m->id;
		else if (!strcmp(tok, "mode"))
			slot = &m->mode;
		else if (!strcmp(tok, "uid"))
			slot = &m->uid;
		else if (!strcmp(tok, "gid"))
			slot = &m->gid;
		else if (!strcmp(tok, "rw") || !strcmp(tok, "readwrite"))
			m->rw_asked = !eq || strcmp(val, "false");
		else if (!strcmp(tok, "required"))
			m->required = !eq || strcmp(val, "false");
		else if (strcmp(tok, "ro") && strcmp(tok, "readonly") && strcmp(tok, "sharing") &&
			 strcmp(tok, "size"))
			return stk_err_set(err, EINVAL, "RUN --mount: unknown option \"%s\"", tok);
		if (slot) {
			free(*slot);
			*slot = xstrdup(val);
		}
	}
	if (!m->type)
		m->type = xstrdup("bind");
	if (!strcmp(m->type, "secret") || !strcmp(m->type, "ssh")) {
		/* BuildKit's defaults: the id from the target's name, or the reverse */
		bool ssh = !strcmp(m->type, "ssh");

		if (!m->id && m->target && *m->target)
			m->id = xstrdup(strrchr(m->target, '/') ? strrchr(m->target, '/') + 1
								: m->target);
		if (!m->id)
			m->id = xstrdup(ssh ? "default" : "");
		if (!*m->id)
			return stk_err_set(err, EINVAL, "RUN --mount=%s: id or target is required",
					   v);
		if (!m->target)
			m->target = ssh ? xstrdup("/run/buildkit/ssh_agent.0")
					: xasprintf("/run/secrets/%s", m->id);
	}
	if (!m->target || !*m->target)
		return stk_err_set(err, EINVAL, "RUN --mount=%s: target is required", v ? v : "");
	return 0;
}

char *build_mount_from(const struct df_flag *f)
{
	struct mount_opts m;
	struct stk_err ignored;
	char *from = NULL;

	if (strcmp(f->name, "mount") || parse_mount(f->value, &m, &ignored) < 0)
		return NULL;
	if (!strcmp(m.type, "bind") || !strcmp(m.type, "cache"))
		from = steal(&m.from);
	mount_opts_free(&m);
	return from;
}

static void add(struct run_mounts *rm, enum engine_mount_type type, char *source,
		const char *target, bool ro)
{
	rm->v = xrealloc(rm->v, (rm->n + 1) * sizeof(*rm->v));
	rm->v[rm->n++] = (struct engine_mount){.type = type,
					       .source = source,
					       .target = xstrdup(target),
					       .read_only = ro};
}

/* The real path of source inside root: symlinks resolved within it, never out. */
static char *resolve_in(const char *root, const char *source, struct stk_err *err)
{
	_cleanup_close_ int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_free_ char *rel = build_clean_path(source), *self = NULL;
	struct open_how how = {.flags = O_PATH | O_CLOEXEC,
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	_cleanup_close_ int fd = -1;
	char buf[PATH_MAX];
	ssize_t n;

	if (rootfd < 0)
		return stk_err_sys(err, "open %s", root), NULL;
	fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
	if (fd < 0)
		return stk_err_sys(err, "RUN --mount source \"/%s\"", rel), NULL;
	self = xasprintf("/proc/self/fd/%d", fd);
	n = readlink(self, buf, sizeof(buf) - 1);
	if (n < 0)
		return stk_err_sys(err, "RUN --mount source \"/%s\"", rel), NULL;
	buf[n] = 0;
	return xstrdup(buf);
}

static int cache_dir(struct build *b, const struct mount_opts *m, char **out, struct stk_err *err)
{
	char key[72];

	build_key("cache-mount", m->id && *m->id ? m->id : m->target, key);
	*out = xasprintf("%s/build/cache-mounts/%.16s", b->o->root, key + 7);
	return stk_mkdir_p(*out, 0755, err);
}

static int octal_or_int(const char *s, int base, long dflt, long *out)
{
	char *end;

	if (!s) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	*out = strtol(s, &end, base);
	return !*s || *end || errno || *out < 0 ? -1 : 0;
}

/* The secret's content into a file of the build's scratch space, with the mount's
 * mode and owner, bind-mounted read-only at the target; unknown and not required: no
 * mount, as BuildKit does. */
static int secret_mount(struct build *b, const struct mount_opts *m, struct run_mounts *rm,
			struct stk_err *err)
{
	const struct build_secret *sec = NULL;
	_cleanup_free_ char *path = NULL, *data = NULL;
	_cleanup_close_ int fd = -1;
	long mode, uid, gid;
	size_t i, len = 0;

	for (i = 0; i < b->o->nsecrets; i++)
		if (!strcmp(b->o->secrets[i].id, m->id))
			sec = &b->o->secrets[i];
	if (octal_or_int(m->mode, 8, 0400, &mode) < 0 || octal_or_int(m->uid, 10, 0, &uid) < 0 ||
	    octal_or_int(m->gid, 10, 0, &gid) < 0)
		return stk_err_set(err, EINVAL,
				   "RUN --mount=type=secret,id=%s: invalid mode, uid or gid",
				   m->id);
	if (!sec && !m->required)
		return 0;
	if (!sec)
		return stk_err_set(
			err, ENOENT,
			"RUN --mount=type=secret: secret %s is required but was not given", m->id);
	if (sec->file) {
		data = str_read_file(sec->file, &len);
		if (!data)
			return stk_err_sys(err, "secret %s: read %s", m->id, sec->file);
	} else {
		const char *v = sec->env ? getenv(sec->env) : NULL;

		if (!v)
			return stk_err_set(err, ENOENT,
					   "secret %s: environment variable %s is not set", m->id,
					   sec->env ? sec->env : "");
		data = xstrdup(v);
		len = strlen(v);
	}
	path = build_scratch_path(b, "secret");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return stk_err_sys(err, "secret %s: create %s", m->id, path);
	rm->files = xrealloc(rm->files, (rm->nfiles + 1) * sizeof(*rm->files));
	rm->files[rm->nfiles++] = xstrdup(path);
	if (write(fd, data, len) != (ssize_t)len || fchown(fd, (uid_t)uid, (gid_t)gid) < 0 ||
	    fchmod(fd, (mode_t)mode) < 0)
		return stk_err_sys(err, "secret %s: write %s", m->id, path);
	add(rm, ENGINE_MOUNT_BIND, steal(&path), m->target, true);
	return 0;
}

/* The agent's socket of the given id bind-mounted at the target; RUN gets
 * SSH_AUTH_SOCK. */
static int ssh_mount(struct build *b, const struct mount_opts *m, struct run_mounts *rm,
		     struct stk_err *err)
{
	const char *sock = NULL;
	size_t i;

	for (i = 0; i < b->o->nssh; i++)
		if (!strcmp(b->o->ssh[i].key, m->id))
			sock = b->o->ssh[i].value;
	if (!sock && !m->required)
		return 0;
	if (!sock || !*sock)
		return stk_err_set(err, ENOENT,
				   "RUN --mount=type=ssh: no ssh agent \"%s\" was given (--ssh %s or "
				   "build.ssh)",
				   m->id, m->id);
	if (access(sock, F_OK) < 0)
		return stk_err_sys(err, "ssh agent %s: %s", m->id, sock);
	add(rm, ENGINE_MOUNT_BIND, xstrdup(sock), m->target, false);
	free(rm->ssh_sock);
	rm->ssh_sock = xstrdup(m->target);
	return 0;
}

static int one_mount(struct build *b, const struct mount_opts *m, build_from_fn from, void *arg,
		     struct run_mounts *rm, struct json_object *key, struct stk_err *err)
{
	char *src = NULL, *mounted = NULL;
	const char *root = b->context;
	char digest[72];

	if (!strcmp(m->type, "cache")) {
		if (cache_dir(b, m, &src, err) < 0) {
			free(src);
			return -1;
		}
		add(rm, ENGINE_MOUNT_BIND, src, m->target, false);
		json_object_array_add(key, json_object_new_string(src));
		return 0;
	}
	if (!strcmp(m->type, "tmpfs")) {
		add(rm, ENGINE_MOUNT_TMPFS, NULL, m->target, false);
		return 0;
	}
	if (!strcmp(m->type, "secret"))
		return secret_mount(b, m, rm, err);
	if (!strcmp(m->type, "ssh"))
		return ssh_mount(b, m, rm, err);
	if (strcmp(m->type, "bind"))
		return stk_err_set(
			err, ENOTSUP,
			"RUN --mount=type=%s is not supported (bind, cache, tmpfs, secret and ssh are)",
			m->type);
	if (m->rw_asked)
		return stk_err_set(
			err, ENOTSUP,
			"RUN --mount=type=bind,rw is not supported: bind mounts are read-only");
	if (m->from) {
		if (from(arg, m->from, &mounted, err) < 0)
			return -1;
		rm->mounted = xrealloc(rm->mounted, (rm->nmounted + 1) * sizeof(*rm->mounted));
		rm->mounted[rm->nmounted++] = mounted;
		root = mounted;
	}
	src = resolve_in(root, m->source ? m->source : ".", err);
	if (!src)
		return -1;
	{
		struct copy_src cs = {.root = root, .context = !m->from};
		char *srcs[] = {m->source ? m->source : "."};

		if (build_hash_sources(b, &cs, srcs, 1, digest, err) < 0) {
			free(src);
			return -1;
		}
	}
	add(rm, ENGINE_MOUNT_BIND, src, m->target, true);
	json_object_array_add(key, json_object_new_string(digest));
	return 0;
}

int build_run_mounts(struct build *b, const struct df_instr *in, build_from_fn from, void *arg,
		     struct run_mounts *rm, struct json_object *key, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < in->nflags; i++) {
		struct mount_opts m;
		int rc;

		if (strcmp(in->flags[i].name, "mount"))
			continue;
		if (parse_mount(in->flags[i].value, &m, err) < 0) {
			mount_opts_free(&m);
			return -1;
		}
		json_object_array_add(key, json_object_new_string(
						   in->flags[i].value ? in->flags[i].value : ""));
		rc = one_mount(b, &m, from, arg, rm, key, err);
		mount_opts_free(&m);
		if (rc < 0)
			return -1;
	}
	return 0;
}

void build_run_mounts_release(struct run_mounts *rm)
{
	size_t i;

	for (i = 0; i < rm->n; i++) {
		free(rm->v[i].source);
		free(rm->v[i].target);
	}
	free(rm->v);
	for (i = 0; i < rm->nmounted; i++) {
		umount2(rm->mounted[i], MNT_DETACH);
		rmdir(rm->mounted[i]);
		free(rm->mounted[i]);
	}
	free(rm->mounted);
	for (i = 0; i < rm->nfiles; i++) {
		unlink(rm->files[i]);
		free(rm->files[i]);
	}
	free(rm->files);
	free(rm->ssh_sock);
	memset(rm, 0, sizeof(*rm));
}

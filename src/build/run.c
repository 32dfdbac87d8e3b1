/* RUN: the command in a container of stack's own engine, with Docker's default
 * isolation (namespaces, capabilities, seccomp) over the stage's layers. The network is
 * the builder's own namespace (Docker's `RUN --network=host`), so package managers
 * reach their mirrors; `RUN --network=none` gets an empty one. Output is forwarded
 * and its tail kept for errors; the overlay upper directory becomes the step's layer. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/internal.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

#define TAIL_LINES 10

/* The one place a build container is removed; a build runs in the foreground, so it may
 * wait for the cgroup to empty. */
static int build_container_remove(struct engine_container *c, struct stk_err *err)
{
	return engine_remove_blocking(c, err);
}

struct tail {
	char *lines[TAIL_LINES];
	size_t next;
	struct strbuf partial;
};

static void tail_line(struct tail *t, const char *s, size_t n)
{
	free(t->lines[t->next % TAIL_LINES]);
	t->lines[t->next++ % TAIL_LINES] = xstrndup(s, n);
}

static void tail_feed(struct tail *t, const char *buf, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++)
		if (buf[i] == '\n') {
			strbuf_addn(&t->partial, buf + start, i - start);
			tail_line(t, t->partial.buf ? t->partial.buf : "", t->partial.len);
			t->partial.len = 0;
			start = i + 1;
		}
	strbuf_addn(&t->partial, buf + start, n - start);
}

static char *tail_take(struct tail *t)
{
	struct strbuf sb;
	size_t i, first = t->next > TAIL_LINES ? t->next - TAIL_LINES : 0;

	if (t->partial.len)
		tail_line(t, t->partial.buf, t->partial.len);
	first = t->next > TAIL_LINES ? t->next - TAIL_LINES : 0;
	strbuf_init(&sb);
	for (i = first; i < t->next; i++) {
		strbuf_adds(&sb, t->lines[i % TAIL_LINES]);
		strbuf_addc(&sb, '\n');
	}
	for (i = 0; i < TAIL_LINES; i++)
		free(t->lines[i]);
	strbuf_free(&t->partial);
	return strbuf_take(&sb);
}

static void forward(struct build *b, struct tail *t, int fd)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		tail_feed(t, buf, (size_t)n);
		if (b->out >= 0 && write(b->out, buf, (size_t)n) < 0)
			b->out = -1;
	}
}

/* Until PID 1 has exited, the output copied as it comes. An interrupt (Ctrl-C) kills
 * the container's processes; the step then fails as "interrupted". */
static int wait_container(struct build *b, struct engine_container *c, int rd, struct tail *t,
			  struct engine_exit *ex, struct stk_err *err)
{
	for (;;) {
		struct pollfd p[3] = {{.fd = engine_pidfd(c), .events = POLLIN},
				      {.fd = rd, .events = POLLIN},
				      {.fd = b->sigfd, .events = POLLIN}};

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			return stk_err_sys(err, "poll");
		if (p[1].revents)
			forward(b, t, rd);
		if (p[2].revents & POLLIN && build_interrupted(b)) {
			struct stk_err ignored;

			engine_kill_all(c, &ignored);
		}
		if (p[0].revents & POLLIN) {
			forward(b, t, rd);
			if (engine_try_wait(c, ex, err) != 0)
				return stk_err_set(err, 0, "container did not exit");
			return b->interrupted ? stk_err_set(err, EINTR, "interrupted") : 0;
		}
	}
}

/* The topmost lower layer's copy of rel, if any. */
static bool lower_stat(char **lower, const char *rel, struct stat *st)
{
	size_t i;

	for (i = 0; lower[i]; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", lower[i], rel);

		if (lstat(p, st) == 0)
			return true;
	}
	return false;
}

/* Mount points the engine made (/etc/hostname, /proc, ...) are not the command's
 * changes: the empty ones the image did not have are dropped, then a directory that
 * was only copied up to hold them, when its owner and mode are the image's. */
static void prune_stubs(const char *upper, char **lower)
{
	static const char *const stubs[] = {"etc/hostname", "etc/hosts", "etc/resolv.conf",
					    "dev",	    "proc",	 "sys",
					    "etc"};
	size_t i;

	for (i = 0; i < sizeof(stubs) / sizeof(stubs[0]); i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", upper, stubs[i]);
		struct stat st, low;
		bool in_lower = lower_stat(lower, stubs[i], &low);

		if (lstat(p, &st) < 0)
			continue;
		if (!in_lower && S_ISREG(st.st_mode) && st.st_size == 0)
			unlink(p);
		else if (S_ISDIR(st.st_mode) &&
			 (!in_lower || (low.st_mode == st.st_mode && low.st_uid == st.st_uid &&
					low.st_gid == st.st_gid)))
			rmdir(p); /* only if empty */
	}
}

static void spec_fill(struct build *b, struct engine_spec *spec, struct bstate *st, char **layers,
		      char **argv, char **env, bool net_none, int wr)
{
	struct json_object *cfg = bstate_cfg(st), *v;
	size_t n = 0;

	spec->id = xasprintf("build-%d-%u", (int)getpid(), ++b->seq);
	spec->state_dir = xasprintf("%s/containers/%s", b->o->root, spec->id);
	spec->cgroup_parent = xstrdup(getenv("STACK_BUILD_CGROUP_PARENT")
					      ? getenv("STACK_BUILD_CGROUP_PARENT")
					      : "stack/build");
	spec->cache_dir = xasprintf("%s/cache", b->o->root);
	while (layers[n])
		n++;
	spec->layers = layers;
	spec->nlayers = n;
	spec->argv = argv;
	spec->env = env;
	if (json_object_object_get_ex(cfg, "WorkingDir", &v) && *json_object_get_string(v))
		spec->workdir = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(cfg, "User", &v) && *json_object_get_string(v))
		spec->user = xstrdup(json_object_get_string(v));
	if (!net_none) {
		spec->netns = xasprintf("/proc/%d/ns/net", (int)getpid());
		if (access("/etc/hosts", R_OK) == 0)
			spec->hosts_file = xstrdup("/etc/hosts");
		if (access("/etc/resolv.conf", R_OK) == 0)
			spec->resolv_conf_file = xstrdup("/etc/resolv.conf");
	}
	spec->shm_size = b->o->shm_size;
	spec->stdio[1] = wr;
	spec->stdio[2] = wr;
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	if (d)
		closedir(d);
	return empty;
}

/* A --mount target the engine had to create, and its parents it created, are empty
 * directories the image did not have. */
static void prune_mount_points(const char *upper, char **lower, const struct run_mounts *m)
{
	struct stat st;
	size_t i;

	for (i = 0; i < m->n; i++) {
		_cleanup_free_ char *rel = build_clean_path(m->v[i].target);

		while (*rel && !lower_stat(lower, rel, &st)) {
			_cleanup_free_ char *p = xasprintf("%s/%s", upper, rel);
			char *slash;

			if (rmdir(p) < 0 && !(lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
					      st.st_size == 0 && unlink(p) == 0))
				break;
			slash = strrchr(rel, '/');
			if (!slash)
				break;
			*slash = 0;
		}
	}
}

static int commit_upper(struct build *b, struct bstate *st, const char *state_dir, char **lower,
			const struct run_mounts *mounts, struct stk_err *err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", state_dir);
	_cleanup_free_ char *tar = build_scratch_path(b, "layer.tar");
	struct image_layer l;

	prune_mount_points(upper, lower, mounts);
	prune_stubs(upper, lower);
	if (dir_empty(upper))
		return 0; /* no change: no layer, as BuildKit does */
	if (build_tar_tree(upper, tar, err) < 0 ||
	    image_store_add_layer(b->store, tar, &l, err) < 0) {
		unlink(tar);
		return -1;
	}
	bstate_add_layer(st, &l);
	return 0;
}

/* build.extra_hosts: the hosts file the step would get, plus "address name" lines. */
static int hosts_with_extras(struct build *b, struct engine_spec *spec, struct stk_err *err)
{
	_cleanup_free_ char *base = spec->hosts_file ? str_read_file(spec->hosts_file, NULL) : NULL;
	_cleanup_free_ char *path = build_scratch_path(b, "hosts");
	_cleanup_fclose_ FILE *f = fopen(path, "we");
	size_t i;

	if (!f)
		return stk_err_sys(err, "write %s", path);
	fputs(base ? base : "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n", f);
	for (i = 0; i < b->o->nextra_hosts; i++) {
		const char *h = b->o->extra_hosts[i], *eq = strchr(h, '=');

		if (!eq)
			return stk_err_set(err, EINVAL, "extra_hosts: \"%s\" is not name=address",
					   h);
		fprintf(f, "%s\t%.*s\n", eq + 1, (int)(eq - h), h);
	}
	if (fflush(f) != 0)
		return stk_err_sys(err, "write %s", path);
	free(spec->hosts_file);
	spec->hosts_file = steal(&path);
	return 0;
}

/* The engine makes the upper directory 0700, and overlay gives the merged root the
 * upper's mode: a RUN under a USER other than root could not reach "/". The root takes
 * the mode of the image's own root, as Docker's does. */
static int upper_root_mode(const struct engine_spec *spec, struct stk_err *err)
{
	_cleanup_free_ char *upper = xasprintf("%s/upper", spec->state_dir);
	struct stat st;
	mode_t mode = 0755;

	if (stat(spec->layers[0], &st) == 0)
		mode = st.st_mode & 07777;
	if (chmod(upper, mode) < 0 && errno != ENOENT)
		return stk_err_sys(err, "chmod %s", upper);
	return 0;
}

int build_run(struct build *b, struct bstate *st, char **argv, char **env, bool net_none,
	      const struct run_mounts *mounts, char **tail_out, int *code, struct stk_err *err)
{
	struct engine_spec spec;
	struct engine_container *c = NULL;
	struct engine_exit ex = {0};
	struct tail t = {0};
	struct stk_err rm_err;
	char **layers;
	int pipefd[2] = {-1, -1}, rc = -1;

	*code = 0;
	if (st->nlayers == 0)
		return stk_err_set(
			err, ENOENT,
			"RUN needs an image with a shell: the stage starts from scratch and has no layers");
	layers = bstate_layer_paths(b->store, st, err);
	if (!layers)
		return -1;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		df_strv_free(layers, st->nlayers);
		return stk_err_sys(err, "pipe");
	}
	strbuf_init(&t.partial);
	engine_spec_init(&spec);
	spec_fill(b, &spec, st, layers, argv, env, net_none, pipefd[1]);
	if (b->o->nextra_hosts && hosts_with_extras(b, &spec, err) < 0) {
		spec.argv = NULL;
		spec.env = NULL;
		engine_spec_release(&spec);
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	spec.mounts = mounts->v; /* the caller's */
	spec.nmounts = mounts->n;
	_cleanup_free_ char *containers = xasprintf("%s/containers", b->o->root);

	/* recorded before it exists, so that no builder's death can leave it unrecorded */
	if (stk_mkdir_p(containers, 0755, err) < 0 || build_record_add(b, &spec, err) < 0)
		goto out;
	if (engine_create(&spec, &c, err) < 0) {
		build_record_drop(b, spec.id); /* a failed create removes what it made */
		goto out;
	}
	if (upper_root_mode(&spec, err) < 0 || engine_start(c, err) < 0)
		goto out;
	close(pipefd[1]);
	pipefd[1] = -1;
	fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	if (wait_container(b, c, pipefd[0], &t, &ex, err) < 0) {
		ex.code = 0;
		goto out;
	}
	*code = ex.code;
	if (ex.code == 0)
		rc = commit_upper(b, st, spec.state_dir, layers, mounts, err);
out:
	if (c && build_container_remove(c, &rm_err) < 0) {
		if (rc == 0) {
			*err = rm_err;
			rc = -1;
		}
	} else if (c) {
		build_record_drop(b, spec.id);
	}
	engine_container_free(c);
	spec.argv = NULL; /* the caller's */
	spec.env = NULL;
	spec.mounts = NULL;
	spec.nmounts = 0;
	engine_spec_release(&spec);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	*tail_out = tail_take(&t);
	return *code ? -1 : rc;
}

/* A RUN container never outlives its builder. A build's scratch directory
 * ($ROOT/build/tmp-XXXXXX) is flock'd by the builder for as long as it (or a child
 * building a stage) lives, and holds a record (run-<id>.json) of each RUN container
 * while that container exists. A scratch directory nobody holds is stale: its builder
 * died without a chance to clean up (kill -9), and the sweep removes what it left, from
 * the records: every process of the container's cgroup killed, the cgroup and the
 * container's state directory removed, then the scratch directory itself. (Mounts need
 * no sweep: the builder's live in its own mount namespace, the container's in the
 * container's, and both die with their last process.)
 *
 * The guard, a small process each `stack build` forks before anything else, is told the
 * name of each scratch directory its builder makes (a line on a socket), and cleans
 * them up when the builder is gone (the builder's end of the socket, held by the
 * builder and its children, is closed), so a killed build is cleaned up at once. It also sweeps at its
 * start and end, which covers a guard killed with its builder. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/internal.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

#define RECORD_PREFIX "run-"
#define RECORD_SUFFIX ".json"

/* ---- the scratch directory and its lock ---- */

/* A directory appears as tmp-* only once locked (it is made as new-*, locked, then
 * renamed), so a sweep never takes a live build's directory for a stale one. A sweep
 * may remove an empty new-* directory a builder made but did not lock yet: the open or
 * the rename then fails and the builder tries again. */
int build_work_create(const char *root, char **dir, int *lockfd, struct stk_err *err)
{
	_cleanup_free_ char *parent = xasprintf("%s/build", root);
	int attempt;

	if (stk_mkdir_p(parent, 0700, err) < 0)
		return -1;
	for (attempt = 0; attempt < 10; attempt++) {
		_cleanup_free_ char *tmpl = xasprintf("%s/new-XXXXXX", parent), *final = NULL;
		_cleanup_close_ int fd = -1;

		if (!mkdtemp(tmpl))
			return stk_err_sys(err, "create %s", tmpl);
		fd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || flock(fd, LOCK_EX) < 0) {
			rmdir(tmpl);
			return stk_err_sys(err, "lock %s", tmpl);
		}
		final = xasprintf("%s/tmp-%s", parent, strrchr(tmpl, '-') + 1);
		if (rename(tmpl, final) == 0) {
			*dir = steal(&final);
			*lockfd = stk_steal_fd(&fd);
			return 0;
		}
		if (errno != ENOENT)
			return stk_err_sys(err, "rename %s", tmpl);
	}
	return stk_err_set(err, EAGAIN, "create a scratch directory in %s", parent);
}

/* ---- records of RUN containers ---- */

static char *record_path(const char *dir, const char *id)
{
	return xasprintf("%s/" RECORD_PREFIX "%s" RECORD_SUFFIX, dir, id);
}

int build_record_add(struct build *b, const struct engine_spec *spec, struct stk_err *err)
{
	_cleanup_free_ char *path = record_path(b->records, spec->id);
	_cleanup_json_ struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(spec->id));
	json_object_object_add(o, "state_dir", json_object_new_string(spec->state_dir));
	json_object_object_add(o, "cgroup_parent", json_object_new_string(spec->cgroup_parent));
	return state_update_json(path, o, err);
}

void build_record_drop(struct build *b, const char *id)
{
	_cleanup_free_ char *path = record_path(b->records, id);

	unlink(path);
}

/* The container a record names, killed and removed; the record goes with it. */
static int record_clean(const char *dir, const char *name, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_json_ struct json_object *o = state_read_json(path);
	struct engine_spec spec = {0};
	int rc;

	if (!o) /* half written: the builder died before it created the container */
		return unlink(path) < 0 && errno != ENOENT ? stk_err_sys(err, "remove %s", path)
							   : 0;
	spec.id = (char *)state_str(o, "id");
	spec.state_dir = (char *)state_str(o, "state_dir");
	spec.cgroup_parent = (char *)state_str(o, "cgroup_parent");
	rc = engine_cleanup(&spec, err);
	if (rc < 0)
		return stk_err_wrap(err, "RUN container %s", spec.id);
	unlink(path);
	return 0;
}

int build_records_clean(const char *dir, struct stk_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", dir);
	while ((e = readdir(d)))
		if (str_has_prefix(e->d_name, RECORD_PREFIX) &&
		    str_has_suffix(e->d_name, RECORD_SUFFIX) &&
		    record_clean(dir, e->d_name, err) < 0)
			rc = -1;
	closedir(d);
	return rc;
}

/* ---- the sweep ---- */

/* Is path still the directory open at fd, which its builder (or a sweep) may have
 * removed before we had the lock? */
static bool still_there(int fd, const char *path)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

/* The directory at path, if nobody holds its lock: 1 and *fd locked, 0 if it is in use
 * (or gone). */
static int take_unused(const char *path, int *fd)
{
	*fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return 0;
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0 && still_there(*fd, path))
		return 1;
	close(*fd);
	*fd = -1;
	return 0;
}

/* One stale scratch directory: its containers first, then the directory. A container
 * that cannot be removed keeps the directory (and its record) for the next sweep. */
static int sweep_one(const char *path, struct stk_err *err)
{
	if (build_records_clean(path, err) < 0)
		return -1;
	return state_remove_tree(path, err);
}

int build_sweep(const char *root, struct stk_err *err)
{
	_cleanup_free_ char *parent = xasprintf("%s/build", root);
	DIR *d = opendir(parent);
	struct dirent *e;
	int rc = 0;

	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", parent);
	while ((e = readdir(d))) {
		_cleanup_free_ char *path = xasprintf("%s/%s", parent, e->d_name);
		_cleanup_close_ int fd = -1;
		bool tmp = str_has_prefix(e->d_name, "tmp-"),
		     fresh = str_has_prefix(e->d_name, "new-");

		if ((!tmp && !fresh) || !take_unused(path, &fd))
			continue;
		if (fresh)
			rmdir(path); /* only if empty: a builder between mkdtemp and flock */
		else if (sweep_one(path, err) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

/* ---- the guard ---- */

struct build_guard {
	pid_t pid;
	int fd; /* the builder's end of a socket pair: its closing, by the builder and every
		 * child it forked, is the builder's end */
};

void build_guard_announce(struct build_guard *g, const char *dir)
{
	_cleanup_free_ char *line = xasprintf("%s\n", strrchr(dir, '/') + 1);

	/* one short send is not interleaved with those of sibling children; a guard that
	 * is gone (killed) is no reason to die of SIGPIPE: the next build's sweep will do */
	if (send(g->fd, line, strlen(line), MSG_NOSIGNAL) < 0)
		return;
}

static void guard_report(int report_fd, const struct stk_err *err)
{
	if (report_fd >= 0)
		dprintf(report_fd, "stack: build: clean up after a build: %s\n", err->msg);
}

/* A build the guard was told of, once its builder is gone. Every process holding its
 * lock also held the guard's socket, which they have all closed: they are exiting, and
 * the lock is theirs only until their fds are closed, so the guard waits for it. */
static void guard_clean(const char *root, const char *name, int report_fd)
{
	_cleanup_free_ char *path = xasprintf("%s/build/%s", root, name);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stk_err err;

	if (fd < 0) /* removed by its builder */
		return;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return;
	if (!still_there(fd, path))
		return;
	stk_err_clear(&err);
	if (sweep_one(path, &err) < 0)
		guard_report(report_fd, &err);
}

static void guard_sweep(const char *root, int report_fd)
{
	struct stk_err err;

	stk_err_clear(&err);
	if (build_sweep(root, &err) < 0)
		guard_report(report_fd, &err);
}

/* Reads the names of the builds' directories until the builder's end is closed. */
static void guard_wait(int fd, struct strbuf *names)
{
	char buf[512];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			return;
		if (n > 0)
			strbuf_addn(names, buf, (size_t)n);
	}
}

static void __attribute__((noreturn)) guard_main(const char *root, int rd, int wr, int report_fd)
{
	static const int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
	struct strbuf names;
	sigset_t none;
	char *name, *save = NULL;
	size_t i;

	/* an interrupt is the builder's to handle; the guard stays to sweep after it */
	for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_NAME, "stack-guard", 0, 0, 0);
	/* only stdio and its end of the socket: no other fd of the CLI may outlive it here */
	close(wr);
	if (report_fd > STDERR_FILENO)
		report_fd = -1;
	if (dup2(rd, 3) < 0)
		_exit(1);
	syscall(SYS_close_range, 4U, ~0U, 0U);
	guard_sweep(root, report_fd);
	strbuf_init(&names);
	guard_wait(3, &names);
	for (name = names.len ? strtok_r(names.buf, "\n", &save) : NULL; name;
	     name = strtok_r(NULL, "\n", &save))
		if (str_has_prefix(name, "tmp-") && !strchr(name, '/'))
			guard_clean(root, name, report_fd);
	guard_sweep(root, report_fd);
	_exit(0);
}

int build_guard_start(const char *root, int report_fd, struct build_guard **out,
		      struct stk_err *err)
{
	int p[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
		return stk_err_sys(err, "builder: guard socket");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return stk_err_sys(err, "builder: start the guard");
	}
	if (pid == 0)
		guard_main(root, p[0], p[1], report_fd);
	close(p[0]);
	*out = xcalloc(1, sizeof(**out));
	(*out)->pid = pid;
	(*out)->fd = p[1];
	return 0;
}

void build_guard_end(struct build_guard *g)
{
	int status;

	if (!g)
		return;
	close(g->fd);
	while (waitpid(g->pid, &status, 0) < 0 && errno == EINTR)
		;
	free(g);
}

/* A child of the builder (a stage, a service's build) stops when its parent dies:
 * SIGTERM, which it takes as an interrupt, so its RUN container goes with it. */
void build_child_dies_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != parent) /* it died before the prctl */
		raise(SIGTERM);
}

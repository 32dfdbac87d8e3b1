/* cgroup v1: one directory per controller. Nothing here waits: freezing is asked for
 * and then checked (cgv1_freeze_check), and kill-all signals the tasks listed now. */
#include "engine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

static const char *const controllers[] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
};
#define NCTRL (sizeof(controllers) / sizeof(controllers[0]))

static char *ctrl_dir(const char *ctrl, const char *rel)
{
	return xasprintf("%s/%s/%s", cgroup_root(), ctrl, rel);
}

static bool ctrl_present(const char *ctrl)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", cgroup_root(), ctrl);

	return access(p, F_OK) == 0;
}

/* A new cpuset is empty; a task cannot join until cpus and mems are copied down. */
static int cpuset_fill(const char *rel, struct stk_err *err)
{
	_cleanup_free_ char *path = xstrdup(rel);
	char *slash = path;

	for (;;) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		{
			_cleanup_free_ char *dir = ctrl_dir("cpuset", path);
			_cleanup_free_ char *parent = xstrdup(dir);
			const char *files[] = {"cpuset.cpus", "cpuset.mems"};
			size_t i;

			*strrchr(parent, '/') = '\0';
			for (i = 0; i < 2; i++) {
				_cleanup_free_ char *cur = cg_read(dir, files[i]);
				_cleanup_free_ char *up = NULL;

				if (cur && cur[0] != '\n' && cur[0])
					continue;
				up = cg_read(parent, files[i]);
				if (!up)
					return stk_err_sys(err, "read %s/%s", parent, files[i]);
				if (cg_write(dir, files[i], up, err) < 0)
					return -1;
			}
		}
		if (!slash)
			return 0;
		*slash++ = '/';
	}
}

static bool is_cpuset(const char *ctrl)
{
	return strcmp(ctrl, "cpuset") == 0;
}

/* Without a cpuset limit the container stays in its creator's cpuset: making a first
 * cpuset child costs the kernel a code patch (a static key), several milliseconds. */
int cgv1_create(struct cgroup *cg, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < NCTRL; i++) {
		_cleanup_free_ char *base = xasprintf("%s/%s", cgroup_root(), controllers[i]);

		if (!ctrl_present(controllers[i]) || (is_cpuset(controllers[i]) && !cg->cpuset))
			continue;
		if (cg_mkdir_p(base, cg->path, err) < 0)
			return -1;
	}
	if (cg->cpuset && ctrl_present("cpuset") && cpuset_fill(cg->path, err) < 0)
		return -1;
	return 0;
}

static int write_ll(const char *dir, const char *file, long long v, struct stk_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return cg_write(dir, file, buf, err);
}

static int apply_memory(const char *rel, const struct engine_resources *r, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("memory", rel);
	long long swap = r->memory_swap;

	if (r->memory_reservation > 0 &&
	    write_ll(dir, "memory.soft_limit_in_bytes", r->memory_reservation, err) < 0)
		return -1;
	if (r->memory <= 0)
		return 0;
	if (write_ll(dir, "memory.limit_in_bytes", r->memory, err) < 0)
		return -1;
	/* As Docker: memory without memory_swap allows as much swap again. */
	if (swap == 0)
		swap = 2 * r->memory;
	{
		_cleanup_free_ char *f = xasprintf("%s/memory.memsw.limit_in_bytes", dir);

		if (access(f, F_OK) < 0)
			return 0; /* swap accounting is off: nothing to limit */
	}
	return write_ll(dir, "memory.memsw.limit_in_bytes", swap, err);
}

static int apply_cpu(const char *rel, const struct engine_resources *r, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("cpu", rel);
	_cleanup_free_ char *cs = ctrl_dir("cpuset", rel);

	if (r->cpu_period && write_ll(dir, "cpu.cfs_period_us", (long long)r->cpu_period, err) < 0)
		return -1;
	if (r->cpu_quota > 0 && write_ll(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
		return -1;
	if (r->cpu_shares && write_ll(dir, "cpu.shares", (long long)r->cpu_shares, err) < 0)
		return -1;
	if (r->cpuset_cpus && cg_write(cs, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -1;
	if (r->cpuset_mems && cg_write(cs, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -1;
	return 0;
}

static int apply_devices(const char *rel, bool privileged, const struct cg_dev_rule *extra,
			 size_t nextra, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("devices", rel);
	size_t i;

	if (!ctrl_present("devices"))
		return 0;
	if (privileged)
		return cg_write(dir, "devices.allow", "a", err);
	if (cg_write(dir, "devices.deny", "a", err) < 0)
		return -1;
	for (i = 0; i < cg_ndefault_devices + nextra; i++) {
		char rule[64];

		cg_dev_rule_v1(i < cg_ndefault_devices ? &cg_default_devices[i]
						       : &extra[i - cg_ndefault_devices],
			       rule, sizeof(rule));
		if (cg_write(dir, "devices.allow", rule, err) < 0)
			return -1;
	}
	return 0;
}

int cgv1_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
	       const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err)
{
	if (apply_memory(cg->path, r, err) < 0 || apply_cpu(cg->path, r, err) < 0 ||
	    apply_devices(cg->path, privileged, extra, nextra, err) < 0)
		return stk_err_wrap(err, "set cgroup limits");
	if (r->pids_limit > 0) {
		_cleanup_free_ char *dir = ctrl_dir("pids", cg->path);

		if (write_ll(dir, "pids.max", r->pids_limit, err) < 0)
			return stk_err_wrap(err, "set cgroup limits");
	}
	return 0;
}

int cgv1_join_open(const struct cgroup *cg, struct cgroup_join *j, struct stk_err *err)
{
	size_t i;

	for (i = 0; i < NCTRL && j->n < CGROUP_JOIN_MAX; i++) {
		_cleanup_free_ char *dir = NULL, *tasks = NULL;
		int fd;

		if (!ctrl_present(controllers[i]))
			continue;
		dir = ctrl_dir(controllers[i], cg->path);
		/* An exec joins the container's cpuset only if it has one (engine_open cannot
		 * know from the spec alone). */
		if (is_cpuset(controllers[i]) && !cg->cpuset && access(dir, F_OK) < 0)
			continue;
		tasks = xasprintf("%s/tasks", dir);
		fd = open(tasks, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			cgroup_join_close(j);
			return stk_err_sys(err, "join cgroup: open %s", tasks);
		}
		j->fd[j->n++] = fd;
	}
	return 0;
}

int cgv1_freeze(struct cgroup *cg, bool frozen, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("freezer", cg->path);

	return cg_write(dir, "freezer.state", frozen ? "FROZEN" : "THAWED", err);
}

int cgv1_freeze_check(struct cgroup *cg, bool frozen, bool nudge, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("freezer", cg->path);
	_cleanup_free_ char *st = cg_read(dir, "freezer.state");

	if (!st)
		return stk_err_sys(err, "read %s/freezer.state", dir);
	if (strncmp(st, frozen ? "FROZEN" : "THAWED", 6) == 0)
		return 0;
	/* Writing again nudges tasks that were forking when we froze. */
	if (frozen && nudge && cg_write(dir, "freezer.state", "FROZEN", err) < 0)
		return -1;
	return 1;
}

int cgv1_kill_all(struct cgroup *cg, struct stk_err *err)
{
	_cleanup_free_ char *dir = ctrl_dir("freezer", cg->path);
	_cleanup_free_ char *procs = cg_read(dir, "cgroup.procs");

	(void)err;
	cg_kill_listed(procs);
	return 0;
}

static uint64_t read_u64(const char *ctrl, const char *rel, const char *file)
{
	_cleanup_free_ char *dir = ctrl_dir(ctrl, rel);
	_cleanup_free_ char *s = cg_read(dir, file);

	return s ? strtoull(s, NULL, 10) : 0;
}

static void blkio_sum(const char *rel, struct engine_stats *out)
{
	_cleanup_free_ char *dir = ctrl_dir("blkio", rel);
	_cleanup_free_ char *s = cg_read(dir, "blkio.throttle.io_service_bytes");
	char *line, *save = NULL;

	for (line = s ? strtok_r(s, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
		char dev[32], op[16];
		unsigned long long v;

		if (sscanf(line, "%31s %15s %llu", dev, op, &v) != 3)
			continue;
		if (strcmp(op, "Read") == 0)
			out->blkio_read += v;
		else if (strcmp(op, "Write") == 0)
			out->blkio_write += v;
	}
}

int cgv1_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err)
{
	_cleanup_free_ char *mem = NULL;
	long long inactive;

	out->cpu_usage_ns = read_u64("cpuacct", cg->path, "cpuacct.usage");
	out->memory_usage = read_u64("memory", cg->path, "memory.usage_in_bytes");
	out->memory_limit = read_u64("memory", cg->path, "memory.limit_in_bytes");
	/* v1 reports "unlimited" as a huge page-aligned number. */
	if (out->memory_limit >= (1ULL << 62))
		out->memory_limit = 0;
	out->pids = read_u64("pids", cg->path, "pids.current");
	blkio_sum(cg->path, out);
	mem = ctrl_dir("memory", cg->path);
	inactive = cg_read_key(mem, "memory.stat", "total_inactive_file");
	out->memory_cache = inactive > 0 ? (uint64_t)inactive : 0;
	(void)err;
	return 0;
}

char *cgv1_procs(struct cgroup *cg)
{
	_cleanup_free_ char *dir = ctrl_dir("freezer", cg->path);

	return cg_read(dir, "cgroup.procs");
}

bool cgv1_oom_killed(struct cgroup *cg)
{
	_cleanup_free_ char *dir = ctrl_dir("memory", cg->path);

	return cg_read_key(dir, "memory.oom_control", "oom_kill") > 0;
}

int cgv1_destroy(struct cgroup *cg, struct stk_err *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < NCTRL; i++) {
		_cleanup_free_ char *base = xasprintf("%s/%s", cgroup_root(), controllers[i]);
		int r;

		if (!ctrl_present(controllers[i]))
			continue;
		r = cg_rmdir_up(base, cg->path, err);
		if (r < 0)
			rc = -1;
		else if (r > 0 && rc == 0)
			rc = 1;
	}
	return rc;
}

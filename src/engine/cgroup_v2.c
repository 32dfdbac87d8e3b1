/* cgroup v2: one unified tree. Controllers are enabled down the path to the
 * container's leaf; the leaf's fd lets clone3 start the child inside it. */
#include "engine/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

static char *leaf_dir(const struct cgroup *cg)
{
	return xasprintf("%s/%s", cgroup_root(), cg->path);
}

/* Enable in dir's subtree_control every controller we use that dir offers. */
static void enable_controllers(const char *dir)
{
	static const char *const want[] = {"cpu", "cpuset", "memory", "pids", "io"};
	_cleanup_free_ char *avail = cg_read(dir, "cgroup.controllers");
	struct stk_err ignored;
	size_t i;

	for (i = 0; avail && i < sizeof(want) / sizeof(want[0]); i++) {
		char buf[32];

		if (!strstr(avail, want[i]))
			continue;
		snprintf(buf, sizeof(buf), "+%s", want[i]);
		cg_write(dir, "cgroup.subtree_control", buf, &ignored);
	}
}

int cgv2_create(struct cgroup *cg, struct stk_err *err)
{
	_cleanup_free_ char *walk = xstrdup(cgroup_root());
	_cleanup_free_ char *rel = xstrdup(cg->path);
	_cleanup_free_ char *leaf = leaf_dir(cg);
	char *tok, *save = NULL;

	if (cg_mkdir_p(cgroup_root(), cg->path, err) < 0)
		return -1;
	/* Every ancestor of the leaf delegates the controllers to its children. */
	enable_controllers(walk);
	for (tok = strtok_r(rel, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		char *next = xasprintf("%s/%s", walk, tok);

		free(walk);
		walk = next;
		if (strcmp(walk, leaf) != 0)
			enable_controllers(walk);
	}
	cg->dirfd = open(leaf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cg->dirfd < 0)
		return stk_err_sys(err, "open %s", leaf);
	return 0;
}

static int write_ll(const char *dir, const char *file, long long v, struct stk_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	return cg_write(dir, file, buf, err);
}

static int apply_memory(const char *dir, const struct engine_resources *r, struct stk_err *err)
{
	if (r->memory_reservation > 0 &&
	    write_ll(dir, "memory.low", r->memory_reservation, err) < 0)
		return -1;
	if (r->memory > 0 && write_ll(dir, "memory.max", r->memory, err) < 0)
		return -1;
	if (r->memory > 0 && r->memory_swap != 0) {
		_cleanup_free_ char *f = xasprintf("%s/memory.swap.max", dir);

		if (access(f, F_OK) < 0)
			return 0;
		if (r->memory_swap < 0)
			return cg_write(dir, "memory.swap.max", "max", err);
		return write_ll(dir, "memory.swap.max", r->memory_swap - r->memory, err);
	}
	return 0;
}

static int apply_cpu(const char *dir, const struct engine_resources *r, struct stk_err *err)
{
	char buf[64];

	if (r->cpu_quota > 0) {
		snprintf(buf, sizeof(buf), "%lld %llu", (long long)r->cpu_quota,
			 (unsigned long long)(r->cpu_period ? r->cpu_period : 100000));
		if (cg_write(dir, "cpu.max", buf, err) < 0)
			return -1;
	}
	/* The mapping runc and crun use: shares 2..262144 onto weight 1..10000. */
	if (r->cpu_shares &&
	    write_ll(dir, "cpu.weight", 1 + (((long long)r->cpu_shares - 2) * 9999) / 262142, err) <
		    0)
		return -1;
	if (r->cpuset_cpus && cg_write(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -1;
	if (r->cpuset_mems && cg_write(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -1;
	return 0;
}

int cgv2_apply(struct cgroup *cg, const struct engine_resources *r, bool privileged,
	       const struct cg_dev_rule *extra, size_t nextra, struct stk_err *err)
{
	_cleanup_free_ char *dir = leaf_dir(cg);
	_cleanup_free_ struct cg_dev_rule *rules =
		xcalloc(cg_ndefault_devices + nextra, sizeof(*rules));

	if (apply_memory(dir, r, err) < 0 || apply_cpu(dir, r, err) < 0)
		return stk_err_wrap(err, "set cgroup limits");
	/* v2 has no devices files: a BPF program decides. Privileged: every device. */
	memcpy(rules, cg_default_devices, cg_ndefault_devices * sizeof(*rules));
	if (nextra)
		memcpy(rules + cg_ndefault_devices, extra, nextra * sizeof(*rules));
	if (!privileged && cg->devices_prog < 0 &&
	    cgv2_devices_attach(dir, rules, cg_ndefault_devices + nextra, &cg->devices_prog, err) <
		    0)
		return stk_err_wrap(err, "set device rules");
	if (r->pids_limit > 0 && write_ll(dir, "pids.max", r->pids_limit, err) < 0)
		return stk_err_wrap(err, "set cgroup limits");
	return 0;
}

int cgv2_freeze(struct cgroup *cg, bool frozen, struct stk_err *err)
{
	_cleanup_free_ char *dir = leaf_dir(cg);

	return cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err);
}

/* cgroup.events says when the kernel got there; it also polls (POLLPRI) on changes. */
int cgv2_freeze_check(struct cgroup *cg, bool frozen, struct stk_err *err)
{
	_cleanup_free_ char *dir = leaf_dir(cg);
	long long v = cg_read_key(dir, "cgroup.events", "frozen");

	if (v < 0)
		return stk_err_sys(err, "read %s/cgroup.events", dir);
	return v == (frozen ? 1 : 0) ? 0 : 1;
}

/* cgroup.kill (Linux 5.14) kills every task at once; before it, the tasks listed now. */
int cgv2_kill_all(struct cgroup *cg, struct stk_err *err)
{
	_cleanup_free_ char *dir = leaf_dir(cg);
	_cleanup_free_ char *kill_file = xasprintf("%s/cgroup.kill", dir);
	_cleanup_free_ char *procs = NULL;

	if (access(kill_file, F_OK) == 0)
		return cg_write(dir, "cgroup.kill", "1", err);
	procs = cg_read(dir, "cgroup.procs");
	cg_kill_listed(procs);
	return 0;
}

static void io_sum(const char *dir, struct engine_stats *out)
{
	_cleanup_free_ char *s = cg_read(dir, "io.stat");
	char *tok, *save = NULL;

	for (tok = s ? strtok_r(s, " \n", &save) : NULL; tok; tok = strtok_r(NULL, " \n", &save)) {
		if (str_has_prefix(tok, "rbytes="))
			out->blkio_read += strtoull(tok + 7, NULL, 10);
		else if (str_has_prefix(tok, "wbytes="))
			out->blkio_write += strtoull(tok + 7, NULL, 10);
	}
}

int cgv2_stats(struct cgroup *cg, struct engine_stats *out, struct stk_err *err)
{
	_cleanup_free_ char *dir = leaf_dir(cg);

	(void)err;
	cgv2_stats_dir(dir, out);
	return 0;
}

char *cgv2_procs(struct cgroup *cg)
{
	_cleanup_free_ char *dir = leaf_dir(cg);

	return cg_read(dir, "cgroup.procs");
}

void cgv2_stats_dir(const char *dir, struct engine_stats *out)
{
	_cleanup_free_ char *cur = cg_read(dir, "memory.current");
	_cleanup_free_ char *max = cg_read(dir, "memory.max");
	_cleanup_free_ char *pids = cg_read(dir, "pids.current");
	long long usec = cg_read_key(dir, "cpu.stat", "usage_usec"), inactive;

	out->cpu_usage_ns = usec > 0 ? (uint64_t)usec * 1000 : 0;
	out->memory_usage = cur ? strtoull(cur, NULL, 10) : 0;
	out->memory_limit = max && strncmp(max, "max", 3) != 0 ? strtoull(max, NULL, 10) : 0;
	out->pids = pids ? strtoull(pids, NULL, 10) : 0;
	io_sum(dir, out);
	inactive = cg_read_key(dir, "memory.stat", "inactive_file");
	out->memory_cache = inactive > 0 ? (uint64_t)inactive : 0;
}

bool cgv2_oom_killed(struct cgroup *cg)
{
	_cleanup_free_ char *dir = leaf_dir(cg);

	return cg_read_key(dir, "memory.events", "oom_kill") > 0;
}

int cgv2_destroy(struct cgroup *cg, struct stk_err *err)
{
	if (cg->dirfd >= 0) {
		close(cg->dirfd);
		cg->dirfd = -1;
	}
	if (cg->devices_prog >= 0) {
		_cleanup_free_ char *dir = leaf_dir(cg);

		cgv2_devices_detach(dir, cg->devices_prog);
		cg->devices_prog = -1;
	}
	return cg_rmdir_up(cgroup_root(), cg->path, err);
}

/* Unit tests for src/engine: user and group resolution from image files, signal names,
 * the JSON spec, seccomp profiles in Docker's format; and, as root, containers started
 * while other threads allocate, with any allocation in the clone3 child caught. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <json-c/json.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "engine/cgroup.h"
#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/seccomp.h"
#include "util/fs.h"
#include "util/str.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			     "app:x:1000:1000:App:/home/app:/bin/sh\n"
			     "broken line\n";
static const char group[] = "root:x:0:\n"
			    "daemon:x:1:\n"
			    "app:x:1000:\n"
			    "audio:x:29:app,other\n"
			    "video:x:44:other\n";

/* The malloc guard: this binary's malloc family, on top of glibc's, reports any call
 * made by another process than the one that armed it (the child of clone3, before it
 * execs: it shares this binary's code and runs in a new pid namespace) on a pipe, and
 * that child ends at once. The sanitizers bring their own malloc: no guard there. */
#if defined(__SANITIZE_ADDRESS__)
#define MALLOC_GUARD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MALLOC_GUARD 0
#endif
#endif
#ifndef MALLOC_GUARD
#define MALLOC_GUARD 1
#endif

static volatile pid_t guard_owner; /* 0: disarmed */
static int guard_pipe[2] = {-1, -1};

#if MALLOC_GUARD
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void guard_check(const char *fn)
{
	if (guard_owner && (pid_t)syscall(SYS_getpid) != guard_owner) {
		/* write(2) and _exit(2) only: nothing here may allocate */
		if (write(guard_pipe[1], fn, strlen(fn)) < 0 || write(guard_pipe[1], "\n", 1) < 0)
			syscall(SYS_exit_group, 122);
		syscall(SYS_exit_group, 121);
	}
}

void *malloc(size_t n)
{
	guard_check("malloc");
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	guard_check("calloc");
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	guard_check("realloc");
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		guard_check("free");
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	guard_check("memalign");
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	guard_check("aligned_alloc");
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	guard_check("posix_memalign");
	*out = __libc_memalign(align, n);
	return *out ? 0 : ENOMEM;
}
#endif

static void guard_arm(void)
{
	assert_int_equal(pipe2(guard_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	guard_owner = getpid();
}

/* A child that allocated has reported it (before its start returned). */
static void guard_assert_clean(void)
{
	char fn[64];
	ssize_t n = read(guard_pipe[0], fn, sizeof(fn) - 1);

	if (n > 0) {
		fn[n - 1] = '\0';
		fail_msg("the clone3 child called %s before exec", fn);
	}
}

/* What the children reported; "" when none allocated. */
static void guard_disarm(char *out, size_t len)
{
	ssize_t n;

	guard_owner = 0;
	n = read(guard_pipe[0], out, len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(guard_pipe[0]);
	close(guard_pipe[1]);
}

/* Under $TMPDIR (the cgroup v2 VM's host root is read-only), else /tmp. */
static void make_test_dir(char *dir, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, len, "%s/stack-unit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
}

static bool has_cap(const struct engine_spec *s, int cap)
{
	struct stk_err err;
	uint64_t set;

	return caps_compute(s, &set, &err) == 0 && ((set >> cap) & 1);
}

static void test_user_by_name_gets_uid_gid_home_and_member_groups(void **state)
{
	struct user_ids u;
	struct stk_err err;

	(void)state;
	assert_int_equal(user_resolve("app", NULL, passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 1000);
	assert_int_equal(u.gid, 1000);
	assert_string_equal(u.home, "/home/app");
	assert_int_equal(u.ngroups, 1);
	assert_int_equal(u.groups[0], 29);
	user_ids_release(&u);
}

static void test_user_numeric_unknown_uid_gets_gid_0_and_home_slash(void **state)
{
	struct user_ids u;
	struct stk_err err;

	(void)state;
	assert_int_equal(user_resolve("4242", NULL, passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 4242);
	assert_int_equal(u.gid, 0);
	assert_string_equal(u.home, "/");
	user_ids_release(&u);
}

static void test_user_with_group_name_and_group_add(void **state)
{
	char *add[] = {"video", "123", NULL};
	struct user_ids u;
	struct stk_err err;

	(void)state;
	assert_int_equal(user_resolve("daemon:audio", add, passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 1);
	assert_int_equal(u.gid, 29);
	assert_int_equal(u.ngroups, 2);
	assert_int_equal(u.groups[0], 44);
	assert_int_equal(u.groups[1], 123);
	user_ids_release(&u);
}

static void test_user_default_is_root_with_home_root(void **state)
{
	struct user_ids u;
	struct stk_err err;

	(void)state;
	assert_int_equal(user_resolve(NULL, NULL, passwd, group, &u, &err), 0);
	assert_int_equal(u.uid, 0);
	assert_string_equal(u.home, "/root");
	user_ids_release(&u);
}

static void test_unknown_user_name_is_a_clear_error(void **state)
{
	struct user_ids u;
	struct stk_err err;

	(void)state;
	assert_int_equal(user_resolve("nobody", NULL, passwd, group, &u, &err), -1);
	assert_string_equal(err.msg,
			    "unable to find user nobody: no matching entries in passwd file");
	assert_int_equal(user_resolve("app:nogroup", NULL, passwd, group, &u, &err), -1);
	assert_non_null(strstr(err.msg, "unable to find group nogroup"));
}

static void test_signal_names_and_numbers_parse(void **state)
{
	struct stk_err err;
	int sig;

	(void)state;
	assert_int_equal(engine_signal_parse("SIGTERM", &sig, &err), 0);
	assert_int_equal(sig, SIGTERM);
	assert_int_equal(engine_signal_parse("kill", &sig, &err), 0);
	assert_int_equal(sig, SIGKILL);
	assert_int_equal(engine_signal_parse("10", &sig, &err), 0);
	assert_int_equal(sig, 10);
	assert_int_equal(engine_signal_parse("SIGRTMIN+1", &sig, &err), 0);
	assert_int_equal(sig, SIGRTMIN + 1);
	assert_int_equal(engine_signal_parse("SIGFOO", &sig, &err), -1);
	assert_int_equal(engine_signal_parse("0", &sig, &err), -1);
}

static void test_spec_json_sets_limits_mounts_and_security(void **state)
{
	const char *text =
		"{\"command\":[\"sh\",\"-c\",\"true\"],\"mem_limit\":\"64m\",\"cpus\":0.5,"
		"\"pids_limit\":20,\"read_only\":true,\"user\":\"app\","
		"\"mounts\":[{\"type\":\"tmpfs\",\"target\":\"/t\",\"tmpfs_size\":\"1m\"},"
		"{\"type\":\"bind\",\"source\":\"/x\",\"target\":\"/y\",\"read_only\":true,"
		"\"propagation\":\"rslave\"}],"
		"\"ulimits\":{\"nofile\":{\"soft\":100,\"hard\":200},\"nproc\":50},"
		"\"sysctls\":{\"net.ipv4.ip_forward\":\"1\"},"
		"\"security_opt\":[\"no-new-privileges\",\"seccomp=unconfined\"],"
		"\"cap_add\":[\"NET_ADMIN\"],\"cap_drop\":[\"ALL\"]}";
	struct json_object *o = json_tokener_parse(text);
	struct engine_spec s;
	struct stk_err err;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(engine_spec_from_json(&s, o, &err), 0);
	assert_string_equal(s.argv[2], "true");
	assert_int_equal(s.res.memory, 64 << 20);
	assert_int_equal(s.res.cpu_quota, 50000);
	assert_int_equal(s.res.cpu_period, 100000);
	assert_int_equal(s.res.pids_limit, 20);
	assert_true(s.read_only);
	assert_int_equal(s.nmounts, 2);
	assert_int_equal(s.mounts[0].type, ENGINE_MOUNT_TMPFS);
	assert_int_equal(s.mounts[0].tmpfs_size, 1 << 20);
	assert_int_equal(s.mounts[1].propagation, MS_REC | MS_SLAVE);
	assert_int_equal(s.nulimits, 2);
	assert_int_equal(s.ulimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s.ulimits[0].hard, 200);
	assert_int_equal(s.ulimits[1].soft, 50);
	assert_true(s.no_new_privs);
	assert_string_equal(s.seccomp, "unconfined");
	assert_true(has_cap(&s, 12 /* CAP_NET_ADMIN */));
	assert_false(has_cap(&s, 0 /* CAP_CHOWN */));
	engine_spec_release(&s);
	json_object_put(o);
}

static void test_default_caps_are_dockers_set(void **state)
{
	struct engine_spec s;
	char *drop[] = {"CHOWN", NULL};
	char *add[] = {"sys_admin", NULL};

	(void)state;
	engine_spec_init(&s);
	assert_true(has_cap(&s, 0)); /* CAP_CHOWN */
	assert_true(has_cap(&s, 27)); /* CAP_MKNOD */
	assert_false(has_cap(&s, 21)); /* CAP_SYS_ADMIN */
	s.cap_drop = drop;
	s.cap_add = add;
	assert_false(has_cap(&s, 0));
	assert_true(has_cap(&s, 21));
}

static void test_bad_spec_json_is_rejected_with_reason(void **state)
{
	struct json_object *o =
		json_tokener_parse("{\"mounts\":[{\"type\":\"nfs\",\"target\":\"/x\"}]}");
	struct engine_spec s;
	struct stk_err err;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(engine_spec_from_json(&s, o, &err), -1);
	assert_non_null(strstr(err.msg, "nfs"));
	engine_spec_release(&s);
	json_object_put(o);
}

static void test_spec_json_sizes_take_dockers_units_and_a_bad_one_names_its_field(void **state)
{
	struct json_object *o = json_tokener_parse(
		"{\"mem_limit\":\"1t\",\"shm_size\":\"64MiB\","
		"\"mounts\":[{\"type\":\"tmpfs\",\"target\":\"/t\",\"tmpfs_size\":\"1.5k\"}]}");
	struct json_object *bad = json_tokener_parse(
		"{\"mounts\":[{\"type\":\"tmpfs\",\"target\":\"/t\",\"tmpfs_size\":\"lots\"}]}");
	struct engine_spec s;
	struct stk_err err;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(engine_spec_from_json(&s, o, &err), 0);
	assert_int_equal(s.res.memory, 1LL << 40);
	assert_int_equal(s.shm_size, 64ULL << 20);
	assert_int_equal(s.nmounts, 1);
	assert_int_equal(s.mounts[0].tmpfs_size, 1536);
	engine_spec_release(&s);
	/* it used to become 0, the kernel's default size, without a word */
	engine_spec_init(&s);
	assert_int_equal(engine_spec_from_json(&s, bad, &err), -1);
	assert_string_equal(err.msg, "tmpfs_size: invalid size \"lots\" (a number with an "
				     "optional unit b, k, m, g, t or p)");
	assert_int_equal(s.nmounts, 0);
	engine_spec_release(&s);
	json_object_put(o);
	json_object_put(bad);
}

static void test_seccomp_json_profile_builds_a_filter(void **state)
{
	const char *profile = "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
			      "\"archMap\":[{\"architecture\":\"SCMP_ARCH_X86_64\","
			      "\"subArchitectures\":[\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"]}],"
			      "\"syscalls\":[{\"names\":[\"read\",\"write\",\"no_such_syscall\"],"
			      "\"action\":\"SCMP_ACT_ALLOW\"},"
			      "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\","
			      "\"args\":[{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"}]},"
			      "{\"names\":[\"mount\"],\"action\":\"SCMP_ACT_ALLOW\","
			      "\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}}]}";
	struct engine_spec s;
	struct stk_err err;
	scmp_filter_ctx ctx = NULL;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(seccomp_json_parse(profile, 1ULL << 21, &ctx, &err), 0);
	assert_non_null(ctx);
	assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X32), 0);
	seccomp_release(ctx);
}

static void test_seccomp_json_unknown_action_is_an_error(void **state)
{
	struct engine_spec s;
	struct stk_err err;
	scmp_filter_ctx ctx = NULL;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(seccomp_json_parse("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", 0, &ctx, &err),
			 -1);
	assert_non_null(strstr(err.msg, "SCMP_ACT_NOPE"));
	assert_int_equal(seccomp_json_parse("[1,2]", 0, &ctx, &err), -1);
}

static size_t count_cache_files(const char *dir)
{
	char *sub = xasprintf("%s/seccomp", dir);
	DIR *d = opendir(sub);
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)))
		n += str_has_suffix(e->d_name, ".bpf");
	if (d)
		closedir(d);
	free(sub);
	return n;
}

static char *first_cache_file(const char *dir)
{
	char *sub = xasprintf("%s/seccomp", dir);
	DIR *d = opendir(sub);
	struct dirent *e;
	char *path = NULL;

	while (d && (e = readdir(d)))
		if (str_has_suffix(e->d_name, ".bpf"))
			path = xasprintf("%s/%s", sub, e->d_name);
	if (d)
		closedir(d);
	free(sub);
	return path;
}

static void write_bytes(const char *path, const void *a, size_t alen, const void *b, size_t blen)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	assert_int_equal(fwrite(a, 1, alen, f), alen);
	assert_int_equal(fwrite(b, 1, blen, f), blen);
	fclose(f);
}

/* A cache file written back with its header (the key, then the instruction count, the
 * header's last 8 bytes) and the given instructions. */
static void write_cache_file(const char *path, const char *head, size_t hlen, uint64_t len,
			     const struct sock_filter *insns, size_t n)
{
	char *h = xmalloc(hlen);

	memcpy(h, head, hlen);
	memcpy(h + hlen - sizeof(len), &len, sizeof(len));
	write_bytes(path, h, hlen, insns, n * sizeof(*insns));
	free(h);
}

/* A fresh process (no cache in memory) gets the compiled filter a. */
static void expect_compiled(const struct engine_spec *s, uint64_t caps,
			    const struct seccomp_prog *a)
{
	struct seccomp_prog b;
	struct stk_err err;

	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(s, caps, &b, &err), 0);
	assert_int_equal(b.len, a->len);
	assert_memory_equal(b.insns, a->insns, a->len * sizeof(*a->insns));
	seccomp_prog_release(&b);
}

static void test_seccomp_filter_is_compiled_once_and_cached_on_disk(void **state)
{
	char dir[256], *file, *data;
	struct sock_filter fake[2] = {{0x06, 0, 0, 0x7fff0000}, {0x06, 0, 0, 0x7fff0000}};
	struct sock_filter jump[2] = {{0x15, 5, 0, 0}, {0x06, 0, 0, 0x7fff0000}};
	struct seccomp_prog a, b, c;
	struct engine_spec s;
	struct stk_err err;
	uint64_t caps;
	size_t n = 0, hlen;

	(void)state;
	make_test_dir(dir, sizeof(dir));
	engine_spec_init(&s);
	s.cache_dir = dir;
	assert_int_equal(caps_compute(&s, &caps, &err), 0);
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &a, &err), 0);
	assert_true(a.len > 100);
	assert_int_equal(count_cache_files(dir), 1);

	/* The default profile's file is named by its key's fields, no digest. */
	file = first_cache_file(dir);
	assert_non_null(strstr(file, "/seccomp/default-"));
	data = str_read_file(file, &n);
	assert_non_null(data);
	hlen = n - a.len * sizeof(*a.insns);
	assert_memory_equal(data + hlen, a.insns, a.len * sizeof(*a.insns));

	/* A fresh process reads the disk cache: what the file holds is what it gets. */
	write_cache_file(file, data, hlen, 2, fake, 2);
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &b, &err), 0);
	assert_int_equal(b.len, 2);
	seccomp_prog_release(&b);
	/* The process's own cache answers next, without the file. */
	unlink(file);
	assert_int_equal(seccomp_prepare(&s, caps, &b, &err), 0);
	assert_int_equal(b.len, 2);
	seccomp_prog_release(&b);

	/* A damaged file is ignored: the filter is compiled again and the file rewritten.
	 * Damaged: torn (fewer instructions than its header says), another key in its
	 * header, or a program the kernel would refuse (a jump past its end). */
	write_cache_file(file, data, hlen, 2, fake, 1);
	expect_compiled(&s, caps, &a);
	data[0] ^= 0xff;
	write_cache_file(file, data, hlen, 2, fake, 2);
	data[0] ^= 0xff;
	expect_compiled(&s, caps, &a);
	write_cache_file(file, data, hlen, 2, jump, 2);
	expect_compiled(&s, caps, &a);
	free(data);
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &c, &err), 0);
	assert_memory_equal(c.insns, a.insns, a.len * sizeof(*a.insns));

	/* Another capability set is another filter (CAP_SYS_ADMIN allows mount). */
	seccomp_prog_release(&c);
	assert_int_equal(seccomp_prepare(&s, caps | (1ULL << 21), &c, &err), 0);
	assert_int_equal(count_cache_files(dir), 2);
	assert_true(c.len != a.len || memcmp(c.insns, a.insns, a.len * sizeof(*a.insns)) != 0);

	seccomp_prog_release(&a);
	seccomp_prog_release(&b);
	seccomp_prog_release(&c);
	unlink(file);
	free(file);
	file = first_cache_file(dir);
	unlink(file);
	free(file);
	{
		char *sub = xasprintf("%s/seccomp", dir);

		rmdir(sub);
		free(sub);
	}
	rmdir(dir);
}

static void test_unconfined_and_privileged_have_no_filter(void **state)
{
	struct seccomp_prog p;
	struct engine_spec s;
	struct stk_err err;

	(void)state;
	engine_spec_init(&s);
	s.seccomp = "unconfined";
	assert_int_equal(seccomp_prepare(&s, 0, &p, &err), 0);
	assert_int_equal(p.len, 0);
	s.seccomp = NULL;
	s.privileged = true;
	assert_int_equal(seccomp_prepare(&s, 0, &p, &err), 0);
	assert_int_equal(p.len, 0);
}

static void test_v1_device_rules_are_the_default_allowlist(void **state)
{
	static const char *const want[] = {
		"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm",   "c 1:9 rwm",
		"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
	};
	struct cg_dev_rule r = {'b', 8, -1, 2 /* read */};
	char buf[64];
	size_t i;

	(void)state;
	assert_int_equal(cg_ndefault_devices, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < cg_ndefault_devices; i++) {
		cg_dev_rule_v1(&cg_default_devices[i], buf, sizeof(buf));
		assert_string_equal(buf, want[i]);
	}
	cg_dev_rule_v1(&r, buf, sizeof(buf));
	assert_string_equal(buf, "b 8:* r");
}

static void test_v2_device_program_passes_the_verifier(void **state)
{
	struct cg_dev_rule rules[64];
	struct stk_err err;
	size_t n = cg_ndefault_devices;
	int fd;

	(void)state;
	if (geteuid() != 0)
		skip();
	memcpy(rules, cg_default_devices, n * sizeof(*rules));
	rules[n++] = (struct cg_dev_rule){'b', 8, 0, 2};
	rules[n++] = (struct cg_dev_rule){'a', -1, -1, 1};
	fd = cgv2_devices_load(rules, n, &err);
	if (fd < 0 && (err.errnum == EPERM || err.errnum == ENOSYS))
		skip(); /* no bpf(2) for us here (a container, a locked-down kernel) */
	assert_true(fd >= 0);
	close(fd);
}

/* Containers started while other threads allocate ------------------------------- */

#define STRESS_STARTS 50

struct stress {
	char dir[256]; /* rootfs and state directories under it */
	atomic_bool stop; /* the allocating threads end */
	atomic_int done; /* starts completed: the watchdog's sign of progress */
	atomic_bool hung;
	struct engine_container *_Atomic current;
};

/* Like a pool thread unpacking layers: allocations past the tcache sizes (so they take
 * the arena's lock) and stdio (which takes the list lock) without a pause. */
static void *allocate_hard(void *arg)
{
	struct stress *st = arg;
	unsigned seed = (unsigned)(uintptr_t)&seed;

	while (!atomic_load(&st->stop)) {
		void *p[16];
		size_t i;
		FILE *f;

		for (i = 0; i < 16; i++)
			p[i] = malloc(1024 + (size_t)(rand_r(&seed) % 65536));
		for (i = 0; i < 16; i++)
			free(p[i]);
		if ((f = fopen("/proc/self/stat", "re")))
			fclose(f);
	}
	return NULL;
}

/* A start that does not return is a child stuck on a lock it inherited: fail the test
 * and kill that container so the loop can end. */
static void *watchdog(void *arg)
{
	struct stress *st = arg;
	int last = -1, still = 0;

	while (!atomic_load(&st->stop)) {
		int now = atomic_load(&st->done);

		still = now == last ? still + 1 : 0;
		last = now;
		if (still >= 300) { /* 30 s without a start */
			struct engine_container *c = atomic_load(&st->current);
			struct stk_err err;

			atomic_store(&st->hung, true);
			if (c)
				engine_kill_all(c, &err);
			still = 0;
		}
		poll(NULL, 0, 100);
	}
	return NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A busybox rootfs (the static /bin/busybox) with a root and an unprivileged user. */
static void make_rootfs(const char *dir)
{
	static const char *const dirs[] = {"bin", "etc", "proc", "sys", "dev", "tmp"};
	char path[512], cmd[1024];
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/rootfs/%s", dir, dirs[i]);
		assert_int_equal(stk_mkdir_p(path, 0755, &(struct stk_err){0}), 0);
	}
	snprintf(cmd, sizeof(cmd), "cp /bin/busybox %s/rootfs/bin/busybox", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/rootfs/etc/passwd", dir);
	write_text(path, "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n");
	snprintf(path, sizeof(path), "%s/rootfs/etc/group", dir);
	write_text(path, "root:x:0:\napp:x:1000:\naudio:x:29:app\n");
}

static void wait_exit(int pidfd, int (*try_wait)(void *, struct engine_exit *, struct stk_err *),
		      void *what, struct engine_exit *ex)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	struct stk_err err;

	assert_true(poll(&p, 1, 30000) == 1);
	assert_int_equal(try_wait(what, ex, &err), 0);
}

static int container_try_wait(void *c, struct engine_exit *ex, struct stk_err *err)
{
	return engine_try_wait(c, ex, err);
}

static int process_try_wait(void *p, struct engine_exit *ex, struct stk_err *err)
{
	return engine_process_try_wait(p, ex, err);
}

/* One container: as "app", in a working directory that does not exist yet, with a
 * tmpfs, a sysctl, a mount target to create, every other one on a tty, every third
 * under stack-init, every fifth with an exec (PATH searched for "busybox"). */
static void start_one(struct stress *st, int i)
{
	static char *run[] = {"/bin/busybox", "sh", "-c", "test \"$HOME\" = /home/app", NULL};
	static char *wait_stdin[] = {"/bin/busybox", "sh", "-c",
				     "read line; test \"$HOME\" = /home/app", NULL};
	static char *exec_argv[] = {"busybox", "true", NULL};
	static char *env[] = {"PATH=/usr/bin:/bin", NULL};
	struct engine_kv sysctl = {"net.ipv4.ip_forward", "1"};
	struct engine_mount tmpfs = {.type = ENGINE_MOUNT_TMPFS,
				     .target = "/made/tmp",
				     .tmpfs_size = 1 << 20};
	bool with_exec = i % 5 == 0;
	struct engine_spec spec;
	struct engine_container *c;
	struct engine_exit ex;
	struct stk_err err;
	char id[64], state[300], rootfs[300], parent[64], init[PATH_MAX];
	int stdin_pipe[2] = {-1, -1}, pty;

	snprintf(id, sizeof(id), "unit-%d-%d", (int)getpid(), i);
	snprintf(state, sizeof(state), "%s/state-%d", st->dir, i);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", st->dir);
	snprintf(parent, sizeof(parent), "stack-unit-%d", (int)getpid());
	engine_spec_init(&spec);
	spec.id = id;
	spec.state_dir = state;
	spec.cgroup_parent = parent;
	spec.rootfs = rootfs;
	spec.argv = with_exec ? wait_stdin : run;
	spec.env = env;
	spec.user = "app";
	spec.workdir = "/home/app/work";
	spec.tty = i % 2;
	spec.sysctls = &sysctl;
	spec.nsysctls = 1;
	spec.mounts = &tmpfs;
	spec.nmounts = 1;
	/* the build tree's stack-init, when the test runs from there (make check does) */
	if (i % 3 == 1 && realpath("stack-init", init)) {
		spec.init = true;
		spec.init_path = init;
	}
	if (with_exec) {
		assert_int_equal(pipe2(stdin_pipe, O_CLOEXEC), 0);
		spec.tty = false;
		spec.stdio[0] = stdin_pipe[0];
	}
	if (engine_create(&spec, &c, &err) < 0)
		fail_msg("create: %s", err.msg);
	atomic_store(&st->current, c);
	if (engine_start(c, &err) < 0)
		fail_msg("start %d: %s", i, err.msg);
	if (atomic_load(&st->hung))
		fail_msg("start %d hung (its child stuck on a lock) until the watchdog killed it",
			 i);
	guard_assert_clean();
	/* kept open until the end: closing a pty master hangs its session up */
	pty = engine_take_pty_master(c);
	if (with_exec) {
		struct engine_exec_spec e = {.argv = exec_argv, .stdio = {-1, -1, -1}};
		struct engine_process proc;

		if (engine_exec(c, &e, &proc, &err) < 0)
			fail_msg("exec %d: %s", i, err.msg);
		guard_assert_clean();
		wait_exit(proc.pidfd, process_try_wait, &proc, &ex);
		assert_int_equal(ex.code, 0);
		close(proc.pidfd);
		close(stdin_pipe[0]);
		close(stdin_pipe[1]);
	}
	wait_exit(engine_pidfd(c), container_try_wait, c, &ex);
	atomic_store(&st->current, NULL);
	if (pty >= 0)
		close(pty);
	/* 121: the guard ended a child that allocated */
	assert_int_equal(ex.code, 0);
	if (engine_remove_blocking(c, &err) < 0)
		fail_msg("remove: %s", err.msg);
	engine_container_free(c);
	atomic_fetch_add(&st->done, 1);
}

static void test_starts_while_threads_allocate_never_hang_and_child_never_allocates(void **state)
{
	struct stress st = {0};
	pthread_t alloc[4], dog;
	char report[512];
	size_t i;
	int n;

	(void)state;
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
		skip();
	make_test_dir(st.dir, sizeof(st.dir));
	make_rootfs(st.dir);
	/* One arena for every thread, as when threads outnumber arenas (8 per core): a
	 * pool thread then holds the very lock the child would need. */
	mallopt(M_ARENA_MAX, 1);
	guard_arm();
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&alloc[i], NULL, allocate_hard, &st), 0);
	assert_int_equal(pthread_create(&dog, NULL, watchdog, &st), 0);
	for (n = 0; n < STRESS_STARTS && !atomic_load(&st.hung); n++)
		start_one(&st, n);
	atomic_store(&st.stop, true);
	for (i = 0; i < 4; i++)
		pthread_join(alloc[i], NULL);
	pthread_join(dog, NULL);
	guard_disarm(report, sizeof(report));
	nftw(st.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	assert_false(atomic_load(&st.hung));
	assert_string_equal(report, "");
}

/* Frozen on v1, PID 1 cannot die: remove must say "not yet" rather than wait for it. */
static void test_remove_of_a_frozen_container_says_not_yet_instead_of_waiting(void **state)
{
	static char *argv[] = {"/bin/busybox", "sh", "-c", "read line", NULL};
	char dir[256], rootfs[300], statedir[300], id[64], parent[64];
	struct engine_spec spec;
	struct engine_container *c;
	struct stk_err err;
	int in[2], rc;

	(void)state;
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
		skip();
	make_test_dir(dir, sizeof(dir));
	make_rootfs(dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(statedir, sizeof(statedir), "%s/state", dir);
	snprintf(id, sizeof(id), "unit-frozen-%d", (int)getpid());
	snprintf(parent, sizeof(parent), "stack-unit-%d", (int)getpid());
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	engine_spec_init(&spec);
	spec.id = id;
	spec.state_dir = statedir;
	spec.cgroup_parent = parent;
	spec.rootfs = rootfs;
	spec.argv = argv;
	spec.stdio[0] = in[0];
	assert_int_equal(engine_create(&spec, &c, &err), 0);
	assert_int_equal(engine_start(c, &err), 0);

	for (rc = engine_pause(c, &err); rc == 1; rc = engine_pause_poll(c, &err))
		poll(NULL, 0, ENGINE_RETRY_MS);
	assert_int_equal(rc, 0);
	if (cgroup_version() == 1) {
		/* killed but frozen: it stays until thawed, and remove says so at once */
		assert_int_equal(engine_remove(c, &err), 1);
		assert_int_equal(engine_remove(c, &err), 1);
	}
	for (rc = engine_unpause(c, &err); rc == 1; rc = engine_pause_poll(c, &err))
		poll(NULL, 0, ENGINE_RETRY_MS);
	assert_int_equal(rc, 0);
	while ((rc = engine_remove(c, &err)) == 1)
		poll(NULL, 0, ENGINE_RETRY_MS);
	if (rc < 0)
		fail_msg("remove: %s", err.msg);
	assert_int_equal(access(statedir, F_OK), -1);
	engine_container_free(c);
	close(in[0]);
	close(in[1]);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* engine_start_begin / engine_start_poll: three children set themselves up at once (all
 * begun before any is polled), the user handshake answered on the way; a program that
 * does not exist fails with the exec step, its child gone and its pid file removed. */
static void test_split_start_runs_several_at_once_and_reports_a_failed_exec(void **state)
{
	static char *ok_argv[] = {"/bin/busybox", "sh", "-c", "test \"$HOME\" = /home/app", NULL};
	static char *bad_argv[] = {"/no/such/program", NULL};
	enum { N = 4 };
	char dir[256], rootfs[300], statedir[N][300], id[N][64], parent[64], pidfile[340];
	struct engine_container *c[N];
	struct engine_spec spec;
	struct engine_exit ex;
	struct stk_err err;
	int rc[N], left = N, i;

	(void)state;
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0)
		skip();
	make_test_dir(dir, sizeof(dir));
	make_rootfs(dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", dir);
	snprintf(parent, sizeof(parent), "stack-unit-%d", (int)getpid());
	for (i = 0; i < N; i++) {
		snprintf(statedir[i], sizeof(statedir[i]), "%s/state-%d", dir, i);
		snprintf(id[i], sizeof(id[i]), "unit-split-%d-%d", (int)getpid(), i);
		engine_spec_init(&spec);
		spec.id = id[i];
		spec.state_dir = statedir[i];
		spec.cgroup_parent = parent;
		spec.rootfs = rootfs;
		spec.user = "app";
		spec.argv = i == N - 1 ? bad_argv : ok_argv;
		assert_int_equal(engine_create(&spec, &c[i], &err), 0);
		if (engine_start_begin(c[i], &err) < 0)
			fail_msg("begin %d: %s", i, err.msg);
		assert_true(engine_start_fd(c[i]) >= 0);
		assert_int_equal(engine_pidfd(c[i]), -1);
		rc[i] = 1;
	}
	while (left > 0) {
		struct pollfd p[N];
		int map[N], n = 0;

		for (i = 0; i < N; i++)
			if (rc[i] == 1) {
				p[n].fd = engine_start_fd(c[i]);
				p[n].events = POLLIN;
				map[n++] = i;
			}
		assert_true(poll(p, (nfds_t)n, 30000) > 0);
		for (i = 0; i < n; i++) {
			int k = map[i];

			if (!p[i].revents)
				continue;
			rc[k] = engine_start_poll(c[k], &err);
			if (rc[k] == 1)
				continue;
			left--;
			if (k == N - 1) {
				assert_int_equal(rc[k], -1);
				assert_non_null(strstr(err.msg, "/no/such/program"));
			} else if (rc[k] < 0) {
				fail_msg("start %d: %s", k, err.msg);
			}
		}
	}
	for (i = 0; i < N - 1; i++) {
		wait_exit(engine_pidfd(c[i]), container_try_wait, c[i], &ex);
		assert_int_equal(ex.code, 0);
	}
	assert_int_equal(engine_pidfd(c[N - 1]), -1);
	assert_int_equal(engine_start_fd(c[N - 1]), -1);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", statedir[N - 1]);
	assert_int_equal(access(pidfile, F_OK), -1);
	for (i = 0; i < N; i++) {
		if (engine_remove_blocking(c[i], &err) < 0)
			fail_msg("remove %d: %s", i, err.msg);
		engine_container_free(c[i]);
	}
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The cgroup v2 readers on recorded interface files (tests/unit/fixtures). */
static char *fixture_dir(const char *name)
{
	const char *srcdir = getenv("srcdir");
	char *file = xstrdup(__FILE__), *slash = strrchr(file, '/');
	char *dir;

	if (slash)
		*slash = '\0';
	dir = srcdir ? xasprintf("%s/tests/unit/fixtures/%s", srcdir, name)
		     : xasprintf("%s/fixtures/%s", slash ? file : ".", name);
	free(file);
	return dir;
}

static void test_cgroup_v2_stats_read_memory_cpu_io_pids_and_cache(void **state)
{
	char *dir = fixture_dir("cgroup2-stats");
	struct engine_stats st = {0};

	(void)state;
	cgv2_stats_dir(dir, &st);
	assert_int_equal(st.memory_usage, 10485760);
	assert_int_equal(st.memory_limit, 67108864);
	assert_int_equal(st.memory_cache, 3145728);
	assert_int_equal(st.cpu_usage_ns, 2500000000ULL);
	assert_int_equal(st.pids, 4);
	/* io.stat: every device summed. */
	assert_int_equal(st.blkio_read, 1048576 + 2048);
	assert_int_equal(st.blkio_write, 4096 + 8192);
	free(dir);
}

static void test_cgroup_v2_stats_max_is_unlimited_and_missing_files_are_zero(void **state)
{
	char *dir = fixture_dir("cgroup2-unlimited");
	struct engine_stats st = {0};

	(void)state;
	cgv2_stats_dir(dir, &st);
	assert_int_equal(st.memory_limit, 0);
	assert_int_equal(st.memory_usage, 0);
	assert_int_equal(st.cpu_usage_ns, 0);
	assert_int_equal(st.pids, 0);
	assert_int_equal(st.memory_cache, 0);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_v2_stats_read_memory_cpu_io_pids_and_cache),
		cmocka_unit_test(test_cgroup_v2_stats_max_is_unlimited_and_missing_files_are_zero),
		cmocka_unit_test(test_user_by_name_gets_uid_gid_home_and_member_groups),
		cmocka_unit_test(test_user_numeric_unknown_uid_gets_gid_0_and_home_slash),
		cmocka_unit_test(test_user_with_group_name_and_group_add),
		cmocka_unit_test(test_user_default_is_root_with_home_root),
		cmocka_unit_test(test_unknown_user_name_is_a_clear_error),
		cmocka_unit_test(test_signal_names_and_numbers_parse),
		cmocka_unit_test(test_spec_json_sets_limits_mounts_and_security),
		cmocka_unit_test(test_default_caps_are_dockers_set),
		cmocka_unit_test(test_bad_spec_json_is_rejected_with_reason),
		cmocka_unit_test(
			test_spec_json_sizes_take_dockers_units_and_a_bad_one_names_its_field),
		cmocka_unit_test(test_seccomp_json_profile_builds_a_filter),
		cmocka_unit_test(test_seccomp_json_unknown_action_is_an_error),
		cmocka_unit_test(test_seccomp_filter_is_compiled_once_and_cached_on_disk),
		cmocka_unit_test(test_unconfined_and_privileged_have_no_filter),
		cmocka_unit_test(test_v1_device_rules_are_the_default_allowlist),
		cmocka_unit_test(test_v2_device_program_passes_the_verifier),
		cmocka_unit_test(
			test_starts_while_threads_allocate_never_hang_and_child_never_allocates),
		cmocka_unit_test(test_remove_of_a_frozen_container_says_not_yet_instead_of_waiting),
		cmocka_unit_test(test_split_start_runs_several_at_once_and_reports_a_failed_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

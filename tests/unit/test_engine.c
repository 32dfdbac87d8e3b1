/* Unit tests for src/engine that need no container: user and group resolution from
 * image files, signal names, the JSON spec, seccomp profiles in Docker's format. */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
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

#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/seccomp.h"
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
	assert_string_equal(err.msg, "unable to find user nobody: no matching entries in passwd file");
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
	assert_true(has_cap(&s, 0));   /* CAP_CHOWN */
	assert_true(has_cap(&s, 27));  /* CAP_MKNOD */
	assert_false(has_cap(&s, 21)); /* CAP_SYS_ADMIN */
	s.cap_drop = drop;
	s.cap_add = add;
	assert_false(has_cap(&s, 0));
	assert_true(has_cap(&s, 21));
}

static void test_bad_spec_json_is_rejected_with_reason(void **state)
{
	struct json_object *o = json_tokener_parse("{\"mounts\":[{\"type\":\"nfs\",\"target\":\"/x\"}]}");
	struct engine_spec s;
	struct stk_err err;

	(void)state;
	engine_spec_init(&s);
	assert_int_equal(engine_spec_from_json(&s, o, &err), -1);
	assert_non_null(strstr(err.msg, "nfs"));
	engine_spec_release(&s);
	json_object_put(o);
}

static void test_seccomp_json_profile_builds_a_filter(void **state)
{
	const char *profile =
		"{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
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
	assert_int_equal(seccomp_json_parse("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", 0, &ctx, &err), -1);
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

static void test_seccomp_filter_is_compiled_once_and_cached_on_disk(void **state)
{
	char tmpl[] = "/tmp/stack-seccomp-cache-XXXXXX";
	char *dir = mkdtemp(tmpl), *file;
	struct sock_filter fake[2] = {{0x06, 0, 0, 0x7fff0000}, {0x06, 0, 0, 0x7fff0000}};
	unsigned char sum[SHA256_DIGEST_LENGTH];
	struct seccomp_prog a, b, c;
	struct engine_spec s;
	struct stk_err err;
	uint64_t caps;

	(void)state;
	assert_non_null(dir);
	engine_spec_init(&s);
	s.cache_dir = dir;
	assert_int_equal(caps_compute(&s, &caps, &err), 0);
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &a, &err), 0);
	assert_true(a.len > 100);
	assert_int_equal(count_cache_files(dir), 1);

	/* A fresh process reads the disk cache: what the file holds is what it gets. */
	file = first_cache_file(dir);
	{
		SHA256_CTX md;

		SHA256_Init(&md);
		SHA256_Update(&md, fake, sizeof(fake));
		SHA256_Final(sum, &md);
	}
	write_bytes(file, sum, sizeof(sum), fake, sizeof(fake));
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &b, &err), 0);
	assert_int_equal(b.len, 2);
	seccomp_prog_release(&b);

	/* A damaged file is ignored: the filter is compiled again and the file rewritten. */
	sum[0] ^= 0xff;
	write_bytes(file, sum, sizeof(sum), fake, sizeof(fake));
	seccomp_cache_clear();
	assert_int_equal(seccomp_prepare(&s, caps, &b, &err), 0);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.insns, a.insns, a.len * sizeof(*a.insns));
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
		"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_by_name_gets_uid_gid_home_and_member_groups),
		cmocka_unit_test(test_user_numeric_unknown_uid_gets_gid_0_and_home_slash),
		cmocka_unit_test(test_user_with_group_name_and_group_add),
		cmocka_unit_test(test_user_default_is_root_with_home_root),
		cmocka_unit_test(test_unknown_user_name_is_a_clear_error),
		cmocka_unit_test(test_signal_names_and_numbers_parse),
		cmocka_unit_test(test_spec_json_sets_limits_mounts_and_security),
		cmocka_unit_test(test_default_caps_are_dockers_set),
		cmocka_unit_test(test_bad_spec_json_is_rejected_with_reason),
		cmocka_unit_test(test_seccomp_json_profile_builds_a_filter),
		cmocka_unit_test(test_seccomp_json_unknown_action_is_an_error),
		cmocka_unit_test(test_seccomp_filter_is_compiled_once_and_cached_on_disk),
		cmocka_unit_test(test_unconfined_and_privileged_have_no_filter),
		cmocka_unit_test(test_v1_device_rules_are_the_default_allowlist),
		cmocka_unit_test(test_v2_device_program_passes_the_verifier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

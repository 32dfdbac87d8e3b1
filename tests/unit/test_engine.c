/* Unit tests for src/engine that need no container: user and group resolution from
 * image files, signal names, the JSON spec, seccomp profiles in Docker's format. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/internal.h"
#include "engine/seccomp.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			     "app:x:1000:1000:App:/home/app:/bin/sh\n"
			     "broken line\n";
static const char group[] = "root:x:0:\n"
			    "daemon:x:1:\n"
			    "app:x:1000:\n"
			    "audio:x:29:app,other\n"
			    "video:x:44:other\n";

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
	assert_true(caps_has(&s, 12 /* CAP_NET_ADMIN */));
	assert_false(caps_has(&s, 0 /* CAP_CHOWN */));
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
	assert_true(caps_has(&s, 0));   /* CAP_CHOWN */
	assert_true(caps_has(&s, 27));  /* CAP_MKNOD */
	assert_false(caps_has(&s, 21)); /* CAP_SYS_ADMIN */
	s.cap_drop = drop;
	s.cap_add = add;
	assert_false(caps_has(&s, 0));
	assert_true(caps_has(&s, 21));
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
	assert_int_equal(seccomp_json_parse(profile, &s, &ctx, &err), 0);
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
	assert_int_equal(seccomp_json_parse("{\"defaultAction\":\"SCMP_ACT_NOPE\"}", &s, &ctx, &err), -1);
	assert_non_null(strstr(err.msg, "SCMP_ACT_NOPE"));
	assert_int_equal(seccomp_json_parse("[1,2]", &s, &ctx, &err), -1);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

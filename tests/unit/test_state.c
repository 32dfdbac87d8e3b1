/* Unit tests for src/state (records on disk) and the log reader of src/super. */
#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/state.h"
#include "super/super.h"
#include "util/fs.h"
#include "util/str.h"

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/stack-test-state-XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return xstrdup(d);
}

static void rm_tree(const char *d)
{
	struct stk_err err;

	assert_int_equal(state_remove_tree(d, &err), 0);
	assert_int_equal(access(d, F_OK), -1);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void replaces_the_file_and_leaves_no_temporary(int (*write_json)(const char *,
									struct json_object *,
									struct stk_err *))
{
	char *d = tmpdir(), *path = xasprintf("%s/x.json", d), *tmp = xasprintf("%s.tmp", path);
	struct json_object *o = json_object_new_object(), *back;
	struct stk_err err;

	json_object_object_add(o, "status", json_object_new_string("running"));
	assert_int_equal(write_json(path, o, &err), 0);
	json_object_object_add(o, "status", json_object_new_string("exited"));
	assert_int_equal(write_json(path, o, &err), 0);
	back = state_read_json(path);
	assert_string_equal(state_str(back, "status"), "exited");
	assert_int_equal(access(tmp, F_OK), -1);
	json_object_put(o);
	json_object_put(back);
	rm_tree(d);
	free(d);
	free(path);
	free(tmp);
}

static void test_write_json_replaces_the_file_and_leaves_no_temporary(void **state)
{
	(void)state;
	replaces_the_file_and_leaves_no_temporary(state_write_json);
}

/* The same without the fsync (a container's state.json). */
static void test_update_json_replaces_the_file_and_leaves_no_temporary(void **state)
{
	(void)state;
	replaces_the_file_and_leaves_no_temporary(state_update_json);
}

static void add_container(const char *root, const char *id, const char *project, const char *name)
{
	char *dir = xasprintf("%s/containers/%s", root, id);
	char *cfg = xasprintf("%s/config.json", dir);
	char *text = xasprintf("{\"name\":\"%s\",\"project\":\"%s\",\"cgroup_parent\":"
			       "\"stack/%s\"}",
			       name, project, project);
	struct stk_err err;

	assert_int_equal(stk_mkdir_p(dir, 0700, &err), 0);
	write_text(cfg, text);
	free(dir);
	free(cfg);
	free(text);
}

static void test_list_containers_keeps_the_project_sorted_by_name(void **state)
{
	char *root = tmpdir(), *stray = xasprintf("%s/containers/runtime-run", root);
	struct state_paths p = {root, root};
	struct state_container *v;
	struct stk_err err;
	size_t n;

	(void)state;
	add_container(root, "bbb", "p", "p-web-1");
	add_container(root, "aaa", "p", "p-db-1");
	add_container(root, "ccc", "other", "other-web-1");
	assert_int_equal(stk_mkdir_p(stray, 0700, &err), 0); /* no config.json: not listed */
	assert_int_equal(state_list_containers(&p, "p", &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(state_str(v[0].config, "name"), "p-db-1");
	assert_string_equal(v[1].id, "bbb");
	/* No state.json yet: an empty record, never NULL; and no pid: not running. */
	assert_string_equal(state_str(v[0].state, "status"), "");
	assert_false(state_container_running(&v[0]));
	state_containers_free(v, n);
	assert_int_equal(state_list_containers(&p, NULL, &v, &n, &err), 0);
	assert_int_equal(n, 3);
	state_containers_free(v, n);
	rm_tree(root);
	free(root);
	free(stray);
}

static void test_a_pid_outside_the_containers_cgroup_is_not_running(void **state)
{
	char *root = tmpdir(), *engine = xasprintf("%s/containers/aaa/engine", root);
	char *pidfile = xasprintf("%s/pid", engine), *pid = xasprintf("%d\n", (int)getpid());
	struct state_paths p = {root, root};
	struct state_container *v;
	struct stk_err err;
	size_t n;

	(void)state;
	add_container(root, "aaa", "p", "p-db-1");
	assert_int_equal(stk_mkdir_p(engine, 0700, &err), 0);
	/* A live pid, but a reused one: this test is not in stack/p/aaa. */
	write_text(pidfile, pid);
	assert_int_equal(state_list_containers(&p, "p", &v, &n, &err), 0);
	assert_false(state_container_running(&v[0]));
	state_containers_free(v, n);
	rm_tree(root);
	free(root);
	free(engine);
	free(pidfile);
	free(pid);
}

struct collected {
	struct strbuf sb;
};

static void collect(const char *container, const char *stream, long long t, const char *line,
		    size_t len, void *arg)
{
	struct collected *c = arg;

	(void)container;
	(void)t;
	strbuf_addf(&c->sb, "%c:", stream[3]);
	strbuf_addn(&c->sb, line, len);
}

static void test_logs_tail_reads_back_across_rotated_files(void **state)
{
	char *d = tmpdir(), *f0 = xasprintf("%s/container.log", d);
	char *f1 = xasprintf("%s/container.log.1", d), *f2 = xasprintf("%s/container.log.2", d);
	struct state_container sc = {.id = "x", .dir = d};
	struct super_log_opts o = {.tail = 3, .interrupt_fd = -1};
	struct collected c;
	struct stk_err err;
	const char rec[] =
		"{\"log\":\"%s\\n\",\"stream\":\"%s\",\"time\":\"2026-01-01T00:00:0%dZ\"}\n";
	char *t;

	(void)state;
	sc.config = json_tokener_parse("{\"name\":\"p-app-1\"}");
	sc.state = json_object_new_object();
	t = xasprintf(rec, "a", "stdout", 1);
	write_text(f2, t);
	free(t);
	t = xasprintf(rec, "b", "stdout", 2);
	{
		char *t2 = xasprintf(rec, "c", "stderr", 3), *both = xasprintf("%s%s", t, t2);

		write_text(f1, both);
		free(t2);
		free(both);
	}
	free(t);
	t = xasprintf(rec, "d", "stdout", 4);
	write_text(f0, t);
	free(t);
	strbuf_init(&c.sb);
	assert_int_equal(super_logs_read(&sc, 1, &o, collect, &c, &err), 0);
	assert_string_equal(c.sb.buf, "o:b\ne:c\no:d\n");
	strbuf_free(&c.sb);
	/* All of them, oldest first; --since cuts by the records' own times. */
	o.tail = -1;
	o.since_ns = 1767225602LL * 1000000000LL; /* 2026-01-01T00:00:02Z */
	strbuf_init(&c.sb);
	assert_int_equal(super_logs_read(&sc, 1, &o, collect, &c, &err), 0);
	assert_string_equal(c.sb.buf, "o:b\ne:c\no:d\n");
	strbuf_free(&c.sb);
	o.since_ns = 0;
	strbuf_init(&c.sb);
	assert_int_equal(super_logs_read(&sc, 1, &o, collect, &c, &err), 0);
	assert_string_equal(c.sb.buf, "o:a\no:b\ne:c\no:d\n");
	strbuf_free(&c.sb);
	json_object_put(sc.config);
	json_object_put(sc.state);
	rm_tree(d);
	free(d);
	free(f0);
	free(f1);
	free(f2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_json_replaces_the_file_and_leaves_no_temporary),
		cmocka_unit_test(test_update_json_replaces_the_file_and_leaves_no_temporary),
		cmocka_unit_test(test_list_containers_keeps_the_project_sorted_by_name),
		cmocka_unit_test(test_a_pid_outside_the_containers_cgroup_is_not_running),
		cmocka_unit_test(test_logs_tail_reads_back_across_rotated_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

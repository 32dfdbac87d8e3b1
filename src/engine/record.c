/* The exec record: what a process exec'd into a running container needs of it, written by
 * engine_create into the container's state directory, so that exec (from the CLI, with no
 * supervisor) opens a container from its id alone instead of rebuilding its spec from the
 * Compose model and the image store, and gets PID 1's own capability set and compiled
 * seccomp filter rather than recomputing them (which costs a libcrypto load for the
 * filter cache's key).
 *
 * exec.json holds the process fields in the spec's JSON format (engine_spec_from_json
 * reads it back), the capability set and the filter's length; exec.bpf holds the filter's
 * instructions. Both are written before the container's process exists, and so before
 * anyone can open it (its pid file comes later): no rename is needed. */
#include "engine/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

#define RECORD_JSON "exec.json"
#define RECORD_BPF "exec.bpf"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static char *record_path(const struct engine_spec *s, const char *name)
{
	return xasprintf("%s/%s", s->state_dir, name);
}

static int write_all(const char *path, const void *data, size_t len, struct stk_err *err)
{
	_cleanup_close_ int fd =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return stk_err_sys(err, "create %s", path);
	if (write(fd, data, len) != (ssize_t)len)
		return stk_err_sys(err, "write %s", path);
	return 0;
}

static struct json_object *strv_json(char **v)
{
	struct json_object *a = json_object_new_array();

	while (v && *v)
		json_object_array_add(a, json_object_new_string(*v++));
	return a;
}

static void put_str(struct json_object *o, const char *key, const char *v)
{
	if (v)
		json_object_object_add(o, key, json_object_new_string(v));
}

static struct json_object *ulimits_json(const struct engine_spec *s)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	for (i = 0; i < s->nulimits; i++) {
		struct json_object *u = json_object_new_object();

		json_object_object_add(u, "soft",
				       json_object_new_int64((int64_t)s->ulimits[i].soft));
		json_object_object_add(u, "hard",
				       json_object_new_int64((int64_t)s->ulimits[i].hard));
		json_object_object_add(o, engine_rlimit_name(s->ulimits[i].resource), u);
	}
	return o;
}

int exec_record_write(const struct engine_container *c, struct stk_err *err)
{
	const struct engine_spec *s = &c->spec;
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *json = record_path(s, RECORD_JSON);
	_cleanup_free_ char *bpf = record_path(s, RECORD_BPF);
	const char *text;

	json_object_object_add(o, "environment", strv_json(s->env));
	json_object_object_add(o, "group_add", strv_json(s->group_add));
	put_str(o, "user", s->user);
	put_str(o, "working_dir", s->workdir);
	if (s->no_new_privs)
		json_object_object_add(o, "security_opt",
				       strv_json((char *[]){"no-new-privileges", NULL}));
	json_object_object_add(o, "ulimits", ulimits_json(s));
	json_object_object_add(o, "caps", json_object_new_int64((int64_t)c->caps));
	json_object_object_add(o, "seccomp_insns", json_object_new_int64((int64_t)c->seccomp.len));
	if (c->seccomp.len &&
	    write_all(bpf, c->seccomp.insns, c->seccomp.len * sizeof(*c->seccomp.insns), err) < 0)
		return -1;
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	return write_all(json, text, strlen(text), err);
}

static void strv_move(char ***dst, char ***src)
{
	char **p;

	for (p = *dst; p && *p; p++)
		free(*p);
	free(*dst);
	*dst = *src;
	*src = NULL;
}

/* The record's fields over the spec engine_open was given (its names). */
static void take_fields(struct engine_spec *dst, struct engine_spec *rec)
{
	strv_move(&dst->env, &rec->env);
	strv_move(&dst->group_add, &rec->group_add);
	free(dst->user);
	dst->user = steal(&rec->user);
	free(dst->workdir);
	dst->workdir = steal(&rec->workdir);
	dst->no_new_privs = rec->no_new_privs;
	free(dst->ulimits);
	dst->ulimits = steal(&rec->ulimits);
	dst->nulimits = rec->nulimits;
	rec->nulimits = 0;
}

int exec_record_load(struct engine_container *c, struct stk_err *err)
{
	_cleanup_free_ char *path = record_path(&c->spec, RECORD_JSON);
	_cleanup_free_ char *text = str_read_file(path, NULL);
	_cleanup_(json_putp) struct json_object *o = NULL;
	struct json_object *caps, *insns;
	struct engine_spec rec;

	/* Missing or damaged, it is as if there were none: the caller that needs it (exec)
	 * rebuilds the whole spec instead; stats or top never need it. */
	if (!text)
		return 1;
	o = json_tokener_parse(text);
	engine_spec_init(&rec);
	if (!o || !json_object_object_get_ex(o, "caps", &caps) ||
	    !json_object_object_get_ex(o, "seccomp_insns", &insns) ||
	    engine_spec_from_json(&rec, o, err) < 0) {
		engine_spec_release(&rec);
		return 1;
	}
	take_fields(&c->spec, &rec);
	engine_spec_release(&rec);
	c->caps = (uint64_t)json_object_get_int64(caps);
	c->recorded_insns = (size_t)json_object_get_int64(insns);
	c->recorded = true;
	return 0;
}

int exec_record_load_seccomp(struct engine_container *c, struct stk_err *err)
{
	_cleanup_free_ char *path = record_path(&c->spec, RECORD_BPF);
	_cleanup_free_ char *data = NULL;
	size_t n = 0;

	if (!c->recorded_insns)
		return 0;
	/* A missing or short filter must never mean an exec without one. */
	data = str_read_file(path, &n);
	if (!data)
		return stk_err_sys(err, "read %s", path);
	if (c->recorded_insns > BPF_MAXINSNS || n != c->recorded_insns * sizeof(struct sock_filter))
		return stk_err_set(err, EINVAL, "%s: %zu bytes, not the %zu instructions recorded",
				   path, n, c->recorded_insns);
	c->seccomp.insns = (struct sock_filter *)(void *)steal(&data);
	c->seccomp.len = c->recorded_insns;
	return 0;
}

/* The exec record: what a process exec'd into a running container needs of it, written by
 * engine_create into the container's state directory, so that exec (from the CLI, with no
 * supervisor) opens a container from its id alone instead of rebuilding its spec from the
 * Compose model and the image store, and gets PID 1's own capability set and compiled
 * seccomp filter rather than recomputing them (which costs a libcrypto load for the
 * filter cache's key).
 *
 * exec.json holds the process fields in the spec's JSON format (engine_spec_from_json
 * reads it back), the capability set and the filter (its instructions in hex): one small
 * file, as each file a container has costs its create and its removal (on this ext4 with
 * `discard`, up to milliseconds an unlink). It is written before the container's process
 * exists, and so before anyone can open it (its pid file comes later): no rename is
 * needed. A record that is missing or damaged in any way is as none: exec then rebuilds
 * the whole spec and compiles the filter again, so it never runs unfiltered. */
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

static char *hex_encode(const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *p = data;
	char *out = xmalloc(2 * len + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
	return out;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* len bytes from exactly 2 * len hex digits; false on anything else. */
static bool hex_decode(const char *hex, size_t hexlen, void *out, size_t len)
{
	unsigned char *p = out;
	size_t i;

	if (hexlen != 2 * len)
		return false;
	for (i = 0; i < len; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		p[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

int exec_record_write(const struct engine_container *c, struct stk_err *err)
{
	const struct engine_spec *s = &c->spec;
	_cleanup_(json_putp) struct json_object *o = json_object_new_object();
	_cleanup_free_ char *json = record_path(s, RECORD_JSON);
	_cleanup_free_ char *filter =
		hex_encode(c->seccomp.insns, c->seccomp.len * sizeof(*c->seccomp.insns));
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
	json_object_object_add(o, "seccomp", json_object_new_string(filter));
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

/* The recorded filter: seccomp_insns instructions, in hex. */
static bool take_filter(struct json_object *o, struct seccomp_prog *out)
{
	struct json_object *insns, *hex;
	int64_t n;

	if (!json_object_object_get_ex(o, "seccomp_insns", &insns) ||
	    !json_object_object_get_ex(o, "seccomp", &hex) ||
	    !json_object_is_type(hex, json_type_string))
		return false;
	n = json_object_get_int64(insns);
	if (n < 0 || n > BPF_MAXINSNS)
		return false;
	out->len = (size_t)n;
	out->insns = n ? xmalloc((size_t)n * sizeof(*out->insns)) : NULL;
	if (!hex_decode(json_object_get_string(hex), (size_t)json_object_get_string_len(hex),
			out->insns, out->len * sizeof(*out->insns))) {
		seccomp_prog_release(out);
		return false;
	}
	return true;
}

int exec_record_load(struct engine_container *c, struct stk_err *err)
{
	_cleanup_free_ char *path = record_path(&c->spec, RECORD_JSON);
	_cleanup_free_ char *text = str_read_file(path, NULL);
	_cleanup_(json_putp) struct json_object *o = NULL;
	struct json_object *caps;
	struct seccomp_prog filter = {0};
	struct engine_spec rec;

	/* Missing or damaged, it is as if there were none: the caller that needs it (exec)
	 * rebuilds the whole spec instead; stats or top never need it. */
	if (!text)
		return 1;
	o = json_tokener_parse(text);
	if (!o || !json_object_object_get_ex(o, "caps", &caps) || !take_filter(o, &filter))
		return 1;
	engine_spec_init(&rec);
	if (engine_spec_from_json(&rec, o, err) < 0) {
		engine_spec_release(&rec);
		seccomp_prog_release(&filter);
		return 1;
	}
	take_fields(&c->spec, &rec);
	engine_spec_release(&rec);
	c->caps = (uint64_t)json_object_get_int64(caps);
	seccomp_prog_release(&c->seccomp);
	c->seccomp = filter;
	c->seccomp_ready = true;
	c->recorded = true;
	return 0;
}

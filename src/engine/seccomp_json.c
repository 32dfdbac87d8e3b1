/* Docker's seccomp profile format (defaultAction, defaultErrnoRet, architectures or
 * archMap, syscalls with names, action, errnoRet, args, includes/excludes on caps and
 * arches), read with json-c and turned into a libseccomp filter. */
#include "engine/internal.h"
#include "engine/seccomp.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <string.h>
#include <sys/capability.h>

#include "util/cleanup.h"
#include "util/str.h"

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static int parse_action(const char *name, int errno_ret, uint32_t *out, struct stk_err *err)
{
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		*out = SCMP_ACT_ALLOW;
	else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		*out = SCMP_ACT_ERRNO((uint32_t)errno_ret);
	else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
		*out = SCMP_ACT_KILL;
	else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		*out = SCMP_ACT_KILL_PROCESS;
	else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
		*out = SCMP_ACT_TRAP;
	else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
		*out = SCMP_ACT_TRACE((uint16_t)errno_ret);
	else if (strcmp(name, "SCMP_ACT_LOG") == 0)
		*out = SCMP_ACT_LOG;
	else
		return stk_err_set(err, EINVAL, "unknown seccomp action \"%s\"", name);
	return 0;
}

static int parse_op(const char *name, enum scmp_compare *out, struct stk_err *err)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{"SCMP_CMP_NE", SCMP_CMP_NE},
		{"SCMP_CMP_LT", SCMP_CMP_LT},
		{"SCMP_CMP_LE", SCMP_CMP_LE},
		{"SCMP_CMP_EQ", SCMP_CMP_EQ},
		{"SCMP_CMP_GE", SCMP_CMP_GE},
		{"SCMP_CMP_GT", SCMP_CMP_GT},
		{"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
	};
	size_t i;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(name, ops[i].name) == 0) {
			*out = ops[i].op;
			return 0;
		}
	return stk_err_set(err, EINVAL, "unknown seccomp operator \"%s\"", name);
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token. */
static uint32_t parse_arch(const char *name)
{
	char buf[64];
	size_t i;

	if (str_has_prefix(name, "SCMP_ARCH_"))
		name += 10;
	for (i = 0; name[i] && i < sizeof(buf) - 1; i++)
		buf[i] = (char)tolower((unsigned char)name[i]);
	buf[i] = '\0';
	return seccomp_arch_resolve_name(buf);
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

/* Does the container's capability set, or this arch, select the rule? */
static bool filter_matches(struct json_object *f, uint64_t caps, bool include)
{
	struct json_object *names, *arches;
	size_t i;

	if (!f)
		return true;
	if (json_object_object_get_ex(f, "caps", &names)) {
		for (i = 0; i < json_object_array_length(names); i++) {
			const char *name =
				json_object_get_string(json_object_array_get_idx(names, i));
			cap_value_t v;
			bool has;

			if (!name || cap_from_name(name, &v) < 0)
				continue;
			has = v < 64 && ((caps >> v) & 1);
			if (include && !has)
				return false;
			if (!include && has)
				return false;
		}
	}
	if (json_object_object_get_ex(f, "arches", &arches)) {
		bool native = false;

		for (i = 0; i < json_object_array_length(arches); i++) {
			const char *a =
				json_object_get_string(json_object_array_get_idx(arches, i));

			if (a && (strcmp(a, "amd64") == 0 || strcmp(a, "x86_64") == 0 ||
				  parse_arch(a) == seccomp_arch_native()))
				native = true;
		}
		if (include && !native)
			return false;
		if (!include && native && json_object_array_length(arches))
			return false;
	}
	return true;
}

static int add_syscall_rule(scmp_filter_ctx ctx, struct json_object *r, int default_errno,
			    uint64_t caps, struct stk_err *err)
{
	struct json_object *names, *args, *inc = NULL, *exc = NULL, *v;
	struct scmp_arg_cmp cmp[6];
	unsigned nargs = 0;
	const char *action = jstr(r, "action");
	int errno_ret = default_errno;
	uint32_t act;
	size_t i;

	json_object_object_get_ex(r, "includes", &inc);
	json_object_object_get_ex(r, "excludes", &exc);
	if (!filter_matches(inc, caps, true) || (exc && !filter_matches(exc, caps, false)))
		return 0;
	if (json_object_object_get_ex(r, "errnoRet", &v))
		errno_ret = json_object_get_int(v);
	if (!action || parse_action(action, errno_ret, &act, err) < 0)
		return action ? -1 : stk_err_set(err, EINVAL, "seccomp rule without action");
	if (json_object_object_get_ex(r, "args", &args) &&
	    json_object_is_type(args, json_type_array)) {
		for (i = 0; i < json_object_array_length(args) && nargs < 6; i++) {
			struct json_object *a = json_object_array_get_idx(args, i), *x;
			enum scmp_compare op = SCMP_CMP_EQ;

			if (parse_op(jstr(a, "op") ? jstr(a, "op") : "", &op, err) < 0)
				return -1;
			memset(&cmp[nargs], 0, sizeof(cmp[nargs]));
			cmp[nargs].op = op;
			if (json_object_object_get_ex(a, "index", &x))
				cmp[nargs].arg = (unsigned)json_object_get_int(x);
			if (json_object_object_get_ex(a, "value", &x))
				cmp[nargs].datum_a = (scmp_datum_t)json_object_get_uint64(x);
			if (json_object_object_get_ex(a, "valueTwo", &x))
				cmp[nargs].datum_b = (scmp_datum_t)json_object_get_uint64(x);
			nargs++;
		}
	}
	if (json_object_object_get_ex(r, "names", &names) &&
	    json_object_is_type(names, json_type_array)) {
		for (i = 0; i < json_object_array_length(names); i++)
			if (seccomp_add(ctx,
					json_object_get_string(json_object_array_get_idx(names, i)),
					act, nargs, cmp, err) < 0)
				return -1;
	}
	if (jstr(r, "name") && seccomp_add(ctx, jstr(r, "name"), act, nargs, cmp, err) < 0)
		return -1;
	return 0;
}

static int add_arches(scmp_filter_ctx ctx, struct json_object *root, struct stk_err *err)
{
	struct json_object *arches, *map;
	size_t i, j;

	if (json_object_object_get_ex(root, "archMap", &map) &&
	    json_object_is_type(map, json_type_array)) {
		for (i = 0; i < json_object_array_length(map); i++) {
			struct json_object *m = json_object_array_get_idx(map, i), *subs;
			const char *a = jstr(m, "architecture");

			if (!a || parse_arch(a) != seccomp_arch_native())
				continue;
			if (!json_object_object_get_ex(m, "subArchitectures", &subs))
				continue;
			for (j = 0; j < json_object_array_length(subs); j++) {
				uint32_t t = parse_arch(
					json_object_get_string(json_object_array_get_idx(subs, j)));
				int rc = t ? seccomp_arch_add(ctx, t) : 0;

				if (rc < 0 && rc != -EEXIST)
					return stk_err_set(err, -rc, "seccomp arch: %s",
							   strerror(-rc));
			}
		}
		return 0;
	}
	if (json_object_object_get_ex(root, "architectures", &arches)) {
		for (i = 0; i < json_object_array_length(arches); i++) {
			uint32_t t = parse_arch(
				json_object_get_string(json_object_array_get_idx(arches, i)));
			int rc = t ? seccomp_arch_add(ctx, t) : 0;

			if (rc < 0 && rc != -EEXIST)
				return stk_err_set(err, -rc, "seccomp arch: %s", strerror(-rc));
		}
	}
	return 0;
}

int seccomp_json_parse(const char *text, uint64_t caps, scmp_filter_ctx *out, struct stk_err *err)
{
	_cleanup_(json_putp) struct json_object *root = json_tokener_parse(text);
	struct json_object *rules, *v;
	const char *defact;
	int default_errno = EPERM;
	uint32_t act;
	scmp_filter_ctx ctx;
	size_t i;

	if (!root || !json_object_is_type(root, json_type_object))
		return stk_err_set(err, EINVAL, "seccomp profile is not a JSON object");
	if (json_object_object_get_ex(root, "defaultErrnoRet", &v))
		default_errno = json_object_get_int(v);
	defact = jstr(root, "defaultAction");
	if (!defact)
		return stk_err_set(err, EINVAL, "seccomp profile has no defaultAction");
	if (parse_action(defact, default_errno, &act, err) < 0)
		return -1;
	ctx = seccomp_init(act);
	if (!ctx)
		return stk_err_set(err, EINVAL, "seccomp_init failed");
	if (add_arches(ctx, root, err) < 0)
		goto fail;
	if (json_object_object_get_ex(root, "syscalls", &rules) &&
	    json_object_is_type(rules, json_type_array)) {
		for (i = 0; i < json_object_array_length(rules); i++)
			if (add_syscall_rule(ctx, json_object_array_get_idx(rules, i),
					     default_errno, caps, err) < 0)
				goto fail;
	}
	*out = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

/* The service attributes: the schema in the order `config` prints, and the short
 * syntaxes expanded to long form (ports, volumes, depends_on, networks, healthcheck,
 * env_file, secrets/configs, ulimits, extra_hosts, build, devices, extends). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compose/canon.h"
#include "util/cleanup.h"
#include "util/str.h"

/* ---- ports ---- */

static bool parse_port_range(const char *s, long *lo, long *hi)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	*lo = strtol(s, &end, 10);
	*hi = *lo;
	if (*end == '-') {
		if (!isdigit((unsigned char)end[1]))
			return false;
		*hi = strtol(end + 1, &end, 10);
	}
	return !*end && *lo <= *hi && *hi <= 65535;
}

static struct node *port_entry(const char *host_ip, long target, const char *published,
			       const char *proto, struct node_pos pos)
{
	struct node *e = node_new(NODE_MAP, pos);

	node_map_set(e, "mode", node_new_str("ingress", pos));
	if (host_ip && *host_ip)
		node_map_set(e, "host_ip", node_new_str(host_ip, pos));
	node_map_set(e, "target", node_new_int(target, pos));
	if (published && *published)
		node_map_set(e, "published", node_new_str(published, pos));
	node_map_set(e, "protocol", node_new_str(proto, pos));
	return e;
}

/* "[host_ip:][published[-range]:]target[-range][/protocol]", host_ip maybe [v6]. */
static bool port_short(struct canon *c, const struct node *it, struct node *out, char **why)
{
	_cleanup_free_ char *s = xstrdup(it->str), *host_ip = NULL;
	struct node_pos pos = it->pos;
	char *proto = "tcp", *slash, *last, *rest = s, *published = NULL, *target;
	long tlo, thi, plo = 0, phi = 0, i;

	if ((slash = strchr(s, '/'))) {
		*slash = '\0';
		proto = slash + 1;
	}
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "sctp")) {
		*why = xasprintf("unknown protocol \"%s\" (tcp, udp or sctp)", proto);
		return false;
	}
	if (rest[0] == '[') {
		char *close = strchr(rest, ']');

		if (!close || close[1] != ':') {
			*why = xstrdup("malformed IPv6 host address");
			return false;
		}
		host_ip = xstrndup(rest + 1, (size_t)(close - rest - 1));
		rest = close + 2;
	}
	last = strrchr(rest, ':');
	if (last) {
		*last = '\0';
		target = last + 1;
		char *first = strrchr(rest, ':');

		if (first) {
			*first = '\0';
			if (host_ip) {
				*why = xstrdup("too many colons");
				return false;
			}
			host_ip = xstrdup(rest);
			published = first + 1;
		} else if (host_ip) {
			published = rest;
		} else {
			published = rest;
		}
	} else {
		target = rest;
	}
	if (!parse_port_range(target, &tlo, &thi) || tlo == 0) {
		*why = xasprintf("invalid container port \"%s\"", target);
		return false;
	}
	if (published && *published && !parse_port_range(published, &plo, &phi)) {
		*why = xasprintf("invalid host port \"%s\"", published);
		return false;
	}
	if (published && *published && thi - tlo != phi - plo && thi != tlo) {
		*why = xasprintf("host port range \"%s\" and container port range \"%s\" differ in "
				 "size",
				 published, target);
		return false;
	}
	for (i = 0; i <= thi - tlo; i++) {
		char pub[32] = "";

		if (published && *published) {
			if (thi == tlo && phi != plo)
				snprintf(pub, sizeof(pub), "%ld-%ld", plo, phi);
			else
				snprintf(pub, sizeof(pub), "%ld", plo + i);
		}
		node_seq_push(out, port_entry(host_ip, tlo + i, pub, proto, pos));
	}
	return true;
}

static struct node *c_port_number(struct canon *c, const struct node *in, const char *path,
				  const struct attr *a)
{
	long long v;

	(void)a;
	if (!node_as_int(in, &v) || v < 1 || v > 65535)
		return canon_error(c, in, path, "must be a port number from 1 to 65535");
	return node_new_int(v, in->pos);
}

static struct node *c_published(struct canon *c, const struct node *in, const char *path,
				const struct attr *a)
{
	long lo, hi;

	(void)a;
	if (!node_is_scalar(in) || !parse_port_range(in->str, &lo, &hi))
		return canon_error(c, in, path, "must be a port or a range such as \"8000-8010\"");
	return node_new_str(in->str, in->pos);
}

static struct node *c_protocol(struct canon *c, const struct node *in, const char *path,
			       const struct attr *a)
{
	if (node_is_scalar(in) && strcmp(in->str, "tcp") && strcmp(in->str, "udp") &&
	    strcmp(in->str, "sctp"))
		return canon_error(c, in, path, "must be tcp, udp or sctp");
	return c_string(c, in, path, a);
}

static const struct attr port_schema[] = {
	{"name", c_string, NULL},	  {"mode", c_string, NULL},
	{"host_ip", c_string, NULL},	  {"target", c_port_number, NULL},
	{"published", c_published, NULL}, {"protocol", c_protocol, NULL},
	{"app_protocol", c_string, NULL}, {NULL, NULL, NULL},
};

static const char *const port_required[] = {"target", NULL};
static const struct entry_syntax port_syntax = {port_short, port_schema, "port", port_required,
						NULL};

static struct node *c_ports(struct canon *c, const struct node *in, const char *path,
			    const struct attr *a)
{
	(void)a;
	return canon_entries(c, in, path, &port_syntax);
}

/* ---- volumes ---- */

/* In Compose's order (compose-go's ServiceVolumeBind), which is how they print. */
static const struct attr mount_bind_schema[] = {
	{"selinux", c_string, NULL},
	{"propagation", c_string, NULL},
	{"create_host_path", c_bool, NULL},
	{"recursive", c_string, NULL},
	{NULL, NULL, NULL},
};

static const struct attr mount_volume_schema[] = {
	{"labels", c_label_mapping, NULL},
	{"nocopy", c_bool, NULL},
	{"subpath", c_string, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_mode(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a)
{
	long long v;

	(void)a;
	/* modes are octal: 0644 in YAML 1.1 style, "0644" or 0o644 */
	if (in->kind == NODE_SCALAR && in->stype == SC_STR && in->str[0] == '0' &&
	    node_as_int(in, &v))
		return node_new_int(v, in->pos);
	if (!node_as_int(in, &v) || v < 0 || v > 07777)
		return canon_error(c, in, path, "must be a file mode such as 0644");
	return node_new_int(v, in->pos);
}

/* secrets' and configs' modes print in octal, as Compose prints them ("0440") */
static struct node *c_file_mode(struct canon *c, const struct node *in, const char *path,
				const struct attr *a)
{
	struct node *n = c_mode(c, in, path, a);
	char buf[16];
	long long v;

	if (!n || !node_as_int(n, &v))
		return n;
	snprintf(buf, sizeof(buf), "0%llo", v);
	node_free(n);
	return node_new_str(buf, in->pos);
}

static const struct attr mount_tmpfs_schema[] = {
	{"size", c_bytes, NULL},
	{"mode", c_mode, NULL},
	{NULL, NULL, NULL},
};

static const struct attr mount_image_schema[] = {
	{"subpath", c_string, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_mount_type(struct canon *c, const struct node *in, const char *path,
				 const struct attr *a)
{
	static const char *const types[] = {"bind",    "volume", "tmpfs", "npipe",
					    "cluster", "image",	 NULL};
	const char *const *t;

	if (!node_is_scalar(in))
		return canon_error(c, in, path, "must be a string");
	for (t = types; *t && strcmp(*t, in->str); t++)
		;
	if (!*t)
		return canon_error(c, in, path,
				   "unknown mount type \"%s\" (bind, volume, tmpfs, "
				   "npipe, cluster or image)",
				   in->str);
	return c_string(c, in, path, a);
}

static const struct attr mount_schema[] = {
	{"type", c_mount_type, NULL},
	{"source", c_string, NULL},
	{"target", c_string, NULL},
	{"read_only", c_bool, NULL},
	{"consistency", c_string, NULL},
	{"bind", c_object, mount_bind_schema},
	{"volume", c_object, mount_volume_schema},
	{"tmpfs", c_object, mount_tmpfs_schema},
	{"image", c_object, mount_image_schema},
	{NULL, NULL, NULL},
};

/* A short-syntax source that is a path rather than a volume's name: ., /, ~, a
 * Windows drive ("C:") or a UNC path, as Compose tells them apart. */
static bool is_path_source(const char *s)
{
	return s[0] == '.' || s[0] == '/' || s[0] == '~' || (s[0] == '\\' && s[1] == '\\') ||
	       (isalpha((unsigned char)s[0]) && s[1] == ':');
}

/* The bind or volume options of an entry, made when an option needs them. */
static struct node *sub_object(struct node **slot, struct node_pos pos)
{
	if (!*slot)
		*slot = node_new(NODE_MAP, pos);
	return *slot;
}

/* Compose takes the options it knows and ignores the rest; so does it put a bind
 * option (SELinux label, propagation) on a named volume and nocopy on a bind: what
 * the engine does with them is the engine's business. */
static bool apply_volume_mode(struct node *e, struct node **bind, struct node **vol,
			      const char *modes, struct node_pos pos, char **why)
{
	_cleanup_free_ char *copy = xstrdup(modes);
	char *save = NULL, *m;

	for (m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		if (!strcmp(m, "ro")) {
			node_map_set(e, "read_only", node_new_bool(true, pos));
		} else if (!strcmp(m, "rw")) {
			node_map_del(e, "read_only");
		} else if (!strcmp(m, "z") || !strcmp(m, "Z")) {
			node_map_set(sub_object(bind, pos), "selinux", node_new_str(m, pos));
		} else if (!strcmp(m, "nocopy")) {
			node_map_set(sub_object(vol, pos), "nocopy", node_new_bool(true, pos));
		} else if (!strcmp(m, "shared") || !strcmp(m, "rshared") || !strcmp(m, "slave") ||
			   !strcmp(m, "rslave") || !strcmp(m, "private") ||
			   !strcmp(m, "rprivate")) {
			node_map_set(sub_object(bind, pos), "propagation", node_new_str(m, pos));
		} else if (!strcmp(m, "consistent") || !strcmp(m, "cached") ||
			   !strcmp(m, "delegated")) {
			node_map_set(e, "consistency", node_new_str(m, pos));
		} else {
			*why = xasprintf("unknown mode \"%s\"", m);
			return false;
		}
	}
	return true;
}

/* A map's keys in the order schema lists them. */
static void order_like_schema(struct node *map, const struct attr *schema)
{
	size_t at = 0;

	for (; schema->name; schema++)
		at = node_map_move(map, schema->name, at);
}

/* Split "[source:]target[:mode]" at its colons. With drive set, the colon of a
 * Windows drive that starts a part ("C:\\x", "D:/y") is not a separator. */
static size_t split_volume_spec(char *s, char **parts, size_t max, bool drive)
{
	size_t n = 0;
	char *start = s, *p = s;

	for (;; p++) {
		if (drive && *p == ':' && p - start == 1 && isalpha((unsigned char)*start) &&
		    (p[1] == '\\' || p[1] == '/'))
			continue;
		if (*p != ':' && *p)
			continue;
		if (n == max)
			return max + 1;
		parts[n++] = start;
		if (!*p)
			return n;
		*p = '\0';
		start = p + 1;
	}
}

/* Compose reads "C:\\docker:/app" as a Windows path and a target. It reads "b:/data"
 * as a Windows path too, which on Linux is a volume named b: a drive counts only when
 * a target follows it. */
static size_t split_volume(char *s, char **parts)
{
	_cleanup_free_ char *copy = xstrdup(s);
	size_t n = split_volume_spec(copy, parts, 3, true);

	if (n >= 2 && n <= 3 && (parts[1][0] == '/' || canon_is_windows_abs(parts[1])))
		return split_volume_spec(s, parts, 3, true);
	return split_volume_spec(s, parts, 3, false);
}

/* "[source:]target[:mode]" */
static bool volume_short(struct canon *c, const struct node *it, struct node *out, char **why)
{
	_cleanup_free_ char *s = xstrdup(it->str);
	char *parts[3] = {0};
	size_t n = split_volume(s, parts);
	struct node *e, *bind = NULL, *vol = NULL;
	const char *source = NULL, *target, *mode = NULL;

	if (n > 3) {
		*why = xstrdup("too many colons");
		return false;
	}
	if (n == 1) {
		target = parts[0];
	} else {
		source = parts[0];
		target = parts[1];
		if (n == 3)
			mode = parts[2];
	}
	if (!*target || !(target[0] == '/' || canon_is_windows_abs(target))) {
		*why = xasprintf("the mount target \"%s\" must be an absolute path", target);
		return false;
	}
	if (source && !*source) {
		*why = xstrdup("empty source");
		return false;
	}
	e = node_new(NODE_MAP, it->pos);
	if (source && is_path_source(source)) {
		_cleanup_free_ char *abs = canon_resolve_host_path(c, source);

		node_map_set(e, "type", node_new_str("bind", it->pos));
		node_map_set(e, "source", node_new_str(abs, it->pos));
		node_map_set(e, "target", node_new_str(target, it->pos));
		/* short syntax creates a missing host path, as docker-compose v1 did */
		node_map_set(sub_object(&bind, it->pos), "create_host_path",
			     node_new_bool(true, it->pos));
	} else {
		node_map_set(e, "type", node_new_str("volume", it->pos));
		if (source)
			node_map_set(e, "source", node_new_str(source, it->pos));
		node_map_set(e, "target", node_new_str(target, it->pos));
		sub_object(&vol, it->pos);
	}
	if (mode && !apply_volume_mode(e, &bind, &vol, mode, it->pos, why)) {
		node_free(e);
		node_free(bind);
		node_free(vol);
		return false;
	}
	if (bind) {
		order_like_schema(bind, mount_bind_schema);
		node_map_set(e, "bind", bind);
	}
	if (vol) {
		order_like_schema(vol, mount_volume_schema);
		node_map_set(e, "volume", vol);
	}
	node_seq_push(out, e);
	return true;
}

/* A long-syntax bind's source is a path like any other, and it must be there. */
static bool volume_finish(struct canon *c, struct node *e, const char *path)
{
	const struct node *type = node_map_get(e, "type");
	struct node *src = node_map_get(e, "source"), *bind = node_map_get(e, "bind");
	char *abs;

	if (!type || strcmp(type->str, "bind"))
		return true;
	/* bind options without create_host_path: Compose's default is to create */
	if (bind && bind->kind == NODE_MAP && !node_map_get(bind, "create_host_path")) {
		node_map_set(bind, "create_host_path", node_new_bool(true, bind->pos));
		order_like_schema(bind, mount_bind_schema);
	}
	if (!src && e->partial)
		return true; /* given but invalid: said already */
	if (!node_is_scalar(src) || !*src->str) {
		canon_error(c, e, path,
			    "invalid mount config for type \"bind\": field Source must not be "
			    "empty");
		return false;
	}
	abs = canon_resolve_host_path(c, src->str);
	free(src->str);
	src->str = abs;
	return true;
}

static const char *const volume_required[] = {"type", "target", NULL};
static const struct entry_syntax volume_syntax = {volume_short, mount_schema, "volume",
						  volume_required, volume_finish};

static struct node *c_volumes(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	(void)a;
	return canon_entries(c, in, path, &volume_syntax);
}

/* ---- depends_on ---- */

static struct node *c_condition(struct canon *c, const struct node *in, const char *path,
				const struct attr *a)
{
	if (node_is_scalar(in) && strcmp(in->str, "service_started") &&
	    strcmp(in->str, "service_healthy") && strcmp(in->str, "service_completed_successfully"))
		return canon_error(c, in, path,
				   "must be service_started, service_healthy or "
				   "service_completed_successfully, not \"%s\"",
				   in->str);
	return c_string(c, in, path, a);
}

static const struct attr depends_schema[] = {
	{"condition", c_condition, NULL},
	{"restart", c_bool, NULL},
	{"required", c_bool, NULL},
	{NULL, NULL, NULL},
};

static void depends_defaults(struct node *e)
{
	if (!node_map_get(e, "condition"))
		node_map_set(e, "condition", node_new_str("service_started", e->pos));
	if (!node_map_get(e, "required"))
		node_map_set(e, "required", node_new_bool(true, e->pos));
	/* keep the schema's order: condition, restart, required */
	struct node *req = node_map_take(e, "required");

	node_map_set(e, "required", req);
}

static struct node *c_depends_on(struct canon *c, const struct node *in, const char *path,
				 const struct attr *a)
{
	struct node *out = node_new(NODE_MAP, in->pos);
	size_t i;

	(void)a;
	if (in->kind == NODE_SEQ) {
		for (i = 0; i < in->len; i++) {
			const struct node *it = in->items[i];
			struct node *e;

			if (!node_is_scalar(it)) {
				_cleanup_free_ char *sub = canon_path_index(path, i);

				canon_error(c, it, sub, "must be a service name");
				continue;
			}
			e = node_new(NODE_MAP, it->pos);
			depends_defaults(e);
			node_map_set_at(out, it->str, it->pos, e);
		}
		return out;
	}
	if (in->kind != NODE_MAP) {
		node_free(out);
		return canon_error(c, in, path, "must be a list of services or a mapping");
	}
	for (i = 0; i < in->len; i++) {
		const struct node_pair *p = &in->pairs[i];
		_cleanup_free_ char *sub = canon_path(path, p->key);
		struct node *e =
			node_is_null(p->value)
				? node_new(NODE_MAP, p->value->pos)
				: canon_object_with(c, p->value, sub, depends_schema, "depends_on");

		if (!e)
			continue;
		depends_defaults(e);
		node_map_set_at(out, p->key, p->kpos, e);
	}
	return out;
}

/* ---- networks of a service ---- */

static const struct attr service_network_schema[] = {
	{"aliases", c_strlist, NULL},	     {"driver_opts", c_str_map, NULL},
	{"gw_priority", c_int, NULL},	     {"interface_name", c_string, NULL},
	{"ipv4_address", c_ip, NULL},	     {"ipv6_address", c_ip, NULL},
	{"link_local_ips", c_strlist, NULL}, {"mac_address", c_string, NULL},
	{"priority", c_int, NULL},	     {NULL, NULL, NULL},
};

static struct node *c_service_networks(struct canon *c, const struct node *in, const char *path,
				       const struct attr *a)
{
	struct node *out = node_new(NODE_MAP, in->pos);
	size_t i;

	(void)a;
	if (in->kind == NODE_SEQ) {
		for (i = 0; i < in->len; i++) {
			const struct node *it = in->items[i];

			if (!node_is_scalar(it)) {
				_cleanup_free_ char *sub = canon_path_index(path, i);

				canon_error(c, it, sub, "must be a network name");
				continue;
			}
			node_map_set_at(out, it->str, it->pos, node_new_null(it->pos));
		}
		return out;
	}
	if (in->kind != NODE_MAP) {
		node_free(out);
		return canon_error(c, in, path, "must be a list of networks or a mapping");
	}
	for (i = 0; i < in->len; i++) {
		const struct node_pair *p = &in->pairs[i];
		_cleanup_free_ char *sub = canon_path(path, p->key);
		struct node *e = node_is_null(p->value)
					 ? node_new_null(p->value->pos)
					 : canon_object_with(c, p->value, sub,
							     service_network_schema, "network");

		if (e)
			node_map_set_at(out, p->key, p->kpos, e);
	}
	return out;
}

/* ---- healthcheck ---- */

static struct node *c_health_test(struct canon *c, const struct node *in, const char *path,
				  const struct attr *a)
{
	struct node *out;

	if (in->kind == NODE_SCALAR && in->stype == SC_STR) {
		out = node_new(NODE_SEQ, in->pos);
		node_seq_push(out, node_new_str("CMD-SHELL", in->pos));
		node_seq_push(out, node_new_str(in->str, in->pos));
		return out;
	}
	out = c_strlist(c, in, path, a);
	if (out && out->len && strcmp(out->items[0]->str, "CMD") &&
	    strcmp(out->items[0]->str, "CMD-SHELL") && strcmp(out->items[0]->str, "NONE")) {
		node_free(out);
		return canon_error(c, in, path,
				   "must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"");
	}
	return out;
}

/* compose-go's order, which `docker compose config` prints */
static const struct attr healthcheck_schema[] = {
	{"test", c_health_test, NULL},	    {"timeout", c_duration, NULL},
	{"interval", c_duration, NULL},	    {"retries", c_int, NULL},
	{"start_period", c_duration, NULL}, {"start_interval", c_duration, NULL},
	{"disable", c_bool, NULL},	    {NULL, NULL, NULL},
};

static struct node *c_healthcheck(struct canon *c, const struct node *in, const char *path,
				  const struct attr *a)
{
	struct node *out = canon_object_with(c, in, path, healthcheck_schema, "healthcheck");
	struct node *test;

	(void)a;
	if (!out)
		return NULL;
	(void)test;
	return out;
}

/* ---- env_file ---- */

static const struct attr env_file_schema[] = {
	{"path", c_path, NULL},
	{"required", c_bool, NULL},
	{"format", c_string, NULL},
	{NULL, NULL, NULL},
};

static bool env_file_short(struct canon *c, const struct node *it, struct node *out, char **why)
{
	_cleanup_free_ char *abs = canon_resolve_path(c, it->str);
	struct node *e = node_new(NODE_MAP, it->pos);

	(void)why;
	node_map_set(e, "path", node_new_str(abs, it->pos));
	node_seq_push(out, e);
	return true;
}

static bool env_file_finish(struct canon *c, struct node *e, const char *path)
{
	(void)c;
	(void)path;
	if (!node_map_get(e, "required"))
		node_map_set(e, "required", node_new_bool(true, e->pos));
	return true;
}

static const char *const env_file_required[] = {"path", NULL};
static const struct entry_syntax env_file_syntax = {env_file_short, env_file_schema, "env_file",
						    env_file_required, env_file_finish};

static struct node *c_env_file(struct canon *c, const struct node *in, const char *path,
			       const struct attr *a)
{
	struct node *list, *out;

	(void)a;
	if (!node_is_scalar(in))
		return canon_entries(c, in, path, &env_file_syntax);
	list = node_new(NODE_SEQ, in->pos);
	node_seq_push(list, node_copy(in));
	out = canon_entries(c, list, path, &env_file_syntax);
	node_free(list);
	return out;
}

/* ---- secrets and configs of a service ---- */

static const struct attr file_ref_schema[] = {
	{"source", c_string, NULL},	{"target", c_string, NULL},  {"uid", c_scalar_string, NULL},
	{"gid", c_scalar_string, NULL}, {"mode", c_file_mode, NULL}, {NULL, NULL, NULL},
};

static bool file_ref_short(struct canon *c, const struct node *it, struct node *out, char **why)
{
	struct node *e = node_new(NODE_MAP, it->pos);

	(void)c;
	(void)why;
	node_map_set(e, "source", node_new_str(it->str, it->pos));
	node_seq_push(out, e);
	return true;
}

static const char *const file_ref_required[] = {"source", NULL};
static const struct entry_syntax file_ref_syntax = {file_ref_short, file_ref_schema, "reference",
						    file_ref_required, NULL};

static struct node *c_file_refs(struct canon *c, const struct node *in, const char *path,
				const struct attr *a)
{
	(void)a;
	return canon_entries(c, in, path, &file_ref_syntax);
}

/* ---- ulimits ---- */

static const struct attr ulimit_schema[] = {
	{"soft", c_int, NULL},
	{"hard", c_int, NULL},
	{NULL, NULL, NULL},
};

/* A mapping whose values one function converts (NULL: reported and left out). */
static struct node *map_values(struct canon *c, const struct node *in, const char *path,
			       struct node *(*one)(struct canon *c, const struct node *v,
						   const char *sub))
{
	struct node *out;
	size_t i;

	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a mapping");
	out = node_new(NODE_MAP, in->pos);
	for (i = 0; i < in->len; i++) {
		const struct node_pair *p = &in->pairs[i];
		_cleanup_free_ char *sub = canon_path(path, p->key);
		struct node *e = one(c, p->value, sub);

		if (e)
			node_map_append(out, p->key, p->kpos, e);
	}
	return out;
}

static struct node *ulimit_value(struct canon *c, const struct node *v, const char *sub)
{
	struct node *e;

	if (v->kind != NODE_MAP)
		return c_int(c, v, sub, NULL);
	e = canon_object_with(c, v, sub, ulimit_schema, "ulimit");
	if (e && (!node_map_get(e, "soft") || !node_map_get(e, "hard"))) {
		canon_error(c, v, sub, "needs both \"soft\" and \"hard\"");
		node_free(e);
		e = NULL;
	}
	return e;
}

static struct node *c_ulimits(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	(void)a;
	return map_values(c, in, path, ulimit_value);
}

/* ---- extra_hosts: "host=ip" (or "host:ip", or a mapping) → "host=ip" ---- */

static struct node *c_extra_hosts(struct canon *c, const struct node *in, const char *path,
				  const struct attr *a)
{
	struct node *out = node_new(NODE_SEQ, in->pos);
	size_t i;

	(void)a;
	if (in->kind == NODE_MAP) {
		for (i = 0; i < in->len; i++) {
			const struct node *v = in->pairs[i].value;
			_cleanup_free_ char *e = NULL;

			if (!node_is_scalar(v)) {
				_cleanup_free_ char *sub = canon_path(path, in->pairs[i].key);

				canon_error(c, v, sub, "must be an IP address");
				continue;
			}
			e = xasprintf("%s=%s", in->pairs[i].key, v->str);
			node_seq_push(out, node_new_str(e, v->pos));
		}
		return out;
	}
	if (in->kind != NODE_SEQ) {
		node_free(out);
		return canon_error(c, in, path, "must be a list or a mapping");
	}
	for (i = 0; i < in->len; i++) {
		const struct node *it = in->items[i];
		_cleanup_free_ char *sub = canon_path_index(path, i), *e = NULL;
		const char *sep;

		if (!node_is_scalar(it)) {
			canon_error(c, it, sub, "must be a string \"host=ip\"");
			continue;
		}
		sep = strchr(it->str, '=');
		if (!sep)
			sep = strchr(it->str, ':');
		if (!sep || sep == it->str || !sep[1]) {
			canon_error(c, it, sub, "invalid extra host \"%s\": use \"host=ip\"",
				    it->str);
			continue;
		}
		e = xasprintf("%.*s=%s", (int)(sep - it->str), it->str, sep + 1);
		node_seq_push(out, node_new_str(e, it->pos));
	}
	return out;
}

/* ---- build ---- */

static const struct attr build_schema[] = {
	{"context", c_string, NULL},
	{"dockerfile", c_string, NULL},
	{"dockerfile_inline", c_string, NULL},
	{"args", c_env_mapping, NULL},
	{"ssh", c_any, NULL},
	{"labels", c_label_mapping, NULL},
	{"cache_from", c_strlist, NULL},
	{"cache_to", c_strlist, NULL},
	{"no_cache", c_bool, NULL},
	{"additional_contexts", c_label_mapping, NULL},
	{"network", c_string, NULL},
	{"provenance", c_any, NULL},
	{"sbom", c_any, NULL},
	{"pull", c_bool, NULL},
	{"target", c_string, NULL},
	{"shm_size", c_bytes, NULL},
	{"extra_hosts", c_extra_hosts, NULL},
	{"isolation", c_string, NULL},
	{"privileged", c_bool, NULL},
	{"secrets", c_file_refs, NULL},
	{"tags", c_strlist, NULL},
	{"ulimits", c_ulimits, NULL},
	{"platforms", c_strlist, NULL},
	{"entitlements", c_strlist, NULL},
	{NULL, NULL, NULL},
};

static bool is_remote_context(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://") ||
	       str_has_prefix(s, "git://") || str_has_prefix(s, "git@") ||
	       str_has_prefix(s, "github.com/");
}

static struct node *c_build(struct canon *c, const struct node *in, const char *path,
			    const struct attr *a)
{
	struct node *out, *ctx;

	(void)a;
	if (in->kind == NODE_SCALAR && in->stype == SC_STR) {
		out = node_new(NODE_MAP, in->pos);
		node_map_set(out, "context", node_new_str(in->str, in->pos));
	} else {
		out = canon_object_with(c, in, path, build_schema, "build");
		if (!out)
			return NULL;
	}
	ctx = node_map_get(out, "context");
	if (!ctx) {
		ctx = node_new_str(".", in->pos);
		node_map_set(out, "context", ctx);
	}
	if (!is_remote_context(ctx->str)) {
		char *abs = canon_resolve_path(c, ctx->str);

		free(ctx->str);
		ctx->str = abs;
	}
	if (!node_map_get(out, "dockerfile") && !node_map_get(out, "dockerfile_inline"))
		node_map_set(out, "dockerfile", node_new_str("Dockerfile", in->pos));
	/* keep the schema's order after adding defaults */
	struct node *ordered = canon_object_with(c, out, path, build_schema, "build");

	node_free(out);
	return ordered;
}

/* ---- devices: "host[:container[:permissions]]" ---- */

static const struct attr device_schema[] = {
	{"source", c_string, NULL},
	{"target", c_string, NULL},
	{"permissions", c_string, NULL},
	{NULL, NULL, NULL},
};

static bool device_short(struct canon *c, const struct node *it, struct node *out, char **why)
{
	_cleanup_free_ char *s = xstrdup(it->str);
	char *tgt = strchr(s, ':'), *perm = NULL;
	struct node *e;

	(void)c;
	if (tgt) {
		*tgt++ = '\0';
		perm = strchr(tgt, ':');
		if (perm)
			*perm++ = '\0';
	}
	if (!*s || (tgt && !*tgt)) {
		*why = xstrdup("use \"host-path[:container-path[:permissions]]\"");
		return false;
	}
	e = node_new(NODE_MAP, it->pos);
	node_map_set(e, "source", node_new_str(s, it->pos));
	node_map_set(e, "target", node_new_str(tgt ? tgt : s, it->pos));
	node_map_set(e, "permissions", node_new_str(perm ? perm : "rwm", it->pos));
	node_seq_push(out, e);
	return true;
}

static const char *const device_required[] = {"source", NULL};
static const struct entry_syntax device_syntax = {device_short, device_schema, "device",
						  device_required, NULL};

static struct node *c_devices(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	(void)a;
	return canon_entries(c, in, path, &device_syntax);
}

/* ---- extends ---- */

static const struct attr extends_schema[] = {
	{"service", c_string, NULL},
	{"file", c_path, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_extends(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	struct node *out;

	(void)a;
	if (in->kind == NODE_SCALAR && in->stype == SC_STR) {
		out = node_new(NODE_MAP, in->pos);
		node_map_set(out, "service", node_new_str(in->str, in->pos));
		return out;
	}
	out = canon_object_with(c, in, path, extends_schema, "extends");
	if (out && !node_map_get(out, "service")) {
		canon_error(c, in, path, "needs a \"service\"");
		node_free(out);
		return NULL;
	}
	return out;
}

/* ---- deploy, logging and smaller objects ---- */

static struct node *c_cpus(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a);

static const struct attr resource_schema[] = {
	{"cpus", c_cpus, NULL},	  {"memory", c_bytes, NULL},	      {"pids", c_int, NULL},
	{"devices", c_any, NULL}, {"generic_resources", c_any, NULL}, {NULL, NULL, NULL},
};

static const struct attr resources_schema[] = {
	{"limits", c_object, resource_schema},
	{"reservations", c_object, resource_schema},
	{NULL, NULL, NULL},
};

static const struct attr restart_policy_schema[] = {
	{"condition", c_string, NULL}, {"delay", c_duration, NULL}, {"max_attempts", c_int, NULL},
	{"window", c_duration, NULL},  {NULL, NULL, NULL},
};

static const struct attr deploy_schema[] = {
	{"mode", c_string, NULL},
	{"replicas", c_int, NULL},
	{"labels", c_label_mapping, NULL},
	{"update_config", c_any, NULL},
	{"rollback_config", c_any, NULL},
	{"resources", c_object, resources_schema},
	{"restart_policy", c_object, restart_policy_schema},
	{"placement", c_any, NULL},
	{"endpoint_mode", c_string, NULL},
	{NULL, NULL, NULL},
};

static const struct attr logging_schema[] = {
	{"driver", c_string, NULL},
	{"options", c_label_mapping, NULL},
	{NULL, NULL, NULL},
};

static const struct attr credential_spec_schema[] = {
	{"config", c_string, NULL},
	{"file", c_string, NULL},
	{"registry", c_string, NULL},
	{NULL, NULL, NULL},
};

static struct node *c_restart(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	const char *s;
	char *end;

	if (!node_is_scalar(in) || in->stype != SC_STR)
		return canon_error(c, in, path, "must be a string");
	s = in->str;
	if (!strcmp(s, "no") || !strcmp(s, "always") || !strcmp(s, "unless-stopped") ||
	    !strcmp(s, "on-failure"))
		return c_string(c, in, path, a);
	if (str_has_prefix(s, "on-failure:") && isdigit((unsigned char)s[11])) {
		strtol(s + 11, &end, 10);
		if (!*end)
			return c_string(c, in, path, a);
	}
	return canon_error(c, in, path,
			   "invalid restart policy \"%s\" (no, always, on-failure[:N] or "
			   "unless-stopped)",
			   s);
}

static struct node *c_pull_policy(struct canon *c, const struct node *in, const char *path,
				  const struct attr *a)
{
	static const char *const ok[] = {"always",	   "never",   "missing",
					 "if_not_present", "build",   "daily",
					 "weekly",	   "refresh", NULL};
	const char *const *p;

	if (!node_is_scalar(in))
		return canon_error(c, in, path, "must be a string");
	for (p = ok; *p && strcmp(*p, in->str); p++)
		;
	if (!*p && !str_has_prefix(in->str, "every_"))
		return canon_error(c, in, path,
				   "invalid pull policy \"%s\" (always, never, missing, build, "
				   "daily, weekly or every_<duration>)",
				   in->str);
	if (!strcmp(in->str, "if_not_present"))
		return node_new_str("missing", in->pos);
	return c_string(c, in, path, a);
}

/* "port[-port][/protocol]" */
static struct node *c_expose(struct canon *c, const struct node *in, const char *path,
			     const struct attr *a)
{
	struct node *out = c_strlist(c, in, path, a);
	size_t i = 0;

	while (out && i < out->len) {
		_cleanup_free_ char *s = xstrdup(out->items[i]->str);
		char *slash = strchr(s, '/');
		long lo, hi;

		if (slash)
			*slash = '\0';
		if (parse_port_range(s, &lo, &hi) && lo > 0 &&
		    (!slash || !strcmp(slash + 1, "tcp") || !strcmp(slash + 1, "udp") ||
		     !strcmp(slash + 1, "sctp"))) {
			i++;
			continue;
		}
		_cleanup_free_ char *sub = canon_path_index(path, i);

		canon_error(c, out->items[i], sub, "invalid port \"%s\"", out->items[i]->str);
		node_free(out->items[i]);
		memmove(out->items + i, out->items + i + 1,
			(out->len - i - 1) * sizeof(*out->items));
		out->len--;
	}
	return out;
}

static struct node *c_cpus(struct canon *c, const struct node *in, const char *path,
			   const struct attr *a)
{
	return c_float(c, in, path, a);
}

static struct node *c_memswap(struct canon *c, const struct node *in, const char *path,
			      const struct attr *a)
{
	long long v;

	if (node_as_int(in, &v) && v == -1)
		return node_new_str("-1", in->pos);
	return c_bytes(c, in, path, a);
}

static struct node *c_scale(struct canon *c, const struct node *in, const char *path,
			    const struct attr *a)
{
	struct node *n = c_int(c, in, path, a);
	long long v;

	if (n && node_as_int(n, &v) && v < 0) {
		node_free(n);
		return canon_error(c, in, path, "must not be negative");
	}
	return n;
}

/* ---- models and provider ---- */

static const struct attr service_model_schema[] = {
	{"endpoint_var", c_string, NULL},
	{"model_var", c_string, NULL},
	{NULL, NULL, NULL},
};

static struct node *service_model_value(struct canon *c, const struct node *v, const char *sub)
{
	if (node_is_null(v))
		return node_new_null(v->pos);
	return canon_object_with(c, v, sub, service_model_schema, "model");
}

/* The models a service uses: a list of names, or names mapped to null or to the
 * variables that tell the service where the model is. Canonically the mapping. */
static struct node *c_service_models(struct canon *c, const struct node *in, const char *path,
				     const struct attr *a)
{
	struct node *out;
	size_t i;

	(void)a;
	if (in->kind == NODE_SEQ) {
		out = node_new(NODE_MAP, in->pos);
		for (i = 0; i < in->len; i++) {
			const struct node *it = in->items[i];

			if (!node_is_scalar(it) || it->stype != SC_STR) {
				_cleanup_free_ char *sub = canon_path_index(path, i);

				canon_error(c, it, sub, "must be a string");
			} else if (!node_map_get(out, it->str)) {
				node_map_append(out, it->str, it->pos, node_new_null(it->pos));
			}
		}
		return out;
	}
	if (in->kind != NODE_MAP)
		return canon_error(c, in, path, "must be a list or a mapping");
	return map_values(c, in, path, service_model_value);
}

/* A provider's option: a scalar or a list of scalars; canonically a list of strings,
 * as Compose prints it. */
static struct node *provider_option(struct canon *c, const struct node *v, const char *sub)
{
	struct node *list = node_new(NODE_SEQ, v->pos);
	size_t k;

	if (node_is_scalar(v)) {
		node_seq_push(list, node_new_str(v->str, v->pos));
	} else if (v->kind == NODE_SEQ) {
		for (k = 0; k < v->len; k++) {
			_cleanup_free_ char *item = NULL;

			if (node_is_scalar(v->items[k])) {
				node_seq_push(list,
					      node_new_str(v->items[k]->str, v->items[k]->pos));
				continue;
			}
			item = canon_path_index(sub, k);
			canon_error(c, v->items[k], item,
				    "must be a string, a number or a boolean");
		}
	} else {
		canon_error(c, v, sub, "must be a string, a number, a boolean or a list");
	}
	return list;
}

static struct node *c_provider_options(struct canon *c, const struct node *in, const char *path,
				       const struct attr *a)
{
	(void)a;
	return map_values(c, in, path, provider_option);
}

static const struct attr provider_schema[] = {
	{"type", c_string, NULL},
	{"options", c_provider_options, NULL},
	{NULL, NULL, NULL},
};

/* A service that an external provider runs (type: model, ...): Compose neither pulls
 * nor builds it, so it needs no image. */
static struct node *c_provider(struct canon *c, const struct node *in, const char *path,
			       const struct attr *a)
{
	struct node *out = canon_object_with(c, in, path, provider_schema, "provider");

	(void)a;
	if (out && !node_map_get(in, "type")) {
		canon_error(c, in, path, "needs a \"type\"");
		node_free(out);
		return NULL;
	}
	return out;
}

const struct attr service_schema[] = {
	{"annotations", c_label_mapping, NULL},
	{"attach", c_bool, NULL},
	{"blkio_config", c_any, NULL},
	{"build", c_build, NULL},
	{"cap_add", c_strlist, NULL},
	{"cap_drop", c_strlist, NULL},
	{"cgroup", c_string, NULL},
	{"cgroup_parent", c_string, NULL},
	{"command", c_command, NULL},
	{"configs", c_file_refs, NULL},
	{"container_name", c_string, NULL},
	{"cpu_count", c_int, NULL},
	{"cpu_percent", c_int, NULL},
	{"cpu_period", c_int, NULL},
	{"cpu_quota", c_int, NULL},
	{"cpu_rt_period", c_int, NULL},
	{"cpu_rt_runtime", c_int, NULL},
	{"cpu_shares", c_int, NULL},
	{"cpus", c_cpus, NULL},
	{"cpuset", c_string, NULL},
	{"credential_spec", c_object, credential_spec_schema},
	{"depends_on", c_depends_on, NULL},
	{"deploy", c_object, deploy_schema},
	{"develop", c_any, NULL},
	{"device_cgroup_rules", c_strlist, NULL},
	{"devices", c_devices, NULL},
	{"dns", c_str_or_list, NULL},
	{"dns_opt", c_strlist, NULL},
	{"dns_search", c_str_or_list, NULL},
	{"domainname", c_string, NULL},
	{"entrypoint", c_command, NULL},
	{"env_file", c_env_file, NULL},
	{"environment", c_env_mapping, NULL},
	{"expose", c_expose, NULL},
	{"extends", c_extends, NULL},
	{"external_links", c_strlist, NULL},
	{"extra_hosts", c_extra_hosts, NULL},
	{"gpus", c_any, NULL},
	{"group_add", c_strlist, NULL},
	{"healthcheck", c_healthcheck, NULL},
	{"hostname", c_string, NULL},
	{"image", c_string, NULL},
	{"init", c_bool, NULL},
	{"ipc", c_string, NULL},
	{"isolation", c_string, NULL},
	{"label_file", c_str_or_list, NULL},
	{"labels", c_label_mapping, NULL},
	{"links", c_strlist, NULL},
	{"logging", c_object, logging_schema},
	{"mac_address", c_string, NULL},
	{"mem_limit", c_bytes, NULL},
	{"mem_reservation", c_bytes, NULL},
	{"mem_swappiness", c_int, NULL},
	{"memswap_limit", c_memswap, NULL},
	{"models", c_service_models, NULL},
	{"network_mode", c_string, NULL},
	{"networks", c_service_networks, NULL},
	{"oom_kill_disable", c_bool, NULL},
	{"oom_score_adj", c_int, NULL},
	{"pid", c_string, NULL},
	{"pids_limit", c_int, NULL},
	{"platform", c_string, NULL},
	{"ports", c_ports, NULL},
	{"post_start", c_any, NULL},
	{"pre_stop", c_any, NULL},
	{"privileged", c_bool, NULL},
	{"profiles", c_strlist, NULL},
	{"provider", c_provider, NULL},
	{"pull_policy", c_pull_policy, NULL},
	{"read_only", c_bool, NULL},
	{"restart", c_restart, NULL},
	{"runtime", c_string, NULL},
	{"scale", c_scale, NULL},
	{"secrets", c_file_refs, NULL},
	{"security_opt", c_strlist, NULL},
	{"shm_size", c_bytes, NULL},
	{"stdin_open", c_bool, NULL},
	{"stop_grace_period", c_duration, NULL},
	{"stop_signal", c_string, NULL},
	{"storage_opt", c_label_mapping, NULL},
	{"sysctls", c_label_mapping, NULL},
	{"tmpfs", c_str_or_list, NULL},
	{"tty", c_bool, NULL},
	{"ulimits", c_ulimits, NULL},
	{"user", c_string, NULL},
	{"userns_mode", c_string, NULL},
	{"uts", c_string, NULL},
	{"volumes", c_volumes, NULL},
	{"volumes_from", c_strlist, NULL},
	{"working_dir", c_string, NULL},
	{NULL, NULL, NULL},
};

struct node *canon_service(struct canon *c, const struct node *in, const char *path)
{
	return canon_object_with(c, in, path, service_schema, "service");
}

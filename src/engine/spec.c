/* struct engine_spec: defaults, deep copy, release, and the JSON form read by
 * `stack runtime run --spec` (json-c). JSON keys follow the Compose names. */
#include "engine/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>

#include "util/bytes.h"
#include "util/cleanup.h"
#include "util/str.h"

void engine_spec_init(struct engine_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->stdio[0] = s->stdio[1] = s->stdio[2] = -1;
}

static char **strv_copy(char **v)
{
	size_t n = 0, i;
	char **out;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void strv_free(char **v)
{
	char **p;

	for (p = v; p && *p; p++)
		free(*p);
	free(v);
}

static char *dup0(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static struct engine_kv *kv_copy(const struct engine_kv *kv, size_t n)
{
	struct engine_kv *out = n ? xcalloc(n, sizeof(*out)) : NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		out[i].key = xstrdup(kv[i].key);
		out[i].value = xstrdup(kv[i].value);
	}
	return out;
}

static void kv_free(struct engine_kv *kv, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void engine_spec_copy(struct engine_spec *d, const struct engine_spec *s)
{
	size_t i;

	*d = *s;
	d->id = dup0(s->id);
	d->state_dir = dup0(s->state_dir);
	d->upper_dir = dup0(s->upper_dir);
	d->cgroup_parent = dup0(s->cgroup_parent);
	d->cache_dir = dup0(s->cache_dir);
	d->layers = s->nlayers ? xcalloc(s->nlayers, sizeof(char *)) : NULL;
	for (i = 0; i < s->nlayers; i++)
		d->layers[i] = xstrdup(s->layers[i]);
	d->rootfs = dup0(s->rootfs);
	d->mounts = s->nmounts ? xcalloc(s->nmounts, sizeof(*d->mounts)) : NULL;
	for (i = 0; i < s->nmounts; i++) {
		d->mounts[i] = s->mounts[i];
		d->mounts[i].source = dup0(s->mounts[i].source);
		d->mounts[i].target = dup0(s->mounts[i].target);
	}
	d->argv = strv_copy(s->argv);
	d->env = strv_copy(s->env);
	d->workdir = dup0(s->workdir);
	d->user = dup0(s->user);
	d->group_add = strv_copy(s->group_add);
	d->hostname = dup0(s->hostname);
	d->domainname = dup0(s->domainname);
	d->hosts_file = dup0(s->hosts_file);
	d->resolv_conf_file = dup0(s->resolv_conf_file);
	d->extra_hosts = kv_copy(s->extra_hosts, s->nextra_hosts);
	d->dns = strv_copy(s->dns);
	d->dns_search = strv_copy(s->dns_search);
	d->dns_opt = strv_copy(s->dns_opt);
	d->ulimits = s->nulimits ? xcalloc(s->nulimits, sizeof(*d->ulimits)) : NULL;
	if (s->nulimits)
		memcpy(d->ulimits, s->ulimits, s->nulimits * sizeof(*d->ulimits));
	d->sysctls = kv_copy(s->sysctls, s->nsysctls);
	d->cap_add = strv_copy(s->cap_add);
	d->cap_drop = strv_copy(s->cap_drop);
	d->devices = strv_copy(s->devices);
	d->seccomp = dup0(s->seccomp);
	d->init_path = dup0(s->init_path);
	d->netns = dup0(s->netns);
	d->res.cpuset_cpus = dup0(s->res.cpuset_cpus);
	d->res.cpuset_mems = dup0(s->res.cpuset_mems);
}

void engine_spec_release(struct engine_spec *s)
{
	size_t i;

	free(s->id);
	free(s->state_dir);
	free(s->upper_dir);
	free(s->cgroup_parent);
	free(s->cache_dir);
	for (i = 0; i < s->nlayers; i++)
		free(s->layers[i]);
	free(s->layers);
	free(s->rootfs);
	for (i = 0; i < s->nmounts; i++) {
		free(s->mounts[i].source);
		free(s->mounts[i].target);
	}
	free(s->mounts);
	strv_free(s->argv);
	strv_free(s->env);
	free(s->workdir);
	free(s->user);
	strv_free(s->group_add);
	free(s->hostname);
	free(s->domainname);
	free(s->hosts_file);
	free(s->resolv_conf_file);
	kv_free(s->extra_hosts, s->nextra_hosts);
	strv_free(s->dns);
	strv_free(s->dns_search);
	strv_free(s->dns_opt);
	free(s->ulimits);
	kv_free(s->sysctls, s->nsysctls);
	strv_free(s->cap_add);
	strv_free(s->cap_drop);
	strv_free(s->devices);
	free(s->seccomp);
	free(s->init_path);
	free(s->netns);
	free(s->res.cpuset_cpus);
	free(s->res.cpuset_mems);
	engine_spec_init(s);
}

/* --- JSON --- */

static int get_strv(struct json_object *o, const char *key, char ***out, struct stk_err *err)
{
	struct json_object *v;
	size_t i, n;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		strv_free(*out);
		*out = xcalloc(2, sizeof(char *));
		(*out)[0] = xstrdup(json_object_get_string(v));
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return stk_err_set(err, EINVAL, "%s must be a list of strings", key);
	n = json_object_array_length(v);
	strv_free(*out);
	*out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		(*out)[i] = xstrdup(json_object_get_string(json_object_array_get_idx(v, i)));
	return 0;
}

static void get_str(struct json_object *o, const char *key, char **out)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && !json_object_is_type(v, json_type_null)) {
		free(*out);
		*out = xstrdup(json_object_get_string(v));
	}
}

static void get_bool(struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v))
		*out = json_object_get_boolean(v);
}

/* Numbers, or Compose byte strings: "64m", "1g", "512k", "100" (util/bytes.h). */
static int get_bytes(struct json_object *o, const char *key, int64_t *out, struct stk_err *err)
{
	struct json_object *v;
	const char *s;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string)) {
		*out = json_object_get_int64(v);
		return 0;
	}
	s = json_object_get_string(v);
	return stk_parse_bytes(s, key, out, err);
}

static const struct {
	const char *name;
	int res;
} rlimit_names[] = {
	{"core", RLIMIT_CORE},	       {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},	       {"fsize", RLIMIT_FSIZE},
	{"locks", RLIMIT_LOCKS},       {"memlock", RLIMIT_MEMLOCK},
	{"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},     {"nproc", RLIMIT_NPROC},
	{"rss", RLIMIT_RSS},	       {"rtprio", RLIMIT_RTPRIO},
	{"rttime", RLIMIT_RTTIME},     {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},       {"as", RLIMIT_AS},
};

int engine_rlimit_by_name(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].res;
	return -1;
}

static int get_ulimits(struct json_object *o, struct engine_spec *s, struct stk_err *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, "ulimits", &v))
		return 0;
	json_object_object_foreach(v, name, val)
	{
		struct engine_ulimit u = {engine_rlimit_by_name(name), 0, 0};

		if (u.resource < 0)
			return stk_err_set(err, EINVAL, "unknown ulimit \"%s\"", name);
		if (json_object_is_type(val, json_type_object)) {
			struct json_object *x;

			if (json_object_object_get_ex(val, "soft", &x))
				u.soft = (uint64_t)json_object_get_int64(x);
			if (json_object_object_get_ex(val, "hard", &x))
				u.hard = (uint64_t)json_object_get_int64(x);
		} else {
			u.soft = u.hard = (uint64_t)json_object_get_int64(val);
		}
		s->ulimits = xrealloc(s->ulimits, (s->nulimits + 1) * sizeof(*s->ulimits));
		s->ulimits[s->nulimits++] = u;
	}
	return 0;
}

static void get_map(struct json_object *o, const char *key, struct engine_kv **kv, size_t *n)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
		return;
	json_object_object_foreach(v, k, val)
	{
		*kv = xrealloc(*kv, (*n + 1) * sizeof(**kv));
		(*kv)[*n].key = xstrdup(k);
		(*kv)[(*n)++].value = xstrdup(json_object_get_string(val));
	}
}

unsigned long engine_propagation_by_name(const char *p)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} t[] = {
		{"private", MS_PRIVATE}, {"rprivate", MS_REC | MS_PRIVATE},
		{"shared", MS_SHARED},	 {"rshared", MS_REC | MS_SHARED},
		{"slave", MS_SLAVE},	 {"rslave", MS_REC | MS_SLAVE},
	};
	size_t i;

	for (i = 0; p && i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(p, t[i].name) == 0)
			return t[i].flags;
	return 0;
}

static int get_mounts(struct json_object *o, struct engine_spec *s, struct stk_err *err)
{
	struct json_object *v;
	size_t i;

	if (!json_object_object_get_ex(o, "mounts", &v))
		return 0;
	for (i = 0; i < json_object_array_length(v); i++) {
		struct json_object *m = json_object_array_get_idx(v, i);
		struct engine_mount em = {0};
		char *type = NULL, *prop = NULL;
		int64_t size = 0, mode = 0;
		int rc;

		get_str(m, "type", &type);
		get_str(m, "source", &em.source);
		get_str(m, "target", &em.target);
		get_str(m, "propagation", &prop);
		get_bool(m, "read_only", &em.read_only);
		get_bool(m, "create_host_path", &em.create_host_path);
		rc = get_bytes(m, "tmpfs_size", &size, err) < 0 ||
				     get_bytes(m, "tmpfs_mode", &mode, err) < 0
			     ? -1
			     : 0;
		em.tmpfs_size = (uint64_t)size;
		em.tmpfs_mode = (unsigned)mode;
		em.propagation = engine_propagation_by_name(prop);
		em.type = !type || strcmp(type, "bind") == 0 ? ENGINE_MOUNT_BIND
			  : strcmp(type, "volume") == 0	     ? ENGINE_MOUNT_VOLUME
							     : ENGINE_MOUNT_TMPFS;
		if (rc == 0 && type && strcmp(type, "bind") && strcmp(type, "volume") &&
		    strcmp(type, "tmpfs"))
			rc = stk_err_set(err, EINVAL,
					 "mount type \"%s\" is not bind, volume or tmpfs", type);
		if (rc == 0 && (!em.target || (em.type != ENGINE_MOUNT_TMPFS && !em.source)))
			rc = stk_err_set(err, EINVAL, "mount needs a source and a target");
		free(type);
		free(prop);
		if (rc < 0) {
			free(em.source);
			free(em.target);
			return -1;
		}
		s->mounts = xrealloc(s->mounts, (s->nmounts + 1) * sizeof(*s->mounts));
		s->mounts[s->nmounts++] = em;
	}
	return 0;
}

static void get_security_opt(struct json_object *o, struct engine_spec *s)
{
	_cleanup_free_ char **opts = NULL;
	char **p;

	struct stk_err ignored;

	get_strv(o, "security_opt", &opts, &ignored);
	for (p = opts; p && *p; p++) {
		if (strcmp(*p, "no-new-privileges") == 0 ||
		    strcmp(*p, "no-new-privileges:true") == 0 ||
		    strcmp(*p, "no-new-privileges=true") == 0)
			s->no_new_privs = true;
		else if (str_has_prefix(*p, "seccomp=") || str_has_prefix(*p, "seccomp:")) {
			free(s->seccomp);
			s->seccomp = xstrdup(*p + 8);
		}
		free(*p);
	}
}

static int get_resources(struct json_object *o, struct engine_spec *s, struct stk_err *err)
{
	struct engine_resources *r = &s->res;
	struct json_object *v;
	int64_t shm = 0, period = 0, shares = 0;

	if (get_bytes(o, "mem_limit", &r->memory, err) < 0 ||
	    get_bytes(o, "memswap_limit", &r->memory_swap, err) < 0 ||
	    get_bytes(o, "mem_reservation", &r->memory_reservation, err) < 0 ||
	    get_bytes(o, "shm_size", &shm, err) < 0 ||
	    get_bytes(o, "cpu_period", &period, err) < 0 ||
	    get_bytes(o, "cpu_quota", &r->cpu_quota, err) < 0 ||
	    get_bytes(o, "cpu_shares", &shares, err) < 0 ||
	    get_bytes(o, "pids_limit", &r->pids_limit, err) < 0)
		return -1;
	s->shm_size = (uint64_t)shm;
	r->cpu_period = (uint64_t)period;
	r->cpu_shares = (uint64_t)shares;
	/* cpus: 1.5 means 150000us of every 100000us period. */
	if (json_object_object_get_ex(o, "cpus", &v)) {
		double cpus = json_object_get_double(v);

		if (!r->cpu_period)
			r->cpu_period = 100000;
		r->cpu_quota = (int64_t)(cpus * (double)r->cpu_period);
	}
	get_str(o, "cpuset", &r->cpuset_cpus);
	get_str(o, "cpuset_mems", &r->cpuset_mems);
	return 0;
}

int engine_spec_from_json(struct engine_spec *s, struct json_object *o, struct stk_err *err)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object))
		return stk_err_set(err, EINVAL, "spec must be a JSON object");
	get_str(o, "id", &s->id);
	get_str(o, "state_dir", &s->state_dir);
	get_str(o, "cgroup_parent", &s->cgroup_parent);
	get_str(o, "rootfs", &s->rootfs);
	if (json_object_object_get_ex(o, "layers", &v)) {
		char **layers = NULL;
		size_t n = 0;

		if (get_strv(o, "layers", &layers, err) < 0)
			return -1;
		while (layers[n])
			n++;
		s->layers = layers;
		s->nlayers = n;
	}
	get_bool(o, "read_only", &s->read_only);
	if (get_strv(o, "command", &s->argv, err) < 0 ||
	    get_strv(o, "environment", &s->env, err) < 0 ||
	    get_strv(o, "group_add", &s->group_add, err) < 0 ||
	    get_strv(o, "dns", &s->dns, err) < 0 ||
	    get_strv(o, "dns_search", &s->dns_search, err) < 0 ||
	    get_strv(o, "dns_opt", &s->dns_opt, err) < 0 ||
	    get_strv(o, "cap_add", &s->cap_add, err) < 0 ||
	    get_strv(o, "cap_drop", &s->cap_drop, err) < 0 ||
	    get_strv(o, "devices", &s->devices, err) < 0)
		return -1;
	get_str(o, "working_dir", &s->workdir);
	get_str(o, "user", &s->user);
	get_str(o, "hostname", &s->hostname);
	get_str(o, "domainname", &s->domainname);
	get_map(o, "extra_hosts", &s->extra_hosts, &s->nextra_hosts);
	get_map(o, "sysctls", &s->sysctls, &s->nsysctls);
	if (get_ulimits(o, s, err) < 0 || get_mounts(o, s, err) < 0 || get_resources(o, s, err) < 0)
		return -1;
	if (json_object_object_get_ex(o, "oom_score_adj", &v)) {
		s->oom_score_adj = json_object_get_int(v);
		s->set_oom_score_adj = true;
	}
	get_bool(o, "tty", &s->tty);
	get_bool(o, "privileged", &s->privileged);
	get_bool(o, "init", &s->init);
	get_str(o, "init_path", &s->init_path);
	get_str(o, "network_namespace", &s->netns);
	get_str(o, "seccomp", &s->seccomp);
	get_security_opt(o, s);
	return 0;
}

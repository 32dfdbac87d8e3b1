/* Canonical tree → typed model. The tree is valid and in long form here, so decoding
 * is mechanical: each canonical attribute to its field. */
#include <stdlib.h>
#include <string.h>

#include "compose/canon.h"
#include "compose/compose.h"
#include "compose/internal.h"
#include "util/str.h"

static char *dup_str(const struct node *n)
{
	return node_is_scalar(n) ? xstrdup(n->str) : NULL;
}

static bool get_bool(const struct node *map, const char *key)
{
	bool v = false;

	node_as_bool(node_map_get(map, key), &v);
	return v;
}

static long long get_int(const struct node *map, const char *key, long long dflt)
{
	long long v;

	return node_as_int(node_map_get(map, key), &v) ? v : dflt;
}

static long long get_duration(const struct node *map, const char *key, long long dflt)
{
	const struct node *n = node_map_get(map, key);
	long long v;

	return node_is_scalar(n) && compose_parse_duration(n->str, &v) ? v : dflt;
}

static long long get_bytes(const struct node *map, const char *key)
{
	const struct node *n = node_map_get(map, key);
	long long v;

	return node_as_int(n, &v) ? v : 0;
}

static double get_float(const struct node *map, const char *key)
{
	double v;

	return node_as_float(node_map_get(map, key), &v) ? v : 0;
}

static void decode_strv(const struct node *n, struct compose_strv *out)
{
	size_t i;

	if (!n || n->kind != NODE_SEQ)
		return;
	out->v = xcalloc(n->len, sizeof(*out->v));
	for (i = 0; i < n->len; i++)
		out->v[i] = xstrdup(n->items[i]->str);
	out->n = n->len;
}

static void decode_kvs(const struct node *n, struct compose_kvs *out)
{
	size_t i;

	if (!n || n->kind != NODE_MAP)
		return;
	out->v = xcalloc(n->len, sizeof(*out->v));
	for (i = 0; i < n->len; i++) {
		out->v[i].key = xstrdup(n->pairs[i].key);
		out->v[i].value = dup_str(n->pairs[i].value);
	}
	out->n = n->len;
}

static void decode_ports(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->ports = xcalloc(n->len, sizeof(*s->ports));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->items[i];
		struct compose_port *p = &s->ports[i];

		p->name = dup_str(node_map_get(e, "name"));
		p->host_ip = dup_str(node_map_get(e, "host_ip"));
		p->target = (unsigned)get_int(e, "target", 0);
		p->published = dup_str(node_map_get(e, "published"));
		p->protocol = dup_str(node_map_get(e, "protocol"));
		if (!p->protocol)
			p->protocol = xstrdup("tcp");
		p->mode = dup_str(node_map_get(e, "mode"));
		p->app_protocol = dup_str(node_map_get(e, "app_protocol"));
	}
	s->nports = n->len;
}

static void decode_mounts(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->volumes = xcalloc(n->len, sizeof(*s->volumes));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->items[i];
		const struct node *bind = node_map_get(e, "bind");
		const struct node *vol = node_map_get(e, "volume");
		const struct node *tmpfs = node_map_get(e, "tmpfs");
		struct compose_mount *m = &s->volumes[i];

		m->type = dup_str(node_map_get(e, "type"));
		m->source = dup_str(node_map_get(e, "source"));
		m->target = dup_str(node_map_get(e, "target"));
		m->read_only = get_bool(e, "read_only");
		m->consistency = dup_str(node_map_get(e, "consistency"));
		m->bind_create_host_path = get_bool(bind, "create_host_path");
		m->bind_propagation = dup_str(node_map_get(bind, "propagation"));
		m->bind_selinux = dup_str(node_map_get(bind, "selinux"));
		m->volume_nocopy = get_bool(vol, "nocopy");
		m->volume_subpath = dup_str(node_map_get(vol, "subpath"));
		m->tmpfs_size = get_bytes(tmpfs, "size");
		m->tmpfs_mode = (int)get_int(tmpfs, "mode", -1);
	}
	s->nvolumes = n->len;
}

static void decode_depends(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->depends_on = xcalloc(n->len, sizeof(*s->depends_on));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->pairs[i].value;
		struct compose_depend *d = &s->depends_on[i];

		d->service = xstrdup(n->pairs[i].key);
		d->condition = dup_str(node_map_get(e, "condition"));
		d->restart = get_bool(e, "restart");
		d->required = node_map_get(e, "required") ? get_bool(e, "required") : true;
	}
	s->ndepends_on = n->len;
}

static void decode_networks(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->networks = xcalloc(n->len, sizeof(*s->networks));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->pairs[i].value;
		struct compose_service_network *sn = &s->networks[i];

		sn->name = xstrdup(n->pairs[i].key);
		decode_strv(node_map_get(e, "aliases"), &sn->aliases);
		sn->ipv4_address = dup_str(node_map_get(e, "ipv4_address"));
		sn->ipv6_address = dup_str(node_map_get(e, "ipv6_address"));
		sn->mac_address = dup_str(node_map_get(e, "mac_address"));
		sn->priority = (int)get_int(e, "priority", 0);
	}
	s->nnetworks = n->len;
}

static void decode_healthcheck(const struct node *n, struct compose_healthcheck *h)
{
	h->retries = -1;
	if (!n)
		return;
	h->present = true;
	h->disable = get_bool(n, "disable");
	decode_strv(node_map_get(n, "test"), &h->test);
	h->interval_ns = get_duration(n, "interval", 0);
	h->timeout_ns = get_duration(n, "timeout", 0);
	h->start_period_ns = get_duration(n, "start_period", 0);
	h->start_interval_ns = get_duration(n, "start_interval", 0);
	h->retries = (int)get_int(n, "retries", -1);
}

static void decode_refs(const struct node *n, struct compose_file_ref **out, size_t *count)
{
	size_t i;

	if (!n)
		return;
	*out = xcalloc(n->len, sizeof(**out));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->items[i];

		(*out)[i].source = dup_str(node_map_get(e, "source"));
		(*out)[i].target = dup_str(node_map_get(e, "target"));
		(*out)[i].uid = dup_str(node_map_get(e, "uid"));
		(*out)[i].gid = dup_str(node_map_get(e, "gid"));
		(*out)[i].mode = (int)get_int(e, "mode", -1);
	}
	*count = n->len;
}

static void decode_ulimits(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->ulimits = xcalloc(n->len, sizeof(*s->ulimits));
	for (i = 0; i < n->len; i++) {
		const struct node *e = n->pairs[i].value;
		struct compose_ulimit *u = &s->ulimits[i];

		u->name = xstrdup(n->pairs[i].key);
		if (e->kind == NODE_MAP) {
			u->soft = get_int(e, "soft", 0);
			u->hard = get_int(e, "hard", 0);
		} else {
			node_as_int(e, &u->soft);
			u->hard = u->soft;
		}
	}
	s->nulimits = n->len;
}

static void decode_devices(const struct node *n, struct compose_service *s)
{
	size_t i;

	if (!n)
		return;
	s->devices = xcalloc(n->len, sizeof(*s->devices));
	for (i = 0; i < n->len; i++) {
		s->devices[i].source = dup_str(node_map_get(n->items[i], "source"));
		s->devices[i].target = dup_str(node_map_get(n->items[i], "target"));
		s->devices[i].permissions = dup_str(node_map_get(n->items[i], "permissions"));
	}
	s->ndevices = n->len;
}

static void decode_resources(const struct node *n, struct compose_resources *r)
{
	r->cpus = get_float(n, "cpus");
	r->memory = get_bytes(n, "memory");
	r->pids = get_int(n, "pids", 0);
}

static void decode_service(const char *name, struct node *n, struct compose_service *s)
{
	const struct node *build = node_map_get(n, "build");
	const struct node *deploy = node_map_get(n, "deploy");
	const struct node *res = node_map_get(deploy, "resources");
	const struct node *logging = node_map_get(n, "logging");
	const struct node *cmd = node_map_get(n, "command");
	const struct node *ep = node_map_get(n, "entrypoint");

	s->canonical = n;
	s->name = xstrdup(name);
	s->image = dup_str(node_map_get(n, "image"));
	s->build_context = dup_str(node_map_get(build, "context"));
	s->build_dockerfile = dup_str(node_map_get(build, "dockerfile"));
	decode_kvs(node_map_get(build, "args"), &s->build_args);
	s->has_command = cmd && !node_is_null(cmd);
	decode_strv(cmd, &s->command);
	s->has_entrypoint = ep && !node_is_null(ep);
	decode_strv(ep, &s->entrypoint);
	decode_kvs(node_map_get(n, "environment"), &s->environment);
	decode_kvs(node_map_get(n, "labels"), &s->labels);
	decode_ports(node_map_get(n, "ports"), s);
	decode_strv(node_map_get(n, "expose"), &s->expose);
	decode_mounts(node_map_get(n, "volumes"), s);
	decode_strv(node_map_get(n, "volumes_from"), &s->volumes_from);
	decode_depends(node_map_get(n, "depends_on"), s);
	decode_networks(node_map_get(n, "networks"), s);
	s->network_mode = dup_str(node_map_get(n, "network_mode"));
	decode_healthcheck(node_map_get(n, "healthcheck"), &s->healthcheck);
	decode_ulimits(node_map_get(n, "ulimits"), s);
	decode_refs(node_map_get(n, "secrets"), &s->secrets, &s->nsecrets);
	decode_refs(node_map_get(n, "configs"), &s->configs, &s->nconfigs);
	decode_devices(node_map_get(n, "devices"), s);
	decode_strv(node_map_get(n, "tmpfs"), &s->tmpfs);
	decode_strv(node_map_get(n, "dns"), &s->dns);
	decode_strv(node_map_get(n, "dns_search"), &s->dns_search);
	decode_strv(node_map_get(n, "dns_opt"), &s->dns_opt);
	decode_strv(node_map_get(n, "extra_hosts"), &s->extra_hosts);
	decode_kvs(node_map_get(n, "sysctls"), &s->sysctls);
	decode_strv(node_map_get(n, "cap_add"), &s->cap_add);
	decode_strv(node_map_get(n, "cap_drop"), &s->cap_drop);
	decode_strv(node_map_get(n, "security_opt"), &s->security_opt);
	decode_strv(node_map_get(n, "group_add"), &s->group_add);
	decode_strv(node_map_get(n, "profiles"), &s->profiles);
	decode_strv(node_map_get(n, "links"), &s->links);
	s->user = dup_str(node_map_get(n, "user"));
	s->working_dir = dup_str(node_map_get(n, "working_dir"));
	s->hostname = dup_str(node_map_get(n, "hostname"));
	s->domainname = dup_str(node_map_get(n, "domainname"));
	s->container_name = dup_str(node_map_get(n, "container_name"));
	s->restart = dup_str(node_map_get(n, "restart"));
	{
		const struct node *rp = node_map_get(deploy, "restart_policy");

		s->restart_condition = rp ? dup_str(node_map_get(rp, "condition")) : NULL;
		if (rp && !s->restart_condition)
			s->restart_condition = xstrdup("any"); /* the spec's default */
		s->restart_max_attempts = get_int(rp, "max_attempts", 0);
		s->restart_delay_ns = get_duration(rp, "delay", -1);
		s->restart_window_ns = get_duration(rp, "window", -1);
	}
	s->stop_signal = dup_str(node_map_get(n, "stop_signal"));
	s->stop_grace_period_ns = get_duration(n, "stop_grace_period", -1);
	s->ipc = dup_str(node_map_get(n, "ipc"));
	s->pid = dup_str(node_map_get(n, "pid"));
	s->platform = dup_str(node_map_get(n, "platform"));
	s->pull_policy = dup_str(node_map_get(n, "pull_policy"));
	s->read_only = get_bool(n, "read_only");
	s->init = get_bool(n, "init");
	s->tty = get_bool(n, "tty");
	s->stdin_open = get_bool(n, "stdin_open");
	s->privileged = get_bool(n, "privileged");
	s->pids_limit = get_int(n, "pids_limit", 0);
	s->mem_limit = get_bytes(n, "mem_limit");
	s->memswap_limit = get_bytes(n, "memswap_limit");
	s->mem_reservation = get_bytes(n, "mem_reservation");
	s->shm_size = get_bytes(n, "shm_size");
	s->cpus = get_float(n, "cpus");
	s->cpu_shares = get_int(n, "cpu_shares", 0);
	s->cpuset = dup_str(node_map_get(n, "cpuset"));
	s->oom_score_adj = (int)get_int(n, "oom_score_adj", 0);
	s->replicas = (int)get_int(n, "scale", get_int(deploy, "replicas", 1));
	decode_resources(node_map_get(res, "limits"), &s->limits);
	decode_resources(node_map_get(res, "reservations"), &s->reservations);
	s->logging_driver = dup_str(node_map_get(logging, "driver"));
	decode_kvs(node_map_get(logging, "options"), &s->logging_options);
}

static void decode_network(const char *key, const struct node *n, struct compose_network *net)
{
	const struct node *cfg = node_map_get(node_map_get(n, "ipam"), "config");
	size_t i;

	net->key = xstrdup(key);
	net->name = dup_str(node_map_get(n, "name"));
	net->driver = dup_str(node_map_get(n, "driver"));
	net->external = get_bool(n, "external");
	net->internal = get_bool(n, "internal");
	net->attachable = get_bool(n, "attachable");
	net->enable_ipv6 = get_bool(n, "enable_ipv6");
	decode_kvs(node_map_get(n, "driver_opts"), &net->driver_opts);
	decode_kvs(node_map_get(n, "labels"), &net->labels);
	if (!cfg)
		return;
	net->subnets = xcalloc(cfg->len, sizeof(char *));
	net->gateways = xcalloc(cfg->len, sizeof(char *));
	net->ip_ranges = xcalloc(cfg->len, sizeof(char *));
	for (i = 0; i < cfg->len; i++) {
		net->subnets[i] = dup_str(node_map_get(cfg->items[i], "subnet"));
		net->gateways[i] = dup_str(node_map_get(cfg->items[i], "gateway"));
		net->ip_ranges[i] = dup_str(node_map_get(cfg->items[i], "ip_range"));
	}
	net->nipam = cfg->len;
}

static void decode_volume(const char *key, const struct node *n, struct compose_volume *v)
{
	v->key = xstrdup(key);
	v->name = dup_str(node_map_get(n, "name"));
	v->driver = dup_str(node_map_get(n, "driver"));
	v->external = get_bool(n, "external");
	decode_kvs(node_map_get(n, "driver_opts"), &v->driver_opts);
	decode_kvs(node_map_get(n, "labels"), &v->labels);
}

static void decode_secret(const char *key, const struct node *n, struct compose_secret *s)
{
	s->key = xstrdup(key);
	s->name = dup_str(node_map_get(n, "name"));
	s->file = dup_str(node_map_get(n, "file"));
	s->environment = dup_str(node_map_get(n, "environment"));
	s->content = dup_str(node_map_get(n, "content"));
	s->external = get_bool(n, "external");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void compose_decode(struct compose_project *p)
{
	struct node *services = node_map_get(p->tree, "services");
	const struct node *nets = node_map_get(p->tree, "networks");
	const struct node *vols = node_map_get(p->tree, "volumes");
	const struct node *secrets = node_map_get(p->tree, "secrets");
	const struct node *configs = node_map_get(p->tree, "configs");
	size_t i;

	p->nservices = services ? services->len : 0;
	p->services = xcalloc(p->nservices, sizeof(*p->services));
	for (i = 0; i < p->nservices; i++)
		decode_service(services->pairs[i].key, services->pairs[i].value, &p->services[i]);
	if (p->profiles.n > 1)
		qsort(p->profiles.v, p->profiles.n, sizeof(char *), cmp_str);
	p->nnetworks = nets ? nets->len : 0;
	p->networks = xcalloc(p->nnetworks, sizeof(*p->networks));
	for (i = 0; i < p->nnetworks; i++)
		decode_network(nets->pairs[i].key, nets->pairs[i].value, &p->networks[i]);
	p->nvolumes = vols ? vols->len : 0;
	p->volumes = xcalloc(p->nvolumes, sizeof(*p->volumes));
	for (i = 0; i < p->nvolumes; i++)
		decode_volume(vols->pairs[i].key, vols->pairs[i].value, &p->volumes[i]);
	p->nsecrets = secrets ? secrets->len : 0;
	p->secrets = xcalloc(p->nsecrets, sizeof(*p->secrets));
	for (i = 0; i < p->nsecrets; i++)
		decode_secret(secrets->pairs[i].key, secrets->pairs[i].value, &p->secrets[i]);
	p->nconfigs = configs ? configs->len : 0;
	p->configs = xcalloc(p->nconfigs, sizeof(*p->configs));
	for (i = 0; i < p->nconfigs; i++)
		decode_secret(configs->pairs[i].key, configs->pairs[i].value, &p->configs[i]);
}

int compose_service_index(const struct compose_project *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nservices; i++)
		if (strcmp(p->services[i].name, name) == 0)
			return (int)i;
	return -1;
}

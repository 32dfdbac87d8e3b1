/* The networking of `stack runtime run`: the container's network namespace and its
 * /etc/hosts and /etc/resolv.conf, as Docker gives them for each network mode.
 *
 * For project networks the namespace is made here, before the engine creates the
 * container, and the veths go into it; the engine's child then joins it (spec->netns),
 * as podman hands a prepared namespace to its runtime. So the container's process
 * never runs without its addresses, and the namespace outlives a failed start long
 * enough for the detach. */
#include "cli/runtime_net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "net/net.h"
#include "super/super.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

#define HOST_RESOLV_CONF "/etc/resolv.conf"
#define HOST_HOSTS "/etc/hosts"

struct runtime_net {
	struct net_ctx *ctx; /* set once the container may be attached */
	char *container;
	int nsfd;
	char *dir; /* the state directory, if made here */
	char *own_files[2]; /* the files written here, removed on release */
};

enum mode { MODE_NONE, MODE_HOST, MODE_CONTAINER, MODE_SERVICE, MODE_NETWORKS };

/* One --network NET[,alias=A]...[,ip=IP][,ip6=IP6]. */
struct attach_req {
	char *network, *ip, *ip6;
	const char **aliases;
	size_t naliases;
};

static void attach_req_free(struct attach_req *r)
{
	free(r->network);
	free(r->aliases); /* the strings live in network's buffer */
}

static int parse_attach(const char *arg, struct attach_req *r, struct stk_err *err)
{
	char *p, *save = NULL, *tok;

	memset(r, 0, sizeof(*r));
	r->network = xstrdup(arg);
	p = strchr(r->network, ',');
	if (!p)
		return 0;
	*p++ = '\0';
	for (tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (str_has_prefix(tok, "alias=") && tok[6]) {
			r->aliases = xrealloc(r->aliases, (r->naliases + 1) * sizeof(char *));
			r->aliases[r->naliases++] = tok + 6;
		} else if (str_has_prefix(tok, "ip=") && tok[3]) {
			r->ip = tok + 3;
		} else if (str_has_prefix(tok, "ip6=") && tok[4]) {
			r->ip6 = tok + 4;
		} else {
			return stk_err_set(err, EINVAL,
					   "--network %s: unknown option \"%s\" (want "
					   "alias=NAME, ip=ADDRESS or ip6=ADDRESS)",
					   arg, tok);
		}
	}
	return 0;
}

static char *read_line(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char buf[256];

	if (!f || !fgets(buf, sizeof(buf), f))
		return NULL;
	buf[strcspn(buf, "\n")] = '\0';
	return xstrdup(buf);
}

/* container:ID: the other container's namespace, files and hostname, as Docker shares
 * them. */
static int join_container(const struct runtime_net_opts *o, const char *id,
			  struct engine_spec *spec, struct stk_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/containers/%s", o->root, id);
	_cleanup_free_ char *pidfile = xasprintf("%s/pid", dir);
	_cleanup_free_ char *pid = read_line(pidfile);
	_cleanup_free_ char *hostfile = xasprintf("%s/hostname", dir);

	if (!pid)
		return stk_err_set(err, ESRCH,
				   "network_mode container:%s: no such running container", id);
	free(spec->netns);
	spec->netns = xasprintf("/proc/%s/ns/net", pid);
	if (access(spec->netns, F_OK) < 0)
		return stk_err_set(err, ESRCH,
				   "network_mode container:%s: container is not running", id);
	free(spec->hosts_file);
	spec->hosts_file = xasprintf("%s/hosts", dir);
	free(spec->resolv_conf_file);
	spec->resolv_conf_file = xasprintf("%s/resolv.conf", dir);
	if (!spec->hostname)
		spec->hostname = read_line(hostfile);
	return 0;
}

/* service:NAME: the namespace of a running container of that service of the project,
 * found through the project's network record (its endpoints know their service). */
static int join_service(const struct runtime_net_opts *o, const char *service,
			struct engine_spec *spec, struct stk_err *err)
{
	char **ids = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (!o->project)
		return stk_err_set(err, EINVAL, "network_mode service:%s needs --project", service);
	if (net_service_containers(o->root, o->project, service, &ids, &n, err) < 0)
		return stk_err_wrap(err, "network_mode service:%s", service);
	/* A replica that has just exited may still be recorded: take the first that runs. */
	for (i = 0; i < n && rc < 0; i++)
		rc = join_container(o, ids[i], spec, err);
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
	if (rc < 0)
		return stk_err_set(err, ESRCH,
				   "network_mode service:%s: no running container of "
				   "service %s in project %s",
				   service, service, o->project);
	return 0;
}

/* "name:ip" for net_write_hosts from the spec's name -> address map. */
static const char **extra_hosts(const struct engine_spec *spec)
{
	const char **v = xcalloc(spec->nextra_hosts + 1, sizeof(char *));
	size_t i;

	for (i = 0; i < spec->nextra_hosts; i++)
		v[i] = xasprintf("%s:%s", spec->extra_hosts[i].key, spec->extra_hosts[i].value);
	return v;
}

static size_t strv_len(char **v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static int write_files(struct runtime_net *rn, enum mode mode, struct engine_spec *spec,
		       const char *ip, const char *ip6, const char *gateway, struct stk_err *err)
{
	const char **extra = extra_hosts(spec);
	struct net_hosts_spec hs = {
		.hostname = spec->hostname,
		.ip = ip,
		.ip6 = ip6,
		.extra_hosts = extra,
		.nextra = spec->nextra_hosts,
		.host_gateway = gateway		    ? gateway
				: mode == MODE_HOST ? "127.0.0.1"
						    : NULL,
		.base = mode == MODE_HOST ? HOST_HOSTS : NULL,
	};
	struct net_resolv_spec rs = {
		.nameserver = gateway,
		.dns = (const char *const *)spec->dns,
		.ndns = strv_len(spec->dns),
		.search = (const char *const *)spec->dns_search,
		.nsearch = strv_len(spec->dns_search),
		.options = (const char *const *)spec->dns_opt,
		.noptions = strv_len(spec->dns_opt),
		.host_resolv_conf = HOST_RESOLV_CONF,
		.keep_loopback = mode == MODE_HOST,
	};
	size_t i;
	int rc;

	rn->own_files[0] = xasprintf("%s/hosts", spec->state_dir);
	rn->own_files[1] = xasprintf("%s/resolv.conf", spec->state_dir);
	if (access(spec->state_dir, F_OK) < 0)
		rn->dir = xstrdup(spec->state_dir);
	rc = stk_mkdir_p(spec->state_dir, 0700, err);
	if (rc == 0)
		rc = net_write_hosts(rn->own_files[0], &hs, err);
	if (rc == 0)
		rc = net_write_resolv_conf(rn->own_files[1], &rs, err);
	for (i = 0; i < spec->nextra_hosts; i++)
		free((char *)extra[i]);
	free(extra);
	if (rc < 0)
		return -1;
	free(spec->hosts_file);
	spec->hosts_file = xstrdup(rn->own_files[0]);
	free(spec->resolv_conf_file);
	spec->resolv_conf_file = xstrdup(rn->own_files[1]);
	return 0;
}

/* Every --network of the project, in order: eth0, eth1, ...; the first carries the
 * default route and names the DNS server. */
static int attach_all(const struct runtime_net_opts *o, struct runtime_net *rn,
		      struct engine_spec *spec, char ip[16], char ip6[46], char gw[16],
		      struct stk_err *err)
{
	size_t i;
	int rc = 0;

	if (!o->project)
		return stk_err_set(err, EINVAL, "--network %s needs --project", o->networks[0]);
	if (super_netns_new(&rn->nsfd, err) < 0 ||
	    net_open(o->root, o->project, NULL, &rn->ctx, err) < 0)
		return -1;
	for (i = 0; i < o->nnetworks && rc == 0; i++) {
		struct attach_req r;
		char ifname[32], addr[16];
		struct net_endpoint_spec es = {
			.container = rn->container,
			.service = o->service,
			.id = spec->id,
			.hostname = spec->hostname,
			.ifname = ifname,
			.netns_fd = rn->nsfd,
			.default_route = i == 0,
			.ports = i == 0 ? o->ports : NULL,
			.nports = i == 0 ? o->nports : 0,
			.host_ports_out = i == 0 ? o->host_ports_out : NULL,
		};

		snprintf(ifname, sizeof(ifname), "eth%zu", i);
		rc = parse_attach(o->networks[i], &r, err);
		if (rc == 0) {
			es.network = r.network;
			es.ipv4 = r.ip;
			es.ipv6 = r.ip6;
			es.aliases = r.aliases;
			es.naliases = r.naliases;
			rc = net_endpoint_attach(rn->ctx, &es, addr, err);
		}
		if (rc == 0 && i == 0) {
			memcpy(ip, addr, 16);
			rc = net_network_gateway(rn->ctx, r.network, gw, err);
			if (rc == 0)
				rc = net_endpoint_address6(rn->ctx, rn->container, r.network, ip6,
							   err);
		}
		attach_req_free(&r);
	}
	if (rc < 0)
		return -1;
	free(spec->netns);
	spec->netns = xasprintf("/proc/%d/fd/%d", (int)getpid(), rn->nsfd);
	return 0;
}

static int mode_of(const struct runtime_net_opts *o, const char **container_id, struct stk_err *err)
{
	size_t i;
	enum mode m = MODE_NETWORKS;

	if (!o->nnetworks)
		return MODE_NONE;
	for (i = 0; i < o->nnetworks; i++) {
		const char *n = o->networks[i];
		enum mode this = strcmp(n, "none") == 0		   ? MODE_NONE
				 : strcmp(n, "host") == 0	   ? MODE_HOST
				 : str_has_prefix(n, "container:") ? MODE_CONTAINER
				 : str_has_prefix(n, "service:")   ? MODE_SERVICE
								   : MODE_NETWORKS;

		if (this != MODE_NETWORKS && o->nnetworks > 1)
			return stk_err_set(err, EINVAL,
					   "network mode %s cannot be combined with other "
					   "networks",
					   n);
		if (this == MODE_CONTAINER)
			*container_id = n + strlen("container:");
		if (this == MODE_SERVICE)
			*container_id = n + strlen("service:");
		m = this;
	}
	return (int)m;
}

int runtime_net_setup(const struct runtime_net_opts *o, struct engine_spec *spec,
		      struct runtime_net **out, struct stk_err *err)
{
	struct runtime_net *rn = xcalloc(1, sizeof(*rn));
	const char *other = NULL;
	char ip[16] = "", ip6[46] = "", gw[16] = "", host[256];
	int mode = mode_of(o, &other, err);

	rn->nsfd = -1;
	rn->container = xstrdup(o->name ? o->name : spec->id);
	if (mode < 0)
		goto fail;
	if (mode == MODE_CONTAINER || mode == MODE_SERVICE) {
		if ((mode == MODE_CONTAINER ? join_container(o, other, spec, err)
					    : join_service(o, other, spec, err)) < 0)
			goto fail;
		*out = rn;
		return 0;
	}
	if (!spec->hostname && mode == MODE_HOST && gethostname(host, sizeof(host)) == 0)
		spec->hostname = xstrdup(host);
	if (!spec->hostname)
		spec->hostname = xstrndup(spec->id, strnlen(spec->id, 12)); /* as the engine */
	if (mode == MODE_HOST) {
		free(spec->netns);
		spec->netns = xasprintf("/proc/%d/ns/net", (int)getpid());
	}
	if (mode == MODE_NETWORKS && attach_all(o, rn, spec, ip, ip6, gw, err) < 0)
		goto fail;
	if (write_files(rn, (enum mode)mode, spec, *ip ? ip : NULL, ip6, *gw ? gw : NULL, err) < 0)
		goto fail;
	*out = rn;
	return 0;
fail:
	runtime_net_release(rn);
	return -1;
}

void runtime_net_forget(struct runtime_net *rn)
{
	if (!rn)
		return;
	net_close(rn->ctx);
	rn->ctx = NULL;
	free(rn->own_files[0]);
	free(rn->own_files[1]);
	rn->own_files[0] = rn->own_files[1] = NULL;
	free(rn->dir);
	rn->dir = NULL;
	runtime_net_release(rn);
}

void runtime_net_release(struct runtime_net *rn)
{
	struct stk_err err;
	size_t i;

	if (!rn)
		return;
	if (rn->ctx && net_endpoint_detach(rn->ctx, rn->container, &err) < 0)
		fprintf(stderr, "stack: %s\n", err.msg);
	net_close(rn->ctx);
	if (rn->nsfd >= 0)
		close(rn->nsfd);
	for (i = 0; i < 2; i++) {
		/* Gone with the state directory normally; not when the engine never made it. */
		if (rn->own_files[i])
			unlink(rn->own_files[i]);
		free(rn->own_files[i]);
	}
	if (rn->dir)
		rmdir(rn->dir);
	free(rn->dir);
	free(rn->container);
	free(rn);
}

/* The network runtime a supervisor runs on its loop: reads the project's record and
 * keeps a DNS server on each gateway and a loopback proxy for each published port in
 * step with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "net/runtime.h"
#include "util/cleanup.h"
#include "util/str.h"

void net_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = xmalloc(65536);
	buf->len = 65536;
}

void net_rt_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct net_runtime *rt = h->data;

	(void)suggested;
	*buf = uv_buf_init(rt->rbuf, sizeof(rt->rbuf));
}

static void runtime_free(struct net_runtime *rt)
{
	free(rt->root);
	free(rt->project);
	free(rt);
}

void net_rt_handle_opened(struct net_runtime *rt)
{
	rt->handles++;
}

void net_rt_handle_closed(struct net_runtime *rt)
{
	if (--rt->handles == 0 && rt->stopping)
		runtime_free(rt);
}

/* Upstream resolvers: the `nameserver` lines of resolv.conf, IPv4 and IPv6 (a
 * link-local one with its %zone). */
static void read_upstreams(struct net_runtime *rt, const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512], addr[256];

	rt->nupstreams = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && rt->nupstreams < NET_MAX_UPSTREAMS) {
		if (sscanf(line, " nameserver %255s", addr) != 1)
			continue;
		union net_upstream *u = &rt->upstreams[rt->nupstreams];

		memset(u, 0, sizeof(*u));
		if (strchr(addr, ':') ? uv_ip6_addr(addr, 53, &u->in6) == 0
				      : uv_ip4_addr(addr, 53, &u->in) == 0) {
			rt->has_upstream6 |= u->sa.sa_family == AF_INET6;
			rt->nupstreams++;
		}
	}
}

static void zone_build(struct net_dns_zone *z, const struct net_record *rec,
		       const struct net_nw_rec *nw)
{
	struct net_cidr subnet;
	struct net_cidr6 subnet6;
	size_t i, j;

	net_cidr_parse(nw->subnet, &subnet);
	net_dns_zone_init(z, &subnet);
	if (nw->ipv6 && net_cidr6_parse(nw->subnet6, &subnet6) == 0)
		net_dns_zone_set_subnet6(z, &subnet6);
	for (i = 0; i < rec->neps; i++) {
		const struct net_ep_rec *ep = &rec->eps[i];
		struct in6_addr a6;
		uint32_t a;

		if (strcmp(ep->network, nw->name) != 0 || net_ip_parse(ep->ip, &a) < 0)
			continue;
		net_dns_zone_add(z, ep->service, a);
		net_dns_zone_add(z, ep->container, a);
		net_dns_zone_add(z, ep->hostname, a);
		for (j = 0; j < ep->naliases; j++)
			net_dns_zone_add(z, ep->aliases[j], a);
		net_dns_zone_add_ptr(z, a, ep->container);
		if (!z->has6 || !ep->ip6[0] || net_ip6_parse(ep->ip6, &a6) < 0)
			continue;
		net_dns_zone_add6(z, ep->service, &a6);
		net_dns_zone_add6(z, ep->container, &a6);
		net_dns_zone_add6(z, ep->hostname, &a6);
		for (j = 0; j < ep->naliases; j++)
			net_dns_zone_add6(z, ep->aliases[j], &a6);
		net_dns_zone_add_ptr6(z, &a6, ep->container);
	}
}

static bool record_has_bridge(const struct net_record *rec, const char *bridge)
{
	size_t i;

	for (i = 0; i < rec->nnws; i++)
		if (strcmp(rec->nws[i].bridge, bridge) == 0)
			return true;
	return false;
}

static int sync_servers(struct net_runtime *rt, const struct net_record *rec, struct stk_err *err)
{
	struct dns_server *srv, *next, *keep = NULL;
	size_t i;

	/* Close the servers of networks that are gone. */
	for (srv = rt->servers; srv; srv = next) {
		next = net_dns_server_next(srv);
		if (record_has_bridge(rec, net_dns_server_bridge(srv))) {
			net_dns_server_set_next(srv, keep);
			keep = srv;
		} else {
			net_dns_server_close(srv);
		}
	}
	rt->servers = keep;
	for (i = 0; i < rec->nnws; i++) {
		struct net_dns_zone zone;

		for (srv = rt->servers; srv; srv = net_dns_server_next(srv))
			if (strcmp(net_dns_server_bridge(srv), rec->nws[i].bridge) == 0)
				break;
		if (!srv) {
			if (net_dns_server_start(rt, &rec->nws[i], &srv, err) < 0)
				return -1;
			net_dns_server_set_next(srv, rt->servers);
			rt->servers = srv;
		}
		zone_build(&zone, rec, &rec->nws[i]);
		net_dns_server_set_zone(srv, &zone);
	}
	return 0;
}

/* The proxies a published port needs: on its host address, or for every address one
 * on IPv4 and one on IPv6 (as Docker's proxy answers on both). IPv6 listeners relay to
 * the container's IPv6 address if it has one, else to its IPv4 one. */
struct listener {
	bool v6;
	bool optional; /* a host without IPv6 cannot bind it: skipped */
	const char *target;
};

static size_t port_listeners(const struct net_ep_rec *ep, const struct net_port_rec *p,
			     struct listener out[2])
{
	const char *target6 = ep->ip6[0] ? ep->ip6 : ep->ip;

	if (!p->host_ip[0]) {
		out[0] = (struct listener){false, false, ep->ip};
		out[1] = (struct listener){true, true, target6};
		return 2;
	}
	if (strchr(p->host_ip, ':')) {
		out[0] = (struct listener){true, false, target6};
		return 1;
	}
	out[0] = (struct listener){false, false, ep->ip};
	return 1;
}

static bool record_has_port(const struct net_record *rec, const struct port_proxy *px)
{
	struct listener ls[2];
	size_t i, j, k, n;

	for (i = 0; i < rec->neps; i++)
		for (j = 0; j < rec->eps[i].nports; j++) {
			n = port_listeners(&rec->eps[i], &rec->eps[i].ports[j], ls);
			for (k = 0; k < n; k++)
				if (net_proxy_matches(px, &rec->eps[i].ports[j], ls[k].v6,
						      ls[k].target))
					return true;
		}
	return false;
}

static int sync_port(struct net_runtime *rt, const struct net_ep_rec *ep,
		     const struct net_port_rec *p, struct stk_err *err)
{
	struct listener ls[2];
	struct port_proxy *px;
	size_t k, n = port_listeners(ep, p, ls);

	for (k = 0; k < n; k++) {
		for (px = rt->proxies; px; px = net_proxy_next(px))
			if (net_proxy_matches(px, p, ls[k].v6, ls[k].target))
				break;
		if (px)
			continue;
		px = net_proxy_start(rt, p, ls[k].v6, ls[k].target, err);
		if (!px && ls[k].optional && err->errnum != EADDRINUSE) {
			stk_err_clear(err);
			continue;
		}
		if (!px)
			return stk_err_wrap(err, "%s", ep->container);
		net_proxy_set_next(px, rt->proxies);
		rt->proxies = px;
	}
	return 0;
}

static int sync_proxies(struct net_runtime *rt, const struct net_record *rec, struct stk_err *err)
{
	struct port_proxy *px, *next, *keep = NULL;
	size_t i, j;

	for (px = rt->proxies; px; px = next) {
		next = net_proxy_next(px);
		if (record_has_port(rec, px)) {
			net_proxy_set_next(px, keep);
			keep = px;
		} else {
			net_proxy_close(px);
		}
	}
	rt->proxies = keep;
	for (i = 0; i < rec->neps; i++)
		for (j = 0; j < rec->eps[i].nports; j++)
			if (sync_port(rt, &rec->eps[i], &rec->eps[i].ports[j], err) < 0)
				return -1;
	return 0;
}

int net_runtime_reload(struct net_runtime *rt, struct stk_err *err)
{
	struct net_record rec;
	int rc;

	if (net_record_load(rt->root, rt->project, &rec, err) < 0)
		return -1;
	rc = sync_servers(rt, &rec, err);
	if (rc == 0)
		rc = sync_proxies(rt, &rec, err);
	net_record_free(&rec);
	return rc;
}

static int upstream6_open(struct net_runtime *rt, struct stk_err *err)
{
	struct sockaddr_in6 any;
	int rc;

	uv_ip6_addr("::", 0, &any);
	if ((rc = uv_udp_init(rt->loop, &rt->upstream6)) < 0) {
		rt->has_upstream6 = false;
		return stk_err_set(err, -rc, "dns: IPv6 upstream socket: %s", uv_strerror(rc));
	}
	rt->upstream6.data = rt;
	net_rt_handle_opened(rt);
	if ((rc = uv_udp_bind(&rt->upstream6, (struct sockaddr *)&any, UV_UDP_IPV6ONLY)) < 0 ||
	    (rc = uv_udp_recv_start(&rt->upstream6, net_rt_buf_alloc, net_dns_upstream_recv)) < 0)
		return stk_err_set(err, -rc, "dns: IPv6 upstream socket: %s", uv_strerror(rc));
	return 0;
}

int net_runtime_start(uv_loop_t *loop, const char *state_root, const char *project,
		      const struct net_runtime_options *opts, struct net_runtime **out,
		      struct stk_err *err)
{
	struct sockaddr_in any;
	struct net_runtime *rt = xcalloc(1, sizeof(*rt));
	int rc;

	rt->loop = loop;
	rt->root = xstrdup(state_root);
	rt->project = xstrdup(project);
	rt->timeout_ms = opts && opts->upstream_timeout_ms ? opts->upstream_timeout_ms : 2000;
	rt->dns_port = opts && opts->dns_port ? opts->dns_port : 53;
	rt->next_id = (uint16_t)(uv_hrtime() ^ (uint64_t)uv_os_getpid());
	read_upstreams(rt, opts && opts->resolv_conf ? opts->resolv_conf : "/etc/resolv.conf");
	uv_ip4_addr("0.0.0.0", 0, &any);
	if ((rc = uv_udp_init(loop, &rt->upstream)) < 0) {
		runtime_free(rt);
		return stk_err_set(err, -rc, "dns: upstream socket: %s", uv_strerror(rc));
	}
	rt->upstream.data = rt;
	net_rt_handle_opened(rt);
	if ((rc = uv_udp_bind(&rt->upstream, (struct sockaddr *)&any, 0)) < 0 ||
	    (rc = uv_udp_recv_start(&rt->upstream, net_rt_buf_alloc, net_dns_upstream_recv)) < 0) {
		stk_err_set(err, -rc, "dns: upstream socket: %s", uv_strerror(rc));
		net_runtime_stop(rt);
		return -1;
	}
	if (rt->has_upstream6 && upstream6_open(rt, err) < 0) {
		net_runtime_stop(rt);
		return -1;
	}
	if (net_runtime_reload(rt, err) < 0) {
		net_runtime_stop(rt);
		return -1;
	}
	*out = rt;
	return 0;
}

static void upstream_closed(uv_handle_t *h)
{
	net_rt_handle_closed(h->data);
}

void net_runtime_stop(struct net_runtime *rt)
{
	struct dns_server *srv, *snext;
	struct port_proxy *px, *pnext;

	rt->stopping = true;
	net_dns_pending_cancel_all(rt);
	for (srv = rt->servers; srv; srv = snext) {
		snext = net_dns_server_next(srv);
		net_dns_server_close(srv);
	}
	for (px = rt->proxies; px; px = pnext) {
		pnext = net_proxy_next(px);
		net_proxy_close(px);
	}
	rt->servers = NULL;
	rt->proxies = NULL;
	uv_close((uv_handle_t *)&rt->upstream, upstream_closed);
	if (rt->has_upstream6)
		uv_close((uv_handle_t *)&rt->upstream6, upstream_closed);
}

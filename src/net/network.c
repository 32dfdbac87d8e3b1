/* Networks and endpoints of a project: the steps in the order that keeps the record
 * ahead of the kernel (record first, then create), and teardown from the record. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

struct net_ctx {
	char *root;
	char *project;
	struct net_cidr pool;
	int prefix;
	struct net_cidr6 pool6;
	int prefix6;
};

static void record_freep(struct net_record *rec)
{
	net_record_free(rec);
}

static void nl_closep(struct nl_sock **sk)
{
	net_nl_close(*sk);
}

#define _cleanup_record_ _cleanup_(record_freep)
#define _cleanup_nl_ _cleanup_(nl_closep)

int net_open(const char *state_root, const char *project, const struct net_options *opts,
	     struct net_ctx **out, struct stk_err *err)
{
	const char *pool = opts && opts->pool ? opts->pool : "10.89.0.0/16";
	const char *pool6 = opts && opts->pool6 ? opts->pool6 : "fd00:89::/48";
	struct net_ctx *ctx;

	ctx = xcalloc(1, sizeof(*ctx));
	if (net_cidr_parse(pool, &ctx->pool) < 0) {
		free(ctx);
		return stk_err_set(err, EINVAL, "bad address pool \"%s\": want a.b.c.d/n", pool);
	}
	if (net_cidr6_parse(pool6, &ctx->pool6) < 0 || ctx->pool6.prefix < 8) {
		free(ctx);
		return stk_err_set(err, EINVAL,
				   "bad IPv6 address pool \"%s\": want an IPv6 "
				   "prefix such as fd00:89::/48",
				   pool6);
	}
	ctx->prefix = opts && opts->subnet_prefix ? opts->subnet_prefix : 24;
	ctx->prefix6 = opts && opts->subnet_prefix6 ? opts->subnet_prefix6 : 64;
	ctx->root = xstrdup(state_root);
	ctx->project = xstrdup(project);
	*out = ctx;
	return 0;
}

void net_close(struct net_ctx *ctx)
{
	if (!ctx)
		return;
	free(ctx->root);
	free(ctx->project);
	free(ctx);
}

int net_sysctl_write(const char *path, const char *value, struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		return stk_err_sys(err, "write %s", path);
	return 0;
}

/* Every other network's subnet and the host's routes, with names for the error message. */
struct taken {
	struct net_cidr *cidrs;
	char **what;
	size_t n;
};

static void taken_add(struct taken *t, struct net_cidr c, char *what)
{
	t->cidrs = xrealloc(t->cidrs, (t->n + 1) * sizeof(*t->cidrs));
	t->what = xrealloc(t->what, (t->n + 1) * sizeof(*t->what));
	t->cidrs[t->n] = c;
	t->what[t->n++] = what;
}

static void taken_free(struct taken *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->what[i]);
	free(t->what);
	free(t->cidrs);
}

static int collect_taken(struct net_ctx *ctx, struct nl_sock *sk, const char *self_bridge,
			 struct taken *t, struct stk_err *err)
{
	struct net_cidr *routes = NULL;
	struct net_record *recs = NULL;
	size_t nroutes = 0, nrecs = 0, i, j;
	char s[32];

	if (net_record_load_all(ctx->root, &recs, &nrecs, err) < 0)
		return -1;
	for (i = 0; i < nrecs; i++) {
		for (j = 0; j < recs[i].nnws; j++) {
			struct net_cidr c;

			if (strcmp(recs[i].nws[j].bridge, self_bridge) == 0 ||
			    net_cidr_parse(recs[i].nws[j].subnet, &c) < 0)
				continue;
			taken_add(t, c,
				  xasprintf("network %s of project %s", recs[i].nws[j].name,
					    recs[i].project));
		}
		net_record_free(&recs[i]);
	}
	free(recs);
	/* After the networks, so that an overlap names the network, not its bridge route. */
	if (net_nl_routes(sk, &routes, &nroutes, err) < 0)
		return -1;
	for (i = 0; i < nroutes; i++) {
		net_cidr_format(&routes[i], s, sizeof(s));
		taken_add(t, routes[i], xasprintf("host route %s", s));
	}
	free(routes);
	return 0;
}

static int choose_subnet(struct net_ctx *ctx, struct nl_sock *sk,
			 const struct net_network_spec *spec, struct net_nw_rec *nw,
			 struct stk_err *err)
{
	struct taken t = {0};
	struct net_cidr subnet, range;
	uint32_t gw;
	size_t i;
	int rc = -1;

	if (collect_taken(ctx, sk, nw->bridge, &t, err) < 0)
		goto out;
	if (spec->subnet) {
		if (net_cidr_parse(spec->subnet, &subnet) < 0 || subnet.prefix > 30) {
			stk_err_set(err, EINVAL, "bad subnet \"%s\"", spec->subnet);
			goto out;
		}
		for (i = 0; i < t.n; i++) {
			if (net_cidr_overlap(&subnet, &t.cidrs[i])) {
				stk_err_set(err, EADDRINUSE, "subnet %s overlaps %s", spec->subnet,
					    t.what[i]);
				goto out;
			}
		}
	} else if (net_ipam_carve(&ctx->pool, ctx->prefix, t.cidrs, t.n, &subnet, err) < 0) {
		goto out;
	}
	net_cidr_format(&subnet, nw->subnet, sizeof(nw->subnet));
	if (spec->gateway) {
		if (net_ip_parse(spec->gateway, &gw) < 0 || !net_cidr_contains(&subnet, gw)) {
			stk_err_set(err, EINVAL, "gateway %s is not an address of subnet %s",
				    spec->gateway, nw->subnet);
			goto out;
		}
	} else {
		gw = subnet.addr + 1;
	}
	net_ip_format(gw, nw->gateway);
	if (spec->ip_range) {
		if (net_cidr_parse(spec->ip_range, &range) < 0 || range.prefix < subnet.prefix ||
		    !net_cidr_contains(&subnet, range.addr)) {
			stk_err_set(err, EINVAL, "ip_range %s is not within subnet %s",
				    spec->ip_range, nw->subnet);
			goto out;
		}
		net_cidr_format(&range, nw->ip_range, sizeof(nw->ip_range));
	}
	rc = 0;
out:
	taken_free(&t);
	return rc;
}

static void taken6_add(struct net_cidr6 **out, char ***what, size_t *n, struct net_cidr6 c, char *w)
{
	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	*what = xrealloc(*what, (*n + 1) * sizeof(**what));
	(*out)[*n] = c;
	(*what)[(*n)++] = w;
}

/* Other networks' IPv6 subnets, from every project's record, then the host's IPv6
 * routes (after, so that an overlap names the network rather than its bridge route). */
static int collect_taken6(struct net_ctx *ctx, struct nl_sock *sk, const char *self_bridge,
			  struct net_cidr6 **out, char ***what, size_t *n, struct stk_err *err)
{
	struct net_record *recs = NULL;
	struct net_cidr6 *routes = NULL;
	size_t nrecs = 0, nroutes = 0, i, j;
	char s[INET6_ADDRSTRLEN + 5];

	*out = NULL;
	*what = NULL;
	*n = 0;
	if (net_record_load_all(ctx->root, &recs, &nrecs, err) < 0)
		return -1;
	for (i = 0; i < nrecs; i++) {
		for (j = 0; j < recs[i].nnws; j++) {
			struct net_cidr6 c;

			if (!recs[i].nws[j].ipv6 ||
			    strcmp(recs[i].nws[j].bridge, self_bridge) == 0 ||
			    net_cidr6_parse(recs[i].nws[j].subnet6, &c) < 0)
				continue;
			taken6_add(out, what, n, c,
				   xasprintf("network %s of project %s", recs[i].nws[j].name,
					     recs[i].project));
		}
		net_record_free(&recs[i]);
	}
	free(recs);
	if (net_nl_routes6(sk, &routes, &nroutes, err) < 0)
		return -1;
	for (i = 0; i < nroutes; i++) {
		net_cidr6_format(&routes[i], s, sizeof(s));
		taken6_add(out, what, n, routes[i], xasprintf("host route %s", s));
	}
	free(routes);
	return 0;
}

static int choose_subnet6(struct net_ctx *ctx, struct nl_sock *sk,
			  const struct net_network_spec *spec, struct net_nw_rec *nw,
			  struct stk_err *err)
{
	struct net_cidr6 *taken = NULL, subnet;
	struct in6_addr gw;
	char **what = NULL;
	size_t n = 0, i;
	int rc = -1;

	if (collect_taken6(ctx, sk, nw->bridge, &taken, &what, &n, err) < 0)
		goto out;
	if (spec->subnet6) {
		if (net_cidr6_parse(spec->subnet6, &subnet) < 0 || subnet.prefix < 16 ||
		    subnet.prefix > 126) {
			stk_err_set(err, EINVAL, "bad IPv6 subnet \"%s\"", spec->subnet6);
			goto out;
		}
		for (i = 0; i < n; i++)
			if (net_cidr6_overlap(&subnet, &taken[i])) {
				stk_err_set(err, EADDRINUSE, "subnet %s overlaps %s", spec->subnet6,
					    what[i]);
				goto out;
			}
	} else if (net_ipam6_carve(&ctx->pool6, ctx->prefix6, taken, n, &subnet, err) < 0) {
		goto out;
	}
	net_cidr6_format(&subnet, nw->subnet6, sizeof(nw->subnet6));
	if (spec->gateway6) {
		if (net_ip6_parse(spec->gateway6, &gw) < 0 || !net_cidr6_contains(&subnet, &gw)) {
			stk_err_set(err, EINVAL, "gateway %s is not an address of subnet %s",
				    spec->gateway6, nw->subnet6);
			goto out;
		}
		inet_ntop(AF_INET6, &gw, nw->gateway6, sizeof(nw->gateway6));
	} else {
		net_cidr6_nth(&subnet, 1, nw->gateway6);
	}
	nw->ipv6 = true;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(what[i]);
	free(what);
	free(taken);
	return rc;
}

static int network_realize(struct nl_sock *sk, const char *root, struct net_record *rec,
			   struct net_nw_rec *nw, bool reuse, struct stk_err *err)
{
	_cleanup_free_ char *rules = NULL;
	char cidr[48];
	struct net_cidr subnet;
	bool existed = reuse && nw->nft && net_nl_link_exists(sk, nw->bridge);

	net_cidr_parse(nw->subnet, &subnet);
	snprintf(cidr, sizeof(cidr), "%s/%d", nw->gateway, subnet.prefix);
	/* Routing between bridges and the uplink needs forwarding; Docker sets it too. */
	if (!nw->internal && net_sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err) < 0)
		return -1;
	/* The host solicits a container's IPv6 address (for traffic it forwards, such as a
	 * published port reached from another host) from the bridge's link-local address,
	 * and sends nothing while that is tentative: duplicate address detection after the
	 * bridge comes up left new containers unreachable for 1-2 s. */
	if (net_nl_bridge_ensure(sk, nw->bridge, cidr, nw->ipv6, err) < 0)
		return -1;
	if (nw->ipv6) {
		struct net_cidr6 subnet6;

		net_cidr6_parse(nw->subnet6, &subnet6);
		snprintf(cidr, sizeof(cidr), "%s/%d", nw->gateway6, subnet6.prefix);
		if ((!nw->internal &&
		     net_sysctl_write("/proc/sys/net/ipv6/conf/all/forwarding", "1", err) < 0) ||
		    net_nl_addr_add(sk, nw->bridge, cidr, err) < 0)
			return -1;
	}
	/* Loading rules runs nftables (libnftables and its libraries loaded, its cache
	 * filled: tens of milliseconds), the most of a `run`'s own cost. */
	rules = net_nft_render(rec, nw);
	if (existed && !strcmp(nw->nft, rules))
		return 0;
	if (net_nft_sync(rec, nw, err) < 0)
		return -1;
	free(nw->nft);
	nw->nft = steal(&rules);
	return net_record_save(root, rec, err);
}

int net_network_create(struct net_ctx *ctx, const struct net_network_spec *spec,
		       struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	_cleanup_nl_ struct nl_sock *sk = NULL;
	_cleanup_close_ int lock = -1;
	struct net_nw_rec *nw;

	lock = net_lock(ctx->root, err);
	if (lock < 0 || net_record_load(ctx->root, ctx->project, &rec, err) < 0 ||
	    net_nl_open(&sk, err) < 0)
		goto fail;
	nw = net_record_network(&rec, spec->name);
	if (!nw) {
		struct net_nw_rec fresh = {0};

		net_bridge_name(ctx->project, spec->name, fresh.bridge);
		fresh.internal = spec->internal;
		if (choose_subnet(ctx, sk, spec, &fresh, err) < 0 ||
		    (spec->enable_ipv6 && choose_subnet6(ctx, sk, spec, &fresh, err) < 0))
			goto fail;
		nw = net_record_add_network(&rec);
		*nw = fresh;
		nw->name = xstrdup(spec->name);
		/* Recorded before it exists, so that teardown after a crash finds it. */
		if (net_record_save(ctx->root, &rec, err) < 0)
			goto fail;
	}
	if (network_realize(sk, ctx->root, &rec, nw, spec->reuse, err) < 0)
		goto fail;
	return 0;
fail:
	return stk_err_wrap(err, "network %s", spec->name);
}

int net_network_gateway(struct net_ctx *ctx, const char *network, char gw_out[16],
			struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	struct net_nw_rec *nw;

	if (net_record_load(ctx->root, ctx->project, &rec, err) < 0)
		return -1;
	nw = net_record_network(&rec, network);
	if (!nw)
		return stk_err_set(err, ENOENT, "network %s does not exist", network);
	memcpy(gw_out, nw->gateway, INET_ADDRSTRLEN);
	return 0;
}

static int endpoint_configure(struct nl_sock *sk, const struct net_endpoint_spec *spec,
			      const struct net_nw_rec *nw, const char *ip, const char *ip6,
			      const char *peer_tmp, struct stk_err *err)
{
	_cleanup_nl_ struct nl_sock *in = NULL;
	const char *ifname = spec->ifname ? spec->ifname : "eth0";
	struct net_cidr subnet;
	char cidr[48];
	char host[IFNAMSIZ];

	net_veth_name(spec->container, nw->name, host);
	if (net_nl_veth_create(sk, host, peer_tmp, nw->bridge, spec->netns_fd, spec->pid, err) < 0)
		return -1;
	if (net_nl_open_in(spec->netns_fd, spec->pid, &in, err) < 0)
		return -1;
	net_cidr_parse(nw->subnet, &subnet);
	snprintf(cidr, sizeof(cidr), "%s/%d", ip, subnet.prefix);
	if (net_nl_link_rename_up(in, peer_tmp, ifname, err) < 0 ||
	    net_nl_addr_add(in, ifname, cidr, err) < 0 || net_nl_link_up(in, "lo", err) < 0)
		return -1;
	/* An internal network has no way out, so it never carries the default route. */
	if (spec->default_route && !nw->internal &&
	    net_nl_route_default(in, ifname, nw->gateway, err) < 0)
		return -1;
	if (*ip6) {
		struct net_cidr6 subnet6;

		net_cidr6_parse(nw->subnet6, &subnet6);
		snprintf(cidr, sizeof(cidr), "%s/%d", ip6, subnet6.prefix);
		if (net_nl_addr_add(in, ifname, cidr, err) < 0 ||
		    (spec->default_route && !nw->internal &&
		     net_nl_route_default(in, ifname, nw->gateway6, err) < 0))
			return -1;
	}
	return 0;
}

static struct net_ep_rec *record_endpoint(struct net_record *rec,
					  const struct net_endpoint_spec *spec, const char *ip,
					  const char *ip6)
{
	struct net_ep_rec *ep = net_record_add_endpoint(rec);
	size_t i;

	snprintf(ep->ip6, sizeof(ep->ip6), "%s", ip6);
	ep->container = xstrdup(spec->container);
	ep->service = xstrdup(spec->service ? spec->service : "");
	ep->hostname = xstrdup(spec->hostname ? spec->hostname : "");
	ep->id = xstrdup(spec->id ? spec->id : "");
	ep->network = xstrdup(spec->network);
	snprintf(ep->ip, sizeof(ep->ip), "%s", ip);
	net_veth_name(spec->container, spec->network, ep->veth);
	ep->naliases = spec->naliases;
	ep->aliases = xcalloc(spec->naliases + 1, sizeof(char *));
	for (i = 0; i < spec->naliases; i++)
		ep->aliases[i] = xstrdup(spec->aliases[i]);
	ep->nports = spec->nports;
	ep->ports = xcalloc(spec->nports + 1, sizeof(*ep->ports));
	for (i = 0; i < spec->nports; i++) {
		ep->ports[i].proto = spec->ports[i].proto;
		snprintf(ep->ports[i].host_ip, sizeof(ep->ports[i].host_ip), "%s",
			 spec->ports[i].host_ip ? spec->ports[i].host_ip : "");
		ep->ports[i].host_port = spec->ports[i].host_port;
		ep->ports[i].container_port = spec->ports[i].container_port;
	}
	return ep;
}

static int choose_ip(const struct net_record *rec, const struct net_nw_rec *nw, const char *want,
		     char ip[INET_ADDRSTRLEN], struct stk_err *err)
{
	struct net_cidr subnet;
	uint32_t a;
	size_t i;

	if (!want)
		return net_ipam_lease(nw, rec, ip, err);
	net_cidr_parse(nw->subnet, &subnet);
	if (net_ip_parse(want, &a) < 0 || !net_cidr_contains(&subnet, a))
		return stk_err_set(err, EINVAL, "ipv4_address %s is not in subnet %s", want,
				   nw->subnet);
	if (strcmp(want, nw->gateway) == 0)
		return stk_err_set(err, EADDRINUSE, "ipv4_address %s is the gateway", want);
	for (i = 0; i < rec->neps; i++)
		if (strcmp(rec->eps[i].network, nw->name) == 0 && strcmp(rec->eps[i].ip, want) == 0)
			return stk_err_set(err, EADDRINUSE,
					   "ipv4_address %s is already leased to %s", want,
					   rec->eps[i].container);
	snprintf(ip, INET_ADDRSTRLEN, "%s", want);
	return 0;
}

static int choose_ip6(const struct net_record *rec, const struct net_nw_rec *nw, const char *want,
		      char ip6[INET6_ADDRSTRLEN], struct stk_err *err)
{
	struct net_cidr6 subnet;
	struct in6_addr a, gw;

	ip6[0] = '\0';
	if (!nw->ipv6) {
		if (want)
			return stk_err_set(err, EINVAL,
					   "ipv6_address %s: network %s has no IPv6 "
					   "(enable_ipv6)",
					   want, nw->name);
		return 0;
	}
	if (!want)
		return net_ipam6_lease(nw, rec, ip6, err);
	net_cidr6_parse(nw->subnet6, &subnet);
	if (net_ip6_parse(want, &a) < 0 || !net_cidr6_contains(&subnet, &a))
		return stk_err_set(err, EINVAL, "ipv6_address %s is not in subnet %s", want,
				   nw->subnet6);
	if (net_ip6_parse(nw->gateway6, &gw) == 0 && memcmp(&a, &gw, sizeof(a)) == 0)
		return stk_err_set(err, EADDRINUSE, "ipv6_address %s is the gateway", want);
	if (net_ipam6_in_use(rec, nw->name, want))
		return stk_err_set(err, EADDRINUSE, "ipv6_address %s is already leased", want);
	inet_ntop(AF_INET6, &a, ip6, INET6_ADDRSTRLEN);
	return 0;
}

int net_endpoint_address6(struct net_ctx *ctx, const char *container, const char *network,
			  char out[46], struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	size_t i;

	out[0] = '\0';
	if (net_record_load(ctx->root, ctx->project, &rec, err) < 0)
		return -1;
	for (i = 0; i < rec.neps; i++)
		if (strcmp(rec.eps[i].container, container) == 0 &&
		    strcmp(rec.eps[i].network, network) == 0)
			snprintf(out, INET6_ADDRSTRLEN, "%s", rec.eps[i].ip6);
	return 0;
}

int net_service_containers(const char *state_root, const char *project, const char *service,
			   char ***ids_out, size_t *n_out, struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	char **ids = NULL;
	size_t n = 0, i, j;

	if (net_record_load(state_root, project, &rec, err) < 0)
		return -1;
	for (i = 0; i < rec.neps; i++) {
		const struct net_ep_rec *ep = &rec.eps[i];

		if (strcmp(ep->service, service) != 0 || !ep->id[0])
			continue;
		for (j = 0; j < n && strcmp(ids[j], ep->id) != 0; j++)
			;
		if (j < n)
			continue; /* the same container on another network */
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = xstrdup(ep->id);
	}
	*ids_out = ids;
	*n_out = n;
	return 0;
}

int net_endpoint_attach(struct net_ctx *ctx, const struct net_endpoint_spec *spec, char ip_out[16],
			struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	_cleanup_nl_ struct nl_sock *sk = NULL;
	_cleanup_close_ int lock = -1;
	struct net_nw_rec *nw;
	char ip[INET_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN], peer_tmp[IFNAMSIZ], veth[IFNAMSIZ];
	_cleanup_free_ struct net_port *ports = NULL;
	struct net_endpoint_spec resolved = *spec;
	struct stk_err ignored;
	size_t i;

	lock = net_lock(ctx->root, err);
	if (lock < 0 || net_record_load(ctx->root, ctx->project, &rec, err) < 0)
		goto fail;
	nw = net_record_network(&rec, spec->network);
	if (!nw) {
		stk_err_set(err, ENOENT, "network %s does not exist", spec->network);
		goto fail;
	}
	for (i = 0; i < rec.neps; i++)
		if (strcmp(rec.eps[i].container, spec->container) == 0 &&
		    strcmp(rec.eps[i].network, spec->network) == 0) {
			stk_err_set(err, EEXIST, "already attached");
			goto fail;
		}
	if (choose_ip(&rec, nw, spec->ipv4, ip, err) < 0 ||
	    choose_ip6(&rec, nw, spec->ipv6, ip6, err) < 0 || net_nl_open(&sk, err) < 0)
		goto fail;
	if (net_ports_resolve(ctx->root, spec->container, spec->ports, spec->nports, &ports, err) <
	    0)
		goto fail;
	resolved.ports = ports;
	record_endpoint(&rec, &resolved, ip, ip6);
	nw = net_record_network(&rec, spec->network);
	if (spec->nports)
		free(steal(&nw->nft));
	if (net_record_save(ctx->root, &rec, err) < 0)
		goto fail;
	nw = net_record_network(&rec, spec->network);
	snprintf(peer_tmp, sizeof(peer_tmp), "stp-%08x", net_hash(spec->container, nw->bridge));
	if (endpoint_configure(sk, spec, nw, ip, ip6, peer_tmp, err) < 0 ||
	    (spec->nports && net_nft_sync(&rec, nw, err) < 0)) {
		/* Undo: the veth (its peer goes with it) and the lease. */
		net_veth_name(spec->container, spec->network, veth);
		net_nl_link_delete(sk, veth, &ignored);
		net_record_remove_endpoint(&rec, rec.neps - 1);
		net_record_save(ctx->root, &rec, &ignored);
		net_nft_sync(&rec, nw, &ignored);
		goto fail;
	}
	memcpy(ip_out, ip, INET_ADDRSTRLEN);
	if (spec->gateway_out)
		memcpy(spec->gateway_out, nw->gateway, INET_ADDRSTRLEN);
	if (spec->ip6_out)
		memcpy(spec->ip6_out, ip6, INET6_ADDRSTRLEN);
	for (i = 0; spec->host_ports_out && i < spec->nports; i++)
		spec->host_ports_out[i] = ports[i].host_port;
	return 0;
fail:
	return stk_err_wrap(err, "%s: attach to network %s", spec->container, spec->network);
}

int net_endpoint_detach(struct net_ctx *ctx, const char *container, struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	_cleanup_nl_ struct nl_sock *sk = NULL;
	_cleanup_close_ int lock = -1;
	_cleanup_free_ bool *published = NULL;
	size_t i, j;
	int rc = 0;

	lock = net_lock(ctx->root, err);
	if (lock < 0 || net_record_load(ctx->root, ctx->project, &rec, err) < 0 ||
	    net_nl_open(&sk, err) < 0)
		return stk_err_wrap(err, "%s: detach", container);
	/* A network's rules list only the published ports: they change (and nftables, whose
	 * every run costs milliseconds, is called) only when a leaving endpoint had some. */
	published = xcalloc(rec.nnws + 1, sizeof(*published));
	for (i = rec.neps; i-- > 0;) {
		if (strcmp(rec.eps[i].container, container) != 0)
			continue;
		for (j = 0; j < rec.nnws; j++)
			if (rec.eps[i].nports && !strcmp(rec.nws[j].name, rec.eps[i].network)) {
				published[j] = true;
				free(steal(&rec.nws[j].nft));
			}
		if (net_nl_link_delete(sk, rec.eps[i].veth, err) < 0)
			rc = -1;
		net_record_remove_endpoint(&rec, i);
	}
	if (net_record_save(ctx->root, &rec, err) < 0)
		rc = -1;
	for (j = 0; j < rec.nnws; j++)
		if (published[j] && net_nl_link_exists(sk, rec.nws[j].bridge) &&
		    net_nft_sync(&rec, &rec.nws[j], err) < 0)
			rc = -1;
	return rc < 0 ? stk_err_wrap(err, "%s: detach", container) : 0;
}

int net_project_teardown(const char *state_root, const char *project, struct stk_err *err)
{
	_cleanup_record_ struct net_record rec = {0};
	_cleanup_nl_ struct nl_sock *sk = NULL;
	_cleanup_close_ int lock = -1;
	_cleanup_free_ char *path = NULL;
	struct stk_err first = {0};
	size_t i;
	int rc = 0;

	lock = net_lock(state_root, err);
	if (lock < 0 || net_record_load(state_root, project, &rec, err) < 0 ||
	    net_nl_open(&sk, err) < 0)
		return stk_err_wrap(err, "project %s: remove networks", project);
	/* Keep going after a failure: remove as much as can be removed, report the first. */
	for (i = 0; i < rec.neps; i++)
		if (net_nl_link_delete(sk, rec.eps[i].veth, rc ? err : &first) < 0)
			rc = -1;
	for (i = 0; i < rec.nnws; i++) {
		if (net_nft_delete(rec.nws[i].bridge, rc ? err : &first) < 0)
			rc = -1;
		if (net_nl_link_delete(sk, rec.nws[i].bridge, rc ? err : &first) < 0)
			rc = -1;
	}
	if (rc < 0) {
		*err = first;
		return stk_err_wrap(err, "project %s: remove networks", project);
	}
	path = net_record_path(state_root, project);
	if (unlink(path) < 0 && errno != ENOENT)
		return stk_err_sys(err, "remove %s", path);
	return 0;
}

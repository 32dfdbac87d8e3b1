/* Kernel network objects through libnl-route-3: bridges, veth pairs, addresses and
 * routes, in the host's namespace or, through a socket opened there, a container's. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/lazy_nl.h"

#include "net/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static void link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static void addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}

#define _cleanup_link_ _cleanup_(link_putp)
#define _cleanup_nladdr_ _cleanup_(addr_putp)

static int nl_fail(struct stk_err *err, int rc, const char *what, const char *name)
{
	return stk_err_set(err, 0, "%s %s: %s", what, name, nl_geterror(rc));
}

int net_nl_open(struct nl_sock **out, struct stk_err *err)
{
	struct nl_sock *sk;
	int rc;

	if (stk_lazylib_load(&stk_lazy_nl_lib, err) < 0 ||
	    stk_lazylib_load(&stk_lazy_nlroute_lib, err) < 0)
		return -1;
	sk = nl_socket_alloc();
	if (!sk)
		return stk_err_set(err, ENOMEM, "netlink: cannot allocate a socket");
	rc = nl_connect(sk, NETLINK_ROUTE);
	if (rc < 0) {
		nl_socket_free(sk);
		return stk_err_set(err, 0, "netlink: connect: %s", nl_geterror(rc));
	}
	*out = sk;
	return 0;
}

void net_nl_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

/* A netlink socket belongs to the namespace it was created in, so enter the target
 * namespace just long enough to create it. Only this thread changes namespace. */
int net_nl_open_in(int netns_fd, pid_t pid, struct nl_sock **out, struct stk_err *err)
{
	_cleanup_close_ int self = -1, target = -1;
	int rc;

	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return stk_err_sys(err, "open /proc/self/ns/net");
	if (netns_fd < 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		target = open(path, O_RDONLY | O_CLOEXEC);
		if (target < 0)
			return stk_err_sys(err, "open %s", path);
		netns_fd = target;
	}
	if (setns(netns_fd, CLONE_NEWNET) < 0)
		return stk_err_sys(err, "enter the container's network namespace");
	rc = net_nl_open(out, err);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Carrying on in the wrong namespace would configure the wrong host. */
		abort();
	}
	return rc;
}

int net_nl_link_exists(struct nl_sock *sk, const char *name)
{
	_cleanup_link_ struct rtnl_link *link = NULL;

	return rtnl_link_get_kernel(sk, 0, name, &link) == 0;
}

static int link_index(struct nl_sock *sk, const char *name, int *index, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, name, &link);

	if (rc < 0)
		return nl_fail(err, rc, "find link", name);
	*index = rtnl_link_get_ifindex(link);
	return 0;
}

int net_nl_link_up(struct nl_sock *sk, const char *name, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL, *change = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, name, &link);

	if (rc < 0)
		return nl_fail(err, rc, "find link", name);
	change = rtnl_link_alloc();
	rtnl_link_set_flags(change, IFF_UP);
	rc = rtnl_link_change(sk, link, change, 0);
	if (rc < 0)
		return nl_fail(err, rc, "bring up", name);
	return 0;
}

int net_nl_addr_add(struct nl_sock *sk, const char *ifname, const char *cidr, struct stk_err *err)
{
	_cleanup_nladdr_ struct nl_addr *local = NULL;
	struct rtnl_addr *addr;
	int index, rc;

	if (link_index(sk, ifname, &index, err) < 0)
		return -1;
	rc = nl_addr_parse(cidr, strchr(cidr, ':') ? AF_INET6 : AF_INET, &local);
	if (rc < 0)
		return nl_fail(err, rc, "parse address", cidr);
	addr = rtnl_addr_alloc();
	rtnl_addr_set_ifindex(addr, index);
	rtnl_addr_set_local(addr, local);
	/* Duplicate address detection would hold the address back for a second or more;
	 * the addresses are leased, so there is nothing to detect. */
	if (strchr(cidr, ':'))
		rtnl_addr_set_flags(addr, IFA_F_NODAD);
	rc = rtnl_addr_add(sk, addr, 0);
	rtnl_addr_put(addr);
	if (rc < 0 && rc != -NLE_EXIST)
		return stk_err_set(err, 0, "add address %s to %s: %s", cidr, ifname,
				   nl_geterror(rc));
	return 0;
}

int net_nl_bridge_ensure(struct nl_sock *sk, const char *name, const char *addr_cidr,
			 bool ipv6_no_dad, struct stk_err *err)
{
	int rc;

	if (!net_nl_link_exists(sk, name)) {
		rc = rtnl_link_bridge_add(sk, name);
		if (rc < 0 && rc != -NLE_EXIST)
			return nl_fail(err, rc, "create bridge", name);
	}
	/* Before it is up: bringing it up starts DAD on its link-local address. */
	if (ipv6_no_dad) {
		_cleanup_free_ char *path =
			xasprintf("/proc/sys/net/ipv6/conf/%s/accept_dad", name);

		if (net_sysctl_write(path, "0", err) < 0)
			return -1;
	}
	if (net_nl_addr_add(sk, name, addr_cidr, err) < 0)
		return -1;
	return net_nl_link_up(sk, name, err);
}

/* Hairpin mode lets the bridge send a frame back out of the port it came from: needed
 * when a container reaches its own published port through a host address (DNAT turns
 * the packet around at the gateway). */
static int bridge_port_hairpin(struct nl_sock *sk, const char *port, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *orig = NULL, *change = NULL;
	int index, rc;

	if (link_index(sk, port, &index, err) < 0)
		return -1;
	/* Port flags travel in an AF_BRIDGE message: both sides must say so. */
	orig = rtnl_link_alloc();
	rtnl_link_set_ifindex(orig, index);
	rtnl_link_set_family(orig, AF_BRIDGE);
	change = rtnl_link_alloc();
	rtnl_link_set_family(change, AF_BRIDGE);
	if ((rc = rtnl_link_bridge_set_flags(change, RTNL_BRIDGE_HAIRPIN_MODE)) < 0 ||
	    (rc = rtnl_link_change(sk, orig, change, 0)) < 0)
		return nl_fail(err, rc, "set hairpin mode on", port);
	return 0;
}

int net_nl_veth_create(struct nl_sock *sk, const char *host, const char *peer_tmp,
		       const char *bridge, int netns_fd, pid_t pid, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *veth = NULL;
	struct rtnl_link *peer;
	int master, rc;

	if (link_index(sk, bridge, &master, err) < 0)
		return -1;
	veth = rtnl_link_veth_alloc();
	if (!veth)
		return stk_err_set(err, ENOMEM, "allocate veth %s", host);
	rtnl_link_set_name(veth, host);
	rtnl_link_set_master(veth, master);
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(peer, peer_tmp);
	/* The peer is born in the container's namespace: it never exists on the host. */
	if (netns_fd >= 0)
		rtnl_link_set_ns_fd(peer, netns_fd);
	else
		rtnl_link_set_ns_pid(peer, pid);
	rtnl_link_put(peer);
	rc = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (rc < 0)
		return nl_fail(err, rc, "create veth", host);
	if (bridge_port_hairpin(sk, host, err) < 0)
		return -1;
	return net_nl_link_up(sk, host, err);
}

int net_nl_link_rename_up(struct nl_sock *sk, const char *from, const char *to, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL, *change = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, from, &link);

	if (rc < 0)
		return nl_fail(err, rc, "find link", from);
	change = rtnl_link_alloc();
	rtnl_link_set_name(change, to);
	rc = rtnl_link_change(sk, link, change, 0);
	if (rc < 0)
		return stk_err_set(err, 0, "rename %s to %s: %s", from, to, nl_geterror(rc));
	return net_nl_link_up(sk, to, err);
}

int net_nl_route_default(struct nl_sock *sk, const char *ifname, const char *gateway,
			 struct stk_err *err)
{
	_cleanup_nladdr_ struct nl_addr *dst = NULL, *gw = NULL;
	struct rtnl_route *route;
	struct rtnl_nexthop *nh;
	int family = strchr(gateway, ':') ? AF_INET6 : AF_INET;
	int index, rc;

	if (link_index(sk, ifname, &index, err) < 0)
		return -1;
	if ((rc = nl_addr_parse(family == AF_INET6 ? "::/0" : "0.0.0.0/0", family, &dst)) < 0 ||
	    (rc = nl_addr_parse(gateway, family, &gw)) < 0)
		return nl_fail(err, rc, "parse gateway", gateway);
	route = rtnl_route_alloc();
	rtnl_route_set_family(route, family);
	rtnl_route_set_dst(route, dst);
	nh = rtnl_route_nh_alloc();
	rtnl_route_nh_set_ifindex(nh, index);
	rtnl_route_nh_set_gateway(nh, gw);
	rtnl_route_add_nexthop(route, nh);
	rc = rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_route_put(route);
	if (rc < 0 && rc != -NLE_EXIST)
		return stk_err_set(err, 0, "add default route via %s on %s: %s", gateway, ifname,
				   nl_geterror(rc));
	return 0;
}

int net_nl_link_delete(struct nl_sock *sk, const char *name, struct stk_err *err)
{
	_cleanup_link_ struct rtnl_link *link = NULL;
	int rc = rtnl_link_get_kernel(sk, 0, name, &link);

	if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV)
		return 0;
	if (rc < 0)
		return nl_fail(err, rc, "find link", name);
	rc = rtnl_link_delete(sk, link);
	if (rc < 0 && rc != -NLE_OBJ_NOTFOUND && rc != -NLE_NODEV)
		return nl_fail(err, rc, "delete link", name);
	return 0;
}

/* The destinations of the host's routes of one family: each one of addr_len bytes, in
 * network order, with its prefix length. A default route overlaps everything; it never
 * blocks a subnet, so it is left out. The caller frees *dsts. */
static int route_dsts(struct nl_sock *sk, int family, size_t addr_len, const char *what,
		      unsigned char **dsts, int **prefixes, size_t *n, struct stk_err *err)
{
	struct nl_cache *cache = NULL;
	struct nl_object *obj;
	size_t count = 0;
	int rc;

	*dsts = NULL;
	*prefixes = NULL;
	rc = rtnl_route_alloc_cache(sk, family, 0, &cache);
	if (rc < 0)
		return stk_err_set(err, 0, "list %s: %s", what, nl_geterror(rc));
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct nl_addr *dst = rtnl_route_get_dst((struct rtnl_route *)obj);

		if (!dst || nl_addr_get_prefixlen(dst) == 0 || nl_addr_get_len(dst) != addr_len)
			continue;
		*dsts = xrealloc(*dsts, (count + 1) * addr_len);
		*prefixes = xrealloc(*prefixes, (count + 1) * sizeof(**prefixes));
		memcpy(*dsts + count * addr_len, nl_addr_get_binary_addr(dst), addr_len);
		(*prefixes)[count++] = (int)nl_addr_get_prefixlen(dst);
	}
	nl_cache_free(cache);
	*n = count;
	return 0;
}

int net_nl_routes(struct nl_sock *sk, struct net_cidr **out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ unsigned char *dsts = NULL;
	_cleanup_free_ int *prefixes = NULL;
	size_t i;
	uint32_t a;

	if (route_dsts(sk, AF_INET, sizeof(a), "routes", &dsts, &prefixes, n, err) < 0)
		return -1;
	*out = *n ? xmalloc(*n * sizeof(**out)) : NULL;
	for (i = 0; i < *n; i++) {
		memcpy(&a, dsts + i * sizeof(a), sizeof(a));
		(*out)[i].addr = ntohl(a);
		(*out)[i].prefix = prefixes[i];
	}
	return 0;
}

int net_nl_routes6(struct nl_sock *sk, struct net_cidr6 **out, size_t *n, struct stk_err *err)
{
	_cleanup_free_ unsigned char *dsts = NULL;
	_cleanup_free_ int *prefixes = NULL;
	size_t i, len = sizeof(struct in6_addr);

	if (route_dsts(sk, AF_INET6, len, "IPv6 routes", &dsts, &prefixes, n, err) < 0)
		return -1;
	*out = *n ? xmalloc(*n * sizeof(**out)) : NULL;
	for (i = 0; i < *n; i++) {
		memcpy(&(*out)[i].addr, dsts + i * len, len);
		(*out)[i].prefix = prefixes[i];
	}
	return 0;
}

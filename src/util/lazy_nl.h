/* libnl-3 and libnl-route-3: links, addresses and routes (src/net/netlink.c), opened on
 * first use (util/lazylib.h). Include this instead of the library's own headers; when
 * the code starts calling another of its functions, add it to the X-macro list and to
 * the #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_NL_H
#define STK_UTIL_LAZY_NL_H

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>

#include "util/lazylib.h"

#define STK_NL_FUNCTIONS(X) \
	X(nl_addr_get_binary_addr) \
	X(nl_addr_get_len) \
	X(nl_addr_get_prefixlen) \
	X(nl_addr_parse) \
	X(nl_addr_put) \
	X(nl_cache_free) \
	X(nl_cache_get_first) \
	X(nl_cache_get_next) \
	X(nl_connect) \
	X(nl_geterror) \
	X(nl_socket_alloc) \
	X(nl_socket_free)

STK_LAZYLIB_DECLARE(nl, STK_NL_FUNCTIONS)

#define STK_NLROUTE_FUNCTIONS(X) \
	X(rtnl_addr_add) \
	X(rtnl_addr_alloc) \
	X(rtnl_addr_put) \
	X(rtnl_addr_set_flags) \
	X(rtnl_addr_set_ifindex) \
	X(rtnl_addr_set_local) \
	X(rtnl_link_add) \
	X(rtnl_link_alloc) \
	X(rtnl_link_bridge_add) \
	X(rtnl_link_bridge_set_flags) \
	X(rtnl_link_change) \
	X(rtnl_link_delete) \
	X(rtnl_link_get_ifindex) \
	X(rtnl_link_get_kernel) \
	X(rtnl_link_put) \
	X(rtnl_link_set_family) \
	X(rtnl_link_set_flags) \
	X(rtnl_link_set_ifindex) \
	X(rtnl_link_set_master) \
	X(rtnl_link_set_name) \
	X(rtnl_link_set_ns_fd) \
	X(rtnl_link_set_ns_pid) \
	X(rtnl_link_veth_alloc) \
	X(rtnl_link_veth_get_peer) \
	X(rtnl_route_add) \
	X(rtnl_route_add_nexthop) \
	X(rtnl_route_alloc) \
	X(rtnl_route_alloc_cache) \
	X(rtnl_route_get_dst) \
	X(rtnl_route_nh_alloc) \
	X(rtnl_route_nh_set_gateway) \
	X(rtnl_route_nh_set_ifindex) \
	X(rtnl_route_put) \
	X(rtnl_route_set_dst) \
	X(rtnl_route_set_family)

STK_LAZYLIB_DECLARE(nlroute, STK_NLROUTE_FUNCTIONS)

#ifndef STK_LAZY_DEFINING
#define nl_addr_get_binary_addr STK_LAZY(nl, nl_addr_get_binary_addr)
#define nl_addr_get_len STK_LAZY(nl, nl_addr_get_len)
#define nl_addr_get_prefixlen STK_LAZY(nl, nl_addr_get_prefixlen)
#define nl_addr_parse STK_LAZY(nl, nl_addr_parse)
#define nl_addr_put STK_LAZY(nl, nl_addr_put)
#define nl_cache_free STK_LAZY(nl, nl_cache_free)
#define nl_cache_get_first STK_LAZY(nl, nl_cache_get_first)
#define nl_cache_get_next STK_LAZY(nl, nl_cache_get_next)
#define nl_connect STK_LAZY(nl, nl_connect)
#define nl_geterror STK_LAZY(nl, nl_geterror)
#define nl_socket_alloc STK_LAZY(nl, nl_socket_alloc)
#define nl_socket_free STK_LAZY(nl, nl_socket_free)
#define rtnl_addr_add STK_LAZY(nlroute, rtnl_addr_add)
#define rtnl_addr_alloc STK_LAZY(nlroute, rtnl_addr_alloc)
#define rtnl_addr_put STK_LAZY(nlroute, rtnl_addr_put)
#define rtnl_addr_set_flags STK_LAZY(nlroute, rtnl_addr_set_flags)
#define rtnl_addr_set_ifindex STK_LAZY(nlroute, rtnl_addr_set_ifindex)
#define rtnl_addr_set_local STK_LAZY(nlroute, rtnl_addr_set_local)
#define rtnl_link_add STK_LAZY(nlroute, rtnl_link_add)
#define rtnl_link_alloc STK_LAZY(nlroute, rtnl_link_alloc)
#define rtnl_link_bridge_add STK_LAZY(nlroute, rtnl_link_bridge_add)
#define rtnl_link_bridge_set_flags STK_LAZY(nlroute, rtnl_link_bridge_set_flags)
#define rtnl_link_change STK_LAZY(nlroute, rtnl_link_change)
#define rtnl_link_delete STK_LAZY(nlroute, rtnl_link_delete)
#define rtnl_link_get_ifindex STK_LAZY(nlroute, rtnl_link_get_ifindex)
#define rtnl_link_get_kernel STK_LAZY(nlroute, rtnl_link_get_kernel)
#define rtnl_link_put STK_LAZY(nlroute, rtnl_link_put)
#define rtnl_link_set_family STK_LAZY(nlroute, rtnl_link_set_family)
#define rtnl_link_set_flags STK_LAZY(nlroute, rtnl_link_set_flags)
#define rtnl_link_set_ifindex STK_LAZY(nlroute, rtnl_link_set_ifindex)
#define rtnl_link_set_master STK_LAZY(nlroute, rtnl_link_set_master)
#define rtnl_link_set_name STK_LAZY(nlroute, rtnl_link_set_name)
#define rtnl_link_set_ns_fd STK_LAZY(nlroute, rtnl_link_set_ns_fd)
#define rtnl_link_set_ns_pid STK_LAZY(nlroute, rtnl_link_set_ns_pid)
#define rtnl_link_veth_alloc STK_LAZY(nlroute, rtnl_link_veth_alloc)
#define rtnl_link_veth_get_peer STK_LAZY(nlroute, rtnl_link_veth_get_peer)
#define rtnl_route_add STK_LAZY(nlroute, rtnl_route_add)
#define rtnl_route_add_nexthop STK_LAZY(nlroute, rtnl_route_add_nexthop)
#define rtnl_route_alloc STK_LAZY(nlroute, rtnl_route_alloc)
#define rtnl_route_alloc_cache STK_LAZY(nlroute, rtnl_route_alloc_cache)
#define rtnl_route_get_dst STK_LAZY(nlroute, rtnl_route_get_dst)
#define rtnl_route_nh_alloc STK_LAZY(nlroute, rtnl_route_nh_alloc)
#define rtnl_route_nh_set_gateway STK_LAZY(nlroute, rtnl_route_nh_set_gateway)
#define rtnl_route_nh_set_ifindex STK_LAZY(nlroute, rtnl_route_nh_set_ifindex)
#define rtnl_route_put STK_LAZY(nlroute, rtnl_route_put)
#define rtnl_route_set_dst STK_LAZY(nlroute, rtnl_route_set_dst)
#define rtnl_route_set_family STK_LAZY(nlroute, rtnl_route_set_family)
#endif

#endif

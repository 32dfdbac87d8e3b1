/* Networks: the contract of src/net/ with the rest of stack.
 *
 * A project's networks are Linux bridges (`stk-` + 8 hex), each with a subnet from the
 * address pool, an nftables table that forwards, masquerades, isolates and publishes
 * ports, and a veth per container per network. Everything is recorded under
 * `<state_root>/net/` before it is created, so that net_project_teardown() removes it
 * even after a crash. DNS and the loopback port proxy run on a libuv loop owned by the
 * caller (the supervisor): see net_runtime_*. */
#ifndef STK_NET_NET_H
#define STK_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "util/err.h"

struct net_ctx;

struct net_options {
	/* Pool carved into subnets for networks without ipam config; default 10.89.0.0/16. */
	const char *pool;
	/* Prefix length of each carved subnet; default 24. */
	int subnet_prefix;
	/* The same for IPv6 (enable_ipv6 networks without a subnet): a ULA pool, default
	 * fd00:89::/48 carved into /64s. */
	const char *pool6;
	int subnet_prefix6;
};

/* Opens the project's record (creating an empty one). The caller owns the context. */
int net_open(const char *state_root, const char *project, const struct net_options *opts,
	     struct net_ctx **out, struct stk_err *err);
void net_close(struct net_ctx *ctx);
/* Close libnftables and libnl, which only attach, detach and network changes use (they
 * are opened again on the next): for the supervisor while it idles. None of their
 * objects outlives a call of this module. */
void net_unload_libraries(void);

struct net_network_spec {
	const char *name; /* compose name, e.g. "default" */
	const char *subnet; /* ipam.config[0].subnet, or NULL to carve one from the pool */
	const char *gateway; /* or NULL: first address of the subnet */
	const char *ip_range; /* or NULL: the whole subnet */
	bool internal;
	bool enable_ipv6;
	const char *subnet6; /* the IPv6 ipam.config subnet, or NULL to carve one */
	const char *gateway6; /* or NULL: the first address of subnet6 */
	/* An existing bridge whose rules the record says were loaded, unchanged since, is
	 * left as it is: no nftables run (run's networks; up always reloads them). */
	bool reuse;
};

/* Creates the bridge, its gateway address and its nftables table. Idempotent: an
 * existing network of that name is brought back to what the record says. */
int net_network_create(struct net_ctx *ctx, const struct net_network_spec *spec,
		       struct stk_err *err);

enum net_proto { NET_TCP, NET_UDP };

struct net_port {
	enum net_proto proto;
	const char *host_ip; /* NULL or "0.0.0.0": every address */
	/* 0: a free port of the ephemeral range; with host_port_end above it, the first
	 * free port of host_port..host_port_end (as Docker picks them). */
	uint16_t host_port;
	uint16_t host_port_end;
	uint16_t container_port;
};

struct net_endpoint_spec {
	const char *network; /* compose network name, created before */
	const char *container; /* container name, e.g. "proj-web-1" */
	const char *service; /* service name, resolves to every replica */
	const char *id; /* the engine's container id (for network_mode service:NAME), or NULL */
	const char *hostname; /* or NULL */
	const char *const *aliases;
	size_t naliases;
	const char *ipv4; /* ipv4_address, or NULL to lease one */
	const char *ipv6; /* ipv6_address (enable_ipv6 networks), or NULL to lease one */
	const char *ifname; /* name inside the container; default "eth0" */
	/* The container's network namespace: an fd (preferred) or, if netns_fd < 0, a pid. */
	int netns_fd;
	pid_t pid;
	bool default_route; /* route 0.0.0.0/0 via this network's gateway */
	const struct net_port *ports;
	size_t nports;
	/* Or NULL: receives the host port each of ports got (nports of them). */
	uint16_t *host_ports_out;
};

/* Checks that every published port is free on the host (a range: that one of its ports
 * is; a random port: nothing to check); the error names the port. Call before anything
 * of the project starts. */
int net_ports_check(const struct net_port *ports, size_t nports, struct stk_err *err);

/* Leases an address, creates the veth pair, moves one end into the container's netns,
 * renames it, addresses it, routes through the gateway, and publishes ports. The leased
 * address is written to ip_out. */
int net_endpoint_attach(struct net_ctx *ctx, const struct net_endpoint_spec *spec, char ip_out[16],
			struct stk_err *err);

/* The IPv6 address a container leased on a network ("" when the network has none). */
int net_endpoint_address6(struct net_ctx *ctx, const char *container, const char *network,
			  char out[46], struct stk_err *err);

/* The engine ids of the containers of a service attached to the project's networks, in
 * the order they were attached, each once (network_mode service:NAME joins one of them).
 * The caller frees each and the array. */
int net_service_containers(const char *state_root, const char *project, const char *service,
			   char ***ids_out, size_t *n_out, struct stk_err *err);

/* Removes a container from every network: veths, leases and published ports. */
int net_endpoint_detach(struct net_ctx *ctx, const char *container, struct stk_err *err);

/* Removes every bridge, veth, nftables table and lease recorded for the project, then
 * the record itself. Works from the record alone: nothing needs to be running, and
 * objects already gone are skipped. */
int net_project_teardown(const char *state_root, const char *project, struct stk_err *err);

/* The gateway address of a network of the project (the container's DNS server). */
int net_network_gateway(struct net_ctx *ctx, const char *network, char gw_out[16],
			struct stk_err *err);

/* ---- files for the container ---- */

struct net_resolv_spec {
	const char *nameserver; /* the gateway of the container's first network */
	const char *const *dns; /* compose `dns`: listed after the nameserver */
	size_t ndns;
	/* Without nameserver and dns: the nameservers (and the search and options lines not
	 * given here) of this file, the host's /etc/resolv.conf. Loopback servers cannot be
	 * reached from a container's own namespace and are left out, unless keep_loopback
	 * (network_mode host). */
	const char *host_resolv_conf;
	bool keep_loopback;
	const char *const *search;
	size_t nsearch;
	const char *const *options;
	size_t noptions;
};

/* Writes /etc/resolv.conf content for a container to path (atomically). */
int net_write_resolv_conf(const char *path, const struct net_resolv_spec *spec,
			  struct stk_err *err);

struct net_hosts_spec {
	const char *hostname;
	const char *ip; /* the container's own address, or NULL */
	const char *ip6; /* its IPv6 address, or NULL */
	const char *const *extra_hosts; /* "name:ip" or "name=ip"; ip may be host-gateway */
	size_t nextra;
	const char *host_gateway; /* address that host-gateway means */
	const char *base; /* a file whose lines come first (the host's /etc/hosts for
			   * network_mode host) instead of the localhost lines */
};

/* Writes /etc/hosts content for a container to path (atomically). */
int net_write_hosts(const char *path, const struct net_hosts_spec *spec, struct stk_err *err);

/* ---- runtime: DNS server and loopback proxies on a libuv loop ---- */

struct net_runtime;

struct net_runtime_options {
	const char *resolv_conf; /* upstream resolvers; default /etc/resolv.conf */
	uint16_t dns_port; /* default 53 */
	unsigned upstream_timeout_ms; /* default 2000 */
};

/* The DNS server opens ldns at its first query; a command that only serves DNS loads it
 * up front instead, to fail at once with the package to install. */
int net_dns_preload(struct stk_err *err);

/* Serves DNS on every gateway of the project and proxies its published ports on the
 * host's loopback. Reads the record; call net_runtime_reload() after it changed. */
int net_runtime_start(uv_loop_t *loop, const char *state_root, const char *project,
		      const struct net_runtime_options *opts, struct net_runtime **out,
		      struct stk_err *err);
int net_runtime_reload(struct net_runtime *rt, struct stk_err *err);
/* Closes every handle; the runtime is freed once the loop has run the close callbacks. */
void net_runtime_stop(struct net_runtime *rt);

#endif

/* Private to src/net/: the on-disk record and the helpers the files share. */
#ifndef STK_NET_INTERNAL_H
#define STK_NET_INTERNAL_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"

/* ---- record.c: what exists (or may exist) for a project ---- */

struct net_port_rec {
	enum net_proto proto;
	char host_ip[INET6_ADDRSTRLEN]; /* "" for every address, IPv4 and IPv6 */
	uint16_t host_port, container_port;
};

struct net_ep_rec {
	char *container, *service, *hostname, *network;
	char *id; /* the engine's container id, or "" */
	char **aliases;
	size_t naliases;
	char ip[INET_ADDRSTRLEN];
	char ip6[INET6_ADDRSTRLEN]; /* "" unless the network has IPv6 */
	char veth[IFNAMSIZ]; /* host end */
	struct net_port_rec *ports;
	size_t nports;
};

struct net_nw_rec {
	char *name;
	char bridge[IFNAMSIZ]; /* also the nftables table name */
	char subnet[INET_ADDRSTRLEN + 3];
	char gateway[INET_ADDRSTRLEN];
	char ip_range[INET_ADDRSTRLEN + 3];
	bool internal;
	bool ipv6; /* enable_ipv6: subnet6 and gateway6 are set */
	char subnet6[INET6_ADDRSTRLEN + 4];
	char gateway6[INET6_ADDRSTRLEN];
	/* The nftables rules last loaded for it by net_network_create (NULL: not known to
	 * be loaded; cleared when an endpoint's published ports change them). */
	char *nft;
};

struct net_record {
	char *project;
	struct net_nw_rec *nws;
	size_t nnws;
	struct net_ep_rec *eps;
	size_t neps;
};

char *net_record_path(const char *state_root, const char *project);
/* A missing file is an empty record. */
int net_record_load(const char *state_root, const char *project, struct net_record *rec,
		    struct stk_err *err);
/* tmp + rename (no fsync: see net_write_file_atomic). */
int net_record_save(const char *state_root, const struct net_record *rec, struct stk_err *err);
void net_record_free(struct net_record *rec);
struct net_nw_rec *net_record_network(struct net_record *rec, const char *name);
struct net_nw_rec *net_record_add_network(struct net_record *rec);
struct net_ep_rec *net_record_add_endpoint(struct net_record *rec);
void net_record_remove_endpoint(struct net_record *rec, size_t i);
/* Every project's record under state_root, to check subnets against each other. */
int net_record_load_all(const char *state_root, struct net_record **out, size_t *n,
			struct stk_err *err);
/* Exclusive lock over the whole net state: leases and subnets are shared. */
int net_lock(const char *state_root, struct stk_err *err);

/* ---- ports.c ---- */

/* The ports with a host port each: a fixed one that no other container publishes, the
 * first free one of a range, or a free ephemeral one. Call under net_lock(). */
int net_ports_resolve(const char *state_root, const char *container, const struct net_port *in,
		      size_t n, struct net_port **out, struct stk_err *err);

/* ---- naming.c ---- */

uint32_t net_hash(const char *a, const char *b);
/* "stk-" + 8 hex of hash(project, network). */
void net_bridge_name(const char *project, const char *network, char out[IFNAMSIZ]);
/* "stv-" + 8 hex of hash(container, network): the host end of a veth. */
void net_veth_name(const char *container, const char *network, char out[IFNAMSIZ]);

/* ---- ipam.c ---- */

struct net_cidr {
	uint32_t addr; /* host order */
	int prefix;
};

int net_cidr_split(const char *s, char *buf, size_t size, int max, int *prefix);
int net_cidr_parse(const char *s, struct net_cidr *out);
void net_cidr_format(const struct net_cidr *c, char *out, size_t n);
bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b);
bool net_cidr_contains(const struct net_cidr *c, uint32_t addr);
void net_ip_format(uint32_t addr, char out[INET_ADDRSTRLEN]);
int net_ip_parse(const char *s, uint32_t *out);
/* Picks the first subnet of `prefix` bits in pool that overlaps none of `taken`. */
int net_ipam_carve(const struct net_cidr *pool, int prefix, const struct net_cidr *taken,
		   size_t ntaken, struct net_cidr *out, struct stk_err *err);
/* Picks the first free host address of nw (within its ip_range) not used in rec. */
int net_ipam_lease(const struct net_nw_rec *nw, const struct net_record *rec,
		   char out[INET_ADDRSTRLEN], struct stk_err *err);

/* ---- ipam6.c ---- */

struct net_cidr6 {
	struct in6_addr addr;
	int prefix;
};

int net_ip6_parse(const char *s, struct in6_addr *out);
int net_cidr6_parse(const char *s, struct net_cidr6 *out);
void net_cidr6_format(const struct net_cidr6 *c, char *out, size_t n);
bool net_cidr6_contains(const struct net_cidr6 *c, const struct in6_addr *a);
bool net_cidr6_overlap(const struct net_cidr6 *a, const struct net_cidr6 *b);
void net_cidr6_nth(const struct net_cidr6 *c, uint64_t offset, char out[INET6_ADDRSTRLEN]);
int net_ipam6_carve(const struct net_cidr6 *pool, int prefix, const struct net_cidr6 *taken,
		    size_t ntaken, struct net_cidr6 *out, struct stk_err *err);
bool net_ipam6_in_use(const struct net_record *rec, const char *network, const char *ip);
int net_ipam6_lease(const struct net_nw_rec *nw, const struct net_record *rec,
		    char out[INET6_ADDRSTRLEN], struct stk_err *err);

/* ---- netlink.c ---- */

struct nl_sock;
int net_nl_open(struct nl_sock **out, struct stk_err *err);
/* A netlink socket living in another network namespace (fd, or pid if fd < 0). */
int net_nl_open_in(int netns_fd, pid_t pid, struct nl_sock **out, struct stk_err *err);
void net_nl_close(struct nl_sock *sk);
int net_nl_link_exists(struct nl_sock *sk, const char *name);
/* ipv6_no_dad: the bridge's own IPv6 addresses (its link-local one) skip duplicate
 * address detection. */
int net_nl_bridge_ensure(struct nl_sock *sk, const char *name, const char *addr_cidr,
			 bool ipv6_no_dad, struct stk_err *err);
/* Creates host<->peer, attaches host to bridge, moves peer into the netns. */
int net_nl_veth_create(struct nl_sock *sk, const char *host, const char *peer_tmp,
		       const char *bridge, int netns_fd, pid_t pid, struct stk_err *err);
int net_nl_link_rename_up(struct nl_sock *sk, const char *from, const char *to,
			  struct stk_err *err);
/* IPv4 or IPv6 (by the form of cidr); IPv6 addresses skip DAD, as Docker's do. */
int net_nl_addr_add(struct nl_sock *sk, const char *ifname, const char *cidr, struct stk_err *err);
/* 0.0.0.0/0 or ::/0, by the form of gateway. */
int net_nl_route_default(struct nl_sock *sk, const char *ifname, const char *gateway,
			 struct stk_err *err);
int net_nl_link_up(struct nl_sock *sk, const char *name, struct stk_err *err);
/* Deletes a link if it exists; a missing link is not an error. */
int net_nl_link_delete(struct nl_sock *sk, const char *name, struct stk_err *err);
/* Destinations of the host's IPv4 routes (except default routes and stack's bridges). */
int net_nl_routes(struct nl_sock *sk, struct net_cidr **out, size_t *n, struct stk_err *err);
/* The same for IPv6 (all tables: local /128s and fe80::/64 never meet a ULA pool). */
int net_nl_routes6(struct nl_sock *sk, struct net_cidr6 **out, size_t *n, struct stk_err *err);

/* ---- nft.c ---- */

/* Replaces the network's table atomically with what the record says. */
int net_nft_sync(const struct net_record *rec, const struct net_nw_rec *nw, struct stk_err *err);
int net_nft_delete(const char *table, struct stk_err *err);
/* The ruleset text net_nft_sync() would load (for tests). */
char *net_nft_render(const struct net_record *rec, const struct net_nw_rec *nw);

/* ---- misc ---- */

int net_write_file_atomic(const char *path, const char *data, size_t len, struct stk_err *err);
int net_sysctl_write(const char *path, const char *value, struct stk_err *err);

#endif

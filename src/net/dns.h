/* Private to src/net/: the names one network's DNS server knows, and the handling of
 * one DNS message against them. No I/O here, so the message code can be fuzzed. */
#ifndef STK_NET_DNS_H
#define STK_NET_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/internal.h"

struct net_dns_name {
	char *name; /* lower case, no trailing dot */
	uint32_t *addrs; /* host order */
	size_t naddrs;
	unsigned rotor; /* replicas are answered in turn, each first once */
	struct in6_addr *addrs6; /* AAAA, on enable_ipv6 networks */
	size_t naddrs6;
	unsigned rotor6;
};

struct net_dns_ptr {
	uint32_t addr;
	char *name;
};

struct net_dns_ptr6 {
	struct in6_addr addr;
	char *name;
};

/* What a network's clients may resolve: only containers on that network. */
struct net_dns_zone {
	struct net_cidr subnet;
	struct net_dns_name *names;
	size_t nnames;
	struct net_dns_ptr *ptrs;
	size_t nptrs;
	bool has6; /* the network has IPv6: subnet6 is set */
	struct net_cidr6 subnet6;
	struct net_dns_ptr6 *ptrs6;
	size_t nptrs6;
};

void net_dns_zone_init(struct net_dns_zone *z, const struct net_cidr *subnet);
/* Adds addr under name (case-insensitive; duplicates ignored). */
void net_dns_zone_add(struct net_dns_zone *z, const char *name, uint32_t addr);
void net_dns_zone_add_ptr(struct net_dns_zone *z, uint32_t addr, const char *name);
void net_dns_zone_set_subnet6(struct net_dns_zone *z, const struct net_cidr6 *subnet6);
void net_dns_zone_add6(struct net_dns_zone *z, const char *name, const struct in6_addr *addr);
void net_dns_zone_add_ptr6(struct net_dns_zone *z, const struct in6_addr *addr, const char *name);
void net_dns_zone_free(struct net_dns_zone *z);
const struct net_dns_name *net_dns_zone_find(const struct net_dns_zone *z, const char *name);

enum net_dns_action {
	NET_DNS_DROP, /* not worth an answer (not a query, too short to carry an id) */
	NET_DNS_REPLY, /* *out holds the reply */
	NET_DNS_FORWARD, /* not ours: ask the upstream resolvers */
};

/* Handles one query. On NET_DNS_REPLY *out is a malloc'd wire message; a reply over UDP
 * that exceeds what the client accepts is truncated (TC). */
/* A bare header answering msg with rcode, made without ldns (FORMERR for a message ldns
 * cannot parse, SERVFAIL when ldns cannot be loaded); NET_DNS_DROP when msg carries no
 * query header. */
enum net_dns_action net_dns_rcode_raw(const uint8_t *msg, size_t len, int rcode, uint8_t **out,
				      size_t *outlen);
enum net_dns_action net_dns_handle(struct net_dns_zone *z, const uint8_t *msg, size_t len, bool udp,
				   uint8_t **out, size_t *outlen);
/* The largest reply the sender of this query takes over UDP (512, or its EDNS size). */
size_t net_dns_udp_limit(const uint8_t *msg, size_t len);
/* A reply with only the question and rcode (SERVFAIL when upstreams fail). Returns -1
 * when the query cannot be parsed. */
int net_dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t **out, size_t *outlen);

#endif

/* IPv6 address management for enable_ipv6 networks: subnets carved from a ULA pool
 * (default fd00:89::/48 in /64s, as Docker allocates a ULA subnet for an IPv6 network
 * given none) and leases within a subnet. Addresses are 128-bit integers here, so that
 * carving and leasing are plain arithmetic. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

typedef unsigned __int128 u128;

static u128 to_u128(const struct in6_addr *a)
{
	u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = v << 8 | a->s6_addr[i];
	return v;
}

static void from_u128(u128 v, struct in6_addr *a)
{
	int i;

	for (i = 15; i >= 0; i--) {
		a->s6_addr[i] = (uint8_t)v;
		v >>= 8;
	}
}

static u128 mask6(int prefix)
{
	return prefix == 0 ? 0 : ~(u128)0 << (128 - prefix);
}

int net_ip6_parse(const char *s, struct in6_addr *out)
{
	return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
}

int net_cidr6_parse(const char *s, struct net_cidr6 *out)
{
	char buf[INET6_ADDRSTRLEN + 5];
	int prefix;

	if (net_cidr_split(s, buf, sizeof(buf), 128, &prefix) < 0)
		return -1;
	if (net_ip6_parse(buf, &out->addr) < 0)
		return -1;
	out->prefix = prefix;
	from_u128(to_u128(&out->addr) & mask6(out->prefix), &out->addr);
	return 0;
}

void net_cidr6_format(const struct net_cidr6 *c, char *out, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, &c->addr, ip, sizeof(ip));
	snprintf(out, n, "%s/%d", ip, c->prefix);
}

bool net_cidr6_contains(const struct net_cidr6 *c, const struct in6_addr *a)
{
	return (to_u128(a) & mask6(c->prefix)) == to_u128(&c->addr);
}

bool net_cidr6_overlap(const struct net_cidr6 *a, const struct net_cidr6 *b)
{
	int p = a->prefix < b->prefix ? a->prefix : b->prefix;

	return (to_u128(&a->addr) & mask6(p)) == (to_u128(&b->addr) & mask6(p));
}

/* The address `offset` past the subnet's first one (the gateway is offset 1). */
void net_cidr6_nth(const struct net_cidr6 *c, uint64_t offset, char out[INET6_ADDRSTRLEN])
{
	struct in6_addr a;

	from_u128(to_u128(&c->addr) + offset, &a);
	inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN);
}

int net_ipam6_carve(const struct net_cidr6 *pool, int prefix, const struct net_cidr6 *taken,
		    size_t ntaken, struct net_cidr6 *out, struct stk_err *err)
{
	char pool_s[INET6_ADDRSTRLEN + 5];
	uint64_t i, n;
	size_t j;

	net_cidr6_format(pool, pool_s, sizeof(pool_s));
	if (prefix < pool->prefix || prefix > 120)
		return stk_err_set(err, EINVAL, "subnet size /%d does not fit pool %s", prefix,
				   pool_s);
	/* A /48 holds 65536 /64s; looking further than that is pointless. */
	n = prefix - pool->prefix >= 16 ? 65536 : 1ull << (prefix - pool->prefix);
	for (i = 0; i < n; i++) {
		struct net_cidr6 c = {.prefix = prefix};

		from_u128(to_u128(&pool->addr) + ((u128)i << (128 - prefix)), &c.addr);
		for (j = 0; j < ntaken; j++)
			if (net_cidr6_overlap(&c, &taken[j]))
				break;
		if (j == ntaken) {
			*out = c;
			return 0;
		}
	}
	return stk_err_set(err, ENOSPC,
			   "IPv6 address pool %s is exhausted: every /%d overlaps "
			   "a host route or another network",
			   pool_s, prefix);
}

static bool ip6_in_use(const struct net_record *rec, const char *network, const struct in6_addr *a)
{
	struct in6_addr b;
	size_t i;

	for (i = 0; i < rec->neps; i++)
		if (strcmp(rec->eps[i].network, network) == 0 && rec->eps[i].ip6[0] &&
		    net_ip6_parse(rec->eps[i].ip6, &b) == 0 && memcmp(a, &b, sizeof(b)) == 0)
			return true;
	return false;
}

bool net_ipam6_in_use(const struct net_record *rec, const char *network, const char *ip)
{
	struct in6_addr a;

	return net_ip6_parse(ip, &a) == 0 && ip6_in_use(rec, network, &a);
}

int net_ipam6_lease(const struct net_nw_rec *nw, const struct net_record *rec,
		    char out[INET6_ADDRSTRLEN], struct stk_err *err)
{
	struct net_cidr6 subnet;
	struct in6_addr gw, a;
	u128 base, size;
	uint64_t i;

	if (net_cidr6_parse(nw->subnet6, &subnet) < 0 || net_ip6_parse(nw->gateway6, &gw) < 0)
		return stk_err_set(err, EINVAL, "network %s: bad IPv6 subnet %s", nw->name,
				   nw->subnet6);
	base = to_u128(&subnet.addr);
	size = subnet.prefix >= 1 ? (u128)1 << (128 - subnet.prefix) : 0;
	/* Offset 0 is the subnet-router anycast address; never lease it. */
	for (i = 1; i < 65536 && i < size; i++) {
		from_u128(base + i, &a);
		if (memcmp(&a, &gw, sizeof(a)) == 0 || ip6_in_use(rec, nw->name, &a))
			continue;
		inet_ntop(AF_INET6, &a, out, INET6_ADDRSTRLEN);
		return 0;
	}
	return stk_err_set(err, ENOSPC, "network %s: no free IPv6 address in %s", nw->name,
			   nw->subnet6);
}

/* Address management: subnets carved from the pool so that none overlaps a host route
 * or another network, and leases within a network's subnet (or its ip_range). Leases
 * live in the project record; the caller holds net_lock() around both. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/internal.h"

static uint32_t prefix_mask(int prefix)
{
	return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

int net_ip_parse(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -1;
	*out = ntohl(a.s_addr);
	return 0;
}

void net_ip_format(uint32_t addr, char out[INET_ADDRSTRLEN])
{
	struct in_addr a = {.s_addr = htonl(addr)};

	inet_ntop(AF_INET, &a, out, INET_ADDRSTRLEN);
}

/* "ADDR/PREFIX" → ADDR in buf (NUL-terminated) and the prefix, at most max. */
int net_cidr_split(const char *s, char *buf, size_t size, int max, int *prefix)
{
	char *slash, *end;
	long n;

	if (snprintf(buf, size, "%s", s) >= (int)size)
		return -1;
	slash = strchr(buf, '/');
	if (!slash)
		return -1;
	*slash = 0;
	n = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || n < 0 || n > max)
		return -1;
	*prefix = (int)n;
	return 0;
}

int net_cidr_parse(const char *s, struct net_cidr *out)
{
	char buf[INET_ADDRSTRLEN + 4];
	int prefix;

	if (net_cidr_split(s, buf, sizeof(buf), 32, &prefix) < 0)
		return -1;
	if (net_ip_parse(buf, &out->addr) < 0)
		return -1;
	out->prefix = prefix;
	out->addr &= prefix_mask(out->prefix);
	return 0;
}

void net_cidr_format(const struct net_cidr *c, char *out, size_t n)
{
	char ip[INET_ADDRSTRLEN];

	net_ip_format(c->addr, ip);
	snprintf(out, n, "%s/%d", ip, c->prefix);
}

bool net_cidr_contains(const struct net_cidr *c, uint32_t addr)
{
	return (addr & prefix_mask(c->prefix)) == c->addr;
}

bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b)
{
	int p = a->prefix < b->prefix ? a->prefix : b->prefix;

	return (a->addr & prefix_mask(p)) == (b->addr & prefix_mask(p));
}

int net_ipam_carve(const struct net_cidr *pool, int prefix, const struct net_cidr *taken,
		   size_t ntaken, struct net_cidr *out, struct stk_err *err)
{
	char pool_s[32];
	uint64_t step, n, i;
	size_t j;

	net_cidr_format(pool, pool_s, sizeof(pool_s));
	if (prefix < pool->prefix || prefix > 30)
		return stk_err_set(err, EINVAL, "subnet size /%d does not fit pool %s", prefix,
				   pool_s);
	step = 1ull << (32 - prefix);
	n = 1ull << (prefix - pool->prefix);
	for (i = 0; i < n; i++) {
		struct net_cidr c = {.addr = pool->addr + (uint32_t)(i * step), .prefix = prefix};

		for (j = 0; j < ntaken; j++)
			if (net_cidr_overlap(&c, &taken[j]))
				break;
		if (j == ntaken) {
			*out = c;
			return 0;
		}
	}
	return stk_err_set(err, ENOSPC,
			   "address pool %s is exhausted: every /%d overlaps a "
			   "host route or another network",
			   pool_s, prefix);
}

static bool ip_in_use(const struct net_record *rec, const char *network, const char *ip)
{
	size_t i;

	for (i = 0; i < rec->neps; i++)
		if (strcmp(rec->eps[i].network, network) == 0 && strcmp(rec->eps[i].ip, ip) == 0)
			return true;
	return false;
}

int net_ipam_lease(const struct net_nw_rec *nw, const struct net_record *rec,
		   char out[INET_ADDRSTRLEN], struct stk_err *err)
{
	struct net_cidr subnet, range;
	uint32_t first, last, a, gw = 0;

	if (net_cidr_parse(nw->subnet, &subnet) < 0)
		return stk_err_set(err, EINVAL, "network %s: bad subnet %s", nw->name, nw->subnet);
	range = subnet;
	if (nw->ip_range[0] && net_cidr_parse(nw->ip_range, &range) < 0)
		return stk_err_set(err, EINVAL, "network %s: bad ip_range %s", nw->name,
				   nw->ip_range);
	net_ip_parse(nw->gateway, &gw);
	first = range.addr;
	last = range.addr | ~prefix_mask(range.prefix);
	for (a = first; a <= last && a >= first; a++) {
		char s[INET_ADDRSTRLEN];

		/* Network and broadcast addresses of the subnet are never leased. */
		if (a == subnet.addr || a == (subnet.addr | ~prefix_mask(subnet.prefix)) || a == gw)
			continue;
		if (!net_cidr_contains(&subnet, a))
			continue;
		net_ip_format(a, s);
		if (!ip_in_use(rec, nw->name, s)) {
			memcpy(out, s, INET_ADDRSTRLEN);
			return 0;
		}
		if (a == 0xffffffffu)
			break;
	}
	return stk_err_set(err, ENOSPC, "network %s: no free address in %s", nw->name,
			   nw->ip_range[0] ? nw->ip_range : nw->subnet);
}

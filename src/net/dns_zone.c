/* The names a network's DNS server answers: service names (every replica), container
 * names, hostnames and aliases of the containers on that network, and PTR records for
 * their addresses. Linear lookups: a project has tens of names, not thousands. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/dns.h"
#include "util/str.h"

void net_dns_zone_init(struct net_dns_zone *z, const struct net_cidr *subnet)
{
	memset(z, 0, sizeof(*z));
	z->subnet = *subnet;
}

static char *normalize(const char *name)
{
	size_t n = strlen(name), i;
	char *s;

	while (n && name[n - 1] == '.')
		n--;
	s = xstrndup(name, n);
	for (i = 0; i < n; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	return s;
}

const struct net_dns_name *net_dns_zone_find(const struct net_dns_zone *z, const char *name)
{
	size_t n = strlen(name), i;

	while (n && name[n - 1] == '.')
		n--;
	for (i = 0; i < z->nnames; i++)
		if (strlen(z->names[i].name) == n && strncasecmp(z->names[i].name, name, n) == 0)
			return &z->names[i];
	return NULL;
}

static struct net_dns_name *name_get(struct net_dns_zone *z, const char *name)
{
	struct net_dns_name *e = (struct net_dns_name *)net_dns_zone_find(z, name);

	if (!e) {
		z->names = xrealloc(z->names, (z->nnames + 1) * sizeof(*z->names));
		e = &z->names[z->nnames++];
		memset(e, 0, sizeof(*e));
		e->name = normalize(name);
	}
	return e;
}

void net_dns_zone_add(struct net_dns_zone *z, const char *name, uint32_t addr)
{
	struct net_dns_name *e;
	size_t i;

	if (!*name)
		return;
	e = name_get(z, name);
	for (i = 0; i < e->naddrs; i++)
		if (e->addrs[i] == addr)
			return;
	e->addrs = xrealloc(e->addrs, (e->naddrs + 1) * sizeof(*e->addrs));
	e->addrs[e->naddrs++] = addr;
}

void net_dns_zone_add_ptr(struct net_dns_zone *z, uint32_t addr, const char *name)
{
	z->ptrs = xrealloc(z->ptrs, (z->nptrs + 1) * sizeof(*z->ptrs));
	z->ptrs[z->nptrs].addr = addr;
	z->ptrs[z->nptrs].name = normalize(name);
	z->nptrs++;
}

void net_dns_zone_set_subnet6(struct net_dns_zone *z, const struct net_cidr6 *subnet6)
{
	z->has6 = true;
	z->subnet6 = *subnet6;
}

void net_dns_zone_add6(struct net_dns_zone *z, const char *name, const struct in6_addr *addr)
{
	struct net_dns_name *e;
	size_t i;

	if (!*name)
		return;
	e = name_get(z, name);
	for (i = 0; i < e->naddrs6; i++)
		if (memcmp(&e->addrs6[i], addr, sizeof(*addr)) == 0)
			return;
	e->addrs6 = xrealloc(e->addrs6, (e->naddrs6 + 1) * sizeof(*e->addrs6));
	e->addrs6[e->naddrs6++] = *addr;
}

void net_dns_zone_add_ptr6(struct net_dns_zone *z, const struct in6_addr *addr, const char *name)
{
	z->ptrs6 = xrealloc(z->ptrs6, (z->nptrs6 + 1) * sizeof(*z->ptrs6));
	z->ptrs6[z->nptrs6].addr = *addr;
	z->ptrs6[z->nptrs6].name = normalize(name);
	z->nptrs6++;
}

void net_dns_zone_free(struct net_dns_zone *z)
{
	size_t i;

	for (i = 0; i < z->nnames; i++) {
		free(z->names[i].name);
		free(z->names[i].addrs);
		free(z->names[i].addrs6);
	}
	for (i = 0; i < z->nptrs; i++)
		free(z->ptrs[i].name);
	for (i = 0; i < z->nptrs6; i++)
		free(z->ptrs6[i].name);
	free(z->names);
	free(z->ptrs);
	free(z->ptrs6);
	memset(z, 0, sizeof(*z));
}

/* libFuzzer target: bytes from a container → the DNS server's message handling (ldns
 * parse, zone lookup, PTR parsing, reply encoding), then the SERVFAIL path used when
 * upstreams fail. Every reply must itself parse as a DNS response to the same id. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "net/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct net_dns_zone zone;

static void zone_setup(void)
{
	struct net_cidr subnet;

	if (zone.nnames)
		return;
	net_cidr_parse("10.89.0.0/24", &subnet);
	net_dns_zone_init(&zone, &subnet);
	net_dns_zone_add(&zone, "web", 0x0a590002);
	net_dns_zone_add(&zone, "web", 0x0a590003);
	net_dns_zone_add(&zone, "proj-web-1", 0x0a590002);
	net_dns_zone_add(&zone, "www.alias", 0x0a590003);
	/* Enough replicas that a UDP answer must be truncated. */
	for (uint32_t i = 0; i < 40; i++)
		net_dns_zone_add(&zone, "many", 0x0a590010 + i);
	net_dns_zone_add_ptr(&zone, 0x0a590002, "proj-web-1");
	net_dns_zone_add_ptr(&zone, 0x0a590003, "proj-web-2");
	/* IPv6: AAAA answers and ip6.arpa PTR parsing. */
	{
		struct net_cidr6 subnet6;
		struct in6_addr a;

		net_cidr6_parse("fd00:89::/64", &subnet6);
		net_dns_zone_set_subnet6(&zone, &subnet6);
		net_ip6_parse("fd00:89::2", &a);
		net_dns_zone_add6(&zone, "web", &a);
		net_dns_zone_add6(&zone, "proj-web-1", &a);
		net_dns_zone_add_ptr6(&zone, &a, "proj-web-1");
	}
}

static void check_reply(const uint8_t *q, size_t qlen, const uint8_t *r, size_t rlen)
{
	ldns_pkt *p = NULL;

	if (rlen < 12 || qlen < 2 || r[0] != q[0] || r[1] != q[1] || !(r[2] & 0x80))
		abort();
	/* The 12-byte FORMERR for unparseable input has no question; everything else must
	 * parse back. */
	if (rlen > 12 && ldns_wire2pkt(&p, r, rlen) != LDNS_STATUS_OK)
		abort();
	if (p)
		ldns_pkt_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL;
	size_t outlen = 0;

	zone_setup();
	/* The first byte chooses the transport: UDP replies may be truncated. */
	if (net_dns_handle(&zone, data, size, size && (data[0] & 1), &out, &outlen) ==
	    NET_DNS_REPLY)
		check_reply(data, size, out, outlen);
	free(out);
	out = NULL;
	if (net_dns_error_reply(data, size, LDNS_RCODE_SERVFAIL, &out, &outlen) == 0)
		check_reply(data, size, out, outlen);
	free(out);
	return 0;
}

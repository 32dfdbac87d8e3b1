/* One DNS message in, one decision out: answer from the network's zone, forward to the
 * upstream resolvers, or drop. The wire format is ldns's job (ldns_wire2pkt and
 * ldns_pkt2wire); this file only decides. Fuzzed by tests/fuzz/fuzz_dns.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/lazy_ldns.h"

#include "net/dns.h"
#include "util/cleanup.h"

/* Docker's embedded DNS answers with a TTL of 600; containers come and go, so short. */
#define DNS_TTL 600

static void pkt_freep(ldns_pkt **p)
{
	if (*p)
		ldns_pkt_free(*p);
}

#define _cleanup_pkt_ _cleanup_(pkt_freep)

static ldns_pkt *reply_new(const ldns_pkt *q, const ldns_rr *question, int rcode)
{
	ldns_pkt *r = ldns_pkt_new();

	if (!r)
		return NULL;
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, (uint8_t)rcode);
	if (question)
		ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(question));
	return r;
}

static enum net_dns_action emit(ldns_pkt *r, uint8_t **out, size_t *outlen)
{
	if (!r || ldns_pkt2wire(out, r, outlen) != LDNS_STATUS_OK)
		return NET_DNS_DROP;
	return NET_DNS_REPLY;
}

enum net_dns_action net_dns_rcode_raw(const uint8_t *msg, size_t len, int rcode, uint8_t **out,
				      size_t *outlen)
{
	uint8_t *r;

	if (len < 12 || (msg[2] & 0x80))
		return NET_DNS_DROP;
	r = malloc(12);
	if (!r)
		return NET_DNS_DROP;
	memset(r, 0, 12);
	r[0] = msg[0];
	r[1] = msg[1];
	r[2] = (uint8_t)(0x80 | (msg[2] & 0x79)); /* QR, opcode and RD of the query */
	r[3] = (uint8_t)rcode;
	*out = r;
	*outlen = 12;
	return NET_DNS_REPLY;
}

static void add_rr(ldns_pkt *r, const ldns_rr *question, ldns_rr_type type, ldns_rdf *rdata)
{
	ldns_rr *rr = ldns_rr_new();

	ldns_rr_set_owner(rr, ldns_rdf_clone(ldns_rr_owner(question)));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, DNS_TTL);
	ldns_rr_push_rdf(rr, rdata);
	ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
}

/* "d.c.b.a.in-addr.arpa" -> a.b.c.d; -1 if the name is not a full IPv4 reverse name. */
static int parse_reverse(const char *name, uint32_t *addr)
{
	unsigned o[4];
	int used = 0;

	if (sscanf(name, "%3u.%3u.%3u.%3u.in-addr.arpa%n", &o[0], &o[1], &o[2], &o[3], &used) !=
		    4 ||
	    (name[used] != 0 && strcmp(name + used, ".") != 0))
		return -1;
	if (o[0] > 255 || o[1] > 255 || o[2] > 255 || o[3] > 255)
		return -1;
	*addr = o[3] << 24 | o[2] << 16 | o[1] << 8 | o[0];
	return 0;
}

/* 32 nibble labels, lowest first, then ip6.arpa; -1 for anything else. */
static int parse_reverse6(const char *name, struct in6_addr *addr)
{
	const char *p = name;
	int i, v;

	memset(addr, 0, sizeof(*addr));
	for (i = 31; i >= 0; i--) {
		char c = p[0];

		if (!c || p[1] != '.')
			return -1;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = (c | 0x20) - 'a' + 10;
		else
			return -1;
		addr->s6_addr[i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
		p += 2;
	}
	return strcasecmp(p, "ip6.arpa") == 0 || strcasecmp(p, "ip6.arpa.") == 0 ? 0 : -1;
}

/* The PTR answer for an address of the network: its name, or NXDOMAIN (name NULL). */
static enum net_dns_action answer_ptr_name(const ldns_pkt *q, const ldns_rr *question,
					   const char *name, uint8_t **out, size_t *outlen)
{
	_cleanup_pkt_ ldns_pkt *r = NULL;

	if (!name) {
		r = reply_new(q, question, LDNS_RCODE_NXDOMAIN);
		return emit(r, out, outlen);
	}
	r = reply_new(q, question, LDNS_RCODE_NOERROR);
	if (r) {
		ldns_rdf *target = ldns_dname_new_frm_str(name);

		if (!target)
			return NET_DNS_DROP;
		add_rr(r, question, LDNS_RR_TYPE_PTR, target);
	}
	return emit(r, out, outlen);
}

static enum net_dns_action answer_ptr6(struct net_dns_zone *z, const ldns_pkt *q,
				       const ldns_rr *question, const struct in6_addr *addr,
				       uint8_t **out, size_t *outlen)
{
	size_t i;

	if (!z->has6 || !net_cidr6_contains(&z->subnet6, addr))
		return NET_DNS_FORWARD;
	for (i = 0; i < z->nptrs6; i++)
		if (memcmp(&z->ptrs6[i].addr, addr, sizeof(*addr)) == 0)
			return answer_ptr_name(q, question, z->ptrs6[i].name, out, outlen);
	return answer_ptr_name(q, question, NULL, out, outlen);
}

static enum net_dns_action answer_ptr(struct net_dns_zone *z, const ldns_pkt *q,
				      const ldns_rr *question, uint32_t addr, uint8_t **out,
				      size_t *outlen)
{
	size_t i;

	/* Addresses outside the network are the upstream's business. */
	if (!net_cidr_contains(&z->subnet, addr))
		return NET_DNS_FORWARD;
	for (i = 0; i < z->nptrs; i++)
		if (z->ptrs[i].addr == addr)
			return answer_ptr_name(q, question, z->ptrs[i].name, out, outlen);
	return answer_ptr_name(q, question, NULL, out, outlen);
}

/* A UDP reply larger than the client takes goes out truncated (TC, no answers), so that
 * the client asks again over TCP (RFC 1035 4.2.1, RFC 6891 6.2.5). */
static enum net_dns_action emit_limited(ldns_pkt *r, size_t limit, uint8_t **out, size_t *outlen)
{
	if (emit(r, out, outlen) != NET_DNS_REPLY)
		return NET_DNS_DROP;
	if (!limit || *outlen <= limit)
		return NET_DNS_REPLY;
	free(*out);
	*out = NULL;
	ldns_rr_list_deep_free(ldns_pkt_answer(r));
	ldns_pkt_set_answer(r, ldns_rr_list_new());
	ldns_pkt_set_ancount(r, 0);
	ldns_pkt_set_tc(r, true);
	return emit(r, out, outlen);
}

static enum net_dns_action answer_name(struct net_dns_zone *z, const ldns_pkt *q,
				       const ldns_rr *question, const char *name, size_t limit,
				       uint8_t **out, size_t *outlen)
{
	struct net_dns_name *e = (struct net_dns_name *)net_dns_zone_find(z, name);
	_cleanup_pkt_ ldns_pkt *r = NULL;
	size_t i, n;

	if (!e) {
		/* A bare name no container has cannot exist upstream either. */
		n = strlen(name);
		if (n && name[n - 1] == '.')
			n--;
		if (memchr(name, '.', n))
			return NET_DNS_FORWARD;
		r = reply_new(q, question, LDNS_RCODE_NXDOMAIN);
		return emit(r, out, outlen);
	}
	r = reply_new(q, question, LDNS_RCODE_NOERROR);
	if (!r)
		return NET_DNS_DROP;
	ldns_pkt_set_aa(r, true);
	/* AAAA and other types of a known name: the name exists, with no such record. */
	if (ldns_rr_get_type(question) == LDNS_RR_TYPE_A && e->naddrs) {
		unsigned start = e->rotor++ % (unsigned)e->naddrs;

		for (i = 0; i < e->naddrs; i++) {
			uint32_t be = htonl(e->addrs[(start + i) % e->naddrs]);

			add_rr(r, question, LDNS_RR_TYPE_A,
			       ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, sizeof(be), &be));
		}
	}
	if (ldns_rr_get_type(question) == LDNS_RR_TYPE_AAAA && e->naddrs6) {
		unsigned start = e->rotor6++ % (unsigned)e->naddrs6;

		for (i = 0; i < e->naddrs6; i++)
			add_rr(r, question, LDNS_RR_TYPE_AAAA,
			       ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, sizeof(struct in6_addr),
						     &e->addrs6[(start + i) % e->naddrs6]));
	}
	return emit_limited(r, limit, out, outlen);
}

static void strfree(char **s)
{
	free(*s);
}

/* What a client takes over UDP: 512 bytes, or its EDNS size up to 4096. */
static size_t udp_limit(const ldns_pkt *q)
{
	size_t limit = 512;

	if (ldns_pkt_edns(q) && ldns_pkt_edns_udp_size(q) > limit)
		limit = ldns_pkt_edns_udp_size(q) < 4096 ? ldns_pkt_edns_udp_size(q) : 4096;
	return limit;
}

enum net_dns_action net_dns_handle(struct net_dns_zone *z, const uint8_t *msg, size_t len, bool udp,
				   uint8_t **out, size_t *outlen)
{
	_cleanup_pkt_ ldns_pkt *q = NULL, *r = NULL;
	_cleanup_(strfree) char *name = NULL;
	const ldns_rr *question;
	size_t limit = 0;
	struct in6_addr addr6;
	uint32_t addr;

	if (ldns_wire2pkt(&q, msg, len) != LDNS_STATUS_OK)
		return net_dns_rcode_raw(msg, len, LDNS_RCODE_FORMERR, out, outlen);
	if (ldns_pkt_qr(q))
		return NET_DNS_DROP; /* a response: never answer one (no loops) */
	if (ldns_pkt_get_opcode(q) != LDNS_PACKET_QUERY) {
		r = reply_new(q, NULL, LDNS_RCODE_NOTIMPL);
		return emit(r, out, outlen);
	}
	if (ldns_pkt_qdcount(q) != 1 || !ldns_pkt_question(q) ||
	    ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1) {
		r = reply_new(q, NULL, LDNS_RCODE_FORMERR);
		return emit(r, out, outlen);
	}
	question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	if (ldns_rr_get_class(question) != LDNS_RR_CLASS_IN)
		return NET_DNS_FORWARD;
	name = ldns_rdf2str(ldns_rr_owner(question));
	if (!name)
		return NET_DNS_DROP;
	if (ldns_rr_get_type(question) == LDNS_RR_TYPE_PTR && parse_reverse(name, &addr) == 0)
		return answer_ptr(z, q, question, addr, out, outlen);
	if (ldns_rr_get_type(question) == LDNS_RR_TYPE_PTR && parse_reverse6(name, &addr6) == 0)
		return answer_ptr6(z, q, question, &addr6, out, outlen);
	if (udp)
		limit = udp_limit(q);
	return answer_name(z, q, question, name, limit, out, outlen);
}

size_t net_dns_udp_limit(const uint8_t *msg, size_t len)
{
	_cleanup_pkt_ ldns_pkt *q = NULL;

	if (ldns_wire2pkt(&q, msg, len) != LDNS_STATUS_OK)
		return 512;
	return udp_limit(q);
}

int net_dns_error_reply(const uint8_t *msg, size_t len, int rcode, uint8_t **out, size_t *outlen)
{
	_cleanup_pkt_ ldns_pkt *q = NULL, *r = NULL;
	const ldns_rr *question = NULL;

	if (ldns_wire2pkt(&q, msg, len) != LDNS_STATUS_OK)
		return -1;
	if (ldns_pkt_question(q) && ldns_rr_list_rr_count(ldns_pkt_question(q)) == 1)
		question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	r = reply_new(q, question, rcode);
	return emit(r, out, outlen) == NET_DNS_REPLY ? 0 : -1;
}

/* Unit tests for the pure parts of src/net: naming, CIDR arithmetic, subnet carving,
 * leases, the record round trip, the rendered nftables ruleset and generated files. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <ldns/ldns.h>

#include "net/dns.h"
#include "net/internal.h"
#include "util/str.h"

static void test_bridge_name_fits_ifnamsiz_and_is_stable(void **state)
{
	char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];

	(void)state;
	net_bridge_name("a-very-long-project-name-indeed", "default", a);
	net_bridge_name("a-very-long-project-name-indeed", "default", b);
	net_bridge_name("a-very-long-project-name-indeed", "backend", c);
	assert_int_equal(strlen(a), 12);
	assert_true(strncmp(a, "stk-", 4) == 0);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	assert_true(net_hash("ab", "c") != net_hash("a", "bc"));
}

static void test_cidr_parse_and_overlap(void **state)
{
	struct net_cidr a, b;
	char s[32];

	(void)state;
	assert_int_equal(net_cidr_parse("10.89.3.7/24", &a), 0);
	net_cidr_format(&a, s, sizeof(s));
	assert_string_equal(s, "10.89.3.0/24");
	assert_int_equal(net_cidr_parse("10.89.0.0/16", &b), 0);
	assert_true(net_cidr_overlap(&a, &b));
	assert_int_equal(net_cidr_parse("10.90.0.0/16", &b), 0);
	assert_false(net_cidr_overlap(&a, &b));
	assert_int_equal(net_cidr_parse("10.89.0.0/33", &b), -1);
	assert_int_equal(net_cidr_parse("10.89.0.0", &b), -1);
	assert_int_equal(net_cidr_parse("nonsense/8", &b), -1);
}

static void test_carve_skips_taken_subnets(void **state)
{
	struct net_cidr pool, taken[2], out;
	struct stk_err err;
	char s[32];

	(void)state;
	net_cidr_parse("10.89.0.0/16", &pool);
	net_cidr_parse("10.89.0.0/24", &taken[0]);
	net_cidr_parse("10.89.1.128/25", &taken[1]); /* a host route inside the 2nd /24 */
	assert_int_equal(net_ipam_carve(&pool, 24, taken, 2, &out, &err), 0);
	net_cidr_format(&out, s, sizeof(s));
	assert_string_equal(s, "10.89.2.0/24");
}

static void test_carve_reports_exhausted_pool(void **state)
{
	struct net_cidr pool, taken, out;
	struct stk_err err;

	(void)state;
	net_cidr_parse("10.89.0.0/24", &pool);
	net_cidr_parse("10.0.0.0/8", &taken);
	assert_int_equal(net_ipam_carve(&pool, 24, &taken, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "exhausted"));
}

static void test_lease_skips_gateway_and_used_and_honours_range(void **state)
{
	struct net_record rec = {0};
	struct net_nw_rec *nw = net_record_add_network(&rec);
	struct net_ep_rec *ep = net_record_add_endpoint(&rec);
	struct stk_err err;
	char ip[INET_ADDRSTRLEN];

	(void)state;
	nw->name = xstrdup("n");
	strcpy(nw->subnet, "172.30.0.0/24");
	strcpy(nw->gateway, "172.30.0.1");
	ep->container = xstrdup("c1");
	ep->service = xstrdup("s");
	ep->hostname = xstrdup("");
	ep->network = xstrdup("n");
	strcpy(ep->ip, "172.30.0.2");
	assert_int_equal(net_ipam_lease(nw, &rec, ip, &err), 0);
	assert_string_equal(ip, "172.30.0.3");
	strcpy(nw->ip_range, "172.30.0.64/26");
	assert_int_equal(net_ipam_lease(nw, &rec, ip, &err), 0);
	assert_string_equal(ip, "172.30.0.64");
	strcpy(nw->subnet, "172.30.0.0/30");
	strcpy(nw->ip_range, "");
	assert_int_equal(net_ipam_lease(nw, &rec, ip, &err), -1);
	assert_non_null(strstr(err.msg, "no free address"));
	net_record_free(&rec);
}

static void test_record_round_trip(void **state)
{
	char dir[] = "/tmp/stk-net-test-XXXXXX";
	struct net_record rec = {0}, back = {0};
	struct net_nw_rec *nw;
	struct net_ep_rec *ep;
	struct stk_err err;
	char *path, *cmd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	rec.project = xstrdup("proj");
	nw = net_record_add_network(&rec);
	nw->name = xstrdup("default");
	strcpy(nw->bridge, "stk-00000001");
	strcpy(nw->subnet, "10.89.0.0/24");
	strcpy(nw->gateway, "10.89.0.1");
	nw->internal = true;
	ep = net_record_add_endpoint(&rec);
	ep->container = xstrdup("proj-web-1");
	ep->service = xstrdup("web");
	ep->hostname = xstrdup("web");
	ep->network = xstrdup("default");
	ep->naliases = 1;
	ep->aliases = xcalloc(2, sizeof(char *));
	ep->aliases[0] = xstrdup("www");
	ep->nports = 1;
	ep->ports = xcalloc(1, sizeof(*ep->ports));
	ep->ports[0].proto = NET_UDP;
	ep->ports[0].host_port = 5353;
	ep->ports[0].container_port = 53;
	strcpy(ep->ip, "10.89.0.2");
	assert_int_equal(net_record_save(dir, &rec, &err), 0);
	assert_int_equal(net_record_load(dir, "proj", &back, &err), 0);
	assert_int_equal(back.nnws, 1);
	assert_string_equal(back.nws[0].bridge, "stk-00000001");
	assert_true(back.nws[0].internal);
	assert_int_equal(back.neps, 1);
	assert_string_equal(back.eps[0].aliases[0], "www");
	assert_int_equal(back.eps[0].ports[0].proto, NET_UDP);
	assert_int_equal(back.eps[0].ports[0].host_port, 5353);
	net_record_free(&back);
	net_record_free(&rec);
	path = net_record_path(dir, "proj");
	unlink(path);
	free(path);
	cmd = xasprintf("rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static void test_nft_render_internal_has_no_way_out(void **state)
{
	struct net_record rec = {0};
	struct net_nw_rec *nw = net_record_add_network(&rec);
	char *text;

	(void)state;
	nw->name = xstrdup("back");
	strcpy(nw->bridge, "stk-0000abcd");
	strcpy(nw->subnet, "10.89.5.0/24");
	nw->internal = true;
	text = net_nft_render(&rec, nw);
	assert_non_null(strstr(text, "iifname \"stk-0000abcd\" drop"));
	assert_null(strstr(text, "masquerade"));
	free(text);
	nw->internal = false;
	text = net_nft_render(&rec, nw);
	assert_non_null(
		strstr(text, "ip saddr 10.89.5.0/24 oifname != \"stk-0000abcd\" masquerade"));
	assert_non_null(strstr(text, "oifname \"stk-*\" drop"));
	free(text);
	net_record_free(&rec);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = xcalloc(1, 4096);

	assert_non_null(f);
	assert_true(fread(buf, 1, 4095, f) > 0);
	fclose(f);
	return buf;
}

static void test_resolv_conf_and_hosts(void **state)
{
	char path[] = "/tmp/stk-net-file-XXXXXX";
	const char *search[] = {"example.test"};
	const char *opts[] = {"ndots:2"};
	const char *extra[] = {"host.docker.internal:host-gateway", "db=10.0.0.9"};
	struct net_resolv_spec rs = {.nameserver = "10.89.0.1",
				     .search = search,
				     .nsearch = 1,
				     .options = opts,
				     .noptions = 1};
	struct net_hosts_spec hs = {.hostname = "web",
				    .ip = "10.89.0.2",
				    .extra_hosts = extra,
				    .nextra = 2,
				    .host_gateway = "10.89.0.1"};
	struct stk_err err;
	char *text;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(net_write_resolv_conf(path, &rs, &err), 0);
	text = slurp(path);
	assert_non_null(
		strstr(text, "nameserver 10.89.0.1\nsearch example.test\noptions ndots:2\n"));
	free(text);
	assert_int_equal(net_write_hosts(path, &hs, &err), 0);
	text = slurp(path);
	assert_non_null(strstr(text, "127.0.0.1\tlocalhost\n"));
	assert_non_null(strstr(text, "10.89.0.1\thost.docker.internal\n"));
	assert_non_null(strstr(text, "10.0.0.9\tdb\n"));
	assert_non_null(strstr(text, "10.89.0.2\tweb\n"));
	free(text);
	extra[1] = "nonsense";
	assert_int_equal(net_write_hosts(path, &hs, &err), -1);
	assert_non_null(strstr(err.msg, "nonsense"));
	unlink(path);
}

static uint8_t *make_query(const char *name, ldns_rr_type type, size_t *len)
{
	ldns_pkt *q =
		ldns_pkt_query_new(ldns_dname_new_frm_str(name), type, LDNS_RR_CLASS_IN, LDNS_RD);
	uint8_t *wire = NULL;

	ldns_pkt_set_id(q, 0x5151);
	assert_int_equal(ldns_pkt2wire(&wire, q, len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	return wire;
}

/* Runs one query through the zone; returns the parsed reply or NULL for forward/drop. */
static ldns_pkt *ask(struct net_dns_zone *z, const char *name, ldns_rr_type type,
		     enum net_dns_action *action)
{
	size_t qlen, rlen;
	uint8_t *q = make_query(name, type, &qlen), *r = NULL;
	ldns_pkt *reply = NULL;

	*action = net_dns_handle(z, q, qlen, true, &r, &rlen);
	free(q);
	if (*action == NET_DNS_REPLY) {
		assert_int_equal(ldns_wire2pkt(&reply, r, rlen), LDNS_STATUS_OK);
		assert_int_equal(ldns_pkt_id(reply), 0x5151);
	}
	free(r);
	return reply;
}

static uint32_t answer_a(ldns_pkt *p, size_t i)
{
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), i);
	uint32_t be;

	memcpy(&be, ldns_rdf_data(ldns_rr_rdf(rr, 0)), 4);
	return ntohl(be);
}

static void zone_fixture(struct net_dns_zone *z)
{
	struct net_cidr subnet;

	net_cidr_parse("10.89.0.0/24", &subnet);
	net_dns_zone_init(z, &subnet);
	net_dns_zone_add(z, "web", 0x0a590002);
	net_dns_zone_add(z, "web", 0x0a590003);
	net_dns_zone_add(z, "web", 0x0a590004);
	net_dns_zone_add(z, "proj-web-1", 0x0a590002);
	net_dns_zone_add_ptr(z, 0x0a590002, "proj-web-1");
}

static void test_dns_service_name_answers_every_replica_rotated(void **state)
{
	struct net_dns_zone z;
	enum net_dns_action act;
	ldns_pkt *p;
	uint32_t first[3];
	int i;

	(void)state;
	zone_fixture(&z);
	for (i = 0; i < 3; i++) {
		p = ask(&z, "WEB.", LDNS_RR_TYPE_A, &act);
		assert_int_equal(act, NET_DNS_REPLY);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(p), 3);
		first[i] = answer_a(p, 0);
		ldns_pkt_free(p);
	}
	assert_true(first[0] != first[1] && first[1] != first[2] && first[0] != first[2]);
	net_dns_zone_free(&z);
}

static void test_dns_aaaa_of_known_name_is_nodata(void **state)
{
	struct net_dns_zone z;
	enum net_dns_action act;
	ldns_pkt *p;

	(void)state;
	zone_fixture(&z);
	p = ask(&z, "proj-web-1", LDNS_RR_TYPE_AAAA, &act);
	assert_int_equal(act, NET_DNS_REPLY);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	net_dns_zone_free(&z);
}

static void test_dns_ptr_unknown_and_forwarded_names(void **state)
{
	struct net_dns_zone z;
	enum net_dns_action act;
	ldns_pkt *p;
	char *s;

	(void)state;
	zone_fixture(&z);
	p = ask(&z, "2.0.89.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, &act);
	assert_int_equal(act, NET_DNS_REPLY);
	s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
	assert_string_equal(s, "proj-web-1.");
	free(s);
	ldns_pkt_free(p);
	p = ask(&z, "9.0.89.10.in-addr.arpa.", LDNS_RR_TYPE_PTR, &act);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	p = ask(&z, "db", LDNS_RR_TYPE_A, &act);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	assert_null(ask(&z, "example.com", LDNS_RR_TYPE_A, &act));
	assert_int_equal(act, NET_DNS_FORWARD);
	assert_null(ask(&z, "1.1.1.1.in-addr.arpa.", LDNS_RR_TYPE_PTR, &act));
	assert_int_equal(act, NET_DNS_FORWARD);
	net_dns_zone_free(&z);
}

static void test_dns_big_udp_answer_is_truncated_tcp_is_not(void **state)
{
	struct net_dns_zone z;
	enum net_dns_action act;
	size_t qlen, rlen;
	uint8_t *q, *r = NULL;
	ldns_pkt *p;
	uint32_t i;

	(void)state;
	zone_fixture(&z);
	for (i = 0; i < 60; i++)
		net_dns_zone_add(&z, "many", 0x0a590010 + i);
	p = ask(&z, "many", LDNS_RR_TYPE_A, &act);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
	q = make_query("many", LDNS_RR_TYPE_A, &qlen);
	assert_int_equal(net_dns_handle(&z, q, qlen, false, &r, &rlen), NET_DNS_REPLY);
	assert_int_equal(ldns_wire2pkt(&p, r, rlen), LDNS_STATUS_OK);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 60);
	ldns_pkt_free(p);
	free(q);
	free(r);
	net_dns_zone_free(&z);
}

static void test_dns_garbage_gets_formerr_or_nothing(void **state)
{
	struct net_dns_zone z;
	uint8_t junk[16] = {0xab, 0xcd, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0x3f, 'x'};
	uint8_t *r = NULL;
	size_t rlen;

	(void)state;
	zone_fixture(&z);
	assert_int_equal(net_dns_handle(&z, junk, sizeof(junk), true, &r, &rlen), NET_DNS_REPLY);
	assert_int_equal(rlen, 12);
	assert_int_equal(r[0], 0xab);
	assert_int_equal(r[3] & 0xf, LDNS_RCODE_FORMERR);
	free(r);
	assert_int_equal(net_dns_handle(&z, junk, 5, true, &r, &rlen), NET_DNS_DROP);
	junk[2] |= 0x80; /* a response is never answered */
	assert_int_equal(net_dns_handle(&z, junk, sizeof(junk), true, &r, &rlen), NET_DNS_DROP);
	net_dns_zone_free(&z);
}

static void test_ipv6_carve_and_lease(void **state)
{
	struct net_cidr6 pool, taken[2], out;
	struct net_record rec = {0};
	struct net_nw_rec nw = {.name = "default", .ipv6 = true};
	struct net_ep_rec *ep;
	struct stk_err err;
	char s[64];

	(void)state;
	assert_int_equal(net_cidr6_parse("fd00:89::/48", &pool), 0);
	assert_int_equal(net_cidr6_parse("fd00:89::/64", &taken[0]), 0);
	assert_int_equal(net_cidr6_parse("fd00:89:0:1::/56", &taken[1]), 0);
	assert_int_equal(net_ipam6_carve(&pool, 64, taken, 1, &out, &err), 0);
	net_cidr6_format(&out, s, sizeof(s));
	assert_string_equal(s, "fd00:89:0:1::/64");
	/* A /56 covering the next 256 /64s is stepped over as a whole. */
	assert_int_equal(net_ipam6_carve(&pool, 64, taken, 2, &out, &err), 0);
	net_cidr6_format(&out, s, sizeof(s));
	assert_string_equal(s, "fd00:89:0:100::/64");
	assert_int_equal(net_cidr6_parse("fd00:89::/127", &pool), 0);
	assert_int_equal(net_ipam6_carve(&pool, 64, taken, 0, &out, &err), -1);
	snprintf(nw.subnet6, sizeof(nw.subnet6), "fd00:89::/64");
	snprintf(nw.gateway6, sizeof(nw.gateway6), "fd00:89::1");
	rec.project = "p";
	assert_int_equal(net_ipam6_lease(&nw, &rec, s, &err), 0);
	assert_string_equal(s, "fd00:89::2");
	ep = net_record_add_endpoint(&rec);
	ep->network = "default";
	snprintf(ep->ip6, sizeof(ep->ip6), "fd00:89::2");
	assert_true(net_ipam6_in_use(&rec, "default", "fd00:89:0:0::2"));
	assert_int_equal(net_ipam6_lease(&nw, &rec, s, &err), 0);
	assert_string_equal(s, "fd00:89::3");
	free(rec.eps);
}

static void test_nft_render_ipv6_masquerades_and_publishes(void **state)
{
	struct net_record rec = {0};
	struct net_nw_rec nw = {.name = "default",
				.bridge = "stk-00000000",
				.ipv6 = true,
				.subnet = "10.89.0.0/24",
				.gateway = "10.89.0.1",
				.subnet6 = "fd00:89::/64",
				.gateway6 = "fd00:89::1"};
	struct net_port_rec port = {.proto = NET_TCP, .host_port = 8080, .container_port = 80};
	struct net_ep_rec ep = {.container = "c",
				.network = "default",
				.ip = "10.89.0.2",
				.ip6 = "fd00:89::2",
				.ports = &port,
				.nports = 1};
	char *text;

	(void)state;
	rec.nws = &nw;
	rec.nnws = 1;
	rec.eps = &ep;
	rec.neps = 1;
	text = net_nft_render(&rec, &nw);
	assert_non_null(
		strstr(text, "ip6 saddr fd00:89::/64 oifname != \"stk-00000000\" masquerade"));
	assert_non_null(strstr(text, "dnat ip6 to [fd00:89::2]:80"));
	assert_non_null(strstr(text, "ip6 daddr != ::1 fib daddr type local tcp dport 8080"));
	free(text);
	/* A port bound to one IPv4 address is not published on IPv6. */
	snprintf(port.host_ip, sizeof(port.host_ip), "127.0.0.1");
	text = net_nft_render(&rec, &nw);
	assert_null(strstr(text, "dnat ip6"));
	free(text);
}

static void test_dns_aaaa_and_ip6_ptr(void **state)
{
	struct net_dns_zone z;
	struct net_cidr6 subnet6;
	struct in6_addr a;
	enum net_dns_action act;
	ldns_pkt *p;
	char *s;

	(void)state;
	zone_fixture(&z);
	net_cidr6_parse("fd00:89::/64", &subnet6);
	net_dns_zone_set_subnet6(&z, &subnet6);
	net_ip6_parse("fd00:89::2", &a);
	net_dns_zone_add6(&z, "proj-web-1", &a);
	net_dns_zone_add_ptr6(&z, &a, "proj-web-1");
	p = ask(&z, "proj-web-1", LDNS_RR_TYPE_AAAA, &act);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
	assert_string_equal(s, "fd00:89::2");
	free(s);
	ldns_pkt_free(p);
	p = ask(&z, "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa.",
		LDNS_RR_TYPE_PTR, &act);
	assert_int_equal(act, NET_DNS_REPLY);
	s = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(p), 0), 0));
	assert_string_equal(s, "proj-web-1.");
	free(s);
	ldns_pkt_free(p);
	p = ask(&z, "3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.9.8.0.0.0.0.d.f.ip6.arpa.",
		LDNS_RR_TYPE_PTR, &act);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
	/* Outside the network, or not a full reverse name: the upstream's business. */
	assert_null(ask(&z,
			"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
			LDNS_RR_TYPE_PTR, &act));
	assert_int_equal(act, NET_DNS_FORWARD);
	assert_null(ask(&z, "9.8.0.0.0.0.d.f.ip6.arpa.", LDNS_RR_TYPE_PTR, &act));
	assert_int_equal(act, NET_DNS_FORWARD);
	net_dns_zone_free(&z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bridge_name_fits_ifnamsiz_and_is_stable),
		cmocka_unit_test(test_cidr_parse_and_overlap),
		cmocka_unit_test(test_carve_skips_taken_subnets),
		cmocka_unit_test(test_carve_reports_exhausted_pool),
		cmocka_unit_test(test_lease_skips_gateway_and_used_and_honours_range),
		cmocka_unit_test(test_record_round_trip),
		cmocka_unit_test(test_nft_render_internal_has_no_way_out),
		cmocka_unit_test(test_resolv_conf_and_hosts),
		cmocka_unit_test(test_dns_service_name_answers_every_replica_rotated),
		cmocka_unit_test(test_dns_aaaa_of_known_name_is_nodata),
		cmocka_unit_test(test_dns_ptr_unknown_and_forwarded_names),
		cmocka_unit_test(test_dns_big_udp_answer_is_truncated_tcp_is_not),
		cmocka_unit_test(test_dns_garbage_gets_formerr_or_nothing),
		cmocka_unit_test(test_ipv6_carve_and_lease),
		cmocka_unit_test(test_nft_render_ipv6_masquerades_and_publishes),
		cmocka_unit_test(test_dns_aaaa_and_ip6_ptr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

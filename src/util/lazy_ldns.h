/* ldns: the DNS wire format of the network DNS server (src/net/dns_msg.c), opened on
 * first use (util/lazylib.h). Include this instead of the library's own headers; when
 * the code starts calling another of its functions, add it to the X-macro list and to
 * the #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_LDNS_H
#define STK_UTIL_LAZY_LDNS_H

#include <ldns/ldns.h>

#include "util/lazylib.h"

#define STK_LDNS_FUNCTIONS(X) \
	X(ldns_dname_new_frm_str) \
	X(ldns_pkt2wire) \
	X(ldns_pkt_answer) \
	X(ldns_pkt_edns) \
	X(ldns_pkt_edns_udp_size) \
	X(ldns_pkt_free) \
	X(ldns_pkt_get_opcode) \
	X(ldns_pkt_id) \
	X(ldns_pkt_new) \
	X(ldns_pkt_push_rr) \
	X(ldns_pkt_qdcount) \
	X(ldns_pkt_qr) \
	X(ldns_pkt_question) \
	X(ldns_pkt_rd) \
	X(ldns_pkt_set_aa) \
	X(ldns_pkt_set_ancount) \
	X(ldns_pkt_set_answer) \
	X(ldns_pkt_set_id) \
	X(ldns_pkt_set_opcode) \
	X(ldns_pkt_set_qr) \
	X(ldns_pkt_set_ra) \
	X(ldns_pkt_set_rcode) \
	X(ldns_pkt_set_rd) \
	X(ldns_pkt_set_tc) \
	X(ldns_rdf2str) \
	X(ldns_rdf_clone) \
	X(ldns_rdf_new_frm_data) \
	X(ldns_rr_clone) \
	X(ldns_rr_get_class) \
	X(ldns_rr_get_type) \
	X(ldns_rr_list_deep_free) \
	X(ldns_rr_list_new) \
	X(ldns_rr_list_rr) \
	X(ldns_rr_list_rr_count) \
	X(ldns_rr_new) \
	X(ldns_rr_owner) \
	X(ldns_rr_push_rdf) \
	X(ldns_rr_set_class) \
	X(ldns_rr_set_owner) \
	X(ldns_rr_set_ttl) \
	X(ldns_rr_set_type) \
	X(ldns_wire2pkt)

STK_LAZYLIB_DECLARE(ldns, STK_LDNS_FUNCTIONS)

#ifndef STK_LAZY_DEFINING
#define ldns_dname_new_frm_str STK_LAZY(ldns, ldns_dname_new_frm_str)
#define ldns_pkt2wire STK_LAZY(ldns, ldns_pkt2wire)
#define ldns_pkt_answer STK_LAZY(ldns, ldns_pkt_answer)
#define ldns_pkt_edns STK_LAZY(ldns, ldns_pkt_edns)
#define ldns_pkt_edns_udp_size STK_LAZY(ldns, ldns_pkt_edns_udp_size)
#define ldns_pkt_free STK_LAZY(ldns, ldns_pkt_free)
#define ldns_pkt_get_opcode STK_LAZY(ldns, ldns_pkt_get_opcode)
#define ldns_pkt_id STK_LAZY(ldns, ldns_pkt_id)
#define ldns_pkt_new STK_LAZY(ldns, ldns_pkt_new)
#define ldns_pkt_push_rr STK_LAZY(ldns, ldns_pkt_push_rr)
#define ldns_pkt_qdcount STK_LAZY(ldns, ldns_pkt_qdcount)
#define ldns_pkt_qr STK_LAZY(ldns, ldns_pkt_qr)
#define ldns_pkt_question STK_LAZY(ldns, ldns_pkt_question)
#define ldns_pkt_rd STK_LAZY(ldns, ldns_pkt_rd)
#define ldns_pkt_set_aa STK_LAZY(ldns, ldns_pkt_set_aa)
#define ldns_pkt_set_ancount STK_LAZY(ldns, ldns_pkt_set_ancount)
#define ldns_pkt_set_answer STK_LAZY(ldns, ldns_pkt_set_answer)
#define ldns_pkt_set_id STK_LAZY(ldns, ldns_pkt_set_id)
#define ldns_pkt_set_opcode STK_LAZY(ldns, ldns_pkt_set_opcode)
#define ldns_pkt_set_qr STK_LAZY(ldns, ldns_pkt_set_qr)
#define ldns_pkt_set_ra STK_LAZY(ldns, ldns_pkt_set_ra)
#define ldns_pkt_set_rcode STK_LAZY(ldns, ldns_pkt_set_rcode)
#define ldns_pkt_set_rd STK_LAZY(ldns, ldns_pkt_set_rd)
#define ldns_pkt_set_tc STK_LAZY(ldns, ldns_pkt_set_tc)
#define ldns_rdf2str STK_LAZY(ldns, ldns_rdf2str)
#define ldns_rdf_clone STK_LAZY(ldns, ldns_rdf_clone)
#define ldns_rdf_new_frm_data STK_LAZY(ldns, ldns_rdf_new_frm_data)
#define ldns_rr_clone STK_LAZY(ldns, ldns_rr_clone)
#define ldns_rr_get_class STK_LAZY(ldns, ldns_rr_get_class)
#define ldns_rr_get_type STK_LAZY(ldns, ldns_rr_get_type)
#define ldns_rr_list_deep_free STK_LAZY(ldns, ldns_rr_list_deep_free)
#define ldns_rr_list_new STK_LAZY(ldns, ldns_rr_list_new)
#define ldns_rr_list_rr STK_LAZY(ldns, ldns_rr_list_rr)
#define ldns_rr_list_rr_count STK_LAZY(ldns, ldns_rr_list_rr_count)
#define ldns_rr_new STK_LAZY(ldns, ldns_rr_new)
#define ldns_rr_owner STK_LAZY(ldns, ldns_rr_owner)
#define ldns_rr_push_rdf STK_LAZY(ldns, ldns_rr_push_rdf)
#define ldns_rr_set_class STK_LAZY(ldns, ldns_rr_set_class)
#define ldns_rr_set_owner STK_LAZY(ldns, ldns_rr_set_owner)
#define ldns_rr_set_ttl STK_LAZY(ldns, ldns_rr_set_ttl)
#define ldns_rr_set_type STK_LAZY(ldns, ldns_rr_set_type)
#define ldns_wire2pkt STK_LAZY(ldns, ldns_wire2pkt)
#endif

#endif

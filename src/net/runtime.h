/* Private to src/net/: the runtime's parts that live on the caller's libuv loop, a DNS
 * server per network gateway and a proxy per published port. Every handle's close
 * callback accounts for it in rt->handles, so the runtime is freed only once the loop
 * has let go of all of them. */
#ifndef STK_NET_RUNTIME_H
#define STK_NET_RUNTIME_H

#include <uv.h>

#include "net/dns.h"
#include "net/internal.h"

#define NET_MAX_UPSTREAMS 3

struct dns_server;
struct dns_pending;
struct port_proxy;

struct net_runtime {
	uv_loop_t *loop;
	char *root, *project;
	unsigned timeout_ms;
	uint16_t dns_port;
	union net_upstream {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} upstreams[NET_MAX_UPSTREAMS];
	int nupstreams;
	uv_udp_t upstream; /* one socket for every forwarded query over IPv4 */
	uv_udp_t upstream6; /* and one for IPv6, open when an upstream is IPv6 */
	bool has_upstream6;
	/* Every UDP datagram the DNS server, the upstream sockets and the UDP proxies receive,
	 * and every read of a TCP proxy, lands here: it is handled (and copied where kept)
	 * before the next read. A fresh 64 KiB buffer per read made malloc grow and trim
	 * the heap each time. */
	char rbuf[65536];
	uint16_t next_id;
	struct dns_server *servers;
	struct dns_pending *pending;
	struct port_proxy *proxies;
	int handles; /* open handles; the runtime is freed when stopping and zero */
	bool stopping;
};

/* Handle bookkeeping: every uv_close in src/net goes through this. */
void net_rt_handle_opened(struct net_runtime *rt);
void net_rt_handle_closed(struct net_runtime *rt);

/* dns_server.c */
int net_dns_server_start(struct net_runtime *rt, const struct net_nw_rec *nw,
			 struct dns_server **out, struct stk_err *err);
void net_dns_server_set_zone(struct dns_server *srv, struct net_dns_zone *zone);
const char *net_dns_server_bridge(const struct dns_server *srv);
struct dns_server *net_dns_server_next(struct dns_server *srv);
void net_dns_server_set_next(struct dns_server *srv, struct dns_server *next);
void net_dns_server_close(struct dns_server *srv);
void net_dns_upstream_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			   const struct sockaddr *addr, unsigned flags);
void net_dns_pending_cancel_all(struct net_runtime *rt);

/* proxy.c */
/* v6: listen on IPv6 (the host_ip, or [::] for a port on every address). The target
 * is an IPv4 or IPv6 address. */
struct port_proxy *net_proxy_start(struct net_runtime *rt, const struct net_port_rec *p, bool v6,
				   const char *target_ip, struct stk_err *err);
bool net_proxy_matches(const struct port_proxy *px, const struct net_port_rec *p, bool v6,
		       const char *target_ip);
struct port_proxy *net_proxy_next(struct port_proxy *px);
void net_proxy_set_next(struct port_proxy *px, struct port_proxy *next);
void net_proxy_close(struct port_proxy *px);

void net_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
/* rt->rbuf, for a handle whose data is the runtime. */
void net_rt_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

#endif

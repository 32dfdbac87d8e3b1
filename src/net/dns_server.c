/* The DNS server on a network's gateway, UDP and TCP, as libuv handles. Queries go
 * through net_dns_handle(); names that are not the project's are forwarded to the
 * host's resolvers with a new id, over the transport the query came on, and answered
 * SERVFAIL when none replies in time. A truncated (TC) answer over UDP is asked again
 * over TCP, as a stub resolver would.
 * Only clients inside the network's subnet are answered: the zone of the network the
 * query arrived on holds only the containers that share that network.
 * ldns (and the libcrypto and libssl it links, 2 MiB resident that cannot be unloaded)
 * is opened when the first query arrives, not when the sockets start listening: a
 * project whose containers never resolve a name never maps it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/lazy_ldns.h"

#include "net/runtime.h"
#include "util/str.h"

struct dns_server {
	struct net_runtime *rt;
	char bridge[IFNAMSIZ];
	struct net_dns_zone zone;
	uv_udp_t udp, udp6;
	uv_tcp_t tcp, tcp6;
	bool has6; /* udp6 and tcp6 are initialised (the network has IPv6) */
	int open; /* handles of this server still open */
	struct dns_server *next;
};

struct dns_conn {
	uv_tcp_t h;
	struct dns_server *srv;
	uint8_t *buf;
	size_t len;
	bool closing;
};

struct up_conn;

struct dns_pending {
	struct net_runtime *rt;
	struct dns_server *srv; /* NULL once the server closed */
	struct dns_conn *conn; /* TCP client, NULL for UDP or once it closed */
	struct sockaddr_storage client; /* UDP client, IPv4 or IPv6 */
	uint16_t client_id, up_id;
	int attempt; /* index of the upstream asked last */
	uint8_t *query;
	size_t qlen;
	bool tcp; /* ask the upstreams over TCP */
	uint8_t *truncated; /* the TC answer over UDP, for a client the full one overflows */
	size_t tlen;
	struct up_conn *up; /* the TCP exchange with an upstream in flight */
	uv_timer_t timer;
	struct dns_pending *next;
};

/* One query to one upstream over TCP: connect, write, read one length-prefixed reply. */
struct up_conn {
	uv_tcp_t h;
	uv_connect_t connect;
	uv_write_t write;
	struct net_runtime *rt;
	struct dns_pending *p; /* NULL once the query no longer waits for it */
	uint8_t *out, *buf;
	size_t len;
};

struct udp_send {
	uv_udp_send_t req;
	uint8_t *data;
};

struct tcp_write {
	uv_write_t req;
	uint8_t *data;
};

/* ---- replies ---- */

static void udp_sent(uv_udp_send_t *req, int status)
{
	struct udp_send *s = (struct udp_send *)req;

	(void)status; /* a client that went away loses its answer; nothing else to do */
	free(s->data);
	free(s);
}

static void udp_send_to(uv_udp_t *h, const struct sockaddr *to, uint8_t *data, size_t len)
{
	struct udp_send *s;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);

	/* Most replies go out at once; only a full socket needs a request and a callback. */
	if (uv_udp_try_send(h, &b, 1, to) == (int)len) {
		free(data);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->data = data;
	if (uv_udp_send(&s->req, h, &b, 1, to, udp_sent) < 0)
		udp_sent(&s->req, -1);
}

static void tcp_written(uv_write_t *req, int status)
{
	struct tcp_write *w = (struct tcp_write *)req;

	(void)status;
	free(w->data);
	free(w);
}

static void tcp_send(struct dns_conn *c, const uint8_t *data, size_t len)
{
	struct tcp_write *w;
	uv_buf_t b;

	if (c->closing || len > 65535)
		return;
	w = xcalloc(1, sizeof(*w));
	w->data = xmalloc(len + 2);
	w->data[0] = (uint8_t)(len >> 8);
	w->data[1] = (uint8_t)len;
	memcpy(w->data + 2, data, len);
	b = uv_buf_init((char *)w->data, (unsigned)(len + 2));
	if (uv_write(&w->req, (uv_stream_t *)&c->h, &b, 1, tcp_written) < 0)
		tcp_written(&w->req, -1);
}

/* Takes ownership of data. */
static void reply(struct dns_server *srv, struct dns_conn *conn, const struct sockaddr *to,
		  uint8_t *data, size_t len)
{
	if (conn) {
		tcp_send(conn, data, len);
		free(data);
	} else {
		udp_send_to(to->sa_family == AF_INET6 ? &srv->udp6 : &srv->udp, to, data, len);
	}
}

/* ---- forwarding ---- */

static void pending_closed(uv_handle_t *h)
{
	struct dns_pending *p = h->data;
	struct net_runtime *rt = p->rt;

	free(p->query);
	free(p->truncated);
	free(p);
	net_rt_handle_closed(rt);
}

static void up_closed(uv_handle_t *h)
{
	struct up_conn *u = h->data;
	struct net_runtime *rt = u->rt;

	free(u->out);
	free(u->buf);
	free(u);
	net_rt_handle_closed(rt);
}

static void up_close(struct dns_pending *p)
{
	if (!p->up)
		return;
	p->up->p = NULL;
	uv_close((uv_handle_t *)&p->up->h, up_closed);
	p->up = NULL;
}

static void pending_finish(struct dns_pending *p)
{
	struct dns_pending **pp;

	for (pp = &p->rt->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	up_close(p);
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, pending_closed);
}

static void pending_answer(struct dns_pending *p, uint8_t *data, size_t len)
{
	/* The full answer a UDP client cannot take: it gets the truncated one and asks us
	 * again over TCP. */
	if (!p->conn && p->truncated && len > net_dns_udp_limit(p->query, p->qlen)) {
		free(data);
		data = p->truncated;
		len = p->tlen;
		p->truncated = NULL;
	}
	data[0] = (uint8_t)(p->client_id >> 8);
	data[1] = (uint8_t)p->client_id;
	if (p->srv && (p->conn || p->client.ss_family))
		reply(p->srv, p->conn, (struct sockaddr *)&p->client, data, len);
	else
		free(data);
}

/* Each upstream gets an equal share of the timeout, so the total stays bounded. */
static uint64_t per_try_ms(const struct net_runtime *rt)
{
	uint64_t ms = rt->timeout_ms / (unsigned)rt->nupstreams;

	return ms < 100 ? 100 : ms;
}

static void pending_send(struct dns_pending *p);
static void pending_timeout(uv_timer_t *t);

/* The upstream asked last failed or timed out: the next one, or SERVFAIL (or, for a
 * UDP client that has one, the truncated answer). */
static void pending_next(struct dns_pending *p)
{
	uint8_t *out = NULL;
	size_t outlen;

	up_close(p);
	if (++p->attempt < p->rt->nupstreams) {
		uv_timer_start(&p->timer, pending_timeout, per_try_ms(p->rt), 0);
		pending_send(p);
		return;
	}
	if (!p->conn && p->truncated) {
		out = p->truncated;
		outlen = p->tlen;
		p->truncated = NULL;
		pending_answer(p, out, outlen);
		pending_finish(p);
		return;
	}
	p->query[0] = (uint8_t)(p->client_id >> 8);
	p->query[1] = (uint8_t)p->client_id;
	if (net_dns_error_reply(p->query, p->qlen, LDNS_RCODE_SERVFAIL, &out, &outlen) == 0)
		pending_answer(p, out, outlen);
	pending_finish(p);
}

static void pending_timeout(uv_timer_t *t)
{
	pending_next(t->data);
}

static void up_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct up_conn *u = s->data;
	struct dns_pending *p = u->p;
	size_t n;

	if (!p) {
		free(buf->base);
		return;
	}
	if (nread < 0 || u->len + (size_t)nread > 65537) {
		free(buf->base);
		pending_next(p); /* closed before a whole answer: the next upstream */
		return;
	}
	u->buf = xrealloc(u->buf, u->len + (size_t)nread + 1);
	memcpy(u->buf + u->len, buf->base, (size_t)nread);
	u->len += (size_t)nread;
	free(buf->base);
	if (u->len < 2)
		return;
	n = (size_t)u->buf[0] << 8 | u->buf[1];
	if (u->len < n + 2)
		return;
	if (n < 12 || (uint16_t)(u->buf[2] << 8 | u->buf[3]) != p->up_id) {
		pending_next(p);
		return;
	}
	{
		uint8_t *data = xmalloc(n);

		memcpy(data, u->buf + 2, n);
		pending_answer(p, data, n);
		pending_finish(p);
	}
}

static void up_written(uv_write_t *req, int status)
{
	struct up_conn *u = req->data;

	if (status < 0 && u->p)
		pending_next(u->p);
}

static void up_connected(uv_connect_t *req, int status)
{
	struct up_conn *u = req->data;
	uv_buf_t b;

	if (!u->p)
		return;
	if (status < 0) {
		pending_next(u->p); /* refused: no need to wait out the timeout */
		return;
	}
	b = uv_buf_init((char *)u->out, (unsigned)(u->p->qlen + 2));
	if (uv_write(&u->write, (uv_stream_t *)&u->h, &b, 1, up_written) < 0 ||
	    uv_read_start((uv_stream_t *)&u->h, net_buf_alloc, up_read) < 0)
		pending_next(u->p);
}

static void up_start(struct dns_pending *p)
{
	struct net_runtime *rt = p->rt;
	struct up_conn *u = xcalloc(1, sizeof(*u));

	u->rt = rt;
	u->p = p;
	u->out = xmalloc(p->qlen + 2);
	u->out[0] = (uint8_t)(p->qlen >> 8);
	u->out[1] = (uint8_t)p->qlen;
	memcpy(u->out + 2, p->query, p->qlen);
	uv_tcp_init(rt->loop, &u->h);
	u->h.data = u->connect.data = u->write.data = u;
	net_rt_handle_opened(rt);
	p->up = u;
	if (uv_tcp_connect(&u->connect, &u->h, &rt->upstreams[p->attempt].sa, up_connected) < 0)
		pending_next(p);
}

static void pending_send(struct dns_pending *p)
{
	struct net_runtime *rt = p->rt;
	uint8_t *copy;

	if (p->tcp) {
		up_start(p);
		return;
	}
	copy = xmalloc(p->qlen);
	memcpy(copy, p->query, p->qlen);
	udp_send_to(rt->upstreams[p->attempt].sa.sa_family == AF_INET6 ? &rt->upstream6
								       : &rt->upstream,
		    &rt->upstreams[p->attempt].sa, copy, p->qlen);
}

static bool from_upstream(const struct net_runtime *rt, const struct sockaddr *from)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)from;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
	int i;

	for (i = 0; i < rt->nupstreams; i++) {
		const union net_upstream *u = &rt->upstreams[i];

		if (u->sa.sa_family != from->sa_family)
			continue;
		if (from->sa_family == AF_INET && in->sin_port == u->in.sin_port &&
		    in->sin_addr.s_addr == u->in.sin_addr.s_addr)
			return true;
		if (from->sa_family == AF_INET6 && in6->sin6_port == u->in6.sin6_port &&
		    memcmp(&in6->sin6_addr, &u->in6.sin6_addr, sizeof(in6->sin6_addr)) == 0)
			return true;
	}
	return false;
}

void net_dns_upstream_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
			   const struct sockaddr *addr, unsigned flags)
{
	struct net_runtime *rt = h->data;
	struct dns_pending *p;
	uint16_t id;

	(void)flags;
	/* Only the upstreams may answer: no spoofed replies from elsewhere. */
	if (nread < 12 || !addr || !from_upstream(rt, addr))
		return;
	id = (uint16_t)((uint8_t)buf->base[0] << 8 | (uint8_t)buf->base[1]);
	for (p = rt->pending; p; p = p->next) {
		if (p->up_id == id && !p->tcp) {
			uint8_t *data = xmalloc((size_t)nread);

			memcpy(data, buf->base, (size_t)nread);
			if (data[2] & 0x02) {
				/* TC: the same upstream again over TCP, within a fresh share of time. */
				p->truncated = data;
				p->tlen = (size_t)nread;
				p->tcp = true;
				uv_timer_start(&p->timer, pending_timeout, per_try_ms(rt), 0);
				pending_send(p);
				break;
			}
			pending_answer(p, data, (size_t)nread);
			pending_finish(p);
			break;
		}
	}
}

static void forward(struct dns_server *srv, struct dns_conn *conn, const struct sockaddr *client,
		    const uint8_t *msg, size_t len)
{
	struct net_runtime *rt = srv->rt;
	struct dns_pending *p;
	uint8_t *out = NULL;
	size_t outlen;

	if (rt->nupstreams == 0) {
		if (net_dns_error_reply(msg, len, LDNS_RCODE_SERVFAIL, &out, &outlen) == 0)
			reply(srv, conn, client, out, outlen);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->rt = rt;
	p->srv = srv;
	p->conn = conn;
	p->tcp = conn != NULL;
	if (!conn)
		memcpy(&p->client, client,
		       client->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						     : sizeof(struct sockaddr_in));
	p->client_id = (uint16_t)(msg[0] << 8 | msg[1]);
	p->up_id = rt->next_id;
	rt->next_id = (uint16_t)(rt->next_id * 25173u + 13849u); /* spread, not sequential */
	p->query = xmalloc(len);
	memcpy(p->query, msg, len);
	p->qlen = len;
	p->query[0] = (uint8_t)(p->up_id >> 8);
	p->query[1] = (uint8_t)p->up_id;
	uv_timer_init(rt->loop, &p->timer);
	p->timer.data = p;
	net_rt_handle_opened(rt);
	p->next = rt->pending;
	rt->pending = p;
	uv_timer_start(&p->timer, pending_timeout, per_try_ms(rt), 0);
	pending_send(p);
}

void net_dns_pending_cancel_all(struct net_runtime *rt)
{
	while (rt->pending)
		pending_finish(rt->pending);
}

/* ---- queries ---- */

static bool client_allowed(const struct dns_server *srv, const struct sockaddr *addr)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;

	if (addr->sa_family == AF_INET6)
		return srv->zone.has6 && net_cidr6_contains(&srv->zone.subnet6, &in6->sin6_addr);
	return addr->sa_family == AF_INET &&
	       net_cidr_contains(&srv->zone.subnet, ntohl(in->sin_addr.s_addr));
}

static void handle(struct dns_server *srv, struct dns_conn *conn, const struct sockaddr *from,
		   const uint8_t *msg, size_t len)
{
	uint8_t *out = NULL;
	size_t outlen = 0;
	struct stk_err err;

	/* Without ldns nothing can be parsed: a bare SERVFAIL, so the client does not wait. */
	if (stk_lazylib_load(&stk_lazy_ldns_lib, &err) < 0) {
		if (net_dns_rcode_raw(msg, len, LDNS_RCODE_SERVFAIL, &out, &outlen) ==
		    NET_DNS_REPLY)
			reply(srv, conn, from, out, outlen);
		return;
	}
	switch (net_dns_handle(&srv->zone, msg, len, conn == NULL, &out, &outlen)) {
	case NET_DNS_REPLY:
		reply(srv, conn, from, out, outlen);
		break;
	case NET_DNS_FORWARD:
		forward(srv, conn, from, msg, len);
		break;
	case NET_DNS_DROP:
		break;
	}
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags)
{
	struct dns_server *srv = h->data;

	(void)flags;
	if (nread > 0 && addr && client_allowed(srv, addr))
		handle(srv, NULL, addr, (const uint8_t *)buf->base, (size_t)nread);
}

static void udp_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct dns_server *srv = h->data;

	(void)suggested;
	*buf = uv_buf_init(srv->rt->rbuf, sizeof(srv->rt->rbuf));
}

static void conn_closed(uv_handle_t *h)
{
	struct dns_conn *c = h->data;
	struct net_runtime *rt = c->srv->rt;

	free(c->buf);
	free(c);
	net_rt_handle_closed(rt);
}

static void conn_close(struct dns_conn *c)
{
	struct dns_pending *p;

	if (c->closing)
		return;
	c->closing = true;
	for (p = c->srv->rt->pending; p; p = p->next)
		if (p->conn == c)
			p->conn = NULL;
	uv_close((uv_handle_t *)&c->h, conn_closed);
}

static void conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct dns_conn *c = s->data;
	size_t n;

	if (nread < 0) {
		free(buf->base);
		conn_close(c);
		return;
	}
	/* At most one message and its length prefix are buffered. */
	if (c->len + (size_t)nread > 65537) {
		free(buf->base);
		conn_close(c);
		return;
	}
	c->buf = xrealloc(c->buf, c->len + (size_t)nread + 1);
	memcpy(c->buf + c->len, buf->base, (size_t)nread);
	c->len += (size_t)nread;
	free(buf->base);
	while (!c->closing && c->len >= 2) {
		n = (size_t)c->buf[0] << 8 | c->buf[1];
		if (c->len < n + 2)
			break;
		handle(c->srv, c, NULL, c->buf + 2, n);
		memmove(c->buf, c->buf + 2 + n, c->len - 2 - n);
		c->len -= 2 + n;
	}
}

static void tcp_accept(uv_stream_t *server, int status)
{
	struct dns_server *srv = server->data;
	struct sockaddr_storage peer;
	int plen = sizeof(peer);
	struct dns_conn *c;

	if (status < 0)
		return;
	c = xcalloc(1, sizeof(*c));
	c->srv = srv;
	uv_tcp_init(srv->rt->loop, &c->h);
	c->h.data = c;
	net_rt_handle_opened(srv->rt);
	if (uv_accept(server, (uv_stream_t *)&c->h) < 0 ||
	    uv_tcp_getpeername(&c->h, (struct sockaddr *)&peer, &plen) < 0 ||
	    !client_allowed(srv, (struct sockaddr *)&peer) ||
	    uv_read_start((uv_stream_t *)&c->h, net_buf_alloc, conn_read) < 0)
		conn_close(c);
}

/* ---- lifetime ---- */

static void server_handle_closed(uv_handle_t *h)
{
	struct dns_server *srv = h->data;
	struct net_runtime *rt = srv->rt;

	if (--srv->open == 0) {
		net_dns_zone_free(&srv->zone);
		free(srv);
	}
	net_rt_handle_closed(rt);
}

void net_dns_server_close(struct dns_server *srv)
{
	struct dns_pending *p;

	for (p = srv->rt->pending; p; p = p->next)
		if (p->srv == srv)
			p->srv = NULL;
	uv_close((uv_handle_t *)&srv->udp, server_handle_closed);
	uv_close((uv_handle_t *)&srv->tcp, server_handle_closed);
	if (srv->has6) {
		uv_close((uv_handle_t *)&srv->udp6, server_handle_closed);
		uv_close((uv_handle_t *)&srv->tcp6, server_handle_closed);
	}
}

/* Binds one UDP and one TCP handle to addr:port and starts them; step names a failure. */
static int server_listen(uv_udp_t *udp, uv_tcp_t *tcp, const struct sockaddr *addr,
			 const char **step)
{
	int rc;

	*step = "bind udp";
	if ((rc = uv_udp_bind(udp, addr, 0)) < 0)
		return rc;
	*step = "bind tcp";
	if ((rc = uv_tcp_bind(tcp, addr, 0)) < 0)
		return rc;
	*step = "listen";
	if ((rc = uv_listen((uv_stream_t *)tcp, 64, tcp_accept)) < 0)
		return rc;
	*step = "receive";
	return uv_udp_recv_start(udp, udp_buf_alloc, udp_recv);
}

int net_dns_server_start(struct net_runtime *rt, const struct net_nw_rec *nw,
			 struct dns_server **out, struct stk_err *err)
{
	struct dns_server *srv;
	struct sockaddr_in addr;
	struct sockaddr_in6 addr6;
	struct net_cidr subnet;
	const char *step, *gw = nw->gateway;
	int rc;

	srv = xcalloc(1, sizeof(*srv));
	srv->rt = rt;
	snprintf(srv->bridge, sizeof(srv->bridge), "%s", nw->bridge);
	net_cidr_parse(nw->subnet, &subnet);
	net_dns_zone_init(&srv->zone, &subnet);
	uv_udp_init(rt->loop, &srv->udp);
	uv_tcp_init(rt->loop, &srv->tcp);
	srv->udp.data = srv->tcp.data = srv;
	srv->open = 2;
	rt->handles += 2;
	if (nw->ipv6) {
		uv_udp_init(rt->loop, &srv->udp6);
		uv_tcp_init(rt->loop, &srv->tcp6);
		srv->udp6.data = srv->tcp6.data = srv;
		srv->has6 = true;
		srv->open += 2;
		rt->handles += 2;
	}
	step = "address";
	if ((rc = uv_ip4_addr(nw->gateway, rt->dns_port, &addr)) < 0 ||
	    (rc = server_listen(&srv->udp, &srv->tcp, (struct sockaddr *)&addr, &step)) < 0)
		goto fail;
	if (nw->ipv6) {
		step = "address";
		if ((rc = uv_ip6_addr(nw->gateway6, rt->dns_port, &addr6)) < 0 ||
		    (rc = server_listen(&srv->udp6, &srv->tcp6, (struct sockaddr *)&addr6, &step)) <
			    0) {
			gw = nw->gateway6;
			goto fail;
		}
	}
	*out = srv;
	return 0;
fail:
	stk_err_set(err, -rc, "network %s: dns on %s port %u: %s: %s", nw->name, gw, rt->dns_port,
		    step, uv_strerror(rc));
	net_dns_server_close(srv);
	return -1;
}

void net_dns_server_set_zone(struct dns_server *srv, struct net_dns_zone *zone)
{
	net_dns_zone_free(&srv->zone);
	srv->zone = *zone;
}

const char *net_dns_server_bridge(const struct dns_server *srv)
{
	return srv->bridge;
}

struct dns_server *net_dns_server_next(struct dns_server *srv)
{
	return srv->next;
}

void net_dns_server_set_next(struct dns_server *srv, struct dns_server *next)
{
	srv->next = next;
}

int net_dns_preload(struct stk_err *err)
{
	return stk_lazylib_load(&stk_lazy_ldns_lib, err);
}

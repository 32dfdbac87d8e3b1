/* The userland proxy for published ports: what nftables DNAT cannot serve, chiefly
 * connections to the host's loopback (the kernel will not route 127.0.0.0/8 to a
 * bridge). It listens on the published address and port, which also holds the port for
 * the project while it runs, and relays each TCP connection or UDP flow to the
 * container. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/runtime.h"
#include "util/str.h"

/* A UDP flow with no traffic for this long is forgotten. */
#define UDP_IDLE_MS 60000

struct port_proxy {
	struct net_runtime *rt;
	struct net_port_rec port;
	bool v6; /* listens on IPv6 (host_ip, or [::] for a port on every address) */
	char target_ip[INET6_ADDRSTRLEN];
	struct sockaddr_storage target;
	union {
		uv_tcp_t tcp;
		uv_udp_t udp;
	} h;
	struct udp_flow *flows;
	bool closing;
	int open; /* the listener plus every flow's handles */
	struct port_proxy *next;
};

struct tcp_pair {
	struct port_proxy *px;
	uv_tcp_t side[2]; /* 0: the client, 1: the container */
	uv_connect_t connect;
	int open;
	int eof; /* sides that reached EOF */
};

struct udp_flow {
	struct port_proxy *px;
	struct sockaddr_storage client;
	uv_udp_t sock;
	uv_timer_t idle;
	int open;
	bool closing;
	struct udp_flow *next;
};

struct relay_write {
	uv_write_t req;
	char *data;
};

static void proxy_maybe_free(struct port_proxy *px)
{
	if (px->open == 0)
		free(px);
}

/* ---- TCP ---- */

static void pair_handle_closed(uv_handle_t *h)
{
	struct tcp_pair *pair = h->data;
	struct port_proxy *px = pair->px;
	struct net_runtime *rt = px->rt;

	if (--pair->open == 0) {
		free(pair);
		px->open--;
		proxy_maybe_free(px);
	}
	net_rt_handle_closed(rt);
}

static void pair_close(struct tcp_pair *pair)
{
	int i;

	for (i = 0; i < 2; i++)
		if (!uv_is_closing((uv_handle_t *)&pair->side[i]))
			uv_close((uv_handle_t *)&pair->side[i], pair_handle_closed);
}

static void relay_written(uv_write_t *req, int status)
{
	struct relay_write *w = (struct relay_write *)req;

	(void)status; /* a failed write shows up as an error on the next read */
	free(w->data);
	free(w);
}

static void pair_shutdown_done(uv_shutdown_t *req, int status)
{
	(void)status;
	free(req);
}

static void pair_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tcp_pair *pair = s->data;
	int self = (uv_tcp_t *)s == &pair->side[1];
	uv_stream_t *other = (uv_stream_t *)&pair->side[!self];

	if (nread > 0) {
		uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
		struct relay_write *w;
		int n = uv_try_write(other, &b, 1);

		if (n == nread)
			return;
		if (n < 0 && n != UV_EAGAIN) {
			pair_close(pair);
			return;
		}
		/* What the socket did not take now is queued, in a copy of its own. */
		n = n < 0 ? 0 : n;
		w = xcalloc(1, sizeof(*w));
		w->data = xmalloc((size_t)nread - (size_t)n);
		memcpy(w->data, buf->base + n, (size_t)nread - (size_t)n);
		b = uv_buf_init(w->data, (unsigned)(nread - n));
		if (uv_write(&w->req, other, &b, 1, relay_written) < 0) {
			relay_written(&w->req, -1);
			pair_close(pair);
		}
		return;
	}
	if (nread == 0)
		return;
	if (nread == UV_EOF && ++pair->eof < 2) {
		/* Half-close: pass the EOF on, keep relaying the other way. */
		uv_shutdown_t *req = xcalloc(1, sizeof(*req));

		uv_read_stop(s);
		if (uv_shutdown(req, other, pair_shutdown_done) < 0) {
			free(req);
			pair_close(pair);
		}
		return;
	}
	pair_close(pair);
}

static void pair_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct tcp_pair *pair = h->data;

	(void)suggested;
	*buf = uv_buf_init(pair->px->rt->rbuf, sizeof(pair->px->rt->rbuf));
}

static void pair_connected(uv_connect_t *req, int status)
{
	struct tcp_pair *pair = req->data;

	if (status < 0 ||
	    uv_read_start((uv_stream_t *)&pair->side[0], pair_buf_alloc, pair_read) < 0 ||
	    uv_read_start((uv_stream_t *)&pair->side[1], pair_buf_alloc, pair_read) < 0)
		pair_close(pair);
}

static void tcp_accept(uv_stream_t *server, int status)
{
	struct port_proxy *px = server->data;
	struct tcp_pair *pair;
	int i;

	if (status < 0 || px->closing)
		return;
	pair = xcalloc(1, sizeof(*pair));
	pair->px = px;
	for (i = 0; i < 2; i++) {
		uv_tcp_init(px->rt->loop, &pair->side[i]);
		pair->side[i].data = pair;
		net_rt_handle_opened(px->rt);
	}
	pair->open = 2;
	px->open++;
	pair->connect.data = pair;
	if (uv_accept(server, (uv_stream_t *)&pair->side[0]) < 0 ||
	    uv_tcp_connect(&pair->connect, &pair->side[1], (struct sockaddr *)&px->target,
			   pair_connected) < 0) {
		pair_close(pair);
		return;
	}
	/* Relayed bytes are already segmented by the client: do not delay them again. */
	uv_tcp_nodelay(&pair->side[0], 1);
	uv_tcp_nodelay(&pair->side[1], 1);
}

/* ---- UDP ---- */

static size_t sockaddr_size(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void flow_handle_closed(uv_handle_t *h)
{
	struct udp_flow *f = h->data;
	struct port_proxy *px = f->px;
	struct net_runtime *rt = px->rt;

	if (--f->open == 0) {
		free(f);
		px->open--;
		proxy_maybe_free(px);
	}
	net_rt_handle_closed(rt);
}

static void flow_close(struct udp_flow *f)
{
	struct udp_flow **pp;

	if (f->closing)
		return;
	f->closing = true;
	for (pp = &f->px->flows; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	uv_close((uv_handle_t *)&f->sock, flow_handle_closed);
	uv_close((uv_handle_t *)&f->idle, flow_handle_closed);
}

static void flow_idle(uv_timer_t *t)
{
	flow_close(t->data);
}

struct dgram {
	uv_udp_send_t req;
	char *data;
};

static void dgram_sent(uv_udp_send_t *req, int status)
{
	struct dgram *d = (struct dgram *)req;

	(void)status;
	free(d->data);
	free(d);
}

/* Sends at once if it can; else queues a copy of data. */
static void dgram_send(uv_udp_t *h, const struct sockaddr *to, const char *data, size_t len)
{
	struct dgram *d;
	uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);

	if (uv_udp_try_send(h, &b, 1, to) == (int)len)
		return;
	d = xcalloc(1, sizeof(*d));
	d->data = xmalloc(len);
	memcpy(d->data, data, len);
	b = uv_buf_init(d->data, (unsigned)len);
	if (uv_udp_send(&d->req, h, &b, 1, to, dgram_sent) < 0)
		dgram_sent(&d->req, -1);
}

static void flow_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		      unsigned flags)
{
	struct udp_flow *f = h->data;

	(void)flags;
	if (nread <= 0 || !addr || f->closing)
		return;
	uv_timer_again(&f->idle);
	dgram_send(&f->px->h.udp, (struct sockaddr *)&f->client, buf->base, (size_t)nread);
}

static void flow_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct udp_flow *f = h->data;

	(void)suggested;
	*buf = uv_buf_init(f->px->rt->rbuf, sizeof(f->px->rt->rbuf));
}

static void listener_buf_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct port_proxy *px = h->data;

	(void)suggested;
	*buf = uv_buf_init(px->rt->rbuf, sizeof(px->rt->rbuf));
}

static struct udp_flow *flow_open(struct port_proxy *px, const struct sockaddr *client)
{
	struct udp_flow *f = xcalloc(1, sizeof(*f));
	struct sockaddr_storage any;

	f->px = px;
	memcpy(&f->client, client, sockaddr_size(client));
	uv_udp_init(px->rt->loop, &f->sock);
	uv_timer_init(px->rt->loop, &f->idle);
	f->sock.data = f->idle.data = f;
	f->open = 2;
	px->open++;
	net_rt_handle_opened(px->rt);
	net_rt_handle_opened(px->rt);
	f->next = px->flows;
	px->flows = f;
	if (px->target.ss_family == AF_INET6)
		uv_ip6_addr("::", 0, (struct sockaddr_in6 *)&any);
	else
		uv_ip4_addr("0.0.0.0", 0, (struct sockaddr_in *)&any);
	if (uv_udp_bind(&f->sock, (struct sockaddr *)&any, 0) < 0 ||
	    uv_udp_recv_start(&f->sock, flow_buf_alloc, flow_recv) < 0) {
		flow_close(f);
		return NULL;
	}
	uv_timer_start(&f->idle, flow_idle, UDP_IDLE_MS, UDP_IDLE_MS);
	return f;
}

static void udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
		     unsigned flags)
{
	struct port_proxy *px = h->data;
	struct udp_flow *f;

	(void)flags;
	if (nread <= 0 || !addr || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
	    px->closing)
		return;
	for (f = px->flows; f; f = f->next)
		if (memcmp(&f->client, addr, sockaddr_size(addr)) == 0)
			break;
	if (!f && !(f = flow_open(px, addr)))
		return;
	uv_timer_again(&f->idle);
	dgram_send(&f->sock, (struct sockaddr *)&px->target, buf->base, (size_t)nread);
}

/* ---- lifetime ---- */

static void listener_closed(uv_handle_t *h)
{
	struct port_proxy *px = h->data;
	struct net_runtime *rt = px->rt;

	px->open--;
	proxy_maybe_free(px);
	net_rt_handle_closed(rt);
}

void net_proxy_close(struct port_proxy *px)
{
	px->closing = true;
	while (px->flows)
		flow_close(px->flows);
	uv_close((uv_handle_t *)&px->h, listener_closed);
}

static int addr_parse(const char *ip, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (strchr(ip, ':'))
		return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)out);
	return uv_ip4_addr(ip, port, (struct sockaddr_in *)out);
}

/* The listening address: host_ip, or every address of the family (IPv6 only there, so
 * that the IPv4 proxy of the same port can bind too). */
struct port_proxy *net_proxy_start(struct net_runtime *rt, const struct net_port_rec *p, bool v6,
				   const char *target_ip, struct stk_err *err)
{
	struct port_proxy *px = xcalloc(1, sizeof(*px));
	const char *host = p->host_ip[0] ? p->host_ip : v6 ? "::" : "0.0.0.0";
	const char *proto = p->proto == NET_UDP ? "udp" : "tcp";
	struct sockaddr_storage addr;
	int rc;

	px->rt = rt;
	px->port = *p;
	px->v6 = v6;
	snprintf(px->target_ip, sizeof(px->target_ip), "%s", target_ip);
	px->open = 1;
	net_rt_handle_opened(rt);
	if (p->proto == NET_UDP)
		uv_udp_init(rt->loop, &px->h.udp);
	else
		uv_tcp_init(rt->loop, &px->h.tcp);
	px->h.tcp.data = px; /* data is the first field of every handle */
	if ((rc = addr_parse(target_ip, p->container_port, &px->target)) < 0 ||
	    (rc = addr_parse(host, p->host_port, &addr)) < 0)
		goto fail;
	if (p->proto == NET_UDP) {
		if ((rc = uv_udp_bind(&px->h.udp, (struct sockaddr *)&addr,
				      v6 ? UV_UDP_IPV6ONLY : 0)) < 0 ||
		    (rc = uv_udp_recv_start(&px->h.udp, listener_buf_alloc, udp_recv)) < 0)
			goto fail;
	} else {
		if ((rc = uv_tcp_bind(&px->h.tcp, (struct sockaddr *)&addr,
				      v6 ? UV_TCP_IPV6ONLY : 0)) < 0 ||
		    (rc = uv_listen((uv_stream_t *)&px->h.tcp, 128, tcp_accept)) < 0)
			goto fail;
	}
	return px;
fail:
	if (rc == UV_EADDRINUSE)
		stk_err_set(err, EADDRINUSE, "port %u/%s is already in use on %s", p->host_port,
			    proto, host);
	else
		stk_err_set(err, -rc, "port %u/%s on %s: %s", p->host_port, proto, host,
			    uv_strerror(rc));
	net_proxy_close(px);
	return NULL;
}

bool net_proxy_matches(const struct port_proxy *px, const struct net_port_rec *p, bool v6,
		       const char *target_ip)
{
	return px->port.proto == p->proto && px->port.host_port == p->host_port &&
	       px->port.container_port == p->container_port && px->v6 == v6 &&
	       strcmp(px->port.host_ip, p->host_ip) == 0 && strcmp(px->target_ip, target_ip) == 0;
}
struct port_proxy *net_proxy_next(struct port_proxy *px)
{
	return px->next;
}

void net_proxy_set_next(struct port_proxy *px, struct port_proxy *next)
{
	px->next = next;
}

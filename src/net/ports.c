/* Published ports on the host: whether a port is free (a trial bind), and which host port
 * a container gets when the file leaves the choice to us: a range ("8000-8010:80", the
 * first free one, as Docker) or no host port at all ("80", a free one of the kernel's
 * ephemeral range, as Docker's port allocator). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

#define EPHEMERAL_FIRST 49153
#define EPHEMERAL_LAST 60999

static const char *proto_name(enum net_proto p)
{
	return p == NET_UDP ? "udp" : "tcp";
}

static const char *host_ip_name(const struct net_port *p)
{
	return p->host_ip && *p->host_ip ? p->host_ip : "0.0.0.0";
}

/* Binds host_ip:port (an IPv4 or IPv6 address) and lets go: a listener or a bound UDP
 * socket there makes it fail. IPv6 binds are IPv6 only, as the proxy's. */
static int port_bind_check_on(const struct net_port *p, const char *host_ip, bool optional,
			      struct stk_err *err)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	int type = p->proto == NET_UDP ? SOCK_DGRAM : SOCK_STREAM;
	int family = strchr(host_ip, ':') ? AF_INET6 : AF_INET;
	_cleanup_close_ int fd = -1;
	int one = 1;

	if (family == AF_INET6 ? inet_pton(AF_INET6, host_ip, &sin6->sin6_addr) != 1
			       : inet_pton(AF_INET, host_ip, &sin->sin_addr) != 1)
		return stk_err_set(err, EINVAL, "port %u/%s: bad host address \"%s\"", p->host_port,
				   proto_name(p->proto), host_ip);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET6)
		sin6->sin6_port = htons(p->host_port);
	else
		sin->sin_port = htons(p->host_port);
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	/* A host without IPv6 has no IPv6 port to hold. */
	if (fd < 0 && optional && errno == EAFNOSUPPORT)
		return 0;
	if (fd < 0)
		return stk_err_sys(err, "socket");
	/* TIME_WAIT leftovers must not count as "in use"; a listener still does. */
	if (type == SOCK_STREAM)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, family == AF_INET6 ? sizeof(*sin6) : sizeof(*sin)) <
	    0) {
		if (errno == EADDRINUSE)
			return stk_err_set(err, EADDRINUSE, "port %u/%s is already in use on %s",
					   p->host_port, proto_name(p->proto), host_ip);
		if (optional && errno == EADDRNOTAVAIL)
			return 0;
		return stk_err_sys(err, "port %u/%s: bind %s", p->host_port, proto_name(p->proto),
				   host_ip);
	}
	if (type == SOCK_STREAM && listen(fd, 1) < 0 && errno == EADDRINUSE)
		return stk_err_set(err, EADDRINUSE, "port %u/%s is already in use on %s",
				   p->host_port, proto_name(p->proto), host_ip);
	return 0;
}

/* A port on every address is held on IPv4 and IPv6 alike (the proxy binds both). */
static int port_bind_check(const struct net_port *p, struct stk_err *err)
{
	if (p->host_ip && *p->host_ip)
		return port_bind_check_on(p, p->host_ip, false, err);
	if (port_bind_check_on(p, "0.0.0.0", false, err) < 0)
		return -1;
	return port_bind_check_on(p, "::", true, err);
}

static bool is_range(const struct net_port *p)
{
	return p->host_port && p->host_port_end > p->host_port;
}

/* A range is fine while one port of it is free: the container takes that one. */
static int range_check(const struct net_port *p, struct stk_err *err)
{
	struct net_port one = *p;
	unsigned port;

	for (port = p->host_port; port <= p->host_port_end; port++) {
		one.host_port = (uint16_t)port;
		if (port_bind_check(&one, err) == 0)
			return 0;
		if (err->errnum != EADDRINUSE)
			return -1;
	}
	return stk_err_set(err, EADDRINUSE, "ports %u-%u/%s are all in use on %s", p->host_port,
			   p->host_port_end, proto_name(p->proto), host_ip_name(p));
}

int net_ports_check(const struct net_port *ports, size_t nports, struct stk_err *err)
{
	size_t i, j;

	for (i = 0; i < nports; i++) {
		if (!ports[i].host_port)
			continue; /* any free port will do */
		if (is_range(&ports[i])) {
			if (range_check(&ports[i], err) < 0)
				return -1;
			continue;
		}
		for (j = 0; j < i; j++)
			if (ports[j].host_port == ports[i].host_port && !is_range(&ports[j]) &&
			    ports[j].proto == ports[i].proto)
				return stk_err_set(err, EADDRINUSE, "port %u/%s is published twice",
						   ports[i].host_port, proto_name(ports[i].proto));
		if (port_bind_check(&ports[i], err) < 0)
			return -1;
	}
	return 0;
}

/* Host ports the records of every project publish (or this call has chosen), by proto. */
struct port_taken {
	const char *owner[2][65536];
};

static int taken_load(const char *root, struct port_taken *t, struct net_record **recs,
		      size_t *nrecs, struct stk_err *err)
{
	size_t i, j, k;

	if (net_record_load_all(root, recs, nrecs, err) < 0)
		return -1;
	for (i = 0; i < *nrecs; i++)
		for (j = 0; j < (*recs)[i].neps; j++) {
			const struct net_ep_rec *ep = &(*recs)[i].eps[j];

			for (k = 0; k < ep->nports; k++)
				t->owner[ep->ports[k].proto][ep->ports[k].host_port] =
					ep->container;
		}
	return 0;
}

static void ephemeral_range(unsigned *first, unsigned *last)
{
	_cleanup_close_ int fd =
		open("/proc/sys/net/ipv4/ip_local_port_range", O_RDONLY | O_CLOEXEC);
	char buf[64] = "";
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	*first = EPHEMERAL_FIRST;
	*last = EPHEMERAL_LAST;
	if (n > 0 && sscanf(buf, "%u %u", first, last) == 2 && *first >= 1 && *first <= *last &&
	    *last <= 65535)
		return;
	*first = EPHEMERAL_FIRST;
	*last = EPHEMERAL_LAST;
}

/* The first port from `start` on (wrapping within [first, last]) that no record holds
 * and a trial bind finds free. */
static int pick_free(struct net_port *p, unsigned first, unsigned last, unsigned start,
		     const struct port_taken *t, struct stk_err *err)
{
	unsigned span = last - first + 1, i;

	for (i = 0; i < span; i++) {
		unsigned port = first + (start - first + i) % span;

		if (t->owner[p->proto][port])
			continue;
		p->host_port = (uint16_t)port;
		if (port_bind_check(p, err) == 0)
			return 0;
		if (err->errnum != EADDRINUSE)
			return -1;
	}
	p->host_port = 0;
	return stk_err_set(err, EADDRINUSE, "no free host port in %u-%u/%s on %s", first, last,
			   proto_name(p->proto), host_ip_name(p));
}

static int resolve_one(struct net_port *p, struct port_taken *t, const char *self,
		       struct stk_err *err)
{
	unsigned first, last, r = 0;

	if (p->host_port && !is_range(p)) {
		const char *owner = t->owner[p->proto][p->host_port];

		if (owner && strcmp(owner, self) != 0)
			return stk_err_set(err, EADDRINUSE,
					   "port %u/%s is already in use: published by %s",
					   p->host_port, proto_name(p->proto), owner);
		return 0;
	}
	if (is_range(p))
		return pick_free(p, p->host_port, p->host_port_end, p->host_port, t, err);
	/* As Docker's allocator, anywhere in the ephemeral range; a random start keeps two
	 * projects that start at once from trying the same ports in turn. */
	ephemeral_range(&first, &last);
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned)getpid();
	return pick_free(p, first, last, first + r % (last - first + 1), t, err);
}

int net_ports_resolve(const char *root, const char *container, const struct net_port *in, size_t n,
		      struct net_port **out, struct stk_err *err)
{
	struct port_taken *t = xcalloc(1, sizeof(*t));
	struct net_record *recs = NULL;
	struct net_port *v = xcalloc(n + 1, sizeof(*v));
	size_t nrecs = 0, i;
	int rc = taken_load(root, t, &recs, &nrecs, err);

	for (i = 0; i < n && rc == 0; i++) {
		v[i] = in[i];
		if (resolve_one(&v[i], t, container, err) < 0)
			rc = -1;
		else
			t->owner[v[i].proto][v[i].host_port] = container;
		v[i].host_port_end = 0;
	}
	for (i = 0; i < nrecs; i++)
		net_record_free(&recs[i]);
	free(recs);
	free(t);
	if (rc < 0) {
		free(v);
		return -1;
	}
	*out = v;
	return 0;
}

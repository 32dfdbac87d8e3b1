/* A service's place on the network, beyond its own bridges: the ports it publishes (as
 * the net module takes them, and as `ps` and `port` read them back from the record) and
 * network_mode (host, none, service:NAME, container:NAME). */
#include "super/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/str.h"

/* ---- published ports ---- */

/* "8000" or "8000-8010"; a missing or malformed one leaves the choice to the net module
 * (compose has validated it). */
static void published_range(const char *s, uint16_t *first, uint16_t *last)
{
	char *end;
	unsigned long a, b;

	*first = *last = 0;
	if (!s || !*s)
		return;
	a = strtoul(s, &end, 10);
	b = *end == '-' ? strtoul(end + 1, NULL, 10) : a;
	if (a == 0 || a > 65535 || b < a || b > 65535)
		return;
	*first = (uint16_t)a;
	*last = b > a ? (uint16_t)b : 0;
}

void sup_port_of(const struct compose_port *cp, struct net_port *out)
{
	memset(out, 0, sizeof(*out));
	out->proto = cp->protocol && !strcmp(cp->protocol, "udp") ? NET_UDP : NET_TCP;
	out->host_ip = cp->host_ip;
	published_range(cp->published, &out->host_port, &out->host_port_end);
	out->container_port = (uint16_t)cp->target;
}

struct json_object *sup_ports_json(const struct compose_service *svc, const uint16_t *host_ports)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < svc->nports; i++) {
		const struct compose_port *p = &svc->ports[i];
		struct json_object *o = json_object_new_object();
		struct net_port np;

		sup_port_of(p, &np);
		json_object_object_add(o, "host_ip",
				       json_object_new_string(p->host_ip ? p->host_ip : "0.0.0.0"));
		/* Until the container runs, a range or a random port has no host port yet. */
		json_object_object_add(o, "published",
				       json_object_new_int(host_ports	      ? host_ports[i]
							   : np.host_port_end ? 0
									      : np.host_port));
		json_object_object_add(o, "target", json_object_new_int((int)p->target));
		json_object_object_add(o, "protocol",
				       json_object_new_string(p->protocol ? p->protocol : "tcp"));
		json_object_array_add(a, o);
	}
	return a;
}

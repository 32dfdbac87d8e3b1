/* The networking of `stack runtime run` (src/cli/runtime_net.c): private to the CLI. */
#ifndef STK_CLI_RUNTIME_NET_H
#define STK_CLI_RUNTIME_NET_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct engine_spec;
struct net_port;

/* What the command line asked for: --project, --name, --service, and each --network
 * (NET[,alias=A]...[,ip=IP] of the project, or one of none, host, container:ID,
 * service:NAME). */
struct runtime_net_opts {
	const char *root; /* the state root */
	const char *project, *name, *service;
	const char **networks;
	size_t nnetworks;
	const struct net_port *ports; /* published on the first network */
	size_t nports;
	uint16_t *host_ports_out; /* or NULL: the host port each of ports got */
};

struct runtime_net;

/* Before engine_create(): gives the container its network namespace (a fresh one with
 * a veth per network, the host's, or another container's) through spec->netns, and
 * writes its /etc/hosts and /etc/resolv.conf into the state directory for
 * spec->hosts_file and spec->resolv_conf_file. On failure nothing is left attached. */
int runtime_net_setup(const struct runtime_net_opts *o, struct engine_spec *spec,
		      struct runtime_net **out, struct stk_err *err);
/* After the container is gone (or failed to start): detaches it from its networks and
 * lets its namespace go. NULL is fine. */
void runtime_net_release(struct runtime_net *rn);
/* Free it, leaving the container attached (it runs on without us: `run -d`); `down`
 * detaches it with the project. */
void runtime_net_forget(struct runtime_net *rn);

#endif

/* Packet filtering and NAT through libnftables: one `inet` table per network (IPv4 and,
 * for enable_ipv6 networks, IPv6 alike: the forward chain matches interfaces only), named
 * like its bridge, rendered as nft rule text from the record and replaced in a single
 * transaction, so that a network is never half-configured. Tables of different networks
 * evaluate independently: a drop in any of them drops, which is what isolates them. */
#include <errno.h>
#include <string.h>

#include "util/lazy_nft.h"
#include "util/lazy_nl.h"

#include "net/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static void render_forward(struct strbuf *sb, const struct net_nw_rec *nw)
{
	const char *br = nw->bridge;

	strbuf_adds(sb, "\tchain forward {\n"
			"\t\ttype filter hook forward priority filter; policy accept;\n");
	strbuf_addf(sb, "\t\tiifname \"%s\" oifname \"%s\" accept\n", br, br);
	if (nw->internal) {
		/* internal: nothing leaves the bridge and nothing enters it, replies included. */
		strbuf_addf(sb, "\t\tiifname \"%s\" drop\n", br);
		strbuf_addf(sb, "\t\toifname \"%s\" drop\n", br);
	} else {
		strbuf_addf(sb, "\t\toifname \"%s\" ct state established,related accept\n", br);
		strbuf_addf(sb, "\t\toifname \"%s\" ct status dnat accept\n", br);
		strbuf_addf(sb, "\t\toifname \"%s\" drop\n", br);
		/* Another network's bridge is not a way out: that is the isolation. */
		strbuf_addf(sb, "\t\tiifname \"%s\" oifname \"stk-*\" drop\n", br);
		strbuf_addf(sb, "\t\tiifname \"%s\" accept\n", br);
	}
	strbuf_adds(sb, "\t}\n");
}

/* One DNAT rule of a published port. Loopback is served by the userland proxy: the
 * kernel will not route 127.0.0.0/8 or ::1 to a bridge, so the output chain leaves it. */
static void render_dnat_rule(struct strbuf *sb, const struct net_port_rec *p, bool v6,
			     const char *daddr, const char *target, bool output)
{
	const char *proto = p->proto == NET_UDP ? "udp" : "tcp";

	strbuf_adds(sb, "\t\t");
	if (v6)
		strbuf_adds(sb, output ? "ip6 daddr != ::1 " : "meta nfproto ipv6 ");
	else if (output)
		strbuf_adds(sb, "ip daddr != 127.0.0.0/8 ");
	if (daddr)
		strbuf_addf(sb, "%s daddr %s ", v6 ? "ip6" : "ip", daddr);
	else
		strbuf_adds(sb, "fib daddr type local ");
	if (v6)
		strbuf_addf(sb, "%s dport %u dnat ip6 to [%s]:%u\n", proto, p->host_port, target,
			    p->container_port);
	else
		strbuf_addf(sb, "%s dport %u dnat ip to %s:%u\n", proto, p->host_port, target,
			    p->container_port);
}

/* No host_ip: every address, IPv4 and (for a container with an IPv6 address) IPv6, as
 * Docker publishes. 0.0.0.0 and :: mean every address of that family only; ::1 is the
 * proxy's alone. An IPv6 host address without a container IPv6 address is the proxy's
 * too (it relays to the IPv4 one). */
static void render_port(struct strbuf *sb, const struct net_ep_rec *ep,
			const struct net_port_rec *p, bool output)
{
	const char *ip = p->host_ip;
	bool all4 = !ip[0] || strcmp(ip, "0.0.0.0") == 0, all6 = !ip[0] || strcmp(ip, "::") == 0;

	if (!strchr(ip, ':'))
		render_dnat_rule(sb, p, false, all4 ? NULL : ip, ep->ip, output);
	if (!ep->ip6[0] || strcmp(ip, "::1") == 0 || (ip[0] && !strchr(ip, ':')))
		return;
	render_dnat_rule(sb, p, true, all6 ? NULL : ip, ep->ip6, output);
}

static void render_dnat(struct strbuf *sb, const struct net_record *rec,
			const struct net_nw_rec *nw, bool output)
{
	size_t i, j;

	for (i = 0; i < rec->neps; i++) {
		if (strcmp(rec->eps[i].network, nw->name) != 0)
			continue;
		for (j = 0; j < rec->eps[i].nports; j++)
			render_port(sb, &rec->eps[i], &rec->eps[i].ports[j], output);
	}
}

char *net_nft_render(const struct net_record *rec, const struct net_nw_rec *nw)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_addf(&sb, "table inet %s {\n", nw->bridge);
	render_forward(&sb, nw);
	if (!nw->internal) {
		strbuf_adds(&sb, "\tchain postrouting {\n"
				 "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
		/* Hairpin: a container reaching a published port of its own network through a
		 * host address must see the reply come back from that address. */
		strbuf_addf(&sb, "\t\toifname \"%s\" ip saddr %s ct status dnat masquerade\n",
			    nw->bridge, nw->subnet);
		strbuf_addf(&sb, "\t\tip saddr %s oifname != \"%s\" masquerade\n", nw->subnet,
			    nw->bridge);
		if (nw->ipv6) {
			strbuf_addf(&sb,
				    "\t\toifname \"%s\" ip6 saddr %s ct status dnat masquerade\n",
				    nw->bridge, nw->subnet6);
			strbuf_addf(&sb, "\t\tip6 saddr %s oifname != \"%s\" masquerade\n",
				    nw->subnet6, nw->bridge);
		}
		strbuf_adds(&sb, "\t}\n\tchain prerouting {\n"
				 "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
		render_dnat(&sb, rec, nw, false);
		strbuf_adds(&sb, "\t}\n\tchain output {\n"
				 "\t\ttype nat hook output priority -100; policy accept;\n");
		render_dnat(&sb, rec, nw, true);
		strbuf_adds(&sb, "\t}\n");
	}
	strbuf_adds(&sb, "}\n");
	return strbuf_take(&sb);
}

static int nft_run(const char *text, const char *what, struct stk_err *err)
{
	struct nft_ctx *nft;
	int rc = 0;

	if (stk_lazylib_load(&stk_lazy_nft_lib, err) < 0)
		return stk_err_wrap(err, "%s", what);
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft)
		return stk_err_set(err, ENOMEM, "%s: cannot create an nftables context", what);
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, text) != 0) {
		const char *msg = nft_ctx_get_error_buffer(nft);
		size_t n = msg ? strlen(msg) : 0;

		while (n && msg[n - 1] == '\n')
			n--;
		rc = stk_err_set(err, 0, "%s: nftables: %.*s", what, (int)n, msg ? msg : "");
	}
	nft_ctx_free(nft);
	return rc;
}

int net_nft_sync(const struct net_record *rec, const struct net_nw_rec *nw, struct stk_err *err)
{
	_cleanup_free_ char *body = net_nft_render(rec, nw);
	_cleanup_free_ char *what = xasprintf("network %s: load rules", nw->name);
	_cleanup_free_ char *text = NULL;

	/* "add; delete; define" in one batch replaces the table atomically, whether or not
	 * it existed before. */
	text = xasprintf("add table inet %s\ndelete table inet %s\n%s", nw->bridge, nw->bridge,
			 body);
	return nft_run(text, what, err);
}

int net_nft_delete(const char *table, struct stk_err *err)
{
	_cleanup_free_ char *text =
		xasprintf("add table inet %s\ndelete table inet %s\n", table, table);
	_cleanup_free_ char *what = xasprintf("delete nftables table %s", table);

	return nft_run(text, what, err);
}

void net_unload_libraries(void)
{
	stk_lazylib_unload(&stk_lazy_nft_lib);
	stk_lazylib_unload(&stk_lazy_nlroute_lib);
	stk_lazylib_unload(&stk_lazy_nl_lib);
}

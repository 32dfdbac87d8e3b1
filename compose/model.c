/* Freeing the typed model. */
#include <stdlib.h>

#include "compose/compose.h"
#include "compose/node.h"

static void strv_free(struct compose_strv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->v[i]);
	free(v->v);
}

static void kvs_free(struct compose_kvs *kv)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		free(kv->v[i].key);
		free(kv->v[i].value);
	}
	free(kv->v);
}

static void refs_free(struct compose_file_ref *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(r[i].source);
		free(r[i].target);
		free(r[i].uid);
		free(r[i].gid);
	}
	free(r);
}

static void service_free(struct compose_service *s)
{
	size_t i;

	free(s->name);
	free(s->image);
	free(s->build_context);
	free(s->build_dockerfile);
	kvs_free(&s->build_args);
	strv_free(&s->command);
	strv_free(&s->entrypoint);
	kvs_free(&s->environment);
	kvs_free(&s->labels);
	for (i = 0; i < s->nports; i++) {
		free(s->ports[i].name);
		free(s->ports[i].host_ip);
		free(s->ports[i].published);
		free(s->ports[i].protocol);
		free(s->ports[i].mode);
		free(s->ports[i].app_protocol);
	}
	free(s->ports);
	strv_free(&s->expose);
	for (i = 0; i < s->nvolumes; i++) {
		struct compose_mount *m = &s->volumes[i];

		free(m->type);
		free(m->source);
		free(m->target);
		free(m->consistency);
		free(m->bind_propagation);
		free(m->bind_selinux);
		free(m->volume_subpath);
	}
	free(s->volumes);
	strv_free(&s->volumes_from);
	for (i = 0; i < s->ndepends_on; i++) {
		free(s->depends_on[i].service);
		free(s->depends_on[i].condition);
	}
	free(s->depends_on);
	for (i = 0; i < s->nnetworks; i++) {
		free(s->networks[i].name);
		strv_free(&s->networks[i].aliases);
		free(s->networks[i].ipv4_address);
		free(s->networks[i].ipv6_address);
		free(s->networks[i].mac_address);
	}
	free(s->networks);
	free(s->network_mode);
	strv_free(&s->healthcheck.test);
	for (i = 0; i < s->nulimits; i++)
		free(s->ulimits[i].name);
	free(s->ulimits);
	refs_free(s->secrets, s->nsecrets);
	refs_free(s->configs, s->nconfigs);
	for (i = 0; i < s->ndevices; i++) {
		free(s->devices[i].source);
		free(s->devices[i].target);
		free(s->devices[i].permissions);
	}
	free(s->devices);
	strv_free(&s->tmpfs);
	strv_free(&s->dns);
	strv_free(&s->dns_search);
	strv_free(&s->dns_opt);
	strv_free(&s->extra_hosts);
	kvs_free(&s->sysctls);
	strv_free(&s->cap_add);
	strv_free(&s->cap_drop);
	strv_free(&s->security_opt);
	strv_free(&s->group_add);
	strv_free(&s->profiles);
	strv_free(&s->links);
	free(s->user);
	free(s->working_dir);
	free(s->hostname);
	free(s->domainname);
	free(s->container_name);
	free(s->restart);
	free(s->restart_condition);
	free(s->stop_signal);
	free(s->ipc);
	free(s->pid);
	free(s->platform);
	free(s->pull_policy);
	free(s->cpuset);
	free(s->logging_driver);
	kvs_free(&s->logging_options);
}

static void secrets_free(struct compose_secret *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].key);
		free(s[i].name);
		free(s[i].file);
		free(s[i].environment);
		free(s[i].content);
	}
	free(s);
}

void compose_project_free(struct compose_project *p)
{
	size_t i, k;

	if (!p)
		return;
	for (i = 0; i < p->nservices; i++)
		service_free(&p->services[i]);
	free(p->services);
	for (i = 0; i < p->nnetworks; i++) {
		struct compose_network *n = &p->networks[i];

		free(n->key);
		free(n->name);
		free(n->driver);
		kvs_free(&n->driver_opts);
		kvs_free(&n->labels);
		for (k = 0; k < n->nipam; k++) {
			free(n->subnets[k]);
			free(n->gateways[k]);
			free(n->ip_ranges[k]);
		}
		free(n->subnets);
		free(n->gateways);
		free(n->ip_ranges);
	}
	free(p->networks);
	for (i = 0; i < p->nvolumes; i++) {
		free(p->volumes[i].key);
		free(p->volumes[i].name);
		free(p->volumes[i].driver);
		kvs_free(&p->volumes[i].driver_opts);
		kvs_free(&p->volumes[i].labels);
	}
	free(p->volumes);
	secrets_free(p->secrets, p->nsecrets);
	secrets_free(p->configs, p->nconfigs);
	strv_free(&p->profiles);
	free(p->name);
	free(p->workdir);
	strv_free(&p->files);
	node_free(p->tree);
	strv_free(&p->pos_files);
	free(p);
}

/* A service's place on the network, beyond its own bridges: the ports it publishes (as
 * the net module takes them, and as `ps` and `port` read them back from the record) and
 * network_mode (host, none, service:NAME, container:NAME). */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

	/* host (and none): Docker discards published ports. */
	if (svc->network_mode)
		return a;
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

/* ---- network_mode service:NAME and container:NAME ---- */

/* The running container of the project a mode names: of the service (the lowest
 * number), or by container name or id. */
static struct sup_ctr *project_target(struct sup *s, const char *mode)
{
	struct sup_ctr *c, *best = NULL;
	bool by_service = str_has_prefix(mode, "service:");
	const char *name = strchr(mode, ':') + 1;

	for (c = s->ctrs; c; c = c->next) {
		if (c->status != CTR_RUNNING || !c->ec || c->stopping)
			continue;
		if (by_service ? !strcmp(c->service, name)
			       : !strcmp(c->name, name) || !strcmp(c->id, name))
			if (!best || c->number < best->number)
				best = c;
	}
	return best;
}

/* A container of another project (or one this supervisor has not loaded), from disk. */
static int foreign_target(const struct state_paths *paths, const char *name,
			  struct state_container **v, size_t *n, const struct state_container **out,
			  struct stk_err *err)
{
	size_t i;

	*out = NULL;
	if (state_list_containers(paths, NULL, v, n, err) < 0)
		return -1;
	for (i = 0; i < *n && !*out; i++)
		if ((!strcmp(state_str((*v)[i].config, "name"), name) ||
		     !strcmp((*v)[i].id, name)) &&
		    state_container_running(&(*v)[i]))
			*out = &(*v)[i];
	return 0;
}

static int open_netns(pid_t pid, int *nsfd, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", (int)pid);

	*nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (*nsfd < 0)
		return stk_err_sys(err, "open %s", path);
	return 0;
}

/* The pid was read before the namespace was opened: it must still be the same process
 * (its pidfd not yet readable), or the namespace may be another's. */
static bool pidfd_alive(int pidfd)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};

	return poll(&p, 1, 0) == 0;
}

static void join_files(struct engine_spec *spec, const char *dir, const char *hostname,
		       bool own_hostname)
{
	free(spec->hosts_file);
	spec->hosts_file = xasprintf("%s/hosts", dir);
	free(spec->resolv_conf_file);
	spec->resolv_conf_file = xasprintf("%s/resolv.conf", dir);
	/* As Docker: the sharer takes the other container's hostname. */
	if (!own_hostname && hostname && *hostname) {
		free(spec->hostname);
		spec->hostname = xstrdup(hostname);
	}
}

int sup_netmode_join(struct sup_ctr *c, const struct compose_service *svc, struct engine_spec *spec,
		     int *nsfd, struct stk_err *err)
{
	const char *mode = svc->network_mode;
	struct sup_ctr *t = project_target(c->s, mode);
	struct state_container *v = NULL;
	const struct state_container *f = NULL;
	const char *target_id;
	size_t n = 0;
	int rc = -1;

	if (t) {
		if (open_netns(engine_pid(t->ec), nsfd, err) < 0)
			goto out;
		if (!pidfd_alive(engine_pidfd(t->ec))) {
			stk_err_set(err, ESRCH, "container %s has exited", t->name);
			goto out;
		}
		join_files(spec, t->dir, state_str(t->config, "hostname"), svc->hostname);
		target_id = t->id;
	} else if (str_has_prefix(mode, "service:")) {
		stk_err_set(err, ESRCH, "no running container of service %s", mode + 8);
		goto out;
	} else {
		if (foreign_target(&c->s->paths, mode + 10, &v, &n, &f, err) < 0)
			goto out;
		if (!f) {
			stk_err_set(err, ESRCH, "no such running container: %s", mode + 10);
			goto out;
		}
		if (open_netns((pid_t)state_int(f->state, "pid"), nsfd, err) < 0)
			goto out;
		if (!state_container_running(f)) {
			stk_err_set(err, ESRCH, "container %s has exited", mode + 10);
			goto out;
		}
		join_files(spec, f->dir, state_str(f->config, "hostname"), svc->hostname);
		target_id = f->id;
	}
	free(spec->netns);
	spec->netns = xasprintf("/proc/%d/fd/%d", (int)getpid(), *nsfd);
	/* Which container it joined: recreating that one recreates this one. */
	json_object_object_add(c->config, "network_container", json_object_new_string(target_id));
	rc = 0;
out:
	state_containers_free(v, n);
	if (rc < 0) {
		if (*nsfd >= 0)
			close(*nsfd);
		*nsfd = -1;
		return stk_err_wrap(err, "network_mode %s", mode);
	}
	return 0;
}

bool sup_netmode_current(struct sup *s, const struct sup_ctr *c, const struct compose_service *svc)
{
	struct sup_ctr *t;

	if (!svc->network_mode || !str_has_prefix(svc->network_mode, "service:"))
		return true;
	t = project_target(s, svc->network_mode);
	return !t || !strcmp(t->id, state_str(c->config, "network_container"));
}

static bool same_netns(pid_t a, pid_t b)
{
	_cleanup_free_ char *pa = xasprintf("/proc/%d/ns/net", (int)a);
	_cleanup_free_ char *pb = xasprintf("/proc/%d/ns/net", (int)b);
	struct stat sa, sb;

	/* A process that is gone has no namespace to leave: nothing to do for it. */
	if (stat(pa, &sa) < 0 || stat(pb, &sb) < 0)
		return true;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* A container restarted by its policy (or by `start`) runs in a new network namespace;
 * its sharers would stay in the old one, with no network left. Docker Compose restarts
 * the containers that depend on a restarted one's namespace: so do we, each stopped
 * as by `stop` and started again, joining the new namespace (sup_netmode_join). */
void sup_netmode_follow(struct sup_ctr *t)
{
	struct sup_ctr *c;

	if (!t->ec)
		return;
	for (c = t->s->ctrs; c; c = c->next) {
		const struct compose_service *svc = sup_ctr_service(c);

		if (c == t || c->status != CTR_RUNNING || !c->ec || c->stopping || !svc ||
		    !sup_netmode_shares(svc) || project_target(t->s, svc->network_mode) != t)
			continue;
		if (!same_netns(engine_pid(c->ec), engine_pid(t->ec)))
			sup_ctr_rejoin(c);
	}
}

bool sup_netmode_shares(const struct compose_service *svc)
{
	return svc->network_mode && (str_has_prefix(svc->network_mode, "service:") ||
				     str_has_prefix(svc->network_mode, "container:"));
}

/* A container this project makes (its container_name, or <project>-<service>-<n>): it
 * runs by the time its sharer starts if the file orders them (depends_on). */
static bool will_create(const struct compose_project *p, const char *name)
{
	size_t i, len = strlen(p->name);

	if (!strncmp(name, p->name, len) && name[len] == '-')
		return true;
	for (i = 0; i < p->nservices; i++)
		if (p->services[i].container_name && !strcmp(p->services[i].container_name, name))
			return true;
	return false;
}

int sup_netmode_check(const struct state_paths *paths, const struct compose_project *p,
		      const struct compose_service *svc, struct stk_err *err)
{
	struct state_container *v = NULL;
	const struct state_container *f = NULL;
	size_t n = 0;
	int rc;

	if (!sup_netmode_shares(svc))
		return 0;
	/* As Docker's create: the ports would be the other container's. */
	if (svc->nports)
		return stk_err_set(err, EINVAL,
				   "service %s: network_mode %s: conflicting options: port "
				   "publishing and the container type network mode",
				   svc->name, svc->network_mode);
	if (str_has_prefix(svc->network_mode, "service:") || will_create(p, svc->network_mode + 10))
		return 0;
	rc = foreign_target(paths, svc->network_mode + 10, &v, &n, &f, err);
	state_containers_free(v, n);
	if (rc == 0 && !f)
		rc = stk_err_set(err, ESRCH, "no such running container: %s",
				 svc->network_mode + 10);
	if (rc < 0)
		return stk_err_wrap(err, "service %s: network_mode %s", svc->name,
				    svc->network_mode);
	return 0;
}

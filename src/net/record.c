/* The on-disk record of a project's networks: one JSON file per project under
 * <state_root>/net/, written before the kernel objects it names are created, so that
 * teardown after a crash knows everything that may exist. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "net/internal.h"
#include "util/fs.h"
#include "util/cleanup.h"
#include "util/str.h"

static void json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

char *net_record_path(const char *state_root, const char *project)
{
	return xasprintf("%s/net/%s.json", state_root, project);
}

int net_lock(const char *state_root, struct stk_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/net", state_root);
	_cleanup_free_ char *path = xasprintf("%s/net/lock", state_root);
	int fd;

	if (stk_mkdir_p(dir, 0700, err) < 0)
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return stk_err_sys(err, "open %s", path);
	if (flock(fd, LOCK_EX) < 0) {
		stk_err_sys(err, "lock %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int net_write_file_atomic(const char *path, const char *data, size_t len, struct stk_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = -1;
	size_t off = 0;
	ssize_t w;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return stk_err_sys(err, "create %s", tmp);
	while (off < len) {
		w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return stk_err_sys(err, "write %s", tmp);
		off += (size_t)w;
	}
	/* No fsync: the rename alone is atomic against a crash of the process, and what
	 * these files hold (the /etc files, the leases of endpoints) does not outlive the
	 * host: they are written again at every start. */
	if (rename(tmp, path) < 0)
		return stk_err_sys(err, "rename %s", tmp);
	return 0;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int jint(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return json_object_get_int(v);
}

static void copy_fixed(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src);
}

static void load_network(json_object *o, struct net_nw_rec *nw)
{
	json_object *v;

	nw->name = xstrdup(jstr(o, "name"));
	copy_fixed(nw->bridge, sizeof(nw->bridge), jstr(o, "bridge"));
	copy_fixed(nw->subnet, sizeof(nw->subnet), jstr(o, "subnet"));
	copy_fixed(nw->gateway, sizeof(nw->gateway), jstr(o, "gateway"));
	copy_fixed(nw->ip_range, sizeof(nw->ip_range), jstr(o, "ip_range"));
	nw->internal = json_object_object_get_ex(o, "internal", &v) && json_object_get_boolean(v);
	nw->ipv6 = json_object_object_get_ex(o, "ipv6", &v) && json_object_get_boolean(v);
	copy_fixed(nw->subnet6, sizeof(nw->subnet6), jstr(o, "subnet6"));
	copy_fixed(nw->gateway6, sizeof(nw->gateway6), jstr(o, "gateway6"));
	if (json_object_object_get_ex(o, "nft", &v))
		nw->nft = xstrdup(json_object_get_string(v));
}

static void load_endpoint(json_object *o, struct net_ep_rec *ep)
{
	json_object *arr;
	size_t i;

	ep->container = xstrdup(jstr(o, "container"));
	ep->service = xstrdup(jstr(o, "service"));
	ep->hostname = xstrdup(jstr(o, "hostname"));
	ep->id = xstrdup(jstr(o, "id"));
	ep->network = xstrdup(jstr(o, "network"));
	copy_fixed(ep->ip, sizeof(ep->ip), jstr(o, "ip"));
	copy_fixed(ep->ip6, sizeof(ep->ip6), jstr(o, "ip6"));
	copy_fixed(ep->veth, sizeof(ep->veth), jstr(o, "veth"));
	if (json_object_object_get_ex(o, "aliases", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		ep->naliases = json_object_array_length(arr);
		ep->aliases = xcalloc(ep->naliases + 1, sizeof(char *));
		for (i = 0; i < ep->naliases; i++)
			ep->aliases[i] =
				xstrdup(json_object_get_string(json_object_array_get_idx(arr, i)));
	}
	if (json_object_object_get_ex(o, "ports", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		ep->nports = json_object_array_length(arr);
		ep->ports = xcalloc(ep->nports + 1, sizeof(*ep->ports));
		for (i = 0; i < ep->nports; i++) {
			json_object *p = json_object_array_get_idx(arr, i);

			ep->ports[i].proto = strcmp(jstr(p, "proto"), "udp") == 0 ? NET_UDP
										  : NET_TCP;
			copy_fixed(ep->ports[i].host_ip, sizeof(ep->ports[i].host_ip),
				   jstr(p, "host_ip"));
			ep->ports[i].host_port = (uint16_t)jint(p, "host_port");
			ep->ports[i].container_port = (uint16_t)jint(p, "container_port");
		}
	}
}

static int load_path(const char *path, struct net_record *rec, struct stk_err *err)
{
	_cleanup_(json_putp) json_object *root = NULL;
	json_object *arr;
	size_t i;

	root = json_object_from_file(path);
	if (!root)
		return stk_err_set(err, 0, "read %s: %s", path, json_util_get_last_err());
	rec->project = xstrdup(jstr(root, "project"));
	if (json_object_object_get_ex(root, "networks", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		for (i = 0; i < json_object_array_length(arr); i++)
			load_network(json_object_array_get_idx(arr, i),
				     net_record_add_network(rec));
	}
	if (json_object_object_get_ex(root, "endpoints", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		for (i = 0; i < json_object_array_length(arr); i++)
			load_endpoint(json_object_array_get_idx(arr, i),
				      net_record_add_endpoint(rec));
	}
	return 0;
}

int net_record_load(const char *state_root, const char *project, struct net_record *rec,
		    struct stk_err *err)
{
	_cleanup_free_ char *path = net_record_path(state_root, project);

	memset(rec, 0, sizeof(*rec));
	if (access(path, F_OK) < 0) {
		if (errno != ENOENT)
			return stk_err_sys(err, "access %s", path);
		rec->project = xstrdup(project);
		return 0;
	}
	if (load_path(path, rec, err) < 0)
		return -1;
	free(rec->project);
	rec->project = xstrdup(project);
	return 0;
}

int net_record_load_all(const char *state_root, struct net_record **out, size_t *n,
			struct stk_err *err)
{
	_cleanup_free_ char *dir = xasprintf("%s/net", state_root);
	DIR *d = opendir(dir);
	struct dirent *de;
	struct net_record *recs = NULL;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : stk_err_sys(err, "open %s", dir);
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL;

		if (!str_has_suffix(de->d_name, ".json"))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		recs = xrealloc(recs, (count + 1) * sizeof(*recs));
		memset(&recs[count], 0, sizeof(*recs));
		if (load_path(path, &recs[count], err) < 0) {
			net_record_free(&recs[count]);
			continue; /* a broken record must not block other projects */
		}
		count++;
	}
	closedir(d);
	*out = recs;
	*n = count;
	return 0;
}

static json_object *save_network(const struct net_nw_rec *nw)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(nw->name));
	json_object_object_add(o, "bridge", json_object_new_string(nw->bridge));
	json_object_object_add(o, "subnet", json_object_new_string(nw->subnet));
	json_object_object_add(o, "gateway", json_object_new_string(nw->gateway));
	json_object_object_add(o, "ip_range", json_object_new_string(nw->ip_range));
	json_object_object_add(o, "internal", json_object_new_boolean(nw->internal));
	if (nw->ipv6) {
		json_object_object_add(o, "ipv6", json_object_new_boolean(true));
		json_object_object_add(o, "subnet6", json_object_new_string(nw->subnet6));
		json_object_object_add(o, "gateway6", json_object_new_string(nw->gateway6));
	}
	if (nw->nft)
		json_object_object_add(o, "nft", json_object_new_string(nw->nft));
	return o;
}

static json_object *save_endpoint(const struct net_ep_rec *ep)
{
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	size_t i;

	json_object_object_add(o, "container", json_object_new_string(ep->container));
	json_object_object_add(o, "service", json_object_new_string(ep->service));
	json_object_object_add(o, "hostname", json_object_new_string(ep->hostname));
	if (ep->id && ep->id[0])
		json_object_object_add(o, "id", json_object_new_string(ep->id));
	json_object_object_add(o, "network", json_object_new_string(ep->network));
	json_object_object_add(o, "ip", json_object_new_string(ep->ip));
	if (ep->ip6[0])
		json_object_object_add(o, "ip6", json_object_new_string(ep->ip6));
	json_object_object_add(o, "veth", json_object_new_string(ep->veth));
	for (i = 0; i < ep->naliases; i++)
		json_object_array_add(arr, json_object_new_string(ep->aliases[i]));
	json_object_object_add(o, "aliases", arr);
	arr = json_object_new_array();
	for (i = 0; i < ep->nports; i++) {
		json_object *p = json_object_new_object();

		json_object_object_add(p, "proto",
				       json_object_new_string(
					       ep->ports[i].proto == NET_UDP ? "udp" : "tcp"));
		json_object_object_add(p, "host_ip", json_object_new_string(ep->ports[i].host_ip));
		json_object_object_add(p, "host_port", json_object_new_int(ep->ports[i].host_port));
		json_object_object_add(p, "container_port",
				       json_object_new_int(ep->ports[i].container_port));
		json_object_array_add(arr, p);
	}
	json_object_object_add(o, "ports", arr);
	return o;
}

int net_record_save(const char *state_root, const struct net_record *rec, struct stk_err *err)
{
	_cleanup_(json_putp) json_object *root = json_object_new_object();
	_cleanup_free_ char *dir = xasprintf("%s/net", state_root);
	_cleanup_free_ char *path = net_record_path(state_root, rec->project);
	json_object *arr;
	const char *text;
	size_t i;

	if (stk_mkdir_p(dir, 0700, err) < 0)
		return -1;
	json_object_object_add(root, "project", json_object_new_string(rec->project));
	arr = json_object_new_array();
	for (i = 0; i < rec->nnws; i++)
		json_object_array_add(arr, save_network(&rec->nws[i]));
	json_object_object_add(root, "networks", arr);
	arr = json_object_new_array();
	for (i = 0; i < rec->neps; i++)
		json_object_array_add(arr, save_endpoint(&rec->eps[i]));
	json_object_object_add(root, "endpoints", arr);
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY);
	return net_write_file_atomic(path, text, strlen(text), err);
}

static void free_endpoint(struct net_ep_rec *ep)
{
	size_t i;

	free(ep->container);
	free(ep->service);
	free(ep->hostname);
	free(ep->id);
	free(ep->network);
	for (i = 0; i < ep->naliases; i++)
		free(ep->aliases[i]);
	free(ep->aliases);
	free(ep->ports);
}

void net_record_free(struct net_record *rec)
{
	size_t i;

	for (i = 0; i < rec->nnws; i++) {
		free(rec->nws[i].name);
		free(rec->nws[i].nft);
	}
	for (i = 0; i < rec->neps; i++)
		free_endpoint(&rec->eps[i]);
	free(rec->nws);
	free(rec->eps);
	free(rec->project);
	memset(rec, 0, sizeof(*rec));
}

struct net_nw_rec *net_record_network(struct net_record *rec, const char *name)
{
	size_t i;

	for (i = 0; i < rec->nnws; i++)
		if (strcmp(rec->nws[i].name, name) == 0)
			return &rec->nws[i];
	return NULL;
}

struct net_nw_rec *net_record_add_network(struct net_record *rec)
{
	rec->nws = xrealloc(rec->nws, (rec->nnws + 1) * sizeof(*rec->nws));
	memset(&rec->nws[rec->nnws], 0, sizeof(*rec->nws));
	return &rec->nws[rec->nnws++];
}

struct net_ep_rec *net_record_add_endpoint(struct net_record *rec)
{
	rec->eps = xrealloc(rec->eps, (rec->neps + 1) * sizeof(*rec->eps));
	memset(&rec->eps[rec->neps], 0, sizeof(*rec->eps));
	return &rec->eps[rec->neps++];
}

void net_record_remove_endpoint(struct net_record *rec, size_t i)
{
	free_endpoint(&rec->eps[i]);
	memmove(&rec->eps[i], &rec->eps[i + 1], (rec->neps - i - 1) * sizeof(*rec->eps));
	rec->neps--;
}

/* The typed project model: what the rest of stack reads. Every attribute is in its
 * canonical long form (short syntax expanded, durations in nanoseconds, sizes in
 * bytes, paths absolute). Attributes that nothing acts on yet are still in the
 * canonical tree that `stack config` prints. */
#ifndef STK_COMPOSE_MODEL_H
#define STK_COMPOSE_MODEL_H

#include <stdbool.h>
#include <stddef.h>

struct node;

struct compose_kv {
	char *key;
	char *value; /* NULL: declared without a value */
};

struct compose_kvs {
	struct compose_kv *v;
	size_t n;
};

struct compose_strv {
	char **v;
	size_t n;
};

struct compose_port {
	char *name;
	char *host_ip; /* NULL: all addresses */
	unsigned target;
	char *published; /* NULL: a random port */
	char *protocol; /* tcp or udp */
	char *mode;
	char *app_protocol;
};

struct compose_mount {
	char *type; /* bind, volume, tmpfs, npipe, cluster, image */
	char *source;
	char *target;
	bool read_only;
	char *consistency;
	bool bind_create_host_path;
	char *bind_propagation;
	char *bind_selinux;
	bool volume_nocopy;
	char *volume_subpath;
	long long tmpfs_size; /* bytes; 0 unset */
	int tmpfs_mode; /* -1 unset */
};

struct compose_depend {
	char *service;
	char *condition; /* service_started, service_healthy, service_completed_successfully */
	bool restart;
	bool required;
};

struct compose_service_network {
	char *name; /* the compose key, not the engine name */
	struct compose_strv aliases;
	char *ipv4_address;
	char *ipv6_address;
	char *mac_address;
	int priority;
};

struct compose_healthcheck {
	bool present;
	bool disable;
	struct compose_strv test; /* CMD ... / CMD-SHELL cmd / NONE */
	long long interval_ns, timeout_ns, start_period_ns, start_interval_ns;
	int retries; /* -1 unset */
};

struct compose_ulimit {
	char *name;
	long long soft, hard;
};

struct compose_file_ref { /* a service's secret or config */
	char *source;
	char *target;
	char *uid, *gid;
	int mode; /* -1 unset */
};

struct compose_device {
	char *source, *target, *permissions;
};

struct compose_resources {
	double cpus; /* 0 unset */
	long long memory; /* bytes; 0 unset */
	long long pids; /* 0 unset */
};

struct compose_service {
	char *name;
	char *image;
	char *build_context; /* NULL: no build */
	char *build_dockerfile;
	struct compose_kvs build_args;
	struct compose_strv command;
	bool has_command;
	struct compose_strv entrypoint;
	bool has_entrypoint;
	struct compose_kvs environment;
	struct compose_kvs labels;
	struct compose_port *ports;
	size_t nports;
	struct compose_strv expose;
	struct compose_mount *volumes;
	size_t nvolumes;
	struct compose_strv volumes_from;
	struct compose_depend *depends_on;
	size_t ndepends_on;
	struct compose_service_network *networks;
	size_t nnetworks;
	char *network_mode;
	struct compose_healthcheck healthcheck;
	struct compose_ulimit *ulimits;
	size_t nulimits;
	struct compose_file_ref *secrets;
	size_t nsecrets;
	struct compose_file_ref *configs;
	size_t nconfigs;
	struct compose_device *devices;
	size_t ndevices;
	struct compose_strv tmpfs;
	struct compose_strv dns, dns_search, dns_opt;
	struct compose_strv extra_hosts; /* host=ip */
	struct compose_kvs sysctls;
	struct compose_strv cap_add, cap_drop, security_opt, group_add, profiles, links;
	char *user;
	char *working_dir;
	char *hostname;
	char *domainname;
	char *container_name;
	char *restart;
	/* deploy.restart_policy: over restart when set (condition NULL: not set) */
	char *restart_condition; /* none, on-failure, any */
	long long restart_max_attempts; /* 0 unset */
	long long restart_delay_ns, restart_window_ns; /* -1 unset */
	char *stop_signal;
	long long stop_grace_period_ns; /* -1 unset */
	char *ipc, *pid, *platform, *pull_policy;
	bool read_only, init, tty, stdin_open, privileged;
	long long pids_limit; /* 0 unset */
	long long mem_limit; /* bytes; 0 unset */
	long long memswap_limit; /* bytes; 0 unset, -1 unlimited */
	long long mem_reservation;
	long long shm_size;
	double cpus;
	long long cpu_shares;
	char *cpuset;
	int oom_score_adj;
	int replicas; /* scale or deploy.replicas; 1 by default */
	struct compose_resources limits, reservations;
	char *logging_driver;
	struct compose_kvs logging_options;
	struct node *canonical; /* this service's canonical tree (owned by the project) */
};

struct compose_network {
	char *key; /* the name in the compose file */
	char *name; /* the engine name: <project>_<key>, or its own if external or named */
	char *driver;
	bool external, internal, attachable, enable_ipv6;
	struct compose_kvs driver_opts;
	struct compose_kvs labels;
	char **subnets, **gateways, **ip_ranges; /* ipam.config, parallel arrays */
	size_t nipam;
};

struct compose_volume {
	char *key;
	char *name;
	char *driver;
	bool external;
	struct compose_kvs driver_opts;
	struct compose_kvs labels;
};

struct compose_secret { /* top-level secrets and configs */
	char *key;
	char *name;
	char *file;
	char *environment;
	char *content;
	bool external;
};

struct compose_project {
	char *name;
	char *workdir;
	struct compose_strv files;
	struct compose_service *services; /* sorted by name */
	size_t nservices;
	struct compose_network *networks;
	size_t nnetworks;
	struct compose_volume *volumes;
	size_t nvolumes;
	struct compose_secret *secrets;
	size_t nsecrets;
	struct compose_secret *configs;
	size_t nconfigs;
	struct compose_strv profiles; /* every profile any service names */
	struct node *tree; /* the canonical tree `config` prints */
	struct compose_strv pos_files; /* file names the tree's positions point into */
	bool interpolated; /* rendering doubles '$' so the output reads back */
};

/* The index of a service by name, or -1. */
int compose_service_index(const struct compose_project *p, const char *name);

#endif

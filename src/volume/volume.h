/* volume/: the data a project keeps. Named volumes of the local driver under
 * $ROOT/volumes/<name>/ (volume.json: what `docker volume inspect` shows; _data: the
 * content), copy-up of an image's content into an empty volume, snapshots as tar
 * (export/import), and the record of which container uses which volume, so that a
 * volume in use cannot be removed. The supervisor and `stack volume` call this header
 * only; nothing here prints, exits or knows about Compose files. */
#ifndef STK_VOLUME_VOLUME_H
#define STK_VOLUME_VOLUME_H

#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

struct volume_kv {
	char *key, *value;
};
/* Append a copy of key=value; free a list. */
void volume_kv_add(struct volume_kv **kv, size_t *n, const char *key, const char *value);
void volume_kv_free(struct volume_kv *kv, size_t n);
/* Append the members of a JSON object (strings) as key=value pairs. */
struct json_object;
void volume_kv_add_json(struct volume_kv **kv, size_t *n, struct json_object *obj);

/* A volume as `docker volume inspect` shows it. */
struct volume {
	char *name, *driver, *mountpoint, *created_at, *scope;
	struct volume_kv *labels, *options;
	size_t nlabels, noptions;
};

/* What to create: driver NULL = "local". Labels and options are copied. */
struct volume_create_opts {
	const char *name; /* NULL or "" = an anonymous volume with a random 64-hex name */
	const char *driver;
	const struct volume_kv *labels, *options;
	size_t nlabels, noptions;
};

/* Compose's labels and anonymous marker (moby's and compose-go's names). */
#define VOLUME_LABEL_PROJECT "com.docker.compose.project"
#define VOLUME_LABEL_VOLUME "com.docker.compose.volume"
#define VOLUME_LABEL_ANONYMOUS "com.docker.volume.anonymous"

/* Compose's name for a project's volume: `name:` when given, else <project>_<key>. */
char *volume_compose_name(const char *project, const char *key, const char *name);

/* Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+: no "/", no "..", nothing that leaves
 * $ROOT/volumes. */
int volume_name_check(const char *name, struct stk_err *err);

/* Create a volume, or return the existing one of that name (*created false) as
 * `docker volume create` does; a different driver for an existing name is an error.
 * The local driver's options are checked here: type=tmpfs with o=size=..., type=none
 * with o=bind and device=PATH. */
int volume_create(const char *root, const struct volume_create_opts *o, struct volume **out,
		  bool *created, struct stk_err *err);
/* ENOENT ("no such volume") when it does not exist. */
int volume_get(const char *root, const char *name, struct volume **out, struct stk_err *err);
/* Every volume, sorted by name. */
int volume_list(const char *root, struct volume ***out, size_t *n, struct stk_err *err);
void volume_free(struct volume *v);
/* The inspect form: {CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope}. */
struct json_object *volume_to_json(const struct volume *v);
void volume_list_free(struct volume **v, size_t n);
/* Label value, NULL when the volume has no such label. */
const char *volume_label(const struct volume *v, const char *key);
/* A driver option ("type", "o", "device"), NULL when unset. */
const char *volume_option(const struct volume *v, const char *key);

/* Remove a volume and its content. Refused (EBUSY, naming the containers) while a
 * container record references it; ENOENT when missing. */
int volume_remove(const char *root, const char *name, struct stk_err *err);

/* Bytes the volume's content takes on disk (0 for tmpfs and bind volumes). */
unsigned long long volume_disk_usage(const char *root, const struct volume *v);

/* `down -v`: remove the project's own volumes (labelled com.docker.compose.project=
 * project; an external volume never is, so it stays). Each removed name goes to
 * removed (NULL-terminated, may be NULL); a volume in use fails the call after the
 * others are removed, naming it. */
int volume_remove_project(const char *root, const char *project, char ***removed,
			  struct stk_err *err);

/* The containers whose records reference the volume: "name (id)", NULL-terminated. */
char **volume_users(const char *root, const char *name);
void volume_strv_free(char **v);

/* --- mounting into containers --- */

/* Hold a volume (a shared lock; returns the fd that holds it) from before a container
 * is set up to use it until its users record is written: volume_remove() and
 * volume_import() wait for it and then see the record. ENOENT when the volume was
 * removed meanwhile. Close the fd to let go. */
int volume_hold(const char *root, const char *name, struct stk_err *err);

/* The host directory a container mounts for this volume: _data, or the device of a
 * type=none,o=bind volume. A type=tmpfs volume gets its tmpfs mounted on _data here,
 * on first use; volume_unmount_unused() takes it away when no container uses it. */
int volume_host_path(const char *root, const struct volume *v, char **out, struct stk_err *err);
void volume_unmount_unused(const char *root, const struct volume *v);

/* Copy-up as Docker does it (call it holding the volume): when the volume's content is
 * empty, fill it with what
 * the image has at path (the merged view of layers, top first, whiteouts and opaque
 * directories honoured; symlinks on the way resolved inside the image). Owners,
 * modes, xattrs, times, symlinks, hardlinks and device nodes are kept. Nothing is
 * copied when the volume is not empty or the image has no directory there. */
int volume_copy_up(const char *root, const struct volume *v, const char *const *layers,
		   size_t nlayers, const char *path, struct stk_err *err);
/* The copy itself, from merged layers at path into an empty directory dest. */
int volume_copy_tree(const char *const *layers, size_t nlayers, const char *path, const char *dest,
		     bool *copied, struct stk_err *err);

/* The record that makes a container a user of volumes (and the source of its
 * volumes_from): <state_dir>/mounts.json, {"Name": ..., "Mounts": [{"Type", "Name",
 * "Source", "Destination", "RW"}]}. Written before the container starts; it goes with
 * the state directory. */
struct volume_mount_record {
	char *type; /* "volume", "bind", "tmpfs" */
	char *name; /* volumes only */
	char *source, *destination;
	bool rw;
};
int volume_record_users(const char *state_dir, const char *container_name,
			const struct volume_mount_record *m, size_t n, struct stk_err *err);
/* The mounts another container recorded, found by id or name under $ROOT/containers
 * (ENOENT naming it when there is no such container). */
int volume_read_users(const char *root, const char *container, struct volume_mount_record **out,
		      size_t *n, struct stk_err *err);
void volume_mount_records_free(struct volume_mount_record *m, size_t n);

/* --- snapshots --- */

/* Write the volume's content to fd as a tar (pax: owners, modes, xattrs, links). */
int volume_export(const char *root, const char *name, int fd, struct stk_err *err);
/* Replace the volume's content with the tar read from fd; the volume is created when
 * missing. An existing volume with content is refused (EEXIST) unless force. */
int volume_import(const char *root, const char *name, int fd, bool force, struct stk_err *err);

#endif

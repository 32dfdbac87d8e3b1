/* Images: the contract of src/image/.
 *
 * References (`postgres:16`, `registry:5000/team/app@sha256:...`), the local store
 * under $ROOT/images, pulling from registries on a libuv loop, and unpacked layer
 * trees that the engine stacks with overlayfs. Nothing here prints: progress is
 * reported through a callback, failures through struct stk_err. */
#ifndef STK_IMAGE_H
#define STK_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* ---- references ------------------------------------------------------------ */

/* A parsed reference in its fully qualified form: docker.io/library/busybox:latest. */
struct image_ref {
	char *domain; /* "docker.io", "127.0.0.1:5000" */
	char *path; /* "library/busybox" */
	char *tag; /* "latest" when neither tag nor digest was given; NULL with a digest only */
	char *digest; /* "sha256:<64 hex>" or NULL */
};

int image_ref_parse(const char *s, struct image_ref *out, struct stk_err *err);
void image_ref_free(struct image_ref *r);
/* "docker.io/library/busybox:latest" (tag form; digest form when there is no tag). */
char *image_ref_canonical(const struct image_ref *r);
/* The name as docker shows it: "busybox" for docker.io/library/busybox. */
char *image_ref_familiar_name(const struct image_ref *r);
/* Is "sha256:<64 lowercase hex>"? */
bool image_digest_valid(const char *digest);

/* ---- store ----------------------------------------------------------------- */

struct image_store;

/* Opens (creating as needed) $root/images. */
int image_store_open(const char *root, struct image_store **out, struct stk_err *err);
void image_store_free(struct image_store *s);

/* One tagged (or untagged) image, as `stack images` lists it. */
struct image_entry {
	char *name; /* canonical reference "docker.io/library/busybox:latest", or NULL */
	char *manifest_digest; /* what the name points to */
	char *id; /* config digest: the image ID */
	int64_t created; /* seconds since the epoch, from the config; 0 if unknown */
	uint64_t size; /* unpacked size of the layers */
};

struct image_list {
	struct image_entry *v;
	size_t n;
};

int image_store_list(struct image_store *s, struct image_list *out, struct stk_err *err);
void image_list_free(struct image_list *l);

/* What the engine needs to run an image. */
struct image_config {
	char *id; /* config digest */
	char *manifest_digest;
	char **layers; /* absolute paths of the unpacked layer trees, lowest first */
	size_t nlayers;
	char *config_json; /* the image config blob (OCI image config), as stored */
};

/* Resolves a name ("busybox", "sha256:<id>", an ID prefix of >= 4 hex) to an image. */
int image_store_get(struct image_store *s, const char *name, struct image_config *out,
		    struct stk_err *err);
void image_config_free(struct image_config *c);

/* Images that containers use: rm and prune refuse to remove these unless forced. The
 * container store registers its answer here; by default no image is in use. */
typedef bool (*image_in_use_fn)(const char *image_id, void *arg);
void image_store_set_in_use_hook(struct image_store *s, image_in_use_fn fn, void *arg);

/* Adds a name for an existing image. */
int image_store_tag(struct image_store *s, const char *source, const char *target,
		    struct stk_err *err);
/* Removes a name; removes the image when no name is left (and it is not in use unless
 * force). `removed` (optional) receives one line per name/ID removed, as docker prints. */
int image_store_remove(struct image_store *s, const char *name, bool force, char ***removed,
		       size_t *nremoved, struct stk_err *err);
/* Removes untagged images (all unused images with `all`), then blobs and layers that
 * nothing refers to. Reports the bytes reclaimed. */
int image_store_prune(struct image_store *s, bool all, char ***removed, size_t *nremoved,
		      uint64_t *reclaimed, struct stk_err *err);

/* Imports a `docker save` archive or an OCI image layout archive (tar, optionally
 * compressed). `loaded` receives one "Loaded image: NAME" line per image. */
int image_store_load(struct image_store *s, const char *file, char ***loaded, size_t *nloaded,
		     struct stk_err *err);
/* Writes the images to a tar that is both an OCI layout and a `docker save` archive. */
int image_store_save(struct image_store *s, const char *const *names, size_t n, const char *file,
		     struct stk_err *err);

/* ---- pull ------------------------------------------------------------------ */

enum image_event_kind {
	IMAGE_EV_RESOLVED, /* manifest found: detail = manifest digest */
	IMAGE_EV_LAYER_EXISTS, /* layer already in the store */
	IMAGE_EV_LAYER_WAIT, /* queued behind the parallel limit */
	IMAGE_EV_LAYER_PROGRESS,
	IMAGE_EV_LAYER_VERIFIED,
	IMAGE_EV_LAYER_EXTRACTING,
	IMAGE_EV_LAYER_DONE,
	IMAGE_EV_RETRY, /* detail = reason */
	IMAGE_EV_DONE, /* detail = manifest digest */
};

struct image_event {
	enum image_event_kind kind;
	const char *ref; /* as the user wrote it */
	const char *layer; /* layer digest, for layer events */
	uint64_t current, total;
	const char *detail;
};

typedef void (*image_event_fn)(const struct image_event *ev, void *arg);

struct image_pull_group;

struct image_pull_opts {
	unsigned max_parallel; /* layer downloads at once; 0 = 3 (ignored with a group) */
	struct image_pull_group *group; /* NULL: the pull has a group of its own */
	const char *docker_config_dir; /* NULL = $DOCKER_CONFIG or ~/.docker */
	const char *const *insecure; /* registries (host[:port], CIDR) allowed without TLS
					* checks, besides $STACK_INSECURE_REGISTRIES */
	size_t ninsecure;
	image_event_fn on_event;
	void *event_arg;
};

/* Pulls that run on one loop at once share a group: one limit on layer downloads for
 * all of them (max_parallel; 0 = 3), and a blob that one of them is fetching is fetched
 * once, the others waiting for it. Free it after the last of its pulls is done. */
struct image_pull_group *image_pull_group_new(unsigned max_parallel);
void image_pull_group_free(struct image_pull_group *g);

struct uv_loop_s;
struct image_pull;
typedef void (*image_pull_done_fn)(struct image_pull *p, int status, const struct stk_err *err,
				   void *arg);

/* Starts a pull on the loop; `done` runs on the loop when it finished (status 0) or
 * failed (-1, err says why). The handle is freed after `done` returns. */
int image_pull_start(struct uv_loop_s *loop, struct image_store *s, const char *ref,
		     const struct image_pull_opts *opts, image_pull_done_fn done, void *arg,
		     struct stk_err *err);
/* For the CLI: pulls every reference at once on a loop of its own (one group) until all
 * are done. `on_result` (optional) hears of each as it ends, err NULL on success.
 * Returns -1 if any failed, err being the first failure. */
typedef void (*image_pull_result_fn)(const char *ref, const struct stk_err *err, void *arg);
int image_pull_all(struct image_store *s, const char *const *refs, size_t nrefs,
		   const struct image_pull_opts *opts, image_pull_result_fn on_result,
		   void *result_arg, struct stk_err *err);
/* Is this registry (host[:port]) marked insecure, by opts or $STACK_INSECURE_REGISTRIES
 * (comma-separated host[:port] or CIDR, like Docker's insecure-registries)? */
bool image_registry_insecure(const struct image_pull_opts *opts, const char *domain);

/* ---- registry credentials (~/.docker/config.json) --------------------------- */

/* Registry key as config.json uses it: "https://index.docker.io/v1/" for docker.io. */
char *image_auth_key(const char *domain);
int image_auth_store(const char *config_dir, const char *domain, const char *user,
		     const char *password, struct stk_err *err);
int image_auth_erase(const char *config_dir, const char *domain, bool *was_present,
		     struct stk_err *err);
/* Reads user and password for a registry; both NULL (and 0 returned) if none. */
int image_auth_lookup(const char *config_dir, const char *domain, char **user, char **password,
		      struct stk_err *err);
/* Checks credentials against the registry (GET /v2/ with the auth flow). */
int image_auth_check(const char *domain, const char *user, const char *password,
		     const struct image_pull_opts *opts, struct stk_err *err);

/* ---- layers ---------------------------------------------------------------- */

/* Path of the unpacked tree of a layer (by diff ID); NULL if not in the store. */
char *image_store_layer_path(struct image_store *s, const char *diffid);

/* ---- images made locally (the builder) -------------------------------------- */

/* One layer as a manifest lists it. */
struct image_layer {
	char *media_type;
	char *digest; /* the blob */
	int64_t size; /* of the blob */
	char *diffid; /* of the uncompressed tar */
};
void image_layers_free(struct image_layer *v, size_t n);

/* The layers of a stored image (by manifest digest), lowest first. */
int image_store_layers(struct image_store *s, const char *manifest_digest, struct image_layer **out,
		       size_t *n, struct stk_err *err);
/* Adds an uncompressed layer tar: stored as a blob (digest = diff ID) and unpacked into
 * the store. The file is moved into the store (or copied across filesystems). */
int image_store_add_layer(struct image_store *s, const char *tar_path, struct image_layer *out,
			  struct stk_err *err);
/* Writes the config blob and an OCI manifest over the layers (already in the store),
 * records the image and names it (name may be NULL). *id gets the config digest. */
int image_store_commit(struct image_store *s, const char *config_json,
		       const struct image_layer *layers, size_t n, const char *name, char **id,
		       struct stk_err *err);

#endif

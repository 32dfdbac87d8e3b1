/* Private to src/image/: store internals shared by pull, unpack and load/save. */
#ifndef STK_IMAGE_INTERNAL_H
#define STK_IMAGE_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"
#include "util/lazy_crypto.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

struct image_store {
	char *dir; /* absolute, symlink-free path of $root/images */
	image_in_use_fn in_use;
	void *in_use_arg;
};

static inline void json_object_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(json_object_putp)))

/* ---- hashing (libcrypto EVP) ---- */
struct sha256 {
	EVP_MD_CTX *ctx;
};
void sha256_init(struct sha256 *h);
void sha256_update(struct sha256 *h, const void *data, size_t n);
/* Writes "sha256:<hex>" into out (72 bytes) and frees the context. */
void sha256_final(struct sha256 *h, char out[72]);
void sha256_dispose(struct sha256 *h);
void sha256_digest(const void *data, size_t n, char out[72]);

/* ---- files ---- */
/* Writes data to path through a temporary file, fsync and rename: all or nothing. */
int store_write_atomic(const char *path, const void *data, size_t n, struct stk_err *err);
int store_read_file(const char *path, char **data, size_t *n, struct stk_err *err);
int store_mkdirs(const char *path, struct stk_err *err);
int store_fsync_dir(const char *dir, struct stk_err *err);
/* Recursive removal that never follows symlinks out of the tree. */
int store_remove_tree(const char *path, struct stk_err *err);

/* ---- blobs, layers, refs ---- */
char *store_blob_path(struct image_store *s, const char *digest);
char *store_blob_partial_path(struct image_store *s, const char *digest);
bool store_blob_exists(struct image_store *s, const char *digest);
/* Verifies the digest, then stores. */
int store_blob_put(struct image_store *s, const char *digest, const void *data, size_t n,
		   struct stk_err *err);
int store_blob_read(struct image_store *s, const char *digest, char **data, size_t *n,
		    struct stk_err *err);
char *store_layer_dir(struct image_store *s, const char *diffid);
bool store_layer_exists(struct image_store *s, const char *diffid);
uint64_t store_layer_size(struct image_store *s, const char *diffid);
/* A temporary directory inside the store (same filesystem, so rename commits). */
char *store_tmp_dir(struct image_store *s, struct stk_err *err);

/* Locks: pulls hold the store shared, rm/prune exclusive; a per-blob lock serialises
 * two pullers of the same layer. Return an fd to close to release, or -1. */
int store_lock(struct image_store *s, bool exclusive, struct stk_err *err);
int store_lock_blob(struct image_store *s, const char *digest, struct stk_err *err);

/* refs.json: {"refs": {name: manifest digest}, "images": [manifest digests]}.
 * The callback edits the object under an exclusive lock; it is written back when the
 * callback returns 0. */
typedef int (*store_refs_edit_fn)(struct json_object *refs, void *arg, struct stk_err *err);
int store_refs_edit(struct image_store *s, store_refs_edit_fn fn, void *arg, struct stk_err *err);
int store_refs_load(struct image_store *s, struct json_object **out, struct stk_err *err);
/* Records an image and points name (may be NULL) at it. */
int store_add_image(struct image_store *s, const char *name, const char *manifest_digest,
		    struct stk_err *err);

/* ---- manifests ---- */
struct manifest_layer {
	char *digest;
	char *media_type;
	int64_t size;
	char *diffid;
};

struct manifest {
	char *config_digest;
	int64_t config_size;
	struct manifest_layer *layers;
	size_t nlayers;
};

/* Parses a manifest (OCI or Docker schema2). Fills diffids from the config when given. */
int manifest_parse(const char *data, size_t n, struct manifest *m, struct stk_err *err);
int manifest_set_diffids(struct manifest *m, const char *config, size_t n, struct stk_err *err);
void manifest_free(struct manifest *m);
/* The media type of a manifest document: from mediaType, or guessed from its shape. */
const char *manifest_media_type(struct json_object *doc);
/* From an index/list: the digest of the manifest for linux/<arch>[/<variant>]. */
int manifest_index_pick(const char *data, size_t n, const char *arch, const char *variant,
			char **digest, struct stk_err *err);
/* This machine's platform in OCI terms. */
void image_host_platform(const char **arch, const char **variant);

/* ---- unpack ---- */
/* A tar member name relative to the archive root: leading "/" and "./", "." components,
 * repeated and trailing slashes dropped, "dir/.." folded; "" is the root itself. NULL
 * for an empty name or one whose ".." climbs above the root. */
char *tar_path_clean(const char *name);

enum layer_compression { LAYER_AUTO, LAYER_GZIP, LAYER_ZSTD, LAYER_NONE };

/* Extracts the (compressed) layer blob at blob_path into dest, which must exist and be
 * empty; computes the diff ID (SHA-256 of the uncompressed tar) on the way. Whiteouts
 * become overlay whiteouts. Anything escaping dest fails the whole layer. */
int layer_unpack(const char *blob_path, const char *dest, char diffid[72], uint64_t *size,
		 struct stk_err *err);
/* Unpacks a verified blob and commits it under layers/ if its diff ID matches. */
int store_commit_layer(struct image_store *s, const char *blob_digest, const char *diffid,
		       struct stk_err *err);

#endif

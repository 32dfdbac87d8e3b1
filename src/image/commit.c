/* Images made on this machine (the builder): a layer tar into the store, and a config
 * plus an OCI manifest over stored layers committed as an image. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"

void image_layers_free(struct image_layer *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].media_type);
		free(v[i].digest);
		free(v[i].diffid);
	}
	free(v);
}

int image_store_layers(struct image_store *s, const char *manifest_digest, struct image_layer **out,
		       size_t *n, struct stk_err *err)
{
	_cleanup_free_ char *data = NULL, *config = NULL;
	struct manifest m;
	size_t len, clen, i;

	if (store_blob_read(s, manifest_digest, &data, &len, err) < 0 ||
	    manifest_parse(data, len, &m, err) < 0)
		return stk_err_wrap(err, "image %.19s", manifest_digest);
	if (store_blob_read(s, m.config_digest, &config, &clen, err) < 0 ||
	    manifest_set_diffids(&m, config, clen, err) < 0) {
		manifest_free(&m);
		return stk_err_wrap(err, "image %.19s", manifest_digest);
	}
	*out = xcalloc(m.nlayers + 1, sizeof(**out));
	for (i = 0; i < m.nlayers; i++)
		(*out)[i] = (struct image_layer){
			.media_type = xstrdup(m.layers[i].media_type ? m.layers[i].media_type
								     : MT_OCI_LAYER_TAR),
			.digest = xstrdup(m.layers[i].digest),
			.size = m.layers[i].size,
			.diffid = xstrdup(m.layers[i].diffid),
		};
	*n = m.nlayers;
	manifest_free(&m);
	return 0;
}

static int file_digest(const char *path, char out[72], int64_t *size, struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct sha256 h;
	char buf[65536];
	ssize_t r;

	if (fd < 0)
		return stk_err_sys(err, "open %s", path);
	*size = 0;
	sha256_init(&h);
	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		sha256_update(&h, buf, (size_t)r);
		*size += r;
	}
	if (r < 0) {
		sha256_dispose(&h);
		return stk_err_sys(err, "read %s", path);
	}
	sha256_final(&h, out);
	return 0;
}

/* Into blobs/: a rename on the same filesystem, otherwise a copy. */
static int blob_take_file(struct image_store *s, const char *path, const char *digest,
			  struct stk_err *err)
{
	_cleanup_free_ char *dst = store_blob_path(s, digest), *data = NULL;
	size_t n;

	if (store_blob_exists(s, digest)) {
		unlink(path);
		return 0;
	}
	if (rename(path, dst) == 0)
		return store_fsync_dir(s->dir, err);
	if (errno != EXDEV)
		return stk_err_sys(err, "store layer %s", digest);
	if (store_read_file(path, &data, &n, err) < 0 || store_write_atomic(dst, data, n, err) < 0)
		return -1;
	unlink(path);
	return 0;
}

int image_store_add_layer(struct image_store *s, const char *tar_path, struct image_layer *out,
			  struct stk_err *err)
{
	_cleanup_close_ int lock = -1, blob_lock = -1;
	char digest[72];
	int64_t size;

	if (file_digest(tar_path, digest, &size, err) < 0)
		return -1;
	/* two builds may add the same layer at once: one unpacks it, the other waits */
	lock = store_lock(s, false, err);
	if (lock >= 0)
		blob_lock = store_lock_blob(s, digest, err);
	if (blob_lock < 0 || blob_take_file(s, tar_path, digest, err) < 0 ||
	    store_commit_layer(s, digest, digest, err) < 0)
		return stk_err_wrap(err, "add layer");
	*out = (struct image_layer){.media_type = xstrdup(MT_OCI_LAYER_TAR),
				    .digest = xstrdup(digest),
				    .size = size,
				    .diffid = xstrdup(digest)};
	return 0;
}

static struct json_object *descriptor(const char *media_type, const char *digest, int64_t size)
{
	struct json_object *d = json_object_new_object();

	json_object_object_add(d, "mediaType", json_object_new_string(media_type));
	json_object_object_add(d, "digest", json_object_new_string(digest));
	json_object_object_add(d, "size", json_object_new_int64(size));
	return d;
}

static int blob_put_string(struct image_store *s, const char *data, char digest[72],
			   struct stk_err *err)
{
	sha256_digest(data, strlen(data), digest);
	return store_blob_put(s, digest, data, strlen(data), err);
}

int image_store_commit(struct image_store *s, const char *config_json,
		       const struct image_layer *layers, size_t n, const char *name, char **id,
		       struct stk_err *err)
{
	_cleanup_json_ struct json_object *m = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	_cleanup_close_ int lock = -1;
	char config_digest[72], manifest_digest[72];
	size_t i;

	lock = store_lock(s, false, err);
	if (lock < 0 || blob_put_string(s, config_json, config_digest, err) < 0)
		return stk_err_wrap(err, "commit image");
	json_object_object_add(m, "schemaVersion", json_object_new_int(2));
	json_object_object_add(m, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
	json_object_object_add(m, "config",
			       descriptor(MT_OCI_CONFIG, config_digest,
					  (int64_t)strlen(config_json)));
	for (i = 0; i < n; i++)
		json_object_array_add(arr, descriptor(layers[i].media_type, layers[i].digest,
						      layers[i].size));
	json_object_object_add(m, "layers", arr);
	if (blob_put_string(s, json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN),
			    manifest_digest, err) < 0 ||
	    store_add_image(s, name, manifest_digest, err) < 0)
		return stk_err_wrap(err, "commit image");
	if (id)
		*id = xstrdup(config_digest);
	return 0;
}

/* Manifests, indexes and image configs: the JSON documents a registry serves.
 * OCI image-spec and Docker's schema2 have the same shape; schema1 is refused. */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *get_array(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static struct json_object *parse_json(const char *data, size_t n, struct stk_err *err)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (n > 4 * 1024 * 1024) {
		stk_err_set(err, EFBIG, "manifest too large (%zu bytes)", n);
		return NULL;
	}
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, data, (int)n);
	if (!o || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		o = NULL;
		stk_err_set(err, EBADMSG, "malformed JSON document");
	}
	json_tokener_free(tok);
	return o;
}

const char *manifest_media_type(struct json_object *doc)
{
	const char *mt = get_str(doc, "mediaType");
	struct json_object *v;

	if (mt)
		return mt;
	/* OCI documents may omit mediaType; their shape tells them apart */
	if (json_object_object_get_ex(doc, "manifests", &v))
		return MT_OCI_INDEX;
	if (json_object_object_get_ex(doc, "config", &v))
		return MT_OCI_MANIFEST;
	if (json_object_object_get_ex(doc, "fsLayers", &v))
		return MT_DOCKER_SCHEMA1;
	return "";
}

void image_host_platform(const char **arch, const char **variant)
{
	struct utsname u;

	*variant = NULL;
	if (uname(&u) < 0 || strcmp(u.machine, "x86_64") == 0) {
		*arch = "amd64";
	} else if (strcmp(u.machine, "aarch64") == 0) {
		*arch = "arm64";
		*variant = "v8";
	} else if (str_has_prefix(u.machine, "armv7")) {
		*arch = "arm";
		*variant = "v7";
	} else if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0) {
		*arch = "386";
	} else if (strcmp(u.machine, "ppc64le") == 0 || strcmp(u.machine, "s390x") == 0 ||
		   strcmp(u.machine, "riscv64") == 0) {
		*arch = u.machine[0] == 'p' ? "ppc64le" : u.machine[0] == 's' ? "s390x" : "riscv64";
	} else {
		*arch = "amd64";
	}
}

int manifest_index_pick(const char *data, size_t n, const char *arch, const char *variant,
			char **digest, struct stk_err *err)
{
	_cleanup_json_ struct json_object *doc = parse_json(data, n, err);
	struct json_object *list;
	const char *best = NULL;
	size_t i, len;
	int best_score = -1;

	if (!doc)
		return stk_err_wrap(err, "image index");
	list = get_array(doc, "manifests");
	if (!list)
		return stk_err_set(err, EBADMSG, "image index has no manifests");
	len = json_object_array_length(list);
	for (i = 0; i < len; i++) {
		struct json_object *m = json_object_array_get_idx(list, i), *plat;
		const char *d = get_str(m, "digest"), *os, *a, *v;
		int score;

		if (!d || !image_digest_valid(d) ||
		    !json_object_object_get_ex(m, "platform", &plat))
			continue;
		os = get_str(plat, "os");
		a = get_str(plat, "architecture");
		v = get_str(plat, "variant");
		if (!os || strcmp(os, "linux") != 0 || !a || strcmp(a, arch) != 0)
			continue;
		/* an exact variant beats a missing one; a different variant never matches */
		if (v && variant && strcmp(v, variant) != 0)
			continue;
		score = (v && variant) ? 2 : 1;
		if (score > best_score) {
			best_score = score;
			best = d;
		}
	}
	if (!best)
		return stk_err_set(err, ENOENT, "no manifest for platform linux/%s%s%s", arch,
				   variant ? "/" : "", variant ? variant : "");
	*digest = xstrdup(best);
	return 0;
}

void manifest_free(struct manifest *m)
{
	size_t i;

	for (i = 0; i < m->nlayers; i++) {
		free(m->layers[i].digest);
		free(m->layers[i].media_type);
		free(m->layers[i].diffid);
	}
	free(m->layers);
	free(m->config_digest);
	memset(m, 0, sizeof(*m));
}

static bool layer_type_supported(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(mt, ok[i]) == 0)
			return true;
	return false;
}

int manifest_parse(const char *data, size_t n, struct manifest *m, struct stk_err *err)
{
	_cleanup_json_ struct json_object *doc = parse_json(data, n, err);
	struct json_object *cfg, *layers, *sz;
	const char *mt, *cd;
	size_t i, len;

	memset(m, 0, sizeof(*m));
	if (!doc)
		return stk_err_wrap(err, "manifest");
	mt = manifest_media_type(doc);
	if (strcmp(mt, MT_DOCKER_SCHEMA1) == 0 || strcmp(mt, MT_DOCKER_SCHEMA1_SIGNED) == 0)
		return stk_err_set(
			err, ENOTSUP,
			"manifest is Docker schema 1, which is deprecated and not supported; "
			"push the image again with a current tool");
	if (strcmp(mt, MT_OCI_MANIFEST) != 0 && strcmp(mt, MT_DOCKER_MANIFEST) != 0)
		return stk_err_set(err, ENOTSUP, "unsupported manifest type \"%s\"", mt);
	if (!json_object_object_get_ex(doc, "config", &cfg) || !(cd = get_str(cfg, "digest")) ||
	    !image_digest_valid(cd))
		return stk_err_set(err, EBADMSG, "manifest has no valid config digest");
	m->config_digest = xstrdup(cd);
	m->config_size = json_object_object_get_ex(cfg, "size", &sz) ? json_object_get_int64(sz)
								     : -1;
	layers = get_array(doc, "layers");
	if (!layers) {
		manifest_free(m);
		return stk_err_set(err, EBADMSG, "manifest has no layers array");
	}
	len = json_object_array_length(layers);
	if (len > 1000) {
		manifest_free(m);
		return stk_err_set(err, EBADMSG, "manifest has too many layers (%zu)", len);
	}
	m->layers = xcalloc(len ? len : 1, sizeof(*m->layers));
	for (i = 0; i < len; i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);
		const char *d = get_str(l, "digest"), *lmt = get_str(l, "mediaType");

		if (!d || !image_digest_valid(d)) {
			manifest_free(m);
			return stk_err_set(err, EBADMSG, "manifest layer %zu has no valid digest",
					   i);
		}
		if (!lmt || !layer_type_supported(lmt)) {
			manifest_free(m);
			return stk_err_set(err, ENOTSUP,
					   "layer %s has unsupported media type \"%s\"", d,
					   lmt ? lmt : "");
		}
		m->layers[i].digest = xstrdup(d);
		m->layers[i].media_type = xstrdup(lmt);
		m->layers[i].size =
			json_object_object_get_ex(l, "size", &sz) ? json_object_get_int64(sz) : -1;
		m->nlayers++;
	}
	return 0;
}

int manifest_set_diffids(struct manifest *m, const char *config, size_t n, struct stk_err *err)
{
	_cleanup_json_ struct json_object *doc = parse_json(config, n, err);
	struct json_object *rootfs, *ids;
	size_t i;

	if (!doc)
		return stk_err_wrap(err, "image config");
	if (!json_object_object_get_ex(doc, "rootfs", &rootfs) ||
	    !(ids = get_array(rootfs, "diff_ids")))
		return stk_err_set(err, EBADMSG, "image config has no rootfs.diff_ids");
	if (json_object_array_length(ids) != m->nlayers)
		return stk_err_set(err, EBADMSG, "image config lists %zu layers, manifest %zu",
				   json_object_array_length(ids), m->nlayers);
	for (i = 0; i < m->nlayers; i++) {
		struct json_object *v = json_object_array_get_idx(ids, i);
		const char *d = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
									 : NULL;

		if (!d || !image_digest_valid(d))
			return stk_err_set(err, EBADMSG,
					   "image config diff_id %zu is not a sha256 digest", i);
		free(m->layers[i].diffid);
		m->layers[i].diffid = xstrdup(d);
	}
	return 0;
}

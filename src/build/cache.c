/* The step cache: a key per step (the parent's key, the instruction as expanded, and
 * for COPY/ADD the digest of the copied content) names the state that step produced,
 * kept as $ROOT/build/cache/<hex>.json. A hit is only taken if every layer of that
 * state is still in the image store. */
#include <string.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/lazy_crypto.h"
#include "util/str.h"

void build_key(const char *parent, const char *what, char out[72])
{
	_cleanup_free_ char *s = xasprintf("%s\n%s", parent, what);
	unsigned char md[32];
	unsigned int n = 0;
	int i;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static char *cache_path(struct build *b, const char *key)
{
	return xasprintf("%s/build/cache/%s.json", b->o->root, key + 7);
}

static struct json_object *layer_json(const struct image_layer *l)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "mediaType", json_object_new_string(l->media_type));
	json_object_object_add(o, "digest", json_object_new_string(l->digest));
	json_object_object_add(o, "size", json_object_new_int64(l->size));
	json_object_object_add(o, "diffid", json_object_new_string(l->diffid));
	return o;
}

static const char *get_s(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
		       ? json_object_get_string(v)
		       : NULL;
}

int build_cache_get(struct build *b, const char *key, struct bstate *st)
{
	_cleanup_free_ char *p = cache_path(b, key);
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *layers, *config;
	size_t i, n;

	if ((b->o->no_cache && !b->reuse_cache) || access(p, F_OK) < 0)
		return 0;
	o = json_object_from_file(p);
	if (!o || !json_object_object_get_ex(o, "layers", &layers) ||
	    !json_object_object_get_ex(o, "config", &config))
		return 0;
	n = json_object_array_length(layers);
	memset(st, 0, sizeof(*st));
	st->layers = xcalloc(n + 1, sizeof(*st->layers));
	for (i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);
		const char *mt = get_s(l, "mediaType"), *d = get_s(l, "digest"),
			   *id = get_s(l, "diffid");
		_cleanup_free_ char *path = id ? image_store_layer_path(b->store, id) : NULL;
		struct json_object *sz;

		if (!mt || !d || !path || !json_object_object_get_ex(l, "size", &sz)) {
			bstate_release(st);
			return 0;
		}
		st->layers[i] = (struct image_layer){xstrdup(mt), xstrdup(d),
						     json_object_get_int64(sz), xstrdup(id)};
		st->nlayers++;
	}
	st->config = json_object_get(config);
	memcpy(st->key, key, 72);
	return 1;
}

void build_cache_put(struct build *b, const struct bstate *st)
{
	_cleanup_free_ char *p = cache_path(b, st->key),
			    *dir = xasprintf("%s/build/cache", b->o->root);
	_cleanup_free_ char *tmp = xasprintf("%s.%d.tmp", p, (int)getpid());
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *layers = json_object_new_array();
	struct stk_err ignored;
	size_t i;

	for (i = 0; i < st->nlayers; i++)
		json_object_array_add(layers, layer_json(&st->layers[i]));
	json_object_object_add(o, "layers", layers);
	json_object_object_add(o, "config", json_object_get(st->config));
	/* the cache is an optimisation: a failure to write it is not the build's */
	if (stk_mkdir_p(dir, 0700, &ignored) < 0 ||
	    json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN) < 0 || rename(tmp, p) < 0)
		unlink(tmp);
}

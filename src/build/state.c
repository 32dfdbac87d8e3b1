/* The state a stage carries between steps: its layers and its image config. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "build/internal.h"
#include "util/str.h"

void bstate_release(struct bstate *st)
{
	image_layers_free(st->layers, st->nlayers);
	if (st->config)
		json_object_put(st->config);
	memset(st, 0, sizeof(*st));
}

void bstate_copy(struct bstate *dst, const struct bstate *src)
{
	size_t i;

	memset(dst, 0, sizeof(*dst));
	dst->layers = xcalloc(src->nlayers + 1, sizeof(*dst->layers));
	for (i = 0; i < src->nlayers; i++)
		dst->layers[i] = (struct image_layer){xstrdup(src->layers[i].media_type),
						      xstrdup(src->layers[i].digest),
						      src->layers[i].size,
						      xstrdup(src->layers[i].diffid)};
	dst->nlayers = src->nlayers;
	json_object_deep_copy(src->config, &dst->config, NULL);
	memcpy(dst->key, src->key, sizeof(dst->key));
}

static struct json_object *child(struct json_object *o, const char *k, enum json_type t)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, t))
		return v;
	v = t == json_type_array ? json_object_new_array() : json_object_new_object();
	json_object_object_add(o, k, v);
	return v;
}

struct json_object *bstate_cfg(struct bstate *st)
{
	return child(st->config, "config", json_type_object);
}

void bstate_add_layer(struct bstate *st, struct image_layer *l)
{
	struct json_object *rootfs = child(st->config, "rootfs", json_type_object);

	json_object_object_add(rootfs, "type", json_object_new_string("layers"));
	json_object_array_add(child(rootfs, "diff_ids", json_type_array),
			      json_object_new_string(l->diffid));
	st->layers = xrealloc(st->layers, (st->nlayers + 1) * sizeof(*st->layers));
	st->layers[st->nlayers++] = *l;
	memset(l, 0, sizeof(*l));
}

static char *now_rfc3339(void)
{
	char buf[64];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

void bstate_history(struct bstate *st, const char *created_by, bool empty_layer)
{
	struct json_object *h = json_object_new_object();
	char *now = now_rfc3339();

	json_object_object_add(h, "created", json_object_new_string(now));
	json_object_object_add(h, "created_by", json_object_new_string(created_by));
	json_object_object_add(h, "comment", json_object_new_string("stack build"));
	if (empty_layer)
		json_object_object_add(h, "empty_layer", json_object_new_boolean(true));
	json_object_array_add(child(st->config, "history", json_type_array), h);
	json_object_object_add(st->config, "created", json_object_new_string(now));
	free(now);
}

/* overlayfs refuses a directory twice in lowerdir (ELOOP). A layer repeated higher up
 * re-applies everything it holds, so its lower copies change nothing: only the topmost
 * one is kept. */
static bool repeated_above(const struct bstate *st, size_t idx)
{
	size_t j;

	for (j = idx + 1; j < st->nlayers; j++)
		if (!strcmp(st->layers[j].diffid, st->layers[idx].diffid))
			return true;
	return false;
}

char **bstate_layer_paths(struct image_store *s, const struct bstate *st, struct stk_err *err)
{
	char **v = xcalloc(st->nlayers + 1, sizeof(*v));
	size_t i, n = 0;

	for (i = st->nlayers; i-- > 0;) {
		if (repeated_above(st, i))
			continue;
		v[n] = image_store_layer_path(s, st->layers[i].diffid);
		if (!v[n]) {
			stk_err_set(err, ENOENT, "layer %s is missing from the store",
				    st->layers[i].diffid);
			df_strv_free(v, n);
			return NULL;
		}
		n++;
	}
	return v;
}

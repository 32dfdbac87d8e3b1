/* Names and images: refs.json, and the commands that read or change it (images, tag,
 * rm, prune, inspect). refs.json = {"refs": {name: manifest digest},
 * "images": [manifest digest...]}; an image with no name is dangling (<none>). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

static struct json_object *refs_empty(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "refs", json_object_new_object());
	json_object_object_add(o, "images", json_object_new_array());
	return o;
}

static struct json_object *refs_map(struct json_object *root)
{
	struct json_object *v;

	json_object_object_get_ex(root, "refs", &v);
	return v;
}

static struct json_object *refs_images(struct json_object *root)
{
	struct json_object *v;

	json_object_object_get_ex(root, "images", &v);
	return v;
}

int store_refs_load(struct image_store *s, struct json_object **out, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/refs.json", s->dir);
	_cleanup_free_ char *data = NULL;
	struct json_object *o, *v;
	size_t n;

	if (access(p, F_OK) < 0) {
		*out = refs_empty();
		return 0;
	}
	if (store_read_file(p, &data, &n, err) < 0)
		return -1;
	o = json_tokener_parse(data);
	if (!o || !json_object_object_get_ex(o, "refs", &v) ||
	    !json_object_is_type(v, json_type_object) ||
	    !json_object_object_get_ex(o, "images", &v) ||
	    !json_object_is_type(v, json_type_array)) {
		if (o)
			json_object_put(o);
		return stk_err_set(err, EBADMSG, "%s is corrupt", p);
	}
	*out = o;
	return 0;
}

int store_refs_edit(struct image_store *s, store_refs_edit_fn fn, void *arg, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/refs.json", s->dir);
	_cleanup_free_ char *lp = xasprintf("%s/refs.lock", s->dir);
	_cleanup_close_ int lock = -1;
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_free_ char *before = NULL;
	const char *text;

	lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0)
		return stk_err_sys(err, "open %s", lp);
	while (flock(lock, LOCK_EX) < 0)
		if (errno != EINTR)
			return stk_err_sys(err, "lock %s", lp);
	if (store_refs_load(s, &root, err) < 0)
		return -1;
	before = xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	if (fn(root, arg, err) < 0)
		return -1;
	/* an edit that changes nothing (the same tag on the same image) writes nothing */
	if (!strcmp(before, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN)))
		return 0;
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE);
	return store_write_atomic(p, text, strlen(text), err);
}

static bool array_has(struct json_object *arr, const char *s)
{
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0)
			return true;
	return false;
}

static void array_remove(struct json_object *arr, const char *s)
{
	size_t i;

	for (i = 0; i < json_object_array_length(arr); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(arr, i)), s) == 0) {
			json_object_array_del_idx(arr, i, 1);
			return;
		}
}

struct add_args {
	const char *name, *digest;
};

static int add_image_edit(struct json_object *root, void *arg, struct stk_err *err)
{
	struct add_args *a = arg;

	(void)err;
	if (!array_has(refs_images(root), a->digest))
		json_object_array_add(refs_images(root), json_object_new_string(a->digest));
	if (a->name)
		json_object_object_add(refs_map(root), a->name, json_object_new_string(a->digest));
	return 0;
}

int store_add_image(struct image_store *s, const char *name, const char *manifest_digest,
		    struct stk_err *err)
{
	struct add_args a = {name, manifest_digest};

	return store_refs_edit(s, add_image_edit, &a, err);
}

/* ---- reading an image back ---- */

static int load_manifest(struct image_store *s, const char *digest, struct manifest *m,
			 char **config, size_t *nconfig, struct stk_err *err)
{
	_cleanup_free_ char *data = NULL;
	size_t n;

	if (store_blob_read(s, digest, &data, &n, err) < 0 || manifest_parse(data, n, m, err) < 0)
		return stk_err_wrap(err, "image %.19s", digest);
	if (store_blob_read(s, m->config_digest, config, nconfig, err) < 0 ||
	    manifest_set_diffids(m, *config, *nconfig, err) < 0) {
		manifest_free(m);
		return stk_err_wrap(err, "image %.19s", digest);
	}
	return 0;
}

static int64_t config_created(const char *config)
{
	_cleanup_json_ struct json_object *o = json_tokener_parse(config);
	struct json_object *c;
	struct tm tm = {0};
	const char *t;

	if (!o || !json_object_object_get_ex(o, "created", &c) || !(t = json_object_get_string(c)))
		return 0;
	if (!strptime(t, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void entry_fill(struct image_store *s, struct image_entry *e, const char *name,
		       const char *digest)
{
	struct manifest m;
	_cleanup_free_ char *config = NULL;
	struct stk_err ignored;
	size_t n, i;

	e->name = name ? xstrdup(name) : NULL;
	e->manifest_digest = xstrdup(digest);
	if (load_manifest(s, digest, &m, &config, &n, &ignored) < 0) {
		e->id = xstrdup(digest);
		return;
	}
	e->id = xstrdup(m.config_digest);
	e->created = config_created(config);
	for (i = 0; i < m.nlayers; i++)
		e->size += store_layer_size(s, m.layers[i].diffid);
	manifest_free(&m);
}

static void list_push(struct image_list *l, struct image_store *s, const char *name,
		      const char *digest)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	entry_fill(s, &l->v[l->n++], name, digest);
}

int image_store_list(struct image_store *s, struct image_list *out, struct stk_err *err)
{
	_cleanup_json_ struct json_object *root = NULL;
	struct json_object *images;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (store_refs_load(s, &root, err) < 0)
		return -1;
	{
		json_object_object_foreach(refs_map(root), name, val)
			list_push(out, s, name, json_object_get_string(val));
	}
	images = refs_images(root);
	for (i = 0; i < json_object_array_length(images); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(images, i));
		bool named = false;

		json_object_object_foreach(refs_map(root), name, val)
		{
			(void)name;
			if (strcmp(json_object_get_string(val), d) == 0)
				named = true;
		}
		if (!named)
			list_push(out, s, NULL, d);
	}
	return 0;
}

void image_list_free(struct image_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].manifest_digest);
		free(l->v[i].id);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Name → manifest digest: a reference, a full image ID, or an ID prefix. */
static int resolve(struct image_store *s, struct json_object *root, const char *name, char **digest,
		   char **canonical, struct stk_err *err)
{
	struct image_ref ref;
	struct json_object *v, *images = refs_images(root);
	const char *hex = str_has_prefix(name, "sha256:") ? name + 7 : name;
	size_t i, hexlen = strlen(hex), hits = 0;

	if (canonical)
		*canonical = NULL;
	if (image_ref_parse(name, &ref, err) == 0) {
		_cleanup_free_ char *c = image_ref_canonical(&ref);

		image_ref_free(&ref);
		if (json_object_object_get_ex(refs_map(root), c, &v)) {
			*digest = xstrdup(json_object_get_string(v));
			if (canonical)
				*canonical = steal(&c);
			return 0;
		}
	}
	if (hexlen >= 4 && hexlen <= 64 && strspn(hex, "0123456789abcdef") == hexlen) {
		*digest = NULL;
		for (i = 0; i < json_object_array_length(images); i++) {
			const char *d =
				json_object_get_string(json_object_array_get_idx(images, i));
			struct manifest m;
			_cleanup_free_ char *config = NULL;
			size_t n;
			struct stk_err ignored;
			bool match = strncmp(d + 7, hex, hexlen) == 0;

			if (!match && load_manifest(s, d, &m, &config, &n, &ignored) == 0) {
				match = strncmp(m.config_digest + 7, hex, hexlen) == 0;
				manifest_free(&m);
			}
			if (match && hits++ == 0)
				*digest = xstrdup(d);
		}
		if (hits == 1)
			return 0;
		free(*digest);
		*digest = NULL;
		if (hits > 1)
			return stk_err_set(err, EINVAL, "image ID prefix \"%s\" is ambiguous",
					   name);
	}
	return stk_err_set(err, ENOENT, "No such image: %s", name);
}

int image_store_get(struct image_store *s, const char *name, struct image_config *out,
		    struct stk_err *err)
{
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_free_ char *digest = NULL;
	struct manifest m;
	size_t n, i;

	memset(out, 0, sizeof(*out));
	if (store_refs_load(s, &root, err) < 0 || resolve(s, root, name, &digest, NULL, err) < 0)
		return -1;
	if (load_manifest(s, digest, &m, &out->config_json, &n, err) < 0)
		return -1;
	out->id = xstrdup(m.config_digest);
	out->manifest_digest = steal(&digest);
	out->layers = xcalloc(m.nlayers + 1, sizeof(char *));
	for (i = 0; i < m.nlayers; i++) {
		out->layers[i] = image_store_layer_path(s, m.layers[i].diffid);
		if (!out->layers[i]) {
			stk_err_set(err, ENOENT,
				    "image %s: layer %s is missing from the store; pull it again",
				    name, m.layers[i].diffid);
			out->nlayers = i;
			manifest_free(&m);
			image_config_free(out);
			return -1;
		}
		out->nlayers++;
	}
	manifest_free(&m);
	return 0;
}

void image_config_free(struct image_config *c)
{
	size_t i;

	for (i = 0; i < c->nlayers; i++)
		free(c->layers[i]);
	free(c->layers);
	free(c->id);
	free(c->manifest_digest);
	free(c->config_json);
	memset(c, 0, sizeof(*c));
}

/* ---- tag ---- */

struct tag_args {
	struct image_store *s;
	const char *source, *target;
};

static int tag_edit(struct json_object *root, void *arg, struct stk_err *err)
{
	struct tag_args *a = arg;
	_cleanup_free_ char *digest = NULL, *canon = NULL;
	struct image_ref ref;

	if (resolve(a->s, root, a->source, &digest, NULL, err) < 0)
		return -1;
	if (image_ref_parse(a->target, &ref, err) < 0)
		return -1;
	if (!ref.tag) {
		image_ref_free(&ref);
		return stk_err_set(err, EINVAL, "refusing to create a tag with a digest reference");
	}
	canon = image_ref_canonical(&ref);
	image_ref_free(&ref);
	json_object_object_add(refs_map(root), canon, json_object_new_string(digest));
	return 0;
}

int image_store_tag(struct image_store *s, const char *source, const char *target,
		    struct stk_err *err)
{
	struct tag_args a = {s, source, target};

	return store_refs_edit(s, tag_edit, &a, err);
}

/* ---- rm and prune ---- */

struct removed {
	char ***v;
	size_t *n;
};

static void removed_add(struct removed *r, char *line)
{
	if (!r->v) {
		free(line);
		return;
	}
	*r->v = xrealloc(*r->v, (*r->n + 1) * sizeof(char *));
	(*r->v)[(*r->n)++] = line;
}

static size_t names_of(struct json_object *root, const char *digest)
{
	size_t n = 0;

	json_object_object_foreach(refs_map(root), name, val)
	{
		(void)name;
		if (strcmp(json_object_get_string(val), digest) == 0)
			n++;
	}
	return n;
}

static bool image_in_use(struct image_store *s, const char *digest, char **id)
{
	struct manifest m;
	_cleanup_free_ char *config = NULL;
	struct stk_err ignored;
	size_t n;
	bool used;

	*id = NULL;
	if (load_manifest(s, digest, &m, &config, &n, &ignored) < 0)
		return false;
	*id = xstrdup(m.config_digest);
	used = s->in_use && s->in_use(m.config_digest, s->in_use_arg);
	manifest_free(&m);
	return used;
}

struct rm_args {
	struct image_store *s;
	const char *name;
	bool force;
	struct removed out;
};

static void drop_image(struct json_object *root, struct removed *out, const char *digest,
		       const char *id)
{
	json_object_object_foreach(refs_map(root), name, val)
	{
		if (strcmp(json_object_get_string(val), digest) == 0) {
			removed_add(out, xasprintf("Untagged: %s", name));
			json_object_object_del(refs_map(root), name);
		}
	}
	removed_add(out, xasprintf("Deleted: %s", id ? id : digest));
	array_remove(refs_images(root), digest);
}

static int rm_edit(struct json_object *root, void *arg, struct stk_err *err)
{
	struct rm_args *a = arg;
	_cleanup_free_ char *digest = NULL, *canon = NULL, *id = NULL;
	bool used;

	if (resolve(a->s, root, a->name, &digest, &canon, err) < 0)
		return -1;
	used = image_in_use(a->s, digest, &id);
	/* removing one of several names only untags, as docker does */
	if (canon && names_of(root, digest) > 1) {
		json_object_object_del(refs_map(root), canon);
		removed_add(&a->out, xasprintf("Untagged: %s", canon));
		return 0;
	}
	if (used && !a->force)
		return stk_err_set(
			err, EBUSY,
			"unable to remove %s: image is being used by a container (use --force)",
			a->name);
	if (!canon && names_of(root, digest) > 1 && !a->force)
		return stk_err_set(
			err, EBUSY,
			"unable to delete %.19s (must be forced): image is referenced in multiple repositories",
			a->name);
	drop_image(root, &a->out, digest, id);
	return 0;
}

static int collect_garbage(struct image_store *s, uint64_t *reclaimed, struct stk_err *err);

int image_store_remove(struct image_store *s, const char *name, bool force, char ***removed,
		       size_t *nremoved, struct stk_err *err)
{
	struct rm_args a = {s, name, force, {removed, nremoved}};
	_cleanup_close_ int lock = store_lock(s, true, err);

	if (lock < 0)
		return -1;
	if (store_refs_edit(s, rm_edit, &a, err) < 0)
		return -1;
	return collect_garbage(s, NULL, err);
}

struct prune_args {
	struct image_store *s;
	bool all;
	struct removed out;
};

static int prune_edit(struct json_object *root, void *arg, struct stk_err *err)
{
	struct prune_args *a = arg;
	struct json_object *images = refs_images(root);
	size_t i = 0;

	(void)err;
	while (i < json_object_array_length(images)) {
		_cleanup_free_ char *d =
			xstrdup(json_object_get_string(json_object_array_get_idx(images, i)));
		_cleanup_free_ char *id = NULL;
		bool used = image_in_use(a->s, d, &id);

		if (!used && (a->all || names_of(root, d) == 0)) {
			drop_image(root, &a->out, d, id);
			continue;
		}
		i++;
	}
	return 0;
}

int image_store_prune(struct image_store *s, bool all, char ***removed, size_t *nremoved,
		      uint64_t *reclaimed, struct stk_err *err)
{
	struct prune_args a = {s, all, {removed, nremoved}};
	_cleanup_close_ int lock = store_lock(s, true, err);

	*reclaimed = 0;
	if (lock < 0)
		return -1;
	if (store_refs_edit(s, prune_edit, &a, err) < 0)
		return -1;
	return collect_garbage(s, reclaimed, err);
}

/* ---- garbage collection: blobs and layers nothing refers to ---- */

struct keep {
	char **v;
	size_t n;
};

static void keep_add(struct keep *k, const char *digest)
{
	k->v = xrealloc(k->v, (k->n + 1) * sizeof(char *));
	k->v[k->n++] = xstrdup(digest + 7);
}

static bool keep_has(const struct keep *k, const char *hex, size_t len)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strlen(k->v[i]) == len && strncmp(k->v[i], hex, len) == 0)
			return true;
	return false;
}

static void keep_free(struct keep *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->v[i]);
	free(k->v);
}

static int sweep(const char *dir, const struct keep *k, uint64_t *reclaimed, bool layers,
		 struct image_store *s, struct stk_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return stk_err_sys(err, "open %s", dir);
	while ((de = readdir(d))) {
		size_t len = strcspn(de->d_name, ".");
		_cleanup_free_ char *p = NULL;

		if (de->d_name[0] == '.' || keep_has(k, de->d_name, len))
			continue;
		p = xasprintf("%s/%s", dir, de->d_name);
		if (reclaimed && layers && str_has_suffix(de->d_name, ".json")) {
			_cleanup_free_ char *diffid =
				xasprintf("sha256:%.*s", (int)len, de->d_name);

			*reclaimed += store_layer_size(s, diffid);
		} else if (reclaimed && !layers) {
			struct stat st;

			if (stat(p, &st) == 0)
				*reclaimed += (uint64_t)st.st_size;
		}
		/* the metadata file goes first, so a half-removed layer reads as absent */
		if (layers && !str_has_suffix(de->d_name, ".json")) {
			_cleanup_free_ char *meta = xasprintf("%s.json", p);

			unlink(meta);
		}
		if (store_remove_tree(p, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/* Caller holds the store lock exclusively, so no pull is writing. */
static int collect_garbage(struct image_store *s, uint64_t *reclaimed, struct stk_err *err)
{
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_free_ char *blobs = xasprintf("%s/blobs/sha256", s->dir);
	_cleanup_free_ char *layers = xasprintf("%s/layers/sha256", s->dir);
	struct json_object *images;
	struct keep kb = {0}, kl = {0};
	size_t i, j;
	int rc;

	if (store_refs_load(s, &root, err) < 0)
		return -1;
	images = refs_images(root);
	for (i = 0; i < json_object_array_length(images); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(images, i));
		_cleanup_free_ char *config = NULL;
		struct manifest m;
		size_t n;

		keep_add(&kb, d);
		if (load_manifest(s, d, &m, &config, &n, err) < 0)
			continue;
		keep_add(&kb, m.config_digest);
		for (j = 0; j < m.nlayers; j++) {
			keep_add(&kb, m.layers[j].digest);
			keep_add(&kl, m.layers[j].diffid);
		}
		manifest_free(&m);
	}
	rc = sweep(blobs, &kb, reclaimed, false, s, err);
	/* with the store held exclusively, anything in tmp/ is debris of a killed pull */
	if (rc == 0) {
		_cleanup_free_ char *tmp = xasprintf("%s/tmp", s->dir);
		struct keep none = {0};

		rc = sweep(tmp, &none, NULL, false, s, err);
	}
	if (rc == 0)
		rc = sweep(layers, &kl, reclaimed, true, s, err);
	keep_free(&kb);
	keep_free(&kl);
	return rc;
}

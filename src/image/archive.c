/* Image archives: `stack load` reads OCI image layouts and `docker save` archives;
 * `stack save` writes an OCI layout that also carries docker's manifest.json, so both
 * `docker load` and OCI tools read it. The archive is unpacked into the store's tmp/
 * (same filesystem), every blob is verified against its digest, layers are committed
 * as for a pull, and the names are recorded last. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/lazy_archive.h"
#include "util/str.h"

static int extract_archive(const char *file, const char *dest, struct stk_err *err)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	int r, rc = 0;

	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_filename(in, file, 128 * 1024) != ARCHIVE_OK) {
		rc = stk_err_set(err, archive_errno(in) > 0 ? archive_errno(in) : EIO,
				 "open %s: %s", file, archive_error_string(in));
		goto out;
	}
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		_cleanup_free_ char *rel = NULL, *full = NULL;

		/* names as in layers: "./index.json" and "/index.json" are index.json */
		if (name && *name && !(rel = tar_path_clean(name))) {
			rc = stk_err_set(err, EPERM, "%s: entry \"%s\" escapes the archive", file,
					 name);
			goto out;
		}
		if (!rel || !*rel || archive_entry_hardlink(e) ||
		    archive_entry_filetype(e) == AE_IFLNK) {
			/* an image archive holds only files and directories; dest is its root */
			continue;
		}
		full = xasprintf("%s/%s", dest, rel);
		archive_entry_set_pathname(e, full);
		if (archive_write_header(out, e) < ARCHIVE_WARN) {
			rc = stk_err_set(err, EIO, "%s: %s", file, archive_error_string(out));
			goto out;
		}
		if (archive_entry_size(e) > 0) {
			const void *blk;
			size_t len;
			la_int64_t off;

			while ((r = archive_read_data_block(in, &blk, &len, &off)) == ARCHIVE_OK)
				if (archive_write_data_block(out, blk, len, off) < ARCHIVE_WARN) {
					rc = stk_err_set(err, EIO, "%s: %s", file,
							 archive_error_string(out));
					goto out;
				}
		}
		archive_write_finish_entry(out);
	}
	if (r != ARCHIVE_EOF)
		rc = stk_err_set(err, EBADMSG, "%s: %s", file, archive_error_string(in));
out:
	archive_read_free(in);
	archive_write_free(out);
	return rc;
}

/* Moves a file into blobs/ if its content has the digest (computes it if NULL). */
static int import_blob(struct image_store *s, const char *path, const char *want, char got[72],
		       struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *dest = NULL;
	struct sha256 h;
	char buf[65536];
	ssize_t n;

	if (fd < 0)
		return stk_err_sys(err, "open %s", path);
	sha256_init(&h);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		sha256_update(&h, buf, (size_t)n);
	sha256_final(&h, got);
	if (n < 0)
		return stk_err_sys(err, "read %s", path);
	if (want && strcmp(want, got) != 0)
		return stk_err_set(err, EBADMSG, "blob %s: digest mismatch, content is %s", want,
				   got);
	dest = store_blob_path(s, got);
	/* a link, not a move: docker archives may name one layer file for several images */
	if (fsync(fd) < 0 || (link(path, dest) < 0 && errno != EEXIST))
		return stk_err_sys(err, "store blob %s", got);
	return 0;
}

static char *blob_in(const char *dir, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", dir, digest + 7);
}

struct loaded {
	char ***names;
	size_t *nnames;
};

static void loaded_add(struct loaded *l, char *line)
{
	*l->names = xrealloc(*l->names, (*l->nnames + 1) * sizeof(char *));
	(*l->names)[(*l->nnames)++] = line;
}

/* "Loaded image: NAME" with the name as docker prints it (mybox:1, not
 * docker.io/library/mybox:1). */
static char *loaded_line(const char *name)
{
	struct image_ref r;
	struct stk_err ignored;
	_cleanup_free_ char *fam = NULL;
	char *line;

	if (image_ref_parse(name, &r, &ignored) < 0)
		return xasprintf("Loaded image: %s", name);
	fam = image_ref_familiar_name(&r);
	line = r.tag ? xasprintf("Loaded image: %s:%s", fam, r.tag)
		     : xasprintf("Loaded image: %s@%s", fam, r.digest);
	image_ref_free(&r);
	return line;
}

/* Imports the blobs of one manifest (already in blobs/ of dir) and commits its layers. */
static int import_manifest(struct image_store *s, const char *dir, const char *mdigest,
			   struct stk_err *err)
{
	_cleanup_free_ char *mpath = blob_in(dir, mdigest), *data = NULL, *config = NULL;
	struct manifest m;
	char got[72];
	size_t n, cn, i;
	int rc = 0;

	if (store_read_file(mpath, &data, &n, err) < 0 || manifest_parse(data, n, &m, err) < 0)
		return -1;
	for (i = 0; i < m.nlayers && rc == 0; i++) {
		_cleanup_free_ char *p = blob_in(dir, m.layers[i].digest);

		if (!store_blob_exists(s, m.layers[i].digest))
			rc = import_blob(s, p, m.layers[i].digest, got, err);
	}
	if (rc == 0 && !store_blob_exists(s, m.config_digest)) {
		_cleanup_free_ char *p = blob_in(dir, m.config_digest);

		rc = import_blob(s, p, m.config_digest, got, err);
	}
	if (rc == 0)
		rc = store_blob_read(s, m.config_digest, &config, &cn, err);
	if (rc == 0)
		rc = manifest_set_diffids(&m, config, cn, err);
	for (i = 0; i < m.nlayers && rc == 0; i++)
		rc = store_commit_layer(s, m.layers[i].digest, m.layers[i].diffid, err);
	if (rc == 0)
		rc = store_blob_put(s, mdigest, data, n, err);
	manifest_free(&m);
	return rc;
}

static const char *annotation(struct json_object *desc, const char *key)
{
	struct json_object *a, *v;

	if (json_object_object_get_ex(desc, "annotations", &a) &&
	    json_object_object_get_ex(a, key, &v))
		return json_object_get_string(v);
	return NULL;
}

/* The name an OCI layout gives an image: a full reference, or a bare tag. */
static char *oci_name(struct json_object *desc, const char *fallback_repo)
{
	const char *full = annotation(desc, "io.containerd.image.name");
	const char *ref = annotation(desc, "org.opencontainers.image.ref.name");
	struct image_ref r;
	struct stk_err e;
	char *out;

	if (!full && ref && strpbrk(ref, "/:"))
		full = ref;
	if (full && image_ref_parse(full, &r, &e) == 0) {
		out = image_ref_canonical(&r);
		image_ref_free(&r);
		return out;
	}
	if (ref && fallback_repo)
		return xasprintf("%s:%s", fallback_repo, ref);
	return NULL;
}

static int load_oci(struct image_store *s, const char *dir, struct loaded *out, struct stk_err *err)
{
	_cleanup_free_ char *ipath = xasprintf("%s/index.json", dir), *data = NULL;
	_cleanup_json_ struct json_object *idx = NULL;
	struct json_object *list;
	size_t n, i;

	if (store_read_file(ipath, &data, &n, err) < 0)
		return -1;
	idx = json_tokener_parse(data);
	if (!idx || !json_object_object_get_ex(idx, "manifests", &list) ||
	    !json_object_is_type(list, json_type_array))
		return stk_err_set(err, EBADMSG, "index.json has no manifests");
	for (i = 0; i < json_object_array_length(list); i++) {
		struct json_object *d = json_object_array_get_idx(list, i), *v;
		const char *digest = json_object_object_get_ex(d, "digest", &v)
					     ? json_object_get_string(v)
					     : NULL;
		const char *mt = json_object_object_get_ex(d, "mediaType", &v)
					 ? json_object_get_string(v)
					 : "";
		_cleanup_free_ char *mdigest = NULL, *name = NULL;

		if (!image_digest_valid(digest))
			return stk_err_set(err, EBADMSG, "index.json: invalid digest");
		mdigest = xstrdup(digest);
		if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0) {
			_cleanup_free_ char *p = blob_in(dir, digest), *nested = NULL;
			const char *arch, *variant;
			size_t nn;

			image_host_platform(&arch, &variant);
			free(mdigest);
			mdigest = NULL;
			if (store_read_file(p, &nested, &nn, err) < 0 ||
			    manifest_index_pick(nested, nn, arch, variant, &mdigest, err) < 0)
				return -1;
		}
		if (import_manifest(s, dir, mdigest, err) < 0)
			return -1;
		name = oci_name(d, NULL);
		if (store_add_image(s, name, mdigest, err) < 0)
			return -1;
		loaded_add(out,
			   name ? loaded_line(name) : xasprintf("Loaded image ID: %s", mdigest));
	}
	return 0;
}

/* docker save: manifest.json lists Config, RepoTags and uncompressed Layers by path. */
static int load_docker_one(struct image_store *s, const char *dir, struct json_object *img,
			   struct loaded *out, struct stk_err *err)
{
	struct json_object *cfg, *layers, *tags, *doc, *arr, *c;
	_cleanup_free_ char *cpath = NULL;
	char cd[72], md[72];
	const char *text;
	size_t i;
	int rc = 0;

	if (!json_object_object_get_ex(img, "Config", &cfg) ||
	    !json_object_object_get_ex(img, "Layers", &layers) ||
	    strstr(json_object_get_string(cfg), ".."))
		return stk_err_set(err, EBADMSG, "manifest.json: entry without Config or Layers");
	doc = json_object_new_object();
	json_object_object_add(doc, "schemaVersion", json_object_new_int(2));
	json_object_object_add(doc, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
	arr = json_object_new_array();
	for (i = 0; i < json_object_array_length(layers) && rc == 0; i++) {
		const char *rel = json_object_get_string(json_object_array_get_idx(layers, i));
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, rel ? rel : "");
		struct stat st;
		char ld[72];
		struct json_object *l;

		if (!rel || strstr(rel, "..") || stat(p, &st) < 0) {
			rc = stk_err_set(err, EBADMSG, "manifest.json: layer %s missing",
					 rel ? rel : "");
			break;
		}
		if (import_blob(s, p, NULL, ld, err) < 0) {
			rc = -1;
			break;
		}
		l = json_object_new_object();
		/* docker save layers are usually plain tar; unpack detects compression anyway */
		json_object_object_add(l, "mediaType",
				       json_object_new_string(
					       "application/vnd.oci.image.layer.v1.tar"));
		json_object_object_add(l, "digest", json_object_new_string(ld));
		json_object_object_add(l, "size", json_object_new_int64(st.st_size));
		json_object_array_add(arr, l);
	}
	if (rc == 0) {
		cpath = xasprintf("%s/%s", dir, json_object_get_string(cfg));
		rc = import_blob(s, cpath, NULL, cd, err);
	}
	if (rc == 0) {
		c = json_object_new_object();
		json_object_object_add(c, "mediaType", json_object_new_string(MT_OCI_CONFIG));
		json_object_object_add(c, "digest", json_object_new_string(cd));
		json_object_object_add(c, "size", json_object_new_int64(0));
		json_object_object_add(doc, "config", c);
		json_object_object_add(doc, "layers", json_object_get(arr));
		text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE);
		sha256_digest(text, strlen(text), md);
		_cleanup_free_ char *mpath = blob_in(dir, md);
		_cleanup_free_ char *bdir = xasprintf("%s/blobs/sha256", dir);

		rc = store_mkdirs(bdir, err);
		if (rc == 0)
			rc = store_write_atomic(mpath, text, strlen(text), err);
		/* the blobs already moved to the store are found there by import_manifest */
		if (rc == 0)
			rc = import_manifest(s, dir, md, err);
	}
	json_object_put(arr);
	json_object_put(doc);
	if (rc < 0)
		return -1;
	if (json_object_object_get_ex(img, "RepoTags", &tags) &&
	    json_object_is_type(tags, json_type_array) && json_object_array_length(tags) > 0) {
		for (i = 0; i < json_object_array_length(tags); i++) {
			struct image_ref r;
			_cleanup_free_ char *canon = NULL;

			if (image_ref_parse(json_object_get_string(
						    json_object_array_get_idx(tags, i)),
					    &r, err) < 0)
				return -1;
			canon = image_ref_canonical(&r);
			image_ref_free(&r);
			if (store_add_image(s, canon, md, err) < 0)
				return -1;
			loaded_add(out, loaded_line(canon));
		}
		return 0;
	}
	if (store_add_image(s, NULL, md, err) < 0)
		return -1;
	loaded_add(out, xasprintf("Loaded image ID: %s", cd));
	return 0;
}

static int load_docker(struct image_store *s, const char *dir, struct loaded *out,
		       struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/manifest.json", dir), *data = NULL;
	_cleanup_json_ struct json_object *arr = NULL;
	size_t n, i;

	if (store_read_file(p, &data, &n, err) < 0)
		return -1;
	arr = json_tokener_parse(data);
	if (!arr || !json_object_is_type(arr, json_type_array))
		return stk_err_set(err, EBADMSG, "manifest.json is not a JSON array");
	for (i = 0; i < json_object_array_length(arr); i++)
		if (load_docker_one(s, dir, json_object_array_get_idx(arr, i), out, err) < 0)
			return -1;
	return 0;
}

int image_store_load(struct image_store *s, const char *file, char ***loaded, size_t *nloaded,
		     struct stk_err *err)
{
	_cleanup_free_ char *tmp = NULL, *idx = NULL;
	_cleanup_close_ int lock = store_lock(s, false, err);
	struct loaded out = {loaded, nloaded};
	struct stk_err ignored;
	int rc;

	if (lock < 0 || stk_lazylib_load(&stk_lazy_archive_lib, err) < 0 ||
	    stk_lazylib_load(&stk_lazy_crypto_lib, err) < 0)
		return -1;
	tmp = store_tmp_dir(s, err);
	if (!tmp)
		return -1;
	rc = extract_archive(file, tmp, err);
	idx = xasprintf("%s/index.json", tmp);
	if (rc == 0) {
		_cleanup_free_ char *dm = xasprintf("%s/manifest.json", tmp);

		/* docker's manifest.json is the richer source of names when both are present */
		if (access(dm, F_OK) == 0)
			rc = load_docker(s, tmp, &out, err);
		else if (access(idx, F_OK) == 0)
			rc = load_oci(s, tmp, &out, err);
		else
			rc = stk_err_set(err, EBADMSG,
					 "%s is neither an OCI layout nor a docker save archive",
					 file);
	}
	store_remove_tree(tmp, &ignored);
	return rc;
}

/* ---- save ---- */

static int add_file(struct archive *a, const char *name, const char *path, struct stk_err *err)
{
	struct archive_entry *e = archive_entry_new();
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char buf[65536];
	ssize_t n;

	if (fd < 0 || fstat(fd, &st) < 0) {
		archive_entry_free(e);
		return stk_err_sys(err, "open %s", path);
	}
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, st.st_size);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK) {
		archive_entry_free(e);
		return stk_err_set(err, EIO, "write archive: %s", archive_error_string(a));
	}
	archive_entry_free(e);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (archive_write_data(a, buf, (size_t)n) < 0)
			return stk_err_set(err, EIO, "write archive: %s", archive_error_string(a));
	return n < 0 ? stk_err_sys(err, "read %s", path) : 0;
}

static int add_bytes(struct archive *a, const char *name, const char *data, struct stk_err *err)
{
	struct archive_entry *e = archive_entry_new();
	size_t n = strlen(data);

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)n);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(a, e) != ARCHIVE_OK || archive_write_data(a, data, n) < 0) {
		archive_entry_free(e);
		return stk_err_set(err, EIO, "write archive: %s", archive_error_string(a));
	}
	archive_entry_free(e);
	return 0;
}

struct saved_blobs {
	char **v;
	size_t n;
};

static int add_blob_once(struct archive *a, struct image_store *s, struct saved_blobs *seen,
			 const char *digest, struct stk_err *err)
{
	_cleanup_free_ char *name = xasprintf("blobs/sha256/%s", digest + 7);
	_cleanup_free_ char *path = store_blob_path(s, digest);
	size_t i;

	for (i = 0; i < seen->n; i++)
		if (strcmp(seen->v[i], digest) == 0)
			return 0;
	seen->v = xrealloc(seen->v, (seen->n + 1) * sizeof(char *));
	seen->v[seen->n++] = xstrdup(digest);
	return add_file(a, name, path, err);
}

static int save_images(struct archive *a, struct image_store *s, const char *const *names, size_t n,
		       struct saved_blobs *seen, struct stk_err *err)
{
	struct json_object *index = json_object_new_object(), *mlist = json_object_new_array();
	struct json_object *dm = json_object_new_array();
	size_t i, j;
	int rc = 0;

	json_object_object_add(index, "schemaVersion", json_object_new_int(2));
	json_object_object_add(index, "mediaType", json_object_new_string(MT_OCI_INDEX));
	json_object_object_add(index, "manifests", mlist);
	for (i = 0; i < n && rc == 0; i++) {
		struct image_config cfg;
		_cleanup_free_ char *data = NULL;
		struct manifest m;
		struct json_object *d, *ann, *e, *layers, *tags;
		struct image_ref r;
		size_t len;

		if (image_store_get(s, names[i], &cfg, err) < 0) {
			rc = -1;
			break;
		}
		rc = store_blob_read(s, cfg.manifest_digest, &data, &len, err);
		if (rc == 0)
			rc = manifest_parse(data, len, &m, err);
		if (rc < 0) {
			image_config_free(&cfg);
			break;
		}
		rc = add_blob_once(a, s, seen, cfg.manifest_digest, err);
		if (rc == 0)
			rc = add_blob_once(a, s, seen, m.config_digest, err);
		layers = json_object_new_array();
		for (j = 0; j < m.nlayers && rc == 0; j++) {
			_cleanup_free_ char *p =
				xasprintf("blobs/sha256/%s", m.layers[j].digest + 7);

			rc = add_blob_once(a, s, seen, m.layers[j].digest, err);
			json_object_array_add(layers, json_object_new_string(p));
		}
		d = json_object_new_object();
		json_object_object_add(d, "mediaType", json_object_new_string(MT_OCI_MANIFEST));
		json_object_object_add(d, "digest", json_object_new_string(cfg.manifest_digest));
		json_object_object_add(d, "size", json_object_new_int64((int64_t)len));
		tags = json_object_new_array();
		if (image_ref_parse(names[i], &r, err) == 0 && r.tag &&
		    !str_has_prefix(names[i], "sha256:")) {
			_cleanup_free_ char *canon = image_ref_canonical(&r);
			_cleanup_free_ char *fam = image_ref_familiar_name(&r);
			_cleanup_free_ char *tagged = xasprintf("%s:%s", fam, r.tag);

			ann = json_object_new_object();
			json_object_object_add(ann, "io.containerd.image.name",
					       json_object_new_string(canon));
			json_object_object_add(ann, "org.opencontainers.image.ref.name",
					       json_object_new_string(r.tag));
			json_object_object_add(d, "annotations", ann);
			json_object_array_add(tags, json_object_new_string(tagged));
		}
		image_ref_free(&r);
		json_object_array_add(mlist, d);
		e = json_object_new_object();
		{
			_cleanup_free_ char *cp = xasprintf("blobs/sha256/%s", m.config_digest + 7);

			json_object_object_add(e, "Config", json_object_new_string(cp));
		}
		json_object_object_add(e, "RepoTags", tags);
		json_object_object_add(e, "Layers", layers);
		json_object_array_add(dm, e);
		manifest_free(&m);
		image_config_free(&cfg);
	}
	if (rc == 0)
		rc = add_bytes(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", err);
	if (rc == 0)
		rc = add_bytes(a, "index.json",
			       json_object_to_json_string_ext(
				       index,
				       JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			       err);
	if (rc == 0)
		rc = add_bytes(a, "manifest.json",
			       json_object_to_json_string_ext(
				       dm, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			       err);
	json_object_put(index);
	json_object_put(dm);
	return rc;
}

int image_store_save(struct image_store *s, const char *const *names, size_t n, const char *file,
		     struct stk_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", file, (int)getpid());
	struct archive *a;
	struct saved_blobs seen = {0};
	size_t i;
	int rc;

	if (stk_lazylib_load(&stk_lazy_archive_lib, err) < 0 ||
	    stk_lazylib_load(&stk_lazy_crypto_lib, err) < 0)
		return -1;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
		rc = stk_err_set(err, archive_errno(a) > 0 ? archive_errno(a) : EIO,
				 "create %s: %s", file, archive_error_string(a));
		archive_write_free(a);
		return rc;
	}
	rc = save_images(a, s, names, n, &seen, err);
	if (archive_write_close(a) != ARCHIVE_OK && rc == 0)
		rc = stk_err_set(err, EIO, "write %s: %s", file, archive_error_string(a));
	archive_write_free(a);
	for (i = 0; i < seen.n; i++)
		free(seen.v[i]);
	free(seen.v);
	if (rc == 0 && rename(tmp, file) < 0)
		rc = stk_err_sys(err, "rename %s", file);
	if (rc < 0)
		unlink(tmp);
	return rc;
}

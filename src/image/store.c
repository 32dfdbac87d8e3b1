/* The image store under $ROOT/images: blobs/sha256/<hex> (manifests, configs, layer
 * blobs), layers/sha256/<hex>/ (unpacked trees by diff ID), refs.json, locks.
 * Every write goes to a temporary file and is renamed into place after fsync, so a
 * crash leaves either the old state or the new one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

void sha256_init(struct sha256 *h)
{
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort();
}

void sha256_update(struct sha256 *h, const void *data, size_t n)
{
	EVP_DigestUpdate(h->ctx, data, n);
}

void sha256_final(struct sha256 *h, char out[72])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0, i;

	EVP_DigestFinal_ex(h->ctx, md, &len);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < len && i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	sha256_dispose(h);
}

void sha256_dispose(struct sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void sha256_digest(const void *data, size_t n, char out[72])
{
	struct sha256 h;

	sha256_init(&h);
	sha256_update(&h, data, n);
	sha256_final(&h, out);
}

int store_mkdirs(const char *path, struct stk_err *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *q;

	for (q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return stk_err_sys(err, "create %s", p);
		*q = '/';
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return stk_err_sys(err, "create %s", p);
	return 0;
}

int store_fsync_dir(const char *dir, struct stk_err *err)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return stk_err_sys(err, "sync %s", dir);
	return 0;
}

static int write_all(int fd, const void *data, size_t n)
{
	const char *p = data;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int store_write_atomic(const char *path, const void *data, size_t n, struct stk_err *err)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", path);
	_cleanup_free_ char *dir = xstrdup(path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	char *slash;

	if (fd < 0)
		return stk_err_sys(err, "create %s", tmp);
	if (write_all(fd, data, n) < 0 || fsync(fd) < 0 || fchmod(fd, 0644) < 0) {
		stk_err_sys(err, "write %s", path);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		stk_err_sys(err, "rename %s", path);
		unlink(tmp);
		return -1;
	}
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	return store_fsync_dir(dir, err);
}

int store_read_file(const char *path, char **data, size_t *n, struct stk_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct strbuf sb;
	char buf[65536];
	ssize_t r;

	if (fd < 0)
		return stk_err_sys(err, "open %s", path);
	strbuf_init(&sb);
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			strbuf_free(&sb);
			return stk_err_sys(err, "read %s", path);
		}
		strbuf_addn(&sb, buf, (size_t)r);
	}
	*n = sb.len;
	strbuf_addc(&sb, '\0'); /* callers may treat JSON as a string */
	*data = strbuf_take(&sb);
	return 0;
}

static int remove_at(int dirfd, const char *name, struct stk_err *err);

static int remove_children(int fd, struct stk_err *err)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(fd);
		return stk_err_sys(err, "open directory");
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_at(dirfd(d), de->d_name, err) < 0) {
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int remove_at(int dirfd, const char *name, struct stk_err *err)
{
	struct stat st;
	int fd;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : stk_err_sys(err, "stat %s", name);
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return stk_err_sys(err, "open %s", name);
		if (remove_children(fd, err) < 0)
			return -1;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return stk_err_sys(err, "remove %s", name);
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return stk_err_sys(err, "remove %s", name);
	return 0;
}

int store_remove_tree(const char *path, struct stk_err *err)
{
	if (remove_at(AT_FDCWD, path, err) < 0)
		return stk_err_wrap(err, "remove %s", path);
	return 0;
}

static const char *digest_hex(const char *digest)
{
	return digest + 7; /* callers pass validated sha256:<hex> */
}

char *store_blob_path(struct image_store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", s->dir, digest_hex(digest));
}

char *store_blob_partial_path(struct image_store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s.partial", s->dir, digest_hex(digest));
}

bool store_blob_exists(struct image_store *s, const char *digest)
{
	_cleanup_free_ char *p = store_blob_path(s, digest);

	return access(p, F_OK) == 0;
}

int store_blob_put(struct image_store *s, const char *digest, const void *data, size_t n,
		   struct stk_err *err)
{
	_cleanup_free_ char *p = NULL;
	char got[72];

	if (!image_digest_valid(digest))
		return stk_err_set(err, EINVAL, "unsupported digest \"%s\"", digest);
	sha256_digest(data, n, got);
	if (strcmp(got, digest) != 0)
		return stk_err_set(err, EBADMSG, "digest mismatch: expected %s, got %s", digest,
				   got);
	p = store_blob_path(s, digest);
	/* content-addressed and written whole (renamed after fsync): one already there is
	 * this one (a rebuild with nothing changed commits the same config and manifest) */
	if (access(p, F_OK) == 0)
		return 0;
	return store_write_atomic(p, data, n, err);
}

int store_blob_read(struct image_store *s, const char *digest, char **data, size_t *n,
		    struct stk_err *err)
{
	_cleanup_free_ char *p = NULL;

	if (!image_digest_valid(digest))
		return stk_err_set(err, EINVAL, "unsupported digest \"%s\"", digest);
	p = store_blob_path(s, digest);
	return store_read_file(p, data, n, err);
}

char *store_layer_dir(struct image_store *s, const char *diffid)
{
	return xasprintf("%s/layers/sha256/%s", s->dir, digest_hex(diffid));
}

bool store_layer_exists(struct image_store *s, const char *diffid)
{
	_cleanup_free_ char *p = NULL;

	if (!image_digest_valid(diffid))
		return false;
	p = xasprintf("%s/layers/sha256/%s.json", s->dir, digest_hex(diffid));
	/* the metadata file is written last: its presence means the tree is complete */
	return access(p, F_OK) == 0;
}

uint64_t store_layer_size(struct image_store *s, const char *diffid)
{
	_cleanup_free_ char *p = xasprintf("%s/layers/sha256/%s.json", s->dir, digest_hex(diffid));
	_cleanup_json_ struct json_object *o = json_object_from_file(p);
	struct json_object *v;

	if (o && json_object_object_get_ex(o, "size", &v))
		return (uint64_t)json_object_get_int64(v);
	return 0;
}

char *image_store_layer_path(struct image_store *s, const char *diffid)
{
	if (!store_layer_exists(s, diffid))
		return NULL;
	return store_layer_dir(s, diffid);
}

char *store_tmp_dir(struct image_store *s, struct stk_err *err)
{
	char *p = xasprintf("%s/tmp/XXXXXX", s->dir);

	if (!mkdtemp(p)) {
		stk_err_sys(err, "create temporary directory in %s/tmp", s->dir);
		free(p);
		return NULL;
	}
	return p;
}

static int lock_file(const char *path, int op, struct stk_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return stk_err_sys(err, "open lock %s", path);
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		stk_err_sys(err, "lock %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

int store_lock(struct image_store *s, bool exclusive, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/lock", s->dir);

	return lock_file(p, exclusive ? LOCK_EX : LOCK_SH, err);
}

int store_lock_blob(struct image_store *s, const char *digest, struct stk_err *err)
{
	_cleanup_free_ char *p = xasprintf("%s/locks/%s.lock", s->dir, digest_hex(digest));

	return lock_file(p, LOCK_EX, err);
}

int image_store_open(const char *root, struct image_store **out, struct stk_err *err)
{
	static const char *const subdirs[] = {"blobs/sha256", "layers/sha256", "tmp", "locks"};
	_cleanup_free_ char *dir = xasprintf("%s/images", root);
	char real[PATH_MAX];
	struct image_store *s;
	size_t i;

	if (store_mkdirs(dir, err) < 0)
		return stk_err_wrap(err, "image store");
	/* libarchive's symlink checks walk the whole destination path; resolve it once */
	if (!realpath(dir, real))
		return stk_err_sys(err, "image store %s", dir);
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		_cleanup_free_ char *sub = xasprintf("%s/%s", real, subdirs[i]);

		if (store_mkdirs(sub, err) < 0)
			return stk_err_wrap(err, "image store");
	}
	s = xcalloc(1, sizeof(*s));
	s->dir = xstrdup(real);
	*out = s;
	return 0;
}

void image_store_free(struct image_store *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s);
}

void image_store_set_in_use_hook(struct image_store *s, image_in_use_fn fn, void *arg)
{
	s->in_use = fn;
	s->in_use_arg = arg;
}

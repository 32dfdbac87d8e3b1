/* The stat cache of COPY/ADD sources, as git's index: for each file of the context that
 * was hashed, its size, mtime, ctime, inode, device and mode, the digest of its content,
 * and when that was recorded. A later hash reuses the digest only when every field still
 * matches and both mtime and ctime are older than the recording (a file changed in the
 * same clock tick as it was hashed is "racily clean" and hashed again). Kept as
 * $ROOT/build/statcache/<digest of the context's path>.json; a missing or unreadable file
 * is an empty cache. */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/str.h"

enum { SC_SIZE, SC_MTIME, SC_CTIME, SC_INO, SC_DEV, SC_MODE, SC_AT, SC_DIGEST, SC_N };

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* The file timestamps come from the kernel's coarse clock: a write after this moment
 * gets a timestamp no older than it. */
int64_t build_statcache_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME_COARSE, &t);
	return ts_ns(&t);
}

static char *statcache_path(struct build *b)
{
	char key[72];

	build_key("statcache", b->context, key);
	return xasprintf("%s/build/statcache/%s.json", b->o->root, key + 7);
}

void build_statcache_load(struct build *b)
{
	_cleanup_free_ char *p = NULL;

	if (b->statcache)
		return;
	p = statcache_path(b);
	if (access(p, F_OK) == 0)
		b->statcache = json_object_from_file(p);
	if (b->statcache && !json_object_is_type(b->statcache, json_type_object)) {
		json_object_put(b->statcache);
		b->statcache = NULL;
	}
	if (!b->statcache)
		b->statcache = json_object_new_object();
}

void build_statcache_save(struct build *b)
{
	_cleanup_free_ char *p = NULL, *tmp = NULL,
			    *dir = xasprintf("%s/build/statcache", b->o->root);
	struct stk_err ignored;

	if (!b->statcache || !b->statcache_dirty)
		return;
	p = statcache_path(b);
	tmp = xasprintf("%s.%d.tmp", p, (int)getpid());
	/* an optimisation: a failure to write it costs the next build a hash, no more */
	if (stk_mkdir_p(dir, 0700, &ignored) < 0 ||
	    json_object_to_file_ext(tmp, b->statcache, JSON_C_TO_STRING_PLAIN) < 0 ||
	    rename(tmp, p) < 0)
		unlink(tmp);
	b->statcache_dirty = false;
}

void build_statcache_free(struct build *b)
{
	if (b->statcache)
		json_object_put(b->statcache);
	b->statcache = NULL;
}

static int64_t field(struct json_object *a, int i)
{
	return json_object_get_int64(json_object_array_get_idx(a, (size_t)i));
}

const char *build_statcache_get(struct build *b, const char *rel, const struct stat *st)
{
	struct json_object *a, *d;

	if (!b->statcache || !json_object_object_get_ex(b->statcache, rel, &a) ||
	    !json_object_is_type(a, json_type_array) || json_object_array_length(a) != SC_N)
		return NULL;
	d = json_object_array_get_idx(a, SC_DIGEST);
	if (!json_object_is_type(d, json_type_string) || json_object_get_string_len(d) != 64)
		return NULL;
	if (field(a, SC_SIZE) != (int64_t)st->st_size ||
	    field(a, SC_MTIME) != ts_ns(&st->st_mtim) ||
	    field(a, SC_CTIME) != ts_ns(&st->st_ctim) || field(a, SC_INO) != (int64_t)st->st_ino ||
	    field(a, SC_DEV) != (int64_t)st->st_dev || field(a, SC_MODE) != (int64_t)st->st_mode)
		return NULL;
	/* racily clean: changed in the tick it was recorded, or later */
	if (ts_ns(&st->st_mtim) >= field(a, SC_AT) || ts_ns(&st->st_ctim) >= field(a, SC_AT))
		return NULL;
	return json_object_get_string(d);
}

void build_statcache_put(struct build *b, const char *rel, const struct stat *st, int64_t at,
			 const char *digest)
{
	struct json_object *a = json_object_new_array_ext(SC_N);

	json_object_array_add(a, json_object_new_int64((int64_t)st->st_size));
	json_object_array_add(a, json_object_new_int64(ts_ns(&st->st_mtim)));
	json_object_array_add(a, json_object_new_int64(ts_ns(&st->st_ctim)));
	json_object_array_add(a, json_object_new_int64((int64_t)st->st_ino));
	json_object_array_add(a, json_object_new_int64((int64_t)st->st_dev));
	json_object_array_add(a, json_object_new_int64((int64_t)st->st_mode));
	json_object_array_add(a, json_object_new_int64(at));
	json_object_array_add(a, json_object_new_string(digest));
	json_object_object_add(b->statcache, rel, a);
	b->statcache_dirty = true;
}

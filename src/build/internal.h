/* Private to src/build/: the state a stage carries from step to step, and the pieces
 * that execute steps (run.c: RUN on the engine, copy.c: COPY/ADD, layer.c: a tree into
 * a layer tar, cache.c: step cache, ignore.c: .dockerignore). */
#ifndef STK_BUILD_INTERNAL_H
#define STK_BUILD_INTERNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build/build.h"
#include "build/dockerfile.h"
#include "engine/engine.h"
#include "image/image.h"
#include "util/err.h"

static inline void build_json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(build_json_putp)))

/* An image being built: its layers and its config (OCI image config) so far. */
struct bstate {
	struct image_layer *layers;
	size_t nlayers;
	struct json_object *config; /* owned */
	char key[72]; /* cache chain: digest of everything that led here */
};

void bstate_release(struct bstate *st);
void bstate_copy(struct bstate *dst, const struct bstate *src);
/* config.config, created on demand. */
struct json_object *bstate_cfg(struct bstate *st);
/* Appends a layer (taking ownership of its strings) and its diff ID to rootfs. */
void bstate_add_layer(struct bstate *st, struct image_layer *l);
void bstate_history(struct bstate *st, const char *created_by, bool empty_layer);
/* Unpacked layer trees, top first, as engine_spec.layers wants (NULL-terminated). */
char **bstate_layer_paths(struct image_store *s, const struct bstate *st, struct stk_err *err);

/* The build as a whole, shared by the steps. */
struct build {
	struct image_store *store;
	const struct build_opts *o;
	struct dockerfile df;
	char *context; /* realpath */
	char *work; /* $ROOT/build/tmp-XXXXXX: scratch space of this build */
	const char *records; /* the build's top scratch directory, where RUN containers are
			      * recorded (a stage's child has a `work` of its own below it) */
	int lockfd; /* flock on it while the build (or a child of it) lives: reap.c */
	char **ignore; /* .dockerignore patterns as written (with "!") */
	size_t nignore;
	unsigned step, nsteps;
	int out; /* progress fd, -1 = quiet */
	unsigned seq; /* names for scratch files */
	int sigfd; /* SIGINT, SIGTERM, SIGHUP, blocked while the build runs */
	bool interrupted;
	bool reuse_cache; /* take cache hits even with no_cache: a stage built by a child */
	struct json_object *statcache; /* statcache.c, loaded by the first hash */
	bool statcache_dirty;
};

/* Has a signal asked the build to stop? Reads the signalfd without blocking. */
bool build_interrupted(struct build *b);

void build_say(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *build_scratch_path(struct build *b, const char *what);

/* mounts.c: RUN --mount. `from` mounts a stage or image read-only for from=. */
typedef int (*build_from_fn)(void *arg, const char *from, char **mounted, struct stk_err *err);
struct run_mounts {
	struct engine_mount *v;
	size_t n;
	char **mounted; /* views to unmount afterwards */
	size_t nmounted;
	char **files; /* secrets' copies, removed afterwards */
	size_t nfiles;
	char *ssh_sock; /* where RUN finds the agent (SSH_AUTH_SOCK), NULL = none */
};
int build_run_mounts(struct build *b, const struct df_instr *in, build_from_fn from, void *arg,
		     struct run_mounts *rm, struct json_object *key, struct stk_err *err);
void build_run_mounts_release(struct run_mounts *rm);
/* The from= of a --mount flag, NULL if none. */
char *build_mount_from(const struct df_flag *f);

/* run.c: the command runs in an engine container over st; its changes become a layer.
 * `tail` receives the last output lines (for errors). */
int build_run(struct build *b, struct bstate *st, char **argv, char **env, bool net_none,
	      const struct run_mounts *mounts, char **tail, int *code, struct stk_err *err);

/* reap.c: the scratch directory, created locked; records of RUN containers while they
 * exist (add before the container is created, drop once it is removed), so that a sweep
 * can remove those of a builder that died; the containers recorded under dir removed. */
struct build_guard;
int build_guard_start(const char *root, int report_fd, struct build_guard **out,
		      struct stk_err *err);
/* Tells the guard of a scratch directory (made by build_work_create) to clean up. */
void build_guard_announce(struct build_guard *g, const char *dir);
int build_work_create(const char *root, char **dir, int *lockfd, struct stk_err *err);
int build_record_add(struct build *b, const struct engine_spec *spec, struct stk_err *err);
void build_record_drop(struct build *b, const char *id);
int build_records_clean(const char *dir, struct stk_err *err);

/* layer.c: the tree under dir (an overlay upper dir or a staging dir) as a layer tar at
 * tar_path; overlay whiteouts become ".wh." entries. */
int build_tar_tree(const char *dir, const char *tar_path, struct stk_err *err);

/* copy.c */
struct copy_src {
	const char *root; /* directory the sources are resolved in (context or a rootfs) */
	bool context; /* apply .dockerignore */
	char **exclude; /* COPY --exclude patterns */
	size_t nexclude;
};
struct copy_opts {
	const char *dest; /* expanded, relative to the workdir unless absolute */
	bool dest_dir; /* written with a trailing "/" */
	int uid, gid; /* -1: root, as Docker does */
	int mode; /* --chmod, -1 = keep */
	bool add; /* ADD: a local tar archive is extracted */
};
/* The sources (expanded, globs allowed) into a new layer on st. */
int build_copy(struct build *b, struct bstate *st, const struct copy_src *src, char **srcs,
	       size_t nsrcs, const struct copy_opts *co, struct stk_err *err);
/* Digest of the sources' names, modes and contents: COPY's part of the cache key. */
int build_hash_sources(struct build *b, const struct copy_src *src, char **srcs, size_t nsrcs,
		       char out[72], struct stk_err *err);

/* A path as Docker cleans it, rooted at the context: "../x" is "x", "/a/./b/" is "a/b". */
char *build_clean_path(const char *p);

/* imagefs.c: a path in the stage's filesystem with the image's symlinks resolved inside
 * it (relative, clean); is it a directory there? */
char *build_image_resolve(struct build *b, const struct bstate *st, const char *path);
bool build_image_has_dir(struct build *b, const struct bstate *st, const char *rel);
/* The content of a regular file there (the topmost copy), NULL if none. */
char *build_image_read(struct build *b, const struct bstate *st, const char *rel);

/* fetch.c: ADD <url> */
bool build_is_url(const char *s);
/* Downloads url into dir (created as needed); *name gets the file's name there. */
int build_fetch_url(struct build *b, const char *dir, const char *url, char **name,
		    struct stk_err *err);

/* ignore.c */
int build_ignore_load(struct build *b, struct stk_err *err);
bool build_ignored(const struct build *b, const char *rel);
/* Docker's pattern rules: per component, "**" for any number; a pattern matching a
 * directory matches what is under it. */
bool build_pattern_match(const char *pat, const char *path);

/* cache.c */
void build_key(const char *parent, const char *what, char out[72]);
/* 1 and st filled on a hit, 0 on a miss. */
int build_cache_get(struct build *b, const char *key, struct bstate *st);
void build_cache_put(struct build *b, const struct bstate *st);

/* statcache.c: content digests of context files, reused while their stat is unchanged */
struct stat;
int64_t build_statcache_now(void);
void build_statcache_load(struct build *b);
void build_statcache_save(struct build *b);
void build_statcache_free(struct build *b);
/* The hex digest recorded for rel if st shows it cannot have changed since, else NULL. */
const char *build_statcache_get(struct build *b, const char *rel, const struct stat *st);
void build_statcache_put(struct build *b, const char *rel, const struct stat *st, int64_t at,
			 const char *digest);

#endif

/* Private to src/volume/. */
#ifndef STK_VOLUME_INTERNAL_H
#define STK_VOLUME_INTERNAL_H

#include "volume/volume.h"

struct json_object;

/* $ROOT/volumes/<name> and its _data. */
char *volume_dir(const char *root, const char *name);
char *volume_data_dir(const char *root, const char *name);

/* Atomically replace path with the JSON of obj (tmp + fsync + rename). */
int volume_write_json(const char *path, struct json_object *obj, struct stk_err *err);

/* Take the volume's lock (flock on its directory); returns the fd holding it. */
int volume_lock(const char *root, const char *name, struct stk_err *err);

/* Is the directory empty (ENOENT counts as empty)? -1 on error. */
int volume_dir_is_empty(const char *path, struct stk_err *err);

/* rm -rf of a path (no symlink followed). */
int volume_rm_tree(const char *path, struct stk_err *err);

#endif

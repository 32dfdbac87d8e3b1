/* The data of `stack runtime run` (src/cli/runtime_volume.c): plumbing that turns the
 * spec's Compose-style "volumes", "secrets", "configs" and "volumes_from" into engine
 * mounts through src/volume/, until the supervisor does the same. Private to the CLI. */
#ifndef STK_CLI_RUNTIME_VOLUME_H
#define STK_CLI_RUNTIME_VOLUME_H

#include "util/err.h"

struct engine_spec;
struct json_object;

struct runtime_volume_opts {
	const char *root; /* the state root */
	const char *name; /* the container's name in records (default: its id) */
	const char *project; /* names volumes <project>_<key> and labels them; may be NULL */
};

struct runtime_volumes;

/* Before engine_create(), after the spec has its id and state directory: creates the
 * volumes (copy-up from spec->layers unless nocopy), writes secrets and configs into
 * the container's 0700 state directory, appends the mounts to spec->mounts and records
 * the container as the volumes' user. Warnings go to stderr. On failure nothing it
 * made is left. */
int runtime_volumes_setup(const struct runtime_volume_opts *o, struct json_object *spec_json,
			  struct engine_spec *spec, struct runtime_volumes **out,
			  struct stk_err *err);
/* Once the container has started (or failed to): detaches the binds prepared for
 * bind.recursive; the container keeps its own copies. NULL is fine. */
void runtime_volumes_unstage(struct runtime_volumes *rv);
/* After the container is gone: a tmpfs volume no container uses is unmounted. NULL is
 * fine. */
void runtime_volumes_release(struct runtime_volumes *rv);

#endif

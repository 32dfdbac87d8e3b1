/* The image builder: a Dockerfile executed on stack's own engine into the image
 * store, step by step with a cache. The contract of src/build/; the Dockerfile parser
 * behind it is private (dockerfile.h). Nothing here prints to the terminal: step
 * headers and RUN output go to the caller's fd. */
#ifndef STK_BUILD_BUILD_H
#define STK_BUILD_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "image/image.h"
#include "util/err.h"

struct build_guard;

struct build_kv {
	const char *key, *value;
};

/* A build secret (RUN --mount=type=secret,id=ID): the content of a file, or of an
 * environment variable of the builder. */
struct build_secret {
	const char *id, *file, *env;
};

struct build_opts {
	const char *root; /* $ROOT: build containers and the step cache live here */
	const char *context; /* a local directory */
	const char *dockerfile; /* relative to the context; NULL = "Dockerfile" */
	const char *dockerfile_inline; /* the text itself, instead of a file */
	const char *target; /* stage to stop at; NULL = the last one */
	const struct build_kv *args; /* --build-arg / build.args */
	size_t nargs;
	const struct build_kv *contexts; /* additional contexts: name -> directory or
					  * "docker-image://REF", for FROM and --from */
	size_t ncontexts;
	const struct build_kv *labels; /* added to the final image */
	size_t nlabels;
	const char *const *tags; /* names given to the result */
	size_t ntags;
	bool no_cache;
	bool pull_always; /* pull every FROM image, even one in the store */
	const char *network; /* RUN's network: NULL/"default"/"host", or "none" */
	const char *const *extra_hosts; /* "name=address" added to RUN's /etc/hosts */
	size_t nextra_hosts;
	uint64_t shm_size; /* RUN's /dev/shm in bytes; 0 = 64 MiB */
	const struct build_secret *secrets;
	size_t nsecrets;
	const struct build_kv *ssh; /* id ("default") -> ssh-agent socket, for
				     * RUN --mount=type=ssh */
	size_t nssh;
	int out_fd; /* progress and RUN output; -1 = none */
	const struct image_pull_opts *pull; /* how FROM pulls a missing image; NULL = defaults */
	struct build_guard *guard; /* build_prepare()'s: told of the build's scratch directory,
				    * which it cleans up if the builder is killed; NULL = none */
};

/* The guard: a process that removes what a builder killed without a chance to clean up
 * (kill -9) left behind: its RUN containers (every process of their cgroups), their
 * cgroups and state directories, its scratch space. It sweeps what earlier builders of
 * the root left when it starts; once the caller and every child it forks meanwhile are
 * gone, it cleans up the builds it was told of (build_opts.guard), then sweeps again.
 * report_fd (stderr, or -1) receives a line for what it cannot remove. */

/* Starts the guard, then puts the calling process in a mount namespace of its own,
 * where the builder mounts read-only views of stages (COPY --from): call it before any
 * thread exists. */
int build_prepare(const char *root, int report_fd, struct build_guard **guard, struct stk_err *err);
/* After the builds: the guard sweeps once more and exits; waits for it. */
void build_guard_end(struct build_guard *g);
/* The sweep itself: every stale scratch directory of $ROOT/build and the RUN containers
 * it records. A live build's are never touched. Blocks (up to seconds per container). */
int build_sweep(const char *root, struct stk_err *err);
/* In a child the builder forks (a service's build): SIGTERM when the parent dies, which
 * the build takes as an interrupt. parent is the forking process's pid. */
void build_child_dies_with_parent(pid_t parent);

/* Builds; *image_id (optional) receives the config digest of the result. A failing
 * step's message reads "step N/M: RUN make: exit 2" followed by its last output lines.
 * SIGINT, SIGTERM and SIGHUP are held while it runs: one stops the build, its container
 * removed, and err->errnum is EINTR. */
int build_image(struct image_store *s, const struct build_opts *o, char **image_id,
		struct stk_err *err);

#endif

/* Paths in the filesystem a stage has built so far, read through its layer trees
 * without mounting them: the topmost layer holding a name decides (a whiteout hides
 * it). COPY uses this to place files as Docker does: through the image's own symlinks
 * (/lib -> usr/lib in merged-/usr images), into a directory the image has. */
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/str.h"

/* 0 and *st for the topmost copy of rel; -1 if no layer has it (or one deleted it). */
static int layers_lstat(char **layers, const char *rel, struct stat *st, char **where)
{
	size_t i;

	for (i = 0; layers && layers[i]; i++) {
		char *p = xasprintf("%s/%s", layers[i], rel);

		if (lstat(p, st) == 0) {
			if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
				free(p);
				return -1;
			}
			*where = p;
			return 0;
		}
		free(p);
	}
	return -1;
}

char *build_image_resolve(struct build *b, const struct bstate *st, const char *path)
{
	struct stk_err ignored;
	char **layers = bstate_layer_paths(b->store, st, &ignored);
	char *rest = build_clean_path(path);
	struct strbuf done;
	int hops = 0;

	strbuf_init(&done);
	strbuf_adds(&done, "");
	while (*rest) {
		size_t n = strcspn(rest, "/");
		_cleanup_free_ char *cand = done.len ? xasprintf("%s/%.*s", done.buf, (int)n, rest)
						     : xstrndup(rest, n);
		_cleanup_free_ char *where = NULL;
		const char *after = rest[n] ? rest + n + 1 : rest + n;
		struct stat sb;
		char target[4096];
		ssize_t len;

		if (layers_lstat(layers, cand, &sb, &where) == 0 && S_ISLNK(sb.st_mode) &&
		    hops++ < 40 && (len = readlink(where, target, sizeof(target) - 1)) > 0) {
			char *joined;

			target[len] = 0;
			joined = target[0] == '/' ? xasprintf("%s/%s", target, after)
						  : xasprintf("%s/%s/%s", done.len ? done.buf : "",
							      target, after);
			free(rest);
			rest = build_clean_path(joined);
			free(joined);
			done.len = 0;
			done.buf[0] = 0;
			continue;
		}
		done.len = 0;
		strbuf_adds(&done, cand);
		memmove(rest, after, strlen(after) + 1);
	}
	free(rest);
	df_strv_free(layers, st->nlayers);
	return strbuf_take(&done);
}

bool build_image_has_dir(struct build *b, const struct bstate *st, const char *rel)
{
	struct stk_err ignored;
	char **layers = bstate_layer_paths(b->store, st, &ignored);
	_cleanup_free_ char *where = NULL;
	struct stat sb;
	bool dir = *rel && layers_lstat(layers, rel, &sb, &where) == 0 && S_ISDIR(sb.st_mode);

	df_strv_free(layers, st->nlayers);
	return dir;
}

char *build_image_read(struct build *b, const struct bstate *st, const char *rel)
{
	struct stk_err ignored;
	char **layers = bstate_layer_paths(b->store, st, &ignored);
	_cleanup_free_ char *where = NULL;
	struct stat sb;
	char *text = NULL;

	if (layers_lstat(layers, rel, &sb, &where) == 0 && S_ISREG(sb.st_mode))
		text = str_read_file(where, NULL);
	df_strv_free(layers, st->nlayers);
	return text;
}

/* Member names of tar archives (layers and image archives), read as Docker reads them:
 * relative to the archive's root whatever their spelling. "/", ".", "./" name the root;
 * "/bin/sh", "./bin/sh", "bin//./sh/" all name bin/sh. Kept apart from unpack.c (no
 * libarchive) so the unit tests and the fuzzer reach it directly. */
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "util/str.h"

char *tar_path_clean(const char *name)
{
	size_t len = name ? strlen(name) : 0, o = 0;
	const char *p = name;
	char *out;

	if (!len)
		return NULL;
	out = xmalloc(len + 1);
	for (;;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* lexical, as filepath.Clean: "a/../b" is b; a ".." above the root escapes */
			if (o == 0) {
				free(out);
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (n != 1 || p[0] != '.') {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = '\0';
	return out;
}

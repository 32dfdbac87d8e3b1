/* libFuzzer target: tar member names as layers and image archives carry them, through
 * tar_path_clean. Whatever it returns must be a clean path under the root: no leading,
 * doubled or trailing "/", no "." or ".." component, and cleaning it again changes
 * nothing; a name without any ".." component is never refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/internal.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_dotdot(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += strspn(p, "/");
	}
	return false;
}

static void check_clean(const char *c)
{
	const char *p = c;

	if (!*c)
		return;
	if (c[0] == '/' || c[strlen(c) - 1] == '/' || strstr(c, "//"))
		abort();
	while (*p) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			abort();
		p += n;
		if (*p)
			p++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = xstrndup((const char *)data, size); /* tar names end at a NUL too */
	char *c = tar_path_clean(name), *again;

	if (!c) {
		if (*name && !has_dotdot(name))
			abort();
		free(name);
		return 0;
	}
	check_clean(c);
	if (*c) {
		again = tar_path_clean(c);
		if (!again || strcmp(again, c) != 0)
			abort();
		free(again);
	}
	free(c);
	free(name);
	return 0;
}

/* Where the project's init (stack-init) lives: given, next to the running binary
 * (a build tree), or in the installed libexec directory. */
#include "engine/internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/str.h"

#ifndef STACK_LIBEXECDIR
#define STACK_LIBEXECDIR "/usr/local/libexec/stack"
#endif

char *init_find(const char *configured)
{
	char self[PATH_MAX];
	ssize_t n;

	if (configured && *configured)
		return access(configured, X_OK) == 0 ? xstrdup(configured) : NULL;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash, *p;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			p = xasprintf("%s/stack-init", self);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	if (access(STACK_LIBEXECDIR "/stack-init", X_OK) == 0)
		return xstrdup(STACK_LIBEXECDIR "/stack-init");
	return NULL;
}

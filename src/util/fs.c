/* Filesystem helpers shared by every module. */
#include "util/fs.h"

#include <errno.h>
#include <sys/stat.h>

#include "util/cleanup.h"
#include "util/str.h"

int stk_mkdir_p(const char *path, mode_t mode, struct stk_err *err)
{
	_cleanup_free_ char *p = xstrdup(path);
	char *s;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return stk_err_sys(err, "mkdir %s", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return stk_err_sys(err, "mkdir %s", p);
	return 0;
}

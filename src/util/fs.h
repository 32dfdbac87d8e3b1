/* Filesystem helpers shared by every module. */
#ifndef STK_UTIL_FS_H
#define STK_UTIL_FS_H

#include <sys/types.h>

#include "util/err.h"

/* mkdir -p: every missing directory of path, with mode; existing ones are fine. */
int stk_mkdir_p(const char *path, mode_t mode, struct stk_err *err);

#endif

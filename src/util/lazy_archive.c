/* The table behind util/lazy_archive.h. */
#include <dlfcn.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_archive.h"

#ifndef STK_SONAME_ARCHIVE
#error "STK_SONAME_ARCHIVE and STK_DEBPKG_ARCHIVE come from configure"
#endif

STK_LAZYLIB_DEFINE(archive, STK_ARCHIVE_FUNCTIONS, STK_SONAME_ARCHIVE, STK_DEBPKG_ARCHIVE)

/* The table behind util/lazy_nl.h. */
#include <dlfcn.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_nl.h"

#ifndef STK_SONAME_NL
#error "STK_SONAME_NL and STK_DEBPKG_NL come from configure"
#endif
#ifndef STK_SONAME_NLROUTE
#error "STK_SONAME_NLROUTE and STK_DEBPKG_NLROUTE come from configure"
#endif

STK_LAZYLIB_DEFINE(nl, STK_NL_FUNCTIONS, STK_SONAME_NL, STK_DEBPKG_NL)
STK_LAZYLIB_DEFINE(nlroute, STK_NLROUTE_FUNCTIONS, STK_SONAME_NLROUTE, STK_DEBPKG_NLROUTE)

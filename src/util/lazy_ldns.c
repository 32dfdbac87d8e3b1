/* The table behind util/lazy_ldns.h. */
#include <dlfcn.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_ldns.h"

#ifndef STK_SONAME_LDNS
#error "STK_SONAME_LDNS and STK_DEBPKG_LDNS come from configure"
#endif

STK_LAZYLIB_DEFINE(ldns, STK_LDNS_FUNCTIONS, STK_SONAME_LDNS, STK_DEBPKG_LDNS)

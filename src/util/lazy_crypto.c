/* The table behind util/lazy_crypto.h. */
#include <dlfcn.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_crypto.h"

#ifndef STK_SONAME_CRYPTO
#error "STK_SONAME_CRYPTO and STK_DEBPKG_CRYPTO come from configure"
#endif

STK_LAZYLIB_DEFINE(crypto, STK_CRYPTO_FUNCTIONS, STK_SONAME_CRYPTO, STK_DEBPKG_CRYPTO)

/* The table behind util/lazy_nft.h. */
#include <dlfcn.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_nft.h"

#ifndef STK_SONAME_NFT
#error "STK_SONAME_NFT and STK_DEBPKG_NFT come from configure"
#endif

STK_LAZYLIB_DEFINE(nft, STK_NFT_FUNCTIONS, STK_SONAME_NFT, STK_DEBPKG_NFT)

/* libcrypto: SHA-256 of blobs, layers and service configs, base64 of registry
 * credentials (src/image/store.c, auth.c, compose/emit.c), opened on first use
 * (util/lazylib.h): `stack version`, `config` without --hash and `runtime run` never
 * hash, and libcrypto is the largest object they would otherwise map. Include this
 * instead of <openssl/evp.h>; when the code starts calling another of its functions,
 * add it to the X-macro list and to the #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_CRYPTO_H
#define STK_UTIL_LAZY_CRYPTO_H

/* The engine keys its seccomp cache with the low-level SHA-256 functions, which OpenSSL 3
 * deprecates: unlike EVP they need no provider set up on first use (2 ms). */
#ifndef OPENSSL_SUPPRESS_DEPRECATED
#define OPENSSL_SUPPRESS_DEPRECATED
#endif
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "util/lazylib.h"

#define STK_CRYPTO_FUNCTIONS(X) \
	X(EVP_DecodeBlock) \
	X(EVP_Digest) \
	X(EVP_DigestFinal_ex) \
	X(EVP_DigestInit_ex) \
	X(EVP_DigestUpdate) \
	X(EVP_EncodeBlock) \
	X(EVP_MD_CTX_free) \
	X(EVP_MD_CTX_new) \
	X(EVP_sha256) \
	X(OPENSSL_cleanse) \
	X(SHA256_Final) \
	X(SHA256_Init) \
	X(SHA256_Update)

STK_LAZYLIB_DECLARE(crypto, STK_CRYPTO_FUNCTIONS)

#ifndef STK_LAZY_DEFINING
#define EVP_DecodeBlock STK_LAZY(crypto, EVP_DecodeBlock)
#define EVP_Digest STK_LAZY(crypto, EVP_Digest)
#define EVP_DigestFinal_ex STK_LAZY(crypto, EVP_DigestFinal_ex)
#define EVP_DigestInit_ex STK_LAZY(crypto, EVP_DigestInit_ex)
#define EVP_DigestUpdate STK_LAZY(crypto, EVP_DigestUpdate)
#define EVP_EncodeBlock STK_LAZY(crypto, EVP_EncodeBlock)
#define EVP_MD_CTX_free STK_LAZY(crypto, EVP_MD_CTX_free)
#define EVP_MD_CTX_new STK_LAZY(crypto, EVP_MD_CTX_new)
#define EVP_sha256 STK_LAZY(crypto, EVP_sha256)
#define OPENSSL_cleanse STK_LAZY(crypto, OPENSSL_cleanse)
#define SHA256_Final STK_LAZY(crypto, SHA256_Final)
#define SHA256_Init STK_LAZY(crypto, SHA256_Init)
#define SHA256_Update STK_LAZY(crypto, SHA256_Update)
#endif

#endif

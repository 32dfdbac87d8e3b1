/* libnftables: published ports and network isolation (src/net/nft.c), opened on first
 * use (util/lazylib.h). Include this instead of the library's own headers; when the
 * code starts calling another of its functions, add it to the X-macro list and to the
 * #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_NFT_H
#define STK_UTIL_LAZY_NFT_H

#include <nftables/libnftables.h>

#include "util/lazylib.h"

#define STK_NFT_FUNCTIONS(X) \
	X(nft_ctx_buffer_error) \
	X(nft_ctx_buffer_output) \
	X(nft_ctx_free) \
	X(nft_ctx_get_error_buffer) \
	X(nft_ctx_new) \
	X(nft_run_cmd_from_buffer)

STK_LAZYLIB_DECLARE(nft, STK_NFT_FUNCTIONS)

#ifndef STK_LAZY_DEFINING
#define nft_ctx_buffer_error STK_LAZY(nft, nft_ctx_buffer_error)
#define nft_ctx_buffer_output STK_LAZY(nft, nft_ctx_buffer_output)
#define nft_ctx_free STK_LAZY(nft, nft_ctx_free)
#define nft_ctx_get_error_buffer STK_LAZY(nft, nft_ctx_get_error_buffer)
#define nft_ctx_new STK_LAZY(nft, nft_ctx_new)
#define nft_run_cmd_from_buffer STK_LAZY(nft, nft_run_cmd_from_buffer)
#endif

#endif

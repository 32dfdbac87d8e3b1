/* libcurl: the registry client (src/image/registry.c, pull.c, auth.c), opened on first
 * use (util/lazylib.h). Include this instead of the library's own headers; when the
 * code starts calling another of its functions, add it to the X-macro list and to the
 * #defines below (docs/build.md). */
#ifndef STK_UTIL_LAZY_CURL_H
#define STK_UTIL_LAZY_CURL_H

#include <curl/curl.h>

#include "util/lazylib.h"

#define STK_CURL_FUNCTIONS(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_escape) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_perform) \
	X(curl_easy_reset) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_free) \
	X(curl_getdate) \
	X(curl_global_init) \
	X(curl_multi_add_handle) \
	X(curl_multi_assign) \
	X(curl_multi_cleanup) \
	X(curl_multi_info_read) \
	X(curl_multi_init) \
	X(curl_multi_remove_handle) \
	X(curl_multi_setopt) \
	X(curl_multi_socket_action) \
	X(curl_slist_append) \
	X(curl_slist_free_all)

STK_LAZYLIB_DECLARE(curl, STK_CURL_FUNCTIONS)

/* curl.h makes curl_easy_setopt, curl_easy_getinfo and curl_multi_setopt function-like
 * macros (typecheck-gcc.h checks each option's argument type); they keep calling those
 * names, which lazy_curl.c defines as functions that forward through the table. */
#ifndef STK_LAZY_DEFINING
#define curl_easy_cleanup STK_LAZY(curl, curl_easy_cleanup)
#define curl_easy_escape STK_LAZY(curl, curl_easy_escape)
#define curl_easy_init STK_LAZY(curl, curl_easy_init)
#define curl_easy_perform STK_LAZY(curl, curl_easy_perform)
#define curl_easy_reset STK_LAZY(curl, curl_easy_reset)
#define curl_easy_strerror STK_LAZY(curl, curl_easy_strerror)
#define curl_free STK_LAZY(curl, curl_free)
#define curl_getdate STK_LAZY(curl, curl_getdate)
#define curl_global_init STK_LAZY(curl, curl_global_init)
#define curl_multi_add_handle STK_LAZY(curl, curl_multi_add_handle)
#define curl_multi_assign STK_LAZY(curl, curl_multi_assign)
#define curl_multi_cleanup STK_LAZY(curl, curl_multi_cleanup)
#define curl_multi_info_read STK_LAZY(curl, curl_multi_info_read)
#define curl_multi_init STK_LAZY(curl, curl_multi_init)
#define curl_multi_remove_handle STK_LAZY(curl, curl_multi_remove_handle)
#define curl_multi_socket_action STK_LAZY(curl, curl_multi_socket_action)
#define curl_slist_append STK_LAZY(curl, curl_slist_append)
#define curl_slist_free_all STK_LAZY(curl, curl_slist_free_all)
#endif

#endif

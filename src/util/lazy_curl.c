/* The table behind util/lazy_curl.h. */
#include <dlfcn.h>
#include <stdarg.h>
#include <stddef.h>

#define STK_LAZY_DEFINING
#include "util/lazy_curl.h"

#ifndef STK_SONAME_CURL
#error "STK_SONAME_CURL and STK_DEBPKG_CURL come from configure"
#endif

STK_LAZYLIB_DEFINE(curl, STK_CURL_FUNCTIONS, STK_SONAME_CURL, STK_DEBPKG_CURL)

/* The three variadic entry points curl.h wraps in macros. Each takes exactly one more
 * argument, whose type the option number gives (CURLOPTTYPE_*), as curl reads it. The
 * parentheses around the names keep curl.h's function-like macros from expanding. */
static CURLcode easy_setopt_va(CURL *h, CURLoption opt, va_list ap)
{
	__typeof__(stk_lazy_curl_table.curl_easy_setopt) fn = stk_lazy_curl()->curl_easy_setopt;

	if (opt < CURLOPTTYPE_OBJECTPOINT)
		return fn(h, opt, va_arg(ap, long));
	if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		return fn(h, opt, va_arg(ap, void *));
	if (opt < CURLOPTTYPE_OFF_T)
		return fn(h, opt, va_arg(ap, void (*)(void)));
	if (opt < CURLOPTTYPE_BLOB)
		return fn(h, opt, va_arg(ap, curl_off_t));
	return fn(h, opt, va_arg(ap, void *));
}

CURLcode(curl_easy_setopt)(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode rc;

	va_start(ap, opt);
	rc = easy_setopt_va(h, opt, ap);
	va_end(ap);
	return rc;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	CURLcode rc;

	va_start(ap, info);
	rc = (stk_lazy_curl()->curl_easy_getinfo)(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLMcode(curl_multi_setopt)(CURLM *m, CURLMoption opt, ...)
{
	__typeof__(stk_lazy_curl_table.curl_multi_setopt) fn = stk_lazy_curl()->curl_multi_setopt;
	va_list ap;
	CURLMcode rc;

	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = fn(m, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = fn(m, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = fn(m, opt, va_arg(ap, void (*)(void)));
	else
		rc = fn(m, opt, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

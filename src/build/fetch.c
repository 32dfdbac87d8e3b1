/* ADD <url>: the file downloaded with libcurl into the build's scratch space, named by
 * the last component of the URL's path and given mode 0600, as Docker does; then copied
 * like any other source (a downloaded archive is not extracted). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/internal.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/lazy_curl.h"
#include "util/str.h"

bool build_is_url(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://");
}

/* "https://host/a/b.tar.gz?x=1" -> "b.tar.gz"; NULL when the path ends in "/". */
static char *url_file_name(const char *url)
{
	const char *p = strstr(url, "://") + 3, *path = strchr(p, '/'), *end, *base;

	if (!path)
		return NULL;
	end = path + strcspn(path, "?#");
	for (base = end; base > path && base[-1] != '/'; base--)
		;
	return base < end ? xstrndup(base, (size_t)(end - base)) : NULL;
}

int build_fetch_url(struct build *b, const char *dir, const char *url, char **name,
		    struct stk_err *err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;
	CURL *h;

	*name = url_file_name(url);
	if (!*name)
		return stk_err_set(err, EINVAL, "ADD %s: cannot determine a file name from the URL",
				   url);
	if (stk_lazylib_load(&stk_lazy_curl_lib, err) < 0 || stk_mkdir_p(dir, 0755, err) < 0)
		return -1;
	path = xasprintf("%s/%s", dir, *name);
	f = fopen(path, "wxe");
	if (!f)
		return stk_err_sys(err, "ADD %s: create %s", url, *name);
	fchmod(fileno(f), 0600);
	h = curl_easy_init();
	if (!h)
		return stk_err_set(err, ENOMEM, "ADD %s: curl_easy_init failed", url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	(void)b;
	if (rc != CURLE_OK)
		return stk_err_set(err, EIO, "ADD %s: %s", url,
				   *curl_err ? curl_err : curl_easy_strerror(rc));
	if (status >= 400)
		return stk_err_set(err, EIO, "ADD %s: HTTP %ld", url, status);
	if (fflush(f) != 0)
		return stk_err_sys(err, "ADD %s: write %s", url, *name);
	return 0;
}

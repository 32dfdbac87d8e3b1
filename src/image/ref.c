/* Image references: [domain/]path[:tag][@digest], with Docker's defaults
 * (docker.io, library/, latest). Grammar from distribution/reference. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "util/cleanup.h"
#include "util/str.h"

#define DEFAULT_DOMAIN "docker.io"
#define NAME_MAX_LEN 255

bool image_digest_valid(const char *d)
{
	size_t i;

	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
		return false;
	for (i = 7; i < 7 + 64; i++)
		if (!isdigit((unsigned char)d[i]) && !(d[i] >= 'a' && d[i] <= 'f'))
			return false;
	return true;
}

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+ ((\.|_|__|-+)[a-z0-9]+)* */
static bool path_component_valid(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !is_alnum_lower(s[0]) || !is_alnum_lower(s[n - 1]))
		return false;
	while (i < n) {
		if (is_alnum_lower(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && s[i + 1] != '_')) {
			i++;
		} else if (s[i] == '_') {
			i += 2;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !is_alnum_lower(s[i]))
			return false;
	}
	return true;
}

/* domain: host components of [A-Za-z0-9-] joined by '.', optional :port; or [v6]:port */
static bool domain_valid(const char *s, size_t n)
{
	size_t i = 0, host_end = n;
	const char *colon = memchr(s, ':', n);

	if (n == 0)
		return false;
	if (s[0] == '[') {
		const char *close = memchr(s, ']', n);

		if (!close)
			return false;
		host_end = (size_t)(close - s) + 1;
		colon = host_end < n && s[host_end] == ':' ? s + host_end : NULL;
		if (!colon && host_end != n)
			return false;
	} else {
		if (colon)
			host_end = (size_t)(colon - s);
		for (i = 0; i < host_end; i++)
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
				return false;
		if (host_end == 0 || s[0] == '.' || s[0] == '-' || s[host_end - 1] == '.')
			return false;
	}
	if (colon) {
		size_t p = (size_t)(colon - s) + 1;

		if (p >= n)
			return false;
		for (; p < n; p++)
			if (!isdigit((unsigned char)s[p]))
				return false;
	}
	return true;
}

/* tag: [\w][\w.-]{0,127} */
static bool tag_valid(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > 128 || !(isalnum((unsigned char)t[0]) || t[0] == '_'))
		return false;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool has_upper(const char *s)
{
	for (; *s; s++)
		if (isupper((unsigned char)*s))
			return true;
	return false;
}

/* The first component is a domain when it looks like one (Docker's rule). */
static bool looks_like_domain(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) ||
	       (n == 9 && memcmp(s, "localhost", 9) == 0) || memchr(s, '[', n);
}

static int parse_path(const char *name, const char *path, struct stk_err *err)
{
	const char *p = path;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!path_component_valid(p, n))
			return stk_err_set(err, 0, "invalid reference format: \"%s\"", name);
		if (!slash)
			return 0;
		p = slash + 1;
	}
}

int image_ref_parse(const char *s, struct image_ref *out, struct stk_err *err)
{
	_cleanup_free_ char *name = NULL;
	const char *at, *slash, *colon, *rest;
	char *tag = NULL, *digest = NULL;

	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return stk_err_set(err, 0, "invalid reference format: empty image name");
	at = strrchr(s, '@');
	if (at) {
		if (!image_digest_valid(at + 1))
			return stk_err_set(err, 0, "invalid reference format: bad digest in \"%s\"",
					   s);
		digest = xstrdup(at + 1);
		name = xstrndup(s, (size_t)(at - s));
	} else {
		name = xstrdup(s);
	}
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		name[colon - name] = '\0';
		if (!tag_valid(colon + 1)) {
			free(digest);
			return stk_err_set(err, 0, "invalid reference format: bad tag in \"%s\"",
					   s);
		}
		tag = xstrdup(colon + 1);
	}
	if (strlen(name) > NAME_MAX_LEN) {
		free(tag), free(digest);
		return stk_err_set(err, 0, "invalid reference format: repository name too long");
	}
	slash = strchr(name, '/');
	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		if (!domain_valid(name, (size_t)(slash - name))) {
			free(tag), free(digest);
			return stk_err_set(err, 0,
					   "invalid reference format: bad registry in \"%s\"", s);
		}
		out->domain = xstrndup(name, (size_t)(slash - name));
		rest = slash + 1;
	} else {
		out->domain = xstrdup(DEFAULT_DOMAIN);
		rest = name;
	}
	if (has_upper(rest)) {
		free(tag), free(digest);
		image_ref_free(out);
		return stk_err_set(
			err, 0, "invalid reference format: repository name (%s) must be lowercase",
			rest);
	}
	if (parse_path(s, rest, err) < 0) {
		free(tag), free(digest);
		image_ref_free(out);
		return -1;
	}
	if (strcmp(out->domain, DEFAULT_DOMAIN) == 0 && !strchr(rest, '/'))
		out->path = xasprintf("library/%s", rest);
	else
		out->path = xstrdup(rest);
	out->tag = tag ? tag : (digest ? NULL : xstrdup("latest"));
	out->digest = digest;
	return 0;
}

void image_ref_free(struct image_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

char *image_ref_canonical(const struct image_ref *r)
{
	if (r->tag)
		return xasprintf("%s/%s:%s", r->domain, r->path, r->tag);
	return xasprintf("%s/%s@%s", r->domain, r->path, r->digest);
}

char *image_ref_familiar_name(const struct image_ref *r)
{
	if (strcmp(r->domain, DEFAULT_DOMAIN) == 0) {
		if (str_has_prefix(r->path, "library/") && !strchr(r->path + 8, '/'))
			return xstrdup(r->path + 8);
		return xstrdup(r->path);
	}
	return xasprintf("%s/%s", r->domain, r->path);
}

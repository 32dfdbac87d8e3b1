/* Registry credentials in Docker's config.json ($DOCKER_CONFIG or ~/.docker):
 * {"auths": {"<registry>": {"auth": base64("user:password")}}}. Other keys of the file
 * are kept as they are. Credential helpers (credsStore) are not supported. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/registry.h"
#include "util/cleanup.h"
#include "util/lazy_crypto.h"

char *image_auth_key(const char *domain)
{
	if (strcmp(domain, "docker.io") == 0)
		return xstrdup("https://index.docker.io/v1/");
	return xstrdup(domain);
}

static char *config_path(const char *dir)
{
	const char *env = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (dir)
		return xasprintf("%s/config.json", dir);
	if (env && *env)
		return xasprintf("%s/config.json", env);
	return xasprintf("%s/.docker/config.json", home && *home ? home : "/root");
}

/* "https://host/v1/" → "host"; Docker Hub's aliases → "docker.io". */
static char *normalize_key(const char *key)
{
	const char *p = key;
	char *out;

	if (str_has_prefix(p, "https://"))
		p += 8;
	else if (str_has_prefix(p, "http://"))
		p += 7;
	out = xstrndup(p, strcspn(p, "/"));
	if (strcmp(out, "index.docker.io") == 0 || strcmp(out, "registry-1.docker.io") == 0 ||
	    strcmp(out, "registry.hub.docker.com") == 0) {
		free(out);
		out = xstrdup("docker.io");
	}
	return out;
}

static int load_config(const char *path, struct json_object **out, struct stk_err *err)
{
	struct json_object *o;

	if (access(path, F_OK) < 0) {
		*out = json_object_new_object();
		return 0;
	}
	o = json_object_from_file(path);
	if (!o || !json_object_is_type(o, json_type_object)) {
		if (o)
			json_object_put(o);
		return stk_err_set(err, EBADMSG, "%s is not a valid JSON object", path);
	}
	*out = o;
	return 0;
}

int image_auth_lookup(const char *config_dir, const char *domain, char **user, char **password,
		      struct stk_err *err)
{
	_cleanup_free_ char *path = config_path(config_dir);
	_cleanup_json_ struct json_object *cfg = NULL;
	struct json_object *auths, *a;
	unsigned char buf[4096];
	int n;

	*user = *password = NULL;
	if (load_config(path, &cfg, err) < 0)
		return -1;
	if (!json_object_object_get_ex(cfg, "auths", &auths) ||
	    !json_object_is_type(auths, json_type_object))
		return 0;
	json_object_object_foreach(auths, key, val)
	{
		_cleanup_free_ char *k = normalize_key(key);
		const char *b64, *colon;

		if (strcmp(k, domain) != 0 || !json_object_object_get_ex(val, "auth", &a))
			continue;
		b64 = json_object_get_string(a);
		if (!b64 || strlen(b64) > (sizeof(buf) / 4) * 3)
			continue;
		n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)strlen(b64));
		if (n < 0)
			return stk_err_set(err, EBADMSG,
					   "%s: credentials for %s are not valid base64", path,
					   key);
		/* DecodeBlock counts the padding as zero bytes; the text ends at the first NUL */
		buf[n] = '\0';
		colon = strchr((char *)buf, ':');
		if (!colon)
			return stk_err_set(err, EBADMSG,
					   "%s: credentials for %s lack \"user:password\"", path,
					   key);
		*user = xstrndup((char *)buf, (size_t)(colon - (char *)buf));
		*password = xstrdup(colon + 1);
		OPENSSL_cleanse(buf, sizeof(buf));
		return 0;
	}
	return 0;
}

static int save_config(const char *path, struct json_object *cfg, struct stk_err *err)
{
	_cleanup_free_ char *dir = xstrdup(path);
	const char *text;

	*strrchr(dir, '/') = '\0';
	if (store_mkdirs(dir, err) < 0)
		return -1;
	text = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (store_write_atomic(path, text, strlen(text), err) < 0)
		return -1;
	if (chmod(path, 0600) < 0)
		return stk_err_sys(err, "chmod %s", path);
	return 0;
}

int image_auth_store(const char *config_dir, const char *domain, const char *user,
		     const char *password, struct stk_err *err)
{
	_cleanup_free_ char *path = config_path(config_dir);
	_cleanup_free_ char *key = image_auth_key(domain);
	_cleanup_free_ char *plain = xasprintf("%s:%s", user, password);
	_cleanup_json_ struct json_object *cfg = NULL;
	struct json_object *auths, *entry;
	size_t len = strlen(plain);
	_cleanup_free_ unsigned char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);

	if (load_config(path, &cfg, err) < 0)
		return -1;
	if (!json_object_object_get_ex(cfg, "auths", &auths) ||
	    !json_object_is_type(auths, json_type_object)) {
		auths = json_object_new_object();
		json_object_object_add(cfg, "auths", auths);
	}
	EVP_EncodeBlock(b64, (const unsigned char *)plain, (int)len);
	OPENSSL_cleanse(plain, len);
	entry = json_object_new_object();
	json_object_object_add(entry, "auth", json_object_new_string((char *)b64));
	json_object_object_add(auths, key, entry);
	return save_config(path, cfg, err);
}

int image_auth_erase(const char *config_dir, const char *domain, bool *was_present,
		     struct stk_err *err)
{
	_cleanup_free_ char *path = config_path(config_dir);
	_cleanup_json_ struct json_object *cfg = NULL;
	struct json_object *auths;
	char *found = NULL;

	*was_present = false;
	if (load_config(path, &cfg, err) < 0)
		return -1;
	if (!json_object_object_get_ex(cfg, "auths", &auths) ||
	    !json_object_is_type(auths, json_type_object))
		return 0;
	{
		json_object_object_foreach(auths, key, val)
		{
			_cleanup_free_ char *k = normalize_key(key);

			(void)val;
			if (strcmp(k, domain) == 0 && !found)
				found = xstrdup(key);
		}
	}
	if (!found)
		return 0;
	json_object_object_del(auths, found);
	free(found);
	*was_present = true;
	return save_config(path, cfg, err);
}

struct check {
	int status;
	struct stk_err err;
};

static void check_done(struct reg_req *r, int status, void *arg)
{
	struct check *c = arg;

	c->status = status;
	if (status != 200)
		reg_req_describe_failure(r, &c->err);
	reg_req_free(r);
}

int image_auth_check(const char *domain, const char *user, const char *password,
		     const struct image_pull_opts *opts, struct stk_err *err)
{
	struct check chk = {0};
	struct reg_client *c;
	bool insecure = image_registry_insecure(opts, domain);
	uv_loop_t loop;

	if (stk_lazylib_load(&stk_lazy_curl_lib, err) < 0)
		return stk_err_wrap(err, "login to %s", domain);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (uv_loop_init(&loop) < 0)
		return stk_err_set(err, EIO, "event loop");
	c = reg_client_new(&loop, domain, "", user, password, insecure);
	reg_ping(c, check_done, &chk);
	uv_run(&loop, UV_RUN_DEFAULT);
	reg_client_close(c);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (chk.status != 200) {
		*err = chk.err;
		return stk_err_wrap(err, "login to %s", domain);
	}
	return 0;
}

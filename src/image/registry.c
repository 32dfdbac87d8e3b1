/* Registry HTTP client: curl multi on a libuv loop (curl tells us which sockets to
 * watch and when to wake it; uv_poll and uv_timer do the watching). On top of that,
 * per request: the auth dance, retries with backoff, and file sinks that resume with
 * Range after a broken connection. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "image/registry.h"
#include "util/cleanup.h"

#define MAX_ATTEMPTS 5
#define MAX_BODY (16u << 20)
#define BACKOFF_MS 250
#define RETRY_AFTER_MAX_MS 60000

struct reg_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	char *base, *path;
	char *user, *password;
	char *token;
	bool use_basic, https;
	bool insecure; /* HTTPS unchecked, then plain HTTP if HTTPS gets no answer */
	bool answered; /* some request got an HTTP response: the scheme is settled */
	struct reg_req *active;
	struct reg_req *token_req;
	struct reg_req **waiting; /* requests waiting for a token */
	size_t nwaiting;
	char auth_error[STK_ERR_MAX + 64];
};

struct reg_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct reg_client *c;
};

static void req_start(struct reg_req *r);
static void check_done(struct reg_client *c);

bool reg_domain_is_loopback(const char *domain)
{
	return str_has_prefix(domain, "localhost") || str_has_prefix(domain, "127.") ||
	       str_has_prefix(domain, "[::1]");
}

/* The address of a registry named by an IP literal ("10.1.2.3:5000", "[fd00::1]:5000"). */
static int domain_address(const char *domain, unsigned char addr[16])
{
	char host[64];
	const char *end;

	if (domain[0] == '[') {
		end = strchr(domain, ']');
		if (!end || (size_t)(end - domain - 1) >= sizeof(host))
			return -1;
		snprintf(host, sizeof(host), "%.*s", (int)(end - domain - 1), domain + 1);
		return inet_pton(AF_INET6, host, addr) == 1 ? AF_INET6 : -1;
	}
	snprintf(host, sizeof(host), "%.*s", (int)strcspn(domain, ":"), domain);
	return inet_pton(AF_INET, host, addr) == 1 ? AF_INET : -1;
}

/* "10.0.0.0/8" or "fd00::/8" holding the registry's IP literal. */
static bool cidr_holds(const char *cidr, const char *domain)
{
	unsigned char net[16], addr[16];
	const char *slash = strchr(cidr, '/');
	char ip[64];
	char *end;
	long bits;
	int fam, len, i;

	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return false;
	snprintf(ip, sizeof(ip), "%.*s", (int)(slash - cidr), cidr);
	fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	len = fam == AF_INET6 ? 16 : 4;
	bits = strtol(slash + 1, &end, 10);
	if (*end || bits < 0 || bits > len * 8 || inet_pton(fam, ip, net) != 1 ||
	    domain_address(domain, addr) != fam)
		return false;
	for (i = 0; i < len && bits > 0; i++, bits -= 8) {
		unsigned char mask = bits >= 8 ? 0xff : (unsigned char)(0xff << (8 - bits));

		if ((net[i] & mask) != (addr[i] & mask))
			return false;
	}
	return true;
}

static bool insecure_entry_matches(const char *entry, size_t n, const char *domain)
{
	char e[256];

	/* Docker accepts "http://host:port" in the list and means the host */
	if (n > 7 && strncmp(entry, "http://", 7) == 0)
		entry += 7, n -= 7;
	else if (n > 8 && strncmp(entry, "https://", 8) == 0)
		entry += 8, n -= 8;
	while (n && entry[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(e))
		return false;
	snprintf(e, sizeof(e), "%.*s", (int)n, entry);
	return strcmp(e, domain) == 0 || cidr_holds(e, domain);
}

bool image_registry_insecure(const struct image_pull_opts *opts, const char *domain)
{
	const char *env = getenv("STACK_INSECURE_REGISTRIES"), *p;
	size_t i, n;

	for (i = 0; opts && i < opts->ninsecure; i++)
		if (insecure_entry_matches(opts->insecure[i], strlen(opts->insecure[i]), domain))
			return true;
	for (p = env; p && *p; p += n) {
		p += strspn(p, ", ");
		n = strcspn(p, ", ");
		if (n && insecure_entry_matches(p, n, domain))
			return true;
	}
	return false;
}

/* ---- libuv <-> curl multi glue ---- */

static void sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct reg_sock *ps = h->data;
	struct reg_client *c = ps->c;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(c->multi, ps->fd, flags, &running);
	check_done(c);
}

static int socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct reg_client *c = userp;
	struct reg_sock *ps = socketp;
	int events = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (ps) {
			uv_poll_stop(&ps->poll);
			uv_close((uv_handle_t *)&ps->poll, sock_closed);
			curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (!ps) {
		ps = xcalloc(1, sizeof(*ps));
		ps->fd = s;
		ps->c = c;
		if (uv_poll_init_socket(c->loop, &ps->poll, s) < 0) {
			free(ps);
			return -1;
		}
		ps->poll.data = ps;
		curl_multi_assign(c->multi, s, ps);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&ps->poll, events, poll_cb) < 0 ? -1 : 0;
}

static void timer_cb(uv_timer_t *t)
{
	struct reg_client *c = t->data;
	int running;

	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(c);
}

static int timer_fn(CURLM *m, long timeout_ms, void *userp)
{
	struct reg_client *c = userp;

	(void)m;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, timer_cb, (uint64_t)timeout_ms, 0);
	return 0;
}

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	(void)arg;
	(void)purpose;
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct reg_client *reg_client_new(uv_loop_t *loop, const char *domain, const char *path,
				  const char *user, const char *password, bool insecure)
{
	struct reg_client *c = xcalloc(1, sizeof(*c));
	/* Docker Hub's API lives on another host than its name */
	const char *host = strcmp(domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;

	c->loop = loop;
	c->https = !reg_domain_is_loopback(domain);
	c->insecure = insecure;
	c->base = xasprintf("%s://%s", c->https ? "https" : "http", host);
	c->path = xstrdup(path);
	c->user = user ? xstrdup(user) : NULL;
	c->password = password ? xstrdup(password) : NULL;
	c->multi = curl_multi_init();
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_fn);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	return c;
}

const char *reg_client_base(struct reg_client *c)
{
	return c->base;
}

static void client_closed(uv_handle_t *h)
{
	struct reg_client *c = h->data;

	free(c->base);
	free(c->path);
	free(c->user);
	free(c->password);
	free(c->token);
	free(c->waiting);
	free(c);
}

void reg_client_close(struct reg_client *c)
{
	while (c->active)
		reg_req_cancel(c->active);
	curl_multi_cleanup(c->multi);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, client_closed);
}

/* ---- one request ---- */

static void list_remove(struct reg_req *r)
{
	struct reg_req **pp;

	for (pp = &r->c->active; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			r->next = NULL;
			return;
		}
}

static void header_value(char **slot, const char *v, size_t n)
{
	while (n && isspace((unsigned char)*v))
		v++, n--;
	while (n && isspace((unsigned char)v[n - 1]))
		n--;
	free(*slot);
	*slot = xstrndup(v, n);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct reg_req *r = arg;
	size_t n = size * nitems;
	static const struct {
		const char *name;
		size_t off;
	} hs[] = {
		{"www-authenticate:", offsetof(struct reg_req, www_auth)},
		{"content-type:", offsetof(struct reg_req, content_type)},
		{"docker-content-digest:", offsetof(struct reg_req, docker_digest)},
		{"retry-after:", offsetof(struct reg_req, retry_after)},
	};
	size_t i;

	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or 100-continue): forget the last one's */
		for (i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
			char **slot = (char **)((char *)r + hs[i].off);

			free(*slot);
			*slot = NULL;
		}
		return n;
	}
	for (i = 0; i < sizeof(hs) / sizeof(hs[0]); i++) {
		size_t l = strlen(hs[i].name);

		if (n > l && strncasecmp(buf, hs[i].name, l) == 0)
			header_value((char **)((char *)r + hs[i].off), buf + l, n - l);
	}
	return n;
}

/* The first body bytes decide where the body goes: a 2xx body to the file (a 200
 * answering a Range request restarts it from zero), anything else to memory. */
static void decide_sink(struct reg_req *r)
{
	long code = 0;

	r->sink_decided = true;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	r->sink_is_file = r->to_file && code >= 200 && code < 300;
	if (r->sink_is_file && code != 206 && r->offset > 0) {
		if (ftruncate(r->fd, 0) == 0) {
			r->offset = 0;
			sha256_dispose(r->hash);
			sha256_init(r->hash);
		}
	}
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct reg_req *r = arg;
	size_t n = size * nmemb, done = 0;

	if (!r->sink_decided)
		decide_sink(r);
	if (!r->sink_is_file) {
		if (r->body.len + n > MAX_BODY)
			return 0;
		strbuf_addn(&r->body, buf, n);
		return n;
	}
	while (done < n) {
		ssize_t w = pwrite(r->fd, buf + done, n - done, (off_t)r->offset);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(r->write_error, sizeof(r->write_error), "write: %s",
				 strerror(errno));
			return 0;
		}
		sha256_update(r->hash, buf + done, (size_t)w);
		r->offset += (uint64_t)w;
		done += (size_t)w;
	}
	if (r->progress)
		r->progress(r, r->offset, r->arg);
	return n;
}

static struct reg_req *req_new(struct reg_client *c, char *url, const char *accept,
			       reg_done_fn done, void *arg)
{
	struct reg_req *r = xcalloc(1, sizeof(*r));

	r->c = c;
	r->url = url;
	r->accept = accept;
	r->done = done;
	r->arg = arg;
	r->fd = -1;
	strbuf_init(&r->body);
	uv_timer_init(c->loop, &r->backoff);
	r->backoff.data = r;
	r->next = c->active;
	c->active = r;
	return r;
}

static void req_reset_response(struct reg_req *r)
{
	r->status = 0;
	r->curl_rc = CURLE_OK;
	r->curl_error[0] = '\0';
	r->write_error[0] = '\0';
	r->sink_decided = r->sink_is_file = false;
	strbuf_free(&r->body);
	strbuf_init(&r->body);
	free(r->content_type);
	free(r->docker_digest);
	free(r->www_auth);
	free(r->retry_after);
	r->content_type = r->docker_digest = r->www_auth = r->retry_after = NULL;
}

static void req_start(struct reg_req *r)
{
	struct reg_client *c = r->c;
	struct curl_slist *h = NULL;
	char range[64];

	req_reset_response(r);
	r->attempts++;
	if (!r->easy)
		r->easy = curl_easy_init();
	else
		curl_easy_reset(r->easy);
	curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "stack/" STACK_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(r->easy, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	/* never downgrade a TLS registry to plain HTTP by redirect */
	curl_easy_setopt(r->easy, CURLOPT_REDIR_PROTOCOLS_STR, c->https ? "https" : "http,https");
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT, 15L);
	/* a connection that stalls for 30 s counts as broken, and is retried */
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(r->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	if (c->https && c->insecure && str_has_prefix(r->url, c->base)) {
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->curl_error);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	if (r->accept) {
		_cleanup_free_ char *a = xasprintf("Accept: %s", r->accept);

		h = curl_slist_append(h, a);
	}
	if (c->token && !r->is_token) {
		_cleanup_free_ char *a = xasprintf("Authorization: Bearer %s", c->token);

		h = curl_slist_append(h, a);
	} else if ((c->use_basic || r->is_token) && c->user) {
		curl_easy_setopt(r->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(r->easy, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(r->easy, CURLOPT_PASSWORD, c->password ? c->password : "");
	}
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, h);
	r->range_sent = r->to_file && r->offset > 0;
	if (r->range_sent) {
		snprintf(range, sizeof(range), "%llu-", (unsigned long long)r->offset);
		curl_easy_setopt(r->easy, CURLOPT_RANGE, range);
	}
	/* the header list must outlive the transfer */
	curl_slist_free_all(r->headers);
	r->headers = h;
	curl_multi_add_handle(c->multi, r->easy);
}

void reg_req_free(struct reg_req *r);

static void backoff_fired(uv_timer_t *t)
{
	struct reg_req *r = t->data;

	r->backoff_active = false;
	req_start(r);
}

/* Retry-After: seconds, or an HTTP date; in milliseconds from now, 0 if absent. */
static uint64_t retry_after_ms(const struct reg_req *r)
{
	char *end;
	long secs;
	time_t when;

	if (!r->retry_after)
		return 0;
	secs = strtol(r->retry_after, &end, 10);
	if (end == r->retry_after || *end) {
		when = curl_getdate(r->retry_after, NULL);
		secs = when > 0 ? (long)(when - time(NULL)) : 0;
	}
	if (secs <= 0)
		return 0;
	return (uint64_t)secs * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS
							  : (uint64_t)secs * 1000;
}

static void retry_later(struct reg_req *r, const char *why)
{
	uint64_t ms = (uint64_t)BACKOFF_MS << (r->attempts - 1);

	if (ms > 8000)
		ms = 8000;
	/* the server said when to come back (429, 503): not sooner */
	if (retry_after_ms(r) > ms)
		ms = retry_after_ms(r);
	if (r->on_retry)
		r->on_retry(r, why, r->arg);
	r->backoff_active = true;
	uv_timer_start(&r->backoff, backoff_fired, ms, 0);
}

/* Challenge parameters: Bearer realm="...",service="...",scope="..." */
static char *auth_param(const char *h, const char *key)
{
	size_t klen = strlen(key);
	const char *p = h;

	while ((p = strcasestr(p, key))) {
		const char *v = p + klen;
		bool at_start = p == h || p[-1] == ' ' || p[-1] == ',';

		p = v;
		if (!at_start || *v != '=')
			continue;
		v++;
		if (*v == '"') {
			const char *end = strchr(v + 1, '"');

			return end ? xstrndup(v + 1, (size_t)(end - v - 1)) : NULL;
		}
		return xstrndup(v, strcspn(v, ", "));
	}
	return NULL;
}

static void token_done(struct reg_req *t, int status, void *arg);

static void wake_waiting(struct reg_client *c, bool ok)
{
	struct reg_req **w = c->waiting;
	size_t n = c->nwaiting, i;

	c->waiting = NULL;
	c->nwaiting = 0;
	for (i = 0; i < n; i++) {
		if (ok)
			req_start(w[i]);
		else
			w[i]->done(w[i], -1, w[i]->arg);
	}
	free(w);
}

/* Starts the token request for a Bearer challenge (once for all waiting requests). */
static void request_token(struct reg_req *r)
{
	struct reg_client *c = r->c;
	_cleanup_free_ char *realm = auth_param(r->www_auth, "realm");
	_cleanup_free_ char *service = auth_param(r->www_auth, "service");
	_cleanup_free_ char *scope = auth_param(r->www_auth, "scope");
	struct strbuf url;
	char *e;

	c->waiting = xrealloc(c->waiting, (c->nwaiting + 1) * sizeof(*c->waiting));
	c->waiting[c->nwaiting++] = r;
	if (c->token_req)
		return;
	if (!realm || !(str_has_prefix(realm, "https://") ||
			((!c->https || c->insecure) && str_has_prefix(realm, "http://")))) {
		snprintf(c->auth_error, sizeof(c->auth_error), "unusable token realm \"%s\"",
			 realm ? realm : "");
		wake_waiting(c, false);
		return;
	}
	strbuf_init(&url);
	strbuf_adds(&url, realm);
	strbuf_addc(&url, strchr(realm, '?') ? '&' : '?');
	if (service) {
		e = curl_easy_escape(NULL, service, 0);
		strbuf_addf(&url, "service=%s&", e);
		curl_free(e);
	}
	if (scope || *c->path) {
		_cleanup_free_ char *sc = scope ? NULL : xasprintf("repository:%s:pull", c->path);

		e = curl_easy_escape(NULL, scope ? scope : sc, 0);
		strbuf_addf(&url, "scope=%s", e);
		curl_free(e);
	}
	c->token_req = req_new(c, strbuf_take(&url), "application/json", token_done, NULL);
	c->token_req->is_token = true;
	c->token_req->auth_retried = true;
	req_start(c->token_req);
}

static void token_done(struct reg_req *t, int status, void *arg)
{
	struct reg_client *c = t->c;
	struct json_object *o = NULL, *v;
	bool ok = false;

	(void)arg;
	c->token_req = NULL;
	if (status == 200 && (o = json_tokener_parse(t->body.buf ? t->body.buf : "")) &&
	    (json_object_object_get_ex(o, "token", &v) ||
	     json_object_object_get_ex(o, "access_token", &v)) &&
	    json_object_is_type(v, json_type_string)) {
		free(c->token);
		c->token = xstrdup(json_object_get_string(v));
		ok = true;
	} else if (status == 401 || status == 403) {
		snprintf(c->auth_error, sizeof(c->auth_error),
			 "authentication refused by the token server%s",
			 c->user ? " (check the credentials of `stack login`)" : "");
	} else {
		struct stk_err e;

		reg_req_describe_failure(t, &e);
		snprintf(c->auth_error, sizeof(c->auth_error), "token request failed: %s", e.msg);
	}
	if (o)
		json_object_put(o);
	reg_req_free(t);
	wake_waiting(c, ok);
}

/* 401: obtain what the challenge asks for, then try the request again once. */
static bool handle_unauthorized(struct reg_req *r)
{
	if (r->auth_retried || !r->www_auth)
		return false;
	r->auth_retried = true;
	if (strncasecmp(r->www_auth, "Bearer", 6) == 0) {
		request_token(r);
		return true;
	}
	if (strncasecmp(r->www_auth, "Basic", 5) == 0 && r->c->user) {
		r->c->use_basic = true;
		req_start(r);
		return true;
	}
	return false;
}

/* Failures that another attempt cannot mend: our own write refusals (disk full, huge
 * body), and TLS that does not check out. */
static bool curl_rc_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_WRITE_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_TOO_MANY_REDIRECTS:
		return false;
	default:
		return true;
	}
}

/* An insecure registry that gave no HTTP answer over HTTPS is tried over plain HTTP. */
static bool fall_back_to_http(struct reg_req *r, CURLcode rc)
{
	struct reg_client *c = r->c;
	char *url;

	if (!c->insecure || !c->https || c->answered || rc == CURLE_WRITE_ERROR ||
	    !str_has_prefix(r->url, c->base))
		return false;
	url = xasprintf("http://%s", r->url + strlen("https://"));
	free(r->url);
	r->url = url;
	url = xasprintf("http://%s", c->base + strlen("https://"));
	free(c->base);
	c->base = url;
	c->https = false;
	r->attempts--;
	req_start(r);
	return true;
}

static void req_finished(struct reg_req *r, CURLcode rc)
{
	long code = 0;

	curl_multi_remove_handle(r->c->multi, r->easy);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	r->status = code;
	r->curl_rc = rc;
	if (code > 0)
		r->c->answered = true;
	if (rc != CURLE_OK) {
		if (fall_back_to_http(r, rc))
			return;
		if (curl_rc_retryable(rc) && r->attempts < MAX_ATTEMPTS) {
			retry_later(r, curl_easy_strerror(rc));
			return;
		}
		r->done(r, -1, r->arg);
		return;
	}
	if ((code >= 500 || code == 429) && r->attempts < MAX_ATTEMPTS) {
		char why[32];

		snprintf(why, sizeof(why), "HTTP %ld", code);
		retry_later(r, why);
		return;
	}
	if (code == 401 && handle_unauthorized(r))
		return;
	r->done(r, (int)code, r->arg);
}

static void check_done(struct reg_client *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct reg_req *r = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			req_finished(r, m->data.result);
	}
}

struct reg_req *reg_get(struct reg_client *c, const char *what, const char *accept,
			reg_done_fn done, void *arg)
{
	struct reg_req *r =
		req_new(c, xasprintf("%s/v2/%s/%s", c->base, c->path, what), accept, done, arg);

	req_start(r);
	return r;
}

struct reg_req *reg_ping(struct reg_client *c, reg_done_fn done, void *arg)
{
	struct reg_req *r = req_new(c, xasprintf("%s/v2/", c->base), NULL, done, arg);

	req_start(r);
	return r;
}

struct reg_req *reg_get_to_file(struct reg_client *c, const char *what, int fd, uint64_t offset,
				struct sha256 *hash, reg_done_fn done, reg_progress_fn progress,
				void *arg)
{
	struct reg_req *r =
		req_new(c, xasprintf("%s/v2/%s/%s", c->base, c->path, what), NULL, done, arg);

	r->to_file = true;
	r->fd = fd;
	r->offset = offset;
	r->hash = hash;
	r->progress = progress;
	req_start(r);
	return r;
}

static void req_closed(uv_handle_t *h)
{
	free(h->data);
}

void reg_req_free(struct reg_req *r)
{
	if (!r)
		return;
	list_remove(r);
	if (r->easy) {
		curl_multi_remove_handle(r->c->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	req_reset_response(r);
	strbuf_free(&r->body);
	free(r->url);
	uv_timer_stop(&r->backoff);
	uv_close((uv_handle_t *)&r->backoff, req_closed);
}

void reg_req_cancel(struct reg_req *r)
{
	struct reg_client *c = r->c;
	size_t i;

	for (i = 0; i < c->nwaiting; i++)
		if (c->waiting[i] == r) {
			memmove(&c->waiting[i], &c->waiting[i + 1],
				(c->nwaiting - i - 1) * sizeof(r));
			c->nwaiting--;
			break;
		}
	if (c->token_req == r)
		c->token_req = NULL;
	reg_req_free(r);
}

const char *reg_req_error_code(struct reg_req *r, char *buf, size_t n)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *errs, *code;

	if (!r->body.buf || !(o = json_tokener_parse(r->body.buf)) ||
	    !json_object_object_get_ex(o, "errors", &errs) ||
	    !json_object_is_type(errs, json_type_array) || json_object_array_length(errs) == 0 ||
	    !json_object_object_get_ex(json_object_array_get_idx(errs, 0), "code", &code))
		return NULL;
	snprintf(buf, n, "%s", json_object_get_string(code));
	return buf;
}

void reg_req_describe_failure(struct reg_req *r, struct stk_err *err)
{
	struct reg_client *c = r->c;
	char code[64];

	if (r->curl_rc != CURLE_OK) {
		if (r->curl_rc == CURLE_WRITE_ERROR && r->write_error[0])
			stk_err_set(err, EIO, "%s", r->write_error);
		else if (r->curl_rc == CURLE_WRITE_ERROR)
			stk_err_set(err, EFBIG, "response from %s too large", r->url);
		else if (r->curl_rc == CURLE_PEER_FAILED_VERIFICATION ||
			 r->curl_rc == CURLE_SSL_ISSUER_ERROR)
			stk_err_set(
				err, EPROTO,
				"TLS certificate of %s not trusted: %s (add its CA to the system store, "
				"or mark the registry insecure)",
				c->base,
				r->curl_error[0] ? r->curl_error : curl_easy_strerror(r->curl_rc));
		else if (r->curl_rc == CURLE_SSL_CONNECT_ERROR)
			stk_err_set(err, EPROTO, "TLS handshake with %s failed: %s%s", c->base,
				    r->curl_error[0] ? r->curl_error
						     : curl_easy_strerror(r->curl_rc),
				    strstr(r->curl_error, "wrong version number")
					    ? " (a plain-HTTP registry must be marked insecure)"
					    : "");
		else
			stk_err_set(err, EHOSTUNREACH, "%s unreachable: %s", c->base,
				    r->curl_error[0] ? r->curl_error
						     : curl_easy_strerror(r->curl_rc));
		return;
	}
	if (r->status == 401 && c->auth_error[0]) {
		stk_err_set(err, EACCES, "%s", c->auth_error);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		stk_err_set(err, EACCES, "%s: access denied (%s)", c->base,
			    c->user ? "the registry refused the credentials"
				    : "the repository may not exist or may require 'stack login'");
		return;
	}
	if (reg_req_error_code(r, code, sizeof(code)))
		stk_err_set(err, r->status == 404 ? ENOENT : EIO, "%s (HTTP %ld)", code, r->status);
	else
		stk_err_set(err, r->status == 404 ? ENOENT : EIO, "HTTP %ld from %s", r->status,
			    r->url);
}

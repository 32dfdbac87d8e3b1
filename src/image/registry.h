/* Private to src/image/: an HTTP client for the registry API (distribution spec),
 * libcurl's multi interface driven by a libuv loop. Handles the auth dance (Bearer
 * tokens from WWW-Authenticate, Basic), retries with backoff, and Range resumes. */
#ifndef STK_IMAGE_REGISTRY_H
#define STK_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "image/internal.h"
#include "util/lazy_curl.h"
#include "util/str.h"

struct reg_client;
struct reg_req;

typedef void (*reg_done_fn)(struct reg_req *r, int status, void *arg);
typedef void (*reg_progress_fn)(struct reg_req *r, uint64_t now, void *arg);
typedef void (*reg_retry_fn)(struct reg_req *r, const char *why, void *arg);

/* The outcome of a request, valid inside the done callback. */
struct reg_req {
	struct reg_client *c;
	char *url;
	const char *accept;
	long status; /* HTTP status; 0 if no response */
	CURLcode curl_rc;
	char curl_error[CURL_ERROR_SIZE];
	char write_error[256]; /* why our write callback refused the body (disk full...) */
	struct strbuf body; /* response body (memory sink, or error body for file sink) */
	char *content_type;
	char *docker_digest;
	char *www_auth;
	char *retry_after;
	/* file sink: bytes go to fd (from offset, by Range) and through hash */
	int fd;
	uint64_t offset;
	struct sha256 *hash;
	bool to_file, range_sent, sink_decided, sink_is_file;
	int attempts;
	bool auth_retried;
	bool is_token; /* a token request: Basic credentials, never a Bearer header */
	CURL *easy;
	struct curl_slist *headers;
	uv_timer_t backoff;
	bool backoff_active;
	reg_done_fn done;
	reg_progress_fn progress;
	reg_retry_fn on_retry;
	void *arg;
	struct reg_req *next; /* active list */
};

/* domain: "127.0.0.1:5000", "docker.io"; path: repository; creds may be NULL. An
 * insecure registry is tried over HTTPS without certificate checks, then over plain
 * HTTP if HTTPS gets no answer (as Docker does); loopback is plain HTTP. */
struct reg_client *reg_client_new(uv_loop_t *loop, const char *domain, const char *path,
				  const char *user, const char *password, bool insecure);
/* Closes the client's handles; frees it once libuv has closed them. Outstanding
 * requests are dropped without their callbacks. */
void reg_client_close(struct reg_client *c);
const char *reg_client_base(struct reg_client *c);

/* GET <base>/v2/<path>/<what>: what = "manifests/<ref>" or "blobs/<digest>". */
struct reg_req *reg_get(struct reg_client *c, const char *what, const char *accept,
			reg_done_fn done, void *arg);
/* GET <base>/v2/: checks that the registry answers and accepts the credentials. */
struct reg_req *reg_ping(struct reg_client *c, reg_done_fn done, void *arg);
/* As reg_get, with the body appended to fd from offset (Range when offset > 0). */
struct reg_req *reg_get_to_file(struct reg_client *c, const char *what, int fd, uint64_t offset,
				struct sha256 *hash, reg_done_fn done, reg_progress_fn progress,
				void *arg);
/* Frees a finished request (call from or after its done callback). */
void reg_req_free(struct reg_req *r);
/* Stops an unfinished request; its callback will not run. */
void reg_req_cancel(struct reg_req *r);

/* One line describing why a request failed, for an error message. */
void reg_req_describe_failure(struct reg_req *r, struct stk_err *err);
/* The distribution-spec error code of a failed request body ("MANIFEST_UNKNOWN"), or NULL. */
const char *reg_req_error_code(struct reg_req *r, char *buf, size_t n);

/* "http" only for loopback addresses and registries marked insecure. */
bool reg_domain_is_loopback(const char *domain);

#endif

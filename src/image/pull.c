/* Pulling an image: resolve the manifest (negotiating index/list → platform manifest),
 * fetch the config, then the layers in parallel: each streams to a partial blob file
 * through SHA-256, is verified, renamed into blobs/, then unpacked on the thread pool
 * and committed. The name is recorded last, so a failed pull leaves no image behind
 * and a killed one resumes from its partial files.
 *
 * Pulls on one loop share a group: one limit on layer downloads for all of them, and a
 * blob one pull is fetching is not fetched again by another, which waits for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/registry.h"
#include "util/cleanup.h"
#include "util/lazy_archive.h"

#define ACCEPT_MANIFESTS \
	MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

/* FOLLOWING: another pull of the group has this blob in flight; wait for it to end. */
enum job_state {
	JOB_QUEUED,
	JOB_FOLLOWING,
	JOB_LOCKING,
	JOB_DOWNLOADING,
	JOB_EXTRACTING,
	JOB_DONE
};

struct layer_job {
	struct image_pull *p;
	const struct manifest_layer *l;
	enum job_state state;
	int lockfd, fd;
	struct sha256 hash;
	struct reg_req *req;
	uv_timer_t *lock_timer;
	uv_work_t work;
	int work_rc;
	struct stk_err work_err;
	uint64_t last_event_ms;
	bool holds_slot; /* counts against the group's download limit */
};

struct image_pull_group {
	unsigned max_parallel;
	unsigned running; /* layer downloads (with their lock waits) in progress */
	struct image_pull **pulls;
	size_t npulls;
	bool pumping, pump_again;
};

struct image_pull {
	uv_loop_t *loop;
	struct image_store *s;
	char *input, *canonical, *display;
	struct image_ref ref;
	struct image_pull_opts opts;
	struct reg_client *c;
	struct reg_req *mreq;
	char *expect_digest; /* digest the next manifest must have, when known */
	char *manifest_digest;
	struct strbuf manifest;
	struct manifest m;
	bool have_manifest;
	struct layer_job *jobs;
	size_t remaining;
	struct image_pull_group *group;
	bool own_group, failed, finished;
	struct stk_err err;
	image_pull_done_fn done;
	void *arg;
};

static void emit(struct image_pull *p, enum image_event_kind kind, const char *layer, uint64_t cur,
		 uint64_t total, const char *detail)
{
	struct image_event ev = {kind, p->input, layer, cur, total, detail};

	if (p->opts.on_event)
		p->opts.on_event(&ev, p->opts.event_arg);
}

struct image_pull_group *image_pull_group_new(unsigned max_parallel)
{
	struct image_pull_group *g = xcalloc(1, sizeof(*g));

	g->max_parallel = max_parallel ? max_parallel : 3;
	return g;
}

void image_pull_group_free(struct image_pull_group *g)
{
	if (!g)
		return;
	free(g->pulls);
	free(g);
}

static void group_add(struct image_pull_group *g, struct image_pull *p)
{
	g->pulls = xrealloc(g->pulls, (g->npulls + 1) * sizeof(*g->pulls));
	g->pulls[g->npulls++] = p;
}

static void group_remove(struct image_pull_group *g, struct image_pull *p)
{
	size_t i;

	for (i = 0; i < g->npulls; i++)
		if (g->pulls[i] == p) {
			memmove(&g->pulls[i], &g->pulls[i + 1],
				(g->npulls - i - 1) * sizeof(*g->pulls));
			g->npulls--;
			return;
		}
}

static bool job_in_flight(const struct layer_job *j)
{
	return j->state == JOB_LOCKING || j->state == JOB_DOWNLOADING || j->state == JOB_EXTRACTING;
}

static bool group_blob_in_flight(struct image_pull_group *g, const char *digest)
{
	size_t i, k;

	for (i = 0; i < g->npulls; i++) {
		struct image_pull *q = g->pulls[i];

		for (k = 0; q->jobs && k < q->m.nlayers; k++)
			if (job_in_flight(&q->jobs[k]) && strcmp(q->jobs[k].l->digest, digest) == 0)
				return true;
	}
	return false;
}

/* The job that fetched this blob has ended: whoever waited on it goes again (and finds
 * the layer in the store, or fetches it itself if that job failed). */
static void group_wake_followers(struct image_pull_group *g, const char *digest)
{
	size_t i, k;

	for (i = 0; i < g->npulls; i++) {
		struct image_pull *q = g->pulls[i];

		for (k = 0; q->jobs && k < q->m.nlayers; k++)
			if (q->jobs[k].state == JOB_FOLLOWING &&
			    strcmp(q->jobs[k].l->digest, digest) == 0)
				q->jobs[k].state = JOB_QUEUED;
	}
}

static void job_release_slot(struct layer_job *j)
{
	if (j->holds_slot) {
		j->holds_slot = false;
		j->p->group->running--;
	}
}

static void job_try_lock(struct layer_job *j);

/* Starts queued layers of every pull, oldest pull first, up to the limit. Starting a
 * job can end it at once (the layer is there), which pumps again: run once at a time. */
static void group_pump(struct image_pull_group *g)
{
	size_t i, k;

	if (g->pumping) {
		g->pump_again = true;
		return;
	}
	g->pumping = true;
	do {
		g->pump_again = false;
		for (i = 0; i < g->npulls; i++) {
			struct image_pull *q = g->pulls[i];

			for (k = 0; !q->failed && q->jobs && k < q->m.nlayers; k++) {
				struct layer_job *j = &q->jobs[k];

				if (j->state != JOB_QUEUED)
					continue;
				if (group_blob_in_flight(g, j->l->digest)) {
					j->state = JOB_FOLLOWING;
					continue;
				}
				if (g->running >= g->max_parallel)
					goto out;
				j->state = JOB_LOCKING;
				j->holds_slot = true;
				g->running++;
				job_try_lock(j);
			}
		}
out:;
	} while (g->pump_again);
	g->pumping = false;
}

static void pull_free(struct image_pull *p)
{
	size_t i;

	for (i = 0; p->jobs && i < p->m.nlayers; i++)
		if (p->jobs[i].hash.ctx)
			sha256_dispose(&p->jobs[i].hash);
	free(p->jobs);
	if (p->have_manifest)
		manifest_free(&p->m);
	strbuf_free(&p->manifest);
	image_ref_free(&p->ref);
	free(p->input);
	free(p->canonical);
	free(p->display);
	free(p->expect_digest);
	free(p->manifest_digest);
	if (p->group) {
		group_remove(p->group, p);
		if (p->own_group)
			image_pull_group_free(p->group);
	}
	free(p);
}

static bool jobs_busy(struct image_pull *p)
{
	size_t i;

	for (i = 0; p->jobs && i < p->m.nlayers; i++)
		if (p->jobs[i].state == JOB_EXTRACTING)
			return true;
	return false;
}

static void finish_closed(uv_handle_t *h)
{
	free(h);
}

/* Runs from a timer, outside any curl callback: the client can be torn down. */
static void finish_now(uv_timer_t *t)
{
	struct image_pull *p = t->data;

	uv_close((uv_handle_t *)t, finish_closed);
	if (p->mreq)
		reg_req_cancel(p->mreq);
	reg_client_close(p->c);
	p->done(p, p->failed ? -1 : 0, p->failed ? &p->err : NULL, p->arg);
	pull_free(p);
}

static void pull_finish(struct image_pull *p)
{
	uv_timer_t *t;

	if (p->finished || jobs_busy(p))
		return;
	p->finished = true;
	t = xmalloc(sizeof(*t));
	uv_timer_init(p->loop, t);
	t->data = p;
	uv_timer_start(t, finish_now, 0, 0);
}

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void job_release(struct layer_job *j)
{
	job_release_slot(j);
	if (j->req) {
		reg_req_cancel(j->req);
		j->req = NULL;
	}
	if (j->lock_timer) {
		uv_timer_stop(j->lock_timer);
		uv_close((uv_handle_t *)j->lock_timer, timer_closed);
		j->lock_timer = NULL;
	}
	if (j->fd >= 0)
		close(j->fd);
	if (j->lockfd >= 0)
		close(j->lockfd); /* releases the blob lock */
	j->fd = j->lockfd = -1;
}

/* First failure wins; everything in flight is stopped, extraction is awaited. */
static void pull_fail(struct image_pull *p, const struct stk_err *e)
{
	size_t i;

	if (!p->failed) {
		p->failed = true;
		p->err = *e;
		stk_err_wrap(&p->err, "%s", p->display);
	}
	for (i = 0; p->jobs && i < p->m.nlayers; i++) {
		struct layer_job *j = &p->jobs[i];
		bool was_in_flight = job_in_flight(j);

		if (j->state == JOB_EXTRACTING)
			continue;
		job_release(j);
		j->state = JOB_DONE;
		if (was_in_flight)
			group_wake_followers(p->group, j->l->digest);
	}
	pull_finish(p);
	group_pump(p->group);
}

/* ---- completion: the manifest and the name, last ---- */

static void pull_commit(struct image_pull *p)
{
	struct stk_err e;

	if (store_blob_put(p->s, p->manifest_digest, p->manifest.buf, p->manifest.len, &e) < 0 ||
	    store_add_image(p->s, p->canonical, p->manifest_digest, &e) < 0) {
		pull_fail(p, &e);
		return;
	}
	emit(p, IMAGE_EV_DONE, NULL, 0, 0, p->manifest_digest);
	pull_finish(p);
}

/* ---- layers ---- */

static void job_finish(struct layer_job *j)
{
	struct image_pull *p = j->p;

	job_release(j);
	j->state = JOB_DONE;
	p->remaining--;
	group_wake_followers(p->group, j->l->digest);
	if (p->failed) {
		pull_finish(p);
		group_pump(p->group);
		return;
	}
	if (p->remaining == 0)
		pull_commit(p);
	group_pump(p->group);
}

static void extract_work(uv_work_t *w)
{
	struct layer_job *j = w->data;

	j->work_rc = store_commit_layer(j->p->s, j->l->digest, j->l->diffid, &j->work_err);
}

static void extract_after(uv_work_t *w, int status)
{
	struct layer_job *j = w->data;
	struct image_pull *p = j->p;

	j->state = JOB_DOWNLOADING; /* no longer extracting: pull_fail may release it */
	if (status < 0 || j->work_rc < 0) {
		if (status < 0)
			stk_err_set(&j->work_err, -status, "extract: %s", uv_strerror(status));
		stk_err_wrap(&j->work_err, "layer %.19s", j->l->digest);
		p->remaining--;
		j->state = JOB_DONE;
		job_release(j);
		group_wake_followers(p->group, j->l->digest);
		pull_fail(p, &j->work_err);
		return;
	}
	emit(p, IMAGE_EV_LAYER_DONE, j->l->digest, 0, 0, NULL);
	job_finish(j);
}

static void job_extract(struct layer_job *j)
{
	int rc;

	/* the download limit is about the network: unpacking frees the slot */
	job_release_slot(j);
	group_pump(j->p->group);
	j->state = JOB_EXTRACTING;
	emit(j->p, IMAGE_EV_LAYER_EXTRACTING, j->l->digest, 0, 0, NULL);
	j->work.data = j;
	rc = uv_queue_work(j->p->loop, &j->work, extract_work, extract_after);
	if (rc < 0) {
		struct stk_err e;

		j->state = JOB_DOWNLOADING;
		stk_err_set(&e, -rc, "queue extraction: %s", uv_strerror(rc));
		pull_fail(j->p, &e);
	}
}

static void download_progress(struct reg_req *r, uint64_t now, void *arg)
{
	struct layer_job *j = arg;
	uint64_t t = uv_now(j->p->loop);

	(void)r;
	if (t - j->last_event_ms < 100)
		return;
	j->last_event_ms = t;
	emit(j->p, IMAGE_EV_LAYER_PROGRESS, j->l->digest, now,
	     j->l->size > 0 ? (uint64_t)j->l->size : 0, NULL);
}

static void download_retry(struct reg_req *r, const char *why, void *arg)
{
	struct layer_job *j = arg;

	(void)r;
	emit(j->p, IMAGE_EV_RETRY, j->l->digest, 0, 0, why);
}

static void download_done(struct reg_req *r, int status, void *arg)
{
	struct layer_job *j = arg;
	struct image_pull *p = j->p;
	_cleanup_free_ char *partial = store_blob_partial_path(p->s, j->l->digest);
	_cleanup_free_ char *final = store_blob_path(p->s, j->l->digest);
	struct stk_err e;
	char got[72];

	j->req = NULL;
	if (status != 200 && status != 206) {
		reg_req_describe_failure(r, &e);
		stk_err_wrap(&e, "layer %.19s", j->l->digest);
		reg_req_free(r);
		pull_fail(p, &e);
		return;
	}
	reg_req_free(r);
	sha256_final(&j->hash, got);
	if (strcmp(got, j->l->digest) != 0) {
		/* the bytes are wrong, not short: resuming them would never help */
		unlink(partial);
		stk_err_set(&e, EBADMSG, "layer %.19s: digest mismatch: got %s", j->l->digest, got);
		pull_fail(p, &e);
		return;
	}
	if (fsync(j->fd) < 0 || rename(partial, final) < 0) {
		stk_err_sys(&e, "layer %.19s: store blob", j->l->digest);
		pull_fail(p, &e);
		return;
	}
	close(j->fd);
	j->fd = -1;
	emit(p, IMAGE_EV_LAYER_VERIFIED, j->l->digest, 0, 0, NULL);
	job_extract(j);
}

/* Rehash what an interrupted pull left, to continue from there with Range. */
static int open_partial(struct layer_job *j, uint64_t *offset, struct stk_err *err)
{
	_cleanup_free_ char *partial = store_blob_partial_path(j->p->s, j->l->digest);
	char buf[65536];
	ssize_t n;

	*offset = 0;
	j->fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0)
		return stk_err_sys(err, "open %s", partial);
	sha256_init(&j->hash);
	while ((n = read(j->fd, buf, sizeof(buf))) > 0) {
		sha256_update(&j->hash, buf, (size_t)n);
		*offset += (uint64_t)n;
	}
	if (n < 0)
		return stk_err_sys(err, "read %s", partial);
	return 0;
}

static void job_locked(struct layer_job *j)
{
	struct image_pull *p = j->p;
	_cleanup_free_ char *what = NULL;
	struct stk_err e;
	uint64_t offset;

	if (store_layer_exists(p->s, j->l->diffid)) {
		emit(p, IMAGE_EV_LAYER_EXISTS, j->l->digest, 0, 0, NULL);
		job_finish(j);
		return;
	}
	if (store_blob_exists(p->s, j->l->digest)) {
		job_extract(j);
		return;
	}
	if (open_partial(j, &offset, &e) < 0) {
		pull_fail(p, &e);
		return;
	}
	j->state = JOB_DOWNLOADING;
	what = xasprintf("blobs/%s", j->l->digest);
	j->req = reg_get_to_file(p->c, what, j->fd, offset, &j->hash, download_done,
				 download_progress, j);
	j->req->on_retry = download_retry;
}

static void lock_retry(uv_timer_t *t);

static void job_try_lock(struct layer_job *j)
{
	_cleanup_free_ char *path = xasprintf("%s/locks/%s.lock", j->p->s->dir, j->l->digest + 7);
	struct stk_err e;

	if (j->lockfd < 0)
		j->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lockfd < 0) {
		stk_err_sys(&e, "open %s", path);
		pull_fail(j->p, &e);
		return;
	}
	/* another pull has this layer: poll rather than block the loop */
	if (flock(j->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (!j->lock_timer) {
			j->lock_timer = xmalloc(sizeof(*j->lock_timer));
			uv_timer_init(j->p->loop, j->lock_timer);
			j->lock_timer->data = j;
		}
		uv_timer_start(j->lock_timer, lock_retry, 200, 0);
		return;
	}
	job_locked(j);
}

static void lock_retry(uv_timer_t *t)
{
	job_try_lock(t->data);
}

static void start_layers(struct image_pull *p)
{
	size_t i;

	p->jobs = xcalloc(p->m.nlayers + 1, sizeof(*p->jobs));
	p->remaining = p->m.nlayers;
	for (i = 0; i < p->m.nlayers; i++) {
		struct layer_job *j = &p->jobs[i];

		j->p = p;
		j->l = &p->m.layers[i];
		j->fd = j->lockfd = -1;
		if (store_layer_exists(p->s, j->l->diffid)) {
			j->state = JOB_DONE;
			p->remaining--;
			emit(p, IMAGE_EV_LAYER_EXISTS, j->l->digest, 0, 0, NULL);
		} else {
			emit(p, IMAGE_EV_LAYER_WAIT, j->l->digest, 0, (uint64_t)j->l->size, NULL);
		}
	}
	if (p->remaining == 0) {
		pull_commit(p);
		return;
	}
	group_pump(p->group);
}

/* ---- config ---- */

static void document_retry(struct reg_req *r, const char *why, void *arg)
{
	(void)r;
	emit(arg, IMAGE_EV_RETRY, NULL, 0, 0, why);
}

static void config_ready(struct image_pull *p, const char *data, size_t n)
{
	struct stk_err e;

	if (manifest_set_diffids(&p->m, data, n, &e) < 0) {
		pull_fail(p, &e);
		return;
	}
	start_layers(p);
}

static void config_done(struct reg_req *r, int status, void *arg)
{
	struct image_pull *p = arg;
	struct stk_err e;

	p->mreq = NULL;
	if (status != 200) {
		reg_req_describe_failure(r, &e);
		stk_err_wrap(&e, "image config %.19s", p->m.config_digest);
		reg_req_free(r);
		pull_fail(p, &e);
		return;
	}
	if (store_blob_put(p->s, p->m.config_digest, r->body.buf, r->body.len, &e) < 0) {
		stk_err_wrap(&e, "image config");
		reg_req_free(r);
		pull_fail(p, &e);
		return;
	}
	config_ready(p, r->body.buf, r->body.len);
	reg_req_free(r);
}

static void fetch_config(struct image_pull *p)
{
	_cleanup_free_ char *data = NULL, *what = NULL;
	struct stk_err e;
	size_t n;

	if (store_blob_exists(p->s, p->m.config_digest) &&
	    store_blob_read(p->s, p->m.config_digest, &data, &n, &e) == 0) {
		config_ready(p, data, n);
		return;
	}
	what = xasprintf("blobs/%s", p->m.config_digest);
	p->mreq = reg_get(p->c, what, NULL, config_done, p);
	p->mreq->on_retry = document_retry;
}

/* ---- manifest ---- */

static void fetch_manifest(struct image_pull *p, const char *ref);

static void manifest_failed(struct image_pull *p, struct reg_req *r, struct stk_err *err)
{
	struct stk_err e;
	char code[64];

	if (r->status == 404 && reg_req_error_code(r, code, sizeof(code))) {
		if (strcmp(code, "MANIFEST_UNKNOWN") == 0)
			stk_err_set(&e, ENOENT, "manifest unknown: %s %s not found in %s",
				    p->ref.digest && !p->ref.tag ? "digest" : "tag",
				    p->ref.tag ? p->ref.tag : p->ref.digest, p->ref.path);
		else if (strcmp(code, "NAME_UNKNOWN") == 0)
			stk_err_set(&e, ENOENT, "repository %s not found", p->ref.path);
		else
			reg_req_describe_failure(r, &e);
	} else {
		reg_req_describe_failure(r, &e);
	}
	*err = e;
}

static void manifest_done(struct reg_req *r, int status, void *arg)
{
	struct image_pull *p = arg;
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_free_ char *pick = NULL;
	const char *mt, *arch, *variant;
	struct stk_err e;
	char got[72];

	p->mreq = NULL;
	if (status != 200) {
		manifest_failed(p, r, &e);
		reg_req_free(r);
		pull_fail(p, &e);
		return;
	}
	sha256_digest(r->body.buf ? r->body.buf : "", r->body.len, got);
	if (p->expect_digest && strcmp(got, p->expect_digest) != 0) {
		stk_err_set(&e, EBADMSG, "manifest digest mismatch: expected %s, got %s",
			    p->expect_digest, got);
		reg_req_free(r);
		pull_fail(p, &e);
		return;
	}
	doc = json_tokener_parse(r->body.buf ? r->body.buf : "");
	mt = doc ? manifest_media_type(doc) : "";
	if (strcmp(mt, MT_OCI_INDEX) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0) {
		image_host_platform(&arch, &variant);
		if (manifest_index_pick(r->body.buf, r->body.len, arch, variant, &pick, &e) < 0) {
			reg_req_free(r);
			pull_fail(p, &e);
			return;
		}
		reg_req_free(r);
		fetch_manifest(p, pick);
		return;
	}
	free(p->manifest_digest);
	p->manifest_digest = xstrdup(got);
	strbuf_free(&p->manifest);
	strbuf_init(&p->manifest);
	strbuf_addn(&p->manifest, r->body.buf ? r->body.buf : "", r->body.len);
	reg_req_free(r);
	if (manifest_parse(p->manifest.buf, p->manifest.len, &p->m, &e) < 0) {
		pull_fail(p, &e);
		return;
	}
	p->have_manifest = true;
	emit(p, IMAGE_EV_RESOLVED, NULL, 0, 0, p->manifest_digest);
	fetch_config(p);
}

static void fetch_manifest(struct image_pull *p, const char *ref)
{
	_cleanup_free_ char *what = xasprintf("manifests/%s", ref);

	free(p->expect_digest);
	p->expect_digest = str_has_prefix(ref, "sha256:") ? xstrdup(ref) : NULL;
	p->mreq = reg_get(p->c, what, ACCEPT_MANIFESTS, manifest_done, p);
	p->mreq->on_retry = document_retry;
}

int image_pull_start(struct uv_loop_s *loop, struct image_store *s, const char *ref,
		     const struct image_pull_opts *opts, image_pull_done_fn done, void *arg,
		     struct stk_err *err)
{
	struct image_pull *p;
	_cleanup_free_ char *user = NULL, *password = NULL;

	static bool curl_ready;

	if (stk_lazylib_load(&stk_lazy_curl_lib, err) < 0 ||
	    stk_lazylib_load(&stk_lazy_archive_lib, err) < 0 ||
	    stk_lazylib_load(&stk_lazy_crypto_lib, err) < 0)
		return stk_err_wrap(err, "%s", ref);
	p = xcalloc(1, sizeof(*p));
	if (!curl_ready) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		curl_ready = true;
	}
	strbuf_init(&p->manifest);
	p->input = xstrdup(ref);
	if (image_ref_parse(ref, &p->ref, err) < 0) {
		pull_free(p);
		return stk_err_wrap(err, "%s", ref);
	}
	if (image_auth_lookup(opts->docker_config_dir, p->ref.domain, &user, &password, err) < 0) {
		pull_free(p);
		return stk_err_wrap(err, "%s", ref);
	}
	p->canonical = image_ref_canonical(&p->ref);
	p->display = xstrdup(ref);
	p->loop = loop;
	p->s = s;
	p->opts = *opts;
	p->group = opts->group;
	if (!p->group) {
		p->group = image_pull_group_new(opts->max_parallel);
		p->own_group = true;
	}
	group_add(p->group, p);
	p->done = done;
	p->arg = arg;
	p->c = reg_client_new(loop, p->ref.domain, p->ref.path, user, password,
			      image_registry_insecure(opts, p->ref.domain));
	fetch_manifest(p, p->ref.digest ? p->ref.digest : p->ref.tag);
	return 0;
}

/* ---- the CLI's loop ---- */

struct pull_all {
	size_t pending;
	int failures;
	struct stk_err first;
	image_pull_result_fn on_result;
	void *arg;
};

static void pull_all_result(struct pull_all *a, const char *ref, const struct stk_err *err)
{
	if (err && a->failures++ == 0)
		a->first = *err;
	if (a->on_result)
		a->on_result(ref, err, a->arg);
}

static void pull_all_done(struct image_pull *p, int status, const struct stk_err *err, void *arg)
{
	struct pull_all *a = arg;

	a->pending--;
	pull_all_result(a, p->input, status < 0 ? err : NULL);
}

int image_pull_all(struct image_store *s, const char *const *refs, size_t nrefs,
		   const struct image_pull_opts *opts, image_pull_result_fn on_result,
		   void *result_arg, struct stk_err *err)
{
	struct pull_all a = {.on_result = on_result, .arg = result_arg};
	struct image_pull_opts o = *opts;
	_cleanup_close_ int lock = -1;
	uv_loop_t loop;
	size_t i;
	int rc;

	rc = uv_loop_init(&loop);
	if (rc < 0)
		return stk_err_set(err, -rc, "event loop: %s", uv_strerror(rc));
	/* shared: pulls run together, prune and rm wait for them */
	lock = store_lock(s, false, err);
	if (lock < 0) {
		uv_loop_close(&loop);
		return -1;
	}
	if (!o.group)
		o.group = image_pull_group_new(opts->max_parallel);
	for (i = 0; i < nrefs; i++) {
		struct stk_err e;

		if (image_pull_start(&loop, s, refs[i], &o, pull_all_done, &a, &e) < 0) {
			pull_all_result(&a, refs[i], &e);
			continue;
		}
		a.pending++;
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (o.group != opts->group)
		image_pull_group_free(o.group);
	if (a.failures) {
		*err = a.first;
		return -1;
	}
	return 0;
}

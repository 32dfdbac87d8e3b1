/* Container logs: each container's stdout and stderr are FIFOs in its state directory,
 * opened read-write on the container's side so that a reader always exists (the
 * container never sees EPIPE, and a pipe buffer of output waits if no supervisor
 * reads). The supervisor reads them and appends one JSON record per line to
 * container.log, as Docker's json-file driver does ({"log", "stream", "time"}),
 * rotating at logging.options max-size / max-file (default 20 MiB x 5, as Docker's
 * local driver). The CLI reads the files back with no supervisor involved. A tty
 * container's output is its pty master instead, read as stdout (with the pty's \r\n, as
 * Docker logs it); it lives only as long as the supervisor that started it. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compose/compose.h"
#include "util/cleanup.h"
#include "util/str.h"

#define LOG_DEFAULT_MAX_SIZE (20LL * 1024 * 1024)
#define LOG_DEFAULT_MAX_FILES 5

static char *log_path(const char *dir, int n)
{
	return n ? xasprintf("%s/container.log.%d", dir, n) : xasprintf("%s/container.log", dir);
}

static int log_open(struct sup_ctr *c, struct stk_err *err)
{
	_cleanup_free_ char *path = log_path(c->dir, 0);
	struct stat st;

	c->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (c->log_fd < 0)
		return stk_err_sys(err, "open %s", path);
	c->log_size = fstat(c->log_fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

static void log_limits(struct sup_ctr *c)
{
	const struct compose_service *svc = sup_ctr_service(c);
	size_t i;

	c->log_max_size = LOG_DEFAULT_MAX_SIZE;
	c->log_max_files = LOG_DEFAULT_MAX_FILES;
	for (i = 0; svc && i < svc->logging_options.n; i++) {
		const struct compose_kv *kv = &svc->logging_options.v[i];
		long long v;

		if (!kv->value)
			continue;
		if (!strcmp(kv->key, "max-size") && compose_parse_bytes(kv->value, &v) && v > 0)
			c->log_max_size = v;
		else if (!strcmp(kv->key, "max-file") && atoi(kv->value) > 0)
			c->log_max_files = atoi(kv->value);
	}
}

static void log_rotate(struct sup_ctr *c)
{
	struct stk_err err;
	int n;

	close(c->log_fd);
	c->log_fd = -1;
	for (n = c->log_max_files - 1; n >= 1; n--) {
		_cleanup_free_ char *from = log_path(c->dir, n - 1), *to = log_path(c->dir, n);

		rename(from, to);
	}
	if (c->log_max_files <= 1) {
		_cleanup_free_ char *p = log_path(c->dir, 0);

		unlink(p);
	}
	if (log_open(c, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
}

/* A line that could not be written (a full disk): the container goes on, never blocked;
 * the line is counted, in the supervisor's log and the state (`ps --format json`,
 * `logs` warn of it). A record cut short is taken back, so the file stays whole. */
static void log_lost(struct sup_ctr *c, int errnum, bool partial)
{
	if (partial && ftruncate(c->log_fd, c->log_size) < 0)
		fprintf(stderr, "stack supervise: %s: log: take back a partial record: %s\n",
			c->name, strerror(errno));
	c->log_lost++;
	if (c->log_losing)
		return;
	c->log_losing = true;
	fprintf(stderr, "stack supervise: %s: log: %s: output lines are being lost\n", c->name,
		strerror(errnum));
	sup_ctr_write_state(c);
}

static void log_recovered(struct sup_ctr *c)
{
	c->log_losing = false;
	fprintf(stderr, "stack supervise: %s: log: writing again; %lld lines lost in all\n",
		c->name, c->log_lost);
	sup_ctr_write_state(c);
}

static void log_record(struct sup_stream *st, const char *line, size_t len)
{
	struct sup_ctr *c = st->ctr;
	struct json_object *o;
	struct timespec ts;
	struct tm tm;
	char tbuf[64];
	const char *s;
	size_t slen;

	if (c->log_fd < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(tbuf, sizeof(tbuf), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
	o = json_object_new_object();
	json_object_object_add(o, "log", json_object_new_string_len(line, (int)len));
	json_object_object_add(o, "stream", json_object_new_string(st->name));
	json_object_object_add(o, "time", json_object_new_string(tbuf));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	slen = strlen(s);
	{
		_cleanup_free_ char *rec = xasprintf("%s\n", s);
		ssize_t n = write(c->log_fd, rec, slen + 1);

		if (n == (ssize_t)(slen + 1)) {
			c->log_size += (long long)slen + 1;
			if (c->log_losing)
				log_recovered(c);
		} else {
			log_lost(c, n < 0 ? errno : ENOSPC, n > 0);
		}
	}
	json_object_put(o);
	if (c->log_size >= c->log_max_size)
		log_rotate(c);
}

static void stream_flush(struct sup_stream *st)
{
	if (st->npartial)
		log_record(st, st->partial, st->npartial);
	st->npartial = 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char rbuf[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(rbuf, sizeof(rbuf));
}

static void stream_close(struct sup_stream *st)
{
	if (!st->open)
		return;
	stream_flush(st);
	st->open = false;
	uv_read_stop((uv_stream_t *)&st->pipe);
	sup_ctr_handle_close(st->ctr, (uv_handle_t *)&st->pipe);
}

static void on_read(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf)
{
	struct sup_stream *st = h->data;
	const char *p = buf->base, *end = buf->base + (nread > 0 ? nread : 0);

	if (nread < 0) {
		stream_close(st);
		return;
	}
	/* "ready to accept connections": a hint to probe soon, before the first pass. */
	if (nread > 0)
		sup_health_output(st->ctr);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t take = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		if (take > sizeof(st->partial) - st->npartial)
			take = sizeof(st->partial) - st->npartial;
		memcpy(st->partial + st->npartial, p, take);
		st->npartial += take;
		p += take;
		if (st->partial[st->npartial - 1] == '\n' || st->npartial == sizeof(st->partial))
			stream_flush(st);
	}
}

static int fifo_open(const char *dir, const char *name, int *wfd, int *rfd, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.fifo", dir, name);

	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return stk_err_sys(err, "mkfifo %s", path);
	/* The read end first (non-blocking), so that output is kept from the start. */
	*rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*rfd < 0)
		return stk_err_sys(err, "open %s", path);
	if (wfd) {
		*wfd = open(path, O_RDWR | O_CLOEXEC);
		if (*wfd < 0)
			return stk_err_sys(err, "open %s", path);
	}
	return 0;
}

int sup_logs_open(struct sup_ctr *c, int wfds[2], struct stk_err *err)
{
	log_limits(c);
	c->out.rfd = c->err.rfd = -1;
	if (fifo_open(c->dir, "stdout", &wfds[0], &c->out.rfd, err) < 0 ||
	    fifo_open(c->dir, "stderr", &wfds[1], &c->err.rfd, err) < 0 ||
	    (c->log_fd < 0 && log_open(c, err) < 0))
		return -1;
	return 0;
}

static void stream_attach(struct sup_ctr *c, struct sup_stream *st)
{
	struct stk_err err;

	if (st->open)
		return;
	if (st->rfd < 0 && fifo_open(c->dir, st->name, NULL, &st->rfd, &err) < 0) {
		fprintf(stderr, "stack supervise: %s\n", err.msg);
		return;
	}
	uv_pipe_init(&c->s->loop, &st->pipe, 0);
	st->pipe.data = st;
	c->handles++;
	if (uv_pipe_open(&st->pipe, st->rfd) < 0) {
		close(st->rfd);
		st->rfd = -1;
		sup_ctr_handle_close(c, (uv_handle_t *)&st->pipe);
		return;
	}
	st->rfd = -1;
	st->open = true;
	uv_read_start((uv_stream_t *)&st->pipe, on_alloc, on_read);
	st->pipe.data = st;
}

void sup_logs_attach(struct sup_ctr *c)
{
	struct stk_err err;

	if (!c->log_max_size)
		log_limits(c);
	if (c->log_fd < 0 && log_open(c, &err) < 0)
		fprintf(stderr, "stack supervise: %s\n", err.msg);
	stream_attach(c, &c->out);
	stream_attach(c, &c->err);
}

void sup_logs_take_pty(struct sup_ctr *c, int master)
{
	if (master < 0)
		return;
	if (c->out.rfd >= 0)
		close(c->out.rfd);
	c->out.rfd = master;
}

int sup_stdin_open(struct sup_ctr *c, int *fd, struct stk_err *err)
{
	_cleanup_free_ char *path = xasprintf("%s/stdin.fifo", c->dir);

	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return stk_err_sys(err, "mkfifo %s", path);
	/* Read-write: the container's reads wait, as on Docker's open, unattached stdin. */
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return stk_err_sys(err, "open %s", path);
	return 0;
}

void sup_logs_close(struct sup_ctr *c)
{
	struct sup_stream *sts[2] = {&c->out, &c->err};
	int i;

	for (i = 0; i < 2; i++) {
		if (sts[i]->rfd >= 0)
			close(sts[i]->rfd);
		sts[i]->rfd = -1;
		stream_close(sts[i]);
	}
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
}

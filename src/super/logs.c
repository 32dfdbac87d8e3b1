/* Container logs: each container's stdout and stderr are FIFOs in its state directory,
 * opened read-write on the container's side so that a reader always exists (the
 * container never sees EPIPE, and a pipe buffer of output waits if no supervisor
 * reads). The supervisor reads them and appends one JSON record per line to
 * container.log, as Docker's json-file driver does ({"log", "stream", "time"}),
 * rotating at logging.options max-size / max-file (default 20 MiB x 5, as Docker's
 * local driver). The CLI reads the files back with no supervisor involved. A tty
 * container's output is its pty master instead, read as stdout (with the pty's \r\n, as
 * Docker logs it). A pty dies with its master's last fd, and its container's writes then
 * fail: so a keeper process (`stack tty-keeper`) holds the master too until the
 * container exits; a supervisor that adopts the container takes the master
 * back from it (pidfd_getfd), as conmon would hold it for podman. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "compose/compose.h"
#include "state/state.h"
#include "util/cleanup.h"
#include "util/str.h"

#define LOG_DEFAULT_MAX_SIZE (20LL * 1024 * 1024)
#define LOG_DEFAULT_MAX_FILES 5
#define LOG_PIPE_SIZE (1024 * 1024)

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

/* Lines that could not be written (a full disk): the container goes on, never blocked;
 * the lines are counted, in the supervisor's log and the state (`ps --format json`,
 * `logs` warn of it). Records cut short are taken back, so the file stays whole. */
static void log_lost(struct sup_ctr *c, int errnum, bool partial, long long lines)
{
	if (partial && ftruncate(c->log_fd, c->log_size) < 0)
		fprintf(stderr, "stack supervise: %s: log: take back a partial record: %s\n",
			c->name, strerror(errno));
	c->log_lost += lines;
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

/* Records wait here and go out in one write per read of the container's output (a write
 * per line was what bounded the throughput); one container's at a time, since every
 * read callback flushes before it returns. */
static struct {
	struct sup_ctr *ctr;
	size_t len, lines;
	char data[65536];
} batch;

/* Writes what one iovec list holds as whole records (lines of them), then rotates if
 * the file reached max-size. */
static void log_write(struct sup_ctr *c, const struct iovec *iov, int n, size_t len, size_t lines)
{
	ssize_t w = writev(c->log_fd, iov, n);

	if (w == (ssize_t)len) {
		c->log_size += (long long)len;
		if (c->log_losing)
			log_recovered(c);
	} else {
		log_lost(c, w < 0 ? errno : ENOSPC, w > 0, (long long)lines);
	}
	if (c->log_fd >= 0 && c->log_size >= c->log_max_size)
		log_rotate(c);
}

static void batch_flush(void)
{
	struct iovec iov = {batch.data, batch.len};

	if (batch.len)
		log_write(batch.ctr, &iov, 1, batch.len, batch.lines);
	batch.len = batch.lines = 0;
	batch.ctr = NULL;
}

/* The record as json-c prints it ({"log", "stream", "time"}); the objects are kept from
 * one line to the next, only their strings change. */
static const char *record_json(const char *stream, const char *line, size_t len, size_t *outlen)
{
	static struct json_object *rec, *log, *name, *time;
	static time_t sec = -1;
	static char day[64];
	struct timespec ts;
	struct tm tm;
	char tbuf[96];
	const char *s;
	size_t daylen;
	long ns;
	int i;

	if (!rec) {
		rec = json_object_new_object();
		json_object_object_add(rec, "log", log = json_object_new_string(""));
		json_object_object_add(rec, "stream", name = json_object_new_string(""));
		json_object_object_add(rec, "time", time = json_object_new_string(""));
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != sec) {
		sec = ts.tv_sec;
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(day, sizeof(day), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	}
	/* The nanoseconds by hand: snprintf per line was a sixth of the supervisor's time
	 * under a container that prints as fast as it can. */
	daylen = strlen(day);
	memcpy(tbuf, day, daylen);
	tbuf[daylen] = '.';
	for (i = 9, ns = ts.tv_nsec; i > 0; i--, ns /= 10)
		tbuf[daylen + i] = (char)('0' + ns % 10);
	tbuf[daylen + 10] = 'Z';
	tbuf[daylen + 11] = 0;
	json_object_set_string_len(log, line, (int)len);
	json_object_set_string(name, stream);
	json_object_set_string(time, tbuf);
	s = json_object_to_json_string_length(rec, JSON_C_TO_STRING_PLAIN, outlen);
	return s;
}

static void log_record(struct sup_stream *st, const char *line, size_t len)
{
	struct sup_ctr *c = st->ctr;
	const char *s;
	size_t slen;

	if (c->log_fd < 0)
		return;
	if (batch.ctr != c)
		batch_flush();
	s = record_json(st->name, line, len, &slen);
	/* The file rotates after the record that reaches max-size, as before batching. */
	if (batch.len && (batch.len + slen + 1 > sizeof(batch.data) ||
			  c->log_size + (long long)batch.len >= c->log_max_size))
		batch_flush();
	if (c->log_fd < 0)
		return;
	if (slen + 1 > sizeof(batch.data)) {
		/* A 16 KiB line of control characters escapes to more than the buffer. */
		struct iovec iov[2] = {{(void *)s, slen}, {(void *)"\n", 1}};

		log_write(c, iov, 2, slen + 1, 1);
		return;
	}
	batch.ctr = c;
	memcpy(batch.data + batch.len, s, slen);
	batch.data[batch.len + slen] = '\n';
	batch.len += slen + 1;
	batch.lines++;
}

/* ---- tty: the keeper of the pty master ---- */

#define KEEPER_MASTER_FD 3
#define KEEPER_PIDFD 4

static void json_putp(struct json_object **o)
{
	json_object_put(*o);
}

static char *keeper_path(const struct sup_ctr *c)
{
	return xasprintf("%s/tty-keeper.json", c->dir);
}

int super_tty_keeper(void)
{
	struct pollfd p = {.fd = KEEPER_PIDFD, .events = POLLIN};

	/* Started by keeper_start with the master at fd 3 and the container's pidfd at 4. */
	if (fcntl(KEEPER_MASTER_FD, F_GETFD) < 0 || fcntl(KEEPER_PIDFD, F_GETFD) < 0)
		return -1;
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	return 0;
}

/* The keeper ends with the container's output: killed, and reaped when it is ours (an
 * adopted one's parent is init now). */
static void keeper_end(struct sup_ctr *c)
{
	_cleanup_free_ char *path = NULL;
	siginfo_t si;

	if (c->tty_keeper < 0)
		return;
	syscall(SYS_pidfd_send_signal, c->tty_keeper, SIGKILL, NULL, 0);
	waitid(P_PIDFD, (id_t)c->tty_keeper, &si, WEXITED);
	close(c->tty_keeper);
	c->tty_keeper = -1;
	path = keeper_path(c);
	unlink(path);
}

/* The keeper is this binary again (`stack tty-keeper ID`, hidden), not a fork of the
 * supervisor: a fork would keep a private copy of the supervisor's dirty pages (1.5 MiB
 * here) once the supervisor writes its own or dies. */
static pid_t keeper_spawn(struct sup_ctr *c, int master, struct stk_err *err)
{
	_cleanup_close_ int m = fcntl(master, F_DUPFD_CLOEXEC, 10);
	_cleanup_close_ int pf = fcntl(engine_pidfd(c->ec), F_DUPFD_CLOEXEC, 10);
	_cleanup_free_ char *id = xasprintf("%.12s", c->id);
	char *argv[] = {"stack", "tty-keeper", id, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	pid_t pid = -1;
	int rc;

	if (m < 0 || pf < 0)
		return stk_err_sys(err, "dup the pty master");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, m, KEEPER_MASTER_FD);
	posix_spawn_file_actions_adddup2(&fa, pf, KEEPER_PIDFD);
	posix_spawn_file_actions_addclosefrom_np(&fa, KEEPER_PIDFD + 1);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&pid, "/proc/self/exe", &fa, &at, argv, environ);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return stk_err_set(err, rc, "start the pty's keeper: %s", strerror(rc));
	return pid;
}

static void keeper_start(struct sup_ctr *c, int master)
{
	_cleanup_free_ char *path = keeper_path(c);
	_cleanup_(json_putp) struct json_object *rec = NULL;
	struct stk_err err;
	pid_t pid;

	keeper_end(c);
	pid = keeper_spawn(c, master, &err);
	if (pid < 0) {
		fprintf(stderr, "stack supervise: %s: tty: %s\n", c->name, err.msg);
		return;
	}
	c->tty_keeper = (int)syscall(SYS_pidfd_open, pid, 0);
	rec = json_object_new_object();
	json_object_object_add(rec, "pid", json_object_new_int((int)pid));
	if (c->tty_keeper < 0 || state_update_json(path, rec, &err) < 0) {
		fprintf(stderr, "stack supervise: %s: tty: the pty's keeper: %s\n", c->name,
			c->tty_keeper < 0 ? strerror(errno) : err.msg);
		if (c->tty_keeper < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
}

/* A supervisor adopting a tty container: the master from the keeper the last one left,
 * checked to be that keeper (its command line names the container) while it runs. */
static void keeper_adopt(struct sup_ctr *c)
{
	_cleanup_free_ char *path = keeper_path(c), *cmdline = NULL, *proc = NULL,
			    *id = xasprintf("%.12s", c->id);
	_cleanup_(json_putp) struct json_object *rec = state_read_json(path);
	_cleanup_close_ int pidfd = -1;
	struct pollfd p;
	size_t n = 0;
	int master;
	long pid = rec ? (long)state_int(rec, "pid") : 0;

	if (pid <= 0)
		return;
	pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
	proc = xasprintf("/proc/%ld/cmdline", pid);
	cmdline = pidfd >= 0 ? str_read_file(proc, &n) : NULL;
	p = (struct pollfd){.fd = pidfd, .events = POLLIN};
	/* "stack\0tty-keeper\0ID\0", and still running once the pidfd is open. */
	if (!cmdline || n != sizeof("stack\0tty-keeper") + strlen(id) + 1 ||
	    strcmp(cmdline, "stack") || strcmp(cmdline + 6, "tty-keeper") ||
	    strcmp(cmdline + 17, id) || poll(&p, 1, 0) != 0)
		return;
	master = (int)syscall(SYS_pidfd_getfd, pidfd, KEEPER_MASTER_FD, 0);
	if (master < 0) {
		fprintf(stderr, "stack supervise: %s: tty: take the pty back from its keeper: %s\n",
			c->name, strerror(errno));
		return;
	}
	c->out.rfd = master;
	c->tty_keeper = stk_steal_fd(&pidfd);
}

/* ---- reading ---- */

static void stream_flush(struct sup_stream *st)
{
	if (st->npartial)
		log_record(st, st->partial, st->npartial);
	st->npartial = 0;
	batch_flush();
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
	if (st == &st->ctr->out)
		keeper_end(st->ctr);
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
		if (st->partial[st->npartial - 1] == '\n' || st->npartial == sizeof(st->partial)) {
			log_record(st, st->partial, st->npartial);
			st->npartial = 0;
		}
	}
	batch_flush();
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
	/* A container that prints fast writes on while the loop turns the last buffer into
	 * records: 1 MiB (the default pipe-max-size) rather than 64 KiB. Best effort. */
	(void)fcntl(*rfd, F_SETPIPE_SZ, LOG_PIPE_SIZE);
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
	if (c->adopted && c->out.rfd < 0 && !c->out.open)
		keeper_adopt(c);
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
	keeper_start(c, master);
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
	keeper_end(c);
	if (c->log_fd >= 0)
		close(c->log_fd);
	c->log_fd = -1;
}

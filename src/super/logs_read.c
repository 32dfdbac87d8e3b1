/* Reading container logs back from disk (the CLI's `logs`; no supervisor needed):
 * the rotated files oldest first, `--tail N` found by reading backwards from the end,
 * and `--follow` by inotify on the containers' directories until every container
 * has exited. */
#include "super/super.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

#define MAX_ROTATED 64

static long long parse_time(const char *s)
{
	struct tm tm = {0};
	long long ns = 0;
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int digits = 0;

	if (!p)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 9)
				ns = ns * 10 + (*p - '0');
	for (; digits < 9; digits++)
		ns *= 10;
	return (long long)timegm(&tm) * 1000000000LL + ns;
}

struct reader {
	const char *name, *dir;
	int fd; /* the current file, read up to off */
	ino_t ino;
	struct strbuf pending; /* a record not yet ended */
	bool done;
};

static void emit(struct reader *r, const char *line, const struct super_log_opts *o,
		 super_log_fn fn, void *arg)
{
	struct json_object *rec = json_tokener_parse(line), *v;
	const char *log = "", *stream = "stdout";
	long long t = 0;
	int len = 0;

	if (!rec)
		return;
	if (json_object_object_get_ex(rec, "log", &v)) {
		log = json_object_get_string(v);
		len = json_object_get_string_len(v);
	}
	if (json_object_object_get_ex(rec, "stream", &v))
		stream = json_object_get_string(v);
	if (json_object_object_get_ex(rec, "time", &v))
		t = parse_time(json_object_get_string(v));
	if ((!o->since_ns || t >= o->since_ns) && (!o->until_ns || t < o->until_ns))
		fn(r->name, stream, t, log, (size_t)len, arg);
	json_object_put(rec);
}

/* Every whole record from the reader's position on. */
static void drain(struct reader *r, const struct super_log_opts *o, super_log_fn fn, void *arg)
{
	char buf[65536];
	ssize_t n;

	if (r->fd < 0)
		return;
	while ((n = read(r->fd, buf, sizeof(buf))) > 0) {
		char *nl;

		strbuf_addn(&r->pending, buf, (size_t)n);
		while (r->pending.buf && (nl = memchr(r->pending.buf, '\n', r->pending.len))) {
			size_t len = (size_t)(nl - r->pending.buf) + 1;

			*nl = '\0';
			emit(r, r->pending.buf, o, fn, arg);
			memmove(r->pending.buf, r->pending.buf + len, r->pending.len - len);
			r->pending.len -= len;
		}
	}
}

/* The offset in fd after which `want` lines remain; *found gets how many there are. */
static off_t tail_offset(int fd, long want, long *found)
{
	char buf[65536];
	off_t end = lseek(fd, 0, SEEK_END), pos = end;
	long lines = 0;
	bool first = true;

	while (pos > 0) {
		size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t n, i;

		pos -= (off_t)chunk;
		n = pread(fd, buf, chunk, pos);
		if (n <= 0)
			break;
		for (i = n - 1; i >= 0; i--) {
			if (buf[i] != '\n')
				continue;
			if (first && pos + i == end - 1) { /* the last record's own newline */
				first = false;
				continue;
			}
			first = false;
			if (++lines == want) {
				*found = lines;
				return pos + i + 1;
			}
		}
	}
	*found = end > 0 ? lines + 1 : 0;
	return 0;
}

static char *file_of(const char *dir, int n)
{
	return n ? xasprintf("%s/container.log.%d", dir, n) : xasprintf("%s/container.log", dir);
}

/* Prints the history of one container (the last o->tail records of it), and leaves
 * the reader at the end of its current file. */
static void history(struct reader *r, const struct super_log_opts *o, super_log_fn fn, void *arg)
{
	int n, oldest = 0, start;
	long need = o->tail;
	off_t start_off = 0;

	while (oldest < MAX_ROTATED) {
		_cleanup_free_ char *p = file_of(r->dir, oldest + 1);

		if (access(p, F_OK) < 0)
			break;
		oldest++;
	}
	start = oldest;
	if (need >= 0) {
		/* Newest file first, back until enough records are found. */
		start = 0;
		for (n = 0; n <= oldest; n++) {
			_cleanup_free_ char *p = file_of(r->dir, n);
			_cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
			long found = 0;

			start = n;
			if (fd < 0)
				continue;
			start_off = need ? tail_offset(fd, need, &found) : lseek(fd, 0, SEEK_END);
			if (found >= need)
				break;
			need -= found;
			start_off = 0;
		}
	}
	for (n = start; n >= 0; n--) {
		_cleanup_free_ char *p = file_of(r->dir, n);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct stat st;

		if (fd < 0)
			continue;
		if (n == start)
			lseek(fd, start_off, SEEK_SET);
		if (r->fd >= 0)
			close(r->fd);
		r->fd = fd;
		r->ino = fstat(fd, &st) == 0 ? st.st_ino : 0;
		drain(r, o, fn, arg);
	}
}

static bool running(const char *dir)
{
	_cleanup_free_ char *p = xasprintf("%s/state.json", dir);
	_cleanup_free_ char *s = str_read_file(p, NULL);

	return s && strstr(s, "\"status\":\"running\"");
}

/* The current file was rotated away: finish it, then start on the new one. */
static void follow_rotation(struct reader *r, const struct super_log_opts *o, super_log_fn fn,
			    void *arg)
{
	_cleanup_free_ char *p = file_of(r->dir, 0);
	struct stat st;

	drain(r, o, fn, arg);
	if (stat(p, &st) == 0 && st.st_ino != r->ino) {
		int fd = open(p, O_RDONLY | O_CLOEXEC);

		if (fd >= 0) {
			if (r->fd >= 0)
				close(r->fd);
			r->fd = fd;
			r->ino = st.st_ino;
			drain(r, o, fn, arg);
		}
	}
}

int super_logs_read(const struct state_container *cs, size_t n, const struct super_log_opts *o,
		    super_log_fn fn, void *arg, struct stk_err *err)
{
	struct reader *rs = xcalloc(n ? n : 1, sizeof(*rs));
	_cleanup_close_ int ino = -1;
	size_t i;
	int rc = 0;

	for (i = 0; i < n; i++) {
		rs[i].name = state_str(cs[i].config, "name");
		rs[i].dir = cs[i].dir;
		rs[i].fd = -1;
		strbuf_init(&rs[i].pending);
	}
	if (o->follow) {
		ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
		if (ino < 0)
			rc = stk_err_sys(err, "inotify");
		for (i = 0; rc == 0 && i < n; i++)
			inotify_add_watch(ino, rs[i].dir,
					  IN_MODIFY | IN_MOVED_TO | IN_CREATE | IN_DELETE_SELF);
	}
	for (i = 0; rc == 0 && i < n; i++)
		history(&rs[i], o, fn, arg);
	while (rc == 0 && o->follow) {
		struct pollfd pf[2] = {{.fd = ino, .events = POLLIN},
				       {.fd = o->interrupt_fd, .events = POLLIN}};
		char ebuf[4096];
		bool any = false;

		for (i = 0; i < n; i++) {
			follow_rotation(&rs[i], o, fn, arg);
			if (!rs[i].done && !running(rs[i].dir)) {
				/* Exited: what the supervisor wrote last is in the file now. */
				follow_rotation(&rs[i], o, fn, arg);
				rs[i].done = true;
				if (o->on_exit)
					o->on_exit(rs[i].name, rs[i].dir, o->interrupt_arg);
			}
			any |= !rs[i].done;
		}
		if (!any)
			break;
		fflush(stdout);
		if (poll(pf, o->interrupt_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			rc = stk_err_sys(err, "poll");
		if (o->interrupt_fd >= 0 && pf[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(o->interrupt_fd, &si, sizeof(si)) == sizeof(si))
				if (o->on_interrupt)
					o->on_interrupt((int)si.ssi_signo, o->interrupt_arg);
		}
		while (read(ino, ebuf, sizeof(ebuf)) > 0)
			;
	}
	for (i = 0; i < n; i++) {
		if (rs[i].fd >= 0)
			close(rs[i].fd);
		strbuf_free(&rs[i].pending);
	}
	free(rs);
	return rc;
}

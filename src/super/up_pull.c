/* The images an `up` pulls, and pulling them while the services whose images are there
 * already start. The CLI decides what to pull (--pull, else each service's pull_policy)
 * and pulls it all at once on a thread of its own (image_pull_all: one group, one
 * progress display); the up request names the images still coming ("pulling"), and
 * each result goes to the supervisor on the request's connection as it lands
 * ({"op":"image","image":REF}, with "error" when it failed). The supervisor's up job
 * holds the services that need an image (and their dependents) until then. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "compose/compose.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/str.h"

struct sup_pulls {
	const struct super_client *cl;
	struct image_store *store;
	const char **refs, **svc_of; /* svc_of: the first service of each ref, for progress */
	size_t n;
	uv_thread_t thread;
	bool running;
	int rfd, wfd; /* the thread's results, a JSON line each; wfd is the thread's */
	struct strbuf partial; /* of a line from the thread or the supervisor */
	struct json_object *landed; /* {ref: null or "why"}, sent again on a new connection */
};

static void json_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}

void sup_pulls_free(struct sup_pulls *pl)
{
	if (!pl)
		return;
	if (pl->running)
		uv_thread_join(&pl->thread);
	if (pl->rfd >= 0)
		close(pl->rfd);
	if (pl->wfd >= 0)
		close(pl->wfd);
	strbuf_free(&pl->partial);
	if (pl->landed)
		json_object_put(pl->landed);
	image_store_free(pl->store);
	free(pl->refs);
	free(pl->svc_of);
	free(pl);
}

int sup_pulls_plan(const struct super_client *cl, struct compose_project *p, const bool *in,
		   const char *pull, struct sup_pulls **out, struct stk_err *err)
{
	struct sup_pulls *pl = xcalloc(1, sizeof(*pl));
	size_t i, j;

	*out = NULL;
	pl->cl = cl;
	pl->rfd = pl->wfd = -1;
	strbuf_init(&pl->partial);
	pl->refs = xcalloc(p->nservices + 1, sizeof(char *));
	pl->svc_of = xcalloc(p->nservices + 1, sizeof(char *));
	if (image_store_open(cl->paths.root, &pl->store, err) < 0) {
		sup_pulls_free(pl);
		return -1;
	}
	for (i = 0; i < p->nservices; i++) {
		const struct compose_service *svc = &p->services[i];
		const char *policy = pull ? pull : svc->pull_policy ? svc->pull_policy : "missing";
		struct image_config ic;
		struct stk_err e;
		bool have;

		/* the CLI pulled or built the image of a service with build: */
		if ((in && !in[i]) || !svc->image || svc->build_context)
			continue;
		for (j = 0; j < pl->n; j++)
			if (!strcmp(pl->refs[j], svc->image))
				break;
		if (j < pl->n)
			continue;
		have = image_store_get(pl->store, svc->image, &ic, &e) == 0;
		if (have)
			image_config_free(&ic);
		if (!strcmp(policy, "never") && !have) {
			stk_err_set(
				err, ENOENT,
				"service %s: image %s is not in the store and pull_policy is never",
				svc->name, svc->image);
			sup_pulls_free(pl);
			return -1;
		}
		if (!have || !strcmp(policy, "always")) {
			pl->svc_of[pl->n] = svc->name;
			pl->refs[pl->n++] = svc->image;
		}
	}
	if (!pl->n) {
		sup_pulls_free(pl);
		return 0;
	}
	*out = pl;
	return 0;
}

static void on_pulled(const char *ref, const struct stk_err *e, void *arg)
{
	struct sup_pulls *pl = arg;
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (!strcmp(pl->refs[i], ref) && !e)
			sup_client_progress(pl->cl, "Image", pl->svc_of[i], "Pulled");
}

int sup_pulls_run(struct sup_pulls *pl, struct stk_err *err)
{
	struct image_pull_opts po = {0};
	size_t i;

	for (i = 0; i < pl->n; i++)
		sup_client_progress(pl->cl, "Image", pl->svc_of[i], "Pulling");
	if (image_pull_all(pl->store, pl->refs, pl->n, &po, on_pulled, pl, err) == 0)
		return 0;
	/* Name the service of the image that failed. */
	for (i = 0; i < pl->n; i++)
		if (strstr(err->msg, pl->refs[i]))
			break;
	return stk_err_wrap(err, "service %s", pl->svc_of[i < pl->n ? i : 0]);
}

/* ---- pulling while the supervisor starts ---- */

/* One line to the supervisor's socket, or (to_pipe) to the main thread's pipe. */
static int send_line(int fd, struct json_object *o, bool to_pipe)
{
	_cleanup_free_ char *line =
		xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	size_t off = 0, len = strlen(line);
	ssize_t n;

	/* MSG_NOSIGNAL: a supervisor that went away is an error to report, not SIGPIPE */
	while (off < len) {
		n = to_pipe ? write(fd, line + off, len - off)
			    : send(fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* {"op":"image","image":REF}, with "error" when the pull failed. */
static struct json_object *image_message(const char *ref, struct json_object *why)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "op", json_object_new_string("image"));
	json_object_object_add(o, "image", json_object_new_string(ref));
	if (why)
		json_object_object_add(o, "error", why);
	return o;
}

/* On the thread: each result as one line to the CLI's main thread. */
static void on_result(const char *ref, const struct stk_err *e, void *arg)
{
	struct sup_pulls *pl = arg;
	_cleanup_(json_putp) struct json_object *o =
		image_message(ref, e ? json_object_new_string(e->msg) : NULL);

	send_line(pl->wfd, o, true); /* the main thread reads it until the thread is done */
}

static void pull_thread(void *arg)
{
	struct sup_pulls *pl = arg;
	struct image_pull_opts po = {0};
	struct stk_err err;

	image_pull_all(pl->store, pl->refs, pl->n, &po, on_result, pl, &err);
	close(pl->wfd);
	pl->wfd = -1;
}

int sup_pulls_start(struct sup_pulls *pl, struct stk_err *err)
{
	int fds[2], rc;
	size_t i;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return stk_err_sys(err, "pipe");
	pl->rfd = fds[0];
	pl->wfd = fds[1];
	pl->landed = json_object_new_object();
	for (i = 0; i < pl->n; i++)
		sup_client_progress(pl->cl, "Image", pl->svc_of[i], "Pulling");
	rc = uv_thread_create(&pl->thread, pull_thread, pl);
	if (rc < 0)
		return stk_err_set(err, -rc, "start pulling: %s", uv_strerror(rc));
	pl->running = true;
	return 0;
}

void sup_pulls_add_to_request(struct sup_pulls *pl, struct json_object *req)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < pl->n; i++)
		json_object_array_add(a, json_object_new_string(pl->refs[i]));
	json_object_object_add(req, "pulling", a);
}

/* A result from the thread: shown, remembered, and passed on to the supervisor. */
static void result_line(struct sup_pulls *pl, int fd, const char *line)
{
	_cleanup_(json_putp) struct json_object *o = json_tokener_parse(line);
	const char *ref = state_str(o, "image");
	struct json_object *why = NULL;
	size_t i;

	if (!o)
		return;
	json_object_object_get_ex(o, "error", &why);
	for (i = 0; i < pl->n; i++)
		if (!strcmp(pl->refs[i], ref))
			sup_client_progress(pl->cl, "Image", pl->svc_of[i],
					    why ? "Error" : "Pulled");
	json_object_object_add(pl->landed, ref, why ? json_object_get(why) : NULL);
	send_line(fd, o, false); /* a failed send shows as the connection closing */
}

/* Reads what is there on fd into the partial line buffer; each whole line to fn.
 * Returns the bytes read (0: end of file), -1 on error. */
static ssize_t read_lines(struct sup_pulls *pl, int fd, struct strbuf *sb,
			  int (*fn)(struct sup_pulls *, void *, const char *), void *arg, int *stop)
{
	char buf[16384], *nl;
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : n;
	strbuf_addn(sb, buf, (size_t)n);
	while (!*stop && sb->buf && (nl = memchr(sb->buf, '\n', sb->len))) {
		size_t len = (size_t)(nl - sb->buf) + 1;

		*nl = '\0';
		*stop = fn(pl, arg, sb->buf);
		memmove(sb->buf, sb->buf + len, sb->len - len);
		sb->len -= len;
	}
	return n;
}

struct exchange {
	int fd;
	struct stk_err *err;
	int rc; /* -2 while the request runs */
};

static int on_thread_line(struct sup_pulls *pl, void *arg, const char *line)
{
	struct exchange *x = arg;

	result_line(pl, x->fd, line);
	return 0;
}

static int on_supervisor_line(struct sup_pulls *pl, void *arg, const char *line)
{
	struct exchange *x = arg;
	_cleanup_(json_putp) struct json_object *ev = json_tokener_parse(line);
	const char *kind = state_str(ev, "event");

	if (!strcmp(kind, "done"))
		x->rc = 0;
	else if (!strcmp(kind, "error"))
		x->rc = stk_err_set(x->err, EIO, "%s", state_str(ev, "message"));
	else if (ev && pl->cl->on_event)
		pl->cl->on_event(ev, pl->cl->arg);
	return x->rc != -2;
}

int sup_pulls_exchange(struct sup_pulls *pl, int fd, struct json_object *req, struct stk_err *err)
{
	struct exchange x = {.fd = fd, .err = err, .rc = -2};
	struct strbuf in;
	int stop = 0, none = 0;

	if (send_line(fd, req, false) < 0)
		return stk_err_sys(err, "send to the supervisor");
	/* A new connection (the last supervisor was exiting) hears of what landed already. */
	json_object_object_foreach(pl->landed, ref, why)
	{
		_cleanup_(json_putp) struct json_object *o =
			image_message(ref, why ? json_object_get(why) : NULL);

		send_line(fd, o, false);
	}
	strbuf_init(&in);
	while (x.rc == -2) {
		struct pollfd pfd[2] = {{.fd = fd, .events = POLLIN},
					{.fd = pl->rfd, .events = POLLIN}};
		ssize_t n;

		if (poll(pfd, pl->rfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			x.rc = stk_err_sys(err, "poll");
			break;
		}
		/* The supervisor's events first: what started before an image landed is
		 * shown before it. */
		if (pfd[0].revents) {
			n = read_lines(pl, fd, &in, on_supervisor_line, &x, &stop);
			if (n == 0 && x.rc == -2)
				x.rc = stk_err_set(err, EPIPE,
						   "the supervisor closed the connection");
			else if (n < 0 && x.rc == -2)
				x.rc = stk_err_sys(err, "read from the supervisor");
		}
		if (x.rc == -2 && pl->rfd >= 0 && pfd[1].revents &&
		    read_lines(pl, pl->rfd, &pl->partial, on_thread_line, &x, &none) <= 0) {
			close(pl->rfd); /* the thread is done */
			pl->rfd = -1;
		}
	}
	strbuf_free(&in);
	return x.rc;
}

/* Container events (`stack events`): the supervisor's side fans each event out to the
 * clients that sent {"op":"subscribe"}; the CLI's side streams them back.
 *
 * A subscriber that reads slowly must not stall the loop nor grow its memory without
 * bound: once more than SUB_MAX_QUEUED bytes wait in its write queue, its events are
 * dropped and counted, and it hears {"event":"dropped","count":N} when it catches up. */
#include "super/internal.h"

#include <errno.h>
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/str.h"

#define SUB_MAX_QUEUED (256 * 1024)

struct sup_sub {
	struct sup_sub *next;
	struct sup_client *cl;
	unsigned long long dropped;
};

void sup_events_subscribe(struct sup *s, struct sup_client *cl)
{
	struct sup_sub *sub = xcalloc(1, sizeof(*sub));
	struct json_object *ack = json_object_new_object();

	sub->cl = cl;
	sub->next = s->subs;
	s->subs = sub;
	json_object_object_add(ack, "event", json_object_new_string("subscribed"));
	sup_client_send(cl, ack);
}

void sup_events_forget(struct sup *s, struct sup_client *cl)
{
	struct sup_sub **pp = &s->subs;

	while (*pp) {
		if ((*pp)->cl == cl) {
			struct sup_sub *dead = *pp;

			*pp = dead->next;
			free(dead);
		} else {
			pp = &(*pp)->next;
		}
	}
}

void sup_events_notify(struct sup *s, struct sup_client *cl, struct json_object *req)
{
	const char *action = state_str(req, "action");
	struct json_object *done = json_object_new_object();
	struct sup_ctr *c;

	for (c = s->ctrs; c; c = c->next)
		if (!strcmp(c->id, state_str(req, "id")) &&
		    (!strcmp(action, "pause") || !strcmp(action, "unpause")))
			sup_event(c, action, NULL, 0);
	json_object_object_add(done, "event", json_object_new_string("done"));
	sup_client_send(cl, done);
}

long long sup_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct json_object *event_new(struct sup_ctr *c, const char *action, const char *key,
				     long long val)
{
	struct json_object *ev = json_object_new_object(), *attrs = json_object_new_object();
	struct json_object *labels;
	_cleanup_free_ char *act = NULL;

	if (!strcmp(action, "health_status"))
		act = xasprintf("health_status: %s", sup_health_name(c->health.status));
	json_object_object_add(ev, "event", json_object_new_string("container"));
	json_object_object_add(ev, "time_ns", json_object_new_int64(sup_now_ns()));
	json_object_object_add(ev, "action", json_object_new_string(act ? act : action));
	json_object_object_add(ev, "id", json_object_new_string(c->id));
	json_object_object_add(ev, "service", json_object_new_string(c->service));
	/* As Docker's: the container's labels, its name and image; Compose drops its own
	 * com.docker.compose.* labels from what it prints. */
	if (json_object_object_get_ex(c->config, "labels", &labels)) {
		json_object_object_foreach(labels, k, v)
		{
			if (!str_has_prefix(k, "com.docker.compose."))
				json_object_object_add(attrs, k, json_object_get(v));
		}
	}
	json_object_object_add(attrs, "name", json_object_new_string(c->name));
	json_object_object_add(attrs, "image",
			       json_object_new_string(state_str(c->config, "image")));
	if (key) {
		_cleanup_free_ char *v = xasprintf("%lld", val);

		json_object_object_add(attrs, key, json_object_new_string(v));
	}
	json_object_object_add(ev, "attributes", attrs);
	return ev;
}

void sup_event(struct sup_ctr *c, const char *action, const char *key, long long val)
{
	struct sup_sub *sub;
	struct json_object *ev;

	if (!c->s->subs)
		return;
	ev = event_new(c, action, key, val);
	for (sub = c->s->subs; sub; sub = sub->next) {
		if (sup_client_queued(sub->cl) > SUB_MAX_QUEUED) {
			sub->dropped++;
			continue;
		}
		if (sub->dropped) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "event", json_object_new_string("dropped"));
			json_object_object_add(d, "count",
					       json_object_new_int64((int64_t)sub->dropped));
			sup_client_send(sub->cl, d);
			sub->dropped = 0;
		}
		sup_client_send(sub->cl, json_object_get(ev));
	}
	json_object_put(ev);
}

/* ---- the CLI's side ---- */

static int send_line(int fd, struct json_object *req)
{
	_cleanup_free_ char *line =
		xasprintf("%s\n", json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN));
	size_t len = strlen(line);

	return write(fd, line, len) == (ssize_t)len ? 0 : -1;
}

/* One connection's events, until the supervisor closes it (it exits) or fn says stop. */
static int stream(const struct super_client *cl, int fd, super_event_fn fn, void *arg,
		  bool *subscribed, struct stk_err *err)
{
	struct json_object *req = json_object_new_object();
	_cleanup_fclose_ FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	int sent;

	(void)cl;
	json_object_object_add(req, "op", json_object_new_string("subscribe"));
	sent = send_line(fd, req);
	json_object_put(req);
	if (sent < 0)
		return stk_err_sys(err, "send to the supervisor");
	f = fdopen(dup(fd), "re");
	if (!f)
		return stk_err_sys(err, "read from the supervisor");
	while (getline(&line, &cap, f) > 0) {
		struct json_object *ev = json_tokener_parse(line);
		const char *kind = state_str(ev, "event");

		if (!strcmp(kind, "subscribed"))
			*subscribed = true;
		else if (ev && (!strcmp(kind, "container") || !strcmp(kind, "dropped")))
			fn(ev, arg);
		json_object_put(ev);
	}
	free(line);
	return 0;
}

void super_events_notify(const struct super_client *cl, const char *project, const char *id,
			 const char *action)
{
	_cleanup_close_ int fd = sup_connect(&cl->paths, project);
	struct json_object *req;
	char buf[256];

	/* No supervisor: nobody subscribed, nothing to tell. */
	if (fd < 0)
		return;
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("notify"));
	json_object_object_add(req, "id", json_object_new_string(id));
	json_object_object_add(req, "action", json_object_new_string(action));
	if (send_line(fd, req) == 0)
		while (read(fd, buf, sizeof(buf)) < 0 && errno == EINTR)
			;
	json_object_put(req);
}

int super_events(const struct super_client *cl, const char *project, super_event_fn fn, void *arg,
		 struct stk_err *err)
{
	int failures = 0;

	/* The supervisor exits after `down` (or when nothing runs and we were its only
	 * client at that moment): start one again, for the project's next `up`. */
	for (;;) {
		_cleanup_close_ int fd = -1, lock = -1;
		bool subscribed = false;

		/* Under the project lock, as up and down: never start a supervisor while a down
		 * is removing the project's runtime directory, nor a second one beside up's. */
		if (state_project_lock(&cl->paths, project, &lock, err) < 0)
			return -1;
		fd = sup_connect(&cl->paths, project);
		if (fd < 0) {
			if (sup_spawn(cl, project, err) < 0)
				return -1;
			fd = sup_connect(&cl->paths, project);
			if (fd < 0)
				return stk_err_sys(err, "connect to the supervisor of %s", project);
		}
		close(stk_steal_fd(&lock));
		if (stream(cl, fd, fn, arg, &subscribed, err) < 0)
			return -1;
		/* A supervisor on its way out closes without answering: try again, a few times. */
		failures = subscribed ? 0 : failures + 1;
		if (failures > 50)
			return stk_err_set(err, EIO, "the supervisor of %s does not answer",
					   project);
		if (!subscribed)
			poll(NULL, 0, 20);
	}
}

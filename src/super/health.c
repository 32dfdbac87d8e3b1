/* Healthchecks: the service's test (or the image's HEALTHCHECK) run as an exec in the
 * container on a timer, with Docker's interval, timeout, retries, start_period and
 * start_interval. Until the first passing check stack probes on a doubling schedule
 * from 50 ms up to start_interval (interval when none is set), so a service is seen
 * healthy within tens of milliseconds of being so; output from the container before
 * then ("ready to accept connections") asks for a probe at once, besides. After the first
 * pass it follows interval exactly. The label io.stack.healthcheck.fast-start=false turns
 * both off. The last probes and their counts go to state.json. */
#include "super/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/str.h"

#define FAST_FIRST_MS 50
/* Probes asked for by output: one at a time, starts at least HINT_GAP_MS apart; after
 * HINT_BURST in a row, each also waits as long as the previous one ran. */
#define HINT_GAP_MS 20
#define HINT_BURST 3
#define NS_PER_MS 1000000LL

const char *sup_health_name(enum sup_health_status s)
{
	static const char *const names[] = {"", "starting", "healthy", "unhealthy"};

	return names[s];
}

static long long ms_or(long long ns, long long dflt_ms)
{
	return ns > 0 ? ns / NS_PER_MS : dflt_ms;
}

static long long image_ms(struct json_object *hc, const char *key)
{
	struct json_object *v;

	return hc && json_object_object_get_ex(hc, key, &v) ? json_object_get_int64(v) / NS_PER_MS
							    : 0;
}

static char **argv_of_test(char **test, size_t n)
{
	char **argv;
	size_t i;

	if (!n || !strcmp(test[0], "NONE"))
		return NULL;
	if (!strcmp(test[0], "CMD-SHELL")) {
		if (n < 2)
			return NULL;
		argv = xcalloc(4, sizeof(char *));
		argv[0] = xstrdup("/bin/sh");
		argv[1] = xstrdup("-c");
		argv[2] = xstrdup(test[1]);
		return argv;
	}
	if (strcmp(test[0], "CMD") || n < 2)
		return NULL;
	argv = xcalloc(n, sizeof(char *));
	for (i = 1; i < n; i++)
		argv[i - 1] = xstrdup(test[i]);
	return argv;
}

static bool fast_start_enabled(const struct compose_service *svc)
{
	size_t i;

	for (i = 0; i < svc->labels.n; i++)
		if (!strcmp(svc->labels.v[i].key, "io.stack.healthcheck.fast-start") &&
		    svc->labels.v[i].value && !strcmp(svc->labels.v[i].value, "false"))
			return false;
	return true;
}

/* The service's healthcheck over the image's HEALTHCHECK, field by field, as Docker. */
static void configure(struct sup_ctr *c, struct json_object *image_config)
{
	const struct compose_service *svc = sup_ctr_service(c);
	const struct compose_healthcheck *h = svc ? &svc->healthcheck : NULL;
	struct sup_health *hl = &c->health;
	struct json_object *hc = NULL, *test;

	if (!svc || (h->present && h->disable))
		return;
	if (image_config)
		json_object_object_get_ex(image_config, "Healthcheck", &hc);
	if (h->present && h->test.n) {
		hl->argv = argv_of_test(h->test.v, h->test.n);
	} else if (hc && json_object_object_get_ex(hc, "Test", &test)) {
		size_t i, n = json_object_array_length(test);
		char **v = xcalloc(n + 1, sizeof(char *));

		for (i = 0; i < n; i++)
			v[i] = (char *)json_object_get_string(json_object_array_get_idx(test, i));
		hl->argv = argv_of_test(v, n);
		free(v);
	}
	if (!hl->argv)
		return;
	hl->interval_ms = ms_or(h->interval_ns, image_ms(hc, "Interval") ?: 30000);
	hl->timeout_ms = ms_or(h->timeout_ns, image_ms(hc, "Timeout") ?: 30000);
	hl->start_period_ms = ms_or(h->start_period_ns, image_ms(hc, "StartPeriod"));
	hl->start_interval_ms = ms_or(h->start_interval_ns, image_ms(hc, "StartInterval") ?: 5000);
	hl->retries = h->retries >= 0 ? h->retries : 3;
	if (h->retries < 0 && hc) {
		struct json_object *r;

		if (json_object_object_get_ex(hc, "Retries", &r) && json_object_get_int(r) > 0)
			hl->retries = json_object_get_int(r);
	}
	if (hl->retries <= 0)
		hl->retries = 3;
	hl->fast_start = fast_start_enabled(svc);
}

static long long now_ms(uv_loop_t *loop)
{
	return (long long)uv_now(loop);
}

static void on_timer(uv_timer_t *t);

/* When the schedule's next probe runs: the doubling schedule until the first pass
 * (capped at start_interval, or interval when the service set no start_interval), then
 * interval. */
static long long next_delay(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;
	long long cap;

	if (h->passed || !h->fast_start) {
		/* Docker probes at start_interval during start_period, else at interval. */
		if (!h->passed && now_ms(&c->s->loop) - h->started_ms < h->start_period_ms)
			return h->start_interval_ms;
		return h->interval_ms;
	}
	cap = sup_ctr_service(c) && sup_ctr_service(c)->healthcheck.start_interval_ns > 0
		      ? h->start_interval_ms
		      : h->interval_ms;
	if (!h->next_fast_ms)
		h->next_fast_ms = FAST_FIRST_MS;
	else
		h->next_fast_ms *= 2;
	if (h->next_fast_ms > cap)
		h->next_fast_ms = cap;
	return h->next_fast_ms;
}

static void schedule(struct sup_ctr *c, long long ms)
{
	uv_timer_start(&c->health.timer, on_timer, (uint64_t)(ms > 0 ? ms : 0), 0);
}

/* Arms the timer for the next probe: the schedule's, or sooner for a hint from the
 * container's output: at least HINT_GAP_MS after the previous probe started and, after
 * HINT_BURST such probes in a row, as long after it ended as it ran, so that a
 * container that writes all the time while it is not ready spends at most half of a
 * CPU on its probes, while the few lines of a server becoming ready wait for nothing. */
static void arm(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;
	long long now = now_ms(&c->s->loop), due = h->sched_due_ms;

	if (h->hinted && h->fast_start && !h->passed) {
		/* On the wall clock the probes are logged with: uv_now() is coarse. */
		long long at = h->probe_start_ns + HINT_GAP_MS * NS_PER_MS,
			  idle = 2 * h->probe_end_ns - h->probe_start_ns, wall = sup_now_ns(),
			  hint = now;

		if (h->hint_run >= HINT_BURST && at < idle)
			at = idle;
		if (h->probes && at > wall)
			hint += (at - wall + NS_PER_MS - 1) / NS_PER_MS;
		if (hint < due)
			due = hint;
	}
	schedule(c, due - now);
}

/* The schedule's next probe from now on. */
static void reschedule(struct sup_ctr *c)
{
	c->health.sched_due_ms = now_ms(&c->s->loop) + next_delay(c);
	arm(c);
}

static void record(struct sup_ctr *c)
{
	sup_ctr_write_state(c);
	sup_changed(c->s);
}

static void log_probe(struct sup_health *h)
{
	struct sup_health_probe *p;

	if (h->nlog == SUP_HEALTH_LOG) {
		memmove(h->log, h->log + 1, sizeof(h->log[0]) * (SUP_HEALTH_LOG - 1));
		h->nlog--;
	}
	p = &h->log[h->nlog++];
	p->start_ns = h->probe_start_ns;
	p->end_ns = h->probe_end_ns;
	p->exit_code = h->last_exit;
	p->by_output = h->by_output;
}

/* Does a failure now count toward retries? Before the first pass the extra probes of
 * fast start count no faster than Docker's own would, once an interval, so that a
 * service is never unhealthy sooner than under Docker. */
static bool counts(struct sup_ctr *c, long long now)
{
	struct sup_health *h = &c->health;

	if (h->passed || !h->fast_start)
		return true;
	if (now < h->count_due_ms)
		return false;
	h->count_due_ms = now + h->interval_ms;
	return true;
}

static void probe_finished(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;
	struct engine_exit ex = {.code = -1};
	struct stk_err err;
	ssize_t n = 0;
	enum sup_health_status before = h->status;
	long long now = now_ms(&c->s->loop);

	if (h->poll_open) {
		h->poll_open = false;
		uv_poll_stop(&h->poll);
		sup_ctr_handle_close(c, (uv_handle_t *)&h->poll);
	}
	if (engine_process_try_wait(&h->proc, &ex, &err) != 0)
		ex.code = -1;
	close(h->proc.pidfd);
	if (h->out_fd >= 0) {
		n = read(h->out_fd, h->output, sizeof(h->output) - 1);
		close(h->out_fd);
		h->out_fd = -1;
	}
	h->output[n > 0 ? n : 0] = '\0';
	if (h->timed_out)
		snprintf(h->output, sizeof(h->output), "Health check exceeded timeout (%llds)",
			 h->timeout_ms / 1000);
	h->probing = false;
	h->probe_end_ns = sup_now_ns();
	h->last_exit = h->timed_out ? -1 : ex.code;
	log_probe(h);
	if (!h->timed_out && ex.code == 0) {
		h->streak = 0;
		h->passed = true;
		h->hinted = false;
		h->status = HEALTH_HEALTHY;
	} else if ((h->passed || now - h->started_ms >= h->start_period_ms) && counts(c, now)) {
		/* Failures inside start_period do not count, as in Docker. */
		if (++h->streak >= h->retries)
			h->status = HEALTH_UNHEALTHY;
	}
	/* A probe asked for by output leaves the schedule as it was, unless it came due. */
	if (!h->by_output || h->passed || now >= h->sched_due_ms)
		reschedule(c);
	else
		arm(c);
	if (h->status != before)
		sup_event(c, "health_status", NULL, 0);
	/* A healthy container's probes rewrite nothing: its state is already on disk. */
	if (h->status != before || h->status != HEALTH_HEALTHY)
		record(c);
}

static void on_probe_exit(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	probe_finished(p->data);
}

static void probe_start(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;
	int pfd[2];
	struct engine_exec_spec es = {.argv = h->argv, .stdio = {-1, -1, -1}};
	struct stk_err err;
	long long now = now_ms(&c->s->loop);

	/* Output asked for it when the schedule's probe is not due yet. */
	h->by_output = h->hinted && now < h->sched_due_ms;
	h->hinted = false;
	h->probes++;
	h->output_probes += h->by_output;
	h->hint_run = h->by_output ? h->hint_run + 1 : 0;
	h->probe_start_ns = h->probe_end_ns = sup_now_ns();
	if (!c->ec || pipe2(pfd, O_CLOEXEC | O_NONBLOCK) < 0) {
		reschedule(c);
		return;
	}
	es.stdio[1] = es.stdio[2] = pfd[1];
	if (engine_exec(c->ec, &es, &h->proc, &err) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		snprintf(h->output, sizeof(h->output), "%s", err.msg);
		h->last_exit = -1;
		log_probe(h);
		if (counts(c, now) && ++h->streak >= h->retries && h->status != HEALTH_UNHEALTHY) {
			h->status = HEALTH_UNHEALTHY;
			sup_event(c, "health_status", NULL, 0);
		}
		record(c);
		reschedule(c);
		return;
	}
	close(pfd[1]);
	h->out_fd = pfd[0];
	h->probing = true;
	h->timed_out = false;
	uv_poll_init(&c->s->loop, &h->poll, h->proc.pidfd);
	h->poll.data = c;
	c->handles++;
	h->poll_open = true;
	uv_poll_start(&h->poll, UV_READABLE, on_probe_exit);
	schedule(c, h->timeout_ms); /* the timer is the probe's timeout meanwhile */
}

static void on_timer(uv_timer_t *t)
{
	struct sup_ctr *c = t->data;
	struct sup_health *h = &c->health;

	if (!h->probing) {
		probe_start(c);
		return;
	}
	/* Timed out: kill the probe; its exit finishes it. */
	h->timed_out = true;
	syscall(SYS_pidfd_send_signal, h->proc.pidfd, SIGKILL, NULL, 0);
}

void sup_health_output(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;

	if (!h->timer_open || !h->fast_start || h->passed || h->hinted ||
	    h->status == HEALTH_UNHEALTHY)
		return;
	h->hinted = true;
	if (!h->probing)
		arm(c);
}

struct json_object *sup_health_json(const struct sup_ctr *c)
{
	const struct sup_health *h = &c->health;
	struct json_object *o = json_object_new_object(), *log = json_object_new_array();
	int i;

	json_object_object_add(o, "status", json_object_new_string(sup_health_name(h->status)));
	json_object_object_add(o, "failing_streak", json_object_new_int(h->streak));
	json_object_object_add(o, "last_exit_code", json_object_new_int(h->last_exit));
	json_object_object_add(o, "last_output", json_object_new_string(h->output));
	json_object_object_add(o, "probes", json_object_new_int64(h->probes));
	json_object_object_add(o, "output_probes", json_object_new_int64(h->output_probes));
	for (i = 0; i < h->nlog; i++) {
		struct json_object *p = json_object_new_object();

		json_object_object_add(p, "start", json_object_new_int64(h->log[i].start_ns));
		json_object_object_add(p, "end", json_object_new_int64(h->log[i].end_ns));
		json_object_object_add(p, "exit_code", json_object_new_int(h->log[i].exit_code));
		json_object_object_add(p, "trigger",
				       json_object_new_string(h->log[i].by_output ? "output"
										  : "schedule"));
		json_object_array_add(log, p);
	}
	json_object_object_add(o, "log", log);
	return o;
}

void sup_health_start(struct sup_ctr *c, struct json_object *image_config)
{
	struct sup_health *h = &c->health;

	sup_health_stop(c);
	memset(h, 0, sizeof(*h));
	h->out_fd = -1;
	configure(c, image_config);
	if (!h->argv)
		return;
	h->status = HEALTH_STARTING;
	h->started_ms = now_ms(&c->s->loop);
	h->count_due_ms = h->started_ms + h->interval_ms;
	uv_timer_init(&c->s->loop, &h->timer);
	h->timer.data = c;
	c->handles++;
	h->timer_open = true;
	reschedule(c);
}

void sup_health_stop(struct sup_ctr *c)
{
	struct sup_health *h = &c->health;
	size_t i;

	if (h->probing) {
		syscall(SYS_pidfd_send_signal, h->proc.pidfd, SIGKILL, NULL, 0);
		close(h->proc.pidfd);
		h->probing = false;
	}
	if (h->poll_open) {
		h->poll_open = false;
		uv_poll_stop(&h->poll);
		sup_ctr_handle_close(c, (uv_handle_t *)&h->poll);
	}
	if (h->out_fd > 0)
		close(h->out_fd);
	h->out_fd = -1;
	if (h->timer_open) {
		h->timer_open = false;
		uv_timer_stop(&h->timer);
		sup_ctr_handle_close(c, (uv_handle_t *)&h->timer);
	}
	for (i = 0; h->argv && h->argv[i]; i++)
		free(h->argv[i]);
	free(h->argv);
	h->argv = NULL;
}

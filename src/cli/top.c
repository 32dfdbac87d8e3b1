/* `top [SERVICE...]`: the processes of each running container, from its cgroup, as
 * `docker compose top` prints them (ps -ef's columns, one table per container). */
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/daily.h"
#include "engine/engine.h"
#include "util/cleanup.h"
#include "util/str.h"

enum { COL_UID, COL_PID, COL_PPID, COL_C, COL_STIME, COL_TTY, COL_TIME, COL_CMD, NCOL };
static const char *const titles[NCOL] = {"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"};

struct proc_row {
	char *col[NCOL];
};

static long long boot_time(void)
{
	_cleanup_free_ char *s = str_read_file("/proc/stat", NULL);
	char *p = s ? strstr(s, "\nbtime ") : NULL;

	return p ? atoll(p + 7) : 0;
}

static char *user_of(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/status", (int)pid);
	_cleanup_free_ char *s = str_read_file(path, NULL);
	char *p = s ? strstr(s, "\nUid:") : NULL;
	unsigned ruid, euid;
	struct passwd *pw;

	if (!p || sscanf(p + 5, "%u %u", &ruid, &euid) != 2)
		return xstrdup("?");
	pw = getpwuid(euid);
	return pw ? xstrdup(pw->pw_name) : xasprintf("%u", euid);
}

static char *cmd_of(pid_t pid, const char *comm)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", (int)pid);
	size_t len = 0, i;
	char *s = str_read_file(path, &len);

	if (!s || len == 0) {
		free(s);
		return xasprintf("[%s]", comm);
	}
	for (i = 0; i + 1 < len; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return s;
}

static char *tty_of(unsigned long long nr)
{
	unsigned maj = major((dev_t)nr), min = minor((dev_t)nr);

	if (nr == 0)
		return xstrdup("?");
	if (maj >= 136 && maj <= 143)
		return xasprintf("pts/%u", (maj - 136) * 256 + min);
	if (maj == 4 && min < 64)
		return xasprintf("tty%u", min);
	return xstrdup("?");
}

/* ps's STIME: the time of day within 24 hours, else month and day, else the year. */
static char *stime_of(time_t start, time_t now)
{
	struct tm tm;
	char buf[16];

	localtime_r(&start, &tm);
	strftime(buf, sizeof(buf),
		 now - start < 24 * 3600     ? "%H:%M"
		 : now - start < 365 * 86400 ? "%b%d"
					     : "%Y",
		 &tm);
	return xstrdup(buf);
}

/* One process from /proc/<pid>/stat; false when it has gone meanwhile. */
static bool read_proc(pid_t pid, long long btime, struct proc_row *r)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *s = str_read_file(path, NULL);
	char *open = s ? strchr(s, '(') : NULL, *close = s ? strrchr(s, ')') : NULL;
	_cleanup_free_ char *comm = NULL;
	unsigned long long tty, utime, stime, start;
	int ppid;
	long hz = sysconf(_SC_CLK_TCK);
	double uptime = 0, secs, cpu;
	_cleanup_free_ char *up = str_read_file("/proc/uptime", NULL);
	long long t;
	time_t now = time(NULL);

	if (!open || !close || close < open)
		return false;
	comm = xstrndup(open + 1, (size_t)(close - open - 1));
	/* After the comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime stime cutime cstime priority nice threads itrealvalue starttime. */
	if (sscanf(close + 2,
		   "%*c %d %*d %*d %llu %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
		   &ppid, &tty, &utime, &stime, &start) != 5)
		return false;
	if (up)
		uptime = strtod(up, NULL);
	secs = uptime - (double)start / (double)hz;
	cpu = secs > 0 ? (double)(utime + stime) / (double)hz / secs * 100.0 : 0;
	t = (long long)((utime + stime) / (unsigned long long)hz);
	r->col[COL_UID] = user_of(pid);
	r->col[COL_PID] = xasprintf("%d", (int)pid);
	r->col[COL_PPID] = xasprintf("%d", ppid);
	r->col[COL_C] = xasprintf("%d", (int)cpu);
	r->col[COL_STIME] =
		stime_of((time_t)(btime + (long long)(start / (unsigned long long)hz)), now);
	r->col[COL_TTY] = tty_of(tty);
	if (t >= 86400)
		r->col[COL_TIME] = xasprintf("%lld-%02lld:%02lld:%02lld", t / 86400, t / 3600 % 24,
					     t / 60 % 60, t % 60);
	else
		r->col[COL_TIME] = xasprintf("%02lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
	r->col[COL_CMD] = cmd_of(pid, comm);
	return true;
}

/* As Go's tabwriter with padding 3 and minimum width 5 (Compose's). */
static void print_table(struct proc_row *rows, size_t n)
{
	size_t w[NCOL], i, k;

	for (k = 0; k < NCOL; k++) {
		w[k] = strlen(titles[k]);
		for (i = 0; i < n; i++)
			if (strlen(rows[i].col[k]) > w[k])
				w[k] = strlen(rows[i].col[k]);
		w[k] = w[k] + 3 < 5 ? 5 : w[k] + 3;
	}
	daily_print_row(titles, w, NCOL);
	for (i = 0; i < n; i++)
		daily_print_row((const char *const *)rows[i].col, w, NCOL);
}

static int top_one(const struct state_container *c, long long btime)
{
	struct engine_container *ec = NULL;
	struct proc_row *rows = NULL;
	pid_t *pids = NULL;
	size_t n = 0, nr = 0, i, k;
	struct stk_err err;

	if (daily_open(c, &ec, &err) < 0 || engine_processes(ec, &pids, &n, &err) < 0) {
		engine_container_free(ec);
		/* It stopped meanwhile: nothing to show, as Compose. */
		return 0;
	}
	rows = xcalloc(n + 1, sizeof(*rows));
	for (i = 0; i < n; i++)
		if (read_proc(pids[i], btime, &rows[nr]))
			nr++;
	printf("%s\n", state_str(c->config, "name"));
	print_table(rows, nr);
	printf("\n");
	for (i = 0; i < nr; i++)
		for (k = 0; k < NCOL; k++)
			free(rows[i].col[k]);
	free(rows);
	free(pids);
	engine_container_free(ec);
	return 0;
}

int cli_top(struct cli_globals *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		CLI_GLOBAL_OPTIONS,
		{0},
	};
	struct daily_set set;
	long long btime = boot_time();
	size_t i;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs("Usage: stack top [SERVICES...]\n\nDisplay the running processes\n",
			      stdout);
			return CLI_OK;
		}
		if ((rc = cli_other_option(g, "top", c, argv)))
			return rc;
	}
	if ((rc = cli_reject_abbreviations("top", argv, 1, optind, opts)))
		return rc;
	if (daily_load(g, argv + optind, (size_t)(argc - optind), &set) < 0)
		return CLI_FAIL;
	for (i = 0; i < set.n; i++)
		if (daily_wanted(&set.v[i], argv + optind, (size_t)(argc - optind)) &&
		    state_container_running(&set.v[i]))
			top_one(&set.v[i], btime);
	daily_release(&set);
	return CLI_OK;
}

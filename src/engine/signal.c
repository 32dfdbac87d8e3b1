/* Signal names as Docker accepts them (stop_signal, kill -s). */
#include "engine/engine.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},       {"INT", SIGINT},	  {"QUIT", SIGQUIT},	 {"ILL", SIGILL},
	{"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},	 {"BUS", SIGBUS},
	{"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},	 {"SEGV", SIGSEGV},
	{"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},	 {"TERM", SIGTERM},
	{"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},	 {"STOP", SIGSTOP},
	{"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},	 {"URG", SIGURG},
	{"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
	{"WINCH", SIGWINCH},   {"IO", SIGIO},	  {"POLL", SIGPOLL},	 {"PWR", SIGPWR},
	{"SYS", SIGSYS},
};

int engine_signal_parse(const char *s, int *sig, struct stk_err *err)
{
	const char *name = s;
	char *end;
	size_t i;

	if (!s || !*s)
		return stk_err_set(err, EINVAL, "empty signal");
	if (isdigit((unsigned char)*s)) {
		long v = strtol(s, &end, 10);

		if (*end || v <= 0 || v >= NSIG)
			return stk_err_set(err, EINVAL, "invalid signal \"%s\"", s);
		*sig = (int)v;
		return 0;
	}
	if (strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (strcasecmp(name, signals[i].name) == 0) {
			*sig = signals[i].sig;
			return 0;
		}
	if (strncasecmp(name, "RTMIN+", 6) == 0) {
		long v = strtol(name + 6, &end, 10);

		if (!*end && v >= 0 && SIGRTMIN + v <= SIGRTMAX) {
			*sig = SIGRTMIN + (int)v;
			return 0;
		}
	}
	return stk_err_set(err, EINVAL, "invalid signal \"%s\"", s);
}

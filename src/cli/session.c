/* The CLI's side of a process in a container (exec, run): one poll loop over the
 * process's pidfd, its pty and stdin, and a signalfd. With a pty the user's terminal is
 * raw, so keys (Ctrl-C included) reach the process's own terminal, which sends the
 * signal; its window size follows ours. Without one, signals sent to the CLI are passed
 * on, as `docker compose exec -T` and `run -T` do. */
#include "cli/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

static void session_sigset(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(set, forwarded[i]);
}

void cli_session_block(struct cli_session *s)
{
	sigset_t set;

	session_sigset(&set);
	sigprocmask(SIG_BLOCK, &set, &s->oldmask);
}

void cli_session_unblock(struct cli_session *s)
{
	sigprocmask(SIG_SETMASK, &s->oldmask, NULL);
}

/* The pty gets our terminal's size (when stdin or stdout is one). */
static void session_resize(int pty)
{
	struct winsize ws;

	if (ioctl(0, TIOCGWINSZ, &ws) == 0 || ioctl(1, TIOCGWINSZ, &ws) == 0)
		ioctl(pty, TIOCSWINSZ, &ws);
}

void cli_session_winsize(unsigned short *rows, unsigned short *cols)
{
	struct winsize ws = {0};

	if (ioctl(0, TIOCGWINSZ, &ws) < 0 && ioctl(1, TIOCGWINSZ, &ws) < 0)
		memset(&ws, 0, sizeof(ws));
	*rows = ws.ws_row;
	*cols = ws.ws_col;
}

/* Copy what is readable now; false at end of input (or when `to` is gone). */
static bool session_copy(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	while (n > 0) {
		ssize_t w = write(to, buf, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		n -= w;
	}
	return true;
}

static void session_signals(struct cli_session *s, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGWINCH) {
			if (s->pty >= 0)
				session_resize(s->pty);
			continue;
		}
		/* Typed at the terminal we share: the kernel sent it to the process too. */
		if (s->pty < 0 && si.ssi_code == SI_KERNEL)
			continue;
		if (s->signal)
			s->signal((int)si.ssi_signo, s->arg);
	}
}

/* What the process wrote last: the kernel hands a pty's output to the master from a
 * work queue, so some may still be on its way when the exit is seen. Read up to EIO (no
 * slave left open), or until nothing came for a while (a background process of an exec
 * still holds the slave). */
static void session_drain(int pty)
{
	struct pollfd q = {.fd = pty, .events = POLLIN};

	while (pty >= 0 && poll(&q, 1, 200) > 0 && session_copy(pty, 1))
		;
}

static int session_loop(struct cli_session *s, int sfd, struct stk_err *err)
{
	bool in = s->pty >= 0 && s->stdin_open;

	for (;;) {
		struct pollfd p[4] = {
			{.fd = s->pidfd, .events = POLLIN},
			{.fd = sfd, .events = POLLIN},
			{.fd = s->pty, .events = POLLIN},
			{.fd = in ? 0 : -1, .events = POLLIN},
		};

		if (poll(p, 4, -1) < 0) {
			if (errno == EINTR)
				continue;
			return stk_err_sys(err, "poll");
		}
		if (p[1].revents & POLLIN)
			session_signals(s, sfd);
		/* A pty whose every slave closed reads EIO: only the pidfd is left to wait for. */
		if ((p[2].revents & (POLLIN | POLLHUP | POLLERR)) && !session_copy(s->pty, 1))
			s->pty = -1, in = false;
		if ((p[3].revents & (POLLIN | POLLHUP)) && s->pty >= 0 && !session_copy(0, s->pty))
			in = false;
		if (p[0].revents & POLLIN) {
			session_drain(s->pty);
			return 0;
		}
	}
}

int cli_session_serve(struct cli_session *s, struct stk_err *err)
{
	_cleanup_close_ int sfd = -1;
	struct termios saved;
	sigset_t set;
	bool raw = false;
	int rc, pty = s->pty;

	session_sigset(&set);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		cli_session_unblock(s);
		return stk_err_sys(err, "signalfd");
	}
	if (s->pty >= 0) {
		fcntl(s->pty, F_SETFL, fcntl(s->pty, F_GETFL) | O_NONBLOCK);
		session_resize(s->pty);
		if (s->stdin_open && isatty(0) && tcgetattr(0, &saved) == 0) {
			struct termios t = saved;

			cfmakeraw(&t);
			raw = tcsetattr(0, TCSANOW, &t) == 0;
		}
	}
	rc = session_loop(s, sfd, err);
	s->pty = pty;
	if (raw)
		tcsetattr(0, TCSADRAIN, &saved);
	cli_session_unblock(s);
	return rc;
}

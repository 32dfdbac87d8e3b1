/* The CLI's side of a process it runs in a container (exec, run): the user's terminal
 * joined to the process's pty, or signals forwarded when there is none. */
#ifndef STK_CLI_SESSION_H
#define STK_CLI_SESSION_H

#include <signal.h>
#include <stdbool.h>

#include "util/err.h"

struct cli_session {
	int pidfd; /* readable when the process has exited */
	int pty; /* its pty master (the session copies both ways), or -1 */
	bool stdin_open; /* pty: copy stdin to it */
	/* Signals the CLI gets are passed on (SIGWINCH as a window size with a pty). */
	int (*signal)(int sig, void *arg);
	void *arg;
	sigset_t oldmask; /* filled by cli_session_block */
};

/* Block the signals the session forwards, before the process starts, so that none is
 * lost between its start and the session; cli_session_serve restores the mask. */
void cli_session_block(struct cli_session *s);
/* Serve until the process has exited and its pty is drained: the terminal raw while the
 * pty is copied, its size given to the pty now and at each SIGWINCH, other signals
 * passed to s->signal. A Ctrl-C typed at a terminal reaches the process through its pty,
 * or directly when it shares the CLI's terminal, and is not passed on again. */
int cli_session_serve(struct cli_session *s, struct stk_err *err);
/* The size of the user's terminal (stdin's, else stdout's); 0 x 0 when neither is one. */
void cli_session_winsize(unsigned short *rows, unsigned short *cols);
/* Restore the signal mask without serving (the process did not start). */
void cli_session_unblock(struct cli_session *s);

#endif

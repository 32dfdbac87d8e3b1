/* stack-init: the small static PID 1 for `init: true`. It starts the command, passes
 * every signal it can catch on to it, reaps every zombie the container leaves, and
 * exits with the command's status (128 + signal when it was killed). It links against
 * nothing of stack, and it is all that ever runs of ours inside a container. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static int status_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 1;
}

static pid_t spawn(char **argv, const sigset_t *old)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* The command leads its own process group and, with a tty, owns the terminal. */
	setpgid(0, 0);
	if (isatty(STDIN_FILENO))
		tcsetpgrp(STDIN_FILENO, getpid());
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "stack-init: exec %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int main(int argc, char **argv)
{
	sigset_t all, old;
	pid_t child;
	int i = 1;

	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: stack-init [--] COMMAND [ARG...]\n");
		return 2;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	child = spawn(argv + i, &old);
	if (child < 0) {
		perror("stack-init: fork");
		return 1;
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			/* To the group, so a shell's children hear a Ctrl-C too. */
			if (kill(-child, sig) < 0)
				kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);

			if (pid <= 0)
				break;
			if (pid == child)
				return status_code(status);
		}
	}
}

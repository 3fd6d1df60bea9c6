/*
 * pause: the process that holds a pod sandbox's namespaces open.
 *
 * It does nothing but wait: as PID 1 of a pod with a shared PID namespace it
 * reaps the zombies other containers leave behind, and it exits cleanly on
 * SIGINT or SIGTERM so that stopping the sandbox is quick.
 *
 * Built static and small: gcc -static -Os -s -o pause pause.c
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "3.10"
#endif

static void say(const char *s) {
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void on_term(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	(void)sig;
	int saved = errno;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
	errno = saved;
}

int main(int argc, char **argv) {
	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		say("pause.c " VERSION " (kedge)\n");
		return 0;
	}
	if (getpid() != 1) {
		say("Warning: pause should be the first process\n");
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);

	sa.sa_handler = on_term;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
		return 1;

	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	if (sigaction(SIGCHLD, &sa, NULL) < 0)
		return 2;

	for (;;)
		pause();
	return 42; /* not reached */
}

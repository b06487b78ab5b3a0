/*
 * supervise.c - AutoRestart: a small parent that runs the filter as its
 * child and starts it again when it dies (lib/restart.c has the policy:
 * how many restarts, within how long).
 *
 * Owns the supervisor's life: the fork, the wait, the signals it passes
 * on, and a log line for every death and restart. Why: libmilter can be
 * killed by one malformed packet (an odd number of strings in a macro
 * packet crashes libmilter 8.17 in smfi_getsymval), and every open session
 * with it; as OpenDKIM does with AutoRestart, the daemon survives that.
 *
 * main() calls supervise() after everything that needs root and before
 * any thread (a fork keeps only the calling thread): the listening socket
 * is open, the PID file names this process, privileges are dropped. The
 * child inherits the listening socket, so the MTA's connections wait in
 * its backlog across a restart; the spool and Redis are opened by each
 * child (the spool's flock dies with the child that held it).
 * Signals: SIGTERM, SIGINT and SIGHUP are passed on and end the
 * supervisor with the child; SIGUSR1 (reload, reopen the log) is passed
 * on. If the supervisor itself is killed, the child gets SIGKILL too
 * (PR_SET_PDEATHSIG): kill -9 still stops the daemon.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"
#include "relaydiag/log.h"

#define SUPERVISE_PAUSE_NS (200 * 1000 * 1000) /* between restarts */

/* supervise_now_ms - CLOCK_MONOTONIC in milliseconds */
static int64_t
supervise_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* supervise_fork - a child that goes on as the filter: 0 in it */
static pid_t
supervise_fork(const sigset_t *old)
{
	pid_t parent = getpid(), pid;

	if ((pid = fork()) != 0)
		return (pid);
	/* The filter: dies with the supervisor, takes its signals again. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(EXIT_FAILURE); /* the supervisor died before prctl */
	signal(SIGCHLD, SIG_DFL);
	sigprocmask(SIG_SETMASK, old, NULL);
	return (0);
}

/* supervise_how - how the child ended, in words */
static void
supervise_how(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)%s",
		    WTERMSIG(st), strsignal(WTERMSIG(st)),
		    WCOREDUMP(st) ? ", core dumped" : "");
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
}

/* supervise_status - the supervisor's own exit status for the child's */
static int
supervise_status(int st)
{
	if (WIFEXITED(st))
		return (WEXITSTATUS(st));
	return (EXIT_FAILURE);
}

int
supervise(const struct rd_restart_rate *rate)
{
	struct timespec pause = {0, SUPERVISE_PAUSE_NS};
	struct rd_restart r;
	sigset_t set, old;
	siginfo_t info;
	bool stopping = false;
	char how[128];
	pid_t child, w;
	int sig, st;

	rd_restart_init(&r, rate);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);

	if ((child = supervise_fork(&old)) == 0)
		return (0);
	if (child < 0) {
		rd_log(LOG_CRIT, NULL,
		    "AutoRestart: cannot fork the filter "
		    "process: %s",
		    strerror(errno));
		exit(EXIT_FAILURE);
	}
	rd_log(LOG_INFO, NULL,
	    "AutoRestart: supervisor %ld started the "
	    "filter process %ld (AutoRestartRate %u/%us)",
	    (long)getpid(), (long)child, r.rate.n, r.rate.t);
	for (;;) {
		if ((sig = sigwaitinfo(&set, &info)) < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD) {
			if (sig != SIGUSR1)
				stopping = true;
			if (child > 0)
				(void)kill(child, sig);
			continue;
		}
		while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
			if (w != child)
				continue;
			child = -1;
			if (stopping || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
				exit(supervise_status(st));
			supervise_how(st, how, sizeof(how));
			if (!rd_restart_allow(&r, supervise_now_ms())) {
				rd_log(LOG_CRIT, NULL,
				    "AutoRestart: the filter "
				    "process %ld %s: %u restarts within %u s "
				    "already (AutoRestartRate %u/%us); giving "
				    "up",
				    (long)w, how, r.rate.n, r.rate.t, r.rate.n,
				    r.rate.t);
				exit(EXIT_FAILURE);
			}
			nanosleep(&pause, NULL);
			if ((child = supervise_fork(&old)) == 0)
				return (0);
			if (child < 0) {
				rd_log(LOG_CRIT, NULL,
				    "AutoRestart: the filter "
				    "process %ld %s, and no new one can be "
				    "forked: %s",
				    (long)w, how, strerror(errno));
				exit(EXIT_FAILURE);
			}
			rd_log(LOG_ERR, NULL,
			    "AutoRestart: the filter process "
			    "%ld %s; started %ld in its place (restart %llu; "
			    "%u within the last %u s, AutoRestartRate %u/%us)",
			    (long)w, how, (long)child,
			    (unsigned long long)r.total, r.count, r.rate.t,
			    r.rate.n, r.rate.t);
		}
	}
}

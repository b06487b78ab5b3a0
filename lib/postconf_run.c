/*
 * postconf_run.c - running postconf(1) for ImportPostfix: posix_spawnp
 * with an argv (no shell), stdin /dev/null, -c DIR when a directory is
 * given, stdout and stderr read within PC_OUT_MAX and PC_ERR_MAX, a
 * deadline of PC_TIMEOUT_MS, then SIGKILL. SIGCHLD must not be ignored
 * (SIG_IGN would reap the child before waitpid sees its status).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "relaydiag/buf.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/file.h"
#include "relaydiag/netset.h"
#include "relaydiag/postconf.h"
#include "relaydiag/text.h"

#include "postconf_int.h"

extern char **environ;

/* pc_ms_left - milliseconds until deadline (CLOCK_MONOTONIC), 0 if past */
static int
pc_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return (0);
	return (ms > INT_MAX ? INT_MAX : (int)ms);
}

/* pc_command - the command line for messages: "postconf -c DIR -M" */
static void
pc_command(const struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *b)
{
	size_t i;

	rd_buf_adds(b, x->bin);
	if (x->dir != NULL)
		rd_buf_printf(b, " -c %s", x->dir);
	for (i = 0; i < nargs && i < 3; i++)
		rd_buf_printf(b, " %s", args[i]);
	if (nargs > 3)
		rd_buf_adds(b, " ...");
}

/* pc_first_line - the line of stderr that says why (fatal:), or the first */
static void
pc_first_line(const char *text, char *out, size_t outlen)
{
	const char *p, *e;

	if ((p = strstr(text, "fatal:")) != NULL)
		while (p > text && p[-1] != '\n')
			p--;
	else
		p = text;
	e = strchr(p, '\n');
	if (e == NULL)
		e = p + strlen(p);
	if ((size_t)(e - p) >= outlen)
		e = p + outlen - 1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/*
 * pc_spawn - start bin with argv, stdout and stderr to pipes; 0 with *pid
 * and the read ends, or an errno value.
 */
static int
pc_spawn(
    const char *bin, char *const argv[], pid_t *pid, int *outfd, int *errfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int op[2], ep[2], rc;

	if (pipe2(op, O_CLOEXEC) == -1)
		return (errno);
	if (pipe2(ep, O_CLOEXEC) == -1) {
		rc = errno;
		(void)close(op[0]);
		(void)close(op[1]);
		return (rc);
	}
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(
	    &fa, 0, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	(void)posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	/* The daemon blocks signals in its threads; postconf should not. */
	(void)posix_spawnattr_init(&at);
	(void)sigemptyset(&none);
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	(void)sigaddset(&dfl, SIGCHLD);
	(void)posix_spawnattr_setsigmask(&at, &none);
	(void)posix_spawnattr_setsigdefault(&at, &dfl);
	(void)posix_spawnattr_setflags(
	    &at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, bin, &fa, &at, argv, environ);
	(void)posix_spawnattr_destroy(&at);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(op[1]);
	(void)close(ep[1]);
	if (rc != 0) {
		(void)close(op[0]);
		(void)close(ep[0]);
		return (rc);
	}
	*outfd = op[0];
	*errfd = ep[0];
	return (0);
}

/*
 * pc_collect - read both pipes to their end, within the deadline, keeping
 * at most max bytes of each; -1 on timeout (the pipes are closed).
 */
static int
pc_collect(int fds[2], struct rd_buf *bufs[2], const size_t max[2],
    bool over[2], const struct timespec *deadline)
{
	struct pollfd pfd[2];
	char tmp[8192];
	ssize_t n;
	int i, np, ms;

	while (fds[0] >= 0 || fds[1] >= 0) {
		if ((ms = pc_ms_left(deadline)) == 0)
			break;
		for (i = 0; i < 2; i++) {
			pfd[i].fd = fds[i]; /* negative: ignored by poll */
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if ((np = poll(pfd, 2, ms)) <= 0) {
			if (np == -1 && errno != EINTR)
				break;
			continue;
		}
		for (i = 0; i < 2; i++) {
			if (fds[i] < 0 || pfd[i].revents == 0)
				continue;
			n = read(fds[i], tmp, sizeof(tmp));
			if (n > 0) {
				if (bufs[i]->len + (size_t)n <= max[i])
					rd_buf_add(bufs[i], tmp, (size_t)n);
				else
					over[i] = true;
			} else if (n == 0 ||
				   (errno != EINTR && errno != EAGAIN)) {
				(void)close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	if (fds[0] < 0 && fds[1] < 0)
		return (0);
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			(void)close(fds[i]);
			fds[i] = -1;
		}
	return (-1);
}

/*
 * pc_run - run postconf [-c dir] args...: its stdout into out, its stderr
 * into errout (may be NULL). 0, or -1 with x->err when it cannot run, takes
 * too long, or fails. pc_run_status: x->bin (postconf or postmap), and an
 * exit status other than 0 goes into *exit_status instead of failing.
 */
int
pc_run(struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *out, struct rd_buf *errout)
{
	return (pc_run_status(x, args, nargs, out, errout, NULL));
}

int
pc_run_status(struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *out, struct rd_buf *errout, int *exit_status)
{
	char *argv[PC_ARGS_MAX + 4];
	struct rd_buf errbuf, cmd;
	struct rd_buf *bufs[2];
	const size_t max[2] = {PC_OUT_MAX, PC_ERR_MAX};
	bool over[2] = {false, false};
	struct timespec deadline;
	char ebuf[128], why[256];
	const char *source = x->dir != NULL ? x->dir : PC_KEY;
	pid_t pid, w;
	int fds[2], status = 0, rc = -1, timed_out, e;
	size_t n = 0, i;

	if (nargs > PC_ARGS_MAX)
		rd_panic("postconf: %zu arguments", nargs);
	rd_buf_init(&errbuf);
	rd_buf_init(&cmd);
	pc_command(x, args, nargs, &cmd);
	/* posix_spawn wants char *const argv[]: give it copies. */
	memset(argv, 0, sizeof(argv));
	if ((argv[n++] = strdup(x->bin)) == NULL)
		goto oom;
	if (x->dir != NULL) {
		if ((argv[n++] = strdup("-c")) == NULL ||
		    (argv[n++] = strdup(x->dir)) == NULL)
			goto oom;
	}
	for (i = 0; i < nargs; i++)
		if ((argv[n++] = strdup(args[i])) == NULL)
			goto oom;
	argv[n] = NULL;

	if ((e = pc_spawn(x->bin, argv, &pid, &fds[0], &fds[1])) != 0) {
		rd_err_set(x->err, source, 0,
		    "cannot run %s: %s; is Postfix installed? (ImportPostfix "
		    "reads Postfix's configuration with postconf)",
		    x->bin, strerror_r(e, ebuf, sizeof(ebuf)));
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PC_TIMEOUT_MS / 1000;
	bufs[0] = out;
	bufs[1] = &errbuf;
	timed_out = pc_collect(fds, bufs, max, over, &deadline);
	if (timed_out)
		(void)kill(pid, SIGKILL);
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (timed_out) {
		rd_err_set(x->err, source, 0,
		    "%s did not finish within %d s (killed)", cmd.data,
		    PC_TIMEOUT_MS / 1000);
		goto done;
	}
	if (w == -1) {
		rd_err_set(x->err, source, 0,
		    "%s: waitpid: %s (SIGCHLD must not be ignored)", cmd.data,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	pc_first_line(errbuf.data, why, sizeof(why));
	if (WIFSIGNALED(status)) {
		rd_err_set(x->err, source, 0, "%s was killed by signal %d%s%s",
		    cmd.data, WTERMSIG(status), why[0] != '\0' ? ": " : "",
		    why);
		goto done;
	}
	if (exit_status != NULL && WIFEXITED(status))
		*exit_status = WEXITSTATUS(status);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rd_err_set(x->err, source, 0, "%s failed (exit status %d)%s%s",
		    cmd.data, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    why[0] != '\0' ? ": " : "", why);
		goto done;
	}
	if (over[0]) {
		rd_err_set(x->err, source, 0,
		    "%s: more than %u bytes of output", cmd.data, PC_OUT_MAX);
		goto done;
	}
	if (errout != NULL)
		rd_buf_add(errout, errbuf.data, errbuf.len);
	rc = 0;
	goto done;
oom:
	rd_err_set(x->err, source, 0, "out of memory");
done:
	for (i = 0; i < n; i++)
		free(argv[i]);
	rd_buf_free(&cmd);
	rd_buf_free(&errbuf);
	return (rc);
}

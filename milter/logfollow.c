/*
 * logfollow.c - the log follower's transport: LogFile read as it grows,
 * line by line, into the log front end (lib/logline.c parses a line,
 * lib/logfront.c turns it into events).
 *
 * Owns the file: one thread in the filter process, started after the
 * privilege drop (so relaydiag's user must be able to read the log: on
 * Debian, "adduser relaydiag adm"), and the position it has read to,
 * kept in SpoolDir/log-position ("<inode> <offset>", written atomically
 * after every batch and at stop).
 *  - Start: the saved position when it names this file (same inode, an
 *    offset within it); when the file was rotated meanwhile, the rest of
 *    the old one first (LogFile.1 with the saved inode), then the new one
 *    from its start; with no saved position, the end (like tail -f: the
 *    past is not replayed).
 *  - Rotation while running: a rename (logrotate's default) is noticed by
 *    the inode of the path changing: the old file is read to its end,
 *    then the new one from its start; copytruncate by the size falling
 *    below the offset: read again from 0.
 *  - A clean restart neither repeats nor skips a line; a crash may repeat
 *    the lines of the last batch (at least once, as the publisher).
 * A line longer than RD_LOGLINE_MAX is read cut (its parse says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "milter.h"
#include "relaydiag/log.h"
#include "relaydiag/logfront.h"
#include "relaydiag/logline.h"
#include "relaydiag/snapshot.h"
#include "relaydiag/text.h"

#define LF_POLL_MS 200     /* how often EOF is looked past */
#define LF_BUF (64 * 1024) /* one read */
#define LF_WARN_EVERY_S 60 /* a missing or unreadable log, said again */

struct lf_state {
	char path[4096];
	char state[4096];
	struct logfollow_services sv;
	int fd;
	ino_t ino;
	off_t off;           /* bytes of the file consumed (complete lines) */
	char *line;          /* a partial line carried to the next read */
	size_t len;          /* its bytes kept (at most RD_LOGLINE_MAX) */
	off_t carried_bytes; /* its bytes in the file (kept or not) */
	bool line_cut;
	time_t warned;
	unsigned long long lines;
};

static struct lf_state lf;
static pthread_t lf_tid;
static int lf_stop_pipe[2] = {-1, -1};
static bool lf_running;

/* lf_save - the position, atomically (write a temporary, rename) */
static void
lf_save(void)
{
	char tmp[4200];
	FILE *fp;

	if (lf.fd < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", lf.state);
	if ((fp = fopen(tmp, "w")) == NULL)
		return;
	fprintf(
	    fp, "%llu %lld\n", (unsigned long long)lf.ino, (long long)lf.off);
	if (fclose(fp) != 0 || rename(tmp, lf.state) != 0)
		rd_log(LOG_WARNING, NULL, "log: cannot save the position in %s",
		    lf.state);
}

/* lf_load - the saved position; false when there is none */
static bool
lf_load(unsigned long long *ino, long long *off)
{
	FILE *fp;
	int n;

	if ((fp = fopen(lf.state, "r")) == NULL)
		return (false);
	n = fscanf(fp, "%llu %lld", ino, off);
	(void)fclose(fp);
	return (n == 2 && *off >= 0);
}

/* lf_services - the engine's view of the front end's services */
static void
lf_services(const struct logfollow_services *ls, struct rd_config *cfg,
    struct rd_logfront_services *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->cfg = cfg;
	sv->sink = ls->sink;
	sv->history = ls->history;
	sv->dns = ls->dns;
	sv->authfails = ls->authfails;
	sv->outbound = ls->outbound;
	sv->seen = ls->seen;
	sv->wait = ls->logwait;
}

void
logfollow_handle(
    const struct logfollow_services *ls, const char *p, size_t n, bool cut)
{
	struct rd_logfront_services sv;
	struct rd_config *cfg;
	struct rd_logrec r;
	time_t now = time(NULL);

	if ((cfg = rd_snapshot_acquire()) == NULL)
		return;
	if (rd_logline_parse(p, n, cfg->log_formats, now, &r) != RD_LOG_OTHER) {
		r.cut |= cut;
		lf_services(ls, cfg, &sv);
		rd_logfront_handle(&sv, &r, now);
	}
	rd_snapshot_release(cfg);
}

void
logfollow_tick(const struct logfollow_services *ls, bool flush)
{
	struct rd_logfront_services sv;
	struct rd_config *cfg;

	if (ls->logwait == NULL || (cfg = rd_snapshot_acquire()) == NULL)
		return;
	lf_services(ls, cfg, &sv);
	rd_logfront_tick(&sv, time(NULL), flush);
	rd_snapshot_release(cfg);
}

/* lf_handle - one complete line of the file */
static void
lf_handle(const char *p, size_t n, bool cut)
{
	lf.lines++;
	logfollow_handle(&lf.sv, p, n, cut);
}

/* lf_feed - bytes read: complete lines handled, the rest carried */
static void
lf_feed(const char *buf, size_t n)
{
	const char *p = buf, *nl;
	size_t k, keep;

	while ((nl = memchr(p, '\n', n - (size_t)(p - buf))) != NULL) {
		k = (size_t)(nl - p);
		if (lf.len > 0 || lf.carried_bytes > 0) {
			/* the carried start of this line, then this part */
			keep = k;
			if (lf.len + keep > RD_LOGLINE_MAX) {
				keep = RD_LOGLINE_MAX - lf.len;
				lf.line_cut = true;
			}
			memcpy(lf.line + lf.len, p, keep);
			lf_handle(lf.line, lf.len + keep, lf.line_cut);
		} else
			lf_handle(p, k, false);
		lf.off += lf.carried_bytes + (off_t)k + 1;
		lf.carried_bytes = 0;
		lf.len = 0;
		lf.line_cut = false;
		p = nl + 1;
	}
	/* a partial line: carry its start (at most RD_LOGLINE_MAX bytes) */
	k = n - (size_t)(p - buf);
	lf.carried_bytes += (off_t)k;
	keep = k;
	if (lf.len + keep > RD_LOGLINE_MAX) {
		keep = RD_LOGLINE_MAX > lf.len ? RD_LOGLINE_MAX - lf.len : 0;
		lf.line_cut = true;
	}
	memcpy(lf.line + lf.len, p, keep);
	lf.len += keep;
}

/* lf_drain - read fd to its end now; false on a read error */
static bool
lf_drain(void)
{
	char *buf = malloc(LF_BUF);
	ssize_t n;

	if (buf == NULL)
		return (false);
	while ((n = read(lf.fd, buf, LF_BUF)) > 0) {
		lf_feed(buf, (size_t)n);
		lf_save();
	}
	free(buf);
	return (n == 0);
}

/* lf_open - the file at path; at off (clamped to its size) */
static bool
lf_open(const char *path, off_t off)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return (false);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return (false);
	}
	if (off > st.st_size)
		off = 0; /* not the file we knew: from its start */
	if (lseek(fd, off, SEEK_SET) != off) {
		(void)close(fd);
		return (false);
	}
	if (lf.fd >= 0)
		(void)close(lf.fd);
	lf.fd = fd;
	lf.ino = st.st_ino;
	lf.off = off;
	lf.len = 0;
	lf.carried_bytes = 0;
	lf.line_cut = false;
	return (true);
}

/* lf_warn - a problem with the log, said once a minute at most */
static void
lf_warn(const char *what)
{
	time_t now = time(NULL);

	if (now - lf.warned < LF_WARN_EVERY_S)
		return;
	lf.warned = now;
	rd_log(LOG_WARNING, NULL,
	    "log: %s %s: %s (relaydiag's user must be able to read it)", what,
	    lf.path, strerror(errno));
}

/* lf_start_position - where to begin, from the saved position */
static void
lf_start_position(void)
{
	unsigned long long ino;
	long long off;
	char rotated[4200];
	struct stat st;

	if (!lf_load(&ino, &off)) {
		/* first run: from the end, the past is not replayed */
		if (stat(lf.path, &st) == 0 && lf_open(lf.path, st.st_size))
			rd_log(LOG_INFO, NULL, "log: following %s from its end",
			    lf.path);
		return;
	}
	if (stat(lf.path, &st) == 0 && st.st_ino == (ino_t)ino) {
		if (lf_open(lf.path, (off_t)off))
			rd_log(LOG_INFO, NULL,
			    "log: following %s from offset %lld", lf.path, off);
		return;
	}
	/* rotated while we were away: the rest of the old file first */
	snprintf(rotated, sizeof(rotated), "%s.1", lf.path);
	if (stat(rotated, &st) == 0 && st.st_ino == (ino_t)ino &&
	    lf_open(rotated, (off_t)off)) {
		rd_log(LOG_INFO, NULL,
		    "log: %s was rotated: the rest of %s first", lf.path,
		    rotated);
		(void)lf_drain();
	}
	if (lf_open(lf.path, 0))
		rd_log(LOG_INFO, NULL, "log: following %s from its start",
		    lf.path);
}

/* lf_wait - LF_POLL_MS, or until stop: true when asked to stop */
static bool
lf_wait(void)
{
	struct pollfd pf;

	pf.fd = lf_stop_pipe[0];
	pf.events = POLLIN;
	return (poll(&pf, 1, LF_POLL_MS) > 0);
}

static void *
lf_main(void *arg)
{
	struct stat st;

	(void)arg;
	lf_start_position();
	for (;;) {
		if (lf.fd >= 0 && !lf_drain())
			lf_warn("read error on");
		logfollow_tick(&lf.sv, false);
		if (lf_wait())
			break;
		if (stat(lf.path, &st) != 0) {
			lf_warn("cannot see");
			continue; /* between a rename and the new file */
		}
		if (lf.fd < 0 || st.st_ino != lf.ino) {
			/* rotated by rename: the old one to its end, then
			   the new one from its start */
			if (lf.fd >= 0)
				(void)lf_drain();
			if (!lf_open(lf.path, 0))
				lf_warn("cannot open");
			else
				lf_save();
			continue;
		}
		if (st.st_size < lf.off) {
			/* copytruncate: the file starts again */
			(void)lf_open(lf.path, 0);
			lf_save();
		}
	}
	/* What is not read yet is read at the next start (the position is
	   saved); what waits for a join goes out now, or never would. */
	logfollow_tick(&lf.sv, true);
	lf_save();
	return (NULL);
}

int
logfollow_start(const char *path, const char *state,
    const struct logfollow_services *sv, struct rd_err *err)
{
	memset(&lf, 0, sizeof(lf));
	lf.fd = -1;
	lf.sv = *sv;
	if (rd_strlcpy(lf.path, path, sizeof(lf.path)) >= sizeof(lf.path) ||
	    rd_strlcpy(lf.state, state, sizeof(lf.state)) >= sizeof(lf.state)) {
		rd_err_set(err, "LogFile", 0, "path too long");
		return (-1);
	}
	if ((lf.line = malloc(RD_LOGLINE_MAX)) == NULL ||
	    pipe2(lf_stop_pipe, O_CLOEXEC) != 0 ||
	    pthread_create(&lf_tid, NULL, lf_main, NULL) != 0) {
		rd_err_set(
		    err, "LogFile", 0, "cannot start: %s", strerror(errno));
		return (-1);
	}
	lf_running = true;
	return (0);
}

void
logfollow_stop(void)
{
	if (!lf_running)
		return;
	if (write(lf_stop_pipe[1], "x", 1) < 0)
		rd_log(LOG_WARNING, NULL, "log: stop: %s", strerror(errno));
	(void)pthread_join(lf_tid, NULL);
	if (lf.fd >= 0)
		(void)close(lf.fd);
	free(lf.line);
	rd_log(
	    LOG_INFO, NULL, "log: %llu lines read from %s", lf.lines, lf.path);
	lf_running = false;
}

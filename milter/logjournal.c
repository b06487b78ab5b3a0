/*
 * logjournal.c - the log front end's other transport: the systemd
 * journal (LogJournal), for a Debian 12 without rsyslog, where Postfix
 * logs to journald only. Entries of the mail facility (SYSLOG_FACILITY=2)
 * become the same lines the file follower reads ("2026-12-07T03:14:47Z
 * host ident[pid]: message", logline.c's rsyslog form) and go to the same
 * handler (logfollow_handle).
 *
 * Owns the sd-journal handle and the cursor, kept in
 * SpoolDir/journal-cursor (written atomically after every batch and at
 * stop): a restart goes on after the last entry read, neither repeating
 * nor skipping one; with no cursor it starts at the end. New entries are
 * waited for on the journal's own descriptor (sd_journal_get_fd), with a
 * stop pipe beside it. relaydiag's user must be able to read the journal
 * (Debian: "adduser relaydiag systemd-journal").
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "milter.h"
#include "relaydiag/log.h"
#include "relaydiag/logline.h"
#include "relaydiag/text.h"

#define LJ_WAIT_MS 1000 /* at most between two looks, whatever the fd says */
#define LJ_BATCH 256    /* entries between two cursor saves */

static struct {
	char spec[4096];
	char state[4096];
	struct logfollow_services sv;
	sd_journal *j;
	unsigned long long entries;
} lj;
static pthread_t lj_tid;
static int lj_stop_pipe[2] = {-1, -1};
static bool lj_running;

/* lj_save - the cursor of the current entry, atomically */
static void
lj_save(void)
{
	char tmp[4200], *cursor = NULL;
	FILE *fp;

	if (sd_journal_get_cursor(lj.j, &cursor) < 0)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", lj.state);
	if ((fp = fopen(tmp, "w")) != NULL) {
		fprintf(fp, "%s\n", cursor);
		if (fclose(fp) != 0 || rename(tmp, lj.state) != 0)
			rd_log(LOG_WARNING, NULL,
			    "journal: cannot save the cursor in %s", lj.state);
	}
	free(cursor);
}

/* lj_field - the value of field name of the current entry, or NULL */
static const char *
lj_field(const char *name, size_t *len)
{
	const void *data;
	size_t n, k = strlen(name);

	if (sd_journal_get_data(lj.j, name, &data, &n) < 0 || n <= k ||
	    ((const char *)data)[k] != '=')
		return (NULL);
	*len = n - k - 1;
	return ((const char *)data + k + 1);
}

/* lj_entry - the current entry as a log line, handled */
static void
lj_entry(void)
{
	const char *msg, *ident, *pid, *host;
	size_t mlen, ilen = 0, plen = 0, hlen = 0, n;
	char *line, stamp[40];
	uint64_t usec = 0;
	struct tm tm;
	time_t t;

	if ((msg = lj_field("MESSAGE", &mlen)) == NULL)
		return;
	if ((ident = lj_field("SYSLOG_IDENTIFIER", &ilen)) == NULL)
		ident = "-", ilen = 1;
	if ((pid = lj_field("SYSLOG_PID", &plen)) == NULL &&
	    (pid = lj_field("_PID", &plen)) == NULL)
		pid = "0", plen = 1;
	if ((host = lj_field("_HOSTNAME", &hlen)) == NULL)
		host = "-", hlen = 1;
	(void)sd_journal_get_realtime_usec(lj.j, &usec);
	t = (time_t)(usec / 1000000);
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* bounded: a longer message is cut by the parser, and says so */
	if (mlen > RD_LOGLINE_MAX)
		mlen = RD_LOGLINE_MAX;
	if (ilen > 64)
		ilen = 64;
	if (plen > 16)
		plen = 16;
	if (hlen > 255)
		hlen = 255;
	n = strlen(stamp) + hlen + ilen + plen + mlen + 8;
	if ((line = malloc(n)) == NULL)
		return;
	n = (size_t)snprintf(line, n, "%s %.*s %.*s[%.*s]: ", stamp, (int)hlen,
	    host, (int)ilen, ident, (int)plen, pid);
	memcpy(line + n, msg, mlen);
	logfollow_handle(&lj.sv, line, n + mlen, false);
	free(line);
	lj.entries++;
}

/* lj_start_position - after the saved cursor, or at the end */
static void
lj_start_position(void)
{
	char cursor[1024];
	FILE *fp;

	cursor[0] = '\0';
	if ((fp = fopen(lj.state, "r")) != NULL) {
		if (fgets(cursor, sizeof(cursor), fp) == NULL)
			cursor[0] = '\0';
		(void)fclose(fp);
		cursor[strcspn(cursor, "\n")] = '\0';
	}
	if (cursor[0] != '\0' && sd_journal_seek_cursor(lj.j, cursor) >= 0 &&
	    sd_journal_next(lj.j) > 0) {
		if (sd_journal_test_cursor(lj.j, cursor) <= 0)
			/* that entry is gone: the one after it is new */
			(void)sd_journal_previous(lj.j);
		rd_log(LOG_INFO, NULL,
		    "journal: going on after the saved "
		    "cursor");
		return;
	}
	(void)sd_journal_seek_tail(lj.j);
	(void)sd_journal_previous(lj.j);
	rd_log(LOG_INFO, NULL, "journal: following from its end");
}

static void *
lj_main(void *arg)
{
	struct pollfd pf[2];
	unsigned batch;
	int r;

	(void)arg;
	lj_start_position();
	for (;;) {
		for (batch = 0; (r = sd_journal_next(lj.j)) > 0;) {
			lj_entry();
			if (++batch == LJ_BATCH) {
				lj_save();
				batch = 0;
			}
		}
		if (batch > 0)
			lj_save();
		logfollow_tick(&lj.sv, false);
		pf[0].fd = sd_journal_get_fd(lj.j);
		pf[0].events = (short)sd_journal_get_events(lj.j);
		pf[1].fd = lj_stop_pipe[0];
		pf[1].events = POLLIN;
		if (poll(pf, 2, LJ_WAIT_MS) > 0 &&
		    (pf[1].revents & POLLIN) != 0) {
			logfollow_tick(&lj.sv, true);
			break;
		}
		(void)sd_journal_process(lj.j);
	}
	return (NULL);
}

int
logjournal_start(const char *spec, const char *state,
    const struct logfollow_services *sv, struct rd_err *err)
{
	int r;

	memset(&lj, 0, sizeof(lj));
	lj.sv = *sv;
	if (rd_strlcpy(lj.spec, spec, sizeof(lj.spec)) >= sizeof(lj.spec) ||
	    rd_strlcpy(lj.state, state, sizeof(lj.state)) >= sizeof(lj.state)) {
		rd_err_set(err, "LogJournal", 0, "path too long");
		return (-1);
	}
	if (strcmp(spec, "yes") == 0)
		r = sd_journal_open(
		    &lj.j, SD_JOURNAL_LOCAL_ONLY | SD_JOURNAL_SYSTEM);
	else
		r = sd_journal_open_directory(&lj.j, spec, 0);
	if (r < 0) {
		rd_err_set(err, "LogJournal", 0, "cannot open %s: %s",
		    strcmp(spec, "yes") == 0 ? "the system journal" : spec,
		    strerror(-r));
		return (-1);
	}
	/* the mail facility: Postfix, Sendmail and Exim log there */
	if ((r = sd_journal_add_match(lj.j, "SYSLOG_FACILITY=2", 0)) < 0 ||
	    pipe2(lj_stop_pipe, O_CLOEXEC) != 0 ||
	    pthread_create(&lj_tid, NULL, lj_main, NULL) != 0) {
		rd_err_set(err, "LogJournal", 0, "cannot start: %s",
		    strerror(r < 0 ? -r : errno));
		sd_journal_close(lj.j);
		return (-1);
	}
	lj_running = true;
	return (0);
}

void
logjournal_stop(void)
{
	if (!lj_running)
		return;
	if (write(lj_stop_pipe[1], "x", 1) < 0)
		rd_log(LOG_WARNING, NULL, "journal: stop: %s", strerror(errno));
	(void)pthread_join(lj_tid, NULL);
	lj_save();
	sd_journal_close(lj.j);
	rd_log(LOG_INFO, NULL, "journal: %llu entries read", lj.entries);
	lj_running = false;
}

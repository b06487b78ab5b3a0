/*
 * log.c - the daemon's log: syslog, or stderr when in the foreground.
 *
 * Owns the process-wide log settings, written once by rd_log_open() before
 * any thread starts and read afterwards (the level is atomic so a reload can
 * change it). Every line starts with the session id or "-".
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "relaydiag/log.h"

static bool log_stderr;
static atomic_int log_level = LOG_INFO;

void
rd_log_open(const char *ident, int facility, bool to_stderr, int level)
{
	log_stderr = to_stderr;
	atomic_store(&log_level, level);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
rd_log_set_level(int level)
{
	atomic_store(&log_level, level);
}

bool
rd_log_enabled(int prio)
{
	return (prio <= atomic_load(&log_level));
}

static const char *
log_prio_name(int prio)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error",
	    "warning", "notice", "info", "debug"};

	if (prio < 0 || prio > LOG_DEBUG)
		return ("?");
	return (names[prio]);
}

void
rd_log(int prio, const char *sid, const char *fmt, ...)
{
	char msg[2048], *p;
	va_list ap;

	if (!rd_log_enabled(prio))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/*
	 * Callers escape network text (rd_text_log_str); this is the belt to
	 * those braces: no control byte ever splits or colours a log line.
	 */
	for (p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_stderr) {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		/* One fprintf: stdio locks the stream, lines stay whole. */
		fprintf(stderr, "%s.%03ldZ relaydiag %s: %s %s\n", when,
		    ts.tv_nsec / 1000000, log_prio_name(prio),
		    sid != NULL ? sid : "-", msg);
	} else
		syslog(prio, "%s %s", sid != NULL ? sid : "-", msg);
}

void
rd_log_callback(int prio, const char *msg)
{
	rd_log(prio, NULL, "%s", msg);
}

void
rd_log_close(void)
{
	if (!log_stderr)
		closelog();
}

/*
 * log.h - the daemon's log: syslog, or stderr in the foreground.
 *
 * Lines start with the session id (or "-") and use key=value pairs. Callers
 * pass network text only as %s of a copy made safe by rd_text_log_str().
 * rd_log_open is called once in main() before any thread starts; after that
 * rd_log is safe from every thread (syslog(3) and stdio are).
 */
#ifndef RELAYDIAG_LOG_H
#define RELAYDIAG_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* rd_log_open - ident for syslog; to_stderr for the foreground; max level */
void rd_log_open(const char *ident, int facility, bool to_stderr, int level);
void rd_log_set_level(int level);
bool rd_log_enabled(int prio);
void rd_log(int prio, const char *sid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rd_log_close(void);

/* rd_log_callback - adapter for modules that take void (*)(int, const char *)
 */
void rd_log_callback(int prio, const char *msg);

#endif

/*
 * err.h - struct rd_err: an input error with its source and line.
 *
 * lib/ functions that fail because of their input return -1 (or NULL) and
 * fill a caller-allocated struct rd_err; they neither log nor exit. Only the
 * daemon's main.c decides what to do with the error (print, log, exit).
 * The text is one line, already safe to log (no control characters).
 */
#ifndef RELAYDIAG_ERR_H
#define RELAYDIAG_ERR_H

struct rd_err {
	char source[256]; /* "relaydiag.conf", "<macro {rcpt_host}>" */
	unsigned line;    /* 0 when not from a file */
	char text[512];   /* one line, safe to log */
};

/* rd_err_clear - empty the error (source, line and text) */
void rd_err_clear(struct rd_err *err);

/*
 * rd_err_set - fill err (may be NULL: then nothing happens). The formatted
 * text is truncated to fit and control characters are replaced by '?', so
 * callers may pass network or file text as %s arguments.
 */
void rd_err_set(struct rd_err *err, const char *source, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* rd_err_format - "source:line: text" (or "source: text") into buf */
const char *rd_err_format(const struct rd_err *err, char *buf, size_t len);

/* rd_panic - a broken invariant (never input): log, then abort() */
void rd_panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif

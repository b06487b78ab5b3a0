/*
 * buf.h - struct rd_buf: a growable, always NUL-terminated byte string.
 *
 * The VSTRING/sds idea: text is built in one buffer instead of per-module
 * realloc()s. Out of memory is a broken invariant here (rd_panic): the
 * buffers are small and bounded by the callers' own limits.
 * Threads: a buffer belongs to one thread at a time.
 */
#ifndef RELAYDIAG_BUF_H
#define RELAYDIAG_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct rd_buf {
	char *data; /* NUL-terminated; never NULL after init */
	size_t len; /* bytes used, without the NUL */
	size_t cap; /* bytes allocated */
};

void rd_buf_init(struct rd_buf *b);
void rd_buf_free(struct rd_buf *b);  /* frees data; b may be reused */
void rd_buf_reset(struct rd_buf *b); /* len = 0, keeps memory */
void rd_buf_add(struct rd_buf *b, const void *p, size_t n);
void rd_buf_adds(struct rd_buf *b, const char *s);
void rd_buf_addc(struct rd_buf *b, char c);
void rd_buf_printf(struct rd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rd_buf_vprintf(struct rd_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* rd_buf_steal - give the caller the string (free() it); b is reset empty */
char *rd_buf_steal(struct rd_buf *b);

#endif

/*
 * buf.c - struct rd_buf: a growable, always NUL-terminated byte string.
 *
 * Owns the growth policy and the empty state. An empty buffer with no
 * memory (after rd_buf_init, rd_buf_free or rd_buf_steal) points at a
 * shared, never-written "" with cap 0, so data is never NULL, init cannot
 * fail, and a buffer that was stolen from needs no rd_buf_free. Every write
 * first makes room, which allocates when cap is 0.
 * Out of memory and size overflow are broken invariants here (rd_panic):
 * callers bound what they add.
 * Threads: a buffer belongs to one thread at a time; the shared "" is only
 * ever read.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/err.h"

#define BUF_MIN_CAP 64

/* Read only: the data of every buffer that owns no memory. */
static char buf_empty[1];

/* buf_reserve - make room for n more bytes plus the NUL */
static void
buf_reserve(struct rd_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > SIZE_MAX - b->len - 1)
		rd_panic("rd_buf: size overflow (len %zu + %zu)", b->len, n);
	need = b->len + n + 1;
	if (need <= b->cap)
		return;
	cap = b->cap < BUF_MIN_CAP ? BUF_MIN_CAP : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->cap == 0) {
		if ((p = malloc(cap)) == NULL)
			rd_panic("rd_buf: out of memory (%zu bytes)", cap);
		p[0] = '\0';
	} else if ((p = realloc(b->data, cap)) == NULL)
		rd_panic("rd_buf: out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
}

/* rd_buf_init - an empty buffer; allocates nothing */
void
rd_buf_init(struct rd_buf *b)
{
	b->data = buf_empty;
	b->len = 0;
	b->cap = 0;
}

/* rd_buf_free - free the memory; b is empty and may be reused */
void
rd_buf_free(struct rd_buf *b)
{
	if (b == NULL)
		return;
	if (b->cap > 0)
		free(b->data);
	rd_buf_init(b);
}

/* rd_buf_reset - len = 0, keeps memory */
void
rd_buf_reset(struct rd_buf *b)
{
	b->len = 0;
	if (b->cap > 0)
		b->data[0] = '\0';
}

/* rd_buf_add - append n bytes (which may point into b itself) */
void
rd_buf_add(struct rd_buf *b, const void *p, size_t n)
{
	const char *src = p;
	size_t off = 0;
	int inside;

	if (n == 0)
		return;
	/* A source inside our own data moves with realloc: keep its offset. */
	inside = b->cap > 0 && src >= b->data && src < b->data + b->cap;
	if (inside)
		off = (size_t)(src - b->data);
	buf_reserve(b, n);
	if (inside)
		src = b->data + off;
	memmove(b->data + b->len, src, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* rd_buf_adds - append a C string (NULL appends nothing) */
void
rd_buf_adds(struct rd_buf *b, const char *s)
{
	if (s != NULL)
		rd_buf_add(b, s, strlen(s));
}

/* rd_buf_addc - append one byte */
void
rd_buf_addc(struct rd_buf *b, char c)
{
	buf_reserve(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

/* rd_buf_vprintf - append formatted text; arguments must not point into b */
void
rd_buf_vprintf(struct rd_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t avail;
	int n;

	/* Try in the room we have; on a short write, grow and format again. */
	avail = b->cap > 0 ? b->cap - b->len : 0;
	va_copy(ap2, ap);
	n = vsnprintf(avail > 0 ? b->data + b->len : NULL, avail, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		rd_panic("rd_buf_vprintf: bad format \"%s\"", fmt);
	if ((size_t)n >= avail) {
		buf_reserve(b, (size_t)n);
		va_copy(ap2, ap);
		n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
		va_end(ap2);
		if (n < 0)
			rd_panic("rd_buf_vprintf: bad format \"%s\"", fmt);
	}
	b->len += (size_t)n;
}

/* rd_buf_printf - append formatted text */
void
rd_buf_printf(struct rd_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rd_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* rd_buf_steal - the caller owns the string (free() it); b is empty */
char *
rd_buf_steal(struct rd_buf *b)
{
	char *s;

	if (b->cap == 0)
		buf_reserve(b, 0);
	s = b->data;
	rd_buf_init(b);
	return (s);
}

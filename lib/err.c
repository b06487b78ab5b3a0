/*
 * err.c - struct rd_err (input errors, returned to the caller) and
 * rd_panic (broken invariants, never input).
 *
 * Owns the rule that an error text is one line safe to log: after
 * formatting, every byte that is not printable ASCII (C0 controls, DEL and
 * all 8-bit bytes, which include the C1 controls of 8-bit terminals) becomes
 * '?'. Texts that do not fit are cut and end in "...".
 * Threads: rd_err_* touch only the caller's struct; rd_panic writes to
 * stderr and syslog, then aborts.
 * Memory: allocates nothing; formatting uses the stack, so arguments may
 * point into the struct being set (rd_err_set(e, s, l, "x: %s", e->text)).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "relaydiag/err.h"

/* err_safe_copy - copy src into dst (size len), '?' for unsafe bytes */
static void
err_safe_copy(char *dst, size_t len, const char *src, int srclen)
{
	const char *ellipsis = "...";
	size_t n, i;

	if (len == 0)
		return;
	n = strlen(src);
	for (i = 0; i < n && i < len - 1; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
	/* srclen: what vsnprintf wanted to write; mark the cut. */
	if (srclen >= 0 && (size_t)srclen >= len && len > 4)
		memcpy(dst + len - 4, ellipsis, 4);
}

/* rd_err_clear - empty the error (source, line and text) */
void
rd_err_clear(struct rd_err *err)
{
	if (err == NULL)
		return;
	err->source[0] = '\0';
	err->line = 0;
	err->text[0] = '\0';
}

/* rd_err_set - fill err from a printf format; unsafe bytes become '?' */
void
rd_err_set(
    struct rd_err *err, const char *source, unsigned line, const char *fmt, ...)
{
	char src[sizeof(err->source)];
	char text[sizeof(err->text)];
	va_list ap;
	int n, ns;

	if (err == NULL)
		return;
	/* Format into the stack first: arguments may alias err's fields. */
	ns = snprintf(src, sizeof(src), "%s", source != NULL ? source : "");
	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		text[0] = '\0';
	err_safe_copy(err->source, sizeof(err->source), src, ns);
	err_safe_copy(err->text, sizeof(err->text), text, n);
	err->line = line;
}

/*
 * rd_err_format - "source:line: text", "source: text", or just "text" when
 * there is no source; always NUL-terminated, cut to fit.
 */
const char *
rd_err_format(const struct rd_err *err, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return ("");
	if (err == NULL)
		buf[0] = '\0';
	else if (err->source[0] != '\0' && err->line > 0)
		snprintf(
		    buf, len, "%s:%u: %s", err->source, err->line, err->text);
	else if (err->source[0] != '\0')
		snprintf(buf, len, "%s: %s", err->source, err->text);
	else
		snprintf(buf, len, "%s", err->text);
	return (buf);
}

/*
 * rd_panic - a broken invariant: tell stderr and syslog (LOG_CRIT), then
 * abort() for a core file, as Postfix's msg_panic does. Never for input.
 */
void
rd_panic(const char *fmt, ...)
{
	char raw[512], msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		raw[0] = '\0';
	err_safe_copy(msg, sizeof(msg), raw, n);
	fprintf(stderr, "relaydiag: panic: %s\n", msg);
	fflush(stderr);
	syslog(LOG_CRIT, "panic: %s", msg);
	abort();
}

/*
 * kvfile.c - the reader of "Key value" files (kvfile.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/file.h"
#include "relaydiag/kvfile.h"
#include "relaydiag/text.h"

int
rd_kv_is_space(int c)
{
	return (c == ' ' || c == '\t');
}

static int
kv_is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

static int
kv_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/*
 * rd_kv_number - a decimal number of at most max, digits only (no sign,
 * no white space); 0, or -1 when s is not one.
 */
int
rd_kv_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!kv_is_digit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return (-1);
	}
	*out = v;
	return (0);
}

/* rd_kv_prefix - whether s starts with the ASCII word w, case folded */
int
rd_kv_prefix(const char *s, const char *w)
{
	for (; *w != '\0'; s++, w++)
		if (kv_lower((unsigned char)*s) != kv_lower((unsigned char)*w))
			return (0);
	return (1);
}

int
rd_kv_open(struct rd_kv_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->source = path;
	return ((r->fp = rd_file_fopen(path, NULL)) == NULL ? -1 : 0);
}

void
rd_kv_close(struct rd_kv_reader *r)
{
	if (r->fp != NULL)
		(void)fclose(r->fp);
	r->fp = NULL;
}

/* kv_error - fill err (may be NULL) at source:line, always return -1 */
static int kv_error(struct rd_err *err, const char *source, unsigned line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
kv_error(
    struct rd_err *err, const char *source, unsigned line, const char *fmt, ...)
{
	char text[sizeof(err->text)];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rd_err_set(err, source, line, "%s", text);
	return (-1);
}

/*
 * rd_kv_next - the next line of r, checked, without its comment and
 * surrounding white space: 1 with *out set, 0 at the end, -1 with err.
 * Lines are read a byte at a time into a fixed buffer, so a huge line or a
 * NUL byte cannot make us allocate or miss anything; reading stops at the
 * first byte past RD_KV_LINE_MAX.
 */
int
rd_kv_next(struct rd_kv_reader *r, char **out, struct rd_err *err)
{
	char ebuf[128];
	char *s, *e;
	size_t n = 0, i;
	int c;

	*out = r->buf; /* defined on every path, used only on 1 */
	while ((c = getc(r->fp)) != EOF && c != '\n') {
		if (n == RD_KV_LINE_MAX) {
			/* Bounded: a file with no newline is not read on. */
			n++;
			break;
		}
		r->buf[n++] = (char)c;
	}
	if (c == EOF && ferror(r->fp))
		return (kv_error(err, r->source, 0, "cannot read: %s",
		    strerror_r(errno, ebuf, sizeof(ebuf))));
	if (c == EOF && n == 0)
		return (0);
	r->line++;
	if (n > RD_KV_LINE_MAX)
		return (kv_error(err, r->source, r->line,
		    "line longer than %d bytes", RD_KV_LINE_MAX));
	for (i = 0; i < n; i++) {
		c = (unsigned char)r->buf[i];
		if (c == '\r' && i == n - 1)
			return (kv_error(err, r->source, r->line,
			    "carriage return at the end of the line (DOS line "
			    "endings? convert the file with dos2unix)"));
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return (kv_error(err, r->source, r->line,
			    "control character 0x%02x at byte %zu", c, i + 1));
	}
	if (!rd_utf8_valid(r->buf, n))
		return (kv_error(
		    err, r->source, r->line, "line is not valid UTF-8"));
	/* C1 controls, U+0080..U+009F: 0xc2 0x80..0x9f in UTF-8. */
	for (i = 0; i + 1 < n; i++)
		if ((unsigned char)r->buf[i] == 0xc2 &&
		    (unsigned char)r->buf[i + 1] < 0xa0)
			return (kv_error(err, r->source, r->line,
			    "control character U+%04X at byte %zu",
			    (unsigned char)r->buf[i + 1], i + 1));
	r->buf[n] = '\0';

	/* '#' starts a comment at the line's start or after white space. */
	for (i = 0; i < n; i++)
		if (r->buf[i] == '#' &&
		    (i == 0 || rd_kv_is_space((unsigned char)r->buf[i - 1]))) {
			r->buf[i] = '\0';
			n = i;
			break;
		}
	for (s = r->buf; rd_kv_is_space((unsigned char)*s); s++)
		;
	for (e = r->buf + n; e > s && rd_kv_is_space((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	*out = s;
	return (1);
}

/* rd_kv_word - cut the next list entry from *sp (commas, white space) */
char *
rd_kv_word(char **sp)
{
	char *s = *sp, *w;

	while (*s == ',' || rd_kv_is_space((unsigned char)*s))
		s++;
	if (*s == '\0')
		return (NULL);
	w = s;
	while (*s != '\0' && *s != ',' && !rd_kv_is_space((unsigned char)*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*sp = s;
	return (w);
}

/* kv_distance - Levenshtein distance of two short lower-case words */
static size_t
kv_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t row[32], i, j, prev, cur;

	if (blen >= sizeof(row) / sizeof(row[0]))
		return (SIZE_MAX);
	for (j = 0; j <= blen; j++)
		row[j] = j;
	for (i = 1; i <= alen; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= blen; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > cur + 1)
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return (row[blen]);
}

/*
 * kv_fold - s folded to lower case, without '_' and '-' when squash
 * (so "local_domains" meets "LocalDomains"); length, or SIZE_MAX when it
 * does not fit in out.
 */
static size_t
kv_fold(const char *s, size_t len, int squash, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (squash && (s[i] == '_' || s[i] == '-'))
			continue;
		if (n + 1 >= outlen)
			return (SIZE_MAX);
		out[n++] = (char)kv_lower((unsigned char)s[i]);
	}
	out[n] = '\0';
	return (n);
}

size_t
rd_kv_suggest(
    const char *word, size_t wlen, const char *(*name)(size_t), size_t n)
{
	char w[32], ws[32], kn[32];
	size_t i, d, bestd = 3, best = (size_t)-1, wl, wsl, kl;

	if ((wl = kv_fold(word, wlen, 0, w, sizeof(w))) == SIZE_MAX)
		return ((size_t)-1);
	wsl = kv_fold(word, wlen, 1, ws, sizeof(ws));
	for (i = 0; i < n; i++) {
		kl = kv_fold(name(i), strlen(name(i)), 0, kn, sizeof(kn));
		if (wsl == kl && strcmp(ws, kn) == 0)
			return (i);
		if (wl > kl + 2 || kl > wl + 2)
			continue;
		if ((d = kv_distance(w, wl, kn, kl)) < bestd) {
			bestd = d;
			best = i;
		}
	}
	return (best);
}

/*
 * text.c - bounded copies, UTF-8 validation and the four sanitizers for
 * network-derived text (log, header, reply, json).
 *
 * Owns the escaping rules of text.h: log, header and reply keep printable
 * ASCII (0x20-0x7e) and write every other byte as \xHH (upper-case hex);
 * reply also doubles '%' (smfi_setmlreply reads its lines as formats);
 * json keeps well-formed UTF-8, drops NUL and replaces each maximal ill-formed
 * subpart by U+FFFD (Unicode 15, 3.9 "U+FFFD Substitution of Maximal
 * Subparts", as WHATWG encoders do), so jansson never refuses the string.
 * Threads: pure functions of their arguments; no globals, no locks.
 * Memory: output goes to the caller's rd_buf or array; rd_strdup_max
 * returns malloc'ed memory (out of memory: rd_panic, as rd_buf does).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"

enum text_rule {
	TEXT_LOG,
	TEXT_LOGWORD, /* TEXT_LOG, and a space escaped too */
	TEXT_HEADER,
	TEXT_REPLY,
};

static const char text_hex[] = "0123456789ABCDEF";

/* rd_strlcpy - bounded copy, always NUL-terminated; returns strlen(src) */
size_t
rd_strlcpy(char *dst, const char *src, size_t dstsize)
{
	size_t n = strlen(src);

	if (dstsize > 0) {
		size_t k = n < dstsize - 1 ? n : dstsize - 1;

		memcpy(dst, src, k);
		dst[k] = '\0';
	}
	return (n);
}

/* rd_strdup_max - malloc'ed copy of at most max bytes of s; NULL if s NULL */
char *
rd_strdup_max(const char *s, size_t max)
{
	size_t n;
	char *p;

	if (s == NULL)
		return (NULL);
	n = strnlen(s, max);
	if ((p = malloc(n + 1)) == NULL)
		rd_panic("rd_strdup_max: out of memory (%zu bytes)", n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (p);
}

/*
 * text_utf8_seq - look at the sequence starting at s[0] (len > 0). Returns
 * the bytes it spans: a whole well-formed character (*ok true), or the
 * maximal ill-formed subpart to replace by one U+FFFD (*ok false, >= 1).
 * Ranges from RFC 3629 section 4 / Unicode Table 3-7: no overlongs (C0, C1,
 * E0 80-9F, F0 80-8F), no surrogates (ED A0-BF), nothing above U+10FFFF
 * (F4 90-BF, F5-FF).
 */
static size_t
text_utf8_seq(const unsigned char *s, size_t len, bool *ok)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	*ok = false;
	if (s[0] < 0x80) {
		*ok = true;
		return (1);
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return (1);
	/* The second byte has the narrowed range; the others 80-BF. */
	for (i = 1; i < need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi)
			return (i);
		lo = 0x80;
		hi = 0xbf;
	}
	*ok = true;
	return (need);
}

/* rd_utf8_valid - whether s[0..len) is well-formed UTF-8 (RFC 3629) */
bool
rd_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	bool ok;

	if (s == NULL)
		return (len == 0);
	while (i < len) {
		i += text_utf8_seq(p + i, len - i, &ok);
		if (!ok)
			return (false);
	}
	return (true);
}

/*
 * text_unit - the output for byte c under rule: the byte itself, "\xHH",
 * or "%%". Writes at most 4 bytes (no NUL) into out; returns the count.
 */
static size_t
text_unit(unsigned char c, enum text_rule rule, char out[4])
{
	if (c >= 0x20 && c < 0x7f &&
	    !(c == '\\' && (rule == TEXT_LOG || rule == TEXT_LOGWORD)) &&
	    !(c == ' ' && rule == TEXT_LOGWORD)) {
		out[0] = (char)c;
		if (c == '%' && rule == TEXT_REPLY) {
			out[1] = '%';
			return (2);
		}
		return (1);
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = text_hex[c >> 4];
	out[3] = text_hex[c & 0x0f];
	return (4);
}

/* text_escape - append s to b under one of the escaping rules */
static void
text_escape(struct rd_buf *b, const char *s, enum text_rule rule)
{
	const unsigned char *p;
	const char *run;
	char out[4];
	size_t n;

	if (s == NULL)
		s = "";
	/* Copy runs of plain bytes at once; escape the rest one by one. */
	for (run = s, p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p >= 0x20 && *p < 0x7f &&
		    !(*p == '%' && rule == TEXT_REPLY) &&
		    !(*p == '\\' && rule == TEXT_LOG))
			continue;
		rd_buf_add(b, run, (size_t)((const char *)p - run));
		n = text_unit(*p, rule, out);
		rd_buf_add(b, out, n);
		run = (const char *)p + 1;
	}
	rd_buf_add(b, run, (size_t)((const char *)p - run));
}

/*
 * rd_text_log - printable ASCII kept, everything else as \xHH; a backslash
 * too, so a client's literal "\x0A" cannot pass for an escaped LF.
 */
void
rd_text_log(struct rd_buf *b, const char *s)
{
	text_escape(b, s, TEXT_LOG);
}

/* rd_text_header - printable ASCII kept, everything else as \xHH */
void
rd_text_header(struct rd_buf *b, const char *s)
{
	text_escape(b, s, TEXT_HEADER);
}

/* rd_text_reply - as rd_text_header, and '%' doubled for smfi_setmlreply */
void
rd_text_reply(struct rd_buf *b, const char *s)
{
	text_escape(b, s, TEXT_REPLY);
}

/* rd_text_json - valid UTF-8 kept, ill-formed subparts as U+FFFD */
void
rd_text_json(struct rd_buf *b, const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p;
	size_t len, i, n, run;
	bool ok;

	if (s == NULL)
		return;
	p = (const unsigned char *)s;
	len = strlen(s); /* a C string: NUL cannot occur inside */
	/* Copy runs of well-formed text at once; this is on every event. */
	for (run = 0, i = 0; i < len; i += n) {
		if (p[i] < 0x80) {
			n = 1;
			continue;
		}
		n = text_utf8_seq(p + i, len - i, &ok);
		if (ok)
			continue;
		rd_buf_add(b, p + run, i - run);
		rd_buf_add(b, replacement, sizeof(replacement) - 1);
		run = i + n;
	}
	rd_buf_add(b, p + run, len - run);
}

/*
 * rd_text_json_quote - s as a JSON string, quotes included: rd_text_json's
 * valid UTF-8, escaped byte for byte as jansson's json_dumps writes it
 * (dump.c dump_string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH):
 * \\ \" \b \f \n \r \t, any other byte below 0x20 as \u00XX in capitals,
 * everything else as it is. NULL is written as null.
 */
void
rd_text_json_quote(struct rd_buf *b, const char *s)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	size_t len, i, n, run;
	char esc[6];
	bool ok;

	if (s == NULL) {
		rd_buf_add(b, "null", 4);
		return;
	}
	rd_buf_addc(b, '"');
	p = (const unsigned char *)s;
	len = strlen(s);
	for (run = 0, i = 0; i < len; i += n) {
		n = 1;
		if (p[i] >= 0x80) {
			n = text_utf8_seq(p + i, len - i, &ok);
			if (ok)
				continue;
			rd_buf_add(b, p + run, i - run);
			rd_buf_add(b, replacement, sizeof(replacement) - 1);
			run = i + n;
			continue;
		}
		if (p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
			continue;
		rd_buf_add(b, p + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		switch (p[i]) {
		case '"':
		case '\\':
			esc[1] = (char)p[i];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[p[i] >> 4];
			esc[5] = hex[p[i] & 0x0f];
			rd_buf_add(b, esc, 6);
			continue;
		}
		rd_buf_add(b, esc, 2);
	}
	rd_buf_add(b, p + run, len - run);
	rd_buf_addc(b, '"');
}

/*
 * text_log_into - rule (TEXT_LOG, TEXT_LOGWORD) into dst (size len), cut at len
 * - 1 bytes and never inside an escape, so a cut "\x0" cannot be misread.
 */
static const char *
text_log_into(char *dst, size_t len, const char *s, enum text_rule rule)
{
	const unsigned char *p;
	size_t used = 0, n;
	char out[4];

	if (dst == NULL || len == 0)
		return (dst);
	if (s == NULL)
		s = "";
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		n = text_unit(*p, rule, out);
		if (n > len - 1 - used)
			break;
		memcpy(dst + used, out, n);
		used += n;
	}
	dst[used] = '\0';
	return (dst);
}

const char *
rd_text_log_str(char *dst, size_t len, const char *s)
{
	return (text_log_into(dst, len, s, TEXT_LOG));
}

const char *
rd_text_log_word(char *dst, size_t len, const char *s)
{
	return (text_log_into(dst, len, s, TEXT_LOGWORD));
}

/* text_lower - ASCII lower case of c, without the locale */
static int
text_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/* rd_strcasecmp_ascii - ASCII-only case-insensitive compare; NULL first */
int
rd_strcasecmp_ascii(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a;
	const unsigned char *q = (const unsigned char *)b;
	int d;

	if (a == NULL || b == NULL)
		return (a == b ? 0 : a == NULL ? -1 : 1);
	for (;; p++, q++) {
		d = text_lower(*p) - text_lower(*q);
		if (d != 0 || *p == '\0')
			return (d);
	}
}

/* rd_lower_ascii - fold s in place to ASCII lower case; returns s */
char *
rd_lower_ascii(char *s)
{
	char *p;

	if (s == NULL)
		return (NULL);
	for (p = s; *p != '\0'; p++)
		*p = (char)text_lower((unsigned char)*p);
	return (s);
}

int
rd_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

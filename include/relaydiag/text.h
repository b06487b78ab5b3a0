/*
 * text.h - bounded copies and the sanitizers for network-derived text.
 *
 * Every byte that came from the network (HELO, addresses, AUTH user, the
 * MTA's reply text, header values) passes one of these before it reaches a
 * log line, a header, an SMTP reply or JSON. Each sink has its own rule:
 *   log:    printable ASCII but backslash kept, the rest as \xHH (strnvis)
 *   header: printable ASCII kept, everything else as \xHH (no CR, LF, NUL)
 *   reply:  like header, and '%' doubled for smfi_setmlreply
 *   json:   valid UTF-8 kept (control characters too: jansson escapes them),
 *           invalid sequences replaced by U+FFFD, NUL dropped
 * All functions are pure; threads: safe.
 */
#ifndef RELAYDIAG_TEXT_H
#define RELAYDIAG_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/buf.h"

/*
 * rd_strlcpy - copy src into dst of size dstsize, always NUL-terminated
 * (when dstsize > 0). Returns strlen(src): truncation when >= dstsize.
 * glibc 2.36 has no strlcpy.
 */
size_t rd_strlcpy(char *dst, const char *src, size_t dstsize);

/* rd_strdup_max - malloc'ed copy of at most max bytes of s; NULL if s NULL */
char *rd_strdup_max(const char *s, size_t max);

/* rd_utf8_valid - whether s[0..len) is well-formed UTF-8 (RFC 3629) */
bool rd_utf8_valid(const char *s, size_t len);

/* Append a sanitized copy of s (NULL appends "") to b, per the rules above. */
void rd_text_log(struct rd_buf *b, const char *s);
void rd_text_header(struct rd_buf *b, const char *s);
void rd_text_reply(struct rd_buf *b, const char *s);
void rd_text_json(struct rd_buf *b, const char *s);
/*
 * rd_text_json_quote - s as a whole JSON string ("..."), rd_text_json's
 * valid UTF-8 escaped exactly as jansson's json_dumps escapes (the event
 * writer's byte-for-byte oracle); NULL: null
 */
void rd_text_json_quote(struct rd_buf *b, const char *s);

/*
 * rd_text_log_str - sanitize s for a log line into dst (size len), cut at
 * len - 1 bytes. Returns dst. For use in printf argument lists.
 */
const char *rd_text_log_str(char *dst, size_t len, const char *s);

/*
 * rd_text_log_word - rd_text_log_str with a space as \x20 too: one
 * key=value word of a log line, whatever the client sent
 */
const char *rd_text_log_word(char *dst, size_t len, const char *s);

/* rd_strcasecmp_ascii - ASCII-only case-insensitive compare (no locale) */
int rd_strcasecmp_ascii(const char *a, const char *b);

/* rd_hex_value - the value of an ASCII hex digit, or -1 */
int rd_hex_value(int c);

/* rd_lower_ascii - fold s in place to ASCII lower case; returns s */
char *rd_lower_ascii(char *s);

#endif

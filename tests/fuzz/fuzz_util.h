/*
 * fuzz_util.h - shared helpers of the libFuzzer targets: cutting the input
 * into fields, and the output invariants of the sinks (reply lines, header
 * value, event JSON) that every target touching them asserts.
 *
 * Input: a target reads NUL-separated fields (fz_str) and single bytes
 * (fz_byte) from the front of the input; an exhausted input gives "" (or
 * NULL from fz_str_or_null) and 0; after FZ_STRS_MAX fields the input
 * counts as exhausted. Each field is a malloc'ed copy of exactly its size,
 * so ASan sees any read past a C string's end; fz_done frees them.
 * Invariants: a violation prints what and where, then abort()s, so
 * libFuzzer saves the input as a crash.
 */
#ifndef RELAYDIAG_FUZZ_UTIL_H
#define RELAYDIAG_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "relaydiag/err.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"

#define FZ_STRS_MAX 512

struct fz {
	const uint8_t *p;
	size_t n;
	char *strs[FZ_STRS_MAX]; /* to free */
	size_t nstrs;
};

void fz_init(struct fz *f, const uint8_t *data, size_t size);
void fz_done(struct fz *f);
bool fz_empty(const struct fz *f);
unsigned fz_byte(struct fz *f);
unsigned fz_u16(struct fz *f);
/* fz_str - the next field, up to a NUL or the end; "" when exhausted */
const char *fz_str(struct fz *f);
/* fz_str_or_null - as fz_str, but NULL when exhausted or the field is "\x01" */
const char *fz_str_or_null(struct fz *f);
/*
 * fz_facts - the facts of one recipient decision from the input, every
 * member of struct rd_facts that rules may read: two flag bytes, a class
 * byte, the port (2 bytes), the history counts (2 bytes), then the strings
 * client_ip, client_name, helo, auth_user, sender, sender_domain, rcpt,
 * rcpt_domain, our_name, elsewhere_ip, mx_host. mta is set to m; rules and
 * templates stay NULL (the built-in ones).
 */
struct rd_facts;
struct rd_mta_result;
void fz_facts(struct fz *f, struct rd_facts *fa, const struct rd_mta_result *m);
/* fz_whole - a malloc'ed, exactly sized copy of the whole input */
char *fz_whole(const uint8_t *data, size_t size);

/* fz_fail - print the violated invariant and abort() */
void fz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* fz_check_err - err text and source: one line of printable ASCII */
void fz_check_err(const struct rd_err *err, bool want_text);

/*
 * fz_check_reply - the verdict of a refused recipient: code/dsn, 1 to
 * RD_REPLY_LINES_MAX lines, each NUL-terminated inside its array, printable
 * ASCII only (no CR, LF, NUL, 8-bit), every '%' doubled, the last line the
 * "Ref <id>" line.
 */
void fz_check_reply(const struct rd_verdict *v);

/*
 * fz_check_header - a header value: printable ASCII, folded only by
 * "\n\t", no line empty after a fold, no physical line over 78 columns
 * (the first line counts "<name>: ", a tab counts 8) and no trailing fold.
 */
void fz_check_header(const char *name, const char *value, size_t cap);

/* fz_sink_stats, fz_sink_close - a checking sink's other operations
   (its emit_take checks the event, then frees it): no counts, no state */
void fz_sink_stats(struct rd_sink *sk, struct rd_sink_stats *out);
void fz_sink_close(struct rd_sink *sk);

/*
 * fz_check_event - json parses (JSON_REJECT_DUPLICATES) into an object
 * with every member docs/events.md requires for its type, each of its
 * type, nullable strings never "". Returns the parsed object (decref it).
 */
json_t *fz_check_event(const char *json, const char *want_type);

/* fz_check_json_text - v is a string, equal to s when s is valid UTF-8 */
void fz_check_json_text(json_t *v, const char *s, const char *what);

#endif

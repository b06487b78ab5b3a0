/*
 * jsonw.h - a streaming JSON writer into one rd_buf, for the events: no
 * tree, no allocation beyond the buffer's growth.
 *
 * Owns the JSON layout of what relaydiag writes: compact (no space), keys
 * in the order written (plain ASCII names, written as they are), strings
 * by rd_text_json_quote, integers in decimal. Its output is byte
 * for byte what jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER)
 * writes for the same tree; the tests hold it to that (test_event, the
 * fuzz target, and the jansson round trip of every e2e event).
 * The caller nests correctly (at most RD_JW_DEPTH deep); key is NULL for
 * an array element or the top value.
 * Threads: a writer belongs to one thread.
 */
#ifndef RELAYDIAG_JSONW_H
#define RELAYDIAG_JSONW_H

#include <stdbool.h>

#include "relaydiag/buf.h"

#define RD_JW_DEPTH 8

struct rd_jw {
	struct rd_buf *b;
	unsigned depth;
	bool more[RD_JW_DEPTH]; /* a member was written at this depth */
};

void rd_jw_init(struct rd_jw *w, struct rd_buf *b);
void rd_jw_open(struct rd_jw *w, const char *key);  /* { */
void rd_jw_close(struct rd_jw *w);                  /* } */
void rd_jw_array(struct rd_jw *w, const char *key); /* [ */
void rd_jw_end(struct rd_jw *w);                    /* ] */
/* rd_jw_str - network text made valid UTF-8 and escaped; NULL: null */
void rd_jw_str(struct rd_jw *w, const char *key, const char *s);
/* rd_jw_str_or_null - as rd_jw_str, and "" is null too */
void rd_jw_str_or_null(struct rd_jw *w, const char *key, const char *s);
void rd_jw_int(struct rd_jw *w, const char *key, long long v);
void rd_jw_bool(struct rd_jw *w, const char *key, bool v);
void rd_jw_null(struct rd_jw *w, const char *key);

#endif

/*
 * jsonw.c - the streaming JSON writer (jsonw.h).
 */
#include <string.h>

#include "relaydiag/jsonw.h"
#include "relaydiag/text.h"

void
rd_jw_init(struct rd_jw *w, struct rd_buf *b)
{
	memset(w, 0, sizeof(*w));
	w->b = b;
}

/* jw_key - the comma before a member, and its key */
static void
jw_key(struct rd_jw *w, const char *key)
{
	if (w->more[w->depth])
		rd_buf_addc(w->b, ',');
	w->more[w->depth] = true;
	/* Keys are the contract's own names, plain ASCII: no escaping. */
	if (key != NULL) {
		rd_buf_addc(w->b, '"');
		rd_buf_adds(w->b, key);
		rd_buf_add(w->b, "\":", 2);
	}
}

static void
jw_push(struct rd_jw *w, const char *key, char c)
{
	jw_key(w, key);
	rd_buf_addc(w->b, c);
	if (w->depth + 1 < RD_JW_DEPTH)
		w->depth++;
	w->more[w->depth] = false;
}

static void
jw_pop(struct rd_jw *w, char c)
{
	rd_buf_addc(w->b, c);
	if (w->depth > 0)
		w->depth--;
}

void
rd_jw_open(struct rd_jw *w, const char *key)
{
	jw_push(w, key, '{');
}

void
rd_jw_close(struct rd_jw *w)
{
	jw_pop(w, '}');
}

void
rd_jw_array(struct rd_jw *w, const char *key)
{
	jw_push(w, key, '[');
}

void
rd_jw_end(struct rd_jw *w)
{
	jw_pop(w, ']');
}

void
rd_jw_str(struct rd_jw *w, const char *key, const char *s)
{
	jw_key(w, key);
	rd_text_json_quote(w->b, s);
}

void
rd_jw_str_or_null(struct rd_jw *w, const char *key, const char *s)
{
	rd_jw_str(w, key, s != NULL && *s != '\0' ? s : NULL);
}

void
rd_jw_int(struct rd_jw *w, const char *key, long long v)
{
	char num[24], *p = num + sizeof(num);
	unsigned long long u =
	    v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	jw_key(w, key);
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	rd_buf_add(w->b, p, (size_t)(num + sizeof(num) - p));
}

void
rd_jw_bool(struct rd_jw *w, const char *key, bool v)
{
	jw_key(w, key);
	if (v)
		rd_buf_add(w->b, "true", 4);
	else
		rd_buf_add(w->b, "false", 5);
}

void
rd_jw_null(struct rd_jw *w, const char *key)
{
	jw_key(w, key);
	rd_buf_add(w->b, "null", 4);
}

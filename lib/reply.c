/*
 * reply.c - the explanatory SMTP reply and the diagnostic header.
 *
 * Owns the shape of both texts, their wrapping/folding, and their limits.
 * Network-derived text reaches them only through rd_text_reply() and
 * rd_text_header() (text.c).
 * Threads: pure. Memory: fills the caller's buffers; the scratch rd_buf is
 * freed before return.
 */
#include <stdio.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/buf.h"
#include "relaydiag/reply.h"
#include "relaydiag/text.h"

#define REPLY_WRAP 68  /* raw columns per reply line */
#define HEADER_FOLD 76 /* columns before a header line is folded */
/* A token must fit a folded line: tab (8 columns) + token <= HEADER_FOLD. */
#define HEADER_TOKEN_MAX (HEADER_FOLD - 8)
/* The host: "X-Relay-Diagnostic: " (20) + host + ';' <= HEADER_FOLD - 1. */
#define HEADER_HOST_MAX (HEADER_FOLD - 20 - 1)

static void
reply_line(struct rd_verdict *v, const char *raw, size_t n)
{
	struct rd_buf b;
	char tmp[REPLY_WRAP + 8];

	if (v->nlines >= RD_REPLY_LINES_MAX)
		return;
	if (n >= sizeof(tmp))
		n = sizeof(tmp) - 1;
	memcpy(tmp, raw, n);
	tmp[n] = '\0';
	rd_buf_init(&b);
	rd_text_reply(&b, tmp);
	/* A sanitized line grows at most 4x: REPLY_WRAP * 4 fits the line. */
	(void)rd_strlcpy(v->lines[v->nlines++], b.data, RD_REPLY_LINE_MAX);
	rd_buf_free(&b);
}

/* reply_wrap - add text as lines of at most REPLY_WRAP raw columns */
static void
reply_wrap(struct rd_verdict *v, const char *prefix, const char *text)
{
	char all[RD_DIAG_TEXT_MAX + 16];
	char *p;
	size_t n;

	snprintf(all, sizeof(all), "%s%s", prefix, text);
	p = all;
	while (*p != '\0' && v->nlines < RD_REPLY_LINES_MAX - 1) {
		n = strlen(p);
		if (n > REPLY_WRAP) {
			size_t cut = REPLY_WRAP;

			while (cut > REPLY_WRAP / 2 && p[cut] != ' ')
				cut--;
			if (p[cut] != ' ')
				cut = REPLY_WRAP;
			n = cut;
		}
		reply_line(v, p, n);
		p += n;
		while (*p == ' ')
			p++;
	}
}

void
rd_reply_build(struct rd_verdict *v, enum rd_action action,
    const struct rd_diagnosis *d, const char *rcpt, const char *eid)
{
	char first[RD_ADDR_PATH_MAX + 64];
	char ref[128], rest[RD_DIAG_TEXT_MAX];
	const char *summary;
	size_t n;

	v->action = action;
	v->nlines = 0;
	if (action == RD_ACTION_TEMPFAIL) {
		(void)rd_strlcpy(v->code, "451", sizeof(v->code));
		(void)rd_strlcpy(v->dsn, "4.7.1", sizeof(v->dsn));
	} else {
		(void)rd_strlcpy(v->code, "554", sizeof(v->code));
		(void)rd_strlcpy(v->dsn, "5.7.1", sizeof(v->dsn));
	}
	if (d->unauthorized_relay)
		snprintf(first, sizeof(first), "Relay access denied for <%s>.",
		    rcpt != NULL ? rcpt : "");
	else
		snprintf(first, sizeof(first), "Recipient <%s> refused.",
		    rcpt != NULL ? rcpt : "");
	reply_wrap(v, "", first);
	/*
	 * The relay summaries open with the same words as the first line;
	 * say them once (the example reply in diagnoses.md).
	 */
	n = strlen(first) - 1; /* without the final '.' */
	if (d->unauthorized_relay && strncmp(d->summary, first, n) == 0 &&
	    d->summary[n] == ':') {
		summary = d->summary + n + 1;
		while (*summary == ' ')
			summary++;
		/* rest is as long as a summary (RD_DIAG_TEXT_MAX). */
		(void)rd_strlcpy(rest, summary, sizeof(rest));
		/* "a mail program ..." reads as a sentence; an address not. */
		n = strcspn(rest, " ");
		if (rest[0] >= 'a' && rest[0] <= 'z' &&
		    strcspn(rest, "@.0123456789") >= n)
			rest[0] = (char)(rest[0] - 'a' + 'A');
		reply_wrap(v, "", rest);
	} else
		reply_wrap(v, "", d->summary);
	if (d->remedy_client[0] != '\0')
		reply_wrap(v, "Fix: ", d->remedy_client);
	snprintf(ref, sizeof(ref), "Ref %s %s", d->entry->id,
	    eid != NULL ? eid : "");
	/* The reference is always the last line, even when text was cut. */
	if (v->nlines >= RD_REPLY_LINES_MAX)
		v->nlines = RD_REPLY_LINES_MAX - 1;
	reply_line(v, ref, strlen(ref));
}

/* reply_undouble - src into b with "%%" read as '%', control bytes '?' */
static void
reply_undouble(struct rd_buf *b, const char *src)
{
	for (; *src != '\0'; src++) {
		if (src[0] == '%' && src[1] == '%')
			src++;
		rd_buf_addc(
		    b, (unsigned char)*src < 0x20 || (unsigned char)*src >= 0x7f
			   ? '?'
			   : *src);
	}
}

void
rd_reply_policy_text(
    const struct rd_verdict *v, const char *rcpt, char *out, size_t len)
{
	struct rd_buf body, ref;
	size_t room, i, n;

	if (len == 0)
		return;
	rd_buf_init(&body);
	rd_buf_init(&ref);
	for (i = 0; i + 1 < v->nlines; i++) {
		if (i > 0)
			rd_buf_addc(&body, ' ');
		reply_undouble(&body, v->lines[i]);
	}
	if (v->nlines > 0)
		reply_undouble(&ref, v->lines[v->nlines - 1]);
	else
		rd_buf_adds(&ref, "Relay access denied.");
	/* Postfix's line: prefix, <rcpt>, text; within RFC 5321's limit. */
	n = sizeof(RD_REPLY_POLICY_PREFIX) - 1 +
	    (rcpt != NULL ? strlen(rcpt) : 0);
	room = n < RD_REPLY_LINE_LIMIT ? RD_REPLY_LINE_LIMIT - n : 0;
	if (room > len - 1)
		room = len - 1;
	if (ref.len + 1 >= room) {
		/* Not even the reference fits beside a huge recipient. */
		(void)rd_strlcpy(
		    out, room >= 20 ? ref.data : "Relay access denied.", len);
		if (strlen(out) > room && room >= 20)
			out[room] = '\0';
	} else {
		n = body.len;
		if (n + 1 + ref.len > room) {
			/* cut the body at a word, leave room for " ... " */
			n = room > ref.len + 5 ? room - ref.len - 5 : 0;
			while (n > 0 && body.data[n] != ' ')
				n--;
			snprintf(out, len, "%.*s ... %s", (int)n,
			    body.data != NULL ? body.data : "", ref.data);
		} else if (n > 0)
			snprintf(out, len, "%s %s", body.data, ref.data);
		else
			snprintf(out, len, "%s", ref.data);
	}
	rd_buf_free(&body);
	rd_buf_free(&ref);
}

/* header_token - append one token, folding before it when the line is full */
static void
header_token(struct rd_buf *b, size_t *col, const char *sep, const char *tok)
{
	size_t n = strlen(tok);

	if (*col > 0 && *col + strlen(sep) + n > HEADER_FOLD) {
		/* Trailing ';' stays; the next line starts with a tab. */
		if (sep[0] == ';')
			rd_buf_addc(b, ';');
		rd_buf_adds(b, "\n\t");
		*col = 8;
	} else {
		rd_buf_adds(b, sep);
		*col += strlen(sep);
	}
	rd_buf_adds(b, tok);
	*col += n;
}

/*
 * header_value - val made header-safe and unspaced into v, cut to max
 * columns. Structured like Authentication-Results: no white space or ';'
 * inside a value. A value is never folded inside, so a long one (a
 * 255-octet HELO escaped to 1,020) would make a line longer than 78
 * columns, or than RFC 5322's 998 octets: cut it to fit, marked with "...".
 */
static void
header_value(struct rd_buf *v, const char *val, size_t max)
{
	size_t i, keep;

	rd_text_header(v, val);
	for (i = 0; i < v->len; i++)
		if (v->data[i] == ' ' || v->data[i] == ';' ||
		    v->data[i] == '\t')
			v->data[i] = '_';
	if (v->len > max) {
		keep = max - 3;
		/* Never inside a "\xHH" escape. */
		for (i = keep > 3 ? keep - 3 : 0; i < keep; i++)
			if (v->data[i] == '\\')
				keep = i;
		v->data[keep] = '\0';
		v->len = keep;
		rd_buf_adds(v, "...");
	}
}

/* header_kv - "key=value" with the value made header-safe and unspaced */
static void
header_kv(struct rd_buf *tok, const char *key, const char *val)
{
	struct rd_buf v;

	rd_buf_init(&v);
	header_value(&v, val != NULL && *val != '\0' ? val : "none",
	    HEADER_TOKEN_MAX - strlen(key) - 1);
	rd_buf_reset(tok);
	rd_buf_printf(tok, "%s=%s", key, v.data);
	rd_buf_free(&v);
}

void
rd_header_build(const struct rd_header_info *h, char *out, size_t len)
{
	rd_header_build_named(NULL, h, out, len);
}

void
rd_header_build_named(
    const char *name, const struct rd_header_info *h, char *out, size_t len)
{
	struct rd_buf b, tok;
	size_t col, i;
	char port[16];

	rd_buf_init(&b);
	rd_buf_init(&tok);
	/*
	 * The host starts the first line, after "X-Relay-Diagnostic: " and
	 * before a ';' that may end it: cut to fit 78 columns too.
	 */
	header_value(
	    &b, h->host != NULL ? h->host : "localhost", HEADER_HOST_MAX);
	/* "X-Relay-Diagnostic: " (HeaderName is at most 62 bytes) */
	col = strlen(name != NULL ? name : "X-Relay-Diagnostic") + 2 + b.len;
	header_kv(&tok, "session", h->session);
	header_token(&b, &col, "; ", tok.data);
	header_kv(&tok, "client", h->client_ip);
	header_token(&b, &col, "; ", tok.data);
	header_kv(&tok, "helo", h->helo);
	header_token(&b, &col, " ", tok.data);
	snprintf(port, sizeof(port), "%u", h->port);
	header_kv(&tok, "port", port);
	header_token(&b, &col, " ", tok.data);
	header_kv(&tok, "auth", h->authorized);
	header_token(&b, &col, "; ", tok.data);
	if (h->auth_user != NULL && *h->auth_user != '\0') {
		header_kv(&tok, "user", h->auth_user);
		header_token(&b, &col, " ", tok.data);
	}
	header_kv(&tok, "tls", h->tls_version);
	header_token(&b, &col, "; ", tok.data);
	for (i = 0; i < h->nids; i++) {
		header_kv(&tok, "diagnosis", h->ids[i]);
		header_token(&b, &col, i == 0 ? "; " : " ", tok.data);
	}
	if (rd_strlcpy(out, b.data, len) >= len && len > 0) {
		size_t n = strlen(out);

		/* Cut: never end in a fold ("\n" alone starts a new line). */
		while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\t'))
			out[--n] = '\0';
	}
	rd_buf_free(&tok);
	rd_buf_free(&b);
}

int
rd_header_name_check(const char *name, char *why, size_t whylen)
{
	const char *s;

	for (s = name; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 ||
		    *s == ':') {
			snprintf(why, whylen,
			    "a header field name is "
			    "printable ASCII without ':' (RFC 5322)");
			return (-1);
		}
	/* The end-of-message plan keeps 63 bytes; the fold, 78 columns. */
	if (s - name > 62) {
		snprintf(why, whylen, "at most 62 characters");
		return (-1);
	}
	return (0);
}

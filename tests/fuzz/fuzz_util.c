/*
 * fuzz_util.c - input cutting and output invariants shared by the fuzz
 * targets (see fuzz_util.h). Every check states the rule it enforces and
 * where the rule comes from; a violation aborts with the offending text
 * escaped, so the crash log says what broke before the stack does.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relaydiag/diagnose.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

void
fz_init(struct fz *f, const uint8_t *data, size_t size)
{
	memset(f, 0, sizeof(*f));
	f->p = data;
	f->n = size;
}

void
fz_done(struct fz *f)
{
	size_t i;

	for (i = 0; i < f->nstrs; i++)
		free(f->strs[i]);
	f->nstrs = 0;
}

bool
fz_empty(const struct fz *f)
{
	return (f->n == 0);
}

unsigned
fz_byte(struct fz *f)
{
	if (f->n == 0)
		return (0);
	f->n--;
	return (*f->p++);
}

unsigned
fz_u16(struct fz *f)
{
	unsigned hi = fz_byte(f);

	return ((hi << 8) | fz_byte(f));
}

const char *
fz_str(struct fz *f)
{
	const uint8_t *end;
	size_t len;
	char *s;

	if (f->nstrs == FZ_STRS_MAX)
		f->n = 0; /* so loops over the fields end */
	if (f->n == 0)
		return ("");
	end = memchr(f->p, '\0', f->n);
	len = end != NULL ? (size_t)(end - f->p) : f->n;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, f->p, len);
	s[len] = '\0';
	f->strs[f->nstrs++] = s;
	f->p += len;
	f->n -= len;
	if (end != NULL) {
		f->p++;
		f->n--;
	}
	return (s);
}

const char *
fz_str_or_null(struct fz *f)
{
	const char *s;

	if (f->n == 0)
		return (NULL);
	s = fz_str(f);
	return (strcmp(s, "\x01") == 0 ? NULL : s);
}

char *
fz_whole(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return (s);
}

void
fz_facts(struct fz *f, struct rd_facts *fa, const struct rd_mta_result *m)
{
	unsigned f1, f2, cls;

	memset(fa, 0, sizeof(*fa));
	f1 = fz_byte(f);
	f2 = fz_byte(f);
	cls = fz_byte(f);
	fa->submission_port = f1 & 0x01;
	fa->tls = f1 & 0x02;
	fa->tls_auth_only = f1 & 0x04;
	fa->trusted = f1 & 0x08;
	fa->sender_local = f1 & 0x10;
	fa->has_history = f1 & 0x20;
	fa->sender_authorized_elsewhere = f1 & 0x40;
	fa->sender_sasl_here = f1 & 0x80;
	fa->sender_authorized_ever = f2 & 0x01;
	fa->client_authorized_ever = f2 & 0x02;
	fa->mx = (int)((f2 >> 2) % 5) - 1; /* -1: not checked, RD_MX_* */
	fa->has_mx = fa->mx >= 0;
	fa->cls.rclass = (enum rd_class)(cls % 3);
	fa->cls.source = (enum rd_class_source)((cls >> 2) % 3);
	fa->cls.by = (enum rd_authz)((cls >> 4) % 4);
	fa->server_port = fz_u16(f);
	fa->client_refused_domains = fz_byte(f);
	fa->probe_domains = fz_byte(f);
	fa->client_ip = fz_str_or_null(f);
	fa->client_name = fz_str_or_null(f);
	fa->helo = fz_str_or_null(f);
	fa->auth_user = fz_str_or_null(f);
	fa->sender = fz_str_or_null(f);
	fa->sender_domain = fz_str_or_null(f);
	fa->rcpt = fz_str_or_null(f);
	fa->rcpt_domain = fz_str_or_null(f);
	fa->our_name = fz_str_or_null(f);
	fa->elsewhere_ip = fz_str_or_null(f);
	fa->mx_host = fz_str_or_null(f);
	fa->mta = m;
}

void
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nrelaydiag fuzz: invariant violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

/* fz_shown - s made printable for a failure message (static: abort next) */
static const char *
fz_shown(const char *s)
{
	static char out[1200];

	return (rd_text_log_str(out, sizeof(out), s));
}

static bool
fz_printable(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f);
}

void
fz_check_err(const struct rd_err *err, bool want_text)
{
	const char *p;

	if (strnlen(err->text, sizeof(err->text)) == sizeof(err->text) ||
	    strnlen(err->source, sizeof(err->source)) == sizeof(err->source))
		fz_fail("rd_err not NUL-terminated");
	for (p = err->text; *p != '\0'; p++)
		if (!fz_printable((unsigned char)*p))
			fz_fail("rd_err text has byte 0x%02x: %s",
			    (unsigned char)*p, fz_shown(err->text));
	for (p = err->source; *p != '\0'; p++)
		if (!fz_printable((unsigned char)*p))
			fz_fail("rd_err source has byte 0x%02x: %s",
			    (unsigned char)*p, fz_shown(err->source));
	if (want_text && err->text[0] == '\0')
		fz_fail("an input error left rd_err empty");
}

void
fz_check_reply(const struct rd_verdict *v)
{
	const char *p;
	size_t i, run;

	if (strcmp(v->code, "554") != 0 && strcmp(v->code, "451") != 0)
		fz_fail("reply code \"%s\"", fz_shown(v->code));
	if (v->code[0] != v->dsn[0] || strnlen(v->dsn, sizeof(v->dsn)) != 5)
		fz_fail(
		    "reply code %s with dsn \"%s\"", v->code, fz_shown(v->dsn));
	if (v->nlines == 0 || v->nlines > RD_REPLY_LINES_MAX)
		fz_fail("reply has %zu lines", v->nlines);
	for (i = 0; i < v->nlines; i++) {
		if (strnlen(v->lines[i], RD_REPLY_LINE_MAX) >=
		    RD_REPLY_LINE_MAX)
			fz_fail("reply line %zu not NUL-terminated", i);
		/* smfi_setmlreply: no CR/LF; RFC 5321 4.5.3.1.5: 512 octets */
		for (p = v->lines[i]; *p != '\0'; p++)
			if (!fz_printable((unsigned char)*p))
				fz_fail("reply line %zu has byte 0x%02x: %s", i,
				    (unsigned char)*p, fz_shown(v->lines[i]));
		/* '%' doubled (smfi_setmlreply formats): runs are even. */
		for (p = v->lines[i]; *p != '\0'; p += run) {
			run = strspn(p, "%");
			if (run % 2 != 0)
				fz_fail("reply line %zu has a lone '%%': %s", i,
				    fz_shown(v->lines[i]));
			if (run == 0)
				run = 1;
		}
	}
	if (strncmp(v->lines[v->nlines - 1], "Ref ", 4) != 0)
		fz_fail("last reply line is not the reference: %s",
		    fz_shown(v->lines[v->nlines - 1]));
}

void
fz_check_header(const char *name, const char *value, size_t cap)
{
	const char *p, *line;
	size_t col;
	bool first = true, text;

	if (strnlen(value, cap) >= cap)
		fz_fail("header value not NUL-terminated in %zu bytes", cap);
	/* The glue adds "<name>: " before the value (smfi_addheader). */
	col = strlen(name) + 2;
	text = false;
	for (line = p = value;; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\0' || c == '\n') {
			if (col > 78)
				fz_fail("header line of %zu columns (max 78): "
					"%.*s",
				    col, (int)(p - line), line);
			if (!first && !text)
				fz_fail("header continuation line is only "
					"white space: %s",
				    fz_shown(value));
			if (c == '\0')
				break;
			/* RFC 5322 2.2.3: a fold is CRLF + WSP; we send \n\t */
			if (p[1] != '\t')
				fz_fail("header fold not followed by a tab: %s",
				    fz_shown(value));
			if (p == value)
				fz_fail("header value starts with a fold");
			line = p + 1;
			first = false;
			text = false;
			col = 0;
			continue;
		}
		if (c == '\t') {
			if (p == value || p[-1] != '\n')
				fz_fail("tab inside a header line: %s",
				    fz_shown(value));
			col += 8;
			continue;
		}
		if (!fz_printable(c))
			fz_fail("header byte 0x%02x: %s", c, fz_shown(value));
		if (c != ' ')
			text = true;
		col++;
	}
}

/* ---- events ---------------------------------------------------------- */

enum fz_jt {
	FZ_STR,         /* string, may be "" */
	FZ_NESTR,       /* string, not "" */
	FZ_STR_NULL,    /* non-empty string or null */
	FZ_ANYSTR_NULL, /* string (may be "") or null */
	FZ_PORT,        /* integer 1..65535 or null */
	FZ_BOOL,
	FZ_OBJ_NULL, /* checked by the caller */
	FZ_INT,      /* integer >= 0 */
};

static void
fz_member(json_t *o, const char *where, const char *key, enum fz_jt t)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fz_fail("event: %s.%s missing", where, key);
	switch (t) {
	case FZ_STR:
	case FZ_NESTR:
		if (!json_is_string(v))
			fz_fail("event: %s.%s not a string", where, key);
		if (t == FZ_NESTR && json_string_length(v) == 0)
			fz_fail("event: %s.%s is \"\"", where, key);
		break;
	case FZ_STR_NULL:
		if (json_is_null(v))
			break;
		if (!json_is_string(v))
			fz_fail("event: %s.%s not string|null", where, key);
		if (json_string_length(v) == 0)
			fz_fail("event: %s.%s is \"\", want null (events.md)",
			    where, key);
		break;
	case FZ_ANYSTR_NULL:
		if (!json_is_null(v) && !json_is_string(v))
			fz_fail("event: %s.%s not string|null", where, key);
		break;
	case FZ_PORT:
		if (json_is_null(v))
			break;
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535)
			fz_fail("event: %s.%s not a port", where, key);
		break;
	case FZ_BOOL:
		if (!json_is_boolean(v))
			fz_fail("event: %s.%s not a boolean", where, key);
		break;
	case FZ_OBJ_NULL:
		if (!json_is_null(v) && !json_is_object(v))
			fz_fail("event: %s.%s not object|null", where, key);
		break;
	case FZ_INT:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			fz_fail("event: %s.%s not an integer >= 0", where, key);
		break;
	}
}

/* fz_only - o has exactly n members (additionalProperties: false) */
static void
fz_only(json_t *o, const char *where, size_t n)
{
	if (json_object_size(o) != n)
		fz_fail("event: %s has %zu members, want %zu", where,
		    json_object_size(o), n);
}

static bool
fz_in(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return (true);
	return (false);
}

static void
fz_enum(json_t *o, const char *where, const char *key, const char *const *set,
    bool nullable)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fz_fail("event: %s.%s missing", where, key);
	if (nullable && json_is_null(v))
		return;
	if (!json_is_string(v) || !fz_in(json_string_value(v), set))
		fz_fail("event: %s.%s not one of its values", where, key);
}

/* fz_diag_id - ^[a-z]+\.[a-z0-9-]+$ */
static void
fz_diag_id(json_t *v, const char *where)
{
	const char *s, *p;

	if (!json_is_string(v))
		fz_fail("event: %s not a string", where);
	s = json_string_value(v);
	for (p = s; *p >= 'a' && *p <= 'z'; p++)
		;
	if (p == s || *p != '.' || p[1] == '\0')
		fz_fail("event: %s \"%s\" is not a catalogue id", where, s);
	for (p++; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '-'))
			fz_fail(
			    "event: %s \"%s\" is not a catalogue id", where, s);
}

static void
fz_check_diagnosis(json_t *d)
{
	static const char *const sev[] = {
	    "info", "notice", "warning", "error", "critical", NULL};
	json_t *facts, *f;
	const char *s, *p;
	size_t i;

	fz_only(d, "diagnosis", 6);
	fz_diag_id(json_object_get(d, "id"), "diagnosis.id");
	fz_enum(d, "diagnosis", "severity", sev, false);
	fz_member(d, "diagnosis", "summary", FZ_STR);
	fz_member(d, "diagnosis", "remedy_client", FZ_STR_NULL);
	fz_member(d, "diagnosis", "remedy_admin", FZ_STR_NULL);
	facts = json_object_get(d, "facts");
	if (!json_is_array(facts))
		fz_fail("event: diagnosis.facts not an array");
	json_array_foreach(facts, i, f)
	{
		if (!json_is_string(f))
			fz_fail("event: diagnosis.facts[%zu] not a string", i);
		s = json_string_value(f);
		/* ^[a-z][a-z0-9_]*= */
		if (!(*s >= 'a' && *s <= 'z'))
			fz_fail("event: fact \"%s\" is not name=value",
			    fz_shown(s));
		for (p = s + 1; (*p >= 'a' && *p <= 'z') ||
				(*p >= '0' && *p <= '9') || *p == '_';
		     p++)
			;
		if (*p != '=')
			fz_fail("event: fact \"%s\" is not name=value",
			    fz_shown(s));
	}
}

static void
fz_check_ids(json_t *o)
{
	json_t *a = json_object_get(o, "diagnoses"), *v, *w;
	size_t i, j;

	if (!json_is_array(a))
		fz_fail("event: diagnoses not an array");
	json_array_foreach(a, i, v)
	{
		fz_diag_id(v, "diagnoses[]");
		for (j = 0; j < i; j++) {
			w = json_array_get(a, j);
			if (strcmp(json_string_value(v),
				json_string_value(w)) == 0)
				fz_fail("event: diagnoses has %s twice",
				    json_string_value(v));
		}
	}
}

/* fz_check_ts - ^YYYY-MM-DDTHH:MM:SS.mmmZ$ (shape and ranges) */
static void
fz_check_ts(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		fz_fail("event: ts \"%s\" has the wrong length", s);
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9')
				    : s[i] != shape[i])
			fz_fail("event: ts \"%s\" is not RFC 3339", s);
}

/* fz_strings - a is an array of strings */
static void
fz_strings(json_t *a, const char *what)
{
	json_t *v;
	size_t i;

	if (!json_is_array(a))
		fz_fail("event: %s not an array", what);
	json_array_foreach(a, i, v) if (!json_is_string(v))
	    fz_fail("event: %s[%zu] not a string", what, i);
}

/* fz_check_alert - window, threshold, sample (event.schema.json) */
static void
fz_check_alert(json_t *o)
{
	json_t *c, *v;
	const char *s;

	c = json_object_get(o, "diagnosis");
	if (!json_is_object(c) ||
	    strncmp(json_string_value(json_object_get(c, "id")), "alert.", 6) !=
		0)
		fz_fail("event: alert without an alert.* diagnosis");
	c = json_object_get(o, "window");
	if (!json_is_object(c))
		fz_fail("event: alert without a window");
	fz_only(c, "window", 3);
	fz_member(c, "window", "start", FZ_NESTR);
	fz_member(c, "window", "end", FZ_NESTR);
	fz_check_ts(json_string_value(json_object_get(c, "start")));
	fz_check_ts(json_string_value(json_object_get(c, "end")));
	fz_member(c, "window", "seconds", FZ_INT);
	if (json_integer_value(json_object_get(c, "seconds")) < 1)
		fz_fail("event: alert window of no seconds");
	c = json_object_get(o, "threshold");
	if (!json_is_object(c))
		fz_fail("event: alert without a threshold");
	fz_only(c, "threshold", 3);
	fz_member(c, "threshold", "metric", FZ_NESTR);
	for (s = json_string_value(json_object_get(c, "metric")); *s != '\0';
	     s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
			*s == '_'))
			fz_fail("event: threshold.metric is not a name");
	fz_member(c, "threshold", "limit", FZ_INT);
	fz_member(c, "threshold", "observed", FZ_INT);
	if (json_integer_value(json_object_get(c, "limit")) < 1)
		fz_fail("event: threshold.limit < 1");
	c = json_object_get(o, "sample");
	if (!json_is_object(c))
		fz_fail("event: alert without a sample");
	fz_only(c, "sample", 2);
	v = json_object_get(c, "clients");
	fz_strings(v, "sample.clients");
	fz_strings(json_object_get(c, "senders"), "sample.senders");
}

json_t *
fz_check_event(const char *json, const char *want_type)
{
	static const char *const actions[] = {
	    "none", "header", "reject", "tempfail", NULL};
	static const char *const classes[] = {
	    "local", "relay", "external", NULL};
	static const char *const verdicts[] = {
	    "accept", "reject", "tempfail", NULL};
	static const char *const bys[] = {"sasl", "network", "local", NULL};
	json_error_t jerr;
	json_t *o, *v, *c;
	const char *type;
	bool alert, delivery;

	if (json == NULL)
		fz_fail("event: NULL JSON (not out of memory here)");
	if (strchr(json, '\n') != NULL)
		fz_fail("event: a newline would break JSON Lines");
	o = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		fz_fail("event does not parse: %s at %d: %s", jerr.text,
		    jerr.position, fz_shown(json));
	if (!json_is_object(o))
		fz_fail("event is not an object");
	v = json_object_get(o, "schema");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), "relaydiag.event/1") != 0)
		fz_fail("event: schema missing or wrong");
	fz_member(o, "event", "type", FZ_NESTR);
	type = json_string_value(json_object_get(o, "type"));
	if (want_type != NULL && strcmp(type, want_type) != 0)
		fz_fail("event: type %s, want %s", type, want_type);
	fz_member(o, "event", "id", FZ_NESTR);
	fz_member(o, "event", "ts", FZ_NESTR);
	fz_check_ts(json_string_value(json_object_get(o, "ts")));
	fz_member(o, "event", "host", FZ_STR_NULL);
	fz_member(o, "event", "queue_id", FZ_STR_NULL);

	/* client, server, session: null only in alerts and (client,
	   server) in deliveries, where this server is the client */
	alert = strcmp(type, "alert") == 0;
	delivery = strcmp(type, "delivery") == 0;
	fz_member(o, "event", "session", alert ? FZ_STR_NULL : FZ_NESTR);
	fz_member(o, "event", "client", FZ_OBJ_NULL);
	c = json_object_get(o, "client");
	if (!alert && !delivery && !json_is_object(c))
		fz_fail("event: client not an object");
	if (delivery && !json_is_null(c))
		fz_fail("event: a delivery with a client");
	if (json_is_object(c)) {
		fz_only(c, "client", 5);
		fz_member(c, "client", "ip", FZ_STR_NULL);
		fz_member(c, "client", "port", FZ_PORT);
		fz_member(c, "client", "name", FZ_STR_NULL);
		fz_member(c, "client", "helo", FZ_ANYSTR_NULL);
		fz_member(c, "client", "trusted", FZ_BOOL);
	}
	fz_member(o, "event", "server", FZ_OBJ_NULL);
	c = json_object_get(o, "server");
	if (!alert && !delivery && !json_is_object(c))
		fz_fail("event: server not an object");
	if (json_is_object(c)) {
		fz_only(c, "server", 3);
		fz_member(c, "server", "daemon", FZ_STR_NULL);
		fz_member(c, "server", "port", FZ_PORT);
		fz_member(c, "server", "submission", FZ_BOOL);
	}

	fz_member(o, "event", "tls", FZ_OBJ_NULL);
	if (json_is_object(c = json_object_get(o, "tls"))) {
		fz_only(c, "tls", 3);
		fz_member(c, "tls", "version", FZ_NESTR);
		fz_member(c, "tls", "cipher", FZ_STR_NULL);
		v = json_object_get(c, "bits");
		if (v == NULL ||
		    !(json_is_null(v) ||
			(json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= 99999)))
			fz_fail("event: tls.bits not 1..99999|null");
	}
	fz_member(o, "event", "auth", FZ_OBJ_NULL);
	if (json_is_object(c = json_object_get(o, "auth"))) {
		fz_only(c, "auth", 2);
		fz_member(c, "auth", "mech", FZ_STR_NULL);
		fz_member(c, "auth", "user", FZ_NESTR);
	}
	fz_member(o, "event", "sender", FZ_OBJ_NULL);
	if (json_is_object(c = json_object_get(o, "sender"))) {
		fz_only(c, "sender", 3);
		fz_member(c, "sender", "addr", FZ_STR);
		fz_member(c, "sender", "domain", FZ_STR_NULL);
		fz_member(c, "sender", "local", FZ_BOOL);
	}
	fz_enum(o, "event", "action", actions, false);
	fz_member(o, "event", "diagnosis", FZ_OBJ_NULL);
	if (json_is_object(c = json_object_get(o, "diagnosis")))
		fz_check_diagnosis(c);

	if (strcmp(type, "rcpt") == 0) {
		if (!json_is_object(json_object_get(o, "diagnosis")))
			fz_fail("event: rcpt without a diagnosis");
		c = json_object_get(o, "rcpt");
		if (!json_is_object(c))
			fz_fail("event: rcpt.rcpt not an object");
		fz_only(c, "rcpt", 3);
		fz_member(c, "rcpt", "addr", FZ_STR);
		fz_member(c, "rcpt", "domain", FZ_STR_NULL);
		fz_enum(c, "rcpt", "class", classes, false);
		c = json_object_get(o, "mta");
		if (!json_is_object(c))
			fz_fail("event: mta not an object");
		fz_only(c, "mta", 4);
		fz_enum(c, "mta", "verdict", verdicts, false);
		fz_member(c, "mta", "code", FZ_STR_NULL);
		fz_member(c, "mta", "dsn", FZ_STR_NULL);
		fz_member(c, "mta", "text", FZ_STR_NULL);
		v = json_object_get(c, "code");
		if (json_is_string(v)) {
			const char *s = json_string_value(v);

			if (strlen(s) != 3 ||
			    (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
			    s[1] < '0' || s[1] > '9' || s[2] < '0' ||
			    s[2] > '9')
				fz_fail("event: mta.code \"%s\"", fz_shown(s));
		}
		v = json_object_get(c, "dsn");
		if (json_is_string(v)) {
			const char *s = json_string_value(v);
			unsigned a, b, k;
			int used = 0;

			if (sscanf(s, "%1u.%3u.%3u%n", &k, &a, &b, &used) !=
				3 ||
			    (size_t)used != strlen(s) ||
			    strchr("245", s[0]) == NULL ||
			    strchr(s, '+') != NULL || strchr(s, '-') != NULL ||
			    strchr(s, ' ') != NULL)
				fz_fail("event: mta.dsn \"%s\"", fz_shown(s));
		}
		c = json_object_get(o, "relay");
		if (!json_is_object(c))
			fz_fail("event: relay not an object");
		fz_only(c, "relay", 2);
		fz_member(c, "relay", "authorized", FZ_BOOL);
		fz_enum(c, "relay", "by", bys, true);
		if (json_is_true(json_object_get(c, "authorized")) ==
		    json_is_null(json_object_get(c, "by")))
			fz_fail("event: relay.authorized disagrees with by");
	} else if (strcmp(type, "message") == 0 ||
		   strcmp(type, "session") == 0) {
		bool msg = type[0] == 'm';

		c = json_object_get(o, "counts");
		if (!json_is_object(c))
			fz_fail("event: counts not an object");
		fz_only(c, "counts", msg ? 3 : 4);
		fz_member(c, "counts", "rcpts_accepted", FZ_INT);
		fz_member(c, "counts", "rcpts_rejected", FZ_INT);
		if (msg) {
			fz_member(c, "counts", "rcpts", FZ_INT);
			if (json_integer_value(json_object_get(c, "rcpts")) !=
			    json_integer_value(
				json_object_get(c, "rcpts_accepted")) +
				json_integer_value(
				    json_object_get(c, "rcpts_rejected")))
				fz_fail("event: counts do not add up");
		} else {
			fz_member(c, "counts", "messages", FZ_INT);
			fz_member(c, "counts", "duration_ms", FZ_INT);
			if (!json_is_null(json_object_get(o, "diagnosis")))
				fz_fail("event: session with a diagnosis");
			if (!json_is_null(json_object_get(o, "sender")))
				fz_fail("event: session with a sender");
		}
		fz_check_ids(o);
	} else if (alert)
		fz_check_alert(o);
	else if (delivery) {
		c = json_object_get(o, "delivery");
		if (!json_is_object(c))
			fz_fail("event: delivery not an object");
		fz_only(c, "delivery", 6);
		fz_member(c, "delivery", "rcpt", FZ_STR_NULL);
		fz_member(c, "delivery", "domain", FZ_STR_NULL);
		fz_member(c, "delivery", "status", FZ_STR_NULL);
		fz_member(c, "delivery", "mta", FZ_STR_NULL);
		fz_member(c, "delivery", "relay", FZ_OBJ_NULL);
		fz_member(c, "delivery", "reply", FZ_OBJ_NULL);
	} else if (strcmp(type, "auth") == 0) {
		c = json_object_get(o, "auth_failure");
		if (!json_is_object(c))
			fz_fail("event: auth_failure not an object");
		fz_only(c, "auth_failure", 4);
		fz_member(c, "auth_failure", "mech", FZ_STR_NULL);
		fz_member(c, "auth_failure", "user", FZ_STR_NULL);
		fz_member(c, "auth_failure", "reason", FZ_STR_NULL);
		fz_member(c, "auth_failure", "mta", FZ_STR_NULL);
		if (!json_is_null(json_object_get(o, "auth")) ||
		    !json_is_null(json_object_get(o, "diagnosis")))
			fz_fail(
			    "event: a failed AUTH with auth or a diagnosis");
	} else
		fz_fail("event: unexpected type %s", type);
	return (o);
}

void
fz_check_json_text(json_t *v, const char *s, const char *what)
{
	if (!json_is_string(v))
		fz_fail("event: %s is not a string", what);
	/* Valid UTF-8 is kept byte for byte (events.md "All text ..."). */
	if (rd_utf8_valid(s, strlen(s)) &&
	    (json_string_length(v) != strlen(s) ||
		memcmp(json_string_value(v), s, strlen(s)) != 0))
		fz_fail(
		    "event: %s changed valid UTF-8 \"%s\"", what, fz_shown(s));
}

void
fz_sink_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	(void)sk;
	memset(out, 0, sizeof(*out));
}

void
fz_sink_close(struct rd_sink *sk)
{
	(void)sk;
}

/*
 * event.c - the JSON objects of the event contract, schema
 * "relaydiag.event/1" (docs/events.md, docs/event.schema.json).
 *
 * Owns the member names, their order and shapes; a consumer depends on
 * them, so members are only ever added. Each event is written straight
 * into one buffer by the streaming writer (jsonw.h), reused per thread,
 * then copied once into the malloc'ed string the sink takes: one
 * allocation per event, where a jansson tree took dozens. Every string
 * goes through rd_text_json_quote (valid UTF-8, jansson's escaping). The
 * bytes are jansson's json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) of
 * the tree relaydiag used to build: tests/unit/event_oracle.c keeps that
 * tree as the oracle. rd_event_check reads an event back with jansson.
 * Threads: pure, but for the per-thread buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relaydiag/buf.h"
#include "relaydiag/event.h"
#include "relaydiag/ids.h"
#include "relaydiag/jsonw.h"
#include "relaydiag/text.h"

/* Each thread's buffer; one event at a time, kept at its high mark. */
static _Thread_local struct rd_buf ev_buf;

/* ev_begin - an empty buffer and a writer on it, the top object open */
static void
ev_begin(struct rd_jw *w)
{
	rd_buf_reset(&ev_buf);
	rd_jw_init(w, &ev_buf);
	rd_jw_open(w, NULL);
}

/* ev_end - close the top object; a malloc'ed copy for the sink */
static char *
ev_end(struct rd_jw *w)
{
	char *s;

	rd_jw_close(w);
	if ((s = malloc(ev_buf.len + 1)) == NULL)
		return (NULL);
	memcpy(s, ev_buf.data, ev_buf.len + 1);
	/* A rare huge event does not keep its memory in this thread. */
	if (ev_buf.cap > 64 * 1024)
		rd_buf_free(&ev_buf);
	return (s);
}

static void
ev_port(struct rd_jw *w, const char *key, unsigned port)
{
	if (port != 0)
		rd_jw_int(w, key, port);
	else
		rd_jw_null(w, key);
}

/* ev_truncated - the names of the members that enum rd_cut bits stand for */
static void
ev_truncated(struct rd_jw *w, unsigned cut)
{
	static const char *const names[] = {"client.ip", "client.name",
	    "client.helo", "server.daemon", "host", "tls", "auth.user",
	    "sender.addr", "queue_id", "rcpt.addr", "mta.text"};
	size_t i;

	rd_jw_array(w, "truncated");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((cut & (1u << i)) != 0)
			rd_jw_str(w, NULL, names[i]);
	rd_jw_end(w);
}

/* ev_tls_bits - the key size as a number, or -1 for null */
static long
ev_tls_bits(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return (-1);
	v = strtol(s, &end, 10);
	return (*end == '\0' && v > 0 && v < 100000 ? v : -1);
}

/*
 * ev_common - the members every event starts with; outbound (a delivery):
 * client and server are null, in their places
 */
static void
ev_common(struct rd_jw *w, const struct rd_event_common *c, bool outbound)
{
	char ts[RD_TS_MAX];
	long bits;

	rd_time_rfc3339(ts, c->ts);
	rd_jw_str(w, "schema", RD_EVENT_SCHEMA);
	rd_jw_str(w, "type", c->type);
	rd_jw_str(w, "id", c->id);
	rd_jw_str(w, "ts", ts);
	rd_jw_str_or_null(w, "host", c->host);
	rd_jw_str(w, "session", c->session);
	rd_jw_str_or_null(w, "queue_id", c->queue_id);
	if (outbound) {
		rd_jw_null(w, "client");
		rd_jw_null(w, "server");
	} else {
		rd_jw_open(w, "client");
		rd_jw_str_or_null(w, "ip", c->client_ip);
		ev_port(w, "port", c->client_port);
		rd_jw_str_or_null(w, "name", c->client_name);
		rd_jw_str(w, "helo", c->helo);
		rd_jw_bool(w, "trusted", c->trusted);
		rd_jw_close(w);
		rd_jw_open(w, "server");
		rd_jw_str_or_null(w, "daemon", c->daemon);
		ev_port(w, "port", c->server_port);
		rd_jw_bool(w, "submission", c->submission);
		rd_jw_close(w);
	}
	if (c->tls_version != NULL && *c->tls_version != '\0') {
		rd_jw_open(w, "tls");
		rd_jw_str(w, "version", c->tls_version);
		rd_jw_str_or_null(w, "cipher", c->tls_cipher);
		if ((bits = ev_tls_bits(c->tls_bits)) >= 0)
			rd_jw_int(w, "bits", bits);
		else
			rd_jw_null(w, "bits");
		rd_jw_close(w);
	} else
		rd_jw_null(w, "tls");
	if (c->auth_user != NULL && *c->auth_user != '\0') {
		rd_jw_open(w, "auth");
		rd_jw_str_or_null(w, "mech", c->auth_mech);
		rd_jw_str(w, "user", c->auth_user);
		rd_jw_close(w);
	} else
		rd_jw_null(w, "auth");
	if (c->sender_addr != NULL) {
		rd_jw_open(w, "sender");
		rd_jw_str(w, "addr", c->sender_addr);
		rd_jw_str_or_null(w, "domain", c->sender_domain);
		rd_jw_bool(w, "local", c->sender_local);
		rd_jw_close(w);
	} else
		rd_jw_null(w, "sender");
	rd_jw_str(w, "action", c->action != NULL ? c->action : "none");
	rd_jw_str(
	    w, "front_end", c->front_end != NULL ? c->front_end : "milter");
	if (c->truncated != 0)
		ev_truncated(w, c->truncated);
}

static void
ev_diagnosis(struct rd_jw *w, const struct rd_diagnosis *d)
{
	size_t i;

	if (d == NULL || d->entry == NULL) {
		rd_jw_null(w, "diagnosis");
		return;
	}
	rd_jw_open(w, "diagnosis");
	rd_jw_str(w, "id", d->entry->id);
	rd_jw_str(w, "severity", rd_severity_name(d->entry->severity));
	rd_jw_str(w, "summary", d->summary);
	rd_jw_str_or_null(w, "remedy_client", d->remedy_client);
	rd_jw_str_or_null(w, "remedy_admin", d->remedy_admin);
	rd_jw_array(w, "facts");
	for (i = 0; i < d->nfacts; i++)
		rd_jw_str(w, NULL, d->facts[i]);
	rd_jw_end(w);
	rd_jw_close(w);
}

char *
rd_event_rcpt_json(
    const struct rd_event_common *c, const struct rd_event_rcpt *r)
{
	const struct rd_mta_result *m = r->mta;
	struct rd_jw w;

	ev_begin(&w);
	ev_common(&w, c, false);
	rd_jw_open(&w, "rcpt");
	rd_jw_str(&w, "addr", r->addr);
	rd_jw_str_or_null(&w, "domain", r->domain);
	rd_jw_str(&w, "class", rd_class_name(r->cls->rclass));
	rd_jw_close(&w);
	rd_jw_open(&w, "mta");
	rd_jw_str(&w, "verdict", rd_mta_verdict_name(m->verdict));
	rd_jw_str_or_null(&w, "code", m->code);
	rd_jw_str_or_null(&w, "dsn", m->dsn);
	rd_jw_str_or_null(&w, "text", m->text);
	rd_jw_close(&w);
	rd_jw_open(&w, "relay");
	rd_jw_bool(&w, "authorized", r->cls->by != RD_AUTHZ_NONE);
	rd_jw_str(&w, "by", rd_authz_name(r->cls->by));
	rd_jw_close(&w);
	ev_diagnosis(&w, r->diag);
	return (ev_end(&w));
}

static void
ev_ids(struct rd_jw *w, const struct rd_event_counts *n)
{
	size_t i;

	rd_jw_array(w, "diagnoses");
	for (i = 0; i < n->ndiag_ids; i++)
		rd_jw_str(w, NULL, n->diag_ids[i]);
	rd_jw_end(w);
}

char *
rd_event_message_json(const struct rd_event_common *c,
    const struct rd_event_counts *n, const struct rd_diagnosis *worst)
{
	struct rd_jw w;

	ev_begin(&w);
	ev_common(&w, c, false);
	ev_diagnosis(&w, worst);
	rd_jw_open(&w, "counts");
	rd_jw_int(&w, "rcpts", (int)n->rcpts);
	rd_jw_int(&w, "rcpts_accepted", (int)n->rcpts_accepted);
	rd_jw_int(&w, "rcpts_rejected", (int)n->rcpts_rejected);
	rd_jw_close(&w);
	ev_ids(&w, n);
	return (ev_end(&w));
}

char *
rd_event_session_json(
    const struct rd_event_common *c, const struct rd_event_counts *n)
{
	struct rd_jw w;

	ev_begin(&w);
	ev_common(&w, c, false);
	rd_jw_null(&w, "diagnosis");
	rd_jw_open(&w, "counts");
	rd_jw_int(&w, "rcpts_accepted", (int)n->rcpts_accepted);
	rd_jw_int(&w, "rcpts_rejected", (int)n->rcpts_rejected);
	rd_jw_int(&w, "messages", (int)n->messages);
	rd_jw_int(&w, "duration_ms", (long long)n->duration_ms);
	rd_jw_close(&w);
	ev_ids(&w, n);
	if (n->has_sink) {
		rd_jw_open(&w, "sink");
		rd_jw_int(&w, "dropped", (long long)n->sink_dropped);
		rd_jw_int(&w, "spooled", (long long)n->sink_spooled);
		rd_jw_close(&w);
	}
	return (ev_end(&w));
}

static void
ev_text_array(struct rd_jw *w, const char *key, const char *const *v, size_t n)
{
	size_t i;

	rd_jw_array(w, key);
	for (i = 0; i < n; i++)
		rd_jw_str(w, NULL, v[i]);
	rd_jw_end(w);
}

char *
rd_event_alert_json(
    const struct rd_event_common *c, const struct rd_event_alert *a)
{
	struct timespec start = *c->ts;
	char ts0[RD_TS_MAX], ts1[RD_TS_MAX];
	struct rd_jw w;

	start.tv_sec -= a->window_s;
	rd_time_rfc3339(ts0, &start);
	rd_time_rfc3339(ts1, c->ts);
	ev_begin(&w);
	ev_common(&w, c, false);
	ev_diagnosis(&w, a->diag);
	rd_jw_open(&w, "window");
	rd_jw_str(&w, "start", ts0);
	rd_jw_str(&w, "end", ts1);
	rd_jw_int(&w, "seconds", (int)a->window_s);
	rd_jw_close(&w);
	rd_jw_open(&w, "threshold");
	rd_jw_str(&w, "metric", a->metric);
	rd_jw_int(&w, "limit", (int)a->limit);
	rd_jw_int(&w, "observed", (int)a->observed);
	rd_jw_close(&w);
	rd_jw_open(&w, "sample");
	ev_text_array(&w, "clients", a->clients, a->nclients);
	ev_text_array(&w, "senders", a->senders, a->nsenders);
	rd_jw_close(&w);
	return (ev_end(&w));
}

char *
rd_event_delivery_json(
    const struct rd_event_common *c, const struct rd_event_delivery *d)
{
	struct rd_jw w;

	ev_begin(&w);
	/* Outbound: this server is the client; there is no SMTP client. */
	ev_common(&w, c, true);
	rd_jw_open(&w, "delivery");
	rd_jw_str_or_null(&w, "rcpt", d->rcpt);
	rd_jw_str_or_null(&w, "domain", d->rcpt_domain);
	rd_jw_str_or_null(&w, "status", d->status);
	rd_jw_open(&w, "relay");
	rd_jw_str_or_null(&w, "host", d->relay_host);
	rd_jw_str_or_null(&w, "ip", d->relay_ip);
	ev_port(&w, "port", d->relay_port);
	rd_jw_close(&w);
	rd_jw_open(&w, "reply");
	rd_jw_str_or_null(&w, "code", d->code);
	rd_jw_str_or_null(&w, "dsn", d->dsn);
	rd_jw_str_or_null(&w, "text", d->text);
	rd_jw_bool(&w, "to_rcpt", d->in_reply_to_rcpt);
	rd_jw_close(&w);
	rd_jw_str_or_null(&w, "mta", d->mta);
	rd_jw_close(&w);
	ev_diagnosis(&w, d->diag);
	return (ev_end(&w));
}

char *
rd_event_auth_json(
    const struct rd_event_common *c, const struct rd_event_auth *a)
{
	struct rd_jw w;

	ev_begin(&w);
	ev_common(&w, c, false);
	rd_jw_open(&w, "auth_failure");
	rd_jw_str_or_null(&w, "mech", a->mech);
	rd_jw_str_or_null(&w, "user", a->user);
	rd_jw_str_or_null(&w, "reason", a->reason);
	rd_jw_str_or_null(&w, "mta", a->mta);
	rd_jw_close(&w);
	rd_jw_null(&w, "diagnosis");
	return (ev_end(&w));
}

int
rd_event_check(
    const char *type, const char *json, size_t len, char *why, size_t whylen)
{
	static const char *const types[] = {
	    "rcpt", "message", "session", "alert", "delivery", "auth"};
	static const char *const strs[] = {"id", "session", "ts"};
	json_error_t je;
	json_t *o, *v;
	size_t i;
	int rc = -1;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			break;
	if (i == sizeof(types) / sizeof(types[0])) {
		snprintf(why, whylen, "unknown event type");
		return (-1);
	}
	o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		/* Only where: jansson's text quotes the input, which is
		   another hand's bytes and goes to the log. */
		snprintf(why, whylen, "not JSON (line %d, column %d)", je.line,
		    je.column);
		return (-1);
	}
	if (!json_is_object(o)) {
		snprintf(why, whylen, "not a JSON object");
		goto out;
	}
	v = json_object_get(o, "schema");
	if (!json_is_string(v) ||
	    strcmp(json_string_value(v), RD_EVENT_SCHEMA) != 0) {
		snprintf(why, whylen, "schema is not %s", RD_EVENT_SCHEMA);
		goto out;
	}
	v = json_object_get(o, "type");
	if (!json_is_string(v) || strcmp(json_string_value(v), type) != 0) {
		snprintf(why, whylen, "its type is not %s", type);
		goto out;
	}
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!json_is_string(json_object_get(o, strs[i]))) {
			snprintf(why, whylen, "no \"%s\" string", strs[i]);
			goto out;
		}
	rc = 0;
out:
	json_decref(o);
	return (rc);
}

/*
 * event_oracle.c - the events as relaydiag built them with jansson trees
 * before lib/event.c wrote them with the streaming writer (jsonw.h): the
 * test oracle. lib/event.c must give these bytes exactly, for every
 * input (test_event, fuzz_event). Kept as it was; only the names changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "relaydiag/buf.h"
#include "relaydiag/event.h"
#include "relaydiag/ids.h"
#include "relaydiag/text.h"

#include "event_oracle.h"

/* ev_text - a JSON string made valid UTF-8, or null for NULL */
static json_t *
ev_text(const char *s)
{
	struct rd_buf b;
	json_t *j;

	if (s == NULL)
		return (json_null());
	rd_buf_init(&b);
	rd_text_json(&b, s);
	j = json_stringn_nocheck(b.data, b.len);
	rd_buf_free(&b);
	return (j);
}

/* ev_text_or_null - as ev_text, and "" is null too */
static json_t *
ev_text_or_null(const char *s)
{
	return (ev_text(s != NULL && *s != '\0' ? s : NULL));
}

static json_t *
ev_port(unsigned port)
{
	return (port != 0 ? json_integer(port) : json_null());
}

/* ev_truncated - the names of the members that enum rd_cut bits stand for */
static json_t *
ev_truncated(unsigned cut)
{
	static const char *const names[] = {"client.ip", "client.name",
	    "client.helo", "server.daemon", "host", "tls", "auth.user",
	    "sender.addr", "queue_id", "rcpt.addr", "mta.text"};
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if ((cut & (1u << i)) != 0)
			json_array_append_new(a, json_string(names[i]));
	return (a);
}

static json_t *
ev_common(const struct rd_event_common *c)
{
	char ts[RD_TS_MAX];
	json_t *o;

	rd_time_rfc3339(ts, c->ts);
	o = json_object();
	if (o == NULL)
		return (NULL);
	json_object_set_new(o, "schema", json_string(RD_EVENT_SCHEMA));
	json_object_set_new(o, "type", json_string(c->type));
	json_object_set_new(o, "id", ev_text(c->id));
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "host", ev_text_or_null(c->host));
	json_object_set_new(o, "session", ev_text(c->session));
	json_object_set_new(o, "queue_id", ev_text_or_null(c->queue_id));
	json_object_set_new(o, "client",
	    json_pack("{s:o,s:o,s:o,s:o,s:b}", "ip",
		ev_text_or_null(c->client_ip), "port", ev_port(c->client_port),
		"name", ev_text_or_null(c->client_name), "helo",
		ev_text(c->helo), "trusted", c->trusted));
	json_object_set_new(o, "server",
	    json_pack("{s:o,s:o,s:b}", "daemon", ev_text_or_null(c->daemon),
		"port", ev_port(c->server_port), "submission", c->submission));
	if (c->tls_version != NULL && *c->tls_version != '\0') {
		json_t *bits = json_null();

		if (c->tls_bits != NULL && *c->tls_bits != '\0') {
			char *end;
			long v = strtol(c->tls_bits, &end, 10);

			if (*end == '\0' && v > 0 && v < 100000)
				bits = json_integer(v);
		}
		json_object_set_new(o, "tls",
		    json_pack("{s:o,s:o,s:o}", "version",
			ev_text(c->tls_version), "cipher",
			ev_text_or_null(c->tls_cipher), "bits", bits));
	} else
		json_object_set_new(o, "tls", json_null());
	if (c->auth_user != NULL && *c->auth_user != '\0')
		json_object_set_new(o, "auth",
		    json_pack("{s:o,s:o}", "mech",
			ev_text_or_null(c->auth_mech), "user",
			ev_text(c->auth_user)));
	else
		json_object_set_new(o, "auth", json_null());
	if (c->sender_addr != NULL)
		json_object_set_new(o, "sender",
		    json_pack("{s:o,s:o,s:b}", "addr", ev_text(c->sender_addr),
			"domain", ev_text_or_null(c->sender_domain), "local",
			c->sender_local));
	else
		json_object_set_new(o, "sender", json_null());
	json_object_set_new(
	    o, "action", json_string(c->action != NULL ? c->action : "none"));
	json_object_set_new(o, "front_end",
	    json_string(c->front_end != NULL ? c->front_end : "milter"));
	if (c->truncated != 0)
		json_object_set_new(o, "truncated", ev_truncated(c->truncated));
	return (o);
}

static json_t *
ev_diagnosis(const struct rd_diagnosis *d)
{
	json_t *facts;
	size_t i;

	if (d == NULL || d->entry == NULL)
		return (json_null());
	facts = json_array();
	for (i = 0; i < d->nfacts; i++)
		json_array_append_new(facts, ev_text(d->facts[i]));
	return (json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "id", d->entry->id,
	    "severity", rd_severity_name(d->entry->severity), "summary",
	    ev_text(d->summary), "remedy_client",
	    ev_text_or_null(d->remedy_client), "remedy_admin",
	    ev_text_or_null(d->remedy_admin), "facts", facts));
}

/* ev_dump - serialize compactly and free o; NULL when o is NULL */
static char *
ev_dump(json_t *o)
{
	char *s;

	if (o == NULL)
		return (NULL);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return (s);
}

char *
oracle_event_rcpt_json(
    const struct rd_event_common *c, const struct rd_event_rcpt *r)
{
	const struct rd_mta_result *m = r->mta;
	const char *by = rd_authz_name(r->cls->by);
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	json_object_set_new(o, "rcpt",
	    json_pack("{s:o,s:o,s:s}", "addr", ev_text(r->addr), "domain",
		ev_text_or_null(r->domain), "class",
		rd_class_name(r->cls->rclass)));
	json_object_set_new(o, "mta",
	    json_pack("{s:s,s:o,s:o,s:o}", "verdict",
		rd_mta_verdict_name(m->verdict), "code",
		ev_text_or_null(m->code), "dsn", ev_text_or_null(m->dsn),
		"text", ev_text_or_null(m->text)));
	json_object_set_new(o, "relay",
	    json_pack("{s:b,s:o}", "authorized", r->cls->by != RD_AUTHZ_NONE,
		"by", by != NULL ? json_string(by) : json_null()));
	json_object_set_new(o, "diagnosis", ev_diagnosis(r->diag));
	return (ev_dump(o));
}

static json_t *
ev_ids(const struct rd_event_counts *n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n->ndiag_ids; i++)
		json_array_append_new(a, json_string(n->diag_ids[i]));
	return (a);
}

char *
oracle_event_message_json(const struct rd_event_common *c,
    const struct rd_event_counts *n, const struct rd_diagnosis *worst)
{
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	json_object_set_new(o, "diagnosis", ev_diagnosis(worst));
	json_object_set_new(o, "counts",
	    json_pack("{s:i,s:i,s:i}", "rcpts", (int)n->rcpts, "rcpts_accepted",
		(int)n->rcpts_accepted, "rcpts_rejected",
		(int)n->rcpts_rejected));
	json_object_set_new(o, "diagnoses", ev_ids(n));
	return (ev_dump(o));
}

char *
oracle_event_session_json(
    const struct rd_event_common *c, const struct rd_event_counts *n)
{
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	json_object_set_new(o, "diagnosis", json_null());
	json_object_set_new(o, "counts",
	    json_pack("{s:i,s:i,s:i,s:I}", "rcpts_accepted",
		(int)n->rcpts_accepted, "rcpts_rejected",
		(int)n->rcpts_rejected, "messages", (int)n->messages,
		"duration_ms", (json_int_t)n->duration_ms));
	json_object_set_new(o, "diagnoses", ev_ids(n));
	if (n->has_sink)
		json_object_set_new(o, "sink",
		    json_pack("{s:I,s:I}", "dropped",
			(json_int_t)n->sink_dropped, "spooled",
			(json_int_t)n->sink_spooled));
	return (ev_dump(o));
}

static json_t *
ev_text_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, ev_text(v[i]));
	return (a);
}

char *
oracle_event_alert_json(
    const struct rd_event_common *c, const struct rd_event_alert *a)
{
	struct timespec start = *c->ts;
	char ts0[RD_TS_MAX], ts1[RD_TS_MAX];
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	start.tv_sec -= a->window_s;
	rd_time_rfc3339(ts0, &start);
	rd_time_rfc3339(ts1, c->ts);
	json_object_set_new(o, "diagnosis", ev_diagnosis(a->diag));
	json_object_set_new(o, "window",
	    json_pack("{s:s,s:s,s:i}", "start", ts0, "end", ts1, "seconds",
		(int)a->window_s));
	json_object_set_new(o, "threshold",
	    json_pack("{s:s,s:i,s:i}", "metric", a->metric, "limit",
		(int)a->limit, "observed", (int)a->observed));
	json_object_set_new(o, "sample",
	    json_pack("{s:o,s:o}", "clients",
		ev_text_array(a->clients, a->nclients), "senders",
		ev_text_array(a->senders, a->nsenders)));
	return (ev_dump(o));
}

char *
oracle_event_delivery_json(
    const struct rd_event_common *c, const struct rd_event_delivery *d)
{
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	/* Outbound: this server is the client; there is no SMTP client. */
	json_object_set_new(o, "client", json_null());
	json_object_set_new(o, "server", json_null());
	json_object_set_new(o, "delivery",
	    json_pack("{s:o,s:o,s:o,s:{s:o,s:o,s:o},s:{s:o,s:o,s:o,s:b},s:o}",
		"rcpt", ev_text_or_null(d->rcpt), "domain",
		ev_text_or_null(d->rcpt_domain), "status",
		ev_text_or_null(d->status), "relay", "host",
		ev_text_or_null(d->relay_host), "ip",
		ev_text_or_null(d->relay_ip), "port", ev_port(d->relay_port),
		"reply", "code", ev_text_or_null(d->code), "dsn",
		ev_text_or_null(d->dsn), "text", ev_text_or_null(d->text),
		"to_rcpt", d->in_reply_to_rcpt, "mta",
		ev_text_or_null(d->mta)));
	json_object_set_new(o, "diagnosis", ev_diagnosis(d->diag));
	return (ev_dump(o));
}

char *
oracle_event_auth_json(
    const struct rd_event_common *c, const struct rd_event_auth *a)
{
	json_t *o;

	if ((o = ev_common(c)) == NULL)
		return (NULL);
	json_object_set_new(o, "auth_failure",
	    json_pack("{s:o,s:o,s:o,s:o}", "mech", ev_text_or_null(a->mech),
		"user", ev_text_or_null(a->user), "reason",
		ev_text_or_null(a->reason), "mta", ev_text_or_null(a->mta)));
	json_object_set_new(o, "diagnosis", json_null());
	return (ev_dump(o));
}

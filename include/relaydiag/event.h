/*
 * event.h - the JSON objects of the event contract (docs/events.md,
 * docs/event.schema.json), schema "relaydiag.event/1".
 *
 * Builds each event type from plain views of the session, serializes it
 * compactly and returns a malloc'ed string for the sink. All network text is
 * made valid UTF-8 first (text.h rd_text_json): jansson returns NULL for
 * invalid UTF-8 and would silently drop the member.
 * Threads: pure; jansson objects are private to the call.
 */
#ifndef RELAYDIAG_EVENT_H
#define RELAYDIAG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"

#define RD_EVENT_SCHEMA "relaydiag.event/1"

/* The members shared by every event of one session. */
/*
 * What was longer than relaydiag keeps, and was cut to its limit (each a
 * documented limit, SECURITY.md "Bounded memory"): the event says so in
 * "truncated", so that nothing judged on a cut value passes for whole.
 */
enum rd_cut {
	RD_CUT_CLIENT_IP = 1u << 0,
	RD_CUT_CLIENT_NAME = 1u << 1,
	RD_CUT_HELO = 1u << 2,
	RD_CUT_DAEMON = 1u << 3,
	RD_CUT_HOST = 1u << 4,
	RD_CUT_TLS = 1u << 5,
	RD_CUT_AUTH = 1u << 6,
	RD_CUT_SENDER = 1u << 7,
	RD_CUT_QUEUE_ID = 1u << 8,
	RD_CUT_RCPT = 1u << 9,
	RD_CUT_MTA_TEXT = 1u << 10,
};

struct rd_event_common {
	const char *type; /* "rcpt" "message" "session" "alert" */
	const char *id;
	const struct timespec *ts;
	const char *host;
	const char *session;
	const char *queue_id;
	/* client */
	const char *client_ip;
	unsigned client_port;
	const char *client_name;
	const char *helo;
	bool trusted;
	/* server */
	const char *daemon;
	unsigned server_port;
	bool submission;
	/* tls: NULL version = no TLS */
	const char *tls_version;
	const char *tls_cipher;
	const char *tls_bits;
	/* auth: NULL user = none */
	const char *auth_mech;
	const char *auth_user;
	/* sender: NULL = no transaction */
	const char *sender_addr;
	const char *sender_domain;
	bool sender_local;
	const char *action;    /* "none" "header" "reject" "tempfail" */
	const char *front_end; /* "milter", "policy"; NULL: "milter" */
	unsigned truncated;    /* enum rd_cut bits; 0: nothing was cut */
};

struct rd_event_rcpt {
	const char *addr;
	const char *domain;
	const struct rd_rcpt_class *cls;
	const struct rd_mta_result *mta;
	const struct rd_diagnosis *diag;
};

struct rd_event_counts {
	unsigned rcpts_accepted;
	unsigned rcpts_rejected;
	unsigned messages;
	long long duration_ms;
	const char *const *diag_ids; /* distinct ids seen */
	size_t ndiag_ids;
	unsigned rcpts; /* message: recipients */
	/* session: the sink's process-wide counters (rd_sink_stats) */
	bool has_sink; /* false: no "sink" member */
	unsigned long long sink_dropped;
	unsigned long long sink_spooled;
};

/* An alert over many sessions (history.c decided it). */
struct rd_event_alert {
	const struct rd_diagnosis *diag; /* alert.* */
	unsigned window_s;
	const char *metric; /* "refused_senders_with_sasl_history" */
	unsigned limit;
	unsigned observed;
	const char *const *clients; /* sample */
	size_t nclients;
	const char *const *senders;
	size_t nsenders;
};

/* An outbound delivery a remote server refused (the log front end). */
struct rd_event_delivery {
	const char *rcpt;
	const char *rcpt_domain;
	const char *status; /* "bounced", "deferred" */
	const char *relay_host;
	const char *relay_ip;
	unsigned relay_port; /* 0: not logged */
	const char *code;    /* the remote's reply */
	const char *dsn;
	const char *text;
	bool in_reply_to_rcpt;
	const char *mta;                 /* "postfix", "exim" */
	const struct rd_diagnosis *diag; /* NULL: not a relay refusal */
};

/* A failed SMTP AUTH (the log front end); "auth" stays null: no login. */
struct rd_event_auth {
	const char *mech;
	const char *user; /* NULL: the log does not say */
	const char *reason;
	const char *mta;
};

/* Each returns a malloc'ed compact JSON object, or NULL when out of memory. */
char *rd_event_rcpt_json(
    const struct rd_event_common *c, const struct rd_event_rcpt *r);
char *rd_event_message_json(const struct rd_event_common *c,
    const struct rd_event_counts *n, const struct rd_diagnosis *worst);
char *rd_event_session_json(
    const struct rd_event_common *c, const struct rd_event_counts *n);
char *rd_event_alert_json(
    const struct rd_event_common *c, const struct rd_event_alert *a);
char *rd_event_delivery_json(
    const struct rd_event_common *c, const struct rd_event_delivery *d);
char *rd_event_auth_json(
    const struct rd_event_common *c, const struct rd_event_auth *a);

/*
 * rd_event_check - json[0..len) is one event of this contract, of type
 * type: a JSON object (valid UTF-8, no duplicate member) whose "schema" is
 * RD_EVENT_SCHEMA, "type" is type (one of rcpt, message, session, alert),
 * and "id", "session" and "ts" are strings. 0; or -1 with why[] filled.
 * For events that come back from disk (the spool), which another hand may
 * have written.
 */
int rd_event_check(
    const char *type, const char *json, size_t len, char *why, size_t whylen);

#endif

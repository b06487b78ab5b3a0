/*
 * test_event.c - the JSON events of the contract (shared/design/events.md,
 * schema "relaydiag.event/1"): rd_event_rcpt_json, rd_event_message_json,
 * rd_event_session_json.
 *
 * Every output is parsed back with jansson (json_loads rejects invalid
 * UTF-8, so a successful parse proves the encoding too) and checked against
 * the table of required members and their types; then each case checks
 * its own values, written as data: "path" = "string", "null", "true",
 * "false", "#integer", or "~substring".
 * Hostile text (invalid UTF-8, control characters) must still give valid
 * JSON with the member present: jansson returns NULL for invalid UTF-8,
 * and a member set to NULL silently disappears.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/event.h"

#include "event_oracle.h"
#include "relaydiag/buf.h"
#include "relaydiag/text.h"
#include "testutil.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* 2026-11-23T18:28:17.123Z */
static const struct timespec ts_fixed = {1795458497, 123456789};

enum kind {
	K_STR,      /* string */
	K_STR_NULL, /* string or null */
	K_INT_NULL, /* integer or null */
	K_INT,
	K_BOOL,
	K_OBJ,
	K_OBJ_NULL, /* object or null; members checked when object */
	K_ARR_STR,  /* array of strings */
};

#define ALL 0x0f
#define RCPT 0x01
#define MESSAGE 0x02
#define SESSION 0x04
#define MSG_SES (MESSAGE | SESSION)

/* The required members (events.md), by event type. */
/* clang-format off */
static const struct {
	const char	*path;
	enum kind	 kind;
	unsigned	 types;
	const char	*values;	/* allowed strings, space separated */
} members[] = {
	{ "schema",			K_STR,		ALL,
	  "relaydiag.event/1" },
	{ "type",			K_STR,		ALL,
	  "rcpt message session alert" },
	{ "id",				K_STR,		ALL, NULL },
	{ "ts",				K_STR,		ALL, NULL },
	{ "host",			K_STR_NULL,	ALL, NULL },
	{ "session",			K_STR,		ALL, NULL },
	{ "queue_id",			K_STR_NULL,	ALL, NULL },
	{ "client",			K_OBJ,		ALL, NULL },
	{ "client.ip",			K_STR_NULL,	ALL, NULL },
	{ "client.port",		K_INT_NULL,	ALL, NULL },
	{ "client.name",		K_STR_NULL,	ALL, NULL },
	{ "client.helo",		K_STR_NULL,	ALL, NULL },
	{ "client.trusted",		K_BOOL,		ALL, NULL },
	{ "server",			K_OBJ,		ALL, NULL },
	{ "server.daemon",		K_STR_NULL,	ALL, NULL },
	{ "server.port",		K_INT_NULL,	ALL, NULL },
	{ "server.submission",		K_BOOL,		ALL, NULL },
	{ "tls",			K_OBJ_NULL,	ALL, NULL },
	{ "tls.version",		K_STR,		ALL, NULL },
	{ "tls.cipher",			K_STR_NULL,	ALL, NULL },
	{ "tls.bits",			K_INT_NULL,	ALL, NULL },
	{ "auth",			K_OBJ_NULL,	ALL, NULL },
	{ "auth.mech",			K_STR_NULL,	ALL, NULL },
	{ "auth.user",			K_STR,		ALL, NULL },
	{ "sender",			K_OBJ_NULL,	ALL, NULL },
	{ "sender.addr",		K_STR,		ALL, NULL },
	{ "sender.domain",		K_STR_NULL,	ALL, NULL },
	{ "sender.local",		K_BOOL,		ALL, NULL },
	{ "rcpt",			K_OBJ,		RCPT, NULL },
	{ "rcpt.addr",			K_STR,		RCPT, NULL },
	{ "rcpt.domain",		K_STR_NULL,	RCPT, NULL },
	{ "rcpt.class",			K_STR,		RCPT,
	  "local relay external" },
	{ "mta",			K_OBJ,		RCPT, NULL },
	{ "mta.verdict",		K_STR,		RCPT,
	  "accept reject tempfail" },
	{ "mta.code",			K_STR_NULL,	RCPT, NULL },
	{ "mta.dsn",			K_STR_NULL,	RCPT, NULL },
	{ "mta.text",			K_STR_NULL,	RCPT, NULL },
	{ "relay",			K_OBJ,		RCPT, NULL },
	{ "relay.authorized",		K_BOOL,		RCPT, NULL },
	{ "relay.by",			K_STR_NULL,	RCPT,
	  "sasl network local" },
	{ "diagnosis",			K_OBJ,		RCPT, NULL },
	{ "diagnosis",			K_OBJ_NULL,	MSG_SES, NULL },
	{ "diagnosis.id",		K_STR,		ALL, NULL },
	{ "diagnosis.severity",		K_STR,		ALL,
	  "info notice warning error critical" },
	{ "diagnosis.summary",		K_STR,		ALL, NULL },
	{ "diagnosis.remedy_client",	K_STR_NULL,	ALL, NULL },
	{ "diagnosis.remedy_admin",	K_STR_NULL,	ALL, NULL },
	{ "diagnosis.facts",		K_ARR_STR,	ALL, NULL },
	{ "action",			K_STR,		ALL,
	  "none header reject tempfail" },
	/* The counts of message and session events. */
	{ "counts",			K_OBJ,		MSG_SES, NULL },
	{ "counts.rcpts",		K_INT,		MESSAGE, NULL },
	{ "counts.rcpts_accepted",	K_INT,		MSG_SES, NULL },
	{ "counts.rcpts_rejected",	K_INT,		MSG_SES, NULL },
	{ "counts.messages",		K_INT,		SESSION, NULL },
	{ "counts.duration_ms",		K_INT,		SESSION, NULL },
	{ "diagnoses",			K_ARR_STR,	MSG_SES, NULL },
};
/* clang-format on */

static bool
word_in(const char *word, const char *list)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == ' ' || p[n] == '\0'))
			return (true);
	return (false);
}

/* ts_ok - "YYYY-MM-DDTHH:MM:SS.mmmZ" */
static bool
ts_ok(const char *ts)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	if (strlen(ts) != sizeof(shape) - 1)
		return (false);
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? ts[i] < '0' || ts[i] > '9'
				    : ts[i] != shape[i])
			return (false);
	return (true);
}

/*
 * check_schema - parse json and check every required member of its type;
 * returns the parsed object (json_decref it) or fails the test.
 */
static json_t *
check_schema(const char *name, const char *json, unsigned type)
{
	json_error_t jerr;
	json_t *root, *j;
	bool pnull;
	size_t i, k;
	unsigned nbad = 0;

	if (json == NULL)
		fail_msg("%s: no JSON (NULL)", name);
	if (strchr(json, '\n') != NULL)
		fail_msg(
		    "%s: the JSON has a newline (one event per line)", name);
	if ((root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		fail_msg("%s: invalid JSON: %s at %d: %s", name, jerr.text,
		    jerr.position, json);
	if (!json_is_object(root))
		fail_msg("%s: not a JSON object", name);
	for (i = 0; i < NCASES(members); i++) {
		enum kind kd = members[i].kind;
		bool ok;

		if ((members[i].types & type) == 0)
			continue;
		j = tu_json_at(root, members[i].path, &pnull);
		if (pnull)
			continue;
		if (j == NULL) {
			print_error(
			    "%s: member %s missing\n", name, members[i].path);
			nbad++;
			continue;
		}
		switch (kd) {
		case K_STR:
			ok = json_is_string(j);
			break;
		case K_STR_NULL:
			ok = json_is_string(j) || json_is_null(j);
			break;
		case K_INT:
			ok = json_is_integer(j);
			break;
		case K_INT_NULL:
			ok = json_is_integer(j) || json_is_null(j);
			break;
		case K_BOOL:
			ok = json_is_boolean(j);
			break;
		case K_OBJ:
			ok = json_is_object(j);
			break;
		case K_OBJ_NULL:
			ok = json_is_object(j) || json_is_null(j);
			break;
		case K_ARR_STR:
			ok = json_is_array(j);
			for (k = 0; ok && k < json_array_size(j); k++)
				ok = json_is_string(json_array_get(j, k));
			break;
		default:
			ok = false;
		}
		if (!ok) {
			char *d = json_dumps(j, JSON_ENCODE_ANY);

			print_error("%s: member %s has the wrong type: %s\n",
			    name, members[i].path, d != NULL ? d : "?");
			free(d);
			nbad++;
			continue;
		}
		if (members[i].values != NULL && json_is_string(j) &&
		    !word_in(json_string_value(j), members[i].values)) {
			print_error("%s: member %s: \"%s\" is not one of %s\n",
			    name, members[i].path, json_string_value(j),
			    members[i].values);
			nbad++;
		}
	}
	j = json_object_get(root, "ts");
	if (json_is_string(j) && !ts_ok(json_string_value(j))) {
		print_error("%s: ts \"%s\" is not RFC 3339 UTC with ms\n", name,
		    json_string_value(j));
		nbad++;
	}
	if (nbad > 0) {
		json_decref(root);
		fail_msg("%s: %u schema checks failed: %s", name, nbad, json);
	}
	return (root);
}

/* The common members of a plain session, overridden per case. */
static void
common_base(struct rd_event_common *c, const char *type)
{
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->id = "0123ABCD4567.1";
	c->ts = &ts_fixed;
	c->host = "mx.example.test";
	c->session = "0123ABCD4567";
	c->queue_id = "4Q2xYz1Abc";
	c->client_ip = "127.0.0.1";
	c->client_port = 48712;
	c->client_name = "localhost";
	c->helo = "UserPC";
	c->daemon = "mx.example.test";
	c->server_port = 2525;
	c->sender_addr = "carol@isp.test";
	c->sender_domain = "isp.test";
	c->action = "none";
}

/* Each rcpt case: what differs from common_base, and what to find. */
struct rcase {
	const char *name;
	/* overrides (NULL: keep the base) */
	const char *helo, *tls_version, *tls_cipher, *tls_bits;
	const char *auth_mech, *auth_user, *sender_addr, *sender_domain;
	bool no_tx, sender_local, trusted, submission;
	unsigned server_port;
	const char *action;
	/* the recipient */
	const char *rcpt, *rcpt_domain;
	struct rd_rcpt_class cls;
	const char *mailer, *host, *addr; /* rcpt macros */
	/* the HELO the diagnosis is made with (NULL: the event's) */
	const char *diag_helo;
	struct tu_want want[20];
};

#define EXT_NONE                                                               \
	{                                                                      \
		RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_NONE          \
	}
#define EXT_SASL                                                               \
	{                                                                      \
		RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_SASL          \
	}
#define EXT_NET                                                                \
	{                                                                      \
		RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_NETWORK       \
	}
#define LOC                                                                    \
	{                                                                      \
		RD_CLASS_LOCAL, RD_CLASS_BY_CONFIG, RD_AUTHZ_LOCAL             \
	}

/* clang-format off */
static const struct rcase rcases[] = {
	{ "desktop on port 25, Postfix: Relay access denied",
	  .rcpt = "bob@gmail.test", .rcpt_domain = "gmail.test",
	  .cls = EXT_NONE, .mailer = "error", .host = "5.7.1",
	  .addr = "Relay access denied",
	  .want = {
	    { "schema", "relaydiag.event/1" }, { "type", "rcpt" },
	    { "id", "0123ABCD4567.1" }, { "ts", "2026-11-23T18:28:17.123Z" },
	    { "host", "mx.example.test" }, { "session", "0123ABCD4567" },
	    { "queue_id", "4Q2xYz1Abc" }, { "client.ip", "127.0.0.1" },
	    { "client.port", "#48712" }, { "client.helo", "UserPC" },
	    { "client.trusted", "false" }, { "server.port", "#2525" },
	    { "tls", "null" }, { "auth", "null" },
	    { "mta.verdict", "reject" }, { "mta.code", "null" },
	    { "mta.dsn", "5.7.1" } } },
	{ "... its recipient, relay and diagnosis members",
	  .rcpt = "bob@gmail.test", .rcpt_domain = "gmail.test",
	  .cls = EXT_NONE, .mailer = "error", .host = "5.7.1",
	  .addr = "Relay access denied", .diag_helo = "UserPC",
	  .want = {
	    { "mta.text", "Relay access denied" },
	    { "rcpt.addr", "bob@gmail.test" }, { "rcpt.domain", "gmail.test" },
	    { "rcpt.class", "external" }, { "relay.authorized", "false" },
	    { "relay.by", "null" }, { "sender.addr", "carol@isp.test" },
	    { "sender.domain", "isp.test" }, { "sender.local", "false" },
	    { "diagnosis.id", "relay.client-on-port-25" },
	    { "diagnosis.severity", "error" },
	    { "diagnosis.summary", "~HELO \"UserPC\"" },
	    { "diagnosis.remedy_client", "~587" }, { "action", "none" } } },
	{ "authenticated with TLSv1.3, relayed",
	  .tls_version = "TLSv1.3", .tls_cipher = "TLS_AES_256_GCM_SHA384",
	  .tls_bits = "256", .auth_mech = "PLAIN",
	  .auth_user = "alice@example.test",
	  .sender_addr = "alice@example.test",
	  .sender_domain = "example.test", .sender_local = true,
	  .submission = true, .server_port = 2587, .action = "header",
	  .rcpt = "bob@gmail.test", .rcpt_domain = "gmail.test",
	  .cls = EXT_SASL, .mailer = "smtp", .host = "gmail.test",
	  .addr = "bob@gmail.test", .diag_helo = "UserPC",
	  .want = {
	    { "tls.version", "TLSv1.3" },
	    { "tls.cipher", "TLS_AES_256_GCM_SHA384" }, { "tls.bits", "#256" },
	    { "auth.mech", "PLAIN" }, { "auth.user", "alice@example.test" },
	    { "server.submission", "true" }, { "server.port", "#2587" },
	    { "sender.local", "true" }, { "mta.verdict", "accept" },
	    { "mta.dsn", "null" }, { "mta.text", "null" },
	    { "relay.authorized", "true" }, { "relay.by", "sasl" },
	    { "diagnosis.id", "relay.authorized-sasl" },
	    { "diagnosis.severity", "info" }, { "action", "header" } } },
	{ "near miss: TLS bits not a number",
	  .tls_version = "TLSv1.2", .tls_cipher = "ECDHE-RSA-AES128-GCM-SHA256",
	  .tls_bits = "128x", .rcpt = "alice@example.test",
	  .rcpt_domain = "example.test", .cls = LOC, .mailer = "virtual",
	  .host = "example.test", .addr = "alice@example.test",
	  .want = {
	    { "tls.version", "TLSv1.2" }, { "tls.bits", "null" },
	    { "rcpt.class", "local" }, { "relay.authorized", "true" },
	    { "relay.by", "local" }, { "diagnosis.id", "delivery.local" } } },
	{ "trusted client",
	  .trusted = true, .rcpt = "bob@gmail.test",
	  .rcpt_domain = "gmail.test",
	  .cls = EXT_NET, .mailer = "smtp", .host = "gmail.test",
	  .addr = "bob@gmail.test", .diag_helo = "UserPC",
	  .want = {
	    { "client.trusted", "true" }, { "relay.by", "network" },
	    { "diagnosis.id", "relay.authorized-network" } } },
	{ "null sender <>",
	  .sender_addr = "", .sender_domain = "", .rcpt = "alice@example.test",
	  .rcpt_domain = "example.test", .cls = LOC, .mailer = "virtual",
	  .host = "example.test", .addr = "alice@example.test",
	  .want = {
	    { "sender.addr", "" }, { "sender.domain", "null" } } },
	{ "no transaction: sender null",
	  .no_tx = true, .rcpt = "alice@example.test",
	  .rcpt_domain = "example.test", .cls = LOC, .mailer = "virtual",
	  .host = "example.test", .addr = "alice@example.test",
	  .want = { { "sender", "null" } } },
	{ "Postfix tempfail: 4.1.2 Domain not found",
	  .rcpt = "bob@nonexist.test", .rcpt_domain = "nonexist.test",
	  .cls = EXT_NONE, .mailer = "error", .host = "4.1.2",
	  .addr = "Recipient address rejected: Domain not found",
	  .diag_helo = "mail.isp.test",
	  .want = {
	    { "mta.verdict", "tempfail" }, { "mta.dsn", "4.1.2" },
	    { "diagnosis.id", "mta.unknown-domain" } } },
	{ "hostile: invalid UTF-8 and control characters everywhere",
	  .helo = "\xff\xfeUser\r\n\x01PC\xc3", .auth_mech = "PL\x80IN",
	  .auth_user = "al\xc3ice\r\n\x7f", .sender_addr = "s\xe9nder@isp.test",
	  .sender_domain = "isp.test", .tls_version = "TLS\xf0\x9f",
	  .rcpt = "b\xffob@gmail.test", .rcpt_domain = "gm\xe2\x82il.test",
	  .cls = EXT_SASL, .mailer = "error", .host = "5.7.1",
	  .addr = "Relay access denied\r\n\x1b[0m \xed\xa0\x80 \x80",
	  .diag_helo = "\xff\xfeUser\r\n\x01PC\xc3",
	  .want = {
	    { "client.helo",
	      "\xef\xbf\xbd\xef\xbf\xbdUser\r\n\x01PC\xef\xbf\xbd" },
	    { "auth.user", "~al\xef\xbf\xbd" "ice\r\n\x7f" },
	    { "auth.mech", "~PL\xef\xbf\xbdIN" },
	    { "sender.addr", "s\xef\xbf\xbdnder@isp.test" },
	    { "tls.version", "~TLS\xef\xbf\xbd" },
	    { "rcpt.addr", "b\xef\xbf\xbdob@gmail.test" },
	    { "rcpt.domain", "~gm\xef\xbf\xbd" },
	    { "mta.text", "~denied\r\n\x1b[0m \xef\xbf\xbd" },
	    /* logged in and refused: never "did not log in" */
	    { "diagnosis.id", "relay.authenticated-refused" },
	    { "diagnosis.summary", "~ice\r\n\x7f logged in" } } },
};
/* clang-format on */

typedef char *(*rcpt_fn)(
    const struct rd_event_common *, const struct rd_event_rcpt *);

static void
build_rcpt_with(const struct rcase *rc, char **json, rcpt_fn fn)
{
	struct rd_event_common c;
	struct rd_event_rcpt r;
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;

	common_base(&c, "rcpt");
	if (rc->helo != NULL)
		c.helo = rc->helo;
	c.tls_version = rc->tls_version;
	c.tls_cipher = rc->tls_cipher;
	c.tls_bits = rc->tls_bits;
	c.auth_mech = rc->auth_mech;
	c.auth_user = rc->auth_user;
	if (rc->sender_addr != NULL) {
		c.sender_addr = rc->sender_addr;
		c.sender_domain = rc->sender_domain;
	}
	if (rc->no_tx)
		c.sender_addr = c.sender_domain = NULL;
	c.sender_local = rc->sender_local;
	c.trusted = rc->trusted;
	c.submission = rc->submission;
	if (rc->server_port != 0)
		c.server_port = rc->server_port;
	if (rc->action != NULL)
		c.action = rc->action;

	rd_classify_mta(rc->mailer, rc->host, rc->addr, &mta);
	memset(&r, 0, sizeof(r));
	r.addr = rc->rcpt;
	r.domain = rc->rcpt_domain;
	r.cls = &rc->cls;
	r.mta = &mta;
	{
		memset(&f, 0, sizeof(f));
		f.client_ip = c.client_ip;
		f.helo = rc->diag_helo != NULL ? rc->diag_helo : c.helo;
		f.server_port = c.server_port;
		f.submission_port = c.submission;
		f.tls = c.tls_version != NULL;
		f.trusted = c.trusted;
		f.auth_user = c.auth_user;
		f.sender = c.sender_addr;
		f.sender_domain = c.sender_domain;
		f.rcpt = r.addr;
		f.rcpt_domain = r.domain;
		f.cls = rc->cls;
		f.mta = &mta;
		rd_diagnose_rcpt(&f, &d);
		r.diag = &d;
	}
	*json = fn(&c, &r);
}

static void
build_rcpt(const struct rcase *rc, char **json)
{
	build_rcpt_with(rc, json, rd_event_rcpt_json);
}

static void
test_event_rcpt_cases(void **state)
{
	json_t *root;
	char *json;
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(rcases); i++) {
		build_rcpt(&rcases[i], &json);
		root = check_schema(rcases[i].name, json, RCPT);
		nbad += tu_check_values(rcases[i].name, root, rcases[i].want,
		    NCASES(rcases[i].want), true);
		json_decref(root);
		free(json);
	}
	if (nbad > 0)
		fail_msg("%u rcpt event values wrong (%zu cases)", nbad,
		    NCASES(rcases));
}

/* A diagnosis filled from facts for the message and session events. */
static void
diag_desktop(struct rd_diagnosis *d, struct rd_mta_result *mta)
{
	struct rd_facts f;

	rd_classify_mta("error", "5.7.1", "Relay access denied", mta);
	memset(&f, 0, sizeof(f));
	f.client_ip = "127.0.0.1";
	f.helo = "UserPC";
	f.server_port = 2525;
	f.rcpt = "bob@gmail.test";
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.mta = mta;
	rd_diagnose_rcpt(&f, d);
}

static void
test_event_message(void **state)
{
	static const char *const ids[] = {
	    "delivery.local", "relay.client-on-port-25"};
	static const struct tu_want want[] = {
	    {"type", "message"},
	    {"counts.rcpts", "#3"},
	    {"counts.rcpts_accepted", "#1"},
	    {"counts.rcpts_rejected", "#2"},
	    {"diagnosis.id", "relay.client-on-port-25"},
	    {"action", "header"},
	    {"queue_id", "4Q2xYz1Abc"},
	};
	struct rd_event_common c;
	struct rd_event_counts n;
	struct rd_diagnosis d;
	struct rd_mta_result mta;
	json_t *root, *a;
	char *json;
	unsigned nbad;

	(void)state;
	diag_desktop(&d, &mta);
	common_base(&c, "message");
	c.action = "header";
	memset(&n, 0, sizeof(n));
	n.rcpts = 3;
	n.rcpts_accepted = 1;
	n.rcpts_rejected = 2;
	n.diag_ids = ids;
	n.ndiag_ids = 2;
	json = rd_event_message_json(&c, &n, &d);
	root = check_schema("message event", json, MESSAGE);
	nbad = tu_check_values("message event", root, want, NCASES(want), true);
	a = json_object_get(root, "diagnoses");
	if (json_array_size(a) != 2 ||
	    strcmp(json_string_value(json_array_get(a, 1)),
		"relay.client-on-port-25") != 0)
		fail_msg("message event: diagnoses: got %zu, want the 2 ids",
		    json_array_size(a));
	json_decref(root);
	free(json);
	if (nbad > 0)
		fail_msg("message event: %u values wrong", nbad);

	/* No recipient diagnosed (all refused before RCPT): null. */
	n.ndiag_ids = 0;
	json = rd_event_message_json(&c, &n, NULL);
	root = check_schema("message event without diagnosis", json, MESSAGE);
	if (!json_is_null(json_object_get(root, "diagnosis")) ||
	    json_array_size(json_object_get(root, "diagnoses")) != 0)
		fail_msg("message event without diagnosis: %s", json);
	json_decref(root);
	free(json);
}

static void
test_event_session(void **state)
{
	static const char *const ids[] = {"relay.client-on-port-25",
	    "delivery.local", "relay.authorized-sasl"};
	static const struct tu_want want[] = {
	    {"type", "session"},
	    {"counts.rcpts_accepted", "#4"},
	    {"counts.rcpts_rejected", "#1"},
	    {"counts.messages", "#2"},
	    {"counts.duration_ms", "#61234"},
	    {"sender", "null"},
	    {"queue_id", "null"},
	    {"client.helo", "null"},
	};
	struct rd_event_common c;
	struct rd_event_counts n;
	json_t *root, *a;
	char *json;
	size_t i;
	unsigned nbad;

	(void)state;
	common_base(&c, "session");
	c.sender_addr = NULL; /* no transaction at close */
	c.queue_id = "";
	c.helo = NULL; /* no HELO was ever sent */
	memset(&n, 0, sizeof(n));
	n.rcpts_accepted = 4;
	n.rcpts_rejected = 1;
	n.messages = 2;
	n.duration_ms = 61234;
	n.diag_ids = ids;
	n.ndiag_ids = NCASES(ids);
	json = rd_event_session_json(&c, &n);
	root = check_schema("session event", json, SESSION);
	nbad = tu_check_values("session event", root, want, NCASES(want), true);
	a = json_object_get(root, "diagnoses");
	if (json_array_size(a) != NCASES(ids))
		fail_msg("session event: %zu diagnoses, want %zu",
		    json_array_size(a), NCASES(ids));
	for (i = 0; i < NCASES(ids); i++)
		if (strcmp(json_string_value(json_array_get(a, i)), ids[i]))
			fail_msg("session event: diagnoses[%zu]: got %s, "
				 "want %s",
			    i, json_string_value(json_array_get(a, i)), ids[i]);
	json_decref(root);
	free(json);
	if (nbad > 0)
		fail_msg("session event: %u values wrong", nbad);

	/* A connection with no mail and nothing known: still complete. */
	memset(&c, 0, sizeof(c));
	c.type = "session";
	c.id = "0123ABCD4567.1";
	c.ts = &ts_fixed;
	c.session = "0123ABCD4567";
	memset(&n, 0, sizeof(n));
	json = rd_event_session_json(&c, &n);
	root = check_schema("session event, nothing known", json, SESSION);
	if (!json_is_null(json_object_get(root, "host")) ||
	    strcmp(json_string_value(json_object_get(root, "action")),
		"none") != 0)
		fail_msg("session event, nothing known: %s", json);
	json_decref(root);
	free(json);
}

/* The time stamp: RFC 3339, UTC, milliseconds, at the edges. */
static void
test_event_ts(void **state)
{
	static const struct {
		const char *name;
		struct timespec ts;
		const char *want;
	} tcases[] = {
	    {"epoch", {0, 0}, "1970-01-01T00:00:00.000Z"},
	    {"milliseconds cut, not rounded", {1795458497, 999999999},
		"2026-11-23T18:28:17.999Z"},
	    {"one millisecond", {1795458497, 1000000},
		"2026-11-23T18:28:17.001Z"},
	    {"leap day", {1709164800, 0}, "2024-02-29T00:00:00.000Z"},
	};
	struct rd_event_common c;
	struct rd_event_counts n;
	json_t *root;
	char *json;
	size_t i;

	(void)state;
	for (i = 0; i < NCASES(tcases); i++) {
		common_base(&c, "session");
		c.ts = &tcases[i].ts;
		memset(&n, 0, sizeof(n));
		json = rd_event_session_json(&c, &n);
		root = check_schema(tcases[i].name, json, SESSION);
		if (strcmp(json_string_value(json_object_get(root, "ts")),
			tcases[i].want) != 0)
			fail_msg("%s: got %s, want %s", tcases[i].name,
			    json_string_value(json_object_get(root, "ts")),
			    tcases[i].want);
		json_decref(root);
		free(json);
	}
}

/*
 * rd_event_check (records back from the spool): what is no event of this
 * contract is refused with a reason that never quotes the record (it goes
 * to the log, and another hand may have written it).
 */
static void
test_event_check(void **state)
{
	static const char *const bad[] = {"pwned \x1b]0;x\x07", "[1]",
	    "{\"schema\":\"relaydiag.event/1\",\"type\":\"rcpt\"}",
	    "{\"schema\":\"x\",\"type\":\"rcpt\",\"id\":\"a\","
	    "\"session\":\"b\",\"ts\":\"c\"}"};
	const char *good =
	    "{\"schema\":\"relaydiag.event/1\",\"type\":"
	    "\"rcpt\",\"id\":\"a\",\"session\":\"b\",\"ts\":\"c\"}";
	char why[128];
	size_t i;

	(void)state;
	assert_int_equal(
	    rd_event_check("rcpt", good, strlen(good), why, sizeof(why)), 0);
	assert_int_equal(
	    rd_event_check("alert", good, strlen(good), why, sizeof(why)), -1);
	assert_int_equal(
	    rd_event_check("bogus", good, strlen(good), why, sizeof(why)), -1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rd_event_check("rcpt", bad[i], strlen(bad[i]),
				     why, sizeof(why)),
		    -1);
		if (strstr(why, "pwned") != NULL || strchr(why, 0x1b) != NULL)
			fail_msg("the reason quotes the record: %s", why);
	}
}

/* ---- the jansson oracle: lib/event.c writes exactly its bytes ---- */

/* Strings a client can send, and what no event may garble. */
static const char *const hostile[] = {"", "plain", "a\"b\\c/d",
    "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"
    "\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd",
    "bad \xff\xfe \xc0\xaf \xe0\x80\xaf \xed\xa0\x80 \xf4\x90\x80\x80 "
    "\xc3 \xe2\x82 \xf0\x9f\x98",
    "<img/src=x/onerror=alert(1)>", "\xe2\x80\xae\xe2\x81\xa6rtl",
    "\\u0000 \\x0a %s %n", "\xc2\x80\xc2\x9f\xdf\xbf\xee\x80\x80"};

static unsigned
oracle_same(const char *what, const char *h, char *mine, char *theirs)
{
	unsigned bad = 0;

	if (mine == NULL || theirs == NULL || strcmp(mine, theirs) != 0) {
		print_error("%s with \"%s\":\n mine:   %s\n jansson: %s\n",
		    what, h, mine != NULL ? mine : "(null)",
		    theirs != NULL ? theirs : "(null)");
		bad = 1;
	}
	free(mine);
	free(theirs);
	return (bad);
}

/* hostile_common - every text member of c set to h */
static void
hostile_common(struct rd_event_common *c, const char *type, const char *h,
    unsigned variant)
{
	common_base(c, type);
	c->id = c->session = c->host = c->queue_id = h;
	c->client_ip = c->client_name = c->helo = c->daemon = h;
	c->sender_addr = c->sender_domain = h;
	c->auth_mech = c->auth_user = h;
	c->tls_version = c->tls_cipher = h;
	c->tls_bits = variant & 1 ? "256" : h;
	c->trusted = variant & 2;
	c->submission = variant & 4;
	c->sender_local = variant & 8;
	c->client_port = variant & 16 ? 0 : 65535;
	c->server_port = variant & 16 ? 587 : 0;
	c->truncated = variant * 0x2a5u & 0x7ffu;
	if (variant & 32)
		c->sender_addr = NULL;
	if (variant & 64)
		c->auth_user = c->tls_version = NULL;
	c->front_end = variant & 128 ? "policy" : NULL;
	c->action = variant & 128 ? NULL : "header";
}

static void
test_event_oracle(void **state)
{
	struct rd_event_common c;
	struct rd_event_rcpt r;
	struct rd_event_counts n;
	struct rd_event_alert a;
	struct rd_event_delivery dl;
	struct rd_event_auth au;
	struct rd_rcpt_class cls;
	struct rd_mta_result mta;
	struct rd_diagnosis d;
	const char *list[3];
	const char *ids[2] = {"relay.no-auth", "delivery.local"};
	unsigned bad = 0, v;
	char *mine, *theirs;
	size_t i;

	(void)state;
	/* every rcpt case of this file */
	for (i = 0; i < NCASES(rcases); i++) {
		build_rcpt_with(&rcases[i], &mine, rd_event_rcpt_json);
		build_rcpt_with(&rcases[i], &theirs, oracle_event_rcpt_json);
		bad += oracle_same(rcases[i].name, "", mine, theirs);
	}
	diag_desktop(&d, &mta);
	for (i = 0; i < NCASES(hostile); i++) {
		for (v = 0; v < 256; v += 17) {
			const char *h = hostile[i];

			snprintf(d.summary, sizeof(d.summary), "%s", h);
			snprintf(
			    d.remedy_client, sizeof(d.remedy_client), "%s", h);
			snprintf(d.remedy_admin, sizeof(d.remedy_admin), "%s",
			    v & 1 ? "" : h);
			snprintf(d.facts[0], sizeof(d.facts[0]), "%s", h);
			d.nfacts = 1 + (v & 1);
			memset(&cls, 0, sizeof(cls));
			cls.rclass = (enum rd_class)(v % 3);
			cls.by = (enum rd_authz)(v % 4);
			memset(&r, 0, sizeof(r));
			r.addr = h;
			r.domain = v & 2 ? NULL : h;
			r.cls = &cls;
			snprintf(mta.code, sizeof(mta.code), "%s", h);
			snprintf(mta.dsn, sizeof(mta.dsn), "%s", h);
			snprintf(mta.text, sizeof(mta.text), "%s", h);
			mta.verdict = (enum rd_mta_verdict)(v % 3);
			r.mta = &mta;
			r.diag = v & 4 ? NULL : &d;
			hostile_common(&c, "rcpt", h, v);
			bad +=
			    oracle_same("rcpt", h, rd_event_rcpt_json(&c, &r),
				oracle_event_rcpt_json(&c, &r));

			memset(&n, 0, sizeof(n));
			n.rcpts = v;
			n.rcpts_accepted = v / 2;
			n.rcpts_rejected = v / 3;
			n.messages = v / 5;
			n.duration_ms = (uint64_t)v * 1000003u;
			n.diag_ids = ids;
			n.ndiag_ids = v % 3;
			n.has_sink = v & 8;
			n.sink_dropped = v * 7u;
			n.sink_spooled = 1ULL << 40;
			hostile_common(&c, "message", h, v);
			bad += oracle_same("message", h,
			    rd_event_message_json(&c, &n, v & 4 ? NULL : &d),
			    oracle_event_message_json(
				&c, &n, v & 4 ? NULL : &d));
			hostile_common(&c, "session", h, v);
			bad += oracle_same("session", h,
			    rd_event_session_json(&c, &n),
			    oracle_event_session_json(&c, &n));

			list[0] = list[1] = list[2] = h;
			memset(&a, 0, sizeof(a));
			a.diag = &d;
			a.window_s = 900 + v;
			a.metric = "refused_relay_attempts";
			a.limit = 20;
			a.observed = v;
			a.clients = list;
			a.nclients = v % 4 > 2 ? 2 : v % 4;
			a.senders = list;
			a.nsenders = v % 3;
			hostile_common(&c, "alert", h, v);
			bad +=
			    oracle_same("alert", h, rd_event_alert_json(&c, &a),
				oracle_event_alert_json(&c, &a));

			memset(&dl, 0, sizeof(dl));
			dl.rcpt = dl.rcpt_domain = dl.status = h;
			dl.relay_host = dl.relay_ip = dl.code = dl.dsn = h;
			dl.text = dl.mta = v & 2 ? NULL : h;
			dl.relay_port = v & 1 ? 25 : 0;
			dl.in_reply_to_rcpt = v & 4;
			dl.diag = v & 8 ? NULL : &d;
			hostile_common(&c, "delivery", h, v);
			bad += oracle_same("delivery", h,
			    rd_event_delivery_json(&c, &dl),
			    oracle_event_delivery_json(&c, &dl));

			memset(&au, 0, sizeof(au));
			au.mech = au.user = au.reason = h;
			au.mta = v & 2 ? NULL : "postfix";
			hostile_common(&c, "auth", h, v);
			bad +=
			    oracle_same("auth", h, rd_event_auth_json(&c, &au),
				oracle_event_auth_json(&c, &au));
		}
	}
	if (bad > 0)
		fail_msg("%u events differ from jansson's bytes", bad);
}

/* rd_text_json_quote against jansson's dump of the same string: every
   byte alone and every pair of bytes */
static void
test_json_quote_oracle(void **state)
{
	struct rd_buf mine, valid;
	char in[3];
	char *theirs;
	json_t *j;
	unsigned a, b, bad = 0;

	(void)state;
	rd_buf_init(&mine);
	rd_buf_init(&valid);
	for (a = 1; a < 256; a++)
		for (b = 0; b < 256; b++) {
			in[0] = (char)a;
			in[1] = (char)b;
			in[2] = '\0';
			rd_buf_reset(&mine);
			rd_buf_reset(&valid);
			rd_text_json_quote(&mine, in);
			rd_text_json(&valid, in);
			j = json_stringn(valid.data, valid.len);
			theirs =
			    j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
			json_decref(j);
			if (theirs == NULL || strcmp(mine.data, theirs) != 0) {
				if (bad++ < 5)
					print_error(
					    "%02x %02x: mine %s, jansson %s\n",
					    a, b, mine.data,
					    theirs != NULL ? theirs : "(null)");
			}
			free(theirs);
		}
	rd_buf_free(&mine);
	rd_buf_free(&valid);
	if (bad > 0)
		fail_msg("%u of 65280 strings quoted unlike jansson", bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_event_check),
	    cmocka_unit_test(test_event_rcpt_cases),
	    cmocka_unit_test(test_event_oracle),
	    cmocka_unit_test(test_json_quote_oracle),
	    cmocka_unit_test(test_event_message),
	    cmocka_unit_test(test_event_session),
	    cmocka_unit_test(test_event_ts),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_session.c - rd_session_* driven the way the glue drives it, with the
 * arguments and macros a real Postfix 3.7 sends (values from
 * shared/design/postfix-notes.md, kept here as data), and a capturing sink
 * that keeps every event and parses it back with jansson.
 *
 * The single-transaction cases are a table: one connection, HELO, MAIL,
 * recipients, each recipient with the diagnosis id and the action wanted,
 * then end of message (or abort when nothing was accepted) and close; the
 * table also lists member values wanted in the first recipient event. The
 * session counts and the list of ids in the session event are derived from
 * the same rows. Longer stories (the end-of-message plan per mode, abort,
 * several transactions, hostile input) have a test each.
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
#include <syslog.h>

#include <jansson.h>

#include "relaydiag/config.h"
#include "relaydiag/domainset.h"
#include "relaydiag/log.h"
#include "relaydiag/netset.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"

#include "testutil.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* ---- configuration ------------------------------------------------------ */

/*
 * The private Postfix of postfix-notes.md: an MX-like listener on
 * 127.0.0.1:2525 and a submission-like one on 2587; 127.0.0.10 plays the
 * trusted office server (mynetworks), 127.0.0.1 an untrusted client.
 */
static struct rd_config *
cfg_new(enum rd_mode mode, bool tls_auth_only)
{
	struct rd_config *cfg;
	struct rd_err err;

	cfg = rd_config_defaults();
	assert_non_null(cfg);
	memset(&err, 0, sizeof(err));
	rd_netset_free(cfg->trusted_networks);
	cfg->trusted_networks = rd_netset_new();
	assert_non_null(cfg->trusted_networks);
	if (rd_domainset_add_list(
		cfg->local_domains, "example.test, example.org", &err) != 0 ||
	    rd_domainset_add_list(cfg->relay_domains, "backup.test", &err) !=
		0 ||
	    rd_netset_add_list(
		cfg->trusted_networks, "127.0.0.10/32 192.0.2.0/28", &err) != 0)
		fail_msg("test config: %s", err.text);
	cfg->submission_ports[0] = 2587;
	cfg->n_submission_ports = 1;
	cfg->mode = mode;
	cfg->tls_auth_only = tls_auth_only;
	return (cfg);
}

/* ---- what Postfix sends, as data -------------------------------------- */

/* clang-format off */
/* CONNECT: hostaddr, {client_port}, hostname, {client_ptr}, {daemon_name},
 * {daemon_addr}, {daemon_port}, j */
static const struct rd_conn_info conn_mx = {
	"127.0.0.1", 48712, "localhost", "localhost", "mx.example.test",
	"127.0.0.1", 2525, "mx.example.test",
};
static const struct rd_conn_info conn_sub = {
	"127.0.0.1", 48714, "localhost", "localhost", "ORIGINATING",
	"127.0.0.1", 2587, "mx.example.test",
};
static const struct rd_conn_info conn_trusted = {
	"127.0.0.10", 51000, "office.example.test", "office.example.test",
	"mx.example.test", "127.0.0.1", 2525, "mx.example.test",
};

/* MAIL FROM: argv[0], i, {auth_type}, {auth_authen}, TLS macros */
static const struct rd_mail_info mail_carol = {
	"<carol@isp.test>", NULL, NULL, NULL, { NULL, NULL, NULL, NULL },
};
static const struct rd_mail_info mail_forger = {
	"<boss@example.test>", NULL, NULL, NULL, { NULL, NULL, NULL, NULL },
};
static const struct rd_mail_info mail_alice = {
	"<alice@example.test>", "4Q2xYz1Abc", "PLAIN", "alice@example.test",
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", NULL },
};
static const struct rd_mail_info mail_alice_as_boss = {
	"<boss@example.test>", "4Q2xYz1Abd", "PLAIN", "alice@example.test",
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", NULL },
};

/* RCPT TO: argv[0], {rcpt_mailer}, {rcpt_host}, {rcpt_addr} */
static const struct rd_rcpt_info rcpt_relay_denied = {
	"<bob@gmail.test>", "error", "5.7.1", "Relay access denied", NULL,
};
static const struct rd_rcpt_info rcpt_relay_ok = {
	"<bob@gmail.test>", "smtp", "gmail.test", "bob@gmail.test", NULL,
};
static const struct rd_rcpt_info rcpt_virtual = {
	"<alice@example.test>", "virtual", "example.test",
	"alice@example.test", NULL,
};
static const struct rd_rcpt_info rcpt_local = {
	"<postmaster@mx.example.test>", "local", "mx.example.test",
	"postmaster", NULL,
};
static const struct rd_rcpt_info rcpt_unknown = {
	"<nobody@example.test>", "error", "5.1.1",
	"Recipient address rejected: User unknown in virtual mailbox table",
	NULL,
};
static const struct rd_rcpt_info rcpt_client_rejected = {
	"<alice@example.test>", "error", "5.7.1",
	"Client host rejected: Access denied", NULL,
};
/* A local part over RFC 5321's 64 octets: Postfix takes it, addr.c not. */
static const struct rd_rcpt_info rcpt_relay_ok_long_local = {
	"<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaa@gmail.test>", "smtp", "gmail.test",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	"aaaaaaaaaa@gmail.test", NULL,
};
/* clang-format on */

/* ---- the reply's shape (the glue hands it to smfi_setmlreply) ---------- */

static void
check_reply(const char *name, const struct rd_verdict *v, const char *want_id,
    const char *eid)
{
	char want[128];
	size_t i, j;

	if (v->action == RD_ACTION_TEMPFAIL
		? strcmp(v->code, "451") != 0 || strcmp(v->dsn, "4.7.1") != 0
		: strcmp(v->code, "554") != 0 || strcmp(v->dsn, "5.7.1") != 0)
		fail_msg("%s: reply %s %s, want %s", name, v->code, v->dsn,
		    v->action == RD_ACTION_TEMPFAIL ? "451 4.7.1"
						    : "554 5.7.1");
	if (v->nlines < 2 || v->nlines > RD_REPLY_LINES_MAX)
		fail_msg("%s: %zu reply lines", name, v->nlines);
	for (i = 0; i < v->nlines; i++) {
		if (strnlen(v->lines[i], RD_REPLY_LINE_MAX) >=
		    RD_REPLY_LINE_MAX)
			fail_msg("%s: reply line %zu too long", name, i + 1);
		for (j = 0; v->lines[i][j] != '\0'; j++) {
			unsigned char c = (unsigned char)v->lines[i][j];

			if (c < 0x20 || c > 0x7e)
				fail_msg("%s: reply line %zu: byte 0x%02X",
				    name, i + 1, c);
			if (c == '%' && v->lines[i][++j] != '%')
				fail_msg("%s: reply line %zu: single '%%'",
				    name, i + 1);
		}
	}
	/* An unauthorized relay says so first; other ids name the rcpt. */
	if (strncmp(want_id, "relay.", 6) == 0 &&
		    strncmp(want_id, "relay.authorized", 16) != 0
		? strncmp(v->lines[0], "Relay access denied for <", 25) != 0
		: strchr(v->lines[0], '<') == NULL)
		fail_msg("%s: first reply line \"%s\"", name, v->lines[0]);
	snprintf(want, sizeof(want), "Ref %s %s", want_id, eid);
	if (strcmp(v->lines[v->nlines - 1], want) != 0)
		fail_msg("%s: last reply line \"%s\", want \"%s\"", name,
		    v->lines[v->nlines - 1], want);
}

/* ---- single-transaction cases ----------------------------------------- */

struct sc_rcpt {
	const struct rd_rcpt_info *ri;
	const char *want_id;
	enum rd_action want_action;
};

struct scenario {
	const char *name;
	enum rd_mode mode;
	bool tls_auth_only;
	bool relay_gate;    /* RelayGate (deployment 2) */
	const char *act_id; /* Action act_id=act, or NULL */
	enum rd_action act;
	const struct rd_conn_info *conn;
	const char *helo;
	const struct rd_mail_info *mail;
	struct sc_rcpt rcpts[3];
	struct tu_want want[20]; /* in the first rcpt event */
};

/* The policy column: RelayGate, and one "Action id=action" line. */
#define NOGATE false, NULL, RD_ACTION_NONE
#define GATE true, NULL, RD_ACTION_NONE
#define ACT(id, a) false, id, a
#define GATE_ACT(id, a) true, id, a

/* clang-format off */
static const struct scenario scenarios[] = {
	{ "desktop on 2525, HELO UserPC, Postfix refuses relaying",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25", RD_ACTION_NONE } },
	  { { "host", "mx.example.test" }, { "client.ip", "127.0.0.1" },
	    { "client.port", "#48712" }, { "client.name", "localhost" },
	    { "client.helo", "UserPC" }, { "client.trusted", "false" },
	    { "server.daemon", "mx.example.test" }, { "server.port", "#2525" },
	    { "server.submission", "false" }, { "tls", "null" },
	    { "auth", "null" }, { "sender.addr", "carol@isp.test" },
	    { "sender.domain", "isp.test" }, { "sender.local", "false" },
	    { "rcpt.addr", "bob@gmail.test" }, { "rcpt.class", "external" },
	    { "mta.verdict", "reject" }, { "mta.dsn", "5.7.1" },
	    { "mta.text", "Relay access denied" }, { "action", "none" } } },
	{ "... its relay and diagnosis members",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25", RD_ACTION_NONE } },
	  { { "relay.authorized", "false" }, { "relay.by", "null" },
	    { "diagnosis.severity", "error" },
	    { "diagnosis.summary", "~HELO \"UserPC\"" },
	    { "diagnosis.summary", "~port 2525" },
	    { "diagnosis.remedy_client", "~587" }, { "queue_id", "null" } } },
	{ "enforce: the MTA's own refusal is never overridden",
	  RD_MODE_ENFORCE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25", RD_ACTION_NONE } },
	  { { "action", "none" }, { "mta.verdict", "reject" } } },
	{ "annotate: the MTA's own refusal, action none",
	  RD_MODE_ANNOTATE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25", RD_ACTION_NONE } },
	  { { "action", "none" } } },
	{ "near miss: FQDN HELO, Postfix refuses relaying",
	  RD_MODE_OBSERVE, false, NOGATE,
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_relay_denied, "relay.no-auth", RD_ACTION_NONE } },
	  { { "client.helo", "mail.isp.test" } } },
	{ "TLSAuthOnly, no STARTTLS, HELO UserPC",
	  RD_MODE_OBSERVE, true, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.tls-required-for-auth",
	      RD_ACTION_NONE } },
	  { { "tls", "null" } } },
	{ "near miss: TLSAuthOnly, client did STARTTLS (no AUTH)",
	  RD_MODE_OBSERVE, true, NOGATE, &conn_mx, "UserPC",
	  &(const struct rd_mail_info){ "<carol@isp.test>", NULL, NULL, NULL,
	      { "TLSv1.3", "TLS_AES_128_GCM_SHA256", "128", NULL } },
	  { { &rcpt_relay_denied, "relay.client-on-port-25",
	      RD_ACTION_NONE } },
	  { { "tls.version", "TLSv1.3" }, { "tls.bits", "#128" } } },
	{ "alice, PLAIN over TLSv1.3 on 2587, relays (annotate)",
	  RD_MODE_ANNOTATE, false, NOGATE, &conn_sub, "UserPC", &mail_alice,
	  { { &rcpt_relay_ok, "relay.authorized-sasl", RD_ACTION_HEADER } },
	  { { "auth.mech", "PLAIN" }, { "auth.user", "alice@example.test" },
	    { "tls.version", "TLSv1.3" },
	    { "tls.cipher", "TLS_AES_256_GCM_SHA384" }, { "tls.bits", "#256" },
	    { "server.daemon", "ORIGINATING" }, { "server.port", "#2587" },
	    { "server.submission", "true" }, { "sender.local", "true" },
	    { "queue_id", "4Q2xYz1Abc" }, { "mta.verdict", "accept" },
	    { "relay.authorized", "true" }, { "relay.by", "sasl" },
	    { "diagnosis.severity", "info" }, { "action", "header" } } },
	{ "alice sends as boss@ (annotate)",
	  RD_MODE_ANNOTATE, false, NOGATE,
	  &conn_sub, "UserPC", &mail_alice_as_boss,
	  { { &rcpt_relay_ok, "sender.login-mismatch", RD_ACTION_HEADER } },
	  { { "diagnosis.summary", "~alice@example.test" } } },
	{ "local delivery by virtual and by local (observe)",
	  RD_MODE_OBSERVE, false, NOGATE,
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_virtual, "delivery.local", RD_ACTION_NONE },
	    { &rcpt_local, "delivery.local", RD_ACTION_NONE } },
	  { { "rcpt.class", "local" }, { "rcpt.domain", "example.test" },
	    { "relay.authorized", "true" }, { "relay.by", "local" },
	    { "mta.verdict", "accept" } } },
	{ "stranger sends as a local domain without AUTH",
	  RD_MODE_OBSERVE, false, NOGATE,
	  &conn_mx, "mail.isp.test", &mail_forger,
	  { { &rcpt_virtual, "sender.local-domain-unauthenticated",
	      RD_ACTION_NONE } },
	  { { "sender.local", "true" }, { "sender.domain", "example.test" } } },
	{ "submission port without AUTH",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_sub, "UserPC", &mail_carol,
	  { { &rcpt_virtual, "submission.no-auth", RD_ACTION_NONE } },
	  { { "server.submission", "true" } } },
	{ "trusted office server relays",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_trusted, "office.example.test",
	  &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-network", RD_ACTION_NONE } },
	  { { "client.trusted", "true" }, { "client.ip", "127.0.0.10" },
	    { "relay.by", "network" } } },
	{ "Postfix: User unknown in virtual mailbox table",
	  RD_MODE_ENFORCE, false, NOGATE,
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_unknown, "rcpt.unknown-user", RD_ACTION_NONE } },
	  { { "mta.dsn", "5.1.1" }, { "rcpt.class", "local" } } },
	{ "Postfix: Client host rejected",
	  RD_MODE_OBSERVE, false, NOGATE,
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_client_rejected, "mta.client-rejected", RD_ACTION_NONE } },
	  { { "mta.text", "Client host rejected: Access denied" } } },
	{ "refused relay, then an accepted local recipient",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25", RD_ACTION_NONE },
	    { &rcpt_virtual, "delivery.local", RD_ACTION_NONE } },
	  { { "action", "none" } } },

	/* Deployment 2: Postfix lets the relay through, relaydiag decides. */
	{ "deployment 2: enforce refuses an unauthorized relay",
	  RD_MODE_ENFORCE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "reject" }, { "mta.verdict", "accept" },
	    { "relay.authorized", "false" } } },
	{ "deployment 2: FQDN HELO, refused as relay.no-auth",
	  RD_MODE_ENFORCE, false, GATE,
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_relay_ok, "relay.no-auth", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "deployment 2: an over-long local part is no way around",
	  RD_MODE_ENFORCE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok_long_local, "relay.client-on-port-25",
	      RD_ACTION_REJECT } },
	  { { "action", "reject" }, { "relay.authorized", "false" },
	    { "rcpt.class", "external" } } },
	{ "deployment 2: near miss: authenticated relay passes",
	  RD_MODE_ENFORCE, false, GATE, &conn_sub, "UserPC", &mail_alice,
	  { { &rcpt_relay_ok, "relay.authorized-sasl", RD_ACTION_HEADER } },
	  { { "action", "header" } } },
	{ "deployment 2: near miss: trusted client passes",
	  RD_MODE_ENFORCE, false, GATE, &conn_trusted, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-network", RD_ACTION_HEADER } },
	  { { "action", "header" } } },
	{ "deployment 2: near miss: local recipient passes",
	  RD_MODE_ENFORCE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_virtual, "delivery.local", RD_ACTION_HEADER },
	    { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "header" } } },
	{ "annotate: a relay the MTA let through is relay.authorized-mta",
	  RD_MODE_ANNOTATE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-mta", RD_ACTION_HEADER } },
	  { { "action", "header" }, { "relay.authorized", "false" } } },
	{ "observe: a relay the MTA let through, untouched",
	  RD_MODE_OBSERVE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-mta", RD_ACTION_NONE } },
	  { { "action", "none" } } },

	{ "no RelayGate, enforce: a relay Postfix accepted is never refused",
	  RD_MODE_ENFORCE, false, NOGATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-mta", RD_ACTION_HEADER } },
	  { { "action", "header" }, { "mta.verdict", "accept" } } },
	/*
	 * RelayGate: Postfix passes unauthorized relays on (deployment 2), so
	 * relaydiag refuses them whatever the mode: otherwise an open relay.
	 */
	{ "RelayGate, observe mode: an unauthorized relay is refused",
	  RD_MODE_OBSERVE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "RelayGate, annotate mode, FQDN HELO: refused",
	  RD_MODE_ANNOTATE, false, GATE, &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_relay_ok, "relay.no-auth", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "RelayGate: an over-long local part is no way around",
	  RD_MODE_OBSERVE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok_long_local, "relay.client-on-port-25",
	      RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "RelayGate: near miss: authenticated relay passes",
	  RD_MODE_OBSERVE, false, GATE, &conn_sub, "UserPC", &mail_alice,
	  { { &rcpt_relay_ok, "relay.authorized-sasl", RD_ACTION_NONE } },
	  { { "action", "none" } } },
	{ "RelayGate: near miss: trusted client passes",
	  RD_MODE_OBSERVE, false, GATE, &conn_trusted, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.authorized-network", RD_ACTION_NONE } },
	  { { "action", "none" } } },
	{ "RelayGate: near miss: local recipient passes",
	  RD_MODE_OBSERVE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_virtual, "delivery.local", RD_ACTION_NONE },
	    { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "none" } } },
	{ "RelayGate: the MTA's own refusal stands (action none)",
	  RD_MODE_OBSERVE, false, GATE, &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_denied, "relay.client-on-port-25",
	      RD_ACTION_NONE } },
	  { { "action", "none" } } },
	{ "RelayGate: Action ...=none cannot open the relay",
	  RD_MODE_OBSERVE, false, GATE_ACT("relay.client-on-port-25",
	      RD_ACTION_NONE),
	  &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "RelayGate: Action ...=tempfail gives 451 4.7.1",
	  RD_MODE_OBSERVE, false, GATE_ACT("relay.client-on-port-25",
	      RD_ACTION_TEMPFAIL),
	  &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.client-on-port-25",
	      RD_ACTION_TEMPFAIL } },
	  { { "action", "tempfail" } } },

	/* Action id=action overrides the mode for one id. */
	{ "Action: RelayGate, relay.no-auth=tempfail defers it",
	  RD_MODE_ENFORCE, false, GATE_ACT("relay.no-auth", RD_ACTION_TEMPFAIL),
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_relay_ok, "relay.no-auth", RD_ACTION_TEMPFAIL } },
	  { { "action", "tempfail" } } },
	{ "near miss: Action for another id does not apply",
	  RD_MODE_ENFORCE, false, GATE_ACT("relay.no-auth", RD_ACTION_TEMPFAIL),
	  &conn_mx, "UserPC", &mail_carol,
	  { { &rcpt_relay_ok, "relay.client-on-port-25", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "Action: annotate, sender.login-mismatch=reject",
	  RD_MODE_ANNOTATE, false, ACT("sender.login-mismatch",
	      RD_ACTION_REJECT),
	  &conn_sub, "UserPC", &mail_alice_as_boss,
	  { { &rcpt_relay_ok, "sender.login-mismatch", RD_ACTION_REJECT } },
	  { { "action", "reject" } } },
	{ "Action: the MTA's own refusal stands",
	  RD_MODE_ENFORCE, false, ACT("rcpt.unknown-user", RD_ACTION_REJECT),
	  &conn_mx, "mail.isp.test", &mail_carol,
	  { { &rcpt_unknown, "rcpt.unknown-user", RD_ACTION_NONE } },
	  { { "action", "none" } } },
};
/* clang-format on */

static const char *
action_str(enum rd_action a)
{
	static const char *const n[] = {"none", "header", "reject", "tempfail"};

	return ((unsigned)a < 4 ? n[a] : "?");
}

static void
run_scenario(const struct scenario *sc, unsigned *nbad)
{
	struct rd_config *cfg = cfg_new(sc->mode, sc->tls_auth_only);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_verdict *vs, v;
	size_t pos[NCASES(((struct scenario *)0)->rcpts)];
	struct rd_eom_plan plan;
	const char *ids[8];
	json_t *ev, *a;
	size_t i, j, k, nrcpt = 0, nids = 0;
	unsigned acc = 0, rej = 0;
	char eid[64];

	cfg->relay_gate = sc->relay_gate;
	if (sc->act_id != NULL) {
		snprintf(cfg->actions[0].id, sizeof(cfg->actions[0].id), "%s",
		    sc->act_id);
		cfg->actions[0].action = sc->act;
		cfg->n_actions = 1;
	}
	s = rd_session_new(cfg, &cap->base);
	assert_non_null(s);
	rd_session_connect(s, sc->conn);
	rd_session_helo(s, sc->helo, NULL);
	rd_session_mail(s, sc->mail);
	assert_non_null(vs = calloc(NCASES(sc->rcpts), sizeof(*vs)));
	for (i = 0; i < NCASES(sc->rcpts) && sc->rcpts[i].ri != NULL; i++) {
		memset(&vs[i], 0xa5, sizeof(vs[i]));
		rd_session_rcpt(s, sc->rcpts[i].ri, &vs[i]);
		/*
		 * A recipient the MTA refused is answered at once and
		 * diagnosed at the session's next call (its history lookup
		 * must not hold the MTA): no event yet.
		 */
		if (strcmp(sc->rcpts[i].ri->mailer, "error") == 0 &&
		    tu_cap_count(cap, "rcpt") != i) {
			print_error("%s: rcpt %zu: refused by the MTA, but "
				    "diagnosed before the next call\n",
			    sc->name, i + 1);
			(*nbad)++;
		}
	}
	nrcpt = i;
	/* Events: the recipients diagnosed at once in their order, then
	   those the MTA refused (left for the end of the transaction). */
	for (i = 0, k = 0; i < nrcpt; i++)
		if (strcmp(sc->rcpts[i].ri->mailer, "error") != 0)
			pos[i] = k++;
	for (i = 0; i < nrcpt; i++)
		if (strcmp(sc->rcpts[i].ri->mailer, "error") == 0)
			pos[i] = k++;
	for (i = 0; i < nrcpt; i++)
		if (strcmp(sc->rcpts[i].ri->mailer, "error") != 0 &&
		    sc->rcpts[i].want_action != RD_ACTION_REJECT &&
		    sc->rcpts[i].want_action != RD_ACTION_TEMPFAIL)
			acc++;
	/* The end of the transaction is the next call. */
	if (acc > 0)
		rd_session_eom(s, NULL, &plan);
	else
		rd_session_abort(s);
	acc = 0;
	/* the session's diagnoses, in the order of the events */
	for (j = 0; j < nrcpt; j++)
		for (i = 0; i < nrcpt; i++) {
			if (pos[i] != j)
				continue;
			for (k = 0; k < nids; k++)
				if (strcmp(ids[k], sc->rcpts[i].want_id) == 0)
					break;
			if (k == nids)
				ids[nids++] = sc->rcpts[i].want_id;
		}
	for (i = 0; i < nrcpt; i++) {
		const struct sc_rcpt *r = &sc->rcpts[i];

		v = vs[i];
		if (strcmp(r->ri->mailer, "error") == 0 ||
		    r->want_action == RD_ACTION_REJECT ||
		    r->want_action == RD_ACTION_TEMPFAIL)
			rej++;
		else
			acc++;
		if (v.action != r->want_action) {
			print_error("%s: rcpt %zu: action: got %s, want %s\n",
			    sc->name, i + 1, action_str(v.action),
			    action_str(r->want_action));
			(*nbad)++;
		}
		if ((ev = tu_cap_get(cap, "rcpt", pos[i])) == NULL) {
			print_error(
			    "%s: rcpt %zu: no event\n", sc->name, i + 1);
			(*nbad)++;
			continue;
		}
		if (strcmp(tu_jstr(ev, "diagnosis.id"), r->want_id) != 0) {
			print_error("%s: rcpt %zu: got %s, want %s\n", sc->name,
			    i + 1, tu_jstr(ev, "diagnosis.id"), r->want_id);
			(*nbad)++;
		}
		if (strcmp(tu_jstr(ev, "action"), action_str(r->want_action))) {
			print_error("%s: rcpt %zu: event action %s, want %s\n",
			    sc->name, i + 1, tu_jstr(ev, "action"),
			    action_str(r->want_action));
			(*nbad)++;
		}
		if (v.action == RD_ACTION_REJECT ||
		    v.action == RD_ACTION_TEMPFAIL) {
			snprintf(eid, sizeof(eid), "%s", tu_jstr(ev, "id"));
			check_reply(sc->name, &v, r->want_id, eid);
		} else if (v.nlines != 0) {
			print_error("%s: rcpt %zu: %zu reply lines without a "
				    "reject\n",
			    sc->name, i + 1, v.nlines);
			(*nbad)++;
		}
	}
	free(vs);
	if ((ev = tu_cap_get(cap, "rcpt", 0)) != NULL)
		*nbad += tu_check_values(
		    sc->name, ev, sc->want, NCASES(sc->want), false);
	rd_session_close(s);
	tu_cap_check_all(sc->name, cap);

	if (tu_cap_count(cap, "rcpt") != nrcpt ||
	    tu_cap_count(cap, "message") != (acc > 0 ? 1u : 0u) ||
	    tu_cap_count(cap, "session") != 1) {
		print_error("%s: events: %zu rcpt, %zu message, %zu session; "
			    "want %zu, %u, 1\n",
		    sc->name, tu_cap_count(cap, "rcpt"),
		    tu_cap_count(cap, "message"), tu_cap_count(cap, "session"),
		    nrcpt, acc > 0 ? 1u : 0u);
		(*nbad)++;
	} else {
		char vals[3][16];
		const struct tu_want ww[] = {
		    {"counts.rcpts_accepted", vals[0]},
		    {"counts.rcpts_rejected", vals[1]},
		    {"counts.messages", vals[2]},
		};

		snprintf(vals[0], sizeof(vals[0]), "#%u", acc);
		snprintf(vals[1], sizeof(vals[1]), "#%u", rej);
		snprintf(vals[2], sizeof(vals[2]), "#%u", acc > 0 ? 1u : 0u);
		ev = tu_cap_get(cap, "session", 0);
		*nbad += tu_check_values(sc->name, ev, ww, NCASES(ww), false);
		a = tu_jget(ev, "diagnoses");
		if (json_array_size(a) != nids) {
			print_error(
			    "%s: session diagnoses: %zu ids, want %zu\n",
			    sc->name, json_array_size(a), nids);
			(*nbad)++;
		} else
			for (k = 0; k < nids; k++)
				if (strcmp(
					json_string_value(json_array_get(a, k)),
					ids[k]) != 0) {
					print_error(
					    "%s: session diagnoses[%zu]:"
					    " %s, want %s\n",
					    sc->name, k,
					    json_string_value(
						json_array_get(a, k)),
					    ids[k]);
					(*nbad)++;
				}
		/* Every event belongs to this session. */
		for (k = 0; k < cap->n; k++)
			if (strcmp(tu_jstr(cap->obj[k], "session"),
				rd_session_id(s)) != 0) {
				print_error("%s: event %zu: session %s, want "
					    "%s\n",
				    sc->name, k + 1,
				    tu_jstr(cap->obj[k], "session"),
				    rd_session_id(s));
				(*nbad)++;
			}
	}
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

static void
test_session_scenarios(void **state)
{
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(scenarios); i++)
		run_scenario(&scenarios[i], &nbad);
	if (nbad > 0)
		fail_msg("%u session checks failed (%zu scenarios)", nbad,
		    NCASES(scenarios));
}

/* ---- end of message: the plan per mode -------------------------------- */

struct hdr {
	const char *name, *value;
};

/* The message's headers: three forged copies of ours, one near miss. */
/* clang-format off */
static const struct hdr forged_headers[] = {
	{ "Received", "from UserPC (localhost [127.0.0.1])" },
	{ "X-Relay-Diagnostic", "mx.example.test; forged=1" },
	{ "Subject", "hello" },
	{ "x-relay-diagnostic", "mx.example.test; forged=2" },
	{ "X-Relay-Diagnostics", "near miss: another name" },
	{ "X-RELAY-DIAGNOSTIC", "mx.example.test; forged=3" },
};
/* clang-format on */

/* header_ok - ASCII, folded "\n\t" only; "" or what is wrong */
static const char *
header_ok(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\n' && v[i + 1] == '\t') {
			i++;
			continue;
		}
		if (c < 0x20 || c > 0x7e)
			return ("a control, 8-bit or bare LF/CR byte");
	}
	return ("");
}

/* one_message - connect as alice, relay and deliver, with the headers */
static struct rd_session *
one_message(struct rd_config *cfg, struct tu_cap *cap, struct rd_eom_plan *plan)
{
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	size_t i;

	assert_non_null(s);
	rd_session_connect(s, &conn_sub);
	rd_session_helo(s, "UserPC", NULL);
	rd_session_mail(s, &mail_alice);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	rd_session_rcpt(s, &rcpt_virtual, &v);
	for (i = 0; i < NCASES(forged_headers); i++)
		rd_session_header(
		    s, forged_headers[i].name, forged_headers[i].value);
	memset(plan, 0xa5, sizeof(*plan));
	rd_session_eom(s, "4Q2xYz1Abc", plan);
	return (s);
}

static void
test_session_eom_annotate_adds_header_removes_forged(void **state)
{
	static const struct tu_want want[] = {
	    {"type", "message"},
	    {"action", "header"},
	    {"queue_id", "4Q2xYz1Abc"},
	    {"counts.rcpts", "#2"},
	    {"counts.rcpts_accepted", "#2"},
	    {"counts.rcpts_rejected", "#0"},
	    {"diagnosis.id", "relay.authorized-sasl"},
	    {"sender.addr", "alice@example.test"},
	};
	struct rd_config *cfg = cfg_new(RD_MODE_ANNOTATE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_eom_plan plan;
	char want_sid[64];
	json_t *ev;
	const char *bad;

	(void)state;
	s = one_message(cfg, cap, &plan);
	if (!plan.add_header)
		fail_msg("annotate: no header added");
	assert_string_equal(plan.header_name, "X-Relay-Diagnostic");
	/* Three forged copies: the glue removes indexes 3, 2, 1. */
	if (plan.nremove != 3)
		fail_msg("annotate: removals: got %u, want 3", plan.nremove);
	if (strnlen(plan.header_value, RD_HEADER_MAX) >= RD_HEADER_MAX)
		fail_msg("annotate: header value not terminated");
	if (*(bad = header_ok(plan.header_value)) != '\0')
		fail_msg("annotate: header value has %s: %s", bad,
		    plan.header_value);
	snprintf(want_sid, sizeof(want_sid), "session=%s", rd_session_id(s));
	if (strstr(plan.header_value, want_sid) == NULL ||
	    strstr(plan.header_value, "diagnosis=relay.authorized-sasl") ==
		NULL ||
	    strstr(plan.header_value, "diagnosis=delivery.local") == NULL ||
	    strstr(plan.header_value, "auth=sasl") == NULL ||
	    strstr(plan.header_value, "user=alice@example.test") == NULL ||
	    strstr(plan.header_value, "tls=TLSv1.3") == NULL ||
	    strstr(plan.header_value, "port=2587") == NULL ||
	    strncmp(plan.header_value, "mx.example.test;", 16) != 0)
		fail_msg("annotate: header value: %s", plan.header_value);

	rd_session_close(s);
	tu_cap_check_all("annotate", cap);
	if ((ev = tu_cap_get(cap, "message", 0)) == NULL)
		fail_msg("annotate: no message event");
	if (tu_check_values(
		"annotate: message event", ev, want, NCASES(want), false) > 0)
		fail_msg("annotate: message event values wrong");
	if (json_array_size(tu_jget(ev, "diagnoses")) != 2)
		fail_msg("annotate: message diagnoses: %zu, want 2",
		    json_array_size(tu_jget(ev, "diagnoses")));
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

static void
test_session_eom_observe_adds_nothing(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_OBSERVE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_eom_plan plan;

	(void)state;
	s = one_message(cfg, cap, &plan);
	if (plan.add_header || plan.nremove != 0)
		fail_msg("observe: got add_header=%d nremove=%zu, want "
			 "nothing",
		    plan.add_header, plan.nremove);
	rd_session_close(s);
	tu_cap_check_all("observe", cap);
	if (strcmp(tu_jstr(tu_cap_get(cap, "message", 0), "action"), "none") !=
	    0)
		fail_msg("observe: message action %s, want none",
		    tu_jstr(tu_cap_get(cap, "message", 0), "action"));
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

static void
test_session_eom_enforce_adds_header(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_eom_plan plan;

	(void)state;
	s = one_message(cfg, cap, &plan);
	if (!plan.add_header || plan.nremove != 3)
		fail_msg("enforce: got add_header=%d nremove=%zu, want a "
			 "header and 3 removals",
		    plan.add_header, plan.nremove);
	rd_session_close(s);
	tu_cap_check_all("enforce", cap);
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* Many forged copies: every one goes (an attacker cannot outnumber us). */
static void
test_session_many_forged_copies(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ANNOTATE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	struct rd_eom_plan plan;
	size_t i;

	(void)state;
	rd_session_connect(s, &conn_sub);
	rd_session_mail(s, &mail_alice);
	rd_session_rcpt(s, &rcpt_virtual, &v);
	for (i = 0; i < 200; i++)
		rd_session_header(s, "x-relay-diagnostic", "forged");
	rd_session_eom(s, NULL, &plan);
	if (plan.nremove != 200)
		fail_msg(
		    "200 forged copies: %u removals, want 200", plan.nremove);
	rd_session_close(s);
	tu_cap_check_all("many forged", cap);
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* ---- abort, several transactions, no mail ----------------------------- */

static void
test_session_abort_resets_the_transaction(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ANNOTATE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	struct rd_eom_plan plan;
	json_t *ev;

	(void)state;
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "UserPC", NULL);
	/* First transaction: refused, a forged header seen, then RSET. */
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_denied, &v);
	rd_session_header(s, "X-Relay-Diagnostic", "forged");
	rd_session_abort(s);
	/* Second: nothing of the first may remain. */
	rd_session_mail(s, &(const struct rd_mail_info){"<dave@isp.test>", NULL,
			       NULL, NULL, {NULL, NULL, NULL, NULL}});
	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_eom(s, NULL, &plan);
	if (plan.nremove != 0)
		fail_msg("after abort: %zu removals, want 0 (the forged "
			 "header was in the aborted transaction)",
		    plan.nremove);
	if (strstr(plan.header_value, "relay.client-on-port-25") != NULL)
		fail_msg("after abort: the header names the aborted "
			 "transaction's diagnosis: %s",
		    plan.header_value);
	rd_session_close(s);
	tu_cap_check_all("abort", cap);
	if (tu_cap_count(cap, "message") != 1)
		fail_msg("abort: %zu message events, want 1",
		    tu_cap_count(cap, "message"));
	ev = tu_cap_get(cap, "message", 0);
	if (strcmp(tu_jstr(ev, "sender.addr"), "dave@isp.test") != 0 ||
	    json_integer_value(tu_jget(ev, "counts.rcpts")) != 1 ||
	    json_integer_value(tu_jget(ev, "counts.rcpts_rejected")) != 0 ||
	    json_array_size(tu_jget(ev, "diagnoses")) != 1 ||
	    strcmp(tu_jstr(ev, "diagnosis.id"), "delivery.local") != 0)
		fail_msg("abort: the message event carries the aborted "
			 "transaction: %s",
		    json_dumps(ev, JSON_COMPACT));
	ev = tu_cap_get(cap, "rcpt", 1);
	if (strcmp(tu_jstr(ev, "sender.addr"), "dave@isp.test") != 0)
		fail_msg("abort: second rcpt event sender %s",
		    tu_jstr(ev, "sender.addr"));
	/* The session still counts both. */
	ev = tu_cap_get(cap, "session", 0);
	if (json_integer_value(tu_jget(ev, "counts.rcpts_accepted")) != 1 ||
	    json_integer_value(tu_jget(ev, "counts.rcpts_rejected")) != 1 ||
	    json_integer_value(tu_jget(ev, "counts.messages")) != 1 ||
	    json_array_size(tu_jget(ev, "diagnoses")) != 2 ||
	    !json_is_null(tu_jget(ev, "sender")))
		fail_msg(
		    "abort: session event: %s", json_dumps(ev, JSON_COMPACT));
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

static void
test_session_several_transactions(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ANNOTATE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	struct rd_eom_plan plan;
	json_t *ev;
	size_t i, j;
	char want_id[64];

	(void)state;
	rd_session_connect(s, &conn_sub);
	rd_session_helo(s, "UserPC", NULL);
	/* 1: alice relays and delivers locally. */
	rd_session_mail(s, &mail_alice);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_eom(s, NULL, &plan);
	/* 2: as boss@, one recipient. */
	rd_session_mail(s, &mail_alice_as_boss);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	rd_session_eom(s, NULL, &plan);
	/* 3: refused by Postfix, then RSET. */
	rd_session_mail(s, &mail_alice);
	rd_session_rcpt(s, &rcpt_unknown, &v);
	rd_session_abort(s);
	rd_session_close(s);
	tu_cap_check_all("several transactions", cap);

	if (tu_cap_count(cap, "rcpt") != 4 ||
	    tu_cap_count(cap, "message") != 2 ||
	    tu_cap_count(cap, "session") != 1 || cap->n != 7)
		fail_msg("several transactions: %zu events", cap->n);
	/* Event ids: "<session>.<seq>", unique, in order. */
	for (i = 0; i < cap->n; i++) {
		snprintf(want_id, sizeof(want_id), "%s.%zu", rd_session_id(s),
		    i + 1);
		if (strcmp(tu_jstr(cap->obj[i], "id"), want_id) != 0)
			fail_msg("event %zu: id %s, want %s", i + 1,
			    tu_jstr(cap->obj[i], "id"), want_id);
		for (j = 0; j < i; j++)
			if (strcmp(tu_jstr(cap->obj[i], "id"),
				tu_jstr(cap->obj[j], "id")) == 0)
				fail_msg("events %zu and %zu share an id",
				    j + 1, i + 1);
	}
	ev = tu_cap_get(cap, "message", 0);
	if (json_integer_value(tu_jget(ev, "counts.rcpts")) != 2 ||
	    strcmp(tu_jstr(ev, "sender.addr"), "alice@example.test") != 0)
		fail_msg("message 1: %s", json_dumps(ev, JSON_COMPACT));
	ev = tu_cap_get(cap, "message", 1);
	if (json_integer_value(tu_jget(ev, "counts.rcpts")) != 1 ||
	    strcmp(tu_jstr(ev, "sender.addr"), "boss@example.test") != 0 ||
	    strcmp(tu_jstr(ev, "diagnosis.id"), "sender.login-mismatch") != 0 ||
	    strcmp(tu_jstr(ev, "queue_id"), "4Q2xYz1Abd") != 0)
		fail_msg("message 2: %s", json_dumps(ev, JSON_COMPACT));
	ev = tu_cap_get(cap, "session", 0);
	if (json_integer_value(tu_jget(ev, "counts.rcpts_accepted")) != 3 ||
	    json_integer_value(tu_jget(ev, "counts.rcpts_rejected")) != 1 ||
	    json_integer_value(tu_jget(ev, "counts.messages")) != 2 ||
	    json_array_size(tu_jget(ev, "diagnoses")) != 4 ||
	    json_integer_value(tu_jget(ev, "counts.duration_ms")) < 0)
		fail_msg("session: %s", json_dumps(ev, JSON_COMPACT));
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

static void
test_session_connection_without_mail(void **state)
{
	static const struct tu_want want[] = {
	    {"type", "session"},
	    {"client.helo", "UserPC"},
	    {"sender", "null"},
	    {"diagnosis", "null"},
	    {"counts.rcpts_accepted", "#0"},
	    {"counts.rcpts_rejected", "#0"},
	    {"counts.messages", "#0"},
	    {"action", "none"},
	};
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	const char *sid;

	(void)state;
	sid = rd_session_id(s);
	if (strlen(sid) != RD_SID_LEN ||
	    strspn(sid, "0123456789ABCDEFGHJKMNPQRSTVWXYZ") != RD_SID_LEN)
		fail_msg("session id \"%s\": not %d Crockford base32 chars",
		    sid, RD_SID_LEN);
	if (rd_session_config(s) != cfg)
		fail_msg("rd_session_config: another config");
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "UserPC", NULL);
	rd_session_close(s);
	tu_cap_check_all("no mail", cap);
	if (cap->n != 1)
		fail_msg("no mail: %zu events, want the session event", cap->n);
	if (tu_check_values("no mail", cap->obj[0], want, NCASES(want), false) >
		0 ||
	    json_array_size(tu_jget(cap->obj[0], "diagnoses")) != 0)
		fail_msg("no mail: session event: %s", cap->json[0]);
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/*
 * Recipients the MTA refused wait for a call the MTA does not wait on: at
 * most 4 of them (the oldest is diagnosed when a fifth comes), all at the
 * end of the transaction, each with the time it came, none lost when the
 * session is freed without a close.
 */
static void
test_session_refused_later(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ANNOTATE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_rcpt_info ri = rcpt_relay_denied;
	struct rd_verdict v;
	char rcpt[64], want[64];
	size_t i;

	(void)state;
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "UserPC", NULL);
	rd_session_mail(s, &mail_carol);
	for (i = 0; i < 6; i++) {
		(void)snprintf(rcpt, sizeof(rcpt), "<u%zu@gmail.test>", i);
		ri.rcpt = rcpt;
		memset(&v, 0x55, sizeof(v));
		rd_session_rcpt(s, &ri, &v);
		assert_int_equal(v.action, RD_ACTION_NONE);
		assert_int_equal(v.nlines, 0);
		/* four wait; then the oldest goes with each new one */
		assert_int_equal(tu_cap_count(cap, "rcpt"), i < 4 ? 0 : i - 3);
	}
	rd_session_rcpt(s, &rcpt_relay_ok, &v); /* diagnosed at once */
	assert_int_equal(tu_cap_count(cap, "rcpt"), 3);
	rd_session_abort(s);
	assert_int_equal(tu_cap_count(cap, "rcpt"), 7);
	for (i = 0; i < 6; i++) { /* the refused ones, in their order */
		(void)snprintf(want, sizeof(want), "u%zu@gmail.test", i);
		assert_string_equal(
		    tu_jstr(tu_cap_get(cap, "rcpt", i < 2 ? i : i + 1),
			"rcpt.addr"),
		    want);
	}
	/* freed without a close: the waiting one is not lost */
	rd_session_mail(s, &mail_carol);
	ri.rcpt = "<late@gmail.test>";
	rd_session_rcpt(s, &ri, &v);
	assert_int_equal(tu_cap_count(cap, "rcpt"), 7);
	rd_session_free(s);
	assert_int_equal(tu_cap_count(cap, "rcpt"), 8);
	assert_string_equal(tu_jstr(tu_cap_get(cap, "rcpt", 7), "rcpt.addr"),
	    "late@gmail.test");
	tu_cap_check_all("refused later", cap);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/*
 * A value longer than relaydiag keeps is cut to its limit, and every
 * event says which: "truncated" lists it (a 300-byte HELO, a 2000-byte
 * reply text); a session with nothing cut has no "truncated" at all.
 */
static void
test_session_truncation_is_recorded(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_OBSERVE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s;
	struct rd_rcpt_info ri = rcpt_relay_denied;
	struct rd_verdict v;
	char helo[301], text[2001];
	json_t *t, *ev;
	size_t i;

	(void)state;
	memset(helo, 'h', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	ri.addr = text;
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, helo, NULL);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &ri, &v);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	rd_session_close(s);
	rd_session_free(s);
	tu_cap_check_all("truncated", cap);
	/* the refused one is diagnosed after the accepted one (deferred) */
	ev = tu_cap_get(cap, "rcpt", 1);
	t = tu_jget(ev, "truncated");
	if (!json_is_array(t) || json_array_size(t) != 2 ||
	    strcmp(json_string_value(json_array_get(t, 0)), "client.helo") ||
	    strcmp(json_string_value(json_array_get(t, 1)), "mta.text"))
		fail_msg("rcpt with a long HELO and reply: truncated is %s",
		    json_dumps(t, 0));
	if (strlen(tu_jstr(ev, "client.helo")) != 255)
		fail_msg("HELO cut to %zu bytes, want 255",
		    strlen(tu_jstr(ev, "client.helo")));
	ev = tu_cap_get(cap, "rcpt", 0);
	t = tu_jget(ev, "truncated");
	if (!json_is_array(t) || json_array_size(t) != 1)
		fail_msg(
		    "second rcpt: the HELO stays cut, its text is whole: %s",
		    json_dumps(t, 0));
	assert_non_null(tu_jget(tu_cap_get(cap, "session", 0), "truncated"));
	rd_sink_close(&cap->base);

	/* nothing cut: no member */
	cap = tu_cap_new();
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "mail.example.net", NULL);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_denied, &v);
	rd_session_close(s);
	rd_session_free(s);
	for (i = 0; i < cap->n; i++)
		if (tu_jget(cap->obj[i], "truncated") != NULL)
			fail_msg("nothing cut, yet: %s", cap->json[i]);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* No sink (events dropped), and rd_session_free(NULL). */
static void
test_session_without_sink(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, false);
	struct rd_session *s = rd_session_new(cfg, NULL);
	struct rd_verdict v;
	struct rd_eom_plan plan;

	(void)state;
	assert_non_null(s);
	cfg->relay_gate = true; /* deployment 2 */
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "UserPC", NULL);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	if (v.action != RD_ACTION_REJECT)
		fail_msg("no sink: enforce must still refuse (action %s)",
		    action_str(v.action));
	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_eom(s, NULL, &plan);
	rd_session_close(s);
	rd_session_free(s);
	rd_session_free(NULL);
	rd_config_free(cfg);
}

/* ---- hostile input ---------------------------------------------------- */

static void
test_session_null_everything(void **state)
{
	static const struct rd_conn_info conn_null;
	static const struct rd_mail_info mail_null;
	static const struct rd_rcpt_info rcpt_null;
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	struct rd_eom_plan plan;
	size_t i;

	(void)state;
	rd_session_connect(s, &conn_null);
	rd_session_helo(s, NULL, NULL);
	rd_session_helo(
	    s, NULL, &(const struct rd_tls_info){NULL, NULL, NULL, NULL});
	rd_session_mail(s, &mail_null);
	/*
	 * No recipient, no mailer (taken as accepted): nothing says the
	 * client may relay, so the relay gate refuses (fail closed,
	 * deployment 2).
	 */
	cfg->relay_gate = true;
	rd_session_rcpt(s, &rcpt_null, &v);
	if (v.action != RD_ACTION_REJECT)
		fail_msg("NULL everything: action %s, want reject",
		    action_str(v.action));
	check_reply("NULL everything", &v,
	    tu_jstr(tu_cap_get(cap, "rcpt", 0), "diagnosis.id"),
	    tu_jstr(tu_cap_get(cap, "rcpt", 0), "id"));
	rd_session_header(s, NULL, NULL);
	rd_session_header(s, "X-Relay-Diagnostic", NULL);
	rd_session_eom(s, NULL, &plan);
	if (*header_ok(plan.header_value) != '\0')
		fail_msg("NULL everything: header %s", plan.header_value);
	rd_session_abort(s);
	rd_session_close(s);
	tu_cap_check_all("NULL everything", cap);
	if (tu_cap_count(cap, "rcpt") != 1 || tu_cap_count(cap, "session") != 1)
		fail_msg("NULL everything: %zu events", cap->n);
	for (i = 0; i < cap->n; i++)
		if (!json_is_string(tu_jget(cap->obj[i], "session")) ||
		    !json_is_object(tu_jget(cap->obj[i], "client")))
			fail_msg("NULL everything: event %zu: %s", i + 1,
			    cap->json[i]);
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* fill - n bytes of pattern, repeated, NUL-terminated (free it) */
static char *
fill(const char *pattern, size_t n)
{
	char *p = malloc(n + 1);
	size_t i, k = strlen(pattern);

	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = pattern[i % k];
	p[n] = '\0';
	return (p);
}

static void
test_session_hostile_text(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, false);
	struct tu_cap *cap = tu_cap_new();
	struct rd_session *s = rd_session_new(cfg, &cap->base);
	struct rd_verdict v;
	struct rd_eom_plan plan;
	char *helo, *user, *text, *sender;
	struct rd_mail_info mi;
	struct rd_rcpt_info ri;
	struct rd_conn_info ci = conn_mx;
	json_t *ev;
	size_t i;

	(void)state;
	/* 10 KB of HELO: CR LF, a header, printf, invalid UTF-8. */
	helo = fill(
	    "User\r\nBcc: x@evil.test\r\n%s%n\xff\xc3(\xed\xa0\x80\x01", 10240);
	user = fill("al\xc3ice\r\n%n\x80", 4096);
	text = fill("Relay access denied\r\n\xfe%s ", 3000);
	sender = fill("<x\xff", 400);
	ci.client_name = "\xc0\xaf\r\nname";
	ci.daemon_name = "mx\r\n\x80";
	ci.mta_host = "mx.example.test\r\nX-Evil: 1";
	rd_session_connect(s, &ci);
	rd_session_helo(s, helo,
	    &(const struct rd_tls_info){
		"TLS\xff\r\n", "\x80", "99999999999999999999", "CN=\xff"});

	memset(&mi, 0, sizeof(mi));
	mi.sender = sender;
	mi.queue_id = "Q\r\n\xff";
	mi.auth_type = "PL\xffIN";
	mi.auth_authen = user;
	rd_session_mail(s, &mi);

	/* Rejected by Postfix, with a hostile text: no reply, an event. */
	memset(&ri, 0, sizeof(ri));
	ri.rcpt = "<bob\r\n@gmail.test>";
	ri.mailer = "error";
	ri.host = "5.7.1";
	ri.addr = text;
	rd_session_rcpt(s, &ri, &v);
	if (v.action != RD_ACTION_NONE)
		fail_msg("hostile: the MTA's refusal was overridden");

	/*
	 * An unparsable recipient Postfix let through, for a client that
	 * did authenticate (with a hostile user name): relayed by SASL.
	 */
	memset(&ri, 0, sizeof(ri));
	ri.rcpt = "<bob\r\n@gmail.test>";
	ri.mailer = "smtp";
	ri.host = "gmail.test";
	ri.addr = "bob@gmail.test";
	rd_session_rcpt(s, &ri, &v);
	/* its event is the first: the refused one waits for the header */
	if (v.action != RD_ACTION_HEADER ||
	    strcmp(tu_jstr(tu_cap_get(cap, "rcpt", 0), "relay.by"), "sasl") !=
		0)
		fail_msg("hostile: unparsable recipient of an authenticated "
			 "client: action %s, relay.by %s, want header, sasl",
		    action_str(v.action),
		    tu_jstr(tu_cap_get(cap, "rcpt", 0), "relay.by"));

	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_header(s, helo, user);
	rd_session_eom(s, "Q\r\n", &plan);
	if (strnlen(plan.header_value, RD_HEADER_MAX) >= RD_HEADER_MAX ||
	    *header_ok(plan.header_value) != '\0')
		fail_msg("hostile: header value unsafe: %s", plan.header_value);
	for (i = 0; plan.header_value[i] != '\0'; i++)
		if (plan.header_value[i] == '\n' &&
		    strncmp(plan.header_value + i + 1, "\tBcc", 4) == 0)
			fail_msg("hostile: header carries a Bcc line");
	rd_session_close(s);
	tu_cap_check_all("hostile", cap);

	/* The members are there, as strings, not dropped: the refused
	   recipient, diagnosed at the header call after the two others. */
	ev = tu_cap_get(cap, "rcpt", 2);
	if (!json_is_string(tu_jget(ev, "client.helo")) ||
	    !json_is_string(tu_jget(ev, "auth.user")) ||
	    !json_is_string(tu_jget(ev, "auth.mech")) ||
	    !json_is_string(tu_jget(ev, "mta.text")) ||
	    !json_is_string(tu_jget(ev, "rcpt.addr")) ||
	    !json_is_string(tu_jget(ev, "sender.addr")) ||
	    !json_is_string(tu_jget(ev, "tls.version")) ||
	    !json_is_string(tu_jget(ev, "diagnosis.summary")))
		fail_msg(
		    "hostile: a member was dropped: %.600s", json_dumps(ev, 0));
	if (strstr(tu_jstr(ev, "client.helo"), "User\r\nBcc") == NULL ||
	    strstr(tu_jstr(ev, "mta.text"), "denied\r\n\xef\xbf\xbd") == NULL)
		fail_msg("hostile: text not kept (escaped by JSON): %.300s",
		    cap->json[0]);
	free(helo);
	free(user);
	free(text);
	free(sender);
	rd_session_free(s);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_scenarios),
	    cmocka_unit_test(
		test_session_eom_annotate_adds_header_removes_forged),
	    cmocka_unit_test(test_session_eom_observe_adds_nothing),
	    cmocka_unit_test(test_session_eom_enforce_adds_header),
	    cmocka_unit_test(test_session_many_forged_copies),
	    cmocka_unit_test(test_session_abort_resets_the_transaction),
	    cmocka_unit_test(test_session_several_transactions),
	    cmocka_unit_test(test_session_connection_without_mail),
	    cmocka_unit_test(test_session_truncation_is_recorded),
	    cmocka_unit_test(test_session_refused_later),
	    cmocka_unit_test(test_session_without_sink),
	    cmocka_unit_test(test_session_null_everything),
	    cmocka_unit_test(test_session_hostile_text),
	};

	/* Library log lines at warning and above, to stderr. */
	rd_log_open("test_session", LOG_MAIL, true, LOG_WARNING);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

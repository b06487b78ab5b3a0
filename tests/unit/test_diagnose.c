/*
 * test_diagnose.c - rd_diagnose_rcpt: from the facts of one recipient
 * decision to the catalogue id, the filled texts and the facts list; and
 * the catalogue itself (rd_catalogue_all, rd_catalogue_find).
 *
 * The facts are what session.c gathers; the MTA's verdict is made by
 * rd_classify_mta from the macro values a real Postfix 3.7 sends
 * (shared/design/postfix-notes.md), kept here as data. Each case has a name
 * in words, near misses sit next to the hits, and a failure reads
 * "near miss: FQDN HELO: got relay.client-on-port-25, want relay.no-auth".
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
#include <strings.h>

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* The client of most cases: an untrusted address on the MX port. */
#define IP "203.0.113.5"

/* {rcpt_mailer} {rcpt_host} {rcpt_addr} of an accepted external recipient. */
#define ACCEPTED "smtp", "gmail.test", "bob@gmail.test"
/* ... of a local one. */
#define ACCEPTED_LOCAL "virtual", "example.org", "alice@example.org"
/* Postfix: 554 5.7.1 <bob@gmail.test>: Relay access denied */
#define RELAY_DENIED "error", "5.7.1", "Relay access denied"

/* Recipient class and authorization, as classify.c gives them. */
#define EXT_NONE RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_NONE
#define EXT_SASL RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_SASL
#define EXT_NET RD_CLASS_EXTERNAL, RD_CLASS_BY_DEFAULT, RD_AUTHZ_NETWORK
#define LOCAL_CFG RD_CLASS_LOCAL, RD_CLASS_BY_CONFIG, RD_AUTHZ_LOCAL
#define LOCAL_MTA RD_CLASS_LOCAL, RD_CLASS_BY_MTA, RD_AUTHZ_LOCAL
#define RELAY_CFG RD_CLASS_RELAY, RD_CLASS_BY_CONFIG, RD_AUTHZ_LOCAL

struct dcase {
	const char *name;
	/* connection */
	const char *ip, *helo;
	unsigned port;
	bool submission, tls, tls_auth_only, trusted;
	/* transaction */
	const char *user, *sender;
	bool sender_local;
	/* recipient */
	const char *rcpt;
	enum rd_class rclass;
	enum rd_class_source source;
	enum rd_authz by;
	const char *mailer, *host, *addr; /* the rcpt macros */
	/* wanted */
	const char *want;
	bool want_unauth;
	/* context: relaydiag is the relay gate; the listener wants a login */
	bool gate, sasl_required;
};

/* clang-format off */
static const struct dcase cases[] = {
	/* Accepted and authorized. */
	{ "external, SASL user sending as herself",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice@example.org", "alice@example.org", true,
	  "bob@gmail.test", EXT_SASL, ACCEPTED,
	  "relay.authorized-sasl", false, false, false },
	{ "external, SASL user without '@' (no mismatch check)",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice", "boss@example.org", true,
	  "bob@gmail.test", EXT_SASL, ACCEPTED,
	  "relay.authorized-sasl", false, false, false },
	{ "SASL user sends as another address",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice@example.org", "boss@example.org", true,
	  "bob@gmail.test", EXT_SASL, ACCEPTED,
	  "sender.login-mismatch", false, false, false },
	{ "near miss: login equal to sender but for case",
	  IP, "UserPC", 587, true, true, false, false,
	  "Alice@Example.ORG", "alice@example.org", true,
	  "bob@gmail.test", EXT_SASL, ACCEPTED,
	  "relay.authorized-sasl", false, false, false },
	{ "near miss: SASL user, null sender",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice@example.org", "", false,
	  "bob@gmail.test", EXT_SASL, ACCEPTED,
	  "relay.authorized-sasl", false, false, false },
	{ "external, client in trusted network",
	  "192.0.2.200", "UserPC", 25, false, false, false, true,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NET, ACCEPTED,
	  "relay.authorized-network", false, false, false },
	{ "trusted network is not unauthenticated relaying (local sender)",
	  "192.0.2.200", "UserPC", 25, false, false, false, true,
	  NULL, "carol@example.org", true,
	  "bob@gmail.test", EXT_NET, ACCEPTED,
	  "relay.authorized-network", false, false, false },

	/* Local delivery. */
	{ "local domain, routed by virtual",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "delivery.local", false, false, false },
	{ "domain local only by the MTA's routing",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@hosted.test", LOCAL_MTA, "virtual", "hosted.test",
	  "alice@hosted.test",
	  "delivery.local", false, false, false },
	{ "relay domain (backup MX)",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "dave@backup.test", RELAY_CFG, "relay", "backup.test",
	  "dave@backup.test",
	  "delivery.local", false, false, false },
	{ "unauthenticated client, sender in a local domain",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "boss@example.org", true,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "sender.local-domain-unauthenticated", false, false, false },
	{ "near miss: local sender, but trusted client",
	  "192.0.2.200", "mail.isp.test", 25, false, false, false, true,
	  NULL, "boss@example.org", true,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "delivery.local", false, false, false },
	{ "near miss: local sender, but authenticated",
	  IP, "UserPC", 587, true, true, false, false,
	  "boss@example.org", "boss@example.org", true,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "delivery.local", false, false, false },
	{ "submission port without AUTH",
	  IP, "UserPC", 587, true, true, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "submission.no-auth", false, false, false },
	{ "near miss: port 25 without AUTH is normal inbound mail",
	  IP, "UserPC", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, ACCEPTED_LOCAL,
	  "delivery.local", false, false, false },

	/* Unauthorized relay, accepted by the MTA (deployment 2). */
	{ "no auth, FQDN HELO, port 25: the generic case",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.no-auth", true, true, false },
	{ "port 25, HELO UserPC: a desktop mail program",
	  IP, "UserPC", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.client-on-port-25", true, true, false },
	{ "port 25, HELO DESKTOP-4F2K",
	  IP, "DESKTOP-4F2K", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.client-on-port-25", true, true, false },
	{ "port 25, HELO localhost",
	  IP, "localhost", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.client-on-port-25", true, true, false },
	{ "near miss: no HELO logged (the MTA's log) shows no desktop",
	  IP, NULL, 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, RELAY_DENIED,
	  "relay.no-auth", true, false, false },
	{ "near miss: address literal HELO is not a desktop name",
	  IP, "[203.0.113.5]", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.no-auth", true, true, false },
	{ "near miss: HELO UserPC, but on a submission port",
	  IP, "UserPC", 587, true, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.no-auth", true, true, false },
	{ "AUTH only after STARTTLS, no TLS (over port 25 + UserPC)",
	  IP, "UserPC", 25, false, false, true, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.tls-required-for-auth", true, true, false },
	{ "AUTH only after STARTTLS, no TLS, FQDN HELO",
	  IP, "mail.isp.test", 587, true, false, true, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.tls-required-for-auth", true, true, false },
	{ "near miss: AUTH only after STARTTLS, but TLS is on",
	  IP, "UserPC", 25, false, true, true, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.client-on-port-25", true, true, false },
	{ "near miss: no TLS, but AUTH offered without it",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.no-auth", true, true, false },

	/* The truth rule: the MTA's decision and the login bound it. */
	{ "POP-before-SMTP table: the MTA relayed for an unknown client",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.authorized-mta", false, false, false },
	{ "near miss: the same, relaydiag the relay gate",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, ACCEPTED,
	  "relay.no-auth", true, true, false },
	{ "logged in, still Relay access denied (restriction order)",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice@example.org", "alice@example.org", true,
	  "bob@gmail.test", EXT_SASL, RELAY_DENIED,
	  "relay.authenticated-refused", false, false, false },
	{ "logged in on port 25 with a desktop HELO, refused",
	  IP, "UserPC", 25, false, false, true, false,
	  "alice", "alice@example.org", true,
	  "bob@gmail.test", EXT_SASL, RELAY_DENIED,
	  "relay.authenticated-refused", false, false, false },
	{ "trusted network, still Relay access denied",
	  "192.0.2.200", "mail.isp.test", 25, false, false, false, true,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NET, RELAY_DENIED,
	  "relay.network-refused", false, false, false },
	{ "near miss: logged in, refused, but the domain is ours",
	  IP, "UserPC", 587, true, true, false, false,
	  "alice@example.org", "alice@example.org", true,
	  "alice@example.org", LOCAL_CFG, RELAY_DENIED,
	  "rcpt.domain-not-accepted", true, false, false },
	{ "soft refusal: 454 4.7.1 Relay access denied keeps its cause",
	  IP, "UserPC", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "4.7.1", "Relay access denied",
	  "relay.client-on-port-25", true, false, false },
	{ "submission listener wants a login: Client host rejected",
	  IP, "mail.isp.test", 2587, true, true, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "5.7.1",
	  "Client host rejected: Access denied",
	  "submission.no-auth", false, false, true },
	{ "near miss: Client host rejected where no login is demanded",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "5.7.1",
	  "Client host rejected: Access denied",
	  "mta.client-rejected", false, false, false },
	{ "near miss: Client host rejected on that listener, logged in",
	  IP, "mail.isp.test", 2587, true, true, false, false,
	  "alice@example.org", "alice@example.org", true,
	  "bob@gmail.test", EXT_SASL, "error", "5.7.1",
	  "Client host rejected: Access denied",
	  "mta.client-rejected", false, false, true },
	{ "submission listener wants a login: Recipient address rejected",
	  IP, "mail.isp.test", 2587, true, true, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "5.7.1",
	  "Recipient address rejected: Access denied",
	  "submission.no-auth", false, false, true },

	/* The MTA refused the recipient itself (SMFIP_RCPT_REJ). */
	{ "Postfix: Relay access denied, HELO UserPC on port 25",
	  IP, "UserPC", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, RELAY_DENIED,
	  "relay.client-on-port-25", true, false, false },
	{ "near miss: Postfix: Relay access denied, FQDN HELO",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, RELAY_DENIED,
	  "relay.no-auth", true, false, false },
	{ "Postfix: Relay access denied, TLS required for AUTH",
	  IP, "mail.isp.test", 25, false, false, true, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, RELAY_DENIED,
	  "relay.tls-required-for-auth", true, false, false },
	{ "Sendmail: Relaying denied",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "5.7.1",
	  "<bob@gmail.test>... Relaying denied",
	  "relay.no-auth", true, false, false },
	{ "Relay access denied, but the domain is local by config",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, RELAY_DENIED,
	  /* unauthorized_relay: what a relay gate must refuse */
	  "rcpt.domain-not-accepted", true, false, false },
	{ "Postfix: User unknown in virtual mailbox table",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "nobody@example.org", LOCAL_CFG, "error", "5.1.1",
	  "Recipient address rejected: User unknown in virtual mailbox table",
	  "rcpt.unknown-user", false, false, false },
	{ "Postfix: User unknown in local recipient table",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "nobody@example.org", LOCAL_CFG, "error", "5.1.1",
	  "Recipient address rejected: User unknown in local recipient table",
	  "rcpt.unknown-user", false, false, false },
	{ "Postfix: Client host rejected: Access denied",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.7.1",
	  "Client host rejected: Access denied",
	  "mta.client-rejected", false, false, false },
	{ "Postfix: Recipient address rejected: Access denied",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "blocked@example.org", LOCAL_CFG, "error", "5.7.1",
	  "Recipient address rejected: Access denied",
	  "mta.recipient-access-denied", false, false, false },
	/*
	 * Postfix smtpd_check.c: "<%s>: %s rejected: undeliverable address:
	 * %s", the remote's own reply quoted after "said:" (which may well
	 * say "User unknown" or "Relay access denied" about the probe).
	 */
	{ "Postfix: sender verification, undeliverable address",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "nobody@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.1.0",
	  "Sender address rejected: undeliverable address: host "
	  "mx.isp.test[198.51.100.7] said: 550 5.1.1 <nobody@isp.test>: "
	  "Recipient address rejected: User unknown in virtual mailbox "
	  "table (in reply to RCPT TO command)",
	  "mta.sender-verify-failed", false, false, false },
	{ "Postfix: sender verification, probe refused as relaying",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "nobody@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.1.0",
	  "Sender address rejected: undeliverable address: host "
	  "mx.isp.test[198.51.100.7] said: 554 5.7.1 <nobody@isp.test>: "
	  "Relay access denied (in reply to RCPT TO command)",
	  "mta.sender-verify-failed", false, false, false },
	{ "Postfix: sender verification pending (4.1.0)",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "nobody@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "4.1.0",
	  "Sender address rejected: unverified address: Address "
	  "verification in progress",
	  "mta.sender-verify-failed", false, false, false },
	{ "Exim-like: sender address verification failed",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "nobody@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.1.0",
	  "Sender address verification failed",
	  "mta.sender-verify-failed", false, false, false },
	{ "Postfix: RBL (first word cut by Postfix)",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.7.1",
	  "unavailable; Client host [203.0.113.5] blocked using zen.test",
	  "mta.rbl-listed", false, false, false },
	{ "Postfix: recipient Domain not found",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@nonexist.test", EXT_NONE, "error", "4.1.2",
	  "Recipient address rejected: Domain not found",
	  "mta.unknown-domain", false, false, false },
	{ "Postfix: sender Domain not found",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@nonexist.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.1.8",
	  "Sender address rejected: Domain not found",
	  "mta.unknown-domain", false, false, false },
	{ "Postfix: HELO rejected: any other text",
	  IP, "UserPC", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "5.5.2",
	  "Helo command rejected: need fully-qualified hostname",
	  "mta.other", false, false, false },
	{ "greylisting (tempfail): any other text",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "alice@example.org", LOCAL_CFG, "error", "4.7.1",
	  "Recipient address rejected: Greylisted for 300 seconds",
	  "mta.other", false, false, false },
	{ "near miss: empty rejection text",
	  IP, "mail.isp.test", 25, false, false, false, false,
	  NULL, "carol@isp.test", false,
	  "bob@gmail.test", EXT_NONE, "error", "5.7.1", "",
	  "mta.other", false, false, false },
};
/* clang-format on */

/* domain_of - the part after the last '@', or NULL */
static const char *
domain_of(const char *a)
{
	const char *at = a != NULL ? strrchr(a, '@') : NULL;

	return (at != NULL ? at + 1 : NULL);
}

/* facts_of - the facts session.c would gather for case c */
static void
facts_of(const struct dcase *c, struct rd_mta_result *mta, struct rd_facts *f)
{
	rd_classify_mta(c->mailer, c->host, c->addr, mta);
	memset(f, 0, sizeof(*f));
	f->client_ip = c->ip;
	f->client_name = "unknown";
	f->helo = c->helo;
	f->server_port = c->port;
	f->submission_port = c->submission;
	f->tls = c->tls;
	f->tls_auth_only = c->tls_auth_only;
	f->trusted = c->trusted;
	f->auth_user = c->user;
	f->sender = c->sender;
	f->sender_domain = domain_of(c->sender);
	f->sender_local = c->sender_local;
	f->rcpt = c->rcpt;
	f->rcpt_domain = domain_of(c->rcpt);
	f->cls.rclass = c->rclass;
	f->cls.source = c->source;
	f->cls.by = c->by;
	f->mta = mta;
	f->relay_gate = c->gate;
	f->sasl_required = c->sasl_required;
}

static void
test_diagnose_cases(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		facts_of(&cases[i], &mta, &f);
		rd_diagnose_rcpt(&f, &d);
		if (d.entry == NULL) {
			print_error("%s: got no catalogue entry, want %s\n",
			    cases[i].name, cases[i].want);
			nbad++;
			continue;
		}
		if (strcmp(d.entry->id, cases[i].want) != 0) {
			print_error("%s: got %s, want %s\n", cases[i].name,
			    d.entry->id, cases[i].want);
			nbad++;
		} else if (d.unauthorized_relay != cases[i].want_unauth) {
			print_error("%s: unauthorized_relay: got %s, want %s\n",
			    cases[i].name, d.unauthorized_relay ? "yes" : "no",
			    cases[i].want_unauth ? "yes" : "no");
			nbad++;
		}
		if (d.summary[0] == '\0' || strstr(d.summary, "${") != NULL) {
			print_error("%s: summary not filled: \"%s\"\n",
			    cases[i].name, d.summary);
			nbad++;
		}
		if (strstr(d.remedy_client, "${") != NULL ||
		    strstr(d.remedy_admin, "${") != NULL) {
			print_error("%s: remedy not filled: \"%s\" / \"%s\"\n",
			    cases[i].name, d.remedy_client, d.remedy_admin);
			nbad++;
		}
		if (d.unauthorized_relay && d.remedy_client[0] == '\0') {
			print_error("%s: an unauthorized relay needs a client "
				    "remedy\n",
			    cases[i].name);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u rd_diagnose_rcpt checks failed (%zu cases)", nbad,
		    NCASES(cases));
}

/* Every id the catalogue's rules can reach from one session's facts. */
static void
test_diagnose_every_reachable_id_is_covered(void **state)
{
	static const char *const reachable[] = {
	    "relay.authorized-sasl",
	    "relay.authorized-network",
	    "delivery.local",
	    "relay.no-auth",
	    "relay.client-on-port-25",
	    "relay.tls-required-for-auth",
	    "rcpt.domain-not-accepted",
	    "rcpt.unknown-user",
	    "mta.client-rejected",
	    "mta.recipient-access-denied",
	    "mta.sender-verify-failed",
	    "mta.rbl-listed",
	    "mta.unknown-domain",
	    "mta.other",
	    "sender.local-domain-unauthenticated",
	    "sender.login-mismatch",
	    "submission.no-auth",
	    "relay.authorized-mta",
	    "relay.authenticated-refused",
	    "relay.network-refused",
	};
	size_t i, j;

	(void)state;
	for (i = 0; i < NCASES(reachable); i++) {
		for (j = 0; j < NCASES(cases); j++)
			if (strcmp(cases[j].want, reachable[i]) == 0)
				break;
		if (j == NCASES(cases))
			fail_msg("%s: no case of this file produces it",
			    reachable[i]);
	}
}

/* want_in - fail unless hay contains needle, naming both */
static void
want_in(const char *what, const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("%s: \"%s\" lacks \"%s\"", what, hay, needle);
}

static void
want_not_in(const char *what, const char *hay, const char *needle)
{
	if (strstr(hay, needle) != NULL)
		fail_msg("%s: \"%s\" has \"%s\"", what, hay, needle);
}

/* The ${name} placeholders are filled from the facts. */
static void
test_diagnose_templates_are_filled(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	size_t i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++)
		if (strcmp(cases[i].name,
			"port 25, HELO UserPC: a desktop mail program") == 0)
			break;
	assert_true(i < NCASES(cases));
	facts_of(&cases[i], &mta, &f);
	rd_diagnose_rcpt(&f, &d);
	want_in("client-on-port-25 summary", d.summary, "HELO \"UserPC\"");
	want_in("client-on-port-25 summary", d.summary, "port 25");
	want_in("client-on-port-25 summary", d.summary, "from " IP);
	want_in("client-on-port-25 summary", d.summary, "<bob@gmail.test>");
	want_in("client-on-port-25 remedy", d.remedy_client, "587");

	/* The MTA's text and DSN go into mta.* summaries. */
	rd_classify_mta("error", "4.7.1",
	    "Recipient address rejected: Greylisted for 300 seconds", &mta);
	f.mta = &mta;
	f.cls.rclass = RD_CLASS_LOCAL;
	f.cls.by = RD_AUTHZ_LOCAL;
	f.rcpt = "alice@example.org";
	f.rcpt_domain = "example.org";
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "mta.other");
	want_in("mta.other summary", d.summary, "4.7.1");
	want_in("mta.other summary", d.summary, "Greylisted for 300 seconds");
	want_in("mta.other summary", d.summary, "<alice@example.org>");

	/* Domain. */
	rd_classify_mta(RELAY_DENIED, &mta);
	f.cls.source = RD_CLASS_BY_CONFIG;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "rcpt.domain-not-accepted");
	want_in("domain-not-accepted summary", d.summary, "example.org");
	want_in("domain-not-accepted admin remedy", d.remedy_admin,
	    "Add example.org to");

	/* SASL user and sender. */
	memset(&f, 0, sizeof(f));
	rd_classify_mta(ACCEPTED, &mta);
	f.mta = &mta;
	f.client_ip = IP;
	f.auth_user = "alice@example.org";
	f.sender = "boss@example.org";
	f.sender_domain = "example.org";
	f.rcpt = "bob@gmail.test";
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.cls.by = RD_AUTHZ_SASL;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "sender.login-mismatch");
	want_in("login-mismatch summary", d.summary, "alice@example.org");
	want_in("login-mismatch summary", d.summary, "<boss@example.org>");
}

/* What the facts do not say reads "unknown", never "(null)" or "". */
static void
test_diagnose_unknown_values_read_unknown(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;

	(void)state;
	rd_classify_mta(ACCEPTED, &mta);
	memset(&f, 0, sizeof(f)); /* no client, port ... */
	f.helo = "";              /* given, but empty: reads "unknown" too */
	f.rcpt = "bob@gmail.test";
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.cls.by = RD_AUTHZ_NONE;
	f.mta = &mta;
	f.relay_gate = true; /* deployment 2: relaydiag refuses it */
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.client-on-port-25");
	want_in("no HELO", d.summary, "HELO \"unknown\"");
	want_in("no client", d.summary, "from unknown");
	want_in("port 0 (unknown)", d.summary, "port unknown");
	want_not_in("no client", d.summary, "(null)");

	f.client_ip = ""; /* empty: unknown too */
	f.helo = "";
	rd_diagnose_rcpt(&f, &d);
	want_in("empty HELO", d.summary, "HELO \"unknown\"");
	want_in("empty client", d.summary, "from unknown");
}

/* A value is copied once: a placeholder inside it is not expanded. */
static void
test_diagnose_values_are_not_templates(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;

	(void)state;
	rd_classify_mta(ACCEPTED, &mta);
	memset(&f, 0, sizeof(f));
	f.client_ip = IP;
	f.helo = "${client}%s%n";
	f.server_port = 25;
	f.rcpt = "bob@gmail.test";
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.mta = &mta;
	f.relay_gate = true; /* deployment 2: relaydiag refuses it */
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.client-on-port-25");
	want_in("HELO with a placeholder", d.summary, "HELO \"${client}%s%n\"");
}

/* Values longer than the texts: cut, terminated, the facts too. */
static void
test_diagnose_long_values_are_cut(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	char *helo;
	size_t i, n = 10240;

	(void)state;
	helo = malloc(n + 1);
	assert_non_null(helo);
	memset(helo, 'H', n);
	helo[n] = '\0';
	rd_classify_mta(ACCEPTED, &mta);
	memset(&f, 0, sizeof(f));
	f.client_ip = IP;
	f.helo = helo;
	f.server_port = 25;
	f.rcpt = "bob@gmail.test";
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.mta = &mta;
	f.relay_gate = true;
	memset(&d, 0xa5, sizeof(d));
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.client-on-port-25");
	if (strnlen(d.summary, sizeof(d.summary)) >= sizeof(d.summary))
		fail_msg("10 KB HELO: summary not terminated");
	if (strlen(d.summary) != sizeof(d.summary) - 1)
		fail_msg("10 KB HELO: summary %zu bytes, want %zu (cut)",
		    strlen(d.summary), sizeof(d.summary) - 1);
	if (d.nfacts > RD_DIAG_FACTS_MAX)
		fail_msg("10 KB HELO: %zu facts, at most %d", d.nfacts,
		    RD_DIAG_FACTS_MAX);
	for (i = 0; i < d.nfacts; i++)
		if (strnlen(d.facts[i], RD_DIAG_FACT_MAX) >= RD_DIAG_FACT_MAX)
			fail_msg("10 KB HELO: fact %zu not terminated", i);
	free(helo);
}

/* has_fact - whether d lists exactly fact */
static bool
has_fact(const struct rd_diagnosis *d, const char *fact)
{
	size_t i;

	for (i = 0; i < d->nfacts; i++)
		if (strcmp(d->facts[i], fact) == 0)
			return (true);
	return (false);
}

/* The facts list: what the decision was made on, "key=value". */
static void
test_diagnose_facts_list(void **state)
{
	static const struct {
		const char *name, *case_name;
		const char *want[10];
	} fcases[] = {
	    {"desktop on port 25, MTA rejected",
		"Postfix: Relay access denied, HELO UserPC on port 25",
		{"port=25", "submission=no", "helo=UserPC", "tls=no",
		    "auth=none", "trusted=no", "class=external",
		    "mta=Relay access denied", NULL}},
	    {"SASL on submission with TLS, accepted",
		"external, SASL user sending as herself",
		{"port=587", "submission=yes", "helo=UserPC", "tls=yes",
		    "auth=alice@example.org", "trusted=no", "class=external",
		    NULL}},
	    {"trusted network", "external, client in trusted network",
		{"trusted=yes", "auth=none", NULL}},
	    {"local delivery", "local domain, routed by virtual",
		{"class=local", "helo=mail.isp.test", NULL}},
	};
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	size_t i, j, k;

	(void)state;
	for (i = 0; i < NCASES(fcases); i++) {
		for (j = 0; j < NCASES(cases); j++)
			if (strcmp(cases[j].name, fcases[i].case_name) == 0)
				break;
		if (j == NCASES(cases))
			fail_msg("%s: no case \"%s\"", fcases[i].name,
			    fcases[i].case_name);
		facts_of(&cases[j], &mta, &f);
		rd_diagnose_rcpt(&f, &d);
		for (k = 0; fcases[i].want[k] != NULL; k++)
			if (!has_fact(&d, fcases[i].want[k]))
				fail_msg(
				    "%s: facts lack \"%s\" (first: \"%s\", "
				    "%zu in all)",
				    fcases[i].name, fcases[i].want[k],
				    d.nfacts > 0 ? d.facts[0] : "", d.nfacts);
		if (d.nfacts == 0 || d.nfacts > RD_DIAG_FACTS_MAX)
			fail_msg("%s: %zu facts", fcases[i].name, d.nfacts);
		/* An accepted recipient has no "mta=" fact. */
		if (mta.verdict == RD_MTA_ACCEPT)
			for (k = 0; k < d.nfacts; k++)
				if (strncmp(d.facts[k], "mta=", 4) == 0)
					fail_msg("%s: accepted, yet \"%s\"",
					    fcases[i].name, d.facts[k]);
	}
}

/* Severities of the main ids, as dashboards colour them. */
static void
test_diagnose_severities(void **state)
{
	static const struct {
		const char *id, *want;
	} sev[] = {
	    {"relay.authorized-sasl", "info"},
	    {"relay.authorized-network", "info"},
	    {"delivery.local", "info"},
	    {"relay.no-auth", "error"},
	    {"relay.client-on-port-25", "error"},
	    {"relay.tls-required-for-auth", "error"},
	    {"alert.auth-outage", "critical"},
	};
	const struct rd_catalogue_entry *e;
	size_t i;

	(void)state;
	for (i = 0; i < NCASES(sev); i++) {
		if ((e = rd_catalogue_find(sev[i].id)) == NULL)
			fail_msg("%s: not in the catalogue", sev[i].id);
		if (strcmp(rd_severity_name(e->severity), sev[i].want) != 0)
			fail_msg("%s: got severity %s, want %s", sev[i].id,
			    rd_severity_name(e->severity), sev[i].want);
	}
}

/* Ids are a public interface: every one of diagnoses.md, each once. */
static void
test_catalogue_entries(void **state)
{
	static const char *const documented[] = {
	    "relay.authorized-sasl",
	    "relay.authorized-network",
	    "delivery.local",
	    "relay.no-auth",
	    "relay.client-on-port-25",
	    "relay.tls-required-for-auth",
	    "relay.ip-changed",
	    "relay.auth-stopped",
	    "relay.probe",
	    "rcpt.domain-not-accepted",
	    "rcpt.mx-elsewhere",
	    "rcpt.unknown-user",
	    "mta.client-rejected",
	    "mta.recipient-access-denied",
	    "mta.sender-verify-failed",
	    "mta.rbl-listed",
	    "mta.unknown-domain",
	    "mta.other",
	    "sender.local-domain-unauthenticated",
	    "sender.login-mismatch",
	    "submission.no-auth",
	    "alert.auth-outage",
	    "alert.relay-probe",
	};
	static const char *const severities[] = {
	    "info",
	    "notice",
	    "warning",
	    "error",
	    "critical",
	};
	const struct rd_catalogue_entry *all;
	size_t n, i, j;
	bool ok;

	(void)state;
	all = rd_catalogue_all(&n);
	assert_non_null(all);
	if (n < NCASES(documented))
		fail_msg("catalogue: %zu entries, want at least %zu", n,
		    NCASES(documented));
	for (i = 0; i < n; i++) {
		const char *id = all[i].id;

		if (id == NULL || id[0] == '\0')
			fail_msg("catalogue entry %zu: empty id", i);
		if (strchr(id, '.') == NULL ||
		    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789.-") !=
			strlen(id))
			fail_msg("%s: not a lower-case dotted id", id);
		if (all[i].summary == NULL || all[i].summary[0] == '\0')
			fail_msg("%s: empty summary", id);
		if (all[i].remedy_client == NULL || all[i].remedy_admin == NULL)
			fail_msg("%s: NULL remedy (\"\" when none)", id);
		for (j = i + 1; j < n; j++)
			if (strcmp(id, all[j].id) == 0)
				fail_msg(
				    "%s: listed twice (%zu and %zu)", id, i, j);
		if (rd_catalogue_find(id) != &all[i])
			fail_msg(
			    "%s: rd_catalogue_find gives another entry", id);
		for (ok = false, j = 0; j < NCASES(severities); j++)
			ok |= strcmp(rd_severity_name(all[i].severity),
				  severities[j]) == 0;
		if (!ok)
			fail_msg("%s: severity \"%s\"", id,
			    rd_severity_name(all[i].severity));
	}
	for (i = 0; i < NCASES(documented); i++)
		if (rd_catalogue_find(documented[i]) == NULL)
			fail_msg("%s: documented in diagnoses.md, missing from "
				 "the catalogue",
			    documented[i]);
	if (rd_catalogue_find("relay.no-auth ") != NULL ||
	    rd_catalogue_find("Relay.No-Auth") != NULL ||
	    rd_catalogue_find("relay") != NULL || rd_catalogue_find("") != NULL)
		fail_msg("near miss: rd_catalogue_find matched a non-id");
}

/* find_case - the case called name (the test fails without it) */
static const struct dcase *
find_case(const char *name)
{
	size_t i;

	for (i = 0; i < NCASES(cases); i++)
		if (strcmp(cases[i].name, name) == 0)
			return (&cases[i]);
	fail_msg("no case \"%s\"", name);
	return (NULL);
}

/* The truth rule holds on every case of the table. */
static void
test_truth_every_case(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	char why[128];
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		facts_of(&cases[i], &mta, &f);
		rd_diagnose_rcpt(&f, &d);
		if (!rd_diagnose_truthful(&f, &d, why, sizeof(why))) {
			print_error("%s: %s\n", cases[i].name, why);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u cases break the truth rule", nbad);
}

/*
 * The truth rule over every combination of the facts that bound it (1,024 per
 * verdict and class): the MTA's verdict and text, the login, the trusted
 * network, the recipient's class and authorization, the relay gate, the
 * listener's settings and the history. No combination may give a contradicting
 * id.
 */
static void
test_truth_sweep(void **state)
{
	static const struct {
		const char *mailer, *host, *addr;
	} mtas[] = {
	    {ACCEPTED},
	    {RELAY_DENIED},
	    {"error", "4.7.1", "Relay access denied"},
	    {"error", "5.7.1", "Client host rejected: Access denied"},
	    {"error", "5.7.1", "Recipient address rejected: Access denied"},
	    {"error", "5.1.1", "Recipient address rejected: User unknown"},
	    {"error", "5.7.1", "Sender address rejected: not logged in"},
	    {"error", "4.7.1", "Greylisted"},
	};
	static const struct {
		enum rd_class c;
		enum rd_class_source src;
		enum rd_authz by;
	} classes[] = {{EXT_NONE}, {LOCAL_CFG}, {LOCAL_MTA}, {RELAY_CFG}};
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	char why[128];
	unsigned m, c, bits, nbad = 0, n = 0;

	(void)state;
	for (m = 0; m < NCASES(mtas); m++)
		for (c = 0; c < NCASES(classes); c++)
			for (bits = 0; bits < 1u << 10; bits++) {
				memset(&f, 0, sizeof(f));
				rd_classify_mta(mtas[m].mailer, mtas[m].host,
				    mtas[m].addr, &mta);
				f.mta = &mta;
				f.client_ip = IP;
				f.helo =
				    (bits & 1) ? "UserPC" : "mail.isp.test";
				f.auth_user =
				    (bits & 2) ? "alice@example.org" : NULL;
				f.trusted = (bits & 4) != 0;
				f.relay_gate = (bits & 8) != 0;
				f.submission_port = (bits & 16) != 0;
				f.sasl_required = (bits & 32) != 0;
				f.tls_auth_only = (bits & 64) != 0;
				f.has_history = (bits & 128) != 0;
				f.sender_authorized_elsewhere = f.has_history;
				f.sender_sasl_here = f.has_history;
				f.elsewhere_ip = "192.0.2.1";
				f.sender_local = (bits & 256) != 0;
				f.mta_permits = (bits & 512) != 0;
				f.sender = "carol@example.org";
				f.rcpt = "bob@gmail.test";
				f.rcpt_domain = "gmail.test";
				f.probe_domains = 3;
				f.cls.rclass = classes[c].c;
				f.cls.source = classes[c].src;
				/* as classify.c gives it: SASL beats the
				   network, which beats nothing */
				f.cls.by =
				    classes[c].by == RD_AUTHZ_LOCAL
					? RD_AUTHZ_LOCAL
					: rd_authz_of_client(
					      f.auth_user != NULL, f.trusted);
				rd_diagnose_rcpt(&f, &d);
				n++;
				if (!rd_diagnose_truthful(
					&f, &d, why, sizeof(why))) {
					if (nbad++ < 10)
						print_error(
						    "%s, bits %#x: %s\n",
						    mtas[m].addr, bits, why);
				}
			}
	if (nbad > 0)
		fail_msg("%u of %u combinations break the truth rule", nbad, n);
}

/* hay contains needle, ignoring ASCII case */
static bool
has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay != '\0'; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return (true);
	return (false);
}

/*
 * Every catalogue text is held to its claims: "denied" only in ids for
 * refusals, "did not log in" and its kin only in ids flagged so, and the
 * authorized-* ids only for accepted mail.
 */
static void
test_catalogue_claims_match_texts(void **state)
{
	static const char *const no_login[] = {"not logged in",
	    "without logging in", "did not log in", "did not this time",
	    "without authentication", "stopped logging in"};
	const struct rd_catalogue_entry *all, *e;
	const char *texts[3];
	size_t n, i, t, k;
	unsigned nbad = 0;

	(void)state;
	all = rd_catalogue_all(&n);
	for (i = 0; i < n; i++) {
		e = &all[i];
		texts[0] = e->summary;
		texts[1] = e->remedy_client;
		texts[2] = e->remedy_admin;
		for (t = 0; t < 3; t++) {
			if (has_ci(texts[t], "denied") &&
			    (e->claims & RD_CAT_ON_REFUSAL) == 0) {
				print_error("%s: says \"denied\" but may go "
					    "to accepted mail\n",
				    e->id);
				nbad++;
			}
			for (k = 0; k < NCASES(no_login); k++)
				if (has_ci(texts[t], no_login[k]) &&
				    (e->claims & RD_CAT_NO_LOGIN) == 0) {
					print_error("%s: says \"%s\" but may "
						    "go to a logged-in "
						    "client\n",
					    e->id, no_login[k]);
					nbad++;
				}
		}
		if (strncmp(e->id, "relay.authorized-", 17) == 0 &&
		    (e->claims & RD_CAT_ON_ACCEPT) == 0) {
			print_error("%s: not flagged accepted-only\n", e->id);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u catalogue texts break their claims", nbad);
}

/* The listener of the field report: reject_unauth_destination first. */
static char fr_relay[] = "permit_mynetworks, permit_sasl_authenticated, "
			 "defer_unauth_destination";
static char fr_rcpt[] = "reject_unauth_destination, "
			"permit_sasl_authenticated, permit_mynetworks";
static struct rd_listener field_report = {
    .name = "smtp",
    .port = 25,
    .imported = true,
    .relay_restrictions = fr_relay,
    .recipient_restrictions = fr_rcpt,
};

/* A POP-before-SMTP shop: a client table permits before the check. */
static char pop_relay[] = "check_client_access "
			  "texthash:/etc/postfix/pop-before-smtp, "
			  "permit_mynetworks, permit_sasl_authenticated, "
			  "reject_unauth_destination";
static char pop_rcpt[] = "";
static struct rd_listener pop_shop = {
    .name = "smtp",
    .port = 25,
    .imported = true,
    .relay_restrictions = pop_relay,
    .recipient_restrictions = pop_rcpt,
};

static void
test_admin_texts_quote_the_listener(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;

	(void)state;
	facts_of(find_case("logged in, still Relay access denied "
			   "(restriction order)"),
	    &mta, &f);
	f.listener = &field_report;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.authenticated-refused");
	want_in("authenticated-refused admin", d.remedy_admin,
	    "In smtpd_recipient_restrictions = reject_unauth_destination, "
	    "permit_sasl_authenticated, permit_mynetworks, "
	    "reject_unauth_destination comes before "
	    "permit_sasl_authenticated");
	want_in("authenticated-refused summary", d.summary, "logged in");
	want_not_in(
	    "authenticated-refused summary", d.summary, "not logged in");
	want_in("authenticated-refused facts", d.facts[d.nfacts - 1],
	    "listener=smtp");
	/* Without a view: the generic advice, never a claim on the list. */
	f.listener = NULL;
	rd_diagnose_rcpt(&f, &d);
	want_in("authenticated-refused, no view", d.remedy_admin,
	    "set ImportPostfix");

	facts_of(
	    find_case("trusted network, still Relay access denied"), &mta, &f);
	f.listener = &field_report;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.network-refused");
	want_in("network-refused admin", d.remedy_admin,
	    "reject_unauth_destination comes before permit_mynetworks");

	facts_of(find_case("POP-before-SMTP table: the MTA relayed for an "
			   "unknown client"),
	    &mta, &f);
	f.listener = &pop_shop;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.authorized-mta");
	want_in("authorized-mta admin", d.remedy_admin,
	    "smtpd_relay_restrictions: check_client_access "
	    "texthash:/etc/postfix/pop-before-smtp, smtpd_relay_restrictions: "
	    "permit_mynetworks");
	want_not_in("authorized-mta summary", d.summary, "denied");

	/* RelayGate: refused, unless a client table relaydiag read permits
	   the client, as Postfix's own rule does */
	f.relay_gate = true;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.no-auth");
	assert_true(d.unauthorized_relay);
	f.mta_permits = true;
	rd_diagnose_rcpt(&f, &d);
	assert_string_equal(d.entry->id, "relay.authorized-mta");
	assert_false(d.unauthorized_relay);
	assert_false(rd_diagnose_is_unauthorized_relay(&f));
}

/* A soft refusal keeps its cause and says why it is soft. */
static void
test_soft_refusal(void **state)
{
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_diagnosis d;
	size_t i;
	bool fact = false;

	(void)state;
	facts_of(find_case("soft refusal: 454 4.7.1 Relay access denied keeps "
			   "its cause"),
	    &mta, &f);
	assert_int_equal(mta.verdict, RD_MTA_TEMPFAIL);
	rd_diagnose_rcpt(&f, &d);
	want_in("soft refusal admin", d.remedy_admin, "soft_bounce = yes");
	for (i = 0; i < d.nfacts; i++)
		fact |= strcmp(d.facts[i], "verdict=tempfail") == 0;
	assert_true(fact);
	/* A hard one does not say so. */
	facts_of(find_case("Postfix: Relay access denied, HELO UserPC on port "
			   "25"),
	    &mta, &f);
	rd_diagnose_rcpt(&f, &d);
	want_not_in("hard refusal admin", d.remedy_admin, "soft_bounce");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_diagnose_cases),
	    cmocka_unit_test(test_diagnose_every_reachable_id_is_covered),
	    cmocka_unit_test(test_diagnose_templates_are_filled),
	    cmocka_unit_test(test_diagnose_unknown_values_read_unknown),
	    cmocka_unit_test(test_diagnose_values_are_not_templates),
	    cmocka_unit_test(test_diagnose_long_values_are_cut),
	    cmocka_unit_test(test_diagnose_facts_list),
	    cmocka_unit_test(test_diagnose_severities),
	    cmocka_unit_test(test_catalogue_entries),
	    cmocka_unit_test(test_truth_every_case),
	    cmocka_unit_test(test_truth_sweep),
	    cmocka_unit_test(test_catalogue_claims_match_texts),
	    cmocka_unit_test(test_admin_texts_quote_the_listener),
	    cmocka_unit_test(test_soft_refusal),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

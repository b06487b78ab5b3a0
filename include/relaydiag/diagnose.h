/*
 * diagnose.h - from the facts of one recipient decision to a catalogue id,
 * its summary and the remedies for the client and the admin.
 *
 * The catalogue (ids, severities, text templates) is data in catalogue.c
 * (catalogue.h); ids are a public interface: never renamed, only added.
 * Templates use
 * ${name} placeholders filled from the facts (client, helo, port, user,
 * rcpt, domain, mta_text ...); the filled texts are raw and each sink
 * sanitizes them (text.h).
 * Precedence among the unauthorized-relay ids, most specific first, is
 * explicit in one table in diagnose.c: relay.auth-failed > relay.probe >
 * relay.ip-changed >
 * relay.auth-stopped > relay.tls-required-for-auth >
 * relay.client-on-port-25 > relay.no-auth. Before them all, a refused
 * recipient whose domain is ours (by configuration, or by its MX) is
 * rcpt.domain-not-accepted: the MTA is wrong, not the client.
 * The MTA's decision and the client's login bound the diagnosis (the
 * truth rule): a refused relay for a client that logged in is
 * relay.authenticated-refused, for a trusted one relay.network-refused;
 * an external recipient the MTA accepted for a client relaydiag does not
 * authorize is relay.authorized-mta, unless relaydiag is the relay gate
 * (relay_gate: the MTA accepts everything and relies on relaydiag), and
 * then only when a client table of the MTA's that relaydiag read permits
 * the client (mta_permits).
 * Threads: pure functions of their arguments.
 */
#ifndef RELAYDIAG_DIAGNOSE_H
#define RELAYDIAG_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/catalogue.h"
#include "relaydiag/classify.h"
#include "relaydiag/listener.h"

struct rd_rules;
struct rd_templates;

/* Everything a rule may look at for one recipient. Strings may be NULL. */
struct rd_facts {
	const char *client_ip;
	const char *client_name;
	const char *helo;
	unsigned server_port;
	bool submission_port; /* server_port in SubmissionPorts */
	bool tls;             /* the session is encrypted */
	bool tls_auth_only;   /* AUTH only after STARTTLS (the listener's) */
	bool sasl_required;   /* the listener lets only logins through */
	bool trusted;         /* client in the listener's trusted networks */
	bool relay_gate;      /* relaydiag decides relaying (RelayGate) */
	bool mta_permits;     /* a client table of the MTA's permits it */
	/* The listener the client came in on (listener.h); NULL: unknown. */
	const struct rd_listener *listener;
	const char *auth_user; /* NULL: not authenticated */
	const char *sender;    /* local@domain, "" for <> */
	const char *sender_domain;
	bool sender_local; /* sender domain in LocalDomains */
	const char *rcpt;
	const char *rcpt_domain;
	struct rd_rcpt_class cls;
	const struct rd_mta_result *mta;

	/* Policy: the reply-text rules and the admin's texts (NULL: built-in).
	 */
	const struct rd_rules *rules;
	const struct rd_templates *templates;
	const char *our_name; /* this MTA's host name */

	/* History across sessions (history.c); valid when has_history. */
	bool has_history;
	bool sender_authorized_elsewhere;
	const char *elsewhere_ip;
	bool sender_sasl_here;
	bool sender_authorized_ever;
	bool client_authorized_ever;
	unsigned client_refused_domains;
	unsigned probe_domains; /* ProbeDomains threshold */

	/* A failed AUTH from this client shortly before (authfail.h). */
	bool auth_failed;
	const char *failed_user; /* NULL: not logged */

	/* Outbound (the log front end): the remote server that refused,
	   and what the MX check says of it. */
	const char *relay_host;   /* "mx.remote.test[192.0.2.25]:25" */
	const char *remote_check; /* a sentence; NULL: unchecked */

	/* The MX check (dns.c); valid when has_mx (zeroed facts: unchecked). */
	bool has_mx;
	int mx; /* enum rd_mx_answer */
	const char *mx_host;
};

#define RD_DIAG_FACTS_MAX 12
#define RD_DIAG_FACT_MAX 160

struct rd_diagnosis {
	const struct rd_catalogue_entry *entry;
	char summary[RD_DIAG_TEXT_MAX];
	char remedy_client[RD_DIAG_TEXT_MAX];
	char remedy_admin[RD_DIAG_TEXT_MAX];
	char facts[RD_DIAG_FACTS_MAX][RD_DIAG_FACT_MAX]; /* "helo=UserPC" */
	size_t nfacts;
	bool unauthorized_relay; /* relay.no-auth and its refinements */
};

/*
 * rd_diagnose_refused - whether the recipient ends refused: the MTA
 * refused it, or relaydiag as the relay gate will (d->unauthorized_relay)
 */
bool rd_diagnose_refused(
    const struct rd_facts *f, const struct rd_diagnosis *d);

/*
 * rd_diagnose_truthful - the truth rule: whether d contradicts its own
 * facts (an accepted recipient with a refusal id, a refused one with an
 * authorized-* or delivered id, a logged-in client with an id that says
 * it did not log in). true, or false with why (size len) filled.
 */
bool rd_diagnose_truthful(const struct rd_facts *f,
    const struct rd_diagnosis *d, char *why, size_t len);

/* rd_diagnose_rcpt - name the cause of one recipient decision; never fails */
void rd_diagnose_rcpt(const struct rd_facts *f, struct rd_diagnosis *out);

/*
 * rd_diagnose_is_unauthorized_relay - whether the facts (before history
 * and the MX check) are a refused or unauthorized relay to a domain that
 * is not ours by configuration: the cases history.c and dns.c refine.
 */
bool rd_diagnose_is_unauthorized_relay(const struct rd_facts *f);

/*
 * rd_diagnose_fill - the texts of the catalogue entry id (or the admin's
 * templates) filled from f, into out; for alerts and tests. -1: unknown id.
 */
int rd_diagnose_fill(
    const char *id, const struct rd_facts *f, struct rd_diagnosis *out);

/*
 * rd_helo_implausible - whether a HELO is a lie no honest client tells:
 * our own host name, a bare IPv4 address (no brackets), or an address
 * literal that is not the client's address.
 */
bool rd_helo_implausible(
    const char *helo, const char *client_ip, const char *our_name);

#endif

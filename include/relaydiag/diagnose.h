/*
 * diagnose.h - from the facts of one recipient decision to a catalogue id,
 * its summary and the remedies for the client and the admin.
 *
 * The catalogue (ids, severities, text templates) is data in diagnose.c;
 * ids are a public interface: never renamed, only added. Templates use
 * ${name} placeholders filled from the facts (client, helo, port, user,
 * rcpt, domain, mta_text ...); the filled texts are raw and each sink
 * sanitizes them (text.h).
 * Precedence among the unauthorized-relay ids, most specific first, is
 * explicit in one table in diagnose.c: relay.probe > relay.ip-changed >
 * relay.auth-stopped > relay.tls-required-for-auth >
 * relay.client-on-port-25 > relay.no-auth.
 * Threads: pure functions of their arguments.
 */
#ifndef RELAYDIAG_DIAGNOSE_H
#define RELAYDIAG_DIAGNOSE_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/classify.h"

enum rd_severity {
	RD_SEV_INFO = 0,
	RD_SEV_NOTICE,
	RD_SEV_WARNING,
	RD_SEV_ERROR,
	RD_SEV_CRITICAL,
};

struct rd_catalogue_entry {
	const char	*id;		/* "relay.no-auth" */
	enum rd_severity severity;
	const char	*summary;	/* templates */
	const char	*remedy_client;
	const char	*remedy_admin;
};

/* Everything a rule may look at for one recipient. Strings may be NULL. */
struct rd_facts {
	const char	*client_ip;
	const char	*client_name;
	const char	*helo;
	unsigned	 server_port;
	bool		 submission_port;	/* server_port in SubmissionPorts */
	bool		 tls;			/* the session is encrypted */
	bool		 tls_auth_only;		/* AUTH only after STARTTLS */
	bool		 trusted;		/* client in TrustedNetworks */
	const char	*auth_user;		/* NULL: not authenticated */
	const char	*sender;		/* local@domain, "" for <> */
	const char	*sender_domain;
	bool		 sender_local;		/* sender domain in LocalDomains */
	const char	*rcpt;
	const char	*rcpt_domain;
	struct rd_rcpt_class cls;
	const struct rd_mta_result *mta;
};

#define RD_DIAG_TEXT_MAX	512
#define RD_DIAG_FACTS_MAX	8
#define RD_DIAG_FACT_MAX	160

struct rd_diagnosis {
	const struct rd_catalogue_entry *entry;
	char	summary[RD_DIAG_TEXT_MAX];
	char	remedy_client[RD_DIAG_TEXT_MAX];
	char	remedy_admin[RD_DIAG_TEXT_MAX];
	char	facts[RD_DIAG_FACTS_MAX][RD_DIAG_FACT_MAX];	/* "helo=UserPC" */
	size_t	nfacts;
	bool	unauthorized_relay;	/* relay.no-auth and its refinements */
};

/* rd_diagnose_rcpt - name the cause of one recipient decision; never fails */
void	rd_diagnose_rcpt(const struct rd_facts *f, struct rd_diagnosis *out);

/* rd_catalogue_find - the entry for id, or NULL */
const struct rd_catalogue_entry *rd_catalogue_find(const char *id);

/* rd_catalogue_all - the whole catalogue (n set to its length) */
const struct rd_catalogue_entry *rd_catalogue_all(size_t *n);

const char *rd_severity_name(enum rd_severity s);	/* "info" ... */

#endif

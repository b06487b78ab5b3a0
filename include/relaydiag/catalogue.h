/*
 * catalogue.h - the catalogue of causes: every diagnosis id, its severity
 * and its text templates (summary, the client's remedy, the admin's).
 * Owns the ids, a public interface (events, headers, logs, dashboards):
 * never renamed, only added. Data only; diagnose.c picks an id, rules.c
 * and templates.c check the ids an admin writes against it.
 * Templates use ${name} placeholders that diagnose.c fills from the facts.
 * Threads: constant data.
 */
#ifndef RELAYDIAG_CATALOGUE_H
#define RELAYDIAG_CATALOGUE_H

#include <stddef.h>

/* The longest filled text, with its NUL. */
#define RD_DIAG_TEXT_MAX 512

enum rd_severity {
	RD_SEV_INFO = 0,
	RD_SEV_NOTICE,
	RD_SEV_WARNING,
	RD_SEV_ERROR,
	RD_SEV_CRITICAL,
};

/*
 * What an id's texts claim, for the truth rule (diagnoses.md): an id
 * whose texts speak of a refusal ("denied") is never given to accepted
 * mail, an authorized-* or delivered id never to a refusal, and an id
 * that says the client did not log in never to a client that did
 * (rd_diagnose_truthful, diagnose.h). Unit tests hold every template to
 * its flags.
 */
#define RD_CAT_ON_REFUSAL 1u /* only for a refused recipient */
#define RD_CAT_ON_ACCEPT 2u  /* only for an accepted one */
#define RD_CAT_NO_LOGIN 4u   /* says the client did not log in */

struct rd_catalogue_entry {
	const char *id; /* "relay.no-auth" */
	enum rd_severity severity;
	const char *summary; /* templates */
	const char *remedy_client;
	const char *remedy_admin;
	unsigned claims; /* RD_CAT_* */
};

/* rd_catalogue_find - the entry for id, or NULL */
const struct rd_catalogue_entry *rd_catalogue_find(const char *id);

/* rd_catalogue_all - the whole catalogue (n set to its length) */
const struct rd_catalogue_entry *rd_catalogue_all(size_t *n);

/* rd_severity_name - "info", "notice", "warning", "error", "critical" */
const char *rd_severity_name(enum rd_severity s);

#endif

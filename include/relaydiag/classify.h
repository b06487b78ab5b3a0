/*
 * classify.h - what a recipient is to this MTA, whether this client may
 * relay to it, and what the MTA itself decided about it.
 *
 * Owns enum rd_class, enum rd_authz and enum rd_mta_verdict. Parsing belongs
 * to addr.c, the lists to domainset.c and netset.c, naming the cause to
 * diagnose.c.
 * Threads: pure functions of their arguments; no globals, no locks.
 */
#ifndef RELAYDIAG_CLASSIFY_H
#define RELAYDIAG_CLASSIFY_H

#include <stdbool.h>

#include "relaydiag/config.h"

enum rd_class {
	RD_CLASS_LOCAL = 0, /* a domain delivered here */
	RD_CLASS_RELAY,     /* a domain we relay for (backup MX ...) */
	RD_CLASS_EXTERNAL,  /* anything else: relaying needs authorization */
};

enum rd_authz {
	RD_AUTHZ_NONE = 0, /* not authorized to relay */
	RD_AUTHZ_SASL,     /* SMTP AUTH */
	RD_AUTHZ_NETWORK,  /* client in TrustedNetworks */
	RD_AUTHZ_LOCAL,    /* local/relay class needs no authorization */
};

enum rd_class_source {
	RD_CLASS_BY_CONFIG = 0, /* LocalDomains / RelayDomains */
	RD_CLASS_BY_MTA,        /* the MTA's {rcpt_mailer} routed it locally */
	RD_CLASS_BY_DEFAULT,    /* in no list: external */
};

enum rd_mta_verdict {
	RD_MTA_ACCEPT = 0,
	RD_MTA_REJECT,   /* 5xx */
	RD_MTA_TEMPFAIL, /* 4xx */
};

struct rd_rcpt_class {
	enum rd_class rclass;
	enum rd_class_source source;
	enum rd_authz by;
};

/* What the MTA said about the recipient ({rcpt_mailer}, {rcpt_host},
 * {rcpt_addr}). */
struct rd_mta_result {
	enum rd_mta_verdict verdict;
	char code[4];    /* "554"; "" when unknown (Postfix sends no code) */
	char dsn[16];    /* "5.7.1"; "" when unknown */
	char text[512];  /* the reply text, raw (sanitize per sink) */
	char mailer[32]; /* {rcpt_mailer}, raw, cut */
	bool text_cut;   /* the reply text was longer than text[] */
};

/*
 * rd_authz_of_client - what authorizes this client to relay: SASL beats
 * the network, which beats nothing (the one place of that rule)
 */
enum rd_authz rd_authz_of_client(bool sasl, bool trusted);

/*
 * rd_classify_mailer_is_local - the MTA's transport delivers on this host
 * (Postfix local, virtual, lmtp; Sendmail local, prog)
 */
bool rd_classify_mailer_is_local(const char *mailer);

/*
 * rd_classify_rcpt - class and authorization of a recipient domain.
 * domain: lower case, may be "" (no domain: local by RFC 5321 postmaster
 * rule), or NULL (the address did not parse: external by default, nothing
 * says it is ours). mailer: {rcpt_mailer} or NULL; local/virtual/lmtp routing
 * makes a domain in no list local (the MTA knows better than a stale list).
 * sasl: whether the client authenticated; trusted: client in
 * TrustedNetworks. SASL wins over network when both hold.
 */
void rd_classify_rcpt(const struct rd_config *cfg, const char *domain,
    const char *mailer, bool sasl, bool trusted, struct rd_rcpt_class *out);

/*
 * rd_classify_mta - the MTA's decision from the recipient macros. With
 * SMFIP_RCPT_REJ a rejected recipient arrives with {rcpt_mailer}=error,
 * {rcpt_host}=the DSN ("5.7.1") and {rcpt_addr}=the reply text (Postfix cuts
 * "<addr>: " off; a reply without that part may reach us split, DSN-less or
 * code-first: all handled). Any other mailer: accepted. NULL arguments are
 * treated as absent.
 */
void rd_classify_mta(const char *mailer, const char *host, const char *addr,
    struct rd_mta_result *out);

/* rd_classify_mta_refused - whether {rcpt_mailer} says the MTA refused it */
bool rd_classify_mta_refused(const char *mailer);

const char *rd_class_name(enum rd_class c); /* "local" ... */
const char *rd_authz_name(enum rd_authz a); /* "sasl" ...; NONE: NULL */
const char *rd_mta_verdict_name(enum rd_mta_verdict v); /* "accept" ... */

#endif

/*
 * session.h - one SMTP connection as the milter sees it: connection ->
 * transactions -> recipients, and the events it produces.
 *
 * The libmilter callbacks fill plain structs (struct rd_conn_info ...) with
 * the arguments and macros of their stage and make one call here. The
 * session copies what it keeps within fixed limits, classifies and diagnoses
 * each recipient, serializes events and hands them to the sink, and tells
 * the glue what to do (struct rd_verdict, struct rd_eom_plan).
 * Owns struct rd_session. Memory: every string argument is borrowed for the
 * call. Threads: a session is used by one thread at a time (libmilter's
 * per-connection thread); the config and the sink are shared, read-only or
 * thread-safe.
 */
#ifndef RELAYDIAG_SESSION_H
#define RELAYDIAG_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/config.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/dns.h"
#include "relaydiag/explained.h"
#include "relaydiag/recent.h"
#include "relaydiag/seen.h"
#include "relaydiag/history.h"
#include "relaydiag/ids.h"
#include "relaydiag/sink.h"

/* At CONNECT: the callback's arguments and the connect macros. */
struct rd_conn_info {
	const char *client_ip;   /* from hostaddr, else {client_addr} */
	unsigned client_port;    /* {client_port}; 0 unknown */
	const char *client_name; /* hostname argument / {client_name} */
	const char *client_ptr;  /* {client_ptr} */
	const char *daemon_name; /* {daemon_name} */
	const char *daemon_addr; /* {daemon_addr} */
	unsigned daemon_port;    /* {daemon_port}; 0 unknown */
	const char *mta_host;    /* j: the MTA's host name */
};

/* TLS macros ({tls_version} {cipher} {cipher_bits} {cert_subject}), at HELO and
 * MAIL. */
struct rd_tls_info {
	const char *version;
	const char *cipher;
	const char *bits;
	const char *cert_subject;
};

/* At MAIL FROM. */
struct rd_mail_info {
	const char *sender;      /* argv[0] */
	const char *queue_id;    /* i */
	const char *auth_type;   /* {auth_type} */
	const char *auth_authen; /* {auth_authen} */
	struct rd_tls_info tls;
};

/* At RCPT TO. */
struct rd_rcpt_info {
	const char *rcpt;     /* argv[0] */
	const char *mailer;   /* {rcpt_mailer} */
	const char *host;     /* {rcpt_host} */
	const char *addr;     /* {rcpt_addr} */
	const char *queue_id; /* i, if already known */
};

#define RD_REPLY_LINES_MAX 12
#define RD_REPLY_LINE_MAX 320

/* What the glue does with a recipient. */
struct rd_verdict {
	enum rd_action action; /* NONE/HEADER: continue */
	char code[4];          /* "554" for REJECT/TEMPFAIL */
	char dsn[16];          /* "5.7.1" */
	char lines[RD_REPLY_LINES_MAX][RD_REPLY_LINE_MAX]; /* safe text */
	size_t nlines;
	const char *diag_id;  /* the diagnosis (catalogue); NULL: none */
	char eid[RD_EID_MAX]; /* its rcpt event; "": none was published */
};

/* What the glue does at end of message. */
#define RD_HEADER_MAX 2048
struct rd_eom_plan {
	bool add_header;
	char header_name[64];
	char header_value[RD_HEADER_MAX]; /* folded with "\n\t", ASCII */
	/*
	 * Forged copies of our header to remove: smfi_chgheader indexes
	 * nremove down to 1 (last first, so the indexes stay valid): all.
	 */
	unsigned nremove;
};

struct rd_session;

/*
 * rd_session_new - a session for one connection. cfg is borrowed for the
 * session's life (the caller holds a reference); sink may be NULL (events
 * are then dropped). NULL when out of memory.
 */
struct rd_session *rd_session_new(
    const struct rd_config *cfg, struct rd_sink *sink);
void rd_session_free(struct rd_session *s); /* NULL: no-op */

/*
 * rd_session_use - the shared services the session may consult: history
 * across sessions and the MX check (each may be NULL: then the diagnoses
 * that need them are not made). Borrowed for the session's life.
 */
void rd_session_use(
    struct rd_session *s, struct rd_history *history, struct rd_dns *dns);

/*
 * rd_session_use_explained - the table of recipients another front end
 * already published (explained.h; may be NULL): a refused recipient found
 * there is counted, not published again. Borrowed for the session's life.
 */
void rd_session_use_explained(struct rd_session *s, struct rd_explained *x);

/*
 * rd_session_use_authfails - the failed AUTH attempts the log front end
 * saw (recent.h; may be NULL), and how long one counts (AuthFailWindow):
 * a refused relay from such a client is relay.auth-failed. Borrowed.
 */
void rd_session_use_authfails(
    struct rd_session *s, struct rd_recent *x, unsigned window);

/*
 * rd_session_use_seen - where to note each transaction by its queue id
 * (seen.h; may be NULL), for the log front end to join a logged refusal
 * with what this session saw. Borrowed.
 */
void rd_session_use_seen(struct rd_session *s, struct rd_seen *x);

/*
 * rd_session_set_front_end - which front end this session serves:
 * "milter" (the default), "policy" (one policy request: its events say
 * so, and it publishes no session event of its own; its recipient is
 * one the MTA is about to refuse, and an unauthorized relay gets action
 * REJECT with relaydiag's reply, which the policy answer carries), or
 * "log" (one refusal read in the MTA's log: no session event either).
 * name: a constant.
 */
void rd_session_set_front_end(struct rd_session *s, const char *name);

const char *rd_session_id(const struct rd_session *s);
const struct rd_config *rd_session_config(const struct rd_session *s);

void rd_session_connect(struct rd_session *s, const struct rd_conn_info *ci);
void rd_session_helo(
    struct rd_session *s, const char *helo, const struct rd_tls_info *tls);
void rd_session_mail(struct rd_session *s, const struct rd_mail_info *mi);
/*
 * rd_session_rcpt - one recipient: its diagnosis, event and verdict. For
 * the milter, a recipient the MTA refused gets its verdict (continue) at
 * once and is diagnosed at a later call (up to four wait; every other
 * call below diagnoses them first, rd_session_free too): the MTA ignores
 * that reply and need not wait for the history lookup.
 */
void rd_session_rcpt(
    struct rd_session *s, const struct rd_rcpt_info *ri, struct rd_verdict *v);
/* rd_session_header - one header of the message (our own name is counted) */
void rd_session_header(
    struct rd_session *s, const char *name, const char *value);
/* rd_session_eom - end of message: the header to add, forged ones to remove */
void rd_session_eom(
    struct rd_session *s, const char *queue_id, struct rd_eom_plan *plan);
/* rd_session_abort - the transaction ended without a message (RSET ...) */
void rd_session_abort(struct rd_session *s);
/* rd_session_close - the connection ended: the session event */
void rd_session_close(struct rd_session *s);

#endif

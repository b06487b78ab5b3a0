/*
 * logline.h - one line of the MTA's log, as the log follower reads it:
 * what no milter sees (outbound delivery refusals, failed AUTH, the
 * refusals of an MTA with no milter attached: Sendmail's own check_rcpt,
 * Exim, a Postfix without smtpd_milters).
 *
 * The envelope: a syslog line ("Dec  7 03:14:47 host prog[pid]: msg", or
 * rsyslog's "2026-12-07T03:14:47.123456+00:00 host prog[pid]: msg", or
 * Postfix's maillog_file), or Exim's own mainlog ("2026-12-07 03:14:47
 * [pid] msg"). The message: a table of PCRE2 patterns with named groups,
 * one row per kind of line and MTA (logline.c), so that a new wording is
 * a new row. Values are copied within fixed limits; a value cut to fit is
 * marked (cut), so that nothing is judged on a half address.
 * Owns struct rd_logrec and the patterns.
 * Threads: rd_logline_parse is safe from any thread (the patterns are
 * compiled once, read-only; match data is per call).
 */
#ifndef RELAYDIAG_LOGLINE_H
#define RELAYDIAG_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/addr.h"

/* LogFormat: which MTAs' lines to read (bits). */
#define RD_LOGFMT_POSTFIX 1u
#define RD_LOGFMT_SENDMAIL 2u
#define RD_LOGFMT_EXIM 4u

#define RD_LOGLINE_MAX 8192 /* longer lines are read cut, and say so */

enum rd_logkind {
	RD_LOG_OTHER = 0,   /* a line of no interest */
	RD_LOG_DELIVERY,    /* outbound: a remote server refused (4xx/5xx) */
	RD_LOG_AUTH_FAIL,   /* a client failed SMTP AUTH */
	RD_LOG_RCPT_REJECT, /* this MTA refused a recipient at RCPT */
	RD_LOG_VERIFY_FAIL, /* a sender verification callout failed */
	RD_LOG_AUTH_DOWN, /* the MTA cannot reach its authentication service */
};

struct rd_logrec {
	enum rd_logkind kind;
	unsigned format; /* RD_LOGFMT_* of the line */
	time_t ts;       /* from the line; 0: none */
	char prog[48];   /* "postfix/smtp", "sm-mta", "exim" */
	char queue_id[40];
	/* the SMTP client (inbound lines) */
	char client_name[256];
	char client_ip[64];
	unsigned client_port; /* 0: not logged */
	char helo[256];
	/* the listener the client reached (Exim's I=[ip]:port) */
	char daemon_ip[64];
	unsigned daemon_port; /* 0: not logged */
	/* the envelope */
	char sender[RD_ADDR_PATH_MAX];
	char rcpt[RD_ADDR_PATH_MAX];
	/* the remote server (outbound lines) */
	char relay_host[256];
	char relay_ip[64];
	unsigned relay_port;
	char status[16];       /* "bounced", "deferred" */
	bool in_reply_to_rcpt; /* the refusal answered RCPT TO */
	/* the reply (ours or the remote's) */
	char code[4];
	char dsn[16];
	char text[512];
	/* AUTH */
	char mech[32];
	char user[256];
	bool cut; /* a value was longer than its field */
};

/*
 * rd_logline_parse - line (len bytes, no newline; may hold any byte) into
 * *out (zeroed first): its kind, or RD_LOG_OTHER. formats: the LogFormat
 * bits to try. now: the time to take the year from when the line has
 * none (a December line read in January belongs to last year). Never
 * fails; a line it does not know is RD_LOG_OTHER.
 */
enum rd_logkind rd_logline_parse(const char *line, size_t len, unsigned formats,
    time_t now, struct rd_logrec *out);

/*
 * rd_logline_candidate - whether line (len bytes) has the words of a
 * refusal or a login (loosely, any MTA): with rd_logline_parse giving
 * RD_LOG_OTHER, a wording no row knows (relaydiag -L lists them).
 */
bool rd_logline_candidate(const char *line, size_t len);

/* rd_logkind_name - "delivery", "auth", "rcpt", "verify", "auth-down",
   "other" */
const char *rd_logkind_name(enum rd_logkind k);

#endif

/*
 * reply.h - the explanatory multi-line SMTP reply for a refused recipient,
 * and the diagnostic header for accepted mail.
 *
 * Owns the shape of both texts. Everything from the network passes the
 * reply (resp. header) sanitizer: no CR, LF, NUL or 8-bit byte reaches the
 * MTA, '%' is doubled for smfi_setmlreply, and lines stay within
 * libmilter's limits (32 lines of 980 octets) and well under RFC 5321's
 * 512. Threads: pure.
 */
#ifndef RELAYDIAG_REPLY_H
#define RELAYDIAG_REPLY_H

#include "relaydiag/diagnose.h"
#include "relaydiag/session.h"

/*
 * Postfix's policy REJECT reaches the client as one line (verified with
 * Postfix 3.7, README "Deployment 3"):
 *   554 5.7.1 <rcpt>: Recipient address rejected: <text>
 * Postfix adds the recipient and "Recipient address rejected: ", keeps '%'
 * as it is, turns control and 8-bit bytes into spaces, and cuts nothing:
 * a longer text makes a longer line. RD_REPLY_POLICY_PREFIX is that prefix
 * without the recipient; the line stays within RFC 5321's 512 octets.
 */
#define RD_REPLY_POLICY_PREFIX "554 5.7.1 <>: Recipient address rejected: "
#define RD_REPLY_LINE_LIMIT 510 /* RFC 5321 4.5.3.1.5, without CRLF */

/*
 * rd_reply_policy_text - v's reply (rd_reply_build) as the one line of a
 * policy answer's text, into out (size len): the lines joined by spaces,
 * '%' no longer doubled, so that Postfix's whole line for rcpt fits
 * RD_REPLY_LINE_LIMIT; what does not fit is cut at a word, and the
 * reference ("Ref <id> <event id>") is always kept at the end. Printable
 * ASCII only, never empty.
 */
void rd_reply_policy_text(
    const struct rd_verdict *v, const char *rcpt, char *out, size_t len);

/*
 * rd_reply_build - fill v->code, v->dsn and v->lines for a reject (code
 * "554", dsn "5.7.1") or tempfail ("451", "4.7.1"): first line "Relay
 * access denied for <rcpt>." (other ids: "Recipient <rcpt> refused."),
 * then the summary (without the words of the first line again) and the
 * client remedy wrapped, then "Ref <id> <event id>".
 */
void rd_reply_build(struct rd_verdict *v, enum rd_action action,
    const struct rd_diagnosis *d, const char *rcpt, const char *eid);

/* The header's view of one message. */
struct rd_header_info {
	const char *host; /* the reporting MTA */
	const char *session;
	const char *client_ip;
	const char *helo;
	unsigned port;
	const char *authorized; /* "sasl", "network", "none" */
	const char *auth_user;
	const char *tls_version; /* NULL: no TLS */
	const char *const *ids;  /* diagnosis ids of the message */
	size_t nids;
};

/*
 * rd_header_build - the header value, Authentication-Results style,
 * ASCII, folded with "\n\t" before 78 columns, into out (size len):
 *   mx.example.org; session=0123ABCD4567; client=192.0.2.5
 *	helo=mail.example.org port=587; auth=sasl user=alice;
 *	tls=TLSv1.3; diagnosis=relay.authorized-sasl
 */
void rd_header_build(const struct rd_header_info *h, char *out, size_t len);

/* rd_header_build_named - the same, folded for the field name (HeaderName) */
void rd_header_build_named(
    const char *name, const struct rd_header_info *h, char *out, size_t len);

/*
 * rd_header_name_check - name is a header field name the header can carry
 * (RFC 5322 2.2: printable ASCII without ':'; at most 62 characters, so
 * that the fold keeps 78 columns). 0, or -1 with why[] filled.
 */
int rd_header_name_check(const char *name, char *why, size_t whylen);

#endif

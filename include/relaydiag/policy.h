/*
 * policy.h - the Postfix policy delegation protocol (SMTPD_POLICY_README)
 * as relaydiag's third front end: a request's attributes into the facts
 * the milter would give, the engine's answer back.
 *
 * Protocol: the client (smtpd) sends "name=value" lines, then an empty
 * line; the server answers "action=..." and an empty line, and the
 * connection is reused for further requests. relaydiag stands just
 * before reject_unauth_destination, after every permit (deployment 3),
 * so it is asked only about recipients Postfix is about to refuse as
 * relaying; it answers "action=REJECT 5.7.1 <explanation>" for an
 * unauthorized relay and "action=DUNNO" for everything else. The answer
 * can never permit: no OK, no PERMIT, no other action is ever written.
 *
 * Limits, so that no request can break an answer or stall the server:
 * a line longer than RD_POLICY_LINE_MAX is dropped (its attribute is
 * unknown, and the request then gets DUNNO if it was one we need); more
 * than RD_POLICY_ATTRS_MAX attributes are counted, not kept; a value too
 * long for its field, or holding a NUL, marks the request cut, and a cut
 * client address, recipient, sender, HELO or login gets DUNNO (Postfix's
 * own refusal stands).
 * Owns struct rd_policy_parser and struct rd_policy_req.
 * Threads: a parser belongs to one connection; rd_policy_answer is safe
 * from many threads (it uses a session of its own per request).
 */
#ifndef RELAYDIAG_POLICY_H
#define RELAYDIAG_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/addr.h"
#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/dns.h"
#include "relaydiag/explained.h"
#include "relaydiag/history.h"
#include "relaydiag/sink.h"

#define RD_POLICY_LINE_MAX 4096  /* bytes of one attribute line */
#define RD_POLICY_ATTRS_MAX 1000 /* attributes of one request */

/* The attributes relaydiag reads; "" when absent. */
struct rd_policy_req {
	char request[32];        /* smtpd_access_policy */
	char protocol_state[16]; /* RCPT */
	char client_address[64];
	char client_port[8];
	char client_name[256];
	char helo_name[256];
	char sasl_method[48];
	char sasl_username[256];
	char sender[RD_ADDR_PATH_MAX];
	char recipient[RD_ADDR_PATH_MAX];
	char server_address[64];
	char server_port[8];
	char encryption_protocol[32];
	char encryption_cipher[96];
	char encryption_keysize[8];
	char instance[64];
	char queue_id[64];
	unsigned nattrs; /* attribute lines seen */
	unsigned cut;    /* bit per field that was cut or held a NUL */
	unsigned long lines_dropped; /* over RD_POLICY_LINE_MAX, or no '=' */
};

struct rd_policy_parser {
	struct rd_policy_req req;
	char line[RD_POLICY_LINE_MAX];
	size_t len;    /* bytes in line */
	bool overlong; /* the current line passed RD_POLICY_LINE_MAX */
	bool done;     /* req is complete (the empty line came) */
};

/* rd_policy_parser_init - an empty parser, ready for a request */
void rd_policy_parser_init(struct rd_policy_parser *p);

/*
 * rd_policy_feed - bytes of the stream into the parser; returns how many
 * were consumed. Stops right after a request's empty line (p->done set):
 * the caller answers, calls rd_policy_parser_init, and feeds the rest.
 */
size_t rd_policy_feed(struct rd_policy_parser *p, const char *buf, size_t n);

/* What an answer uses; each may be NULL but cfg. All borrowed. */
struct rd_policy_services {
	const struct rd_config *cfg;
	struct rd_sink *sink;
	struct rd_history *history;
	struct rd_dns *dns;
	struct rd_explained *explained;
	struct rd_recent *authfails; /* failed AUTH (the log front end) */
};

/*
 * rd_policy_answer - the answer to req, appended to out: exactly
 * "action=DUNNO\n\n" or "action=REJECT 5.7.1 <printable ASCII>\n\n".
 * An unauthorized relay to an external recipient is diagnosed as the
 * milter would (history, DNS, catalogue, templates), published as one
 * rcpt event (front_end "policy"), noted in sv->explained so that the
 * milter does not publish it again, and explained; anything else is
 * DUNNO and publishes nothing.
 */
void rd_policy_answer(const struct rd_policy_services *sv,
    const struct rd_policy_req *req, struct rd_buf *out);

/*
 * rd_policy_answer_safe - whether an answer is one rd_policy_answer may
 * write (the invariant the fuzz target and the tests check)
 */
bool rd_policy_answer_safe(const char *answer, size_t len);

#endif

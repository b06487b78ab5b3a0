/*
 * logfront.h - the log front end's engine: one parsed line of the MTA's
 * log (logline.h) into the events it means, through the same catalogue,
 * rules, history and publisher as the milter and the policy service.
 *
 *  - an outbound delivery a remote server refused: a "delivery" event;
 *    a relay refusal is remote.relayhost-auth when the server is one of
 *    RelayHosts (this server does not log in to it), else
 *    remote.relay-denied, whose admin text says whether that server is
 *    the domain's MX (their configuration) or not (our routing). Every
 *    refusal counts toward alert.outbound-refusals (distinct domains
 *    within OutboundWindow);
 *  - a failed AUTH: an "auth" event (its "auth" member stays null: nobody
 *    logged in), noted for relay.auth-failed, and counted toward
 *    alert.auth-outage (distinct logins within OutageWindow);
 *  - a refused recipient (Sendmail's check_rcpt, Exim, or Postfix with
 *    LogRejects yes): one short session (front end "log") that the engine
 *    diagnoses as the milter would, one rcpt event. With a milter
 *    attached, the refusal is joined (by queue id) with what the milter
 *    saw of the transaction: HELO, listener, sender, TLS. The MTA may log
 *    the refusal before the milter has handled MAIL (it does not wait for
 *    a milter that answers no reply to MAIL), so a refusal with a queue id
 *    that finds nothing yet waits up to RD_LOGFRONT_JOIN_WAIT seconds in
 *    a small queue (rd_logwait), then goes out as it is: never lost, at
 *    worst unjoined.
 * Threads: safe from any thread; the services are shared and thread-safe.
 */
#ifndef RELAYDIAG_LOGFRONT_H
#define RELAYDIAG_LOGFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/config.h"
#include "relaydiag/dns.h"
#include "relaydiag/history.h"
#include "relaydiag/logline.h"
#include "relaydiag/recent.h"
#include "relaydiag/seen.h"
#include "relaydiag/sink.h"

/* What the log front end uses; all borrowed, each may be NULL but cfg. */
struct rd_logfront_services {
	const struct rd_config *cfg;
	struct rd_sink *sink;
	struct rd_history *history;
	struct rd_dns *dns;
	struct rd_recent *authfails; /* shared with the sessions */
	struct rd_recent *outbound;
	struct rd_seen *seen;    /* the milter's transactions, by queue id */
	struct rd_logwait *wait; /* refusals waiting for their join */
};

#define RD_LOGFRONT_JOIN_WAIT 2 /* seconds */

/* The refusals waiting for the milter's view; cap records at most (when
   full, the oldest goes out unjoined). */
struct rd_logwait *rd_logwait_new(size_t cap);
void rd_logwait_free(struct rd_logwait *w);

/*
 * rd_logfront_handle - the events r means (none for RD_LOG_OTHER, a
 * verification line, or a Postfix refusal without LogRejects). now: the
 * time the line was read (windows and alerts count from it).
 */
void rd_logfront_handle(const struct rd_logfront_services *sv,
    const struct rd_logrec *r, time_t now);

/*
 * rd_logfront_tick - the waiting refusals whose transaction the milter
 * has now noted, and those whose wait is over (all of them when flush:
 * at shutdown), into their events. Call it often (each poll).
 */
void rd_logfront_tick(
    const struct rd_logfront_services *sv, time_t now, bool flush);

#endif

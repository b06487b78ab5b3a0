/*
 * recent.h - what the log front end saw lately, kept for a while in this
 * process: a ring of (time, key, value). Two uses, one shape:
 *  - failed SMTP AUTH (the milter protocol has no AUTH event: they exist
 *    only in the MTA's log): key the client's address, value the login.
 *    A refused relay from a client that failed AUTH shortly before is
 *    relay.auth-failed; many distinct logins failing within OutageWindow
 *    is direct evidence of a broken authentication service
 *    (alert.auth-outage).
 *  - remote refusals of this server's mail: key and value the recipient's
 *    domain; many distinct domains within OutboundWindow is
 *    alert.outbound-refusals.
 * Owns struct rd_recent. Threads: every call is safe from any thread (one
 * mutex). Bounded: the oldest entry goes when the ring is full, so a count
 * of distinct values is a lower bound, said as such in the alert.
 */
#ifndef RELAYDIAG_RECENT_H
#define RELAYDIAG_RECENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RD_RECENT_VALUE_MAX 256

struct rd_recent;

/* rd_recent_new - a ring of cap entries; NULL: out of memory */
struct rd_recent *rd_recent_new(size_t cap);
void rd_recent_free(struct rd_recent *x); /* NULL: no-op */

/*
 * rd_recent_note - key (with value; "" when unknown) at now. Returns true
 * when this entry makes the distinct non-empty values within window reach
 * limit (then *distinct says how many): once, until window has passed
 * since that alert. limit 0, or above 256 (distinct values are counted
 * up to 256): never. A key or value too long for the ring is not noted.
 */
bool rd_recent_note(struct rd_recent *x, const char *key, const char *value,
    time_t now, unsigned window, unsigned limit, unsigned *distinct);

/*
 * rd_recent_alert_gate - the same once-per-window gate as rd_recent_note's
 * alert, for evidence that needs no count (an authentication service that
 * cannot be reached): true when no alert of this ring was given within
 * window of now (and now is the last alert).
 */
bool rd_recent_alert_gate(struct rd_recent *x, time_t now, unsigned window);

/*
 * rd_recent_find - whether key was noted within window of now; the value
 * of the latest entry into value (size RD_RECENT_VALUE_MAX). x may be
 * NULL: false.
 */
bool rd_recent_find(struct rd_recent *x, const char *key, time_t now,
    unsigned window, char value[RD_RECENT_VALUE_MAX]);

#endif

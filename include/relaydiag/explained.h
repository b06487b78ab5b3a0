/*
 * explained.h - the recipients another front end has already decided and
 * published, for a short while: one decision, one event.
 *
 * With the policy service (deployment 3) and the milter both attached,
 * Postfix asks the policy service about a recipient, refuses it with
 * relaydiag's text, and then hands the same refused recipient to the
 * milter (SMFIP_RCPT_REJ). The policy service notes what it published
 * here; the milter's session finds it and counts the recipient without a
 * second event, a second history record or a second alert. Keyed by the
 * client's address and port (the same in Postfix's policy attributes and
 * the milter's macros) and the recipient's address.
 * Owns struct rd_explained. Threads: every call is safe from any thread
 * (one mutex); bounded: the oldest entry goes when it is full, and an
 * entry is forgotten after RD_EXPLAINED_TTL seconds.
 */
#ifndef RELAYDIAG_EXPLAINED_H
#define RELAYDIAG_EXPLAINED_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/ids.h"

#define RD_EXPLAINED_TTL 120 /* s: an SMTP command timeout, and more */
#define RD_EXPLAINED_ID_MAX 48

struct rd_explained;

/* rd_explained_new - a table of at most cap entries; NULL: out of memory */
struct rd_explained *rd_explained_new(size_t cap);
void rd_explained_free(struct rd_explained *x); /* NULL: no-op */

/*
 * rd_explained_note - ip:port's recipient rcpt was published as event eid
 * with diagnosis id, at now. Values too long for the table are not noted
 * (the milter then publishes its own event: a duplicate, never a loss).
 */
void rd_explained_note(struct rd_explained *x, const char *ip, unsigned port,
    const char *rcpt, const char *id, const char *eid, time_t now);

/*
 * rd_explained_take - whether ip:port's recipient rcpt was noted within
 * RD_EXPLAINED_TTL of now; then its id and eid are copied out and the
 * entry is forgotten (taken once). x may be NULL: false.
 */
bool rd_explained_take(struct rd_explained *x, const char *ip, unsigned port,
    const char *rcpt, time_t now, char id[RD_EXPLAINED_ID_MAX],
    char eid[RD_EID_MAX]);

#endif

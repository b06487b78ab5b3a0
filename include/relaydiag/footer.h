/*
 * footer.h - smtpd_reject_footer_maps for deployment 1 (Postfix >= 3.4):
 * a help text under Postfix's own reject replies, so that a client reads
 * more than "Relay access denied", and the admin finds relaydiag's event
 * from $client_address and $localtime.
 * Owns the table of Postfix reject texts and their footers. A footer
 * speaks to every client that gets that text, logged in or not, so it
 * states what the server requires and never a cause (the truth rule: the
 * cause is in relaydiag's event, per recipient).
 * Threads: pure.
 */
#ifndef RELAYDIAG_FOOTER_H
#define RELAYDIAG_FOOTER_H

#include "relaydiag/buf.h"

/*
 * rd_footer_map - the whole regexp: table (comments, then one
 * "/regex/ template" line per reject text), appended to b
 */
void rd_footer_map(struct rd_buf *b);

#endif

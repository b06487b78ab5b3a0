/*
 * event_oracle.h - jansson's events, the byte-for-byte oracle of
 * lib/event.c (event_oracle.c).
 */
#ifndef RD_TEST_EVENT_ORACLE_H
#define RD_TEST_EVENT_ORACLE_H

#include "relaydiag/event.h"

char *oracle_event_rcpt_json(
    const struct rd_event_common *c, const struct rd_event_rcpt *r);
char *oracle_event_message_json(const struct rd_event_common *c,
    const struct rd_event_counts *n, const struct rd_diagnosis *worst);
char *oracle_event_session_json(
    const struct rd_event_common *c, const struct rd_event_counts *n);
char *oracle_event_alert_json(
    const struct rd_event_common *c, const struct rd_event_alert *a);
char *oracle_event_delivery_json(
    const struct rd_event_common *c, const struct rd_event_delivery *d);
char *oracle_event_auth_json(
    const struct rd_event_common *c, const struct rd_event_auth *a);

#endif

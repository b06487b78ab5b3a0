/*
 * ids.h - unique identifiers and time stamps for sessions and events.
 *
 * A session id is 16 characters of Crockford base32: the time in
 * milliseconds (8), then 40 random bits (8), so ids sort by time and
 * sessions in the same millisecond, on one MTA or on several sharing one
 * Redis, do not collide in practice; an event id is "<session>.<seq>".
 * Threads: safe (a generator per thread, no shared state).
 */
#ifndef RELAYDIAG_IDS_H
#define RELAYDIAG_IDS_H

#include <stddef.h>
#include <time.h>

#define RD_SID_LEN 16
#define RD_EID_MAX 32
#define RD_TS_MAX 32

/* rd_id_session - write a new session id (RD_SID_LEN chars + NUL) */
void rd_id_session(char out[RD_SID_LEN + 1]);

/* rd_id_event - "<sid>.<seq>" into out (RD_EID_MAX) */
void rd_id_event(char out[RD_EID_MAX], const char *sid, unsigned seq);

/* rd_time_rfc3339 - "2026-11-23T18:28:17.123Z" (UTC, milliseconds) */
void rd_time_rfc3339(char out[RD_TS_MAX], const struct timespec *ts);

/* rd_time_ms_between - milliseconds from a to b (b later) */
long long rd_time_ms_between(
    const struct timespec *a, const struct timespec *b);

#endif

/*
 * seen.h - what the milter saw of each transaction, by the MTA's queue
 * id, kept for a while: a line of the MTA's log that names that queue id
 * (Sendmail's check_rcpt refusal, which no milter sees) is joined with it,
 * so that the log front end judges the refusal with the HELO, the
 * listener, TLS and the login the milter saw, and gives it the same
 * relay.* ids Postfix users get.
 * Owns struct rd_seen. Threads: every call is safe from any thread (one
 * mutex); bounded (a ring: the oldest goes), an entry lives
 * RD_SEEN_TTL seconds.
 */
#ifndef RELAYDIAG_SEEN_H
#define RELAYDIAG_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define RD_SEEN_TTL 600

struct rd_seen_info {
	char client_ip[64];
	unsigned client_port;
	char client_name[256];
	char helo[256]; /* "": no HELO */
	char daemon_addr[64];
	unsigned daemon_port;
	char tls_version[32];
	char auth_user[256]; /* "": no login */
	char sender[520];
};

struct rd_seen;

struct rd_seen *rd_seen_new(size_t cap); /* NULL: out of memory */
void rd_seen_free(struct rd_seen *x);    /* NULL: no-op */

/* rd_seen_note - the transaction queue_id ("" : not noted) at now */
void rd_seen_note(struct rd_seen *x, const char *queue_id,
    const struct rd_seen_info *info, time_t now);

/*
 * rd_seen_find - what was noted for queue_id within RD_SEEN_TTL of now,
 * into *out; x may be NULL: false
 */
bool rd_seen_find(struct rd_seen *x, const char *queue_id, time_t now,
    struct rd_seen_info *out);

#endif

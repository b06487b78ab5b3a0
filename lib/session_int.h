/*
 * session_int.h - what a session's two files share: session.c (the
 * connection, the message, the events they share) and session_rcpt.c
 * (the pass per recipient). Private to lib/.
 */
#ifndef RELAYDIAG_SESSION_INT_H
#define RELAYDIAG_SESSION_INT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "relaydiag/addr.h"
#include "relaydiag/classify.h"
#include "relaydiag/event.h"
#include "relaydiag/log.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/reply.h"
#include "relaydiag/session.h"
#include "relaydiag/text.h"

#define SESS_IDS_MAX 32 /* distinct diagnosis ids kept per scope */

/* A set of distinct catalogue ids (pointers into the constant catalogue). */
struct sess_ids {
	const char *id[SESS_IDS_MAX];
	size_t n;
};

#define SESS_PENDING_MAX 4
struct sess_pending;

struct rd_session {
	const struct rd_config *cfg;
	struct rd_sink *sink;
	struct rd_history *history;     /* may be NULL */
	struct rd_dns *dns;             /* may be NULL */
	struct rd_explained *explained; /* may be NULL */
	struct rd_recent *authfails;    /* may be NULL */
	struct rd_seen *seen;           /* may be NULL */
	char daemon_addr[64];
	unsigned authfail_window;
	const char *front_end; /* "milter", "policy" */
	char sid[RD_SID_LEN + 1];
	unsigned seq;          /* event counter */
	struct timespec start; /* CLOCK_MONOTONIC */

	/* connection */
	char client_ip[64];
	unsigned client_port;
	char client_name[256];
	char daemon[128];
	unsigned daemon_port;
	char host[256];
	const struct rd_listener *lis; /* in cfg; NULL: the global keys */
	bool trusted;
	bool table_permits; /* the listener's client tables permit it */
	bool submission;
	bool tls_auth_only;
	char helo[256];
	bool has_helo;
	char tls_version[32];
	char tls_cipher[96];
	char tls_bits[8];

	/* transaction */
	bool in_tx;
	char queue_id[64];
	char auth_type[48];
	char auth_user[256];
	char sender[RD_ADDR_PATH_MAX + 3];
	char sender_domain[RD_ADDR_DOMAIN_MAX + 1];
	bool sender_local;
	unsigned tx_rcpts, tx_accepted, tx_rejected;
	struct sess_ids tx_ids;
	struct rd_diagnosis tx_worst; /* most severe of the message */
	bool has_worst;
	bool tx_header;       /* an accepted rcpt wants the header */
	unsigned own_headers; /* copies of our header seen */

	/* MTA-refused recipients not yet diagnosed (session_rcpt.c: the
	   MTA ignores the reply, so it gets it before the history's Redis
	   round trip), oldest first; each one allocation. */
	struct sess_pending *pend[SESS_PENDING_MAX];
	unsigned npend;

	/* session totals */
	unsigned accepted, rejected, messages;
	struct sess_ids ids;

	/* HashPersonalData: the key, and the pseudonyms of the transaction */
	unsigned cut; /* enum rd_cut: what was cut to fit, this session */
	bool hash;
	bool hash_keyed; /* false: RD_PSEUDO_NOKEY */
	struct rd_pseudo_key hash_key;
	char sender_h[RD_PSEUDO_LEN];
	char auth_user_h[RD_PSEUDO_LEN];
};

/* What an event shows of one recipient's facts under HashPersonalData. */
struct sess_hashed {
	struct rd_facts f;
	struct rd_mta_result mta;
	char rcpt[RD_PSEUDO_LEN];
	char failed_user[RD_PSEUDO_LEN];
};

/* session.c: what every event of the session shares */
void sess_ids_add(struct sess_ids *set, const char *id);
/* sess_copy - src (NULL: "") into dst; true when it was cut to fit */
bool sess_copy(char *dst, size_t len, const char *src);
const struct rd_facts *sess_event_facts(const struct rd_session *s,
    const struct rd_facts *f, struct sess_hashed *h);
void sess_common(struct rd_session *s, struct rd_event_common *c,
    const char *type, char eid[RD_EID_MAX], const struct timespec *now);
void sess_emit(struct rd_session *s, const char *type, char *json);

/* session_rcpt.c: the refused recipients left for later, now; every entry
   point but the next recipient's calls it first */
void sess_rcpt_flush(struct rd_session *s);

#endif

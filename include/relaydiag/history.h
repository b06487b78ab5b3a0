/*
 * history.h - what happened recently, across sessions and across MTAs:
 * authorized relays per sender, SASL logins per sender and client, refused
 * relay attempts per client; and the alerts they add up to.
 *
 * The shared store is Redis (keys with TTLs, so every MTA reporting to the
 * same Redis sees the others' history); a bounded in-process cache keeps
 * the diagnoses working on one host while Redis is unreachable, and answers
 * at once when Redis is slow (every Redis call has a deadline). Redis
 * failures are logged by state change through params->log, never per call.
 *
 * Only a refusal needs an answer from Redis, so only rd_history_refused
 * talks to Redis on the caller's thread. rd_history_note_authorized writes
 * the cache and queues the Redis write for one writer thread (as bio.c
 * does: a mutex, a condvar, a bounded ring), which sends everything queued
 * in one pipelined round trip. So a refusal that follows an authorization
 * by less than that round trip may not find it in Redis yet, on this MTA
 * as on any other (while Redis answers, refusals are answered from Redis).
 *
 * Threads: every function but rd_history_new and rd_history_free is safe
 * from any thread (session threads call them); none but rd_history_flush
 * and rd_history_free waits longer than timeout_ms. With redis_url set,
 * rd_history_new starts the writer thread with every signal blocked (the
 * daemon calls it after fork and the privilege drop: threads do not survive
 * a fork); rd_history_free stops it. The process must ignore SIGPIPE.
 */
#ifndef RELAYDIAG_HISTORY_H
#define RELAYDIAG_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/err.h"

/* Zero or NULL in a member means its default: timeout 50 ms, windows
   86400/600/900 s, 5 senders, 20 attempts, 10000 entries (at least 16),
   a write queue of 1024 (at least 4). */
struct rd_history_params {
	const char *redis_url;         /* NULL: the local cache only */
	const char *key_prefix;        /* default "relaydiag:h:" */
	unsigned timeout_ms;           /* per Redis call; default 50 */
	unsigned history_window;       /* s: authorized relays, logins */
	unsigned probe_window;         /* s: refused attempts per client */
	unsigned outage_window;        /* s: the auth-outage alert */
	unsigned outage_senders;       /* distinct senders for the alert */
	unsigned alert_probe_attempts; /* refusals per client for the alert */
	unsigned cache_size;           /* local entries at most */
	unsigned queue_size;           /* Redis writes waiting for the writer
					  thread at most (about 340 bytes each) */
	void (*log)(int prio, const char *msg); /* may be NULL;
	   called from session threads and from the writer
	   thread, no lock held */
};

/* What the history says about one refused (unauthorized) recipient. */
struct rd_history_facts {
	bool sender_authorized_elsewhere; /* sender relayed, authorized, from
					     another client address */
	char elsewhere_ip[64];            /* that address */
	bool sender_sasl_here;       /* sender logged in (SASL) from this client
					address */
	bool sender_authorized_ever; /* any authorized relay by this sender in
					the window */
	bool client_authorized_ever; /* any authorized relay from this client
					address */
	unsigned client_refused_domains;  /* distinct refused rcpt domains of
					     this client, this one included */
	unsigned client_refused_attempts; /* refused recipients of this client,
					     this one included */
	bool from_redis; /* false: answered from the local cache */
};

/* Alerts the last refusal completed (each raised once per window). */
struct rd_history_alerts {
	bool auth_outage;
	unsigned outage_senders;    /* distinct senders counted */
	char outage_sample[5][256]; /* some of them */
	unsigned outage_nsample;
	bool relay_probe;
	unsigned probe_attempts; /* refusals from the client counted */
};

/*
 * rd_history_new - a history on the local cache, and on Redis when
 * p->redis_url is set: then the writer thread runs from here on (no
 * connection is made yet; the first call makes it). NULL with err for a
 * bad URL or key prefix, or when memory or the thread is not to be had.
 */
struct rd_history *rd_history_new(
    const struct rd_history_params *p, struct rd_err *err);

/*
 * rd_history_free - send what the writer still has queued (waiting at
 * most about 4 x timeout_ms, plus one round trip in flight; what is left
 * then is dropped and counted), stop the writer thread and free h. Call
 * it once no other thread uses h. NULL: no-op.
 */
void rd_history_free(struct rd_history *h);

/*
 * rd_history_note_authorized - a relay by sender from client_ip was
 * authorized (sasl: by SMTP AUTH; else by trusted network). Also records
 * the login of a SASL user at this address. Writes the local cache now
 * and queues the Redis write for the writer thread; never waits for
 * Redis. When the queue is full (Redis slower than the writes for longer
 * than the queue lasts), the Redis write is dropped, counted
 * (rd_history_writes_dropped) and logged once per episode; the cache
 * still has it. While Redis is down, writes reach only the cache.
 */
void rd_history_note_authorized(struct rd_history *h, const char *sender,
    const char *client_ip, bool sasl, time_t now);

/*
 * rd_history_flush - wait until every Redis write queued before this call
 * has been answered by Redis or given up (Redis down, or dropped), or
 * until timeout_ms have passed. Returns whether they all were. true at
 * once without Redis. For tests (to read Redis after a write) and for a
 * clean stop; session threads have no reason to call it.
 */
bool rd_history_flush(struct rd_history *h, unsigned timeout_ms);

/*
 * rd_history_refused - an unauthorized relay from client_ip by sender to
 * rcpt_domain: answer what the history knew before it (facts), then record
 * it, and say which alerts it completed. sender may be "" (null sender).
 * Synchronous: the answer comes from Redis when it replies within
 * timeout_ms, measured from the call (waiting for a pooled connection,
 * connecting, every write and read, both round trips), else from the
 * cache (facts->from_redis false).
 */
void rd_history_refused(struct rd_history *h, const char *sender,
    const char *client_ip, const char *rcpt_domain, time_t now,
    struct rd_history_facts *facts, struct rd_history_alerts *alerts);

/* rd_history_redis_up - whether the last Redis call succeeded */
bool rd_history_redis_up(struct rd_history *h);
/* rd_history_uses_redis - whether h keeps its history in Redis too */
bool rd_history_uses_redis(const struct rd_history *h);

/* rd_history_cache_entries - local cache entries in use (keys + members) */
size_t rd_history_cache_entries(struct rd_history *h);

/*
 * rd_history_writes_dropped - Redis writes dropped so far because the
 * writer's queue was full (or still held writes when rd_history_free
 * gave up waiting); each is in the local cache only
 */
unsigned long long rd_history_writes_dropped(struct rd_history *h);

#endif

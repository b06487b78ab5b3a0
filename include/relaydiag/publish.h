/*
 * publish.h - the Redis event sink: a queue, one publisher thread that
 * owns the hiredis connection, and the spool for when Redis is away.
 *
 * Owns struct rd_redis_params and the Redis sink behind struct rd_sink
 * (sink.h); RedisURL's syntax and the connection's set-up are redis.h's.
 * Each event becomes
 *     XADD <stream> [MAXLEN ~ <maxlen>] * type <type> event <json>
 * sent in pipelined batches (events.md, "Transport").
 *
 * Never blocks a session: rd_sink_emit_take() puts the event in the
 * bounded queue (evqueue.h) and returns. When the queue is full the event
 * goes straight to the spool (spool.h), behind everything older, or is
 * dropped and counted when there is no spool.
 *
 * Redis down (connection refused, timeout, AUTH refused, an error reply):
 * the publisher logs the change once, appends events to the spool, and
 * reconnects with exponential backoff (100 ms doubling up to
 * backoff_max_ms). Back up: it replays the spool in order, and while the
 * spool holds anything, new events go through it too, so the order of the
 * events of one session always holds. Delivery is at least once: a batch
 * cut by a failure is spooled from the first command without a reply, and
 * consumers drop duplicates by the event's "id".
 *
 * Log lines (through params.log, from the publisher thread only; no
 * password, Redis's text sanitized):
 *     redis: connected to 127.0.0.1:6379, stream relaydiag:events
 *     redis: down: Connection refused; spooling
 *     redis: still down: WRONGPASS invalid username-password pair ...
 *     redis: up after 63 s; 1204 events replayed
 *     spool: full (SpoolMaxSize 268435456 bytes); dropping the oldest events
 *     spool: write error: No space left on device; dropping events
 * Threads: emit_take and stats from any thread; close once, after the last
 * emit_take.
 */
#ifndef RELAYDIAG_PUBLISH_H
#define RELAYDIAG_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relaydiag/err.h"
#include "relaydiag/redis.h"
#include "relaydiag/sink.h"
#include "relaydiag/spool.h"

#define RD_REDIS_DEFAULT_URL "redis://127.0.0.1:6379"
#define RD_REDIS_DEFAULT_STREAM "relaydiag:events"

/* Zero or NULL in any member means its default, given after it. */
struct rd_redis_params {
	const char *url;                   /* RD_REDIS_DEFAULT_URL; redis.h */
	const char *stream;                /* RD_REDIS_DEFAULT_STREAM */
	uint64_t maxlen;                   /* MAXLEN ~ n; 0: no trimming */
	unsigned connect_timeout_ms;       /* 1000 */
	unsigned command_timeout_ms;       /* 1000: a reply later than this
					      means Redis is down */
	unsigned backoff_max_ms;           /* 5000: longest reconnect delay */
	unsigned drain_timeout_ms;         /* 5000: how long close() keeps
					      sending before spooling the rest */
	size_t queue_size;                 /* 65536 events */
	size_t batch_size;                 /* 256 XADDs per pipeline */
	const char *spool_dir;             /* NULL: no spool; events are dropped
					      (and counted) while Redis is down */
	uint64_t spool_max_bytes;          /* 256 MiB */
	enum rd_spool_policy spool_policy; /* RD_SPOOL_DROP_OLDEST */
	/* State changes, one line each, prio as <syslog.h> LOG_*; NULL:
	   silent. Called from the publisher thread; must not call back. */
	void (*log)(int prio, const char *msg);
};

/*
 * rd_sink_redis_open - check the parameters, open the queue and the spool
 * and start the publisher thread, which connects on its own: Redis being
 * down is not an error here. The result is freed by rd_sink_close(), which
 * sends what is queued (within drain_timeout_ms) and spools the rest. NULL
 * with err for a bad URL or stream name, a spool that cannot be opened, or
 * no memory or thread.
 */
struct rd_sink *rd_sink_redis_open(
    const struct rd_redis_params *p, struct rd_err *err);

#endif

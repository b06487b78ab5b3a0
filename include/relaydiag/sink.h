/*
 * sink.h - where serialized events go: the interface every event sink
 * implements, and the JSON Lines file sink.
 *
 * A session thread serializes its event (event.c) and hands the string to
 * rd_sink_emit_take(). A sink never makes the caller wait on a slow
 * consumer for long: the file sink appends one line under a mutex; the Redis
 * sink (publish.c) queues and returns at once. Each sink owns its own
 * bookkeeping of what it could not deliver (counted, logged by state change).
 * Threads: every function may be called from any thread, except
 * rd_sink_close, which the daemon calls once when no session is left.
 */
#ifndef RELAYDIAG_SINK_H
#define RELAYDIAG_SINK_H

#include <stdint.h>

#include "relaydiag/err.h"

struct rd_sink;

struct rd_sink_stats {
	uint64_t emitted;   /* events handed in */
	uint64_t delivered; /* written to the file / accepted by Redis */
	uint64_t spooled;   /* written to the spool (Redis sink) */
	uint64_t dropped;   /* lost, by policy or by error */
	/* Redis sink only (0 elsewhere): */
	uint64_t replayed;      /* sent from the spool after an outage */
	uint64_t queue_depth;   /* events waiting in memory */
	uint64_t spool_pending; /* records in the spool, not yet sent */
	uint64_t spool_bytes;   /* the spool's segments on disk */
	int redis_up;           /* 1 up, 0 down; -1: not a Redis sink */
};

struct rd_sink_ops {
	int (*emit_take)(struct rd_sink *sk, const char *type, char *json);
	void (*stats)(struct rd_sink *sk, struct rd_sink_stats *out);
	void (*close)(struct rd_sink *sk); /* flush and free */
	/* optional (NULL: nothing to reopen); see rd_sink_reopen */
	int (*reopen)(struct rd_sink *sk, struct rd_err *err);
};

/* Every sink starts with this; implementations embed it first. */
struct rd_sink {
	const struct rd_sink_ops *ops;
};

/*
 * rd_sink_file_open - a JSON Lines sink: one event object per line,
 * appended to path (created 0640), or stdout when path is "-". NULL with err
 * when the file cannot be opened.
 */
struct rd_sink *rd_sink_file_open(const char *path, struct rd_err *err);

/*
 * rd_sink_emit_take - hand one event to the sink. type is the event type
 * ("rcpt", "message", "session", "alert"); json is a malloc'ed,
 * NUL-terminated JSON object without newline, which the sink owns from now on
 * (freed by it whatever happens). Returns 0 when accepted, -1 when the event
 * was dropped (already counted by the sink). sk NULL: json freed, -1.
 */
int rd_sink_emit_take(struct rd_sink *sk, const char *type, char *json);

void rd_sink_stats(struct rd_sink *sk, struct rd_sink_stats *out);

/*
 * rd_sink_reopen - after log rotation (SIGUSR1): the file sink opens its
 * path again and writes there from the next event on; on failure it keeps
 * writing to the file it had, and says why in err. Sinks without a file
 * (stdout, Redis) return 0. sk NULL: 0.
 */
int rd_sink_reopen(struct rd_sink *sk, struct rd_err *err);

/* rd_sink_close - flush what is queued, release everything; NULL: no-op */
void rd_sink_close(struct rd_sink *sk);

#endif

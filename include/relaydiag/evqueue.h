/*
 * evqueue.h - the bounded queue that carries serialized events from the
 * session threads to the one publisher thread.
 *
 * Owns struct rd_evqueue and struct rd_evqueue_item. Many producers, one
 * consumer (MPSC): a mutex and a condition variable around a ring of
 * items, as in Redis's bio.c. What to do with an event that does not fit
 * is the caller's decision (publish.c spools or drops it): a put never
 * waits.
 * Threads: every function may be called from any thread, except
 * rd_evqueue_free, called once no other thread uses the queue.
 * Memory: a queued item owns its json (malloc'ed); rd_evqueue_get hands
 * that ownership to the caller.
 */
#ifndef RELAYDIAG_EVQUEUE_H
#define RELAYDIAG_EVQUEUE_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/err.h"

/* Longest event type, with its NUL ("session" is 8). */
#define RD_EVQUEUE_TYPE_MAX 32

struct rd_evqueue;

struct rd_evqueue_item {
	char type[RD_EVQUEUE_TYPE_MAX]; /* "rcpt", "message", ... */
	char *json;                     /* malloc'ed, NUL-terminated */
	size_t len;                     /* strlen(json) */
};

/*
 * rd_evqueue_new - an empty queue of at most capacity items (> 0). NULL
 * with err when capacity is 0 or memory is short.
 */
struct rd_evqueue *rd_evqueue_new(size_t capacity, struct rd_err *err);

/*
 * rd_evqueue_free - free the queue and every item still in it; NULL is a
 * no-op.
 */
void rd_evqueue_free(struct rd_evqueue *q);

/*
 * rd_evqueue_put_take - append one event; never waits for room.
 * 0: queued, and the queue owns json from now on. -1: not queued, and the
 * caller still owns json; errno is ENOBUFS (full), EPIPE (closed) or
 * EINVAL (type NULL, empty or not shorter than RD_EVQUEUE_TYPE_MAX; json
 * NULL).
 */
int rd_evqueue_put_take(struct rd_evqueue *q, const char *type, char *json);

/*
 * rd_evqueue_get - take up to max items, oldest first, into out[]. When
 * the queue is empty, wait up to timeout_ms (0: don't wait, < 0: until an
 * item arrives or the queue is closed). Returns the number taken (0 on
 * timeout, or when the queue is closed and empty); the caller owns each
 * out[i].json and frees it.
 */
size_t rd_evqueue_get(struct rd_evqueue *q, struct rd_evqueue_item *out,
    size_t max, int timeout_ms);

/*
 * rd_evqueue_wait - wait up to timeout_ms (< 0: no limit) until the queue
 * is not empty or is closed, without taking anything. Returns whether it
 * holds items. The publisher uses it to sleep between reconnection
 * attempts and still wake up for new events and for close.
 */
bool rd_evqueue_wait(struct rd_evqueue *q, int timeout_ms);

/*
 * rd_evqueue_close - refuse every later put and wake every waiter; items
 * already queued can still be taken. Idempotent.
 */
void rd_evqueue_close(struct rd_evqueue *q);

/* rd_evqueue_len - items queued now (a snapshot) */
size_t rd_evqueue_len(struct rd_evqueue *q);

#endif

/*
 * evqueue.c - the bounded queue from the session threads to the publisher.
 *
 * Owns struct rd_evqueue: a ring of items guarded by one mutex, and one
 * condition variable (on CLOCK_MONOTONIC, so that a clock step cannot
 * stretch a timed wait) that the single consumer sleeps on, as in Redis's
 * bio.c. What happens to an event that does not fit is publish.c's
 * decision.
 * Threads: see evqueue.h. The lock is held only to copy an item in or out;
 * nothing is allocated or freed under it.
 * Memory: the ring is allocated once by rd_evqueue_new.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relaydiag/evqueue.h"

struct rd_evqueue {
	pthread_mutex_t lock;
	pthread_cond_t nonempty; /* signalled on put and close */
	struct rd_evqueue_item *ring;
	size_t cap;
	size_t head; /* oldest item */
	size_t len;
	bool closed;
};

struct rd_evqueue *
rd_evqueue_new(size_t capacity, struct rd_err *err)
{
	struct rd_evqueue *q;
	pthread_condattr_t ca;

	if (capacity == 0) {
		rd_err_set(
		    err, "evqueue", 0, "queue capacity must be at least 1");
		return (NULL);
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->ring = calloc(capacity, sizeof(*q->ring))) == NULL) {
		free(q);
		rd_err_set(err, "evqueue", 0,
		    "out of memory for a queue of %zu events", capacity);
		return (NULL);
	}
	q->cap = capacity;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->nonempty, &ca);
	pthread_condattr_destroy(&ca);
	return (q);
}

void
rd_evqueue_free(struct rd_evqueue *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->len; i++)
		free(q->ring[(q->head + i) % q->cap].json);
	pthread_cond_destroy(&q->nonempty);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}

int
rd_evqueue_put_take(struct rd_evqueue *q, const char *type, char *json)
{
	struct rd_evqueue_item *it;
	size_t tlen, jlen;

	if (type == NULL || json == NULL || (tlen = strlen(type)) == 0 ||
	    tlen >= RD_EVQUEUE_TYPE_MAX) {
		errno = EINVAL;
		return (-1);
	}
	jlen = strlen(json); /* outside the lock */
	pthread_mutex_lock(&q->lock);
	if (q->closed || q->len == q->cap) {
		errno = q->closed ? EPIPE : ENOBUFS;
		pthread_mutex_unlock(&q->lock);
		return (-1);
	}
	it = &q->ring[(q->head + q->len) % q->cap];
	memcpy(it->type, type, tlen + 1);
	it->json = json;
	it->len = jlen;
	if (q->len++ == 0)
		pthread_cond_signal(&q->nonempty); /* one consumer */
	pthread_mutex_unlock(&q->lock);
	return (0);
}

/* evqueue_deadline - CLOCK_MONOTONIC now + ms */
static struct timespec
evqueue_deadline(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

/* evqueue_wait_locked - wait for an item or close; lock held */
static void
evqueue_wait_locked(struct rd_evqueue *q, int timeout_ms)
{
	struct timespec dl;

	if (timeout_ms == 0)
		return;
	if (timeout_ms < 0) {
		while (q->len == 0 && !q->closed)
			pthread_cond_wait(&q->nonempty, &q->lock);
		return;
	}
	dl = evqueue_deadline(timeout_ms);
	while (q->len == 0 && !q->closed)
		if (pthread_cond_timedwait(&q->nonempty, &q->lock, &dl) ==
		    ETIMEDOUT)
			break;
}

size_t
rd_evqueue_get(struct rd_evqueue *q, struct rd_evqueue_item *out, size_t max,
    int timeout_ms)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	evqueue_wait_locked(q, timeout_ms);
	for (n = 0; n < max && q->len > 0; n++) {
		out[n] = q->ring[q->head];
		q->ring[q->head].json = NULL;
		q->head = (q->head + 1) % q->cap;
		q->len--;
	}
	pthread_mutex_unlock(&q->lock);
	return (n);
}

bool
rd_evqueue_wait(struct rd_evqueue *q, int timeout_ms)
{
	bool nonempty;

	pthread_mutex_lock(&q->lock);
	evqueue_wait_locked(q, timeout_ms);
	nonempty = q->len > 0;
	pthread_mutex_unlock(&q->lock);
	return (nonempty);
}

void
rd_evqueue_close(struct rd_evqueue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->nonempty);
	pthread_mutex_unlock(&q->lock);
}

size_t
rd_evqueue_len(struct rd_evqueue *q)
{
	size_t n;

	pthread_mutex_lock(&q->lock);
	n = q->len;
	pthread_mutex_unlock(&q->lock);
	return (n);
}

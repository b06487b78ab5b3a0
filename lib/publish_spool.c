/*
 * publish_spool.c - the Redis sink's way into its spool: events that
 * cannot go to Redis now go to the spool (or, without one, are dropped
 * and counted), always behind the ones older than them (publish.c,
 * "Order"). Reading the spool back is the publisher's (publish.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "relaydiag/event.h"
#include "relaydiag/evqueue.h"
#include "relaydiag/publish.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"
#include "publish_int.h"
/*
 * Moving events to the spool. Every function named *_locked runs with
 * s->order held.
 */

/* pub_spool_one_locked - spool (or, without a spool, drop) one event */
static void
pub_spool_one_locked(struct redis_sink *s, const struct rd_evqueue_item *it)
{
	if (s->sp == NULL ||
	    rd_spool_append(s->sp, it->type, it->json, it->len) != 0) {
		if (s->sp == NULL || errno == EINVAL)
			atomic_fetch_add_explicit(
			    &s->dropped, 1, memory_order_relaxed);
		/* else counted by the spool */
	}
}

/* pub_spool_inflight_locked - spool the batch in flight, once */
void
pub_spool_inflight_locked(struct redis_sink *s, size_t from)
{
	size_t i;

	if (s->inflight == NULL || s->inflight_spooled)
		return;
	for (i = from; i < s->ninflight; i++)
		pub_spool_one_locked(s, &s->inflight[i]);
	s->inflight_spooled = true;
}

/* pub_queue_to_spool_locked - move everything queued into the spool */
static void
pub_queue_to_spool_locked(struct redis_sink *s)
{
	struct rd_evqueue_item tmp[32];
	size_t n, i;

	while ((n = rd_evqueue_get(s->q, tmp, 32, 0)) > 0)
		for (i = 0; i < n; i++) {
			pub_spool_one_locked(s, &tmp[i]);
			free(tmp[i].json);
		}
}

void
pub_queue_to_spool(struct redis_sink *s)
{
	pthread_mutex_lock(&s->order);
	pub_queue_to_spool_locked(s);
	pthread_mutex_unlock(&s->order);
	if (s->sp != NULL)
		rd_spool_sync(s->sp);
}

/*
 * emit_take when the queue is full: spool the event behind everything
 * older (the batch in flight, then the queue), or drop it.
 */
int
pub_overflow(struct redis_sink *s, const char *type, char *json)
{
	struct rd_evqueue_item it;
	int r = 0;

	if (s->sp == NULL) {
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		free(json);
		return (-1);
	}
	if (rd_strlcpy(it.type, type, sizeof(it.type)) >= sizeof(it.type)) {
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		free(json);
		return (-1);
	}
	it.json = json;
	it.len = strlen(json);
	pthread_mutex_lock(&s->order);
	pub_spool_inflight_locked(s, 0);
	pub_queue_to_spool_locked(s);
	if (rd_spool_append(s->sp, it.type, it.json, it.len) != 0)
		r = -1; /* counted by the spool */
	pthread_mutex_unlock(&s->order);
	free(json);
	return (r);
}

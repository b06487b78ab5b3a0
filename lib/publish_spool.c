/*
 * publish_spool.c - the Redis sink and its spool: events that cannot go
 * to Redis now go to the spool (or, without one, are dropped and
 * counted); after an outage the spool is replayed, each record checked
 * first; the spool's counters become log lines on each change.
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

static const char *
pub_rec_type(void *v, size_t i)
{
	return (((struct rd_spool_rec *)v)[i].type);
}

static const char *
pub_rec_json(void *v, size_t i, size_t *len)
{
	*len = ((struct rd_spool_rec *)v)[i].len;
	return (((struct rd_spool_rec *)v)[i].json);
}

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

/*
 * pub_replay_check - keep the records of a spool batch that are events of
 * ours (rd_event_check: the spool directory is another trust boundary);
 * the others are freed and logged. The kept ones move to the front, in
 * order: orig[k] is the batch index of the k-th kept, orig_bad[] the
 * indexes refused (PUB_REC_UNSET after the last). Returns how many kept.
 */
static size_t
pub_replay_check(struct redis_sink *s, size_t n)
{
	char why[96];
	size_t i, nv = 0, nb = 0;

	for (i = 0; i < n; i++) {
		if (rd_event_check(s->recs[i].type, s->recs[i].json,
			s->recs[i].len, why, sizeof(why)) != 0) {
			if (!s->refused_logged)
				pub_log(s, LOG_WARNING,
				    "spool: refused a "
				    "record that is not a relaydiag event "
				    "(%s); not sent to Redis (each one is "
				    "counted when the replay ends)",
				    why);
			s->refused_logged = true;
			free(s->recs[i].json);
			s->orig_bad[nb++] = i;
			continue;
		}
		s->orig[nv] = i;
		if (nv != i)
			s->recs[nv] = s->recs[i];
		nv++;
	}
	if (nb < n)
		s->orig_bad[nb] = PUB_REC_UNSET;
	return (nv);
}

/* pub_replay - send one batch from the spool; acknowledge what went */
void
pub_replay(struct redis_sink *s)
{
	char why[PUB_ERR_MAX];
	size_t n, nv, ok, acked, i;

	n = rd_spool_read(s->sp, s->recs, s->batch);
	if (n == 0)
		return;
	nv = pub_replay_check(s, n);
	ok = pub_send(
	    s, nv, pub_rec_type, pub_rec_json, s->recs, why, sizeof(why));
	/* Acknowledge up to the first valid record not sent (all of the
	   batch, the refused records with it, when every one went). */
	acked = ok == nv ? n : s->orig[ok];
	for (i = 0; i < n && s->orig_bad[i] != PUB_REC_UNSET; i++)
		if (s->orig_bad[i] < acked)
			s->refused++;
	rd_spool_ack(s->sp, acked);
	for (i = 0; i < nv; i++)
		free(s->recs[i].json);
	s->replayed += ok;
	if (ok < nv)
		pub_down(s, why);
}

/* pub_watch_spool - log changes in the spool's drop counters */
void
pub_watch_spool(struct redis_sink *s)
{
	struct rd_spool_stats now;
	char ebuf[128];

	if (s->sp == NULL)
		return;
	rd_spool_stats(s->sp, &now);
	if (now.dropped_oldest + now.dropped_newest >
		s->seen.dropped_oldest + s->seen.dropped_newest &&
	    !s->spool_full_logged) {
		pub_log(s, LOG_WARNING,
		    "spool: full (SpoolMaxSize %" PRIu64
		    " bytes); dropping the %s events",
		    s->spool_max,
		    now.dropped_newest > s->seen.dropped_newest ? "newest"
								: "oldest");
		s->spool_full_logged = true;
	} else if (s->spool_full_logged && now.pending == 0) {
		pub_log(s, LOG_NOTICE,
		    "spool: empty again; %" PRIu64 " events "
		    "were dropped while it was full",
		    now.dropped_oldest + now.dropped_newest);
		s->spool_full_logged = false;
	}
	if (now.dropped_io > s->seen.dropped_io && !s->spool_io_logged) {
		pub_log(s, LOG_ERR, "spool: write error: %s; dropping events",
		    strerror_r(now.last_errno, ebuf, sizeof(ebuf)));
		s->spool_io_logged = true;
	} else if (s->spool_io_logged && now.dropped_io == s->seen.dropped_io &&
		   now.appended > s->seen.appended) {
		pub_log(s, LOG_NOTICE,
		    "spool: writing again; %" PRIu64
		    " events lost to write errors so far",
		    now.dropped_io);
		s->spool_io_logged = false;
	}
	if (now.corrupt > s->seen.corrupt)
		pub_log(s, LOG_WARNING,
		    "spool: skipped %" PRIu64 " damaged "
		    "record(s) (torn by a crash, or a disk error)",
		    now.corrupt - s->seen.corrupt);
	s->seen = now;
}

/* pub_refused_done - the spool is empty: how many records were refused */
void
pub_refused_done(struct redis_sink *s)
{
	if (s->refused > 0)
		pub_log(s, LOG_WARNING,
		    "spool: %" PRIu64 " record(s) refused: "
		    "not relaydiag events",
		    s->refused);
	s->refused = 0;
	s->refused_logged = false;
}

/* pub_replay_done - the spool is empty again after an outage */
void
pub_replay_done(struct redis_sink *s)
{
	s->replaying = false;
	pub_log(s, LOG_NOTICE,
	    "redis: up after %" PRId64 " s; %" PRIu64 " events replayed",
	    rd_redis_health_down_s(&s->health, pub_now_ms()), s->replayed);
	pub_refused_done(s);
}

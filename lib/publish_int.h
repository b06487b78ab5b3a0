/*
 * publish_int.h - what the Redis sink's two files share: publish.c (the
 * publisher thread, Redis up or down, the sink interface) and
 * publish_spool.c (into the spool, behind what is older). Private to lib/.
 */
#ifndef RELAYDIAG_PUBLISH_INT_H
#define RELAYDIAG_PUBLISH_INT_H

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

#define PUB_CONNECT_MS 1000

#define PUB_COMMAND_MS 1000

#define PUB_BACKOFF_MIN_MS 100

#define PUB_BACKOFF_MAX_MS 5000

#define PUB_DRAIN_MS 5000

#define PUB_QUEUE 65536

#define PUB_BATCH 256

#define PUB_SPOOL_MAX (256ull << 20)

#define PUB_IDLE_MS 250 /* publisher's longest sleep */
/*
 * Woken with less than a quarter batch queued, the publisher lingers this
 * long before it takes: the events of a busy second then share one XADD
 * pipeline and one wake-up instead of one each (bench/profile.sh: the
 * publisher thread's CPU per session). An event reaches Redis at most
 * this much later.
 */
#define PUB_LINGER_US 1000

#define PUB_ERR_MAX 256

#define PUB_XADD_ARGS 10

struct redis_sink {
	struct rd_sink base; /* first: rd_sink * <-> redis_sink * */
	struct rd_redis_url url;
	char *stream;
	char maxlen[24]; /* decimal; "" : no trimming */
	unsigned connect_ms;
	unsigned command_ms;
	unsigned drain_ms;
	size_t batch;
	uint64_t spool_max;
	void (*log)(int, const char *);

	struct rd_evqueue *q;
	struct rd_spool *sp; /* NULL: no spool */
	pthread_t thread;
	atomic_bool stop;
	_Atomic int64_t drain_until_ms; /* set by close before stop */

	pthread_mutex_t order;            /* see the file comment */
	struct rd_evqueue_item *inflight; /* order: batch being sent */
	size_t ninflight;                 /* order */
	bool inflight_spooled;            /* order: a session spooled it */

	_Atomic uint64_t emitted;
	_Atomic uint64_t delivered;
	_Atomic uint64_t dropped;        /* besides what the spool counts */
	_Atomic uint64_t replayed_total; /* since start, for the metrics */
	atomic_int up;                   /* the publisher's view: 1 up */

	/* publisher */
	redisContext *ctx;
	struct rd_redis_health health; /* up, down, when to retry */
	bool replaying;                /* up again, spool not yet empty */
	uint64_t replayed;
	char last_err[PUB_ERR_MAX]; /* sanitized */
	struct rd_spool_stats seen; /* spool counters last looked at */
	bool spool_full_logged;
	bool spool_io_logged;
	struct rd_evqueue_item *items; /* batch buffer, batch entries */
	struct rd_spool_rec *recs;     /* batch buffer, batch entries */
	size_t *orig, *orig_bad;       /* pub_replay_check, batch entries */
	uint64_t refused;              /* spool records not ours, dropped */
	bool refused_logged;           /* since the last replay ended */
};

#define PUB_REC_UNSET ((size_t)-1)

/* publish_spool.c: to the spool, behind what is older */
void pub_spool_inflight_locked(struct redis_sink *s, size_t from);
void pub_queue_to_spool(struct redis_sink *s);
int pub_overflow(struct redis_sink *s, const char *type, char *json);

#endif

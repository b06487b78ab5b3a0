/*
 * publish.c - the Redis sink: the publisher thread, sole owner of the
 * hiredis context, fed by evqueue.c and falling back on spool.c.
 *
 * Owns struct redis_sink (behind struct rd_sink). The contract is in
 * publish.h; the event transport in events.md; RedisURL parsing and the
 * connection's set-up (AUTH, SELECT) in redis.c.
 *
 * Order. Events reach Redis in the order they were queued, across
 * failures, because an event only ever goes behind the ones older than it:
 *   - while the spool holds anything, queued events are appended to it and
 *     Redis gets them from there (the publisher replays it in order);
 *   - a batch cut short by a failure is spooled (its undelivered tail)
 *     before anything newer can be;
 *   - an event that finds the queue full is spooled by its session thread,
 *     but only after that thread has spooled what is older: the batch the
 *     publisher has in flight, then the whole queue.
 * The mutex "order" serializes these moves; the publisher takes it only to
 * take a batch from the queue or to spool, never while talking to Redis. A
 * batch in flight that a session thread spooled may also reach Redis: the
 * spool then replays it a second time (at least once; consumers dedupe by
 * "id").
 * Threads: one publisher thread; it alone touches ctx and the fields
 * marked "publisher" below. Counters are atomics.
 * Memory: the batch buffers are allocated at open; each event's json is
 * freed by whoever holds it last (publisher, spooler or dropper).
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

static void pub_log(struct redis_sink *s, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* pub_now_ms - CLOCK_MONOTONIC in milliseconds */
static int64_t
pub_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* pub_log - one state-change line to the daemon's log callback */
static void
pub_log(struct redis_sink *s, int prio, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	if (s->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->log(prio, msg);
}

/* pub_where - "host:port" or "unix:path", for log lines */
static const char *
pub_where(const struct redis_sink *s, char *buf, size_t len)
{
	if (s->url.is_unix)
		snprintf(buf, len, "unix:%s", s->url.path);
	else if (strchr(s->url.host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", s->url.host, s->url.port);
	else
		snprintf(buf, len, "%s:%u", s->url.host, s->url.port);
	return (buf);
}

/*
 * The publisher's side of Redis.
 */

/* pub_disconnect - drop the connection (no logging) */
static void
pub_disconnect(struct redis_sink *s)
{
	if (s->ctx != NULL) {
		redisFree(s->ctx);
		s->ctx = NULL;
	}
}

/*
 * pub_down - the connection failed (or could not be made): schedule the
 * next attempt, log when the state or the reason changed.
 */
static void
pub_down(struct redis_sink *s, const char *why)
{
	int64_t now = pub_now_ms();
	const char *what =
	    s->sp != NULL ? "spooling" : "dropping events (no SpoolDir)";

	pub_disconnect(s);
	atomic_store_explicit(&s->up, 0, memory_order_relaxed);
	s->replaying = false;
	if (rd_redis_health_failed(&s->health, now, true) != RD_REDIS_DOWN)
		pub_log(s, LOG_ERR, "redis: down: %s; %s", why, what);
	else if (strcmp(s->last_err, why) != 0)
		pub_log(s, LOG_ERR, "redis: still down: %s", why);
	/* why is already sanitized and cut to PUB_ERR_MAX. */
	(void)rd_strlcpy(s->last_err, why, sizeof(s->last_err));
}

/*
 * pub_connect - connect, AUTH and SELECT; on failure, pub_down. The first
 * connection of all is logged as such. After an outage a connection is
 * not Redis being up: a Redis that accepts and never answers, or answers
 * every XADD with an error (OOM, WRONGTYPE), is still down; pub_answered
 * decides.
 */
static void
pub_connect(struct redis_sink *s)
{
	char where[300];
	struct rd_err err;
	redisContext *c;

	if ((c = rd_redis_connect(
		 &s->url, s->connect_ms, s->command_ms, &err)) == NULL) {
		pub_down(s, err.text);
		return;
	}
	s->ctx = c;
	if (s->health.state != RD_REDIS_INIT)
		return;
	if (s->sp != NULL && rd_spool_pending(s->sp) > 0)
		pub_log(s, LOG_INFO,
		    "redis: connected to %s, stream %s; "
		    "replaying %" PRIu64 " spooled events",
		    pub_where(s, where, sizeof(where)), s->stream,
		    rd_spool_pending(s->sp));
	else
		pub_log(s, LOG_INFO, "redis: connected to %s, stream %s",
		    pub_where(s, where, sizeof(where)), s->stream);
	(void)rd_redis_health_answered(&s->health);
	atomic_store_explicit(&s->up, 1, memory_order_relaxed);
}

/*
 * pub_answered - Redis accepted an XADD: it is up. A change of state is
 * logged once, with the true length of the outage (from the first
 * failure, whatever connections came and went since).
 */
static void
pub_answered(struct redis_sink *s)
{
	atomic_store_explicit(&s->up, 1, memory_order_relaxed);
	if (rd_redis_health_answered(&s->health) != RD_REDIS_DOWN)
		return;
	s->last_err[0] = '\0';
	if (s->sp != NULL) {
		s->replaying = true; /* logged when the spool is empty */
		s->replayed = 0;
	} else
		pub_log(s, LOG_NOTICE, "redis: up after %" PRId64 " s",
		    rd_redis_health_down_s(&s->health, pub_now_ms()));
}

/*
 * pub_send - pipeline one XADD per event, then read the replies. Returns
 * how many were accepted, in order; fewer than n means the connection is
 * to be given up, and why says why.
 */
static size_t
pub_send(struct redis_sink *s, size_t n, const char *(*type)(void *, size_t),
    const char *(*json)(void *, size_t, size_t *), void *v, char *why,
    size_t whylen)
{
	const char *argv[PUB_XADD_ARGS] = {NULL};
	size_t argvlen[PUB_XADD_ARGS], i, ok;
	redisReply *r;
	int argc = 0, t;

	argv[argc++] = "XADD";
	argv[argc++] = s->stream;
	if (s->maxlen[0] != '\0') {
		argv[argc++] = "MAXLEN";
		argv[argc++] = "~";
		argv[argc++] = s->maxlen;
	}
	argv[argc++] = "*";
	argv[argc++] = "type";
	t = argc++;
	argv[argc++] = "event";
	argc++;
	for (i = 0; i < (size_t)argc; i++)
		argvlen[i] = argv[i] != NULL ? strlen(argv[i]) : 0;
	for (i = 0; i < n; i++) {
		argv[t] = type(v, i);
		argvlen[t] = strlen(argv[t]);
		argv[t + 2] = json(v, i, &argvlen[t + 2]);
		if (redisAppendCommandArgv(s->ctx, argc, argv, argvlen) !=
		    REDIS_OK) {
			(void)rd_strlcpy(why, "out of memory", whylen);
			return (0);
		}
	}
	for (ok = 0; ok < n; ok++) {
		if (redisGetReply(s->ctx, (void **)&r) != REDIS_OK ||
		    r == NULL) {
			rd_redis_ctx_error(
			    s->ctx, errno, s->command_ms, why, whylen);
			break;
		}
		if (r->type == REDIS_REPLY_ERROR) {
			rd_redis_error_text(
			    why, whylen, "XADD refused: ", r->str);
			freeReplyObject(r);
			break;
		}
		freeReplyObject(r);
	}
	if (ok > 0)
		pub_answered(s);
	atomic_fetch_add_explicit(&s->delivered, ok, memory_order_relaxed);
	return (ok);
}

static const char *
pub_item_type(void *v, size_t i)
{
	return (((struct rd_evqueue_item *)v)[i].type);
}

static const char *
pub_item_json(void *v, size_t i, size_t *len)
{
	*len = ((struct rd_evqueue_item *)v)[i].len;
	return (((struct rd_evqueue_item *)v)[i].json);
}

/*
 * The publisher thread.
 */

/* pub_take - a batch from the queue into s->inflight, unless the spool
   holds anything (then its turn comes first); the count */
static size_t
pub_take(struct redis_sink *s, int wait_ms)
{
	size_t n = 0;

	if (!rd_evqueue_wait(s->q, wait_ms))
		return (0);
	if (wait_ms > 0 && rd_evqueue_len(s->q) < s->batch / 4) {
		struct timespec linger = {0, PUB_LINGER_US * 1000L};

		(void)nanosleep(&linger, NULL);
	}
	pthread_mutex_lock(&s->order);
	if (s->sp == NULL || rd_spool_pending(s->sp) == 0) {
		n = rd_evqueue_get(s->q, s->items, s->batch, 0);
		s->inflight = s->items;
		s->ninflight = n;
		s->inflight_spooled = false;
	}
	pthread_mutex_unlock(&s->order);
	return (n);
}

/* pub_send_inflight - send the batch taken; spool what did not go */
static void
pub_send_inflight(struct redis_sink *s)
{
	char why[PUB_ERR_MAX];
	size_t n = s->ninflight, ok, i;

	ok = pub_send(
	    s, n, pub_item_type, pub_item_json, s->items, why, sizeof(why));
	pthread_mutex_lock(&s->order);
	if (ok < n)
		pub_spool_inflight_locked(s, ok);
	s->inflight = NULL;
	s->ninflight = 0;
	s->inflight_spooled = false;
	pthread_mutex_unlock(&s->order);
	for (i = 0; i < n; i++)
		free(s->items[i].json);
	if (ok < n) {
		if (s->sp != NULL)
			rd_spool_sync(s->sp);
		pub_down(s, why);
	}
}

/* pub_drained - whether close()'s time for sending is over */
static bool
pub_drained(struct redis_sink *s)
{
	return (atomic_load(&s->stop) &&
		pub_now_ms() >= atomic_load(&s->drain_until_ms));
}

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
static void
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
	atomic_fetch_add_explicit(&s->replayed_total, ok, memory_order_relaxed);
	if (ok < nv)
		pub_down(s, why);
}

/* pub_watch_spool - log changes in the spool's drop counters */
static void
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
static void
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
static void
pub_replay_done(struct redis_sink *s)
{
	s->replaying = false;
	pub_log(s, LOG_NOTICE,
	    "redis: up after %" PRId64 " s; %" PRIu64 " events replayed",
	    rd_redis_health_down_s(&s->health, pub_now_ms()), s->replayed);
	pub_refused_done(s);
}

static void *
pub_main(void *arg)
{
	struct redis_sink *s = arg;
	int64_t wait;
	bool stopping;

	for (;;) {
		stopping = atomic_load(&s->stop);
		if (s->ctx == NULL &&
		    (s->health.state == RD_REDIS_INIT ||
			(!stopping && pub_now_ms() >= s->health.retry_at_ms)))
			pub_connect(s);
		if (s->ctx != NULL) {
			if (s->sp != NULL && rd_spool_pending(s->sp) > 0) {
				/* Replay, new events queued behind. */
				pub_queue_to_spool(s);
				pub_replay(s);
			} else {
				if (s->replaying)
					pub_replay_done(s);
				else if (s->refused_logged)
					pub_refused_done(s);
				if (pub_take(s, stopping ? 0 : PUB_IDLE_MS) > 0)
					pub_send_inflight(s);
				else if (stopping &&
					 rd_evqueue_len(s->q) == 0 &&
					 (s->sp == NULL ||
					     rd_spool_pending(s->sp) == 0))
					break;
			}
			if (pub_drained(s))
				break;
		} else {
			if (stopping)
				break;
			wait = s->health.retry_at_ms - pub_now_ms();
			if (wait > PUB_IDLE_MS)
				wait = PUB_IDLE_MS;
			if (rd_evqueue_wait(s->q, wait > 0 ? (int)wait : 0))
				pub_queue_to_spool(s);
		}
		pub_watch_spool(s);
		if (s->sp != NULL)
			rd_spool_sync(s->sp); /* what sessions spooled */
	}
	/* Whatever is still queued goes to the spool (or is dropped). */
	pub_queue_to_spool(s);
	pub_watch_spool(s);
	pub_disconnect(s);
	return (NULL);
}

/*
 * The sink interface.
 */

static int
pub_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	struct redis_sink *s = (struct redis_sink *)sk;

	atomic_fetch_add_explicit(&s->emitted, 1, memory_order_relaxed);
	if (json == NULL) {
		atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
		return (-1);
	}
	if (rd_evqueue_put_take(s->q, type, json) == 0)
		return (0);
	if (errno == ENOBUFS)
		return (pub_overflow(s, type, json));
	atomic_fetch_add_explicit(&s->dropped, 1, memory_order_relaxed);
	free(json); /* bad type, or closed */
	return (-1);
}

static void
pub_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	struct redis_sink *s = (struct redis_sink *)sk;
	struct rd_spool_stats ss;

	memset(out, 0, sizeof(*out));
	out->emitted = atomic_load_explicit(&s->emitted, memory_order_relaxed);
	out->delivered =
	    atomic_load_explicit(&s->delivered, memory_order_relaxed);
	out->dropped = atomic_load_explicit(&s->dropped, memory_order_relaxed);
	out->replayed =
	    atomic_load_explicit(&s->replayed_total, memory_order_relaxed);
	out->redis_up = atomic_load_explicit(&s->up, memory_order_relaxed);
	out->queue_depth = rd_evqueue_len(s->q);
	if (s->sp != NULL) {
		rd_spool_stats(s->sp, &ss);
		out->spooled = ss.appended;
		out->spool_pending = ss.pending;
		out->spool_bytes = ss.bytes;
		out->dropped += ss.dropped_oldest + ss.dropped_newest +
				ss.dropped_io + ss.corrupt;
	}
}

/* pub_free - release everything; the thread is not running */
static void
pub_free(struct redis_sink *s)
{
	rd_spool_close(s->sp);
	rd_evqueue_free(s->q);
	pthread_mutex_destroy(&s->order);
	free(s->items);
	free(s->recs);
	free(s->orig);
	free(s->orig_bad);
	free(s->stream);
	explicit_bzero(&s->url, sizeof(s->url));
	free(s);
}

static void
pub_close(struct rd_sink *sk)
{
	struct redis_sink *s = (struct redis_sink *)sk;

	atomic_store(&s->drain_until_ms, pub_now_ms() + (int64_t)s->drain_ms);
	atomic_store(&s->stop, true);
	rd_evqueue_close(s->q); /* wakes the publisher */
	pthread_join(s->thread, NULL);
	pub_free(s);
}

/* pub_stream_ok - a stream key we are willing to send */
static bool
pub_stream_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n > 256)
		return (false);
	for (; *k; k++)
		if ((unsigned char)*k <= 0x20 || *k == 0x7f)
			return (false);
	return (true);
}

static const struct rd_sink_ops pub_ops = {
    .emit_take = pub_emit_take,
    .stats = pub_stats,
    .close = pub_close,
};

struct rd_sink *
rd_sink_redis_open(const struct rd_redis_params *p, struct rd_err *err)
{
	struct rd_spool_params spp;
	struct redis_sink *s;
	sigset_t all, old;
	const char *stream, *note;
	size_t i;
	int e;

	stream = p->stream != NULL ? p->stream : RD_REDIS_DEFAULT_STREAM;
	if (!pub_stream_ok(stream)) {
		rd_err_set(err, "RedisStream", 0,
		    "stream key must be 1 to 256 "
		    "printable characters without spaces");
		return (NULL);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rd_err_set(err, "RedisURL", 0, "out of memory");
		return (NULL);
	}
	pthread_mutex_init(&s->order, NULL);
	s->base.ops = &pub_ops;
	if (rd_redis_url_parse(p->url != NULL ? p->url : RD_REDIS_DEFAULT_URL,
		&s->url, err) != 0)
		goto fail;
	if (p->maxlen > 0)
		snprintf(s->maxlen, sizeof(s->maxlen), "%" PRIu64, p->maxlen);
	s->connect_ms =
	    p->connect_timeout_ms ? p->connect_timeout_ms : PUB_CONNECT_MS;
	s->command_ms =
	    p->command_timeout_ms ? p->command_timeout_ms : PUB_COMMAND_MS;
	rd_redis_health_init(&s->health, PUB_BACKOFF_MIN_MS,
	    p->backoff_max_ms ? p->backoff_max_ms : PUB_BACKOFF_MAX_MS);
	s->drain_ms = p->drain_timeout_ms ? p->drain_timeout_ms : PUB_DRAIN_MS;
	s->batch = p->batch_size ? p->batch_size : PUB_BATCH;
	s->spool_max = p->spool_max_bytes ? p->spool_max_bytes : PUB_SPOOL_MAX;
	s->log = p->log;
	if ((s->stream = strdup(stream)) == NULL ||
	    (s->items = calloc(s->batch, sizeof(*s->items))) == NULL ||
	    (s->recs = calloc(s->batch, sizeof(*s->recs))) == NULL ||
	    (s->orig = calloc(s->batch, sizeof(*s->orig))) == NULL ||
	    (s->orig_bad = calloc(s->batch, sizeof(*s->orig_bad))) == NULL) {
		rd_err_set(err, "RedisURL", 0, "out of memory");
		goto fail;
	}
	if ((s->q = rd_evqueue_new(
		 p->queue_size ? p->queue_size : PUB_QUEUE, err)) == NULL)
		goto fail;
	if (p->spool_dir != NULL) {
		memset(&spp, 0, sizeof(spp));
		spp.dir = p->spool_dir;
		spp.max_bytes = s->spool_max;
		spp.policy = p->spool_policy;
		if ((s->sp = rd_spool_open(&spp, err)) == NULL)
			goto fail;
		for (i = 0; (note = rd_spool_note(s->sp, i)) != NULL; i++)
			pub_log(s, LOG_WARNING, "spool: %s", note);
		rd_spool_stats(s->sp, &s->seen);
	}
	/* The publisher takes no signal: they belong to the daemon's signal
	   thread; a SIGPIPE from a dead Redis socket stays pending here. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&s->thread, NULL, pub_main, s);
	if (e == 0) /* named for top -H and perf */
		(void)pthread_setname_np(s->thread, "rd-publish");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		rd_err_set(err, "RedisURL", 0,
		    "cannot start the publisher "
		    "thread: error %d",
		    e);
		goto fail;
	}
	return (&s->base);
fail:
	pub_free(s);
	return (NULL);
}

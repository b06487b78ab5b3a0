/*
 * history.c - cross-session correlation: who relayed with authorization
 * from where, who logged in where, which clients keep being refused; kept
 * in Redis (shared by every MTA) with a deadline, and in a bounded local
 * cache that answers while Redis is down or slow.
 *
 * Owns struct rd_history: the API, the input, the writer thread; its
 * cache is in history_cache.c, its Redis pool and queries in
 * history_redis.c, the keys and the helpers all three use in
 * history_keys.c (history_int.h is their contract). The public contract
 * is in history.h; the diagnoses it feeds in diagnoses.md
 * (relay.ip-changed, relay.auth-stopped, relay.probe, alert.auth-outage,
 * alert.relay-probe).
 *
 * Redis keys (all under key_prefix, all with a TTL; scores and stored
 * times are the callers' `now` in ms, so every window is measured on the
 * callers' clock and tests can move time):
 *     s:<sender>  ZSET "a:<ip>" (authorized relay), "l:<ip>" (SASL login)
 *                 scored by ms; trimmed to history_window and to
 *                 HIST_SENDER_MAX addresses on every write
 *     c:<ip>      HASH auth -> ms of the last authorized relay
 *     p:<ip>      ZSET refused rcpt domains scored by ms (probe_window)
 *     pn:<ip>     refused attempts: SET NX EX probe_window, then INCR; a
 *                 fixed window from the first attempt, so a lost user
 *                 retrying every few minutes never adds up to a probe
 *     o           ZSET senders refused although they had SASL history
 *     ao          SET NX EX outage_window: the outage alert was raised
 * The commands of one call are pipelined (one round trip; a second one
 * only for a refused sender with SASL history: the outage set). Every
 * argument goes through redisAppendCommandArgv, binary-safe, never
 * through a format string. The relay-probe alert needs no key of its
 * own: INCR is atomic, so exactly one caller (on any MTA) sees the count
 * reach alert_probe_attempts within one counter window.
 *
 * The writes of rd_history_note_authorized do not wait for Redis: the
 * caller writes the cache and puts a copy of its input in a ring of
 * queue_size writes; the writer thread (as Redis's bio.c: one thread, a
 * mutex, a condvar) takes up to HIST_BATCH of them at a time and sends
 * their commands pipelined in one round trip on a pooled connection, like
 * any caller, so Redis going down and coming back is seen, handled and
 * logged the same way. A full ring drops the Redis write (the cache has
 * it) and counts it; it is logged when the ring fills and when the writer
 * has emptied it again, not per write.
 * wq_put and wq_done count writes queued and finished (sent, or given up),
 * so rd_history_flush waits for a number, not for an empty ring.
 *
 * Redis down: a failed call (connect, timeout, I/O, error reply) frees its
 * context and all idle ones, marks Redis down and logs it once; for the
 * next HIST_BACKOFF_MIN_MS (doubling up to HIST_BACKOFF_MAX_MS while
 * retries fail) calls answer from the cache without trying. One caller at
 * a time makes the retry. Writes made while down, or while every pooled
 * connection stays busy past the writer's deadline, reach only the cache.
 *
 * Deadlines: a call's deadline (timeout_ms from its start) bounds the wait
 * for a pooled connection, the connect, and each socket read and write
 * (the socket timeout is kept within what is left before each one, 1 ms
 * over it at most, a tenth of timeout_ms under it at most: hiredis's own
 * redisGetReply would give every read(2) the whole timeout).
 *
 * The cache mirrors the keys (without the prefix), is written on every
 * call whatever Redis does (so it is warm when Redis goes away), and holds
 * at most cache_size entries, an entry being a key or one member of it;
 * the least recently written keys go first.
 *
 * Threads: the pool (mutex pool_lock, condvar pool_cv), the cache (mutex
 * cache_lock) and the write queue (mutex wq_lock, condvars wq_cv for the
 * writer and wq_done_cv for flushes) are shared; a context belongs to one
 * thread between take and give; the writer's batch to the writer. No lock
 * is held while talking to Redis or logging, and no two are held at once.
 * The process must ignore SIGPIPE (main.c does): hiredis 0.14 writes with
 * write(2), and a write to a dead Redis raises it.
 * Memory: keys are built on the stack within the input limits below;
 * the cache allocates per key and member, and drops a write it has no
 * memory for (it is a cache).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>
#include <syslog.h>
#include <hiredis/hiredis.h>
#include "relaydiag/metrics.h"
#include "relaydiag/history.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"
#include "history_int.h"
/*
 * Input.
 */

/* hist_copy_lower - bounded copy of s folded to ASCII lower case */
static size_t
hist_copy_lower(char *dst, size_t size, const char *s)
{
	size_t n;

	for (n = 0; s != NULL && s[n] != '\0' && n < size - 1; n++)
		dst[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] - 'A' + 'a'
							   : s[n]);
	dst[n] = '\0';
	return (n);
}

/*
 * hist_input - bounded, normalized copies: addresses and domains compare
 * case-insensitively (as Postfix's lookups do), a domain loses its root
 * dot, an address in text form is printed the one way inet_ntop prints
 * it, anything else is kept as it came (it is still a valid key).
 */
static void
hist_input(struct hist_in *in, const char *sender, const char *ip,
    const char *domain, time_t now)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char text[INET6_ADDRSTRLEN];

	if (sender != NULL && strcmp(sender, "<>") == 0)
		sender = ""; /* the null sender, bracketed */
	in->senderlen = hist_copy_lower(in->sender, sizeof(in->sender), sender);
	in->domainlen = hist_copy_lower(in->domain, sizeof(in->domain), domain);
	while (in->domainlen > 0 && in->domain[in->domainlen - 1] == '.')
		in->domain[--in->domainlen] = '\0';
	if (ip == NULL)
		ip = "";
	if ((inet_pton(AF_INET, ip, bin) == 1 &&
		inet_ntop(AF_INET, bin, text, sizeof(text)) != NULL) ||
	    (inet_pton(AF_INET6, ip, bin) == 1 &&
		inet_ntop(AF_INET6, bin, text, sizeof(text)) != NULL))
		ip = text;
	in->iplen = hist_copy_lower(in->ip, sizeof(in->ip), ip);
	in->ms = (int64_t)now * 1000;
}

/*
 * The writer thread: rd_history_note_authorized's Redis writes.
 */

/* wq_take - up to HIST_BATCH writes, oldest first, into h->batch; under
   wq_lock */
static size_t
wq_take(struct rd_history *h)
{
	size_t n;

	for (n = 0; n < HIST_BATCH && h->wq_n > 0; n++) {
		h->batch[n] = h->wq[h->wq_head];
		h->wq_head = (h->wq_head + 1) % h->wq_cap;
		h->wq_n--;
	}
	return (n);
}

/*
 * hist_writer - take what is queued, send it in one round trip, count it
 * done; until rd_history_free asks it to stop and the ring is empty, or
 * its time to drain is over (the rest is dropped).
 */
static void *
hist_writer(void *arg)
{
	struct rd_history *h = arg;
	unsigned long long episode = 0;
	bool drained;
	size_t n;

	pthread_mutex_lock(&h->wq_lock);
	for (;;) {
		while (h->wq_n == 0 && !h->wq_stop)
			pthread_cond_wait(&h->wq_cv, &h->wq_lock);
		if (h->wq_n == 0)
			break;
		if (!h->wq_stop && h->wq_n < HIST_BATCH / 4) {
			struct timespec linger = {0, HIST_LINGER_US * 1000L};

			pthread_mutex_unlock(&h->wq_lock);
			(void)nanosleep(&linger, NULL);
			pthread_mutex_lock(&h->wq_lock);
		}
		if (h->wq_stop && hist_mono_ms() >= h->wq_stop_by) {
			h->wq_dropped += h->wq_n;
			h->wq_done += h->wq_n;
			h->wq_head = (h->wq_head + h->wq_n) % h->wq_cap;
			h->wq_n = 0;
			break;
		}
		n = wq_take(h);
		/* A full ring is one episode until the writer empties it:
		   one line when it starts, one when it ends. */
		drained = h->wq_full && h->wq_n == 0;
		if (drained) {
			h->wq_full = false;
			episode = h->wq_dropped - h->wq_full_from;
		}
		pthread_mutex_unlock(&h->wq_lock);
		if (drained)
			hist_log(h, LOG_NOTICE,
			    "history: write queue drained; %llu Redis writes "
			    "were dropped (the local cache kept them)",
			    episode);
		(void)redis_authorized(h, h->batch, n);
		pthread_mutex_lock(&h->wq_lock);
		h->wq_done += n;
		pthread_cond_broadcast(&h->wq_done_cv);
	}
	pthread_cond_broadcast(&h->wq_done_cv);
	pthread_mutex_unlock(&h->wq_lock);
	return (NULL);
}

/*
 * writer_start - the ring, the batch and the thread; 0, or -1 with err.
 * The thread takes no signal: they belong to the daemon's signal threads
 * (a SIGPIPE from a dead Redis socket stays pending here).
 */
static int
writer_start(
    struct rd_history *h, const struct rd_history_params *p, struct rd_err *err)
{
	sigset_t all, old;
	int e;

	h->wq_cap = p->queue_size ? p->queue_size : HIST_QUEUE;
	if (h->wq_cap < HIST_QUEUE_MIN)
		h->wq_cap = HIST_QUEUE_MIN;
	if ((h->wq = calloc(h->wq_cap, sizeof(*h->wq))) == NULL ||
	    (h->batch = calloc(HIST_BATCH, sizeof(*h->batch))) == NULL) {
		rd_err_set(err, "history", 0, "out of memory");
		return (-1);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&h->writer, NULL, hist_writer, h);
	if (e == 0) /* named for top -H and perf */
		(void)pthread_setname_np(h->writer, "rd-history");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		rd_err_set(err, "history", 0,
		    "cannot start the writer thread: %s", strerror(e));
		return (-1);
	}
	h->writer_running = true;
	return (0);
}

/*
 * writer_stop - let the writer send what is queued, for at most
 * HIST_DRAIN_TIMEOUTS x timeout_ms (plus the round trip then in flight),
 * and join it
 */
static void
writer_stop(struct rd_history *h)
{
	unsigned long long before, lost;

	if (!h->writer_running)
		return;
	pthread_mutex_lock(&h->wq_lock);
	h->wq_stop = true;
	h->wq_stop_by =
	    hist_mono_ms() + (int64_t)h->timeout_ms * HIST_DRAIN_TIMEOUTS;
	before = h->wq_dropped;
	pthread_cond_signal(&h->wq_cv);
	pthread_mutex_unlock(&h->wq_lock);
	pthread_join(h->writer, NULL);
	h->writer_running = false;
	lost = h->wq_dropped - before;
	if (lost > 0)
		hist_log(h, LOG_WARNING,
		    "history: stopping: %llu queued Redis writes not sent "
		    "within %u ms",
		    lost, h->timeout_ms * HIST_DRAIN_TIMEOUTS);
}

/*
 * The interface.
 */

struct rd_history *
rd_history_new(const struct rd_history_params *p, struct rd_err *err)
{
	struct rd_history *h;
	pthread_condattr_t ca;
	const char *prefix;
	size_t buckets;
	unsigned w;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		rd_err_set(err, "history", 0, "out of memory");
		return (NULL);
	}
	prefix = p->key_prefix != NULL ? p->key_prefix : HIST_PREFIX;
	if ((h->prefixlen = strlen(prefix)) > HIST_PREFIX_MAX) {
		rd_err_set(err, "history", 0,
		    "the key prefix is longer than "
		    "%d bytes",
		    HIST_PREFIX_MAX);
		free(h);
		return (NULL);
	}
	memcpy(h->prefix, prefix, h->prefixlen + 1);
	if (p->redis_url != NULL) {
		if (rd_redis_url_parse(p->redis_url, &h->url, err) != 0) {
			free(h);
			return (NULL);
		}
		h->use_redis = true;
	}
	h->timeout_ms = p->timeout_ms ? p->timeout_ms : HIST_TIMEOUT_MS;
	w = p->history_window ? p->history_window : HIST_HISTORY_WINDOW;
	h->hwin_ms = 1000 * (int64_t)w;
	snprintf(h->hwin, sizeof(h->hwin), "%u", w);
	w = p->probe_window ? p->probe_window : HIST_PROBE_WINDOW;
	h->pwin_ms = 1000 * (int64_t)w;
	snprintf(h->pwin, sizeof(h->pwin), "%u", w);
	w = p->outage_window ? p->outage_window : HIST_OUTAGE_WINDOW;
	h->owin_ms = 1000 * (int64_t)w;
	snprintf(h->owin, sizeof(h->owin), "%u", w);
	h->outage_senders =
	    p->outage_senders ? p->outage_senders : HIST_OUTAGE_SENDERS;
	h->probe_attempts = p->alert_probe_attempts ? p->alert_probe_attempts
						    : HIST_PROBE_ATTEMPTS;
	h->cache_size = p->cache_size ? p->cache_size : HIST_CACHE_SIZE;
	if (h->cache_size < HIST_CACHE_MIN)
		h->cache_size = HIST_CACHE_MIN;
	/* A key never takes more than a quarter of the cache. */
	h->sender_max = HIST_SENDER_MAX;
	h->domains_max = HIST_DOMAINS_MAX;
	h->outage_max = HIST_OUTAGE_MAX;
	if (h->sender_max > h->cache_size / 4)
		h->sender_max = h->cache_size / 4;
	if (h->domains_max > h->cache_size / 4)
		h->domains_max = h->cache_size / 4;
	if (h->outage_max > h->cache_size / 4)
		h->outage_max = h->cache_size / 4;
	if (h->outage_max < h->outage_senders)
		h->outage_max = h->outage_senders;
	h->log = p->log;
	rd_redis_health_init(
	    &h->health, HIST_BACKOFF_MIN_MS, HIST_BACKOFF_MAX_MS);

	for (buckets = 64; buckets < h->cache_size && buckets < (1u << 20);)
		buckets *= 2;
	if ((h->table = calloc(buckets, sizeof(*h->table))) == NULL) {
		rd_err_set(err, "history", 0, "out of memory");
		free(h);
		return (NULL);
	}
	h->tmask = buckets - 1;
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_mutex_init(&h->cache_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->pool_cv, &ca);
	pthread_cond_init(&h->wq_done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&h->wq_lock, NULL);
	pthread_cond_init(&h->wq_cv, NULL);
	if (h->use_redis && writer_start(h, p, err) != 0) {
		rd_history_free(h);
		return (NULL);
	}
	return (h);
}

void
rd_history_free(struct rd_history *h)
{
	if (h == NULL)
		return;
	writer_stop(h); /* it uses the pool */
	while (h->nidle > 0)
		redisFree(h->idle[--h->nidle]);
	while (h->oldest != NULL)
		hc_delete(h, h->oldest);
	free(h->table);
	free(h->wq);
	free(h->batch);
	pthread_cond_destroy(&h->wq_cv);
	pthread_cond_destroy(&h->wq_done_cv);
	pthread_mutex_destroy(&h->wq_lock);
	pthread_cond_destroy(&h->pool_cv);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_mutex_destroy(&h->cache_lock);
	/* The URL holds the password: leave no copy in freed memory. */
	explicit_bzero(&h->url, sizeof(h->url));
	free(h);
}

void
rd_history_note_authorized(struct rd_history *h, const char *sender,
    const char *client_ip, bool sasl, time_t now)
{
	struct hist_write *w;
	struct hist_in in;
	bool full = false;

	hist_input(&in, sender, client_ip, NULL, now);
	pthread_mutex_lock(&h->cache_lock);
	cache_authorized(h, &in, sasl);
	pthread_mutex_unlock(&h->cache_lock);
	if (!h->use_redis)
		return;
	pthread_mutex_lock(&h->wq_lock);
	if (h->wq_n < h->wq_cap && !h->wq_stop) {
		w = &h->wq[(h->wq_head + h->wq_n) % h->wq_cap];
		w->ms = in.ms;
		w->sasl = sasl;
		w->senderlen = (unsigned short)in.senderlen;
		memcpy(w->sender, in.sender, in.senderlen + 1);
		w->iplen = (unsigned char)in.iplen;
		memcpy(w->ip, in.ip, in.iplen + 1);
		h->wq_n++;
		h->wq_put++;
		pthread_cond_signal(&h->wq_cv); /* no system call when the
						   writer is busy */
	} else {
		if (!h->wq_full) {
			h->wq_full = true;
			h->wq_full_from = h->wq_dropped;
			full = true;
		}
		h->wq_dropped++;
	}
	pthread_mutex_unlock(&h->wq_lock);
	if (full)
		hist_log(h, LOG_WARNING,
		    "history: write queue full (%zu writes): Redis is slower "
		    "than the authorized relays; their Redis writes are "
		    "dropped until it drains (the local cache keeps them)",
		    h->wq_cap);
}

bool
rd_history_flush(struct rd_history *h, unsigned timeout_ms)
{
	struct timespec ts;
	int64_t until = hist_mono_ms() + timeout_ms;
	uint64_t target;
	bool done;

	if (!h->use_redis)
		return (true);
	ts.tv_sec = (time_t)(until / 1000);
	ts.tv_nsec = (long)(until % 1000) * 1000000;
	pthread_mutex_lock(&h->wq_lock);
	target = h->wq_put;
	while (h->wq_done < target && hist_mono_ms() < until)
		pthread_cond_timedwait(&h->wq_done_cv, &h->wq_lock, &ts);
	done = h->wq_done >= target;
	pthread_mutex_unlock(&h->wq_lock);
	return (done);
}

/*
 * hist_merge_probe - the probe counts of a Redis answer, raised to this
 * MTA's own where they are higher: Redis misses the refusals made while it
 * was down (or lost them in a restart), the cache saw every one of them.
 * The alert is then the cache's: it fires once, when this MTA's count
 * reaches the limit, not a second time when Redis's lagging count does.
 */
static void
hist_merge_probe(struct rd_history_facts *f, struct rd_history_alerts *a,
    const struct rd_history_facts *cf, const struct rd_history_alerts *ca)
{
	if (cf->client_refused_domains > f->client_refused_domains)
		f->client_refused_domains = cf->client_refused_domains;
	if (cf->client_refused_attempts > f->client_refused_attempts) {
		f->client_refused_attempts = cf->client_refused_attempts;
		a->probe_attempts = ca->probe_attempts;
		a->relay_probe = ca->relay_probe;
	}
}

void
rd_history_refused(struct rd_history *h, const char *sender,
    const char *client_ip, const char *rcpt_domain, time_t now,
    struct rd_history_facts *facts, struct rd_history_alerts *alerts)
{
	struct rd_history_alerts ca;
	struct rd_history_facts cf;
	struct hist_in in;

	memset(&cf, 0, sizeof(cf));
	memset(&ca, 0, sizeof(ca));
	hist_input(&in, sender, client_ip, rcpt_domain, now);
	/* The cache answers and records in any case: it must be warm when
	   Redis goes away. */
	pthread_mutex_lock(&h->cache_lock);
	cache_refused(h, &in, &cf, &ca);
	pthread_mutex_unlock(&h->cache_lock);
	rd_metrics_inc(RD_M_HISTORY_LOOKUPS);
	if (h->use_redis) {
		memset(facts, 0, sizeof(*facts));
		memset(alerts, 0, sizeof(*alerts));
		if (redis_refused(h, &in, facts, alerts) == 0) {
			hist_merge_probe(facts, alerts, &cf, &ca);
			return;
		}
		rd_metrics_inc(RD_M_HISTORY_LOOKUP_FAILURES);
	}
	*facts = cf;
	*alerts = ca;
}

bool
rd_history_redis_up(struct rd_history *h)
{
	bool up;

	pthread_mutex_lock(&h->pool_lock);
	up = h->use_redis && h->health.state == RD_REDIS_UP;
	pthread_mutex_unlock(&h->pool_lock);
	return (up);
}

bool
rd_history_uses_redis(const struct rd_history *h)
{
	return (h != NULL && h->use_redis); /* set once, at rd_history_new */
}

size_t
rd_history_cache_entries(struct rd_history *h)
{
	size_t n;

	pthread_mutex_lock(&h->cache_lock);
	n = h->used;
	pthread_mutex_unlock(&h->cache_lock);
	return (n);
}

unsigned long long
rd_history_writes_dropped(struct rd_history *h)
{
	unsigned long long n;

	pthread_mutex_lock(&h->wq_lock);
	n = h->wq_dropped;
	pthread_mutex_unlock(&h->wq_lock);
	return (n);
}

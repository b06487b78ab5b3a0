/*
 * history.c - cross-session correlation: who relayed with authorization
 * from where, who logged in where, which clients keep being refused; kept
 * in Redis (shared by every MTA) with a deadline, and in a bounded local
 * cache that answers while Redis is down or slow.
 *
 * Owns struct rd_history, its Redis connection pool and its cache. The
 * contract is in history.h; the diagnoses it feeds in diagnoses.md
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
 * (the socket timeout is set to what is left before each one: hiredis's
 * own redisGetReply would give every read(2) the whole timeout).
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
#include <sys/time.h>
#include <syslog.h>

#include <hiredis/hiredis.h>

#include "relaydiag/history.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"

#define HIST_PREFIX "relaydiag:h:"
#define HIST_PREFIX_MAX 128
#define HIST_TIMEOUT_MS 50
#define HIST_HISTORY_WINDOW 86400
#define HIST_PROBE_WINDOW 600
#define HIST_OUTAGE_WINDOW 900
#define HIST_OUTAGE_SENDERS 5
#define HIST_PROBE_ATTEMPTS 20
#define HIST_CACHE_SIZE 10000
#define HIST_CACHE_MIN 16

#define HIST_POOL 4     /* Redis connections at most */
#define HIST_QUEUE 1024 /* queued writes at most, by default */
#define HIST_QUEUE_MIN 4
#define HIST_BATCH 64 /* writes per round trip; 6 commands each at most */
#define HIST_DRAIN_TIMEOUTS 4 /* rd_history_free: timeout_ms times this */
#define HIST_BACKOFF_MIN_MS 1000
#define HIST_BACKOFF_MAX_MS 30000

/* Members kept per key (Redis and cache): older ones are dropped, so the
   counts saturate there. HIST_DOMAINS_MAX is ProbeDomains' maximum. */
#define HIST_SENDER_MAX 64
#define HIST_DOMAINS_MAX 1000
#define HIST_OUTAGE_MAX 1000
#define HIST_SAMPLE 5

/* Input limits: longer text is cut (RFC 5321: a path is at most 256
   octets, a domain 255); the ip fits facts->elsewhere_ip. */
#define HIST_SENDER_LEN 255
#define HIST_IP_LEN 63
#define HIST_DOMAIN_LEN 255
#define HIST_KEY_LEN (HIST_PREFIX_MAX + 8 + 255 + 1)
#define HIST_ERR_MAX 256
#define HIST_ARGS_MAX 8
#define HIST_CMDS_MAX 16

enum hist_state {
	HIST_INIT, /* no attempt yet */
	HIST_UP,
	HIST_DOWN,
};

struct hc_member {
	int64_t ms;
	char *name;
};

struct hc_entry {
	struct hc_entry *chain;         /* hash bucket */
	struct hc_entry *older, *newer; /* write order */
	uint64_t hash;
	int64_t expire_ms; /* gone at or after this */
	int64_t count;     /* counter */
	struct hc_member *m;
	size_t nm, am;
	size_t keylen;
	char key[];
};

struct rd_history {
	/* immutable after new */
	bool use_redis;
	struct rd_redis_url url;
	char prefix[HIST_PREFIX_MAX + 1];
	size_t prefixlen;
	unsigned timeout_ms;
	int64_t hwin_ms, pwin_ms, owin_ms;
	char hwin[16], pwin[16], owin[16]; /* seconds, for EX */
	unsigned outage_senders;
	unsigned probe_attempts;
	size_t cache_size;
	size_t sender_max, domains_max, outage_max;
	void (*log)(int, const char *);

	/* pool_lock */
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cv;
	redisContext *idle[HIST_POOL];
	size_t nidle;
	size_t nconn; /* idle + in use + being connected */
	unsigned gen; /* bumped when Redis goes down */
	enum hist_state state;
	int64_t retry_at_ms; /* monotonic; while down */
	int64_t down_since_ms;
	unsigned backoff_ms;

	/* cache_lock */
	pthread_mutex_t cache_lock;
	struct hc_entry **table;
	size_t tmask;
	struct hc_entry *oldest, *newest;
	size_t used; /* keys + members */

	/* wq_lock; the writer thread exists when use_redis */
	pthread_mutex_t wq_lock;
	pthread_cond_t wq_cv;      /* the writer: work, or stop */
	pthread_cond_t wq_done_cv; /* flushes: wq_done moved */
	struct hist_write *wq;     /* ring of wq_cap */
	size_t wq_cap, wq_head, wq_n;
	uint64_t wq_put, wq_done; /* queued, finished: totals */
	unsigned long long wq_dropped;
	bool wq_full; /* dropping, until the writer empties it */
	unsigned long long wq_full_from; /* wq_dropped when it filled */
	bool wq_stop;                    /* rd_history_free: drain, then exit */
	int64_t wq_stop_by; /* monotonic ms: drop what is left then */
	bool writer_running;
	pthread_t writer;
	struct hist_write *batch; /* the writer's own, HIST_BATCH */
};

/* One queued write: rd_history_note_authorized's input, normalized. */
struct hist_write {
	int64_t ms;
	bool sasl;
	unsigned short senderlen;
	unsigned char iplen;
	char sender[HIST_SENDER_LEN + 1];
	char ip[HIST_IP_LEN + 1];
};

/* The normalized input of one call. */
struct hist_in {
	char sender[HIST_SENDER_LEN + 1]; /* "" null sender */
	size_t senderlen;
	char ip[HIST_IP_LEN + 1];
	size_t iplen;
	char domain[HIST_DOMAIN_LEN + 1];
	size_t domainlen;
	int64_t ms;
};

/* A string with its length: keys and arguments are binary-safe. */
struct hist_str {
	const char *p;
	size_t n;
};

#define HS(s) ((struct hist_str){(s), strlen(s)})

/* One call's use of a Redis connection. */
struct hist_call {
	redisContext *c;
	unsigned gen;
	int64_t deadline_ms; /* monotonic */
	unsigned nprefix;    /* AUTH, SELECT on a new connection */
	const char *prefix_cmd[2];
	unsigned ncmd; /* appended since the last exchange */
	int64_t tv_ms; /* socket timeout set, ms; 0 none yet */
	bool reused;   /* c came from the pool */
	bool closed;   /* c failed: EOF or reset */
	bool retried;
	char why[HIST_ERR_MAX];
};

/* hist_mono_ms - CLOCK_MONOTONIC in milliseconds */
static int64_t
hist_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static struct timeval
hist_tv(int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return (tv);
}

static void hist_log(const struct rd_history *h, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
hist_log(const struct rd_history *h, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (h->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(prio, msg);
}

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
 * hist_key - "<prefix><kind><text>" into buf; the result includes the
 * prefix, and key.p + h->prefixlen is the cache's key.
 */
static struct hist_str
hist_key(const struct rd_history *h, char *buf, const char *kind,
    const char *text, size_t len)
{
	size_t k = strlen(kind);

	memcpy(buf, h->prefix, h->prefixlen);
	memcpy(buf + h->prefixlen, kind, k);
	memcpy(buf + h->prefixlen + k, text, len);
	buf[h->prefixlen + k + len] = '\0';
	return ((struct hist_str){buf, h->prefixlen + k + len});
}

/* hist_member - "<kind><ip>" into buf (size HIST_IP_LEN + 3) */
static struct hist_str
hist_member(char *buf, char kind, const struct hist_in *in)
{
	buf[0] = kind;
	buf[1] = ':';
	memcpy(buf + 2, in->ip, in->iplen + 1);
	return ((struct hist_str){buf, in->iplen + 2});
}

/*
 * Facts from a sender's members, whichever store they come from.
 */
struct hist_scan {
	const struct hist_in *in;
	int64_t cutoff; /* times <= cutoff are outside */
	int64_t elsewhere_ms;
	bool had_sasl; /* logged in from any address */
	struct rd_history_facts *facts;
};

static void
hist_scan_member(struct hist_scan *sc, const char *name, size_t len, int64_t ms)
{
	struct rd_history_facts *f = sc->facts;
	const char *ip;
	size_t iplen;
	bool here;

	if (ms <= sc->cutoff || len < 2 || name[1] != ':')
		return;
	ip = name + 2;
	iplen = len - 2;
	here = iplen == sc->in->iplen && memcmp(ip, sc->in->ip, iplen) == 0;
	if (name[0] == 'a') {
		f->sender_authorized_ever = true;
		if (!here && (!f->sender_authorized_elsewhere ||
				 ms > sc->elsewhere_ms)) {
			f->sender_authorized_elsewhere = true;
			sc->elsewhere_ms = ms;
			if (iplen > sizeof(f->elsewhere_ip) - 1)
				iplen = sizeof(f->elsewhere_ip) - 1;
			memcpy(f->elsewhere_ip, ip, iplen);
			f->elsewhere_ip[iplen] = '\0';
		}
	} else if (name[0] == 'l') {
		sc->had_sasl = true;
		if (here)
			f->sender_sasl_here = true;
	}
}

/*
 * The local cache. All hc_ functions run under cache_lock.
 */

static uint64_t
hc_hash(const char *s, size_t n)
{
	uint64_t x = 14695981039346656037ull; /* FNV-1a */

	while (n-- > 0) {
		x ^= (unsigned char)*s++;
		x *= 1099511628211ull;
	}
	return (x);
}

static void
hc_unlink_order(struct rd_history *h, struct hc_entry *e)
{
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		h->oldest = e->newer;
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		h->newest = e->older;
	e->older = e->newer = NULL;
}

static void
hc_link_newest(struct rd_history *h, struct hc_entry *e)
{
	e->older = h->newest;
	e->newer = NULL;
	if (h->newest != NULL)
		h->newest->newer = e;
	else
		h->oldest = e;
	h->newest = e;
}

static void
hc_remove_member(struct rd_history *h, struct hc_entry *e, size_t i)
{
	free(e->m[i].name);
	e->m[i] = e->m[--e->nm];
	h->used--;
}

/* hc_delete - unlink e from the table and the order, and free it */
static void
hc_delete(struct rd_history *h, struct hc_entry *e)
{
	struct hc_entry **pp;

	for (pp = &h->table[e->hash & h->tmask]; *pp != e; pp = &(*pp)->chain)
		;
	*pp = e->chain;
	hc_unlink_order(h, e);
	while (e->nm > 0)
		hc_remove_member(h, e, e->nm - 1);
	free(e->m);
	free(e);
	h->used--;
}

/* hc_get - the live entry for key, or NULL (an expired one is freed) */
static struct hc_entry *
hc_get(struct rd_history *h, struct hist_str key, int64_t now)
{
	uint64_t x = hc_hash(key.p, key.n);
	struct hc_entry *e;

	for (e = h->table[x & h->tmask]; e != NULL; e = e->chain)
		if (e->hash == x && e->keylen == key.n &&
		    memcmp(e->key, key.p, key.n) == 0)
			break;
	if (e != NULL && now >= e->expire_ms) {
		hc_delete(h, e);
		e = NULL;
	}
	return (e);
}

/*
 * hc_put - the entry for key, created if need be, now the most recently
 * written, living window_ms from now (Redis's EXPIRE). NULL: no memory.
 */
static struct hc_entry *
hc_put(
    struct rd_history *h, struct hist_str key, int64_t now, int64_t window_ms)
{
	struct hc_entry *e;

	if ((e = hc_get(h, key, now)) != NULL)
		hc_unlink_order(h, e);
	else {
		if ((e = calloc(1, sizeof(*e) + key.n + 1)) == NULL)
			return (NULL);
		e->hash = hc_hash(key.p, key.n);
		e->keylen = key.n;
		memcpy(e->key, key.p, key.n);
		e->chain = h->table[e->hash & h->tmask];
		h->table[e->hash & h->tmask] = e;
		h->used++;
	}
	hc_link_newest(h, e);
	e->expire_ms = now + window_ms;
	return (e);
}

/* hc_evict - drop the least recently written keys down to cache_size */
static void
hc_evict(struct rd_history *h)
{
	while (h->used > h->cache_size && h->oldest != NULL)
		hc_delete(h, h->oldest);
}

/* hc_trim - drop the members at or before cutoff (ZREMRANGEBYSCORE) */
static void
hc_trim(struct rd_history *h, struct hc_entry *e, int64_t cutoff)
{
	size_t i;

	for (i = 0; i < e->nm;)
		if (e->m[i].ms <= cutoff)
			hc_remove_member(h, e, i);
		else
			i++;
}

/*
 * hc_zadd - set member's time (ZADD); when e holds max members, the
 * oldest goes (ZREMRANGEBYRANK). Returns whether the member is new.
 */
static bool
hc_zadd(struct rd_history *h, struct hc_entry *e, struct hist_str name,
    int64_t ms, size_t max)
{
	struct hc_member *m;
	size_t i, old;

	for (i = 0; i < e->nm; i++)
		if (strlen(e->m[i].name) == name.n &&
		    memcmp(e->m[i].name, name.p, name.n) == 0) {
			e->m[i].ms = ms;
			return (false);
		}
	if (e->nm >= max && e->nm > 0) {
		for (old = 0, i = 1; i < e->nm; i++)
			if (e->m[i].ms < e->m[old].ms)
				old = i;
		hc_remove_member(h, e, old);
	}
	if (e->nm == e->am) {
		i = e->am == 0 ? 4 : e->am * 2;
		if ((m = realloc(e->m, i * sizeof(*m))) == NULL)
			return (false);
		e->m = m;
		e->am = i;
	}
	if ((e->m[e->nm].name = malloc(name.n + 1)) == NULL)
		return (false);
	memcpy(e->m[e->nm].name, name.p, name.n);
	e->m[e->nm].name[name.n] = '\0';
	e->m[e->nm].ms = ms;
	e->nm++;
	h->used++;
	return (true);
}

static void
cache_authorized(struct rd_history *h, const struct hist_in *in, bool sasl)
{
	char kb[HIST_KEY_LEN], mb[HIST_IP_LEN + 3];
	struct hist_str key;
	struct hc_entry *e;
	size_t pl = h->prefixlen;

	if (in->senderlen > 0) {
		key = hist_key(h, kb, "s:", in->sender, in->senderlen);
		key.p += pl, key.n -= pl;
		if ((e = hc_put(h, key, in->ms, h->hwin_ms)) != NULL) {
			hc_trim(h, e, in->ms - h->hwin_ms);
			hc_zadd(h, e, hist_member(mb, 'a', in), in->ms,
			    h->sender_max);
			if (sasl)
				hc_zadd(h, e, hist_member(mb, 'l', in), in->ms,
				    h->sender_max);
		}
	}
	key = hist_key(h, kb, "c:", in->ip, in->iplen);
	key.p += pl, key.n -= pl;
	if ((e = hc_put(h, key, in->ms, h->hwin_ms)) != NULL)
		hc_zadd(h, e, HS("auth"), in->ms, 1);
	hc_evict(h);
}

/*
 * cache_sample - the (at most) HIST_SAMPLE most recent members of e, the
 * most recent first (ZREVRANGE 0 4)
 */
static void
cache_sample(const struct hc_entry *e, struct rd_history_alerts *a)
{
	size_t top[HIST_SAMPLE], ntop = 0, i, j;

	for (i = 0; i < e->nm; i++) {
		for (j = ntop; j > 0 && e->m[top[j - 1]].ms < e->m[i].ms; j--)
			if (j < HIST_SAMPLE)
				top[j] = top[j - 1];
		if (j < HIST_SAMPLE) {
			top[j] = i;
			if (ntop < HIST_SAMPLE)
				ntop++;
		}
	}
	for (a->outage_nsample = 0; a->outage_nsample < ntop;
	     a->outage_nsample++)
		rd_strlcpy(a->outage_sample[a->outage_nsample],
		    e->m[top[a->outage_nsample]].name,
		    sizeof(a->outage_sample[0]));
}

static void
cache_refused(struct rd_history *h, const struct hist_in *in,
    struct rd_history_facts *f, struct rd_history_alerts *a)
{
	struct hist_scan sc = {.in = in, .facts = f};
	char kb[HIST_KEY_LEN];
	struct hist_str key;
	struct hc_entry *e;
	size_t i, pl = h->prefixlen;
	int64_t n;

	sc.cutoff = in->ms - h->hwin_ms;
	if (in->senderlen > 0) {
		key = hist_key(h, kb, "s:", in->sender, in->senderlen);
		key.p += pl, key.n -= pl;
		if ((e = hc_get(h, key, in->ms)) != NULL)
			for (i = 0; i < e->nm; i++)
				hist_scan_member(&sc, e->m[i].name,
				    strlen(e->m[i].name), e->m[i].ms);
	}
	key = hist_key(h, kb, "c:", in->ip, in->iplen);
	key.p += pl, key.n -= pl;
	if ((e = hc_get(h, key, in->ms)) != NULL && e->nm > 0 &&
	    e->m[0].ms > sc.cutoff)
		f->client_authorized_ever = true;

	/* The probe: domains refused, and attempts in a fixed window. */
	key = hist_key(h, kb, "p:", in->ip, in->iplen);
	key.p += pl, key.n -= pl;
	if ((e = hc_put(h, key, in->ms, h->pwin_ms)) != NULL) {
		hc_trim(h, e, in->ms - h->pwin_ms);
		hc_zadd(h, e, (struct hist_str){in->domain, in->domainlen},
		    in->ms, h->domains_max);
		f->client_refused_domains = (unsigned)e->nm;
	}
	key = hist_key(h, kb, "pn:", in->ip, in->iplen);
	key.p += pl, key.n -= pl;
	if ((e = hc_get(h, key, in->ms)) != NULL) {
		hc_unlink_order(h, e); /* INCR keeps the TTL */
		hc_link_newest(h, e);
	} else if ((e = hc_put(h, key, in->ms, h->pwin_ms)) != NULL) {
		e->count = 0; /* SET NX EX: a window starts */
	}
	if (e != NULL) {
		n = ++e->count;
		f->client_refused_attempts =
		    n > UINT32_MAX ? UINT32_MAX : (unsigned)n;
		a->probe_attempts = f->client_refused_attempts;
		a->relay_probe = n == h->probe_attempts;
	}

	/* The outage: distinct senders with SASL history now refused. */
	if (sc.had_sasl) {
		key = hist_key(h, kb, "o", "", 0);
		key.p += pl, key.n -= pl;
		if ((e = hc_put(h, key, in->ms, h->owin_ms)) != NULL) {
			hc_trim(h, e, in->ms - h->owin_ms);
			hc_zadd(h, e,
			    (struct hist_str){in->sender, in->senderlen},
			    in->ms, h->outage_max);
			a->outage_senders = (unsigned)e->nm;
			if (e->nm >= h->outage_senders) {
				key = hist_key(h, kb, "ao", "", 0);
				key.p += pl, key.n -= pl;
				if (hc_get(h, key, in->ms) == NULL &&
				    hc_put(h, key, in->ms, h->owin_ms) !=
					NULL) {
					a->auth_outage = true;
					cache_sample(e, a);
				}
			}
		}
	}
	hc_evict(h);
}

/*
 * The Redis connection pool.
 */

/*
 * pool_take - a context for this call: 1 with call->c set (NULL: a slot
 * is reserved, connect), or 0: answer from the cache (Redis down and not
 * yet time to retry, or every connection busy until the deadline).
 */
static int
pool_take(struct rd_history *h, struct hist_call *call)
{
	struct timespec ts;
	int64_t now;

	pthread_mutex_lock(&h->pool_lock);
	for (;;) {
		now = hist_mono_ms();
		if (h->state == HIST_DOWN && now < h->retry_at_ms)
			break;
		if (h->state == HIST_DOWN && h->nconn >= HIST_POOL)
			break; /* calls from before still in flight */
		if (h->state == HIST_DOWN) {
			/* This caller retries; the others keep to the cache
			   until it has failed or succeeded. */
			h->retry_at_ms = now + h->backoff_ms;
			h->nconn++;
			call->c = NULL;
			call->gen = h->gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (h->nidle > 0) {
			call->c = h->idle[--h->nidle];
			call->gen = h->gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (h->nconn < HIST_POOL) {
			h->nconn++;
			call->c = NULL;
			call->gen = h->gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (now >= call->deadline_ms)
			break;
		ts.tv_sec = (time_t)(call->deadline_ms / 1000);
		ts.tv_nsec = (long)(call->deadline_ms % 1000) * 1000000;
		pthread_cond_timedwait(&h->pool_cv, &h->pool_lock, &ts);
	}
	pthread_mutex_unlock(&h->pool_lock);
	return (0);
}

/*
 * pool_give - end the call: keep its context (ok) or free it and mark
 * Redis down (why), logging a change of state once it is unlocked.
 */
static void
pool_give(struct rd_history *h, struct hist_call *call, bool ok)
{
	redisContext *drop[HIST_POOL + 1];
	size_t ndrop = 0, i;
	enum hist_state was;
	int64_t now = hist_mono_ms(), down_s = 0;

	pthread_mutex_lock(&h->pool_lock);
	was = h->state;
	if (ok) {
		if (call->gen == h->gen && h->nidle < HIST_POOL)
			h->idle[h->nidle++] = call->c;
		else {
			drop[ndrop++] = call->c;
			h->nconn--;
		}
		if (h->state != HIST_UP) {
			down_s = (now - h->down_since_ms + 500) / 1000;
			h->state = HIST_UP;
			h->backoff_ms = HIST_BACKOFF_MIN_MS;
		}
	} else {
		if (call->c != NULL)
			drop[ndrop++] = call->c;
		h->nconn--;
		if (h->state != HIST_DOWN) {
			h->state = HIST_DOWN;
			h->gen++;
			h->down_since_ms = now;
			h->backoff_ms = HIST_BACKOFF_MIN_MS;
			h->retry_at_ms = now + h->backoff_ms;
			while (h->nidle > 0) {
				drop[ndrop++] = h->idle[--h->nidle];
				h->nconn--;
			}
		} else if (call->gen == h->gen) {
			/* A retry failed (not a call that was already in
			   flight when Redis went down): wait longer. */
			h->backoff_ms = h->backoff_ms * 2 > HIST_BACKOFF_MAX_MS
					    ? HIST_BACKOFF_MAX_MS
					    : h->backoff_ms * 2;
			h->retry_at_ms = now + h->backoff_ms;
		}
	}
	pthread_cond_broadcast(&h->pool_cv);
	pthread_mutex_unlock(&h->pool_lock);

	for (i = 0; i < ndrop; i++)
		redisFree(drop[i]);
	if (ok && was == HIST_DOWN)
		hist_log(h, LOG_NOTICE,
		    "history: redis up after %" PRId64 " s; using it again",
		    down_s);
	else if (ok && was == HIST_INIT)
		hist_log(h, LOG_INFO, "history: redis up");
	else if (!ok && was != HIST_DOWN)
		hist_log(h, LOG_ERR,
		    "history: redis down: %s; using the "
		    "local cache",
		    call->why);
	call->c = NULL;
}

/* call_error - why the context failed, sanitized into call->why */
static void
call_error(
    const struct rd_history *h, struct hist_call *call, int e, const char *what)
{
	redisContext *c = call->c;
	char text[HIST_ERR_MAX];

	call->closed =
	    c != NULL &&
	    (c->err == REDIS_ERR_EOF ||
		(c->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE)));
	if (c != NULL && c->err == REDIS_ERR_IO &&
	    (e == EAGAIN || e == EWOULDBLOCK))
		snprintf(call->why, sizeof(call->why),
		    "%sno reply within "
		    "%u ms (HistoryTimeout)",
		    what, h->timeout_ms);
	else
		snprintf(call->why, sizeof(call->why), "%s%s", what,
		    rd_text_log_str(text, sizeof(text),
			c != NULL && c->errstr[0] != '\0' ? c->errstr
							  : "connection lost"));
}

/*
 * call_connect - a new connection within what is left of the deadline,
 * with AUTH and SELECT appended, to be read with the first exchange. 0,
 * or -1 with call->why (call->c, if any, is freed by pool_give).
 */
static int
call_connect(const struct rd_history *h, struct hist_call *call)
{
	int64_t left = call->deadline_ms - hist_mono_ms();
	struct rd_redis_setup st;
	struct rd_err err;
	size_t i, n;
	int r = 0;

	call->nprefix = 0;
	call->ncmd = 0;
	call->tv_ms = 0;
	if (left <= 0) {
		snprintf(call->why, sizeof(call->why),
		    "no connection within "
		    "%u ms (HistoryTimeout)",
		    h->timeout_ms);
		return (-1);
	}
	if ((call->c = rd_redis_dial(&h->url, (unsigned)left, &err)) == NULL) {
		n = rd_strlcpy(call->why, "connect: ", sizeof(call->why));
		rd_strlcpy(call->why + n, err.text, sizeof(call->why) - n);
		return (-1);
	}
	/* Appended, not waited for: their replies are read ahead of the
	   first exchange's, in the same round trip. */
	rd_redis_setup_argv(&h->url, &st);
	for (i = 0; i < st.n; i++) {
		r |= redisAppendCommandArgv(
		    call->c, st.cmd[i].argc, st.cmd[i].argv, st.cmd[i].argvlen);
		call->prefix_cmd[call->nprefix++] = st.cmd[i].argv[0];
	}
	if (r != REDIS_OK) {
		rd_strlcpy(call->why, "out of memory", sizeof(call->why));
		return (-1);
	}
	return (0);
}

/* call_begin - take a context, or connect one; 0, or -1: use the cache */
static int
call_begin(struct rd_history *h, struct hist_call *call)
{
	memset(call, 0, sizeof(*call));
	call->deadline_ms = hist_mono_ms() + h->timeout_ms;
	if (pool_take(h, call) == 0)
		return (-1);
	if (call->c != NULL) {
		call->reused = true;
		return (0);
	}
	if (call_connect(h, call) != 0) {
		pool_give(h, call, false);
		return (-1);
	}
	return (0);
}

/*
 * call_retry - whether to send the call again on a new connection: once,
 * when a pooled connection turned out closed (Redis's idle timeout, a
 * restart, CLIENT KILL), which says nothing about Redis now. Commands are
 * appended again by the caller.
 */
static bool
call_retry(const struct rd_history *h, struct hist_call *call)
{
	if (!call->reused || !call->closed || call->retried)
		return (false);
	redisFree(call->c);
	call->c = NULL;
	call->reused = false;
	call->closed = false;
	call->retried = true;
	return (call_connect(h, call) == 0);
}

/* call_cmd - append one command (binary-safe arguments) */
static int
call_cmd(struct hist_call *call, int argc, const struct hist_str *args)
{
	const char *argv[HIST_ARGS_MAX];
	size_t len[HIST_ARGS_MAX];
	int i;

	if (argc > HIST_ARGS_MAX)
		rd_panic("history: %d arguments for one command", argc);
	for (i = 0; i < argc; i++) {
		argv[i] = args[i].p;
		len[i] = args[i].n;
	}
	if (redisAppendCommandArgv(call->c, i, argv, len) != REDIS_OK) {
		rd_strlcpy(call->why, "out of memory", sizeof(call->why));
		return (-1);
	}
	call->ncmd++;
	return (0);
}

#define CMD(call, ...)                                                         \
	call_cmd((call),                                                       \
	    (int)(sizeof((struct hist_str[]){__VA_ARGS__}) /                   \
		  sizeof(struct hist_str)),                                    \
	    (struct hist_str[]){__VA_ARGS__})

static void
replies_free(redisReply **r, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (r[i] != NULL)
			freeReplyObject(r[i]);
		r[i] = NULL;
	}
}

/*
 * call_timeout - set the socket timeout to what is left of the deadline,
 * for the next read or write; 0, or -1 with call->why when nothing is left
 */
static int
call_timeout(const struct rd_history *h, struct hist_call *call)
{
	int64_t left = call->deadline_ms - hist_mono_ms();

	if (left <= 0) {
		snprintf(call->why, sizeof(call->why),
		    "no reply within %u ms (HistoryTimeout)", h->timeout_ms);
		return (-1);
	}
	if (left != call->tv_ms) { /* two setsockopt(2): only if it moved */
		redisSetTimeout(call->c, hist_tv(left));
		call->tv_ms = left;
	}
	return (0);
}

/*
 * call_reply - the next reply into *v, within the deadline: what is
 * appended is written first, then the socket is read until a reply is
 * whole, the timeout set again before each write and read. 0, or -1 with
 * call->why.
 */
static int
call_reply(const struct rd_history *h, struct hist_call *call, void **v)
{
	int done = 0;

	*v = NULL;
	if (redisGetReplyFromReader(call->c, v) != REDIS_OK)
		goto fail;
	if (*v != NULL)
		return (0);
	do { /* no system call when nothing is left to write */
		if (call_timeout(h, call) != 0)
			return (-1);
		if (redisBufferWrite(call->c, &done) != REDIS_OK)
			goto fail;
	} while (!done);
	for (;;) {
		if (call_timeout(h, call) != 0)
			return (-1);
		if (redisBufferRead(call->c) != REDIS_OK ||
		    redisGetReplyFromReader(call->c, v) != REDIS_OK)
			goto fail;
		if (*v != NULL)
			return (0);
	}
fail:
	call_error(h, call, errno, "");
	return (-1);
}

/*
 * call_exchange - send what was appended and read its replies (call->ncmd
 * of them) into r, or, r NULL, check and free them; within the deadline.
 * 0, or -1 with call->why (an error reply counts as a failure: a key of
 * another type, OOM).
 */
static int
call_exchange(
    const struct rd_history *h, struct hist_call *call, redisReply **r)
{
	char text[HIST_ERR_MAX];
	redisReply *pr;
	unsigned i, n = call->ncmd;
	void *v;

	call->ncmd = 0;
	for (i = 0; r != NULL && i < n; i++)
		r[i] = NULL;
	for (i = 0; i < call->nprefix; i++) {
		if (call_reply(h, call, &v) != 0)
			return (-1);
		pr = v;
		if (pr->type == REDIS_REPLY_ERROR) {
			snprintf(call->why, sizeof(call->why), "%s refused: %s",
			    call->prefix_cmd[i],
			    rd_text_log_str(text, sizeof(text), pr->str));
			freeReplyObject(pr);
			return (-1);
		}
		freeReplyObject(pr);
	}
	call->nprefix = 0;
	for (i = 0; i < n; i++) {
		if (call_reply(h, call, &v) != 0) {
			if (r != NULL)
				replies_free(r, i);
			return (-1);
		}
		pr = v;
		if (pr->type == REDIS_REPLY_ERROR) {
			snprintf(call->why, sizeof(call->why),
			    "error reply: %s",
			    rd_text_log_str(text, sizeof(text), pr->str));
			freeReplyObject(pr);
			if (r != NULL)
				replies_free(r, i);
			return (-1);
		}
		if (r != NULL)
			r[i] = pr;
		else
			freeReplyObject(pr);
	}
	return (0);
}

/* reply_ms - a reply's integer or number text as ms; -1 when nil */
static int64_t
reply_ms(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return ((int64_t)r->integer);
	if (r->type == REDIS_REPLY_STRING)
		return ((int64_t)strtod(r->str, NULL));
	return (-1);
}

/* redis_append_authorized - the commands of one write, appended */
static int
redis_append_authorized(const struct rd_history *h, struct hist_call *call,
    const struct hist_write *w)
{
	char kb[HIST_KEY_LEN], ms[24], cut[24], keep[24];
	char ma[HIST_IP_LEN + 3], ml[HIST_IP_LEN + 3];
	struct hist_in in;
	struct hist_str key;
	int rc = 0;

	/* hist_key and hist_member read a hist_in; the domain is not used */
	memcpy(in.sender, w->sender, (size_t)w->senderlen + 1);
	in.senderlen = w->senderlen;
	memcpy(in.ip, w->ip, (size_t)w->iplen + 1);
	in.iplen = w->iplen;
	in.ms = w->ms;
	snprintf(ms, sizeof(ms), "%" PRId64, in.ms);
	snprintf(cut, sizeof(cut), "%" PRId64, in.ms - h->hwin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->sender_max + 1);
	if (in.senderlen > 0) {
		key = hist_key(h, kb, "s:", in.sender, in.senderlen);
		if (w->sasl)
			rc |= CMD(call, HS("ZADD"), key, HS(ms),
			    hist_member(ma, 'a', &in), HS(ms),
			    hist_member(ml, 'l', &in));
		else
			rc |= CMD(call, HS("ZADD"), key, HS(ms),
			    hist_member(ma, 'a', &in));
		rc |=
		    CMD(call, HS("ZREMRANGEBYSCORE"), key, HS("-inf"), HS(cut));
		rc |= CMD(call, HS("ZREMRANGEBYRANK"), key, HS("0"), HS(keep));
		rc |= CMD(call, HS("EXPIRE"), key, HS(h->hwin));
	}
	key = hist_key(h, kb, "c:", in.ip, in.iplen);
	rc |= CMD(call, HS("HSET"), key, HS("auth"), HS(ms));
	rc |= CMD(call, HS("EXPIRE"), key, HS(h->hwin));
	return (rc);
}

/*
 * redis_authorized - the writer's round trip: the n writes of a batch,
 * pipelined; 0, or -1 when they did not reach Redis
 */
static int
redis_authorized(struct rd_history *h, const struct hist_write *w, size_t n)
{
	struct hist_call call;
	size_t i;
	int rc;

	if (call_begin(h, &call) != 0)
		return (-1);
again:
	for (rc = 0, i = 0; i < n && rc == 0; i++)
		rc = redis_append_authorized(h, &call, &w[i]);
	if (rc == 0 && call_exchange(h, &call, NULL) == 0) {
		pool_give(h, &call, true);
		return (0);
	}
	if (rc == 0 && call_retry(h, &call))
		goto again;
	pool_give(h, &call, false);
	return (-1);
}

/*
 * redis_outage - the second round trip of a refusal whose sender had
 * SASL history: count it among the outage senders; raise the alert when
 * the count reaches outage_senders and no MTA raised it this window.
 */
static int
redis_outage(struct rd_history *h, struct hist_call *call,
    const struct hist_in *in, unsigned count, struct rd_history_alerts *a)
{
	char kb[HIST_KEY_LEN], kb2[HIST_KEY_LEN], ms[24], cut[24], keep[24];
	char last[16];
	redisReply *r[HIST_CMDS_MAX];
	struct hist_str key, ao;
	bool alert = count >= h->outage_senders;
	size_t i;
	int rc = 0;

	snprintf(ms, sizeof(ms), "%" PRId64, in->ms);
	snprintf(cut, sizeof(cut), "%" PRId64, in->ms - h->owin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->outage_max + 1);
	snprintf(last, sizeof(last), "%d", HIST_SAMPLE - 1);
	key = hist_key(h, kb, "o", "", 0);
	rc |= CMD(call, HS("ZADD"), key, HS(ms),
	    ((struct hist_str){in->sender, in->senderlen}));
	rc |= CMD(call, HS("ZREMRANGEBYSCORE"), key, HS("-inf"), HS(cut));
	rc |= CMD(call, HS("ZREMRANGEBYRANK"), key, HS("0"), HS(keep));
	rc |= CMD(call, HS("EXPIRE"), key, HS(h->owin));
	if (alert) {
		ao = hist_key(h, kb2, "ao", "", 0);
		rc |= CMD(call, HS("SET"), ao, HS("1"), HS("EX"), HS(h->owin),
		    HS("NX"));
		rc |= CMD(call, HS("ZREVRANGE"), key, HS("0"), HS(last));
	}
	if (rc != 0 || call_exchange(h, call, r) != 0)
		return (-1);
	a->outage_senders = count;
	if (alert && r[4]->type == REDIS_REPLY_STATUS && /* +OK: ours */
	    r[5]->type == REDIS_REPLY_ARRAY) {
		a->auth_outage = true;
		for (i = 0; i < r[5]->elements && i < HIST_SAMPLE; i++)
			if (r[5]->element[i]->type == REDIS_REPLY_STRING)
				rd_strlcpy(
				    a->outage_sample[a->outage_nsample++],
				    r[5]->element[i]->str,
				    sizeof(a->outage_sample[0]));
	}
	replies_free(r, alert ? 6 : 4);
	return (0);
}

/* Replies of redis_refused's first round trip, by position. */
enum {
	RF_SENDER, /* ZRANGEBYSCORE s (cutoff +inf WITHSCORES */
	RF_OCOUNT, /* ZCOUNT o (cutoff +inf */
	RF_OSCORE, /* ZSCORE o sender */
	RF_CLIENT, /* HGET c auth */
	RF_PADD,
	RF_PTRIM,
	RF_PCAP,
	RF_PCARD,
	RF_PEXPIRE,
	RF_NSET,
	RF_NINCR,
	RF_N
};

static int
redis_refused(struct rd_history *h, const struct hist_in *in,
    struct rd_history_facts *f, struct rd_history_alerts *a)
{
	char bs[HIST_KEY_LEN], bc[HIST_KEY_LEN], bp[HIST_KEY_LEN];
	char bn[HIST_KEY_LEN], bo[HIST_KEY_LEN];
	char ms[24], hcut[25], pcut[24], ocut[25], keep[24];
	struct hist_scan sc = {.in = in, .facts = f};
	struct hist_str sender = {in->sender, in->senderlen};
	struct hist_str ks, kc, kp, kn, ko;
	redisReply *r[HIST_CMDS_MAX], *e;
	struct hist_call call;
	unsigned count;
	int64_t t;
	size_t i;
	int rc = 0;

	if (call_begin(h, &call) != 0)
		return (-1);
	snprintf(ms, sizeof(ms), "%" PRId64, in->ms);
	snprintf(hcut, sizeof(hcut), "(%" PRId64, in->ms - h->hwin_ms);
	snprintf(pcut, sizeof(pcut), "%" PRId64, in->ms - h->pwin_ms);
	snprintf(ocut, sizeof(ocut), "(%" PRId64, in->ms - h->owin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->domains_max + 1);
	ks = hist_key(h, bs, "s:", in->sender, in->senderlen);
	kc = hist_key(h, bc, "c:", in->ip, in->iplen);
	kp = hist_key(h, bp, "p:", in->ip, in->iplen);
	kn = hist_key(h, bn, "pn:", in->ip, in->iplen);
	ko = hist_key(h, bo, "o", "", 0);

	/* The facts before this refusal, then the probe's counts after it.
	   With the null sender the sender's three replies are PINGs, to
	   keep the positions. */
again:
	rc = 0;
	if (in->senderlen > 0) {
		rc |= CMD(&call, HS("ZRANGEBYSCORE"), ks, HS(hcut), HS("+inf"),
		    HS("WITHSCORES"));
		rc |= CMD(&call, HS("ZCOUNT"), ko, HS(ocut), HS("+inf"));
		rc |= CMD(&call, HS("ZSCORE"), ko, sender);
	} else
		for (i = 0; i < 3; i++)
			rc |= CMD(&call, HS("PING"));
	rc |= CMD(&call, HS("HGET"), kc, HS("auth"));
	rc |= CMD(&call, HS("ZADD"), kp, HS(ms),
	    ((struct hist_str){in->domain, in->domainlen}));
	rc |= CMD(&call, HS("ZREMRANGEBYSCORE"), kp, HS("-inf"), HS(pcut));
	rc |= CMD(&call, HS("ZREMRANGEBYRANK"), kp, HS("0"), HS(keep));
	rc |= CMD(&call, HS("ZCARD"), kp);
	rc |= CMD(&call, HS("EXPIRE"), kp, HS(h->pwin));
	rc |=
	    CMD(&call, HS("SET"), kn, HS("0"), HS("EX"), HS(h->pwin), HS("NX"));
	rc |= CMD(&call, HS("INCR"), kn);
	if (rc != 0)
		goto fail;
	if (call_exchange(h, &call, r) != 0) {
		if (call_retry(h, &call))
			goto again;
		goto fail;
	}

	sc.cutoff = in->ms - h->hwin_ms;
	if (in->senderlen > 0 && r[RF_SENDER]->type == REDIS_REPLY_ARRAY)
		for (i = 0; i + 1 < r[RF_SENDER]->elements; i += 2) {
			e = r[RF_SENDER]->element[i];
			if (e->type == REDIS_REPLY_STRING)
				hist_scan_member(&sc, e->str, e->len,
				    reply_ms(r[RF_SENDER]->element[i + 1]));
		}
	t = reply_ms(r[RF_CLIENT]);
	f->client_authorized_ever = t > sc.cutoff;
	f->client_refused_domains = r[RF_PCARD]->integer > UINT32_MAX
					? UINT32_MAX
					: (unsigned)r[RF_PCARD]->integer;
	f->client_refused_attempts = r[RF_NINCR]->integer > UINT32_MAX
					 ? UINT32_MAX
					 : (unsigned)r[RF_NINCR]->integer;
	a->probe_attempts = f->client_refused_attempts;
	a->relay_probe = r[RF_NINCR]->integer == (long long)h->probe_attempts;
	/* The outage count after this sender joins it. */
	count = 0;
	if (sc.had_sasl) {
		count = (unsigned)r[RF_OCOUNT]->integer;
		t = reply_ms(r[RF_OSCORE]);
		if (t <= in->ms - h->owin_ms)
			count++;
	}
	replies_free(r, RF_N);
	if (sc.had_sasl && redis_outage(h, &call, in, count, a) != 0)
		goto fail;
	pool_give(h, &call, true);
	f->from_redis = true;
	return (0);
fail:
	pool_give(h, &call, false);
	return (-1);
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
	h->state = HIST_INIT;
	h->backoff_ms = HIST_BACKOFF_MIN_MS;

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
	if (h->use_redis) {
		memset(facts, 0, sizeof(*facts));
		memset(alerts, 0, sizeof(*alerts));
		if (redis_refused(h, &in, facts, alerts) == 0) {
			hist_merge_probe(facts, alerts, &cf, &ca);
			return;
		}
	}
	*facts = cf;
	*alerts = ca;
}

bool
rd_history_redis_up(struct rd_history *h)
{
	bool up;

	pthread_mutex_lock(&h->pool_lock);
	up = h->use_redis && h->state == HIST_UP;
	pthread_mutex_unlock(&h->pool_lock);
	return (up);
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

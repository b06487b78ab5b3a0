/*
 * history_int.h - what history's files share: history.c (the API, the
 * input, the writer thread), history_cache.c (the local cache that
 * answers while Redis is away), history_redis.c (the connection pool with
 * deadlines, and the queries of the key schema) and history_keys.c (the
 * keys, the clock, the log). Private to lib/.
 */
#ifndef RELAYDIAG_HISTORY_INT_H
#define RELAYDIAG_HISTORY_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "relaydiag/history.h"
#include "relaydiag/redis.h"

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

#define HIST_POOL 4 /* Redis connections at most */

#define HIST_QUEUE 1024 /* queued writes at most, by default */

#define HIST_QUEUE_MIN 4

#define HIST_BATCH 64 /* writes per round trip; 6 commands each at most */
/* Woken with less than a quarter batch queued, the writer lingers this
   long, so that writes share round trips (as the publisher, publish_int.h) */
#define HIST_LINGER_US 1000

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
	int64_t idle_tv[HIST_POOL]; /* each one's socket timeout, ms */
	size_t nidle;
	size_t nconn;                  /* idle + in use + being connected */
	struct rd_redis_health health; /* up, down, when to retry (gen:
					bumped when Redis goes down) */

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
	int64_t tv_ms; /* c's socket timeout, ms; 0 not set by us */
	bool reused;   /* c came from the pool */
	bool closed;   /* c failed: EOF or reset */
	bool retried;
	char why[HIST_ERR_MAX];
};

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

/* history_keys.c: clocks, the log, keys and members, reading a member back */
int64_t hist_mono_ms(void);
struct timeval hist_tv(int64_t ms);
void hist_log(const struct rd_history *h, int prio, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct hist_str hist_key(const struct rd_history *h, char *buf,
    const char *kind, const char *text, size_t len);
struct hist_str hist_member(char *buf, char kind, const struct hist_in *in);
void hist_scan_member(
    struct hist_scan *sc, const char *name, size_t len, int64_t ms);

/* history_cache.c: the local cache (under h->cache_lock) */
void hc_delete(struct rd_history *h, struct hc_entry *e);
void cache_authorized(
    struct rd_history *h, const struct hist_in *in, bool sasl);
void cache_refused(struct rd_history *h, const struct hist_in *in,
    struct rd_history_facts *f, struct rd_history_alerts *a);

/* history_redis.c: the queries, each one call within its deadline; 0, or
   -1 (Redis down, slow or refusing: the caller keeps the cache's answer) */
int redis_authorized(
    struct rd_history *h, const struct hist_write *w, size_t n);
int redis_refused(struct rd_history *h, const struct hist_in *in,
    struct rd_history_facts *f, struct rd_history_alerts *a);

#endif

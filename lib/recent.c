/*
 * recent.c - what the log front end saw lately (recent.h): a ring of
 * entries found by key through a hash index of its slots (ringidx.c,
 * newest first: every unauthorized refusal looks up its client here, and
 * a scan cost up to 4096 entries of ~520 bytes, exactly when a password
 * guesser filled the ring), and a small open-addressed table of distinct
 * values with the time each was last seen, for counting them within a
 * window without comparing strings. Both under the ring's mutex.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/hash.h"
#include "relaydiag/recent.h"
#include "relaydiag/ringidx.h"
#include "relaydiag/text.h"

/* Distinct values are counted up to this: a larger limit never alerts. */
#define RECENT_DISTINCT_MAX 256
#define RECENT_VALUES 1024 /* slots of the distinct-value table */

struct recent_entry {
	time_t when; /* 0: empty */
	char key[RD_RECENT_VALUE_MAX];
	char value[RD_RECENT_VALUE_MAX];
};

struct recent_value {
	uint64_t hash; /* of the value, lower case; 0: empty slot */
	time_t last;
};

struct rd_recent {
	struct rd_ring r;
	struct recent_entry *v; /* r.v */
	struct recent_value values[RECENT_VALUES];
	time_t alerted; /* the last alert; 0: none */
};

/* recent_hash - FNV-1a of s in ASCII lower case; never 0 */
static uint64_t
recent_hash(const char *s)
{
	uint64_t h = rd_fnv1a_lower(RD_FNV1A_INIT, s, strlen(s));

	return (h != 0 ? h : 1);
}

struct rd_recent *
rd_recent_new(size_t cap)
{
	struct rd_recent *x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return (NULL);
	if (rd_ring_init(&x->r, cap, sizeof(*x->v)) != 0) {
		free(x);
		return (NULL);
	}
	x->v = x->r.v;
	return (x);
}

void
rd_recent_free(struct rd_recent *x)
{
	if (x == NULL)
		return;
	rd_ring_free(&x->r);
	free(x);
}

/*
 * recent_value_seen - value h seen at now: its slot updated, or a new one
 * (the slot of the oldest value when the table is full)
 */
static void
recent_value_seen(struct rd_recent *x, uint64_t h, time_t now)
{
	size_t i, k, oldest = 0;

	for (i = 0; i < RECENT_VALUES; i++) {
		k = (size_t)((h + i) % RECENT_VALUES);
		if (x->values[k].hash == h || x->values[k].hash == 0) {
			x->values[k].hash = h;
			x->values[k].last = now;
			return;
		}
		if (x->values[k].last < x->values[oldest].last)
			oldest = k;
	}
	x->values[oldest].hash = h;
	x->values[oldest].last = now;
}

/* recent_distinct - values seen within window, up to the cap */
static unsigned
recent_distinct(const struct rd_recent *x, time_t now, unsigned window)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < RECENT_VALUES && n < RECENT_DISTINCT_MAX; i++)
		if (x->values[i].hash != 0 &&
		    now - x->values[i].last <= (time_t)window)
			n++;
	return (n);
}

/* recent_gate - one alert per window of the ring (lock held) */
static bool
recent_gate(struct rd_recent *x, time_t when, unsigned window)
{
	if (x->alerted != 0 && when - x->alerted <= (time_t)window)
		return (false);
	x->alerted = when;
	return (true);
}

bool
rd_recent_note(struct rd_recent *x, const char *key, const char *value,
    time_t now, unsigned window, unsigned limit, unsigned *distinct)
{
	struct recent_entry e;
	uint64_t hk, hv;
	bool alert = false;

	*distinct = 0;
	if (x == NULL || key == NULL)
		return (false);
	memset(&e, 0, sizeof(e));
	e.when = now > 0 ? now : 1;
	/* A cut key or value would match wrongly: not noted. */
	if (rd_strlcpy(e.key, key, sizeof(e.key)) >= sizeof(e.key) ||
	    rd_strlcpy(e.value, value != NULL ? value : "", sizeof(e.value)) >=
		sizeof(e.value))
		return (false);
	hk = recent_hash(e.key);
	hv = e.value[0] != '\0' ? recent_hash(e.value) : 0;
	pthread_mutex_lock(&x->r.lock);
	x->v[rd_ring_claim(&x->r, hk)] = e;
	if (hv != 0)
		recent_value_seen(x, hv, e.when);
	*distinct = recent_distinct(x, e.when, window);
	if (limit > 0 && limit <= RECENT_DISTINCT_MAX && *distinct >= limit)
		alert = recent_gate(x, e.when, window);
	pthread_mutex_unlock(&x->r.lock);
	return (alert);
}

bool
rd_recent_alert_gate(struct rd_recent *x, time_t now, unsigned window)
{
	bool alert;

	if (x == NULL)
		return (false);
	pthread_mutex_lock(&x->r.lock);
	alert = recent_gate(x, now > 0 ? now : 1, window);
	pthread_mutex_unlock(&x->r.lock);
	return (alert);
}

bool
rd_recent_find(struct rd_recent *x, const char *key, time_t now,
    unsigned window, char value[RD_RECENT_VALUE_MAX])
{
	bool found = false;
	uint64_t h;
	size_t k;

	value[0] = '\0';
	if (x == NULL || key == NULL)
		return (false);
	h = recent_hash(key);
	pthread_mutex_lock(&x->r.lock);
	for (k = rd_ringidx_first(&x->r.idx, h); k != RD_RINGIDX_END && !found;
	     k = rd_ringidx_next(&x->r.idx, k, h)) { /* newest first */
		const struct recent_entry *e = &x->v[k];

		if (now - e->when > (time_t)window || now < e->when - 5 ||
		    rd_strcasecmp_ascii(e->key, key) != 0)
			continue;
		memcpy(value, e->value, RD_RECENT_VALUE_MAX);
		found = true;
	}
	pthread_mutex_unlock(&x->r.lock);
	return (found);
}

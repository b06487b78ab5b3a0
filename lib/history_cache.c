/*
 * history_cache.c - history's local cache: a bounded table of keys and
 * their members (a mirror of the Redis keys, without the prefix) with
 * least-recently-written eviction, and the answers it gives (history.c
 * explains the keys). Called under h->cache_lock.
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
#include "relaydiag/hash.h"
#include "relaydiag/history.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"

#include "history_int.h"

/*
 * The local cache. All hc_ functions run under cache_lock.
 */

static uint64_t
hc_hash(const char *s, size_t n)
{
	return (rd_fnv1a(RD_FNV1A_INIT, s, n));
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
void
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

void
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
		/* A sample is cut to its slot, as history.h says. */
		(void)rd_strlcpy(a->outage_sample[a->outage_nsample],
		    e->m[top[a->outage_nsample]].name,
		    sizeof(a->outage_sample[0]));
}

void
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

/*
 * seen.c - the milter's transactions by queue id (seen.h): a ring under
 * one mutex, found through a hash index of its slots (ringidx.c), the
 * newest entry first.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/hash.h"
#include "relaydiag/ringidx.h"
#include "relaydiag/seen.h"
#include "relaydiag/text.h"

struct seen_entry {
	time_t when; /* 0: empty */
	char qid[40];
	struct rd_seen_info info;
};

struct rd_seen {
	struct rd_ring r;
	struct seen_entry *v; /* r.v */
};

struct rd_seen *
rd_seen_new(size_t cap)
{
	struct rd_seen *x;

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
rd_seen_free(struct rd_seen *x)
{
	if (x == NULL)
		return;
	rd_ring_free(&x->r);
	free(x);
}

void
rd_seen_note(struct rd_seen *x, const char *queue_id,
    const struct rd_seen_info *info, time_t now)
{
	struct seen_entry *e;
	uint64_t h;

	if (x == NULL || queue_id == NULL || *queue_id == '\0' ||
	    strlen(queue_id) >= sizeof(e->qid))
		return;
	h = rd_fnv1a(RD_FNV1A_INIT, queue_id, strlen(queue_id));
	pthread_mutex_lock(&x->r.lock);
	e = &x->v[rd_ring_claim(&x->r, h)];
	e->when = now > 0 ? now : 1;
	/* Fits: checked above. */
	(void)rd_strlcpy(e->qid, queue_id, sizeof(e->qid));
	e->info = *info;
	pthread_mutex_unlock(&x->r.lock);
}

bool
rd_seen_find(struct rd_seen *x, const char *queue_id, time_t now,
    struct rd_seen_info *out)
{
	bool found = false;
	uint64_t h;
	size_t k;

	if (x == NULL || queue_id == NULL || *queue_id == '\0')
		return (false);
	h = rd_fnv1a(RD_FNV1A_INIT, queue_id, strlen(queue_id));
	pthread_mutex_lock(&x->r.lock);
	for (k = rd_ringidx_first(&x->r.idx, h); k != RD_RINGIDX_END && !found;
	     k = rd_ringidx_next(&x->r.idx, k, h)) { /* newest first */
		const struct seen_entry *e = &x->v[k];

		if (now - e->when > RD_SEEN_TTL ||
		    strcmp(e->qid, queue_id) != 0)
			continue;
		*out = e->info;
		found = true;
	}
	pthread_mutex_unlock(&x->r.lock);
	return (found);
}

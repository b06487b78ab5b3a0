/*
 * ringidx.c - the hash index over a ring's slots (ringidx.h): doubly
 * linked chains of slot numbers by hash, the newest at each chain's head;
 * and the locked ring around it.
 */
#include <stdlib.h>
#include <string.h>

#include "relaydiag/ringidx.h"

#define RINGIDX_OFF (SIZE_MAX - 1) /* prev of a slot in no chain */

int
rd_ringidx_init(struct rd_ringidx *r, size_t cap)
{
	size_t i;

	for (r->nb = 1; r->nb < cap; r->nb <<= 1)
		;
	r->head = malloc(r->nb * sizeof(*r->head));
	r->next = calloc(cap, sizeof(*r->next));
	r->prev = malloc(cap * sizeof(*r->prev));
	r->hash = calloc(cap, sizeof(*r->hash));
	if (r->head == NULL || r->next == NULL || r->prev == NULL ||
	    r->hash == NULL) {
		rd_ringidx_free(r);
		return (-1);
	}
	for (i = 0; i < r->nb; i++)
		r->head[i] = RD_RINGIDX_END;
	for (i = 0; i < cap; i++)
		r->prev[i] = RINGIDX_OFF;
	return (0);
}

void
rd_ringidx_free(struct rd_ringidx *r)
{
	free(r->head);
	free(r->next);
	free(r->prev);
	free(r->hash);
	r->head = r->next = r->prev = NULL;
	r->hash = NULL;
}

void
rd_ringidx_link(struct rd_ringidx *r, size_t slot, uint64_t hash)
{
	size_t b = (size_t)hash & (r->nb - 1);

	rd_ringidx_unlink(r, slot);
	r->hash[slot] = hash;
	r->prev[slot] = RD_RINGIDX_END;
	r->next[slot] = r->head[b];
	if (r->head[b] != RD_RINGIDX_END)
		r->prev[r->head[b]] = slot;
	r->head[b] = slot;
}

void
rd_ringidx_unlink(struct rd_ringidx *r, size_t slot)
{
	size_t b;

	if (r->prev[slot] == RINGIDX_OFF)
		return;
	b = (size_t)r->hash[slot] & (r->nb - 1);
	if (r->prev[slot] != RD_RINGIDX_END)
		r->next[r->prev[slot]] = r->next[slot];
	else
		r->head[b] = r->next[slot];
	if (r->next[slot] != RD_RINGIDX_END)
		r->prev[r->next[slot]] = r->prev[slot];
	r->prev[slot] = RINGIDX_OFF;
}

size_t
rd_ringidx_first(const struct rd_ringidx *r, uint64_t hash)
{
	size_t s = r->head[(size_t)hash & (r->nb - 1)];

	while (s != RD_RINGIDX_END && r->hash[s] != hash)
		s = r->next[s];
	return (s);
}

size_t
rd_ringidx_next(const struct rd_ringidx *r, size_t slot, uint64_t hash)
{
	size_t s = r->next[slot];

	while (s != RD_RINGIDX_END && r->hash[s] != hash)
		s = r->next[s];
	return (s);
}

int
rd_ring_init(struct rd_ring *r, size_t cap, size_t esize)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0 || (r->v = calloc(cap, esize)) == NULL)
		return (-1);
	if (rd_ringidx_init(&r->idx, cap) != 0) {
		free(r->v);
		r->v = NULL;
		return (-1);
	}
	r->cap = cap;
	pthread_mutex_init(&r->lock, NULL);
	return (0);
}

void
rd_ring_free(struct rd_ring *r)
{
	if (r->v == NULL)
		return;
	pthread_mutex_destroy(&r->lock);
	rd_ringidx_free(&r->idx);
	free(r->v);
	r->v = NULL;
}

size_t
rd_ring_claim(struct rd_ring *r, uint64_t hash)
{
	size_t slot = r->next;

	rd_ringidx_link(&r->idx, slot, hash); /* unlinks the oldest first */
	r->next = (r->next + 1) % r->cap;
	return (slot);
}

/*
 * ringidx.c - the hash index over a ring's slots (ringidx.h): doubly
 * linked chains of slot numbers by hash, the newest at each chain's head.
 */
#include <stdlib.h>

#include "relaydiag/ringidx.h"

int
rd_ringidx_init(struct rd_ringidx *r, size_t cap)
{
	size_t i;

	r->cap = cap;
	for (r->nb = 1; r->nb < cap; r->nb <<= 1)
		;
	r->head = malloc(r->nb * sizeof(*r->head));
	r->next = calloc(cap, sizeof(*r->next));
	r->prev = calloc(cap, sizeof(*r->prev));
	r->hash = calloc(cap, sizeof(*r->hash));
	r->linked = calloc(cap, sizeof(*r->linked));
	if (r->head == NULL || r->next == NULL || r->prev == NULL ||
	    r->hash == NULL || r->linked == NULL) {
		rd_ringidx_free(r);
		return (-1);
	}
	for (i = 0; i < r->nb; i++)
		r->head[i] = RD_RINGIDX_END;
	return (0);
}

void
rd_ringidx_free(struct rd_ringidx *r)
{
	free(r->head);
	free(r->next);
	free(r->prev);
	free(r->hash);
	free(r->linked);
	r->head = r->next = r->prev = NULL;
	r->hash = NULL;
	r->linked = NULL;
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
	r->linked[slot] = true;
}

void
rd_ringidx_unlink(struct rd_ringidx *r, size_t slot)
{
	size_t b;

	if (!r->linked[slot])
		return;
	b = (size_t)r->hash[slot] & (r->nb - 1);
	if (r->prev[slot] != RD_RINGIDX_END)
		r->next[r->prev[slot]] = r->next[slot];
	else
		r->head[b] = r->next[slot];
	if (r->next[slot] != RD_RINGIDX_END)
		r->prev[r->next[slot]] = r->prev[slot];
	r->linked[slot] = false;
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

uint64_t
rd_ringidx_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	if (h == 0)
		h = 14695981039346656037ULL;
	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return (h);
}

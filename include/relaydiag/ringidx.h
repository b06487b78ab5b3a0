/*
 * ringidx.h - a hash index over the slots of a fixed ring (explained.c,
 * seen.c): which slots may hold a key, newest first, without scanning the
 * ring. The ring's owner keeps the entries and its lock; the index keeps
 * only slot numbers in chains by hash (a slot is unlinked before it is
 * written again), so a look-up costs the entries of one chain, not the
 * ring's thousands.
 * Owns struct rd_ringidx. Threads: none of its own; under the owner's lock.
 */
#ifndef RELAYDIAG_RINGIDX_H
#define RELAYDIAG_RINGIDX_H

#include <stddef.h>
#include <stdint.h>

#define RD_RINGIDX_END SIZE_MAX /* no (more) slot */

struct rd_ringidx {
	size_t nb;      /* buckets: a power of two >= the slots */
	size_t *head;   /* per bucket: the newest slot, or RD_RINGIDX_END */
	size_t *next;   /* per slot: the next older slot of its chain */
	size_t *prev;   /* per slot: the newer one, RD_RINGIDX_END at the
			   chain's head, or (ringidx.c) "not linked" */
	uint64_t *hash; /* per slot */
};

/* rd_ringidx_init - an empty index of cap slots; 0, or -1 (no memory) */
int rd_ringidx_init(struct rd_ringidx *r, size_t cap);
void rd_ringidx_free(struct rd_ringidx *r);

/* rd_ringidx_link - slot now holds a key of this hash (newest) */
void rd_ringidx_link(struct rd_ringidx *r, size_t slot, uint64_t hash);

/* rd_ringidx_unlink - slot holds nothing any more (a no-op if so already) */
void rd_ringidx_unlink(struct rd_ringidx *r, size_t slot);

/*
 * rd_ringidx_first, rd_ringidx_next - the slots that may hold a key of
 * this hash, newest first; RD_RINGIDX_END at the end. The caller compares
 * the keys: different keys may share a hash.
 */
size_t rd_ringidx_first(const struct rd_ringidx *r, uint64_t hash);
size_t rd_ringidx_next(const struct rd_ringidx *r, size_t slot, uint64_t hash);

#endif

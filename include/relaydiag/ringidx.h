/*
 * ringidx.h - a hash index over the slots of a fixed ring, and the locked
 * ring that explained.c, seen.c and recent.c keep their entries in: which
 * slots hold a key, newest first, without scanning the ring. The index
 * keeps only slot numbers in chains by hash (a slot is unlinked before it
 * is written again), so a look-up costs the entries of one chain, not the
 * ring's thousands.
 * Owns struct rd_ringidx and struct rd_ring. Threads: none of its own;
 * everything but rd_ring_init and rd_ring_free under the ring's lock.
 */
#ifndef RELAYDIAG_RINGIDX_H
#define RELAYDIAG_RINGIDX_H

#include <pthread.h>
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

/*
 * struct rd_ring - cap entries of one size, written in turn (the oldest
 * goes first), under one mutex, with the index of their slots. The owner
 * keeps a typed pointer to v; look-ups walk rd_ringidx_first/next on idx.
 */
struct rd_ring {
	pthread_mutex_t lock;
	void *v;          /* cap entries, zeroed at first */
	size_t cap, next; /* next: the slot written next (the oldest) */
	struct rd_ringidx idx;
};

/* rd_ring_init - cap zeroed entries of esize bytes; 0, or -1 (cap 0, or
   no memory: nothing is left allocated) */
int rd_ring_init(struct rd_ring *r, size_t cap, size_t esize);
void rd_ring_free(struct rd_ring *r);

/* rd_ring_claim - the slot the next entry goes to (the oldest, whatever it
   held), linked under hash as the newest; under r->lock */
size_t rd_ring_claim(struct rd_ring *r, uint64_t hash);

#endif

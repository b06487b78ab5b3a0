/*
 * hash.h - FNV-1a, the one hash of relaydiag's in-memory tables (domain
 * sets, the history cache, the recent and explained look-ups, the seen
 * ring, the metrics' label sets): 64 bits, a byte at a time, optionally
 * folded to ASCII lower case for keys compared without case. Not for
 * anything an attacker must not be able to collide on purpose: every
 * table bounds its chains or its size.
 * Owns nothing; inline functions only.
 */
#ifndef RELAYDIAG_HASH_H
#define RELAYDIAG_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RD_FNV1A_INIT 14695981039346656037ULL

/* rd_fnv1a_byte - h with one more byte */
static inline uint64_t
rd_fnv1a_byte(uint64_t h, unsigned char c)
{
	return ((h ^ c) * 1099511628211ULL);
}

/* rd_fnv1a - h with n more bytes of p */
static inline uint64_t
rd_fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n-- > 0)
		h = rd_fnv1a_byte(h, *c++);
	return (h);
}

/* rd_fnv1a_lower - rd_fnv1a of the bytes in ASCII lower case */
static inline uint64_t
rd_fnv1a_lower(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (; n > 0; n--, c++)
		h = rd_fnv1a_byte(
		    h, *c >= 'A' && *c <= 'Z' ? (unsigned char)(*c + 32) : *c);
	return (h);
}

#endif

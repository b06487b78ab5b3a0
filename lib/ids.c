/*
 * ids.c - session and event identifiers, RFC 3339 time stamps.
 *
 * Owns the id format: 16 characters of Crockford base32, 40 bits of
 * milliseconds (sortable, wraps after ~34 years) and 40 random bits. 20
 * random bits were too few: at 100 sessions/s two sessions in the same
 * millisecond shared an id about once in 2.5 days, and their events then
 * told one story; with 40 bits that is once in ~7000 years at 100/s. The
 * random bits come from a per-thread xorshift64* generator seeded once
 * from getrandom(2) (not a system call per session: ids need to differ,
 * not to be secret). Threads: safe; each thread has its own state.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "relaydiag/ids.h"

static const char ids_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

static __thread uint64_t ids_state; /* 0: not seeded yet */

/* ids_random - 64 random bits from this thread's generator */
static uint64_t
ids_random(const struct timespec *ts)
{
	uint64_t x = ids_state;

	if (x == 0) {
		if (getrandom(&x, sizeof(x), GRND_NONBLOCK) != sizeof(x))
			x = (uint64_t)ts->tv_nsec ^ (uint64_t)(uintptr_t)&x ^
			    ((uint64_t)ts->tv_sec << 32);
		if (x == 0)
			x = 0x9E3779B97F4A7C15ULL;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ids_state = x;
	return (x * 0x2545F4914F6CDD1DULL);
}

void
rd_id_session(char out[RD_SID_LEN + 1])
{
	struct timespec ts;
	uint64_t ms, rnd;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	/* The top 40 bits: xorshift64*'s low bits are its weakest. */
	rnd = ids_random(&ts) >> 24;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* 40 bits of time (8 characters), then 40 random bits (8). */
	for (i = RD_SID_LEN / 2 - 1; i >= 0; i--) {
		out[i] = ids_b32[ms & 31];
		ms >>= 5;
		out[RD_SID_LEN / 2 + i] = ids_b32[rnd & 31];
		rnd >>= 5;
	}
	out[RD_SID_LEN] = '\0';
}

void
rd_id_event(char out[RD_EID_MAX], const char *sid, unsigned seq)
{
	snprintf(out, RD_EID_MAX, "%s.%u", sid, seq);
}

void
rd_time_rfc3339(char out[RD_TS_MAX], const struct timespec *ts)
{
	struct tm tm;
	char base[24];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, RD_TS_MAX, "%.19s.%03dZ", base,
	    (int)(ts->tv_nsec / 1000000) % 1000);
}

long long
rd_time_ms_between(const struct timespec *a, const struct timespec *b)
{
	return ((long long)(b->tv_sec - a->tv_sec) * 1000 +
		(b->tv_nsec - a->tv_nsec) / 1000000);
}

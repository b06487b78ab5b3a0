/*
 * ids.c - session and event identifiers, RFC 3339 time stamps.
 *
 * Owns the id format: 12 characters of Crockford base32, 40 bits of
 * milliseconds (sortable, wraps after ~34 years) and 20 random bits. The
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

/* ids_random - 32 random bits from this thread's generator */
static uint32_t
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
	return ((uint32_t)((x * 0x2545F4914F6CDD1DULL) >> 32));
}

void
rd_id_session(char out[RD_SID_LEN + 1])
{
	struct timespec ts;
	uint32_t rnd;
	uint64_t v;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	rnd = ids_random(&ts);
	v = ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	/* 40 bits of time, then 20 random bits: 60 bits = 12 characters. */
	v = ((v & 0xFFFFFFFFFFULL) << 20) | (rnd & 0xFFFFF);
	for (i = RD_SID_LEN - 1; i >= 0; i--) {
		out[i] = ids_b32[v & 31];
		v >>= 5;
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

/*
 * ids.c - session and event identifiers, RFC 3339 time stamps.
 *
 * Owns the id format: 12 characters of Crockford base32, 40 bits of
 * milliseconds (sortable, wraps after ~34 years) and 20 random bits from
 * getrandom(2). Threads: safe; no shared state.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "relaydiag/ids.h"

static const char ids_b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

void
rd_id_session(char out[RD_SID_LEN + 1])
{
	struct timespec ts;
	uint32_t rnd = 0;
	uint64_t v;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)(uintptr_t)&ts;
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

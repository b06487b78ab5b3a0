/*
 * restart.h - the AutoRestart policy: when the supervisor starts the
 * filter process again, and when it gives up.
 * Owns the grammar of AutoRestartRate ("n/t": at most n restarts within t
 * seconds, t with an optional s, m, h or d suffix, as OpenDKIM's key of
 * the same name) and the sliding window that applies it. The process side
 * (fork, wait, signals) is milter/supervise.c.
 * Threads: pure; a struct rd_restart belongs to its one caller.
 */
#ifndef RELAYDIAG_RESTART_H
#define RELAYDIAG_RESTART_H

#include <stdbool.h>
#include <stdint.h>

#define RD_RESTART_MAX 1000u         /* n at most */
#define RD_RESTART_TMAX (7u * 86400) /* t at most: a week */

struct rd_restart_rate {
	unsigned n; /* restarts allowed... */
	unsigned t; /* ...within this many seconds */
};

/*
 * rd_restart_rate_parse - "n/t" into *out; 0, or -1 with why[] filled
 * (e.g. "10/1h", "3/60", "5/10m"; n from 1 to 1000, t from 1 s to 7 d)
 */
int rd_restart_rate_parse(
    const char *s, struct rd_restart_rate *out, char *why, size_t whylen);

/* The restarts of the last window, oldest first (a ring of n times). */
struct rd_restart {
	struct rd_restart_rate rate;
	int64_t at_ms[RD_RESTART_MAX];
	unsigned count; /* restarts in at_ms (<= rate.n) */
	unsigned head;  /* index of the oldest */
	uint64_t total; /* restarts since start */
};

void rd_restart_init(struct rd_restart *r, const struct rd_restart_rate *rate);

/*
 * rd_restart_allow - a restart is wanted at now_ms: true (and counted)
 * when fewer than rate.n restarts fall within the rate.t seconds before
 * it; false: give up
 */
bool rd_restart_allow(struct rd_restart *r, int64_t now_ms);

#endif

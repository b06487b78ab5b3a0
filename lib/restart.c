/*
 * restart.c - the AutoRestart policy: the "n/t" grammar and the sliding
 * window of restarts (restart.h).
 */
#include <stdio.h>
#include <string.h>

#include "relaydiag/restart.h"

/* restart_number - a decimal number of 1 to 10 digits; -1 if none */
static long long
restart_number(const char **sp)
{
	const char *s = *sp;
	long long v = 0;
	int n = 0;

	while (*s >= '0' && *s <= '9' && n < 10) {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n == 0 || (*s >= '0' && *s <= '9'))
		return (-1);
	*sp = s;
	return (v);
}

int
rd_restart_rate_parse(
    const char *s, struct rd_restart_rate *out, char *why, size_t whylen)
{
	long long n, t, mult = 1;
	const char *p = s;

	if ((n = restart_number(&p)) < 0 || *p++ != '/' ||
	    (t = restart_number(&p)) < 0) {
		snprintf(why, whylen,
		    "expected n/t, such as 10/1h (at most "
		    "n restarts within t)");
		return (-1);
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		p++;
		break;
	case 'm':
		mult = 60, p++;
		break;
	case 'h':
		mult = 3600, p++;
		break;
	case 'd':
		mult = 86400, p++;
		break;
	default:
		break;
	}
	if (*p != '\0') {
		snprintf(why, whylen,
		    "t takes the suffix s, m, h or d, "
		    "nothing else");
		return (-1);
	}
	if (n < 1 || n > RD_RESTART_MAX) {
		snprintf(why, whylen, "n must be from 1 to %u", RD_RESTART_MAX);
		return (-1);
	}
	if (t < 1 || t * mult > RD_RESTART_TMAX) {
		snprintf(why, whylen, "t must be from 1 s to 7 d");
		return (-1);
	}
	out->n = (unsigned)n;
	out->t = (unsigned)(t * mult);
	return (0);
}

void
rd_restart_init(struct rd_restart *r, const struct rd_restart_rate *rate)
{
	memset(r, 0, sizeof(*r));
	r->rate = *rate;
	if (r->rate.n < 1)
		r->rate.n = 1;
	if (r->rate.n > RD_RESTART_MAX)
		r->rate.n = RD_RESTART_MAX;
}

bool
rd_restart_allow(struct rd_restart *r, int64_t now_ms)
{
	int64_t window = (int64_t)r->rate.t * 1000;

	/* Forget the restarts that left the window. */
	while (r->count > 0 && now_ms - r->at_ms[r->head] >= window) {
		r->head = (r->head + 1) % r->rate.n;
		r->count--;
	}
	if (r->count == r->rate.n)
		return (false);
	r->at_ms[(r->head + r->count) % r->rate.n] = now_ms;
	r->count++;
	r->total++;
	return (true);
}

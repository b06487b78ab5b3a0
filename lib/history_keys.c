/*
 * history_keys.c - what history's files share: the monotonic clock and
 * the log line, the Redis key of a kind and a text (under the prefix),
 * the member of a sender's set, and reading such a member back into the
 * facts (history.c explains the keys).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <hiredis/hiredis.h>
#include "relaydiag/history.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"
#include "history_int.h"

/* hist_mono_ms - CLOCK_MONOTONIC in milliseconds */
int64_t
hist_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

struct timeval
hist_tv(int64_t ms)
{
	struct timeval tv;

	if (ms < 1)
		ms = 1;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return (tv);
}

void
hist_log(const struct rd_history *h, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (h->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->log(prio, msg);
}

/*
 * hist_key - "<prefix><kind><text>" into buf; the result includes the
 * prefix, and key.p + h->prefixlen is the cache's key.
 */
struct hist_str
hist_key(const struct rd_history *h, char *buf, const char *kind,
    const char *text, size_t len)
{
	size_t k = strlen(kind);

	memcpy(buf, h->prefix, h->prefixlen);
	memcpy(buf + h->prefixlen, kind, k);
	memcpy(buf + h->prefixlen + k, text, len);
	buf[h->prefixlen + k + len] = '\0';
	return ((struct hist_str){buf, h->prefixlen + k + len});
}

/* hist_member - "<kind><ip>" into buf (size HIST_IP_LEN + 3) */
struct hist_str
hist_member(char *buf, char kind, const struct hist_in *in)
{
	buf[0] = kind;
	buf[1] = ':';
	memcpy(buf + 2, in->ip, in->iplen + 1);
	return ((struct hist_str){buf, in->iplen + 2});
}

void
hist_scan_member(struct hist_scan *sc, const char *name, size_t len, int64_t ms)
{
	struct rd_history_facts *f = sc->facts;
	const char *ip;
	size_t iplen;
	bool here;

	if (ms <= sc->cutoff || len < 2 || name[1] != ':')
		return;
	ip = name + 2;
	iplen = len - 2;
	here = iplen == sc->in->iplen && memcmp(ip, sc->in->ip, iplen) == 0;
	if (name[0] == 'a') {
		f->sender_authorized_ever = true;
		if (!here && (!f->sender_authorized_elsewhere ||
				 ms > sc->elsewhere_ms)) {
			f->sender_authorized_elsewhere = true;
			sc->elsewhere_ms = ms;
			if (iplen > sizeof(f->elsewhere_ip) - 1)
				iplen = sizeof(f->elsewhere_ip) - 1;
			memcpy(f->elsewhere_ip, ip, iplen);
			f->elsewhere_ip[iplen] = '\0';
		}
	} else if (name[0] == 'l') {
		sc->had_sasl = true;
		if (here)
			f->sender_sasl_here = true;
	}
}

/*
 * dns.c - the MX check: does a domain's MX point to this server? One
 * libunbound context, asked asynchronously, with a hard deadline per lookup.
 *
 * Owns the resolver context (struct ub_ctx) and the reading of MX answers
 * (RFC 1035 3.3.9; null MX, RFC 7505). Which names are ours belongs to the
 * caller (p->our_names, a domainset); what the answer means for a recipient
 * to diagnose.c.
 *
 * Deadline: a lookup is ub_resolve_async() followed by a wait on ub_fd()
 * with ppoll(), never the blocking ub_resolve(), so it returns
 * RD_MX_UNKNOWN at timeout_ms whatever the network does. A query that
 * missed its deadline is not cancelled: unbound finishes it in its own
 * thread and stores the answer in its cache (positive and negative, by TTL),
 * so the next session asking for that domain gets it at once. Its callback
 * arrives later, through some other lookup's ub_process(), and only frees
 * the abandoned query. Unbound also merges identical queries in flight, so
 * a burst of sessions to one slow domain costs one resolution.
 *
 * Threads: one ub_ctx for the process, shared. A ctx per thread would give
 * each its own cache (the late answer would not help the next session,
 * which may run on another thread) and its own resolver thread and
 * sockets; libmilter may use many threads. So: d->lock serializes
 * ub_resolve_async() and ub_process() (the callbacks run inside
 * ub_process(), under the lock, and touch only queries). At most one thread
 * at a time waits in ppoll() on ub_fd() without the lock (d->polling);
 * the others wait on d->cond with their own deadline. Whoever polls
 * processes every answer that arrived and broadcasts, so each waiter finds
 * its query done, or takes over the polling when the poller leaves.
 * libunbound runs its resolver in a thread (ub_ctx_async(ctx, 1)), not in a
 * forked process, so rd_dns_new() must come after any fork().
 * Memory: d owns the context and every query in flight. Queries are on
 * the heap, not the caller's stack, because an abandoned one outlives the
 * call that made it; rd_dns_free() frees those whose answer never came.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unbound.h>

#include "relaydiag/metrics.h"
#include "relaydiag/addr.h"
#include "relaydiag/dns.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"

#define DNS_SOURCE "DNS"
#define DNS_RR_MX 15         /* RFC 1035 3.2.2 */
#define DNS_CLASS_IN 1       /* RFC 1035 3.2.4 */
#define DNS_RCODE_NXDOMAIN 3 /* RFC 1035 4.1.1 */
#define DNS_WIRE_MAX 255     /* RFC 1035 2.3.4: a name on the wire */
#define DNS_TEXT_MAX 1024    /* 255 wire bytes as text, \DDD escapes and all */

struct dns_query {
	struct rd_dns *d;
	struct dns_query *prev, *next; /* d->queries: every query in flight */
	bool done;                     /* the callback ran; answer is set */
	bool abandoned;                /* its caller left: free on callback */
	enum rd_mx_answer answer;
	char mx[DNS_TEXT_MAX];
	/* rd_dns_mx_has: the host to look for ("" : our_names) */
	char want[DNS_TEXT_MAX];
};

struct rd_dns {
	struct ub_ctx *ctx;
	const struct rd_domainset *our_names; /* borrowed, see dns.h */
	unsigned timeout_ms;
	pthread_mutex_t lock; /* ctx calls, queries, polling */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC; an answer was processed */
	bool polling;         /* a thread is in ppoll() on ub_fd() */
	struct dns_query *queries;
};

/* dns_now - CLOCK_MONOTONIC */
static struct timespec
dns_now(void)
{
	struct timespec ts;
	char ebuf[128];

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		rd_panic("dns: clock_gettime(CLOCK_MONOTONIC): %s",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
	return (ts);
}

/* dns_add_ms - ts plus ms milliseconds */
static struct timespec
dns_add_ms(struct timespec ts, unsigned ms)
{
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return (ts);
}

/* dns_left - deadline minus now into *left; false when it has passed */
static bool
dns_left(struct timespec deadline, struct timespec *left)
{
	struct timespec now = dns_now();

	if (now.tv_sec > deadline.tv_sec ||
	    (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
		return (false);
	left->tv_sec = deadline.tv_sec - now.tv_sec;
	left->tv_nsec = deadline.tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += 1000000000L;
	}
	return (true);
}

/* dns_link - put q on d->queries (lock held) */
static void
dns_link(struct rd_dns *d, struct dns_query *q)
{
	q->prev = NULL;
	q->next = d->queries;
	if (d->queries != NULL)
		d->queries->prev = q;
	d->queries = q;
}

/* dns_unlink - take q off d->queries (lock held) */
static void
dns_unlink(struct rd_dns *d, struct dns_query *q)
{
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	q->prev = q->next = NULL;
}

/*
 * dns_name_text - the wire name p[0..len) (RFC 1035 3.1; unbound gives
 * rdata names uncompressed) as lower-case text without the trailing dot,
 * "." for the root. Bytes that cannot be in a host name become \DDD, so
 * they never match one of our names. -1 when malformed.
 */
static int
dns_name_text(const unsigned char *p, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0, n, k;
	char esc[5];

	for (;;) {
		if (i >= len || i >= DNS_WIRE_MAX)
			return (-1);
		n = p[i++];
		if (n == 0)
			break;
		if (n > 63 || i + n > len) /* a pointer, or cut */
			return (-1);
		if (o > 0) {
			if (o + 1 >= outlen)
				return (-1);
			out[o++] = '.';
		}
		for (k = 0; k < n; k++, i++) {
			unsigned char c = p[i];

			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    c == '-' || c == '_') {
				if (o + 1 >= outlen)
					return (-1);
				out[o++] = (char)c;
			} else if (c >= 'A' && c <= 'Z') {
				if (o + 1 >= outlen)
					return (-1);
				out[o++] = (char)(c - 'A' + 'a');
			} else {
				(void)snprintf(esc, sizeof(esc), "\\%03u", c);
				if (o + 4 >= outlen)
					return (-1);
				memcpy(out + o, esc, 4);
				o += 4;
			}
		}
	}
	if (o == 0) {
		if (outlen < 2)
			return (-1);
		out[o++] = '.';
	}
	out[o] = '\0';
	return (0);
}

/*
 * dns_interpret - an MX answer as here / elsewhere / none / unknown, with
 * the host to show: the first of ours in the answer (here), else the most
 * preferred (lowest preference, RFC 5321 5.1), "." for a null MX, "" when
 * there is no MX.
 */
static void
dns_interpret(
    const struct rd_dns *d, const struct ub_result *res, struct dns_query *q)
{
	char host[DNS_TEXT_MAX];
	unsigned best = 0x10000, pref;
	bool here = false, null_mx = false, other = false;
	int i;

	q->mx[0] = '\0';
	if (res->bogus) {
		q->answer = RD_MX_UNKNOWN; /* DNSSEC says the data is forged */
		return;
	}
	if (res->rcode == DNS_RCODE_NXDOMAIN || res->nxdomain) {
		q->answer = RD_MX_NONE;
		return;
	}
	if (res->rcode != 0) { /* SERVFAIL, REFUSED, ... */
		q->answer = RD_MX_UNKNOWN;
		return;
	}
	if (!res->havedata) { /* NODATA */
		q->answer = RD_MX_NONE;
		return;
	}
	for (i = 0; res->data[i] != NULL; i++) {
		const unsigned char *rd = (const unsigned char *)res->data[i];

		/* RDATA: PREFERENCE (16 bits), EXCHANGE (a name). */
		if (res->len[i] < 3 ||
		    dns_name_text(rd + 2, (size_t)res->len[i] - 2, host,
			sizeof(host)) == -1)
			continue;
		pref = (unsigned)rd[0] << 8 | rd[1];
		if (strcmp(host, ".") == 0) { /* RFC 7505 null MX */
			null_mx = true;
			continue;
		}
		if (!here &&
		    (q->want[0] != '\0'
			    ? rd_strcasecmp_ascii(q->want, host) == 0
			    : rd_domainset_match(d->our_names, host))) {
			here = true;
			(void)rd_strlcpy(q->mx, host, sizeof(q->mx));
		}
		if (!here && pref < best) {
			best = pref;
			(void)rd_strlcpy(q->mx, host, sizeof(q->mx));
		}
		other = true;
	}
	if (here)
		q->answer = RD_MX_HERE;
	else if (other) /* a null MX next to real ones breaks RFC 7505 */
		q->answer = RD_MX_ELSEWHERE;
	else if (null_mx) {
		q->answer = RD_MX_NONE;
		(void)rd_strlcpy(q->mx, ".", sizeof(q->mx));
	} else
		q->answer = RD_MX_UNKNOWN; /* only malformed records */
}

/*
 * dns_callback - libunbound's answer for one query. Runs inside
 * ub_process(), so with d->lock held by the thread that called it.
 */
static void
dns_callback(void *arg, int uerr, struct ub_result *res)
{
	struct dns_query *q = arg;

	if (uerr != 0 || res == NULL)
		q->answer = RD_MX_UNKNOWN;
	else
		dns_interpret(q->d, res, q);
	ub_resolve_free(res);
	if (q->abandoned) {
		dns_unlink(q->d, q);
		free(q);
	} else
		q->done = true;
}

/*
 * dns_start - a new query for name on d->queries (lock held); NULL when
 * out of memory or when unbound refuses (its error in *uerr).
 */
static struct dns_query *
dns_start(struct rd_dns *d, const char *name, int *uerr)
{
	struct dns_query *q;

	*uerr = 0;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return (NULL);
	q->d = d;
	q->answer = RD_MX_UNKNOWN;
	*uerr = ub_resolve_async(
	    d->ctx, name, DNS_RR_MX, DNS_CLASS_IN, q, dns_callback, NULL);
	if (*uerr != 0) {
		free(q);
		return (NULL);
	}
	dns_link(d, q);
	return (q);
}

struct rd_dns *
rd_dns_new(const struct rd_dns_params *p, struct rd_err *err)
{
	struct rd_dns *d;
	struct dns_query *probe;
	pthread_condattr_t ca;
	const char *source;
	int rc;

	if (err != NULL)
		rd_err_clear(err);
	if (p == NULL) {
		rd_err_set(err, DNS_SOURCE, 0, "no resolver parameters");
		return (NULL);
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		rd_err_set(err, DNS_SOURCE, 0, "out of memory");
		return (NULL);
	}
	d->our_names = p->our_names;
	d->timeout_ms = p->timeout_ms;
	if (pthread_mutex_init(&d->lock, NULL) != 0 ||
	    pthread_condattr_init(&ca) != 0) {
		free(d);
		rd_err_set(err, DNS_SOURCE, 0, "cannot create a mutex");
		return (NULL);
	}
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) != 0 ||
	    pthread_cond_init(&d->cond, &ca) != 0) {
		(void)pthread_condattr_destroy(&ca);
		(void)pthread_mutex_destroy(&d->lock);
		free(d);
		rd_err_set(err, DNS_SOURCE, 0, "cannot create a condition");
		return (NULL);
	}
	(void)pthread_condattr_destroy(&ca);

	if ((d->ctx = ub_ctx_create()) == NULL) {
		rd_err_set(err, DNS_SOURCE, 0,
		    "cannot create the resolver (libunbound)");
		goto fail;
	}
	/* Resolve in a thread: fork() from a threaded milter is unsafe. */
	if ((rc = ub_ctx_async(d->ctx, 1)) != 0) {
		rd_err_set(
		    err, DNS_SOURCE, 0, "ub_ctx_async: %s", ub_strerror(rc));
		goto fail;
	}
	if (p->config_file != NULL) {
		source = p->config_file;
		if ((rc = ub_ctx_config(d->ctx, p->config_file)) != 0) {
			rd_err_set(err, source, 0,
			    "cannot load this unbound configuration: %s; check "
			    "it with unbound-checkconf",
			    ub_strerror(rc));
			goto fail;
		}
	} else {
		source = "/etc/resolv.conf";
		if ((rc = ub_ctx_resolvconf(d->ctx, NULL)) != 0) {
			rd_err_set(err, source, 0,
			    "cannot use the system's name servers: %s; set "
			    "DNSConfig to an unbound.conf",
			    ub_strerror(rc));
			goto fail;
		}
		/* /etc/hosts only adds names; DNS works without it. */
		(void)ub_ctx_hosts(d->ctx, NULL);
	}
	/*
	 * libunbound applies its configuration (local-data and all) and
	 * starts its thread at the first query: ask one now, so that a bad
	 * configuration is an error here, not an "unknown" per session. Its
	 * answer is not awaited; the callback frees it.
	 */
	pthread_mutex_lock(&d->lock);
	probe = dns_start(d, "localhost.", &rc);
	if (probe != NULL)
		probe->abandoned = true;
	pthread_mutex_unlock(&d->lock);
	if (probe == NULL) {
		if (rc != 0)
			rd_err_set(err, source, 0,
			    "the resolver does not start: %s; check the "
			    "configuration with unbound-checkconf",
			    ub_strerror(rc));
		else
			rd_err_set(err, DNS_SOURCE, 0, "out of memory");
		goto fail;
	}
	return (d);

fail:
	rd_dns_free(d);
	return (NULL);
}

void
rd_dns_free(struct rd_dns *d)
{
	struct dns_query *q, *next;

	if (d == NULL)
		return;
	/* Stops unbound's thread; the callbacks of queries left never run. */
	if (d->ctx != NULL)
		ub_ctx_delete(d->ctx);
	for (q = d->queries; q != NULL; q = next) {
		next = q->next;
		free(q);
	}
	(void)pthread_cond_destroy(&d->cond);
	(void)pthread_mutex_destroy(&d->lock);
	free(d);
}

/*
 * dns_poll_once - wait on ub_fd() until something arrives or left has
 * passed, then process it (called with the lock, which it drops while it
 * waits). -1 when the resolver's pipe is broken.
 */
static int
dns_poll_once(struct rd_dns *d, const struct timespec *left)
{
	struct pollfd pfd;
	int n, rc = 0;

	d->polling = true;
	pfd.fd = ub_fd(d->ctx);
	pfd.events = POLLIN;
	pfd.revents = 0;
	pthread_mutex_unlock(&d->lock);
	n = ppoll(&pfd, 1, left, NULL);
	pthread_mutex_lock(&d->lock);
	if (n > 0 && ub_process(d->ctx) != 0)
		rc = -1;
	d->polling = false;
	pthread_cond_broadcast(&d->cond);
	return (rc);
}

static enum rd_mx_answer dns_mx(struct rd_dns *d, const char *domain,
    const char *want, char *mx_out, size_t mx_len);

enum rd_mx_answer
rd_dns_mx(struct rd_dns *d, const char *domain, char *mx_out, size_t mx_len)
{
	return (dns_mx(d, domain, NULL, mx_out, mx_len));
}

enum rd_mx_answer
rd_dns_mx_has(struct rd_dns *d, const char *domain, const char *host,
    char *mx_out, size_t mx_len)
{
	if (host == NULL || *host == '\0' || strlen(host) >= DNS_TEXT_MAX) {
		if (mx_out != NULL && mx_len > 0)
			mx_out[0] = '\0';
		return (RD_MX_UNKNOWN);
	}
	return (dns_mx(d, domain, host, mx_out, mx_len));
}

/* dns_mx - the lookup of both: want NULL for our names */
static enum rd_mx_answer
dns_mx(struct rd_dns *d, const char *domain, const char *want, char *mx_out,
    size_t mx_len)
{
	struct timespec deadline, left;
	struct dns_query *q;
	enum rd_mx_answer answer = RD_MX_UNKNOWN;
	int uerr;

	if (mx_out != NULL && mx_len > 0)
		mx_out[0] = '\0';
	/* Only names go to the resolver: not "[192.0.2.1]", not "". */
	if (d == NULL || domain == NULL || !rd_domain_valid(domain))
		return (RD_MX_UNKNOWN);
	deadline = dns_add_ms(dns_now(), d->timeout_ms);
	rd_metrics_inc(RD_M_DNS_LOOKUPS);

	pthread_mutex_lock(&d->lock);
	/* Late answers first: they free their queries. */
	if (!d->polling && ub_poll(d->ctx))
		(void)ub_process(d->ctx);
	if ((q = dns_start(d, domain, &uerr)) == NULL) {
		pthread_mutex_unlock(&d->lock);
		return (RD_MX_UNKNOWN);
	}
	/* Fits: rd_dns_mx_has checked the length. */
	(void)rd_strlcpy(q->want, want != NULL ? want : "", sizeof(q->want));
	while (!q->done) {
		if (!dns_left(deadline, &left))
			break;
		if (!d->polling) {
			if (dns_poll_once(d, &left) == -1)
				break;
		} else
			(void)pthread_cond_timedwait(
			    &d->cond, &d->lock, &deadline);
	}
	if (q->done) {
		answer = q->answer;
		if (mx_out != NULL && mx_len > 0)
			(void)rd_strlcpy(mx_out, q->mx, mx_len);
		dns_unlink(d, q);
		free(q);
	} else {
		q->abandoned = true; /* its answer will fill unbound's cache */
		rd_metrics_inc(RD_M_DNS_TIMEOUTS);
	}
	pthread_mutex_unlock(&d->lock);
	return (answer);
}

const char *
rd_mx_answer_name(enum rd_mx_answer a)
{
	switch (a) {
	case RD_MX_HERE:
		return ("here");
	case RD_MX_ELSEWHERE:
		return ("elsewhere");
	case RD_MX_NONE:
		return ("none");
	case RD_MX_UNKNOWN:
		return ("unknown");
	}
	return ("unknown");
}

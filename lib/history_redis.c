/*
 * history_redis.c - history in Redis: the pool of at most HIST_POOL
 * connections, each call within its deadline (connect, every read and
 * write), Redis up or down with a backoff, and the pipelined queries of
 * the key schema (history.c explains the keys).
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
#include "relaydiag/metrics.h"
#include "relaydiag/history.h"
#include "relaydiag/redis.h"
#include "relaydiag/text.h"

#include "history_int.h"

/*
 * The Redis connection pool.
 */

/*
 * pool_take - a context for this call: 1 with call->c set (NULL: a slot
 * is reserved, connect), or 0: answer from the cache (Redis down and not
 * yet time to retry, or every connection busy until the deadline).
 */
static int
pool_take(struct rd_history *h, struct hist_call *call)
{
	struct timespec ts;
	int64_t now;

	pthread_mutex_lock(&h->pool_lock);
	for (;;) {
		now = hist_mono_ms();
		if (h->health.state == RD_REDIS_DOWN &&
		    now < h->health.retry_at_ms)
			break;
		if (h->health.state == RD_REDIS_DOWN && h->nconn >= HIST_POOL)
			break; /* calls from before still in flight */
		if (h->health.state == RD_REDIS_DOWN) {
			/* This caller retries; the others keep to the cache
			   until it has failed or succeeded. */
			h->health.retry_at_ms = now + h->health.backoff_ms;
			h->nconn++;
			call->c = NULL;
			call->gen = h->health.gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (h->nidle > 0) {
			call->c = h->idle[--h->nidle];
			call->tv_ms = h->idle_tv[h->nidle];
			call->gen = h->health.gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (h->nconn < HIST_POOL) {
			h->nconn++;
			call->c = NULL;
			call->gen = h->health.gen;
			pthread_mutex_unlock(&h->pool_lock);
			return (1);
		}
		if (now >= call->deadline_ms)
			break;
		ts.tv_sec = (time_t)(call->deadline_ms / 1000);
		ts.tv_nsec = (long)(call->deadline_ms % 1000) * 1000000;
		pthread_cond_timedwait(&h->pool_cv, &h->pool_lock, &ts);
	}
	pthread_mutex_unlock(&h->pool_lock);
	return (0);
}

/*
 * pool_give - end the call: keep its context (ok) or free it and mark
 * Redis down (why), logging a change of state once it is unlocked.
 */
static void
pool_give(struct rd_history *h, struct hist_call *call, bool ok)
{
	redisContext *drop[HIST_POOL + 1];
	size_t ndrop = 0, i;
	enum rd_redis_state was;
	int64_t now = hist_mono_ms(), down_s = 0;

	pthread_mutex_lock(&h->pool_lock);
	if (ok) {
		if (call->gen == h->health.gen && h->nidle < HIST_POOL) {
			h->idle_tv[h->nidle] = call->tv_ms;
			h->idle[h->nidle++] = call->c;
		} else {
			drop[ndrop++] = call->c;
			h->nconn--;
		}
		down_s = rd_redis_health_down_s(&h->health, now);
		was = rd_redis_health_answered(&h->health);
	} else {
		if (call->c != NULL)
			drop[ndrop++] = call->c;
		h->nconn--;
		/* A retry that failed waits longer; a call that was already
		   in flight when Redis went down does not count. */
		was = rd_redis_health_failed(
		    &h->health, now, call->gen == h->health.gen);
		if (was != RD_REDIS_DOWN)
			while (h->nidle > 0) {
				drop[ndrop++] = h->idle[--h->nidle];
				h->nconn--;
			}
	}
	pthread_cond_broadcast(&h->pool_cv);
	pthread_mutex_unlock(&h->pool_lock);

	for (i = 0; i < ndrop; i++)
		redisFree(drop[i]);
	if (ok && was == RD_REDIS_DOWN)
		hist_log(h, LOG_NOTICE,
		    "history: redis up after %" PRId64 " s; using it again",
		    down_s);
	else if (ok && was == RD_REDIS_INIT)
		hist_log(h, LOG_INFO, "history: redis up");
	else if (!ok && was != RD_REDIS_DOWN)
		hist_log(h, LOG_ERR,
		    "history: redis down: %s; using the "
		    "local cache",
		    call->why);
	call->c = NULL;
}

/* call_error - why the context failed, sanitized into call->why */
static void
call_error(
    const struct rd_history *h, struct hist_call *call, int e, const char *what)
{
	redisContext *c = call->c;
	char text[HIST_ERR_MAX];

	call->closed =
	    c != NULL &&
	    (c->err == REDIS_ERR_EOF ||
		(c->err == REDIS_ERR_IO && (e == ECONNRESET || e == EPIPE)));
	if (c != NULL && c->err == REDIS_ERR_IO &&
	    (e == EAGAIN || e == EWOULDBLOCK)) {
		rd_metrics_inc(RD_M_HISTORY_TIMEOUTS);
		snprintf(call->why, sizeof(call->why),
		    "%sno reply within "
		    "%u ms (HistoryTimeout)",
		    what, h->timeout_ms);
	} else
		snprintf(call->why, sizeof(call->why), "%s%s", what,
		    rd_text_log_str(text, sizeof(text),
			c != NULL && c->errstr[0] != '\0' ? c->errstr
							  : "connection lost"));
}

/*
 * call_connect - a new connection within what is left of the deadline,
 * with AUTH and SELECT appended, to be read with the first exchange. 0,
 * or -1 with call->why (call->c, if any, is freed by pool_give).
 */
static int
call_connect(const struct rd_history *h, struct hist_call *call)
{
	int64_t left = call->deadline_ms - hist_mono_ms();
	struct rd_redis_setup st;
	struct rd_err err;
	size_t i, n;
	int r = 0;

	call->nprefix = 0;
	call->ncmd = 0;
	call->tv_ms = 0;
	if (left <= 0) {
		snprintf(call->why, sizeof(call->why),
		    "no connection within "
		    "%u ms (HistoryTimeout)",
		    h->timeout_ms);
		return (-1);
	}
	if ((call->c = rd_redis_dial(&h->url, (unsigned)left, &err)) == NULL) {
		n = rd_strlcpy(call->why, "connect: ", sizeof(call->why));
		/* Error texts are cut to their buffer: log lines. */
		(void)rd_strlcpy(
		    call->why + n, err.text, sizeof(call->why) - n);
		return (-1);
	}
	/* Appended, not waited for: their replies are read ahead of the
	   first exchange's, in the same round trip. */
	rd_redis_setup_argv(&h->url, &st);
	for (i = 0; i < st.n; i++) {
		r |= redisAppendCommandArgv(
		    call->c, st.cmd[i].argc, st.cmd[i].argv, st.cmd[i].argvlen);
		call->prefix_cmd[call->nprefix++] = st.cmd[i].argv[0];
	}
	if (r != REDIS_OK) {
		(void)rd_strlcpy(call->why, "out of memory", sizeof(call->why));
		return (-1);
	}
	return (0);
}

/* call_begin - take a context, or connect one; 0, or -1: use the cache */
static int
call_begin(struct rd_history *h, struct hist_call *call)
{
	memset(call, 0, sizeof(*call));
	call->deadline_ms = hist_mono_ms() + h->timeout_ms;
	if (pool_take(h, call) == 0)
		return (-1);
	if (call->c != NULL) {
		call->reused = true;
		return (0);
	}
	if (call_connect(h, call) != 0) {
		pool_give(h, call, false);
		return (-1);
	}
	return (0);
}

/*
 * call_retry - whether to send the call again on a new connection: once,
 * when a pooled connection turned out closed (Redis's idle timeout, a
 * restart, CLIENT KILL), which says nothing about Redis now. Commands are
 * appended again by the caller.
 */
static bool
call_retry(const struct rd_history *h, struct hist_call *call)
{
	if (!call->reused || !call->closed || call->retried)
		return (false);
	redisFree(call->c);
	call->c = NULL;
	call->reused = false;
	call->closed = false;
	call->retried = true;
	return (call_connect(h, call) == 0);
}

/* call_cmd - append one command (binary-safe arguments) */
static int
call_cmd(struct hist_call *call, int argc, const struct hist_str *args)
{
	const char *argv[HIST_ARGS_MAX];
	size_t len[HIST_ARGS_MAX];
	int i;

	if (argc > HIST_ARGS_MAX)
		rd_panic("history: %d arguments for one command", argc);
	for (i = 0; i < argc; i++) {
		argv[i] = args[i].p;
		len[i] = args[i].n;
	}
	if (redisAppendCommandArgv(call->c, i, argv, len) != REDIS_OK) {
		(void)rd_strlcpy(call->why, "out of memory", sizeof(call->why));
		return (-1);
	}
	call->ncmd++;
	return (0);
}

#define CMD(call, ...)                                                         \
	call_cmd((call),                                                       \
	    (int)(sizeof((struct hist_str[]){__VA_ARGS__}) /                   \
		  sizeof(struct hist_str)),                                    \
	    (struct hist_str[]){__VA_ARGS__})

static void
replies_free(redisReply **r, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (r[i] != NULL)
			freeReplyObject(r[i]);
		r[i] = NULL;
	}
}

/*
 * call_timeout - bound the next read or write by what is left of the
 * deadline; 0, or -1 with call->why when nothing is left. The socket's
 * timeout (two setsockopt(2) to change) stays while it is within 1 ms
 * over what is left and at most a tenth of HistoryTimeout under it: a
 * pooled connection keeps the one its last call set, so a call that
 * starts within a few ms of the last one sets none.
 */
static int
call_timeout(const struct rd_history *h, struct hist_call *call)
{
	int64_t left = call->deadline_ms - hist_mono_ms();
	int64_t slack = h->timeout_ms / 10 > 0 ? h->timeout_ms / 10 : 1;

	if (left <= 0) {
		rd_metrics_inc(RD_M_HISTORY_TIMEOUTS);
		snprintf(call->why, sizeof(call->why),
		    "no reply within %u ms (HistoryTimeout)", h->timeout_ms);
		return (-1);
	}
	if (call->tv_ms <= 0 || call->tv_ms > left + 1 ||
	    call->tv_ms < left - slack) {
		redisSetTimeout(call->c, hist_tv(left));
		call->tv_ms = left;
	}
	return (0);
}

/*
 * call_reply - the next reply into *v, within the deadline: what is
 * appended is written first, then the socket is read until a reply is
 * whole, the timeout set again before each write and read. 0, or -1 with
 * call->why.
 */
static int
call_reply(const struct rd_history *h, struct hist_call *call, void **v)
{
	int done = 0;

	*v = NULL;
	if (redisGetReplyFromReader(call->c, v) != REDIS_OK)
		goto fail;
	if (*v != NULL)
		return (0);
	do { /* no system call when nothing is left to write */
		if (call_timeout(h, call) != 0)
			return (-1);
		if (redisBufferWrite(call->c, &done) != REDIS_OK)
			goto fail;
	} while (!done);
	for (;;) {
		if (call_timeout(h, call) != 0)
			return (-1);
		if (redisBufferRead(call->c) != REDIS_OK ||
		    redisGetReplyFromReader(call->c, v) != REDIS_OK)
			goto fail;
		if (*v != NULL)
			return (0);
	}
fail:
	call_error(h, call, errno, "");
	return (-1);
}

/*
 * call_exchange - send what was appended and read its replies (call->ncmd
 * of them) into r, or, r NULL, check and free them; within the deadline.
 * 0, or -1 with call->why (an error reply counts as a failure: a key of
 * another type, OOM).
 */
static int
call_exchange(
    const struct rd_history *h, struct hist_call *call, redisReply **r)
{
	char text[HIST_ERR_MAX];
	redisReply *pr;
	unsigned i, n = call->ncmd;
	void *v;

	call->ncmd = 0;
	for (i = 0; r != NULL && i < n; i++)
		r[i] = NULL;
	for (i = 0; i < call->nprefix; i++) {
		if (call_reply(h, call, &v) != 0)
			return (-1);
		pr = v;
		if (pr->type == REDIS_REPLY_ERROR) {
			snprintf(call->why, sizeof(call->why), "%s refused: %s",
			    call->prefix_cmd[i],
			    rd_text_log_str(text, sizeof(text), pr->str));
			freeReplyObject(pr);
			return (-1);
		}
		freeReplyObject(pr);
	}
	call->nprefix = 0;
	for (i = 0; i < n; i++) {
		if (call_reply(h, call, &v) != 0) {
			if (r != NULL)
				replies_free(r, i);
			return (-1);
		}
		pr = v;
		if (pr->type == REDIS_REPLY_ERROR) {
			snprintf(call->why, sizeof(call->why),
			    "error reply: %s",
			    rd_text_log_str(text, sizeof(text), pr->str));
			freeReplyObject(pr);
			if (r != NULL)
				replies_free(r, i);
			return (-1);
		}
		if (r != NULL)
			r[i] = pr;
		else
			freeReplyObject(pr);
	}
	return (0);
}

/* reply_ms - a reply's integer or number text as ms; -1 when nil */
static int64_t
reply_ms(const redisReply *r)
{
	if (r->type == REDIS_REPLY_INTEGER)
		return ((int64_t)r->integer);
	if (r->type == REDIS_REPLY_STRING)
		return ((int64_t)strtod(r->str, NULL));
	return (-1);
}

/* redis_append_authorized - the commands of one write, appended */
static int
redis_append_authorized(const struct rd_history *h, struct hist_call *call,
    const struct hist_write *w)
{
	char kb[HIST_KEY_LEN], ms[24], cut[24], keep[24];
	char ma[HIST_IP_LEN + 3], ml[HIST_IP_LEN + 3];
	struct hist_in in;
	struct hist_str key;
	int rc = 0;

	/* hist_key and hist_member read a hist_in; the domain is not used */
	memcpy(in.sender, w->sender, (size_t)w->senderlen + 1);
	in.senderlen = w->senderlen;
	memcpy(in.ip, w->ip, (size_t)w->iplen + 1);
	in.iplen = w->iplen;
	in.ms = w->ms;
	snprintf(ms, sizeof(ms), "%" PRId64, in.ms);
	snprintf(cut, sizeof(cut), "%" PRId64, in.ms - h->hwin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->sender_max + 1);
	if (in.senderlen > 0) {
		key = hist_key(h, kb, "s:", in.sender, in.senderlen);
		if (w->sasl)
			rc |= CMD(call, HS("ZADD"), key, HS(ms),
			    hist_member(ma, 'a', &in), HS(ms),
			    hist_member(ml, 'l', &in));
		else
			rc |= CMD(call, HS("ZADD"), key, HS(ms),
			    hist_member(ma, 'a', &in));
		rc |=
		    CMD(call, HS("ZREMRANGEBYSCORE"), key, HS("-inf"), HS(cut));
		rc |= CMD(call, HS("ZREMRANGEBYRANK"), key, HS("0"), HS(keep));
		rc |= CMD(call, HS("EXPIRE"), key, HS(h->hwin));
	}
	key = hist_key(h, kb, "c:", in.ip, in.iplen);
	rc |= CMD(call, HS("HSET"), key, HS("auth"), HS(ms));
	rc |= CMD(call, HS("EXPIRE"), key, HS(h->hwin));
	return (rc);
}

/*
 * redis_authorized - the writer's round trip: the n writes of a batch,
 * pipelined; 0, or -1 when they did not reach Redis
 */
int
redis_authorized(struct rd_history *h, const struct hist_write *w, size_t n)
{
	struct hist_call call;
	size_t i;
	int rc;

	if (call_begin(h, &call) != 0)
		return (-1);
again:
	for (rc = 0, i = 0; i < n && rc == 0; i++)
		rc = redis_append_authorized(h, &call, &w[i]);
	if (rc == 0 && call_exchange(h, &call, NULL) == 0) {
		pool_give(h, &call, true);
		return (0);
	}
	if (rc == 0 && call_retry(h, &call))
		goto again;
	pool_give(h, &call, false);
	return (-1);
}

/*
 * redis_outage - the second round trip of a refusal whose sender had
 * SASL history: count it among the outage senders; raise the alert when
 * the count reaches outage_senders and no MTA raised it this window.
 */
static int
redis_outage(struct rd_history *h, struct hist_call *call,
    const struct hist_in *in, unsigned count, struct rd_history_alerts *a)
{
	char kb[HIST_KEY_LEN], kb2[HIST_KEY_LEN], ms[24], cut[24], keep[24];
	char last[16];
	redisReply *r[HIST_CMDS_MAX];
	struct hist_str key, ao;
	bool alert = count >= h->outage_senders;
	size_t i;
	int rc = 0;

	snprintf(ms, sizeof(ms), "%" PRId64, in->ms);
	snprintf(cut, sizeof(cut), "%" PRId64, in->ms - h->owin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->outage_max + 1);
	snprintf(last, sizeof(last), "%d", HIST_SAMPLE - 1);
	key = hist_key(h, kb, "o", "", 0);
	rc |= CMD(call, HS("ZADD"), key, HS(ms),
	    ((struct hist_str){in->sender, in->senderlen}));
	rc |= CMD(call, HS("ZREMRANGEBYSCORE"), key, HS("-inf"), HS(cut));
	rc |= CMD(call, HS("ZREMRANGEBYRANK"), key, HS("0"), HS(keep));
	rc |= CMD(call, HS("EXPIRE"), key, HS(h->owin));
	if (alert) {
		ao = hist_key(h, kb2, "ao", "", 0);
		rc |= CMD(call, HS("SET"), ao, HS("1"), HS("EX"), HS(h->owin),
		    HS("NX"));
		rc |= CMD(call, HS("ZREVRANGE"), key, HS("0"), HS(last));
	}
	if (rc != 0 || call_exchange(h, call, r) != 0)
		return (-1);
	a->outage_senders = count;
	if (alert && r[4]->type == REDIS_REPLY_STATUS && /* +OK: ours */
	    r[5]->type == REDIS_REPLY_ARRAY) {
		a->auth_outage = true;
		for (i = 0; i < r[5]->elements && i < HIST_SAMPLE; i++)
			if (r[5]->element[i]->type == REDIS_REPLY_STRING)
				/* A sample is cut to its slot. */
				(void)rd_strlcpy(
				    a->outage_sample[a->outage_nsample++],
				    r[5]->element[i]->str,
				    sizeof(a->outage_sample[0]));
	}
	replies_free(r, alert ? 6 : 4);
	return (0);
}

/* Replies of redis_refused's first round trip, by position. */
enum {
	RF_SENDER, /* ZRANGEBYSCORE s (cutoff +inf WITHSCORES */
	RF_OCOUNT, /* ZCOUNT o (cutoff +inf */
	RF_OSCORE, /* ZSCORE o sender */
	RF_CLIENT, /* HGET c auth */
	RF_PADD,
	RF_PTRIM,
	RF_PCAP,
	RF_PCARD,
	RF_PEXPIRE,
	RF_NSET,
	RF_NINCR,
	RF_N
};

int
redis_refused(struct rd_history *h, const struct hist_in *in,
    struct rd_history_facts *f, struct rd_history_alerts *a)
{
	char bs[HIST_KEY_LEN], bc[HIST_KEY_LEN], bp[HIST_KEY_LEN];
	char bn[HIST_KEY_LEN], bo[HIST_KEY_LEN];
	char ms[24], hcut[25], pcut[24], ocut[25], keep[24];
	struct hist_scan sc = {.in = in, .facts = f};
	struct hist_str sender = {in->sender, in->senderlen};
	struct hist_str ks, kc, kp, kn, ko;
	redisReply *r[HIST_CMDS_MAX], *e;
	struct hist_call call;
	unsigned count;
	int64_t t;
	size_t i;
	int rc = 0;

	if (call_begin(h, &call) != 0)
		return (-1);
	snprintf(ms, sizeof(ms), "%" PRId64, in->ms);
	snprintf(hcut, sizeof(hcut), "(%" PRId64, in->ms - h->hwin_ms);
	snprintf(pcut, sizeof(pcut), "%" PRId64, in->ms - h->pwin_ms);
	snprintf(ocut, sizeof(ocut), "(%" PRId64, in->ms - h->owin_ms);
	snprintf(keep, sizeof(keep), "-%zu", h->domains_max + 1);
	ks = hist_key(h, bs, "s:", in->sender, in->senderlen);
	kc = hist_key(h, bc, "c:", in->ip, in->iplen);
	kp = hist_key(h, bp, "p:", in->ip, in->iplen);
	kn = hist_key(h, bn, "pn:", in->ip, in->iplen);
	ko = hist_key(h, bo, "o", "", 0);

	/* The facts before this refusal, then the probe's counts after it.
	   With the null sender the sender's three replies are PINGs, to
	   keep the positions. */
again:
	rc = 0;
	if (in->senderlen > 0) {
		rc |= CMD(&call, HS("ZRANGEBYSCORE"), ks, HS(hcut), HS("+inf"),
		    HS("WITHSCORES"));
		rc |= CMD(&call, HS("ZCOUNT"), ko, HS(ocut), HS("+inf"));
		rc |= CMD(&call, HS("ZSCORE"), ko, sender);
	} else
		for (i = 0; i < 3; i++)
			rc |= CMD(&call, HS("PING"));
	rc |= CMD(&call, HS("HGET"), kc, HS("auth"));
	rc |= CMD(&call, HS("ZADD"), kp, HS(ms),
	    ((struct hist_str){in->domain, in->domainlen}));
	rc |= CMD(&call, HS("ZREMRANGEBYSCORE"), kp, HS("-inf"), HS(pcut));
	rc |= CMD(&call, HS("ZREMRANGEBYRANK"), kp, HS("0"), HS(keep));
	rc |= CMD(&call, HS("ZCARD"), kp);
	rc |= CMD(&call, HS("EXPIRE"), kp, HS(h->pwin));
	rc |=
	    CMD(&call, HS("SET"), kn, HS("0"), HS("EX"), HS(h->pwin), HS("NX"));
	rc |= CMD(&call, HS("INCR"), kn);
	if (rc != 0)
		goto fail;
	if (call_exchange(h, &call, r) != 0) {
		if (call_retry(h, &call))
			goto again;
		goto fail;
	}

	sc.cutoff = in->ms - h->hwin_ms;
	if (in->senderlen > 0 && r[RF_SENDER]->type == REDIS_REPLY_ARRAY)
		for (i = 0; i + 1 < r[RF_SENDER]->elements; i += 2) {
			e = r[RF_SENDER]->element[i];
			if (e->type == REDIS_REPLY_STRING)
				hist_scan_member(&sc, e->str, e->len,
				    reply_ms(r[RF_SENDER]->element[i + 1]));
		}
	t = reply_ms(r[RF_CLIENT]);
	f->client_authorized_ever = t > sc.cutoff;
	f->client_refused_domains = r[RF_PCARD]->integer > UINT32_MAX
					? UINT32_MAX
					: (unsigned)r[RF_PCARD]->integer;
	f->client_refused_attempts = r[RF_NINCR]->integer > UINT32_MAX
					 ? UINT32_MAX
					 : (unsigned)r[RF_NINCR]->integer;
	a->probe_attempts = f->client_refused_attempts;
	a->relay_probe = r[RF_NINCR]->integer == (long long)h->probe_attempts;
	/* The outage count after this sender joins it. */
	count = 0;
	if (sc.had_sasl) {
		count = (unsigned)r[RF_OCOUNT]->integer;
		t = reply_ms(r[RF_OSCORE]);
		if (t <= in->ms - h->owin_ms)
			count++;
	}
	replies_free(r, RF_N);
	if (sc.had_sasl && redis_outage(h, &call, in, count, a) != 0)
		goto fail;
	pool_give(h, &call, true);
	f->from_redis = true;
	return (0);
fail:
	pool_give(h, &call, false);
	return (-1);
}

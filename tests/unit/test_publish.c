/*
 * test_publish.c - the Redis sink against a real redis-server: order and
 * type field, MAXLEN, AUTH (password and ACL user), SELECT, unix socket,
 * wrong password, Redis killed and restarted mid-stream, Redis hung with a
 * full queue, no spool. RedisURL parsing is tested in test_redis.c.
 *
 * Each test starts its own redis-server (testutil.h) on a free loopback
 * port in a temporary directory. Without redis-server the tests fail;
 * they never skip (RD_REDIS_SERVER names another binary).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "relaydiag/publish.h"
#include "relaydiag/spool.h"
#include "testutil.h"

/* ---- events and the stream ---- */

static const char *
type_of(unsigned i)
{
	static const char *t[] = {"rcpt", "message", "session", "alert"};

	return (t[i % 4]);
}

static char *
event_json(unsigned i)
{
	char *j;

	if (asprintf(&j,
		"{\"schema\":\"relaydiag.event/1\",\"type\":\"%s\","
		"\"id\":\"e%u\",\"session\":\"S%u\","
		"\"ts\":\"2026-12-02T00:00:00.000Z\","
		"\"n\":%u,\"text\":\"caf\\u00e9 %u\"}",
		type_of(i), i, i / 4, i, i * 7) < 0)
		fail_msg("asprintf");
	return (j);
}

static void
emit_range(struct rd_sink *sk, unsigned from, unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++)
		if (rd_sink_emit_take(sk, type_of(i), event_json(i)) != 0)
			fail_msg("emit e%u refused", i);
}

/* event_id - the number in "id":"e<n>" of a JSON text, or -1 */
static long
event_id(const char *json)
{
	const char *p = strstr(json, "\"id\":\"e");

	return (p == NULL ? -1 : strtol(p + 7, NULL, 10));
}

struct stream_check {
	unsigned entries; /* in the stream */
	unsigned dups;    /* entries whose id came before */
};

/*
 * check_stream - the stream holds events 0..n-1, each at least once, in
 * order once duplicates (at-least-once replays) are dropped by "id", each
 * with its type field and its JSON intact.
 */
static struct stream_check
check_stream(const struct tu_redis *s, unsigned db, const char *key, unsigned n)
{
	struct stream_check res = {0, 0};
	redisReply *r, *e, *f;
	redisContext *c;
	unsigned next = 0;
	const char *type, *ev;
	char *want;
	size_t i, k;
	long id;

	if ((c = tu_redis_connect(s, db)) == NULL)
		fail_msg("cannot connect to check the stream");
	r = redisCommand(c, "XRANGE %s - +", key);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		fail_msg("XRANGE %s failed", key);
	res.entries = (unsigned)r->elements;
	for (i = 0; i < r->elements; i++) {
		e = r->element[i];
		f = e->element[1];
		type = ev = NULL;
		for (k = 0; k + 1 < f->elements; k += 2) {
			if (strcmp(f->element[k]->str, "type") == 0)
				type = f->element[k + 1]->str;
			else if (strcmp(f->element[k]->str, "event") == 0)
				ev = f->element[k + 1]->str;
		}
		if (type == NULL || ev == NULL)
			fail_msg("entry %zu lacks type or event", i);
		if ((id = event_id(ev)) < 0 || id > (long)next)
			fail_msg("entry %zu: got e%ld, want e%u (out of order)",
			    i, id, next);
		want = event_json((unsigned)id);
		if (strcmp(ev, want) != 0 ||
		    strcmp(type, type_of((unsigned)id)))
			fail_msg("entry %zu: got %s %s, want %s %s", i, type,
			    ev, type_of((unsigned)id), want);
		free(want);
		if (id < (long)next)
			res.dups++;
		else
			next++;
	}
	freeReplyObject(r);
	redisFree(c);
	if (next != n)
		fail_msg(
		    "stream %s: %u distinct events, want %u", key, next, n);
	return (res);
}

static unsigned
stream_len(const struct tu_redis *s, unsigned db, const char *key)
{
	redisContext *c = tu_redis_connect(s, db);
	redisReply *r;
	unsigned n = 0;

	if (c == NULL)
		return (0);
	r = redisCommand(c, "XLEN %s", key);
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		n = (unsigned)r->integer;
	freeReplyObject(r);
	redisFree(c);
	return (n);
}

static struct rd_sink_stats
stats_of(struct rd_sink *sk)
{
	struct rd_sink_stats st;

	rd_sink_stats(sk, &st);
	return (st);
}

/* wait_delivered - until stats show at least n delivered, or timeout */
static bool
wait_delivered(struct rd_sink *sk, uint64_t n, int ms)
{
	int64_t t0 = tu_now_ms();

	while (stats_of(sk).delivered < n)
		if (tu_now_ms() - t0 > ms)
			return (false);
		else
			usleep(1000);
	return (true);
}

static struct rd_sink *
open_sink(const char *url, const char *stream, const char *spool, size_t queue)
{
	struct rd_redis_params p;
	struct rd_sink *sk;
	struct rd_err err;

	memset(&p, 0, sizeof(p));
	p.url = url;
	p.stream = stream;
	p.connect_timeout_ms = 500;
	p.command_timeout_ms = 500;
	p.backoff_max_ms = 200;
	p.drain_timeout_ms = 3000;
	p.queue_size = queue;
	p.spool_dir = spool;
	p.spool_max_bytes = 8u << 20;
	p.log = tu_log_capture;
	memset(&err, 0, sizeof(err));
	if ((sk = rd_sink_redis_open(&p, &err)) == NULL)
		fail_msg("rd_sink_redis_open(%s): %s", url, err.text);
	return (sk);
}

/* bad parameters are errors at open, with a message */
static void
test_open_rejects_bad_params(void **state)
{
	struct tu_redis *s = *state;
	struct rd_redis_params p;
	struct rd_err err;
	char path[160];

	memset(&p, 0, sizeof(p));
	p.url = "rediss://h";
	memset(&err, 0, sizeof(err));
	assert_null(rd_sink_redis_open(&p, &err));
	assert_non_null(strstr(err.text, "TLS"));

	p.url = NULL;
	p.stream = "two words";
	memset(&err, 0, sizeof(err));
	assert_null(rd_sink_redis_open(&p, &err));
	assert_string_equal(err.source, "RedisStream");

	p.stream = NULL;
	snprintf(path, sizeof(path), "%s/no/such/dir", s->dir);
	p.spool_dir = path;
	memset(&err, 0, sizeof(err));
	assert_null(rd_sink_redis_open(&p, &err));
	assert_non_null(strstr(err.text, "spool directory"));
}

/* ---- against redis-server ---- */

/* events arrive in order with their type field; figures for the report */
static void
test_events_arrive_in_order_with_type(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink_stats st;
	struct stream_check res;
	struct rd_sink *sk;
	char url[64], spool[128];
	const unsigned n = 20000;
	int64_t t0, dt;

	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	sk = open_sink(url, "t:order", spool, n); /* holds them all */
	assert_true(wait_delivered(sk, 0, 0));
	t0 = tu_now_ms();
	emit_range(sk, 0, n);
	if (!wait_delivered(sk, n, 10000))
		fail_msg("only %llu of %u delivered in 10 s",
		    (unsigned long long)stats_of(sk).delivered, n);
	dt = tu_now_ms() - t0;
	st = stats_of(sk);
	rd_sink_close(sk);
	print_message("publish: %u events delivered in %lld ms "
		      "(%.0f events/s)\n",
	    n, (long long)dt, dt > 0 ? n * 1000.0 / (double)dt : 0.0);
	assert_int_equal(st.emitted, n);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.spooled, 0);
	res = check_stream(s, 0, "t:order", n);
	assert_int_equal(res.entries, n);
	assert_int_equal(res.dups, 0);
	tu_log_expect("redis: connected to 127.0.0.1:");
	assert_int_equal(tu_log_count("down"), 0);
}

/* MAXLEN ~ n trims the stream, approximately, keeping the newest */
static void
test_maxlen_trims(void **state)
{
	struct tu_redis *s = *state;
	struct rd_redis_params p;
	struct rd_sink *sk;
	char url[64];
	unsigned len;

	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	memset(&p, 0, sizeof(p));
	p.url = url;
	p.stream = "t:maxlen";
	p.maxlen = 100;
	p.log = tu_log_capture;
	sk = rd_sink_redis_open(&p, NULL);
	assert_non_null(sk);
	emit_range(sk, 0, 2000);
	rd_sink_close(sk);
	len = stream_len(s, 0, "t:maxlen");
	if (len < 100 || len > 300)
		fail_msg("XLEN %u after 2000 XADDs with MAXLEN ~ 100", len);
}

/* requirepass: AUTH with the password; an ACL user with SELECT */
static void
test_auth_password_and_acl_user(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink *sk;
	redisContext *c;
	redisReply *r;
	char url[128];

	snprintf(s->pass, sizeof(s->pass), "s3cret");
	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d", s->port);
	sk = open_sink(url, "t:auth", NULL, 1000);
	emit_range(sk, 0, 50);
	rd_sink_close(sk);
	check_stream(s, 0, "t:auth", 50);

	c = tu_redis_connect(s, 0);
	assert_non_null(c);
	r = redisCommand(c, "ACL SETUSER relay on >relay-pw resetkeys "
			    "~relaydiag:* -@all +xadd +select +ping");
	assert_non_null(r);
	if (r->type == REDIS_REPLY_ERROR)
		fail_msg("ACL SETUSER: %s", r->str);
	freeReplyObject(r);
	redisFree(c);
	snprintf(
	    url, sizeof(url), "redis://relay:relay-pw@127.0.0.1:%d/2", s->port);
	sk = open_sink(url, "relaydiag:acl", NULL, 1000);
	emit_range(sk, 0, 50);
	rd_sink_close(sk);
	check_stream(s, 2, "relaydiag:acl", 50);
	assert_int_equal(stream_len(s, 0, "relaydiag:acl"), 0);
	assert_int_equal(tu_log_count("down"), 0);
}

/* unix:///path?db=N */
static void
test_unix_socket_url(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink *sk;
	char url[200];

	tu_redis_start(s);
	snprintf(url, sizeof(url), "unix://%s?db=1", s->sock);
	sk = open_sink(url, "t:unix", NULL, 1000);
	emit_range(sk, 0, 300);
	rd_sink_close(sk);
	check_stream(s, 1, "t:unix", 300);
	tu_log_expect("redis: connected to unix:");
}

/* a wrong password is logged and events spooled; the right one replays */
static void
test_wrong_password_logged_and_spooled(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink_stats st;
	struct rd_sink *sk;
	struct stream_check res;
	char url[128], spool[128];
	int64_t t0;

	snprintf(s->pass, sizeof(s->pass), "right");
	tu_redis_start(s);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	snprintf(
	    url, sizeof(url), "redis://:Tr0ub4dor-bad@127.0.0.1:%d", s->port);
	sk = open_sink(url, "t:auth", spool, 1000);
	emit_range(sk, 0, 100);
	for (t0 = tu_now_ms(); stats_of(sk).spooled < 100; usleep(2000))
		if (tu_now_ms() - t0 > 3000)
			fail_msg("events not spooled");
	usleep(300000); /* a few reconnection attempts */
	st = stats_of(sk);
	rd_sink_close(sk);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(st.dropped, 0);
	tu_log_expect("redis: down: AUTH refused: WRONGPASS invalid "
		      "username-password pair or user is disabled; spooling");
	assert_int_equal(tu_log_count("Tr0ub4dor"), 0);
	assert_int_equal(stream_len(s, 0, "t:auth"), 0);

	/* the same spool, the right password: everything, in order */
	snprintf(url, sizeof(url), "redis://:right@127.0.0.1:%d", s->port);
	sk = open_sink(url, "t:auth", spool, 1000);
	emit_range(sk, 100, 150);
	rd_sink_close(sk);
	res = check_stream(s, 0, "t:auth", 150);
	assert_int_equal(res.dups, 0);
	tu_log_expect("replaying 100 spooled events");
}

struct emitter {
	struct rd_sink *sk;
	unsigned n;
	unsigned pace_us;
};

static void *
emitter_main(void *arg)
{
	struct emitter *e = arg;
	unsigned i;

	for (i = 0; i < e->n; i++) {
		if (rd_sink_emit_take(e->sk, type_of(i), event_json(i)) != 0)
			return ((void *)1);
		if (e->pace_us > 0 && i % 10 == 9)
			usleep(e->pace_us);
	}
	return (NULL);
}

/* redis_do - one command on a fresh connection; fails the test if refused */
static void
redis_do(const struct tu_redis *s, const char *cmd)
{
	redisContext *c = tu_redis_connect(s, 0);
	redisReply *r;

	if (c == NULL)
		fail_msg("cannot connect for %s", cmd);
	r = redisCommand(c, cmd);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fail_msg("%s: %s", cmd, r != NULL ? r->str : c->errstr);
	freeReplyObject(r);
	redisFree(c);
}

/*
 * Records in the spool that are not relaydiag events (another hand wrote
 * them) are refused at replay: not sent to Redis, logged once, counted;
 * the real events around them all go.
 */
static void
test_replay_refuses_what_is_not_an_event(void **state)
{
	static const char *const junk[] = {
	    "not json",
	    "[1,2]",
	    "{\"schema\":\"x/1\",\"type\":\"rcpt\",\"id\":\"a\","
	    "\"session\":\"b\",\"ts\":\"c\"}",
	    "{\"schema\":\"relaydiag.event/1\",\"type\":\"message\","
	    "\"id\":\"a\",\"session\":\"b\",\"ts\":\"c\"}", /* not rcpt */
	    "{\"schema\":\"relaydiag.event/1\",\"type\":\"rcpt\",\"id\":7,"
	    "\"session\":\"b\",\"ts\":\"c\"}",
	    "{\"schema\":\"relaydiag.event/1\",\"type\":\"rcpt\",\"id\":\"a\","
	    "\"id\":\"a\",\"session\":\"b\",\"ts\":\"c\"}",
	};
	struct tu_redis *s = *state;
	struct rd_spool_params sp = {NULL, 0, 0, RD_SPOOL_DROP_OLDEST};
	struct rd_spool *spool;
	struct rd_sink *sk;
	struct rd_err err;
	char url[64], dir[128], *j;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/spool", s->dir);
	sp.dir = dir;
	memset(&err, 0, sizeof(err));
	if ((spool = rd_spool_open(&sp, &err)) == NULL)
		fail_msg("spool: %s", err.text);
	for (i = 0; i < 12; i++) {
		j = event_json((unsigned)i);
		assert_int_equal(
		    rd_spool_append(spool, type_of((unsigned)i), j, strlen(j)),
		    0);
		free(j);
		if (i < sizeof(junk) / sizeof(junk[0]))
			assert_int_equal(rd_spool_append(spool, "rcpt", junk[i],
					     strlen(junk[i])),
			    0);
	}
	rd_spool_close(spool);

	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	sk = open_sink(url, "t:junk", dir, 16);
	rd_sink_close(sk);
	check_stream(s, 0, "t:junk", 12);
	assert_int_equal(stream_len(s, 0, "t:junk"), 12);
	tu_log_expect_n("spool: refused a record that is not a relaydiag "
			"event",
	    1);
	tu_log_expect_n("spool: 6 record(s) refused", 1);
}

/*
 * A Redis that accepts connections and answers every XADD with OOM is
 * down the whole time: "down" is logged once (not at every reconnect),
 * and "up after N s" gives the true length of the outage.
 */
static void
test_oom_redis_is_down_until_it_accepts(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink *sk;
	char url[64], spool[128];
	int64_t t_down;

	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	sk = open_sink(url, "t:oom", spool, 16); /* backoff at most 200 ms */
	emit_range(sk, 0, 10);
	if (!wait_delivered(sk, 10, 3000))
		fail_msg("first 10 events not delivered");
	redis_do(s, "CONFIG SET maxmemory 1");
	t_down = tu_now_ms();
	emit_range(sk, 10, 20);
	/* 2.5 s of OOM: a dozen reconnects at the 200 ms backoff */
	while (tu_now_ms() - t_down < 2500) {
		emit_range(sk, 20, 20);
		usleep(50000);
	}
	tu_log_expect_n("redis: down: XADD refused: OOM", 1);
	tu_log_expect_n("redis: up after", 0);
	redis_do(s, "CONFIG SET maxmemory 0");
	if (!wait_delivered(sk, 20, 3000))
		fail_msg("events not delivered after the OOM ended");
	rd_sink_close(sk);
	check_stream(s, 0, "t:oom", 20);
	tu_log_expect_n("redis: down", 1);
	tu_log_expect_n("redis: up after 3 s", 1);
}

/*
 * Redis killed (SIGKILL) mid-stream, restarted from its AOF: after close
 * every event is in the stream once after dedupe by id, in order. The
 * server keeps an AOF with appendfsync always here, so that what it
 * acknowledged before the kill is still there after the restart.
 */
static void
test_redis_killed_mid_stream(void **state)
{
	struct tu_redis *s = *state;
	struct emitter em;
	struct rd_sink_stats st;
	struct stream_check res;
	struct rd_sink *sk;
	char url[64], spool[128];
	const unsigned n = 6000;
	int64_t t_kill, t_up, t_done;
	uint64_t at_kill;
	pthread_t t;
	void *rv;

	s->aof = true;
	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	sk = open_sink(url, "t:kill", spool, 10000);
	em.sk = sk;
	em.n = n;
	em.pace_us = 1000; /* ~10,000 events/s, ~0.6 s */
	pthread_create(&t, NULL, emitter_main, &em);
	if (!wait_delivered(sk, 1000, 5000))
		fail_msg("first 1000 events not delivered");
	tu_redis_stop(s, SIGKILL);
	t_kill = tu_now_ms();
	at_kill = stats_of(sk).delivered;
	usleep(300000);
	tu_redis_start(s);
	t_up = tu_now_ms();
	pthread_join(t, &rv);
	assert_null(rv);
	/* wait for the replay: the stream holds every event at least once */
	while (stream_len(s, 0, "t:kill") < n || stats_of(sk).delivered < n) {
		if (tu_now_ms() - t_up > 10000)
			fail_msg("stream has %u entries 10 s after restart",
			    stream_len(s, 0, "t:kill"));
		usleep(20000);
	}
	t_done = tu_now_ms();
	st = stats_of(sk);
	rd_sink_close(sk);
	res = check_stream(s, 0, "t:kill", n);
	print_message(
	    "publish: killed after %llu delivered; down %lld ms; "
	    "%llu spooled; replay done %lld ms after restart; %u entries, "
	    "%u duplicates\n",
	    (unsigned long long)at_kill, (long long)(t_up - t_kill),
	    (unsigned long long)st.spooled, (long long)(t_done - t_up),
	    res.entries, res.dups);
	assert_int_equal(st.dropped, 0);
	assert_true(st.spooled > 0);
	tu_log_expect("redis: down: "); /* reset, or closed: either */
	tu_log_expect("; spooling\n");
	tu_log_expect("redis: up after ");
	tu_log_expect(" events replayed");
}

/*
 * Redis hung (SIGSTOP) with a small queue: sessions spill to the spool,
 * behind the batch in flight and the queue, never waiting; after SIGCONT
 * everything arrives in order (duplicates allowed).
 */
static void
test_redis_hung_queue_spills_in_order(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink_stats st;
	struct stream_check res;
	struct rd_sink *sk;
	char url[64], spool[128];
	int64_t t0, worst = 0, dt;
	unsigned i;

	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port);
	snprintf(spool, sizeof(spool), "%s/spool", s->dir);
	sk = open_sink(url, "t:hang", spool, 16);
	for (t0 = tu_now_ms(); tu_log_count("redis: connected") == 0;
	     usleep(1000))
		if (tu_now_ms() - t0 > 3000)
			fail_msg("not connected");
	emit_range(sk, 0, 100);
	if (!wait_delivered(sk, 100, 3000))
		fail_msg("first events not delivered");
	kill(s->pid, SIGSTOP);
	for (i = 100; i < 3000; i++) {
		t0 = tu_now_ms();
		if (rd_sink_emit_take(sk, type_of(i), event_json(i)) != 0)
			fail_msg("emit e%u refused", i);
		if ((dt = tu_now_ms() - t0) > worst)
			worst = dt;
		if (i % 100 == 0)
			usleep(20000); /* spread over ~0.6 s */
	}
	kill(s->pid, SIGCONT);
	t0 = tu_now_ms();
	while (stream_len(s, 0, "t:hang") < 3000 || stats_of(sk).spooled == 0) {
		if (tu_now_ms() - t0 > 10000)
			fail_msg("stream has %u entries 10 s after SIGCONT",
			    stream_len(s, 0, "t:hang"));
		usleep(20000);
	}
	st = stats_of(sk);
	rd_sink_close(sk);
	res = check_stream(s, 0, "t:hang", 3000);
	print_message("publish: hung redis: slowest emit %lld ms; %llu "
		      "spooled; %u entries, %u duplicates\n",
	    (long long)worst, (unsigned long long)st.spooled, res.entries,
	    res.dups);
	assert_int_equal(st.dropped, 0);
	assert_true(st.spooled > 0);
	assert_true(worst < 200);
	tu_log_expect("redis: down: no reply within 500 ms (RedisTimeout); "
		      "spooling");
}

/* no spool and Redis down: events are dropped and counted, not queued */
static void
test_no_spool_drops_and_counts(void **state)
{
	struct tu_redis *s = *state;
	struct rd_sink_stats st;
	struct rd_sink *sk;
	char url[64];
	unsigned i;
	int64_t t0;

	snprintf(url, sizeof(url), "redis://127.0.0.1:%d", s->port); /* none */
	sk = open_sink(url, "t:none", NULL, 8);
	emit_range(sk, 0, 5);
	for (t0 = tu_now_ms(); stats_of(sk).dropped < 5; usleep(2000))
		if (tu_now_ms() - t0 > 3000)
			fail_msg("events not dropped");
	for (i = 5; i < 100; i++)
		rd_sink_emit_take(sk, "rcpt", event_json(i));
	for (t0 = tu_now_ms(); stats_of(sk).dropped < 100; usleep(2000))
		if (tu_now_ms() - t0 > 3000)
			fail_msg("events not dropped");
	st = stats_of(sk);
	rd_sink_close(sk);
	assert_int_equal(st.emitted, 100);
	assert_int_equal(st.dropped, 100);
	assert_int_equal(st.delivered + st.spooled, 0);
	tu_log_expect("redis: down: Connection refused; dropping events "
		      "(no SpoolDir)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_rejects_bad_params,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_events_arrive_in_order_with_type, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_maxlen_trims, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_auth_password_and_acl_user,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_unix_socket_url, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_wrong_password_logged_and_spooled, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_replay_refuses_what_is_not_an_event, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_oom_redis_is_down_until_it_accepts, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_redis_killed_mid_stream,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_redis_hung_queue_spills_in_order, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_no_spool_drops_and_counts,
		tu_redis_setup, tu_redis_teardown),
	};

	/* a write to a socket Redis closed must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

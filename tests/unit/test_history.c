/*
 * test_history.c - cross-session history: relay.ip-changed and
 * relay.auth-stopped facts, probe counts, the relay-probe and auth-outage
 * alerts (once per window), the cache's bound; first with the local cache
 * only, then the same scenarios against a real redis-server: two MTAs on
 * one Redis, Redis killed, hung and restarted mid-test, AUTH and SELECT,
 * a unix socket, hostile keys, threads, and the latency of one call; and
 * the writer thread that takes the writes of authorized relays off the
 * caller's path: they land without a flush, they never wait for a hung
 * Redis, a full queue drops and counts them, and free drains it in time.
 * A test that reads Redis right after an authorized relay waits for the
 * writer first (note(): rd_history_flush).
 *
 * The scenarios are data: each step is a call, and a refusal says what
 * the facts must be as "key=value" words, compared with what came back
 * (rendered the same way), so a failure reads
 *     ip changed: step 2: want elsewhere=198.51.100.7, got elsewhere=- ...
 * Each Redis test starts its own redis-server (testutil.h) on a free
 * loopback port in a temporary directory. Without redis-server the tests
 * fail; they never skip (RD_REDIS_SERVER names another binary).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "relaydiag/history.h"
#include "testutil.h"

#define T0 ((time_t)1700000000)

/* ---- helpers: time ---- */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

/* ---- facts as words ---- */

/*
 * render - the facts and alerts as "key=value" words, the form the
 * scenarios' expectations use.
 */
static void
render(const struct rd_history_facts *f, const struct rd_history_alerts *a,
    char *buf, size_t len)
{
	char sample[1400] = "-";
	size_t n = 0;
	unsigned i;

	for (i = 0; i < a->outage_nsample; i++)
		n += (size_t)snprintf(sample + n, sizeof(sample) - n, "%s%s",
		    i > 0 ? "," : "", a->outage_sample[i]);
	snprintf(buf, len,
	    "elsewhere=%s sasl_here=%d sender_ever=%d "
	    "client_ever=%d domains=%u attempts=%u probe=%d probe_n=%u "
	    "outage=%d outage_n=%u sample=%s from_redis=%d",
	    f->sender_authorized_elsewhere ? f->elsewhere_ip : "-",
	    f->sender_sasl_here, f->sender_authorized_ever,
	    f->client_authorized_ever, f->client_refused_domains,
	    f->client_refused_attempts, a->relay_probe, a->probe_attempts,
	    a->auth_outage, a->outage_senders, sample, f->from_redis);
}

/*
 * words_match - every word of want ("key=value") is a word of got; else
 * false with the first that is not in miss
 */
static bool
words_match(const char *want, const char *got, char *miss, size_t len)
{
	char padded[2100], w[260];
	const char *p, *q;

	snprintf(padded, sizeof(padded), " %s ", got);
	for (p = want; *p != '\0'; p = q) {
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		snprintf(w, sizeof(w), " %.*s ", (int)(q - p), p);
		if (strstr(padded, w) == NULL) {
			snprintf(miss, len, "%.*s", (int)(q - p), p);
			return (false);
		}
	}
	return (true);
}

/* ---- the scenarios ---- */

struct step {
	char op; /* 'a' authorized (network), 's' by
		    SASL, 'r' refused; 0 ends */
	const char *sender, *ip, *domain;
	int at;           /* s after T0 */
	const char *want; /* for 'r': words that must hold */
};

struct scenario {
	const char *name;
	bool local_only; /* moves time past a Redis TTL */
	struct step steps[16];
};

#define A "198.51.100.7"
#define B "203.0.113.9"
#define C "192.0.2.5"

static const struct scenario scenarios[] = {
    {"ip changed", false,
	{
	    {'a', "bob@example.org", A, NULL, 0, NULL},
	    {'r', "bob@example.org", B, "gmail.com", 600,
		"elsewhere=" A " sasl_here=0 sender_ever=1 client_ever=0 "
		"domains=1 attempts=1 probe=0 outage=0"},
	}},
    {"ip changed: the most recent other address", false,
	{
	    {'a', "bob@example.org", A, NULL, 0, NULL},
	    {'a', "bob@example.org", B, NULL, 100, NULL},
	    {'a', "bob@example.org", C, NULL, 200, NULL},
	    {'r', "bob@example.org", C, "gmail.com", 300,
		"elsewhere=" B " client_ever=1"},
	}},
    {"ip changed: sender case and IPv6 spelling", false,
	{
	    {'a', "Bob@Example.ORG", "2001:DB8:0::1", NULL, 0, NULL},
	    {'r', "bob@example.org", B, "gmail.com", 10,
		"elsewhere=2001:db8::1"},
	}},
    {"auth stopped", false,
	{
	    {'s', "carol@example.org", C, NULL, 0, NULL},
	    {'r', "carol@example.org", C, "gmail.com", 60,
		"elsewhere=- sasl_here=1 sender_ever=1 client_ever=1"},
	}},
    {"near miss: sasl from another address", false,
	{
	    {'s', "carol@example.org", A, NULL, 0, NULL},
	    {'r', "carol@example.org", B, "gmail.com", 10,
		"elsewhere=" A " sasl_here=0"},
	}},
    {"near miss: another sender", false,
	{
	    {'a', "bob@example.org", A, NULL, 0, NULL},
	    {'r', "alice@example.org", B, "gmail.com", 10,
		"elsewhere=- sasl_here=0 sender_ever=0 client_ever=0"},
	}},
    {"near miss: one second inside the window", false,
	{
	    {'s', "bob@example.org", A, NULL, 0, NULL},
	    {'r', "bob@example.org", B, "gmail.com", 3599,
		"elsewhere=" A " sender_ever=1"},
	    {'r', "bob@example.org", A, "gmail.com", 3599,
		"sasl_here=1 client_ever=1"},
	}},
    {"near miss: at the end of the window", false,
	{
	    {'s', "bob@example.org", A, NULL, 0, NULL},
	    {'r', "bob@example.org", B, "gmail.com", 3600,
		"elsewhere=- sender_ever=0"},
	    {'r', "bob@example.org", A, "gmail.com", 3600,
		"sasl_here=0 client_ever=0"},
	}},
    {"null sender is never recorded", false,
	{
	    {'a', "", A, NULL, 0, NULL},
	    {'r', "", B, "gmail.com", 10,
		"elsewhere=- sender_ever=0 client_ever=0"},
	    {'r', "", A, "gmail.com", 10, "elsewhere=- client_ever=1"},
	    {'a', "<>", C, NULL, 20, NULL},
	    {'r', "<>", B, "gmail.com", 30, "elsewhere=- sender_ever=0"},
	}},
    {"probe: distinct domains, every attempt", false,
	{
	    {'r', "x@spam.test", B, "a.test", 0, "domains=1 attempts=1"},
	    {'r', "y@spam.test", B, "b.test", 1, "domains=2 attempts=2"},
	    {'r', "x@spam.test", B, "A.TEST.", 2, "domains=2 attempts=3"},
	    {'r', "", B, "c.test", 3, "domains=3 attempts=4"},
	    {'r', "x@spam.test", C, "a.test", 4, "domains=1 attempts=1"},
	}},
    {"probe: domains leave the window", false,
	{
	    {'r', "x@spam.test", B, "a.test", 0, "domains=1"},
	    {'r', "x@spam.test", B, "b.test", 599, "domains=2"},
	    {'r', "x@spam.test", B, "c.test", 601, "domains=2"},
	}},
    {"alert relay-probe: once per window", false,
	{
	    {'r', "", B, "a.test", 0, "probe=0 probe_n=1"},
	    {'r', "", B, "b.test", 1, "probe=0"},
	    {'r', "", B, "c.test", 2, "probe=0"},
	    {'r', "", B, "d.test", 3, "probe=0 probe_n=4"},
	    {'r', "", B, "e.test", 4, "probe=1 probe_n=5 attempts=5"},
	    {'r', "", B, "f.test", 5, "probe=0 probe_n=6"},
	    {'r', "", B, "g.test", 6, "probe=0"},
	    {'r', "", C, "a.test", 7, "probe=0 probe_n=1"},
	}},
    {"alert relay-probe: again in the next window", true,
	{
	    {'r', "", B, "a.test", 0, "probe=0"},
	    {'r', "", B, "a.test", 1, "probe=0"},
	    {'r', "", B, "a.test", 2, "probe=0"},
	    {'r', "", B, "a.test", 3, "probe=0"},
	    {'r', "", B, "a.test", 4, "probe=1"},
	    {'r', "", B, "a.test", 5, "probe=0 attempts=6"},
	    {'r', "", B, "a.test", 600, "probe=0 attempts=1"},
	    {'r', "", B, "a.test", 601, "probe=0"},
	    {'r', "", B, "a.test", 602, "probe=0"},
	    {'r', "", B, "a.test", 603, "probe=0"},
	    {'r', "", B, "a.test", 604, "probe=1 attempts=5"},
	}},
    {"near miss: a lost user retrying is no probe", true,
	{
	    {'r', "u@example.org", B, "a.test", 0, "attempts=1"},
	    {'r', "u@example.org", B, "a.test", 300, "attempts=2"},
	    {'r', "u@example.org", B, "a.test", 600, "attempts=1"},
	    {'r', "u@example.org", B, "a.test", 900, "attempts=2"},
	    {'r', "u@example.org", B, "a.test", 1200, "attempts=1 probe=0"},
	}},
    {"alert auth-outage: once per window, with a sample", false,
	{
	    {'s', "u1@example.org", A, NULL, 0, NULL},
	    {'s', "u2@example.org", B, NULL, 1, NULL},
	    {'s', "u3@example.org", C, NULL, 2, NULL},
	    {'a', "u4@example.org", A, NULL, 3, NULL},
	    {'s', "u5@example.org", A, NULL, 4, NULL},
	    {'r', "u1@example.org", A, "gmail.com", 100,
		"outage=0 outage_n=1 sample=-"},
	    {'r', "u1@example.org", A, "gmx.de", 101, "outage=0 outage_n=1"},
	    {'r', "u4@example.org", A, "gmail.com", 102, "outage=0 outage_n=0"},
	    {'r', "", A, "gmail.com", 103, "outage=0 outage_n=0"},
	    {'r', "u2@example.org", B, "gmail.com", 104, "outage=0 outage_n=2"},
	    {'r', "u3@example.org", C, "gmail.com", 105,
		"outage=1 outage_n=3 sample=u3@example.org,u2@example.org,"
		"u1@example.org"},
	    {'r', "u5@example.org", B, "gmail.com", 106,
		"outage=0 outage_n=4 sample=- elsewhere=" A},
	}},
    {"alert auth-outage: again in the next window", true,
	{
	    {'s', "u1@example.org", A, NULL, 0, NULL},
	    {'s', "u2@example.org", A, NULL, 0, NULL},
	    {'s', "u3@example.org", A, NULL, 0, NULL},
	    {'r', "u1@example.org", A, "gmail.com", 10, "outage=0"},
	    {'r', "u2@example.org", A, "gmail.com", 11, "outage=0"},
	    {'r', "u3@example.org", A, "gmail.com", 12, "outage=1"},
	    {'r', "u1@example.org", A, "gmail.com", 500, "outage=0"},
	    {'r', "u2@example.org", A, "gmail.com", 905, "outage=0"},
	    {'r', "u3@example.org", A, "gmail.com", 906, "outage=0 outage_n=3"},
	    {'r', "u1@example.org", A, "gmail.com", 912, "outage=1 outage_n=3"},
	}},
    {"near miss: outage senders outside the window", false,
	{
	    {'s', "u1@example.org", A, NULL, 0, NULL},
	    {'s', "u2@example.org", A, NULL, 0, NULL},
	    {'s', "u3@example.org", A, NULL, 0, NULL},
	    {'r', "u1@example.org", A, "gmail.com", 10, "outage_n=1"},
	    {'r', "u2@example.org", A, "gmail.com", 20, "outage_n=2"},
	    {'r', "u3@example.org", A, "gmail.com", 910, "outage=0 outage_n=2"},
	}},
};

static void
params_default(struct rd_history_params *p, const char *url, const char *prefix)
{
	memset(p, 0, sizeof(*p));
	p->redis_url = url;
	p->key_prefix = prefix;
	p->timeout_ms = 200;
	p->history_window = 3600;
	p->probe_window = 600;
	p->outage_window = 900;
	p->outage_senders = 3;
	p->alert_probe_attempts = 5;
	p->cache_size = 10000;
	p->log = tu_log_capture;
}

static struct rd_history *
history_new(const struct rd_history_params *p)
{
	struct rd_history *h;
	struct rd_err err;

	memset(&err, 0, sizeof(err));
	if ((h = rd_history_new(p, &err)) == NULL)
		fail_msg("rd_history_new: %s", err.text);
	return (h);
}

/*
 * note - rd_history_note_authorized, then wait until its Redis write has
 * been answered (the writer thread sends it): the tests read Redis next
 */
static void
note(struct rd_history *h, const char *sender, const char *ip, bool sasl,
    time_t now)
{
	rd_history_note_authorized(h, sender, ip, sasl, now);
	if (!rd_history_flush(h, 5000))
		fail_msg(
		    "the Redis write of %s was not done within 5 s", sender);
}

/* step_run - one step; for a refusal, compare with its words */
static void
step_run(struct rd_history *h, const char *name, size_t i,
    const struct step *st, bool redis)
{
	struct rd_history_facts f;
	struct rd_history_alerts a;
	char got[2048], miss[256];

	if (st->op == 'a' || st->op == 's') {
		note(h, st->sender, st->ip, st->op == 's', T0 + st->at);
		return;
	}
	rd_history_refused(
	    h, st->sender, st->ip, st->domain, T0 + st->at, &f, &a);
	render(&f, &a, got, sizeof(got));
	if (st->want != NULL && !words_match(st->want, got, miss, sizeof(miss)))
		fail_msg(
		    "%s: step %zu: want %s, got %s", name, i + 1, miss, got);
	if (!words_match(redis ? "from_redis=1" : "from_redis=0", got, miss,
		sizeof(miss)))
		fail_msg(
		    "%s: step %zu: want %s, got %s", name, i + 1, miss, got);
}

/*
 * scenarios_run - every scenario on a new history (url NULL: local);
 * returns how many ran
 */
static int
scenarios_run(const char *url)
{
	int ran = 0;
	struct rd_history_params p;
	struct rd_history *h;
	char prefix[64];
	size_t s, i;

	for (s = 0; s < sizeof(scenarios) / sizeof(scenarios[0]); s++) {
		if (url != NULL && scenarios[s].local_only)
			continue;
		snprintf(prefix, sizeof(prefix), "t:%d:%zu:", (int)getpid(), s);
		params_default(&p, url, prefix);
		h = history_new(&p);
		for (i = 0; scenarios[s].steps[i].op != 0; i++)
			step_run(h, scenarios[s].name, i,
			    &scenarios[s].steps[i], url != NULL);
		rd_history_free(h);
		ran++;
	}
	return (ran);
}

/* ---- local cache only ---- */

static void
test_scenarios_local(void **state)
{
	(void)state;
	tu_log_reset();
	scenarios_run(NULL);
	tu_log_expect_n("history:", 0);
}

static void
test_cache_keeps_its_bound_and_the_newest(void **state)
{
	struct rd_history_params p;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	struct rd_history *h;
	char sender[64], ip[32];
	int i;

	(void)state;
	params_default(&p, NULL, NULL);
	p.cache_size = 40;
	h = history_new(&p);
	for (i = 0; i < 2000; i++) {
		snprintf(sender, sizeof(sender), "user%d@example.org", i);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250 + 1);
		rd_history_note_authorized(
		    h, sender, ip, i % 2 == 0, T0 + i / 10);
		if (rd_history_cache_entries(h) > 40)
			fail_msg("after %d senders the cache holds %zu "
				 "entries, more than 40",
			    i + 1, rd_history_cache_entries(h));
	}
	rd_history_refused(
	    h, "user1999@example.org", B, "gmail.com", T0 + 200, &f, &a);
	assert_true(f.sender_authorized_elsewhere);
	assert_string_equal(f.elsewhere_ip, "10.0.7.250");
	rd_history_refused(
	    h, "user0@example.org", B, "gmail.com", T0 + 200, &f, &a);
	assert_false(f.sender_authorized_ever); /* evicted: the oldest */

	/* One key never holds the whole cache: a sender seen from a
	   thousand addresses, a client probing a thousand domains. */
	for (i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i / 250, i % 250 + 1);
		rd_history_note_authorized(
		    h, "roamer@example.org", ip, false, T0 + 300 + i);
		snprintf(sender, sizeof(sender), "d%d.test", i);
		rd_history_refused(h, "", C, sender, T0 + 300 + i, &f, &a);
		assert_true(rd_history_cache_entries(h) <= 40);
	}
	assert_true(f.client_refused_domains <= 10);
	/* Attempts count in fixed windows from the first: [300, 900),
	   [900, 1500); the last is the 400th of the second. */
	assert_int_equal(f.client_refused_attempts, 400);
	rd_history_refused(
	    h, "roamer@example.org", B, "gmail.com", T0 + 1300, &f, &a);
	assert_true(f.sender_authorized_elsewhere);
	assert_string_equal(f.elsewhere_ip, "10.1.3.250");
	rd_history_free(h);
	rd_history_free(NULL);
}

static void
test_new_refuses_a_bad_url_or_prefix(void **state)
{
	struct rd_history_params p;
	struct rd_err err;
	char prefix[200];

	(void)state;
	params_default(&p, "http://127.0.0.1:6379", NULL);
	memset(&err, 0, sizeof(err));
	assert_null(rd_history_new(&p, &err));
	assert_string_equal(err.source, "RedisURL");
	params_default(&p, "redis://:secret@127.0.0.1:6379/x", NULL);
	memset(&err, 0, sizeof(err));
	assert_null(rd_history_new(&p, &err));
	assert_null(strstr(err.text, "secret"));
	memset(prefix, 'k', sizeof(prefix) - 1);
	prefix[sizeof(prefix) - 1] = '\0';
	params_default(&p, NULL, prefix);
	memset(&err, 0, sizeof(err));
	assert_null(rd_history_new(&p, &err));
	assert_non_null(strstr(err.text, "prefix"));
}

/* key_exists - EXISTS key (binary) in db, on the test's own connection */
static bool
key_exists(const struct tu_redis *s, unsigned db, const char *key, size_t len)
{
	const char *argv[2] = {"EXISTS", key};
	size_t lens[2] = {6, len};
	redisContext *c = tu_redis_connect(s, db);
	redisReply *r;
	bool yes;

	if (c == NULL)
		fail_msg("cannot connect to look at the keys");
	r = redisCommandArgv(c, 2, argv, lens);
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		fail_msg("EXISTS failed");
	yes = r->integer == 1;
	freeReplyObject(r);
	redisFree(c);
	return (yes);
}

/* refuse - one refusal; returns how long it took, in ms */
static int64_t
refuse(struct rd_history *h, const char *sender, const char *ip, time_t now,
    struct rd_history_facts *f, struct rd_history_alerts *a)
{
	int64_t t = tu_now_ms();

	rd_history_refused(h, sender, ip, "gmail.com", now, f, a);
	return (tu_now_ms() - t);
}

/* ---- against redis-server ---- */

static void
test_scenarios_redis(void **state)
{
	struct tu_redis *s = *state;
	int ran;

	tu_redis_start(s);
	ran = scenarios_run(s->url);
	tu_log_expect_n("history: redis up", ran); /* once per history */
	tu_log_expect_n("history: redis down", 0);
}

static void
test_two_mtas_see_each_others_history(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *mta1, *mta2;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:two:");
	p.outage_senders = 2;
	mta1 = history_new(&p);
	mta2 = history_new(&p);

	/* bob relayed through mta1 from A (POP-before-SMTP: no SASL);
	   mta2 refuses him from B. */
	note(mta1, "bob@example.org", A, false, T0);
	refuse(mta2, "bob@example.org", B, T0 + 60, &f, &a);
	assert_true(f.from_redis);
	assert_true(f.sender_authorized_elsewhere);
	assert_string_equal(f.elsewhere_ip, A);

	/* A prober spreads its attempts over both: counted once, the
	   alert raised by whichever MTA sees the fifth. */
	for (i = 0; i < 9; i++) {
		refuse(i % 2 ? mta1 : mta2, "", C, T0 + 100 + i, &f, &a);
		assert_int_equal(f.client_refused_attempts, i + 1);
		assert_int_equal(a.relay_probe, i + 1 == 5);
	}

	/* The outage alert: raised once for both MTAs. */
	note(mta1, "u1@example.org", A, true, T0);
	note(mta2, "u2@example.org", B, true, T0);
	note(mta1, "u3@example.org", C, true, T0);
	refuse(mta1, "u1@example.org", A, T0 + 200, &f, &a);
	assert_false(a.auth_outage);
	refuse(mta2, "u2@example.org", B, T0 + 201, &f, &a);
	assert_true(a.auth_outage);
	assert_int_equal(a.outage_nsample, 2);
	refuse(mta1, "u3@example.org", C, T0 + 202, &f, &a);
	assert_false(a.auth_outage);
	assert_int_equal(a.outage_senders, 3);
	assert_true(rd_history_redis_up(mta1) && rd_history_redis_up(mta2));
	rd_history_free(mta1);
	rd_history_free(mta2);
}

/*
 * Redis killed mid-test: calls return at once and answer from the cache,
 * which knows what this MTA wrote; "down" is logged once. Restarted (its
 * data lost: no persistence), it is used again after the backoff.
 */
static void
test_redis_killed_then_restarted(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	int64_t t, worst = 0, t0;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:kill:");
	p.timeout_ms = 100;
	h = history_new(&p);
	note(h, "bob@example.org", A, false, T0);
	refuse(h, "bob@example.org", B, T0 + 1, &f, &a);
	assert_true(f.from_redis);
	assert_true(f.sender_authorized_elsewhere);
	tu_log_expect_n("history: redis up", 1);

	tu_redis_stop(s, SIGKILL);
	rd_history_note_authorized(h, "carol@example.org", C, true, T0 + 2);
	for (i = 0; i < 50; i++) {
		if ((t = refuse(h, "bob@example.org", B, T0 + 3, &f, &a)) >
		    worst)
			worst = t;
		assert_false(f.from_redis);
		assert_true(f.sender_authorized_elsewhere);
		assert_string_equal(f.elsewhere_ip, A);
	}
	refuse(h, "carol@example.org", C, T0 + 4, &f, &a);
	assert_true(f.sender_sasl_here); /* written while down */
	assert_false(f.from_redis);
	if (worst > 150)
		fail_msg("a call took %" PRId64 " ms with Redis dead; the "
			 "deadline is 100 ms",
		    worst);
	tu_log_expect_n("history: redis down", 1);
	assert_false(rd_history_redis_up(h));

	tu_redis_start(s);
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 4000; usleep(50000)) {
		refuse(h, "bob@example.org", B, T0 + 5, &f, &a);
		if (f.from_redis)
			break;
	}
	if (!f.from_redis)
		fail_msg("Redis not used again within 4 s of its restart");
	tu_log_expect_n("history: redis up after", 1);
	tu_log_expect_n("history: redis down", 1);
	assert_true(rd_history_redis_up(h));
	/* Its data went with it; what is written now is shared again. */
	assert_false(f.sender_authorized_elsewhere);
	note(h, "dave@example.org", A, true, T0 + 6);
	assert_true(key_exists(s, 0, "t:kill:s:dave@example.org", 25));
	rd_history_free(h);
}

/*
 * The relay-probe alert across an outage: Redis misses the refusals made
 * while it is down and loses its counter in the restart, this MTA's cache
 * saw them all. The alert fires once, at the limit-th refusal this MTA
 * made; not again when Redis's lagging counter reaches the limit later.
 */
static void
test_probe_alert_once_across_an_outage(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	int64_t t0;
	int n = 0, alerts = 0, at = 0, redis_again = 0;

	tu_redis_start(s);
	params_default(&p, s->url, "t:palert:");
	p.timeout_ms = 100;
	p.alert_probe_attempts = 60;
	h = history_new(&p);
#define REFUSE_COUNTED()                                                       \
	do {                                                                   \
		refuse(h, "", C, T0 + 1, &f, &a);                              \
		n++;                                                           \
		assert_int_equal(f.client_refused_attempts, n);                \
		if (a.relay_probe)                                             \
			alerts++, at = n;                                      \
	} while (0)
	while (n < 5)
		REFUSE_COUNTED();
	assert_true(f.from_redis);
	tu_redis_stop(s, SIGKILL);
	while (n < 15)
		REFUSE_COUNTED();
	assert_false(f.from_redis);
	tu_redis_start(s);
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 4000 && !f.from_redis;
	     usleep(50000))
		REFUSE_COUNTED();
	if (!f.from_redis)
		fail_msg("Redis not used again within 4 s of its restart");
	redis_again = n;
	while (n < 200)
		REFUSE_COUNTED();
#undef REFUSE_COUNTED
	assert_true(f.from_redis);
	if (redis_again >= 60)
		fail_msg("Redis came back only after %d refusals", redis_again);
	assert_int_equal(alerts, 1);
	assert_int_equal(at, 60);
	rd_history_free(h);
}

/*
 * Redis closes idle connections (its timeout setting, CLIENT KILL): the
 * next call reconnects once within its deadline; Redis is not down.
 */
static void
test_idle_connection_closed_by_redis_is_replaced(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	redisContext *c;
	redisReply *r;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:idle:");
	h = history_new(&p);
	for (i = 0; i < 3; i++) {
		note(h, "bob@example.org", A, false, T0 + i);
		c = tu_redis_connect(s, 0);
		r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
		if (r == NULL || r->type != REDIS_REPLY_INTEGER ||
		    r->integer < 1)
			fail_msg("CLIENT KILL closed no connection");
		freeReplyObject(r);
		redisFree(c);
		refuse(h, "bob@example.org", B, T0 + i, &f, &a);
		assert_true(f.from_redis);
		assert_true(f.sender_authorized_elsewhere);
	}
	tu_log_expect_n("history: redis down", 0);
	rd_history_free(h);
}

/* Redis hung (SIGSTOP): every call keeps to its deadline. */
static void
test_redis_hung_keeps_the_deadline(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	int64_t t, worst = 0, t0;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:hung:");
	p.timeout_ms = 100;
	h = history_new(&p);
	note(h, "bob@example.org", A, false, T0);
	kill(s->pid, SIGSTOP);
	/* Over 2.5 s: the first call times out, then retries after 1 s
	   and 2 s connect (the kernel accepts) and time out again. */
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 2500; usleep(20000)) {
		if ((t = refuse(h, "bob@example.org", B, T0 + 1, &f, &a)) >
		    worst)
			worst = t;
		assert_false(f.from_redis);
		assert_true(f.sender_authorized_elsewhere);
	}
	for (i = 0, t = tu_now_ms(); i < 20; i++)
		rd_history_note_authorized(
		    h, "bob@example.org", C, false, T0 + 2);
	if (tu_now_ms() - t > 150)
		fail_msg("20 writes took %" PRId64 " ms with Redis hung",
		    tu_now_ms() - t);
	if (worst > 180)
		fail_msg("a call took %" PRId64 " ms with Redis hung; the "
			 "deadline is 100 ms",
		    worst);
	tu_log_expect_n("history: redis down: no reply within 100 ms", 1);
	kill(s->pid, SIGCONT);
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 5000; usleep(50000)) {
		refuse(h, "bob@example.org", B, T0 + 5, &f, &a);
		if (f.from_redis)
			break;
	}
	assert_true(f.from_redis);
	tu_log_expect_n("history: redis up after", 1);
	rd_history_free(h);
}

/* Network text with spaces, CR LF, controls and high bytes is one key. */
static void
test_hostile_text_is_one_key(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	const char *evil_sender = "ev il\r\nFLUSHALL\r\n*1\r\n$4\r\nPING"
				  "\x01\x7f\xfe\xff@x y.test";
	const char *evil_ip = "1.2.3.4 \r\nDEL canary\r\n";
	char key[256];
	redisContext *c;
	redisReply *r;

	tu_redis_start(s);
	c = tu_redis_connect(s, 0);
	r = redisCommand(c, "SET canary 1");
	freeReplyObject(r);
	redisFree(c);
	params_default(&p, s->url, "t:evil:");
	h = history_new(&p);
	note(h, evil_sender, evil_ip, true, T0);
	rd_history_refused(h, evil_sender, B, "a b\r\n.test", T0 + 1, &f, &a);
	assert_true(f.from_redis);
	assert_true(f.sender_authorized_elsewhere);
	assert_string_equal(f.elsewhere_ip, "1.2.3.4 \r\ndel canary\r\n");
	rd_history_refused(h, evil_sender, evil_ip, "x.test", T0 + 2, &f, &a);
	assert_true(f.sender_sasl_here);
	assert_true(f.client_authorized_ever);
	assert_true(key_exists(s, 0, "canary", 6));
	snprintf(key, sizeof(key),
	    "t:evil:s:ev il\r\nflushall\r\n*1\r\n"
	    "$4\r\nping\x01\x7f\xfe\xff@x y.test");
	assert_true(key_exists(s, 0, key, strlen(key)));
	assert_true(rd_history_redis_up(h));
	tu_log_expect_n("history: redis down", 0);
	rd_history_free(h);
}

/* AUTH and SELECT from the URL; a unix socket; a wrong password. */
static void
test_auth_select_and_unix_socket(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	char url[300];

	snprintf(s->pass, sizeof(s->pass), "s3cret");
	tu_redis_start(s);

	snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3", s->port);
	params_default(&p, url, "t:db:");
	h = history_new(&p);
	note(h, "bob@example.org", A, false, T0);
	refuse(h, "bob@example.org", B, T0 + 1, &f, &a);
	assert_true(f.from_redis && f.sender_authorized_elsewhere);
	assert_true(key_exists(s, 3, "t:db:s:bob@example.org", 22));
	assert_false(key_exists(s, 0, "t:db:s:bob@example.org", 22));
	rd_history_free(h);

	snprintf(url, sizeof(url), "unix://:s3cret@%s?db=2", s->sock);
	params_default(&p, url, "t:unix:");
	h = history_new(&p);
	note(h, "bob@example.org", A, false, T0);
	refuse(h, "bob@example.org", B, T0 + 1, &f, &a);
	assert_true(f.from_redis && f.sender_authorized_elsewhere);
	assert_true(key_exists(s, 2, "t:unix:s:bob@example.org", 24));
	rd_history_free(h);

	tu_log_reset();
	snprintf(url, sizeof(url), "redis://:badpass9@127.0.0.1:%d", s->port);
	params_default(&p, url, "t:wrong:");
	h = history_new(&p);
	refuse(h, "bob@example.org", B, T0 + 1, &f, &a);
	assert_false(f.from_redis);
	tu_log_expect_n("history: redis down: AUTH refused: ", 1);
	tu_log_expect_n("badpass9", 0); /* no password in the log */
	rd_history_free(h);
}

/* Many session threads on one history: the pool serializes nothing. */
#define THREADS 8
#define CALLS 150

struct worker {
	struct rd_history *h;
	int n;
	int bad; /* calls not answered by Redis */
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	char sender[64];
	int i;

	for (i = 0; i < CALLS; i++) {
		snprintf(sender, sizeof(sender), "w%d-%d@example.org", w->n, i);
		note(w->h, sender, A, true, T0 + i);
		rd_history_refused(
		    w->h, sender, C, "gmail.com", T0 + i, &f, &a);
		if (!f.from_redis || !f.sender_authorized_elsewhere ||
		    strcmp(f.elsewhere_ip, A) != 0)
			w->bad++;
	}
	return (NULL);
}

static void
test_threads_share_the_pool(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	struct worker w[THREADS];
	pthread_t t[THREADS];
	int i, bad = 0;

	tu_redis_start(s);
	params_default(&p, s->url, "t:threads:");
	p.timeout_ms = 1000; /* a loaded test host, not a deadline test */
	p.alert_probe_attempts = 1000000;
	h = history_new(&p);
	for (i = 0; i < THREADS; i++) {
		w[i].h = h;
		w[i].n = i;
		w[i].bad = 0;
		if (pthread_create(&t[i], NULL, worker_run, &w[i]) != 0)
			fail_msg("pthread_create");
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		bad += w[i].bad;
	}
	assert_int_equal(bad, 0);
	rd_history_refused(h, "", C, "gmail.com", T0 + 1000, &f, &a);
	assert_true(f.from_redis);
	assert_int_equal(f.client_refused_attempts, THREADS * CALLS + 1);
	tu_log_expect_n("history: redis down", 0);
	rd_history_free(h);
}

static int
cmp_i64(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

	return (a < b ? -1 : a > b);
}

/* The latency of one call to a local Redis (printed, loosely checked). */
static void
test_latency_of_one_call(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_history_facts f;
	struct rd_history_alerts a;
	static int64_t us[3][1000];
	const char *what[3] = {"note_authorized", "refused",
	    "refused, sender with SASL history (outage set: 2 round "
	    "trips)"};
	char sender[64], ip[32];
	int64_t t;
	int i, k;

	tu_redis_start(s);
	params_default(&p, s->url, "t:lat:");
	p.alert_probe_attempts = 1000000;
	p.outage_senders = 100000;
	h = history_new(&p);
	for (i = 0; i < 1000; i++) {
		snprintf(sender, sizeof(sender), "u%d@example.org", i);
		snprintf(ip, sizeof(ip), "10.2.%d.%d", i / 250, i % 250 + 1);
		t = now_us();
		rd_history_note_authorized(h, sender, ip, i % 2 == 0, T0 + i);
		us[0][i] = now_us() - t;
		t = now_us();
		rd_history_refused(
		    h, "nobody@example.org", ip, "gmail.com", T0 + i, &f, &a);
		us[1][i] = now_us() - t;
		assert_true(f.from_redis);
		t = now_us();
		rd_history_refused(h, i % 2 == 0 ? sender : "u0@example.org", B,
		    "gmail.com", T0 + i, &f, &a);
		us[2][i] = now_us() - t;
		assert_true(f.from_redis);
	}
	for (k = 0; k < 3; k++) {
		qsort(us[k], 1000, sizeof(us[k][0]), cmp_i64);
		print_message("latency of %s over 1000 calls: p50 %" PRId64
			      " us, p99 %" PRId64 " us, max %" PRId64 " us\n",
		    what[k], us[k][499], us[k][989], us[k][999]);
		if (us[k][989] > 50000)
			fail_msg("%s: p99 %" PRId64 " us, over the 50 ms "
				 "default deadline",
			    what[k], us[k][989]);
	}
	rd_history_free(h);
}

/* ---- the writer thread ---- */

/* count_keys - KEYS pattern in db 0: how many */
static size_t
count_keys(const struct tu_redis *s, const char *pattern)
{
	redisContext *c = tu_redis_connect(s, 0);
	redisReply *r;
	size_t n;

	if (c == NULL)
		fail_msg("cannot connect to look at the keys");
	r = redisCommand(c, "KEYS %s", pattern);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		fail_msg("KEYS %s failed", pattern);
	n = r->elements;
	freeReplyObject(r);
	redisFree(c);
	return (n);
}

/* zmembers - a sorted set's members, space-separated, into buf */
static const char *
zmembers(const struct tu_redis *s, const char *key, char *buf, size_t len)
{
	redisContext *c = tu_redis_connect(s, 0);
	redisReply *r;
	size_t i, n = 0;

	if (c == NULL)
		fail_msg("cannot connect to look at the keys");
	r = redisCommand(c, "ZRANGE %s 0 -1", key);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		fail_msg("ZRANGE %s failed", key);
	buf[0] = '\0';
	for (i = 0; i < r->elements; i++)
		n += (size_t)snprintf(
		    buf + n, len - n, "%s%s", i ? " " : "", r->element[i]->str);
	freeReplyObject(r);
	redisFree(c);
	return (buf);
}

/*
 * An authorized relay reaches Redis by itself, soon, with what a
 * synchronous write wrote; and rd_history_free sends what is still queued.
 */
static void
test_the_writer_thread_lands_writes_without_a_flush(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	char got[256];
	int64_t t0;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:async:");
	h = history_new(&p);
	rd_history_note_authorized(h, "Bob@Example.org", A, true, T0);
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 2000; usleep(1000))
		if (key_exists(s, 0, "t:async:c:" A, strlen("t:async:c:" A)))
			break;
	if (!key_exists(s, 0, "t:async:c:" A, strlen("t:async:c:" A)))
		fail_msg("the write did not reach Redis within 2 s");
	assert_true(rd_history_flush(h, 2000));
	assert_string_equal(
	    zmembers(s, "t:async:s:bob@example.org", got, sizeof(got)),
	    "a:" A " l:" A);

	/* Queued and freed at once: free drains the queue first. */
	for (i = 0; i < 300; i++) {
		snprintf(got, sizeof(got), "late%d@example.org", i);
		rd_history_note_authorized(h, got, B, false, T0 + 1);
	}
	rd_history_free(h);
	assert_int_equal(count_keys(s, "t:async:s:late*"), 300);
	tu_log_expect_n("history: redis down", 0);
	tu_log_expect_n("history: write queue", 0);
}

/*
 * Redis hung (SIGSTOP), with a deadline of 1 s: an authorized relay still
 * returns within 1 ms (the writer waits, not the caller), and what was
 * queued meanwhile lands once Redis runs again.
 */
static void
test_redis_hung_note_authorized_returns_within_1_ms(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	static int64_t us[200];
	char sender[64];
	int64_t t;
	int i, slow = 0;

	tu_redis_start(s);
	params_default(&p, s->url, "t:nowait:");
	p.timeout_ms = 1000;
	h = history_new(&p);
	note(h, "first@example.org", A, false, T0); /* connected, pooled */
	kill(s->pid, SIGSTOP);
	for (i = 0; i < 200; i++) {
		snprintf(sender, sizeof(sender), "u%d@example.org", i);
		t = now_us();
		rd_history_note_authorized(h, sender, B, i % 2 == 0, T0 + 1);
		us[i] = now_us() - t;
		usleep(200); /* the writer takes some, then hangs */
	}
	kill(s->pid, SIGCONT);
	qsort(us, 200, sizeof(us[0]), cmp_i64);
	for (i = 0; i < 200; i++)
		slow += us[i] > 1000;
	print_message("note_authorized with Redis hung, 200 calls: p50 %" PRId64
		      " us, p99 %" PRId64 " us, max %" PRId64 " us\n",
	    us[99], us[197], us[199]);
	/* A loaded test host may deschedule the caller for a few ms; a wait
	   for Redis would take the whole second. */
	if (slow > 4 || us[199] > 100000)
		fail_msg("%d of 200 calls took over 1 ms, the slowest %" PRId64
			 " us, with Redis hung",
		    slow, us[199]);
	assert_true(rd_history_flush(h, 5000));
	assert_int_equal(rd_history_writes_dropped(h), 0);
	assert_int_equal(count_keys(s, "t:nowait:s:u*"), 200);
	rd_history_free(h);
}

/*
 * A queue of 16 with the writer stuck on a hung Redis: the writes that do
 * not fit are dropped and counted, logged once when it fills and once
 * when it has drained; the ones that fit land when Redis runs again.
 */
static void
test_queue_overflow_is_counted(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	unsigned long long dropped;
	char sender[64], line[160];
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:full:");
	p.timeout_ms = 3000;
	p.queue_size = 16;
	h = history_new(&p);
	note(h, "first@example.org", A, false, T0);
	/*
	 * The writer idle and connected; then Redis hangs and one write keeps
	 * the writer waiting on it, so the queue fills exactly once (without
	 * this, the writer could take a batch from the full queue first).
	 */
	assert_true(rd_history_flush(h, 5000));
	kill(s->pid, SIGSTOP);
	rd_history_note_authorized(h, "blocker@example.org", B, false, T0 + 1);
	usleep(200 * 1000);
	for (i = 0; i < 100; i++) {
		snprintf(sender, sizeof(sender), "u%d@example.org", i);
		rd_history_note_authorized(h, sender, B, false, T0 + 1);
	}
	dropped = rd_history_writes_dropped(h);
	kill(s->pid, SIGCONT);
	/* 16 queued, and at most a batch of 16 the writer took first */
	if (dropped < 100 - 32 || dropped > 100 - 16)
		fail_msg("%llu of 100 writes dropped with a queue of 16; want "
			 "68 to 84",
		    dropped);
	tu_log_expect_n("history: write queue full (16 writes)", 1);
	assert_true(rd_history_flush(h, 5000));
	snprintf(line, sizeof(line),
	    "history: write queue drained; %llu Redis writes were dropped",
	    dropped);
	tu_log_expect_n(line, 1);
	assert_int_equal(count_keys(s, "t:full:s:u*"), 100 - (size_t)dropped);
	assert_int_equal(rd_history_writes_dropped(h), dropped);
	tu_log_expect_n("history: redis down", 0);
	rd_history_free(h);
}

/*
 * rd_history_free with Redis hung and writes queued returns after one
 * deadline (Redis is then down: the rest is given up at once), well
 * within its bound of 4 deadlines and the round trip in flight.
 */
static void
test_free_with_redis_hung_is_bounded(void **state)
{
	struct tu_redis *s = *state;
	struct rd_history_params p;
	struct rd_history *h;
	char sender[64];
	int64_t t;
	int i;

	tu_redis_start(s);
	params_default(&p, s->url, "t:stop:");
	p.timeout_ms = 100;
	h = history_new(&p);
	note(h, "first@example.org", A, false, T0);
	kill(s->pid, SIGSTOP);
	for (i = 0; i < 500; i++) {
		snprintf(sender, sizeof(sender), "u%d@example.org", i);
		rd_history_note_authorized(h, sender, B, false, T0 + 1);
	}
	t = tu_now_ms();
	rd_history_free(h);
	t = tu_now_ms() - t;
	kill(s->pid, SIGCONT);
	print_message("rd_history_free with Redis hung: %" PRId64 " ms\n", t);
	if (t > 500 + 300)
		fail_msg("rd_history_free took %" PRId64 " ms with Redis hung; "
			 "the bound is 500 ms",
		    t);
	tu_log_expect_n("history: redis down: no reply within 100 ms", 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scenarios_local),
	    cmocka_unit_test(test_cache_keeps_its_bound_and_the_newest),
	    cmocka_unit_test(test_new_refuses_a_bad_url_or_prefix),
	    cmocka_unit_test_setup_teardown(
		test_scenarios_redis, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_two_mtas_see_each_others_history, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_redis_killed_then_restarted,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_probe_alert_once_across_an_outage, tu_redis_setup,
		tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_idle_connection_closed_by_redis_is_replaced,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_redis_hung_keeps_the_deadline,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_hostile_text_is_one_key,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_auth_select_and_unix_socket,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_threads_share_the_pool, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_latency_of_one_call, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_the_writer_thread_lands_writes_without_a_flush,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_redis_hung_note_authorized_returns_within_1_ms,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(test_queue_overflow_is_counted,
		tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_free_with_redis_hung_is_bounded, tu_redis_setup,
		tu_redis_teardown),
	};

	/* hiredis writes with write(2): a dead Redis raises SIGPIPE, which
	   the daemon ignores (main.c); so do the tests. */
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

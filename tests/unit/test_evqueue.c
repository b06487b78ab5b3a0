/*
 * test_evqueue.c - the bounded MPSC queue: order, full, batching, timed
 * waits, close, and many producers against one consumer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "relaydiag/evqueue.h"
#include "testutil.h"

static char *json_of(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* json_of - a malloc'ed string, as the sessions hand over */
static char *
json_of(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		fail_msg("vasprintf");
	return (s);
}

static void
items_free(struct rd_evqueue_item *it, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(it[i].json);
}

/* items come out in the order they went in, with their type */
static void
test_fifo_with_types(void **state)
{
	static const char *types[] = {"rcpt", "message", "session", "alert"};
	struct rd_evqueue_item out[8];
	struct rd_evqueue *q;
	char want[64];
	size_t n, i;

	(void)state;
	q = rd_evqueue_new(8, NULL);
	assert_non_null(q);
	for (i = 0; i < 6; i++)
		assert_int_equal(rd_evqueue_put_take(q, types[i % 4],
				     json_of("{\"id\":\"e%u\",\"n\":%u}",
					 (unsigned)i, (unsigned)i)),
		    0);
	assert_int_equal(rd_evqueue_len(q), 6);
	n = rd_evqueue_get(q, out, 8, 0);
	assert_int_equal(n, 6);
	for (i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "{\"id\":\"e%u\",\"n\":%u}",
		    (unsigned)i, (unsigned)i);
		assert_string_equal(out[i].type, types[i % 4]);
		assert_string_equal(out[i].json, want);
		assert_int_equal(out[i].len, strlen(want));
	}
	items_free(out, n);
	assert_int_equal(rd_evqueue_len(q), 0);
	rd_evqueue_free(q);
}

/* a full queue refuses at once, and the caller keeps its string */
static void
test_full_refuses_caller_keeps_json(void **state)
{
	struct rd_evqueue_item out[4];
	struct rd_evqueue *q;
	char *j;
	int64_t t0;

	(void)state;
	q = rd_evqueue_new(2, NULL);
	assert_int_equal(
	    rd_evqueue_put_take(q, "rcpt", strdup("{\"id\":1}")), 0);
	assert_int_equal(
	    rd_evqueue_put_take(q, "rcpt", strdup("{\"id\":2}")), 0);
	j = strdup("{\"id\":3}");
	t0 = tu_now_ms();
	errno = 0;
	assert_int_equal(rd_evqueue_put_take(q, "rcpt", j), -1);
	assert_int_equal(errno, ENOBUFS);
	assert_true(tu_now_ms() - t0 < 50);   /* never waits */
	assert_string_equal(j, "{\"id\":3}"); /* still ours */
	free(j);
	/* room again after a get */
	assert_int_equal(rd_evqueue_get(q, out, 1, 0), 1);
	assert_string_equal(out[0].json, "{\"id\":1}");
	free(out[0].json);
	assert_int_equal(
	    rd_evqueue_put_take(q, "rcpt", strdup("{\"id\":4}")), 0);
	assert_int_equal(rd_evqueue_get(q, out, 4, 0), 2);
	assert_string_equal(out[0].json, "{\"id\":2}");
	assert_string_equal(out[1].json, "{\"id\":4}"); /* ring wrapped */
	items_free(out, 2);
	rd_evqueue_free(q);
}

/* bad arguments are refused with EINVAL, near misses accepted */
static void
test_bad_type_refused(void **state)
{
	static const struct {
		const char *name, *type;
		int want;
	} cases[] = {
	    {"NULL type", NULL, -1},
	    {"empty type", "", -1},
	    {"type of 32 bytes", "abcdefghijklmnopqrstuvwxyz012345", -1},
	    {"near miss: 31 bytes", "abcdefghijklmnopqrstuvwxyz01234", 0},
	};
	struct rd_evqueue_item out[1];
	struct rd_evqueue *q;
	size_t i;
	char *j;
	int r;

	(void)state;
	q = rd_evqueue_new(4, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		j = strdup("{}");
		errno = 0;
		r = rd_evqueue_put_take(q, cases[i].type, j);
		if (r != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].name, r,
			    cases[i].want);
		if (r != 0) {
			assert_int_equal(errno, EINVAL);
			free(j);
		}
	}
	assert_int_equal(rd_evqueue_put_take(q, "rcpt", NULL), -1);
	assert_int_equal(rd_evqueue_get(q, out, 1, 0), 1);
	assert_string_equal(out[0].type, cases[3].type);
	free(out[0].json);
	rd_evqueue_free(q);
}

/* a get takes at most max items, and the rest stays in order */
static void
test_get_batches(void **state)
{
	struct rd_evqueue_item out[4];
	struct rd_evqueue *q;
	unsigned i, next = 0;
	size_t n, k;
	char want[32];

	(void)state;
	q = rd_evqueue_new(16, NULL);
	for (i = 0; i < 10; i++)
		assert_int_equal(
		    rd_evqueue_put_take(q, "rcpt", json_of("%u", i)), 0);
	while ((n = rd_evqueue_get(q, out, 4, 0)) > 0) {
		assert_true(n <= 4);
		for (k = 0; k < n; k++) {
			snprintf(want, sizeof(want), "%u", next++);
			assert_string_equal(out[k].json, want);
		}
		items_free(out, n);
	}
	assert_int_equal(next, 10);
	rd_evqueue_free(q);
}

/* an empty get waits for its timeout, and not much longer */
static void
test_timed_wait(void **state)
{
	struct rd_evqueue_item out[1];
	struct rd_evqueue *q;
	int64_t t0, dt;

	(void)state;
	q = rd_evqueue_new(4, NULL);
	t0 = tu_now_ms();
	assert_int_equal(rd_evqueue_get(q, out, 1, 120), 0);
	dt = tu_now_ms() - t0;
	if (dt < 115 || dt > 1000)
		fail_msg("get(120 ms) returned after %lld ms", (long long)dt);
	t0 = tu_now_ms();
	assert_false(rd_evqueue_wait(q, 60));
	dt = tu_now_ms() - t0;
	if (dt < 55 || dt > 1000)
		fail_msg("wait(60 ms) returned after %lld ms", (long long)dt);
	t0 = tu_now_ms();
	assert_int_equal(rd_evqueue_get(q, out, 1, 0), 0);
	assert_true(tu_now_ms() - t0 < 50);
	rd_evqueue_free(q);
}

struct waiter {
	struct rd_evqueue *q;
	size_t got;
	int64_t waited_ms;
};

static void *
waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct rd_evqueue_item out[4];
	int64_t t0 = tu_now_ms();

	w->got = rd_evqueue_get(w->q, out, 4, -1);
	w->waited_ms = tu_now_ms() - t0;
	items_free(out, w->got);
	return (NULL);
}

/* a put wakes a consumer waiting without a time limit */
static void
test_put_wakes_waiter(void **state)
{
	struct waiter w = {0};
	pthread_t t;

	(void)state;
	w.q = rd_evqueue_new(4, NULL);
	pthread_create(&t, NULL, waiter_main, &w);
	usleep(50000);
	assert_int_equal(rd_evqueue_put_take(w.q, "rcpt", strdup("{}")), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.got, 1);
	assert_true(w.waited_ms >= 40);
	rd_evqueue_free(w.q);
}

/* close wakes a waiter, refuses puts, and leaves queued items takeable */
static void
test_close(void **state)
{
	struct rd_evqueue_item out[4];
	struct waiter w = {0};
	pthread_t t;
	char *j;

	(void)state;
	w.q = rd_evqueue_new(4, NULL);
	pthread_create(&t, NULL, waiter_main, &w);
	usleep(50000);
	rd_evqueue_close(w.q);
	pthread_join(t, NULL);
	assert_int_equal(w.got, 0);

	rd_evqueue_free(w.q);
	w.q = rd_evqueue_new(4, NULL);
	assert_int_equal(
	    rd_evqueue_put_take(w.q, "rcpt", strdup("{\"a\":1}")), 0);
	rd_evqueue_close(w.q);
	rd_evqueue_close(w.q); /* idempotent */
	j = strdup("{}");
	errno = 0;
	assert_int_equal(rd_evqueue_put_take(w.q, "rcpt", j), -1);
	assert_int_equal(errno, EPIPE);
	free(j);
	assert_true(rd_evqueue_wait(w.q, -1));
	assert_int_equal(rd_evqueue_get(w.q, out, 4, -1), 1);
	free(out[0].json);
	assert_int_equal(rd_evqueue_get(w.q, out, 4, -1), 0); /* no hang */
	rd_evqueue_free(w.q);
}

/* free releases the items still queued (ASan/valgrind check the leak) */
static void
test_free_with_items(void **state)
{
	struct rd_evqueue *q;
	unsigned i;

	(void)state;
	q = rd_evqueue_new(5, NULL);
	for (i = 0; i < 5; i++)
		assert_int_equal(
		    rd_evqueue_put_take(q, "alert", json_of("{\"i\":%u}", i)),
		    0);
	rd_evqueue_free(q);
	rd_evqueue_free(NULL);
}

/* capacity 0 is an error with a message */
static void
test_zero_capacity(void **state)
{
	struct rd_err err;

	(void)state;
	memset(&err, 0, sizeof(err));
	assert_null(rd_evqueue_new(0, &err));
	assert_non_null(strstr(err.text, "capacity"));
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

struct producer {
	struct rd_evqueue *q;
	unsigned id;
	unsigned refused;
};

static void *
producer_main(void *arg)
{
	struct producer *p = arg;
	unsigned i;
	char *j;

	for (i = 0; i < PER_PRODUCER; i++) {
		j = json_of("%u %u", p->id, i);
		/* the caller decides when full: here, retry */
		while (rd_evqueue_put_take(p->q, "rcpt", j) != 0) {
			p->refused++;
			sched_yield();
		}
	}
	return (NULL);
}

/* many producers, one consumer: nothing lost, each producer in order */
static void
test_mpsc_order_per_producer(void **state)
{
	struct producer prod[PRODUCERS];
	struct rd_evqueue_item out[64];
	unsigned next[PRODUCERS] = {0}, id, seq, total = 0, refused = 0;
	pthread_t t[PRODUCERS];
	struct rd_evqueue *q;
	size_t n, k;
	int64_t t0, dt;

	(void)state;
	q = rd_evqueue_new(256, NULL);
	t0 = tu_now_ms();
	for (id = 0; id < PRODUCERS; id++) {
		prod[id].q = q;
		prod[id].id = id;
		prod[id].refused = 0;
		pthread_create(&t[id], NULL, producer_main, &prod[id]);
	}
	while (total < PRODUCERS * PER_PRODUCER) {
		n = rd_evqueue_get(q, out, 64, 1000);
		if (n == 0)
			fail_msg("consumer starved at %u items", total);
		for (k = 0; k < n; k++) {
			if (sscanf(out[k].json, "%u %u", &id, &seq) != 2 ||
			    id >= PRODUCERS)
				fail_msg("garbled item \"%s\"", out[k].json);
			if (seq != next[id])
				fail_msg("producer %u: got %u, want %u", id,
				    seq, next[id]);
			next[id]++;
			total++;
		}
		items_free(out, n);
	}
	for (id = 0; id < PRODUCERS; id++) {
		pthread_join(t[id], NULL);
		refused += prod[id].refused;
	}
	dt = tu_now_ms() - t0;
	print_message("evqueue: %u items, %d producers, in %lld ms "
		      "(%.0f items/s), %u refused puts (full)\n",
	    total, PRODUCERS, (long long)dt,
	    dt > 0 ? total * 1000.0 / (double)dt : 0.0, refused);
	assert_int_equal(rd_evqueue_len(q), 0);
	rd_evqueue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fifo_with_types),
	    cmocka_unit_test(test_full_refuses_caller_keeps_json),
	    cmocka_unit_test(test_bad_type_refused),
	    cmocka_unit_test(test_get_batches),
	    cmocka_unit_test(test_timed_wait),
	    cmocka_unit_test(test_put_wakes_waiter),
	    cmocka_unit_test(test_close),
	    cmocka_unit_test(test_free_with_items),
	    cmocka_unit_test(test_zero_capacity),
	    cmocka_unit_test(test_mpsc_order_per_producer),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

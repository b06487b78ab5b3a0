/*
 * test_ids.c - lib/ids.c: session ids (16 Crockford base32 characters,
 * time first, then 40 random bits), event ids and RFC 3339 time stamps.
 *
 * The collision test makes many ids as fast as one thread can, so that
 * thousands share a millisecond, and requires them all to differ: with
 * the old 20 random bits, 200,000 ids in a few milliseconds collided
 * thousands of times (the test cuts them to 4 random characters to show it).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relaydiag/ids.h"

#define CROCKFORD "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#define NIDS 200000
#define NTHREADS 4

static int
cmp_id(const void *a, const void *b)
{
	return (memcmp(a, b, RD_SID_LEN + 1));
}

/* crockford_value - the number the first n characters of s spell */
static uint64_t
crockford_value(const char *s, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 5) | (uint64_t)(strchr(CROCKFORD, s[i]) - CROCKFORD);
	return (v);
}

/* count_dups - sorts ids (n of them) and counts equal neighbours */
static size_t
count_dups(char (*ids)[RD_SID_LEN + 1], size_t n)
{
	size_t i, d = 0;

	qsort(ids, n, sizeof(*ids), cmp_id);
	for (i = 1; i < n; i++)
		if (memcmp(ids[i - 1], ids[i], RD_SID_LEN + 1) == 0)
			d++;
	return (d);
}

static void
test_session_id_form(void **state)
{
	char id[RD_SID_LEN + 1];
	struct timespec before, after;
	uint64_t ms, lo, hi;

	(void)state;
	clock_gettime(CLOCK_REALTIME, &before);
	rd_id_session(id);
	clock_gettime(CLOCK_REALTIME, &after);
	assert_int_equal(strlen(id), RD_SID_LEN);
	assert_int_equal(strspn(id, CROCKFORD), RD_SID_LEN);
	/* The first 8 characters are the time in ms (40 bits). */
	ms = crockford_value(id, 8);
	lo = ((uint64_t)before.tv_sec * 1000 + before.tv_nsec / 1000000) &
	     0xFFFFFFFFFFULL;
	hi = ((uint64_t)after.tv_sec * 1000 + after.tv_nsec / 1000000) &
	     0xFFFFFFFFFFULL;
	if (ms < lo || ms > hi)
		fail_msg("id %s: time %llu ms, not within %llu-%llu", id,
		    (unsigned long long)ms, (unsigned long long)lo,
		    (unsigned long long)hi);
}

static void
test_session_ids_sort_by_time(void **state)
{
	char a[RD_SID_LEN + 1], b[RD_SID_LEN + 1];
	struct timespec pause = {0, 3 * 1000 * 1000};

	(void)state;
	rd_id_session(a);
	nanosleep(&pause, NULL);
	rd_id_session(b);
	if (strcmp(a, b) >= 0)
		fail_msg("%s made 3 ms before %s sorts after it", a, b);
}

static void
test_session_ids_differ_within_a_millisecond(void **state)
{
	char(*ids)[RD_SID_LEN + 1] = calloc(NIDS, sizeof(*ids));
	size_t i, same_ms = 0, cut;

	(void)state;
	assert_non_null(ids);
	for (i = 0; i < NIDS; i++)
		rd_id_session(ids[i]);
	for (i = 1; i < NIDS; i++)
		if (memcmp(ids[i - 1], ids[i], 8) == 0)
			same_ms++;
	/* The test means something only if many ids share a millisecond. */
	if (same_ms < NIDS / 2)
		fail_msg("only %zu of %d ids shared a millisecond with the "
			 "one before: the machine is too slow for this test",
		    same_ms, NIDS);
	assert_int_equal(count_dups(ids, NIDS), 0);
	/* The check can fail: 20 random bits (the old ids) collide. */
	for (i = 0; i < NIDS; i++)
		memset(ids[i] + 12, '0', 4);
	cut = count_dups(ids, NIDS);
	if (cut == 0)
		fail_msg("ids cut to 20 random bits never collided: the "
			 "collision check cannot fail");
	free(ids);
}

struct thread_ids {
	char (*ids)[RD_SID_LEN + 1];
	size_t n;
};

static void *
make_ids(void *arg)
{
	struct thread_ids *t = arg;
	size_t i;

	for (i = 0; i < t->n; i++)
		rd_id_session(t->ids[i]);
	return (NULL);
}

static void
test_session_ids_differ_across_threads(void **state)
{
	char(*ids)[RD_SID_LEN + 1] = calloc(NIDS, sizeof(*ids));
	struct thread_ids t[NTHREADS];
	pthread_t th[NTHREADS];
	size_t k;

	(void)state;
	assert_non_null(ids);
	for (k = 0; k < NTHREADS; k++) {
		t[k].ids = ids + k * (NIDS / NTHREADS);
		t[k].n = NIDS / NTHREADS;
		assert_int_equal(
		    pthread_create(&th[k], NULL, make_ids, &t[k]), 0);
	}
	for (k = 0; k < NTHREADS; k++)
		pthread_join(th[k], NULL);
	/* Each thread seeds its own generator: no two share a sequence. */
	assert_int_equal(count_dups(ids, NIDS), 0);
	free(ids);
}

static void
test_event_id_and_time(void **state)
{
	char eid[RD_EID_MAX], ts[RD_TS_MAX];
	struct timespec t = {1795458437, 196999999}; /* 2026-11-23 */
	struct timespec a = {10, 900000000}, b = {12, 100000000};

	(void)state;
	rd_id_event(eid, "M84V50AWWH9KQ3ZT", 4294967295u);
	assert_string_equal(eid, "M84V50AWWH9KQ3ZT.4294967295");
	rd_time_rfc3339(ts, &t);
	assert_string_equal(ts, "2026-11-23T18:27:17.196Z");
	assert_int_equal(rd_time_ms_between(&a, &b), 1200);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_session_id_form),
	    cmocka_unit_test(test_session_ids_sort_by_time),
	    cmocka_unit_test(test_session_ids_differ_within_a_millisecond),
	    cmocka_unit_test(test_session_ids_differ_across_threads),
	    cmocka_unit_test(test_event_id_and_time),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

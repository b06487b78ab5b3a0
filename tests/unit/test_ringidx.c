/*
 * test_ringidx.c - lib/ringidx.c against the linear scan it replaces:
 * random links and unlinks on a small ring, with few hashes (long chains,
 * shared buckets), compared after every step with a model that scans every
 * slot (the slots of a hash, newest first). Then the three rings that use
 * it (struct rd_ring): explained.c, seen.c and recent.c keep their newest
 * cap entries, find every one of them, and lose the older ones.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "relaydiag/explained.h"
#include "relaydiag/recent.h"
#include "relaydiag/ringidx.h"
#include "relaydiag/seen.h"

#define CAP 37
#define HASHES 5

struct model {
	bool linked[CAP];
	uint64_t hash[CAP];
	unsigned long stamp[CAP]; /* when linked: newer is larger */
};

/* check - the index's chain of h is the model's slots of h, newest first */
static void
check(const struct rd_ringidx *r, const struct model *m, uint64_t h)
{
	size_t want[CAP], n = 0, i, k, s;

	for (s = 0; s < CAP; s++)
		if (m->linked[s] && m->hash[s] == h)
			want[n++] = s;
	for (i = 1; i < n; i++) /* insertion sort, newest first */
		for (k = i; k > 0 && m->stamp[want[k]] > m->stamp[want[k - 1]];
		     k--) {
			s = want[k];
			want[k] = want[k - 1];
			want[k - 1] = s;
		}
	i = 0;
	for (s = rd_ringidx_first(r, h); s != RD_RINGIDX_END;
	     s = rd_ringidx_next(r, s, h)) {
		assert_true(i < n);
		assert_int_equal(s, want[i]);
		i++;
	}
	assert_int_equal(i, n);
}

static void
test_against_a_scan(void **state)
{
	static const uint64_t hashes[HASHES] = {
	    1, 1 + 64, 2, 0xFFFFFFFFFFFFFFFFULL, 0x8000000000000001ULL};
	struct rd_ringidx r;
	struct model m;
	unsigned long t = 0;
	size_t step, s, k;
	uint64_t h;

	(void)state;
	srand(7);
	memset(&m, 0, sizeof(m));
	assert_int_equal(rd_ringidx_init(&r, CAP), 0);
	for (step = 0; step < 20000; step++) {
		s = (size_t)rand() % CAP;
		if (rand() % 4 == 0) {
			rd_ringidx_unlink(&r, s);
			m.linked[s] = false;
		} else {
			h = hashes[rand() % HASHES];
			rd_ringidx_link(&r, s, h);
			m.linked[s] = true;
			m.hash[s] = h;
			m.stamp[s] = ++t;
		}
		for (k = 0; k < HASHES; k++)
			check(&r, &m, hashes[k]);
		check(&r, &m, 3); /* a hash nobody has */
	}
	rd_ringidx_free(&r);
}

static void
test_explained_ring(void **state)
{
	struct rd_explained *x = rd_explained_new(100);
	char id[RD_EXPLAINED_ID_MAX], eid[RD_EID_MAX], rcpt[64];
	time_t now = time(NULL);
	int i;

	(void)state;
	assert_non_null(x);
	for (i = 0; i < 150; i++) {
		(void)snprintf(rcpt, sizeof(rcpt), "u%d@remote.test", i);
		rd_explained_note(
		    x, "192.0.2.1", 2525, rcpt, "relay.no-auth", "SID.1", now);
	}
	for (i = 149; i >= 0; i--) { /* the newest 100 are there */
		(void)snprintf(rcpt, sizeof(rcpt), "U%d@Remote.Test", i);
		if (rd_explained_take(
			x, "192.0.2.1", 2525, rcpt, now, id, eid) != (i >= 50))
			fail_msg("recipient %d: %s", i,
			    i >= 50 ? "lost" : "kept past the ring");
	}
	/* the same key twice: the newest first, then the older */
	rd_explained_note(x, "192.0.2.1", 1, "a@b.test", "old", "E.1", now);
	rd_explained_note(x, "192.0.2.1", 1, "a@b.test", "new", "E.2", now);
	assert_true(
	    rd_explained_take(x, "192.0.2.1", 1, "a@b.test", now, id, eid));
	assert_string_equal(id, "new");
	assert_true(
	    rd_explained_take(x, "192.0.2.1", 1, "a@b.test", now, id, eid));
	assert_string_equal(id, "old");
	assert_false(
	    rd_explained_take(x, "192.0.2.1", 1, "a@b.test", now, id, eid));
	rd_explained_free(x);
}

static void
test_seen_ring(void **state)
{
	struct rd_seen *x = rd_seen_new(64);
	struct rd_seen_info info, out;
	time_t now = time(NULL);
	char qid[32];
	int i;

	(void)state;
	assert_non_null(x);
	memset(&info, 0, sizeof(info));
	for (i = 0; i < 100; i++) {
		(void)snprintf(qid, sizeof(qid), "4Q%dX", i);
		(void)snprintf(info.helo, sizeof(info.helo), "h%d", i);
		rd_seen_note(x, qid, &info, now);
	}
	for (i = 0; i < 100; i++) {
		(void)snprintf(qid, sizeof(qid), "4Q%dX", i);
		assert_int_equal(rd_seen_find(x, qid, now, &out), i >= 36);
		if (i >= 36)
			assert_int_equal(atoi(out.helo + 1), i);
	}
	assert_false(rd_seen_find(x, "4Q99X", now + RD_SEEN_TTL + 1, &out));
	rd_seen_free(x);
}

static void
test_recent_ring(void **state)
{
	struct rd_recent *x = rd_recent_new(64);
	char key[32], value[RD_RECENT_VALUE_MAX];
	time_t now = time(NULL);
	unsigned distinct;
	int i;

	(void)state;
	assert_non_null(x);
	assert_false(rd_recent_find(x, "192.0.2.1", now, 900, value));
	for (i = 0; i < 100; i++) {
		(void)snprintf(key, sizeof(key), "192.0.2.%d", i);
		(void)snprintf(value, sizeof(value), "user%d", i);
		(void)rd_recent_note(x, key, value, now, 900, 0, &distinct);
	}
	for (i = 0; i < 100; i++) { /* the newest 64, in any case */
		(void)snprintf(key, sizeof(key), "192.0.2.%d", i);
		if (rd_recent_find(x, key, now, 900, value) != (i >= 36))
			fail_msg("key %d: %s", i,
			    i >= 36 ? "lost" : "kept past the ring");
		if (i >= 36)
			assert_int_equal(atoi(value + 4), i);
	}
	/* the same key twice: the newest value; older than the window: not */
	(void)rd_recent_note(
	    x, "Mail.Test", "old", now - 100, 900, 0, &distinct);
	(void)rd_recent_note(
	    x, "mail.test", "new", now - 50, 900, 0, &distinct);
	assert_true(rd_recent_find(x, "MAIL.test", now, 900, value));
	assert_string_equal(value, "new");
	assert_false(rd_recent_find(x, "mail.test", now, 40, value));
	assert_string_equal(value, "");
	rd_recent_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_against_a_scan),
	    cmocka_unit_test(test_explained_ring),
	    cmocka_unit_test(test_seen_ring),
	    cmocka_unit_test(test_recent_ring),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

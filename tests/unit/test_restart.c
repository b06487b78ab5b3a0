/*
 * test_restart.c - the AutoRestart policy: the "n/t" grammar (a table of
 * good and bad texts) and the sliding window (a restart allowed until n
 * fall within t, then again once the oldest leaves the window).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "relaydiag/restart.h"

static void
test_rate_grammar(void **state)
{
	static const struct {
		const char *in;
		int rc;
		unsigned n, t;
		const char *why;
	} cases[] = {
	    {"10/1h", 0, 10, 3600, NULL},
	    {"3/60", 0, 3, 60, NULL},
	    {"3/60s", 0, 3, 60, NULL},
	    {"5/10m", 0, 5, 600, NULL},
	    {"1/7d", 0, 1, 604800, NULL},
	    {"1000/1", 0, 1000, 1, NULL},
	    {"1001/1", -1, 0, 0, "n must be"},
	    {"0/1h", -1, 0, 0, "n must be"},
	    {"1/0", -1, 0, 0, "t must be"},
	    {"1/8d", -1, 0, 0, "t must be"},
	    {"1/99999999999", -1, 0, 0, "expected n/t"},
	    {"10", -1, 0, 0, "expected n/t"},
	    {"/1h", -1, 0, 0, "expected n/t"},
	    {"10/", -1, 0, 0, "expected n/t"},
	    {"10/h", -1, 0, 0, "expected n/t"},
	    {"-1/1h", -1, 0, 0, "expected n/t"},
	    {"10/1hh", -1, 0, 0, "suffix"},
	    {"10/1w", -1, 0, 0, "suffix"},
	    {"10 /1h", -1, 0, 0, "expected n/t"},
	    {"", -1, 0, 0, "expected n/t"},
	};
	struct rd_restart_rate r;
	char why[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&r, 0, sizeof(r));
		why[0] = '\0';
		if (rd_restart_rate_parse(cases[i].in, &r, why, sizeof(why)) !=
		    cases[i].rc)
			fail_msg("\"%s\": rc, want %d (%s)", cases[i].in,
			    cases[i].rc, why);
		if (cases[i].rc == 0 &&
		    (r.n != cases[i].n || r.t != cases[i].t))
			fail_msg("\"%s\": got %u/%u, want %u/%u", cases[i].in,
			    r.n, r.t, cases[i].n, cases[i].t);
		if (cases[i].why != NULL && strstr(why, cases[i].why) == NULL)
			fail_msg("\"%s\": why \"%s\", want \"%s\"", cases[i].in,
			    why, cases[i].why);
	}
}

static void
test_window(void **state)
{
	struct rd_restart_rate rate = {3, 60};
	struct rd_restart r;

	(void)state;
	rd_restart_init(&r, &rate);
	assert_true(rd_restart_allow(&r, 0));
	assert_true(rd_restart_allow(&r, 10000));
	assert_true(rd_restart_allow(&r, 20000));
	assert_false(rd_restart_allow(&r, 30000)); /* 4 within 60 s */
	assert_false(rd_restart_allow(&r, 59999));
	assert_true(rd_restart_allow(&r, 60000)); /* the first has left */
	assert_false(rd_restart_allow(&r, 60001));
	assert_true(rd_restart_allow(&r, 200000)); /* all have left */
	assert_true(rd_restart_allow(&r, 200001));
	assert_true(rd_restart_allow(&r, 200002));
	assert_false(rd_restart_allow(&r, 200003));
	assert_int_equal(r.total, 7);

	rate.n = 1;
	rate.t = 1;
	rd_restart_init(&r, &rate);
	assert_true(rd_restart_allow(&r, 0));
	assert_false(rd_restart_allow(&r, 999));
	assert_true(rd_restart_allow(&r, 1000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_grammar),
	    cmocka_unit_test(test_window),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

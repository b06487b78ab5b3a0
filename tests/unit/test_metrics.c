/*
 * test_metrics.c - lib/metrics.c: nothing is counted until enabled, the
 * decisions by their labels (values escaped as the text format wants,
 * past the table's size into the overflow counter), alerts, the
 * histogram's inclusive bounds, and the rendered text, read back line by
 * line as Prometheus would (every sample line is "name{labels} value" or
 * "name value", every family has HELP and TYPE first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/metrics.h"

static int
setup(void **state)
{
	(void)state;
	rd_metrics_reset();
	rd_metrics_enable(true);
	return (0);
}

static int
teardown(void **state)
{
	(void)state;
	rd_metrics_enable(false);
	rd_metrics_reset();
	return (0);
}

/* render - the whole text into a fresh buffer (the caller frees it) */
static char *
render(void)
{
	struct rd_metrics_gauges g;
	struct rd_buf b;

	memset(&g, 0, sizeof(g));
	g.history_redis_up = -1;
	g.version = "1.2.3";
	rd_buf_init(&b);
	rd_metrics_render(&b, &g);
	return (rd_buf_steal(&b));
}

/* value_of - the value of the sample line that starts with prefix + ' ' */
static long long
value_of(const char *text, const char *prefix)
{
	const char *p = text;
	size_t n = strlen(prefix);

	while ((p = strstr(p, prefix)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return (atoll(p + n + 1));
		p += n;
	}
	return (-1);
}

/* The text format: every line a comment or a well-formed sample. */
static void
check_format(const char *text)
{
	const char *line = text, *end, *q;
	char name[128], last_typed[128] = "";
	size_t n;

	for (; *line != '\0'; line = end + 1) {
		end = strchr(line, '\n');
		assert_non_null(end); /* every line ends with \n */
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			n = strcspn(line + 7, " ");
			assert_true(n < sizeof(last_typed));
			memcpy(last_typed, line + 7, n);
			last_typed[n] = '\0';
			continue;
		}
		n = strcspn(line, "{ ");
		assert_true(n > 0 && n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		/* a sample of the family last typed (histograms add
		   _bucket, _sum and _count) */
		if (strncmp(name, last_typed, strlen(last_typed)) != 0)
			fail_msg("sample %s without its TYPE line", name);
		q = line + n;
		if (*q == '{') { /* labels: name="value" with \\ \" \n */
			for (q++; *q != '}';) {
				q += strspn(q, "abcdefghijklmnopqrstuvwxyz_");
				assert_true(q[0] == '=' && q[1] == '"');
				for (q += 2; *q != '"'; q++) {
					assert_true(q < end);
					if (*q == '\\') {
						q++;
						assert_non_null(
						    strchr("\\\"n", *q));
					}
				}
				q++;
				if (*q == ',')
					q++;
				else
					assert_int_equal(*q, '}');
			}
			q++;
		}
		assert_int_equal(*q, ' ');
		for (q++; q < end; q++)
			assert_non_null(strchr("0123456789.e+-Inf", *q));
	}
}

static void
test_nothing_counted_while_off(void **state)
{
	char *t;

	(void)state;
	rd_metrics_enable(false);
	rd_metrics_decision(
	    "relay.no-auth", "error", "reject", "none", "milter");
	rd_metrics_alert("alert.relay-probe");
	rd_metrics_inc(RD_M_DNS_LOOKUPS);
	rd_metrics_enable(true);
	t = render();
	assert_null(strstr(t, "diagnosis=\"relay.no-auth\""));
	assert_null(strstr(t, "alert=\"alert.relay-probe\""));
	assert_int_equal(value_of(t, "relaydiag_dns_lookups_total"), 0);
	free(t);
	rd_metrics_decision(
	    "relay.no-auth", "error", "reject", "none", "milter");
	rd_metrics_inc(RD_M_DNS_LOOKUPS);
	t = render();
	assert_int_equal(value_of(t, "relaydiag_dns_lookups_total"), 1);
	assert_non_null(strstr(t, "diagnosis=\"relay.no-auth\""));
	free(t);
}

static void
test_decisions_and_labels(void **state)
{
	static const struct {
		const char *diagnosis, *front_end;
		int times;
		const char *line; /* the rendered sample */
	} cases[] = {
	    {"relay.no-auth", "milter", 3,
		"relaydiag_decisions_total{diagnosis=\"relay.no-auth\","
		"severity=\"error\",mta=\"reject\",action=\"none\","
		"front_end=\"milter\"} 3"},
	    {"relay.no-auth", "policy", 1,
		"relaydiag_decisions_total{diagnosis=\"relay.no-auth\","
		"severity=\"error\",mta=\"reject\",action=\"none\","
		"front_end=\"policy\"} 1"},
	    {"a\"b\\c\nd\x01\xff", "milter", 2,
		"relaydiag_decisions_total{diagnosis=\"a\\\"b\\\\c\\nd??\","
		"severity=\"error\",mta=\"reject\",action=\"none\","
		"front_end=\"milter\"} 2"},
	};
	char *t;
	size_t i;
	int k;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (k = 0; k < cases[i].times; k++)
			rd_metrics_decision(cases[i].diagnosis, "error",
			    "reject", "none", cases[i].front_end);
	rd_metrics_alert("alert.auth-outage");
	rd_metrics_alert("alert.auth-outage");
	t = render();
	check_format(t);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strstr(t, cases[i].line) == NULL)
			fail_msg("missing: %s\n%s", cases[i].line, t);
	assert_non_null(strstr(
	    t, "relaydiag_alerts_total{alert=\"alert.auth-outage\"} 2\n"));
	assert_non_null(
	    strstr(t, "relaydiag_build_info{version=\"1.2.3\"} 1\n"));
	free(t);
}

static void
test_long_and_many_labels(void **state)
{
	char id[200], cut[64], key[256], *t;
	int i;

	(void)state;
	/* cut to 63 bytes: two ids that differ after that are one */
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	rd_metrics_decision(id, "e", "m", "a", "f");
	id[150] = 'y';
	rd_metrics_decision(id, "e", "m", "a", "f");
	/* past 3/4 of 2048 label sets: the overflow counter */
	for (i = 0; i < 2000; i++) {
		(void)snprintf(id, sizeof(id), "id.%d", i);
		rd_metrics_decision(id, "e", "m", "a", "f");
	}
	t = render();
	check_format(t);
	/* both long ids are one series of two, under the first 63 bytes */
	memset(cut, 'x', 63);
	cut[63] = '\0';
	(void)snprintf(key, sizeof(key),
	    "relaydiag_decisions_total{diagnosis=\"%s\",severity=\"e\","
	    "mta=\"m\",action=\"a\",front_end=\"f\"}",
	    cut);
	assert_int_equal(value_of(t, key), 2);
	assert_int_equal(value_of(t, "relaydiag_metrics_overflow_total"),
	    2000 - (2048 / 4 * 3 - 1));
	free(t);
}

static void
test_histogram_bounds(void **state)
{
	static const struct {
		uint64_t ns;
		const char *le;    /* the first bucket that counts it */
		const char *below; /* the bucket before, which does not */
	} cases[] = {
	    {4999, "5e-06", NULL},
	    {5000, "5e-06", NULL}, /* "le" is inclusive */
	    {5001, "1e-05", "5e-06"},
	    {250000, "0.00025", "0.0001"},
	    {250001, "0.0005", "0.00025"},
	    {5000000000ULL, "+Inf", "1"},
	};
	char key[128], *t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rd_metrics_reset();
		rd_metrics_observe(RD_STAGE_RCPT, cases[i].ns);
		t = render();
		check_format(t);
		(void)snprintf(key, sizeof(key),
		    "relaydiag_callback_duration_seconds_bucket{stage="
		    "\"rcpt\",le=\"%s\"}",
		    cases[i].le);
		if (value_of(t, key) != 1)
			fail_msg("%llu ns: %s is %lld",
			    (unsigned long long)cases[i].ns, key,
			    value_of(t, key));
		if (cases[i].below != NULL) {
			(void)snprintf(key, sizeof(key),
			    "relaydiag_callback_duration_seconds_bucket{"
			    "stage=\"rcpt\",le=\"%s\"}",
			    cases[i].below);
			assert_int_equal(value_of(t, key), 0);
		}
		free(t);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_nothing_counted_while_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_decisions_and_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_long_and_many_labels, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_histogram_bounds, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_sink.c - the JSON Lines file sink: one line per event, counters,
 * reopening after logrotate moved the file, and the paths it refuses
 * (a symbolic link, a FIFO without reader, a missing directory).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/sink.h"
#include "testutil.h"

static char tmpdir[] = "/tmp/rd-test-sink.XXXXXX";

static void
path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir, name);
}

static char *
slurp(const char *path)
{
	static char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return (NULL);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return (buf);
}

static void
emit(struct rd_sink *sk, const char *json)
{
	assert_int_equal(rd_sink_emit_take(sk, "rcpt", strdup(json)), 0);
}

static void
test_lines_and_counters(void **state)
{
	char p[512];
	struct rd_err err;
	struct rd_sink *sk;
	struct rd_sink_stats st;

	(void)state;
	path_in(p, sizeof(p), "events.jsonl");
	assert_non_null(sk = rd_sink_file_open(p, &err));
	emit(sk, "{\"a\":1}");
	emit(sk, "{\"b\":2}");
	rd_sink_stats(sk, &st);
	assert_int_equal(st.emitted, 2);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.dropped, 0);
	rd_sink_close(sk);
	assert_string_equal(slurp(p), "{\"a\":1}\n{\"b\":2}\n");
	unlink(p);
}

/* logrotate: rename the file away, SIGUSR1 reopens, new lines go anew */
static void
test_reopen_after_rotation(void **state)
{
	char p[512], rotated[512];
	struct rd_err err;
	struct rd_sink *sk;

	(void)state;
	path_in(p, sizeof(p), "rot.jsonl");
	path_in(rotated, sizeof(rotated), "rot.jsonl.1");
	assert_non_null(sk = rd_sink_file_open(p, &err));
	emit(sk, "{\"before\":1}");
	assert_int_equal(rename(p, rotated), 0);
	emit(sk, "{\"late\":1}"); /* still the old file until reopened */
	assert_int_equal(rd_sink_reopen(sk, &err), 0);
	emit(sk, "{\"after\":1}");
	rd_sink_close(sk);
	assert_string_equal(slurp(rotated), "{\"before\":1}\n{\"late\":1}\n");
	assert_string_equal(slurp(p), "{\"after\":1}\n");
	unlink(p);
	unlink(rotated);
}

/* a reopen that fails keeps writing to the file it had */
static void
test_reopen_failure_keeps_old_file(void **state)
{
	char d[512], p[512];
	struct rd_err err;
	struct rd_sink *sk;

	(void)state;
	path_in(d, sizeof(d), "sub");
	assert_int_equal(mkdir(d, 0700), 0);
	path_in(p, sizeof(p), "sub/e.jsonl");
	assert_non_null(sk = rd_sink_file_open(p, &err));
	assert_int_equal(unlink(p), 0);
	assert_int_equal(rmdir(d), 0);
	assert_int_equal(rd_sink_reopen(sk, &err), -1);
	assert_non_null(strstr(err.text, "cannot open event log"));
	emit(sk, "{\"still\":1}"); /* to the unlinked file: no crash, counted */
	rd_sink_close(sk);
}

static void
test_refused_paths(void **state)
{
	static const struct {
		const char *what;
		const char *name;
	} cases[] = {
	    {"a symbolic link", "link.jsonl"},
	    {"a FIFO nobody reads", "fifo.jsonl"},
	    {"a missing directory", "nodir/e.jsonl"},
	};
	char p[512], target[512];
	struct rd_err err;
	size_t i;

	(void)state;
	path_in(target, sizeof(target), "target");
	path_in(p, sizeof(p), "link.jsonl");
	assert_int_equal(symlink(target, p), 0);
	path_in(p, sizeof(p), "fifo.jsonl");
	assert_int_equal(mkfifo(p, 0600), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path_in(p, sizeof(p), cases[i].name);
		if (rd_sink_file_open(p, &err) != NULL)
			fail_msg(
			    "%s was accepted as the event log", cases[i].what);
		assert_non_null(strstr(err.text, "cannot open event log"));
	}
	path_in(p, sizeof(p), "link.jsonl");
	unlink(p);
	path_in(p, sizeof(p), "fifo.jsonl");
	unlink(p);
	assert_int_equal(access(target, F_OK), -1); /* never created */
}

static void
test_stdout_and_null(void **state)
{
	struct rd_err err;
	struct rd_sink *sk;

	(void)state;
	assert_non_null(sk = rd_sink_file_open("-", &err));
	assert_int_equal(rd_sink_reopen(sk, &err), 0); /* nothing to reopen */
	rd_sink_close(sk);
	assert_int_equal(rd_sink_reopen(NULL, &err), 0);
	assert_int_equal(rd_sink_emit_take(NULL, "rcpt", strdup("{}")), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines_and_counters),
	    cmocka_unit_test(test_reopen_after_rotation),
	    cmocka_unit_test(test_reopen_failure_keeps_old_file),
	    cmocka_unit_test(test_refused_paths),
	    cmocka_unit_test(test_stdout_and_null),
	};
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(tmpdir);
	return (rc);
}

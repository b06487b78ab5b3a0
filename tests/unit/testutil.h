/*
 * testutil.h - helpers the unit tests share: the clock, checks that name
 * the failing case, temporary files and directories, a captured log, and
 * a private redis-server.
 *
 * Linked into every unit test (tests/CMakeLists.txt, rd_unit_test). A
 * test includes <cmocka.h> (with its prerequisites) before this header.
 * The capturing event sink (tu_cap) and the JSON look-ups (tu_jget,
 * tu_check_values) are for the tests of events; they need jansson, which
 * rdcore links PUBLIC.
 * Checks (tu_check_*) print what is wrong with print_error, as
 *     "<name>: <what>: got X, want Y"
 * and return how many failures they printed, for a table test to add up
 * and end with TU_FAIL_IF_ANY. Everything else fails the test at once
 * (fail_msg) when it cannot do its job: there is no skipping, and a
 * missing redis-server is a failure that says how to install it.
 * Threads: tu_log_* may be called from any thread (it is a log callback);
 * the rest from the test's thread.
 */
#ifndef RELAYDIAG_TESTUTIL_H
#define RELAYDIAG_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "relaydiag/sink.h"

/* tu_now_ms - CLOCK_MONOTONIC in milliseconds */
int64_t tu_now_ms(void);

/*
 * Checks.
 */

#define TU_SHOW_MAX 512

/* TU_FAIL_IF_ANY - end a table test: fail when any case failed */
#define TU_FAIL_IF_ANY(nfail, ncases)                                          \
	do {                                                                   \
		if ((nfail) > 0)                                               \
			fail_msg("%d of %zu cases failed", (nfail),            \
			    (size_t)(ncases));                                 \
	} while (0)

/* tu_show - s made printable (NULL as "(null)") in dst[TU_SHOW_MAX] */
const char *tu_show(char *dst, const char *s);

/* tu_safe_line - whether s is printable ASCII on one line */
bool tu_safe_line(const char *s);

/*
 * tu_check_str - got against want, either may be NULL (equal when both
 * are): 0, or 1 after "name: what: got "X", want "Y"".
 */
int tu_check_str(
    const char *name, const char *what, const char *got, const char *want);

/*
 * tu_check_bool - got against want, shown as yes or no ("match", "no
 * match"): 0, or 1 after "name: got no match, want match".
 */
int tu_check_bool(
    const char *name, bool got, bool want, const char *yes, const char *no);

/*
 * tu_check_err - an error text that must contain want and be one safe
 * line: 0, or the number of those two that failed, each printed.
 */
int tu_check_err(const char *name, const char *text, const char *want);

/*
 * JSON look-ups. A path is dotted: "client.ip" is member ip of member
 * client (127 characters at most).
 */

/*
 * tu_json_at - the value at path in root, or NULL; *parent_null (when not
 * NULL) tells whether the look-up stopped at an ancestor that is JSON null.
 */
json_t *tu_json_at(json_t *root, const char *path, bool *parent_null);

/* tu_jget - the value at path, or NULL (a member of null is missing) */
json_t *tu_jget(json_t *root, const char *path);

/* tu_jstr - the string at path, or "(not a string)" */
const char *tu_jstr(json_t *root, const char *path);

/* one wanted value at path */
struct tu_want {
	const char *path;
	const char *val; /* "null" "true" "false" "#n" "~sub" or the string */
};

/*
 * tu_check_values - every one of w[0..n) (stopping early at a NULL path)
 * holds in root: the number that did not, each printed as
 * "name: path: got X, want Y". null_parents: a member below a JSON null
 * counts as null (the event schema's reading); else it is missing.
 */
unsigned tu_check_values(const char *name, json_t *root,
    const struct tu_want *w, size_t n, bool null_parents);

/*
 * A capturing event sink: keeps every event handed in (TU_CAP_MAX at
 * most), its type and JSON, and the JSON parsed back (with duplicate
 * members rejected). Close it with rd_sink_close(&cap->base).
 */

#define TU_CAP_MAX 64

struct tu_cap {
	struct rd_sink base; /* first: the struct rd_sink * */
	size_t n;
	char *type[TU_CAP_MAX];
	char *json[TU_CAP_MAX];
	json_t *obj[TU_CAP_MAX];    /* NULL: the JSON did not parse */
	char perr[TU_CAP_MAX][200]; /* why it did not */
	uint64_t emitted, dropped;
	/*
	 * Set after tu_cap_new. strict: fail the test at once on an event
	 * that cannot be kept or does not parse (else it is dropped, or kept
	 * with obj NULL, for tu_cap_check_all). extra_dropped, extra_spooled:
	 * added to what the stats report, for a session event to show.
	 */
	bool strict;
	uint64_t extra_dropped, extra_spooled;
};

/* tu_cap_new - an empty capturing sink */
struct tu_cap *tu_cap_new(void);

/*
 * tu_cap_check_all - fail unless nothing was dropped and every event
 * parsed, has no newline, and its member "type" is the type handed in.
 */
void tu_cap_check_all(const char *name, const struct tu_cap *c);

/* tu_cap_count - how many events of type were kept */
size_t tu_cap_count(const struct tu_cap *c, const char *type);

/* tu_cap_get - the k-th (0-based) parsed event of type, or NULL */
json_t *tu_cap_get(const struct tu_cap *c, const char *type, size_t k);

/*
 * Files. Paths are built in the caller's buffer; a path that does not fit
 * fails the test.
 */

/* tu_path - "dir/name" into out (size len); returns out */
const char *tu_path(char *out, size_t len, const char *dir, const char *name);

/* tu_write_file - create or truncate path and write text into it */
void tu_write_file(const char *path, const char *text);

/* tu_backdate - set path's access and modification times seconds back */
void tu_backdate(const char *path, unsigned seconds);

/* tu_tmpdir - a new directory /tmp/<name>.XXXXXX, its path into dir */
const char *tu_tmpdir(char *dir, size_t len, const char *name);

/* tu_rmtree - remove dir and everything below it; links are not followed */
void tu_rmtree(const char *dir);

/*
 * A captured log: tu_log_capture is a log callback (params.log) that keeps
 * every line as "<prio>msg\n" (16 KiB at most), and echoes it to stderr
 * when RD_TEST_VERBOSE is set.
 */
void tu_log_capture(int prio, const char *msg);
void tu_log_reset(void);
/* tu_log_count - how many times s occurs in the log */
int tu_log_count(const char *s);
/* tu_log_expect - fail, showing the log, unless s occurs in it */
void tu_log_expect(const char *s);
/* tu_log_expect_n - fail, showing the log, unless s occurs exactly n times */
void tu_log_expect_n(const char *s, int n);

/*
 * A private redis-server on 127.0.0.1:<port> and <dir>/redis.sock, with
 * its data and log (redis.log) in its own temporary directory.
 * RD_REDIS_SERVER names another binary than redis-server.
 */
struct tu_redis {
	char dir[64]; /* tu_tmpdir */
	char sock[128];
	char pass[64]; /* requirepass, "" none: set before start */
	char url[256]; /* "redis://127.0.0.1:<port>" */
	int port;      /* free when the struct was made */
	bool aof;      /* appendonly, fsync always: set before start */
	pid_t pid;     /* 0: not running */
};

struct redisContext; /* <hiredis/hiredis.h> */

/* tu_free_port - a loopback TCP port nobody listens on right now */
int tu_free_port(void);

/* tu_redis_new - the struct, its directory and port; no server yet */
struct tu_redis *tu_redis_new(const char *name);

/*
 * tu_redis_free - stop the server (SIGCONT first, in case a test left it
 * stopped, then SIGKILL), remove its directory, free s. NULL: nothing.
 */
void tu_redis_free(struct tu_redis *s);

/*
 * tu_redis_setup, tu_redis_teardown - as cmocka fixtures: *state becomes
 * tu_redis_new(<the test program's name>), with the captured log emptied;
 * then tu_redis_free(*state).
 */
int tu_redis_setup(void **state);
int tu_redis_teardown(void **state);

/* tu_redis_start - exec redis-server and wait (5 s) until it answers PING */
void tu_redis_start(struct tu_redis *s);

/* tu_redis_stop - send sig and reap the server, if it runs */
void tu_redis_stop(struct tu_redis *s, int sig);

/*
 * tu_redis_connect - the test's own connection over TCP, 1 s timeouts,
 * authenticated with s->pass and on db; NULL when the server does not
 * answer. Free it with redisFree.
 */
struct redisContext *tu_redis_connect(const struct tu_redis *s, unsigned db);

#endif

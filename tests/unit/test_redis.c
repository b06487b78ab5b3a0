/*
 * test_redis.c - what every user of Redis shares (redis.h): RedisURL
 * parsing, the set-up commands of a new connection (AUTH with one or two
 * arguments, SELECT), and rd_redis_connect against a real redis-server:
 * a password, a wrong one (kept out of the error), SELECT, a unix socket,
 * nobody listening, a hung server; rd_redis_dial never connected to
 * itself.
 *
 * The connection tests start their own redis-server (testutil.h) on a
 * free loopback port in a temporary directory. Without redis-server they
 * fail; they never skip (RD_REDIS_SERVER names another binary).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

#include "relaydiag/redis.h"
#include "testutil.h"

/* ---- RedisURL ---- */

/* every form of the URL, and near misses; no error shows the password */
static void
test_url_parse(void **state)
{
	static const struct {
		const char *name, *url;
		int ret;
		bool is_unix;
		const char *host_or_path, *user, *pass;
		unsigned port, db;
		const char *err; /* in the error text */
	} cases[] = {
	    {"host and port", "redis://127.0.0.1:6379", 0, false, "127.0.0.1",
		"", "", 6379, 0, NULL},
	    {"default port", "redis://redis.example", 0, false, "redis.example",
		"", "", 6379, 0, NULL},
	    {"password only, db", "redis://:s3cret@10.0.0.1:7000/2", 0, false,
		"10.0.0.1", "", "s3cret", 7000, 2, NULL},
	    {"ACL user", "redis://relay:pw@h/15", 0, false, "h", "relay", "pw",
		6379, 15, NULL},
	    {"no colon: a password", "redis://secret@h", 0, false, "h", "",
		"secret", 6379, 0, NULL},
	    {"%-encoded", "redis://:p%40ss%3Aw%25@h", 0, false, "h", "",
		"p@ss:w%", 6379, 0, NULL},
	    {"raw @ in password", "redis://:p@ss@h", 0, false, "h", "", "p@ss",
		6379, 0, NULL},
	    {"IPv6", "redis://[::1]:6380/1", 0, false, "::1", "", "", 6380, 1,
		NULL},
	    {"empty host", "redis://", 0, false, "127.0.0.1", "", "", 6379, 0,
		NULL},
	    {"trailing slash", "redis://h/", 0, false, "h", "", "", 6379, 0,
		NULL},
	    {"near miss: port 65535", "redis://h:65535", 0, false, "h", "", "",
		65535, 0, NULL},
	    {"unix", "unix:///run/redis/redis.sock", 0, true,
		"/run/redis/redis.sock", "", "", 6379, 0, NULL},
	    {"unix, db", "unix:///tmp/r.sock?db=3", 0, true, "/tmp/r.sock", "",
		"", 6379, 3, NULL},
	    {"unix, password", "unix://:pw@/tmp/r.sock?db=1", 0, true,
		"/tmp/r.sock", "", "pw", 6379, 1, NULL},
	    {"TLS", "rediss://h", -1, false, NULL, NULL, NULL, 0, 0, "TLS"},
	    {"no scheme", "localhost:6379", -1, false, NULL, NULL, NULL, 0, 0,
		"expected redis://"},
	    {"port 0", "redis://h:0", -1, false, NULL, NULL, NULL, 0, 0,
		"port"},
	    {"port 65536", "redis://h:65536", -1, false, NULL, NULL, NULL, 0, 0,
		"port"},
	    {"port not a number", "redis://h:abc", -1, false, NULL, NULL, NULL,
		0, 0, "port"},
	    {"db not a number", "redis://h/x", -1, false, NULL, NULL, NULL, 0,
		0, "/db"},
	    {"query on redis://", "redis://h/1?x=1", -1, false, NULL, NULL,
		NULL, 0, 0, "/db"},
	    {"unix with a host", "unix://h/path", -1, false, NULL, NULL, NULL,
		0, 0, "absolute"},
	    {"unix relative", "unix://path", -1, false, NULL, NULL, NULL, 0, 0,
		"absolute"},
	    {"unix bad query", "unix:///p?dbx=1", -1, false, NULL, NULL, NULL,
		0, 0, "?db=N"},
	    {"bad escape", "redis://:%4@h", -1, false, NULL, NULL, NULL, 0, 0,
		"hex"},
	    {"space in host", "redis://ho st", -1, false, NULL, NULL, NULL, 0,
		0, "bad host"},
	    {"empty []", "redis://[]:6379", -1, false, NULL, NULL, NULL, 0, 0,
		"bad host"},
	    {"near miss: ':' outside []", "redis://::1", -1, false, NULL, NULL,
		NULL, 0, 0, "port"},
	    {"unclosed [", "redis://[::1", -1, false, NULL, NULL, NULL, 0, 0,
		"bad host"},
	    {"password kept out of errors", "redis://:hunter2@h:99999", -1,
		false, NULL, NULL, NULL, 0, 0, "port"},
	    {"empty", "", -1, false, NULL, NULL, NULL, 0, 0, "empty"},
	};
	struct rd_redis_url u;
	struct rd_err err;
	const char *hp;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&err, 0, sizeof(err));
		r = rd_redis_url_parse(cases[i].url, &u, &err);
		if (r != cases[i].ret)
			fail_msg("%s: got %d (%s), want %d", cases[i].name, r,
			    err.text, cases[i].ret);
		if (r != 0) {
			if (strstr(err.text, cases[i].err) == NULL)
				fail_msg("%s: error \"%s\" lacks \"%s\"",
				    cases[i].name, err.text, cases[i].err);
			if (strstr(err.text, "hunter2") != NULL)
				fail_msg(
				    "%s: password in error", cases[i].name);
			continue;
		}
		hp = u.is_unix ? u.path : u.host;
		if (u.is_unix != cases[i].is_unix ||
		    strcmp(hp, cases[i].host_or_path) != 0 ||
		    strcmp(u.user, cases[i].user) != 0 ||
		    strcmp(u.pass, cases[i].pass) != 0 ||
		    (!u.is_unix && u.port != cases[i].port) ||
		    u.db != cases[i].db)
			fail_msg(
			    "%s: got %s %s user \"%s\" pass \"%s\" port %u "
			    "db %u",
			    cases[i].name, u.is_unix ? "unix" : "tcp", hp,
			    u.user, u.pass, u.port, u.db);
	}
	assert_int_equal(rd_redis_url_parse(NULL, &u, NULL), -1);
}

/* ---- the set-up commands ---- */

/* the commands a URL sends first, as words: "AUTH u p; SELECT 3" */
static void
test_setup_argv(void **state)
{
	static const struct {
		const char *name, *url, *want;
	} cases[] = {
	    {"nothing to send", "redis://h", ""},
	    {"near miss: db 0 is not selected", "redis://h/0", ""},
	    {"password alone", "redis://:pw@h", "AUTH pw"},
	    {"password without a colon", "redis://pw@h", "AUTH pw"},
	    {"ACL user", "redis://relay:pw@h", "AUTH relay pw"},
	    {"near miss: user, empty password", "redis://relay:@h",
		"AUTH relay "},
	    {"db", "redis://h/15", "SELECT 15"},
	    {"AUTH before SELECT", "redis://u:p%40ss@h/2",
		"AUTH u p@ss; SELECT 2"},
	    {"unix socket, db", "unix://:pw@/tmp/r.sock?db=3",
		"AUTH pw; SELECT 3"},
	};
	struct rd_redis_setup st;
	struct rd_redis_url u;
	struct rd_err err;
	char got[256];
	size_t i, k, n, len;
	int a, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (rd_redis_url_parse(cases[i].url, &u, &err) != 0)
			fail_msg("%s: %s", cases[i].name, err.text);
		memset(&st, 0xa5, sizeof(st));
		n = rd_redis_setup_argv(&u, &st);
		assert_int_equal(n, st.n);
		got[0] = '\0';
		for (k = 0; k < n; k++)
			for (a = 0; a < st.cmd[k].argc; a++) {
				len = strlen(got);
				snprintf(got + len, sizeof(got) - len, "%s%s",
				    a > 0   ? " "
				    : k > 0 ? "; "
					    : "",
				    st.cmd[k].argv[a]);
				if (st.cmd[k].argvlen[a] !=
				    strlen(st.cmd[k].argv[a])) {
					print_error("%s: argument %d of "
						    "command %zu: length %zu\n",
					    cases[i].name, a, k,
					    st.cmd[k].argvlen[a]);
					nfail++;
				}
			}
		nfail +=
		    tu_check_str(cases[i].name, "commands", got, cases[i].want);
	}
	TU_FAIL_IF_ANY(nfail, i);
}

/* ---- rd_redis_connect against a real redis-server ---- */

/* connect_url - rd_redis_connect(url) with 500 ms timeouts */
static redisContext *
connect_url(const char *url, struct rd_err *err)
{
	struct rd_redis_url u;

	if (rd_redis_url_parse(url, &u, err) != 0)
		fail_msg("%s: %s", url, err->text);
	memset(err, 0, sizeof(*err));
	return (rd_redis_connect(&u, 500, 500, err));
}

/* the key set on db (the test's own connection), or NULL */
static char *
get_key(const struct tu_redis *s, unsigned db, const char *key)
{
	redisContext *c = tu_redis_connect(s, db);
	redisReply *r;
	char *v = NULL;

	if (c == NULL)
		fail_msg("cannot connect to look at %s", key);
	r = redisCommand(c, "GET %s", key);
	if (r != NULL && r->type == REDIS_REPLY_STRING)
		v = strdup(r->str);
	freeReplyObject(r);
	redisFree(c);
	return (v);
}

/* AUTH, SELECT: the connection is ready, on the URL's database */
static void
test_connect_auth_select(void **state)
{
	struct tu_redis *s = *state;
	struct rd_err err;
	redisContext *c;
	redisReply *r;
	char url[256];
	char *v;

	snprintf(s->pass, sizeof(s->pass), "s3cret");
	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://:s3cret@127.0.0.1:%d/3", s->port);
	if ((c = connect_url(url, &err)) == NULL)
		fail_msg("%s: %s", url, err.text);
	r = redisCommand(c, "SET k tcp");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	redisFree(c);
	snprintf(url, sizeof(url), "unix://:s3cret@%s?db=4", s->sock);
	if ((c = connect_url(url, &err)) == NULL)
		fail_msg("%s: %s", url, err.text);
	r = redisCommand(c, "SET k unix");
	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STATUS);
	freeReplyObject(r);
	redisFree(c);

	assert_null(get_key(s, 0, "k"));
	v = get_key(s, 3, "k");
	assert_non_null(v);
	assert_string_equal(v, "tcp");
	free(v);
	v = get_key(s, 4, "k");
	assert_non_null(v);
	assert_string_equal(v, "unix");
	free(v);
}

/* a refused AUTH, SELECT or connection says so, and not the password */
static void
test_connect_errors(void **state)
{
	struct tu_redis *s = *state;
	struct rd_err err;
	char url[256];

	snprintf(s->pass, sizeof(s->pass), "right");
	tu_redis_start(s);
	snprintf(url, sizeof(url), "redis://:Tr0ub4dor@127.0.0.1:%d", s->port);
	assert_null(connect_url(url, &err));
	if (strncmp(err.text, "AUTH refused: ", 14) != 0 ||
	    strstr(err.text, "Tr0ub4dor") != NULL || !tu_safe_line(err.text))
		fail_msg("wrong password: got \"%s\"", err.text);
	if (err.text[0] != '\0' && err.text[strlen(err.text) - 1] == '.')
		fail_msg("wrong password: trailing dot in \"%s\"", err.text);

	snprintf(
	    url, sizeof(url), "redis://:right@127.0.0.1:%d/99999", s->port);
	assert_null(connect_url(url, &err));
	if (strncmp(err.text, "SELECT refused: ", 16) != 0)
		fail_msg("db out of range: got \"%s\"", err.text);

	tu_redis_stop(s, SIGKILL);
	snprintf(url, sizeof(url), "redis://:right@127.0.0.1:%d", s->port);
	assert_null(connect_url(url, &err));
	if (strstr(err.text, "refused") == NULL ||
	    strstr(err.text, "right") != NULL)
		fail_msg("nobody listening: got \"%s\"", err.text);
}

/* port_free - nothing is bound to 127.0.0.1:port (a bind succeeds) */
static bool
port_free(int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return (rc == 0);
}

/* ephemeral_port - a free port inside the kernel's ephemeral range, of
   the given parity (Linux hands even source ports to connect(2) first,
   odd ones to bind(2) of port 0) */
static int
ephemeral_port(int parity)
{
	int lo = 32768, hi = 60999, port, i;
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (fp != NULL) {
		if (fscanf(fp, "%d %d", &lo, &hi) != 2)
			lo = 32768, hi = 60999;
		fclose(fp);
	}
	for (i = 0; i < 1000; i++) {
		port = lo + (int)((unsigned)rand() % (unsigned)(hi - lo + 1));
		port += (port % 2 != parity);
		if (port <= hi && port_free(port))
			return (port);
	}
	fail_msg("no free port in %d-%d", lo, hi);
	return (-1);
}

/*
 * Nobody listens on a port of the ephemeral range: retried, the kernel
 * soon gives the client that port as its source, and TCP's simultaneous
 * open connects the socket to itself. rd_redis_dial never returns such a
 * connection, and says why. The test requires the case to happen (else it
 * shows nothing): on this kernel it takes a few hundred tries.
 */
static void
test_dial_self_connect(void **state)
{
	struct rd_redis_url u;
	struct rd_err err;
	struct redisContext *c;
	char url[64];
	int parity, port, i, self = 0, tries = 0;

	(void)state;
	for (parity = 0; parity < 2 && self == 0; parity++) {
		port = ephemeral_port(parity);
		snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
		assert_int_equal(rd_redis_url_parse(url, &u, &err), 0);
		for (i = 0; i < 70000 && self == 0; i++, tries++) {
			c = rd_redis_dial(&u, 500, &err);
			if (c != NULL)
				fail_msg("port %d: a connection with nobody "
					 "listening (to itself?)",
				    port);
			if (strstr(err.text, "connected to itself") != NULL)
				self++;
		}
	}
	if (self == 0)
		fail_msg("no self-connect in %d tries: this kernel picks "
			 "source ports otherwise, and the test shows nothing",
		    tries);
	if (!tu_safe_line(err.text))
		fail_msg("self-connect: \"%s\" is not one safe line", err.text);
}

/* a server that accepts and never answers: a timeout, named as such */
static void
test_connect_hung(void **state)
{
	struct tu_redis *s = *state;
	struct rd_err err;
	char url[256];
	int64_t t0, took;

	snprintf(s->pass, sizeof(s->pass), "pw");
	tu_redis_start(s);
	kill(s->pid, SIGSTOP);
	snprintf(url, sizeof(url), "redis://:pw@127.0.0.1:%d", s->port);
	t0 = tu_now_ms();
	assert_null(connect_url(url, &err));
	took = tu_now_ms() - t0;
	kill(s->pid, SIGCONT);
	assert_string_equal(err.text, "no reply within 500 ms (RedisTimeout)");
	if (took > 1500)
		fail_msg("hung server: returned after %lld ms, want 500 ms",
		    (long long)took);
}

/* Up, down and the backoff, as both clients of Redis keep them. */
static void
test_health(void **state)
{
	struct rd_redis_health h;

	(void)state;
	rd_redis_health_init(&h, 1000, 8000);
	assert_int_equal(h.state, RD_REDIS_INIT);
	assert_int_equal(rd_redis_health_failed(&h, 5000, true), RD_REDIS_INIT);
	assert_int_equal(h.state, RD_REDIS_DOWN);
	assert_int_equal(h.retry_at_ms, 6000);
	assert_int_equal(h.gen, 1);
	/* a call in flight when it fell: no longer wait */
	assert_int_equal(
	    rd_redis_health_failed(&h, 5100, false), RD_REDIS_DOWN);
	assert_int_equal(h.retry_at_ms, 6000);
	/* retries that fail: 2 s, 4 s, 8 s, 8 s */
	rd_redis_health_failed(&h, 6000, true);
	assert_int_equal(h.retry_at_ms, 8000);
	rd_redis_health_failed(&h, 8000, true);
	assert_int_equal(h.retry_at_ms, 12000);
	rd_redis_health_failed(&h, 12000, true);
	rd_redis_health_failed(&h, 20000, true);
	assert_int_equal(h.retry_at_ms, 28000);
	assert_int_equal(h.gen, 1);
	assert_int_equal(rd_redis_health_down_s(&h, 28400), 23);
	/* it answers: up, and the next fall starts at 1 s again */
	assert_int_equal(rd_redis_health_answered(&h), RD_REDIS_DOWN);
	assert_int_equal(rd_redis_health_answered(&h), RD_REDIS_UP);
	rd_redis_health_failed(&h, 30000, true);
	assert_int_equal(h.retry_at_ms, 31000);
	assert_int_equal(h.gen, 2);
	assert_int_equal(h.down_since_ms, 30000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_health),
	    cmocka_unit_test(test_url_parse),
	    cmocka_unit_test(test_setup_argv),
	    cmocka_unit_test(test_dial_self_connect),
	    cmocka_unit_test_setup_teardown(
		test_connect_auth_select, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_connect_errors, tu_redis_setup, tu_redis_teardown),
	    cmocka_unit_test_setup_teardown(
		test_connect_hung, tu_redis_setup, tu_redis_teardown),
	};

	/* a write to a socket Redis closed must not kill the test */
	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

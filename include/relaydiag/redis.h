/*
 * redis.h - what every user of Redis shares: the parsed RedisURL, a new
 * connection's set-up (connect with a timeout, AUTH, SELECT), and whether
 * Redis is up, down, and when to try again.
 *
 * Owns struct rd_redis_url, struct rd_redis_setup and struct
 * rd_redis_health. The publisher
 * (publish.c) connects with rd_redis_connect(), blocking; history.c keeps
 * its one round trip by appending the set-up commands of
 * rd_redis_setup_argv() ahead of its first pipeline.
 * Error texts are one line, safe to log, and never contain the password
 * (only the user name, host and path of the URL, and Redis's own words,
 * sanitized as text.h's log rule says).
 * Threads: pure functions of their arguments, except that a connection
 * belongs to one thread at a time, as hiredis requires.
 * Memory: a context from rd_redis_dial() or rd_redis_connect() is freed
 * with redisFree().
 */
#ifndef RELAYDIAG_REDIS_H
#define RELAYDIAG_REDIS_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "relaydiag/err.h"

struct redisContext; /* <hiredis/hiredis.h> */

/*
 * A parsed RedisURL:
 *     redis://[[user]:password@]host[:port][/db]
 *     unix://[[user]:password@]/path/to/socket[?db=N]
 * host may be [IPv6]; port defaults to 6379, db to 0. User and password
 * may be %-encoded. A user information without ':' is a password alone
 * ("redis://secret@host", as redis-cli reads it). With a user, AUTH user
 * password (Redis 6 ACL); without, AUTH password. rediss:// (TLS) is
 * refused: hiredis 0.14 has no TLS.
 */
struct rd_redis_url {
	bool is_unix;
	char host[256]; /* without the [] of an IPv6 address */
	unsigned port;
	char path[108]; /* sizeof(sun_path) */
	char user[128]; /* "": none */
	char pass[512]; /* "": no AUTH */
	unsigned db;
};

/*
 * rd_redis_url_parse - parse url into *out. 0, or -1 with err (source
 * "RedisURL"); the error text never contains the password.
 */
int rd_redis_url_parse(
    const char *url, struct rd_redis_url *out, struct rd_err *err);

/*
 * The commands a new connection sends before any other: AUTH (when the
 * URL has a user or a password), then SELECT (when its db is not 0).
 * cmd[i].argv[0] is the command's name, a string literal; the other
 * arguments point into the URL and into db, so the struct is used where
 * it was filled and not copied.
 */
struct rd_redis_setup {
	size_t n; /* commands: 0, 1 or 2 */
	struct {
		int argc;
		const char *argv[3];
		size_t argvlen[3];
	} cmd[2];
	char db[16]; /* SELECT's argument */
};

/*
 * rd_redis_setup_argv - fill *out with u's set-up commands, for
 * redisAppendCommandArgv or redisCommandArgv. Returns out->n.
 */
size_t rd_redis_setup_argv(
    const struct rd_redis_url *u, struct rd_redis_setup *out);

/*
 * rd_redis_dial - connect to u's host:port or socket within
 * connect_timeout_ms; nothing is sent. The context, or NULL with err
 * (source "redis"): "out of memory", or hiredis's reason ("Connection
 * refused"). The context is blocking and has no command timeout yet.
 */
struct redisContext *rd_redis_dial(const struct rd_redis_url *u,
    unsigned connect_timeout_ms, struct rd_err *err);

/*
 * rd_redis_connect - a connection ready for commands: rd_redis_dial(),
 * then a command_timeout_ms timeout on every reply, TCP keepalive, and the
 * set-up commands, each waited for. The context, or NULL with err (source
 * "redis") saying what failed, trailing dots trimmed: "Connection
 * refused", "AUTH refused: WRONGPASS invalid username-password pair or
 * user is disabled", "no reply within 1000 ms (RedisTimeout)". Blocks:
 * the connect within connect_timeout_ms, each reply within
 * command_timeout_ms.
 */
struct redisContext *rd_redis_connect(const struct rd_redis_url *u,
    unsigned connect_timeout_ms, unsigned command_timeout_ms,
    struct rd_err *err);

/*
 * rd_redis_error_text - prefix, then text (Redis's or hiredis's words)
 * sanitized for a log line, into dst (size len), without trailing dots or
 * spaces (so that "; spooling" can follow). Returns dst.
 */
const char *rd_redis_error_text(
    char *dst, size_t len, const char *prefix, const char *text);

/*
 * rd_redis_ctx_error - why c failed, as rd_redis_error_text() writes it;
 * e is the errno of the failed call. hiredis reports a reply timeout as
 * strerror(EAGAIN); this says "no reply within <timeout_ms> ms
 * (RedisTimeout)" instead. Returns dst.
 */
const char *rd_redis_ctx_error(const struct redisContext *c, int e,
    unsigned timeout_ms, char *dst, size_t len);

/*
 * Up, down, and when to try again: the state machine both clients of
 * Redis keep (publish.c, history_redis.c), so that they agree on it.
 * Redis is up once it has answered a command, not when it accepts a
 * connection; it goes down at a failure. While down, a retry comes after
 * the backoff, which starts at min_ms and doubles, up to max_ms, at each
 * retry that fails. The functions return the state before, so that the
 * caller writes its one log line per change of state. Times are
 * monotonic milliseconds. Not locked: the caller's lock covers it.
 */
enum rd_redis_state {
	RD_REDIS_INIT, /* not tried yet */
	RD_REDIS_UP,
	RD_REDIS_DOWN,
};

struct rd_redis_health {
	enum rd_redis_state state;
	int64_t down_since_ms; /* when it went down */
	int64_t retry_at_ms;   /* while down: not before this */
	unsigned backoff_ms, min_ms, max_ms;
	unsigned gen; /* bumped each time it goes down */
};

void rd_redis_health_init(
    struct rd_redis_health *h, unsigned min_ms, unsigned max_ms);

/* rd_redis_health_answered - Redis answered: up, the backoff back at min */
enum rd_redis_state rd_redis_health_answered(struct rd_redis_health *h);

/*
 * rd_redis_health_failed - a call failed at now: down. retry_failed: it
 * was a retry after the backoff (not a call already in flight when Redis
 * went down), so the backoff doubles.
 */
enum rd_redis_state rd_redis_health_failed(
    struct rd_redis_health *h, int64_t now, bool retry_failed);

/* rd_redis_health_down_s - whole seconds down at now, rounded */
int64_t rd_redis_health_down_s(const struct rd_redis_health *h, int64_t now);

#endif

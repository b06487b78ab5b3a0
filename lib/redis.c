/*
 * redis.c - RedisURL parsing and a new connection's set-up, shared by the
 * publisher (publish.c) and the history store (history.c).
 *
 * Owns struct rd_redis_url and struct rd_redis_setup; the contract is in
 * redis.h. AUTH is "AUTH password", or "AUTH user password" with a user
 * (Redis 6 ACL); SELECT follows it, since a database may need the login.
 * Threads: pure functions; a context belongs to its caller's thread.
 * Memory: allocates only the hiredis context it returns.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "relaydiag/redis.h"
#include "relaydiag/text.h"

#define REDIS_ERR_MAX 256

/*
 * RedisURL parsing.
 */

/*
 * redis_url_decode - %-decode s[0..n) into dst (size len). 0, or -1: bad
 * escape, NUL or control character, or too long.
 */
static int
redis_url_decode(const char *s, size_t n, char *dst, size_t len)
{
	size_t i, o = 0;
	int hi, lo;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n)
				return (-1);
			if ((hi = rd_hex_value(s[i + 1])) < 0 ||
			    (lo = rd_hex_value(s[i + 2])) < 0)
				return (-1);
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= len)
			return (-1);
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return (0);
}

/* redis_url_number - decimal s[0..n) within [min, max]; 0, or -1 */
static int
redis_url_number(const char *s, size_t n, unsigned long min, unsigned long max,
    unsigned *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < min || v > max)
		return (-1);
	*out = (unsigned)v;
	return (0);
}

/* redis_url_userinfo - "[user]:pass" or "pass" into u; 0, or -1 with err */
static int
redis_url_userinfo(
    const char *s, size_t n, struct rd_redis_url *u, struct rd_err *err)
{
	const char *colon = memchr(s, ':', n);

	if (colon == NULL) {
		if (redis_url_decode(s, n, u->pass, sizeof(u->pass)) != 0)
			goto bad;
		return (0);
	}
	if (redis_url_decode(
		s, (size_t)(colon - s), u->user, sizeof(u->user)) != 0 ||
	    redis_url_decode(colon + 1, n - (size_t)(colon - s) - 1, u->pass,
		sizeof(u->pass)) != 0)
		goto bad;
	return (0);
bad:
	rd_err_set(err, "RedisURL", 0,
	    "bad user or password: too long, a "
	    "control character, or a %% not followed by two hex digits "
	    "(write @ as %%40, : as %%3A, %% as %%25)");
	return (-1);
}

/* redis_url_host_char - may c appear in a host name or address? */
static bool
redis_url_host_char(char c, bool v6)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
		(v6 && c == ':'));
}

/* redis_url_host - "host[:port]" or "[v6][:port]"; 0, or -1 with err */
static int
redis_url_host(
    const char *s, size_t n, struct rd_redis_url *u, struct rd_err *err)
{
	const char *end = s + n, *hend, *port = NULL;
	bool v6 = n > 0 && s[0] == '[';
	size_t i, hn;

	if (v6) {
		if ((hend = memchr(s, ']', n)) == NULL || hend == s + 1)
			goto bad;
		s++;
		if (hend + 1 < end) {
			if (hend[1] != ':')
				goto bad;
			port = hend + 2;
		}
	} else {
		hend = memchr(s, ':', n);
		if (hend != NULL)
			port = hend + 1;
		else
			hend = end;
	}
	hn = (size_t)(hend - s);
	for (i = 0; i < hn; i++)
		if (!redis_url_host_char(s[i], v6))
			goto bad;
	if (hn == 0)
		(void)rd_strlcpy(u->host, "127.0.0.1", sizeof(u->host));
	else if (hn >= sizeof(u->host))
		goto bad;
	else {
		memcpy(u->host, s, hn);
		u->host[hn] = '\0';
	}
	if (port != NULL && redis_url_number(port, (size_t)(end - port), 1,
				65535, &u->port) != 0) {
		rd_err_set(err, "RedisURL", 0,
		    "port must be a number from 1 to 65535");
		return (-1);
	}
	return (0);
bad:
	rd_err_set(err, "RedisURL", 0,
	    "bad host: expected a name, an IPv4 "
	    "address or an [IPv6] address, then an optional :port");
	return (-1);
}

int
rd_redis_url_parse(const char *url, struct rd_redis_url *u, struct rd_err *err)
{
	const char *p, *auth_end, *at, *q;
	size_t n;

	memset(u, 0, sizeof(*u));
	u->port = 6379;
	if (url == NULL || url[0] == '\0') {
		rd_err_set(err, "RedisURL", 0, "empty URL");
		return (-1);
	}
	if (strncmp(url, "redis://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "unix://", 7) == 0) {
		p = url + 7;
		u->is_unix = true;
	} else if (strncmp(url, "rediss://", 9) == 0) {
		rd_err_set(err, "RedisURL", 0,
		    "rediss:// (TLS) is not "
		    "supported: hiredis 0.14 has no TLS; use redis:// on a "
		    "trusted network, unix://, or a local TLS tunnel");
		return (-1);
	} else {
		rd_err_set(err, "RedisURL", 0,
		    "expected "
		    "redis://[[user]:password@]host[:port][/db] or "
		    "unix://[[user]:password@]/path[?db=N]");
		return (-1);
	}

	/* The authority ends at the first '/' (or '?'); user info at its
	   last '@', so that a password may hold an unencoded '@'. */
	auth_end = p + strcspn(p, "/?");
	at = NULL;
	for (q = p; q < auth_end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		if (redis_url_userinfo(p, (size_t)(at - p), u, err) != 0)
			return (-1);
		p = at + 1;
	}

	if (u->is_unix) {
		if (p != auth_end || *p != '/') {
			rd_err_set(err, "RedisURL", 0,
			    "unix:// takes an "
			    "absolute socket path, as in "
			    "unix:///run/redis.sock "
			    "or unix://:password@/run/redis.sock?db=1");
			return (-1);
		}
		n = strcspn(p, "?");
		if (n == 1) {
			rd_err_set(err, "RedisURL", 0,
			    "no socket path after "
			    "unix://, as in unix:///run/redis.sock");
			return (-1);
		}
		if (redis_url_decode(p, n, u->path, sizeof(u->path)) != 0) {
			rd_err_set(err, "RedisURL", 0,
			    "bad socket path (longer "
			    "than %zu bytes, or a control character)",
			    sizeof(u->path) - 1);
			return (-1);
		}
		p += n;
		if (*p == '\0')
			return (0);
		if (strncmp(p, "?db=", 4) != 0 ||
		    redis_url_number(
			p + 4, strlen(p + 4), 0, 2147483647, &u->db)) {
			rd_err_set(err, "RedisURL", 0,
			    "after the socket path "
			    "only ?db=N is allowed");
			return (-1);
		}
		return (0);
	}

	if (redis_url_host(p, (size_t)(auth_end - p), u, err) != 0)
		return (-1);
	p = auth_end;
	if (*p == '\0')
		return (0);
	if (*p == '/') {
		p++;
		if (*p == '\0')
			return (0);
		if (redis_url_number(p, strlen(p), 0, 2147483647, &u->db) == 0)
			return (0);
	}
	rd_err_set(err, "RedisURL", 0,
	    "after the host only /db is allowed "
	    "(a database number, as in redis://host:6379/2)");
	return (-1);
}

/*
 * A new connection.
 */

/* redis_tv - ms as a struct timeval */
static struct timeval
redis_tv(unsigned ms)
{
	struct timeval tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return (tv);
}

/* redis_trim - drop trailing dots and spaces */
static void
redis_trim(char *s)
{
	size_t n = strlen(s);

	/* "...or user is disabled." reads better before "; spooling" bare */
	while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' '))
		s[--n] = '\0';
}

const char *
rd_redis_error_text(char *dst, size_t len, const char *prefix, const char *text)
{
	size_t n;

	if (len == 0)
		return (dst);
	if ((n = rd_strlcpy(dst, prefix, len)) < len)
		rd_text_log_str(dst + n, len - n, text);
	redis_trim(dst);
	return (dst);
}

const char *
rd_redis_ctx_error(const struct redisContext *c, int e, unsigned timeout_ms,
    char *dst, size_t len)
{
	if (c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK))
		snprintf(dst, len, "no reply within %u ms (RedisTimeout)",
		    timeout_ms);
	else
		rd_redis_error_text(
		    dst, len, "", c->errstr[0] ? c->errstr : "no reply");
	return (dst);
}

size_t
rd_redis_setup_argv(const struct rd_redis_url *u, struct rd_redis_setup *out)
{
	size_t k;
	int i, argc;

	out->n = 0;
	if (u->pass[0] != '\0' || u->user[0] != '\0') {
		argc = 0;
		out->cmd[out->n].argv[argc++] = "AUTH";
		if (u->user[0] != '\0')
			out->cmd[out->n].argv[argc++] = u->user;
		out->cmd[out->n].argv[argc++] = u->pass;
		out->cmd[out->n].argc = argc;
		out->n++;
	}
	if (u->db != 0) {
		snprintf(out->db, sizeof(out->db), "%u", u->db);
		out->cmd[out->n].argv[0] = "SELECT";
		out->cmd[out->n].argv[1] = out->db;
		out->cmd[out->n].argc = 2;
		out->n++;
	}
	for (k = 0; k < out->n; k++)
		for (i = 0; i < out->cmd[k].argc; i++)
			out->cmd[k].argvlen[i] = strlen(out->cmd[k].argv[i]);
	return (out->n);
}

/*
 * redis_self_connected - the socket is connected to itself. A client that
 * retries a local port nobody listens on, inside the kernel's ephemeral
 * range, is soon given that port as its source port: TCP's simultaneous
 * open then connects it to itself (after ~160 tries here). It would read
 * its own commands back, and hold the port, so that a Redis restarting
 * there could not bind it. Such a socket is closed and counts as a refusal.
 */
static bool
redis_self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0 ||
	    getpeername(fd, (struct sockaddr *)&b, &blen) != 0)
		return (false);
	return (alen == blen && memcmp(&a, &b, alen) == 0);
}

struct redisContext *
rd_redis_dial(const struct rd_redis_url *u, unsigned connect_timeout_ms,
    struct rd_err *err)
{
	char text[REDIS_ERR_MAX];
	redisContext *c;

	if (u->is_unix)
		c = redisConnectUnixWithTimeout(
		    u->path, redis_tv(connect_timeout_ms));
	else
		c = redisConnectWithTimeout(
		    u->host, (int)u->port, redis_tv(connect_timeout_ms));
	if (c == NULL) {
		rd_err_set(err, "redis", 0, "out of memory");
		return (NULL);
	}
	if (c->err) {
		rd_err_set(err, "redis", 0, "%s",
		    rd_text_log_str(text, sizeof(text), c->errstr));
		redisFree(c);
		return (NULL);
	}
	if (!u->is_unix && redis_self_connected(c->fd)) {
		redisFree(c);
		rd_err_set(err, "redis", 0,
		    "connected to itself: nothing listens on port %u, and the "
		    "kernel gave that same port as the source port",
		    (unsigned)u->port);
		return (NULL);
	}
	return (c);
}

/*
 * redis_command - one set-up command, waited for: 0, or -1 with err
 * ("AUTH refused: ..." for an error reply; the password is an argument,
 * never part of the text).
 */
static int
redis_command(redisContext *c, int argc, const char **argv,
    const size_t *argvlen, unsigned timeout_ms, struct rd_err *err)
{
	char why[REDIS_ERR_MAX], prefix[64];
	redisReply *r;

	r = redisCommandArgv(c, argc, argv, argvlen);
	if (r == NULL) {
		rd_err_set(err, "redis", 0, "%s",
		    rd_redis_ctx_error(c, errno, timeout_ms, why, sizeof(why)));
		return (-1);
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(prefix, sizeof(prefix), "%s refused: ", argv[0]);
		rd_err_set(err, "redis", 0, "%s",
		    rd_redis_error_text(why, sizeof(why), prefix, r->str));
		freeReplyObject(r);
		return (-1);
	}
	freeReplyObject(r);
	return (0);
}

struct redisContext *
rd_redis_connect(const struct rd_redis_url *u, unsigned connect_timeout_ms,
    unsigned command_timeout_ms, struct rd_err *err)
{
	struct rd_redis_setup st;
	redisContext *c;
	size_t i;

	if ((c = rd_redis_dial(u, connect_timeout_ms, err)) == NULL) {
		if (err != NULL)
			redis_trim(err->text);
		return (NULL);
	}
	redisSetTimeout(c, redis_tv(command_timeout_ms));
	if (!u->is_unix)
		redisEnableKeepAlive(c);
	rd_redis_setup_argv(u, &st);
	for (i = 0; i < st.n; i++)
		if (redis_command(c, st.cmd[i].argc, st.cmd[i].argv,
			st.cmd[i].argvlen, command_timeout_ms, err) != 0) {
			redisFree(c);
			return (NULL);
		}
	return (c);
}

void
rd_redis_health_init(
    struct rd_redis_health *h, unsigned min_ms, unsigned max_ms)
{
	memset(h, 0, sizeof(*h));
	h->state = RD_REDIS_INIT;
	h->max_ms = max_ms;
	h->min_ms = min_ms < max_ms ? min_ms : max_ms;
	h->backoff_ms = h->min_ms;
}

enum rd_redis_state
rd_redis_health_answered(struct rd_redis_health *h)
{
	enum rd_redis_state was = h->state;

	h->state = RD_REDIS_UP;
	h->backoff_ms = h->min_ms;
	return (was);
}

enum rd_redis_state
rd_redis_health_failed(
    struct rd_redis_health *h, int64_t now, bool retry_failed)
{
	enum rd_redis_state was = h->state;

	if (was != RD_REDIS_DOWN) {
		h->state = RD_REDIS_DOWN;
		h->gen++;
		h->down_since_ms = now;
		h->backoff_ms = h->min_ms;
		h->retry_at_ms = now + h->backoff_ms;
	} else if (retry_failed) {
		h->backoff_ms = h->backoff_ms * 2 > h->max_ms
				    ? h->max_ms
				    : h->backoff_ms * 2;
		h->retry_at_ms = now + h->backoff_ms;
	}
	return (was);
}

int64_t
rd_redis_health_down_s(const struct rd_redis_health *h, int64_t now)
{
	return ((now - h->down_since_ms + 500) / 1000);
}

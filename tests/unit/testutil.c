/*
 * testutil.c - the helpers of testutil.h, written once for every unit
 * test.
 *
 * The JSON look-ups and the capturing sink use jansson (linked PUBLIC by
 * rdcore). Owns the captured log (one buffer per test process, under log_lock)
 * and the private redis-server's life: exec, wait for PING, kill, remove.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "relaydiag/text.h"
#include "testutil.h"

int64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * Checks.
 */

const char *
tu_show(char *dst, const char *s)
{
	return (s == NULL ? "(null)" : rd_text_log_str(dst, TU_SHOW_MAX, s));
}

bool
tu_safe_line(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return (false);
	return (true);
}

int
tu_check_str(
    const char *name, const char *what, const char *got, const char *want)
{
	char g[TU_SHOW_MAX], w[TU_SHOW_MAX];

	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return (0);
	if (got == NULL && want == NULL)
		return (0);
	print_error("%s: %s: got \"%s\", want \"%s\"\n", name, what,
	    tu_show(g, got), tu_show(w, want));
	return (1);
}

int
tu_check_bool(
    const char *name, bool got, bool want, const char *yes, const char *no)
{
	if (got == want)
		return (0);
	print_error(
	    "%s: got %s, want %s\n", name, got ? yes : no, want ? yes : no);
	return (1);
}

int
tu_check_err(const char *name, const char *text, const char *want)
{
	int nfail = 0;

	if (strstr(text, want) == NULL) {
		print_error("%s: got error \"%s\", want one with \"%s\"\n",
		    name, text, want);
		nfail++;
	}
	if (!tu_safe_line(text)) {
		print_error("%s: error text is not one safe line\n", name);
		nfail++;
	}
	return (nfail);
}

/*
 * JSON look-ups.
 */

json_t *
tu_json_at(json_t *root, const char *path, bool *parent_null)
{
	char buf[128], *p, *dot;
	json_t *j = root;

	if (parent_null != NULL)
		*parent_null = false;
	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf; (dot = strchr(p, '.')) != NULL; p = dot + 1) {
		*dot = '\0';
		j = json_object_get(j, p);
		if (j == NULL)
			return (NULL);
		if (json_is_null(j)) {
			if (parent_null != NULL)
				*parent_null = true;
			return (NULL);
		}
	}
	return (json_object_get(j, p));
}

json_t *
tu_jget(json_t *root, const char *path)
{
	return (tu_json_at(root, path, NULL));
}

const char *
tu_jstr(json_t *root, const char *path)
{
	const char *s = json_string_value(tu_jget(root, path));

	return (s != NULL ? s : "(not a string)");
}

unsigned
tu_check_values(const char *name, json_t *root, const struct tu_want *w,
    size_t n, bool null_parents)
{
	json_t *j;
	bool pnull, ok;
	unsigned nbad = 0;
	size_t i;

	for (i = 0; i < n && w[i].path != NULL; i++) {
		j = tu_json_at(root, w[i].path, &pnull);
		if (pnull && null_parents)
			j = json_null(); /* a member of null is null */
		if (j == NULL)
			ok = false;
		else if (strcmp(w[i].val, "null") == 0)
			ok = json_is_null(j);
		else if (strcmp(w[i].val, "true") == 0)
			ok = json_is_true(j);
		else if (strcmp(w[i].val, "false") == 0)
			ok = json_is_false(j);
		else if (w[i].val[0] == '#')
			ok = json_is_integer(j) &&
			     json_integer_value(j) ==
				 strtoll(w[i].val + 1, NULL, 10);
		else if (w[i].val[0] == '~')
			ok = json_is_string(j) &&
			     strstr(json_string_value(j), w[i].val + 1) != NULL;
		else
			ok = json_is_string(j) &&
			     strcmp(json_string_value(j), w[i].val) == 0;
		if (!ok) {
			char *d =
			    j != NULL ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

			print_error("%s: %s: got %s, want %s\n", name,
			    w[i].path, d != NULL ? d : "(missing)", w[i].val);
			free(d);
			nbad++;
		}
	}
	return (nbad);
}

/*
 * The capturing sink.
 */

static int
tu_cap_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	struct tu_cap *c = (struct tu_cap *)sk;
	json_error_t jerr;

	c->emitted++;
	if (c->n >= TU_CAP_MAX || type == NULL || json == NULL) {
		free(json);
		if (c->strict)
			fail_msg("more than %d events, or one without type "
				 "or JSON",
			    TU_CAP_MAX);
		c->dropped++;
		return (-1);
	}
	c->type[c->n] = strdup(type);
	c->json[c->n] = json;
	c->obj[c->n] = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (c->obj[c->n] == NULL) {
		if (c->strict)
			fail_msg("event is not JSON: %s", json);
		snprintf(c->perr[c->n], sizeof(c->perr[0]), "%s at %d",
		    jerr.text, jerr.position);
	}
	c->n++;
	return (0);
}

static void
tu_cap_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	struct tu_cap *c = (struct tu_cap *)sk;

	out->emitted = c->emitted;
	out->delivered = c->n;
	out->dropped = c->dropped + c->extra_dropped;
	out->spooled = c->extra_spooled;
}

static void
tu_cap_close(struct rd_sink *sk)
{
	struct tu_cap *c = (struct tu_cap *)sk;
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->type[i]);
		free(c->json[i]);
		json_decref(c->obj[i]);
	}
	free(c);
}

static const struct rd_sink_ops tu_cap_ops = {
    .emit_take = tu_cap_emit_take,
    .stats = tu_cap_stats,
    .close = tu_cap_close,
};

struct tu_cap *
tu_cap_new(void)
{
	struct tu_cap *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->base.ops = &tu_cap_ops;
	return (c);
}

void
tu_cap_check_all(const char *name, const struct tu_cap *c)
{
	size_t i;

	if (c->dropped > 0)
		fail_msg("%s: %llu events dropped by the test sink", name,
		    (unsigned long long)c->dropped);
	for (i = 0; i < c->n; i++) {
		const char *t;

		if (c->obj[i] == NULL)
			fail_msg("%s: event %zu (%s) is not valid JSON: %s: "
				 "%.300s",
			    name, i + 1, c->type[i], c->perr[i], c->json[i]);
		if (strchr(c->json[i], '\n') != NULL)
			fail_msg("%s: event %zu has a newline", name, i + 1);
		t = json_string_value(json_object_get(c->obj[i], "type"));
		if (t == NULL || strcmp(t, c->type[i]) != 0)
			fail_msg("%s: event %zu: type member \"%s\", handed "
				 "in as \"%s\"",
			    name, i + 1, t != NULL ? t : "(missing)",
			    c->type[i]);
	}
}

size_t
tu_cap_count(const struct tu_cap *c, const char *type)
{
	size_t i, n = 0;

	for (i = 0; i < c->n; i++)
		n += strcmp(c->type[i], type) == 0;
	return (n);
}

json_t *
tu_cap_get(const struct tu_cap *c, const char *type, size_t k)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->type[i], type) == 0 && k-- == 0)
			return (c->obj[i]);
	return (NULL);
}

/*
 * Files.
 */

const char *
tu_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len)
		fail_msg("path too long: %s/%s", dir, name);
	return (out);
}

void
tu_write_file(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL)
		fail_msg("cannot create %s: %s", path, strerror(errno));
	if (fputs(text, fp) < 0 || fclose(fp) != 0)
		fail_msg("cannot write %s: %s", path, strerror(errno));
}

void
tu_backdate(const char *path, unsigned seconds)
{
	struct timeval times[2];

	times[0].tv_sec = times[1].tv_sec = time(NULL) - (time_t)seconds;
	times[0].tv_usec = times[1].tv_usec = 0;
	if (utimes(path, times) != 0)
		fail_msg("cannot backdate %s: %s", path, strerror(errno));
}

const char *
tu_tmpdir(char *dir, size_t len, const char *name)
{
	int n = snprintf(dir, len, "/tmp/%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= len)
		fail_msg("temporary directory name too long: %s", name);
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp %s: %s", dir, strerror(errno));
	return (dir);
}

static int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return (remove(path));
}

void
tu_rmtree(const char *dir)
{
	(void)nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The captured log.
 */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[16384];

void
tu_log_capture(int prio, const char *msg)
{
	size_t n;

	pthread_mutex_lock(&log_lock);
	n = strlen(log_text);
	snprintf(log_text + n, sizeof(log_text) - n, "<%d>%s\n", prio, msg);
	pthread_mutex_unlock(&log_lock);
	if (getenv("RD_TEST_VERBOSE") != NULL)
		fprintf(stderr, "log: <%d>%s\n", prio, msg);
}

void
tu_log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	log_text[0] = '\0';
	pthread_mutex_unlock(&log_lock);
}

int
tu_log_count(const char *s)
{
	const char *p;
	int n = 0;

	pthread_mutex_lock(&log_lock);
	for (p = log_text; (p = strstr(p, s)) != NULL; p += strlen(s))
		n++;
	pthread_mutex_unlock(&log_lock);
	return (n);
}

/* tu_log_fail - fail, showing a copy of the log: fail_msg longjmps, so
   the lock must not be held */
static void
tu_log_fail(const char *s, int n, int want)
{
	char copy[sizeof(log_text)];

	pthread_mutex_lock(&log_lock);
	memcpy(copy, log_text, sizeof(copy));
	pthread_mutex_unlock(&log_lock);
	if (want < 0)
		fail_msg("log lacks \"%s\"; log was:\n%s", s, copy);
	fail_msg(
	    "log has \"%s\" %d times, want %d; log was:\n%s", s, n, want, copy);
}

void
tu_log_expect(const char *s)
{
	if (tu_log_count(s) == 0)
		tu_log_fail(s, 0, -1);
}

void
tu_log_expect_n(const char *s, int want)
{
	int n = tu_log_count(s);

	if (n != want)
		tu_log_fail(s, n, want);
}

/*
 * A private redis-server.
 */

int
tu_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		fail_msg("no free port: %s", strerror(errno));
	port = ntohs(sa.sin_port);
	close(fd);
	return (port);
}

struct tu_redis *
tu_redis_new(const char *name)
{
	struct tu_redis *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		fail_msg("out of memory");
	tu_tmpdir(s->dir, sizeof(s->dir), name);
	tu_path(s->sock, sizeof(s->sock), s->dir, "redis.sock");
	s->port = tu_free_port();
	snprintf(s->url, sizeof(s->url), "redis://127.0.0.1:%d", s->port);
	return (s);
}

void
tu_redis_free(struct tu_redis *s)
{
	if (s == NULL)
		return;
	if (s->pid > 0)
		kill(s->pid, SIGCONT);
	tu_redis_stop(s, SIGKILL);
	tu_rmtree(s->dir);
	free(s);
}

int
tu_redis_setup(void **state)
{
	/* glibc's name of the program: "test_publish" */
	*state = tu_redis_new(program_invocation_short_name);
	tu_log_reset();
	return (0);
}

int
tu_redis_teardown(void **state)
{
	tu_redis_free(*state);
	return (0);
}

redisContext *
tu_redis_connect(const struct tu_redis *s, unsigned db)
{
	struct timeval tv = {1, 0};
	redisContext *c;
	redisReply *r;

	c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
	if (c == NULL || c->err) {
		if (c != NULL)
			redisFree(c);
		return (NULL);
	}
	redisSetTimeout(c, tv);
	if (s->pass[0] != '\0') {
		r = redisCommand(c, "AUTH %s", s->pass);
		if (r == NULL || r->type == REDIS_REPLY_ERROR)
			fail_msg("test AUTH failed");
		freeReplyObject(r);
	}
	if (db != 0) {
		r = redisCommand(c, "SELECT %u", db);
		freeReplyObject(r);
	}
	return (c);
}

void
tu_redis_start(struct tu_redis *s)
{
	const char *bin = getenv("RD_REDIS_SERVER");
	char port[16], logf[160];
	const char *argv[40];
	redisContext *c;
	redisReply *r;
	int64_t t0;
	int argc = 0, st;

	if (bin == NULL)
		bin = "redis-server";
	snprintf(port, sizeof(port), "%d", s->port);
	tu_path(logf, sizeof(logf), s->dir, "redis.log");
	argv[argc++] = bin;
	argv[argc++] = "--port";
	argv[argc++] = port;
	argv[argc++] = "--bind";
	argv[argc++] = "127.0.0.1";
	argv[argc++] = "--save";
	argv[argc++] = "";
	argv[argc++] = "--appendonly";
	argv[argc++] = s->aof ? "yes" : "no";
	argv[argc++] = "--appendfsync";
	argv[argc++] = "always";
	argv[argc++] = "--dir";
	argv[argc++] = s->dir;
	argv[argc++] = "--unixsocket";
	argv[argc++] = s->sock;
	argv[argc++] = "--unixsocketperm";
	argv[argc++] = "700";
	argv[argc++] = "--daemonize";
	argv[argc++] = "no";
	argv[argc++] = "--logfile";
	argv[argc++] = logf;
	if (s->pass[0] != '\0') {
		argv[argc++] = "--requirepass";
		argv[argc++] = s->pass;
	}
	argv[argc] = NULL;
	if ((s->pid = fork()) < 0)
		fail_msg("fork: %s", strerror(errno));
	if (s->pid == 0) {
		execvp(bin, (char *const *)(uintptr_t)argv);
		/* only async-signal-safe calls here: threads may hold locks */
		if (write(2, "testutil: cannot run redis-server\n", 34) < 0)
			_exit(126);
		_exit(127);
	}
	for (t0 = tu_now_ms(); tu_now_ms() - t0 < 5000; usleep(10000)) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			fail_msg("redis-server exited at start (status %d): "
				 "redis-server is required (apt-get install "
				 "redis-server), or see %s",
			    WEXITSTATUS(st), logf);
		}
		if ((c = tu_redis_connect(s, 0)) == NULL)
			continue;
		r = redisCommand(c, "PING");
		if (r != NULL && r->type == REDIS_REPLY_STATUS) {
			freeReplyObject(r);
			redisFree(c);
			return;
		}
		freeReplyObject(r);
		redisFree(c);
	}
	fail_msg("redis-server on port %d did not answer within 5 s", s->port);
}

void
tu_redis_stop(struct tu_redis *s, int sig)
{
	if (s->pid > 0) {
		kill(s->pid, sig);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

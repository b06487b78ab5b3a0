/*
 * policyd.c - the policy service's socket and threads (deployment 3): the
 * transport of the front end whose grammar and answers are lib/policy.c.
 *
 * Owns the listening socket PolicySocket names, one accepting thread, and
 * one thread per connection (Postfix's smtpd keeps its connection and
 * sends request after request). Every bound is a number here: at most
 * POLICYD_CONNS_MAX connections (one more is closed at once: Postfix then
 * applies smtpd_policy_service_default_action, 451 4.3.5, and never
 * relays); a connection idle for POLICYD_IDLE_S (Postfix's own
 * smtpd_policy_service_max_idle) or a request unfinished after
 * POLICYD_REQUEST_S (smtpd_policy_service_timeout) is closed; an answer
 * that cannot be written within POLICYD_WRITE_S is dropped with its
 * connection. A slow or hostile client holds only its own thread.
 * Threads: started after the privilege drop, with the stop signals
 * blocked (main.c); the services are shared and thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "milter.h"
#include "relaydiag/buf.h"
#include "relaydiag/log.h"
#include "relaydiag/metrics.h"
#include "relaydiag/policy.h"
#include "relaydiag/snapshot.h"
#include "relaydiag/sockspec.h"
#include "relaydiag/text.h"

#define POLICYD_CONNS_MAX 512
#define POLICYD_IDLE_S 300
#define POLICYD_REQUEST_S 100
#define POLICYD_WRITE_S 10
#define POLICYD_SLOW_MS 1000 /* an answer slower than this is logged */

static struct policyd_services policyd_sv;
static int policyd_fd = -1;
static int policyd_stop_pipe[2] = {-1, -1};
static pthread_t policyd_tid;
static bool policyd_running;
static atomic_int policyd_conns;
static atomic_llong policyd_refused_at; /* last "too many" log, s */

struct policyd_conn {
	int fd;
	struct rd_policy_parser p;
	char buf[8192];
};

static int64_t
policyd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* policyd_wait - fd ready for events, or the stop pipe, within ms */
static int
policyd_wait(int fd, short events, int ms)
{
	struct pollfd pf[2];
	int rc;

	pf[0].fd = fd;
	pf[0].events = events;
	pf[1].fd = policyd_stop_pipe[0];
	pf[1].events = POLLIN;
	do
		rc = poll(pf, 2, ms);
	while (rc == -1 && errno == EINTR);
	if (rc <= 0 || (pf[1].revents & POLLIN) != 0)
		return (-1); /* timeout, error or stop */
	return (0);
}

/* policyd_write - all of b, within POLICYD_WRITE_S; 0 or -1 */
static int
policyd_write(int fd, const char *p, size_t n)
{
	int64_t end = policyd_now_ms() + POLICYD_WRITE_S * 1000;
	ssize_t w;

	while (n > 0) {
		int64_t left = end - policyd_now_ms();

		if (left <= 0 || policyd_wait(fd, POLLOUT, (int)left) != 0)
			return (-1);
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return (-1);
		}
		p += w;
		n -= (size_t)w;
	}
	return (0);
}

/* policyd_answer - one request, with the configuration of the moment */
static int
policyd_answer(struct policyd_conn *c, struct rd_buf *out)
{
	struct rd_policy_services sv;
	struct rd_config *cfg;
	int64_t t0 = policyd_now_ms(), dt;
	uint64_t t0ns;
	int rc;

	cfg = rd_snapshot_acquire();
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = policyd_sv.sink;
	sv.history = policyd_sv.history;
	sv.dns = policyd_sv.dns;
	sv.explained = policyd_sv.explained;
	sv.authfails = policyd_sv.authfails;
	rd_buf_reset(out);
	t0ns = rd_metrics_enabled() ? rd_metrics_now_ns() : 0;
	rd_policy_answer(&sv, &c->p.req, out);
	if (t0ns != 0)
		rd_metrics_observe(RD_STAGE_POLICY, rd_metrics_now_ns() - t0ns);
	rd_snapshot_release(cfg);
	if ((dt = policyd_now_ms() - t0) > POLICYD_SLOW_MS)
		rd_log(LOG_WARNING, NULL,
		    "policy: an answer took %lld ms (HistoryTimeout, "
		    "DNSTimeout bound it)",
		    (long long)dt);
	rc = policyd_write(c->fd, out->data, out->len);
	rd_policy_parser_init(&c->p);
	return (rc);
}

static void *
policyd_conn_main(void *arg)
{
	struct policyd_conn *c = arg;
	struct rd_buf out;
	int64_t deadline;
	size_t off;
	ssize_t n;
	bool in_request = false;

	rd_buf_init(&out);
	rd_policy_parser_init(&c->p);
	deadline = policyd_now_ms() + POLICYD_IDLE_S * 1000;
	for (;;) {
		int64_t left = deadline - policyd_now_ms();

		if (left <= 0 || policyd_wait(c->fd, POLLIN, (int)left) != 0)
			break;
		if ((n = read(c->fd, c->buf, sizeof(c->buf))) <= 0) {
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			break;
		}
		for (off = 0; off < (size_t)n;) {
			off += rd_policy_feed(
			    &c->p, c->buf + off, (size_t)n - off);
			if (!c->p.done)
				break;
			if (policyd_answer(c, &out) != 0)
				goto done;
			in_request = false;
			deadline = policyd_now_ms() + POLICYD_IDLE_S * 1000;
		}
		if (!in_request && (c->p.len > 0 || c->p.req.nattrs > 0)) {
			/* A request began: it has POLICYD_REQUEST_S. */
			in_request = true;
			deadline = policyd_now_ms() + POLICYD_REQUEST_S * 1000;
		}
	}
done:
	rd_buf_free(&out);
	(void)close(c->fd);
	free(c);
	atomic_fetch_sub(&policyd_conns, 1);
	return (NULL);
}

static void *
policyd_accept_main(void *arg)
{
	struct policyd_conn *c;
	pthread_attr_t attr;
	pthread_t tid;
	long long now;
	int fd;

	(void)arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	for (;;) {
		if (policyd_wait(policyd_fd, POLLIN, -1) != 0)
			break;
		if ((fd = accept4(policyd_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if (atomic_fetch_add(&policyd_conns, 1) >= POLICYD_CONNS_MAX) {
			atomic_fetch_sub(&policyd_conns, 1);
			(void)close(fd);
			now = (long long)time(NULL);
			if (now - atomic_exchange(&policyd_refused_at, now) >=
			    60)
				rd_log(LOG_WARNING, NULL,
				    "policy: more than %d connections; one "
				    "closed (Postfix defers: "
				    "smtpd_policy_service_default_action)",
				    POLICYD_CONNS_MAX);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->fd = fd, pthread_create(
				     &tid, &attr, policyd_conn_main, c) != 0)) {
			rd_log(LOG_WARNING, NULL,
			    "policy: no memory or thread for a connection; "
			    "closed");
			free(c);
			(void)close(fd);
			atomic_fetch_sub(&policyd_conns, 1);
		}
	}
	pthread_attr_destroy(&attr);
	return (NULL);
}

int
policyd_open(
    const char *spec, mode_t mode, uid_t uid, gid_t gid, struct rd_err *err)
{
	return (listen_open("PolicySocket", spec, true, mode, uid, gid, err));
}

int
policyd_start(int fd, const struct policyd_services *sv, struct rd_err *err)
{
	policyd_sv = *sv;
	policyd_fd = fd;
	if (pipe2(policyd_stop_pipe, O_CLOEXEC) != 0 ||
	    pthread_create(&policyd_tid, NULL, policyd_accept_main, NULL) !=
		0) {
		rd_err_set(err, "PolicySocket", 0, "cannot start: %s",
		    strerror(errno));
		return (-1);
	}
	policyd_running = true;
	return (0);
}

void
policyd_stop(void)
{
	int i;

	if (!policyd_running)
		return;
	/* The pipe turns readable for good: every wait returns. */
	if (write(policyd_stop_pipe[1], "x", 1) < 0)
		rd_log(LOG_WARNING, NULL, "policy: stop: %s", strerror(errno));
	(void)pthread_join(policyd_tid, NULL);
	for (i = 0; i < 200 && atomic_load(&policyd_conns) > 0; i++)
		(void)poll(NULL, 0, 10);
	(void)close(policyd_fd);
	policyd_running = false;
}

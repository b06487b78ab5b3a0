/*
 * metricsd.c - the metrics' HTTP listener (MetricsListen): GET /metrics in
 * the Prometheus text format, rendered by lib/metrics.c.
 *
 * Owns the listener. It is libmicrohttpd, not a parser of ours: a
 * well-kept library (systemd-journal-remote's) with its own limits, run
 * in one thread of the unprivileged filter process, on the loopback by
 * default, with at most METRICSD_CONNS connections of METRICSD_MEM bytes
 * each, closed after METRICSD_TIMEOUT_S idle. It answers GET and HEAD of
 * /metrics and "/"; anything else is 404 or 405. Nothing a client sends
 * is ever echoed, logged or parsed beyond the request line.
 * Why the daemon serves them, not a stream consumer: half of what an
 * admin alerts on (Redis down, events spooled or dropped, the queue, the
 * time spent per callback) is known only here, and is exactly what a
 * consumer cannot see while the stream is down.
 */
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "milter.h"
#include "relaydiag/history.h"
#include "relaydiag/log.h"
#include "relaydiag/metrics.h"

#define METRICSD_CONNS 16
#define METRICSD_PER_IP 8
#define METRICSD_MEM (16 * 1024)
#define METRICSD_TIMEOUT_S 10

static struct MHD_Daemon *metricsd_daemon;
static struct front_services metricsd_sv;
static uint64_t metricsd_started;

int
metricsd_open(const char *spec, struct rd_err *err)
{
	return (listen_open(
	    "MetricsListen", spec, false, 0, (uid_t)-1, (gid_t)-1, err));
}

/* metricsd_text - a short text answer */
static enum MHD_Result
metricsd_text(struct MHD_Connection *c, unsigned code, const char *text,
    const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(
	    strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return (MHD_NO);
	(void)MHD_add_response_header(
	    r, "Content-Type", "text/plain; charset=utf-8");
	if (allow != NULL)
		(void)MHD_add_response_header(r, "Allow", allow);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return (ret);
}

static enum MHD_Result
metricsd_metrics(struct MHD_Connection *c)
{
	struct rd_metrics_gauges g;
	struct MHD_Response *r;
	enum MHD_Result ret;
	struct rd_buf b;
	size_t len;

	memset(&g, 0, sizeof(g));
	g.version = RD_VERSION;
	g.start_time = metricsd_started;
	g.history_redis_up = -1;
	if (rd_history_uses_redis(metricsd_sv.history)) {
		g.history_redis_up =
		    rd_history_redis_up(metricsd_sv.history) ? 1 : 0;
		g.history_writes_dropped =
		    rd_history_writes_dropped(metricsd_sv.history);
	}
	if (metricsd_sv.sink != NULL) {
		g.have_sink = true;
		rd_sink_stats(metricsd_sv.sink, &g.sink);
	}
	rd_buf_init(&b);
	rd_metrics_render(&b, &g);
	len = b.len; /* before rd_buf_steal empties b */
	r = MHD_create_response_from_buffer(
	    len, rd_buf_steal(&b), MHD_RESPMEM_MUST_FREE);
	if (r == NULL)
		return (MHD_NO);
	(void)MHD_add_response_header(
	    r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return (ret);
}

static enum MHD_Result
metricsd_answer(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **state)
{
	static int first;

	(void)cls;
	(void)version;
	(void)upload;
	if (*state == NULL) { /* headers only, so far */
		*state = &first;
		return (MHD_YES);
	}
	if (*upload_size != 0) { /* a body: not read, not kept */
		*upload_size = 0;
		return (MHD_YES);
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return (metricsd_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET and HEAD\n", "GET, HEAD"));
	if (strcmp(url, "/metrics") == 0)
		return (metricsd_metrics(c));
	if (strcmp(url, "/") == 0)
		return (metricsd_text(c, MHD_HTTP_OK,
		    "relaydiag: the metrics are at /metrics\n", NULL));
	return (metricsd_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL));
}

/* metricsd_log - libmicrohttpd's own messages, to our log */
static void
metricsd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	rd_log(LOG_WARNING, NULL, "metrics: %s", msg);
}

int
metricsd_start(int fd, const struct front_services *sv, struct rd_err *err)
{
	metricsd_sv = *sv;
	metricsd_started = (uint64_t)time(NULL);
	metricsd_daemon = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    metricsd_answer, NULL, MHD_OPTION_EXTERNAL_LOGGER, metricsd_log,
	    NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)METRICSD_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)METRICSD_PER_IP, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)METRICSD_MEM, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)METRICSD_TIMEOUT_S, MHD_OPTION_END);
	if (metricsd_daemon == NULL) {
		rd_err_set(
		    err, "MetricsListen", 0, "cannot start the HTTP listener");
		return (-1);
	}
	rd_metrics_enable(true);
	return (0);
}

void
metricsd_stop(void)
{
	if (metricsd_daemon == NULL)
		return;
	rd_metrics_enable(false);
	MHD_stop_daemon(metricsd_daemon);
	metricsd_daemon = NULL;
}

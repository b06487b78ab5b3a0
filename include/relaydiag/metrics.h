/*
 * metrics.h - the daemon's counters, for Prometheus.
 *
 * Owns the process-wide counters every front end and service adds to (the
 * decisions by diagnosis, the alerts, the DNS and history lookups, the time
 * spent per callback) and their rendering in the Prometheus text
 * exposition format 0.0.4. What the sink knows (events published, spooled,
 * replayed, dropped; queue depth, spool bytes, Redis up) is read at render
 * time from rd_sink_stats, not counted twice.
 *
 * Serving them is the front end's job (milter/metricsd.c, MetricsListen).
 * Nothing is counted or timed until rd_metrics_enable(true), called by a
 * daemon that serves them (before its first session): without
 * MetricsListen a decision costs one relaxed load. Once on, counting
 * costs a relaxed atomic add, or one mutex for a labelled decision, and
 * timing a callback two clock reads.
 * Threads: every function is safe from any thread.
 */
#ifndef RELAYDIAG_METRICS_H
#define RELAYDIAG_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "relaydiag/buf.h"
#include "relaydiag/sink.h"

enum rd_metric {
	RD_M_DNS_LOOKUPS,
	RD_M_DNS_TIMEOUTS,
	RD_M_HISTORY_LOOKUPS,
	RD_M_HISTORY_LOOKUP_FAILURES, /* Redis did not answer: cache used */
	RD_M_HISTORY_TIMEOUTS,        /* any history call past HistoryTimeout */
	RD_M_SESSIONS_MILTER,
	RD_M_SESSIONS_POLICY,
	RD_M_LOG_LINES,
	RD_M__COUNT
};

/* The stages whose time is measured (milter callbacks, policy requests). */
enum rd_stage {
	RD_STAGE_CONNECT,
	RD_STAGE_HELO,
	RD_STAGE_MAIL,
	RD_STAGE_RCPT,
	RD_STAGE_HEADER,
	RD_STAGE_EOM,
	RD_STAGE_ABORT,
	RD_STAGE_CLOSE,
	RD_STAGE_POLICY,
	RD_STAGE__COUNT
};

/* The histogram's upper bounds, in microseconds (then +Inf). */
#define RD_METRICS_BUCKETS 12

void rd_metrics_add(enum rd_metric m, uint64_t n);
static inline void
rd_metrics_inc(enum rd_metric m)
{
	rd_metrics_add(m, 1);
}

/*
 * rd_metrics_decision - one recipient decision. The label values are the
 * engine's own names (catalogue id, severity, MTA verdict, action, front
 * end); a value longer than 63 bytes is cut. Past 1536 distinct label
 * sets, decisions are counted in relaydiag_metrics_overflow_total (as are
 * alerts past 32 ids).
 */
void rd_metrics_decision(const char *diagnosis, const char *severity,
    const char *mta, const char *action, const char *front_end);

/* rd_metrics_alert - one alert raised, by its id ("alert.auth-outage") */
void rd_metrics_alert(const char *id);

/* rd_metrics_enable - whether anything is counted and timed; off at start */
void rd_metrics_enable(bool on);
bool rd_metrics_enabled(void);

/* rd_metrics_now_ns - CLOCK_MONOTONIC in ns, for rd_metrics_observe */
uint64_t rd_metrics_now_ns(void);

/* rd_metrics_observe - a stage took ns nanoseconds */
void rd_metrics_observe(enum rd_stage st, uint64_t ns);

/* What rd_metrics_render reads from elsewhere at scrape time. */
struct rd_metrics_gauges {
	bool have_sink;
	struct rd_sink_stats sink;
	int history_redis_up; /* 1, 0; -1: no history in Redis */
	uint64_t history_writes_dropped;
	uint64_t start_time; /* Unix seconds */
	const char *version;
};

/*
 * rd_metrics_render - every metric, with HELP and TYPE, in the text
 * format, appended to b
 */
void rd_metrics_render(struct rd_buf *b, const struct rd_metrics_gauges *g);

/* rd_metrics_reset - every counter to zero (tests, benchmarks) */
void rd_metrics_reset(void);

#endif

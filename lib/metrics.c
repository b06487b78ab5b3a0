/*
 * metrics.c - the daemon's counters and their Prometheus text (metrics.h).
 *
 * Owns the counters: plain ones (atomic), the decisions by their five
 * labels (a small open-addressed table under one mutex: label values are
 * copied, so no caller's string is kept), the alerts by id, and one
 * latency histogram per stage (atomic buckets). Rendering reads them
 * without stopping the writers: a scrape sees each counter at some moment
 * of the scrape, as Prometheus expects of counters.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relaydiag/hash.h"
#include "relaydiag/metrics.h"

#define MET_LABEL_MAX 64
#define MET_DECISIONS 2048 /* label sets; a power of two */
#define MET_ALERTS 32

static _Atomic uint64_t met_counters[RD_M__COUNT];
static atomic_bool met_enabled;

struct met_decision {
	char label[5][MET_LABEL_MAX]; /* diagnosis severity mta action fe */
	uint64_t n;
	bool used;
};

static pthread_mutex_t met_lock = PTHREAD_MUTEX_INITIALIZER;
static struct met_decision met_decisions[MET_DECISIONS];
static size_t met_ndecisions;
static uint64_t met_overflow;
static struct {
	char id[MET_LABEL_MAX];
	uint64_t n;
} met_alerts[MET_ALERTS];
static size_t met_nalerts;

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t met_bounds_us[RD_METRICS_BUCKETS] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 100000, 1000000};

struct met_hist {
	_Atomic uint64_t bucket[RD_METRICS_BUCKETS + 1]; /* not cumulative */
	_Atomic uint64_t sum_ns;
};
static struct met_hist met_hist[RD_STAGE__COUNT];

static const char *const met_stage_names[RD_STAGE__COUNT] = {"connect", "helo",
    "mail", "rcpt", "header", "eom", "abort", "close", "policy"};

void
rd_metrics_add(enum rd_metric m, uint64_t n)
{
	if ((unsigned)m < RD_M__COUNT && rd_metrics_enabled())
		atomic_fetch_add_explicit(
		    &met_counters[m], n, memory_order_relaxed);
}

/* met_hash - FNV-1a over the label values */
static size_t
met_hash(const char *const v[5])
{
	uint64_t h = RD_FNV1A_INIT;
	int i;

	for (i = 0; i < 5; i++) {
		h = rd_fnv1a(h, v[i], strlen(v[i]));
		h = rd_fnv1a_byte(h, 0xff); /* "ab","c" is not "a","bc" */
	}
	return ((size_t)h);
}

/* met_same - whether slot d holds the (cut) label values v */
static bool
met_same(const struct met_decision *d, const char *const v[5])
{
	int i;

	for (i = 0; i < 5; i++)
		if (strncmp(d->label[i], v[i], MET_LABEL_MAX - 1) != 0)
			return (false);
	return (true);
}

void
rd_metrics_decision(const char *diagnosis, const char *severity,
    const char *mta, const char *action, const char *front_end)
{
	const char *v[5];
	struct met_decision *d;
	char cut[5][MET_LABEL_MAX];
	size_t i, probe;
	int k;

	if (!rd_metrics_enabled())
		return; /* nobody reads them: no copies, no mutex */
	v[0] = diagnosis;
	v[1] = severity;
	v[2] = mta;
	v[3] = action;
	v[4] = front_end;
	/* The key is what is stored: values cut to the slot's size. */
	for (k = 0; k < 5; k++) {
		(void)snprintf(
		    cut[k], sizeof(cut[k]), "%s", v[k] != NULL ? v[k] : "");
		v[k] = cut[k];
	}
	i = met_hash(v) & (MET_DECISIONS - 1);
	pthread_mutex_lock(&met_lock);
	for (probe = 0; probe < MET_DECISIONS; probe++) {
		d = &met_decisions[(i + probe) & (MET_DECISIONS - 1)];
		if (d->used && met_same(d, v)) {
			d->n++;
			pthread_mutex_unlock(&met_lock);
			return;
		}
		if (!d->used)
			break;
	}
	/* A new label set; the table is kept at most 3/4 full. */
	if (probe == MET_DECISIONS || met_ndecisions >= MET_DECISIONS / 4 * 3) {
		met_overflow++;
		pthread_mutex_unlock(&met_lock);
		return;
	}
	memcpy(d->label, cut, sizeof(d->label));
	d->used = true;
	d->n = 1;
	met_ndecisions++;
	pthread_mutex_unlock(&met_lock);
}

void
rd_metrics_alert(const char *id)
{
	size_t i;

	if (id == NULL || !rd_metrics_enabled())
		return;
	pthread_mutex_lock(&met_lock);
	for (i = 0; i < met_nalerts; i++)
		if (strncmp(met_alerts[i].id, id, MET_LABEL_MAX - 1) == 0)
			break;
	if (i == met_nalerts && met_nalerts < MET_ALERTS) {
		(void)snprintf(
		    met_alerts[i].id, sizeof(met_alerts[i].id), "%s", id);
		met_nalerts++;
	}
	if (i < met_nalerts)
		met_alerts[i].n++;
	else
		met_overflow++;
	pthread_mutex_unlock(&met_lock);
}

void
rd_metrics_enable(bool on)
{
	atomic_store(&met_enabled, on);
}

bool
rd_metrics_enabled(void)
{
	return (atomic_load_explicit(&met_enabled, memory_order_relaxed));
}

uint64_t
rd_metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

void
rd_metrics_observe(enum rd_stage st, uint64_t ns)
{
	struct met_hist *h;
	uint64_t us = ns / 1000;
	size_t b;

	if ((unsigned)st >= RD_STAGE__COUNT)
		return;
	h = &met_hist[st];
	for (b = 0; b < RD_METRICS_BUCKETS && us >= met_bounds_us[b]; b++)
		;
	/* "le" is inclusive: exactly on a bound is in that bucket. */
	if (b < RD_METRICS_BUCKETS && b > 0 && us == met_bounds_us[b - 1] &&
	    ns % 1000 == 0)
		b--;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void
rd_metrics_reset(void)
{
	size_t i, b;

	for (i = 0; i < RD_M__COUNT; i++)
		atomic_store(&met_counters[i], 0);
	for (i = 0; i < RD_STAGE__COUNT; i++) {
		for (b = 0; b <= RD_METRICS_BUCKETS; b++)
			atomic_store(&met_hist[i].bucket[b], 0);
		atomic_store(&met_hist[i].sum_ns, 0);
	}
	pthread_mutex_lock(&met_lock);
	memset(met_decisions, 0, sizeof(met_decisions));
	met_ndecisions = 0;
	met_overflow = 0;
	memset(met_alerts, 0, sizeof(met_alerts));
	met_nalerts = 0;
	pthread_mutex_unlock(&met_lock);
}

/* ------------------------------------------------------------ render -- */

/* met_label - a label value as the text format quotes it */
static void
met_label(struct rd_buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			rd_buf_printf(b, "\\%c", *p);
		else if (*p == '\n')
			rd_buf_adds(b, "\\n");
		else if (*p < 0x20 || *p >= 0x7f)
			rd_buf_addc(b, '?'); /* our own names are ASCII */
		else
			rd_buf_addc(b, (char)*p);
	}
}

static void
met_head(struct rd_buf *b, const char *name, const char *type, const char *help)
{
	rd_buf_printf(
	    b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
met_one(struct rd_buf *b, const char *name, const char *type, const char *help,
    uint64_t v)
{
	met_head(b, name, type, help);
	rd_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static uint64_t
met_get(enum rd_metric m)
{
	return (atomic_load_explicit(&met_counters[m], memory_order_relaxed));
}

static void
met_render_decisions(struct rd_buf *b)
{
	static const char *const names[5] = {
	    "diagnosis", "severity", "mta", "action", "front_end"};
	size_t i, n = 0;
	int k;

	met_head(b, "relaydiag_decisions_total", "counter",
	    "Recipient decisions, by diagnosis id, severity, the MTA's "
	    "verdict, relaydiag's action and front end.");
	pthread_mutex_lock(&met_lock);
	for (i = 0; i < MET_DECISIONS; i++) {
		if (!met_decisions[i].used)
			continue;
		rd_buf_adds(b, "relaydiag_decisions_total{");
		for (k = 0; k < 5; k++) {
			rd_buf_printf(b, "%s%s=\"", k ? "," : "", names[k]);
			met_label(b, met_decisions[i].label[k]);
			rd_buf_addc(b, '"');
		}
		rd_buf_printf(
		    b, "} %llu\n", (unsigned long long)met_decisions[i].n);
		n++;
	}
	met_head(b, "relaydiag_alerts_total", "counter",
	    "Alerts raised, by alert id.");
	for (i = 0; i < met_nalerts; i++) {
		rd_buf_adds(b, "relaydiag_alerts_total{alert=\"");
		met_label(b, met_alerts[i].id);
		rd_buf_printf(
		    b, "\"} %llu\n", (unsigned long long)met_alerts[i].n);
	}
	met_one(b, "relaydiag_metrics_overflow_total", "counter",
	    "Decisions or alerts not counted by label: too many label sets.",
	    met_overflow);
	pthread_mutex_unlock(&met_lock);
	(void)n;
}

static void
met_render_hist(struct rd_buf *b)
{
	size_t s, k;
	uint64_t cum, v;

	met_head(b, "relaydiag_callback_duration_seconds", "histogram",
	    "Time spent in relaydiag per milter callback or policy request.");
	for (s = 0; s < RD_STAGE__COUNT; s++) {
		cum = 0;
		for (k = 0; k <= RD_METRICS_BUCKETS; k++) {
			v = atomic_load_explicit(
			    &met_hist[s].bucket[k], memory_order_relaxed);
			cum += v;
			if (k < RD_METRICS_BUCKETS)
				rd_buf_printf(b,
				    "relaydiag_callback_duration_seconds_"
				    "bucket{stage=\"%s\",le=\"%g\"} %llu\n",
				    met_stage_names[s],
				    (double)met_bounds_us[k] / 1e6,
				    (unsigned long long)cum);
			else
				rd_buf_printf(b,
				    "relaydiag_callback_duration_seconds_"
				    "bucket{stage=\"%s\",le=\"+Inf\"} %llu\n",
				    met_stage_names[s],
				    (unsigned long long)cum);
		}
		v = atomic_load_explicit(
		    &met_hist[s].sum_ns, memory_order_relaxed);
		rd_buf_printf(b,
		    "relaydiag_callback_duration_seconds_sum{stage=\"%s\"} "
		    "%.9f\n",
		    met_stage_names[s], (double)v / 1e9);
		rd_buf_printf(b,
		    "relaydiag_callback_duration_seconds_count{stage=\"%s\"} "
		    "%llu\n",
		    met_stage_names[s], (unsigned long long)cum);
	}
}

static void
met_render_sink(struct rd_buf *b, const struct rd_sink_stats *st)
{
	met_one(b, "relaydiag_events_emitted_total", "counter",
	    "Events handed to the sink.", st->emitted);
	met_one(b, "relaydiag_events_published_total", "counter",
	    "Events written to the file or accepted by Redis.", st->delivered);
	met_one(b, "relaydiag_events_spooled_total", "counter",
	    "Events written to the spool while Redis was away.", st->spooled);
	met_one(b, "relaydiag_events_replayed_total", "counter",
	    "Events sent from the spool once Redis was back.", st->replayed);
	met_one(b, "relaydiag_events_dropped_total", "counter",
	    "Events lost (spool full, write error, no spool).", st->dropped);
	met_one(b, "relaydiag_event_queue_depth", "gauge",
	    "Events waiting in memory for the publisher.", st->queue_depth);
	met_one(b, "relaydiag_spool_pending_events", "gauge",
	    "Events in the spool, not yet sent.", st->spool_pending);
	met_one(b, "relaydiag_spool_bytes", "gauge",
	    "Size of the spool's segments on disk.", st->spool_bytes);
	if (st->redis_up >= 0)
		met_one(b, "relaydiag_redis_up", "gauge",
		    "Whether the event stream's Redis answers (1) or not (0).",
		    (uint64_t)st->redis_up);
}

void
rd_metrics_render(struct rd_buf *b, const struct rd_metrics_gauges *g)
{
	met_head(b, "relaydiag_build_info", "gauge",
	    "relaydiag's version, always 1.");
	rd_buf_adds(b, "relaydiag_build_info{version=\"");
	met_label(b, g != NULL && g->version != NULL ? g->version : "");
	rd_buf_adds(b, "\"} 1\n");
	if (g != NULL && g->start_time > 0)
		met_one(b, "relaydiag_start_time_seconds", "gauge",
		    "When the daemon started, in Unix seconds.", g->start_time);
	met_render_decisions(b);
	met_head(b, "relaydiag_sessions_total", "counter",
	    "SMTP sessions (milter) and policy requests seen.");
	rd_buf_printf(b,
	    "relaydiag_sessions_total{front_end=\"milter\"} %llu\n"
	    "relaydiag_sessions_total{front_end=\"policy\"} %llu\n",
	    (unsigned long long)met_get(RD_M_SESSIONS_MILTER),
	    (unsigned long long)met_get(RD_M_SESSIONS_POLICY));
	met_one(b, "relaydiag_log_lines_total", "counter",
	    "Lines the log front end read.", met_get(RD_M_LOG_LINES));
	met_one(b, "relaydiag_dns_lookups_total", "counter", "MX lookups made.",
	    met_get(RD_M_DNS_LOOKUPS));
	met_one(b, "relaydiag_dns_timeouts_total", "counter",
	    "MX lookups given up at DnsTimeout.", met_get(RD_M_DNS_TIMEOUTS));
	met_one(b, "relaydiag_history_lookups_total", "counter",
	    "History lookups for a refused recipient.",
	    met_get(RD_M_HISTORY_LOOKUPS));
	met_one(b, "relaydiag_history_lookup_failures_total", "counter",
	    "History lookups Redis did not answer (the local cache did).",
	    met_get(RD_M_HISTORY_LOOKUP_FAILURES));
	met_one(b, "relaydiag_history_timeouts_total", "counter",
	    "History calls to Redis past HistoryTimeout.",
	    met_get(RD_M_HISTORY_TIMEOUTS));
	if (g != NULL && g->history_redis_up >= 0) {
		met_one(b, "relaydiag_history_redis_up", "gauge",
		    "Whether the history's Redis answers (1) or not (0).",
		    (uint64_t)g->history_redis_up);
		met_one(b, "relaydiag_history_writes_dropped_total", "counter",
		    "History records not written: queue full or Redis down.",
		    g->history_writes_dropped);
	}
	if (g != NULL && g->have_sink)
		met_render_sink(b, &g->sink);
	met_render_hist(b);
}

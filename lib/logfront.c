/*
 * logfront.c - the log front end's engine (logfront.h): a parsed log line
 * into its events. Owns the decisions that only the log can make (the
 * outbound ids, the failed AUTH records and the two alerts they feed);
 * everything a recipient refusal means is the session's (session.c), as
 * for the milter and the policy service.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "relaydiag/metrics.h"
#include "relaydiag/addr.h"
#include "relaydiag/buf.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/event.h"
#include "relaydiag/ids.h"
#include "relaydiag/log.h"
#include "relaydiag/logfront.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/rules.h"
#include "relaydiag/session.h"
#include "relaydiag/text.h"

/* One event of its own (a delivery, an AUTH failure, an alert). */
struct lf_event {
	struct rd_event_common c;
	struct timespec now;
	char sid[RD_SID_LEN + 1];
	char eid[RD_EID_MAX];
};

static void
lf_common(const struct rd_config *cfg, struct lf_event *e, const char *type,
    const struct rd_logrec *r)
{
	memset(e, 0, sizeof(*e));
	clock_gettime(CLOCK_REALTIME, &e->now);
	rd_id_session(e->sid);
	rd_id_event(e->eid, e->sid, 1);
	e->c.type = type;
	e->c.id = e->eid;
	e->c.ts = &e->now;
	e->c.host = cfg->host_name;
	e->c.session = e->sid;
	e->c.queue_id = r->queue_id;
	e->c.client_ip = r->client_ip;
	e->c.client_port = r->client_port;
	e->c.client_name = r->client_name;
	e->c.helo = r->helo[0] != '\0' ? r->helo : NULL;
	/* the listener, when the line names it (Exim's I=) */
	e->c.server_port = r->daemon_port;
	e->c.submission = r->daemon_port != 0 &&
			  rd_config_is_submission_port(cfg, r->daemon_port);
	e->c.action = "none";
	e->c.front_end = "log";
}

static void
lf_emit(struct rd_sink *sink, const char *type, char *json)
{
	if (json == NULL) {
		rd_log(LOG_WARNING, NULL,
		    "log: event type=%s lost: out of memory", type);
		return;
	}
	rd_sink_emit_take(sink, type, json);
}

static const char *
lf_mta(unsigned format)
{
	return (format == RD_LOGFMT_EXIM       ? "exim"
		: format == RD_LOGFMT_SENDMAIL ? "sendmail"
					       : "postfix");
}

/* lf_pseudo - s, or its pseudonym under HashPersonalData */
static const char *
lf_pseudo(const struct rd_config *cfg, const char *s, char out[RD_PSEUDO_LEN])
{
	struct rd_pseudo_key key;
	bool keyed;

	if (!cfg->hash_personal || s == NULL || *s == '\0')
		return (s);
	keyed = rd_pseudo_current(&key);
	rd_pseudo_hash(keyed ? &key : NULL, s, out);
	explicit_bzero(&key, sizeof(key));
	return (out);
}

/* lf_alert - an alert event (alert.auth-outage, alert.outbound-refusals) */
static void
lf_alert(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    const char *id, const char *metric, unsigned window, unsigned limit,
    unsigned observed)
{
	struct rd_event_alert a;
	struct rd_diagnosis d;
	struct rd_facts f;
	struct lf_event e;

	memset(&f, 0, sizeof(f));
	f.templates = sv->cfg->templates;
	if (rd_diagnose_fill(id, &f, &d) != 0)
		return;
	lf_common(sv->cfg, &e, "alert", r);
	/* about many clients: none of the last one's details */
	e.c.client_ip = NULL;
	e.c.client_port = 0;
	e.c.client_name = NULL;
	e.c.helo = NULL;
	e.c.server_port = 0;
	e.c.submission = false;
	memset(&a, 0, sizeof(a));
	a.diag = &d;
	a.window_s = window;
	a.metric = metric;
	a.limit = limit;
	a.observed = observed;
	lf_emit(sv->sink, "alert", rd_event_alert_json(&e.c, &a));
	rd_metrics_alert(id);
	rd_log(id[6] == 'a' ? LOG_CRIT : LOG_WARNING, NULL,
	    "alert=%s %s=%u window=%us", id, metric, observed, window);
}

/* lf_is_relayhost - the remote server is one of RelayHosts */
static bool
lf_is_relayhost(const struct rd_config *cfg, const struct rd_logrec *r)
{
	return ((r->relay_ip[0] != '\0' &&
		    rd_netset_match(cfg->relay_host_ips, r->relay_ip)) ||
		(r->relay_host[0] != '\0' &&
		    rd_domainset_match(cfg->relay_host_names, r->relay_host)));
}

/*
 * lf_remote_check - whether the server that refused is the domain's MX:
 * the sentence that says whose configuration is wrong
 */
static void
lf_remote_check(const struct rd_logfront_services *sv, const char *domain,
    const struct rd_logrec *r, char *out, size_t len)
{
	const char *host =
	    r->relay_host[0] != '\0' ? r->relay_host : r->relay_ip;
	char mx[256], safe_host[256], safe_mx[256];
	enum rd_mx_answer a = RD_MX_UNKNOWN;
	struct rd_buf b;

	if (sv->dns != NULL && domain != NULL)
		a = rd_dns_mx_has(sv->dns, domain, host, mx, sizeof(mx));
	else
		mx[0] = '\0';
	(void)rd_text_log_str(safe_host, sizeof(safe_host), host);
	(void)rd_text_log_str(safe_mx, sizeof(safe_mx), mx);
	rd_buf_init(&b);
	switch (a) {
	case RD_MX_HERE:
		rd_buf_printf(&b,
		    "%s is an MX of %s: the recipient's own server refuses its "
		    "domain, so their configuration is wrong (the domain is "
		    "missing from their local or relay domains, as after a "
		    "migration); tell their administrator.",
		    safe_host, domain);
		break;
	case RD_MX_ELSEWHERE:
		rd_buf_printf(&b,
		    "%s is not an MX of %s (its MX: %s): our routing sent the "
		    "mail to the wrong server; check transport_maps, relayhost "
		    "and stale DNS.",
		    safe_host, domain, safe_mx);
		break;
	case RD_MX_NONE:
		rd_buf_printf(&b,
		    "%s has no MX: the mail went to %s by our routing "
		    "(transport_maps, relayhost); check it.",
		    domain != NULL ? domain : "the domain", safe_host);
		break;
	case RD_MX_UNKNOWN:
		rd_buf_printf(&b,
		    "Whether %s is an MX of %s was not checked (MXCheck off, "
		    "or "
		    "no answer in time): if it is, their configuration is "
		    "wrong; if not, our routing (transport_maps, relayhost, "
		    "stale DNS).",
		    safe_host, domain != NULL ? domain : "the domain");
		break;
	}
	/* Cut to the diagnosis' slot: the sentence names two hosts. */
	(void)rd_strlcpy(out, b.data != NULL ? b.data : "", len);
	rd_buf_free(&b);
}

/* lf_delivery - a remote server refused one of our deliveries */
static void
lf_delivery(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    time_t now)
{
	const struct rd_config *cfg = sv->cfg;
	struct rd_event_delivery ed;
	struct rd_mta_result mta;
	struct rd_diagnosis d;
	struct rd_facts f;
	struct lf_event e;
	struct rd_addr a;
	struct rd_err err;
	const char *id, *domain = NULL, *at;
	char relay[400], check[RD_DIAG_TEXT_MAX], hrcpt[RD_PSEUDO_LEN];
	unsigned distinct;

	if (rd_addr_parse(r->rcpt, &a, &err) == 0 && a.has_domain)
		domain = a.domain;
	else if ((at = strrchr(r->rcpt, '@')) != NULL)
		domain = at + 1;
	memset(&mta, 0, sizeof(mta));
	mta.verdict = r->code[0] == '4' ? RD_MTA_TEMPFAIL : RD_MTA_REJECT;
	(void)rd_strlcpy(mta.code, r->code, sizeof(mta.code));
	(void)rd_strlcpy(mta.dsn, r->dsn, sizeof(mta.dsn));
	(void)rd_strlcpy(mta.text, r->text, sizeof(mta.text));
	memset(&f, 0, sizeof(f));
	f.rcpt = lf_pseudo(cfg, r->rcpt, hrcpt);
	f.rcpt_domain = domain;
	f.mta = &mta;
	f.templates = cfg->templates;
	if (r->relay_port != 0)
		snprintf(relay, sizeof(relay), "%s[%s]:%u", r->relay_host,
		    r->relay_ip, r->relay_port);
	else
		snprintf(
		    relay, sizeof(relay), "%s[%s]", r->relay_host, r->relay_ip);
	f.relay_host = relay;
	id = rd_rules_match(cfg->rules, r->text);
	if (id != NULL && strcmp(id, "relay") == 0) {
		if (lf_is_relayhost(cfg, r))
			id = "remote.relayhost-auth";
		else {
			lf_remote_check(sv, domain, r, check, sizeof(check));
			f.remote_check = check;
			id = "remote.relay-denied";
		}
	} else
		id = NULL;
	if (id != NULL && rd_diagnose_fill(id, &f, &d) != 0)
		id = NULL;
	lf_common(cfg, &e, "delivery", r);
	memset(&ed, 0, sizeof(ed));
	ed.rcpt = f.rcpt;
	ed.rcpt_domain = domain;
	ed.status = r->status;
	ed.relay_host = r->relay_host;
	ed.relay_ip = r->relay_ip;
	ed.relay_port = r->relay_port;
	ed.code = r->code;
	ed.dsn = r->dsn;
	ed.text = r->text;
	ed.in_reply_to_rcpt = r->in_reply_to_rcpt;
	ed.mta = lf_mta(r->format);
	ed.diag = id != NULL ? &d : NULL;
	lf_emit(sv->sink, "delivery", rd_event_delivery_json(&e.c, &ed));
	if (id != NULL) {
		char safe_rcpt[RD_ADDR_PATH_MAX], safe_relay[400];

		rd_log(LOG_NOTICE, e.sid,
		    "delivery rcpt=%s relay=%s status=%s diagnosis=%s",
		    rd_text_log_str(safe_rcpt, sizeof(safe_rcpt), f.rcpt),
		    rd_text_log_str(safe_relay, sizeof(safe_relay), relay),
		    r->status, id);
	}
	if (domain != NULL &&
	    rd_recent_note(sv->outbound, domain, domain, now,
		cfg->outbound_window, cfg->outbound_domains, &distinct))
		lf_alert(sv, r, "alert.outbound-refusals",
		    "refusing_remote_domains", cfg->outbound_window,
		    cfg->outbound_domains, distinct);
}

/*
 * lf_auth_down - the MTA says its authentication service cannot be
 * reached: alert.auth-outage at once (no count needed), once per
 * OutageWindow with the alerts from failing logins
 */
static void
lf_auth_down(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    time_t now)
{
	char safe[sizeof(r->text)];

	if (!rd_recent_alert_gate(sv->authfails, now, sv->cfg->outage_window))
		return;
	rd_log(LOG_CRIT, NULL,
	    "log: %s cannot reach its authentication "
	    "service: %s",
	    lf_mta(r->format), rd_text_log_str(safe, sizeof(safe), r->text));
	lf_alert(sv, r, "alert.auth-outage", "auth_service_unreachable",
	    sv->cfg->outage_window, 1, 1);
}

/* lf_auth_service_failed - a failed AUTH that the service's absence
   caused: a temporary (4xx) refusal, or a connection to it lost */
static bool
lf_auth_service_failed(const struct rd_logrec *r)
{
	return (r->code[0] == '4' ||
		strstr(r->text, "Connection lost to authentication server") !=
		    NULL ||
		strstr(r->text, "failed to connect to socket") != NULL);
}

/* lf_auth - a client failed SMTP AUTH */
static void
lf_auth(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    time_t now)
{
	const struct rd_config *cfg = sv->cfg;
	struct rd_event_auth ea;
	struct lf_event e;
	char huser[RD_PSEUDO_LEN];
	unsigned distinct;

	if (r->client_ip[0] == '\0')
		return;
	lf_common(cfg, &e, "auth", r);
	memset(&ea, 0, sizeof(ea));
	ea.mech = r->mech;
	ea.user = r->user[0] != '\0' ? lf_pseudo(cfg, r->user, huser) : NULL;
	ea.reason = r->text;
	ea.mta = lf_mta(r->format);
	lf_emit(sv->sink, "auth", rd_event_auth_json(&e.c, &ea));
	if (lf_auth_service_failed(r))
		lf_auth_down(sv, r, now);
	/* The cut of a login would match another: not noted (recent.c). */
	if (rd_recent_note(sv->authfails, r->client_ip, r->cut ? "" : r->user,
		now, cfg->outage_window, cfg->outage_senders, &distinct))
		lf_alert(sv, r, "alert.auth-outage",
		    "auth_failures_distinct_logins", cfg->outage_window,
		    cfg->outage_senders, distinct);
}

/*
 * lf_rcpt_emit - a recipient refusal the MTA logged: one short session,
 * with what the milter saw of the same transaction (seen; NULL: nothing)
 */
static void
lf_rcpt_emit(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    const struct rd_seen_info *joinp)
{
	static const struct rd_seen_info none;
	const struct rd_seen_info seen = joinp != NULL ? *joinp : none;
	struct rd_tls_info tls;
	bool joined = joinp != NULL;
	char sender[sizeof(((struct rd_seen_info *)0)->sender) + 3];
	char rcpt[sizeof(r->rcpt) + 3];
	char host[32];
	struct rd_conn_info ci;
	struct rd_mail_info mi;
	struct rd_rcpt_info ri;
	struct rd_verdict v;
	struct rd_session *s;

	if ((s = rd_session_new(sv->cfg, sv->sink)) == NULL)
		return;
	rd_session_set_front_end(s, "log");
	rd_session_use(s, sv->history, sv->dns);
	rd_session_use_authfails(s, sv->authfails, sv->cfg->authfail_window);
	memset(&ci, 0, sizeof(ci));
	ci.client_ip = r->client_ip;
	ci.client_port = joined ? seen.client_port : r->client_port;
	ci.client_name = joined ? seen.client_name : r->client_name;
	ci.daemon_addr = joined                    ? seen.daemon_addr
			 : r->daemon_ip[0] != '\0' ? r->daemon_ip
						   : NULL;
	ci.daemon_port = joined ? seen.daemon_port : r->daemon_port;
	rd_session_connect(s, &ci);
	memset(&tls, 0, sizeof(tls));
	tls.version = joined ? seen.tls_version : NULL;
	if (joined && seen.helo[0] != '\0')
		rd_session_helo(s, seen.helo, &tls);
	else if (r->helo[0] != '\0')
		rd_session_helo(s, r->helo, NULL);
	/* Sendmail's check_rcpt line names no sender: none is claimed,
	   unless the milter saw the transaction. */
	if (joined || r->format != RD_LOGFMT_SENDMAIL) {
		memset(&mi, 0, sizeof(mi));
		snprintf(sender, sizeof(sender), "<%s>",
		    joined ? seen.sender : r->sender);
		mi.sender = sender;
		mi.queue_id = r->queue_id;
		mi.auth_authen = joined ? seen.auth_user : NULL;
		mi.tls = tls;
		rd_session_mail(s, &mi);
	}
	memset(&ri, 0, sizeof(ri));
	snprintf(rcpt, sizeof(rcpt), "<%s>", r->rcpt);
	/* Exim logs no code: its RCPT refusals are 550 by default. */
	snprintf(host, sizeof(host), "%s %s",
	    r->code[0] != '\0' ? r->code : "550", r->dsn);
	ri.rcpt = rcpt;
	ri.mailer = "error";
	ri.host = host;
	ri.addr = r->text;
	ri.queue_id = r->queue_id;
	rd_session_rcpt(s, &ri, &v);
	rd_session_close(s);
	rd_session_free(s);
}

/* lf_join - what the milter noted of r's transaction, the same client */
static bool
lf_join(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    time_t now, struct rd_seen_info *seen)
{
	return (rd_seen_find(sv->seen, r->queue_id, now, seen) &&
		strcmp(seen->client_ip, r->client_ip) == 0);
}

struct lf_waiting {
	struct rd_logrec r;
	time_t until;
};

struct rd_logwait {
	pthread_mutex_t lock;
	struct lf_waiting *v; /* a ring: oldest at head */
	size_t cap, head, n;
};

struct rd_logwait *
rd_logwait_new(size_t cap)
{
	struct rd_logwait *w;

	if (cap == 0 || (w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	if ((w->v = calloc(cap, sizeof(*w->v))) == NULL) {
		free(w);
		return (NULL);
	}
	w->cap = cap;
	pthread_mutex_init(&w->lock, NULL);
	return (w);
}

void
rd_logwait_free(struct rd_logwait *w)
{
	if (w == NULL)
		return;
	pthread_mutex_destroy(&w->lock);
	free(w->v);
	free(w);
}

/*
 * lf_rcpt - a recipient refusal: joined now, or (a queue id the milter
 * has not noted yet) left to wait for rd_logfront_tick, or out unjoined
 */
static void
lf_rcpt(const struct rd_logfront_services *sv, const struct rd_logrec *r,
    time_t now)
{
	struct rd_seen_info seen;
	struct lf_waiting out;
	struct rd_logwait *w = sv->wait;
	bool evict = false;

	/* With a milter attached, Postfix's refusals are the milter's. */
	if (r->format == RD_LOGFMT_POSTFIX && !sv->cfg->log_rejects)
		return;
	if (r->cut || r->client_ip[0] == '\0' || r->rcpt[0] == '\0')
		return;
	if (lf_join(sv, r, now, &seen)) {
		lf_rcpt_emit(sv, r, &seen);
		return;
	}
	if (w == NULL || sv->seen == NULL || r->queue_id[0] == '\0') {
		lf_rcpt_emit(sv, r, NULL);
		return;
	}
	pthread_mutex_lock(&w->lock);
	if (w->n == w->cap) { /* full: the oldest goes out as it is */
		out = w->v[w->head];
		w->head = (w->head + 1) % w->cap;
		w->n--;
		evict = true;
	}
	w->v[(w->head + w->n) % w->cap].r = *r;
	w->v[(w->head + w->n) % w->cap].until = now + RD_LOGFRONT_JOIN_WAIT;
	w->n++;
	pthread_mutex_unlock(&w->lock);
	if (evict)
		lf_rcpt_emit(
		    sv, &out.r, lf_join(sv, &out.r, now, &seen) ? &seen : NULL);
}

void
rd_logfront_tick(const struct rd_logfront_services *sv, time_t now, bool flush)
{
	struct rd_logwait *w = sv->wait;
	struct rd_seen_info seen;
	struct lf_waiting cur;
	size_t i, n;
	bool joined;

	if (w == NULL)
		return;
	/* Each waiting one once: taken out, then emitted or put back (the
	   lock is not held while an event is built). */
	pthread_mutex_lock(&w->lock);
	n = w->n;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < n; i++) {
		pthread_mutex_lock(&w->lock);
		if (w->n == 0) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		cur = w->v[w->head];
		w->head = (w->head + 1) % w->cap;
		w->n--;
		pthread_mutex_unlock(&w->lock);
		joined = lf_join(sv, &cur.r, now, &seen);
		if (joined || flush || now >= cur.until) {
			rd_log(LOG_DEBUG, NULL, "log: refusal of %s: %s",
			    cur.r.queue_id,
			    joined ? "joined after a wait"
				   : "no milter transaction: out unjoined");
			lf_rcpt_emit(sv, &cur.r, joined ? &seen : NULL);
			continue;
		}
		pthread_mutex_lock(&w->lock);
		if (w->n < w->cap) {
			w->v[(w->head + w->n) % w->cap] = cur;
			w->n++;
			pthread_mutex_unlock(&w->lock);
		} else {
			pthread_mutex_unlock(&w->lock);
			lf_rcpt_emit(sv, &cur.r, NULL);
		}
	}
}

void
rd_logfront_handle(const struct rd_logfront_services *sv,
    const struct rd_logrec *r, time_t now)
{
	rd_metrics_inc(RD_M_LOG_LINES);
	switch (r->kind) {
	case RD_LOG_DELIVERY:
		lf_delivery(sv, r, now);
		break;
	case RD_LOG_AUTH_FAIL:
		lf_auth(sv, r, now);
		break;
	case RD_LOG_RCPT_REJECT:
		lf_rcpt(sv, r, now);
		break;
	case RD_LOG_AUTH_DOWN:
		lf_auth_down(sv, r, now);
		break;
	case RD_LOG_VERIFY_FAIL: /* the refusal that follows names it */
	case RD_LOG_OTHER:
		break;
	}
}

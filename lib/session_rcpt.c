/*
 * session_rcpt.c - one recipient, in one pass: its address, the facts
 * (the class and authorization, the MTA's decision, what DNS and history
 * add), one diagnosis, the verdict (action and reply), the rcpt event and
 * log line; then the alerts that the refusal completed; and the
 * recipients the MTA refused that wait for a later call (sess_rcpt_defer).
 * The connection and the message around it are session.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include "relaydiag/metrics.h"
#include "relaydiag/addr.h"
#include "relaydiag/classify.h"
#include "relaydiag/event.h"
#include "relaydiag/log.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/reply.h"
#include "relaydiag/session.h"
#include "relaydiag/text.h"

#include "session_int.h"

/*
 * sess_action - what relaydiag does about a recipient. The MTA's own
 * refusal stands (our reply would be ignored: postfix-notes.md). As the
 * relay gate (RelayGate, deployment 2) or in enforce mode, an unauthorized
 * relay the MTA let through is refused with the explanation, and with
 * RelayGate no Action can weaken that: the MTA relies on us. Otherwise a
 * per-id Action beats the mode; annotate and enforce add the header.
 */
static enum rd_action
sess_action(const struct rd_session *s, const struct rd_mta_result *m,
    const struct rd_diagnosis *d)
{
	int a;

	if (m->verdict != RD_MTA_ACCEPT)
		return (RD_ACTION_NONE);
	a = rd_config_action(s->cfg, d->entry->id);
	if (d->unauthorized_relay && s->cfg->relay_gate)
		return (a == RD_ACTION_TEMPFAIL ? RD_ACTION_TEMPFAIL
						: RD_ACTION_REJECT);
	if (a >= 0)
		return ((enum rd_action)a);
	if (d->unauthorized_relay && s->cfg->mode == RD_MODE_ENFORCE)
		return (RD_ACTION_REJECT);
	return (s->cfg->mode != RD_MODE_OBSERVE ? RD_ACTION_HEADER
						: RD_ACTION_NONE);
}

/* sess_alerts - the alert events the last refusal completed */
static void
sess_alerts(struct rd_session *s, const struct rd_history_alerts *al,
    const struct rd_facts *f)
{
	struct rd_event_common c;
	struct rd_event_alert a;
	struct rd_diagnosis d;
	struct sess_hashed h;
	struct timespec now;
	char eid[RD_EID_MAX];
	char safe_ip[4 * 64];
	const char *senders[5], *clients[1];
	unsigned i;

	clock_gettime(CLOCK_REALTIME, &now);
	clients[0] = s->client_ip;
	f = sess_event_facts(s, f, &h);
	if (al->auth_outage &&
	    rd_diagnose_fill("alert.auth-outage", f, &d) == 0) {
		sess_common(s, &c, "alert", eid, &now);
		memset(&a, 0, sizeof(a));
		for (i = 0; i < al->outage_nsample && i < 5; i++)
			/* History holds pseudonyms already when hashing. */
			senders[i] = al->outage_sample[i];
		a.diag = &d;
		a.window_s = s->cfg->outage_window;
		a.metric = "refused_senders_with_sasl_history";
		a.limit = s->cfg->outage_senders;
		a.observed = al->outage_senders;
		a.senders = senders;
		a.nsenders = i;
		a.clients = clients;
		a.nclients = 1;
		sess_emit(s, "alert", rd_event_alert_json(&c, &a));
		rd_metrics_alert("alert.auth-outage");
		rd_log(LOG_CRIT, s->sid,
		    "alert=alert.auth-outage senders=%u "
		    "window=%us: many senders that used to log in are refused; "
		    "check the authentication service",
		    al->outage_senders, s->cfg->outage_window);
	}
	if (al->relay_probe &&
	    rd_diagnose_fill("alert.relay-probe", f, &d) == 0) {
		sess_common(s, &c, "alert", eid, &now);
		memset(&a, 0, sizeof(a));
		a.diag = &d;
		a.window_s = s->cfg->probe_window;
		a.metric = "refused_relay_attempts";
		a.limit = s->cfg->alert_probe_attempts;
		a.observed = al->probe_attempts;
		a.clients = clients;
		a.nclients = 1;
		sess_emit(s, "alert", rd_event_alert_json(&c, &a));
		rd_metrics_alert("alert.relay-probe");
		/* From {client_addr} when the MTA gave no address: escape. */
		rd_log(LOG_WARNING, s->sid,
		    "alert=alert.relay-probe client=%s "
		    "attempts=%u window=%us",
		    rd_text_log_str(safe_ip, sizeof(safe_ip), s->client_ip),
		    al->probe_attempts, s->cfg->probe_window);
	}
}

/*
 * sess_history_sender - whose authorization a SASL relay records: the
 * login when it is an address (bob logged in and sent as alice: the
 * authorization is bob's, and alice's history must not say she relayed
 * from bob's address), else the envelope sender.
 */
static const char *
sess_history_sender(const struct rd_session *s, bool sasl)
{
	/*
	 * With HashPersonalData the shared history (Redis) holds pseudonyms
	 * too: they are stable, so the correlation works the same.
	 */
	if (sasl && strchr(s->auth_user, '@') != NULL)
		return (s->hash ? s->auth_user_h : s->auth_user);
	if (s->hash && s->sender[0] != '\0')
		return (s->sender_h);
	return (s->sender);
}

/*
 * sess_gate_agrees - with RelayGate, a domain relaydiag's lists call ours
 * counts as ours only when the MTA routes it to a local transport too
 * ({rcpt_mailer}; Postfix's "relay" for relay_domains). Otherwise the MTA
 * would relay it onward while relaydiag waved it through: the gate must
 * judge it as any other relay. No macro: the lists stand.
 */
static bool
sess_gate_agrees(const struct rd_session *s, const struct rd_rcpt_class *cls,
    const char *mailer)
{
	if (!s->cfg->relay_gate || cls->by != RD_AUTHZ_LOCAL ||
	    cls->source != RD_CLASS_BY_CONFIG || mailer == NULL ||
	    *mailer == '\0' || rd_classify_mta_refused(mailer))
		return (true);
	if (cls->rclass == RD_CLASS_RELAY &&
	    rd_strcasecmp_ascii(mailer, "relay") == 0)
		return (true);
	return (rd_classify_mailer_is_local(mailer));
}

/*
 * sess_correlate - what history and DNS add to the facts of a recipient,
 * and the alerts the refusal completes (raised by the caller, after the
 * recipient's own event); also records authorized relays for later
 * sessions.
 */
static void
sess_correlate(struct rd_session *s, struct rd_facts *f,
    struct rd_history_facts *hf, struct rd_history_alerts *al, char *mx,
    size_t mxlen, char failed_user[RD_RECENT_VALUE_MAX], time_t now)
{
	bool unauth = rd_diagnose_is_unauthorized_relay(f);

	/* The client failed AUTH shortly before (the MTA's log said so). */
	if (unauth && rd_recent_find(s->authfails, s->client_ip, now,
			  s->authfail_window, failed_user)) {
		f->auth_failed = true;
		f->failed_user = failed_user[0] != '\0' ? failed_user : NULL;
	}

	if (s->dns != NULL && s->cfg->mx_check && f->rcpt_domain != NULL &&
	    ((unauth && f->cls.rclass == RD_CLASS_EXTERNAL) ||
		(f->cls.rclass == RD_CLASS_LOCAL &&
		    f->mta->verdict == RD_MTA_ACCEPT))) {
		f->mx = (int)rd_dns_mx(s->dns, f->rcpt_domain, mx, mxlen);
		f->mx_host = mx;
		f->has_mx = true;
	}
	if (s->history == NULL)
		return;
	if (unauth && !(f->has_mx && f->mx == RD_MX_HERE)) {
		rd_history_refused(s->history, sess_history_sender(s, false),
		    s->client_ip, f->rcpt_domain != NULL ? f->rcpt_domain : "",
		    now, hf, al);
		f->has_history = true;
		f->sender_authorized_elsewhere =
		    hf->sender_authorized_elsewhere;
		f->elsewhere_ip = hf->elsewhere_ip;
		f->sender_sasl_here = hf->sender_sasl_here;
		f->sender_authorized_ever = hf->sender_authorized_ever;
		f->client_authorized_ever = hf->client_authorized_ever;
		f->client_refused_domains = hf->client_refused_domains;
	} else if (!unauth && f->mta->verdict == RD_MTA_ACCEPT &&
		   f->cls.rclass == RD_CLASS_EXTERNAL &&
		   (f->cls.by != RD_AUTHZ_LOCAL) && s->sender[0] != '\0')
		/* Authorized: by login, network, or (relay.authorized-mta)
		   a rule of the MTA's own, such as POP-before-SMTP: a later
		   refusal of the sender elsewhere is relay.ip-changed. */
		rd_history_note_authorized(s->history,
		    sess_history_sender(s, f->cls.by == RD_AUTHZ_SASL),
		    s->client_ip, f->cls.by == RD_AUTHZ_SASL, now);
}

/* Everything about one recipient, gathered in one pass. */
struct sess_rcpt {
	struct rd_addr a;
	char raw[1024];            /* an address that did not parse */
	const char *addr, *domain; /* domain NULL: did not parse */
	struct rd_rcpt_class cls;
	struct rd_mta_result mta;
	struct rd_facts f;
	struct rd_history_facts hf;
	struct rd_history_alerts al;
	char mx[256];
	char failed_user[RD_RECENT_VALUE_MAX];
	struct rd_diagnosis d;
	struct rd_event_common c; /* points into now and eid */
	struct timespec now;      /* when the MTA sent the recipient */
	char eid[RD_EID_MAX];
	unsigned cut; /* enum rd_cut: this recipient's own */
};

/* sess_rcpt_address - the recipient's address and domain */
static void
sess_rcpt_address(
    struct rd_session *s, const struct rd_rcpt_info *ri, struct sess_rcpt *r)
{
	char safe[RD_ADDR_PATH_MAX];
	struct rd_err err;
	size_t n;

	if (rd_addr_parse(ri->rcpt, &r->a, &err) == 0) {
		r->addr = r->a.addr;
		r->domain = r->a.domain;
		return;
	}
	/* Unparsable: keep it, less its brackets (the reply adds its own). */
	if (sess_copy(r->raw, sizeof(r->raw), ri->rcpt))
		r->cut |= RD_CUT_RCPT;
	n = strlen(r->raw);
	if (n >= 2 && r->raw[0] == '<' && r->raw[n - 1] == '>') {
		r->raw[n - 1] = '\0';
		memmove(r->raw, r->raw + 1, n - 1);
	}
	r->addr = r->raw;
	r->domain = NULL;
	rd_log(LOG_INFO, s->sid, "rcpt unparsable: %s: %s",
	    rd_text_log_str(safe, sizeof(safe), ri->rcpt), err.text);
}

/*
 * sess_rcpt_facts - the facts: the recipient's class and authorization,
 * the MTA's decision, the session's, then what DNS and history add
 */
static void
sess_rcpt_facts(
    struct rd_session *s, const struct rd_rcpt_info *ri, struct sess_rcpt *r)
{
	struct rd_facts *f = &r->f;
	bool sasl = s->auth_user[0] != '\0';

	rd_classify_rcpt(
	    s->cfg, r->domain, ri->mailer, sasl, s->trusted, &r->cls);
	rd_classify_mta(ri->mailer, ri->host, ri->addr, &r->mta);
	if (!sess_gate_agrees(s, &r->cls, ri->mailer))
		r->cls.by = rd_authz_of_client(sasl, s->trusted);
	f->client_ip = s->client_ip;
	f->client_name = s->client_name;
	f->helo = s->has_helo ? s->helo : NULL;
	f->server_port = s->daemon_port;
	f->submission_port = s->submission;
	f->tls = s->tls_version[0] != '\0';
	f->tls_auth_only = s->tls_auth_only;
	f->sasl_required = s->lis != NULL && s->lis->sasl_required;
	f->listener = s->lis;
	f->relay_gate = s->cfg->relay_gate;
	f->mta_permits = s->table_permits;
	f->trusted = s->trusted;
	f->auth_user = sasl ? s->auth_user : NULL;
	f->sender = s->sender;
	f->sender_domain = s->sender_domain;
	f->sender_local = s->sender_local;
	f->rcpt = r->addr;
	f->rcpt_domain = r->domain;
	f->cls = r->cls;
	f->mta = &r->mta;
	f->rules = s->cfg->rules;
	f->templates = s->cfg->templates;
	f->our_name = s->host;
	f->probe_domains = s->cfg->probe_domains;
	sess_correlate(s, f, &r->hf, &r->al, r->mx, sizeof(r->mx),
	    r->failed_user, r->now.tv_sec);
}

/* sess_rcpt_verdict - what relaydiag does about it, and its reply */
static void
sess_rcpt_verdict(
    struct rd_session *s, struct sess_rcpt *r, struct rd_verdict *v)
{
	sess_common(s, &r->c, "rcpt", r->eid, &r->now);
	r->c.truncated |= r->cut | (r->mta.text_cut ? RD_CUT_MTA_TEXT : 0);
	v->action = sess_action(s, &r->mta, &r->d);
	/*
	 * The policy service answers for the MTA's refusal: it explains an
	 * unauthorized relay, and nothing else (a domain that is ours by our
	 * lists or its MX: the MTA's own refusal stands, DUNNO).
	 */
	if (strcmp(s->front_end, "policy") == 0)
		v->action = r->d.unauthorized_relay &&
				    strcmp(r->d.entry->id,
					"rcpt.domain-not-accepted") != 0
				? RD_ACTION_REJECT
				: RD_ACTION_NONE;
	v->diag_id = r->d.entry->id;
	(void)rd_strlcpy(v->eid, r->eid, sizeof(v->eid)); /* same size */
	if (v->action == RD_ACTION_REJECT || v->action == RD_ACTION_TEMPFAIL)
		rd_reply_build(v, v->action, &r->d, r->addr, r->eid);
	r->c.action = rd_action_name(v->action);
	if (v->action == RD_ACTION_HEADER)
		s->tx_header = true;
}

/*
 * sess_log_who - "QUEUEID: client=name[ip]:port" (or NOQUEUE), the start of
 * a decision's log line as Postfix starts its own, escaped into buf
 */
static const char *
sess_log_who(const struct rd_session *s, char *buf, size_t len)
{
	char name[4 * 64], ip[4 * 64], qid[4 * 64];

	snprintf(buf, len, "%s: client=%s[%s]:%u",
	    s->queue_id[0] != '\0'
		? rd_text_log_word(qid, sizeof(qid), s->queue_id)
		: "NOQUEUE",
	    rd_text_log_word(name, sizeof(name),
		s->client_name[0] != '\0' ? s->client_name : "unknown"),
	    rd_text_log_word(ip, sizeof(ip), s->client_ip), s->client_port);
	return (buf);
}

/*
 * sess_rcpt_log - the decision's log line, in the MTA's own terms so that
 * one grep finds both: "QUEUEID:" or "NOQUEUE:", client=name[ip],
 * from=<sender> to=<rcpt> as Postfix writes them, then key=value facts.
 * Network text is escaped (rd_text_log_str): no space, control byte or
 * backslash of a client's reaches the line raw, so it splits on spaces.
 */
static void
sess_rcpt_log(const struct rd_session *s, const struct sess_rcpt *r)
{
	char rcpt[RD_ADDR_PATH_MAX], from[RD_ADDR_PATH_MAX + 3];
	char who[1024];

	rd_log(r->d.entry->severity >= RD_SEV_WARNING ? LOG_NOTICE : LOG_INFO,
	    s->sid,
	    "%s from=<%s> to=<%s> diagnosis=%s "
	    "mta=%s action=%s class=%s authorized=%s front_end=%s event=%s",
	    sess_log_who(s, who, sizeof(who)),
	    rd_text_log_word(from, sizeof(from), s->in_tx ? s->sender : ""),
	    rd_text_log_word(rcpt, sizeof(rcpt), r->addr), r->d.entry->id,
	    rd_mta_verdict_name(r->mta.verdict), r->c.action,
	    rd_class_name(r->cls.rclass),
	    rd_authz_name(r->cls.by) != NULL ? rd_authz_name(r->cls.by)
					     : "none",
	    s->front_end, r->eid);
}

/*
 * sess_rcpt_emit - count the decision, then its event and log line. The
 * event's texts are filled again from the pseudonymised facts under
 * HashPersonalData (the same id: the reply keeps the real address).
 */
static void
sess_rcpt_emit(
    struct rd_session *s, struct sess_rcpt *r, const struct rd_verdict *v)
{
	const struct rd_diagnosis *ed = &r->d;
	const struct rd_facts *ef;
	struct rd_diagnosis dh;
	struct rd_event_rcpt er;
	struct sess_hashed h;

	if ((ef = sess_event_facts(s, &r->f, &h)) != &r->f) {
		if (rd_diagnose_fill(r->d.entry->id, ef, &dh) != 0)
			rd_panic("session: id %s left the catalogue",
			    r->d.entry->id);
		dh.unauthorized_relay = r->d.unauthorized_relay;
		ed = &dh;
	}
	s->tx_rcpts++;
	if (r->mta.verdict == RD_MTA_ACCEPT && v->action != RD_ACTION_REJECT &&
	    v->action != RD_ACTION_TEMPFAIL) {
		s->tx_accepted++;
		s->accepted++;
	} else {
		s->tx_rejected++;
		s->rejected++;
	}
	sess_ids_add(&s->tx_ids, r->d.entry->id);
	sess_ids_add(&s->ids, r->d.entry->id);
	if (!s->has_worst ||
	    r->d.entry->severity > s->tx_worst.entry->severity) {
		s->tx_worst = *ed; /* only the message event reads it */
		s->has_worst = true;
	}
	memset(&er, 0, sizeof(er));
	er.addr = ef->rcpt;
	er.domain = r->domain;
	er.cls = &r->cls;
	er.mta = ef->mta;
	er.diag = ed;
	sess_emit(s, "rcpt", rd_event_rcpt_json(&r->c, &er));
	rd_metrics_decision(r->d.entry->id,
	    rd_severity_name(r->d.entry->severity),
	    rd_mta_verdict_name(r->mta.verdict), r->c.action, s->front_end);
	sess_rcpt_log(s, r);
}

/*
 * sess_rcpt_explained - a recipient the MTA refused that another front
 * end (the policy service) already published: counted in this session,
 * not published, recorded or alerted on again (explained.h)
 */
static bool
sess_rcpt_explained(struct rd_session *s, const struct rd_rcpt_info *ri,
    const struct sess_rcpt *r)
{
	char id[RD_EXPLAINED_ID_MAX], eid[RD_EID_MAX];
	char safe[RD_ADDR_PATH_MAX], who[1024];
	const struct rd_catalogue_entry *e;

	if (s->explained == NULL || !rd_classify_mta_refused(ri->mailer) ||
	    !rd_explained_take(s->explained, s->client_ip, s->client_port,
		r->addr, r->now.tv_sec, id, eid) ||
	    (e = rd_catalogue_find(id)) == NULL)
		return (false);
	s->tx_rcpts++;
	s->tx_rejected++;
	s->rejected++;
	sess_ids_add(&s->tx_ids, e->id);
	sess_ids_add(&s->ids, e->id);
	rd_log(LOG_INFO, s->sid,
	    "%s to=<%s> diagnosis=%s front_end=%s explained_by=%s",
	    sess_log_who(s, who, sizeof(who)),
	    rd_text_log_word(safe, sizeof(safe), r->addr), e->id, s->front_end,
	    eid);
	return (true);
}

/*
 * sess_rcpt_run - one pass: the address, the facts (class, the MTA's
 * decision, DNS, history), one diagnosis, the verdict, the event; then
 * the alerts this refusal completed. at: when the MTA sent it.
 */
static void
sess_rcpt_run(struct rd_session *s, const struct rd_rcpt_info *ri,
    struct rd_verdict *v, const struct timespec *at)
{
	struct sess_rcpt r;

	memset(v, 0, sizeof(*v));
	memset(&r, 0, sizeof(r));
	r.now = *at;
	if (ri->queue_id != NULL && *ri->queue_id != '\0')
		if (sess_copy(s->queue_id, sizeof(s->queue_id), ri->queue_id))
			s->cut |= RD_CUT_QUEUE_ID;
	sess_rcpt_address(s, ri, &r);
	if (sess_rcpt_explained(s, ri, &r))
		return;
	sess_rcpt_facts(s, ri, &r);
	rd_diagnose_rcpt(&r.f, &r.d);
	sess_rcpt_verdict(s, &r, v);
	sess_rcpt_emit(s, &r, v);
	if (r.al.auth_outage || r.al.relay_probe)
		sess_alerts(s, &r.al, &r.f);
}

/* A refused recipient left for later: its strings, and when it came. */
struct sess_pending {
	struct timespec at;     /* CLOCK_REALTIME */
	struct rd_rcpt_info ri; /* pointing into text */
	char text[];
};

/* sess_rcpt_run_pending - diagnose a recipient left for later, free it */
static void
sess_rcpt_run_pending(struct rd_session *s, struct sess_pending *p)
{
	struct rd_verdict v;

	sess_rcpt_run(s, &p->ri, &v, &p->at); /* its answer was "continue" */
	free(p);
}

/*
 * sess_rcpt_defer - leave a recipient the MTA refused for later: the MTA
 * ignores a milter's reply to a recipient it refused (Postfix's smtpd
 * uses it only "if (err == 0 && milter_err != 0)"), and relaydiag's is
 * always "continue" for one (sess_action), so the MTA, and the client
 * waiting for its 554, need not wait for the history's Redis round trip.
 * It is diagnosed at a call the MTA does not wait for (HELO, MAIL, a
 * header, abort, close) or at the end of the message, whose event counts
 * it. Only for the milter (the policy service's answer is the diagnosis).
 * False: diagnose it now (another front end, accepted, no memory).
 */
/* pend_copy - src (NULL: none) into *t, which moves past it */
static const char *
pend_copy(char **t, const char *src)
{
	size_t n;
	char *dst = *t;

	if (src == NULL)
		return (NULL);
	n = strlen(src) + 1;
	memcpy(dst, src, n);
	*t += n;
	return (dst);
}

/* pend_len - the bytes pend_copy takes for src */
static size_t
pend_len(const char *src)
{
	return (src != NULL ? strlen(src) + 1 : 0);
}

static bool
sess_rcpt_defer(struct rd_session *s, const struct rd_rcpt_info *ri,
    const struct timespec *at)
{
	struct sess_pending *p;
	char *t;

	if (strcmp(s->front_end, "milter") != 0 || ri->rcpt == NULL ||
	    !rd_classify_mta_refused(ri->mailer))
		return (false);
	if (s->npend == SESS_PENDING_MAX) { /* the oldest now */
		p = s->pend[0];
		memmove(
		    &s->pend[0], &s->pend[1], --s->npend * sizeof(s->pend[0]));
		sess_rcpt_run_pending(s, p);
	}
	p = malloc(sizeof(*p) + pend_len(ri->rcpt) + pend_len(ri->mailer) +
		   pend_len(ri->host) + pend_len(ri->addr) +
		   pend_len(ri->queue_id));
	if (p == NULL)
		return (false);
	p->at = *at;
	t = p->text;
	p->ri.rcpt = pend_copy(&t, ri->rcpt);
	p->ri.mailer = pend_copy(&t, ri->mailer);
	p->ri.host = pend_copy(&t, ri->host);
	p->ri.addr = pend_copy(&t, ri->addr);
	p->ri.queue_id = pend_copy(&t, ri->queue_id);
	s->pend[s->npend++] = p;
	return (true);
}

void
sess_rcpt_flush(struct rd_session *s)
{
	unsigned i, n = s->npend;

	s->npend = 0;
	for (i = 0; i < n; i++)
		sess_rcpt_run_pending(s, s->pend[i]);
}

void
rd_session_rcpt(
    struct rd_session *s, const struct rd_rcpt_info *ri, struct rd_verdict *v)
{
	struct timespec at;

	clock_gettime(CLOCK_REALTIME, &at);
	if (sess_rcpt_defer(s, ri, &at)) {
		memset(v, 0, sizeof(*v)); /* RD_ACTION_NONE */
		return;
	}
	sess_rcpt_run(s, ri, v, &at);
}

/*
 * session.c - one SMTP connection as the milter sees it: connection ->
 * transactions -> recipients, and the events it produces.
 *
 * Owns struct rd_session: the copies of what each stage's macros said
 * (within fixed limits), the per-message and per-session counts, and the
 * order of work for a recipient: parse (addr.c) -> classify (classify.c) ->
 * diagnose (diagnose.c) -> verdict (reply.c) -> event (event.c) -> sink.
 * Nothing here talks to libmilter; the glue fills the info structs.
 * HashPersonalData: the events (never the reply to the client, nor the
 * log) show addresses and the user name as pseudonyms (pseudo.h), made
 * with the key installed when the session started; the diagnosis texts of
 * an event are filled from facts that carry the pseudonyms.
 * Threads: one thread at a time per session; cfg read-only; sink
 * thread-safe.
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

void
sess_ids_add(struct sess_ids *set, const char *id)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (set->id[i] == id || strcmp(set->id[i], id) == 0)
			return;
	if (set->n < SESS_IDS_MAX)
		set->id[set->n++] = id;
}

/* sess_copy - bounded copy of a borrowed macro value ("" for NULL) */
bool
sess_copy(char *dst, size_t len, const char *src)
{
	return (rd_strlcpy(dst, src != NULL ? src : "", len) >= len);
}

struct rd_session *
rd_session_new(const struct rd_config *cfg, struct rd_sink *sink)
{
	struct rd_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->cfg = cfg;
	s->sink = sink;
	s->front_end = "milter";
	rd_id_session(s->sid);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	if (sess_copy(s->host, sizeof(s->host), cfg->host_name))
		s->cut |= RD_CUT_HOST;
	/* One key for the whole session, even if a reload brings another. */
	if ((s->hash = cfg->hash_personal))
		s->hash_keyed = rd_pseudo_current(&s->hash_key);
	return (s);
}

void
rd_session_free(struct rd_session *s)
{
	if (s == NULL)
		return;
	sess_rcpt_flush(s); /* closed without rd_session_close: not lost */
	explicit_bzero(&s->hash_key, sizeof(s->hash_key));
	free(s);
}

/* sess_pseudo - the pseudonym of in, as this session's events show it */
static const char *
sess_pseudo(const struct rd_session *s, const char *in, char out[RD_PSEUDO_LEN])
{
	return (rd_pseudo_hash(s->hash_keyed ? &s->hash_key : NULL, in, out));
}

/*
 * sess_event_facts - the facts an event's diagnosis is filled from: f
 * itself, or under HashPersonalData a copy in *h where the sender, the
 * recipient and the user are pseudonyms and the MTA's text has them
 * replaced (Postfix may echo an address: "<bob@x.test>: Recipient address
 * rejected"). Domains stay: they are not personal, and dashboards group
 * by them.
 */
const struct rd_facts *
sess_event_facts(
    const struct rd_session *s, const struct rd_facts *f, struct sess_hashed *h)
{
	const char *secrets[3];

	if (!s->hash)
		return (f);
	h->f = *f;
	if (f->sender != NULL && *f->sender != '\0')
		h->f.sender = s->sender_h;
	if (f->auth_user != NULL)
		h->f.auth_user = s->auth_user_h;
	if (f->rcpt != NULL)
		h->f.rcpt = sess_pseudo(s, f->rcpt, h->rcpt);
	if (f->failed_user != NULL) /* a login, as personal as auth_user */
		h->f.failed_user =
		    sess_pseudo(s, f->failed_user, h->failed_user);
	if (f->mta != NULL) {
		secrets[0] = f->sender;
		secrets[1] = f->rcpt;
		secrets[2] = f->auth_user;
		h->mta = *f->mta;
		rd_pseudo_replace(s->hash_keyed ? &s->hash_key : NULL,
		    f->mta->text, secrets, 3, h->mta.text, sizeof(h->mta.text));
		h->f.mta = &h->mta;
	}
	return (&h->f);
}

void
rd_session_use(
    struct rd_session *s, struct rd_history *history, struct rd_dns *dns)
{
	s->history = history;
	s->dns = dns;
}

void
rd_session_use_explained(struct rd_session *s, struct rd_explained *x)
{
	s->explained = x;
}

void
rd_session_use_authfails(
    struct rd_session *s, struct rd_recent *x, unsigned window)
{
	s->authfails = x;
	s->authfail_window = window;
}

void
rd_session_use_seen(struct rd_session *s, struct rd_seen *x)
{
	s->seen = x;
}

/* sess_note_seen - the transaction, by its queue id, for the log's join */
static void
sess_note_seen(const struct rd_session *s)
{
	struct rd_seen_info i;

	if (s->seen == NULL || s->queue_id[0] == '\0')
		return;
	memset(&i, 0, sizeof(i));
	/* Each fits: the session's copies are as long or shorter. */
	(void)rd_strlcpy(i.client_ip, s->client_ip, sizeof(i.client_ip));
	i.client_port = s->client_port;
	(void)rd_strlcpy(i.client_name, s->client_name, sizeof(i.client_name));
	if (s->has_helo)
		(void)rd_strlcpy(i.helo, s->helo, sizeof(i.helo));
	(void)rd_strlcpy(i.daemon_addr, s->daemon_addr, sizeof(i.daemon_addr));
	i.daemon_port = s->daemon_port;
	(void)rd_strlcpy(i.tls_version, s->tls_version, sizeof(i.tls_version));
	(void)rd_strlcpy(i.auth_user, s->auth_user, sizeof(i.auth_user));
	(void)rd_strlcpy(i.sender, s->sender, sizeof(i.sender));
	rd_seen_note(s->seen, s->queue_id, &i, time(NULL));
}

void
rd_session_set_front_end(struct rd_session *s, const char *name)
{
	s->front_end = name;
}

const char *
rd_session_id(const struct rd_session *s)
{
	return (s->sid);
}

const struct rd_config *
rd_session_config(const struct rd_session *s)
{
	return (s->cfg);
}

void
rd_session_connect(struct rd_session *s, const struct rd_conn_info *ci)
{
	char safe_ip[80], safe_name[128];

	if (sess_copy(s->client_ip, sizeof(s->client_ip), ci->client_ip))
		s->cut |= RD_CUT_CLIENT_IP;
	s->client_port = ci->client_port;
	if (sess_copy(s->client_name, sizeof(s->client_name), ci->client_name))
		s->cut |= RD_CUT_CLIENT_NAME;
	if (sess_copy(s->daemon, sizeof(s->daemon), ci->daemon_name))
		s->cut |= RD_CUT_DAEMON;
	s->daemon_port = ci->daemon_port;
	/* An address cut to fit names no listener: compared, never shown. */
	(void)rd_strlcpy(s->daemon_addr,
	    ci->daemon_addr != NULL ? ci->daemon_addr : "",
	    sizeof(s->daemon_addr));
	/* The MTA's own name ({j}) unless HostName says otherwise. */
	if (ci->mta_host != NULL && *ci->mta_host != '\0' &&
	    !s->cfg->host_name_set)
		if (sess_copy(s->host, sizeof(s->host), ci->mta_host))
			s->cut |= RD_CUT_HOST;
	/* The listener's own settings (master.cf -o, Listener lines) beat
	   the global keys. */
	s->lis = rd_config_listener(s->cfg, ci->daemon_addr, s->daemon_port);
	s->trusted =
	    rd_netset_match(s->lis != NULL && s->lis->mynetworks != NULL
				? s->lis->mynetworks
				: s->cfg->trusted_networks,
		s->client_ip);
	s->table_permits =
	    s->lis != NULL && s->lis->client_permits != NULL &&
	    rd_netset_match(s->lis->client_permits, s->client_ip);
	s->submission = s->lis != NULL ? s->lis->submission
				       : rd_config_is_submission_port(
					     s->cfg, s->daemon_port);
	s->tls_auth_only =
	    s->lis != NULL ? s->lis->tls_auth_only : s->cfg->tls_auth_only;
	rd_log(LOG_DEBUG, s->sid,
	    "connect client=%s name=%s port=%u listener=%s "
	    "trusted=%s submission=%s",
	    rd_text_log_str(safe_ip, sizeof(safe_ip), s->client_ip),
	    rd_text_log_str(safe_name, sizeof(safe_name), s->client_name),
	    s->daemon_port, s->lis != NULL ? s->lis->name : "none",
	    s->trusted ? "yes" : "no", s->submission ? "yes" : "no");
}

static void
sess_tls(struct rd_session *s, const struct rd_tls_info *tls)
{
	bool cut;

	if (tls == NULL || tls->version == NULL || *tls->version == '\0')
		return;
	/* Each copy is made; any one cut marks the member. */
	cut = sess_copy(s->tls_version, sizeof(s->tls_version), tls->version);
	cut |= sess_copy(s->tls_cipher, sizeof(s->tls_cipher), tls->cipher);
	cut |= sess_copy(s->tls_bits, sizeof(s->tls_bits), tls->bits);
	if (cut)
		s->cut |= RD_CUT_TLS;
}

void
rd_session_helo(
    struct rd_session *s, const char *helo, const struct rd_tls_info *tls)
{
	sess_rcpt_flush(s);
	if (sess_copy(s->helo, sizeof(s->helo), helo))
		s->cut |= RD_CUT_HELO;
	s->has_helo = true;
	sess_tls(s, tls);
}

/* sess_tx_reset - forget the transaction (after a message, RSET, abort) */
static void
sess_tx_reset(struct rd_session *s)
{
	s->in_tx = false;
	s->cut &= ~(unsigned)(RD_CUT_SENDER | RD_CUT_QUEUE_ID);
	s->queue_id[0] = '\0';
	s->sender[0] = '\0';
	s->sender_h[0] = '\0';
	s->sender_domain[0] = '\0';
	s->sender_local = false;
	s->tx_rcpts = s->tx_accepted = s->tx_rejected = 0;
	s->tx_ids.n = 0;
	s->has_worst = false;
	s->tx_header = false;
	s->own_headers = 0;
}

void
rd_session_mail(struct rd_session *s, const struct rd_mail_info *mi)
{
	struct rd_addr a;
	bool cut;
	struct rd_err err;

	sess_rcpt_flush(s);
	sess_tx_reset(s);
	s->in_tx = true;
	if (sess_copy(s->queue_id, sizeof(s->queue_id), mi->queue_id))
		s->cut |= RD_CUT_QUEUE_ID;
	/* AUTH lasts for the connection, but the MTA repeats it at MAIL. */
	cut = sess_copy(s->auth_type, sizeof(s->auth_type), mi->auth_type);
	cut |= sess_copy(s->auth_user, sizeof(s->auth_user), mi->auth_authen);
	if (cut)
		s->cut |= RD_CUT_AUTH;
	sess_tls(s, &mi->tls);
	if (rd_addr_parse(mi->sender, &a, &err) == 0) {
		cut = sess_copy(s->sender, sizeof(s->sender), a.addr);
		cut |= sess_copy(
		    s->sender_domain, sizeof(s->sender_domain), a.domain);
		if (cut)
			s->cut |= RD_CUT_SENDER;
		s->sender_local =
		    a.has_domain &&
		    rd_domainset_match(s->cfg->local_domains, a.domain);
	} else {
		char safe[RD_ADDR_PATH_MAX];

		/* Keep the raw text for the record; the event sanitizes it. */
		if (sess_copy(s->sender, sizeof(s->sender), mi->sender))
			s->cut |= RD_CUT_SENDER;
		rd_log(LOG_INFO, s->sid, "sender unparsable: %s: %s",
		    rd_text_log_str(safe, sizeof(safe), mi->sender), err.text);
	}
	if (s->hash) {
		sess_pseudo(s, s->sender, s->sender_h);
		sess_pseudo(s, s->auth_user, s->auth_user_h);
	}
	sess_note_seen(s);
}

/* sess_common - the members every event of this session shares */
void
sess_common(struct rd_session *s, struct rd_event_common *c, const char *type,
    char eid[RD_EID_MAX], const struct timespec *now)
{
	memset(c, 0, sizeof(*c));
	rd_id_event(eid, s->sid, ++s->seq);
	c->type = type;
	c->id = eid;
	c->ts = now;
	c->host = s->host;
	c->session = s->sid;
	c->queue_id = s->queue_id;
	c->client_ip = s->client_ip;
	c->client_port = s->client_port;
	c->client_name = s->client_name;
	c->helo = s->has_helo ? s->helo : NULL;
	c->trusted = s->trusted;
	c->daemon = s->daemon;
	c->server_port = s->daemon_port;
	c->submission = s->submission;
	c->tls_version = s->tls_version;
	c->tls_cipher = s->tls_cipher;
	c->tls_bits = s->tls_bits;
	c->auth_mech = s->auth_type;
	c->auth_user = s->auth_user;
	c->sender_addr = s->in_tx ? s->sender : NULL;
	if (s->hash) {
		if (s->auth_user[0] != '\0')
			c->auth_user = s->auth_user_h;
		/* The null sender <> ("") is nobody's personal data. */
		if (s->in_tx && s->sender[0] != '\0')
			c->sender_addr = s->sender_h;
	}
	c->sender_domain = s->sender_domain;
	c->sender_local = s->sender_local;
	c->action = "none";
	c->front_end = s->front_end;
	c->truncated = s->cut;
}

void
sess_emit(struct rd_session *s, const char *type, char *json)
{
	if (json == NULL) {
		rd_log(LOG_WARNING, s->sid, "event type=%s lost: out of memory",
		    type);
		return;
	}
	rd_sink_emit_take(s->sink, type, json);
}

void
rd_session_header(struct rd_session *s, const char *name, const char *value)
{
	sess_rcpt_flush(s);
	(void)value;
	if (!s->cfg->strip_forged_headers) /* the MTA removes them */
		return;
	if (name != NULL && s->cfg->header_name != NULL &&
	    rd_strcasecmp_ascii(name, s->cfg->header_name) == 0)
		s->own_headers++;
}

static const char *
sess_authorized(const struct rd_session *s)
{
	if (s->auth_user[0] != '\0')
		return ("sasl");
	if (s->trusted)
		return ("network");
	return ("none");
}

void
rd_session_eom(
    struct rd_session *s, const char *queue_id, struct rd_eom_plan *plan)
{
	struct rd_event_common c;
	struct rd_event_counts n;
	struct rd_header_info h;
	struct timespec now;
	char eid[RD_EID_MAX];

	sess_rcpt_flush(s);
	memset(plan, 0, sizeof(*plan));
	if (queue_id != NULL && *queue_id != '\0')
		if (sess_copy(s->queue_id, sizeof(s->queue_id), queue_id))
			s->cut |= RD_CUT_QUEUE_ID;
	s->messages++;
	/* HeaderName's length is checked by config_keys.c: it fits. */
	(void)rd_strlcpy(
	    plan->header_name, s->cfg->header_name, sizeof(plan->header_name));
	/*
	 * Wherever relaydiag may change mail, copies of its header that came
	 * from outside go (last first, so the indexes stay valid): nobody can
	 * forge a diagnosis, even on a message that gets none of ours.
	 */
	if (s->cfg->mode != RD_MODE_OBSERVE || s->tx_header)
		plan->nremove = s->own_headers;
	if (s->tx_header) {
		memset(&h, 0, sizeof(h));
		h.host = s->host;
		h.session = s->sid;
		h.client_ip = s->client_ip;
		h.helo = s->has_helo ? s->helo : NULL;
		h.port = s->daemon_port;
		h.authorized = sess_authorized(s);
		/* The header travels with the mail: a pseudonym when hashing.
		 */
		h.auth_user = s->hash ? s->auth_user_h : s->auth_user;
		h.tls_version =
		    s->tls_version[0] != '\0' ? s->tls_version : NULL;
		h.ids = s->tx_ids.id;
		h.nids = s->tx_ids.n;
		rd_header_build_named(s->cfg->header_name, &h,
		    plan->header_value, sizeof(plan->header_value));
		plan->add_header = true;
	}

	clock_gettime(CLOCK_REALTIME, &now);
	sess_common(s, &c, "message", eid, &now);
	c.action = plan->add_header ? "header" : "none";
	memset(&n, 0, sizeof(n));
	n.rcpts = s->tx_rcpts;
	n.rcpts_accepted = s->tx_accepted;
	n.rcpts_rejected = s->tx_rejected;
	n.diag_ids = s->tx_ids.id;
	n.ndiag_ids = s->tx_ids.n;
	sess_emit(s, "message",
	    rd_event_message_json(&c, &n, s->has_worst ? &s->tx_worst : NULL));
	sess_tx_reset(s);
}

void
rd_session_abort(struct rd_session *s)
{
	sess_rcpt_flush(s);
	sess_tx_reset(s);
}

void
rd_session_close(struct rd_session *s)
{
	struct rd_event_common c;
	struct rd_event_counts n;
	struct rd_sink_stats st;
	struct timespec now, mono;
	char eid[RD_EID_MAX];

	sess_rcpt_flush(s);
	sess_tx_reset(s);
	if (strcmp(s->front_end, "policy") == 0)
		rd_metrics_inc(RD_M_SESSIONS_POLICY);
	else if (strcmp(s->front_end, "milter") == 0)
		rd_metrics_inc(RD_M_SESSIONS_MILTER);
	/* A policy request or a log line is no SMTP connection of ours:
	   no session event. */
	if (strcmp(s->front_end, "milter") != 0)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	sess_common(s, &c, "session", eid, &now);
	memset(&n, 0, sizeof(n));
	n.rcpts_accepted = s->accepted;
	n.rcpts_rejected = s->rejected;
	n.messages = s->messages;
	clock_gettime(CLOCK_MONOTONIC, &mono);
	n.duration_ms = rd_time_ms_between(&s->start, &mono);
	n.diag_ids = s->ids.id;
	n.ndiag_ids = s->ids.n;
	/* What the sink lost or spooled so far, process-wide (events.md). */
	rd_sink_stats(s->sink, &st);
	n.has_sink = true;
	n.sink_dropped = st.dropped;
	n.sink_spooled = st.spooled;
	sess_emit(s, "session", rd_event_session_json(&c, &n));
}

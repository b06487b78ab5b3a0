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

#include "relaydiag/addr.h"
#include "relaydiag/classify.h"
#include "relaydiag/event.h"
#include "relaydiag/log.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/reply.h"
#include "relaydiag/session.h"
#include "relaydiag/text.h"

#define SESS_IDS_MAX	32	/* distinct diagnosis ids kept per scope */

/* A set of distinct catalogue ids (pointers into the constant catalogue). */
struct sess_ids {
	const char	*id[SESS_IDS_MAX];
	size_t		 n;
};

struct rd_session {
	const struct rd_config *cfg;
	struct rd_sink	*sink;
	struct rd_history *history;		/* may be NULL */
	struct rd_dns	*dns;			/* may be NULL */
	char		 sid[RD_SID_LEN + 1];
	unsigned	 seq;			/* event counter */
	struct timespec	 start;			/* CLOCK_MONOTONIC */

	/* connection */
	char		 client_ip[64];
	unsigned	 client_port;
	char		 client_name[256];
	char		 daemon[128];
	unsigned	 daemon_port;
	char		 host[256];
	bool		 trusted;
	bool		 submission;
	char		 helo[256];
	bool		 has_helo;
	char		 tls_version[32];
	char		 tls_cipher[96];
	char		 tls_bits[8];

	/* transaction */
	bool		 in_tx;
	char		 queue_id[64];
	char		 auth_type[48];
	char		 auth_user[256];
	char		 sender[RD_ADDR_PATH_MAX + 3];
	char		 sender_domain[RD_ADDR_DOMAIN_MAX + 1];
	bool		 sender_local;
	unsigned	 tx_rcpts, tx_accepted, tx_rejected;
	struct sess_ids	 tx_ids;
	struct rd_diagnosis tx_worst;		/* most severe of the message */
	bool		 has_worst;
	bool		 tx_header;		/* an accepted rcpt wants the header */
	unsigned	 own_headers;		/* copies of our header seen */

	/* session totals */
	unsigned	 accepted, rejected, messages;
	struct sess_ids	 ids;

	/* HashPersonalData: the key, and the pseudonyms of the transaction */
	bool		 hash;
	bool		 hash_keyed;		/* false: RD_PSEUDO_NOKEY */
	struct rd_pseudo_key hash_key;
	char		 sender_h[RD_PSEUDO_LEN];
	char		 auth_user_h[RD_PSEUDO_LEN];
};

/* What an event shows of one recipient's facts under HashPersonalData. */
struct sess_hashed {
	struct rd_facts	 f;
	struct rd_mta_result mta;
	char		 rcpt[RD_PSEUDO_LEN];
};

static void
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
static void
sess_copy(char *dst, size_t len, const char *src)
{
	rd_strlcpy(dst, src != NULL ? src : "", len);
}

struct rd_session *
rd_session_new(const struct rd_config *cfg, struct rd_sink *sink)
{
	struct rd_session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->cfg = cfg;
	s->sink = sink;
	rd_id_session(s->sid);
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	sess_copy(s->host, sizeof(s->host), cfg->host_name);
	/* One key for the whole session, even if a reload brings another. */
	if ((s->hash = cfg->hash_personal))
		s->hash_keyed = rd_pseudo_current(&s->hash_key);
	return (s);
}

void
rd_session_free(struct rd_session *s)
{
	if (s != NULL)
		explicit_bzero(&s->hash_key, sizeof(s->hash_key));
	free(s);
}

/* sess_pseudo - the pseudonym of in, as this session's events show it */
static const char *
sess_pseudo(const struct rd_session *s, const char *in,
    char out[RD_PSEUDO_LEN])
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
static const struct rd_facts *
sess_event_facts(const struct rd_session *s, const struct rd_facts *f,
    struct sess_hashed *h)
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
rd_session_use(struct rd_session *s, struct rd_history *history,
    struct rd_dns *dns)
{
	s->history = history;
	s->dns = dns;
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

	sess_copy(s->client_ip, sizeof(s->client_ip), ci->client_ip);
	s->client_port = ci->client_port;
	sess_copy(s->client_name, sizeof(s->client_name), ci->client_name);
	sess_copy(s->daemon, sizeof(s->daemon), ci->daemon_name);
	s->daemon_port = ci->daemon_port;
	/* The MTA's own name ({j}) unless HostName says otherwise. */
	if (ci->mta_host != NULL && *ci->mta_host != '\0' &&
	    !s->cfg->host_name_set)
		sess_copy(s->host, sizeof(s->host), ci->mta_host);
	s->trusted = rd_netset_match(s->cfg->trusted_networks, s->client_ip);
	s->submission = rd_config_is_submission_port(s->cfg, s->daemon_port);
	rd_log(LOG_DEBUG, s->sid, "connect client=%s name=%s port=%u "
	    "trusted=%s submission=%s",
	    rd_text_log_str(safe_ip, sizeof(safe_ip), s->client_ip),
	    rd_text_log_str(safe_name, sizeof(safe_name), s->client_name),
	    s->daemon_port, s->trusted ? "yes" : "no",
	    s->submission ? "yes" : "no");
}

static void
sess_tls(struct rd_session *s, const struct rd_tls_info *tls)
{
	if (tls == NULL || tls->version == NULL || *tls->version == '\0')
		return;
	sess_copy(s->tls_version, sizeof(s->tls_version), tls->version);
	sess_copy(s->tls_cipher, sizeof(s->tls_cipher), tls->cipher);
	sess_copy(s->tls_bits, sizeof(s->tls_bits), tls->bits);
}

void
rd_session_helo(struct rd_session *s, const char *helo,
    const struct rd_tls_info *tls)
{
	sess_copy(s->helo, sizeof(s->helo), helo);
	s->has_helo = true;
	sess_tls(s, tls);
}

/* sess_tx_reset - forget the transaction (after a message, RSET, abort) */
static void
sess_tx_reset(struct rd_session *s)
{
	s->in_tx = false;
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
	struct rd_addr	a;
	struct rd_err	err;

	sess_tx_reset(s);
	s->in_tx = true;
	sess_copy(s->queue_id, sizeof(s->queue_id), mi->queue_id);
	/* AUTH lasts for the connection, but the MTA repeats it at MAIL. */
	sess_copy(s->auth_type, sizeof(s->auth_type), mi->auth_type);
	sess_copy(s->auth_user, sizeof(s->auth_user), mi->auth_authen);
	sess_tls(s, &mi->tls);
	if (rd_addr_parse(mi->sender, &a, &err) == 0) {
		sess_copy(s->sender, sizeof(s->sender), a.addr);
		sess_copy(s->sender_domain, sizeof(s->sender_domain), a.domain);
		s->sender_local = a.has_domain &&
		    rd_domainset_match(s->cfg->local_domains, a.domain);
	} else {
		char safe[RD_ADDR_PATH_MAX];

		/* Keep the raw text for the record; the event sanitizes it. */
		sess_copy(s->sender, sizeof(s->sender), mi->sender);
		rd_log(LOG_INFO, s->sid, "sender unparsable: %s: %s",
		    rd_text_log_str(safe, sizeof(safe), mi->sender), err.text);
	}
	if (s->hash) {
		sess_pseudo(s, s->sender, s->sender_h);
		sess_pseudo(s, s->auth_user, s->auth_user_h);
	}
}


/* sess_common - the members every event of this session shares */
static void
sess_common(struct rd_session *s, struct rd_event_common *c,
    const char *type, char eid[RD_EID_MAX], const struct timespec *now)
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
}

static void
sess_emit(struct rd_session *s, const char *type, char *json)
{
	if (json == NULL) {
		rd_log(LOG_WARNING, s->sid, "event type=%s lost: out of memory",
		    type);
		return;
	}
	rd_sink_emit_take(s->sink, type, json);
}

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
		return (a == RD_ACTION_TEMPFAIL ? RD_ACTION_TEMPFAIL :
		    RD_ACTION_REJECT);
	if (a >= 0)
		return ((enum rd_action)a);
	if (d->unauthorized_relay && s->cfg->mode == RD_MODE_ENFORCE)
		return (RD_ACTION_REJECT);
	return (s->cfg->mode != RD_MODE_OBSERVE ? RD_ACTION_HEADER :
	    RD_ACTION_NONE);
}

/* sess_alerts - the alert events the last refusal completed */
static void
sess_alerts(struct rd_session *s, const struct rd_history_alerts *al,
    const struct rd_facts *f)
{
	struct rd_event_common	c;
	struct rd_event_alert	a;
	struct rd_diagnosis	d;
	struct sess_hashed	h;
	struct timespec		now;
	char			eid[RD_EID_MAX];
	char			safe_ip[4 * 64];
	const char		*senders[5], *clients[1];
	unsigned		i;

	clock_gettime(CLOCK_REALTIME, &now);
	clients[0] = s->client_ip;
	f = sess_event_facts(s, f, &h);
	if (al->auth_outage && rd_diagnose_fill("alert.auth-outage", f,
	    &d) == 0) {
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
		rd_log(LOG_CRIT, s->sid, "alert=alert.auth-outage senders=%u "
		    "window=%us: many senders that used to log in are refused; "
		    "check the authentication service", al->outage_senders,
		    s->cfg->outage_window);
	}
	if (al->relay_probe && rd_diagnose_fill("alert.relay-probe", f,
	    &d) == 0) {
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
		/* From {client_addr} when the MTA gave no address: escape. */
		rd_log(LOG_WARNING, s->sid, "alert=alert.relay-probe client=%s "
		    "attempts=%u window=%us", rd_text_log_str(safe_ip,
		    sizeof(safe_ip), s->client_ip), al->probe_attempts,
		    s->cfg->probe_window);
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
	    *mailer == '\0' || rd_strcasecmp_ascii(mailer, "error") == 0)
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
    size_t mxlen)
{
	bool	unauth = rd_diagnose_is_unauthorized_relay(f);
	time_t	now = time(NULL);

	if (s->dns != NULL && s->cfg->mx_check && f->rcpt_domain != NULL &&
	    ((unauth && f->cls.rclass == RD_CLASS_EXTERNAL) ||
	    (f->cls.rclass == RD_CLASS_LOCAL && f->mta->verdict ==
	    RD_MTA_ACCEPT))) {
		f->mx = (int)rd_dns_mx(s->dns, f->rcpt_domain, mx, mxlen);
		f->mx_host = mx;
		f->has_mx = true;
	}
	if (s->history == NULL)
		return;
	if (unauth && !(f->has_mx && f->mx == RD_MX_HERE)) {
		rd_history_refused(s->history, sess_history_sender(s, false),
		    s->client_ip,
		    f->rcpt_domain != NULL ? f->rcpt_domain : "", now, hf, al);
		f->has_history = true;
		f->sender_authorized_elsewhere = hf->sender_authorized_elsewhere;
		f->elsewhere_ip = hf->elsewhere_ip;
		f->sender_sasl_here = hf->sender_sasl_here;
		f->sender_authorized_ever = hf->sender_authorized_ever;
		f->client_authorized_ever = hf->client_authorized_ever;
		f->client_refused_domains = hf->client_refused_domains;
	} else if (f->mta->verdict == RD_MTA_ACCEPT &&
	    (f->cls.by == RD_AUTHZ_SASL || f->cls.by == RD_AUTHZ_NETWORK) &&
	    s->sender[0] != '\0')
		rd_history_note_authorized(s->history, sess_history_sender(s,
		    f->cls.by == RD_AUTHZ_SASL), s->client_ip,
		    f->cls.by == RD_AUTHZ_SASL, now);
}

/* Everything about one recipient, gathered in one pass. */
struct sess_rcpt {
	struct rd_addr		 a;
	char			 raw[1024];	/* an address that did not parse */
	const char		*addr, *domain;	/* domain NULL: did not parse */
	struct rd_rcpt_class	 cls;
	struct rd_mta_result	 mta;
	struct rd_facts		 f;
	struct rd_history_facts	 hf;
	struct rd_history_alerts al;
	char			 mx[256];
	struct rd_diagnosis	 d;
	struct rd_event_common	 c;		/* points into now and eid */
	struct timespec		 now;
	char			 eid[RD_EID_MAX];
};

/* sess_rcpt_address - the recipient's address and domain */
static void
sess_rcpt_address(struct rd_session *s, const struct rd_rcpt_info *ri,
    struct sess_rcpt *r)
{
	char		safe[RD_ADDR_PATH_MAX];
	struct rd_err	err;
	size_t		n;

	if (rd_addr_parse(ri->rcpt, &r->a, &err) == 0) {
		r->addr = r->a.addr;
		r->domain = r->a.domain;
		return;
	}
	/* Unparsable: keep it, less its brackets (the reply adds its own). */
	sess_copy(r->raw, sizeof(r->raw), ri->rcpt);
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
sess_rcpt_facts(struct rd_session *s, const struct rd_rcpt_info *ri,
    struct sess_rcpt *r)
{
	struct rd_facts *f = &r->f;
	bool sasl = s->auth_user[0] != '\0';

	rd_classify_rcpt(s->cfg, r->domain, ri->mailer, sasl, s->trusted,
	    &r->cls);
	rd_classify_mta(ri->mailer, ri->host, ri->addr, &r->mta);
	if (!sess_gate_agrees(s, &r->cls, ri->mailer))
		r->cls.by = rd_authz_of_client(sasl, s->trusted);
	f->client_ip = s->client_ip;
	f->client_name = s->client_name;
	f->helo = s->has_helo ? s->helo : NULL;
	f->server_port = s->daemon_port;
	f->submission_port = s->submission;
	f->tls = s->tls_version[0] != '\0';
	f->tls_auth_only = s->cfg->tls_auth_only;
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
	sess_correlate(s, f, &r->hf, &r->al, r->mx, sizeof(r->mx));
}

/* sess_rcpt_verdict - what relaydiag does about it, and its reply */
static void
sess_rcpt_verdict(struct rd_session *s, struct sess_rcpt *r,
    struct rd_verdict *v)
{
	clock_gettime(CLOCK_REALTIME, &r->now);
	sess_common(s, &r->c, "rcpt", r->eid, &r->now);
	v->action = sess_action(s, &r->mta, &r->d);
	if (v->action == RD_ACTION_REJECT || v->action == RD_ACTION_TEMPFAIL)
		rd_reply_build(v, v->action, &r->d, r->addr, r->eid);
	r->c.action = rd_action_name(v->action);
	if (v->action == RD_ACTION_HEADER)
		s->tx_header = true;
}

/*
 * sess_rcpt_emit - count the decision, then its event and log line. The
 * event's texts are filled again from the pseudonymised facts under
 * HashPersonalData (the same id: the reply keeps the real address).
 */
static void
sess_rcpt_emit(struct rd_session *s, struct sess_rcpt *r,
    const struct rd_verdict *v)
{
	const struct rd_diagnosis *ed = &r->d;
	const struct rd_facts	*ef;
	struct rd_diagnosis	 dh;
	struct rd_event_rcpt	 er;
	struct sess_hashed	 h;
	char			 safe[RD_ADDR_PATH_MAX];

	if ((ef = sess_event_facts(s, &r->f, &h)) != &r->f) {
		if (rd_diagnose_fill(r->d.entry->id, ef, &dh) != 0)
			rd_panic("session: id %s left the catalogue",
			    r->d.entry->id);
		dh.unauthorized_relay = r->d.unauthorized_relay;
		ed = &dh;
	}
	s->tx_rcpts++;
	if (r->mta.verdict == RD_MTA_ACCEPT &&
	    v->action != RD_ACTION_REJECT && v->action != RD_ACTION_TEMPFAIL) {
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
	rd_log(r->d.entry->severity >= RD_SEV_WARNING ? LOG_NOTICE : LOG_INFO,
	    s->sid, "rcpt=%s class=%s authorized=%s mta=%s diagnosis=%s "
	    "action=%s", rd_text_log_str(safe, sizeof(safe), r->addr),
	    rd_class_name(r->cls.rclass),
	    rd_authz_name(r->cls.by) != NULL ? rd_authz_name(r->cls.by)
					     : "none",
	    rd_mta_verdict_name(r->mta.verdict), r->d.entry->id, r->c.action);
}

/*
 * rd_session_rcpt - one pass: the address, the facts (class, the MTA's
 * decision, DNS, history), one diagnosis, the verdict, the event; then
 * the alerts this refusal completed.
 */
void
rd_session_rcpt(struct rd_session *s, const struct rd_rcpt_info *ri,
    struct rd_verdict *v)
{
	struct sess_rcpt r;

	memset(v, 0, sizeof(*v));
	memset(&r, 0, sizeof(r));
	if (ri->queue_id != NULL && *ri->queue_id != '\0')
		sess_copy(s->queue_id, sizeof(s->queue_id), ri->queue_id);
	sess_rcpt_address(s, ri, &r);
	sess_rcpt_facts(s, ri, &r);
	rd_diagnose_rcpt(&r.f, &r.d);
	sess_rcpt_verdict(s, &r, v);
	sess_rcpt_emit(s, &r, v);
	if (r.al.auth_outage || r.al.relay_probe)
		sess_alerts(s, &r.al, &r.f);
}

void
rd_session_header(struct rd_session *s, const char *name, const char *value)
{
	(void)value;
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
rd_session_eom(struct rd_session *s, const char *queue_id,
    struct rd_eom_plan *plan)
{
	struct rd_event_common	c;
	struct rd_event_counts	n;
	struct rd_header_info	h;
	struct timespec		now;
	char			eid[RD_EID_MAX];

	memset(plan, 0, sizeof(*plan));
	if (queue_id != NULL && *queue_id != '\0')
		sess_copy(s->queue_id, sizeof(s->queue_id), queue_id);
	s->messages++;
	rd_strlcpy(plan->header_name, s->cfg->header_name,
	    sizeof(plan->header_name));
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
		/* The header travels with the mail: a pseudonym when hashing. */
		h.auth_user = s->hash ? s->auth_user_h : s->auth_user;
		h.tls_version = s->tls_version[0] != '\0' ? s->tls_version :
		    NULL;
		h.ids = s->tx_ids.id;
		h.nids = s->tx_ids.n;
		rd_header_build_named(s->cfg->header_name, &h,
		    plan->header_value,
		    sizeof(plan->header_value));
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
	sess_emit(s, "message", rd_event_message_json(&c, &n,
	    s->has_worst ? &s->tx_worst : NULL));
	sess_tx_reset(s);
}

void
rd_session_abort(struct rd_session *s)
{
	sess_tx_reset(s);
}

void
rd_session_close(struct rd_session *s)
{
	struct rd_event_common	c;
	struct rd_event_counts	n;
	struct rd_sink_stats	st;
	struct timespec		now, mono;
	char			eid[RD_EID_MAX];

	sess_tx_reset(s);
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

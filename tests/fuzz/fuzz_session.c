/*
 * fuzz_session.c - whole connections: a sequence of rd_session_* calls
 * decoded from the input, with a capturing sink that parses every event,
 * and a history (local cache, no Redis) shared by the sessions of one
 * input, so that probes, changed addresses and alerts happen too.
 *
 * Input: a byte choosing the configuration (mode; TLSAuthOnly; RelayGate;
 * HashPersonalData off, on without a key, on with one; HostName set or
 * not; per-id Actions or none; always LocalDomains example.org,
 * .example.org, RelayDomains backup.example.net, TrustedNetworks
 * 192.0.2.0/24 [2001:db8::]/32 and the default loopback), then operations:
 * one byte (the call), then its NUL-separated string arguments ("\x01":
 * NULL) and bytes for ports and flags, in any order the bytes say (a
 * broken MTA or glue could call them so). One operation closes the session
 * and starts the next one.
 *
 * Invariants: every event passes fz_check_event with the type it was
 * emitted as; each rcpt gives one rcpt event whose action is the verdict's;
 * a refused recipient's reply passes fz_check_reply, any other has no
 * lines; with RelayGate an unauthorized relay the MTA accepted is always
 * refused (deployment 2: the MTA relies on us); with HashPersonalData the
 * recipient, sender and user in events are pseudonyms; each end of message
 * gives one message event, the header when a recipient asked for it
 * (passing fz_check_header), and the removal of every forged copy wherever
 * relaydiag may change mail; close gives exactly one session event.
 * RD_FUZZ_EVENTS=file appends every event to file, one per line, to check
 * a corpus against the JSON Schema too:
 *   RD_FUZZ_EVENTS=/tmp/ev.jsonl build-fuzz/tests/fuzz/fuzz_session -runs=0 \
 *	tests/fuzz/corpus/fuzz_session && tests/tools/check-events /tmp/ev.jsonl
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>

#include "relaydiag/catalogue.h"
#include "relaydiag/config.h"
#include "relaydiag/history.h"
#include "relaydiag/log.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONFIGS 144
#define OPS_MAX 128

static struct rd_config *configs[NCONFIGS];
/* RD_FUZZ_EVENTS=path: every event also goes there (for check-events) */
static FILE *events_out;

/* ---- the capturing sink --------------------------------------------- */

struct cap {
	struct rd_sink base; /* first: the struct rd_sink * */
	const struct rd_config *cfg;
	unsigned rcpt, message, session, alert;
	char last_action[16];
	bool last_authorized;
};

/* pseudonym - "h:" and 16 hex digits, or "h:nokey" */
static bool
pseudonym(json_t *v)
{
	const char *s = json_string_value(v);

	return (s != NULL && (strcmp(s, RD_PSEUDO_NOKEY) == 0 ||
				 (strncmp(s, "h:", 2) == 0 &&
				     strlen(s) == RD_PSEUDO_LEN - 1 &&
				     strspn(s + 2, "0123456789abcdef") == 16)));
}

/* check_hashed - HashPersonalData: no address or user name in clear */
static void
check_hashed(json_t *o)
{
	json_t *c, *v;
	size_t i;

	if (json_is_object(c = json_object_get(o, "rcpt")) &&
	    !pseudonym(json_object_get(c, "addr")))
		fz_fail("session: hashed, but rcpt.addr in clear");
	if (json_is_object(c = json_object_get(o, "auth")) &&
	    !pseudonym(json_object_get(c, "user")))
		fz_fail("session: hashed, but auth.user in clear");
	if (json_is_object(c = json_object_get(o, "sender")) &&
	    json_string_length(json_object_get(c, "addr")) != 0 &&
	    !pseudonym(json_object_get(c, "addr")))
		fz_fail("session: hashed, but sender.addr in clear");
	if (json_is_object(c = json_object_get(o, "sample")))
		json_array_foreach(json_object_get(c, "senders"), i,
		    v) if (json_string_length(v) != 0 && !pseudonym(v))
		    fz_fail("session: hashed, but an alert's "
			    "sender in clear");
}

/*
 * check_truth - the truth rule on a rcpt event (diagnoses.md): an
 * accepted recipient has no refusal id, a refused one no authorized-* or
 * delivered id, a logged-in client no id that says it did not log in
 */
static void
check_truth(json_t *o)
{
	const struct rd_catalogue_entry *e;
	const char *id, *verdict, *action;
	bool refused, login;

	id = json_string_value(
	    json_object_get(json_object_get(o, "diagnosis"), "id"));
	verdict = json_string_value(
	    json_object_get(json_object_get(o, "mta"), "verdict"));
	action = json_string_value(json_object_get(o, "action"));
	if (id == NULL || verdict == NULL || action == NULL ||
	    (e = rd_catalogue_find(id)) == NULL)
		fz_fail("truth: rcpt event without id, verdict or action");
	refused = strcmp(verdict, "accept") != 0 ||
		  strcmp(action, "reject") == 0 ||
		  strcmp(action, "tempfail") == 0;
	login = json_is_object(json_object_get(o, "auth"));
	if (refused && (e->claims & RD_CAT_ON_ACCEPT) != 0)
		fz_fail("truth: %s on a refused recipient", id);
	if (!refused && (e->claims & RD_CAT_ON_REFUSAL) != 0)
		fz_fail("truth: %s on an accepted recipient", id);
	if (login && (e->claims & RD_CAT_NO_LOGIN) != 0)
		fz_fail("truth: %s for a client that logged in", id);
}

static int
cap_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	struct cap *c = (struct cap *)sk;
	json_t *o, *a;

	o = fz_check_event(json, type);
	if (events_out != NULL)
		fprintf(events_out, "%s\n", json);
	if (c->cfg->hash_personal)
		check_hashed(o);
	if (strcmp(type, "rcpt") == 0) {
		check_truth(o);
		c->rcpt++;
		a = json_object_get(o, "action");
		rd_strlcpy(c->last_action, json_string_value(a),
		    sizeof(c->last_action));
		c->last_authorized = json_is_true(
		    json_object_get(json_object_get(o, "relay"), "authorized"));
	} else if (strcmp(type, "message") == 0)
		c->message++;
	else if (strcmp(type, "session") == 0)
		c->session++;
	else if (strcmp(type, "alert") == 0)
		c->alert++;
	json_decref(o);
	free(json);
	return (0);
}

static void
cap_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	(void)sk;
	memset(out, 0, sizeof(*out));
}

static void
cap_close(struct rd_sink *sk)
{
	(void)sk;
}

static const struct rd_sink_ops cap_ops = {
    .emit_take = cap_emit_take,
    .stats = cap_stats,
    .close = cap_close,
};

/* ---- configurations ---------------------------------------------------- */

/*
 * make_config - configuration i: mode i % 3, TLSAuthOnly (i / 3) % 2,
 * RelayGate (i / 6) % 2, HashPersonalData (i / 12) % 3 (off, no key, key),
 * HostName set (i / 36) % 2, Actions (i / 72) % 2.
 */
static struct rd_config *
make_config(unsigned i)
{
	static const struct rd_id_action actions[] = {
	    {"relay.no-auth", RD_ACTION_TEMPFAIL},
	    {"delivery.local", RD_ACTION_NONE},
	    {"sender.login-mismatch", RD_ACTION_REJECT},
	    {"relay.client-on-port-25", RD_ACTION_HEADER},
	};
	struct rd_config *cfg;
	struct rd_err err;
	size_t k;

	if ((cfg = rd_config_defaults()) == NULL)
		abort();
	cfg->mode = (enum rd_mode)(i % 3);
	cfg->tls_auth_only = (i / 3) % 2;
	cfg->relay_gate = (i / 6) % 2;
	cfg->hash_personal = (i / 12) % 3 != 0;
	if ((i / 36) % 2) {
		free(cfg->host_name);
		cfg->host_name = strdup("mx.example.org");
		cfg->host_name_set = true;
	}
	if ((i / 72) % 2)
		for (k = 0; k < sizeof(actions) / sizeof(actions[0]); k++)
			cfg->actions[cfg->n_actions++] = actions[k];
	if ((i / 36) % 2) { /* listeners of their own (listener.h) */
		if ((cfg->listeners = calloc(2, sizeof(*cfg->listeners))) ==
			NULL ||
		    rd_listener_parse(&cfg->listeners[0],
			"25 tls-auth-only sasl-required", &err) != 0 ||
		    rd_listener_parse(&cfg->listeners[1],
			"[2001:db8::1]:587 submission", &err) != 0)
			fz_fail("fuzz_session: listener: %s", err.text);
		cfg->n_listeners = 2;
	}
	if (rd_domainset_add_list(
		cfg->local_domains, "example.org, .example.org", &err) != 0 ||
	    rd_domainset_add_list(
		cfg->relay_domains, "backup.example.net", &err) != 0 ||
	    rd_netset_add_list(cfg->trusted_networks,
		"192.0.2.0/24 [2001:db8::]/32", &err) != 0)
		fz_fail("fuzz_session: config: %s", err.text);
	return (cfg);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *p;
	unsigned i;

	(void)argc;
	(void)argv;
	json_object_seed(1);
	rd_log_open("relaydiag-fuzz", LOG_MAIL, true, LOG_ERR);
	if ((p = getenv("RD_FUZZ_EVENTS")) != NULL &&
	    (events_out = fopen(p, "a")) == NULL) {
		perror(p);
		exit(1);
	}
	for (i = 0; i < NCONFIGS; i++)
		configs[i] = make_config(i);
	return (0);
}

/* ---- the operations ---------------------------------------------------- */

static void
tls_info(struct fz *f, struct rd_tls_info *t)
{
	t->version = fz_str_or_null(f);
	t->cipher = fz_str_or_null(f);
	t->bits = fz_str_or_null(f);
	t->cert_subject = fz_str_or_null(f);
}

/*
 * check_plan - the end of a message: the header when a recipient asked for
 * it (tx_header), every forged copy removed wherever relaydiag may change
 * mail (not observe mode, or a header of ours goes in).
 */
static void
check_plan(const struct rd_config *cfg, const struct rd_eom_plan *p,
    unsigned own, bool tx_header)
{
	if (p->add_header != tx_header)
		fz_fail("session: header %s, but a recipient asked %s",
		    p->add_header ? "added" : "not added",
		    tx_header ? "for it" : "for none");
	if (p->nremove != (cfg->mode != RD_MODE_OBSERVE || tx_header ? own : 0))
		fz_fail("session: %u removals for %u forged headers (mode %s)",
		    p->nremove, own, rd_mode_name(cfg->mode));
	if (strncmp(p->header_name, cfg->header_name,
		sizeof(p->header_name) - 1) != 0)
		fz_fail("session: header name \"%s\"", p->header_name);
	if (p->add_header)
		fz_check_header(
		    p->header_name, p->header_value, sizeof(p->header_value));
}

/* One input: the sessions, their counts, the shared history. */
struct run {
	const struct rd_config *cfg;
	struct rd_history *history;
	struct rd_session *s;
	struct cap cap;
	unsigned rcpts, eoms, own;
	bool tx_header;
};

static void
run_open(struct run *r)
{
	memset(&r->cap, 0, sizeof(r->cap));
	r->cap.base.ops = &cap_ops;
	r->cap.cfg = r->cfg;
	r->rcpts = r->eoms = r->own = 0;
	r->tx_header = false;
	if ((r->s = rd_session_new(r->cfg, &r->cap.base)) == NULL)
		abort();
	rd_session_use(r->s, r->history, NULL);
}

static void
run_close(struct run *r)
{
	rd_session_close(r->s);
	if (r->cap.session != 1)
		fz_fail("session: %u session events", r->cap.session);
	rd_session_free(r->s);
	r->s = NULL;
}

static void
op_rcpt(struct run *r, struct fz *f)
{
	static const char *const action_names[] = {
	    "none", "header", "reject", "tempfail"};
	struct rd_rcpt_info ri;
	struct rd_verdict v;
	bool mta_accepts;
	unsigned before = r->cap.rcpt;

	memset(&ri, 0, sizeof(ri));
	ri.rcpt = fz_str_or_null(f);
	ri.mailer = fz_str_or_null(f);
	ri.host = fz_str_or_null(f);
	ri.addr = fz_str_or_null(f);
	ri.queue_id = fz_str_or_null(f);
	memset(&v, 0x55, sizeof(v));
	rd_session_rcpt(r->s, &ri, &v);
	if (r->cap.rcpt == before) {
		/* Refused by the MTA: answered now, diagnosed at the
		   session's next call (session_rcpt.c); make one. */
		if (ri.mailer == NULL ||
		    rd_strcasecmp_ascii(ri.mailer, "error") != 0)
			fz_fail(
			    "session: an accepted recipient left for later");
		if (v.action != RD_ACTION_NONE || v.nlines != 0)
			fz_fail("session: a recipient left for later answered "
				"%u",
			    (unsigned)v.action);
		rd_session_header(r->s, "X-Fuzz-Next-Call", "1");
	}
	if (r->cap.rcpt != ++r->rcpts)
		fz_fail("session: %u rcpt events for %u rcpts", r->cap.rcpt,
		    r->rcpts);
	if ((unsigned)v.action > RD_ACTION_TEMPFAIL ||
	    strcmp(r->cap.last_action, action_names[v.action]) != 0)
		fz_fail("session: verdict %u, event says %s",
		    (unsigned)v.action, r->cap.last_action);
	if (v.action == RD_ACTION_REJECT || v.action == RD_ACTION_TEMPFAIL)
		fz_check_reply(&v);
	else if (v.nlines != 0)
		fz_fail("session: reply lines for an accepted recipient");
	mta_accepts =
	    ri.mailer == NULL || rd_strcasecmp_ascii(ri.mailer, "error") != 0;
	if (r->cfg->relay_gate && mta_accepts && !r->cap.last_authorized &&
	    v.action != RD_ACTION_REJECT && v.action != RD_ACTION_TEMPFAIL)
		fz_fail("session: RelayGate let an unauthorized relay through "
			"(%s)",
		    r->cap.last_action);
	if (v.action == RD_ACTION_HEADER)
		r->tx_header = true;
}

static void
op_eom(struct run *r, struct fz *f)
{
	struct rd_eom_plan plan;

	memset(&plan, 0x55, sizeof(plan));
	rd_session_eom(r->s, fz_str_or_null(f), &plan);
	check_plan(r->cfg, &plan, r->own, r->tx_header);
	if (r->cap.message != ++r->eoms)
		fz_fail("session: %u message events for %u messages",
		    r->cap.message, r->eoms);
	r->own = 0;
	r->tx_header = false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct rd_pseudo_key key = {{0x00, 0x01, 0x02, 0x03, 0x04,
	    0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}};
	struct rd_history_params hp;
	struct rd_conn_info ci;
	struct rd_mail_info mi;
	struct rd_tls_info ti;
	struct rd_err err;
	struct run r;
	struct fz f;
	unsigned ops, cfgno;
	const char *name, *helo;

	fz_init(&f, data, size);
	memset(&r, 0, sizeof(r));
	cfgno = fz_byte(&f) % NCONFIGS;
	r.cfg = configs[cfgno];
	/* Hashing with a key, or without one (events say "h:nokey"). */
	rd_pseudo_install((cfgno / 12) % 3 == 2 ? &key : NULL);
	memset(&hp, 0, sizeof(hp));
	hp.cache_size = 16;    /* the smallest: eviction happens */
	hp.outage_senders = 2; /* alerts within a few recipients */
	hp.alert_probe_attempts = 3;
	if ((r.history = rd_history_new(&hp, &err)) == NULL)
		fz_fail("session: history: %s", err.text);
	run_open(&r);
	for (ops = 0; ops < OPS_MAX && !fz_empty(&f); ops++) {
		switch (fz_byte(&f) % 9) {
		case 0:
			memset(&ci, 0, sizeof(ci));
			ci.client_ip = fz_str_or_null(&f);
			ci.client_port = fz_u16(&f);
			ci.client_name = fz_str_or_null(&f);
			ci.client_ptr = fz_str_or_null(&f);
			ci.daemon_name = fz_str_or_null(&f);
			ci.daemon_addr = fz_str_or_null(&f);
			ci.daemon_port = fz_u16(&f);
			ci.mta_host = fz_str_or_null(&f);
			rd_session_connect(r.s, &ci);
			break;
		case 1:
			helo = fz_str_or_null(&f);
			memset(&ti, 0, sizeof(ti));
			if (fz_byte(&f) & 1) {
				tls_info(&f, &ti);
				rd_session_helo(r.s, helo, &ti);
			} else
				rd_session_helo(r.s, helo, NULL);
			break;
		case 2:
			memset(&mi, 0, sizeof(mi));
			mi.sender = fz_str_or_null(&f);
			mi.queue_id = fz_str_or_null(&f);
			mi.auth_type = fz_str_or_null(&f);
			mi.auth_authen = fz_str_or_null(&f);
			tls_info(&f, &mi.tls);
			rd_session_mail(r.s, &mi);
			r.own = 0;
			r.tx_header = false;
			break;
		case 3:
		case 7:
			op_rcpt(&r, &f);
			break;
		case 4:
			name = fz_str_or_null(&f);
			rd_session_header(r.s, name, fz_str_or_null(&f));
			if (name != NULL &&
			    rd_strcasecmp_ascii(name, r.cfg->header_name) == 0)
				r.own++;
			break;
		case 5:
			op_eom(&r, &f);
			break;
		case 6:
			rd_session_abort(r.s);
			r.own = 0;
			r.tx_header = false;
			break;
		case 8:
			/* The connection ends; the next one sees its history.
			 */
			run_close(&r);
			run_open(&r);
			break;
		}
	}
	run_close(&r);
	rd_history_free(r.history);
	rd_pseudo_install(NULL);
	fz_done(&f);
	return (0);
}

/*
 * fuzz_session.c - a whole connection: a sequence of rd_session_* calls
 * decoded from the input, with a capturing sink that parses every event.
 *
 * Input: a byte choosing the configuration (mode, TLSAuthOnly, HostName
 * set or not; LocalDomains example.org, .example.org; RelayDomains
 * backup.example.net; TrustedNetworks 192.0.2.0/24 [2001:db8::]/32 and the
 * default loopback), then operations: one byte (the call), then its
 * NUL-separated string arguments and bytes for ports and flags, in any
 * order the bytes say (a broken MTA or a fuzzed glue could call them so).
 *
 * Invariants: every event passes fz_check_event with the type it was
 * emitted as; each rcpt gives one rcpt event whose action is the verdict's;
 * a refused recipient's reply passes fz_check_reply, an accepted one has
 * no lines; each end of message gives one message event and, outside
 * observe mode, a header that passes fz_check_header, plus removal of
 * every forged copy (last first); close gives exactly one session event.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>

#include "relaydiag/config.h"
#include "relaydiag/log.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONFIGS	12
#define OPS_MAX		128

static struct rd_config *configs[NCONFIGS];

/* ---- the capturing sink --------------------------------------------- */

struct cap {
	struct rd_sink	 base;		/* first: the struct rd_sink * */
	unsigned	 rcpt, message, session;
	char		 last_action[16];
};

static int
cap_emit_take(struct rd_sink *sk, const char *type, char *json)
{
	struct cap *c = (struct cap *)sk;
	json_t *o, *a;

	o = fz_check_event(json, type);
	if (strcmp(type, "rcpt") == 0) {
		c->rcpt++;
		a = json_object_get(o, "action");
		rd_strlcpy(c->last_action, json_string_value(a),
		    sizeof(c->last_action));
	} else if (strcmp(type, "message") == 0)
		c->message++;
	else if (strcmp(type, "session") == 0)
		c->session++;
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
	cap_emit_take, cap_stats, cap_close
};

/* ---- configurations ---------------------------------------------------- */

static struct rd_config *
make_config(unsigned i)
{
	struct rd_config *cfg;
	struct rd_err err;

	if ((cfg = rd_config_defaults()) == NULL)
		abort();
	cfg->mode = (enum rd_mode)(i % 3);
	cfg->tls_auth_only = (i / 3) % 2;
	if ((i / 6) % 2) {
		free(cfg->host_name);
		cfg->host_name = strdup("mx.example.org");
		cfg->host_name_set = true;
	}
	if (rd_domainset_add_list(cfg->local_domains,
	    "example.org, .example.org", &err) != 0 ||
	    rd_domainset_add_list(cfg->relay_domains, "backup.example.net",
	    &err) != 0 ||
	    rd_netset_add_list(cfg->trusted_networks,
	    "192.0.2.0/24 [2001:db8::]/32", &err) != 0)
		fz_fail("fuzz_session: config: %s", err.text);
	return (cfg);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned i;

	(void)argc;
	(void)argv;
	json_object_seed(1);
	rd_log_open("relaydiag-fuzz", LOG_MAIL, true, LOG_ERR);
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

static void
check_plan(const struct rd_config *cfg, const struct rd_eom_plan *p,
    unsigned own)
{
	size_t i, want;

	if (cfg->mode == RD_MODE_OBSERVE) {
		if (p->add_header || p->nremove != 0)
			fz_fail("session: observe mode changed the message");
		return;
	}
	if (!p->add_header)
		fz_fail("session: no header outside observe mode");
	if (strncmp(p->header_name, cfg->header_name,
	    sizeof(p->header_name) - 1) != 0)
		fz_fail("session: header name \"%s\"", p->header_name);
	fz_check_header(p->header_name, p->header_value,
	    sizeof(p->header_value));
	want = own < RD_REMOVE_MAX ? own : RD_REMOVE_MAX;
	if (p->nremove != want)
		fz_fail("session: %zu removals for %u forged headers",
		    p->nremove, own);
	for (i = 0; i < p->nremove; i++)
		if (p->remove_index[i] != own - i)
			fz_fail("session: removal %zu is index %u, want %u", i,
			    p->remove_index[i], own - (unsigned)i);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const action_names[] = { "none", "header",
	    "reject", "tempfail" };
	const struct rd_config *cfg;
	struct rd_session *s;
	struct rd_conn_info ci;
	struct rd_mail_info mi;
	struct rd_rcpt_info ri;
	struct rd_tls_info ti;
	struct rd_verdict v;
	struct rd_eom_plan plan;
	struct cap cap;
	struct fz f;
	unsigned ops, rcpts = 0, eoms = 0, own = 0;
	const char *name, *helo;

	fz_init(&f, data, size);
	cfg = configs[fz_byte(&f) % NCONFIGS];
	memset(&cap, 0, sizeof(cap));
	cap.base.ops = &cap_ops;
	if ((s = rd_session_new(cfg, &cap.base)) == NULL)
		return (0);
	for (ops = 0; ops < OPS_MAX && !fz_empty(&f); ops++) {
		switch (fz_byte(&f) % 8) {
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
			rd_session_connect(s, &ci);
			break;
		case 1:
			helo = fz_str_or_null(&f);
			memset(&ti, 0, sizeof(ti));
			if (fz_byte(&f) & 1) {
				tls_info(&f, &ti);
				rd_session_helo(s, helo, &ti);
			} else
				rd_session_helo(s, helo, NULL);
			break;
		case 2:
			memset(&mi, 0, sizeof(mi));
			mi.sender = fz_str_or_null(&f);
			mi.queue_id = fz_str_or_null(&f);
			mi.auth_type = fz_str_or_null(&f);
			mi.auth_authen = fz_str_or_null(&f);
			tls_info(&f, &mi.tls);
			rd_session_mail(s, &mi);
			own = 0;
			break;
		case 3:
		case 7:
			memset(&ri, 0, sizeof(ri));
			ri.rcpt = fz_str_or_null(&f);
			ri.mailer = fz_str_or_null(&f);
			ri.host = fz_str_or_null(&f);
			ri.addr = fz_str_or_null(&f);
			ri.queue_id = fz_str_or_null(&f);
			memset(&v, 0x55, sizeof(v));
			rd_session_rcpt(s, &ri, &v);
			if (cap.rcpt != ++rcpts)
				fz_fail("session: %u rcpt events for %u rcpts",
				    cap.rcpt, rcpts);
			if ((unsigned)v.action > RD_ACTION_TEMPFAIL ||
			    strcmp(cap.last_action,
			    action_names[v.action]) != 0)
				fz_fail("session: verdict %u, event says %s",
				    (unsigned)v.action, cap.last_action);
			if (v.action == RD_ACTION_REJECT ||
			    v.action == RD_ACTION_TEMPFAIL)
				fz_check_reply(&v);
			else if (v.nlines != 0)
				fz_fail("session: reply lines for an accepted "
				    "recipient");
			break;
		case 4:
			name = fz_str_or_null(&f);
			rd_session_header(s, name, fz_str_or_null(&f));
			if (name != NULL &&
			    rd_strcasecmp_ascii(name, cfg->header_name) == 0)
				own++;
			break;
		case 5:
			memset(&plan, 0x55, sizeof(plan));
			rd_session_eom(s, fz_str_or_null(&f), &plan);
			check_plan(cfg, &plan, own);
			if (cap.message != ++eoms)
				fz_fail("session: %u message events for %u "
				    "messages", cap.message, eoms);
			own = 0;
			break;
		case 6:
			rd_session_abort(s);
			own = 0;
			break;
		}
	}
	rd_session_close(s);
	if (cap.session != 1)
		fz_fail("session: %u session events", cap.session);
	rd_session_free(s);
	fz_done(&f);
	return (0);
}

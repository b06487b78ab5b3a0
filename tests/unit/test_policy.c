/*
 * test_policy.c - the policy delegation front end (policy.c): the
 * attribute grammar under hostile input, and the answers: an unauthorized
 * relay gets relaydiag's explanation as one REJECT line and one rcpt event
 * (front_end "policy"); everything else gets DUNNO and publishes nothing;
 * no answer ever permits. Requests are what a real Postfix 3.7 sends
 * (README, Deployment 3), kept here as data.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/config.h"
#include "relaydiag/explained.h"
#include "relaydiag/policy.h"
#include "relaydiag/reply.h"
#include "testutil.h"

/* A request as Postfix 3.7 sends it, with %s for the varying attributes. */
static const char request_fmt[] = "request=smtpd_access_policy\n"
				  "protocol_state=RCPT\n"
				  "protocol_name=ESMTP\n"
				  "client_address=%s\n"
				  "client_name=unknown\n"
				  "client_port=58797\n"
				  "reverse_client_name=unknown\n"
				  "server_address=127.0.0.1\n"
				  "server_port=2525\n"
				  "helo_name=%s\n"
				  "sender=anna@client.test\n"
				  "recipient=%s\n"
				  "recipient_count=0\n"
				  "queue_id=\n"
				  "instance=5266.6b16266e.f13be.0\n"
				  "size=0\n"
				  "sasl_method=%s\n"
				  "sasl_username=%s\n"
				  "sasl_sender=\n"
				  "encryption_protocol=\n"
				  "encryption_cipher=\n"
				  "encryption_keysize=0\n"
				  "policy_context=\n"
				  "\n";

static struct rd_config *
cfg_new(void)
{
	struct rd_config *cfg = rd_config_defaults();
	struct rd_err err;

	assert_non_null(cfg);
	rd_netset_free(cfg->trusted_networks); /* not 127.0.0.0/8 */
	cfg->trusted_networks = rd_netset_new();
	assert_non_null(cfg->trusted_networks);
	if (rd_domainset_add_list(cfg->local_domains, "example.test", &err) !=
		0 ||
	    rd_domainset_add_list(cfg->relay_domains, "backup.test", &err) !=
		0 ||
	    rd_netset_add_list(cfg->trusted_networks, "127.0.0.100/32", &err) !=
		0)
		fail_msg("config: %s", err.text);
	return (cfg);
}

/* ask - feed text whole, answer the one request it holds */
static void
ask(const struct rd_policy_services *sv, const char *text, struct rd_buf *out)
{
	struct rd_policy_parser p;
	size_t n;

	rd_policy_parser_init(&p);
	n = rd_policy_feed(&p, text, strlen(text));
	assert_true(p.done);
	assert_int_equal(n, strlen(text));
	rd_buf_reset(out);
	rd_policy_answer(sv, &p.req, out);
	if (!rd_policy_answer_safe(out->data, out->len))
		fail_msg("unsafe answer: %s", out->data);
}

static const struct {
	const char *name, *ip, *helo, *rcpt, *mech, *user;
	const char *want; /* a part of the answer */
	size_t want_events;
} cases[] = {
    {"desktop on the MX port, no login", "127.0.0.5", "UserPC",
	"bob@gmail.test", "", "",
	"action=REJECT 5.7.1 Relay access denied for <bob@gmail.test>. A mail "
	"program (HELO \"UserPC\") connected to port 2525 from 127.0.0.5 "
	"without logging in. Fix: Set the outgoing server to port 587",
	1},
    {"a server that may not relay", "127.0.0.6", "mail.partner.test",
	"carol@remote.test", "", "",
	"is not logged in (no SMTP authentication) and not in a trusted "
	"network. Fix:",
	1},
    {"near miss: logged in: DUNNO (Postfix permits, or refuses itself)",
	"127.0.0.5", "UserPC", "bob@gmail.test", "PLAIN", "alice@example.test",
	"action=DUNNO\n\n", 0},
    {"near miss: trusted network: DUNNO", "127.0.0.100", "office.test",
	"bob@gmail.test", "", "", "action=DUNNO\n\n", 0},
    {"near miss: local domain: DUNNO", "127.0.0.5", "UserPC",
	"alice@example.test", "", "", "action=DUNNO\n\n", 0},
    {"near miss: relay domain: DUNNO", "127.0.0.5", "UserPC",
	"dave@backup.test", "", "", "action=DUNNO\n\n", 0},
    {"near miss: no domain: DUNNO", "127.0.0.5", "UserPC", "postmaster", "", "",
	"action=DUNNO\n\n", 0},
    {"hostile HELO: control bytes and a fake reply", "127.0.0.7",
	"x\r554 5.7.1 ok %s %n\x01\x7f\xff", "eve@gmail.test", "", "",
	"action=REJECT 5.7.1 ", 1},
};

static void
test_answers(void **state)
{
	struct rd_policy_services sv;
	struct tu_cap *cap = tu_cap_new();
	struct rd_config *cfg = cfg_new();
	struct rd_buf out;
	char req[4096];
	size_t i, before;
	json_t *ev;
	unsigned nbad = 0;

	(void)state;
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &cap->base;
	rd_buf_init(&out);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(req, sizeof(req), request_fmt, cases[i].ip,
		    cases[i].helo, cases[i].rcpt, cases[i].mech, cases[i].user);
		before = tu_cap_count(cap, "rcpt");
		ask(&sv, req, &out);
		if (strstr(out.data, cases[i].want) == NULL) {
			print_error("%s: answer \"%s\" lacks \"%s\"\n",
			    cases[i].name, out.data, cases[i].want);
			nbad++;
		}
		if (tu_cap_count(cap, "rcpt") - before !=
		    cases[i].want_events) {
			print_error("%s: %zu events, want %zu\n", cases[i].name,
			    tu_cap_count(cap, "rcpt") - before,
			    cases[i].want_events);
			nbad++;
		}
	}
	/* The events: front end, verdicts, and no session events. */
	ev = tu_cap_get(cap, "rcpt", 0);
	assert_non_null(ev);
	assert_string_equal(tu_jstr(ev, "front_end"), "policy");
	assert_string_equal(tu_jstr(ev, "action"), "reject");
	assert_string_equal(tu_jstr(ev, "mta.verdict"), "reject");
	assert_string_equal(
	    tu_jstr(ev, "diagnosis.id"), "relay.client-on-port-25");
	assert_string_equal(tu_jstr(ev, "client.ip"), "127.0.0.5");
	assert_int_equal(tu_cap_count(cap, "session"), 0);
	tu_cap_check_all("policy events", cap);
	TU_FAIL_IF_ANY(nbad, sizeof(cases) / sizeof(cases[0]));
	rd_buf_free(&out);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* The milter finds what the policy service published: one event. */
static void
test_explained_once(void **state)
{
	struct rd_policy_services sv;
	struct tu_cap *cap = tu_cap_new();
	struct rd_config *cfg = cfg_new();
	struct rd_explained *x = rd_explained_new(16);
	char id[RD_EXPLAINED_ID_MAX], eid[RD_EID_MAX], req[4096];
	struct rd_buf out;
	json_t *ev;

	(void)state;
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &cap->base;
	sv.explained = x;
	rd_buf_init(&out);
	snprintf(req, sizeof(req), request_fmt, "127.0.0.5", "UserPC",
	    "Bob@Gmail.Test", "", "");
	ask(&sv, req, &out);
	ev = tu_cap_get(cap, "rcpt", 0);
	assert_non_null(ev);
	/* near misses first: another port, another recipient */
	assert_false(rd_explained_take(
	    x, "127.0.0.5", 58798, "Bob@gmail.test", time(NULL), id, eid));
	assert_false(rd_explained_take(
	    x, "127.0.0.5", 58797, "al@gmail.test", time(NULL), id, eid));
	assert_false(rd_explained_take(x, "127.0.0.5", 58797, "Bob@gmail.test",
	    time(NULL) + RD_EXPLAINED_TTL + 1, id, eid));
	assert_true(rd_explained_take(
	    x, "127.0.0.5", 58797, "bob@GMAIL.test", time(NULL), id, eid));
	assert_string_equal(id, "relay.client-on-port-25");
	assert_string_equal(eid, tu_jstr(ev, "id"));
	assert_non_null(strstr(out.data, eid)); /* the Ref names the event */
	/* taken once */
	assert_false(rd_explained_take(
	    x, "127.0.0.5", 58797, "bob@gmail.test", time(NULL), id, eid));
	rd_explained_free(x);
	rd_buf_free(&out);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* The grammar: what a hostile or broken client sends. */
static void
test_hostile_requests(void **state)
{
	struct rd_policy_services sv;
	struct rd_policy_parser p;
	struct tu_cap *cap = tu_cap_new();
	struct rd_config *cfg = cfg_new();
	struct rd_buf big, out;
	char req[4096];
	size_t n, i;

	(void)state;
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &cap->base;
	rd_buf_init(&out);

	/* a 100 KB line, then a thousand attributes: answered, DUNNO */
	rd_buf_init(&big);
	rd_buf_adds(&big, "request=smtpd_access_policy\nprotocol_state=RCPT\n"
			  "client_address=127.0.0.5\nrecipient=bob@gmail.test\n"
			  "helo_name=");
	for (i = 0; i < 100000; i++)
		rd_buf_addc(&big, 'H');
	rd_buf_addc(&big, '\n');
	for (i = 0; i < 1000; i++)
		rd_buf_printf(&big, "x%zu=y\n", i);
	rd_buf_addc(&big, '\n');
	ask(&sv, big.data, &out);
	assert_string_equal(out.data, "action=DUNNO\n\n");

	/* a NUL inside the recipient: cut, DUNNO */
	rd_policy_parser_init(&p);
	n = rd_policy_feed(&p,
	    "request=smtpd_access_policy\nprotocol_state=RCPT\n"
	    "client_address=127.0.0.5\nrecipient=bob@gmail.test\0x\n\n",
	    101);
	assert_true(p.done);
	rd_buf_reset(&out);
	rd_policy_answer(&sv, &p.req, &out);
	assert_string_equal(out.data, "action=DUNNO\n\n");
	(void)n;

	/* half-sent, then the rest; CRLF line ends; two pipelined requests */
	snprintf(req, sizeof(req), request_fmt, "127.0.0.5", "UserPC",
	    "bob@gmail.test", "", "");
	rd_policy_parser_init(&p);
	n = rd_policy_feed(&p, req, 40);
	assert_int_equal(n, 40);
	assert_false(p.done);
	n = rd_policy_feed(&p, req + 40, strlen(req) - 40);
	assert_true(p.done);
	assert_string_equal(p.req.recipient, "bob@gmail.test");
	rd_policy_parser_init(&p);
	n = rd_policy_feed(
	    &p, "request=x\r\nrecipient=a@b.test\r\n\r\nrequest=y\n\n", 46);
	assert_true(p.done);
	assert_int_equal(n, 33);
	assert_string_equal(p.req.recipient, "a@b.test");
	rd_policy_parser_init(&p);
	n = rd_policy_feed(&p, "request=y\n\n", 11);
	assert_true(p.done);
	assert_string_equal(p.req.request, "y");

	/* not RCPT, not a policy request: DUNNO */
	ask(&sv,
	    "request=smtpd_access_policy\nprotocol_state=DATA\n"
	    "client_address=127.0.0.5\nrecipient=bob@gmail.test\n\n",
	    &out);
	assert_string_equal(out.data, "action=DUNNO\n\n");
	ask(&sv, "\n", &out);
	assert_string_equal(out.data, "action=DUNNO\n\n");
	assert_int_equal(tu_cap_count(cap, "rcpt"), 0);
	rd_buf_free(&big);
	rd_buf_free(&out);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* The one line Postfix passes on stays within RFC 5321's 512 octets. */
static void
test_policy_text_fits(void **state)
{
	struct rd_policy_services sv;
	struct tu_cap *cap = tu_cap_new();
	struct rd_config *cfg = cfg_new();
	struct rd_buf out;
	char req[8192], local[65], rcpt[400], helo[300];
	const char *text;
	size_t line;

	(void)state;
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &cap->base;
	rd_buf_init(&out);
	memset(local, 'l', 63); /* the longest DNS label */
	local[63] = '\0';
	snprintf(rcpt, sizeof(rcpt), "%s@%s.gmail.test", local, local);
	memset(helo, 'h', 250);
	helo[250] = '\0';
	snprintf(
	    req, sizeof(req), request_fmt, "127.0.0.5", helo, rcpt, "", "");
	ask(&sv, req, &out);
	text = out.data + strlen("action=REJECT 5.7.1 ");
	line = strlen(RD_REPLY_POLICY_PREFIX) + strlen(rcpt) + strlen(text) -
	       2; /* without the answer's two newlines */
	if (line > RD_REPLY_LINE_LIMIT)
		fail_msg("Postfix's line would be %zu octets: %s", line, text);
	if (strstr(text, " Ref relay.") == NULL) /* kept at the end */
		fail_msg("no reference: %s", out.data);
	rd_buf_free(&out);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* The invariant's own check: the two answers, nothing else. */
static void
test_answer_safe(void **state)
{
	(void)state;
	assert_true(rd_policy_answer_safe("action=DUNNO\n\n", 14));
	assert_true(rd_policy_answer_safe("action=REJECT 5.7.1 why\n\n", 25));
	assert_false(rd_policy_answer_safe("action=OK\n\n", 11));
	assert_false(rd_policy_answer_safe("action=PERMIT\n\n", 15));
	assert_false(rd_policy_answer_safe("action=REJECT 5.7.1 a\nb\n\n", 25));
	assert_false(rd_policy_answer_safe("action=REJECT 5.7.1 \n\n", 22));
	assert_false(rd_policy_answer_safe("action=DUNNO\n", 13));
	assert_false(rd_policy_answer_safe("action=REJECT 5.7.1 \xff\n\n", 23));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers),
	    cmocka_unit_test(test_explained_once),
	    cmocka_unit_test(test_hostile_requests),
	    cmocka_unit_test(test_policy_text_fits),
	    cmocka_unit_test(test_answer_safe),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

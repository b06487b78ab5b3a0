/*
 * test_logfront.c - the log front end's engine (logfront.c) on real log
 * lines: what each means as events, ids and alerts. The lines are parsed
 * by logline.c first, as the follower does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relaydiag/config.h"
#include "relaydiag/logfront.h"
#include "relaydiag/logline.h"
#include "relaydiag/recent.h"
#include "relaydiag/seen.h"
#include "testutil.h"

#define ALL (RD_LOGFMT_POSTFIX | RD_LOGFMT_SENDMAIL | RD_LOGFMT_EXIM)

struct fixture {
	struct rd_config *cfg;
	struct tu_cap *cap;
	struct rd_recent *authfails, *outbound;
	struct rd_logfront_services sv;
	time_t now;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct rd_err err;

	assert_non_null(f);
	f->cfg = rd_config_defaults();
	assert_non_null(f->cfg);
	rd_netset_free(f->cfg->trusted_networks);
	f->cfg->trusted_networks = rd_netset_new();
	if (rd_domainset_add_list(
		f->cfg->local_domains, "example.test", &err) != 0)
		fail_msg("%s", err.text);
	f->cfg->log_formats = ALL;
	f->cap = tu_cap_new();
	f->authfails = rd_recent_new(64);
	f->outbound = rd_recent_new(64);
	f->sv.cfg = f->cfg;
	f->sv.sink = &f->cap->base;
	f->sv.authfails = f->authfails;
	f->sv.outbound = f->outbound;
	f->now = time(NULL);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tu_cap_check_all("log front end events", f->cap);
	rd_sink_close(&f->cap->base);
	rd_recent_free(f->authfails);
	rd_recent_free(f->outbound);
	rd_config_free(f->cfg);
	free(f);
	return (0);
}

/* feed - one line through the parser and the engine */
static void
feed(struct fixture *f, const char *line)
{
	struct rd_logrec r;

	rd_logline_parse(line, strlen(line), f->cfg->log_formats, f->now, &r);
	rd_logfront_handle(&f->sv, &r, f->now);
}

#define BOUNCE(rcpt, host, port, text)                                         \
	"Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<" rcpt        \
	">, relay=" host port ", delay=0.05, delays=0.01/0/0.02/0.01, "        \
	"dsn=5.7.1, status=bounced (host " host " said: 554 5.7.1 <" rcpt      \
	">: " text " (in reply to RCPT TO command))"

static void
test_remote_relay_denied(void **state)
{
	struct fixture *f = *state;
	json_t *ev;

	feed(f, BOUNCE("x@remote.test", "127.0.0.1[127.0.0.1]", ":2725",
		    "Relay access denied"));
	assert_int_equal(tu_cap_count(f->cap, "delivery"), 1);
	ev = tu_cap_get(f->cap, "delivery", 0);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "remote.relay-denied");
	assert_string_equal(tu_jstr(ev, "front_end"), "log");
	assert_string_equal(tu_jstr(ev, "delivery.status"), "bounced");
	assert_string_equal(tu_jstr(ev, "delivery.relay.ip"), "127.0.0.1");
	assert_non_null(strstr(tu_jstr(ev, "diagnosis.remedy_admin"),
	    "Whether 127.0.0.1 is an MX of remote.test was not checked"));
	assert_non_null(strstr(tu_jstr(ev, "diagnosis.summary"),
	    "127.0.0.1[127.0.0.1]:2725 refused <x@remote.test>"));
	assert_true(json_is_null(json_object_get(ev, "client")));
}

static void
test_relayhost_auth(void **state)
{
	struct fixture *f = *state;
	struct rd_err err;
	json_t *ev;

	assert_int_equal(
	    rd_domainset_add(f->cfg->relay_host_names, "smtp.isp.test", &err),
	    0);
	feed(f, BOUNCE("y@gmail.test", "smtp.isp.test[192.0.2.25]", ":587",
		    "Relay access denied"));
	ev = tu_cap_get(f->cap, "delivery", 0);
	assert_string_equal(
	    tu_jstr(ev, "diagnosis.id"), "remote.relayhost-auth");
	/* near miss: another server's refusal of another kind */
	feed(f, BOUNCE("z@gmail.test", "mx.gmail.test[192.0.2.26]", ":25",
		    "Recipient address rejected: User unknown"));
	ev = tu_cap_get(f->cap, "delivery", 1);
	assert_true(json_is_null(json_object_get(ev, "diagnosis")));
}

static void
test_outbound_alert(void **state)
{
	struct fixture *f = *state;
	char line[1024];
	int i;

	f->cfg->outbound_domains = 3;
	for (i = 0; i < 4; i++) {
		snprintf(line, sizeof(line),
		    BOUNCE("a@d%d.test", "mx.d.test[192.0.2.9]", ":25",
			"Client host rejected: blocked using zen.spamhaus.org"),
		    i, i); /* the address is in the line twice */
		/* the domain in the line: a@d0.test ... */
		feed(f, line);
	}
	assert_int_equal(tu_cap_count(f->cap, "delivery"), 4);
	assert_int_equal(tu_cap_count(f->cap, "alert"), 1); /* once */
	assert_string_equal(
	    tu_jstr(tu_cap_get(f->cap, "alert", 0), "diagnosis.id"),
	    "alert.outbound-refusals");
}

#define AUTHFAIL(ip, user)                                                     \
	"Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: "         \
	"unknown[" ip                                                          \
	"]: SASL PLAIN authentication failed: (reason unavailable), "          \
	"sasl_username=" user

static void
test_auth_failures(void **state)
{
	struct fixture *f = *state;
	char line[512];
	json_t *ev;
	int i;

	f->cfg->outage_senders = 3;
	feed(f, AUTHFAIL("127.0.0.82", "frank@example.test"));
	ev = tu_cap_get(f->cap, "auth", 0);
	assert_non_null(ev);
	/* nobody logged in: "auth" stays null */
	assert_true(json_is_null(json_object_get(ev, "auth")));
	assert_string_equal(
	    tu_jstr(ev, "auth_failure.user"), "frank@example.test");
	assert_string_equal(tu_jstr(ev, "client.ip"), "127.0.0.82");
	/* the same user again is not another user */
	feed(f, AUTHFAIL("127.0.0.82", "frank@example.test"));
	assert_int_equal(tu_cap_count(f->cap, "alert"), 0);
	for (i = 0; i < 2; i++) {
		snprintf(line, sizeof(line),
		    AUTHFAIL("127.0.0.83", "user%d@example.test"), i);
		feed(f, line);
	}
	assert_int_equal(tu_cap_count(f->cap, "alert"), 1);
	assert_string_equal(
	    tu_jstr(tu_cap_get(f->cap, "alert", 0), "diagnosis.id"),
	    "alert.auth-outage");
}

/*
 * The MTA cannot reach its authentication service: the alert at once,
 * with no count (the field reports' broken auth backend), and once per
 * OutageWindow whatever the evidence; noise that looks alike is not it.
 */
static void
test_auth_service_down(void **state)
{
	struct fixture *f = *state;
	json_t *ev;

	feed(f, "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: "
		"SASL authentication failure: Password verification failed");
	assert_int_equal(tu_cap_count(f->cap, "alert"), 0);
	feed(f, "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: "
		"SASL: Connect to private/auth failed: No such file or "
		"directory");
	assert_int_equal(tu_cap_count(f->cap, "alert"), 1);
	ev = tu_cap_get(f->cap, "alert", 0);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "alert.auth-outage");
	assert_string_equal(
	    tu_jstr(ev, "threshold.metric"), "auth_service_unreachable");
	assert_true(
	    json_is_null(json_object_get(ev, "client")) ||
	    json_is_null(json_object_get(json_object_get(ev, "client"), "ip")));
	/* the same outage, said again, and by a failed login: still one */
	feed(f, "Dec  7 03:14:48 mx postfix/submission/smtpd[2312]: fatal: "
		"no SASL authentication mechanisms");
	feed(f, "Dec  7 03:14:48 mx postfix/submission/smtpd[2313]: warning: "
		"unknown[127.0.0.84]: SASL PLAIN authentication failed: "
		"Connection lost to authentication server");
	assert_int_equal(tu_cap_count(f->cap, "alert"), 1);
	assert_int_equal(tu_cap_count(f->cap, "auth"), 1);
	/* a window later: Exim's dovecot authenticator, 435, alerts again */
	f->now += f->cfg->outage_window + 1;
	feed(f, "2026-12-07 03:14:47 dovecot_plain authenticator failed for "
		"(UserPC) [127.0.0.85]:51234: 435 Unable to authenticate at "
		"present (set_id=anna@example.test): failed to connect to "
		"socket /run/dovecot/auth-client: No such file or directory");
	assert_int_equal(tu_cap_count(f->cap, "alert"), 2);
	assert_int_equal(tu_cap_count(f->cap, "auth"), 2);
}

static void
test_log_refusals(void **state)
{
	struct fixture *f = *state;
	json_t *ev;

	/* Sendmail's own refusal: the log front end's rcpt event */
	feed(f, "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: "
		"ruleset=check_rcpt, arg1=<bob@gmail.test>, relay=[127.0.0.5], "
		"reject=550 5.7.1 <bob@gmail.test>... Relaying denied");
	ev = tu_cap_get(f->cap, "rcpt", 0);
	assert_non_null(ev);
	assert_string_equal(tu_jstr(ev, "front_end"), "log");
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "relay.no-auth");
	assert_string_equal(tu_jstr(ev, "mta.verdict"), "reject");
	assert_string_equal(tu_jstr(ev, "mta.text"), "Relaying denied");
	assert_true(json_is_null(json_object_get(ev, "sender")));
	assert_int_equal(tu_cap_count(f->cap, "session"), 0);
	/* a Postfix refusal is the milter's, unless LogRejects */
	feed(f, "Dec  7 03:14:47 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT "
		"from unknown[127.0.0.6]: 554 5.7.1 <c@gmail.test>: Relay "
		"access denied; from=<a@client.test> to=<c@gmail.test> "
		"proto=ESMTP helo=<UserPC>");
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 1);
	f->cfg->log_rejects = true;
	feed(f, "Dec  7 03:14:47 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT "
		"from unknown[127.0.0.6]: 554 5.7.1 <c@gmail.test>: Relay "
		"access denied; from=<a@client.test> to=<c@gmail.test> "
		"proto=ESMTP helo=<UserPC>");
	ev = tu_cap_get(f->cap, "rcpt", 1);
	assert_non_null(ev);
	assert_string_equal(
	    tu_jstr(ev, "diagnosis.id"), "relay.client-on-port-25");
	assert_string_equal(tu_jstr(ev, "client.helo"), "UserPC");
	/* Exim: relay not permitted */
	feed(f,
	    "2026-12-07 03:14:47 H=mail.partner.test (mail.partner.test) "
	    "[127.0.0.7]:51234 I=[127.0.0.1]:25 F=<x@partner.test> rejected "
	    "RCPT <d@remote.test>: relay not permitted");
	ev = tu_cap_get(f->cap, "rcpt", 2);
	assert_non_null(ev);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "relay.no-auth");
	assert_string_equal(tu_jstr(ev, "mta.code"), "550");
}

#define SM_REFUSAL(qid, ip)                                                    \
	"Dec  7 03:14:47 mx sm-mta[4242]: " qid ": ruleset=check_rcpt, "       \
	"arg1=<bob@gmail.test>, relay=[" ip "], reject=550 5.7.1 "             \
	"<bob@gmail.test>... Relaying denied"

/* note - what the milter saw of transaction qid (client ip, HELO UserPC,
   the MX port) */
static void
note(struct rd_seen *seen, const char *qid, const char *ip, time_t now)
{
	struct rd_seen_info i;

	memset(&i, 0, sizeof(i));
	(void)snprintf(i.client_ip, sizeof(i.client_ip), "%s", ip);
	(void)snprintf(i.helo, sizeof(i.helo), "UserPC");
	i.daemon_port = 25;
	(void)snprintf(i.sender, sizeof(i.sender), "carl@client.test");
	rd_seen_note(seen, qid, &i, now);
}

/*
 * The MTA logs a refusal before the milter has handled MAIL (no reply
 * to MAIL: it does not wait): the refusal waits for the join, goes out
 * joined once the milter notes it, unjoined when its wait is over, and
 * all at once at a flush. A full queue lets its oldest out. Nothing is
 * lost, nothing twice.
 */
static void
test_join_wait(void **state)
{
	struct fixture *f = *state;
	struct rd_seen *seen = rd_seen_new(16);
	struct rd_logwait *w = rd_logwait_new(2);
	json_t *ev;

	assert_non_null(seen);
	assert_non_null(w);
	f->sv.seen = seen;
	f->sv.wait = w;
	/* already noted: out at once, joined */
	note(seen, "4B73ElWx000001", "127.0.0.5", f->now);
	feed(f, SM_REFUSAL("4B73ElWx000001", "127.0.0.5"));
	ev = tu_cap_get(f->cap, "rcpt", 0);
	assert_non_null(ev);
	assert_string_equal(
	    tu_jstr(ev, "diagnosis.id"), "relay.client-on-port-25");
	assert_string_equal(tu_jstr(ev, "sender.addr"), "carl@client.test");
	/* not noted yet: it waits; the milter notes it; the tick joins it */
	feed(f, SM_REFUSAL("4B73ElWx000002", "127.0.0.5"));
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 1);
	rd_logfront_tick(&f->sv, f->now, false);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 1);
	note(seen, "4B73ElWx000002", "127.0.0.5", f->now);
	rd_logfront_tick(&f->sv, f->now, false);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 2);
	ev = tu_cap_get(f->cap, "rcpt", 1);
	assert_string_equal(tu_jstr(ev, "client.helo"), "UserPC");
	/* never noted: out unjoined once its wait is over */
	feed(f, SM_REFUSAL("4B73ElWx000003", "127.0.0.6"));
	rd_logfront_tick(&f->sv, f->now + RD_LOGFRONT_JOIN_WAIT - 1, false);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 2);
	rd_logfront_tick(&f->sv, f->now + RD_LOGFRONT_JOIN_WAIT, false);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 3);
	ev = tu_cap_get(f->cap, "rcpt", 2);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "relay.no-auth");
	assert_true(json_is_null(json_object_get(ev, "sender")));
	/* noted for another client: no join */
	note(seen, "4B73ElWx000004", "127.0.0.9", f->now);
	feed(f, SM_REFUSAL("4B73ElWx000004", "127.0.0.7"));
	/* the queue holds 2: a third lets the oldest out */
	feed(f, SM_REFUSAL("4B73ElWx000005", "127.0.0.7"));
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 3);
	feed(f, SM_REFUSAL("4B73ElWx000006", "127.0.0.7"));
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 4);
	assert_string_equal(tu_jstr(tu_cap_get(f->cap, "rcpt", 3), "queue_id"),
	    "4B73ElWx000004");
	/* a flush: the rest, now */
	rd_logfront_tick(&f->sv, f->now, true);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 6);
	rd_logfront_tick(&f->sv, f->now + 60, true);
	assert_int_equal(tu_cap_count(f->cap, "rcpt"), 6);
	f->sv.seen = NULL;
	f->sv.wait = NULL;
	rd_logwait_free(w);
	rd_seen_free(seen);
}

/* A refused relay right after a failed AUTH: relay.auth-failed. */
static void
test_auth_failed_relay(void **state)
{
	struct fixture *f = *state;
	json_t *ev;

	feed(f, AUTHFAIL("127.0.0.9", "anna@example.test"));
	feed(f, "Dec  7 03:14:48 mx sm-mta[4242]: 4B73ElWx004243: "
		"ruleset=check_rcpt, arg1=<e@gmail.test>, relay=[127.0.0.9], "
		"reject=550 5.7.1 <e@gmail.test>... Relaying denied");
	ev = tu_cap_get(f->cap, "rcpt", 0);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "relay.auth-failed");
	assert_non_null(
	    strstr(tu_jstr(ev, "diagnosis.summary"), "(as anna@example.test)"));
	/* near miss: another client */
	feed(f, "Dec  7 03:14:48 mx sm-mta[4242]: 4B73ElWx004244: "
		"ruleset=check_rcpt, arg1=<e@gmail.test>, relay=[127.0.0.10], "
		"reject=550 5.7.1 <e@gmail.test>... Relaying denied");
	ev = tu_cap_get(f->cap, "rcpt", 1);
	assert_string_equal(tu_jstr(ev, "diagnosis.id"), "relay.no-auth");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
		test_remote_relay_denied, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_relayhost_auth, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_outbound_alert, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auth_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auth_service_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_log_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_join_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_auth_failed_relay, setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

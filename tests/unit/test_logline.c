/*
 * test_logline.c - the MTA's log lines (logline.c), table-driven on real
 * lines: Postfix 3.7's maillog_file and syslog (the lines of
 * shared/design/postfix-notes.md and of the e2e runs), Sendmail 8.17,
 * Exim 4.96 and the field reports' own lines; near misses next to hits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/logline.h"
#include "testutil.h"

#define ALL (RD_LOGFMT_POSTFIX | RD_LOGFMT_SENDMAIL | RD_LOGFMT_EXIM)

/* clang-format off */
static const struct {
	const char *name, *line;
	unsigned formats;
	enum rd_logkind want;
	/* field=value checks, "" for none */
	const char *w1, *w2, *w3, *w4, *w5;
} cases[] = {
	{ "Postfix bounce: the remote server refused relaying",
	  "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<x@remote.test>, relay=127.0.0.1[127.0.0.1]:2725, delay=0.05, delays=0.01/0/0.02/0.01, dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <x@remote.test>: Relay access denied (in reply to RCPT TO command))",
	  ALL, RD_LOG_DELIVERY, "rcpt=x@remote.test", "relay_ip=127.0.0.1", "relay_port=2725",
	  "text=Relay access denied", "status=bounced" },
	{ "Postfix deferral, 454 (soft_bounce), orig_to and a host name",
	  "Dec 07 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<y@remote.test>, orig_to=<alias@example.test>, relay=mx.remote.test[192.0.2.25]:25, delay=1.2, delays=0.01/0/0.02/1.1, dsn=4.7.1, status=deferred (host mx.remote.test[192.0.2.25] said: 454 4.7.1 <y@remote.test>: Relay access denied (in reply to RCPT TO command))",
	  ALL, RD_LOG_DELIVERY, "relay_host=mx.remote.test", "code=454", "dsn=4.7.1",
	  "status=deferred", "in_reply_to_rcpt=1" },
	{ "near miss: a deferral without a remote reply",
	  "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<x@remote.test>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to 127.0.0.1[127.0.0.1]:2725: Connection refused)",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "near miss: delivered",
	  "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<x@remote.test>, relay=127.0.0.1[127.0.0.1]:2725, delay=0.05, delays=0.01/0/0.02/0.01, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1234)",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "Postfix failed AUTH (notes, Dovecot)",
	  "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: unknown[127.0.0.82]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=frank@example.test",
	  ALL, RD_LOG_AUTH_FAIL, "client_ip=127.0.0.82", "mech=PLAIN", "user=frank@example.test",
	  "text=(reason unavailable)", "prog=postfix/submission/smtpd" },
	{ "Postfix failed AUTH, LOGIN without user, syslog ISO stamp",
	  "2026-12-07T03:14:47.123456+01:00 mx postfix/smtpd[2311]: warning: host.example[198.51.100.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
	  ALL, RD_LOG_AUTH_FAIL, "client_name=host.example", "mech=LOGIN", "user=",
	  "text=UGFzc3dvcmQ6", "ts=1796609687" },
	{ "Postfix NOQUEUE reject (field report, Windows Mail thread)",
	  "Jul 18 08:25:19 company postfix/smtpd[29282]: NOQUEUE: reject: RCPT from company.university.edu[111.111.11.11]: 554 5.7.1 <email@gmail.com>: Relay access denied; from=<user_name@domain.com> to=<email@gmail.com> proto=ESMTP helo=<UserPC>",
	  ALL, RD_LOG_RCPT_REJECT, "client_ip=111.111.11.11", "helo=UserPC",
	  "text=Relay access denied", "sender=user_name@domain.com", "queue_id=" },
	{ "Postfix reject with the client's port (smtpd_client_port_logging)",
	  "Dec  7 03:14:47 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[127.0.0.82]:40123: 554 5.7.1 <l3@gmail.test>: Relay access denied; from=<frank@example.test> to=<l3@gmail.test> proto=ESMTP helo=<pc.example.test>",
	  ALL, RD_LOG_RCPT_REJECT, "client_port=40123", "rcpt=l3@gmail.test", "code=554",
	  "dsn=5.7.1", "" },
	{ "near miss: the field report's line with its addresses stripped",
	  "Jan 23 03:10:57 mysev postfix/smtpd[15921]: NOQUEUE: reject: RCPT from mail-wg0-f53.google.com[74.125.82.53]: 554 5.7.1 : Relay access denied; from= to= proto=ESMTP helo=",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "near miss: a Postfix line when only Sendmail is read",
	  "Dec  7 03:14:47 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[127.0.0.82]: 554 5.7.1 <l3@gmail.test>: Relay access denied; from=<f@e.test> to=<l3@gmail.test> proto=ESMTP helo=<pc>",
	  RD_LOGFMT_SENDMAIL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "Sendmail check_rcpt: Relaying denied",
	  "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: ruleset=check_rcpt, arg1=<bob@gmail.test>, relay=[127.0.0.5], reject=550 5.7.1 <bob@gmail.test>... Relaying denied",
	  ALL, RD_LOG_RCPT_REJECT, "queue_id=4B73ElWx004242", "client_ip=127.0.0.5",
	  "text=Relaying denied", "code=550", "format=2" },
	{ "Sendmail check_rcpt with a host name, may be forged",
	  "Dec  7 03:14:47 mx sendmail[4242]: 4B73ElWx004242: ruleset=check_rcpt, arg1=<carol@remote.test>, relay=pc.client.test [203.0.113.5] (may be forged), reject=550 5.7.1 <carol@remote.test>... Relaying denied. IP name possibly forged [203.0.113.5]",
	  ALL, RD_LOG_RCPT_REJECT, "client_name=pc.client.test", "client_ip=203.0.113.5",
	  "rcpt=carol@remote.test", "", "" },
	{ "Sendmail failed AUTH",
	  "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, relay=[127.0.0.9]",
	  ALL, RD_LOG_AUTH_FAIL, "mech=PLAIN", "client_ip=127.0.0.9", "user=", "", "" },
	{ "Sendmail 8.17 failed AUTH with the login (t_sendmail's syslog)",
	  "Dec  7 04:00:03 mx sendmail[42]: 6B7403DQ000042: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=bob@example.test, relay=[127.0.0.7]",
	  ALL, RD_LOG_AUTH_FAIL, "mech=LOGIN", "user=bob@example.test", "client_ip=127.0.0.7",
	  "text=authentication failure (-13) SASL(-13): authentication failure: checkpass failed", "" },
	{ "Sendmail 8.17 check_rcpt, as t_sendmail's syslog has it",
	  "Dec  7 04:00:02 mx sendmail[18]: 6B7402O9000018: ruleset=check_rcpt, arg1=<bob@gmail.test>, relay=[127.0.0.5], reject=550 5.7.1 <bob@gmail.test>... Relaying denied. IP name lookup failed [127.0.0.5]",
	  ALL, RD_LOG_RCPT_REJECT, "queue_id=6B7402O9000018", "text=Relaying denied. IP name lookup failed [127.0.0.5]", "", "", "" },
	{ "Exim bounce from a remote server (field report, seed 000)",
	  "2016-10-10 14:05:23 1btaGg-0004ei-Mf ** email@address.com  R=dkim_lookuphost T=dkim_remote_smtp H=someserver.com [192.168.0.1] X=TLSv1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes: SMTP error from remote mail server after RCPT TO:<email@address.com>: 554 5.7.1 <email@addrss.com>: Recipient address rejected: Access denied",
	  ALL, RD_LOG_DELIVERY, "relay_host=someserver.com", "relay_ip=192.168.0.1",
	  "text=Recipient address rejected: Access denied", "status=bounced", "in_reply_to_rcpt=1" },
	{ "Exim deferral: 454 Relay access denied, with pid and timezone",
	  "2026-12-07 03:14:47 +0000 [4711] 1v2AbC-00000000XyZ-Q1 == bob@remote.test R=dnslookup T=remote_smtp defer (-44) H=mx.remote.test [192.0.2.25]: SMTP error from remote mail server after RCPT TO:<bob@remote.test>: 454 4.7.1 <bob@remote.test>: Relay access denied",
	  ALL, RD_LOG_DELIVERY, "status=deferred", "code=454", "queue_id=1v2AbC-00000000XyZ-Q1",
	  "text=Relay access denied", "" },
	{ "Exim rejected RCPT: relay not permitted, port and interface",
	  "2026-12-07 03:14:47 H=(UserPC) [203.0.113.5]:51234 I=[192.0.2.1]:25 F=<anna@client.test> rejected RCPT <bob@gmail.test>: relay not permitted",
	  ALL, RD_LOG_RCPT_REJECT, "helo=UserPC", "client_port=51234",
	  "sender=anna@client.test", "text=relay not permitted", "" },
	{ "Exim rejected RCPT: sender verify failed (seed 000)",
	  "2016-10-10 14:05:23 H=(myserver.com) [xx.xx.xx.xx] F=<myuser@mydomain.com> rejected RCPT <senderuser@senderdomain.com>: Sender verify failed",
	  ALL, RD_LOG_RCPT_REJECT, "helo=myserver.com", "text=Sender verify failed", "", "", "" },
	{ "Exim sender verify fail: the callout's answer (seed 000)",
	  "2016-10-10 14:05:23 H=(myserver.com) [xx.xx.xx.xx] sender verify fail for <myuser@mydomain.com>: response to \"RCPT TO:<myuser@mydomain.com>\" from senderserver.com [yy.yy.yy.yy] was: 554 <myuser@mydomain.com>: Relay access denied",
	  ALL, RD_LOG_VERIFY_FAIL, "sender=myuser@mydomain.com", "", "", "", "" },
	{ "Exim failed AUTH",
	  "2026-12-07 03:14:47 dovecot_plain authenticator failed for (UserPC) [203.0.113.5]:51234: 535 Incorrect authentication data (set_id=anna@example.test)",
	  ALL, RD_LOG_AUTH_FAIL, "mech=dovecot_plain", "user=anna@example.test",
	  "client_ip=203.0.113.5", "helo=UserPC", "" },
	{ "Exim 4.96 rejected RCPT, +incoming_port +incoming_interface (real)",
	  "2026-12-07 04:01:07 H=(UserPC) [127.0.0.5]:50495 I=[127.0.0.1]:2825 F=<a@client.test> rejected RCPT <bob@gmail.test>: relay not permitted",
	  ALL, RD_LOG_RCPT_REJECT, "client_port=50495", "daemon_ip=127.0.0.1",
	  "daemon_port=2825", "sender=a@client.test", "rcpt=bob@gmail.test" },
	{ "Exim failed AUTH with I= and U= (ident)",
	  "2026-12-07 03:14:47 plain authenticator failed for (UserPC) [2001:db8::5]:51234 I=[2001:db8::1]:587 U=anna: 535 Incorrect authentication data (set_id=anna@example.test)",
	  ALL, RD_LOG_AUTH_FAIL, "client_ip=2001:db8::5", "daemon_port=587",
	  "user=anna@example.test", "code=535", "" },
	{ "hostile: a junk HELO (helo_accept_junk_hosts) that writes a fake client",
	  "2026-12-07 04:03:21 H=(J) [9.9.9.9]:1 F=<s@x.test> rejected RCPT <s@g.test>: x ( ) [127.0.0.50]:60369 I=[127.0.0.1]:2825 F=<x@client.test> rejected RCPT <hostile1@gmail.test>: relay not permitted",
	  ALL, RD_LOG_RCPT_REJECT, "client_ip=127.0.0.50", "client_port=60369",
	  "rcpt=hostile1@gmail.test", "sender=x@client.test", "text=relay not permitted" },
	{ "Postfix: Dovecot's auth socket cannot be reached",
	  "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: SASL: Connect to private/auth failed: Connection refused",
	  ALL, RD_LOG_AUTH_DOWN, "text=Connect to private/auth failed: Connection refused", "", "", "", "" },
	{ "Postfix 3.7: Dovecot's auth socket is gone (real)",
	  "Dec 07 04:17:21 mx postfix/submission/smtpd[9111]: warning: SASL: Connect to Dovecot auth socket '/tmp/rd-e2e.HS8fco/dovecot/auth-postfix' failed: No such file or directory",
	  ALL, RD_LOG_AUTH_DOWN, "text=Connect to Dovecot auth socket '/tmp/rd-e2e.HS8fco/dovecot/auth-postfix' failed: No such file or directory", "", "", "", "" },
	{ "Postfix 3.7: the failed AUTH that follows, no login known (real)",
	  "Dec 07 04:17:21 mx postfix/submission/smtpd[9111]: warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=(unavailable)",
	  ALL, RD_LOG_AUTH_FAIL, "user=", "text=(reason unavailable)", "client_ip=127.0.0.1", "mech=PLAIN", "" },
	{ "Postfix: smtpd with no SASL mechanism",
	  "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: fatal: no SASL authentication mechanisms",
	  ALL, RD_LOG_AUTH_DOWN, "text=no SASL authentication mechanisms", "", "", "", "" },
	{ "Postfix: Cyrus saslauthd cannot be reached",
	  "Dec  7 03:14:47 mx postfix/smtpd[2311]: warning: SASL authentication failure: cannot connect to saslauthd server: No such file or directory",
	  ALL, RD_LOG_AUTH_DOWN, "text=cannot connect to saslauthd server: No such file or directory", "", "", "", "" },
	{ "near miss: a wrong password is not the service down",
	  "Dec  7 03:14:47 mx postfix/smtpd[2311]: warning: SASL authentication failure: Password verification failed",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "near miss: not a mail line", "Dec  7 03:14:47 mx kernel: eth0: link up",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "near miss: no timestamp", "postfix/smtpd[1]: warning: x[1.2.3.4]: SASL PLAIN authentication failed: x",
	  ALL, RD_LOG_OTHER, "", "", "", "", "" },
	{ "hostile: escape sequences and a fake field in the HELO",
	  "Dec  7 03:14:47 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[127.0.0.82]: 554 5.7.1 <x@gmail.test>: Relay access denied; from=<a@b.test> to=<x@gmail.test> proto=ESMTP helo=<\x1b[31mevil; to=<other@x>>",
	  ALL, RD_LOG_RCPT_REJECT, "rcpt=x@gmail.test", "", "", "", "" },
};
/* clang-format on */

/* field - the value of name in r, as text */
static const char *
field(const struct rd_logrec *r, const char *name, char *buf, size_t len)
{
	static const struct {
		const char *name;
		size_t off;
	} f[] = {
	    {"rcpt", offsetof(struct rd_logrec, rcpt)},
	    {"sender", offsetof(struct rd_logrec, sender)},
	    {"client_ip", offsetof(struct rd_logrec, client_ip)},
	    {"client_name", offsetof(struct rd_logrec, client_name)},
	    {"daemon_ip", offsetof(struct rd_logrec, daemon_ip)},
	    {"helo", offsetof(struct rd_logrec, helo)},
	    {"relay_host", offsetof(struct rd_logrec, relay_host)},
	    {"relay_ip", offsetof(struct rd_logrec, relay_ip)},
	    {"status", offsetof(struct rd_logrec, status)},
	    {"code", offsetof(struct rd_logrec, code)},
	    {"dsn", offsetof(struct rd_logrec, dsn)},
	    {"text", offsetof(struct rd_logrec, text)},
	    {"mech", offsetof(struct rd_logrec, mech)},
	    {"user", offsetof(struct rd_logrec, user)},
	    {"queue_id", offsetof(struct rd_logrec, queue_id)},
	    {"prog", offsetof(struct rd_logrec, prog)},
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (strcmp(f[i].name, name) == 0)
			return ((const char *)r + f[i].off);
	if (strcmp(name, "client_port") == 0)
		snprintf(buf, len, "%u", r->client_port);
	else if (strcmp(name, "daemon_port") == 0)
		snprintf(buf, len, "%u", r->daemon_port);
	else if (strcmp(name, "relay_port") == 0)
		snprintf(buf, len, "%u", r->relay_port);
	else if (strcmp(name, "in_reply_to_rcpt") == 0)
		snprintf(buf, len, "%d", r->in_reply_to_rcpt);
	else if (strcmp(name, "format") == 0)
		snprintf(buf, len, "%u", r->format);
	else if (strcmp(name, "ts") == 0)
		snprintf(buf, len, "%lld", (long long)r->ts);
	else
		fail_msg("unknown field %s", name);
	return (buf);
}

static void
test_lines(void **state)
{
	struct rd_logrec r;
	const char *w[5], *eq, *got;
	char name[32], buf[64];
	unsigned nbad = 0;
	size_t i, k;
	/* 2026-12-07 12:00 UTC: "now" for lines without a year */
	time_t now = 1796644800;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rd_logline_parse(cases[i].line, strlen(cases[i].line),
		    cases[i].formats, now, &r);
		if (r.kind != cases[i].want) {
			print_error("%s: got %s, want %s\n", cases[i].name,
			    rd_logkind_name(r.kind),
			    rd_logkind_name(cases[i].want));
			nbad++;
			continue;
		}
		w[0] = cases[i].w1;
		w[1] = cases[i].w2;
		w[2] = cases[i].w3;
		w[3] = cases[i].w4;
		w[4] = cases[i].w5;
		for (k = 0; k < 5; k++) {
			if (w[k][0] == '\0' || (eq = strchr(w[k], '=')) == NULL)
				continue;
			snprintf(
			    name, sizeof(name), "%.*s", (int)(eq - w[k]), w[k]);
			got = field(&r, name, buf, sizeof(buf));
			if (strcmp(got, eq + 1) != 0) {
				print_error("%s: %s: got \"%s\", want \"%s\"\n",
				    cases[i].name, name, got, eq + 1);
				nbad++;
			}
		}
	}
	if (nbad > 0)
		fail_msg("%u log line checks failed", nbad);
}

/* A year is guessed: December's line read in January is last year's. */
static void
test_year(void **state)
{
	struct rd_logrec r;
	/* 2027-01-02 00:00 UTC */
	time_t jan = 1798848000;
	const char *l = "Dec 31 23:59:59 mx postfix/smtpd[1]: warning: "
			"x[192.0.2.1]: SASL PLAIN authentication failed: x";

	(void)state;
	assert_int_equal(
	    rd_logline_parse(l, strlen(l), ALL, jan, &r), RD_LOG_AUTH_FAIL);
	assert_int_equal(r.ts, 1798761599); /* 2026-12-31 23:59:59 */
}

/* Long lines, NUL bytes, 8-bit bytes: a value cut says so. */
static void
test_hostile(void **state)
{
	char line[RD_LOGLINE_MAX * 2];
	struct rd_logrec r;
	int n;

	(void)state;
	n = snprintf(line, sizeof(line),
	    "Dec  7 03:14:47 mx postfix/smtpd[1]: warning: x[192.0.2.1]: "
	    "SASL PLAIN authentication failed: x, sasl_username=");
	memset(line + n, 'U', sizeof(line) - (size_t)n - 1);
	line[sizeof(line) - 1] = '\0';
	assert_int_equal(
	    rd_logline_parse(line, strlen(line), ALL, 0, &r), RD_LOG_AUTH_FAIL);
	assert_true(r.cut);
	assert_true(strlen(r.user) < sizeof(r.user));
	memcpy(line + n, "al\0ice", 7);
	assert_int_equal(rd_logline_parse(line, (size_t)n + 6, ALL, 0, &r),
	    RD_LOG_AUTH_FAIL);
	assert_true(r.cut); /* the NUL ended the line: said, not hidden */
	assert_string_equal(r.user, "al");
	assert_int_equal(rd_logline_parse("", 0, ALL, 0, &r), RD_LOG_OTHER);
	assert_int_equal(
	    rd_logline_parse("Dec  7 03:14:47", 15, ALL, 0, &r), RD_LOG_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_year),
	    cmocka_unit_test(test_hostile),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

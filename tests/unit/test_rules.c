/*
 * test_rules.c - the MTA reply-text rules (rules.c) and the admin's
 * templates (templates.c): the shipped rules against real Postfix and
 * Sendmail wording, near misses, an admin's file tried first, and bad
 * files reported with file:line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "relaydiag/diagnose.h"
#include "relaydiag/rules.h"
#include "relaydiag/templates.h"
#include "testutil.h"

static struct rd_rules *
builtin(void)
{
	struct rd_rules *r = rd_rules_new();
	struct rd_err err;

	assert_non_null(r);
	if (rd_rules_add_default(r, &err) != 0)
		fail_msg("built-in rules: %s:%u: %s", err.source, err.line,
		    err.text);
	return (r);
}

static void
test_builtin_texts(void **state)
{
	/* Texts as the MTAs send them in {rcpt_addr} (postfix-notes.md). */
	static const struct {
		const char *name, *text, *want;
	} cases[] = {
	    {"Postfix relay refusal", "Relay access denied", "relay"},
	    {"Sendmail relay refusal", "Relaying denied", "relay"},
	    {"Sendmail relay refusal, with address",
		"<bob@x.test>... Relaying denied. Proper authentication "
		"required.",
		"relay"},
	    {"Exim relay refusal", "relay not permitted", "relay"},
	    {"relaying is not allowed (regex)",
		"Relaying is not allowed for this client", "relay"},
	    {"upper case", "RELAY ACCESS DENIED", "relay"},
	    {"client restriction", "Client host rejected: Access denied",
		"mta.client-rejected"},
	    {"virtual user unknown",
		"Recipient address rejected: User unknown in virtual mailbox "
		"table",
		"rcpt.unknown-user"},
	    {"local user unknown",
		"Recipient address rejected: User unknown in local recipient "
		"table",
		"rcpt.unknown-user"},
	    {"Sendmail user unknown", "<nobody@x.test>... User unknown",
		"rcpt.unknown-user"},
	    {"recipient access table",
		"Recipient address rejected: Access denied",
		"mta.recipient-access-denied"},
	    {"sender verification",
		"Sender address rejected: undeliverable address: host "
		"x[1.2.3.4] said: 550 no such user",
		"mta.sender-verify-failed"},
	    {"sender verification, Postfix wording",
		"Sender address rejected: Address verification failed",
		"mta.sender-verify-failed"},
	    {"RBL",
		"Service unavailable; Client host [192.0.2.1] blocked using "
		"zen.spamhaus.org",
		"mta.rbl-listed"},
	    {"login mismatch",
		"Sender address rejected: not owned by user alice",
		"sender.login-mismatch"},
	    {"unknown sender domain",
		"Sender address rejected: Domain not found",
		"mta.unknown-domain"},
	    {"Sendmail unknown sender domain",
		"Domain of sender address x@nowhere.test does not exist",
		"mta.unknown-domain"},
	    /* near misses */
	    {"near miss: a relay word alone", "Relay host is down", NULL},
	    {"near miss: access denied alone", "Access denied", NULL},
	    {"near miss: greylisting",
		"Recipient address rejected: Greylisted, try again", NULL},
	    {"near miss: empty", "", NULL},
	};
	struct rd_rules *r = builtin();
	size_t i;

	(void)state;
	assert_true(rd_rules_count(r) >= 20);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = rd_rules_match(r, cases[i].text);

		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got, cases[i].want) != 0))
			fail_msg("%s: got %s, want %s", cases[i].name,
			    got != NULL ? got : "(none)",
			    cases[i].want != NULL ? cases[i].want : "(none)");
	}
	assert_null(rd_rules_match(r, NULL));
	assert_null(rd_rules_match(NULL, "Relay access denied"));
	rd_rules_free(r);
}

static void
test_admin_first(void **state)
{
	struct rd_rules *r = rd_rules_new();
	struct rd_err err;

	(void)state;
	/* An admin's own wording, and an override of a shipped rule. */
	assert_int_equal(
	    rd_rules_add_text(r, "admin",
		"# site rules\n"
		"mta.rbl-listed   /rejected by policy [0-9]+/\n"
		"mta.other        user unknown in relay recipient table\n"
		"\n",
		&err),
	    0);
	assert_int_equal(rd_rules_add_default(r, &err), 0);
	assert_string_equal(rd_rules_match(r, "Client rejected by policy 42"),
	    "mta.rbl-listed");
	assert_string_equal(
	    rd_rules_match(r,
		"Recipient address rejected: User unknown in relay recipient "
		"table"),
	    "mta.other");
	assert_string_equal(
	    rd_rules_match(r,
		"Recipient address rejected: User unknown in local recipient "
		"table"),
	    "rcpt.unknown-user");
	rd_rules_free(r);
}

static void
test_bad_rules(void **state)
{
	static const struct {
		const char *name, *text, *want;
	} cases[] = {
	    {"unknown id", "relay.nonsense  foo\n",
		"t:1: unknown diagnosis id \"relay.nonsense\" (see the "
		"catalogue in relaydiag(8), or \"relay\")"},
	    {"no pattern", "\n# x\nrelay\n",
		"t:3: rule for \"relay\" has no pattern; write: <id> <text or "
		"/regex/>"},
	    {"bad regex", "relay /a(b/\n",
		"t:1: bad regular expression /a(b/: "},
	    {"quantifier after a possessive one", "relay /ad+++ress/\n",
		"t:1: bad regular expression /ad+++ress/: quantifier does not "
		"follow a repeatable item (at byte 5)"},
	    {"unknown escape", "relay /a\\Cb/\n",
		"t:1: bad regular expression /a\\Cb/: "},
	};
	struct rd_err err;
	char got[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rd_rules *r = rd_rules_new();

		if (rd_rules_add_text(r, "t", cases[i].text, &err) == 0)
			fail_msg("%s: accepted", cases[i].name);
		rd_err_format(&err, got, sizeof(got));
		if (strncmp(got, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
			    got, cases[i].want);
		rd_rules_free(r);
	}
}

/*
 * PCRE2 as Postfix's pcre: tables: lazy and possessive quantifiers are
 * fine, and a pattern that backtracks without end ("(a+)+$" on a long run
 * of a's) stops at the match limit and is no match, instead of hanging the
 * session; the next rule is still tried.
 */
static void
test_regex_limits(void **state)
{
	struct rd_rules *r = rd_rules_new();
	struct rd_err err;
	char text[200];

	(void)state;
	if (rd_rules_add_text(r, "t",
		"mta.other /(a+)+$/\nrcpt.unknown-user /a*?b/\n"
		"mta.rbl-listed /x++y/\n",
		&err) != 0)
		fail_msg("PCRE2 syntax refused: %s", err.text);
	memset(text, 'a', sizeof(text) - 2);
	text[sizeof(text) - 2] = '!';
	text[sizeof(text) - 1] = '\0';
	assert_null(rd_rules_match(r, text)); /* the limit: no match */
	assert_string_equal(rd_rules_match(r, "aaab"), "rcpt.unknown-user");
	assert_string_equal(rd_rules_match(r, "xxxy"), "mta.rbl-listed");
	rd_rules_free(r);
}

static void
test_rules_file(void **state)
{
	char path[] = "/tmp/test_rules.XXXXXX";
	struct rd_rules *r = rd_rules_new();
	struct rd_err err;
	int fd;

	(void)state;
	assert_int_equal(rd_rules_add_file(r, "/nonexistent/rules", &err), -1);
	assert_string_equal(err.source, "/nonexistent/rules");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	tu_write_file(path, "mta.other  something odd\nrelay\tnot here\n");
	assert_int_equal(rd_rules_add_file(r, path, &err), 0);
	assert_int_equal(rd_rules_count(r), 2);
	assert_string_equal(rd_rules_match(r, "you are NOT HERE"), "relay");
	unlink(path);
	rd_rules_free(r);
}

/* when= conditions: a rule holds only where its context does */
static void
test_rules_when(void **state)
{
	static const struct {
		const char *name, *text;
		unsigned have;
		const char *want;
	} cases[] = {
	    {"listener wants a login, client did not",
		"Client host rejected: Access denied", RD_RULES_SASL_REQUIRED,
		"submission.no-auth"},
	    {"near miss: logged in", "Client host rejected: Access denied",
		RD_RULES_SASL_REQUIRED | RD_RULES_AUTH, "mta.client-rejected"},
	    {"near miss: listener demands nothing",
		"Client host rejected: Access denied", 0,
		"mta.client-rejected"},
	    {"recipient list wants a login",
		"Recipient address rejected: Access denied",
		RD_RULES_SASL_REQUIRED | RD_RULES_TLS, "submission.no-auth"},
	    {"near miss: a table's own reject text",
		"Client host rejected: go away", RD_RULES_SASL_REQUIRED,
		"mta.client-rejected"},
	};
	struct rd_rules *r = rd_rules_new();
	struct rd_err err;
	size_t i;

	(void)state;
	assert_int_equal(rd_rules_add_default(r, &err), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got =
		    rd_rules_match_when(r, cases[i].text, cases[i].have);

		if (got == NULL || strcmp(got, cases[i].want) != 0)
			fail_msg("%s: got %s, want %s", cases[i].name,
			    got != NULL ? got : "(none)", cases[i].want);
	}
	/* Without a context, a conditional rule never holds. */
	assert_string_equal(
	    rd_rules_match(r, "Client host rejected: Access denied"),
	    "mta.client-rejected");
	rd_rules_free(r);

	/* An admin's own: a condition on trust, and the errors. */
	r = rd_rules_new();
	assert_int_equal(
	    rd_rules_add_text(
		r, "mine", "relay when=trusted,!auth /our own words/\n", &err),
	    0);
	assert_string_equal(
	    rd_rules_match_when(r, "in OUR OWN WORDS", RD_RULES_TRUSTED),
	    "relay");
	assert_null(rd_rules_match_when(
	    r, "in our own words", RD_RULES_TRUSTED | RD_RULES_AUTH));
	assert_int_equal(rd_rules_add_text(r, "mine",
			     "relay\nrelay when=trusted,bogus text\n", &err),
	    -1);
	assert_int_equal(err.line, 1); /* no pattern on line 1 first */
	assert_int_equal(
	    rd_rules_add_text(r, "mine", "relay when=bogus text\n", &err), -1);
	assert_non_null(strstr(err.text, "unknown condition \"bogus\""));
	assert_int_equal(
	    rd_rules_add_text(r, "mine", "relay when= text\n", &err), -1);
	assert_int_equal(
	    rd_rules_add_text(r, "mine", "relay when=auth\n", &err), -1);
	rd_rules_free(r);
}

static void
test_templates(void **state)
{
	char path[] = "/tmp/test_tpl.XXXXXX";
	struct rd_templates *t;
	const struct rd_template *e;
	struct rd_facts f;
	struct rd_diagnosis d;
	struct rd_err err;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(close(fd), 0);
	tu_write_file(path, "# our help desk\nrelay.no-auth remedy_client See "
			    "https://help.example.org/smtp (from ${client})\n"
			    "relay.no-auth summary No login from ${client}.\n");
	t = rd_templates_load(path, &err);
	if (t == NULL)
		fail_msg("%s:%u: %s", err.source, err.line, err.text);
	e = rd_templates_find(t, "relay.no-auth");
	assert_non_null(e);
	assert_null(e->remedy_admin);
	assert_null(rd_templates_find(t, "delivery.local"));

	memset(&f, 0, sizeof(f));
	f.client_ip = "192.0.2.5";
	f.templates = t;
	assert_int_equal(rd_diagnose_fill("relay.no-auth", &f, &d), 0);
	assert_string_equal(d.summary, "No login from 192.0.2.5.");
	assert_string_equal(d.remedy_client,
	    "See https://help.example.org/smtp (from 192.0.2.5)");
	/* Not overridden: the catalogue's own text. */
	assert_non_null(strstr(d.remedy_admin, "smtpd_sasl_auth_enable"));
	rd_templates_free(t);

	tu_write_file(path, "\nrelay.no-auth remedy_user x\n");
	assert_null(rd_templates_load(path, &err));
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.text, "unknown field \"remedy_user\""));
	tu_write_file(path, "relay.nope summary x\n");
	assert_null(rd_templates_load(path, &err));
	assert_int_equal(err.line, 1);
	tu_write_file(
	    path, "relay.no-auth summary a\nrelay.no-auth summary b\n");
	assert_null(rd_templates_load(path, &err));
	assert_int_equal(err.line, 2);
	unlink(path);
	assert_null(rd_templates_find(NULL, "relay.no-auth"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_texts),
	    cmocka_unit_test(test_admin_first),
	    cmocka_unit_test(test_bad_rules),
	    cmocka_unit_test(test_regex_limits),
	    cmocka_unit_test(test_rules_file),
	    cmocka_unit_test(test_rules_when),
	    cmocka_unit_test(test_templates),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * test_restrict.c - restrict.c (Postfix restriction lists read for a relay
 * decision) and listener.c (a listener's name, the Listener line, which
 * listener a connection came in on). Table-driven: each case has a name
 * in words, near misses next to the hits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/listener.h"
#include "relaydiag/restrict.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
static const struct {
	const char *name, *relay, *rcpt;
	enum rd_restrict_by by;
	bool want_found;
	const char *want_text; /* a part of the sentence */
} refusals[] = {
	{ "field report: reject_unauth_destination before the SASL permit",
	  "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination",
	  "reject_unauth_destination, permit_sasl_authenticated, permit_mynetworks",
	  RD_RESTRICT_SASL, true,
	  "In smtpd_recipient_restrictions = reject_unauth_destination, "
	  "permit_sasl_authenticated, permit_mynetworks, "
	  "reject_unauth_destination comes before permit_sasl_authenticated" },
	{ "relay list without permit_sasl_authenticated",
	  "permit_mynetworks reject_unauth_destination", "",
	  RD_RESTRICT_SASL, true,
	  "smtpd_relay_restrictions = permit_mynetworks, "
	  "reject_unauth_destination has no permit_sasl_authenticated before "
	  "reject_unauth_destination" },
	{ "defer_unauth_destination counts as the relay check",
	  "defer_unauth_destination, permit_sasl_authenticated", NULL,
	  RD_RESTRICT_SASL, true, "defer_unauth_destination comes before" },
	{ "network: permit_mynetworks missing",
	  "permit_sasl_authenticated, reject_unauth_destination", "",
	  RD_RESTRICT_NETWORK, true,
	  "has no permit_mynetworks before reject_unauth_destination" },
	{ "a table with its argument stays one entry",
	  "check_client_access hash:/etc/postfix/x, {reject_unauth_destination}, "
	  "permit_sasl_authenticated", NULL, RD_RESTRICT_SASL, true,
	  "= check_client_access hash:/etc/postfix/x, reject_unauth_destination" },
	{ "near miss: warn_if_reject only warns",
	  "permit_mynetworks, warn_if_reject reject_unauth_destination, "
	  "permit_sasl_authenticated, reject_unauth_destination", "",
	  RD_RESTRICT_SASL, false, "let such clients through" },
	{ "near miss: both lists let a logged-in client through",
	  "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
	  "permit_sasl_authenticated, reject_unauth_destination",
	  RD_RESTRICT_SASL, false, "let such clients through" },
	{ "near miss: a bare permit first",
	  "permit", "reject_unauth_destination", RD_RESTRICT_SASL, true,
	  "smtpd_recipient_restrictions" },
	{ "no view at all: generic advice",
	  NULL, NULL, RD_RESTRICT_SASL, false, "set ImportPostfix" },
};

static const struct {
	const char *name, *relay, *rcpt;
	size_t want_n;
	const char *want_text;
} permitters[] = {
	{ "POP-before-SMTP table before the check",
	  "check_client_access texthash:/etc/postfix/pop, permit_mynetworks, "
	  "permit_sasl_authenticated, reject_unauth_destination", "", 2,
	  "smtpd_relay_restrictions: check_client_access texthash:/etc/postfix/pop, "
	  "smtpd_relay_restrictions: permit_mynetworks" },
	{ "client certificates and a policy service",
	  "permit_tls_clientcerts check_policy_service unix:private/policy "
	  "reject_unauth_destination", NULL, 2,
	  "permit_tls_clientcerts, smtpd_relay_restrictions: "
	  "check_policy_service unix:private/policy" },
	{ "near miss: after the relay check they cannot permit a relay",
	  "reject_unauth_destination, check_client_access hash:/x", NULL, 0,
	  "no restriction relaydiag read" },
	{ "no view", NULL, NULL, 0, "set ImportPostfix" },
};

static const struct {
	const char *name, *list;
	bool want;
} sasl_only[] = {
	{ "submission example", "permit_sasl_authenticated,reject", true },
	{ "with mynetworks first", "permit_mynetworks, permit_sasl_authenticated, reject", true },
	{ "near miss: no final reject", "permit_sasl_authenticated", false },
	{ "near miss: reject without SASL", "permit_mynetworks, reject", false },
	{ "near miss: reject_unauth_destination is not reject",
	  "permit_sasl_authenticated, reject_unauth_destination", false },
	{ "empty", "", false },
	{ "NULL", NULL, false },
};
/* clang-format on */

static void
test_refusal_cases(void **state)
{
	char out[512];
	size_t i;
	unsigned nbad = 0;
	bool got;

	(void)state;
	for (i = 0; i < NCASES(refusals); i++) {
		got = rd_restrict_refusal(refusals[i].relay, refusals[i].rcpt,
		    refusals[i].by, out, sizeof(out));
		if (got != refusals[i].want_found ||
		    strstr(out, refusals[i].want_text) == NULL) {
			print_error("%s: got %s \"%s\", want %s with \"%s\"\n",
			    refusals[i].name, got ? "found" : "not found", out,
			    refusals[i].want_found ? "found" : "not found",
			    refusals[i].want_text);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg(
		    "%u of %zu refusal cases failed", nbad, NCASES(refusals));
}

static void
test_permitter_cases(void **state)
{
	char out[512];
	size_t i, got;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(permitters); i++) {
		got = rd_restrict_permitters(
		    permitters[i].relay, permitters[i].rcpt, out, sizeof(out));
		if (got != permitters[i].want_n ||
		    strstr(out, permitters[i].want_text) == NULL) {
			print_error(
			    "%s: got %zu \"%s\", want %zu with \"%s\"\n",
			    permitters[i].name, got, out, permitters[i].want_n,
			    permitters[i].want_text);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u permitter cases failed", nbad);
}

static void
test_requires_sasl_cases(void **state)
{
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(sasl_only); i++)
		if (rd_restrict_requires_sasl(sasl_only[i].list) !=
		    sasl_only[i].want) {
			print_error("%s: got %s\n", sasl_only[i].name,
			    sasl_only[i].want ? "no" : "yes");
			nbad++;
		}
	if (nbad > 0)
		fail_msg("%u requires-sasl cases failed", nbad);
}

static void
collect(const char *table, void *arg)
{
	char *out = arg;

	strcat(out, table);
	strcat(out, ";");
}

/* The client tables before the relay check, in both lists. */
static void
test_client_tables(void **state)
{
	char out[512] = "";

	(void)state;
	assert_int_equal(
	    rd_restrict_client_tables(
		"check_client_access texthash:/a, "
		"check_recipient_access hash:/r, "
		"warn_if_reject check_client_access hash:/w, "
		"reject_unauth_destination, "
		"check_client_access hash:/after",
		"check_client_access cidr:/c reject_unauth_destination",
		collect, out),
	    2);
	assert_string_equal(out, "texthash:/a;cidr:/c;");
	assert_int_equal(
	    rd_restrict_client_tables(NULL, NULL, collect, out), 0);
}

/* Hostile lists: long, many entries, control bytes; bounded output. */
static void
test_hostile_lists(void **state)
{
	static char big[100000];
	char out[64];
	size_t i;

	(void)state;
	for (i = 0; i + 1 < sizeof(big); i++)
		big[i] = (i % 7 == 6) ? ',' : (i % 3 == 0 ? '\r' : 'a');
	big[sizeof(big) - 1] = '\0';
	(void)rd_restrict_refusal(big, big, RD_RESTRICT_SASL, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	(void)rd_restrict_permitters(big, NULL, out, sizeof(out));
	assert_true(strlen(out) < sizeof(out));
	assert_false(rd_restrict_requires_sasl(big));
	memset(big, 'x', sizeof(big) - 1); /* one entry of 100 KB */
	(void)rd_restrict_refusal(big, NULL, RD_RESTRICT_NETWORK, out, 1);
	assert_int_equal(out[0], '\0');
}

/* clang-format off */
static const struct {
	const char *name, *line;
	int want_rc;
	unsigned port;
	const char *addr;
	bool submission, tls_auth_only, sasl_required;
} lines[] = {
	{ "port only", "587 submission sasl-required", 0, 587, "", true, false, true },
	{ "address and port", "127.0.0.1:2525 tls-auth-only", 0, 2525, "127.0.0.1", false, true, false },
	{ "IPv6 in brackets", "[::1]:2587, submission", 0, 2587, "::1", true, false, false },
	{ "a service name", "submission submission", 0, 587, "", true, false, false },
	{ "no- turns an option off", "25 submission no-submission", 0, 25, "", false, false, false },
	{ "near miss: unknown option", "25 submision", -1, 0, "", false, false, false },
	{ "near miss: no port", "127.0.0.1:", -1, 0, "", false, false, false },
	{ "near miss: port 0", "0", -1, 0, "", false, false, false },
	{ "near miss: empty", "", -1, 0, "", false, false, false },
};
/* clang-format on */

static void
test_listener_lines(void **state)
{
	struct rd_listener l;
	struct rd_err e;
	size_t i;
	int rc;
	unsigned nbad = 0;

	(void)state;
	memset(&l, 0, sizeof(l));
	for (i = 0; i < NCASES(lines); i++) {
		rd_err_clear(&e);
		rc = rd_listener_parse(&l, lines[i].line, &e);
		if (rc != lines[i].want_rc ||
		    (rc == 0 &&
			(l.port != lines[i].port ||
			    strcmp(l.addr, lines[i].addr) != 0 ||
			    l.submission != lines[i].submission ||
			    l.tls_auth_only != lines[i].tls_auth_only ||
			    l.sasl_required != lines[i].sasl_required))) {
			print_error("%s: rc %d (%s) port %u addr \"%s\"\n",
			    lines[i].name, rc, e.text, l.port, l.addr);
			nbad++;
		}
		if (rc != 0 && e.text[0] == '\0') {
			print_error("%s: no error text\n", lines[i].name);
			nbad++;
		}
		rd_listener_clear(&l);
	}
	if (nbad > 0)
		fail_msg("%u Listener line cases failed", nbad);
}

static void
test_listener_find(void **state)
{
	struct rd_listener v[4];
	struct rd_err e;

	(void)state;
	memset(v, 0, sizeof(v));
	assert_int_equal(rd_listener_set_name(&v[0], "smtp", &e), 0);
	assert_int_equal(rd_listener_set_name(&v[1], "127.0.0.1:25", &e), 0);
	assert_int_equal(rd_listener_set_name(&v[2], "[::1]:2587", &e), 0);
	assert_int_equal(rd_listener_set_name(&v[3], "bogus-service", &e), 0);
	assert_int_equal(v[0].port, 25);
	assert_int_equal(v[3].port, 0);
	/* an exact address beats every address, whatever the order */
	assert_ptr_equal(rd_listener_find(v, 4, "127.0.0.1", 25), &v[1]);
	assert_ptr_equal(rd_listener_find(v, 4, "192.0.2.1", 25), &v[0]);
	assert_ptr_equal(rd_listener_find(v, 4, "::1", 2587), &v[2]);
	assert_ptr_equal(rd_listener_find(v, 4, "[::1]", 2587), &v[2]);
	assert_ptr_equal(rd_listener_find(v, 4, "0:0::1", 2587), &v[2]);
	/* near misses */
	assert_null(rd_listener_find(v, 4, "::2", 2587));
	assert_null(rd_listener_find(v, 4, "127.0.0.1", 0));
	assert_null(rd_listener_find(v, 4, NULL, 2600));
	/* unknown address: the first of the port */
	assert_ptr_equal(rd_listener_find(v, 4, NULL, 25), &v[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refusal_cases),
	    cmocka_unit_test(test_permitter_cases),
	    cmocka_unit_test(test_requires_sasl_cases),
	    cmocka_unit_test(test_client_tables),
	    cmocka_unit_test(test_hostile_lists),
	    cmocka_unit_test(test_listener_lines),
	    cmocka_unit_test(test_listener_find),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

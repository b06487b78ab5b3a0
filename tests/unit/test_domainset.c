/*
 * test_domainset.c - unit tests for domainset.c: Postfix-style domain
 * lists ("example.org" exact, ".example.org" sub-domains only), matching
 * case-insensitively with one trailing dot ignored.
 *
 * Table-driven: every case has a name in words, near misses sit next to the
 * hits, and a failure reads "<name>: got X, want Y" (all failures of a
 * table are printed before the test fails).
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

#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "testutil.h"

#define S10 "aaaaaaaaaa"
#define S60 S10 S10 S10 S10 S10 S10
#define S63 S60 "aaa"
#define S64 S60 "aaaa"

/* clang-format off */
static const char match_list[] =
    "example.org, .example.net  Example.COM.\tsub.example.edu\n"
    ".Parent.Test.,,xn--bcher-kva.example .b\xc3\xbc" "cher.test";
/* clang-format on */

/* clang-format off */
static const struct {
	const char	*name, *domain;
	bool		 want;
} match_cases[] = {
	{ "exact entry", "example.org", true },
	{ "near miss: sub-domain of an exact entry", "mail.example.org",
	  false },
	{ "near miss: parent of an exact entry", "org", false },
	{ "parent entry: sub-domain", "mail.example.net", true },
	{ "parent entry: deep sub-domain", "a.b.c.example.net", true },
	{ "near miss: parent entry does not match itself", "example.net",
	  false },
	{ "near miss: same suffix, no dot", "badexample.net", false },
	{ "near miss: exact entry as a suffix", "notexample.org", false },
	{ "near miss: extra label on the right", "example.org.uk", false },
	{ "query in upper case", "EXAMPLE.ORG", true },
	{ "sub-domain in mixed case", "Mail.Example.NET", true },
	{ "trailing dot on the query", "example.org.", true },
	{ "near miss: two trailing dots", "example.org..", false },
	{ "entry written in upper case with a dot", "example.com", true },
	{ "near miss: sub-domain of that entry", "www.example.com", false },
	{ "exact entry with three labels", "sub.example.edu", true },
	{ "near miss: its parent", "example.edu", false },
	{ "near miss: below it", "x.sub.example.edu", false },
	{ "parent entry written with both dots", "a.parent.test", true },
	{ "near miss: that parent itself", "parent.test", false },
	{ "A-label entry", "XN--BCHER-KVA.example", true },
	{ "U-label query: its A-label entry", "b\xc3\xbc" "cher.example",
	  true },
	{ "near miss: a Latin-1 query", "b\xfc" "cher.example", false },
	{ "U-label parent entry, as A-labels: sub-domain",
	  "shop.xn--bcher-kva.test", true },
	{ "empty query", "", false },
	{ "only a dot", ".", false },
	{ "leading dot on the query", ".example.org", false },
	{ "leading dot on a sub-domain query", ".mail.example.net", false },
	{ "top-level domain alone", "net", false },
	{ "address literal", "[192.0.2.1]", false },
	{ "an address, not a domain", "u@example.org", false },
	{ "CR LF after the domain", "example.org\r\n", false },
};
/* clang-format on */

static void
test_match(void **state)
{
	struct rd_domainset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0;
	bool got;

	(void)state;
	set = rd_domainset_new();
	assert_non_null(set);
	if (rd_domainset_add_list(set, match_list, &err) != 0)
		fail_msg("building the set: %s", err.text);
	assert_int_equal(rd_domainset_count(set), 7);
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		got = rd_domainset_match(set, match_cases[i].domain);
		nfail += tu_check_bool(match_cases[i].name, got,
		    match_cases[i].want, "match", "no match");
	}
	assert_false(rd_domainset_match(set, NULL));
	rd_domainset_free(set);
	TU_FAIL_IF_ANY(nfail, i);
}

/* A parent entry matches deep names, and an exact one does not. */
static void
test_match_deep_and_long(void **state)
{
	struct rd_domainset *set;
	char q[1024];
	size_t i;

	(void)state;
	set = rd_domainset_new();
	assert_int_equal(rd_domainset_add(set, ".org", NULL), 0);
	assert_true(rd_domainset_match(set, "a.b.c.d.e.f.example.org"));
	assert_false(rd_domainset_match(set, "org"));

	/* 200 labels, 400 octets: longer than any domain, so no match. */
	for (i = 0; i < 200; i++)
		memcpy(q + 2 * i, "a.", 2);
	memcpy(q + 400, "org", 4);
	assert_false(rd_domainset_match(set, q));
	/* near miss: the same at 255 octets matches */
	assert_true(rd_domainset_match(set, q + 400 - 252));
	rd_domainset_free(set);
}

/* clang-format off */
static const struct {
	const char	*name, *entry, *why;
} add_error_cases[] = {
	{ "empty entry", "", "empty domain" },
	{ "double dot", "foo..bar",
	  "bad domain \"foo..bar\": want a name like example.org, or "
	  ".example.org for its sub-domains" },
	{ "only a dot", ".", "bad domain \".\"" },
	{ "two dots", "..", "bad domain \"..\"" },
	{ "near miss: parent entry with two leading dots", "..example.org",
	  "bad domain" },
	{ "two trailing dots", "example.org..", "bad domain" },
	{ "leading hyphen", "-a.org", "bad domain" },
	{ "underscore", "a_b.org", "bad domain" },
	{ "64-octet label", S64 ".org", "bad domain" },
	{ "256 octets", S63 "." S63 "." S63 "." S63 ".a", "bad domain" },
	{ "wildcard", "*.example.org",
	  "wildcards are not supported; \".example.org\" matches every "
	  "sub-domain of example.org" },
	{ "Postfix lookup table", "hash:/etc/postfix/relay_domains",
	  "is not a domain: lookup tables" },
	{ "Postfix parameter", "$myhostname", "is not a domain" },
	{ "file name", "/etc/postfix/domains", "is not a domain" },
	{ "Latin-1 domain", "caf\xe9.example", "not UTF-8" },
	{ "U-label with a zero-width joiner", "a\xe2\x80\x8d" "b.example",
	  "not a valid internationalized domain" },
	{ "comma inside one entry", "example.org,example.net", "bad domain" },
	{ "space inside one entry", "example.org example.net", "bad domain" },
	{ "CR LF inside one entry", "example.org\r\nX-y", "bad domain" },
	{ "an address, not a domain", "u@example.org", "bad domain" },
};
/* clang-format on */

static void
test_add_errors(void **state)
{
	struct rd_domainset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0;

	(void)state;
	set = rd_domainset_new();
	for (i = 0; i < sizeof(add_error_cases) / sizeof(add_error_cases[0]);
	     i++) {
		rd_err_clear(&err);
		if (rd_domainset_add(set, add_error_cases[i].entry, &err) !=
		    -1) {
			print_error("%s: got accepted, want an error with "
				    "\"%s\"\n",
			    add_error_cases[i].name, add_error_cases[i].why);
			nfail++;
			continue;
		}
		nfail += tu_check_err(
		    add_error_cases[i].name, err.text, add_error_cases[i].why);
	}
	if (rd_domainset_count(set) != 0) {
		print_error("bad entries were added: count %zu\n",
		    rd_domainset_count(set));
		nfail++;
	}
	assert_int_equal(rd_domainset_add(set, NULL, &err), -1);
	rd_domainset_free(set);
	TU_FAIL_IF_ANY(nfail, i);
}

/* clang-format off */
static const struct {
	const char	*name, *list;
	int		 rc;
	size_t		 count;
} list_cases[] = {
	{ "commas", "a.test,b.test,c.test", 0, 3 },
	{ "white space of every kind", " a.test\tb.test\r\nc.test ", 0, 3 },
	{ "commas and spaces mixed", "a.test , b.test,,  ,c.test", 0, 3 },
	{ "empty list", "", 0, 0 },
	{ "only separators", " , ,\t\n", 0, 0 },
	{ "duplicates counted once", "a.test A.TEST a.test.", 0, 1 },
	{ "near miss: exact and parent are two", "a.test .a.test", 0, 2 },
	{ "stops at the first bad entry", "a.test b..test c.test", -1, 1 },
};
/* clang-format on */

static void
test_add_list(void **state)
{
	struct rd_domainset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0, rc;

	(void)state;
	for (i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		set = rd_domainset_new();
		rd_err_clear(&err);
		rc = rd_domainset_add_list(set, list_cases[i].list, &err);
		if (rc != list_cases[i].rc ||
		    rd_domainset_count(set) != list_cases[i].count) {
			print_error("%s: got rc %d count %zu (%s), want rc %d "
				    "count %zu\n",
			    list_cases[i].name, rc, rd_domainset_count(set),
			    err.text, list_cases[i].rc, list_cases[i].count);
			nfail++;
		}
		rd_domainset_free(set);
	}
	TU_FAIL_IF_ANY(nfail, i);

	/* The error names the bad entry, and what came before stays. */
	set = rd_domainset_new();
	assert_int_equal(
	    rd_domainset_add_list(set, "a.test, b..test", &err), -1);
	assert_string_equal(err.text,
	    "bad domain \"b..test\": want a name "
	    "like example.org, or .example.org for its sub-domains");
	assert_true(rd_domainset_match(set, "a.test"));
	assert_int_equal(rd_domainset_add_list(set, NULL, &err), 0);
	rd_domainset_free(set);
}

static void
test_null_and_empty(void **state)
{
	struct rd_domainset *set;

	(void)state;
	assert_false(rd_domainset_match(NULL, "example.org"));
	assert_int_equal(rd_domainset_count(NULL), 0);
	rd_domainset_free(NULL);
	set = rd_domainset_new();
	assert_false(rd_domainset_match(set, "example.org"));
	assert_int_equal(rd_domainset_count(set), 0);
	rd_domainset_free(set);
}

/* Many entries: the table grows and every one is still found. */
static void
test_many_entries(void **state)
{
	struct rd_domainset *set;
	char d[64];
	int i;

	(void)state;
	set = rd_domainset_new();
	for (i = 0; i < 20000; i++) {
		snprintf(d, sizeof(d), "%sd%d.example", i % 2 ? "." : "", i);
		assert_int_equal(rd_domainset_add(set, d, NULL), 0);
	}
	assert_int_equal(rd_domainset_count(set), 20000);
	for (i = 0; i < 20000; i++) {
		snprintf(d, sizeof(d), "D%d.Example", i);
		if (rd_domainset_match(set, d) != (i % 2 == 0))
			fail_msg("entry %d: exact lookup of %s is wrong", i, d);
		snprintf(d, sizeof(d), "mx.d%d.example", i);
		if (rd_domainset_match(set, d) != (i % 2 == 1))
			fail_msg(
			    "entry %d: parent lookup of %s is wrong", i, d);
	}
	assert_false(rd_domainset_match(set, "d20000.example"));
	rd_domainset_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_match_deep_and_long),
	    cmocka_unit_test(test_add_errors),
	    cmocka_unit_test(test_add_list),
	    cmocka_unit_test(test_null_and_empty),
	    cmocka_unit_test(test_many_entries),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

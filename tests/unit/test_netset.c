/*
 * test_netset.c - unit tests for netset.c: IPv4/IPv6 networks in Postfix
 * mynetworks syntax, IPv4 and IPv4-mapped IPv6 meeting in one form, the
 * host-bits error with its suggestion, and the client address forms MTAs
 * pass ({client_addr} of Postfix and Sendmail, address literals).
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

#include "relaydiag/err.h"
#include "relaydiag/netset.h"
#include "testutil.h"

/* clang-format off */
static const char match_list[] =
    "127.0.0.0/8 [::1]/128, 192.0.2.0/24\t10.0.0.0/8\n[2001:db8::]/32,"
    "198.51.100.7 [::ffff:203.0.113.0]/120 fe80::/10 172.16.0.0/12";
/* clang-format on */

/* clang-format off */
static const struct {
	const char	*name, *ip;
	bool		 want;
} match_cases[] = {
	{ "loopback in 127/8", "127.0.0.1", true },
	{ "top of 127/8", "127.255.255.255", true },
	{ "near miss: just above 127/8", "128.0.0.0", false },
	{ "near miss: just below 127/8", "126.255.255.255", false },
	{ "top of a /24", "192.0.2.255", true },
	{ "near miss: next /24", "192.0.3.0", false },
	{ "top of 172.16/12", "172.31.255.255", true },
	{ "near miss: above 172.16/12", "172.32.0.0", false },
	{ "near miss: below 172.16/12", "172.15.255.255", false },
	{ "host entry", "198.51.100.7", true },
	{ "near miss: next to the host entry", "198.51.100.8", false },
	{ "IPv4-mapped client, IPv4 network", "::ffff:127.0.0.1", true },
	{ "IPv4-mapped, upper-case hex", "::FFFF:192.0.2.9", true },
	{ "IPv4-mapped in hex words", "::ffff:7f00:1", true },
	{ "near miss: IPv4-mapped outside", "::ffff:128.0.0.1", false },
	{ "IPv4 client, IPv4-mapped network", "203.0.113.77", true },
	{ "near miss: outside the mapped /120", "203.0.114.1", false },
	{ "IPv4-compatible (::a.b.c.d) is not mapped", "::127.0.0.1", false },
	{ "IPv4 in brackets", "[127.0.0.1]", true },
	{ "IPv6 loopback", "::1", true },
	{ "near miss: ::2", "::2", false },
	{ "IPv6 in the /32", "2001:db8:1::25", true },
	{ "near miss: next /32", "2001:db9::1", false },
	{ "Sendmail's IPv6: tag", "IPv6:::1", true },
	{ "IPv6: tag in brackets", "[IPv6:2001:db8::25]", true },
	{ "IPv6: tag in lower case", "ipv6:2001:DB8::1", true },
	{ "IPv6 in brackets without the tag", "[2001:db8::1]", true },
	{ "link-local", "fe80::1", true },
	{ "link-local with a zone", "fe80::1%eth0", true },
	{ "top of fe80::/10", "febf:ffff::1", true },
	{ "near miss: above fe80::/10", "fec0::1", false },
	{ "empty", "", false },
	{ "a name", "localhost", false },
	{ "shorthand IPv4", "127.1", false },
	{ "octal-looking IPv4", "0177.0.0.1", false },
	{ "a network, not an address", "127.0.0.1/32", false },
	{ "unbalanced bracket", "[127.0.0.1", false },
	{ "IPv6: tag with an IPv4 address", "IPv6:127.0.0.1", false },
	{ "trailing space", "127.0.0.1 ", false },
	{ "trailing LF", "127.0.0.1\n", false },
	{ "empty brackets", "[]", false },
	{ "zone on an IPv4 address", "127.0.0.1%eth0", false },
};
/* clang-format on */

static void
test_match(void **state)
{
	struct rd_netset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0;
	bool got;

	(void)state;
	set = rd_netset_new();
	assert_non_null(set);
	if (rd_netset_add_list(set, match_list, &err) != 0)
		fail_msg("building the set: %s", err.text);
	assert_int_equal(rd_netset_count(set), 9);
	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
		got = rd_netset_match(set, match_cases[i].ip);
		nfail += tu_check_bool(match_cases[i].name, got,
		    match_cases[i].want, "match", "no match");
	}
	assert_false(rd_netset_match(set, NULL));
	rd_netset_free(set);
	TU_FAIL_IF_ANY(nfail, i);
}

/* One entry, probes: IPv4 and IPv4-mapped forms are the same network. */
/* clang-format off */
static const struct {
	const char	*name, *entry, *ip;
	bool		 want;
} one_cases[] = {
	{ "mapped /104 holds IPv4", "[::ffff:127.0.0.0]/104", "127.0.0.1",
	  true },
	{ "mapped /104 holds mapped", "[::ffff:127.0.0.0]/104",
	  "::ffff:127.9.9.9", true },
	{ "near miss: mapped /104, other /8", "[::ffff:127.0.0.0]/104",
	  "128.0.0.1", false },
	{ "mapped without brackets", "::ffff:127.0.0.0/104", "127.0.0.1",
	  true },
	{ "IPv4 /8 holds mapped", "127.0.0.0/8", "::ffff:127.0.0.1", true },
	{ "IPv4 host holds its mapped form", "192.0.2.1",
	  "[IPv6:::ffff:192.0.2.1]", true },
	{ "IPv4 in brackets as an entry", "[10.0.0.0]/8", "10.1.2.3", true },
	{ "IPv4 entry without a prefix is a host", "10.0.0.0", "10.0.0.1",
	  false },
	{ "IPv6 entry without a prefix is a host", "2001:db8::1",
	  "2001:db8::1", true },
	{ "near miss: IPv6 host, next address", "2001:db8::1", "2001:db8::2",
	  false },
	{ "0.0.0.0/0 holds every IPv4", "0.0.0.0/0", "255.255.255.255",
	  true },
	{ "0.0.0.0/0 holds mapped IPv4", "0.0.0.0/0", "::ffff:1.2.3.4",
	  true },
	{ "near miss: 0.0.0.0/0 holds no IPv6", "0.0.0.0/0", "2001:db8::1",
	  false },
	{ "near miss: 0.0.0.0/0 holds no ::1", "0.0.0.0/0", "::1", false },
	{ "::/0 holds every IPv6", "::/0", "2001:db8::1", true },
	{ "::/0 holds IPv4 too (as mapped)", "::/0", "192.0.2.1", true },
	{ "/31 holds both", "192.0.2.0/31", "192.0.2.1", true },
	{ "near miss: /31, third address", "192.0.2.0/31", "192.0.2.2",
	  false },
	{ "/127 holds both", "[2001:db8::]/127", "2001:db8::1", true },
	{ "near miss: /127, third address", "[2001:db8::]/127",
	  "2001:db8::2", false },
	{ "odd IPv6 prefix /33", "2001:db8:8000::/33", "2001:db8:ffff::1",
	  true },
	{ "near miss: odd IPv6 prefix /33", "2001:db8:8000::/33",
	  "2001:db8:7fff::1", false },
	{ "leading zero in the prefix", "10.0.0.0/08", "10.200.0.1", true },
};
/* clang-format on */

static void
test_match_one_entry(void **state)
{
	struct rd_netset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(one_cases) / sizeof(one_cases[0]); i++) {
		set = rd_netset_new();
		if (rd_netset_add(set, one_cases[i].entry, &err) != 0) {
			print_error("%s: entry \"%s\" refused: %s\n",
			    one_cases[i].name, one_cases[i].entry, err.text);
			nfail++;
		} else
			nfail += tu_check_bool(one_cases[i].name,
			    rd_netset_match(set, one_cases[i].ip),
			    one_cases[i].want, "match", "no match");
		rd_netset_free(set);
	}
	TU_FAIL_IF_ANY(nfail, i);
}

/* clang-format off */
static const struct {
	const char	*name, *entry, *why;
} add_error_cases[] = {
	{ "host bits set, IPv4", "10.1.2.3/8",
	  "host bits set in \"10.1.2.3/8\"; did you mean \"10.0.0.0/8\"?" },
	{ "host bits set, IPv6 in brackets", "[2001:db8::1]/32",
	  "host bits set in \"[2001:db8::1]/32\"; did you mean "
	  "\"[2001:db8::]/32\"?" },
	{ "host bits set, IPv6 bare", "2001:db8::1/32",
	  "did you mean \"2001:db8::/32\"?" },
	{ "host bits set, mapped", "[::ffff:127.0.0.1]/104",
	  "did you mean \"[::ffff:127.0.0.0]/104\"?" },
	{ "host bits set, IPv4 in brackets", "[192.0.2.1]/24",
	  "did you mean \"[192.0.2.0]/24\"?" },
	{ "host bits set with /0", "1.2.3.4/0",
	  "did you mean \"0.0.0.0/0\"?" },
	{ "near miss: one host bit in /31", "192.0.2.1/31",
	  "did you mean \"192.0.2.0/31\"?" },
	{ "octet 300", "192.0.2.300",
	  "bad network \"192.0.2.300\": not an IP address; want "
	  "192.0.2.0/24, 2001:db8::/32 or [::1]/128" },
	{ "IPv4 prefix 33", "10.0.0.0/33",
	  "prefix length out of range (want 0-32)" },
	{ "IPv6 prefix 129", "[::1]/129",
	  "prefix length out of range (want 0-128)" },
	{ "near miss: IPv6 prefix 33 is fine, IPv4 33 is not", "0.0.0.0/33",
	  "out of range" },
	{ "missing prefix after '/'", "10.0.0.0/", "missing prefix length" },
	{ "letters in the prefix", "10.0.0.0/8x", "bad prefix length" },
	{ "negative prefix", "10.0.0.0/-8", "bad prefix length" },
	{ "plus sign in the prefix", "10.0.0.0/+8", "bad prefix length" },
	{ "four-digit prefix", "10.0.0.0/0008", "bad prefix length" },
	{ "two prefixes", "10.0.0.0/8/8", "bad prefix length" },
	{ "'[' without ']'", "[::1", "'[' without ']'" },
	{ "text after ']'", "[::1]x", "text after ']'" },
	{ "near miss: prefix without '/'", "[::1]128", "text after ']'" },
	{ "prefix inside the brackets", "[10.0.0.0/8]", "not an IP address" },
	{ "negation", "!192.0.2.1", "negation (\"!\") is not supported" },
	{ "file name", "/etc/postfix/network_table",
	  "files and lookup tables are not supported" },
	{ "lookup table", "hash:/etc/postfix/network_table",
	  "files and lookup tables are not supported" },
	{ "cidr table", "cidr:/etc/postfix/mynetworks.cidr",
	  "files and lookup tables" },
	{ "old shorthand 10/8", "10/8", "not an IP address" },
	{ "shorthand 127.1", "127.1", "not an IP address" },
	{ "a name", "localhost", "not an IP address" },
	{ "IPv6 zone", "fe80::1%eth0", "not an IP address" },
	{ "Sendmail tag in an entry", "IPv6:::1", "not an IP address" },
	{ "empty entry", "", "empty network" },
	{ "CR in one entry", "10.0.0.0/8\r", "bad prefix length" },
	{ "8-bit bytes", "10.0.0.0\xc2\xa0", "not an IP address" },
	{ "very long entry",
	  "1111111111111111111111111111111111111111111111111111111111111111"
	  "1111111111111111111111111111111111111111111111111111111111111111"
	  "1", "too long" },
};
/* clang-format on */

static void
test_add_errors(void **state)
{
	struct rd_netset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0;

	(void)state;
	set = rd_netset_new();
	for (i = 0; i < sizeof(add_error_cases) / sizeof(add_error_cases[0]);
	     i++) {
		rd_err_clear(&err);
		if (rd_netset_add(set, add_error_cases[i].entry, &err) != -1) {
			print_error("%s: got accepted, want an error with "
				    "\"%s\"\n",
			    add_error_cases[i].name, add_error_cases[i].why);
			nfail++;
			continue;
		}
		nfail += tu_check_err(
		    add_error_cases[i].name, err.text, add_error_cases[i].why);
	}
	if (rd_netset_count(set) != 0) {
		print_error("bad entries were added: count %zu\n",
		    rd_netset_count(set));
		nfail++;
	}
	assert_int_equal(rd_netset_add(set, NULL, &err), -1);
	assert_int_equal(rd_netset_add(set, "10.1.2.3/8", NULL), -1);
	rd_netset_free(set);
	TU_FAIL_IF_ANY(nfail, i);
}

/* clang-format off */
static const struct {
	const char	*name, *list;
	int		 rc;
	size_t		 count;
} list_cases[] = {
	{ "Postfix default style", "127.0.0.0/8 [::ffff:127.0.0.0]/104 "
	  "[::1]/128", 0, 2 },
	{ "commas and white space", " 10.0.0.0/8,192.0.2.0/24\t\r\n"
	  "[2001:db8::]/32 ", 0, 3 },
	{ "empty list", "", 0, 0 },
	{ "only separators", " ,, \t", 0, 0 },
	{ "a host and its mapped form are one", "127.0.0.1 ::ffff:127.0.0.1 "
	  "[::ffff:127.0.0.1]/128", 0, 1 },
	{ "near miss: same address, other prefix", "127.0.0.1 127.0.0.0/8",
	  0, 2 },
	{ "stops at the first bad entry", "10.0.0.0/8 10.1.2.3/8 "
	  "192.0.2.0/24", -1, 1 },
};
/* clang-format on */

static void
test_add_list(void **state)
{
	struct rd_netset *set;
	struct rd_err err;
	size_t i;
	int nfail = 0, rc;

	(void)state;
	for (i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		set = rd_netset_new();
		rd_err_clear(&err);
		rc = rd_netset_add_list(set, list_cases[i].list, &err);
		if (rc != list_cases[i].rc ||
		    rd_netset_count(set) != list_cases[i].count) {
			print_error("%s: got rc %d count %zu (%s), want rc %d "
				    "count %zu\n",
			    list_cases[i].name, rc, rd_netset_count(set),
			    err.text, list_cases[i].rc, list_cases[i].count);
			nfail++;
		}
		rd_netset_free(set);
	}
	TU_FAIL_IF_ANY(nfail, i);

	set = rd_netset_new();
	assert_int_equal(
	    rd_netset_add_list(set, "10.0.0.0/8, 10.1.2.3/8", &err), -1);
	assert_string_equal(err.text,
	    "host bits set in \"10.1.2.3/8\"; did you mean \"10.0.0.0/8\"?");
	assert_true(rd_netset_match(set, "10.9.9.9"));
	assert_int_equal(rd_netset_add_list(set, NULL, &err), 0);
	rd_netset_free(set);
}

static void
test_null_and_hostile(void **state)
{
	struct rd_netset *set;
	char *big;
	size_t n = 100000;

	(void)state;
	assert_false(rd_netset_match(NULL, "127.0.0.1"));
	assert_int_equal(rd_netset_count(NULL), 0);
	rd_netset_free(NULL);
	set = rd_netset_new();
	assert_false(rd_netset_match(set, "127.0.0.1"));
	assert_int_equal(rd_netset_add(set, "::/0", NULL), 0);

	/* A huge "address" is not one, whatever it starts with. */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '1', n);
	memcpy(big, "[IPv6:::1", 9);
	big[n - 1] = ']';
	big[n] = '\0';
	assert_false(rd_netset_match(set, big));
	memset(big, ':', n);
	big[n] = '\0';
	assert_false(rd_netset_match(set, big));
	free(big);
	rd_netset_free(set);
}

/* Many entries: all are kept and found. */
static void
test_many_entries(void **state)
{
	struct rd_netset *set;
	char ip[64];
	int i;

	(void)state;
	set = rd_netset_new();
	for (i = 0; i < 4096; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.0/24", i / 256, i % 256);
		assert_int_equal(rd_netset_add(set, ip, NULL), 0);
	}
	assert_int_equal(rd_netset_count(set), 4096);
	assert_true(rd_netset_match(set, "10.15.255.1"));
	assert_false(rd_netset_match(set, "10.16.0.1"));
	rd_netset_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_match_one_entry),
	    cmocka_unit_test(test_add_errors),
	    cmocka_unit_test(test_add_list),
	    cmocka_unit_test(test_null_and_hostile),
	    cmocka_unit_test(test_many_entries),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

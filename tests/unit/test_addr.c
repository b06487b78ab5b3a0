/*
 * test_addr.c - unit tests for addr.c: SMTP paths as a milter gets them
 * (RFC 5321 4.1.2), rd_domain_valid and rd_helo_is_fqdn.
 *
 * Table-driven: every case has a name in words, near misses sit next to the
 * hits, and a failure reads "<name>: got X, want Y" (all failures of a
 * table are printed before the test fails). Rejections are checked for the
 * words of their reason, and every error text for being one safe line.
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

#include "relaydiag/addr.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"
#include "testutil.h"

#define S10 "aaaaaaaaaa"
#define S60 S10 S10 S10 S10 S10 S10
#define S61 S60 "a"
#define S62 S60 "aa"
#define S63 S60 "aaa"
#define S64 S60 "aaaa"
#define S65 S60 "aaaaa"
/* eight U-labels of one 2-octet character: 24 octets, 64 as A-labels */
#define E8                                                                     \
	"\xc3\xa9.\xc3\xa9.\xc3\xa9.\xc3\xa9.\xc3\xa9.\xc3\xa9.\xc3\xa9."      \
	"\xc3\xa9."

/* flags of an accepted address */
#define NUL 0x1   /* is_null */
#define LIT 0x2   /* is_literal */
#define NODOM 0x4 /* !has_domain */

/* clang-format off */
static const struct {
	const char	*name, *in;
	const char	*local, *domain, *addr;
	unsigned	 flags;
} accept_cases[] = {
	{ "bracketed, as Postfix passes it", "<user@example.org>",
	  "user", "example.org", "user@example.org", 0 },
	{ "no brackets", "user@example.org",
	  "user", "example.org", "user@example.org", 0 },
	{ "spaces around the brackets", "  <user@example.org> ",
	  "user", "example.org", "user@example.org", 0 },
	{ "null sender", "<>", "", "", "", NUL | NODOM },
	{ "domain folded, local part kept", "<John.Doe@Example.ORG>",
	  "John.Doe", "example.org", "John.Doe@example.org", 0 },
	{ "trailing dot on the domain dropped", "<u@example.org.>",
	  "u", "example.org", "u@example.org", 0 },
	{ "quoted local part with a space", "<\"a b\"@x.test>",
	  "\"a b\"", "x.test", "\"a b\"@x.test", 0 },
	{ "quoted, escaped quote", "\"a\\\"b\"@x.test",
	  "\"a\\\"b\"", "x.test", "\"a\\\"b\"@x.test", 0 },
	{ "quoted, escaped backslash", "\"a\\\\b\"@x.test",
	  "\"a\\\\b\"", "x.test", "\"a\\\\b\"@x.test", 0 },
	{ "quoted '@' stays in the local part", "<\"a@b\"@x.test>",
	  "\"a@b\"", "x.test", "\"a@b\"@x.test", 0 },
	{ "quoted brackets and comma", "<\"<a>,b\"@x.test>",
	  "\"<a>,b\"", "x.test", "\"<a>,b\"@x.test", 0 },
	{ "quoted empty local part", "<\"\"@x.test>",
	  "\"\"", "x.test", "\"\"@x.test", 0 },
	{ "quoted local part alone", "<\"a b\">",
	  "\"a b\"", "", "\"a b\"", NODOM },
	{ "source route dropped", "<@a.test,@b.test:u@c.test>",
	  "u", "c.test", "u@c.test", 0 },
	{ "one-hop source route dropped", "<@A.test:u@C.test>",
	  "u", "c.test", "u@c.test", 0 },
	{ "IPv4 address literal", "<u@[192.0.2.1]>",
	  "u", "[192.0.2.1]", "u@[192.0.2.1]", LIT },
	{ "IPv6 address literal, hex folded", "<u@[IPv6:2001:DB8::1]>",
	  "u", "[IPv6:2001:db8::1]", "u@[IPv6:2001:db8::1]", LIT },
	{ "IPv6 tag in lower case", "u@[ipv6:::1]",
	  "u", "[IPv6:::1]", "u@[IPv6:::1]", LIT },
	{ "IPv6 literal with an IPv4 tail", "u@[IPv6:::ffff:192.0.2.1]",
	  "u", "[IPv6:::ffff:192.0.2.1]", "u@[IPv6:::ffff:192.0.2.1]", LIT },
	{ "postmaster without a domain", "<Postmaster>",
	  "Postmaster", "", "Postmaster", NODOM },
	{ "local user without a domain, no brackets", "root",
	  "root", "", "root", NODOM },
	{ "SMTPUTF8 local part", "<jos\xc3\xa9@example.org>",
	  "jos\xc3\xa9", "example.org", "jos\xc3\xa9@example.org", 0 },
	{ "every atext special", "<a!#$%&'*+-/=?^_`{|}~z@x.test>",
	  "a!#$%&'*+-/=?^_`{|}~z", "x.test", "a!#$%&'*+-/=?^_`{|}~z@x.test",
	  0 },
	{ "double dot in local part (as Postfix accepts)",
	  "a..b@docomo.ne.jp", "a..b", "docomo.ne.jp", "a..b@docomo.ne.jp",
	  0 },
	{ "trailing dot in local part", "a.@ezweb.ne.jp",
	  "a.", "ezweb.ne.jp", "a.@ezweb.ne.jp", 0 },
	{ "single-label domain", "u@localhost",
	  "u", "localhost", "u@localhost", 0 },
	{ "label starting with a digit", "u@3com.com",
	  "u", "3com.com", "u@3com.com", 0 },
	{ "hyphen inside a label", "u@my-host.example",
	  "u", "my-host.example", "u@my-host.example", 0 },
	{ "A-label domain", "u@xn--bcher-kva.example",
	  "u", "xn--bcher-kva.example", "u@xn--bcher-kva.example", 0 },
	{ "U-label domain (SMTPUTF8): as its A-labels", "u@b\xc3\xbc" "cher.example",
	  "u", "xn--bcher-kva.example", "u@xn--bcher-kva.example", 0 },
	{ "U-label in capitals: the same A-labels", "u@B\xc3\x9c" "CHER.Example",
	  "u", "xn--bcher-kva.example", "u@xn--bcher-kva.example", 0 },
	{ "CJK domain", "u@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a",
	  "u", "xn--fsqu00a.xn--4rr70v", "u@xn--fsqu00a.xn--4rr70v", 0 },
	{ "63-octet label", "u@" S63 ".test",
	  "u", S63 ".test", "u@" S63 ".test", 0 },
	{ "64-octet local part", "<" S64 "@x.test>",
	  S64, "x.test", S64 "@x.test", 0 },
	{ "path of exactly 256 octets", "<" S64 "@" S63 "." S63 "." S61 ">",
	  S64, S63 "." S63 "." S61, S64 "@" S63 "." S63 "." S61, 0 },
	{ "254 octets without brackets", S64 "@" S63 "." S63 "." S61,
	  S64, S63 "." S63 "." S61, S64 "@" S63 "." S63 "." S61, 0 },
};
/* clang-format on */

static void
test_addr_accepts(void **state)
{
	struct rd_addr a;
	struct rd_err err;
	unsigned flags;
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(accept_cases) / sizeof(accept_cases[0]); i++) {
		rd_err_clear(&err);
		memset(&a, 'X', sizeof(a));
		if (rd_addr_parse(accept_cases[i].in, &a, &err) != 0) {
			print_error("%s: got error \"%s\", want accepted\n",
			    accept_cases[i].name, err.text);
			nfail++;
			continue;
		}
		nfail += tu_check_str(accept_cases[i].name, "local", a.local,
		    accept_cases[i].local);
		nfail += tu_check_str(accept_cases[i].name, "domain", a.domain,
		    accept_cases[i].domain);
		nfail += tu_check_str(
		    accept_cases[i].name, "addr", a.addr, accept_cases[i].addr);
		flags = (a.is_null ? NUL : 0) | (a.is_literal ? LIT : 0) |
			(a.has_domain ? 0 : NODOM);
		if (flags != accept_cases[i].flags) {
			print_error("%s: flags: got %#x, want %#x\n",
			    accept_cases[i].name, flags, accept_cases[i].flags);
			nfail++;
		}
	}
	TU_FAIL_IF_ANY(nfail, i);
}

/* clang-format off */
static const struct {
	const char	*name, *in, *why;
} reject_cases[] = {
	{ "empty string", "", "empty address" },
	{ "only spaces", "   ", "empty address" },
	{ "'<' without '>'", "<u@x.test", "unbalanced brackets: '<' without" },
	{ "near miss: '>' without '<'", "u@x.test>",
	  "unbalanced brackets: '>' without" },
	{ "lone '<'", "<", "unbalanced brackets" },
	{ "lone '>'", ">", "unbalanced brackets" },
	{ "nested brackets", "<<u@x.test>>", "stray '<'" },
	{ "stray '>' inside", "<u>@x.test>", "stray '>'" },
	{ "ESMTP parameter left in the path", "<u@x.test> SIZE=100",
	  "unbalanced brackets" },
	{ "empty local part", "<@x.test>", "empty local part" },
	{ "empty local part, no brackets", "@x.test", "empty local part" },
	{ "near miss: empty domain", "<u@>", "empty domain" },
	{ "domain is only the root dot", "<u@.>", "empty domain" },
	{ "double dot in the domain", "u@a..test",
	  "bad domain label: empty label" },
	{ "leading dot in the domain", "u@.x.test", "bad domain label" },
	{ "two trailing dots", "u@x.test..", "bad domain label" },
	{ "label starts with '-'", "u@-x.test",
	  "bad domain label \"-x\": starts or ends with '-'" },
	{ "label ends with '-'", "u@a.x-.test",
	  "bad domain label \"x-\": starts or ends with '-'" },
	{ "64-octet label", "u@" S64 ".test", "longer than 63 octets" },
	{ "underscore in the domain", "u@a_b.test", "character '_'" },
	{ "space in the domain", "<u@x .test>", "character ' '" },
	{ "8-bit domain, Latin-1", "u@caf\xe9.example",
	  "8-bit domain that is not UTF-8" },
	{ "U-label with a zero-width joiner", "u@a\xe2\x80\x8d" "b.example",
	  "not a valid internationalized domain" },
	{ "two '@'", "a@b@x.test", "more than one '@'" },
	{ "space in an unquoted local part", "<a b@x.test>",
	  "character ' ' in the local part must be quoted" },
	{ "comma in an unquoted local part", "<a,b@x.test>",
	  "character ','" },
	{ "backslash in an unquoted local part", "a\\b@x.test",
	  "character '\\'" },
	{ "quote in the middle of a local part", "a\"b\"@x.test",
	  "character '\"'" },
	{ "unterminated quoted local part", "\"abc@x.test",
	  "unterminated quoted local part" },
	{ "near miss: escaped closing quote", "\"abc\\\"@x.test",
	  "unterminated quoted local part" },
	{ "backslash at the very end", "\"abc\\",
	  "unterminated quoted local part" },
	{ "text after the quoted local part", "\"a\"b@x.test",
	  "text after the quoted local part" },
	{ "CR at the end", "<u@x.test>\r", "CR or LF" },
	{ "LF in the local part", "u\n@x.test", "CR or LF" },
	{ "SMTP command injection", "<u@x.test>\r\nRCPT TO:<v@y.test>",
	  "CR or LF" },
	{ "tab", "<u@x.test>\t", "control character 0x09" },
	{ "control 0x01 in the local part", "u\x01@x.test",
	  "control character 0x01" },
	{ "DEL", "u\x7f@x.test", "control character 0x7F" },
	{ "ESC even when quoted", "\"a\x1b[2J\"@x.test",
	  "control character 0x1B" },
	{ "Latin-1 local part (not UTF-8)", "jos\xe9@x.test",
	  "invalid UTF-8 in the local part" },
	{ "overlong UTF-8 in the local part", "\xc0\xaf@x.test",
	  "invalid UTF-8" },
	{ "surrogate in the local part", "\xed\xa0\x80@x.test",
	  "invalid UTF-8" },
	{ "65-octet local part", "<" S65 "@x.test>", "local part too long" },
	{ "65-octet quoted local part", "<\"" S63 "\"@x.test>",
	  "local part too long" },
	{ "path of 257 octets", "<" S64 "@" S63 "." S63 "." S62 ">",
	  "address too long: 257 octets" },
	{ "near miss: 255 octets without brackets",
	  S64 "@" S63 "." S63 "." S62, "address too long" },
	/*
	 * U-labels within the path limit as sent whose A-labels are not:
	 * relaydiag keeps the A-labels, so the limit holds for them too
	 * (fuzz_addr found the first; the second once reached rd_panic,
	 * 64 + 1 + 252 octets in a 259-octet buffer).
	 */
	{ "A-labels one octet over the path limit",
	  "u@" S63 "." S63 "." S63 "." S10 S10 S10 S10 S10 "aaa.\xc3\xa9",
	  "address too long as A-labels: 257 octets" },
	{ "A-labels far over the path limit (was a crash)",
	  S64 "@" E8 E8 E8 "\xc3\xa9.\xc3\xa9.\xc3\xa9.\xc3\xa9."
	  "\xc3\xa9.\xc3\xa9.\xc3\xa9.test",
	  "address too long as A-labels: 319 octets" },
	{ "route without ':' is an empty local part", "<@a.test,@b.test>",
	  "empty local part" },
	{ "bad domain in the route", "<@a_b.test:u@c.test>",
	  "bad source route \"@a_b.test\"" },
	{ "route element without '@'", "<@a.test,b.test:u@c.test>",
	  "bad source route" },
	{ "empty route element", "<@a.test,:u@c.test>", "bad source route" },
	{ "literal in the route", "<@[192.0.2.1]:u@c.test>",
	  "bad source route" },
	{ "nothing after the route", "<@a.test:>", "no mailbox after" },
	{ "route, then an empty local part", "<@a.test:@c.test>",
	  "empty local part" },
	{ "unterminated literal", "u@[192.0.2.1", "missing ']'" },
	{ "text after the literal", "u@[192.0.2.1]x",
	  "text after the address literal" },
	{ "trailing dot after the literal", "u@[192.0.2.1].",
	  "text after the address literal" },
	{ "IPv4 octet 256", "u@[192.0.2.256]", "bad IPv4 address literal" },
	{ "IPv4 with three parts", "u@[192.0.2]", "bad IPv4 address literal" },
	{ "IPv4 with a leading zero", "u@[192.0.2.01]",
	  "bad IPv4 address literal" },
	{ "empty literal", "u@[]", "bad IPv4 address literal" },
	{ "IPv6 without the tag", "u@[2001:db8::1]",
	  "unknown address literal tag" },
	{ "general address literal tag", "u@[x400:c=us]",
	  "unknown address literal tag" },
	{ "near miss: bad IPv6 (three colons)", "u@[IPv6:2001:db8:::1]",
	  "bad IPv6 address literal" },
	{ "IPv6 tag with an IPv4 address", "u@[IPv6:192.0.2.1]",
	  "bad IPv6 address literal" },
	{ "IPv6 literal with a zone", "u@[IPv6:fe80::1%eth0]",
	  "bad IPv6 address literal" },
	{ "empty IPv6 literal", "u@[IPv6:]", "bad IPv6 address literal" },
	{ "literal as the whole path", "<[192.0.2.1]>",
	  "character '['" },
};
/* clang-format on */

static void
test_addr_rejects(void **state)
{
	struct rd_addr a;
	struct rd_err err;
	char g[TU_SHOW_MAX];
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(reject_cases) / sizeof(reject_cases[0]); i++) {
		rd_err_clear(&err);
		if (rd_addr_parse(reject_cases[i].in, &a, &err) != -1) {
			print_error("%s: got accepted as \"%s\", want an error "
				    "with \"%s\"\n",
			    reject_cases[i].name, tu_show(g, a.addr),
			    reject_cases[i].why);
			nfail++;
			continue;
		}
		nfail += tu_check_err(
		    reject_cases[i].name, err.text, reject_cases[i].why);
		if (strcmp(err.source, "<address>") != 0 || err.line != 0 ||
		    strncmp(err.text, "bad address \"", 13) != 0) {
			print_error("%s: error shape: got %s:%u: \"%s\"\n",
			    reject_cases[i].name, err.source, err.line,
			    err.text);
			nfail++;
		}
		if (a.addr[0] != '\0' || a.local[0] != '\0' ||
		    a.domain[0] != '\0' || a.has_domain) {
			print_error("%s: result not empty after an error\n",
			    reject_cases[i].name);
			nfail++;
		}
	}
	TU_FAIL_IF_ANY(nfail, i);
}

static void
test_addr_error_text(void **state)
{
	struct rd_addr a;
	struct rd_err err;
	char line[1024];

	(void)state;
	assert_int_equal(rd_addr_parse("<u@x.test", &a, &err), -1);
	assert_string_equal(rd_err_format(&err, line, sizeof(line)),
	    "<address>: bad address \"<u@x.test\": unbalanced brackets: '<' "
	    "without '>'");

	/* CR LF shown as '?', never as a line break. */
	assert_int_equal(rd_addr_parse("<a@b.test>\r\nDATA", &a, &err), -1);
	assert_string_equal(err.text,
	    "bad address \"<a@b.test>??DATA\": CR or LF in the address");

	assert_int_equal(rd_addr_parse(NULL, &a, &err), -1);
	assert_string_equal(err.text, "no address");

	/* err may be NULL */
	assert_int_equal(rd_addr_parse("<", &a, NULL), -1);
	assert_int_equal(rd_addr_parse("<u@x.test>", &a, NULL), 0);
}

static void
test_addr_very_long(void **state)
{
	struct rd_addr a;
	struct rd_err err;
	size_t n = 100000;
	char *in;

	(void)state;
	in = malloc(n + 1);
	assert_non_null(in);
	memset(in, 'a', n);
	in[0] = '<';
	in[n / 2] = '@';
	in[n - 1] = '>';
	in[n] = '\0';
	assert_int_equal(rd_addr_parse(in, &a, &err), -1);
	assert_non_null(strstr(err.text, "address too long: 100000 octets"));
	assert_true(strlen(err.text) < sizeof(err.text) - 1);

	/* Long and hostile: the first CR wins, the text stays one line. */
	in[n - 2] = '\n';
	assert_int_equal(rd_addr_parse(in, &a, &err), -1);
	assert_non_null(strstr(err.text, "CR or LF"));
	assert_true(tu_safe_line(err.text));

	/* 100000 dots in the domain: refused on length, quickly. */
	memset(in, '.', n);
	in[0] = 'u';
	in[1] = '@';
	assert_int_equal(rd_addr_parse(in, &a, &err), -1);
	assert_non_null(strstr(err.text, "address too long"));
	free(in);
}

/* clang-format off */
static const struct {
	const char	*name, *d;
	bool		 want;
} domain_cases[] = {
	{ "plain", "example.org", true },
	{ "mixed case", "EXAMPLE.Org", true },
	{ "one trailing dot", "example.org.", true },
	{ "near miss: two trailing dots", "example.org..", false },
	{ "single label", "localhost", true },
	{ "one letter", "a", true },
	{ "all-numeric labels are syntax", "192.0.2.1", true },
	{ "A-label", "xn--bcher-kva.example", true },
	{ "63-octet label", S63 ".test", true },
	{ "near miss: 64-octet label", S64 ".test", false },
	{ "255 octets", S63 "." S63 "." S63 "." S63, true },
	{ "near miss: 256 octets", S63 "." S63 "." S63 "." S62 ".a", false },
	{ "empty", "", false },
	{ "only the root dot", ".", false },
	{ "leading dot", ".example.org", false },
	{ "double dot", "a..b", false },
	{ "leading hyphen", "-a.org", false },
	{ "trailing hyphen", "a-.org", false },
	{ "hyphen inside", "a-b.org", true },
	{ "underscore", "a_b.org", false },
	{ "space", "a b.org", false },
	{ "LF at the end", "example.org\n", false },
	{ "U-label (8-bit)", "b\xc3\xbc" "cher.example", false },
	{ "address literal", "[192.0.2.1]", false },
	{ "an address, not a domain", "u@example.org", false },
};
/* clang-format on */

static void
test_domain_valid(void **state)
{
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(domain_cases) / sizeof(domain_cases[0]); i++) {
		nfail += tu_check_bool(domain_cases[i].name,
		    rd_domain_valid(domain_cases[i].d), domain_cases[i].want,
		    "valid", "invalid");
	}
	assert_false(rd_domain_valid(NULL));
	TU_FAIL_IF_ANY(nfail, i);
}

/* clang-format off */
static const struct {
	const char	*name, *helo;
	bool		 want;
} helo_cases[] = {
	{ "FQDN", "mail.example.org", true },
	{ "FQDN, mixed case, trailing dot", "Mail.Example.ORG.", true },
	{ "Windows PC name", "UserPC", false },
	{ "Windows default name", "DESKTOP-4F2K", false },
	{ "localhost", "localhost", false },
	{ "near miss: localhost.localdomain has a dot",
	  "localhost.localdomain", true },
	{ "IPv4 literal", "[192.0.2.1]", true },
	{ "IPv6 literal", "[IPv6:2001:db8::1]", true },
	{ "near miss: bad IPv4 literal", "[192.0.2.256]", false },
	{ "unterminated literal", "[192.0.2.1", false },
	{ "bare IPv4 address", "192.0.2.1", false },
	{ "bare IPv6 address", "2001:db8::1", false },
	{ "numeric top label", "mail.123", false },
	{ "near miss: top label with a digit", "mail.example.c0m", true },
	{ "empty", "", false },
	{ "double dot", "mail..example.org", false },
	{ "leading dot", ".example.org", false },
	{ "only a dot", ".", false },
	{ "underscore", "mail_server.example.org", false },
	{ "leading hyphen", "-mail.example.org", false },
	{ "CR LF at the end", "mail.example.org\r\n", false },
	{ "space", "mail example.org", false },
	{ "8-bit", "m\xc3\xa4il.example.org", false },
};
/* clang-format on */

static void
test_helo_is_fqdn(void **state)
{
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
		nfail += tu_check_bool(helo_cases[i].name,
		    rd_helo_is_fqdn(helo_cases[i].helo), helo_cases[i].want,
		    "fqdn", "not fqdn");
	}
	assert_false(rd_helo_is_fqdn(NULL));
	TU_FAIL_IF_ANY(nfail, i);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_accepts),
	    cmocka_unit_test(test_addr_rejects),
	    cmocka_unit_test(test_addr_error_text),
	    cmocka_unit_test(test_addr_very_long),
	    cmocka_unit_test(test_domain_valid),
	    cmocka_unit_test(test_helo_is_fqdn),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

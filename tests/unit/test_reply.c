/*
 * test_reply.c - rd_reply_build (the explanatory multi-line SMTP reply of
 * enforce mode) and rd_header_build (the diagnostic header on accepted
 * mail).
 *
 * Both carry network text (HELO, addresses, AUTH user, the MTA's reply) to
 * the MTA, so most cases here are hostile: CR LF to inject a line or a
 * header, "%s%n" for smfi_setmlreply's format, invalid UTF-8 and 8-bit
 * bytes, values far longer than a line. The shape is checked on every
 * case: reply lines within RD_REPLY_LINE_MAX - 1 octets of printable ASCII
 * with '%' doubled, at most RD_REPLY_LINES_MAX lines, "Relay access denied
 * for <rcpt>." first and "Ref <id> <event id>" last; the header ASCII,
 * folded with "\n\t" so no physical line passes 78 columns, and no CR or
 * LF but the fold's.
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

#include "relaydiag/classify.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/reply.h"
#include "relaydiag/session.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))
#define EID "0123ABCD4567.3"
#define HEADER_PREFIX 20 /* "X-Relay-Diagnostic: " */
#define HEADER_COLS 78   /* RFC 5322 2.1.1 SHOULD */

static char long_helo[10241]; /* filled in main: 10 KB of HELO */

/* The reply cases: one unauthorized relay each, diagnosed from facts. */
/* clang-format off */
static const struct {
	const char	*name;
	enum rd_action	 action;
	const char	*helo, *rcpt, *ip;
	unsigned	 port;
	const char	*want_id;
	const char	*want_text;	/* in the joined lines, or NULL */
} rcases[] = {
	{ "desktop on port 25, reject",
	  RD_ACTION_REJECT, "UserPC", "bob@gmail.test", "203.0.113.5", 25,
	  "relay.client-on-port-25", "HELO \"UserPC\"" },
	{ "desktop on port 25, tempfail",
	  RD_ACTION_TEMPFAIL, "DESKTOP-4F2K", "bob@gmail.test", "203.0.113.5",
	  25, "relay.client-on-port-25", "HELO \"DESKTOP-4F2K\"" },
	{ "FQDN HELO, reject",
	  RD_ACTION_REJECT, "mail.isp.test", "bob@gmail.test", "203.0.113.5",
	  25, "relay.no-auth", "203.0.113.5" },
	{ "hostile HELO: CR LF and a command",
	  RD_ACTION_REJECT, "User\r\nPC\r\nMAIL FROM:<x@evil.test>",
	  "bob@gmail.test", "203.0.113.5", 25, "relay.client-on-port-25",
	  "User\\x0D\\x0APC" },
	{ "hostile HELO: printf conversions",
	  RD_ACTION_REJECT, "%s%n%x%%", "bob@gmail.test", "203.0.113.5", 25,
	  "relay.client-on-port-25", "%%s%%n%%x%%%%" },
	{ "hostile HELO: invalid UTF-8 and 8-bit",
	  RD_ACTION_REJECT, "\xff\xfeUser\xc3(PC\xe9", "bob@gmail.test",
	  "203.0.113.5", 25, "relay.client-on-port-25", "\\xFF\\xFEUser" },
	{ "hostile HELO: NUL-free control characters",
	  RD_ACTION_REJECT, "a\tb\x01" "c\x7f" "d\x1b[2J", "bob@gmail.test",
	  "203.0.113.5", 25, "relay.client-on-port-25", "a\\x09b\\x01c" },
	{ "hostile HELO: 10 KB",
	  RD_ACTION_REJECT, long_helo, "bob@gmail.test", "203.0.113.5", 25,
	  "relay.client-on-port-25", "HHHHHHHH" },
	{ "hostile recipient: CR LF and percent",
	  RD_ACTION_REJECT, "UserPC", "bob%s@gmail.test\r\n250 ok",
	  "203.0.113.5", 25, "relay.client-on-port-25", NULL },
	{ "recipient with a quoted local part and spaces",
	  RD_ACTION_REJECT, "UserPC", "\"bob smith\"@gmail.test",
	  "203.0.113.5", 25, "relay.client-on-port-25", NULL },
	{ "IPv6 client",
	  RD_ACTION_REJECT, "UserPC", "bob@gmail.test", "2001:db8::25", 25,
	  "relay.client-on-port-25", "2001:db8::25" },
};
/* clang-format on */

/* diagnose - the diagnosis of an unauthorized relay for the case */
static void
diagnose(const char *helo, const char *rcpt, const char *ip, unsigned port,
    struct rd_mta_result *mta, struct rd_diagnosis *d)
{
	struct rd_facts f;

	rd_classify_mta("smtp", "gmail.test", rcpt, mta); /* accepted */
	memset(&f, 0, sizeof(f));
	f.client_ip = ip;
	f.helo = helo;
	f.server_port = port;
	f.sender = "carol@isp.test";
	f.sender_domain = "isp.test";
	f.rcpt = rcpt;
	f.rcpt_domain = "gmail.test";
	f.cls.rclass = RD_CLASS_EXTERNAL;
	f.cls.source = RD_CLASS_BY_DEFAULT;
	f.cls.by = RD_AUTHZ_NONE;
	f.mta = mta;
	f.relay_gate = true; /* deployment 2: relaydiag refuses it */
	rd_diagnose_rcpt(&f, d);
}

/* reply_shape - every rule a reply line must keep; "" or what is wrong */
static const char *
reply_shape(const struct rd_verdict *v, char *why, size_t len)
{
	size_t i, j, n;

	if (v->nlines < 2 || v->nlines > RD_REPLY_LINES_MAX) {
		snprintf(why, len, "%zu lines, want 2 to %d", v->nlines,
		    RD_REPLY_LINES_MAX);
		return (why);
	}
	for (i = 0; i < v->nlines; i++) {
		n = strnlen(v->lines[i], RD_REPLY_LINE_MAX);
		if (n >= RD_REPLY_LINE_MAX) {
			snprintf(why, len, "line %zu not terminated within %d",
			    i + 1, RD_REPLY_LINE_MAX);
			return (why);
		}
		if (n == 0) {
			snprintf(why, len, "line %zu empty", i + 1);
			return (why);
		}
		for (j = 0; j < n; j++) {
			unsigned char c = (unsigned char)v->lines[i][j];

			if (c < 0x20 || c > 0x7e) {
				snprintf(why, len,
				    "line %zu: byte 0x%02X at "
				    "%zu",
				    i + 1, c, j);
				return (why);
			}
			/* smfi_setmlreply: every '%' doubled, "%%". */
			if (c == '%') {
				if (v->lines[i][j + 1] != '%') {
					snprintf(why, len,
					    "line %zu: single "
					    "'%%' at %zu: \"%s\"",
					    i + 1, j, v->lines[i]);
					return (why);
				}
				j++;
			}
		}
	}
	return ("");
}

static void
join_lines(const struct rd_verdict *v, char *out, size_t len)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; i < v->nlines; i++) {
		strncat(out, v->lines[i], len - strlen(out) - 1);
		strncat(out, " ", len - strlen(out) - 1);
	}
}

static void
test_reply_cases(void **state)
{
	struct rd_mta_result mta;
	struct rd_diagnosis d;
	struct rd_verdict v;
	char why[512], all[RD_REPLY_LINES_MAX * RD_REPLY_LINE_MAX + 16],
	    want[128];
	const char *bad;
	size_t i;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(rcases); i++) {
		diagnose(rcases[i].helo, rcases[i].rcpt, rcases[i].ip,
		    rcases[i].port, &mta, &d);
		if (strcmp(d.entry->id, rcases[i].want_id) != 0) {
			print_error("%s: diagnosis: got %s, want %s\n",
			    rcases[i].name, d.entry->id, rcases[i].want_id);
			nbad++;
			continue;
		}
		memset(&v, 0xa5, sizeof(v));
		v.nlines = 0;
		rd_reply_build(&v, rcases[i].action, &d, rcases[i].rcpt, EID);
		if (*(bad = reply_shape(&v, why, sizeof(why))) != '\0') {
			print_error("%s: %s\n", rcases[i].name, bad);
			nbad++;
			continue;
		}
		if (v.action != rcases[i].action) {
			print_error("%s: action: got %d, want %d\n",
			    rcases[i].name, (int)v.action,
			    (int)rcases[i].action);
			nbad++;
		}
		if (rcases[i].action == RD_ACTION_TEMPFAIL
			? strcmp(v.code, "451") != 0 ||
			      strcmp(v.dsn, "4.7.1") != 0
			: strcmp(v.code, "554") != 0 ||
			      strcmp(v.dsn, "5.7.1") != 0) {
			print_error("%s: got %s %s, want %s\n", rcases[i].name,
			    v.code, v.dsn,
			    rcases[i].action == RD_ACTION_TEMPFAIL
				? "451 4.7.1"
				: "554 5.7.1");
			nbad++;
		}
		/* A plain recipient comes out whole on the first line. */
		if (strpbrk(rcases[i].rcpt, "\r\n%") == NULL) {
			snprintf(want, sizeof(want),
			    "Relay access denied for <%s>.", rcases[i].rcpt);
			if (strcmp(v.lines[0], want) != 0) {
				print_error("%s: first line: got \"%s\", want "
					    "\"%s\"\n",
				    rcases[i].name, v.lines[0], want);
				nbad++;
			}
		} else if (strncmp(v.lines[0], "Relay access denied for <",
			       25) != 0) {
			print_error("%s: first line: got \"%s\"\n",
			    rcases[i].name, v.lines[0]);
			nbad++;
		}
		snprintf(
		    want, sizeof(want), "Ref %s %s", rcases[i].want_id, EID);
		if (strcmp(v.lines[v.nlines - 1], want) != 0) {
			print_error("%s: last line: got \"%s\", want \"%s\"\n",
			    rcases[i].name, v.lines[v.nlines - 1], want);
			nbad++;
		}
		join_lines(&v, all, sizeof(all));
		if (rcases[i].want_text != NULL &&
		    strstr(all, rcases[i].want_text) == NULL) {
			print_error("%s: reply lacks \"%s\": %s\n",
			    rcases[i].name, rcases[i].want_text, all);
			nbad++;
		}
		if (strstr(all, "Fix: ") == NULL) {
			print_error("%s: reply has no \"Fix: \": %s\n",
			    rcases[i].name, all);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u rd_reply_build checks failed (%zu cases)", nbad,
		    NCASES(rcases));
}

/* The reference stays the last line when the text must be cut. */
static void
test_reply_ref_survives_a_full_reply(void **state)
{
	struct rd_diagnosis d;
	struct rd_verdict v;
	char why[512];
	const char *bad;
	size_t i;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.entry = rd_catalogue_find("relay.no-auth");
	assert_non_null(d.entry);
	d.unauthorized_relay = true;
	/* Texts at their limits, made of short words: many lines each. */
	for (i = 0; i + 1 < sizeof(d.summary); i++)
		d.summary[i] = i % 3 == 2 ? ' ' : '%';
	for (i = 0; i + 1 < sizeof(d.remedy_client); i++)
		d.remedy_client[i] = i % 5 == 4 ? ' ' : 'r';
	rd_reply_build(&v, RD_ACTION_REJECT, &d, "bob@gmail.test", EID);
	if (*(bad = reply_shape(&v, why, sizeof(why))) != '\0')
		fail_msg("full texts: %s", bad);
	if (v.nlines != RD_REPLY_LINES_MAX)
		fail_msg("full texts: got %zu lines, want %d (cut)", v.nlines,
		    RD_REPLY_LINES_MAX);
	assert_string_equal(
	    v.lines[0], "Relay access denied for <bob@gmail.test>.");
	assert_string_equal(v.lines[v.nlines - 1], "Ref relay.no-auth " EID);
}

/* A NULL recipient does not crash; the first line still says it all. */
static void
test_reply_null_recipient(void **state)
{
	struct rd_mta_result mta;
	struct rd_diagnosis d;
	struct rd_verdict v;
	char why[512];
	const char *bad;

	(void)state;
	diagnose("UserPC", NULL, NULL, 25, &mta, &d);
	rd_reply_build(&v, RD_ACTION_REJECT, &d, NULL, EID);
	if (*(bad = reply_shape(&v, why, sizeof(why))) != '\0')
		fail_msg("NULL recipient: %s", bad);
	assert_string_equal(v.lines[0], "Relay access denied for <>.");
}

/* The header's view of one message, one case per row. */
static const char *const ids_one[] = {"relay.authorized-sasl"};
static const char *const ids_many[] = {
    "relay.authorized-sasl",
    "delivery.local",
    "sender.login-mismatch",
    "relay.client-on-port-25",
    "relay.tls-required-for-auth",
    "mta.recipient-access-denied",
    "sender.local-domain-unauthenticated",
};

/* clang-format off */
static const struct {
	const char		*name;
	struct rd_header_info	 h;
	const char		*want[6];	/* each in the value */
} hcases[] = {
	{ "authenticated submission with TLS",
	  { "mx.example.org", "0123ABCD4567", "192.0.2.5", "mail.example.org",
	    587, "sasl", "alice@example.org", "TLSv1.3", ids_one, 1 },
	  { "mx.example.org; ", "session=0123ABCD4567", "client=192.0.2.5",
	    "auth=sasl", "tls=TLSv1.3", "diagnosis=relay.authorized-sasl" } },
	{ "unauthenticated, no TLS, many ids",
	  { "mx.example.org", "0123ABCD4567", "203.0.113.5", "UserPC", 25,
	    "none", NULL, NULL, ids_many, NCASES(ids_many) },
	  { "helo=UserPC", "port=25", "auth=none", "tls=none",
	    "diagnosis=sender.local-domain-unauthenticated",
	    "diagnosis=relay.authorized-sasl" } },
	{ "hostile HELO: header injection",
	  { "mx.example.org", "0123ABCD4567", "203.0.113.5",
	    "x\r\nBcc: evil@evil.test", 25, "none", NULL, NULL, ids_one, 1 },
	  { "session=0123ABCD4567", "helo=x\\x0D\\x0ABcc:_evil@evil.test",
	    "diagnosis=relay.authorized-sasl" } },
	{ "hostile user: bare LF, then a header",
	  { "mx.example.org", "0123ABCD4567", "203.0.113.5", "UserPC", 587,
	    "sasl", "alice\nX-Spam-Flag: NO", "TLSv1.3", ids_one, 1 },
	  { "user=alice\\x0AX-Spam-Flag:_NO", "session=0123ABCD4567" } },
	{ "hostile HELO: structure characters and 8-bit",
	  { "mx.example.org", "0123ABCD4567", "203.0.113.5",
	    "a; b\tc\xff\xc3(", 25, "none", NULL, NULL, ids_one, 1 },
	  { "session=0123ABCD4567", "diagnosis=relay.authorized-sasl" } },
	{ "everything unknown",
	  { NULL, "0123ABCD4567", NULL, NULL, 0, "none", NULL, NULL, NULL,
	    0 },
	  { "session=0123ABCD4567", "helo=none", "client=none" } },
	{ "a long FQDN HELO and user",
	  { "mx.example.org", "0123ABCD4567", "198.51.100.77",
	    "a-rather-long-host-name.with-several-labels.in-a-big-company"
	    ".example.com", 587, "sasl",
	    "first.middle.lastname-with-a-long-tail@long-subsidiary.example"
	    ".com", "TLSv1.2", ids_many, NCASES(ids_many) },
	  { "session=0123ABCD4567", "port=587",
	    "diagnosis=mta.recipient-access-denied" } },
};
/* clang-format on */

/* header_shape - the folding and character rules; "" or what is wrong */
static const char *
header_shape(const char *v, char *why, size_t len)
{
	size_t col = HEADER_PREFIX, i;
	bool first_line = true;

	if (v[0] == '\0') {
		snprintf(why, len, "empty value");
		return (why);
	}
	for (i = 0; v[i] != '\0'; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c == '\n') {
			if (v[i + 1] != '\t') {
				snprintf(why, len,
				    "LF at %zu not followed by "
				    "a tab: a new header line",
				    i);
				return (why);
			}
			if (v[i + 2] == '\0' || v[i + 2] == '\n') {
				snprintf(why, len,
				    "fold at %zu leaves a line "
				    "of white space only",
				    i);
				return (why);
			}
			if (i > 0 && (v[i - 1] == ' ' || v[i - 1] == '\t')) {
				snprintf(why, len,
				    "white space before the "
				    "fold at %zu",
				    i);
				return (why);
			}
			col = 0;
			first_line = false;
			continue;
		}
		if (c == '\t' && i > 0 && v[i - 1] == '\n') {
			col = 8;
			continue;
		}
		if (c < 0x20 || c > 0x7e) {
			snprintf(why, len, "byte 0x%02X at %zu", c, i);
			return (why);
		}
		if (++col > HEADER_COLS) {
			snprintf(why, len,
			    "%s line longer than %d columns at "
			    "%zu: \"...%.40s\"",
			    first_line ? "first" : "a folded", HEADER_COLS, i,
			    i > 30 ? v + i - 30 : v);
			return (why);
		}
	}
	return ("");
}

static void
test_header_cases(void **state)
{
	char out[RD_HEADER_MAX], why[256];
	const char *bad;
	size_t i, k;
	unsigned nbad = 0;

	(void)state;
	for (i = 0; i < NCASES(hcases); i++) {
		memset(out, 0xa5, sizeof(out));
		rd_header_build(&hcases[i].h, out, sizeof(out));
		if (strnlen(out, sizeof(out)) >= sizeof(out)) {
			print_error("%s: not terminated\n", hcases[i].name);
			nbad++;
			continue;
		}
		if (*(bad = header_shape(out, why, sizeof(why))) != '\0') {
			print_error("%s: %s\n", hcases[i].name, bad);
			nbad++;
		}
		if (strchr(out, '\r') != NULL) {
			print_error("%s: CR in the value\n", hcases[i].name);
			nbad++;
		}
		for (k = 0;
		     k < NCASES(hcases[i].want) && hcases[i].want[k] != NULL;
		     k++)
			if (strstr(out, hcases[i].want[k]) == NULL) {
				print_error("%s: value lacks \"%s\": %s\n",
				    hcases[i].name, hcases[i].want[k], out);
				nbad++;
			}
		for (k = 0; k < hcases[i].h.nids; k++) {
			char want[96];

			snprintf(want, sizeof(want), "diagnosis=%s",
			    hcases[i].h.ids[k]);
			if (strstr(out, want) == NULL) {
				print_error("%s: value lacks \"%s\"\n",
				    hcases[i].name, want);
				nbad++;
			}
		}
		/* Injection: nothing after a line break starts a header. */
		if (strstr(out, "\nBcc") != NULL ||
		    strstr(out, "\nX-Spam") != NULL) {
			print_error("%s: a header line was injected: %s\n",
			    hcases[i].name, out);
			nbad++;
		}
	}
	if (nbad > 0)
		fail_msg("%u rd_header_build checks failed (%zu cases)", nbad,
		    NCASES(hcases));
}

/*
 * Values as long as the session keeps them (255 octets of HELO, AUTH user
 * and host, all escaped to 4 octets each): no physical line may pass
 * RFC 5322's 998 octets, and the shape rules hold.
 */
static void
test_header_long_values(void **state)
{
	char helo[256], user[256], host[256];
	char out[RD_HEADER_MAX], why[256];
	struct rd_header_info h;
	const char *bad, *p, *nl;

	(void)state;
	memset(helo, '\x01', sizeof(helo) - 1);
	helo[sizeof(helo) - 1] = '\0';
	memset(user, 'u', sizeof(user) - 1);
	user[sizeof(user) - 1] = '\0';
	memset(host, 'm', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	memset(&h, 0, sizeof(h));
	h.host = "mx.example.org";
	h.session = "0123ABCD4567";
	h.client_ip = "203.0.113.5";
	h.helo = helo;
	h.port = 25;
	h.authorized = "sasl";
	h.auth_user = user;
	h.tls_version = "TLSv1.3";
	h.ids = ids_many;
	h.nids = NCASES(ids_many);
	rd_header_build(&h, out, sizeof(out));
	for (p = out; p != NULL; p = nl != NULL ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if ((size_t)(nl != NULL ? nl - p : (ptrdiff_t)strlen(p)) +
			(p == out ? HEADER_PREFIX : 0) >
		    998)
			fail_msg("long values: a physical line of %zu octets "
				 "(RFC 5322 2.1.1: 998)",
			    nl != NULL ? (size_t)(nl - p) : strlen(p));
	}
	if (*(bad = header_shape(out, why, sizeof(why))) != '\0')
		fail_msg("long values: %s", bad);
	if (strstr(out, "session=0123ABCD4567") == NULL)
		fail_msg("long values: the session id was lost: %.80s", out);

	/* A 255-octet host in the first line. */
	h.host = host;
	h.helo = "UserPC";
	h.auth_user = "alice";
	rd_header_build(&h, out, sizeof(out));
	if (strstr(out, "session=0123ABCD4567") == NULL)
		fail_msg("long host: the session id was lost: %.80s", out);
}

/* A small buffer: cut, terminated, and never ending in a bare fold. */
static void
test_header_small_buffers(void **state)
{
	char full[RD_HEADER_MAX], out[RD_HEADER_MAX];
	char why[256];
	const char *bad;
	size_t len, n;

	(void)state;
	rd_header_build(&hcases[1].h, full, sizeof(full));
	n = strlen(full);
	for (len = 1; len <= n + 1; len++) {
		memset(out, 0xa5, sizeof(out));
		rd_header_build(&hcases[1].h, out, len);
		if (strnlen(out, len) >= len)
			fail_msg("buffer of %zu: not terminated", len);
		if (out[len] != (char)0xa5 && len < sizeof(out))
			fail_msg("buffer of %zu: written past the end", len);
		if (out[0] != '\0' &&
		    *(bad = header_shape(out, why, sizeof(why))) != '\0')
			fail_msg("buffer of %zu: %s: \"%s\"", len, bad, out);
		if (len > 1 && strlen(out) > 0 &&
		    (out[strlen(out) - 1] == '\n' ||
			out[strlen(out) - 1] == '\t'))
			fail_msg("buffer of %zu: ends in a bare fold", len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reply_cases),
	    cmocka_unit_test(test_reply_ref_survives_a_full_reply),
	    cmocka_unit_test(test_reply_null_recipient),
	    cmocka_unit_test(test_header_cases),
	    cmocka_unit_test(test_header_long_values),
	    cmocka_unit_test(test_header_small_buffers),
	};

	memset(long_helo, 'H', sizeof(long_helo) - 1);
	long_helo[sizeof(long_helo) - 1] = '\0';
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

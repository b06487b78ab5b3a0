/*
 * test_text.c - unit tests for buf.c, err.c and text.c: the growable
 * buffer, struct rd_err and rd_panic, bounded copies, UTF-8 validation and
 * the four sanitizers (log, header, reply, json).
 *
 * Table-driven: every case has a name in words, near misses sit next to the
 * hits, and a failure reads "<name>: got X, want Y" (all failures of a
 * table are printed before the test fails). Hostile input: CR, LF, every
 * byte value, ill-formed UTF-8, very long strings.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "relaydiag/buf.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"
#include "testutil.h"

/* only_printable - whether s holds only printable ASCII */
static bool
only_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return (false);
	return (true);
}

/* ---------------------------------------------------------------- buf */

static void
test_buf_empty_after_init(void **state)
{
	struct rd_buf b;

	(void)state;
	rd_buf_init(&b);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	rd_buf_reset(&b);
	assert_string_equal(b.data, "");
	rd_buf_free(&b);
	assert_non_null(b.data);
	assert_int_equal(b.len, 0);
	rd_buf_free(&b); /* twice: still fine */
	rd_buf_free(NULL);
}

static void
test_buf_add_forms(void **state)
{
	struct rd_buf b;

	(void)state;
	rd_buf_init(&b);
	rd_buf_adds(&b, "abc");
	rd_buf_adds(&b, NULL);
	rd_buf_adds(&b, "");
	rd_buf_add(&b, "defXXX", 3);
	rd_buf_add(&b, NULL, 0);
	rd_buf_addc(&b, 'g');
	rd_buf_printf(&b, "-%d-%s", 42, "h");
	assert_string_equal(b.data, "abcdefg-42-h");
	assert_int_equal(b.len, strlen("abcdefg-42-h"));
	assert_true(b.cap > b.len);

	/* An embedded NUL counts in len; data stays NUL-terminated. */
	rd_buf_reset(&b);
	rd_buf_addc(&b, 'a');
	rd_buf_addc(&b, '\0');
	rd_buf_addc(&b, 'b');
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\0b", 4);
	rd_buf_free(&b);
}

static void
test_buf_grows_large(void **state)
{
	struct rd_buf b;
	size_t i;

	(void)state;
	rd_buf_init(&b);
	for (i = 0; i < 100000; i++)
		rd_buf_addc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 100000);
	assert_int_equal(strlen(b.data), 100000);
	assert_int_equal(b.data[99999], 'a' + 99999 % 26);

	/* printf larger than the room left, at once */
	rd_buf_reset(&b);
	rd_buf_printf(&b, "%s", "x");
	rd_buf_printf(&b, "%0200000d|", 7);
	assert_int_equal(b.len, 1 + 200000 + 1);
	assert_int_equal(b.data[b.len - 1], '|');
	assert_int_equal(b.data[b.len - 2], '7');
	assert_int_equal(b.data[b.len], '\0');
	rd_buf_free(&b);
}

static void
test_buf_add_from_itself(void **state)
{
	struct rd_buf b;
	int i;

	(void)state;
	/* Doubling from its own data forces realloc under the source. */
	rd_buf_init(&b);
	rd_buf_adds(&b, "ab");
	for (i = 0; i < 16; i++)
		rd_buf_add(&b, b.data, b.len);
	assert_int_equal(b.len, 2u << 16);
	for (i = 0; i < (int)b.len; i += 2)
		if (b.data[i] != 'a' || b.data[i + 1] != 'b')
			fail_msg("self add: byte %d is wrong", i);
	rd_buf_free(&b);
}

static void
test_buf_steal(void **state)
{
	struct rd_buf b;
	char *s;

	(void)state;
	rd_buf_init(&b);
	rd_buf_adds(&b, "kept");
	s = rd_buf_steal(&b);
	assert_string_equal(s, "kept");
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	free(s);

	/* Empty: still a string the caller can free(). */
	s = rd_buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	/* Reusable after steal and after free, without init. */
	rd_buf_adds(&b, "again");
	assert_string_equal(b.data, "again");
	rd_buf_free(&b);
	rd_buf_adds(&b, "and again");
	assert_string_equal(b.data, "and again");
	rd_buf_free(&b);
}

/* ---------------------------------------------------------------- err */

static void
test_err_set_and_format(void **state)
{
	struct rd_err e;
	char out[1024];

	(void)state;
	rd_err_set(&e, "relaydiag.conf", 12, "MyNetworks: %s", "bad");
	assert_string_equal(e.source, "relaydiag.conf");
	assert_int_equal(e.line, 12);
	assert_string_equal(e.text, "MyNetworks: bad");
	assert_string_equal(rd_err_format(&e, out, sizeof(out)),
	    "relaydiag.conf:12: MyNetworks: bad");

	rd_err_set(&e, "<address>", 0, "bad address");
	assert_string_equal(
	    rd_err_format(&e, out, sizeof(out)), "<address>: bad address");

	rd_err_set(&e, NULL, 0, "no source");
	assert_string_equal(e.source, "");
	assert_string_equal(rd_err_format(&e, out, sizeof(out)), "no source");

	/* A small buffer cuts, always terminated. */
	rd_err_set(&e, "file", 3, "abcdef");
	assert_string_equal(rd_err_format(&e, out, 10), "file:3: a");
	assert_string_equal(rd_err_format(&e, out, 1), "");
	assert_string_equal(rd_err_format(&e, out, 0), "");
	assert_string_equal(rd_err_format(NULL, out, sizeof(out)), "");

	rd_err_clear(&e);
	assert_string_equal(e.source, "");
	assert_string_equal(e.text, "");
	assert_int_equal(e.line, 0);
	rd_err_clear(NULL);
	rd_err_set(NULL, "x", 1, "nothing happens %d", 1);
}

/* clang-format off */
static const struct {
	const char	*name, *arg, *want;
} err_cases[] = {
	{ "plain text kept",		"relay denied",	"x: relay denied" },
	{ "CR and LF replaced",		"a\r\nb",	"x: a??b" },
	{ "near miss: LF alone",	"a\nb",		"x: a?b" },
	{ "tab replaced",		"a\tb",		"x: a?b" },
	{ "ESC replaced (terminal)",	"\x1b[2J",	"x: ?[2J" },
	{ "DEL replaced",		"a\x7f" "b",	"x: a?b" },
	{ "8-bit bytes replaced",	"caf\xc3\xa9",	"x: caf??" },
	{ "C1 CSI replaced",		"\x9b" "31m",	"x: ?31m" },
	{ "printable punctuation kept",	"\"<a@b>\" %s \\", "x: \"<a@b>\" %s \\" },
};
/* clang-format on */

static void
test_err_text_is_safe(void **state)
{
	struct rd_err e;
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		rd_err_set(&e, "src\r\n", 0, "x: %s", err_cases[i].arg);
		nfail += tu_check_str(
		    err_cases[i].name, "text", e.text, err_cases[i].want);
		nfail += tu_check_str(
		    err_cases[i].name, "source", e.source, "src??");
	}
	TU_FAIL_IF_ANY(nfail, i);
}

static void
test_err_truncates(void **state)
{
	struct rd_err e;
	char *big;
	size_t n = 100000;

	(void)state;
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, 'A', n);
	big[n] = '\0';
	big[n / 2] = '\n';
	rd_err_set(&e, big, 7, "bad: %s", big);
	assert_int_equal(strlen(e.text), sizeof(e.text) - 1);
	assert_int_equal(strlen(e.source), sizeof(e.source) - 1);
	assert_string_equal(e.text + sizeof(e.text) - 4, "...");
	assert_true(only_printable(e.text, strlen(e.text)));
	assert_int_equal(strncmp(e.text, "bad: AAAA", 9), 0);

	/* Exactly fitting text is not marked as cut. */
	memset(big, 'B', sizeof(e.text) - 1);
	big[sizeof(e.text) - 1] = '\0';
	rd_err_set(&e, "s", 0, "%s", big);
	assert_string_equal(e.text, big);
	free(big);
}

static void
test_err_args_may_alias(void **state)
{
	struct rd_err e;

	(void)state;
	/* The caller adds context to an error it got back. */
	rd_err_set(&e, "<address>", 0, "empty local part");
	rd_err_set(
	    &e, "relaydiag.conf", 3, "%s: %s: %s", "Sender", e.source, e.text);
	assert_string_equal(e.text, "Sender: <address>: empty local part");
	rd_err_set(&e, e.source, e.line + 1, "%s", e.text);
	assert_string_equal(e.source, "relaydiag.conf");
	assert_int_equal(e.line, 4);
	assert_string_equal(e.text, "Sender: <address>: empty local part");
}

static void
test_panic_aborts(void **state)
{
	struct rlimit nocore = {0, 0};
	char got[512];
	ssize_t n;
	pid_t pid;
	int fds[2], status;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &nocore);
		dup2(fds[1], 2);
		close(fds[0]);
		rd_panic("invariant broken: %d refs\n<%s>", -1, "x");
		_exit(0); /* not reached */
	}
	close(fds[1]);
	n = read(fds[0], got, sizeof(got) - 1);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
		fail_msg(
		    "rd_panic: got status %#x, want death by SIGABRT", status);
	assert_true(n > 0);
	got[n] = '\0';
	/* One line: the LF of the message became '?'. */
	assert_string_equal(
	    got, "relaydiag: panic: invariant broken: -1 refs?<x>\n");
}

/* ---------------------------------------------------------------- copies */

/* clang-format off */
static const struct {
	const char	*name, *src;
	size_t		 size;
	const char	*want;
} lcpy_cases[] = {
	{ "fits",			"abc",	 8, "abc" },
	{ "fits exactly",		"abc",	 4, "abc" },
	{ "near miss: one short",	"abc",	 3, "ab" },
	{ "size one: empty",		"abc",	 1, "" },
	{ "empty source",		"",	 4, "" },
};
/* clang-format on */

static void
test_strlcpy(void **state)
{
	char dst[16];
	size_t i, r;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(lcpy_cases) / sizeof(lcpy_cases[0]); i++) {
		memset(dst, 'Z', sizeof(dst));
		r = rd_strlcpy(dst, lcpy_cases[i].src, lcpy_cases[i].size);
		nfail += tu_check_str(
		    lcpy_cases[i].name, "dst", dst, lcpy_cases[i].want);
		if (r != strlen(lcpy_cases[i].src)) {
			print_error("%s: return: got %zu, want %zu\n",
			    lcpy_cases[i].name, r, strlen(lcpy_cases[i].src));
			nfail++;
		}
		if (dst[lcpy_cases[i].size] != 'Z') {
			print_error(
			    "%s: wrote past dstsize\n", lcpy_cases[i].name);
			nfail++;
		}
	}
	/* size 0 writes nothing */
	memset(dst, 'Z', sizeof(dst));
	assert_int_equal(rd_strlcpy(dst, "abc", 0), 3);
	assert_int_equal(dst[0], 'Z');
	TU_FAIL_IF_ANY(nfail, i);
}

static void
test_strdup_max(void **state)
{
	char *p;

	(void)state;
	assert_null(rd_strdup_max(NULL, 10));
	p = rd_strdup_max("hello", 10);
	assert_string_equal(p, "hello");
	free(p);
	p = rd_strdup_max("hello", 5);
	assert_string_equal(p, "hello");
	free(p);
	p = rd_strdup_max("hello", 4); /* near miss: cut */
	assert_string_equal(p, "hell");
	free(p);
	p = rd_strdup_max("hello", 0);
	assert_string_equal(p, "");
	free(p);
}

/* ---------------------------------------------------------------- utf-8 */

/* clang-format off */
static const struct {
	const char	*name, *s;
	size_t		 len;
	bool		 want;
} utf8_cases[] = {
	{ "empty",				"",		0, true },
	{ "ASCII",				"abc",		3, true },
	{ "NUL is a character",			"a\0b",		3, true },
	{ "2-byte e-acute",			"\xc3\xa9",	2, true },
	{ "3-byte euro",			"\xe2\x82\xac",	3, true },
	{ "4-byte emoji",			"\xf0\x9f\x98\x80", 4, true },
	{ "smallest 2-byte U+0080",		"\xc2\x80",	2, true },
	{ "near miss: overlong '/' C0 AF",	"\xc0\xaf",	2, false },
	{ "near miss: overlong C1 BF",		"\xc1\xbf",	2, false },
	{ "smallest 3-byte U+0800",		"\xe0\xa0\x80",	3, true },
	{ "near miss: overlong E0 9F BF",	"\xe0\x9f\xbf",	3, false },
	{ "smallest 4-byte U+10000",		"\xf0\x90\x80\x80", 4, true },
	{ "near miss: overlong F0 8F BF BF",	"\xf0\x8f\xbf\xbf", 4, false },
	{ "last before surrogates U+D7FF",	"\xed\x9f\xbf",	3, true },
	{ "near miss: surrogate U+D800",	"\xed\xa0\x80",	3, false },
	{ "near miss: surrogate U+DFFF",	"\xed\xbf\xbf",	3, false },
	{ "first after surrogates U+E000",	"\xee\x80\x80",	3, true },
	{ "noncharacter U+FFFF is well-formed",	"\xef\xbf\xbf",	3, true },
	{ "largest U+10FFFF",			"\xf4\x8f\xbf\xbf", 4, true },
	{ "near miss: U+110000",		"\xf4\x90\x80\x80", 4, false },
	{ "near miss: F5 lead",			"\xf5\x80\x80\x80", 4, false },
	{ "FF byte",				"\xff",		1, false },
	{ "FE byte",				"\xfe",		1, false },
	{ "lone continuation byte",		"\x80",		1, false },
	{ "truncated 2-byte",			"\xc3",		1, false },
	{ "truncated 3-byte",			"\xe2\x82",	2, false },
	{ "truncated 4-byte",			"\xf0\x9f\x98",	3, false },
	{ "length cuts a valid sequence",	"\xc3\xa9",	1, false },
	{ "ASCII after a lead byte",		"\xc3" "a",	2, false },
	{ "5-byte form (old RFC 2279)",		"\xf8\x88\x80\x80\x80", 5, false },
	{ "Latin-1 text",			"caf\xe9",	4, false },
};
/* clang-format on */

static void
test_utf8_valid(void **state)
{
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
		nfail += tu_check_bool(utf8_cases[i].name,
		    rd_utf8_valid(utf8_cases[i].s, utf8_cases[i].len),
		    utf8_cases[i].want, "valid", "invalid");
	}
	assert_true(rd_utf8_valid(NULL, 0));
	assert_false(rd_utf8_valid(NULL, 1));
	TU_FAIL_IF_ANY(nfail, i);
}

/* ---------------------------------------------------------------- sinks */

#define FFFD "\xef\xbf\xbd"

/* clang-format off */
static const struct {
	const char	*name, *in;
	const char	*log;		/* log and header share the rule */
	const char	*reply;
	const char	*json;
} sink_cases[] = {
	{ "plain ASCII kept", "Relay access denied",
	  "Relay access denied", "Relay access denied",
	  "Relay access denied" },
	{ "empty", "", "", "", "" },
	{ "CRLF injection", "ok\r\nX-Evil: 1",
	  "ok\\x0D\\x0AX-Evil: 1", "ok\\x0D\\x0AX-Evil: 1",
	  "ok\r\nX-Evil: 1" },
	{ "near miss: lone LF", "a\nb", "a\\x0Ab", "a\\x0Ab", "a\nb" },
	{ "tab escaped", "a\tb", "a\\x09b", "a\\x09b", "a\tb" },
	{ "ESC and DEL escaped", "\x1b[0m\x7f", "\\x1B[0m\\x7F",
	  "\\x1B[0m\\x7F", "\x1b[0m\x7f" },
	{ "percent: doubled in reply only", "100% sure",
	  "100% sure", "100%% sure", "100% sure" },
	{ "printf directive in reply", "%s%n", "%s%n", "%%s%%n", "%s%n" },
	{ "valid UTF-8: escaped, kept in json", "caf\xc3\xa9",
	  "caf\\xC3\\xA9", "caf\\xC3\\xA9", "caf\xc3\xa9" },
	{ "emoji kept in json", "\xf0\x9f\x98\x80",
	  "\\xF0\\x9F\\x98\\x80", "\\xF0\\x9F\\x98\\x80", "\xf0\x9f\x98\x80" },
	{ "Latin-1 byte: U+FFFD in json", "caf\xe9",
	  "caf\\xE9", "caf\\xE9", "caf" FFFD },
	{ "overlong C0 AF: two U+FFFD", "\xc0\xaf",
	  "\\xC0\\xAF", "\\xC0\\xAF", FFFD FFFD },
	{ "overlong E0 80 80: three U+FFFD", "\xe0\x80\x80x",
	  "\\xE0\\x80\\x80x", "\\xE0\\x80\\x80x", FFFD FFFD FFFD "x" },
	{ "surrogate ED A0 80: three U+FFFD", "\xed\xa0\x80",
	  "\\xED\\xA0\\x80", "\\xED\\xA0\\x80", FFFD FFFD FFFD },
	{ "above U+10FFFF: four U+FFFD", "\xf4\x90\x80\x80",
	  "\\xF4\\x90\\x80\\x80", "\\xF4\\x90\\x80\\x80",
	  FFFD FFFD FFFD FFFD },
	{ "truncated 4-byte: one U+FFFD", "\xf0\x9f\x98!",
	  "\\xF0\\x9F\\x98!", "\\xF0\\x9F\\x98!", FFFD "!" },
	{ "truncated at the end: one U+FFFD", "ab\xe2\x82",
	  "ab\\xE2\\x82", "ab\\xE2\\x82", "ab" FFFD },
	{ "FF byte", "\xff", "\\xFF", "\\xFF", FFFD },
	{ "U+FFFD itself kept in json", FFFD,
	  "\\xEF\\xBF\\xBD", "\\xEF\\xBF\\xBD", FFFD },
};
/* clang-format on */

static void
test_sinks_table(void **state)
{
	struct rd_buf b;
	size_t i;
	int nfail = 0;

	(void)state;
	rd_buf_init(&b);
	for (i = 0; i < sizeof(sink_cases) / sizeof(sink_cases[0]); i++) {
		rd_buf_reset(&b);
		rd_text_log(&b, sink_cases[i].in);
		nfail += tu_check_str(
		    sink_cases[i].name, "log", b.data, sink_cases[i].log);
		rd_buf_reset(&b);
		rd_text_header(&b, sink_cases[i].in);
		nfail += tu_check_str(
		    sink_cases[i].name, "header", b.data, sink_cases[i].log);
		rd_buf_reset(&b);
		rd_text_reply(&b, sink_cases[i].in);
		nfail += tu_check_str(
		    sink_cases[i].name, "reply", b.data, sink_cases[i].reply);
		rd_buf_reset(&b);
		rd_text_json(&b, sink_cases[i].in);
		nfail += tu_check_str(
		    sink_cases[i].name, "json", b.data, sink_cases[i].json);
	}
	rd_buf_free(&b);
	TU_FAIL_IF_ANY(nfail, i);
}

/* A client's literal "\x41" must not read like an escape in the log. */
static void
test_sinks_backslash(void **state)
{
	struct rd_buf b;

	(void)state;
	rd_buf_init(&b);
	rd_text_log(&b, "a\\x41");
	assert_string_equal(b.data, "a\\x5Cx41");
	rd_buf_reset(&b);
	rd_text_header(&b, "a\\x41");
	assert_string_equal(b.data, "a\\x41");
	rd_buf_reset(&b);
	rd_text_reply(&b, "a\\x41");
	assert_string_equal(b.data, "a\\x41");
	rd_buf_reset(&b);
	rd_text_json(&b, "a\\x41");
	assert_string_equal(b.data, "a\\x41");
	rd_buf_free(&b);
}

static void
test_sinks_append_and_null(void **state)
{
	struct rd_buf b;

	(void)state;
	rd_buf_init(&b);
	rd_buf_adds(&b, "k=");
	rd_text_log(&b, "v\n");
	rd_text_log(&b, NULL);
	rd_text_header(&b, NULL);
	rd_text_reply(&b, NULL);
	rd_text_json(&b, NULL);
	assert_string_equal(b.data, "k=v\\x0A");
	rd_buf_free(&b);
}

/* Every byte value: only printable ASCII out; json is valid UTF-8. */
static void
test_sinks_every_byte(void **state)
{
	struct rd_buf b;
	char in[256];
	int c;

	(void)state;
	for (c = 1; c < 256; c++)
		in[c - 1] = (char)c;
	in[255] = '\0';
	rd_buf_init(&b);
	rd_text_log(&b, in);
	assert_true(only_printable(b.data, b.len));
	/* The log escapes the backslash too (unambiguous logs). */
	assert_int_equal(b.len, 94 + 161 * 4);
	rd_buf_reset(&b);
	rd_text_header(&b, in);
	assert_true(only_printable(b.data, b.len));
	assert_null(memchr(b.data, '\r', b.len));
	assert_null(memchr(b.data, '\n', b.len));
	rd_buf_reset(&b);
	rd_text_reply(&b, in);
	assert_true(only_printable(b.data, b.len));
	assert_int_equal(b.len, 95 + 1 + 160 * 4); /* '%' doubled */
	rd_buf_reset(&b);
	rd_text_json(&b, in);
	assert_true(rd_utf8_valid(b.data, b.len));
	/* 127 ASCII bytes, then 128 ill-formed bytes, one U+FFFD each */
	assert_int_equal(b.len, 127 + 128 * 3);
	rd_buf_free(&b);
}

static void
test_sinks_long_hostile(void **state)
{
	struct rd_buf b;
	size_t n = 200000, i;
	char *in;

	(void)state;
	in = malloc(n + 1);
	assert_non_null(in);
	for (i = 0; i < n; i++)
		in[i] = "\r\n\xc3%"[i % 4];
	in[n] = '\0';
	rd_buf_init(&b);
	rd_text_header(&b, in);
	assert_int_equal(b.len, n / 4 * (4 + 4 + 4 + 1));
	assert_true(only_printable(b.data, b.len));
	rd_buf_reset(&b);
	rd_text_reply(&b, in);
	assert_int_equal(b.len, n / 4 * (4 + 4 + 4 + 2));
	rd_buf_reset(&b);
	rd_text_json(&b, in);
	assert_true(rd_utf8_valid(b.data, b.len));
	/* "\xc3%": '%' is no continuation byte, so each C3 is one U+FFFD */
	assert_int_equal(b.len, n / 4 * (1 + 1 + 3 + 1));
	rd_buf_free(&b);
	free(in);
}

/* clang-format off */
static const struct {
	const char	*name, *in;
	size_t		 len;
	const char	*want;
} logstr_cases[] = {
	{ "fits",			"abc",	 8, "abc" },
	{ "cut plain",			"abcdef", 4, "abc" },
	{ "escape fits exactly",	"a\n",	 6, "a\\x0A" },
	{ "near miss: escape would be cut", "a\n", 5, "a" },
	{ "escape not split at 3",	"\nz",	 4, "" },
	{ "NULL input",			NULL,	 4, "" },
	{ "size one",			"abc",	 1, "" },
};
/* clang-format on */

static void
test_log_str(void **state)
{
	char dst[32];
	size_t i;
	int nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(logstr_cases) / sizeof(logstr_cases[0]); i++) {
		memset(dst, 'Z', sizeof(dst));
		if (rd_text_log_str(
			dst, logstr_cases[i].len, logstr_cases[i].in) != dst) {
			print_error(
			    "%s: did not return dst\n", logstr_cases[i].name);
			nfail++;
		}
		nfail += tu_check_str(
		    logstr_cases[i].name, "out", dst, logstr_cases[i].want);
	}
	memset(dst, 'Z', sizeof(dst));
	assert_ptr_equal(rd_text_log_str(dst, 0, "abc"), dst);
	assert_int_equal(dst[0], 'Z');
	TU_FAIL_IF_ANY(nfail, i);
}

/* ---------------------------------------------------------------- case */

/* clang-format off */
static const struct {
	const char	*name, *a, *b;
	int		 sign;
} cmp_cases[] = {
	{ "equal",			"example.org",	"example.org",	0 },
	{ "case differs",		"Example.ORG",	"eXample.org",	0 },
	{ "near miss: one letter",	"example.org",	"example.orh",	-1 },
	{ "prefix sorts first",		"example",	"example.org",	-1 },
	{ "longer sorts after",		"example.org",	"example",	1 },
	{ "8-bit not folded",		"\xc9",		"\xe9",		-1 },
	{ "no Turkish dotless i rule",	"I",		"i",		0 },
	{ "empty strings",		"",		"",		0 },
	{ "NULL first",			NULL,		"",		-1 },
	{ "both NULL",			NULL,		NULL,		0 },
};
/* clang-format on */

static void
test_strcasecmp_ascii(void **state)
{
	size_t i;
	int nfail = 0, got;

	(void)state;
	for (i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
		got = rd_strcasecmp_ascii(cmp_cases[i].a, cmp_cases[i].b);
		got = got < 0 ? -1 : got > 0 ? 1 : 0;
		if (got != cmp_cases[i].sign) {
			print_error("%s: got %d, want %d\n", cmp_cases[i].name,
			    got, cmp_cases[i].sign);
			nfail++;
		}
	}
	TU_FAIL_IF_ANY(nfail, i);
}

static void
test_lower_ascii(void **state)
{
	char s[] = "MiXeD.Example.ORG-09\xc3\x89";

	(void)state;
	assert_ptr_equal(rd_lower_ascii(s), s);
	assert_string_equal(s, "mixed.example.org-09\xc3\x89");
	assert_null(rd_lower_ascii(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_empty_after_init),
	    cmocka_unit_test(test_buf_add_forms),
	    cmocka_unit_test(test_buf_grows_large),
	    cmocka_unit_test(test_buf_add_from_itself),
	    cmocka_unit_test(test_buf_steal),
	    cmocka_unit_test(test_err_set_and_format),
	    cmocka_unit_test(test_err_text_is_safe),
	    cmocka_unit_test(test_err_truncates),
	    cmocka_unit_test(test_err_args_may_alias),
	    cmocka_unit_test(test_panic_aborts),
	    cmocka_unit_test(test_strlcpy),
	    cmocka_unit_test(test_strdup_max),
	    cmocka_unit_test(test_utf8_valid),
	    cmocka_unit_test(test_sinks_table),
	    cmocka_unit_test(test_sinks_backslash),
	    cmocka_unit_test(test_sinks_append_and_null),
	    cmocka_unit_test(test_sinks_every_byte),
	    cmocka_unit_test(test_sinks_long_hostile),
	    cmocka_unit_test(test_log_str),
	    cmocka_unit_test(test_strcasecmp_ascii),
	    cmocka_unit_test(test_lower_ascii),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}

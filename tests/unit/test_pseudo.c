/*
 * test_pseudo.c - keyed pseudonyms (pseudo.c) and HashPersonalData as the
 * events show it (session.c).
 *
 * SipHash-2-4 is checked against the 64 vectors of the reference code that
 * accompanies the paper (key 00 01 .. 0f, message 00 01 .. n-1; n = 15 is
 * the paper's worked example in its appendix). Then the key file formats
 * with their near misses, the pseudonym's shape and stability, the
 * replacement inside free text, and last whole sessions driven like
 * test_session.c, with a capturing sink: with HashPersonalData on, no
 * address and no user name appears anywhere in any event, while the
 * client's SMTP reply still names the real recipient.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "relaydiag/config.h"
#include "relaydiag/domainset.h"
#include "relaydiag/history.h"
#include "relaydiag/netset.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"

#include "testutil.h"

#define NCASES(a) (sizeof(a) / sizeof((a)[0]))

/* ---- SipHash-2-4 ------------------------------------------------------- */

/* vectors_sip64 of the reference implementation (SipHash-2-4, 64 bits). */
static const uint64_t sip_vectors[64] = {
    0x726fdb47dd0e0e31,
    0x74f839c593dc67fd,
    0x0d6c8009d9a94f5a,
    0x85676696d7fb7e2d,
    0xcf2794e0277187b7,
    0x18765564cd99a68d,
    0xcbc9466e58fee3ce,
    0xab0200f58b01d137,
    0x93f5f5799a932462,
    0x9e0082df0ba9e4b0,
    0x7a5dbbc594ddb9f3,
    0xf4b32f46226bada7,
    0x751e8fbc860ee5fb,
    0x14ea5627c0843d90,
    0xf723ca908e7af2ee,
    0xa129ca6149be45e5,
    0x3f2acc7f57c29bdb,
    0x699ae9f52cbe4794,
    0x4bc1b3f0968dd39c,
    0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98,
    0xd0f2cbb02e3b67c7,
    0x93536795e3a33e88,
    0xa80c038ccd5ccec8,
    0xb8ad50c6f649af94,
    0xbce192de8a85b8ea,
    0x17d835b85bbb15f3,
    0x2f2e6163076bcfad,
    0xde4daaaca71dc9a5,
    0xa6a2506687956571,
    0xad87a3535c49ef28,
    0x32d892fad841c342,
    0x7127512f72f27cce,
    0xa7f32346f95978e3,
    0x12e0b01abb051238,
    0x15e034d40fa197ae,
    0x314dffbe0815a3b4,
    0x027990f029623981,
    0xcadcd4e59ef40c4d,
    0x9abfd8766a33735c,
    0x0e3ea96b5304a7d0,
    0xad0c42d6fc585992,
    0x187306c89bc215a9,
    0xd4a60abcf3792b95,
    0xf935451de4f21df2,
    0xa9538f0419755787,
    0xdb9acddff56ca510,
    0xd06c98cd5c0975eb,
    0xe612a3cb9ecba951,
    0xc766e62cfcadaf96,
    0xee64435a9752fe72,
    0xa192d576b245165a,
    0x0a8787bf8ecb74b2,
    0x81b3e73d20b49b6f,
    0x7fa8220ba3b2ecea,
    0x245731c13ca42499,
    0xb78dbfaf3a8d83bd,
    0xea1ad565322a1a0b,
    0x60e61c23a3795013,
    0x6606d7e446282b93,
    0x6ca4ecb15c5f91e1,
    0x9f626da15c9625f3,
    0xe51b38608ef25f57,
    0x958a324ceb064572,
};

static void
test_siphash_reference_vectors(void **state)
{
	uint8_t key[16], msg[64];
	uint64_t got;
	size_t i;

	(void)state;
	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (i = 0; i < 64; i++) {
		got = rd_siphash24(key, msg, i);
		if (got != sip_vectors[i])
			fail_msg("reference vector, %zu-byte message: got "
				 "%016llx, want %016llx",
			    i, (unsigned long long)got,
			    (unsigned long long)sip_vectors[i]);
	}
	/* The paper's appendix A: the 15-byte message, as a number. */
	assert_true(rd_siphash24(key, msg, 15) == UINT64_C(0xa129ca6149be45e5));
}

/* ---- key files ----------------------------------------------------------- */

static const uint8_t key_0f[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};

static void
test_pseudo_key_formats(void **state)
{
	/* clang-format off */
	static const struct {
		const char	*name;
		const char	*data;
		size_t		 len;		/* 0: strlen(data) */
		bool		 ok;
		const uint8_t	*want;		/* NULL: the first 16 bytes */
		const char	*errsub;
	} cases[] = {
		{ "hex, 32 digits",
		  "000102030405060708090a0b0c0d0e0f", 0, true, key_0f, NULL },
		{ "hex, upper case, newline",
		  "000102030405060708090A0B0C0D0E0F\n", 0, true, key_0f, NULL },
		{ "hex, white space around",
		  "  \t000102030405060708090a0b0c0d0e0f \r\n\n", 0, true,
		  key_0f, NULL },
		{ "hex, 64 digits: the first 32",
		  "000102030405060708090a0b0c0d0e0fffffffffffffffffffffffffffffffff\n",
		  0, true, key_0f, NULL },
		{ "raw, 16 bytes", "ABCDEFGHIJKLMNOP", 0, true, NULL, NULL },
		{ "raw, 32 bytes: the first 16",
		  "ABCDEFGHIJKLMNOPqrstuvwxyz012345", 0, true, NULL, NULL },
		{ "raw, binary with NUL bytes",
		  "\x00\xff\x10\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
		  "\x0b\x0c", 16, true, NULL, NULL },
		{ "near miss: raw, 15 bytes", "ABCDEFGHIJKLMNO", 0, false,
		  NULL, "15 bytes" },
		{ "near miss: empty file", "", 0, false, NULL, "0 bytes" },
		{ "near miss: hex, 31 digits",
		  "000102030405060708090a0b0c0d0e0", 0, false, NULL,
		  "31 hex digits" },
		{ "near miss: hex, 16 digits (looks like 16 bytes)",
		  "0011223344556677\n", 0, false, NULL, "16 hex digits" },
		{ "near miss: all zero",
		  "00000000000000000000000000000000", 0, false, NULL,
		  "all zero" },
		{ "near miss: 16 NUL bytes", "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
		  16, false, NULL, "all zero" },
	};
	/* clang-format on */
	struct rd_pseudo_key k;
	struct rd_err err;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		memset(&err, 0, sizeof(err));
		len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].data);
		rc = rd_pseudo_key_parse(cases[i].data, len, "key", &k, &err);
		if (cases[i].ok && rc != 0)
			fail_msg("%s: refused: %s", cases[i].name, err.text);
		if (!cases[i].ok) {
			if (rc == 0)
				fail_msg("%s: accepted", cases[i].name);
			if (strstr(err.text, cases[i].errsub) == NULL ||
			    strstr(err.text, "HashKeyFile") == NULL)
				fail_msg("%s: error \"%s\", want \"%s\"",
				    cases[i].name, err.text, cases[i].errsub);
			continue;
		}
		if (memcmp(k.k,
			cases[i].want != NULL ? cases[i].want
					      : (const uint8_t *)cases[i].data,
			16) != 0)
			fail_msg("%s: wrong key bytes", cases[i].name);
	}
}

static char *
write_tmp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_pseudo.XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_true(write(fd, data, len) == (ssize_t)len);
	close(fd);
	return (path);
}

static void
test_pseudo_key_read(void **state)
{
	static const mode_t modes[] = {0644, 0640, 0604, 0660, 0666, 0620};
	struct rd_pseudo_key k;
	struct rd_err err;
	char *path;
	size_t i;

	(void)state;
	path = write_tmp("000102030405060708090a0b0c0d0e0f\n", 33);
	if (rd_pseudo_key_read(path, &k, &err) != 0)
		fail_msg("hex key file: %s", err.text);
	assert_memory_equal(k.k, key_0f, 16);
	unlink(path);
	free(path);

	path = write_tmp("short", 5);
	if (rd_pseudo_key_read(path, &k, &err) == 0)
		fail_msg("5-byte key file accepted");
	if (strstr(err.source, "/tmp/test_pseudo.") == NULL ||
	    strstr(err.text, "/dev/urandom") == NULL)
		fail_msg("short key file: error %s: %s: want the file and "
			 "the fix",
		    err.source, err.text);
	unlink(path);
	free(path);

	if (rd_pseudo_key_read("/nonexistent/relaydiag.key", &k, &err) == 0 ||
	    strstr(err.text, "No such file") == NULL)
		fail_msg("missing key file: %s", err.text);
	if (rd_pseudo_key_read("/tmp", &k, &err) == 0 ||
	    strstr(err.text, "regular file") == NULL)
		fail_msg("directory as key file: %s", err.text);
	if (rd_pseudo_key_read(NULL, &k, &err) == 0)
		fail_msg("no HashKeyFile accepted");

	/* As OpenDKIM's private keys: no one but the owner may read it. */
	path = write_tmp("000102030405060708090a0b0c0d0e0f\n", 33);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(path, modes[i]), 0);
		if (rd_pseudo_key_read(path, &k, &err) == 0 ||
		    strstr(err.text, "chmod 600") == NULL)
			fail_msg("key file mode %04o: accepted, or no fix "
				 "given: %s",
			    (unsigned)modes[i], err.text);
	}
	assert_int_equal(chmod(path, 0400), 0);
	if (rd_pseudo_key_read(path, &k, &err) != 0)
		fail_msg("key file mode 0400: %s", err.text);
	unlink(path);
	/* a FIFO is refused at once, not waited on */
	assert_int_equal(mkfifo(path, 0600), 0);
	alarm(5);
	if (rd_pseudo_key_read(path, &k, &err) == 0 ||
	    strstr(err.text, "regular file") == NULL)
		fail_msg("FIFO as key file: %s", err.text);
	alarm(0);
	unlink(path);
	free(path);
}

/* ---- pseudonyms ---------------------------------------------------------- */

static bool
is_pseudonym(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 18 || strncmp(s, "h:", 2) != 0)
		return (false);
	for (i = 2; i < 18; i++)
		if (strchr("0123456789abcdef", s[i]) == NULL)
			return (false);
	return (true);
}

static void
test_pseudo_hash_shape_and_stability(void **state)
{
	struct rd_pseudo_key k1, k2;
	char a[RD_PSEUDO_LEN], b[RD_PSEUDO_LEN], c[RD_PSEUDO_LEN];
	char want[RD_PSEUDO_LEN];

	(void)state;
	memcpy(k1.k, key_0f, 16);
	k2 = k1;
	k2.k[15] ^= 0x01; /* one bit apart */

	rd_pseudo_hash(&k1, "bob@gmail.test", a);
	if (!is_pseudonym(a))
		fail_msg("pseudonym \"%s\": not h: + 16 hex digits", a);
	/* It is SipHash-2-4 of the bytes, printed as one 64-bit number. */
	snprintf(want, sizeof(want), "h:%016llx",
	    (unsigned long long)rd_siphash24(key_0f, "bob@gmail.test", 14));
	assert_string_equal(a, want);
	assert_string_equal(rd_pseudo_hash(&k1, "bob@gmail.test", b), a);
	if (strcmp(rd_pseudo_hash(&k2, "bob@gmail.test", c), a) == 0)
		fail_msg("different keys give the same pseudonym %s", a);
	if (strcmp(rd_pseudo_hash(&k1, "bob@gmail.tesT", c), a) == 0)
		fail_msg("different input gives the same pseudonym");
	assert_true(is_pseudonym(rd_pseudo_hash(&k1, "", c)));
	assert_string_equal(rd_pseudo_hash(&k1, NULL, b), c);
	assert_string_equal(
	    rd_pseudo_hash(NULL, "bob@gmail.test", c), RD_PSEUDO_NOKEY);
}

static void
test_pseudo_replace_in_text(void **state)
{
	/* clang-format off */
	static const struct {
		const char	*name, *text, *want; /* @B@ = hash of secret 0, @U@ = of 1 */
	} cases[] = {
		{ "echoed recipient", "<bob@gmail.test>: Relay access denied",
		  "<@B@>: Relay access denied" },
		{ "any case", "<BOB@Gmail.TEST>: rejected", "<@B@>: rejected" },
		{ "end of a sentence", "rejected bob@gmail.test.",
		  "rejected @B@." },
		{ "twice", "bob@gmail.test bob@gmail.test", "@B@ @B@" },
		{ "user name alone", "user bob refused", "user @U@ refused" },
		{ "near miss: a longer address",
		  "xbob@gmail.test refused", "xbob@gmail.test refused" },
		{ "near miss: the user inside a word", "bobby refused",
		  "bobby refused" },
		{ "near miss: a sub-domain", "bob@gmail.test-x",
		  "bob@gmail.test-x" },
		{ "the address wins over the user inside it",
		  "from bob@gmail.test", "from @B@" },
		{ "nothing personal", "Relay access denied",
		  "Relay access denied" },
		{ "empty", "", "" },
	};
	/* clang-format on */
	const char *secrets[] = {"bob@gmail.test", "bob", NULL, ""};
	struct rd_pseudo_key k;
	char hb[RD_PSEUDO_LEN], hu[RD_PSEUDO_LEN], want[256], got[256];
	char small[8];
	size_t i, o;
	const char *p;

	(void)state;
	memcpy(k.k, key_0f, 16);
	rd_pseudo_hash(&k, secrets[0], hb);
	rd_pseudo_hash(&k, secrets[1], hu);
	for (i = 0; i < NCASES(cases); i++) {
		for (o = 0, p = cases[i].want; *p != '\0';) {
			if (strncmp(p, "@B@", 3) == 0 ||
			    strncmp(p, "@U@", 3) == 0) {
				o +=
				    (size_t)snprintf(want + o, sizeof(want) - o,
					"%s", p[1] == 'B' ? hb : hu);
				p += 3;
			} else
				want[o++] = *p++;
		}
		want[o] = '\0';
		rd_pseudo_replace(&k, cases[i].text, secrets, NCASES(secrets),
		    got, sizeof(got));
		if (strcmp(got, want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
			    got, want);
	}
	/* Cut to fit, always terminated. */
	rd_pseudo_replace(
	    &k, "bob@gmail.test", secrets, 2, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, hb, sizeof(small) - 1);
	rd_pseudo_replace(&k, NULL, secrets, 2, got, sizeof(got));
	assert_string_equal(got, "");
}

static void
test_pseudo_install(void **state)
{
	struct rd_pseudo_key k, got;

	(void)state;
	rd_pseudo_install(NULL);
	if (rd_pseudo_current(&got))
		fail_msg("a key is installed before any install");
	memcpy(k.k, key_0f, 16);
	rd_pseudo_install(&k);
	k.k[0] = 0x55; /* copied, not kept */
	assert_true(rd_pseudo_current(&got));
	assert_memory_equal(got.k, key_0f, 16);
	rd_pseudo_install(NULL);
	assert_false(rd_pseudo_current(&got));
}

/* ---- HashPersonalData in the events of whole sessions ---------------------
 */

/*
 * cap_new - a capturing sink that fails the test on an event it cannot keep
 * or parse, and reports 7 dropped and 3 spooled so that the session event
 * has something to show.
 */
static struct tu_cap *
cap_new(void)
{
	struct tu_cap *c = tu_cap_new();

	c->strict = true;
	c->extra_dropped = 7;
	c->extra_spooled = 3;
	return (c);
}

static struct rd_config *
cfg_new(enum rd_mode mode, bool hash)
{
	struct rd_config *cfg;
	struct rd_err err;

	cfg = rd_config_defaults();
	assert_non_null(cfg);
	rd_netset_free(cfg->trusted_networks);
	cfg->trusted_networks = rd_netset_new();
	assert_non_null(cfg->trusted_networks);
	if (rd_domainset_add_list(cfg->local_domains, "example.test", &err) !=
		0 ||
	    rd_netset_add_list(cfg->trusted_networks, "127.0.0.10/32", &err) !=
		0)
		fail_msg("test config: %s", err.text);
	cfg->submission_ports[0] = 2587;
	cfg->n_submission_ports = 1;
	cfg->mode = mode;
	/* enforce here is deployment 2: relaydiag refuses what Postfix lets
	   through (without RelayGate, the MTA's acceptance stands) */
	cfg->relay_gate = mode == RD_MODE_ENFORCE;
	cfg->hash_personal = hash;
	return (cfg);
}

/* clang-format off */
static const struct rd_conn_info conn_mx = {
	"127.0.0.1", 48712, "localhost", "localhost", "mx.example.test",
	"127.0.0.1", 2525, "mx.example.test",
};
static const struct rd_conn_info conn_sub = {
	"127.0.0.7", 48714, "unknown", "unknown", "ORIGINATING",
	"127.0.0.1", 2587, "mx.example.test",
};
static const struct rd_mail_info mail_carol = {
	"<carol@isp.test>", NULL, NULL, NULL, { NULL, NULL, NULL, NULL },
};
/* Alice logged in; her login is an address (sender.login-mismatch bait). */
static const struct rd_mail_info mail_alice = {
	"<alice@example.test>", "4Q2xYz1Abc", "PLAIN", "alice@example.test",
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", NULL },
};
static const struct rd_mail_info mail_alice_as_boss = {
	"<boss@example.test>", "4Q2xYz1Abd", "PLAIN", "alice@example.test",
	{ "TLSv1.3", "TLS_AES_256_GCM_SHA384", "256", NULL },
};
static const struct rd_rcpt_info rcpt_relay_denied = {
	"<bob@gmail.test>", "error", "5.7.1", "Relay access denied", NULL,
};
/* An MTA that echoes the address in its text. */
static const struct rd_rcpt_info rcpt_echoed = {
	"<Dave@Gmail.test>", "error", "5.7.1",
	"Recipient address rejected: <Dave@Gmail.test> is not allowed for "
	"CAROL@isp.test", NULL,
};
static const struct rd_rcpt_info rcpt_relay_ok = {
	"<bob@gmail.test>", "smtp", "gmail.test", "bob@gmail.test", NULL,
};
static const struct rd_rcpt_info rcpt_virtual = {
	"<alice@example.test>", "virtual", "example.test",
	"alice@example.test", NULL,
};
/* clang-format on */

/* The personal data of the sessions below: never in an event. */
static const char *const raw_personal[] = {
    "bob@gmail.test",
    "Dave@Gmail.test",
    "dave@gmail.test",
    "carol@isp.test",
    "alice@example.test",
    "boss@example.test",
    "\"bob",
    "\"carol",
    "\"alice",
    "\"boss",
    "Dave@",
    "=alice",
    "<bob",
    "<alice",
    "<carol",
};

static void
check_no_raw(const char *name, const struct tu_cap *c)
{
	size_t i, k;

	for (i = 0; i < c->n; i++)
		for (k = 0; k < NCASES(raw_personal); k++)
			if (strstr(c->json[i], raw_personal[k]) != NULL ||
			    strcasestr(c->json[i], raw_personal[k]) != NULL)
				fail_msg("%s: event %zu (%s) contains \"%s\": "
					 "%s",
				    name, i + 1, c->type[i], raw_personal[k],
				    c->json[i]);
}

/* with_key - install the test key (or none) */
static void
with_key(bool yes)
{
	struct rd_pseudo_key k;

	memcpy(k.k, key_0f, 16);
	rd_pseudo_install(yes ? &k : NULL);
}

static const char *
hash_of(const char *s, char out[RD_PSEUDO_LEN])
{
	struct rd_pseudo_key k;

	memcpy(k.k, key_0f, 16);
	return (rd_pseudo_hash(&k, s, out));
}

static void
test_hashed_events_carry_no_address(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_ENFORCE, true);
	struct tu_cap *cap = cap_new();
	struct rd_session *s;
	struct rd_verdict v;
	struct rd_eom_plan plan;
	char h[RD_PSEUDO_LEN], h2[RD_PSEUDO_LEN];
	json_t *ev;
	size_t i, nreply_real = 0;

	(void)state;
	with_key(true);

	/* 1. untrusted client, relay refused by the MTA, echoed addresses */
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_helo(s, "UserPC", NULL);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_denied, &v);
	rd_session_rcpt(s, &rcpt_echoed, &v);
	rd_session_abort(s);
	/* enforce: a relay the MTA let through is refused by relaydiag,
	   and the client's reply names the real recipient */
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_ok, &v);
	if (v.action != RD_ACTION_REJECT)
		fail_msg("enforce: relay not refused");
	for (i = 0; i < v.nlines; i++)
		nreply_real += strstr(v.lines[i], "bob@gmail.test") != NULL;
	if (nreply_real == 0)
		fail_msg("the SMTP reply must name the real recipient "
			 "bob@gmail.test: \"%s\"",
		    v.lines[0]);
	rd_session_abort(s);
	rd_session_close(s);
	rd_session_free(s);

	/* 2. authenticated, sending as another address; local delivery */
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_sub);
	rd_session_helo(s, "laptop.example.test", &mail_alice.tls);
	rd_session_mail(s, &mail_alice_as_boss);
	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_eom(s, "4Q2xYz1Abd", &plan);
	rd_session_mail(s, &mail_alice);
	rd_session_rcpt(s, &rcpt_virtual, &v);
	rd_session_eom(s, "4Q2xYz1Abe", &plan);
	rd_session_close(s);
	rd_session_free(s);

	check_no_raw("hashed", cap);

	/* What is there instead: pseudonyms, and the domains in clear. */
	ev = cap->obj[0];
	assert_string_equal(tu_jstr(ev, "type"), "rcpt");
	assert_string_equal(
	    tu_jstr(ev, "rcpt.addr"), hash_of("bob@gmail.test", h));
	assert_string_equal(tu_jstr(ev, "rcpt.domain"), "gmail.test");
	assert_string_equal(
	    tu_jstr(ev, "sender.addr"), hash_of("carol@isp.test", h));
	assert_string_equal(tu_jstr(ev, "sender.domain"), "isp.test");
	if (strstr(tu_jstr(ev, "diagnosis.summary"),
		hash_of("bob@gmail.test", h)) == NULL)
		fail_msg("summary without the recipient's pseudonym: %s",
		    tu_jstr(ev, "diagnosis.summary"));
	assert_string_equal(tu_jstr(ev, "mta.text"), "Relay access denied");
	/* The echoed text: addresses replaced, in whatever case they came. */
	ev = cap->obj[1];
	hash_of("Dave@gmail.test", h);
	hash_of("carol@isp.test", h2);
	if (strstr(tu_jstr(ev, "mta.text"), h) == NULL ||
	    strstr(tu_jstr(ev, "mta.text"), h2) == NULL)
		fail_msg("mta.text: %s: want %s and %s",
		    tu_jstr(ev, "mta.text"), h, h2);
	assert_string_equal(tu_jstr(ev, "rcpt.domain"), "gmail.test");
	/* The same address, the same pseudonym, in every event. */
	for (i = 0; i < cap->n; i++) {
		ev = cap->obj[i];
		if (strcmp(cap->type[i], "session") == 0) {
			if (json_integer_value(tu_jget(ev, "sink.dropped")) !=
				7 ||
			    json_integer_value(tu_jget(ev, "sink.spooled")) !=
				3)
				fail_msg("session event: sink counts: %s",
				    cap->json[i]);
			continue;
		}
		if (json_is_object(tu_jget(ev, "auth")) &&
		    strcmp(tu_jstr(ev, "auth.user"),
			hash_of("alice@example.test", h)) != 0)
			fail_msg("event %zu: auth.user %s, want %s", i + 1,
			    tu_jstr(ev, "auth.user"), h);
	}
	/* alice as boss: the user's and the sender's pseudonyms differ;
	   alice as herself: the same (login = address), as in clear text. */
	ev = NULL;
	for (i = 0; i < cap->n; i++)
		if (strcmp(cap->type[i], "message") == 0 && ev == NULL)
			ev = cap->obj[i];
	assert_non_null(ev);
	assert_string_equal(
	    tu_jstr(ev, "sender.addr"), hash_of("boss@example.test", h));
	assert_string_equal(
	    tu_jstr(ev, "diagnosis.id"), "sender.login-mismatch");
	if (strstr(tu_jstr(ev, "diagnosis.summary"),
		hash_of("alice@example.test", h2)) == NULL)
		fail_msg("login-mismatch summary: %s",
		    tu_jstr(ev, "diagnosis.summary"));

	rd_sink_close(&cap->base);
	rd_config_free(cfg);
	with_key(false);
}

/* Hashing on but no key installed: a placeholder, never the address. */
static void
test_hashed_without_key_fails_closed(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_OBSERVE, true);
	struct tu_cap *cap = cap_new();
	struct rd_session *s;
	struct rd_verdict v;

	(void)state;
	with_key(false);
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_relay_denied, &v);
	rd_session_close(s);
	rd_session_free(s);
	check_no_raw("no key", cap);
	assert_string_equal(tu_jstr(cap->obj[0], "rcpt.addr"), RD_PSEUDO_NOKEY);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
}

/* Off: the events keep the addresses (nothing else changes). */
static void
test_not_hashed_when_off(void **state)
{
	struct rd_config *cfg = cfg_new(RD_MODE_OBSERVE, false);
	struct tu_cap *cap = cap_new();
	struct rd_session *s;
	struct rd_verdict v;

	(void)state;
	with_key(true);
	s = rd_session_new(cfg, &cap->base);
	rd_session_connect(s, &conn_mx);
	rd_session_mail(s, &mail_carol);
	rd_session_rcpt(s, &rcpt_echoed, &v);
	rd_session_close(s);
	rd_session_free(s);
	assert_string_equal(
	    tu_jstr(cap->obj[0], "rcpt.addr"), "Dave@gmail.test");
	assert_string_equal(
	    tu_jstr(cap->obj[0], "sender.addr"), "carol@isp.test");
	assert_string_equal(tu_jstr(cap->obj[0], "mta.text"), rcpt_echoed.addr);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
	with_key(false);
}

/*
 * Alerts sample the senders behind them: with hashing on, as pseudonyms.
 * Two senders who relayed with SASL are refused without it from the same
 * client (OutageSenders 2): alert.auth-outage; and the refusal's own
 * diagnosis (relay.auth-stopped) names the sender in its summary.
 */
static void
test_hashed_alert_sample(void **state)
{
	static const struct rd_mail_info mail_sasl[2] = {
	    {"<erin@example.test>", NULL, "PLAIN", "erin@example.test",
		{NULL, NULL, NULL, NULL}},
	    {"<frank@example.test>", NULL, "PLAIN", "frank@example.test",
		{NULL, NULL, NULL, NULL}},
	};
	static const struct rd_mail_info mail_plain[2] = {
	    {"<erin@example.test>", NULL, NULL, NULL, {NULL, NULL, NULL, NULL}},
	    {"<frank@example.test>", NULL, NULL, NULL,
		{NULL, NULL, NULL, NULL}},
	};
	struct rd_config *cfg = cfg_new(RD_MODE_OBSERVE, true);
	struct rd_history_params hp;
	struct rd_history *hist;
	struct tu_cap *cap = cap_new();
	struct rd_session *s;
	struct rd_verdict v;
	struct rd_err err;
	char h[RD_PSEUDO_LEN];
	json_t *ev = NULL, *sample;
	size_t i;
	int pass;

	(void)state;
	with_key(true);
	memset(&hp, 0, sizeof(hp));
	hp.outage_senders = 2;
	if ((hist = rd_history_new(&hp, &err)) == NULL)
		fail_msg("history: %s", err.text);
	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < 2; i++) {
			s = rd_session_new(cfg, &cap->base);
			rd_session_use(s, hist, NULL);
			rd_session_connect(s, &conn_mx);
			rd_session_helo(s, "laptop.isp.test", NULL);
			rd_session_mail(
			    s, pass == 0 ? &mail_sasl[i] : &mail_plain[i]);
			rd_session_rcpt(s,
			    pass == 0 ? &rcpt_relay_ok : &rcpt_relay_denied,
			    &v);
			rd_session_abort(s);
			rd_session_close(s);
			rd_session_free(s);
		}
	for (i = 0; i < cap->n; i++)
		if (strcmp(cap->type[i], "alert") == 0)
			ev = cap->obj[i];
	if (ev == NULL)
		fail_msg("no alert among %zu events", cap->n);
	sample = tu_jget(ev, "sample.senders");
	if (json_array_size(sample) == 0)
		fail_msg("alert without a sender sample: %s",
		    json_dumps(ev, JSON_COMPACT));
	for (i = 0; i < json_array_size(sample); i++)
		if (!is_pseudonym(json_string_value(json_array_get(sample, i))))
			fail_msg("alert sample: %s is not a pseudonym",
			    json_string_value(json_array_get(sample, i)));
	hash_of("frank@example.test", h);
	for (i = 0; i < cap->n; i++)
		if (strcmp(cap->type[i], "rcpt") == 0 &&
		    strstr(cap->json[i], "frank") == NULL &&
		    strstr(tu_jstr(cap->obj[i], "diagnosis.summary"), h) !=
			NULL)
			break;
	if (i == cap->n)
		fail_msg("no rcpt event whose summary names frank's pseudonym");
	for (i = 0; i < cap->n; i++)
		if (strstr(cap->json[i], "erin@") != NULL ||
		    strstr(cap->json[i], "frank@") != NULL ||
		    strstr(cap->json[i], "bob@") != NULL)
			fail_msg("event %zu names a raw address: %s", i + 1,
			    cap->json[i]);
	rd_history_free(hist);
	rd_sink_close(&cap->base);
	rd_config_free(cfg);
	with_key(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_siphash_reference_vectors),
	    cmocka_unit_test(test_pseudo_key_formats),
	    cmocka_unit_test(test_pseudo_key_read),
	    cmocka_unit_test(test_pseudo_hash_shape_and_stability),
	    cmocka_unit_test(test_pseudo_replace_in_text),
	    cmocka_unit_test(test_pseudo_install),
	    cmocka_unit_test(test_hashed_events_carry_no_address),
	    cmocka_unit_test(test_hashed_without_key_fails_closed),
	    cmocka_unit_test(test_not_hashed_when_off),
	    cmocka_unit_test(test_hashed_alert_sample),
	};

	json_object_seed(1);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}

/*
 * fuzz_pseudo.c - HashPersonalData's writers (pseudo.c): the key file
 * parser (rd_pseudo_key_parse), pseudonyms (rd_pseudo_hash), and the
 * replacement of addresses and user names in the MTA's reply text
 * (rd_pseudo_replace), which writes network text into every event.
 *
 * Input: a flags byte (bit 0: a key, else none; the rest: the output
 * size), the key file contents, up to three secrets (sender, recipient,
 * user), then the text; NUL-separated.
 *
 * Invariants: a key parses or fails with a printable error; pseudonyms
 * are "h:" + 16 hex digits (or "h:nokey"), the same for the same input;
 * the output is NUL-terminated inside its buffer; and no secret that is an
 * address (has an '@') is left in clear with a boundary on both sides (the
 * rule pseudo.h states), unless the output was cut right after it.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "relaydiag/pseudo.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_MAX 600

/* token - a byte that continues a word or an address (pseudo.c's rule) */
static bool
token(unsigned char c)
{
	return (c >= 0x80 || isalnum(c) ||
		(c != '\0' && strchr("@_-+=", c) != NULL));
}

static void
check_pseudonym(const char *h)
{
	if (strcmp(h, RD_PSEUDO_NOKEY) != 0 &&
	    (strncmp(h, "h:", 2) != 0 || strlen(h) != RD_PSEUDO_LEN - 1 ||
		strspn(h + 2, "0123456789abcdef") != 16))
		fz_fail("pseudo: \"%s\" is not a pseudonym", h);
}

/* pseudonym_at - the length of the pseudonym ("h:nokey", "h:" + 16 hex)
   that starts out at p, or 0 */
static size_t
pseudonym_at(const char *out, size_t p)
{
	if (strncmp(out + p, RD_PSEUDO_NOKEY, strlen(RD_PSEUDO_NOKEY)) == 0)
		return (strlen(RD_PSEUDO_NOKEY));
	if (strncmp(out + p, "h:", 2) == 0 &&
	    strspn(out + p + 2, "0123456789abcdef") >= 16)
		return (RD_PSEUDO_LEN - 1);
	return (0);
}

/* cut_pseudonym_at - out from p to its end is the start of a pseudonym
   (an output cut inside one) */
static bool
cut_pseudonym_at(const char *out, size_t p)
{
	const char *t = out + p;
	size_t n = strlen(t);

	return (n > 0 && n < RD_PSEUDO_LEN - 1 &&
		(strncmp(t, RD_PSEUDO_NOKEY, n) == 0 ||
		    (t[0] == 'h' &&
			(n == 1 ||
			    (t[1] == ':' &&
				strspn(t + 2, "0123456789abcdef") == n - 2)))));
}

/* overlaps_pseudonym - a pseudonym (cut, at the end of a full output)
   other than out[i, i + n) itself overlaps it */
static bool
overlaps_pseudonym(const char *out, size_t i, size_t n, bool full)
{
	size_t p = i >= RD_PSEUDO_LEN ? i - RD_PSEUDO_LEN : 0;

	for (; p < i + n; p++) {
		size_t len = p == i ? 0 : pseudonym_at(out, p);

		if (len > 0 && p + len > i)
			return (true);
		if (p > i && full && cut_pseudonym_at(out, p))
			return (true);
	}
	return (false);
}

/* check_gone - no bounded, case-folded occurrence of s in out */
static void
check_gone(const char *out, size_t outlen, const char *s)
{
	size_t i, n = strlen(s), len = strlen(out);
	bool full = len + 1 == outlen; /* maybe cut: the end is no bound */

	if (n == 0 || strchr(s, '@') == NULL)
		return;
	/*
	 * A secret that contains a pseudonym's text ("x@y h:nokey") can be
	 * made again by the substitution of another secret next to it: that
	 * is the pseudonym, not the secret left in clear (found by fuzzing).
	 */
	if (strstr(s, "h:") != NULL || strstr(s, "H:") != NULL)
		return;
	for (i = 0; i + n <= len; i++) {
		if (strncasecmp(out + i, s, n) != 0)
			continue;
		if (i > 0 && token((unsigned char)out[i - 1]))
			continue;
		if (i + n < len ? token((unsigned char)out[i + n]) : full)
			continue;
		/*
		 * Text made in part by the pseudonym of another secret: with
		 * secrets "x@y h" and "%s", "x@y %s" gives "x@y h:nokey"; with
		 * "X" and "nokey.@b", "X.@b" gives "h:nokey.@b". The secret
		 * was not in the text: not in clear (both found by fuzzing).
		 */
		if (overlaps_pseudonym(out, i, n, full))
			continue;
		fz_fail(
		    "pseudo: secret \"%s\" left in clear in \"%s\"", s, out);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_pseudo_key key;
	struct rd_err err;
	const char *secrets[3], *keytext, *text;
	char out[OUT_MAX], h1[RD_PSEUDO_LEN], h2[RD_PSEUDO_LEN];
	size_t outlen, i;
	unsigned flags;
	bool keyed;
	struct fz f;

	fz_init(&f, data, size);
	flags = fz_byte(&f);
	outlen = 1 + (flags >> 1) * (OUT_MAX - 1) / 127;
	keytext = fz_str(&f);
	rd_err_clear(&err);
	if (rd_pseudo_key_parse(
		keytext, strlen(keytext), "fuzz-key", &key, &err) == 0)
		fz_check_err(&err, false);
	else
		fz_check_err(&err, true);
	keyed = (flags & 1) && err.text[0] == '\0';
	for (i = 0; i < 3; i++)
		secrets[i] = fz_str_or_null(&f);
	text = fz_str(&f);

	for (i = 0; i < 3; i++) {
		rd_pseudo_hash(keyed ? &key : NULL, secrets[i], h1);
		rd_pseudo_hash(keyed ? &key : NULL, secrets[i], h2);
		check_pseudonym(h1);
		if (strcmp(h1, h2) != 0)
			fz_fail("pseudo: two pseudonyms for one input");
	}
	memset(out, 0x55, sizeof(out));
	rd_pseudo_replace(keyed ? &key : NULL, text, secrets, 3, out, outlen);
	if (strnlen(out, outlen) >= outlen)
		fz_fail("pseudo: output not NUL-terminated in %zu", outlen);
	for (i = 0; i < 3; i++)
		if (secrets[i] != NULL)
			check_gone(out, outlen, secrets[i]);
	fz_done(&f);
	return (0);
}

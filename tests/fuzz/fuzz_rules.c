/*
 * fuzz_rules.c - the MTA reply-text rules (rules.c): rd_rules_add_text on
 * the first NUL-separated field (an admin's ReplyRules file), then every
 * further field (a reply text from the MTA) matched against those rules
 * followed by the built-in ones, as a loaded configuration has them.
 *
 * Regular expressions are the admin's (trusted) input, and glibc's regcomp
 * can take exponential time or memory on some (bounded repetition, back
 * references): an input whose rules use '{' or a back reference in a
 * /regex/ is skipped, so the fuzzer looks for our bugs, not glibc's limits.
 *
 * Invariants: errors are printable one-liners with the source and line; a
 * match is NULL, "relay" or a catalogue id; with no admin rule, the
 * built-in rules name a Postfix "Relay access denied" reply "relay", in
 * any case.
 */
#include <stdint.h>
#include <string.h>

#include "relaydiag/diagnose.h"
#include "relaydiag/rules.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* slow_regex - a rule text with '{' or "\<digit>" inside /.../ */
static bool
slow_regex(const char *text)
{
	const char *p;

	for (p = text; *p != '\0'; p++)
		if (*p == '{' || (p[0] == '\\' && p[1] >= '0' && p[1] <= '9'))
			return (true);
	return (false);
}

static void
check_id(const char *id, const char *text)
{
	if (id != NULL && strcmp(id, "relay") != 0 &&
	    rd_catalogue_find(id) == NULL)
		fz_fail("rules: \"%s\" matched as unknown id \"%s\"", text, id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_rules *r;
	struct rd_err err;
	const char *text, *id;
	struct fz f;
	unsigned admin;
	int rc;

	fz_init(&f, data, size);
	text = fz_str(&f);
	if (slow_regex(text) || (r = rd_rules_new()) == NULL) {
		fz_done(&f);
		return (-1);	/* not added to the corpus */
	}
	rd_err_clear(&err);
	rc = rd_rules_add_text(r, "fuzz-rules", text, &err);
	if (rc != 0) {
		fz_check_err(&err, true);
		if (strcmp(err.source, "fuzz-rules") != 0 || err.line == 0)
			fz_fail("rules: error without source:line: %s:%u: %s",
			    err.source, err.line, err.text);
	} else
		fz_check_err(&err, false);
	admin = rd_rules_count(r);
	rd_err_clear(&err);
	if (rd_rules_add_default(r, &err) != 0)
		fz_fail("rules: the built-in rules do not load: %s", err.text);
	id = rd_rules_match(r, "554 5.7.1 <b@x.test>: RELAY ACCESS DENIED");
	if (admin == 0 && (id == NULL || strcmp(id, "relay") != 0))
		fz_fail("rules: built-in rules miss Relay access denied");
	while (!fz_empty(&f)) {
		text = fz_str(&f);
		check_id(rd_rules_match(r, text), text);
	}
	(void)rd_rules_count(r);
	rd_rules_free(r);
	fz_done(&f);
	return (0);
}

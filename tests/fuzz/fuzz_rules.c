/*
 * fuzz_rules.c - the MTA reply-text rules (rules.c): rd_rules_add_text on
 * the first NUL-separated field (an admin's ReplyRules file), then every
 * further field (a reply text from the MTA) matched against those rules,
 * then against the built-in ones (compiled once), in the order a loaded
 * configuration has them.
 *
 * Regular expressions are PCRE2 with a match and a depth limit: every
 * pattern is fuzzed, none is skipped (glibc's regcomp, used before, took
 * exponential time on some, which had to be left out).
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

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The built-in rules, compiled once: they come after the admin's. */
static struct rd_rules *builtin;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rd_err err;

	(void)argc;
	(void)argv;
	rd_err_clear(&err);
	if ((builtin = rd_rules_new()) == NULL ||
	    rd_rules_add_default(builtin, &err) != 0)
		fz_fail("rules: the built-in rules do not load: %s", err.text);
	fz_check_err(&err, false);
	return (0);
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
	if ((r = rd_rules_new()) == NULL) {
		fz_done(&f);
		return (-1); /* not added to the corpus */
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
	text = "554 5.7.1 <b@x.test>: RELAY ACCESS DENIED";
	if ((id = rd_rules_match(r, text)) == NULL)
		id = rd_rules_match(builtin, text);
	if (admin == 0 && (id == NULL || strcmp(id, "relay") != 0))
		fz_fail("rules: built-in rules miss Relay access denied");
	while (!fz_empty(&f)) {
		text = fz_str(&f);
		/* As a configuration's rules: the admin's first. */
		if ((id = rd_rules_match(r, text)) == NULL)
			id = rd_rules_match(builtin, text);
		check_id(id, text);
	}
	rd_rules_free(r);
	fz_done(&f);
	return (0);
}

/*
 * rules.h - the map from an MTA's reply text to a diagnosis id, as data.
 *
 * Rules are lines "<id> [when=<cond>,...] <pattern>": <id> a catalogue id or
 * "relay" (the MTA refused to relay; diagnose.c names the cause), <pattern> a
 * case-insensitive substring or a PCRE2 regular expression between slashes
 * (the syntax of Postfix's pcre: tables; case-insensitive; each match
 * bounded by a match and a depth limit, a limit hit being no match). '#' at the
 * start of a line or after white space starts a comment. A when= word
 * makes the rule hold only in a context: each condition (auth, trusted,
 * tls, submission, sasl-required; "!" before one negates it) must hold
 * for the session (RD_RULES_*). The first rule that
 * matches wins, in the order they were added. The shipped rules
 * (conf/reply-rules) are compiled in; an admin's files (ReplyRules) are added
 * before them. Threads: build in one thread; then read-only (pcre2_match on
 * shared code and match context is safe from many threads; match data is per
 * call).
 */
#ifndef RELAYDIAG_RULES_H
#define RELAYDIAG_RULES_H

#include "relaydiag/err.h"

struct rd_rules;

struct rd_rules *rd_rules_new(void);
void rd_rules_free(struct rd_rules *r); /* NULL: no-op */

/*
 * rd_rules_add_text - add the rules in text (NUL-terminated), naming source
 * in errors. -1 with err (source:line) on an unknown id, a missing pattern,
 * a bad regular expression, a line over 1,024 bytes.
 */
int rd_rules_add_text(struct rd_rules *r, const char *source, const char *text,
    struct rd_err *err);

/* rd_rules_add_file - as rd_rules_add_text with a file's contents */
int rd_rules_add_file(struct rd_rules *r, const char *path, struct rd_err *err);

/* rd_rules_add_default - the compiled-in rules (conf/reply-rules) */
int rd_rules_add_default(struct rd_rules *r, struct rd_err *err);

/* The context a when= condition reads (rd_rules_match_when's have). */
#define RD_RULES_AUTH 1u           /* the client logged in */
#define RD_RULES_TRUSTED 2u        /* the client is in the trusted networks */
#define RD_RULES_TLS 4u            /* the session is encrypted */
#define RD_RULES_SUBMISSION 8u     /* on a submission listener */
#define RD_RULES_SASL_REQUIRED 16u /* its restrictions let only logins by */

/*
 * rd_rules_match - the id of the first rule matching text, or NULL; rules
 * with a when= condition are skipped (no context known)
 */
const char *rd_rules_match(const struct rd_rules *r, const char *text);

/*
 * rd_rules_match_when - as rd_rules_match, in the context have (RD_RULES_*
 * bits that hold): a when= rule takes part when its conditions hold
 */
const char *rd_rules_match_when(
    const struct rd_rules *r, const char *text, unsigned have);

/* rd_rules_count - how many rules */
unsigned rd_rules_count(const struct rd_rules *r);

#endif

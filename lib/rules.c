/*
 * rules.c - the MTA reply-text rules: parsing the rules files, matching a
 * reply text against them.
 *
 * Owns struct rd_rules (an ordered array of substring or regex rules) and
 * the file syntax. Regexes are PCRE2, the syntax of Postfix's pcre:
 * tables, case-insensitive, on bytes (the MTA's text may be any bytes);
 * every match runs under a match and a depth limit, so that no pattern
 * can hang a session: a match that hits a limit is no match. The ids are
 * checked against the catalogue (catalogue.c); naming the cause of a "relay"
 * refusal belongs to diagnose.c. Threads: built once, then read-only.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "relaydiag/buf.h"
#include "relaydiag/catalogue.h"
#include "relaydiag/file.h"
#include "relaydiag/rules.h"
#include "relaydiag/text.h"

#define RULES_LINE_MAX 1024
#define RULES_MATCH_LIMIT 100000 /* backtracking steps per match */
#define RULES_DEPTH_LIMIT 2000   /* nested backtracking */
#define RULES_NO_CONTEXT (~0u)   /* rd_rules_match: no facts known */

/* The shipped rules, generated from conf/reply-rules by CMake. */
extern const unsigned char rd_rules_default_text[];
extern const unsigned long rd_rules_default_len;

struct rules_rule {
	char *id;
	char *needle; /* lower case; NULL for a regex */
	pcre2_code *re;
	bool when;         /* has a when= condition */
	unsigned need;     /* RD_RULES_* that must hold */
	unsigned need_not; /* RD_RULES_* that must not */
};

/* The words of a when= condition. */
static const struct {
	const char *word;
	unsigned bit;
} rules_conds[] = {
    {"auth", RD_RULES_AUTH},
    {"trusted", RD_RULES_TRUSTED},
    {"tls", RD_RULES_TLS},
    {"submission", RD_RULES_SUBMISSION},
    {"sasl-required", RD_RULES_SASL_REQUIRED},
};

/*
 * rules_when - "when=c1,!c2" into rule; -1 with err naming the bad word
 */
static int
rules_when(struct rules_rule *rule, const char *source, unsigned lineno,
    char *spec, struct rd_err *err)
{
	char *w, *save = NULL;
	bool neg;
	size_t i;

	rule->when = true;
	for (w = strtok_r(spec, ",", &save); w != NULL;
	     w = strtok_r(NULL, ",", &save)) {
		if ((neg = w[0] == '!'))
			w++;
		for (i = 0; i < sizeof(rules_conds) / sizeof(rules_conds[0]);
		     i++)
			if (strcmp(w, rules_conds[i].word) == 0)
				break;
		if (i == sizeof(rules_conds) / sizeof(rules_conds[0])) {
			rd_err_set(err, source, lineno,
			    "unknown condition \"%s\" in when=; known: auth, "
			    "trusted, tls, submission, sasl-required (each may "
			    "have ! before it)",
			    w);
			return (-1);
		}
		if (neg)
			rule->need_not |= rules_conds[i].bit;
		else
			rule->need |= rules_conds[i].bit;
	}
	if (rule->need == 0 && rule->need_not == 0) {
		rd_err_set(err, source, lineno,
		    "when= names no condition; write when=sasl-required,!auth");
		return (-1);
	}
	return (0);
}

struct rd_rules {
	struct rules_rule *v;
	unsigned n, cap;
	pcre2_match_context *mctx; /* the limits; read-only once built */
};

struct rd_rules *
rd_rules_new(void)
{
	struct rd_rules *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if ((r->mctx = pcre2_match_context_create(NULL)) == NULL) {
		free(r);
		return (NULL);
	}
	pcre2_set_match_limit(r->mctx, RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, RULES_DEPTH_LIMIT);
	return (r);
}

void
rd_rules_free(struct rd_rules *r)
{
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].needle);
		pcre2_code_free(r->v[i].re);
	}
	free(r->v);
	pcre2_match_context_free(r->mctx);
	free(r);
}

unsigned
rd_rules_count(const struct rd_rules *r)
{
	return (r != NULL ? r->n : 0);
}

/* rules_trim_comment - cut a '#' comment (line start or after space) */
static void
rules_trim(char *line)
{
	char *p;
	size_t n;

	for (p = line; *p != '\0'; p++)
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	n = strlen(line);
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t' ||
			    line[n - 1] == '\r'))
		line[--n] = '\0';
}

static int
rules_add_one(struct rd_rules *r, const char *source, unsigned lineno,
    char *line, struct rd_err *err)
{
	struct rules_rule rule;
	char *id, *pat, *end;
	PCRE2_SIZE off;
	size_t n;
	int rc;

	memset(&rule, 0, sizeof(rule));
	id = line + strspn(line, " \t");
	if (*id == '\0')
		return (0);
	n = strcspn(id, " \t");
	pat = id + n;
	if (*pat != '\0')
		*pat++ = '\0';
	pat += strspn(pat, " \t");
	if (strncmp(pat, "when=", 5) == 0) {
		char *spec = pat + 5;

		n = strcspn(spec, " \t");
		pat = spec + n;
		if (*pat != '\0')
			*pat++ = '\0';
		pat += strspn(pat, " \t");
		if (rules_when(&rule, source, lineno, spec, err) != 0)
			return (-1);
	}
	if (*pat == '\0') {
		rd_err_set(err, source, lineno,
		    "rule for \"%s\" has no "
		    "pattern; write: <id> <text or /regex/>",
		    id);
		return (-1);
	}
	if (strcmp(id, "relay") != 0 && rd_catalogue_find(id) == NULL) {
		rd_err_set(err, source, lineno,
		    "unknown diagnosis id \"%s\" "
		    "(see the catalogue in relaydiag(8), or \"relay\")",
		    id);
		return (-1);
	}
	n = strlen(pat);
	if (n >= 2 && pat[0] == '/' && pat[n - 1] == '/') {
		pat[n - 1] = '\0';
		rule.re = pcre2_compile((PCRE2_SPTR)(pat + 1),
		    PCRE2_ZERO_TERMINATED,
		    PCRE2_CASELESS | PCRE2_NEVER_BACKSLASH_C, &rc, &off, NULL);
		if (rule.re == NULL) {
			PCRE2_UCHAR msg[128];

			pcre2_get_error_message(rc, msg, sizeof(msg));
			rd_err_set(err, source, lineno,
			    "bad regular expression /%s/: %s (at byte %zu)",
			    pat + 1, (const char *)msg, (size_t)off + 1);
			return (-1);
		}
	} else {
		for (end = pat; *end != '\0'; end++)
			if ((unsigned char)*end < 0x20)
				*end = ' ';
		rule.needle = rd_lower_ascii(rd_strdup_max(pat, n));
	}
	rule.id = rd_strdup_max(id, strlen(id));
	if (r->n == r->cap) {
		unsigned cap = r->cap != 0 ? r->cap * 2 : 32;
		struct rules_rule *v = reallocarray(r->v, cap, sizeof(*v));

		if (v == NULL) {
			rd_err_set(err, source, lineno, "out of memory");
			free(rule.id);
			free(rule.needle);
			pcre2_code_free(rule.re);
			return (-1);
		}
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = rule;
	return (0);
}

int
rd_rules_add_text(struct rd_rules *r, const char *source, const char *text,
    struct rd_err *err)
{
	char line[RULES_LINE_MAX + 2];
	const char *p = text, *nl;
	unsigned lineno = 0;
	size_t n;

	while (*p != '\0') {
		lineno++;
		nl = strchr(p, '\n');
		n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (n > RULES_LINE_MAX) {
			rd_err_set(err, source, lineno,
			    "line longer than %d "
			    "bytes",
			    RULES_LINE_MAX);
			return (-1);
		}
		memcpy(line, p, n);
		line[n] = '\0';
		rules_trim(line);
		if (rules_add_one(r, source, lineno, line, err) != 0)
			return (-1);
		p += n;
		if (*p == '\n')
			p++;
	}
	return (0);
}

int
rd_rules_add_file(struct rd_rules *r, const char *path, struct rd_err *err)
{
	struct rd_buf b;
	FILE *fp;
	char chunk[4096], ebuf[128];
	size_t n;
	int rc;

	if ((fp = rd_file_fopen(path, NULL)) == NULL) {
		rd_err_set(err, path, 0, "cannot open reply rules: %s",
		    rd_file_strerror(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	rd_buf_init(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
		if (memchr(chunk, '\0', n) != NULL) {
			rd_err_set(err, path, 0, "NUL byte in a rules file");
			fclose(fp);
			rd_buf_free(&b);
			return (-1);
		}
		rd_buf_add(&b, chunk, n);
		if (b.len > 1024 * 1024) {
			rd_err_set(err, path, 0, "rules file over 1 MiB");
			fclose(fp);
			rd_buf_free(&b);
			return (-1);
		}
	}
	if (ferror(fp)) {
		rd_err_set(err, path, 0, "read error: %s", strerror(errno));
		rc = -1;
	} else
		rc = rd_rules_add_text(r, path, b.data, err);
	fclose(fp);
	rd_buf_free(&b);
	return (rc);
}

int
rd_rules_add_default(struct rd_rules *r, struct rd_err *err)
{
	struct rd_buf b;
	int rc;

	rd_buf_init(&b);
	rd_buf_add(&b, rd_rules_default_text, rd_rules_default_len);
	rc = rd_rules_add_text(r, "<built-in reply-rules>", b.data, err);
	rd_buf_free(&b);
	return (rc);
}

const char *
rd_rules_match(const struct rd_rules *r, const char *text)
{
	return (rd_rules_match_when(r, text, RULES_NO_CONTEXT));
}

const char *
rd_rules_match_when(const struct rd_rules *r, const char *text, unsigned have)
{
	pcre2_match_data *md = NULL;
	const char *id = NULL;
	char low[1024];
	unsigned i;

	if (r == NULL || text == NULL)
		return (NULL);
	/* Rules see the first 1023 bytes of the text (the MTA's replies are
	   shorter; RFC 5321 caps a reply line at 512). */
	(void)rd_strlcpy(low, text, sizeof(low));
	rd_lower_ascii(low);
	for (i = 0; i < r->n && id == NULL; i++) {
		if (r->v[i].when && (have == RULES_NO_CONTEXT ||
					(have & r->v[i].need) != r->v[i].need ||
					(have & r->v[i].need_not) != 0))
			continue;
		if (r->v[i].needle != NULL) {
			if (strstr(low, r->v[i].needle) != NULL)
				id = r->v[i].id;
			continue;
		}
		if (md == NULL &&
		    (md = pcre2_match_data_create(1, NULL)) == NULL)
			break; /* out of memory: no regex matches */
		/* >= 0: a match (0: more groups than md keeps, which is
		   fine: only whether it matched counts); a limit hit or any
		   other error (< 0): no match */
		if (pcre2_match(r->v[i].re, (PCRE2_SPTR)low, strlen(low), 0, 0,
			md, r->mctx) >= 0)
			id = r->v[i].id;
	}
	pcre2_match_data_free(md);
	return (id);
}

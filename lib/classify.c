/*
 * classify.c - what a recipient is to this MTA, whether this client may
 * relay to it, and what the MTA itself decided about it.
 *
 * Owns enum rd_class, enum rd_authz and enum rd_mta_verdict, and the parsing
 * of the MTA's rejection as it reaches a filter that negotiated
 * SMFIP_RCPT_REJ. Parsing of addresses belongs to addr.c, the lists to
 * domainset.c and netset.c, naming the cause to diagnose.c.
 * Threads: pure functions of their arguments; no globals, no locks.
 * Memory: allocates nothing; results are copied into the caller's struct.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/classify.h"
#include "relaydiag/text.h"

/*
 * Transports that deliver on this host. Postfix: local, virtual, lmtp
 * (Dovecot LMTP); Sendmail: local, prog. "relay" is Postfix's transport for
 * relay_domains, but Sendmail's relay mailer is any smart host: not a hint.
 */
static const char *const classify_local_mailers[] = {
    "local", "virtual", "lmtp", "prog", NULL};

bool
rd_classify_mailer_is_local(const char *mailer)
{
	size_t i;

	if (mailer == NULL)
		return (false);
	for (i = 0; classify_local_mailers[i] != NULL; i++)
		if (rd_strcasecmp_ascii(mailer, classify_local_mailers[i]) == 0)
			return (true);
	return (false);
}

void
rd_classify_rcpt(const struct rd_config *cfg, const char *domain,
    const char *mailer, bool sasl, bool trusted, struct rd_rcpt_class *out)
{
	memset(out, 0, sizeof(*out));
	if (domain == NULL) {
		/* Unparsable: not the postmaster rule, nothing says ours. */
		out->rclass = RD_CLASS_EXTERNAL;
		out->source = RD_CLASS_BY_DEFAULT;
	} else if (*domain == '\0') {
		/* RFC 5321 4.5.1: a bare "postmaster" is for this host. */
		out->rclass = RD_CLASS_LOCAL;
		out->source = RD_CLASS_BY_DEFAULT;
	} else if (rd_domainset_match(cfg->local_domains, domain)) {
		out->rclass = RD_CLASS_LOCAL;
		out->source = RD_CLASS_BY_CONFIG;
	} else if (rd_domainset_match(cfg->relay_domains, domain)) {
		out->rclass = RD_CLASS_RELAY;
		out->source = RD_CLASS_BY_CONFIG;
	} else if (rd_classify_mailer_is_local(mailer)) {
		out->rclass = RD_CLASS_LOCAL;
		out->source = RD_CLASS_BY_MTA;
	} else {
		out->rclass = RD_CLASS_EXTERNAL;
		out->source = RD_CLASS_BY_DEFAULT;
	}
	out->by = out->rclass != RD_CLASS_EXTERNAL
		      ? RD_AUTHZ_LOCAL
		      : rd_authz_of_client(sasl, trusted);
}

enum rd_authz
rd_authz_of_client(bool sasl, bool trusted)
{
	return (sasl      ? RD_AUTHZ_SASL
		: trusted ? RD_AUTHZ_NETWORK
			  : RD_AUTHZ_NONE);
}

/* classify_is_code - "554": three digits, the first 2, 4 or 5 */
static bool
classify_is_code(const char *p, size_t n)
{
	return (n == 3 && (p[0] == '2' || p[0] == '4' || p[0] == '5') &&
		isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]));
}

/* classify_is_dsn - RFC 3463 "class.subject.detail": 5.7.1, 4.7.25 */
static bool
classify_is_dsn(const char *p, size_t n)
{
	size_t i, digits = 0, dots = 0;

	if (n < 5 || n > 11 || (p[0] != '2' && p[0] != '4' && p[0] != '5') ||
	    p[1] != '.')
		return (false);
	for (i = 0; i < n; i++) {
		if (isdigit((unsigned char)p[i])) {
			if (++digits > 3)
				return (false);
		} else if (p[i] == '.' && digits > 0) {
			dots++;
			digits = 0;
		} else
			return (false);
	}
	return (dots == 2 && digits > 0);
}

/* classify_word - length of the word at p (up to a space or the end) */
static size_t
classify_word(const char *p)
{
	return (strcspn(p, " \t"));
}

static const char *
classify_skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return (p);
}

bool
rd_classify_mta_refused(const char *mailer)
{
	return (mailer != NULL && rd_strcasecmp_ascii(mailer, "error") == 0);
}

void
rd_classify_mta(const char *mailer, const char *host, const char *addr,
    struct rd_mta_result *out)
{
	char line[1024];
	const char *p;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (mailer != NULL)
		/* A cut mailer name is no known transport: judged so. */
		(void)rd_strlcpy(out->mailer, mailer, sizeof(out->mailer));
	if (!rd_classify_mta_refused(mailer)) {
		out->verdict = RD_MTA_ACCEPT;
		return;
	}

	/*
	 * Rejected. Postfix gives {rcpt_host}=DSN, {rcpt_addr}=text; Sendmail
	 * similar. Join them and parse "[code] [dsn] [<addr>: | <addr>... ]
	 * text", so a reply that reached us split at another space, or with
	 * the code, still comes out whole.
	 */
	snprintf(line, sizeof(line), "%s%s%s", host != NULL ? host : "",
	    host != NULL && addr != NULL ? " " : "", addr != NULL ? addr : "");
	p = classify_skip_space(line);
	n = classify_word(p);
	if (classify_is_code(p, n)) {
		memcpy(out->code, p, 3);
		p = classify_skip_space(p + n);
		n = classify_word(p);
	}
	if (classify_is_dsn(p, n)) {
		memcpy(out->dsn, p, n);
		p = classify_skip_space(p + n);
	}
	if (*p == '<') {
		const char *gt = strchr(p, '>');

		if (gt != NULL && gt[1] == ':')
			p = classify_skip_space(gt + 2);
		else if (gt != NULL && strncmp(gt + 1, "...", 3) == 0)
			p = classify_skip_space(gt + 4);
	}
	out->text_cut =
	    rd_strlcpy(out->text, p, sizeof(out->text)) >= sizeof(out->text);

	if (out->dsn[0] == '4' || (out->dsn[0] == '\0' && out->code[0] == '4'))
		out->verdict = RD_MTA_TEMPFAIL;
	else
		out->verdict = RD_MTA_REJECT;
}

const char *
rd_class_name(enum rd_class c)
{
	switch (c) {
	case RD_CLASS_LOCAL:
		return ("local");
	case RD_CLASS_RELAY:
		return ("relay");
	case RD_CLASS_EXTERNAL:
		return ("external");
	}
	return ("external");
}

const char *
rd_authz_name(enum rd_authz a)
{
	switch (a) {
	case RD_AUTHZ_SASL:
		return ("sasl");
	case RD_AUTHZ_NETWORK:
		return ("network");
	case RD_AUTHZ_LOCAL:
		return ("local");
	case RD_AUTHZ_NONE:
		break;
	}
	return (NULL);
}

const char *
rd_mta_verdict_name(enum rd_mta_verdict v)
{
	switch (v) {
	case RD_MTA_ACCEPT:
		return ("accept");
	case RD_MTA_REJECT:
		return ("reject");
	case RD_MTA_TEMPFAIL:
		return ("tempfail");
	}
	return ("accept");
}

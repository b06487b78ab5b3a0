/*
 * addr.c - SMTP paths <local@domain> as an MTA hands them to a milter:
 * brackets, the null sender, quoting, source routes, address literals,
 * length limits, and the case rules (domain folded, local part kept).
 *
 * Owns the syntax of paths, domains and HELO names (rd_domain_valid,
 * rd_helo_is_fqdn). What an address means to this MTA belongs to
 * classify.c, the domain lists to domainset.c.
 * Grammar: RFC 5321 4.1.2 (Path, Mailbox, Local-part, address-literal),
 * extended by RFC 6531 3.3 (UTF-8 in local parts; a UTF-8 domain, the
 * U-labels of SMTPUTF8, becomes its A-labels, as libidn2 gives them, so
 * that it compares with the lists). Deliberately lenient
 * where MTAs are: a dot-string local part may have leading, trailing or
 * double dots (Postfix accepts them; some Japanese mobile carriers issued
 * such addresses), and "" is a valid quoted local part. Strict where a
 * wrong answer would mislead: controls anywhere, a domain of 8-bit bytes
 * that is no UTF-8 or no valid IDN,
 * bad labels, bad literals, the RFC 5321 4.5.3.1 length limits.
 * Threads: pure functions of their arguments; no globals, no locks.
 * Memory: allocates nothing; results are copied into the caller's struct.
 */

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <idn2.h>

#include "relaydiag/addr.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"

#define ADDR_SOURCE "<address>"
#define ADDR_QUOTE_MAX 100 /* input quoted in an error, at most */
#define ADDR_LABEL_MAX 63  /* RFC 1035 2.3.4 */

enum addr_dom {
	ADDR_DOM_OK,
	ADDR_DOM_EMPTY,
	ADDR_DOM_TOO_LONG,
	ADDR_DOM_EMPTY_LABEL,
	ADDR_DOM_LONG_LABEL,
	ADDR_DOM_HYPHEN,
	ADDR_DOM_8BIT,
	ADDR_DOM_AT,
	ADDR_DOM_CHAR,
};

/* addr_fail - err: bad address "in": reason; returns -1 */
static int addr_fail(struct rd_err *err, const char *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
addr_fail(struct rd_err *err, const char *in, const char *fmt, ...)
{
	char reason[sizeof(err->text)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	if (strlen(in) > ADDR_QUOTE_MAX)
		rd_err_set(err, ADDR_SOURCE, 0, "bad address \"%.*s...\": %s",
		    ADDR_QUOTE_MAX, in, reason);
	else
		rd_err_set(
		    err, ADDR_SOURCE, 0, "bad address \"%s\": %s", in, reason);
	return (-1);
}

/* addr_is_atext - RFC 5321 atext (RFC 5322 3.2.3), ASCII part */
static bool
addr_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return (true);
	return (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* addr_is_ldh - letter, digit or hyphen */
static bool
addr_is_ldh(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '-');
}

/*
 * addr_domain_check - RFC 5321 Domain syntax of d[0..len) (no trailing
 * dot): labels of 1-63 letters, digits and hyphens, no hyphen first or
 * last (RFC 1123 2.1 allows a leading digit), 255 octets at most.
 * On failure *bad is the offset of the offending byte or label.
 */
static enum addr_dom
addr_domain_check(const char *d, size_t len, size_t *bad)
{
	size_t i, start;
	unsigned char c;

	*bad = 0;
	if (len == 0)
		return (ADDR_DOM_EMPTY);
	if (len > RD_ADDR_DOMAIN_MAX)
		return (ADDR_DOM_TOO_LONG);
	for (start = 0, i = 0; i <= len; i++) {
		c = i < len ? (unsigned char)d[i] : '.';
		if (c == '.') {
			*bad = start;
			if (i == start)
				return (ADDR_DOM_EMPTY_LABEL);
			if (i - start > ADDR_LABEL_MAX)
				return (ADDR_DOM_LONG_LABEL);
			if (d[start] == '-' || d[i - 1] == '-')
				return (ADDR_DOM_HYPHEN);
			start = i + 1;
			continue;
		}
		if (addr_is_ldh(c))
			continue;
		*bad = i;
		if (c >= 0x80)
			return (ADDR_DOM_8BIT);
		return (c == '@' ? ADDR_DOM_AT : ADDR_DOM_CHAR);
	}
	return (ADDR_DOM_OK);
}

/* addr_domain_fail - the error for a failed addr_domain_check */
static int
addr_domain_fail(struct rd_err *err, const char *in, enum addr_dom why,
    const char *d, size_t len, size_t bad)
{
	const char *label = d + bad, *end;

	switch (why) {
	case ADDR_DOM_EMPTY:
		return (addr_fail(err, in, "empty domain after '@'"));
	case ADDR_DOM_TOO_LONG:
		return (addr_fail(err, in,
		    "domain too long: %zu octets, RFC 5321 4.5.3.1.2 allows %d",
		    len, RD_ADDR_DOMAIN_MAX));
	case ADDR_DOM_EMPTY_LABEL:
		return (addr_fail(err, in,
		    "bad domain label: empty label "
		    "(leading, trailing or double dot)"));
	case ADDR_DOM_LONG_LABEL:
		return (addr_fail(err, in,
		    "bad domain label: a label is longer than %d octets",
		    ADDR_LABEL_MAX));
	case ADDR_DOM_HYPHEN:
		end = memchr(label, '.', len - bad);
		return (addr_fail(err, in,
		    "bad domain label \"%.*s\": starts or ends with '-'",
		    (int)((end != NULL ? end : d + len) - label), label));
	case ADDR_DOM_8BIT:
		return (addr_fail(err, in,
		    "8-bit byte 0x%02X in domain: an "
		    "internationalized domain must be sent as A-labels "
		    "(xn--...)",
		    (unsigned char)d[bad]));
	case ADDR_DOM_AT:
		return (addr_fail(err, in,
		    "more than one '@' (an '@' in the "
		    "local part must be quoted)"));
	case ADDR_DOM_CHAR:
		return (addr_fail(err, in,
		    "bad domain label: character '%c' "
		    "is not allowed in a domain",
		    d[bad]));
	case ADDR_DOM_OK:
		break;
	}
	return (addr_fail(err, in, "bad domain"));
}

/*
 * addr_literal - parse the address literal p[0..len) ("[192.0.2.1]",
 * "[IPv6:2001:db8::1]") into out (size outlen) as "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]" with lower-case hex (RFC 5321 4.1.3). Returns NULL,
 * or why it is bad.
 */
static const char *
addr_literal(const char *p, size_t len, char *out, size_t outlen)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char bin[16];
	const char *c;
	size_t clen;
	bool v6;

	if (len < 2 || p[0] != '[')
		return ("not an address literal");
	if (p[len - 1] != ']')
		return (memchr(p, ']', len) != NULL
			    ? "text after the address literal"
			    : "unterminated address literal (missing ']')");
	c = p + 1;
	clen = len - 2;
	v6 = clen >= 5 && strncasecmp(c, "IPv6:", 5) == 0;
	if (v6) {
		c += 5;
		clen -= 5;
	} else if (memchr(c, ':', clen) != NULL)
		return ("unknown address literal tag "
			"(want [192.0.2.1] or [IPv6:2001:db8::1])");
	if (clen == 0 || clen >= sizeof(text))
		return (v6 ? "bad IPv6 address literal"
			   : "bad IPv4 address literal");
	memcpy(text, c, clen);
	text[clen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, text, bin) != 1)
		return (v6 ? "bad IPv6 address literal"
			   : "bad IPv4 address literal");
	if (snprintf(out, outlen, "[%s%s]", v6 ? "IPv6:" : "",
		rd_lower_ascii(text)) >= (int)outlen)
		return ("address literal too long");
	return (NULL);
}

/*
 * addr_route - check the source route p[0..len) ("@a.test,@b.test"),
 * which RFC 5321 4.1.2 says to accept and ignore (Appendix C).
 */
static bool
addr_route(const char *p, size_t len)
{
	const char *e = p + len, *comma;
	size_t bad, n;

	while (p < e) {
		comma = memchr(p, ',', (size_t)(e - p));
		n = (size_t)((comma != NULL ? comma : e) - p);
		if (n < 2 || p[0] != '@' ||
		    addr_domain_check(p + 1, n - 1, &bad) != ADDR_DOM_OK)
			return (false);
		if (comma == NULL)
			break;
		p = comma + 1;
		if (p == e)
			return (false);
	}
	return (true);
}

/*
 * rd_addr_parse - parse one SMTP path into out; 0, or -1 with err set
 * (source "<address>"). out is zeroed first.
 */
static bool addr_has_8bit(const char *d, size_t len);

int
rd_addr_parse(const char *in, struct rd_addr *out, struct rd_err *err)
{
	const char *s, *e, *p, *at, *colon, *dom, *why;
	char alabel[RD_ADDR_DOMAIN_MAX + 1];
	size_t llen, dlen, bad;
	enum addr_dom code;
	bool inq;

	memset(out, 0, sizeof(*out));
	if (in == NULL) {
		rd_err_set(err, ADDR_SOURCE, 0, "no address");
		return (-1);
	}

	/*
	 * No control character is legal anywhere in a path, not even quoted
	 * (RFC 5321 4.1.2 qtextSMTP and quoted-pairSMTP are 32-126). CR and
	 * LF get their own words: they are how header and log injection
	 * starts.
	 */
	for (p = in; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\r' || c == '\n')
			return (addr_fail(err, in, "CR or LF in the address"));
		if (c < 0x20 || c == 0x7f)
			return (addr_fail(err, in,
			    "control character 0x%02X in the address", c));
	}
	s = in;
	e = p;
	while (s < e && *s == ' ')
		s++;
	while (e > s && e[-1] == ' ')
		e--;
	if (s == e)
		return (addr_fail(
		    err, in, "empty address (the null sender is \"<>\")"));

	/* Brackets: both or neither; MTAs usually pass them. */
	if (*s == '<') {
		if (e - s < 2 || e[-1] != '>')
			return (addr_fail(
			    err, in, "unbalanced brackets: '<' without '>'"));
		s++;
		e--;
	} else if (e[-1] == '>')
		return (
		    addr_fail(err, in, "unbalanced brackets: '>' without '<'"));
	/* RFC 5321 4.5.3.1.3: 256 octets with the brackets, as sent. */
	if ((size_t)(e - s) + 2 > RD_ADDR_PATH_MAX)
		return (addr_fail(err, in,
		    "address too long: %zu octets, "
		    "RFC 5321 4.5.3.1.3 allows %d with the brackets",
		    (size_t)(e - s) + 2, RD_ADDR_PATH_MAX));
	if (s == e) {
		out->is_null = true;
		return (0);
	}
	for (inq = false, p = s; p < e; p++) {
		if (inq) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				inq = false;
		} else if (*p == '"')
			inq = true;
		else if (*p == '<' || *p == '>')
			return (addr_fail(
			    err, in, "unbalanced brackets: stray '%c'", *p));
	}

	/* A source route "@a,@b:" is checked, then dropped. */
	if (*s == '@') {
		colon = memchr(s, ':', (size_t)(e - s));
		if (colon == NULL)
			return (
			    addr_fail(err, in, "empty local part before '@'"));
		if (!addr_route(s, (size_t)(colon - s)))
			return (addr_fail(err, in, "bad source route \"%.*s\"",
			    (int)(colon - s), s));
		s = colon + 1;
		if (s == e)
			return (addr_fail(
			    err, in, "no mailbox after the source route"));
	}

	/* Local part: Quoted-string or Dot-string (RFC 5321 4.1.2). */
	if (*s == '"') {
		for (p = s + 1; p < e && *p != '"'; p++)
			if (*p == '\\' && ++p == e)
				break;
		if (p >= e)
			return (addr_fail(
			    err, in, "unterminated quoted local part"));
		at = p + 1;
		if (at < e && *at != '@')
			return (addr_fail(err, in,
			    "text after the quoted local part (want '@')"));
	} else {
		at = memchr(s, '@', (size_t)(e - s));
		if (at == NULL)
			at = e;
		for (p = s; p < at; p++) {
			unsigned char c = (unsigned char)*p;

			if (c < 0x80 && c != '.' && !addr_is_atext(c))
				return (addr_fail(err, in,
				    "character '%c' in "
				    "the local part must be quoted",
				    c));
		}
	}
	llen = (size_t)(at - s);
	if (llen == 0)
		return (addr_fail(err, in, "empty local part before '@'"));
	if (llen > RD_ADDR_LOCAL_MAX)
		return (addr_fail(err, in,
		    "local part too long: %zu octets, "
		    "RFC 5321 4.5.3.1.1 allows %d",
		    llen, RD_ADDR_LOCAL_MAX));
	if (!rd_utf8_valid(s, llen))
		return (addr_fail(err, in, "invalid UTF-8 in the local part"));

	if (at == e) {
		/* "postmaster" alone (RFC 5321 4.1.1.3), or a local user. */
		memcpy(out->local, s, llen);
		memcpy(out->addr, s, llen);
		return (0);
	}

	dom = at + 1;
	dlen = (size_t)(e - dom);
	if (dlen == 0)
		return (addr_fail(err, in, "empty domain after '@'"));
	if (*dom == '[') {
		why = addr_literal(dom, dlen, out->domain, sizeof(out->domain));
		if (why != NULL) {
			memset(out, 0, sizeof(*out));
			return (addr_fail(err, in, "%s", why));
		}
		out->is_literal = true;
	} else {
		if (dom[dlen - 1] == '.') /* the root: "example.org." */
			dlen--;
		/* U-labels compare as the A-labels they stand for. */
		if (addr_has_8bit(dom, dlen)) {
			if ((why = rd_domain_alabel(
				 dom, dlen, alabel, sizeof(alabel))) != NULL)
				return (addr_fail(err, in, "%s", why));
			dom = alabel;
			dlen = strlen(alabel);
		}
		code = addr_domain_check(dom, dlen, &bad);
		if (code != ADDR_DOM_OK)
			return (
			    addr_domain_fail(err, in, code, dom, dlen, bad));
		memcpy(out->domain, dom, dlen);
		rd_lower_ascii(out->domain);
	}
	dlen = strlen(out->domain);
	/*
	 * U-labels grow as A-labels ("\xc3\xa9" is "xn--9ca"): an address
	 * within the path limit as sent can pass it as relaydiag keeps it.
	 * The limit holds for that form too, so that it fits out->addr and
	 * parses again to itself.
	 */
	if (llen + 1 + dlen + 2 > RD_ADDR_PATH_MAX) {
		memset(out, 0, sizeof(*out));
		return (addr_fail(err, in,
		    "address too long as A-labels: %zu octets, "
		    "RFC 5321 4.5.3.1.3 allows %d with the brackets",
		    llen + 1 + dlen + 2, RD_ADDR_PATH_MAX));
	}
	memcpy(out->local, s, llen);
	memcpy(out->addr, s, llen);
	out->addr[llen] = '@';
	memcpy(out->addr + llen + 1, out->domain, dlen + 1);
	out->has_domain = true;
	return (0);
}

/* addr_has_8bit - a byte >= 0x80 in d[0..len) */
static bool
addr_has_8bit(const char *d, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)d[i] >= 0x80)
			return (true);
	return (false);
}

const char *
rd_domain_alabel(const char *d, size_t len, char *out, size_t outlen)
{
	char in[RD_ADDR_DOMAIN_MAX * 4 + 1], *a = NULL;
	size_t n;
	int rc;

	if (len >= sizeof(in))
		return ("internationalized domain too long");
	if (!rd_utf8_valid(d, len))
		return ("8-bit domain that is not UTF-8: an internationalized "
			"domain is sent as UTF-8 (SMTPUTF8) or as A-labels "
			"(xn--...)");
	memcpy(in, d, len);
	in[len] = '\0';
	rc = idn2_to_ascii_8z(in, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		static __thread char why[160];

		snprintf(why, sizeof(why),
		    "not a valid internationalized "
		    "domain: %s",
		    idn2_strerror(rc));
		return (why);
	}
	n = strlen(a);
	if (n >= outlen || n > RD_ADDR_DOMAIN_MAX) {
		idn2_free(a);
		return ("internationalized domain too long as A-labels");
	}
	memcpy(out, a, n + 1);
	idn2_free(a);
	rd_lower_ascii(out);
	return (NULL);
}

/* rd_domain_valid - whether d is a valid DNS domain (one trailing dot ok) */
bool
rd_domain_valid(const char *d)
{
	size_t len, bad;

	if (d == NULL)
		return (false);
	len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		len--;
	return (addr_domain_check(d, len, &bad) == ADDR_DOM_OK);
}

/*
 * rd_helo_is_fqdn - an FQDN (a dot, valid labels, a top label that is not
 * all digits, so "192.0.2.1" is not a name) or a valid address literal.
 */
bool
rd_helo_is_fqdn(const char *helo)
{
	char lit[RD_ADDR_DOMAIN_MAX + 1];
	const char *top;
	size_t len, bad, i;

	if (helo == NULL || *helo == '\0')
		return (false);
	len = strlen(helo);
	if (helo[0] == '[')
		return (addr_literal(helo, len, lit, sizeof(lit)) == NULL);
	if (helo[len - 1] == '.')
		len--;
	if (addr_domain_check(helo, len, &bad) != ADDR_DOM_OK)
		return (false);
	top = helo + len;
	while (top > helo && top[-1] != '.')
		top--;
	if (top == helo) /* no dot: "UserPC", "localhost" */
		return (false);
	for (i = 0; top + i < helo + len; i++)
		if (top[i] < '0' || top[i] > '9')
			return (true);
	return (false);
}

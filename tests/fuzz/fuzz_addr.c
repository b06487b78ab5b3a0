/*
 * fuzz_addr.c - rd_addr_parse, rd_helo_is_fqdn and rd_domain_valid on one
 * string (the whole input: an RCPT TO/MAIL FROM argument or a HELO name).
 *
 * Invariants beyond "no crash": a parse either fails with a printable
 * one-line error, or gives parts within the RFC 5321 4.5.3.1 limits whose
 * addr is local@domain, with a lower-case domain that rd_domain_valid
 * accepts (or an address literal), and parsing the result again gives the
 * same result. A valid domain is a FQDN when it has a non-numeric top label.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/text.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_parsed(const char *in, const struct rd_addr *a)
{
	struct rd_addr again;
	struct rd_err err;
	char want[sizeof(a->addr)];
	size_t llen = strnlen(a->local, sizeof(a->local));
	size_t dlen = strnlen(a->domain, sizeof(a->domain));
	const char *p;

	if (llen > RD_ADDR_LOCAL_MAX || dlen > RD_ADDR_DOMAIN_MAX ||
	    strnlen(a->addr, sizeof(a->addr)) > RD_ADDR_PATH_MAX)
		fz_fail("rd_addr_parse(%s): part over its limit", in);
	if (a->is_null) {
		if (a->local[0] != '\0' || a->domain[0] != '\0' ||
		    a->addr[0] != '\0' || a->has_domain)
			fz_fail("rd_addr_parse(%s): <> with parts", in);
		return;
	}
	if (llen == 0)
		fz_fail("rd_addr_parse(%s): empty local part accepted", in);
	if (a->has_domain) {
		if (dlen == 0)
			fz_fail("rd_addr_parse(%s): has_domain, no domain", in);
		snprintf(want, sizeof(want), "%s@%s", a->local, a->domain);
		for (p = a->domain; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z' && !a->is_literal)
				fz_fail("rd_addr_parse(%s): domain not lower "
					"case",
				    in);
		if (!a->is_literal && !rd_domain_valid(a->domain))
			fz_fail("rd_addr_parse(%s): domain \"%s\" is not "
				"valid",
			    in, a->domain);
		if (a->is_literal && a->domain[0] != '[')
			fz_fail("rd_addr_parse(%s): literal without '['", in);
	} else {
		if (dlen != 0 || a->is_literal)
			fz_fail(
			    "rd_addr_parse(%s): domain without has_domain", in);
		snprintf(want, sizeof(want), "%s", a->local);
	}
	if (strcmp(want, a->addr) != 0)
		fz_fail("rd_addr_parse(%s): addr \"%s\" is not local@domain",
		    in, a->addr);
	/* Idempotence: the canonical form parses to itself. */
	if (rd_addr_parse(a->addr, &again, &err) != 0)
		fz_fail("rd_addr_parse(%s): result \"%s\" does not parse: %s",
		    in, a->addr, err.text);
	if (strcmp(again.addr, a->addr) != 0 ||
	    strcmp(again.domain, a->domain) != 0 ||
	    again.is_literal != a->is_literal ||
	    again.has_domain != a->has_domain)
		fz_fail("rd_addr_parse(%s): \"%s\" parses to \"%s\"", in,
		    a->addr, again.addr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_addr a;
	struct rd_err err;
	char *in = fz_whole(data, size);
	bool valid, fqdn;

	rd_err_clear(&err);
	if (rd_addr_parse(in, &a, &err) == 0) {
		fz_check_err(&err, false);
		check_parsed(in, &a);
	} else
		fz_check_err(&err, true);

	valid = rd_domain_valid(in);
	fqdn = rd_helo_is_fqdn(in);
	/* A valid name with a dot is a FQDN unless its top label is numeric. */
	if (valid && in[0] != '\0' && !fqdn) {
		size_t len = strlen(in);
		const char *top;

		if (in[len - 1] == '.')
			len--;
		for (top = in + len; top > in && top[-1] != '.'; top--)
			;
		if (top != in &&
		    strspn(top, "0123456789") < (size_t)(in + len - top))
			fz_fail("rd_helo_is_fqdn(%s): valid, dotted, "
				"non-numeric top label, yet not a FQDN",
			    in);
	}
	/* And a FQDN that is not a literal is a valid domain. */
	if (fqdn && in[0] != '[' && !valid)
		fz_fail(
		    "rd_helo_is_fqdn(%s): FQDN but not rd_domain_valid", in);
	free(in);
	return (0);
}

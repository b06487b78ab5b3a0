/*
 * fuzz_domainset.c - rd_domainset_add_list on the first NUL-separated
 * field (a mydestination-style list), then each further field matched
 * against that set and added alone to a second set.
 *
 * Invariants (domainset.h): errors are printable one-liners; an added
 * "example.org" matches itself in any case and with one trailing dot; an
 * added ".example.org" matches "x.example.org" but not "example.org" (when
 * that was not added too); a duplicate is stored once.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/domainset.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_self(const struct rd_domainset *one, const char *entry)
{
	char name[RD_ADDR_DOMAIN_MAX * 2 + 8], up[sizeof(name)];
	size_t i, len;

	len = strlen(entry);
	if (len >= RD_ADDR_DOMAIN_MAX + 3)
		fz_fail("domainset: entry of %zu bytes accepted", len);
	if (entry[0] == '.') {
		snprintf(name, sizeof(name), "x%s", entry);
		if (strlen(name) <= RD_ADDR_DOMAIN_MAX + 1 &&
		    !rd_domainset_match(one, name))
			fz_fail("domainset: \"%s\" added, \"%s\" does not "
				"match",
			    entry, name);
		if (rd_domainset_match(one, entry + 1))
			fz_fail("domainset: only \"%s\" added, but \"%s\" "
				"matches",
			    entry, entry + 1);
		return;
	}
	snprintf(name, sizeof(name), "%s", entry);
	for (i = 0; name[i] != '\0'; i++)
		up[i] = name[i] >= 'a' && name[i] <= 'z'
			    ? (char)(name[i] - 'a' + 'A')
			    : name[i];
	up[i] = '\0';
	if (!rd_domainset_match(one, name) || !rd_domainset_match(one, up))
		fz_fail(
		    "domainset: \"%s\" added, does not match itself", entry);
	if (name[len - 1] != '.') {
		snprintf(name, sizeof(name), "%s.", entry);
		if (!rd_domainset_match(one, name))
			fz_fail("domainset: \"%s\" added, \"%s\" does not "
				"match",
			    entry, name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_domainset *set, *one;
	struct rd_err err;
	struct fz f;
	const char *s;

	fz_init(&f, data, size);
	if ((set = rd_domainset_new()) == NULL)
		return (0);
	rd_err_clear(&err);
	if (rd_domainset_add_list(set, fz_str(&f), &err) == -1)
		fz_check_err(&err, true);
	while (!fz_empty(&f)) {
		s = fz_str(&f);
		(void)rd_domainset_match(set, s);
		if ((one = rd_domainset_new()) == NULL)
			break;
		rd_err_clear(&err);
		if (rd_domainset_add(one, s, &err) == 0) {
			fz_check_err(&err, false);
			if (rd_domainset_count(one) != 1)
				fz_fail("domainset: \"%s\" added, count %zu", s,
				    rd_domainset_count(one));
			check_self(one, s);
			if (rd_domainset_add(one, s, &err) != 0 ||
			    rd_domainset_count(one) != 1)
				fz_fail(
				    "domainset: \"%s\" twice is not one", s);
		} else
			fz_check_err(&err, true);
		rd_domainset_free(one);
	}
	rd_domainset_free(set);
	fz_done(&f);
	return (0);
}

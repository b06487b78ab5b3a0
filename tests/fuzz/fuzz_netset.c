/*
 * fuzz_netset.c - rd_netset_add_list on the first NUL-separated field (a
 * mynetworks-style list), then each further field both matched against
 * that set (as a client address) and added alone to a second set.
 *
 * Invariants: errors are printable one-liners; an entry that was added
 * matches its own network address ("192.0.2.0/24" matches "192.0.2.0",
 * "[::1]/128" matches "[::1]"), and an IPv4 host matches its IPv4-mapped
 * IPv6 spelling and back (netset.h).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "relaydiag/netset.h"

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_self - entry was added to one: its address part must match */
static void
check_self(const struct rd_netset *one, const char *entry)
{
	char addr[256], mapped[300];
	unsigned char b4[4];
	size_t n;

	n = strcspn(entry, "/");
	if (n >= sizeof(addr))
		fz_fail("netset: entry of %zu bytes accepted", n);
	memcpy(addr, entry, n);
	addr[n] = '\0';
	if (!rd_netset_match(one, addr))
		fz_fail("netset: \"%s\" added, but \"%s\" does not match",
		    entry, addr);
	if (inet_pton(AF_INET, addr, b4) == 1) {
		snprintf(mapped, sizeof(mapped), "::ffff:%s", addr);
		if (!rd_netset_match(one, mapped))
			fz_fail("netset: \"%s\" added, but \"%s\" does not "
				"match",
			    entry, mapped);
		snprintf(mapped, sizeof(mapped), "[%s]", addr);
		if (!rd_netset_match(one, mapped))
			fz_fail("netset: \"%s\" added, but \"%s\" does not "
				"match",
			    entry, mapped);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_netset *set, *one;
	struct rd_err err;
	struct fz f;
	const char *s;
	size_t before;

	fz_init(&f, data, size);
	if ((set = rd_netset_new()) == NULL)
		return (0);
	rd_err_clear(&err);
	if (rd_netset_add_list(set, fz_str(&f), &err) == -1)
		fz_check_err(&err, true);
	while (!fz_empty(&f)) {
		s = fz_str(&f);
		(void)rd_netset_match(set, s);
		if ((one = rd_netset_new()) == NULL)
			break;
		rd_err_clear(&err);
		before = rd_netset_count(one);
		if (rd_netset_add(one, s, &err) == 0) {
			fz_check_err(&err, false);
			if (rd_netset_count(one) != before + 1)
				fz_fail("netset: \"%s\" added, count %zu", s,
				    rd_netset_count(one));
			check_self(one, s);
			/* A duplicate is stored once. */
			if (rd_netset_add(one, s, &err) != 0 ||
			    rd_netset_count(one) != before + 1)
				fz_fail("netset: \"%s\" twice is not one", s);
		} else
			fz_check_err(&err, true);
		rd_netset_free(one);
	}
	rd_netset_free(set);
	fz_done(&f);
	return (0);
}

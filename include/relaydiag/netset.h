/*
 * netset.h - sets of IPv4/IPv6 networks in Postfix mynetworks syntax.
 *
 * Entries: "192.0.2.1", "192.0.2.0/24", "2001:db8::/32",
 * "[2001:db8::]/32", "[::1]/128", "[::ffff:127.0.0.0]/104". An IPv4 address
 * matches IPv4 networks and IPv4-mapped IPv6 networks (::ffff:a.b.c.d) alike,
 * and an IPv4-mapped IPv6 address matches IPv4 networks. Host bits set in a
 * network ("10.1.2.3/8") are an error that suggests the network, as Postfix
 * does. Entries are separated by commas and/or white space.
 * Threads: build in one thread, then read-only (safe to share).
 */
#ifndef RELAYDIAG_NETSET_H
#define RELAYDIAG_NETSET_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/err.h"

struct rd_netset;

struct rd_netset *rd_netset_new(void);
void rd_netset_free(struct rd_netset *set); /* NULL: no-op */

/* rd_netset_add - add one entry; -1 with err on a bad address or prefix */
int rd_netset_add(struct rd_netset *set, const char *entry, struct rd_err *err);

/* rd_netset_add_list - add every entry of a comma/space separated list */
int rd_netset_add_list(
    struct rd_netset *set, const char *list, struct rd_err *err);

/*
 * rd_netset_match - whether the textual address ip ("192.0.2.1",
 * "2001:db8::1", "::ffff:192.0.2.1", "[192.0.2.1]", "IPv6:2001:db8::1") is
 * in the set. An unparsable ip or a NULL set: false.
 */
bool rd_netset_match(const struct rd_netset *set, const char *ip);

size_t rd_netset_count(const struct rd_netset *set);

struct rd_buf;
/* rd_netset_text - the set in mynetworks syntax, space-separated, into b */
void rd_netset_text(const struct rd_netset *set, struct rd_buf *b);

#endif

/*
 * domainset.h - sets of domains in the syntax of Postfix's mydestination or
 * relay_domains lists.
 *
 * "example.org" matches example.org only; ".example.org" matches every
 * sub-domain of example.org (not example.org itself). Matching is
 * case-insensitive and ignores one trailing dot. Entries are separated by
 * commas and/or white space. An internationalized domain (UTF-8 U-labels)
 * is kept and compared as its A-labels (xn--..., libidn2, addr.h), in
 * entries and queries alike.
 * Threads: build in one thread, then read-only (safe to share).
 */
#ifndef RELAYDIAG_DOMAINSET_H
#define RELAYDIAG_DOMAINSET_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/err.h"

struct rd_domainset;

struct rd_domainset *rd_domainset_new(void);
void rd_domainset_free(struct rd_domainset *set); /* NULL: no-op */

/* rd_domainset_add - add one entry; -1 with err on an invalid domain */
int rd_domainset_add(
    struct rd_domainset *set, const char *entry, struct rd_err *err);

/* rd_domainset_add_list - add every entry of a comma/space separated list */
int rd_domainset_add_list(
    struct rd_domainset *set, const char *list, struct rd_err *err);

/* rd_domainset_merge - add every entry of src to dst; -1 with err */
int rd_domainset_merge(struct rd_domainset *dst, const struct rd_domainset *src,
    struct rd_err *err);

/* rd_domainset_match - whether domain is in the set (NULL set: false) */
bool rd_domainset_match(const struct rd_domainset *set, const char *domain);

size_t rd_domainset_count(const struct rd_domainset *set);

struct rd_buf;
/* rd_domainset_text - the entries, sorted, space-separated, into b */
void rd_domainset_text(const struct rd_domainset *set, struct rd_buf *b);

#endif

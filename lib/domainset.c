/*
 * domainset.c - sets of domains in Postfix mydestination / relay_domains
 * syntax: "example.org" (that domain only) and ".example.org" (its
 * sub-domains only).
 *
 * Owns the set and its matching. Syntax of one domain belongs to addr.c
 * (rd_domain_valid); reading lists from files to config.c.
 * Storage: one open-addressing hash table of lower-case keys without the
 * trailing dot, parent entries keeping their leading dot. A lookup of
 * "a.b.example.org" probes the exact name, then ".b.example.org",
 * ".example.org", ".org": at most one probe per label, no allocation.
 * Duplicates are stored (and counted) once. Lookup tables ("hash:..."),
 * files and $parameters are not domains here and are refused with a hint.
 * Threads: build in one thread, then read-only; rd_domainset_match only
 * reads, so a built set may be shared.
 * Memory: the set owns its keys; out of memory while building is an input
 * error (-1), not a panic, since it happens at (re)load time.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/buf.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/hash.h"
#include "relaydiag/text.h"

#define DOMAINSET_SOURCE "<domain list>"
#define DOMAINSET_SEP ", \t\r\n"
#define DOMAINSET_MIN_CAP 16

struct domainset_slot {
	char *key; /* NULL: empty slot */
	size_t len;
	uint64_t hash;
};

struct rd_domainset {
	struct domainset_slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t count;
};

/* domainset_lower - ASCII lower case without the locale */
static unsigned char
domainset_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c);
}

/* domainset_hash - FNV-1a of the lower-cased bytes */
static uint64_t
domainset_hash(const char *p, size_t len)
{
	return (rd_fnv1a_lower(RD_FNV1A_INIT, p, len));
}

/* domainset_find - the slot of key p[0..len) (any case), or NULL */
static const struct domainset_slot *
domainset_find(const struct rd_domainset *set, const char *p, size_t len)
{
	const struct domainset_slot *sl;
	uint64_t h;
	size_t i, k;

	if (set->cap == 0)
		return (NULL);
	h = domainset_hash(p, len);
	for (i = (size_t)h & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
		sl = &set->slots[i];
		if (sl->key == NULL)
			return (NULL);
		if (sl->hash != h || sl->len != len)
			continue;
		for (k = 0; k < len; k++)
			if (domainset_lower((unsigned char)p[k]) !=
			    (unsigned char)sl->key[k])
				break;
		if (k == len)
			return (sl);
	}
}

/* domainset_put - place a slot into a table known to have room */
static void
domainset_put(
    struct domainset_slot *slots, size_t cap, const struct domainset_slot *sl)
{
	size_t i;

	for (i = (size_t)sl->hash & (cap - 1); slots[i].key != NULL;
	     i = (i + 1) & (cap - 1))
		;
	slots[i] = *sl;
}

/* domainset_grow - keep the load factor at most 1/2; -1 out of memory */
static int
domainset_grow(struct rd_domainset *set)
{
	struct domainset_slot *slots;
	size_t cap, i;

	if ((set->count + 1) * 2 <= set->cap)
		return (0);
	cap = set->cap == 0 ? DOMAINSET_MIN_CAP : set->cap * 2;
	if ((slots = calloc(cap, sizeof(*slots))) == NULL)
		return (-1);
	for (i = 0; i < set->cap; i++)
		if (set->slots[i].key != NULL)
			domainset_put(slots, cap, &set->slots[i]);
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return (0);
}

/* rd_domainset_new - an empty set; NULL when out of memory */
struct rd_domainset *
rd_domainset_new(void)
{
	return (calloc(1, sizeof(struct rd_domainset)));
}

/* rd_domainset_free - free the set and its keys; NULL: no-op */
void
rd_domainset_free(struct rd_domainset *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->cap; i++)
		free(set->slots[i].key);
	free(set->slots);
	free(set);
}

/* domainset_add_one - add the entry p[0..len); -1 with err */
static int
domainset_add_one(
    struct rd_domainset *set, const char *p, size_t len, struct rd_err *err)
{
	char name[RD_ADDR_DOMAIN_MAX + 2], ace[RD_ADDR_DOMAIN_MAX + 2];
	struct domainset_slot sl;
	const char *body, *why;
	size_t blen, i, dot;
	bool parent, idn = false;

	if (len == 0) {
		rd_err_set(err, DOMAINSET_SOURCE, 0, "empty domain");
		return (-1);
	}
	if (p[0] == '*') {
		rd_err_set(err, DOMAINSET_SOURCE, 0,
		    "bad domain \"%.*s\": "
		    "wildcards are not supported; \".example.org\" matches "
		    "every sub-domain of example.org",
		    (int)len, p);
		return (-1);
	}
	for (i = 0; i < len; i++) {
		if (p[i] == ':' || p[i] == '/' || p[i] == '$') {
			rd_err_set(err, DOMAINSET_SOURCE, 0,
			    "\"%.*s\" is not "
			    "a domain: lookup tables, $parameters and file "
			    "names are not supported in a domain list",
			    (int)len, p);
			return (-1);
		}
		if ((unsigned char)p[i] >= 0x80)
			idn = true;
	}
	/* A U-label entry is kept as the A-labels it stands for. */
	if (idn) {
		dot = p[0] == '.';
		ace[0] = '.';
		if ((why = rd_domain_alabel(p + dot, len - dot, ace + 1,
			 sizeof(ace) - 1)) != NULL) {
			rd_err_set(err, DOMAINSET_SOURCE, 0,
			    "bad domain \"%.*s\": %s", (int)len, p, why);
			return (-1);
		}
		p = dot ? ace : ace + 1;
		len = strlen(p);
	}
	parent = p[0] == '.';
	body = p + parent;
	blen = len - parent;
	if (blen > 0 && body[blen - 1] == '.')
		blen--;
	if (blen < sizeof(name)) {
		memcpy(name, body, blen);
		name[blen] = '\0';
	}
	/* One trailing dot is gone; rd_domain_valid would allow another. */
	if (blen == 0 || blen > RD_ADDR_DOMAIN_MAX || name[blen - 1] == '.' ||
	    !rd_domain_valid(name)) {
		rd_err_set(err, DOMAINSET_SOURCE, 0,
		    "bad domain \"%.*s\": want "
		    "a name like example.org, or .example.org for its "
		    "sub-domains",
		    (int)len, p);
		return (-1);
	}

	/* The key: lower case, no trailing dot, parents keep their dot. */
	sl.len = blen + parent;
	if (domainset_find(set, parent ? body - 1 : body, sl.len) != NULL)
		return (0);
	if (domainset_grow(set) == -1 ||
	    (sl.key = malloc(sl.len + 1)) == NULL) {
		rd_err_set(err, DOMAINSET_SOURCE, 0, "out of memory");
		return (-1);
	}
	if (parent)
		sl.key[0] = '.';
	memcpy(sl.key + parent, name, blen + 1);
	rd_lower_ascii(sl.key);
	sl.hash = domainset_hash(sl.key, sl.len);
	domainset_put(set->slots, set->cap, &sl);
	set->count++;
	return (0);
}

/* rd_domainset_add - add one entry; -1 with err on an invalid domain */
int
rd_domainset_add(
    struct rd_domainset *set, const char *entry, struct rd_err *err)
{
	if (entry == NULL)
		entry = "";
	return (domainset_add_one(set, entry, strlen(entry), err));
}

/*
 * rd_domainset_add_list - add each entry of a comma/white space separated
 * list; stops at the first bad entry (those before it stay added).
 */
int
rd_domainset_add_list(
    struct rd_domainset *set, const char *list, struct rd_err *err)
{
	const char *p;
	size_t n;

	if (list == NULL)
		return (0);
	for (p = list; *p != '\0'; p += n) {
		p += strspn(p, DOMAINSET_SEP);
		n = strcspn(p, DOMAINSET_SEP);
		if (n > 0 && domainset_add_one(set, p, n, err) == -1)
			return (-1);
	}
	return (0);
}

/*
 * rd_domainset_match - whether domain (any case, one trailing dot allowed;
 * U-labels compare as their A-labels) is an exact entry or a sub-domain of
 * a ".parent" entry.
 */
bool
rd_domainset_match(const struct rd_domainset *set, const char *domain)
{
	char ace[RD_ADDR_DOMAIN_MAX + 1];
	size_t len, i;

	if (set == NULL || domain == NULL || set->count == 0)
		return (false);
	len = strlen(domain);
	/* A U-label query compares as its A-labels, as the entries do. */
	for (i = 0; i < len && (unsigned char)domain[i] < 0x80; i++)
		;
	if (i < len) {
		if (len > 0 && domain[len - 1] == '.')
			len--;
		if (len == 0 || domain[0] == '.' ||
		    rd_domain_alabel(domain, len, ace, sizeof(ace)) != NULL)
			return (false);
		domain = ace;
		len = strlen(ace);
	}
	if (len > 0 && domain[len - 1] == '.')
		len--;
	/* Longer than any domain: no probe per dot of a hostile string. */
	if (len == 0 || len > RD_ADDR_DOMAIN_MAX || domain[0] == '.')
		return (false);
	if (domainset_find(set, domain, len) != NULL)
		return (true);
	for (i = 1; i < len; i++)
		if (domain[i] == '.' &&
		    domainset_find(set, domain + i, len - i) != NULL)
			return (true);
	return (false);
}

/* rd_domainset_count - distinct entries (NULL: 0) */
size_t
rd_domainset_count(const struct rd_domainset *set)
{
	return (set == NULL ? 0 : set->count);
}

int
rd_domainset_merge(struct rd_domainset *dst, const struct rd_domainset *src,
    struct rd_err *err)
{
	size_t i;

	if (src == NULL)
		return (0);
	for (i = 0; i < src->cap; i++)
		if (src->slots[i].key != NULL &&
		    domainset_add_one(
			dst, src->slots[i].key, src->slots[i].len, err) == -1)
			return (-1);
	return (0);
}

static int
domainset_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

void
rd_domainset_text(const struct rd_domainset *set, struct rd_buf *b)
{
	const char **keys;
	size_t i, n = 0;

	if (set == NULL || set->count == 0)
		return;
	if ((keys = calloc(set->count, sizeof(*keys))) == NULL) {
		rd_buf_printf(b, "(%zu domains)", set->count);
		return;
	}
	for (i = 0; i < set->cap && n < set->count; i++)
		if (set->slots[i].key != NULL)
			keys[n++] = set->slots[i].key;
	qsort(keys, n, sizeof(*keys), domainset_cmp);
	for (i = 0; i < n; i++)
		rd_buf_printf(b, "%s%s", i > 0 ? " " : "", keys[i]);
	free(keys);
}

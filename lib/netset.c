/*
 * netset.c - sets of IPv4/IPv6 networks in Postfix mynetworks syntax.
 *
 * Owns the parsing of network entries and client addresses, and matching.
 * Every address is kept as 16 bytes of IPv6, an IPv4 address as its
 * IPv4-mapped form ::ffff:a.b.c.d (RFC 4291 2.5.5.2) with 96 added to its
 * prefix, so "127.0.0.0/8", "[::ffff:127.0.0.0]/104", "127.0.0.1" and
 * "::ffff:127.0.0.1" all meet in one representation.
 * Entries are kept in an array and matched by a linear scan: mynetworks
 * lists are short, and a scan has no worst case to think about. Exact
 * duplicates are stored (and counted) once. Postfix features that are not
 * networks ("!" negation, "/file/name", "type:table") are refused.
 * Threads: build in one thread, then read-only; rd_netset_match only reads,
 * so a built set may be shared.
 * Memory: the set owns its array; out of memory while building is an input
 * error (-1), not a panic, since it happens at (re)load time.
 */

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relaydiag/buf.h"
#include "relaydiag/err.h"
#include "relaydiag/netset.h"

#define NETSET_SOURCE "<network list>"
#define NETSET_SEP ", \t\r\n"
#define NETSET_ENTRY_MAX 128 /* longer than any address with a prefix */
#define NETSET_HINT "want 192.0.2.0/24, 2001:db8::/32 or [::1]/128"

struct netset_net {
	unsigned char addr[16]; /* host bits zero */
	unsigned prefix;        /* 0-128, in the IPv6 view */
};

struct rd_netset {
	struct netset_net *nets;
	size_t count;
	size_t cap;
};

/*
 * netset_parse_addr - a bare address (no brackets, no prefix) p[0..len)
 * into 16 bytes; *v4 tells which family it was written in. -1: not one.
 */
static int
netset_parse_addr(const char *p, size_t len, unsigned char out[16], bool *v4)
{
	char text[INET6_ADDRSTRLEN + 1];
	unsigned char b4[4];

	if (len == 0 || len >= sizeof(text))
		return (-1);
	memcpy(text, p, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, b4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, b4, 4);
		*v4 = true;
		return (0);
	}
	*v4 = false;
	return (inet_pton(AF_INET6, text, out) == 1 ? 0 : -1);
}

/* netset_mask - clear every bit of addr after the first prefix bits */
static void
netset_mask(unsigned char addr[16], unsigned prefix)
{
	unsigned i;

	for (i = 0; i < 16; i++) {
		if (prefix >= 8)
			prefix -= 8;
		else {
			addr[i] &= (unsigned char)(0xff00 >> prefix);
			prefix = 0;
		}
	}
}

/* netset_in - whether addr lies in net */
static bool
netset_in(const struct netset_net *net, const unsigned char addr[16])
{
	unsigned full = net->prefix / 8, rest = net->prefix % 8;
	unsigned char mask;

	if (memcmp(net->addr, addr, full) != 0)
		return (false);
	if (rest == 0)
		return (true);
	mask = (unsigned char)(0xff00 >> rest);
	return ((addr[full] & mask) == net->addr[full]);
}

/* netset_fail - err: bad network "entry": reason; returns -1 */
static int
netset_fail(struct rd_err *err, const char *p, size_t len, const char *why)
{
	if (len > NETSET_ENTRY_MAX)
		rd_err_set(err, NETSET_SOURCE, 0, "bad network \"%.*s...\": %s",
		    NETSET_ENTRY_MAX, p, why);
	else
		rd_err_set(err, NETSET_SOURCE, 0, "bad network \"%.*s\": %s",
		    (int)len, p, why);
	return (-1);
}

/* netset_add_one - add the entry p[0..len); -1 with err */
static int
netset_add_one(
    struct rd_netset *set, const char *p, size_t len, struct rd_err *err)
{
	char shown[INET6_ADDRSTRLEN + 1];
	const char *a, *rest, *close, *colon;
	struct netset_net net, *nets;
	unsigned char host[16];
	size_t alen, rlen, i;
	unsigned prefix, max;
	bool v4, bracketed;

	if (len == 0) {
		rd_err_set(err, NETSET_SOURCE, 0, "empty network");
		return (-1);
	}
	if (len > NETSET_ENTRY_MAX)
		return (netset_fail(err, p, len, "too long"));
	if (p[0] == '!')
		return (netset_fail(err, p, len,
		    "negation (\"!\") is not "
		    "supported; list only the networks to trust"));
	/* "/file/name", "type:/table": no IPv6 address has ':' before '/'. */
	colon = memchr(p, ':', len);
	if (p[0] == '/' ||
	    (p[0] != '[' && colon != NULL && (size_t)(colon - p) + 1 < len &&
		colon[1] == '/'))
		return (netset_fail(err, p, len,
		    "files and lookup tables are not supported here"));

	/* "[addr]/len", "[addr]", "addr/len" or "addr" */
	bracketed = p[0] == '[';
	if (bracketed) {
		close = memchr(p, ']', len);
		if (close == NULL)
			return (netset_fail(err, p, len, "'[' without ']'"));
		a = p + 1;
		alen = (size_t)(close - a);
		rest = close + 1;
	} else {
		rest = memchr(p, '/', len);
		if (rest == NULL)
			rest = p + len;
		a = p;
		alen = (size_t)(rest - p);
	}
	rlen = (size_t)(p + len - rest);
	if (netset_parse_addr(a, alen, host, &v4) == -1)
		return (netset_fail(
		    err, p, len, "not an IP address; " NETSET_HINT));
	max = v4 ? 32 : 128;
	if (rlen == 0)
		prefix = max;
	else {
		if (rest[0] != '/')
			return (netset_fail(err, p, len,
			    "text after ']' (want /prefix-length)"));
		if (rlen == 1)
			return (netset_fail(
			    err, p, len, "missing prefix length after '/'"));
		for (prefix = 0, i = 1; i < rlen; i++) {
			if (rest[i] < '0' || rest[i] > '9' || i > 3)
				return (netset_fail(err, p, len,
				    v4 ? "bad prefix length (want 0-32)"
				       : "bad prefix length (want 0-128)"));
			prefix = prefix * 10 + (unsigned)(rest[i] - '0');
		}
		if (prefix > max)
			return (netset_fail(err, p, len,
			    v4 ? "prefix length out of range (want 0-32)"
			       : "prefix length out of range (want 0-128)"));
	}
	net.prefix = v4 ? prefix + 96 : prefix;
	memcpy(net.addr, host, 16);
	netset_mask(net.addr, net.prefix);
	if (memcmp(net.addr, host, 16) != 0) {
		/* As Postfix does: name the network the user probably meant. */
		inet_ntop(v4 ? AF_INET : AF_INET6,
		    v4 ? net.addr + 12 : net.addr, shown, sizeof(shown));
		rd_err_set(err, NETSET_SOURCE, 0,
		    "host bits set in \"%.*s\"; did you mean \"%s%s%s/%u\"?",
		    (int)len, p, bracketed ? "[" : "", shown,
		    bracketed ? "]" : "", prefix);
		return (-1);
	}

	for (i = 0; i < set->count; i++)
		if (set->nets[i].prefix == net.prefix &&
		    memcmp(set->nets[i].addr, net.addr, 16) == 0)
			return (0);
	if (set->count == set->cap) {
		size_t cap = set->cap == 0 ? 8 : set->cap * 2;

		if ((nets = reallocarray(set->nets, cap, sizeof(*nets))) ==
		    NULL) {
			rd_err_set(err, NETSET_SOURCE, 0, "out of memory");
			return (-1);
		}
		set->nets = nets;
		set->cap = cap;
	}
	set->nets[set->count++] = net;
	return (0);
}

/* rd_netset_new - an empty set; NULL when out of memory */
struct rd_netset *
rd_netset_new(void)
{
	return (calloc(1, sizeof(struct rd_netset)));
}

/* rd_netset_free - NULL: no-op */
void
rd_netset_free(struct rd_netset *set)
{
	if (set == NULL)
		return;
	free(set->nets);
	free(set);
}

/* rd_netset_add - add one entry; -1 with err on a bad address or prefix */
int
rd_netset_add(struct rd_netset *set, const char *entry, struct rd_err *err)
{
	if (entry == NULL)
		entry = "";
	return (netset_add_one(set, entry, strlen(entry), err));
}

/*
 * rd_netset_add_list - add each entry of a comma/white space separated
 * list; stops at the first bad entry (those before it stay added).
 */
int
rd_netset_add_list(struct rd_netset *set, const char *list, struct rd_err *err)
{
	const char *p;
	size_t n;

	if (list == NULL)
		return (0);
	for (p = list; *p != '\0'; p += n) {
		p += strspn(p, NETSET_SEP);
		n = strcspn(p, NETSET_SEP);
		if (n > 0 && netset_add_one(set, p, n, err) == -1)
			return (-1);
	}
	return (0);
}

/*
 * rd_netset_match - whether the client address ip is in the set. Accepts
 * the forms MTAs put in {client_addr} and address literals: "192.0.2.1",
 * "[192.0.2.1]", "2001:db8::1", "IPv6:2001:db8::1" (Sendmail),
 * "[IPv6:2001:db8::1]", "::ffff:192.0.2.1"; a zone ("fe80::1%eth0") is
 * ignored.
 */
bool
rd_netset_match(const struct rd_netset *set, const char *ip)
{
	unsigned char addr[16];
	const char *p, *zone;
	size_t len, i;
	bool v4;

	if (set == NULL || ip == NULL || set->count == 0)
		return (false);
	p = ip;
	len = strlen(ip);
	if (len > NETSET_ENTRY_MAX)
		return (false);
	if (len >= 2 && p[0] == '[' && p[len - 1] == ']') {
		p++;
		len -= 2;
	}
	if (len >= 5 && strncasecmp(p, "IPv6:", 5) == 0) {
		p += 5;
		len -= 5;
		if (memchr(p, ':', len) == NULL) /* "IPv6:192.0.2.1" */
			return (false);
	}
	if ((zone = memchr(p, '%', len)) != NULL && memchr(p, ':', len) != NULL)
		len = (size_t)(zone - p);
	if (netset_parse_addr(p, len, addr, &v4) == -1)
		return (false);
	for (i = 0; i < set->count; i++)
		if (netset_in(&set->nets[i], addr))
			return (true);
	return (false);
}

/* rd_netset_count - distinct entries (NULL: 0) */
size_t
rd_netset_count(const struct rd_netset *set)
{
	return (set == NULL ? 0 : set->count);
}

void
rd_netset_text(const struct rd_netset *set, struct rd_buf *b)
{
	static const unsigned char mapped[12] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char text[INET6_ADDRSTRLEN + 1];
	const struct netset_net *n;
	size_t i;

	for (i = 0; set != NULL && i < set->count; i++) {
		n = &set->nets[i];
		if (n->prefix >= 96 && memcmp(n->addr, mapped, 12) == 0) {
			inet_ntop(AF_INET, n->addr + 12, text, sizeof(text));
			rd_buf_printf(b, "%s%s/%u", i > 0 ? " " : "", text,
			    n->prefix - 96);
		} else {
			inet_ntop(AF_INET6, n->addr, text, sizeof(text));
			rd_buf_printf(
			    b, "%s[%s]/%u", i > 0 ? " " : "", text, n->prefix);
		}
	}
}

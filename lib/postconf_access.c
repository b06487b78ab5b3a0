/*
 * postconf_access.c - the check_client_access tables that stand before a
 * listener's relay check (restrict.c finds them), read into the clients
 * they permit (struct rd_listener's client_permits), so that relaydiag as
 * the relay gate (RelayGate, deployment 2: Postfix accepts everything
 * and relies on relaydiag) lets through whom Postfix's own rules would,
 * such as a POP-before-SMTP table.
 *
 * access(5) syntax: "key action" lines, '#' comments. A key is an IPv4
 * or IPv6 address, or (not cidr:) an IPv4 prefix of 1 to 3 octets
 * ("192.168.1" is 192.168.1.0/24); in a cidr: table, a network/prefix.
 * A client is permitted by "OK", "PERMIT", or an all-numerical value
 * (access(5): treated as OK; POP-before-SMTP daemons write a time
 * there). What cannot be read is a warning that says what to do:
 * host-name keys, tables of other types (mysql:, ldap:, proxy: ...),
 * files relaydiag cannot read. texthash:, cidr: and the source file of
 * hash:, lmdb:, btree: and dbm: tables (the path given; postmap builds
 * the .db from it) are read, at each load and reload.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "relaydiag/buf.h"
#include "relaydiag/file.h"
#include "relaydiag/listener.h"
#include "relaydiag/netset.h"
#include "relaydiag/restrict.h"
#include "relaydiag/text.h"
#include "postconf_int.h"

struct pa_walk {
	struct pc_ctx *x;
	struct rd_listener *l;
};

/* pa_permits - an access(5) action that permits the client */
static bool
pa_permits(const char *action, size_t n)
{
	size_t i;

	if ((n == 2 && strncasecmp(action, "OK", 2) == 0) ||
	    (n == 6 && strncasecmp(action, "PERMIT", 6) == 0))
		return (true);
	for (i = 0; i < n; i++)
		if (action[i] < '0' || action[i] > '9')
			return (false);
	return (n > 0);
}

/*
 * pa_key - an access table key as a network for netset.c, into out:
 * the key itself, or an IPv4 prefix of 1-3 octets as a CIDR; -1 for a
 * key that is no address (a host or domain name)
 */
static int
pa_key(const char *key, bool cidr, char *out, size_t len)
{
	unsigned dots = 0;
	const char *p;

	if (cidr || strchr(key, ':') != NULL || strchr(key, '/') != NULL) {
		if (rd_strlcpy(out, key, len) >= len)
			return (-1);
		return (0);
	}
	for (p = key; *p != '\0'; p++) {
		if (*p == '.')
			dots++;
		else if (*p < '0' || *p > '9')
			return (-1);
	}
	if (*key == '\0' || dots > 3 || key[strlen(key) - 1] == '.')
		return (-1);
	if (dots == 3)
		return (rd_strlcpy(out, key, len) >= len ? -1 : 0);
	/* "192.168.1": the octets given, the rest zero */
	snprintf(out, len, "%s%s/%u", key,
	    dots == 2   ? ".0"
	    : dots == 1 ? ".0.0"
			: ".0.0.0",
	    8 * (dots + 1));
	return (0);
}

/* pa_read - the permitting lines of one table file into l's set */
static void
pa_read(struct pc_ctx *x, struct rd_listener *l, const char *table,
    const char *path, bool cidr)
{
	char ebuf[128], chunk[4096], net[128];
	struct rd_buf text;
	struct rd_err e;
	char *p, *line, *key, *action;
	unsigned names = 0, bad = 0;
	size_t n;
	FILE *fp;

	if ((fp = rd_file_fopen(path, NULL)) == NULL) {
		pc_warn(x,
		    "listener %s: %s: cannot read %s: %s; with RelayGate, "
		    "list the clients it permits in TrustedNetworks",
		    l->name, table, path,
		    rd_file_strerror(errno, ebuf, sizeof(ebuf)));
		return;
	}
	rd_buf_init(&text);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 &&
	       text.len + n <= PC_FILE_MAX)
		rd_buf_add(&text, chunk, n);
	(void)fclose(fp);
	if (n > 0) {
		pc_warn(x, "listener %s: %s: larger than 1 MiB; not read",
		    l->name, table);
		rd_buf_free(&text);
		return;
	}
	if (l->client_permits == NULL &&
	    (l->client_permits = rd_netset_new()) == NULL) {
		rd_buf_free(&text);
		return;
	}
	for (p = text.data; p != NULL && (line = pc_line(&p)) != NULL;) {
		if ((key = pc_token(&line)) == NULL || *key == '#')
			continue;
		action = line + strspn(line, " \t");
		n = strcspn(action, " \t\r");
		if (!pa_permits(action, n))
			continue;
		if (pa_key(key, cidr, net, sizeof(net)) != 0) {
			names++;
			continue;
		}
		rd_err_clear(&e);
		if (rd_netset_add(l->client_permits, net, &e) != 0)
			bad++;
	}
	rd_buf_free(&text);
	if (names > 0)
		pc_warn(x,
		    "listener %s: %s: %u permitting keys are host or domain "
		    "names, which relaydiag does not resolve; with RelayGate, "
		    "list those clients in TrustedNetworks",
		    l->name, table, names);
	if (bad > 0)
		pc_warn(x,
		    "listener %s: %s: %u permitting keys are not valid "
		    "addresses; ignored",
		    l->name, table, bad);
}

/* pa_table - one "type:name" of a check_client_access entry */
static void
pa_table(const char *table, void *arg)
{
	static const char *const sources[] = {
	    "texthash:", "hash:", "lmdb:", "btree:", "dbm:"};
	struct pa_walk *w = arg;
	size_t i, n;

	if (strncmp(table, "cidr:/", 6) == 0) {
		pa_read(w->x, w->l, table, table + 5, true);
		return;
	}
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		n = strlen(sources[i]);
		if (strncmp(table, sources[i], n) == 0 && table[n] == '/') {
			pa_read(w->x, w->l, table, table + n, false);
			return;
		}
	}
	pc_warn(w->x,
	    "listener %s: check_client_access %s cannot be expanded; with "
	    "RelayGate, list the clients it permits in TrustedNetworks",
	    w->l->name, table);
}

void
pc_client_tables(struct pc_ctx *x, struct rd_listener *l)
{
	struct pa_walk w = {x, l};

	(void)rd_restrict_client_tables(
	    l->relay_restrictions, l->recipient_restrictions, pa_table, &w);
}

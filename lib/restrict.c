/*
 * restrict.c - Postfix's restriction lists (restrict.h): cutting one into
 * entries, and reading what it does to a relay decision.
 *
 * Owns the grammar of a restriction list as relaydiag reads it: entries
 * separated by commas and/or white space, "{ }" grouping dropped, a
 * restriction that takes an argument joined with it ("check_client_access
 * texthash:/x"), "warn_if_reject X" one entry that only warns. Where the
 * lists come from (main.cf, master.cf -o) is postconf's business; which
 * diagnosis quotes them is diagnose.c's.
 * Threads: pure functions of their arguments.
 */
#include <stdio.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/restrict.h"
#include "relaydiag/text.h"

#define RX_ENTRIES_MAX 64
#define RX_ENTRY_MAX 256

enum rx_kind {
	RX_OTHER = 0,    /* no effect on relaying that we know of */
	RX_PERMIT,       /* permit */
	RX_PERMIT_SASL,  /* permit_sasl_authenticated */
	RX_PERMIT_MYNET, /* permit_mynetworks */
	RX_PERMITTER,    /* may permit a client: tables, certs, policy */
	RX_RELAY_CHECK,  /* reject_unauth_destination, defer_unauth_... */
	RX_REJECT,       /* reject, defer: every client */
	RX_WARN,         /* warn_if_reject X: logs only */
};

struct rx_list {
	char e[RX_ENTRIES_MAX][RX_ENTRY_MAX];
	enum rx_kind k[RX_ENTRIES_MAX];
	size_t n;
	bool cut; /* more entries than RX_ENTRIES_MAX */
};

/* rx_takes_arg - a restriction whose next word is its argument */
static bool
rx_takes_arg(const char *w)
{
	static const char *const prefixes[] = {"check_", "reject_rbl_client",
	    "reject_rhsbl_", "permit_dnswl_client", "permit_rhswl_client",
	    "reject_dnsbl_", "warn_if_reject"};
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(w, prefixes[i], strlen(prefixes[i])) == 0)
			return (true);
	return (false);
}

static enum rx_kind
rx_kind_of(const char *e)
{
	if (strncmp(e, "warn_if_reject", 14) == 0)
		return (RX_WARN);
	if (strcmp(e, "permit") == 0)
		return (RX_PERMIT);
	if (strcmp(e, "permit_sasl_authenticated") == 0)
		return (RX_PERMIT_SASL);
	if (strcmp(e, "permit_mynetworks") == 0)
		return (RX_PERMIT_MYNET);
	if (strcmp(e, "reject_unauth_destination") == 0 ||
	    strcmp(e, "defer_unauth_destination") == 0)
		return (RX_RELAY_CHECK);
	if (strcmp(e, "reject") == 0 || strcmp(e, "defer") == 0)
		return (RX_REJECT);
	if (strncmp(e, "check_", 6) == 0 ||
	    strncmp(e, "permit_tls_", 11) == 0 ||
	    strncmp(e, "permit_dnswl_", 13) == 0 ||
	    strncmp(e, "permit_rhswl_", 13) == 0)
		return (RX_PERMITTER);
	return (RX_OTHER);
}

/* rx_parse - list into entries; an entry is cut at RX_ENTRY_MAX - 1 */
static void
rx_parse(const char *list, struct rx_list *l)
{
	const char *p = list;
	char word[RX_ENTRY_MAX];
	size_t n;
	bool join = false;

	l->n = 0;
	l->cut = false;
	while (p != NULL && *p != '\0') {
		p += strspn(p, ", \t\r\n{}");
		if (*p == '\0')
			break;
		n = strcspn(p, ", \t\r\n{}");
		/* An entry too long for the slot keeps its start: it is
		   quoted, never acted on by its argument. */
		memcpy(word, p, n < sizeof(word) ? n : sizeof(word) - 1);
		word[n < sizeof(word) ? n : sizeof(word) - 1] = '\0';
		p += n;
		if (join && l->n > 0) {
			char *dst = l->e[l->n - 1];
			size_t used = strlen(dst);

			if (used + 1 < RX_ENTRY_MAX) {
				dst[used++] = ' ';
				(void)rd_strlcpy(
				    dst + used, word, RX_ENTRY_MAX - used);
			}
			/* warn_if_reject takes a restriction that may take
			   an argument in turn. */
			join = strncmp(dst, "warn_if_reject", 14) == 0 &&
			       strchr(dst, ' ') == strrchr(dst, ' ') &&
			       rx_takes_arg(word) &&
			       strcmp(word, "warn_if_reject") != 0;
			continue;
		}
		if (l->n == RX_ENTRIES_MAX) {
			l->cut = true;
			break;
		}
		(void)rd_strlcpy(l->e[l->n], word, RX_ENTRY_MAX);
		l->k[l->n] = RX_OTHER;
		l->n++;
		join = rx_takes_arg(word);
	}
	for (n = 0; n < l->n; n++)
		l->k[n] = rx_kind_of(l->e[n]);
}

/* rx_quote - "name = e1, e2, ..." into b */
static void
rx_quote(struct rd_buf *b, const char *name, const struct rx_list *l)
{
	size_t i;

	rd_buf_printf(b, "%s = ", name);
	for (i = 0; i < l->n; i++)
		rd_buf_printf(b, "%s%s", i > 0 ? ", " : "", l->e[i]);
	if (l->cut)
		rd_buf_adds(b, ", ...");
}

static void
rx_out(struct rd_buf *b, char *out, size_t len)
{
	if (len == 0)
		return;
	/* Cut to the caller's slot: a sentence that quotes a long list. */
	(void)rd_strlcpy(out, b->data != NULL ? b->data : "", len);
	rd_buf_free(b);
}

bool
rd_restrict_refusal(const char *relay, const char *recipient,
    enum rd_restrict_by by, char *out, size_t len)
{
	static const char *const names[2] = {
	    "smtpd_relay_restrictions", "smtpd_recipient_restrictions"};
	const char *lists[2] = {relay, recipient};
	const char *want = by == RD_RESTRICT_SASL ? "permit_sasl_authenticated"
						  : "permit_mynetworks";
	const char *who = by == RD_RESTRICT_SASL ? "logged-in clients"
						 : "clients in mynetworks";
	enum rx_kind wk =
	    by == RD_RESTRICT_SASL ? RX_PERMIT_SASL : RX_PERMIT_MYNET;
	struct rx_list l;
	struct rd_buf b;
	size_t i, k, j;
	bool later;

	rd_buf_init(&b);
	if (relay == NULL && recipient == NULL) {
		rd_buf_printf(&b,
		    "%s is missing from this listener's relay restrictions, "
		    "or stands after reject_unauth_destination (as in "
		    "smtpd_recipient_restrictions = reject_unauth_destination, "
		    "%s); set ImportPostfix so that relaydiag quotes the list.",
		    want, want);
		rx_out(&b, out, len);
		return (false);
	}
	for (i = 0; i < 2; i++) {
		if (lists[i] == NULL)
			continue;
		rx_parse(lists[i], &l);
		for (k = 0; k < l.n; k++) {
			if (l.k[k] == wk || l.k[k] == RX_PERMIT)
				break; /* this list lets the client pass */
			if (l.k[k] != RX_RELAY_CHECK)
				continue;
			for (later = false, j = k + 1; j < l.n; j++)
				later |= l.k[j] == wk;
			if (later) {
				rd_buf_adds(&b, "In ");
				rx_quote(&b, names[i], &l);
				rd_buf_printf(&b,
				    ", %s comes before %s, so %s are refused: "
				    "move %s in front of it.",
				    l.e[k], want, who, want);
			} else {
				rx_quote(&b, names[i], &l);
				rd_buf_printf(&b,
				    " has no %s before %s, so %s are refused: "
				    "add %s in front of it.",
				    want, l.e[k], who, want);
			}
			rx_out(&b, out, len);
			return (true);
		}
	}
	rd_buf_adds(&b, "The relay restrictions relaydiag read (");
	for (i = 0, j = 0; i < 2; i++) {
		if (lists[i] == NULL)
			continue;
		rx_parse(lists[i], &l);
		if (j++ > 0)
			rd_buf_adds(&b, "; ");
		rx_quote(&b, names[i], &l);
	}
	rd_buf_printf(&b,
	    ") let such clients through: the refusal comes from something "
	    "they do not show (a -o override, a restriction class, a policy "
	    "service); check \"postconf -P\" for this listener.");
	rx_out(&b, out, len);
	return (false);
}

size_t
rd_restrict_permitters(
    const char *relay, const char *recipient, char *out, size_t len)
{
	static const char *const names[2] = {
	    "smtpd_relay_restrictions", "smtpd_recipient_restrictions"};
	const char *lists[2] = {relay, recipient};
	struct rx_list l;
	struct rd_buf b;
	size_t i, k, found = 0;

	rd_buf_init(&b);
	for (i = 0; i < 2; i++) {
		if (lists[i] == NULL)
			continue;
		rx_parse(lists[i], &l);
		for (k = 0; k < l.n && l.k[k] != RX_RELAY_CHECK; k++) {
			if (l.k[k] != RX_PERMITTER && l.k[k] != RX_PERMIT &&
			    l.k[k] != RX_PERMIT_MYNET)
				continue;
			rd_buf_printf(&b, "%s%s: %s", found > 0 ? ", " : "",
			    names[i], l.e[k]);
			found++;
		}
	}
	if (found == 0)
		rd_buf_adds(
		    &b, relay == NULL && recipient == NULL
			    ? "a rule relaydiag does not model (set "
			      "ImportPostfix so that it names the restrictions)"
			    : "no restriction relaydiag read (a -o override or "
			      "a restriction class it does not see)");
	rx_out(&b, out, len);
	return (found);
}

size_t
rd_restrict_client_tables(const char *relay, const char *recipient,
    void (*fn)(const char *table, void *arg), void *arg)
{
	const char *lists[2] = {relay, recipient};
	static const char cca[] = "check_client_access ";
	struct rx_list l;
	size_t i, k, n = 0;

	for (i = 0; i < 2; i++) {
		if (lists[i] == NULL)
			continue;
		rx_parse(lists[i], &l);
		for (k = 0; k < l.n && l.k[k] != RX_RELAY_CHECK; k++)
			if (strncmp(l.e[k], cca, sizeof(cca) - 1) == 0) {
				fn(l.e[k] + sizeof(cca) - 1, arg);
				n++;
			}
	}
	return (n);
}

bool
rd_restrict_requires_sasl(const char *list)
{
	struct rx_list l;
	size_t k;
	bool sasl = false;

	if (list == NULL)
		return (false);
	rx_parse(list, &l);
	for (k = 0; k < l.n; k++)
		sasl |= l.k[k] == RX_PERMIT_SASL;
	return (sasl && l.n > 0 && !l.cut && l.k[l.n - 1] == RX_REJECT);
}

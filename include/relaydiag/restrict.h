/*
 * restrict.h - Postfix's SMTP restriction lists (smtpd_relay_restrictions,
 * smtpd_recipient_restrictions, smtpd_client_restrictions) read for what
 * they do to one relay decision: which entry refuses an authorized client,
 * which entries can have permitted a client relaydiag does not authorize,
 * and whether a list demands a login.
 *
 * The grammar is postconf(5)'s: entries separated by commas and/or white
 * space; a restriction that takes an argument (check_client_access
 * texthash:/x, check_policy_service unix:private/p, ...) is one entry with
 * its argument. Evaluation follows SMTPD_ACCESS_README: at RCPT, with
 * Postfix >= 2.10, smtpd_relay_restrictions first, then
 * smtpd_recipient_restrictions; within a list the first permit or reject
 * ends that list; a list that ends without either passes.
 * Threads: pure functions of their arguments.
 */
#ifndef RELAYDIAG_RESTRICT_H
#define RELAYDIAG_RESTRICT_H

#include <stdbool.h>
#include <stddef.h>

/* How relaydiag saw the client authorized when the MTA refused it. */
enum rd_restrict_by {
	RD_RESTRICT_SASL = 0, /* logged in: permit_sasl_authenticated */
	RD_RESTRICT_NETWORK,  /* in mynetworks: permit_mynetworks */
};

/*
 * rd_restrict_refusal - why a client authorized by `by` was still refused
 * as relaying, from the listener's effective lists (relay, then
 * recipient; either may be NULL: unknown). Writes one sentence into out
 * (size len, cut to fit) that quotes the list at fault and says what is
 * missing or out of order; true when the lists explain the refusal,
 * false (out says what to look at) when they do not.
 */
bool rd_restrict_refusal(const char *relay, const char *recipient,
    enum rd_restrict_by by, char *out, size_t len);

/*
 * rd_restrict_permitters - the entries that stand before the relay check
 * (reject_unauth_destination, defer_unauth_destination) in relay and
 * recipient, and that can permit a client relaydiag does not authorize:
 * check_*_access tables, permit_tls_clientcerts, check_policy_service,
 * permit_mynetworks, permit ... Writes them, comma-separated with their
 * list's name, into out; the number of entries (0: none found, out says
 * so).
 */
size_t rd_restrict_permitters(
    const char *relay, const char *recipient, char *out, size_t len);

/*
 * rd_restrict_client_tables - the tables of the check_client_access
 * entries that stand before the relay check in relay, then in recipient
 * (either may be NULL): fn(table, arg) for each ("texthash:/etc/x");
 * how many.
 */
size_t rd_restrict_client_tables(const char *relay, const char *recipient,
    void (*fn)(const char *table, void *arg), void *arg);

/*
 * rd_restrict_requires_sasl - whether a list lets only logged-in clients
 * through: it has permit_sasl_authenticated and ends with a bare
 * "reject" (e.g. "permit_sasl_authenticated, reject", Postfix's
 * submission example). NULL or empty: false.
 */
bool rd_restrict_requires_sasl(const char *list);

#endif

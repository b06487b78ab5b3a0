/*
 * catalogue.c - the catalogue of causes (catalogue.h): data, and the two
 * ways to look it up.
 */
#include <string.h>

#include "relaydiag/catalogue.h"

/*
 * The catalogue. Ids are a public interface (events, headers, logs,
 * dashboards): never rename one, only add. Placeholders: ${client}
 * ${client_name} ${helo} ${port} ${user} ${sender} ${sender_domain} ${rcpt}
 * ${domain} ${mta_text} ${dsn} ${elsewhere} ${mx} ${listener}
 * ${relay} (a remote server, "host[ip]:port") ${remote_check} (whether it
 * is the domain's MX) ${failed_user} (the login that failed)
 * ${relay_check} (restrict.c: what in the listener's restriction lists
 * refuses an authorized client) ${permitters} (restrict.c: what in them can
 * permit a client relaydiag does not authorize).
 */
static const struct rd_catalogue_entry diag_catalogue[] = {
    {"relay.authorized-sasl", RD_SEV_INFO,
	"Relayed to ${rcpt} for authenticated user ${user}.", "", "",
	RD_CAT_ON_ACCEPT},
    {"relay.authorized-network", RD_SEV_INFO,
	"Relayed to ${rcpt} because ${client} is in the trusted networks.", "",
	"", RD_CAT_ON_ACCEPT},
    {"delivery.local", RD_SEV_INFO,
	"Accepted ${rcpt} for local delivery (${domain} is handled here).", "",
	"", RD_CAT_ON_ACCEPT},
    {"relay.no-auth", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: ${client} is not logged in "
	"(no SMTP authentication) and not in a trusted network.",
	"Turn on \"My outgoing server requires authentication\" with your "
	"user name and password, and use port 587 with STARTTLS.",
	"If every user gets this, check that smtpd_sasl_auth_enable = yes "
	"and that smtpd_relay_restrictions contains "
	"permit_sasl_authenticated (Postfix >= 2.10 reads relay policy "
	"there).",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"relay.client-on-port-25", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: a mail program (HELO \"${helo}\") "
	"connected to port ${port} from ${client} without logging in.",
	"Set the outgoing server to port 587 with STARTTLS and turn on "
	"\"My outgoing server requires authentication\".",
	"A desktop or phone client is using the MX port; point users at "
	"the submission port (587) with authentication.",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"relay.tls-required-for-auth", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: ${client} did not log in, and "
	"this server offers login only after STARTTLS, which the client "
	"did not start.",
	"Turn on STARTTLS (or SSL/TLS) for the outgoing server; then "
	"authentication works.",
	"smtpd_tls_auth_only = yes hides AUTH until STARTTLS; clients "
	"without TLS never see it.",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"relay.ip-changed", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: ${sender} relayed with "
	"authorization from ${elsewhere} recently, but ${client} is not "
	"authorized.",
	"Your address changed (new network or Wi-Fi); use SMTP "
	"authentication instead of POP-before-SMTP.",
	"Authorization tied to a client address (POP-before-SMTP) broke "
	"when it changed; enable SMTP AUTH for these users.",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"relay.auth-stopped", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: ${sender} logged in from "
	"${client} recently but did not this time.",
	"Your mail program stopped logging in (settings changed, an update "
	"or a new device): enter the account settings again.",
	"The client stopped authenticating; if many users do at once, "
	"check the authentication service.",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"relay.probe", RD_SEV_WARNING,
	"Unauthorized relay attempt to <${rcpt}> from ${client} (HELO "
	"\"${helo}\") that looks like open-relay probing.",
	"", "Not a user to help; consider blocking ${client}.",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"rcpt.domain-not-accepted", RD_SEV_ERROR,
	"The MTA refused ${domain} as relaying, but the domain is handled "
	"here (relaydiag's configuration or its MX say so).",
	"The recipient's server is misconfigured; tell its administrator.",
	"Add ${domain} to mydestination, virtual_mailbox_domains or "
	"relay_domains (common after a migration).",
	RD_CAT_ON_REFUSAL},
    {"rcpt.mx-elsewhere", RD_SEV_WARNING,
	"${domain} is delivered here, but its MX points to ${mx}, not to "
	"this server.",
	"", "Fix the MX records of ${domain}.", RD_CAT_ON_ACCEPT},
    {"rcpt.unknown-user", RD_SEV_NOTICE,
	"The MTA rejected <${rcpt}>: no such user (${mta_text}).",
	"Check the address; the account may be inactive or cancelled.",
	"Re-create or forward the account if it should exist.",
	RD_CAT_ON_REFUSAL},
    {"mta.client-rejected", RD_SEV_ERROR,
	"The MTA rejected client ${client}: ${mta_text}.",
	"Your server refuses your network; contact its administrator.",
	"Remove the blanket reject from smtpd_client_restrictions (e.g. "
	"\"permit_mynetworks, reject\" blocks the whole Internet).",
	RD_CAT_ON_REFUSAL},
    {"mta.recipient-access-denied", RD_SEV_NOTICE,
	"The MTA rejected <${rcpt}> by its recipient access table: "
	"${mta_text}.",
	"The recipient does not accept this mail; contact them another way.",
	"Review the recipient access table (check_recipient_access).",
	RD_CAT_ON_REFUSAL},
    {"mta.sender-verify-failed", RD_SEV_NOTICE,
	"The MTA could not verify the sender <${sender}>: ${mta_text}.",
	"Make sure your address accepts mail (the server checks it).",
	"The sender's domain must accept the verification probe; "
	"whitelist it or relax the rule.",
	RD_CAT_ON_REFUSAL},
    {"mta.rbl-listed", RD_SEV_NOTICE,
	"The MTA rejected ${client} because it is on a DNS blacklist: "
	"${mta_text}.",
	"Your server's address is blacklisted: remove the cause, then "
	"request delisting.",
	"", RD_CAT_ON_REFUSAL},
    {"mta.unknown-domain", RD_SEV_NOTICE,
	"The MTA rejected the mail because a domain was not found in DNS: "
	"${mta_text}.",
	"Check the address for typos.", "Fix the domain's DNS.",
	RD_CAT_ON_REFUSAL},
    {"mta.other", RD_SEV_NOTICE,
	"The MTA rejected <${rcpt}>: ${dsn} ${mta_text}.", "", "",
	RD_CAT_ON_REFUSAL},
    {"sender.local-domain-unauthenticated", RD_SEV_WARNING,
	"${client} sent as <${sender}>, a local domain, without logging in.",
	"Turn on authentication in your mail program.",
	"A misconfigured client, or someone spoofing a local address.",
	RD_CAT_NO_LOGIN},
    {"sender.login-mismatch", RD_SEV_WARNING,
	"User ${user} sent as <${sender}>, which is not their address.",
	"Send from your own address.",
	"Grant the address to the user, or reject such mail.", 0},
    {"submission.no-auth", RD_SEV_NOTICE,
	"Mail on submission port ${port} from ${client} without "
	"authentication.",
	"Turn on authentication for the outgoing server.",
	"Require authentication on the submission port.", RD_CAT_NO_LOGIN},
    {"relay.authorized-mta", RD_SEV_INFO,
	"Relayed to <${rcpt}> for ${client}: the MTA permitted it, although "
	"the client did not log in and is not in relaydiag's trusted "
	"networks.",
	"",
	"The MTA's own restrictions let it relay: ${permitters}. If "
	"that is POP-before-SMTP or another rule you meant, nothing to do; "
	"if it is mynetworks, make TrustedNetworks match it (or use "
	"ImportPostfix).",
	RD_CAT_ON_ACCEPT | RD_CAT_NO_LOGIN},
    {"relay.authenticated-refused", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}> although ${user} logged in: the "
	"server's relay restrictions refuse logged-in users.",
	"Nothing is wrong with your mail program's settings: tell the "
	"server's administrator, quoting this message.",
	"${relay_check}", RD_CAT_ON_REFUSAL},
    {"relay.network-refused", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}> although ${client} is in the "
	"trusted networks.",
	"Tell the server's administrator, quoting this message.",
	"${relay_check} (Or Postfix's mynetworks leaves out ${client} while "
	"relaydiag's TrustedNetworks has it: ImportPostfix keeps the two "
	"the same.)",
	RD_CAT_ON_REFUSAL},
    {"relay.auth-failed", RD_SEV_ERROR,
	"Relay access denied for <${rcpt}>: ${client} tried to log in "
	"(as ${failed_user}) shortly before, and the login failed.",
	"Check the user name and password of the outgoing server in your "
	"mail program.",
	"If many users fail at once, the authentication service is broken "
	"(alert.auth-outage says so).",
	RD_CAT_ON_REFUSAL | RD_CAT_NO_LOGIN},
    {"remote.relay-denied", RD_SEV_ERROR,
	"The recipient's server ${relay} refused <${rcpt}> as relaying: "
	"${mta_text}.",
	"The recipient's server is misconfigured (often after a migration); "
	"tell its administrator.",
	"${remote_check}", RD_CAT_ON_REFUSAL},
    {"remote.relayhost-auth", RD_SEV_ERROR,
	"The relayhost ${relay} refused <${rcpt}> as relaying: this server "
	"does not log in to it.",
	"",
	"Log in to the relayhost: smtp_sasl_auth_enable = yes and "
	"smtp_sasl_password_maps with its user and password (and "
	"smtp_tls_security_level = encrypt for it).",
	RD_CAT_ON_REFUSAL},
    {"alert.outbound-refusals", RD_SEV_WARNING,
	"Many remote domains refuse this server's mail.", "",
	"Check the blacklists and this server's identity (PTR, HELO, SPF); "
	"if only a couple of addresses bounce, the problem is theirs.",
	0},
    {"alert.auth-outage", RD_SEV_CRITICAL,
	"Authentication looks broken: many senders that used to log in are "
	"now refused, or many logins fail.",
	"",
	"Authentication is broken on this server (an update changed the "
	"configuration, or the auth database is corrupt).",
	0},
    {"alert.relay-probe", RD_SEV_WARNING,
	"${client} makes many unauthorized relay attempts.", "",
	"Open-relay probing by a spammer; consider blocking it.", 0},
};

#define DIAG_N (sizeof(diag_catalogue) / sizeof(diag_catalogue[0]))

const char *
rd_severity_name(enum rd_severity s)
{
	static const char *const names[] = {
	    "info", "notice", "warning", "error", "critical"};

	return ((unsigned)s < 5 ? names[s] : "info");
}

const struct rd_catalogue_entry *
rd_catalogue_find(const char *id)
{
	size_t i;

	for (i = 0; i < DIAG_N; i++)
		if (strcmp(diag_catalogue[i].id, id) == 0)
			return (&diag_catalogue[i]);
	return (NULL);
}

const struct rd_catalogue_entry *
rd_catalogue_all(size_t *n)
{
	*n = DIAG_N;
	return (diag_catalogue);
}

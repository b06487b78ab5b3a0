/*
 * diagnose.c - the catalogue of causes, and the rules that pick one for a
 * recipient decision.
 *
 * Owns the catalogue (ids, severities, text templates: data, not code), the
 * table of MTA reply texts, the precedence of the unauthorized-relay ids,
 * and the template filler. Inputs are the facts gathered by session.c; the
 * filled texts are raw (sinks sanitize them).
 * Threads: pure functions of their arguments and of constant tables.
 */
#include <stdio.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/err.h"
#include "relaydiag/text.h"

/*
 * The catalogue. Ids are a public interface (events, headers, logs,
 * dashboards): never rename one, only add. Placeholders: ${client}
 * ${client_name} ${helo} ${port} ${user} ${sender} ${sender_domain} ${rcpt}
 * ${domain} ${mta_text} ${dsn}.
 */
static const struct rd_catalogue_entry diag_catalogue[] = {
	{ "relay.authorized-sasl", RD_SEV_INFO,
	  "Relayed to ${rcpt} for authenticated user ${user}.",
	  "", "" },
	{ "relay.authorized-network", RD_SEV_INFO,
	  "Relayed to ${rcpt} because ${client} is in the trusted networks.",
	  "", "" },
	{ "delivery.local", RD_SEV_INFO,
	  "Accepted ${rcpt} for local delivery (${domain} is handled here).",
	  "", "" },
	{ "relay.no-auth", RD_SEV_ERROR,
	  "Relay access denied for <${rcpt}>: ${client} is not logged in "
	  "(no SMTP authentication) and not in a trusted network.",
	  "Turn on \"My outgoing server requires authentication\" with your "
	  "user name and password, and use port 587 with STARTTLS.",
	  "If every user gets this, check that smtpd_sasl_auth_enable = yes "
	  "and that smtpd_relay_restrictions contains "
	  "permit_sasl_authenticated (Postfix >= 2.10 reads relay policy "
	  "there)." },
	{ "relay.client-on-port-25", RD_SEV_ERROR,
	  "Relay access denied for <${rcpt}>: a mail program (HELO \"${helo}\") "
	  "connected to port ${port} from ${client} without logging in.",
	  "Set the outgoing server to port 587 with STARTTLS and turn on "
	  "\"My outgoing server requires authentication\".",
	  "A desktop or phone client is using the MX port; point users at "
	  "the submission port (587) with authentication." },
	{ "relay.tls-required-for-auth", RD_SEV_ERROR,
	  "Relay access denied for <${rcpt}>: ${client} did not log in, and "
	  "this server offers login only after STARTTLS, which the client "
	  "did not start.",
	  "Turn on STARTTLS (or SSL/TLS) for the outgoing server; then "
	  "authentication works.",
	  "smtpd_tls_auth_only = yes hides AUTH until STARTTLS; clients "
	  "without TLS never see it." },
	{ "relay.ip-changed", RD_SEV_ERROR,
	  "Relay access denied for <${rcpt}>: ${sender} relayed with "
	  "authorization from another address recently, but not from "
	  "${client}.",
	  "Your address changed (new network or Wi-Fi); use SMTP "
	  "authentication instead of POP-before-SMTP.",
	  "Authorization tied to a client address (POP-before-SMTP) broke "
	  "when it changed; enable SMTP AUTH for these users." },
	{ "relay.auth-stopped", RD_SEV_ERROR,
	  "Relay access denied for <${rcpt}>: ${sender} logged in from "
	  "${client} recently but did not this time.",
	  "Your mail program stopped logging in (settings changed, an update "
	  "or a new device): enter the account settings again.",
	  "The client stopped authenticating; if many users do at once, "
	  "check the authentication service." },
	{ "relay.probe", RD_SEV_WARNING,
	  "Unauthorized relay attempt to <${rcpt}> from ${client} (HELO "
	  "\"${helo}\") that looks like open-relay probing.",
	  "",
	  "Not a user to help; consider blocking ${client}." },
	{ "rcpt.domain-not-accepted", RD_SEV_ERROR,
	  "The MTA refused ${domain} as relaying, but relaydiag's "
	  "configuration lists it as local.",
	  "The recipient's server is misconfigured; tell its administrator.",
	  "Add ${domain} to mydestination, virtual_mailbox_domains or "
	  "relay_domains (common after a migration)." },
	{ "rcpt.mx-elsewhere", RD_SEV_WARNING,
	  "The MX records of ${domain} do not point to this server.",
	  "", "Fix the MX records of ${domain}." },
	{ "rcpt.unknown-user", RD_SEV_NOTICE,
	  "The MTA rejected <${rcpt}>: no such user (${mta_text}).",
	  "Check the address; the account may be inactive or cancelled.",
	  "Re-create or forward the account if it should exist." },
	{ "mta.client-rejected", RD_SEV_ERROR,
	  "The MTA rejected client ${client}: ${mta_text}.",
	  "Your server refuses your network; contact its administrator.",
	  "Remove the blanket reject from smtpd_client_restrictions (e.g. "
	  "\"permit_mynetworks, reject\" blocks the whole Internet)." },
	{ "mta.recipient-access-denied", RD_SEV_NOTICE,
	  "The MTA rejected <${rcpt}> by its recipient access table: "
	  "${mta_text}.",
	  "The recipient does not accept this mail; contact them another way.",
	  "Review the recipient access table (check_recipient_access)." },
	{ "mta.sender-verify-failed", RD_SEV_NOTICE,
	  "The MTA could not verify the sender <${sender}>: ${mta_text}.",
	  "Make sure your address accepts mail (the server checks it).",
	  "The sender's domain must accept the verification probe; "
	  "whitelist it or relax the rule." },
	{ "mta.rbl-listed", RD_SEV_NOTICE,
	  "The MTA rejected ${client} because it is on a DNS blacklist: "
	  "${mta_text}.",
	  "Your server's address is blacklisted: remove the cause, then "
	  "request delisting.", "" },
	{ "mta.unknown-domain", RD_SEV_NOTICE,
	  "The MTA rejected the mail because a domain was not found in DNS: "
	  "${mta_text}.",
	  "Check the address for typos.", "Fix the domain's DNS." },
	{ "mta.other", RD_SEV_NOTICE,
	  "The MTA rejected <${rcpt}>: ${dsn} ${mta_text}.",
	  "", "" },
	{ "sender.local-domain-unauthenticated", RD_SEV_WARNING,
	  "${client} sent as <${sender}>, a local domain, without logging in.",
	  "Turn on authentication in your mail program.",
	  "A misconfigured client, or someone spoofing a local address." },
	{ "sender.login-mismatch", RD_SEV_WARNING,
	  "User ${user} sent as <${sender}>, which is not their address.",
	  "Send from your own address.",
	  "Grant the address to the user, or reject such mail." },
	{ "submission.no-auth", RD_SEV_NOTICE,
	  "Mail on submission port ${port} from ${client} without "
	  "authentication.",
	  "Turn on authentication for the outgoing server.",
	  "Require authentication on the submission port." },
	{ "alert.auth-outage", RD_SEV_CRITICAL,
	  "Many senders that used to relay with authentication are now "
	  "refused.", "",
	  "Authentication is broken on this server (an update changed the "
	  "configuration, or the auth database is corrupt)." },
	{ "alert.relay-probe", RD_SEV_WARNING,
	  "${client} makes many unauthorized relay attempts.", "",
	  "Open-relay probing by a spammer; consider blocking it." },
};

#define DIAG_N	(sizeof(diag_catalogue) / sizeof(diag_catalogue[0]))

/*
 * The MTA's reply texts, matched case-insensitively as substrings, first
 * match wins. "relay" marks a relay refusal: its id comes from the relay
 * rules below, not from this table.
 */
static const struct {
	const char	*needle;
	const char	*id;
} diag_mta_texts[] = {
	/*
	 * Postfix smtpd_check.c: "<%s>: Sender address rejected:
	 * undeliverable address: %s" (or "unverified address" when 4xx),
	 * where %s quotes the remote's reply to the probe, which may itself
	 * say "User unknown" or "Relay access denied": match these first.
	 */
	{ "sender address rejected: undeliverable address", "mta.sender-verify-failed" },
	{ "sender address rejected: unverified address", "mta.sender-verify-failed" },
	{ "relay access denied",			"relay" },	/* Postfix */
	{ "relaying denied",				"relay" },	/* Sendmail */
	{ "client host rejected",			"mta.client-rejected" },
	{ "user unknown",				"rcpt.unknown-user" },
	{ "recipient address rejected: access denied",	"mta.recipient-access-denied" },
	{ "sender address verification failed",		"mta.sender-verify-failed" },
	{ "address verification failed",		"mta.sender-verify-failed" },
	{ "blocked using",				"mta.rbl-listed" },
	{ "domain not found",				"mta.unknown-domain" },
};

const char *
rd_severity_name(enum rd_severity s)
{
	static const char *const names[] = { "info", "notice", "warning",
	    "error", "critical" };

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

/* diag_has - case-insensitive substring */
static bool
diag_has(const char *hay, const char *needle)
{
	return (hay != NULL && strcasestr(hay, needle) != NULL);
}

static const char *
diag_var(const struct rd_facts *f, const char *name, size_t n, char *tmp,
    size_t tmplen)
{
#define IS(s)	(n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
	if (IS("client"))
		return (f->client_ip);
	if (IS("client_name"))
		return (f->client_name);
	if (IS("helo"))
		return (f->helo);
	if (IS("port")) {
		if (f->server_port == 0)	/* unknown: reads "unknown" */
			return (NULL);
		snprintf(tmp, tmplen, "%u", f->server_port);
		return (tmp);
	}
	if (IS("user"))
		return (f->auth_user);
	if (IS("sender"))
		return (f->sender);
	if (IS("sender_domain"))
		return (f->sender_domain);
	if (IS("rcpt"))
		return (f->rcpt);
	if (IS("domain"))
		return (f->rcpt_domain);
	if (IS("mta_text"))
		return (f->mta != NULL ? f->mta->text : NULL);
	if (IS("dsn"))
		return (f->mta != NULL ? f->mta->dsn : NULL);
#undef IS
	return (NULL);
}

/*
 * diag_fill - expand ${name} in tpl into out (size len), cut to fit. An
 * unknown or empty value reads "unknown"; an unknown name stays as written.
 */
static void
diag_fill(const char *tpl, const struct rd_facts *f, char *out, size_t len)
{
	size_t	o = 0;
	char	tmp[16];

	while (*tpl != '\0' && o + 1 < len) {
		const char *end, *v;

		if (tpl[0] == '$' && tpl[1] == '{' &&
		    (end = strchr(tpl + 2, '}')) != NULL) {
			v = diag_var(f, tpl + 2, (size_t)(end - tpl - 2), tmp,
			    sizeof(tmp));
			if (v == NULL || *v == '\0')
				v = "unknown";
			while (*v != '\0' && o + 1 < len)
				out[o++] = *v++;
			tpl = end + 1;
		} else
			out[o++] = *tpl++;
	}
	out[o] = '\0';
}

static void
diag_fact(struct rd_diagnosis *d, const char *key, const char *val)
{
	char	*dst;
	size_t	 n;

	if (d->nfacts >= RD_DIAG_FACTS_MAX)
		return;
	dst = d->facts[d->nfacts++];
	n = rd_strlcpy(dst, key, RD_DIAG_FACT_MAX);
	if (n + 1 >= RD_DIAG_FACT_MAX)
		return;
	dst[n++] = '=';
	rd_strlcpy(dst + n, val != NULL && *val != '\0' ? val : "none",
	    RD_DIAG_FACT_MAX - n);
}

/*
 * diag_unauthorized_relay - the most specific id for an external recipient
 * the client was not authorized to relay to. Precedence, most specific
 * first (diagnoses.md): relay.probe > relay.ip-changed > relay.auth-stopped
 * > relay.tls-required-for-auth > relay.client-on-port-25 > relay.no-auth.
 * The history-based ids need correlation across sessions (history.c); the
 * rest are decided on this session's facts.
 */
static const char *
diag_unauthorized_relay(const struct rd_facts *f)
{
	if (f->tls_auth_only && !f->tls)
		return ("relay.tls-required-for-auth");
	if (!f->submission_port &&
	    (f->helo == NULL || !rd_helo_is_fqdn(f->helo)))
		return ("relay.client-on-port-25");
	return ("relay.no-auth");
}

static const char *
diag_pick(const struct rd_facts *f, bool *unauth)
{
	size_t i;

	*unauth = false;
	if (f->mta != NULL && f->mta->verdict != RD_MTA_ACCEPT) {
		for (i = 0; i < sizeof(diag_mta_texts) /
		    sizeof(diag_mta_texts[0]); i++) {
			if (!diag_has(f->mta->text, diag_mta_texts[i].needle))
				continue;
			if (strcmp(diag_mta_texts[i].id, "relay") != 0)
				return (diag_mta_texts[i].id);
			if (f->cls.rclass == RD_CLASS_LOCAL &&
			    f->cls.source == RD_CLASS_BY_CONFIG)
				return ("rcpt.domain-not-accepted");
			*unauth = true;
			return (diag_unauthorized_relay(f));
		}
		return ("mta.other");
	}
	/* Accepted by the MTA (or decided by relaydiag, deployment 2). */
	switch (f->cls.by) {
	case RD_AUTHZ_LOCAL:
		if (f->auth_user == NULL && !f->trusted) {
			if (f->sender_local)
				return ("sender.local-domain-unauthenticated");
			if (f->submission_port)
				return ("submission.no-auth");
		}
		return ("delivery.local");
	case RD_AUTHZ_SASL:
		if (f->auth_user != NULL && strchr(f->auth_user, '@') != NULL &&
		    f->sender != NULL && *f->sender != '\0' &&
		    rd_strcasecmp_ascii(f->auth_user, f->sender) != 0)
			return ("sender.login-mismatch");
		return ("relay.authorized-sasl");
	case RD_AUTHZ_NETWORK:
		return ("relay.authorized-network");
	case RD_AUTHZ_NONE:
		break;
	}
	*unauth = true;
	return (diag_unauthorized_relay(f));
}

void
rd_diagnose_rcpt(const struct rd_facts *f, struct rd_diagnosis *out)
{
	const struct rd_catalogue_entry *e;
	const char *id;
	char port[16];

	memset(out, 0, sizeof(*out));
	id = diag_pick(f, &out->unauthorized_relay);
	if ((e = rd_catalogue_find(id)) == NULL)
		rd_panic("diagnose: id %s is not in the catalogue", id);
	out->entry = e;
	diag_fill(e->summary, f, out->summary, sizeof(out->summary));
	diag_fill(e->remedy_client, f, out->remedy_client,
	    sizeof(out->remedy_client));
	diag_fill(e->remedy_admin, f, out->remedy_admin,
	    sizeof(out->remedy_admin));

	snprintf(port, sizeof(port), "%u", f->server_port);
	diag_fact(out, "port", port);
	diag_fact(out, "submission", f->submission_port ? "yes" : "no");
	diag_fact(out, "helo", f->helo);
	diag_fact(out, "tls", f->tls ? "yes" : "no");
	diag_fact(out, "auth", f->auth_user);
	diag_fact(out, "trusted", f->trusted ? "yes" : "no");
	diag_fact(out, "class", rd_class_name(f->cls.rclass));
	if (f->mta != NULL && f->mta->verdict != RD_MTA_ACCEPT)
		diag_fact(out, "mta", f->mta->text);
}

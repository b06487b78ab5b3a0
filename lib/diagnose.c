/*
 * diagnose.c - the rules that pick a cause of the catalogue (catalogue.c)
 * for a recipient decision, and fill its texts.
 *
 * Owns the table of MTA reply texts, the precedence of the
 * unauthorized-relay ids, and the template filler. Inputs are the facts
 * gathered by session.c; the filled texts are raw (sinks sanitize them).
 * Threads: pure functions of their arguments and of constant tables.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/addr.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/dns.h"
#include "relaydiag/err.h"
#include "relaydiag/restrict.h"
#include "relaydiag/rules.h"
#include "relaydiag/templates.h"
#include "relaydiag/text.h"

static const char *
diag_var(const struct rd_facts *f, const char *name, size_t n, char *tmp,
    size_t tmplen)
{
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
	if (IS("client"))
		return (f->client_ip);
	if (IS("client_name"))
		return (f->client_name);
	if (IS("helo"))
		return (f->helo);
	if (IS("port")) {
		if (f->server_port == 0) /* unknown: reads "unknown" */
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
	if (IS("elsewhere"))
		return (f->elsewhere_ip);
	if (IS("mx"))
		return (f->mx_host);
	if (IS("relay"))
		return (f->relay_host);
	if (IS("remote_check"))
		return (f->remote_check);
	if (IS("failed_user"))
		return (f->failed_user);
	if (IS("listener"))
		return (f->listener != NULL ? f->listener->name : NULL);
	if (IS("relay_check")) {
		(void)rd_restrict_refusal(f->listener != NULL
					      ? f->listener->relay_restrictions
					      : NULL,
		    f->listener != NULL ? f->listener->recipient_restrictions
					: NULL,
		    f->auth_user != NULL ? RD_RESTRICT_SASL
					 : RD_RESTRICT_NETWORK,
		    tmp, tmplen);
		return (tmp);
	}
	if (IS("permitters")) {
		(void)rd_restrict_permitters(
		    f->listener != NULL ? f->listener->relay_restrictions
					: NULL,
		    f->listener != NULL ? f->listener->recipient_restrictions
					: NULL,
		    tmp, tmplen);
		return (tmp);
	}
#undef IS
	return (NULL);
}

/*
 * diag_fill - expand ${name} in tpl into out (size len), cut to fit. An
 * unknown name, or an empty value, reads "unknown".
 */
static void
diag_fill(const char *tpl, const struct rd_facts *f, char *out, size_t len)
{
	size_t o = 0;
	char tmp[RD_DIAG_TEXT_MAX];

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

static void diag_append(char *dst, size_t len, const char *text);

static void
diag_fact(struct rd_diagnosis *d, const char *key, const char *val)
{
	char *dst;
	size_t n;

	if (d->nfacts >= RD_DIAG_FACTS_MAX)
		return;
	dst = d->facts[d->nfacts++];
	n = rd_strlcpy(dst, key, RD_DIAG_FACT_MAX);
	if (n + 1 >= RD_DIAG_FACT_MAX)
		return;
	dst[n++] = '=';
	/* A fact is cut at RD_DIAG_FACT_MAX, as events.md says. */
	(void)rd_strlcpy(dst + n, val != NULL && *val != '\0' ? val : "none",
	    RD_DIAG_FACT_MAX - n);
}

/*
 * The built-in reply rules, for callers that give none (unit tests, tools):
 * built once, read-only afterwards.
 */
static pthread_once_t diag_rules_once = PTHREAD_ONCE_INIT;
static struct rd_rules *diag_rules_builtin;

static void
diag_rules_init(void)
{
	struct rd_err err;

	if ((diag_rules_builtin = rd_rules_new()) == NULL ||
	    rd_rules_add_default(diag_rules_builtin, &err) != 0)
		rd_panic("diagnose: the built-in reply rules do not load");
}

/* diag_rule - the reply-text rule's id for the MTA's text, in context */
static const char *
diag_rule(const struct rd_facts *f)
{
	const struct rd_rules *r = f->rules;
	unsigned have = 0;

	if (r == NULL) {
		pthread_once(&diag_rules_once, diag_rules_init);
		r = diag_rules_builtin;
	}
	have |= f->auth_user != NULL ? RD_RULES_AUTH : 0;
	have |= f->trusted ? RD_RULES_TRUSTED : 0;
	have |= f->tls ? RD_RULES_TLS : 0;
	have |= f->submission_port ? RD_RULES_SUBMISSION : 0;
	have |= f->sasl_required ? RD_RULES_SASL_REQUIRED : 0;
	return (rd_rules_match_when(r, f->mta->text, have));
}

/* diag_ours - the recipient's domain is ours: by the lists, or its MX */
static bool
diag_ours(const struct rd_facts *f)
{
	return ((f->cls.rclass != RD_CLASS_EXTERNAL &&
		    f->cls.source == RD_CLASS_BY_CONFIG) ||
		(f->has_mx && f->mx == RD_MX_HERE));
}

bool
rd_helo_implausible(
    const char *helo, const char *client_ip, const char *our_name)
{
	struct in6_addr a6, c6;
	struct in_addr a4;
	char lit[80];
	size_t n;

	if (helo == NULL || *helo == '\0')
		return (false);
	if (our_name != NULL && *our_name != '\0' &&
	    rd_strcasecmp_ascii(helo, our_name) == 0)
		return (true);
	/* RFC 5321 4.1.3: an address goes in brackets; bare is a bot's habit.
	 */
	if (inet_pton(AF_INET, helo, &a4) == 1)
		return (true);
	n = strlen(helo);
	if (helo[0] != '[' || helo[n - 1] != ']' || n - 2 >= sizeof(lit))
		return (false);
	memcpy(lit, helo + 1, n - 2);
	lit[n - 2] = '\0';
	if (client_ip == NULL)
		return (false);
	if (inet_pton(AF_INET, lit, &a4) == 1) {
		struct in_addr c4;

		if (inet_pton(AF_INET, client_ip, &c4) == 1)
			return (a4.s_addr != c4.s_addr);
		/* An IPv4-mapped client address: compare the IPv4 part. */
		if (inet_pton(AF_INET6, client_ip, &c6) == 1)
			return (memcmp(&c6.s6_addr[12], &a4, 4) != 0);
		return (false);
	}
	if (strncasecmp(lit, "IPv6:", 5) == 0 &&
	    inet_pton(AF_INET6, lit + 5, &a6) == 1 &&
	    inet_pton(AF_INET6, client_ip, &c6) == 1)
		return (memcmp(&a6, &c6, sizeof(a6)) != 0);
	return (false);
}

/*
 * The unauthorized-relay ids, most specific first (diagnoses.md). Each test
 * reads only facts; the first that holds names the cause. The history-based
 * ones need has_history (history.c answered).
 */
static bool
diag_is_probe(const struct rd_facts *f)
{
	/* A lost user has a local sender or an authorized past; a prober not.
	 */
	if (f->sender_local || !f->has_history || f->sender_authorized_ever ||
	    f->client_authorized_ever)
		return (false);
	return (f->client_refused_domains >= f->probe_domains ||
		rd_helo_implausible(f->helo, f->client_ip, f->our_name));
}

static bool
diag_is_ip_changed(const struct rd_facts *f)
{
	return (f->has_history && f->sender_authorized_elsewhere);
}

static bool
diag_is_auth_stopped(const struct rd_facts *f)
{
	return (f->has_history && f->sender_sasl_here);
}

static bool
diag_is_tls_required(const struct rd_facts *f)
{
	return (f->tls_auth_only && !f->tls);
}

/* A HELO nobody logged (a line of the MTA's log) shows no desktop. */
static bool
diag_is_port25_client(const struct rd_facts *f)
{
	return (!f->submission_port && f->helo != NULL &&
		!rd_helo_is_fqdn(f->helo));
}

static bool
diag_is_auth_failed(const struct rd_facts *f)
{
	return (f->auth_failed);
}

static const struct {
	const char *id;
	bool (*holds)(const struct rd_facts *);
} diag_relay_precedence[] = {
    {"relay.auth-failed", diag_is_auth_failed},
    {"relay.probe", diag_is_probe},
    {"relay.ip-changed", diag_is_ip_changed},
    {"relay.auth-stopped", diag_is_auth_stopped},
    {"relay.tls-required-for-auth", diag_is_tls_required},
    {"relay.client-on-port-25", diag_is_port25_client},
};

/* diag_unauthorized_relay - the most specific id for an unauthorized relay */
static const char *
diag_unauthorized_relay(const struct rd_facts *f, bool *unauth)
{
	size_t i;

	/*
	 * Refused, or (as the relay gate) to be refused, whatever the cause:
	 * an MTA that accepted it would relay it onward.
	 */
	*unauth = true;
	/* The domain is ours: the MTA, not the client, is wrong. */
	if (diag_ours(f))
		return ("rcpt.domain-not-accepted");
	for (i = 0; i < sizeof(diag_relay_precedence) /
			    sizeof(diag_relay_precedence[0]);
	     i++)
		if (diag_relay_precedence[i].holds(f))
			return (diag_relay_precedence[i].id);
	return ("relay.no-auth");
}

/*
 * diag_login_mismatch - an authenticated user whose login is an address
 * sends as another one. A login without '@' cannot be compared (the
 * MTA's own login maps could): no verdict.
 */
static bool
diag_login_mismatch(const struct rd_facts *f)
{
	return (f->auth_user != NULL && strchr(f->auth_user, '@') != NULL &&
		f->sender != NULL && *f->sender != '\0' &&
		rd_strcasecmp_ascii(f->auth_user, f->sender) != 0);
}

/*
 * diag_mta_relayed - the MTA accepted an external recipient for a client
 * that relaydiag does not authorize: one of its own rules permitted it.
 * As the relay gate (the MTA accepts everything then), only when a
 * client table of the MTA's that relaydiag read permits the client; and
 * never when the MTA's decision is unknown (no mta: tests, tools).
 */
static bool
diag_mta_relayed(const struct rd_facts *f)
{
	return ((!f->relay_gate || f->mta_permits) && f->mta != NULL &&
		f->mta->verdict == RD_MTA_ACCEPT && f->cls.by == RD_AUTHZ_NONE);
}

bool
rd_diagnose_is_unauthorized_relay(const struct rd_facts *f)
{
	const char *id;

	if (f->cls.rclass != RD_CLASS_EXTERNAL &&
	    f->cls.source == RD_CLASS_BY_CONFIG)
		return (false);
	if (f->mta != NULL && f->mta->verdict != RD_MTA_ACCEPT) {
		/* A refused login or trusted client: no user to refine. */
		if (f->auth_user != NULL || f->trusted)
			return (false);
		id = diag_rule(f);
		return (id != NULL && strcmp(id, "relay") == 0);
	}
	return (f->cls.by == RD_AUTHZ_NONE && !diag_mta_relayed(f));
}

/*
 * diag_refused_relay - the MTA refused to relay: the domain is ours (the
 * MTA is wrong), the client was authorized (its restrictions are wrong),
 * or the client was not (one of the unauthorized-relay ids)
 */
static const char *
diag_refused_relay(const struct rd_facts *f, bool *unauth)
{
	if (diag_ours(f)) {
		*unauth = true; /* what a relay gate must refuse */
		return ("rcpt.domain-not-accepted");
	}
	if (f->auth_user != NULL)
		return ("relay.authenticated-refused");
	if (f->trusted)
		return ("relay.network-refused");
	return (diag_unauthorized_relay(f, unauth));
}

static const char *
diag_pick(const struct rd_facts *f, bool *unauth)
{
	const char *id;

	*unauth = false;
	if (f->mta != NULL && f->mta->verdict != RD_MTA_ACCEPT) {
		if ((id = diag_rule(f)) == NULL)
			return ("mta.other");
		if (strcmp(id, "relay") == 0)
			return (diag_refused_relay(f, unauth));
		return (id);
	}
	/* Accepted by the MTA (or decided by relaydiag, deployment 2). */
	switch (f->cls.by) {
	case RD_AUTHZ_LOCAL:
		if (diag_login_mismatch(f))
			return ("sender.login-mismatch");
		if (f->auth_user == NULL && !f->trusted) {
			if (f->sender_local)
				return ("sender.local-domain-unauthenticated");
			if (f->submission_port)
				return ("submission.no-auth");
		}
		if (f->cls.rclass == RD_CLASS_LOCAL && f->has_mx &&
		    f->mx == RD_MX_ELSEWHERE)
			return ("rcpt.mx-elsewhere");
		return ("delivery.local");
	case RD_AUTHZ_SASL:
		if (diag_login_mismatch(f))
			return ("sender.login-mismatch");
		return ("relay.authorized-sasl");
	case RD_AUTHZ_NETWORK:
		return ("relay.authorized-network");
	case RD_AUTHZ_NONE:
		break;
	}
	if (diag_mta_relayed(f))
		return ("relay.authorized-mta");
	return (diag_unauthorized_relay(f, unauth));
}

int
rd_diagnose_fill(
    const char *id, const struct rd_facts *f, struct rd_diagnosis *out)
{
	const struct rd_catalogue_entry *e;
	const struct rd_template *t;
	char port[16];

	memset(out, 0, sizeof(*out));
	if ((e = rd_catalogue_find(id)) == NULL)
		return (-1);
	out->entry = e;
	t = rd_templates_find(f->templates, e->id);
	diag_fill(t != NULL && t->summary != NULL ? t->summary : e->summary, f,
	    out->summary, sizeof(out->summary));
	diag_fill(t != NULL && t->remedy_client != NULL ? t->remedy_client
							: e->remedy_client,
	    f, out->remedy_client, sizeof(out->remedy_client));
	diag_fill(t != NULL && t->remedy_admin != NULL ? t->remedy_admin
						       : e->remedy_admin,
	    f, out->remedy_admin, sizeof(out->remedy_admin));

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
	if (f->has_mx)
		diag_fact(
		    out, "mx", rd_mx_answer_name((enum rd_mx_answer)f->mx));
	if (f->has_history && strcmp(e->id, "relay.ip-changed") == 0)
		diag_fact(out, "authorized_from", f->elsewhere_ip);
	if (f->has_history && strcmp(e->id, "relay.probe") == 0) {
		snprintf(port, sizeof(port), "%u", f->client_refused_domains);
		diag_fact(out, "refused_domains", port);
	}
	if (f->listener != NULL)
		diag_fact(out, "listener", f->listener->name);
	if (f->mta != NULL && f->mta->verdict == RD_MTA_TEMPFAIL &&
	    (e->claims & RD_CAT_ON_REFUSAL) != 0) {
		/* A soft refusal keeps its cause; say why it is soft. */
		diag_fact(out, "verdict", "tempfail");
		diag_append(out->remedy_admin, sizeof(out->remedy_admin),
		    " The refusal was temporary (4xx) only because "
		    "soft_bounce = yes or a defer_* restriction "
		    "(defer_unauth_destination) is set on the refusing "
		    "server: the sender retries until the message expires.");
	}
	return (0);
}

/* diag_append - text after dst's end, cut to fit */
static void
diag_append(char *dst, size_t len, const char *text)
{
	size_t n = strlen(dst);

	/* The sentence is ours; a long filled remedy may cut it. */
	if (n + 1 < len)
		(void)rd_strlcpy(dst + n, n == 0 ? text + 1 : text, len - n);
}

bool
rd_diagnose_refused(const struct rd_facts *f, const struct rd_diagnosis *d)
{
	return ((f->mta != NULL && f->mta->verdict != RD_MTA_ACCEPT) ||
		d->unauthorized_relay);
}

bool
rd_diagnose_truthful(const struct rd_facts *f, const struct rd_diagnosis *d,
    char *why, size_t len)
{
	unsigned c = d->entry->claims;
	bool refused = rd_diagnose_refused(f, d);

	if (refused && (c & RD_CAT_ON_ACCEPT) != 0)
		snprintf(why, len, "%s on a refused recipient", d->entry->id);
	else if (!refused && (c & RD_CAT_ON_REFUSAL) != 0)
		snprintf(why, len, "%s on an accepted recipient", d->entry->id);
	else if (f->auth_user != NULL && (c & RD_CAT_NO_LOGIN) != 0)
		snprintf(
		    why, len, "%s for a client that logged in", d->entry->id);
	else
		return (true);
	return (false);
}

void
rd_diagnose_rcpt(const struct rd_facts *f, struct rd_diagnosis *out)
{
	const char *id;
	bool unauth;

	id = diag_pick(f, &unauth);
	if (rd_diagnose_fill(id, f, out) != 0)
		rd_panic("diagnose: id %s is not in the catalogue", id);
	out->unauthorized_relay = unauth;
}

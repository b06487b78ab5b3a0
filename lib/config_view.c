/*
 * config_view.c - the effective view of the MTA that a configuration
 * holds, as text for "relaydiag -n -v" (config.h, rd_config_view_text):
 * what ImportPostfix took and what it could not use, the way postconf -n
 * and postconf -M show Postfix's own.
 */
#include <stdio.h>
#include <string.h>

#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/listener.h"

/* view_text - s with control bytes as '?' (the files may hold any) */
static void
view_text(struct rd_buf *b, const char *s)
{
	for (; *s != '\0'; s++)
		rd_buf_addc(
		    b, (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

static void
view_list(struct rd_buf *b, const char *name, const char *value)
{
	rd_buf_printf(b, "    %s = ", name);
	if (value == NULL)
		rd_buf_adds(b, "(not known: describe it with ImportPostfix)");
	else
		view_text(b, value);
	rd_buf_addc(b, '\n');
}

static const char *
view_yes(bool v)
{
	return (v ? "yes" : "no");
}

void
rd_config_view_text(const struct rd_config *cfg, struct rd_buf *b)
{
	const struct rd_listener *l;
	size_t i;

	rd_buf_adds(b, "LocalDomains = ");
	rd_domainset_text(cfg->local_domains, b);
	rd_buf_adds(b, "\nRelayDomains = ");
	rd_domainset_text(cfg->relay_domains, b);
	rd_buf_adds(b, "\nTrustedNetworks = ");
	rd_netset_text(cfg->trusted_networks, b);
	rd_buf_printf(b, "\nTLSAuthOnly = %s\nSubmissionPorts =",
	    view_yes(cfg->tls_auth_only));
	for (i = 0; i < cfg->n_submission_ports; i++)
		rd_buf_printf(b, " %u", cfg->submission_ports[i]);
	rd_buf_printf(b, "\nRelayGate = %s\n", view_yes(cfg->relay_gate));
	rd_buf_adds(b, "# forged ");
	view_text(b, cfg->header_name);
	rd_buf_printf(b, " headers removed by %s (",
	    cfg->strip_forged_headers ? "relaydiag" : "the MTA");
	view_text(b, cfg->strip_forged_why);
	rd_buf_adds(b, ")\n");
	if (cfg->n_listeners == 0)
		rd_buf_adds(b, "# no listeners: every session is judged by "
			       "the keys above\n");
	for (i = 0; i < cfg->n_listeners; i++) {
		l = &cfg->listeners[i];
		rd_buf_adds(b, "Listener ");
		view_text(b, l->name);
		rd_buf_printf(b,
		    " (%s): port=%u address=%s submission=%s "
		    "tls_auth_only=%s sasl=%s tls_required=%s "
		    "sasl_required=%s\n",
		    l->imported ? "master.cf" : "Listener line", l->port,
		    l->addr[0] != '\0' ? l->addr : "any",
		    view_yes(l->submission), view_yes(l->tls_auth_only),
		    view_yes(l->sasl_enabled), view_yes(l->tls_required),
		    view_yes(l->sasl_required));
		if (l->mynetworks != NULL) {
			rd_buf_adds(b, "    mynetworks = ");
			rd_netset_text(l->mynetworks, b);
			rd_buf_addc(b, '\n');
		}
		if (l->client_permits != NULL) {
			rd_buf_adds(b, "    clients its check_client_access "
				       "tables permit = ");
			rd_netset_text(l->client_permits, b);
			rd_buf_addc(b, '\n');
		}
		view_list(
		    b, "smtpd_client_restrictions", l->client_restrictions);
		view_list(b, "smtpd_relay_restrictions", l->relay_restrictions);
		view_list(b, "smtpd_recipient_restrictions",
		    l->recipient_restrictions);
	}
	for (i = 0; i < cfg->n_warnings; i++) {
		rd_buf_adds(b, "warning: ");
		view_text(b, cfg->warnings[i]);
		rd_buf_addc(b, '\n');
	}
}

/*
 * mtaview.h - relaydiag's view of the MTA, as ImportPostfix reads it from
 * Postfix (postconf.c): the domains it delivers and relays, the networks
 * it trusts, whether AUTH needs TLS, its host name, and each smtpd
 * listener of master.cf with its effective settings (main.cf's, overridden
 * by its -o options). config.c merges a
 * view into a configuration (rd_config_merge_view, config.h).
 * Owns struct rd_mta_view; its sets and warnings are its own until freed.
 * Threads: configuration time only.
 */
#ifndef RELAYDIAG_MTAVIEW_H
#define RELAYDIAG_MTAVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/domainset.h"
#include "relaydiag/listener.h"
#include "relaydiag/netset.h"

#define RD_MTA_LISTENERS_MAX 64
#define RD_MTA_WARNINGS_MAX 32
#define RD_MTA_HC_MAX 8

struct rd_mta_view {
	struct rd_domainset *local_domains; /* mydestination, virtual_* */
	struct rd_domainset *relay_domains; /* relay_domains */
	struct rd_netset *trusted;          /* mynetworks; NULL: not given */
	int tls_auth_only;    /* smtpd_tls_auth_only; -1: not given */
	char myhostname[256]; /* "": not given */
	char relayhost[256];  /* relayhost's host, no [] nor :port; "": none */
	/* master.cf's smtpd listeners, main.cf's values overridden by their
	   -o options (listener.h); the lists and sets are the view's until
	   rd_config_merge_view takes them. */
	struct rd_listener listeners[RD_MTA_LISTENERS_MAX];
	size_t nlisteners;
	/* header_checks as cleanup(8) applies them to the mail of the smtpd
	   listeners that have milters: each distinct value (a list of
	   tables), or in hc_off why some of that mail escapes them ("": it
	   does not; with no value and no reason, no listener has milters).
	   postconf_probe.c asks those tables about relaydiag's header. */
	char *hc_maps[RD_MTA_HC_MAX];
	size_t n_hc_maps;
	char hc_off[256];
	char *warnings[RD_MTA_WARNINGS_MAX]; /* what could not be used */
	size_t nwarnings;
	size_t dropped; /* warnings beyond RD_MTA_WARNINGS_MAX */
};

/* rd_mta_view_init - an empty view; 0, or -1 when out of memory */
int rd_mta_view_init(struct rd_mta_view *v);

/* rd_mta_view_free - free what the view holds (not v itself) */
void rd_mta_view_free(struct rd_mta_view *v);

#endif

/*
 * mtaview.h - relaydiag's view of the MTA, as ImportPostfix reads it from
 * Postfix (postconf.c): the domains it delivers and relays, the networks
 * it trusts, whether AUTH needs TLS, its host name, and each smtpd
 * listener of master.cf with what its -o overrides say. config.c merges a
 * view into a configuration (rd_config_merge_view, config.h).
 * Owns struct rd_mta_view; its sets and warnings are its own until freed.
 * Threads: configuration time only.
 */
#ifndef RELAYDIAG_MTAVIEW_H
#define RELAYDIAG_MTAVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/domainset.h"
#include "relaydiag/netset.h"

#define RD_MTA_LISTENERS_MAX 64
#define RD_MTA_WARNINGS_MAX 32

/* One smtpd listener of master.cf (an "inet" service running smtpd). */
struct rd_mta_listener {
	char name[256];  /* the service: "submission", "127.0.0.1:2587" */
	unsigned port;   /* its TCP port; 0: not a known one */
	bool sasl;       /* -o smtpd_sasl_auth_enable=yes */
	bool encrypt;    /* -o smtpd_tls_security_level=encrypt */
	bool wrapper;    /* -o smtpd_tls_wrappermode=yes */
	bool submission; /* named submission(s), or SASL with TLS required */
};

struct rd_mta_view {
	struct rd_domainset *local_domains; /* mydestination, virtual_* */
	struct rd_domainset *relay_domains; /* relay_domains */
	struct rd_netset *trusted;          /* mynetworks; NULL: not given */
	int tls_auth_only;    /* smtpd_tls_auth_only; -1: not given */
	char myhostname[256]; /* "": not given */
	struct rd_mta_listener listeners[RD_MTA_LISTENERS_MAX];
	size_t nlisteners;
	char *warnings[RD_MTA_WARNINGS_MAX]; /* what could not be used */
	size_t nwarnings;
	size_t dropped; /* warnings beyond RD_MTA_WARNINGS_MAX */
};

/* rd_mta_view_init - an empty view; 0, or -1 when out of memory */
int rd_mta_view_init(struct rd_mta_view *v);

/* rd_mta_view_free - free what the view holds (not v itself) */
void rd_mta_view_free(struct rd_mta_view *v);

#endif

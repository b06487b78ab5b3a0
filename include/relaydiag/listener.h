/*
 * listener.h - one SMTP listener of the MTA (a master.cf smtpd service, or
 * a Listener line of relaydiag.conf) with its effective settings: what a
 * session that came in on it is judged by.
 *
 * Postfix's master.cf gives each smtpd its own -o overrides, so that TLS
 * before AUTH, the trusted networks, the submission role and the
 * restriction lists differ per listener. ImportPostfix fills one struct per
 * listener with main.cf's values overridden by its -o options; a
 * hand-kept configuration says the same with Listener lines. A session
 * finds its listener by {daemon_addr} and {daemon_port} at CONNECT.
 * Owns struct rd_listener and the Listener line's grammar.
 * Threads: built at configuration time; read-only afterwards.
 */
#ifndef RELAYDIAG_LISTENER_H
#define RELAYDIAG_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/err.h"
#include "relaydiag/netset.h"

struct rd_listener {
	char name[256];     /* "smtp", "submission", "127.0.0.1:2587" */
	char addr[64];      /* the address part of name; "": every address */
	unsigned port;      /* its TCP port; 0: unknown (never matches) */
	bool imported;      /* from ImportPostfix (else a Listener line) */
	bool submission;    /* named so, or TLS and SASL required */
	bool tls_auth_only; /* smtpd_tls_auth_only */
	bool sasl_enabled;  /* smtpd_sasl_auth_enable */
	bool tls_required;  /* smtpd_tls_security_level=encrypt, wrappermode */
	bool sasl_required; /* a restriction list lets only logins through */
	/* Effective lists, owned; NULL: not known (a Listener line). */
	char *relay_restrictions;
	char *recipient_restrictions;
	char *client_restrictions;
	char *mynetworks_text; /* -o mynetworks, as written; NULL: main.cf's */
	struct rd_netset *mynetworks; /* its set; NULL: TrustedNetworks */
	/*
	 * The clients that check_client_access tables standing before the
	 * relay check permit (OK, or an all-numerical value as
	 * POP-before-SMTP daemons write), read by ImportPostfix from the
	 * tables it can expand; NULL: none. RelayGate lets them relay, as
	 * Postfix does.
	 */
	struct rd_netset *client_permits;
};

/* rd_listener_clear - free what l holds, and zero it */
void rd_listener_clear(struct rd_listener *l);

/*
 * rd_listener_set_name - name ("smtp", "127.0.0.1:2525", "[::1]:587",
 * "2587") into l->name, l->addr and l->port (services by name through
 * getservbyname). -1 with err when the name is too long; an unknown
 * service leaves port 0.
 */
int rd_listener_set_name(
    struct rd_listener *l, const char *name, struct rd_err *err);

/*
 * rd_listener_parse - a Listener line's value: "<[addr:]port or service>
 * option ...", options submission, tls-auth-only, sasl-required, each
 * with "no-" before it for the opposite. Into l (cleared first). -1 with
 * err naming the bad word.
 */
int rd_listener_parse(
    struct rd_listener *l, const char *value, struct rd_err *err);

/*
 * rd_listener_find - the listener of v (n of them) that a connection to
 * addr (may be NULL or "") and port came in on: an exact address match
 * beats a listener on every address; the first of equals wins. NULL when
 * none matches (port 0 never matches).
 */
const struct rd_listener *rd_listener_find(
    const struct rd_listener *v, size_t n, const char *addr, unsigned port);

#endif

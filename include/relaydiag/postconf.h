/*
 * postconf.h - ImportPostfix: relaydiag's view of the MTA taken from
 * Postfix's own configuration (postconf), so that it matches without
 * copying by hand.
 *
 * Reads mydestination, virtual_mailbox_domains, virtual_alias_domains,
 * relay_domains, mynetworks, smtpd_tls_auth_only, myhostname,
 * smtpd_sasl_auth_enable, smtpd_tls_security_level, smtpd_tls_wrappermode,
 * the client, relay and recipient restrictions, and every master.cf smtpd
 * listener with those settings overridden by its -o options (listener.h;
 * submission: named submission(s)/smtps, or SASL with TLS required, or
 * restrictions that let only logins through). Values
 * postconf cannot expand (lookup tables such as hash:/etc/postfix/x or
 * mysql:...) are reported as warnings, not ignored silently.
 * Threads: configuration time only (runs a process).
 */
#ifndef RELAYDIAG_POSTCONF_H
#define RELAYDIAG_POSTCONF_H

#include "relaydiag/err.h"
#include "relaydiag/mtaview.h"

/*
 * rd_postconf_view - Postfix's view, as postconf prints it, into v (which
 * this initializes; free it with rd_mta_view_free in any case).
 * config_dir: the Postfix configuration directory, or NULL for postconf's
 * default. postconf_bin: the program (NULL = "postconf" from PATH).
 * Returns 0 (what could not be used is in v->warnings), or -1 with err
 * when postconf cannot run or fails. config.c merges the view
 * (rd_config_import_postfix, rd_config_merge_view).
 */
int rd_postconf_view(struct rd_mta_view *v, const char *config_dir,
    const char *postconf_bin, struct rd_err *err);

/* What postconf printed: each NUL-terminated, changed in place; NULL = "". */
struct rd_postconf_text {
	char *expanded; /* postconf -x NAME...: name = value lines */
	char *warnings; /* its stderr (undefined $name warnings) */
	char *raw;      /* postconf NAME... unexpanded; NULL: none */
	char *master;   /* postconf -M */
	char *services; /* postconf -P -x */
};

/*
 * rd_postconf_view_text - the text half of rd_postconf_view: what postconf
 * printed into v (initialized here), running nothing. 0, or -1 with err
 * (out of memory). For the fuzz target and the tests of the parser.
 */
int rd_postconf_view_text(
    struct rd_mta_view *v, struct rd_postconf_text *t, struct rd_err *err);

/*
 * rd_postconf_header_probe - whether Postfix's header_checks remove every
 * copy of header_name a client may send, on all the mail relaydiag sees
 * (v from rd_postconf_view: hc_maps, hc_off), asked with postmap -q
 * (postmap_bin; NULL = "postmap" from PATH) as cleanup(8) would. 1: they
 * do; 0: they do not, or it cannot tell. why says which tables, or why
 * not, for the log and "relaydiag -n -v". Runs processes.
 */
int rd_postconf_header_probe(const struct rd_mta_view *v,
    const char *header_name, const char *config_dir, const char *postmap_bin,
    char *why, size_t whylen);

#endif

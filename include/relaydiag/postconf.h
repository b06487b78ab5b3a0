/*
 * postconf.h - ImportPostfix: relaydiag's view of the MTA taken from
 * Postfix's own configuration (postconf), so that it matches without
 * copying by hand.
 *
 * Reads mydestination, virtual_mailbox_domains, virtual_alias_domains,
 * relay_domains, mynetworks, smtpd_tls_auth_only, myhostname and the
 * master.cf smtpd listeners (submission ports: services named submission
 * or submissions, or with smtpd_sasl_auth_enable=yes and
 * smtpd_tls_security_level=encrypt / smtpd_tls_wrappermode=yes). Values
 * postconf cannot expand (lookup tables such as hash:/etc/postfix/x or
 * mysql:...) are reported as warnings, not ignored silently.
 * Threads: configuration time only (runs a process).
 */
#ifndef RELAYDIAG_POSTCONF_H
#define RELAYDIAG_POSTCONF_H

#include "relaydiag/config.h"

/*
 * rd_postconf_import - merge Postfix's view into cfg. config_dir: the
 * Postfix configuration directory, or NULL for postconf's default.
 * postconf_bin: the program (NULL = "postconf" from PATH). Returns 0 (cfg
 * updated, warnings appended to cfg->warnings), or -1 with err when
 * postconf cannot run or fails.
 */
int	rd_postconf_import(struct rd_config *cfg, const char *config_dir,
	    const char *postconf_bin, struct rd_err *err);

#endif

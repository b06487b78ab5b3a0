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
int rd_postconf_import(struct rd_config *cfg, const char *config_dir,
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
 * rd_postconf_merge - the text half of rd_postconf_import: merge what
 * postconf printed into cfg, running nothing. 0, or -1 with err (out of
 * memory). For the fuzz target and the tests of the parser.
 */
int rd_postconf_merge(
    struct rd_config *cfg, struct rd_postconf_text *t, struct rd_err *err);

#endif

/*
 * addr.h - SMTP paths as MTAs pass them to a milter (RFC 5321 4.1.2).
 *
 * Accepts "<local@domain>", "local@domain" (no brackets), "<>" (the null
 * sender), quoted local parts ("\"a b\"@x.test"), source routes
 * ("<@a.test,@b.test:u@c.test>", route dropped), address literals
 * ("u@[192.0.2.1]", "u@[IPv6:2001:db8::1]"), a trailing dot on the domain
 * (dropped). The domain is folded to lower case; the local part is kept as
 * given (its case matters to the receiving system, RFC 5321 2.4).
 * Over-long (RFC 5321 4.5.3.1: local 64, domain 255, path 256 octets) or
 * malformed input returns -1 with a reason; never a crash.
 * Threads: pure. Memory: results are copied into the caller's struct.
 */
#ifndef RELAYDIAG_ADDR_H
#define RELAYDIAG_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "relaydiag/err.h"

#define RD_ADDR_LOCAL_MAX 64
#define RD_ADDR_DOMAIN_MAX 255
#define RD_ADDR_PATH_MAX 256

struct rd_addr {
	bool is_null;                        /* "<>" */
	bool is_literal;                     /* domain is [address literal] */
	bool has_domain;                     /* false for "postmaster" alone */
	char local[RD_ADDR_LOCAL_MAX + 3];   /* as given, quotes kept */
	char domain[RD_ADDR_DOMAIN_MAX + 1]; /* lower case, no trailing dot */
	char addr[RD_ADDR_PATH_MAX + 3];     /* local@domain, no brackets */
};

/*
 * rd_addr_parse - parse one SMTP path (MAIL FROM or RCPT TO argument, as
 * in argv[0] of the milter callback) into out. Returns 0, or -1 with err set
 * (err->source "<address>"). out is zeroed first.
 */
int rd_addr_parse(const char *in, struct rd_addr *out, struct rd_err *err);

/* rd_domain_valid - whether d is a syntactically valid DNS domain name */
bool rd_domain_valid(const char *d);

/*
 * rd_domain_alabel - d[0..len), a domain with 8-bit bytes (U-labels, as
 * SMTPUTF8 sends them), as A-labels ("xn--..."): IDNA 2008, NFC, with
 * libidn2. NULL with out[] filled (lower case), or why it is no valid
 * internationalized domain.
 */
const char *rd_domain_alabel(
    const char *d, size_t len, char *out, size_t outlen);

/*
 * rd_helo_is_fqdn - whether a HELO/EHLO argument is a fully-qualified domain
 * name (at least one dot, valid labels, a non-numeric top label) or an
 * address literal. "UserPC", "DESKTOP-4F2K", "localhost" are not.
 */
bool rd_helo_is_fqdn(const char *helo);

#endif

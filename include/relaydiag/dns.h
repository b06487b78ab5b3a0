/*
 * dns.h - the MX check: does a domain's MX point to this server?
 *
 * A resolver library (libunbound) with a cache and a hard deadline: a
 * lookup never holds a session longer than timeout_ms; a late answer is
 * cached for the next session. Tests give the resolver their own data with
 * an unbound configuration file (local-zone / local-data), offline.
 * Threads: rd_dns_mx is safe from any thread (one shared resolver; see
 * dns.c). libunbound runs a thread of its own from rd_dns_new on: create
 * the resolver after any fork()/daemon().
 */
#ifndef RELAYDIAG_DNS_H
#define RELAYDIAG_DNS_H

#include <stdbool.h>

#include "relaydiag/domainset.h"
#include "relaydiag/err.h"

enum rd_mx_answer {
	RD_MX_HERE = 0,  /* an MX host is one of our names */
	RD_MX_ELSEWHERE, /* MX records exist, none of them ours */
	RD_MX_NONE,      /* no MX records (NXDOMAIN or NODATA) */
	RD_MX_UNKNOWN,   /* timeout, SERVFAIL, resolver error */
};

struct rd_dns_params {
	const char *config_file; /* unbound.conf; NULL = system resolver
				    (resolv.conf) */
	unsigned timeout_ms;     /* hard deadline per lookup */
	const struct rd_domainset
	    *our_names; /* MX host names that are this server;
			   borrowed: must outlive the resolver */
};

/*
 * rd_dns_new - a resolver; NULL with err (source = config_file or
 * /etc/resolv.conf) when libunbound refuses the configuration.
 */
struct rd_dns *rd_dns_new(const struct rd_dns_params *p, struct rd_err *err);
void rd_dns_free(struct rd_dns *d); /* NULL: no-op */

/*
 * rd_dns_mx - where the MX of domain points, within timeout_ms. mx_out
 * (may be NULL) gets the host, lower case without the trailing dot: the
 * first of ours (HERE), else the most preferred (ELSEWHERE); "." for a
 * null MX, "" otherwise. A name that is not a valid domain: UNKNOWN.
 */
enum rd_mx_answer rd_dns_mx(
    struct rd_dns *d, const char *domain, char *mx_out, size_t mx_len);

/*
 * rd_dns_mx_has - as rd_dns_mx, but HERE means that host (a name, or an
 * address as the log wrote it) is one of domain's MX hosts: whether the
 * server that refused a delivery is the domain's MX. Compared as text,
 * case-insensitive: an MX host given by name is not resolved.
 */
enum rd_mx_answer rd_dns_mx_has(struct rd_dns *d, const char *domain,
    const char *host, char *mx_out, size_t mx_len);

const char *rd_mx_answer_name(enum rd_mx_answer a); /* "here" ... */

#endif

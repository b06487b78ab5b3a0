/*
 * history.h - what happened recently, across sessions and across MTAs:
 * authorized relays per sender, SASL logins per sender and client, refused
 * relay attempts per client; and the alerts they add up to.
 *
 * The shared store is Redis (keys with TTLs, so every MTA reporting to the
 * same Redis sees the others' history); a bounded in-process cache keeps
 * the diagnoses working on one host while Redis is unreachable, and answers
 * at once when Redis is slow (every Redis call has a deadline). Redis
 * failures are logged by state change through params->log, never per call.
 * Threads: every function is safe from any thread (session threads call
 * it); it never blocks longer than timeout_ms per call.
 */
#ifndef RELAYDIAG_HISTORY_H
#define RELAYDIAG_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "relaydiag/err.h"

/* Zero or NULL in a member means its default: timeout 50 ms, windows
   86400/600/900 s, 5 senders, 20 attempts, 10000 entries (at least 16). */
struct rd_history_params {
	const char	*redis_url;	/* NULL: the local cache only */
	const char	*key_prefix;	/* default "relaydiag:h:" */
	unsigned	 timeout_ms;	/* per Redis call; default 50 */
	unsigned	 history_window;	/* s: authorized relays, logins */
	unsigned	 probe_window;		/* s: refused attempts per client */
	unsigned	 outage_window;		/* s: the auth-outage alert */
	unsigned	 outage_senders;	/* distinct senders for the alert */
	unsigned	 alert_probe_attempts;	/* refusals per client for the alert */
	unsigned	 cache_size;	/* local entries at most */
	void		(*log)(int prio, const char *msg);	/* may be NULL;
			   called from session threads, no lock held */
};

/* What the history says about one refused (unauthorized) recipient. */
struct rd_history_facts {
	bool	 sender_authorized_elsewhere;	/* sender relayed, authorized, from another client address */
	char	 elsewhere_ip[64];		/* that address */
	bool	 sender_sasl_here;		/* sender logged in (SASL) from this client address */
	bool	 sender_authorized_ever;	/* any authorized relay by this sender in the window */
	bool	 client_authorized_ever;	/* any authorized relay from this client address */
	unsigned client_refused_domains;	/* distinct refused rcpt domains of this client, this one included */
	unsigned client_refused_attempts;	/* refused recipients of this client, this one included */
	bool	 from_redis;			/* false: answered from the local cache */
};

/* Alerts the last refusal completed (each raised once per window). */
struct rd_history_alerts {
	bool	 auth_outage;
	unsigned outage_senders;		/* distinct senders counted */
	char	 outage_sample[5][256];		/* some of them */
	unsigned outage_nsample;
	bool	 relay_probe;
	unsigned probe_attempts;		/* refusals from the client counted */
};

struct rd_history *rd_history_new(const struct rd_history_params *p,
	    struct rd_err *err);
void	rd_history_free(struct rd_history *h);		/* NULL: no-op */

/*
 * rd_history_note_authorized - a relay by sender from client_ip was
 * authorized (sasl: by SMTP AUTH; else by trusted network). Also records
 * the login of a SASL user at this address.
 */
void	rd_history_note_authorized(struct rd_history *h, const char *sender,
	    const char *client_ip, bool sasl, time_t now);

/*
 * rd_history_refused - an unauthorized relay from client_ip by sender to
 * rcpt_domain: answer what the history knew before it (facts), then record
 * it, and say which alerts it completed. sender may be "" (null sender).
 */
void	rd_history_refused(struct rd_history *h, const char *sender,
	    const char *client_ip, const char *rcpt_domain, time_t now,
	    struct rd_history_facts *facts, struct rd_history_alerts *alerts);

/* rd_history_redis_up - whether the last Redis call succeeded */
bool	rd_history_redis_up(struct rd_history *h);

/* rd_history_cache_entries - local cache entries in use (keys + members) */
size_t	rd_history_cache_entries(struct rd_history *h);

#endif

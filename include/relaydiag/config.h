/*
 * config.h - the configuration: an opendkim-style "Key value" file turned
 * into an immutable struct rd_config.
 *
 * File syntax: one "Key value" per line; keys are case-insensitive; '#'
 * starts a comment (at line start or after white space); blank lines are
 * ignored; values run to the end of the line with surrounding white space
 * trimmed. List values are separated by commas and/or white space; a list
 * entry "file:/path" reads more entries from that file (one or more per
 * line, '#' comments). List keys may be repeated (entries accumulate); a
 * scalar key given twice is an error. Every error names file:line: an unknown
 * key (with a suggestion when one is close), a bad value, a missing or
 * unreadable file.
 *
 * Threads: rd_config_load runs in one thread; the result is read-only and
 * shared. The daemon swaps whole snapshots on reload (refs counts the
 * sessions holding one); nothing edits a live config.
 */
#ifndef RELAYDIAG_CONFIG_H
#define RELAYDIAG_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/netset.h"

enum rd_mode {
	RD_MODE_OBSERVE = 0,	/* never changes mail */
	RD_MODE_ANNOTATE,	/* observe + diagnostic header */
	RD_MODE_ENFORCE,	/* annotate + rejects */
};

#define RD_CONFIG_PORTS_MAX	32

struct rd_config {
	char	*path;			/* the file it came from (or NULL) */

	/* daemon */
	char	*socket;		/* Socket: "unix:/p", "local:/p", "inet:port@host", "inet6:..." */
	mode_t	 socket_mode;		/* SocketMode: octal, default 0660 */
	char	*user_id;		/* UserID: "user" or "user:group"; NULL = none */
	char	*pid_file;		/* PidFile; NULL = none */
	int	 log_level;		/* LogLevel: syslog priority (LOG_ERR .. LOG_DEBUG) */
	int	 syslog_facility;	/* SyslogFacility: LOG_MAIL default */
	char	*host_name;		/* HostName: for events; default gethostname() */
	bool	 host_name_set;		/* HostName given: it beats the MTA's {j} */

	/* what relaydiag does */
	enum rd_mode mode;		/* Mode: observe|annotate|enforce */
	char	*header_name;		/* HeaderName: default "X-Relay-Diagnostic" */

	/* the MTA's view of the world */
	struct rd_domainset *local_domains;	/* LocalDomains */
	struct rd_domainset *relay_domains;	/* RelayDomains */
	struct rd_netset *trusted_networks;	/* TrustedNetworks: default 127.0.0.0/8 [::1]/128 */
	unsigned short submission_ports[RD_CONFIG_PORTS_MAX];	/* SubmissionPorts: default 587 465 */
	size_t	 n_submission_ports;
	bool	 tls_auth_only;		/* TLSAuthOnly: AUTH offered only after STARTTLS */

	/* events */
	char	*redis_url;		/* RedisURL: NULL = no Redis */
	char	*redis_stream;		/* RedisStream: default "relaydiag:events" */
	char	*spool_dir;		/* SpoolDir: default "/var/spool/relaydiag" */
	char	*event_log;		/* EventLog: path, "-" = stdout; NULL = default */

	atomic_int refs;		/* snapshot holders; see the daemon */
};

/*
 * rd_config_defaults - a configuration with every default and no file.
 * NULL only when out of memory.
 */
struct rd_config *rd_config_defaults(void);

/*
 * rd_config_load - read path into a new configuration (defaults for what
 * the file does not set). NULL with err (source = the file, line = the
 * offending line, 0 for the file as a whole) on the first error.
 */
struct rd_config *rd_config_load(const char *path, struct rd_err *err);

void	rd_config_free(struct rd_config *cfg);		/* NULL: no-op */

/* rd_config_is_submission_port - whether port is one of SubmissionPorts */
bool	rd_config_is_submission_port(const struct rd_config *cfg,
	    unsigned port);

/* rd_mode_name - "observe", "annotate", "enforce" */
const char *rd_mode_name(enum rd_mode mode);

#endif

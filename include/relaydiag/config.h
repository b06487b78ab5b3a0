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
#include "relaydiag/listener.h"
#include "relaydiag/netset.h"
#include "relaydiag/restart.h"
#include "relaydiag/spool.h"

struct rd_rules;
struct rd_templates;

enum rd_mode {
	RD_MODE_OBSERVE = 0, /* never changes mail */
	RD_MODE_ANNOTATE,    /* observe + diagnostic header */
	RD_MODE_ENFORCE,     /* annotate + rejects */
};

/* StripForgedHeaders: who removes forged copies of HeaderName. */
enum rd_strip {
	RD_STRIP_AUTO = 0, /* Postfix, when ImportPostfix sees header_checks
			      that do (postconf_probe.c); else relaydiag */
	RD_STRIP_YES,      /* relaydiag */
	RD_STRIP_NO,       /* the MTA, as the admin says */
};

/* What relaydiag does about a recipient (per diagnosis id, or by mode). */
enum rd_action {
	RD_ACTION_NONE = 0, /* continue */
	RD_ACTION_HEADER,   /* continue; the message gets the header */
	RD_ACTION_REJECT,   /* 5xx with the explanatory reply */
	RD_ACTION_TEMPFAIL, /* 4xx with the explanatory reply */
};

#define RD_CONFIG_PORTS_MAX 32
#define RD_CONFIG_ACTIONS_MAX 64
#define RD_CONFIG_WARNINGS_MAX 16

/* Action id=action: one diagnosis id's action, overriding Mode. */
struct rd_id_action {
	char id[48];
	enum rd_action action;
};

struct rd_config {
	char *path; /* the file it came from (or NULL) */

	/* daemon */
	char *socket;       /* Socket: "unix:/p", "local:/p", "inet:port@host",
			       "inet6:..." */
	mode_t socket_mode; /* SocketMode: octal, default 0660 (both sockets) */
	char *policy_socket;  /* PolicySocket: the policy service's socket
				 (sockspec.h grammar); NULL = off */
	char *metrics_listen; /* MetricsListen: inet:port[@host] for
				 Prometheus; no host: 127.0.0.1; NULL = off */
	char *user_id;        /* UserID: "user" or "user:group"; NULL = none */
	char *pid_file;       /* PidFile; NULL = none */
	bool auto_restart;    /* AutoRestart: default yes */
	struct rd_restart_rate
	    auto_restart_rate; /* AutoRestartRate: default 10/1h */
	int log_level; /* LogLevel: syslog priority (LOG_ERR .. LOG_DEBUG) */
	int syslog_facility; /* SyslogFacility: LOG_MAIL default */
	char *host_name;     /* HostName: for events; default gethostname() */
	bool host_name_set;  /* HostName given: it beats the MTA's {j} */

	/* what relaydiag does */
	enum rd_mode mode; /* Mode: observe|annotate|enforce */
	char *header_name; /* HeaderName: default "X-Relay-Diagnostic" */
	enum rd_strip strip_forged; /* StripForgedHeaders: yes|no|auto */
	bool strip_forged_headers;  /* the outcome: relaydiag removes copies
				       of HeaderName it did not add; false:
				       the MTA does (header_checks), and no
				       header is sent to relaydiag */
	char strip_forged_why[512]; /* why, for the log and -n -v */

	/* the MTA's view of the world */
	struct rd_domainset *local_domains; /* LocalDomains */
	struct rd_domainset *relay_domains; /* RelayDomains */
	struct rd_netset *trusted_networks; /* TrustedNetworks: default
					       127.0.0.0/8 [::1]/128 */
	unsigned short
	    submission_ports[RD_CONFIG_PORTS_MAX]; /* SubmissionPorts: default
						      587 465 */
	size_t n_submission_ports;
	bool tls_auth_only; /* TLSAuthOnly: AUTH offered only after STARTTLS */
	/* Listener lines, then ImportPostfix's master.cf listeners: each
	   listener's own settings (listener.h); a session on none of them
	   is judged by the keys above. */
	struct rd_listener *listeners;
	size_t n_listeners;

	/* diagnosis */
	bool relay_gate; /* RelayGate: deployment 2, refuse unauthorized relays
			    whatever Mode */
	struct rd_id_action
	    actions[RD_CONFIG_ACTIONS_MAX]; /* Action id=action ... */
	size_t n_actions;
	struct rd_rules *rules; /* ReplyRules files, then the built-in rules */
	struct rd_templates
	    *templates; /* TemplateFile: per-id texts; NULL = none */
	char *template_file;

	/* history across sessions (history.c) */
	unsigned history_window; /* HistoryWindow: s, default 86400 (ip-changed,
				    auth-stopped) */
	unsigned probe_window;   /* ProbeWindow: s, default 600 */
	unsigned probe_domains;  /* ProbeDomains: distinct refused domains,
				    default 3 */
	unsigned alert_probe_attempts; /* AlertProbeAttempts: default 20 per
					  ProbeWindow */
	unsigned outage_window;        /* OutageWindow: s, default 900 */
	unsigned outage_senders;       /* OutageSenders: default 5 */
	unsigned
	    history_cache_size; /* HistoryCacheSize: entries, default 10000 */
	unsigned history_timeout_ms; /* HistoryTimeout: ms per Redis query,
					default 50 */

	/* DNS (the MX check) */
	bool mx_check; /* MXCheck: default no */
	struct rd_domainset
	    *mx_hosts; /* MXHosts: names of this server; default HostName */
	unsigned dns_timeout_ms; /* DNSTimeout: default 500 */
	char *dns_config; /* DNSConfig: unbound.conf for the resolver; NULL =
			     system */

	/* the MTA's log (the log front end, logfront.c) */
	char *log_file;       /* LogFile: the log to follow; NULL = none */
	char *log_journal;    /* LogJournal: "yes" (the system journal) or a
				 directory of journal files; NULL = none */
	unsigned log_formats; /* LogFormat: RD_LOGFMT_* bits, default postfix */
	bool log_rejects;     /* LogRejects: publish the MTA's logged RCPT
				 refusals (an MTA with no milter attached) */
	struct rd_domainset *relay_host_names; /* RelayHosts: relayhosts we */
	struct rd_netset *relay_host_ips;      /* use, by name or address */
	unsigned authfail_window;  /* AuthFailWindow: s, default 600 */
	unsigned outbound_window;  /* OutboundWindow: s, default 3600 */
	unsigned outbound_domains; /* OutboundDomains: default 5 */

	/* the MTA's own configuration */
	char *import_postfix; /* ImportPostfix: a Postfix config dir, "yes" =
				 default */
	char *warnings[RD_CONFIG_WARNINGS_MAX]; /* what the import could not use
						 */
	size_t n_warnings;

	/* events */
	char *redis_url;       /* RedisURL: NULL = no Redis */
	char *redis_stream;    /* RedisStream: default "relaydiag:events" */
	unsigned redis_maxlen; /* RedisMaxLen: XADD MAXLEN ~, default 1000000 */
	unsigned
	    redis_timeout_ms; /* RedisTimeout: connect/command, default 1000 */
	unsigned event_queue_size; /* EventQueueSize: default 65536 */
	char *spool_dir; /* SpoolDir: default "/var/spool/relaydiag" */
	unsigned long long spool_max_size; /* SpoolMaxSize: bytes, default 256
					      MiB (k/M/G suffixes) */
	enum rd_spool_policy
	    spool_drop_policy; /* SpoolDropPolicy: oldest|newest */
	char *event_log;    /* EventLog: path, "-" = stdout; NULL = default */
	bool hash_personal; /* HashPersonalData: addresses/users as keyed hashes
			     */
	char *hash_key_file; /* HashKeyFile: the key (required with
				HashPersonalData) */
	char **key_text; /* private to config.c: what the file said for each key
			    that takes effect at restart
			    (rd_config_restart_changes) */

	atomic_int refs; /* snapshot holders; see the daemon */
};

/*
 * rd_config_defaults - a configuration with every default and no file.
 * NULL only when out of memory.
 */
struct rd_config *rd_config_defaults(void);

/*
 * rd_config_restart_changes - the keys that take effect only at the next
 * start (the key table in config.c says which) and whose value differs
 * between a and b, as the files wrote them: their names into buf ("Socket,
 * RedisURL"), and how many. For the reload's warning.
 */
size_t rd_config_restart_changes(const struct rd_config *a,
    const struct rd_config *b, char *buf, size_t len);

/*
 * rd_config_import_postfix - ImportPostfix: Postfix's view
 * (rd_postconf_view) merged into cfg. config_dir: Postfix's configuration
 * directory, or NULL for postconf's default; postconf_bin: NULL for
 * "postconf" from PATH. 0, or -1 with err (postconf failed).
 */
int rd_config_import_postfix(struct rd_config *cfg, const char *config_dir,
    const char *postconf_bin, struct rd_err *err);

struct rd_mta_view;
/*
 * rd_config_merge_view - what the MTA's view (ImportPostfix) adds to cfg:
 * its domains join LocalDomains and RelayDomains, its networks replace
 * TrustedNetworks, its TLS-only AUTH and host name (for MXHosts, when
 * empty) are taken, its submission listeners' ports replace
 * SubmissionPorts (when it has any), its warnings join cfg's. 0, or -1
 * with err (out of memory).
 */
int rd_config_merge_view(
    struct rd_config *cfg, struct rd_mta_view *v, struct rd_err *err);

/*
 * rd_config_load - read path into a new configuration (defaults for what
 * the file does not set). NULL with err (source = the file, line = the
 * offending line, 0 for the file as a whole) on the first error.
 */
struct rd_config *rd_config_load(const char *path, struct rd_err *err);

void rd_config_free(struct rd_config *cfg); /* NULL: no-op */

/*
 * rd_config_listener - the listener a connection to addr:port came in on
 * (rd_listener_find over cfg->listeners), or NULL: then the global keys
 * (SubmissionPorts, TLSAuthOnly, TrustedNetworks) judge the session.
 */
const struct rd_listener *rd_config_listener(
    const struct rd_config *cfg, const char *addr, unsigned port);

/*
 * rd_config_view_text - the effective view, as "relaydiag -n -v" prints it
 * (postconf -n and -M style): domains, trusted networks, and each listener
 * with its port, submission role, TLS-only AUTH and restriction lists;
 * then the import's warnings. Into b (appended).
 */
struct rd_buf;
void rd_config_view_text(const struct rd_config *cfg, struct rd_buf *b);

/* rd_config_is_submission_port - whether port is one of SubmissionPorts */
bool rd_config_is_submission_port(const struct rd_config *cfg, unsigned port);

/* rd_mode_name - "observe", "annotate", "enforce" */
const char *rd_mode_name(enum rd_mode mode);

/* rd_config_key_name - the i-th configuration key's name; NULL past the end */
const char *rd_config_key_name(size_t i);

/* rd_action_name - "none", "header", "reject", "tempfail" */
const char *rd_action_name(enum rd_action a);

/*
 * rd_config_action - the action configured for id with Action, or -1 when
 * none is (then the mode decides).
 */
int rd_config_action(const struct rd_config *cfg, const char *id);

#endif

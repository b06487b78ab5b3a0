/*
 * config_keys.c - the key table of relaydiag.conf and the setter of each
 * key: the glue between a "Key value" line and the module that owns the
 * value's grammar (sockspec.c the socket, redis.c the URL, restart.c the
 * restart rate, spool.c the drop policy, domainset.c and netset.c the
 * lists, the catalogue the diagnosis ids). Syntax only: whether a user
 * exists or Redis answers is the daemon's business.
 * Threads: called by rd_config_load only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "config_int.h"
#include "relaydiag/buf.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/kvfile.h"
#include "relaydiag/logline.h"
#include "relaydiag/redis.h"
#include "relaydiag/reply.h"
#include "relaydiag/rules.h"
#include "relaydiag/sockspec.h"
#include "relaydiag/templates.h"
#include "relaydiag/text.h"

static config_setter config_set_socket, config_set_tcp_socket,
    config_set_socket_mode, config_set_mode, config_set_bool, config_set_strip,
    config_set_redis_url, config_set_stream, config_set_abs_path,
    config_set_event_log, config_set_header_name, config_set_user_id,
    config_set_log_level, config_set_facility, config_set_host_name,
    config_add_local, config_add_relay, config_add_trusted, config_add_port,
    config_set_uint, config_set_size, config_add_action, config_add_rules,
    config_set_templates, config_add_mx_host, config_set_drop_policy,
    config_set_import, config_set_restart_rate, config_add_listener,
    config_add_log_format, config_add_relay_host, config_set_log_journal;
static config_reset config_reset_trusted, config_reset_ports;

#define CONFIG_STR(field) offsetof(struct rd_config, field)
#define CONFIG_OFF(field) offsetof(struct rd_config, field)
#define CONFIG_UINT(name, field, lo, hi)                                       \
	{                                                                      \
		name, CONFIG_SCALAR, config_set_uint, NULL, CONFIG_OFF(field), \
		    lo, hi, 0                                                  \
	}
#define CONFIG_UINT_R(name, field, lo, hi)                                     \
	{                                                                      \
		name, CONFIG_SCALAR, config_set_uint, NULL, CONFIG_OFF(field), \
		    lo, hi, CONFIG_RESTART                                     \
	}

const struct config_key config_keys[] = {
    {"Socket", CONFIG_SCALAR, config_set_socket, NULL, CONFIG_STR(socket), 0, 0,
	CONFIG_RESTART},
    {"SocketMode", CONFIG_SCALAR, config_set_socket_mode, NULL, 0, 0, 0,
	CONFIG_RESTART},
    {"PolicySocket", CONFIG_SCALAR, config_set_socket, NULL,
	CONFIG_STR(policy_socket), 0, 0, CONFIG_RESTART},
    {"MetricsListen", CONFIG_SCALAR, config_set_tcp_socket, NULL,
	CONFIG_STR(metrics_listen), 0, 0, CONFIG_RESTART},
    {"Mode", CONFIG_SCALAR, config_set_mode, NULL, 0, 0, 0, 0},
    {"LocalDomains", CONFIG_LIST, config_add_local, NULL, 0, 0, 0, 0},
    {"RelayDomains", CONFIG_LIST, config_add_relay, NULL, 0, 0, 0, 0},
    {"TrustedNetworks", CONFIG_LIST, config_add_trusted, config_reset_trusted,
	0, 0, 0, 0},
    {"SubmissionPorts", CONFIG_LIST, config_add_port, config_reset_ports, 0, 0,
	0, 0},
    {"TLSAuthOnly", CONFIG_SCALAR, config_set_bool, NULL,
	CONFIG_OFF(tls_auth_only), 0, 0, 0},
    {"Listener", CONFIG_LINE, config_add_listener, NULL, 0, 0, 0, 0},
    {"RedisURL", CONFIG_SCALAR, config_set_redis_url, NULL,
	CONFIG_STR(redis_url), 0, 0, CONFIG_RESTART | CONFIG_SECRET},
    {"RedisStream", CONFIG_SCALAR, config_set_stream, NULL,
	CONFIG_STR(redis_stream), 0, 0, CONFIG_RESTART},
    {"SpoolDir", CONFIG_SCALAR, config_set_abs_path, NULL,
	CONFIG_STR(spool_dir), 0, 0, CONFIG_RESTART},
    {"EventLog", CONFIG_SCALAR, config_set_event_log, NULL,
	CONFIG_STR(event_log), 0, 0, CONFIG_RESTART},
    {"HeaderName", CONFIG_SCALAR, config_set_header_name, NULL,
	CONFIG_STR(header_name), 0, 0, 0},
    {"StripForgedHeaders", CONFIG_SCALAR, config_set_strip, NULL, 0, 0, 0, 0},
    {"UserID", CONFIG_SCALAR, config_set_user_id, NULL, CONFIG_STR(user_id), 0,
	0, CONFIG_RESTART},
    {"PidFile", CONFIG_SCALAR, config_set_abs_path, NULL, CONFIG_STR(pid_file),
	0, 0, CONFIG_RESTART},
    {"AutoRestart", CONFIG_SCALAR, config_set_bool, NULL,
	CONFIG_OFF(auto_restart), 0, 0, CONFIG_RESTART},
    {"AutoRestartRate", CONFIG_SCALAR, config_set_restart_rate, NULL, 0, 0, 0,
	CONFIG_RESTART},
    {"LogLevel", CONFIG_SCALAR, config_set_log_level, NULL, 0, 0, 0, 0},
    {"SyslogFacility", CONFIG_SCALAR, config_set_facility, NULL, 0, 0, 0,
	CONFIG_RESTART},
    {"HostName", CONFIG_SCALAR, config_set_host_name, NULL,
	CONFIG_STR(host_name), 0, 0, 0},
    /* diagnosis */
    {"RelayGate", CONFIG_SCALAR, config_set_bool, NULL, CONFIG_OFF(relay_gate),
	0, 0, 0},
    {"Action", CONFIG_LIST, config_add_action, NULL, 0, 0, 0, 0},
    {"ReplyRules", CONFIG_LIST, config_add_rules, NULL, 0, 0, 0, 0},
    {"TemplateFile", CONFIG_SCALAR, config_set_templates, NULL,
	CONFIG_STR(template_file), 0, 0, 0},
    /* history */
    CONFIG_UINT_R("HistoryWindow", history_window, 60, 90 * 86400),
    CONFIG_UINT_R("ProbeWindow", probe_window, 10, 86400),
    CONFIG_UINT("ProbeDomains", probe_domains, 1, 1000),
    CONFIG_UINT_R("AlertProbeAttempts", alert_probe_attempts, 1, 1000000),
    CONFIG_UINT_R("OutageWindow", outage_window, 10, 86400),
    CONFIG_UINT_R("OutageSenders", outage_senders, 1, 100000),
    CONFIG_UINT_R("HistoryCacheSize", history_cache_size, 16, 10000000),
    CONFIG_UINT_R("HistoryTimeout", history_timeout_ms, 1, 10000),
    /* DNS */
    {"MXCheck", CONFIG_SCALAR, config_set_bool, NULL, CONFIG_OFF(mx_check), 0,
	0, CONFIG_RESTART},
    {"MXHosts", CONFIG_LIST, config_add_mx_host, NULL, 0, 0, 0, 0},
    CONFIG_UINT_R("DNSTimeout", dns_timeout_ms, 1, 30000),
    {"DNSConfig", CONFIG_SCALAR, config_set_abs_path, NULL,
	CONFIG_STR(dns_config), 0, 0, CONFIG_RESTART},
    {"ImportPostfix", CONFIG_SCALAR, config_set_import, NULL,
	CONFIG_STR(import_postfix), 0, 0, 0},
    /* the MTA's log */
    {"LogFile", CONFIG_SCALAR, config_set_abs_path, NULL, CONFIG_STR(log_file),
	0, 0, CONFIG_RESTART},
    {"LogJournal", CONFIG_SCALAR, config_set_log_journal, NULL,
	CONFIG_STR(log_journal), 0, 0, CONFIG_RESTART},
    {"LogFormat", CONFIG_LIST, config_add_log_format, NULL, 0, 0, 0, 0},
    {"LogRejects", CONFIG_SCALAR, config_set_bool, NULL,
	CONFIG_OFF(log_rejects), 0, 0, 0},
    {"RelayHosts", CONFIG_LIST, config_add_relay_host, NULL, 0, 0, 0, 0},
    CONFIG_UINT("AuthFailWindow", authfail_window, 10, 86400),
    CONFIG_UINT("OutboundWindow", outbound_window, 60, 7 * 86400),
    CONFIG_UINT("OutboundDomains", outbound_domains, 1, 100000),
    /* events */
    CONFIG_UINT_R("RedisMaxLen", redis_maxlen, 100, 1000000000),
    CONFIG_UINT_R("RedisTimeout", redis_timeout_ms, 10, 60000),
    CONFIG_UINT_R("EventQueueSize", event_queue_size, 16, 10000000),
    {"SpoolMaxSize", CONFIG_SCALAR, config_set_size, NULL,
	CONFIG_OFF(spool_max_size), 0, 0, CONFIG_RESTART},
    {"SpoolDropPolicy", CONFIG_SCALAR, config_set_drop_policy, NULL, 0, 0, 0,
	CONFIG_RESTART},
    {"HashPersonalData", CONFIG_SCALAR, config_set_bool, NULL,
	CONFIG_OFF(hash_personal), 0, 0, 0},
    {"HashKeyFile", CONFIG_SCALAR, config_set_abs_path, NULL,
	CONFIG_STR(hash_key_file), 0, 0, 0},
};

const size_t config_nkeys = sizeof(config_keys) / sizeof(config_keys[0]);
_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) <= CONFIG_KEYS_MAX,
    "config_parse.seen is too small for the key table");

/* A word and the value it stands for (Mode, LogLevel, SyslogFacility). */
struct config_name {
	const char *name;
	int value;
};
static const struct config_name config_modes[] = {
    {"observe", RD_MODE_OBSERVE},
    {"annotate", RD_MODE_ANNOTATE},
    {"enforce", RD_MODE_ENFORCE},
};
static const struct config_name config_levels[] = {
    {"error", LOG_ERR},
    {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE},
    {"info", LOG_INFO},
    {"debug", LOG_DEBUG},
};
static const struct config_name config_facilities[] = {
    {"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};
static const struct config_name config_strips[] = {
    {"auto", RD_STRIP_AUTO},
    {"yes", RD_STRIP_YES},
    {"no", RD_STRIP_NO},
};
static const struct config_name config_bools[] = {
    {"yes", 1},
    {"no", 0},
    {"true", 1},
    {"false", 0},
    {"1", 1},
    {"0", 0},
};
#define CONFIG_NNAMES(t) (sizeof(t) / sizeof((t)[0]))

static int
config_is_digit(int c)
{
	return (c >= '0' && c <= '9');
}

static int
config_is_alnum(int c)
{
	return (config_is_digit(c) || (c >= 'a' && c <= 'z') ||
		(c >= 'A' && c <= 'Z'));
}

/* config_lookup - value of the word s in table t (ASCII case folded) */
static int
config_lookup(const struct config_name *t, size_t n, const char *s, int *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (rd_strcasecmp_ascii(t[i].name, s) == 0) {
			*out = t[i].value;
			return (0);
		}
	}
	return (-1);
}

/* config_store - replace the string at k->off with a copy of value */
static int
config_store(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	char **slot;
	char *copy;

	if ((copy = strdup(value)) == NULL)
		return (config_error(
		    p, at->source, at->line, "%s: out of memory", k->name));
	slot = (char **)(void *)((char *)p->cfg + k->off);
	free(*slot);
	*slot = copy;
	return (0);
}

/* config_set_socket - libmilter's smfi_setconn syntax (sockspec.c) */
static int
config_set_socket(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	struct rd_sockspec ss;
	char why[600];

	if (rd_sockspec_parse(value, &ss, why, sizeof(why)) != 0)
		return (config_error(
		    p, at->source, at->line, "%s: %s", k->name, why));
	return (config_store(p, k, at, value));
}

/* config_set_tcp_socket - a socket spec that is inet: or inet6: */
static int
config_set_tcp_socket(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	struct rd_sockspec ss;
	char why[600];

	/* config_set_socket says what is wrong with a bad spec */
	if (rd_sockspec_parse(value, &ss, why, sizeof(why)) != 0 ||
	    ss.family != RD_SOCK_UNIX)
		return (config_set_socket(p, k, at, value));
	return (config_error(p, at->source, at->line,
	    "%s: \"%s\" is a unix socket; Prometheus scrapes TCP: "
	    "inet:port[@host] (no host: 127.0.0.1)",
	    k->name, value));
}

/* config_set_socket_mode - octal permission bits, at most 0777, not o+w */
static int
config_set_socket_mode(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	unsigned long mode = 0;
	const char *s;

	for (s = value; *s != '\0'; s++) {
		if (*s < '0' || *s > '7')
			return (config_error(p, at->source, at->line,
			    "%s: \"%s\" is not an octal mode (e.g. 0660)",
			    k->name, value));
		mode = mode * 8 + (unsigned long)(*s - '0');
		if (mode > 0777)
			break;
	}
	if (mode > 0777)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\" is more than 0777 (only permission bits are "
		    "allowed)",
		    k->name, value));
	/* Whoever can connect can speak the milter protocol, and one bad
	   packet kills libmilter (SECURITY.md): never every local user. */
	if ((mode & 0002) != 0)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\" lets every local user connect to the filter; "
		    "use 0660 and give the MTA's user UserID's group",
		    k->name, value));
	p->cfg->socket_mode = (mode_t)mode;
	return (0);
}

static int
config_set_mode(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	int v;

	if (config_lookup(
		config_modes, CONFIG_NNAMES(config_modes), value, &v) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected observe, annotate or enforce",
		    k->name, value));
	p->cfg->mode = (enum rd_mode)v;
	return (0);
}

/* config_set_strip - StripForgedHeaders (config_finish decides auto) */
static int
config_set_strip(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	int v;

	if (config_lookup(
		config_strips, CONFIG_NNAMES(config_strips), value, &v) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected auto, yes or no", k->name, value));
	p->cfg->strip_forged = (enum rd_strip)v;
	return (0);
}

/* config_set_bool - yes/no keys, into the bool at k->off */
static int
config_set_bool(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	int v;

	if (config_lookup(
		config_bools, CONFIG_NNAMES(config_bools), value, &v) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected yes or no", k->name, value));
	*(bool *)(void *)((char *)p->cfg + k->off) = v != 0;
	return (0);
}

/*
 * config_set_redis_url - redis.c owns the URL grammar: the publisher and
 * the history parse it there again at start, so what they would refuse
 * cannot pass "relaydiag -n". The value is not repeated in the message:
 * it may hold a password, and errors end up in logs.
 */
static int
config_set_redis_url(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	struct rd_redis_url u;
	struct rd_err e;
	int rc;

	rc = rd_redis_url_parse(value, &u, &e);
	explicit_bzero(&u, sizeof(u));
	if (rc != 0)
		return (config_error(
		    p, at->source, at->line, "%s: %s", k->name, e.text));
	return (config_store(p, k, at, value));
}

/* config_set_stream - a Redis key; printable ASCII so logs show it whole */
static int
config_set_stream(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	const char *s;

	for (s = value; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126)
			return (config_error(p, at->source, at->line,
			    "%s: \"%s\": only printable ASCII is allowed in a "
			    "stream name",
			    k->name, value));
	return (config_store(p, k, at, value));
}

static int
config_set_abs_path(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (value[0] != '/')
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\" is not an absolute path", k->name, value));
	return (config_store(p, k, at, value));
}

/* config_set_event_log - an absolute path, or "-" for standard output */
static int
config_set_event_log(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (value[0] != '/' && strcmp(value, "-") != 0)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected an absolute path or \"-\" "
		    "(standard output)",
		    k->name, value));
	return (config_store(p, k, at, value));
}

/* config_set_header_name - RFC 5322 section 2.2 ftext: %d33-57 / %d59-126 */
static int
config_set_header_name(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	char why[128];

	if (rd_header_name_check(value, why, sizeof(why)) != 0)
		return (
		    config_error(p, at->source, at->line, "%s: \"%.20s%s\": %s",
			k->name, value, strlen(value) > 20 ? "..." : "", why));
	return (config_store(p, k, at, value));
}

/*
 * config_name_ok - a user or group name as useradd(8) and groupadd(8)
 * accept it: letters, digits, '.', '_', '-', not starting with '-', an
 * optional trailing '$' (Samba machine accounts).
 */
static int
config_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] == '-')
		return (0);
	for (i = 0; i < len; i++) {
		if (config_is_alnum((unsigned char)s[i]) || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-')
			continue;
		if (s[i] == '$' && i == len - 1 && i > 0)
			continue;
		return (0);
	}
	return (1);
}

/* config_set_user_id - "user" or "user:group"; existence is main.c's job */
static int
config_set_user_id(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	const char *colon;
	size_t ulen;

	colon = strchr(value, ':');
	ulen = colon ? (size_t)(colon - value) : strlen(value);
	if (!config_name_ok(value, ulen) ||
	    (colon != NULL && !config_name_ok(colon + 1, strlen(colon + 1))))
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected user or user:group (letters, "
		    "digits, '.', '_', '-')",
		    k->name, value));
	return (config_store(p, k, at, value));
}

static int
config_set_log_level(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (config_lookup(config_levels, CONFIG_NNAMES(config_levels), value,
		&p->cfg->log_level) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected error, warning, notice, info or "
		    "debug",
		    k->name, value));
	return (0);
}

static int
config_set_facility(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (config_lookup(config_facilities, CONFIG_NNAMES(config_facilities),
		value, &p->cfg->syslog_facility) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected mail, daemon or local0 .. local7",
		    k->name, value));
	return (0);
}

/* config_set_host_name - letters, digits, '-', '.', '_'; at most 253 */
static int
config_set_host_name(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	const char *s;

	for (s = value; *s != '\0'; s++)
		if (!config_is_alnum((unsigned char)*s) && *s != '-' &&
		    *s != '.' && *s != '_')
			break;
	if (*s != '\0' || s - value > 253)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected a host name (letters, digits, '-', "
		    "'.', at most 253 bytes)",
		    k->name, value));
	p->cfg->host_name_set = true;
	return (config_store(p, k, at, value));
}

/* config_domain - one domainset entry; its error gets our file:line */
static int
config_domain(struct config_parse *p, struct rd_domainset *set,
    const struct config_at *at, const char *entry)
{
	struct rd_err e;

	rd_err_clear(&e);
	if (rd_domainset_add(set, entry, &e) == 0)
		return (0);
	if (e.text[0] == '\0')
		return (config_error(p, at->source, at->line,
		    "%s: invalid domain \"%s\"", at->key, entry));
	return (
	    config_error(p, at->source, at->line, "%s: %s", at->key, e.text));
}

static int
config_add_local(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	(void)k;
	return (config_domain(p, p->cfg->local_domains, at, entry));
}

static int
config_add_relay(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	(void)k;
	return (config_domain(p, p->cfg->relay_domains, at, entry));
}

static int
config_add_trusted(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_err e;

	rd_err_clear(&e);
	if (rd_netset_add(p->cfg->trusted_networks, entry, &e) == 0)
		return (0);
	if (e.text[0] == '\0')
		return (config_error(p, at->source, at->line,
		    "%s: invalid network \"%s\"", k->name, entry));
	return (
	    config_error(p, at->source, at->line, "%s: %s", k->name, e.text));
}

/* config_reset_trusted - the file's list replaces the default one */
static int
config_reset_trusted(struct config_parse *p)
{
	struct rd_netset *set;

	if ((set = rd_netset_new()) == NULL)
		return (-1);
	rd_netset_free(p->cfg->trusted_networks);
	p->cfg->trusted_networks = set;
	return (0);
}

static int
config_add_port(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_config *cfg = p->cfg;
	unsigned long port;
	size_t i;

	if (rd_kv_number(entry, strlen(entry), CONFIG_PORT_MAX, &port) == -1 ||
	    port == 0)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\" is not a port number (1..65535)", k->name,
		    entry));
	for (i = 0; i < cfg->n_submission_ports; i++)
		if (cfg->submission_ports[i] == port)
			return (0);
	if (cfg->n_submission_ports == RD_CONFIG_PORTS_MAX)
		return (config_error(p, at->source, at->line,
		    "%s: more than %d ports", k->name, RD_CONFIG_PORTS_MAX));
	cfg->submission_ports[cfg->n_submission_ports++] = (unsigned short)port;
	return (0);
}

static int
config_reset_ports(struct config_parse *p)
{
	p->cfg->n_submission_ports = 0;
	return (0);
}

/* config_add_listener - a Listener line (listener.c owns its grammar) */
static int
config_add_listener(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	struct rd_listener l;
	struct rd_err e;

	memset(&l, 0, sizeof(l));
	rd_err_clear(&e);
	if (rd_listener_parse(&l, value, &e) != 0) {
		rd_listener_clear(&l);
		return (config_error(p, at->source, at->line, "%s", e.text));
	}
	if (config_listener_take(p->cfg, &l) != 0) {
		rd_listener_clear(&l);
		return (config_error(
		    p, at->source, at->line, "%s: out of memory", k->name));
	}
	return (0);
}

/* config_set_uint - a number within [k->min, k->max] into the unsigned */
static int
config_set_uint(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	unsigned long v;

	if (rd_kv_number(value, strlen(value), k->max, &v) == -1 || v < k->min)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected a whole number from %lu to %lu",
		    k->name, value, k->min, k->max));
	*(unsigned *)(void *)((char *)p->cfg + k->off) = (unsigned)v;
	return (0);
}

/* config_set_size - bytes, with an optional k, M or G suffix (1024s) */
static int
config_set_size(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	size_t len = strlen(value);
	unsigned long v, mult = 1;

	if (len > 0 && strchr("kKmMgG", value[len - 1]) != NULL) {
		mult = value[len - 1] == 'k' || value[len - 1] == 'K' ? 1024UL
		       : value[len - 1] == 'm' || value[len - 1] == 'M'
			   ? 1024UL * 1024
			   : 1024UL * 1024 * 1024;
		len--;
	}
	if (rd_kv_number(value, len, 1UL << 40, &v) == -1 || v == 0 ||
	    v > (1UL << 50) / mult)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected a size such as 268435456, 512k, "
		    "256M or 2G",
		    k->name, value));
	*(unsigned long long *)(void *)((char *)p->cfg + k->off) =
	    (unsigned long long)v * mult;
	return (0);
}

static const struct config_name config_actions[] = {
    {"none", RD_ACTION_NONE},
    {"header", RD_ACTION_HEADER},
    {"reject", RD_ACTION_REJECT},
    {"tempfail", RD_ACTION_TEMPFAIL},
};

/* config_add_action - "id=action": that diagnosis's action beats Mode */
static int
config_add_action(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_config *cfg = p->cfg;
	const char *eq = strchr(entry, '=');
	char id[sizeof(cfg->actions[0].id)];
	size_t i;
	int v;

	if (eq == NULL || (size_t)(eq - entry) >= sizeof(id))
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected id=action, e.g. "
		    "sender.login-mismatch=reject",
		    k->name, entry));
	memcpy(id, entry, (size_t)(eq - entry));
	id[eq - entry] = '\0';
	if (rd_catalogue_find(id) == NULL)
		return (config_error(p, at->source, at->line,
		    "%s: unknown diagnosis id \"%s\"", k->name, id));
	if (config_lookup(config_actions, CONFIG_NNAMES(config_actions), eq + 1,
		&v) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: %s: \"%s\": expected none, header, reject or "
		    "tempfail",
		    k->name, id, eq + 1));
	if ((v == RD_ACTION_REJECT || v == RD_ACTION_TEMPFAIL) &&
	    strncmp(id, "alert.", 6) == 0)
		return (config_error(p, at->source, at->line,
		    "%s: %s is an alert, not a recipient decision: it can "
		    "only be none or header",
		    k->name, id));
	/* The truth rule: a relay the MTA accepted is never refused. */
	if ((v == RD_ACTION_REJECT || v == RD_ACTION_TEMPFAIL) &&
	    strcmp(id, "relay.authorized-mta") == 0)
		return (config_error(p, at->source, at->line,
		    "%s: relay.authorized-mta is a relay the MTA accepted: "
		    "relaydiag never refuses it; to refuse such clients, "
		    "fix the MTA's rule (or use RelayGate, deployment 2)",
		    k->name));
	for (i = 0; i < cfg->n_actions; i++)
		if (strcmp(cfg->actions[i].id, id) == 0)
			break;
	if (i == RD_CONFIG_ACTIONS_MAX)
		return (config_error(p, at->source, at->line,
		    "%s: more than %d actions", k->name,
		    RD_CONFIG_ACTIONS_MAX));
	if (i == cfg->n_actions)
		cfg->n_actions++;
	(void)rd_strlcpy(cfg->actions[i].id, id, sizeof(cfg->actions[i].id));
	cfg->actions[i].action = (enum rd_action)v;
	return (0);
}

/* config_path - name relative to the config file's directory, in b */
static void
config_path(struct config_parse *p, const char *name, struct rd_buf *b)
{
	const char *slash;

	rd_buf_init(b);
	if (name[0] != '/' && p->path != NULL &&
	    (slash = strrchr(p->path, '/')) != NULL)
		rd_buf_add(b, p->path, (size_t)(slash - p->path) + 1);
	rd_buf_adds(b, name);
}

/* config_add_rules - an admin's reply-text rules, before the built-in */
static int
config_add_rules(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_buf path;
	struct rd_err e;
	int rc;

	(void)k;
	(void)at;
	config_path(p, entry, &path);
	rd_err_clear(&e);
	rc = rd_rules_add_file(p->cfg->rules, path.data, &e);
	rd_buf_free(&path);
	if (rc != 0) {
		/* The error is the rules file's own file:line. */
		rd_err_set(p->err, e.source, e.line, "%s", e.text);
		return (-1);
	}
	return (0);
}

static int
config_set_templates(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	struct rd_buf path;
	struct rd_err e;

	config_path(p, value, &path);
	rd_err_clear(&e);
	rd_templates_free(p->cfg->templates);
	p->cfg->templates = rd_templates_load(path.data, &e);
	rd_buf_free(&path);
	if (p->cfg->templates == NULL) {
		rd_err_set(p->err, e.source, e.line, "%s", e.text);
		return (-1);
	}
	return (config_store(p, k, at, value));
}

static int
config_add_mx_host(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	(void)k;
	return (config_domain(p, p->cfg->mx_hosts, at, entry));
}

/* config_add_log_format - postfix, sendmail, exim (the first line resets) */
static int
config_add_log_format(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	static const struct {
		const char *name;
		unsigned bit;
	} fmts[] = {{"postfix", RD_LOGFMT_POSTFIX},
	    {"sendmail", RD_LOGFMT_SENDMAIL}, {"exim", RD_LOGFMT_EXIM}};
	size_t i;

	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (rd_strcasecmp_ascii(entry, fmts[i].name) == 0) {
			if (!p->log_format_set)
				p->cfg->log_formats = 0;
			p->log_format_set = true;
			p->cfg->log_formats |= fmts[i].bit;
			return (0);
		}
	return (config_error(p, at->source, at->line,
	    "%s: \"%s\": expected postfix, sendmail or exim", k->name, entry));
}

/* config_set_log_journal - yes, no, or an absolute directory */
static int
config_set_log_journal(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (rd_strcasecmp_ascii(value, "no") == 0)
		return (0);
	if (rd_strcasecmp_ascii(value, "yes") != 0 && value[0] != '/')
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected yes, no, or the absolute path of a "
		    "directory of journal files",
		    k->name, value));
	return (config_store(
	    p, k, at, rd_strcasecmp_ascii(value, "yes") == 0 ? "yes" : value));
}

/* config_add_relay_host - a relayhost by address, or by name */
static int
config_add_relay_host(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_err e;

	(void)k;
	rd_err_clear(&e);
	if (rd_netset_add(p->cfg->relay_host_ips, entry, &e) == 0)
		return (0);
	return (config_domain(p, p->cfg->relay_host_names, at, entry));
}

static int
config_set_drop_policy(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (rd_spool_policy_parse(value, &p->cfg->spool_drop_policy) != 0)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected oldest or newest", k->name, value));
	return (0);
}

/* config_set_restart_rate - "n/t" (restart.c owns the grammar) */
static int
config_set_restart_rate(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	char why[128];

	if (rd_restart_rate_parse(
		value, &p->cfg->auto_restart_rate, why, sizeof(why)) != 0)
		return (config_error(p, at->source, at->line, "%s: \"%s\": %s",
		    k->name, value, why));
	return (0);
}

/* config_set_import - "yes" (postconf's default) or a config directory */
static int
config_set_import(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	if (strcmp(value, "no") == 0)
		return (0);
	if (strcmp(value, "yes") != 0 && value[0] != '/')
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected yes, no, or the absolute path of a "
		    "Postfix configuration directory",
		    k->name, value));
	return (config_store(p, k, at, value));
}

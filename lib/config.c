/*
 * config.c - the configuration file: "Key value" lines turned into an
 * immutable struct rd_config, with file:line on every error.
 *
 * Owns the key table (names, kinds, value syntax), the line reader (length,
 * control characters, UTF-8, comments), "file:" list expansion and the
 * suggestion for a misspelt key. Domain and network syntax belongs to
 * domainset.c and netset.c. Values are checked for syntax only: whether the
 * user exists, the socket can be bound or Redis answers is the daemon's
 * business, so "relaydiag -n" gives the same answer as any user on any host.
 * Threads: no globals; rd_config_load runs in the caller's thread and the
 * result is read-only once returned.
 * Memory: rd_config_defaults and rd_config_load allocate the struct and
 * everything it points to; rd_config_free frees it all.
 */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/diagnose.h"
#include "relaydiag/file.h"
#include "relaydiag/postconf.h"
#include "relaydiag/redis.h"
#include "relaydiag/rules.h"
#include "relaydiag/sockspec.h"
#include "relaydiag/templates.h"
#include "relaydiag/text.h"

#define CONFIG_LINE_MAX 4096 /* bytes per line, without the '\n' */
#define CONFIG_PORT_MAX 65535

#define CONFIG_DEF_SOCKET "local:/run/relaydiag/relaydiag.sock"
#define CONFIG_DEF_SOCKET_MODE 0660
#define CONFIG_DEF_TRUSTED "127.0.0.0/8 [::1]/128"
#define CONFIG_DEF_STREAM "relaydiag:events"
#define CONFIG_DEF_SPOOL "/var/spool/relaydiag"
#define CONFIG_DEF_HEADER "X-Relay-Diagnostic"

static const unsigned short config_def_ports[] = {587, 465};

/* Where a value came from: the file and line its errors name. */
struct config_at {
	const char *source; /* the config file or a "file:" list */
	unsigned line;
	const char *key;  /* canonical key name, for messages */
	int in_list_file; /* 1 inside a "file:" list */
};

struct config_parse;
struct config_key;

/*
 * A scalar key's setter gets the whole (one word) value; a list key's
 * setter gets one entry at a time. Both return 0, or -1 with p->err set.
 */
typedef int config_setter(struct config_parse *, const struct config_key *,
			  const struct config_at *, const char *);
/* A list key's reset drops the default at the key's first line. */
typedef int config_reset(struct config_parse *);

enum config_kind {
	CONFIG_SCALAR,
	CONFIG_LIST,
};

struct config_key {
	const char *name;
	enum config_kind kind;
	config_setter *set;
	config_reset *reset; /* lists only; may be NULL */
	size_t off;          /* offsetof the field (string, bool, number) */
	unsigned long min, max; /* numbers: the range */
	unsigned flags;         /* CONFIG_RESTART */
};

/* The key takes effect only at the next start (a reload keeps the old
   value and says so: rd_config_restart_changes). */
#define CONFIG_RESTART 1u

/* One file being read, line by line. */
struct config_reader {
	FILE *fp;
	const char *source;
	unsigned line;
	char buf[CONFIG_LINE_MAX + 1];
};

static config_setter config_set_socket, config_set_socket_mode, config_set_mode,
    config_set_bool, config_set_redis_url, config_set_stream,
    config_set_abs_path, config_set_event_log, config_set_header_name,
    config_set_user_id, config_set_log_level, config_set_facility,
    config_set_host_name, config_add_local, config_add_relay,
    config_add_trusted, config_add_port, config_set_uint, config_set_size,
    config_add_action, config_add_rules, config_set_templates,
    config_add_mx_host, config_set_drop_policy, config_set_import,
    config_set_restart_rate;
static config_reset config_reset_trusted, config_reset_ports;
static int config_dup(char **slot, const char *s);

#define CONFIG_STR(field) offsetof(struct rd_config, field)
#define CONFIG_OFF(field) offsetof(struct rd_config, field)
#define CONFIG_UINT(name, field, lo, hi)                                       \
	{name, CONFIG_SCALAR, config_set_uint, NULL, CONFIG_OFF(field), lo, hi, 0}
#define CONFIG_UINT_R(name, field, lo, hi)                                     \
	{name, CONFIG_SCALAR, config_set_uint, NULL, CONFIG_OFF(field), lo, hi, \
	    CONFIG_RESTART}

static const struct config_key config_keys[] = {
    {"Socket", CONFIG_SCALAR, config_set_socket, NULL, CONFIG_STR(socket), 0, 0, CONFIG_RESTART},
    {"SocketMode", CONFIG_SCALAR, config_set_socket_mode, NULL, 0, 0, 0, CONFIG_RESTART},
    {"Mode", CONFIG_SCALAR, config_set_mode, NULL, 0, 0, 0, 0},
    {"LocalDomains", CONFIG_LIST, config_add_local, NULL, 0, 0, 0, 0},
    {"RelayDomains", CONFIG_LIST, config_add_relay, NULL, 0, 0, 0, 0},
    {"TrustedNetworks", CONFIG_LIST, config_add_trusted, config_reset_trusted,
     0, 0, 0, 0},
    {"SubmissionPorts", CONFIG_LIST, config_add_port, config_reset_ports, 0, 0, 0, 0},
    {"TLSAuthOnly", CONFIG_SCALAR, config_set_bool, NULL,
     CONFIG_OFF(tls_auth_only), 0, 0, 0},
    {"RedisURL", CONFIG_SCALAR, config_set_redis_url, NULL,
     CONFIG_STR(redis_url), 0, 0, CONFIG_RESTART},
    {"RedisStream", CONFIG_SCALAR, config_set_stream, NULL,
     CONFIG_STR(redis_stream), 0, 0, CONFIG_RESTART},
    {"SpoolDir", CONFIG_SCALAR, config_set_abs_path, NULL,
     CONFIG_STR(spool_dir), 0, 0, CONFIG_RESTART},
    {"EventLog", CONFIG_SCALAR, config_set_event_log, NULL,
     CONFIG_STR(event_log), 0, 0, CONFIG_RESTART},
    {"HeaderName", CONFIG_SCALAR, config_set_header_name, NULL,
     CONFIG_STR(header_name), 0, 0, 0},
    {"UserID", CONFIG_SCALAR, config_set_user_id, NULL, CONFIG_STR(user_id), 0, 0, CONFIG_RESTART},
    {"PidFile", CONFIG_SCALAR, config_set_abs_path, NULL, CONFIG_STR(pid_file), 0, 0, CONFIG_RESTART},
    {"AutoRestart", CONFIG_SCALAR, config_set_bool, NULL,
     CONFIG_OFF(auto_restart), 0, 0, CONFIG_RESTART},
    {"AutoRestartRate", CONFIG_SCALAR, config_set_restart_rate, NULL, 0, 0, 0, CONFIG_RESTART},
    {"LogLevel", CONFIG_SCALAR, config_set_log_level, NULL, 0, 0, 0, 0},
    {"SyslogFacility", CONFIG_SCALAR, config_set_facility, NULL, 0, 0, 0, CONFIG_RESTART},
    {"HostName", CONFIG_SCALAR, config_set_host_name, NULL,
     CONFIG_STR(host_name), 0, 0, 0},
    /* diagnosis */
    {"RelayGate", CONFIG_SCALAR, config_set_bool, NULL,
     CONFIG_OFF(relay_gate), 0, 0, 0},
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
    {"MXCheck", CONFIG_SCALAR, config_set_bool, NULL, CONFIG_OFF(mx_check), 0, 0, CONFIG_RESTART},
    {"MXHosts", CONFIG_LIST, config_add_mx_host, NULL, 0, 0, 0, 0},
    CONFIG_UINT_R("DNSTimeout", dns_timeout_ms, 1, 30000),
    {"DNSConfig", CONFIG_SCALAR, config_set_abs_path, NULL,
     CONFIG_STR(dns_config), 0, 0, CONFIG_RESTART},
    {"ImportPostfix", CONFIG_SCALAR, config_set_import, NULL,
     CONFIG_STR(import_postfix), 0, 0, 0},
    /* events */
    CONFIG_UINT_R("RedisMaxLen", redis_maxlen, 100, 1000000000),
    CONFIG_UINT_R("RedisTimeout", redis_timeout_ms, 10, 60000),
    CONFIG_UINT_R("EventQueueSize", event_queue_size, 16, 10000000),
    {"SpoolMaxSize", CONFIG_SCALAR, config_set_size, NULL,
     CONFIG_OFF(spool_max_size), 0, 0, CONFIG_RESTART},
    {"SpoolDropPolicy", CONFIG_SCALAR, config_set_drop_policy, NULL, 0, 0, 0, CONFIG_RESTART},
    {"HashPersonalData", CONFIG_SCALAR, config_set_bool, NULL,
     CONFIG_OFF(hash_personal), 0, 0, 0},
    {"HashKeyFile", CONFIG_SCALAR, config_set_abs_path, NULL,
     CONFIG_STR(hash_key_file), 0, 0, 0},
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

struct config_parse {
	struct rd_config *cfg;
	const char *path;            /* the config file, as given */
	struct rd_err *err;          /* the caller's; may be NULL */
	unsigned seen[CONFIG_NKEYS]; /* line of a key's first use */
};

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
    {"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
    {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

static const struct config_name config_facilities[] = {
    {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON}, {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

static const struct config_name config_bools[] = {
    {"yes", 1}, {"no", 0}, {"true", 1}, {"false", 0}, {"1", 1}, {"0", 0},
};

#define CONFIG_NNAMES(t) (sizeof(t) / sizeof((t)[0]))

/* config_error - fill p->err at "at", always return -1 */
static int config_error(struct config_parse *p, const char *source,
			unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
config_error(struct config_parse *p, const char *source, unsigned line,
	     const char *fmt, ...)
{
	char text[sizeof(p->err->text)];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	rd_err_set(p->err, source, line, "%s", text);
	return (-1);
}

/* config_strerror - errno as text; the GNU strerror_r (see _GNU_SOURCE) */
static const char *
config_strerror(int errnum, char *buf, size_t len)
{
	return (strerror_r(errnum, buf, len));
}

static int
config_is_space(int c)
{
	return (c == ' ' || c == '\t');
}

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

static int
config_lower(int c)
{
	return (c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
}

/*
 * config_number - a decimal number of at most max, digits only (no sign,
 * no white space); 0, or -1 when s is not one.
 */
static int
config_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0)
		return (-1);
	for (i = 0; i < len; i++) {
		if (!config_is_digit((unsigned char)s[i]))
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return (-1);
	}
	*out = v;
	return (0);
}

/* config_prefix - whether s starts with the ASCII word w, case folded */
static int
config_prefix(const char *s, const char *w)
{
	for (; *w != '\0'; s++, w++)
		if (config_lower((unsigned char)*s) !=
		    config_lower((unsigned char)*w))
			return (0);
	return (1);
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
		return (config_error(p, at->source, at->line,
				     "%s: out of memory", k->name));
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
		return (config_error(p, at->source, at->line, "%s: %s",
		    k->name, why));
	return (config_store(p, k, at, value));
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
			return (config_error(
			    p, at->source, at->line,
			    "%s: \"%s\" is not an octal mode (e.g. 0660)",
			    k->name, value));
		mode = mode * 8 + (unsigned long)(*s - '0');
		if (mode > 0777)
			break;
	}
	if (mode > 0777)
		return (config_error(
		    p, at->source, at->line,
		    "%s: \"%s\" is more than 0777 (only permission bits are "
		    "allowed)",
		    k->name, value));
	/* Whoever can connect can speak the milter protocol, and one bad
	   packet kills libmilter (SECURITY.md): never every local user. */
	if ((mode & 0002) != 0)
		return (config_error(
		    p, at->source, at->line,
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

	if (config_lookup(config_modes, CONFIG_NNAMES(config_modes), value,
			  &v) == -1)
		return (config_error(
		    p, at->source, at->line,
		    "%s: \"%s\": expected observe, annotate or enforce",
		    k->name, value));
	p->cfg->mode = (enum rd_mode)v;
	return (0);
}

/* config_set_bool - yes/no keys, into the bool at k->off */
static int
config_set_bool(struct config_parse *p, const struct config_key *k,
		const struct config_at *at, const char *value)
{
	int v;

	if (config_lookup(config_bools, CONFIG_NNAMES(config_bools), value,
			  &v) == -1)
		return (config_error(p, at->source, at->line,
				     "%s: \"%s\": expected yes or no", k->name,
				     value));
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
		return (config_error(p, at->source, at->line, "%s: %s", k->name,
		    e.text));
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
			return (config_error(
			    p, at->source, at->line,
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
				     "%s: \"%s\" is not an absolute path",
				     k->name, value));
	return (config_store(p, k, at, value));
}

/* config_set_event_log - an absolute path, or "-" for standard output */
static int
config_set_event_log(struct config_parse *p, const struct config_key *k,
		     const struct config_at *at, const char *value)
{
	if (value[0] != '/' && strcmp(value, "-") != 0)
		return (config_error(
		    p, at->source, at->line,
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
	const char *s;

	for (s = value; *s != '\0'; s++)
		if ((unsigned char)*s < 33 || (unsigned char)*s > 126 ||
		    *s == ':')
			return (config_error(
			    p, at->source, at->line,
			    "%s: \"%s\": a header field name is printable "
			    "ASCII without ':' (RFC 5322)",
			    k->name, value));
	/* The end-of-message plan keeps 63 bytes; the fold, 78 columns. */
	if (strlen(value) > 62)
		return (config_error(p, at->source, at->line,
		    "%s: \"%.20s...\": at most 62 characters", k->name,
		    value));
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
		return (config_error(
		    p, at->source, at->line,
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
		return (config_error(
		    p, at->source, at->line,
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
		return (config_error(
		    p, at->source, at->line,
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
		return (config_error(
		    p, at->source, at->line,
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
				     "%s: invalid domain \"%s\"", at->key,
				     entry));
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
				     "%s: invalid network \"%s\"", k->name,
				     entry));
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

	if (config_number(entry, strlen(entry), CONFIG_PORT_MAX, &port) == -1 ||
	    port == 0)
		return (
		    config_error(p, at->source, at->line,
				 "%s: \"%s\" is not a port number (1..65535)",
				 k->name, entry));
	for (i = 0; i < cfg->n_submission_ports; i++)
		if (cfg->submission_ports[i] == port)
			return (0);
	if (cfg->n_submission_ports == RD_CONFIG_PORTS_MAX)
		return (config_error(p, at->source, at->line,
				     "%s: more than %d ports", k->name,
				     RD_CONFIG_PORTS_MAX));
	cfg->submission_ports[cfg->n_submission_ports++] = (unsigned short)port;
	return (0);
}

static int
config_reset_ports(struct config_parse *p)
{
	p->cfg->n_submission_ports = 0;
	return (0);
}

/* config_set_uint - a number within [k->min, k->max] into the unsigned */
static int
config_set_uint(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *value)
{
	unsigned long v;

	if (config_number(value, strlen(value), k->max, &v) == -1 ||
	    v < k->min)
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
	size_t		len = strlen(value);
	unsigned long	v, mult = 1;

	if (len > 0 && strchr("kKmMgG", value[len - 1]) != NULL) {
		mult = value[len - 1] == 'k' || value[len - 1] == 'K' ? 1024UL :
		    value[len - 1] == 'm' || value[len - 1] == 'M' ?
		    1024UL * 1024 : 1024UL * 1024 * 1024;
		len--;
	}
	if (config_number(value, len, 1UL << 40, &v) == -1 || v == 0 ||
	    v > (1UL << 50) / mult)
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected a size such as 268435456, 512k, "
		    "256M or 2G", k->name, value));
	*(unsigned long long *)(void *)((char *)p->cfg + k->off) =
	    (unsigned long long)v * mult;
	return (0);
}

static const struct config_name config_actions[] = {
    {"none", RD_ACTION_NONE}, {"header", RD_ACTION_HEADER},
    {"reject", RD_ACTION_REJECT}, {"tempfail", RD_ACTION_TEMPFAIL},
};

/* config_add_action - "id=action": that diagnosis's action beats Mode */
static int
config_add_action(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, const char *entry)
{
	struct rd_config *cfg = p->cfg;
	const char	*eq = strchr(entry, '=');
	char		 id[sizeof(cfg->actions[0].id)];
	size_t		 i;
	int		 v;

	if (eq == NULL || (size_t)(eq - entry) >= sizeof(id))
		return (config_error(p, at->source, at->line,
		    "%s: \"%s\": expected id=action, e.g. "
		    "sender.login-mismatch=reject", k->name, entry));
	memcpy(id, entry, (size_t)(eq - entry));
	id[eq - entry] = '\0';
	if (rd_catalogue_find(id) == NULL)
		return (config_error(p, at->source, at->line,
		    "%s: unknown diagnosis id \"%s\"", k->name, id));
	if (config_lookup(config_actions, CONFIG_NNAMES(config_actions),
	    eq + 1, &v) == -1)
		return (config_error(p, at->source, at->line,
		    "%s: %s: \"%s\": expected none, header, reject or "
		    "tempfail", k->name, id, eq + 1));
	if ((v == RD_ACTION_REJECT || v == RD_ACTION_TEMPFAIL) &&
	    strncmp(id, "alert.", 6) == 0)
		return (config_error(p, at->source, at->line,
		    "%s: %s is an alert, not a recipient decision: it can "
		    "only be none or header", k->name, id));
	for (i = 0; i < cfg->n_actions; i++)
		if (strcmp(cfg->actions[i].id, id) == 0)
			break;
	if (i == RD_CONFIG_ACTIONS_MAX)
		return (config_error(p, at->source, at->line,
		    "%s: more than %d actions", k->name, RD_CONFIG_ACTIONS_MAX));
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
	struct rd_buf	path;
	struct rd_err	e;
	int		rc;

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
	struct rd_buf	path;
	struct rd_err	e;

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

	if (rd_restart_rate_parse(value, &p->cfg->auto_restart_rate, why,
	    sizeof(why)) != 0)
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
		    "Postfix configuration directory", k->name, value));
	return (config_store(p, k, at, value));
}

/*
 * config_read_line - the next line of r, checked, without its comment and
 * surrounding white space: 1 with *out set, 0 at the end, -1 with p->err.
 * Lines are read a byte at a time into a fixed buffer, so a huge line or a
 * NUL byte cannot make us allocate or miss anything; reading stops at the
 * first byte past CONFIG_LINE_MAX.
 */
static int
config_read_line(struct config_parse *p, struct config_reader *r, char **out)
{
	char ebuf[128];
	char *s, *e;
	size_t n = 0, i;
	int c;

	*out = r->buf; /* defined on every path, used only on 1 */
	while ((c = getc(r->fp)) != EOF && c != '\n') {
		if (n == CONFIG_LINE_MAX) {
			/* Bounded: a file with no newline is not read on. */
			n++;
			break;
		}
		r->buf[n++] = (char)c;
	}
	if (c == EOF && ferror(r->fp))
		return (
		    config_error(p, r->source, 0, "cannot read: %s",
				 config_strerror(errno, ebuf, sizeof(ebuf))));
	if (c == EOF && n == 0)
		return (0);
	r->line++;
	if (n > CONFIG_LINE_MAX)
		return (config_error(p, r->source, r->line,
				     "line longer than %d bytes",
				     CONFIG_LINE_MAX));
	for (i = 0; i < n; i++) {
		c = (unsigned char)r->buf[i];
		if (c == '\r' && i == n - 1)
			return (config_error(
			    p, r->source, r->line,
			    "carriage return at the end of the line (DOS line "
			    "endings? convert the file with dos2unix)"));
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return (config_error(
			    p, r->source, r->line,
			    "control character 0x%02x at byte %zu", c, i + 1));
	}
	if (!rd_utf8_valid(r->buf, n))
		return (config_error(p, r->source, r->line,
				     "line is not valid UTF-8"));
	/* C1 controls, U+0080..U+009F: 0xc2 0x80..0x9f in UTF-8. */
	for (i = 0; i + 1 < n; i++)
		if ((unsigned char)r->buf[i] == 0xc2 &&
		    (unsigned char)r->buf[i + 1] < 0xa0)
			return (
			    config_error(p, r->source, r->line,
					 "control character U+%04X at byte %zu",
					 (unsigned char)r->buf[i + 1], i + 1));
	r->buf[n] = '\0';

	/* '#' starts a comment at the line's start or after white space. */
	for (i = 0; i < n; i++)
		if (r->buf[i] == '#' &&
		    (i == 0 || config_is_space((unsigned char)r->buf[i - 1]))) {
			r->buf[i] = '\0';
			n = i;
			break;
		}
	for (s = r->buf; config_is_space((unsigned char)*s); s++)
		;
	for (e = r->buf + n; e > s && config_is_space((unsigned char)e[-1]);
	     e--)
		;
	*e = '\0';
	*out = s;
	return (1);
}

/* config_word - cut the next list entry from *sp (commas, white space) */
static char *
config_word(char **sp)
{
	char *s = *sp, *w;

	while (*s == ',' || config_is_space((unsigned char)*s))
		s++;
	if (*s == '\0')
		return (NULL);
	w = s;
	while (*s != '\0' && *s != ',' && !config_is_space((unsigned char)*s))
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*sp = s;
	return (w);
}

static int config_list(struct config_parse *, const struct config_key *,
		       const struct config_at *, char *);

/*
 * config_list_file - the entries of a "file:" list. A relative name is
 * relative to the config file's directory, not to the daemon's cwd.
 */
static int
config_list_file(struct config_parse *p, const struct config_key *k,
		 const struct config_at *at, const char *name)
{
	struct config_reader r;
	struct config_at fat;
	struct rd_buf path;
	const char *slash;
	char ebuf[128];
	char *s;
	int rc, saved;

	if (at->in_list_file)
		return (config_error(
		    p, at->source, at->line,
		    "%s: \"file:%s\": a file: list cannot name another file",
		    k->name, name));
	if (name[0] == '\0')
		return (config_error(p, at->source, at->line,
				     "%s: \"file:\" needs a file name",
				     k->name));
	rd_buf_init(&path);
	if (name[0] != '/' && (slash = strrchr(p->path, '/')) != NULL)
		rd_buf_add(&path, p->path, (size_t)(slash - p->path) + 1);
	rd_buf_adds(&path, name);

	memset(&r, 0, sizeof(r));
	r.source = path.data;
	if ((r.fp = rd_file_fopen(path.data, NULL)) == NULL) {
		saved = errno;
		rc = config_error(p, at->source, at->line,
				  "%s: cannot open \"%s\": %s", k->name,
				  path.data,
				  rd_file_strerror(saved, ebuf, sizeof(ebuf)));
		rd_buf_free(&path);
		return (rc);
	}
	fat.source = path.data;
	fat.key = k->name;
	fat.in_list_file = 1;
	while ((rc = config_read_line(p, &r, &s)) == 1) {
		fat.line = r.line;
		if ((rc = config_list(p, k, &fat, s)) == -1)
			break;
	}
	(void)fclose(r.fp);
	rd_buf_free(&path);
	return (rc == -1 ? -1 : 0);
}

/* config_list - every entry of a list value (destroys value) */
static int
config_list(struct config_parse *p, const struct config_key *k,
	    const struct config_at *at, char *value)
{
	char *w;

	while ((w = config_word(&value)) != NULL) {
		if (strncmp(w, "file:", 5) == 0) {
			if (config_list_file(p, k, at, w + 5) == -1)
				return (-1);
		} else if (k->set(p, k, at, w) == -1)
			return (-1);
	}
	return (0);
}

/* config_distance - Levenshtein distance of two short lower-case words */
static size_t
config_distance(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t row[32], i, j, prev, cur;

	if (blen >= sizeof(row) / sizeof(row[0]))
		return (SIZE_MAX);
	for (j = 0; j <= blen; j++)
		row[j] = j;
	for (i = 1; i <= alen; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= blen; j++) {
			cur = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j] > row[j - 1] + 1)
				row[j] = row[j - 1] + 1;
			if (row[j] > cur + 1)
				row[j] = cur + 1;
			prev = cur;
		}
	}
	return (row[blen]);
}

/*
 * config_fold - s folded to lower case, without '_' and '-' when squash
 * (so "local_domains" meets "LocalDomains"); length, or SIZE_MAX when it
 * does not fit in out.
 */
static size_t
config_fold(const char *s, size_t len, int squash, char *out, size_t outlen)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (squash && (s[i] == '_' || s[i] == '-'))
			continue;
		if (n + 1 >= outlen)
			return (SIZE_MAX);
		out[n++] = (char)config_lower((unsigned char)s[i]);
	}
	out[n] = '\0';
	return (n);
}

/* config_suggest - the known key closest to word, or NULL */
static const struct config_key *
config_suggest(const char *word, size_t wlen)
{
	const struct config_key *best = NULL;
	char w[32], ws[32], kn[32];
	size_t i, d, bestd = 3, wl, wsl, kl;

	if ((wl = config_fold(word, wlen, 0, w, sizeof(w))) == SIZE_MAX)
		return (NULL);
	wsl = config_fold(word, wlen, 1, ws, sizeof(ws));
	for (i = 0; i < CONFIG_NKEYS; i++) {
		kl =
		    config_fold(config_keys[i].name,
				strlen(config_keys[i].name), 0, kn, sizeof(kn));
		if (wsl == kl && strcmp(ws, kn) == 0)
			return (&config_keys[i]);
		if (wl > kl + 2 || kl > wl + 2)
			continue;
		if ((d = config_distance(w, wl, kn, kl)) < bestd) {
			bestd = d;
			best = &config_keys[i];
		}
	}
	return (best);
}

static const struct config_key *
config_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strlen(config_keys[i].name) == len &&
		    config_prefix(name, config_keys[i].name))
			return (&config_keys[i]);
	return (NULL);
}

/*
 * config_secret - whether k's value may hold a password (RedisURL): its
 * errors never repeat the value, since errors end up in logs.
 */
static int
config_secret(const struct config_key *k)
{
	return (k->set == config_set_redis_url);
}

/* config_unknown - the error for an unknown key, with the likely fix */
static int
config_unknown(struct config_parse *p, const struct config_at *at,
	       const char *key, const char *value)
{
	const struct config_key *k;
	const char *rest;
	size_t n;

	/* "Mode=enforce" or "Mode: enforce": a separator we do not use. */
	n = strcspn(key, "=:");
	if (key[n] != '\0' && (k = config_find(key, n)) != NULL) {
		if (config_secret(k))
			return (config_error(p, at->source, at->line,
			    "unknown key \"%.*s%c...\"; did you mean "
			    "\"%s <url>\"?", (int)n, key, key[n], k->name));
		rest = key + n + 1;
		if (*rest == '\0' && *value == '\0')
			value = "value";
		return (config_error(
		    p, at->source, at->line,
		    "unknown key \"%s\"; did you mean \"%s %s%s%s\"?", key,
		    k->name, rest, *rest != '\0' && *value != '\0' ? " " : "",
		    value));
	}
	if ((k = config_suggest(key, strlen(key))) != NULL)
		return (config_error(p, at->source, at->line,
				     "unknown key \"%s\"; did you mean \"%s\"?",
				     key, k->name));
	return (
	    config_error(p, at->source, at->line, "unknown key \"%s\"", key));
}

/* config_line - one non-empty line of the config file */
static int
config_line(struct config_parse *p, unsigned line, char *s)
{
	const struct config_key *k;
	struct config_at at;
	char *value;
	size_t klen, i;

	klen = strcspn(s, " \t");
	value = s + klen;
	if (*value != '\0')
		*value++ = '\0';
	while (config_is_space((unsigned char)*value))
		value++;

	at.source = p->path;
	at.line = line;
	at.key = NULL;
	at.in_list_file = 0;
	if ((k = config_find(s, klen)) == NULL)
		return (config_unknown(p, &at, s, value));
	at.key = k->name;
	i = (size_t)(k - config_keys);

	if (value[strspn(value, k->kind == CONFIG_LIST ? ", \t" : "")] == '\0')
		return (config_error(p, at.source, line, "%s: missing value",
				     k->name));
	if (value[0] == '=' &&
	    (value[1] == '\0' || config_is_space((unsigned char)value[1]))) {
		for (value++; config_is_space((unsigned char)*value); value++)
			;
		return (config_error(
		    p, at.source, line,
		    "%s: no '=' between a key and its value; write \"%s %s\"",
		    k->name, k->name, config_secret(k) ? "<url>" :
		    *value != '\0' ? value : "value"));
	}

	if (k->kind == CONFIG_SCALAR) {
		if (p->seen[i] != 0)
			return (config_error(p, at.source, line,
					     "%s: already set at line %u",
					     k->name, p->seen[i]));
		p->seen[i] = line;
		if (value[strcspn(value, " \t")] != '\0')
			return (config_error(p, at.source, line,
					     "%s: \"%s\": expected one value",
					     k->name,
					     config_secret(k) ? "..." : value));
		if ((k->flags & CONFIG_RESTART) != 0 &&
		    config_dup(&p->cfg->key_text[i], value) == -1)
			return (config_error(p, at.source, line,
					     "%s: out of memory", k->name));
		return (k->set(p, k, &at, value));
	}
	if (p->seen[i] == 0) {
		p->seen[i] = line;
		if (k->reset != NULL && k->reset(p) == -1)
			return (config_error(p, at.source, line,
					     "%s: out of memory", k->name));
	}
	return (config_list(p, k, &at, value));
}

/* config_dup - strdup into *slot; -1 when out of memory */
static int
config_dup(char **slot, const char *s)
{
	return ((*slot = strdup(s)) == NULL ? -1 : 0);
}

/* config_new - every default, but not yet the built-in reply rules */
static struct rd_config *
config_new(void)
{
	struct rd_config *cfg;
	struct rd_err e;
	char host[HOST_NAME_MAX + 1];
	size_t i;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (NULL);
	if ((cfg->key_text = calloc(CONFIG_NKEYS, sizeof(char *))) == NULL) {
		free(cfg);
		return (NULL);
	}
	atomic_init(&cfg->refs, 0);
	cfg->socket_mode = CONFIG_DEF_SOCKET_MODE;
	cfg->log_level = LOG_INFO;
	cfg->syslog_facility = LOG_MAIL;
	cfg->mode = RD_MODE_OBSERVE;
	cfg->tls_auth_only = false;
	cfg->auto_restart = true;
	cfg->auto_restart_rate.n = 10;
	cfg->auto_restart_rate.t = 3600;
	cfg->history_window = 86400;
	cfg->probe_window = 600;
	cfg->probe_domains = 3;
	cfg->alert_probe_attempts = 20;
	cfg->outage_window = 900;
	cfg->outage_senders = 5;
	cfg->history_cache_size = 10000;
	cfg->history_timeout_ms = 50;
	cfg->dns_timeout_ms = 500;
	cfg->redis_maxlen = 1000000;
	cfg->redis_timeout_ms = 1000;
	cfg->event_queue_size = 65536;
	cfg->spool_max_size = 256ULL * 1024 * 1024;
	cfg->spool_drop_policy = RD_SPOOL_DROP_OLDEST;
	for (i = 0; i < CONFIG_NNAMES(config_def_ports); i++)
		cfg->submission_ports[i] = config_def_ports[i];
	cfg->n_submission_ports = i;

	/* POSIX leaves a truncated gethostname() result unterminated. */
	if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
		(void)rd_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';

	if (config_dup(&cfg->socket, CONFIG_DEF_SOCKET) == -1 ||
	    config_dup(&cfg->host_name, host) == -1 ||
	    config_dup(&cfg->header_name, CONFIG_DEF_HEADER) == -1 ||
	    config_dup(&cfg->redis_stream, CONFIG_DEF_STREAM) == -1 ||
	    config_dup(&cfg->spool_dir, CONFIG_DEF_SPOOL) == -1 ||
	    (cfg->local_domains = rd_domainset_new()) == NULL ||
	    (cfg->relay_domains = rd_domainset_new()) == NULL ||
	    (cfg->trusted_networks = rd_netset_new()) == NULL ||
	    (cfg->mx_hosts = rd_domainset_new()) == NULL ||
	    (cfg->rules = rd_rules_new()) == NULL) {
		rd_config_free(cfg);
		return (NULL);
	}
	rd_err_clear(&e);
	if (rd_netset_add_list(cfg->trusted_networks, CONFIG_DEF_TRUSTED, &e) ==
	    -1)
		rd_panic("config: default TrustedNetworks \"%s\": %s",
			 CONFIG_DEF_TRUSTED, e.text);
	return (cfg);
}

/*
 * config_finish - what follows from the whole file: the built-in reply rules
 * after the admin's, the Postfix import, the checks between keys.
 */
static int
config_finish(struct rd_config *cfg, const char *path, struct rd_err *err)
{
	const char *src = path != NULL ? path : "<defaults>";

	if (rd_rules_add_default(cfg->rules, err) != 0)
		return (-1);
	if (cfg->import_postfix != NULL &&
	    rd_postconf_import(cfg, strcmp(cfg->import_postfix, "yes") == 0 ?
	    NULL : cfg->import_postfix, NULL, err) != 0)
		return (-1);
	if (rd_domainset_count(cfg->mx_hosts) == 0 && cfg->host_name != NULL &&
	    rd_domainset_add(cfg->mx_hosts, cfg->host_name, NULL) != 0)
		(void)0;	/* a host name that is no domain: no MX matches */
	if (cfg->hash_personal && cfg->hash_key_file == NULL) {
		rd_err_set(err, src, 0, "HashPersonalData needs HashKeyFile "
		    "(a file with a secret key)");
		return (-1);
	}
	return (0);
}

struct rd_config *
rd_config_defaults(void)
{
	struct rd_config *cfg;

	if ((cfg = config_new()) == NULL)
		return (NULL);
	if (config_finish(cfg, NULL, NULL) != 0) {
		rd_config_free(cfg);
		return (NULL);
	}
	return (cfg);
}

struct rd_config *
rd_config_load(const char *path, struct rd_err *err)
{
	struct config_parse p;
	struct config_reader r;
	char ebuf[128];
	char *s;
	int rc, saved;

	if (err != NULL)
		rd_err_clear(err);
	memset(&p, 0, sizeof(p));
	p.path = path;
	p.err = err;
	if ((p.cfg = config_new()) == NULL ||
	    config_dup(&p.cfg->path, path) == -1) {
		rd_config_free(p.cfg);
		(void)config_error(&p, path, 0, "out of memory");
		return (NULL);
	}

	memset(&r, 0, sizeof(r));
	r.source = path;
	if ((r.fp = rd_file_fopen(path, NULL)) == NULL) {
		saved = errno;
		(void)config_error(&p, path, 0, "cannot open: %s",
				   rd_file_strerror(saved, ebuf, sizeof(ebuf)));
		rd_config_free(p.cfg);
		return (NULL);
	}
	while ((rc = config_read_line(&p, &r, &s)) == 1) {
		if (*s == '\0')
			continue;
		if ((rc = config_line(&p, r.line, s)) == -1)
			break;
	}
	(void)fclose(r.fp);
	if (rc == -1 || config_finish(p.cfg, path, err) != 0) {
		rd_config_free(p.cfg);
		return (NULL);
	}
	return (p.cfg);
}

void
rd_config_free(struct rd_config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->socket);
	free(cfg->user_id);
	free(cfg->pid_file);
	free(cfg->host_name);
	free(cfg->header_name);
	rd_domainset_free(cfg->local_domains);
	rd_domainset_free(cfg->relay_domains);
	rd_netset_free(cfg->trusted_networks);
	free(cfg->redis_url);
	free(cfg->redis_stream);
	free(cfg->spool_dir);
	free(cfg->event_log);
	rd_rules_free(cfg->rules);
	rd_templates_free(cfg->templates);
	free(cfg->template_file);
	rd_domainset_free(cfg->mx_hosts);
	free(cfg->dns_config);
	free(cfg->import_postfix);
	for (i = 0; i < cfg->n_warnings; i++)
		free(cfg->warnings[i]);
	free(cfg->hash_key_file);
	if (cfg->key_text != NULL)
		for (i = 0; i < CONFIG_NKEYS; i++)
			free(cfg->key_text[i]);
	free(cfg->key_text);
	free(cfg);
}

size_t
rd_config_restart_changes(const struct rd_config *a, const struct rd_config *b,
    char *buf, size_t len)
{
	const char *x, *y;
	size_t i, n = 0, used = 0;

	if (len > 0)
		buf[0] = '\0';
	for (i = 0; i < CONFIG_NKEYS; i++) {
		if ((config_keys[i].flags & CONFIG_RESTART) == 0)
			continue;
		x = a->key_text != NULL ? a->key_text[i] : NULL;
		y = b->key_text != NULL ? b->key_text[i] : NULL;
		if ((x == NULL) == (y == NULL) && (x == NULL || strcmp(x, y) == 0))
			continue;
		n++;
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			    n > 1 ? ", " : "", config_keys[i].name);
	}
	return (n);
}

bool
rd_config_is_submission_port(const struct rd_config *cfg, unsigned port)
{
	size_t i;

	if (cfg == NULL)
		return (false);
	for (i = 0; i < cfg->n_submission_ports; i++)
		if (cfg->submission_ports[i] == port)
			return (true);
	return (false);
}

const char *
rd_mode_name(enum rd_mode mode)
{
	switch (mode) {
	case RD_MODE_OBSERVE:
		return ("observe");
	case RD_MODE_ANNOTATE:
		return ("annotate");
	case RD_MODE_ENFORCE:
		return ("enforce");
	}
	return ("unknown");
}

const char *
rd_action_name(enum rd_action a)
{
	switch (a) {
	case RD_ACTION_HEADER:
		return ("header");
	case RD_ACTION_REJECT:
		return ("reject");
	case RD_ACTION_TEMPFAIL:
		return ("tempfail");
	case RD_ACTION_NONE:
		break;
	}
	return ("none");
}

int
rd_config_action(const struct rd_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; cfg != NULL && i < cfg->n_actions; i++)
		if (strcmp(cfg->actions[i].id, id) == 0)
			return ((int)cfg->actions[i].action);
	return (-1);
}

const char *
rd_config_key_name(size_t i)
{
	return (i < CONFIG_NKEYS ? config_keys[i].name : NULL);
}

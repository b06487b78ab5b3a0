/*
 * config.c - the configuration file: "Key value" lines turned into an
 * immutable struct rd_config, with file:line on every error.
 *
 * Owns what a line of relaydiag.conf means: a key of the table
 * (config_keys.c, which also has each key's setter) and its value,
 * "file:" list expansion, the errors for an unknown or misspelt key; and
 * the life of a struct rd_config (defaults, load, free, what a reload
 * cannot apply). The file's syntax is kvfile.c's. Values are checked for
 * syntax only, so "relaydiag -n" gives the same answer as any user on any
 * host.
 * Threads: no globals; rd_config_load runs in the caller's thread and the
 * result is read-only once returned.
 * Memory: rd_config_defaults and rd_config_load allocate the struct and
 * everything it points to; rd_config_free frees it all.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "config_int.h"
#include "relaydiag/buf.h"
#include "relaydiag/file.h"
#include "relaydiag/kvfile.h"
#include "relaydiag/logline.h"
#include "relaydiag/mtaview.h"
#include "relaydiag/postconf.h"
#include "relaydiag/rules.h"
#include "relaydiag/templates.h"
#include "relaydiag/text.h"

#define CONFIG_DEF_SOCKET "local:/run/relaydiag/relaydiag.sock"
#define CONFIG_DEF_SOCKET_MODE 0660
#define CONFIG_DEF_TRUSTED "127.0.0.0/8 [::1]/128"
#define CONFIG_DEF_STREAM "relaydiag:events"
#define CONFIG_DEF_SPOOL "/var/spool/relaydiag"
#define CONFIG_DEF_HEADER "X-Relay-Diagnostic"
static const unsigned short config_def_ports[] = {587, 465};

#define CONFIG_NKEYS config_nkeys
#define CONFIG_NNAMES(t) (sizeof(t) / sizeof((t)[0]))

int
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
	struct rd_kv_reader r;
	struct config_at fat;
	struct rd_buf path;
	const char *slash;
	char ebuf[128];
	char *s;
	int rc, saved;

	if (at->in_list_file)
		return (config_error(p, at->source, at->line,
		    "%s: \"file:%s\": a file: list cannot name another file",
		    k->name, name));
	if (name[0] == '\0')
		return (config_error(p, at->source, at->line,
		    "%s: \"file:\" needs a file name", k->name));
	rd_buf_init(&path);
	if (name[0] != '/' && (slash = strrchr(p->path, '/')) != NULL)
		rd_buf_add(&path, p->path, (size_t)(slash - p->path) + 1);
	rd_buf_adds(&path, name);

	if (rd_kv_open(&r, path.data) != 0) {
		saved = errno;
		rc = config_error(p, at->source, at->line,
		    "%s: cannot open \"%s\": %s", k->name, path.data,
		    rd_file_strerror(saved, ebuf, sizeof(ebuf)));
		rd_buf_free(&path);
		return (rc);
	}
	fat.source = path.data;
	fat.key = k->name;
	fat.in_list_file = 1;
	while ((rc = rd_kv_next(&r, &s, p->err)) == 1) {
		fat.line = r.line;
		if ((rc = config_list(p, k, &fat, s)) == -1)
			break;
	}
	rd_kv_close(&r);
	rd_buf_free(&path);
	return (rc == -1 ? -1 : 0);
}

/* config_list - every entry of a list value (destroys value) */
static int
config_list(struct config_parse *p, const struct config_key *k,
    const struct config_at *at, char *value)
{
	char *w;

	while ((w = rd_kv_word(&value)) != NULL) {
		if (strncmp(w, "file:", 5) == 0) {
			if (config_list_file(p, k, at, w + 5) == -1)
				return (-1);
		} else if (k->set(p, k, at, w) == -1)
			return (-1);
	}
	return (0);
}

static const struct config_key *
config_find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (strlen(config_keys[i].name) == len &&
		    rd_kv_prefix(name, config_keys[i].name))
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
	return ((k->flags & CONFIG_SECRET) != 0);
}

/* config_unknown - the error for an unknown key, with the likely fix */
static int
config_unknown(struct config_parse *p, const struct config_at *at,
    const char *key, const char *value)
{
	const struct config_key *k;
	const char *rest;
	size_t n, i;

	/* "Mode=enforce" or "Mode: enforce": a separator we do not use. */
	n = strcspn(key, "=:");
	if (key[n] != '\0' && (k = config_find(key, n)) != NULL) {
		if (config_secret(k))
			return (config_error(p, at->source, at->line,
			    "unknown key \"%.*s%c...\"; did you mean "
			    "\"%s <url>\"?",
			    (int)n, key, key[n], k->name));
		rest = key + n + 1;
		if (*rest == '\0' && *value == '\0')
			value = "value";
		return (config_error(p, at->source, at->line,
		    "unknown key \"%s\"; did you mean \"%s %s%s%s\"?", key,
		    k->name, rest, *rest != '\0' && *value != '\0' ? " " : "",
		    value));
	}
	if ((i = rd_kv_suggest(key, strlen(key), rd_config_key_name,
		 config_nkeys)) != (size_t)-1)
		return (config_error(p, at->source, at->line,
		    "unknown key \"%s\"; did you mean \"%s\"?", key,
		    config_keys[i].name));
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
	while (rd_kv_is_space((unsigned char)*value))
		value++;

	at.source = p->path;
	at.line = line;
	at.key = NULL;
	at.in_list_file = 0;
	if ((k = config_find(s, klen)) == NULL)
		return (config_unknown(p, &at, s, value));
	at.key = k->name;
	i = (size_t)(k - config_keys);

	if (value[strspn(value, k->kind != CONFIG_SCALAR ? ", \t" : "")] ==
	    '\0')
		return (config_error(
		    p, at.source, line, "%s: missing value", k->name));
	if (value[0] == '=' &&
	    (value[1] == '\0' || rd_kv_is_space((unsigned char)value[1]))) {
		for (value++; rd_kv_is_space((unsigned char)*value); value++)
			;
		return (config_error(p, at.source, line,
		    "%s: no '=' between a key and its value; write \"%s %s\"",
		    k->name, k->name,
		    config_secret(k) ? "<url>"
		    : *value != '\0' ? value
				     : "value"));
	}

	if (k->kind == CONFIG_SCALAR) {
		if (p->seen[i] != 0)
			return (config_error(p, at.source, line,
			    "%s: already set at line %u", k->name, p->seen[i]));
		p->seen[i] = line;
		if (value[strcspn(value, " \t")] != '\0')
			return (config_error(p, at.source, line,
			    "%s: \"%s\": expected one value", k->name,
			    config_secret(k) ? "..." : value));
		if ((k->flags & CONFIG_RESTART) != 0 &&
		    config_dup(&p->cfg->key_text[i], value) == -1)
			return (config_error(
			    p, at.source, line, "%s: out of memory", k->name));
		return (k->set(p, k, &at, value));
	}
	if (k->kind == CONFIG_LINE)
		return (k->set(p, k, &at, value));
	if (p->seen[i] == 0) {
		p->seen[i] = line;
		if (k->reset != NULL && k->reset(p) == -1)
			return (config_error(
			    p, at.source, line, "%s: out of memory", k->name));
	}
	return (config_list(p, k, &at, value));
}

int
config_listener_take(struct rd_config *cfg, struct rd_listener *l)
{
	struct rd_listener *v;

	v = reallocarray(cfg->listeners, cfg->n_listeners + 1, sizeof(*v));
	if (v == NULL)
		return (-1);
	cfg->listeners = v;
	v[cfg->n_listeners++] = *l;
	memset(l, 0, sizeof(*l));
	return (0);
}

const struct rd_listener *
rd_config_listener(const struct rd_config *cfg, const char *addr, unsigned port)
{
	return (rd_listener_find(cfg->listeners, cfg->n_listeners, addr, port));
}

/* config_dup - strdup into *slot; -1 when out of memory */
int
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
	cfg->log_formats = RD_LOGFMT_POSTFIX;
	cfg->authfail_window = 600;
	cfg->outbound_window = 3600;
	cfg->outbound_domains = 5;
	cfg->history_cache_size = 10000;
	cfg->history_timeout_ms = 50;
	cfg->dns_timeout_ms = 500;
	cfg->redis_maxlen = 1000000;
	cfg->redis_timeout_ms = 1000;
	cfg->event_queue_size = 65536;
	cfg->spool_max_size = 256ULL * 1024 * 1024;
	cfg->spool_drop_policy = RD_SPOOL_DROP_OLDEST;
	cfg->strip_forged = RD_STRIP_AUTO;
	cfg->strip_forged_headers = true;
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
	    (cfg->relay_host_names = rd_domainset_new()) == NULL ||
	    (cfg->relay_host_ips = rd_netset_new()) == NULL ||
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
 * config_strip_decide - who removes forged copies of HeaderName, and why
 * (auto with ImportPostfix: decided by rd_config_import_postfix)
 */
static void
config_strip_decide(struct rd_config *cfg)
{
	const char *why = NULL;

	switch (cfg->strip_forged) {
	case RD_STRIP_YES:
		cfg->strip_forged_headers = true;
		why = "StripForgedHeaders yes";
		break;
	case RD_STRIP_NO:
		cfg->strip_forged_headers = false;
		why = "StripForgedHeaders no: the MTA removes them";
		break;
	case RD_STRIP_AUTO:
		if (cfg->import_postfix != NULL)
			return;
		cfg->strip_forged_headers = true;
		why = "auto, and without ImportPostfix relaydiag cannot see "
		      "the MTA's header_checks";
		break;
	}
	(void)snprintf(
	    cfg->strip_forged_why, sizeof(cfg->strip_forged_why), "%s", why);
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
	    rd_config_import_postfix(cfg,
		strcmp(cfg->import_postfix, "yes") == 0 ? NULL
							: cfg->import_postfix,
		NULL, err) != 0)
		return (-1);
	config_strip_decide(cfg);
	if (rd_domainset_count(cfg->mx_hosts) == 0 && cfg->host_name != NULL &&
	    rd_domainset_add(cfg->mx_hosts, cfg->host_name, NULL) != 0)
		(void)0; /* a host name that is no domain: no MX matches */
	if (cfg->hash_personal && cfg->hash_key_file == NULL) {
		rd_err_set(err, src, 0,
		    "HashPersonalData needs HashKeyFile "
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
	struct rd_kv_reader r;
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

	if (rd_kv_open(&r, path) != 0) {
		saved = errno;
		(void)config_error(&p, path, 0, "cannot open: %s",
		    rd_file_strerror(saved, ebuf, sizeof(ebuf)));
		rd_config_free(p.cfg);
		return (NULL);
	}
	while ((rc = rd_kv_next(&r, &s, p.err)) == 1) {
		if (*s == '\0')
			continue;
		if ((rc = config_line(&p, r.line, s)) == -1)
			break;
	}
	rd_kv_close(&r);
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
	free(cfg->policy_socket);
	free(cfg->metrics_listen);
	free(cfg->log_file);
	free(cfg->log_journal);
	rd_domainset_free(cfg->relay_host_names);
	rd_netset_free(cfg->relay_host_ips);
	for (i = 0; i < cfg->n_listeners; i++)
		rd_listener_clear(&cfg->listeners[i]);
	free(cfg->listeners);
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
rd_config_restart_changes(
    const struct rd_config *a, const struct rd_config *b, char *buf, size_t len)
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
		if ((x == NULL) == (y == NULL) &&
		    (x == NULL || strcmp(x, y) == 0))
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

/* config_warn - add one warning text (taken) to cfg, the last slot saying
   how many did not fit */
static void
config_warn(struct rd_config *cfg, char *w, size_t *dropped)
{
	if (cfg->n_warnings < RD_CONFIG_WARNINGS_MAX) {
		cfg->warnings[cfg->n_warnings++] = w;
		return;
	}
	free(w);
	(*dropped)++;
}

int
rd_config_merge_view(
    struct rd_config *cfg, struct rd_mta_view *v, struct rd_err *err)
{
	unsigned short ports[RD_CONFIG_PORTS_MAX];
	struct rd_buf b;
	size_t i, k, n = 0, dropped = v->dropped;
	struct rd_err e;

	if (rd_domainset_merge(cfg->local_domains, v->local_domains, err) !=
		0 ||
	    rd_domainset_merge(cfg->relay_domains, v->relay_domains, err) != 0)
		return (-1);
	if (v->trusted != NULL) { /* Postfix's list replaces our default */
		rd_netset_free(cfg->trusted_networks);
		cfg->trusted_networks = v->trusted;
		v->trusted = NULL;
	}
	if (v->tls_auth_only >= 0)
		cfg->tls_auth_only = v->tls_auth_only == 1;
	for (i = 0; i < v->nwarnings; i++) {
		config_warn(cfg, v->warnings[i], &dropped);
		v->warnings[i] = NULL;
	}
	v->nwarnings = 0;
	if (cfg->mx_hosts != NULL && rd_domainset_count(cfg->mx_hosts) == 0 &&
	    v->myhostname[0] != '\0') {
		rd_err_clear(&e);
		if (rd_domainset_add(cfg->mx_hosts, v->myhostname, &e) == -1) {
			rd_buf_init(&b);
			rd_buf_printf(&b,
			    "ImportPostfix: myhostname: \"%s\": %s; "
			    "set MXHosts",
			    v->myhostname, e.text);
			config_warn(cfg, rd_buf_steal(&b), &dropped);
		}
	}
	for (i = 0; i < v->nlisteners; i++) {
		if (!v->listeners[i].submission || v->listeners[i].port == 0)
			continue;
		for (k = 0; k < n && ports[k] != v->listeners[i].port; k++)
			;
		if (k < n)
			continue;
		if (n == RD_CONFIG_PORTS_MAX) {
			rd_buf_init(&b);
			rd_buf_printf(&b,
			    "ImportPostfix: master.cf: more than %d "
			    "submission ports; port %u ignored",
			    RD_CONFIG_PORTS_MAX, v->listeners[i].port);
			config_warn(cfg, rd_buf_steal(&b), &dropped);
			continue;
		}
		ports[n++] = (unsigned short)v->listeners[i].port;
	}
	if (n > 0) { /* none: keep ours (no submission listener) */
		memcpy(cfg->submission_ports, ports, n * sizeof(ports[0]));
		cfg->n_submission_ports = n;
	}
	/* relayhost: remote.relayhost-auth when it refuses our relaying */
	if (v->relayhost[0] != '\0') {
		rd_err_clear(&e);
		if (rd_netset_add(cfg->relay_host_ips, v->relayhost, &e) != 0)
			(void)rd_domainset_add(
			    cfg->relay_host_names, v->relayhost, &e);
	}
	/* After the Listener lines: a hand-kept line wins (found first). */
	for (i = 0; i < v->nlisteners; i++)
		if (config_listener_take(cfg, &v->listeners[i]) != 0) {
			rd_err_set(err, "ImportPostfix", 0, "out of memory");
			return (-1);
		}
	v->nlisteners = 0;
	if (dropped > 0) {
		rd_buf_init(&b);
		rd_buf_printf(&b,
		    "ImportPostfix: %zu more warnings not shown; "
		    "run \"postconf -n\" to see the whole configuration",
		    dropped + 1);
		free(cfg->warnings[RD_CONFIG_WARNINGS_MAX - 1]);
		cfg->warnings[RD_CONFIG_WARNINGS_MAX - 1] = rd_buf_steal(&b);
	}
	return (0);
}

int
rd_config_import_postfix(struct rd_config *cfg, const char *config_dir,
    const char *postconf_bin, struct rd_err *err)
{
	struct rd_mta_view view;
	int rc;

	char postmap[PATH_MAX], why[sizeof(cfg->strip_forged_why) - 64];
	const char *slash;

	rc = rd_postconf_view(&view, config_dir, postconf_bin, err);
	if (rc == 0)
		rc = rd_config_merge_view(cfg, &view, err);
	if (rc == 0 && cfg->strip_forged == RD_STRIP_AUTO) {
		/* postmap beside the postconf given, else from PATH */
		slash =
		    postconf_bin != NULL ? strrchr(postconf_bin, '/') : NULL;
		(void)snprintf(postmap, sizeof(postmap), "%.*spostmap",
		    slash != NULL ? (int)(slash - postconf_bin + 1) : 0,
		    slash != NULL ? postconf_bin : "");
		cfg->strip_forged_headers =
		    rd_postconf_header_probe(&view, cfg->header_name,
			config_dir, postmap, why, sizeof(why)) != 1;
		(void)snprintf(cfg->strip_forged_why,
		    sizeof(cfg->strip_forged_why), "auto, and %s", why);
	}
	rd_mta_view_free(&view);
	return (rc);
}

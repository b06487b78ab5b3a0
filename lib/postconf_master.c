/*
 * postconf_master.c - master.cf's smtpd listeners as postconf -M and
 * postconf -P -x print them, each with its effective settings: main.cf's
 * values overridden by its -o options (postconf -x has expanded $names in
 * both). A listener is a submission port when it is named so, or when it
 * demands a login: SASL with TLS required or wrapped, or a restriction
 * list that lets only logins through (restrict.c).
 *
 * Also which header_checks apply to the mail of the listeners that have
 * milters (x->view's hc_maps, hc_off): cleanup(8) applies them, so a
 * listener's own are those of its cleanup service (cleanup_service_name,
 * that service's -o header_checks, else main.cf's), unless its
 * receive_override_options says no_header_body_checks.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "relaydiag/buf.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/file.h"
#include "relaydiag/netset.h"
#include "relaydiag/postconf.h"
#include "relaydiag/restrict.h"
#include "relaydiag/text.h"
#include "postconf_int.h"

/* pc_named_submission - a service name that is a submission port */
static bool
pc_named_submission(const char *service)
{
	static const char *const names[] = {
	    "submission", "submissions", "smtps", "ssmtp", "587", "465"};
	const char *p;
	size_t i;

	p = strrchr(service, ':');
	p = p != NULL ? p + 1 : service;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(p, names[i]) == 0)
			return (true);
	return (false);
}

/* pc_find_service - the inet smtpd service called name, or NULL */
static struct rd_listener *
pc_find_service(struct rd_listener *sv, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(sv[i].name, name) == 0)
			return (&sv[i]);
	return (NULL);
}

static bool
pc_yes(const char *value)
{
	return (value != NULL && rd_strcasecmp_ascii(value, "yes") == 0);
}

/* pc_set_list - a listener's copy of a restriction list (NULL: none) */
static void
pc_set_list(struct pc_ctx *x, char **dst, const char *value, const char *svc,
    const char *param)
{
	free(*dst);
	*dst = NULL;
	if (value != NULL && (*dst = strdup(value)) == NULL)
		pc_warn(
		    x, "master.cf: service %s: %s: out of memory", svc, param);
}

/* pc_listener_main - main.cf's values, before the -o overrides */
static void
pc_listener_main(struct pc_ctx *x, struct rd_listener *s, char **vals)
{
	s->imported = true;
	s->sasl_enabled = pc_yes(vals[PC_SASL]);
	s->tls_auth_only = pc_yes(vals[PC_TLSAUTH]);
	s->tls_required =
	    vals[PC_TLSLEVEL] != NULL &&
	    rd_strcasecmp_ascii(vals[PC_TLSLEVEL], "encrypt") == 0;
	s->tls_required |= pc_yes(vals[PC_WRAPPER]);
	pc_set_list(x, &s->client_restrictions, vals[PC_CLIENTR], s->name,
	    "smtpd_client_restrictions");
	pc_set_list(x, &s->relay_restrictions, vals[PC_RELAYR], s->name,
	    "smtpd_relay_restrictions");
	pc_set_list(x, &s->recipient_restrictions, vals[PC_RCPTR], s->name,
	    "smtpd_recipient_restrictions");
}

/* pc_listener_override - one "-o name=value" of service s */
static void
pc_listener_override(
    struct pc_ctx *x, struct rd_listener *s, const char *name, char *value)
{
	struct pc_list l;

	if (strcmp(name, "smtpd_tls_wrappermode") == 0)
		s->tls_required |= pc_yes(value);
	else if (strcmp(name, "smtpd_sasl_auth_enable") == 0)
		s->sasl_enabled = pc_yes(value);
	else if (strcmp(name, "smtpd_tls_auth_only") == 0)
		s->tls_auth_only = pc_yes(value);
	else if (strcmp(name, "smtpd_tls_security_level") == 0)
		s->tls_required = rd_strcasecmp_ascii(value, "encrypt") == 0;
	else if (strcmp(name, "smtpd_client_restrictions") == 0)
		pc_set_list(x, &s->client_restrictions, value, s->name, name);
	else if (strcmp(name, "smtpd_relay_restrictions") == 0)
		pc_set_list(x, &s->relay_restrictions, value, s->name, name);
	else if (strcmp(name, "smtpd_recipient_restrictions") == 0)
		pc_set_list(
		    x, &s->recipient_restrictions, value, s->name, name);
	else if (strcmp(name, "mynetworks") == 0) {
		rd_netset_free(s->mynetworks);
		free(s->mynetworks_text);
		s->mynetworks_text = strdup(value);
		if ((s->mynetworks = rd_netset_new()) == NULL)
			return;
		memset(&l, 0, sizeof(l));
		l.idx = PC_MYNET;
		l.param = "mynetworks";
		l.key = "a Listener line";
		l.what = "networks";
		l.net = s->mynetworks;
		(void)pc_list_value(x, &l, value);
	}
}

/* What decides the header_checks of each listener; values point into
   postconf's output. */
struct pc_hc {
	const char *recv_override[RD_MTA_LISTENERS_MAX]; /* -o, or NULL */
	const char *milters[RD_MTA_LISTENERS_MAX];
	const char *cleanup[RD_MTA_LISTENERS_MAX];
	struct {
		const char *service, *value;
	} own[RD_MTA_LISTENERS_MAX]; /* "svc/unix/header_checks = value" */
	size_t n_own;
};

/* pc_hc_override - a listener's -o that decides its header_checks */
static bool
pc_hc_override(struct pc_hc *hc, size_t i, const char *name, const char *value)
{
	if (strcmp(name, "receive_override_options") == 0)
		hc->recv_override[i] = value;
	else if (strcmp(name, "smtpd_milters") == 0)
		hc->milters[i] = value;
	else if (strcmp(name, "cleanup_service_name") == 0)
		hc->cleanup[i] = value;
	else
		return (false);
	return (true);
}

/* pc_hc_off - the first reason why some mail escapes header_checks */
static void pc_hc_off(struct rd_mta_view *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pc_hc_off(struct rd_mta_view *v, const char *fmt, ...)
{
	va_list ap;

	if (v->hc_off[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(v->hc_off, sizeof(v->hc_off), fmt, ap);
	va_end(ap);
}

/*
 * pc_header_checks - the header_checks that cleanup applies to the mail
 * of each listener with milters, into v->hc_maps (distinct values), or
 * why some escapes them into v->hc_off
 */
static void
pc_header_checks(struct pc_ctx *x, const struct pc_hc *hc, char **vals)
{
	struct rd_mta_view *v = x->view;
	const char *milters, *ro, *cleanup, *maps;
	size_t i, k;

	for (i = 0; i < v->nlisteners; i++) {
		milters =
		    hc->milters[i] != NULL ? hc->milters[i] : vals[PC_MILTERS];
		if (milters == NULL || milters[strspn(milters, PC_SEP)] == '\0')
			continue; /* no milter there, relaydiag included */
		ro = hc->recv_override[i] != NULL ? hc->recv_override[i]
						  : vals[PC_RECVOVR];
		if (pc_has_word(ro, "no_header_body_checks")) {
			pc_hc_off(v,
			    "service %s: receive_override_options has "
			    "no_header_body_checks",
			    v->listeners[i].name);
			continue;
		}
		cleanup = hc->cleanup[i] != NULL     ? hc->cleanup[i]
			  : vals[PC_CLEANUP] != NULL ? vals[PC_CLEANUP]
						     : "cleanup";
		maps = vals[PC_HDRCHK];
		for (k = 0; k < hc->n_own; k++)
			if (strcmp(hc->own[k].service, cleanup) == 0)
				maps = hc->own[k].value;
		if (maps == NULL || maps[strspn(maps, PC_SEP)] == '\0') {
			pc_hc_off(v,
			    "service %s: its cleanup service %s has no "
			    "header_checks",
			    v->listeners[i].name, cleanup);
			continue;
		}
		for (k = 0; k < v->n_hc_maps; k++)
			if (strcmp(v->hc_maps[k], maps) == 0)
				break;
		if (k < v->n_hc_maps)
			continue;
		if (k == RD_MTA_HC_MAX) {
			pc_hc_off(v, "more than %d different header_checks",
			    RD_MTA_HC_MAX);
			continue;
		}
		if ((v->hc_maps[k] = strdup(maps)) == NULL) {
			pc_hc_off(v, "out of memory");
			continue;
		}
		v->n_hc_maps++;
	}
	if (v->n_hc_maps == 0)
		pc_hc_off(v, "no smtpd listener has smtpd_milters");
}

/*
 * pc_services - the inet smtpd listeners of master.cf (postconf -M), with
 * main.cf's settings overridden by their -o options (postconf -P -x),
 * their port, and whether each is a submission port
 */
void
pc_services(struct pc_ctx *x, char *mtext, char *ptext, char *vals[PC_NPARAMS])
{
	struct rd_mta_view *v = x->view;
	struct rd_listener *s;
	struct pc_hc hc;
	char *p, *line, *f[8], *tok, *value, *slash, *type;
	const char *cmd;
	struct rd_err e;
	size_t nf, i;

	memset(&hc, 0, sizeof(hc));
	/* service type private unpriv chroot wakeup maxproc command args */
	for (p = mtext; (line = pc_line(&p)) != NULL;) {
		for (nf = 0; nf < 8 && (tok = pc_token(&line)) != NULL; nf++)
			f[nf] = tok;
		if (nf < 8 || strcmp(f[1], "inet") != 0)
			continue;
		cmd = strrchr(f[7], '/');
		cmd = cmd != NULL ? cmd + 1 : f[7];
		if (strcmp(cmd, "smtpd") != 0)
			continue;
		if (v->nlisteners == RD_MTA_LISTENERS_MAX) {
			pc_warn(x,
			    "master.cf: more than %d smtpd services; describe "
			    "the others with Listener lines",
			    RD_MTA_LISTENERS_MAX);
			break;
		}
		s = &v->listeners[v->nlisteners];
		/* A name longer than the slot is no service of ours. */
		if (rd_listener_set_name(s, f[0], &e) != 0) {
			pc_warn(
			    x, "master.cf: service %.64s...: %s", f[0], e.text);
			continue;
		}
		pc_listener_main(x, s, vals);
		v->nlisteners++;
	}
	/* service/type/name = value */
	for (p = ptext; (line = pc_line(&p)) != NULL;) {
		if (pc_split(line, &value) == -1 ||
		    (slash = strrchr(line, '/')) == NULL)
			continue;
		*slash = '\0';
		if ((type = strrchr(line, '/')) == NULL)
			continue;
		*type = '\0';
		if (strcmp(type + 1, "inet") != 0) {
			/* a cleanup service's own header_checks */
			if (strcmp(slash + 1, "header_checks") == 0 &&
			    hc.n_own < RD_MTA_LISTENERS_MAX) {
				hc.own[hc.n_own].service = line;
				hc.own[hc.n_own++].value = value;
			}
			continue;
		}
		if ((s = pc_find_service(v->listeners, v->nlisteners, line)) ==
		    NULL)
			continue;
		if (!pc_hc_override(
			&hc, (size_t)(s - v->listeners), slash + 1, value))
			pc_listener_override(x, s, slash + 1, value);
	}
	pc_header_checks(x, &hc, vals);
	for (i = 0; i < v->nlisteners; i++) {
		s = &v->listeners[i];
		s->sasl_required =
		    s->sasl_enabled &&
		    (rd_restrict_requires_sasl(s->client_restrictions) ||
			rd_restrict_requires_sasl(s->relay_restrictions) ||
			rd_restrict_requires_sasl(s->recipient_restrictions));
		s->submission =
		    pc_named_submission(s->name) ||
		    (s->sasl_enabled && (s->tls_required || s->sasl_required));
		pc_client_tables(x, s);
		if (s->port == 0)
			pc_warn(x,
			    "master.cf: service %s: not a known TCP port; "
			    "describe it with a Listener line",
			    s->name);
	}
}

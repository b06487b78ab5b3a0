/*
 * postconf_master.c - master.cf's smtpd listeners as postconf -M and
 * postconf -P -x print them: which are submission ports (named submission
 * or submissions, or with -o smtpd_sasl_auth_enable=yes and TLS required
 * or wrapped).
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
#include "relaydiag/text.h"
#include "postconf_int.h"
/* pc_port - a master.cf service name as a TCP port; 0 if unknown */
static unsigned
pc_port(const char *service)
{
	struct servent se, *res = NULL;
	const char *p;
	char buf[1024];
	unsigned long v;
	char *end;

	if ((p = strrchr(service, ':')) != NULL) /* "host:port" */
		p++;
	else
		p = service;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (*end != '\0' || errno != 0 || v == 0 || v > 65535)
			return (0);
		return ((unsigned)v);
	}
	if (getservbyname_r(p, "tcp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return (0);
	return ((unsigned)ntohs((unsigned short)res->s_port));
}

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
static struct rd_mta_listener *
pc_find_service(struct rd_mta_listener *sv, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(sv[i].name, name) == 0)
			return (&sv[i]);
	return (NULL);
}

/*
 * pc_services - the inet smtpd listeners of master.cf (postconf -M), with
 * their -o overrides (postconf -P -x), their port, and whether each looks
 * like submission, by name or by those overrides
 */
void
pc_services(struct pc_ctx *x, char *mtext, char *ptext)
{
	struct rd_mta_view *v = x->view;
	struct rd_mta_listener *s;
	char *p, *line, *f[8], *tok, *value, *slash, *type;
	const char *cmd;
	size_t nf, i;

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
			    "master.cf: more than %d smtpd services; list "
			    "submission ports in SubmissionPorts",
			    RD_MTA_LISTENERS_MAX);
			break;
		}
		/* A name longer than the slot is no service of ours. */
		(void)rd_strlcpy(v->listeners[v->nlisteners++].name, f[0],
		    sizeof(v->listeners[0].name));
	}
	/* service/type/name = value */
	for (p = ptext; (line = pc_line(&p)) != NULL;) {
		if (pc_split(line, &value) == -1 ||
		    (slash = strrchr(line, '/')) == NULL)
			continue;
		*slash = '\0';
		if ((type = strrchr(line, '/')) == NULL ||
		    strcmp(type + 1, "inet") != 0)
			continue;
		*type = '\0';
		if ((s = pc_find_service(v->listeners, v->nlisteners, line)) ==
		    NULL)
			continue;
		if (strcmp(slash + 1, "smtpd_tls_wrappermode") == 0)
			s->wrapper = rd_strcasecmp_ascii(value, "yes") == 0;
		else if (strcmp(slash + 1, "smtpd_sasl_auth_enable") == 0)
			s->sasl = rd_strcasecmp_ascii(value, "yes") == 0;
		else if (strcmp(slash + 1, "smtpd_tls_security_level") == 0)
			s->encrypt = rd_strcasecmp_ascii(value, "encrypt") == 0;
	}
	for (i = 0; i < v->nlisteners; i++) {
		s = &v->listeners[i];
		s->port = pc_port(s->name);
		s->submission = pc_named_submission(s->name) || s->wrapper ||
				(s->sasl && s->encrypt);
		if (s->submission && s->port == 0)
			pc_warn(x,
			    "master.cf: service %s: not a known TCP port; list "
			    "its port in SubmissionPorts",
			    s->name);
	}
}

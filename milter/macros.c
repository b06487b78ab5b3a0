/*
 * macros.c - which macros relaydiag asks the MTA for at each stage
 * (smfi_setsymlist), and reading them into plain structs for lib/.
 *
 * Postfix sends only the macros in milter_*_macros or asked for with
 * smfi_setsymlist, and its defaults lack {daemon_port} and {client_addr} at
 * CONNECT (milter-protocol-notes.md); Sendmail honours the list too. A
 * macro the MTA does not send reads as NULL. smfi_getsymval searches the
 * stages newest first, so CONNECT macros are still readable at RCPT.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter.h"

static const struct {
	int stage;
	const char *list;
} macros_lists[] = {
    {SMFIM_CONNECT, "j _ {daemon_name} {daemon_addr} {daemon_port} "
		    "{client_addr} {client_port} {client_name} {client_ptr}"},
    {SMFIM_HELO, "{tls_version} {cipher} {cipher_bits} {cert_subject}"},
    {SMFIM_ENVFROM, "i {auth_type} {auth_authen} {tls_version} {cipher} "
		    "{cipher_bits} {cert_subject}"},
    {SMFIM_ENVRCPT, "i {rcpt_mailer} {rcpt_host} {rcpt_addr}"},
    {SMFIM_EOM, "i"},
};

int
macros_request(SMFICTX *ctx)
{
	size_t i;

	for (i = 0; i < sizeof(macros_lists) / sizeof(macros_lists[0]); i++)
		if (smfi_setsymlist(ctx, macros_lists[i].stage,
			(char *)(uintptr_t)macros_lists[i].list) != MI_SUCCESS)
			return (-1);
	return (0);
}

static const char *
macros_get(SMFICTX *ctx, const char *name)
{
	return (smfi_getsymval(ctx, (char *)(uintptr_t)name));
}

static unsigned
macros_port(SMFICTX *ctx, const char *name)
{
	const char *v = macros_get(ctx, name);
	char *end;
	unsigned long p;

	if (v == NULL)
		return (0);
	p = strtoul(v, &end, 10);
	return (*end == '\0' && p <= 65535 ? (unsigned)p : 0);
}

void
macros_connect(SMFICTX *ctx, const char *hostname, const struct sockaddr *sa,
    struct rd_conn_info *ci, char *ipbuf, size_t iplen)
{
	memset(ci, 0, sizeof(*ci));
	ipbuf[0] = '\0';
	if (sa != NULL && sa->sa_family == AF_INET)
		inet_ntop(AF_INET,
		    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		    ipbuf, iplen);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		    ipbuf, iplen);
	ci->client_ip =
	    ipbuf[0] != '\0' ? ipbuf : macros_get(ctx, "{client_addr}");
	ci->client_port = macros_port(ctx, "{client_port}");
	ci->client_name = macros_get(ctx, "{client_name}");
	if (ci->client_name == NULL)
		ci->client_name = hostname;
	ci->client_ptr = macros_get(ctx, "{client_ptr}");
	ci->daemon_name = macros_get(ctx, "{daemon_name}");
	ci->daemon_addr = macros_get(ctx, "{daemon_addr}");
	ci->daemon_port = macros_port(ctx, "{daemon_port}");
	ci->mta_host = macros_get(ctx, "j");
}

void
macros_tls(SMFICTX *ctx, struct rd_tls_info *tls)
{
	tls->version = macros_get(ctx, "{tls_version}");
	tls->cipher = macros_get(ctx, "{cipher}");
	tls->bits = macros_get(ctx, "{cipher_bits}");
	tls->cert_subject = macros_get(ctx, "{cert_subject}");
}

void
macros_mail(SMFICTX *ctx, char **argv, struct rd_mail_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->sender = argv != NULL ? argv[0] : NULL;
	mi->queue_id = macros_get(ctx, "i");
	mi->auth_type = macros_get(ctx, "{auth_type}");
	mi->auth_authen = macros_get(ctx, "{auth_authen}");
	macros_tls(ctx, &mi->tls);
}

void
macros_rcpt(SMFICTX *ctx, char **argv, struct rd_rcpt_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->rcpt = argv != NULL ? argv[0] : NULL;
	ri->mailer = macros_get(ctx, "{rcpt_mailer}");
	ri->host = macros_get(ctx, "{rcpt_host}");
	ri->addr = macros_get(ctx, "{rcpt_addr}");
	ri->queue_id = macros_get(ctx, "i");
}

const char *
macros_queue_id(SMFICTX *ctx)
{
	return (macros_get(ctx, "i"));
}

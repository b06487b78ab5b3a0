/*
 * sockspec.c - the milter socket's spec (sockspec.h): one parser for the
 * configuration, the daemon and the MTA-side tools.
 */
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "relaydiag/sockspec.h"

/* sock_prefix - spec starts with p, in any case: the rest, or NULL */
static const char *
sock_prefix(const char *spec, const char *p)
{
	size_t n = strlen(p);

	return (strncasecmp(spec, p, n) == 0 ? spec + n : NULL);
}

int
rd_sockspec_parse(
    const char *spec, struct rd_sockspec *out, char *why, size_t whylen)
{
	const char *rest, *at, *q;
	unsigned long port = 0;
	size_t n;

	memset(out, 0, sizeof(*out));
	if ((rest = sock_prefix(spec, "unix:")) != NULL ||
	    (rest = sock_prefix(spec, "local:")) != NULL) {
		if (rest[0] != '/') {
			snprintf(why, whylen,
			    "\"%s\": the socket path must be "
			    "absolute",
			    spec);
			return (-1);
		}
		/* bind() takes at most sizeof(sun_path) - 1 bytes. */
		if (strlen(rest) >= sizeof(out->path)) {
			snprintf(why, whylen,
			    "socket path longer than %zu "
			    "bytes",
			    sizeof(out->path) - 1);
			return (-1);
		}
		out->family = RD_SOCK_UNIX;
		memcpy(out->path, rest, strlen(rest) + 1);
		return (0);
	}
	if ((rest = sock_prefix(spec, "inet:")) != NULL ||
	    (rest = sock_prefix(spec, "inet6:")) != NULL) {
		out->family = rest - spec == 6 ? RD_SOCK_INET6 : RD_SOCK_INET;
		at = strchr(rest, '@');
		n = at != NULL ? (size_t)(at - rest) : strlen(rest);
		for (q = rest;
		     q < rest + n && *q >= '0' && *q <= '9' && port <= 65535;
		     q++)
			port = port * 10 + (unsigned long)(*q - '0');
		if (n == 0 || q != rest + n || port == 0 || port > 65535) {
			snprintf(why, whylen,
			    "\"%s\": expected a port number "
			    "(1..65535) after \"%.*s\"",
			    spec, (int)(rest - spec), spec);
			return (-1);
		}
		if (at != NULL && at[1] == '\0') {
			snprintf(
			    why, whylen, "\"%s\": no host after '@'", spec);
			return (-1);
		}
		if (at != NULL && strlen(at + 1) >= sizeof(out->host)) {
			snprintf(why, whylen,
			    "\"%s\": host name longer than "
			    "%zu bytes",
			    spec, sizeof(out->host) - 1);
			return (-1);
		}
		out->port = (unsigned)port;
		if (at != NULL)
			memcpy(out->host, at + 1, strlen(at + 1) + 1);
		return (0);
	}
	if (spec[0] == '/')
		snprintf(why, whylen, "\"%s\": did you mean \"local:%s\"?",
		    spec, spec);
	else
		snprintf(why, whylen,
		    "\"%s\": expected local:/path, "
		    "unix:/path, inet:port@host or inet6:port@host",
		    spec);
	return (-1);
}

int
rd_sockspec_addr(const struct rd_sockspec *s, struct sockaddr_storage *ss,
    socklen_t *sslen, char *why, size_t whylen)
{
	struct addrinfo hints, *res;
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	char port[8];
	int e;

	memset(ss, 0, sizeof(*ss));
	if (s->family == RD_SOCK_UNIX) {
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, s->path, strlen(s->path) + 1);
		*sslen = sizeof(*un);
		return (0);
	}
	snprintf(port, sizeof(port), "%u", s->port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = s->family == RD_SOCK_INET6 ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	e = getaddrinfo(s->host[0] != '\0'           ? s->host
			: s->family == RD_SOCK_INET6 ? "::1"
						     : "127.0.0.1",
	    port, &hints, &res);
	if (e != 0) {
		snprintf(why, whylen, "%s: %s", s->host, gai_strerror(e));
		return (-1);
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return (0);
}

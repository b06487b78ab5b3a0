/*
 * listener.c - the MTA's listeners (listener.h): a service name into
 * address and port, the Listener line, and which listener a connection
 * came in on.
 */
#include <errno.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "relaydiag/listener.h"
#include "relaydiag/text.h"

void
rd_listener_clear(struct rd_listener *l)
{
	free(l->relay_restrictions);
	free(l->recipient_restrictions);
	free(l->client_restrictions);
	free(l->mynetworks_text);
	rd_netset_free(l->mynetworks);
	rd_netset_free(l->client_permits);
	memset(l, 0, sizeof(*l));
}

/* listener_port - a service or a number as a TCP port; 0 if unknown */
static unsigned
listener_port(const char *p)
{
	struct servent se, *res = NULL;
	char buf[1024];
	unsigned long v;
	char *end;

	if (*p >= '0' && *p <= '9') {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (*end != '\0' || errno != 0 || v == 0 || v > 65535)
			return (0);
		return ((unsigned)v);
	}
	if (*p == '\0' ||
	    getservbyname_r(p, "tcp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return (0);
	return ((unsigned)ntohs((unsigned short)res->s_port));
}

int
rd_listener_set_name(
    struct rd_listener *l, const char *name, struct rd_err *err)
{
	const char *colon;
	size_t n;

	if (rd_strlcpy(l->name, name, sizeof(l->name)) >= sizeof(l->name)) {
		rd_err_set(err, NULL, 0, "listener name longer than %zu bytes",
		    sizeof(l->name) - 1);
		return (-1);
	}
	l->addr[0] = '\0';
	if ((colon = strrchr(name, ':')) == NULL) {
		l->port = listener_port(name);
		return (0);
	}
	/* "host:port"; IPv6 in brackets, as master.cf writes it */
	n = (size_t)(colon - name);
	if (n >= 2 && name[0] == '[' && name[n - 1] == ']') {
		name++;
		n -= 2;
	}
	if (n >= sizeof(l->addr)) {
		rd_err_set(err, NULL, 0,
		    "listener address longer than %zu bytes",
		    sizeof(l->addr) - 1);
		return (-1);
	}
	memcpy(l->addr, name, n);
	l->addr[n] = '\0';
	l->port = listener_port(colon + 1);
	return (0);
}

int
rd_listener_parse(struct rd_listener *l, const char *value, struct rd_err *err)
{
	static const struct {
		const char *word;
		size_t off;
	} opts[] = {
	    {"submission", offsetof(struct rd_listener, submission)},
	    {"tls-auth-only", offsetof(struct rd_listener, tls_auth_only)},
	    {"sasl-required", offsetof(struct rd_listener, sasl_required)},
	};
	char word[256];
	const char *p = value, *w;
	size_t n, i;
	bool first = true, yes;

	rd_listener_clear(l);
	while (*(p += strspn(p, " \t,")) != '\0') {
		n = strcspn(p, " \t,");
		if (n >= sizeof(word)) {
			rd_err_set(err, NULL, 0,
			    "Listener: a word longer than "
			    "%zu bytes",
			    sizeof(word) - 1);
			return (-1);
		}
		memcpy(word, p, n);
		word[n] = '\0';
		p += n;
		if (first) {
			if (rd_listener_set_name(l, word, err) != 0)
				return (-1);
			if (l->port == 0) {
				rd_err_set(err, NULL, 0,
				    "Listener: \"%s\" is not a TCP port or a "
				    "known service; write [address:]port, such "
				    "as 587 or 127.0.0.1:2525",
				    word);
				return (-1);
			}
			first = false;
			continue;
		}
		yes = strncmp(word, "no-", 3) != 0;
		w = yes ? word : word + 3;
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (strcmp(w, opts[i].word) == 0)
				break;
		if (i == sizeof(opts) / sizeof(opts[0])) {
			rd_err_set(err, NULL, 0,
			    "Listener: unknown option \"%s\"; known: "
			    "[no-]submission, [no-]tls-auth-only, "
			    "[no-]sasl-required",
			    word);
			return (-1);
		}
		*(bool *)((char *)l + opts[i].off) = yes;
	}
	if (first) {
		rd_err_set(err, NULL, 0,
		    "Listener: no port; write: Listener [address:]port "
		    "[submission] [tls-auth-only] [sasl-required]");
		return (-1);
	}
	/* Postfix's submission example demands TLS and a login. */
	l->sasl_enabled = true;
	return (0);
}

/* listener_same_addr - a and b (either may carry brackets) are one address */
static bool
listener_same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return (memcmp(x, y, 4) == 0);
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return (memcmp(x, y, 16) == 0);
	return (rd_strcasecmp_ascii(a, b) == 0);
}

const struct rd_listener *
rd_listener_find(
    const struct rd_listener *v, size_t n, const char *addr, unsigned port)
{
	const struct rd_listener *any = NULL;
	char a[64];
	size_t i, k;

	if (port == 0)
		return (NULL);
	a[0] = '\0';
	if (addr != NULL) {
		k = strlen(addr);
		if (k >= 2 && addr[0] == '[' && addr[k - 1] == ']') {
			addr++;
			k -= 2;
		}
		if (k < sizeof(a)) {
			memcpy(a, addr, k);
			a[k] = '\0';
		}
	}
	for (i = 0; i < n; i++) {
		if (v[i].port != port)
			continue;
		if (v[i].addr[0] == '\0') {
			if (any == NULL)
				any = &v[i];
			continue;
		}
		/* An unknown address cannot tell two addresses apart. */
		if (a[0] == '\0' || listener_same_addr(v[i].addr, a))
			return (&v[i]);
	}
	return (any);
}

/*
 * sockspec.h - the milter socket's spec, as libmilter's smfi_setconn
 * reads it: "unix:/path" or "local:/path", "inet:port[@host]",
 * "inet6:port[@host]"; the prefix in any case ("UNIX:", "Inet:"), as
 * libmilter compares it.
 * Owns that grammar for everyone: the configuration's Socket key checks
 * it, the daemon finds the path to chmod and chown in it, and the MTA-side
 * tools (bench/mload, tests/e2e/milterdrive) connect with it.
 * Threads: pure (rd_sockspec_addr resolves a host with getaddrinfo).
 */
#ifndef RELAYDIAG_SOCKSPEC_H
#define RELAYDIAG_SOCKSPEC_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

enum rd_sock_family {
	RD_SOCK_UNIX,  /* unix:, local: */
	RD_SOCK_INET,  /* inet: */
	RD_SOCK_INET6, /* inet6: */
};

struct rd_sockspec {
	enum rd_sock_family family;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	unsigned port;  /* inet, inet6: 1..65535 */
	char host[256]; /* inet, inet6: "" when none was given */
};

/*
 * rd_sockspec_parse - spec into *out; 0, or -1 with why[] filled (a
 * sentence that quotes spec when it helps: a relative or too long path, a
 * bad port, an '@' without host, a bare path, an unknown prefix)
 */
int rd_sockspec_parse(
    const char *spec, struct rd_sockspec *out, char *why, size_t whylen);

/*
 * rd_sockspec_addr - the address to connect to: the path, or host:port
 * (no host: the loopback address of the family). 0, or -1 with why[].
 */
int rd_sockspec_addr(const struct rd_sockspec *s, struct sockaddr_storage *ss,
    socklen_t *sslen, char *why, size_t whylen);

#endif

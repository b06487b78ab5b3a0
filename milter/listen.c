/*
 * listen.c - a listening socket from a socket spec (sockspec.h), opened as
 * root before the privilege drop, for the front ends that listen besides
 * libmilter: the policy service (PolicySocket) and the metrics
 * (MetricsListen).
 *
 * Owns the rule that a listener is local by default: "inet:port" without
 * a host listens on 127.0.0.1 (inet6: ::1), never on every address.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "milter.h"
#include "relaydiag/sockspec.h"
#include "relaydiag/text.h"

int
listen_open(const char *key, const char *spec, bool unix_ok, mode_t mode,
    uid_t uid, gid_t gid, struct rd_err *err)
{
	struct rd_sockspec ss;
	struct sockaddr_storage sa;
	struct sockaddr_un *un;
	socklen_t salen;
	struct stat st;
	char why[600];
	int fd, one = 1;

	if (rd_sockspec_parse(spec, &ss, why, sizeof(why)) != 0) {
		rd_err_set(err, key, 0, "%s", why);
		return (-1);
	}
	if (ss.family == RD_SOCK_UNIX && !unix_ok) {
		rd_err_set(err, key, 0,
		    "\"%s\": a TCP listener is needed here "
		    "(inet:port[@host] or inet6:port[@host])",
		    spec);
		return (-1);
	}
	if (ss.family != RD_SOCK_UNIX && ss.host[0] == '\0')
		(void)rd_strlcpy(ss.host,
		    ss.family == RD_SOCK_INET ? "127.0.0.1" : "::1",
		    sizeof(ss.host));
	if (rd_sockspec_addr(&ss, &sa, &salen, why, sizeof(why)) != 0) {
		rd_err_set(err, key, 0, "%s", why);
		return (-1);
	}
	if ((fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		rd_err_set(err, key, 0, "socket: %s", strerror(errno));
		return (-1);
	}
	if (ss.family == RD_SOCK_UNIX) {
		un = (struct sockaddr_un *)&sa;
		/* A socket left by an earlier run goes; anything else stays. */
		if (lstat(un->sun_path, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(un->sun_path);
	} else
		(void)setsockopt(
		    fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) != 0 ||
	    listen(fd, 128) != 0) {
		rd_err_set(err, key, 0, "cannot listen on \"%s\": %s", spec,
		    strerror(errno));
		(void)close(fd);
		return (-1);
	}
	if (ss.family == RD_SOCK_UNIX) {
		if (chmod(ss.path, mode) != 0 ||
		    (uid != (uid_t)-1 && chown(ss.path, uid, gid) != 0)) {
			rd_err_set(
			    err, key, 0, "%s: %s", ss.path, strerror(errno));
			(void)close(fd);
			return (-1);
		}
	}
	return (fd);
}

/*
 * privs.c - who the daemon runs as: look up UserID, drop root for good.
 *
 * Owns the privilege change: supplementary groups first, then the gid, then
 * the uid (setresgid/setresuid, so no saved id keeps root), and a check that
 * root cannot be regained. Also turns a milter socket spec into the path of
 * a unix socket, for chown/chmod before the drop.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "milter.h"
#include "relaydiag/sockspec.h"
#include "relaydiag/text.h"

int
privs_lookup(const char *spec, struct privs_user *u, struct rd_err *err)
{
	char user[64];
	const char *colon = strchr(spec, ':');
	struct passwd *pw;
	struct group *gr;

	memset(u, 0, sizeof(*u));
	if (colon != NULL) {
		if ((size_t)(colon - spec) >= sizeof(user)) {
			rd_err_set(err, "UserID", 0, "user name too long");
			return (-1);
		}
		memcpy(user, spec, (size_t)(colon - spec));
		user[colon - spec] = '\0';
	} else if (rd_strlcpy(user, spec, sizeof(user)) >= sizeof(user)) {
		rd_err_set(err, "UserID", 0, "user name too long");
		return (-1);
	}
	/* Once at start-up, before any thread: getpwnam is fine. */
	if ((pw = getpwnam(user)) == NULL) {
		rd_err_set(err, "UserID", 0,
		    "no such user \"%s\"; create it "
		    "(adduser --system --group %s) or change UserID",
		    user, user);
		return (-1);
	}
	/* "UserID root" would keep every privilege the drop is there to shed.
	 */
	if (pw->pw_uid == 0) {
		rd_err_set(err, "UserID", 0,
		    "\"%s\" is root (uid 0); name an "
		    "unprivileged user (adduser --system --group relaydiag)",
		    user);
		return (-1);
	}
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	if (rd_strlcpy(u->name, user, sizeof(u->name)) >= sizeof(u->name)) {
		rd_err_set(err, "UserID", 0, "user name too long");
		return (-1);
	}
	if (colon != NULL) {
		if ((gr = getgrnam(colon + 1)) == NULL) {
			rd_err_set(err, "UserID", 0, "no such group \"%s\"",
			    colon + 1);
			return (-1);
		}
		u->gid = gr->gr_gid;
	}
	return (0);
}

int
privs_drop(const struct privs_user *u, struct rd_err *err)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	/* Started as UserID already (systemd User=): nothing to shed. */
	if (getresuid(&ru, &eu, &su) == 0 && getresgid(&rg, &eg, &sg) == 0 &&
	    ru == u->uid && eu == u->uid && su == u->uid && rg == u->gid &&
	    eg == u->gid && sg == u->gid)
		return (0);
	if (geteuid() != 0) {
		rd_err_set(err, "UserID", 0,
		    "started as uid %ld gid %ld, not "
		    "root, so it cannot become %s (uid %ld gid %ld): start it "
		    "as root, or as exactly that user and group (systemd "
		    "User=/Group=)",
		    (long)eu, (long)eg, u->name, (long)u->uid, (long)u->gid);
		return (-1);
	}
	if (setgroups(1, &u->gid) != 0 ||
	    setresgid(u->gid, u->gid, u->gid) != 0 ||
	    setresuid(u->uid, u->uid, u->uid) != 0) {
		rd_err_set(err, "UserID", 0, "cannot become %s: %s", u->name,
		    strerror(errno));
		return (-1);
	}
	if (u->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		rd_err_set(err, "UserID", 0,
		    "root could be regained after "
		    "dropping privileges; refusing to run");
		return (-1);
	}
	return (0);
}

/* privs_socket_path - the path of a unix: / local: socket (any case), else -1
 */
int
privs_socket_path(const char *spec, char *path, size_t len)
{
	struct rd_sockspec ss;
	char why[600];

	if (rd_sockspec_parse(spec, &ss, why, sizeof(why)) != 0 ||
	    ss.family != RD_SOCK_UNIX)
		return (-1);
	return (rd_strlcpy(path, ss.path, len) < len ? 0 : -1);
}

/*
 * milter.h - what the daemon's files share: the callbacks table, the macro
 * readers, privilege dropping. Private to milter/; the only headers that
 * include <libmilter/mfapi.h> are here and in the .c files of milter/.
 */
#ifndef RELAYDIAG_MILTER_H
#define RELAYDIAG_MILTER_H

#include <stdbool.h>
#include <sys/types.h>

#include <libmilter/mfapi.h>

#include "relaydiag/err.h"
#include "relaydiag/restart.h"
#include "relaydiag/session.h"
#include "relaydiag/sink.h"

/* glue.c */
extern struct smfiDesc glue_desc;
/*
 * What the front ends share, made once in main(): the event sink, history
 * across sessions, the MX check, what the policy service published, the
 * failed AUTH and the refusing domains the log front end saw, the
 * milter's transactions by queue id. All but sink may be NULL.
 */
struct front_services {
	struct rd_sink *sink;
	struct rd_history *history;
	struct rd_dns *dns;
	struct rd_explained *explained;
	struct rd_recent *authfails;
	struct rd_recent *outbound;
	struct rd_seen *seen;
	struct rd_logwait *logwait; /* log refusals waiting for their join */
};

/* glue_set_services - what every milter session uses; once, before
   smfi_main (sv is copied) */
void glue_set_services(const struct front_services *sv);

/* logfollow.c: the log front end's transport (LogFile) */
#define logfollow_services front_services
/*
 * logfollow_start - follow path in a thread of this process, its position
 * kept in state; 0, or -1 with err. logfollow_stop: stop, save, report.
 */
int logfollow_start(const char *path, const char *state,
    const struct logfollow_services *sv, struct rd_err *err);
void logfollow_stop(void);
/* logfollow_handle - one line of the MTA's log into its events (any
   thread: the file's and the journal's readers share it) */
void logfollow_handle(
    const struct logfollow_services *sv, const char *line, size_t n, bool cut);
/* logfollow_tick - the waiting refusals, now joined or out of time (all
   of them when flush); each transport calls it after each wait */
void logfollow_tick(const struct logfollow_services *sv, bool flush);

/* logjournal.c: the same, from the systemd journal (LogJournal) */
/*
 * logjournal_start - read the mail facility's entries of the system
 * journal (spec "yes") or of a directory of journal files, in a thread,
 * the cursor kept in state; 0, or -1 with err. logjournal_stop: stop.
 */
int logjournal_start(const char *spec, const char *state,
    const struct logfollow_services *sv, struct rd_err *err);
void logjournal_stop(void);

/*
 * listen_open - a listening socket for spec, "key" naming it in errors;
 * inet without a host is the loopback. unix_ok false: a unix socket is
 * an error. A unix socket gets mode, and uid/gid unless uid is -1. The
 * fd, or -1 with err.
 */
int listen_open(const char *key, const char *spec, bool unix_ok, mode_t mode,
    uid_t uid, gid_t gid, struct rd_err *err);

/* metricsd.c: MetricsListen, in the filter process */
/* metricsd_open - the TCP listener, as root before the drop; fd or -1 */
int metricsd_open(const char *spec, struct rd_err *err);
/* metricsd_start - serve GET /metrics on fd from a thread; 0 or -1 */
int metricsd_start(int fd, const struct front_services *sv, struct rd_err *err);
void metricsd_stop(void);

/* policyd.c: the policy service (deployment 3), in the filter process */
#define policyd_services front_services
/*
 * policyd_open - PolicySocket's listening socket, opened as root before
 * the privilege drop (a unix socket gets SocketMode and the user's
 * ownership, as the milter's does; "inet:port" without a host listens on
 * 127.0.0.1 only). The descriptor, or -1 with err.
 */
int policyd_open(
    const char *spec, mode_t mode, uid_t uid, gid_t gid, struct rd_err *err);
/*
 * policyd_start - serve fd in threads of this process (one to accept, one
 * per connection, at most POLICYD_CONNS_MAX); each request reads the
 * configuration snapshot of the moment. 0, or -1 with err.
 */
int policyd_start(
    int fd, const struct policyd_services *sv, struct rd_err *err);
/* policyd_stop - stop accepting, end the connections (bounded wait) */
void policyd_stop(void);

/* macros.c */
int macros_request(SMFICTX *ctx);
void macros_connect(SMFICTX *ctx, const char *hostname,
    const struct sockaddr *sa, struct rd_conn_info *ci, char *ipbuf,
    size_t iplen);
void macros_tls(SMFICTX *ctx, struct rd_tls_info *tls);
void macros_mail(SMFICTX *ctx, char **argv, struct rd_mail_info *mi);
void macros_rcpt(SMFICTX *ctx, char **argv, struct rd_rcpt_info *ri);
const char *macros_queue_id(SMFICTX *ctx);

/* privs.c */
struct privs_user {
	uid_t uid;
	gid_t gid;
	char name[64];
};
int privs_lookup(const char *spec, struct privs_user *u, struct rd_err *err);
int privs_drop(const struct privs_user *u, struct rd_err *err);
int privs_socket_path(const char *spec, char *path, size_t len);

/* supervise.c */
/*
 * supervise - AutoRestart: fork the filter and watch it. Returns 0 in the
 * child, which goes on as the filter (again after every death the rate
 * allows); the supervisor itself never returns: it exits with the
 * filter's last status, or EXIT_FAILURE when it gives up.
 */
int supervise(const struct rd_restart_rate *rate);

#endif

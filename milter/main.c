/*
 * main.c - the relaydiag daemon: options, configuration, privileges,
 * signals, and libmilter's main loop.
 *
 * Owns the process: -c FILE, -n (check the configuration and exit), -f
 * (foreground, log to stderr, events to stdout by default), -V. Order of
 * start-up: configuration, log, privileged opens (event log, milter
 * socket, PID file), daemon(3), privilege drop, then threads. SIGUSR1
 * reloads the configuration from a sigwait thread of our own; libmilter's
 * own signal thread stops the filter on SIGHUP, SIGTERM and SIGINT.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "milter.h"
#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/footer.h"
#include "relaydiag/log.h"
#include "relaydiag/logfront.h"
#include "relaydiag/logline.h"
#include "relaydiag/pseudo.h"
#include "relaydiag/publish.h"
#include "relaydiag/snapshot.h"
#include "relaydiag/text.h"

#ifdef RD_DEFAULT_CONFIG
#define MAIN_DEFAULT_CONFIG RD_DEFAULT_CONFIG
#else
#define MAIN_DEFAULT_CONFIG "/etc/relaydiag.conf"
#endif
#define MAIN_DEFAULT_EVENT_LOG "/var/log/relaydiag/events.jsonl"

static const char *main_config_path = MAIN_DEFAULT_CONFIG;
static char main_key_path[4096];  /* HashKeyFile of the installed key */
static struct rd_sink *main_sink; /* reopened on SIGUSR1 (logrotate) */

static void
main_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: relaydiag [-fFhnvV] [-c config] [-L logfile]\n"
	    "  -c FILE  configuration file (default %s)\n"
	    "  -f       stay in the foreground, log to stderr\n"
	    "  -F       print smtpd_reject_footer_maps entries (a regexp: "
	    "table)\n"
	    "           for Postfix's reject texts, then exit\n"
	    "  -h       print this help and exit\n"
	    "  -L FILE  read FILE as the MTA's log and say what the log front\n"
	    "           end makes of it (lines of each kind, by MTA; lines\n"
	    "           with a refusal's words that no pattern knows), then "
	    "exit\n"
	    "  -n       check the configuration and exit\n"
	    "  -v       with -n: print the effective view of the MTA "
	    "(domains,\n"
	    "           networks, each listener and its restriction lists)\n"
	    "  -V       print the version and exit\n",
	    MAIN_DEFAULT_CONFIG);
}

/*
 * main_log_test - relaydiag -L FILE: what the log front end makes of each
 * line of FILE, read for every MTA: per MTA, the lines of each kind (and
 * whether LogFormat reads them), and the lines with a refusal's or a
 * login's words that no pattern knows, the first 20 shown made safe: a
 * wording to report.
 */
static int
main_log_test(const struct rd_config *cfg, const char *path)
{
	static const struct {
		unsigned fmt;
		const char *name;
	} mtas[] = {{RD_LOGFMT_POSTFIX, "postfix"},
	    {RD_LOGFMT_SENDMAIL, "sendmail"}, {RD_LOGFMT_EXIM, "exim"}};
	enum { NKINDS = RD_LOG_AUTH_DOWN + 1 };
	unsigned long n[3][NKINDS], lines = 0, unknown = 0;
	char *line = NULL, safe[512];
	size_t cap = 0, m, k;
	struct rd_logrec r;
	ssize_t len;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "relaydiag: %s: %s\n", path, strerror(errno));
		return (EXIT_FAILURE);
	}
	memset(n, 0, sizeof(n));
	while ((len = getline(&line, &cap, fp)) > 0) {
		lines++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len > RD_LOGLINE_MAX)
			len = RD_LOGLINE_MAX;
		rd_logline_parse(line, (size_t)len,
		    RD_LOGFMT_POSTFIX | RD_LOGFMT_SENDMAIL | RD_LOGFMT_EXIM,
		    time(NULL), &r);
		for (m = 0; m < 3; m++)
			if (r.format == mtas[m].fmt)
				n[m][r.kind]++;
		if (r.kind == RD_LOG_OTHER &&
		    rd_logline_candidate(line, (size_t)len) && ++unknown <= 20)
			printf("unknown, line %lu: %s\n", lines,
			    rd_text_log_str(safe, sizeof(safe), line));
	}
	if (ferror(fp)) {
		fprintf(stderr, "relaydiag: %s: %s\n", path, strerror(errno));
		free(line);
		(void)fclose(fp);
		return (EXIT_FAILURE);
	}
	free(line);
	(void)fclose(fp);
	printf("%s: %lu lines\n", path, lines);
	for (m = 0; m < 3; m++) {
		unsigned long any = 0;

		for (k = 0; k < NKINDS; k++)
			any += n[m][k];
		if (any == 0)
			continue;
		printf("  %-9s %lu lines:", mtas[m].name, any);
		for (k = 1; k < NKINDS; k++)
			printf(" %s %lu", rd_logkind_name((enum rd_logkind)k),
			    n[m][k]);
		printf("%s\n", (cfg->log_formats & mtas[m].fmt) != 0
				   ? ""
				   : " (not read: add it to LogFormat)");
	}
	printf("  lines with a refusal's or a login's words that no pattern "
	       "knows: %lu\n",
	    unknown);
	return (EXIT_SUCCESS);
}

static void
main_fatal(const struct rd_err *err)
{
	char line[1024];

	rd_err_format(err, line, sizeof(line));
	fprintf(stderr, "relaydiag: %s\n", line);
	rd_log(LOG_ERR, NULL, "%s", line);
	exit(EXIT_FAILURE);
}

/*
 * main_hash_key - HashPersonalData: read HashKeyFile and install its key
 * (pseudo.h). At start we are still root, and the file may be root-only;
 * on reload we are not: if the same file cannot be read any more, the key
 * read at start stays. 0, or -1 with err.
 */
static int
main_hash_key(const struct rd_config *cfg, struct rd_err *err)
{
	struct rd_pseudo_key k;

	if (!cfg->hash_personal)
		return (0);
	if (rd_pseudo_key_read(cfg->hash_key_file, &k, err) != 0) {
		if (main_key_path[0] == '\0' || cfg->hash_key_file == NULL ||
		    strcmp(main_key_path, cfg->hash_key_file) != 0)
			return (-1);
		rd_log(LOG_WARNING, NULL,
		    "reload: %s: %s; keeping the key "
		    "read at start",
		    err->source, err->text);
		return (0);
	}
	rd_pseudo_install(&k);
	explicit_bzero(&k, sizeof(k));
	/* Paths fit PATH_MAX (4096). */
	(void)rd_strlcpy(
	    main_key_path, cfg->hash_key_file, sizeof(main_key_path));
	return (0);
}

/* main_log_strip - who removes forged copies of HeaderName, and why */
static void
main_log_strip(const struct rd_config *cfg)
{
	rd_log(LOG_NOTICE, NULL, "forged %s headers: removed by %s (%s)",
	    cfg->header_name,
	    cfg->strip_forged_headers
		? "relaydiag"
		: "the MTA; no header is sent to relaydiag",
	    cfg->strip_forged_why);
}

/* main_reload - SIGUSR1: a new snapshot, or the old one and the reason */
static void
main_reload(void)
{
	struct rd_config *fresh, *old;
	struct rd_err err;
	char line[1024];
	size_t i;

	/* The event log first: logrotate's postrotate sends SIGUSR1 too. */
	if (rd_sink_reopen(main_sink, &err) != 0) {
		rd_err_format(&err, line, sizeof(line));
		rd_log(LOG_ERR, NULL,
		    "reload: %s; still writing to the file "
		    "opened before",
		    line);
	}
	if ((fresh = rd_config_load(main_config_path, &err)) == NULL ||
	    main_hash_key(fresh, &err) != 0) {
		rd_err_format(&err, line, sizeof(line));
		rd_log(LOG_ERR, NULL,
		    "reload failed, keeping the running "
		    "configuration: %s",
		    line);
		rd_config_free(fresh);
		return;
	}
	old = rd_snapshot_acquire();
	if (old != NULL) {
		char keys[512];

		if (rd_config_restart_changes(old, fresh, keys, sizeof(keys)) >
		    0)
			rd_log(LOG_WARNING, NULL,
			    "reload: %s: changed, but "
			    "taking effect only after a restart",
			    keys);
		rd_snapshot_release(old);
	}
	for (i = 0; i < fresh->n_warnings; i++)
		rd_log(LOG_WARNING, NULL, "reload: %s", fresh->warnings[i]);
	rd_log_set_level(fresh->log_level);
	rd_snapshot_install_take(fresh);
	rd_log(LOG_NOTICE, NULL, "configuration reloaded from %s mode=%s",
	    main_config_path, rd_mode_name(fresh->mode));
	main_log_strip(fresh);
}

static void *
main_signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)
			main_reload();
	}
	return (NULL);
}

/*
 * main_give - chown path to UserID while we are root. Started as UserID
 * already (systemd User=), what we create is ours: no chown, which the
 * unit's system-call filter would refuse anyway.
 */
static int
main_give(const char *path, const struct privs_user *u)
{
	if (u == NULL || geteuid() != 0)
		return (0);
	return (chown(path, u->uid, u->gid));
}

/* main_socket_prepare - parent directory of a unix socket, owned by u */
static void
main_socket_dir(const char *path, const struct privs_user *u)
{
	char dir[4096];
	char *slash;

	if (rd_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return;
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0750) == 0 && main_give(dir, u) != 0)
		rd_log(LOG_WARNING, NULL, "chown %s: %s", dir, strerror(errno));
}

static void
main_socket_perms(
    const char *path, const struct rd_config *cfg, const struct privs_user *u)
{
	if (chmod(path, cfg->socket_mode) != 0)
		rd_log(
		    LOG_WARNING, NULL, "chmod %s: %s", path, strerror(errno));
	if (main_give(path, u) != 0)
		rd_log(
		    LOG_WARNING, NULL, "chown %s: %s", path, strerror(errno));
}

static void
main_pid_file(const char *path)
{
	FILE *fp;

	if (path == NULL)
		return;
	if ((fp = fopen(path, "w")) == NULL) {
		rd_log(LOG_WARNING, NULL, "cannot write PID file %s: %s", path,
		    strerror(errno));
		return;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	fclose(fp);
}

/*
 * main_open_sink - the event sink, opened before privileges are dropped:
 * the Redis stream (with its spool) when RedisURL is set, else the JSON
 * Lines file (stdout in the foreground by default).
 */
static struct rd_sink *
main_open_sink(const struct rd_config *cfg, bool foreground)
{
	struct rd_sink *sk;
	struct rd_err err;
	const char *path = cfg->event_log;

	if (cfg->redis_url != NULL) {
		struct rd_redis_params p;

		memset(&p, 0, sizeof(p));
		p.url = cfg->redis_url;
		p.stream = cfg->redis_stream;
		p.maxlen = cfg->redis_maxlen;
		p.connect_timeout_ms = cfg->redis_timeout_ms;
		p.command_timeout_ms = cfg->redis_timeout_ms;
		p.queue_size = cfg->event_queue_size;
		p.spool_dir = cfg->spool_dir;
		p.spool_max_bytes = cfg->spool_max_size;
		p.spool_policy = cfg->spool_drop_policy;
		p.log = rd_log_callback;
		if ((sk = rd_sink_redis_open(&p, &err)) == NULL)
			main_fatal(&err);
		return (sk);
	}
	if (path == NULL)
		path = foreground ? "-" : MAIN_DEFAULT_EVENT_LOG;
	if ((sk = rd_sink_file_open(path, &err)) == NULL)
		main_fatal(&err);
	return (sk);
}

/*
 * main_spool_dir - the Redis spool directory, made (0700) and given to
 * UserID while we are still root: the publisher writes it after the drop.
 */
static void
main_spool_dir(const struct rd_config *cfg, const struct privs_user *u)
{
	if (cfg->spool_dir == NULL)
		return;
	if (mkdir(cfg->spool_dir, 0700) != 0 && errno != EEXIST)
		rd_log(LOG_WARNING, NULL, "SpoolDir %s: %s", cfg->spool_dir,
		    strerror(errno));
	if (main_give(cfg->spool_dir, u) != 0)
		rd_log(LOG_WARNING, NULL, "SpoolDir %s: chown: %s",
		    cfg->spool_dir, strerror(errno));
}

/*
 * main_open_history - history across sessions: in Redis when RedisURL is
 * set (shared by every MTA reporting there), else a local cache only.
 */
static struct rd_history *
main_open_history(const struct rd_config *cfg)
{
	struct rd_history_params p;
	struct rd_history *h;
	struct rd_err err;

	memset(&p, 0, sizeof(p));
	p.redis_url = cfg->redis_url;
	p.timeout_ms = cfg->history_timeout_ms;
	p.history_window = cfg->history_window;
	p.probe_window = cfg->probe_window;
	p.outage_window = cfg->outage_window;
	p.outage_senders = cfg->outage_senders;
	p.alert_probe_attempts = cfg->alert_probe_attempts;
	p.cache_size = cfg->history_cache_size;
	p.log = rd_log_callback;
	if ((h = rd_history_new(&p, &err)) == NULL)
		main_fatal(&err);
	return (h);
}

/* main_open_dns - the resolver for the MX check, when MXCheck is on */
static struct rd_dns *
main_open_dns(const struct rd_config *cfg)
{
	struct rd_dns_params p;
	struct rd_dns *d;
	struct rd_err err;

	if (!cfg->mx_check)
		return (NULL);
	memset(&p, 0, sizeof(p));
	p.config_file = cfg->dns_config;
	p.timeout_ms = cfg->dns_timeout_ms;
	p.our_names = cfg->mx_hosts;
	if ((d = rd_dns_new(&p, &err)) == NULL)
		main_fatal(&err);
	return (d);
}

int
main(int argc, char **argv)
{
	struct rd_config *cfg;
	struct rd_err err;
	struct rd_sink *sink;
	struct rd_history *history;
	struct rd_dns *dns;
	struct front_services fsv;
	int policy_fd = -1, metrics_fd = -1;
	struct rd_config *startcfg;
	size_t i;
	struct privs_user user, *up = NULL;
	bool foreground = false, check_only = false, verbose = false;
	const char *log_test = NULL;
	char sockpath[4096], pidfile[4096];
	sigset_t set, stopset;
	pthread_t tid;
	int c, rc;

	while ((c = getopt(argc, argv, "c:fFL:nvVh")) != -1) {
		switch (c) {
		case 'c':
			main_config_path = optarg;
			break;
		case 'f':
			foreground = true;
			break;
		case 'F': {
			struct rd_buf b;

			rd_buf_init(&b);
			rd_footer_map(&b);
			fputs(b.data, stdout);
			rd_buf_free(&b);
			return (
			    fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
		}
		case 'L':
			log_test = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'V': {
			unsigned maj = 0, min = 0, pl = 0;

			smfi_version(&maj, &min, &pl);
			printf(
			    "relaydiag %s (libmilter %u.%u.%u, jansson %s)\n",
			    RD_VERSION, maj, min, pl, JANSSON_VERSION);
			return (EXIT_SUCCESS);
		}
		case 'h':
			main_usage(stdout);
			return (EXIT_SUCCESS);
		default:
			main_usage(stderr);
			return (EXIT_FAILURE);
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		return (EXIT_FAILURE);
	}
	/* Before any thread: jansson's hash seed (milter-protocol-notes.md). */
	json_object_seed(0);

	if ((cfg = rd_config_load(main_config_path, &err)) == NULL) {
		char line[1024];

		fprintf(stderr, "relaydiag: %s\n",
		    rd_err_format(&err, line, sizeof(line)));
		return (EXIT_FAILURE);
	}
	if (log_test != NULL) {
		rc = main_log_test(cfg, log_test);
		rd_config_free(cfg);
		return (rc);
	}
	if (check_only) {
		if (main_hash_key(cfg, &err) != 0) {
			char line[1024];

			fprintf(stderr, "relaydiag: %s\n",
			    rd_err_format(&err, line, sizeof(line)));
			return (EXIT_FAILURE);
		}
		if (verbose) {
			struct rd_buf view;

			rd_buf_init(&view);
			rd_config_view_text(cfg, &view);
			fputs(view.data != NULL ? view.data : "", stdout);
			rd_buf_free(&view);
		} else
			for (i = 0; i < cfg->n_warnings; i++)
				printf("relaydiag: %s: warning: %s\n",
				    main_config_path, cfg->warnings[i]);
		printf("relaydiag: %s: OK (mode %s)\n", main_config_path,
		    rd_mode_name(cfg->mode));
		rd_config_free(cfg);
		return (EXIT_SUCCESS);
	}
	rd_log_open(
	    "relaydiag", cfg->syslog_facility, foreground, cfg->log_level);

	if (cfg->user_id != NULL) {
		if (privs_lookup(cfg->user_id, &user, &err) != 0)
			main_fatal(&err);
		up = &user;
	} else if (geteuid() == 0) {
		rd_err_set(&err, main_config_path, 0,
		    "refusing to run as "
		    "root without UserID; set UserID relaydiag (or another "
		    "unprivileged user)");
		main_fatal(&err);
	}

	for (i = 0; i < cfg->n_warnings; i++)
		rd_log(LOG_WARNING, NULL, "%s", cfg->warnings[i]);
	if (main_hash_key(cfg, &err) != 0) /* as root: may be root-only */
		main_fatal(&err);
	/* The event log file is opened as root; Redis needs no privilege. */
	sink = cfg->redis_url == NULL ? main_open_sink(cfg, foreground) : NULL;
	/* The spool, and the log follower's position, live in SpoolDir. */
	if (cfg->redis_url != NULL || cfg->log_file != NULL ||
	    cfg->log_journal != NULL)
		main_spool_dir(cfg, up);

	if (smfi_register(glue_desc) != MI_SUCCESS ||
	    smfi_setconn(cfg->socket) != MI_SUCCESS) {
		rd_err_set(&err, main_config_path, 0,
		    "Socket: libmilter "
		    "refused \"%s\"",
		    cfg->socket);
		main_fatal(&err);
	}
	if (privs_socket_path(cfg->socket, sockpath, sizeof(sockpath)) == 0)
		main_socket_dir(sockpath, up);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		rd_err_set(&err, main_config_path, 0,
		    "Socket: cannot open "
		    "\"%s\" (directory missing, or in use?)",
		    cfg->socket);
		main_fatal(&err);
	}
	if (privs_socket_path(cfg->socket, sockpath, sizeof(sockpath)) == 0)
		main_socket_perms(sockpath, cfg, up);
	/* The policy service's socket, as root too; its threads come later. */
	if (cfg->policy_socket != NULL) {
		if (privs_socket_path(
			cfg->policy_socket, sockpath, sizeof(sockpath)) == 0)
			main_socket_dir(sockpath, up);
		if ((policy_fd = policyd_open(cfg->policy_socket,
			 cfg->socket_mode, up != NULL ? up->uid : (uid_t)-1,
			 up != NULL ? up->gid : (gid_t)-1, &err)) < 0)
			main_fatal(&err);
	}
	if (cfg->metrics_listen != NULL &&
	    (metrics_fd = metricsd_open(cfg->metrics_listen, &err)) < 0)
		main_fatal(&err);

	if (!foreground && daemon(0, 0) != 0) {
		rd_err_set(&err, "daemon", 0, "%s", strerror(errno));
		main_fatal(&err);
	}
	main_pid_file(cfg->pid_file);
	/* cfg belongs to the snapshot from here on: a reload may free it. */
	/* Paths fit PATH_MAX (4096). */
	(void)rd_strlcpy(pidfile, cfg->pid_file != NULL ? cfg->pid_file : "",
	    sizeof(pidfile));
	if (up != NULL && privs_drop(up, &err) != 0)
		main_fatal(&err);
	/* From here on, with AutoRestart, this is the filter process. */
	if (cfg->auto_restart)
		(void)supervise(&cfg->auto_restart_rate);

	/*
	 * Threads start only now: after daemon()'s fork (threads do not
	 * survive a fork) and after the drop. Our reload thread waits for
	 * SIGUSR1, libmilter's own signal thread for SIGHUP, SIGTERM and
	 * SIGINT; every other thread (publisher, resolver, sessions) inherits
	 * a mask that blocks all four, or a stop signal could land on a
	 * thread that lets it kill the process before smfi_main returns and
	 * the events are flushed.
	 */
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGUSR1);
	sigaddset(&stopset, SIGHUP);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stopset, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sink == NULL)
		sink = main_open_sink(cfg, foreground);
	history = main_open_history(cfg);
	dns = main_open_dns(cfg);
	memset(&fsv, 0, sizeof(fsv));
	fsv.sink = sink;
	fsv.history = history;
	fsv.dns = dns;
	fsv.explained = rd_explained_new(4096);
	/* What only the log front end fills, and its join: only when there
	   is one (LogFile and LogJournal take effect at restart); else no
	   milter session pays for noting its transactions or looking up
	   failed logins nobody records. */
	if (cfg->log_file != NULL || cfg->log_journal != NULL) {
		fsv.authfails = rd_recent_new(4096);
		fsv.outbound = rd_recent_new(4096);
		fsv.seen = rd_seen_new(4096);
		fsv.logwait = rd_logwait_new(256);
	}
	glue_set_services(&fsv);
	main_sink = sink;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (pthread_create(&tid, NULL, main_signal_thread, &set) != 0) {
		rd_err_set(&err, "pthread_create", 0, "%s", strerror(errno));
		main_fatal(&err);
	}

	rd_snapshot_install_take(cfg);
	/*
	 * The resolver borrows the start-up MXHosts (and history and the
	 * publisher their settings): hold that snapshot until they are gone,
	 * whatever reloads do. Those keys take effect at restart.
	 */
	startcfg = rd_snapshot_acquire();
	rd_log(LOG_NOTICE, NULL,
	    "relaydiag %s starting socket=%s mode=%s "
	    "user=%s",
	    RD_VERSION, cfg->socket, rd_mode_name(cfg->mode),
	    up != NULL ? up->name : "(unchanged)");
	main_log_strip(cfg);
	/* Metrics first: they count from the first request of any front
	   end (nothing is counted before rd_metrics_enable). */
	if (metrics_fd >= 0) {
		if (metricsd_start(metrics_fd, &fsv, &err) != 0)
			main_fatal(&err);
		rd_log(LOG_NOTICE, NULL, "metrics served on %s, GET /metrics",
		    startcfg->metrics_listen);
	}
	if (policy_fd >= 0) {
		if (policyd_start(policy_fd, &fsv, &err) != 0)
			main_fatal(&err);
		rd_log(LOG_NOTICE, NULL, "policy service listening on %s",
		    startcfg->policy_socket);
	}
	if (startcfg->log_file != NULL) {
		char state[4200];

		snprintf(state, sizeof(state), "%s/log-position",
		    startcfg->spool_dir);
		if (logfollow_start(startcfg->log_file, state, &fsv, &err) != 0)
			main_fatal(&err);
		rd_log(LOG_NOTICE, NULL, "log front end following %s",
		    startcfg->log_file);
	}
	if (startcfg->log_journal != NULL) {
		char state[4200];

		snprintf(state, sizeof(state), "%s/journal-cursor",
		    startcfg->spool_dir);
		if (logjournal_start(
			startcfg->log_journal, state, &fsv, &err) != 0)
			main_fatal(&err);
		rd_log(LOG_NOTICE, NULL, "log front end reading the journal %s",
		    startcfg->log_journal);
	}
	rc = smfi_main();
	logjournal_stop();
	logfollow_stop();
	policyd_stop();
	metricsd_stop();
	rd_log(LOG_NOTICE, NULL, "relaydiag stopping (smfi_main: %s)",
	    rc == MI_SUCCESS ? "ok" : "failure");
	rd_sink_close(sink);
	rd_history_free(history);
	rd_dns_free(dns);
	rd_explained_free(fsv.explained);
	rd_recent_free(fsv.authfails);
	rd_recent_free(fsv.outbound);
	rd_seen_free(fsv.seen);
	rd_logwait_free(fsv.logwait);
	rd_snapshot_release(startcfg);
	if (pidfile[0] != '\0')
		(void)unlink(pidfile); /* may fail after the drop */
	rd_snapshot_clear();
	rd_log_close();
	return (rc == MI_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE);
}

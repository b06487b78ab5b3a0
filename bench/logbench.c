/*
 * logbench.c - the log front end's throughput: lines/s through the parser
 * (logline.c) and the engine (logfront.c), publishing into a counting
 * sink, and the memory it takes.
 *
 *   logbench [-n LINES] [-m MIX] [-o FILE]
 *
 * The input is a synthetic mail log made here, one real line of each kind
 * in turn (the lines of tests/unit/test_logline.c): Postfix connect and
 * disconnect noise (most of a real mail.log: lines of no interest),
 * deliveries refused by a remote server, failed AUTH, NOQUEUE rejects,
 * Sendmail's check_rcpt, Exim's rejected RCPT; MIX is the percentage of
 * lines that mean an event (default 20). Prints lines/s, events/s and the
 * peak RSS (VmHWM). Compare builds as ratios in one run. With -o, the
 * same lines are written to FILE instead (bench/run.sh feeds them to a
 * running relaydiag's LogFile).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relaydiag/config.h"
#include "relaydiag/logfront.h"
#include "relaydiag/logline.h"
#include "relaydiag/recent.h"
#include "relaydiag/sink.h"

static unsigned long long events;

static int
count_emit(struct rd_sink *sk, const char *type, char *json)
{
	(void)sk;
	(void)type;
	events++;
	free(json);
	return (0);
}

static void
count_stats(struct rd_sink *sk, struct rd_sink_stats *out)
{
	(void)sk;
	memset(out, 0, sizeof(*out));
}

static void
count_close(struct rd_sink *sk)
{
	(void)sk;
}

static const struct rd_sink_ops count_ops = {
    .emit_take = count_emit, .stats = count_stats, .close = count_close};

static const char *const noise[] = {
    "Dec  7 03:14:47 mx postfix/smtpd[2311]: connect from "
    "unknown[127.0.0.82]",
    "Dec  7 03:14:47 mx postfix/smtpd[2311]: disconnect from "
    "unknown[127.0.0.82] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
    "Dec  7 03:14:47 mx postfix/qmgr[100]: 4B7C1A728C1: "
    "from=<a@example.test>, size=512, nrcpt=1 (queue active)",
    "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: "
    "to=<x@gmail.test>, relay=mx.gmail.test[192.0.2.26]:25, delay=0.4, "
    "delays=0.01/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 OK)",
};
static const char *const meaning[] = {
    "Dec  7 03:14:47 mx postfix/smtp[2204]: 4B7C1A728C1: to=<x%u@remote.test>, "
    "relay=127.0.0.1[127.0.0.1]:2725, delay=0.05, delays=0.01/0/0.02/0.01, "
    "dsn=5.7.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 554 5.7.1 "
    "<x@remote.test>: Relay access denied (in reply to RCPT TO command))",
    "Dec  7 03:14:47 mx postfix/submission/smtpd[2311]: warning: "
    "unknown[127.0.%u.82]: SASL PLAIN authentication failed: (reason "
    "unavailable), sasl_username=frank@example.test",
    "Dec  7 03:14:47 mx sm-mta[4242]: 4B73ElWx004242: ruleset=check_rcpt, "
    "arg1=<bob%u@gmail.test>, relay=[127.0.0.5], reject=550 5.7.1 "
    "<bob@gmail.test>... Relaying denied",
    "2026-12-07 03:14:47 H=(UserPC) [203.0.113.5]:51234 I=[192.0.2.1]:25 "
    "F=<anna@client.test> rejected RCPT <bob%u@gmail.test>: relay not "
    "permitted",
};

/* subst - tpl with its one "%u" replaced by v (the templates are ours) */
static void
subst(char *out, size_t len, const char *tpl, unsigned v)
{
	const char *p = strstr(tpl, "%u");

	if (p == NULL)
		snprintf(out, len, "%s", tpl);
	else
		snprintf(out, len, "%.*s%u%s", (int)(p - tpl), tpl, v, p + 2);
}

/* line_at - the i-th line of the synthetic log */
static void
line_at(char *line, size_t len, unsigned long i, unsigned long mix)
{
	if (i % 100 < mix)
		subst(line, len, meaning[i % 4], (unsigned)(i % 250));
	else
		snprintf(line, len, "%s", noise[i % 4]);
}

/* write_log - the n lines into path: 0, or 1 with a message */
static int
write_log(const char *path, unsigned long n, unsigned long mix)
{
	char line[1024];
	unsigned long i;
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return (1);
	}
	for (i = 0; i < n; i++) {
		line_at(line, sizeof(line), i, mix);
		fprintf(fp, "%s\n", line);
	}
	if (fclose(fp) != 0) {
		perror(path);
		return (1);
	}
	return (0);
}

int
main(int argc, char **argv)
{
	struct rd_sink sink = {&count_ops};
	struct rd_logfront_services sv;
	struct rd_config *cfg;
	struct rd_logrec r;
	struct timespec t0, t1;
	unsigned long n = 500000, mix = 20, i;
	char line[1024], rss[256];
	double dt;
	FILE *fp;
	int c;

	const char *out = NULL;

	while ((c = getopt(argc, argv, "n:m:o:")) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 'm')
			mix = strtoul(optarg, NULL, 10);
		else if (c == 'o')
			out = optarg;
		else {
			fprintf(stderr, "usage: logbench [-n LINES] [-m MIX%%] "
					"[-o FILE]\n");
			return (2);
		}
	}
	if (out != NULL)
		return (write_log(out, n, mix));
	if ((cfg = rd_config_defaults()) == NULL)
		return (1);
	cfg->log_formats =
	    RD_LOGFMT_POSTFIX | RD_LOGFMT_SENDMAIL | RD_LOGFMT_EXIM;
	/* the default windows and limits: an alert once per window */
	memset(&sv, 0, sizeof(sv));
	sv.cfg = cfg;
	sv.sink = &sink;
	sv.authfails = rd_recent_new(4096);
	sv.outbound = rd_recent_new(4096);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < n; i++) {
		line_at(line, sizeof(line), i, mix);
		rd_logline_parse(line, strlen(line), cfg->log_formats,
		    (time_t)1796644800, &r);
		rd_logfront_handle(&sv, &r, (time_t)1796644800);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	dt = (double)(t1.tv_sec - t0.tv_sec) +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	rss[0] = '\0';
	if ((fp = fopen("/proc/self/status", "r")) != NULL) {
		while (fgets(line, sizeof(line), fp) != NULL)
			if (strncmp(line, "VmHWM:", 6) == 0)
				snprintf(rss, sizeof(rss), "%.200s", line + 6);
		fclose(fp);
	}
	rss[strcspn(rss, "\n")] = '\0';
	printf("logbench: %lu lines (%lu%% meaning an event) in %.2f s: "
	       "%.0f lines/s, %llu events (%.0f events/s), VmHWM%s\n",
	    n, mix, dt, (double)n / dt, events, (double)events / dt, rss);
	rd_recent_free(sv.authfails);
	rd_recent_free(sv.outbound);
	rd_config_free(cfg);
	return (0);
}

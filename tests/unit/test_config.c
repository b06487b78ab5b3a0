/*
 * test_config.c - rd_config_load against the cases in tests/data/config/,
 * plus the defaults, the shipped conf/relaydiag.conf and the small helpers.
 *
 * Each case is a directory tests/data/config/<case>/ (its name says what it
 * tests) holding "input", the config file (absent in the missing-file case),
 * and "expect": either the error exactly as rd_err_format prints it, with
 * the case directory cut from every path ("input:3: Mode: ..."), or "ok"
 * followed by "Key=value" lines checked against the loaded config:
 *   Socket SocketMode Mode UserID PidFile LogLevel SyslogFacility HostName
 *   HeaderName TLSAuthOnly RedisURL RedisStream SpoolDir EventLog
 *   StripForgedHeaders     "yes (why)" or "no (why)": the outcome
 *   SubmissionPorts        the value as written ("(none)" for unset)
 *   LocalDomains.count RelayDomains.count TrustedNetworks.count
 *   LocalDomains?d RelayDomains?d TrustedNetworks?ip SubmissionPorts?n
 *   Listener?addr:port (the listener a session there is judged by)
 *                          yes or no: whether d, ip, n matches
 * Every case is one cmocka test, so a failure names its case.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "relaydiag/config.h"
#include "testutil.h"

#ifndef RD_TEST_DATA
#error "RD_TEST_DATA (the absolute path of tests/data) must be defined"
#endif

#define CASES_DIR RD_TEST_DATA "/config"
#define SAMPLE_CONF RD_TEST_DATA "/../../conf/relaydiag.conf"
#define MAN_PAGE RD_TEST_DATA "/../../docs/relaydiag.conf.5"
#define CASES_MIN 25

/* Every key of the file format: the sample and the man page document each. */

struct name_value {
	const char *name;
	int value;
};

static const struct name_value levels[] = {
    {"error", LOG_ERR},
    {"warning", LOG_WARNING},
    {"notice", LOG_NOTICE},
    {"info", LOG_INFO},
    {"debug", LOG_DEBUG},
};

static const struct name_value facilities[] = {
    {"mail", LOG_MAIL},
    {"daemon", LOG_DAEMON},
    {"local0", LOG_LOCAL0},
    {"local1", LOG_LOCAL1},
    {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4},
    {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6},
    {"local7", LOG_LOCAL7},
};

static const char *
name_of(const struct name_value *t, size_t n, int value)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i].value == value)
			return (t[i].name);
	return ("(unknown)");
}

/* read_file - the whole file, NUL-terminated (free it); NULL if unreadable */
static char *
read_file(const char *path)
{
	FILE *fp;
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if ((fp = fopen(path, "r")) == NULL)
		return (NULL);
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((data = realloc(data, cap)) == NULL)
				fail_msg("out of memory");
		}
		if ((n = fread(data + len, 1, cap - len - 1, fp)) == 0)
			break;
		len += n;
	}
	(void)fclose(fp);
	data[len] = '\0';
	return (data);
}

/* cut_all - cut every occurrence of cut from s, in place */
static void
cut_all(char *s, const char *cut)
{
	size_t n = strlen(cut);
	char *p;

	while ((p = strstr(s, cut)) != NULL)
		memmove(p, p + n, strlen(p + n) + 1);
}

/* join - a then b into buf (size len); fails the test when it does not fit */
static char *
join(char *buf, size_t len, const char *a, const char *b)
{
	int n;

	n = snprintf(buf, len, "%s%s", a, b);
	if (n < 0 || (size_t)n >= len)
		fail_msg("path too long: %s%s", a, b);
	return (buf);
}

static const char *
str_or_none(const char *s)
{
	return (s != NULL ? s : "(none)");
}

/*
 * render - the value of one expect key for cfg, into buf (size len);
 * NULL for a key the test does not know.
 */
static const char *
render(const struct rd_config *cfg, const char *key, char *buf, size_t len)
{
	const char *arg;
	size_t i, n;

	if ((arg = strchr(key, '?')) != NULL) {
		arg++;
		if (strncmp(key, "LocalDomains?", 13) == 0)
			return (rd_domainset_match(cfg->local_domains, arg)
				    ? "yes"
				    : "no");
		if (strncmp(key, "RelayDomains?", 13) == 0)
			return (rd_domainset_match(cfg->relay_domains, arg)
				    ? "yes"
				    : "no");
		if (strncmp(key, "TrustedNetworks?", 16) == 0)
			return (rd_netset_match(cfg->trusted_networks, arg)
				    ? "yes"
				    : "no");
		if (strncmp(key, "Listener?", 9) == 0) {
			/* Listener?addr:port: the listener a session there
			   is judged by */
			const struct rd_listener *l;
			const char *colon = strrchr(arg, ':');
			char addr[64];

			if (colon == NULL ||
			    (size_t)(colon - arg) >= sizeof(addr))
				return (NULL);
			memcpy(addr, arg, (size_t)(colon - arg));
			addr[colon - arg] = '\0';
			l = rd_config_listener(
			    cfg, addr, (unsigned)strtoul(colon + 1, NULL, 10));
			if (l == NULL)
				return ("none");
			snprintf(buf, len,
			    "%s submission=%s tls-auth-only=%s "
			    "sasl-required=%s",
			    l->name, l->submission ? "yes" : "no",
			    l->tls_auth_only ? "yes" : "no",
			    l->sasl_required ? "yes" : "no");
			return (buf);
		}
		if (strncmp(key, "SubmissionPorts?", 16) == 0)
			return (rd_config_is_submission_port(
				    cfg, (unsigned)strtoul(arg, NULL, 10))
				    ? "yes"
				    : "no");
		return (NULL);
	}
	if (strcmp(key, "Socket") == 0)
		return (str_or_none(cfg->socket));
	if (strcmp(key, "SocketMode") == 0) {
		(void)snprintf(buf, len, "%04o", (unsigned)cfg->socket_mode);
		return (buf);
	}
	if (strcmp(key, "Mode") == 0)
		return (rd_mode_name(cfg->mode));
	if (strcmp(key, "UserID") == 0)
		return (str_or_none(cfg->user_id));
	if (strcmp(key, "PidFile") == 0)
		return (str_or_none(cfg->pid_file));
	if (strcmp(key, "LogLevel") == 0)
		return (name_of(levels, sizeof(levels) / sizeof(levels[0]),
		    cfg->log_level));
	if (strcmp(key, "SyslogFacility") == 0)
		return (name_of(facilities,
		    sizeof(facilities) / sizeof(facilities[0]),
		    cfg->syslog_facility));
	if (strcmp(key, "HostName") == 0)
		return (str_or_none(cfg->host_name));
	if (strcmp(key, "HeaderName") == 0)
		return (str_or_none(cfg->header_name));
	if (strcmp(key, "TLSAuthOnly") == 0)
		return (cfg->tls_auth_only ? "yes" : "no");
	if (strcmp(key, "StripForgedHeaders") == 0) { /* the outcome, why */
		(void)snprintf(buf, len, "%s (%.400s)",
		    cfg->strip_forged_headers ? "yes" : "no",
		    cfg->strip_forged_why);
		return (buf);
	}
	if (strcmp(key, "AutoRestart") == 0)
		return (cfg->auto_restart ? "yes" : "no");
	if (strcmp(key, "AutoRestartRate") == 0) {
		(void)snprintf(buf, len, "%u/%u", cfg->auto_restart_rate.n,
		    cfg->auto_restart_rate.t);
		return (buf);
	}
	if (strcmp(key, "RedisURL") == 0)
		return (str_or_none(cfg->redis_url));
	if (strcmp(key, "RedisStream") == 0)
		return (str_or_none(cfg->redis_stream));
	if (strcmp(key, "SpoolDir") == 0)
		return (str_or_none(cfg->spool_dir));
	if (strcmp(key, "EventLog") == 0)
		return (str_or_none(cfg->event_log));
	if (strcmp(key, "SubmissionPorts") == 0) {
		buf[0] = '\0';
		for (i = n = 0; i < cfg->n_submission_ports && n < len; i++)
			n += (size_t)snprintf(buf + n, len - n, "%s%u",
			    i ? " " : "", cfg->submission_ports[i]);
		return (buf);
	}
	if (strcmp(key, "LocalDomains.count") == 0) {
		(void)snprintf(
		    buf, len, "%zu", rd_domainset_count(cfg->local_domains));
		return (buf);
	}
	if (strcmp(key, "RelayDomains.count") == 0) {
		(void)snprintf(
		    buf, len, "%zu", rd_domainset_count(cfg->relay_domains));
		return (buf);
	}
	if (strcmp(key, "TrustedNetworks.count") == 0) {
		(void)snprintf(
		    buf, len, "%zu", rd_netset_count(cfg->trusted_networks));
		return (buf);
	}
	return (NULL);
}

/* check_ok - each "Key=value" line of expect against cfg; differences */
static int
check_ok(const char *name, const struct rd_config *cfg, char *expect)
{
	char buf[512];
	const char *got;
	char *line, *save, *eq;
	int bad = 0;

	(void)strtok_r(expect, "\n", &save); /* "ok" */
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		if (line[0] == '#')
			continue;
		if ((eq = strchr(line, '=')) == NULL) {
			print_error(
			    "%s: expect: no '=' in \"%s\"\n", name, line);
			bad++;
			continue;
		}
		*eq++ = '\0';
		if ((got = render(cfg, line, buf, sizeof(buf))) == NULL) {
			print_error(
			    "%s: expect: unknown key \"%s\"\n", name, line);
			bad++;
		} else if (strcmp(got, eq) != 0) {
			print_error("%s: %s: got \"%s\", want \"%s\"\n", name,
			    line, got, eq);
			bad++;
		}
	}
	return (bad);
}

/* test_case - load <case>/input and compare with <case>/expect */
static void
test_case(void **state)
{
	const char *name = *state;
	struct rd_config *cfg;
	struct rd_err err;
	char dir[PATH_MAX], path[PATH_MAX], got[1024];
	char *expect;
	size_t n;
	int want_ok, bad = 0;

	(void)join(path, sizeof(path), CASES_DIR "/", name);
	(void)join(dir, sizeof(dir), path, "/");
	if ((expect = read_file(join(path, sizeof(path), dir, "expect"))) ==
	    NULL) {
		fail_msg("%s: cannot read %s", name, path);
		return;
	}
	n = strlen(expect);
	while (n > 0 && expect[n - 1] == '\n')
		expect[--n] = '\0';
	want_ok = strncmp(expect, "ok", 2) == 0 &&
		  (expect[2] == '\0' || expect[2] == '\n');

	cfg = rd_config_load(join(path, sizeof(path), dir, "input"), &err);
	if (cfg == NULL) {
		(void)rd_err_format(&err, got, sizeof(got));
		cut_all(got, dir);
	}
	if (want_ok && cfg == NULL) {
		print_error("%s: got error \"%s\", want ok\n", name, got);
		bad = 1;
	} else if (want_ok) {
		bad = check_ok(name, cfg, expect);
	} else if (cfg != NULL) {
		print_error("%s: got ok, want \"%s\"\n", name, expect);
		bad = 1;
	} else if (strcmp(got, expect) != 0) {
		print_error("%s: got  \"%s\"\n%s: want \"%s\"\n", name, got,
		    name, expect);
		bad = 1;
	}
	rd_config_free(cfg);
	free(expect);
	if (bad)
		fail_msg("%s: see above", name);
}

static int
cmp_names(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

/* case_names - the sorted case directory names (free each, then the array) */
static char **
case_names(size_t *np)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if ((d = opendir(CASES_DIR)) == NULL) {
		print_error("cannot open %s\n", CASES_DIR);
		*np = 0;
		return (NULL);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof(*names))) ==
			NULL ||
		    (names[n] = strdup(de->d_name)) == NULL)
			abort();
		n++;
	}
	(void)closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
	*np = n;
	return (names);
}

/* The defaults, as config.h documents them. */
static void
test_defaults(void **state)
{
	struct rd_config *cfg;
	char host[HOST_NAME_MAX + 1];

	(void)state;
	assert_non_null(cfg = rd_config_defaults());
	assert_null(cfg->path);
	assert_string_equal(cfg->socket, "local:/run/relaydiag/relaydiag.sock");
	assert_int_equal(cfg->socket_mode, 0660);
	assert_int_equal(cfg->mode, RD_MODE_OBSERVE);
	assert_null(cfg->user_id);
	assert_null(cfg->pid_file);
	assert_int_equal(cfg->log_level, LOG_INFO);
	assert_int_equal(cfg->syslog_facility, LOG_MAIL);
	assert_string_equal(cfg->header_name, "X-Relay-Diagnostic");
	assert_int_equal(rd_domainset_count(cfg->local_domains), 0);
	assert_int_equal(rd_domainset_count(cfg->relay_domains), 0);
	assert_true(rd_netset_match(cfg->trusted_networks, "127.0.0.1"));
	assert_true(rd_netset_match(cfg->trusted_networks, "127.255.0.9"));
	assert_true(rd_netset_match(cfg->trusted_networks, "::1"));
	assert_false(rd_netset_match(cfg->trusted_networks, "10.0.0.1"));
	assert_false(rd_netset_match(cfg->trusted_networks, "::2"));
	assert_int_equal(cfg->n_submission_ports, 2);
	assert_true(rd_config_is_submission_port(cfg, 587));
	assert_true(rd_config_is_submission_port(cfg, 465));
	assert_false(rd_config_is_submission_port(cfg, 25));
	assert_false(cfg->tls_auth_only);
	assert_true(cfg->auto_restart);
	assert_int_equal(cfg->auto_restart_rate.n, 10);
	assert_int_equal(cfg->auto_restart_rate.t, 3600);
	assert_null(cfg->redis_url);
	assert_string_equal(cfg->redis_stream, "relaydiag:events");
	assert_string_equal(cfg->spool_dir, "/var/spool/relaydiag");
	assert_null(cfg->event_log);
	assert_int_equal(atomic_load(&cfg->refs), 0);

	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	assert_string_equal(cfg->host_name, host);
	rd_config_free(cfg);
}

/* The shipped sample loads, keeps the documented values, names every key. */
static void
test_sample(void **state)
{
	struct rd_config *cfg;
	struct rd_err err;
	char buf[1024], want[64];
	char *text;
	size_t i;

	(void)state;
	if ((cfg = rd_config_load(SAMPLE_CONF, &err)) == NULL) {
		fail_msg("sample: %s", rd_err_format(&err, buf, sizeof(buf)));
		return;
	}
	assert_int_equal(cfg->mode, RD_MODE_OBSERVE);
	assert_string_equal(cfg->socket, "local:/run/relaydiag/relaydiag.sock");
	assert_non_null(cfg->user_id);
	assert_string_equal(cfg->user_id, "relaydiag");
	assert_non_null(strstr(cfg->path, "relaydiag.conf"));
	rd_config_free(cfg);

	if ((text = read_file(SAMPLE_CONF)) == NULL) {
		fail_msg("cannot read %s", SAMPLE_CONF);
		return;
	}
	/* Every key config.c knows, so a new key cannot go undocumented. */
	for (i = 0; rd_config_key_name(i) != NULL; i++) {
		(void)snprintf(
		    want, sizeof(want), "\n##  %s ", rd_config_key_name(i));
		if (strstr(text, want) == NULL)
			fail_msg("sample: no \"##  %s\" section",
			    rd_config_key_name(i));
	}
	assert_true(i >= 42);
	free(text);
}

/* The man page has a paragraph for every key. */
static void
test_man_page(void **state)
{
	char want[64];
	char *text;
	size_t i;

	(void)state;
	if ((text = read_file(MAN_PAGE)) == NULL) {
		fail_msg("cannot read %s", MAN_PAGE);
		return;
	}
	for (i = 0; rd_config_key_name(i) != NULL; i++) {
		(void)snprintf(
		    want, sizeof(want), "\n.B %s\n", rd_config_key_name(i));
		if (strstr(text, want) == NULL)
			fail_msg("man page: no \".B %s\" paragraph",
			    rd_config_key_name(i));
	}
	free(text);
}

static void
test_helpers(void **state)
{
	struct rd_err err;

	(void)state;
	assert_string_equal(rd_mode_name(RD_MODE_OBSERVE), "observe");
	assert_string_equal(rd_mode_name(RD_MODE_ANNOTATE), "annotate");
	assert_string_equal(rd_mode_name(RD_MODE_ENFORCE), "enforce");
	assert_false(rd_config_is_submission_port(NULL, 587));
	rd_config_free(NULL);
	/* a NULL err is allowed: the caller only wants to know whether */
	assert_null(rd_config_load(CASES_DIR "/no-such-case/input", NULL));
	/* err is cleared on success */
	err.line = 99;
	rd_config_free(rd_config_load(SAMPLE_CONF, &err));
	assert_int_equal(err.line, 0);
}

/*
 * A FIFO as the configuration or as a "file:" list is refused at once,
 * never waited on (relaydiag -n, start-up and the reload thread all read
 * so); alarm() turns a hang into a failure. A file with no newline at all
 * (a huge single line) is read no further than the line limit.
 */
static void
test_fifo_refused_at_once(void **state)
{
	char dir[64], fifo[128], conf[128], big[128];
	struct rd_err err;
	FILE *fp;
	int i;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "test_config");
	tu_path(fifo, sizeof(fifo), dir, "fifo");
	tu_path(conf, sizeof(conf), dir, "relaydiag.conf");
	tu_path(big, sizeof(big), dir, "big");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(5);
	memset(&err, 0, sizeof(err));
	assert_null(rd_config_load(fifo, &err));
	assert_non_null(strstr(err.text, "not a regular file"));
	fp = fopen(conf, "w");
	fprintf(fp, "LocalDomains file:%s\n", fifo);
	fclose(fp);
	memset(&err, 0, sizeof(err));
	assert_null(rd_config_load(conf, &err));
	assert_non_null(strstr(err.text, "not a regular file"));
	/* 64 MiB on one line: refused after the limit, not after the file */
	fp = fopen(big, "w");
	for (i = 0; i < 65536; i++)
		fprintf(fp, "%01024d", 0);
	fclose(fp);
	fp = fopen(conf, "w");
	fprintf(fp, "LocalDomains file:%s\n", big);
	fclose(fp);
	memset(&err, 0, sizeof(err));
	assert_null(rd_config_load(conf, &err));
	assert_non_null(strstr(err.text, "line longer than"));
	alarm(0);
	tu_rmtree(dir);
}

/* The keys a reload cannot apply are named, the others are not. */
static void
test_restart_changes(void **state)
{
	char dir[64], a[128], b[128], keys[256];
	struct rd_config *ca, *cb;
	struct rd_err err;
	FILE *fp;

	(void)state;
	tu_tmpdir(dir, sizeof(dir), "test_config");
	tu_path(a, sizeof(a), dir, "a.conf");
	tu_path(b, sizeof(b), dir, "b.conf");
	fp = fopen(a, "w");
	fputs("Socket local:/run/a.sock\nMode observe\nDNSTimeout 300\n"
	      "LocalDomains example.org\n",
	    fp);
	fclose(fp);
	fp = fopen(b, "w");
	fputs("Socket local:/run/b.sock\nMode enforce\nDNSTimeout 300\n"
	      "RedisURL redis://:secret@127.0.0.1\nLocalDomains example.net\n",
	    fp);
	fclose(fp);
	assert_non_null(ca = rd_config_load(a, &err));
	assert_non_null(cb = rd_config_load(b, &err));
	assert_int_equal(
	    rd_config_restart_changes(ca, cb, keys, sizeof(keys)), 2);
	assert_string_equal(keys, "Socket, RedisURL");
	assert_int_equal(
	    rd_config_restart_changes(ca, ca, keys, sizeof(keys)), 0);
	assert_string_equal(keys, "");
	rd_config_free(ca);
	rd_config_free(cb);
	tu_rmtree(dir);
}

int
main(void)
{
	const struct CMUnitTest unit[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_man_page),
	    cmocka_unit_test(test_helpers),
	    cmocka_unit_test(test_fifo_refused_at_once),
	    cmocka_unit_test(test_restart_changes),
	};
	struct CMUnitTest *tests;
	char **names;
	size_t n, i;
	int failed;

	failed = cmocka_run_group_tests_name("config", unit, NULL, NULL);

	/*
	 * One test per data directory. cmocka 1.1 has no public call for a
	 * table built at run time: _cmocka_run_group_tests is what its
	 * cmocka_run_group_tests macro expands to.
	 */
	names = case_names(&n);
	if (n < CASES_MIN) {
		print_error("%s: %zu cases, want at least %d\n", CASES_DIR, n,
		    CASES_MIN);
		failed++;
	}
	if (n > 0) {
		if ((tests = calloc(n, sizeof(*tests))) == NULL)
			abort();
		for (i = 0; i < n; i++) {
			tests[i].name = names[i];
			tests[i].test_func = test_case;
			tests[i].initial_state = names[i];
		}
		failed += _cmocka_run_group_tests(
		    "config cases", tests, n, NULL, NULL);
		free(tests);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return (failed != 0);
}

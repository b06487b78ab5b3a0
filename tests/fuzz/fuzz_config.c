/*
 * fuzz_config.c - rd_config_load on the input written to a config file.
 *
 * rd_config_load takes a path, so each run writes the input to a file in a
 * private directory (under /dev/shm when it exists, else $TMPDIR or /tmp),
 * made once per process. Files sit next to it so that the readers of
 * other files are reached too: "domains" and "nets" for "file:domains"
 * and "file:nets", "rules" for ReplyRules, "templates" for TemplateFile.
 * Skipped, because they would read the host's files or run programs (the
 * administrator's business, not an attacker's): a "file:" entry, or a
 * ReplyRules or TemplateFile line, that names a path with '/'
 * ("file:/dev/zero", "ReplyRules ../x"), and ImportPostfix (it runs
 * postconf).
 *
 * Invariants: an error names the file and is one printable line; a
 * loaded configuration has the shapes config.h promises (mode in range,
 * header name printable ASCII without ':', at most RD_CONFIG_PORTS_MAX
 * non-zero ports, socket mode <= 0777, absolute paths). RedisURL's grammar
 * is redis.c's (rd_redis_url_parse), which config.c calls when loading and
 * the publisher and the history call again when they connect: a URL that
 * loads must parse again; and no error may repeat the password of a
 * RedisURL (errors go to logs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relaydiag/config.h"
#include "relaydiag/redis.h"

#include "fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_dir[256];
static char conf_path[300];

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL ||
	    (n > 0 && fwrite(p, 1, n, fp) != n) || fclose(fp) != 0) {
		fprintf(stderr, "fuzz_config: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

/* The files next to the config: name, contents. */
static const char *const conf_files[][2] = {
    {"domains", "example.org, .example.org\n# comment\n"
		"backup.example.net\n"},
    {"nets", "192.0.2.0/24 [2001:db8::]/32\n10.0.0.0/8\n"},
    {"rules", "# local rules\nrelay\trelay access denied\n"
	      "mta.rbl-listed\t/(listed|blacklisted) (at|in|by) /\n"
	      "rcpt.unknown-user\tno such mailbox  # Exim\n"},
    {"templates", "relay.no-auth summary ${client} may not relay to "
		  "${rcpt} (${helo}, port ${port}).\n"
		  "relay.no-auth remedy_client Log in first, ${user}.\n"},
};
#define NFILES (sizeof(conf_files) / sizeof(conf_files[0]))

static void
cleanup(void)
{
	char path[400];
	size_t i;

	for (i = 0; i < NFILES; i++) {
		snprintf(
		    path, sizeof(path), "%s/%s", conf_dir, conf_files[i][0]);
		unlink(path);
	}
	unlink(conf_path);
	rmdir(conf_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	char path[400];
	struct stat st;
	size_t i;

	(void)argc;
	(void)argv;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		tmp = "/dev/shm";
	else if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(conf_dir, sizeof(conf_dir), "%s/rdfuzz-config.%ld.XXXXXX", tmp,
	    (long)getpid());
	if (mkdtemp(conf_dir) == NULL) {
		fprintf(stderr, "fuzz_config: mkdtemp %s: %s\n", conf_dir,
		    strerror(errno));
		exit(1);
	}
	snprintf(conf_path, sizeof(conf_path), "%s/relaydiag.conf", conf_dir);
	for (i = 0; i < NFILES; i++) {
		snprintf(
		    path, sizeof(path), "%s/%s", conf_dir, conf_files[i][0]);
		write_file(path, conf_files[i][1], strlen(conf_files[i][1]));
	}
	atexit(cleanup);
	return (0);
}

/* is_key - whether the line p[0..n) starts with key (ASCII case folded) */
static bool
is_key(const uint8_t *p, size_t n, const char *key)
{
	size_t i, k = strlen(key);

	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	if (n < k || (n > k && p[k] != ' ' && p[k] != '\t'))
		return (false);
	for (i = 0; i < k; i++)
		if ((p[i] | 0x20) != (key[i] | 0x20))
			return (false);
	return (true);
}

/*
 * names_outside - whether the input would make rd_config_load read a file
 * outside our directory or run a program (see the comment at the top).
 */
static bool
names_outside(const uint8_t *data, size_t size)
{
	const uint8_t *line, *end, *nl;
	size_t i, j, n;

	for (i = 0; i + 5 <= size; i++) {
		if (memcmp(data + i, "file:", 5) != 0)
			continue;
		for (j = i + 5; j < size && data[j] != ' ' && data[j] != '\t' &&
				data[j] != ',' && data[j] != '\n';
		     j++)
			if (data[j] == '/')
				return (true);
	}
	for (line = data, end = data + size; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		n = (size_t)(nl - line);
		if (is_key(line, n, "ImportPostfix"))
			return (true);
		if ((is_key(line, n, "ReplyRules") ||
			is_key(line, n, "TemplateFile")) &&
		    memchr(line, '/', n) != NULL)
			return (true);
	}
	return (false);
}

static void
check_path(const char *what, const char *p, bool dash_ok)
{
	if (p == NULL)
		return;
	if (p[0] != '/' && !(dash_ok && strcmp(p, "-") == 0))
		fz_fail("config: %s \"%s\" is not absolute", what, p);
}

static void
check_config(const struct rd_config *cfg)
{
	const char *p;
	size_t i;

	if (cfg->mode != RD_MODE_OBSERVE && cfg->mode != RD_MODE_ANNOTATE &&
	    cfg->mode != RD_MODE_ENFORCE)
		fz_fail("config: mode %d", (int)cfg->mode);
	if (cfg->header_name == NULL || cfg->header_name[0] == '\0')
		fz_fail("config: no header name");
	for (p = cfg->header_name; *p != '\0'; p++)
		if ((unsigned char)*p < 33 || (unsigned char)*p > 126 ||
		    *p == ':')
			fz_fail("config: header name byte 0x%02x",
			    (unsigned char)*p);
	if (cfg->n_submission_ports > RD_CONFIG_PORTS_MAX)
		fz_fail("config: %zu ports", cfg->n_submission_ports);
	for (i = 0; i < cfg->n_submission_ports; i++)
		if (cfg->submission_ports[i] == 0)
			fz_fail("config: port 0 in SubmissionPorts");
	if ((cfg->socket_mode & ~(mode_t)0777) != 0)
		fz_fail("config: socket mode %o", (unsigned)cfg->socket_mode);
	if (cfg->socket == NULL || cfg->redis_stream == NULL ||
	    cfg->spool_dir == NULL || cfg->host_name == NULL ||
	    cfg->local_domains == NULL || cfg->relay_domains == NULL ||
	    cfg->trusted_networks == NULL)
		fz_fail("config: a default went missing");
	check_path("SpoolDir", cfg->spool_dir, false);
	check_path("PidFile", cfg->pid_file, false);
	check_path("EventLog", cfg->event_log, true);
	if (cfg->host_name_set && strlen(cfg->host_name) > 253)
		fz_fail(
		    "config: HostName of %zu bytes", strlen(cfg->host_name));
	(void)rd_config_is_submission_port(cfg, 587);
}

/*
 * redis_password - the password in a RedisURL value (the user information
 * after its first ':' up to the authority's last '@') into pw; "" if none,
 * or if it could be words of the message itself: shorter than 8 bytes, or
 * without both a letter and a digit ("RedisURL", "107", "%40").
 */
static void
redis_password(const char *url, char *pw, size_t len)
{
	const char *p, *end, *at = NULL, *colon;

	pw[0] = '\0';
	if ((p = strstr(url, "://")) == NULL)
		return;
	p += 3;
	end = p + strcspn(p, "/?");
	for (colon = p; colon < end; colon++)
		if (*colon == '@')
			at = colon;
	if (at == NULL)
		return;
	colon = memchr(p, ':', (size_t)(at - p));
	p = colon != NULL ? colon + 1 : p;
	if (at - p >= 8 && (size_t)(at - p) < len) {
		memcpy(pw, p, (size_t)(at - p));
		pw[at - p] = '\0';
	}
	if (strpbrk(pw, "0123456789") == NULL ||
	    strpbrk(pw,
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") == NULL)
		pw[0] = '\0';
}

/*
 * check_redis_urls - every RedisURL line: rd_redis_url_parse keeps the
 * password out of its error; config.c too, when the error is that line's.
 */
static void
check_redis_urls(
    const uint8_t *data, size_t size, const struct rd_err *err, bool failed)
{
	const uint8_t *line, *end, *nl;
	struct rd_redis_url u;
	struct rd_err e;
	char value[1024], pw[1024];
	unsigned lineno = 0;
	size_t n, k;

	for (line = data, end = data + size; line < end; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			nl = end;
		lineno++;
		n = (size_t)(nl - line);
		if (n >= sizeof(value) || memchr(line, '\0', n) != NULL)
			continue;
		memcpy(value, line, n);
		value[n] = '\0';
		/* "RedisURL url", and the mistakes "RedisURL=url", ":url" */
		k = strspn(value, " \t");
		if (strncasecmp(value + k, "RedisURL", 8) != 0 ||
		    strchr(" \t=:", value[k + 8]) == NULL ||
		    value[k + 8] == '\0')
			continue;
		k += 8;
		k += strspn(value + k, " \t=:");
		value[k + strcspn(value + k, " \t#")] = '\0';
		redis_password(value + k, pw, sizeof(pw));
		if (pw[0] == '\0')
			continue;
		if (failed && err->line == lineno &&
		    strstr(err->text, pw) != NULL)
			fz_fail("config: the error about RedisURL at line %u "
				"shows its password: %s",
			    lineno, err->text);
		if (rd_redis_url_parse(value + k, &u, &e) != 0 &&
		    strstr(e.text, pw) != NULL)
			fz_fail(
			    "redis: the error shows the password: %s", e.text);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd_config *cfg;
	struct rd_err err;

	if (names_outside(data, size))
		return (-1); /* not added to the corpus */
	write_file(conf_path, data, size);
	memset(&err, 0x55, sizeof(err));
	if ((cfg = rd_config_load(conf_path, &err)) == NULL) {
		fz_check_err(&err, true);
		if (err.source[0] == '\0')
			fz_fail("config: error without a source: %s", err.text);
		check_redis_urls(data, size, &err, true);
		return (0);
	}
	fz_check_err(&err, false);
	check_redis_urls(data, size, &err, false);
	check_config(cfg);
	if (cfg->redis_url != NULL) {
		struct rd_redis_url u;

		rd_err_clear(&err);
		if (rd_redis_url_parse(cfg->redis_url, &u, &err) != 0)
			fz_fail("config: RedisURL \"%s\" accepted, but "
				"rd_redis_url_parse says: %s",
			    cfg->redis_url, err.text);
	}
	rd_config_free(cfg);
	return (0);
}

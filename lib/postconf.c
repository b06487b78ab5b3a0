/*
 * postconf.c - ImportPostfix: relaydiag's view of the MTA taken from
 * Postfix's own configuration, through postconf(1), so that the two agree
 * without copying by hand.
 *
 * Owns running postconf and reading its output. What the lists mean
 * belongs to domainset.c and netset.c; the ImportPostfix key to config.c.
 *
 * postconf runs (posix_spawnp: an argv, no shell; stdin /dev/null; a
 * deadline of PC_TIMEOUT_MS, then SIGKILL) with -c DIR when a directory is
 * given:
 *   postconf -x mydestination ...     the main.cf values, $names expanded
 *   postconf mydestination ...        the raw values, only when postconf
 *                                     warned "undefined parameter" (to say
 *                                     which of ours it affects)
 *   postconf -M                       master.cf services, one a line
 *   postconf -P -x                    their "-o name=value" overrides
 * Everything is read before cfg is touched, so a postconf that fails leaves
 * cfg as it was.
 *
 * Postfix list syntax (postconf(5)): entries separated by commas and/or
 * white space, "{ ... }" grouping; "/file/name" is a file of entries (read
 * here, nested up to PC_FILE_DEPTH); "type:table" is a lookup table, and
 * "!entry" a negation: neither can be expanded, so each becomes a warning
 * in cfg->warnings that says what to list by hand, as does a $name that
 * postconf expanded to nothing because it is not defined. A domain in
 * relay_domains also matches its sub-domains when relay_domains is in
 * parent_domain_matches_subdomains (Postfix's default): ".domain" is added.
 *
 * Threads: configuration time only; touches only its arguments, but spawns
 * a process and waits for it, so SIGCHLD must not be ignored (SIG_IGN
 * would reap the child before waitpid sees its status).
 * Memory: output is read into rd_bufs, bounded by PC_OUT_MAX; warnings are
 * strdup'ed into cfg->warnings (cfg owns them).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relaydiag/buf.h"
#include "relaydiag/config.h"
#include "relaydiag/domainset.h"
#include "relaydiag/err.h"
#include "relaydiag/file.h"
#include "relaydiag/netset.h"
#include "relaydiag/postconf.h"
#include "relaydiag/text.h"

extern char **environ;

#define PC_KEY "ImportPostfix"
#define PC_TIMEOUT_MS 10000    /* per postconf run */
#define PC_OUT_MAX (4u << 20)  /* postconf's stdout */
#define PC_ERR_MAX 8192u       /* postconf's stderr, for the error text */
#define PC_FILE_MAX (1u << 20) /* a "/file/name" list */
#define PC_FILE_DEPTH 4        /* files naming files */
#define PC_ARGS_MAX 16
#define PC_SEP ", \t\r\n"

/* What postconf -x says on stderr about a $name it expanded to nothing. */
static const char pc_undef_mark[] = "undefined parameter: ";

/* The main.cf parameters we read, in the order asked. */
enum pc_param {
	PC_MYDEST = 0,
	PC_VMBOX,
	PC_VALIAS,
	PC_RELAY,
	PC_MYNET,
	PC_TLSAUTH,
	PC_MYHOST,
	PC_PARENT,
	PC_NPARAMS
};

static const char *const pc_names[PC_NPARAMS] = {
    "mydestination",
    "virtual_mailbox_domains",
    "virtual_alias_domains",
    "relay_domains",
    "mynetworks",
    "smtpd_tls_auth_only",
    "myhostname",
    "parent_domain_matches_subdomains",
};

/* One list parameter and where its entries go. */
struct pc_list {
	enum pc_param idx;        /* PC_MYDEST */
	const char *param;        /* "mydestination" */
	const char *key;          /* relaydiag's key, for the hint */
	const char *what;         /* "domains", "networks" */
	struct rd_domainset *dom; /* one of dom, net */
	struct rd_netset *net;
	bool parent_matches; /* also add ".domain" (relay_domains) */
};

struct pc_ctx {
	struct rd_config *cfg;
	const char *bin; /* postconf; NULL: run nothing (rd_postconf_merge) */
	char *raw;       /* with bin NULL: postconf's unexpanded output */
	const char *dir; /* -c DIR, or NULL */
	size_t dropped;  /* warnings beyond RD_CONFIG_WARNINGS_MAX */
	struct rd_err *err;
};

/* One master.cf service: an smtpd listener, with what -o says. */
struct pc_service {
	char name[256]; /* "submission", "127.0.0.1:2587" */
	bool wrapper;   /* -o smtpd_tls_wrappermode=yes */
	bool sasl;      /* -o smtpd_sasl_auth_enable=yes */
	bool encrypt;   /* -o smtpd_tls_security_level=encrypt */
};

/* pc_warn - append one warning (made safe to log) to cfg->warnings */
static void pc_warn(struct pc_ctx *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
pc_warn(struct pc_ctx *x, const char *fmt, ...)
{
	struct rd_config *cfg = x->cfg;
	struct rd_buf b;
	va_list ap;
	char *s, *p;

	if (cfg->n_warnings >= RD_CONFIG_WARNINGS_MAX) {
		x->dropped++;
		return;
	}
	rd_buf_init(&b);
	rd_buf_adds(&b, PC_KEY ": ");
	va_start(ap, fmt);
	rd_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	s = rd_buf_steal(&b);
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	cfg->warnings[cfg->n_warnings++] = s;
}

/* pc_warn_finish - the last warning slot counts what did not fit */
static void
pc_warn_finish(struct pc_ctx *x)
{
	struct rd_config *cfg = x->cfg;
	struct rd_buf b;

	if (x->dropped == 0)
		return;
	rd_buf_init(&b);
	rd_buf_printf(&b,
	    PC_KEY ": %zu more warnings not shown; run \"postconf -n\" "
		   "to see the whole configuration",
	    x->dropped + 1);
	free(cfg->warnings[RD_CONFIG_WARNINGS_MAX - 1]);
	cfg->warnings[RD_CONFIG_WARNINGS_MAX - 1] = rd_buf_steal(&b);
	x->dropped = 0;
}

/* pc_ms_left - milliseconds until deadline (CLOCK_MONOTONIC), 0 if past */
static int
pc_ms_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return (0);
	return (ms > INT_MAX ? INT_MAX : (int)ms);
}

/* pc_command - the command line for messages: "postconf -c DIR -M" */
static void
pc_command(const struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *b)
{
	size_t i;

	rd_buf_adds(b, x->bin);
	if (x->dir != NULL)
		rd_buf_printf(b, " -c %s", x->dir);
	for (i = 0; i < nargs && i < 3; i++)
		rd_buf_printf(b, " %s", args[i]);
	if (nargs > 3)
		rd_buf_adds(b, " ...");
}

/* pc_first_line - the line of stderr that says why (fatal:), or the first */
static void
pc_first_line(const char *text, char *out, size_t outlen)
{
	const char *p, *e;

	if ((p = strstr(text, "fatal:")) != NULL)
		while (p > text && p[-1] != '\n')
			p--;
	else
		p = text;
	e = strchr(p, '\n');
	if (e == NULL)
		e = p + strlen(p);
	if ((size_t)(e - p) >= outlen)
		e = p + outlen - 1;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/*
 * pc_spawn - start bin with argv, stdout and stderr to pipes; 0 with *pid
 * and the read ends, or an errno value.
 */
static int
pc_spawn(
    const char *bin, char *const argv[], pid_t *pid, int *outfd, int *errfd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int op[2], ep[2], rc;

	if (pipe2(op, O_CLOEXEC) == -1)
		return (errno);
	if (pipe2(ep, O_CLOEXEC) == -1) {
		rc = errno;
		(void)close(op[0]);
		(void)close(op[1]);
		return (rc);
	}
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(
	    &fa, 0, "/dev/null", O_RDONLY, 0);
	(void)posix_spawn_file_actions_adddup2(&fa, op[1], 1);
	(void)posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	/* The daemon blocks signals in its threads; postconf should not. */
	(void)posix_spawnattr_init(&at);
	(void)sigemptyset(&none);
	(void)sigemptyset(&dfl);
	(void)sigaddset(&dfl, SIGPIPE);
	(void)sigaddset(&dfl, SIGCHLD);
	(void)posix_spawnattr_setsigmask(&at, &none);
	(void)posix_spawnattr_setsigdefault(&at, &dfl);
	(void)posix_spawnattr_setflags(
	    &at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(pid, bin, &fa, &at, argv, environ);
	(void)posix_spawnattr_destroy(&at);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)close(op[1]);
	(void)close(ep[1]);
	if (rc != 0) {
		(void)close(op[0]);
		(void)close(ep[0]);
		return (rc);
	}
	*outfd = op[0];
	*errfd = ep[0];
	return (0);
}

/*
 * pc_collect - read both pipes to their end, within the deadline, keeping
 * at most max bytes of each; -1 on timeout (the pipes are closed).
 */
static int
pc_collect(int fds[2], struct rd_buf *bufs[2], const size_t max[2],
    bool over[2], const struct timespec *deadline)
{
	struct pollfd pfd[2];
	char tmp[8192];
	ssize_t n;
	int i, np, ms;

	while (fds[0] >= 0 || fds[1] >= 0) {
		if ((ms = pc_ms_left(deadline)) == 0)
			break;
		for (i = 0; i < 2; i++) {
			pfd[i].fd = fds[i]; /* negative: ignored by poll */
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if ((np = poll(pfd, 2, ms)) <= 0) {
			if (np == -1 && errno != EINTR)
				break;
			continue;
		}
		for (i = 0; i < 2; i++) {
			if (fds[i] < 0 || pfd[i].revents == 0)
				continue;
			n = read(fds[i], tmp, sizeof(tmp));
			if (n > 0) {
				if (bufs[i]->len + (size_t)n <= max[i])
					rd_buf_add(bufs[i], tmp, (size_t)n);
				else
					over[i] = true;
			} else if (n == 0 ||
				   (errno != EINTR && errno != EAGAIN)) {
				(void)close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	if (fds[0] < 0 && fds[1] < 0)
		return (0);
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0) {
			(void)close(fds[i]);
			fds[i] = -1;
		}
	return (-1);
}

/*
 * pc_run - run postconf [-c dir] args...: its stdout into out, its stderr
 * into errout (may be NULL). 0, or -1 with x->err when it cannot run, takes
 * too long, or fails.
 */
static int
pc_run(struct pc_ctx *x, const char *const *args, size_t nargs,
    struct rd_buf *out, struct rd_buf *errout)
{
	char *argv[PC_ARGS_MAX + 4];
	struct rd_buf errbuf, cmd;
	struct rd_buf *bufs[2];
	const size_t max[2] = {PC_OUT_MAX, PC_ERR_MAX};
	bool over[2] = {false, false};
	struct timespec deadline;
	char ebuf[128], why[256];
	const char *source = x->dir != NULL ? x->dir : PC_KEY;
	pid_t pid, w;
	int fds[2], status = 0, rc = -1, timed_out, e;
	size_t n = 0, i;

	if (nargs > PC_ARGS_MAX)
		rd_panic("postconf: %zu arguments", nargs);
	rd_buf_init(&errbuf);
	rd_buf_init(&cmd);
	pc_command(x, args, nargs, &cmd);
	/* posix_spawn wants char *const argv[]: give it copies. */
	memset(argv, 0, sizeof(argv));
	if ((argv[n++] = strdup(x->bin)) == NULL)
		goto oom;
	if (x->dir != NULL) {
		if ((argv[n++] = strdup("-c")) == NULL ||
		    (argv[n++] = strdup(x->dir)) == NULL)
			goto oom;
	}
	for (i = 0; i < nargs; i++)
		if ((argv[n++] = strdup(args[i])) == NULL)
			goto oom;
	argv[n] = NULL;

	if ((e = pc_spawn(x->bin, argv, &pid, &fds[0], &fds[1])) != 0) {
		rd_err_set(x->err, source, 0,
		    "cannot run %s: %s; is Postfix installed? (ImportPostfix "
		    "reads Postfix's configuration with postconf)",
		    x->bin, strerror_r(e, ebuf, sizeof(ebuf)));
		goto done;
	}
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += PC_TIMEOUT_MS / 1000;
	bufs[0] = out;
	bufs[1] = &errbuf;
	timed_out = pc_collect(fds, bufs, max, over, &deadline);
	if (timed_out)
		(void)kill(pid, SIGKILL);
	while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR)
		;
	if (timed_out) {
		rd_err_set(x->err, source, 0,
		    "%s did not finish within %d s (killed)", cmd.data,
		    PC_TIMEOUT_MS / 1000);
		goto done;
	}
	if (w == -1) {
		rd_err_set(x->err, source, 0,
		    "%s: waitpid: %s (SIGCHLD must not be ignored)", cmd.data,
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		goto done;
	}
	pc_first_line(errbuf.data, why, sizeof(why));
	if (WIFSIGNALED(status)) {
		rd_err_set(x->err, source, 0, "%s was killed by signal %d%s%s",
		    cmd.data, WTERMSIG(status), why[0] != '\0' ? ": " : "",
		    why);
		goto done;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		rd_err_set(x->err, source, 0, "%s failed (exit status %d)%s%s",
		    cmd.data, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		    why[0] != '\0' ? ": " : "", why);
		goto done;
	}
	if (over[0]) {
		rd_err_set(x->err, source, 0,
		    "%s: more than %u bytes of output", cmd.data, PC_OUT_MAX);
		goto done;
	}
	if (errout != NULL)
		rd_buf_add(errout, errbuf.data, errbuf.len);
	rc = 0;
	goto done;
oom:
	rd_err_set(x->err, source, 0, "out of memory");
done:
	for (i = 0; i < n; i++)
		free(argv[i]);
	rd_buf_free(&cmd);
	rd_buf_free(&errbuf);
	return (rc);
}

/* pc_line - the next line of *pp, NUL-terminated in place; NULL at the end */
static char *
pc_line(char **pp)
{
	char *p = *pp, *e;

	if (*p == '\0')
		return (NULL);
	if ((e = strchr(p, '\n')) != NULL) {
		*e = '\0';
		*pp = e + 1;
	} else
		*pp = p + strlen(p);
	return (p);
}

/*
 * pc_token - the next entry of a Postfix list in *pp (commas and/or white
 * space; "{ ... }" keeps its separators, as in "inline:{ a, b }"),
 * NUL-terminated in place; NULL at the end.
 */
static char *
pc_token(char **pp)
{
	char *p = *pp, *start;
	int depth = 0;

	p += strspn(p, PC_SEP);
	if (*p == '\0') {
		*pp = p;
		return (NULL);
	}
	for (start = p; *p != '\0'; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && depth > 0)
			depth--;
		else if (depth == 0 && strchr(PC_SEP, *p) != NULL)
			break;
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return (start);
}

/*
 * pc_split - "name = value" (postconf's output; "name =" when empty):
 * *value set, the name NUL-terminated in place; -1 for another line.
 */
static int
pc_split(char *line, char **value)
{
	char *eq;
	size_t len;

	if ((eq = strstr(line, " = ")) != NULL) {
		*eq = '\0';
		*value = eq + 3;
		return (0);
	}
	len = strlen(line);
	if (len >= 2 && strcmp(line + len - 2, " =") == 0) {
		line[len - 2] = '\0';
		*value = line + len; /* "" */
		return (0);
	}
	return (-1);
}

/* pc_parse_params - postconf's "name = value" lines for our names */
static void
pc_parse_params(char *text, char *vals[PC_NPARAMS])
{
	char *p = text, *line, *value;
	size_t i;

	for (i = 0; i < PC_NPARAMS; i++)
		vals[i] = NULL;
	while ((line = pc_line(&p)) != NULL) {
		if (pc_split(line, &value) == -1)
			continue;
		for (i = 0; i < PC_NPARAMS; i++)
			if (strcmp(line, pc_names[i]) == 0)
				vals[i] = value;
	}
}

/* pc_is_table - "type:name", Postfix's lookup table syntax */
static bool
pc_is_table(const char *entry)
{
	const char *p = entry;

	if (!(*p >= 'a' && *p <= 'z'))
		return (false);
	while (
	    (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')
		p++;
	return (*p == ':' && p[1] != ':'); /* not "fe::1" */
}

static void pc_entry(struct pc_ctx *x, const struct pc_list *l,
    const char *entry, const char *origin, int depth);

/* pc_file - a "/file/name" entry: its entries, one or more per line */
static void
pc_file(struct pc_ctx *x, const struct pc_list *l, const char *path, int depth)
{
	struct rd_buf text, where;
	char ebuf[128], chunk[4096];
	char *p, *line, *q, *tok;
	unsigned lineno = 0;
	size_t n;
	FILE *fp;

	if (depth >= PC_FILE_DEPTH) {
		pc_warn(x,
		    "%s: \"%s\": files nested more than %d deep; list the %s "
		    "in %s",
		    l->param, path, PC_FILE_DEPTH, l->what, l->key);
		return;
	}
	if ((fp = rd_file_fopen(path, NULL)) == NULL) {
		pc_warn(x, "%s: cannot read %s: %s; list the %s in %s",
		    l->param, path, rd_file_strerror(errno, ebuf, sizeof(ebuf)),
		    l->what, l->key);
		return;
	}
	rd_buf_init(&text);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0 &&
	       text.len + n <= PC_FILE_MAX)
		rd_buf_add(&text, chunk, n);
	if (n > 0 || ferror(fp))
		pc_warn(x,
		    "%s: %s: %s; its entries are ignored: list the %s in %s",
		    l->param, path, n > 0 ? "larger than 1 MiB" : "read error",
		    l->what, l->key);
	(void)fclose(fp);
	if (n > 0) {
		rd_buf_free(&text);
		return;
	}
	rd_buf_init(&where);
	for (p = text.data; (line = pc_line(&p)) != NULL;) {
		lineno++;
		q = line + strspn(line, " \t\r");
		if (*q == '#')
			continue;
		rd_buf_reset(&where);
		rd_buf_printf(&where, " (%s:%u)", path, lineno);
		while ((tok = pc_token(&q)) != NULL)
			pc_entry(x, l, tok, where.data, depth + 1);
	}
	rd_buf_free(&where);
	rd_buf_free(&text);
}

/*
 * pc_entry - one list entry into l's set, or a warning that says what
 * the admin must list by hand. origin: "" or " (file:line)".
 */
static void
pc_entry(struct pc_ctx *x, const struct pc_list *l, const char *entry,
    const char *origin, int depth)
{
	struct rd_err e;
	char *dot;

	if (entry[0] == '!') {
		pc_warn(x,
		    "%s: \"%s\"%s: negated entries cannot be imported "
		    "(relaydiag ignores it); list the %s in %s",
		    l->param, entry, origin, l->what, l->key);
		return;
	}
	if (entry[0] == '/') {
		pc_file(x, l, entry, depth);
		return;
	}
	if (strchr(entry, '$') != NULL) {
		pc_warn(x,
		    "%s: \"%s\"%s: postconf left it unexpanded; list the %s "
		    "in %s",
		    l->param, entry, origin, l->what, l->key);
		return;
	}
	rd_err_clear(&e);
	if (l->net != NULL) {
		if (rd_netset_add(l->net, entry, &e) == 0)
			return;
	} else if (!pc_is_table(entry)) {
		if (rd_domainset_add(l->dom, entry, &e) == 0) {
			/* parent_domain_matches_subdomains: ".entry" too */
			if (!l->parent_matches || entry[0] == '.')
				return;
			if ((dot = malloc(strlen(entry) + 2)) == NULL)
				return;
			dot[0] = '.';
			(void)strcpy(dot + 1, entry);
			(void)rd_domainset_add(l->dom, dot, &e);
			free(dot);
			return;
		}
	}
	if (pc_is_table(entry))
		pc_warn(x,
		    "%s: lookup table %s%s cannot be expanded; list its %s in "
		    "%s",
		    l->param, entry, origin, l->what, l->key);
	else
		pc_warn(x, "%s: \"%s\"%s ignored: %s", l->param, entry, origin,
		    e.text[0] != '\0' ? e.text : "not usable");
}

/* pc_list_value - every entry of value (a copy is tokenized) */
static int
pc_list_value(struct pc_ctx *x, const struct pc_list *l, const char *value)
{
	char *copy, *p, *tok;

	if (value == NULL)
		return (0);
	if ((copy = strdup(value)) == NULL)
		return (-1);
	for (p = copy; (tok = pc_token(&p)) != NULL;)
		pc_entry(x, l, tok, "", 0);
	free(copy);
	return (0);
}

/* pc_refers - whether value refers to $name, ${name} or $(name) */
static bool
pc_refers(const char *value, const char *name, size_t nlen)
{
	const char *p;
	char c;

	for (p = value; (p = strchr(p, '$')) != NULL; p++) {
		if ((p[1] == '{' || p[1] == '(') &&
		    strncmp(p + 2, name, nlen) == 0 &&
		    (p[2 + nlen] == '}' || p[2 + nlen] == ')'))
			return (true);
		if (strncmp(p + 1, name, nlen) == 0) {
			c = p[1 + nlen];
			if (!((c >= 'a' && c <= 'z') ||
				(c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '_'))
				return (true);
		}
	}
	return (false);
}

/* pc_said_before - whether errtext names name as undefined before name */
static bool
pc_said_before(const char *errtext, const char *name, size_t nlen)
{
	const char *p;

	/* Past each mark, never past the end (found by fuzz_postconf: a
	   mark at the very end made p++ step over the NUL). */
	for (p = errtext; (p = strstr(p, pc_undef_mark)) != NULL;) {
		p += sizeof(pc_undef_mark) - 1;
		if (p >= name)
			break;
		if (strncmp(p, name, nlen) == 0 &&
		    strchr(" \t\r\n", p[nlen]) != NULL)
			return (true);
	}
	return (false);
}

/*
 * pc_undefined - postconf -x expands an undefined $name to nothing, with
 * a warning on stderr that names the parameter but not where it is used:
 * find which of our raw values refer to it.
 */
static int
pc_undefined(struct pc_ctx *x, const char *errtext, const struct pc_list *lists,
    size_t nlists)
{
	const char *args[PC_NPARAMS];
	char *raw[PC_NPARAMS];
	struct rd_buf out;
	const char *p, *name;
	size_t i, k, nlen;

	if (strstr(errtext, pc_undef_mark) == NULL)
		return (0);
	for (i = 0; i < PC_NPARAMS; i++)
		args[i] = pc_names[i];
	rd_buf_init(&out);
	if (x->bin == NULL) { /* rd_postconf_merge: the text is given */
		if (x->raw == NULL)
			return (0);
		pc_parse_params(x->raw, raw);
	} else {
		if (pc_run(x, args, PC_NPARAMS, &out, NULL) == -1) {
			rd_buf_free(&out);
			return (-1);
		}
		pc_parse_params(out.data, raw);
	}
	for (p = errtext; (p = strstr(p, pc_undef_mark)) != NULL; p += nlen) {
		name = p += sizeof(pc_undef_mark) - 1;
		nlen = strcspn(name, " \t\r\n");
		if (pc_said_before(errtext, name, nlen))
			continue; /* postconf repeats itself */
		for (i = 0; i < nlists; i++) {
			k = lists[i].idx;
			if (raw[k] == NULL || !pc_refers(raw[k], name, nlen))
				continue;
			pc_warn(x,
			    "%s: $%.*s is not defined, so postconf expands "
			    "it to nothing; define it in main.cf, or list the "
			    "%s in %s",
			    lists[i].param, (int)nlen, name, lists[i].what,
			    lists[i].key);
		}
	}
	rd_buf_free(&out);
	return (0);
}

/* pc_port - a master.cf service name as a TCP port; 0 if unknown */
static unsigned
pc_port(const char *service)
{
	struct servent se, *res = NULL;
	const char *p;
	char buf[1024];
	unsigned long v;
	char *end;

	if ((p = strrchr(service, ':')) != NULL) /* "host:port" */
		p++;
	else
		p = service;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		v = strtoul(p, &end, 10);
		if (*end != '\0' || errno != 0 || v == 0 || v > 65535)
			return (0);
		return ((unsigned)v);
	}
	if (getservbyname_r(p, "tcp", &se, buf, sizeof(buf), &res) != 0 ||
	    res == NULL)
		return (0);
	return ((unsigned)ntohs((unsigned short)res->s_port));
}

/* pc_named_submission - a service name that is a submission port */
static bool
pc_named_submission(const char *service)
{
	static const char *const names[] = {
	    "submission", "submissions", "smtps", "ssmtp", "587", "465"};
	const char *p;
	size_t i;

	p = strrchr(service, ':');
	p = p != NULL ? p + 1 : service;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(p, names[i]) == 0)
			return (true);
	return (false);
}

#define PC_SERVICES_MAX 128

/* pc_find_service - the inet smtpd service called name, or NULL */
static struct pc_service *
pc_find_service(struct pc_service *sv, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(sv[i].name, name) == 0)
			return (&sv[i]);
	return (NULL);
}

/*
 * pc_services - the submission ports of master.cf: inet smtpd listeners
 * (postconf -M) that look like submission by name or by their -o
 * (postconf -P -x). ports gets at most RD_CONFIG_PORTS_MAX.
 */
static int
pc_services(struct pc_ctx *x, char *mtext, char *ptext, unsigned short *ports,
    size_t *nports)
{
	struct pc_service *sv, *s;
	char *p, *line, *f[8], *tok, *value, *slash, *type;
	const char *cmd;
	size_t n = 0, i, k, nf;
	unsigned port;

	*nports = 0;
	if ((sv = calloc(PC_SERVICES_MAX, sizeof(*sv))) == NULL)
		return (-1);
	/* service type private unpriv chroot wakeup maxproc command args */
	for (p = mtext; (line = pc_line(&p)) != NULL;) {
		for (nf = 0; nf < 8 && (tok = pc_token(&line)) != NULL; nf++)
			f[nf] = tok;
		if (nf < 8 || strcmp(f[1], "inet") != 0)
			continue;
		cmd = strrchr(f[7], '/');
		cmd = cmd != NULL ? cmd + 1 : f[7];
		if (strcmp(cmd, "smtpd") != 0)
			continue;
		if (n == PC_SERVICES_MAX) {
			pc_warn(x,
			    "master.cf: more than %d smtpd services; list "
			    "submission ports in SubmissionPorts",
			    PC_SERVICES_MAX);
			break;
		}
		(void)rd_strlcpy(sv[n++].name, f[0], sizeof(sv[0].name));
	}
	/* service/type/name = value */
	for (p = ptext; (line = pc_line(&p)) != NULL;) {
		if (pc_split(line, &value) == -1 ||
		    (slash = strrchr(line, '/')) == NULL)
			continue;
		*slash = '\0';
		if ((type = strrchr(line, '/')) == NULL ||
		    strcmp(type + 1, "inet") != 0)
			continue;
		*type = '\0';
		if ((s = pc_find_service(sv, n, line)) == NULL)
			continue;
		if (strcmp(slash + 1, "smtpd_tls_wrappermode") == 0)
			s->wrapper = rd_strcasecmp_ascii(value, "yes") == 0;
		else if (strcmp(slash + 1, "smtpd_sasl_auth_enable") == 0)
			s->sasl = rd_strcasecmp_ascii(value, "yes") == 0;
		else if (strcmp(slash + 1, "smtpd_tls_security_level") == 0)
			s->encrypt = rd_strcasecmp_ascii(value, "encrypt") == 0;
	}
	for (i = 0; i < n; i++) {
		s = &sv[i];
		if (!pc_named_submission(s->name) && !s->wrapper &&
		    !(s->sasl && s->encrypt))
			continue;
		if ((port = pc_port(s->name)) == 0) {
			pc_warn(x,
			    "master.cf: service %s: not a known TCP port; list "
			    "its port in SubmissionPorts",
			    s->name);
			continue;
		}
		for (k = 0; k < *nports; k++)
			if (ports[k] == port)
				break;
		if (k < *nports)
			continue;
		if (*nports == RD_CONFIG_PORTS_MAX) {
			pc_warn(x,
			    "master.cf: more than %d submission ports; port "
			    "%u ignored",
			    RD_CONFIG_PORTS_MAX, port);
			continue;
		}
		ports[(*nports)++] = (unsigned short)port;
	}
	free(sv);
	return (0);
}

/* pc_has_word - whether the list value has the entry word */
static bool
pc_has_word(const char *value, const char *word)
{
	char *copy, *p, *tok;
	bool found = false;

	if (value == NULL || (copy = strdup(value)) == NULL)
		return (false);
	for (p = copy; !found && (tok = pc_token(&p)) != NULL;)
		found = strcmp(tok, word) == 0;
	free(copy);
	return (found);
}

static int pc_merge(struct pc_ctx *x, struct rd_postconf_text *t);

int
rd_postconf_import(struct rd_config *cfg, const char *config_dir,
    const char *postconf_bin, struct rd_err *err)
{
	static const char *const args_m[] = {"-M"};
	static const char *const args_p[] = {"-P", "-x"};
	const char *args_x[PC_NPARAMS + 1];
	struct rd_postconf_text t;
	struct pc_ctx x;
	struct rd_buf xout, xerr, mout, pout;
	char ebuf[128];
	struct stat st;
	size_t i;
	int rc = -1;

	if (err != NULL)
		rd_err_clear(err);
	if (cfg == NULL)
		rd_panic("rd_postconf_import: no configuration");
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.bin = postconf_bin != NULL ? postconf_bin : "postconf";
	x.dir = config_dir;
	x.err = err;
	if (config_dir != NULL && stat(config_dir, &st) == -1) {
		rd_err_set(err, config_dir, 0,
		    "%s; ImportPostfix wants Postfix's configuration directory "
		    "(the one with main.cf, such as /etc/postfix), or yes",
		    strerror_r(errno, ebuf, sizeof(ebuf)));
		return (-1);
	}
	if (config_dir != NULL && !S_ISDIR(st.st_mode)) {
		rd_err_set(err, config_dir, 0,
		    "not a directory; ImportPostfix wants Postfix's "
		    "configuration directory (the one with main.cf), or yes");
		return (-1);
	}

	/* Read everything first: a failure leaves cfg as it was. */
	rd_buf_init(&xout);
	rd_buf_init(&xerr);
	rd_buf_init(&mout);
	rd_buf_init(&pout);
	args_x[0] = "-x";
	for (i = 0; i < PC_NPARAMS; i++)
		args_x[i + 1] = pc_names[i];
	if (pc_run(&x, args_x, PC_NPARAMS + 1, &xout, &xerr) == -1 ||
	    pc_run(&x, args_m, 1, &mout, NULL) == -1 ||
	    pc_run(&x, args_p, 2, &pout, NULL) == -1)
		goto done;
	t.expanded = xout.data;
	t.warnings = xerr.data;
	t.raw = NULL; /* pc_undefined runs postconf for it */
	t.master = mout.data;
	t.services = pout.data;
	rc = pc_merge(&x, &t);
done:
	rd_buf_free(&xout);
	rd_buf_free(&xerr);
	rd_buf_free(&mout);
	rd_buf_free(&pout);
	return (rc);
}

int
rd_postconf_merge(struct rd_config *cfg, struct rd_postconf_text *t,
    struct rd_err *err)
{
	struct pc_ctx x;

	if (err != NULL)
		rd_err_clear(err);
	memset(&x, 0, sizeof(x));
	x.cfg = cfg;
	x.raw = t->raw;
	x.err = err;
	return (pc_merge(&x, t));
}

/*
 * pc_merge - parse what postconf printed and merge it into x->cfg: the
 * part of the import that reads text, kept apart from the part that runs
 * postconf so that it can be fuzzed (rd_postconf_merge)
 */
static int
pc_merge(struct pc_ctx *x, struct rd_postconf_text *t)
{
	struct rd_config *cfg = x->cfg;
	struct pc_list lists[5];
	struct rd_netset *trusted = NULL;
	unsigned short ports[RD_CONFIG_PORTS_MAX];
	char *vals[PC_NPARAMS], empty[1] = "";
	struct rd_err e;
	size_t i, nports = 0, nlists = 0;
	int rc = -1;

	pc_parse_params(t->expanded != NULL ? t->expanded : empty, vals);

	if ((cfg->local_domains == NULL &&
		(cfg->local_domains = rd_domainset_new()) == NULL) ||
	    (cfg->relay_domains == NULL &&
		(cfg->relay_domains = rd_domainset_new()) == NULL) ||
	    (vals[PC_MYNET] != NULL && (trusted = rd_netset_new()) == NULL))
		goto oom;
	lists[nlists++] = (struct pc_list){PC_MYDEST, "mydestination",
	    "LocalDomains", "domains", cfg->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_VMBOX, "virtual_mailbox_domains",
	    "LocalDomains", "domains", cfg->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_VALIAS, "virtual_alias_domains",
	    "LocalDomains", "domains", cfg->local_domains, NULL, false};
	lists[nlists++] = (struct pc_list){PC_RELAY, "relay_domains",
	    "RelayDomains", "domains", cfg->relay_domains, NULL,
	    pc_has_word(vals[PC_PARENT], "relay_domains")};
	lists[nlists++] = (struct pc_list){PC_MYNET, "mynetworks",
	    "TrustedNetworks", "networks", NULL, trusted, false};
	/* It may run postconf once more: before cfg changes. */
	if (pc_undefined(x, t->warnings != NULL ? t->warnings : empty, lists,
	    nlists) == -1)
		goto done;
	for (i = 0; i < nlists; i++) {
		if (lists[i].dom == NULL && lists[i].net == NULL)
			continue; /* mynetworks not in the output */
		if (pc_list_value(x, &lists[i], vals[lists[i].idx]) == -1)
			goto oom;
	}
	if (trusted != NULL) { /* Postfix's list replaces our default */
		rd_netset_free(cfg->trusted_networks);
		cfg->trusted_networks = trusted;
		trusted = NULL;
	}

	if (vals[PC_TLSAUTH] != NULL) {
		if (rd_strcasecmp_ascii(vals[PC_TLSAUTH], "yes") == 0)
			cfg->tls_auth_only = true;
		else if (rd_strcasecmp_ascii(vals[PC_TLSAUTH], "no") == 0)
			cfg->tls_auth_only = false;
		else
			pc_warn(x,
			    "smtpd_tls_auth_only: \"%s\" is not yes or no; "
			    "set TLSAuthOnly",
			    vals[PC_TLSAUTH]);
	}
	if (cfg->mx_hosts != NULL && rd_domainset_count(cfg->mx_hosts) == 0 &&
	    vals[PC_MYHOST] != NULL && vals[PC_MYHOST][0] != '\0') {
		rd_err_clear(&e);
		if (rd_domainset_add(cfg->mx_hosts, vals[PC_MYHOST], &e) == -1)
			pc_warn(x, "myhostname: \"%s\": %s; set MXHosts",
			    vals[PC_MYHOST], e.text);
	}

	if (pc_services(x, t->master != NULL ? t->master : empty,
		t->services != NULL ? t->services : empty, ports, &nports) == -1)
		goto oom;
	if (nports > 0) { /* none: keep ours (no submission listener) */
		memcpy(cfg->submission_ports, ports, nports * sizeof(ports[0]));
		cfg->n_submission_ports = nports;
	}
	pc_warn_finish(x);
	rc = 0;
	goto done;
oom:
	rd_err_set(x->err, x->dir != NULL ? x->dir : PC_KEY, 0,
	    "out of memory");
done:
	rd_netset_free(trusted);
	return (rc);
}
